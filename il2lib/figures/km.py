"""Kaplan-Meier figure: step curves, CI bands, censor ticks and an aligned number-at-risk table.

Groups differ by colour and line dash (both in group order); the risk table's numbers are dark text
(:data:`il2lib.figures.palette.TEXT`), each row keyed by a short line in its group's colour.

A pure builder: it takes finished :class:`il2lib.survival.KaplanMeierResult` objects and returns a
``plotly.graph_objects.Figure``. It computes no statistic of its own: survival, CI and numbers at
risk all come from each result's ``.table`` and ``.at_risk(times)``.

With ``small_cell_threshold=k`` the figure carries no count from 1 to k - 1: each curve stops before
the first step with fewer than k patients at risk (the size of a later drop would give the number of
events back), censor ticks are not drawn, and counts in the risk table, hover text, group labels and
subtitle read "<k".
"""
from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib.figures import palette
from il2lib.privacy.masking import mask_count, mask_text

TIME_LABEL = "Months since IL-2 start"
DEFAULT_MAX_POINTS = 2000
#: Censor ticks are thinned to one per 1/400 of the time axis (a tick is wider than that).
CENSOR_TICK_BINS = 400
#: More CI bands than this blend into one field: beyond it they are drawn only on request.
MAX_GROUPS_WITH_CI_BAND = 2
#: The risk-table row key: a short line in the group's colour before the group name.
ROW_KEY = "━━"
#: Widths (in font sizes) of the characters of a risk-table row label in Arial / Liberation Sans / Helvetica, the
#: narrowest of plotly's default fonts, so that the estimate does not exceed the label; other characters 0.6. The key
#: and its space are 1.48.
_CHAR_EM = {**dict.fromkeys("'", 0.19), **dict.fromkeys("ijl", 0.22), **dict.fromkeys("f|", 0.26),
            **dict.fromkeys(" !,./:;[\\]tI", 0.28), **dict.fromkeys("()-`r{}", 0.33), '"': 0.35, "*": 0.39,
            "^": 0.47, **dict.fromkeys("cksvxyzJ", 0.5), **dict.fromkeys("0123456789#$?_abdeghnopquL", 0.56),
            **dict.fromkeys("+<=>~", 0.58), **dict.fromkeys("FTZ", 0.61), **dict.fromkeys("&ABEKPSVXY", 0.67),
            **dict.fromkeys("CDHNRUw", 0.72), **dict.fromkeys("GOQ", 0.78), **dict.fromkeys("Mm", 0.83), "%": 0.89,
            "W": 0.94, "@": 1.02}
KEY_EM = 1.48
#: Room plotly leaves between a tick label's standoff and the figure's edge (px); the estimate also gets 3% for
#: hinting at small sizes.
LABEL_PAD_PX = 14
#: Presentation mode: height (px) of the whole figure, titles and risk table included, so that it fits a
#: 1080-px-high screen under the page title and a two-line warning; the curve panel takes what the rest
#: leaves, at least :data:`MIN_PLOT_PX`.
PRESENTATION_FIGURE_PX = 800
MIN_PLOT_PX = 240
#: Subtitle characters per line in presentation mode, where the figure spans the page.
PRESENTATION_SUBTITLE_CHARS = 110


@dataclass(frozen=True)
class KMStyle:
    """Sizes and colours of the KM figure, derived from the shared :mod:`il2lib.figures.palette`."""

    colors: tuple[str, ...]
    line_width: float
    marker_size: int
    tick_width: float
    band_alpha: float
    table_font_size: int
    font_size: int
    height: int  # of the curve panel; in presentation mode what :data:`PRESENTATION_FIGURE_PX` leaves
    template: str
    figure_height: int | None = None  # the whole figure's height, when fixed
    row_factor: float = 2.2  # a risk-table row's height, in table font sizes
    gap_factor: float = 6.0  # the band between curve panel and risk table (time axis), in font sizes


def km_style(presentation: bool) -> KMStyle:
    """The palette's normal or presentation style, plus the KM-specific band and tick sizes."""
    base = palette.figure_style(presentation)
    return KMStyle(colors=base.colors, line_width=base.line_width, marker_size=base.marker_size,
                   tick_width=2.5 if presentation else 1.5, band_alpha=0.15 if presentation else 0.10,
                   table_font_size=base.font_size - (2 if presentation else 1), font_size=base.font_size,
                   height=base.height, template=base.template,
                   figure_height=PRESENTATION_FIGURE_PX if presentation else None,
                   row_factor=1.9 if presentation else 2.2, gap_factor=5.0 if presentation else 6.0)


