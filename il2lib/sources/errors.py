"""Errors of the registry data sources (all :class:`il2lib.errors.Il2libError`)."""
from il2lib.errors import Il2libError


class DataSourceError(Il2libError):
    """The registry database or file cannot be reached or read (message safe to show: no credentials)."""


class UnsafeQueryError(DataSourceError, ValueError):
    """A column or table name that is not a known, plain identifier was offered to the SQL builder."""


class RowLimitError(DataSourceError):
    """A patient-level view asked for more filtered rows than the configured row limit."""

    def __init__(self, n_selected: int, limit: int):
        self.n_selected, self.limit = int(n_selected), int(limit)
        super().__init__(f"The filters select {self.n_selected:,} patients; patient-level views fetch at most "
                         f"{self.limit:,} rows from the registry. Narrow the filters to use this view.")


class QueryTimeoutError(DataSourceError):
    """The registry database stopped a query that ran longer than its ``statement_timeout``."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        super().__init__(f"The registry query took longer than the {self.seconds:g} s limit (statement_timeout); "
                         "narrow the filters or ask the administrator to raise registry.statement_timeout.")
