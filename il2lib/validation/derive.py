"""Derived columns of the patient table (docs/domain.md section 3, "Derived fields"); vectorised.

Never trusted from input: line of therapy, response flags, clinical benefit and the OS / PFS /
DoR times and events are recomputed here. Given month columns (``os_months`` + ``died``,
``pfs_months`` + ``pfs_event``, ``dor_months`` + ``dor_event``) are used only for patients whose
dates cannot give the time.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import patient_ids
from il2lib.cohort import clinical_benefit
from il2lib.notes import Note, PatientRef
from il2lib.validation.recist import ResponseRules, apply_response_rules


def _col(t: pd.DataFrame, name: str, dtype: str) -> pd.Series:
    if name in t.columns:
        return t[name]
    return pd.Series(pd.NA if dtype in ("boolean", "Int64") else np.nan, index=t.index,
                     dtype=dtype if dtype != "date" else "datetime64[ns]")


def _months(end: pd.Series, start: pd.Series) -> pd.Series:
    days = (end - start).dt.days.astype("float64")
    return days / schema.DAYS_PER_MONTH


def _true(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def _latest(*dates: pd.Series) -> pd.Series:
    """Row-wise latest date; NaT where every date is missing."""
    return _rowwise(np.fmax, "max", dates)


def _earliest(*dates: pd.Series) -> pd.Series:
    """Row-wise earliest date; NaT where every date is missing."""
    return _rowwise(np.fmin, "min", dates)


def _rowwise(ufunc, method: str, dates: tuple[pd.Series, ...]) -> pd.Series:
    """``concat(dates, axis=1).max(axis=1)`` (or min), two columns at a time rather than a copy of all at
    once (``np.fmax``/``np.fmin`` skip NaT as the skipna reduction does)."""
    if all(d.dtype == "datetime64[ns]" for d in dates):
        values = dates[0].to_numpy()
        for d in dates[1:]:
            values = ufunc(values, d.to_numpy())
        return pd.Series(values, index=dates[0].index)
    return getattr(pd.concat(dates, axis=1), method)(axis=1)


def _censor_at_cutoff(event_date: pd.Series, censor_date: pd.Series, cutoff: pd.Series):
    """OS: a death after the cut-off is censored at it; censoring dates are capped at it."""
    late_event = event_date.notna() & cutoff.notna() & (event_date > cutoff)
    event_date = event_date.where(~late_event)
    censor_date = censor_date.where(~late_event, cutoff)
    capped = censor_date.notna() & cutoff.notna() & (censor_date > cutoff)
    censor_date = censor_date.where(~capped, cutoff)
    return event_date, censor_date, int(late_event.sum() + (capped & ~late_event).sum())


def _time_event(start, event_date, censor_date, given_time, given_event, no_fill=None):
    """Months and event flag from dates; given columns fill patients the dates cannot time
    (never those in ``no_fill``)."""
    time = _months(event_date.fillna(censor_date), start)
    time = time.where(time >= 0)
    event = pd.Series(pd.NA, index=start.index, dtype="boolean")
    event[time.notna().to_numpy()] = event_date.notna()[time.notna()].to_numpy()
    fill = time.isna() & given_time.notna() & given_event.notna()
    if no_fill is not None:
        fill &= ~no_fill
    time = time.where(~fill, given_time.astype("float64"))
    event = event.where(~fill, given_event)
    return time.astype("float64"), event.astype("boolean")


def derive(t: pd.DataFrame, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, *,
           window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
           analysed: np.ndarray | None = None, copy: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Add :data:`schema.DERIVED_COLUMNS` (except ``file_row``) to a typed patient table.

    ``window_days`` is the assessment window W of the clinical-benefit SD rule; ``analysed``
    (bool per row, default all) limits the counts of the censoring notes to the analysed rows.
    ``copy=False`` adds the columns to ``t`` itself (for a caller that owns ``t``; no second copy
    of the table). Returns the frame and notes for the report's ``conversions`` (cut-off censoring,
    SD durations computed from dates).
    """
    out, notes, _ = _derive(t, cb_sd_months, window_days, analysed, copy)
    return out, notes


