"""Report section "Models and further comparisons": multivariable Cox with forest plot, pairwise log-rank,
milestone and RMST differences, competing risks, time from the end of PD-1 therapy with delayed entry, and our
cohort beside the published numbers. Every number comes from il2lib; analyses that cannot run on
the data become a plain note.
"""
from __future__ import annotations

import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import versus
from il2lib.analyses.published import CITATIONS, median_overlay, median_overlay_count_view, response_overlay
from il2lib.analyses.response import response_rates
from il2lib.cohort import line_groups
from il2lib.figures.forest_cox import cox_forest_figure
from il2lib.privacy.masking import MASKED_DEPENDENT
from il2lib.report._html import Figure
from il2lib.report._sections import ANALYSIS_ERRORS, Section, _not_computed
from il2lib.report._small_cells import protected, threshold
from il2lib.stats import format_p, p_phrase
from il2lib.survival import format_months
from il2lib.survival.competing import CIF_MONTHS, cumulative_incidence, progression_competing_status
from il2lib.survival.inputs import survival_input
from il2lib.survival.km import TOO_FEW_AT_RISK
from il2lib.survival.milestones import rmst_differences, survival_differences
from il2lib.survival.multivariable import COVARIATES, multivariable_cox
from il2lib.survival.pairwise import pairwise_logrank
from il2lib.survival.time_origin import kaplan_meier_entry, origin_times

COX_COVARIATES = ("age", "sex", "ecog", "disease")


def _cox(s: Section, df: pd.DataFrame, endpoint: str, subtitle: str) -> None:
    covs = [k for k in COX_COVARIATES if COVARIATES[k].column in df.columns]
    model = multivariable_cox(df, endpoint, covs)
    if not model.converged:
        s.note(model.message, "callout")
        return
    t = model.table
    s.add(Figure(cox_forest_figure(t, title=f"{schema.ENDPOINTS[endpoint].label}: multivariable Cox model",
                                   subtitle=subtitle), "Hazard ratios with 95% CI (log scale), multivariable Cox model"))
    shown = pd.DataFrame({"Term": t["term"], "HR (95% CI)": [f"{h:.2f} ({a:.2f} to {b:.2f})" for h, a, b in
                                                             zip(t["hr"], t["hr_lower"], t["hr_upper"])],
                          "p": t["p"].map(format_p)})
    notes = [f"{model.cox.n_note}; {model.n_events} events for {model.n_coefficients} coefficients "
             f"({model.events_per_coefficient:.1f} per coefficient)."]
    if model.overfitted:
        notes.append("Fewer than 10 events per coefficient: the model may be over-fitted.")
    if model.ph is not None and model.ph.warning:
        notes.append(model.ph.warning + " See the milestone and RMST differences below.")
    s.table(shown, "Multivariable Cox model", notes)


def _comparisons(s: Section, df: pd.DataFrame, endpoint: str, by: str | None) -> None:
    data = survival_input(df, endpoint, by)
    time, event = data["time"], data["event"]
    if schema.LINE_OF_IL2 in df.columns:
        try:
            res = pairwise_logrank(time, event, line_groups(df[schema.LINE_OF_IL2]))
            s.table(res.display(), "Pairwise log-rank tests by line of IL-2",
                    ["Each pair tested on its two groups; Holm and Benjamini-Hochberg adjustment over the pairs."])
        except ANALYSIS_ERRORS as exc:
            _not_computed(s, "Pairwise log-rank tests", exc)
    if by is None:
        return
    group = data["group"]
    try:
        milestones = survival_differences(time, event, group, [12.0, 24.0])
        ms, (_, few) = milestones.differences, milestones.too_few_at_risk(threshold())
        rm = rmst_differences(time, event, group)
        rows = [{"Comparison": versus(g, r), "Measure": f"Survival at {t:g} months",
                 "Difference (95% CI)": TOO_FEW_AT_RISK if small  # fewer than k at risk in a group: no estimate
                 else f"{100 * d:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f}) % points",
                 "p": TOO_FEW_AT_RISK if small else format_p(p)} for g, r, t, d, lo, hi, p, small in
                zip(ms["group"], ms["reference"], ms["time"], ms["difference"], ms["ci_lower"], ms["ci_upper"], ms["p"],
                    few)]
        rows += [{"Comparison": versus(g, r), "Measure": f"RMST to {rm.tau:.1f} months",
                  "Difference (95% CI)": f"{d:+.1f} ({lo:+.1f} to {hi:+.1f}) months", "p": format_p(p)}
                 for g, r, d, lo, hi, p in zip(rm.differences["group"], rm.differences["reference"],
                                                rm.differences["difference"], rm.differences["ci_lower"],
                                                rm.differences["ci_upper"], rm.differences["p"])]
        s.table(pd.DataFrame(rows), "Milestone survival and RMST differences",
                ["Kaplan-Meier with Greenwood SE; RMST with R's standard error; normal-approximation CIs. "
                 "Neither assumes proportional hazards."])
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Milestone and RMST differences", exc)


