"""Read an uploaded table (CSV/TSV, XLSX, Parquet) into strings, with no interpretation.

Everything is read as text first (``""`` = empty cell); :mod:`il2lib.validation` coerces per
column. A file that is not a table at all raises :class:`~il2lib.errors.CohortFileError` with
one plain sentence; no other exception type escapes :func:`read_table` for bad bytes.

Sizes are checked before the data is read (:class:`LoaderLimits`, set by environment variables):
a file over a limit raises :class:`LoaderLimitError` naming the limit and its setting. Text and
Parquet are parsed by pyarrow into compact columns, then turned into one Python string per
distinct value of a column, so a load holds about the file plus one reference per cell; with
``compact=True`` a column whose values repeat holds a small integer code per cell instead.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import queue
import re
import threading
from dataclasses import dataclass, field
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
    """A table as read: every cell a ``str`` (``""`` when empty), columns as in the header (read with
    ``compact``, a column whose values repeat is a categorical of those strs).

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
    rows_read: int = 0  # rows the reader went through (for a sheet: up to its last stored row)
    cells_read: int = 0  # cells the reader went through, empty ones included
    #: column -> (code per cell, distinct texts in order of first appearance) of the object columns the reader
    #: encoded already (with ``compact``); a hint that :func:`il2lib.validation.patients` checks before use.
    distinct: Any = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------------------
# Size limits, checked before the data is read
# --------------------------------------------------------------------------------------
# Excel's own sheet size (Microsoft, "Excel specifications and limits"): 1,048,576 rows by 16,384 columns.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
_EXPANSION_FLOOR = 64 * 2**20  # smaller unpacked sizes are not checked against the expansion ratio
_MAX_ZIP_PARTS = 10_000  # an ordinary workbook has a few dozen parts


