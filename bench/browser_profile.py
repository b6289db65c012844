"""Where the browser's main-thread time goes: Chrome traces of the Survival page in headless Debian chromium.

Two scenarios, each traced through Playwright's CDP session (``Tracing.start`` with the devtools.timeline
categories and the V8 sampling profiler, ``disabled-by-default-v8.cpu_profiler``):

* ``change``: the six sidebar filter changes of bench/bench_dashboard.py on the Survival page of an
  ``--n``-patient server file (default 1e3), and the same six on ``bench/baseline_app.py``; reported per change.
* ``first``: the first render of the Survival page (default sample; warm server, new browser context, so a cold
  browser cache) and of ``bench/minimal_app.py``.

For each trace, the renderer main thread (the ``CrRendererMain`` with the most work) is broken down into:

* top-level task time (``RunTask``: wall and thread CPU);
* self time per trace-event kind, grouped as script / style / layout / paint+composite / parse / GC / other;
* JS samples by chunk (self time) and the heaviest functions (self time, chunk:line);
* inclusive sample time by owner: plotly (a PlotlyChart chunk frame on the stack), React and Streamlit (react-dom
  or Streamlit's index chunk, no plotly frame), the page's polling by this script (``evaluate``), other;
* DOM nodes in the sidebar, the main area and the plotly SVGs, and Streamlit's element counts;
* first render only: the JS chunks fetched (count, bytes) and their compile / evaluate time on the main thread
  and parse time on background threads.

Usage::

    .venv/bin/python bench/browser_profile.py                      # both scenarios, this checkout's app.py
    .venv/bin/python bench/browser_profile.py change --n 100000
    .venv/bin/python bench/browser_profile.py first --app /tmp/old/app.py
    .venv/bin/python bench/browser_profile.py change --query 'km_risk=false'   # extra Survival URL parameters

Writes the Markdown report to stdout and ``bench/results/browser_profile.md`` and the raw traces to
``bench/results/trace_<scenario>_<app>.json`` (git-ignored; they open in chrome://tracing or DevTools).
The polling of the page state (every 100 ms) runs on the main thread too; it is reported apart.
No test asserts a time: this is a measurement.
"""
from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dashboard import CHANGES, _combobox, _state  # noqa: E402
from datasets import make_dataset  # noqa: E402
from first_render import _IDLE_JS, _PLOTLY_DRAWN  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM_ARGS, StreamlitServer, chromium_executable  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8.execute", "v8",
              "blink.user_timing", "loading", "disabled-by-default-v8.cpu_profiler", "devtools.timeline.frame"]
#: trace-event name -> group (self time); names not listed fall under "other"
GROUPS = {
    "script": ("FunctionCall", "EvaluateScript", "v8.evaluateModule", "v8.run", "v8.callFunction", "TimerFire",
               "FireAnimationFrame", "EventDispatch", "RunMicrotasks", "V8.Execute", "v8.compile",
               "v8.compileModule", "V8.CompileCode", "V8.CompileLazy", "v8.produceCache", "v8.produceModuleCache",
               "CacheScript", "ResolveModule", "XHRReadyStateChange", "XHRLoad", "HandlePostMessage",
               "V8.DeoptimizeCode", "V8.OptimizeCode", "v8.newInstance", "v8.deserializeOnBackground",
               "V8.HandleInterrupts", "V8.StackGuard", "V8.Execute"),
    "style": ("UpdateLayoutTree", "RecalculateStyles", "ParseAuthorStyleSheet", "ScheduleStyleRecalculation",
              "InvalidateLayout", "StyleInvalidatorInvalidationTracking"),
    "layout": ("Layout", "UpdateLayout", "IntersectionObserverController::computeIntersections",
               "ResizeObserverController::computeIntersections", "ComputeIntersections"),
    "paint+composite": ("Paint", "PrePaint", "Layerize", "UpdateLayer", "UpdateLayerTree", "CompositeLayers",
                        "Commit", "PaintImage", "Decode Image", "ImageDecodeTask", "PaintSetup",
                        "LocalFrameView::RunPostLifecycleSteps", "UpdateLifecycle"),
    "parse": ("ParseHTML", "ParseAuthorStyleSheet"),
    "GC": ("MinorGC", "MajorGC", "V8.GC_SCAVENGER", "V8.GCScavenger", "V8.GCCompactor", "V8.GCFinalizeMC",
           "V8.GCIncrementalMarking", "V8.GC_MC_BACKGROUND", "BlinkGC.AtomicPhase", "CppGC.AtomicMark",
           "V8.GCFinalizeMCReduceMemory", "MinorMS", "V8.GC_MARK_COMPACTOR", "BlinkGC.IncrementalMarkingStep",
           "V8.GC_MC_INCREMENTAL", "CppGC.IncrementalMark", "V8.GC_SCAVENGER_SCAVENGE"),
}
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}
TOPLEVEL = ("ThreadControllerImpl::RunTask", "RunTask")
JS_ROWS = 20  # largest JS files listed
RENDER_MS = 5.0  # a task with this much React/Streamlit JS counts as a render slice (React yields every ~5 ms)

