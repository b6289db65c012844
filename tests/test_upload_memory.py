"""Memory of loading an upload: the peak of ``load_cohort`` stays within four times the file size, and the
ways it saves memory (repeated values read as categorical codes, derived columns added in place) give the
same cohort as the plain reading and the copying derivation."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.sample import synthetic_cohort
from il2lib.validation.derive import derive
from il2lib.validation.patients import load_cohort, validate_table
from il2lib.validation.read import read_table

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_upload_memory.py"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS read from Linux's getrusage and /proc")
def test_loading_an_upload_peaks_at_most_four_times_its_size(tmp_path):
    """A fresh child process (the benchmark's, bench/bench_upload_memory.py) loads a 20 MB CSV as the
    dashboard does, from the bytes in memory. Its peak RSS over its RSS before the bytes were read, the
    bytes included (the session holds them), is at most 4x the file size. The child first loads a 1 MB file,
    as a running server has: what a first load pays once (library code paged in, allocator arenas) is not
    what a file costs. The child is a new interpreter, not a fork of this one, whose freed memory would
    hide part of the growth."""
    big, warm = tmp_path / "cohort.csv", tmp_path / "warm.csv"
    synthetic_cohort(72_000, seed=0).to_csv(big, index=False)
    synthetic_cohort(4_000, seed=1).to_csv(warm, index=False)
    out = subprocess.run([sys.executable, str(BENCH), "--child", str(big), "load_cohort", str(warm)],
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] == 72_000 and result["size"] > 19_000_000
    assert (result["peak"] - result["baseline"]) / result["size"] <= 4.0


def _file_with_problems(n: int = 3_000) -> pd.DataFrame:
    """Synthetic patients with row errors, warnings, iRECIST values, a blank row's worth of empty cells,
    unmapped columns (one named like a schema column) and an identifier column."""
    frame = synthetic_cohort(n, seed=3).astype(object)
    rows = np.arange(n)
    frame.loc[rows % 37 == 0, "date_il2_start"] = "2019-02-30"
    frame.loc[rows % 41 == 5, "disease"] = "melanomma"
    frame.loc[rows % 53 == 7, "bor"] = ""
    frame.loc[rows % 59 == 9, "bor"] = "iUPD"
    frame.loc[rows % 67 == 13, "patient_id"] = "SYN-DUPLICATE"
    frame.loc[rows % 71 == 15, "age_at_il2"] = "abc"
    frame.loc[rows % 73 == 17, "doses_c1"] = "17"
    frame["notes"] = np.where(rows % 3 == 0, " x ", np.where(rows % 3 == 1, "NA", ""))
    frame["bor (file)"] = "q"
    frame["MRN"] = rows.astype(str)
    return frame


def _same_cohort(a, b) -> None:
    pd.testing.assert_frame_equal(a.data, b.data, check_exact=True)
    pd.testing.assert_frame_equal(a.excluded, b.excluded, check_exact=True)
    assert a.report == b.report


def test_reading_repeated_values_as_categories_gives_the_same_cohort():
    raw = _file_with_problems().to_csv(index=False).encode()
    compact, plain = read_table(raw, compact=True), read_table(raw)
    kinds = {str(dtype) for dtype in compact.frame.dtypes}
    assert "category" in kinds and "object" in kinds  # patient ids stay strs: nearly all distinct
    assert (plain.frame.dtypes == object).all()
    pd.testing.assert_frame_equal(compact.frame.astype(object), plain.frame)
    cohort = validate_table(compact)
    assert cohort.report.n_excluded > 100 and len(cohort.report.unmapped_columns) == 2
    _same_cohort(cohort, validate_table(plain))
    _same_cohort(load_cohort(io.BytesIO(raw)), validate_table(plain))


def test_reading_a_parquet_upload_as_categories_gives_the_same_cohort():
    buffer = io.BytesIO()
    _file_with_problems().astype(str).to_parquet(buffer, index=False)
    raw = buffer.getvalue()
    compact = read_table(raw, compact=True)
    assert "category" in {str(dtype) for dtype in compact.frame.dtypes}
    _same_cohort(validate_table(compact), validate_table(read_table(raw)))


def test_deriving_in_place_gives_the_columns_a_copy_gives():
    loaded = load_cohort(io.BytesIO(_file_with_problems(1_500).to_csv(index=False).encode()))
    typed = loaded.data[[s.name for s in schema.PATIENT_COLUMNS if s.name in loaded.data.columns]]
    copied, notes = derive(typed)
    in_place, in_place_notes = derive(typed.copy(), copy=False)
    pd.testing.assert_frame_equal(in_place, copied, check_exact=True)
    assert in_place_notes == notes
