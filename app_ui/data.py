"""Where the dashboard's data comes from: bundled samples, a server-side file, or an upload.

Storage and caching choice
--------------------------
* Bundled samples (and a server-side file named by ``IL2_DASHBOARD_DATA``, used by the
  benchmark) are loaded once per process with ``st.cache_resource``, keyed by path,
  modification time, mapping and the clinical-benefit threshold: every session may share them.
  ``serve.py`` loads the default one (the server file, else the default sample) before listening.
* Uploaded bytes live in ``st.session_state`` only (server memory), never in a process-wide
  cache. The session's :class:`UploadedFile` holds the very bytes object of Streamlit's upload
  manager (its ``getvalue()`` does not copy), and the loader reads UTF-8 text, XLSX and Parquet in
  place: one copy per file, as long as nothing calls ``getbuffer()`` or writes to the widget's file.
  While an upload over 1 MiB is received, Starlette spools it to an unlinked temporary file;
  ``serve.py`` puts the temp directory on tmpfs, so that copy is in memory too. The loaded cohort of
  an upload is memoised in the same session's state, keyed by the SHA-256 of the bytes plus the
  options, so another session can never reach it.
* Analysis results are cached under a *scope*: ``<sample>:<path>`` for shared files, and for
  uploads ``upload:<token>``, a random token drawn once per session, together with the data
  fingerprint. Results of shared data are cached process-wide; results of an upload in the
  session's own cache (:mod:`app_ui.session_cache`), dropped when the session ends, when another
  file is uploaded and when the user presses "Forget the uploaded files".
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from app_ui import registry, state
from app_ui.filters import FILTER_MEMO
from app_ui.loaded import LoadedData, RedcapSummary
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.registry import REGISTRY, registry_config
from app_ui.session_cache import DERIVED, UPLOAD_SCOPE_PREFIX, data_cache, forget_upload_results, holds_upload
from il2lib import schema
from il2lib.analyses.snapshot import CohortSnapshot, cohort_snapshot
from il2lib.analyses.tumour_burden import load_tumour_assessments
from il2lib.errors import Il2libError
from il2lib.privacy.disclosure import CountView, Suppression
from il2lib.privacy.pseudonyms import pseudonymise
from il2lib.redcap.entry import is_redcap_export
from il2lib.redcap.export import load_redcap
from il2lib.validation.adverse_events import load_adverse_events
from il2lib.validation.patients import load_cohort

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_data"
SERVER_DATA_ENV = "IL2_DASHBOARD_DATA"
#: Set to "1" by serve.py once the temp directory (where uploads over 1 MiB are spooled) is in memory.
TEMP_IN_MEMORY_ENV = "IL2_TEMP_IN_MEMORY"


@dataclass(frozen=True)
class Sample:
    key: str
    label: str
    patients_file: str
    ae_file: str
    tumour_file: str


SAMPLES: dict[str, Sample] = {
    "combined": Sample("combined", "Combined sample (PROCLAIM-like + community-like)", "combined_synthetic.csv",
                       "combined_synthetic_adverse_events.csv", "combined_synthetic_tumour_assessments.csv"),
    "proclaim": Sample("proclaim", "PROCLAIM-like only (after PD-1/PD-L1)", "proclaim_synthetic.csv",
                       "proclaim_synthetic_adverse_events.csv", "proclaim_synthetic_tumour_assessments.csv"),
    "community": Sample("community", "Community-like only (2004-2012)", "community_synthetic.csv",
                        "community_synthetic_adverse_events.csv", "community_synthetic_tumour_assessments.csv"),
}
DEFAULT_CHOICE = "combined"
UPLOAD, SERVER = state.UPLOAD_CHOICE, "server"
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]

# Session-state keys of the upload (bytes stay in the session).
UPLOAD_FILE, UPLOAD_AE, UPLOAD_MEMO, UPLOAD_TOKEN, MAPPING = "upload_file", "upload_ae", "upload_memo", \
    "upload_token", "v_mapping"
UPLOAD_TUMOUR, UPLOAD_DICTIONARY = "upload_tumour", "upload_redcap_dictionary"
#: The uploaders of the Data page: widget key -> session key of the bytes it keeps.
UPLOAD_WIDGETS = {"w_upload": UPLOAD_FILE, "w_upload_ae": UPLOAD_AE, "w_upload_tumour": UPLOAD_TUMOUR,
                  "w_upload_dictionary": UPLOAD_DICTIONARY}
DATE_ORDER = "v_date_order"  # schema date column -> "dmy" / "mdy", chosen on the Data page
RECODES = "v_recodes"  # schema column -> {value as in the file: allowed value}, suggestions accepted on the Data page
# Data page widgets named after the upload's columns or AE sources (key prefixes), and the mapping's search box.
DATE_ORDER_WIDGET, MAPPING_EDITOR_WIDGET, AE_COMPLETE_WIDGET = "date_order_", "mapping_editor_", "w_ae_complete_"
UPLOAD_WIDGET_PREFIXES = (DATE_ORDER_WIDGET, MAPPING_EDITOR_WIDGET, AE_COMPLETE_WIDGET)
MAPPING_FIND_WIDGET = "w_mapping_find"
PSEUDONYM_MEMO = "pseudonym_memo"  # (loaded cohort, its AE and tumour tables, their pseudonymised copies)
PSEUDONYM_SCOPE = "|pseudonyms"  # appended to the scope: results computed on pseudonyms are cached apart


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes

    @functools.cached_property
    def sha256(self) -> str:  # once per upload, not at every rerun (0.15 s for a 1e6-patient CSV)
        return hashlib.sha256(self.data).hexdigest()


def server_data_path() -> Path | None:
    raw = os.environ.get(SERVER_DATA_ENV, "").strip()
    return Path(raw) if raw else None


def choices() -> list[str]:
    """Selectable data sources, in order (the server file first when configured)."""
    keys = ([SERVER] if server_data_path() else []) + ([REGISTRY] if registry_config() else []) + list(SAMPLES)
    return keys + [UPLOAD]


def choice_label(key: str) -> str:
    if key == SERVER:
        path = server_data_path()
        return f"Server file: {path.name if path else '?'}"
    if key == UPLOAD:
        return "My upload"
    if key == "registry":  # the deployer's label shows in the sidebar once chosen
        return "Registry database / Parquet folder"
    return SAMPLES[key].label + " · synthetic"


def default_choice() -> str:
    return SERVER if server_data_path() else (REGISTRY if registry_config() else DEFAULT_CHOICE)


def session_token() -> str:
    """Random per-session token that scopes the cache entries of uploaded data."""
    return st.session_state.setdefault(UPLOAD_TOKEN, secrets.token_hex(16))


def mapping_items(mapping: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((mapping or {}).items()))


@st.cache_resource(max_entries=8, show_spinner="Loading data…")
def _load_path(path: str, mtime: float, mapping: tuple[tuple[str, str], ...], cb_sd: float, window: float):
    return load_cohort(Path(path), dict(mapping) or None, cb_sd_months=cb_sd, assessment_window_days=window)


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_ae_path(path: str, mtime: float, patients_path: str, patients_mtime: float,
                  mapping: tuple[tuple[str, str], ...], cb_sd: float, window: float):

    return load_adverse_events(Path(path), _load_path(patients_path, patients_mtime, mapping, cb_sd, window))


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_tumour_path(path: str, mtime: float, patients_path: str, patients_mtime: float,
                      mapping: tuple[tuple[str, str], ...], cb_sd: float, window: float):
    return load_tumour_assessments(Path(path), _load_path(patients_path, patients_mtime, mapping, cb_sd, window))


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def _load_file(choice: str, path: Path, ae_path: Path | None, label: str, synthetic: bool,
               mapping: dict[str, str] | None, cb_sd: float, window: float,
               tumour_path: Path | None = None) -> LoadedData:

    scope = f"{choice}:{path}"
    if not path.exists():
        return LoadedData(choice, label, synthetic, scope, error=f"Data file not found: {path.name}.")
    items = mapping_items(mapping)
    try:
        cohort = _load_path(str(path), _mtime(path), items, cb_sd, window)
    except Il2libError as exc:
        return LoadedData(choice, label, synthetic, scope, error=str(exc))
    ae, ae_error = None, ""
    if ae_path is not None and ae_path.exists():
        try:
            ae = _load_ae_path(str(ae_path), _mtime(ae_path), str(path), _mtime(path), items, cb_sd, window)
        except Il2libError as exc:
            ae_error = str(exc)
    ae_key = f"{ae_path}:{_mtime(ae_path)}" if ae is not None else ""
    assessments, tumour_error = None, ""
    if tumour_path is not None and tumour_path.exists():
        try:
            assessments = _load_tumour_path(str(tumour_path), _mtime(tumour_path), str(path), _mtime(path), items,
                                            cb_sd, window)
        except Il2libError as exc:
            tumour_error = str(exc)
    tumour_key = f"{tumour_path}:{_mtime(tumour_path)}" if assessments is not None else ""
    return LoadedData(choice, label, synthetic, scope, cohort=cohort, adverse_events=ae, ae_error=ae_error,
                      ae_key=ae_key, assessments=assessments, tumour_error=tumour_error, tumour_key=tumour_key)


def _load_upload(mapping: dict[str, str] | None, cb_sd: float, window: float) -> LoadedData:
    ss = st.session_state
    upload: UploadedFile | None = ss.get(UPLOAD_FILE)
    ae_upload: UploadedFile | None = ss.get(UPLOAD_AE)
    tumour_upload: UploadedFile | None = ss.get(UPLOAD_TUMOUR)
    dictionary: UploadedFile | None = ss.get(UPLOAD_DICTIONARY)
    scope = UPLOAD_SCOPE_PREFIX + session_token()
    if upload is None:
        linked = ss.get(state.LINKED_UPLOAD)
        if linked:
            name, fingerprint = linked
            return LoadedData(UPLOAD, f"Upload: {name} (not loaded)", False, scope,
                              error=f"This link was made on an uploaded file: {name}"
                                    + (f" (fingerprint {fingerprint})" if fingerprint else "")
                                    + ". Upload the same file to see this view.")
        return LoadedData(UPLOAD, "My upload", False, scope,
                          note="No file uploaded yet: choose a patient file on the Data page.")
    date_order = dict(ss.get(DATE_ORDER) or {})
    recodes = accepted_recodes()
    key = (upload.sha256, ae_upload.sha256 if ae_upload else "", tumour_upload.sha256 if tumour_upload else "",
           dictionary.sha256 if dictionary else "", mapping_items(mapping), cb_sd, window,
           mapping_items(date_order), tuple((col, mapping_items(r)) for col, r in sorted(recodes.items())))
    memo = ss.get(UPLOAD_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]
    label = f"Upload: {upload.name}"
    slot = st.empty()  # the steps of this load, in place of whatever the page showed before
    with slot.status(f"Reading {upload.name} ({file_size_text(len(upload.data))})…") as status:
        loaded = _read_upload(upload, ae_upload, label, scope, mapping, cb_sd, window, date_order, recodes,
                              lambda step: status.update(label=f"{step}…"), tumour_upload, dictionary)
    slot.empty()
    ss[UPLOAD_MEMO] = (key, loaded)
    return loaded


def _read_upload(upload, ae_upload, label, scope, mapping, cb_sd, window, date_order, recodes, step,
                 tumour_upload=None, dictionary=None) -> LoadedData:
    """Load an upload in memory: a REDCap export (recognised by its header, or any file given with a REDCap
    data dictionary) through :func:`il2lib.load_redcap`, any other file through the CSV loader; then the AE and
    tumour-assessment tables uploaded beside it, which take the place of the export's own."""
    options = dict(cb_sd_months=cb_sd, date_order=date_order or None, assessment_window_days=window,
                   recodes=recodes or None, progress=step)
    ae = assessments = redcap = None
    ae_key = tumour_key = ""
    try:
        if dictionary is not None or is_redcap_export(upload.data):
            result = load_redcap(_named_bytes(upload), _named_bytes(dictionary) if dictionary else None,
                                 mapping=mapping or None, **options)
            cohort, ae, assessments = result.cohort, result.adverse_events, result.assessments
            ae_key = f"{upload.sha256}:ae" if ae is not None else ""
            tumour_key = f"{upload.sha256}:tumour" if assessments is not None else ""
            redcap = RedcapSummary(result.kind, result.coding, result.longitudinal, tuple(result.findings),
                                   dict(result.missing_counts), bool(result.pseudonyms_required),
                                   dictionary.name if dictionary else "")
        else:
            cohort = load_cohort(_named_bytes(upload), mapping or None, **options)
    except Il2libError as exc:
        return LoadedData(UPLOAD, label, False, scope, error=str(exc))
    ae_error = tumour_error = ""
    if ae_upload is not None:
        ae, ae_key, ae_error = _companion_table(ae_upload, load_adverse_events, cohort, "the adverse-event table", step)
    if tumour_upload is not None:
        assessments, tumour_key, tumour_error = _companion_table(tumour_upload, load_tumour_assessments, cohort,
                                                                 "the tumour assessments", step)
    return LoadedData(UPLOAD, label, False, scope, cohort=cohort, adverse_events=ae, ae_error=ae_error,
                      ae_key=ae_key, assessments=assessments, tumour_error=tumour_error, tumour_key=tumour_key,
                      redcap=redcap)


