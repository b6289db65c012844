"""Response page: best overall response, ORR / CBR / DCR with exact CIs and the group comparison (with
ORR and CBR by group as a figure), ORR forest plot by subgroup, tumour burden (waterfall and spider plots), swimmer
plot and duration of response."""
from __future__ import annotations

import math

import streamlit as st

from app_ui import cached, figures, response_sections
from app_ui.code_panel import code_for
from app_ui.downloads import download_table
from app_ui.frame import frame
from app_ui.markdown import md_escape
from app_ui.registry import response_from_counts
from app_ui.widgets import empty_state, show_table, url_choice, url_number, used_note
from il2lib import schema
from il2lib.analyses.response import OUTCOME_LABELS
from il2lib.cohort import benefit_rule_text
from il2lib.validation.recist import VIEW_LABELS

ctx = frame("Response")
ctx.require_data(from_counts=response_from_counts)

GROUPINGS = [None, *schema.COMPARISON_GROUPINGS]
DENOMINATORS = {"itt": "All treated (ITT)", "evaluable": "Evaluable only (NE left out)"}
CI_METHODS = {"exact": "Clopper-Pearson exact", "wilson": "Wilson score"}


def excluded_reasons(excluded) -> dict[str, int]:
    if excluded is None or len(excluded) == 0 or "reason" not in excluded:
        return {}
    return excluded["reason"].value_counts().to_dict()


def options() -> tuple[str | None, str, str, float]:
    a, b, c, d = st.columns(4)
    available = [g for g in GROUPINGS if g is None or g in ctx.data.columns]
    by = url_choice("resp_by", "Compare groups", available, schema.DISEASE if schema.DISEASE in available else None,
                    format_func=lambda g: "No grouping" if g is None else schema.label(g), container=a)
    denominator = url_choice("denom", "Denominator", list(DENOMINATORS), "itt", format_func=DENOMINATORS.get,
                             container=b)
    ci_method = url_choice("ci_method", "Confidence interval", list(CI_METHODS), "exact",
                           format_func=CI_METHODS.get, container=c)
    sd_minimum = url_number("sd_min", "SD minimum, weeks", float(schema.SD_MINIMUM_WEEKS_DEFAULT), min_value=0.0,
                            max_value=26.0, step=1.0, container=d,
                            help="RECIST 1.1: SD counts (for DCR) only from this time after IL-2 start; a shorter "
                                 "SD counts as PD if progression followed, else NE. 0 = no minimum.")
    return by, denominator, ci_method, sd_minimum


def computed_results(by: str | None, denominator: str, ci_method: str, sd_minimum: float, order=None) -> dict:
    """The page's results (each a ``Computed``): the table, rates, forest rows and DoR share one count view;
    ``order``: the groups, the reference first."""
    return {"bor": cached.best_response(ctx.cache_key, ctx.data, by, sd_minimum, ctx.assessment_window_days,
                                        order),
            "rates": cached.response_rates(ctx.cache_key, ctx.data, by, ctx.cb_sd_months, denominator, ci_method,
                                           sd_minimum, ctx.assessment_window_days, order),
            "forest": figures.forest_results(ctx, denominator, ci_method),
            "dor": cached.duration_of_response(ctx.cache_key, ctx.data, "log-log")}


def used_for_orr(rates) -> int:
    return int(rates.rates.loc[rates.rates["outcome"] == "orr", "n"].sum())


def add_used(view, name: str, n_used: int, groups: list, excluded) -> None:
    """The "n = used of total (k left out ...)" caption's counts: used = the groups, total = used + left out."""
    reasons = excluded_reasons(excluded)
    view.add(("used", name), n_used)
    view.add_sum(("used", name), groups)
    for why, n in reasons.items():
        view.add(("left out", name, why), n)
    view.add_sum(("total",), [("used", name), *(("left out", name, why) for why in reasons)])


def page_view(results: dict):
    """Every count the page shows, with the identities between them, for small-cell protection."""
    from il2lib.analyses.response import rate_count_keys, response_count_view

    table = results["bor"].value if results["bor"].ok else None
    rates = [results["rates"].value] if results["rates"].ok else []
    forest, overall = results["forest"]
    view = response_count_view(table, *rates, *forest, *([overall] if overall is not None else []))
    view.add(("total",), ctx.n, headline=True, fixed=True)  # the sidebar shows it
    if table is not None:
        add_used(view, "bor", table.n_used, [("n", table.by, g) for g in table.groups], table.excluded)
    if results["rates"].ok:
        rates = results["rates"].value
        add_used(view, "orr", used_for_orr(rates),
                 [rate_count_keys(rates.by, g, "orr", rates.view)[1] for g in rates.groups], rates.excluded)
    if results["dor"].ok:
        dor = results["dor"].value
        view.add(("dor", "responders"), dor.n_responders)
        view.add(("dor", "analysed"), dor.n_analysed)
        view.add(("dor", "ongoing"), dor.n_ongoing)
        view.add(("dor", "no time"), dor.n_responders - dor.n_analysed)
        view.add_sum(("dor", "responders"), [("dor", "analysed"), ("dor", "no time")])
        view.add_at_most(("dor", "ongoing"), ("dor", "analysed"))
        if table is not None:
            view.add_sum(("dor", "responders"), [("bor", table.by, g, "CR+PR") for g in table.groups])
    return view


