"""Patient data stays in memory and in its session (issue 9, item 2).

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

import security_helpers as sh
from il2lib import schema


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

    from il2lib.export import figure_to_png, figure_to_svg

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
