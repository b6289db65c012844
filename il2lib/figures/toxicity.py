"""Adverse-event figure: stacked bars of patients by worst CTCAE grade per term."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from il2lib.analyses.toxicity import GRADES, TermOrder
from il2lib.figures.palette import GRADE_COLORS, OUTLINE, apply_layout, escape, figure_style, title_height
from il2lib.privacy.disclosure import NO_SUPPRESSION, SUPPRESSED, Suppression


def ae_grade_figure(tox, *, top_n: int | None = 15, percent: bool = True,
                    title: str = "Adverse events by worst grade", subtitle: str = "", presentation: bool = False,
                    shown: Suppression = NO_SUPPRESSION, grade3_only: bool = False,
                    sort_by: TermOrder = "any") -> go.Figure:
    """Horizontal stacked bars per AE term: patients by worst CTCAE v5 grade (one trace per grade and group panel).

    ``tox`` is a :class:`il2lib.analyses.toxicity.ToxicitySummary`; terms are the ``top_n`` (None: all) most
    frequent over all groups, at any grade or at grade >= 3 (``sort_by``, see
    :meth:`~il2lib.analyses.toxicity.ToxicitySummary.terms`), and the subtitle says "top N of M terms" when some
    are left out; one panel per group with a shared term axis. ``grade3_only``: bars of grades 3-5 only, for the
    terms of at least one patient at grade >= 3 (a ValueError when there is none). Under small-cell protection
    (``shown``, see :meth:`~il2lib.analyses.toxicity.ToxicitySummary.count_view`) a bar whose count or whose
    group's N is hidden is a hatched band of one fixed length (half the shortest bar shown), not to
    scale, labelled "<k" or "masked" (or its count when only N is hidden); its hover gives no number.
    """
    style = figure_style(presentation)
    if top_n is not None and top_n < 1:
        raise ValueError(f"top_n is a number of terms (at least 1) or None for all, not {top_n!r}.")
    every = tox.terms(sort_by, grade3_only)
    if grade3_only and not every:
        raise ValueError("no patient had a grade >= 3 adverse event.")
    terms = every[:top_n]
    grades = [g for g in GRADES if g >= 3] if grade3_only else list(GRADES)
    sizes = tox.term_sizes  # patients with term detail (AE rows, max grade 0 or a complete AE file)
    groups = [g for g in tox.groups if sizes[g] > 0] or list(tox.groups)  # no empty panel for a group
    without = [g for g in tox.groups if g not in groups]
    fig = make_subplots(rows=1, cols=max(1, len(groups)), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[escape(f"{g} (N={shown.text(tox.size_key(g), sizes[g])})")
                                        for g in groups])
    bars = {(g, grade): _bars(tox, g, grade, terms, percent, shown) for g in groups for grade in grades}
    band = _band_length(bars.values(), percent, shown.threshold)
    for j, g in enumerate(groups, start=1):
        for grade in grades:
            lengths, counts, texts, visible = bars[g, grade]
            trace = dict(
                y=[escape(t) for t in terms], x=lengths, orientation="h",
                name=f"Grade {grade}", legendgroup=f"Grade {grade}", showlegend=(j == 1),
                marker={"color": GRADE_COLORS[grade], "line": {"color": OUTLINE, "width": 0.6}},
                customdata=counts, hovertemplate="%{y}: %{customdata} patient(s)<extra>" + f"Grade {grade}</extra>")
            if not visible.all():  # hidden count or N: a hatched band of fixed length, no number on hover
                trace.update(
                    x=np.where(visible, lengths, band), text=["" if ok else t for t, ok in zip(texts, visible)],
                    textposition="inside", textangle=0, customdata=[_hover(t, ok) for t, ok in zip(texts, visible)],
                    hovertemplate="%{y}: %{customdata}<extra>" + f"Grade {grade}</extra>")
                trace["marker"] = {**trace["marker"], "pattern": {"shape": ["" if ok else "/" for ok in visible]}}
            fig.add_trace(go.Bar(**trace), row=1, col=j)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Patients, %" if percent else "Patients")
    fig.update_yaxes(autorange="reversed")
    for ann in fig.layout.annotations:
        ann.font = {"size": style.font_size}
    subtitle = subtitle or "Each patient counted once per term, at the worst grade"
    if grade3_only:
        subtitle += " · grades 3-5 only"
    if len(terms) < len(every):  # most frequent at any grade unless said
        subtitle += (f" · top {len(terms)} of {len(every)} terms" + (" with a grade >= 3 AE" if grade3_only else "")
                     + (", by grade >= 3" if sort_by == "grade3" else ""))
    if without:
        subtitle += f" · no AE term detail for {', '.join(without)}"
    if not all(bar[3].all() for bar in bars.values()):
        subtitle += " · hatched bars: counts hidden by small-cell protection, not to scale"
    extra_top = int(style.font_size * 1.6)  # facet titles clear of the subtitle
    # one bar height per term below the title block and above the x axis, so every term keeps its label
    height = title_height(subtitle, style) + extra_top + 4 * style.font_size + style.bar_height_px * len(terms)
    return apply_layout(fig, title, subtitle, style, legend_title="CTCAE v5", height=max(320, height),
                        extra_top=extra_top)


def _bars(tox, group: str, grade: int, terms: list, percent: bool, shown: Suppression) -> tuple:
    """Bar lengths, counts, counts as shown and whether each bar may be drawn to scale, of one grade in a panel."""
    sub = tox.by_term[tox.by_term["group"] == group].set_index("term").reindex(terms)
    size = int(tox.term_sizes[group])
    n = size or 1  # N = 0: no bar (every count is 0)
    counts = pd.to_numeric(sub[f"n_grade{grade}"]).fillna(0).astype(int)
    keys = [tox.term_key(group, t, f"grade{grade}") for t in terms]
    texts = [shown.text(k, c) for k, c in zip(keys, counts)]
    visible = np.array([c == 0 or shown.shows(k, tox.size_key(group)) for k, c in zip(keys, counts)], dtype=bool)
    return (100 * counts / n if percent else counts), counts, texts, visible


def _band_length(bars, percent: bool, threshold: int) -> float:
    """One length for every hidden bar: half the shortest bar drawn to scale (as il2lib.privacy.masking does)."""
    drawn = [np.asarray(lengths, dtype=float)[visible] for lengths, _, _, visible in bars]
    kept = np.concatenate(drawn) if drawn else np.array([])
    kept = kept[kept > 0]
    if kept.size:
        return float(kept.min()) / 2
    return 10.0 if percent else threshold / 2


def _hover(text: str, to_scale: bool) -> str:
    """A bar's hover count: "7 patient(s)", "<5 patient(s)", "count masked", and whether the bar is to scale."""
    count = "count masked" if text == SUPPRESSED else f"{text} patient(s)"
    return count if to_scale else f"{count} (bar not to scale: small-cell protection)"
