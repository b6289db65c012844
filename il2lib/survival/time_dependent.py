"""Response as a time-dependent covariate: "do responders live longer?" without guarantee-time bias,
keeping every patient (the landmark analysis, :func:`il2lib.survival.landmark`, stays the default view).

Each patient's follow-up is split where the status changes, as R's ``survival::tmerge``: a patient
who responds at month 10 contributes (0, 10] as not (yet) responded and (10, end] as responded, so
the time before a response is never credited to responders. On those counting-process rows:

* the **Mantel-Byar test** is the score test of ``coxph(Surv(tstart, tstop, event) ~ responded,
  ties = "exact")``: at beta = 0 the exact (discrete) partial likelihood gives, at each event time,
  score d1 - d n1 / n and the hypergeometric variance d (n1 / n)(1 - n1 / n)(n - d) / (n - 1), in the
  risk set {tstart < t <= tstop}. Closed form, no iteration. (Efron's and Breslow's scores differ from
  it when events are tied.)
* the **hazard ratio** is the Cox model with Efron ties on the same rows (:mod:`il2lib.survival._coxfit`);
* the **Simon-Makuch curves** are ``survfit(Surv(tstart, tstop, event) ~ responded)``: Kaplan-Meier
  with delayed entry per status. They are a descriptive display; the test is Mantel-Byar.

References
----------
Mantel N, Byar DP (1974). JASA 69:81-86. Simon R, Makuch RW (1984). Stat Med 3:35-44. Anderson JR,
Cain KC, Gelber RD (1983). J Clin Oncol 1:710-719. Therneau TM, Crowson C, Atkinson E, "Using time
dependent covariates and time dependent coefficients in the Cox model" (R survival vignette).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import concat_excluded, excluded_frame
from il2lib.cohort import clinical_benefit
from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.stats import TestResult
from il2lib.stats.distributions import chi2_sf, norm_ppf, norm_sf
from il2lib.survival import _checks
from il2lib.survival._coxfit import newton, risk_sets
from il2lib.survival.km import ConfType, GroupedKaplanMeier, KaplanMeierResult, km_from_counts
from il2lib.survival.logrank import MIN_EVENTS_PER_GROUP_FOR_HR
from il2lib.survival.time_origin import EntryKaplanMeierResult, _risk_counts, kaplan_meier_entry
from il2lib.survival.timefix import aeq_times, remap, tie_map
from il2lib.validation.recist import apply_response_rules, duration_meets, sd_rule_duration

Grouping = Literal["response", "benefit"]
#: (status 0, status 1) labels: the curve of status 0 starts at time 0, that of status 1 when patients reach it.
GROUP_LABELS = {"response": ("Not (yet) responded", "Responded"),
                "benefit": ("No clinical benefit (yet)", "Clinical benefit")}
#: The status-1 curve of the Simon-Makuch display starts once this many patients are at risk in it.
MIN_AT_RISK_DEFAULT = 5
ROW_COLUMNS = ("patient_id", "tstart", "tstop", "event", "responded")
#: What the dashboard writes beside the curves.
DESCRIPTIVE_NOTE = "descriptive display; test: Mantel-Byar"

REASON_UNDATED = "CR/PR without a date of first response"
REASON_NO_BOR = "without best overall response"
REASON_SD_NO_DURATION = "SD without a duration (needed for the clinical-benefit rule)"
REASON_TIME_ZERO = "no follow-up after IL-2 start (time 0)"


# ------------------------------------------------------------------------------------ switch times
def switch_months(df: pd.DataFrame, grouping: Grouping = "response",
                  cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                  sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Months from IL-2 start at which each patient's status switches to 1, and why it is unknown.

    Returns ``(months, reason)``: ``months`` is inf for never and NaN for unknown, ``reason`` the text
    for each NaN ("" elsewhere). On the BOR counted under the RECIST rules
    (:func:`il2lib.validation.recist.apply_response_rules`, as the Response page and the landmark):

    * response: CR/PR at (date_first_response - date_il2_start); CR/PR without that date unknown
      (left out, never guessed); SD/PD/NE never; a missing BOR unknown.
    * benefit: CR/PR at their first response; SD with clinical benefit under the cohort's rule
      (:func:`il2lib.cohort.clinical_benefit`: disease control lasting ``cb_sd_months`` within the
      assessment window ``window_days``) at ``cb_sd_months``, the month it is known to be
      progression-free that long, and never before the RECIST SD minimum (``sd_minimum_weeks``: with a
      0-month threshold any SD counts, from the time SD can be called, not from IL-2 start); a CR/PR whose
      disease control already met that rule switches at the earlier of the two. SD without a duration is
      unknown, and so is a CR/PR without a first-response date (its switch could be earlier).
    """
    if grouping not in GROUP_LABELS:
        raise ValueError(f"grouping must be 'response' or 'benefit', got {grouping!r}.")
    bor = apply_response_rules(df, sd_minimum_weeks=sd_minimum_weeks, window_days=window_days).bor
    start = pd.to_datetime(df.get(schema.DATE_IL2_START), errors="coerce")
    first = pd.to_datetime(df[schema.DATE_FIRST_RESPONSE], errors="coerce") if schema.DATE_FIRST_RESPONSE in df \
        else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    to_response = ((first - start).dt.days / schema.DAYS_PER_MONTH).to_numpy(dtype=float, na_value=np.nan)
    responder = bor.isin(schema.RESPONDERS).to_numpy(dtype=bool)
    known = bor.notna().to_numpy(dtype=bool)
    months = np.where(responder, to_response, np.inf)
    reason = np.where(~known, REASON_NO_BOR, np.where(responder & np.isnan(to_response), REASON_UNDATED, ""))
    if grouping == "benefit":
        benefit = clinical_benefit(df, cb_sd_months, window_days)  # SD: True / False / NA (no duration)
        if cb_sd_months > 0:  # disease control lasting the threshold, the SD part of the rule (responders too)
            lasted = duration_meets(sd_rule_duration(df).to_numpy(), cb_sd_months * schema.DAYS_PER_MONTH,
                                    window_days)
        else:
            lasted = np.ones(len(df), dtype=bool)
        known_at = max(float(cb_sd_months), sd_minimum_weeks * 7 / schema.DAYS_PER_MONTH)
        at_threshold = np.where(lasted, known_at, np.inf)
        months = np.where(responder, np.minimum(months, at_threshold), months)
        is_sd = bor.eq("SD").fillna(False).to_numpy(dtype=bool)
        sd_benefit = benefit.fillna(False).to_numpy(dtype=bool)
        months = np.where(is_sd, np.where(sd_benefit, known_at, np.inf), months)
        reason = np.where(is_sd & benefit.isna().to_numpy(), REASON_SD_NO_DURATION, reason)
    months = np.where(reason != "", np.nan, months)
    return months.astype(float), reason.astype(object)