def _companion_table(upload, reader, cohort, what: str, step):
    """(table, cache key, error) of an adverse-event or tumour-assessment upload read against the patient cohort."""
    step(f"Reading {what} {upload.name} ({file_size_text(len(upload.data))})")
    try:
        return reader(_named_bytes(upload), cohort), upload.sha256, ""
    except Il2libError as exc:
        return None, "", str(exc)


def file_size_text(n_bytes: int) -> str:
    """``54 MB``, ``120 KB``, ``900 bytes``."""
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:,.0f} MB"
    if n_bytes >= 1_000:
        return f"{n_bytes / 1_000:,.0f} KB"
    return f"{n_bytes:,} bytes"


def accepted_recodes() -> dict[str, dict[str, str]]:
    """The recodes accepted on the Data page for the current upload: schema column -> {file value: allowed value}."""
    return {col: dict(r) for col, r in (st.session_state.get(RECODES) or {}).items()}


def accept_recode(column: str, value: str, target: str) -> None:
    """Button callback: recode ``value`` of ``column`` to ``target`` from the next load of the upload on."""
    recodes = accepted_recodes()
    recodes.setdefault(column, {})[value] = target
    st.session_state[RECODES] = recodes


def undo_recode(column: str, value: str) -> None:
    """Button callback: stop recoding ``value`` of ``column``."""
    recodes = accepted_recodes()
    recodes.get(column, {}).pop(value, None)
    st.session_state[RECODES] = {col: r for col, r in recodes.items() if r}


