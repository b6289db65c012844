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


def _tied(distinct: np.ndarray) -> np.ndarray | None:
    """Per neighbour pair of the sorted distinct finite times: R's ``tied``; None when none is."""
    if distinct.size < 2:
        return None
    dy = np.diff(distinct)
    scale = np.mean(np.abs(distinct))
    with np.errstate(divide="ignore", invalid="ignore"):
        tied = (dy <= TOLERANCE) | (dy / scale <= TOLERANCE)
    return tied if tied.any() else None


def tie_cuts(distinct: np.ndarray) -> np.ndarray | None:
    """The values times map to (the first of every chain of near-equal times), from the sorted distinct finite
    times; None when no two are within the tolerance (R's ``aeqSurv`` returns its input then)."""
    tied = _tied(distinct)
    return None if tied is None else distinct[np.concatenate([[True], ~tied])]


def tie_map(distinct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(the sorted times that change, the time each becomes, their positions in ``distinct``), from the sorted
    distinct finite times; None when none changes."""
    tied = _tied(distinct)
    if tied is None:
        return None
    follower = np.flatnonzero(tied) + 1
    starts = np.flatnonzero(~tied) + 1
    head = np.searchsorted(starts, follower) - 1  # the last start before each follower (-1: the first time)
    return distinct[follower], distinct[np.where(head < 0, 0, starts[np.maximum(head, 0)])], follower


def remap_sorted(values: np.ndarray, moved, same: bool = False) -> np.ndarray:
    """:func:`remap` of sorted distinct ``values``: one search per moved time, not per value (none when
    ``same``: ``values`` are the times the map was made from)."""
    followers, targets, index = moved
    if not values.size:
        return values
    if same:
        pos, hit = index, slice(None)
    else:
        pos = np.minimum(np.searchsorted(values, followers), values.size - 1)
        hit = values[pos] == followers
        if not hit.any():
            return values
    out = values.copy()
    out[pos[hit]] = targets[hit]
    return out


def remap(values: np.ndarray, moved) -> np.ndarray:
    """``values`` with each time of ``moved[0]`` replaced by its ``moved[1]`` (R's ``cuts[findInterval(x, cuts)]``
    for times of the set the map was made from); ``values`` itself when none is there. NaN stays NaN."""
    followers, targets, _ = moved
    pos = np.minimum(np.searchsorted(followers, values), followers.size - 1)
    hit = followers[pos] == values
    if not hit.any():
        return values
    out = values.copy()
    out[hit] = targets[pos[hit]]
    return out


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
    moved = tie_map(_distinct(pooled)) if pooled.size else None
    if moved is None:
        return stop if start is None else (start, stop)
    new_stop = remap(stop, moved)
    if start is None:
        return new_stop
    new_start = remap(start, moved)
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


def merge_counts(c: Counts, moved, same: bool = False) -> Counts:
    """``c`` with the times of ``moved`` (:func:`tie_map`) moved and the columns of one time summed (``same``:
    ``c.time`` are the times the map was made from)."""
    time = remap_sorted(c.time, moved, same)
    if time is c.time:
        return c
    merged = np.flatnonzero(time[1:] == time[:-1]) + 1  # columns that join the column before them
    if not merged.size:
        return Counts(time, c.events, c.exits)
    keep = np.ones(time.size, dtype=bool)
    keep[merged] = False
    into = merged - np.arange(1, merged.size + 1)  # the kept column each joins (sorted, so by count)
    out = []
    for table in (c.events, c.exits):
        rows = [row[keep] for row in table]  # row by row: fast on strided rows
        kept = rows[0][None, :] if len(rows) == 1 else np.stack(rows)
        for g in range(table.shape[0]):  # loop over groups, not times
            np.add.at(kept[g], into, table[g, merged])
        out.append(kept)
    return Counts(time[keep], *out)


def aeq_counts(counts: Sequence[Counts]) -> list[Counts]:
    """:func:`aeq_times` on per-time counts: the tolerance is decided on the distinct times of all of
    ``counts`` together (every group or stratum of one analysis, as R decides it on the whole response)."""
    distinct = union_times([c.time for c in counts])
    moved = tie_map(distinct)
    if moved is None:
        return list(counts)
    return [merge_counts(c, moved, c.time is distinct) for c in counts]
