"""Time the statistics that can run long, and the work limits that stop them.

Synthetic cohorts (numpy, no file loading): 3 lines of IL-2, 2 diseases, age, sex, ECOG, about 70%
events; times either continuous (all distinct: exact-date or simulated data) or tied (0.1 month).
Timed calls, each in process CPU time (median of ``--repeats`` runs, all calls in turn per run):

* ``cox_univariable``: ``cox_ph`` on the 3-level line (Newton fit, concordance, as the Survival page);
* ``cox_multivariable``: ``cox_ph`` on age, sex, ECOG and disease (the multivariable tab's default);
* ``concordance``: ``concordance_counts`` of a risk score alone;
* ``gray_test``: Gray's test across the 3 lines (a Python loop over distinct times);
* ``pairwise_logrank_12``: log-rank for each pair of 12 groups;
* ``logrank_40``: log-rank across 40 groups (a groups x distinct times table);
* ``kaplan_meier``: KM by line (no work limit: the overhead reference).

A call refused by its work limit prints ``refused`` with the time it took to refuse. Run it in two
trees to compare (``--json`` writes the cells, ``--before`` reads another run's and prints the ratio
after / before): e.g. ``git archive <commit> il2lib | tar -x -C /tmp/before`` and
``PYTHONPATH=/tmp/before python bench/bench_heavy_statistics.py --json /tmp/before.json``.
Nothing is asserted: the ratios of the calls that are not refused show the counters' overhead.

Usage: python bench/bench_heavy_statistics.py [--sizes 200000 1000000] [--workloads continuous tied]
       [--only gray_test ...] [--repeats 1] [--json out.json] [--before before.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import il2lib  # noqa: E402
from il2lib.errors import Il2libError  # noqa: E402
from il2lib.survival import cox_ph, kaplan_meier, logrank_test  # noqa: E402
from il2lib.survival.competing import gray_test  # noqa: E402
from il2lib.survival.cox_diagnostics import concordance_counts  # noqa: E402
from il2lib.survival.pairwise import pairwise_logrank  # noqa: E402


def cohort(n: int, workload: str, seed: int = 2026) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    line = rng.integers(0, 3, n)
    disease = rng.integers(0, 2, n)
    age = rng.normal(58, 10, n)
    sex = rng.integers(0, 2, n)
    ecog = rng.integers(0, 3, n)
    hazard = np.exp(0.2 * line + 0.3 * disease + 0.02 * (age - 58) + 0.3 * ecog)
    time_ = rng.exponential(20.0 / hazard)
    if workload == "tied":
        time_ = np.round(time_, 1) + 0.1
    event = rng.random(n) < 0.7
    status = np.where(event, np.where(rng.random(n) < 0.8, 1, 2), 0)
    return pd.DataFrame({"time": time_, "event": event.astype(float), "status": status,
                         "line": pd.Categorical(np.array(["1st", "2nd", "3rd+"])[line]),
                         "disease": pd.Categorical(np.array(["melanoma", "rcc"])[disease]), "age": age,
                         "sex": pd.Categorical(np.array(["F", "M"])[sex]), "ecog": ecog.astype(float),
                         "site12": rng.integers(0, 12, n), "site40": rng.integers(0, 40, n)})


def calls(d: pd.DataFrame) -> dict:
    score = d["age"].to_numpy() / 10 + d["ecog"].to_numpy()
    return {
        "cox_univariable": lambda: cox_ph(d, "time", "event", ["line"]),
        "cox_multivariable": lambda: cox_ph(d, "time", "event", ["age", "sex", "ecog", "disease"]),
        "concordance": lambda: concordance_counts(d["time"].to_numpy(), d["event"].to_numpy(bool), score,
                                                  np.zeros(len(d), dtype=int)),
        "gray_test": lambda: gray_test(d["time"], d["status"], d["line"]),
        "pairwise_logrank_12": lambda: pairwise_logrank(d["time"], d["event"], d["site12"]),
        "logrank_40": lambda: logrank_test(d["time"], d["event"], d["site40"]),
        "kaplan_meier": lambda: kaplan_meier(d["time"], d["event"], by=d["line"]),
    }


def timed(fn, repeats: int) -> tuple[float, str]:
    runs, outcome = [], "ok"
    for _ in range(repeats):
        start = time.process_time()
        try:
            fn()
        except Il2libError as exc:
            outcome = "refused" if type(exc).__name__ == "WorkLimitExceeded" else f"error: {exc}"
        runs.append(time.process_time() - start)
    return float(np.median(runs)), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--workloads", nargs="+", default=["continuous", "tied"])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--before", type=Path)
    args = parser.parse_args()
    before = json.loads(args.before.read_text()) if args.before else {}
    print(f"il2lib from {Path(il2lib.__file__).parent}")
    print(f"{'call':22s} {'workload':10s} {'n':>9s} {'CPU s':>8s} {'outcome':8s}"
          + (f" {'before s':>9s} {'ratio':>6s}" if before else ""))
    cells = {}
    for n in args.sizes:
        for workload in args.workloads:
            d = cohort(n, workload)
            for name, fn in calls(d).items():
                if args.only and name not in args.only:
                    continue
                seconds, outcome = timed(fn, args.repeats)
                key = f"{name}|{workload}|{n}"
                cells[key] = {"seconds": seconds, "outcome": outcome}
                line = f"{name:22s} {workload:10s} {n:9d} {seconds:8.2f} {outcome:8s}"
                if key in before:
                    b = before[key]
                    line += f" {b['seconds']:9.2f} {seconds / b['seconds']:6.2f}" + (
                        f" (before: {b['outcome']})" if b["outcome"] != "ok" else "")
                print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(cells, indent=1))


if __name__ == "__main__":
    main()
