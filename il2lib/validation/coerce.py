"""Vectorised per-column coercion of text cells into typed values (no findings built here).

Each function takes the stripped text of one column and returns the typed column plus boolean
masks of the cells it could not read; :mod:`il2lib.validation` turns masks into findings.
"""
from __future__ import annotations

import datetime as dt
import difflib
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
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_ISO = r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_NUMERIC = r"^(?P<a>\d{1,2})(?P<sep>[/\-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
_DOTTED = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$"
_MON = r"^(?P<d>\d{1,2})[- ](?P<mon>[A-Za-z]{3,9})\.?[- ](?P<y>\d{2}|\d{4})$"
_SERIAL = r"^(?P<n>\d{5})(?:\.0+)?$"


def normalise_text(s: pd.Series) -> pd.Series:
    """Vectorised :func:`schema.norm`."""
    return (s.str.replace("\ufeff", "", regex=False).str.strip().str.lower()
            .str.replace(r"[\s_\-\.]+", " ", regex=True).str.strip())


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
    lowered = raw.str.strip().str.lower()
    return lowered.isin(schema.MISSING_TOKENS - keep) | lowered.str.fullmatch(r"[\s_\-\.]*").fillna(False), None


def to_text(raw: pd.Series, keep: frozenset[str] = frozenset()) -> tuple[pd.Series, pd.Series]:
    """Stripped cells (object), None where missing (:func:`missing_mask`), and that mask; a cell with nothing to
    strip stays the object it is."""
    missing, padded = _missing_and_padded(raw, keep)
    if padded is None:
        return raw.str.strip().where(~missing, None).astype(object), missing
    values = raw.to_numpy(dtype=object).copy()
    if padded.any():
        values[padded] = raw[padded].str.strip().to_numpy(dtype=object)
    values[missing.to_numpy()] = None
    return pd.Series(values, index=raw.index, dtype=object), missing


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
    lowered = raw.str.strip().str.lower()
    key = normalise_text(raw)
    synonyms = {k: v for k, v in spec.value_synonyms.items()}
    key = key.map(lambda k: synonyms.get(k, k)) if synonyms else key
    is_true = (lowered.isin(schema.BOOL_TRUE) | key.isin(schema.BOOL_TRUE)) & ~missing
    is_false = (lowered.isin(schema.BOOL_FALSE) | key.isin(schema.BOOL_FALSE)) & ~missing
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[is_true.to_numpy()] = True
    out[is_false.to_numpy()] = False
    return out, ~missing & ~is_true & ~is_false


def category_lookup(spec: schema.ColumnSpec) -> dict[str, str]:
    table = {schema.norm(a): a for a in spec.allowed}
    table.update(spec.value_synonyms)
    return table


