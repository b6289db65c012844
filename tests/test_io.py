"""Reading files: delimiters, encodings, decimal comma, XLSX, Parquet, and files that are not tables."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from conftest import csv_bytes, patient_rows

from il2lib import schema
from il2lib.errors import CohortFileError
from il2lib.validation.read import read_table


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16"])
def test_delimiters_and_encodings(load, sep, encoding):
    frame = patient_rows({"histology": "mucosal – Zürich"}, {"histology": "acral"}) if encoding != "latin-1" \
        else patient_rows({"histology": "Zürich"}, {"histology": "acral"})
    cohort = load(csv_bytes(frame, sep=sep, encoding=encoding))
    assert cohort.report.n_analysed == 2, cohort.report.findings
    assert cohort.data[schema.HISTOLOGY][0] == frame["histology"][0]
    assert cohort.report.mapping[schema.PATIENT_ID] == schema.PATIENT_ID


def test_latin1_is_reported():
    table = read_table(csv_bytes(patient_rows({"histology": "Zürich"}), encoding="latin-1"))
    assert table.encoding == "latin-1" and table.frame["histology"][0] == "Zürich"


def test_decimal_comma_in_semicolon_file(load):
    frame = patient_rows({"baseline_alc": "1,5", "peak_temp_c": "39,4"}, {"baseline_alc": "0,9",
                                                                           "peak_temp_c": "38"})
    cohort = load(csv_bytes(frame, sep=";"))
    assert cohort.data[schema.BASELINE_ALC].tolist() == [1.5, 0.9]
    assert cohort.data[schema.PEAK_TEMP].tolist() == [39.4, 38.0]
    assert any("Decimal commas" in line for line in cohort.report.conversions)


def test_crlf_blank_lines_and_file_rows(load):
    text = csv_bytes(patient_rows(n=3)).decode().replace("\n", "\r\n")
    lines = text.split("\r\n")
    text = "\r\n".join(lines[:2] + [""] + lines[2:])          # a blank line after the first patient
    cohort = load(("\r\n" + text).encode())                    # and one before the header
    assert cohort.report.n_loaded == 3
    assert cohort.data[schema.FILE_ROW].tolist() == [3, 5, 6]


def test_ragged_rows_are_row_errors(load):
    text = csv_bytes(patient_rows(n=3)).decode().splitlines()
    text[2] = text[2] + ",surplus,cells"
    cohort = load(("\n".join(text) + "\n").encode())
    assert cohort.report.n_excluded == 1
    assert cohort.report.row_errors[0].message.startswith("Row 3 has ")
    trailing = "\n".join(text[:2] + [text[3] + ",,"]) + "\n"          # empty surplus fields are harmless
    assert load(trailing.encode()).report.n_analysed == 2


def test_duplicated_and_empty_headers(load):
    frame = patient_rows(n=2)
    frame.insert(1, "dup", ["a", "b"])
    frame.insert(2, "dup ", ["c", "d"])
    frame.insert(3, " ", ["e", "f"])
    cohort = load(frame)
    assert cohort.report.n_analysed == 2
    assert {"dup", "dup (2)", "column_4"} <= set(cohort.data.columns)


def test_xlsx_with_date_cells_and_sheets(load):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "notes"
    sheet = book.create_sheet("patients")
    frame = patient_rows(n=2)
    sheet.append([])                                   # an empty first row: header on sheet row 2
    sheet.append(list(frame.columns))
    for _, row in frame.iterrows():
        cells = list(row)
        cells[list(frame.columns).index("date_il2_start")] = dt.datetime(2016, 1, 10)
        cells[list(frame.columns).index("prior_systemic_lines")] = 0
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    cohort = load(data)                                # first sheet is empty: the next one is used
    assert cohort.report.n_analysed == 2
    assert cohort.data[schema.FILE_ROW].tolist() == [3, 4]
    assert cohort.data[schema.DATE_IL2_START][0] == pd.Timestamp("2016-01-10")
    assert load(data, sheet="patients").report.n_analysed == 2
    with pytest.raises(CohortFileError, match="no sheet named 'other'"):
        load(data, sheet="other")


def test_empty_workbook_is_not_a_table():
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    with pytest.raises(CohortFileError, match="no sheet with a table"):
        read_table(buffer.getvalue())


def test_parquet(load):
    frame = patient_rows(n=2)
    typed = frame.assign(date_il2_start=pd.to_datetime(frame["date_il2_start"]),
                         prior_systemic_lines=frame["prior_systemic_lines"].astype(int))
    buffer = io.BytesIO()
    typed.to_parquet(buffer)
    cohort = load(buffer.getvalue())
    assert cohort.report.n_analysed == 2
    assert cohort.data[schema.LINE_OF_IL2].tolist() == [1, 1]


def test_sources_path_bytes_and_file_like(tmp_path, load):
    data = csv_bytes(patient_rows(n=2))
    path = tmp_path / "cohort.csv"
    path.write_bytes(data)
    named = io.BytesIO(data)
    named.name = "upload.csv"
    for source in (str(path), path, data, named):
        from il2lib import load_cohort
        cohort = load_cohort(source)
        assert cohort.report.n_analysed == 2
    assert load_cohort(named).source_name == "upload.csv"
    import hashlib
    assert load_cohort(path).fingerprint == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("data, match", [
    (b"", "empty"), (b"   \n\n", "empty"), (bytes(range(256)) * 4, "binary"),
    (b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    (b"1,2,3\n4,5,6\n", "no header"), (b"PK\x03\x04garbage", "XLSX"), (b"PAR1garbage", "Parquet"),
])
def test_not_a_table_raises_one_sentence(data, match):
    with pytest.raises(CohortFileError, match=match) as info:
        read_table(data)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_missing_path_raises_cohort_file_error(tmp_path):
    with pytest.raises(CohortFileError):
        read_table(tmp_path / "nope.csv")


def test_hostile_cells_are_just_text(load):
    frame = patient_rows({"histology": "=HYPERLINK(\"x\")"}, {"histology": "<script>alert(1)</script>"},
                         {"baseline_ldh": "inf"}, {"baseline_ldh": "NaN"})
    cohort = load(frame)
    assert cohort.report.n_analysed == 4
    assert cohort.data[schema.HISTOLOGY][1] == "<script>alert(1)</script>"
    assert cohort.data[schema.BASELINE_LDH].isna().tolist() == [True, True, True, True]


def test_many_columns(load):
    frame = patient_rows(n=2)
    wide = pd.concat([frame, pd.DataFrame({f"c{k}": ["x", "y"] for k in range(10_000)})], axis=1)
    cohort = load(wide)
    assert cohort.report.n_analysed == 2 and len(cohort.report.unmapped_columns) == 10_000


def test_large_file_is_vectorised(load):
    n = 20_000
    frame = patient_rows(n=1)
    big = frame.loc[np.zeros(n, dtype=int)].reset_index(drop=True)
    big["patient_id"] = [f"P{k}" for k in range(n)]
    cohort = load(big)
    assert cohort.report.n_analysed == n and not cohort.report.findings


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(load, encoding):
    cohort = load(csv_bytes(patient_rows(n=2), encoding=encoding))
    assert cohort.report.n_analysed == 2 and cohort.report.mapping[schema.DISEASE] == schema.DISEASE
