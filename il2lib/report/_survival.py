"""Survival section of the report: Kaplan-Meier figures with numbers at risk, medians, log-rank, Cox.

Every number comes from :mod:`il2lib.survival`; the figure from :func:`il2lib.figures.km.km_figure`.
"""
from __future__ import annotations

import pandas as pd

from il2lib import schema
from il2lib.figures.km import km_figure
from il2lib.report._html import Figure
from il2lib.report._sections import ANALYSIS_ERRORS, Section, _not_computed, in_sentence
from il2lib.report._small_cells import threshold
from il2lib.stats import p_phrase
from il2lib.survival import cox_ph, format_months, hazard_ratio_table, kaplan_meier, logrank_test, median_followup
from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED, OS_CENSORING, PFS_DOR_CENSORING

GROUP = "group"
OVERALL = "All patients"
#: KM figure height in the report (px): the figure and its medians table share one A4 page.
REPORT_FIGURE_HEIGHT = 660


def _labels(df: pd.DataFrame, by: str) -> pd.Categorical:
    """Display labels of a grouping column, as an ordered Categorical (schema order for disease)."""
    if by == schema.DISEASE:
        order = [schema.DISEASE_LABELS[d] for d in schema.DISEASES if d in set(df[by].dropna())]
        return pd.Categorical(df[by].map(schema.DISEASE_LABELS), categories=order)
    if pd.api.types.is_bool_dtype(df[by]):
        values = df[by].map(lambda v: None if pd.isna(v) else ("Yes" if bool(v) else "No"))
    else:
        values = df[by].map(lambda v: None if pd.isna(v) else str(v))
    order = [v for v in ("Yes", "No") if v in set(values.dropna())] or sorted(values.dropna().unique())
    return pd.Categorical(values, categories=order)


def _curves(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str):
    ep = schema.ENDPOINTS[endpoint]
    data = pd.DataFrame({"time": df[ep.time].astype("float64"),
                         "event": df[ep.event].astype("float64")}, index=df.index)
    if by is None:
        return data, {OVERALL: kaplan_meier(data["time"], data["event"], conf_type=conf_type)}
    data[schema.label(by)] = _labels(df, by)
    km = kaplan_meier(data["time"], data["event"], conf_type=conf_type, by=data[schema.label(by)])
    return data, dict(km.items())


def _summary_table(curves: dict, overall) -> pd.DataFrame:
    rows = []
    items = list(curves.items()) + ([(OVERALL, overall)] if overall is not None and OVERALL not in curves else [])
    for label, r in items:
        rows.append({"Group": label, "n": r.n, "Events": r.n_events, "Median, months (95% CI)": r.median_text(),
                     **r.milestone_texts()})
    return pd.DataFrame(rows)


def _comparison_notes(data: pd.DataFrame, by: str, endpoint: str) -> tuple[list[str], pd.DataFrame | None]:
    notes: list[str] = []
    column = schema.label(by)
    lr = logrank_test(data["time"], data["event"], data[column])
    notes.append(f"Log-rank test: chi-square = {lr.statistic:.2f} on {lr.df} df, {p_phrase(lr.pvalue)}.")
    notes += list(lr.warnings)
    try:
        cox = cox_ph(data, "time", "event", [column])
    except ANALYSIS_ERRORS as exc:
        notes.append(f"Cox model not computed: {exc}")
        return notes, None
    table = hazard_ratio_table(cox)
    notes += list(cox.warnings)
    notes.append(f"Cox model: Efron ties, n = {cox.n}, events = {cox.n_events}; model test: likelihood-ratio "
                 f"chi-square = {cox.lr_test.statistic:.2f} on {cox.lr_test.df} df, {p_phrase(cox.lr_test.pvalue)}; "
                 f"concordance = {cox.concordance:.2f}.")
    return notes, table