# ------------------------------------------------------------------------- counting-process rows
def split_rows(time, event, switch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counting-process rows as R's ``tmerge(d, d, id, death = event(time, event), responded = tdc(switch))``.

    Returns ``(patient, tstart, tstop, event, responded)``: ``patient`` indexes the input; a patient
    whose switch s is in (0, time) gets rows (0, s] with status 0 and no event, and (s, time] with
    status 1 and the event; s <= 0 gives one row with status 1; s >= time (a response on or after the
    end of follow-up) or inf one row with status 0. Rows are in input order, each patient's in time order.

    Times are first put on R's ``timefix`` grid of these rows (:mod:`il2lib.survival.timefix`), so a switch
    within the tolerance of 0 or of the end of follow-up is at it: no row of effective length 0 (on which R's
    ``coxph`` and ``survfit`` stop). Without near-equal times nothing changes.
    """
    time = _checks.as_float(time, "time")
    event = _checks.as_event(event)
    switch = _checks.as_float(switch, "switch time")
    if np.isnan(time).any() or np.isnan(event).any() or np.isnan(switch).any():
        raise SurvivalInputError("time, event and switch time must be complete here (NaN: leave the patient out).")
    _checks.check_time(time)
    if (time <= 0).any():
        raise SurvivalInputError(f"{int((time <= 0).sum())} patient(s) have no follow-up (time 0): a (start, stop] "
                                 "row needs stop > start.")
    time, switch = _on_timefix_grid(time, switch)
    split = (switch > 0) & (switch < time)
    n_rows = np.where(split, 2, 1)
    patient = np.repeat(np.arange(time.size), n_rows)
    second = np.zeros(patient.size, dtype=bool)
    second[np.cumsum(n_rows)[split] - 1] = True  # the (s, time] row of a split patient
    first_of_split = np.zeros(patient.size, dtype=bool)
    first_of_split[np.flatnonzero(second) - 1] = True
    s, t = switch[patient], time[patient]
    tstart = np.where(second, s, 0.0)
    tstop = np.where(first_of_split, s, t)
    ev = np.where(first_of_split, 0, event[patient]).astype(np.int64)
    responded = np.where(second | (s <= 0), 1, 0).astype(np.int64)
    return patient, tstart, tstop, ev, responded


def _on_timefix_grid(time: np.ndarray, switch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``time`` and the switches inside (0, time) with R's aeqSurv applied to the start and stop times of the
    rows they make (0, the switches inside, the times)."""
    inside = (switch > 0) & (switch < time)
    moved = tie_map(np.unique(np.concatenate([[0.0], time, switch[inside]])))
    if moved is None:
        return time, switch
    return remap(time, moved), np.where(inside, remap(switch, moved), switch)


@dataclass(frozen=True)
class CountingProcessRows:
    """Per-patient follow-up split at the status change (R's ``tmerge``), with who was left out and why.

    ``rows``: patient_id, tstart, tstop (months from IL-2 start), event (0/1), responded (0/1).
    ``excluded``: patient_id, reason (one row per patient left out). ``n_switched``: patients who change
    status during follow-up; ``n_late_status``: patients whose status came on or after the end of their
    follow-up, which is no switch (their rows stay status 0).
    """

    rows: pd.DataFrame
    excluded: pd.DataFrame
    endpoint: str
    grouping: str
    cb_sd_months: float
    window_days: float
    n_input: int
    n_switched: int
    n_late_status: int
    n_from_start: int = 0  # status 1 from IL-2 start (switch at 0: clinical benefit with a 0-month SD threshold)

    @property
    def n(self) -> int:
        """Patients analysed."""
        return int(self.rows["patient_id"].nunique())

    @property
    def labels(self) -> tuple[str, str]:
        return GROUP_LABELS[self.grouping]

    @property
    def note(self) -> str:
        what = "first response (CR/PR)" if self.grouping == "response" else \
            ("clinical benefit (CR/PR, or SD from the RECIST SD minimum)" if self.cb_sd_months == 0
             else f"clinical benefit (CR/PR, or SD at {self.cb_sd_months:g} months)")
        text = (f"{schema.ENDPOINTS[self.endpoint].label}: {self.n} of {self.n_input} patients; each counts as "
                f"'{self.labels[0]}' until the {what} and as '{self.labels[1]}' from then on "
                f"({self.n_switched} switched"
                + (f"; {self.n_from_start} from IL-2 start" if self.n_from_start else "") + ").")
        if self.n_late_status:
            text += f" {self.n_late_status} reached the status only at or after the end of follow-up: no switch."
        if len(self.excluded):
            counts = self.excluded.groupby("reason", sort=False).size()
            text += " Left out: " + "; ".join(f"{n} {r}" for r, n in counts.items()) + "."
        return text

    def to_frame(self) -> pd.DataFrame:
        """The counting-process rows (a copy)."""
        return self.rows.copy()


def response_rows(df: pd.DataFrame, endpoint: Literal["os", "pfs"] = "os", grouping: Grouping = "response",
                  cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                  sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT) -> CountingProcessRows:
    """The cohort's counting-process rows: follow-up for ``endpoint`` split at the switch (:func:`switch_months`).

    Patients without the endpoint's time or event, with time 0, or whose switch time is unknown
    (:func:`switch_months`) are left out and listed in ``excluded`` with the reason.
    """
    if endpoint not in ("os", "pfs"):
        raise ValueError(f"the time-dependent analysis applies to 'os' and 'pfs', got {endpoint!r}.")
    ep = schema.ENDPOINTS[endpoint]
    months, reason = switch_months(df, grouping, cb_sd_months, window_days, sd_minimum_weeks)
    time = _checks.as_float(df[ep.time], ep.time) if ep.time in df else np.full(len(df), np.nan)
    event = _checks.as_event(df[ep.event].astype("Float64")) if ep.event in df else np.full(len(df), np.nan)
    _checks.check_time(time, ep.time)
    label = ep.label[:1].lower() + ep.label[1:]
    masks = [(np.isnan(time), f"without {label} time"), (np.isnan(event), f"without {label} status"),
             (time == 0, REASON_TIME_ZERO)]
    masks += [(reason == r, r) for r in (REASON_NO_BOR, REASON_UNDATED, REASON_SD_NO_DURATION)]
    taken = np.zeros(len(df), dtype=bool)
    frames = []
    for mask, why in masks:  # each patient once, under the first reason that applies
        new = mask & ~taken
        frames.append(excluded_frame(df, new, why))
        taken |= new
    keep = ~taken
    ids = (df[schema.PATIENT_ID].astype(str) if schema.PATIENT_ID in df else pd.Series(df.index.astype(str),
                                                                                        index=df.index))[keep]
    patient, tstart, tstop, ev, responded = split_rows(time[keep], event[keep], months[keep])
    rows = pd.DataFrame({"patient_id": ids.to_numpy()[patient], "tstart": tstart, "tstop": tstop, "event": ev,
                         "responded": responded})
    t, s = _on_timefix_grid(time[keep], months[keep])  # as split_rows counts a switch
    return CountingProcessRows(rows, concat_excluded(frames), endpoint, grouping, float(cb_sd_months),
                               float(window_days), len(df), int(((s > 0) & (s < t)).sum()),
                               int((np.isfinite(s) & (s >= t)).sum()), int((s <= 0).sum()))


def _row_arrays(tstart, tstop, event, responded, timefix: bool = True):
    tstop = _checks.as_float(tstop, "tstop")
    tstart = _checks.as_float(tstart, "tstart")
    event = _checks.as_event(event)
    x = _checks.as_float(responded, "responded")
    if not (tstart.shape == tstop.shape == event.shape == x.shape):
        raise SurvivalInputError("tstart, tstop, event and responded must have the same length.")
    if np.isnan(tstart).any() or np.isnan(tstop).any() or np.isnan(event).any() or np.isnan(x).any():
        raise SurvivalInputError("tstart, tstop, event and responded must be complete here.")
    _checks.check_time(tstart, "tstart")
    if np.any(tstart >= tstop):
        raise SurvivalInputError(f"tstart must be earlier than tstop; {int(np.sum(tstart >= tstop))} row(s) are not.")
    bad = (x != 0) & (x != 1)
    if bad.any():
        raise SurvivalInputError("responded must be 0/1 or True/False.")
    _checks.require_patients(tstop.size, "time-dependent analysis")
    if timefix:  # R's default: near-equal start and stop times are one time
        tstart, tstop = aeq_times(tstop, tstart)
    return tstart, tstop, event == 1, x


# ------------------------------------------------------------------------------- Mantel-Byar test
@dataclass(frozen=True)
class MantelByarResult:
    """The Mantel-Byar test: score test (exact ties) of the time-dependent status, 1 df.

    ``observed``/``expected``: events while status 1 and their number expected under no effect;
    ``variance``: the hypergeometric (exact-ties) information at beta = 0.
    """

    statistic: float
    pvalue: float
    observed: float
    expected: float
    variance: float
    n_rows: int
    n_events: int
    df: int = 1
    method: str = "Mantel-Byar (score test of coxph(Surv(tstart, tstop, event) ~ responded, ties = 'exact'))"

    def to_frame(self) -> pd.DataFrame:
        """One row: statistic, df, pvalue, observed, expected, variance, n_rows, n_events."""
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue,
                              "observed": self.observed, "expected": self.expected, "variance": self.variance,
                              "n_rows": self.n_rows, "n_events": self.n_events}])


