"""Registry scale: KM + log-rank for two groups from Parquet, counts pushed down to DuckDB vs pandas + lifelines.

Data (generated, git-ignored, under bench/data/registry/): synthetic patients from the project's
generator (``il2lib.sample.synthetic_cohort``, 1e6 per part, seeds 0, 1, ...) with the analysis
columns derived by ``il2lib.validation.derive`` (the loader's derivation, checked against ``load_cohort`` on
a sample). 1e6 = part 0; 1e7 = parts 0-9. The generator caps at 1e6 patients per call and
deriving 100 parts would take ~40 min here, so the 1e8 set is a bootstrap resample (rows drawn
with replacement, seeded) of the 1e7 patients: same columns and value distribution, 1e8 rows.

Paths, each in its own subprocess (so peak RSS is that path's alone), timed in wall-clock:
* ``duckdb``: ``DuckDBSource(folder).survival_counts("os", group=prior_pd1_pdl1)`` then
  ``kaplan_meier_counts`` + ``logrank_counts`` (the dashboard's code path), ``threads`` DuckDB threads;
* ``groupby``: the bare aggregate SQL alone (the floor);
* ``lifelines``: ``pd.read_parquet`` of the three columns, then ``KaplanMeierFitter`` per group and
  ``lifelines.statistics.logrank_test``.
Run it under ``nice -n -10`` (root) on a shared machine: wall times are otherwise dominated by the
other processes' load; CPU seconds (all threads) are reported next to wall seconds either way.
Agreement: the largest |S_duckdb(t) - S_lifelines(t)| over the event times and the log-rank
chi-square relative difference are printed per size.

Stored forms (``--forms``): data from ``bench.datasets.registry_parquet`` (DuckDB SQL, /tmp/il2_bench), each
form of :mod:`il2lib.sources.duckdb_store` built once in its own subprocess (build time, size, peak RSS), then
``--draws`` seeded random sidebar draws (filter with an age range and one extra column, and the grouping)
timed in another (median, p95, peak RSS), against a pre-aggregated counts table (measured only, to
``--cube-max``) and pandas + lifelines (to ``--lifelines-max``); numbers compared per draw on ``--checked`` draws.

Engines (``--engines postgres spark``, to ``--engine-max``), in the same run on the same draws: a throw-away
PostgreSQL server (``tests/support/postgres.py``, default settings) with the rows loaded by ``COPY`` (build =
CSV export + COPY + VACUUM ANALYZE) queried through ``PostgresSource``; a local Spark session (``local[2]``,
driver memory 1 GB, the dashboard's ``LOCAL_CONFIG``) reading the same Parquet through ``SparkSource``. Every
draw's Kaplan-Meier tables and log-rank chi-square are compared with DuckDB's on the files (bit for bit).

Usage: python bench/bench_registry.py [--sizes 1e6 1e7 1e8] [--threads 2] [--repeats 3] [--lifelines-max 1e7]
       python bench/bench_registry.py --forms [--sizes 1e6 1e7 1e8] [--draws 20] [--seed 2026]
              [--engines postgres spark] [--engine-max 1e7] [--engine-draws N] [--out registry_engines.md]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il2lib import schema  # noqa: E402

DATA = ROOT / "bench" / "data" / "registry"
RESULTS = ROOT / "bench" / "results"
PART = 1_000_000
COLUMNS = [schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SEX, schema.AGE, schema.BOR,
           schema.OS_MONTHS, schema.OS_EVENT, schema.PFS_MONTHS, schema.PFS_EVENT]
GROUP, TIME, EVENT = schema.PRIOR_PD1, schema.OS_MONTHS, schema.OS_EVENT


def _typed(raw: pd.DataFrame) -> pd.DataFrame:
    """The generator's export-like frame with the loader's types (dates, booleans, numbers)."""
    out = {}
    for name in raw.columns:
        spec, values = schema.COLUMNS.get(name), raw[name]
        if spec is not None and spec.kind == "date":
            values = pd.to_datetime(values)
        elif spec is not None and spec.kind == "bool":
            values = values.map(lambda v: None if v is None else schema.norm(v) in schema.BOOL_TRUE).astype("boolean")
        elif spec is not None and spec.kind == "number":
            values = pd.to_numeric(values).astype("float64")
        elif spec is not None and spec.kind == "int":
            values = pd.to_numeric(values).astype("Int64")
        out[name] = values
    return pd.DataFrame(out)


def derived_part(seed: int, n: int = PART) -> pd.DataFrame:
    from il2lib.sample import synthetic_cohort
    from il2lib.validation.derive import derive

    derived, _ = derive(_typed(synthetic_cohort(n, seed=seed)))
    return derived[COLUMNS].reset_index(drop=True)


def check_against_loader(n: int = 20_000) -> None:
    """The fast derivation equals load_cohort on the same generator output (analysis columns)."""
    import io

    from il2lib.sample import synthetic_cohort
    from il2lib.validation.patients import load_cohort

    buffer = io.BytesIO()
    synthetic_cohort(n, seed=0).to_parquet(buffer)
    buffer.seek(0)
    buffer.name = "check.parquet"
    loaded = load_cohort(buffer).data[COLUMNS].reset_index(drop=True)
    pd.testing.assert_frame_equal(derived_part(0, n), loaded, check_dtype=False)


def _link(src: Path, dst: Path) -> None:
    if not dst.exists():
        os.link(src, dst)


def ensure_data(size: int) -> Path:
    parts = DATA / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    folder = DATA / f"n{size:.0e}".replace("+", "")
    folder.mkdir(exist_ok=True)
    n_parts = max(1, size // PART)
    if size <= 10 * PART:
        for k in range(n_parts):
            part = parts / f"part-{k:05d}.parquet"
            if not part.exists():
                print(f"  generating part {k} ({PART:,} patients)", flush=True)
                derived_part(k).to_parquet(part, index=False)
            _link(part, folder / part.name)
        return folder
    targets = [folder / f"boot-{k:05d}.parquet" for k in range(n_parts)]
    if all(t.exists() for t in targets):
        return folder
    pool = pd.concat([pd.read_parquet(ensure_data(10 * PART) / f"part-{k:05d}.parquet") for k in range(10)],
                     ignore_index=True)
    rng = np.random.default_rng(2026)
    for target in targets:
        draw = rng.integers(0, len(pool), PART)  # drawn for every part, so a resumed run writes the same rows
        if not target.exists():
            pool.take(draw).to_parquet(target, index=False)
    return folder


# ---------------------------------------------------------------- measured paths (run in a child process)
def run_duckdb(folder: str, threads: int, bare: bool) -> dict:
    from il2lib.sources import DuckDBSource
    from il2lib.survival.counts import kaplan_meier_counts, logrank_counts

    src = DuckDBSource(folder, threads=threads)  # opened per run (the dashboard opens it once per process)
    try:
        if bare:
            query = src.survival_query(TIME, EVENT, None, GROUP)
            return {"rows": int(src.execute(query)["n"].sum())}
        counts = src.survival_counts("os", None, group=GROUP)
        km, lr = kaplan_meier_counts(counts), logrank_counts(counts)
        return {"rows": counts.n, "chisq": lr.statistic, "curves": {str(g): [r.table["time"].tolist(),
                                                                              r.table["survival"].tolist()]
                                                                     for g, r in km.items()}}
    finally:
        src.close()


def run_lifelines(folder: str) -> dict:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    df = pd.read_parquet(folder, columns=[GROUP, TIME, EVENT])
    df = df.dropna()
    curves = {}
    for g, part in df.groupby(GROUP):
        fit = KaplanMeierFitter().fit(part[TIME].to_numpy(), part[EVENT].to_numpy(dtype=bool))
        sf = fit.survival_function_
        curves[str(g)] = [sf.index.tolist()[1:], sf.iloc[1:, 0].tolist()]
    a, b = (df[df[GROUP] == v] for v in (False, True))
    lr = logrank_test(a[TIME], b[TIME], a[EVENT].astype(bool), b[EVENT].astype(bool))
    return {"rows": len(df), "chisq": float(lr.test_statistic), "curves": curves}


def _peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM; unlike ru_maxrss it does not inherit the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, folder: str, threads: int, repeats: int) -> None:
    baseline = _peak_rss_mib()
    times, cpu, out = [], [], {}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = run_lifelines(folder) if method == "lifelines" else run_duckdb(folder, threads, method == "groupby")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    out.update(seconds=min(times), median_seconds=float(np.median(times)), cpu_seconds=min(cpu),
               baseline_mib=baseline, peak_mib=_peak_rss_mib())
    print(json.dumps(out))


def measure(method: str, folder: Path, threads: int, repeats: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", method, str(folder), str(threads), str(repeats)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(a: dict, b: dict) -> tuple[float, float]:
    worst = 0.0
    for g, (t_a, s_a) in a["curves"].items():
        t_b, s_b = b["curves"][g]
        common = np.intersect1d(t_a, t_b)
        sa = np.asarray(s_a)[np.searchsorted(t_a, common)]
        sb = np.asarray(s_b)[np.searchsorted(t_b, common)]
        worst = max(worst, float(np.max(np.abs(sa - sb))) if common.size else 0.0)
    return worst, abs(a["chisq"] - b["chisq"]) / b["chisq"]


def _markdown(table: pd.DataFrame) -> str:
    def cell(v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "-"
        if isinstance(v, (bool, np.bool_, str)):
            return str(v)
        return f"{v:,}" if isinstance(v, (int, np.integer)) else f"{v:.3g}"
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


# ---------------------------------------------------------------- stored forms, random sidebar draws
FORMS = ("files", "duckdb-file", "parquet")
STORE_DIR = Path("/tmp/il2_bench/store")
#: Columns a pre-aggregated counts table must keep so any sidebar filter and grouping can be answered.
CUBE_KEYS = ("disease", "source", "age_at_il2", "sex", "ecog", "histology", "braf_v600", "brain_mets", "n_met_sites",
             "prior_pd1_pdl1", "prior_pd1_agent", "line_of_il2", "ldh_category", "bor", "os_months", "os_event")


def _digest(counts) -> str:
    import hashlib

    return hashlib.sha256(pd.util.hash_pandas_object(counts.table, index=False).values.tobytes()).hexdigest()[:16]


def _km_digest(km, chisq) -> str:
    """Hash of every group's Kaplan-Meier table (all columns, as float64 bytes), median and CI, and the chi-square."""
    import hashlib

    h = hashlib.sha256(repr(chisq).encode())
    for label in sorted(km, key=str):
        r = km[label]
        h.update(f"|{label}|{r.median!r}|{r.median_ci!r}|".encode())
        h.update(np.ascontiguousarray(r.table.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()[:16]


def timed_draws(src, draws: int, seed: int, checked: int) -> dict:
    """Warm-up, then KM + log-rank per seeded sidebar draw on ``src``: wall and client CPU seconds, and per checked
    draw [counts hash, chi-square, patients, KM hash]."""
    from bench.datasets import sidebar_draws
    from il2lib.survival.counts import kaplan_meier_counts, logrank_counts

    src.survival_counts("os", None, group="disease")  # warm-up: the dashboard's source is long-lived
    times, cpu, checks = [], [], []
    for k, (f, group) in enumerate(sidebar_draws(seed, draws)):
        t0, c0 = time.perf_counter(), time.process_time()
        counts = src.survival_counts("os", f, group=group)
        km = kaplan_meier_counts(counts)
        chisq = logrank_counts(counts).statistic if len(counts.groups) > 1 else None
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if k < checked:
            checks.append([_digest(counts), chisq, counts.n, _km_digest(km, chisq)])
    return {"times": times, "cpu": cpu, "checks": checks}


def form_child(mode: str, form: str, folder: str, threads: int, draws: int, seed: int, checked: int) -> None:
    """``build``: open (build) the stored form once; ``query``: time the draws on it (store already built)."""
    import shutil

    from il2lib.sources import DuckDBSource

    directory = STORE_DIR / Path(folder).name / form
    if mode == "build":  # always a fresh build, so its time and memory are measured
        shutil.rmtree(directory, ignore_errors=True)
    start = time.perf_counter()
    src = DuckDBSource(folder, threads=threads, memory_limit="1GB", store=form, store_directory=directory,
                       store_memory_limit=os.environ.get("IL2_BENCH_BUILD_MEMORY", "1GB"))
    out = {"open_s": time.perf_counter() - start}
    if src.store is not None:
        out.update(size_mib=src.store.size_bytes / 2**20, built=src.store.built, build_s=src.store.build_seconds)
    else:
        out["size_mib"] = sum(f.stat().st_size for f in Path(folder).glob("*.parquet")) / 2**20
    if mode == "query":
        out.update(timed_draws(src, draws, seed, checked))
    src.close()
    out["peak_mib"] = _peak_rss_mib()
    print(json.dumps(out))


def cube_child(folder: str, threads: int, draws: int, seed: int, checked: int) -> None:
    """Form (c): counts per (every filterable column, time, event), queried with SUM(n); measured, not shipped."""
    import duckdb

    from bench.datasets import sidebar_draws
    from il2lib.sources import sql
    from il2lib.sources.sql import kind_of_sql_type
    from il2lib.survival.counts import counts_from_aggregate, kaplan_meier_counts, logrank_counts

    STORE_DIR.mkdir(parents=True, exist_ok=True)
    path = STORE_DIR / f"cube-{Path(folder).name}.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path), config={"threads": threads, "memory_limit": "1GB",
                                            "temp_directory": str(STORE_DIR / "spill"),
                                            "preserve_insertion_order": False})
    start = time.perf_counter()
    keys = ", ".join(f'"{k}"' for k in CUBE_KEYS)
    con.execute(f"CREATE TABLE cube AS SELECT {keys}, count(*) AS n FROM read_parquet('{folder}/*.parquet') "
                f"GROUP BY ALL")
    con.execute("CHECKPOINT")
    out = {"build_s": time.perf_counter() - start, "cube_rows": con.execute("SELECT count(*) FROM cube").fetchone()[0]}
    con.close()
    out["size_mib"] = path.stat().st_size / 2**20
    con = duckdb.connect(str(path), read_only=True, config={"threads": threads, "memory_limit": "1GB"})
    kinds = {n: kind_of_sql_type(t) for n, t, *_ in con.execute("DESCRIBE cube").fetchall() if n != "n"}
    times, checks = [], []
    for k, (f, group) in enumerate(sidebar_draws(seed, draws)):
        t0 = time.perf_counter()
        query = sql.survival_aggregate('"cube"', kinds, "os_months", "os_event", f, group)
        frame = con.execute(query.text.replace('COUNT(*) AS "n"', 'SUM("n") AS "n"'), list(query.params)).df()
        counts = counts_from_aggregate(frame, grouped=True)
        km = kaplan_meier_counts(counts)
        chisq = logrank_counts(counts).statistic if len(counts.groups) > 1 else None
        times.append(time.perf_counter() - t0)
        if k < checked:
            checks.append([_digest(counts), chisq, counts.n, _km_digest(km, chisq)])
    con.close()
    out.update(times=times, checks=checks, peak_mib=_peak_rss_mib())
    print(json.dumps(out))


