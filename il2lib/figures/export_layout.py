"""A figure laid out for export: size presets (16:9 slide, half slide, journal column), edited title and axis
titles, a font scale and a footnote under the plot; and file names that say the endpoint, grouping and filter.

Pure (no Streamlit): :func:`export_figure` returns a copy of a ``go.Figure``, the original is left as it is.
Sizes are CSS pixels; a PNG is ``scale`` times that (:func:`il2lib.export.files.figure_to_png`).
"""
from __future__ import annotations

import hashlib
import html
import re
import textwrap
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from il2lib import schema
from il2lib.figures.palette import wrap_subtitle


@dataclass(frozen=True)
class SizePreset:
    """``width`` x ``height`` CSS px drawn at ``scale`` (None: the figure's own size); the figure's base text is
    ``font_px`` at this size (None: as the figure has it)."""

    label: str
    width: int | None
    height: int | None
    scale: float
    font_px: float | None


#: Export sizes. The scales are exact in binary, so the PNG is exactly width x scale by height x scale pixels.
SIZE_PRESETS = {
    "slide": SizePreset("16:9 slide (1920 x 1080 px)", 1280, 720, 1.5, 16),
    "half": SizePreset("Half slide (960 x 1080 px)", 640, 720, 1.5, 15),
    "column": SizePreset("Journal column (3.5 x 5 in, 300 dpi)", 336, 480, 3.125, 10),
    "screen": SizePreset("As on screen (3x)", None, None, 3, None),
}
DEFAULT_PRESET = "slide"
#: Size of a figure without its own (plotly's default), CSS px.
FALLBACK_SIZE = (900, 560)
#: plotly's default margins, CSS px.
PLOTLY_MARGINS = {"l": 80, "r": 80, "t": 100, "b": 80}
#: Average character width of Arial, in ems: how long a line of text is before it is wrapped.
CHAR_EM = 0.55
#: Name of the footnote annotation an export adds.
FOOTNOTE_NAME = "export_footnote"
_TAG = re.compile(r"<[^>]+>")
_FONT_PX = re.compile(r"font-size:\s*([0-9.]+)px")


@dataclass(frozen=True)
class ExportOptions:
    """What the export panel sets. ``None`` keeps the figure's title or axis title; ``""`` removes it."""

    preset: str = DEFAULT_PRESET
    title: str | None = None
    x_title: str | None = None
    y_title: str | None = None
    font_scale: float = 1.0
    footnote: str = ""


@dataclass(frozen=True)
class FigureTexts:
    """The editable texts of a figure, as plain text."""

    title: str
    x_title: str
    y_title: str
    footnote: str


def plain(text: Any) -> str:
    """Markup-free text of a plotly label: tags dropped, ``<br>`` as a space, entities decoded."""
    return html.unescape(_TAG.sub("", str(text or "").replace("<br>", " "))).strip()


def figure_texts(fig: go.Figure) -> FigureTexts:
    """The figure's title (without its subtitle), main x and y axis titles, and the footnote it carries."""
    title, _, _ = _title_parts(fig)
    x_axis, y_axis = _main_axis(fig, "x"), _main_axis(fig, "y")
    found = _existing_footnote(fig)
    return FigureTexts(title=plain(title), x_title=plain(_axis_title(fig, x_axis)),
                       y_title=plain(_axis_title(fig, y_axis)),
                       footnote=plain(found[1].text.replace("<br>", " ")) if found else "")


def output_size(fig: go.Figure, preset: str = DEFAULT_PRESET) -> tuple[int, int, float]:
    """(width, height) CSS px and the scale of the exported figure."""
    p = SIZE_PRESETS[preset]
    width = p.width or fig.layout.width or FALLBACK_SIZE[0]
    height = p.height or fig.layout.height or FALLBACK_SIZE[1]
    return int(width), int(height), p.scale


