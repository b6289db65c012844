"""Upload files for the browser tests, built in code under ``tmp_path`` from the bundled samples.

Column names come from ``il2lib.schema``; nothing here retypes them.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from il2lib import schema

from .server import ROOT

SAMPLE_DIR = ROOT / "sample_data"
COMBINED = SAMPLE_DIR / "combined_synthetic.csv"
PROCLAIM = SAMPLE_DIR / "proclaim_synthetic.csv"
COMMUNITY = SAMPLE_DIR / "community_synthetic.csv"

#: A header no synonym list knows, used in place of date_il2_start (fixed in the mapping editor).
UNKNOWN_START_HEADER = "Erste IL2 Gabe"


def read_sample(path: Path) -> pd.DataFrame:
    """A bundled sample as plain strings, exactly as written (no type guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path, *, sep: str = ",") -> Path:
    frame.to_csv(path, index=False, sep=sep, quoting=csv.QUOTE_MINIMAL)
    return path


def european_csv(source: Path, path: Path) -> Path:
    """The same cohort written the way a German/French Excel exports it: ``;`` separated, decimal commas."""
    frame = read_sample(source)
    numeric = [c.name for c in schema.PATIENT_COLUMNS if c.kind == "number" and c.name in frame.columns]
    for column in numeric:
        frame[column] = frame[column].str.replace(".", ",", regex=False)
    assert any(frame[c].str.contains(",").any() for c in numeric), "sample has no decimal to turn into a comma"
    return write_csv(frame, path, sep=";")


def renamed_start_column(source: Path, path: Path) -> Path:
    """The cohort with the required IL-2 start date column under a name no synonym matches."""
    frame = read_sample(source).rename(columns={schema.DATE_IL2_START: UNKNOWN_START_HEADER})
    return write_csv(frame, path)


def renamed_columns(source: Path, path: Path, names: dict[str, str]) -> Path:
    """The cohort with columns renamed ``{schema name: file header}``."""
    return write_csv(read_sample(source).rename(columns=names), path)


def missing_required_column(source: Path, path: Path, column: str = schema.BOR) -> Path:
    """The cohort without one required column (default: best overall response)."""
    return write_csv(read_sample(source).drop(columns=[column]), path)


def bad_dates(source: Path, path: Path, rows: tuple[int, ...] = (0, 2)) -> tuple[Path, list[str]]:
    """The cohort with impossible IL-2 start dates in ``rows`` (0-based data rows); returns the ids hit."""
    frame = read_sample(source)
    bad_values = ("2019-02-30", "31/31/2016")
    ids = []
    for row, value in zip(rows, bad_values * len(rows)):
        frame.loc[row, schema.DATE_IL2_START] = value
        ids.append(frame.loc[row, schema.PATIENT_ID])
    return write_csv(frame, path), ids


def binary_file(path: Path) -> Path:
    """A PNG signature plus random-looking bytes, saved with a .csv name."""
    payload = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8 + b"\x00\xff" * 100
    path.write_bytes(payload)
    return path


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def subset(source: Path, path: Path, n_rows: int) -> Path:
    """The first ``n_rows`` patients of a sample (a smaller cohort with a known count)."""
    return write_csv(read_sample(source).head(n_rows), path)
