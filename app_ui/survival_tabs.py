"""Tab bodies of the Survival page's "Models and further comparisons" (see :mod:`app_ui.survival_sections`)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from app_ui import cached, figures
from app_ui.cached import attempt
from app_ui.code_panel import show_code
from app_ui.downloads import chart_config, download_figure, table_with_downloads
from app_ui.markdown import md_escape
from app_ui.response_sections import PUBLISHED_KEY
from app_ui.session_cache import data_cache
from app_ui.survival_view import (MILESTONE_CHOICES, ORIGINS, cached_figure, comparison, curves_count_view, endpoint_by,
                                  rmst_display)
from app_ui.widgets import by_text, empty_state, format_p, url_toggle
from il2lib import schema
from il2lib.analyses._grouping import versus
from il2lib.analyses.published import CITATIONS, median_overlay, median_overlay_count_view
from il2lib.cohort import benefit_rule_text
from il2lib.export.snippets import (cif_snippet, cox_snippet, milestone_snippet, time_dependent_snippet,
                                    time_origin_snippet)
from il2lib.figures.cif import cif_figure
from il2lib.figures.export_layout import file_stem
from il2lib.figures.forest_cox import cox_forest_figure
from il2lib.figures.km import km_figure
from il2lib.figures.published import published_comparison_figure
from il2lib.figures.simon_makuch import simon_makuch_figure
from il2lib.privacy.disclosure import NO_SUPPRESSION, CountView, Suppression
from il2lib.privacy.masking import MASKED_DEPENDENT
from il2lib.report import _time_dependent as td
from il2lib.survival import format_months, kaplan_meier
from il2lib.survival.competing import CIF_MONTHS, cumulative_incidence, progression_competing_status
from il2lib.survival.cox import OVERFITTING
from il2lib.survival.inputs import survival_input
from il2lib.survival.km import TOO_FEW_AT_RISK
from il2lib.survival.multivariable import COVARIATES, DEFAULT_COVARIATES, PROPORTIONAL_HAZARDS
from il2lib.survival.time_origin import kaplan_meier_entry, logrank_entry, origin_times

# The il2lib.figures builders are imported where a figure is drawn: plotly takes about a second to import.


def cox_tab(ctx, endpoint: str) -> None:
    masking = ctx.masking
    available = [k for k, c in COVARIATES.items() if c.column in ctx.data.columns]
    chosen = st.multiselect("Covariates", available, default=[k for k in DEFAULT_COVARIATES if k in available],
                            format_func=lambda k: COVARIATES[k].label, key="mv_covariates")
    if not chosen:
        empty_state("Choose at least one covariate.")
        return
    computed = comparison(ctx.cache_key, "cox", ctx.data, endpoint, None, tuple(chosen))
    if not computed.ok:
        empty_state(f"The model could not be fitted: {md_escape(computed.message)}")
        return
    model = computed.value
    if not model.converged:
        st.warning(md_escape(model.message), icon=":material/error:")
        return
    table = model.table
    shown = pd.DataFrame({"Term": table["term"],
                          "HR (95% CI)": [f"{h:.2f} ({lo:.2f}–{hi:.2f})" for h, lo, hi in
                                          zip(table["hr"], table["hr_lower"], table["hr_upper"])],
                          "p": table["p"].map(format_p)})
    left, right = st.columns([1.6, 1.2])
    with left:
        title, subtitle = ctx.figure_titles(f"{schema.ENDPOINTS[endpoint].label}: multivariable Cox model")
        fig = cached_figure(("cox_forest", ctx.cache_key, endpoint, tuple(chosen), title, subtitle,
                             ctx.presentation),
                            lambda: cox_forest_figure(table, title=title, subtitle=subtitle,
                                                      presentation=ctx.presentation))
        fig = masking.figure(fig)
        st.plotly_chart(fig, width="stretch", key="cox_forest_chart", config=chart_config())
        download_figure(fig, f"cox_forest_{endpoint}", key="cox_forest_chart",
                        file_name=file_stem(f"cox_forest_{endpoint}", None, ctx.filter))
    with right:
        note = masking.text(f"{model.cox.n_note}; {model.n_events} events, {model.n_coefficients} coefficients "
                            f"({model.events_per_coefficient:.1f} events per coefficient). Efron ties; Wald CIs.")
        table_with_downloads(ctx, shown, "cox_hr_table", f"cox_multivariable_{endpoint}",
                             f"{schema.ENDPOINTS[endpoint].label}: multivariable Cox model, hazard ratios", [note])
        st.caption(md_escape(note))
    if model.overfitted:
        st.warning(f"Over-fitting risk: {model.events_per_coefficient:.1f} events per coefficient, fewer than about "
                   "10. Hazard ratios may be exaggerated and unstable: drop covariates or pool groups.",
                   icon=":material/warning:")
    if model.ph is not None:
        ph = model.ph.table.assign(p=model.ph.table["p"].map(format_p), chisq=model.ph.table["chisq"].round(2))
        with st.expander("Proportional-hazards check (cox.zph score test, KM transform)"):
            table_with_downloads(ctx, ph.rename(columns={"term": "Term", "chisq": "Chi-square", "df": "df"}),
                                 "cox_ph_table", f"cox_ph_check_{endpoint}",
                                 f"{schema.ENDPOINTS[endpoint].label}: proportional-hazards check of the multivariable "
                                 "Cox model (cox.zph score test, KM transform)")
        if model.rmst_suggested:
            st.warning(md_escape("Proportional hazards questionable for: " + ", ".join(model.ph_violated)
                                 + ". Hazard ratios are averages over time; see the Milestones & RMST tab, which "
                                 "does not assume proportional hazards."), icon=":material/warning:")
    for note in model.warnings:  # over-fitting and proportional hazards have their own boxes above
        if getattr(note, "kind", "") not in (OVERFITTING, PROPORTIONAL_HAZARDS):
            st.caption(md_escape(note))
    show_code(cox_snippet(endpoint, chosen), ctx, "cox")


def milestones_tab(ctx, endpoint: str, by: str | None, view) -> None:
    if by is None or view.landmark is not None:
        empty_state("Choose a grouping (not a landmark view) above to compare milestones and RMST between groups.")
        return
    if view.ph_violated:
        st.info("Offered because the proportional-hazards check failed for this grouping: milestone differences "
                "and RMST differences need no PH assumption.", icon=":material/insights:")
    times = st.multiselect("Milestones (months)", MILESTONE_CHOICES, default=[12.0, 24.0], key="ms_times",
                           format_func=lambda t: f"{t:g}")
    tau = st.number_input("RMST horizon tau (months; 0 = shortest follow-up of the groups)", min_value=0.0,
                          max_value=240.0, value=0.0, step=6.0, key="rmst_tau")
    if times:
        computed = comparison(ctx.cache_key, "milestones", ctx.data, endpoint, by, tuple(sorted(times)), view.order)
        if computed.ok:
            res = computed.value
            few, few_diff = res.too_few_at_risk(ctx.masking.threshold if ctx.masking.on else None)
            per = res.per_group.assign(label=lambda d: ["—" if pd.isna(s) else TOO_FEW_AT_RISK if small
                                                        else f"{100 * s:.0f}% ({100 * lo:.0f}–{100 * hi:.0f})"
                                                        for s, lo, hi, small in
                                                        zip(d["survival"], d["ci_lower"], d["ci_upper"], few)])
            wide = per.pivot(index="group", columns="time", values="label")
            wide.columns = [f"{t:g} mo" for t in wide.columns]
            table_with_downloads(ctx, wide.reset_index().rename(columns={"group": "Group"}), "milestone_table",
                                 f"milestones_{endpoint}_by_{by}",
                                 f"Survival at milestones, % (95% CI): {endpoint_by(endpoint, by)}")
            diff = pd.DataFrame({"Comparison": [versus(g, res.reference) for g in res.differences["group"]],
                                 "Time": [f"{t:g} mo" for t in res.differences["time"]],
                                 "Difference, % points (95% CI)": [
                                     "—" if pd.isna(d) else TOO_FEW_AT_RISK if small
                                     else f"{100 * d:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})"
                                     for d, lo, hi, small in zip(res.differences["difference"],
                                                                 res.differences["ci_lower"],
                                                                 res.differences["ci_upper"], few_diff)],
                                 "p": [TOO_FEW_AT_RISK if small else format_p(p)
                                       for p, small in zip(res.differences["p"], few_diff)]})
            table_with_downloads(ctx, diff, "milestone_diff_table", f"milestone_differences_{endpoint}_by_{by}",
                                 f"Differences in survival at milestones vs {res.reference}: "
                                 f"{endpoint_by(endpoint, by)}")
        else:
            empty_state(md_escape(computed.message))
    computed = comparison(ctx.cache_key, "rmst", ctx.data, endpoint, by, (tau or None,), view.order)
    if computed.ok:
        note = (f"RMST = area under the Kaplan-Meier curve up to {computed.value.tau:.1f} months (R's print(fit, "
                "rmean = tau) standard error); differences and CIs by the normal approximation.")
        table_with_downloads(ctx, rmst_display(computed.value), "rmst_table",
                             f"rmst_{endpoint}_by_{by}_tau_{computed.value.tau:.1f}",
                             f"Restricted mean survival time to {computed.value.tau:.1f} months: "
                             f"{endpoint_by(endpoint, by)}", [note])
        st.caption(note)
    else:
        empty_state(f"RMST not available: {md_escape(computed.message)}")
    show_code(milestone_snippet(endpoint, by, tuple(sorted(times)) or (12.0,), tau or None), ctx, "milestones")


@data_cache(max_entries=32, max_size="64MB")
def _competing(key: tuple, _df: pd.DataFrame, by: str | None):
    def run():
        time, status = progression_competing_status(_df)
        group = survival_input(_df, "pfs", by)["group"] if by else None
        return cumulative_incidence(time, status, group, event_label="Progression",
                                    competing_label="Death without progression")
    return attempt(run)


def competing_tab(ctx, by: str | None) -> None:
    masking = ctx.masking
    if schema.PFS_MONTHS not in ctx.data.columns:
        empty_state("Competing risks need progression-free times (pfs_months).")
        return
    computed = _competing(ctx.cache_key, ctx.data, by)
    if not computed.ok:
        empty_state(f"Cumulative incidence not available: {md_escape(computed.message)}")
        return
    res = computed.value
    title, subtitle = ctx.figure_titles("Cumulative incidence of progression (death without progression competing)")
    k = masking.threshold if masking.on else None
    fig = cached_figure(("cif", ctx.cache_key, by, title, subtitle, ctx.presentation, k),
                        lambda: cif_figure(res, title=title, subtitle=subtitle if res.gray is None else "",
                                           presentation=ctx.presentation, hover_counts=not masking.on,
                                           small_cell_threshold=k))
    st.plotly_chart(fig, width="stretch", key="cif_chart", config=chart_config())
    download_figure(fig, "cif_progression" + (f"_by_{by}" if by else ""), key="cif_chart",
                    file_name=file_stem("cif_progression", by, ctx.filter))
    at = res.at(CIF_MONTHS)
    few = res.too_few_at_risk(CIF_MONTHS, k)  # no estimate where fewer than k remain at risk
    at["CIF, % (95% CI)"] = ["—" if pd.isna(c) else TOO_FEW_AT_RISK if small
                             else f"{100 * c:.1f} ({100 * lo:.1f}–{100 * hi:.1f})"
                             for c, lo, hi, small in zip(at["cif"], at["ci_lower"], at["ci_upper"], few)]
    n_comp = sum(r.n_events for r in res.competing_cif.values())
    text = (f"Aalen-Johansen estimate; {masking.text(res.n_note)}; {masking.count(n_comp)} deaths without "
            "progression. "
            "Unlike 1 - KM of PFS with deaths censored, it does not overstate the risk of progression.")
    if res.gray is not None:
        text += (f" Gray's test: chi-square {res.gray.statistic:.2f} on {res.gray.df} df, {format_p(res.gray.pvalue)}.")
    table_with_downloads(ctx, at[["group", "event", "time", "CIF, % (95% CI)"]].rename(
        columns={"group": "Group", "event": "Event", "time": "Months"}), "cif_table",
        "cif_progression" + (f"_by_{by}" if by else ""),
        "Cumulative incidence of progression and of death without progression at 6, 12, 24 months"
        + (f" by {by_text(by)}" if by else ""), [text])
    st.caption(md_escape(text))
    if res.gray_note:
        st.info(md_escape(res.gray_note), icon=":material/hourglass_disabled:")
    if n_comp == 0:
        st.info("No death without progression under the current filters: the cumulative incidence of progression "
                "equals 1 - Kaplan-Meier of PFS here.", icon=":material/info:")
    masking.caption()
    show_code(cif_snippet(by), ctx, "cif")


@data_cache(max_entries=32, max_size="64MB")
def _origin(key: tuple, _df: pd.DataFrame, endpoint: str, origin: str, by: str | None, conf_type: str):
    def run():
        o = origin_times(_df, endpoint, origin)
        group = survival_input(_df, endpoint, by)["group"].to_numpy()[o.keep] if by else None
        km = kaplan_meier_entry(o.entry, o.time, o.event, by=group, conf_type=conf_type)
        naive = kaplan_meier(o.time, o.event, conf_type=conf_type, by=group)
        test = logrank_entry(o.entry, o.time, o.event, group) if by and len(km) >= 2 else None
        return o, km, naive, test
    return attempt(run)


def _origin_shown(ctx, o, curves: dict, key: tuple, page_shown) -> Suppression:
    """How the tab's counts read under small-cell protection: its own count view (group sizes, n of N, delayed
    entry) with complements, and hidden as well every count the page's survival view hid (``page_shown``,
    same keys): next to it, the same count shown here would give it back."""
    def build():
        view = curves_count_view(curves, o.n, o.n_input, o.excluded, ctx.n, events=False)
        view.add(("delayed entry",), o.n_truncated)
        view.add_sum(("delayed entry",), [("used",)])  # kept when every patient enters late (an origin before IL-2)
        view.add_at_most(("delayed entry",), ("used",))
        return view

    shown = ctx.masking.protect(build, key)
    if shown is NO_SUPPRESSION:
        return shown
    counts = {("n", g): r.n for g, r in curves.items()} | {("used",): o.n, ("total",): o.n_input}
    counts |= {("left out", why): n for why, n in o.excluded}
    extra = {k for k, n in counts.items() if n > 0 and k in page_shown.hidden and k not in shown.hidden}
    return dataclasses.replace(shown, secondary=shown.secondary | extra) if extra else shown


def origin_tab(ctx, endpoint: str, by: str | None, conf_type: str, page_shown=NO_SUPPRESSION) -> None:
    masking = ctx.masking
    if endpoint not in ("os", "pfs"):
        empty_state("The time origin applies to overall and progression-free survival.")
        return
    origin = st.radio("Measure time from", list(ORIGINS), format_func=ORIGINS.get, horizontal=True, key="origin")
    st.caption("End of PD-1/PD-L1 therapy uses date_last_pd1; diagnosis needs an optional date_diagnosis column. "
               "An optional date_registry_entry column delays entry for patients registered after IL-2 start.")
    computed = _origin(ctx.cache_key, ctx.data, endpoint, origin, by, conf_type)
    if not computed.ok:
        empty_state(f"Not available from this origin: {md_escape(computed.message)}")
        return
    o, km, naive, test = computed.value
    curves = {"All patients": km} if by is None else dict(km.items())
    shown = _origin_shown(ctx, o, curves, ("survival origin", ctx.cache_key, endpoint, origin, by), page_shown)
    st.metric("Patients with delayed entry (left-truncated)", shown.text(("delayed entry",), o.n_truncated),
              help="Observed only from IL-2 start or registry entry, after the chosen origin")
    origin_text = ORIGINS[origin].split(" (")[0]
    origin_text = origin_text if origin_text[1:2].isupper() else origin_text[0].lower() + origin_text[1:]  # "IL-2"
    title, subtitle = ctx.figure_titles(f"{schema.ENDPOINTS[endpoint].label} from {origin_text}")
    k = masking.threshold if masking.on else None
    hidden = tuple(g for g in curves if ("n", g) in shown.secondary)
    fig = cached_figure(("origin_km", ctx.cache_key, endpoint, origin, by, conf_type, title, subtitle,
                         ctx.presentation, k, hidden),
                        lambda: km_figure(curves, title=title, subtitle=subtitle, presentation=ctx.presentation,
                                          time_label=f"Months since {origin_text}", small_cell_threshold=k,
                                          hidden_sizes=hidden))
    st.plotly_chart(masking.figure(fig), width="stretch", key="origin_chart", config=chart_config())
    download_figure(fig, f"{endpoint}_from_{origin}" + (f"_by_{by}" if by else ""), key="origin_chart",
                    file_name=file_stem(f"km_{endpoint}_from_{origin}", by, ctx.filter))
    naive_curves = {"All patients": naive} if by is None else dict(naive.items())
    rows = [{"Group": g, "n": shown.text(("n", g), r.n) if masking.on else r.n,
             "Median, months (95% CI)": r.median_text(),
             "Median ignoring delayed entry": format_months(naive_curves[g].median)} for g, r in curves.items()]
    note = o.note_with(shown.text) + (
        f" Log-rank with delayed entry: chi-square {test.statistic:.2f}, {format_p(test.pvalue)}."
        if test is not None else "")
    table_with_downloads(ctx, masking.table(pd.DataFrame(rows)), "origin_table",
                         f"{endpoint}_from_{origin}" + (f"_by_{by}" if by else ""),
                         f"{schema.ENDPOINTS[endpoint].label} from {origin_text}: medians with delayed entry"
                         + (f", by {by_text(by)}" if by else ""), [note])
    st.caption(md_escape(note))
    masking.caption()
    show_code(time_origin_snippet(endpoint, origin, by), ctx, "origin")


#: The published groups as the survival view labels clinical benefit (``km_by=clinical_benefit``).
_BENEFIT_LABELS = {"Clinical benefit": "Yes", "No clinical benefit": "No"}


def _published_count_view(ctx, table: pd.DataFrame, view, page_shown) -> CountView:
    """The tab's counts (our n by disease and clinical benefit) with the page's survival view: its shown counts
    are known, and on overall survival from IL-2 start the curves' n and the n used hold the same patients as
    the tab's groups, so a count the page hides is not given back here."""
    out = median_overlay_count_view(ctx.data, table, ctx.masking.threshold)
    if view is None:
        return out
    page = view.count_view(sidebar_n=ctx.n)
    page.fixed |= {k for k in page.counts if k not in page_shown.hidden}
    out = out.merge(page)
    if view.endpoint != "os" or view.landmark is not None:
        return out
    cells = {("our n", d, g): n for d, g, n in zip(table["disease"], table["group"], table["our_n"])}

    def contains(total, parts):  # the parts are some of the total's patients (all of them when they add up)
        if sum(cells[k] for k in parts) == out.counts[total]:
            out.add_sum(total, parts)
        else:
            out.add_relation({**dict.fromkeys(parts, 1.0), total: -1.0}, -np.inf, 0.0)

    contains(("used",), list(cells))
    for label in view.curves:
        parts = [k for k in cells if (view.by == schema.DISEASE and k[1] == label)
                 or (view.by == schema.CLINICAL_BENEFIT and _BENEFIT_LABELS.get(k[2]) == label)]
        if parts:
            contains(("n", label), parts)
    return out


