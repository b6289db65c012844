"""Each hostile input of the resource bounds in its own child process: answered or refused, how long, how much memory.

Each case runs in a forked child (``tests/support/bounded_child.py`` ``run_bounded``) whose address space may grow by
1.5 GiB over what it inherits (``RLIMIT_AS``). Inputs are built in the parent before the fork and inherited, so only
the call is measured. Groups (``--groups``):

* ``ffh``: the Fisher-Freeman-Halton test: a 3x5 table of 12,789 patients (line of IL-2 x ECOG, ECOG 4 rare);
  Table 1 by a 5-level free-text source on a 428-row upload, by source on bench/load_test.py's 900-row upload with
  rare ECOG levels, and by source on 1,000 and 2,000 synthetic patients (rare levels in many variables); the slowest
  tables found just under the exact test's work limit (one exact, one refused inside the search); the largest table
  the Monte Carlo p-value draws, and one too large for it (chi-square);
* ``loader``: ``il2lib.validation.patients.load_cohort`` on the bytes as the dashboard passes them (a named buffer): every
  file of ``tests/support/fuzz_inputs.py`` ``HOSTILE_FILES``, a forged ``<dimension>`` of 3,000 rows, a CSV of 10,000 columns,
  and bench/load_test.py's hostile uploads;
* ``statistics``: ``bench/bench_heavy_statistics.py``'s calls at ``--sizes`` (continuous and tied times), and the
  cases its work limits refuse: Cox on a 30-level column, pairwise log-rank of 200 groups, log-rank of 100 groups
  over 1e6 distinct times (Gray's test on 1e6 distinct times is among the calls);
* ``analyses``: Table 1, response rates and the biomarker comparison on synthetic cohorts (the project's generator
  and ``il2lib.validation.derive``, cached in bench/data/hostile/) of up to ``--analysis-size`` patients, grouped by disease,
  not grouped, or by a free-text source of 200 values.

How to read it: one line per case. ``wall s`` and ``CPU s`` (user + system of the child, all its threads) are the
call's; ``peak MiB`` is the child's VmHWM (the inherited pages it touched plus its own) and ``growth`` the peak minus
its RSS when it started. The outcome is ``answered`` (what came back: the test used, the patients loaded),
``refused`` (the error and the start of its message, what the page shows; a work limit with its work, needed and
limit) or ``FAILED`` (MemoryError, an unexpected exception, a dead child, or still running at ``--guard`` seconds).
``!`` marks a case over 5 s wall or 1.5 GiB growth. Wall time follows the machine's load (CPU time much less).
Nothing is asserted.

``--before before.json`` adds another run's wall time and outcome beside each case: e.g. ``git archive HEAD il2lib |
tar -x -C /tmp/before`` and ``PYTHONPATH=/tmp/before python bench/bench_hostile_inputs.py --json /tmp/before.json``.

Usage: python bench/bench_hostile_inputs.py [--groups ffh loader statistics analyses] [--only TEXT ...]
       [--sizes 200000 1000000] [--workloads continuous tied] [--analysis-size 1000000] [--guard 180]
       [--json out.json] [--before before.json]
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))
sys.path[len(sys.path):] = [str(ROOT / "tests"), str(ROOT / "bench")]

import il2lib  # noqa: E402
from il2lib import schema  # noqa: E402
from il2lib.errors import Il2libError, WorkLimitExceeded  # noqa: E402
from support.bounded_child import ADDRESS_SPACE, run_bounded  # noqa: E402

GOAL_SECONDS = 5.0
GOAL_GROWTH_MIB = ADDRESS_SPACE / 2**20
DATA = ROOT / "bench" / "data" / "hostile"


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    setup: Callable[[], Callable[[], str]]  # builds the inputs (in the parent); returns the call measured in the child


# ---------------------------------------------------------------------------------------------- measuring
def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _refusal(exc: Exception) -> str:
    if isinstance(exc, WorkLimitExceeded):
        return f"WorkLimitExceeded (work {exc.work:,}, needed {exc.needed:,}, limit {exc.limit:,}): {exc}"
    setting = getattr(exc, "setting", "")
    return f"{type(exc).__name__}{f' ({setting})' if setting else ''}: {exc}"


def _measured(call: Callable[[], str]) -> dict:
    """Runs in the child: the call's wall and CPU time, peak RSS, and what it answered or why it refused."""
    start_rss = _status_mib("VmRSS")
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    try:
        kind, detail = "answered", call()
    except Il2libError as exc:
        kind, detail = "refused", _refusal(exc)
    except MemoryError:
        kind, detail = "FAILED", "MemoryError"
    except Exception as exc:  # reported, not raised: the table goes on
        kind, detail = "FAILED", f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    peak = _status_mib("VmHWM")
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_mib": round(peak),
            "growth_mib": round(peak - start_rss), "kind": kind, "detail": " ".join(str(detail).split())}


