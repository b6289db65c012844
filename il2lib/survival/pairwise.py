"""Pairwise comparisons for three or more groups: log-rank per pair of survival curves and Fisher's
exact test per pair of response proportions, with Holm and Benjamini-Hochberg adjustment.

Each pair is tested on its own two groups (R: ``survdiff`` / ``fisher.test`` on the subset), as
``survminer::pairwise_survdiff`` does; adjusted p-values are R's ``p.adjust``.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from il2lib._work import WorkCounter
from il2lib.analyses._grouping import versus
from il2lib.errors import Il2libError, InsufficientDataError, WorkLimitExceeded
from il2lib.stats import fisher_exact_2x2, format_p, p_adjust
from il2lib.survival import _checks
from il2lib.survival.logrank import logrank_test

Adjustment = Literal["holm", "BH"]
#: Work the pairwise log-rank tests may spend: each pair of groups scans every row once (rows per pair).
PAIRWISE_WORK_LIMIT = 500_000_000
PAIRWISE_COLUMNS = ("group_a", "group_b", "n_a", "n_b", "statistic", "p", "p_holm", "p_bh", "note")


@dataclass(frozen=True)
class PairwiseResult:
    """One row per pair of groups: raw p, Holm- and BH-adjusted p (``table``), and the test used."""

    table: pd.DataFrame
    test: str
    groups: tuple

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def display(self, effect: str | None = None) -> pd.DataFrame:
        """Comparison, (``effect``: the statistic, 2 decimals), p, p (Holm), p (BH), and a Note column when a
        pair has one: narrow enough for the column beside a figure."""
        t = self.table
        out = pd.DataFrame({"Comparison": [versus(a, b) for a, b in zip(t["group_a"], t["group_b"])]})
        if effect is not None:
            out[effect] = t["statistic"].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")
        out["p"] = t["p"].map(format_p)
        out["p (Holm)"] = t["p_holm"].map(format_p)
        out["p (BH)"] = t["p_bh"].map(format_p)
        if t["note"].astype(bool).any():
            out["Note"] = t["note"]
        return out

    def matrix(self, column: Literal["p", "p_holm", "p_bh"] = "p_holm") -> pd.DataFrame:
        """Lower-triangular p-value matrix (rows: later groups, columns: earlier), as R's ``pairwise_survdiff``."""
        out = pd.DataFrame(np.nan, index=list(self.groups[1:]), columns=list(self.groups[:-1]))
        for row in self.table.itertuples(index=False):
            out.loc[row.group_b, row.group_a] = getattr(row, column)
        return out


def _adjusted(rows: list[dict], test: str, groups: tuple) -> PairwiseResult:
    table = pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))
    p = table["p"].to_numpy(dtype=float)
    ok = ~np.isnan(p)
    for column, method in (("p_holm", "holm"), ("p_bh", "BH")):
        adjusted = np.full(p.size, np.nan)
        adjusted[ok] = p_adjust(p[ok], method)
        table[column] = adjusted
    return PairwiseResult(table, test, groups)


def pairwise_logrank(time, event, group, rho: float = 0, work_limit: int | None = None) -> PairwiseResult:
    """Log-rank test for every pair of groups, with Holm and BH adjustment over the pairs.

    Parameters
    ----------
    time, event, group : array-like
        As :func:`il2lib.survival.logrank_test`; missing values are excluded and counted there.
    rho : float
        Fleming-Harrington weight (0 = log-rank).

    Returns
    -------
    PairwiseResult
        ``statistic`` is the 1-df chi-square of the pair; a pair that cannot be tested (no events)
        has p NaN and a note, and is left out of the adjustment.

    The work, pairs x rows, is counted before the first test: past ``work_limit`` (default
    :data:`PAIRWISE_WORK_LIMIT`) it raises :class:`~il2lib.errors.WorkLimitExceeded`.

    References
    ----------
    Holm S (1979). Benjamini Y, Hochberg Y (1995). Kassambara A, ``survminer::pairwise_survdiff``.
    """
    codes, labels, missing = _checks.as_labels(group, "group")
    data = _checks.clean_survival(time, event, {"without group": missing})
    codes = codes if data.keep is None else codes[data.keep]
    present = [k for k in range(len(labels)) if (codes == k).any()]
    if len(present) < 3:
        raise InsufficientDataError(f"Pairwise comparisons need at least three groups; found {len(present)}.")
    n_pairs = len(present) * (len(present) - 1) // 2
    WorkCounter(f"log-rank tests for {n_pairs:,} pairs of groups on {codes.size:,} patients",
                PAIRWISE_WORK_LIMIT if work_limit is None else work_limit,
                "narrow the filters or compare fewer groups").charge(n_pairs * codes.size)
    rows = []
    for a, b in combinations(present, 2):  # loop over pairs of groups
        rows_ab = (codes == a) | (codes == b)
        base = {"group_a": labels[a], "group_b": labels[b], "n_a": int((codes == a).sum()),
                "n_b": int((codes == b).sum())}
        try:
            res = logrank_test(data.time[rows_ab], data.event[rows_ab], codes[rows_ab], rho=rho)
            rows.append({**base, "statistic": res.statistic, "p": res.pvalue, "note": "; ".join(res.warnings)})
        except WorkLimitExceeded:
            raise
        except Il2libError as exc:
            rows.append({**base, "statistic": np.nan, "p": np.nan, "note": str(exc)})
    return _adjusted(rows, "log-rank" if rho == 0 else f"Fleming-Harrington rho={rho:g}",
                     tuple(labels[k] for k in present))


def pairwise_fisher(counts) -> PairwiseResult:
    """Fisher's exact test (two-sided, R's ``fisher.test``) for every pair of groups' proportions.

    Parameters
    ----------
    counts : mapping of group -> (responders, n)
        In display order.

    Returns
    -------
    PairwiseResult
        ``statistic`` is the conditional maximum-likelihood odds ratio of group_a vs group_b.
    """
    items = [(g, int(x), int(n)) for g, (x, n) in dict(counts).items() if int(n) > 0]
    if len(items) < 3:
        raise InsufficientDataError(f"Pairwise comparisons need at least three groups; found {len(items)}.")
    for g, x, n in items:
        if not 0 <= x <= n:
            raise ValueError(f"group {g!r}: responders ({x}) must be between 0 and n ({n}).")
    rows = []
    for (ga, xa, na), (gb, xb, nb) in combinations(items, 2):  # loop over pairs of groups
        res = fisher_exact_2x2([[xa, na - xa], [xb, nb - xb]])
        rows.append({"group_a": ga, "group_b": gb, "n_a": na, "n_b": nb, "statistic": res.odds_ratio,
                     "p": res.pvalue, "note": ""})
    return _adjusted(rows, "Fisher's exact", tuple(g for g, _, _ in items))
