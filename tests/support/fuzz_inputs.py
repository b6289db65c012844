"""Hypothesis strategies that build hostile and broken cohort files (used by test_fuzz_loader.py).

Each strategy draws a ``(raw_bytes, file_name)`` pair. File names are sometimes missing and
sometimes lie about the content (CSV bytes named ``.xlsx``), as real uploads do. Tables are
schema-aware: most headers are real column names or their synonyms and most cells are
plausible values of that column's kind, so the inputs reach deep into mapping, coercion,
validation and derivation instead of stopping at the first byte check.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from il2lib import schema

FILE_NAMES = (None, "cohort.csv", "cohort.tsv", "cohort.txt", "cohort.xlsx", "cohort.parquet", "cohort",
              "COHORT.CSV", "export.xls", "data.json")
TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "mac_roman", "cp437")
DELIMITERS = (",", ";", "\t", "|", " ", ":")
LINE_ENDINGS = ("\n", "\r\n", "\r")

INJECTIONS = (
    "<script>alert('x')</script>", "<img src=x onerror=alert(1)>", "</div><h1>owned</h1>", "**bold** _it_",
    "[click](javascript:alert(1))", "$$\\frac{1}{0}$$", ":red[red]", "<!--", "]]>", "{{7*7}}", "${jndi:x}",
    "=1+1", "=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(A1:A9)", "-2+3", "@SUM(1)",
    "=cmd|' /C calc'!A0", "\t=1+1",
)
NUMBERS = (
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "1e309", "-1e309", "1e-400", "9" * 400,
    "-0", "0x1F", "1_000", "1,5", "1.234,5", "1,234.5", "1 234", "١٢٣", "½", "12abc", "  7  ", "+3", "1e3",
    "250 U/L", "38.5°C", "101.3 F", "45%", "2**64", str(2**63), str(-(2**63) - 1), "1.7976931348623157e308",
)
DATES = (
    "2019-02-30", "2019-13-01", "0000-00-00", "0001-01-01", "1899-12-30", "1979-12-31", "9999-12-31",
    "2100-01-01", "31/12/2019", "12/31/2019", "01/02/2019", "01.02.2019", "1.2.19", "01-Feb-2019", "1-FEB-19",
    "Feb 1 2019", "2019/02/01", "20190201", "43831", "-1", "1e10", "2019-02-01T25:61:00", "2019-W05",
    "yesterday", "2019-02-01 00:00:00+14:00",
)
MISSING = ("", " ", "NA", "n/a", ".", "-", "unknown", "UNK", "null", "None", "missing", "#N/A", "#DIV/0!")
ODD_TEXT = ("\x00", "\u202e", "\ufeff", "a\nb", "a\r\nb", 'a"b', '"', "a;b", "a,b", "a\tb", "🙂", "Ω≈ç√",
            "x" * 5000, "Unnamed: 0", "NULL", "true", "Yes", "2", "lung", "CR", "complete response")
BAD_HEADERS = ("", " ", "Unnamed: 0", "<b>patient_id</b>", "patient_id<script>", "**disease**", "=SUM(A1)",
               "MRN", "Name", "DOB", "e-mail", "Patient Name", "x" * 300, "\ufeffpatient_id", "PATIENT ID",
               "patient-id", "Patient_ID ", "died\n", "bor;bor", "1", "2019-01-01", "NaN")

_HEADER_POOL = tuple(sorted({c.name for c in schema.PATIENT_COLUMNS}
                            | {s for c in schema.PATIENT_COLUMNS for s in c.synonyms}))


def _date_text(day: dt.date, style: int) -> str:
    formats = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%b-%Y", "%Y%m%d", "%d-%m-%y")
    return day.strftime(formats[style % len(formats)])


dates_in_any_format = st.builds(_date_text, st.dates(dt.date(1975, 1, 1), dt.date(2035, 12, 31)),
                                st.integers(0, 6))
hostile_text = st.one_of(st.sampled_from(INJECTIONS + NUMBERS + DATES + MISSING + ODD_TEXT),
                         st.text(max_size=12))
# Without control characters: a text file with a NUL byte or >1% control characters is (rightly)
# rejected as binary, which would stop the well-formed strategy before validation.
printable_hostile = st.one_of(
    st.sampled_from(tuple(t for t in INJECTIONS + NUMBERS + DATES + MISSING + ODD_TEXT if t.isprintable())),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12))


def _cells_for(column: str, nasty: st.SearchStrategy[str] = hostile_text) -> st.SearchStrategy[str]:
    """Plausible-or-nasty cell text for a column of the data dictionary (by name or synonym)."""
    spec = schema.COLUMNS.get(column) or next(
        (c for c in schema.PATIENT_COLUMNS if column in c.synonyms), None)
    if spec is None:
        return nasty
    if spec.kind == "date":
        plausible = dates_in_any_format
    elif spec.kind in ("number", "int"):
        plausible = st.one_of(st.integers(-5, 2000).map(str),
                              st.floats(allow_nan=True, allow_infinity=True).map(repr))
    elif spec.kind == "bool":
        plausible = st.sampled_from(sorted(schema.BOOL_TRUE | schema.BOOL_FALSE) + ["Dead", "Alive", "2"])
    elif spec.allowed:
        plausible = st.sampled_from(list(spec.allowed) + list(spec.value_synonyms) + ["other", "Melanom"])
    else:
        plausible = st.from_regex(r"[A-Z]{1,3}-?[0-9]{1,4}", fullmatch=True)
    return st.one_of(plausible, plausible, plausible, nasty)


@st.composite
def cohort_tables(draw, max_rows: int = 25, max_extra_columns: int = 12) -> list[list[str]]:
    """A header plus rows: usually the required columns (under any accepted name), plus extras."""
    header: list[str] = []
    if draw(st.integers(0, 9)) > 0:
        for name in schema.REQUIRED_COLUMNS:
            synonyms = (name, *schema.COLUMNS[name].synonyms)
            if draw(st.integers(0, 19)) > 0:  # now and then a required column is missing
                header.append(draw(st.sampled_from(synonyms)))
    header += draw(st.lists(st.one_of(st.sampled_from(_HEADER_POOL), st.sampled_from(BAD_HEADERS),
                                      st.text(max_size=8)), max_size=max_extra_columns))
    header = draw(st.permutations(header)) if header else [draw(st.sampled_from(BAD_HEADERS))]
    n_rows = draw(st.integers(0, max_rows))
    ids = draw(st.lists(st.from_regex(r"P[0-9]{1,3}", fullmatch=True), min_size=n_rows, max_size=n_rows))
    rows = []
    for i in range(n_rows):
        row = [ids[i] if name == schema.PATIENT_ID else draw(_cells_for(name)) for name in header]
        rows.append(row)
    return [list(header), *rows]


@st.composite
def ragged(draw, table: list[list[str]]) -> list[list[str]]:
    """Drop or add cells on some rows (ragged CSV)."""
    out = []
    for row in table:
        change = draw(st.integers(-3, 3)) if draw(st.booleans()) else 0
        out.append(row[:change] if change < 0 else row + [draw(hostile_text) for _ in range(change)])
    return out


@st.composite
def text_files(draw) -> tuple[bytes, str | None]:
    """Delimited text: any delimiter, quoting, line ending, encoding (per line, so mixed), ragged, truncated."""
    table = draw(cohort_tables())
    if draw(st.booleans()):
        table = draw(ragged(table))
    delimiter = draw(st.sampled_from(DELIMITERS))
    ending = draw(st.sampled_from(LINE_ENDINGS))
    quoting = draw(st.sampled_from(("csv-minimal", "csv-all", "none")))
    lines = []
    for row in table:
        if quoting == "none":
            lines.append(delimiter.join(row))
        else:
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=delimiter, lineterminator="",
                       quoting=csv.QUOTE_ALL if quoting == "csv-all" else csv.QUOTE_MINIMAL).writerow(row)
            lines.append(buffer.getvalue())
    main = draw(st.sampled_from(TEXT_ENCODINGS))
    mixed = draw(st.booleans())
    chunks = [(line + ending).encode(draw(st.sampled_from(TEXT_ENCODINGS)) if mixed and i else main,
                                     errors="replace") for i, line in enumerate(lines)]
    raw = b"".join(chunks)
    if draw(st.integers(0, 4)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw, draw(st.sampled_from(FILE_NAMES))


@st.composite
def well_formed_csv(draw) -> tuple[bytes, str | None]:
    """Clean UTF-8 CSV with every required column under its canonical name and 1-30 rows: only the
    cell values are hostile, so every input reaches row-level validation and the derived fields."""
    extras = draw(st.lists(st.sampled_from(tuple(c.name for c in schema.PATIENT_COLUMNS)), max_size=10, unique=True))
    header = list(schema.REQUIRED_COLUMNS) + [c for c in extras if c not in schema.REQUIRED_COLUMNS]
    n_rows = draw(st.integers(1, 30))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for k in range(n_rows):
        writer.writerow([f"P{k}" if name == schema.PATIENT_ID and draw(st.integers(0, 9))
                         else draw(_cells_for(name, printable_hostile)) for name in header])
    return buffer.getvalue().encode("utf-8", errors="replace"), draw(st.sampled_from((None, "cohort.csv")))


def _typed_cell(text: str, flavour: int) -> object:
    """What a spreadsheet would hold for this text: a number, a date cell, a bool, a formula, or the text."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)  # what any spreadsheet program can store
    if flavour == 1:
        try:
            value = float(text)
            return value if value == value and abs(value) < 1e300 else text
        except ValueError:
            return text
    if flavour == 2:
        try:
            return dt.datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return text
    if flavour == 3:
        return text.lower() in schema.BOOL_TRUE
    if flavour == 4:
        return "=1/0" if len(text) % 2 else "=A1&B1"
    return text


