"""Bounded loopback load test of the dashboard (issue 9, item 6): ``make load-test``.

20 concurrent sessions (websocket clients speaking the browser's protocol, see ``st_client.py``;
2 cores cannot run 20 browsers) each upload their own synthetic cohort through the real upload
endpoint, then change the disease filter for a fixed number of rounds, on the Data page and on
the Survival page when it exists. Checked for every session and every step:

* zero errors: no exception element, no protocol or HTTP error, no timeout (a session's cohort has
  ``--patients`` + i patients, default 1000);
* isolation: the page shows this session's own counts (``n = X of Y patients``, exactly what
  ``il2lib.load_cohort`` + ``apply_filter`` give for its file), and no byte the session receives
  contains another session's patient-id prefix (each cohort has one excluded row, so a session's
  own ids do reach its page: the check is not vacuous); nor does the server log contain any id;
* memory: the server's RSS (``/proc/<pid>/status`` VmRSS, sampled every 0.1 s) before any session,
  after a warm-up session, at the peak, and after every session closed (the server keeps a
  closed session for ``server.disconnectedSessionTTL`` seconds; this run sets it to
  ``--session-ttl`` and waits that long plus a margin). ``--batches`` runs the sessions again
  with new cohorts: a flat second batch means freed memory is reused, not leaked. Per batch: RSS at
  its peak, right after close, after the TTL, and after the census below (expired sessions dropped,
  ``gc.collect()`` run), and the growth after the TTL over the level before the batch (after warm-up
  for batch 1; the goal is < 10% per batch). The whole RSS curve (1 s steps)
  goes to the JSON file;
* sessions left alive: the server runs through ``bench/load_server.py`` (``serve.py`` plus a census
  thread, no hook in the app) which, when signalled after each batch's TTL, runs ``gc.collect()`` and
  counts the live ``AppSession``, ``SessionState``, ``ScriptRunner`` and uploaded-file objects and the
  sessions Streamlit's runtime still lists, before and after its session store drops expired entries
  (it does so lazily). More of them than after the warm-up session, or a session still listed after
  the TTL, is a failure (exit 1). The warm-up level is one session: Streamlit's flush loop keeps the
  last session it flushed in a local variable until the next one;
* ``--hostile``: after the batches, the browsing sessions run once more while one extra session
  uploads hostile files over and over (a forged-dimension XLSX, a Parquet RLE bomb of 20M rows, a CSV
  with 10,000 columns, a header of 8,000 repeated names, a 3x5 Table 1 with rare ECOG levels for the
  exact test; built here by the ``hostile_*`` functions). Reported: the browsing sessions' step time
  median and p95 without (the last batch) and with the hostile session, what each hostile upload got
  back and how long it took, and whether the server stayed up. Browsing errors still fail the run;
  what the loader says about each hostile file is reported, not checked;
* ``--malloc-arena-max N`` sets ``MALLOC_ARENA_MAX`` for the bench server only (glibc's per-thread
  arenas keep freed memory mapped).

Prints a table and writes ``bench/results/load_test.json``. Exit status 1 on any error or
isolation failure. Wall-clock figures are reported, never asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import pandas as pd  # noqa: E402

import il2lib  # noqa: E402
from il2lib import schema  # noqa: E402
from il2lib.cohort import CohortFilter, apply_filter  # noqa: E402
from st_client import MAIN_PAGE, ProtocolError, StreamlitClient  # noqa: E402
from tests.e2e.server import StreamlitServer, free_port, server_command  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CENSUS = RESULTS / "load_test_census.jsonl"
#: Session objects that must all be gone once the sessions closed and the TTL passed.
SESSION_TYPES = ("AppSession", "SessionState", "ScriptRunner", "UploadedFile", "UploadedFileRec")
GROWTH_GOAL = 0.10
FILTER_CYCLE = (("melanoma",), ("rcc",), ())
SURVIVAL_PAGE = "Survival"


def session_prefix(i: int) -> str:
    return f"LT{i:02d}Q"


def cohort_csv(i: int, seed: int = 0, base: int = 1000) -> bytes:
    """Session i's cohort: ``base + i`` patients (``base // 4 + i`` with melanoma), ids ``LT<i>Q####``,
    plus one excluded row (unknown disease), so every session has its own distinct counts."""
    rng = random.Random(seed * 1000 + i)
    n, n_melanoma = base + i, base // 4 + i
    rows = []
    for k in range(n):
        start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 1500))
        died = rng.random() < 0.6
        rows.append({
            schema.PATIENT_ID: f"{session_prefix(i)}{k:04d}",
            schema.DISEASE: schema.MELANOMA if k < n_melanoma else schema.RCC,
            schema.AGE: str(rng.randint(25, 80)), schema.SEX: rng.choice("MF"),
            schema.PRIOR_LINES: str(rng.randint(0, 3)), schema.PRIOR_PD1: rng.choice(("yes", "no")),
            schema.DATE_IL2_START: start.isoformat(), schema.BOR: rng.choice(schema.BOR_LEVELS),
            schema.DIED: "yes" if died else "no",
            schema.DATE_DEATH: (start + dt.timedelta(days=rng.randint(30, 1500))).isoformat() if died else "",
            schema.DATE_LAST_FOLLOWUP: (start + dt.timedelta(days=rng.randint(30, 1500))).isoformat(),
        })
    rows.append({**rows[0], schema.PATIENT_ID: f"{session_prefix(i)}X999", schema.DISEASE: "lung"})
    return pd.DataFrame(rows).to_csv(index=False).encode()


def expected_counts(data: bytes) -> dict[tuple[str, ...], tuple[int, int]]:
    """The oracle: ``(n filtered, n analysed)`` per disease filter, from il2lib itself."""
    cohort = il2lib.load_cohort(data)
    total = len(cohort.data)
    return {f: (len(apply_filter(cohort.data, CohortFilter(disease=f))), total) for f in FILTER_CYCLE}


def hostile_xlsx_forged_dimension() -> bytes:
    """A 3-row sheet whose ``<dimension>`` claims the whole sheet (A1:XFD1048576)."""
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([schema.PATIENT_ID, schema.DISEASE])
    for k in range(3):
        sheet.append([f"HX{k}", schema.MELANOMA])
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', data)
            dst.writestr(item, data)
    return out.getvalue()


def hostile_parquet_rle_bomb(rows: int = 20_000_000) -> bytes:
    """``rows`` rows of one repeated value per column: about 0.35 MB of run-length encoded pages."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    zeros = pa.array(np.zeros(rows, dtype=np.int32))
    table = pa.table({name: pa.DictionaryArray.from_arrays(zeros, pa.array([value])) for name, value in (
        (schema.PATIENT_ID, "HB0001"), (schema.DISEASE, schema.MELANOMA), (schema.DIED, "no"),
        (schema.DATE_IL2_START, "2016-01-01"), (schema.DATE_LAST_FOLLOWUP, "2017-01-01"))})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", use_dictionary=True)
    return out.getvalue()


