"""The column coercion over plain Python (one pass per column) types cells as the pandas string methods did.

Each function of :mod:`il2lib.validation.coerce` that turns a column of text cells into typed values
(``missing_mask``, ``to_text``, ``to_bool``, ``to_category``, ``to_number``, ``to_int``, ``to_date``,
``date_problem``) is compared with its earlier definition over pandas string methods (copied below as it was) on
generated messy columns: every date format, ambiguous and resolved day/month orders, impossible, future and early
dates, padding, missing tokens in any case, unicode and byte-order marks, decimal commas, synonyms, huge and
fractional numbers, empty and all-missing columns. Values, dtypes, index, names, the missing and unreadable masks
and the date decisions must be the same. The typed columns of a small cohort are then read in place, those of a
large one taken out of the derived table one by one: both give the same cohort.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.validation import coerce, patients
from il2lib.validation.coerce import _ASCII_SPACE, DateOrder, DateParse, _ascii_arrow, category_lookup

pytestmark = pytest.mark.filterwarnings("ignore:Downcasting object dtype arrays:FutureWarning")  # the earlier code

# ---- the earlier definitions, verbatim ------------------------------------------------------------------------
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


def to_category(raw: pd.Series, missing: pd.Series, spec: schema.ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Canonical values (object) and the mask of unrecognised cells."""
    lookup = category_lookup(spec)
    canon = normalise_text(raw).map(lookup)
    canon = canon.where(~missing, None)
    invalid = ~missing & canon.isna()
    return canon.astype(object).where(canon.notna(), None), invalid


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


# ---- generated messy cells ------------------------------------------------------------------------------------

MISSING = ["", " ", "  ", "\t", "\u00a0", "\u2003", "NA", "na", "N/A", "n/a", " N/a ", "NaN", "nan", "NAN", ".", "-",
           "--", "_", " . ", "- _ .", "Unknown", "UNKNOWN", "unk", "UNK", "None", "none", "NULL", "null", "Missing",
           "MISSING", "\ufeff", "\ufeffNA", "n.a.", "N.A", "nil", "?", "\u00a0NA\u00a0", "\x1c", "\x1f-\x1f"]
PADS = ["", "", "", " ", "  ", "\t", "\u00a0", "\u2003", "\ufeff", "\n"]
BOOLS = ["1", "0", "Y", "y", "N", "n", "yes", "Yes", "YES", "No", "NO", "TRUE", "true", "True", "false", "FALSE", "T",
         "t", "F", "f", "1.0", "0.0", "Yes.", "y e s", "yes_", "true-", "no.", "ja", "2", "-1", "oui", "Y-E-S",
         "\ufeffyes", "yés", "ＹＥＳ", "1,0"]
NUMBERS = ["1", "0", "-0", "-0.0", "+4", " 2.5 ", "-3", "1e3", "1E-2", "inf", "-inf", "Infinity", "1,5", "-1,25",
           "+7,0", "1.000,5", "12..5", "high", "0x1A", "1_000", "1 000", "3,", ",5", "1,2,3", "99999999999999999999",
           "-99999999999999999999", "1e400", "-1e400", "1e308", "9007199254740992", "9007199254740993",
           "9007199254740991.0", "4.0", "4.5", "-4.5", "0.1", "1/2", "١٢", "１２", "12%", "€5", "5 mg", "1e", ".5",
           "5.", "00012", "1e-400", "NaN0", "0.999999999999999999"]
MONTHS = ["Jan", "feb", "MAR", "April", "may", "June", "jul", "August", "Sep", "Sept", "september", "Oct", "nov",
          "December", "Mrz", "Okt", "Foo", "Janu"]


def _iso(rng: random.Random, y: int, m: int, d: int) -> str:
    sep = rng.choice("-/")
    date = f"{y:04d}{sep}{m:0{rng.choice([1, 2])}d}{sep}{d:0{rng.choice([1, 2])}d}"
    return date + rng.choice(["", "", "", " 12:30", "T07:05:09", " 7:05:09.123", "T23:59", " 12", " 1:2"])


def _date_cell(rng: random.Random, y: int, m: int, d: int) -> str:
    """One date in one of the accepted formats (or a near miss of one)."""
    kind = rng.randrange(7)
    if kind == 0:
        return _iso(rng, y, m, d)
    if kind == 1:
        return f"{d:0{rng.choice([1, 2])}d}.{m:02d}.{y:04d}"
    if kind == 2:
        mon = rng.choice([k for k, v in coerce._MONTHS.items() if v == m] + [rng.choice(MONTHS)])
        mon = rng.choice([mon, mon.upper(), mon.title()]) + rng.choice(["", "", "."])
        year = rng.choice([f"{y:04d}", f"{y % 100:02d}"])
        return f"{d:0{rng.choice([1, 2])}d}{rng.choice('- ')}{mon}{rng.choice('- ')}{year}"
    if kind == 3:
        serial = (dt.date(min(max(y, 1), 9999), 1, 1) - dt.date(1899, 12, 30)).days + rng.randrange(365)
        return str(serial) + rng.choice(["", "", ".0", ".00", ".5"])
    sep = rng.choice("/-")
    a, b = (d, m) if rng.random() < 0.5 else (m, d)
    return f"{a:0{rng.choice([1, 2])}d}{sep}{b:0{rng.choice([1, 2])}d}{sep}{y:04d}" + rng.choice(["", "", " 10:00",
                                                                                                     " 9:05:01"])


