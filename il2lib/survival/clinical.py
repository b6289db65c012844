"""Clinical helpers on top of the survival engine: landmark analysis, reverse-KM follow-up and
survival at fixed times (duration of response: :func:`il2lib.analyses.response.duration_of_response`).

Guarantee-time bias: comparing survival by response (or clinical benefit) measured from treatment
start favours responders, who had to live long enough to respond. :func:`landmark` removes it:
patients are grouped by their status at a landmark L and followed from L.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.survival import _checks
from il2lib.survival.km import ConfType, GroupedKaplanMeier, KaplanMeierResult, kaplan_meier
from il2lib.survival.logrank import LogRankResult, logrank_test
from il2lib.validation.recist import apply_response_rules, duration_meets

Grouping = Literal["response", "benefit"]
DEFAULT_LANDMARK_FLOOR_MONTHS = 6.0
FIXED_TIMES_MONTHS = (12.0, 24.0, 36.0)
#: Excluded-reason label of patients whose status at the landmark is unknown (NaN status time).
UNKNOWN_STATUS = "without status at landmark"
GROUP_LABELS = {"response": ("Responder at landmark", "Non-responder at landmark"),
                "benefit": ("Clinical benefit at landmark", "No clinical benefit at landmark")}


# ----------------------------------------------------------------------------------- landmark
@dataclass(frozen=True)
class LandmarkResult:
    """Landmarked cohort: time restarts at L, groups are the status at L.

    ``time``/``event``/``group`` hold the analysed patients only; ``n_before_landmark`` counts the
    patients excluded because their time was <= L (died or censored by L).
    """

    landmark_months: float
    grouping: str
    time: np.ndarray
    event: np.ndarray
    group: np.ndarray
    n_input: int
    n_before_landmark: int
    excluded: _checks.Excluded
    group_counts: dict
    km: GroupedKaplanMeier | None
    logrank: LogRankResult | None

    @property
    def n(self) -> int:
        return int(self.time.size)

    def to_frame(self) -> pd.DataFrame:
        """One row: landmark_months, grouping, n (analysed), n_input, n_before_landmark (the curves: ``km``, the
        test: ``logrank``)."""
        return pd.DataFrame([{"landmark_months": self.landmark_months, "grouping": self.grouping, "n": self.n,
                              "n_input": self.n_input, "n_before_landmark": self.n_before_landmark}])

    @property
    def note(self) -> str:
        """The sentence the dashboard shows under a landmark analysis."""
        unknown = dict(self.excluded).get(UNKNOWN_STATUS, 0)
        return (f"Landmark at {self.landmark_months:g} months: {self.n} of {self.n_input} patients still followed "
                f"after the landmark are compared by their {self.grouping} status at {self.landmark_months:g} months; "
                f"{self.n_before_landmark} died or were censored by then and are excluded"
                + (f"; {unknown} without a known status at the landmark (CR/PR without a first-response date, SD "
                   "without a duration, or no BOR) are excluded too" if unknown else "")
                + ". Time is measured from the landmark.")


def default_landmark(cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT) -> float:
    """L = max(6 months, the clinical-benefit SD threshold)."""
    return max(DEFAULT_LANDMARK_FLOOR_MONTHS, float(cb_sd_months))


def status_time_months(df: pd.DataFrame, grouping: Grouping = "response",
                       cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                       window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> np.ndarray:
    """Months from IL-2 start at which each patient first has the status (inf = never, NaN = unknown).

    response: CR/PR at (date_first_response - date_il2_start); other BOR never; CR/PR without a
    first-response date, or a missing BOR, unknown.
    benefit: CR/PR as above; SD (measured from IL-2 start) that meets ``cb_sd_months`` with the
    assessment window ``window_days`` (:func:`il2lib.validation.recist.duration_meets`, the clinical-benefit
    rule's comparison) qualifies at ``cb_sd_months``; the earlier of the two applies. SD with unknown
    duration is unknown, and so is CR/PR without a first-response date unless its SD duration
    qualifies.
    """
    # the BOR counted under the RECIST 1.1 rules, as on the Response page (il2lib.validation.recist)
    bor = apply_response_rules(df, window_days=window_days).bor
    start = pd.to_datetime(df.get(schema.DATE_IL2_START), errors="coerce")
    first = pd.to_datetime(df.get(schema.DATE_FIRST_RESPONSE), errors="coerce")
    to_response = ((first - start).dt.days / schema.DAYS_PER_MONTH).to_numpy(dtype=float, na_value=np.nan)
    responder = bor.isin(["CR", "PR"]).to_numpy(dtype=bool)
    known = bor.notna().to_numpy(dtype=bool)
    out = np.where(responder, to_response, np.where(known, np.inf, np.nan))
    if grouping == "benefit":
        sd = pd.to_numeric(df[schema.SD_DURATION], errors="coerce") if schema.SD_DURATION in df.columns \
            else pd.Series(np.nan, index=df.index)
        sd = sd.to_numpy(dtype=float, na_value=np.nan)
        is_sd = bor.eq("SD").fillna(False).to_numpy(dtype=bool)
        meets = duration_meets(sd, cb_sd_months * schema.DAYS_PER_MONTH, window_days)  # NaN: False
        lasted = np.where(meets, cb_sd_months, np.inf)
        if cb_sd_months == 0:
            sd_status = np.zeros(len(df))
        else:
            sd_status = np.where(np.isnan(sd), np.nan, lasted)
        # responders: NaN (no first-response date) stays unknown unless the SD rule already qualifies
        responder_status = np.where(np.isnan(out) & meets, lasted, np.minimum(out, lasted))
        out = np.where(is_sd, sd_status, np.where(responder, responder_status, out))
    return out


def landmark(df: pd.DataFrame, time_col: str = schema.OS_MONTHS, event_col: str = schema.OS_EVENT,
             status_time=None, *, grouping: Grouping = "response", landmark_months: float | None = None,
             cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, conf_type: ConfType = "log-log",
             window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> LandmarkResult:
    """Landmark analysis of survival by response or clinical-benefit status.

    Parameters
    ----------
    df : DataFrame
        One row per patient; times in months from IL-2 start.
    time_col, event_col : str
        Survival time and event (default overall survival).
    status_time : str or array-like, optional
        Months from start at which each patient attains the status (np.inf = never, NaN = unknown
        and excluded). Default: :func:`status_time_months` from BOR, dates and SD duration.
    grouping : {"response", "benefit"}
    landmark_months : float, optional
        L. Default max(6, ``cb_sd_months``). For ``grouping="benefit"`` an L below ``cb_sd_months``
        is refused (ValueError): benefit itself needs that much survival.
    cb_sd_months : float
        The clinical-benefit SD-duration threshold.
    window_days : float
        The assessment window W of that threshold (days; see :func:`status_time_months`).

    Returns
    -------
    LandmarkResult
        Patients with time <= L are excluded and counted; the group is the status at L (a
        first response after L counts as no response); time restarts at L. Includes the Kaplan-Meier
        curves and the log-rank test of the landmarked cohort when both groups have patients.

    Notes
    -----
    Without a landmark (time from IL-2 start) response groups suffer guarantee-time bias. The
    unbiased alternative uses response as a time-dependent covariate (Mantel-Byar).

    References
    ----------
    Anderson JR, Cain KC, Gelber RD (1983). J Clin Oncol 1:710-719. Mantel N, Byar DP (1974).
    """
    if grouping not in GROUP_LABELS:
        raise ValueError(f"grouping must be 'response' or 'benefit', got {grouping!r}.")
    L = default_landmark(cb_sd_months) if landmark_months is None else float(landmark_months)
    if not np.isfinite(L) or L < 0:
        raise ValueError(f"landmark_months must be a finite number >= 0, got {landmark_months!r}.")
    if grouping == "benefit" and L < cb_sd_months:
        raise ValueError(f"A landmark of {L:g} months is shorter than the clinical-benefit threshold "
                         f"({cb_sd_months:g} months of stable disease): benefit cannot be known at the landmark. "
                         f"Choose L >= {cb_sd_months:g}.")
    if status_time is None:
        status = status_time_months(df, grouping, cb_sd_months, window_days)
    else:
        status = _checks.as_float(df[status_time] if isinstance(status_time, str) else status_time, "status_time")
    data = _checks.clean_survival(df[time_col], df[event_col], {UNKNOWN_STATUS: np.isnan(status)},
                                  time_col, event_col)
    status = status if data.keep is None else status[data.keep]
    after = data.time > L
    n_before = int((~after).sum())
    excluded = data.excluded + ((("died or censored by the landmark", n_before),) if n_before else ())
    yes, no = GROUP_LABELS[grouping]
    group = np.where(status[after] <= L, yes, no)
    time, event = data.time[after] - L, data.event[after]
    counts = {label: int((group == label).sum()) for label in (yes, no)}
    km = kaplan_meier(time, event, conf_type=conf_type, by=group) if time.size else None
    test = logrank_test(time, event, group) if min(counts.values()) > 0 else None
    return LandmarkResult(L, grouping, time, event, group, data.n_input, n_before, excluded, counts, km, test)


# ------------------------------------------------------------------------ follow-up, fixed times
@dataclass(frozen=True)
class FollowUpResult:
    """Median follow-up by reverse Kaplan-Meier (censoring as the event), with its CI."""

    median: float
    median_ci: tuple[float, float]
    n: int
    km: KaplanMeierResult

    def to_frame(self) -> pd.DataFrame:
        """One row: n, median, median_lower, median_upper (months)."""
        return pd.DataFrame([{"n": self.n, "median": self.median, "median_lower": self.median_ci[0],
                              "median_upper": self.median_ci[1]}])


def median_followup(time, event, conf_level: float = 0.95, conf_type: ConfType = "log-log") -> FollowUpResult:
    """Median potential follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    Use overall-survival time and death, whatever endpoint is shown: deaths are censorings of
    follow-up, and patients alive at last contact end their follow-up. Missing rows are excluded
    and counted on ``km.excluded``.
    """
    ev = _checks.as_event(event)
    km = kaplan_meier(time, np.where(np.isnan(ev), np.nan, 1.0 - ev), conf_level, conf_type)
    return FollowUpResult(km.median, km.median_ci, km.n, km)


def survival_at_times(time, event, times=FIXED_TIMES_MONTHS, conf_level: float = 0.95,
                      conf_type: ConfType = "log-log", by=None) -> pd.DataFrame:
    """S(t) with CI and number at risk at fixed times (default 12, 24, 36 months), per group if ``by``.

    NaN beyond the last observed time (the estimate is undefined there).
    """
    res = kaplan_meier(time, event, conf_level, conf_type, by=by)
    if by is None:
        return res.survival_at(times)
    return pd.concat([r.survival_at(times).assign(group=g) for g, r in res.items()], ignore_index=True)