def ci_band_default(n_groups: int) -> bool:
    """CI bands are on by default for up to :data:`MAX_GROUPS_WITH_CI_BAND` groups."""
    return n_groups <= MAX_GROUPS_WITH_CI_BAND


def km_figure(
    results: Mapping[str, Any],
    *,
    show_ci: bool | None = None,
    risk_table: bool = True,
    censor_marks: bool = True,
    median_lines: bool = False,
    times: Sequence[float] | None = None,
    title: str = "Kaplan-Meier estimate",
    subtitle: str = "",
    time_label: str = TIME_LABEL,
    presentation: bool = False,
    max_points: int = DEFAULT_MAX_POINTS,
    small_cell_threshold: int | None = None,
    hidden_sizes: Collection[str] = (),
) -> go.Figure:
    """Build an interactive Kaplan-Meier figure with an aligned number-at-risk table.

    Parameters
    ----------
    results : Mapping[str, KaplanMeierResult]
        One fitted curve per group label, in display order. Each result exposes ``table``
        (columns ``time, n_risk, n_event, n_censor, survival, ci_lower, ci_upper``) and
        ``at_risk(times)``; ``median`` is used when ``median_lines`` is on.
    show_ci, risk_table, censor_marks, median_lines : bool
        Draw the confidence band (the group colour at low opacity), the number-at-risk rows under
        the time axis, a tick at each censoring time, and dotted lines from S = 0.5 down to each
        reached median. ``show_ci=None`` (default): bands for up to 2 groups (:func:`ci_band_default`).
    times : sequence of float, optional
        Time-axis ticks, also the columns of the risk table. Default: every 6 months up to
        3 years of follow-up, every 12 up to 10 years, then every 24.
    title, subtitle : str
        Plain text (escaped here, so upload-derived words cannot inject markup); a line break ("\\n") in the
        subtitle is kept.
    presentation : bool
        Larger fonts, thicker lines and markers, the high-contrast palette
        (:data:`il2lib.figures.palette.HIGH_CONTRAST`).
    max_points : int
        At most this many step points per curve (and censor ticks). A curve and its band are drawn
        through their change points only (:func:`change_points`: the same step function as through
        every row); beyond ``max_points`` change points, thinning keeps the last point of each of
        ``max_points`` equal time bins, so a step moves by less than one bin width (under a pixel at
        2,000 bins).
    small_cell_threshold : int, optional
        Small-cell protection at k: each curve and its band end at the last time with at least k
        patients at risk (before the first step with fewer), censor ticks are left out, and numbers
        at risk from 1 to k - 1 read "<k" in the risk table and hover text, as do "n=" counts in
        group labels and the subtitle. Medians and their lines stay (estimates, not counts).
    hidden_sizes : collection of str
        Groups whose size (the risk table at time 0) reads "masked": complements that small-cell
        protection hides so that the shown sizes and total do not give a masked size back.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: curves (``x``/``y``); row 2, when ``risk_table``: the numbers at risk as text
        on the same x axis at the same ticks.

    Notes
    -----
    The curve starts at (0, 1) and steps down right-continuously (``line_shape="hv"``), as
    R's ``plot.survfit`` draws it. Hover shows time, S(t), its CI and the number at risk just
    before t (the survfit ``n.risk`` convention, from ``table.n_risk``).
    """
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    style = km_style(presentation)
    if show_ci is None:
        show_ci = ci_band_default(len(results))
    k = small_cell_threshold
    if k is not None:
        censor_marks = False
        subtitle = mask_text(subtitle, k)
    t_max = _max_time(results)
    ticks = np.asarray(times if times is not None else default_ticks(t_max), dtype=float)
    with_table = bool(risk_table and results)
    traces: list[dict] = []
    shapes: list[dict] = []
    for i, (name, result) in enumerate(results.items()):
        color, dash = style.colors[i % len(style.colors)], palette.dash(i)
        table = thin_table(change_points(rows_with_enough_at_risk(result.table, k)), t_max, max_points)
        label = _escape(group_label(name, k))
        if show_ci:
            traces += _band(table, label, color, style)
        traces.append(_curve(table, label, color, dash, style, k, result.table, hidden_size=name in hidden_sizes))
        if censor_marks:
            traces += _censor_ticks(result.table, t_max, min(max_points, CENSOR_TICK_BINS), label, color, style)
        if median_lines:
            shapes += _median_lines(result, color)
    layout = _layout(ticks, t_max, len(results) if with_table else 0, title, subtitle, time_label, style)
    if with_table:
        traces += _risk_rows(results, ticks, style, layout, k, hidden_sizes)
    layout["shapes"] = shapes
    return palette.figure(traces, layout)


