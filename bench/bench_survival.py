"""Benchmark il2lib.survival against lifelines and against the floor, on identical synthetic cohorts.

Workloads (two groups, ~70% events):
* continuous: exponential times, all distinct (simulated or exact-date data);
  floor = ``numpy.argsort`` of the times;
* tied: the same times rounded to 0.1 month (clinical resolution, a few thousand distinct times);
  floor = one hash-count pass, ``pandas.Series.value_counts(sort=False)``.

Timed calls: ``kaplan_meier(time, event, by=group)`` (both curves, full table with CIs, medians)
vs lifelines ``KaplanMeierFitter().fit`` once per group (arrays split before timing, in lifelines'
favour); ``logrank_test(time, event, group)`` vs ``lifelines.statistics.logrank_test``.
Each cell is the median of several runs. Prints the table and writes it to bench/results/.

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


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (imports, caches)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return float(np.median(runs))


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
        floor = timed(lambda: np.argsort(t), repeats)
    else:
        series = pd.Series(t)
        floor = timed(lambda: series.value_counts(sort=False), repeats)
    row = {"n": n, "workload": workload, "floor_s": floor,
           "ours_km_s": timed(lambda: kaplan_meier(t, e, by=g), repeats),
           "lifelines_km_s": timed(ll_km, repeats),
           "ours_lr_s": timed(lambda: logrank_test(t, e, g), repeats),
           "lifelines_lr_s": timed(ll_lr, repeats)}
    row["km_speedup_vs_lifelines"] = row["lifelines_km_s"] / row["ours_km_s"]
    row["lr_speedup_vs_lifelines"] = row["lifelines_lr_s"] / row["ours_lr_s"]
    row["km_vs_floor"] = row["ours_km_s"] / floor
    row["lr_vs_floor"] = row["ours_lr_s"] / floor
    return row


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    for n in args.sizes:
        for workload in ("continuous", "tied"):
            repeats = args.repeats if n < 1_000_000 else max(3, args.repeats // 2)
            rows.append(bench_one(n, workload, repeats))
            print(f"done n={n:>9,} {workload}", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    text = table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    header = (f"# il2lib.survival benchmark ({platform.python_version()}, numpy {np.__version__}, "
              f"pandas {pd.__version__}; seconds are medians; speedup = lifelines / ours; "
              f"vs_floor = ours / floor)\n")
    print(header + text)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "survival.txt").write_text(header + text + "\n")
    table.to_csv(out_dir / "survival.csv", index=False)
    return table


if __name__ == "__main__":
    main()
