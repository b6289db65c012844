"""The rule checks of a typed patient table (ranges, chronology, flags, responders) give the findings of their plain
definitions with pandas Series masks: the checks build numpy masks (dates compared as datetime64, Yes/No flags as
value and missing arrays). Compared on a messy file whose rules flag many rows of every kind."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.notes import PatientRef
from il2lib.validation import rules
from il2lib.validation.mapping import resolve_mapping
from il2lib.validation.patients import coerce_columns
from il2lib.validation.read import read_table
from il2lib.validation.rules import Collector
from support.combined_sample import resampled_file


# The plain definitions: pandas Series masks.
def plain_check_ranges(c: Collector, t: pd.DataFrame, specs: dict[str, schema.ColumnSpec], raw_names: dict[str, str]):
    """Hard range -> row error; plausible range -> warning (value kept)."""
    for name, spec in specs.items():
        if name not in t.columns or spec.kind not in ("number", "int"):
            continue
        v = t[name].astype("float64")
        if name in (schema.DOSES_C1, schema.DOSES_C2):
            c.rows("row_error", v > 15, "{row}: " + name + "={v} exceeds protocol maximum (14, some centres 15).",
                   name, raw_column=raw_names[name], v=v)
            c.rows("row_error", v < 0, "{row}: " + name + "={v} is negative.", name, raw_column=raw_names[name], v=v)
            c.rows("warning", v == 15, "{row}: " + name + "=15 exceeds the usual maximum of 14 doses per cycle "
                   "(some centres allow 15).", name, raw_column=raw_names[name])
            continue
        hard_bad = pd.Series(False, index=t.index)
        if spec.hard is not None:
            lo, hi = spec.hard
            hard_bad = (v < lo) | (v > hi)
            c.rows("row_error", hard_bad, "{row}: " + name + "={v} is outside " + rules.range_text(lo, hi) + ".",
                   name, raw_column=raw_names[name], v=v)
        if spec.plausible is not None:
            lo, hi = spec.plausible
            unit = rules.unit_text(spec)
            advice = "check the unit" if spec.unit in ("x10^3/uL", "degC", "U/L") else "check the value"
            c.rows("warning", ((v < lo) | (v > hi)) & ~hard_bad,
                   "{row}: " + name + " {v} is outside " + rules.range_text(lo, hi) + (f" {unit}" if unit else "")
                   + f"; {advice}.", name, analysis=None, raw_column=raw_names[name], v=v)


def plain_dates(t: pd.DataFrame, name: str) -> pd.Series:
    return t[name] if name in t.columns else pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")


def plain_flag(t: pd.DataFrame, name: str) -> pd.Series:
    return t[name] if name in t.columns else pd.Series(pd.NA, index=t.index, dtype="boolean")


def plain_check_chronology(c: Collector, t: pd.DataFrame) -> None:
    """Negative times, events after death/last follow-up, progression before response; warnings for
    a follow-up after death, an assessment after the last follow-up and an IL-2 start after the cut-off."""
    start = plain_dates(t, schema.DATE_IL2_START)
    for name in (schema.DATE_DEATH, schema.DATE_LAST_FOLLOWUP, schema.DATE_PROGRESSION,
                 schema.DATE_FIRST_RESPONSE, schema.DATE_LAST_ASSESSMENT):
        d = plain_dates(t, name)
        c.rows("row_error", d < start, "{row}: " + name + " ({d}) precedes date_il2_start ({s}).", name, d=d, s=start)
    death, followup = plain_dates(t, schema.DATE_DEATH), plain_dates(t, schema.DATE_LAST_FOLLOWUP)
    for name in (schema.DATE_PROGRESSION, schema.DATE_FIRST_RESPONSE):
        d = plain_dates(t, name)
        after_death = d > death
        c.rows("row_error", after_death, "{row}: " + name + " after date_death.", name)
        c.rows("row_error", (d > followup) & ~after_death, "{row}: " + name + " after date_last_followup.", name)
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    responder = bor.isin(schema.RESPONDERS).fillna(False)
    progression, first = plain_dates(t, schema.DATE_PROGRESSION), plain_dates(t, schema.DATE_FIRST_RESPONSE)
    progressed = plain_flag(t, schema.PROGRESSED)
    c.rows("row_error", responder & (progressed.fillna(True) == True) & (progression < first),  # noqa: E712
           "{row}: progression recorded before first response.", schema.DATE_PROGRESSION)
    c.rows("warning", followup > death, "{row}: date_last_followup ({f}) is after date_death ({d}); OS ends at "
           "the date of death.", schema.DATE_LAST_FOLLOWUP, f=followup, d=death)
    assessment, died = plain_dates(t, schema.DATE_LAST_ASSESSMENT), plain_flag(t, schema.DIED)
    c.rows("warning", (died == False) & (assessment > followup),  # noqa: E712
           "{row}: date_last_assessment ({a}) is later than date_last_followup ({f}); OS is censored at the last "
           "date known alive ({a}).", schema.DATE_LAST_FOLLOWUP, a=assessment, f=followup)
    cutoff = plain_dates(t, schema.DATA_CUTOFF)
    c.rows("warning", start > cutoff, "{row}: date_il2_start ({s}) is after data_cutoff_date ({x}); left out of "
           "OS, PFS and DoR.", schema.DATE_IL2_START, analysis="os,pfs,dor", s=start, x=cutoff)


def plain_check_flags(c: Collector, t: pd.DataFrame) -> None:
    """Flags versus dates (died / date_death, progressed / date_progression, prior PD-1 agent)."""
    died, death = plain_flag(t, schema.DIED), plain_dates(t, schema.DATE_DEATH)
    followup = plain_dates(t, schema.DATE_LAST_FOLLOWUP)
    progressed, progression = plain_flag(t, schema.PROGRESSED), plain_dates(t, schema.DATE_PROGRESSION)
    given_os = t[schema.OS_MONTHS].notna() if schema.OS_MONTHS in t.columns else pd.Series(False, index=t.index)
    c.rows("row_error", (died == False) & death.notna(), "{row}: date_death given but died=No.",  # noqa: E712
           schema.DATE_DEATH)
    c.rows("row_error", (progressed == False) & progression.notna(),  # noqa: E712
           "{row}: date_progression given but progressed=No.", schema.DATE_PROGRESSION)
    no_death = (died == True) & death.isna() & ~given_os  # noqa: E712
    c.rows("warning", no_death & progression.isna(), "{row}: died=Yes but date_death missing; left out of OS and PFS.",
           schema.DATE_DEATH, analysis="os,pfs")
    c.rows("warning", no_death & progression.notna(), "{row}: died=Yes but date_death missing; left out of OS.",
           schema.DATE_DEATH, analysis="os")
    c.rows("warning", (died == False) & followup.isna() & ~given_os,  # noqa: E712
           "{row}: died=No but date_last_followup missing; left out of OS.", schema.DATE_LAST_FOLLOWUP, analysis="os")
    c.rows("warning", died.isna() & ~given_os, "{rowid}: 'died' is empty; left out of OS and PFS.", schema.DIED,
           analysis="os,pfs")
    plain_undated_progression(c, t, progressed, progression)
    if schema.PRIOR_PD1_AGENT in t.columns and schema.PRIOR_PD1 in t.columns:
        agent = t[schema.PRIOR_PD1_AGENT]
        c.rows("warning", (t[schema.PRIOR_PD1] == False) & agent.notna(),  # noqa: E712
               "{row}: prior_pd1_agent '{a}' given but prior_pd1_pdl1=No.", schema.PRIOR_PD1_AGENT, a=agent)


def plain_given_event(t: pd.DataFrame, time: str, event: str) -> pd.Series:
    """A given month column with its event flag = yes (a stated event time)."""
    if time not in t.columns or event not in t.columns:
        return pd.Series(False, index=t.index)
    return (t[time].notna() & (t[event] == True)).fillna(False).astype(bool)  # noqa: E712


def plain_undated_progression(c: Collector, t: pd.DataFrame, progressed: pd.Series, progression: pd.Series) -> None:
    """Progressed (progressed = yes, or bor = PD) at an unknown date: left out of PFS (and DoR), never
    counted as progression-free; a given pfs_months/dor_months with its event flag = yes still times them."""
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    flagged = (progressed == True).fillna(False).astype(bool)  # noqa: E712
    undated = (flagged | bor.eq("PD").fillna(False)) & progression.isna()
    out_pfs = undated & ~plain_given_event(t, schema.PFS_MONTHS, schema.PFS_EVENT)
    out_dor = (undated & bor.isin(schema.RESPONDERS).fillna(False)
               & ~plain_given_event(t, schema.DOR_MONTHS, schema.DOR_EVENT))
    why = {True: "{row}: progressed=Yes but date_progression missing; ",
           False: "{row}: bor=PD but date_progression missing, so the patient progressed at an unknown date; "}
    for by_flag in (True, False):
        rows = undated & (flagged if by_flag else ~flagged)
        c.rows("warning", rows & out_pfs & out_dor, why[by_flag] + "left out of PFS and DoR.", schema.DATE_PROGRESSION,
               analysis="pfs,dor")
        c.rows("warning", rows & out_pfs & ~out_dor, why[by_flag] + "left out of PFS.", schema.DATE_PROGRESSION,
               analysis="pfs")
        c.rows("warning", rows & ~out_pfs & out_dor, why[by_flag] + "left out of DoR.", schema.DATE_PROGRESSION,
               analysis="dor")


def plain_check_responders(c: Collector, t: pd.DataFrame) -> None:
    """Responders without a first-response date: one warning (left out of DoR)."""
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    first = plain_dates(t, schema.DATE_FIRST_RESPONSE)
    given = t[schema.DOR_MONTHS].notna() if schema.DOR_MONTHS in t.columns else pd.Series(False, index=t.index)
    excluded = np.zeros(len(t), dtype=bool)
    excluded[list(c.reasons)] = True
    lacking = bor.isin(schema.RESPONDERS).fillna(False) & first.isna() & ~given & ~excluded
    n = int(lacking.sum())
    if n:
        listed: list = []
        for k, pos in enumerate(np.flatnonzero(lacking.to_numpy())[:10]):
            pid = c._pid(pos)
            listed += [", " if k else "", PatientRef(pid, 30) if pid else f"row {int(c.file_rows[pos])}"]
        noun = "responder lacks" if n == 1 else "responders lack"
        c.add("warning", [f"{n:,} {noun} date_first_response; excluded from DoR (", *listed,
                          (", ..." if n > 10 else "") + ")."], column=schema.DATE_FIRST_RESPONSE, analysis="dor")


def _messy_file(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    frame = resampled_file(n, rng, "P")

    def spoil(column: str, values: list) -> None:
        rows = rng.choice(n, n // 25, replace=False)
        frame.loc[rows, column] = rng.choice(values, len(rows))

    spoil("died", ["", "No", "Yes"])
    spoil("progressed", ["", "No", "Yes"])
    spoil("prior_pd1_pdl1", ["", "No"])
    spoil("bor", ["PD", "CR", "PR", ""])
    for column in ("date_death", "date_progression", "date_last_followup", "date_first_response",
                   "date_last_assessment", "date_il2_start", "data_cutoff_date"):
        spoil(column, ["", "2001-02-03", "2030-01-01", "2016-06-30"])
    spoil("os_months", ["", "12"])
    spoil("pfs_months", ["", "7.5"])
    spoil("pfs_event", ["", "Yes", "No"])
    spoil("dor_months", ["", "3"])
    spoil("dor_event", ["", "Yes"])
    spoil("doses_c1", ["16", "-1", "15", "14"])
    spoil("baseline_platelets", ["5", "9000", "250"])
    spoil("peak_temp_c", ["45", "20", "38.5"])
    spoil("age_at_il2", ["150", "10", "40"])
    spoil("patient_id", ["", "P000003"])
    # responders progressed before their first response, the progressed flag blank
    columns = ["bor", "progressed", "date_il2_start", "date_progression", "date_first_response", "data_cutoff_date"]
    frame.loc[:19, columns] = ["PR", "", "2015-01-01", "2015-03-01", "2015-06-01", "2019-01-01"]
    return frame.to_csv(index=False).encode()


def _typed(n: int, seed: int):
    raw = read_table(_messy_file(n, seed), compact=True)
    resolved, _ = resolve_mapping(list(raw.frame.columns), {})
    typed_by = Collector(raw.file_rows, None, raw.frame)
    typed = coerce_columns(typed_by, raw.frame, resolved, {}, False, [], None, distinct=raw.distinct)
    return raw, resolved, typed, typed_by.ids


@pytest.mark.parametrize("n", [500, 4_000])
def test_rule_checks_find_what_their_plain_definitions_find(n):
    raw, resolved, t, ids = _typed(n, seed=n)
    raw_names = {v: k for k, v in resolved.items()}
    specs = {name: schema.COLUMNS[name] for name in t.columns}
    fast, plain = (Collector(raw.file_rows, ids, raw.frame) for _ in range(2))
    for c in (fast, plain):  # rows already excluded: left out of the responders' count
        rules.check_duplicates(c, t[schema.PATIENT_ID])
    rules.check_ranges(fast, t, specs, raw_names)
    plain_check_ranges(plain, t, specs, raw_names)
    rules.check_chronology(fast, t)
    plain_check_chronology(plain, t)
    rules.check_flags(fast, t)
    plain_check_flags(plain, t)
    rules.check_responders(fast, t)
    plain_check_responders(plain, t)
    assert [dataclasses.astuple(f) for f in fast.findings] == [dataclasses.astuple(f) for f in plain.findings]
    assert list(fast.reasons.items()) == list(plain.reasons.items())
    if n < 1_000:
        return
    messages = {f.message for f in plain.findings}
    for kind in ("date_death given but died=No.", "date_progression given but progressed=No.",
                 "progression recorded before first response.", "'died' is empty",
                 "died=Yes but date_death missing", "died=No but date_last_followup missing",
                 "progressed=Yes but date_progression missing", "bor=PD but date_progression missing, so the patient "
                 "progressed at an unknown date"):
        assert any(kind in m for m in messages), kind  # every rule flags rows
    assert any("exceeds protocol maximum" in f.message for f in plain.findings)
    assert [f.file_row for f in plain.findings if "recorded before first response" in f.message][:20] == list(
        range(2, 22))
    assert any("is after data_cutoff_date" in f.message for f in plain.findings)
    assert any("precedes date_il2_start" in f.message for f in plain.findings)
    assert any("given but prior_pd1_pdl1=No" in f.message for f in plain.findings)
    assert any("responders lack date_first_response" in f.message for f in plain.findings)
