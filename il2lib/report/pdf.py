"""Print the report's HTML to PDF with Debian's chromium, in memory and offline.

The document never touches the disk: chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``), the HTML is served to it from memory by request interception and
the PDF comes back from ``Page.printToPDF`` as base64. Only chromium's empty throw-away profile is
a directory. The document's own ``@page`` rule sets the paper (A4 or Letter), margins and the
page-number footer; ``break-inside: avoid`` on figures and tables keeps each on one page.

One chromium per process prints every PDF, each in its own browser context (an in-memory profile,
discarded after the print), at most ``IL2_EXPORT_SLOTS`` exports at once, and with chromium's
sandbox unless the process is root or ``IL2_CHROMIUM_NO_SANDBOX=1`` (see :mod:`il2lib.export.browsers`).
"""
from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from il2lib.export import browsers
from il2lib.report._html import PAGE_RULE_ID, Paper

#: Candidate chromium executables, in order (``BROWSER_PATH`` first, as kaleido uses it).
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/lib/chromium/chromium", "google-chrome")
#: chromium's flags; ``--no-sandbox`` is added only as root or with ``IL2_CHROMIUM_NO_SANDBOX=1``.
CHROMIUM_FLAGS = ("--headless", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--no-first-run", "--no-default-browser-check", "--mute-audio",
                  "--disk-cache-size=1", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                  "--remote-debugging-pipe")
#: The address the document is served at, from memory, inside chromium only (``.invalid`` never resolves).
REPORT_URL = "http://il2-report.invalid/report.html"
#: Script run before printing: resolves once every plotly figure has drawn and fonts are loaded.
_READY = """new Promise(resolve => {
  const done = () => document.readyState === 'complete' && [...document.querySelectorAll('.plotly-graph-div')]
      .every(d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'));
  const wait = (left) => (done() || left <= 0)
      ? document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => resolve(done()))))
      : setTimeout(() => wait(left - 1), 50);
  wait(400);
})"""


#: Seconds chromium may take to start and answer its first command.
START_SECONDS = 30.0
_log = logging.getLogger(__name__)


class PdfExportError(browsers.ExportBrowserError):
    """The PDF could not be produced (no chromium found, or chromium failed)."""


def find_chromium() -> str:
    """Path of a chromium executable, or :class:`PdfExportError` naming how to install one."""
    for candidate in (os.environ.get("BROWSER_PATH"), *CHROMIUM_CANDIDATES):
        if candidate and (path := shutil.which(candidate)):
            return path
    raise PdfExportError("No chromium found for the PDF export. Install Debian's chromium "
                         "(sudo apt-get install -y chromium) or set BROWSER_PATH to a Chrome/Chromium binary.")


def set_paper(html: str, paper: Paper) -> str:
    """The document with its ``@page`` size switched to ``paper`` (A4 or Letter)."""
    size = {"A4": "A4", "Letter": "letter"}[paper]
    pattern = re.compile(rf'(<style id="{PAGE_RULE_ID}">@page \{{ size: )[A-Za-z0-9]+;')
    result, count = pattern.subn(lambda m: f"{m.group(1)}{size};", html, count=1)
    if count == 0:
        raise ValueError("This HTML has no report page rule; build it with il2lib.report.build_report.")
    return result