def measure(case: Case, guard: float) -> dict:
    call = case.setup()
    outcome = run_bounded(_measured, call, hang_guard=guard)
    if outcome.value is not None:
        return {"group": case.group, **outcome.value}
    why = (f"still running after {guard:g} s (killed)" if outcome.hung else
           outcome.error.splitlines()[0] if outcome.error else f"child died (exit code {outcome.exitcode})")
    return {"group": case.group, "wall_s": guard if outcome.hung else None, "cpu_s": None, "peak_mib": None,
            "growth_mib": None, "kind": "FAILED", "detail": why}


# ---------------------------------------------------------------------------------------------- ffh
def _ffh_text(res) -> str:
    return f"{res.test}, p = {res.pvalue:.3g}" + (f", Monte Carlo SE {res.mc_se:.2g}" if res.mc_se else "")


def _table1_text(t1) -> str:
    tests = t1.tests.dropna(subset=["test"])
    ffh = tests[tests["test"].str.startswith("fisher_freeman")]
    shown = ffh if len(ffh) else tests
    return "; ".join(f"{r.variable}: {r.test}" for r in shown.itertuples()) or "no test"


def _compare(table) -> Callable[[], str]:
    from il2lib.stats import compare_proportions
    return lambda: _ffh_text(compare_proportions(table))


def _ffh(table) -> Callable[[], str]:
    from il2lib.stats import fisher_freeman_halton
    return lambda: _ffh_text(fisher_freeman_halton(table))


def _table1_call(df: pd.DataFrame, by: str | None) -> Callable[[], str]:
    from il2lib.analyses.table1 import table1
    return lambda: _table1_text(table1(df, by))


def _upload_428() -> Callable[[], str]:
    from test_exact_test_bounds import _upload_frame
    return _table1_call(_upload_frame(), "source")


def _rare_ecog_900() -> Callable[[], str]:
    from il2lib.validation.patients import load_cohort
    try:
        from load_test import hostile_table1_rare_ecog
    except Exception as exc:  # bench/load_test.py needs the browser-test helpers
        reason = type(exc).__name__
        return lambda: f"skipped: bench/load_test.py not importable ({reason})"
    return _table1_call(load_cohort(hostile_table1_rare_ecog()).data, "source")


def _synthetic_by_source(n: int, sources: int) -> Callable[[], str]:
    df = synthetic_derived(n)
    df = df.assign(source=[f"Site {k % sources}" for k in range(n)])
    return _table1_call(df, "source")


# The slowest of about 1,000 random tables under a work limit of 1,000,000: exact at 974,430 units, and refused
# near the limit (two tables).
SLOWEST_EXACT = [[71, 27, 1], [291, 172, 7], [237, 116, 0]]
SLOWEST_REFUSED = [[5, 64, 7, 48, 1, 27, 1, 31], [2, 10, 0, 3, 0, 3, 0, 7], [1, 19, 5, 12, 0, 19, 0, 10]]
SLOW_REFUSED_4X5 = [[52, 53, 63, 49, 34], [1, 1, 1, 0, 3], [2, 0, 0, 0, 0], [46, 59, 43, 54, 49]]


