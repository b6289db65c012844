"""Privacy and escaping on the real server, with the e2e fixtures.

* Server path: a websocket client (bench/st_client.py, the browser's protocol) uploads a marked
  cohort of about 1.5 MB through the real ``/_stcore/upload_file`` endpoint (large enough for
  Starlette to spool the multipart body to a temporary file). Afterwards no file modified since
  the test started (project, temp dir, home; ``.git`` skipped) contains the marker, and neither
  does the server log. The browser is left out of this one on purpose: what a browser caches on
  the clinician's machine is not the server's doing.
* Browser: a file whose name, column names and values carry HTML / Markdown payloads is uploaded
  through the real file input; on every page no injected element exists in the DOM (no
  ``img[src=x]``, no injected ``h1`` / ``script`` / ``javascript:`` link), no dialog opened, and
  the file name shows as literal text.
"""
from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page

from . import ui
from .server import ROOT

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from st_client import StreamlitClient  # noqa: E402
from test_escaping import hostile_upload, payloads  # noqa: E402

from support import security as sh  # noqa: E402

PAGES = ("Data", "Cohort", "Response", "Survival", "Biomarkers", "Toxicity", "Report")
PADDING_BYTES = 1_500_000


def _big_marked_csv(token: str) -> tuple[bytes, int]:
    frame = sh.marked_cohort(token)
    frame["free_text_notes"] = (f"note {token} " * (PADDING_BYTES // len(frame) // 20))[: PADDING_BYTES // len(frame)]
    return frame.to_csv(index=False).encode(), len(frame) - 2  # the duplicated id excludes both copies


async def _upload_over_websocket(url: str, name: str, data: bytes) -> tuple[int, int]:
    async with StreamlitClient(url) as client:
        run = await client.upload_patient_file(name, data)
        assert run.exceptions() == []
        return run.n_summary()


def test_server_upload_leaves_no_file_and_no_log_line(streamlit_server):
    token = sh.marker()
    data, n_expected = _big_marked_csv(token)
    assert len(data) > 1_048_576, "below Starlette's 1 MB spooling threshold: the disk path is not exercised"
    since = sh.scan_start()

    # In a thread: the session-scoped sync Playwright of the e2e fixtures keeps an event loop running here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        shown = pool.submit(asyncio.run, _upload_over_websocket(streamlit_server.url, f"registry_{token}.csv",
                                                                data)).result()
    assert shown == (n_expected, n_expected)

    roots = [ROOT, Path(tempfile.gettempdir()), Path.home()]
    hits = sh.files_containing(sh.files_modified_since(roots, since, skip=(ROOT / ".git",)), [token.encode()])
    assert hits == [], f"patient data written to disk: {hits}"
    assert token not in streamlit_server.log_path.read_text(errors="replace"), "patient data in the server log"


INJECTED = ('img[src="x"]', "a[href^='javascript']", "iframe iframe")


def _assert_inert(page: Page, token: str, where: str) -> None:
    for selector in INJECTED:
        assert page.locator(selector).count() == 0, f"{where}: injected {selector}"
    assert page.locator("h1").filter(has_text=token).count() == 0, f"{where}: injected <h1>"
    assert page.locator("script").filter(has_text=token).count() == 0, f"{where}: injected <script>"
    assert page.locator("strong").filter(has_text=re.compile(rf"^{token}bold$")).count() == 0, \
        f"{where}: Markdown bold rendered"


def test_hostile_upload_renders_as_text_in_the_browser(page: Page):
    token = sh.marker()
    name, data = hostile_upload(token)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    ui.choose_radio(page, "Data source", re.compile("upload", re.I))
    page.locator(ui.UPLOAD_INPUT).first.set_input_files(files=[{"name": name, "mimeType": "text/csv",
                                                                "buffer": data}])
    page.wait_for_timeout(300)
    ui.settle(page)
    assert payloads(token)["img"] in ui.page_text(page), "the file name is not shown as literal text"
    for label in PAGES:
        if label != "Data":
            ui.go_to_page(page, label)
        _assert_inert(page, token, label)
        if label == "Report" and page.get_by_role("button", name="Build report").count():
            page.get_by_role("button", name="Build report").click()
            ui.settle(page)
            for frame in page.frames[1:]:
                assert frame.locator('img[src="x"]').count() == 0, "report preview: injected <img>"
                assert frame.locator("h1").filter(has_text=token).count() == 0, "report preview: injected <h1>"
    ui.shot(page, "security_hostile_upload_report")
    assert dialogs == [], f"a script ran: {dialogs}"

