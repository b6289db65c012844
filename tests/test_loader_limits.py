"""Files built to exhaust memory or time are refused from their declared sizes before their data is read,
or read with work bounded by what they really hold.

Each case is built and loaded in a child process under a 1.5 GiB address-space limit with a 60 s hang guard
(tests/support/bounded_child.py): a regression ends the child (MemoryError, or killed), not the test session. The
tests assert the refusal (its message names the limit and the setting to change) and work counters (rows
and cells the reader went through), never durations.
"""
from __future__ import annotations

import io

import pytest

from il2lib.errors import CohortFileError
from il2lib.validation.read import EXCEL_MAX_COLUMNS, LoaderLimits, _unique_names, read_table
from support import fuzz_inputs as fz
from support.bounded_child import run_bounded


def _source(raw: bytes, name: str):
    buffer = io.BytesIO(raw)
    buffer.name = name
    return buffer


def read_file(builder: str, args: tuple, limits: LoaderLimits | None = None) -> dict:
    """In the child: build a file with ``fuzz_inputs.<builder>(*args)`` and read it; plain data back (the
    refusal, or the table's shape, with the reader's work counters)."""
    try:
        table = read_table(_source(*getattr(fz, builder)(*args)), limits=limits)
    except CohortFileError as exc:
        return {"refused": str(exc), "setting": getattr(exc, "setting", None),
                "rows_read": getattr(exc, "rows_read", None), "cells_read": getattr(exc, "cells_read", None)}
    return {"rows": len(table.frame), "columns": list(table.frame.columns), "file_rows": table.file_rows.tolist(),
            "rows_read": table.rows_read, "cells_read": table.cells_read}


def read_case(case: str) -> dict:
    builder, args = fz.HOSTILE_FILES[case]
    return read_file(builder.__name__, args)


def load_case(case: str) -> dict:
    """In the child: the same file through the whole loader (read, validate, derive)."""
    from il2lib import load_cohort

    builder, args = fz.HOSTILE_FILES[case]
    try:
        cohort = load_cohort(_source(*builder(*args)))
    except CohortFileError as exc:
        return {"refused": str(exc)}
    return {"loaded": cohort.report.n_loaded}


def unique_names_of(header: list[str]) -> list[str]:
    return _unique_names(header)


def _bounded(function, *args, **kwargs):
    outcome = run_bounded(function, *args, **kwargs)
    assert not outcome.hung, "the child did not finish within the hang guard"
    assert outcome.error is None, outcome.error
    return outcome.value


@pytest.mark.parametrize("last_row", [20_000, 1_048_576])
def test_a_forged_sheet_dimension_is_ignored(last_row):
    """The sheet claims columns A:XFD; its rows are read as stored, never padded to 16,384 cells."""
    case = f"forged dimension, {last_row:,} rows"
    result = _bounded(read_case, case)
    frame = fz.valid_frame(3)
    assert result["rows"] == 4 and result["columns"] == list(frame.columns)
    assert result["file_rows"] == [2, 3, 4, last_row]
    assert result["rows_read"] == last_row  # the rows in between are gaps of the sheet, not cells
    assert result["cells_read"] == 4 * len(frame.columns) + 1
    assert _bounded(load_case, case) == {"loaded": 4}


def test_a_sheet_that_unpacks_to_hundreds_of_times_its_size_is_refused_before_reading():
    result = _bounded(read_case, "sheet unpacking to 300 MB")
    assert "IL2_MAX_EXPANSION" in result["refused"] and "100 times" in result["refused"]
    assert result["setting"] == "IL2_MAX_EXPANSION"
    assert result["rows_read"] == 0 and result["cells_read"] == 0


def test_a_workbook_declaring_parts_beyond_the_size_limit_is_refused_before_reading():
    result = _bounded(read_case, "sheet declared 4 GB")
    assert "IL2_MAX_DECODED_MB" in result["refused"] and "1,000 MB" in result["refused"]
    assert result["rows_read"] == 0


