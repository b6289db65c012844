"""The one place for figure colours, fonts and sizes (Okabe-Ito, colour-blind safe).

Every figure builder takes ``presentation: bool`` and reads its sizes from :func:`figure_style`:
presentation mode has larger type, markers and lines and the high-contrast palette, for screen sharing
in a tumour board.

References
----------
Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that are
friendly to colorblind people. 2008. https://jfly.uni-koeln.de/color/
W3C. Web Content Accessibility Guidelines (WCAG) 2.1: contrast ratio and relative luminance (1.4.3 text
at least 4.5:1, 1.4.11 graphical objects at least 3:1). https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio
"""
from __future__ import annotations

import functools
import html
import json
import textwrap
from copy import deepcopy
from dataclasses import dataclass

import plotly.graph_objects as go

#: Okabe-Ito colours, ordered for contrast on white (blue, vermillion, green, purple, orange, sky, black, yellow).
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
GREY = "#999999"
BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, BLACK, YELLOW = OKABE_ITO

#: Best overall response: benefit in cool colours, progression in warm ones, NE grey.
RESPONSE_COLORS = {"CR": BLUE, "PR": SKY, "SD": GREEN, "PD": VERMILLION, "NE": GREY}
#: CTCAE grades 1-5, light to dark (bars get a dark outline in the builders): pale yellow and orange below grade 3,
#: blue, navy and black from it. Lightness falls grade by grade and the hue turns at the grade >= 3 threshold, so
#: that step is the largest under deuteranopia, protanopia and tritanopia (tests/test_toxicity_grade3.py).
GRADE_COLORS = {1: "#FFE9A8", 2: ORANGE, 3: BLUE, 4: "#14305E", 5: BLACK}
#: Clinical benefit vs no benefit.
BENEFIT_COLORS = {"Clinical benefit": BLUE, "No clinical benefit": VERMILLION}
OUTLINE = "#333333"
#: Figure text (titles, axes, risk-table numbers): 15.9:1 on white.
TEXT = "#222222"
#: Smallest figure text (px): subtitles and table numbers never go below it.
MIN_TEXT_PX = 12
#: Reference lines in presentation mode: 5.7:1 on white (:data:`GREY` is 2.8:1).
REFERENCE_DARK = "#666666"
#: Line dash per group, in group order, so curves differ without colour.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def contrast_ratio(foreground: str, background: str = "#FFFFFF") -> float:
    """WCAG 2 contrast ratio of two ``#RRGGBB`` colours, from 1 (same) to 21 (black on white)."""
    def luminance(hex_color: str) -> float:
        channels = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


#: Presentation palette: the Okabe-Ito colours with at least 3:1 contrast on white (WCAG 1.4.11), in the same
#: order (blue, vermillion, green, purple, black): no orange, sky blue or yellow.
HIGH_CONTRAST = tuple(c for c in OKABE_ITO if contrast_ratio(c) >= 3.0)


@dataclass(frozen=True)
class FigureStyle:
    """Sizes of one figure style; ``colors`` is the qualitative sequence."""

    colors: tuple[str, ...]
    font_size: int
    title_size: int
    marker_size: int
    line_width: float
    bar_height_px: int
    height: int
    template: str
    font_family: str = "Arial, Helvetica, sans-serif"
    reference: str = GREY  # reference lines (HR = 1, an overall rate)


def figure_style(presentation: bool = False) -> FigureStyle:
    """Normal style, or presentation style (bigger type, markers and lines, the high-contrast palette)."""
    if presentation:
        return FigureStyle(HIGH_CONTRAST, 20, 26, 16, 4.0, 34, 620, "simple_white", reference=REFERENCE_DARK)
    return FigureStyle(OKABE_ITO, 13, 17, 10, 2.2, 22, 480, "plotly_white")


def color(i: int, style: FigureStyle | None = None) -> str:
    """The i-th qualitative colour (cycles) of ``style`` (default: the normal palette)."""
    colors = style.colors if style is not None else OKABE_ITO
    return colors[i % len(colors)]


def dash(i: int) -> str:
    """The i-th line dash (cycles)."""
    return DASHES[i % len(DASHES)]


def subtitle_size(style: FigureStyle) -> int:
    """Subtitle font size (px): a little smaller than the figure text, never below :data:`MIN_TEXT_PX`."""
    return max(MIN_TEXT_PX, int(style.font_size * 0.9))


