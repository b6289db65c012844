"""Tests of contingency tables: Fisher's exact 2x2 test with R's conditional odds ratio, the Fisher-Freeman-Halton
r x c test (exact, or a seeded Monte Carlo p-value when too large), Pearson chi-square, and the rule choosing
between them (:func:`compare_proportions`). The exact r x c network algorithm is in :mod:`il2lib.stats._exact_rxc`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Sequence

import numpy as np

from il2lib._work import WorkCounter
from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import LazyModule
from il2lib.stats.pvalues import FFH_MC_REPLICATES, TestResult

optimize = LazyModule("scipy.optimize")  # scipy.stats costs ~1 s at start-up: import on first use
sps = LazyModule("scipy.stats")

#: Seed of the Monte Carlo tables: a table gets the same Monte Carlo p-value on every run.
FFH_MC_SEED = 1951
#: Most cells (replicates x table cells) the Monte Carlo p-value may draw; above it, chi-square.
FFH_MC_CELL_LIMIT = 10_000_000
#: R's tolerance for "as or less probable than the observed table" (fisher.test: relErr).
FISHER_REL_ERR = 1 + 1e-7
#: Work (partial-table weights processed) the exact r x c test may spend before it turns to a Monte Carlo p-value;
#: the largest R reference table (3x3, n = 300) needs 438,762.
FFH_WORK_LIMIT = 1_000_000
#: Exact enumeration work the r x c tests of one analysis share (Table 1's variables, the response rates): once it is
#: spent, the analysis's remaining tables get the Monte Carlo p-value.
FFH_ANALYSIS_WORK_LIMIT = 2_000_000
COCHRAN_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class FisherExactResult:
    """Fisher's exact test on a 2x2 table, as R's ``fisher.test``.

    ``odds_ratio`` is the conditional maximum-likelihood estimate and ``ci_lower``/``ci_upper``
    the exact conditional interval; ``sample_odds_ratio`` is ad/bc.
    """

    pvalue: float
    odds_ratio: float
    ci_lower: float
    ci_upper: float
    sample_odds_ratio: float
    alternative: str
    conf_level: float

    def as_test(self, note: str = "") -> TestResult:
        return TestResult("fisher_exact", self.pvalue, statistic=None, note=note)


# ----------------------------------------------------------------------------------------
# Fisher's exact test, 2x2, with R's conditional odds ratio
# ----------------------------------------------------------------------------------------
def _as_table(table: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    arr = np.asarray(table)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError("A contingency table is a non-empty 2-D array of counts.")
    if np.any(arr < 0) or not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError("A contingency table holds non-negative integer counts.")
    return arr.astype(np.int64)


class _NoncentralHypergeometric:
    """Conditional distribution of the (1,1) cell given the margins (as R's fisher.test)."""

    def __init__(self, tab: np.ndarray):
        self.x = int(tab[0, 0])
        m, n, k = int(tab[:, 0].sum()), int(tab[:, 1].sum()), int(tab[0, :].sum())
        self.lo, self.hi = max(0, k - n), min(k, m)
        self.support = np.arange(self.lo, self.hi + 1)
        self.logd = sps.hypergeom.logpmf(self.support, m + n, m, k)

    def density(self, log_ncp: float) -> np.ndarray:
        w = self.logd + self.support * log_ncp
        w = np.exp(w - w.max())
        return w / w.sum()

    def mean(self, log_ncp: float) -> float:
        return float(np.sum(self.support * self.density(log_ncp)))

    def tail(self, log_ncp: float, upper: bool) -> float:
        d = self.density(log_ncp)
        return float(d[self.support >= self.x].sum() if upper else d[self.support <= self.x].sum())

    def solve(self, f, target: float) -> float:
        """Return psi with f(log psi) = target; f is monotone in log psi."""
        root = optimize.brentq(lambda t: f(t) - target, -60.0, 60.0, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                               maxiter=500)
        return float(math.exp(root))


def fisher_exact_2x2(table, alternative: Literal["two-sided", "less", "greater"] = "two-sided",
                     conf_level: float = 0.95) -> FisherExactResult:
    """Fisher's exact test of a 2x2 table with the conditional MLE odds ratio and exact CI.

    Notes
    -----
    Follows R's ``fisher.test``: the two-sided p-value sums the hypergeometric probabilities of
    all tables no more probable than the observed one (times ``1 + 1e-7``). The odds ratio
    maximises the conditional (noncentral hypergeometric) likelihood; the interval inverts the
    two one-sided tests. Roots are solved to ~1e-14 (R's own ``uniroot`` stops near 1e-4).

    References
    ----------
    Fisher RA. J R Stat Soc 1922;85:87-94. Agresti A. Categorical Data Analysis, 3rd ed., 2013, ch. 3.5.
    """
    tab = _as_2x2(table)
    nh = _NoncentralHypergeometric(tab)
    x, lo, hi = nh.x, nh.lo, nh.hi
    pvalue = _fisher_pvalue(nh, alternative)
    estimate = _conditional_mle(nh)
    alpha = (1 - conf_level) / 2 if alternative == "two-sided" else 1 - conf_level
    ci_lower = 0.0 if (x == lo or alternative == "less") else nh.solve(lambda t: nh.tail(t, True), alpha)
    ci_upper = math.inf if (x == hi or alternative == "greater") else nh.solve(lambda t: nh.tail(t, False), alpha)
    a, b, c, d = (int(v) for v in tab.ravel())
    sample_or = (a * d / (b * c)) if b * c > 0 else (math.inf if a * d > 0 else math.nan)
    return FisherExactResult(pvalue, estimate, ci_lower, ci_upper, sample_or, alternative, conf_level)


def fisher_exact_pvalue(table, alternative: Literal["two-sided", "less", "greater"] = "two-sided") -> float:
    """The p-value of :func:`fisher_exact_2x2` alone (no odds ratio or interval solved for)."""
    return _fisher_pvalue(_NoncentralHypergeometric(_as_2x2(table)), alternative)


def _as_2x2(table) -> np.ndarray:
    tab = _as_table(table)
    if tab.shape != (2, 2):
        raise ValueError("fisher_exact_2x2 needs a 2x2 table; use compare_proportions for larger tables.")
    return tab


def _fisher_pvalue(nh: _NoncentralHypergeometric, alternative: str) -> float:
    if alternative == "two-sided":
        d0 = np.exp(nh.logd)
        pvalue = float(d0[d0 <= d0[nh.x - nh.lo] * FISHER_REL_ERR].sum())
    else:
        pvalue = nh.tail(0.0, upper=(alternative == "greater"))
    return min(1.0, pvalue)


def _conditional_mle(nh: _NoncentralHypergeometric) -> float:
    if nh.x == nh.lo:
        return 0.0
    if nh.x == nh.hi:
        return math.inf
    return nh.solve(nh.mean, float(nh.x))


# ----------------------------------------------------------------------------------------
# r x c tables: exact Fisher-Freeman-Halton, chi-square, and the selection rule
# ----------------------------------------------------------------------------------------
def exact_work_budget(what: str) -> WorkCounter:
    """The exact enumeration work an analysis's tests share (:data:`FFH_ANALYSIS_WORK_LIMIT`), for ``shared``."""
    return WorkCounter(f"the exact tests of {what}", FFH_ANALYSIS_WORK_LIMIT)


def fisher_freeman_halton(table, work_limit: int = FFH_WORK_LIMIT, replicates: int = FFH_MC_REPLICATES, *,
                          seed: int = FFH_MC_SEED, mc_cell_limit: int = FFH_MC_CELL_LIMIT,
                          shared: WorkCounter | None = None) -> TestResult:
    """Fisher-Freeman-Halton test of an r x c table: exact, or a seeded Monte Carlo p-value when too large.

    Notes
    -----
    The p-value sums the probabilities of all tables with the observed margins whose
    probability is at most the observed one times ``1 + 1e-7`` (R's ``fisher.test`` rule).
    It is computed exactly by a network algorithm (:mod:`il2lib.stats._exact_rxc`: whole subtrees
    are added or dropped using exact bounds, equal partial weights are merged). scipy's
    ``fisher_exact`` on tables larger than 2x2 is a Monte Carlo estimate, hence this code.

    The work is counted before anything is built: when the exact test would spend more than
    ``work_limit`` (partial-table weights, see :func:`il2lib.stats._exact_rxc.exact_pvalue`), the
    p-value is a Monte Carlo estimate instead, as R's ``fisher.test(simulate.p.value = TRUE,
    B = replicates)``: ``replicates`` random tables with the observed margins (Patefield's
    algorithm), seeded with ``seed`` so a table always gets the same p-value, p = (1 + number
    as or less probable) / (replicates + 1), reported with its Monte Carlo standard error.
    Chi-square is used, with a note, only when the random tables would need more than
    ``mc_cell_limit`` cells (replicates x cells of the table). With ``shared`` (a counter the tests of one
    analysis draw on, :func:`exact_work_budget`), the enumeration may spend no more than what is left of it,
    and what it spends is charged to it.

    References
    ----------
    Freeman GH, Halton JH. Biometrika 1951;38:141-149. Mehta CR, Patel NR. JASA 1983;78:427-434.
    Patefield WM. Algorithm AS 159. Appl Stat 1981;30:91-97. Davison AC, Hinkley DV. Bootstrap
    Methods and their Application, 1997, ch. 4 (the (1 + count) / (B + 1) rule).
    """
    from il2lib.stats._exact_rxc import EnumerationLimit, exact_pvalue, monte_carlo_pvalue  # defers scipy.special

    tab = _as_table(table)
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return TestResult("fisher_freeman_halton", 1.0, note="Only one non-empty row or column: no comparison possible.")
    if tab.shape[0] > tab.shape[1]:
        tab = tab.T  # columns are built one at a time over the smaller dimension
    limit = work_limit if shared is None else min(work_limit, shared.limit - shared.work)
    try:
        pvalue, spent = exact_pvalue(tab, limit)
    except EnumerationLimit as stop:
        if shared is not None:
            shared.charge(stop.work)
        cut_short = stop.needed <= work_limit  # by what was left of ``shared``, not by the test's own limit
    else:
        if shared is not None:
            shared.charge(spent)
        return TestResult("fisher_freeman_halton", pvalue, note="Exact p-value (network algorithm).")
    too_many = "Too many possible tables to list for the exact test" + (
        " in the work left to this analysis's exact tests" if cut_short else "")
    try:
        pvalue, _ = monte_carlo_pvalue(tab, replicates, seed, mc_cell_limit)
    except EnumerationLimit:
        chi = chi_square_test(tab)
        return TestResult("chi_square", chi.pvalue, chi.statistic, chi.df,
                          note=f"{too_many}, and too large for its Monte Carlo estimate ({replicates:,} random "
                               f"tables of {tab.size:,} cells); chi-square used instead, although an expected "
                               "count is below 5, so this p-value is only approximate.")
    se = math.sqrt(pvalue * (1 - pvalue) / replicates)
    return TestResult("fisher_freeman_halton_mc", pvalue, note=(
        f"{too_many}: Monte Carlo p-value from {replicates:,} random tables with the same row and column "
        f"totals (fixed seed), Monte Carlo standard error {se:.2g}."), replicates=replicates, mc_se=se)


def expected_counts(table) -> np.ndarray:
    """Expected cell counts under independence, row total x column total / N."""
    tab = _as_table(table).astype(float)
    return np.outer(tab.sum(axis=1), tab.sum(axis=0)) / tab.sum()


def chi_square_test(table) -> TestResult:
    """Pearson chi-square test of independence without continuity correction.

    Notes
    -----
    X^2 = sum (O - E)^2 / E with (r-1)(c-1) degrees of freedom, as R's
    ``chisq.test(correct = FALSE)``. Empty rows and columns are dropped first.

    References
    ----------
    Pearson K. Philos Mag 1900;50:157-175.
    """
    tab = _as_table(table)
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return TestResult("chi_square", 1.0, 0.0, 0, note="Only one non-empty row or column: no comparison possible.")
    exp = expected_counts(tab)
    stat = float(((tab - exp) ** 2 / exp).sum())
    dof = (tab.shape[0] - 1) * (tab.shape[1] - 1)
    return TestResult("chi_square", float(sps.chi2.sf(stat, dof)), stat, dof)


def compare_proportions(table, shared: WorkCounter | None = None) -> TestResult:
    """Compare a categorical outcome between groups, choosing the test by the table's shape.

    Rules
    -----
    * 2x2 table: Fisher's exact test (always).
    * Larger table with any expected count below 5 (Cochran's rule): exact Fisher-Freeman-Halton
      (a seeded Monte Carlo p-value with B = 10,000 when there are too many tables to enumerate;
      chi-square with a note only if even that is too large).
    * Larger table with every expected count at least 5: Pearson chi-square without continuity correction.

    Rows or columns whose total is zero are dropped before the rule is applied. ``shared``: see
    :func:`fisher_freeman_halton`.
    """
    tab = _as_table(table)
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        raise InsufficientDataError(
            "A comparison needs at least two groups and two outcome levels with patients in them.")
    if tab.shape == (2, 2):
        return TestResult("fisher_exact", fisher_exact_pvalue(tab), note="2x2 table: Fisher's exact test.")
    min_exp = float(expected_counts(tab).min())
    if min_exp < COCHRAN_MIN_EXPECTED:
        res = fisher_freeman_halton(tab, shared=shared)
        why = f"Smallest expected count {min_exp:.2f} < 5 (Cochran's rule): exact test. "
        return replace(res, note=why + res.note)
    res = chi_square_test(tab)
    return TestResult(res.test, res.pvalue, res.statistic, res.df,
                      note=f"All expected counts >= 5 (smallest {min_exp:.2f}): chi-square.")
