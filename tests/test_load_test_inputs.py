"""The load test's hostile files are what its report says they are, and its session check compares
with the warm-up census (bench/load_test.py; the load test itself runs with ``make load-test``)."""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import load_test  # noqa: E402


def test_forged_xlsx_declares_the_whole_sheet_but_stores_four_rows():
    data = load_test.hostile_xlsx_forged_dimension()
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:XFD1048576"/>' in sheet
    assert sheet.count(b"<row ") == 4


def test_parquet_bomb_is_small_on_disk_and_long_when_decoded():
    data = load_test.hostile_parquet_rle_bomb(rows=2_000_000)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == 2_000_000
    assert len(data) < 100_000


def test_wide_and_repeated_header_csvs_have_the_stated_columns():
    wide = load_test.hostile_csv_wide().split(b"\n", 1)[0].split(b",")
    repeated = load_test.hostile_csv_repeated_header().split(b"\n", 1)[0].split(b",")
    assert len(wide) == len(set(wide)) == 10_000
    assert len(repeated) == 8_000 and len(set(repeated)) == 1


def test_table1_file_has_three_sources_by_five_ecog_levels_with_rare_levels():
    frame = pd.read_csv(io.BytesIO(load_test.hostile_table1_rare_ecog()))
    table = pd.crosstab(frame["source"], frame["ecog"])
    assert table.shape == (3, 5)
    assert (table[[3, 4]] < 5).any().any()  # an expected count under 5: the exact test


def _census(app_sessions: int, listed: int = 0) -> dict:
    alive = {t: 0 for t in load_test.SESSION_TYPES} | {"AppSession": app_sessions}
    return {"alive_after_reap": alive, "after_reap": {"listed_sessions": listed}}


def test_session_check_accepts_the_warm_up_level_and_flags_more():
    baseline = _census(1)
    assert load_test._leaked(_census(1), baseline) == []
    assert load_test._leaked(_census(2), baseline) == ["AppSession: 2 alive, 1 after warm-up"]
    assert load_test._leaked(_census(0, listed=3), baseline) == ["3 sessions still listed after the TTL"]
    assert load_test._leaked({"error": "no census line"}, baseline)