_COUNTS_JS = """() => {
  const q = (s) => document.querySelectorAll(s).length;
  return {sidebar_nodes: q('[data-testid="stSidebar"] *'), main_nodes: q('[data-testid="stMain"] *'),
          plotly_svg_nodes: q('.js-plotly-plot svg *'), plotly_charts: q('.js-plotly-plot'),
          sidebar_elements: q('[data-testid="stSidebar"] [data-testid="stElementContainer"]'),
          main_elements: q('[data-testid="stMain"] [data-testid="stElementContainer"]'),
          all_nodes: q('*')};
}"""


# --- tracing -----------------------------------------------------------------------------------------------------

class Trace:
    """A CDP tracing session on ``page`` (browser-wide: every renderer is recorded)."""

    def __init__(self, page):
        self.page, self.events, self.done = page, [], False
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.on("Tracing.dataCollected", lambda params: self.events.extend(params["value"]))
        self.cdp.on("Tracing.tracingComplete", lambda params: setattr(self, "done", True))

    def start(self) -> None:
        self.cdp.send("Tracing.start", {"traceConfig": {"includedCategories": CATEGORIES,
                                                        "recordMode": "recordAsMuchAsPossible"},
                                        "transferMode": "ReportEvents"})

    def stop(self) -> list[dict]:
        self.cdp.send("Tracing.end")
        deadline = time.monotonic() + 60
        while not self.done and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        return self.events


def wait_until(page, js: str, before: dict | None = None, timeout_s: float = 300.0) -> None:
    """Poll (every 100 ms) until idle with the content drawn (changed from ``before``), still so 150 ms later."""
    deadline, since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if before is None:
            ok = page.evaluate(_IDLE_JS) and page.evaluate(js)
        else:
            s = _state(page)
            ok = s["idle"] and s["sig"] and s["n"] and s["sig"] != before["sig"] and s["n"] != before["n"]
        if ok:
            since = since or time.monotonic()
            if time.monotonic() - since >= 0.15:
                return
        else:
            since = None
        time.sleep(0.1)
    raise TimeoutError("page not drawn")


def trace_changes(browser, server_url: str, url_path: str) -> tuple[list[dict], dict, float]:
    """Trace the six filter changes; return the events, the DOM counts after them and the wall time."""
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(server_url + url_path)
    wait_until(page, _PLOTLY_DRAWN)
    page.wait_for_timeout(1000)
    trace = Trace(page)
    trace.start()
    start = time.monotonic()
    for label, value in CHANGES:
        before = _state(page)
        box = _combobox(page, label)
        box.click()
        if value is not None:
            option = page.get_by_role("option", name=value, exact=True).first
            option.wait_for()
            option.click()
        else:
            page.keyboard.press("Backspace")
        page.keyboard.press("Escape")
        wait_until(page, "", before)
    wall = time.monotonic() - start
    events = trace.stop()
    counts = page.evaluate(_COUNTS_JS)
    page.close()
    return events, counts, wall


def trace_first(browser, server_url: str, url_path: str) -> tuple[list[dict], dict, float, list]:
    """Trace a first render in a new context (cold cache); also the JS files fetched (url, bytes)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    scripts = []
    page.on("response", lambda r: scripts.append(r) if r.url.endswith(".js") else None)
    trace = Trace(page)
    trace.start()
    start = time.monotonic()
    page.goto(server_url + url_path)
    wait_until(page, _PLOTLY_DRAWN)
    wall = time.monotonic() - start
    events = trace.stop()
    counts = page.evaluate(_COUNTS_JS)
    files = []
    for r in scripts:
        try:
            files.append((r.url.rsplit("/", 1)[-1], len(r.body())))
        except Exception:  # noqa: BLE001 - a body no longer available
            files.append((r.url.rsplit("/", 1)[-1], 0))
    context.close()
    return events, counts, wall, files


# --- analysis ----------------------------------------------------------------------------------------------------

def _url(e: dict) -> str:
    data = (e.get("args") or {}).get("data")
    return data.get("url") or "" if isinstance(data, dict) else ""


def main_thread(events: list[dict], origin: str = "") -> tuple[int, int]:
    """(pid, tid) of the renderer main thread with the most top-level task time, among the renderers that ran a
    script from ``origin`` (not chromium's own pages)."""
    pages = {e["pid"] for e in events if origin and _url(e).startswith(origin)}
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
             and (not pages or e["pid"] in pages)}
    work = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("name") in TOPLEVEL and (e["pid"], e["tid"]) in mains:
            work[e["pid"], e["tid"]] += e.get("dur", 0)
    return work.most_common(1)[0][0]