def _named_bytes(upload: UploadedFile):
    """A file-like object with a ``name`` (the loader sniffs the format from it)."""
    buffer = io.BytesIO(upload.data)
    buffer.name = upload.name
    return buffer


def load_current(choice: str, mapping: dict[str, str] | None, cb_sd: float,
                 window: float | None = None) -> LoadedData:
    """Load the chosen source (cached as described in the module docstring).

    ``mapping`` (file column -> schema column) applies to uploads only; samples map themselves.
    ``cb_sd`` and ``window`` are the clinical-benefit SD threshold (months) and its assessment window (days,
    default ``schema.ASSESSMENT_WINDOW_DAYS_DEFAULT``).
    """
    if window is None:

        window = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT
    window = float(window)
    if choice == UPLOAD:
        return _load_upload(mapping, cb_sd, window)
    if choice == REGISTRY:
        return registry.load(cb_sd, window)
    if choice == SERVER and server_data_path() is not None:
        path = server_data_path()
        return _load_file(SERVER, path, None, choice_label(SERVER), False, None, cb_sd, window)
    sample = SAMPLES.get(choice, SAMPLES[DEFAULT_CHOICE])
    return _load_file(sample.key, SAMPLE_DIR / sample.patients_file, SAMPLE_DIR / sample.ae_file,
                      choice_label(sample.key), True, None, cb_sd, window, SAMPLE_DIR / sample.tumour_file)