@dataclass(frozen=True)
class LoaderLimits:
    """Largest file the loader reads; each limit has an environment variable of the server.

    ``max_cells``: rows x columns (``IL2_MAX_CELLS``). ``max_decoded_mb``: estimated size of the data
    once unpacked, in MB (``IL2_MAX_DECODED_MB``): text size for CSV, declared part sizes for XLSX,
    rows x column widths for Parquet. ``max_columns`` (``IL2_MAX_COLUMNS``). ``max_expansion``: unpacked
    size over file size for the compressed formats XLSX and Parquet (``IL2_MAX_EXPANSION``), checked
    once the unpacked size is over 64 MB.
    """

    max_cells: int = 100_000_000
    max_decoded_mb: float = 1000.0
    max_columns: int = EXCEL_MAX_COLUMNS
    max_expansion: float = 100.0

    @classmethod
    def from_env(cls, environ: Any = None) -> "LoaderLimits":
        """Limits from ``IL2_MAX_CELLS``, ``IL2_MAX_DECODED_MB``, ``IL2_MAX_COLUMNS``, ``IL2_MAX_EXPANSION``;
        a missing, unreadable or non-positive value keeps the default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, setting in LIMIT_SETTINGS.items():
            raw = str(environ.get(setting, "")).strip().replace("_", "")
            try:
                number = float(raw)
            except ValueError:
                continue
            if name in ("max_cells", "max_columns"):
                number = int(number) if number != float("inf") else 0
            if 0 < number < float("inf"):
                values[name] = number
        return cls(**values)

    @property
    def max_decoded_bytes(self) -> int:
        return int(self.max_decoded_mb * 1e6)


LIMIT_SETTINGS = {"max_cells": "IL2_MAX_CELLS", "max_decoded_mb": "IL2_MAX_DECODED_MB",
                  "max_columns": "IL2_MAX_COLUMNS", "max_expansion": "IL2_MAX_EXPANSION"}


class LoaderLimitError(CohortFileError):
    """A file over one of the :class:`LoaderLimits`; ``setting`` names its environment variable (or is
    empty for a limit of the format itself), ``rows_read`` and ``cells_read`` count the work done."""

    def __init__(self, message: str, setting: str = "", rows_read: int = 0, cells_read: int = 0):
        super().__init__(message)
        self.setting, self.rows_read, self.cells_read = setting, rows_read, cells_read


@dataclass
class _Progress:
    rows: int = 0
    cells: int = 0


def _size_text(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}".replace(".0 ", " ")
    return f"{int(n)} bytes"


def _over_limit(name: str, what: str, limit: str, setting: str, progress: _Progress) -> LoaderLimitError:
    return LoaderLimitError(f"'{name}' is too large to load: {what}, more than the limit of {limit} "
                            f"(setting {setting}, which the server's administrator can raise).",
                            setting, progress.rows, progress.cells)


def _check_columns(name: str, columns: int, limits: LoaderLimits, progress: _Progress) -> None:
    if columns > limits.max_columns:
        raise _over_limit(name, f"it has {columns:,} columns", f"{limits.max_columns:,} columns",
                          LIMIT_SETTINGS["max_columns"], progress)


def _check_cells(name: str, rows: int, columns: int, limits: LoaderLimits, progress: _Progress,
                 at_least: bool = False) -> None:
    if rows * columns > limits.max_cells:
        more = "at least " if at_least else ""
        plural = "s" if columns != 1 else ""
        raise _over_limit(name, f"it has {more}{rows:,} rows of {columns:,} column{plural} ({more}{rows * columns:,} "
                          "cells)",
                          f"{limits.max_cells:,} cells", LIMIT_SETTINGS["max_cells"], progress)


def _check_decoded(name: str, decoded: int, file_size: int, limits: LoaderLimits, progress: _Progress,
                   compressed: bool) -> None:
    if decoded > limits.max_decoded_bytes:
        raise _over_limit(name, f"its data would take about {_size_text(decoded)} once unpacked",
                          f"{limits.max_decoded_mb:,g} MB", LIMIT_SETTINGS["max_decoded_mb"], progress)
    ratio = decoded / max(file_size, 1)
    if compressed and decoded > _EXPANSION_FLOOR and ratio > limits.max_expansion:
        raise _over_limit(name, f"a file of {_size_text(file_size)} would unpack to about {_size_text(decoded)} "
                          f"({ratio:,.0f} times its size, as files built to exhaust a server's memory do)",
                          f"{limits.max_expansion:,g} times", LIMIT_SETTINGS["max_expansion"], progress)


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


def read_table(source: Any, *, sheet: str | int | None = None, limits: LoaderLimits | None = None,
               compact: bool = False) -> RawTable:
    """Read ``source`` into a :class:`RawTable` (all cells as strings).

    Format by file name (.csv/.tsv/.txt, .xlsx, .parquet), else by content: ``PK`` zip
    signature = XLSX, ``PAR1`` = Parquet, otherwise delimited text (delimiter sniffed among
    ``, ; tab |``; UTF-8, UTF-8 with BOM, UTF-16 with BOM, Latin-1 fallback).
    ``limits`` defaults to :meth:`LoaderLimits.from_env`. With ``compact``, a table of 1,000 rows or
    more holds each column with at most one distinct value in 8 cells as a pandas categorical (its
    distinct texts once, in order of first appearance, and a small integer code per cell): every cell
    still reads as the same ``str``, in a fraction of the memory.

    Raises
    ------
    LoaderLimitError
        The file is over a size limit (checked before its data is read, and counted while reading).
    CohortFileError
        Empty, binary, HTML, a workbook without a usable sheet, or no header row.
    """
    data, name = source_bytes(source)
    fingerprint = _fingerprint(data)
    if not data or data.isspace():  # as ``not data.strip()``, without a copy of the bytes
        raise CohortFileError(f"'{name}' is empty: there is no table to read.")
    kind = _detect_format(data, name)
    limits = limits or LoaderLimits.from_env()
    progress = _Progress()
    try:
        if kind == "xlsx":
            table = _read_excel(data, name, sheet, limits, progress, compact)
        elif kind == "parquet":
            table = _read_parquet(data, name, limits, progress, compact)
        else:
            table = _read_text(data, name, limits, progress, compact)
    except CohortFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed bytes must surface as one typed error
        raise CohortFileError(f"'{name}' could not be read as a {kind.upper()} table ({type(exc).__name__}).") from None
    return _finish(table, fingerprint(), name, kind, progress)


_HASH_BESIDE_READ = 1 << 24  # bytes from which the fingerprint is computed while the file is read


def _fingerprint(data: bytes):
    """A function giving the sha256 of ``data``: of a large file computed by a thread of its own while the
    file is read (hashlib lets go of the GIL)."""
    if len(data) < _HASH_BESIDE_READ:
        hexdigest = hashlib.sha256(data).hexdigest()
        return lambda: hexdigest
    digests: list[str] = []
    thread = threading.Thread(target=lambda: digests.append(hashlib.sha256(data).hexdigest()),
                              name="file-fingerprint", daemon=True)
    thread.start()

    def digest() -> str:
        thread.join()
        return digests[0]
    return digest


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
_UTF8_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_SPACE = re.compile(rb"[ \t\r\n\x0b\x0c]*")
_CHECK_CHUNK = 1 << 20
_ARROW_BLOCK = 1 << 20  # bytes pyarrow parses at a time; a longer row goes to the csv module
_PIECE_CELLS = 2_000_000  # cells of the csv module's rows gathered before they become Arrow columns
_ARROW_MAX_COLUMNS = 1_000  # pyarrow's parser holds about 15 kB per column: wider files use the csv module


def _is_utf8(data: bytes, start: int) -> bool:
    """Strict UTF-8 check in 1 MB pieces (the decoded text is never held whole)."""
    if start == 0 and data.isascii():  # ASCII is UTF-8, checked without a copy
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(start, len(data), _CHECK_CHUNK):
            piece = view[at:at + _CHECK_CHUNK]
            if not decoder.getstate()[0] and bytes(piece).isascii():  # ASCII is UTF-8: no text built
                continue
            decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_text(data: bytes, name: str) -> tuple[bytes, int, str]:
    """The text as UTF-8 bytes, where it starts (after a byte-order mark) and the encoding it was read as.

    UTF-8 is used as it is (no copy); UTF-16 and Latin-1 are converted to UTF-8."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16").encode("utf-8"), 0, "utf-16"
        except UnicodeDecodeError:
            raise CohortFileError(f"'{name}' looks like UTF-16 text but could not be decoded.") from None
    if b"\x00" in data[:65536]:
        head = data[:4096]
        for encoding, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
            if len(zeros) > 8 and zeros.count(0) >= 0.9 * len(zeros):
                try:
                    return data.decode(encoding).encode("utf-8"), 0, encoding
                except UnicodeDecodeError:
                    break
        raise CohortFileError(f"'{name}' is a binary file, not a text table (CSV/TSV), XLSX or Parquet file.")
    if data.startswith(_UTF8_BOM):
        if _is_utf8(data, 3):
            return data, 3, "utf-8-sig"
        return data[3:].decode("utf-8", errors="replace").encode("utf-8"), 0, "utf-8-sig"
    if _is_utf8(data, 0):
        return data, 0, "utf-8"
    return data.decode("latin-1").encode("utf-8"), 0, "latin-1"


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f]")  # below 32, except tab, LF, form feed and CR


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    control = len(_CONTROL.findall(sample))
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


def _count_line_ends(buf: bytes, start: int, end: int) -> int:
    if buf.find(b"\r", start, end) < 0:  # one fast scan spares the two slower counts
        return _count_byte(buf, 10, start, end)
    return _count_byte(buf, 10, start, end) + _count_byte(buf, 13, start, end) - buf.count(b"\r\n", start, end)


