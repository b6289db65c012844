"""Peak memory of loading an uploaded CSV: ``python bench/bench_upload_memory.py [MB ...]`` (default 50 200).

Writes synthetic cohorts of about that many megabytes (``il2lib.sample.synthetic_cohort``, about 275 bytes
per patient, 54 columns) to ``bench/data/`` once, then reads each in fresh child processes as the dashboard
does (the bytes in memory, a named in-memory file): with ``read_table`` (the file as text cells, one ``str``
per distinct value of a column), with ``read_table(compact=True)`` (what ``load_cohort`` reads: repeated
values as categorical codes, the file parsed one batch of rows at a time) and with ``load_cohort`` (read,
validate, derive). Each child measures its peak RSS (``VmHWM`` in ``/proc/self/status``: the child's own,
where ``getrusage``'s ``ru_maxrss`` would be at least its parent's peak, a pytest run's for the test) over its
RSS after the imports, and prints it as a multiple of the file size: "with bytes" counts the uploaded bytes the
session holds anyway, "parse" what the call adds on top of them. The children start cold: what a first load
pays once (library code paged in, allocator arenas) is counted too. Timings are wall-clock on a possibly
busy machine, reported, never asserted.

``tests/test_upload_memory.py`` runs the same child on a 20 MB file after a warm-up load and asserts the
``load_cohort`` figure stays at most 4x the file size.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / "data"
BYTES_PER_PATIENT = 275  # the synthetic cohort written as CSV


def csv_path(megabytes: int) -> Path:
    return DATA_DIR / f"upload_{megabytes}mb.csv"


def make_csv(megabytes: int) -> Path:
    """Write (once) and return a CSV cohort of about ``megabytes`` MB."""
    path = csv_path(megabytes)
    if path.exists():
        return path
    from il2lib.sample import synthetic_cohort

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    n = megabytes * 1_000_000 // BYTES_PER_PATIENT
    partial = path.with_suffix(".partial")
    synthetic_cohort(n, seed=0).to_csv(partial, index=False)
    partial.rename(path)
    return path


def peak_rss() -> int:
    """This process's peak RSS in bytes (Linux; reset by writing 5 to /proc/self/clear_refs)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


STEPS = ("read_table", "compact read", "load_cohort")


def child(path: str, step: str, warm: str | None = None) -> None:
    """Runs in the child: read or load one file and print its memory figures as JSON. ``warm``: a file
    loaded first, before the baseline (the one-time costs of a first load left out)."""
    import io

    import openpyxl  # noqa: F401  - imported before the baseline, as in the running dashboard
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from il2lib.validation.patients import load_cohort
    from il2lib.validation.read import read_table

    if warm:
        load_cohort(Path(warm))
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS (proc(5))
    baseline = peak_rss()
    data = Path(path).read_bytes()
    with_bytes = peak_rss()
    buffer = io.BytesIO(data)
    buffer.name = Path(path).name
    t0 = time.perf_counter()
    if step == "read_table":
        rows = len(read_table(buffer).frame)
    elif step == "compact read":
        rows = len(read_table(buffer, compact=True).frame)
    else:
        rows = load_cohort(buffer).report.n_loaded
    seconds = time.perf_counter() - t0
    print(json.dumps({"size": len(data), "baseline": baseline, "after_bytes": with_bytes, "peak": peak_rss(),
                      "seconds": seconds, "rows": rows}))


def measure(path: Path, step: str, warm: Path | None = None, timeout: float | None = None) -> dict:
    """Memory figures of one step on one file, in a fresh child process (see :func:`child`)."""
    out = subprocess.run([sys.executable, __file__, "--child", str(path), step] + ([str(warm)] if warm else []),
                         capture_output=True, text=True, check=True, timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: list[int]) -> int:
    print(f"{'file':>8} {'rows':>9} {'step':>12} {'seconds':>8} {'peak MB':>8} {'with bytes':>10} {'parse':>7}")
    for megabytes in sizes:
        path = make_csv(megabytes)
        for step in STEPS:
            r = measure(path, step)
            size = r["size"]
            total = r["peak"] - r["baseline"]
            parse = r["peak"] - r["after_bytes"]
            print(f"{size / 1e6:>6.0f}MB {r['rows']:>9,} {step:>12} {r['seconds']:>8.1f} {total / 1e6:>8.0f} "
                  f"{total / size:>9.2f}x {parse / size:>6.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        raise SystemExit(0)
    raise SystemExit(main([int(a) for a in sys.argv[1:]] or [50, 200]))
