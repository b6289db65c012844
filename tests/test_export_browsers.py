"""Figure and PDF exports share one chromium per kind, run a bounded number at a time, and use the sandbox.

Chromium processes are counted from ``/proc``: descendants of this process whose executable is
chromium; a "browser" is a chromium process whose parent is not chromium (its helpers, zygotes and
renderers, are children of chromium). No test asserts a duration.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import plotly.graph_objects as go
import pytest

from il2lib.export import browsers, files as export
from il2lib.report import pdf
from il2lib.report._html import PAGE_RULE_ID

ROOT = Path(__file__).resolve().parent.parent
#: A document the PDF printer accepts (it needs the report's page rule).
SMALL_REPORT = (f'<!doctype html><html><head><style id="{PAGE_RULE_ID}">@page {{ size: A4; }}</style></head>'
                "<body><h1>Export test</h1></body></html>")


# ------------------------------------------------------------------------------ process helpers
def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def chromium_processes(root: int | None = None) -> list[dict]:
    """Chromium processes below ``root`` (this process): pid, kind (browser, renderer, ...), flags, seccomp mode."""
    parents = _parents()
    below, frontier = set(), {root or os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - below
        below |= frontier
    found = {}
    for pid in below:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:  # sandboxed chromium processes are not dumpable: read their command line instead
            exe = command.split(" ", 1)[0]
        if "chrom" not in os.path.basename(exe) or "crashpad" in os.path.basename(exe):
            continue
        kind = next((part[7:] for part in command.split() if part.startswith("--type=")), "browser")
        seccomp = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Seccomp:")), -1)
        found[pid] = {"pid": pid, "parent": parents.get(pid), "kind": kind, "command": command, "seccomp": seccomp}
    for process in found.values():  # a child forked by chromium that has not exec'd yet looks like a browser
        if process["kind"] == "browser" and process["parent"] in found:
            process["kind"] = "forked"
    return list(found.values())


def _browser_count() -> int:
    return sum(1 for p in chromium_processes() if p["kind"] == "browser")


def _wait_until(condition, what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` (a generous limit only guards against a hang; no duration is asserted)."""
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


class _Sampler:
    """Records the most chromium browsers and the most exports running at once while it runs."""

    def __init__(self) -> None:
        self.browsers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.browsers = max(self.browsers, _browser_count())
            time.sleep(0.02)

    def __enter__(self) -> "_Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


@pytest.fixture
def slots_of(monkeypatch):
    """``slots_of(n)``: fresh shared browsers and an export queue of ``n`` slots; all closed afterwards."""
    def configure(n: int) -> browsers.ExportSlots:
        browsers.shutdown()
        _wait_until(lambda: not chromium_processes(), "earlier tests' chromium to exit")
        monkeypatch.setenv(browsers.SLOTS_ENV, str(n))
        return browsers.slots()

    yield configure
    browsers.shutdown()
    monkeypatch.delenv(browsers.SLOTS_ENV, raising=False)
    browsers.shutdown()


def _occupy(slots: browsers.ExportSlots, n: int):
    """Hold ``n`` slots from helper threads until the returned event is set."""
    release, threads = threading.Event(), []
    for _ in range(n):
        def hold():
            with slots.hold():
                release.wait()
        threads.append(threading.Thread(target=hold, daemon=True))
        threads[-1].start()
    _wait_until(lambda: slots.in_use == n, f"{n} slots held")
    return release, threads


# ------------------------------------------------------------------------------------- settings
def test_export_slots_default_to_two_and_a_setting_out_of_range_names_the_variable():
    assert browsers.export_slot_count({}) == 2
    assert browsers.export_slot_count({"IL2_EXPORT_SLOTS": " 3 "}) == 3
    for bad in ("0", "-1", "two", "17"):
        with pytest.raises(browsers.ExportBrowserError, match="IL2_EXPORT_SLOTS"):
            browsers.export_slot_count({"IL2_EXPORT_SLOTS": bad})


