"""A PostgreSQL registry table through SQLAlchemy + psycopg 3.

Queries run through psycopg's ``RawCursor``, which sends PostgreSQL's native ``$n`` placeholders
with the values bound server-side: the SQL text is the one DuckDB receives.

Every new connection is set to ``statement_timeout`` (the server cancels a longer statement) and
``default_transaction_read_only = on`` (the dashboard only reads), with ``SET`` right after
connecting, so options in the URL and poolers that refuse startup options are left alone.
"""
from __future__ import annotations

import pandas as pd

from il2lib.sources import sql
from il2lib.sources.base import DEFAULT_ROW_LIMIT
from il2lib.sources.errors import DataSourceError, QueryTimeoutError
from il2lib.sources.sql_source import DEFAULT_STATEMENT_TIMEOUT, DEFAULT_TABLE, SqlSource


class PostgresSource(SqlSource):
    """Patient rows in a PostgreSQL table (``schema.table`` or ``table``) reached by a SQLAlchemy URL.

    ``url`` is e.g. ``postgresql+psycopg://reader@db.example/registry``; it comes from the
    deployer's configuration, never from a page. Error messages never include it.
    ``statement_timeout`` is in seconds (0: no limit); a query cancelled by it raises
    :class:`~il2lib.sources.errors.QueryTimeoutError`.
    """

    kind = "postgres"

    def __init__(self, url: str, table: str = DEFAULT_TABLE, label: str | None = None,
                 row_limit: int = DEFAULT_ROW_LIMIT, connect_args: dict | None = None,
                 statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT):
        import sqlalchemy
        import sqlalchemy.event

        super().__init__(label or f"PostgreSQL: {table}", row_limit)
        self.relation = sql.quote_relation(table)
        parts = table.split(".")
        self._schema, self._table = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        self.statement_timeout = _seconds(statement_timeout)
        try:
            self._engine = sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args or {})
        except Exception as exc:  # noqa: BLE001  (bad URL or driver: say which, never echo the URL)
            raise DataSourceError(f"The registry database URL is not usable ({type(exc).__name__}).") from None
        # Session settings on each new pooled connection, the pattern of SQLAlchemy's PostgreSQL dialect
        # docs ("Setting Alternate Search Paths on Connect"). Integers only are formatted into the SQL.
        milliseconds = max(1, round(self.statement_timeout * 1000)) if self.statement_timeout else 0
        settings = (f"SET statement_timeout = {milliseconds}", "SET default_transaction_read_only = on")
        sqlalchemy.event.listen(self._engine, "connect", lambda dbapi_con, _record: _apply(dbapi_con, settings),
                                insert=True)
        kinds = self.column_kinds()
        if not kinds:
            raise DataSourceError(f"The registry database has no table {table!r} visible to this user.")

    def _raw(self, text: str, params: tuple) -> pd.DataFrame:
        import psycopg

        try:
            pooled = self._engine.raw_connection()
        except Exception as exc:  # noqa: BLE001
            raise DataSourceError(f"Cannot connect to the registry database ({type(exc).__name__}).") from None
        try:
            with psycopg.RawCursor(pooled.driver_connection) as cursor:
                cursor.execute(text, params)
                names = [d.name for d in cursor.description]
                rows = cursor.fetchall()
            pooled.driver_connection.rollback()  # read-only use: end the transaction
        except psycopg.errors.QueryCanceled as exc:
            pooled.driver_connection.rollback()
            if self.statement_timeout:
                raise QueryTimeoutError(self.statement_timeout) from None
            raise DataSourceError(f"The registry query was cancelled: {str(exc).splitlines()[0]}") from None
        except psycopg.Error as exc:
            pooled.driver_connection.rollback()
            raise DataSourceError(f"The registry query failed: {str(exc).splitlines()[0]}") from None
        finally:
            pooled.close()
        return pd.DataFrame.from_records(rows, columns=names)

    def _read_kinds(self) -> dict[str, sql.ColumnKind]:
        text = ("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 "
                "AND table_schema = COALESCE($2, current_schema()) ORDER BY ordinal_position")
        frame = self._raw(text, (self._table, self._schema))
        return {name: sql.kind_of_sql_type(t) for name, t in zip(frame["column_name"], frame["data_type"])}

    def execute(self, query: sql.Query) -> pd.DataFrame:
        return self._raw(query.text, query.params)

    def close(self) -> None:
        self._engine.dispose()


def _seconds(value) -> float:
    """``statement_timeout`` from the configuration: a number of seconds, 0 or more."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds < 24 * 3600:
        raise DataSourceError(f"registry.statement_timeout must be a number of seconds (e.g. 30), not {value!r}.")
    return seconds


def _apply(dbapi_connection, statements: tuple[str, ...]) -> None:
    """Run session ``SET`` statements on a new psycopg connection, outside a transaction."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        for statement in statements:
            dbapi_connection.execute(statement)
    finally:
        dbapi_connection.autocommit = autocommit
