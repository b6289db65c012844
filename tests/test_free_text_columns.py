"""Free-text columns (notes, comments) are flagged as possible identifiers: the check, column by column, equals
its definition on the first 2,000 non-blank values (mostly words, spaced or long, varied)."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd

from il2lib.validation.mapping import FREE_TEXT_SAMPLE, free_text_columns


def _free_text_by_definition(frame: pd.DataFrame, columns) -> list[str]:
    found = []
    for column in columns:
        values = frame[column].dropna().astype(str).str.strip()
        values = values[values != ""].head(FREE_TEXT_SAMPLE)
        if len(values) == 0 or values.str.contains(r"[^\W\d_]{2}", regex=True).mean() < 0.5:
            continue
        spaced_or_long = (values.str.contains(r"\s", regex=True) | (values.str.len() >= 20)).mean()
        if spaced_or_long >= 0.3 and (values.nunique() / len(values) >= 0.2 or len(values) < 10):
            found.append(column)
    return found


def test_free_text_columns_equal_their_definition_on_messy_columns():
    rng = random.Random(11)
    words = ["seen", "in", "clinic", "Dr", "Müller", "called", "x", "ok", "12", "3.5", "N/A", "", " ", "\t", "ß"]
    cells = [None, np.nan, pd.NA, "", "  ", 7, 2.5, "CR", "PR", "melanoma", "a b", "x" * 25, "12 mg", "ok"]
    frame = {}
    for k in range(200):
        n = rng.choice([1, 5, 30, 2500])
        kind = k % 4
        if kind == 0:  # notes
            column = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(n)]
        elif kind == 1:  # codes and blanks
            column = [rng.choice(cells) for _ in range(n)]
        elif kind == 2:  # mostly blank, text late in the column
            column = [rng.choice([None, "", " "]) for _ in range(n - 1)] + ["late note here"]
        else:  # numbers kept as text or as numbers
            column = [rng.choice([str(rng.randint(0, 99)), rng.random(), None]) for _ in range(n)]
        frame[f"col{k}"] = pd.Series(column, dtype=object)
    longest = max(len(v) for v in frame.values())
    table = pd.DataFrame({name: values.reindex(range(longest)) for name, values in frame.items()})
    for distinct in (9, 10, 11):  # variety just under, at and over a fifth of 50 values
        table[f"repeated{distinct}"] = pd.Series([f"visit note {k % distinct}" for k in range(50)], dtype=object)
    table["numbers"] = np.arange(longest, dtype=float)
    table["dates"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(longest), unit="D")
    columns = list(table.columns)
    found = free_text_columns(table, columns)
    assert found == _free_text_by_definition(table, columns)
    assert 10 < len(found) < len(columns) - 10, len(found)  # the draw has both kinds