ODD_DATES = ["2019-02-30", "2019-13-01", "2015-13-45", "2019-00-10", "2019-01-00", "0000-01-01", "9999-12-31",
             "1975-05-05", "1979-12-31", "1980-01-01", "1900-01-01", "1677-09-21", "2262-04-11", "2263-01-01",
             "2099-01-01", "01.01.2099", "31.02.2016", "31/02/2016", "29/02/2019", "29/02/2020", "05-May-75",
             "05-May-79", "05-May-80", "01-Jan-00", "31-Feb-2019", "1-Foo-2019", "09999", "10000", "80000", "80001",
             "99999", "43500", "43500.0", "43500.5", "43500.", "2019", "March 2019", "not known", "2019-03-04x",
             "\ufeff2019-03-04", "2019-03-04\ufeff", "2019 03 04", "2019.03.04", "04/03/19", "4/3/2019/",
             "2019-3-4 ", "٢٠١٩-٠٣-٠٤", "２０１９-03-04", "43５00", "0٤.03.2019", "٠٤-Mar-2019", "04-Mar-٢٠١٩",
             "12-12-2019", "00/00/2020", "13/13/2020", "2019-03-04T", "2019-03-04 25:99", "2019/03-04"]


def _date_column(rng: random.Random, n: int) -> list[str]:
    """A column of one style: ISO only, one numeric order, ambiguous, equal day and month, or any format."""
    style = rng.choice(["iso", "dmy", "mdy", "both", "ambiguous", "same", "mixed", "mixed", "odd"])
    cells = []
    for _ in range(n):
        y = rng.choice([rng.randint(1981, 2025), rng.randint(1950, 2100), rng.randint(1, 9999)])
        m, d = rng.randint(1, 12), rng.randint(1, 31)
        if style == "iso":
            cell = _iso(rng, y, m, d)
        elif style in ("dmy", "mdy", "both", "ambiguous", "same"):
            sep = rng.choice("/-") if rng.random() < 0.2 else "/"
            if style == "ambiguous":
                d = rng.randint(1, 12)
            elif style == "same":
                d = m
            a, b = (d, m) if style == "dmy" or (style == "both" and rng.random() < 0.5) else (m, d)
            cell = f"{a:02d}{sep}{b:02d}{sep}{y:04d}"
        elif style == "odd":
            cell = rng.choice(ODD_DATES)
        else:
            cell = _date_cell(rng, y, m, d)
        if rng.random() < 0.15:
            cell = rng.choice(MISSING + ODD_DATES)
        cells.append(rng.choice(PADS) + cell + rng.choice(PADS))
    return cells


def _padded(rng: random.Random, values: list[str], n: int, missing_share: float = 0.15) -> list[str]:
    cells = []
    for _ in range(n):
        value = rng.choice(MISSING) if rng.random() < missing_share else rng.choice(values)
        value = rng.choice([value, value, value.upper(), value.lower(), value.title()])
        cells.append(rng.choice(PADS) + value + rng.choice(PADS))
    return cells


def _category_values(spec: schema.ColumnSpec) -> list[str]:
    values = list(spec.allowed) + list(spec.value_synonyms)
    variants = [v.replace(" ", rng_sep) for v in values for rng_sep in ("_", "-", ".", "  ", " - ")]
    return values + variants + ["cutaneus", "Mélanoma", "mm.", "other", "x", "\ufeff" + values[0], "M 1 a"]


def _series(cells: list, rng: random.Random) -> pd.Series:
    """As the loader hands them over (distinct, unnamed, 0..n-1), or with repeats, a name and another index."""
    if rng.random() < 0.6:
        return pd.Series(list(dict.fromkeys(cells)), dtype=object)
    index = pd.Index(rng.sample(range(10 * len(cells) + 1), len(cells)))
    return pd.Series(cells, index=index, dtype=object, name=rng.choice([None, "column"]))


CATEGORY_SPECS = [s for s in schema.PATIENT_COLUMNS if s.kind == "category"]
BOOL_SPECS = [s for s in schema.PATIENT_COLUMNS if s.kind == "bool"]
EDGE_COLUMNS = {"empty": [], "all missing": ["", "NA", " n/a ", "-", "Unknown", "\u00a0"], "one blank": [""],
                "one missing token": ["unknown"]}