def test_chromium_runs_without_its_sandbox_only_as_root_or_with_the_explicit_opt_out():
    # chromium refuses its sandbox as root ("Running as root without --no-sandbox is not supported").
    assert browsers.use_sandbox({}, euid=1000) is True
    assert browsers.use_sandbox({}, euid=0) is False
    assert browsers.use_sandbox({"IL2_CHROMIUM_NO_SANDBOX": "1"}, euid=1000) is False
    assert browsers.use_sandbox({"IL2_CHROMIUM_NO_SANDBOX": "0"}, euid=1000) is True
    with pytest.raises(browsers.ExportBrowserError, match="IL2_CHROMIUM_NO_SANDBOX"):
        browsers.use_sandbox({"IL2_CHROMIUM_NO_SANDBOX": "maybe"}, euid=1000)


# ---------------------------------------------------------------------------------------- queue
def test_the_queue_runs_n_exports_at_once_and_the_others_in_arrival_order():
    slots = browsers.ExportSlots(2)
    started, progress, release = [], {}, {i: threading.Event() for i in range(5)}

    def job(i: int) -> None:
        def report(state, ahead):
            progress.setdefault(i, []).append((state, ahead))

        with browsers.reporting_to(report), slots.hold():
            started.append(i)
            release[i].wait()

    threads = []
    for i in range(5):  # one at a time, so the arrival order is known
        threads.append(threading.Thread(target=job, args=(i,), daemon=True))
        threads[-1].start()
        _wait_until(lambda: slots.in_use + slots.waiting == i + 1, f"job {i} in line")
    assert (slots.in_use, slots.waiting, started) == (2, 3, [0, 1])
    assert progress[2][-1] == ("queued", 2) and progress[4][-1] == ("queued", 4), progress
    for i in range(5):
        release[i].set()
        threads[i].join()
    assert started == [0, 1, 2, 3, 4] and slots.peak_in_use == 2
    assert progress[0] == [("running", 0)] and progress[4][-1] == ("running", 0)


def test_an_export_that_waits_too_long_for_a_slot_says_which_setting_to_raise():
    slots = browsers.ExportSlots(1)
    release, threads = _occupy(slots, 1)
    try:
        with pytest.raises(browsers.ExportBrowserError, match="IL2_EXPORT_SLOTS"):
            with slots.hold(timeout=0.05):
                pass
        assert slots.waiting == 0, "a waiter that gave up leaves the line"
    finally:
        release.set()
        for thread in threads:
            thread.join()


# ------------------------------------------------------------------------- shared real browsers
def test_concurrent_figure_exports_share_one_browser_and_at_most_n_run_at_once(slots_of):
    slots = slots_of(2)
    figures = [go.Figure(go.Scatter(x=[0, i], y=[1, 2]), layout={"width": 300 + 10 * i, "height": 200 + i})
               for i in range(5)]
    results: dict[int, bytes] = {}
    release, holders = _occupy(slots, 2)  # every export below has to wait in line
    with _Sampler() as sampler:
        threads = [threading.Thread(target=lambda i=i: results.update({i: export.figure_to_png(figures[i], scale=1)}))
                   for i in range(5)]
        for thread in threads:
            thread.start()
        _wait_until(lambda: slots.waiting == 5, "five exports in line")
        assert _browser_count() == 0, "no browser starts for an export that waits"
        release.set()
        for thread in threads + holders:
            thread.join()
    assert sorted(results) == list(range(5))
    for i, png in results.items():
        assert _png_size(png) == (300 + 10 * i, 200 + i), "each caller gets its own figure"
    assert slots.peak_in_use == 2
    assert sampler.browsers == 1, f"{sampler.browsers} chromium browsers for 5 figures (one shared expected)"


