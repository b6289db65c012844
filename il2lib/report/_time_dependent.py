"""Report section "Response as a time-dependent covariate": the Simon-Makuch figure, the Mantel-Byar test and the
time-dependent Cox hazard ratio (:func:`il2lib.survival.response_time_dependent`), for objective response and for
clinical benefit. The count view and the note are shared with the Survival page's "Response over time" tab.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.figures.simon_makuch import simon_makuch_figure
from il2lib.privacy.disclosure import CountView
from il2lib.report._html import Figure
from il2lib.report._sections import ANALYSIS_ERRORS, Section, _not_computed
from il2lib.report._small_cells import protected, threshold
from il2lib.stats import format_p, p_phrase
from il2lib.survival.time_dependent import MIN_AT_RISK_DEFAULT, TimeDependentResponseResult, response_time_dependent

GROUPINGS = {"response": "objective response", "benefit": "clinical benefit"}
#: Figure height in the report (px), as the Kaplan-Meier figures.
REPORT_FIGURE_HEIGHT = 660


def min_at_risk(small_cell_threshold: int | None) -> int:
    """Patients at risk before the status-1 curve starts: 5, or the small-cell threshold when higher."""
    return max(MIN_AT_RISK_DEFAULT, small_cell_threshold or 0)


def events_by_status(result: TimeDependentResponseResult) -> tuple[int, int]:
    rows = result.rows.rows
    return tuple(int(rows.loc[rows["responded"] == s, "event"].sum()) for s in (0, 1))


def _left_out(result: TimeDependentResponseResult) -> list[tuple[str, int]]:
    excluded = result.excluded
    if not len(excluded):
        return []
    return [(str(r), int(n)) for r, n in excluded.groupby("reason", sort=False).size().items()]


def count_view(result: TimeDependentResponseResult, sidebar_n: int | None = None) -> CountView:
    """The counts shown with the time-dependent analysis, for small-cell protection: patients analysed of all
    (left out by reason; a total equal to ``sidebar_n`` is shown elsewhere and never hidden), those who switch
    (during follow-up, from IL-2 start, only at or after its end) and the events in each status."""
    rows = result.rows
    view = CountView()
    view.add(("used",), rows.n, headline=True)
    view.add(("total",), rows.n_input, headline=True, fixed=rows.n_input == sidebar_n)
    left_out = _left_out(result)
    for why, n in left_out:
        view.add(("left out", why), n)
    view.add_sum(("total",), [("used",), *(("left out", why) for why, _ in left_out)])
    for key, n in ((("switched",), rows.n_switched), (("from start",), rows.n_from_start),
                   (("late status",), rows.n_late_status)):
        view.add(key, n)
        view.add_at_most(key, ("used",))
    e0, e1 = events_by_status(result)
    l0, l1 = result.labels
    view.add(("events",), e0 + e1, headline=True)
    view.add(("events", l0), e0)
    view.add(("events", l1), e1)
    view.add_sum(("events",), [("events", l0), ("events", l1)])
    view.add_at_most(("events",), ("used",))
    view.add_relation({("events", l1): 1.0, ("switched",): -1.0, ("from start",): -1.0}, -np.inf, 0.0)
    return view


def note_with(result: TimeDependentResponseResult, count) -> str:
    """The analysis note (:attr:`il2lib.survival.time_dependent.CountingProcessRows.note`) with each count as
    ``count(key, n)`` writes it (keys of :func:`count_view`, e.g. a small-cell ``Suppression.text``)."""
    rows = result.rows
    l0, l1 = result.labels
    what = "first response (CR/PR)" if rows.grouping == "response" else \
        ("clinical benefit (CR/PR, or SD from the RECIST SD minimum)" if rows.cb_sd_months == 0
         else f"clinical benefit (CR/PR, or SD at {rows.cb_sd_months:g} months)")
    text = (f"{schema.ENDPOINTS[rows.endpoint].label}: {count(('used',), rows.n)} of "
            f"{count(('total',), rows.n_input)} patients; each counts as '{l0}' until the {what} and as '{l1}' "
            f"from then on ({count(('switched',), rows.n_switched)} switched"
            + (f"; {count(('from start',), rows.n_from_start)} from IL-2 start" if rows.n_from_start else "")
            + ").")
    if rows.n_late_status:
        text += (f" {count(('late status',), rows.n_late_status)} reached the status only at or after the end of "
                 "follow-up: no switch.")
    left_out = _left_out(result)
    if left_out:
        text += " Left out: " + "; ".join(f"{count(('left out', why), n)} {why}" for why, n in left_out) + "."
    return text


def hazard_ratio_text(result: TimeDependentResponseResult) -> str:
    """``"0.33 (95% CI 0.17–0.62)"``, or why no hazard ratio is reported."""
    cox = result.cox
    if cox is None:
        return f"not computed: {result.cox_reason}"
    if not cox.reportable:
        return f"not reported: {cox.reason}"
    return f"{cox.hr:.2f} (95% CI {cox.hr_lower:.2f}–{cox.hr_upper:.2f})"


def mantel_byar_sentence(result: TimeDependentResponseResult) -> str:
    """``"Mantel-Byar test: chi-square = 12.72 on 1 df, p < 0.001."``"""
    mb = result.mantel_byar
    if not np.isfinite(mb.statistic):
        return "Mantel-Byar test: not computable (nobody has the status at an event time)."
    return f"Mantel-Byar test: chi-square = {mb.statistic:.2f} on 1 df, {p_phrase(mb.pvalue)}."


def summary_table(result: TimeDependentResponseResult, shown) -> pd.DataFrame:
    """Events by status, the Mantel-Byar test and the hazard ratio (counts as ``shown`` reads them)."""
    mb, cox = result.mantel_byar, result.cox
    l0, l1 = result.labels
    e0, e1 = events_by_status(result)
    hr = cox is not None and cox.reportable
    return pd.DataFrame([
        {"Measure": f"Events while '{l0}'", "Value": shown.text(("events", l0), e0)},
        {"Measure": f"Events while '{l1}' (expected under no difference)",
         "Value": f"{shown.text(('events', l1), e1)} ({mb.expected:.1f})"},
        {"Measure": "Mantel-Byar chi-square (1 df)",
         "Value": f"{mb.statistic:.2f}" if np.isfinite(mb.statistic) else "—"},
        {"Measure": "Mantel-Byar p", "Value": format_p(mb.pvalue) if np.isfinite(mb.pvalue) else "—"},
        {"Measure": f"Hazard ratio, '{l1}' vs '{l0}' (95% CI)",
         "Value": f"{cox.hr:.2f} ({cox.hr_lower:.2f}–{cox.hr_upper:.2f})" if hr else "—"},
        {"Measure": "Hazard ratio p (Wald)", "Value": format_p(cox.pvalue) if hr else "—"}])


def title_text(endpoint: str, grouping: str) -> str:
    return f"{schema.ENDPOINTS[endpoint].label} by {GROUPINGS[grouping]} over time (Simon-Makuch)"


def _add(s: Section, df: pd.DataFrame, endpoint: str, grouping: str, subtitle: str, cb_sd_months: float,
         window_days: float) -> None:
    k = threshold()
    result = response_time_dependent(df, endpoint, grouping, cb_sd_months=cb_sd_months, window_days=window_days,
                                     min_at_risk=min_at_risk(k))
    shown = protected(count_view(result, len(df)), "time-dependent response")
    title = title_text(endpoint, grouping)
    fig = simon_makuch_figure(result, title=title, subtitle=subtitle, show_ci=True, risk_table=True,
                              censor_marks=k is None, small_cell_threshold=k)
    fig.update_layout(height=REPORT_FIGURE_HEIGHT)
    s.add(Figure(fig, f"Simon-Makuch plot (descriptive display) of {schema.ENDPOINTS[endpoint].label.lower()} by "
                      f"{GROUPINGS[grouping]} as a time-dependent status, with the number at risk in each status "
                      "under the time axis; " + ("ticks mark censored patients (not changes of status). " if k is None
                                                 else f"small-cell protection: no censoring ticks, and each curve ends "
                                                      f"before fewer than {k} patients are at risk. ")
                 + note_with(result, shown.text)))
    notes = [mantel_byar_sentence(result),
             f"Time-dependent Cox model (Efron ties, Wald CI): hazard ratio {hazard_ratio_text(result)}."]
    s.table(summary_table(result, shown), f"{title}: Mantel-Byar test and hazard ratio", notes)


def time_dependent_section(df: pd.DataFrame, endpoint: str, subtitle: str,
                           cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                           window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Section | None:
    """The section, or None when the data have no best overall response (nothing to switch on)."""
    if schema.BOR not in df.columns or not df[schema.BOR].isin(schema.RESPONDERS).any():
        return None
    s = Section("time-dependent", "Response as a time-dependent covariate", page_start=True)
    s.note("Survival by response without guarantee-time bias: each patient counts as not (yet) responded until "
           "the response and as responded from then on, so a patient responding at month 10 adds months 0 to 10 to "
           "the non-responders. Comparing patients by their final status instead credits responders with the "
           "time they had to survive to respond. Every patient is kept, without choosing a landmark.")
    for grouping in GROUPINGS:
        try:
            _add(s, df, endpoint, grouping, subtitle, cb_sd_months, window_days)
        except ANALYSIS_ERRORS as exc:
            _not_computed(s, f"Survival by {GROUPINGS[grouping]} as a time-dependent status", exc)
    s.methods.append(
        "Response (and clinical benefit) as a time-dependent covariate: follow-up split at the status change "
        "(counting-process rows as R's survival::tmerge; responders without a date of first response left out); "
        "the Mantel-Byar test is the score test of coxph(Surv(tstart, tstop, event) ~ responded, ties = \"exact\") "
        "(Mantel & Byar 1974), the hazard ratio that of the same model with Efron ties, and the Simon-Makuch "
        "curves (Simon & Makuch 1984) survfit on the same rows, a descriptive display whose responder curve starts "
        f"once {MIN_AT_RISK_DEFAULT} patients are at risk in it.")
    return s
