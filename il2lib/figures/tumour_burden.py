"""Tumour-burden figures: the waterfall plot of each patient's best change in the target-lesion sum and the
spider plot of the change over time, from a :class:`il2lib.analyses.tumour_burden.TumourBurden`.

Both are patient level (:data:`il2lib.figures.PATIENT_LEVEL_FIGURES`, kinds ``"waterfall"`` and ``"spider"``):
withheld under small-cell protection. Hover texts show the ids of the data passed in (pseudonyms when the data
have them). Pure builders: they compute nothing beyond drawing order and never render.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from il2lib import schema
from il2lib.analyses.tumour_burden import PD_THRESHOLD, PR_THRESHOLD, TumourBurden
from il2lib.figures.palette import (BLACK, GREY, OUTLINE, RESPONSE_COLORS, apply_layout, color, dash, escape,
                                    figure_style)

WATERFALL_KIND, SPIDER_KIND = "waterfall", "spider"
CHANGE_AXIS = "Change from baseline (%)"
BEST_AXIS = "Best change from baseline (%)"
NEW_LESION = "New lesion(s) by progression"
_REFERENCE = ((PR_THRESHOLD, "-30% (PR)"), (PD_THRESHOLD, "+20% (PD)"))
REFERENCE_NOTE = "dashed lines at -30% (PR) and +20% (PD)"
_NO_BOR = "BOR missing"
_LEVELS = (*schema.BOR_LEVELS, _NO_BOR)


def _bor_color(bor) -> str:
    return RESPONSE_COLORS.get(bor, GREY)


def _bor_name(bor) -> str:
    return bor if bor in RESPONSE_COLORS else _NO_BOR


def _left_out_note(burden: TumourBurden) -> str:
    """``"6 without a baseline and 4 without a later assessment not shown"`` (empty when none)."""
    if not len(burden.excluded):
        return ""
    counts = burden.excluded.groupby("reason", sort=False).size()
    return ", ".join(f"{n} {_short_reason(r)}" for r, n in counts.items()) + " not shown"


def _short_reason(reason: str) -> str:
    for start, text in (("no baseline", "without a baseline"), ("no assessment after", "without an assessment after "
                        "baseline"), ("no tumour", "without tumour assessments"), ("no date_il2_start", "without an "
                        "IL-2 start date"), ("baseline target sum is 0", "with a baseline sum of 0 mm"),
                        ("no best_pct_change", "without best_pct_change"),
                        ("best_pct_change not usable", "with an unreadable best_pct_change")):
        if reason.startswith(start):
            return text
    return f"with {reason[:1].lower()}{reason[1:]}" if reason.endswith(" missing") else f"({reason})"


def _subtitle(subtitle: str, *parts: str) -> str:
    return " · ".join(p for p in (subtitle, *parts) if p)


def _empty(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=escape(text), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def _reference_lines(fig: go.Figure, style, values, title: str, *, grid: bool) -> None:
    """Dashed lines at -30% and +20%, labelled on the change axis (ticks at -100, -50, -30, 0, +20, +50, ...)."""
    kw = {"row": "all", "col": "all"} if grid else {}
    for y, _ in _REFERENCE:
        fig.add_hline(y=y, line={"dash": "dash", "color": style.reference, "width": 1.2}, **kw)
    fig.add_hline(y=0, line={"color": OUTLINE, "width": 0.8}, **kw)
    values = np.asarray(values, dtype=float)
    lo = min(float(np.nanmin(values)) if values.size else 0.0, PR_THRESHOLD)
    hi = max(float(np.nanmax(values)) if values.size else 0.0, PD_THRESHOLD)
    top = 50 * int(np.ceil(hi / 50))
    ticks = sorted({-100, -50, 0, *range(50, top + 1, 50), PR_THRESHOLD, PD_THRESHOLD})
    ticks = [t for t in ticks if lo - 10 <= t <= hi + 10]
    pad = 0.04 * (hi - lo)
    fig.update_yaxes(tickvals=ticks, ticktext=[f"{t:+g}" if t else "0" for t in ticks], zeroline=False,
                     range=[lo - pad - (8 if grid else 0), hi + pad + (8 if grid else 0)])
    fig.update_yaxes(title_text=title, row=1, col=1) if grid else fig.update_yaxes(title_text=title)


def waterfall_figure(burden: TumourBurden, *, title: str = "Best change in target lesions", subtitle: str = "",
                     presentation: bool = False) -> go.Figure:
    """Waterfall plot: one bar per patient with a best change, sorted from the largest increase to the largest
    decrease, coloured by best overall response (the response figures' colours), dashed lines at -30% and +20%,
    a marker above the bar of each patient with a new lesion up to progression. Grouped ``burden`` (``by``): one
    panel per group, widths proportional to their patients. n and the patients left out are in the subtitle."""
    style = figure_style(presentation)
    shown = burden.patients
    groups = [g for g in burden.groups if (shown["group"] == g).any()] if burden.by else [None]
    note = _left_out_note(burden)
    source = "from best_pct_change in the patient file" if burden.source == "patient file" else ""
    sub = _subtitle(subtitle, f"n = {len(shown)} patient{'s' if len(shown) != 1 else ''}", note, source,
                    REFERENCE_NOTE)
    if not len(shown):
        fig = go.Figure()
        _empty(fig, "No patient has a baseline and a later tumour assessment.")
        return apply_layout(fig, title, sub, style)
    counts = [int((shown["group"] == g).sum()) if g is not None else len(shown) for g in groups]
    fig = make_subplots(rows=1, cols=len(groups), shared_yaxes=True, horizontal_spacing=0.03,
                        column_widths=[max(k, 1) for k in counts],
                        subplot_titles=[f"{escape(g)} (n = {k})" for g, k in zip(groups, counts)] if burden.by
                        else None)
    seen: set[str] = set()
    new_seen = False
    for col, group in enumerate(groups, start=1):
        part = shown if group is None else shown[shown["group"] == group]
        part = part.sort_values(schema.BEST_PCT_CHANGE, ascending=False, kind="stable")
        x = np.arange(len(part))
        ids = [escape(p) for p in part[schema.PATIENT_ID]]
        best = part[schema.BEST_PCT_CHANGE].to_numpy(float)
        bor = [_bor_name(b) for b in part[schema.BOR]]
        for level in _LEVELS:
            sel = np.array([b == level for b in bor], dtype=bool)
            if not sel.any():
                continue
            fig.add_trace(go.Bar(x=x[sel], y=best[sel], name=level, legendgroup=level, showlegend=level not in seen,
                                 legendrank=_LEVELS.index(level),
                                 marker={"color": _bor_color(level), "line": {"color": OUTLINE, "width": 0.5}},
                                 customdata=np.array(ids, dtype=object)[sel],
                                 hovertemplate="%{customdata}<br>Best change %{y:+.1f}%<extra>" + level + "</extra>"),
                          row=1, col=col)
            seen.add(level)
        new = part[schema.NEW_LESIONS].fillna(False).to_numpy(dtype=bool)
        if new.any():
            top = np.maximum(best, 0) + 6
            fig.add_trace(go.Scatter(x=x[new], y=top[new], mode="markers", name=NEW_LESION, legendgroup=NEW_LESION,
                                     showlegend=not new_seen,
                                     marker={"symbol": "star", "size": style.marker_size, "color": BLACK},
                                     customdata=np.array(ids, dtype=object)[new],
                                     hovertemplate="%{customdata}: new lesion(s)<extra></extra>"), row=1, col=col)
            new_seen = True
        fig.update_xaxes(showticklabels=False, range=[-0.7, max(len(part), 1) - 0.3], row=1, col=col)
    fig.update_layout(barmode="overlay", bargap=0.15)
    fig.update_xaxes(title_text="Patients, sorted by best change", row=1, col=1 if len(groups) == 1 else None)
    _reference_lines(fig, style, shown[schema.BEST_PCT_CHANGE], BEST_AXIS, grid=True)
    return apply_layout(fig, title, sub, style, legend_title="Best overall response",
                        extra_top=int(style.font_size * 1.6) if burden.by else 0)  # panel titles clear of the subtitle


def spider_figure(burden: TumourBurden, *, color_by: str = "bor", title: str = "Change in target lesions over time",
                  subtitle: str = "", presentation: bool = False) -> go.Figure:
    """Spider plot: the change of each patient's target-lesion sum from baseline (%) over months since the IL-2
    start, one line per patient with a best change, coloured by best overall response (``color_by="bor"``) or by
    the groups of a grouped ``burden`` (``color_by="group"``, a dash per group too); stars mark new lesions; dashed
    lines at -30% and +20%. Assessments after progression are drawn and said so on hover."""
    style = figure_style(presentation)
    note = _left_out_note(burden)
    shown_ids = set(burden.patients[schema.PATIENT_ID])
    changes = burden.changes[burden.changes[schema.PATIENT_ID].isin(shown_ids)] if len(burden.changes) else \
        burden.changes
    n = len(set(changes[schema.PATIENT_ID])) if len(changes) else 0
    sub = _subtitle(subtitle, f"n = {n} patient{'s' if n != 1 else ''}", note, REFERENCE_NOTE)
    fig = go.Figure()
    if not n:
        _empty(fig, "Needs the tumour-assessment table (dated sums of target lesions)."
               if burden.source == "patient file" else "No patient has a baseline and a later tumour assessment.")
        return apply_layout(fig, title, sub, style)
    by_group = color_by == "group" and burden.by is not None
    levels = list(burden.groups) if by_group else list(_LEVELS)
    seen: set[str] = set()
    width = style.line_width * (0.6 if n > 30 else 1.0)
    for pid, rows in changes.groupby(schema.PATIENT_ID, sort=False):
        rows = rows.sort_values(schema.ASSESSMENT_DATE)
        key = rows["group"].iat[0] if by_group else _bor_name(rows[schema.BOR].iat[0])
        k = levels.index(key) if key in levels else len(levels)
        line_color = color(k, style) if by_group else _bor_color(key)
        after = rows["after_progression"].to_numpy(dtype=bool)
        text = [f"{escape(pid)}<br>{m:.1f} months: {c:+.1f}% ({s:g} mm)" + (" · after progression" if a else "")
                for m, c, s, a in zip(rows[schema.MONTHS_SINCE_IL2], rows[schema.PCT_CHANGE], rows[schema.TARGET_SUM],
                                      after)]
        fig.add_trace(go.Scatter(x=rows[schema.MONTHS_SINCE_IL2], y=rows[schema.PCT_CHANGE], mode="lines+markers",
                                 name=escape(key), legendgroup=str(key), showlegend=key not in seen, legendrank=k,
                                 line={"color": line_color, "width": width, "dash": dash(k) if by_group else "solid"},
                                 marker={"size": max(4, style.marker_size * 0.5), "color": line_color},
                                 text=text, hovertemplate="%{text}<extra></extra>"))
        seen.add(key)
    new = changes[changes[schema.NEW_LESIONS].fillna(False).astype(bool) & ~changes["is_baseline"].astype(bool)]
    if len(new):
        fig.add_trace(go.Scatter(x=new[schema.MONTHS_SINCE_IL2], y=new[schema.PCT_CHANGE], mode="markers",
                                 name=NEW_LESION, marker={"symbol": "star", "size": style.marker_size, "color": BLACK},
                                 text=[escape(p) for p in new[schema.PATIENT_ID]],
                                 hovertemplate="%{text}: new lesion(s)<extra></extra>"))
    _reference_lines(fig, style, changes[schema.PCT_CHANGE], CHANGE_AXIS, grid=False)
    fig.update_xaxes(title_text="Months since IL-2 start", zeroline=False)
    legend = schema.label(burden.by) if by_group else "Best overall response"
    return apply_layout(fig, title, sub, style, legend_title=legend)
