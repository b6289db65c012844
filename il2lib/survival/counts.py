"""Counts-first survival: Kaplan-Meier, log-rank, RMST and median from per-(group, time) counts.

Every survival statistic the dashboard shows for a right-censored endpoint depends on the patient
rows only through the number of events and censorings per (stratum, group, distinct time). A
:class:`SurvivalCounts` holds exactly that, so the heavy reduction can run where the data lives
(a SQL ``GROUP BY`` in DuckDB or PostgreSQL, see :mod:`il2lib.sources`) and only the counts travel.

There is one implementation underneath: :func:`il2lib.survival.km.km_from_counts` (Kaplan-Meier,
median, RMST) and :func:`il2lib.survival.logrank.stratum_sums_from_counts` (log-rank). The row
functions :func:`~il2lib.survival.kaplan_meier` and :func:`~il2lib.survival.logrank_test` reduce
their rows to the same counts first and call the same two functions, so results from counts and
from rows are identical (not merely close).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.survival import _checks
from il2lib.survival._counting import Counts, count
from il2lib.survival.km import ConfType, GroupedKaplanMeier, KaplanMeierResult, RMSTResult, km_from_counts
from il2lib.survival.logrank import LogRankResult, logrank_result, stratum_sums_from_counts
from il2lib.survival.timefix import remap, tie_map

#: Columns of :attr:`SurvivalCounts.table` and of an aggregate query's result.
COUNT_COLUMNS = ("stratum", "group", "time", "n_event", "n_censor")
#: Columns of a raw aggregate (one row per stratum, group, time, event value; NULL keys allowed).
AGGREGATE_COLUMNS = ("stratum", "group", "time", "event", "n")


@dataclass(frozen=True)
class SurvivalCounts:
    """Events and censorings per (stratum, group, distinct time), sorted by those keys.

    ``stratum`` and ``group`` are integer codes into ``strata`` and ``groups`` (label tuples in
    display order; ``(None,)`` when there is no grouping / no stratification). Only rows with at
    least one exit are kept. ``n_input`` and ``excluded`` describe the rows the counts came from
    (e.g. ``(("without time", 3),)``), as on every survival result.
    """

    stratum: np.ndarray
    group: np.ndarray
    time: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    groups: tuple
    strata: tuple
    n_input: int
    excluded: _checks.Excluded = ()

    @property
    def grouped(self) -> bool:
        return self.groups != (None,)

    @property
    def stratified(self) -> bool:
        return self.strata != (None,)

    @property
    def n(self) -> int:
        """Patients counted (input rows minus excluded)."""
        return int(self.n_event.sum() + self.n_censor.sum())

    @property
    def table(self) -> pd.DataFrame:
        """Tidy form: stratum and group labels, time, n_event, n_censor."""
        return pd.DataFrame({"stratum": np.asarray(self.strata, dtype=object)[self.stratum],
                             "group": np.asarray(self.groups, dtype=object)[self.group], "time": self.time,
                             "n_event": self.n_event, "n_censor": self.n_censor})

    def per_group(self) -> list[Counts]:
        """One :class:`Counts` per group on its own distinct times (strata pooled)."""
        out = []
        for g in range(len(self.groups)):
            rows = self.group == g
            t, d, c = self.time[rows], self.n_event[rows], self.n_censor[rows]
            if self.stratified:  # the same time may appear in several strata: sum them
                t, inverse = np.unique(t, return_inverse=True)
                d = np.bincount(inverse, weights=d, minlength=t.size).astype(np.int64)
                c = np.bincount(inverse, weights=c, minlength=t.size).astype(np.int64)
            out.append(Counts(t, d[None, :], (d + c)[None, :]))
        return out

    def per_stratum(self, present: np.ndarray) -> list[Counts]:
        """One (G, k) :class:`Counts` per stratum on that stratum's pooled times; ``present`` maps group codes."""
        remap = np.full(len(self.groups), -1)
        remap[present] = np.arange(present.size)
        out = []
        for s in range(len(self.strata)):
            rows = self.stratum == s
            if not rows.any():
                continue
            t, inverse = np.unique(self.time[rows], return_inverse=True)
            key = remap[self.group[rows]] * t.size + inverse
            size = present.size * t.size
            events = np.bincount(key, weights=self.n_event[rows], minlength=size).astype(np.int64)
            exits = events + np.bincount(key, weights=self.n_censor[rows], minlength=size).astype(np.int64)
            out.append(Counts(t, events.reshape(present.size, t.size), exits.reshape(present.size, t.size)))
        return out


