"""Response figures: best-response bars, ORR forest plot by subgroup, ORR and CBR by group (a slide
figure), swimmer plot.

Pure builders returning ``go.Figure``; they compute no statistic (rates and CIs come from
:mod:`il2lib.analyses.response` results) and never render.
"""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib import schema
from il2lib.analyses.response import rate_count_keys
from il2lib.figures.palette import (BLACK, BLUE, GREEN, OUTLINE, RESPONSE_COLORS, VERMILLION, apply_layout, color,
                                    escape, figure_style, title_height)
from il2lib.privacy.disclosure import NO_SUPPRESSION, Suppression
from il2lib.stats import p_phrase
from il2lib.validation.recist import VIEW_SHORT

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


def orr_forest_figure(results: Sequence, *, outcome: str = "orr", overall=None,
                      groupings: Sequence[str | None] | None = None, title: str = "", subtitle: str = "",
                      presentation: bool = False, shown: Suppression = NO_SUPPRESSION) -> go.Figure:
    """Forest plot of a response rate with its CI by subgroup.

    Parameters
    ----------
    results : sequence of :class:`il2lib.analyses.response.ResponseRates`
        One per grouping (disease, prior PD-1/PD-L1, line, ...); one trace each, labelled by the
        grouping column. Rows read "Column: level (x/n)".
    overall : ResponseRates, optional
        Ungrouped result: drawn as a dashed vertical reference line at its rate.
    groupings : sequence of column names, optional
        The groupings drawn (the results whose ``by`` is one of them, in the order of ``results``, each in
        its usual colour); default all.
    """
    style = figure_style(presentation)
    fig = go.Figure()
    labels_all: list[str] = []
    drawn = [(i, res) for i, res in enumerate(results) if groupings is None or res.by in groupings]
    if not drawn:
        raise ValueError("No grouping to show: choose at least one.")
    for i, res in drawn:
        rows = res.rates[res.rates["outcome"] == outcome]
        if rows.empty:
            raise ValueError(f"Outcome {outcome!r} was not computed in one of the results.")
        head = schema.label(res.by) if res.by else "All patients"
        keys = [rate_count_keys(res.by, g, outcome, res.view)[:2] for g in rows["group"]]
        counts = [(shown.text(rk, r), shown.text(nk, n)) for (rk, nk), r, n in zip(keys, rows["responders"], rows["n"])]
        named = [g if g.startswith(f"{head}: ") else f"{head}: {g}" for g in rows["group"]]  # rows of all groupings
        labels = [escape(f"{g} ({r}/{n})") for g, (r, n) in zip(named, counts)]
        labels_all += labels
        visible = np.array([shown.shows(*k) for k in keys])  # a rate of a hidden count is not drawn
        rate, lo, hi = (100 * rows[c].where(visible) for c in ("rate", "ci_lower", "ci_upper"))
        comp = next((c for c in res.comparisons if c.outcome == outcome), None)
        name = escape(head + (f" ({_p_text(comp)})" if comp else ""))
        fig.add_trace(go.Scatter(
            x=rate, y=labels, mode="markers", name=name,
            marker={"color": color(i, style), "size": style.marker_size, "symbol": "square"},
            error_x={"type": "data", "symmetric": False, "array": hi - rate, "arrayminus": rate - lo,
                     "thickness": style.line_width, "width": style.marker_size / 2},
            customdata=np.column_stack([[r for r, _ in counts], [n for _, n in counts], lo, hi]),
            hovertemplate="%{y}<br>%{x:.1f}% (%{customdata[2]:.1f}–%{customdata[3]:.1f})<extra></extra>"))
    if overall is not None:
        ref = overall.rates[overall.rates["outcome"] == outcome]["rate"].iloc[0] * 100
        fig.add_vline(x=ref, line={"dash": "dash", "color": style.reference, "width": style.line_width / 2},
                      annotation_text=f"All: {ref:.1f}%", annotation_position="top")
    fig.update_xaxes(title_text=OUTCOME_AXIS.get(outcome, outcome), range=[0, 100])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels_all, dtick=1)  # label every row
    apply_layout(fig, title or OUTCOME_AXIS.get(outcome, outcome).split(",")[0] + " by subgroup", subtitle,
                 style, height=max(280, 140 + style.bar_height_px * len(labels_all)))
    # legend (one long entry per grouping, with its test) under the plot, so it never squeezes the CI panel
    legend_px = 50 + int(style.font_size * 1.6 * len(drawn))
    fig.update_layout(legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0,
                              "xanchor": "left"},
                      margin={"b": legend_px + 10}, height=fig.layout.height + legend_px)
    return fig


