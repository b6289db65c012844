"""Missing-value detection of a column with many distinct cells (an id column) gives what the
str definitions give, cell by cell: the Python reading of each cell (str.strip, str.lower, re's \\s)."""
import random
import re

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.validation import coerce

_CHARS = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", ".", "-", "_", "/", "a", "N", "A", "n", "U", "k",
          "l", "0", "é", "\u00a0", "\u2003"]


def _cells(n: int, seed: int, ascii_only: bool) -> pd.Series:
    rng = random.Random(seed)
    chars = [c for c in _CHARS if c.isascii()] if ascii_only else _CHARS
    cells = {"".join(rng.choice(chars) for _ in range(rng.randint(0, 7))) for _ in range(n)}
    cells |= {" NA ", "n/a", "Unknown", "\tnull", "-", ".", "", "PT-0001 ", " pt-0001"}
    return pd.Series(sorted(cells), dtype=object)


def _missing_by_definition(s: pd.Series, keep: frozenset[str]) -> np.ndarray:
    out = []
    for cell in s:
        lowered = cell.strip().lower()
        out.append(lowered in schema.MISSING_TOKENS - keep or re.fullmatch(r"[\s_\-\.]*", lowered) is not None)
    return np.array(out, dtype=bool)


def test_many_ascii_cells_are_read_as_python_reads_each_cell():
    s = _cells(40_000, seed=1, ascii_only=True)
    assert len(s) >= coerce.ARROW_TEXT_MIN
    for keep in (frozenset(), frozenset({"unknown"})):
        got = coerce.missing_mask(s, keep)
        assert got.dtype == bool and got.index.equals(s.index)
        assert np.array_equal(got.to_numpy(), _missing_by_definition(s, keep))


def test_many_cells_with_other_characters_are_read_as_python_reads_each_cell():
    s = _cells(40_000, seed=2, ascii_only=False)
    assert np.array_equal(coerce.missing_mask(s).to_numpy(), _missing_by_definition(s, frozenset()))
