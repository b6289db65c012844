"""Read an uploaded table (CSV/TSV, XLSX, Parquet) into strings, with no interpretation.

Everything is read as text first (``""`` = empty cell); :mod:`il2lib.validation` coerces per
column. A file that is not a table at all raises :class:`~il2lib.errors.CohortFileError` with
one plain sentence; no other exception type escapes :func:`read_table` for bad bytes.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from il2lib.errors import CohortFileError

Format = Literal["csv", "xlsx", "parquet"]
_TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50


@dataclass(frozen=True)
class RawTable:
    """A table as read: every cell a ``str`` (``""`` when empty), columns as in the header.

    ``frame`` has unique column names (duplicates get `` (2)``, empties ``column_<k>``);
    ``header`` keeps the names as written. ``file_rows`` holds each row's line number in the
    file (header = line 1; for Excel the sheet row number). ``bad_rows`` maps file row ->
    problem for rows the reader could not align with the header (ragged rows).
    """

    frame: pd.DataFrame
    header: tuple[str, ...]
    file_rows: np.ndarray
    fingerprint: str
    source_name: str
    format: Format
    delimiter: str | None = None
    encoding: str | None = None
    decimal_comma: bool = False
    bad_rows: tuple[tuple[int, str], ...] = ()
    notes: tuple[str, ...] = ()


def source_bytes(source: Any) -> tuple[bytes, str]:
    """Raw bytes and a display name of a path, bytes object or binary file-like (UploadedFile)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "uploaded file"
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise CohortFileError(f"The file '{path}' could not be opened ({exc.strerror or exc}).") from None
    if hasattr(source, "getvalue") or hasattr(source, "read"):
        try:
            data = source.getvalue() if hasattr(source, "getvalue") else source.read()
        except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's bad file
            raise CohortFileError(f"The uploaded file could not be read ({exc}).") from None
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = str(getattr(source, "name", "") or "uploaded file")
        return bytes(data), Path(name).name
    raise CohortFileError(f"Cannot read a table from an object of type {type(source).__name__}.")


def read_table(source: Any, *, sheet: str | int | None = None) -> RawTable:
    """Read ``source`` into a :class:`RawTable` (all cells as strings).

    Format by file name (.csv/.tsv/.txt, .xlsx, .parquet), else by content: ``PK`` zip
    signature = XLSX, ``PAR1`` = Parquet, otherwise delimited text (delimiter sniffed among
    ``, ; tab |``; UTF-8, UTF-8 with BOM, UTF-16 with BOM, Latin-1 fallback).

    Raises
    ------
    CohortFileError
        Empty, binary, HTML, a workbook without a usable sheet, or no header row.
    """
    data, name = source_bytes(source)
    fingerprint = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise CohortFileError(f"'{name}' is empty: there is no table to read.")
    kind = _detect_format(data, name)
    try:
        if kind == "xlsx":
            table = _read_excel(data, name, sheet)
        elif kind == "parquet":
            table = _read_parquet(data, name)
        else:
            table = _read_text(data, name)
    except CohortFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed bytes must surface as one typed error
        raise CohortFileError(f"'{name}' could not be read as a {kind.upper()} table ({type(exc).__name__}).") from None
    return _finish(table, fingerprint, name, kind)


def _detect_format(data: bytes, name: str) -> Format:
    suffix = Path(name).suffix.lower()
    if suffix in _EXCEL_SUFFIXES:
        return "xlsx"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix == ".xls":
        raise CohortFileError(f"'{name}' is an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV.")
    if suffix not in _TEXT_SUFFIXES:
        if data[:4] == b"PK\x03\x04":
            return "xlsx"
        if data[:4] == b"PAR1":
            return "parquet"
    return "csv"


# --------------------------------------------------------------------------------------
# Delimited text
# --------------------------------------------------------------------------------------
def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CohortFileError(f"'{name}' looks like UTF-16 text but could not be decoded.") from None
    if b"\x00" in data[:65536]:
        head = data[:4096]
        for encoding, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
            if len(zeros) > 8 and zeros.count(0) >= 0.9 * len(zeros):
                try:
                    return data.decode(encoding), encoding
                except UnicodeDecodeError:
                    break
        raise CohortFileError(f"'{name}' is a binary file, not a text table (CSV/TSV), XLSX or Parquet file.")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f")
    return control > max(3, len(sample) // 100)


def _looks_html(text: str) -> bool:
    head = text.lstrip()[:500].lower()
    return head.startswith(("<!doctype html", "<html", "<?xml", "<head", "<body", "<table", "<svg"))


def _sniff_delimiter(lines: list[str]) -> str:
    """Delimiter giving the most header fields with a consistent field count in later lines."""
    best, best_score = ",", (0, 0.0)
    for delim in _DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delim))
        except csv.Error:
            continue
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        if not rows:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        consistency = sum(len(r) == width for r in body) / len(body)
        score = (width if width > 1 else 0, consistency)
        if score[0] and (consistency >= 0.5) and score > best_score:
            best, best_score = delim, score
    return best


