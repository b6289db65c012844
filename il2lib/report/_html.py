"""HTML building blocks of the meeting report: escaping, tables, figures and the page shell.

Every string that may come from an uploaded file goes through :func:`esc`. Figures are plotly
divs whose script calls ``Plotly.newPlot``; plotly.js itself is inlined once, in ``<head>``.
A Content-Security-Policy with ``default-src 'none'`` makes the browser refuse every network
request the document might attempt.
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from il2lib.report import _small_cells

Paper = Literal["A4", "Letter"]
#: Width of every figure in CSS pixels on screen; printed at :data:`PRINT_FIGURE_ZOOM` of it, i.e.
#: 675 px = 179 mm, inside A4's printable width with 14 mm margins (182 mm).
FIGURE_WIDTH_PX = 900
PRINT_FIGURE_ZOOM = 0.75
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:")
PAGE_RULE_ID = "page-rule"
_MARGIN_FONT = 'font: 7.5pt "DejaVu Sans", Arial, sans-serif; color: #666;'


def esc(text: object) -> str:
    """HTML-escape any value (quotes included); ``None``/NaN become an empty string."""
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return ""
    return html.escape(str(text), quote=True)


def page_rule(paper: Paper, footer: str) -> str:
    """The ``@page`` rule: paper size, margins, and a footer with the page number."""
    size = {"A4": "A4", "Letter": "letter"}[paper]
    footer_css = css_string(footer)
    return (f'@page {{ size: {size}; margin: 14mm 14mm 16mm 14mm; '
            f'@bottom-left {{ content: "{footer_css}"; {_MARGIN_FONT} }} '
            f'@bottom-right {{ content: "Page " counter(page) " of " counter(pages); {_MARGIN_FONT} }} }}')


def css_string(text: str) -> str:
    """Text safe inside a double-quoted CSS string in a ``<style>`` element (no quote, ``<``, ``>``, newline)."""
    out = []
    for ch in str(text):
        if ch in '\\"<>&' or ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Figure:
    """A figure of the report with its number and caption (plain text); ``kind`` names a patient-level
    kind of :data:`il2lib.figures.PATIENT_LEVEL_FIGURES` (withheld or masked under small-cell protection)."""

    fig: go.Figure
    caption: str
    kind: str = ""


def table_html(df: pd.DataFrame, *, caption: str | None = None, notes: Iterable[str] = (),
               first_column_header: bool = True, css_class: str = "", dependent=None, cohort_rows=None) -> str:
    """A display table as escaped HTML; numbers right-aligned, a caption and footnotes.

    The frame is shown as given (already formatted for display); the index is not shown. In a report
    built with small cells masked, the table, caption and notes are masked (``dependent``: the columns
    shown as "masked" in a row with a masked count; default: rate, percentage, CI and median columns), except
    the rows outside ``cohort_rows`` (published numbers, not this cohort's counts).
    """
    df, caption = _small_cells.table(df, dependent, cohort_rows), _small_cells.text(caption)
    notes = [_small_cells.text(n) for n in notes]
    head = "".join(f"<th scope=\"col\">{esc(c)}</th>" for c in df.columns)
    rows = []
    for values in df.itertuples(index=False, name=None):
        cells = []
        for j, value in enumerate(values):
            if j == 0:
                tag = "th scope=\"row\"" if first_column_header else "td"
                cls = _indent_class(value)
            else:
                tag = "td"
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                cls = ' class="num"' if numeric or _looks_numeric(value) else ""
            text = value.strip() if isinstance(value, str) else _display(value)
            cells.append(f"<{tag}{cls}>{esc(text)}</{tag.split()[0]}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    foot = "".join(f"<p class=\"note\">{esc(n)}</p>" for n in notes if n)
    return (f'<div class="table-block {esc(css_class)}"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{foot}</div>")


def _indent_class(value: object) -> str:
    """Row labels indented with leading spaces (Table 1 levels) keep their indent as padding."""
    if isinstance(value, str) and value.startswith(" ") and value.strip():
        return ' class="level"'
    return ""


def _display(value: object) -> object:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return value


def _looks_numeric(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    head = value.lstrip("<>≤≥ ")[:1]
    return head.isdigit() or value in ("—", "NR")


def figure_html(figure: Figure, number: int) -> str:
    """A numbered figure block: the plotly div (plotly.js not included) and its caption (both masked in a
    report built with small cells masked)."""
    fig = go.Figure(_small_cells.figure(figure.fig))
    fig.update_layout(width=FIGURE_WIDTH_PX, autosize=False)
    div = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=f"figure-{number}",
                      config={"displaylogo": False, "responsive": False,
                              "toImageButtonOptions": {"format": "png", "scale": 3}})
    return (f'<figure class="figure" id="fig{number}">{div}'
            f"<figcaption><b>Figure {number}.</b> {esc(_small_cells.text(figure.caption))}</figcaption></figure>")


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    """Key facts as a two-column description list (both columns escaped)."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="facts">{body}</dl>'


def paragraph(text: str, css_class: str = "") -> str:
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<p{cls}>{esc(text)}</p>"


def section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{body}</section>'


def document(title: str, body: str, *, paper: Paper, footer: str, has_figures: bool) -> str:
    """The whole self-contained HTML document (plotly.js inlined once when there are figures)."""
    plotly_js = f'<script type="text/javascript">{get_plotlyjs()}</script>' if has_figures else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style>"
        f'<style id="{PAGE_RULE_ID}">{page_rule(paper, footer)}</style>{plotly_js}</head>'
        f'<body><main class="report">{body}</main></body></html>\n'
    )


