"""Exports of tables (CSV, XLSX) and figures (PNG, SVG, standalone HTML); pure, no Streamlit.

Tables are written exactly as given: pass the display-formatted table (p-values as strings
such as ``"0.015"`` or ``"<0.001"``) and the file shows what the screen showed. Every text
cell and header is first passed through :func:`neutralize_cell`, so a spreadsheet never runs
a formula that arrived in an uploaded file (CSV/formula injection, OWASP).

Static images use plotly's own export engine (kaleido 1.x), which drives Debian's chromium headless;
no network is needed. One kaleido browser per process draws every figure, at most ``IL2_EXPORT_SLOTS``
exports at once (see :mod:`il2lib.export.browsers`). Interactive HTML embeds plotly.js, so it opens offline too.
"""
from __future__ import annotations

import io
import math
import numbers
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import pandas as pd

from il2lib.export import browsers

if TYPE_CHECKING:  # plotly and asyncio are imported where a figure is exported (start-up time)
    import asyncio

    import plotly.graph_objects as go

#: A text cell starting with one of these is read as a formula by Excel, LibreOffice or
#: Google Sheets (tab and carriage return included; the full-width forms act the same in
#: East-Asian locales of Excel).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: What neutralises such a cell: a leading apostrophe makes the spreadsheet read it as text.
NEUTRALIZING_PREFIX = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

#: Default size of an exported figure in CSS pixels, and the publication scale factor:
#: 900 x 3 = 2700 px wide, i.e. 9 inches at 300 dpi (a two-column journal figure).
FIGURE_WIDTH = 900
FIGURE_HEIGHT = 560
PUBLICATION_SCALE = 3

ImageFormat = Literal["png", "svg"]


def neutralize_cell(value: object) -> object:
    """Make one cell safe to open in a spreadsheet.

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    object
        ``value`` unchanged unless it is text that a spreadsheet would run as a formula
        (it starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return); such text is
        returned with a leading apostrophe. Numbers (negative ones included) and text that
        is a plain number such as ``"-1.5"`` stay as they are: a spreadsheet reads them as
        numbers, never as formulas.

    Notes
    -----
    Follows the OWASP "CSV Injection" guidance (prefix the cell with a single quote).

    Examples
    --------
    >>> neutralize_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralize_cell(-2.5), neutralize_cell("-2.5")
    (-2.5, '-2.5')
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return NEUTRALIZING_PREFIX + value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with :func:`neutralize_cell` applied to every cell and header.

    Numeric columns are left untouched (they hold numbers, never formulas); object and
    string columns are mapped cell by cell; column names and index labels are neutralised too.
    """
    out = df.copy()
    for i, column in enumerate(out.columns):
        series = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        out.isetitem(i, series.astype(object).map(neutralize_cell))
    out.columns = _neutralize_labels(out.columns)
    out.index = _neutralize_labels(out.index)
    return out


def _neutralize_labels(labels: pd.Index) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        tuples = [tuple(neutralize_cell(part) for part in label) for label in labels]
        return pd.MultiIndex.from_tuples(tuples, names=labels.names)
    return pd.Index([neutralize_cell(label) for label in labels], name=neutralize_cell(labels.name))


def table_to_csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """Write a table as UTF-8 CSV (with a byte-order mark, so Excel reads ``≥`` and ``µ``).

    Cells are neutralised first (:func:`neutralize_frame`); missing values are empty cells.
    """
    return neutralize_frame(df).to_csv(index=index, lineterminator="\r\n").encode("utf-8-sig")