def export_figure(fig: go.Figure, options: ExportOptions = ExportOptions()) -> go.Figure:
    """A copy of ``fig`` for export: the preset's size, fonts scaled, title / axis titles replaced, subtitle and
    title wrapped to the width, and ``options.footnote`` (wrapped) under the plot with the margins it needs.

    A footnote the figure already has (an annotation under the plot, e.g. the response-rate tests) is replaced
    by ``options.footnote``: pass its text (:func:`figure_texts`) to keep it. The lower panels of a stacked
    figure (a number-at-risk table) keep their height in pixels; the main panel takes what is left.
    """
    preset = SIZE_PRESETS[options.preset]
    base_font = float(fig.layout.font.size or 12)
    factor = max(0.3, float(options.font_scale)) * ((preset.font_px / base_font) if preset.font_px else 1.0)
    width, height, _ = output_size(fig, options.preset)
    old_height = float(fig.layout.height or FALLBACK_SIZE[1])
    margin = {side: float(default if getattr(fig.layout.margin, side) is None else getattr(fig.layout.margin, side))
              for side, default in PLOTLY_MARGINS.items()}
    old_area = old_height - margin["t"] - margin["b"]
    found = _existing_footnote(fig)
    axis_room = -float(found[1].yshift or 0) if found else None
    title, sub_lines, top_anchored = _title_parts(fig)
    old_block = _title_block(fig, title, sub_lines)
    x_axis, y_axis = _main_axis(fig, "x"), _main_axis(fig, "y")
    x_old, y_old = _axis_title(fig, x_axis), _axis_title(fig, y_axis)
    lower = _lower_panels(fig)

    spec = fig.to_dict()
    layout = spec["layout"]
    if found:
        del layout["annotations"][found[0]]
    _scale_fonts(spec, factor)
    font = base_font * factor
    out = go.Figure(spec)
    out.update_layout(width=width, height=height)

    # title and subtitle, wrapped to the width
    new_title = html.escape(options.title, quote=False) if options.title is not None else title
    title_font = float(out.layout.title.font.size or font * 17 / 13)
    title_lines = _wrap_markup(new_title, _chars(width - 20, title_font)) if plain(new_title) else []
    sub_font = _subtitle_font(out, font)
    sub_lines = [w for line in sub_lines for w in _wrap_subtitle(line, _chars(width - 20, sub_font))]
    _set_title(out, title_lines, sub_lines, sub_font)
    new_block = title_font * 1.3 * len(title_lines) + sub_font * 1.3 * len(sub_lines)
    if top_anchored:
        top = margin["t"] * factor + new_block - old_block * factor
    else:  # plotly centres such a title in the top margin: hang it from the top, keep what is under it
        pad = font * 0.8
        under = max(font * 1.5, (margin["t"] - 2 * old_block) * factor) + font * 0.6
        top = pad + new_block + under
        out.update_layout(title={"yref": "container", "y": 1 - pad / height, "yanchor": "top"})
    if (out.layout.title.xref or "container") == "container" and not out.layout.title.x:
        out.layout.title.x = round(font / width, 4)  # clear of the image's edge
    if not title_lines and not sub_lines:
        top = max(10.0, top)
    top += _legend_growth(fig, out, width - margin["l"] * factor - margin["r"] * factor, font)
    top += _wrap_panel_titles(out, width, font)

    # axis titles (every axis with the main one's title: facets keep one wording)
    for letter, old, new in (("x", x_old, options.x_title), ("y", y_old, options.y_title)):
        if new is None or not old:
            continue
        for name in _axes(out, letter):
            axis = out.layout[name]
            if axis.title.text == old:
                axis.title.text = html.escape(new, quote=False)

    # footnote, under the x axis's labels and title
    room = axis_room * factor if axis_room is not None else _axis_room(out, font)
    note_font = max(8.0, round(font * 0.85, 1))
    text = options.footnote.strip()
    bottom = room if text else max(margin["b"] * factor, room)
    if text:
        left = _left_room(out, margin["l"] * factor, font)
        lines = [line for part in text.splitlines() for line in
                 (textwrap.wrap(part, _chars(width - left - 10, note_font), break_on_hyphens=False) or [""])]
        out.add_annotation(text="<br>".join(html.escape(line, quote=False) for line in lines), name=FOOTNOTE_NAME,
                           xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="top",
                           yshift=-int(bottom), align="left", showarrow=False,
                           font={"size": note_font, "color": "#444444"})
        bottom += note_font * 1.35 * len(lines) + note_font
    out.update_layout(margin={"t": int(top), "b": int(bottom), "l": int(margin["l"] * factor),
                              "r": int(margin["r"] * factor)})

    # stacked lower panels keep their pixel height (scaled with the text)
    if lower:
        main_bottom, axes = lower
        new_area = height - top - bottom
        lower_px = main_bottom * old_area * factor
        fraction = min(0.55, lower_px / max(new_area, 1.0))
        ratio = fraction / main_bottom
        for name in axes:
            lo, hi = out.layout[name].domain
            out.layout[name].domain = [lo * ratio, hi * ratio]
        out.layout["yaxis"].domain = [fraction, out.layout["yaxis"].domain[1]]
    return out


