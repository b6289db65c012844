"""Per-column coercion of text cells into typed values (no findings built here).

Each function takes the text of one column (the loader passes its distinct cells) and returns the typed column
plus boolean masks of the cells it could not read; :mod:`il2lib.validation` turns masks into findings. The cells
are read in one plain-Python pass (a column costs a few Series, not one per step); a cell that is not a str reads
as the pandas string methods read it (NaN: not missing, unreadable).
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema

DateOrder = Literal["mdy", "dmy"]
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MONTHS.update({"sept": 9, "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
                "august": 8, "september": 9, "october": 10, "november": 11, "december": 12})
_ISO = r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_NUMERIC = r"^(?P<a>\d{1,2})(?P<sep>[/\-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
_DOTTED = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$"
_MON = r"^(?P<d>\d{1,2})[- ](?P<mon>[A-Za-z]{3,9})\.?[- ](?P<y>\d{2}|\d{4})$"
_SERIAL = r"^(?P<n>\d{5})(?:\.0+)?$"
_ISO_RE, _NUMERIC_RE, _DOTTED_RE, _MON_RE, _SERIAL_RE = (re.compile(p) for p in (_ISO, _NUMERIC, _DOTTED, _MON,
                                                                                   _SERIAL))
_BLANKISH = re.compile(r"[\s_\-\.]*")
_DECIMAL_COMMA = re.compile(r"^([+-]?\d+),(\d+)$")
_NS_PER_DAY = 86_400 * 10**9
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_EXCEL_ORDINAL = dt.date(1899, 12, 30).toordinal()
_NS_ORDINALS = (dt.date(1677, 9, 22).toordinal(), dt.date(2262, 4, 11).toordinal())  # midnights datetime64[ns] holds


#: Distinct values from which an all-ASCII text column is checked for missing tokens by pyarrow, not str by str.
ARROW_TEXT_MIN = 10_000
_ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "  # str.isspace and re's \s on ASCII


def _ascii_arrow(raw: pd.Series):
    """The cells as a pyarrow string array when there are many and every one is an ASCII str (where
    pyarrow's trim/lower/regex agree with Python's), else None."""
    if len(raw) < ARROW_TEXT_MIN or pd.api.types.infer_dtype(raw, skipna=False) != "string":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(raw.to_numpy(dtype=object), type=pa.string())
    return array if array.null_count == 0 and pc.all(pc.string_is_ascii(array)).as_py() else None


def missing_mask(raw: pd.Series, keep: frozenset[str] = frozenset()) -> pd.Series:
    """Cells that mean "missing" (empty, NA, N/A, ".", "-", unknown, ...), except values in ``keep``."""
    return _missing_and_padded(raw, keep)[0]


def _missing_and_padded(raw: pd.Series, keep: frozenset[str]) -> tuple[pd.Series, np.ndarray | None]:
    """:func:`missing_mask` and, for a column checked by pyarrow, the mask of its cells that ``str.strip``
    changes (None otherwise)."""
    array = _ascii_arrow(raw)
    if array is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        trimmed = pc.utf8_trim(array, characters=_ASCII_SPACE)
        padded = np.asarray(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(array)), dtype=bool)
        lowered = pc.ascii_lower(trimmed)
        tokens = pa.array(sorted(schema.MISSING_TOKENS - keep), type=pa.string())
        mask = pc.or_(pc.is_in(lowered, value_set=tokens),
                      pc.match_substring_regex(lowered, "^[" + _ASCII_SPACE + "_.-]*$"))
        out = pd.Series(mask.to_numpy(zero_copy_only=False), index=raw.index, dtype=bool)
        del array, trimmed, lowered, mask
        pa.default_memory_pool().release_unused()  # its pages go back to the system before the next steps
        return out, padded
    tokens, blankish = schema.MISSING_TOKENS - keep, _BLANKISH.fullmatch
    # a cell that is not a str is not missing (as the pandas string methods read it)
    lowered = [v.strip().lower() if isinstance(v, str) else None for v in raw.to_numpy(dtype=object)]
    out = [v is not None and (v in tokens or blankish(v) is not None) for v in lowered]
    return pd.Series(np.array(out, dtype=bool), index=raw.index, name=raw.name), None


def to_text(raw: pd.Series, keep: frozenset[str] = frozenset()) -> tuple[pd.Series, pd.Series]:
    """Stripped cells (object), None where missing (:func:`missing_mask`), and that mask; a cell with nothing to
    strip stays the object it is."""
    missing, padded = _missing_and_padded(raw, keep)
    if padded is None:
        stripped = [None if m else _strip(v) for v, m in zip(raw.to_numpy(dtype=object), missing.to_numpy())]
        return pd.Series(stripped, index=raw.index, dtype=object, name=raw.name), missing
    values = raw.to_numpy(dtype=object).copy()
    if padded.any():
        values[padded] = raw[padded].str.strip().to_numpy(dtype=object)
    values[missing.to_numpy()] = None
    return pd.Series(values, index=raw.index, dtype=object), missing


def _strip(v):
    """``str.strip`` of a str; any other cell as ``Series.str.strip`` leaves it (NaN, or the missing value it is)."""
    if isinstance(v, str):
        return v.strip()
    return v if pd.isna(v) is True else np.nan


def _cells(raw: pd.Series, missing: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return raw.to_numpy(dtype=object), missing.to_numpy(dtype=bool)


def _name(raw: pd.Series, missing: pd.Series):
    """The name of a mask combined from ``raw`` and ``missing`` (pandas keeps a name both share)."""
    return raw.name if missing.name == raw.name else None


def by_distinct(cells: np.ndarray, convert) -> np.ndarray:
    """Apply ``convert`` (a Series of distinct strings -> Series) once per distinct cell value."""
    flat = np.asarray(cells, dtype=object).ravel()
    codes, uniques = pd.factorize(flat, use_na_sentinel=False)
    result = convert(pd.Series(uniques, dtype=object).fillna("")).to_numpy()
    return result[codes].reshape(np.shape(cells))


def strip_block(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Stripped cells and the "missing" mask of a whole string frame (vectorised over distinct values)."""
    cells = frame.to_numpy(dtype=object)
    stripped = by_distinct(cells, lambda u: u.astype(str).str.strip())
    missing = by_distinct(cells, lambda u: missing_mask(u.astype(str))).astype(bool)
    return stripped, missing


