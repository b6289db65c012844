"""Benchmark il2lib.survival against lifelines and against the floor, on identical synthetic cohorts.

Workloads (two groups, ~70% events):
* continuous: exponential times, all distinct (simulated or exact-date data);
  floor = ``numpy.argsort`` of the times;
* tied: the same times rounded to 0.1 month (clinical resolution, a few thousand distinct times);
  floor = one hash-count pass, ``pandas.Series.value_counts(sort=False)``.

Timed calls: ``kaplan_meier(time, event, by=group)`` (both curves, full table with CIs, medians)
vs lifelines ``KaplanMeierFitter().fit`` once per group (arrays split before timing, in lifelines'
favour); ``logrank_test(time, event, group)`` vs ``lifelines.statistics.logrank_test``.
Each cell is the median of several runs, in process CPU time by default (``--clock wall`` for
elapsed time). Prints the table and writes it to bench/results/.

Usage: python bench/bench_survival.py [--sizes 1000 10000 100000 1000000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from il2lib.survival import kaplan_meier, logrank_test  # noqa: E402


def cohort(n: int, workload: str, seed: int = 2024):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    time_ = rng.exponential(np.where(group == 0, 20.0, 30.0))
    if workload == "tied":
        time_ = np.round(time_, 1)
    event = rng.random(n) < 0.7
    return time_, event, group


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = time.process_time


def timed_round_robin(fns: dict, repeats: int) -> dict:
    """Median time of each function, run in turn within every repetition so that all of them see
    the same machine load (the machine is shared)."""
    for fn in fns.values():
        fn()  # warm-up (imports, caches)
    runs = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = CLOCK()
            fn()
            runs[name].append(CLOCK() - start)
    return {name: float(np.median(values)) for name, values in runs.items()}


def bench_one(n: int, workload: str, repeats: int) -> dict:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test as ll_logrank

    t, e, g = cohort(n, workload)
    parts = [(t[g == k], e[g == k]) for k in (0, 1)]

    def ll_km():
        for tk, ek in parts:
            KaplanMeierFitter().fit(tk, ek)

    def ll_lr():
        ll_logrank(parts[0][0], parts[1][0], parts[0][1], parts[1][1])

    if workload == "continuous":
        floor_fn = lambda: np.argsort(t)  # noqa: E731
    else:
        series = pd.Series(t)
        floor_fn = lambda: series.value_counts(sort=False)  # noqa: E731
    times = timed_round_robin({"floor_s": floor_fn, "ours_km_s": lambda: kaplan_meier(t, e, by=g),
                               "lifelines_km_s": ll_km, "ours_lr_s": lambda: logrank_test(t, e, g),
                               "lifelines_lr_s": ll_lr}, repeats)
    row = {"n": n, "workload": workload, **times}
    floor = times["floor_s"]
    row["km_speedup_vs_lifelines"] = row["lifelines_km_s"] / row["ours_km_s"]
    row["lr_speedup_vs_lifelines"] = row["lifelines_lr_s"] / row["ours_lr_s"]
    row["km_vs_floor"] = row["ours_km_s"] / floor
    row["lr_vs_floor"] = row["ours_lr_s"] / floor
    return row


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: process CPU time (robust on a shared machine; all timed code is "
                             "single-threaded); wall: elapsed time")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    warnings.simplefilter("ignore")
    rows = []
    for n in args.sizes:
        for workload in ("continuous", "tied"):
            repeats = args.repeats if n < 1_000_000 or workload == "tied" else max(5, args.repeats // 2)
            rows.append(bench_one(n, workload, repeats))
            print(f"done n={n:>9,} {workload}", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    text = table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    header = (f"# il2lib.survival benchmark ({platform.python_version()}, numpy {np.__version__}, "
              f"pandas {pd.__version__}; {args.clock} seconds, medians; speedup = lifelines / ours; "
              f"vs_floor = ours / floor)\n")
    print(header + text)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "survival.txt").write_text(header + text + "\n")
    table.to_csv(out_dir / "survival.csv", index=False)
    return table


if __name__ == "__main__":
    main()
