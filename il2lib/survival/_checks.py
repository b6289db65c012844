"""Shared input validation for the survival functions.

Two behaviours, decided once here and used by every public survival function:

* **missing** values (NaN, ``None``, ``pd.NA``) in time, event, group, stratum or a covariate are
  *excluded and counted*: the result says "n = 48 of 50 (2 without time)";
* **invalid** values that are present (negative or infinite time, an event other than 0/1 or
  True/False, text that is not a number) raise :class:`il2lib.errors.SurvivalInputError`, a
  ``ValueError`` whose message names the input and the problem.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError, SurvivalInputError

Excluded = tuple[tuple[str, int], ...]


def as_float(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-d float array with NaN for every missing entry."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        arr = values.astype(float, copy=False)
    else:
        try:
            series = values if hasattr(values, "to_numpy") else pd.Series(np.atleast_1d(np.asarray(values, dtype=object)))
            arr = series.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise SurvivalInputError(f"{name} must be numeric; found a value that is not a number ({exc}).") from None
    if arr.ndim != 1:
        raise SurvivalInputError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    return arr


def check_time(time: np.ndarray, name: str = "time") -> None:
    """Raise on negative or infinite times (NaN = missing is allowed here)."""
    if np.isinf(time).any():
        n_inf = int(np.isinf(time).sum())
        raise SurvivalInputError(f"{name} has {n_inf} infinite value(s); times must be finite.")
    negative = time < 0  # NaN compares False: missing is handled elsewhere
    if negative.any():
        raise SurvivalInputError(f"{name} has {int(negative.sum())} negative value(s) (smallest "
                                 f"{time[negative].min():g}); times must be >= 0.")


def as_event(values, name: str = "event") -> np.ndarray:
    """Return events as float 0/1 with NaN for missing; raise if another value is present."""
    arr = as_float(values, name)
    bad = ~np.isnan(arr) & (arr != 0) & (arr != 1)
    if bad.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(arr[bad])[:3])
        raise SurvivalInputError(f"{name} must be 0/1 or True/False; found {int(bad.sum())} other value(s) "
                                 f"({examples}).")
    return arr


def as_labels(values, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factorize labels: (codes with -1 for missing, labels in display order, missing mask).

    Codes are read-only when they share memory with the input (integer labels 0..k-1).

    Order: categories order for a pandas Categorical, sorted order otherwise (first-seen order if
    the labels cannot be sorted).
    """
    fast = _small_int_labels(values)
    if fast is not None:
        return fast
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        categories = series.cat.categories
        used = np.flatnonzero(np.bincount(codes[codes >= 0] if (codes < 0).any() else codes,
                                          minlength=len(categories)))
        if used.size < len(categories):  # pandas' remove_unused_categories, by a counting pass (no sort)
            lookup = np.full(len(categories) + 1, -1, dtype=np.int64)  # the last entry: code -1 stays -1
            lookup[used] = np.arange(used.size)
            codes = lookup[codes]
            categories = categories[used]
        labels = np.asarray(categories, dtype=object)
    else:
        try:
            codes, labels = pd.factorize(series, sort=True)
        except TypeError:
            codes, labels = pd.factorize(series, sort=False)
        labels = np.asarray(labels, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    return codes, labels, codes < 0


def _small_int_labels(values):
    """Counting-pass factorization of a numpy/pandas integer or bool array (no hashing, no sort)."""
    if isinstance(values, pd.Series) and values.dtype.kind in "iub" and isinstance(values.dtype, np.dtype):
        values = values.to_numpy()
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iub" or values.ndim != 1 or not values.size:
        return None
    ints = values.astype(np.int64, copy=False)
    low, high = int(ints.min()), int(ints.max())
    if high - low > 100_000:
        return None
    shifted = ints - low if low else ints
    present = np.flatnonzero(np.bincount(shifted))
    if present.size == high - low + 1:
        codes = shifted.view()
        codes.flags.writeable = False  # may share memory with the caller's array
    else:
        lookup = np.full(high - low + 1, -1, dtype=np.int64)
        lookup[present] = np.arange(present.size)
        codes = lookup[shifted]
    labels = present + low
    labels = labels.astype(bool) if values.dtype.kind == "b" else labels
    return codes, np.array(labels.tolist(), dtype=object), np.zeros(values.size, dtype=bool)


def _time_array(time, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Float times and their missing mask (None when nothing is missing); raises on invalid values."""
    t = as_float(time, name)
    if not t.size:
        return t, None
    low = t.min()
    missing = None
    if np.isnan(low):
        missing = np.isnan(t)
        low = t[~missing].min() if (~missing).any() else 0.0
    if low < 0 or np.isinf(t.max() if missing is None else np.nanmax(np.where(missing, 0.0, t))):
        check_time(t, name)
    return t, missing


def _event_array(event, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Events as bool and their missing mask (None when nothing is missing); raises on other values."""
    if isinstance(event, np.ndarray) and event.ndim == 1 and event.dtype.kind in "biu":
        if event.dtype.kind != "b" and event.size and (event.min() < 0 or event.max() > 1):
            as_event(event, name)  # raises with the offending values
        return event.astype(bool, copy=False), None
    e = as_event(event, name)
    missing = np.isnan(e)
    return e == 1, (missing if missing.any() else None)


@dataclass(frozen=True)
class SurvivalInput:
    """Cleaned time/event arrays (missing rows removed) plus what was excluded and why."""

    time: np.ndarray
    event: np.ndarray  # bool
    keep: np.ndarray | None  # boolean mask into the input rows, None when every row was kept
    n_input: int
    excluded: Excluded


def clean_survival(time, event, extra: dict[str, np.ndarray] | None = None,
                   time_name: str = "time", event_name: str = "event") -> SurvivalInput:
    """Validate time and event, drop rows missing any of them or any ``extra`` mask.

    ``extra`` maps a reason ("without group") to a boolean *missing* mask of the same length.
    Each excluded row is counted once, under the first reason that applies.
    """
    t, t_missing = _time_array(time, time_name)
    e, e_missing = _event_array(event, event_name)
    if t.shape != e.shape:
        raise SurvivalInputError(f"{time_name} and {event_name} have different lengths ({t.size} and {e.size}).")
    reasons = [(f"without {time_name}", t_missing), (f"without {event_name}", e_missing)]
    for reason, mask in (extra or {}).items():
        if mask.shape != t.shape:
            raise SurvivalInputError(f"the input '{reason}' refers to has length {mask.size}, expected {t.size}.")
        reasons.append((reason, mask if mask.any() else None))
    keep, excluded = exclusions(reasons, t.size)
    if keep is None:
        return SurvivalInput(t, e, None, t.size, ())
    return SurvivalInput(t[keep], e[keep], keep, t.size, excluded)


def exclusions(reasons, n: int) -> tuple[np.ndarray | None, Excluded]:
    """(rows kept, None when all are; what was excluded) from ``(reason, missing mask or None)`` pairs: each
    excluded row counted once, under the first reason that applies."""
    if all(mask is None for _, mask in reasons):
        return None, ()
    taken = np.zeros(n, dtype=bool)
    excluded = []
    for reason, mask in reasons:
        if mask is None:
            continue
        new = mask & ~taken
        count = int(new.sum())
        if count:
            excluded.append((reason, count))
            taken |= new
    return ~taken, tuple(excluded)


def require_patients(n: int, what: str = "analysis") -> None:
    """Raise InsufficientDataError when nothing is left to analyse."""
    if n == 0:
        raise InsufficientDataError(f"No patient with complete data is left for the {what}.")


def describe_n(n: int, n_input: int, excluded: Excluded, count=None) -> str:
    """The sentence the dashboard shows: 'n = 48 of 50 (2 without time)'. ``count(key, value)`` writes each
    count (keys ``("used",)``, ``("total",)``, ``("left out", reason)``; e.g. a small-cell ``Suppression.text``)."""
    count = count or (lambda _key, value: str(value))
    if not excluded:
        return f"n = {count(('used',), n)}"
    detail = "; ".join(f"{count(('left out', reason), value)} {reason}" for reason, value in excluded)
    return f"n = {count(('used',), n)} of {count(('total',), n_input)} ({detail})"
