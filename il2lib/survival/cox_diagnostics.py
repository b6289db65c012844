"""Cox model diagnostics: the proportional-hazards score test (R's ``cox.zph``) and concordance."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib._work import WorkCounter
from il2lib.stats.distributions import chi2_sf
from il2lib.survival._counting import count

#: Work the concordance may spend: rows x dyadic levels (the bit length of rows), a sorted pass each.
CONCORDANCE_WORK_LIMIT = 300_000_000


@dataclass(frozen=True)
class PHTestResult:
    """Proportional-hazards test per term and GLOBAL (last row): table with term, chisq, df, p."""

    table: pd.DataFrame
    transform: str
    alpha: float = 0.05

    @property
    def violated(self) -> tuple[str, ...]:
        """Terms (or GLOBAL) with p < alpha."""
        return tuple(self.table.loc[self.table["p"] < self.alpha, "term"])

    @property
    def warning(self) -> str | None:
        """A sentence the dashboard can show, or None when no test rejects."""
        if not self.violated:
            return None
        return ("Proportional-hazards assumption questionable (cox.zph score test, KM transform, p < "
                f"{self.alpha:g}) for: {', '.join(self.violated)}. Hazard ratios are averages over time.")

    def to_frame(self) -> pd.DataFrame:
        """One row per term, GLOBAL last: term, chisq, df, p."""
        return self.table.copy()


def zph_test(rs, fit, assign, terms, transform: str = "km") -> PHTestResult:
    """Score test of beta(t) = beta + theta g(t), as R's ``cox.zph`` (survival >= 3).

    g(t) = 1 - S(t-) with S the pooled Kaplan-Meier (``transform="km"``), centred on its mean over
    the deaths. At the fitted beta, for the augmented covariates x g(t): u2 = sum over Efron rows
    of g (x_death - xbar), and the information blocks are sum V, sum g V, sum g^2 V. Each term is
    tested with all original coefficients plus that term's theta; GLOBAL uses every theta. The
    original score is set to 0 as R does.

    References
    ----------
    Grambsch PM, Therneau TM (1994). Biometrika 81:515-526. R ``survival::cox.zph``.
    """
    if transform != "km":
        raise ValueError("only transform='km' (R's default) is implemented.")
    c = count(rs.time, rs.event)
    surv = np.cumprod(1.0 - c.events[0] / c.at_risk[0])
    before = np.concatenate([[1.0], surv])[np.searchsorted(c.time, rs.time, side="left")]
    ttimes = 1.0 - before
    gtime = ttimes - ttimes[rs.event].mean()
    g_block = np.zeros(rs.deaths_per_block.size)
    g_block[rs.death_block] = gtime[rs.event]
    g_row = g_block[rs.efron_block]
    p = rs.x.shape[1]
    u2 = (gtime[rs.event, None] * rs.x[rs.event]).sum(axis=0) - (g_row[:, None] * fit.mean).sum(axis=0)
    i11 = fit.var.sum(axis=0)
    i12 = np.einsum("r,rij->ij", g_row, fit.var)
    i22 = np.einsum("r,rij->ij", g_row**2, fit.var)
    imat = np.block([[i11, i12], [i12, i22]])
    u = np.concatenate([np.zeros(p), u2])
    rows = []
    for name, cols in zip(terms, assign):  # loop over model terms
        kk = np.concatenate([np.arange(p), np.asarray(cols) + p])
        stat = float(u[kk] @ np.linalg.solve(imat[np.ix_(kk, kk)], u[kk]))
        rows.append((str(name), stat, len(cols)))
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"])
    table["p"] = chi2_sf(table["chisq"], table["df"])
    return PHTestResult(table, transform)


def concordance_counts(time, event, score, strata, work_limit: int | None = None) -> dict:
    """Harrell's concordance as R's ``concordance`` for a Cox fit (higher risk score = earlier event).

    A pair is comparable when, in the same stratum, the earlier time is an event; a subject censored
    at the same time as an event counts as outliving it. Pairs of events at the same time are
    ``tied.y`` (or ``tied.xy`` when the scores tie too) and are not comparable.
    concordance = (concordant + tied.x / 2) / (concordant + discordant + tied.x).

    Method: subjects are ordered by stratum, time descending and, within a time, censored before
    events. The subjects an event is compared with are then a contiguous block of that order (from
    its stratum's start to its group of tied events), so each count is a 2-D dominance count
    (position below p, score rank below r), answered for all events at once over dyadic position
    blocks: O(n log^2 n) in sorted numpy arrays, exact integers.

    Its work, rows x levels, is counted before it starts: past ``work_limit`` (default
    :data:`CONCORDANCE_WORK_LIMIT`) it raises :class:`~il2lib.errors.WorkLimitExceeded`.
    """
    time, event = np.asarray(time, float), np.asarray(event, bool)
    check_concordance_work(time.size, work_limit)
    _, stratum = np.unique(np.asarray(strata), return_inverse=True)
    _, rank = np.unique(np.asarray(score, float), return_inverse=True)
    order = np.lexsort((event, -time, stratum))
    time, event, stratum, rank = time[order], event[order], stratum[order], rank[order]
    pos = np.arange(time.size)
    new_group = np.ones(time.size, bool)  # start of a (stratum, time, event) run
    new_group[1:] = (stratum[1:] != stratum[:-1]) | (time[1:] != time[:-1]) | (event[1:] != event[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    new_stratum = np.ones(time.size, bool)
    new_stratum[1:] = stratum[1:] != stratum[:-1]
    stratum_start = np.maximum.accumulate(np.where(new_stratum, pos, 0))
    ev = np.flatnonzero(event)
    stop, start, r = group_start[ev], stratum_start[ev], rank[ev]
    below = _dominance(rank, np.concatenate([stop, start]), np.concatenate([r, r]))
    conc = int(below[:ev.size].sum() - below[ev.size:].sum())
    tx = int(_earlier_same_rank(rank, stratum, group_start)[ev].sum())
    disc = int((stop - start).sum()) - conc - tx
    tied_events = _tied_pairs(stop)
    txy = _tied_pairs(stop * np.int64(rank.size) + r)
    denom = conc + disc + tx
    value = (conc + tx / 2) / denom if denom else np.nan
    return {"concordant": conc, "discordant": disc, "tied.x": tx, "tied.y": tied_events - txy,
            "tied.xy": txy, "concordance": float(value)}


def concordance_work(n: int) -> int:
    """Work units of :func:`concordance_counts` on ``n`` rows: one per row and dyadic level."""
    return int(n) * max(int(n).bit_length(), 1)


def check_concordance_work(n: int, work_limit: int | None = None) -> None:
    """Raise :class:`~il2lib.errors.WorkLimitExceeded` when the concordance of ``n`` rows would pass its limit."""
    WorkCounter(f"the concordance of the Cox model on {n:,} patients",
                CONCORDANCE_WORK_LIMIT if work_limit is None else work_limit).charge(concordance_work(n))


def _dominance(rank: np.ndarray, stop: np.ndarray, below: np.ndarray) -> np.ndarray:
    """For each query q: how many positions j < stop[q] have rank[j] < below[q].

    [0, stop) splits into dyadic blocks, one per set bit k of stop; at level k the block holds the
    positions j with j >> k == (stop >> k) - 1, all earlier blocks hold (block << k) positions, and
    the block's ranks below r are found by searchsorted on (block, rank) keys. The keys of level k
    are the level k-1 order merged pairwise (a stable sort over sorted runs), as in merge sort.
    """
    n = rank.size
    width = np.int64(rank.max(initial=0)) + 2
    stop, below = stop.astype(np.int64), below.astype(np.int64)
    out = np.zeros(stop.size, dtype=np.int64)
    perm = np.arange(n, dtype=np.int64)
    for k in range(max(int(n).bit_length(), 1)):
        keys = (perm >> k) * width + rank[perm]
        if k:
            merged = np.argsort(keys, kind="stable")
            perm, keys = perm[merged], keys[merged]
        has = np.flatnonzero((stop >> k) & 1)
        if has.size:
            block = (stop[has] >> k) - 1
            out[has] += np.searchsorted(keys, block * width + below[has], side="left") - (block << k)
    return out


def _earlier_same_rank(rank: np.ndarray, stratum: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per position: earlier positions of the same stratum and rank, outside its own (contiguous) group."""
    order = np.argsort(rank, kind="stable")  # by rank, then position
    idx = np.arange(rank.size)
    r, s, g = rank[order], stratum[order], group[order]
    new_rank = np.ones(rank.size, bool)
    new_rank[1:] = (r[1:] != r[:-1]) | (s[1:] != s[:-1])
    new_group = new_rank.copy()
    new_group[1:] |= g[1:] != g[:-1]
    out = np.empty(rank.size, dtype=np.int64)
    out[order] = (np.maximum.accumulate(np.where(new_group, idx, 0))
                  - np.maximum.accumulate(np.where(new_rank, idx, 0)))
    return out


def _tied_pairs(key: np.ndarray) -> int:
    """Pairs of equal keys: sum of m(m-1)/2 over groups of equal values."""
    _, sizes = np.unique(key, return_counts=True)
    return int((sizes * (sizes - 1) // 2).sum())
