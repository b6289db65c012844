"""Biomarker figure: box plus strip (every patient) per benefit group and disease, p annotated with its test.

Patient level (:data:`il2lib.figures.PATIENT_LEVEL_FIGURES`, kind ``"biomarker"``); its masked form
(``small_cell_threshold``) draws boxes only. With ``max_points``, a larger group's box is drawn from its
statistics (:func:`box_statistics`, computed on every patient as plotly.js would) and its strip from a random sample.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from il2lib import schema
from il2lib.analyses.biomarkers import benefit_frame
from il2lib.figures.palette import BENEFIT_COLORS, apply_layout, escape, figure_style
from il2lib.stats import p_phrase

CB, NO_CB = "Clinical benefit", "No clinical benefit"
SHORT = {CB: "CB", NO_CB: "No CB"}


def biomarker_figure(df: pd.DataFrame, variable: str, result, *, title: str = "", subtitle: str = "",
                     presentation: bool = False, small_cell_threshold: int | None = None,
                     shown=None, max_points: int | None = None) -> go.Figure:
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
    max_points : int, optional
        A group with more values than this gets its box from :func:`box_statistics` (the same box and whiskers,
        without sending every value) and, unmasked, a strip of a random ``max_points`` of its patients plus the
        lowest and highest value (the same sample on every call); the subtitle says so. Default: every point.

    Returns
    -------
    go.Figure with two box traces (CB, no-CB) per disease panel; every point is drawn unless masked.
    """
    rows = result.rows[result.rows["variable"] == variable]
    if rows.empty:
        raise ValueError(f"{variable!r} is not among the compared biomarkers.")
    data = benefit_frame(df, result.cb_sd_months, result.window_days, [variable])
    diseases = list(rows["disease"])
    style = figure_style(presentation)
    titles = [f"<b>{escape(schema.DISEASE_LABELS.get(d, d))}</b>: {escape(_p(r))}"
              for d, r in zip(diseases, rows.itertuples())]
    tests = ", ".join(dict.fromkeys(t for t in rows["test_label"].dropna()))
    fig = make_subplots(rows=1, cols=len(diseases), subplot_titles=titles, shared_yaxes=True)
    sampled = False
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
            summarised = max_points is not None and n > max_points
            if small_cell_threshold is not None:
                if 0 < n < small_cell_threshold:  # no box; the group keeps its place on the axis
                    box = {"y": [None], "x": [f"{SHORT[name]} (n<{small_cell_threshold})"]}
                elif summarised:  # whiskers to the minimum and maximum, as plotly draws a box without points
                    stats = box_statistics(values[keep])
                    box = {"x": [label], **_precomputed(stats, stats["min"], stats["max"])}
                else:
                    box = {"y": values[keep], "x": [label] * n}
                fig.add_trace(go.Box(  # boxes only: no point, no id, no outlier marker
                    **box, name=name, legendgroup=name, showlegend=(j == 1), boxpoints=False,
                    marker={"color": BENEFIT_COLORS[name]}, line={"width": style.line_width}, hoverinfo="y+name"),
                    row=1, col=j)
                continue
            marker = {"color": BENEFIT_COLORS[name], "size": style.marker_size * 0.7, "opacity": 0.75}
            hover = "%{text}: %{y}<extra>" + name + "</extra>"
            if not summarised:
                fig.add_trace(go.Box(
                    y=values[keep], x=[label] * n, name=name,
                    legendgroup=name, showlegend=(j == 1), boxpoints="all", jitter=0.4, pointpos=0,
                    marker=marker, line={"width": style.line_width}, text=[escape(i) for i in ids[keep]],
                    hovertemplate=hover), row=1, col=j)
                continue
            # the box of every value (its extremes as hidden points: the whiskers and hover of a box with points),
            # then the strip: a sample of the points, on a box drawn invisibly
            stats, drawn = box_statistics(values[keep]), sample_points(values[keep], max_points)
            fig.add_trace(go.Box(
                x=[label], **_precomputed(stats, stats["lowerfence"], stats["upperfence"]),
                y=[[stats["min"], stats["max"]]], name=name, legendgroup=name, showlegend=(j == 1),
                boxpoints="all", jitter=0.4, pointpos=0, marker={**marker, "opacity": 0}, hoveron="boxes",
                line={"width": style.line_width}, hovertemplate=hover), row=1, col=j)
            fig.add_trace(go.Box(
                y=values[keep][drawn], x=[label] * drawn.size, name=name, legendgroup=name, showlegend=False,
                boxpoints="all", jitter=0.4, pointpos=0, marker=marker, line={"width": 0},
                fillcolor="rgba(0,0,0,0)", hoveron="points", text=[escape(i) for i in ids[keep][drawn]],
                hovertemplate=hover), row=1, col=j)
            sampled = True
    spec = schema.COLUMNS.get(variable)
    unit = f" ({spec.unit})" if spec is not None and spec.unit else ""
    fig.update_yaxes(title_text=escape(schema.label(variable) + unit), row=1, col=1)
    for ann in fig.layout.annotations:
        ann.font = {"size": style.font_size}
    head = title or f"{schema.label(variable)}: clinical benefit vs no benefit"
    note = (f"{tests}; unadjusted. CB = CR/PR or SD >= {result.cb_sd_months:g} months "
            f"(assessment window {result.window_days:g} days)")
    if sampled:
        note += f"; points: {max_points:,} sampled per larger group, extremes kept (boxes: every patient)"
    return apply_layout(fig, head, (subtitle + " · " if subtitle else "") + note, style,
                        extra_top=int(style.font_size * 1.6))


