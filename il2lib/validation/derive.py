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
from il2lib.validation.recist import (CR, MISSING, PD, PR, SD, ResponseRules, bool_parts, bor_codes, counted_rules,
                                      dates_ns, days_between, rules_of)

_NAT = np.datetime64("NaT", "ns")


def _col(t: pd.DataFrame, name: str, dtype: str) -> pd.Series:
    if name in t.columns:
        return t[name]
    return pd.Series(pd.NA if dtype in ("boolean", "Int64") else np.nan, index=t.index,
                     dtype=dtype if dtype != "date" else "datetime64[ns]")


def _dates(t: pd.DataFrame, name: str) -> np.ndarray:
    """A date column as datetime64[ns] values; NaT where missing or absent."""
    return dates_ns(t[name]) if name in t.columns else np.full(len(t), _NAT)


def _bools(t: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(value, missing)`` of a Yes/No column (all missing when absent)."""
    if name in t.columns:
        return bool_parts(t[name])
    return np.zeros(len(t), dtype=bool), np.ones(len(t), dtype=bool)


def _numbers(t: pd.DataFrame, name: str) -> np.ndarray:
    return t[name].astype("float64").to_numpy() if name in t.columns else np.full(len(t), np.nan)


def _months(end: np.ndarray, start: np.ndarray) -> np.ndarray:
    return days_between(end, start) / schema.DAYS_PER_MONTH


def _where(cond: np.ndarray, values: np.ndarray, other) -> np.ndarray:
    """``values`` where ``cond``, else ``other`` (as ``Series.where``)."""
    return np.where(cond, values, other)


def _time_event(start, event_date, censor_date, given_time, given_event, no_fill=None):
    """Months and event flag (value, missing) from dates; given columns ``(value, missing)`` fill patients the dates
    cannot time (never those in ``no_fill``)."""
    time = _months(_where(np.isnat(event_date), censor_date, event_date), start)
    with np.errstate(invalid="ignore"):
        untimed = ~(time >= 0)
    time[untimed] = np.nan
    event, event_missing = ~np.isnat(event_date), untimed.copy()
    (given, given_missing), (given_flag, given_flag_missing) = given_time, given_event
    fill = untimed & ~given_missing & ~given_flag_missing
    if no_fill is not None:
        fill &= ~no_fill
    time[fill] = given[fill]
    event[fill] = given_flag[fill]
    event_missing[fill] = False
    return time, event, event_missing


def _boolean(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(values & ~missing, missing)


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
    out, notes, _, _ = _derive(t, cb_sd_months, window_days, analysed, copy)
    return out, notes


def _derive(t: pd.DataFrame, cb_sd_months: float, window_days: float, analysed: np.ndarray | None,
            copy: bool) -> tuple[pd.DataFrame, list[str], ResponseRules | None, np.ndarray]:
    """:func:`derive`, the RECIST 1.1 response rules it applied (None without a ``bor`` column) and the recorded BOR
    as :func:`recist.bor_codes`."""
    out = t.copy() if copy else t
    notes: list[str] = []
    lines = _col(t, schema.PRIOR_LINES, "Int64")
    if lines.dtype == "Int64":
        missing = np.asarray(lines.array.isna())
        line = lines.array.to_numpy(dtype="int64", na_value=0) + 1
        out[schema.LINE_OF_IL2] = pd.arrays.IntegerArray(line, missing)
        out[schema.FIRST_LINE] = _boolean(line == 1, missing.copy())
    else:
        out[schema.LINE_OF_IL2] = (lines + 1).astype("Int64")
        out[schema.FIRST_LINE] = (out[schema.LINE_OF_IL2] == 1).astype("boolean")
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    code = bor_codes(bor)
    unknown = code == MISSING

    if schema.SD_DURATION in t.columns or schema.BOR in t.columns:
        sd = _numbers(t, schema.SD_DURATION)
        progressed, progressed_missing = _bools(t, schema.PROGRESSED)
        sd_end = _where(progressed | progressed_missing, _dates(t, schema.DATE_PROGRESSION), _NAT)
        sd_end = _where(np.isnat(sd_end), _dates(t, schema.DATE_LAST_ASSESSMENT), sd_end)
        computed = _months(sd_end, _dates(t, schema.DATE_IL2_START))
        with np.errstate(invalid="ignore"):
            fill = (code == SD) & np.isnan(sd) & ~np.isnan(computed) & (computed >= 0)
        if fill.any():
            notes.append(f"sd_duration_months computed from dates (IL-2 start to progression or last assessment) "
                         f"for {int(fill.sum()):,} SD patient(s) without it.")
        out[schema.SD_DURATION] = _where(fill, computed, sd)
        del sd, sd_end, computed, fill
    # RECIST 1.1 rules (il2lib.validation.recist): confirmed-only where response_confirmed exists, SD minimum 6 weeks
    rules, counted = None, code
    if schema.BOR in t.columns:
        parts, counted = counted_rules(out, "auto", schema.SD_MINIMUM_WEEKS_DEFAULT, window_days, codes=code)
        rules = rules_of(parts)
        out[schema.CLINICAL_BENEFIT] = clinical_benefit(out, cb_sd_months, window_days, counted_codes=counted,
                                                        duration=parts.duration.to_numpy())
        del parts
    else:
        out[schema.CLINICAL_BENEFIT] = clinical_benefit(out, cb_sd_months, window_days)
    responder = (counted == CR) | (counted == PR)
    out[schema.OBJECTIVE_RESPONSE] = _boolean(responder, unknown)
    out[schema.DISEASE_CONTROL] = _boolean(responder | (counted == SD), unknown.copy())
    del counted, responder

    _survival(out, t, code, notes, np.ones(len(t), dtype=bool) if analysed is None else np.asarray(analysed, bool))
    ldh, uln = _col(t, schema.BASELINE_LDH, "float64"), _col(t, schema.LDH_ULN, "float64")
    ratio = (ldh.astype("float64") / uln.astype("float64").where(uln > 0)).astype("float64")
    out[schema.LDH_X_ULN] = ratio
    labels = np.array(list(schema.LDH_CATEGORIES) + [None], dtype=object)  # one str per category, for every row
    level = np.select([ratio <= 1, ratio <= 2, ratio > 2], [0, 1, 2], default=3)
    out[schema.LDH_CATEGORY] = pd.Series(labels[level], index=t.index, dtype=object)
    return out, notes, rules, code


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


def _survival(out: pd.DataFrame, t: pd.DataFrame, bor: np.ndarray, notes: list[str], analysed: np.ndarray) -> None:
    """OS, PFS and DoR times (months) and events, in place on ``out`` (docs/domain.md "Derived fields"); ``bor``
    as :func:`recist.bor_codes`.

    OS ends at death or at the last date known alive (the latest of last follow-up, last
    assessment, progression and first response), capped at the data cut-off. PFS and DoR follow
    the FDA 2018 endpoint guidance's PFS censoring table and RECIST 1.1: an event is the earliest
    of progression and death; otherwise censored at the last dated tumour assessment (last
    assessment or first response) and never at last follow-up; censoring dates are capped at
    the cut-off and an event after the cut-off is censored at min(last assessment, cut-off);
    without a dated assessment a death is an event and anything else is censored at day 0; a
    progression without a date (bor = PD or progressed = yes) leaves the patient out of PFS and DoR,
    never refilled from a given censored time. Columns are datetime64 / float / bool arrays, each read once.
    """
    start = _dates(t, schema.DATE_IL2_START)
    death = _dates(t, schema.DATE_DEATH)
    followup = _dates(t, schema.DATE_LAST_FOLLOWUP)
    progression = _dates(t, schema.DATE_PROGRESSION)
    assessment = _dates(t, schema.DATE_LAST_ASSESSMENT)
    first_response = _dates(t, schema.DATE_FIRST_RESPONSE)
    cutoff = _dates(t, schema.DATA_CUTOFF)
    has_cutoff = ~np.isnat(cutoff)
    died = _bools(t, schema.DIED)
    progressed, progressed_missing = _bools(t, schema.PROGRESSED)
    after_cutoff = start > cutoff  # IL-2 start after the cut-off: no time (warned by the rules)

    # OS: death, else the last date known alive (date_last_followup required, as the rules say)
    death_known = _where(died[0], death, _NAT)
    alive = ~died[0] & ~died[1]  # unknown vital status: no time
    last_alive = np.fmax(np.fmax(np.fmax(followup, assessment), progression), first_response)
    last_alive[np.isnat(followup)] = _NAT
    alive_censor = _where(alive, last_alive, _NAT)
    del last_alive
    # a death after the cut-off is censored at it; censoring dates are capped at it
    late_death = ~np.isnat(death_known) & has_cutoff & (death_known > cutoff)
    os_event_date = _where(late_death, _NAT, death_known)
    os_censor = _where(late_death, cutoff, alive_censor)
    os_censor = _where(~np.isnat(os_censor) & has_cutoff & (os_censor > cutoff), cutoff, os_censor)
    given_os = _numbers(t, schema.OS_MONTHS)
    os_time, os_event, os_missing = _time_event(start, os_event_date, os_censor, (given_os, np.isnan(given_os)), died,
                                                after_cutoff)
    missing_death = died[0] & np.isnat(death)
    os_time[missing_death & np.isnat(os_event_date) & np.isnan(given_os)] = np.nan
    out[schema.OS_MONTHS], out[schema.OS_EVENT] = os_time, _boolean(os_event, os_missing)
    del os_time, os_event, os_missing, os_event_date, os_censor, given_os

    # PFS: earliest of progression and death; otherwise censored at the last dated assessment
    prog_known = _where(progressed | progressed_missing, progression, _NAT)
    event_date = np.fmin(prog_known, death_known)
    last_assessed = np.fmax(assessment, first_response)
    progression_undated = (progressed | (bor == PD)) & np.isnat(progression)
    unknown_event = progression_undated | (missing_death & np.isnat(prog_known))
    del prog_known, progression_undated, missing_death
    late = ~np.isnat(event_date) & has_cutoff & (event_date > cutoff)
    event_date[late] = _NAT  # event after the cut-off: censored at the last assessment before it
    capped = has_cutoff & (last_assessed > cutoff)
    censor = _where(capped, cutoff, last_assessed)  # min(assessment, cut-off)
    no_assessment = np.isnat(event_date) & np.isnat(last_assessed) & ~unknown_event
    censor[no_assessment] = start[no_assessment]  # no dated post-baseline assessment: day 0
    no_time = unknown_event | after_cutoff
    event_date[no_time] = _NAT
    censor[no_time] = _NAT
    given_pfs_event = _bools(t, schema.PFS_EVENT)
    no_fill = after_cutoff | (unknown_event & ~given_pfs_event[0])  # a given censored time is never used
    given_pfs = _numbers(t, schema.PFS_MONTHS)
    pfs_time, pfs_event, pfs_missing = _time_event(start, event_date, censor, (given_pfs, np.isnan(given_pfs)),
                                                   given_pfs_event, no_fill)
    out[schema.PFS_MONTHS], out[schema.PFS_EVENT] = pfs_time, _boolean(pfs_event, pfs_missing)
    del pfs_time, pfs_event, pfs_missing, given_pfs

    # DoR: responders only, from first response; same events and censoring as PFS
    responder = (bor == CR) | (bor == PR)
    given_dor_event = _bools(t, schema.DOR_EVENT)
    given_dor = _numbers(t, schema.DOR_MONTHS)
    dor_time, dor_event, dor_missing = _time_event(first_response, event_date, censor,
                                                   (given_dor, np.isnan(given_dor)), given_dor_event,
                                                   after_cutoff | (unknown_event & ~given_dor_event[0]))
    dor_time[~responder] = np.nan
    out[schema.DOR_MONTHS] = dor_time
    out[schema.DOR_EVENT] = _boolean(dor_event, dor_missing | ~responder)
    del dor_time, dor_event, dor_missing, event_date, censor

    timed = analysed & ~np.isnat(start) & ~after_cutoff
    known = timed & ~unknown_event
    # OS times that end at the cut-off: a death after it, or a last date known alive after it
    beyond = np.isnat(death_known) & ~np.isnat(alive_censor) & has_cutoff & (alive_censor > cutoff)
    n_os = int((timed & (late_death | beyond)).sum())
    n_late = int((late & known).sum())
    n_capped = int((capped & ~late & known).sum())
    if n_os or n_late or n_capped:
        notes.append(Note(
            f"Data cut-off: OS follow-up beyond data_cutoff_date censored at the cut-off ({n_os:,} patient(s)); "
            f"PFS/DoR are never censored at the cut-off alone: {n_late:,} progression(s) or death(s) after the "
            f"cut-off censored at the last assessment on or before it (day 0 without one), {n_capped:,} last "
            "assessment(s) after the cut-off capped at it (FDA 2018 endpoint guidance, PFS censoring table).",
            count=n_os + n_late + n_capped, kind="cutoff_censoring"))
    zero = no_assessment & ~late & timed
    if zero.any():
        named = [str(i) for i in patient_ids(t.loc[zero, [c for c in (schema.PATIENT_ID,) if c in t.columns]])]
        listed = [piece for k, pid in enumerate(named[:10]) for piece in ((", " if k else ""), PatientRef(pid))]
        notes.append(Note.naming(
            [f"PFS: {int(zero.sum()):,} patient(s) without a dated post-baseline tumour assessment (no "
             f"date_last_assessment, date_progression or date_first_response) and no death censored at day 0 "
             f"(FDA 2018 endpoint guidance; never at last follow-up): ", *listed,
             (", ..." if len(named) > 10 else "") + "."], count=int(zero.sum()), patient_ids=named,
            kind="pfs_no_assessment"))