def _derive(t: pd.DataFrame, cb_sd_months: float, window_days: float, analysed: np.ndarray | None,
            copy: bool) -> tuple[pd.DataFrame, list[str], ResponseRules | None]:
    """:func:`derive`, and the RECIST 1.1 response rules it applied (None without a ``bor`` column)."""
    out = t.copy() if copy else t
    notes: list[str] = []
    lines = _col(t, schema.PRIOR_LINES, "Int64")
    out[schema.LINE_OF_IL2] = (lines + 1).astype("Int64")
    out[schema.FIRST_LINE] = (out[schema.LINE_OF_IL2] == 1).astype("boolean")
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    known = bor.notna()

    start = _col(t, schema.DATE_IL2_START, "date")
    progressed = _col(t, schema.PROGRESSED, "boolean")
    if schema.SD_DURATION in t.columns or schema.BOR in t.columns:
        sd = _col(t, schema.SD_DURATION, "float64").astype("float64")
        sd_end = _col(t, schema.DATE_PROGRESSION, "date").where(_true(progressed) | progressed.isna()).fillna(
            _col(t, schema.DATE_LAST_ASSESSMENT, "date"))
        computed = _months(sd_end, start)
        fill = bor.eq("SD").fillna(False) & sd.isna() & computed.notna() & (computed >= 0)
        if fill.any():
            notes.append(f"sd_duration_months computed from dates (IL-2 start to progression or last assessment) "
                         f"for {int(fill.sum()):,} SD patient(s) without it.")
        out[schema.SD_DURATION] = sd.where(~fill, computed)
        del sd, sd_end, computed, fill
    # RECIST 1.1 rules (il2lib.validation.recist): confirmed-only where response_confirmed exists, SD minimum 6 weeks
    rules = apply_response_rules(out, window_days=window_days) if schema.BOR in t.columns else None
    out[schema.CLINICAL_BENEFIT] = clinical_benefit(out, cb_sd_months, window_days,
                                                    counted=rules.bor if rules is not None else None)
    counted = rules.bor if rules is not None else bor
    out[schema.OBJECTIVE_RESPONSE] = counted.isin(schema.RESPONDERS).astype("boolean").where(known, pd.NA)
    out[schema.DISEASE_CONTROL] = counted.isin(schema.DISEASE_CONTROL_LEVELS).astype("boolean").where(known, pd.NA)

    _survival(out, t, bor, notes, np.ones(len(t), dtype=bool) if analysed is None else np.asarray(analysed, bool))
    ldh, uln = _col(t, schema.BASELINE_LDH, "float64"), _col(t, schema.LDH_ULN, "float64")
    ratio = (ldh.astype("float64") / uln.astype("float64").where(uln > 0)).astype("float64")
    out[schema.LDH_X_ULN] = ratio
    labels = np.array(list(schema.LDH_CATEGORIES) + [None], dtype=object)  # one str per category, for every row
    level = np.select([ratio <= 1, ratio <= 2, ratio > 2], [0, 1, 2], default=3)
    out[schema.LDH_CATEGORY] = pd.Series(labels[level], index=t.index, dtype=object)
    return out, notes, rules


#: How PFS and DoR are censored (shown with PFS/DoR results and in the report's methods).
PFS_DOR_CENSORING = (
    "PFS and DoR end at progression or death; other patients are censored at their last dated tumour assessment, "
    "never at last follow-up or at the data cut-off alone; a progression or death after the cut-off is censored at "
    "the last assessment on or before it; without any post-baseline assessment a death is an event and other "
    "patients are censored at day 0; a progression without a date leaves the patient out (FDA 2018 endpoint "
    "guidance, PFS censoring table; RECIST 1.1).")
