"""Cumulative incidence curves (competing risks): step curves per group with optional CI bands.

Pure builder over :class:`il2lib.survival.competing.CompetingRisksResult`; no statistic computed here.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from il2lib.figures.km import group_label, rows_with_enough_at_risk
from il2lib.figures.palette import apply_layout, color, escape, figure_style
from il2lib.privacy.masking import mask_count, mask_text
from il2lib.stats import p_phrase


def _steps(table, column: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.concatenate([[0.0], table["time"].to_numpy(dtype=float)])
    y = np.concatenate([[0.0], table[column].to_numpy(dtype=float)])
    return np.repeat(t, 2)[1:], np.repeat(y, 2)[:-1]


def cif_figure(result, *, show_competing: bool = True, show_ci: bool = True, title: str = "",
               subtitle: str = "", presentation: bool = False, time_label: str = "Months since IL-2 start",
               hover_counts: bool = True, small_cell_threshold: int | None = None) -> go.Figure:
    """Cumulative incidence of the event (solid) and of the competing event (dashed) per group.

    ``hover_counts=False`` leaves the number at risk out of the hover text. ``small_cell_threshold=k``
    (small-cell protection): each curve and band end at the last time with at least k patients at risk
    (a later step would give the number of events back), and numbers at risk from 1 to k - 1 read "<k"
    in the hover text, as do "n=" counts in group labels and the subtitle.
    """
    style = figure_style(presentation)
    k = small_cell_threshold
    fig = go.Figure()
    sets = [(result.event_label, result.cif, "solid")]
    if show_competing:
        sets.append((result.competing_label, result.competing_cif, "dash"))
    for event_label, curves, dash in sets:
        for i, (group, res) in enumerate(curves.items()):
            group_text = group_label(group, k)
            name = escape(f"{event_label}: {group_text}" if len(curves) > 1 or group != "All patients"
                          else event_label)
            table = rows_with_enough_at_risk(res.table, k)
            x, y = _steps(table, "cif")
            if show_ci and dash == "solid":
                band = table.assign(ci_lower=table["ci_lower"].fillna(table["cif"]),
                                    ci_upper=table["ci_upper"].fillna(table["cif"]))
                _, lo = _steps(band, "ci_lower")  # no CI where F = 1: the band closes on the curve
                _, hi = _steps(band, "ci_upper")
                fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=100 * np.concatenate([hi, lo[::-1]]),
                                         fill="toself", line={"width": 0}, fillcolor=_alpha(color(i, style)),
                                         hoverinfo="skip", showlegend=False, name=f"{name} CI"))
            hover = "%{x:.1f} mo: %{y:.1f}%"
            custom = None
            if hover_counts:
                _, n_risk = _steps(table.assign(n_risk=table["n_risk"].astype(float)), "n_risk")
                if k is None:
                    custom = n_risk
                    hover += "<br>at risk: %{customdata:.0f}"
                else:
                    custom = np.array([str(mask_count(int(n), k)) for n in n_risk], dtype=object)
                    hover += "<br>at risk: %{customdata}"
            fig.add_trace(go.Scatter(x=x, y=100 * y, mode="lines", name=name, customdata=custom,
                                     line={"color": color(i, style), "width": style.line_width, "dash": dash,
                                           "shape": "linear"},
                                     hovertemplate=hover + f"<extra>{name}</extra>"))
    fig.update_xaxes(title_text=time_label, rangemode="tozero")
    fig.update_yaxes(title_text="Cumulative incidence, %", range=[0, 100])
    if not title:
        title = f"Cumulative incidence of {result.event_label.lower()}"
    if result.gray is not None and not subtitle:
        subtitle = f"Gray's test {p_phrase(result.gray.pvalue)} (chi-square {result.gray.statistic:.2f}, {result.gray.df} df)"
    elif k is not None:
        subtitle = mask_text(subtitle, k)
    return apply_layout(fig, title, subtitle, style)


def _alpha(hex_color: str, alpha: float = 0.15) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