def mantel_byar(tstart, tstop, event, responded, *, timefix: bool = True) -> MantelByarResult:
    """Mantel-Byar test on counting-process rows = R's ``coxph(Surv(tstart, tstop, event) ~ responded,
    ties = "exact")$score``.

    At each distinct event time t with risk set {tstart < t <= tstop} of n rows (n1 with status 1) and
    d events (d1 with status 1): U = sum (d1 - d n1 / n), V = sum d (n1 / n)(1 - n1 / n)(n - d) / (n - 1);
    statistic U^2 / V on 1 df (NaN when V = 0: nobody with status 1 is ever at risk at an event). ``timefix``: as
    R's ``coxph.control(timefix = TRUE)``, near-equal times are one time (:mod:`il2lib.survival.timefix`).
    """
    tstart, tstop, event, x = _row_arrays(tstart, tstop, event, responded, timefix)
    _, n_risk, deaths, _ = _risk_counts(tstart, tstop, event, x.astype(np.int64), 2)
    n, d = n_risk.sum(axis=0), deaths.sum(axis=0)
    has = d > 0
    n, d, n1, d1 = n[has], d[has], n_risk[1, has], deaths[1, has]
    share = n1 / n
    expected = float((d * share).sum())
    variance = float((np.where(n > 1, d * share * (1 - share) * (n - d) / np.maximum(n - 1, 1), 0.0)).sum())
    observed = float(d1.sum())
    statistic = (observed - expected) ** 2 / variance if variance > 0 else float("nan")
    return MantelByarResult(float(statistic), float(chi2_sf(statistic, 1)), observed, expected, variance,
                            int(tstop.size), int(event.sum()))


