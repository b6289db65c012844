"""Survival section of the report: Kaplan-Meier figures with numbers at risk, medians, log-rank, Cox.

Every number comes from :mod:`il2lib.survival`; the figure from :func:`il2lib.figures.km.km_figure`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.figures.km import km_figure
from il2lib.privacy.disclosure import NO_SUPPRESSION, CountView
from il2lib.privacy.masking import MASKED_DEPENDENT
from il2lib.report._html import Figure
from il2lib.report._sections import ANALYSIS_ERRORS, Section, _not_computed, in_sentence
from il2lib.report._small_cells import protected, threshold
from il2lib.stats import p_phrase
from il2lib.survival import (CoxResult, KaplanMeierResult, cox_ph, format_months, hazard_ratio_table, kaplan_meier,
                             logrank_test, median_followup)
from il2lib.survival.inputs import survival_input
from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED, OS_CENSORING, PFS_DOR_CENSORING

GROUP = "group"
OVERALL = "All patients"
#: KM figure height in the report (px): the figure and its medians table share one A4 page.
REPORT_FIGURE_HEIGHT = 660


def _curves(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str):
    data = survival_input(df, endpoint, by)
    if by is None:
        return data, {OVERALL: kaplan_meier(data["time"], data["event"], conf_type=conf_type)}
    data = data.rename(columns={"group": schema.label(by)})
    km = kaplan_meier(data["time"], data["event"], conf_type=conf_type, by=data[schema.label(by)])
    return data, dict(km.items())


@dataclass(frozen=True)
class _Estimates:
    """One figure's numbers: the curves by group (or the one curve), the ungrouped curve for the "All patients"
    row of a grouped table, and the log-rank and Cox notes with the Cox model (None when not fitted)."""

    by: str | None
    curves: dict
    overall: KaplanMeierResult
    notes: tuple[str, ...] = ()
    cox: CoxResult | None = None

    def keys(self, label) -> tuple[tuple, tuple]:
        """The count-view keys of a row's n and events (the "All patients" row is one cell in every table)."""
        if self.by is None or label == OVERALL:
            return ("n", OVERALL), ("events", OVERALL)
        return ("n", self.by, label), ("events", self.by, label)

    def rows(self) -> list[tuple[str, KaplanMeierResult]]:
        return list(self.curves.items()) + ([(OVERALL, self.overall)] if OVERALL not in self.curves else [])


def _estimates(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str) -> _Estimates:
    data, curves = _curves(df, endpoint, by, conf_type)
    if by is None:
        return _Estimates(by, curves, curves[OVERALL])
    overall = kaplan_meier(data["time"], data["event"], conf_type=conf_type)
    notes, cox = (), None
    if len(curves) >= 2:
        try:
            notes, cox = _comparison_notes(data, by)
        except ANALYSIS_ERRORS as exc:
            notes = (f"Log-rank test not computed: {exc}",)
    return _Estimates(by, curves, overall, notes, cox)


def survival_count_view(estimates: list[_Estimates], n_total: int, followup=None, endpoint: str = "os") -> CountView:
    """The counts the survival section shows, for small-cell protection (as the Survival page's view): each
    table's group sizes and events (events <= n) and its "All patients" row (their sum when every patient has
    a group, else at least it), the figure caption's "n = 48 of 50 (2 without time)" with the report's N
    (shown in its header: never hidden), the Cox notes' n and events, and the follow-up's n."""
    view = CountView()
    overall = estimates[0].overall
    n_all, events_all = ("n", OVERALL), ("events", OVERALL)
    view.add(n_all, overall.n, headline=True)
    view.add(events_all, overall.n_events, headline=True)
    view.add_at_most(events_all, n_all)
    view.add(("total",), n_total, headline=True, fixed=True)
    for why, n in overall.excluded:
        view.add(("left out", why), n)
    view.add_sum(("total",), [n_all, *(("left out", why) for why, _ in overall.excluded)])
    for e in estimates:
        if e.by is None:
            continue
        sizes, events = [], []
        for label, r in e.curves.items():
            n_key, events_key = e.keys(label)
            view.add(n_key, r.n, headline=True)
            view.add(events_key, r.n_events)
            view.add_at_most(events_key, n_key)
            sizes.append(n_key)
            events.append(events_key)
        for total, parts in ((n_all, sizes), (events_all, events)):
            if sum(view.counts[k] for k in parts) == view.counts[total]:
                view.add_sum(total, parts)
            else:  # patients without a group: the groups hold fewer than all patients
                view.add_relation({**dict.fromkeys(parts, 1.0), total: -1.0}, -np.inf, 0.0)
        if e.cox is not None:
            view.add(("cox n", e.by), e.cox.n)
            view.add_sum(("cox n", e.by), sizes)
            view.add(("cox events", e.by), e.cox.n_events)
            view.add_sum(("cox events", e.by), events)
    if followup is not None:  # follow-up on overall survival: of the same patients when OS is the endpoint
        view.add(("follow-up",), followup.n)
        if endpoint == "os":
            view.add_sum(("follow-up",), [n_all])
        view.add_at_most(("follow-up",), ("total",))
    return view


def _summary_table(e: _Estimates, shown) -> pd.DataFrame:
    rows = []
    for label, r in e.rows():
        n_key, events_key = e.keys(label)
        small = bool({n_key, events_key} & shown.primary)  # a median beside a "<k" reads "masked", as elsewhere
        rows.append({"Group": label, "n": shown.text(n_key, r.n), "Events": shown.text(events_key, r.n_events),
                     "Median, months (95% CI)": MASKED_DEPENDENT if small else r.median_text(),
                     **r.milestone_texts(small_cell_threshold=threshold())})
    return pd.DataFrame(rows)