_SHEET_NAMES = ("Sheet1", "README", "Data", "patients", "<b>x<b>", "Tabelle 1", "=SUM", "x" * 31)


@st.composite
def excel_files(draw) -> tuple[bytes, str | None]:
    """XLSX workbooks: several sheets (some empty), the table on any of them, merged cells, formulas,
    date/number/bool cells, blank rows above the header."""
    wb = Workbook()
    n_sheets = draw(st.integers(1, 4))
    sheets = [wb.active] + [wb.create_sheet() for _ in range(n_sheets - 1)]
    for i, ws in enumerate(sheets):
        ws.title = f"{draw(st.sampled_from(_SHEET_NAMES))[:28]}{i}"
    target = draw(st.sampled_from(sheets))
    offset = draw(st.integers(0, 3))
    table = draw(cohort_tables(max_rows=15))
    for r, row in enumerate(table, start=1 + offset):
        for c, text in enumerate(row, start=1):
            target.cell(row=r, column=c, value=_typed_cell(text, draw(st.integers(0, 6))))
    for ws in sheets:
        for _ in range(draw(st.integers(0, 3))):
            r1, c1 = draw(st.integers(1, 8)), draw(st.integers(1, 6))
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r1 + draw(st.integers(0, 3)),
                           end_column=c1 + draw(st.integers(0, 3)))
        if ws is not target and draw(st.booleans()):
            ws.append([_typed_cell(draw(hostile_text), 0) for _ in range(draw(st.integers(1, 5)))])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), draw(st.sampled_from(("cohort.xlsx", None, "cohort.csv", "cohort.XLSX")))


