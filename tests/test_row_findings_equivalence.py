"""The findings the loader's rules give per row are those of the plain definition: each row's patient id and
shown values read one cell at a time (``.iat``), each finding added by ``Collector.row``. The collector takes the
ids and values of all flagged rows at once; the findings (level, text, row, patient id, column, value, analysis,
named ids, order) and the row-error reasons must not change, on a messy file whose rules flag many rows."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.notes import SHORT_LIMIT, PatientRef, short
from il2lib.validation import rules
from il2lib.validation.mapping import resolve_mapping
from il2lib.validation.patients import _irecist_categories, _row_rules, coerce_columns
from il2lib.validation.read import read_table
from il2lib.validation.rules import _ID_PLACEHOLDERS, Collector, Finding, fmt_value
from support.combined_sample import resampled_file


class PlainCollector(Collector):
    """Every finding by :meth:`row`, its patient id and values read by ``.iat`` at its row."""

    def _plain_pid(self, pos):
        if self.ids is None:
            return None
        v = self.ids.iat[pos]
        return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)

    def row(self, level, pos, message, column=None, value=None, analysis=None, **kw):
        text, named = self._message(message)
        self.findings.append(Finding(level, text, column, int(self.file_rows[pos]), self._plain_pid(pos), value,
                                     analysis, **named, **kw))
        if level == "row_error":
            self.reasons.setdefault(pos, []).append(text)

    def rows(self, level, mask, template, column=None, analysis=None, raw_column=None, **series):
        if hasattr(mask, "fillna"):
            mask = mask.fillna(False)
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        chunks = _ID_PLACEHOLDERS.split(template)
        cells = self.raw[raw_column].take(positions).to_numpy(dtype=object) if raw_column is not None else None
        for k, pos in enumerate(positions):
            value = str(cells[k]).strip() if cells is not None else None
            pid = self._plain_pid(pos)
            fields = {name: short(fmt_value(s.iat[pos])) for name, s in series.items()}
            row = self.label(pos)
            pieces: list = []
            for chunk in chunks:
                if chunk == "{rowid}":
                    pieces += [f"{row} (patient_id=", PatientRef(pid, SHORT_LIMIT), ")"] if pid else [row]
                elif chunk == "{pid}":
                    pieces.append(PatientRef(pid, SHORT_LIMIT) if pid else "")
                else:
                    pieces.append(chunk.format(row=row, value=short(value), **fields))
            self.row(level, pos, pieces, column, value, analysis)
        return len(positions)


def plain_duplicates(c: Collector, ids: pd.Series) -> None:
    """Every copy of a duplicated patient_id: a row error naming all its rows (hashing the ids)."""
    dup = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    rows_of: dict[str, list[int]] = {}
    for pos in np.flatnonzero(dup):
        rows_of.setdefault(str(ids.iat[pos]), []).append(int(c.file_rows[pos]))
    for pos in np.flatnonzero(dup):
        pid = str(ids.iat[pos])
        rows = rows_of[pid]
        c.row("row_error", pos, ["patient_id '", PatientRef(pid, SHORT_LIMIT), f"' appears {len(rows)} times (rows "
                                 f"{', '.join(map(str, rows))}); the patient file must be one row per patient."],
              schema.PATIENT_ID, pid)


def _messy_file(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    frame = resampled_file(n, rng, "P")

    def rows(k: int) -> np.ndarray:
        return rng.choice(n, k, replace=False)

    frame.loc[rows(n // 50), "date_progression"] = rng.choice(["2015-13-45", "31/02/2016", "2099-01-01"], n // 50)
    frame.loc[rows(n // 50), "sex"] = rng.choice(["X", "mle"], n // 50)
    frame.loc[rows(n // 50), "baseline_ldh"] = rng.choice(["high", "12..5", "999999"], n // 50)
    frame.loc[rows(n // 50), "bor"] = rng.choice(["", "iUPD", "nCR"], n // 50)
    frame.loc[rows(n // 50), "patient_id"] = rng.choice(["", "NA", " P000007 ", "P000011", "x" * 120], n // 50)
    frame.loc[rows(n // 50), "date_death"] = ""
    frame.loc[rows(n // 50), "date_death"] = "2001-02-03"  # before IL-2 start, before the last follow-up
    frame.loc[rows(n // 50), "total_doses"] = rng.choice(["16", "-2", "15"], n // 50)
    return frame.to_csv(index=False).encode()


def _rules_of(data: bytes, collector: type) -> Collector:
    raw = read_table(data, compact=True)
    resolved, _ = resolve_mapping(list(raw.frame.columns), {})
    c = collector(raw.file_rows, None, raw.frame)
    conversions: list[str] = []
    typed = coerce_columns(c, raw.frame, resolved, {}, raw.decimal_comma, conversions, None, distinct=raw.distinct)
    _row_rules(c, raw, typed, resolved, conversions)
    _irecist_categories(c, raw.frame, typed, resolved, conversions)
    return c


@pytest.mark.parametrize("n", [400, 3_000])
def test_row_findings_are_those_read_row_by_row(n):
    data = _messy_file(n, seed=n)
    fast, plain = _rules_of(data, Collector), _rules_of(data, PlainCollector)
    assert len(plain.findings) > n // 10  # the rules flag many rows, with and without ids
    assert any(f.patient_id is None and f.file_row for f in plain.findings)
    assert any("(2001-02-03)" in f.message for f in plain.findings)  # a date shown
    assert [dataclasses.astuple(f) for f in fast.findings] == [dataclasses.astuple(f) for f in plain.findings]
    assert list(fast.reasons.items()) == list(plain.reasons.items())


def test_repeated_ids_are_reported_as_by_hashing_them():
    raw = read_table(_messy_file(3_000, seed=5), compact=True)
    resolved, _ = resolve_mapping(list(raw.frame.columns), {})
    typed_by = Collector(raw.file_rows, None, raw.frame)
    typed = coerce_columns(typed_by, raw.frame, resolved, {}, False, [], None, distinct=raw.distinct)
    fast, plain = (Collector(raw.file_rows, typed_by.ids, raw.frame) for _ in range(2))
    rules.check_duplicates(fast, typed[schema.PATIENT_ID], typed_by.id_codes)
    plain_duplicates(plain, typed[schema.PATIENT_ID])
    assert len(plain.findings) > 30
    assert fast.findings == plain.findings
    assert list(fast.reasons.items()) == list(plain.reasons.items())