def box_statistics(values: np.ndarray) -> dict[str, float]:
    """Quartiles, fences, minimum and maximum of ``values`` (no NaN) as plotly.js computes them for a box trace
    given every value (src/traces/box/calc.js, quartilemethod "linear"), so a box drawn from them is that box.

    The lower fence is the smallest value >= Q1 - 1.5 IQR (at most Q1), the upper the largest <= Q3 + 1.5 IQR."""
    t = np.sort(np.asarray(values, dtype="float64"))
    n = t.size
    if n == 0:
        raise ValueError("no value to summarise")

    def interp(p: float) -> float:  # plotly.js Lib.interp
        pos = p * n - 0.5
        if pos < 0:
            return float(t[0])
        if pos > n - 1:
            return float(t[-1])
        frac = pos % 1
        return float(frac * t[math.ceil(pos)] + (1 - frac) * t[math.floor(pos)])

    q1, median, q3 = interp(0.25), interp(0.5), interp(0.75)
    step = (t[-1] - t[0]) / (n - 1) if n > 1 else 1.0  # Lib.findBin's rounding allowance
    low = (2.5 * q1 - 1.5 * q3) - step * 1e-9
    high = (2.5 * q3 - 1.5 * q1) + step * 1e-9
    lower = min(q1, float(t[min(int(np.searchsorted(t, low, "left")), n - 1)]))
    upper = max(q3, float(t[max(int(np.searchsorted(t, high, "right")) - 1, 0)]))
    return {"q1": q1, "median": median, "q3": q3, "lowerfence": lower, "upperfence": upper,
            "min": float(t[0]), "max": float(t[-1])}


def sample_points(values: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of ``k`` values drawn at random without replacement (the same on every call), plus those of
    the lowest and the highest value."""
    values = np.asarray(values, dtype="float64")
    drawn = np.random.default_rng(seed).choice(values.size, size=min(k, values.size), replace=False)
    return np.union1d(drawn, [int(np.argmin(values)), int(np.argmax(values))])


def _precomputed(stats: dict[str, float], lower: float, upper: float) -> dict:
    """A box trace's statistics (one box), its whiskers ending at ``lower`` and ``upper``."""
    return {"q1": [stats["q1"]], "median": [stats["median"]], "q3": [stats["q3"]], "lowerfence": [lower],
            "upperfence": [upper]}


def _p(row) -> str:
    if row.test is None or pd.isna(row.pvalue):
        return "not tested"
    return p_phrase(row.pvalue)
