"""Data page (the landing page): pick a sample or upload a file, fix the column mapping, read the
validation report, download the findings and the excluded rows, the template and the data dictionary."""
from __future__ import annotations

import hashlib
import os

import pandas as pd
import streamlit as st

from app_ui import data as data_mod, dictionary, state
from app_ui.downloads import download_table
from app_ui.frame import NAVIGATION, frame
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.widgets import show_table
from il2lib import schema
from il2lib.export.files import table_to_csv_bytes
from il2lib.survival.km import format_months
from il2lib.validation.mapping import closest_columns, missing_required
from il2lib.validation.rules import AMBIGUOUS_DATE_ORDER

ctx = frame("Data")

PURPOSE = ("Explore an HD IL-2 registry (metastatic melanoma and RCC, many after PD-1/PD-L1): response, survival, "
           "toxicity, and a meeting report.")
#: The landing page's start links: (page script, label).
START_LINKS = (("pages/2_Response.py", "Response rates"), ("pages/3_Survival.py", "Survival curves"),
               ("pages/6_Report.py", "Build the meeting report"))

# A wide file (thousands of columns) is drawn within these bounds, each with a note; the downloads keep everything.
MAPPING_MAX_UNRECOGNISED = 200  # unrecognised file columns listed in the mapping table
FINDINGS_MAX_OTHER_COLUMNS = 50  # findings groups of file columns outside the data dictionary
IDENTIFIERS_NAMED = 20  # identifier-looking columns named in the warning
PREVIEW_MAX_COLUMNS = 100


def upload_transit() -> str:
    """Where an upload passes while it is received: memory under serve.py (which says so in the environment),
    else the server's temp directory, which Python's upload parser spools a file over 1 MiB to."""
    if os.environ.get(data_mod.TEMP_IN_MEMORY_ENV) == "1":
        return "a large file passes through in-memory temporary storage while it is received."
    return ("a file over 1 MiB passes through the server's temporary directory while it is received (serve.py "
            "puts that directory in memory: see docs/hospital-deployment.md).")


def source_picker() -> None:
    st.radio("Data source", data_mod.choices(), format_func=data_mod.choice_label, **state.bind("data"),
             help="The samples are synthetic, calibrated to published summaries. An upload is kept in the "
                  "server's memory for this browser session only; " + upload_transit())
    if ctx.loaded.choice != data_mod.UPLOAD:
        return
    left, right = st.columns(2)
    left.file_uploader("Patient file (CSV, XLSX or Parquet; one row per patient)", type=data_mod.UPLOAD_TYPES,
                       key="w_upload", on_change=data_mod.store_upload, args=("w_upload", data_mod.UPLOAD_FILE))
    right.file_uploader("Adverse-event table (optional, long format)", type=data_mod.UPLOAD_TYPES, key="w_upload_ae",
                        on_change=data_mod.store_upload, args=("w_upload_ae", data_mod.UPLOAD_AE))
    current = st.session_state.get(data_mod.UPLOAD_FILE)
    if current is not None:
        st.caption(f"In this session: {md_escape(current.name)} ({len(current.data):,} bytes)")
        st.button("Forget the uploaded files", icon=":material/delete:", on_click=data_mod.clear_upload,
                  help="Drops the uploaded files and every result computed from them from this session.")


def counts(report, shown) -> None:
    """Rows loaded = patients analysed + rows excluded, as ``shown`` (small-cell protection) shows them."""
    a, b, c = st.columns(3)
    a.metric("Rows loaded", shown.text(("loaded",), report.n_loaded))
    b.metric("Patients analysed", shown.text(("analysed",), report.n_analysed))
    c.metric("Rows excluded", shown.text(("excluded",), report.n_excluded))


def _count(shown, key, n: int) -> str:
    """A count as ``shown`` (small-cell protection) shows it, with thousands separators."""
    return f"{n:,}" if shown.shows(key) else shown.text(key, n)


