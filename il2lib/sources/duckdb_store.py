"""Stored forms of a Parquet/CSV registry for repeated counting by DuckDB, built once and refreshed on load.

Reading the files in place re-reads and re-decodes every filtered column for each query. A stored
form is built once from the files (and rebuilt when they change: the key is the files' names, sizes
and modification times):

* ``"duckdb-file"``: one DuckDB database file, the rows sorted by the common filter columns (their
  zonemaps let a query skip row groups), DuckDB's own compressed columnar storage;
* ``"parquet"``: one Parquet file sorted likewise.

Both keep every column with its type (the same rows, so the same counts) and add a dictionary of the
text columns (``il2_values``: each raw value with its normalised form, computed by DuckDB with the
filter's own normalisation), so a filter on an extra text column compares raw values instead of
normalising every row. The store lives in a directory the deployer names (default: next to the
data); it holds registry data, so it is never placed inside the application's directory.
"""
from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il2lib import schema
from il2lib.sources import sql
from il2lib.sources.errors import DataSourceError

FORMS = ("files", "duckdb-file", "parquet")
#: Bumped when the layout of a stored form changes (old stores are then rebuilt).
STORE_VERSION = 2
#: Sort order of the stored rows: the sidebar's most used filters, coarse to fine.
SORT_COLUMNS = (schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SEX, schema.AGE)
#: Text columns with more distinct values than this get no dictionary (filters then normalise per row).
MAX_DICTIONARY = 1000
VALUES_TABLE = "il2_values"
TIMES_TABLE = "il2_times"
_TIME_COLUMNS = frozenset(ep.time for ep in schema.ENDPOINTS.values())
_APP_ROOT = Path(__file__).resolve().parents[2]
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Store:
    """A built stored form: where it is, whether this call built it and in how many seconds."""

    form: str
    path: Path
    built: bool
    build_seconds: float

    @property
    def size_bytes(self) -> int:
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.iterdir())
        return self.path.stat().st_size


def default_directory(path: str | os.PathLike) -> Path:
    """``<data>.il2_store`` next to the registry file or folder."""
    p = Path(path).resolve()
    return p.parent / f"{p.name}.il2_store" if "*" not in p.name else p.parent / "registry.il2_store"


def _checked_directory(directory: str | os.PathLike) -> Path:
    d = Path(directory).resolve()
    if d == _APP_ROOT or _APP_ROOT in d.parents:
        raise DataSourceError("The registry's store_directory must be outside the application's directory "
                              "(it holds registry data).")
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DataSourceError(f"The registry's store_directory cannot be created ({exc.strerror}); set "
                              "registry.store_directory to a directory the dashboard may write to.") from None
    return d


def _fingerprint(pattern: str, file_format: str, form: str) -> tuple[str, str]:
    """(id of the source, key of its current files): names, sizes, modification times."""
    files = sorted(glob.glob(pattern, recursive=True))
    if not files:
        raise DataSourceError(f"No registry files match {Path(pattern).name}.")
    stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    source = hashlib.sha256(f"{pattern}|{form}".encode()).hexdigest()[:12]
    key = hashlib.sha256(json.dumps([STORE_VERSION, file_format, stats]).encode()).hexdigest()[:16]
    return source, key