# ------------------------------------------------------------------------------------ Cox model
@dataclass(frozen=True)
class TimeDependentCoxResult:
    """Cox model of the time-dependent status (Efron ties): hazard ratio of status 1 vs 0, with its tests.

    ``reportable`` follows the project's rule (each status with at least 5 events, and a finite
    coefficient); otherwise ``reason`` says why and ``hr``, its CI and the Wald p are NaN.
    """

    coef: float
    se: float
    hr: float
    hr_lower: float
    hr_upper: float
    z: float
    pvalue: float  # Wald
    loglik: tuple[float, float]  # (null, model)
    lr_test: TestResult
    wald_test: TestResult
    score_test: TestResult  # Efron's score (Mantel-Byar is the exact-ties score: MantelByarResult)
    events_by_status: tuple[int, int]
    n_rows: int
    conf_level: float
    iterations: int
    reportable: bool
    reason: str
    ties: str = "efron"

    def to_frame(self) -> pd.DataFrame:
        """One row: coef, se, hr, hr_lower, hr_upper, z, p (Wald), lr and score statistics and p, reportable, reason."""
        return pd.DataFrame([{"coef": self.coef, "se": self.se, "hr": self.hr, "hr_lower": self.hr_lower,
                              "hr_upper": self.hr_upper, "z": self.z, "p": self.pvalue,
                              "lr_statistic": self.lr_test.statistic, "lr_p": self.lr_test.pvalue,
                              "score_statistic": self.score_test.statistic, "score_p": self.score_test.pvalue,
                              "events_status_0": self.events_by_status[0],
                              "events_status_1": self.events_by_status[1], "n_rows": self.n_rows,
                              "ties": self.ties, "reportable": self.reportable, "reason": self.reason}])