def _count_byte(buf: bytes, byte: int, start: int, end: int) -> int:
    """``buf.count(bytes([byte]), start, end)``, by numpy a block at a time (a few times faster on a large text)."""
    if end - start < _CHECK_CHUNK:
        return buf.count(bytes([byte]), start, end)
    view = np.frombuffer(buf, dtype=np.uint8)
    return sum(int(np.count_nonzero(view[at:min(at + _CHECK_CHUNK, end)] == byte))
               for at in range(start, end, _CHECK_CHUNK))


def _has_empty_lines(buf: bytes, offset: int) -> bool:
    """Whether two line ends follow each other after ``offset`` (pyarrow skips such empty lines)."""
    pairs = (b"\n\n", b"\r\r", b"\n\r") if buf.find(b"\r", offset) >= 0 else (b"\n\n",)
    return any(buf.find(pair, offset) >= 0 for pair in pairs)


def _empty_lines_skipped(buf: bytes, offset: int, quoted: bool, line_ends: int, rows: int) -> bool:
    """Whether pyarrow may have skipped empty lines after ``offset``: :func:`_has_empty_lines`, without its scan
    when the text has no quote and each of its lines (``line_ends`` of them, plus an unended last one) gave a row
    (unquoted, a line gives at most one row and an empty line none)."""
    if not quoted:
        lines = line_ends + (1 if len(buf) > offset and buf[-1:] not in (b"\n", b"\r") else 0)
        if rows == lines:
            return False
    return _has_empty_lines(buf, offset)


def _line_spans(buf: bytes, start: int):
    """(start, end) of each line from ``start``; CR, LF and CRLF end a line; the last span may be empty."""
    for match in _LINE_END.finditer(buf, start):
        yield start, match.start()
        start = match.end()
    yield start, len(buf)


def _head_lines(buf: bytes, start: int) -> tuple[list[str], int, int]:
    """Up to 50 lines from the first non-blank one, that line's byte offset, and the number of blank
    lines before it."""
    space_end = _LEADING_SPACE.match(buf, start).end()  # runs of blank lines are skipped at C speed
    last_end = max(buf.rfind(b"\n", start, space_end), buf.rfind(b"\r", start, space_end))
    skipped = _count_line_ends(buf, start, last_end + 1) if last_end >= 0 else 0
    lines: list[str] = []
    offset = len(buf)
    for a, b in _line_spans(buf, last_end + 1 if last_end >= 0 else start):
        line = buf[a:b].decode("utf-8", errors="replace")
        if not lines and not line.strip():
            skipped += 1
            continue
        if not lines:
            offset = a
        lines.append(line)
        if len(lines) >= _SNIFF_LINES:
            break
    return lines, offset, skipped


def _nonempty_lines(buf: bytes, start: int) -> np.ndarray:
    """1-based numbers (from ``start``) of the lines that hold at least one character."""
    numbers = [k for k, (a, b) in enumerate(_line_spans(buf, start), start=1) if b > a]
    return np.asarray(numbers, dtype=np.int64)


def _read_text(data: bytes, name: str, limits: LoaderLimits, progress: _Progress, compact: bool = False) -> dict:
    buf, start, encoding = _utf8_text(data, name)
    head = buf[start:start + 80_000].decode("utf-8", errors="ignore")
    if _looks_binary(head):
        raise CohortFileError(f"'{name}' is a binary file, not a text table (CSV/TSV), XLSX or Parquet file.")
    if _looks_html(head):
        raise CohortFileError(f"'{name}' is a web page (HTML/XML), not a table; export the data as CSV or XLSX.")
    lines, offset, skipped = _head_lines(buf, start)
    if not lines:
        raise CohortFileError(f"'{name}' has no header row: the file holds blank lines only.")
    delim = _sniff_delimiter(lines)
    try:
        width = len(next(csv.reader(lines, delimiter=delim), []))
    except csv.Error:
        width = len(lines[0].split(delim))
    _check_columns(name, width, limits, progress)
    _check_decoded(name, len(buf) - offset, len(data), limits, progress, compressed=False)
    line_ends = _count_line_ends(buf, offset, len(buf))
    _check_cells(name, line_ends, width, limits, progress)
    quoted = buf.find(b'"', offset) >= 0
    parsed = None
    if width <= _ARROW_MAX_COLUMNS:
        read = _arrow_compact_delimited if compact else _arrow_delimited
        parsed = read(buf, offset, delim, width, quoted, name, limits, progress, line_ends)
    if parsed is None:
        parsed = _csv_delimited(buf, offset, delim, name, limits, progress)
    header, columns, bad, numbers = parsed
    if isinstance(columns, _ReadCells):  # compacted batch by batch
        cells, keep = columns.cells, columns.keep
    else:
        cells, keep = _text_columns(columns, crlf_inside=quoted, compact=compact)
    n_records = len(keep)
    file_rows = numbers + skipped if numbers is not None else np.arange(n_records, dtype=np.int64) + 2 + skipped
    if quoted:  # the old reader turned every line ending into LF, inside quoted cells too
        header = [h.replace("\r\n", "\n").replace("\r", "\n") for h in header]
    return {"header": header, "columns": cells, "file_rows": file_rows[keep], "delimiter": delim,
            "encoding": encoding, "bad": [(int(file_rows[i]), msg) for i, msg in bad]}