def _p_text(comp) -> str:
    return f"{p_phrase(comp.result.pvalue)}, {comp.result.label}"


#: Marker (colour, symbol) of each outcome in :func:`rates_by_group_figure`: colour and shape both differ.
OUTCOME_MARKERS = {"orr": (BLUE, "circle"), "cbr": (VERMILLION, "diamond"), "dcr": (GREEN, "square")}
#: Default size (CSS px) of a slide figure, 16:9; presentation mode's larger type gets a larger canvas.
SLIDE_SIZE = {False: (960, 540), True: (1280, 720)}
CI_METHOD_LABELS = {"exact": "Clopper-Pearson exact", "wilson": "Wilson score"}


def rates_by_group_figure(rates, *, outcomes: Sequence[str] = ("orr", "cbr"), title: str = "", subtitle: str = "",
                          presentation: bool = False, shown: Suppression = NO_SUPPRESSION) -> go.Figure:
    """ORR and CBR (DCR optional) with their CIs per group of one grouping: a slide-ready dot-and-whisker figure.

    Parameters
    ----------
    rates : :class:`il2lib.analyses.response.ResponseRates`
        Drawn as it is: each rate and CI (its CI method), and its between-group tests in the footnote.
    outcomes : sequence of "orr", "cbr", "dcr"
        One marker trace each (its own colour and shape), one point per group at the rate with the CI as
        whiskers, and one text trace of "k/N" labels beside the whiskers (``meta`` names the outcome).

    Groups are rows labelled as il2lib labels groups ("Prior PD-1/PD-L1: yes (n=57)", "Melanoma (n=70)"); the x
    axis runs from 0 to the largest upper bound drawn, rounded up to the next 10%; the default size is 16:9. Under
    small-cell protection (``shown``, the page's :class:`~il2lib.privacy.disclosure.Suppression`) counts read as in
    the tables and a rate of a hidden count is not drawn (its label sits at 0).
    """
    outcomes = [o for o in outcomes if o in rates.outcomes]
    if not outcomes:
        raise ValueError("None of the outcomes asked for was computed in the rates.")
    style = figure_style(presentation)
    groups, by = list(rates.groups), rates.by
    sizes = rates.bor_counts.groupby("group", sort=False)["n"].sum()
    labels = [f"{g} (n={shown.text(('n', by, g), sizes[g])})" for g in groups]  # g names its variable
    step = 0.7 / len(outcomes)  # the outcomes of a group share its row, top to bottom
    fig, upper = go.Figure(), [0.0]
    for j, outcome in enumerate(outcomes):
        rows = rates.rates[rates.rates["outcome"] == outcome].set_index("group").reindex(groups)
        keys = [rate_count_keys(by, g, outcome, rates.view)[:2] for g in groups]
        counts = [f"{shown.text(rk, k)}/{shown.text(nk, n)}" for (rk, nk), k, n in zip(keys, rows["responders"],
                                                                                         rows["n"])]
        visible = np.array([shown.shows(*k) for k in keys])
        rate, lo, hi = (100 * rows[c].where(visible).to_numpy(dtype=float) for c in ("rate", "ci_lower", "ci_upper"))
        upper += [v for v in hi if not math.isnan(v)]
        y = np.arange(len(groups)) + (j - (len(outcomes) - 1) / 2) * step
        colour, symbol = OUTCOME_MARKERS[outcome]
        name = _outcome_name(rates, outcome)
        shown_rate = [("—" if math.isnan(r) else f"{r:.1f}% (95% CI {a:.1f}–{b:.1f})") if ok else "not shown"
                      for r, a, b, ok in zip(rate, lo, hi, visible)]
        fig.add_trace(go.Scatter(
            x=rate, y=y, mode="markers", name=escape(name), legendgroup=outcome, meta=outcome, cliponaxis=False,
            marker={"color": colour, "symbol": symbol, "size": style.marker_size * 1.3,
                    "line": {"color": "white", "width": 1}},
            error_x={"type": "data", "symmetric": False, "array": hi - rate, "arrayminus": rate - lo,
                     "color": colour, "thickness": style.line_width, "width": style.marker_size / 2},
            customdata=np.column_stack([[escape(t) for t in labels], [escape(c) for c in counts], shown_rate]),
            hovertemplate=f"%{{customdata[0]}}<br>{escape(name)}: %{{customdata[2]}}, %{{customdata[1]}}"
                          "<extra></extra>"))
        fig.add_trace(go.Scatter(  # the label a space beyond the whisker's cap
            x=np.where(np.isnan(hi), 0.0, hi), y=y, mode="text", text=["\u2002" + escape(c) for c in counts],
            textposition="middle right", textfont={"color": colour, "size": style.font_size}, cliponaxis=False,
            name=escape(f"{name}: responders/n"), legendgroup=outcome, meta=outcome, showlegend=False,
            hoverinfo="skip"))
    top = max(10, min(100, 10 * math.ceil(round(max(upper), 6) / 10)))
    fig.update_xaxes(title_text="Rate, % (95% CI)", range=[0, top], dtick=10 if top <= 60 else 20, zeroline=False,
                     showline=True)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(groups))), ticktext=[escape(t) for t in labels],
                     range=[len(groups) - 0.5, -0.5], showgrid=False, zeroline=False)
    width, height = SLIDE_SIZE[presentation]
    right, char_px = int(style.font_size * 5), style.font_size * 0.5  # char_px: an average character
    plot_px = width - right - char_px * (max(map(len, labels)) + 4)  # the footnote starts under the plot
    lines = _footnote_lines(rates, outcomes, int(plot_px / (0.9 * char_px)))
    bottom = int(style.font_size * (4.5 + 1.3 * len(lines)))
    legend_px = int(style.font_size * 2.4)  # one legend row between the subtitle and the plot
    needed = (title_height(subtitle, style) + legend_px + bottom
              + len(groups) * style.bar_height_px * (1 + len(outcomes)))
    height = max(height, needed)
    apply_layout(fig, title or "Response rates by group", subtitle, style, height=height, extra_top=legend_px)
    fig.add_annotation(text="<br>".join(escape(line) for line in lines), xref="paper", yref="paper", x=0, y=0,
                       xanchor="left", yanchor="top", yshift=-int(style.font_size * 4), align="left",
                       showarrow=False, font={"size": int(style.font_size * 0.9), "color": "#444444"})
    fig.update_layout(width=max(width, round(height * 16 / 9)), showlegend=True,
                      margin={"b": bottom, "r": right},
                      legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom"})
    return fig


def _outcome_name(rates, outcome: str) -> str:
    """Legend name of an outcome: what counts, with the CBR threshold and the ORR's response view."""
    if outcome == "cbr":
        return f"CBR (CR+PR+SD ≥ {rates.cb_sd_months:g} months)"
    if outcome == "orr" and rates.other_view is not None:
        return f"ORR (CR+PR, {VIEW_SHORT[rates.view]})"
    return {"orr": "ORR (CR+PR)", "dcr": "DCR (CR+PR+SD)"}[outcome]


def _footnote_lines(rates, outcomes: Sequence[str], width: int) -> list[str]:
    """The figure's footnote: each outcome's between-group test, the CI method and the denominator."""
    tests = {c.outcome: c for c in rates.comparisons}
    if len(rates.groups) < 2:
        tested = "One group: no between-group test."
    else:
        tested = "Between groups: " + "; ".join(
            f"{o.upper()} {p_phrase(tests[o].result.pvalue)} ({tests[o].result.label})" if o in tests
            else f"{o.upper()} not tested" for o in outcomes) + "."
    denominator = "all treated (ITT)" if rates.denominator == "itt" else "evaluable patients (NE left out)"
    method = CI_METHOD_LABELS.get(rates.ci_method, rates.ci_method)
    text = f"{tested} Whiskers: 95% CI ({method}); labels: responders/n. Denominator: {denominator}."
    return textwrap.wrap(text, width, break_on_hyphens=False)


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