def bor_section(computed, sd_minimum: float, shown):
    st.subheader("Best overall response")
    if not computed.ok:
        empty_state(f"Best-response table not available: {md_escape(computed.message)}")
        return
    table = computed.value
    display = table.display(shown).reset_index()
    show_table(display)
    download_table(display, "best_overall_response", title="Best overall response")
    figures.response_bars(ctx, table, shown)
    st.caption(f"BOR as counted under RECIST 1.1: {VIEW_LABELS[table.view]}; SD from {sd_minimum:g} weeks after "
               "IL-2 start (a shorter SD counts as PD if progression followed, else NE).")
    for note in table.notes:
        st.caption(md_escape(masking.text(note)))
    reasons = excluded_reasons(table.excluded)
    used_note("Best overall response", table.n_used, ctx.n, reasons, shown=shown,
              keys=(("used", "bor"), ("total",), {why: ("left out", "bor", why) for why in reasons}))
    return table


def rates_section(computed, forest, denominator: str, ci_method: str, sd_minimum: float, table, shown) -> None:
    st.subheader("Response rates")
    if not computed.ok:
        empty_state(f"Response rates not available: {md_escape(computed.message)}")
        return
    rates = computed.value
    display = rates.display(shown)
    show_table(display)
    download_table(display, "response_rates", title="Response rates", notes=rates.notes)
    st.caption(f"CBR counts clinical benefit: {benefit_rule_text(ctx.cb_sd_months, ctx.assessment_window_days)} "
               f"(sidebar); DCR counts SD lasting at least the SD minimum ({sd_minimum:g} weeks, same window). "
               f"Denominator: {DENOMINATORS[denominator][:1].lower()}{DENOMINATORS[denominator][1:]}.")
    if rates.by is not None:
        figures.response_rates_by_group(ctx, rates, shown)
        code_for("rates_figure", ctx, by=rates.by, ci_method=ci_method, denominator=denominator,
                 sd_minimum=sd_minimum)
    if len(rates.groups) < 2:
        st.info("Only one group under the current filters: no between-group comparison.", icon=":material/info:")
    elif rates.comparisons:
        comparison = rates.comparison_frame()[["outcome", "test_label", "pvalue_text", "note"]]
        comparison["outcome"] = comparison["outcome"].map(OUTCOME_LABELS)
        comparison = comparison.rename(columns={"outcome": "Outcome", "test_label": "Test", "pvalue_text": "p",
                                                "note": "Note"})
        show_table(comparison)
        download_table(comparison, "response_comparison", title="Between-group comparison")
    shown_above = set(table.notes) if table is not None else set()
    for note in rates.notes:
        if note not in shown_above:
            st.caption(md_escape(masking.text(note)))
    reasons = excluded_reasons(rates.excluded)
    used_note("ORR", used_for_orr(rates), ctx.n, reasons, shown=shown,
              keys=(("used", "orr"), ("total",), {why: ("left out", "orr", why) for why in reasons}))
    groupings = figures.response_forest(ctx, *forest, shown)
    if groupings:
        code_for("forest", ctx, denominator=denominator, ci_method=ci_method, groupings=groupings)


def dor_section(computed, shown) -> None:
    st.subheader("Duration of response")
    if not computed.ok:
        empty_state(f"Duration of response not available: {md_escape(computed.message)}")
        return
    dor = computed.value
    if dor.n_responders == 0:
        empty_state("No responder (CR or PR) under the current filters, so there is no duration of response.")
        return
    a, b, c, d = st.columns(4)
    a.metric("Responders (CR/PR)", shown.text(("dor", "responders"), dor.n_responders))
    median = "NR" if math.isnan(dor.median) else f"{dor.median:.1f} mo"
    lo, hi = ("NR" if math.isnan(v) else f"{v:.1f}" for v in dor.median_ci)
    b.metric("Median DoR", median, help=f"95% CI {lo} to {hi} (Kaplan-Meier, log-log)")
    c.metric("Responses ongoing", shown.text(("dor", "ongoing"), dor.n_ongoing))
    d.metric("Observed range, months", dor.range_text, help="+ marks an ongoing (censored) response")
    st.caption(f"Median DoR 95% CI: {lo} to {hi} months. The Survival page draws the DoR curve.")
    used_note("Duration of response", dor.n_analysed, dor.n_responders,
              {"responders without a DoR time": dor.n_responders - dor.n_analysed}, shown=shown,
              keys=(("dor", "analysed"), ("dor", "responders"),
                    {"responders without a DoR time": ("dor", "no time")}))


st.title("Response")
by, denominator, ci_method, sd_minimum = options()
order = response_sections.group_order(ctx, by, container=st.columns(4)[0])
masking = ctx.masking
if by == schema.PRIOR_PD1 and cached.has_both_prior_levels(ctx.data):
    st.warning(schema.ERA_CAVEAT, icon=":material/history:")
results = computed_results(by, denominator, ci_method, sd_minimum, order)
shown = masking.protect(lambda: page_view(results), ("response", ctx.cache_key, by, order, denominator, ci_method,
                                                     sd_minimum, ctx.cb_sd_months, ctx.assessment_window_days))
bor_table = bor_section(results["bor"], sd_minimum, shown)
rates_section(results["rates"], results["forest"], denominator, ci_method, sd_minimum, bor_table, shown)
masking.caption()
code_for("response", ctx, by=by, ci_method=ci_method, denominator=denominator)
response_sections.pairwise(ctx, by, denominator, order)
response_sections.published(ctx, denominator, ci_method)
response_sections.tumour_burden_section(ctx, by)
figures.swimmer(ctx)
code_for("swimmer", ctx)
dor_section(results["dor"], shown)
code_for("dor", ctx)
