"""Data page (the landing page): pick a sample or upload a file, fix the column mapping, read the
validation report, download the findings and the excluded rows, the template and the data dictionary."""
from __future__ import annotations

import hashlib
import os
from collections import Counter

import pandas as pd
import streamlit as st

from app_ui import data as data_mod, dictionary, state
from app_ui.downloads import download_table
from app_ui.frame import NAVIGATION, frame
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.session_cache import derived
from app_ui.widgets import show_table
from il2lib import schema
from il2lib.export.files import table_to_csv_bytes
from il2lib.survival.km import format_months
from il2lib.validation.coerce import to_date
from il2lib.validation.mapping import closest_columns, free_text_columns, missing_required
from il2lib.validation.rules import AMBIGUOUS_DATE_ORDER, RECODE_SUGGESTION, fmt_value

ctx = frame("Data")

PURPOSE = ("Explore an HD IL-2 registry (metastatic melanoma and RCC, many after PD-1/PD-L1): response, survival, "
           "toxicity, and a meeting report.")
#: The landing page's start links: (page script, label).
PREVIEW = "data_preview"  # the state key of the "Analysed data" section (open or not)
START_LINKS = (("pages/2_Response.py", "Response rates"), ("pages/3_Survival.py", "Survival curves"),
               ("pages/6_Report.py", "Build the meeting report"))

# A wide file (thousands of columns) is drawn within these bounds, each with a note; the downloads keep everything.
MAPPING_MAX_UNRECOGNISED = 200  # unrecognised file columns listed in the mapping table
FINDINGS_MAX_OTHER_COLUMNS = 50  # findings groups of file columns outside the data dictionary
IDENTIFIERS_NAMED = 20  # identifier-looking columns named in the warning
PREVIEW_MAX_COLUMNS = 100
SNAPSHOT_HALF_WIDTH = 24  # characters of a snapshot metric that fit half the page


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
    with row():
        st.file_uploader("Patient file (CSV, XLSX or Parquet; one row per patient)", type=data_mod.UPLOAD_TYPES,
                         key="w_upload", on_change=data_mod.store_upload, args=("w_upload", data_mod.UPLOAD_FILE))
        st.file_uploader("Adverse-event table (optional, long format)", type=data_mod.UPLOAD_TYPES, key="w_upload_ae",
                         on_change=data_mod.store_upload, args=("w_upload_ae", data_mod.UPLOAD_AE))
    with row():
        st.file_uploader("Tumour assessments (CSV, optional; one row per patient and assessment)",
                         type=data_mod.UPLOAD_TYPES, key="w_upload_tumour", on_change=data_mod.store_upload,
                         args=("w_upload_tumour", data_mod.UPLOAD_TUMOUR),
                         help="patient_id, assessment_date, target_sum_mm (sum of target-lesion diameters) and "
                              "optionally new_lesions: the Response page then draws the waterfall and spider plots.")
        st.file_uploader("REDCap data dictionary (CSV, optional)", type=["csv"], key="w_upload_dictionary",
                         on_change=data_mod.store_upload, args=("w_upload_dictionary", data_mod.UPLOAD_DICTIONARY),
                         help="The project's Data Dictionary, for a REDCap \"CSV (raw data)\" export: it decodes the "
                              "coded values. A labels export, or an export of the bundled REDCap template, loads "
                              "without it.")
    current = st.session_state.get(data_mod.UPLOAD_FILE)
    if current is not None:
        st.caption(f"In this session: {md_escape(current.name)} ({len(current.data):,} bytes)")
        st.button("Forget the uploaded files", icon=":material/delete:", on_click=data_mod.clear_upload,
                  help="Drops the uploaded files and every result computed from them from this session.")


def row():
    """A row of elements side by side: one block (``st.columns`` sends a block per column too)."""
    return st.container(horizontal=True)


def counts(report, shown) -> None:
    """Rows loaded = patients analysed + rows excluded, as ``shown`` (small-cell protection) shows them."""
    with row():
        st.metric("Rows loaded", _count(shown, ("loaded",), report.n_loaded))
        st.metric("Patients analysed", _count(shown, ("analysed",), report.n_analysed))
        st.metric("Rows excluded", _count(shown, ("excluded",), report.n_excluded))


