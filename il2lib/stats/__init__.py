"""Small-sample statistics used by the response, Table 1, biomarker and toxicity analyses.

Every test returns a :class:`TestResult` that carries the test's machine name *and* its display
label, so no p-value ever leaves il2lib without the name of the test that produced it.
Results follow R (``binom.test``, ``prop.test(correct = FALSE)``, ``fisher.test``,
``chisq.test(correct = FALSE)``, ``wilcox.test``, ``kruskal.test``, ``p.adjust``); the tests in
``tests/test_stats.py`` compare against R output at 1e-9. The exact r x c network algorithm is in
:mod:`il2lib.stats._exact_rxc`; the normal and chi-square distribution functions the survival code shares
(without importing ``scipy.stats``) in :mod:`il2lib.stats.distributions`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal, Sequence

import numpy as np

from il2lib._work import WorkCounter
from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import LazyModule

optimize = LazyModule("scipy.optimize")  # scipy.stats costs ~1 s at start-up: import on first use
sps = LazyModule("scipy.stats")

TestName = Literal["fisher_exact", "fisher_freeman_halton", "fisher_freeman_halton_mc", "chi_square",
                   "wilcoxon_rank_sum", "kruskal_wallis", "likelihood_ratio", "wald", "score"]
#: Random tables behind the Monte Carlo Fisher-Freeman-Halton p-value (R: ``fisher.test(simulate.p.value = TRUE, B)``).
FFH_MC_REPLICATES = 10_000
#: Seed of those tables: a table gets the same Monte Carlo p-value on every run.
FFH_MC_SEED = 1951
#: Most cells (replicates x table cells) the Monte Carlo p-value may draw; above it, chi-square.
FFH_MC_CELL_LIMIT = 10_000_000


def _mc_label(replicates: int, se: float | None = None) -> str:
    return (f"Fisher-Freeman-Halton test (Monte Carlo, B = {replicates:,}"
            + ("" if se is None else f"; Monte Carlo SE {se:.2g}") + ")")


TEST_LABELS: dict[str, str] = {
    "fisher_exact": "Fisher's exact test",
    "fisher_freeman_halton": "Fisher-Freeman-Halton exact test",
    "fisher_freeman_halton_mc": _mc_label(FFH_MC_REPLICATES),
    "chi_square": "Pearson chi-square test (no continuity correction)",
    "wilcoxon_rank_sum": "Wilcoxon rank-sum (Mann-Whitney U) test",
    "kruskal_wallis": "Kruskal-Wallis test",
    # the model tests of a Cox regression
    "likelihood_ratio": "Likelihood-ratio test",
    "wald": "Wald test",
    "score": "Score test",
}
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
class ProportionCI:
    """A binomial proportion with its confidence interval (``method`` names the interval)."""

    successes: int
    n: int
    estimate: float
    lower: float
    upper: float
    method: Literal["exact", "wilson"]
    conf_level: float = 0.95

    @property
    def method_label(self) -> str:
        return "Clopper-Pearson exact" if self.method == "exact" else "Wilson score"


@dataclass(frozen=True)
class TestResult:
    """Outcome of one hypothesis test; ``test`` is a :data:`TEST_LABELS` key.

    A Monte Carlo p-value also carries its number of random tables (``replicates``) and its
    Monte Carlo standard error ``mc_se`` = sqrt(p (1 - p) / replicates), both in ``label``.
    """

    test: TestName
    pvalue: float
    statistic: float | None = None
    df: int | None = None
    note: str = ""
    replicates: int | None = None
    mc_se: float | None = None

    @property
    def label(self) -> str:
        if self.test == "fisher_freeman_halton_mc" and self.replicates:
            return _mc_label(self.replicates, self.mc_se)
        return TEST_LABELS[self.test]

    def as_dict(self) -> dict:
        return {"test": self.test, "test_label": self.label, "statistic": self.statistic,
                "df": self.df, "pvalue": self.pvalue, "note": self.note,
                "replicates": self.replicates, "mc_se": self.mc_se}


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
# Proportions
# ----------------------------------------------------------------------------------------
def proportion_ci(successes: int, n: int, method: Literal["exact", "wilson"] = "exact",
                  conf_level: float = 0.95) -> ProportionCI:
    """Binomial proportion with a Clopper-Pearson (exact) or Wilson score interval.

    Parameters
    ----------
    successes, n : int
        Numerator and denominator, ``0 <= successes <= n``, ``n >= 1``.
    method : {"exact", "wilson"}
        ``"exact"``: Clopper-Pearson, the beta-quantile interval of R's ``binom.test``.
        ``"wilson"``: score interval without continuity correction, R's ``prop.test(correct = FALSE)``.
    conf_level : float
        Two-sided confidence level.

    Notes
    -----
    Clopper-Pearson: lower = B(a/2; x, n-x+1), upper = B(1-a/2; x+1, n-x), with lower = 0 when
    x = 0 and upper = 1 when x = n. Wilson: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),
    clipped to [0, 1] and pinned at 0 (x = 0) and 1 (x = n) as R does.

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404-413. Wilson EB. JASA 1927;22:209-212.
    """
    successes, n = int(successes), int(n)
    if n < 1:
        raise InsufficientDataError("A proportion needs at least one patient in the denominator.")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie between 0 and n={n}.")
    alpha = 1 - conf_level
    p = successes / n
    if method == "exact":
        lower = 0.0 if successes == 0 else float(sps.beta.ppf(alpha / 2, successes, n - successes + 1))
        upper = 1.0 if successes == n else float(sps.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    elif method == "wilson":
        z = float(sps.norm.ppf(1 - alpha / 2))
        centre = p + z * z / (2 * n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        lower = 0.0 if successes == 0 else max(0.0, (centre - half) / denom)
        upper = 1.0 if successes == n else min(1.0, (centre + half) / denom)
    else:
        raise ValueError(f"Unknown CI method {method!r}; use 'exact' or 'wilson'.")
    return ProportionCI(successes, n, p, lower, upper, method, conf_level)


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
    tab = _as_table(table)
    if tab.shape != (2, 2):
        raise ValueError("fisher_exact_2x2 needs a 2x2 table; use compare_proportions for larger tables.")
    nh = _NoncentralHypergeometric(tab)
    x, lo, hi = nh.x, nh.lo, nh.hi
    d0 = np.exp(nh.logd)
    if alternative == "two-sided":
        pvalue = float(d0[d0 <= d0[x - lo] * FISHER_REL_ERR].sum())
    else:
        pvalue = nh.tail(0.0, upper=(alternative == "greater"))
    pvalue = min(1.0, pvalue)
    estimate = _conditional_mle(nh)
    alpha = (1 - conf_level) / 2 if alternative == "two-sided" else 1 - conf_level
    ci_lower = 0.0 if (x == lo or alternative == "less") else nh.solve(lambda t: nh.tail(t, True), alpha)
    ci_upper = math.inf if (x == hi or alternative == "greater") else nh.solve(lambda t: nh.tail(t, False), alpha)
    a, b, c, d = (int(v) for v in tab.ravel())
    sample_or = (a * d / (b * c)) if b * c > 0 else (math.inf if a * d > 0 else math.nan)
    return FisherExactResult(pvalue, estimate, ci_lower, ci_upper, sample_or, alternative, conf_level)


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
    from il2lib.stats._exact_rxc import EnumerationLimit, exact_pvalue, monte_carlo_pvalue

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
        return fisher_exact_2x2(tab).as_test(note="2x2 table: Fisher's exact test.")
    min_exp = float(expected_counts(tab).min())
    if min_exp < COCHRAN_MIN_EXPECTED:
        res = fisher_freeman_halton(tab, shared=shared)
        why = f"Smallest expected count {min_exp:.2f} < 5 (Cochran's rule): exact test. "
        return replace(res, note=why + res.note)
    res = chi_square_test(tab)
    return TestResult(res.test, res.pvalue, res.statistic, res.df,
                      note=f"All expected counts >= 5 (smallest {min_exp:.2f}): chi-square.")


# ----------------------------------------------------------------------------------------
# Rank tests
# ----------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------
# Formatting and multiplicity
# ----------------------------------------------------------------------------------------
def format_p(p: float | None) -> str:
    """Format a p-value for a manuscript table: ``<0.001``, 3 decimals below 0.1, else 2 (``>0.99``).

    No p-value is rounded across 0.05: a p below 0.05 whose 3-decimal text would read ``0.050``
    is truncated to 4 decimals (0.0496 -> ``0.0496``, 0.049996 -> ``0.0499``; 0.0504 -> ``0.050``).
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    if p < 0.001:
        return "<0.001"
    if p < 0.1:
        text = f"{p:.3f}"
        if p < 0.05 and text == "0.050":
            return f"{Decimal(repr(float(p))).quantize(Decimal('0.0001'), rounding=ROUND_DOWN)}"
        return text
    if p > 0.99:
        return ">0.99"
    return f"{p:.2f}"


def p_phrase(p: float | None) -> str:
    """``"p = 0.049"``, ``"p < 0.001"`` or ``"p > 0.99"`` for running text."""
    text = format_p(p)
    if text.startswith(("<", ">")):
        return f"p {text[0]} {text[1:]}"
    return f"p = {text}"


def p_adjust(pvalues: Sequence[float], method: Literal["holm", "BH", "bonferroni"] = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons, as R's ``p.adjust``.

    References
    ----------
    Holm S. Scand J Stat 1979;6:65-70. Benjamini Y, Hochberg Y. J R Stat Soc B 1995;57:289-300.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    elif method == "BH":
        order = np.argsort(p, kind="stable")[::-1]
        adj = np.minimum(1.0, np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order]))
    else:
        raise ValueError(f"Unknown adjustment {method!r}; use 'holm', 'BH' or 'bonferroni'.")
    out = np.empty(m)
    out[order] = adj
    return out