def hostile_csv_wide(columns: int = 10_000, rows: int = 5) -> bytes:
    header = ",".join(f"c{j}" for j in range(columns))
    return "\n".join([header] + [",".join(str(r) for _ in range(columns)) for r in range(rows)]).encode()


def hostile_csv_repeated_header(columns: int = 8_000, rows: int = 5) -> bytes:
    header = ",".join([schema.PATIENT_ID] * columns)
    return "\n".join([header] + [",".join(f"HR{r}" for _ in range(columns)) for r in range(rows)]).encode()


def hostile_table1_rare_ecog(n: int = 900, seed: int = 0) -> bytes:
    """A valid cohort whose Table 1 by source is 3 sources x ECOG 0-4, levels 3 and 4 rare:
    expected counts under 5, so the exact Fisher-Freeman-Halton test runs on a large total."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 1500))
        rows.append({
            schema.PATIENT_ID: f"HT{k:05d}", schema.DISEASE: rng.choice(schema.DISEASES),
            schema.SOURCE: ("site_a", "site_b", "site_c")[k % 3],
            schema.ECOG: str(rng.choices((0, 1, 2, 3, 4), weights=(50, 40, 8, 1.2, 0.8))[0]),
            schema.DATE_IL2_START: start.isoformat(), schema.DIED: "no", schema.BOR: rng.choice(schema.BOR_LEVELS),
            schema.PRIOR_PD1: rng.choice(("yes", "no")),
            schema.DATE_LAST_FOLLOWUP: (start + dt.timedelta(days=rng.randint(30, 1500))).isoformat(),
        })
    return pd.DataFrame(rows).to_csv(index=False).encode()


def hostile_files() -> list[tuple[str, bytes]]:
    return [("forged_dimension.xlsx", hostile_xlsx_forged_dimension()),
            ("table1_rare_ecog.csv", hostile_table1_rare_ecog()),
            ("rle_bomb_20M_rows.parquet", hostile_parquet_rle_bomb()),
            ("wide_10000_columns.csv", hostile_csv_wide()),
            ("repeated_header_8000.csv", hostile_csv_repeated_header())]


def _outcome(run) -> str:
    """A short account of what a page showed: exceptions, alerts, or the ``n = X of Y`` line."""
    shown = [f"exception {e}" for e in run.exceptions()]
    shown += [e.alert.body for k, e in run.elements if k == "alert"]
    try:
        shown.append("n = {} of {}".format(*run.n_summary()))
    except ProtocolError:
        pass
    return " | ".join(s.replace("\n", " ")[:160] for s in shown[:3]) or "(nothing to report)"


async def hostile_session(base_url: str, files: list[tuple[str, bytes]], done: asyncio.Event,
                          timeout: float) -> list[dict]:
    """Upload each hostile file in a fresh session, over and over until ``done``; the Table 1 file
    is also shown on the Cohort page grouped by source (the exact test)."""
    log: list[dict] = []
    while not done.is_set():
        for name, data in files:
            if done.is_set():
                break
            entry, started = {"file": name}, time.perf_counter()
            try:
                async with StreamlitClient(base_url, timeout=timeout) as client:
                    run = await client.run()
                    source = run.widget("radio", "data source")
                    client.set_string(source, next(o for o in source.options if "upload" in o.lower()))
                    run = await client.run()
                    await client.upload(run.widget("file_uploader", "patient file"), name, data)
                    run = await client.run()
                    entry["upload"] = _outcome(run)
                    if name.startswith("table1") and "Cohort" in client.pages:
                        run = await client.run(page="Cohort")
                        by = run.widget("selectbox", "group table 1 by")
                        client.set_string(by, next(o for o in by.options if "source" in o.lower()))
                        run = await client.run()
                        entry["table1_by_source"] = _outcome(run)
                        entry["table1_s"] = round(run.seconds, 2)
            except Exception as exc:  # report it; the point is how the others fare
                entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            entry["seconds"] = round(time.perf_counter() - started, 2)
            log.append(entry)
    return log


class RssSampler(threading.Thread):
    """Samples VmRSS (MB) of one process every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.samples = pid, interval, []
        self._stop = threading.Event()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.rss_mb()))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    def peak_between(self, t0: float, t1: float) -> float:
        return max(v for t, v in self.samples if t0 <= t <= t1)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class SessionReport:
    index: int
    steps: int = 0
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)


