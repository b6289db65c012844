"""Download buttons under every table (CSV, XLSX), and an export panel under every figure (PNG, SVG, interactive
HTML, laid out by :mod:`il2lib.figures.export_layout`: size preset, title, axis titles, font scale, footnote).

One call under each element: ``download_table(df, "response_by_disease")`` or
``download_figure(fig, "km_os_by_disease", footnote=..., file_name=...)``. Files are built only when a button is clicked
(Streamlit's deferred ``data`` callable), so drawing a page stays fast; clicking does not rerun
the page. All conversion lives in :mod:`il2lib.export.files` (formula-injection neutralisation
included); this module only draws the buttons.

A file holds what the screen shows: with small-cell protection on, tables and figures are masked
exactly as ``show_table`` and the figure helper mask them, and patient-level exports (one row or
lane per patient) are not offered at all.

PNG, SVG and PDF are drawn by chromium, a few at a time for the whole server
(:mod:`il2lib.export.browsers`). Their buttons sit in a fragment: a click reruns only that fragment, which
shows what the export is doing ("Waiting for a free export slot", "Drawing the PNG") until it is done,
or the reason it failed. Streamlit ignores page elements drawn inside the download callable itself,
so the export reports its progress to a ticket the fragment reads.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_ui.markdown import markdown_table, md_escape
from app_ui.masking import current_masking
from app_ui.widgets import show_table
from il2lib.errors import Il2libError
from il2lib.export import browsers, files as export

if TYPE_CHECKING:  # plotly is imported when a figure is drawn (start-up time)
    import plotly.graph_objects as go

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: How long a clicked button's fragment shows the export's progress before it leaves a "still waiting"
#: note (the file still downloads when it is ready); how long it waits for the export to start; polling.
FOLLOW_SECONDS = 120.0
START_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.25
WAITING_TEXT = "Waiting for a free export slot"


def slug(name: str) -> str:
    """A file-name-safe form of ``name``: ``"Table 1 (by disease)"`` -> ``"table_1_by_disease"``."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", str(name)).strip("_").lower()
    return text[:80] or "export"


def _row(key: str):
    return st.container(horizontal=True, gap="small", key=f"dl_row_{key}")


def download_table(df: pd.DataFrame, name: str, *, title: str | None = None, notes: Iterable[str] = (),
                   index: bool = False, key: str | None = None, patient_level: bool = False,
                   cohort_rows=None) -> None:
    """Draw "CSV" and "XLSX" download buttons for a displayed table.

    Parameters
    ----------
    df
        The table exactly as shown (formatted p-values stay text, as on screen).
    name
        File stem and key base; it must be unique on the page unless ``key`` is given.
    title, notes
        Written above / below the table in the XLSX file (for instance filters and method).
    index
        Whether the index is part of the table (for tables whose row labels are the index).
    patient_level
        One row per patient: not offered while small-cell protection is on.
    cohort_rows
        The rows holding this cohort's counts (default all): the others are published numbers, not masked.
    """
    masking = current_masking()
    if patient_level and masking.on:
        return
    base = key or slug(name)
    stem = slug(name)
    frame = masking.table(df.reset_index() if index else df, cohort_rows=cohort_rows)
    notes = tuple(notes)
    with _row(f"t_{base}"):
        st.download_button("CSV", data=lambda: export.table_to_csv_bytes(frame), file_name=f"{stem}.csv",
                           mime=CSV_MIME, key=f"dl_csv_{base}", icon=":material/download:",
                           on_click="ignore", type="tertiary", help="Table as CSV (UTF-8)")
        st.download_button("XLSX", data=lambda: export.table_to_xlsx_bytes(frame, sheet_name=stem, title=title,
                                                                             notes=notes),
                           file_name=f"{stem}.xlsx", mime=XLSX_MIME, key=f"dl_xlsx_{base}",
                           icon=":material/download:", on_click="ignore", type="tertiary",
                           help="Table as an Excel workbook")