def time_dependent_cox(tstart, tstop, event, responded, conf_level: float = 0.95, *,
                       timefix: bool = True) -> TimeDependentCoxResult:
    """Cox model ``coxph(Surv(tstart, tstop, event) ~ responded)`` with Efron ties, as R.

    Newton-Raphson from 0 to full convergence (:func:`il2lib.survival._coxfit.newton`, which decides a
    diverging coefficient from the iterates, never from where rounding stops the loop). Wald, likelihood-ratio
    and (Efron) score tests on 1 df. ``timefix``: as in :func:`mantel_byar`.
    """
    tstart, tstop, event, x = _row_arrays(tstart, tstop, event, responded, timefix)
    if not event.any():
        raise InsufficientDataError("The Cox model needs at least one event; all patients are censored.")
    if np.ptp(x) == 0:
        raise InsufficientDataError("Nobody changes status, or everybody has it from the start: the Cox model "
                                    "cannot compare the two.")
    rs = risk_sets((x - x.mean())[:, None], tstop, event, np.zeros(x.size, dtype=np.int64), "efron", entry=tstart)
    fit = newton(rs)
    beta = float(fit.beta[0])
    diverging = bool(fit.diverging[0])
    with np.errstate(all="ignore"):
        var = float(1.0 / fit.fit.info[0, 0]) if fit.fit.info[0, 0] > 0 else float("nan")
    se = float(np.sqrt(var))
    z = float(norm_ppf(0.5 + conf_level / 2))
    events = (int(event[x == 0].sum()), int(event[x == 1].sum()))
    reason = ""
    if diverging:
        reason = "not estimable: the coefficient tends to infinity (monotone likelihood)"
    elif min(events) < MIN_EVENTS_PER_GROUP_FOR_HR:
        reason = f"not reported: a status has {min(events)} events (fewer than {MIN_EVENTS_PER_GROUP_FOR_HR})"
    lr = 2 * (fit.fit.loglik - fit.null.loglik)
    score = float(fit.null.score[0] ** 2 / fit.null.info[0, 0])
    wald = float(beta ** 2 / var) if not diverging else float("nan")
    shown = not reason
    nan = float("nan")
    return TimeDependentCoxResult(
        beta, se, float(np.exp(beta)) if shown else nan, float(np.exp(beta - z * se)) if shown else nan,
        float(np.exp(beta + z * se)) if shown else nan, beta / se if not diverging else nan,
        float(2 * norm_sf(abs(beta / se))) if shown else nan, (fit.null.loglik, fit.fit.loglik),
        TestResult("likelihood_ratio", float(chi2_sf(lr, 1)), float(lr), 1),
        TestResult("wald", float(chi2_sf(wald, 1)), wald, 1),
        TestResult("score", float(chi2_sf(score, 1)), score, 1),
        events, int(tstop.size), conf_level, fit.iterations, shown, reason)