def _read_text(data: bytes, name: str) -> dict:
    text, encoding = _decode(data, name)
    if _looks_binary(text):
        raise CohortFileError(f"'{name}' is a binary file, not a text table (CSV/TSV), XLSX or Parquet file.")
    if _looks_html(text):
        raise CohortFileError(f"'{name}' is a web page (HTML/XML), not a table; export the data as CSV or XLSX.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    skipped = 0
    while skipped < len(lines) and not lines[skipped].strip():
        skipped += 1
    delim = _sniff_delimiter(lines[skipped:skipped + _SNIFF_LINES])
    body = "\n".join(lines[skipped:])
    rows, bad = _parse_delimited(body, delim)
    blank = None
    if '"' not in body:  # one record per line: blank records can be found from the lines themselves
        blank = np.array([not line.strip(" \t,;|") for line in lines[skipped + 1:]], dtype=bool)
    header = rows[0]
    records = rows[1] if len(rows) == 2 and isinstance(rows[1], pd.DataFrame) else rows[1:]
    file_rows = np.arange(len(records), dtype=np.int64) + 2 + skipped
    return {"header": header, "records": records, "file_rows": file_rows, "delimiter": delim,
            "encoding": encoding, "bad": [(int(file_rows[i]), msg) for i, msg in bad], "blank": blank}


def _parse_delimited(body: str, delim: str) -> tuple[list, list[tuple[int, str]]]:
    """Fast path with pandas' C parser; ragged files fall back to the csv module."""
    try:
        frame = pd.read_csv(io.StringIO(body), sep=delim, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c", quoting=csv.QUOTE_MINIMAL)
        if frame.empty:
            raise CohortFileError("The file has no header row.")
        header = ["" if pd.isna(v) else str(v) for v in frame.iloc[0].tolist()]
        records = frame.iloc[1:]
        records.index = pd.RangeIndex(len(records))
        return [header, records], []
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OverflowError):
        pass
    csv.field_size_limit(1 << 30)
    rows = list(csv.reader(io.StringIO(body), delimiter=delim))
    if not rows:
        raise CohortFileError("The file has no header row.")
    width = len(rows[0])
    bad: list[tuple[int, str]] = []
    for i, row in enumerate(rows[1:]):
        if len(row) > width:
            extra = [c for c in row[width:] if c.strip()]
            if extra:
                bad.append((i, f"has {len(row)} fields but the header has {width}"))
            rows[i + 1] = row[:width]
        elif len(row) < width:
            rows[i + 1] = row + [""] * (width - len(row))
    return rows, bad


# --------------------------------------------------------------------------------------
# Excel and Parquet
# --------------------------------------------------------------------------------------
def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _read_excel(data: bytes, name: str, sheet: str | int | None) -> dict:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001
        raise CohortFileError(f"'{name}' is not a readable XLSX workbook.") from None
    try:
        names = book.sheetnames
        if sheet is None:
            candidates = names
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise CohortFileError(f"'{name}' has no sheet number {sheet}; its sheets are: {', '.join(names)}.")
            candidates = [names[sheet]]
        else:
            if sheet not in names:
                raise CohortFileError(f"'{name}' has no sheet named '{sheet}'; its sheets are: {', '.join(names)}.")
            candidates = [sheet]
        for sheet_name in candidates:
            rows = _sheet_rows(book[sheet_name])
            if rows:
                return rows
    finally:
        book.close()
    raise CohortFileError(f"'{name}' has no sheet with a table (every sheet is empty).")


def _sheet_rows(ws) -> dict | None:
    records: list[list[str]] = []
    numbers: list[int] = []
    header: list[str] | None = None
    for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_cell_text(v) for v in row]
        if header is None:
            if any(c.strip() for c in cells):
                header = cells
            continue
        records.append(cells)
        numbers.append(number)
    if header is None:
        return None
    width = max([len(header)] + [len(r) for r in records])
    header = header + [""] * (width - len(header))
    records = [r + [""] * (width - len(r)) for r in records]
    return {"header": header, "records": records, "file_rows": np.array(numbers, dtype=np.int64)}