def plural(n: int, word: str, count: str | None = None) -> str:
    """``1 row``, ``2,000 rows`` (``count``: the number as shown, e.g. masked)."""
    return f"{count if count is not None else f'{n:,}'} {word}{'' if n == 1 else 's'}"


def _count(shown, key, n: int) -> str:
    """A count as ``shown`` (small-cell protection) shows it, with thousands separators."""
    return f"{n:,}" if shown.shows(key) else shown.text(key, n)


def cohort_snapshot(snapshot, shown) -> None:
    """The loaded cohort at a glance: disease split, prior PD-1/PD-L1, years of IL-2 start, median follow-up."""
    def split(part: str, counts: dict[str, int], labels: dict[str, str]) -> str:
        return " · ".join(f"{labels.get(level, level)} {_count(shown, (part, level), n)}"
                          for level, n in counts.items() if n or level in labels)

    disease = split("disease", snapshot.disease, schema.DISEASE_LABELS)
    prior = split("prior_pd1", snapshot.prior_pd1, {"yes": "yes", "no": "no"})
    # two a row: "Melanoma 70 · RCC 37" needs half the page's width; "Melanoma 131,117 · RCC 68,883" the whole
    with row() if max(len(disease), len(prior)) <= SNAPSHOT_HALF_WIDTH else st.container():
        st.metric("Disease", disease)
        st.metric("Prior PD-1/PD-L1", prior)
    years = snapshot.il2_years
    with row():
        st.metric("IL-2 start years", "–".join(dict.fromkeys(str(y) for y in years)) if years else "–")
        st.metric("Median follow-up", f"{format_months(snapshot.followup_months)} months"
                  if snapshot.followup_months is not None else "not reached",
                  help="Reverse Kaplan-Meier on overall survival from IL-2 start, as on the Survival page.")


def start_links() -> None:
    icons = {path: icon for path, _, icon in NAVIGATION}
    with row():
        for path, label in START_LINKS:
            st.page_link(path, label=label, icon=icons.get(path), width="stretch")


def cannot_analyse(report) -> None:
    """Red banner when no patient is analysed: the required fields the mapping leaves out, each with the
    closest unmapped file column as a suggestion."""
    missing = missing_required(report.mapping.values())
    if any(f.kind == AMBIGUOUS_DATE_ORDER for f in report.file_errors) and ctx.loaded.choice == data_mod.UPLOAD:
        st.error("**Can't analyse yet: answer the date-order question below.** The file's dates can be read day "
                 "first or month first.", icon=":material/block:")
        return
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
    with row():
        st.metric("Patients in the registry", f"{loaded.n_registry:,}")
        st.metric("Selected by the filters", f"{loaded.n_selected:,}")
        st.metric("Row limit of the pages", f"{loaded.row_limit:,}")
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


DATE_ORDERS = {"dmy": "Day first (DD/MM/YYYY)", "mdy": "Month first (MM/DD/YYYY)"}


def read_date(text: str, order: str) -> str:
    """``12/09/2018`` read in ``order`` as the loader reads it: ``12 Sep 2018`` (or "not a date")."""
    value = to_date(pd.Series([text], dtype=object), pd.Series([False]), order).values.iloc[0]
    return value.strftime("%-d %b %Y") if pd.notna(value) else "not a date"


def ambiguous_dates(report) -> None:
    """Ask the order of date columns that read day-first and month-first alike: example values read both ways,
    no answer chosen for the user, and what is held back until the answer."""
    found = [f for f in report.file_errors if f.kind == AMBIGUOUS_DATE_ORDER]
    if not found or ctx.loaded.choice != data_mod.UPLOAD:
        return
    names = ", ".join(schema.label(f.column) for f in found)
    st.warning(f"**Which date order does the file use?** Every date in {md_escape(names)} can be read day first "
               "or month first. Until you answer, these dates are held back and no patient is analysed.",
               icon=":material/event:")
    chosen = {}
    for finding in found:
        examples = finding.examples or ((finding.value,) if finding.value else ())
        chosen[finding.column] = st.radio(md_escape(f"{schema.label(finding.column)}: the dates are"),
                                          list(DATE_ORDERS), format_func=DATE_ORDERS.get, index=None,
                                          horizontal=True, key=data_mod.DATE_ORDER_WIDGET + finding.column)
        st.caption("  \n".join(md_escape(f"'{ex}' is {read_date(ex, 'dmy')} (day first) or {read_date(ex, 'mdy')} "
                                          "(month first)") for ex in examples))
    answered = all(chosen.values())
    if st.button("Apply date order", icon=":material/check:", disabled=not answered,
                 help=None if answered else "Choose an order for every column first."):
        st.session_state[data_mod.DATE_ORDER] = {**st.session_state.get(data_mod.DATE_ORDER, {}), **chosen}
        st.rerun()