def download_figure(fig: go.Figure, name: str, *, key: str | None = None, patient_level: bool = False,
                    kind: str | None = None, footnote: str | None = None, file_name: str | None = None) -> None:
    """The export panel of a figure: a popover with its title, axis titles, size preset, font scale and footnote,
    and the "PNG", "SVG" and "HTML" download buttons of the figure so laid out.

    ``footnote`` is the footnote's default text (the figure's statistics, built from the counts as the page shows
    them under small-cell protection: it is not masked again here, text typed over it is); a
    footnote the figure already carries is the default otherwise. ``file_name`` is the file stem (endpoint,
    grouping and filter, :func:`il2lib.figures.export_layout.file_stem`; default ``slug(name)``). The default
    preset is the 16:9 slide with the footnote on: opening the panel and clicking PNG gives the slide.
    The PNG is the preset's size times its scale (1920 x 1080 px for the slide), SVG is vector, HTML is the
    interactive figure with plotly.js embedded (opens offline). Static images are rendered by kaleido with
    Debian's chromium when a button is clicked; while the export waits for a free slot or draws, the panel says
    so (:func:`show_export_progress`). Everything in the file, the footnote included, is masked as the screen is
    under small-cell protection; a patient-level figure (``patient_level``, or a ``kind`` that
    :func:`il2lib.figures.withheld_under_masking` names, e.g. a swimmer plot) is not offered then.
    """
    from il2lib.figures import withheld_under_masking

    masking = current_masking()
    if masking.on and (patient_level or withheld_under_masking(kind)):
        return
    base = key or slug(name)
    stem = file_name or slug(name)
    _in_fragment(_export_popover, fig, name, base, stem, footnote)


def _export_popover(fig: go.Figure, name: str, base: str, stem: str, footnote: str | None) -> None:
    """The popover, drawn in the fragment: opening it reruns only the fragment, and its fields and buttons (and the
    masked copy of the figure they export) are made only while it is open (a page's other reruns skip them)."""
    from il2lib.figures.palette import copy_figure

    panel = st.popover(EXPORT_LABEL, icon=":material/download:", key=f"dl_panel_{base}", on_change="rerun",
                       help="Download this figure as PNG, SVG or HTML, laid out for a slide or a journal")
    if getattr(panel, "open", True) is False and get_script_run_ctx(suppress_warning=True) is not None:
        _keep_panel_fields(base)
        return
    with panel:
        _export_panel(current_masking().figure(copy_figure(fig)), name, base, stem, footnote)


def _keep_panel_fields(base: str) -> None:
    """While the panel is closed its fields keep what was chosen or typed for the next opening: a widget that is not
    drawn loses its state at the end of the run, a value set through the session state does not."""
    ss = st.session_state
    fields = re.compile(rf"fx_(size|font)_{re.escape(base)}|fx_(title|x|y|note_on|note)_{re.escape(base)}_[0-9a-f]{{8}}")
    for key in [k for k in ss if isinstance(k, str) and fields.fullmatch(k)]:
        ss[key] = ss[key]


#: Label of a figure's export panel (a popover under the figure).
EXPORT_LABEL = "Export figure"


def _export_panel(snapshot: go.Figure, name: str, base: str, stem: str, footnote: str | None) -> None:
    from il2lib.figures import export_layout as xl

    masking = current_masking()
    texts = xl.figure_texts(snapshot)
    default_note = footnote if footnote is not None else texts.footnote
    # the text fields start again from the figure's own texts when the figure changes
    digest = hashlib.sha1(repr((texts, default_note)).encode()).hexdigest()[:8]
    presets = list(xl.SIZE_PRESETS)
    a, b = st.columns([3, 2])
    preset = a.selectbox("Size", presets, index=presets.index(xl.DEFAULT_PRESET), key=f"fx_size_{base}",
                         format_func=lambda p: xl.SIZE_PRESETS[p].label)
    font_scale = b.number_input("Font scale", min_value=0.5, max_value=2.5, value=1.0, step=0.1,
                                key=f"fx_font_{base}", help="1 = the preset's text size")
    title = st.text_input("Title", texts.title, key=f"fx_title_{base}_{digest}")
    c, d = st.columns(2)
    x_title = c.text_input("X axis", texts.x_title, key=f"fx_x_{base}_{digest}") if texts.x_title else None
    y_title = d.text_input("Y axis", texts.y_title, key=f"fx_y_{base}_{digest}") if texts.y_title else None
    with_note = st.checkbox("Footnote", bool(default_note), key=f"fx_note_on_{base}_{digest}")
    note = st.text_area("Footnote text", default_note, key=f"fx_note_{base}_{digest}", height=110,
                        label_visibility="collapsed", disabled=not with_note) if with_note else ""
    # the figure and the default footnote show counts as the page does; text typed here is masked as sentences are
    def typed(text: str | None, default: str) -> str | None:
        return text if text is None or text == default else masking.text(text)

    options = xl.ExportOptions(preset=preset, title=typed(title, texts.title), x_title=typed(x_title, texts.x_title),
                               y_title=typed(y_title, texts.y_title), font_scale=float(font_scale),
                               footnote=typed(note or "", default_note) or "")
    width, height, scale = xl.output_size(snapshot, preset)
    st.caption(f"PNG {round(width * scale):,} x {round(height * scale):,} px · file `{stem}.png`")
    _figure_row(snapshot, options, name, base, stem, scale)


