"""Write analysis-ready patient rows (``Cohort.data``) to a registry: Parquet files or a PostgreSQL table.

A deployer loads and validates a file once (``il2lib.load_cohort``), then writes ``cohort.data``
here; the dashboard's registry source then reads exactly those rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from il2lib.sources import sql

_PG_TYPES = {"bool": "boolean", "int": "bigint", "float": "double precision", "date": "timestamp", "string": "text"}


def write_parquet(frame: pd.DataFrame, path: str | Path, rows_per_file: int | None = None) -> list[Path]:
    """Write ``frame`` to ``path`` (one file), or to a folder of part files of ``rows_per_file`` rows."""
    path = Path(path)
    if rows_per_file is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for part, start in enumerate(range(0, max(len(frame), 1), rows_per_file)):
        target = path / f"part-{part:05d}.parquet"
        frame.iloc[start:start + rows_per_file].to_parquet(target, index=False)
        written.append(target)
    return written


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    return "string"


def _python_values(values: pd.Series, kind: str) -> list:
    missing = values.isna().to_numpy()
    if kind == "bool":
        plain = values.fillna(False).astype(bool).tolist()
    elif kind == "int":
        plain = values.fillna(0).astype(np.int64).tolist()
    elif kind == "float":
        plain = values.astype("float64").tolist()
    elif kind == "date":
        plain = values.astype(object).tolist()  # pandas Timestamps are datetime objects
    else:
        plain = values.astype(object).map(str).tolist()
    return [None if m else v for v, m in zip(plain, missing)]


def write_postgres(frame: pd.DataFrame, conninfo: str, table: str, replace: bool = True) -> int:
    """Create ``table`` (columns typed from the frame's dtypes) and COPY the rows in; returns the row count.

    ``conninfo`` is a libpq connection string or ``postgresql://`` URL (psycopg's form, no ``+psycopg``).
    Column names must be plain lower-case identifiers (schema names are).
    """
    import psycopg

    relation = sql.quote_relation(table)
    kinds = {str(c): _kind(frame[c]) for c in frame.columns}
    allowed = set(kinds)
    columns = ", ".join(f"{sql.quote_identifier(c, allowed)} {_PG_TYPES[k]}" for c, k in kinds.items())
    names = ", ".join(sql.quote_identifier(c, allowed) for c in kinds)
    data = [_python_values(frame[c], k) for c, k in kinds.items()]
    with psycopg.connect(conninfo.replace("postgresql+psycopg://", "postgresql://")) as con:
        if replace:
            con.execute(f"DROP TABLE IF EXISTS {relation}")
        con.execute(f"CREATE TABLE {relation} ({columns})")
        with con.cursor().copy(f"COPY {relation} ({names}) FROM STDIN") as copy:
            for row in zip(*data):
                copy.write_row(row)
    return len(frame)