def _read_parquet(data: bytes, name: str) -> dict:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except Exception:  # noqa: BLE001
        raise CohortFileError(f"'{name}' is not a readable Parquet file.") from None
    header = [str(c) for c in frame.columns]
    columns, blank = {}, np.ones(len(frame), dtype=bool)
    for k in range(frame.shape[1]):
        columns[k], empty = _parquet_text(frame.iloc[:, k])
        blank &= empty
    records = pd.DataFrame(columns, index=pd.RangeIndex(len(frame))) if columns and len(frame) else []
    return {"header": header, "records": records, "file_rows": np.arange(len(frame), dtype=np.int64) + 2,
            "blank": blank if columns else None}


def _parquet_text(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """One Parquet column as cell texts (object array; missing = "") and its blank-cell mask,
    converted once per distinct value."""
    if pd.api.types.is_datetime64_any_dtype(s):
        text = s.dt.strftime("%Y-%m-%d").fillna("").to_numpy(dtype=object)
        return text, text == ""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":  # text already: _cell_text is str()
        texts = np.append(uniques.astype(object), "")
    else:
        texts = np.array([_cell_text(v) for v in uniques] + [""], dtype=object)
    empty = pd.Series(texts, dtype=object).str.strip().eq("").to_numpy(dtype=bool)
    return texts[codes], empty[codes]  # code -1 (missing) picks the trailing ""


# --------------------------------------------------------------------------------------
# Common finishing: header names, blank rows
# --------------------------------------------------------------------------------------
_NUMBER_LIKE = re.compile(r"^[+-]?\d+([.,]\d+)?$|^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")


def _unique_names(header: list[str]) -> list[str]:
    """Column names made unique (case-insensitively): repeats get " (2)", " (3)"; empties "column_<k>"."""
    out: list[str] = []
    used: set[str] = set()
    for k, raw in enumerate(header, start=1):
        base = str(raw).replace("\ufeff", "").strip() or f"column_{k}"
        name, count = base, 1
        while name.lower() in used:
            count += 1
            name = f"{base} ({count})"
        used.add(name.lower())
        out.append(name)
    return out


def _finish(table: dict, fingerprint: str, name: str, kind: Format) -> RawTable:
    header = [str(h) if h is not None else "" for h in table["header"]]
    named = [h.strip() for h in header if h.strip()]
    if not named:
        raise CohortFileError(f"'{name}' has no header row: the first non-empty row has no column names.")
    if len(named) == len(header) and len(header) > 1 and all(_NUMBER_LIKE.match(h.strip()) for h in header):
        raise CohortFileError(f"'{name}' has no header row: the first row holds numbers or dates, not column names.")
    columns = _unique_names(header)
    records = table["records"]
    if isinstance(records, pd.DataFrame):
        frame = records
        frame.columns = columns
    elif records:
        frame = pd.DataFrame(records, columns=columns, dtype=object)
    else:
        frame = pd.DataFrame(columns=columns, dtype=object)
    if frame.isna().to_numpy().any():
        frame = frame.fillna("")
    file_rows = np.asarray(table["file_rows"], dtype=np.int64)
    blank = table.get("blank")
    if blank is not None and len(blank) >= len(frame):
        blank = blank[:len(frame)]
    elif len(frame.columns) and len(frame):
        from il2lib.coerce import by_distinct

        empty = by_distinct(frame.to_numpy(dtype=object), lambda u: u.astype(str).str.strip().eq(""))
        blank = empty.astype(bool).all(axis=1)
    else:
        blank = np.zeros(len(frame), dtype=bool)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        file_rows = file_rows[~blank]
    delim = table.get("delimiter")
    decimal_comma = delim == ";" and _has_decimal_commas(frame)
    return RawTable(frame=frame, header=tuple(header), file_rows=file_rows, fingerprint=fingerprint,
                    source_name=name, format=kind, delimiter=delim, encoding=table.get("encoding"),
                    decimal_comma=decimal_comma, bad_rows=tuple(table.get("bad", ())))


def _has_decimal_commas(frame: pd.DataFrame) -> bool:
    sample = frame.head(500)
    pattern = r"^\s*[+-]?\d+,\d+\s*$"
    return any(sample[c].str.match(pattern).any() for c in sample.columns)