def _legend_rows(fig: go.Figure, width: float, font: float) -> int:
    """Rows a horizontal legend takes in ``width`` px (items of name length plus a symbol, left to right)."""
    rows, used = 1, 0.0
    for trace in fig.data:
        if trace.showlegend is False or not trace.name:
            continue
        item = len(plain(trace.name)) * CHAR_EM * font + 3.5 * font
        if used and used + item > width:
            rows, used = rows + 1, 0.0
        used += item
    return rows


def _legend_growth(before: go.Figure, after: go.Figure, width: float, font: float) -> float:
    """Extra top margin for a horizontal legend above the plot that needs more rows at the new width."""
    legend = after.layout.legend
    if legend.orientation != "h" or (legend.y or 0) < 1 or legend.yanchor != "bottom" or after.layout.showlegend is False:
        return 0.0
    old_font = float(before.layout.legend.font.size or before.layout.font.size or 12)
    old_width = float(before.layout.width or FALLBACK_SIZE[0]) - float(before.layout.margin.l or 80) - float(
        before.layout.margin.r or 80)
    extra = _legend_rows(after, width, font) - _legend_rows(before, old_width, old_font)
    return max(0, extra) * font * 1.9


def _wrap_panel_titles(fig: go.Figure, width: float, font: float) -> float:
    """Wrap the titles of side-by-side panels (subplot titles) to their panel's width; the extra top margin the
    added lines need."""
    titles = [a for a in fig.layout.annotations or () if a.xref == "paper" and a.yref == "paper"
              and a.yanchor == "bottom" and a.xanchor == "center" and a.name != FOOTNOTE_NAME and a.text]
    rows: dict[float, list] = {}
    for a in titles:
        rows.setdefault(round(float(a.y), 3), []).append(a)
    extra = 0
    for row in rows.values():
        if len(row) < 2:
            continue
        size = float(row[0].font.size or font)
        chars = _chars(0.7 * width / len(row), size)
        for a in row:
            lines = textwrap.wrap(plain(a.text), chars, break_on_hyphens=False) or [""]
            if len(lines) > 1:
                a.text = "<br>".join(html.escape(line, quote=False) for line in lines)
                extra = max(extra, (len(lines) - 1) * size * 1.3)
    return extra


def _axes(fig: go.Figure, letter: str) -> list[str]:
    names = [k for k in fig.layout.to_plotly_json() if re.fullmatch(f"{letter}axis[0-9]*", k)]
    return sorted(names, key=lambda n: int(n[5:] or 1)) or [f"{letter}axis"]


def _main_axis(fig: go.Figure, letter: str) -> str:
    """The first axis of ``letter`` with a title (``xaxis`` when none has one)."""
    for name in _axes(fig, letter):
        if fig.layout[name].title.text:
            return name
    return f"{letter}axis"


