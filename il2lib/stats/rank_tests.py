"""Rank tests of a continuous variable between groups: Wilcoxon rank-sum (R's ``wilcox.test``) and Kruskal-Wallis
(R's ``kruskal.test``)."""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import LazyModule
from il2lib.stats.pvalues import TestResult

sps = LazyModule("scipy.stats")  # scipy.stats costs ~1 s at start-up: import on first use


def _clean(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[~np.isnan(arr)]


def rank_sum_test(x, y, method: Literal["auto", "exact", "asymptotic"] = "auto",
                  correct: bool = True) -> TestResult:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test, as R's ``wilcox.test(x, y)``.

    Notes
    -----
    ``statistic`` is R's W = U of ``x``. ``method="auto"`` follows R: the exact null
    distribution when both samples have fewer than 50 values and there are no ties, otherwise
    the normal approximation with tie-corrected variance and (``correct=True``) continuity
    correction. NaN values are dropped.

    References
    ----------
    Mann HB, Whitney DR. Ann Math Stat 1947;18:50-60. Hollander M, Wolfe DA. Nonparametric
    Statistical Methods, 1973.
    """
    x, y = _clean(x), _clean(y)
    if x.size == 0 or y.size == 0:
        raise InsufficientDataError("The rank-sum test needs at least one value in each group.")
    has_ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
    if method == "auto":
        method = "exact" if (x.size < 50 and y.size < 50 and not has_ties) else "asymptotic"
    res = sps.mannwhitneyu(x, y, alternative="two-sided", method=method, use_continuity=correct)
    note = ("exact null distribution" if method == "exact" else
            "normal approximation" + (" with continuity correction" if correct else "")
            + (", tie-corrected" if has_ties else ""))
    return TestResult("wilcoxon_rank_sum", float(res.pvalue), float(res.statistic), note=note)


def kruskal_wallis_test(*groups) -> TestResult:
    """Kruskal-Wallis rank test across k groups (tie-corrected H, chi-square with k-1 df), as R's ``kruskal.test``.

    References
    ----------
    Kruskal WH, Wallis WA. JASA 1952;47:583-621.
    """
    clean = [_clean(g) for g in groups]
    clean = [g for g in clean if g.size > 0]
    if len(clean) < 2:
        raise InsufficientDataError("The Kruskal-Wallis test needs at least two groups with values.")
    if np.unique(np.concatenate(clean)).size == 1:
        return TestResult("kruskal_wallis", 1.0, 0.0, len(clean) - 1, note="All values identical.")
    res = sps.kruskal(*clean)
    return TestResult("kruskal_wallis", float(res.pvalue), float(res.statistic), len(clean) - 1)


def compare_continuous(groups: Sequence) -> TestResult:
    """Rank-sum test for two groups, Kruskal-Wallis for three or more (empty groups are dropped)."""
    clean = [g for g in (_clean(g) for g in groups) if g.size > 0]
    if len(clean) < 2:
        raise InsufficientDataError("A comparison needs at least two groups with values.")
    if len(clean) == 2:
        return rank_sum_test(clean[0], clean[1])
    return kruskal_wallis_test(*clean)