def _arrow_delimited(buf: bytes, offset: int, delim: str, width: int, quoted: bool, name: str,
                     limits: LoaderLimits, progress: _Progress, line_ends: int):
    """(header, string columns, [], file line numbers or None) parsed by pyarrow, or None when the file
    needs the tolerant reader: ragged or blank-with-spaces rows, a header pyarrow splits otherwise, a row
    longer than a block, or empty lines between lines of a multi-line cell."""
    import pyarrow as pa

    try:
        batches = list(_counted_batches(buf, offset, delim, width, quoted, name, limits, progress))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        progress.rows = progress.cells = 0
        return None
    table = pa.Table.from_batches(batches) if batches else None
    del batches
    if table is None or table.num_columns != width or not table.num_rows:
        progress.rows = progress.cells = 0
        return None
    numbers = None
    if _empty_lines_skipped(buf, offset, quoted, line_ends, table.num_rows):
        numbers = _nonempty_lines(buf, offset)
        if len(numbers) != table.num_rows:
            progress.rows = progress.cells = 0
            return None
        numbers = numbers[1:]
    header = [table.column(k)[0].as_py() for k in range(width)]
    columns = [table.column(k).slice(1) for k in range(width)]
    return header, columns, [], numbers


def _counted_batches(buf: bytes, offset: int, delim: str, width: int, quoted: bool, name: str,
                     limits: LoaderLimits, progress: _Progress):
    """pyarrow's record batches of the text after ``offset``, each added to ``progress`` as it comes;
    past the rows the cell limit allows, :func:`_check_cells` stops the read. A map, not a generator:
    it keeps no batch once handed over, so a reader that drops a batch frees it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    most_rows = limits.max_cells // max(width, 1) + 1  # the header row too

    def counted(batch):
        progress.rows += batch.num_rows
        progress.cells += batch.num_rows * width
        if progress.rows > most_rows:
            _check_cells(name, progress.rows - 1, width, limits, progress, at_least=True)
        return batch

    return map(counted, pacsv.open_csv(pa.BufferReader(pa.py_buffer(buf).slice(offset)),
                                       **_arrow_options(delim, width, quoted)))


def _arrow_options(delim: str, width: int, quoted: bool) -> dict:
    """pyarrow's CSV options: every column as text, in blocks of ``_ARROW_BLOCK`` bytes."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{k}" for k in range(width)]
    return dict(
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=_ARROW_BLOCK),
        parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True, escape_char=False,
                                         newlines_in_values=quoted, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False,
                                             check_utf8=False))  # the text is UTF-8 already (_utf8_text)


@dataclass
class _ReadCells:
    cells: list  # final columns: categoricals or object arrays of str
    keep: np.ndarray  # rows kept (not blank), over every record read


def _arrow_compact_delimited(buf: bytes, offset: int, delim: str, width: int, quoted: bool, name: str,
                             limits: LoaderLimits, progress: _Progress, line_ends: int):
    """As :func:`_arrow_delimited` followed by :func:`_text_columns` with ``compact``, a group of rows
    (about ``_GROUP_CELLS`` cells) at a time: each group leaves blank rows out, is dictionary-encoded
    column by column and is freed, so the whole file is never held as Arrow text. None when the file
    needs the tolerant reader."""
    import pyarrow as pa

    header: list[str] | None = None
    pool = pa.default_memory_pool()
    columns = [_CodedColumn() for _ in range(width)]
    keeps: list[np.ndarray] = []
    group: list = []
    try:
        batches = _read_ahead(_counted_batches(buf, offset, delim, width, quoted, name, limits, progress),
                              _READ_AHEAD if len(buf) - offset > _ARROW_BLOCK else 0)  # one block: no thread
        with contextlib.closing(batches):
            for batch in batches:
                if batch.num_columns != width:
                    raise pa.ArrowInvalid("column count")
                if header is None and batch.num_rows:
                    header = [batch.column(k)[0].as_py() for k in range(width)]
                    batch = batch.slice(1)
                group.append(batch)
                del batch
                if sum(b.num_rows for b in group) * width >= _GROUP_CELLS:
                    keeps.append(_encode_group(group, columns, quoted))
                    pool.release_unused()  # the pages the group used go back to the system
        if group:
            keeps.append(_encode_group(group, columns, quoted))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        progress.rows = progress.cells = 0
        return None
    if header is None:
        progress.rows = progress.cells = 0
        return None
    keep = np.concatenate(keeps) if keeps else np.zeros(0, dtype=bool)
    numbers = None
    if _empty_lines_skipped(buf, offset, quoted, line_ends, len(keep) + 1):
        numbers = _nonempty_lines(buf, offset)
        if len(numbers) != len(keep) + 1:
            progress.rows = progress.cells = 0
            return None
        numbers = numbers[1:]
    n = int(keep.sum())
    cells = []
    for k in range(width):
        column, columns[k] = columns[k], None
        cells.append(column.cells(n))
        del column
        pool.release_unused()
    return header, _ReadCells(cells, keep), [], numbers


_GROUP_CELLS = 1 << 20  # cells parsed before they are encoded (about 10 MB as Arrow text)
_READ_AHEAD = 2  # batches parsed ahead of the one the caller holds


