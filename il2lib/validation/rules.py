"""Validation rules of docs/domain.md section 3 applied to a typed patient table (vectorised masks).

:class:`Collector` gathers findings and, for row errors, the reasons per row; the rule
functions only build boolean masks and message templates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence, Union

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.notes import SHORT_LIMIT, PatientRef, compose, short
from il2lib.validation.recist import CR, PD, PR, bool_parts, bor_codes

Level = Literal["file_error", "row_error", "warning"]
#: A message: plain text, or text and PatientRef pieces when it names patients (il2lib.notes.compose).
Message = Union[str, Sequence[Union[str, PatientRef]]]
_ID_PLACEHOLDERS = re.compile(r"(\{rowid\}|\{pid\})")
_UNITS = {"x10^3/uL": "×10³/µL", "degC": "°C", "U/L": "U/L", "years": "years", "months": "months"}


@dataclass(frozen=True)
class Finding:
    """One problem found while loading a file.

    ``file_row`` is the line number in the file (header = line 1; Excel: the sheet row);
    ``analysis`` names the analyses (comma-separated, e.g. ``"os,pfs"``) the patient is left out
    of when the finding affects those analyses only. A message naming patients keeps the text
    around their ids (``text_parts``) and the ids (``named_ids``): :mod:`il2lib.privacy.pseudonyms`
    rebuilds it with pseudonyms, whatever cut of an id it shows. ``kind`` marks the findings that code
    picks out (:data:`AMBIGUOUS_DATE_ORDER`), None for the others; the message is for people only.
    """

    level: Literal["file_error", "row_error", "warning"]
    message: str
    column: str | None = None
    file_row: int | None = None
    patient_id: str | None = None
    value: str | None = None
    analysis: str | None = None
    text_parts: tuple[str, ...] = ()
    named_ids: tuple[str, ...] = ()
    kind: str | None = None
    suggestion: str | None = None  # RECODE_SUGGESTION: the allowed value ``value`` is probably a typo of
    examples: tuple[str, ...] = ()  # AMBIGUOUS_DATE_ORDER: values as in the file that the order reads differently


#: Finding.kind of a date column whose every date reads day-first and month-first alike: the user picks the order.
AMBIGUOUS_DATE_ORDER = "ambiguous_date_order"
#: Finding.kind of an unrecognised category value with a close allowed value (``suggestion``): a recode to accept.
RECODE_SUGGESTION = "recode_suggestion"


def fmt_value(v) -> str:
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:g}"
    if isinstance(v, (bool, np.bool_)):
        return "Yes" if v else "No"
    return str(v)


class Collector:
    """Accumulates findings; remembers the row-error reasons of each row position."""

    def __init__(self, file_rows: np.ndarray, ids: pd.Series | None, raw: pd.DataFrame, prefix: str = "Row"):
        self.prefix = prefix
        self.file_rows = file_rows
        self.ids = ids
        self.id_codes: np.ndarray | None = None  # see check_duplicates
        self.raw = raw
        self.findings: list[Finding] = []
        self.reasons: dict[int, list[str]] = {}

    @staticmethod
    def _message(message: Message) -> tuple[str, dict]:
        if isinstance(message, str):
            return message, {}
        text, parts, named = compose(*message)
        return text, {"text_parts": parts, "named_ids": named}

    def add(self, level: Level, message: Message, **kw) -> None:
        text, named = self._message(message)
        self.findings.append(Finding(level, text, **kw, **named))

    def label(self, pos: int) -> str:
        """``"Row 12"`` (``"AE row 12"`` in the adverse-event table) for a row position."""
        return f"{self.prefix} {int(self.file_rows[pos])}"

    def _pid(self, pos: int) -> str | None:
        if self.ids is None:
            return None
        return _id_text(self.ids.iat[pos])

    def _pids(self, positions: np.ndarray) -> list:
        """:meth:`_pid` of each position (an object column's values taken by one numpy take)."""
        if self.ids is None:
            return [None] * len(positions)
        if self.ids.dtype == object:
            return [_id_text(v) for v in self.ids.to_numpy()[positions]]
        return [self._pid(pos) for pos in positions]

    def row(self, level: Level, pos: int, message: Message, column: str | None = None, value: str | None = None,
            analysis: str | None = None, **kw) -> None:
        self._add(level, pos, int(self.file_rows[pos]), self._pid(pos), message, column, value, analysis, **kw)

    def _add(self, level: Level, pos: int, file_row: int, pid: str | None, message: Message, column: str | None,
             value: str | None, analysis: str | None, **kw) -> None:
        """:meth:`row` with the row's file row and patient id given."""
        text, named = self._message(message)
        self._append(Finding(level, text, column, file_row, pid, value, analysis, **named, **kw), pos)

    def _append(self, finding: Finding, pos: int) -> None:
        """Keep ``finding`` about the row at ``pos``; a row error is also a reason the row is left out."""
        self.findings.append(finding)
        if finding.level == "row_error":
            self.reasons.setdefault(pos, []).append(finding.message)

    def rows(self, level: Level, mask, template: str, column: str | None = None, analysis: str | None = None,
             raw_column: str | None = None, **series: pd.Series) -> int:
        """One finding per True position of ``mask``; ``template`` may use {row}, {rowid} (the row and its
        patient_id), {pid} (the patient_id), {value} and the names of ``series`` (formatted values)."""
        if hasattr(mask, "fillna"):
            mask = mask.fillna(False)
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(positions):
            return 0
        chunks = _ID_PLACEHOLDERS.split(template)
        cells = self.raw[raw_column].take(positions).to_numpy(dtype=object) if raw_column is not None else None
        pids = self._pids(positions)
        file_rows = self.file_rows[positions].tolist()
        shown = {name: [short(fmt_value(v)) for v in _cells(s, positions)] for name, s in series.items()}
        for k, pos in enumerate(positions):
            value = str(cells[k]).strip() if cells is not None else None
            pid = pids[k]
            fields = {name: values[k] for name, values in shown.items()}
            row = f"{self.prefix} {int(file_rows[k])}"
            if len(chunks) == 1:  # names no patient: the text alone
                self._add(level, pos, int(file_rows[k]), pid, chunks[0].format(row=row, value=short(value), **fields),
                          column, value, analysis)
                continue
            pieces: list = []
            for chunk in chunks:
                if chunk == "{rowid}":
                    pieces += [f"{row} (patient_id=", PatientRef(pid, SHORT_LIMIT), ")"] if pid else [row]
                elif chunk == "{pid}":
                    pieces.append(PatientRef(pid, SHORT_LIMIT) if pid else "")
                else:
                    pieces.append(chunk.format(row=row, value=short(value), **fields))
            self._add(level, pos, int(file_rows[k]), pid, pieces, column, value, analysis)
        return len(positions)


def _id_text(v) -> str | None:
    """A patient id as the text of a finding; None when missing."""
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)


