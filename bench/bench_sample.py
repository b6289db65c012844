"""Benchmark of the vectorised synthetic cohort generator: ``python bench/bench_sample.py [N ...]``.

Prints wall-clock seconds and rows per second for each size (default 10^4, 10^5, 10^6).
Timings are reported, never asserted (tests must not depend on machine load).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from il2lib import schema  # noqa: E402
from il2lib.sample import synthetic_cohort  # noqa: E402


def main(sizes: list[int]) -> int:
    for n in sizes:
        t0 = time.perf_counter()
        frame = synthetic_cohort(n, seed=0)
        seconds = time.perf_counter() - t0
        if len(frame) != n or not frame[schema.PATIENT_ID].is_unique:
            print(f"n={n}: generator returned a malformed frame", file=sys.stderr)
            return 1
        print(f"synthetic_cohort(n={n:>9,}): {seconds:6.2f} s  ({n / seconds:,.0f} rows/s, "
              f"{frame.shape[1]} columns, {frame.memory_usage(deep=False).sum() / 1e6:.0f} MB shallow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000]))