def ffh_cases() -> Iterator[Case]:
    from test_exact_test_bounds import REGISTRY_LINE_BY_ECOG, WIDE_SEARCH, slow_tables_frame

    rng = np.random.default_rng(0)
    mc_largest = rng.multinomial(5000, np.full(1000, 1e-3)).reshape(20, 50)
    yield Case("ffh", "3x5 table of 12,789 patients (line x ECOG, ECOG 4 rare)",
               lambda: _compare(REGISTRY_LINE_BY_ECOG))
    yield Case("ffh", "Table 1 by a 5-level free-text source, 428-row upload", _upload_428)
    yield Case("ffh", "Table 1 by source, 900-row upload, 3x5 ECOG rare levels", _rare_ecog_900)
    yield Case("ffh", "Table 1 by 3 sources, 1,000 synthetic patients", lambda: _synthetic_by_source(1000, 3))
    yield Case("ffh", "Table 1 by 10 sources, 2,000 synthetic patients", lambda: _synthetic_by_source(2000, 10))
    yield Case("ffh", "Table 1 by 3 sources, 1,059 rows, six slow exact tables",
               lambda: _table1_call(slow_tables_frame(), "source"))
    yield Case("ffh", "3x3 table, slowest exact found under the limit", lambda: _ffh(SLOWEST_EXACT))
    yield Case("ffh", "3x8 table, slowest refusal found inside the search", lambda: _ffh(SLOWEST_REFUSED))
    yield Case("ffh", "4x5 table, slow refusal inside the search", lambda: _ffh(SLOW_REFUSED_4X5))
    yield Case("ffh", "3x5 table refused inside the search (test_exact_test_bounds)", lambda: _ffh(WIDE_SEARCH))
    yield Case("ffh", "20x50 table of 5,000: Monte Carlo at its cell limit", lambda: _ffh(mc_largest))
    yield Case("ffh", "51x50 table of ones: too large for Monte Carlo", lambda: _ffh(np.ones((51, 50), dtype=int)))


# ---------------------------------------------------------------------------------------------- loader
def _load(raw: bytes, name: str) -> Callable[[], str]:
    from il2lib.validation.patients import load_cohort

    def call() -> str:
        buffer = io.BytesIO(raw)
        buffer.name = name  # as app_ui.data passes an upload
        cohort = load_cohort(buffer)
        return f"{len(cohort.data):,} patients loaded"
    return call


def _built(builder, *args) -> Callable[[], Callable[[], str]]:
    return lambda: _load(*builder(*args))


def loader_cases() -> Iterator[Case]:
    from support import fuzz_inputs as fz

    for name, (builder, args) in fz.HOSTILE_FILES.items():
        yield Case("loader", name, _built(builder, *args))
    yield Case("loader", "forged dimension, 3,000 rows", _built(fz.forged_dimension_xlsx, 3_000))
    yield Case("loader", "CSV with 10,000 columns", _built(fz.wide_csv, 10_000))
    try:
        import load_test
    except Exception as exc:  # bench/load_test.py needs the browser-test helpers
        print(f"(bench/load_test.py hostile files skipped: {type(exc).__name__}: {exc})")
        return
    for name, build in (("forged_dimension.xlsx", load_test.hostile_xlsx_forged_dimension),
                        ("rle_bomb_20M_rows.parquet", load_test.hostile_parquet_rle_bomb),
                        ("wide_10000_columns.csv", load_test.hostile_csv_wide),
                        ("repeated_header_8000.csv", load_test.hostile_csv_repeated_header)):
        yield Case("loader", f"load_test {name}", lambda build=build, name=name: _load(build(), name))


# ---------------------------------------------------------------------------------------------- statistics
_heavy_cache: dict = {}


def heavy_cohort(n: int, workload: str) -> pd.DataFrame:
    """bench_heavy_statistics' cohort, kept for the cases of the same size."""
    from bench_heavy_statistics import cohort

    if (n, workload) not in _heavy_cache:
        _heavy_cache.clear()
        _heavy_cache[(n, workload)] = cohort(n, workload)
    return _heavy_cache[(n, workload)]