def recode_suggestions(report) -> None:
    """Values not recognised that are close to an allowed value: one click recodes them (applied on every load of
    this upload and listed in the meeting report); the accepted recodes, each with an undo."""
    if ctx.loaded.choice != data_mod.UPLOAD:
        return
    masking = current_masking()
    groups = Counter((f.column, f.value, f.suggestion) for f in report.findings
                     if f.kind == RECODE_SUGGESTION and f.value)
    if groups:
        n = sum(groups.values())
        st.warning(f"**{plural(n, 'row', masking.count(n))} left out for a value not recognised** that is close to "
                   "an allowed value. Accept a suggestion to recode the value in this session (the file is not "
                   "changed; the recode is listed in the meeting report's Data and validation section).",
                   icon=":material/spellcheck:")
        for i, ((column, value, target), rows) in enumerate(groups.items()):
            text, button = st.columns([5, 1], vertical_alignment="center")
            text.markdown(md_escape(f"{schema.label(column)}: '{value}' → {target} "
                                    f"({plural(rows, 'row', masking.count(rows))})"))
            button.button("Accept", key=f"recode_accept_{i}", on_click=data_mod.accept_recode,
                          args=(column, value, target), icon=":material/check:",
                          help=f"Read '{value}' as '{target}' in this upload.")
    accepted = [(column, value, target) for column, recode in data_mod.accepted_recodes().items()
                for value, target in recode.items()]
    if accepted:
        st.markdown("**Recodes accepted** (listed in the meeting report's Data and validation section):")
        for i, (column, value, target) in enumerate(accepted):
            text, button = st.columns([5, 1], vertical_alignment="center")
            text.markdown(md_escape(f"{schema.label(column)}: '{value}' read as '{target}'"))
            button.button("Undo", key=f"recode_undo_{i}", on_click=data_mod.undo_recode, args=(column, value),
                          icon=":material/undo:")


#: What a finding's ``analysis`` codes leave a patient out of, in words.
ANALYSIS_LABELS = {"os": "overall survival", "pfs": "progression-free survival", "dor": "duration of response",
                   "response": "response rates", schema.LINE_OF_IL2: "line of IL-2 (grouping and filter)",
                   schema.CLINICAL_BENEFIT: "clinical benefit (CBR, biomarkers)"}
LEVEL_WORDS = {"file_error": "file can't be analysed", "row_error": "row left out", "warning": "warning"}
LEVEL_COUNTS = {"file_error": ("file problem", "file problems"), "row_error": ("row left out", "rows left out"),
                "warning": ("warning", "warnings")}


def level_count(n: int, level: str) -> str:
    """``1 row left out``, ``2,000 rows left out``, ``3 warnings``."""
    one, many = LEVEL_COUNTS.get(level, (level, level))
    return f"{n:,} {one if n == 1 else many}"


def analyses_text(codes: str | None) -> str:
    if not codes:
        return ""
    return ", ".join(ANALYSIS_LABELS.get(code, schema.label(code)) for code in str(codes).split(","))


def is_absent_column_note(finding, report) -> bool:
    """A note about an optional data-dictionary column the file does not have (not a problem of its data)."""
    return (finding.level == "warning" and finding.file_row is None and finding.column in schema.COLUMNS
            and finding.column not in report.mapping.values())


def absent_columns(report) -> None:
    """Optional columns not in the file, apart from the data problems: each with the analyses it limits."""
    notes = derived(report, "absent", lambda r: [f for f in r.findings if is_absent_column_note(f, r)])
    if not notes:
        return
    with st.expander(f"Not in your file: {plural(len(notes), 'optional column')} (these analyses are limited)",
                     icon=":material/info:"):
        st.markdown("\n".join(_absent_line(finding, current_masking()) for finding in notes))  # one element