def with_pseudonyms(loaded: LoadedData) -> LoadedData:
    """The loaded data with every patient id of the file replaced by its "row N" pseudonym
    (:func:`il2lib.privacy.pseudonyms.pseudonymise`: patients, excluded rows, AE and tumour-assessment tables,
    findings, load notes).

    Applied by the frame before any page sees the data, so every view follows. The copy is memoised in
    the session for the loaded objects it was made from; its scope differs from theirs, so nothing cached
    for the file's ids is served for pseudonyms (or the reverse).
    """


    if loaded.cohort is None:
        return replace(loaded, scope=loaded.scope + PSEUDONYM_SCOPE)
    memo = st.session_state.get(PSEUDONYM_MEMO)
    if (memo is None or memo[0] is not loaded.cohort or memo[1] is not loaded.adverse_events
            or memo[2] is not loaded.assessments):
        cohort, ae = pseudonymise(loaded.cohort, loaded.adverse_events)
        assessments = None if loaded.assessments is None else pseudonymise(loaded.cohort, loaded.assessments)[1]
        memo = (loaded.cohort, loaded.adverse_events, loaded.assessments, cohort, ae, assessments)
        st.session_state[PSEUDONYM_MEMO] = memo
    return replace(loaded, cohort=memo[3], adverse_events=memo[4], assessments=memo[5],
                   scope=loaded.scope + PSEUDONYM_SCOPE)


