"""Real-browser timing of the Survival page: filter changes, and first renders against a minimal page.

For each cohort size (1e3, 1e4, 1e5, 1e6 patients by default) and each app (the dashboard's
Survival page, and ``bench/baseline_app.py``: lifelines KM per group + plotly, nothing else),
in the same run: start the server on that data, open the page in headless Debian chromium, then
time six sidebar filter changes, each to a filter state not seen before in that session (no analysis
is served from a cache): prior PD-1/PD-L1 yes; + sex F; - prior; + prior no; - sex; + sex M. The
first change is reported on its own too. A change counts as done when the script has finished (app
idle, no status widget, no stale element), the first plotly figure has been redrawn with new data
and the sidebar's "n = X of Y" has changed. Also timed: the first render of each app from a started
server, and the server's start until its health check answers. The dashboard (``serve.py``) loads
the server file before it answers, the baseline on its first page view: the load is in the dashboard's
server start and in the baseline's first render.

First render (bench/first_render.py's method: a fresh server after the launcher's warm-up, a new
browser session, i.e. a cold browser cache) of the dashboard's Data and Survival pages on the default
sample, against the floor measured in the same run: a minimal Streamlit page with one plotly chart
(``bench/minimal_app.py``).

Then the loader's throughput (``bench/bench_loader.py``, this checkout's ``il2lib``): ``load_cohort`` of
``--loader-rows`` rows (default 1e6; clean and messy; CSV, Parquet and typed Parquet) against pyarrow's
own read of the same file, in the same run.

Usage::

    .venv/bin/python bench/bench_dashboard.py                 # all sizes
    .venv/bin/python bench/bench_dashboard.py 1000 100000     # some sizes
    .venv/bin/python bench/bench_dashboard.py --app /tmp/old/app.py 1000   # another checkout's dashboard
    .venv/bin/python bench/bench_dashboard.py --loader-rows 0 1000         # without the loader table

Writes Markdown tables to stdout and ``bench/results/dashboard.md`` (git-ignored). No test asserts a
time: this is a measurement to report (the ratios to the baselines measured in the same run count).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_loader  # noqa: E402
import first_render  # noqa: E402
from datasets import make_dataset  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM_ARGS, StreamlitServer, chromium_executable  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
PRIOR, SEX = "Prior PD-1/PD-L1", "Sex"
#: (filter, value to add, or None: remove the last value): six states, none seen before in the session.
CHANGES = ((PRIOR, "yes"), (SEX, "F"), (PRIOR, None), (PRIOR, "no"), (SEX, None), (SEX, "M"))
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
  const m = side ? side.innerText.match(/n = [\\d,]+ of [\\d,]+/) : null;
  return {idle: idle, sig: sig, n: m ? m[0] : null};
}"""


@dataclass
class AppTimes:
    server_start_s: float  # the process started until its health check answers (serve.py's warm-up included)
    first_render_s: float
    changes_s: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.changes_s)

    @property
    def first_change_s(self) -> float:
        """The first change (the first rerun of the session after its first render)."""
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


def _combobox(page: Page, label: str):
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label).first


def change_filter(page: Page, label: str, value: str | None) -> float:
    """Add ``value`` to the filter ``label`` (None: remove its last value) and time the redraw."""
    before = _state(page)
    box = _combobox(page, label)
    box.click()
    if value is not None:
        option = page.get_by_role("option", name=value, exact=True).first
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
    started = time.monotonic()
    server = StreamlitServer.start(app, RESULTS / f"{log_name}.log", timeout=300)
    server_start = time.monotonic() - started
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        start = time.monotonic()
        page.goto(server.url + url_path)
        first = wait_drawn(page) - start
        changes = [change_filter(page, label, value) for label, value in CHANGES]
        page.close()
        return AppTimes(server_start, first, changes)
    finally:
        server.stop()
        for key in env:
            os.environ.pop(key, None)


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def run(sizes: tuple[int, ...], app: Path, repeats: int, loader_rows: int) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [f"Dashboard: {app}. Load average (1/5/15 min) at start: {_load()}.", "",
             f"Filter change (median of {len(CHANGES)}, each to a new filter state) to the redrawn Survival page:", "",
             "| patients | dashboard (s) | baseline (s) | ratio | dashboard: first change (s) | "
             "baseline: first change (s) | dashboard first render (s) | baseline first render incl. load (s) | "
             "dashboard server start incl. load (s) | baseline server start (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        sample = time_app(browser, app, "/Survival", {}, "dashboard_sample")
        print(f"dashboard on the default sample: first render {sample.first_render_s:.2f} s, "
              f"filter change {sample.median_s:.2f} s", flush=True)
        for n in sizes:
            path = str(make_dataset(n))
            dash = time_app(browser, app, "/Survival", {"IL2_DASHBOARD_DATA": path, "IL2_LOGIN": "none"},
                            f"dashboard_{n}")
            base = time_app(browser, ROOT / "bench" / "baseline_app.py", "/", {"IL2_BASELINE_DATA": path},
                            f"baseline_{n}")
            line = (f"| {n:,} | {dash.median_s:.2f} | {base.median_s:.2f} | {dash.median_s / base.median_s:.2f} | "
                    f"{dash.first_change_s:.2f} | {base.first_change_s:.2f} | "
                    f"{dash.first_render_s:.1f} | {base.first_render_s:.1f} | {dash.server_start_s:.1f} | "
                    f"{base.server_start_s:.1f} |")
            print(line, flush=True)
            lines.append(line)
        renders = first_render.measure(browser, [app], repeats)
        browser.close()
    loader = bench_loader.run([loader_rows], ["clean", "messy"], list(bench_loader.FORMATS), repeats) \
        if loader_rows else None
    lines[1:1] = ["", f"Default sample (107 patients): dashboard Survival page filter change {sample.median_s:.2f} s "
                      f"(median of {len(CHANGES)})."]
    lines += ["", f"First render, default sample (fresh server after warm-up, new browser session; median of "
                  f"{repeats}):", "", first_render.table(renders), ""]
    if loader is not None:
        lines += [f"Loader throughput (bench/bench_loader.py: load_cohort against pyarrow's read of the same file, "
                  f"median of {repeats}):", "", loader, ""]
    lines.append(f"Load average at end: {_load()}.")
    table = "\n".join(lines) + "\n"
    (RESULTS / "dashboard.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", help=f"cohort sizes (default {SIZES})")
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the dashboard's entry script")
    parser.add_argument("--repeats", type=int, default=3, help="fresh servers per first render (default 3)")
    parser.add_argument("--loader-rows", type=int, default=1_000_000,
                        help="rows of the loader throughput table (this checkout's il2lib; 0: skip it)")
    args = parser.parse_args(argv)
    print(run(tuple(args.sizes) or SIZES, args.app.resolve(), args.repeats, args.loader_rows))


if __name__ == "__main__":
    main()
