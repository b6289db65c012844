""""Our cohort vs published" comparison figure: one row per group, our estimate with its CI
(filled marker) beside the published number (hollow diamond; whisker only when the CI is
computed from published counts). Pure builder; the rows come from :mod:`il2lib.analyses.published`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib.figures.palette import BLUE, VERMILLION, apply_layout, escape, figure_style


def published_comparison_figure(rows: pd.DataFrame, *, x_label: str, title: str = "Our cohort vs published",
                                subtitle: str = "", presentation: bool = False, percent: bool = False,
                                hover_counts: bool = True) -> go.Figure:
    """Dot-and-whisker comparison.

    Parameters
    ----------
    rows : DataFrame
        Columns ``group``, ``source``, ``estimate``, ``lower``, ``upper`` (NaN when none),
        ``published`` (bool), optional ``label`` (hover text, e.g. "9/40").
    percent : bool
        Multiply estimates by 100 (rates).
    hover_counts : bool
        False leaves the ``label`` (counts) out of the hover text (small-cell protection).
    """
    style = figure_style(presentation)
    scale = 100.0 if percent else 1.0
    fig = go.Figure()
    labels = [escape(f"{g} · {src}") for g, src in zip(rows["group"], rows["source"])]
    rows = rows.assign(_y=labels)
    for published, name_color, symbol in ((False, BLUE, "circle"), (True, VERMILLION, "diamond-open")):
        sub = rows[rows["published"] == published]
        if sub.empty:
            continue
        est, lo, hi = (sub[c].to_numpy(dtype=float) * scale for c in ("estimate", "lower", "upper"))
        counts = sub["label"].astype(str).to_numpy() if ("label" in sub and hover_counts) else np.full(len(sub), "")
        sources = sub["source"].astype(str).to_numpy()
        fig.add_trace(go.Scatter(
            x=est, y=list(sub["_y"]), mode="markers",
            name=escape(sources[0] if len(set(sources)) == 1 else ("Published" if published else "Our cohort")),
            marker={"color": name_color, "size": style.marker_size + 2, "symbol": symbol,
                    "line": {"width": 2, "color": name_color}},
            error_x={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - est),
                     "arrayminus": np.nan_to_num(est - lo), "thickness": style.line_width,
                     "width": style.marker_size / 2, "color": name_color},
            customdata=np.column_stack([[escape(s) for s in sources], [escape(x) for x in counts]]),
            hovertemplate="%{y}: %{x:.1f} %{customdata[1]}<extra></extra>"))
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    fig.update_xaxes(title_text=x_label, rangemode="tozero")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    return apply_layout(fig, title, subtitle, style, height=max(280, 160 + style.bar_height_px * 2 * len(labels)))