def _cells(s: pd.Series, positions: np.ndarray):
    """``s.iat[pos]`` of each position: a numpy or datetime column's values taken at once."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biufO":
        return s.to_numpy()[positions]
    if s.dtype == "datetime64[ns]":
        return s.take(positions)  # Timestamps, NaT where missing
    return [s.iat[pos] for pos in positions]


def unit_text(spec: schema.ColumnSpec) -> str:
    return _UNITS.get(spec.unit, spec.unit)


def range_text(lo: float, hi: float) -> str:
    return f"{fmt_value(float(lo))}–{fmt_value(float(hi))}"


def check_ranges(c: Collector, t: pd.DataFrame, specs: dict[str, schema.ColumnSpec], raw_names: dict[str, str]):
    """Hard range -> row error; plausible range -> warning (value kept)."""
    for name, spec in specs.items():
        if name not in t.columns or spec.kind not in ("number", "int"):
            continue
        v = t[name].astype("float64", copy=False)
        x = v.to_numpy()
        if name in (schema.DOSES_C1, schema.DOSES_C2):
            c.rows("row_error", x > 15, "{row}: " + name + "={v} exceeds protocol maximum (14, some centres 15).",
                   name, raw_column=raw_names[name], v=v)
            c.rows("row_error", x < 0, "{row}: " + name + "={v} is negative.", name, raw_column=raw_names[name], v=v)
            c.rows("warning", x == 15, "{row}: " + name + "=15 exceeds the usual maximum of 14 doses per cycle "
                   "(some centres allow 15).", name, raw_column=raw_names[name])
            continue
        hard_bad = np.zeros(len(x), dtype=bool)
        if spec.hard is not None:
            lo, hi = spec.hard
            hard_bad = (x < lo) | (x > hi)
            c.rows("row_error", hard_bad, "{row}: " + name + "={v} is outside " + range_text(lo, hi) + ".",
                   name, raw_column=raw_names[name], v=v)
        if spec.plausible is not None:
            lo, hi = spec.plausible
            unit = unit_text(spec)
            advice = "check the unit" if spec.unit in ("x10^3/uL", "degC", "U/L") else "check the value"
            c.rows("warning", ((x < lo) | (x > hi)) & ~hard_bad,
                   "{row}: " + name + " {v} is outside " + range_text(lo, hi) + (f" {unit}" if unit else "")
                   + f"; {advice}.", name, analysis=None, raw_column=raw_names[name], v=v)


def _dates(t: pd.DataFrame, name: str) -> pd.Series:
    return t[name] if name in t.columns else pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")


def _ns(dates: pd.Series) -> np.ndarray:
    """A date column's values (NaT where missing): compared as the Series compare, NaT never before or after."""
    return dates.to_numpy(dtype="datetime64[ns]")