def _followup(df: pd.DataFrame) -> str | None:
    if schema.OS_MONTHS not in df or schema.OS_EVENT not in df:
        return None
    try:
        fu = median_followup(df[schema.OS_MONTHS].astype("float64"), df[schema.OS_EVENT].astype("float64"))
    except ANALYSIS_ERRORS:
        return None
    lo, hi = fu.median_ci
    return (f"Median follow-up (reverse Kaplan-Meier): {format_months(fu.median)} months "
            f"(95% CI {format_months(lo)} to {format_months(hi)}), n = {fu.n}.")


def survival_figure(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str, subtitle: str,
                    s: Section) -> dict | None:
    """Add one KM figure with its tables to ``s``; returns the curves (None when not computable)."""
    name = schema.ENDPOINTS[endpoint].label
    try:
        data, curves = _curves(df, endpoint, by, conf_type)
        overall = kaplan_meier(data["time"], data["event"], conf_type=conf_type) if by is not None else None
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, name, exc)
        return None
    title = name + (f" by {in_sentence(schema.label(by))}" if by else "")

    fig = km_figure(curves, title=title, subtitle=subtitle, show_ci=True, risk_table=True, median_lines=False,
                    small_cell_threshold=threshold())  # as the Survival page draws it under small-cell protection
    fig.update_layout(height=REPORT_FIGURE_HEIGHT)
    n_note = (overall or next(iter(curves.values()))).n_note
    s.add(Figure(fig, f"Kaplan-Meier estimate of {name.lower()}"
                 + (f" by {in_sentence(schema.label(by))}" if by else "")
                 + f" with pointwise 95% confidence bands ({conf_type}) and the number at risk under the time "
                   f"axis; {_censoring_text(threshold())} {n_note}."))
    notes: list[str] = []
    cox_table = None
    if by is not None and len(curves) >= 2:
        try:
            notes, cox_table = _comparison_notes(data, by, endpoint)
        except ANALYSIS_ERRORS as exc:
            notes = [f"Log-rank test not computed: {exc}"]
    s.table(_summary_table(curves, overall), f"{title}: medians and milestone survival", notes)
    if cox_table is not None:
        s.table(cox_table, f"{title}: Cox proportional-hazards model")
    return curves


def _censoring_text(small_cell_threshold: int | None) -> str:
    if small_cell_threshold is None:
        return "ticks mark censored patients."
    return (f"small-cell protection: no censoring ticks, and each curve ends before fewer than {small_cell_threshold} "
            "patients are at risk.")


def survival_section(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str, subtitle: str) -> Section:
    name = schema.ENDPOINTS[endpoint].label
    s = Section("survival", f"Survival: {name.lower()}", page_start=True)
    if endpoint == "pfs":
        s.note(f"PFS runs from IL-2 start. {PFS_DOR_CENSORING} {FDA_ROWS_NOT_APPLIED}")
    else:
        s.note(OS_CENSORING)
    survival_figure(df, endpoint, by, conf_type, subtitle, s)
    followup = _followup(df)
    if followup:
        s.note(followup)
    if schema.PRIOR_PD1 in df.columns and df[schema.PRIOR_PD1].dropna().nunique() >= 2:
        s.note(schema.ERA_CAVEAT, "callout")
        survival_figure(df, endpoint, schema.PRIOR_PD1, conf_type, subtitle, s)
    s.methods.append(
        f"{name} was estimated with the Kaplan-Meier product-limit method (Kaplan & Meier 1958) with Greenwood "
        f"variance and pointwise 95% confidence intervals on the {conf_type} scale; medians and their CIs follow "
        "R's survfit (Brookmeyer & Crowley 1982); median follow-up used the reverse Kaplan-Meier method "
        "(Schemper & Smith 1996). Groups were compared with the log-rank test (Mantel 1966) and hazard ratios "
        "estimated with a Cox proportional-hazards model (Cox 1972) with Efron ties and Wald 95% CIs; no hazard "
        "ratio is reported when a group has fewer than 5 events or its coefficient diverges (monotone "
        "likelihood), and the likelihood-ratio test is the model test (the Wald test fails under separation).")
    return s
