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
  with new cohorts: a flat second batch means freed memory is reused, not leaked.

Prints a table and writes ``bench/results/load_test.json``. Exit status 1 on any error or
isolation failure. Wall-clock figures are reported, never asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import pandas as pd  # noqa: E402

import il2lib  # noqa: E402
from il2lib import schema  # noqa: E402
from il2lib.cohort import CohortFilter, apply_filter  # noqa: E402
from st_client import MAIN_PAGE, ProtocolError, StreamlitClient  # noqa: E402
from tests.e2e.server import StreamlitServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
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
                       also_forbidden: tuple[int, ...] = ()) -> list[SessionReport]:
    """Run sessions ``indices`` at once; each must see nothing of the others nor of ``also_forbidden``."""
    files = {i: cohort_csv(i, seed, patients) for i in indices}
    oracles = {i: expected_counts(f) for i, f in files.items()}
    everyone = list(indices) + list(also_forbidden)
    gate = asyncio.Event()
    tasks = [asyncio.create_task(one_session(base_url, i, everyone, rounds, files[i], oracles[i], gate))
             for i in indices]
    gate.set()
    return list(await asyncio.gather(*tasks))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _batch(server_url: str, sampler: RssSampler, args: argparse.Namespace, indices: list[int],
           forbidden: tuple[int, ...], settle: float) -> tuple[list[SessionReport], dict]:
    """One batch of concurrent sessions; RSS at its peak, right after close and after the session TTL."""
    t0, wall = time.monotonic(), time.perf_counter()
    reports = asyncio.run(run_sessions(server_url, indices, args.rounds, args.seed, args.patients, forbidden))
    wall, t1 = time.perf_counter() - wall, time.monotonic()
    rss = {"peak": sampler.peak_between(t0, t1), "right_after_close": sampler.rss_mb()}
    time.sleep(settle)
    rss["after_ttl"] = sampler.rss_mb()
    return reports, {"wall_s": round(wall, 1), **{k: round(v, 1) for k, v in rss.items()}}


def measure(args: argparse.Namespace) -> dict:
    os.environ["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(args.session_ttl)
    RESULTS.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer.start(ROOT / "app.py", RESULTS / "load_test_server.log")
    sampler = RssSampler(server.process.pid)
    sampler.start()
    settle = args.session_ttl + args.settle
    n = args.sessions
    warm_index = n * args.batches  # its own id prefix, forbidden to every measured session
    everyone = tuple(range(n * args.batches + 1))
    reports, batches = [], []
    try:
        time.sleep(1.0)
        rss_start = sampler.rss_mb()
        warm = asyncio.run(run_sessions(server.url, [warm_index], args.rounds, args.seed, args.patients))
        time.sleep(settle)
        rss_warm = sampler.rss_mb()
        for b in range(args.batches):
            indices = list(range(b * n, (b + 1) * n))
            batch_reports, batch_rss = _batch(server.url, sampler, args, indices,
                                              tuple(i for i in everyone if i not in indices), settle)
            reports += batch_reports
            batches.append(batch_rss)
    finally:
        sampler.stop()
        server.stop()
    steps = [s for r in reports for s in r.step_seconds]
    first = batches[0]
    log = server.log_path.read_text(errors="replace")
    logged = [f"server log: {session_prefix(i)}" for i in everyone if session_prefix(i) in log]
    return {
        "sessions": n, "batches": args.batches, "rounds": args.rounds, "patients_per_cohort": args.patients,
        "upload_bytes_per_session": len(cohort_csv(0, args.seed, args.patients)), "session_ttl_s": args.session_ttl,
        "warmup_errors": [e for r in warm for e in r.errors],
        "steps": sum(r.steps for r in reports), "errors": [e for r in reports for e in r.errors],
        "leaks": [e for r in reports for e in r.leaks] + logged, "wall_s": first["wall_s"],
        "step_s_median": round(statistics.median(steps), 2) if steps else None,
        "step_s_p95": round(_percentile(steps, 0.95), 2) if steps else None,
        "rss_mb": {"start": round(rss_start, 1), "after_warmup": round(rss_warm, 1), "peak": first["peak"],
                   "right_after_close": first["right_after_close"], "after_ttl": first["after_ttl"]},
        "rss_mb_per_batch": batches,
        "peak_per_session_mb": round((first["peak"] - rss_warm) / n, 1),
        "retained_mb": round(first["after_ttl"] - rss_warm, 1),
        "retained_share_of_peak_growth": round((first["after_ttl"] - rss_warm) / max(first["peak"] - rss_warm, 1e-9), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6, help="filter changes per session")
    parser.add_argument("--session-ttl", type=int, default=5, help="server.disconnectedSessionTTL for this run (s)")
    parser.add_argument("--settle", type=float, default=10.0, help="extra wait after the TTL before sampling (s)")
    parser.add_argument("--patients", type=int, default=1000, help="cohort size of session 0 (session i: +i)")
    parser.add_argument("--batches", type=int, default=2,
                        help="run the sessions this many times in a row (is memory reused or does it grow?)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args)
    (RESULTS / "load_test.json").write_text(json.dumps(result, indent=2))
    rss = result["rss_mb"]
    print(f"{result['batches']} batches of {result['sessions']} sessions x {result['rounds']} rounds, cohorts of {result['patients_per_cohort']}+i "
          f"patients ({result['upload_bytes_per_session'] / 1e3:.0f} kB uploads): {result['steps']} checked steps "
          f"(batch 1 took {result['wall_s']} s; step median {result['step_s_median']} s, p95 {result['step_s_p95']} s)")
    print(f"errors: {len(result['errors'])}   isolation leaks: {len(result['leaks'])}   "
          f"warm-up errors: {len(result['warmup_errors'])}")
    print("server RSS (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()))
    print(f"peak growth per session: {result['peak_per_session_mb']} MB; retained after close: "
          f"{result['retained_mb']} MB ({100 * result['retained_share_of_peak_growth']:.0f}% of the peak growth)")
    for b, batch in enumerate(result["rss_mb_per_batch"]):
        print(f"batch {b + 1}: " + ", ".join(f"{k} {v}" for k, v in batch.items()))
    for line in (result["warmup_errors"] + result["errors"] + result["leaks"])[:20]:
        print("  ", line)
    return 1 if result["errors"] or result["leaks"] or result["warmup_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
