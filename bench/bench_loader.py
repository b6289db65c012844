"""Loader throughput: ``load_cohort`` against pyarrow's own read of the same file, in the same run.

For each size (1e5 and 1e6 rows by default, 54 columns: ``bench/datasets.py``'s resampled sample) and each
variant (``clean``; ``messy``: about 2% of rows with an impossible date, an unknown code, a missing
required value or a non-number, so the findings paths run), three files are written once to
``bench/data/loader/``: CSV, Parquet of text columns (as ``datasets.py`` writes it) and typed Parquet
(dates as date32, numbers as float64, Yes/No as bool wherever a column's every value converts).
Each file is read by pyarrow (``pyarrow.csv.read_csv`` / ``pyarrow.parquet.read_table``) and loaded by
``load_cohort``, median of ``--repeats``; the table gives rows/s and the load over pyarrow's read
("x pyarrow"), wall-clock and CPU (the machine is shared: the CPU ratio is the comparable number; pyarrow's
read uses every core, so its CPU seconds count all its threads, as load_cohort's count its CSV read-ahead and
fingerprint threads). On a loaded machine pyarrow's threaded CPU seconds grow too: compare runs made together.
Timings are printed, never asserted.

Usage: python bench/bench_loader.py [--sizes 1e5 1e6] [--repeats 3] [--variants clean messy]
       [--formats csv parquet parquet-typed] [--profile N]   (cProfile of one CSV load of N rows instead)
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.datasets import DATA_DIR, make_dataset  # noqa: E402
from il2lib import schema  # noqa: E402

LOADER_DIR = DATA_DIR / "loader"
FORMATS = ("csv", "parquet", "parquet-typed")
_SUFFIXES = {"csv": ".csv", "parquet": ".parquet", "parquet-typed": "_typed.parquet"}
_YES_NO = {"yes": True, "no": False}


def _messy(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """About 2% of rows spoiled, 0.4% per kind: impossible dates, unknown codes, empty required cells, text
    in number columns, misspelt categories."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    n = len(frame)

    def rows(share: float) -> np.ndarray:
        return rng.choice(n, max(1, int(n * share)), replace=False)

    frame.loc[rows(0.004), "date_progression"] = rng.choice(["2015-13-45", "31/02/2016", "not known", "2099-01-01"],
                                                            max(1, int(n * 0.004)))
    frame.loc[rows(0.004), "sex"] = rng.choice(["X", "unknown sex", "mle"], max(1, int(n * 0.004)))
    frame.loc[rows(0.002), "histology"] = "cutaneus"
    frame.loc[rows(0.002), "disease"] = ""
    frame.loc[rows(0.004), "baseline_ldh"] = rng.choice(["high", "n/a?", "12..5"], max(1, int(n * 0.004)))
    frame.loc[rows(0.004), "bor"] = rng.choice(["", "iUPD", "nCR"], max(1, int(n * 0.004)))
    frame.loc[rows(0.004), "age_at_il2"] = ""
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns whose every non-empty value converts stored typed: date32, float64 or bool (missing = null)."""
    import pyarrow as pa

    out = {}
    for name in frame.columns:
        text = frame[name].astype(str)
        empty = text.str.strip().eq("")
        kind = schema.COLUMNS[name].kind if name in schema.COLUMNS else "string"
        value = frame[name]
        if kind == "date":
            parsed = pd.to_datetime(text.where(~empty, None), format="%Y-%m-%d", errors="coerce")
            if parsed.notna().sum() == (~empty).sum():
                days = pa.array(parsed.to_numpy().astype("datetime64[D]"), type=pa.date32(), from_pandas=True)
                value = pd.arrays.ArrowExtensionArray(days)
        elif kind in ("number", "int"):
            parsed = pd.to_numeric(text.where(~empty, None), errors="coerce")
            if parsed.notna().sum() == (~empty).sum():
                value = parsed.astype("float64")
        elif kind == "bool":
            lowered = text.str.strip().str.lower()
            if lowered[~empty].isin(list(_YES_NO)).all():
                value = lowered.map(_YES_NO).astype("boolean")
        out[name] = value
    return pd.DataFrame(out)


def files(n: int, variant: str) -> dict[str, Path]:
    """The CSV, Parquet and typed Parquet of ``n`` rows of ``variant`` (written once)."""
    LOADER_DIR.mkdir(parents=True, exist_ok=True)
    paths = {f: LOADER_DIR / f"{variant}_{n}{_SUFFIXES[f]}" for f in FORMATS}
    if all(p.exists() for p in paths.values()):
        return paths
    frame = pd.read_parquet(make_dataset(n))
    if variant == "messy":
        frame = _messy(frame, seed=n)
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    _typed(frame).to_parquet(paths["parquet-typed"], index=False)
    return paths


def _pyarrow_read(fmt: str, path: Path):
    if fmt == "csv":
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path)
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _median_seconds(call, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (every thread of the process) of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        del result
    return statistics.median(walls), statistics.median(cpus)


def run(sizes: list[int], variants: list[str], formats: list[str], repeats: int) -> str:
    from il2lib.validation.patients import load_cohort

    lines = [f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", "",
             "| rows | variant | format | pyarrow s (CPU s) | load_cohort s (CPU s) | rows/s | x pyarrow wall | "
             "x pyarrow CPU | CPU x CSV load | findings | excluded |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for n in sizes:
        for variant in variants:
            paths = files(n, variant)
            csv_load = None
            for fmt in formats:
                path = paths[fmt]
                read_s, read_cpu = _median_seconds(lambda: _pyarrow_read(fmt, path), repeats)
                cohort = load_cohort(path)  # one load outside the timing, for the counts
                counts = len(cohort.report.findings), cohort.report.n_excluded
                del cohort
                load_s, load_cpu = _median_seconds(lambda: load_cohort(path), repeats)
                if fmt == "csv":
                    csv_load = load_cpu
                versus_csv = f"{load_cpu / csv_load:.2f}" if csv_load else ""
                line = (f"| {n:,} | {variant} | {fmt} | {read_s:.2f} ({read_cpu:.2f}) | {load_s:.2f} ({load_cpu:.2f}) | "
                        f"{n / load_s:,.0f} | {load_s / read_s:.1f} | {load_cpu / read_cpu:.1f} | {versus_csv} | "
                        f"{counts[0]:,} | {counts[1]:,} |")
                lines.append(line)
                print(line, flush=True)
    lines.append(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(lines[-1])
    return "\n".join(lines)


def profile(n: int, variant: str, fmt: str, top: int = 35) -> None:
    import cProfile
    import pstats

    from il2lib.validation.patients import load_cohort

    path = files(n, variant)[fmt]
    profiler = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
    profiler.enable()
    load_cohort(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--variants", nargs="+", default=["clean", "messy"], choices=["clean", "messy"])
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=float, default=0, help="cProfile one load of this many rows instead")
    args = parser.parse_args(argv)
    if args.profile:
        for variant in args.variants:
            for fmt in args.formats:
                print(f"## cProfile: {int(args.profile):,} rows, {variant}, {fmt}")
                profile(int(args.profile), variant, fmt)
        return 0
    run([int(s) for s in args.sizes], args.variants, args.formats, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