def cohort_snapshot(snapshot, shown) -> None:
    """The loaded cohort at a glance: disease split, prior PD-1/PD-L1, years of IL-2 start, median follow-up."""
    def split(part: str, counts: dict[str, int], labels: dict[str, str]) -> str:
        return " · ".join(f"{labels.get(level, level)} {_count(shown, (part, level), n)}"
                          for level, n in counts.items() if n or level in labels)

    a, b = st.columns(2)  # two a row: "Melanoma 70 · RCC 37" needs half the page's width
    c, d = st.columns(2)
    a.metric("Disease", split("disease", snapshot.disease, schema.DISEASE_LABELS))
    b.metric("Prior PD-1/PD-L1", split("prior_pd1", snapshot.prior_pd1, {"yes": "yes", "no": "no"}))
    years = snapshot.il2_years
    c.metric("IL-2 start years", "–".join(dict.fromkeys(str(y) for y in years)) if years else "–")
    d.metric("Median follow-up", f"{format_months(snapshot.followup_months)} months"
             if snapshot.followup_months is not None else "not reached",
             help="Reverse Kaplan-Meier on overall survival from IL-2 start, as on the Survival page.")


def start_links() -> None:
    icons = {path: icon for path, _, icon in NAVIGATION}
    for column, (path, label) in zip(st.columns(len(START_LINKS)), START_LINKS):
        with column:
            st.page_link(path, label=label, icon=icons.get(path))


def cannot_analyse(report) -> None:
    """Red banner when no patient is analysed: the required fields the mapping leaves out, each with the
    closest unmapped file column as a suggestion."""
    missing = missing_required(report.mapping.values())
    if not missing:
        st.error("**Can't analyse yet:** no row of the file could be analysed. The findings below say why.",
                 icon=":material/block:")
        return
    unmapped = [col for col in report.unmapped_columns if col not in report.mapping]
    suggested = closest_columns(missing, unmapped)
    lines = [f"- {md_escape(schema.label(name))} (`{name}`)"
             + (f": perhaps the file column '{md_escape(suggested[name])}'" if suggested[name] else "")
             for name in missing]
    where = ("Pick them in **Column mapping** below, then press **Apply mapping**."
             if ctx.loaded.choice == data_mod.UPLOAD else "Rename these columns in the file.")
    st.error("**Can't analyse yet: map these fields.** No file column is recognised as:\n"
             + "\n".join(lines) + "\n\n" + where, icon=":material/block:")


def registry_counts(loaded) -> None:
    """Registry source: its size and the filtered selection, counted in the database (nothing typed here)."""
    a, b, c = st.columns(3)
    a.metric("Patients in the registry", f"{loaded.n_registry:,}")
    b.metric("Selected by the filters", f"{loaded.n_selected:,}")
    c.metric("Row limit of the pages", f"{loaded.row_limit:,}")
    st.caption("Counted where the data lives (SQL with the filters as parameters). The registry is configured "
               "by the deployer in .streamlit/secrets.toml; the pages load the selected patients when there "
               "are at most the row limit.")


def _fingerprint(table: pd.DataFrame) -> str:
    return hashlib.sha256(table.to_json(orient="values").encode()).hexdigest()[:16]


def listed_unrecognised(columns: list[str], editable: bool) -> list[str]:
    """The unrecognised file columns the mapping table lists: all of them up to MAPPING_MAX_UNRECOGNISED;
    beyond, the first ones (or the first ones whose name holds the text searched for), with a note."""
    if len(columns) <= MAPPING_MAX_UNRECOGNISED:
        return columns
    found = (st.text_input("Find unrecognised file columns by name", key=data_mod.MAPPING_FIND_WIDGET)
             if editable else "")
    matching = [c for c in columns if found.casefold() in c.casefold()] if found else columns
    listed = matching[:MAPPING_MAX_UNRECOGNISED]
    st.caption(f"{len(columns):,} file columns are not recognised; the table lists {len(listed):,} of them"
               + (f" ({len(matching):,} match the search)" if found else "")
               + ". The others stay extra columns" + (" unless you find and map them: apply your changes before a "
                                                     "new search (it starts a fresh table)." if editable else "."))
    return listed