def to_category(raw: pd.Series, missing: pd.Series, spec: schema.ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Canonical values (object) and the mask of unrecognised cells."""
    lookup = category_lookup(spec)
    canon = normalise_text(raw).map(lookup)
    canon = canon.where(~missing, None)
    invalid = ~missing & canon.isna()
    return canon.astype(object).where(canon.notna(), None), invalid


def closest_value(value: str, spec: schema.ColumnSpec) -> str | None:
    """Closest allowed value (difflib) to an unrecognised category value, or None."""
    lookup = category_lookup(spec)
    match = difflib.get_close_matches(schema.norm(value), list(lookup), n=1, cutoff=0.6)
    return lookup[match[0]] if match else None


def to_number(raw: pd.Series, missing: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """float64 column and the mask of cells that are not finite numbers."""
    text = raw.str.strip()
    if decimal_comma:
        text = text.str.replace(r"^([+-]?\d+),(\d+)$", r"\1.\2", regex=True)
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").astype("float64")
    finite = np.isfinite(values.to_numpy())
    invalid = ~missing & ~pd.Series(finite, index=raw.index)
    return values.where(finite, np.nan), invalid


def to_int(raw: pd.Series, missing: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """Int64 column and the mask of cells that are not whole numbers."""
    values, invalid = to_number(raw, missing, decimal_comma)
    fractional = values.notna() & (values % 1 != 0)
    values = values.where(~fractional & (values.abs() < 2**53))
    invalid = invalid | fractional | (~missing & values.isna() & ~invalid)
    return values.round().astype("Int64"), invalid


@dataclass(frozen=True)
class DateParse:
    """Parsed date column: values (datetime64[ns]), unreadable/impossible cells, the decision made."""

    values: pd.Series
    invalid: pd.Series
    decision: str          # e.g. "ISO YYYY-MM-DD", "DD/MM/YYYY (day-first: a first field > 12)"
    ambiguous: bool        # every slash/dash date could be day- or month-first and no order was given
    example: str = ""
    examples: tuple[str, ...] = ()  # up to 3 distinct values of an ambiguous column that the order changes


def _assemble(y: pd.Series, m: pd.Series, d: pd.Series) -> pd.Series:
    frame = pd.DataFrame({"year": pd.to_numeric(y, errors="coerce"), "month": pd.to_numeric(m, errors="coerce"),
                          "day": pd.to_numeric(d, errors="coerce")})
    ok = frame.notna().all(axis=1) & frame["year"].between(1, 9999) & frame["month"].between(1, 12) \
        & frame["day"].between(1, 31)
    out = pd.Series(pd.NaT, index=y.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok.to_numpy()] = pd.to_datetime(frame.loc[ok].astype("int64"), errors="coerce").astype("datetime64[ns]")
    return out


def to_date(raw: pd.Series, missing: pd.Series, order: DateOrder | None = None,
            today: dt.date | None = None) -> DateParse:
    """Parse a date column, deciding the day/month order for the whole column.

    Accepted: ISO ``YYYY-MM-DD`` (time part ignored), ``MM/DD/YYYY`` / ``DD/MM/YYYY`` (also with
    ``-``), ``DD.MM.YYYY``, ``DD-Mon-YYYY`` (or ``YY``), Excel serial day numbers (5 digits).
    A first field > 12 anywhere means day-first, a second field > 12 means month-first; when
    neither occurs and the order is not given, the column is ambiguous. Dates before
    :data:`schema.MIN_YEAR` or after ``today`` are invalid.
    """
    text = raw.str.strip().where(~missing, "")
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    decisions: list[str] = []
    iso = text.str.extract(_ISO)
    has = iso["y"].notna()
    if has.any():
        out[has.to_numpy()] = _assemble(iso["y"], iso["m"], iso["d"])[has]
        decisions.append("ISO YYYY-MM-DD")
    dotted = text.str.extract(_DOTTED)
    has = dotted["y"].notna()
    if has.any():
        out[has.to_numpy()] = _assemble(dotted["y"], dotted["m"], dotted["d"])[has]
        decisions.append("DD.MM.YYYY")
    mon = text.str.extract(_MON)
    has = mon["y"].notna() & mon["mon"].str.lower().isin(_MONTHS)
    if has.any():
        year = pd.to_numeric(mon["y"], errors="coerce")
        year = year.where(year >= 100, np.where(year <= (dt.date.today().year % 100), year + 2000, year + 1900))
        out[has.to_numpy()] = _assemble(year, mon["mon"].str.lower().map(_MONTHS), mon["d"])[has]
        decisions.append("DD-Mon-YYYY")
    serial = text.str.extract(_SERIAL)
    has = serial["n"].notna()
    if has.any():
        days = pd.to_numeric(serial["n"], errors="coerce")
        good = has & days.between(10000, 80000)
        out[good.to_numpy()] = (_EXCEL_EPOCH + pd.to_timedelta(days[good], unit="D")).to_numpy()
        decisions.append("Excel serial day numbers")
    ambiguous, examples = False, ()
    numeric = text.str.extract(_NUMERIC)
    has = numeric["y"].notna()
    if has.any():
        a, b = pd.to_numeric(numeric["a"]), pd.to_numeric(numeric["b"])
        day_first, month_first = bool((a[has] > 12).any()), bool((b[has] > 12).any())
        sep = numeric["sep"][has].iloc[0]
        if order is None:
            if day_first and not month_first:
                order = "dmy"
            elif month_first and not day_first:
                order = "mdy"
            elif day_first and month_first:
                order = "dmy" if (a[has] > 12).sum() >= (b[has] > 12).sum() else "mdy"
            elif bool((a[has] != b[has]).any()):
                ambiguous = True
                examples = tuple(str(v) for v in pd.unique(text[has & (a != b)])[:3])
            else:
                order = "dmy"  # every value has day == month: both readings agree
        if order is not None:
            d, m = (a, b) if order == "dmy" else (b, a)
            out[has.to_numpy()] = _assemble(numeric["y"], m, d)[has]
            label = f"DD{sep}MM{sep}YYYY" if order == "dmy" else f"MM{sep}DD{sep}YYYY"
            decisions.append(label)
    limit = pd.Timestamp(today or dt.date.today())
    out = out.where((out.dt.year >= schema.MIN_YEAR) & (out <= limit))
    invalid = ~missing & out.isna()
    if ambiguous:
        invalid = invalid & ~has
    return DateParse(out.astype("datetime64[ns]"), invalid, ", ".join(decisions), ambiguous,
                     examples[0] if examples else "", examples)


def date_problem(value: str, today: dt.date | None = None) -> str:
    """Why a date cell was rejected: impossible, too early or in the future."""
    text = value.strip()
    for pattern in (_ISO, _DOTTED):
        match = pd.Series([text]).str.extract(pattern).iloc[0]
        if match.notna().all():
            try:
                when = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return "is not a valid date"
            if when.year < schema.MIN_YEAR:
                return f"is not a valid date (before {schema.MIN_YEAR})"
            if when > (today or dt.date.today()):
                return "is not a valid date (in the future)"
    return "is not a valid date"