@st.composite
def parquet_files(draw) -> tuple[bytes, str | None]:
    """Parquet: text columns from a cohort table, or typed columns (inf/NaN floats, huge ints, dates,
    bytes, lists, nulls), with zero or many rows."""
    table = draw(cohort_tables(max_rows=15))
    header, rows = table[0], table[1:]
    columns: dict[str, list] = {}
    for j, name in enumerate(header):
        values = [row[j] for row in rows]
        kind = draw(st.integers(0, 5))
        if kind == 1:
            values = [float(len(v)) if i % 3 else float("inf") for i, v in enumerate(values)]
        elif kind == 2:
            values = [dt.datetime(2019, 1, 1) + dt.timedelta(days=len(v)) for v in values]
        elif kind == 3:
            values = [v.encode("utf-8", "replace") for v in values]
        elif kind == 4:
            values = [[v, v] for v in values]
        elif kind == 5:
            values = [None for _ in values]
        key = name if name not in columns else f"{name}.{j}"  # Parquet needs unique names
        columns[key] = values
    try:
        arrow = pa.table(columns) if columns else pa.table({"x": pa.array([], pa.string())})
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arrow = pa.table({k: pa.array([str(v) for v in vals], pa.string()) for k, vals in columns.items()})
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue(), draw(st.sampled_from(("cohort.parquet", None, "cohort.csv")))