def _complete_events(events: list[dict], pid: int, tid: int) -> list[tuple[float, float, float | None, dict]]:
    """(start, end, thread duration, event) of the thread's X and B/E events, in start order (microseconds)."""
    out, open_ = [], collections.defaultdict(list)
    for e in sorted((e for e in events if e["pid"] == pid and e["tid"] == tid and "ts" in e), key=lambda e: e["ts"]):
        ph = e.get("ph")
        if ph == "X":
            out.append((e["ts"], e["ts"] + e.get("dur", 0), e.get("tdur"), e))
        elif ph == "B":
            open_[e["name"]].append(e)
        elif ph == "E" and open_[e.get("name")]:
            b = open_[e["name"]].pop()
            tdur = e["tts"] - b["tts"] if "tts" in e and "tts" in b else None
            out.append((b["ts"], e["ts"], tdur, b))
    out.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    return out


def self_times(spans) -> collections.Counter:
    """Self wall time (ms) per event name: each span minus its children (spans nest on one thread)."""
    selfs, stack = collections.Counter(), []  # stack of [end, name, child_time, dur]

    def close(item):
        end, name, child, dur = item
        selfs[name] += max(dur - child, 0) / 1000
        if stack:
            stack[-1][2] += dur

    for start, end, _tdur, e in spans:
        while stack and stack[-1][0] <= start:
            close(stack.pop())
        stack.append([end, e["name"], 0.0, end - start])
    while stack:
        close(stack.pop())
    return selfs


def top_level(spans) -> tuple[float, float]:
    """(wall ms, thread CPU ms) of the top-level tasks."""
    wall = cpu = 0.0
    last_end = -1
    for start, end, tdur, e in spans:
        if e["name"] in TOPLEVEL and start >= last_end:
            wall += (end - start) / 1000
            cpu += (tdur or 0) / 1000
            last_end = end
    return wall, cpu


def samples(events: list[dict], pid: int, tid: int):
    """(stack of (function, file, line), weight ms, time µs) of the V8 CPU profile samples of that thread."""
    profiles = {e["id"]: e["args"]["data"].get("startTime", 0) for e in events
                if e.get("name") == "Profile" and e["pid"] == pid and e["tid"] == tid}
    nodes, out = {}, []
    chunks = sorted((e for e in events if e.get("name") == "ProfileChunk" and e["pid"] == pid
                     and e.get("id") in profiles), key=lambda e: e["ts"])
    now = dict(profiles)
    for chunk in chunks:
        data = chunk["args"]["data"]
        cpu = data.get("cpuProfile", {})
        for node in cpu.get("nodes", []):
            frame = node["callFrame"]
            nodes[node["id"]] = (frame.get("functionName") or "(anonymous)", frame.get("url", "").rsplit("/", 1)[-1],
                                 frame.get("lineNumber", -1) + 1, node.get("parent"))
        for sample, delta in zip(cpu.get("samples", []), data.get("timeDeltas", [])):
            now[chunk["id"]] += delta
            stack, node = [], sample
            while node in nodes:
                name, url, line, parent = nodes[node]
                stack.append((name, url, line))
                node = parent
            out.append((stack, max(delta, 0) / 1000, now[chunk["id"]]))
    return out


def react_renders(spans, sam) -> list[float]:
    """React/Streamlit JS (ms) of each top-level task holding at least :data:`RENDER_MS` of it. React's scheduler
    cuts one render into tasks of about 5 ms (its MessageChannel callback), so these are slices of renders: their
    sum is the render work, their count is not the number of renders."""
    tasks, last = [], -1
    for start, end, _tdur, e in spans:
        if e["name"] in TOPLEVEL and start >= last:
            tasks.append((start, end))
            last = end
    starts = [a for a, _ in tasks]
    per_task = collections.Counter()
    for stack, ms, ts in sam:
        i = bisect.bisect_right(starts, ts) - 1
        if i >= 0 and ts <= tasks[i][1] and owner(stack) == "React / Streamlit":
            per_task[i] += ms
    return [ms for ms in per_task.values() if ms >= RENDER_MS]