def ensure_store(pattern: str, file_format: str, reader: str, form: str, directory: str | os.PathLike,
                 threads: int, memory_limit: str) -> Store:
    """The stored form of the files matching ``pattern``, built now if missing or out of date.

    ``reader`` is DuckDB's table function over the files. Builders of the same source wait for each
    other (a lock file); a finished build replaces older stores of the same source.
    """
    if form not in FORMS[1:]:
        raise DataSourceError(f"Unknown registry store {form!r}: use one of {', '.join(FORMS)}.")
    d = _checked_directory(directory)
    source, key = _fingerprint(pattern, file_format, form)
    suffix = ".duckdb" if form == "duckdb-file" else ".parquet.d"
    target = d / f"il2-{source}-{key}{suffix}"
    try:
        with open(d / f"il2-{source}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _log.info("Another build of this registry store is running; waiting for it.")
                fcntl.flock(lock, fcntl.LOCK_EX)
            if target.exists():
                return Store(form, target, False, 0.0)
            _log.info("Building the registry store (%s) in %s.", form, d)
            start = time.perf_counter()
            work = Path(tempfile.mkdtemp(prefix=f"il2-{source}-build-", dir=d))
            try:
                _build(reader, form, work, threads, memory_limit)
                os.replace(work / f"store{suffix}", target)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for old in d.glob(f"il2-{source}-*{suffix}"):
                if old != target and "-build-" not in old.name:
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
            return Store(form, target, True, time.perf_counter() - start)
    except OSError as exc:
        raise DataSourceError(f"Cannot write the registry store in registry.store_directory ({exc.strerror}).") \
            from None


def _build(reader: str, form: str, work: Path, threads: int, memory_limit: str) -> None:
    import duckdb

    out = work / ("store.duckdb" if form == "duckdb-file" else "store.parquet.d")
    spill = work / "spill"
    spill.mkdir()
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False, "threads": int(threads),
              "memory_limit": memory_limit, "temp_directory": str(spill), "preserve_insertion_order": False}
    con = duckdb.connect(str(out) if form == "duckdb-file" else ":memory:", config=config)
    try:
        con.execute(f"CREATE VIEW src AS SELECT * FROM {reader}")

        described = con.execute("DESCRIBE SELECT * FROM src").fetchall()
        kinds = {name: sql.kind_of_sql_type(t) for name, t, *_ in described}
        timed = [name for name, t, *_ in described if t == "DOUBLE" and name in _TIME_COLUMNS
                 and sql.is_identifier(name) and time_code_column(name) not in kinds]
        con.execute(f"CREATE TEMP TABLE times AS {_times_sql(timed)}")
        order = "ALL" if SORT_COLUMNS is None else \
            ", ".join(sql.quote_identifier(c, kinds) for c in SORT_COLUMNS if c in kinds)
        codes = "".join(f', (SELECT code FROM times WHERE "column" = \'{t}\' AND value = src."{t}") '
                        f'AS "{time_code_column(t)}"' for t in timed)
        sorted_rows = f"SELECT *{codes} FROM src" + (f" ORDER BY {order}" if order else "")
        if form == "duckdb-file":
            con.execute(f"CREATE TABLE {sql.quote_relation('il2_registry')} AS {sorted_rows}")
            con.execute(f"CREATE TABLE {VALUES_TABLE} AS {_values_sql(con, 'il2_registry', kinds)}")
            con.execute(f"CREATE TABLE {TIMES_TABLE} AS SELECT * FROM times")
            con.execute("CHECKPOINT")
        else:
            out.mkdir()
            con.execute(f"COPY ({sorted_rows}) TO {_literal(out / 'registry.parquet')} (FORMAT parquet)")
            stored = _literal(out / "registry.parquet")
            con.execute(f"CREATE VIEW il2_registry AS SELECT * FROM read_parquet({stored})")
            con.execute(f"COPY ({_values_sql(con, 'il2_registry', kinds)}) TO {_literal(out / 'values.parquet')} "
                        "(FORMAT parquet)")
            con.execute(f"COPY times TO {_literal(out / 'times.parquet')} (FORMAT parquet)")
    except duckdb.OutOfMemoryException:
        raise DataSourceError(f"Building the registry store needed more memory than {memory_limit} "
                              "(registry.memory_limit).") from None
    except duckdb.Error as exc:
        raise DataSourceError(f"Cannot build the registry store: {exc}") from None
    finally:
        con.close()


@dataclass
class _Database:
    """A store database open in this process: its read-only root connection and current settings."""

    root: Any
    temp_directory: str
    threads: int
    memory_limit: str
    users: int = 0


_DATABASES: dict[str, _Database] = {}
_DATABASES_LOCK = threading.Lock()


def connect(path: Path, threads: int, memory_limit: str, make_temp_directory: Callable[[], str]
            ) -> tuple[Any, Callable[[], None], str]:
    """A read-only connection to the ``"duckdb-file"`` store at ``path``, shared by the process's sources.

    DuckDB opens a database file once per process, with one configuration. The first source opens it
    (its spill directory from ``make_temp_directory``, kept until the last source closes); a later
    source gets a connection to the same database and its ``threads`` and ``memory_limit`` replace
    the database's (the most recently opened source's settings apply: one buffer pool serves them all).
    Returns (connection, release, spill directory in use); ``release`` closes the connection.
    """
    import duckdb

    key = str(Path(path).resolve())
    with _DATABASES_LOCK:
        db = _DATABASES.get(key)
        if db is None:
            temp = make_temp_directory()
            config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                      "threads": int(threads), "memory_limit": memory_limit, "temp_directory": temp}
            try:
                root = duckdb.connect(key, read_only=True, config=config)
            except BaseException as exc:
                if temp:
                    shutil.rmtree(temp, ignore_errors=True)
                if isinstance(exc, duckdb.Error):
                    raise DataSourceError(_connect_message(Path(key), exc)) from None
                raise
            db = _DATABASES[key] = _Database(root, temp, int(threads), memory_limit)
        elif (int(threads), memory_limit) != (db.threads, db.memory_limit):
            _apply_settings(db, int(threads), memory_limit)
        con = db.root.cursor()
        db.users += 1

    def release() -> None:
        with _DATABASES_LOCK:
            con.close()
            db.users -= 1
            if db.users == 0:
                _DATABASES.pop(key, None)
                db.root.close()
                if db.temp_directory:
                    shutil.rmtree(db.temp_directory, ignore_errors=True)

    return con, release, db.temp_directory


