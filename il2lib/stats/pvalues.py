"""The outcome of a hypothesis test with the name of its test, and how p-values are written and adjusted.

Every test returns a :class:`TestResult` carrying the test's machine name *and* its display label, so no
p-value leaves il2lib without the name of the test that produced it. ``p_adjust`` follows R's ``p.adjust``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal, Sequence

import numpy as np

TestName = Literal["fisher_exact", "fisher_freeman_halton", "fisher_freeman_halton_mc", "chi_square",
                   "wilcoxon_rank_sum", "kruskal_wallis", "likelihood_ratio", "wald", "score"]
#: Random tables behind the Monte Carlo Fisher-Freeman-Halton p-value (R: ``fisher.test(simulate.p.value = TRUE, B)``).
FFH_MC_REPLICATES = 10_000


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
