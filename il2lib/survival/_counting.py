"""Counting events and exits per distinct time: the one pass every survival estimate starts from.

Three strategies, chosen from the data, all returning the same thing:

* **grid** (a counting pass): when every time is an exact multiple of 1, 1/10, 1/100 or 1/1000
  (whole days, 0.1 month), ``rint(t * scale)`` is an exact integer code, and ``np.bincount``
  counts in one linear pass with no sort and no hash. Exactness is verified on every value;
* **hash**: many ties but no grid: ``pd.factorize`` (a hash table), then only the distinct
  values are sorted;
* **sort**: (nearly) all times distinct: one sort. Time, group and event are packed into one
  uint64 key (the IEEE bits of a non-negative double sort like the number; multiplying by a power
  of two, which is exact, frees the top bits for the group code and the event flag), so a plain
  ``np.sort`` replaces ``argsort`` plus three random gathers. ``argsort`` is the fallback.

No Python loop runs over patients or over time points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib._work import WorkCounter

#: Cells (groups x distinct times) a table of counts may hold when it has several groups: each cell
#: costs a few int64 entries in memory and a few operations in every test built on the table.
DENSE_CELL_LIMIT = 20_000_000
_GRID_SCALES = (1.0, 10.0, 100.0, 1000.0)
_SAMPLE = 2048


@dataclass(frozen=True)
class Counts:
    """Per distinct time (columns) and group (rows): events and total exits (events + censored)."""

    time: np.ndarray  # (k,) sorted distinct times over all groups
    events: np.ndarray  # (G, k) int64
    exits: np.ndarray  # (G, k) int64

    @property
    def at_risk(self) -> np.ndarray:
        """(G, k) number at risk just before each time: exits at that time or later."""
        return np.cumsum(self.exits[:, ::-1], axis=1)[:, ::-1]


def _grid_codes(time: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(integer codes, scale) with codes / scale == t exactly for every t, if a small grid exists."""
    n = time.size
    if n < 256:
        return None
    sample = time[:: max(1, n // _SAMPLE)]
    top = float(time.max())
    for scale in _GRID_SCALES:
        if top * scale > 8 * n + 1_000_000:
            return None
        if np.array_equal(np.rint(sample * scale) / scale, sample):
            scaled = time * scale
            np.rint(scaled, out=scaled)
            if np.array_equal(scaled / scale, time):
                return scaled.astype(np.intp), scale
            return None
    return None


def _grid_scale(time: np.ndarray) -> float | None:
    found = _grid_codes(time)
    return None if found is None else found[1]


def _mostly_tied(time: np.ndarray) -> bool:
    n = time.size
    if n < 4096:
        return False
    sample = time[:: max(1, n // _SAMPLE)]
    return np.unique(sample).size < 0.5 * sample.size


def check_cells(n_groups: int, n_times: int) -> None:
    """Raise :class:`~il2lib.errors.WorkLimitExceeded` when a groups x times table with several groups
    would pass :data:`DENSE_CELL_LIMIT` (a single group is never refused: it has at most one time a row)."""
    if n_groups > 1:
        WorkCounter(f"{n_groups:,} groups over {n_times:,} distinct times", DENSE_CELL_LIMIT,
                    "narrow the filters or compare fewer groups").charge(n_groups * n_times)


def _bincount_2d(key: np.ndarray, event: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(events, exits) per bin in one counting pass: bin 2 * key + event."""
    both = np.bincount(key * 2 + event, minlength=2 * n_bins).reshape(n_bins, 2)
    return both[:, 1], both[:, 0] + both[:, 1]


def count(time: np.ndarray, event: np.ndarray, group: np.ndarray | None = None, n_groups: int = 1) -> Counts:
    """Count events and exits per (group, distinct time) on the pooled time axis (log-rank).

    ``time`` float >= 0 without NaN, ``event`` bool, ``group`` int codes 0..n_groups-1 or None.
    """
    if time.size == 0:
        empty = np.zeros((n_groups, 0), dtype=np.int64)
        return Counts(np.zeros(0), empty, empty.copy())
    grid = _grid_codes(time)
    if grid is not None and (n_groups == 1 or n_groups * (int(grid[0].max()) + 1) <= DENSE_CELL_LIMIT):
        return _count_grid(time, event, group, n_groups, *grid)
    if _mostly_tied(time):
        return _count_hash(time, event, group, n_groups)
    packed = _pack(time, event, group, n_groups)
    if packed is not None:
        return _count_packed(*packed, n_groups)
    return _count_sort(time, event, group, n_groups)


def count_each_group(time: np.ndarray, event: np.ndarray, group: np.ndarray, n_groups: int) -> list[Counts]:
    """Counts of each group on its own distinct times (one curve per group), in one pass.

    Continuous times: one sort of keys with the group code in the top bits, so every group is a
    contiguous run of the sorted keys. Tied times: the pooled count, split by group.
    """
    if time.size and n_groups > 1 and _grid_codes(time[: min(time.size, 4 * _SAMPLE)]) is None \
            and not _mostly_tied(time):
        packed = _pack(time, event, group, n_groups, group_major=True)
        if packed is not None:
            key, _, exp2 = packed
            low = np.uint64((1 << (64 - (n_groups - 1).bit_length())) - 1)
            bounds = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=n_groups))])
            return [_count_packed(key[bounds[g]:bounds[g + 1]] & low, 1, exp2, 1) if bounds[g + 1] > bounds[g]
                    else Counts(np.zeros(0), np.zeros((1, 0), np.int64), np.zeros((1, 0), np.int64))
                    for g in range(n_groups)]
    pooled = count(time, event, group, n_groups)
    out = []
    for g in range(n_groups):  # loop over groups, not patients
        rows = pooled.exits[g] > 0
        out.append(Counts(pooled.time[rows], pooled.events[g, rows][None, :], pooled.exits[g, rows][None, :]))
    return out


_MAX_PACKED_GROUP_BITS = 4


def _pack(time, event, group, n_groups, group_major: bool = False):
    """(sorted keys, payload bits, power-of-two exponent) or None when packing would not be exact.

    Key layout: time bits, then group bits, then the event bit (time-major), or with
    ``group_major`` the group code in the top bits (each group a contiguous sorted run).
    """
    group_bits = int(n_groups - 1).bit_length() if group is not None else 0
    if group_bits > _MAX_PACKED_GROUP_BITS:
        return None
    shift = 1 + group_bits
    exponent_limit = 2 ** (11 - group_bits) - 1023  # values < 2**limit leave group_bits exponent bits free
    top = float(time.max())
    exp2 = max(np.frexp(top)[1] - exponent_limit, 0) if top > 0 else 0
    small = time < np.finfo(float).tiny * np.ldexp(1.0, exp2)
    if small.any() and (time[small] > 0).any():
        return None  # a subnormal after scaling would lose bits
    scaled = time * np.ldexp(1.0, -exp2) if exp2 else time + 0.0  # + 0.0 turns -0.0 into 0.0
    if group_major:
        key = scaled.view(np.uint64) << np.uint64(1)
        key |= event.astype(np.uint64)
        if group_bits:
            key |= group.astype(np.uint64) << np.uint64(64 - group_bits)
        key.sort()
        return key, 1, exp2
    key = scaled.view(np.uint64) << np.uint64(shift)
    key |= event.astype(np.uint64)
    if group_bits:
        key |= group.astype(np.uint64) << np.uint64(1)
    key.sort()
    return key, shift, exp2


def _count_packed(key, shift, exp2, n_groups) -> Counts:
    bits = key >> np.uint64(shift)
    event = (key & np.uint64(1)).astype(bool)
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    np.not_equal(bits[1:], bits[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    utime = bits[starts].view(np.float64)
    utime = utime * np.ldexp(1.0, exp2) if exp2 else utime
    if n_groups == 1 or shift == 1:
        exits = np.diff(np.append(starts, key.size))
        events = np.diff(np.concatenate([[0], np.cumsum(event)[np.append(starts[1:] - 1, key.size - 1)]]))
        return Counts(utime, events[None, :], exits[None, :])
    k = starts.size
    check_cells(n_groups, k)
    group = ((key >> np.uint64(1)) & np.uint64((1 << (shift - 1)) - 1)).astype(np.intp)
    group_key = group * k + (np.cumsum(new) - 1)
    events, exits = _bincount_2d(group_key, event, n_groups * k)
    return Counts(utime, events.reshape(n_groups, k), exits.reshape(n_groups, k))


def _count_grid(time, event, group, n_groups, codes, scale) -> Counts:
    width = int(codes.max()) + 1
    key = codes if group is None else group * width + codes
    events, exits = _bincount_2d(key, event, n_groups * width)
    events, exits = events.reshape(n_groups, width), exits.reshape(n_groups, width)
    present = np.flatnonzero(exits.any(axis=0)) if n_groups > 1 else np.flatnonzero(exits[0])
    return Counts(present / scale, events[:, present], exits[:, present])


def _count_hash(time, event, group, n_groups) -> Counts:
    codes, uniques = pd.factorize(time, sort=False)
    order = np.argsort(uniques)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    k = order.size
    check_cells(n_groups, k)
    codes = rank[codes]
    key = codes if group is None else group * k + codes
    events, exits = _bincount_2d(key, event, n_groups * k)
    return Counts(uniques[order], events.reshape(n_groups, k), exits.reshape(n_groups, k))


def _count_sort(time, event, group, n_groups) -> Counts:
    order = np.argsort(time)
    sorted_time = time[order]
    sorted_event = event[order]
    new = np.empty(time.size, dtype=bool)
    new[0] = True
    np.not_equal(sorted_time[1:], sorted_time[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    utime = sorted_time[starts]
    if group is None:
        exits = np.diff(np.append(starts, time.size))
        events = np.add.reduceat(sorted_event.astype(np.int64), starts)
        return Counts(utime, events[None, :], exits[None, :])
    k = starts.size
    check_cells(n_groups, k)
    tidx = np.cumsum(new) - 1
    key = group[order] * k + tidx
    events, exits = _bincount_2d(key, sorted_event, n_groups * k)
    return Counts(utime, events.reshape(n_groups, k), exits.reshape(n_groups, k))
