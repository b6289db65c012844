"""Time origin and delayed entry (left truncation).

Time can be measured from IL-2 start (the default), from the end of PD-1/PD-L1 therapy or from
diagnosis. A patient is observed only from the later of IL-2 start and registry entry: before
that, a death could not have been recorded. With any origin earlier than that, the patient's
early time is *left-truncated* and the risk set at t holds only patients with entry < t <= exit,
as R's ``Surv(entry, exit, event)``. Ignoring it (the naive curve) overstates early survival.

Implemented here, not in :mod:`il2lib.survival.km` (being edited by the survival helper at the
time): the Kaplan-Meier numbers come from :func:`il2lib.survival.km.km_from_counts`, so CIs and
medians follow exactly the same rules as every other curve.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.stats.distributions import chi2_sf
from il2lib.survival import _checks
from il2lib.survival._counting import check_cells
from il2lib.survival.km import ConfType, GroupedKaplanMeier, KaplanMeierResult, km_from_counts
from il2lib.survival.timefix import aeq_times

Origin = Literal["il2_start", "pd1_end", "diagnosis"]
ORIGIN_LABELS = {"il2_start": "IL-2 start", "pd1_end": "end of PD-1/PD-L1 therapy", "diagnosis": "diagnosis"}
ORIGIN_COLUMNS = {"il2_start": schema.DATE_IL2_START, "pd1_end": schema.DATE_LAST_PD1,
                  "diagnosis": schema.DATE_DIAGNOSIS}


@dataclass(frozen=True)
class OriginData:
    """Entry, exit and event per analysed patient on the chosen time scale (months)."""

    origin: str
    entry: np.ndarray
    time: np.ndarray
    event: np.ndarray
    keep: np.ndarray  # boolean mask of the analysed rows of the input frame
    n_input: int
    n_truncated: int  # patients with entry > 0 (observed only from a later time)
    excluded: _checks.Excluded

    @property
    def n(self) -> int:
        return int(self.time.size)

    @property
    def note(self) -> str:
        return self.note_with()

    def note_with(self, count=None) -> str:
        """:attr:`note` with each count written by ``count(key, n)`` (keys ``("used",)``, ``("total",)``,
        ``("left out", reason)``, ``("delayed entry",)``; e.g. a small-cell ``Suppression.text``)."""
        text = (f"Time from {ORIGIN_LABELS[self.origin]}: "
                f"{_checks.describe_n(self.n, self.n_input, self.excluded, count)}. ")
        if self.n_truncated:
            late = count(("delayed entry",), self.n_truncated) if count else self.n_truncated
            text += (f"{late} patient(s) enter the risk set late (delayed entry at IL-2 start or registry "
                     "entry, whichever is later): the curve is left-truncated, as R's Surv(entry, time, event).")
        else:
            text += "No delayed entry: every patient is at risk from time 0."
        return text


def _dates(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    return pd.to_datetime(df[column], errors="coerce")


def origin_times(df: pd.DataFrame, endpoint: Literal["os", "pfs"] = "os", origin: Origin = "il2_start") -> OriginData:
    """Entry/exit times in months from the chosen origin for OS or PFS.

    Parameters
    ----------
    df : DataFrame
        Loaded cohort (``Cohort.data``): ``os_months``/``pfs_months`` are from IL-2 start.
    endpoint : {"os", "pfs"}
    origin : {"il2_start", "pd1_end", "diagnosis"}
        "pd1_end" uses ``date_last_pd1``; "diagnosis" uses the optional ``date_diagnosis`` column.

    Returns
    -------
    OriginData
        exit = endpoint time + (IL-2 start - origin); entry = max(IL-2 start, registry entry
        (optional ``date_registry_entry``)) - origin, in months. Patients without the origin date,
        with the origin after IL-2 start, or with registry entry after their exit are excluded and
        counted.
    """
    if endpoint not in ("os", "pfs"):
        raise ValueError(f"the time origin applies to 'os' and 'pfs', got {endpoint!r}.")
    if origin not in ORIGIN_LABELS:
        raise ValueError(f"origin must be one of {', '.join(ORIGIN_LABELS)}, got {origin!r}.")
    ep = schema.ENDPOINTS[endpoint]
    start = _dates(df, schema.DATE_IL2_START)
    origin_date = _dates(df, ORIGIN_COLUMNS[origin])
    months = lambda delta: (delta.dt.days / schema.DAYS_PER_MONTH).to_numpy(dtype=float, na_value=np.nan)  # noqa: E731
    offset = np.zeros(len(df)) if origin == "il2_start" else months(start - origin_date)
    registry = _dates(df, schema.DATE_REGISTRY_ENTRY)
    late = np.fmax(months(registry - start), 0.0)
    late = np.where(np.isnan(late), 0.0, late)
    raw_time = _checks.as_float(df[ep.time], ep.time)
    time = raw_time + np.where(np.isnan(offset), 0.0, offset)
    event = _checks.as_event(df[ep.event].astype("Float64") if ep.event in df else np.full(len(df), np.nan))
    entry = offset + late
    reasons = {f"without {_lower_first(schema.label(ORIGIN_COLUMNS[origin]))}": np.isnan(offset),
               f"{ORIGIN_LABELS[origin]} after IL-2 start": offset < 0,
               "registry entry after the end of follow-up": entry >= np.where(np.isnan(time), np.inf, time)}
    data = _checks.clean_survival(np.where(offset < 0, raw_time, time), event, reasons, ep.time, ep.event)
    keep = np.ones(len(df), dtype=bool) if data.keep is None else data.keep
    entry = entry[keep]
    return OriginData(origin, entry, data.time, data.event, keep, data.n_input, int((entry > 0).sum()),
                      data.excluded)


@dataclass(frozen=True)
class EntryKaplanMeierResult(KaplanMeierResult):
    """A Kaplan-Meier curve with delayed entry: the number at risk at t counts entry < t <= exit."""

    entry: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    exit: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def at_risk(self, times) -> np.ndarray:
        t = np.atleast_1d(np.asarray(times, dtype=float))
        entered = np.searchsorted(np.sort(self.entry), t, side="left")  # entry < t
        exited = np.searchsorted(np.sort(self.exit), t, side="left")  # exit < t
        return (entered - exited).astype(np.int64)


def _risk_counts(entry, time, event, codes, n_groups):
    """Distinct exit times, and per group the number at risk (entry < t <= exit), events and exits."""
    grid = np.unique(time)
    k = grid.size
    check_cells(n_groups, k)
    exit_idx = np.searchsorted(grid, time)
    events = np.zeros((n_groups, k))
    exits = np.zeros((n_groups, k))
    np.add.at(events, (codes, exit_idx), event.astype(float))
    np.add.at(exits, (codes, exit_idx), 1.0)
    exited_before = np.cumsum(exits, axis=1) - exits  # exit < t
    entered = np.zeros((n_groups, k + 1))
    np.add.at(entered, (codes, np.searchsorted(grid, entry, side="right")), 1.0)  # entry < t from this index on
    at_risk = np.cumsum(entered, axis=1)[:, :k] - exited_before
    return grid, at_risk, events, exits


def check_entry(entry, time) -> np.ndarray:
    e = _checks.as_float(entry, "entry")
    if e.shape != np.shape(time):
        raise SurvivalInputError(f"entry and time have different lengths ({e.size} and {np.size(time)}).")
    _checks.check_time(e, "entry")
    if np.any(e >= time):
        raise SurvivalInputError(f"entry must be earlier than the exit time; {int(np.sum(e >= time))} row(s) are not.")
    return e


def kaplan_meier_entry(entry, time, event, *, by=None, conf_level: float = 0.95,
                       conf_type: ConfType = "log-log", timefix: bool = True) -> KaplanMeierResult | GroupedKaplanMeier:
    """Kaplan-Meier with delayed entry (left truncation), as R's ``survfit(Surv(entry, time, event) ~ by)``.

    Notes
    -----
    The risk set at t is {i: entry_i < t <= time_i}; product-limit, Greenwood, band and median as
    :func:`il2lib.survival.kaplan_meier`. Rows are the distinct exit times. An early risk set can
    be tiny with late entry: read the first steps with their number at risk. ``timefix``: entry and exit
    times within R's tolerance of each other are one time, as R's ``survfit(timefix = TRUE)``
    (:mod:`il2lib.survival.timefix`).

    References
    ----------
    Klein JP, Moeschberger ML (2003), Survival Analysis, section 4.6. Therneau T, R ``survival``.
    """
    time = _checks.as_float(time, "time")
    entry = check_entry(entry, time)
    event = _checks.as_event(event)
    if np.isnan(time).any() or np.isnan(event).any() or np.isnan(entry).any():
        raise SurvivalInputError("entry, time and event must be complete here (use origin_times to exclude rows).")
    _checks.require_patients(time.size, "Kaplan-Meier estimate")
    if timefix:
        entry, time = aeq_times(time, entry)
    codes, labels = (np.zeros(time.size, dtype=np.int64), np.array(["all"], dtype=object)) if by is None \
        else _checks.as_labels(by, "group")[:2]
    grid, at_risk, events, exits = _risk_counts(entry, time, event == 1, codes, len(labels))
    results = {}
    for g, label in enumerate(labels):  # loop over groups
        rows = exits[g] > 0
        if rows.any():
            km = km_from_counts(grid[rows], at_risk[g, rows], events[g, rows], exits[g, rows] - events[g, rows],
                                conf_type, conf_level)
            mine = codes == g
            records = int(mine.sum())  # n = patients in the curve (R's "records"), not the first risk set
            values = {f.name: getattr(km, f.name) for f in fields(km)}
            values.update(n=records, n_input=records)
            results[label] = EntryKaplanMeierResult(**values, entry=entry[mine], exit=time[mine])
    if by is None:
        return results["all"]
    return GroupedKaplanMeier(results, time.size, ())


@dataclass(frozen=True)
class EntryLogRankResult:
    """Log-rank test with delayed entry: statistic, df, p and the per-group observed/expected table."""

    statistic: float
    df: int
    pvalue: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row: statistic, df, pvalue (the per-group observed/expected: ``table``)."""
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue}])