def owner(stack) -> str:
    files = {url for _name, url, _line in stack}
    names = {name for name, _url, _line in stack}
    if not stack or stack[0][0] in ("(idle)", "(root)"):
        return "idle"
    if stack[0][0] == "(garbage collector)":
        return "GC"
    if stack[0][0] == "(program)":
        return "native (program)"
    if any(f.startswith("PlotlyChart") for f in files):
        return "plotly"
    if any(f.startswith(("react-dom", "index.")) for f in files):
        return "React / Streamlit"
    if "" in files and ("evaluate" in names or len(files) == 1):
        return "page polling (this script)"
    return "other JS: " + ", ".join(sorted(f for f in files if f)[:3])


def compile_times(events: list[dict], pid: int, tid: int) -> dict[str, list[float]]:
    """Per script file: [main-thread compile ms, main-thread evaluate ms, background parse ms]."""
    out = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for e in events:
        if e.get("ph") != "X" or e["pid"] != pid:
            continue
        data = e.get("args", {}).get("data", {}) or {}
        url = (data.get("url") or e.get("args", {}).get("fileName") or "").rsplit("/", 1)[-1]
        if not url.endswith(".js"):
            continue
        ms = e.get("dur", 0) / 1000
        if e["tid"] == tid and e["name"] in ("v8.compile", "v8.compileModule", "V8.CompileCode"):
            out[url][0] += ms
        elif e["tid"] == tid and e["name"] in ("EvaluateScript", "v8.evaluateModule"):
            out[url][1] += ms
        elif e["tid"] != tid and e["name"] in ("v8.parseOnBackground", "v8.compileOnBackground",
                                               "V8.ParseOnBackground", "v8.deserializeOnBackground"):
            out[url][2] += ms
    return out


def analyse(title: str, events: list[dict], per: int, counts: dict, wall: float, files=None, origin: str = "") -> str:
    pid, tid = main_thread(events, origin)
    spans = _complete_events(events, pid, tid)
    task_wall, task_cpu = top_level(spans)
    selfs = self_times(spans)
    for name in TOPLEVEL:
        selfs.pop(name, None)
    start_profiler = selfs.pop("CpuProfiler::StartProfiling", 0.0)  # the tracing itself, once
    task_wall, task_cpu = task_wall - start_profiler, task_cpu - start_profiler
    groups = collections.Counter()
    for name, ms in selfs.items():
        groups[GROUP_OF.get(name, "other")] += ms
    sam = samples(events, pid, tid)
    by_owner, by_file, by_func = collections.Counter(), collections.Counter(), collections.Counter()
    for stack, ms, _ts in sam:
        by_owner[owner(stack)] += ms
        if stack and not stack[0][0].startswith("("):
            name, url, line = stack[0]
            by_file[url or "(inline)"] += ms
            by_func[f"{name} ({url}:{line})"] += ms
        elif stack:
            by_file[stack[0][0]] += ms
    renders = react_renders(spans, sam)
    by_owner.pop("idle", None)
    by_file.pop("(idle)", None)
    by_file.pop("(root)", None)
    d = f" per change (of {per})" if per > 1 else ""
    lines = [f"### {title}", "",
             f"Wall time traced: {wall:.2f} s{' in all' if per > 1 else ''}. Renderer main thread{d}: top-level tasks "
             f"{task_wall / per:.0f} ms wall, {task_cpu / per:.0f} ms thread CPU. "
             f"DOM: {counts['sidebar_nodes']} sidebar nodes ({counts['sidebar_elements']} elements), "
             f"{counts['main_nodes']} main-area nodes ({counts['main_elements']} elements), "
             f"{counts['plotly_svg_nodes']} plotly SVG nodes in {counts['plotly_charts']} chart(s); "
             f"{counts['all_nodes']} in all. Tasks with >= {RENDER_MS:g} ms of React/Streamlit JS (render slices): "
             f"{len(renders) / per:.1f}{d}, {sum(renders) / max(len(renders), 1):.0f} ms of React/Streamlit JS each, "
             f"{sum(renders) / per:.0f} ms in all{d}.", "",
             "| main-thread self time by kind | ms" + d + " |", "|---|---:|"]
    lines += [f"| {g} | {ms / per:.1f} |" for g, ms in groups.most_common()]
    lines += ["", "| heaviest trace events (self) | ms |", "|---|---:|"]
    lines += [f"| {n} | {ms / per:.1f} |" for n, ms in selfs.most_common(12)]
    lines += ["", "| JS samples by owner (inclusive) | ms |", "|---|---:|"]
    lines += [f"| {o} | {ms / per:.1f} |" for o, ms in by_owner.most_common(8)]
    lines += ["", "| JS samples by chunk (self) | ms |", "|---|---:|"]
    lines += [f"| {f} | {ms / per:.1f} |" for f, ms in by_file.most_common(10)]
    lines += ["", "| heaviest functions (self) | ms |", "|---|---:|"]
    lines += [f"| `{f}` | {ms / per:.1f} |" for f, ms in by_func.most_common(15)]
    if files is not None:
        ct = compile_times(events, pid, tid)
        total = [sum(v[i] for v in ct.values()) for i in range(3)]
        lines += ["", f"JS files fetched: {len(files)}, {sum(b for _, b in files) / 1e6:.2f} MB. Main-thread compile "
                      f"{total[0]:.0f} ms, evaluate {total[1]:.0f} ms; background parse {total[2]:.0f} ms.", "",
                  "| JS file | kB | compile (ms) | evaluate (ms) | background parse (ms) |", "|---|---:|---:|---:|---:|"]
        for name, size in sorted(files, key=lambda f: -f[1])[:JS_ROWS]:
            c = ct.get(name, [0.0, 0.0, 0.0])
            lines.append(f"| {name} | {size / 1e3:.0f} | {c[0]:.1f} | {c[1]:.1f} | {c[2]:.1f} |")
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------------------------------

