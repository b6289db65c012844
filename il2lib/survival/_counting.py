"""Counting events and exits per distinct time: the one pass every survival estimate starts from.

Three strategies, chosen from the data, all returning the same thing:

* **grid** (a counting pass): when every time is an exact multiple of 1, 1/10, 1/100 or 1/1000
  (whole days, 0.1 month), ``rint(t * scale)`` is an exact integer code, and ``np.bincount``
  counts in one linear pass with no sort and no hash. Exactness is verified on every value;
* **hash**: many ties but no grid: ``pd.factorize`` (a hash table), then only the distinct
  values are sorted;
* **sort**: (nearly) all times distinct: one ``np.argsort``.

No Python loop runs over patients or over time points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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


def _grid_scale(time: np.ndarray) -> float | None:
    """The scale s with rint(t*s)/s == t for every t, if a small one exists and codes stay small."""
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
                return scale
            return None
    return None


def _mostly_tied(time: np.ndarray) -> bool:
    n = time.size
    if n < 4096:
        return False
    sample = time[:: max(1, n // _SAMPLE)]
    return np.unique(sample).size < 0.5 * sample.size


def _bincount_2d(key: np.ndarray, event: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    exits = np.bincount(key, minlength=n_bins)
    events = np.bincount(key[event], minlength=n_bins)
    return events, exits


def count(time: np.ndarray, event: np.ndarray, group: np.ndarray | None = None, n_groups: int = 1) -> Counts:
    """Count events and exits per (group, distinct time).

    ``time`` float >= 0 without NaN, ``event`` bool, ``group`` int codes 0..n_groups-1 or None.
    """
    if time.size == 0:
        empty = np.zeros((n_groups, 0), dtype=np.int64)
        return Counts(np.zeros(0), empty, empty.copy())
    scale = _grid_scale(time)
    if scale is not None:
        return _count_grid(time, event, group, n_groups, scale)
    if _mostly_tied(time):
        return _count_hash(time, event, group, n_groups)
    return _count_sort(time, event, group, n_groups)


def _count_grid(time, event, group, n_groups, scale) -> Counts:
    codes = np.rint(time * scale).astype(np.intp)
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
    tidx = np.cumsum(new) - 1
    key = group[order] * k + tidx
    events, exits = _bincount_2d(key, sorted_event, n_groups * k)
    return Counts(utime, events.reshape(n_groups, k), exits.reshape(n_groups, k))