#: Plotly's bottom margin plus the room under the domain (px), outside the panels and the top margin.
_BOTTOM_PX = 60


def _heights(style: KMStyle, n_table_rows: int, top: int = 0) -> tuple[int, int, int]:
    """Pixel heights of (curve plot, gap holding the time axis labels and title, risk table). With a fixed
    figure height the plot gets what the top margin ``top``, the gap and the table leave."""
    row = int(style.table_font_size * style.row_factor)
    gap, table = (int(style.font_size * style.gap_factor), row * n_table_rows + row) if n_table_rows else (0, 0)
    if style.figure_height is None:
        return style.height, gap, table
    return max(MIN_PLOT_PX, style.figure_height - top - _BOTTOM_PX - gap - table), gap, table


def default_ticks(t_max: float) -> np.ndarray:
    """Time ticks every 6 months (up to 36 of follow-up), 12 (up to 120) or 24, from 0 to ``t_max``."""
    step = 6.0 if t_max <= 36 else 12.0 if t_max <= 120 else 24.0
    return np.arange(0.0, max(t_max, step) + 1e-9, step)


def change_points(table: pd.DataFrame) -> pd.DataFrame:
    """The rows where survival or its CI changes, with the first and the last row: drawn as a right-continuous
    step function (``line_shape="hv"``) from (0, 1) through them, the curve and its band equal those through every
    row at every time (a censoring-only row repeats the row before it; the last row carries the curve on to the
    end of follow-up)."""
    if len(table) <= 2:
        return table
    columns = [c for c in ("survival", "ci_lower", "ci_upper") if c in table]
    values = table[columns].to_numpy(float)
    same = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
    keep = np.r_[True, ~same.all(axis=1)]
    keep[-1] = True
    return table if keep.all() else table.loc[keep]


def thin_table(table: pd.DataFrame, t_max: float, max_points: int) -> pd.DataFrame:
    """Keep the last row of each of ``max_points`` equal time bins (all rows when few enough)."""
    if len(table) <= max_points:
        return table
    bins = np.minimum((table["time"].to_numpy(float) / max(t_max, 1e-12) * max_points).astype(np.int64),
                      max_points - 1)
    last_of_bin = np.r_[bins[1:] != bins[:-1], True]
    return table.loc[last_of_bin]


def rows_with_enough_at_risk(table: pd.DataFrame, threshold: int | None) -> pd.DataFrame:
    """The rows before the first one with fewer than ``threshold`` at risk (all rows without a threshold)."""
    if threshold is None:
        return table
    small = table["n_risk"].to_numpy() < threshold
    return table.iloc[:int(np.argmax(small))] if small.any() else table


def group_label(name: Any, threshold: int | None) -> str:
    """A group label with its "n=3" masked; a bare number ("1", a line of IL-2) is a label, not a count."""
    text = str(name)
    if threshold is None or text.strip().isdigit():
        return text
    return mask_text(text, threshold)


def _count_text(n: float, threshold: int) -> str:
    return str(mask_count(int(n), threshold))


def _max_time(results: Mapping[str, Any]) -> float:
    maxima = [float(r.table["time"].max()) for r in results.values() if len(r.table)]
    return max(maxima) if maxima else 1.0


def _with_alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _escape(text: str) -> str:
    return html.escape(str(text), quote=False)


