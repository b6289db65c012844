"""Report page: the one-click meeting report (self-contained HTML, PDF) for the current data and filters."""
from __future__ import annotations

import re

import streamlit as st

from app_ui import data as data_mod
from app_ui.cached import has_both_prior_levels
from app_ui.downloads import rendered_download_button
from app_ui.frame import frame
from app_ui.isolated_frame import isolated_document
from app_ui.markdown import md_escape
from app_ui.session_cache import data_cache
from app_ui.widgets import url_choice
from il2lib import schema
from il2lib.errors import Il2libError
from il2lib.report import GROUPINGS, build_report, pdf_bytes
from il2lib.report.pdf import PdfExportError, find_chromium

ctx = frame("Report")
ctx.require_data()

BUILT = "report_built_key"  # session key: options of the report the user asked for (small tuple)
PAPERS = {"A4": "A4", "Letter": "US Letter"}
PREVIEW_HEIGHT = 900


@data_cache(max_entries=8, max_size="64MB")
def cached_report(key: tuple, _cohort, _ae, filter_, endpoint: str, paper: str, synthetic: bool, pseudonyms: bool,
                  ae_complete: tuple[str, ...] = (), small_cell_threshold: int | None = None, by: str | None = None,
                  _assessments=None):
    """The report for one (data scope, fingerprint, rule, filter, AE and tumour tables, options, masking); errors as
    text. ``_assessments`` are already pseudonymised with the cohort when pseudonyms are on (the frame did it)."""
    try:
        return build_report(_cohort, _ae, filter_, endpoint, paper=paper, synthetic=synthetic,
                            pseudonymise=pseudonyms, ae_complete=ae_complete,
                            small_cell_threshold=small_cell_threshold, by=by, assessments=_assessments), ""
    except Il2libError as exc:
        return None, str(exc)


def chromium_problem() -> str:
    try:
        find_chromium()
    except PdfExportError as exc:
        return str(exc)
    return ""


def default_grouping(available: list) -> str | None:
    """Prior PD-1/PD-L1 when the filtered patients have both levels, else disease (when the data have it)."""
    if schema.PRIOR_PD1 in available and has_both_prior_levels(ctx.data):
        return schema.PRIOR_PD1
    return schema.DISEASE if schema.DISEASE in available else None


def file_stem() -> str:
    name = re.sub(r"\.[A-Za-z0-9]+$", "", ctx.cohort.source_name)
    return "il2_report_" + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "data")


st.title("Meeting report")
st.caption(md_escape(f"{ctx.loaded.label} · {ctx.summary}"))
st.markdown("One self-contained HTML file with everything the other pages show for the current filters: "
            "validation summary, Table 1, response with ORR/CBR and exact CIs (with the waterfall and spider plots "
            "when tumour assessments are loaded), Kaplan-Meier figures with numbers at risk, medians, log-rank and "
            "Cox, biomarker and toxicity tables, and a Methods paragraph with the software versions. It opens offline in any browser; the PDF is the same document laid out for print."
            + (" Patient ids are withheld (pseudonyms are on: Data page or presentation mode)." if ctx.pseudonyms else ""))
a, b, c, d = st.columns(4)
groupings = [None, *(g for g in GROUPINGS if g in ctx.data.columns)]
by = url_choice("rep_by", "Compare groups", groupings, default_grouping(groupings),
                format_func=lambda g: "No grouping" if g is None else schema.label(g), container=a,
                help="The groups compared in Response, Toxicity and Key results (Table 1 and Survival are by "
                     "disease).")
endpoint = url_choice("report_endpoint", "Survival endpoint", ["os", "pfs"], "os",
                      format_func=lambda e: schema.ENDPOINTS[e].label, container=b)
paper = url_choice("report_paper", "Paper size (PDF / print)", list(PAPERS), "A4", format_func=PAPERS.get,
                   container=c)
ae = ctx.loaded.adverse_events
use_ae = d.toggle("Include adverse events", value=ae is not None, disabled=ae is None, key="report_use_ae",
                  help=None if ae is not None else "No adverse-event table is loaded with this data set.")
if ctx.loaded.ae_error:
    st.warning(md_escape(f"Adverse-event table not used: {ctx.loaded.ae_error}"))

masking = ctx.masking
threshold = masking.threshold if masking.on else None
if masking.on:
    st.caption(f"Small-cell protection is on, so the report is masked like the pages: counts from 1 to "
               f"{threshold - 1} read \"<{threshold}\" in every table, figure and note, the rates beside them read "
               "\"masked\", and patient-level figures and the validation findings are left out. Switch off "
               "Small-cell protection in the sidebar to build the care team's full report.")

ae_complete = data_mod.ae_complete_sources(ctx.loaded) if use_ae else ()
key = (ctx.cache_key, ctx.loaded.ae_key if use_ae else "", endpoint, paper, ctx.pseudonyms, ae_complete, threshold,
       by, ctx.loaded.tumour_key)
if st.button("Build report", type="primary", icon=":material/description:", key="report_build"):
    st.session_state[BUILT] = key
if st.session_state.get(BUILT) != key:
    st.info("Choose the options and press **Build report**. The report follows the sidebar filters; change "
            "them first if needed.", icon=":material/info:")
    st.stop()

with st.spinner("Building the report ..."):
    report, problem = cached_report(key, ctx.cohort, ae if use_ae else None, ctx.filter, endpoint, paper,
                                    bool(ctx.loaded.synthetic), ctx.pseudonyms, ae_complete, threshold, by,
                                    ctx.loaded.assessments)
if report is None:
    st.error(md_escape(f"The report cannot be built: {problem}"))
    st.stop()

st.success(md_escape(f"Report built {report.generated_at.replace('T', ' ')[:16]} UTC: {report.n_patients} "
                     f"patients, {report.n_figures} figures, {len(report.sections)} sections."),
           icon=":material/check_circle:")
html_col, pdf_col, _ = st.columns([1, 1, 2])
html_col.download_button("Download HTML", data=report.html.encode("utf-8"), file_name=f"{file_stem()}.html",
                         mime="text/html", icon=":material/download:", on_click="ignore", key="report_dl_html",
                         type="primary")
no_pdf = chromium_problem()
with pdf_col:
    rendered_download_button("Download PDF", pdf_bytes, report.html, options={"paper": paper}, what="PDF",
                             key="report_dl_pdf", file_name=f"{file_stem()}.pdf", mime="application/pdf",
                             icon=":material/picture_as_pdf:", disabled=bool(no_pdf),
                             help=no_pdf or "Printed by headless chromium when you click (a few seconds).")
st.caption(md_escape(f"Data fingerprint (SHA-256 of the file): {report.fingerprint}"))
if st.toggle("Preview", value=True, key="report_preview"):
    # st.iframe, not st.html: the report draws its plotly figures with inline scripts (st.html runs none).
    # Streamlit frames HTML with allow-same-origin, so the report goes one frame deeper, sandboxed without it.
    st.iframe(isolated_document(report.html, "Meeting report"), height=PREVIEW_HEIGHT,
              alt="Preview of the meeting report")