def published_tab(ctx, endpoint: str, view=None, page_shown=NO_SUPPRESSION) -> None:
    """Our median OS by disease and clinical benefit beside the published medians. ``view``, ``page_shown``: the
    page's survival view and how it shows its counts (what it hides stays hidden here)."""
    masking = ctx.masking
    if not url_toggle(PUBLISHED_KEY, "Show published results (our cohort vs the community series)", False):
        st.caption("Optional layer: published medians beside this cohort's.")
        return
    table = median_overlay(ctx.data, ctx.cb_sd_months, ctx.assessment_window_days)
    page = None if view is None else (view.by, getattr(view.landmark, "landmark_months", None))
    counts = masking.protect(lambda: _published_count_view(ctx, table, view, page_shown),
                             ("survival published", ctx.cache_key, endpoint, page, ctx.cb_sd_months,
                              ctx.assessment_window_days))
    keys = [("our n", d, g) for d, g in zip(table["disease"], table["group"])]
    label = [f"{d}: {g}" for d, g in zip(table["disease"], table["group"])]
    ours = pd.DataFrame({"group": label, "source": "Our cohort", "estimate": table["our_median"],
                         "lower": table["our_lower"], "upper": table["our_upper"], "published": False,
                         "label": [f"(n = {n})" for n in table["our_n"]]})
    pub = pd.DataFrame({"group": label, "source": CITATIONS["springerplus2015"].series,
                        "estimate": table["published_median"], "lower": float("nan"), "upper": float("nan"),
                        "published": True, "label": table["published_text"]})
    title, subtitle = ctx.figure_titles("Median overall survival from IL-2 start: our cohort vs published")
    rows = pd.concat([ours, pub]).sort_index(kind="stable")  # each group: ours, then published
    fig = published_comparison_figure(rows, x_label="Median OS, months (95% CI)",
                                      title=title, subtitle=subtitle, presentation=ctx.presentation,
                                      hover_counts=not masking.on)
    st.plotly_chart(fig, width="stretch", key="published_median_chart", config=chart_config())
    download_figure(fig, "median_os_vs_published", key="published_median_chart",
                    file_name=file_stem("median_os_vs_published", None, ctx.filter))
    shown = pd.DataFrame({"Disease": table["disease"], "Group": table["group"],
                          "Our n": [counts.text(k, n) for k, n in zip(keys, table["our_n"])] if masking.on
                          else table["our_n"],
                          "Our median, months (95% CI)": [
                              MASKED_DEPENDENT if k in counts.primary  # a median beside a "<k", as elsewhere
                              else f"{format_months(m)} ({format_months(lo)}–{format_months(hi)})"
                              for k, m, lo, hi in zip(keys, table["our_median"], table["our_lower"],
                                                      table["our_upper"])],
                          "Published median": table["published_text"]})
    table_with_downloads(ctx, masking.table(shown, dependent=["Our median, months (95% CI)"]),
                         "published_median_table", "median_os_vs_published",
                         "Median overall survival from IL-2 start by disease and group: our cohort vs the published "
                         "series", [f"Published: {CITATIONS['springerplus2015'].full}"])
    st.caption(md_escape(f"Published: {CITATIONS['springerplus2015'].full} Medians from IL-2 start as printed "
                         "(no CI published). Ours use the same view (no landmark), so both carry guarantee-time bias; "
                         f"clinical benefit here = {benefit_rule_text(ctx.cb_sd_months, ctx.assessment_window_days)} "
                         "(the paper's rule is not published)."))
    masking.caption()


