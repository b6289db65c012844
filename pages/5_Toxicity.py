"""Toxicity page: AEs by worst CTCAE grade, immune-related AEs, steroids, ICU transfer, deaths."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_ui import cached, data as data_mod, figures
from app_ui.code_panel import code_for
from app_ui.downloads import download_table
from app_ui.frame import frame
from app_ui.markdown import md_escape
from app_ui.widgets import empty_state, show_table, url_choice
from il2lib import schema
from il2lib.analyses.toxicity import ANY_AE, ANY_G3, DEATHS, ICU, STEROIDS

ctx = frame("Toxicity")
ctx.require_data()

GROUPINGS = [None, schema.PRIOR_PD1, schema.DISEASE, schema.LINE_OF_IL2, schema.SOURCE]
#: Measures that come from the patient file, so they exist without an AE table.
PATIENT_LEVEL = (STEROIDS, ICU, DEATHS)
#: Notes about whose toxicity is known, shown in a box rather than a caption.
COVERAGE_KINDS = ("ae_unknown", "ae_grade_only", "ae_any_by_construction")


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
        figures.toxicity(ctx, tox, shown)
        irae = tox.immune_display(shown)
        st.subheader("Immune-related adverse events")
        if irae.empty:
            empty_state("No immune-related adverse event among the filtered patients.")
        else:
            show_table(irae)
            download_table(irae, "immune_related_aes", title="Immune-related adverse events")
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
