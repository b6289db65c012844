"""Line ends of a large text are counted a block at a time; the count is the one of counting each byte."""
from __future__ import annotations

import random

import pytest

from il2lib.validation import read


def _text(n: int, seed: int, endings: tuple[bytes, ...]) -> bytes:
    rng = random.Random(seed)
    pieces, size = [], 0
    while size < n:
        piece = b"x" * rng.randint(0, 40) + rng.choice(endings)
        pieces.append(piece)
        size += len(piece)
    return b"".join(pieces)


@pytest.mark.parametrize("endings", [(b"\n",), (b"\r\n", b"\n", b"\r", b"\n\n")], ids=["LF", "mixed"])
def test_line_ends_of_a_large_text_are_the_bytes_counted_one_by_one(endings):
    buf = _text(3 * read._CHECK_CHUNK + 17, seed=len(endings), endings=endings)
    for start, end in ((0, len(buf)), (5, len(buf) - 3), (read._CHECK_CHUNK - 1, 2 * read._CHECK_CHUNK + 1),
                       (10, 100)):
        expected = buf.count(b"\n", start, end) + buf.count(b"\r", start, end) - buf.count(b"\r\n", start, end)
        assert read._count_line_ends(buf, start, end) == expected