def mapping_editor(report) -> None:
    """Automatic mapping, editable for uploads; applied with a button."""
    file_error = any(f.level == "file_error" for f in report.findings)
    editable = ctx.loaded.choice == data_mod.UPLOAD
    applied = editable and bool(st.session_state.get(data_mod.MAPPING))  # stays open to show what was applied
    with st.expander("Column mapping", expanded=file_error or applied, icon=":material/table_convert:"):
        if editable:
            st.caption("Pick the data-dictionary column each file column holds (empty = keep as an extra column).")
        # columns the dashboard did not recognise first: they are the ones to map
        unrecognised = [col for col in report.unmapped_columns if col not in report.mapping]
        rows = [{"File column": col, "Maps to": ""} for col in listed_unrecognised(unrecognised, editable)]
        rows += [{"File column": col, "Maps to": target or ""} for col, target in report.mapping.items()]
        table = pd.DataFrame(rows, columns=["File column", "Maps to"])
        if not editable:
            show_table(table, interactive=True)
            return
        targets = [""] + [spec.name for spec in schema.PATIENT_COLUMNS]
        # The editor keeps its edits by row position: a key of its own per mapping starts a fresh editor
        # whenever the mapping (and with it the row order) changes, so no edit lands on another column.
        edited = st.data_editor(table, key=data_mod.MAPPING_EDITOR_WIDGET + _fingerprint(table), hide_index=True,
                                width="stretch", disabled=["File column"],
                                column_config={"Maps to": st.column_config.SelectboxColumn(options=targets)})
        if st.button("Apply mapping", icon=":material/check:"):
            mapping = {r["File column"]: r["Maps to"] or "" for r in edited.to_dict("records")}
            earlier = st.session_state.get(data_mod.MAPPING) or {}  # keeps what was applied to columns not listed
            st.session_state[data_mod.MAPPING] = mapping | {k: v for k, v in earlier.items() if k not in mapping}
            st.rerun()


def ambiguous_dates(report) -> None:
    """Let the user resolve date columns that could be read day-first or month-first."""
    columns = [f.column for f in report.file_errors if f.kind == AMBIGUOUS_DATE_ORDER]
    if not columns or ctx.loaded.choice != data_mod.UPLOAD:
        return
    st.warning("Some date columns could be read either way. Choose the order used in the file:",
               icon=":material/event:")
    orders = {"dmy": "DD/MM/YYYY (day first)", "mdy": "MM/DD/YYYY (month first)"}
    chosen = {}
    for column in columns:
        chosen[column] = st.radio(md_escape(schema.label(column)), list(orders), format_func=orders.get,
                                  horizontal=True, key=data_mod.DATE_ORDER_WIDGET + column)
    if st.button("Apply date order", icon=":material/check:"):
        st.session_state[data_mod.DATE_ORDER] = {**st.session_state.get(data_mod.DATE_ORDER, {}), **chosen}
        st.rerun()


WITHHELD_TABLE = ("Patient-level table withheld while small-cell protection is on: it lists patients one by "
                  "one. Switch off Small-cell protection in the sidebar to see it.")


def findings_by_column(report) -> None:
    frame_ = report.to_frame()
    if frame_.empty:
        st.success("No problem found in the file.", icon=":material/task_alt:")
        return
    if current_masking().on:  # one row per patient (file row, id, value)
        st.markdown("#### Findings by column")
        st.info(WITHHELD_TABLE, icon=":material/visibility_off:")
        return
    frame_ = frame_.assign(column=frame_["column"].fillna("(whole file)"))
    order = ["file_row", "patient_id", "level", "message", "value", "analysis"]
    st.markdown("#### Findings by column")
    drawn = drawn_findings(frame_["column"])
    for column, group in frame_[drawn].groupby("column", sort=False):
        levels = group["level"].value_counts()
        summary = ", ".join(f"{n} {lvl.replace('_', ' ')}" for lvl, n in levels.items())
        with st.expander(f"{md_escape(column)}: {summary}", expanded=bool(levels.get("file_error", 0))):
            show_table(group[[c for c in order if c in group.columns]],
                       column_config={"message": st.column_config.TextColumn("message", width="large")})
    rest = frame_.loc[~drawn]
    if len(rest):
        levels = ", ".join(f"{n:,} {lvl.replace('_', ' ')}{'s' if n > 1 else ''}"
                           for lvl, n in rest["level"].value_counts().items())
        st.caption(f"… and {rest['column'].nunique():,} more file columns with findings ({levels}), not listed "
                   "one by one: the findings download below has every finding.")
    findings_download(frame_[["column"] + [c for c in order if c in frame_.columns]])


def drawn_findings(columns: pd.Series) -> pd.Series:
    """Which findings the page lists by column: those of the data-dictionary columns and of the whole file,
    and those of the first FINDINGS_MAX_OTHER_COLUMNS other file columns (in file order)."""
    other = ~columns.isin([*schema.COLUMNS, *schema.DERIVED_COLUMNS, "(whole file)"])
    return ~other | columns.isin(pd.unique(columns[other])[:FINDINGS_MAX_OTHER_COLUMNS])