def test_figures_and_pdfs_share_the_slots_and_one_browser_per_kind_stays_open_until_shutdown(slots_of):
    slots = slots_of(2)
    outputs: list[bytes] = []
    jobs = [lambda: export.figure_to_svg(go.Figure(go.Bar(y=[1, 2])))] * 3 + [lambda: pdf.pdf_bytes(SMALL_REPORT)] * 3
    with _Sampler() as sampler:
        threads = [threading.Thread(target=lambda job=job: outputs.append(job())) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(o.startswith(b"%PDF") for o in outputs) == 3 and sum(b"<svg" in o[:200] for o in outputs) == 3
    assert slots.peak_in_use <= 2
    assert sampler.browsers == 2, f"{sampler.browsers} chromium browsers (one per kind expected)"
    assert _browser_count() == 2, "the browsers stay open for the next export"
    browsers.shutdown()
    _wait_until(lambda: not chromium_processes(), "chromium to exit after shutdown")


def test_idle_browsers_close_by_themselves(slots_of, monkeypatch):
    slots_of(1)
    monkeypatch.setattr(browsers, "IDLE_CLOSE_SECONDS", 0.2)
    pdf.pdf_bytes(SMALL_REPORT)
    _wait_until(lambda: not chromium_processes(), "the idle browser to close")


# ---------------------------------------------------------------------------------------- sandbox
SANDBOX_SCRIPT = """
import json, os
import plotly.graph_objects as go
from il2lib.export import files as export
from il2lib.report import pdf
from tests.test_export_browsers import SMALL_REPORT, chromium_processes
png = export.figure_to_png(go.Figure(), scale=1)
document = pdf.pdf_bytes(SMALL_REPORT)
print(json.dumps({"euid": os.geteuid(), "png": png[:4] == b"\\x89PNG", "pdf": document[:4] == b"%PDF",
                  "processes": chromium_processes()}))
"""


def _as_unprivileged_user(script: str, home: str) -> subprocess.CompletedProcess:
    """Run ``script`` as a non-root user: this user if not root, else ``nobody`` through ``runuser``.

    The venv's interpreter may sit in root's home (pyenv), out of nobody's reach: nobody then runs
    the system Python of the same version with the venv's packages on PYTHONPATH.
    """
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{site}", "PYTHONDONTWRITEBYTECODE": "1"}
    if os.geteuid() != 0:
        return subprocess.run([sys.executable, "-W", "default::ResourceWarning", "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    runuser = shutil.which("runuser")
    python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not runuser or not os.path.exists(python):
        pytest.skip(f"needs runuser and {python} to run as nobody")
    probe = subprocess.run([runuser, "-u", "nobody", "--", "env", *[f"{k}={v}" for k, v in env.items()], python,
                            "-c", "import kaleido"], cwd=home, capture_output=True, text=True,
                           timeout=120)
    if probe.returncode:
        pytest.skip(f"nobody cannot import the project with {python}: {probe.stderr[-300:]}")
    return subprocess.run([runuser, "-u", "nobody", "--", "env", *[f"{k}={v}" for k, v in env.items()], python,
                           "-W", "default::ResourceWarning", "-c", script], cwd=home, capture_output=True, text=True,
                          timeout=300)


def test_an_unprivileged_user_exports_with_the_chromium_sandbox_and_leaves_no_chromium_at_exit():
    home = tempfile.mkdtemp(prefix="il2-nobody-")
    os.chmod(home, 0o777)
    try:
        done = _as_unprivileged_user(SANDBOX_SCRIPT, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["euid"] != 0 and result["png"] and result["pdf"]
    processes = result["processes"]
    browsers_seen = [p for p in processes if p["kind"] == "browser"]
    assert len(browsers_seen) == 2, processes
    assert not [p["command"][:200] for p in processes if "--no-sandbox" in p["command"]]
    renderers = [p for p in processes if p["kind"] == "renderer"]
    # seccomp mode 2 (filter) is chromium's seccomp-bpf sandbox around each renderer
    assert renderers and all(p["seccomp"] == 2 for p in renderers), [(p["kind"], p["seccomp"]) for p in processes]
    # the shared browsers were still open when the script ended: the exit hook closed them
    _wait_until(lambda: all(_gone(p["pid"]) for p in processes), "chromium to stop after its process exited", 30)
    assert "ResourceWarning" not in done.stderr, done.stderr[-2000:]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(os.geteuid() != 0, reason="chromium refuses its sandbox only as root")
def test_a_sandbox_that_cannot_start_gives_a_message_naming_the_opt_out(slots_of, monkeypatch):
    slots_of(1)
    monkeypatch.setattr(browsers, "use_sandbox", lambda *a, **k: True)  # as root, chromium then exits at start
    with pytest.raises(pdf.PdfExportError, match="IL2_CHROMIUM_NO_SANDBOX=1") as failed:
        pdf.pdf_bytes(SMALL_REPORT)
    assert "sandbox" in str(failed.value) and "administrator" in str(failed.value)
    with pytest.raises(browsers.ExportBrowserError, match="IL2_CHROMIUM_NO_SANDBOX=1"):
        export.figure_to_png(go.Figure(), scale=1)
    assert not chromium_processes()


# ------------------------------------------------------------------------------------------- page
PAGE = """
import plotly.graph_objects as go
from app_ui.downloads import download_figure
download_figure(go.Figure(go.Scatter(x=[0, 1], y=[1, 2])), "KM")
"""


def test_a_queued_figure_export_shows_waiting_for_a_free_slot_under_the_figure(slots_of, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_ui import downloads
    from support.rendered_text import DownloadRecorder

    slots = slots_of(1)
    monkeypatch.setattr(downloads, "FOLLOW_SECONDS", 0.5)
    with DownloadRecorder() as recorder:
        at = AppTest.from_string(PAGE, default_timeout=60)
        at.session_state["dl_panel_km"] = True  # the export panel open (its buttons are drawn only then)
        at.run()
    assert not at.exception and not at.get("status")
    make_png = next(d.make for d in recorder.downloads if d.file_name == "km.png")
    ticket = at.session_state["_export_ticket_dl_png_km"]
    release, holders = _occupy(slots, 1)
    result: list[bytes] = []
    clicked = threading.Thread(target=lambda: result.append(make_png()))  # what Streamlit runs on a click
    clicked.start()
    _wait_until(lambda: ticket.snapshot()[1] == "queued", "the export to wait in line")
    ticket.follow = True  # what the button's on_click does
    at.run()
    status = at.get("status")
    assert len(status) == 1 and status[0].label.startswith(downloads.WAITING_TEXT), [s.label for s in status]
    assert "1 export before yours" in status[0].label and "PNG" in status[0].label
    release.set()
    for thread in [clicked, *holders]:
        thread.join()
    assert result and result[0][:4] == b"\x89PNG"
    ticket.follow = True
    at.run()
    assert not at.get("status") and not at.error


def test_a_failed_export_shows_why_under_its_button():
    from streamlit.testing.v1 import AppTest

    script = """
from app_ui.downloads import export_ticket, rendered_download_button
from il2lib.export.browsers import ExportBrowserError

def render(payload):
    raise ExportBrowserError("chromium could not start its security sandbox; set IL2_CHROMIUM_NO_SANDBOX=1.")

rendered_download_button("Download PDF", render, "<html></html>", what="PDF", key="pdf", file_name="r.pdf")
ticket = export_ticket("pdf")
if not ticket.serial:
    try:
        ticket.run(render, "<html></html>")
    except ExportBrowserError:
        ticket.follow = True
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.run()
    from app_ui.markdown import md_escape

    assert len(at.error) == 1 and at.error[0].value.startswith(md_escape("The PDF could not be made."))
    assert md_escape("set IL2_CHROMIUM_NO_SANDBOX=1.") in at.error[0].value


def test_figure_and_pdf_buttons_ask_the_next_run_to_show_the_progress(monkeypatch):
    from app_ui import downloads

    drawn = {}
    monkeypatch.setattr(downloads.st, "download_button", lambda label, **kw: drawn.setdefault(label, kw))
    monkeypatch.setattr(downloads.st, "container", lambda **kwargs: contextlib.nullcontext())
    downloads.download_figure(go.Figure(), "KM")
    downloads.rendered_download_button("Download PDF", pdf.pdf_bytes, SMALL_REPORT, what="PDF", key="pdf")
    for label in ("PNG", "SVG", "Download PDF"):
        button = drawn[label]
        ticket = button["args"][0]
        assert not ticket.follow
        button["on_click"](*button["args"])
        assert ticket.follow, label
    assert drawn["HTML"]["on_click"] == "ignore", "no chromium, nothing to follow"