class _Connection:
    """The DevTools protocol over chromium's pipe (NUL-terminated JSON), shared by concurrent prints.

    A reader thread hands each reply to the call waiting for its id and each event to the handler of
    its session (``handlers[sessionId]``; handlers run on the reader thread and may only ``send``).
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.handlers: dict[str, Callable[[dict], None]] = {}
        self.closed = False
        self._ids = itertools.count(1)
        self._lock, self._write_lock = threading.Lock(), threading.Lock()
        self._waiting: dict[int, list] = {}
        threading.Thread(target=self._read, name="il2-pdf-devtools", daemon=True).start()

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             message_id: int | None = None) -> int:
        message_id = next(self._ids) if message_id is None else message_id
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            with self._write_lock:
                self.proc.stdin.write(json.dumps(message).encode() + b"\0")
                self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise PdfExportError("chromium stopped before the PDF was printed.") from None
        return message_id

    def call(self, method: str, params: dict | None = None, session: str | None = None, *,
             deadline: float) -> dict:
        message_id, waiter = next(self._ids), [threading.Event(), None]
        with self._lock:
            if self.closed:
                raise PdfExportError("chromium stopped before the PDF was printed.")
            self._waiting[message_id] = waiter
        try:
            self.send(method, params, session, message_id)
            if not waiter[0].wait(max(0.0, deadline - time.monotonic())):
                raise PdfExportError("chromium did not finish printing in time.")
        finally:
            with self._lock:
                self._waiting.pop(message_id, None)
        reply = waiter[1]
        if reply is None:
            raise PdfExportError("chromium stopped before the PDF was printed.")
        if "error" in reply:
            raise PdfExportError(f"chromium refused {method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result", {})

    def _read(self) -> None:
        buffer, fd = bytearray(), self.proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 1 << 20):
                searched = len(buffer)
                buffer += chunk
                while (end := buffer.find(b"\0", searched)) >= 0:
                    self._dispatch(json.loads(bytes(buffer[:end])))
                    del buffer[:end + 1]
                    searched = 0
        except (OSError, ValueError):
            pass
        with self._lock:
            self.closed = True
            waiting = list(self._waiting.values())
        for event, _ in waiting:
            event.set()  # no reply: chromium stopped

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            with self._lock:
                waiter = self._waiting.get(message["id"])
            if waiter is not None:
                waiter[1] = message
                waiter[0].set()
            return
        handler = self.handlers.get(message.get("sessionId", ""))
        if handler is not None:
            try:
                handler(message)
            except PdfExportError:
                pass  # chromium is stopping; the waiting call reports it


class _PdfBrowser:
    """The chromium that prints every PDF of this process: started on the first print, then kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.connection: _Connection | None = None
        self.sandbox = False
        self._profile: str | None = None
        self._stderr: deque[str] = deque(maxlen=20)

    def running(self) -> bool:
        return self.connection is not None and not self.connection.closed and self.proc.poll() is None

    def connect(self, deadline: float) -> _Connection:
        """The connection to the running chromium; starts one when none runs (or it stopped)."""
        with self._lock:
            if self.running():
                return self.connection
            self._stop_locked()
            self._start_locked(deadline)
            browsers.register_browser(self.close)
            return self.connection

    def _start_locked(self, deadline: float) -> None:
        chromium = find_chromium()
        self.sandbox = browsers.use_sandbox()
        self._profile = tempfile.mkdtemp(prefix="il2-chromium-profile-")
        flags = [*CHROMIUM_FLAGS, *(() if self.sandbox else ("--no-sandbox",)), f"--user-data-dir={self._profile}"]
        command = ["/bin/sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh", chromium, *flags, "about:blank"]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stderr.clear()
        threading.Thread(target=self._keep_stderr, args=(self.proc.stderr,), name="il2-pdf-stderr", daemon=True).start()
        self.connection = _Connection(self.proc)
        try:
            self.connection.call("Browser.getVersion", deadline=min(deadline, time.monotonic() + START_SECONDS))
        except PdfExportError as exc:
            self._stop_locked()
            _log.warning("chromium for the PDF export did not start (sandbox %s): %s", "on" if self.sandbox else "off",
                         " | ".join(self._stderr) or exc)
            if self.sandbox:
                raise PdfExportError(browsers.sandbox_failure("PDF")) from exc
            raise PdfExportError("chromium could not start to print the PDF.") from exc

    def _keep_stderr(self, stream) -> None:
        """Keep chromium's last log lines (start-up failures are explained there); never its pages' content."""
        for line in iter(stream.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace").strip()[:300])
        stream.close()

    def close(self) -> None:
        """Close chromium (the next PDF starts a new one)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        proc, connection, profile = self.proc, self.connection, self._profile
        self.proc = self.connection = self._profile = None
        if proc is not None:
            if connection is not None and not connection.closed:
                try:
                    connection.send("Browser.close")
                except PdfExportError:
                    pass  # the pipe closed: chromium is exiting anyway
            _stop(proc, grace=10.0)
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if profile is not None:
            _remove_profile(profile)


_BROWSER = _PdfBrowser()


def _serve_from_memory(connection: _Connection, session: str, document: str, crashed: threading.Event) -> None:
    """Answer the request for :data:`REPORT_URL` with the document; refuse every other request."""
    body = base64.b64encode(document.encode("utf-8")).decode("ascii")
    headers = [{"name": "Content-Type", "value": "text/html; charset=utf-8"},
               {"name": "Cache-Control", "value": "no-store"}]

    def on_event(message: dict) -> None:
        if message.get("method") == "Inspector.targetCrashed":
            crashed.set()
        if message.get("method") != "Fetch.requestPaused":
            return
        request = message["params"]
        if request["request"]["url"] == REPORT_URL:
            connection.send("Fetch.fulfillRequest", {"requestId": request["requestId"], "responseCode": 200,
                                                     "responseHeaders": headers, "body": body}, session)
        else:
            connection.send("Fetch.failRequest", {"requestId": request["requestId"], "errorReason": "BlockedByClient"},
                            session)

    connection.handlers[session] = on_event
    deadline = time.monotonic() + START_SECONDS
    connection.call("Inspector.enable", session=session, deadline=deadline)
    connection.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session, deadline=deadline)


def _print(connection: _Connection, document: str, deadline: float, sandbox: bool) -> bytes:
    """Print in a fresh browser context (its storage lives in memory) and discard the context after."""
    context = connection.call("Target.createBrowserContext", {"disposeOnDetach": True}, deadline=deadline)
    context_id, session, crashed = context["browserContextId"], None, threading.Event()
    try:
        target = connection.call("Target.createTarget", {"url": "about:blank", "browserContextId": context_id},
                                 deadline=deadline)["targetId"]
        session = connection.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                  deadline=deadline)["sessionId"]
        _serve_from_memory(connection, session, document, crashed)
        connection.call("Page.navigate", {"url": REPORT_URL}, session, deadline=deadline)
        ready = connection.call("Runtime.evaluate", {"expression": _READY, "awaitPromise": True,
                                                     "returnByValue": True}, session, deadline=deadline)
        if not ready.get("result", {}).get("value"):
            raise PdfExportError("the report's figures did not finish drawing before printing.")
        pdf = connection.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True,
                                                  "displayHeaderFooter": False, "generateDocumentOutline": True,
                                                  "generateTaggedPDF": True}, session, deadline=deadline)
        return base64.b64decode(pdf["data"])
    except PdfExportError as exc:
        if crashed.is_set():
            raise PdfExportError(browsers.sandbox_failure("PDF") if sandbox else
                                 "chromium's page crashed while printing the PDF.") from exc
        raise
    finally:
        if session is not None:
            connection.handlers.pop(session, None)
        try:
            connection.call("Target.disposeBrowserContext", {"browserContextId": context_id},
                            deadline=time.monotonic() + START_SECONDS)
        except PdfExportError:
            _BROWSER.close()  # chromium does not answer: the next print starts a new one


def pdf_bytes(html: str, *, paper: Paper = "A4", timeout: float = 180.0) -> bytes:
    """Print a report document to PDF with headless chromium and return the PDF's bytes.

    Parameters
    ----------
    html
        A document from :func:`il2lib.report.build_report` (``Report.html``).
    paper
        ``"A4"`` or ``"Letter"``; replaces the size in the document's ``@page`` rule.
    timeout
        Seconds the print may take once it has an export slot (waiting in line for a slot is
        limited separately, :data:`il2lib.export.browsers.SLOT_WAIT_SECONDS`).

    Raises
    ------
    PdfExportError
        No chromium, chromium failed (its sandbox included: the message names the opt-out),
        or it did not finish within ``timeout``.

    Notes
    -----
    Nothing of the document is written to disk (patient data stays in memory): chromium reads
    the DevTools protocol on fd 3 and writes on fd 4 (a shell ``exec`` maps them onto our pipes);
    each print gets its own browser context (``Target.createBrowserContext``: cookies, storage and
    cache in memory, discarded after the print); request interception (``Fetch``) answers the
    navigation to :data:`REPORT_URL` with the document (``Cache-Control: no-store``) and refuses any
    other request; ``Page.printToPDF`` prints it (CSS page size, backgrounds, document outline,
    tagged PDF). The document's Content-Security-Policy blocks every request too, so printing is
    offline. The chromium process is shared by the prints of this process (:mod:`il2lib.export.browsers`).
    """
    document = set_paper(html, paper)
    find_chromium()  # no chromium: say so before waiting in line
    with browsers.slots().hold():
        deadline = time.monotonic() + timeout
        connection = _BROWSER.connect(deadline)
        return _print(connection, document, deadline, _BROWSER.sandbox)


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Let chromium exit by itself for ``grace`` seconds (after Browser.close), then end it."""
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _remove_profile(profile: str) -> None:
    """Remove chromium's throw-away profile; its helper processes may still be writing for a moment."""
    for _ in range(20):
        shutil.rmtree(profile, ignore_errors=True)
        if not os.path.exists(profile):
            return
        time.sleep(0.1)


def write_pdf(html: str, path: str | os.PathLike, *, paper: Paper = "A4", timeout: float = 180.0) -> Path:
    """Print a report document to a PDF file (see :func:`pdf_bytes`) and return its path."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pdf_bytes(html, paper=paper, timeout=timeout))
    return target