MAGIC_PREFIXES = (b"", b"PK\x03\x04", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"<html><body>",
                  b"<?xml version='1.0'?>", b"\x1f\x8b\x08", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                  b"{\"patient_id\": ", b"patient_id,disease\n")


@st.composite
def random_bytes(draw) -> tuple[bytes, str | None]:
    """Random bytes, often behind a format's magic number so the sniffing picks the wrong reader."""
    raw = draw(st.sampled_from(MAGIC_PREFIXES)) + draw(st.binary(max_size=2048))
    if raw.startswith(b"PAR1") and draw(st.booleans()):
        raw += b"PAR1"
    return raw, draw(st.sampled_from(FILE_NAMES))


@st.composite
def corrupted(draw, valid: tuple[bytes, ...]) -> tuple[bytes, str | None]:
    """A valid CSV/XLSX/Parquet file, truncated, with bytes flipped, inserted or a chunk repeated."""
    raw = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(("truncate", "flip", "insert", "repeat")))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if action == "truncate":
            del raw[at:]
        elif action == "flip" and raw:
            raw[at] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            raw[at:at] = raw[at: at + draw(st.integers(1, 64))]
    return bytes(raw), draw(st.sampled_from(FILE_NAMES))


def valid_frame(n: int = 12) -> pd.DataFrame:
    """A small well-formed cohort (as text) that the loader should accept."""
    rows = []
    for i in range(n):
        died = i % 3 == 0
        start = dt.date(2016, 1, 1) + dt.timedelta(days=20 * i)
        rows.append({
            schema.PATIENT_ID: f"P{i:03d}", schema.DISEASE: schema.DISEASES[i % 2],
            schema.PRIOR_LINES: str(i % 3), schema.PRIOR_PD1: "yes" if i % 2 else "no",
            schema.DATE_IL2_START: start.isoformat(), schema.BOR: schema.BOR_LEVELS[i % 5],
            schema.DIED: "yes" if died else "no",
            schema.DATE_DEATH: (start + dt.timedelta(days=300)).isoformat() if died else "",
            schema.DATE_LAST_FOLLOWUP: (start + dt.timedelta(days=400)).isoformat(),
            schema.AGE: str(40 + i), schema.SEX: "MF"[i % 2],
        })
    return pd.DataFrame(rows)


def valid_files() -> tuple[bytes, ...]:
    """The valid cohort as CSV, semicolon CSV, XLSX and Parquet bytes (seeds for corruption)."""
    frame = valid_frame()
    xlsx, parquet = io.BytesIO(), io.BytesIO()
    frame.to_excel(xlsx, index=False)
    frame.to_parquet(parquet, index=False)
    return (frame.to_csv(index=False).encode(), frame.to_csv(index=False, sep=";").encode("latin-1"),
            xlsx.getvalue(), parquet.getvalue())


# ---- files built to exhaust memory or time (tests/test_loader_limits.py) --------------------------------