def _axis_title(fig: go.Figure, name: str) -> str:
    return fig.layout[name].title.text or ""


def _title_parts(fig: go.Figure) -> tuple[str, list[str], bool]:
    """(title markup, subtitle lines as markup, whether the title is anchored at the top): a subtitle is either
    plotly's ``title.subtitle`` or the lines after the title's first ``<br>``."""
    t = fig.layout.title
    text = t.text or ""
    top_anchored = t.yref == "container" and t.yanchor == "top"
    if t.subtitle.text:
        return text, [s for s in t.subtitle.text.split("<br>")], top_anchored
    head, *rest = text.split("<br>")
    return head, rest, top_anchored


def _subtitle_font(fig: go.Figure, font: float) -> float:
    sub = fig.layout.title.subtitle
    if sub.text:
        return float(sub.font.size or font)
    found = _FONT_PX.search(fig.layout.title.text or "")
    return float(found.group(1)) if found else font


def _title_block(fig: go.Figure, title: str, sub_lines: list[str]) -> float:
    base = float(fig.layout.font.size or 12)
    title_font = float(fig.layout.title.font.size or base * 17 / 13)
    line = _subtitle_font(fig, base) if fig.layout.title.subtitle.text else title_font
    return title_font * 1.3 * (1 if plain(title) else 0) + line * 1.3 * len(sub_lines)


def _set_title(fig: go.Figure, title_lines: list[str], sub_lines: list[str], sub_font: float) -> None:
    """Title lines and subtitle lines (plotly's ``title.subtitle``, which stays under a title hung from the top);
    a title that was bold stays bold."""
    bold = "<b>" in (fig.layout.title.text or "")
    fig.layout.title.text = "<br>".join(f"<b>{line}</b>" if bold else line for line in title_lines)
    fig.layout.title.subtitle.text = "<br>".join(plain_markup(line) for line in sub_lines)
    fig.layout.title.subtitle.font.size = sub_font


def plain_markup(line: str) -> str:
    """A subtitle line without its span wrapper (its text stays escaped)."""
    return re.sub(r"^<span[^>]*>|</span>$", "", line)


def _wrap_markup(text: str, width: int) -> list[str]:
    """Wrap escaped text (possibly ``<b>``-wrapped) into lines of at most ``width`` characters."""
    words = plain(text)
    lines = textwrap.wrap(words, max(width, 10), break_on_hyphens=False) or [words]
    return [html.escape(line, quote=False) for line in lines]


def _wrap_subtitle(line: str, width: int) -> list[str]:
    """A subtitle line as is when it fits, else wrapped at " · " and then at spaces (text stays escaped)."""
    text = plain(line)
    if len(text) <= width:
        return [line] if "<span" not in line else [plain_markup(line)]
    return [html.escape(piece, quote=False) for piece in wrap_subtitle(text, width)]


def _chars(px: float, font: float) -> int:
    return max(12, int(px / (CHAR_EM * font)))


def _scale_fonts(spec: dict, factor: float) -> None:
    """Multiply every font size of the figure (layout, traces, annotations, inline ``font-size:Npx``)."""
    layout = spec.setdefault("layout", {})
    layout.setdefault("font", {}).setdefault("size", 12)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "template":
                    continue
                if key == "size" and isinstance(value, (int, float)) and _in_font[-1]:
                    node[key] = round(value * factor, 2)
                elif isinstance(value, str) and "font-size" in value:
                    node[key] = _FONT_PX.sub(lambda m: f"font-size:{float(m.group(1)) * factor:g}px", value)
                else:
                    _in_font.append(key.endswith("font"))
                    walk(value)
                    _in_font.pop()
        elif isinstance(node, list):
            for item in node:
                walk(item)
        return node

    _in_font = [False]
    walk(spec)


