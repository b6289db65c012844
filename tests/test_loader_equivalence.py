"""The loader's column-at-a-time reading of a large file gives the same cohort as the plain reading.

``load_cohort`` reads with ``compact=True``: Parquet cells become codes into each column's distinct texts,
batch by batch, and a column whose values mostly differ (an id) is kept as text. ``validate_table`` of
``read_table(...)`` without ``compact`` turns every cell into its text first. Both must give the same
analysed rows, findings (level, text, file row, column, value), excluded rows and conversions.
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest

from il2lib.validation import read
from il2lib.validation.patients import load_cohort, validate_table
from il2lib.validation.read import read_table
from support.combined_sample import resampled_file

N = 5_000


def _messy_rows(n: int = N, seed: int = 7) -> pd.DataFrame:
    """The sample resampled to ``n`` rows with impossible dates, unknown codes, empty required cells, text in
    number columns, duplicated ids and blank rows."""
    rng = np.random.default_rng(seed)
    frame = resampled_file(n, rng, "P")

    def rows(k: int) -> np.ndarray:
        return rng.choice(n, k, replace=False)

    frame.loc[rows(40), "date_progression"] = rng.choice(["2015-13-45", "31/02/2016", "not known", "2099-01-01"], 40)
    frame.loc[rows(40), "sex"] = rng.choice(["X", "unknown sex", "mle", " F "], 40)
    frame.loc[rows(20), "histology"] = "cutaneus"
    frame.loc[rows(20), "disease"] = ""
    frame.loc[rows(40), "baseline_ldh"] = rng.choice(["high", "n/a?", "12..5", " 300 "], 40)
    frame.loc[rows(40), "bor"] = rng.choice(["", "iUPD", "nCR", "pr"], 40)
    frame.loc[rows(40), "age_at_il2"] = ""
    frame.loc[rows(10), "patient_id"] = "P000001"
    frame.loc[rows(15), :] = "  "  # blank rows: not loaded, and their file rows skipped
    return frame


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Number and date columns whose every value converts stored as float64 and date32 (missing = null)."""
    out = frame.copy()
    for name in ("age_at_il2", "ecog", "n_met_sites", "ldh_uln", "peak_temp_c", "total_doses"):
        out[name] = pd.to_numeric(frame[name].str.strip().replace("", None), errors="raise").astype("float64")
    for name in ("date_il2_start", "date_death", "data_cutoff_date"):
        dates = pd.to_datetime(frame[name].str.strip().replace("", None), format="%Y-%m-%d", errors="raise")
        out[name] = pd.Series(dates.dt.date, dtype="date32[pyarrow]")
    return out


def _outcome(cohort) -> tuple:
    findings = [dataclasses.astuple(f) for f in cohort.report.findings]
    return cohort.data, findings, cohort.excluded, cohort.report.conversions, cohort.report.summary()


def _assert_same(fast, plain) -> None:
    data, findings, excluded, conversions, summary = _outcome(fast)
    plain_data, plain_findings, plain_excluded, plain_conversions, plain_summary = _outcome(plain)
    assert summary == plain_summary
    assert findings == plain_findings
    assert conversions == plain_conversions
    pd.testing.assert_frame_equal(data, plain_data, check_exact=True)
    pd.testing.assert_frame_equal(excluded, plain_excluded, check_exact=True)


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    return _messy_rows()


@pytest.mark.parametrize("merge_rows", [read._UNIFY_ROWS, 512], ids=["one merge", "ids kept as text"])
def test_a_text_parquet_file_loads_as_its_cells_read_one_by_one(messy, monkeypatch, merge_rows):
    monkeypatch.setattr(read, "_UNIFY_ROWS", merge_rows)  # 512: codes merged early, the id column turns to text
    data = _parquet(messy)
    fast = load_cohort(io.BytesIO(data))
    assert fast.report.n_loaded == N - 15 and fast.report.row_errors and fast.report.warnings
    _assert_same(fast, validate_table(read_table(data)))


def test_a_csv_file_loads_as_its_cells_read_one_by_one(messy, monkeypatch):
    monkeypatch.setattr(read, "_UNIFY_ROWS", 512)
    data = messy.to_csv(index=False).encode()
    _assert_same(load_cohort(io.BytesIO(data)), validate_table(read_table(data)))


def test_a_typed_parquet_file_loads_as_its_cells_read_one_by_one(messy):
    data = _parquet(_typed(messy.loc[messy["patient_id"].str.strip() != ""]))
    fast = load_cohort(io.BytesIO(data))
    assert fast.report.n_excluded > 0
    _assert_same(fast, validate_table(read_table(data)))


def test_typed_parquet_dates_and_numbers_load_as_the_same_values_written_as_text(messy):
    """The same patients as typed Parquet and as CSV: the same analysed values (dates, numbers, derived times)."""
    clean = messy.loc[messy["patient_id"].str.strip() != ""]
    typed = load_cohort(io.BytesIO(_parquet(_typed(clean))))
    text = load_cohort(io.BytesIO(clean.to_csv(index=False).encode()))
    assert typed.report.summary() == text.report.summary()
    assert [f.message for f in typed.report.findings] == [f.message for f in text.report.findings]
    pd.testing.assert_frame_equal(typed.data.drop(columns="file_row"), text.data.drop(columns="file_row"),
                                  check_exact=True)