def _read_ahead(items, depth: int = _READ_AHEAD):
    """The items of ``items`` in their order, taken from it by a thread of their own up to ``depth`` ahead:
    pyarrow parses the next batches (without the GIL) while the caller encodes this one. An exception of
    ``items`` is raised here at its place in the sequence; closing this generator stops the thread. ``depth`` 0:
    the items as they come, no thread."""
    if not depth:
        yield from items
        return
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
                del item
            put((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            put((end, exc))

    thread = threading.Thread(target=produce, name="csv-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
            del item
    finally:
        stop.set()
        thread.join()
_UNIFY_ROWS = 1 << 18  # rows of group dictionaries merged into a column's distinct texts at a time


def _encode_group(group: list, columns: list, quoted: bool) -> np.ndarray:
    """Add a group of parsed batches (emptied) to ``columns``, its blank rows left out; returns the mask of
    the rows kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.Table.from_batches(group)
    group.clear()
    blank = _blank_rows(table.columns, table.num_rows)
    kept = pa.array(~blank) if blank.any() else None
    for k in range(table.num_columns):
        column = table.column(k)
        if quoted and pc.any(pc.match_substring(column, "\r")).as_py():
            column = pc.replace_substring(pc.replace_substring(column, "\r\n", "\n"), "\r", "\n")
        columns[k].add(column if kept is None else column.filter(kept))
    return ~blank


def _blank_rows(columns: list, n: int) -> np.ndarray:
    """Mask of the rows whose cells are all blank in these Arrow string columns. Each column after the first
    is looked at only in the rows still blank (Arrow's whitespace is str.strip()'s, checked over every code
    point)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    still = None  # positions blank in every column so far
    for column in columns:
        if still is not None:
            if not len(still):
                break
            column = column.take(pa.array(still))
        blank = np.asarray(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0), dtype=bool)
        still = np.flatnonzero(blank) if still is None else still[blank]
    mask = np.zeros(n, dtype=bool)
    if still is None:
        mask[:] = True
    else:
        mask[still] = True
    return mask


class _CodedColumn:
    """One text column read batch by batch: its distinct texts (Arrow, in order of first appearance) and
    the code of each cell, in the smallest integer type the number of texts allows. A column whose values
    mostly differ (an id) keeps its text chunks instead, once that shows (re-coding its growing texts at
    every merge would hash them again and again); it ends as an object array, as it would have anyway."""

    def __init__(self) -> None:
        self.texts = None
        self.codes: list[np.ndarray] = []
        self.pending: list[tuple[np.ndarray, Any]] = []  # (codes into the batch's dictionary, that dictionary)
        self.pending_rows = 0
        self.encoded = True  # every dictionary from pc.dictionary_encode (distinct texts)
        self.rows = 0  # rows merged into ``texts``
        self.plain: list | None = None  # Arrow text chunks of a column whose values mostly differ

    def add(self, column) -> None:
        """Add an Arrow string array or chunked array."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(column):
            return
        chunked = isinstance(column, pa.ChunkedArray)
        if self.plain is not None:
            self.plain.extend(column.chunks if chunked else [column])
            return
        encoded = pc.dictionary_encode(column)  # its dictionary in order of first appearance
        if chunked:  # the chunks share one dictionary
            chunks = encoded.chunks
            indices = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in chunks]
            self._add_coded(np.concatenate(indices) if len(indices) > 1 else indices[0], chunks[-1].dictionary)
        else:
            self._add_coded(encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary)

    def add_codes(self, codes: np.ndarray, texts) -> None:
        """Add the cells ``texts[codes]`` (``texts``: an Arrow string array, its values not necessarily distinct
        or used), as :meth:`add` of those cells would."""
        import pyarrow as pa

        if not len(codes):
            return
        if self.plain is not None:
            self.plain.append(texts.take(pa.array(codes)))
            return
        order, used = pd.factorize(codes)  # the texts used, in order of first appearance
        self.encoded = False
        self._add_coded(order, texts.take(pa.array(used)))

    def _add_coded(self, indices: np.ndarray, dictionary) -> None:
        self.pending.append((indices.astype(_code_type(len(dictionary))), dictionary))
        self.pending_rows += len(indices)
        if self.pending_rows >= _UNIFY_ROWS:
            self._unify()
            if len(self.texts) * _COMPACT_RATIO > self.rows:
                self._to_plain()

    def _unify(self) -> None:
        """Merge the batch dictionaries into ``texts``: the texts known keep their codes, new ones follow in
        order of first appearance."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.pending:
            return
        if self.texts is None and len(self.pending) == 1 and self.encoded:  # one dictionary, of distinct texts
            indices, self.texts = self.pending[0]
            self.codes.append(indices)
            self.pending, self.rows, self.pending_rows = [], self.rows + self.pending_rows, 0
            return
        pieces = ([self.texts] if self.texts is not None else []) + [d for _, d in self.pending]
        merged = pc.dictionary_encode(pa.concat_arrays(pieces))
        texts = merged.dictionary
        codes = merged.indices.to_numpy(zero_copy_only=False).astype(_code_type(len(texts)))
        at = len(self.texts) if self.texts is not None else 0
        for indices, dictionary in self.pending:
            self.codes.append(codes[at:at + len(dictionary)][indices])
            at += len(dictionary)
        self.texts, self.pending, self.rows, self.pending_rows = texts, [], self.rows + self.pending_rows, 0

    def _to_plain(self) -> None:
        """The cells merged so far back to text: the rest of the column is kept as read."""
        import pyarrow as pa

        self.plain = [self.texts.take(pa.array(np.concatenate(self.codes)))]
        self.texts, self.codes = None, []

    def cells(self, n: int) -> Any:
        """The column: a categorical (see :func:`_categorical`) when its values repeat, else an object array."""
        if self.plain is not None:
            import pyarrow as pa

            column, self.plain = pa.chunked_array(self.plain), None
            return _coded_objects(column)
        self._unify()
        if self.texts is None:
            return np.array([], dtype=object)
        texts = self.texts.to_numpy(zero_copy_only=False)
        codes = np.concatenate(self.codes) if len(self.codes) > 1 else self.codes[0]
        self.codes = []
        if n >= _COMPACT_MIN_ROWS and len(texts) * _COMPACT_RATIO <= n:
            return _categorical(codes, texts)
        return _Coded(texts[codes], codes, texts)


def _text_objects(column) -> np.ndarray:
    """An Arrow string column as an object array of strs, one str per distinct value (as ``to_pandas`` with
    ``deduplicate_objects``, which takes three times as long on a million distinct ids)."""
    coded = _coded_objects(column)
    return coded.cells if isinstance(coded, _Coded) else coded


@dataclass
class _Coded:
    """Object column as read (``cells``) with its code per cell into its distinct ``texts`` (first appearance)."""
    cells: np.ndarray
    codes: np.ndarray
    texts: np.ndarray


def _coded_objects(column) -> Any:
    """:func:`_text_objects` of ``column`` as a :class:`_Coded` (an object array when it holds nulls)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        return column.to_pandas(deduplicate_objects=True).to_numpy(dtype=object)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    encoded = pc.dictionary_encode(column)  # its dictionary in order of first appearance
    texts = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object, copy=False)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return _Coded(texts[codes], codes, texts)


def _code_type(n_texts: int) -> type:
    return np.int8 if n_texts <= 127 else np.int16 if n_texts <= 32_767 else np.int32


def _csv_delimited(buf: bytes, offset: int, delim: str, name: str, limits: LoaderLimits, progress: _Progress):
    """The csv module's reading, for the files pyarrow refuses: short rows are padded, long rows are cut
    (a row error when the cut cells hold text). Rows become Arrow columns a few million cells at a time."""
    import pyarrow as pa

    csv.field_size_limit(1 << 30)
    stream = io.BytesIO(buf)
    stream.seek(offset)
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""), delimiter=delim)
    header = next(reader, None)
    if header is None:
        raise CohortFileError(f"'{name}' has no header row.")
    width = len(header)
    _check_columns(name, width, limits, progress)
    most_rows = limits.max_cells // max(width, 1)
    per_piece = max(1, _PIECE_CELLS // max(width, 1))
    pieces: list[list] = [[] for _ in range(width)]
    bad: list[tuple[int, str]] = []
    rows: list[list[str]] = []
    progress.rows, progress.cells = 1, width

    def flush() -> None:
        for k, column in enumerate(zip(*rows) if rows else ()):
            pieces[k].append(pa.array(column, pa.string()))
        rows.clear()

    for i, row in enumerate(reader):
        if i >= most_rows:
            _check_cells(name, i + 1, width, limits, progress, at_least=True)
        if len(row) > width:
            if any(cell.strip() for cell in row[width:]):
                bad.append((i, f"has {len(row)} fields but the header has {width}"))
            del row[width:]
        elif len(row) < width:
            row.extend([""] * (width - len(row)))
        rows.append(row)
        progress.rows += 1
        progress.cells += width
        if len(rows) >= per_piece:
            flush()
    flush()
    columns = [pa.chunked_array(p, pa.string()) for p in pieces]
    return header, columns, bad, None


def _text_columns(columns: list, crlf_inside: bool, compact: bool = False) -> tuple[list, np.ndarray]:
    """Object arrays (one ``str`` per distinct value of a column; with ``compact``, see
    :func:`_compact_arrow`) of Arrow string columns, without the rows whose cells are all blank, and the
    mask of the rows kept. Each Arrow column is freed once read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pa.default_memory_pool().release_unused()
    n = len(columns[0]) if columns else 0
    keep = ~_blank_rows(columns, n)
    kept = None if keep.all() else pa.array(keep)
    compact = compact and int(keep.sum()) >= _COMPACT_MIN_ROWS
    out = []
    for k in range(len(columns)):
        column, columns[k] = columns[k], None
        if crlf_inside and pc.any(pc.match_substring(column, "\r")).as_py():
            column = pc.replace_substring(pc.replace_substring(column, "\r\n", "\n"), "\r", "\n")
        if kept is not None:
            column = column.filter(kept)
        out.append(_compact_arrow(column) if compact else
                   _text_objects(column))
        del column
        pa.default_memory_pool().release_unused()
    return out, keep


# --------------------------------------------------------------------------------------
# Compact columns: a categorical where values repeat
# --------------------------------------------------------------------------------------
_COMPACT_MIN_ROWS = 1_000  # below this a categorical's fixed cost outweighs what it saves
_COMPACT_RATIO = 8  # a categorical when a column has at most one distinct value in this many cells


def _categorical(codes: np.ndarray, texts: np.ndarray) -> pd.Categorical:
    """Categorical of the distinct ``texts`` (in this order) and one code per cell (stored in the
    smallest integer type that holds them)."""
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(texts, dtype=object)))


