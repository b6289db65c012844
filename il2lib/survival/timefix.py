"""Near-equal times count as ties, as R's ``survival`` (>= 3.0) does by default (``timefix = TRUE``).

``survfit``, ``coxph`` and ``survdiff`` first pass the response through ``aeqSurv``: the sorted distinct
finite times y (start and stop times pooled for counting-process data) are split where two neighbours
differ by more than the tolerance t = sqrt(machine epsilon), both absolutely and relative to mean(|y|):
``tied = (dy <= t) | (dy / mean(abs(y)) <= t)``. Each time is replaced by the first (smallest) value of
its chain of tied neighbours. So 10 / 30.4375 * 30.4375 and 10, or a time read back from a CSV file
1e-14 away, are one time. Without a tie nothing changes (the same arrays are returned).

Two forms of the one rule: :func:`aeq_times` on patient rows, :func:`aeq_counts` on per-time counts
(merging the columns of near-equal times: no pass over the rows).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from il2lib.errors import SurvivalInputError
from il2lib.survival._counting import Counts

#: R's ``sqrt(.Machine$double.eps)``, the default tolerance of ``aeqSurv``.
TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def tie_cuts(distinct: np.ndarray) -> np.ndarray | None:
    """The values each time maps to (the first of every chain of near-equal times), from the sorted distinct
    finite times; None when no two are within the tolerance (R's ``aeqSurv`` returns its input then)."""
    if distinct.size < 2:
        return None
    dy = np.diff(distinct)
    scale = np.mean(np.abs(distinct))
    with np.errstate(divide="ignore", invalid="ignore"):
        tied = (dy <= TOLERANCE) | (dy / scale <= TOLERANCE)
    if not tied.any():
        return None
    return distinct[np.concatenate([[True], ~tied])]


def snap(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Each finite value replaced by the last cut at or below it (R's ``cuts[findInterval(x, cuts)]``)."""
    out = cuts[np.maximum(np.searchsorted(cuts, values, side="right") - 1, 0)]
    finite = np.isfinite(values)
    return out if finite.all() else np.where(finite, out, values)


def _distinct(values: np.ndarray) -> np.ndarray:
    y = np.unique(values)
    return y if np.isfinite(y[[0, -1]]).all() else y[np.isfinite(y)]


def aeq_times(stop: np.ndarray, start: np.ndarray | None = None):
    """R's ``aeqSurv`` on times (``stop``) or on counting-process intervals (``start``, ``stop``], whose
    start and stop times are pooled. Returns ``stop`` (or ``(start, stop)``) with near-equal times made
    equal; the very same arrays when there is no near-tie. Missing (NaN) times stay missing.

    Raises :class:`~il2lib.errors.SurvivalInputError` when an interval collapses to length 0 (R stops with
    "aeqSurv exception, an interval has effective length 0")."""
    pooled = stop if start is None else np.concatenate([start, stop])
    cuts = tie_cuts(_distinct(pooled)) if pooled.size else None
    if cuts is None:
        return stop if start is None else (start, stop)
    new_stop = snap(stop, cuts)
    if start is None:
        return new_stop
    new_start = snap(start, cuts)
    collapsed = (new_start == new_stop) & (start != stop)
    if collapsed.any():
        raise SurvivalInputError(f"{int(collapsed.sum())} (start, stop] interval(s) have a length below the time "
                                 f"tolerance ({TOLERANCE:.2g} relative): start and stop are the same time "
                                 "(R: 'aeqSurv exception, an interval has effective length 0').")
    return new_start, new_stop


def union_times(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of several sorted arrays (a merge of sorted runs, not a full sort)."""
    parts = [p for p in parts if p.size]
    if not parts:
        return np.zeros(0)
    if len(parts) == 1:
        return parts[0]
    merged = np.sort(np.concatenate(parts), kind="stable")
    keep = np.empty(merged.size, dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def merge_counts(c: Counts, cuts: np.ndarray) -> Counts:
    """``c`` with the columns of times that map to one cut summed (the counts of the fixed times)."""
    if not c.time.size:
        return c
    cluster = np.searchsorted(cuts, c.time, side="right") - 1
    first = np.empty(cluster.size, dtype=bool)
    first[0] = True
    np.not_equal(cluster[1:], cluster[:-1], out=first[1:])
    if first.all():
        time = cuts[cluster]
        return c if np.array_equal(time, c.time) else Counts(time, c.events, c.exits)
    starts = np.flatnonzero(first)
    return Counts(cuts[cluster[starts]], np.add.reduceat(c.events, starts, axis=1),
                  np.add.reduceat(c.exits, starts, axis=1))


def aeq_counts(counts: Sequence[Counts]) -> list[Counts]:
    """:func:`aeq_times` on per-time counts: the tolerance is decided on the distinct times of all of
    ``counts`` together (every group or stratum of one analysis, as R decides it on the whole response)."""
    cuts = tie_cuts(union_times([c.time for c in counts]))
    if cuts is None:
        return list(counts)
    return [merge_counts(c, cuts) for c in counts]