def table_to_xlsx_bytes(df: pd.DataFrame, *, sheet_name: str = "Table", title: str | None = None,
                        notes: Iterable[str] = (), index: bool = False) -> bytes:
    """Write a table as an XLSX workbook with a bold, frozen header row.

    Parameters
    ----------
    df
        The table as displayed. Text cells (for instance p-values formatted ``"<0.001"``)
        are written as text, numbers as numbers, missing values as empty cells.
    sheet_name
        Worksheet name (cut to Excel's 31 characters; ``[]:*?/\\`` replaced).
    title
        Optional title written in bold above the table.
    notes
        Optional footnotes written below the table (method, filters, data fingerprint).
    index
        Whether to write the index as the first column(s).

    Returns
    -------
    bytes
        The workbook. Every cell is neutralised (:func:`neutralize_cell`) and every text
        cell is stored with the string type, so no cell is ever a formula.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    table = neutralize_frame(df.reset_index() if index else df)
    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", "_", sheet_name)[:31] or "Table"
    row = 1
    if title:
        _put(ws.cell(row=row, column=1), neutralize_cell(title)).font = Font(bold=True, size=12)
        row += 2
    header_row = row
    for j, name in enumerate(table.columns, start=1):
        cell = _put(ws.cell(row=row, column=j), _header_text(name))
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    for values in table.itertuples(index=False, name=None):
        row += 1
        for j, value in enumerate(values, start=1):
            _put(ws.cell(row=row, column=j), value)
    for note in notes:
        row += 1
        _put(ws.cell(row=row + 1, column=1), neutralize_cell(str(note))).font = Font(italic=True)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    for j, name in enumerate(table.columns, start=1):
        width = max([len(_header_text(name))] + [len(_text(v)) for v in table.iloc[:, j - 1]])
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _header_text(name: object) -> str:
    if isinstance(name, tuple):
        return neutralize_cell(" / ".join(str(part) for part in name))  # type: ignore[return-value]
    return str(name)


def _text(value: object) -> str:
    return "" if _is_missing(value) else str(value)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _put(cell, value: object):
    """Store one value in an openpyxl cell; text is always text (never parsed as a formula)."""
    if _is_missing(value):
        return cell
    if isinstance(value, bool):
        cell.value = value
    elif isinstance(value, numbers.Number):
        cell.value = value.item() if hasattr(value, "item") else value
    elif isinstance(value, pd.Timestamp):
        cell.value = value.to_pydatetime()
    else:
        cell.value = str(value)
        cell.data_type = "s"
    return cell


def figure_to_image(fig: go.Figure, fmt: ImageFormat, *, width: int | None = None,
                    height: int | None = None, scale: float = PUBLICATION_SCALE) -> bytes:
    """Render a figure to PNG or SVG with plotly's kaleido export (Debian chromium, offline).

    Waits for a free export slot (:func:`il2lib.export.browsers.slots`) and draws in the process's shared
    kaleido browser, which starts on the first figure.

    Parameters
    ----------
    fig
        The figure. Its own ``layout.width``/``height`` win over the defaults
        (:data:`FIGURE_WIDTH` x :data:`FIGURE_HEIGHT` CSS pixels).
    fmt
        ``"png"`` (raster, ``scale`` times the pixel size; 3 gives 300 dpi at 9 inches)
        or ``"svg"`` (vector; ``scale`` does not apply).
    """
    width = width or fig.layout.width or FIGURE_WIDTH
    height = height or fig.layout.height or FIGURE_HEIGHT
    from plotly.io._utils import validate_coerce_fig_to_dict

    spec = validate_coerce_fig_to_dict(fig, True)
    opts = {"format": fmt, "width": width, "height": height, "scale": scale if fmt == "png" else 1}
    with browsers.slots().hold():
        return _FIGURE_BROWSER.render(spec, opts)


#: Seconds kaleido may take to start its browser, and to draw one figure.
BROWSER_START_SECONDS = 60.0
RENDER_SECONDS = 90.0


class _FigureBrowser:
    """kaleido's chromium, opened on the first figure and kept for the next ones (one per process).

    kaleido is asynchronous: it lives on its own event loop in a daemon thread; callers from any
    thread hand it a figure and wait for the bytes. It opens with one tab (each tab loads plotly.js,
    which doubles the start-up time of a second one) and adds a tab, up to one per export slot,
    when a figure finds every tab busy.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._tabs = 0  # tabs open or opening; only the event loop's thread changes it
        self._opening: set = set()  # tasks opening a tab

    def render(self, spec: dict, opts: dict) -> bytes:
        """The image's bytes; if chromium stopped (killed, out of memory), a new one is started once."""
        try:
            return self._render_once(spec, opts)
        except browsers.ExportBrowserError:
            raise
        except Exception:
            if self.running():
                raise
            self.close()
            return self._render_once(spec, opts)

    def _render_once(self, spec: dict, opts: dict) -> bytes:
        import asyncio
        import concurrent.futures

        import plotly.io as pio

        kaleido, loop = self._open()
        future = asyncio.run_coroutine_threadsafe(self._calc(kaleido, spec, opts, pio.defaults.topojson), loop)
        try:
            return future.result(RENDER_SECONDS + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise browsers.ExportBrowserError("chromium did not finish drawing the figure in time.") from None

    async def _calc(self, kaleido, spec: dict, opts: dict, topojson) -> bytes:
        import asyncio

        add_tab = getattr(kaleido, "_create_kaleido_tab", None)  # kaleido 1.5; without it, tabs are shared
        if add_tab is not None and kaleido.tabs_ready.empty() and self._tabs < browsers.slots().size:
            self._tabs += 1
            task = asyncio.get_running_loop().create_task(add_tab())
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        return await kaleido.calc_fig(spec, opts=opts, topojson=topojson)

    def running(self) -> bool:
        """Whether the shared browser is open and its chromium is alive."""
        process = getattr(self._kaleido, "subprocess", None)
        return process is not None and process.poll() is None

    def _open(self):
        import asyncio

        with self._lock:
            if self._kaleido is not None and self.running():
                return self._kaleido, self._loop
            self._close_locked()
            sandbox = browsers.use_sandbox()
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="il2-figure-browser", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            try:
                self._kaleido = asyncio.run_coroutine_threadsafe(_start_kaleido(sandbox), loop).result(
                    BROWSER_START_SECONDS)
                self._tabs = 1
            except Exception as exc:
                from choreographer.errors import ChromeNotFoundError

                self._close_locked()
                if isinstance(exc, ChromeNotFoundError):
                    raise browsers.ExportBrowserError(
                        "No chromium found for the figure export. Install Debian's chromium (sudo apt-get install -y "
                        "chromium) or set BROWSER_PATH to a Chrome/Chromium binary.") from exc
                if sandbox:
                    raise browsers.ExportBrowserError(browsers.sandbox_failure("figure")) from exc
                raise browsers.ExportBrowserError("chromium could not start to draw the figure.") from exc
            browsers.register_browser(self.close)
            return self._kaleido, self._loop

    def close(self) -> None:
        """Close the browser (the next figure opens a new one)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        import asyncio

        kaleido, loop, thread = self._kaleido, self._loop, self._thread
        self._kaleido = self._loop = self._thread = None
        if loop is None:
            return
        process = getattr(kaleido, "subprocess", None)
        if kaleido is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._close_kaleido(kaleido), loop).result(30)
            except Exception:  # noqa: BLE001 - stopped below by signal instead
                pass
        if process is not None and process.poll() is None:
            _end_process_group(process)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(10)
        if not loop.is_running():
            loop.close()


    async def _close_kaleido(self, kaleido) -> None:
        import asyncio

        opening = list(self._opening)
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        await kaleido.close()


async def _start_kaleido(sandbox: bool):
    import kaleido
    import plotly.io as pio

    options = {name: value for name in ("plotlyjs", "mathjax", "headers")
               if (value := getattr(pio.defaults, name, None))}  # what plotly.io.to_image passes
    browser = kaleido.Kaleido(n=1, timeout=RENDER_SECONDS, enable_sandbox=sandbox, **options)
    await browser.open()
    return browser


def _end_process_group(process) -> None:
    """Stop kaleido's chromium: it runs in its own session, so its whole process group goes."""
    import os
    import signal
    import subprocess

    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


_FIGURE_BROWSER = _FigureBrowser()


def figure_to_png(fig: go.Figure, *, width: int | None = None, height: int | None = None,
                  scale: float = PUBLICATION_SCALE) -> bytes:
    """PNG at publication resolution (see :func:`figure_to_image`)."""
    return figure_to_image(fig, "png", width=width, height=height, scale=scale)


def figure_to_svg(fig: go.Figure, *, width: int | None = None, height: int | None = None) -> bytes:
    """SVG (vector) image (see :func:`figure_to_image`)."""
    return figure_to_image(fig, "svg", width=width, height=height)


def figure_to_html(fig: go.Figure, *, title: str | None = None, image_scale: float = PUBLICATION_SCALE) -> str:
    """A standalone interactive HTML page: plotly.js is embedded, so it opens with no network.

    The modebar's camera button saves a PNG at ``image_scale`` times the figure's size (the size the export
    panel's PNG has, when the figure was laid out with :func:`il2lib.figures.export_layout.export_figure`).
    """
    config = {"displaylogo": False,
              "toImageButtonOptions": {"format": "png", "scale": image_scale}}
    import plotly.io as pio

    html = pio.to_html(fig, include_plotlyjs=True, full_html=True, config=config)
    if title:
        from html import escape

        html = html.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
    return html
