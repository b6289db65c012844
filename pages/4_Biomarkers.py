"""Biomarkers page: clinical benefit vs no clinical benefit per disease, as the community study
reports them (platelet nadir, ALC, LDH, peak temperature, doses, autoimmune phenomena, sites)."""
from __future__ import annotations

import streamlit as st

from app_ui import cached, figures
from app_ui.code_panel import code_for
from app_ui.downloads import download_table
from app_ui.frame import frame
from app_ui.markdown import md_escape
from app_ui.widgets import empty_state, show_table, url_choice, used_note
from il2lib import schema
from il2lib.analyses.biomarkers import UNADJUSTED_NOTE
from il2lib.cohort import benefit_rule_text

ctx = frame("Biomarkers")
ctx.require_data()

ADJUST = {"none": "None (as published)", "holm": "Holm", "BH": "Benjamini-Hochberg"}

st.title("Biomarkers")
ctx.masking.caption()
st.caption(md_escape(f"Clinical benefit = {benefit_rule_text(ctx.cb_sd_months, ctx.assessment_window_days)} "
                     "(sidebar settings).")
           + " The community paper compared benefit groups within each disease in its own 50 patients: set the "
           "Source filter to its cohort to mirror it.")
adjust = url_choice("adjust", "Multiplicity adjustment", list(ADJUST), "none", format_func=ADJUST.get)
with st.spinner(f"Step 1 of 2: comparing patients with and without clinical benefit ({ctx.n:,} patients, "
                "per disease)…", show_time=True):
    computed = cached.biomarkers(ctx.cache_key, ctx.data, ctx.cb_sd_months, adjust, ctx.assessment_window_days)
if not computed.ok:
    empty_state(f"Biomarker comparison not available: {md_escape(computed.message)}")
    st.stop()
result = computed.value
shown = ctx.masking.protect(lambda: result.count_view(total=ctx.n), ("biomarkers", ctx.cache_key, ctx.cb_sd_months, ctx.assessment_window_days))
SMALL_GROUP = 30  # patients: below this in a compared group, the warning says the groups are small


def unadjusted_note(groups, name_size: bool) -> str:
    """The package's exploratory-p-values note, saying "small groups" only when a compared group is small (and
    how small when ``name_size``: not under small-cell protection)."""
    sizes = [int(n) for column in ("n_cb", "n_no_cb") if column in groups for n in groups[column] if int(n) > 0]
    smallest = min(sizes) if sizes else 0
    if smallest and smallest < SMALL_GROUP and not name_size:
        return UNADJUSTED_NOTE
    if smallest and smallest < SMALL_GROUP:
        return UNADJUSTED_NOTE.replace("in small groups", f"in small groups (the smallest has {smallest:,} "
                                                          "patients)")
    return UNADJUSTED_NOTE.replace(" in small groups", "")


note = unadjusted_note(result.groups, name_size=not ctx.masking.on)
notes = [note if n == UNADJUSTED_NOTE else n for n in result.notes]
st.warning(note, icon=":material/warning:")
diseases = list(result.groups["disease"]) if len(result.groups) else []
if not diseases:
    empty_state("No disease group with patients of known clinical benefit under the current filters.")
    st.stop()
tabs = st.tabs([schema.DISEASE_LABELS.get(d, str(d)) for d in diseases])
for disease, tab in zip(diseases, tabs):
    with tab:
        counts = result.groups.set_index("disease").loc[disease]
        if min(int(counts["n_cb"]), int(counts["n_no_cb"])) == 0:
            empty_state("Only one benefit group is present for this disease under the current filters: "
                        "nothing to compare.")
            continue
        noted = result.display_with_test_notes(disease, shown)  # tests as footnotes: the table fits the page
        show_table(noted.table)
        st.caption(md_escape("Tests: " + " · ".join(noted.footnotes)))
        download_table(result.display(disease, shown), f"biomarkers_{disease}", notes=notes,
                       title=f"{schema.DISEASE_LABELS.get(disease, disease)}: clinical benefit vs no clinical benefit")
st.subheader("Distributions")
with st.spinner("Step 2 of 2: drawing the distributions…", show_time=True):
    figures.biomarkers(ctx, result, shown)
for text in notes:
    st.caption(md_escape(text))
undetermined = "with clinical benefit undetermined (SD without a duration)"
used_note("Biomarker comparison", result.n_used, ctx.n, {undetermined: len(result.excluded)},
          shown=shown, keys=(("used",), ("total",), {undetermined: ("left out",)}))
code_for("biomarkers", ctx, adjust=adjust)