def lifelines_child(folder: str, draws: int, seed: int, checked: int) -> None:
    """pandas + lifelines: the frame loaded once (timed apart), then per draw apply_filter, KM fits, log-rank."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    from bench.datasets import sidebar_draws
    from il2lib.cohort import apply_filter, line_groups

    start = time.perf_counter()
    df = pd.read_parquet(folder)
    out = {"load_s": time.perf_counter() - start}
    times, checks = [], []
    for k, (f, group) in enumerate(sidebar_draws(seed, draws)):
        t0 = time.perf_counter()
        sub = apply_filter(df, f)
        g = line_groups(sub[group]) if group == "line_of_il2" else sub[group]
        keep = sub["os_months"].notna() & g.notna()
        t, e, g = sub["os_months"][keep].to_numpy(), sub["os_event"][keep].to_numpy(dtype=bool), g[keep]
        for value in pd.unique(g):
            KaplanMeierFitter().fit(t[(g == value).to_numpy()], e[(g == value).to_numpy()])
        chisq = float(multivariate_logrank_test(t, g.astype(str).to_numpy(), e).test_statistic) \
            if g.nunique() > 1 else None
        times.append(time.perf_counter() - t0)
        if k < checked:
            checks.append([None, chisq, int(keep.sum())])
    out.update(times=times, checks=checks, peak_mib=_peak_rss_mib())
    print(json.dumps(out))


ENGINES = ("postgres", "spark")
ENGINE_LABELS = {"postgres": "postgres (server, heap table)", "spark": "spark local[2] (Parquet in place)"}
_PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "BIGINT": "bigint", "INTEGER": "integer",
             "BOOLEAN": "boolean", "DATE": "date"}


def _tree_peak_mib(pid: int) -> float:
    """Peak RSS (VmHWM) of ``pid`` and its descendants, summed (the JVM a Spark session starts is a child)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_tree_peak_mib(int(c)) for c in children)