def _flag(t: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(yes, missing)`` of a Yes/No column; all missing when absent."""
    if name in t.columns:
        return bool_parts(t[name])
    return np.zeros(len(t), dtype=bool), np.ones(len(t), dtype=bool)


def _bor(t: pd.DataFrame) -> np.ndarray:
    """The BOR of each row as :func:`il2lib.validation.recist.bor_codes` (each distinct text compared once)."""
    bor = t[schema.BOR] if schema.BOR in t.columns else pd.Series(None, index=t.index, dtype=object)
    return bor_codes(bor)


def _responders(bor: np.ndarray) -> np.ndarray:
    return (bor == CR) | (bor == PR)  # schema.RESPONDERS


def _given(t: pd.DataFrame, name: str) -> np.ndarray:
    return t[name].notna().to_numpy() if name in t.columns else np.zeros(len(t), dtype=bool)


def check_chronology(c: Collector, t: pd.DataFrame) -> None:
    """Negative times, events after death/last follow-up, progression before response; warnings for
    a follow-up after death, an assessment after the last follow-up and an IL-2 start after the cut-off."""
    start = _dates(t, schema.DATE_IL2_START)
    start_ns = _ns(start)
    for name in (schema.DATE_DEATH, schema.DATE_LAST_FOLLOWUP, schema.DATE_PROGRESSION,
                 schema.DATE_FIRST_RESPONSE, schema.DATE_LAST_ASSESSMENT):
        d = _dates(t, name)
        c.rows("row_error", _ns(d) < start_ns, "{row}: " + name + " ({d}) precedes date_il2_start ({s}).", name,
               d=d, s=start)
    death, followup = _dates(t, schema.DATE_DEATH), _dates(t, schema.DATE_LAST_FOLLOWUP)
    death_ns, followup_ns = _ns(death), _ns(followup)
    for name in (schema.DATE_PROGRESSION, schema.DATE_FIRST_RESPONSE):
        d = _ns(_dates(t, name))
        after_death = d > death_ns
        c.rows("row_error", after_death, "{row}: " + name + " after date_death.", name)
        c.rows("row_error", (d > followup_ns) & ~after_death, "{row}: " + name + " after date_last_followup.", name)
    responder = _responders(_bor(t))
    progression, first = _ns(_dates(t, schema.DATE_PROGRESSION)), _ns(_dates(t, schema.DATE_FIRST_RESPONSE))
    progressed, progressed_missing = _flag(t, schema.PROGRESSED)
    c.rows("row_error", responder & (progressed | progressed_missing) & (progression < first),
           "{row}: progression recorded before first response.", schema.DATE_PROGRESSION)
    c.rows("warning", followup_ns > death_ns, "{row}: date_last_followup ({f}) is after date_death ({d}); OS ends at "
           "the date of death.", schema.DATE_LAST_FOLLOWUP, f=followup, d=death)
    assessment = _dates(t, schema.DATE_LAST_ASSESSMENT)
    died, died_missing = _flag(t, schema.DIED)
    c.rows("warning", ~died & ~died_missing & (_ns(assessment) > followup_ns),
           "{row}: date_last_assessment ({a}) is later than date_last_followup ({f}); OS is censored at the last "
           "date known alive ({a}).", schema.DATE_LAST_FOLLOWUP, a=assessment, f=followup)
    cutoff = _dates(t, schema.DATA_CUTOFF)
    c.rows("warning", start_ns > _ns(cutoff), "{row}: date_il2_start ({s}) is after data_cutoff_date ({x}); left out "
           "of OS, PFS and DoR.", schema.DATE_IL2_START, analysis="os,pfs,dor", s=start, x=cutoff)


def check_flags(c: Collector, t: pd.DataFrame) -> None:
    """Flags versus dates (died / date_death, progressed / date_progression, prior PD-1 agent)."""
    died, died_missing = _flag(t, schema.DIED)
    death = np.isnat(_ns(_dates(t, schema.DATE_DEATH)))  # missing dates
    followup = np.isnat(_ns(_dates(t, schema.DATE_LAST_FOLLOWUP)))
    progressed, progressed_missing = _flag(t, schema.PROGRESSED)
    progression = np.isnat(_ns(_dates(t, schema.DATE_PROGRESSION)))
    given_os = _given(t, schema.OS_MONTHS)
    died_no = ~died & ~died_missing
    c.rows("row_error", died_no & ~death, "{row}: date_death given but died=No.", schema.DATE_DEATH)
    c.rows("row_error", ~progressed & ~progressed_missing & ~progression,
           "{row}: date_progression given but progressed=No.", schema.DATE_PROGRESSION)
    no_death = died & death & ~given_os
    c.rows("warning", no_death & progression, "{row}: died=Yes but date_death missing; left out of OS and PFS.",
           schema.DATE_DEATH, analysis="os,pfs")
    c.rows("warning", no_death & ~progression, "{row}: died=Yes but date_death missing; left out of OS.",
           schema.DATE_DEATH, analysis="os")
    c.rows("warning", died_no & followup & ~given_os,
           "{row}: died=No but date_last_followup missing; left out of OS.", schema.DATE_LAST_FOLLOWUP, analysis="os")
    c.rows("warning", died_missing & ~given_os, "{rowid}: 'died' is empty; left out of OS and PFS.", schema.DIED,
           analysis="os,pfs")
    _undated_progression(c, t, progressed, progression)
    if schema.PRIOR_PD1_AGENT in t.columns and schema.PRIOR_PD1 in t.columns:
        agent = t[schema.PRIOR_PD1_AGENT]
        prior, prior_missing = _flag(t, schema.PRIOR_PD1)
        c.rows("warning", ~prior & ~prior_missing & agent.notna().to_numpy(),
               "{row}: prior_pd1_agent '{a}' given but prior_pd1_pdl1=No.", schema.PRIOR_PD1_AGENT, a=agent)


def _given_event(t: pd.DataFrame, time: str, event: str) -> np.ndarray:
    """A given month column with its event flag = yes (a stated event time)."""
    if time not in t.columns or event not in t.columns:
        return np.zeros(len(t), dtype=bool)
    return _given(t, time) & _flag(t, event)[0]


def _undated_progression(c: Collector, t: pd.DataFrame, progressed: np.ndarray, undated_date: np.ndarray) -> None:
    """Progressed (progressed = yes, or bor = PD) at an unknown date (``undated_date``: no date_progression): left
    out of PFS (and DoR), never counted as progression-free; a given pfs_months/dor_months with its event flag = yes
    still times them."""
    bor = _bor(t)
    flagged = progressed
    undated = (flagged | (bor == PD)) & undated_date
    out_pfs = undated & ~_given_event(t, schema.PFS_MONTHS, schema.PFS_EVENT)
    out_dor = undated & _responders(bor) & ~_given_event(t, schema.DOR_MONTHS, schema.DOR_EVENT)
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


def check_responders(c: Collector, t: pd.DataFrame) -> None:
    """Responders without a first-response date: one warning (left out of DoR)."""
    first = _ns(_dates(t, schema.DATE_FIRST_RESPONSE))
    excluded = np.zeros(len(t), dtype=bool)
    excluded[list(c.reasons)] = True
    lacking = _responders(_bor(t)) & np.isnat(first) & ~_given(t, schema.DOR_MONTHS) & ~excluded
    n = int(lacking.sum())
    if n:
        listed: list = []
        for k, pos in enumerate(np.flatnonzero(lacking)[:10]):
            pid = c._pid(pos)
            listed += [", " if k else "", PatientRef(pid, 30) if pid else f"row {int(c.file_rows[pos])}"]
        noun = "responder lacks" if n == 1 else "responders lack"
        c.add("warning", [f"{n:,} {noun} date_first_response; excluded from DoR (", *listed,
                          (", ..." if n > 10 else "") + ")."], column=schema.DATE_FIRST_RESPONSE, analysis="dor")


def check_duplicates(c: Collector, ids: pd.Series, codes: np.ndarray | None = None) -> None:
    """Every copy of a duplicated patient_id is a row error naming all its rows. ``codes`` (optional): an integer
    per row, the same for the same id and -1 where it is missing, to find the repeats without hashing the ids."""
    if codes is None:
        dup = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    else:
        present = codes >= 0
        dup = np.zeros(len(codes), dtype=bool)
        dup[present] = np.bincount(codes[present])[codes[present]] > 1
    if not dup.any():
        return
    positions = np.flatnonzero(dup)
    values = ids.to_numpy()[positions] if ids.dtype == object else [ids.iat[pos] for pos in positions]
    pids = [str(v) for v in values]
    file_rows = c.file_rows[positions].tolist()
    rows_of: dict[str, list[int]] = {}
    for pid, file_row in zip(pids, file_rows):
        rows_of.setdefault(pid, []).append(int(file_row))
    listed = {pid: f"' appears {len(rows)} times (rows {', '.join(map(str, rows))}); the patient file must be one "
                   "row per patient." for pid, rows in rows_of.items()}
    labels = c._pids(positions)  # the row's own id (as every finding names it)
    for pos, pid, file_row, label in zip(positions, pids, file_rows, labels):
        tail = listed[pid]  # the sentence composed as from ["patient_id '", PatientRef(pid, SHORT_LIMIT), tail]
        text = "patient_id '" + short(pid, SHORT_LIMIT) + tail
        c._append(Finding("row_error", text, schema.PATIENT_ID, int(file_row), label, pid, None,
                          ("patient_id '", tail), (pid,)), pos)


#: column -> (threshold on the column median, converter, plain description)
UNIT_RULES = {
    schema.BASELINE_PLATELETS: (2000.0, lambda v: v / 1000.0, "/µL; divided by 1,000 to ×10³/µL"),
    schema.PLATELET_NADIR: (2000.0, lambda v: v / 1000.0, "/µL; divided by 1,000 to ×10³/µL"),
    schema.BASELINE_ALC: (50.0, lambda v: v / 1000.0, "cells/µL; divided by 1,000 to ×10³/µL"),
    schema.PEAK_ALC: (50.0, lambda v: v / 1000.0, "cells/µL; divided by 1,000 to ×10³/µL"),
    schema.PEAK_TEMP: (45.0, lambda v: (v - 32.0) * 5.0 / 9.0, "°F; converted to °C"),
}


def convert_units(c: Collector, t: pd.DataFrame) -> list[str]:
    """Whole-column unit conversions by the median rule; one warning and one line per column."""
    lines = []
    for name, (threshold, convert, text) in UNIT_RULES.items():
        if name not in t.columns or not t[name].notna().any():
            continue
        median = t[name].median(skipna=True)
        if pd.notna(median) and median > threshold:
            t[name] = convert(t[name].astype("float64"))
            line = (f"{name}: column median {fmt_value(float(median))} > {fmt_value(threshold)}, so the whole column "
                    f"was read as {text}.")
            lines.append(line)
            c.add("warning", f"Column {line}", column=name)
    return lines
