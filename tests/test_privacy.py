"""Patient data stays in memory and in its session.

An AppTest session uploads a cohort whose ids, source and histology carry a random token (and its
adverse-event table, with the same ids), then visits every page. Afterwards:

* no file modified since the test started, under the project, ``tempfile.gettempdir()`` or the
  home directory, contains the token (``.git`` is skipped: its objects are compressed, and only
  commits write there);
* nothing logged (every logger, any level that reached a handler) and nothing written to
  stdout/stderr contains the token or any other value of the file;
* a second session in the same process, which shares ``st.cache_data`` / ``st.cache_resource``,
  never renders anything of the first session's upload, even when it uploads a file with the same
  name, size and shape, and it sees its own values.

The server path (real upload endpoint, server log) is covered by tests/e2e/test_security_e2e.py.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

from app_ui.data import UPLOAD_FILE
from il2lib import schema
from support import security as sh


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not hide the others
            self.lines.append(str(record.msg))


@pytest.fixture
def every_log_line():
    """A handler on the root logger and on every logger that exists (Streamlit's do not propagate)."""
    handler = _Collect()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


def _render_text(at) -> str:
    return "\n".join(str(proto) for _kind, proto in sh.rendered_protos(at))


def test_upload_leaves_no_file_and_no_log_line(capfd, every_log_line):
    token = sh.marker()
    frame = sh.marked_cohort(token)
    data = frame.to_csv(index=False).encode()
    other_values = [v for v in (frame[schema.DATE_IL2_START].iloc[3],) if v]
    since = sh.scan_start()

    events = sh.marked_adverse_events(token).to_csv(index=False).encode()
    at = sh.upload(sh.new_session(), f"registry_{token}.csv", data, adverse_events=events)
    assert any(getattr(v, "data", None) == events for _k, v in at.session_state.items()), "AE table not taken"
    seen_token = False
    for page, at in sh.visit_every_page(at):
        assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
        seen_token |= token in _render_text(at)
    assert seen_token, "the uploaded ids never reached any page: the scan below would prove nothing"
    assert [m.value for m in at.metric if m.label == "Patients analysed"] in ([], [str(len(frame) - 2)])

    roots = [sh.ROOT, Path(tempfile.gettempdir()), Path.home()]
    changed = sh.files_modified_since(roots, since, skip=(sh.ROOT / ".git",))
    hits = sh.files_containing(changed, [token.encode()])
    assert hits == [], f"patient data written to disk: {hits}"

    captured = capfd.readouterr()
    output = "\n".join(every_log_line) + captured.out + captured.err
    assert token not in output, "a patient id, source or histology value reached a log or the console"
    for value in other_values:
        assert f"{value}," not in output and f"'{value}'" not in output


def test_upload_is_unreachable_from_another_session():
    token_a, token_b = sh.marker(), sh.marker()
    bytes_a = sh.marked_cohort(token_a).to_csv(index=False).encode()
    bytes_b = sh.marked_cohort(token_b).to_csv(index=False).encode()
    assert len(bytes_a) == len(bytes_b), "the two cohorts differ only in their tokens"

    session_a = sh.upload(sh.new_session(), "cohort.csv", bytes_a)
    for _page, _at in sh.visit_every_page(session_a):
        pass

    # Same process, so the same st.cache_data / st.cache_resource as session A.
    session_b = sh.new_session().run()
    pages_b = [_render_text(at) for _page, at in sh.visit_every_page(session_b)]
    assert not any(token_a in text for text in pages_b), "the default view of session B shows A's upload"

    session_b = sh.upload(sh.new_session(), "cohort.csv", bytes_b)
    seen_b = False
    for page, at in sh.visit_every_page(session_b):
        assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
        text = _render_text(at)
        assert token_a not in text, f"{page} of session B shows session A's upload"
        seen_b |= token_b in text
    assert seen_b, "session B never saw its own upload"


def test_upload_lives_in_session_state_not_in_a_shared_cache():
    """The bytes are kept by the session (app_ui.data), so dropping the session drops the data."""
    token = sh.marker()
    data = sh.marked_cohort(token).to_csv(index=False).encode()
    at = sh.upload(sh.new_session(), "cohort.csv", data)
    held = [key for key, value in at.session_state.items() if getattr(value, "data", None) == data]
    assert held, "the uploaded bytes are not held in the session state"


def test_the_disk_scan_finds_a_planted_file():
    """The scanner itself can fail: a file written after the start time, in the temp dir, is found."""
    token, since = sh.marker(), sh.scan_start()
    with tempfile.NamedTemporaryFile(suffix=".csv") as planted:
        planted.write(f"patient_id\n{token}P001\n".encode("utf-16"))
        planted.flush()
        changed = sh.files_modified_since([Path(tempfile.gettempdir())], since)
        assert planted.name in sh.files_containing(changed, [token.encode()])


def _watch_for(token: bytes, root: Path, stop, found: list[str]) -> None:
    """Poll ``root`` for files containing ``token`` until ``stop`` is set (catches short-lived files)."""
    while not stop.is_set():
        for path in sh.files_modified_since([root], 0):
            try:
                if token in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
        stop.wait(0.02)


def _print_watched(export, payload, token: str) -> tuple[bytes, list[str]]:
    """Run ``export(payload)`` while watching the temp dir for a file containing ``token``."""
    import threading

    stop, found = threading.Event(), []
    watcher = threading.Thread(target=_watch_for, args=(token.encode(), Path(tempfile.gettempdir()), stop, found))
    watcher.start()
    try:
        return export(payload), sorted(set(found))
    finally:
        stop.set()
        watcher.join()


def _marked_report(token: str) -> str:
    import il2lib
    from il2lib.report import build_report

    html = build_report(il2lib.load_cohort(sh.marked_cohort(token).to_csv(index=False).encode())).html
    assert token in html, "the report does not list the excluded (duplicated) patient ids"
    return html


def test_pdf_export_writes_no_patient_file():
    """The report (which lists excluded rows by patient id) is printed to PDF without a named file
    holding it on disk, not even for the seconds chromium prints. Found by this review: pdf_bytes
    (what the Report page calls) wrote report.html and the PDF into a TemporaryDirectory under
    $TMPDIR while printing; it now prints over chromium's DevTools pipe."""
    from il2lib.report.pdf import PdfExportError, pdf_bytes

    token = sh.marker()
    try:
        pdf, found = _print_watched(pdf_bytes, _marked_report(token), token)
    except PdfExportError as exc:
        pytest.skip(f"no chromium to print with: {exc}")
    assert pdf.startswith(b"%PDF")
    assert found == [], f"patient data written to disk while printing: {found}"


def test_figure_export_writes_no_patient_file():
    """PNG/SVG export (kaleido drives chromium) leaves no file with the figure's patient labels."""
    import plotly.graph_objects as go

    from il2lib.export.files import figure_to_png, figure_to_svg

    token = sh.marker()
    fig = go.Figure(go.Scatter(x=[1, 2], y=[1, 2], name=f"{token}P001", mode="markers+text",
                               text=[f"{token}P002", f"{token}P003"]))
    for export in (figure_to_png, figure_to_svg):
        try:
            image, found = _print_watched(export, fig, token)
        except Exception as exc:  # kaleido raises its own errors when no chromium is found
            if "chrom" in str(exc).lower():
                pytest.skip(f"no chromium for kaleido: {exc}")
            raise
        assert image and found == [], f"{export.__name__} wrote patient data to disk: {found}"


# ---------------------------------------------------------------------------------- result caches
CACHE_PAGES = ("pages/1_Cohort.py", "pages/2_Response.py", "pages/3_Survival.py")


@pytest.fixture
def own_session_ids(monkeypatch):
    """Each AppTest gets its own session id, as each browser tab does (AppTest gives every run the id
    "test session id", so all AppTests would share one session-scoped cache)."""
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner.ScriptRunner.__init__

    def init(self, *args, session_id, session_state, **kwargs):
        original(self, *args, session_id=f"apptest-{id(session_state)}", session_state=session_state, **kwargs)

    monkeypatch.setattr(script_runner.ScriptRunner, "__init__", init)


def _session_id(at) -> str:
    return f"apptest-{id(at._session_state._state)}"


def _caches(session_id: str | None) -> tuple[list, list]:
    """Streamlit 1.67's per-function data and resource caches of one session (None: the process-wide ones).
    There is no public listing: this reads the registries behind ``st.cache_data`` / ``st.cache_resource``."""
    from streamlit.runtime.caching.cache_data_api import _data_caches
    from streamlit.runtime.caching.cache_resource_api import _resource_caches

    return (list(_data_caches._function_caches.get(session_id, {}).values()),
            list(_resource_caches._function_caches.get(session_id, {}).values()))


def _n_entries(session_id: str | None) -> int:
    data, resources = _caches(session_id)
    return sum(len(stats) for cache in data + resources for stats in cache.get_stats().values())


def _caches_holding(token: str) -> list[str]:
    """Names (and session) of every cached data entry, in any session or process-wide, holding ``token``."""
    from streamlit.runtime.caching.cache_data_api import _data_caches

    needle = token.encode()
    return [f"{cache.display_name} ({session or 'process-wide'})"
            for session, caches in list(_data_caches._function_caches.items()) for cache in caches.values()
            for value in list(cache.storage._mem_cache.values()) if needle in value]


def _visit_analyses(at):
    for page in CACHE_PAGES:
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
    return at


def test_upload_results_are_cached_in_the_session_only_and_forgotten_with_the_upload(own_session_ids):
    token_a, token_b = sh.marker(), sh.marker()
    session_a = _visit_analyses(sh.upload(sh.new_session(), "cohort.csv",
                                          sh.marked_cohort(token_a).to_csv(index=False).encode()))
    held = _caches_holding(token_a)
    assert held and all(_session_id(session_a) in name for name in held), held  # not vacuous, and session-only
    assert _n_entries(_session_id(session_a)) >= len(CACHE_PAGES)

    session_b = _visit_analyses(sh.upload(sh.new_session(), "cohort.csv",
                                          sh.marked_cohort(token_b).to_csv(index=False).encode()))
    assert _session_id(session_b) != _session_id(session_a)
    assert not [name for name in _caches_holding(token_a) if _session_id(session_b) in name]
    n_b = _n_entries(_session_id(session_b))

    session_a.switch_page("app.py").run()
    next(b for b in session_a.button if b.label == "Forget the uploaded files").click().run()
    assert UPLOAD_FILE not in session_a.session_state
    assert _caches_holding(token_a) == [], "results of the forgotten upload are still cached"
    assert _n_entries(_session_id(session_a)) == 0
    assert _caches_holding(token_b) and _n_entries(_session_id(session_b)) == n_b, "another session lost its results"


def _holds(value, needle: str, depth: int = 0) -> bool:
    """True when ``value`` (text, bytes, a table, a container or an object's attributes, nested) contains ``needle``."""
    import pandas as pd

    if depth > 8:
        return False
    if isinstance(value, str):
        return needle in value
    if isinstance(value, (bytes, bytearray)):
        return needle.encode() in value
    if isinstance(value, pd.DataFrame):
        return needle in value.to_csv() or _holds(value.attrs, needle, depth + 1)
    if isinstance(value, pd.Series):
        return needle in value.to_csv()
    if isinstance(value, dict):
        return any(_holds(k, needle, depth + 1) or _holds(v, needle, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds(v, needle, depth + 1) for v in value)
    fields = getattr(value, "__dict__", None) or {name: getattr(value, name) for name in getattr(value, "__slots__", ())
                                                  if hasattr(value, name)}
    return isinstance(fields, dict) and _holds(fields, needle, depth + 1)


def test_forgetting_the_upload_leaves_no_patient_id_in_the_session(own_session_ids):
    # Filtered (the filter memo keeps filtered copies), with the AE table, its coverage switch and a built report.
    token = sh.marker()
    at = sh.new_session()
    at.query_params["disease"] = "melanoma"
    at = sh.upload(at, "cohort.csv", sh.marked_cohort(token).to_csv(index=False).encode(),
                   adverse_events=sh.marked_adverse_events(token).to_csv(index=False).encode())
    at.toggle(key="w_ae_complete_0").set_value(True).run()
    _visit_analyses(at)
    at.switch_page("pages/6_Report.py").run()
    at.button(key="report_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    patient = f"{token}P"  # every patient id of the upload starts so (its source and histology do not)
    state = at._session_state.filtered_state
    assert [key for key, value in state.items() if _holds(value, patient)], "the scan below would prove nothing"

    at.switch_page("app.py").run()
    next(b for b in at.button if b.label == "Forget the uploaded files").click().run()
    assert not at.exception, [e.message for e in at.exception]
    state = at._session_state.filtered_state
    assert [key for key, value in state.items() if _holds(value, patient)] == []
    assert [key for key, value in state.items() if _holds(value, token)] == []


def test_a_new_upload_drops_the_results_of_the_file_it_replaces(own_session_ids):
    token_a, token_b = sh.marker(), sh.marker()
    at = _visit_analyses(sh.upload(sh.new_session(), "a.csv", sh.marked_cohort(token_a).to_csv(index=False).encode()))
    assert _caches_holding(token_a)
    at.switch_page("app.py").run()
    at.file_uploader[0].set_value(("b.csv", sh.marked_cohort(token_b).to_csv(index=False).encode(), "text/csv")).run()
    _visit_analyses(at)
    assert _caches_holding(token_a) == [] and _caches_holding(token_b)


def test_shared_sample_results_stay_process_wide():
    """Results of the bundled samples are not upload data: every session keeps reusing them."""
    at = sh.new_session().run()
    at.switch_page("pages/2_Response.py").run()
    data, _resources = _caches(None)
    assert any(cache.display_name.endswith("best_response") and cache.get_stats() for cache in data)


#: Caches whose arguments never hold an upload: the bundled samples / server file by path, the registry.
SHARED_ONLY = {("data.py", "_load_path"), ("data.py", "_load_ae_path"), ("data.py", "_load_tumour_path"),
               ("registry.py", "_open"),
               ("registry.py", "count"), ("registry.py", "options_frame"), ("registry.py", "rows"),
               ("registry.py", "survival_counts"), ("registry.py", "response_counts")}


def _cache_decorators() -> list[tuple[str, str, str, str]]:
    """(file, function, decorator, its arguments) of every cached function of the app."""
    import re

    files = [sh.ROOT / "app.py", *sorted((sh.ROOT / "app_ui").glob("*.py")), *sorted((sh.ROOT / "pages").glob("*.py"))]
    pattern = re.compile(r"^@(st\.cache_data|st\.cache_resource|data_cache|resource_cache)\(([^)]*)\)\s*\ndef (\w+)", re.M)
    texts = [(path.name, path.read_text(encoding="utf-8")) for path in files]
    found = [(name, m.group(3), m.group(1), m.group(2)) for name, text in texts for m in pattern.finditer(text)]
    lines = sum(len(re.findall(r"^@(st\.cache_\w+|data_cache|resource_cache)\b", text, re.M)) for _n, text in texts)
    assert len(found) == lines, "a cache decorator this test cannot read"
    return found


def test_every_cache_that_can_hold_an_upload_keeps_it_in_the_session_and_every_cache_is_bounded():
    """Caches are bounded by entries and, where Streamlit 1.67 has a byte limit (``max_size``, st.cache_data
    only), by pickled bytes. A cache that can see an upload uses app_ui.session_cache."""
    import importlib

    found = _cache_decorators()
    assert len(found) >= 20, found
    options = {(f, fn): importlib.import_module(f"app_ui.{f[:-3]}").CACHE if args == "**CACHE" else args
               for f, fn, _d, args in found}
    assert [k for k, args in options.items() if "max_entries" not in args] == []
    assert [(f, fn) for f, fn, deco, _a in found if deco in ("st.cache_data", "data_cache")
            and "max_size" not in options[(f, fn)]] == []
    plain = {(f, fn) for f, fn, deco, _a in found if deco.startswith("st.")}
    assert plain - SHARED_ONLY == set(), "a cache that can see an upload is process-wide"