def _workbook_bytes(rows: list[list[object]], far_cell: tuple[int, str] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if far_cell:
        ws.cell(row=far_cell[0], column=1, value=far_cell[1])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _rewrite_zip(raw: bytes, part: str, content) -> bytes:
    """The zip with ``part`` replaced: ``content`` is bytes, or an iterable of byte chunks written as a stream."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != part:
                target.writestr(info.filename, source.read(info.filename))
            elif isinstance(content, bytes):
                target.writestr(info.filename, content)
            else:
                with target.open(info.filename, "w", force_zip64=True) as stream:
                    for chunk in content:
                        stream.write(chunk)
    return out.getvalue()


def forged_dimension_xlsx(last_row: int) -> tuple[bytes, str]:
    """A valid cohort sheet plus one cell at row ``last_row``, whose ``<dimension>`` claims every column
    up to XFD: a reader that trusts it pads each row to 16,384 cells (about 5 kB of file)."""
    frame = valid_frame(3)
    raw = _workbook_bytes([list(frame.columns), *frame.values.tolist()], far_cell=(last_row, "P999"))
    sheet = zipfile.ZipFile(io.BytesIO(raw)).read("xl/worksheets/sheet1.xml")
    forged = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="A1:XFD{last_row}"'.encode(), sheet)
    return _rewrite_zip(raw, "xl/worksheets/sheet1.xml", forged), "bomb.xlsx"


def compressed_sheet_xlsx(megabytes: int) -> tuple[bytes, str]:
    """A workbook whose sheet unpacks to ``megabytes`` MB of identical rows (a few hundred kB of file)."""
    frame = valid_frame(1)
    raw = _workbook_bytes([list(frame.columns)])
    row = b'<row><c t="inlineStr"><is><t>P1</t></is></c><c t="inlineStr"><is><t>melanoma</t></is></c></row>'
    block = row * (2**20 // len(row))

    def stream():
        yield (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>'
               + b"".join(b'<c t="inlineStr"><is><t>' + str(c).encode() + b"</t></is></c>" for c in frame.columns)
               + b"</row>")
        for _ in range(megabytes):
            yield block
        yield b"</sheetData></worksheet>"

    return _rewrite_zip(raw, "xl/worksheets/sheet1.xml", stream()), "bomb.xlsx"


def declared_size_xlsx(declared: int = 0xF000_0000) -> tuple[bytes, str]:
    """A small valid workbook whose table of contents declares its sheet ``declared`` bytes long."""
    frame = valid_frame(3)
    raw = bytearray(_workbook_bytes([list(frame.columns), *frame.values.tolist()]))
    at = raw.find(b"PK\x01\x02")
    while at >= 0:  # central-directory entries: uncompressed size at +24, name length at +28, name at +46
        length = int.from_bytes(raw[at + 28:at + 30], "little")
        if bytes(raw[at + 46:at + 46 + length]) == b"xl/worksheets/sheet1.xml":
            raw[at + 24:at + 28] = declared.to_bytes(4, "little")
        at = raw.find(b"PK\x01\x02", at + 46)
    return bytes(raw), "declared.xlsx"


def constant_parquet(rows: int, value: str = "melanoma") -> tuple[bytes, str]:
    """One text column holding the same value ``rows`` times: dictionary and run-length encoding store
    it in a few kB per million rows."""
    import numpy as np

    chunk = pa.table({schema.DISEASE: pa.array(np.full(min(rows, 1_000_000), value, dtype=object), pa.string())})
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, chunk.schema) as writer:
        left = rows
        while left > 0:
            writer.write_table(chunk.slice(0, min(left, len(chunk))))
            left -= min(left, len(chunk))
    return buffer.getvalue(), "bomb.parquet"


def wide_csv(columns: int) -> tuple[bytes, str]:
    """A header of ``columns`` distinct names and one row."""
    header = ",".join(f"c{k}" for k in range(columns))
    return (header + "\n" + ",".join("1" for _ in range(columns)) + "\n").encode(), "wide.csv"


def repeated_header_csv(repeats: int, name: str = "a") -> tuple[bytes, str]:
    """A header of one name ``repeats`` times (de-duplicated to a, a (2), ...) and one row."""
    return (",".join([name] * repeats) + "\n" + ",".join("1" for _ in range(repeats)) + "\n").encode(), "dup.csv"


def tall_xlsx(rows: int) -> tuple[bytes, str]:
    """A valid cohort sheet of ``rows`` patients (to stop at a lowered cell limit while reading)."""
    frame = valid_frame(rows)
    return _workbook_bytes([list(frame.columns), *frame.values.tolist()]), "tall.xlsx"


HOSTILE_FILES = {  # name -> (builder, args): every builder returns (bytes, file name)
    "forged dimension, 20,000 rows": (forged_dimension_xlsx, (20_000,)),
    "forged dimension, 1,048,576 rows": (forged_dimension_xlsx, (1_048_576,)),
    "sheet unpacking to 300 MB": (compressed_sheet_xlsx, (300,)),
    "sheet declared 4 GB": (declared_size_xlsx, ()),
    "Parquet, 20 M constant rows": (constant_parquet, (20_000_000,)),
    "Parquet, 40 M constant rows": (constant_parquet, (40_000_000,)),
    "CSV with 20,000 columns": (wide_csv, (20_000,)),
    "header of 8,000 repeated names": (repeated_header_csv, (8_000,)),
}