def _figure_row(snapshot: go.Figure, options, name: str, base: str, stem: str, scale: float) -> None:
    """The buttons; the figure is laid out (:func:`il2lib.figures.export_layout.export_figure`) on a click only."""
    from il2lib.figures.export_layout import export_figure

    png, svg = export_ticket(f"dl_png_{base}"), export_ticket(f"dl_svg_{base}")
    with _row(f"f_{base}"):
        st.download_button("PNG", data=lambda: png.run(lambda: export.figure_to_png(export_figure(snapshot, options),
                                                                                    scale=scale)),
                           file_name=f"{stem}.png", mime="image/png", key=f"dl_png_{base}",
                           icon=":material/download:", on_click=_follow_next_run, args=(png,), type="primary",
                           help="PNG at the size chosen above")
        st.download_button("SVG", data=lambda: svg.run(lambda: export.figure_to_svg(export_figure(snapshot, options))),
                           file_name=f"{stem}.svg", mime="image/svg+xml", key=f"dl_svg_{base}",
                           icon=":material/download:", on_click=_follow_next_run, args=(svg,), type="tertiary",
                           help="Vector SVG")
        st.download_button("HTML", data=lambda: export.figure_to_html(export_figure(snapshot, options), title=name,
                                                                      image_scale=scale),
                           file_name=f"{stem}.html", mime="text/html", key=f"dl_html_{base}",
                           icon=":material/download:", on_click="ignore", type="tertiary",
                           help="Interactive figure, opens offline")
    show_export_progress(png, "PNG")
    show_export_progress(svg, "SVG")


def chart_config(**extra: Any) -> dict:
    """``st.plotly_chart``'s config for a figure with an export panel: no modebar camera, so the panel's PNG is
    the one PNG route (one size, with its footnote)."""
    return {"displaylogo": False, "modeBarButtonsToRemove": ["toImage"], **extra}


def rendered_download_button(label: str, render: Callable[..., bytes], payload: Any, *, what: str, key: str,
                             options: dict | None = None, **button: Any) -> None:
    """A download button for a file chromium draws (``render(payload, **options)`` on click), with its progress.

    ``what`` names the file in the progress text ("PDF"); ``button`` holds ``st.download_button``'s
    other keyword arguments (``file_name``, ``mime``, ``help``, ``disabled``, ...).
    """
    _in_fragment(_rendered_button, label, render, payload, options or {}, what, key, button)


def _rendered_button(label: str, render: Callable[..., bytes], payload: Any, options: dict, what: str, key: str,
                     button: dict) -> None:
    ticket = export_ticket(key)
    st.download_button(label, data=lambda: ticket.run(render, payload, **options), key=key,
                       on_click=_follow_next_run, args=(ticket,), **button)
    show_export_progress(ticket, what)


def _in_fragment(draw: Callable[..., None], *args: Any) -> None:
    """Draw in a fragment (a click inside reruns only it); called directly outside a script run."""
    if get_script_run_ctx(suppress_warning=True) is None:
        draw(*args)
    else:
        st.fragment(draw)(*args)