def escape(text: object) -> str:
    """HTML-escape plain text (labels may come from an uploaded file)."""
    return html.escape(str(text), quote=False)


#: Subtitle characters per line: the narrowest column a figure gets on a page, at each style's font size.
SUBTITLE_CHARS = {False: 75, True: 55}


def wrap_subtitle(text: str, width: int) -> list[str]:
    """Split a subtitle into lines of at most ``width`` characters, preferably at " · " separators."""
    if not text:
        return []
    lines, current = [], ""
    for part in text.split(" · "):
        candidate = f"{current} · {part}" if current else part
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = part
    lines.append(current)
    return [piece for line in lines for piece in textwrap.wrap(line, width) or [""]]


def subtitle_lines(subtitle: str, style: FigureStyle) -> list[str]:
    return wrap_subtitle(subtitle, SUBTITLE_CHARS[style.font_size > 16])


def title_html(title: str, subtitle: str = "", style: FigureStyle | None = None) -> str:
    """Title with an optional smaller subtitle (e.g. the filter description, wrapped to fit), both escaped."""
    style = style or figure_style()
    text = f"<b>{escape(title)}</b>"
    for line in subtitle_lines(subtitle, style):
        text += f"<br><span style='font-size:{subtitle_size(style)}px'>{escape(line)}</span>"
    return text


def title_height(subtitle: str, style: FigureStyle) -> int:
    """Top margin (px) for the title and wrapped subtitle lines plus a row for panel labels under them.

    Plotly centres the title block in the top margin, so the margin is twice the block's height.
    """
    lines = len(subtitle_lines(subtitle, style))
    block = style.title_size * 1.3 + lines * style.font_size * 1.2
    return int(2 * block + style.font_size * 2.2)


def apply_layout(fig: go.Figure, title: str, subtitle: str, style: FigureStyle, *, height: int | None = None,
                 legend_title: str = "", extra_top: int = 0) -> go.Figure:
    """Common layout: template (plotly's own, set unvalidated as in :func:`figure`), fonts, title/subtitle,
    legend; returns ``fig``."""
    set_named_template(fig, style.template)
    fig.update_layout(
        title={"text": title_html(title, subtitle, style), "x": 0.0, "xanchor": "left",
               "font": {"size": style.title_size}},
        font={"size": style.font_size, "family": style.font_family, "color": TEXT},
        height=height or style.height,
        legend={"title": {"text": escape(legend_title)}, "font": {"size": style.font_size}},
        margin={"l": 10, "r": 10, "t": title_height(subtitle, style) + extra_top,
                "b": 10},
        hoverlabel={"font": {"size": style.font_size}},
    )
    return fig


def figure(traces: list[dict], layout: dict) -> go.Figure:
    """``go.Figure(data=traces, layout=layout)``: one validated construction from plain dicts, except the layout's
    named template, plotly's own, set as it is (validating a template takes 30-50 ms, most of a figure's build;
    the figure's JSON is the same)."""
    layout = dict(layout)
    template = layout.pop("template", None)
    fig = go.Figure(data=traces, layout=layout)
    if template is not None:
        _set_template(fig, json.loads(_template_json(template)) if isinstance(template, str) else template)
    return fig


def copy_figure(fig: go.Figure) -> go.Figure:
    """A copy of ``fig``, as ``go.Figure(fig)`` makes it, with the template (already valid) not validated again."""
    # what to_dict() copies, without its base64 packing of arrays (which would reach readers of the copy's data)
    layout = deepcopy(fig._layout)
    template = layout.pop("template", None)
    frames = deepcopy([frame._props for frame in fig.frames]) or None
    copy = go.Figure(data=deepcopy(fig._data), layout=layout, frames=frames)
    if template is not None:
        _set_template(copy, template)
    return copy


def set_named_template(fig: go.Figure, name: str) -> go.Figure:
    """``fig.update_layout(template=name)`` for one of plotly's named templates, without validating it again
    (the same JSON); returns ``fig``."""
    _set_template(fig, json.loads(_template_json(name)))
    return fig


def _set_template(fig: go.Figure, template: dict) -> None:
    fig.layout._validate = False
    try:
        fig.layout.template = template
    finally:
        fig.layout._validate = True


@functools.lru_cache(maxsize=8)
def _template_json(name: str) -> str:
    import plotly.io as pio

    return json.dumps(pio.templates[name].to_plotly_json())
