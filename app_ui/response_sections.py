"""Sections of the Response page beyond the main tables: pairwise Fisher tests of ORR (three or more
groups), our ORR beside the published PROCLAIM series, and the tumour burden (waterfall and spider plots).
Statistics all come from il2lib."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_ui import cached, figures
from app_ui.cached import Computed, attempt
from app_ui.code_panel import show_code
from app_ui.downloads import chart_config, download_figure, download_table, table_with_downloads
from app_ui.markdown import md_escape
from app_ui.session_cache import data_cache
from app_ui.widgets import by_text, empty_state, url_group_order, url_toggle
from il2lib import schema
from il2lib.analyses.published import CITATIONS, DERIVED_LABEL, response_overlay
from il2lib.analyses.response import response_rates
from il2lib.analyses.tumour_burden import tumour_burden
from il2lib.export.snippets import pairwise_fisher_snippet, response_snippet
from il2lib.figures.export_layout import file_stem
from il2lib.figures.published import published_comparison_figure
from il2lib.survival.inputs import group_levels
from il2lib.survival.pairwise import pairwise_fisher

#: URL key of the "Show published results" switch (Response page and the Survival page's tab).
PUBLISHED_KEY = "published"
#: URL key of the Response page's reference group.
REFERENCE_KEY = "resp_ref"


def group_order(ctx, by: str | None, container=st) -> tuple[str, ...] | None:
    """The "Reference group" control of the Response page: the groups in order, the reference first (best
    response table and figure, response rates, their figure and downloads). None without a grouping."""
    if by is None or by not in ctx.data.columns:
        return None
    levels = group_levels(ctx.data, by)[1]
    if len(levels) < 2:
        return None
    return tuple(url_group_order(REFERENCE_KEY, levels, container=container,
                                 help="Listed first in the tables and figures of response by group."))


@data_cache(max_entries=64, max_size="64MB")
def _pairwise_fisher(key: tuple, _df: pd.DataFrame, by: str, outcome: str, cb_sd_months: float,
                     denominator: str, order: tuple[str, ...] | None = None) -> Computed:
    def run():
        rates = response_rates(_df, by, outcome, cb_sd_months=cb_sd_months, denominator=denominator,
                               order=order, frame_rules=cached.frame_rules(_df)).rates
        return pairwise_fisher({g: (x, n) for g, x, n in zip(rates["group"], rates["responders"], rates["n"])})

    return attempt(run)


def pairwise(ctx, by: str | None, denominator: str, order: tuple[str, ...] | None = None) -> None:
    """Pairwise Fisher table of ORR when the grouping has three or more groups (pairs in the groups' ``order``)."""
    if by is None:
        return
    computed = _pairwise_fisher(ctx.cache_key, ctx.data, by, "orr", ctx.cb_sd_months, denominator, order)
    if not computed.ok:
        if "at least three groups" not in computed.message:
            empty_state(f"Pairwise comparisons not available: {md_escape(computed.message)}")
        return
    st.markdown("**Pairwise comparisons of ORR** (Fisher's exact test per pair)")
    note = ("Holm controls the family-wise error rate, Benjamini-Hochberg the false discovery rate, over the "
            "pairs shown (R's p.adjust). Unadjusted p-values overstate the evidence when many pairs are tested.")
    table_with_downloads(ctx, ctx.masking.table(computed.value.display("Odds ratio")),
                         "pairwise_fisher_table", f"pairwise_fisher_orr_by_{by}",
                         f"Pairwise comparisons of ORR by {by_text(by)} (Fisher's exact test)", [note])
    st.caption(note)
    ctx.masking.caption()
    show_code(pairwise_fisher_snippet(by, "orr", ctx.cb_sd_months), ctx, "pairwise_fisher")


def published(ctx, denominator: str, ci_method: str) -> None:
    """Optional layer: our ORR by disease beside the published PROCLAIM post-PD-1 series."""
    if not url_toggle(PUBLISHED_KEY, "Show published results (our cohort vs the PROCLAIM series)", False):
        return
    masking = ctx.masking
    computed = cached.response_rates(ctx.cache_key, ctx.data, schema.DISEASE, ctx.cb_sd_months, denominator,
                                     ci_method)
    overlay = response_overlay(computed.value if computed.ok else None, ci_method)
    rows = pd.DataFrame({"group": overlay["group"], "source": overlay["source"], "estimate": overlay["rate"],
                         "lower": overlay["ci_lower"], "upper": overlay["ci_upper"],
                         "published": overlay["source"] != "Our cohort",
                         "label": [f"({x}/{n})" for x, n in zip(overlay["responders"], overlay["n"])]})
    title, subtitle = ctx.figure_titles("Objective response rate: our cohort vs published")
    fig = published_comparison_figure(rows, x_label="Objective response rate, % (95% CI)", percent=True,
                                      title=title, subtitle=subtitle, presentation=ctx.presentation,
                                      hover_counts=not masking.on)
    st.plotly_chart(fig, width="stretch", key="published_orr_chart", config=chart_config())
    download_figure(fig, "orr_vs_published", key="published_orr_chart",
                    file_name=file_stem("orr_vs_published", None, ctx.filter))
    shown = overlay.assign(**{"Responders / n": [f"{x}/{n}" for x, n in zip(overlay["responders"], overlay["n"])],
                              "ORR, % (95% CI)": [f"{100 * r:.1f} ({100 * lo:.1f}–{100 * hi:.1f})" for r, lo, hi in
                                                  zip(overlay["rate"], overlay["ci_lower"], overlay["ci_upper"])]})
    shown = shown.rename(columns={"source": "Source", "group": "Disease", "note": "Note"})
    cite = CITATIONS["buchbinder2019"]
    ours = (overlay["source"] == "Our cohort").to_numpy()  # published numbers are shown as printed
    table_with_downloads(ctx, masking.table(shown[["Source", "Disease", "Responders / n", "ORR, % (95% CI)", "Note"]],
                                            dependent=["ORR, % (95% CI)"], cohort_rows=ours),
                         "published_orr_table", "orr_vs_published",
                         "Objective response rate by disease: our cohort vs the published PROCLAIM series",
                         [f"Published: {cite.full}"], cohort_rows=ours)
    st.caption(md_escape(f"Published: {cite.full} Only numbers stated in the abstract are shown (CR and PR counts, "
                         f"ORR as printed); the published 95% CIs are {DERIVED_LABEL}. Our cohort: ORR by disease, "
                         f"{'all treated' if denominator == 'itt' else 'evaluable'} denominator, current filters. "
                         "The published series is post-PD-1 only: compare with the prior PD-1/PD-L1 = yes filter."))
    masking.caption()
    show_code(response_snippet(schema.DISEASE, ci_method, denominator, ctx.cb_sd_months), ctx, "published_orr")


#: The patient file's column the waterfall can be drawn from without assessments (name or synonym).
_BEST_CHANGE_NAMES = {schema.norm(n) for n in (schema.BEST_PCT_CHANGE, *schema.BEST_PCT_CHANGE_SPEC.synonyms)}
NO_TUMOUR_DATA = ("Waterfall and spider plots: upload a tumour-assessment table on the Data page (one row per "
                  "patient and assessment: patient_id, assessment_date, target_sum_mm, optionally new_lesions), or "
                  "give the patient file a best_pct_change column (waterfall only).")


def has_tumour_data(ctx) -> bool:
    """Tumour assessments are loaded, or the patient file has a best change column."""
    return ctx.loaded.assessments is not None or any(
        isinstance(c, str) and schema.norm(c) in _BEST_CHANGE_NAMES for c in ctx.data.columns)


@data_cache(max_entries=32, max_size="64MB")
def _tumour_burden(key: tuple, tumour_key: str, _assessments, _df: pd.DataFrame, by: str | None) -> Computed:
    """Best change and changes over time (:func:`il2lib.analyses.tumour_burden.tumour_burden`) of the filtered
    patients; ``tumour_key`` identifies the assessment table."""
    return attempt(tumour_burden, _assessments, _df, by=by)


def tumour_burden_section(ctx, by: str | None) -> None:
    """Tumour burden: the waterfall of each patient's best change and the spider plot of the changes over time
    (coloured by the page's groups when grouped, else by best overall response), the patients used and left
    out, the warnings and the per-patient table. Patient level: withheld under small-cell protection."""
    st.subheader("Tumour burden")
    if not has_tumour_data(ctx):
        st.caption(NO_TUMOUR_DATA)
        return
    computed = _tumour_burden(ctx.cache_key, ctx.loaded.tumour_key, ctx.loaded.assessments, ctx.data, by)
    if not computed.ok:
        empty_state(f"Tumour burden not available: {md_escape(computed.message)}")
        return
    tb = computed.value
    masking = ctx.masking
    if figures.tumour_burden(ctx, tb, by):
        return
    st.caption(md_escape(tb.statement()))
    if tb.warnings:
        with st.expander(f"Tumour burden: {len(tb.warnings):,} warning{'' if len(tb.warnings) == 1 else 's'}",
                         icon=":material/warning:"):
            st.markdown("\n".join("- " + md_escape(masking.text(w.message)) for w in tb.warnings[:50]))
            if len(tb.warnings) > 50:
                st.caption(f"... and {len(tb.warnings) - 50:,} more (in the table download).")
    download_table(tb.to_frame(), "tumour_burden", title="Tumour burden: best change in target lesions per patient",
                   notes=[tb.statement(), f"Data: {ctx.loaded.label} · {ctx.summary}."], patient_level=True)