def _absent_line(finding, masking) -> str:
    limits = analyses_text(finding.analysis)
    return ("- **" + md_escape(schema.label(finding.column)) + "**"
            + md_escape((f". Limits: {limits}. " if limits else ". ") + masking.text(finding.message)))


def file_reading(report) -> None:
    """How the file was read (date orders, decimal commas, recodes...), as the meeting report lists it."""
    if report.conversions:
        with st.expander("How the file was read (as the meeting report lists it)", icon=":material/rule:"):
            st.markdown("\n".join("- " + md_escape(c) for c in report.conversions))


WITHHELD_TABLE = ("Patient-level table withheld while small-cell protection is on: it lists patients one by "
                  "one. Switch off Small-cell protection in the sidebar to see it.")


FINDINGS_LISTED = 30  # findings of one column listed as full sentences; more go in a table


def column_heading(column: str) -> str:
    if column == "(whole file)":
        return "Whole file"
    if column in schema.COLUMNS or column in schema.DERIVED_COLUMNS:
        return f"{schema.label(column)} ({column})"
    return f"File column '{column}'"


def findings_view(report) -> tuple:
    """The report's findings as the page lists them, derived once per report (a rerun that changes a filter only
    draws them): (every finding for the download, None without any; the sections ((expander label, expanded,
    lines or table), ...); the caption on the file columns with findings not listed one by one, or "")."""
    frame_ = report.to_frame()
    if frame_.empty:
        return None, (), ""
    problems = [not is_absent_column_note(f, report) for f in report.findings]
    frame_ = frame_.assign(column=frame_["column"].fillna("(whole file)"))
    order = ["file_row", "patient_id", "level", "message", "value", "analysis"]
    everything = frame_[["column"] + [c for c in order if c in frame_.columns]]
    frame_ = frame_[problems]
    if frame_.empty:
        return everything, (), ""
    drawn = drawn_findings(frame_["column"])
    sections = []
    for column, group in frame_[drawn].groupby("column", sort=False):
        levels = group["level"].value_counts()
        summary = ", ".join(level_count(n, lvl) for lvl, n in levels.items())
        content = ("\n".join(_finding_line(row) for row in group.itertuples(index=False))
                   if len(group) <= FINDINGS_LISTED else readable_findings(group[[c for c in order if c in group]]))
        sections.append((md_escape(f"{column_heading(column)}: {summary}"), bool(levels.get("file_error", 0)),
                         content))
    rest = frame_.loc[~drawn]
    caption = ""
    if len(rest):
        levels = ", ".join(level_count(n, lvl) for lvl, n in rest["level"].value_counts().items())
        caption = (f"… and {rest['column'].nunique():,} more file columns with findings ({levels}), not listed "
                   "one by one: the findings download below has every finding.")
    return everything, tuple(sections), caption


def findings_by_column(report) -> None:
    everything, sections, rest = derived(report, "findings", findings_view)
    if everything is None:
        st.success("No problem found in the file.", icon=":material/task_alt:")
        return
    if current_masking().on:  # one row per patient (file row, id, value)
        st.markdown("#### Data problems by column")
        st.info(WITHHELD_TABLE, icon=":material/visibility_off:")
        return
    if not sections:
        st.success("No problem found in the data of the file.", icon=":material/task_alt:")
        findings_download(everything)
        return
    st.markdown("#### Data problems by column")
    for label, expanded, content in sections:
        with st.expander(label, expanded=expanded):
            if isinstance(content, str):
                st.markdown(content)
            else:
                show_table(content, column_config={"Problem": st.column_config.TextColumn("Problem", width="large")})
    if rest:
        st.caption(rest)
    findings_download(everything)


def _finding_line(row) -> str:
    """One finding as a full sentence: what happens to the row, the message, the analyses it is left out of."""
    what = {"row_error": "Left out", "file_error": "Blocks the file", "warning": "Warning"}.get(row.level, row.level)
    limits = analyses_text(row.analysis)
    return "- " + md_escape(f"{what}: {row.message}" + (f" (left out of {limits})" if limits else ""))