def _check(report: SessionReport, run, expected: tuple[int, int], others: list[bytes], step: str) -> None:
    report.steps += 1
    report.step_seconds.append(run.seconds)
    report.errors += [f"{step}: exception {e}" for e in run.exceptions()]
    try:
        shown = run.n_summary()
    except ProtocolError as exc:
        report.errors.append(f"{step}: {exc}")
        return
    if shown != expected:
        report.errors.append(f"{step}: page shows n = {shown[0]} of {shown[1]}, expected {expected[0]} of {expected[1]}")
    report.leaks += [f"{step}: saw {p.decode()}" for p in others if p in run.raw]


async def one_session(base_url: str, i: int, all_indices: list[int], rounds: int, data: bytes,
                      oracle: dict, start_gate: asyncio.Event) -> SessionReport:
    report = SessionReport(i)
    others = [session_prefix(j).encode() for j in all_indices if j != i]
    own = session_prefix(i).encode()
    await start_gate.wait()
    try:
        async with StreamlitClient(base_url) as client:
            run = await client.run()
            source = run.widget("radio", "data source")
            client.set_string(source, next(o for o in source.options if "upload" in o.lower()))
            run = await client.run()
            await client.upload(run.widget("file_uploader", "patient file"), f"cohort_{i:02d}.csv", data)
            run = await client.run()
            _check(report, run, oracle[()], others, "upload")
            if own not in run.raw:
                report.errors.append("upload: own patient ids never reached the page (isolation check vacuous)")
            pages = [MAIN_PAGE] + ([SURVIVAL_PAGE] if SURVIVAL_PAGE in client.pages else [])
            for r in range(rounds):
                choice = FILTER_CYCLE[r % len(FILTER_CYCLE)]
                page = pages[r % len(pages)]
                run = await client.run(page=page)
                disease = run.widget("multiselect", "^disease$")
                labels = [o for o in disease.options if schema.norm(o) in choice]
                client.set_strings(disease, labels)
                run = await client.run()
                _check(report, run, oracle[choice], others, f"round {r} {'Data' if page == MAIN_PAGE else page} {choice or 'all'}")
    except (ProtocolError, OSError, asyncio.TimeoutError, StopIteration) as exc:
        report.errors.append(f"protocol: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a websocket closed by the server, an HTTP error: count it, keep the others going
        report.errors.append(f"unexpected: {type(exc).__name__}: {exc}")
    return report


async def run_sessions(base_url: str, indices: list[int], rounds: int, seed: int, patients: int,
                       also_forbidden: tuple[int, ...] = (), hostile: list[tuple[str, bytes]] | None = None,
                       hostile_log: list[dict] | None = None) -> list[SessionReport]:
    """Run sessions ``indices`` at once; each must see nothing of the others nor of ``also_forbidden``.
    With ``hostile`` files, one more session uploads them until the others are done (into ``hostile_log``)."""
    files = {i: cohort_csv(i, seed, patients) for i in indices}
    oracles = {i: expected_counts(f) for i, f in files.items()}
    everyone = list(indices) + list(also_forbidden)
    gate, done = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(one_session(base_url, i, everyone, rounds, files[i], oracles[i], gate))
             for i in indices]
    attacker = asyncio.create_task(hostile_session(base_url, hostile, done, 600.0)) if hostile else None
    gate.set()
    reports = list(await asyncio.gather(*tasks))
    done.set()
    if attacker is not None:
        hostile_log.extend(await attacker)
    return reports


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def start_server(env: dict[str, str]) -> StreamlitServer:
    """``serve.py`` as ``make run`` starts it, through the census wrapper ``bench/load_server.py``."""
    app, port = ROOT / "app.py", free_port()
    command = server_command(app, port)
    command[1] = str(ROOT / "bench" / "load_server.py")
    log_path = RESULTS / "load_test_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
    server = StreamlitServer(app=app, port=port, process=process, log_path=log_path)
    try:
        server.wait_healthy(120.0)
    except Exception:
        server.stop()
        raise
    return server


