"""Parameterised SQL for the registry sources: the same text runs on DuckDB and PostgreSQL.

Identifiers come only from the schema's column names or from the registry table's own column
list (checked against both, then double-quoted); every value travels as a positional parameter
(``$1``, ``$2``, ...: native in DuckDB and, through psycopg's ``RawCursor``, in PostgreSQL). No
user-supplied text is ever pasted into the SQL.

:func:`where_clause` is the SQL twin of :func:`il2lib.cohort.apply_filter`: the same rows pass,
missing values never pass a restriction on their column.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Literal

from il2lib import schema
from il2lib.cohort import CohortFilter, _canon_line, _norm_value
from il2lib.sources.errors import UnsafeQueryError

ColumnKind = Literal["bool", "number", "string", "date"]
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: SQL that folds a text value the way :func:`il2lib.schema.norm` does (lower, trim, runs of space _ - . to one space).
_NORM_SQL = "trim(regexp_replace(lower(trim(CAST({col} AS VARCHAR))), '[[:space:]_.-]+', ' ', 'g'))"
_LINE_GROUP_SQL = ("(CASE WHEN {col} >= 3 THEN '3+' WHEN {col} >= 2 THEN '2' WHEN {col} >= 1 THEN '1' "
                   "ELSE NULL END)")


@dataclass(frozen=True)
class Query:
    """SQL text with ``$n`` placeholders and its parameters, in order."""

    text: str
    params: tuple = ()


def quote_identifier(name: str, allowed: frozenset[str] | set[str]) -> str:
    """``"name"`` for a column that is a plain lower-case identifier AND one of ``allowed``.

    Anything else (quotes, spaces, semicolons, upper case, unknown names) raises
    :class:`~il2lib.sources.errors.UnsafeQueryError`: names are checked, never escaped.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or name not in allowed:
        shown = repr(name)[:60]
        raise UnsafeQueryError(f"Column {shown} is not a column of the registry table; it cannot be used in a query.")
    return f'"{name}"'


def is_identifier(name) -> bool:
    """True for a plain lower-case identifier (the only column names queries use)."""
    return isinstance(name, str) and bool(_IDENTIFIER.match(name))


def norm_sql(col: str) -> str:
    """SQL normalising a (quoted) text expression as :func:`il2lib.schema.norm` does."""
    return _NORM_SQL.format(col=col)


def quote_relation(name: str) -> str:
    """``"table"`` or ``"schema"."table"`` for a deployer-configured table name (plain identifiers only)."""
    parts = name.split(".") if isinstance(name, str) else []
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise UnsafeQueryError(f"Table name {repr(name)[:60]} must be a plain lower-case identifier "
                               "(optionally schema.table).")
    return ".".join(f'"{p}"' for p in parts)


class _Params:
    def __init__(self) -> None:
        self.values: list = []

    def add(self, value) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def many(self, values) -> str:
        return "(" + ", ".join(self.add(v) for v in values) + ")"


#: Raw values of a text column with their normalised forms (``_NORM_SQL``, computed by the engine), or None.
ValueLookup = Callable[[str], "list[tuple[str, str]] | None"]


def where_clause(f: CohortFilter | None, kinds: dict[str, ColumnKind], params: _Params,
                 lookup: ValueLookup | None = None) -> str:
    """The WHERE condition (``TRUE`` when the filter is empty) for ``f`` on a table with ``kinds``.

    A restriction on a column the table lacks keeps no row (``FALSE``), as in ``apply_filter``.
    ``lookup``: a stored form's dictionary of a text column; a filter on that column then compares
    the raw values whose normalised form is wanted (the same rows, no per-row normalisation).
    """
    if f is None or f.is_empty():
        return "TRUE"
    allowed = set(kinds)
    parts: list[str] = []

    def column(name: str) -> str | None:
        return quote_identifier(name, allowed) if name in allowed else None

    simple = ((schema.DISEASE, f.disease), (schema.PRIOR_PD1, f.prior_pd1_pdl1),
              (schema.PRIOR_PD1_AGENT, f.prior_pd1_agent), (schema.SEX, f.sex), (schema.SOURCE, f.source))
    for name, values in simple:
        if values:
            col = column(name)
            parts.append(f"{col} IN {params.many(values)}" if col else "FALSE")
    if f.line_of_il2:
        col = column(schema.LINE_OF_IL2)
        groups = [g for g in (_canon_line(v) for v in f.line_of_il2) if g]
        parts.append(f"{line_group_sql(col)} IN {params.many(groups)}" if col and groups else "FALSE")
    if f.age_range is not None:
        col = column(schema.AGE)
        lo, hi = (float(v) for v in f.age_range)
        parts.append(f"({col} >= {params.add(lo)} AND {col} <= {params.add(hi)})" if col else "FALSE")
    if f.ecog:
        col = column(schema.ECOG)
        parts.append(f"CAST({col} AS DOUBLE PRECISION) IN {params.many(float(e) for e in f.ecog)}"
                     if col else "FALSE")
    for name, wanted_values in f.extra:
        parts.append(_extra_condition(name, wanted_values, kinds, params, lookup))
    return " AND ".join(f"({p})" for p in parts)


def line_group_sql(col: str) -> str:
    """SQL of :func:`il2lib.cohort.line_group` on a quoted column: '1', '2', '3+' or NULL."""
    return _LINE_GROUP_SQL.format(col=col)