# ---------------------------------------------------------------------------- Simon-Makuch curves
@dataclass(frozen=True)
class StatusCurve(EntryKaplanMeierResult):
    """A Simon-Makuch curve: its number at risk at t counts tstart < t <= tstop, and at t = 0 the rows that
    start at 0 (everyone followed from IL-2 start is at risk at 0, as in a Kaplan-Meier risk table)."""

    def at_risk(self, times) -> np.ndarray:
        t = np.atleast_1d(np.asarray(times, dtype=float))
        return super().at_risk(t) + np.where(t == 0, int((self.entry == 0).sum()), 0)


def _as_status_curve(curve: EntryKaplanMeierResult) -> StatusCurve:
    return StatusCurve(**{f.name: getattr(curve, f.name) for f in fields(curve)})


@dataclass(frozen=True)
class SimonMakuchResult(Mapping):
    """Simon-Makuch curves: Kaplan-Meier with delayed entry per time-dependent status. Maps label -> curve.

    ``km``: R's ``survfit(Surv(tstart, tstop, event) ~ responded)`` per status, every row from the
    first exit. The display ``curves`` (this mapping) are the same, except that the status-1 curve starts
    at ``start_time``, the first time after which at least ``min_at_risk`` rows are at risk in it,
    and is estimated from there (R's ``survfit(..., start.time = t0)``, t0 = ``first_time``, the
    first step with that many at risk): before it a handful of early switchers would set the
    whole curve. ``start_time`` is None (and the curve left out) when that never happens.
    ``switches``: per label, the times at which rows end by a change of status, not by censoring
    (R counts them in ``n.censor``). Descriptive only: the test is Mantel-Byar.
    """

    km: GroupedKaplanMeier
    curves: dict
    labels: tuple[str, str]
    min_at_risk: int
    start_time: float | None
    first_time: float | None
    switches: dict = field(default_factory=dict)
    conf_type: str = "log-log"
    conf_level: float = 0.95

    def __getitem__(self, key) -> KaplanMeierResult:
        return self.curves[key]

    def __iter__(self):
        return iter(self.curves)

    def __len__(self) -> int:
        return len(self.curves)

    def starts(self) -> dict:
        """Time each display curve starts at (0 for status 0)."""
        return {label: (0.0 if label == self.labels[0] else self.start_time) for label in self.curves}

    def at_risk_table(self, times) -> pd.DataFrame:
        """Rows at risk per status at each time (:meth:`StatusCurve.at_risk`): time, group, n_risk."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        return pd.concat([pd.DataFrame({"time": t, "group": label, "n_risk": curve.at_risk(t)})
                          for label, curve in self.curves.items()], ignore_index=True)

    def estimates(self) -> pd.DataFrame:
        """The display curves' steps: group, then the Kaplan-Meier table columns."""
        return pd.concat([c.table.assign(group=g) for g, c in self.curves.items()], ignore_index=True)[
            ["group", "time", "n_risk", "n_event", "n_censor", "survival", "std_err", "ci_lower", "ci_upper"]]

    def to_frame(self) -> pd.DataFrame:
        """One row per display curve: group, starts_at, n (rows), n_events, median and CI, settings."""
        frames = [c.to_frame().assign(group=g, starts_at=self.starts()[g]) for g, c in self.curves.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["group", "starts_at"] + [c for c in out.columns if c not in ("group", "starts_at", "n_note")]]


