"""Registry sources that run the SQL of :mod:`il2lib.sources.sql`: DuckDB (Parquet/CSV) and PostgreSQL.

Both engines get the same SQL text (``$n`` placeholders) for the same filter; only the way a
query is executed and the table's column kinds are read differ.
"""
from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path

import pandas as pd

from il2lib.cohort import CohortFilter
from il2lib.sources import sql
from il2lib.sources.base import DEFAULT_ROW_LIMIT, DataSource
from il2lib.sources.errors import DataSourceError, UnsafeQueryError

#: The name the DuckDB source gives its view over the files (and the default PostgreSQL table).
DEFAULT_TABLE = "il2_registry"


def kind_of_sql_type(type_name: str) -> sql.ColumnKind:
    """Column kind of a DuckDB or PostgreSQL type name."""
    t = type_name.lower()
    if t.startswith("bool"):
        return "bool"
    if any(t.startswith(p) for p in ("tinyint", "smallint", "int", "bigint", "hugeint", "ubigint", "uinteger",
                                     "usmallint", "utinyint", "real", "float", "double", "decimal", "numeric")):
        return "number"
    if t.startswith("date") or t.startswith("timestamp"):
        return "date"
    return "string"


class SqlSource(DataSource):
    """Common part of the SQL sources: builds the queries; subclasses execute them."""

    relation: str  # quoted relation name

    def __init__(self, label: str, row_limit: int = DEFAULT_ROW_LIMIT):
        super().__init__(label, row_limit)
        self._kinds: dict[str, sql.ColumnKind] | None = None

    @abstractmethod
    def execute(self, query: sql.Query) -> pd.DataFrame:
        """Run one parameterised query and return its rows (column names from the query)."""

    @abstractmethod
    def _read_kinds(self) -> dict[str, sql.ColumnKind]:
        """Column kinds read from the engine's catalogue."""

    def column_kinds(self) -> dict[str, sql.ColumnKind]:
        if self._kinds is None:
            self._kinds = self._read_kinds()
        return dict(self._kinds)

    @staticmethod
    def _check_filter(f) -> None:
        if f is not None and not isinstance(f, CohortFilter):
            raise UnsafeQueryError("A filter must be a CohortFilter.")

    def n_patients(self, f: CohortFilter | None = None) -> int:
        self._check_filter(f)
        frame = self.execute(sql.count_rows(self.relation, self.column_kinds(), f))
        return int(frame["n"].iloc[0])

    def survival_query(self, time: str, event: str, f=None, group=None, strata=None) -> sql.Query:
        """The aggregate SQL (exposed so tests can check both engines get the same text)."""
        self._check_filter(f)
        return sql.survival_aggregate(self.relation, self.column_kinds(), time, event, f, group, strata)

    def _survival_aggregate(self, time, event, f, group, strata) -> pd.DataFrame:
        return self.execute(self.survival_query(time, event, f, group, strata))

    def category_counts(self, column: str, f: CohortFilter | None = None, group: str | None = None) -> pd.DataFrame:
        self._check_filter(f)
        out = self.execute(sql.category_aggregate(self.relation, self.column_kinds(), column, f, group))
        return out.astype(object).where(out.notna(), None).assign(n=out["n"].astype("int64"))

    def _rows(self, f, columns, limit) -> pd.DataFrame:
        self._check_filter(f)
        return self.execute(sql.select_rows(self.relation, self.column_kinds(), columns, f, limit))


class DuckDBSource(SqlSource):
    """A Parquet or CSV file, folder or glob read in place by embedded DuckDB (no server).

    The files are exposed as one view; aggregates stream over them, so the data may be larger
    than memory. No DuckDB extension is loaded (the Parquet and CSV readers are built in).
    """

    kind = "duckdb"

    def __init__(self, path: str | os.PathLike, file_format: str | None = None, label: str | None = None,
                 row_limit: int = DEFAULT_ROW_LIMIT, threads: int | None = None, memory_limit: str | None = None):
        import duckdb

        pattern, file_format = _file_pattern(Path(path), file_format)
        super().__init__(label or f"{file_format.upper()}: {Path(path).name}", row_limit)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        if threads:
            config["threads"] = int(threads)
        if memory_limit:
            config["memory_limit"] = str(memory_limit)
        self._con = duckdb.connect(":memory:", config=config)
        literal = "'" + pattern.replace("'", "''") + "'"  # deployer-configured path, quoted as a literal
        reader = (f"read_parquet({literal}, union_by_name = true)" if file_format == "parquet"
                  else f"read_csv({literal}, header = true, union_by_name = true)")
        self.relation = sql.quote_relation(DEFAULT_TABLE)
        try:
            self._con.execute(f"CREATE VIEW {self.relation} AS SELECT * FROM {reader}")
            self.column_kinds()
        except duckdb.Error as exc:
            raise DataSourceError(f"Cannot read the registry files at {Path(path).name}: {exc}") from None

    def _read_kinds(self) -> dict[str, sql.ColumnKind]:
        rows = self._con.cursor().execute(f"DESCRIBE SELECT * FROM {self.relation}").fetchall()
        return {name: kind_of_sql_type(type_name) for name, type_name, *_ in rows}

    def execute(self, query: sql.Query) -> pd.DataFrame:
        import duckdb

        cursor = self._con.cursor()  # one cursor per call: safe across Streamlit's threads
        try:
            return cursor.execute(query.text, list(query.params)).df()
        except duckdb.Error as exc:
            raise DataSourceError(f"The registry query failed: {exc}") from None
        finally:
            cursor.close()

    def close(self) -> None:
        self._con.close()


def _file_pattern(path: Path, file_format: str | None) -> tuple[str, str]:
    """(glob DuckDB reads, "parquet" or "csv") for a file, folder (searched recursively) or glob."""
    if file_format not in (None, "parquet", "csv"):
        raise DataSourceError(f"file_format must be 'parquet' or 'csv', got {file_format!r}.")
    text = str(path)
    if path.is_dir():
        fmt = file_format or ("parquet" if any(path.rglob("*.parquet")) else "csv")
        return str(path / "**" / f"*.{fmt}"), fmt
    if not any(ch in text for ch in "*?[") and not path.exists():
        raise DataSourceError(f"Registry path not found: {path.name}.")
    fmt = file_format or ("csv" if text.lower().endswith((".csv", ".csv.gz", ".tsv")) else "parquet")
    return text, fmt
