"""Each row of a delimited file keeps the line number it has in the file: empty lines (LF, CRLF, CR, between
rows, at the end, many at once) are skipped and counted, whether or not the text has quotes, in the plain and the
compact reading. The reading of batches ahead of their encoding keeps their order and the reader's errors."""
from __future__ import annotations

import hashlib
import threading

import pytest

from il2lib.validation.read import _read_ahead, read_table


def _line_numbers(text: str) -> list[int]:
    """The definition: 1-based numbers of the non-empty lines after the header (CR, LF and CRLF end a line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [k for k, line in enumerate(lines, start=1) if line][1:]


CASES = {
    "no empty line, last line ended": "id,x,y\nP1,a,1\nP2,b,2\n",
    "no empty line, last line not ended": "id,x,y\nP1,a,1\nP2,b,2",
    "one empty line between rows": "id,x,y\nP1,a,1\n\nP2,b,2\n",
    "empty lines at the end": "id,x,y\nP1,a,1\nP2,b,2\n\n\n",
    "empty line right after the header": "id,x,y\n\nP1,a,1\nP2,b,2\n",
    "CRLF with an empty line": "id,x,y\r\nP1,a,1\r\n\r\nP2,b,2\r\n",
    "CRLF without an empty line": "id,x,y\r\nP1,a,1\r\nP2,b,2",
    "CR only with an empty line": "id,x,y\rP1,a,1\r\rP2,b,2\r",
    "LF then CR": "id,x,y\nP1,a,1\n\rP2,b,2\n",
    "blank lines before the header": "\n\nid,x,y\nP1,a,1\n\nP2,b,2\n",
    "quoted cells with an empty line": 'id,x,y\nP1,"a, b",1\n\nP2,"c",2\n',
    "quoted cells without an empty line": 'id,x,y\nP1,"a, b",1\nP2,"c",2\n',
}


@pytest.mark.parametrize("compact", [False, True], ids=["plain", "compact"])
@pytest.mark.parametrize("case", list(CASES))
def test_rows_keep_their_line_numbers(case, compact):
    text = CASES[case]
    raw = read_table(text.encode(), compact=compact)
    assert raw.file_rows.tolist() == _line_numbers(text)
    assert raw.frame["id"].astype(str).tolist() == ["P1", "P2"]


@pytest.mark.parametrize("compact", [False, True], ids=["plain", "compact"])
@pytest.mark.parametrize("empty_every", [0, 997])
def test_line_numbers_of_a_file_of_many_batches(compact, empty_every):
    """Thousands of rows over several of pyarrow's blocks, with or without empty lines spread through them."""
    lines = ["id,disease,notes"]
    for i in range(40_000):
        lines.append(f"P{i},melanoma,{'x' * (i % 50)}")
        if empty_every and i % empty_every == 5:
            lines.append("")
    text = "\n".join(lines) + "\n"
    raw = read_table(text.encode(), compact=compact)
    assert raw.file_rows.tolist() == _line_numbers(text)
    assert raw.frame["id"].astype(str).tolist() == [f"P{i}" for i in range(40_000)]


def test_read_ahead_keeps_the_order_and_raises_where_the_reader_failed():
    assert list(_read_ahead(iter(range(1000)), depth=2)) == list(range(1000))

    def failing():
        yield from range(5)
        raise ValueError("bad block")

    seen = []
    with pytest.raises(ValueError, match="bad block"):
        for item in _read_ahead(failing()):
            seen.append(item)
    assert seen == list(range(5))


def test_closing_the_read_ahead_early_stops_its_thread():
    before = threading.active_count()
    stream = _read_ahead(iter(range(10**6)), depth=2)
    assert next(stream) == 0
    stream.close()
    assert threading.active_count() == before


def test_a_large_file_fingerprint_is_the_sha256_of_its_bytes():
    """Above 16 MB the fingerprint is worked out beside the read; it is the same SHA-256."""
    data = ("id,disease\n" + "".join(f"P{i},melanoma\n" for i in range(1_200_000))).encode()
    assert len(data) > 1 << 24
    assert read_table(data, compact=True).fingerprint == hashlib.sha256(data).hexdigest()
    assert read_table(data[:1000]).fingerprint == hashlib.sha256(data[:1000]).hexdigest()