def _compact_arrow(column) -> Any:
    """One Arrow string column as a categorical, or as an object array of strs when most values differ."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pc.count_distinct(column).as_py() * _COMPACT_RATIO > len(column):
        return _coded_objects(column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)  # its dictionary in order of first appearance
    return _categorical(encoded.indices.to_numpy(zero_copy_only=False),
                        encoded.dictionary.to_numpy(zero_copy_only=False))


def _compact_cells(cells: np.ndarray) -> Any:
    """An object array of strs as a categorical when its values repeat (see :func:`_compact_arrow`)."""
    codes, texts = pd.factorize(cells, use_na_sentinel=False)
    if len(texts) * _COMPACT_RATIO > len(cells):
        return cells
    return _categorical(codes, texts)


def _compact_all(columns: list, compact: bool) -> list:
    if compact and columns and len(columns[0]) >= _COMPACT_MIN_ROWS:
        for k in range(len(columns)):
            columns[k] = _compact_cells(columns[k])
    return columns


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


def _zip_parts(data: bytes) -> int | None:
    """Number of parts in the zip's table of contents (end-of-central-directory record), read before
    the table itself; None when there is no such record."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return None
    return int.from_bytes(data[at + 10:at + 12], "little")


def _check_workbook_size(data: bytes, name: str, limits: LoaderLimits, progress: _Progress) -> None:
    """Parts and unpacked sizes as the zip declares them (Python's zipfile never unpacks more than a
    part declares), before openpyxl opens the workbook."""
    import zipfile

    parts = _zip_parts(data)
    if parts is not None and parts >= min(_MAX_ZIP_PARTS, 0xFFFF):
        raise LoaderLimitError(f"'{name}' is not an ordinary workbook: it has {parts:,} parts or more (a workbook "
                               f"has a few dozen).", "", 0, 0)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = [(info.file_size, info.filename) for info in archive.infolist()]
    except Exception:  # noqa: BLE001
        raise CohortFileError(f"'{name}' is not a readable XLSX workbook.") from None
    if len(sizes) >= _MAX_ZIP_PARTS:
        raise LoaderLimitError(f"'{name}' is not an ordinary workbook: it has {len(sizes):,} parts (a workbook has "
                               f"a few dozen).", "", 0, 0)
    _check_decoded(name, sum(size for size, _ in sizes), len(data), limits, progress, compressed=True)