def _existing_footnote(fig: go.Figure) -> tuple[int, Any] | None:
    """(index, annotation) of a footnote the figure carries: a paper annotation hung under the plot."""
    for i, a in enumerate(fig.layout.annotations or ()):
        if (a.name == FOOTNOTE_NAME or (a.xref == "paper" and a.yref == "paper" and a.y == 0
                                        and a.yanchor == "top" and (a.yshift or 0) < 0)):
            return i, a
    return None


def _axis_room(fig: go.Figure, font: float) -> float:
    """Pixels under the plot for the bottom x axis's tick labels and title."""
    room = font * 0.8
    for name in _axes(fig, "x"):
        axis = fig.layout[name]
        anchor = axis.anchor or "y"
        y_name = "yaxis" + ("" if anchor in ("y", "free") else anchor[1:])
        domain = fig.layout[y_name].domain if y_name in fig.layout else None
        if domain is not None and domain[0] > 0:
            continue
        ticks = font * 1.7 if axis.showticklabels is not False else 0.0
        title = font * 1.8 + 6 if axis.title.text else 0.0
        room = max(room, ticks + title + font * 0.8)
    return room


def _left_room(fig: go.Figure, margin_left: float, font: float) -> float:
    """An estimate of the plot's left edge: the margin, or the longest y tick label when longer."""
    longest = 0
    for name in _axes(fig, "y"):
        texts = fig.layout[name].ticktext or ()
        longest = max([longest, *(len(plain(t)) for t in texts)])
    for trace in fig.data:
        if getattr(trace, "orientation", None) == "h" and trace.y is not None:
            longest = max([longest, *(len(plain(v)) for v in trace.y)])
    return max(margin_left, longest * CHAR_EM * font + 10)


def _lower_panels(fig: go.Figure) -> tuple[float, list[str]] | None:
    """(bottom of the main panel's domain, the y axes under it) for a stacked figure, else None."""
    main = fig.layout.yaxis.domain
    if not main or main[0] <= 0:
        return None
    below = [n for n in _axes(fig, "y") if n != "yaxis" and fig.layout[n].domain
             and fig.layout[n].domain[1] <= main[0] + 1e-9]
    return (float(main[0]), below) if below else None


# --------------------------------------------------------------------------------------------------- file names
#: Short file-name forms of the filter fields.
_FILTER_SHORT = {schema.DISEASE: "", schema.PRIOR_PD1: "prior-pd1", schema.PRIOR_PD1_AGENT: "agent",
                 schema.LINE_OF_IL2: "line", schema.SEX: "sex", schema.AGE: "age", schema.ECOG: "ecog",
                 schema.SOURCE: "source"}
MAX_STEM = 90


def _slug(text: str, sep: str = "-") -> str:
    return re.sub(r"[^a-z0-9]+", sep, str(text).lower()).strip(sep)


def filter_slug(cohort_filter) -> str:
    """The filter in a file name: ``"melanoma_prior-pd1-yes"``; ``""`` for all patients."""
    if cohort_filter is None or cohort_filter.is_empty():
        return ""
    parts = []
    for key, value in cohort_filter.to_query_params().items():
        short = _FILTER_SHORT.get(key, _slug(key.removeprefix("col.")))
        parts.append(_slug(f"{short} {value}" if short else value))
    return "_".join(p for p in parts if p)


def file_stem(what: str, by: str | None = None, cohort_filter=None) -> str:
    """File name stem saying the endpoint or measure, the grouping and the filter:
    ``file_stem("km_os", "disease", CohortFilter(disease=("melanoma",)))`` -> ``"km_os_by_disease_melanoma"``.
    A long one is cut and ends in a short hash of the whole, so two different views never share a name."""
    stem = _slug(what, "_") + (f"_by_{_slug(by, '_')}" if by else "")
    where = filter_slug(cohort_filter)
    full = f"{stem}_{where}" if where else stem
    if len(full) <= MAX_STEM:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[:MAX_STEM - 9].rstrip('_-')}_{digest}"