def preload_default_data() -> LoadedData | None:
    """Load the default data into the process-wide cache: the server file named by ``IL2_DASHBOARD_DATA``,
    else the bundled default sample (shared by every session either way).

    ``serve.py`` calls this before the server starts, so the first visitor does not wait for the
    file to be read and validated: it is the very call a page makes (same cached function and
    arguments: no mapping, the default clinical-benefit rule). The secrets are not read here (that
    would make Streamlit read its configuration before the command-line options), so with a
    registry configured the sample is loaded too: it stays one of the Data page's choices. A registry
    is never preloaded. The sidebar's filter options are read from it too (the same cached call as the
    frame's). Returns what was loaded (None: the server file could not be loaded; the Data page says why).
    """
    from app_ui.filters import filter_options

    choice = SERVER if server_data_path() is not None else DEFAULT_CHOICE
    loaded = load_current(choice, None, schema.CB_SD_MONTHS_DEFAULT)
    if not loaded.ok:
        return None
    filter_options(loaded.scope, loaded.cohort.fingerprint, loaded.cohort.data)  # the sidebar's, as the frame asks
    return loaded


def store_upload(widget: str, target: str) -> None:
    """Uploader callback: keep the bytes in the session (in memory), forget the old memo and results."""
    file = st.session_state.get(widget)
    st.session_state.pop(UPLOAD_MEMO, None)
    st.session_state.pop(DERIVED, None)  # what the pages derived from the file it replaces
    forget_upload_results()  # the results of the file it replaces
    if file is None:
        st.session_state.pop(target, None)
        if target == UPLOAD_FILE:
            st.session_state.pop(state.UPLOAD_ID, None)
        return
    st.session_state[target] = UploadedFile(file.name, file.getvalue())
    if target in (UPLOAD_FILE, UPLOAD_DICTIONARY):  # a dictionary changes the fields the mapping names
        st.session_state.pop(MAPPING, None)
        st.session_state.pop(DATE_ORDER, None)
        st.session_state.pop(RECODES, None)
    if target == UPLOAD_FILE:
        st.session_state[state.DATA_CHOICE] = UPLOAD
        _identify_upload(st.session_state[target])


def _identify_upload(upload: UploadedFile) -> None:
    """Name and fingerprint the upload for links; against the file a link waits for, say whether it is the same."""
    ss = st.session_state
    fingerprint = state.upload_fingerprint(upload.sha256)
    ss[state.UPLOAD_ID] = (upload.name, fingerprint)
    linked = ss.pop(state.LINKED_UPLOAD, None)
    if linked and linked[1] and linked[1] != fingerprint:
        ss[state.UPLOAD_MISMATCH] = (*linked, fingerprint)
    elif linked:
        ss.pop(state.UPLOAD_MISMATCH, None)


def clear_upload() -> None:
    """Button callback: drop the uploaded bytes, their loaded cohort and its filtered copies, the upload
    options and the widgets named after the file's columns or sources, every session entry keyed by the
    upload's scope (such as the built report's options) and every cached result computed from them."""
    ss = st.session_state
    for key in (*UPLOAD_WIDGETS, *UPLOAD_WIDGETS.values(), UPLOAD_MEMO, PSEUDONYM_MEMO, FILTER_MEMO, DERIVED, MAPPING,
                DATE_ORDER, RECODES, AE_COMPLETE, state.UPLOAD_ID, state.UPLOAD_MISMATCH, state.LINKED_UPLOAD,
                MAPPING_FIND_WIDGET):
        ss.pop(key, None)
    for key in list(ss.keys()):
        if str(key).startswith(UPLOAD_WIDGET_PREFIXES) or holds_upload(ss[key]):
            ss.pop(key, None)
    forget_upload_results()


# ---------------------------------------------------------------------------------- AE file coverage
AE_COMPLETE = "v_ae_complete"  # session: {"ae_key": identity of the AE table, "sources": declared complete}


def ae_complete_sources(loaded: LoadedData) -> tuple[str, ...]:
    """Sources whose AE file the user declared complete on the Data page (for the AE table now loaded)."""
    state_ = st.session_state.get(AE_COMPLETE) or {}
    if not loaded.ae_key or state_.get("ae_key") != loaded.ae_key:
        return ()
    return tuple(state_.get("sources", ()))