def take_census(pid: int, timeout: float = 30.0) -> dict:
    """Signal the server for a full census (after ``gc.collect()``) and return its line."""
    seen = len(CENSUS.read_text().splitlines()) if CENSUS.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = CENSUS.read_text().splitlines()[seen:] if CENSUS.exists() else []
        for line in lines:
            entry = json.loads(line)
            if entry.get("full") or "error" in entry:
                return entry
        time.sleep(0.2)
    return {"error": "no census line within 30 s"}


def _alive_sessions(census: dict) -> int:
    """AppSession objects alive after a full collection and the store's reaping; -1 when the census failed."""
    return census["alive_after_reap"]["AppSession"] if "alive_after_reap" in census else -1


def _leaked(census: dict, baseline: dict) -> list[str]:
    """Session objects alive beyond the post-warm-up census, or sessions still listed after the TTL.
    The baseline is not zero: Streamlit's message-flush loop (``Runtime._loop_coroutine``) keeps the
    last session it flushed in a local variable until it flushes another one: one session at most."""
    if "alive_after_reap" not in census or "alive_after_reap" not in baseline:
        return [f"census failed: {census.get('error') or baseline.get('error')}"]
    out = [f"{t}: {census['alive_after_reap'][t]} alive, {baseline['alive_after_reap'][t]} after warm-up"
           for t in SESSION_TYPES if census["alive_after_reap"][t] > baseline["alive_after_reap"][t]]
    if census["after_reap"]["listed_sessions"]:
        out.append(f"{census['after_reap']['listed_sessions']} sessions still listed after the TTL")
    return out


