"""Derived columns of the patient table (domain.md section 3, "Derived fields"); vectorised.

Never trusted from input: line of therapy, response flags, clinical benefit and the OS / PFS /
DoR times and events are recomputed here. Given month columns (``os_months`` + ``died``,
``pfs_months`` + ``pfs_event``, ``dor_months`` + ``dor_event``) are used only for patients whose
dates cannot give the time.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.cohort import with_clinical_benefit


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


def _censor_at_cutoff(event_date: pd.Series, censor_date: pd.Series, cutoff: pd.Series):
    """Events after the cut-off become censored at it; censoring dates are capped at it."""
    late_event = event_date.notna() & cutoff.notna() & (event_date > cutoff)
    event_date = event_date.where(~late_event)
    censor_date = censor_date.where(~late_event, cutoff)
    capped = censor_date.notna() & cutoff.notna() & (censor_date > cutoff)
    censor_date = censor_date.where(~capped, cutoff)
    return event_date, censor_date, int(late_event.sum() + (capped & ~late_event).sum())


def _time_event(start, event_date, censor_date, given_time, given_event):
    """Months and event flag from dates; given columns fill patients the dates cannot time."""
    end = event_date.fillna(censor_date)
    time = _months(end, start)
    time = time.where(time >= 0)
    event = pd.Series(pd.NA, index=start.index, dtype="boolean")
    event[time.notna().to_numpy()] = event_date.notna()[time.notna()].to_numpy()
    fill = time.isna() & given_time.notna() & given_event.notna()
    time = time.where(~fill, given_time.astype("float64"))
    event = event.where(~fill, given_event)
    return time.astype("float64"), event.astype("boolean")


def derive(t: pd.DataFrame, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT) -> tuple[pd.DataFrame, list[str]]:
    """Add :data:`schema.DERIVED_COLUMNS` (except ``file_row``) to a typed patient table.

    Returns the new frame and notes for the report's ``conversions`` (cut-off censoring,
    SD durations computed from dates).
    """
    out = t.copy()
    notes: list[str] = []
    lines = _col(t, schema.PRIOR_LINES, "Int64")
    out[schema.LINE_OF_IL2] = (lines + 1).astype("Int64")
    out[schema.FIRST_LINE] = (out[schema.LINE_OF_IL2] == 1).astype("boolean")
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    known = bor.notna()
    out[schema.OBJECTIVE_RESPONSE] = bor.isin(["CR", "PR"]).astype("boolean").where(known, pd.NA)
    out[schema.DISEASE_CONTROL] = bor.isin(["CR", "PR", "SD"]).astype("boolean").where(known, pd.NA)

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
                         f"for {int(fill.sum())} SD patient(s) without it.")
        out[schema.SD_DURATION] = sd.where(~fill, computed)
    out = with_clinical_benefit(out, cb_sd_months)

    _survival(out, t, bor, notes)
    ldh, uln = _col(t, schema.BASELINE_LDH, "float64"), _col(t, schema.LDH_ULN, "float64")
    ratio = (ldh.astype("float64") / uln.astype("float64").where(uln > 0)).astype("float64")
    out[schema.LDH_X_ULN] = ratio
    category = np.select([ratio <= 1, ratio <= 2, ratio > 2], list(schema.LDH_CATEGORIES), default="")
    out[schema.LDH_CATEGORY] = pd.Series(category, index=t.index, dtype=object).replace("", None)
    return out, notes


def _given(t: pd.DataFrame, column: str) -> pd.Series:
    return t[column].notna() if column in t.columns else pd.Series(False, index=t.index)


def _survival(out: pd.DataFrame, t: pd.DataFrame, bor: pd.Series, notes: list[str]) -> None:
    """OS, PFS and DoR times (months) and events, in place on ``out``."""
    start = _col(t, schema.DATE_IL2_START, "date")
    death = _col(t, schema.DATE_DEATH, "date")
    followup = _col(t, schema.DATE_LAST_FOLLOWUP, "date")
    progression = _col(t, schema.DATE_PROGRESSION, "date")
    assessment = _col(t, schema.DATE_LAST_ASSESSMENT, "date")
    first_response = _col(t, schema.DATE_FIRST_RESPONSE, "date")
    cutoff = _col(t, schema.DATA_CUTOFF, "date")
    died = _col(t, schema.DIED, "boolean")
    progressed = _col(t, schema.PROGRESSED, "boolean")

    # OS: death or last follow-up; event = died
    death_known = death.where(_true(died))
    os_censor = followup.where(died.fillna(True) == False)  # noqa: E712 - unknown vital status: no time
    os_event_date, os_censor, n_cut = _censor_at_cutoff(death_known, os_censor, cutoff)
    os_time, os_event = _time_event(start, os_event_date, os_censor, _col(t, schema.OS_MONTHS, "float64"), died)
    missing_death = _true(died) & death.isna()
    os_time = os_time.where(~(missing_death & os_event_date.isna() & ~_given(t, schema.OS_MONTHS)))
    out[schema.OS_MONTHS], out[schema.OS_EVENT] = os_time, os_event

    # PFS: earliest of progression and death; otherwise censored at last assessment (or follow-up)
    prog_known = progression.where(~(progressed.fillna(True) == False))  # noqa: E712
    pfs_event_date = pd.concat([prog_known, death_known], axis=1).min(axis=1)
    pfs_censor = assessment.fillna(followup)
    unknown_event = (_true(progressed) & progression.isna()) | (missing_death & prog_known.isna())
    pfs_event_date, pfs_censor, n_cut_pfs = _censor_at_cutoff(pfs_event_date, pfs_censor, cutoff)
    pfs_event_date = pfs_event_date.where(~unknown_event)  # progressed at an unknown date: no PFS time
    pfs_censor = pfs_censor.where(~unknown_event)
    out[schema.PFS_MONTHS], out[schema.PFS_EVENT] = _time_event(
        start, pfs_event_date, pfs_censor, _col(t, schema.PFS_MONTHS, "float64"),
        _col(t, schema.PFS_EVENT, "boolean"))

    # DoR: responders only, from first response to the earliest of progression and death
    responder = bor.isin(["CR", "PR"]).fillna(False)
    dor_event_date, dor_censor, _ = _censor_at_cutoff(pfs_event_date, pfs_censor, cutoff)
    dor_time, dor_event = _time_event(first_response, dor_event_date, dor_censor,
                                      _col(t, schema.DOR_MONTHS, "float64"), _col(t, schema.DOR_EVENT, "boolean"))
    out[schema.DOR_MONTHS] = dor_time.where(responder)
    out[schema.DOR_EVENT] = dor_event.where(responder, pd.NA).astype("boolean")
    if n_cut or n_cut_pfs:
        notes.append(f"Follow-up beyond data_cutoff_date censored at the cut-off ({n_cut} patient(s) for OS, "
                     f"{n_cut_pfs} for PFS).")

