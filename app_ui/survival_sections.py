"""Sections of the Survival page around the Kaplan-Meier figure: pairwise log-rank next to the figure,
RMST offered when proportional hazards fail, and a collapsed, lazily drawn section with tabs for the
multivariable Cox model, milestones/RMST, competing risks, time origin with delayed entry, the
published-result overlay and response as a time-dependent covariate (bodies in :mod:`app_ui.survival_tabs`).
Numbers come from il2lib.
"""
from __future__ import annotations

import streamlit as st

from app_ui import survival_tabs as tabs
from app_ui.code_panel import show_code
from app_ui.downloads import table_with_downloads
from app_ui.markdown import md_escape
from app_ui.survival_view import (COX_AUTO_MAX_N, RESPONSE_GROUPINGS, cached_group_choices, comparison, endpoint_by,
                                  rmst_display, view_data)
from app_ui.widgets import url_group_order
from il2lib.export.snippets import milestone_snippet, pairwise_logrank_snippet

#: URL key of the Survival page's reference group.
REFERENCE_KEY = "km_ref"


def group_order(ctx, endpoint: str, by: str | None, landmark: float | None, container=st) -> tuple[str, ...] | None:
    """The "Reference group" control of the Survival page: the groups in order, the reference first (curves,
    legend, risk table, medians; the Cox hazard ratio reads "other vs reference"). None without a grouping."""
    levels = cached_group_choices(ctx.cache_key, view_data(ctx, endpoint, by, landmark), endpoint, by, landmark)
    if len(levels) < 2:
        return None
    return tuple(url_group_order(REFERENCE_KEY, levels, container=container,
                                 help="Listed first in the legend, risk table and tables; the Cox hazard ratio "
                                      "compares each other group with it (HR > 1: more events than the reference)."))


def next_to_figure(ctx, endpoint: str, by: str | None, view) -> None:
    """Right column: pairwise log-rank (3+ groups) and RMST offered when the PH check fails."""
    if by is None or view.landmark is not None:
        return
    if len(view.curves) >= 3:
        computed = comparison(ctx.cache_key, "pairwise", view_data(ctx, endpoint, by, None), endpoint, by, (),
                              view.order)
        if computed.ok:
            note = ("Each pair tested on its two groups; Holm (family-wise) and Benjamini-Hochberg (false "
                    "discovery rate) adjust over the pairs, as R's p.adjust.")
            table = ctx.masking.table(computed.value.display())
            table_with_downloads(ctx, table, "pairwise_lr_table", f"pairwise_logrank_{endpoint}_by_{by}",
                                 f"Pairwise log-rank tests: {endpoint_by(endpoint, by)}", (note,),
                                 heading="**Pairwise log-rank tests**")
            st.caption(note)
            show_code(pairwise_logrank_snippet(endpoint, by), ctx, "pairwise_lr")
        elif computed.refused:
            st.info(md_escape(computed.message), icon=":material/hourglass_disabled:")
    if view.ph_violated:
        computed = comparison(ctx.cache_key, "rmst", view_data(ctx, endpoint, by, None), endpoint, by, (None,),
                              view.order)
        st.info("Proportional hazards look violated, so the restricted mean survival time (RMST) is offered: it "
                "needs no PH assumption.", icon=":material/insights:")
        if computed.ok:
            table = ctx.masking.table(rmst_display(computed.value))
            table_with_downloads(ctx, table, "rmst_auto_table", f"rmst_{endpoint}_by_{by}_tau_{computed.value.tau:.1f}",
                                 f"Restricted mean survival time to {computed.value.tau:.1f} months: "
                                 f"{endpoint_by(endpoint, by)}", heading="")
            show_code(milestone_snippet(endpoint, by, tau=computed.value.tau), ctx, "rmst_auto")
        elif computed.refused:
            st.info(md_escape(computed.message), icon=":material/hourglass_disabled:")


#: Tab labels of "Models and further comparisons" (also the values of ``?km_tab=``).
TABS = ("Multivariable Cox", "Milestones & RMST", "Competing risks", "Time origin", "Published results",
        "Response over time")


def further(ctx, endpoint: str, by: str | None, conf_type: str, view, shown) -> None:
    """The sections under the Kaplan-Meier figure, in a collapsed expander.

    Nothing inside runs or draws until the expander is opened, and then only the open tab: a
    filter change redraws just the figure and its numbers. Open state and tab are mirrored in
    the URL (``?km_more=true&km_tab=...``). ``shown``: how the page shows the counts of its survival view
    (what it hides, the tabs hide too).
    """
    if by in RESPONSE_GROUPINGS:
        st.caption("Without choosing a landmark: response as a time-dependent covariate (Simon-Makuch plot, "
                   "Mantel-Byar test) under Models and further comparisons, tab Response over time.")
    more = st.expander("Models and further comparisons: multivariable Cox, milestones & RMST, competing risks, "
                       "time origin, published results, response over time", icon=":material/query_stats:",
                       key="km_more", on_change="rerun", bind="query-params")
    with more:
        if not more.open:
            return
        if ctx.n > COX_AUTO_MAX_N:
            st.caption(f"{ctx.n:,} patients: each model takes a few seconds at this size.")
        draw = {"Multivariable Cox": lambda: tabs.cox_tab(ctx, endpoint),
                "Milestones & RMST": lambda: tabs.milestones_tab(ctx, endpoint, by, view),
                "Competing risks": lambda: tabs.competing_tab(ctx, by),
                "Time origin": lambda: tabs.origin_tab(ctx, endpoint, by, conf_type, shown),
                "Published results": lambda: tabs.published_tab(ctx, endpoint, view, shown),
                "Response over time": lambda: tabs.time_dependent_tab(ctx, endpoint, by, conf_type)}
        for label, tab in zip(TABS, st.tabs(list(TABS), key="km_tab", on_change="rerun", bind="query-params")):
            if tab.open:
                with tab:
                    draw[label]()