def _held_sessions(census: dict) -> int:
    """AppSession objects alive before the session store reaped its expired entries."""
    return census.get("alive", {}).get("AppSession", -1)


def _batch(server_url: str, sampler: RssSampler, args: argparse.Namespace, indices: list[int],
           forbidden: tuple[int, ...], settle: float, pid: int, hostile: list | None = None,
           hostile_log: list | None = None) -> tuple[list[SessionReport], dict]:
    """One batch of concurrent sessions; RSS at its peak, right after close and after the session TTL,
    then the server's census of what is still alive."""
    t0, wall = time.monotonic(), time.perf_counter()
    reports = asyncio.run(run_sessions(server_url, indices, args.rounds, args.seed, args.patients, forbidden,
                                       hostile, hostile_log))
    wall, t1 = time.perf_counter() - wall, time.monotonic()
    rss = {"peak": sampler.peak_between(t0, t1), "right_after_close": sampler.rss_mb()}
    time.sleep(settle)
    rss["after_ttl"] = sampler.rss_mb()
    census = take_census(pid)
    rss["after_reap"] = sampler.rss_mb()  # the store dropped expired sessions, gc.collect() ran
    steps = [s for r in reports for s in r.step_seconds]
    return reports, {"wall_s": round(wall, 1), **{k: round(v, 1) for k, v in rss.items()},
                     "step_s_median": round(statistics.median(steps), 2) if steps else None,
                     "step_s_p95": round(_percentile(steps, 0.95), 2) if steps else None,
                     "alive_after_close": _alive_sessions(census), "held_before_reap": _held_sessions(census),
                     "census": census}


def rss_curve(sampler: RssSampler, t_zero: float, step: float = 1.0) -> list[tuple[float, float]]:
    """The RSS samples thinned to one per ``step`` seconds: ``(seconds since start, MB)``."""
    curve, next_t = [], t_zero
    for t, v in sampler.samples:
        if t >= next_t:
            curve.append((round(t - t_zero, 1), round(v, 1)))
            next_t = t + step
    return curve


