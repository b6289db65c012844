"""Forest plot of a multivariable Cox model: hazard ratios with CIs on a log axis.

Pure builder: takes the HR table of :class:`il2lib.survival.multivariable.MultivariableCoxResult`
(term, hr, hr_lower, hr_upper, p) and returns a ``go.Figure``; it computes no statistic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib.figures.palette import apply_layout, color, escape, figure_style
from il2lib.stats import format_p


def cox_forest_figure(table: pd.DataFrame, *, title: str = "Multivariable Cox model", subtitle: str = "",
                      presentation: bool = False, x_label: str = "Hazard ratio (95% CI), log scale") -> go.Figure:
    """One row per model term: HR marker, CI whisker, reference line at HR = 1.

    Rows whose ``reportable`` is False (a group with < 5 events) are drawn hollow and say so in
    the hover text. The y labels carry "HR (lower–upper), p".
    """
    style = figure_style(presentation)
    if table.empty:
        raise ValueError("The HR table is empty: nothing to draw.")
    marker = color(0, style)
    hr, lo, hi = (table[c].to_numpy(dtype=float) for c in ("hr", "hr_lower", "hr_upper"))
    reportable = table["reportable"].to_numpy(dtype=bool) if "reportable" in table else np.ones(len(table), bool)
    labels = [escape(f"{t}: {h:.2f} ({a:.2f}–{b:.2f}), p {format_p(p)}")
              for t, h, a, b, p in zip(table["term"], hr, lo, hi, table["p"])]
    note = np.where(reportable, "", " (a group has < 5 events)")
    fig = go.Figure(go.Scatter(
        x=hr, y=labels, mode="markers", name="Hazard ratio",
        marker={"color": marker, "size": style.marker_size, "symbol": np.where(reportable, "square", "square-open")},
        error_x={"type": "data", "symmetric": False, "array": hi - hr, "arrayminus": hr - lo,
                 "thickness": style.line_width, "width": style.marker_size / 2, "color": marker},
        customdata=np.column_stack([lo, hi, note]),
        hovertemplate="%{y}<br>HR %{x:.2f} (%{customdata[0]:.2f}–%{customdata[1]:.2f})%{customdata[2]}<extra></extra>"))
    fig.add_vline(x=1.0, line={"dash": "dash", "color": style.reference, "width": style.line_width / 2})
    finite = np.concatenate([lo[np.isfinite(lo) & (lo > 0)], hi[np.isfinite(hi)], [1.0]])
    span = np.log10([finite.min() / 1.3, finite.max() * 1.3])
    fig.update_xaxes(type="log", title_text=x_label, range=list(span))
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_layout(showlegend=False)
    return apply_layout(fig, title, subtitle, style, height=max(260, 140 + style.bar_height_px * 2 * len(labels)))