def _set_ae_complete(ae_key: str, source: str, widget: str) -> None:
    state_ = st.session_state.get(AE_COMPLETE) or {}
    sources = [s for s in state_.get("sources", ())] if state_.get("ae_key") == ae_key else []
    if st.session_state[widget] and source not in sources:
        sources.append(source)
    elif not st.session_state[widget] and source in sources:
        sources.remove(source)
    st.session_state[AE_COMPLETE] = {"ae_key": ae_key, "sources": tuple(sources)}


def ae_coverage(loaded: LoadedData) -> list[tuple[str, int, int]]:
    """Per source (``schema.AE_COMPLETE_ALL`` for a file without a source column): (source, its patients,
    those without AE rows). Empty without an AE table."""
    if loaded.adverse_events is None or loaded.cohort is None or not loaded.ae_key:
        return []
    data = loaded.cohort.data
    with_rows = set(loaded.adverse_events.data[schema.AE_PATIENT_ID].astype(str))
    no_rows = ~data[schema.PATIENT_ID].astype(str).isin(with_rows)
    has_source = schema.SOURCE in data.columns and data[schema.SOURCE].notna().any()
    sources = [str(s) for s in pd.unique(data[schema.SOURCE].dropna())] if has_source else [schema.AE_COMPLETE_ALL]
    out = []
    for source in sources:
        members = (data[schema.SOURCE].astype(str) == source if source != schema.AE_COMPLETE_ALL
                   else pd.Series(True, index=data.index))
        out.append((source, int(members.sum()), int((members & no_rows).sum())))
    return out


@data_cache(max_entries=16, max_size="1MB")
def snapshot(scope: str, fingerprint: str, _loaded: LoadedData) -> CohortSnapshot:
    """The loaded cohort's snapshot (:func:`il2lib.analyses.snapshot.cohort_snapshot`), cached per data set."""
    return cohort_snapshot(_loaded.cohort.data)


def count_view(loaded: LoadedData, sidebar_total: int, snapshot_: CohortSnapshot | None = None) -> CountView:
    """The counts the Data page shows for a loaded file, for small-cell protection: rows loaded = patients
    analysed + rows excluded (the analysed are the sidebar's total when it shows them: never hidden), the
    snapshot's patients by disease and by prior PD-1/PD-L1 (each adding up to the analysed) and,
    per source, its patients and those without AE rows (the sources' patients add up to the analysed), and the
    tumour-assessment table's rows read = kept + left out."""
    report = loaded.cohort.report
    view = CountView()
    view.add(("loaded",), report.n_loaded, headline=True)
    view.add(("analysed",), report.n_analysed, headline=True, fixed=report.n_analysed == sidebar_total)
    view.add(("excluded",), report.n_excluded)
    view.add_sum(("loaded",), [("analysed",), ("excluded",)])
    for part, counts in (("disease", snapshot_.disease), ("prior_pd1", snapshot_.prior_pd1)) if snapshot_ else ():
        for level, n in counts.items():
            view.add((part, level), n)
        view.add_sum(("analysed",), [(part, level) for level in counts])
    coverage = ae_coverage(loaded)
    for source, n, without_rows in coverage:
        view.add(("ae_patients", source), n)
        view.add(("ae_without_rows", source), without_rows)
        view.add_at_most(("ae_without_rows", source), ("ae_patients", source))
    view.add_sum(("analysed",), [("ae_patients", source) for source, _, _ in coverage])
    if loaded.assessments is not None:  # the tumour-assessment table's rows: read = kept + left out
        rows = loaded.assessments.report
        view.add(("tumour_rows",), rows.n_loaded, headline=True)
        view.add(("tumour_kept",), rows.n_analysed)
        view.add(("tumour_left_out",), rows.n_excluded)
        view.add_sum(("tumour_rows",), [("tumour_kept",), ("tumour_left_out",)])
    return view


def _shown_count(shown: Suppression, key, n: int) -> str:
    """A count as ``shown`` (small-cell protection) shows it, with thousands separators."""
    return f"{n:,}" if shown.shows(key) else shown.text(key, n)


