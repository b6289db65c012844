"""Print the report's HTML to PDF with Debian's chromium, in memory and offline.

The document never touches the disk: chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``), the HTML is served to it from memory by request interception and
the PDF comes back from ``Page.printToPDF`` as base64. Only chromium's empty throw-away profile is
a directory. The document's own ``@page`` rule sets the paper (A4 or Letter), margins and the
page-number footer; ``break-inside: avoid`` on figures and tables keeps each on one page.
"""
from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from il2lib.errors import Il2libError
from il2lib.report._html import PAGE_RULE_ID, Paper

#: Candidate chromium executables, in order (``BROWSER_PATH`` first, as kaleido uses it).
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/lib/chromium/chromium", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
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


class PdfExportError(Il2libError, RuntimeError):
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


class _DevTools:
    """A minimal DevTools-protocol client over chromium's pipe (NUL-terminated JSON messages).

    ``on_event`` receives every message that is not the reply being waited for (protocol events).
    """

    def __init__(self, proc: subprocess.Popen, deadline: float) -> None:
        self.proc, self.deadline, self.next_id, self.buffer = proc, deadline, 0, b""
        self.on_event = lambda message: None

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        return self.next_id

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        wanted = self.send(method, params, session)
        while True:
            reply = self._read()
            if reply.get("id") != wanted:
                self.on_event(reply)
                continue
            if "error" in reply:
                raise PdfExportError(f"chromium refused {method}: {reply['error'].get('message', reply['error'])}")
            return reply.get("result", {})

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise PdfExportError("chromium did not finish printing in time.")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20) if ready else b""
            if ready and not chunk:
                raise PdfExportError("chromium stopped before the PDF was printed.")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)


def _serve_from_memory(devtools: _DevTools, session: str, document: str) -> None:
    """Answer the request for :data:`REPORT_URL` with the document; refuse every other request."""
    body = base64.b64encode(document.encode("utf-8")).decode("ascii")
    headers = [{"name": "Content-Type", "value": "text/html; charset=utf-8"},
               {"name": "Cache-Control", "value": "no-store"}]

    def on_event(message: dict) -> None:
        if message.get("method") != "Fetch.requestPaused" or message.get("sessionId") != session:
            return
        request = message["params"]
        if request["request"]["url"] == REPORT_URL:
            devtools.send("Fetch.fulfillRequest", {"requestId": request["requestId"], "responseCode": 200,
                                                   "responseHeaders": headers, "body": body}, session)
        else:
            devtools.send("Fetch.failRequest", {"requestId": request["requestId"], "errorReason": "BlockedByClient"},
                          session)

    devtools.on_event = on_event
    devtools.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)


def _print(devtools: _DevTools, document: str) -> bytes:
    target = devtools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = devtools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    _serve_from_memory(devtools, session, document)
    devtools.call("Page.navigate", {"url": REPORT_URL}, session=session)
    ready = devtools.call("Runtime.evaluate", {"expression": _READY, "awaitPromise": True, "returnByValue": True},
                          session=session)
    if not ready.get("result", {}).get("value"):
        raise PdfExportError("the report's figures did not finish drawing before printing.")
    pdf = devtools.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True,
                                            "displayHeaderFooter": False, "generateDocumentOutline": True,
                                            "generateTaggedPDF": True}, session=session)
    return base64.b64decode(pdf["data"])


def pdf_bytes(html: str, *, paper: Paper = "A4", timeout: float = 180.0) -> bytes:
    """Print a report document to PDF with headless chromium and return the PDF's bytes.

    Parameters
    ----------
    html
        A document from :func:`il2lib.report.build_report` (``Report.html``).
    paper
        ``"A4"`` or ``"Letter"``; replaces the size in the document's ``@page`` rule.
    timeout
        Seconds before chromium is stopped.

    Raises
    ------
    PdfExportError
        No chromium, chromium failed, or it did not finish within ``timeout``.

    Notes
    -----
    Nothing of the document is written to disk (patient data stays in memory): chromium reads
    the DevTools protocol on fd 3 and writes on fd 4 (a shell ``exec`` maps them onto our pipes);
    request interception (``Fetch``) answers the navigation to :data:`REPORT_URL` with the
    document (``Cache-Control: no-store``) and refuses any other request; ``Page.printToPDF``
    prints it (CSS page size, backgrounds, document outline, tagged PDF). The document's
    Content-Security-Policy blocks every request too, so printing is offline.
    """
    document = set_paper(html, paper)
    chromium = find_chromium()
    profile = tempfile.mkdtemp(prefix="il2-chromium-profile-")
    command = ["/bin/sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh", chromium,
               *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    closed = False
    try:
        devtools = _DevTools(proc, time.monotonic() + timeout)
        result = _print(devtools, document)
        try:
            devtools.call("Browser.close")
        except PdfExportError:
            pass  # the pipe may close before the reply: chromium is exiting anyway
        closed = True
        return result
    finally:
        _stop(proc, grace=10.0 if closed else 0.0)
        _remove_profile(profile)


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