def _step_xy(table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The curve starts at (0, 1): prepend that point to ``column`` against ``time``."""
    start = 1.0 if column in ("survival", "ci_lower", "ci_upper") else np.nan
    x = np.r_[0.0, table["time"].to_numpy(float)]
    y = np.r_[start, table[column].to_numpy(float)]
    return x, y


def _curve(table: pd.DataFrame, label: str, color: str, dash: str, style: KMStyle, threshold: int | None = None,
           full: pd.DataFrame | None = None, hidden_size: bool = False) -> dict:
    x, y = _step_xy(table, "survival")
    if threshold is not None:
        return _masked_curve(table, x, y, label, color, dash, style, threshold, full, hidden_size)
    n0 = int(table["n_risk"].iloc[0]) if len(table) else 0
    custom = np.column_stack([
        np.r_[1.0, table["ci_lower"].to_numpy(float)],
        np.r_[1.0, table["ci_upper"].to_numpy(float)],
        np.r_[n0, table["n_risk"].to_numpy(float)],
    ])
    return dict(
        type="scatter", x=x, y=y, customdata=custom, name=label, legendgroup=label, mode="lines",
        line=dict(color=color, width=style.line_width, shape="hv", dash=dash),
        hovertemplate=("<b>%{fullData.name}</b><br>t = %{x:.1f} months<br>S(t) = %{y:.3f} "
                       "(CI %{customdata[0]:.3f} to %{customdata[1]:.3f})<br>at risk: %{customdata[2]:.0f}"
                       "<extra></extra>"),
    )


def _masked_curve(table: pd.DataFrame, x: np.ndarray, y: np.ndarray, label: str, color: str, dash: str,
                  style: KMStyle, threshold: int, full: pd.DataFrame, hidden_size: bool = False) -> dict:
    """The curve with its hover fields as text: the CI as "0.512 to 0.803", the number at risk masked ("masked"
    at every step when the group's size is hidden: the first step would give it back)."""
    n0 = int(full["n_risk"].iloc[0]) if len(full) else 0
    lower = np.r_[1.0, table["ci_lower"].to_numpy(float)]
    upper = np.r_[1.0, table["ci_upper"].to_numpy(float)]
    at_risk = np.r_[n0, table["n_risk"].to_numpy(float)]
    ci = [f"{lo:.3f} to {hi:.3f}" if np.isfinite(lo) and np.isfinite(hi) else "not estimable"
          for lo, hi in zip(lower, upper)]
    custom = np.array([[c, "masked" if hidden_size else _count_text(n, threshold)] for c, n in zip(ci, at_risk)],
                      dtype=object)
    return dict(
        type="scatter", x=x, y=y, customdata=custom, name=label, legendgroup=label, mode="lines",
        line=dict(color=color, width=style.line_width, shape="hv", dash=dash),
        hovertemplate=("<b>%{fullData.name}</b><br>t = %{x:.1f} months<br>S(t) = %{y:.3f} "
                       "(CI %{customdata[0]})<br>at risk: %{customdata[1]}<extra></extra>"),
    )


def _band(table: pd.DataFrame, label: str, color: str, style: KMStyle) -> list[dict]:
    x, lower = _step_xy(table, "ci_lower")
    _, upper = _step_xy(table, "ci_upper")
    # A NaN limit (no CI after the last event) would break the fill: carry the last finite value.
    lower, upper = pd.Series(lower).ffill().to_numpy(), pd.Series(upper).ffill().to_numpy()
    common = dict(type="scatter", x=x, mode="lines", line=dict(width=0, color=color, shape="hv"),
                  legendgroup=label, showlegend=False, hoverinfo="skip")
    return [dict(y=lower, name=f"{label} lower CI", **common),
            dict(y=upper, name=f"{label} upper CI", fill="tonexty",
                 fillcolor=_with_alpha(color, style.band_alpha), **common)]


def _censor_ticks(table: pd.DataFrame, t_max: float, max_points: int, label: str, color: str,
                  style: KMStyle) -> list[dict]:
    censored = table.loc[table["n_censor"].to_numpy() > 0]
    censored = thin_table(censored, t_max, max_points)
    if censored.empty:
        return []
    return [dict(
        type="scatter", x=censored["time"].to_numpy(float), y=censored["survival"].to_numpy(float), mode="markers",
        name=f"{label} censored", legendgroup=label, showlegend=False, hoverinfo="skip",
        marker=dict(symbol="line-ns-open", size=style.marker_size, color=color, line=dict(width=style.tick_width)),
    )]


def _median_lines(result: Any, color: str) -> list[dict]:
    median = float(result.median) if result.median is not None else np.nan
    if not np.isfinite(median):
        return []
    dotted = dict(color=color, width=1.5, dash="dot")
    return [dict(type="line", xref="x", yref="y", x0=0, x1=median, y0=0.5, y1=0.5, line=dotted),
            dict(type="line", xref="x", yref="y", x0=median, x1=median, y0=0, y1=0.5, line=dotted)]


def _risk_rows(results: Mapping[str, Any], ticks: np.ndarray, style: KMStyle, layout: dict,
               threshold: int | None = None, hidden_sizes: Collection[str] = ()) -> list[dict]:
    """One row of dark numbers per group on the second y axis (the first group at the top), at the x ticks; the
    axis's tick labels name the groups, each after a short line in its colour. The group size (at risk at time
    0) of a group in ``hidden_sizes`` reads "masked" (complementary suppression)."""
    labels = [_escape(group_label(name, threshold)) for name in results]
    rows = []
    widest = 1
    for i, (name, label, result) in enumerate(zip(results, labels, results.values())):
        counts = np.asarray(result.at_risk(ticks), dtype=float)
        text = [f"{c:.0f}" if threshold is None else _count_text(c, threshold) for c in counts]
        if name in hidden_sizes:
            text = ["masked" if t <= 0 else c for t, c in zip(ticks, text)]
        widest = max(widest, len(text[0]) if text else 1)
        rows.append(dict(
            type="scatter", x=ticks, y=[len(labels) - 1 - i] * len(ticks), xaxis="x2", yaxis="y2", mode="text",
            text=text, name=f"{label} at risk", showlegend=False, hoverinfo="skip",
            textfont=dict(color=palette.TEXT, size=style.table_font_size),
            cliponaxis=False,
        ))
    keys = [f"<span style='color:{style.colors[i % len(style.colors)]}'>{ROW_KEY}</span> {label}"
            for i, label in enumerate(labels)]
    # The group labels keep clear of the centred counts at t = 0 (half the widest count, in pixels).
    standoff = int(0.3 * style.table_font_size * widest) + 4
    layout["yaxis2"].update(tickmode="array", tickvals=list(range(len(labels)))[::-1], ticktext=keys,
                            range=[-0.5, len(labels) - 0.1], ticklabelstandoff=standoff)
    # A left margin that already holds the labels: plotly's automargin would otherwise draw the figure twice (where
    # a wider font is drawn, e.g. Verdana, automargin still widens it).
    widest_label = max(label_width_em(html.unescape(label)) for label in labels)
    needed = style.table_font_size * (KEY_EM + widest_label) * 1.03 + standoff + LABEL_PAD_PX
    layout["margin"]["l"] = max(layout["margin"]["l"], int(np.ceil(needed)))
    return rows


def label_width_em(text: str) -> float:
    """A label's width in font sizes (:data:`_CHAR_EM`): at most what Arial and the wider default fonts draw."""
    return sum(_CHAR_EM.get(c, 0.6) for c in text)


def _layout(ticks: np.ndarray, t_max: float, n_table_rows: int, title: str, subtitle: str, time_label: str,
            style: KMStyle) -> dict:
    """Curve panel on top; when ``n_table_rows``, the risk-table panel below on a matching x axis."""
    def wrap(text: str) -> list[str]:
        return (palette.wrap_subtitle(text, PRESENTATION_SUBTITLE_CHARS) if style.figure_height
                else palette.subtitle_lines(text, style))

    sub_lines = [line for part in subtitle.split("\n") for line in wrap(part)]  # a line break is kept
    top = int(style.font_size * (3.2 + 1.6 * len(sub_lines) + 2.4))  # title, subtitle lines, legend row
    plot_h, gap_h, table_h = _heights(style, n_table_rows, top)
    total = plot_h + gap_h + table_h
    span = max(t_max, float(ticks.max()) if ticks.size else t_max)
    x_common = dict(range=[-0.02 * span, 1.03 * span], tickmode="array", tickvals=ticks)
    layout: dict = dict(
        template=style.template, height=total + top + _BOTTOM_PX, font=dict(size=style.font_size), hovermode="closest",
        title=dict(text=_escape(title), subtitle=dict(text="<br>".join(_escape(t) for t in sub_lines),
                                                      font=dict(size=max(palette.MIN_TEXT_PX, style.font_size))),
                   x=0.01, xanchor="left", y=0.995, yanchor="top", yref="container", pad=dict(t=8)),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0),
        margin=dict(l=80, r=30, t=top, b=40),
        xaxis=dict(title=dict(text=time_label), showticklabels=True, anchor="y", **x_common),
        yaxis=dict(title=dict(text="Survival probability"), range=[-0.02, 1.04], tickformat=".0%",
                   domain=[(table_h + gap_h) / total, 1.0], anchor="x"),
    )
    if n_table_rows:
        layout["xaxis2"] = dict(matches="x", anchor="y2", showticklabels=False, showgrid=False, zeroline=False,
                                showline=False, ticks="", **x_common)
        layout["yaxis2"] = dict(domain=[0.0, table_h / total], anchor="x2", showgrid=False, zeroline=False,
                                showline=False, ticks="", tickfont=dict(size=style.table_font_size))
        layout["annotations"] = [dict(text="Number at risk", x=0, xref="paper", y=1.0, yref="y2 domain",
                                      yanchor="bottom", xanchor="left", showarrow=False,
                                      font=dict(size=style.table_font_size))]
    return layout
