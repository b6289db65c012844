"""Real-browser timing: a sidebar filter change until the survival page has redrawn.

For each cohort size (1e3, 1e4, 1e5, 1e6 patients by default) and each app (the dashboard's
Survival page, and ``bench/baseline_app.py``: lifelines KM per group + plotly, nothing else),
in the same run: start the server on that data, open the page in headless Debian chromium, then
time REPEATS x 2 filter changes (add "yes" to the "Prior PD-1/PD-L1" filter, then remove it with
Backspace). Only the first change computes the dashboard's analyses; later ones are served from
its cache (the baseline has none), so the first change is reported on its own too. A change counts
as done when the script has finished (app idle, no status widget, no stale element), the first
plotly figure has been redrawn with new data and the sidebar's "n = X of Y" has changed. Also timed: the first render of each page from a started server
(loading the data included), and the dashboard's first render on its default sample.

Usage::

    .venv/bin/python bench/bench_dashboard.py                 # all sizes
    .venv/bin/python bench/bench_dashboard.py 1000 10000      # some sizes

Writes a Markdown table to stdout and ``bench/results/dashboard.md`` (git-ignored). No test
asserts a time: this is a measurement to report.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from datasets import make_dataset  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM_ARGS, StreamlitServer, chromium_executable  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
REPEATS = 3
FILTER_LABEL = "Prior PD-1/PD-L1"
RESULTS = ROOT / "bench" / "results"
TIMEOUT_S = 900.0

_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-stale="true"]');
  const gd = document.querySelector('.js-plotly-plot');
  const sig = gd && gd._fullData ? gd._fullData.map(t => (t.name || '') + ':' + (t.x ? t.x.length : 0) + ':'
    + (t.y && t.y.length ? t.y[t.y.length - 1] : '')).join('|') : null;
  const side = document.querySelector('[data-testid="stSidebar"]');
  const m = side ? side.innerText.match(/n = \\d+ of \\d+/) : null;
  return {idle: idle, sig: sig, n: m ? m[0] : null};
}"""


@dataclass
class AppTimes:
    first_render_s: float
    changes_s: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.changes_s)

    @property
    def first_change_s(self) -> float:
        """The first change: for the dashboard the only one not served from its analysis cache."""
        return self.changes_s[0]


def _state(page: Page) -> dict:
    return page.evaluate(_STATE_JS)


def wait_drawn(page: Page, before: dict | None = None, timeout_s: float = TIMEOUT_S) -> float:
    """Block until idle with a drawn figure (different from ``before``); return the time it happened."""
    deadline = time.monotonic() + timeout_s
    stable_since = None
    while time.monotonic() < deadline:
        s = _state(page)
        done = s["idle"] and s["sig"] and s["n"] and (before is None or (s["sig"] != before["sig"]
                                                                          and s["n"] != before["n"]))
        if done:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 0.15:  # still idle a moment later: not between reruns
                return stable_since
        else:
            stable_since = None
        time.sleep(0.01)
    raise TimeoutError(f"page not redrawn within {timeout_s:.0f} s (last state {s})")


def _combobox(page: Page):
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=FILTER_LABEL).first


def change_filter(page: Page, add: bool) -> float:
    """Add "yes" to (or remove it from) the filter and time the redraw."""
    before = _state(page)
    box = _combobox(page)
    box.click()
    if add:
        option = page.get_by_role("option", name="yes", exact=True).first
        option.wait_for()
        start = time.monotonic()
        option.click()
    else:
        start = time.monotonic()
        page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    end = wait_drawn(page, before)
    return end - start


def time_app(browser, app: Path, url_path: str, env: dict[str, str], log_name: str) -> AppTimes:
    os.environ.update(env)
    server = StreamlitServer.start(app, RESULTS / f"{log_name}.log", timeout=120)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        start = time.monotonic()
        page.goto(server.url + url_path)
        first = wait_drawn(page) - start
        changes = []
        for _ in range(REPEATS):
            changes.append(change_filter(page, add=True))
            changes.append(change_filter(page, add=False))
        page.close()
        return AppTimes(first, changes)
    finally:
        server.stop()
        for key in env:
            os.environ.pop(key, None)


def run(sizes: tuple[int, ...]) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = ["| patients | dashboard: filter change (median of 6, s) | baseline: filter change (s) | ratio | "
             "dashboard: first change, uncached (s) | baseline: first change (s) | "
             "dashboard first render incl. load (s) | baseline first render incl. load (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        sample = time_app(browser, ROOT / "app.py", "/Survival", {}, "dashboard_sample")
        print(f"dashboard on the default sample: first render {sample.first_render_s:.2f} s, "
              f"filter change {sample.median_s:.2f} s", flush=True)
        for n in sizes:
            path = str(make_dataset(n))
            dash = time_app(browser, ROOT / "app.py", "/Survival", {"IL2_DASHBOARD_DATA": path, "IL2_LOGIN": "none"},
                            f"dashboard_{n}")
            base = time_app(browser, ROOT / "bench" / "baseline_app.py", "/", {"IL2_BASELINE_DATA": path},
                            f"baseline_{n}")
            line = (f"| {n:,} | {dash.median_s:.2f} | {base.median_s:.2f} | {dash.median_s / base.median_s:.2f} | "
                    f"{dash.first_change_s:.2f} | {base.first_change_s:.2f} | "
                    f"{dash.first_render_s:.1f} | {base.first_render_s:.1f} |")
            print(line, flush=True)
            lines.append(line)
        browser.close()
    header = (f"Default sample (107 patients): dashboard first render {sample.first_render_s:.2f} s, "
              f"filter change {sample.median_s:.2f} s.\n\n")
    table = header + "\n".join(lines) + "\n"
    (RESULTS / "dashboard.md").write_text(table)
    return table


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES
    print(run(chosen))