def _read_excel(data: bytes, name: str, sheet: str | int | None, limits: LoaderLimits, progress: _Progress,
                compact: bool = False) -> dict:
    import openpyxl

    _check_workbook_size(data, name, limits, progress)
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
            rows = _sheet_rows(book[sheet_name], name, limits, progress)
            if rows:
                rows["columns"] = _compact_all(rows["columns"], compact)
                return rows
    finally:
        book.close()
    raise CohortFileError(f"'{name}' has no sheet with a table (every sheet is empty).")


def _sheet_rows(ws, name: str, limits: LoaderLimits, progress: _Progress) -> dict | None:
    """The sheet's header and rows as stored. The ``<dimension>`` the file declares is not used: openpyxl
    would pad every row to its last column. Rows whose cells are all blank are not kept."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    records: list[list[str]] = []
    numbers: list[int] = []
    header: list[str] | None = None
    width = 0
    for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
        progress.rows += 1
        progress.cells += len(row)
        if number > EXCEL_MAX_ROWS:
            raise LoaderLimitError(f"'{name}' is not an ordinary workbook: its sheet '{ws.title}' has a row beyond "
                                   f"row {EXCEL_MAX_ROWS:,}, the last row Excel allows.", "", progress.rows,
                                   progress.cells)
        if progress.cells > limits.max_cells:
            raise _over_limit(name, f"its sheet '{ws.title}' has more than {limits.max_cells:,} cells (rows x "
                              "columns, empty cells included)", f"{limits.max_cells:,} cells",
                              LIMIT_SETTINGS["max_cells"], progress)
        if not row:
            continue
        cells = [_cell_text(v) for v in row]
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = cells
            width = len(cells)
            _check_columns(name, width, limits, progress)
            continue
        records.append(cells)
        numbers.append(number)
        if len(cells) > width:
            width = len(cells)
            _check_columns(name, width, limits, progress)
        _check_cells(name, len(records), width, limits, progress, at_least=True)
    if header is None:
        return None
    header = header + [""] * (width - len(header))
    block = np.full((len(records), width), "", dtype=object)
    for i, cells in enumerate(records):
        block[i, :len(cells)] = cells
    del records
    return {"header": header, "columns": [block[:, k] for k in range(width)],
            "file_rows": np.array(numbers, dtype=np.int64)}


# Bytes one value takes once read, by Parquet physical type; text is estimated from its statistics.
_PARQUET_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}
_TEXT_WIDTH = 32  # a text value without min/max statistics


def _parquet_decoded_size(meta) -> int:
    """Estimated bytes of the data once read: every stored value (nested ones included) times its width."""
    schema = meta.schema
    widths = []
    for j in range(meta.num_columns):
        leaf = schema.column(j)
        if leaf.physical_type == "FIXED_LEN_BYTE_ARRAY":
            widths.append(max(int(leaf.length or 0), 1))
        else:
            widths.append(_PARQUET_WIDTHS.get(leaf.physical_type, 0))
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for j in range(meta.num_columns):
            chunk = group.column(j)
            width = widths[j]
            if not width:  # BYTE_ARRAY: an offset plus the longest of min and max, else a fixed guess
                stats = chunk.statistics
                longest = _TEXT_WIDTH
                if stats is not None and stats.has_min_max and isinstance(stats.max, (str, bytes)):
                    longest = max(len(stats.min or ""), len(stats.max), 1)
                width = 4 + longest
            total += int(chunk.num_values) * width
    return total


def _read_parquet(data: bytes, name: str, limits: LoaderLimits, progress: _Progress, compact: bool = False) -> dict:
    """Parquet, checked from its footer before any data is read, then read in batches of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        meta, schema = parquet.metadata, parquet.schema_arrow
        decoded = _parquet_decoded_size(meta)
    except Exception:  # noqa: BLE001
        raise CohortFileError(f"'{name}' is not a readable Parquet file.") from None
    pandas_index = (schema.pandas_metadata or {}).get("index_columns", []) if schema.metadata else []
    index_columns = {c for c in pandas_index if isinstance(c, str)}  # a stored pandas index is not data
    fields = [k for k, f in enumerate(schema) if f.name not in index_columns]
    header = [schema.field(k).name for k in fields]
    n_rows = int(meta.num_rows)
    _check_columns(name, len(fields), limits, progress)
    _check_cells(name, n_rows, len(fields), limits, progress)
    _check_decoded(name, decoded, len(data), limits, progress, compressed=True)
    text_fields = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if compact and text_fields:  # text read as the file's dictionary codes, not hashed again
        with contextlib.suppress(Exception):
            parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)), read_dictionary=text_fields)
    pieces: list[list[np.ndarray]] = [[] for _ in fields]
    coded = [_CodedColumn() for _ in fields] if compact else None  # compact: text codes, batch by batch
    numbers: list[np.ndarray] = []
    batch_rows = max(1024, min(65_536, 4_000_000 // max(len(fields), 1)))
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, use_threads=False, use_pandas_metadata=False):
            first = progress.rows
            progress.rows += batch.num_rows
            progress.cells += batch.num_rows * len(fields)
            if progress.rows > n_rows:
                raise CohortFileError(f"'{name}' holds more rows than its footer declares; the file is damaged.")
            texts, blank = [], np.ones(batch.num_rows, dtype=bool)
            for k in fields:
                cells, empty = (_arrow_codes if coded else _arrow_text)(batch.column(k))
                texts.append(cells)
                blank &= empty
            keep = ~blank
            if coded:
                for k, (codes, distinct) in enumerate(texts):
                    coded[k].add_codes(codes if keep.all() else codes[keep], distinct)
            else:
                for k, cells in enumerate(texts):
                    pieces[k].append(cells if keep.all() else cells[keep])
            numbers.append(np.flatnonzero(keep) + first + 2)
    except CohortFileError:
        raise
    except Exception:  # noqa: BLE001
        raise CohortFileError(f"'{name}' is not a readable Parquet file.") from None
    file_rows = np.concatenate(numbers) if numbers else np.array([], dtype=np.int64)
    if coded:
        columns = [coded[k].cells(len(file_rows)) for k in range(len(fields))]
        return {"header": header, "columns": columns, "file_rows": file_rows}
    columns = []
    for k in range(len(fields)):
        parts, pieces[k] = pieces[k], []
        columns.append(np.concatenate(parts) if parts else np.array([], dtype=object))
    return {"header": header, "columns": _compact_all(columns, compact), "file_rows": file_rows}


def _arrow_codes(array) -> tuple[tuple[np.ndarray, Any], np.ndarray]:
    """As :func:`_arrow_text`, the cells as (code per cell, Arrow string array of texts): each distinct value
    converted once, a text column's values taken as they are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        cells, empty = _arrow_text(array)
        codes, texts = pd.factorize(cells, use_na_sentinel=False)
        return (codes, pa.array(texts, pa.string())), empty
    dictionary = encoded.dictionary
    codes = pc.fill_null(encoded.indices, len(dictionary)).to_numpy(zero_copy_only=False)
    if pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
        texts = pa.concat_arrays([pc.fill_null(dictionary.cast(pa.string()), ""), pa.array([""], pa.string())])
        empty = np.asarray(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0), dtype=bool)
    else:
        values, empty = _parquet_text(pa.table({"v": dictionary}).to_pandas()["v"])
        texts, empty = pa.array(np.append(values, ""), pa.string()), np.append(empty, True)
    return (codes, texts), empty[codes]


def _arrow_text(array) -> tuple[np.ndarray, np.ndarray]:
    """One Arrow column as cell texts (object array; missing = "") and its blank-cell mask, each distinct
    value converted once (as :func:`_parquet_text` converts a pandas column)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # lists, structs: one text per cell
        texts = np.array([_cell_text(v) for v in array.to_pylist()], dtype=object)
        return texts, np.array([not t.strip() for t in texts], dtype=bool)
    values = pa.table({"v": encoded.dictionary}).to_pandas()["v"]
    texts, empty = _parquet_text(values)
    codes = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    return np.append(texts, "")[codes], np.append(empty, True)[codes]


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
    """Column names made unique (case-insensitively): repeats get " (2)", " (3)"; empties "column_<k>".

    Each name's search for a free number starts after the last number given to that name, so a header
    of n repeats takes O(n) steps (every smaller number is taken already: names are only ever added)."""
    out: list[str] = []
    used: set[str] = set()
    last_count: dict[str, int] = {}
    for k, raw in enumerate(header, start=1):
        base = str(raw).replace("\ufeff", "").strip() or f"column_{k}"
        name = base
        if name.lower() in used:
            key = base.lower()
            count = last_count.get(key, 1)
            while name.lower() in used:
                count += 1
                name = f"{base} ({count})"
            last_count[key] = count
        used.add(name.lower())
        out.append(name)
    return out


def _finish(table: dict, fingerprint: str, name: str, kind: Format, progress: _Progress) -> RawTable:
    header = [str(h) if h is not None else "" for h in table["header"]]
    named = [h.strip() for h in header if h.strip()]
    if not named:
        raise CohortFileError(f"'{name}' has no header row: the first non-empty row has no column names.")
    if len(named) == len(header) and len(header) > 1 and all(_NUMBER_LIKE.match(h.strip()) for h in header):
        raise CohortFileError(f"'{name}' has no header row: the first row holds numbers or dates, not column names.")
    file_rows = np.asarray(table["file_rows"], dtype=np.int64)
    index = pd.RangeIndex(len(file_rows))  # columns: object arrays of str or categoricals, blank rows left out
    columns = table.pop("columns")
    coded = {k: columns[k] for k in range(len(columns)) if isinstance(columns[k], _Coded)}
    for k, column in coded.items():
        columns[k] = column.cells
    frame = pd.DataFrame({k: pd.Series(cells, index=index, dtype=_dtype(cells), copy=False)
                          for k, cells in enumerate(columns)}, index=index, copy=False)
    del columns
    frame.columns = _unique_names(header)
    distinct = {frame.columns[k]: (column.codes, column.texts) for k, column in coded.items()}
    delim = table.get("delimiter")
    decimal_comma = delim == ";" and _has_decimal_commas(frame)
    return RawTable(frame=frame, header=tuple(header), file_rows=file_rows, fingerprint=fingerprint,
                    source_name=name, format=kind, delimiter=delim, encoding=table.get("encoding"),
                    decimal_comma=decimal_comma, bad_rows=tuple(table.get("bad", ())), rows_read=progress.rows,
                    cells_read=progress.cells, distinct=distinct or None)


def _dtype(cells: Any) -> Any:
    return cells.dtype if isinstance(cells, pd.Categorical) else object


def _has_decimal_commas(frame: pd.DataFrame) -> bool:
    sample = frame.head(500)
    pattern = r"^\s*[+-]?\d+,\d+\s*$"
    return any(sample[c].str.match(pattern).any() for c in sample.columns)