def _done(fn) -> Callable[[], str]:
    def call() -> str:
        result = fn()
        return f"{type(result).__name__} computed"
    return call


def _with_groups(n: int, workload: str, groups: int) -> pd.DataFrame:
    d = heavy_cohort(n, workload)
    codes = np.random.default_rng(groups).integers(0, groups, n)
    return d.assign(many=pd.Categorical(np.char.add("g", codes.astype(str))))


def statistics_cases(sizes: list[int], workloads: list[str]) -> Iterator[Case]:
    from bench_heavy_statistics import calls

    for n in sizes:
        for workload in workloads:
            for name in calls(heavy_cohort(n, workload)):
                yield Case("statistics", f"{name}, {workload}, n = {n:,}",
                           lambda n=n, w=workload, name=name: _done(calls(heavy_cohort(n, w))[name]))
    from il2lib.survival import cox_ph, logrank_test
    from il2lib.survival.pairwise import pairwise_logrank

    def cox30():
        d = _with_groups(200_000, "continuous", 30)
        return _done(lambda: cox_ph(d, "time", "event", ["many"]))

    def pairs200():
        d = _with_groups(200_000, "continuous", 200)
        return _done(lambda: pairwise_logrank(d["time"], d["event"], d["many"]))

    def logrank100():
        d = _with_groups(1_000_000, "continuous", 100)
        return _done(lambda: logrank_test(d["time"], d["event"], d["many"]))

    yield Case("statistics", "Cox on a 30-level column, n = 200,000", cox30)
    yield Case("statistics", "pairwise log-rank of 200 groups, n = 200,000", pairs200)
    yield Case("statistics", "log-rank of 100 groups, 1e6 distinct times", logrank100)


# ---------------------------------------------------------------------------------------------- analyses
def synthetic_derived(n: int) -> pd.DataFrame:
    """n synthetic patients with the loader's derived columns: up to 50,000 generated for n, above that the first n
    of 1e6 (cached as Parquet in bench/data/hostile/; the 1e6 take about a minute to build)."""
    from bench_registry import _typed

    from il2lib.sample import synthetic_cohort
    from il2lib.validation.derive import derive

    size = n if n <= 50_000 else 1_000_000
    path = DATA / f"derived_{size}.parquet"
    if not path.exists():
        print(f"  (building {size:,} synthetic patients into {path.relative_to(ROOT)})", flush=True)
        DATA.mkdir(parents=True, exist_ok=True)
        derived, _ = derive(_typed(synthetic_cohort(size, seed=0)))
        derived.to_parquet(path, index=False)
        del derived
        gc.collect()
    return pd.read_parquet(path).iloc[:n].reset_index(drop=True)


def _free_text_source(df: pd.DataFrame, values: int) -> pd.DataFrame:
    return df.assign(source=[f"Centre {k % values:03d}" for k in range(len(df))])