def survival_counts(time, event, group=None, strata=None) -> SurvivalCounts:
    """Reduce patient rows to :class:`SurvivalCounts` (missing rows excluded and counted).

    Validation, exclusion reasons and label order are those of :func:`~il2lib.survival.kaplan_meier`
    and :func:`~il2lib.survival.logrank_test`: invalid values raise
    :class:`~il2lib.errors.SurvivalInputError`.
    """
    extra, labels, s_labels = {}, (None,), (None,)
    codes = s_codes = None
    if group is not None:
        codes, g_lab, missing = _checks.as_labels(group, "group")
        extra["without group"], labels = missing, tuple(g_lab)
    if strata is not None:
        s_codes, s_lab, s_missing = _checks.as_labels(strata, "stratum")
        extra["without stratum"], s_labels = s_missing, tuple(s_lab)
    data = _checks.clean_survival(time, event, extra)
    n = data.time.size
    codes = np.zeros(n, dtype=np.int64) if codes is None else np.asarray(codes)[_keep(data)]
    s_codes = np.zeros(n, dtype=np.int64) if s_codes is None else np.asarray(s_codes)[_keep(data)]
    parts = []
    for s in range(len(s_labels)):  # loop over strata, not patients
        rows = s_codes == s
        c = count(data.time[rows], data.event[rows], codes[rows], len(labels))
        g_idx, t_idx = np.nonzero(c.exits)
        d = c.events[g_idx, t_idx]
        parts.append((np.full(g_idx.size, s), g_idx, c.time[t_idx], d, c.exits[g_idx, t_idx] - d))
    arrays = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(5)]
    return _sorted_counts(arrays, labels, s_labels, data.n_input, data.excluded)


def _keep(data: _checks.SurvivalInput):
    return slice(None) if data.keep is None else data.keep


def _sorted_counts(arrays, groups, strata, n_input, excluded) -> SurvivalCounts:
    arrays = _aeq_rows(arrays)
    stratum, group, time, d, c = arrays
    order = np.lexsort((time, group, stratum))
    return SurvivalCounts(stratum[order].astype(np.int64), group[order].astype(np.int64),
                          time[order].astype(float), d[order].astype(np.int64), c[order].astype(np.int64),
                          tuple(groups), tuple(strata), int(n_input), tuple(excluded))


def counts_from_aggregate(frame: pd.DataFrame, grouped: bool = True, stratified: bool = False,
                          group_order=None) -> SurvivalCounts:
    """:class:`SurvivalCounts` from an aggregate query: one row per (stratum, group, time, event) with ``n``.

    NULL (missing) time, event, group or stratum keys are excluded and counted under the same
    reasons, in the same order, as the row path; negative or infinite times and events other
    than 0/1 raise :class:`~il2lib.errors.SurvivalInputError` as they do there. Labels are sorted
    (or follow ``group_order``), as :func:`~il2lib.survival.kaplan_meier` sorts them.
    """
    missing_cols = [c for c in AGGREGATE_COLUMNS if c not in frame.columns]
    if missing_cols:
        raise SurvivalInputError(f"aggregate counts lack column(s) {', '.join(missing_cols)}.")
    weight = pd.to_numeric(frame["n"]).to_numpy(dtype=np.int64)
    time = _checks.as_float(frame["time"], "time")
    _checks.check_time(time)
    event = _checks.as_event(frame["event"])
    masks = {"without time": np.isnan(time), "without event": np.isnan(event)}
    keys = {}
    for column, used, reason in (("group", grouped, "without group"), ("stratum", stratified, "without stratum")):
        values = frame[column]
        keys[column] = values if used else pd.Series(np.zeros(len(frame), dtype=np.int64))
        masks[reason] = values.isna().to_numpy() if used else np.zeros(len(frame), dtype=bool)
    taken, excluded = np.zeros(len(frame), dtype=bool), []
    for reason, mask in masks.items():
        new = mask & ~taken
        if weight[new].sum():
            excluded.append((reason, int(weight[new].sum())))
        taken |= new
    keep = ~taken
    g_codes, g_labels = _codes(keys["group"][keep], group_order if grouped else None)
    s_codes, s_labels = _codes(keys["stratum"][keep], None)
    is_event = event[keep] == 1
    w = weight[keep]
    arrays = (s_codes, g_codes, time[keep], np.where(is_event, w, 0), np.where(is_event, 0, w))
    merged = _merge_duplicates(arrays)
    return _sorted_counts(merged, g_labels if grouped else (None,), s_labels if stratified else (None,),
                          int(weight.sum()), tuple(excluded))


def _codes(values: pd.Series, order) -> tuple[np.ndarray, tuple]:
    if order is not None:
        labels = tuple(order)
        lookup = {v: i for i, v in enumerate(labels)}
        unknown = set(values.tolist()) - set(lookup)
        if unknown:
            raise SurvivalInputError(f"group values {sorted(map(str, unknown))[:3]} are not in the given order.")
        return np.array([lookup[v] for v in values.tolist()], dtype=np.int64), labels
    codes, labels, _ = _checks.as_labels(values.reset_index(drop=True), "group")
    return np.asarray(codes, dtype=np.int64), tuple(labels)


def _aeq_rows(arrays):
    """R's ``timefix``: times within R's tolerance of each other (over all strata and groups) become one
    time and their rows are summed (:mod:`il2lib.survival.timefix`); ``arrays`` itself when there is no such tie."""
    time = np.asarray(arrays[2], dtype=float)
    moved = tie_map(np.unique(time)) if time.size else None
    if moved is None:
        return arrays
    return _merge_duplicates(tuple(arrays[:2]) + (remap(time, moved),) + tuple(arrays[3:]))


