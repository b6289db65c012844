"""One (time, event, group) input checked and ranked once, for the several analyses of one view.

A survival view runs the Kaplan-Meier per group, the log-rank test and, on overall survival, the reverse
Kaplan-Meier follow-up on the same columns. Each public function checks its inputs, factorizes the groups and
ranks the times on its own; :func:`prepare_survival` does that once, and each analysis is then one counting pass
(``bincount`` of group x time rank) over the rows it keeps. The counts are the ones :func:`~il2lib.survival.
_counting.count` makes, and R's ``timefix`` is applied to each analysis's own distinct times, so every number
equals that of :func:`~il2lib.survival.kaplan_meier`, :func:`~il2lib.survival.logrank_test` and
:func:`~il2lib.survival.median_followup` called on their own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError
from il2lib.survival import _checks
from il2lib.survival._counting import DENSE_CELL_LIMIT, Counts, _bincount_2d, _grid_codes
from il2lib.survival.clinical import FollowUpResult
from il2lib.survival.km import ConfType, GroupedKaplanMeier, kaplan_meier, km_from_counts
from il2lib.survival.logrank import LogRankResult, logrank_result, logrank_test, stratum_sums_from_counts
from il2lib.survival.timefix import aeq_counts


@dataclass(frozen=True)
class PreparedSurvival:
    """Time, event and group of every input row, checked once; ``rank`` indexes each row's time in ``distinct``
    (the sorted distinct times of the rows with a time). Build with :func:`prepare_survival`."""

    time: np.ndarray
    event: np.ndarray  # bool, False where missing
    time_missing: np.ndarray | None
    event_missing: np.ndarray | None
    codes: np.ndarray | None  # group codes, -1 where missing; None without groups
    labels: np.ndarray | None
    group_missing: np.ndarray | None
    rank: np.ndarray | None  # None: too many groups x times for one table (each analysis counts on its own)
    distinct: np.ndarray

    @property
    def n_input(self) -> int:
        return self.time.size

    def _kept(self, with_group: bool) -> tuple[np.ndarray | None, _checks.Excluded]:
        reasons = [("without time", self.time_missing), ("without event", self.event_missing)]
        if with_group and self.codes is not None:
            reasons.append(("without group", self.group_missing))
        return _checks.exclusions(reasons, self.n_input)

    def _table(self, keep, event, codes, n_groups) -> tuple[np.ndarray, np.ndarray]:
        """(events, exits) per (group, distinct time): one counting pass over the kept rows."""
        rank = self.rank if keep is None else self.rank[keep]
        ev = event if keep is None else event[keep]
        k = self.distinct.size
        key = rank if codes is None else (codes if keep is None else codes[keep]) * k + rank
        events, exits = _bincount_2d(key, ev, n_groups * k)
        return events.reshape(n_groups, k), exits.reshape(n_groups, k)

    def kaplan_meier(self, conf_level: float = 0.95, conf_type: ConfType = "log-log"):
        """:func:`~il2lib.survival.kaplan_meier` (``by`` the groups when there are any, ``timefix``)."""
        if self.rank is None:
            return kaplan_meier(_with_missing(self.time, self.time_missing),
                                _with_missing(self.event, self.event_missing), conf_level, conf_type,
                                by=None if self.codes is None else _labels_of(self))
        if conf_type not in ("log", "log-log", "plain"):
            raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}.")
        keep, excluded = self._kept(with_group=True)
        n = self.n_input if keep is None else int(np.count_nonzero(keep))
        _checks.require_patients(n, "Kaplan-Meier estimate")
        if self.codes is None:
            events, exits = self._table(keep, self.event, None, 1)
            c = aeq_counts([_columns(self.distinct, events, exits)])[0]
            ev, ex = c.events[0], c.exits[0]
            return km_from_counts(c.time, c.at_risk[0], ev, ex - ev, conf_type, conf_level, self.n_input, excluded)
        events, exits = self._table(keep, self.event, self.codes, len(self.labels))
        per_group = aeq_counts([_columns(self.distinct, events[g:g + 1], exits[g:g + 1])
                                for g in range(len(self.labels))])  # loop over groups, not patients
        results = {}
        for label, c in zip(self.labels, per_group):
            if c.time.size:
                ev, ex = c.events[0], c.exits[0]
                results[label] = km_from_counts(c.time, c.at_risk[0], ev, ex - ev, conf_type, conf_level)
        return GroupedKaplanMeier(results, self.n_input, excluded)

    def logrank(self, rho: float = 0) -> LogRankResult:
        """:func:`~il2lib.survival.logrank_test` of the groups (unstratified, ``timefix``)."""
        if self.codes is None:
            raise ValueError("The log-rank test needs groups: prepare the input with a group.")
        if self.rank is None:
            return logrank_test(_with_missing(self.time, self.time_missing),
                                _with_missing(self.event, self.event_missing), _labels_of(self), rho=rho)
        keep, excluded = self._kept(with_group=True)
        n = self.n_input if keep is None else int(np.count_nonzero(keep))
        _checks.require_patients(n, "log-rank test")
        events, exits = self._table(keep, self.event, self.codes, len(self.labels))
        n_per = exits.sum(axis=1)
        present = np.flatnonzero(n_per)
        if present.size < 2:
            raise InsufficientDataError("The log-rank test needs at least two groups with patients; "
                                        f"found {present.size}.")
        labels = self.labels
        if present.size < len(labels):  # drop empty groups
            events, exits, labels, n_per = events[present], exits[present], labels[present], n_per[present]
        c = aeq_counts([_columns(self.distinct, events, exits)])[0]
        return logrank_result(labels, n_per, stratum_sums_from_counts(c, rho), rho, self.n_input, excluded, False)

    def followup(self, conf_level: float = 0.95, conf_type: ConfType = "log-log") -> FollowUpResult | None:
        """:func:`~il2lib.survival.median_followup` of the rows with a time and an event, whatever their group
        (None when there is none): the reverse Kaplan-Meier, censorings as its events."""
        keep, _ = self._kept(with_group=False)
        n = self.n_input if keep is None else int(np.count_nonzero(keep))
        if not n:
            return None
        if self.rank is None:
            time, event = (self.time, self.event) if keep is None else (self.time[keep], self.event[keep])
            km = kaplan_meier(time, ~event, conf_level, conf_type)
        else:
            events, exits = self._table(keep, self.event, None, 1)
            c = aeq_counts([_columns(self.distinct, exits - events, exits)])[0]
            ev, ex = c.events[0], c.exits[0]
            km = km_from_counts(c.time, c.at_risk[0], ev, ex - ev, conf_type, conf_level, n, ())
        return FollowUpResult(km.median, km.median_ci, km.n, km)


def _columns(distinct: np.ndarray, events: np.ndarray, exits: np.ndarray) -> Counts:
    """The counts of the times with at least one exit (the distinct times of the rows counted)."""
    cols = np.flatnonzero(exits.any(axis=0)) if exits.shape[0] > 1 else np.flatnonzero(exits[0])
    return Counts(distinct[cols], events[:, cols], exits[:, cols])


def _with_missing(values: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    out = values.astype(float)
    if missing is not None:
        out[missing] = np.nan
    return out


def _labels_of(p: PreparedSurvival) -> pd.Categorical:
    return pd.Categorical.from_codes(p.codes, categories=pd.Index(p.labels, dtype=object))


def _rank_times(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each time's index in the sorted distinct times, the sorted distinct times)."""
    if not time.size:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    grid = _grid_codes(time)
    if grid is not None:  # a counting pass: no hash, no sort
        codes, scale = grid
        present = np.flatnonzero(np.bincount(codes))
        lookup = np.zeros(int(codes.max()) + 1, dtype=np.intp)
        lookup[present] = np.arange(present.size)
        return lookup[codes], present / scale
    codes, uniques = pd.factorize(time, sort=False)
    order = np.argsort(uniques)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[codes], uniques[order] + 0.0  # + 0.0: -0.0 reads 0.0, as the sorting counts write it