def logrank_entry(entry, time, event, group,
                  variance: Literal["hypergeometric", "breslow"] = "hypergeometric") -> EntryLogRankResult:
    """Log-rank test with delayed entry (risk sets entry < t <= exit).

    ``variance="hypergeometric"`` is ``survdiff``'s (equal to it when every entry is 0);
    ``"breslow"`` drops the tie factor (n - d)/(n - 1) and equals the score test of R's
    ``coxph(Surv(entry, time, event) ~ group, ties = "breslow")``, the usual R route for
    delayed entry since ``survdiff`` refuses counting-process data. They differ only with tied events.
    Entry and exit times within R's tolerance of each other are one time (:mod:`il2lib.survival.timefix`).
    """
    if variance not in ("hypergeometric", "breslow"):
        raise ValueError(f"variance must be 'hypergeometric' or 'breslow', got {variance!r}.")
    time = _checks.as_float(time, "time")
    entry, time = aeq_times(time, check_entry(entry, time))
    event = _checks.as_event(event) == 1
    codes, labels, missing = _checks.as_labels(group, "group")
    if missing.any():
        raise SurvivalInputError("group must be complete here.")
    present = np.unique(codes)
    if present.size < 2:
        raise InsufficientDataError(f"The log-rank test needs at least two groups with patients; found {present.size}.")
    codes = np.searchsorted(present, codes)
    g = present.size
    _, n_risk, deaths, _ = _risk_counts(entry, time, event, codes, g)
    n_all, d_all = n_risk.sum(axis=0), deaths.sum(axis=0)
    has = d_all > 0
    n_risk, deaths, n_all, d_all = n_risk[:, has], deaths[:, has], n_all[has], d_all[has]
    share = n_risk / n_all
    observed, expected = deaths.sum(axis=1), (d_all * share).sum(axis=1)
    if variance == "breslow":
        factor = d_all
    else:
        factor = np.where(n_all > 1, d_all * (n_all - d_all) / np.maximum(n_all - 1, 1), 0.0)
    var = np.diag((factor * share).sum(axis=1)) - (factor * share) @ share.T
    diff = (observed - expected)[1:]
    try:
        statistic = float(diff @ np.linalg.solve(var[1:, 1:], diff))
    except np.linalg.LinAlgError:  # zero variance: no test, as in logrank_test
        statistic = np.nan
    table = pd.DataFrame({"group": labels[present], "n": np.bincount(codes, minlength=g), "observed": observed,
                          "expected": expected})
    return EntryLogRankResult(statistic, g - 1, float(chi2_sf(statistic, g - 1)), table)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