def measure(args: argparse.Namespace) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    CENSUS.unlink(missing_ok=True)
    env = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(args.session_ttl), "IL2_BENCH_CENSUS": str(CENSUS)}
    if args.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
    hostile = hostile_files() if args.hostile else None
    server = start_server(env)
    pid = server.process.pid
    sampler = RssSampler(pid)
    t_zero = time.monotonic()
    sampler.start()
    settle = args.session_ttl + args.settle
    n = args.sessions
    total_batches = args.batches + (1 if hostile else 0)
    warm_index = n * total_batches  # its own id prefix, forbidden to every measured session
    everyone = tuple(range(n * total_batches + 1))
    reports, batches, hostile_log, hostile_batch, hostile_reports = [], [], [], None, []
    try:
        time.sleep(1.0)
        rss_start = sampler.rss_mb()
        warm = asyncio.run(run_sessions(server.url, [warm_index], args.rounds, args.seed, args.patients))
        time.sleep(settle)
        rss_warm = sampler.rss_mb()
        census_warm = take_census(pid)
        before = rss_warm
        for b in range(total_batches):
            indices = list(range(b * n, (b + 1) * n))
            with_hostile = hostile is not None and b == args.batches
            batch_reports, batch = _batch(server.url, sampler, args, indices,
                                          tuple(i for i in everyone if i not in indices), settle, pid,
                                          hostile if with_hostile else None, hostile_log)
            batch["growth"] = round(batch["after_ttl"] / before - 1, 3)
            batch["leaked"] = _leaked(batch["census"], census_warm)
            before = batch["after_ttl"]
            if with_hostile:
                hostile_batch, hostile_reports = batch, batch_reports
            else:
                reports += batch_reports
                batches.append(batch)
        server_up = server.process.poll() is None
    finally:
        sampler.stop()
        server.stop()
    steps = [s for r in reports for s in r.step_seconds]
    first = batches[0]
    log = server.log_path.read_text(errors="replace")
    logged = [f"server log: {session_prefix(i)}" for i in everyone if session_prefix(i) in log]
    result = {
        "sessions": n, "batches": args.batches, "rounds": args.rounds, "patients_per_cohort": args.patients,
        "upload_bytes_per_session": len(cohort_csv(0, args.seed, args.patients)), "session_ttl_s": args.session_ttl,
        "malloc_arena_max": args.malloc_arena_max or None,
        "warmup_errors": [e for r in warm for e in r.errors],
        "steps": sum(r.steps for r in reports), "errors": [e for r in reports + hostile_reports for e in r.errors],
        "leaks": [e for r in reports + hostile_reports for e in r.leaks] + logged, "wall_s": first["wall_s"],
        "step_s_median": round(statistics.median(steps), 2) if steps else None,
        "step_s_p95": round(_percentile(steps, 0.95), 2) if steps else None,
        "rss_mb": {"start": round(rss_start, 1), "after_warmup": round(rss_warm, 1), "peak": first["peak"],
                   "right_after_close": first["right_after_close"], "after_ttl": first["after_ttl"]},
        "rss_mb_per_batch": batches,
        "growth_goal": GROWTH_GOAL,
        "growth_within_goal": all(b["growth"] < GROWTH_GOAL for b in batches),
        "alive_after_close": [b["alive_after_close"] for b in batches],
        "alive_after_warmup": _alive_sessions(census_warm),
        "session_leaks": [f"batch {k + 1}: {e}" for k, b in enumerate(batches + ([hostile_batch] if hostile_batch else []))
                          for e in b["leaked"]],
        "app_sessions_held_before_reap": [b["held_before_reap"] for b in batches],
        "census_after_warmup": census_warm,
        "peak_per_session_mb": round((first["peak"] - rss_warm) / n, 1),
        "retained_mb": round(first["after_ttl"] - rss_warm, 1),
        "retained_share_of_peak_growth": round((first["after_ttl"] - rss_warm) / max(first["peak"] - rss_warm, 1e-9), 3),
        "rss_curve_mb": rss_curve(sampler, t_zero),
    }
    if hostile is not None:
        last = batches[-1]
        result["hostile"] = {
            "files": {name: len(data) for name, data in hostile},
            "without": {"step_s_median": last["step_s_median"], "step_s_p95": last["step_s_p95"]},
            "with": {"step_s_median": hostile_batch["step_s_median"], "step_s_p95": hostile_batch["step_s_p95"]},
            "batch": hostile_batch, "uploads": hostile_log, "server_stayed_up": server_up,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6, help="filter changes per session")
    parser.add_argument("--session-ttl", type=int, default=5, help="server.disconnectedSessionTTL for this run (s)")
    parser.add_argument("--settle", type=float, default=10.0, help="extra wait after the TTL before sampling (s)")
    parser.add_argument("--patients", type=int, default=1000, help="cohort size of session 0 (session i: +i)")
    parser.add_argument("--batches", type=int, default=2,
                        help="run the sessions this many times in a row (is memory reused or does it grow?)")
    parser.add_argument("--hostile", action="store_true",
                        help="then run the sessions once more next to one session uploading hostile files")
    parser.add_argument("--malloc-arena-max", type=int, default=0,
                        help="MALLOC_ARENA_MAX for the bench server (0: glibc's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args)
    (RESULTS / "load_test.json").write_text(json.dumps(result, indent=2))
    rss = result["rss_mb"]
    print(f"{result['batches']} batches of {result['sessions']} sessions x {result['rounds']} rounds, cohorts of {result['patients_per_cohort']}+i "
          f"patients ({result['upload_bytes_per_session'] / 1e3:.0f} kB uploads): {result['steps']} checked steps "
          f"(batch 1 took {result['wall_s']} s; step median {result['step_s_median']} s, p95 {result['step_s_p95']} s)"
          + (f"; MALLOC_ARENA_MAX={result['malloc_arena_max']}" if result["malloc_arena_max"] else ""))
    print(f"errors: {len(result['errors'])}   isolation leaks: {len(result['leaks'])}   "
          f"warm-up errors: {len(result['warmup_errors'])}")
    print("server RSS (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()))
    print(f"peak growth per session: {result['peak_per_session_mb']} MB; retained after close: "
          f"{result['retained_mb']} MB ({100 * result['retained_share_of_peak_growth']:.0f}% of the peak growth)")
    print(f"{'batch':<8}{'peak':>8}{'closed':>8}{'+TTL':>8}{'reaped':>8}{'growth':>8}{'held':>6}{'alive':>7}{'median':>8}{'p95':>7}  (MB, s)")
    rows = [(str(b + 1), batch) for b, batch in enumerate(result["rss_mb_per_batch"])]
    rows += [("hostile", result["hostile"]["batch"])] if "hostile" in result else []
    for name, batch in rows:
        print(f"{name:<8}{batch['peak']:>8}{batch['right_after_close']:>8}{batch['after_ttl']:>8}{batch.get('after_reap', '-'):>8}"
              f"{100 * batch['growth']:>7.1f}%{batch['held_before_reap']:>6}{batch['alive_after_close']:>7}{batch['step_s_median']:>8}{batch['step_s_p95']:>7}")
    print(f"growth per batch < {100 * GROWTH_GOAL:.0f}%: {'yes' if result['growth_within_goal'] else 'NO'}; "
          f"AppSessions alive after close: {result['alive_after_close']} per batch (after warm-up: "
          f"{result['alive_after_warmup']}; before the session store reaped expired ones: "
          f"{result['app_sessions_held_before_reap']}); session objects beyond the warm-up level: "
          f"{len(result['session_leaks'])}")
    if "hostile" in result:
        h = result["hostile"]
        print(f"browsing step time without hostile: median {h['without']['step_s_median']} s, p95 {h['without']['step_s_p95']} s;"
              f" with: median {h['with']['step_s_median']} s, p95 {h['with']['step_s_p95']} s;"
              f" server stayed up: {'yes' if h['server_stayed_up'] else 'NO'}")
        for entry in h["uploads"]:
            print(f"  hostile {entry['file']}: {entry['seconds']} s: "
                  + "; ".join(f"{k} {entry[k]}" for k in ("upload", "table1_by_source", "table1_s", "error") if k in entry))
    for line in (result["warmup_errors"] + result["errors"] + result["leaks"] + result["session_leaks"])[:20]:
        print("  ", line)
    alive = bool(result["session_leaks"])
    stayed_up = result.get("hostile", {}).get("server_stayed_up", True)
    return 1 if result["errors"] or result["leaks"] or result["warmup_errors"] or alive or not stayed_up else 0


if __name__ == "__main__":
    sys.exit(main())
