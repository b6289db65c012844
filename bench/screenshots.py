"""Screenshot every dashboard page in headless Debian chromium (tall viewport) for a visual check.

Usage: ``.venv/bin/python bench/screenshots.py [query-string]`` writes
``tests/artifacts/screens/<page>.png`` (git-ignored). The query string (e.g. ``present=1``) is
appended to every page URL, so presentation mode or a filter can be checked the same way.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM_ARGS, VIEWPORT, StreamlitServer, chromium_executable  # noqa: E402

PAGES = {"data": "", "cohort": "Cohort", "response": "Response", "survival": "Survival",
         "biomarkers": "Biomarkers", "toxicity": "Toxicity", "report": "Report"}
OUT = ROOT / "tests" / "artifacts" / "screens"


_IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return null;
  if (document.querySelector('[data-testid="stStatusWidget"]') || document.querySelector('[data-stale="true"]')) return null;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  const drawn = document.querySelectorAll('[data-testid="stPlotlyChart"] .main-svg').length;
  if (drawn < charts) return null;
  return document.querySelectorAll('[data-testid="stElementContainer"]').length;
}"""


def wait_idle(page, timeout_s: float = 120.0) -> None:
    """Wait until the script has finished, every chart is drawn and the page has stopped changing."""
    page.wait_for_selector('[data-testid="stSidebar"]', state="attached", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        snapshot = page.evaluate(_IDLE_JS)
        if snapshot != last or snapshot is None:
            last, stable_since = snapshot, time.monotonic()
        elif time.monotonic() - stable_since > 1.5:
            return
        time.sleep(0.25)


def main(query: str = "") -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_" + query.replace("=", "-").replace("&", "_") if query else ""
    server = StreamlitServer.start(ROOT / "app.py", OUT / "server.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport=VIEWPORT)
            for name, path in PAGES.items():
                if name != "data" and not any((ROOT / "pages").glob(f"*_{path}.py")):
                    continue
                page.goto(f"{server.url}/{path}" + (f"?{query}" if query else ""))
                wait_idle(page)
                target = OUT / f"{name}{suffix}.png"
                page.screenshot(path=str(target))
                print(target)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
