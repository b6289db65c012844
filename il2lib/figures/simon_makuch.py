"""Simon-Makuch figure: survival by a time-dependent status (response or clinical benefit), a descriptive display.

Drawn by :func:`il2lib.figures.km.km_figure` (same style, palette, CI bands, number-at-risk table and
small-cell protection) from a :class:`il2lib.survival.SimonMakuchResult`; two things differ:

* the status-1 curve starts where the result says (``start_time``: once enough patients are at risk in
  it), not at time 0; its risk-table row still counts the patients at risk at every tick;
* censor ticks mark true censorings only: a row that ends because the patient changes status is no
  censoring on this plot (R's ``survfit`` counts it in ``n.censor``).

The subtitle says "descriptive display; test: Mantel-Byar" with the test's chi-square and p when given.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from il2lib.figures.km import CENSOR_TICK_BINS, TIME_LABEL, group_label, km_figure, km_style, thin_table
from il2lib.figures.palette import wrap_subtitle
from il2lib.stats import format_p
from il2lib.survival.time_dependent import (DESCRIPTIVE_NOTE, MantelByarResult, SimonMakuchResult,
                                            TimeDependentResponseResult)

DEFAULT_TITLE = "Simon-Makuch plot: survival by response as a time-dependent status"
#: Subtitle characters per line when presenting: the figure sits in a tab, narrower than the page's KM.
PRESENTATION_SUBTITLE_CHARS = 85


def mantel_byar_text(test: MantelByarResult | None) -> str:
    """``"descriptive display; test: Mantel-Byar (chi-square 12.72, 1 df, p < 0.001)"`` (p as :func:`format_p`)."""
    if test is None or not np.isfinite(test.statistic):
        return DESCRIPTIVE_NOTE + (" (not computable: nobody has the status at an event time)" if test else "")
    p = format_p(test.pvalue)
    p = f"{p[0]} {p[1:]}" if p[0] in "<>" else f"= {p}"
    return f"{DESCRIPTIVE_NOTE} (chi-square {test.statistic:.2f}, 1 df, p {p})"


def start_text(result: SimonMakuchResult) -> str:
    """Where the status-1 curve starts, and why."""
    label = result.labels[1]
    if result.start_time is None:
        return (f"No '{label}' curve: fewer than {result.min_at_risk} patients are ever at risk in it "
                "at the same time.")
    return (f"'{label}' curve from month {result.start_time:.1f}, when {result.min_at_risk} are at risk in it\n"
            "each patient counts in the other curve until the change")


def simon_makuch_figure(result: TimeDependentResponseResult | SimonMakuchResult, *,
                        mantel_byar: MantelByarResult | None = None, show_ci: bool | None = None,
                        risk_table: bool = True, censor_marks: bool = True, times=None, title: str = DEFAULT_TITLE,
                        subtitle: str = "", time_label: str = TIME_LABEL, presentation: bool = False,
                        small_cell_threshold: int | None = None) -> go.Figure:
    """Build the Simon-Makuch figure (never rendered here).

    Parameters
    ----------
    result : TimeDependentResponseResult or SimonMakuchResult
        From :func:`il2lib.survival.response_time_dependent` (its Mantel-Byar test goes in the subtitle) or
        :func:`il2lib.survival.simon_makuch` (then pass ``mantel_byar`` for the subtitle).
    show_ci, risk_table, censor_marks, times, title, time_label, presentation, small_cell_threshold
        As :func:`il2lib.figures.km.km_figure`. ``subtitle`` (plain text) follows the
        descriptive-display note and the start of the status-1 curve.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if isinstance(result, TimeDependentResponseResult):
        mantel_byar = mantel_byar or result.mantel_byar
        result = result.simon_makuch
    given = wrap_subtitle(subtitle, PRESENTATION_SUBTITLE_CHARS) if presentation else [subtitle] if subtitle else []
    lines = [mantel_byar_text(mantel_byar), start_text(result), *given]
    k = small_cell_threshold
    fig = km_figure(result.curves, show_ci=show_ci, risk_table=risk_table, censor_marks=False, times=times,
                    title=title, subtitle="\n".join(lines), time_label=time_label, presentation=presentation,
                    small_cell_threshold=k)
    start = result.start_time
    late = html.escape(group_label(result.labels[1], k), quote=False)
    if start is not None and result.labels[1] in result.curves:
        for trace in fig.data:  # the status-1 curve and its band begin at its start, not at 0
            if trace.legendgroup == late and trace.x is not None and len(trace.x) and trace.x[0] == 0:
                trace.x = np.r_[start, np.asarray(trace.x, dtype=float)[1:]]
    if censor_marks and k is None:
        style = km_style(presentation)
        t_max = max((float(c.table["time"].max()) for c in result.curves.values() if len(c.table)), default=1.0)
        for i, (name, curve) in enumerate(result.curves.items()):
            ticks = _censor_ticks(curve.table, result.switches.get(name, ()), t_max,
                                  html.escape(group_label(name, k), quote=False), style.colors[i % len(style.colors)],
                                  style)
            if ticks is not None:
                fig.add_trace(ticks)
    return fig


def _censor_ticks(table: pd.DataFrame, switches, t_max: float, label: str, color: str, style) -> dict | None:
    """A tick at each time with a censoring that is not a change of status."""
    times = table["time"].to_numpy(float)
    switched = np.bincount(np.searchsorted(times, np.asarray(switches, dtype=float)), minlength=times.size + 1)
    censored = table.loc[(table["n_censor"].to_numpy() - switched[:times.size]) > 0]
    censored = thin_table(censored, t_max, CENSOR_TICK_BINS)
    if censored.empty:
        return None
    return dict(type="scatter", x=censored["time"].to_numpy(float), y=censored["survival"].to_numpy(float),
                mode="markers", name=f"{label} censored", legendgroup=label, showlegend=False, hoverinfo="skip",
                marker=dict(symbol="line-ns-open", size=style.marker_size, color=color,
                            line=dict(width=style.tick_width)))
