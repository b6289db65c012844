"""Toxicity page: AEs by worst CTCAE grade (grade >= 3 only, sorted, top N), immune-related AEs, grade >= 3 rates by
group, steroids, ICU transfer, deaths."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_ui import cached, data as data_mod, figures, state
from app_ui.code_panel import code_for
from app_ui.downloads import download_table
from app_ui.frame import frame
from app_ui.markdown import md_escape
from app_ui.session_cache import data_cache
from app_ui.widgets import empty_state, show_table, url_choice, url_toggle
from il2lib import schema
from il2lib.analyses.toxicity import ANY_AE, ANY_G3, DEATHS, ICU, STEROIDS, compare_grade3

ctx = frame("Toxicity")
ctx.require_data()

GROUPINGS = [None, schema.PRIOR_PD1, schema.DISEASE, schema.LINE_OF_IL2, schema.SOURCE]
#: Measures that come from the patient file, so they exist without an AE table.
PATIENT_LEVEL = (STEROIDS, ICU, DEATHS)
#: Notes about whose toxicity is known, shown in a box rather than a caption.
COVERAGE_KINDS = ("ae_unknown", "ae_grade_only", "ae_any_by_construction")
#: The figure's term order (il2lib.analyses.toxicity.TermOrder) as the "Sort by" control names it.
TERM_ORDERS = {"any": "Any grade", "grade3": "Grade >= 3"}
#: "Terms shown" by default: every term up to ALL_TERMS_UP_TO of them, else the TOP_TERMS most frequent.
ALL_TERMS_UP_TO, TOP_TERMS = 25, 15
TERMS_KEY = "tox_terms"


@data_cache(max_entries=16, max_size="16MB")
def grade3_comparison(key: tuple, _tox) -> cached.Computed:
    """The per-term grade >= 3 comparison of ``_tox`` (``key``: what the summary was computed from)."""
    return cached.attempt(compare_grade3, _tox)


def terms_shown(n_terms: int, container) -> int:
    """"Terms shown" (``?tox_terms=``): the number chosen (at most the terms there are), else every term up to
    ALL_TERMS_UP_TO and the TOP_TERMS most frequent above; a choice equal to the default follows the data."""
    default = n_terms if n_terms <= ALL_TERMS_UP_TO else TOP_TERMS
    ss, key = st.session_state, state.plain_key(TERMS_KEY)
    if key not in ss:
        raw = st.query_params.get(TERMS_KEY, "")
        ss[key] = int(raw) if raw.isdigit() and int(raw) >= 1 else None
    value = int(container.number_input(
        "Terms shown", min_value=1, max_value=n_terms, step=1,
        help=f"How many AE terms the figure shows, most frequent first (default: all up to {ALL_TERMS_UP_TO} "
             f"terms, else {TOP_TERMS}).", **state.bind(TERMS_KEY, min(ss[key] or default, n_terms))))
    chosen = ss[key]  # the number typed (copied by the widget's on_change), or None
    if chosen == default:
        chosen = None
    ss[key] = chosen
    if chosen is None:
        st.query_params.pop(TERMS_KEY, None)
    elif st.query_params.get(TERMS_KEY) != str(chosen):
        st.query_params[TERMS_KEY] = str(chosen)
    return value


def figure_options(tox) -> dict:
    """The AE figure's controls (kept in the URL) and the caption of the terms it shows."""
    left, middle, right = st.columns(3)
    grade3_only = url_toggle("tox_g3", "Grade >= 3 only", False, container=left,
                             help="Bars of grades 3-5 only, for the terms of a patient at grade >= 3.")
    if grade3_only:  # the bars are grades 3-5: sorted by them
        sort_by = "grade3"
        middle.caption("Sorted by patients at grade >= 3.")
    else:
        sort_by = url_choice("tox_sort", "Sort by", list(TERM_ORDERS), "any", format_func=TERM_ORDERS.get,
                             widget="radio", container=middle)
    n_terms = len(tox.terms(sort_by, grade3_only))
    top_n = terms_shown(n_terms, right) if n_terms else None
    which = " with a grade >= 3 AE" if grade3_only else ""
    if top_n is not None and top_n < n_terms:
        st.caption(f"The figure shows the {top_n} most frequent ({TERM_ORDERS[sort_by].lower()}) of the {n_terms} "
                   f"AE terms{which}; set \"Terms shown\" to see more.")
    elif n_terms:
        st.caption(f"The figure shows all {n_terms} AE terms{which}.")
    return {"top_n": top_n, "grade3_only": grade3_only, "sort_by": sort_by}


def grade3_section(tox, shown, key: tuple) -> None:
    """Per term, patients at grade >= 3 by group: difference with its CI (two groups) and p, with downloads
    (``key``: what ``tox`` was computed from)."""
    st.subheader("Grade >= 3 adverse events by group")
    if tox.by is None:
        empty_state("Choose a grouping under \"Compare groups\" to compare the grade >= 3 rates of each term.")
        return
    computed = grade3_comparison(key, tox)
    if not computed.ok:
        empty_state(md_escape(computed.message))
        return
    comparison = computed.value
    table = comparison.display(shown).reset_index()
    show_table(table)
    download_table(table, "grade3_by_group", title="Grade >= 3 adverse events by group", notes=comparison.notes)
    for note in comparison.notes:
        st.caption(md_escape(note))
    if shown.hidden:
        st.caption("Small-cell protection: no difference, CI or p-value where a count of the row is hidden.")