def _restart(curve: EntryKaplanMeierResult, first_row: int, conf_type: ConfType, conf_level: float):
    tab = curve.table.iloc[first_row:]
    km = km_from_counts(tab["time"].to_numpy(), tab["n_risk"].to_numpy(), tab["n_event"].to_numpy(),
                        tab["n_censor"].to_numpy(), conf_type, conf_level)
    values = {f.name: getattr(km, f.name) for f in fields(km)}
    values.update(n=curve.n, n_input=curve.n_input)
    return StatusCurve(**values, entry=curve.entry, exit=curve.exit)


def _first_time_with(entry: np.ndarray, exit: np.ndarray, k: int) -> float | None:
    """The earliest c with at least k rows at risk just after c (tstart <= c < tstop), None if never."""
    points = np.unique(np.concatenate([entry, exit]))
    entered = np.searchsorted(np.sort(entry), points, side="right")  # tstart <= c
    left = np.searchsorted(np.sort(exit), points, side="right")  # tstop <= c
    enough = np.flatnonzero(entered - left >= k)
    return float(points[enough[0]]) if enough.size else None


def simon_makuch(tstart, tstop, event, responded, *, labels: tuple[str, str] = GROUP_LABELS["response"],
                 patient=None, min_at_risk: int = MIN_AT_RISK_DEFAULT, conf_type: ConfType = "log-log",
                 conf_level: float = 0.95, timefix: bool = True) -> SimonMakuchResult:
    """Simon-Makuch estimate: ``survfit(Surv(tstart, tstop, event) ~ responded)`` on counting-process rows.

    ``labels`` name status 0 and 1; ``patient`` (ids per row, optional) tells a change of status from
    a censoring, for the figure's censor ticks. The status-1 display curve starts at ``start_time`` (see
    :class:`SimonMakuchResult`). ``timefix``: as in :func:`mantel_byar`.
    """
    if int(min_at_risk) < 1:
        raise ValueError(f"min_at_risk must be at least 1, got {min_at_risk!r}.")
    tstart, tstop, event, x = _row_arrays(tstart, tstop, event, responded, timefix)
    by = np.where(x == 1, labels[1], labels[0])
    by = pd.Categorical(by, categories=list(labels))
    km = kaplan_meier_entry(tstart, tstop, event, by=by, conf_type=conf_type, conf_level=conf_level, timefix=False)
    curves = {labels[0]: _as_status_curve(km[labels[0]])} if labels[0] in km else {}
    start = first = None
    if labels[1] in km:
        one = km[labels[1]]
        start = _first_time_with(one.entry, one.exit, int(min_at_risk))
        if start is not None:
            row = int(np.searchsorted(one.table["time"].to_numpy(), start, side="right"))
            if row < len(one.table):
                first = float(one.table["time"].iloc[row])
                curves[labels[1]] = _restart(one, row, conf_type, conf_level)
            else:
                start = None
    switches = {}
    if patient is not None:
        ids = np.asarray(patient)
        if ids.shape != tstop.shape:
            raise SurvivalInputError("patient must have one id per row.")
        frame = pd.DataFrame({"id": ids, "tstart": tstart, "tstop": tstop})
        nxt = frame.merge(frame[["id", "tstart"]].rename(columns={"tstart": "tstop"}), on=["id", "tstop"],
                          how="left", indicator=True)["_merge"].eq("both").to_numpy()
        switches = {labels[g]: np.sort(tstop[nxt & (x == g)]) for g in (0, 1)}
    return SimonMakuchResult(km, curves, tuple(labels), int(min_at_risk), start, first, switches, conf_type,
                             conf_level)