def readable_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings with clinical column names and words, no "None": for a table on the page."""
    out = findings.assign(level=findings["level"].map(lambda v: LEVEL_WORDS.get(v, v)))
    if "analysis" in out:
        out["analysis"] = out["analysis"].map(analyses_text)
    out = out.astype(object).where(out.notna(), "")
    return out.rename(columns={"file_row": "File row", "patient_id": "Patient id", "level": "What happens",
                               "message": "Problem", "value": "Value in the file", "analysis": "Left out of"})


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


def identifiers(report, cohort) -> None:
    extra = [c for c in report.unmapped_columns if c not in report.identifier_columns]
    rows = cohort.data if len(cohort.data) else cohort.excluded
    free_text = free_text_columns(rows, extra) if rows is not None else []
    if free_text:
        names = ", ".join(f"'{md_escape(c)}'" for c in free_text[:IDENTIFIERS_NAMED])
        if len(free_text) > IDENTIFIERS_NAMED:
            names += f" and {len(free_text) - IDENTIFIERS_NAMED:,} more"
        st.warning(f"Free-text columns kept as extra columns: {names}. Free text may contain identifiers (names, "
                   "places, dates): check them, or remove them from the file, before sharing a table, a download or "
                   "the screen.", icon=":material/notes:")
    if report.identifier_columns:
        names = ", ".join(f"'{md_escape(c)}'" for c in report.identifier_columns[:IDENTIFIERS_NAMED])
        if len(report.identifier_columns) > IDENTIFIERS_NAMED:
            names += f" and {len(report.identifier_columns) - IDENTIFIERS_NAMED:,} more"
        st.warning(f"Columns that look like direct identifiers: {names}. Remove them from the file before "
                   "sharing; they are never used as patient_id.", icon=":material/badge:")
    if ctx.loaded.pseudonyms_required:
        st.toggle("Show pseudonyms (file row numbers) instead of the file's patient ids", value=True, disabled=True,
                  key="w_pseudonyms_required")
        st.caption("Pseudonyms are on and stay on: the REDCap data dictionary flags the record id as an identifier, "
                   "so every page, download and the report name a patient \"row N\".")
        return
    st.toggle("Show pseudonyms (file row numbers) instead of the file's patient ids", **state.bind("pseudonyms"),
              help="Every page, table, figure, download and the report then name a patient \"row N\" (the line "
                   "in the file) and withhold the file's ids, also inside validation messages.")


def preview(cohort) -> None:
    """The first analysed rows, drawn only while their section is open."""
    section = st.expander("Analysed data (first 50 rows)", icon=":material/table:", key=PREVIEW, on_change="rerun")
    with section:
        if not section.open:
            return
        if current_masking().on:  # one row per patient
            st.info(WITHHELD_TABLE, icon=":material/visibility_off:")
            return
        shown = cohort.data.head(50)
        if shown.shape[1] > PREVIEW_MAX_COLUMNS:
            st.caption(f"Showing the first {PREVIEW_MAX_COLUMNS} of the {shown.shape[1]:,} columns.")
            shown = shown.iloc[:, :PREVIEW_MAX_COLUMNS]
        show_table(readable_rows(shown), interactive=True)


def readable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Patient rows as a clinician reads them (all text): dates without a time, Yes/No, whole numbers without
    ".0", blanks for missing values, diseases by their labels, the data dictionary's column labels (a label
    two columns share gets the column's code)."""
    out = {}
    for position, name in enumerate(rows.columns):
        column = rows.iloc[:, position]
        labels = schema.DISEASE_LABELS if name == schema.DISEASE else {}
        text = column.map(lambda v: "" if pd.isna(v) else labels.get(v, fmt_value(v)))
        out[readable_label(name, out)] = text.astype(object)
    return pd.DataFrame(out, index=rows.index)


def readable_label(name, taken) -> str:
    label = schema.label(name) if isinstance(name, str) else str(name)
    return label if label not in taken else f"{label} ({name})"