def grade3_footnote(tox, shown, overview, key: tuple) -> str:
    """The AE figure's export footnote: any grade >= 3 AE per group and the terms with the smallest p (as shown)."""
    computed = grade3_comparison(key, tox) if tox.by is not None else None
    comparison = computed.value.display(shown) if computed is not None and computed.ok else None
    return figures.toxicity_footnote(overview if tox.by is not None else None, comparison)


def empty_ae_table() -> pd.DataFrame:
    return pd.DataFrame({schema.AE_PATIENT_ID: pd.Series(dtype=object), schema.AE_TERM: pd.Series(dtype=object),
                         schema.AE_GRADE: pd.Series(dtype="Int64")})


st.title("Toxicity")
ctx.masking.caption()
available = [g for g in GROUPINGS if g is None or g in ctx.data.columns]
by = url_choice("tox_by", "Compare groups", available, schema.PRIOR_PD1 if schema.PRIOR_PD1 in available else None,
                format_func=lambda g: "No grouping" if g is None else schema.label(g))
caveat_shown = by == schema.PRIOR_PD1 and cached.has_both_prior_levels(ctx.data)
if caveat_shown:
    st.warning(schema.ERA_CAVEAT, icon=":material/history:")
ae = ctx.loaded.adverse_events
has_ae = ae is not None
if not has_ae:
    st.info("No adverse-event table was loaded with this data, so AE terms, grades and immune-related AEs cannot "
            "be shown. Upload one on the Data page (long format: patient_id, ae_term, ctcae_grade). Below: only "
            "the patient-level flags of the patient file.", icon=":material/info:")
ae_complete = data_mod.ae_complete_sources(ctx.loaded)
computed = cached.toxicity(ctx.cache_key, ctx.loaded.ae_key, ae.data if has_ae else empty_ae_table(), ctx.data, by,
                           ae_complete)
if not computed.ok:
    empty_state(f"Toxicity cannot be summarised: {md_escape(computed.message)}")
    st.stop()
tox = computed.value
# every count below (tables, figure, notes) in one view: small counts and the complements that would give them back
# (the grade >= 3 comparison shows counts of this view under its keys: Grade3Comparison.count_view)
shown = ctx.masking.protect(tox.count_view, ("toxicity", ctx.cache_key, ctx.loaded.ae_key, by, ae_complete))
notes = [ctx.masking.text(tox.note_text(note, shown)) for note in tox.notes]
warnings = [ctx.masking.text(warning) for warning in tox.warnings]
st.subheader("Overview")
has_max_grade = schema.MAX_CTCAE in ctx.data and bool(ctx.data[schema.MAX_CTCAE].notna().any())
measures = PATIENT_LEVEL + ((ANY_AE, ANY_G3) if has_max_grade else ())  # max_ctcae_grade answers these two
overview = tox.overview(shown, measures=None if has_ae else measures)
show_table(overview)
download_table(overview, "toxicity_overview", title="Toxicity overview", notes=(*warnings, *notes))
for warning in warnings:
    st.warning(md_escape(warning), icon=":material/warning:")
for note, text in zip(tox.notes, notes):
    if caveat_shown and note == schema.ERA_CAVEAT:  # already in the warning box above
        continue
    if getattr(note, "kind", "") in COVERAGE_KINDS:
        st.info(md_escape(text), icon=":material/help:")
    else:
        st.caption(md_escape(text))
if has_ae:
    st.subheader("Adverse events by term (worst grade per patient)")
    if tox.by_term.empty:
        empty_state("No adverse event recorded for the filtered patients.")
    else:
        by_term = tox.display(shown).reset_index()
        show_table(by_term)  # shown whole (a static table) up to STATIC_MAX_ROWS rows
        download_table(by_term, "adverse_events_by_term",
                       title="Adverse events by term (worst grade per patient)")
        figures.toxicity(ctx, tox, shown, **figure_options(tox),
                         footnote=grade3_footnote(tox, shown, overview, (ctx.cache_key, ctx.loaded.ae_key, by,
                                                                         ae_complete)))
        irae = tox.immune_display(shown)
        st.subheader("Immune-related adverse events")
        if irae.empty:
            empty_state("No immune-related adverse event among the filtered patients.")
        else:
            show_table(irae)
            download_table(irae, "immune_related_aes", title="Immune-related adverse events")
        grade3_section(tox, shown, (ctx.cache_key, ctx.loaded.ae_key, by, ae_complete))
    if not tox.by_cycle.empty:
        with st.expander("Adverse events by cycle"):
            cycles = tox.cycles_display(shown)
            show_table(cycles)
            download_table(cycles, "adverse_events_by_cycle", title="Adverse events by cycle",
                           notes=[n for n in tox.notes if getattr(n, "kind", "") == "ae_by_cycle_denominators"])
    if len(tox.excluded_ae_rows):
        st.caption(ctx.masking.text(f"{len(tox.excluded_ae_rows)} AE rows left out (patients outside the filter or "
                                    "unusable rows)."))
named = tox.named_patients()
if len(named) and not ctx.masking.on:
    with st.expander("Patients named in the notes above"):
        show_table(named)
if has_ae:
    code_for("toxicity", ctx, by=by, ae_complete=ae_complete)
