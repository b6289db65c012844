"""Print the report's HTML to PDF with Debian's chromium (headless print-to-PDF, offline).

The document's own ``@page`` rule sets the paper (A4 or Letter), margins and the page-number
footer; ``break-inside: avoid`` on figures and tables keeps each on one page.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from il2lib.errors import Il2libError
from il2lib.report._html import PAGE_RULE_ID, Paper

#: Candidate chromium executables, in order (``BROWSER_PATH`` first, as kaleido uses it).
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/lib/chromium/chromium", "google-chrome")
#: Milliseconds of virtual time chromium waits for scripts (plotly drawing) before printing.
VIRTUAL_TIME_BUDGET_MS = 20_000


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
    Runs ``chromium --headless --print-to-pdf --no-pdf-header-footer`` on a temporary copy of
    the document with a fresh profile and background networking disabled; the document's
    Content-Security-Policy blocks any request, so printing is offline.
    """
    document = set_paper(html, paper)
    with tempfile.TemporaryDirectory(prefix="il2-report-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(document, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        command = [
            find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--no-first-run", "--no-default-browser-check", "--mute-audio",
            f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw", "--generate-pdf-document-outline",
            f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
            f"--print-to-pdf={out}", source.as_uri(),
        ]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfExportError(f"chromium did not finish printing within {timeout:.0f} s.") from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise PdfExportError("chromium could not print the report to PDF: " + " | ".join(tail))
        return out.read_bytes()


def write_pdf(html: str, path: str | os.PathLike, *, paper: Paper = "A4", timeout: float = 180.0) -> Path:
    """Print a report document to a PDF file (see :func:`pdf_bytes`) and return its path."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pdf_bytes(html, paper=paper, timeout=timeout))
    return target
