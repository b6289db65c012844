"""The data-source interface and the in-memory DataFrame source (today's upload path, the default).

A registry table holds the analysis-ready patient rows: the columns of ``Cohort.data`` (schema
and derived names, e.g. ``os_months``, ``os_event``, ``bor``, ``prior_pd1_pdl1``). Every source
answers the same questions:

* :meth:`DataSource.n_patients` -- how many rows (patients) pass a :class:`~il2lib.cohort.CohortFilter`;
* :meth:`DataSource.survival_counts` -- events and censorings per (stratum, group, time), from
  which Kaplan-Meier, log-rank, RMST and medians follow (:mod:`il2lib.survival.counts`);
* :meth:`DataSource.category_counts` -- patients per (group, category), e.g. best response;
* :meth:`DataSource.fetch_rows` -- the filtered patient rows themselves, under a row limit, for
  patient-level views (swimmer plot, Cox, Table 1 continuous tests).

Each source reduces to the same aggregate (one row per stratum, group, time, event with ``n``,
NULL keys kept) and the same :func:`~il2lib.survival.counts.counts_from_aggregate`, so an
in-memory frame, a Parquet folder and a PostgreSQL table give identical numbers.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter, line_groups
from il2lib.errors import InsufficientDataError
from il2lib.sources import sql
from il2lib.sources.errors import RowLimitError, UnsafeQueryError
from il2lib.survival.counts import AGGREGATE_COLUMNS, SurvivalCounts, counts_from_aggregate

#: Default row limit of patient-level views on a registry source (deployer-configurable).
DEFAULT_ROW_LIMIT = 200_000


def endpoint_columns(endpoint: str) -> tuple[str, str]:
    """(time column, event column) of a survival endpoint key of :data:`il2lib.schema.ENDPOINTS`."""
    if endpoint not in schema.ENDPOINTS:
        raise InsufficientDataError(f"Unknown endpoint {endpoint!r}; choose one of {', '.join(schema.ENDPOINTS)}.")
    ep = schema.ENDPOINTS[endpoint]
    return ep.time, ep.event


class DataSource(ABC):
    """Where the patient rows live. Subclasses: :class:`DataFrameSource`, ``DuckDBSource``, ``PostgresSource``."""

    kind: str = "abstract"

    def __init__(self, label: str, row_limit: int = DEFAULT_ROW_LIMIT):
        self.label = label
        self.row_limit = int(row_limit)

    @abstractmethod
    def column_kinds(self) -> dict[str, sql.ColumnKind]:
        """Column name -> kind ("bool", "number", "string", "date") of the registry table."""

    @abstractmethod
    def n_patients(self, f: CohortFilter | None = None) -> int:
        """Rows (patients) passing ``f`` (all rows when ``f`` is None or empty)."""

    @abstractmethod
    def _survival_aggregate(self, time: str, event: str, f, group, strata) -> pd.DataFrame:
        """The aggregate of :data:`~il2lib.survival.counts.AGGREGATE_COLUMNS`."""

    @abstractmethod
    def category_counts(self, column: str, f: CohortFilter | None = None, group: str | None = None) -> pd.DataFrame:
        """Patients per (group, value) of ``column``: columns group, value, n (NULL = missing)."""

    @abstractmethod
    def _rows(self, f, columns, limit: int) -> pd.DataFrame:
        """At most ``limit`` filtered rows."""

    def survival_counts(self, endpoint: str, f: CohortFilter | None = None, group: str | None = None,
                        strata: str | None = None) -> SurvivalCounts:
        """Counts of an endpoint ("os", "pfs", "dor") for the patients passing ``f``.

        ``group`` / ``strata``: a column name (the line of IL-2 counts as its line group 1 / 2 / 3+).
        Missing time, event, group or stratum values are excluded and counted on the result.
        """
        time, event = endpoint_columns(endpoint)
        kinds = self.column_kinds()
        for name in (time, event, group, strata):
            if name is not None and name not in kinds:
                sql.quote_identifier(name, kinds)  # raises UnsafeQueryError naming the column
        frame = self._survival_aggregate(time, event, f, group, strata)
        return counts_from_aggregate(frame, grouped=group is not None, stratified=strata is not None)

    def fetch_rows(self, f: CohortFilter | None = None, columns=None, limit: int | None = None) -> pd.DataFrame:
        """The filtered patient rows (``columns`` or all) with the schema's dtypes.

        Raises :class:`~il2lib.sources.errors.RowLimitError` when more than ``limit`` (default:
        the source's row limit) rows pass the filter: nothing is fetched then.
        """
        limit = self.row_limit if limit is None else int(limit)
        n = self.n_patients(f)
        if n > limit:
            raise RowLimitError(n, limit)
        if columns is not None:
            kinds = self.column_kinds()
            for name in columns:
                sql.quote_identifier(name, kinds)
        return with_schema_dtypes(self._rows(f, columns, limit))

    def close(self) -> None:
        """Release connections (a no-op for in-memory data)."""


def with_schema_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast columns to the dtypes ``Cohort.data`` uses (nullable booleans and integers, datetimes)."""
    from il2lib.validation.patients import empty_patient_frame

    template = empty_patient_frame().dtypes
    out = {}
    for name in frame.columns:
        values = frame[name]
        if name in template.index and values.dtype != template[name]:
            target = template[name]
            if str(target) == "object":
                values = values.astype(object).where(values.notna(), None)
            elif str(target).startswith("datetime"):
                values = pd.to_datetime(values)
            else:
                values = values.astype(object).where(values.notna(), None).astype(target)
        out[name] = values
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


class DataFrameSource(DataSource):
    """Patient rows already in memory (an uploaded file, a bundled sample): the default source."""

    kind = "dataframe"

    def __init__(self, data: pd.DataFrame, label: str = "In-memory data", row_limit: int | None = None):
        super().__init__(label, len(data) if row_limit is None else row_limit)
        self.data = data

    def column_kinds(self) -> dict[str, sql.ColumnKind]:
        return {str(c): _pandas_kind(self.data[c]) for c in self.data.columns}

    def _filtered(self, f) -> pd.DataFrame:
        if f is not None and not isinstance(f, CohortFilter):
            raise UnsafeQueryError("A filter must be a CohortFilter.")
        return self.data if f is None or f.is_empty() else apply_filter(self.data, f)

    def n_patients(self, f: CohortFilter | None = None) -> int:
        return int(len(self._filtered(f)))

    def _key(self, df: pd.DataFrame, name: str | None) -> pd.Series:
        if name is None:
            return pd.Series(np.zeros(len(df), dtype=np.int64), index=df.index)
        if name == schema.LINE_OF_IL2:
            return line_groups(df[name])
        return df[name].astype(object).where(df[name].notna(), None)

    def _survival_aggregate(self, time, event, f, group, strata) -> pd.DataFrame:
        df = self._filtered(f)
        keys = pd.DataFrame({"stratum": self._key(df, strata), "group": self._key(df, group),
                             "time": df[time].astype("float64"),
                             "event": df[event].astype(object).where(df[event].notna(), None)})
        return keys.groupby(list(AGGREGATE_COLUMNS[:4]), dropna=False, sort=False).size().rename("n").reset_index()

    def category_counts(self, column: str, f: CohortFilter | None = None, group: str | None = None) -> pd.DataFrame:
        df = self._filtered(f)
        if column not in df.columns or (group is not None and group not in df.columns):
            sql.quote_identifier(column if column not in df.columns else group, self.column_kinds())
        keys = pd.DataFrame({"group": self._key(df, group), "value": self._key(df, column)})
        out = keys.groupby(["group", "value"], dropna=False, sort=False).size().rename("n").reset_index()
        if group is None:
            out["group"] = None
        return out

    def _rows(self, f, columns, limit) -> pd.DataFrame:
        df = self._filtered(f)
        return (df if columns is None else df[list(columns)]).head(limit).reset_index(drop=True)


def _pandas_kind(values: pd.Series) -> sql.ColumnKind:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    return "string"
