"""Typing a column through the reader's codes gives what typing its cells one by one gives.

The loader converts each distinct cell once and expands the result by code: the codes of a categorical
column (or the reader's codes of an id column) are used as they are when they are already in order of first
appearance, text columns are stripped only where a cell has padding, and the expansion takes values and
missing masks with numpy. Each of these is compared with the plain definition (``pd.factorize``,
``Series.take``, ``str.strip``), and a whole messy file with padded and missing ids with its plain reading.
"""
from __future__ import annotations

import dataclasses
import io
import random

import numpy as np
import pandas as pd
import pytest

from il2lib.validation import coerce
from il2lib.validation.patients import _distinct, _expand, load_cohort, validate_table
from il2lib.validation.read import read_table
from support.combined_sample import resampled_file

N = 20_000


def _factorized(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return pd.factorize(cells.to_numpy(dtype=object), use_na_sentinel=False)


def _same_distinct(got, expected) -> None:
    codes, uniques = got
    want_codes, want_uniques = expected
    assert np.array_equal(np.asarray(codes, dtype=np.int64), want_codes)
    pd.testing.assert_series_equal(pd.Series(uniques, dtype=object), pd.Series(want_uniques, dtype=object))


@pytest.mark.parametrize("categories, codes", [
    (["a", "b", "c"], [0, 0, 1, 0, 2, 1]),  # first-appearance order, as the reader writes it
    (["c", "a", "b"], [1, 1, 2, 1, 0, 2]),  # another order
    (["a", "b", "c", "d"], [0, 1, 1, 2]),  # a category never used
    (["a", "b"], [0, -1, 1, 0]),  # a missing cell
    (["a", "b"], [1, 0, 0]),
], ids=["first appearance", "other order", "unused", "missing", "second first"])
def test_codes_of_a_categorical_column_are_its_factorized_cells(categories, codes):
    cells = pd.Series(pd.Categorical.from_codes(codes, categories=categories))
    _same_distinct(_distinct(cells), _factorized(cells))


def test_the_readers_codes_of_a_text_column_are_used_only_while_they_give_its_cells():
    cells = np.array(["x", "y", "x", "z"], dtype=object)
    coded = (np.array([0, 1, 0, 2]), np.array(["x", "y", "z"], dtype=object))
    got = _distinct(pd.Series(cells), coded)
    assert got is coded
    changed = cells.copy()
    changed[2] = "w"
    _same_distinct(_distinct(pd.Series(changed), coded), _factorized(pd.Series(changed)))
    unordered = (np.array([1, 0, 1, 2]), np.array(["y", "x", "z"], dtype=object))
    _same_distinct(_distinct(pd.Series(cells), unordered), _factorized(pd.Series(cells)))


@pytest.mark.parametrize("values", [
    pd.Series([True, None, False], dtype="boolean"),
    pd.Series([3, None, -7], dtype="Int64"),
    pd.Series([1.5, np.nan, -0.0]),
    pd.Series(pd.to_datetime(["2020-01-02", None, "1999-12-31"])),
    pd.Series(["a", None, "c"], dtype=object),
], ids=["boolean", "Int64", "float", "datetime", "object"])
@pytest.mark.parametrize("code_type", [np.int8, np.int64])
def test_expanding_distinct_values_by_code_is_taking_them(values, code_type):
    codes = np.array([2, 0, 1, 1, 0, 2, 2], dtype=code_type)
    index = pd.RangeIndex(len(codes))
    got = _expand(values, codes, index)
    pd.testing.assert_series_equal(got, values.take(codes).set_axis(index), check_exact=True)


def _text_cells(n: int, seed: int, ascii_only: bool) -> pd.Series:
    rng = random.Random(seed)
    pads = [" ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", ""] + ([] if ascii_only else ["\u00a0", "\u2003"])
    ids = {f"{rng.choice(pads)}{rng.choice(pads)}PT-{k:06d}{rng.choice(pads)}" for k in range(n)}
    ids |= {"", "  ", "NA", " n/a ", "unknown", "-", "PT-é" if not ascii_only else "PT-e"}
    return pd.Series(sorted(ids), dtype=object)


@pytest.mark.parametrize("ascii_only", [True, False], ids=["ascii", "other characters"])
def test_text_columns_are_stripped_as_python_strips_each_cell(ascii_only):
    cells = _text_cells(30_000, seed=3, ascii_only=ascii_only)
    assert len(cells) >= coerce.ARROW_TEXT_MIN
    keep = frozenset({"unknown"})
    missing = coerce.missing_mask(cells, keep)
    values, got_missing = coerce.to_text(cells, keep)
    pd.testing.assert_series_equal(got_missing, missing)
    expected = pd.Series([None if m else c.strip() for c, m in zip(cells, missing)], dtype=object)
    pd.testing.assert_series_equal(values, expected, check_exact=True)
    assert values.eq("unknown").any() and not missing[values.eq("unknown")].any()


def _messy_ids(n: int = N, seed: int = 11) -> pd.DataFrame:
    """The sample resampled to ``n`` rows; ids with padding, missing, repeated; a few unreadable cells."""
    rng = np.random.default_rng(seed)
    frame = resampled_file(n, rng, "Q")

    def rows(k: int) -> np.ndarray:
        return rng.choice(n, k, replace=False)

    frame.loc[rows(200), "patient_id"] = [f" Q{i:06d} " for i in range(200)]  # the same as an unpadded id
    frame.loc[rows(30), "patient_id"] = rng.choice(["", "NA", " - "], 30)
    frame.loc[rows(20), "patient_id"] = "Q000042"
    frame.loc[rows(100), "sex"] = rng.choice(["X", " F ", "mle"], 100)
    frame.loc[rows(100), "date_progression"] = rng.choice(["2015-13-45", "31/02/2016", "not known"], 100)
    frame.loc[rows(100), "baseline_ldh"] = rng.choice(["high", " 300 ", "12..5"], 100)
    return frame


def test_a_file_with_padded_and_missing_ids_loads_as_its_cells_typed_one_by_one():
    data = _messy_ids().to_csv(index=False).encode()
    fast = load_cohort(io.BytesIO(data))
    plain = validate_table(read_table(data))  # every cell as text, factorized by pandas
    report = fast.report
    assert [dataclasses.astuple(f) for f in report.findings] == [dataclasses.astuple(f) for f in plain.report.findings]
    assert report.conversions == plain.report.conversions
    pd.testing.assert_frame_equal(fast.data, plain.data, check_exact=True)
    pd.testing.assert_frame_equal(fast.excluded, plain.excluded, check_exact=True)
    assert report.n_loaded == N == report.n_analysed + report.n_excluded == len(fast.data) + len(fast.excluded)
    excluded_rows = set(fast.excluded["file_row"])
    assert {f.file_row for f in report.row_errors} == excluded_rows
    assert not excluded_rows & set(fast.data["file_row"])
    ids = fast.data["patient_id"]
    assert ids.notna().all() and not ids.str.startswith(" ").any()
    assert any("Q000042" in f.message for f in report.row_errors)  # repeated ids
    assert sum("'patient_id' is empty" in f.message for f in report.row_errors) == 30


@pytest.mark.parametrize("use_dictionary", [True, False], ids=["dictionary pages", "plain pages"])
def test_a_parquet_file_read_as_its_dictionary_codes_loads_as_its_cells_read_one_by_one(use_dictionary):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _messy_ids(5_000)
    table = pa.Table.from_pandas(frame.replace({"": None}), preserve_index=False)  # empty cells stored as nulls
    buffer = io.BytesIO()
    pq.write_table(table, buffer, use_dictionary=use_dictionary, row_group_size=1_500)
    data = buffer.getvalue()
    fast = load_cohort(io.BytesIO(data))
    plain = validate_table(read_table(data))
    assert fast.report.row_errors and fast.report.n_loaded == 5_000
    assert [dataclasses.astuple(f) for f in fast.report.findings] == [dataclasses.astuple(f)
                                                                      for f in plain.report.findings]
    pd.testing.assert_frame_equal(fast.data, plain.data, check_exact=True)
    pd.testing.assert_frame_equal(fast.excluded, plain.excluded, check_exact=True)
