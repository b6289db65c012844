"""A text column read in one batch keeps its batch dictionary as its distinct texts: the same texts (in order of
first appearance) and codes as when the batch dictionaries are merged, and its cells read as the texts written,
also for a column given codes into texts that repeat (a Parquet dictionary)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from il2lib.validation.read import _CodedColumn


def _cells(pieces: list, n: int):
    column = _CodedColumn()
    for piece in pieces:
        column.add(piece)
    return column.cells(n)


@pytest.mark.parametrize("n, distinct", [(1_000, 3), (5_000, 90), (4_000, 400)])
def test_one_batch_reads_as_merged_batches(n, distinct):
    rng = np.random.default_rng(n)
    values = np.array([f" v{k} " if k % 7 else "" for k in rng.integers(0, distinct, n)], dtype=object)
    array = pa.array(values, pa.string())
    whole = _cells([array], n)
    merged = _cells([array.slice(at, 300) for at in range(0, n, 300)], n)
    assert isinstance(whole, pd.Categorical)
    assert list(whole.categories) == list(pd.unique(values))
    np.testing.assert_array_equal(whole.codes, merged.codes)
    assert list(whole.categories) == list(merged.categories)
    assert np.asarray(whole, dtype=object).tolist() == values.tolist()


def test_codes_into_repeated_texts_read_as_their_cells():
    texts = pa.array(["a", "b", "a", "c", "b"], pa.string())  # not distinct
    codes = np.random.default_rng(1).integers(0, 5, 2_000)
    column = _CodedColumn()
    column.add_codes(codes, texts)
    cells = column.cells(len(codes))
    assert np.asarray(cells, dtype=object).tolist() == np.asarray(texts.to_pylist(), dtype=object)[codes].tolist()
    assert list(cells.categories) == list(pd.unique(np.asarray(texts.to_pylist(), dtype=object)[codes]))
