"""Registry data sources: in-memory DataFrame, Parquet/CSV through DuckDB, PostgreSQL, Apache Spark.

Survival and response statistics are computed from counts (:mod:`il2lib.survival.counts`); the
counts are produced where the data lives, by parameterised SQL built from the schema's column
names (:mod:`il2lib.sources.sql`). :func:`open_source` builds a source from a deployer's
configuration mapping (e.g. the ``[registry]`` table of ``.streamlit/secrets.toml``).
"""
from __future__ import annotations

from typing import Any, Mapping

from il2lib.sources.base import DEFAULT_ROW_LIMIT, DataFrameSource, DataSource, endpoint_columns, with_schema_dtypes
from il2lib.sources.errors import DataSourceError, QueryTimeoutError, RowLimitError, UnsafeQueryError
from il2lib.sources.sql_source import DEFAULT_STATEMENT_TIMEOUT, DEFAULT_TABLE, DuckDBSource


def __getattr__(name: str):
    if name == "PostgresSource":  # imports SQLAlchemy only when used
        from il2lib.sources.postgres import PostgresSource

        return PostgresSource
    if name == "SparkSource":  # imports pyspark only when used
        from il2lib.sources.spark import SparkSource

        return SparkSource
    raise AttributeError(f"module 'il2lib.sources' has no attribute {name!r}")


def open_source(config: Mapping[str, Any]) -> DataSource:
    """A registry source from configuration.

    ``{"kind": "parquet" | "csv", "path": ..., "row_limit": 200000}`` (DuckDB) or
    ``{"kind": "postgres", "url": "postgresql+psycopg://...", "table": "il2_registry"}``.
    Optional: ``label``, ``row_limit`` (patient-level views); DuckDB: ``memory_limit``, ``threads``,
    ``temp_directory``, ``store`` ("files", "duckdb-file", "parquet"), ``store_directory`` and
    ``store_memory_limit`` (see :class:`DuckDBSource`); PostgreSQL: ``statement_timeout`` in seconds
    (see :class:`~il2lib.sources.postgres.PostgresSource`).
    ``{"kind": "spark", "path": "/data/registry/" | "table": "catalog.schema.table", "remote": "sc://host:15002"}``
    (Apache Spark; without ``remote`` a local session, ``master`` default ``local[2]``; optional
    ``spark_config`` mapping and ``statement_timeout``; see :class:`~il2lib.sources.spark.SparkSource`).
    """
    kind = str(config.get("kind", "")).lower()
    label = config.get("label")
    row_limit = int(config.get("row_limit", DEFAULT_ROW_LIMIT))
    if kind in ("parquet", "csv"):
        if not config.get("path"):
            raise DataSourceError("The registry configuration needs a 'path' for a Parquet/CSV source.")
        return DuckDBSource(config["path"], kind, label, row_limit, config.get("threads"), config.get("memory_limit"),
                            config.get("temp_directory"), config.get("store"), config.get("store_directory"),
                            config.get("store_memory_limit"))
    if kind in ("postgres", "postgresql"):
        if not config.get("url"):
            raise DataSourceError("The registry configuration needs a 'url' for a PostgreSQL source.")
        from il2lib.sources.postgres import PostgresSource

        return PostgresSource(config["url"], config.get("table", DEFAULT_TABLE), label, row_limit,
                              statement_timeout=config.get("statement_timeout", DEFAULT_STATEMENT_TIMEOUT))
    if kind == "spark":
        from il2lib.sources.spark import SparkSource, spark_session

        if not config.get("path") and not config.get("table"):
            raise DataSourceError("The registry configuration needs a 'path' (Parquet) or 'table' for a Spark source.")
        spark = spark_session(config.get("remote"), config.get("master"), config.get("spark_config"))
        return SparkSource(spark, config.get("path"), config.get("table"), label, row_limit,
                           statement_timeout=config.get("statement_timeout", DEFAULT_STATEMENT_TIMEOUT))
    raise DataSourceError(f"Unknown registry kind {kind!r}: use 'parquet', 'csv', 'postgres' or 'spark'.")


__all__ = ["DEFAULT_ROW_LIMIT", "DEFAULT_STATEMENT_TIMEOUT", "DEFAULT_TABLE", "DataFrameSource", "DataSource",
           "DataSourceError", "DuckDBSource", "PostgresSource", "QueryTimeoutError", "RowLimitError", "SparkSource",
           "UnsafeQueryError", "endpoint_columns", "open_source", "with_schema_dtypes"]
