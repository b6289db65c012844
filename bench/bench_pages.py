"""Time switching to each analysis page with a large uploaded cohort (Streamlit AppTest, no browser).

``python bench/bench_pages.py [--n 200000] [--runs 3] [--pages Cohort Response ...] [--root DIR] [--profile PAGE]``

Each run is a fresh session: it chooses "My upload" and uploads the n-patient cohort of :mod:`bench.datasets` as CSV
with an adverse-event table built from the sample's (not timed), then

* cold: switches from the Data page to each page in turn (its results computed for the first time in this session);
* warm: then switches from the Data page to each page again (the session's caches answer).

Prints the median of the runs per page, wall-clock and CPU seconds of this process (the script runs in one of its
threads; CPU time says more on a busy machine). The process first visits every page with the bundled sample, as a
running server would have imported everything. ``--root`` runs the app of another checkout (e.g. an older commit
extracted with ``git archive <commit> | tar -x -C DIR``) with the same data, for a before/after table.
``--profile PAGE`` prints the cProfile top of that page's cold switch in the first run (the script thread only).
Timings are noisy on a shared machine: compare before/after measured the same way, never assert them.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from bench.datasets import SAMPLE, dataset_path, make_dataset  # noqa: E402

PAGES = {"Cohort": "pages/1_Cohort.py", "Response": "pages/2_Response.py", "Survival": "pages/3_Survival.py",
         "Biomarkers": "pages/4_Biomarkers.py", "Toxicity": "pages/5_Toxicity.py"}
SAMPLE_AE = SAMPLE.with_name("combined_synthetic_adverse_events.csv")
TIMEOUT = 600


def adverse_events(n: int, seed: int = 2026) -> pd.DataFrame:
    """The sample's AE rows of each resampled patient under its new id (the rows :func:`make_dataset` drew)."""
    source = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    drawn = np.random.default_rng(seed + n).integers(0, len(source), n)  # as make_dataset draws them
    events = pd.read_csv(SAMPLE_AE, dtype=str, keep_default_na=False)
    by_patient = events.groupby("patient_id").indices
    old_ids = source["patient_id"].to_numpy()
    rows, ids = [], []
    for new, old in enumerate(drawn):
        found = by_patient.get(old_ids[old])
        if found is not None:
            rows.append(found)
            ids.append(np.full(len(found), new))
    rows_all, ids_all = np.concatenate(rows), np.concatenate(ids)
    out = events.iloc[rows_all].reset_index(drop=True)
    out["patient_id"] = [f"B{i:07d}" for i in ids_all]
    return out


def upload_bytes(n: int) -> tuple[bytes, bytes]:
    csv = dataset_path(n).with_suffix(".csv")
    ae = dataset_path(n).with_name(f"adverse_events_{n}.csv")
    if not csv.exists():
        pd.read_parquet(make_dataset(n)).to_csv(csv, index=False)
    if not ae.exists():
        adverse_events(n).to_csv(ae, index=False)
    return csv.read_bytes(), ae.read_bytes()


class Profiled:
    """Runs the AppTest script thread under cProfile while active."""

    def __init__(self):
        from streamlit.testing.v1.local_script_runner import LocalScriptRunner

        self.profile: cProfile.Profile | None = None
        original = LocalScriptRunner._run_script_thread
        owner = self

        def run(runner):
            if owner.profile is None:
                return original(runner)
            owner.profile.enable()
            try:
                return original(runner)
            finally:
                owner.profile.disable()

        LocalScriptRunner._run_script_thread = run


def new_session(root: Path, cohort: bytes, ae: bytes):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    source = at.radio[0]
    source.set_value(next(o for o in source.options if "upload" in o.lower())).run()
    at.file_uploader[0].set_value(("cohort.csv", cohort, "text/csv")).run()
    at.file_uploader[1].set_value(("ae_cohort.csv", ae, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def timed_switch(at, page: str) -> tuple[float, float]:
    """(wall, CPU) seconds of switching to ``page`` (the script runs in a thread of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    at.switch_page(page).run()
    seconds = time.perf_counter() - t0, time.process_time() - c0
    assert not at.exception, [e.value for e in at.exception]
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", nargs="*", default=[p for p in PAGES if p != "Survival"], choices=list(PAGES))
    parser.add_argument("--root", type=Path, default=HERE, help="checkout whose app.py runs")
    parser.add_argument("--profile", choices=list(PAGES), help="print the cProfile top of this page's cold switch")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m.split(".")[0] in ("app_ui", "il2lib")]:
        del sys.modules[name]
    cohort, ae = upload_bytes(args.n)
    profiled = Profiled()
    # warm the process (imports, the sample's shared caches) as a running server would be
    from streamlit.testing.v1 import AppTest

    warm = AppTest.from_file(str(root / "app.py"), default_timeout=TIMEOUT).run()
    for page in args.pages:
        warm.switch_page(PAGES[page]).run()
    print(f"root {root}, n = {args.n:,}, {len(ae) / 1e6:.0f} MB AE table; seconds to switch to each page "
          f"(median of {args.runs} fresh sessions; wall and CPU of this process)")
    cold: dict[str, list] = {p: [] for p in args.pages}
    warm_s: dict[str, list] = {p: [] for p in args.pages}
    for run in range(args.runs):
        at = new_session(root, cohort, ae)
        for times in (cold, warm_s):  # each page cold (first visit of the session), then each again
            for page in args.pages:
                if args.profile == page and run == 0 and times is cold:
                    profiled.profile = cProfile.Profile()
                times[page].append(timed_switch(at, PAGES[page]))
                profile, profiled.profile = profiled.profile, None
                at.switch_page("app.py").run()
                if profile is not None:
                    for order in ("cumulative", "tottime"):
                        out = io.StringIO()
                        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
                        print(out.getvalue())
        del at
        print(f"run {run + 1}: " + ", ".join(f"{p} {cold[p][-1][0]:.2f}/{warm_s[p][-1][0]:.2f} s" for p in args.pages),
              flush=True)
    print(f"{'page':<11} {'cold wall':>9} {'cold CPU':>9} {'warm wall':>9} {'warm CPU':>9}")
    for page in args.pages:
        med = [statistics.median(t[i] for t in times[page]) for times in (cold, warm_s) for i in (0, 1)]
        print(f"{page:<11} " + " ".join(f"{v:9.2f}" for v in med), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