def _serve(app: Path, log: str, env: dict[str, str]) -> StreamlitServer:
    return StreamlitServer.start(app, RESULTS / f"{log}.log", timeout=300, env=env)


def run(scenarios: list[str], app: Path, n: int, query: str, baselines: bool = True) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = [f"Browser profile of {app} (load average at start {os.getloadavg()[0]:.2f}).", ""]
    q = f"?{query}" if query else ""
    tag = app.parent.name
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            if "change" in scenarios:
                data = str(make_dataset(n))
                apps = [("dashboard", app, "/Survival" + q, {"IL2_DASHBOARD_DATA": data, "IL2_LOGIN": "none"})]
                if baselines:
                    apps.append(("baseline", ROOT / "bench" / "baseline_app.py", "/", {"IL2_BASELINE_DATA": data}))
                for name, script, path, env in apps:
                    server = _serve(script, f"profile_change_{name}", env)
                    try:
                        events, counts, wall = trace_changes(browser, server.url, path)
                    finally:
                        server.stop()
                    (RESULTS / f"trace_change_{name}_{tag}.json").write_text(json.dumps(events))
                    out.append(analyse(f"Filter change, {name}, {n:,} patients", events, len(CHANGES), counts, wall,
                                       origin=server.url))
                    print(out[-1], flush=True)
            if "first" in scenarios:
                pages = [("Survival page", app, "/Survival" + q)]
                if baselines:
                    pages.append(("minimal page", ROOT / "bench" / "minimal_app.py", "/"))
                for name, script, path in pages:
                    server = _serve(script, f"profile_first_{name.split()[0]}", {})
                    try:
                        events, counts, wall, files = trace_first(browser, server.url, path)
                    finally:
                        server.stop()
                    (RESULTS / f"trace_first_{name.split()[0]}_{tag}.json").write_text(json.dumps(events))
                    out.append(analyse(f"First render, {name}", events, 1, counts, wall, files, origin=server.url))
                    print(out[-1], flush=True)
        finally:
            browser.close()
    report = "\n".join(out)
    (RESULTS / "browser_profile.md").write_text(report)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="change and/or first (default both)")
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the dashboard's entry script")
    parser.add_argument("--n", type=int, default=1_000, help="patients in the server file of 'change'")
    parser.add_argument("--query", default="", help="extra URL parameters of the Survival page")
    parser.add_argument("--no-baselines", action="store_true", help="trace the dashboard only")
    args = parser.parse_args(argv)
    run(args.scenarios or ["change", "first"], args.app.resolve(), args.n, args.query, not args.no_baselines)


if __name__ == "__main__":
    main()
