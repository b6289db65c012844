"""Text columns read from Arrow become object arrays of the same strs as pyarrow's own conversion, one str per
distinct value (a column of repeated values holds each text once)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from il2lib.validation.read import _text_objects, read_table


def _columns():
    rng = np.random.default_rng(5)
    ids = [f"P{i}" for i in range(5_000)]
    repeated = [str(v) for v in rng.choice(["a", "b", " ", "", "é", "日本", "a "], 5_000)]
    return {
        "distinct ids in chunks": pa.chunked_array([pa.array(ids[:2_000]), pa.array(ids[2_000:])]),
        "repeated values": pa.chunked_array([pa.array(repeated[:10]), pa.array(repeated[10:])]),
        "one array": pa.array(repeated),
        "no chunk": pa.chunked_array([], pa.string()),
        "empty chunks": pa.chunked_array([pa.array([], pa.string()), pa.array([], pa.string())]),
        "with nulls": pa.chunked_array([pa.array(["x", None, "x"])]),
        "large strings": pa.chunked_array([pa.array(repeated[:50], pa.large_string())]),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_text_objects_are_pyarrows_deduplicated_cells(name):
    column = _columns()[name]
    cells = _text_objects(column)
    expected = column.to_pandas(deduplicate_objects=True).to_numpy(dtype=object)
    assert cells.dtype == object and cells.tolist() == expected.tolist()
    assert [type(v) for v in cells] == [type(v) for v in expected]
    texts = [v for v in cells if v is not None]
    assert len({id(v) for v in texts}) == len(set(texts))  # one str per distinct value


def test_an_id_column_reads_as_one_str_per_row():
    text = "patient_id,disease\n" + "".join(f"P{i},melanoma\n" for i in range(30_000))
    raw = read_table(text.encode(), compact=True)
    assert raw.frame["patient_id"].dtype == object
    assert raw.frame["patient_id"].tolist() == [f"P{i}" for i in range(30_000)]