def load_postgres(conninfo: str, folder: str) -> dict:
    """Create ``il2_registry`` with the Parquet's columns and load the rows by COPY (CSV written by DuckDB)."""
    import duckdb
    import psycopg

    glob_sql = "'" + f"{folder}/*.parquet".replace("'", "''") + "'"
    con = duckdb.connect()
    columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet({glob_sql})").fetchall()
    ddl = ", ".join(f'"{name}" {_PG_TYPES[kind]}' for name, kind, *_ in columns)
    csv = STORE_DIR / f"pg-load-{Path(folder).name}.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    out, t0 = {}, time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_parquet({glob_sql})) TO '{csv}' (FORMAT csv, HEADER true)")
    con.close()
    out["csv_s"], t0 = time.perf_counter() - t0, time.perf_counter()
    try:
        with psycopg.connect(conninfo) as pg:
            pg.execute(f"CREATE TABLE il2_registry ({ddl})")
            with pg.cursor() as cur, cur.copy("COPY il2_registry FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    open(csv, "rb") as source:
                while chunk := source.read(1 << 22):
                    copy.write(chunk)
        out["copy_s"], t0 = time.perf_counter() - t0, time.perf_counter()
        with psycopg.connect(conninfo, autocommit=True) as pg:
            pg.execute("VACUUM ANALYZE il2_registry")
            out["analyze_s"] = time.perf_counter() - t0
            out["size_mib"] = pg.execute("SELECT pg_total_relation_size('il2_registry')").fetchone()[0] / 2**20
            out["rows"] = pg.execute("SELECT count(*) FROM il2_registry").fetchone()[0]
    finally:
        csv.unlink(missing_ok=True)
    return out


def engine_child(engine: str, folder: str, draws: int, seed: int, checked: int) -> None:
    """PostgreSQL: start a throw-away server, load the rows, time the draws, drop the server. Spark: start a local
    session, read the Parquet in place, time the draws, stop."""
    out: dict = {}
    if engine == "postgres":
        sys.path.insert(0, str(ROOT / "tests"))
        from il2lib.sources.postgres import PostgresSource
        from support.postgres import start_local_postgres

        t0 = time.perf_counter()
        server = start_local_postgres()
        try:
            out["start_s"] = time.perf_counter() - t0
            load = load_postgres(server.conninfo, folder)
            out.update(load, build_s=load["csv_s"] + load["copy_s"] + load["analyze_s"])
            src = PostgresSource(server.url, statement_timeout=0)  # measured, not cancelled at the 30 s default
            out.update(timed_draws(src, draws, seed, checked))
            src.close()
        finally:
            server.stop()
        out["note"] = (f"server start {out['start_s']:.1f} s; build = CSV export {load['csv_s']:.1f} s + COPY "
                       f"{load['copy_s']:.1f} s + VACUUM ANALYZE {load['analyze_s']:.1f} s; PostgreSQL default "
                       "settings; peak = the Python client (the DuckDB CSV export of the load included), not the server")
    else:
        from il2lib.sources.spark import LOCAL_CONFIG, SparkSource, spark_session

        t0 = time.perf_counter()
        spark = spark_session()
        out["start_s"], t0 = time.perf_counter() - t0, time.perf_counter()
        src = SparkSource(spark, path=folder, statement_timeout=0)
        out["build_s"] = time.perf_counter() - t0
        out["size_mib"] = sum(f.stat().st_size for f in Path(folder).glob("*.parquet")) / 2**20
        out.update(timed_draws(src, draws, seed, checked))
        src.close()
        out["jvm_python_peak_mib"] = _tree_peak_mib(os.getpid())
        spark.stop()
        out["note"] = (f"session start {out['start_s']:.1f} s; build = open (schema read) only; driver memory "
                       f"{LOCAL_CONFIG['spark.driver.memory']}; peak = Python + JVM")
    out["peak_mib"] = out.pop("jvm_python_peak_mib", None) or _peak_rss_mib()
    print(json.dumps(out))


def _run_child(*args) -> dict:
    done = subprocess.run([sys.executable, __file__, "--form-child", *map(str, args)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def forms_benchmark(sizes, threads: int, draws: int, seed: int, checked: int, lifelines_max: float,
                    cube_max: float, forms=FORMS, baseline_draws: int | None = None, engines=(),
                    engine_max: float = 1e7, engine_draws: int | None = None) -> str:
    from bench.datasets import registry_parquet

    load_start, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, notes = [], []
    for size in sizes:
        folder = str(registry_parquet(size))
        results = {}
        for form in ("files",) + tuple(f for f in forms if f != "files"):
            build = _run_child("build", form, folder, threads, draws, seed, checked) if form != "files" else {}
            k = (baseline_draws or draws) if form == "files" else draws
            query = _run_child("query", form, folder, threads, k, seed, min(checked, k))
            results[form] = query | {"build_s": build.get("build_s"), "build_peak_mib": build.get("peak_mib")}
        if size <= cube_max:
            results["counts (cube)"] = _run_child("cube", "-", folder, threads, draws, seed, checked)
        if size <= lifelines_max:
            results["pandas+lifelines"] = _run_child("lifelines", "-", folder, threads, min(draws, 5), seed, checked)
        for engine in engines if size <= engine_max else ():
            k = engine_draws or draws
            results[ENGINE_LABELS[engine]] = _run_child("engine", engine, folder, threads, k, seed, min(checked, k))
        reference = results["files"]["checks"]
        for form, r in results.items():
            same = None
            if form in ENGINE_LABELS.values():  # other engines: KM tables, chi-square and n bit for bit
                same = len(r["checks"]) > 0 and all(a[1:] == b[1:] for a, b in zip(r["checks"], reference))
            elif form != "pandas+lifelines":
                same = all(a == b for a, b in zip(r["checks"], reference))
            else:
                same = max(abs(a[1] - b[1]) / b[1] for a, b in zip(r["checks"], reference) if b[1]) < 1e-6
            times = np.asarray(r["times"])
            rows.append({"rows": size, "form": form, "build_s": r.get("build_s") or r.get("load_s"),
                         "size_mib": r.get("size_mib"), "cube_rows": r.get("cube_rows"),
                         "peak_mib_build": r.get("build_peak_mib"), "peak_mib_query": r["peak_mib"],
                         "median_s": float(np.median(times)), "p95_s": float(np.quantile(times, 0.95)),
                         "median_cpu_s": float(np.median(r["cpu"])) if "cpu" in r else None,
                         "draws": len(times), "checked": min(len(r["checks"]), len(reference)),
                         "identical": "✓" if same else "✗"})
            print(json.dumps(rows[-1] | {"note": r.get("note")}), flush=True)
            if r.get("note"):
                notes.append(f"* {size:.0e} {form}: {r['note']}")
    table = pd.DataFrame(rows)
    header = (f"Registry stored forms ({platform.machine()}, {os.cpu_count()} cores, DuckDB threads={threads}, "
              f"memory_limit 1GB; KM + log-rank per random sidebar draw (seed {seed}): wall s; identical = counts "
              f"table hash and chi-square equal to the files read in place on the first {checked} draws "
              "(lifelines: chi-square within 1e-6); build_s for pandas = loading the frame)")
    build_memory = os.environ.get("IL2_BENCH_BUILD_MEMORY", "1GB")
    load_end = os.getloadavg()
    load = (f"Run started {started}, ended {time.strftime('%H:%M UTC', time.gmtime())}; load average (1/5/15 min) "
            f"at start {'/'.join(f'{v:.2f}' for v in load_start)}, at end {'/'.join(f'{v:.2f}' for v in load_end)}"
            " (2 cores shared with other work)")
    if engines:
        header += ("; engines: identical = every draw's Kaplan-Meier tables (all columns), medians and log-rank "
                   "chi-square bit for bit equal to DuckDB on the files; median_cpu_s = client process only")
    return (header + f"; store build memory_limit {build_memory}\n\n{load}\n\n" + _markdown(table)
            + ("\n\n" + "\n".join(notes) if notes else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--lifelines-max", type=float, default=1e7)
    p.add_argument("--generate-only", action="store_true", help="write the Parquet data and stop")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--forms", action="store_true",
                   help="stored forms (files, duckdb-file, parquet, counts cube) on random sidebar draws")
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--checked", type=int, default=5, help="draws whose numbers are compared across forms")
    p.add_argument("--cube-max", type=float, default=1e7)
    p.add_argument("--form-names", nargs="+", default=list(FORMS), help="stored forms to measure")
    p.add_argument("--baseline-draws", type=int, help="draws on the files read in place (default --draws)")
    p.add_argument("--engines", nargs="*", default=[], choices=ENGINES, help="other engines, in the --forms run")
    p.add_argument("--engine-max", type=float, default=1e7, help="largest size run on the other engines")
    p.add_argument("--engine-draws", type=int, help="draws on the other engines (default --draws)")
    p.add_argument("--out", default="registry_forms.md", help="results file under bench/results/")
    p.add_argument("--form-child", nargs=7, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.form_child:
        mode, form, folder, threads, draws, seed, checked = args.form_child
        numbers = int(threads), int(draws), int(seed), int(checked)
        if mode == "cube":
            return cube_child(folder, *numbers)
        if mode == "lifelines":
            return lifelines_child(folder, *numbers[1:])
        if mode == "engine":
            return engine_child(form, folder, *numbers[1:])
        return form_child(mode, form, folder, *numbers)
    if args.forms:
        text = forms_benchmark([int(s) for s in args.sizes], args.threads, args.draws, args.seed, args.checked,
                               args.lifelines_max, args.cube_max, tuple(args.form_names), args.baseline_draws,
                               tuple(args.engines), args.engine_max, args.engine_draws)
        print(text)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / args.out).write_text(text + "\n")
        return None
    if args.child:
        method, folder, threads, repeats = args.child
        return child(method, folder, int(threads), int(repeats))
    if args.generate_only:
        for size in (int(s) for s in args.sizes):
            print(f"{size:,}: {ensure_data(size)}", flush=True)
        return None
    check_against_loader()
    rows = []
    for size in (int(s) for s in args.sizes):
        folder = ensure_data(size)
        disk = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 2**20
        duck, bare = measure("duckdb", folder, args.threads, args.repeats), measure("groupby", folder,
                                                                                   args.threads, args.repeats)
        life = measure("lifelines", folder, args.threads, 1) if size <= args.lifelines_max else None
        diff = agreement(duck, life) if life else (float("nan"), float("nan"))
        rows.append({"patients": size, "parquet_mib": round(disk), "duckdb_s": duck["seconds"],
                     "duckdb_cpu_s": duck["cpu_seconds"], "groupby_floor_s": bare["seconds"],
                     "duckdb_peak_mib": round(duck["peak_mib"]),
                     "lifelines_s": life["seconds"] if life else None,
                     "lifelines_cpu_s": life["cpu_seconds"] if life else None,
                     "lifelines_peak_mib": round(life["peak_mib"]) if life else None,
                     "speedup": life["seconds"] / duck["seconds"] if life else None,
                     "max_abs_S_diff": diff[0], "chisq_rel_diff": diff[1]})
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    header = (f"Registry benchmark ({platform.machine()}, {os.cpu_count()} cores, DuckDB threads={args.threads}; "
              f"wall s, best of {args.repeats} for DuckDB, 1 run for lifelines; peak RSS per path)")
    text = header + "\n\n" + _markdown(table)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "registry.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