STYLE = """
/* print: figures at PRINT_FIGURE_ZOOM (0.75) */
:root { --ink: #1a1a1a; --muted: #555; --rule: #c8c8c8; --accent: #0b4f8a; --band: #f3f6f9; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 10.5pt/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; }
main.report { max-width: 920px; margin: 0 auto; padding: 24px 10px 48px; }
header.title-block { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 14px; }
h1 { font-size: 19pt; margin: 0 0 4px; color: var(--accent); line-height: 1.2; }
.subtitle { font-size: 11pt; color: var(--muted); margin: 0 0 8px; }
h2 { font-size: 13.5pt; color: var(--accent); border-bottom: 1px solid var(--rule);
  padding-bottom: 2px; margin: 22px 0 8px; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 11pt; margin: 14px 0 6px; break-after: avoid; page-break-after: avoid; }
p { margin: 4px 0 8px; }
.note, figcaption, caption { font-size: 8.5pt; color: var(--muted); }
caption { caption-side: top; text-align: left; font-weight: bold; color: var(--ink); padding-bottom: 3px; font-size: 9.5pt; }
.callout { background: #fff6e0; border-left: 4px solid #e0a100; padding: 6px 10px; font-size: 9pt; }
.synthetic { background: #eef4fb; border-left: 4px solid var(--accent); padding: 6px 10px; font-size: 9pt; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; font-size: 9.5pt; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.table-block { margin: 8px 0 14px; break-inside: avoid; page-break-inside: avoid; }
.table-block.long { break-inside: auto; page-break-inside: auto; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
thead { display: table-header-group; }
th, td { padding: 3px 6px; text-align: left; vertical-align: top; border-bottom: 1px solid #e4e4e4; }
thead th { border-top: 1.5px solid var(--ink); border-bottom: 1px solid var(--ink); background: var(--band); }
tbody tr:last-child > * { border-bottom: 1.5px solid var(--ink); }
tbody th { font-weight: normal; }
tbody th.level, tbody td.level { padding-left: 18px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { break-inside: avoid; page-break-inside: avoid; }
.findings tbody > tr > :nth-child(-n+2) { white-space: nowrap; }
figure.figure { margin: 10px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure.figure > div { width: 900px; }
#methods p { font-size: 9pt; margin: 3px 0 6px; }
#methods dl.facts { font-size: 8.5pt; }
.toc { font-size: 9.5pt; color: var(--muted); }
@media print {
  main.report { max-width: none; padding: 0; }
  h2 { margin-top: 16px; }
  section.page-start { break-before: page; page-break-before: always; }
  .modebar-container { display: none !important; }
  figure.figure > div { zoom: 0.75; }
}
"""
