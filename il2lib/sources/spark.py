"""A registry table in Apache Spark: a local session (``local[2]``), a cluster, or Spark Connect (``sc://``).

The queries are those of :mod:`il2lib.sources.sql` (the text DuckDB and PostgreSQL run), written in
Spark SQL's dialect by :func:`spark_query`: identifiers in backticks, and every ``$n`` placeholder
a named parameter ``:pn`` passed in ``spark.sql(text, args=...)``, so filter values stay bound
parameters here too. Only the per-(group, time) counts are collected to the dashboard.

The session runs in UTC (``spark.sql.session.timeZone``). pyspark is imported only when a Spark
source is opened (``requirements-spark.txt``); a local session needs Java 17+.
"""
from __future__ import annotations

import re
import threading
import uuid

import pandas as pd

from il2lib.sources import sql
from il2lib.sources.base import DEFAULT_ROW_LIMIT
from il2lib.sources.errors import DataSourceError, QueryTimeoutError, UnsafeQueryError
from il2lib.sources.postgres import _seconds
from il2lib.sources.sql_source import DEFAULT_STATEMENT_TIMEOUT, SqlSource

#: Settings of a local session the dashboard starts itself (a cluster or Spark Connect keeps its own).
LOCAL_CONFIG = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "1g",
                "spark.sql.shuffle.partitions": "4", "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
                "spark.sql.session.timeZone": "UTC"}
DEFAULT_MASTER = "local[2]"
#: Seconds to wait for a Spark Connect server to accept a connection.
CONNECT_TIMEOUT = 10.0

_QUOTED = re.compile(r'"([a-z_][a-z0-9_]{0,62})"')
_PLACEHOLDER = re.compile(r"\$(\d+)")
_LIMIT = re.compile(r"LIMIT \$(\d+)$")


def spark_query(query: sql.Query) -> tuple[str, dict]:
    """(Spark SQL text, named parameters) of a query of :mod:`il2lib.sources.sql`.

    The text holds no value: the ``$n`` placeholders become ``:pn`` (the row limit, an integer the
    code sets, is written as one). Identifiers were checked against the table's columns by
    :mod:`il2lib.sources.sql` before they were double-quoted; here they are back-quoted.
    """
    text, params = query.text, list(query.params)
    limit = _LIMIT.search(text)
    if limit:
        text = text[:limit.start()] + f"LIMIT {int(params[int(limit.group(1)) - 1])}"
    text = _QUOTED.sub(r"`\1`", text)
    text = (text.replace("AS DOUBLE PRECISION", "AS DOUBLE").replace("AS VARCHAR", "AS STRING")
            .replace("'[[:space:]_.-]+', ' ', 'g'", r"'[\\s_.-]+', ' '"))
    used = {int(n) for n in _PLACEHOLDER.findall(text)}
    text = _PLACEHOLDER.sub(r":p\1", text)
    return text, {f"p{n}": params[n - 1] for n in sorted(used)}


