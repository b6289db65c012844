"""Bounded loopback load test of the dashboard: ``make load-test``.

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
  after a warm-up session (one session doing exactly what a batch session does: same code path,
  same rounds and pages), at the peak, and after every session closed (the server keeps a
  closed session for ``server.disconnectedSessionTTL`` seconds; this run sets it to
  ``--session-ttl`` and waits that long plus a margin). ``--batches`` runs the sessions again
  with new cohorts: a flat second batch means freed memory is reused, not leaked. Per batch: RSS at
  its peak, right after close, after the TTL, and after the census below (expired sessions dropped,
  ``gc.collect()`` run); the growth after the TTL over the level before the batch (after warm-up
  for batch 1; the goal is < 10% per batch) and over the level after the warm-up; and where the
  memory is (the census's breakdown): ``live`` (what glibc, Python's allocator and Arrow's pool hand
  out to live objects) and ``kept`` (what they keep mapped after it was freed), plus the object types
  that grew since the warm-up. The whole RSS curve (1 s steps) goes to the JSON file;
* sessions left alive: the server runs through ``bench/load_server.py`` (``serve.py`` plus a census
  thread, no hook in the app) which, when signalled after each batch's TTL, runs ``gc.collect()`` and
  counts the live ``AppSession``, ``SessionState``, ``ScriptRunner`` and upload objects (Streamlit's
  ``UploadedFile`` and its record, the app's copy) and the sessions Streamlit's runtime still lists,
  before and after its session store drops expired entries (it does so lazily). A failure (exit 1):
  more sessions than after the warm-up session, an upload alive outside the sessions still alive, or
  a session still listed after the TTL. The warm-up level is one session: Streamlit's flush loop
  (``Runtime._loop_coroutine``, streamlit/runtime/runtime.py) keeps the last session it flushed in a
  local variable until it flushes another one, with what that session holds;
* ``--hostile``: after the batches, the browsing sessions run once more while one extra session
  uploads hostile files in turn, over and over (a forged-dimension XLSX, a Parquet RLE bomb of 20M rows,
  a CSV with 10,000 columns, a header of 8,000 repeated names, a 3x5 Table 1 with rare ECOG levels for
  the exact test; built here by the ``hostile_*`` functions); the browsing sessions keep going until
  every file had its turn. Reported: the browsing sessions' step time median and p95 without (the
  last batch) and with the hostile session (the goal: p95 within 20%), per file whether the app
  refused or loaded it and how long it took, the longest GIL wait the server's probe saw meanwhile
  (and, for waits over 0.25 s, the frames of the busy threads), the same file through the loader
  alone in this process with a GIL probe, and whether the server stayed up. Browsing errors still fail
  the run; what the loader says about each hostile file is reported, not checked;
* ``--malloc-arena-max N`` sets ``MALLOC_ARENA_MAX`` for the bench server only (glibc's per-thread
  arenas keep freed memory mapped).

Prints the step time per kind of step (the uploads, each page's filter changes), a table, and writes ``bench/results/load_test.json`` (``load_test_hostile.json`` with
``--hostile``). Exit status 1 on any error, isolation failure or session object left alive. Wall-clock
figures, the RSS growth and the hostile p95 are reported against their goals, never asserted.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import pandas as pd  # noqa: E402
from st_client import MAIN_PAGE, ProtocolError, StreamlitClient  # noqa: E402

import il2lib  # noqa: E402
from il2lib import schema  # noqa: E402
from il2lib.cohort import CohortFilter, apply_filter  # noqa: E402
from tests.e2e.server import StreamlitServer, free_port, server_command  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CENSUS = RESULTS / "load_test_census.jsonl"
#: Session objects: no more of them alive once the sessions closed and the TTL passed than after the warm-up.
SESSION_TYPES = ("AppSession", "SessionState", "ScriptRunner")
#: A session's uploads (Streamlit's file, its record in the upload store, the app's copy): none of them may
#: be alive outside the sessions the runtime no longer lists (see ``load_server._outside``).
UPLOAD_TYPES = ("UploadedFile", "UploadedFileRec", "app UploadedFile")
GROWTH_GOAL = 0.10
HOSTILE_P95_GOAL = 0.20  # the browsing sessions' p95 step time next to the hostile uploads, over without
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


def _verdict(run) -> str:
    """What the app did with a file: ``exception`` (a traceback on the page), ``refused`` (an error
    message: the loader's refusal), ``loaded`` (the page counts its patients) or ``nothing``."""
    from streamlit.proto.Alert_pb2 import Alert

    if run.exceptions():
        return "exception"
    if any(k == "alert" and e.alert.format == Alert.ERROR for k, e in run.elements):
        return "refused"
    try:
        run.n_summary()
        return "loaded"
    except ProtocolError:
        return "nothing"


async def hostile_session(base_url: str, files: list[tuple[str, bytes]], done: asyncio.Event,
                          passed: asyncio.Event, timeout: float) -> list[dict]:
    """Upload each hostile file in a fresh session, in turn, over and over until ``done``; the first
    pass always ends, and sets ``passed`` (the browsing sessions keep going until then, so every file is
    uploaded while they run). The Table 1 file is also shown on the Cohort page grouped by source (the
    exact test). Per upload: ``verdict`` (see :func:`_verdict`), what the page showed, ``answer_s`` (the
    run that read the file, as the server answered it), ``seconds`` (connect to last answer) and its
    wall-clock window (``start_unix``, ``end_unix``)."""
    log: list[dict] = []
    turn = 0
    while not (done.is_set() and passed.is_set()):
        turn += 1
        for name, data in files:
            if done.is_set() and passed.is_set():
                break
            entry, started = {"file": name, "pass": turn, "start_unix": time.time()}, time.perf_counter()
            try:
                async with StreamlitClient(base_url, timeout=timeout) as client:
                    run = await client.upload_patient_file(name, data)
                    entry.update(verdict=_verdict(run), answer_s=round(run.seconds, 2), shown=_outcome(run))
                    if name.startswith("table1") and "Cohort" in client.pages:
                        run = await client.run(page="Cohort")
                        by = run.widget("selectbox", "group table 1 by")
                        client.set_string(by, next(o for o in by.options if "source" in o.lower()))
                        run = await client.run()
                        entry["table1_by_source"] = _outcome(run)
                        entry["table1_s"] = round(run.seconds, 2)
            except Exception as exc:  # report it; the point is how the others fare
                entry.update(verdict="error", error=f"{type(exc).__name__}: {exc}"[:300])
            entry["seconds"] = round(time.perf_counter() - started, 2)
            entry["end_unix"] = time.time()
            log.append(entry)
        passed.set()
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
    step_kinds: list[str] = field(default_factory=list)  # "upload", or the page of a filter change ("Data", ...)


def _check(report: SessionReport, run, expected: tuple[int, int], others: list[bytes], step: str) -> None:
    report.steps += 1
    report.step_seconds.append(run.seconds)
    report.step_kinds.append("upload" if step == "upload" else f"filter change, {step.split()[2]}")
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
                      oracle: dict, start_gate: asyncio.Event, until: asyncio.Event | None = None) -> SessionReport:
    """Upload session i's cohort, then ``rounds`` filter changes (more, until ``until`` is set, if given)."""
    report = SessionReport(i)
    others = [session_prefix(j).encode() for j in all_indices if j != i]
    own = session_prefix(i).encode()
    await start_gate.wait()
    try:
        async with StreamlitClient(base_url) as client:
            run = await client.upload_patient_file(f"cohort_{i:02d}.csv", data)
            _check(report, run, oracle[()], others, "upload")
            if own not in run.raw:
                report.errors.append("upload: own patient ids never reached the page (isolation check vacuous)")
            pages = [MAIN_PAGE] + ([SURVIVAL_PAGE] if SURVIVAL_PAGE in client.pages else [])
            r = 0
            while r < rounds or (until is not None and not until.is_set()):
                choice = FILTER_CYCLE[r % len(FILTER_CYCLE)]
                page = pages[r % len(pages)]
                run = await client.run(page=page)
                disease = run.widget("multiselect", "^disease$")
                labels = [o for o in disease.options if schema.norm(o) in choice]
                client.set_strings(disease, labels)
                run = await client.run()
                _check(report, run, oracle[choice], others, f"round {r} {'Data' if page == MAIN_PAGE else page} {choice or 'all'}")
                r += 1
    except (ProtocolError, OSError, asyncio.TimeoutError, StopIteration) as exc:
        report.errors.append(f"protocol: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a websocket closed by the server, an HTTP error: count it, keep the others going
        report.errors.append(f"unexpected: {type(exc).__name__}: {exc}")
    return report


async def run_sessions(base_url: str, indices: list[int], rounds: int, seed: int, patients: int,
                       also_forbidden: tuple[int, ...] = (), hostile: list[tuple[str, bytes]] | None = None,
                       hostile_log: list[dict] | None = None) -> list[SessionReport]:
    """Run sessions ``indices`` at once; each must see nothing of the others nor of ``also_forbidden``.
    With ``hostile`` files, one more session uploads them (into ``hostile_log``) while the others run,
    and the others keep browsing until every hostile file had its turn."""
    files = {i: cohort_csv(i, seed, patients) for i in indices}
    oracles = {i: expected_counts(f) for i, f in files.items()}
    everyone = list(indices) + list(also_forbidden)
    gate, done, passed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(one_session(base_url, i, everyone, rounds, files[i], oracles[i], gate,
                                             passed if hostile else None))
             for i in indices]
    attacker = asyncio.create_task(hostile_session(base_url, hostile, done, passed, 600.0)) if hostile else None
    if attacker is not None:
        attacker.add_done_callback(lambda _: passed.set())  # never wait on an attacker that died
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process ``pid`` has used, every thread (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """Session objects alive beyond the post-warm-up census, an upload alive outside the sessions still
    alive, or sessions still listed after the TTL. The baseline is not zero: Streamlit's message-flush
    loop (``Runtime._loop_coroutine`` in streamlit/runtime/runtime.py) keeps the last session it flushed
    in a local variable until it flushes another one: one session at most, with whatever that session
    holds (its upload when its last page drew the file uploader)."""
    if "alive_after_reap" not in census or "alive_after_reap" not in baseline:
        return [f"census failed: {census.get('error') or baseline.get('error')}"]
    out = [f"{t}: {census['alive_after_reap'][t]} alive, {baseline['alive_after_reap'][t]} after warm-up"
           for t in SESSION_TYPES if census["alive_after_reap"][t] > baseline["alive_after_reap"][t]]
    outside = census.get("alive_outside_unlisted_sessions", {})
    if "error" in outside or not outside:
        out.append(f"census of uploads failed: {outside.get('error', 'missing')}")
    else:
        out += [f"{t}: {outside[t]} alive outside the sessions still alive" for t in UPLOAD_TYPES if outside[t] > 0]
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
    t0, wall, start_unix = time.monotonic(), time.perf_counter(), time.time()
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    reports = asyncio.run(run_sessions(server_url, indices, args.rounds, args.seed, args.patients, forbidden,
                                       hostile, hostile_log))
    wall, t1, end_unix = time.perf_counter() - wall, time.monotonic(), time.time()
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    rss = {"peak": sampler.peak_between(t0, t1), "right_after_close": sampler.rss_mb()}
    time.sleep(settle)
    rss["after_ttl"] = sampler.rss_mb()
    census = take_census(pid)
    rss["after_reap"] = sampler.rss_mb()  # the store dropped expired sessions, gc.collect() ran
    steps = [s for r in reports for s in r.step_seconds]
    return reports, {"wall_s": round(wall, 1), "start_unix": start_unix, "end_unix": end_unix,
                     **{k: round(v, 1) for k, v in rss.items()}, "steps": len(steps),
                     "step_s_median": round(statistics.median(steps), 2) if steps else None,
                     "step_s_p95": round(_percentile(steps, 0.95), 2) if steps else None,
                     **cpu_split(server_cpu, client_cpu, wall, len(steps)),
                     "alive_after_close": _alive_sessions(census), "held_before_reap": _held_sessions(census),
                     "census": census}


def steps_by_kind(reports: list[SessionReport]) -> dict[str, dict]:
    """Step time per kind of step (the uploads, each page's filter changes): count, median, p95 and max, so that
    the p95 of all steps can be traced to the steps that make it."""
    kinds: dict[str, list[float]] = {}
    for r in reports:
        for kind, seconds in zip(r.step_kinds, r.step_seconds):
            kinds.setdefault(kind, []).append(seconds)
    return {kind: {"steps": len(v), "median": round(statistics.median(v), 2), "p95": round(_percentile(v, 0.95), 2),
                   "max": round(max(v), 2)} for kind, v in kinds.items()}


def cpu_split(server_cpu: float, client_cpu: float, wall: float, steps: int) -> dict:
    """Where a batch's time went: the server's CPU seconds per step (every upload, page run and filter change of
    the batch over its steps: the work one step costs), its CPU over the batch's wall time (about 1 when the
    process is busy the whole time: the sessions queue for its one interpreter), and the clients' CPU (this
    process: the protocol clients share the machine's cores with the server)."""
    return {"server_cpu_s": round(server_cpu, 1), "client_cpu_s": round(client_cpu, 1),
            "server_cpu_per_step_s": round(server_cpu / steps, 3) if steps else None,
            "server_busy_share": round(server_cpu / wall, 2) if wall else None}


def hostile_per_file(files: list[tuple[str, bytes]], log: list[dict]) -> dict:
    """Per hostile file: how many times it was uploaded, what the app did each time (``verdict``:
    loaded / refused / exception / nothing / error), the slowest answer (s) and the longest GIL wait
    the server's probe saw while it was being uploaded (ms); files never uploaded are listed too."""
    out = {}
    for name, _ in files:
        mine = [e for e in log if e["file"] == name]
        answers = [e["answer_s"] for e in mine if "answer_s" in e]
        waits = [e["gil_wait"]["max_ms"] for e in mine if e.get("gil_wait", {}).get("seconds")]
        out[name] = {"uploads": len(mine), "verdicts": sorted({e["verdict"] for e in mine}),
                     "answer_s_max": max(answers) if answers else None,
                     "seconds_max": max(e["seconds"] for e in mine) if mine else None,
                     "gil_wait_max_ms": max(waits) if waits else None,
                     "shown": mine[0].get("shown") or mine[0].get("error") if mine else "never uploaded"}
    return out


def census_lines() -> list[dict]:
    return [json.loads(line) for line in CENSUS.read_text().splitlines()] if CENSUS.exists() else []


def gil_waits(lines: list[dict], start: float, end: float) -> dict:
    """What the server's GIL probe saw between two wall-clock times (each census line covers the second
    before it): the longest wait (ms), the 95th percentile of the per-second longest waits, the
    seconds with a wait over 250 ms, and the full garbage collections (count, total s, longest ms)."""
    seconds = [line["gil_wait"] for line in lines if "gil_wait" in line and start < line["unix"] < end + 1.0]
    if not seconds:
        return {"seconds": 0}
    worst = [s["max_ms"] for s in seconds]
    return {"seconds": len(seconds), "max_ms": max(worst), "p95_of_second_max_ms": round(_percentile(worst, 0.95), 1),
            "seconds_over_250ms": sum(1 for s in seconds if s["over_250ms"]),
            "full_gc": sum(s.get("full_gc", 0) for s in seconds),
            "full_gc_s": round(sum(s.get("full_gc_ms", 0.0) for s in seconds) / 1000, 2),
            "full_gc_max_ms": max(s.get("full_gc_max_ms", 0.0) for s in seconds)}


#: Innermost frames of a thread that waits for work (a lock, a queue, a socket, a poller's sleep).
IDLE_FRAMES = {("threading.py", "wait"), ("threading.py", "_wait_for_tstate_lock"), ("selectors.py", "select"),
               ("thread.py", "_worker"), ("queue.py", "get"), ("polling_path_watcher.py", "task")}


def _busy(frames: list[str]) -> bool:
    return bool(frames) and (frames[0].split(":")[0], frames[0].split(" ")[-1]) not in IDLE_FRAMES


def long_waits(lines: list[dict], start: float = 0.0, end: float = float("inf")) -> list[dict]:
    """The server probe's waits over 0.25 s between two wall-clock times, longest first, each with the
    frames of the threads that were not waiting for work when the probe got the GIL back (the one that
    held it has just let it go)."""
    waits = [w for line in lines for w in line.get("gil_wait", {}).get("long_waits", [])
             if start <= w["unix"] <= end + 0.5]
    return [{"unix": w["unix"], "lag_ms": w["lag_ms"], "busy_threads": [t for t in w["threads"].values() if _busy(t)]}
            for w in sorted(waits, key=lambda w: -w["lag_ms"])]


def wait_frames(waits: list[dict], top: int = 6) -> dict:
    """How many long waits, and the innermost frames most often seen in a busy thread after them."""
    counts = Counter(t[0] for w in waits for t in w["busy_threads"])
    return {"count": len(waits), "frames": dict(counts.most_common(top))}


def loader_gil_holds(files: list[tuple[str, bytes]]) -> dict:
    """Each hostile file through the app's loader (``il2lib.validation.patients.load_cohort``) in this process, with
    nothing else running but a :class:`load_server.GilProbe` (5 ms sleeps): the seconds it took, what the
    loader said, the longest wait of the probe for the GIL, and for waits over 0.1 s where the loader
    was when it let the GIL go."""
    from load_server import GilProbe

    from il2lib.errors import Il2libError
    from il2lib.validation.patients import load_cohort

    out = {}
    for name, data in files:
        probe = GilProbe(period=0.005, frames_after=0.1)
        probe.start()
        time.sleep(0.05)
        probe.take()
        source = io.BytesIO(data)
        source.name = name
        started = time.perf_counter()
        try:
            said = f"loaded {len(load_cohort(source).data)} patients"
        except Il2libError as exc:
            said = f"refused: {exc}"
        seconds = time.perf_counter() - started
        time.sleep(0.05)
        probe.stop()
        probe.join()
        waits = probe.take()
        main = str(threading.main_thread().ident)
        holds = [{"lag_ms": w["lag_ms"], "frames": w["threads"].get(main, [])}
                 for w in sorted(waits["long_waits"], key=lambda w: -w["lag_ms"])]
        out[name] = {"seconds": round(seconds, 3), "loader": said[:240], "longest_gil_wait_ms": waits["max_ms"],
                     "waits_over_50ms": waits["over_50ms"], "longest_holds": holds[:3]}
    return out


def memory_summary(census: dict) -> dict:
    """From a census's breakdown (MB): memory the allocators hand out to live objects (glibc in use,
    Python's live blocks, Arrow's pool) and memory they keep after it was freed (glibc's free heap,
    the free part of Python's arenas)."""
    memory = census.get("memory", {})
    if "glibc" not in memory or "pymalloc" not in memory:
        return {}
    glibc, py = memory["glibc"], memory["pymalloc"]
    return {"live_mb": round(glibc["in_use"] + py["live_blocks"] + memory["arrow"]["allocated"], 1),
            "kept_free_mb": round(glibc["free_kept"] + py["arena_mb"] - py["live_blocks"], 1),
            "glibc_free_kept_mb": glibc["free_kept"], "pymalloc_arenas": py["arenas"],
            "gc_objects": memory["gc_objects"]}


def object_growth(before: dict, after: dict, at_least: int = 50) -> dict:
    """Object types that grew by ``at_least`` or more between two censuses (their most numerous types)."""
    a, b = before.get("object_types", {}), after.get("object_types", {})
    grown = {t: b[t] - a.get(t, 0) for t in b if b[t] - a.get(t, 0) >= at_least}
    return dict(sorted(grown.items(), key=lambda kv: -kv[1]))


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
    if args.trim_probe:
        env["IL2_BENCH_TRIM_PROBE"] = "1"
    hostile = hostile_files() if args.hostile else None
    loader = loader_gil_holds(hostile) if hostile else None  # before the server starts: nothing else runs
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
        census_start = take_census(pid)
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
            batch["growth_since_warmup"] = round(batch["after_ttl"] / rss_warm - 1, 3)
            batch["memory"] = memory_summary(batch["census"])
            batch["objects_grown_since_warmup"] = object_growth(census_warm, batch["census"])
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
    lines = census_lines()
    for batch in batches + ([hostile_batch] if hostile_batch else []):
        batch["gil_wait"] = gil_waits(lines, batch["start_unix"], batch["end_unix"])
        batch["gil_long_waits"] = wait_frames(long_waits(lines, batch["start_unix"], batch["end_unix"]))
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
        "step_s_by_kind": steps_by_kind(reports),
        **{k: first[k] for k in ("server_cpu_s", "client_cpu_s", "server_cpu_per_step_s", "server_busy_share")},
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
        "memory_at_start": memory_summary(census_start), "memory_after_warmup": memory_summary(census_warm),
        "census_at_start": census_start, "census_after_warmup": census_warm,
        "peak_per_session_mb": round((first["peak"] - rss_warm) / n, 1),
        "retained_mb": round(first["after_ttl"] - rss_warm, 1),
        "retained_share_of_peak_growth": round((first["after_ttl"] - rss_warm) / max(first["peak"] - rss_warm, 1e-9), 3),
        "rss_curve_mb": rss_curve(sampler, t_zero),
    }
    if hostile is not None:
        last = batches[-1]
        for entry in hostile_log:
            entry["gil_wait"] = gil_waits(lines, entry["start_unix"], entry["end_unix"])
            entry["longest_server_waits"] = long_waits(lines, entry["start_unix"], entry["end_unix"])[:2]
        without, with_ = last["step_s_p95"], hostile_batch["step_s_p95"]
        result["hostile"] = {
            "files": {name: len(data) for name, data in hostile},
            "without": {"step_s_median": last["step_s_median"], "step_s_p95": without, "steps": last["steps"],
                        "gil_wait": last["gil_wait"]},
            "with": {"step_s_median": hostile_batch["step_s_median"], "step_s_p95": with_,
                     "steps": hostile_batch["steps"], "gil_wait": hostile_batch["gil_wait"]},
            "p95_change": round(with_ / without - 1, 3), "p95_goal": HOSTILE_P95_GOAL,
            "per_file": hostile_per_file(hostile, hostile_log), "loader_alone": loader,
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
    parser.add_argument("--trim-probe", action="store_true",
                        help="diagnosis: each census also calls malloc_trim(0) in the server and reports the RSS "
                             "it gave back (changes the server's memory; growth figures are then not comparable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args)
    (RESULTS / ("load_test_hostile.json" if args.hostile else "load_test.json")).write_text(json.dumps(result, indent=2))
    rss = result["rss_mb"]
    print(f"{result['batches']} batches of {result['sessions']} sessions x {result['rounds']} rounds, cohorts of {result['patients_per_cohort']}+i "
          f"patients ({result['upload_bytes_per_session'] / 1e3:.0f} kB uploads): {result['steps']} checked steps "
          f"(batch 1 took {result['wall_s']} s; step median {result['step_s_median']} s, p95 {result['step_s_p95']} s)"
          + (f"; MALLOC_ARENA_MAX={result['malloc_arena_max']}" if result["malloc_arena_max"] else ""))
    print("step time by kind (s): " + "; ".join(f"{kind} ({k['steps']}): median {k['median']}, p95 {k['p95']}, max "
                                                 f"{k['max']}" for kind, k in result["step_s_by_kind"].items()))
    print(f"batch 1 time: server CPU {result['server_cpu_s']} s ({result['server_cpu_per_step_s']} s per step, busy "
          f"{100 * result['server_busy_share']:.0f}% of the batch's wall time), clients' CPU {result['client_cpu_s']} s; "
          f"{result['sessions']} sessions queueing for one server's CPU: about {result['sessions']} x "
          f"{result['server_cpu_per_step_s']} = {result['sessions'] * result['server_cpu_per_step_s']:.1f} s per step")
    print(f"errors: {len(result['errors'])}   isolation leaks: {len(result['leaks'])}   "
          f"warm-up errors: {len(result['warmup_errors'])}")
    print("server RSS (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()))
    print(f"peak growth per session: {result['peak_per_session_mb']} MB; retained after close: "
          f"{result['retained_mb']} MB ({100 * result['retained_share_of_peak_growth']:.0f}% of the peak growth)")
    print(f"{'batch':<8}{'peak':>7}{'closed':>7}{'+TTL':>7}{'reaped':>7}{'growth':>8}{'vs warm':>8}{'live':>7}"
          f"{'kept':>6}{'held':>5}{'alive':>6}{'median':>7}{'p95':>6}{'GIL':>8}  (MB, s, ms)")
    rows = [("warm-up", {"memory": result["memory_after_warmup"]})]
    rows += [(str(b + 1), batch) for b, batch in enumerate(result["rss_mb_per_batch"])]
    rows += [("hostile", result["hostile"]["batch"])] if "hostile" in result else []
    for name, batch in rows:
        memory = batch.get("memory", {})
        cells = [batch.get(k, "-") for k in ("peak", "right_after_close", "after_ttl", "after_reap")]
        growth = [f"{100 * batch[k]:.1f}%" if k in batch else "-" for k in ("growth", "growth_since_warmup")]
        print(f"{name:<8}" + "".join(f"{c:>7}" for c in cells) + "".join(f"{g:>8}" for g in growth)
              + f"{memory.get('live_mb', '-'):>7}{memory.get('kept_free_mb', '-'):>6}{batch.get('held_before_reap', '-'):>5}"
              f"{batch.get('alive_after_close', '-'):>6}{batch.get('step_s_median', '-'):>7}{batch.get('step_s_p95', '-'):>6}"
              f"{batch.get('gil_wait', {}).get('max_ms', '-'):>8}")
    print("(growth: RSS after the TTL over the batch before; vs warm: over the RSS after the warm-up session;"
          " live: MB the allocators hand out to live objects; kept: MB they keep after it was freed)")
    print(f"growth per batch < {100 * GROWTH_GOAL:.0f}%: {'yes' if result['growth_within_goal'] else 'NO'}; "
          f"AppSessions alive after close: {result['alive_after_close']} per batch (after warm-up: "
          f"{result['alive_after_warmup']}; before the session store reaped expired ones: "
          f"{result['app_sessions_held_before_reap']}); session objects beyond the warm-up level: "
          f"{len(result['session_leaks'])}")
    if "hostile" in result:
        h = result["hostile"]
        print(f"browsing step time without hostile: median {h['without']['step_s_median']} s, p95 {h['without']['step_s_p95']} s;"
              f" with: median {h['with']['step_s_median']} s, p95 {h['with']['step_s_p95']} s"
              f" ({100 * h['p95_change']:+.1f}%, goal < {100 * HOSTILE_P95_GOAL:.0f}%);"
              f" server stayed up: {'yes' if h['server_stayed_up'] else 'NO'}")
        for name, f in h["per_file"].items():
            alone = h["loader_alone"][name]
            print(f"  {name}: {f['uploads']} uploads, {'/'.join(f['verdicts']) or '-'}, answer <= {f['answer_s_max']} s,"
                  f" server GIL wait <= {f['gil_wait_max_ms']} ms; loader alone {alone['seconds']} s, GIL wait"
                  f" <= {alone['longest_gil_wait_ms']} ms: {alone['loader'][:90]}")
            print(f"      shown: {str(f['shown'])[:150]}")
    for line in (result["warmup_errors"] + result["errors"] + result["leaks"] + result["session_leaks"])[:20]:
        print("  ", line)
    alive = bool(result["session_leaks"])
    stayed_up = result.get("hostile", {}).get("server_stayed_up", True)
    return 1 if result["errors"] or result["leaks"] or result["warmup_errors"] or alive or not stayed_up else 0


if __name__ == "__main__":
    sys.exit(main())