class ExportTicket:
    """What the chromium export started by one button does now; written by the export, read by the page.

    ``serial`` counts the exports started; ``state`` is ``"idle"``, ``"queued"`` (``ahead`` exports
    before it), ``"running"``, ``"done"`` or ``"failed"`` (``error`` says why, in plain words).
    ``shown`` is the last serial whose end the page has shown; ``follow`` asks the next run to show it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.serial, self.state, self.ahead, self.error = 0, "idle", 0, ""
        self.shown, self.follow = 0, False

    def run(self, render: Callable[..., bytes], *args: Any, **kwargs: Any) -> bytes:
        """``render(*args, **kwargs)`` in Streamlit's download thread, recording its progress."""
        with self.lock:
            self.serial, self.state, self.ahead, self.error = self.serial + 1, "queued", 0, ""

        def progress(state: str, ahead: int) -> None:
            self.state, self.ahead = state, ahead

        try:
            with browsers.reporting_to(progress):
                data = render(*args, **kwargs)
        except Exception as exc:
            with self.lock:
                self.state = "failed"
                self.error = str(exc) if isinstance(exc, Il2libError) else (
                    "chromium failed while drawing it; the server log has the details.")
            raise
        with self.lock:
            self.state = "done"
        return data

    def snapshot(self) -> tuple[int, str, int, str]:
        with self.lock:
            return self.serial, self.state, self.ahead, self.error


def export_ticket(key: str) -> ExportTicket:
    """The session's ticket for the button ``key`` (a plain object outside a script run)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return ExportTicket()
    return st.session_state.setdefault(f"_export_ticket_{key}", ExportTicket())


def _follow_next_run(ticket: ExportTicket) -> None:
    ticket.follow = True


def progress_text(ticket: ExportTicket, what: str) -> str:
    """What an export is doing, in words: waiting in line (and how many before it) or drawing."""
    _, state, ahead, _ = ticket.snapshot()
    if state == "queued":
        before = f"; {ahead} export{'s' if ahead != 1 else ''} before yours" if ahead else ""
        return f"{WAITING_TEXT}{before}. The {what} downloads when it is ready."
    return f"Drawing the {what}…"


def show_export_progress(ticket: ExportTicket, what: str) -> None:
    """After a click: show the export's progress until it ends, then its error if it failed.

    Polls for at most :data:`FOLLOW_SECONDS`; after that the last progress stays on the page
    (the export goes on in its own thread and the file still downloads).
    """
    if not ticket.follow:
        return
    ticket.follow = False
    box = st.empty()
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < FOLLOW_SECONDS:
        serial, state, _, error = ticket.snapshot()
        if serial > ticket.shown and state in ("done", "failed"):
            ticket.shown = serial
            if state == "failed":
                box.error(md_escape(f"The {what} could not be made. {error}"), icon=":material/error:")
            else:
                box.empty()
            return
        if serial == ticket.shown and elapsed > START_GRACE_SECONDS:
            box.empty()  # the click did not start an export (the file may have been ready at once)
            return
        box.status(progress_text(ticket, what) if serial > ticket.shown else f"Preparing the {what}…",
                   state="running")
        time.sleep(POLL_SECONDS)


def table_with_downloads(ctx, df: pd.DataFrame, key: str, name: str, title: str, notes=(), cohort_rows=None, *,
                         heading: str | None = None) -> None:
    """``show_table`` with its CSV/XLSX buttons under it; with ``heading`` (Markdown, "" for none) a light Markdown
    table under that heading instead (:func:`app_ui.markdown.markdown_table`). Table and files get the same frame
    and mask it alike (masking is idempotent), so the file is the table as shown; the XLSX notes start with data
    and filters."""
    if heading is None:
        show_table(df, key=key, cohort_rows=cohort_rows)
    else:
        st.markdown(markdown_table(current_masking().table(df, cohort_rows=cohort_rows), heading))
    download_table(df, name, title=title, notes=(ctx.figure_titles("")[1], *notes), key=key, cohort_rows=cohort_rows)