def spark_session(remote: str | None = None, master: str | None = None, config: dict | None = None):
    """A Spark session: Spark Connect at ``remote`` (``sc://host:port``), else a local/cluster session.

    An existing session of this process is reused (its static settings, e.g. driver memory, stay).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataSourceError("The Spark registry needs pyspark: pip install -r requirements-spark.txt.") from None
    try:
        if remote:
            if not str(remote).startswith("sc://"):
                raise DataSourceError("registry.remote must be a Spark Connect URL (sc://host:port).")
            _check_reachable(str(remote))
            spark = SparkSession.builder.remote(str(remote)).getOrCreate()
        else:
            builder = SparkSession.builder.master(master or DEFAULT_MASTER).appName("il2-registry")
            for key, value in {**LOCAL_CONFIG, **(config or {})}.items():
                builder = builder.config(key, str(value))
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("FATAL")  # engine errors come back as DataSourceError messages
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        _quiet_query_loggers()
    except DataSourceError:
        raise
    except Exception as exc:  # noqa: BLE001  (no Java, engine unreachable: a plain message, never the URL)
        where = "the Spark Connect server" if remote else "a local Spark session (Java 17 or newer is needed)"
        raise DataSourceError(f"Cannot start {where}: {_first_line(exc)}") from None
    return spark


class SparkSource(SqlSource):
    """Patient rows in Spark: a Parquet file/folder (``path``) or a catalog table (``table``).

    ``statement_timeout`` (seconds, 0: none): a longer query is interrupted (its Spark jobs
    cancelled) and raises :class:`~il2lib.sources.errors.QueryTimeoutError`.
    """

    kind = "spark"

    def __init__(self, spark, path: str | None = None, table: str | None = None, label: str | None = None,
                 row_limit: int = DEFAULT_ROW_LIMIT, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT):
        if (path is None) == (table is None):
            raise DataSourceError("The Spark registry needs either a 'path' (Parquet) or a 'table' (catalog).")
        if table is not None:
            parts = str(table).split(".")
            if len(parts) > 3:
                raise UnsafeQueryError(f"Table name {repr(table)[:60]} must be catalog.schema.table at most.")
            for part in parts:
                sql.quote_relation(part)  # plain lower-case identifiers only
        name = str(table) if table else str(path).rstrip("/").split("/")[-1]
        super().__init__(label or (f"Spark: {name}" if table else f"Spark Parquet: {name}"), row_limit)
        self.spark = spark
        self.statement_timeout = _seconds(statement_timeout)
        self.last_collected_rows = 0  # rows the last query brought back to the dashboard
        self._view = f"il2_registry_{uuid.uuid4().hex[:12]}"
        self.relation = f"`{self._view}` AS `registry`"  # an alias: Spark would read `WHERE (...)` as one
        try:
            frame = spark.read.parquet(str(path)) if path is not None else spark.table(".".join(
                f"`{p}`" for p in str(table).split(".")))
            self._dtypes = frame.dtypes
            frame.createOrReplaceTempView(self._view)
        except Exception as exc:  # noqa: BLE001
            if "PATH_NOT_FOUND" in str(exc):
                raise DataSourceError(f"Registry path not found: {name}.") from None
            what = f"the registry table {name}" if table else f"the registry files at {name}"
            raise DataSourceError(f"Cannot read {what}: {_first_line(exc)}") from None
        self.column_kinds()

    def _read_kinds(self) -> dict[str, sql.ColumnKind]:
        return {name: sql.kind_of_sql_type(type_name) for name, type_name in self._dtypes}

    def execute(self, query: sql.Query) -> pd.DataFrame:
        text, args = spark_query(query)
        tag = f"il2-{uuid.uuid4().hex[:12]}"
        expired = threading.Event()
        classic = _is_classic(self.spark)

        done = threading.Event()

        def interrupt() -> None:  # cancel until the query returns: jobs started after the first cancel too
            if done.wait(self.statement_timeout):
                return
            expired.set()
            while not done.is_set():
                try:
                    if classic:
                        self.spark.sparkContext.cancelJobGroup(tag)
                    else:
                        self.spark.interruptTag(tag)
                except Exception:  # noqa: BLE001  (the query ended meanwhile)
                    pass
                done.wait(0.2)

        timer = threading.Thread(target=interrupt, daemon=True) if self.statement_timeout else None
        if classic:  # the jobs this thread starts form one group, cancelled together
            self.spark.sparkContext.setJobGroup(tag, "il2 registry query", interruptOnCancel=True)
        else:
            self.spark.addTag(tag)
        try:
            if timer is not None:
                timer.start()
            frame = self.spark.sql(text, args=args).toPandas()
        except Exception as exc:  # noqa: BLE001  (AnalysisException, cancelled jobs, lost connection)
            if expired.is_set():
                raise QueryTimeoutError(self.statement_timeout) from None
            hint = (" (Spark reads no nanosecond timestamps: write the Parquet with microsecond timestamps, e.g. "
                    "pandas to_parquet(..., coerce_timestamps='us'))") if "TIMESTAMP(NANOS" in str(exc) else ""
            raise DataSourceError(f"The registry query failed: {_first_line(exc)}{hint}") from None
        finally:
            done.set()
            if classic:
                for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
                    self.spark.sparkContext.setLocalProperty(key, None)
            else:
                self.spark.removeTag(tag)
        if expired.is_set():  # interrupted as it finished: never hand on a possibly partial result
            raise QueryTimeoutError(self.statement_timeout)
        self.last_collected_rows = len(frame)
        return frame

    def close(self) -> None:
        try:
            self.spark.catalog.dropTempView(self._view)
        except Exception:  # noqa: BLE001  (session already stopped)
            pass


def _check_reachable(remote: str, seconds: float = CONNECT_TIMEOUT) -> None:
    """Fail fast when nothing listens at the Spark Connect address (the client would retry for minutes)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(remote.split(";")[0].replace("sc://", "http://", 1))
        host, port = parts.hostname, parts.port or 15002
    except ValueError:
        raise DataSourceError("registry.remote must be a Spark Connect URL (sc://host:port).") from None
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as exc:
        raise DataSourceError(f"Cannot reach the Spark Connect server at {host}:{port} "
                              f"({exc.strerror or type(exc).__name__}).") from None


def _is_classic(spark) -> bool:
    """True for a session with a JVM in this process (local or cluster), False for Spark Connect."""
    return not type(spark).__module__.startswith("pyspark.sql.connect")


def _quiet_query_loggers() -> None:
    """PySpark logs (and warns about) each failed query with its JVM stack trace; the source reports it as a
    DataSourceError instead."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization", category=UserWarning)

    try:
        from pyspark.logger import PySparkLogger
    except ImportError:
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(exc: Exception) -> str:
    """The first line of an engine error, without the JVM stack trace."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