#: What the "Response over time" tab compares, when the page's grouping is not objective response or benefit.
TIME_DEPENDENT_GROUPINGS = {"response": "Objective response (CR/PR)", "benefit": "Clinical benefit"}


def time_dependent_grouping(by: str | None) -> str | None:
    """"response" or "benefit" when the page groups by objective response or clinical benefit, else None."""
    return {schema.OBJECTIVE_RESPONSE: "response", schema.CLINICAL_BENEFIT: "benefit"}.get(by)


def time_dependent_tab(ctx, endpoint: str, by: str | None, conf_type: str) -> None:
    """Response (or clinical benefit) as a time-dependent covariate: the Simon-Makuch figure, the Mantel-Byar test,
    the time-dependent Cox hazard ratio and who was left out."""
    masking = ctx.masking
    if endpoint not in ("os", "pfs"):
        empty_state("Response as a time-dependent covariate applies to overall and progression-free survival.")
        return
    grouping = time_dependent_grouping(by)
    if grouping is None:
        grouping = st.radio("Status that changes over time", list(TIME_DEPENDENT_GROUPINGS),
                            format_func=TIME_DEPENDENT_GROUPINGS.get, horizontal=True, key="td_status")
    k = masking.threshold if masking.on else None
    computed = cached.time_dependent_response(ctx.cache_key, ctx.data, endpoint, grouping, conf_type,
                                              ctx.cb_sd_months, ctx.assessment_window_days, td.min_at_risk(k))
    if not computed.ok:
        empty_state(f"Not available: {md_escape(computed.message)}")
        return
    res = computed.value
    l0, l1 = res.labels
    st.caption(md_escape(
        f"Each patient counts as '{l0}' until the change and as '{l1}' from then on: a patient who responds at "
        f"month 10 adds months 0 to 10 to '{l0}' and only the time after month 10 to '{l1}'. Grouping patients by "
        "their final status would credit responders with the months they had to survive to respond "
        "(guarantee-time bias); this keeps every patient, without choosing a landmark. The landmark view above "
        "stays the default."))
    shown = masking.protect(lambda: td.count_view(res, ctx.n),
                            ("time-dependent response", ctx.cache_key, endpoint, grouping, k))
    note = td.note_with(res, shown.text)
    mb_sentence, hr_text = td.mantel_byar_sentence(res), masking.text(td.hazard_ratio_text(res))
    title, subtitle = ctx.figure_titles(td.title_text(endpoint, grouping))
    fig = cached_figure(("simon_makuch", ctx.cache_key, endpoint, grouping, conf_type, title, subtitle,
                         ctx.presentation, k),
                        lambda: simon_makuch_figure(res, title=title, subtitle=subtitle, censor_marks=k is None,
                                                    presentation=ctx.presentation, small_cell_threshold=k))
    figures.plotly_chart(masking.figure(fig), "td_chart")
    download_figure(fig, f"simon_makuch_{endpoint}_{grouping}", key="td_chart",
                    file_name=figures.stem(ctx, f"simon_makuch_{endpoint}", f"{grouping}_over_time"),
                    footnote=f"{mb_sentence} Time-dependent Cox hazard ratio, '{l1}' vs '{l0}': {hr_text}. {note}")
    st.caption(md_escape(note))
    masking.caption()
    left, right = (st.container(), st.container()) if ctx.presentation else st.columns([1, 1.4])
    with left:
        mb = res.mantel_byar
        st.metric("Mantel-Byar test", format_p(mb.pvalue) if np.isfinite(mb.pvalue) else "—",
                  help="Score test of coxph(Surv(tstart, tstop, event) ~ responded, ties = \"exact\"): the test that "
                       "goes with this plot (the curves are a descriptive display).")
        st.caption(md_escape(mb_sentence))
        if res.cox is not None and res.cox.reportable:
            st.metric(f"Hazard ratio, {l1} vs {l0}", f"{res.cox.hr:.2f}",
                      help="Cox model on the same rows, Efron ties, Wald 95% CI")
            st.caption(md_escape(f"Time-dependent Cox model (Efron ties): hazard ratio {hr_text}, "
                                 f"Wald {format_p(res.cox.pvalue)}."))
        else:
            st.info(md_escape(f"Hazard ratio {hr_text}"), icon=":material/info:")
    with right:
        table_with_downloads(ctx, masking.table(td.summary_table(res, shown)), "td_table",
                             f"time_dependent_{grouping}_{endpoint}",
                             f"{td.title_text(endpoint, grouping)}: Mantel-Byar test and hazard ratio",
                             [mb_sentence, note])
    excluded = res.excluded
    if len(excluded):
        if masking.on:
            st.caption("The patients left out are not listed while small-cell protection is on (one row per "
                       "patient); the note above counts them by reason.")
        else:
            st.markdown("**Patients left out**")
            table_with_downloads(ctx, excluded.rename(columns={"patient_id": "Patient", "reason": "Reason"}),
                                 "td_excluded", f"time_dependent_{grouping}_{endpoint}_left_out",
                                 f"{td.title_text(endpoint, grouping)}: patients left out")
    show_code(time_dependent_snippet(endpoint, grouping, ctx.cb_sd_months, window_days=ctx.assessment_window_days),
              ctx, "time_dependent")