def _extra_condition(name: str, values, kinds: dict[str, ColumnKind], params: _Params,
                     lookup: ValueLookup | None = None) -> str:
    """A filter on another column: compared as normalised text, booleans as yes/no, numbers as numbers."""
    if name not in kinds:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            quote_identifier(name, set())  # raises: an unsafe name is refused, not quoted
        return "FALSE"  # a safe name the table lacks keeps no row, as in apply_filter
    col = quote_identifier(name, set(kinds))
    wanted = sorted({_norm_value(name, str(v)) for v in values})
    kind = kinds[name]
    if kind == "bool":
        flags = [v == "yes" for v in wanted if v in ("yes", "no")]
        return f"{col} IN {params.many(flags)}" if flags else "FALSE"
    if kind == "number":
        numbers = [x for x in (_as_number(v) for v in wanted) if x is not None]
        return f"CAST({col} AS DOUBLE PRECISION) IN {params.many(numbers)}" if numbers else "FALSE"
    known = lookup(name) if lookup is not None else None
    if known is not None:
        raw = sorted({value for value, normed in known if normed in wanted})
        return f"{col} IN {params.many(raw)}" if raw else "FALSE"
    return f"{_NORM_SQL.format(col=col)} IN {params.many(wanted)}"


def _as_number(text: str) -> float | None:
    """The number whose display form (``_filter_strings``) equals ``text``, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    shown = str(int(value)) if value.is_integer() else f"{value:g}"
    return value if shown == text else None


def group_expression(name: str | None, kinds: dict[str, ColumnKind]) -> str:
    """SQL of a grouping column (the line of IL-2 as its line group), ``NULL`` for no grouping."""
    if name is None:
        return "NULL"
    col = quote_identifier(name, set(kinds))
    return line_group_sql(col) if name == schema.LINE_OF_IL2 else col


def survival_aggregate(relation: str, kinds: dict[str, ColumnKind], time: str, event: str,
                       f: CohortFilter | None = None, group: str | None = None, strata: str | None = None,
                       values: ValueLookup | None = None) -> Query:
    """``SELECT stratum, group, time, event, COUNT(*) AS n ... GROUP BY`` the four keys.

    NULL keys are kept as their own rows, so missing values can be excluded and counted exactly
    as the row path does (:func:`il2lib.survival.counts.counts_from_aggregate`).
    """
    params = _Params()
    allowed = set(kinds)
    keys = {"stratum": group_expression(strata, kinds), "group": group_expression(group, kinds),
            "time": quote_identifier(time, allowed), "event": quote_identifier(event, allowed)}
    select = ", ".join(f'{expr} AS "{alias}"' for alias, expr in keys.items())
    by = ", ".join(str(i + 1) for i, expr in enumerate(keys.values()) if expr != "NULL")
    text = (f'SELECT {select}, COUNT(*) AS "n" FROM {relation} WHERE {where_clause(f, kinds, params, values)} '
            f"GROUP BY {by}")
    return Query(text, tuple(params.values))


def category_aggregate(relation: str, kinds: dict[str, ColumnKind], column: str, f: CohortFilter | None = None,
                       group: str | None = None, values: ValueLookup | None = None) -> Query:
    """``SELECT group, value, COUNT(*) AS n ... GROUP BY`` both (NULLs kept): response tables from counts."""
    params = _Params()
    value = group_expression(column, kinds)
    keys = {"group": group_expression(group, kinds), "value": value}
    select = ", ".join(f'{expr} AS "{alias}"' for alias, expr in keys.items())
    by = ", ".join(str(i + 1) for i, expr in enumerate(keys.values()) if expr != "NULL")
    text = (f'SELECT {select}, COUNT(*) AS "n" FROM {relation} WHERE {where_clause(f, kinds, params, values)} '
            f"GROUP BY {by}")
    return Query(text, tuple(params.values))


def count_rows(relation: str, kinds: dict[str, ColumnKind], f: CohortFilter | None = None,
               values: ValueLookup | None = None) -> Query:
    """``SELECT COUNT(*)`` of the rows that pass ``f``."""
    params = _Params()
    return Query(f'SELECT COUNT(*) AS "n" FROM {relation} WHERE {where_clause(f, kinds, params, values)}',
                 tuple(params.values))


def select_rows(relation: str, kinds: dict[str, ColumnKind], columns, f: CohortFilter | None,
                limit: int, values: ValueLookup | None = None) -> Query:
    """The filtered rows (``columns`` or all), in file order when ``file_row`` exists, at most ``limit``."""
    params = _Params()
    allowed = set(kinds)
    names = list(kinds) if columns is None else list(columns)
    select = ", ".join(quote_identifier(c, allowed) for c in names)
    order = quote_identifier(schema.FILE_ROW, allowed) if schema.FILE_ROW in allowed else \
        (quote_identifier(schema.PATIENT_ID, allowed) if schema.PATIENT_ID in allowed else "1")
    text = (f"SELECT {select} FROM {relation} WHERE {where_clause(f, kinds, params, values)} "
            f"ORDER BY {order} LIMIT {params.add(int(limit))}")
    return Query(text, tuple(params.values))


def kind_of_sql_type(type_name: str) -> ColumnKind:
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
