"""Toxicity page: AEs by worst CTCAE grade, immune-related AEs, steroids, ICU transfer, deaths."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_state import frame
from app_ui import beyond
from app_ui import cached, figures
from app_ui.downloads import download_table
from app_ui.widgets import empty_state, md_escape, show_table, url_choice

ctx = frame("Toxicity")
ctx.require_data()

from il2lib import schema  # noqa: E402
from il2lib.toxicity import DEATHS, ICU, STEROIDS  # noqa: E402

GROUPINGS = [None, schema.PRIOR_PD1, schema.DISEASE, schema.LINE_OF_IL2, schema.SOURCE]
#: Measures that come from the patient file, so they exist without an AE table.
PATIENT_LEVEL = (STEROIDS, ICU, DEATHS)


def empty_ae_table() -> pd.DataFrame:
    return pd.DataFrame({schema.AE_PATIENT_ID: pd.Series(dtype=object), schema.AE_TERM: pd.Series(dtype=object),
                         schema.AE_GRADE: pd.Series(dtype="Int64")})


def summary_table(tox, has_ae: bool) -> pd.DataFrame:
    rows = tox.summary if has_ae else tox.summary[tox.summary["measure"].isin(PATIENT_LEVEL)]
    cells = rows.assign(value=[f"{int(n)}/{int(big_n)} ({p:.0f}%)" + (f", {int(u)} unknown" if u else "")
                               for n, big_n, p, u in zip(rows["n"], rows["N"], rows["percent"], rows["n_unknown"])])
    wide = cells.pivot(index="measure", columns="group", values="value")
    order = [m for m in cells["measure"].drop_duplicates()]
    return wide.reindex(order)[list(tox.groups)].rename_axis("Measure").reset_index()


st.title("Toxicity")
beyond.masking_option().caption()
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
computed = cached.toxicity(ctx.cache_key, ctx.loaded.ae_key, ae.data if has_ae else empty_ae_table(), ctx.data, by)
if not computed.ok:
    empty_state(f"Toxicity cannot be summarised: {md_escape(computed.message)}")
    st.stop()
tox = computed.value
st.subheader("Overview")
overview = summary_table(tox, has_ae)
show_table(overview)
download_table(overview, "toxicity_overview", title="Toxicity overview", notes=tox.notes)
for note in tox.notes:
    if not (caveat_shown and note == schema.ERA_CAVEAT):  # already in the warning box above
        st.caption(md_escape(note))
if has_ae:
    st.subheader("Adverse events by term (worst grade per patient)")
    if tox.by_term.empty:
        empty_state("No adverse event recorded for the filtered patients.")
    else:
        by_term = tox.display().reset_index()
        show_table(by_term)  # shown whole (a static table) up to STATIC_MAX_ROWS rows
        download_table(by_term, "adverse_events_by_term",
                       title="Adverse events by term (worst grade per patient)")
        figures.toxicity(ctx, tox)
        irae = tox.by_term[tox.by_term["immune_related"]]
        st.subheader("Immune-related adverse events")
        if irae.empty:
            empty_state("No immune-related adverse event among the filtered patients.")
        else:
            irae = irae[["group", "term", "n_any", "N", "n_grade3plus"]].rename(columns={
                "group": "Group", "term": "AE term", "n_any": "Patients", "N": "Of", "n_grade3plus": "Grade >=3"})
            show_table(irae)
            download_table(irae, "immune_related_aes", title="Immune-related adverse events")
    if not tox.by_cycle.empty:
        with st.expander("Adverse events by cycle"):
            show_table(tox.by_cycle)
            download_table(tox.by_cycle, "adverse_events_by_cycle", title="Adverse events by cycle")
    if len(tox.excluded_ae_rows):
        st.caption(f"{len(tox.excluded_ae_rows)} AE rows left out (patients outside the filter or unusable rows).")
if has_ae:
    beyond.code_for("toxicity", ctx, by=by)
