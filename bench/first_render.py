"""First render of the Data and Survival pages from a freshly started server (real browser).

Method (bench/bench_dashboard.py's): start the server the way ``make run`` does
(tests/e2e/server.py: ``serve.py`` next to an ``app.py``, else ``streamlit run``), wait until it
answers its health check, open the page in headless Debian chromium and time from ``goto`` until
the script is idle (no running script, status widget or stale element, still idle 150 ms later)
and the page's content is there: the first plotly figure drawn (Survival) or the validation
report's "Rows loaded" metric (Data). Each measurement uses a fresh server and a new page, so no
session and no analysis is cached (the launcher's warm-up is part of starting the server). The
median of ``--repeats`` servers is reported, with the minimum (the least disturbed run).

Usage::

    .venv/bin/python bench/first_render.py               # both pages, 3 fresh servers each
    .venv/bin/python bench/first_render.py --repeats 5
    .venv/bin/python bench/first_render.py --app /tmp/old/app.py --app app.py   # compare two checkouts

With several ``--app`` the servers are started in turn (page by page, repeat by repeat), so every
app sees the same machine load. Prints a Markdown table (also written to
``bench/results/first_render.md``, git-ignored). No test asserts a time: this is a measurement.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM_ARGS, StreamlitServer, chromium_executable  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TIMEOUT_S = 120.0
STABLE_S = 0.15

#: page name -> (URL path, JS expression that is true once the page's content is drawn)
PAGES = {
    "Data": ("/", """!!Array.from(document.querySelectorAll('[data-testid="stMetricLabel"]'))
                      .find(e => e.innerText.includes('Rows loaded'))"""),
    "Survival": ("/Survival", """(() => { const gd = document.querySelector('.js-plotly-plot');
                                  return !!(gd && gd._fullData && gd._fullData.length); })()"""),
}

_IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-stale="true"]');
}"""


def wait_ready(page: Page, content_js: str, timeout_s: float = TIMEOUT_S) -> float:
    """Block until idle with the content drawn (and still so ``STABLE_S`` later); return when it began."""
    deadline = time.monotonic() + timeout_s
    stable_since = None
    while time.monotonic() < deadline:
        done = page.evaluate(_IDLE_JS) and page.evaluate(content_js)
        if done:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= STABLE_S:
                return stable_since
        else:
            stable_since = None
        time.sleep(0.01)
    raise TimeoutError(f"page not ready within {timeout_s:.0f} s")


def first_render(browser, app: Path, page_name: str) -> float:
    """Seconds from ``goto`` to the drawn page, on a server started for this one measurement."""
    url_path, content_js = PAGES[page_name]
    server = StreamlitServer.start(app, RESULTS / f"first_render_{page_name}.log", timeout=120)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        start = time.monotonic()
        page.goto(server.url + url_path)
        elapsed = wait_ready(page, content_js) - start
        page.close()
        return elapsed
    finally:
        server.stop()


def run(apps: list[Path], repeats: int) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: dict[tuple[str, Path], list[float]] = {(name, app): [] for name in PAGES for app in apps}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            for name in PAGES:
                for _ in range(repeats):
                    for app in apps:
                        runs[name, app].append(first_render(browser, app, name))
                        print(f"{name} {app}: {runs[name, app][-1]:.2f} s", file=sys.stderr, flush=True)
        finally:
            browser.close()
    lines = ["| page | app | median (s) | min (s) | runs (s) |", "|---|---|---:|---:|---|"]
    for (name, app), times in runs.items():
        lines.append(f"| {name} | {app} | {statistics.median(times):.2f} | {min(times):.2f} | "
                     f"{', '.join(f'{t:.2f}' for t in times)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh servers per page (default 3)")
    parser.add_argument("--app", type=Path, action="append",
                        help="entry script to time (repeatable; default: this checkout's app.py)")
    args = parser.parse_args(argv)
    table = run([a.resolve() for a in args.app or [ROOT / "app.py"]], args.repeats)
    (RESULTS / "first_render.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