def _about_patients(finding) -> bool:
    """A finding naming a patient or counting patients (not a whole-file one such as a column not recognised)."""
    return (finding.file_row is not None or finding.patient_id is not None or bool(finding.named_ids)
            or finding.column == schema.AE_PATIENT_ID)


def ae_complete_switches(loaded: LoadedData, shown: Suppression) -> None:
    """Data page: per source, "this AE file lists every AE of every patient of that source".

    Without the switch, a patient without AE rows and without ``max_ctcae_grade`` has unknown
    toxicity (il2lib.analyses.toxicity); with it, no AE row means no AE. A file without a source column
    gets one switch for every patient (``schema.AE_COMPLETE_ALL``). ``shown`` masks the counts (the
    Data page's :func:`count_view`); with small-cell protection on, the AE warnings about patients are
    not listed.
    """


    coverage = ae_coverage(loaded)
    if not coverage:
        return
    chosen = ae_complete_sources(loaded)
    st.markdown("#### Adverse-event file coverage")
    st.caption("A patient without AE rows has unknown toxicity (left out of the toxicity denominators) unless the "
               "patient file gives max_ctcae_grade (0 = no AE) or you declare here that the AE file lists every AE "
               "of every patient of their source.")
    for i, (source, n, without_rows) in enumerate(coverage):
        what = "every patient" if source == schema.AE_COMPLETE_ALL else f"every patient of {source}"
        key = f"{AE_COMPLETE_WIDGET}{i}"
        st.session_state[key] = source in chosen
        st.toggle(md_escape(f"This AE file lists every AE of {what} "
                            f"({_shown_count(shown, ('ae_without_rows', source), without_rows)} of "
                            f"{_shown_count(shown, ('ae_patients', source), n)} without AE rows)"), key=key,
                  on_change=_set_ae_complete, args=(loaded.ae_key, source, key))
    findings = [f for f in loaded.adverse_events.report.findings if f.level == "warning"]
    # with protection on, only whole-file warnings: the others name a patient each, or count the patients
    # without AE rows that the switches above show protected
    _findings_list("Adverse-event file", "warning", findings, lambda f: f.message,
                  "Warnings about patients: not listed while small-cell protection is on (one row per patient; the "
                  "switches above count the patients without AE rows).")


# ---------------------------------------------------------------------------------- tumour-assessment table
def tumour_table_report(loaded: LoadedData, shown: Suppression) -> None:
    """Data page: the tumour-assessment table's validation (rows read = kept + left out, its findings), as the AE
    table's warnings are shown: with small-cell protection on, only the findings about the whole file."""
    assessments = loaded.assessments
    if loaded.tumour_error:
        st.warning("Tumour-assessment table: " + md_escape(loaded.tumour_error), icon=":material/warning:")
    if assessments is None:
        return
    report = assessments.report
    masking = current_masking()
    st.markdown("#### Tumour-assessment table")
    st.caption(f"{_shown_count(shown, ('tumour_rows',), report.n_loaded)} assessment rows read: "
               f"{_shown_count(shown, ('tumour_kept',), report.n_analysed)} kept, "
               f"{_shown_count(shown, ('tumour_left_out',), report.n_excluded)} left out. The "
               "Response page draws the waterfall and spider plots from the kept rows.")
    for finding in report.file_errors:
        st.error(md_escape(masking.text(finding.message)), icon=":material/block:")
    findings = [f for f in report.findings if f.level != "file_error"]
    _findings_list("Tumour-assessment table", "finding", findings,
                  lambda f: f"{'Left out' if f.level == 'row_error' else 'Warning'}: {f.message}",
                  "Findings about patients: not listed while small-cell protection is on (one row per patient).")


def _findings_list(title: str, noun: str, findings: list, line, withheld: str) -> None:
    """A side table's findings in an expander (the first 50, one Markdown list, each written by ``line``); with
    small-cell protection on, only those about the whole file, and ``withheld`` says why."""
    if not findings:
        return
    masking = current_masking()
    listed = [f for f in findings if not _about_patients(f)] if masking.on else findings
    n = len(findings)
    count = masking.count(n) if masking.on else f"{n:,}"
    with st.expander(f"{title}: {count} {noun}{'' if n == 1 else 's'}", icon=":material/warning:"):
        if masking.on:
            st.caption(withheld)
        if listed:  # one list, one element
            st.markdown("\n".join("- " + md_escape(masking.text(line(f))) for f in listed[:50]))
        if len(listed) > 50:
            st.caption(f"... and {len(listed) - 50:,} more.")