def findings_download(findings: pd.DataFrame) -> None:
    """Every finding in one file (patient level: withheld under small-cell protection)."""
    if current_masking().on:
        return
    st.caption("All findings in one table:")
    download_table(findings, "validation_findings", title="Validation findings", patient_level=True,
                   notes=[f"Data: {ctx.loaded.label}."])


def excluded_download(cohort) -> None:
    """The excluded rows with their reasons (patient level: withheld under small-cell protection)."""
    excluded = cohort.excluded
    if excluded is None or len(excluded) == 0 or current_masking().on:
        return
    st.download_button("Download excluded rows with reasons (CSV)", lambda: table_to_csv_bytes(excluded),
                       file_name="excluded_rows.csv", mime="text/csv", icon=":material/download:",
                       on_click="ignore")


def identifiers(report) -> None:
    if report.identifier_columns:
        names = ", ".join(f"'{md_escape(c)}'" for c in report.identifier_columns[:IDENTIFIERS_NAMED])
        if len(report.identifier_columns) > IDENTIFIERS_NAMED:
            names += f" and {len(report.identifier_columns) - IDENTIFIERS_NAMED:,} more"
        st.warning(f"Columns that look like direct identifiers: {names}. Remove them from the file before "
                   "sharing; they are never used as patient_id.", icon=":material/badge:")
    st.toggle("Show pseudonyms (file row numbers) instead of the file's patient ids", **state.bind("pseudonyms"),
              help="Every page, table, figure, download and the report then name a patient \"row N\" (the line "
                   "in the file) and withhold the file's ids, also inside validation messages.")


def preview(cohort) -> None:
    with st.expander("Analysed data (first 50 rows)", icon=":material/table:"):
        if current_masking().on:  # one row per patient
            st.info(WITHHELD_TABLE, icon=":material/visibility_off:")
            return
        shown = cohort.data.head(50)
        if shown.shape[1] > PREVIEW_MAX_COLUMNS:
            st.caption(f"Showing the first {PREVIEW_MAX_COLUMNS} of the {shown.shape[1]:,} columns.")
            shown = shown.iloc[:, :PREVIEW_MAX_COLUMNS]
        show_table(shown, interactive=True)


def templates() -> None:
    st.markdown("#### Template and data dictionary")
    a, b = st.columns(2)
    a.download_button("Template CSV (all columns, no rows)", dictionary.template_csv(),
                      file_name="il2_registry_template.csv", mime="text/csv", icon=":material/download:")
    b.download_button("Data dictionary (CSV)", dictionary.dictionary_csv(), file_name="il2_data_dictionary.csv",
                      mime="text/csv", icon=":material/download:")


st.title("Data")
st.markdown(PURPOSE)
source_picker()
if ctx.loaded.synthetic:
    st.info(schema.SYNTHETIC_NOTE, icon=":material/science:")
if ctx.loaded.error:
    st.error(md_escape(ctx.loaded.error), icon=":material/error:")
if ctx.loaded.note:
    st.info(md_escape(ctx.loaded.note), icon=":material/upload_file:")
if ctx.loaded.ae_error:
    st.warning("Adverse-event table: " + md_escape(ctx.loaded.ae_error), icon=":material/warning:")
if ctx.loaded.n_registry is not None:
    registry_counts(ctx.loaded)
    start_links()
    if ctx.cohort is not None:
        preview(ctx.cohort)
elif ctx.cohort is not None:
    report = ctx.cohort.report
    snapshot = (data_mod.snapshot(ctx.loaded.scope, ctx.cohort.fingerprint, ctx.loaded) if report.n_analysed
                else None)
    shown = ctx.masking.protect(lambda: data_mod.count_view(ctx.loaded, ctx.n_total, snapshot),
                                ("data", ctx.cache_key, ctx.loaded.ae_key, ctx.n_total))
    counts(report, shown)
    if snapshot is not None:
        cohort_snapshot(snapshot, shown)
        start_links()
    else:
        cannot_analyse(report)
    identifiers(report)
    ambiguous_dates(report)
    mapping_editor(report)
    findings_by_column(report)
    excluded_download(ctx.cohort)
    data_mod.ae_complete_switches(ctx.loaded, shown)
    preview(ctx.cohort)
templates()