def analyses_cases(size: int) -> Iterator[Case]:
    from il2lib.analyses.biomarkers import biomarker_comparison
    from il2lib.analyses.response import response_rates
    from il2lib.analyses.table1 import table1

    def t1(n, by, sources=0):
        def setup():
            df = synthetic_derived(n)
            df = _free_text_source(df, sources) if sources else df
            return lambda: _table1_text(table1(df, by))
        return setup

    def rates(n, by, sources=0):
        def setup():
            df = synthetic_derived(n)
            df = _free_text_source(df, sources) if sources else df
            return lambda: "; ".join(f"{c.outcome}: {c.result.test}"
                                     for c in response_rates(df, by).comparisons) or "no test"
        return setup

    def bio(n):
        def setup():
            df = synthetic_derived(n)
            return lambda: f"{len(biomarker_comparison(df).rows)} rows"
        return setup

    small, mid = min(size, 40_000), min(size, 150_000)
    near_t1, near_rates = min(size, 450_000), min(size, 400_000)  # just under their work limits, by disease
    yield Case("analyses", f"Table 1 by disease, n = {size:,}", t1(size, schema.DISEASE))
    yield Case("analyses", f"Table 1 by disease, n = {near_t1:,}", t1(near_t1, schema.DISEASE))
    yield Case("analyses", f"Table 1 not grouped, n = {size:,}", t1(size, None))
    yield Case("analyses", f"Table 1 by disease, n = {small:,}", t1(small, schema.DISEASE))
    yield Case("analyses", "Table 1 by a 200-value free-text source, n = 20,000", t1(20_000, schema.SOURCE, 200))
    yield Case("analyses", "Table 1 by a 300-value free-text source, n = 300", t1(300, schema.SOURCE, 300))
    yield Case("analyses", "Table 1 by a 100-value free-text source, n = 1,000", t1(1_000, schema.SOURCE, 100))
    yield Case("analyses", f"response rates by disease, n = {size:,}", rates(size, schema.DISEASE))
    yield Case("analyses", f"response rates by disease, n = {near_rates:,}", rates(near_rates, schema.DISEASE))
    yield Case("analyses", f"response rates by disease, n = {mid:,}", rates(mid, schema.DISEASE))
    yield Case("analyses", "response rates by a 200-value free-text source, n = 20,000",
               rates(20_000, schema.SOURCE, 200))
    yield Case("analyses", "response rates by a 1,000-value free-text source, n = 1,000",
               rates(1_000, schema.SOURCE, 1000))
    yield Case("analyses", f"biomarker comparison, n = {size:,}", bio(size))
    yield Case("analyses", f"biomarker comparison, n = {mid:,}", bio(mid))


# ---------------------------------------------------------------------------------------------- main
def _num(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def line(name: str, cell: dict, before: dict | None) -> str:
    over = (cell["wall_s"] or 0) > GOAL_SECONDS or (cell["growth_mib"] or 0) > GOAL_GROWTH_MIB \
        or cell["kind"] == "FAILED"
    text = (f"{'!' if over else ' '} {name[:60]:60s} {_num(cell['wall_s']):>7s} {_num(cell['cpu_s']):>7s} "
            f"{_num(cell['peak_mib'], 0):>7s} {_num(cell['growth_mib'], 0):>7s}  "
            f"{cell['kind']}: {cell['detail'][:110]}")
    if before is not None:
        text += f"\n{'':62s}before: {_num(before['wall_s']):>7s} {_num(before['cpu_s']):>7s}  {before['kind']}: " \
                f"{before['detail'][:100]}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=["ffh", "loader", "statistics", "analyses"])
    parser.add_argument("--only", nargs="*", help="run the cases whose name contains one of these")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--workloads", nargs="+", default=["continuous", "tied"])
    parser.add_argument("--analysis-size", type=int, default=1_000_000)
    parser.add_argument("--guard", type=float, default=180.0, help="seconds before a child is killed")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--before", type=Path)
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else {}
    makers = {"ffh": ffh_cases, "loader": loader_cases,
              "statistics": lambda: statistics_cases(args.sizes, args.workloads),
              "analyses": lambda: analyses_cases(args.analysis_size)}
    import scipy.stats  # noqa: F401  imported once here, not in every child
    import statsmodels.api  # noqa: F401

    print(f"il2lib from {Path(il2lib.__file__).parent}; each case in a child with RLIMIT_AS = inherited + "
          f"{ADDRESS_SPACE / 2**30:g} GiB; goal: {GOAL_SECONDS:g} s, {GOAL_GROWTH_MIB:,.0f} MiB growth")
    print(f"  {'case':60s} {'wall s':>7s} {'CPU s':>7s} {'peak':>7s} {'growth':>7s}  outcome (MiB for memory)")
    cells = {}
    for group in args.groups:
        print(f"[{group}]", flush=True)
        for case in makers[group]():
            if args.only and not any(text in case.name for text in args.only):
                continue
            cell = measure(case, args.guard)
            cells[case.name] = cell
            print(line(case.name, cell, before.get(case.name)), flush=True)
            gc.collect()
        _heavy_cache.clear()
    if args.json:
        args.json.write_text(json.dumps(cells, indent=1))


if __name__ == "__main__":
    main()