def to_bool(raw: pd.Series, missing: pd.Series, spec: schema.ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """``boolean`` column and the mask of unreadable cells (1/0, Y/N, yes/no, true/false, T/F)."""
    cells, miss = _cells(raw, missing)
    synonyms = spec.value_synonyms
    is_true, is_false = np.zeros(len(cells), dtype=bool), np.zeros(len(cells), dtype=bool)
    for i, v in enumerate(cells):
        if miss[i] or not isinstance(v, str):
            continue
        lowered, key = v.strip().lower(), schema.norm(v)
        key = synonyms.get(key, key)
        is_true[i] = lowered in schema.BOOL_TRUE or key in schema.BOOL_TRUE
        is_false[i] = lowered in schema.BOOL_FALSE or key in schema.BOOL_FALSE
    unread = ~is_true & ~is_false
    out = pd.arrays.BooleanArray(is_true & ~is_false, unread)
    return pd.Series(out, index=raw.index), pd.Series(~miss & unread, index=raw.index, name=_name(raw, missing))


def category_lookup(spec: schema.ColumnSpec) -> dict[str, str]:
    table = {schema.norm(a): a for a in spec.allowed}
    table.update(spec.value_synonyms)
    return table


def to_category(raw: pd.Series, missing: pd.Series, spec: schema.ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Canonical values (object) and the mask of unrecognised cells."""
    lookup = category_lookup(spec)
    cells, miss = _cells(raw, missing)
    canon = np.array([None if m or not isinstance(v, str) else lookup.get(schema.norm(v)) for v, m in zip(cells, miss)],
                     dtype=object)
    invalid = ~miss & np.equal(canon, None)
    return (pd.Series(canon, index=raw.index, dtype=object, name=raw.name),
            pd.Series(invalid, index=raw.index, name=_name(raw, missing)))


def closest_value(value: str, spec: schema.ColumnSpec) -> str | None:
    """Closest allowed value (difflib) to an unrecognised category value, or None."""
    lookup = category_lookup(spec)
    match = difflib.get_close_matches(schema.norm(value), list(lookup), n=1, cutoff=0.6)
    return lookup[match[0]] if match else None


def _numbers(cells: np.ndarray, miss: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN where not a finite number) and the mask of cells that are not finite numbers."""
    text = np.empty(len(cells), dtype=object)  # None: missing, or not a str
    for i, v in enumerate(cells):
        if not miss[i] and isinstance(v, str):
            text[i] = _DECIMAL_COMMA.sub(r"\1.\2", v.strip()) if decimal_comma else v.strip()
    values = np.asarray(pd.to_numeric(text, errors="coerce")).astype("float64")
    finite = np.isfinite(values)
    values[~finite] = np.nan
    return values, ~miss & ~finite


def to_number(raw: pd.Series, missing: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """float64 column and the mask of cells that are not finite numbers."""
    values, invalid = _numbers(*_cells(raw, missing), decimal_comma)
    return pd.Series(values, index=raw.index, name=raw.name), pd.Series(invalid, index=raw.index)


def to_int(raw: pd.Series, missing: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """Int64 column and the mask of cells that are not whole numbers."""
    cells, miss = _cells(raw, missing)
    values, invalid = _numbers(cells, miss, decimal_comma)
    with np.errstate(invalid="ignore"):
        fractional = ~np.isnan(values) & (values % 1 != 0)
        whole = ~fractional & (np.abs(values) < 2**53)
    absent = ~whole  # NaN, fractional or too large to be exact
    invalid = invalid | fractional | (~miss & absent)
    data = np.where(absent, 0.0, np.round(values)).astype(np.int64)
    return (pd.Series(pd.arrays.IntegerArray(data, absent), index=raw.index, name=raw.name),
            pd.Series(invalid, index=raw.index))


@dataclass(frozen=True)
class DateParse:
    """Parsed date column: values (datetime64[ns]), unreadable/impossible cells, the decision made."""

    values: pd.Series
    invalid: pd.Series
    decision: str          # e.g. "ISO YYYY-MM-DD", "DD/MM/YYYY (day-first: a first field > 12)"
    ambiguous: bool        # every slash/dash date could be day- or month-first and no order was given
    example: str = ""
    examples: tuple[str, ...] = ()  # up to 3 distinct values of an ambiguous column that the order changes


def _number(digits: str | None) -> int | None:
    """A regex group of digits as ``pd.to_numeric(errors="coerce")`` reads it (None: absent or not ASCII)."""
    return int(digits) if digits is not None and digits.isascii() else None


def _ordinal(y: int | None, m: int | None, d: int | None) -> int | None:
    """The proleptic ordinal of a calendar date that ``datetime64[ns]`` holds, else None."""
    if y is None or m is None or d is None:
        return None
    try:
        day = dt.date(y, m, d).toordinal()
    except ValueError:
        return None
    return day if _NS_ORDINALS[0] <= day <= _NS_ORDINALS[1] else None


def _date_shape(text: str, pivot: int):
    """(pattern, fields) of a stripped cell: 0 ISO (ordinal), 1 dotted (ordinal), 2 Mon name (ordinal), 3 Excel
    serial (ordinal, None when out of range), 4 numeric (a, b, year, separator); None when no pattern reads it.
    The patterns cannot both match a cell: they differ in the digits before the first separator or in it."""
    if (match := _ISO_RE.search(text)) is not None:
        return 0, _ordinal(*(_number(match[k]) for k in "ymd"))
    if (match := _DOTTED_RE.search(text)) is not None:
        return 1, _ordinal(*(_number(match[k]) for k in "ymd"))
    if (match := _MON_RE.search(text)) is not None:
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            return None
        year = _number(match["y"])
        if year is not None and year < 100:
            year += 2000 if year <= pivot else 1900
        return 2, _ordinal(year, month, _number(match["d"]))
    if (match := _SERIAL_RE.search(text)) is not None:
        n = _number(match["n"])
        return 3, _EXCEL_ORDINAL + n if n is not None and 10000 <= n <= 80000 else None
    if (match := _NUMERIC_RE.search(text)) is not None:
        return 4, (_number(match["a"]), _number(match["b"]), _number(match["y"]), match["sep"])
    return None


def _over_12(n: int | None) -> bool:
    return n is not None and n > 12


def to_date(raw: pd.Series, missing: pd.Series, order: DateOrder | None = None,
            today: dt.date | None = None) -> DateParse:
    """Parse a date column, deciding the day/month order for the whole column.

    Accepted: ISO ``YYYY-MM-DD`` (time part ignored), ``MM/DD/YYYY`` / ``DD/MM/YYYY`` (also with
    ``-``), ``DD.MM.YYYY``, ``DD-Mon-YYYY`` (or ``YY``), Excel serial day numbers (5 digits).
    A first field > 12 anywhere means day-first, a second field > 12 means month-first; when
    neither occurs and the order is not given, the column is ambiguous. Dates before
    :data:`schema.MIN_YEAR` or after ``today`` are invalid.
    """
    cells, miss = _cells(raw, missing)
    n = len(cells)
    pivot = dt.date.today().year % 100
    shapes: dict[str, object] = {}
    ordinals: list[int | None] = [None] * n
    seen = [False] * 5
    numeric: list[int] = []  # rows read as MM/DD/YYYY or DD/MM/YYYY
    for i, v in enumerate(cells):
        if miss[i] or not isinstance(v, str):
            continue
        text = v.strip()
        shape = shapes.get(text, False)
        if shape is False:
            shape = shapes[text] = _date_shape(text, pivot)
        if shape is None:
            continue
        seen[shape[0]] = True
        if shape[0] == 4:
            numeric.append(i)
        else:
            ordinals[i] = shape[1]
    decisions = [label for label, hit in zip(("ISO YYYY-MM-DD", "DD.MM.YYYY", "DD-Mon-YYYY",
                                              "Excel serial day numbers"), seen) if hit]
    ambiguous, examples = False, ()
    if numeric:
        fields = [shapes[cells[i].strip()][1] for i in numeric]
        a_over = sum(_over_12(f[0]) for f in fields)
        b_over = sum(_over_12(f[1]) for f in fields)
        sep = fields[0][3]
        if order is None:
            if a_over and not b_over:
                order = "dmy"
            elif b_over and not a_over:
                order = "mdy"
            elif a_over and b_over:
                order = "dmy" if a_over >= b_over else "mdy"
            else:
                differ = [cells[i].strip() for i, f in zip(numeric, fields) if f[0] is None or f[0] != f[1]]
                if differ:
                    ambiguous = True
                    examples = tuple(dict.fromkeys(differ))[:3]
                else:
                    order = "dmy"  # every value has day == month: both readings agree
        if order is not None:
            for i, (a, b, y, _) in zip(numeric, fields):
                ordinals[i] = _ordinal(y, b, a) if order == "dmy" else _ordinal(y, a, b)
            decisions.append(f"DD{sep}MM{sep}YYYY" if order == "dmy" else f"MM{sep}DD{sep}YYYY")
    limit = pd.Timestamp(today or dt.date.today()).value
    first = dt.date(schema.MIN_YEAR, 1, 1).toordinal()
    ns = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    for i, day in enumerate(ordinals):
        if day is not None and day >= first and (day - _EPOCH_ORDINAL) * _NS_PER_DAY <= limit:
            ns[i] = (day - _EPOCH_ORDINAL) * _NS_PER_DAY
    values = ns.view("datetime64[ns]")
    invalid = ~miss & np.isnat(values)
    if ambiguous:
        invalid[numeric] = False
    return DateParse(pd.Series(values, index=raw.index), pd.Series(invalid, index=raw.index), ", ".join(decisions),
                     ambiguous, examples[0] if examples else "", examples)


def date_problem(value: str, today: dt.date | None = None) -> str:
    """Why a date cell was rejected: impossible, too early or in the future."""
    text = value.strip()
    for pattern in (_ISO_RE, _DOTTED_RE):
        match = pattern.search(text)
        if match is not None:
            try:
                when = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return "is not a valid date"
            if when.year < schema.MIN_YEAR:
                return f"is not a valid date (before {schema.MIN_YEAR})"
            if when > (today or dt.date.today()):
                return "is not a valid date (in the future)"
    return "is not a valid date"
