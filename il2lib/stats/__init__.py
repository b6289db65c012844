"""Small-sample statistics used by the response, Table 1, biomarker and toxicity analyses.

Every test returns a :class:`TestResult` that carries the test's machine name *and* its display
label, so no p-value ever leaves il2lib without the name of the test that produced it.
Results follow R (``binom.test``, ``prop.test(correct = FALSE)``, ``fisher.test``,
``chisq.test(correct = FALSE)``, ``wilcox.test``, ``kruskal.test``, ``p.adjust``); the tests in
``tests/test_stats.py`` compare against R output at 1e-9.

* :mod:`~il2lib.stats.proportions`: binomial proportions with Clopper-Pearson or Wilson intervals.
* :mod:`~il2lib.stats.contingency`: Fisher 2x2, Fisher-Freeman-Halton r x c (exact by the network algorithm of
  :mod:`~il2lib.stats._exact_rxc`, else Monte Carlo), chi-square, and the rule choosing between them.
* :mod:`~il2lib.stats.rank_tests`: Wilcoxon rank-sum and Kruskal-Wallis.
* :mod:`~il2lib.stats.pvalues`: :class:`TestResult` and its labels, p-value text, multiplicity adjustment.
* :mod:`~il2lib.stats.distributions`: the normal and chi-square distribution functions the survival code
  shares (without importing ``scipy.stats``).
"""
from __future__ import annotations

from il2lib.stats.contingency import (COCHRAN_MIN_EXPECTED, FFH_ANALYSIS_WORK_LIMIT, FFH_MC_CELL_LIMIT, FFH_MC_SEED,
                                      FFH_WORK_LIMIT, FISHER_REL_ERR, FisherExactResult, chi_square_test,
                                      compare_proportions, exact_work_budget, expected_counts, fisher_exact_2x2,
                                      fisher_exact_pvalue, fisher_freeman_halton)
from il2lib.stats.proportions import ProportionCI, proportion_ci
from il2lib.stats.pvalues import FFH_MC_REPLICATES, TEST_LABELS, TestName, TestResult, format_p, p_adjust, p_phrase
from il2lib.stats.rank_tests import compare_continuous, kruskal_wallis_test, rank_sum_test

__all__ = [
    "ProportionCI", "proportion_ci",
    "TestName", "TestResult", "TEST_LABELS", "format_p", "p_phrase", "p_adjust",
    "FisherExactResult", "fisher_exact_2x2", "fisher_exact_pvalue", "fisher_freeman_halton", "chi_square_test",
    "expected_counts",
    "compare_proportions", "exact_work_budget",
    "rank_sum_test", "kruskal_wallis_test", "compare_continuous",
    "FFH_MC_REPLICATES", "FFH_MC_SEED", "FFH_MC_CELL_LIMIT", "FFH_WORK_LIMIT", "FFH_ANALYSIS_WORK_LIMIT",
    "FISHER_REL_ERR", "COCHRAN_MIN_EXPECTED",
]
