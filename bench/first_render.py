"""First render of the Data and Survival pages from a freshly started server (real browser).

Method (bench/bench_dashboard.py's): start the server the way ``make run`` does
(tests/e2e/server.py: ``serve.py`` next to an ``app.py``, else ``streamlit run``), wait until it
answers its health check, open the page in headless Debian chromium and time from ``goto`` until
the script is idle (no running script, status widget or stale element, still idle 150 ms later)
and the page's content is there: the first plotly figure drawn (Survival) or the validation
report's "Rows loaded" metric (Data). The floor is timed the same way in the same run: a minimal
Streamlit page with one plotly chart (``bench/minimal_app.py``). Each measurement uses a fresh server and a new page, so no
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

_PLOTLY_DRAWN = """(() => { const gd = document.querySelector('.js-plotly-plot');
                        return !!(gd && gd._fullData && gd._fullData.length); })()"""
#: The floor: a minimal Streamlit page with one plotly chart, timed like the pages.
MINIMAL_APP = ROOT / "bench" / "minimal_app.py"
#: page name -> (URL path, JS expression that is true once the page's content is drawn)
PAGES = {
    "Data": ("/", """!!Array.from(document.querySelectorAll('[data-testid="stMetricLabel"]'))
                      .find(e => e.innerText.includes('Rows loaded'))"""),
    "Survival": ("/Survival", _PLOTLY_DRAWN),
}
FLOOR = "Minimal page"
FLOOR_PAGE = ("/", _PLOTLY_DRAWN)

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
    url_path, content_js = FLOOR_PAGE if page_name == FLOOR else PAGES[page_name]
    server = StreamlitServer.start(app, RESULTS / f"first_render_{page_name.replace(' ', '_')}.log", timeout=120)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        start = time.monotonic()
        page.goto(server.url + url_path)
        elapsed = wait_ready(page, content_js) - start
        page.close()
        return elapsed
    finally:
        server.stop()


def measure(browser, apps: list[Path], repeats: int) -> dict[tuple[str, Path], list[float]]:
    """First renders of every page of ``apps`` and of the minimal page (the floor), ``repeats`` fresh servers
    each, interleaved (repeat by repeat) so that all see the same machine load."""
    runs: dict[tuple[str, Path], list[float]] = {(FLOOR, MINIMAL_APP): []}
    runs.update({(name, app): [] for name in PAGES for app in apps})
    for _ in range(repeats):
        for name, app in runs:
            runs[name, app].append(first_render(browser, app, name))
            print(f"{name} {app}: {runs[name, app][-1]:.2f} s", file=sys.stderr, flush=True)
    return runs


def table(runs: dict[tuple[str, Path], list[float]]) -> str:
    """Markdown table of :func:`measure`'s runs, each median also as a ratio to the minimal page's."""
    floor = statistics.median(runs[FLOOR, MINIMAL_APP])
    lines = ["| page | app | median (s) | x minimal page | min (s) | runs (s) |", "|---|---|---:|---:|---:|---|"]
    for (name, app), times in runs.items():
        median = statistics.median(times)
        lines.append(f"| {name} | {app.relative_to(ROOT) if app.is_relative_to(ROOT) else app} | {median:.2f} | "
                     f"{median / floor:.2f} | {min(times):.2f} | {', '.join(f'{t:.2f}' for t in times)} |")
    return "\n".join(lines)


def run(apps: list[Path], repeats: int) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            runs = measure(browser, apps, repeats)
        finally:
            browser.close()
    return table(runs)


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