def redcap_summary(redcap) -> None:
    """A REDCap export: how it was read (kind, coding, events), its REDCap findings and the missing-data codes
    read as missing, per field (the findings are listed by column below too)."""
    if redcap is None:
        return
    coding = {"dictionary": f"decoded with the data dictionary {redcap.dictionary_name}".rstrip(),
              "template": "decoded with the bundled REDCap template's coding (no dictionary uploaded)",
              "labels": "a labels export (values as labels)",
              "none": "not decoded: no dictionary, and not the template's fields"}.get(redcap.coding, redcap.coding)
    kind = {"raw": "raw data", "labels": "labels"}.get(redcap.kind, redcap.kind)
    with st.expander(f"REDCap export: {kind}" + (", longitudinal" if redcap.longitudinal else "")
                     + f", {len(redcap.findings):,} REDCap finding{'' if len(redcap.findings) == 1 else 's'}",
                     expanded=redcap.coding == "none", icon=":material/database:"):
        st.markdown(md_escape(f"Read as a REDCap {kind} export, {coding}."))
        masking = current_masking()
        what = {"file_error": "Blocks the file", "row_error": "Left out"}
        if redcap.findings:  # one list, one element
            st.markdown("\n".join("- " + md_escape(f"{what.get(f.level, 'Note')}: {masking.text(f.message)}")
                                  for f in redcap.findings[:50]))
        if len(redcap.findings) > 50:
            st.caption(f"... and {len(redcap.findings) - 50:,} more (every finding is in the download below).")
        rows = [{"Field": field, "Missing-data code": code, "Cells": n}
                for field, codes in sorted(redcap.missing_counts.items()) for code, n in codes.items()]
        if rows:
            st.markdown("**Missing-data codes read as missing values**")
            table = pd.DataFrame(rows)
            if masking.on:
                table = table.assign(Cells=table["Cells"].map(masking.count))
            show_table(table)
        else:
            st.caption("No missing-data code (NI, UNK, NASK, ...) in the export.")


def templates() -> None:
    st.markdown("#### Template and data dictionary")
    with row():
        st.download_button("Template CSV (all columns, no rows)", dictionary.template_csv(),
                           file_name="il2_registry_template.csv", mime="text/csv", icon=":material/download:")
        st.download_button("Data dictionary (CSV)", dictionary.dictionary_csv(), file_name="il2_data_dictionary.csv",
                           mime="text/csv", icon=":material/download:")


st.title("Data")
st.markdown(PURPOSE)
source_picker()
if ctx.loaded.synthetic:
    st.info(schema.SYNTHETIC_NOTE, icon=":material/science:")
if ctx.loaded.error:
    st.error(md_escape(ctx.loaded.error), icon=":material/error:")
if ctx.loaded.note and ctx.loaded.choice != data_mod.UPLOAD:  # an upload's is the uploader above
    st.info(md_escape(ctx.loaded.note), icon=":material/upload_file:")
if ctx.loaded.ae_error:
    st.warning("Adverse-event table: " + md_escape(ctx.loaded.ae_error), icon=":material/warning:")
redcap_summary(ctx.loaded.redcap)
if ctx.loaded.n_registry is not None:
    registry_counts(ctx.loaded)
    start_links()
    if ctx.cohort is not None:
        preview(ctx.cohort)
elif ctx.cohort is not None:
    report = ctx.cohort.report
    snapshot = (derived(ctx.cohort, "snapshot " + ctx.loaded.scope,
                        lambda cohort: data_mod.snapshot(ctx.loaded.scope, cohort.fingerprint, ctx.loaded))
                if report.n_analysed else None)
    shown = ctx.masking.protect(lambda: data_mod.count_view(ctx.loaded, ctx.n_total, snapshot),
                                ("data", ctx.cache_key, ctx.loaded.ae_key, ctx.loaded.tumour_key, ctx.n_total))
    counts(report, shown)
    if snapshot is not None:
        cohort_snapshot(snapshot, shown)
        start_links()
    else:
        cannot_analyse(report)
    identifiers(report, ctx.cohort)
    ambiguous_dates(report)
    recode_suggestions(report)
    mapping_editor(report)
    findings_by_column(report)
    absent_columns(report)
    file_reading(report)
    excluded_download(ctx.cohort)
    data_mod.ae_complete_switches(ctx.loaded, shown)
    data_mod.tumour_table_report(ctx.loaded, shown)
    preview(ctx.cohort)
templates()