def _competing_and_origin(s: Section, df: pd.DataFrame, by: str | None) -> None:
    try:
        time, status = progression_competing_status(df)
        group = df[by].map(schema.DISEASE_LABELS) if by == schema.DISEASE else None
        cr = cumulative_incidence(time, status, group, event_label="Progression",
                                  competing_label="Death without progression")
        at = cr.at(CIF_MONTHS)
        few = cr.too_few_at_risk(CIF_MONTHS, threshold())  # no estimate where fewer than k remain at risk
        at["CIF, % (95% CI)"] = [TOO_FEW_AT_RISK if small else f"{100 * c:.1f} ({100 * a:.1f} to {100 * b:.1f})"
                                 for c, a, b, small in zip(at["cif"], at["ci_lower"], at["ci_upper"], few)]
        notes = [f"Aalen-Johansen; {cr.n_note}."]
        if cr.gray is not None:
            notes.append(f"Gray's test for progression: chi-square {cr.gray.statistic:.2f}, {cr.gray.df} df, "
                         f"{p_phrase(cr.gray.pvalue)}.")
        elif cr.gray_note:
            notes.append(cr.gray_note)
        s.table(at[["group", "event", "time", "CIF, % (95% CI)"]].rename(
            columns={"group": "Group", "event": "Event", "time": "Months"}), "Cumulative incidence (competing risks)",
            notes)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Cumulative incidence", exc)
    try:
        o = origin_times(df, "os", "pd1_end")
        km = kaplan_meier_entry(o.entry, o.time, o.event)
        s.note(f"Overall survival from the end of PD-1/PD-L1 therapy (delayed entry at IL-2 start): median "
               f"{format_months(km.median)} months (95% CI {format_months(km.median_ci[0])} to {format_months(km.median_ci[1])}); {o.note}")
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Survival from the end of PD-1/PD-L1 therapy", exc)


def _published(s: Section, df: pd.DataFrame, cb_sd_months: float,
               window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> None:
    try:
        over = response_overlay(response_rates(df, schema.DISEASE))
        s.table(pd.DataFrame({"Source": over["source"], "Disease": over["group"],
                              "Responders / n": [f"{x}/{n}" for x, n in zip(over["responders"], over["n"])],
                              "ORR, % (95% CI)": [f"{100 * r:.1f} ({100 * a:.1f} to {100 * b:.1f})" for r, a, b in
                                                  zip(over["rate"], over["ci_lower"], over["ci_upper"])]}),
                "Objective response: our cohort vs published", [CITATIONS["buchbinder2019"].full,
                                                               "Published CIs are computed from published counts."],
                cohort_rows=over["source"] == "Our cohort")  # published numbers are shown as printed
        med = median_overlay(df, cb_sd_months, window_days)
        shown = protected(median_overlay_count_view(df, med, threshold()), "published medians")
        keys = [("our n", d, g) for d, g in zip(med["disease"], med["group"])]
        s.table(pd.DataFrame({"Disease": med["disease"], "Group": med["group"],
                              "Our n": [shown.text(k, n) for k, n in zip(keys, med["our_n"])],
                              "Our median OS, months": [
                                  MASKED_DEPENDENT if k in shown.primary  # a median beside a "<k", as elsewhere
                                  else f"{format_months(m)} ({format_months(a)} to {format_months(b)})"
                                  for k, m, a, b in zip(keys, med["our_median"], med["our_lower"], med["our_upper"])],
                              "Published median": med["published_text"]}),
                "Median OS from IL-2 start by clinical benefit: our cohort vs published",
                [CITATIONS["springerplus2015"].full, "Both from IL-2 start (guarantee-time bias; no landmark)."])
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Published comparison", exc)


def models_section(df: pd.DataFrame, endpoint: str, by: str | None, subtitle: str,
                   cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                   window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Section:
    """The "Models and further comparisons" section of the meeting report."""
    s = Section("models", "Models and further comparisons", page_start=True)
    try:
        _cox(s, df, endpoint, subtitle)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Multivariable Cox model", exc)
    _comparisons(s, df, endpoint, by)
    _competing_and_origin(s, df, by)
    _published(s, df, cb_sd_months, window_days)
    s.methods.append("Multivariable Cox model (Efron ties) with the cox.zph proportional-hazards test; pairwise "
                     "log-rank tests with Holm and Benjamini-Hochberg adjustment; milestone survival and RMST "
                     "differences with normal-approximation CIs; Aalen-Johansen cumulative incidence with Gray's test; "
                     "Kaplan-Meier with delayed entry for time from the end of PD-1/PD-L1 therapy.")
    return s