# --------------------------------------------------------------------------------- the analysis
@dataclass(frozen=True)
class TimeDependentResponseResult:
    """Survival by response (or clinical benefit) as a time-dependent status: rows, test, hazard ratio, curves.

    ``cox`` is None when the model cannot be fitted (``cox_reason`` says why); ``excluded`` lists the
    patients left out (patient_id, reason).
    """

    rows: CountingProcessRows
    mantel_byar: MantelByarResult
    cox: TimeDependentCoxResult | None
    cox_reason: str
    simon_makuch: SimonMakuchResult

    @property
    def excluded(self) -> pd.DataFrame:
        return self.rows.excluded

    @property
    def note(self) -> str:
        return self.rows.note

    @property
    def labels(self) -> tuple[str, str]:
        return self.rows.labels

    def to_frame(self) -> pd.DataFrame:
        """One row: endpoint, grouping, patients, rows, events, switches, Mantel-Byar chi-square and p, and the
        Cox hazard ratio with its CI and Wald p (NaN when not reportable, with ``hr_reason``)."""
        mb, cox = self.mantel_byar, self.cox
        return pd.DataFrame([{
            "endpoint": self.rows.endpoint, "grouping": self.rows.grouping, "n": self.rows.n,
            "n_input": self.rows.n_input, "n_excluded": len(self.rows.excluded), "n_rows": mb.n_rows,
            "n_events": mb.n_events, "n_switched": self.rows.n_switched,
            "mantel_byar_chisq": mb.statistic, "mantel_byar_p": mb.pvalue,
            "hr": cox.hr if cox else np.nan, "hr_lower": cox.hr_lower if cox else np.nan,
            "hr_upper": cox.hr_upper if cox else np.nan, "hr_p": cox.pvalue if cox else np.nan,
            "hr_reason": cox.reason if cox else self.cox_reason}])


def response_time_dependent(df: pd.DataFrame, endpoint: Literal["os", "pfs"] = "os",
                            grouping: Grouping = "response", *,
                            cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                            window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                            sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                            min_at_risk: int = MIN_AT_RISK_DEFAULT, conf_type: ConfType = "log-log",
                            conf_level: float = 0.95) -> TimeDependentResponseResult:
    """Response (or clinical benefit) as a time-dependent covariate on a cohort (``Cohort.data``).

    :func:`response_rows`, then on its rows :func:`mantel_byar`, :func:`time_dependent_cox` (Efron) and
    :func:`simon_makuch`. Raises :class:`~il2lib.errors.InsufficientDataError` when no patient is left
    or nobody has an event.
    """
    cp = response_rows(df, endpoint, grouping, cb_sd_months, window_days, sd_minimum_weeks)
    r = cp.rows
    _checks.require_patients(len(r), "time-dependent analysis")
    if not r["event"].any():
        raise InsufficientDataError("No event among the patients analysed: nothing to compare.")
    args = (r["tstart"].to_numpy(), r["tstop"].to_numpy(), r["event"].to_numpy(), r["responded"].to_numpy())
    test = mantel_byar(*args, timefix=False)  # the rows are on the timefix grid already (split_rows)
    try:
        cox, why = time_dependent_cox(*args, conf_level=conf_level, timefix=False), ""
    except InsufficientDataError as exc:
        cox, why = None, str(exc)
    curves = simon_makuch(*args, labels=cp.labels, patient=r["patient_id"].to_numpy(), min_at_risk=min_at_risk,
                          conf_type=conf_type, conf_level=conf_level, timefix=False)
    return TimeDependentResponseResult(cp, test, cox, why, curves)