def _merge_duplicates(arrays):
    """Sum rows with equal (stratum, group, time): the event and the censoring row of one time."""
    s, g, t, d, c = arrays
    if t.size == 0:
        return arrays
    order = np.lexsort((t, g, s))
    s, g, t, d, c = (a[order] for a in (s, g, t, d, c))
    new = np.ones(t.size, dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (g[1:] != g[:-1]) | (t[1:] != t[:-1])
    starts = np.flatnonzero(new)
    keep = (np.add.reduceat(d, starts) + np.add.reduceat(c, starts)) > 0
    return tuple(a[starts][keep] for a in (s, g, t)) + tuple(np.add.reduceat(a, starts)[keep] for a in (d, c))


def kaplan_meier_counts(counts: SurvivalCounts, conf_level: float = 0.95, conf_type: ConfType = "log-log"):
    """Kaplan-Meier from counts: :class:`KaplanMeierResult`, or :class:`GroupedKaplanMeier` when grouped.

    The same estimator, band, median and RMST as :func:`~il2lib.survival.kaplan_meier` (both call
    :func:`~il2lib.survival.km.km_from_counts`); strata, if any, are pooled within each group.

    Notes
    -----
    n_j (at risk) = exits at t_j or later; S(t) = prod (1 - d_j / n_j); Greenwood variance.

    References
    ----------
    Kaplan EL, Meier P (1958). JASA 53:457-481. Therneau T, R package ``survival`` (survfit).
    """
    if conf_type not in ("log", "log-log", "plain"):
        raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}.")
    _checks.require_patients(counts.n, "Kaplan-Meier estimate")
    results = {}
    for label, c in zip(counts.groups, counts.per_group()):
        if c.time.size:
            ev, ex = c.events[0], c.exits[0]
            results[label] = km_from_counts(c.time, c.at_risk[0], ev, ex - ev, conf_type, conf_level,
                                            *(() if counts.grouped else (counts.n_input, counts.excluded)))
    if not counts.grouped:
        return results[None]
    return GroupedKaplanMeier(results, counts.n_input, counts.excluded)


def logrank_counts(counts: SurvivalCounts, rho: float = 0) -> LogRankResult:
    """k-group (weighted, stratified) log-rank test from counts, as R's ``survdiff``.

    Identical to :func:`~il2lib.survival.logrank_test` on the rows the counts came from (both sum
    :func:`~il2lib.survival.logrank.stratum_sums_from_counts` over strata).

    References
    ----------
    Mantel N (1966). Cancer Chemother Rep 50:163-170. Harrington DP, Fleming TR (1982).
    Biometrika 69:553-566.
    """
    if not counts.grouped:
        raise InsufficientDataError("The log-rank test needs counts by group.")
    _checks.require_patients(counts.n, "log-rank test")
    n_per = np.bincount(counts.group, weights=counts.n_event + counts.n_censor,
                        minlength=len(counts.groups)).astype(np.int64)
    present = np.flatnonzero(n_per)
    if present.size < 2:
        raise InsufficientDataError("The log-rank test needs at least two groups with patients; "
                                    f"found {present.size}.")
    g = present.size
    sums = [np.zeros(g), np.zeros(g), np.zeros((g, g)), np.zeros(g, dtype=np.int64)]
    for c in counts.per_stratum(present):  # loop over strata, not patients
        for i, part in enumerate(stratum_sums_from_counts(c, rho)):
            sums[i] = sums[i] + part
    labels = np.asarray(counts.groups, dtype=object)[present]
    return logrank_result(labels, n_per[present], tuple(sums), rho, counts.n_input, counts.excluded,
                          counts.stratified)


def rmst_counts(counts: SurvivalCounts, tau: float, conf_level: float = 0.95) -> dict:
    """Restricted mean survival to ``tau`` per group (``{None: ...}`` when ungrouped), from counts.

    R's ``print(survfit, rmean=tau)`` standard error; see :meth:`KaplanMeierResult.rmst`.
    """
    km = kaplan_meier_counts(counts, conf_level=conf_level)
    items = km.items() if isinstance(km, GroupedKaplanMeier) else [(None, km)]
    return {label: r.rmst(tau) for label, r in items}


def median_counts(counts: SurvivalCounts, conf_level: float = 0.95, conf_type: ConfType = "log-log") -> pd.DataFrame:
    """Median survival and its CI per group, from counts (R's ``quantile.survfit``)."""
    km = kaplan_meier_counts(counts, conf_level=conf_level, conf_type=conf_type)
    if isinstance(km, KaplanMeierResult):
        return km.to_frame().assign(group=None)
    return km.to_frame()


__all__ = ["AGGREGATE_COLUMNS", "COUNT_COLUMNS", "RMSTResult", "SurvivalCounts", "counts_from_aggregate",
           "kaplan_meier_counts", "logrank_counts", "median_counts", "rmst_counts", "survival_counts"]