#: The two rows of the FDA 2018 PFS censoring table the registry schema cannot apply.
FDA_ROWS_NOT_APPLIED = (
    "Two rows of the FDA table are not applied, as the registry records no new-therapy date and no visit schedule: "
    "censoring at the last assessment before a new anticancer therapy, and after two or more missed assessments.")
#: How OS is censored.
OS_CENSORING = ("OS runs from IL-2 start to death from any cause; patients alive are censored at the last date known "
                "alive (the latest of last follow-up, last assessment, progression and first response), capped at "
                "the data cut-off.")


def _given(t: pd.DataFrame, column: str) -> pd.Series:
    return t[column].notna() if column in t.columns else pd.Series(False, index=t.index)


def _survival(out: pd.DataFrame, t: pd.DataFrame, bor: pd.Series, notes: list[str], analysed: np.ndarray) -> None:
    """OS, PFS and DoR times (months) and events, in place on ``out`` (docs/domain.md "Derived fields").

    OS ends at death or at the last date known alive (the latest of last follow-up, last
    assessment, progression and first response), capped at the data cut-off. PFS and DoR follow
    the FDA 2018 endpoint guidance's PFS censoring table and RECIST 1.1: an event is the earliest
    of progression and death; otherwise censored at the last dated tumour assessment (last
    assessment or first response) and never at last follow-up; censoring dates are capped at
    the cut-off and an event after the cut-off is censored at min(last assessment, cut-off);
    without a dated assessment a death is an event and anything else is censored at day 0; a
    progression without a date (bor = PD or progressed = yes) leaves the patient out of PFS and DoR,
    never refilled from a given censored time. Intermediate columns are dropped once used (``del``): a
    large upload holds the table once, plus as few columns in flight as possible.
    """
    start = _col(t, schema.DATE_IL2_START, "date")
    death = _col(t, schema.DATE_DEATH, "date")
    followup = _col(t, schema.DATE_LAST_FOLLOWUP, "date")
    progression = _col(t, schema.DATE_PROGRESSION, "date")
    assessment = _col(t, schema.DATE_LAST_ASSESSMENT, "date")
    first_response = _col(t, schema.DATE_FIRST_RESPONSE, "date")
    cutoff = _col(t, schema.DATA_CUTOFF, "date")
    died = _col(t, schema.DIED, "boolean")
    progressed = _col(t, schema.PROGRESSED, "boolean")
    after_cutoff = (start > cutoff).fillna(False)  # IL-2 start after the cut-off: no time (warned by the rules)

    # OS: death, else the last date known alive (date_last_followup required, as the rules say)
    death_known = death.where(_true(died))
    alive = died.fillna(True) == False  # noqa: E712 - unknown vital status: no time
    last_alive = _latest(followup, assessment, progression, first_response).where(followup.notna())
    os_censor = last_alive.where(alive)
    os_event_date, os_censor, n_cut = _censor_at_cutoff(death_known, os_censor, cutoff)
    os_time, os_event = _time_event(start, os_event_date, os_censor, _col(t, schema.OS_MONTHS, "float64"), died,
                                    after_cutoff)
    missing_death = _true(died) & death.isna()
    os_time = os_time.where(~(missing_death & os_event_date.isna() & ~_given(t, schema.OS_MONTHS)))
    out[schema.OS_MONTHS], out[schema.OS_EVENT] = os_time, os_event
    del os_time, os_event, os_event_date, os_censor

    # PFS: earliest of progression and death; otherwise censored at the last dated assessment
    prog_known = progression.where(~(progressed.fillna(True) == False))  # noqa: E712
    event_date = _earliest(prog_known, death_known)
    last_assessed = _latest(assessment, first_response)
    progression_undated = (_true(progressed) | bor.eq("PD").fillna(False)) & progression.isna()
    unknown_event = progression_undated | (missing_death & prog_known.isna())
    del prog_known, progression_undated, missing_death
    late = event_date.notna() & cutoff.notna() & (event_date > cutoff)
    event_date = event_date.where(~late)  # event after the cut-off: censored at the last assessment before it
    censor = last_assessed.where(~(cutoff.notna() & (last_assessed > cutoff)), cutoff)  # min(assessment, cut-off)
    no_assessment = event_date.isna() & last_assessed.isna() & ~unknown_event
    censor = censor.where(~no_assessment, start)  # no dated post-baseline assessment: day 0
    no_time = unknown_event | after_cutoff
    event_date, censor = event_date.where(~no_time), censor.where(~no_time)
    given_pfs_event = _col(t, schema.PFS_EVENT, "boolean")
    no_fill = after_cutoff | (unknown_event & ~_true(given_pfs_event))  # a given censored time is never used
    out[schema.PFS_MONTHS], out[schema.PFS_EVENT] = _time_event(
        start, event_date, censor, _col(t, schema.PFS_MONTHS, "float64"), given_pfs_event, no_fill)

    # DoR: responders only, from first response; same events and censoring as PFS
    responder = bor.isin(schema.RESPONDERS).fillna(False)
    given_dor_event = _col(t, schema.DOR_EVENT, "boolean")
    dor_time, dor_event = _time_event(first_response, event_date, censor, _col(t, schema.DOR_MONTHS, "float64"),
                                      given_dor_event, after_cutoff | (unknown_event & ~_true(given_dor_event)))
    out[schema.DOR_MONTHS] = dor_time.where(responder)
    out[schema.DOR_EVENT] = dor_event.where(responder, pd.NA).astype("boolean")
    del dor_time, dor_event, event_date, censor

    timed = analysed & start.notna().to_numpy() & ~after_cutoff.to_numpy()
    known = timed & ~unknown_event.to_numpy()
    n_os = int((timed & _censored_at_cutoff_os(death_known, last_alive.where(alive), cutoff)).sum())
    n_late = int((late.to_numpy() & known).sum())
    n_capped = int(((cutoff.notna() & (last_assessed > cutoff) & ~late).to_numpy() & known).sum())
    if n_os or n_late or n_capped:
        notes.append(Note(
            f"Data cut-off: OS follow-up beyond data_cutoff_date censored at the cut-off ({n_os:,} patient(s)); "
            f"PFS/DoR are never censored at the cut-off alone: {n_late:,} progression(s) or death(s) after the "
            f"cut-off censored at the last assessment on or before it (day 0 without one), {n_capped:,} last "
            "assessment(s) after the cut-off capped at it (FDA 2018 endpoint guidance, PFS censoring table).",
            count=n_os + n_late + n_capped, kind="cutoff_censoring"))
    zero = (no_assessment & ~late).to_numpy() & timed
    if zero.any():
        named = [str(i) for i in patient_ids(t)[zero]]
        listed = [piece for k, pid in enumerate(named[:10]) for piece in ((", " if k else ""), PatientRef(pid))]
        notes.append(Note.naming(
            [f"PFS: {int(zero.sum()):,} patient(s) without a dated post-baseline tumour assessment (no "
             f"date_last_assessment, date_progression or date_first_response) and no death censored at day 0 "
             f"(FDA 2018 endpoint guidance; never at last follow-up): ", *listed,
             (", ..." if len(named) > 10 else "") + "."], count=int(zero.sum()), patient_ids=named,
            kind="pfs_no_assessment"))


def _censored_at_cutoff_os(death_known: pd.Series, censor: pd.Series, cutoff: pd.Series) -> np.ndarray:
    """OS times that end at the cut-off: a death after it, or a last date known alive after it."""
    late = death_known.notna() & cutoff.notna() & (death_known > cutoff)
    beyond = death_known.isna() & censor.notna() & cutoff.notna() & (censor > cutoff)
    return (late | beyond).to_numpy()
