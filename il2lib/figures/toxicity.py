"""Adverse-event figure: stacked bars of patients by worst CTCAE grade per term."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from il2lib import schema
from il2lib.figures.palette import GRADE_COLORS, OUTLINE, apply_layout, escape, figure_style, title_height
from il2lib.toxicity import GRADES


def ae_grade_figure(tox, *, top_n: int = 15, percent: bool = True, title: str = "Adverse events by worst grade",
                    subtitle: str = "", presentation: bool = False) -> go.Figure:
    """Horizontal stacked bars per AE term: patients by worst CTCAE v5 grade (one trace per grade and group panel).

    ``tox`` is a :class:`il2lib.toxicity.ToxicitySummary`; terms are the ``top_n`` most frequent
    over all groups; one panel per group with a shared term axis.
    """
    style = figure_style(presentation)
    terms = (tox.by_term.groupby("term")["n_any"].sum().sort_values(ascending=False, kind="stable")
             .head(top_n).index.tolist())
    sizes = tox.term_sizes  # patients with term detail (AE rows, max grade 0 or a complete AE file)
    groups = [g for g in tox.groups if sizes[g] > 0] or list(tox.groups)  # no empty panel for a group
    without = [_panel(tox.by, g) for g in tox.groups if g not in groups]
    fig = make_subplots(rows=1, cols=max(1, len(groups)), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[escape(f"{_panel(tox.by, g)} (N={int(sizes[g])})") for g in groups])
    for j, g in enumerate(groups, start=1):
        sub = tox.by_term[tox.by_term["group"] == g].set_index("term").reindex(terms)
        n = int(sizes[g]) or 1  # N = 0: no bar (every count is 0)
        for grade in GRADES:
            counts = pd.to_numeric(sub[f"n_grade{grade}"]).fillna(0).astype(int)
            fig.add_trace(go.Bar(
                y=[escape(t) for t in terms], x=100 * counts / n if percent else counts, orientation="h",
                name=f"Grade {grade}", legendgroup=f"Grade {grade}", showlegend=(j == 1),
                marker={"color": GRADE_COLORS[grade], "line": {"color": OUTLINE, "width": 0.6}},
                customdata=counts, hovertemplate="%{y}: %{customdata} patient(s)<extra>" + f"Grade {grade}</extra>"),
                row=1, col=j)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Patients, %" if percent else "Patients")
    fig.update_yaxes(autorange="reversed")
    for ann in fig.layout.annotations:
        ann.font = {"size": style.font_size}
    subtitle = subtitle or "Each patient counted once per term, at the worst grade"
    if without:
        subtitle += f" · no AE term detail for {', '.join(without)}"
    extra_top = int(style.font_size * 1.6)  # facet titles clear of the subtitle
    # one bar height per term below the title block and above the x axis, so every term keeps its label
    height = title_height(subtitle, style) + extra_top + 4 * style.font_size + style.bar_height_px * len(terms)
    return apply_layout(fig, title, subtitle, style, legend_title="CTCAE v5", height=max(320, height),
                        extra_top=extra_top)


def _panel(by: str | None, group: str) -> str:
    return group if by is None or by == schema.DISEASE else f"{schema.label(by)}: {group}"
