"""Registry sources that run the SQL of :mod:`il2lib.sources.sql`: DuckDB (Parquet/CSV) and PostgreSQL.

Both engines get the same SQL text (``$n`` placeholders) for the same filter; only the way a
query is executed and the table's column kinds are read differ.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from abc import abstractmethod
from pathlib import Path

import numpy as np
import pandas as pd

from il2lib.cohort import CohortFilter
from il2lib.sources import duckdb_store, sql
from il2lib.sources.base import DEFAULT_ROW_LIMIT, DataSource
from il2lib.sources.errors import DataSourceError, UnsafeQueryError

#: The name the DuckDB source gives its view over the files (and the default PostgreSQL table).
DEFAULT_TABLE = "il2_registry"
#: Seconds a PostgreSQL statement may run before the server cancels it: a registry count or aggregate
#: takes seconds at most, and any filter combination (a URL can carry one) may cost a full scan; 30 s
#: stops a runaway query before it holds a database connection and a server core for long.
DEFAULT_STATEMENT_TIMEOUT = 30.0
#: DuckDB's buffer memory per source. DuckDB's own default (80 % of RAM) would let one query take the memory the
#: Streamlit process, its caches and the in-memory temp directory need. The queries are group counts and at most
#: ``row_limit`` fetched rows, which need far less; a fixed size behaves the same on every server, and beyond it
#: DuckDB spills to its temp directory. (DuckDB notes that some operators allocate outside this limit.)
DEFAULT_MEMORY_LIMIT = "1GB"
#: At most this many DuckDB threads (fewer on a smaller machine): the other cores serve the dashboard, and
#: each thread needs part of ``memory_limit``.
MAX_DEFAULT_THREADS = 4


class SqlSource(DataSource):
    """Common part of the SQL sources: builds the queries; subclasses execute them."""

    relation: str  # quoted relation name
    #: A stored form's dictionary of text columns (:data:`il2lib.sources.sql.ValueLookup`), None to normalise per row.
    value_lookup: sql.ValueLookup | None = None

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
        frame = self.execute(sql.count_rows(self.relation, self.column_kinds(), f, self.value_lookup))
        return int(frame["n"].iloc[0])

    def survival_query(self, time: str, event: str, f=None, group=None, strata=None) -> sql.Query:
        """The aggregate SQL (exposed so tests can check both engines get the same text)."""
        self._check_filter(f)
        return sql.survival_aggregate(self.relation, self.column_kinds(), time, event, f, group, strata,
                                      self.value_lookup)

    def _survival_aggregate(self, time, event, f, group, strata) -> pd.DataFrame:
        return self.execute(self.survival_query(time, event, f, group, strata))

    def category_counts(self, column: str, f: CohortFilter | None = None, group: str | None = None) -> pd.DataFrame:
        self._check_filter(f)
        out = self.execute(sql.category_aggregate(self.relation, self.column_kinds(), column, f, group,
                                                  self.value_lookup))
        return out.astype(object).where(out.notna(), None).assign(n=out["n"].astype("int64"))

    def _rows(self, f, columns, limit) -> pd.DataFrame:
        self._check_filter(f)
        return self.execute(sql.select_rows(self.relation, self.column_kinds(), columns, f, limit,
                                            self.value_lookup))


class DuckDBSource(SqlSource):
    """A Parquet or CSV file, folder or glob read in place by embedded DuckDB (no server).

    The files are exposed as one view; aggregates stream over them, so the data may be larger
    than memory. No DuckDB extension is loaded (the Parquet and CSV readers are built in).

    Resources: ``memory_limit`` (default :data:`DEFAULT_MEMORY_LIMIT`), ``threads`` (default the
    machine's cores, at most :data:`MAX_DEFAULT_THREADS`). What does not fit spills to a private
    0700 directory made under ``temp_directory`` (default: Python's temp directory, which
    ``serve.py`` puts in memory) and removed on :meth:`close`; ``temp_directory=""`` turns
    spilling off (such a query fails instead). DuckDB's own default is ``.tmp`` in the working
    directory, i.e. next to the code on disk.

    Stored forms (``store``, see :mod:`il2lib.sources.duckdb_store`): ``"files"`` (default) reads the
    files in place; ``"duckdb-file"`` or ``"parquet"`` count on a sorted copy with a dictionary of the
    text columns, built in ``store_directory`` (default: next to the data) on first open and rebuilt
    when the files change (with ``store_memory_limit``, default ``memory_limit``; a sort beyond it
    spills to the store directory). Same rows, same numbers; repeated queries no longer re-read the files.
    Sources of one ``"duckdb-file"`` store in a process share its database (:func:`duckdb_store.connect`):
    the most recently opened source's ``memory_limit`` and ``threads`` apply to all of them.
    """

    kind = "duckdb"

    def __init__(self, path: str | os.PathLike, file_format: str | None = None, label: str | None = None,
                 row_limit: int = DEFAULT_ROW_LIMIT, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | os.PathLike | None = None, store: str | None = None,
                 store_directory: str | os.PathLike | None = None, store_memory_limit: str | None = None):
        import duckdb


        pattern, file_format = _file_pattern(Path(path), file_format)
        super().__init__(label or f"{file_format.upper()}: {Path(path).name}", row_limit)
        self.store_form = store or "files"
        if self.store_form not in duckdb_store.FORMS:
            raise DataSourceError(f"Unknown registry store {store!r}: use one of {', '.join(duckdb_store.FORMS)}.")
        self.temp_directory = _private_temp_dir(temp_directory)
        if self.temp_directory:  # removed when the source is closed or collected, or at exit
            self._remove_temp = weakref.finalize(self, shutil.rmtree, self.temp_directory, ignore_errors=True)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                  "threads": int(threads) if threads else min(MAX_DEFAULT_THREADS, os.cpu_count() or 1),
                  "memory_limit": str(memory_limit) if memory_limit else DEFAULT_MEMORY_LIMIT,
                  "temp_directory": self.temp_directory}
        self.memory_limit = config["memory_limit"]
        literal = "'" + pattern.replace("'", "''") + "'"  # deployer-configured path, quoted as a literal
        reader = (f"read_parquet({literal}, union_by_name = true)" if file_format == "parquet"
                  else f"read_csv({literal}, header = true, union_by_name = true)")
        self.relation = sql.quote_relation(DEFAULT_TABLE)
        self.store = None
        self._time_values: dict = {}
        try:
            if self.store_form != "files":
                self.store = duckdb_store.ensure_store(
                    pattern, file_format, reader, self.store_form,
                    store_directory or duckdb_store.default_directory(path), config["threads"],
                    str(store_memory_limit or self.memory_limit))
            if self.store_form == "duckdb-file":  # one database per store file and process
                own = self.temp_directory
                self._con, release, self.temp_directory = duckdb_store.connect(
                    self.store.path, config["threads"], self.memory_limit, lambda: own)
                self._release = weakref.finalize(self, release)
                if own:  # the shared database owns the spill directory it opened with; an unused one goes now
                    self._remove_temp.detach() if self.temp_directory == own else self._remove_temp()
            else:
                self._con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            self.close()
            raise DataSourceError("The registry settings threads / memory_limit / temp_directory are not valid "
                                  f"for DuckDB: {exc}") from None
        except DataSourceError:
            self.close()
            raise
        try:
            if self.store_form == "files":
                self._con.execute(f"CREATE VIEW {self.relation} AS SELECT * FROM {reader}")
            elif self.store_form == "parquet":
                for name, file in ((self.relation, "registry.parquet"), (duckdb_store.VALUES_TABLE, "values.parquet"),
                                   (duckdb_store.TIMES_TABLE, "times.parquet")):
                    stored = "'" + str(self.store.path / file).replace("'", "''") + "'"
                    self._con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({stored})")
            if self.store is not None:
                self.value_lookup = duckdb_store.read_values(self._con).get
                self._time_values = duckdb_store.read_times(self._con)
            self.column_kinds()
        except duckdb.Error as exc:
            self.close()
            raise DataSourceError(f"Cannot read the registry files at {Path(path).name}: {exc}") from None

    def _read_kinds(self) -> dict[str, sql.ColumnKind]:

        rows = self._con.cursor().execute(f"DESCRIBE SELECT * FROM {self.relation}").fetchall()
        hidden = {duckdb_store.time_code_column(t) for t in self._time_values}
        return {name: sql.kind_of_sql_type(type_name) for name, type_name, *_ in rows if name not in hidden}

    def _survival_aggregate(self, time, event, f, group, strata) -> pd.DataFrame:
        """On a stored form, counts by the time's integer code, mapped back to its exact value after."""
        values = self._time_values.get(time)
        if values is None:
            return super()._survival_aggregate(time, event, f, group, strata)

        self._check_filter(f)
        code = duckdb_store.time_code_column(time)
        kinds = {**self.column_kinds(), code: "number"}
        frame = self.execute(sql.survival_aggregate(self.relation, kinds, code, event, f, group, strata,
                                                    self.value_lookup))
        codes = frame["time"]
        mapped = np.full(len(frame), np.nan)
        known = codes.notna().to_numpy()
        mapped[known] = values[codes[known].to_numpy(dtype=np.int64)]
        return frame.assign(time=mapped)

    def execute(self, query: sql.Query) -> pd.DataFrame:
        import duckdb

        cursor = self._con.cursor()  # one cursor per call: safe across Streamlit's threads
        try:
            return cursor.execute(query.text, list(query.params)).df()
        except duckdb.OutOfMemoryException:
            raise DataSourceError(f"The registry query needed more memory than the {self.memory_limit} limit "
                                  "(memory_limit) allows; narrow the filters or ask the administrator to raise "
                                  "registry.memory_limit.") from None
        except duckdb.Error as exc:
            raise DataSourceError(f"The registry query failed: {exc}") from None
        finally:
            cursor.close()

    def close(self) -> None:
        if getattr(self, "_release", None) is not None:
            self._release()  # the store database closes with its last source
        elif getattr(self, "_con", None) is not None:
            self._con.close()
        if getattr(self, "_remove_temp", None) is not None:
            self._remove_temp()


def _private_temp_dir(parent: str | os.PathLike | None) -> str:
    """A new 0700 directory for DuckDB's spill files under ``parent`` (None: Python's temp directory);
    "" when ``parent`` is "" (no spilling)."""
    if parent is not None and str(parent) == "":
        return ""
    try:
        made = tempfile.mkdtemp(prefix="il2duckdb-", dir=None if parent is None else os.fspath(parent))
        return os.path.abspath(made)
    except OSError as exc:
        raise DataSourceError(f"The registry's temp_directory {parent or tempfile.gettempdir()} cannot be used "
                              f"({exc.strerror}). Set registry.temp_directory to an existing directory the "
                              "dashboard may write to, preferably in memory (tmpfs).") from None


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
