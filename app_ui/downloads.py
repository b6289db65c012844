"""Download buttons under every table (CSV, XLSX) and figure (PNG, SVG, interactive HTML).

One call under each element: ``download_table(df, "response_by_disease")`` or
``download_figure(fig, "km_os_by_disease")``. Files are built only when a button is clicked
(Streamlit's deferred ``data`` callable), so drawing a page stays fast; clicking does not rerun
the page. All conversion lives in :mod:`il2lib.export` (formula-injection neutralisation
included); this module only draws the buttons.

A file holds what the screen shows: with small-cell protection on, tables and figures are masked
exactly as ``show_table`` and the figure helper mask them, and patient-level exports (one row or
lane per patient) are not offered at all.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from il2lib import export

if TYPE_CHECKING:  # plotly is imported when a figure is drawn (start-up time)
    import plotly.graph_objects as go

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def slug(name: str) -> str:
    """A file-name-safe form of ``name``: ``"Table 1 (by disease)"`` -> ``"table_1_by_disease"``."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", str(name)).strip("_").lower()
    return text[:80] or "export"


def _row(key: str):
    return st.container(horizontal=True, gap="small", key=f"dl_row_{key}")


def _masking():
    from app_ui.beyond import current_masking  # the session's small-cell setting (sidebar switch)

    return current_masking()


def download_table(df: pd.DataFrame, name: str, *, title: str | None = None, notes: Iterable[str] = (),
                   index: bool = False, key: str | None = None, patient_level: bool = False) -> None:
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
    """
    masking = _masking()
    if patient_level and masking.on:
        return
    base = key or slug(name)
    stem = slug(name)
    frame = masking.table(df.reset_index() if index else df)
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
                    kind: str | None = None) -> None:
    """Draw "PNG", "SVG" and "HTML" download buttons for a figure.

    PNG is 3x the on-screen pixel size (publication resolution, about 300 dpi at 9 inches),
    SVG is vector, HTML is the interactive figure with plotly.js embedded (opens offline).
    Static images are rendered by kaleido with Debian's chromium when the button is clicked.
    A patient-level figure (``patient_level``, or a ``kind`` that
    :func:`il2lib.figures.withheld_under_masking` names, e.g. a swimmer plot) is not offered while
    small-cell protection is on.
    """
    from il2lib.figures import withheld_under_masking

    masking = _masking()
    if masking.on and (patient_level or withheld_under_masking(kind)):
        return
    base = key or slug(name)
    stem = slug(name)
    import plotly.graph_objects as go

    snapshot = masking.figure(go.Figure(fig))
    with _row(f"f_{base}"):
        st.download_button("PNG", data=lambda: export.figure_to_png(snapshot), file_name=f"{stem}.png",
                           mime="image/png", key=f"dl_png_{base}", icon=":material/download:",
                           on_click="ignore", type="tertiary", help="Publication PNG (3x scale)")
        st.download_button("SVG", data=lambda: export.figure_to_svg(snapshot), file_name=f"{stem}.svg",
                           mime="image/svg+xml", key=f"dl_svg_{base}", icon=":material/download:",
                           on_click="ignore", type="tertiary", help="Vector SVG")
        st.download_button("HTML", data=lambda: export.figure_to_html(snapshot, title=name),
                           file_name=f"{stem}.html", mime="text/html", key=f"dl_html_{base}",
                           icon=":material/download:", on_click="ignore", type="tertiary",
                           help="Interactive figure, opens offline")
