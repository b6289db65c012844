"""Biomarker figure: box plus strip (every patient) per benefit group and disease, p annotated with its test.

Patient level (:data:`il2lib.figures.PATIENT_LEVEL_FIGURES`, kind ``"biomarker"``); its masked form
(``small_cell_threshold``) draws boxes only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from il2lib import schema
from il2lib.analyses.biomarkers import with_mean_doses
from il2lib.cohort import with_clinical_benefit
from il2lib.figures.palette import BENEFIT_COLORS, apply_layout, escape, figure_style
from il2lib.stats import p_phrase

CB, NO_CB = "Clinical benefit", "No clinical benefit"
SHORT = {CB: "CB", NO_CB: "No CB"}


def biomarker_figure(df: pd.DataFrame, variable: str, result, *, title: str = "", subtitle: str = "",
                     presentation: bool = False, small_cell_threshold: int | None = None,
                     shown=None) -> go.Figure:
    """Box/strip plot of one continuous biomarker, CB vs no-CB, one panel per disease.

    Parameters
    ----------
    df : DataFrame
        The patients the result was computed on (:func:`il2lib.analyses.biomarkers.biomarker_comparison`
        recomputes clinical benefit; ``cb_sd_months`` and ``window_days`` are read from ``result``).
    variable : str
        A continuous biomarker column present in ``result.rows``.
    result : BiomarkerResult
        Supplies the p-value and the test name shown above each panel.
    small_cell_threshold : int, optional
        The masked form (small-cell protection): no point and no patient id is drawn, only boxes, and a
        group of fewer than this many patients gets no box (its quartiles would be its patients' values);
        its size reads ``"n<k"``.
    shown : Suppression, optional
        How the result's counts are shown (:meth:`BiomarkerResult.count_view`): a group size hidden as a
        complement reads ``"n=masked"``.

    Returns
    -------
    go.Figure with two box traces (CB, no-CB) per disease panel; every point is drawn unless masked.
    """
    rows = result.rows[result.rows["variable"] == variable]
    if rows.empty:
        raise ValueError(f"{variable!r} is not among the compared biomarkers.")
    data = with_mean_doses(with_clinical_benefit(df, result.cb_sd_months, result.window_days))
    diseases = list(rows["disease"])
    style = figure_style(presentation)
    titles = [f"<b>{escape(schema.DISEASE_LABELS.get(d, d))}</b>: {escape(_p(r))}"
              for d, r in zip(diseases, rows.itertuples())]
    tests = ", ".join(dict.fromkeys(t for t in rows["test_label"].dropna()))
    fig = make_subplots(rows=1, cols=len(diseases), subplot_titles=titles, shared_yaxes=True)
    for j, disease in enumerate(diseases, start=1):
        sub = data[(data[schema.DISEASE] == disease).to_numpy() & data[schema.CLINICAL_BENEFIT].notna().to_numpy()]
        cb = sub[schema.CLINICAL_BENEFIT].astype(bool).to_numpy()
        values = pd.to_numeric(sub[variable], errors="coerce").astype("float64").to_numpy()
        ids = sub[schema.PATIENT_ID].astype(str).to_numpy() if schema.PATIENT_ID in sub else sub.index.astype(str)
        for name, mask in ((CB, cb), (NO_CB, ~cb)):
            keep = mask & ~np.isnan(values)
            n = int(keep.sum())
            side = "cb" if name == CB else "no_cb"
            label = f"{SHORT[name]} (n={n if shown is None else shown.text(('known', disease, variable, side), n)})"
            if small_cell_threshold is not None:
                y, x = values[keep], [label] * n
                if 0 < n < small_cell_threshold:  # no box; the group keeps its place on the axis
                    y, x = [None], [f"{SHORT[name]} (n<{small_cell_threshold})"]
                fig.add_trace(go.Box(  # boxes only: no point, no id, no outlier marker
                    y=y, x=x, name=name, legendgroup=name, showlegend=(j == 1), boxpoints=False,
                    marker={"color": BENEFIT_COLORS[name]}, line={"width": style.line_width}, hoverinfo="y+name"),
                    row=1, col=j)
                continue
            fig.add_trace(go.Box(
                y=values[keep], x=[label] * n, name=name,
                legendgroup=name, showlegend=(j == 1), boxpoints="all", jitter=0.4, pointpos=0,
                marker={"color": BENEFIT_COLORS[name], "size": style.marker_size * 0.7, "opacity": 0.75},
                line={"width": style.line_width}, text=[escape(i) for i in ids[keep]],
                hovertemplate="%{text}: %{y}<extra>" + name + "</extra>"), row=1, col=j)
    spec = schema.COLUMNS.get(variable)
    unit = f" ({spec.unit})" if spec is not None and spec.unit else ""
    fig.update_yaxes(title_text=escape(schema.label(variable) + unit), row=1, col=1)
    for ann in fig.layout.annotations:
        ann.font = {"size": style.font_size}
    head = title or f"{schema.label(variable)}: clinical benefit vs no benefit"
    note = (f"{tests}; unadjusted. CB = CR/PR or SD >= {result.cb_sd_months:g} months "
            f"(assessment window {result.window_days:g} days)")
    return apply_layout(fig, head, (subtitle + " · " if subtitle else "") + note, style,
                        extra_top=int(style.font_size * 1.6))


def _p(row) -> str:
    if row.test is None or pd.isna(row.pvalue):
        return "not tested"
    return p_phrase(row.pvalue)