def _apply_settings(db: _Database, threads: int, memory_limit: str) -> None:
    import duckdb

    try:
        db.root.execute("SET memory_limit = ?", [memory_limit])
        db.root.execute("SET threads = ?", [threads])
    except duckdb.Error as exc:
        db.root.execute("SET memory_limit = ?", [db.memory_limit])
        db.root.execute("SET threads = ?", [db.threads])
        raise DataSourceError(_invalid_settings_message(("threads", "memory_limit"), exc)) from None
    db.threads, db.memory_limit = threads, memory_limit


def _connect_message(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "different configuration" in text:  # opened outside connect(), e.g. read-write, in this process
        return (f"The registry store {path.name} is already open in this process outside the registry source, "
                "with other DuckDB settings; close that connection first.")
    if "lock" in text.lower():
        return f"The registry store {path.name} is open for writing by another process: {text}"
    return _invalid_settings_message(("threads", "memory_limit", "temp_directory"), exc)


def _invalid_settings_message(settings: tuple[str, ...], exc: Exception) -> str:
    return f"The registry settings {' / '.join(settings)} are not valid for DuckDB: {exc}"


def time_code_column(time: str) -> str:
    """Name of the stored integer code of a time column (its rank among the column's distinct values)."""
    return f"{time}__code"


def _times_sql(timed: list[str]) -> str:
    """(column, code, value): the distinct values of each time column, coded 0, 1, ... in order."""
    parts = [f"SELECT '{t}' AS \"column\", CAST(row_number() OVER (ORDER BY v) - 1 AS INTEGER) AS code, v AS value "
             f'FROM (SELECT DISTINCT "{t}" AS v FROM src WHERE "{t}" IS NOT NULL)' for t in timed]
    return " UNION ALL ".join(parts) or \
        'SELECT NULL::VARCHAR AS "column", NULL::INTEGER AS code, NULL::DOUBLE AS value WHERE FALSE'


def read_times(con, relation: str = "il2_times") -> dict:
    """The time dictionary of a store: time column -> values by code (a float array)."""
    import numpy as np

    out = {}
    rows = con.execute(f'SELECT "column", code, value FROM {relation} ORDER BY "column", code').fetchall()
    for column in {r[0] for r in rows}:
        out[column] = np.array([r[2] for r in rows if r[0] == column], dtype=float)
    return out


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _values_sql(con, relation: str, kinds: dict[str, sql.ColumnKind]) -> str:
    """SELECT of (column, value, norm) for every text column with at most :data:`MAX_DICTIONARY` values."""
    parts = []
    for name, kind in kinds.items():
        if kind != "string" or not sql.is_identifier(name):
            continue
        col = sql.quote_identifier(name, kinds)
        n = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {col} FROM {relation} LIMIT {MAX_DICTIONARY + 1})"
                        ).fetchone()[0]
        if n <= MAX_DICTIONARY:
            parts.append(f"SELECT '{name}' AS \"column\", value, {sql.norm_sql('value')} AS norm "
                         f"FROM (SELECT DISTINCT CAST({col} AS VARCHAR) AS value FROM {relation} "
                         f"WHERE {col} IS NOT NULL)")
    if not parts:
        return 'SELECT NULL::VARCHAR AS "column", NULL::VARCHAR AS value, NULL::VARCHAR AS norm WHERE FALSE'
    return " UNION ALL ".join(parts)


def read_values(con, relation: str = VALUES_TABLE) -> dict[str, list[tuple[str, str]]]:
    """The dictionary of a store: column -> [(raw value, normalised value)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for column, value, norm in con.execute(f'SELECT "column", value, norm FROM {relation}').fetchall():
        out.setdefault(column, []).append((value, norm))
    return out