def _comparison_notes(data: pd.DataFrame, by: str) -> tuple[tuple[str, ...], CoxResult | None]:
    """The log-rank test and Cox warnings as notes, and the Cox model (None, with a note, when not fitted)."""
    notes: list[str] = []
    column = schema.label(by)
    lr = logrank_test(data["time"], data["event"], data[column])
    notes.append(f"Log-rank test: chi-square = {lr.statistic:.2f} on {lr.df} df, {p_phrase(lr.pvalue)}.")
    notes += list(lr.warnings)
    try:
        cox = cox_ph(data, "time", "event", [column])
    except ANALYSIS_ERRORS as exc:
        notes.append(f"Cox model not computed: {exc}")
        return tuple(notes), None
    return tuple(notes + list(cox.warnings)), cox


def _cox_note(e: _Estimates, shown) -> str:
    cox = e.cox
    return (f"Cox model: Efron ties, n = {shown.text(('cox n', e.by), cox.n)}, events = "
            f"{shown.text(('cox events', e.by), cox.n_events)}; model test: likelihood-ratio "
            f"chi-square = {cox.lr_test.statistic:.2f} on {cox.lr_test.df} df, {p_phrase(cox.lr_test.pvalue)}; "
            f"concordance = {cox.concordance:.2f}.")


def _followup(df: pd.DataFrame):
    if schema.OS_MONTHS not in df or schema.OS_EVENT not in df:
        return None
    try:
        return median_followup(df[schema.OS_MONTHS].astype("float64"), df[schema.OS_EVENT].astype("float64"))
    except ANALYSIS_ERRORS:
        return None


def _followup_note(fu, shown) -> str:
    lo, hi = fu.median_ci
    return (f"Median follow-up (reverse Kaplan-Meier): {format_months(fu.median)} months "
            f"(95% CI {format_months(lo)} to {format_months(hi)}), n = {shown.text(('follow-up',), fu.n)}.")


def survival_figure(e: _Estimates, endpoint: str, conf_type: str, subtitle: str, shown, s: Section) -> None:
    """Add one KM figure with its tables to ``s``, each count as ``shown`` (:func:`survival_count_view`) reads."""
    name = schema.ENDPOINTS[endpoint].label
    by = e.by
    title = name + (f" by {in_sentence(schema.label(by))}" if by else "")
    hidden = [label for label in e.curves if e.keys(label)[0] in shown.secondary]
    fig = km_figure(e.curves, title=title, subtitle=subtitle, show_ci=True, risk_table=True, median_lines=False,
                    small_cell_threshold=threshold(),  # as the Survival page draws it under small-cell protection
                    hidden_sizes=hidden)
    fig.update_layout(height=REPORT_FIGURE_HEIGHT)
    n_note = e.overall.note_with(lambda key, n: shown.text(("n", OVERALL) if key == ("used",) else key, n))
    s.add(Figure(fig, f"Kaplan-Meier estimate of {name.lower()}"
                 + (f" by {in_sentence(schema.label(by))}" if by else "")
                 + f" with pointwise 95% confidence bands ({conf_type}) and the number at risk under the time "
                   f"axis; {_censoring_text(threshold())} {n_note}."))
    notes = list(e.notes) + ([_cox_note(e, shown)] if e.cox is not None else [])
    s.table(_summary_table(e, shown), f"{title}: medians and milestone survival", notes)
    if e.cox is not None:
        s.table(hazard_ratio_table(e.cox), f"{title}: Cox proportional-hazards model")


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
    groupings = [by]
    if schema.PRIOR_PD1 in df.columns and df[schema.PRIOR_PD1].dropna().nunique() >= 2:
        groupings.append(schema.PRIOR_PD1)
    estimates: dict = {}
    for grouping in groupings:
        try:
            estimates[grouping] = _estimates(df, endpoint, grouping, conf_type)
        except ANALYSIS_ERRORS as exc:
            estimates[grouping] = exc
    computed = [e for e in estimates.values() if isinstance(e, _Estimates)]
    followup = _followup(df)
    shown = (protected(survival_count_view(computed, len(df), followup, endpoint), "survival") if computed
             else NO_SUPPRESSION)
    for i, grouping in enumerate(groupings):
        if i:
            s.note(schema.ERA_CAVEAT, "callout")
        if isinstance(estimates[grouping], _Estimates):
            survival_figure(estimates[grouping], endpoint, conf_type, subtitle, shown, s)
        else:
            _not_computed(s, name, estimates[grouping])
        if i == 0 and followup is not None:
            s.note(_followup_note(followup, shown))
    s.methods.append(
        f"{name} was estimated with the Kaplan-Meier product-limit method (Kaplan & Meier 1958) with Greenwood "
        f"variance and pointwise 95% confidence intervals on the {conf_type} scale; medians and their CIs follow "
        "R's survfit (Brookmeyer & Crowley 1982); median follow-up used the reverse Kaplan-Meier method "
        "(Schemper & Smith 1996). Groups were compared with the log-rank test (Mantel 1966) and hazard ratios "
        "estimated with a Cox proportional-hazards model (Cox 1972) with Efron ties and Wald 95% CIs; no hazard "
        "ratio is reported when a group has fewer than 5 events or its coefficient diverges (monotone "
        "likelihood), and the likelihood-ratio test is the model test (the Wald test fails under separation).")
    return s