def prepare_survival(time, event, group=None) -> PreparedSurvival:
    """Check ``time`` and ``event`` (and factorize ``group``) once, as :func:`~il2lib.survival.kaplan_meier` and
    :func:`~il2lib.survival.logrank_test` do, and rank the times once. Invalid values raise
    :class:`~il2lib.errors.SurvivalInputError` here; missing ones are excluded by each analysis."""
    t, t_missing = _checks._time_array(time, "time")
    e, e_missing = _checks._event_array(event, "event")
    if t.shape != e.shape:
        raise _checks.SurvivalInputError(f"time and event have different lengths ({t.size} and {e.size}).")
    codes = labels = g_missing = None
    if group is not None:
        codes, labels, g_missing = _checks.as_labels(group, "group")
        if g_missing.shape != t.shape:
            raise _checks.SurvivalInputError(f"the input 'without group' refers to has length {g_missing.size}, "
                                             f"expected {t.size}.")
        g_missing = g_missing if g_missing.any() else None
    if e_missing is not None:
        e = e & ~e_missing
    valid = None if t_missing is None else ~t_missing
    rank, distinct = _rank_times(t if valid is None else t[valid])
    if valid is not None:
        full = np.zeros(t.size, dtype=np.intp)
        full[valid] = rank
        rank = full
    n_groups = 1 if labels is None else max(len(labels), 1)
    if n_groups > 1 and n_groups * distinct.size > DENSE_CELL_LIMIT:
        rank = None  # each analysis counts on its own (sorting, no groups x times table)
    return PreparedSurvival(t, e, t_missing, e_missing, codes, labels, g_missing, rank, distinct)
