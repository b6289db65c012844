"""Issue-10 sections shared by the Response and Survival pages: small-cell protection, "show code"
expanders, pairwise tables and the published-result overlay. Statistics all come from il2lib.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_ui.cached import Computed, _attempt
from app_ui.downloads import download_figure, download_table
from app_ui.session_cache import data_cache
from app_ui.widgets import empty_state, format_p, md_escape, show_table, url_number, url_toggle
from il2lib import schema

MASK_KEY, MASK_K_KEY, PUBLISHED_KEY = "mask", "mask_k", "published"
#: Session key under which an audit (a test) collects the count views a run protected, by kind:
#: (view, suppression) pairs. Kept only when the audit created it.
PROTECTED_VIEWS = "protected_count_views"
#: What each "Show code" expander reproduces (by its key).
CODE_TITLES = {"pairwise_fisher": "pairwise Fisher tests", "published_orr": "ORR vs published",
               "page_km": "curves, medians, log-rank", "page_response": "response rates",
               "page_forest": "ORR forest plot", "page_swimmer": "swimmer plot", "page_dor": "duration of response",
               "page_table1": "Table 1", "page_biomarkers": "biomarker comparisons", "page_toxicity": "toxicity",
               "pairwise_lr": "pairwise log-rank", "rmst_auto": "RMST", "cox": "multivariable Cox",
               "milestones": "milestones and RMST", "cif": "cumulative incidence", "origin": "time origin"}


@dataclass(frozen=True)
class Masking:
    on: bool
    threshold: int = 5

    def table(self, df: pd.DataFrame, dependent=()) -> pd.DataFrame:
        from il2lib.masking import mask_table

        if not self.on:
            return df
        return mask_table(df, self.threshold, dependent=[c for c in dependent if c in df.columns])

    def figure(self, fig):
        from il2lib.masking import mask_figure

        return mask_figure(fig, self.threshold) if self.on else fig

    def protect(self, build_view, key: tuple):
        """How each count of the view ``build_view()`` returns (an :class:`il2lib.disclosure.CountView`) is
        shown: small counts and the complements that would give them back hidden. With protection off
        nothing is hidden and the view is not built. ``key`` names the view for the cache (the session's
        data key and everything the view depends on)."""
        from il2lib.disclosure import NO_SUPPRESSION

        if not self.on:
            return NO_SUPPRESSION
        view, shown = _protected(key, build_view, self.threshold)
        if PROTECTED_VIEWS in st.session_state:
            st.session_state[PROTECTED_VIEWS][key[0]] = (view, shown)
        return shown

    def count(self, n) -> str:
        """One count as shown: "<5" when small, else the number."""
        from il2lib.masking import mask_count

        return str(mask_count(int(n), self.threshold) if self.on else int(n))

    def text(self, text: str) -> str:
        """Counts in a sentence, label or metric value masked ("n = 3 of 40" -> "n = <5 of 40")."""
        from il2lib.masking import mask_text

        return mask_text(text, self.threshold) if self.on else text

    def caption(self) -> None:
        from il2lib.masking import masking_caption

        if self.on:
            st.caption(md_escape(masking_caption(self.threshold)))


@data_cache(max_entries=64, max_size="16MB")
def _protected(key: tuple, _build_view, threshold: int):
    from il2lib.disclosure import protect

    view = _build_view()
    return view, protect(view, threshold)


def current_masking() -> Masking:
    """The small-cell setting of this session, without drawing anything (for shared table/figure helpers)."""
    from app_ui import state

    ss = st.session_state
    if not ss.get(state.plain_key(MASK_KEY), False):
        return Masking(False)
    return Masking(True, int(ss.get(state.plain_key(MASK_K_KEY), 5)))


def draw_masking_option() -> Masking:
    """Sidebar switch for screen-sharing outside the care team (kept across pages, mirrored in the URL).

    Drawn by the page frame before anything that shows a count, so that every surface (sidebar n,
    captions, titles) follows it from the first run."""
    on = url_toggle(MASK_KEY, "Small-cell protection", False, container=st.sidebar,
                    help="For screen-sharing outside the care team: counts below the threshold, and the counts "
                         "that would give them back, are masked in tables, figures, metrics and captions; "
                         "patient-level figures and downloads are withheld.")
    if not on:
        return Masking(False)
    k = url_number(MASK_K_KEY, "Mask counts below", 5.0, min_value=2.0, max_value=20.0, step=1.0,
                   number_format="%.0f", container=st.sidebar)
    return Masking(True, int(k))


def by_text(by: str) -> str:
    """Grouping label for running text: "line of IL-2"."""
    text = schema.label(by)
    return text[:1].lower() + text[1:]


def table_with_downloads(ctx, df: pd.DataFrame, key: str, name: str, title: str, notes=()) -> None:
    """``show_table`` with its CSV/XLSX buttons under it. Both get the same frame and mask it alike
    (masking is idempotent), so the file is the table as shown; the XLSX notes start with data and filters."""
    show_table(df, key=key)
    download_table(df, name, title=title, notes=(ctx.figure_titles("")[1], *notes), key=key)


def code_key(key: str) -> str:
    """Session key of the "Show code" expander ``key`` (open = True)."""
    return f"show_code_{key}"


def show_code(snippet, ctx, masking: Masking, key: str, ae: bool = False) -> None:
    """'Show code' expander: Python (il2lib) and R snippets plus the CSV they read (and the AE rows if ``ae``)."""
    from il2lib.export import table_to_csv_bytes
    from il2lib.snippets import AE_CSV, DEFAULT_CSV

    title = CODE_TITLES.get(key, "")
    section = st.expander(f"Show code: {title}" if title else "Show code", icon=":material/code:",
                          key=code_key(key), on_change="rerun")
    with section:
        if not section.open:  # drawn on demand: the code highlighter is a large browser bundle
            return
        st.caption(f"Reproduces the numbers from the exported analysis CSV ({DEFAULT_CSV}: the filtered patients, "
                   "one row each, derived columns included).")
        st.code(snippet.python, language="python")
        if snippet.r:
            st.markdown("Equivalent R (`survival`; `cmprsk` for competing risks):")
            st.code(snippet.r, language="r")
        if masking.on:
            st.caption("Patient-level download hidden while small-cell protection is on.")
        else:
            st.download_button("Analysis CSV", data=lambda: table_to_csv_bytes(ctx.data), file_name=DEFAULT_CSV,
                               mime="text/csv", key=f"code_csv_{key}", on_click="ignore", type="tertiary",
                               icon=":material/download:")
            events = getattr(ctx.loaded, "adverse_events", None)
            if ae and events is not None:
                st.download_button("Adverse-event CSV", data=lambda: table_to_csv_bytes(events.data), file_name=AE_CSV,
                                   mime="text/csv", key=f"code_ae_{key}", on_click="ignore", type="tertiary",
                                   icon=":material/download:")


# ------------------------------------------------------------------------------------------ response
@data_cache(max_entries=64, max_size="64MB")
def _pairwise_fisher(key: tuple, _df: pd.DataFrame, by: str, outcome: str, cb_sd_months: float,
                     denominator: str) -> Computed:
    from il2lib.response import response_rates
    from il2lib.survival.pairwise import pairwise_fisher

    def run():
        rates = response_rates(_df, by, outcome, cb_sd_months=cb_sd_months, denominator=denominator).rates
        return pairwise_fisher({g: (x, n) for g, x, n in zip(rates["group"], rates["responders"], rates["n"])})

    return _attempt(run)


def pairwise_display(table: pd.DataFrame, effect: str | None = None) -> pd.DataFrame:
    """Comparison, (effect), p, p (Holm), p (BH): narrow enough for the column beside a figure."""
    out = pd.DataFrame({"Comparison": [f"{a} vs {b}" for a, b in zip(table["group_a"], table["group_b"])]})
    if effect is not None:
        out[effect] = table["statistic"].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")
    out["p"] = table["p"].map(format_p)
    out["p (Holm)"] = table["p_holm"].map(format_p)
    out["p (BH)"] = table["p_bh"].map(format_p)
    if "note" in table and table["note"].astype(bool).any():
        out["Note"] = table["note"]
    return out


def response_pairwise(ctx, by: str | None, denominator: str, masking: Masking) -> None:
    """Pairwise Fisher table of ORR when the grouping has three or more groups."""
    from il2lib.snippets import pairwise_fisher_snippet

    if by is None:
        return
    computed = _pairwise_fisher(ctx.cache_key, ctx.data, by, "orr", ctx.cb_sd_months, denominator)
    if not computed.ok:
        if "at least three groups" not in computed.message:
            empty_state(f"Pairwise comparisons not available: {md_escape(computed.message)}")
        return
    st.markdown("**Pairwise comparisons of ORR** (Fisher's exact test per pair)")
    note = ("Holm controls the family-wise error rate, Benjamini-Hochberg the false discovery rate, over the "
            "pairs shown (R's p.adjust). Unadjusted p-values overstate the evidence when many pairs are tested.")
    table_with_downloads(ctx, masking.table(pairwise_display(computed.value.table, "Odds ratio")),
                         "pairwise_fisher_table", f"pairwise_fisher_orr_by_{by}",
                         f"Pairwise comparisons of ORR by {by_text(by)} (Fisher's exact test)", [note])
    st.caption(note)
    masking.caption()
    show_code(pairwise_fisher_snippet(by, "orr", ctx.cb_sd_months), ctx, masking, "pairwise_fisher")


def response_published(ctx, denominator: str, ci_method: str, masking: Masking) -> None:
    """Optional layer: our ORR by disease beside the published PROCLAIM post-PD-1 series."""
    from app_ui import cached
    from il2lib.figures.published import published_comparison_figure
    from il2lib.published import CITATIONS, DERIVED_LABEL, response_overlay
    from il2lib.snippets import response_snippet

    if not url_toggle(PUBLISHED_KEY, "Show published results (our cohort vs the PROCLAIM series)", False):
        return
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
    st.plotly_chart(fig, width="stretch", key="published_orr_chart", config={"displaylogo": False})
    download_figure(fig, "orr_vs_published", key="published_orr_chart")
    shown = overlay.assign(**{"Responders / n": [f"{x}/{n}" for x, n in zip(overlay["responders"], overlay["n"])],
                              "ORR, % (95% CI)": [f"{100 * r:.1f} ({100 * lo:.1f}–{100 * hi:.1f})" for r, lo, hi in
                                                  zip(overlay["rate"], overlay["ci_lower"], overlay["ci_upper"])]})
    shown = shown.rename(columns={"source": "Source", "group": "Disease", "note": "Note"})
    cite = CITATIONS["buchbinder2019"]
    table_with_downloads(ctx, masking.table(shown[["Source", "Disease", "Responders / n", "ORR, % (95% CI)", "Note"]],
                                            dependent=["ORR, % (95% CI)"]), "published_orr_table", "orr_vs_published",
                         "Objective response rate by disease: our cohort vs the published PROCLAIM series",
                         [f"Published: {cite.full}"])
    st.caption(md_escape(f"Published: {cite.full} Only numbers stated in the abstract are shown (CR and PR counts, "
                         f"ORR as printed); the published 95% CIs are {DERIVED_LABEL}. Our cohort: ORR by disease, "
                         f"{'all treated' if denominator == 'itt' else 'evaluable'} denominator, current filters. "
                         "The published series is post-PD-1 only: compare with the prior PD-1/PD-L1 = yes filter."))
    masking.caption()
    show_code(response_snippet(schema.DISEASE, ci_method, denominator, ctx.cb_sd_months), ctx, masking,
              "published_orr")


def code_for(kind: str, ctx, **options) -> None:
    """'Show code' for one of the pages' existing tables or figures (see :mod:`il2lib.snippets`)."""
    from il2lib import snippets

    cb, window = ctx.cb_sd_months, ctx.assessment_window_days
    if kind == "km":
        landmark = options.get("landmark")
        snippet = (snippets.landmark_snippet(options["endpoint"], options["by"], landmark, cb, options["conf_type"],
                                             window_days=window)
                   if landmark is not None and options["by"] in (schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT)
                   else snippets.km_snippet(options["endpoint"], options["by"], options["conf_type"]))
    elif kind == "response":
        snippet = snippets.response_snippet(options["by"], options["ci_method"], options["denominator"], cb,
                                            window_days=window)
    elif kind == "forest":
        from app_ui.figures import FOREST_GROUPINGS

        snippet = snippets.forest_snippet(FOREST_GROUPINGS, options["denominator"], options["ci_method"], cb)
    elif kind == "table1":
        snippet = snippets.table1_snippet(options["by"])
    elif kind == "biomarkers":
        snippet = snippets.biomarkers_snippet(cb, options.get("adjust", "none"), window_days=window)
    elif kind == "toxicity":
        snippet = snippets.toxicity_snippet(options["by"], ae_complete=options.get("ae_complete", ()))
    else:
        snippet = {"swimmer": snippets.swimmer_snippet, "dor": snippets.dor_snippet}[kind]()
    show_code(snippet, ctx, current_masking(), f"page_{kind}", ae=kind == "toxicity")
