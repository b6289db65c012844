"""Response figures: best-response bars, ORR forest plot by subgroup, swimmer plot.

Pure builders returning ``go.Figure``; they compute no statistic (rates and CIs come from
:mod:`il2lib.analyses.response` results) and never render.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib import schema
from il2lib.analyses.response import rate_count_keys
from il2lib.figures.palette import (BLACK, GREY, OUTLINE, RESPONSE_COLORS, apply_layout, color, escape, figure_style,
                                    title_height)
from il2lib.privacy.disclosure import NO_SUPPRESSION, Suppression

OUTCOME_AXIS = {"orr": "Objective response rate, % (95% CI)", "cbr": "Clinical benefit rate, % (95% CI)",
                "dcr": "Disease control rate, % (95% CI)"}


def response_bar_figure(table, *, percent: bool = True, title: str = "Best overall response",
                        subtitle: str = "", presentation: bool = False,
                        shown: Suppression = NO_SUPPRESSION) -> go.Figure:
    """Stacked horizontal bars of best overall response per group (one trace per CR/PR/SD/PD/NE).

    ``table`` is a :class:`il2lib.analyses.response.ResponseTable`. Bars show percentages (or counts) and
    the hover gives both. Under small-cell protection (``shown``) a hidden count is a hatched band of
    fixed width labelled "<k" or "masked", not to scale, and no hover gives it.
    """
    style = figure_style(presentation)
    counts = table.to_frame()
    groups = list(table.groups)
    band = 100 * shown.threshold / max(1, int(counts["group_n"].max())) if percent else shown.threshold
    fig = go.Figure()
    for level in schema.BOR_LEVELS:
        sub = counts[counts["response"] == level].set_index("group").reindex(groups)
        keys = [("bor", table.by, g, level) for g in groups]
        visible = [shown.shows(k, ("n", table.by, g)) for k, g in zip(keys, groups)]
        values = sub["percent"] if percent else sub["n"]
        fig.add_trace(go.Bar(
            y=[escape(f"{g} (n={shown.text(('n', table.by, g), n)})") for g, n in zip(groups, sub["group_n"])],
            x=[v if ok else band for v, ok in zip(values, visible)], name=level, orientation="h",
            marker={"color": RESPONSE_COLORS[level], "line": {"color": OUTLINE, "width": 0.5},
                    "pattern": {"shape": ["" if ok else "/" for ok in visible]}},
            text=[shown.text(k, n) if n else "" for k, n in zip(keys, sub["n"])], textposition="inside",
            customdata=np.column_stack([[shown.text(k, n) for k, n in zip(keys, sub["n"])],
                                        [f"{p:.1f}%" if ok else "–" for p, ok in zip(sub["percent"], visible)]]),
            hovertemplate=f"{schema.BOR_LABELS[level]}: %{{customdata[0]}} (%{{customdata[1]}})<extra></extra>"))
    fig.update_layout(barmode="stack", legend={"traceorder": "normal"})
    fig.update_xaxes(title_text="Patients, %" if percent else "Patients",
                     range=[0, 100] if percent and not shown.hidden else None)
    fig.update_yaxes(autorange="reversed")
    # plot area tall enough for the legend title + 5 entries (no scrollbar), below the title block
    legend_px = title_height(subtitle, style) + 40 + int(style.font_size * 2 * (len(schema.BOR_LEVELS) + 1))
    return apply_layout(fig, title, subtitle, style, legend_title="Best response",
                        height=max(260, 120 + style.bar_height_px * 2 * len(groups), legend_px))


def orr_forest_figure(results: Sequence, *, outcome: str = "orr", overall=None, title: str = "",
                      subtitle: str = "", presentation: bool = False,
                      shown: Suppression = NO_SUPPRESSION) -> go.Figure:
    """Forest plot of a response rate with its CI by subgroup.

    Parameters
    ----------
    results : sequence of :class:`il2lib.analyses.response.ResponseRates`
        One per grouping (disease, prior PD-1/PD-L1, line, ...); one trace each, labelled by the
        grouping column. Rows read "Column: level (x/n)".
    overall : ResponseRates, optional
        Ungrouped result: drawn as a dashed vertical reference line at its rate.
    """
    style = figure_style(presentation)
    fig = go.Figure()
    labels_all: list[str] = []
    for i, res in enumerate(results):
        rows = res.rates[res.rates["outcome"] == outcome]
        if rows.empty:
            raise ValueError(f"Outcome {outcome!r} was not computed in one of the results.")
        head = schema.label(res.by) if res.by else "All patients"
        keys = [rate_count_keys(res.by, g, outcome, res.view)[:2] for g in rows["group"]]
        counts = [(shown.text(rk, r), shown.text(nk, n)) for (rk, nk), r, n in zip(keys, rows["responders"], rows["n"])]
        labels = [escape(f"{head}: {g} ({r}/{n})") for g, (r, n) in zip(rows["group"], counts)]
        labels_all += labels
        visible = np.array([shown.shows(*k) for k in keys])  # a rate of a hidden count is not drawn
        rate, lo, hi = (100 * rows[c].where(visible) for c in ("rate", "ci_lower", "ci_upper"))
        comp = next((c for c in res.comparisons if c.outcome == outcome), None)
        name = escape(head + (f" ({_p_text(comp)})" if comp else ""))
        fig.add_trace(go.Scatter(
            x=rate, y=labels, mode="markers", name=name,
            marker={"color": color(i), "size": style.marker_size, "symbol": "square"},
            error_x={"type": "data", "symmetric": False, "array": hi - rate, "arrayminus": rate - lo,
                     "thickness": style.line_width, "width": style.marker_size / 2},
            customdata=np.column_stack([[r for r, _ in counts], [n for _, n in counts], lo, hi]),
            hovertemplate="%{y}<br>%{x:.1f}% (%{customdata[2]:.1f}–%{customdata[3]:.1f})<extra></extra>"))
    if overall is not None:
        ref = overall.rates[overall.rates["outcome"] == outcome]["rate"].iloc[0] * 100
        fig.add_vline(x=ref, line={"dash": "dash", "color": GREY, "width": style.line_width / 2},
                      annotation_text=f"All: {ref:.1f}%", annotation_position="top")
    fig.update_xaxes(title_text=OUTCOME_AXIS.get(outcome, outcome), range=[0, 100])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels_all, dtick=1)  # label every row
    apply_layout(fig, title or OUTCOME_AXIS.get(outcome, outcome).split(",")[0] + " by subgroup", subtitle,
                 style, height=max(280, 140 + style.bar_height_px * len(labels_all)))
    # legend (one long entry per grouping, with its test) under the plot, so it never squeezes the CI panel
    legend_px = 50 + int(style.font_size * 1.6 * len(results))
    fig.update_layout(legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0,
                              "xanchor": "left"},
                      margin={"b": legend_px + 10}, height=fig.layout.height + legend_px)
    return fig


def _p_text(comp) -> str:
    from il2lib.stats import p_phrase
    return f"{p_phrase(comp.result.pvalue)}, {comp.result.label}"


def swimmer_data(df: pd.DataFrame, responders_only: bool = False, max_patients: int | None = 80) -> pd.DataFrame:
    """Per-patient lanes: time on study (OS months), response onset, ongoing response, death/censor.

    Patients without an OS time are left out (the builder says how many). Onset = months from
    IL-2 start to the first response date; ongoing = responder whose DoR is censored.
    """
    data = df if not responders_only else df[df[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)]
    time = pd.to_numeric(data.get(schema.OS_MONTHS), errors="coerce").astype("float64")
    out = pd.DataFrame({
        "patient_id": data[schema.PATIENT_ID].astype(str) if schema.PATIENT_ID in data else data.index.astype(str),
        "bor": data[schema.BOR].astype(str), "time": time,
        "died": data[schema.OS_EVENT].astype("boolean").fillna(False).astype(bool)
        if schema.OS_EVENT in data else False})
    if schema.DATE_FIRST_RESPONSE in data and schema.DATE_IL2_START in data:
        days = (pd.to_datetime(data[schema.DATE_FIRST_RESPONSE]) - pd.to_datetime(data[schema.DATE_IL2_START])).dt.days
        out["onset"] = days / schema.DAYS_PER_MONTH
    else:
        out["onset"] = np.nan
    responder = out["bor"].isin(schema.RESPONDERS)
    dor_event = data[schema.DOR_EVENT].astype("boolean") if schema.DOR_EVENT in data else pd.Series(pd.NA, index=data.index)
    out["ongoing"] = (responder & dor_event.eq(False).fillna(False)).to_numpy(dtype=bool)
    out = out[out["time"].notna()].sort_values("time", ascending=False, kind="stable")
    return out.head(max_patients) if max_patients else out


def swimmer_figure(df: pd.DataFrame, *, responders_only: bool = False, max_patients: int | None = 80,
                   title: str = "Time on study by patient", subtitle: str = "",
                   presentation: bool = False) -> go.Figure:
    """Swimmer plot: one lane per patient, coloured by best response, with event markers.

    Traces: one bar trace per best-response level present, then "Response onset" (circles),
    "Ongoing response" (arrows), "Death" (crosses) and "Alive at last follow-up" (bars).
    """
    style = figure_style(presentation)
    lanes = swimmer_data(df, responders_only, None)
    n_hidden = len(lanes) - max_patients if max_patients and len(lanes) > max_patients else 0
    lanes = lanes.head(max_patients) if max_patients else lanes
    n_missing = int(pd.to_numeric(df.get(schema.OS_MONTHS), errors="coerce").isna().sum()) if len(df) else 0
    y = [escape(p) for p in lanes["patient_id"]]
    fig = go.Figure()
    for level in schema.BOR_LEVELS:
        sel = (lanes["bor"] == level).to_numpy()
        if sel.any():
            fig.add_trace(go.Bar(x=lanes["time"][sel], y=np.array(y)[sel], orientation="h", name=level,
                                 marker={"color": RESPONSE_COLORS[level], "line": {"color": OUTLINE, "width": 0.5}},
                                 hovertemplate="%{y}: %{x:.1f} months<extra>" + level + "</extra>"))
    markers = [("Response onset", lanes["onset"].notna(), lanes["onset"], "circle", BLACK),
               ("Ongoing response", lanes["ongoing"], lanes["time"], "triangle-right", BLACK),
               ("Death", lanes["died"], lanes["time"], "x", BLACK),
               ("Alive at last follow-up", ~lanes["died"], lanes["time"], "line-ns-open", BLACK)]
    for name, mask, x, symbol, col in markers:
        mask = mask.to_numpy(dtype=bool)
        fig.add_trace(go.Scatter(x=x[mask], y=np.array(y)[mask], mode="markers", name=name,
                                 marker={"symbol": symbol, "color": col, "size": style.marker_size,
                                         "line": {"width": 2, "color": col}},
                                 hovertemplate="%{y}: " + name + " at %{x:.1f} months<extra></extra>"))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="Months since IL-2 start")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=y, title_text="Patient",
                     tickmode="array", tickvals=y, ticktext=y)
    if n_missing:
        subtitle = (subtitle + " · " if subtitle else "") + f"{n_missing} patient(s) without an OS time not shown"
    if n_hidden:
        subtitle = (subtitle + " · " if subtitle else "") + f"{len(lanes)} longest shown, {n_hidden} more not shown"
    return apply_layout(fig, title, subtitle, style, legend_title="",
                        height=max(320, 120 + int(style.bar_height_px * 0.8) * len(y)))