SEEDS = range(60)


def _same(got: pd.Series, want: pd.Series) -> None:
    pd.testing.assert_series_equal(got, want, check_exact=True)
    if want.dtype == object:  # None and NaN are not the same cell
        assert [type(v) for v in got] == [type(v) for v in want]


def _same_dates(got: DateParse, want: DateParse) -> None:
    _same(got.values, want.values)
    _same(got.invalid, want.invalid)
    assert (got.decision, got.ambiguous, got.example, got.examples) == \
        (want.decision, want.ambiguous, want.example, want.examples)


def _keep(spec: schema.ColumnSpec) -> frozenset[str]:
    return frozenset(schema.norm(a) for a in spec.allowed)  # as the loader passes it


# ---- the comparisons ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_missing_cells_and_stripped_text_are_as_before(seed):
    rng = random.Random(seed)
    raw = _series(_padded(rng, ["PT-1", "x", "unknown", "n/a?", "Ωmega", "a b", "-1", "_x_"], rng.randint(1, 80),
                          missing_share=0.5), rng)
    for keep in (frozenset(), frozenset({"unknown", "na"})):
        _same(coerce.missing_mask(raw, keep), missing_mask(raw, keep))
        got, want = coerce.to_text(raw, keep), to_text(raw, keep)
        _same(got[0], want[0])
        _same(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_yes_no_columns_are_read_as_before(seed):
    rng = random.Random(seed)
    spec = rng.choice(BOOL_SPECS + [schema.COLUMNS[schema.DIED]] * 3)
    raw = _series(_padded(rng, BOOLS + list(spec.value_synonyms), rng.randint(1, 80)), rng)
    missing = missing_mask(raw, _keep(spec))
    got, want = coerce.to_bool(raw, missing, spec), to_bool(raw, missing, spec)
    _same(got[0], want[0])
    _same(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_category_columns_are_read_as_before(seed):
    rng = random.Random(seed)
    spec = rng.choice(CATEGORY_SPECS)
    raw = _series(_padded(rng, _category_values(spec), rng.randint(1, 80)), rng)
    missing = missing_mask(raw, _keep(spec))
    got, want = coerce.to_category(raw, missing, spec), to_category(raw, missing, spec)
    _same(got[0], want[0])
    _same(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("decimal_comma", [False, True], ids=["decimal point", "decimal comma"])
def test_number_and_whole_number_columns_are_read_as_before(seed, decimal_comma):
    rng = random.Random(seed)
    raw = _series(_padded(rng, NUMBERS + [str(rng.uniform(-1e6, 1e6)) for _ in range(20)]
                          + [str(rng.randint(-10**6, 10**6)) for _ in range(20)], rng.randint(1, 80)), rng)
    missing = missing_mask(raw)
    for convert, reference in ((coerce.to_number, to_number), (coerce.to_int, to_int)):
        got, want = convert(raw, missing, decimal_comma), reference(raw, missing, decimal_comma)
        _same(got[0], want[0])
        _same(got[1], want[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_date_columns_are_read_as_before(seed):
    rng = random.Random(seed)
    raw = _series(_date_column(rng, rng.choice([1, 3, 20, 60, 200])), rng)
    missing = missing_mask(raw)
    for order in (None, "dmy", "mdy"):
        for today in (None, dt.date(2020, 6, 15), dt.date(1999, 1, 1)):
            _same_dates(coerce.to_date(raw, missing, order, today), to_date(raw, missing, order, today))


@pytest.mark.parametrize("style", ["ambiguous", "dmy", "mdy", "both", "same"])
def test_the_date_order_is_decided_for_the_column_as_before(style):
    rng = random.Random(style)
    found = set()
    for _ in range(40):
        cells = []
        for _ in range(rng.randint(1, 12)):
            m, d = rng.randint(1, 12), rng.randint(1, 12 if style == "ambiguous" else 31)
            d = m if style == "same" else d
            a, b = (d, m) if style == "dmy" or (style == "both" and rng.random() < 0.5) else (m, d)
            cells.append(f"{a:0{rng.choice([1, 2])}d}{rng.choice('/-')}{b:02d}/{rng.randint(1981, 2019)}"
                         .replace("/", rng.choice("/-"), 1))
        raw = _series(cells + [rng.choice(MISSING), rng.choice(ODD_DATES)], rng)
        missing = missing_mask(raw)
        want = to_date(raw, missing)
        _same_dates(coerce.to_date(raw, missing), want)
        found.add((want.decision, want.ambiguous))
    assert len(found) > 1  # the columns drawn reach more than one decision


def test_every_date_format_and_every_odd_date_is_read_as_before():
    rng = random.Random(5)
    cells = [_date_cell(rng, rng.randint(1975, 2030), rng.randint(1, 12), rng.randint(1, 28)) for _ in range(3000)]
    for cell in cells + ODD_DATES + MISSING + ["٠٤/03/2019", "04-03-٢٠١٩"]:
        raw = pd.Series([cell], dtype=object)
        missing = missing_mask(raw)
        got = coerce.to_date(raw, missing, "dmy", dt.date(2024, 1, 1))
        try:
            want = to_date(raw, missing, "dmy", dt.date(2024, 1, 1))
        except ValueError:  # DD/MM/YYYY in other digits: the earlier reading raised, the cell is unreadable now
            assert not cell.isascii() and got.invalid.all() and got.values.isna().all()
            continue
        _same_dates(got, want)
        for today in (None, dt.date(2024, 1, 1)):
            assert coerce.date_problem(cell, today) == date_problem(cell, today), cell


@pytest.mark.parametrize("column", list(EDGE_COLUMNS), ids=list(EDGE_COLUMNS))
def test_empty_and_all_missing_columns_are_read_as_before(column):
    raw = pd.Series(EDGE_COLUMNS[column], dtype=object)
    missing = missing_mask(raw)
    _same(coerce.missing_mask(raw), missing)
    for got, want in zip(coerce.to_text(raw), to_text(raw)):
        _same(got, want)
    pairs = [(coerce.to_bool(raw, missing, BOOL_SPECS[0]), to_bool(raw, missing, BOOL_SPECS[0])),
             (coerce.to_category(raw, missing, CATEGORY_SPECS[0]), to_category(raw, missing, CATEGORY_SPECS[0])),
             (coerce.to_number(raw, missing, True), to_number(raw, missing, True)),
             (coerce.to_int(raw, missing, False), to_int(raw, missing, False))]
    for got, want in pairs:
        _same(got[0], want[0])
        _same(got[1], want[1])
    _same_dates(coerce.to_date(raw, missing), to_date(raw, missing))


def test_cells_that_are_not_text_are_read_as_before():
    raw = pd.Series(["yes", None, np.nan, 1, 2.5, "NA", " 3 "], dtype=object)
    missing = missing_mask(raw)
    _same(coerce.missing_mask(raw), missing)
    for got, want in zip(coerce.to_text(raw), to_text(raw)):
        _same(got, want)
    sex = schema.COLUMNS[schema.SEX]
    for got, want in [(coerce.to_bool(raw, missing, BOOL_SPECS[0]), to_bool(raw, missing, BOOL_SPECS[0])),
                      (coerce.to_category(raw, missing, sex), to_category(raw, missing, sex)),
                      (coerce.to_number(raw, missing, False), to_number(raw, missing, False)),
                      (coerce.to_int(raw, missing, False), to_int(raw, missing, False))]:
        _same(got[0], want[0])
        _same(got[1], want[1])
    _same_dates(coerce.to_date(raw, missing), to_date(raw, missing))


def test_a_large_column_of_other_characters_is_read_as_before():
    rng = random.Random(9)
    cells = _padded(rng, [f"é{k}" for k in range(15_000)] + ["unknown"], 15_000, missing_share=0.1)
    raw = pd.Series(cells, dtype=object)
    assert _ascii_arrow(raw) is None and len(raw) >= coerce.ARROW_TEXT_MIN
    for got, want in zip(coerce.to_text(raw, frozenset({"unknown"})), to_text(raw, frozenset({"unknown"}))):
        _same(got, want)


def test_a_cohort_assembled_in_place_is_the_one_assembled_column_by_column(monkeypatch):
    """A small table's analysed columns are read in place; a large one's are taken out one by one as they are
    copied. Both give the same cohort (with excluded rows, so the rows are copied)."""
    frame = pd.read_csv(Path(__file__).resolve().parents[1] / "sample_data" / "combined_synthetic.csv", dtype=str,
                        keep_default_na=False)
    frame.loc[[3, 17], schema.DISEASE] = "not a disease"
    frame.loc[[5], schema.DATE_IL2_START] = "31/02/2019"
    data = frame.to_csv(index=False).encode()
    in_place = patients.load_cohort(io.BytesIO(data))
    monkeypatch.setattr(patients, "TAKE_OUT_CELLS", 0)
    taken_out = patients.load_cohort(io.BytesIO(data))
    assert len(in_place.excluded) >= 2
    pd.testing.assert_frame_equal(in_place.data, taken_out.data, check_exact=True)
    pd.testing.assert_frame_equal(in_place.excluded, taken_out.excluded, check_exact=True)
    assert [dataclasses.astuple(f) for f in in_place.report.findings] == \
        [dataclasses.astuple(f) for f in taken_out.report.findings]