@pytest.mark.parametrize("millions", [20, 40])
def test_a_parquet_file_of_millions_of_run_length_encoded_rows_is_refused_from_its_footer(millions):
    result = _bounded(read_case, f"Parquet, {millions} M constant rows")
    assert "IL2_MAX_EXPANSION" in result["refused"] and "100 times" in result["refused"]
    assert result["rows_read"] == 0 and result["cells_read"] == 0
    assert "refused" in _bounded(load_case, f"Parquet, {millions} M constant rows")


def test_a_csv_with_more_columns_than_the_limit_is_refused_before_reading():
    result = _bounded(read_case, "CSV with 20,000 columns")
    assert "20,000 columns" in result["refused"] and f"{EXCEL_MAX_COLUMNS:,} columns" in result["refused"]
    assert result["setting"] == "IL2_MAX_COLUMNS" and result["rows_read"] == 0


def test_a_header_of_thousands_of_repeated_names_loads_with_unique_names():
    result = _bounded(read_case, "header of 8,000 repeated names")
    assert result["columns"] == ["a"] + [f"a ({k})" for k in range(2, 8_001)]
    assert result["rows"] == 1


def test_repeated_names_are_made_unique_in_linear_time():
    """80,000 repeats: a restart from " (2)" for each repeat would take 3.2 billion steps, far past the
    hang guard; one pass finishes."""
    names = _bounded(unique_names_of, ["a"] * 80_000)
    assert names[:3] == ["a", "a (2)", "a (3)"] and names[-1] == "a (80000)" and len(set(names)) == 80_000


def test_repeated_names_keep_the_smallest_free_number():
    assert _unique_names(["a", "a (3)", "A", "a", "", "a", "column_5"]) == \
        ["a", "a (3)", "A (2)", "a (4)", "column_5", "a (5)", "column_5 (2)"]


def test_a_workbook_stops_at_the_cell_limit_while_it_is_read():
    result = _bounded(read_file, "tall_xlsx", (1_000,), LoaderLimits(max_cells=2_000))
    assert "IL2_MAX_CELLS" in result["refused"] and "2,000 cells" in result["refused"]
    columns = len(fz.valid_frame(1).columns)
    assert (result["rows_read"] - 1) * columns <= 2_000 < result["rows_read"] * columns  # not the 1,001 rows


def test_the_cell_limit_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("IL2_MAX_CELLS", "1000")
    result = _bounded(read_file, "tall_xlsx", (1_000,))
    assert "IL2_MAX_CELLS" in result["refused"] and "1,000 cells" in result["refused"]
    monkeypatch.setenv("IL2_MAX_COLUMNS", "5")
    assert "IL2_MAX_COLUMNS" in _bounded(read_case, "header of 8,000 repeated names")["refused"]


def test_limits_from_the_environment_keep_the_default_for_unreadable_values():
    limits = LoaderLimits.from_env({"IL2_MAX_CELLS": "5_000_000", "IL2_MAX_DECODED_MB": "250",
                                    "IL2_MAX_COLUMNS": "lots", "IL2_MAX_EXPANSION": "-3"})
    assert limits == LoaderLimits(max_cells=5_000_000, max_decoded_mb=250.0)
    assert LoaderLimits.from_env({}) == LoaderLimits()


def test_a_csv_over_the_cell_limit_is_refused_from_its_line_count():
    raw = fz.valid_frame(300).to_csv(index=False).encode()
    with pytest.raises(CohortFileError, match="IL2_MAX_CELLS") as info:
        read_table(raw, limits=LoaderLimits(max_cells=1_000))
    assert info.value.rows_read == 0


def test_a_ragged_csv_goes_to_the_tolerant_reader_and_is_counted():
    frame = fz.valid_frame(300)
    lines = frame.to_csv(index=False).splitlines()
    lines[5] += ",surplus"
    table = read_table(("\n".join(lines) + "\n").encode())
    assert len(table.frame) == 300 and table.bad_rows == ((6, f"has {len(frame.columns) + 1} fields but the header "
                                                               f"has {len(frame.columns)}"),)
    assert table.rows_read == 301 and table.cells_read == 301 * len(frame.columns)
