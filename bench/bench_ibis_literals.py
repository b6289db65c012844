"""Filter values as bound parameters (il2lib.sources.sql) vs written into the SQL text as quoted literals (ibis).

The same counts query (``SELECT group, time, event, COUNT(*) ... WHERE <filter> GROUP BY``) for each seeded
sidebar draw of ``bench/bench_registry.py --forms`` (``bench.datasets.sidebar_draws``, seed 2026), on the same
synthetic registry Parquet (``bench.datasets.registry_parquet``, 1e7 rows by default), on DuckDB with the same
threads and memory limit, three ways:

* ``bound``: the dashboard's path, ``DuckDBSource.execute(survival_query(...))``: ``$n`` placeholders, values
  bound as parameters;
* ``inlined``: the same SQL text with each ``$n`` replaced by the value as a quoted literal (isolates the cost
  of parameters from the shape of the SQL; never done in il2lib);
* ``ibis``: the filter written as an ibis expression on the DuckDB backend, compiled by ibis (values become
  quoted literals in the SQL, ibis issue #11566) and executed; timed including compilation.

Per draw the three run in rotating order, ``--repeats`` rounds (the fastest round per way is kept: the machine is
shared); wall and process CPU seconds (all DuckDB threads) are reported. Each result goes through ``counts_from_aggregate``, Kaplan-Meier and
log-rank, and the KM tables and chi-square are compared bit for bit with ``bound``. The SQL each way produces
for the value "St. Mary's" is printed.

ibis is not a dependency of the project. Run with a separate virtualenv that sees the project's packages::

    /work/main/.venv/bin/python -m venv /tmp/ibisvenv
    echo /work/main/.venv/lib/python3.11/site-packages > /tmp/ibisvenv/lib/python3.11/site-packages/zz_il2.pth
    /tmp/ibisvenv/bin/pip install 'ibis-framework[duckdb]' -c constraints.txt
    /tmp/ibisvenv/bin/python bench/bench_ibis_literals.py [--size 1e7] [--draws 20] [--out ibis_literals.md]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_registry import _km_digest, _markdown  # noqa: E402
from il2lib import schema  # noqa: E402
from il2lib.cohort import CohortFilter, _canon_line, _norm_value  # noqa: E402
from il2lib.sources import sql  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TIME, EVENT = schema.OS_MONTHS, schema.OS_EVENT
INSTALL = ("ibis is not installed in this Python (it is not a project dependency). Make a separate virtualenv:\n"
           "  /work/main/.venv/bin/python -m venv /tmp/ibisvenv\n"
           "  echo /work/main/.venv/lib/python3.11/site-packages > "
           "/tmp/ibisvenv/lib/python3.11/site-packages/zz_il2.pth\n"
           "  /tmp/ibisvenv/bin/pip install 'ibis-framework[duckdb]' -c constraints.txt\n"
           "and run: /tmp/ibisvenv/bin/python bench/bench_ibis_literals.py")


def _ibis():
    try:
        import ibis
    except ImportError:
        print(INSTALL, file=sys.stderr)
        raise SystemExit(2)
    return ibis


def ibis_line_group(ibis, column):
    return ibis.cases((column >= 3, "3+"), (column >= 2, "2"), (column >= 1, "1"), else_=None)


def ibis_norm(column):
    """:func:`il2lib.sources.sql.norm_sql` in ibis: lower, trim, runs of space _ - . to one space, trim."""
    return column.cast("string").strip().lower().re_replace(r"[[:space:]_.-]+", " ").strip()


def ibis_condition(ibis, t, kinds, f: CohortFilter | None):
    """The ibis twin of :func:`il2lib.sources.sql.where_clause` (same rows pass)."""
    conditions = []
    missing = ibis.literal(False)
    if f is None or f.is_empty():
        return conditions
    for name, values in ((schema.DISEASE, f.disease), (schema.PRIOR_PD1, f.prior_pd1_pdl1),
                         (schema.PRIOR_PD1_AGENT, f.prior_pd1_agent), (schema.SEX, f.sex),
                         (schema.SOURCE, f.source)):
        if values:
            conditions.append(t[name].isin(list(values)) if name in kinds else missing)
    if f.line_of_il2:
        groups = [g for g in (_canon_line(v) for v in f.line_of_il2) if g]
        ok = schema.LINE_OF_IL2 in kinds and groups
        conditions.append(ibis_line_group(ibis, t[schema.LINE_OF_IL2]).isin(groups) if ok else missing)
    if f.age_range is not None:
        lo, hi = (float(v) for v in f.age_range)
        conditions.append(((t[schema.AGE] >= lo) & (t[schema.AGE] <= hi)) if schema.AGE in kinds else missing)
    if f.ecog:
        conditions.append(t[schema.ECOG].cast("float64").isin([float(e) for e in f.ecog])
                          if schema.ECOG in kinds else missing)
    for name, values in f.extra:
        if name not in kinds:
            conditions.append(missing)
            continue
        wanted = sorted({_norm_value(name, str(v)) for v in values})
        if kinds[name] == "bool":
            flags = [v == "yes" for v in wanted if v in ("yes", "no")]
            conditions.append(t[name].isin(flags) if flags else missing)
        elif kinds[name] == "number":
            numbers = [x for x in (sql._as_number(v) for v in wanted) if x is not None]
            conditions.append(t[name].cast("float64").isin(numbers) if numbers else missing)
        else:
            conditions.append(ibis_norm(t[name]).isin(wanted))
    return conditions


def ibis_counts(ibis, t, kinds, f, group):
    """The counts query of ``sql.survival_aggregate`` as an ibis expression."""
    g = ibis_line_group(ibis, t[group]) if group == schema.LINE_OF_IL2 else t[group]
    filtered = t.filter(*ibis_condition(ibis, t, kinds, f)) if f is not None and not f.is_empty() else t
    return filtered.group_by(group=g, time=t[TIME], event=t[EVENT]).aggregate(n=ibis._.count())


def inline_literals(query: sql.Query) -> str:
    """The query's text with each ``$n`` replaced by its value as a SQL literal (for the measurement only)."""
    import re

    def literal(value) -> str:
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return repr(float(value)) if isinstance(value, float) else str(int(value))
        return "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"\$(\d+)", lambda m: literal(query.params[int(m.group(1)) - 1]), query.text)


def digest(frame: pd.DataFrame) -> tuple:
    from il2lib.survival.counts import counts_from_aggregate, kaplan_meier_counts, logrank_counts

    if "stratum" not in frame.columns:
        frame = frame.assign(stratum=None)
    counts = counts_from_aggregate(frame, grouped=True)
    chisq = logrank_counts(counts).statistic if len(counts.groups) > 1 else None
    return counts.n, chisq, _km_digest(kaplan_meier_counts(counts), chisq)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=float, default=1e7)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="rounds per draw; the fastest per way is kept")
    p.add_argument("--out", help="results file under bench/results/ (default: print only)")
    args = p.parse_args()
    ibis = _ibis()

    from bench.datasets import registry_parquet, sidebar_draws
    from il2lib.sources import DuckDBSource

    load_start, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    folder = registry_parquet(int(args.size))
    src = DuckDBSource(folder, threads=args.threads, memory_limit="1GB")
    kinds = src.column_kinds()
    con = ibis.duckdb.connect(threads=args.threads, memory_limit="1GB")
    t = con.read_parquet(f"{folder}/*.parquet", union_by_name=True)

    def bound(f, group):
        return src.execute(src.survival_query(TIME, EVENT, f, group))

    def inlined(f, group):
        return src.execute(sql.Query(inline_literals(src.survival_query(TIME, EVENT, f, group))))

    def via_ibis(f, group):
        return con.execute(ibis_counts(ibis, t, kinds, f, group))

    ways = {"bound": bound, "inlined": inlined, "ibis": via_ibis}
    for way in ways.values():  # warm-up
        way(None, "disease")
    times, cpu = {name: [] for name in ways}, {name: [] for name in ways}
    compile_s, same = [], {name: 0 for name in ways}
    for k, (f, group) in enumerate(sidebar_draws(args.seed, args.draws)):
        results, wall, used = {}, {n: [] for n in ways}, {n: [] for n in ways}
        for r in range(args.repeats):
            names = list(ways)[(k + r) % 3:] + list(ways)[:(k + r) % 3]
            for name in names:
                t0, c0 = time.perf_counter(), time.process_time()
                frame = ways[name](f, group)
                wall[name].append(time.perf_counter() - t0)
                used[name].append(time.process_time() - c0)
                results[name] = digest(frame)
        for name in ways:
            times[name].append(min(wall[name]))
            cpu[name].append(min(used[name]))
        t0 = time.perf_counter()
        ibis.to_sql(ibis_counts(ibis, t, kinds, f, group))
        compile_s.append(time.perf_counter() - t0)
        for name in ways:
            same[name] += results[name] == results["bound"]
    rows = [{"way": name, "median_s": float(np.median(v)), "p95_s": float(np.quantile(v, 0.95)),
             "median_cpu_s": float(np.median(cpu[name])), "ratio_to_bound": float(np.median(v) / np.median(times["bound"])),
             "draws": len(v), "identical": f"{'✓' if same[name] == len(v) else '✗'} {same[name]}/{len(v)}"}
            for name, v in times.items()]
    paired = np.asarray(times["ibis"]) / np.asarray(times["bound"])
    paired_inline = np.asarray(times["inlined"]) / np.asarray(times["bound"])

    mary = CohortFilter(extra=((schema.SOURCE, ("St. Mary's",)),))
    ours = src.survival_query(TIME, EVENT, mary, schema.PRIOR_PD1)
    theirs = ibis.to_sql(ibis_counts(ibis, t, kinds, mary, schema.PRIOR_PD1))
    n_ours, n_ibis = (int(w(mary, schema.PRIOR_PD1)["n"].sum()) for w in (bound, via_ibis))
    n_direct = int(src._con.execute(f"SELECT count(*) FROM {src.relation} WHERE source = $1",
                                    ["St. Mary's"]).fetchone()[0])
    hostile = CohortFilter(extra=((schema.SOURCE, ("x' OR '1'='1",)),))
    n_hostile = {name: int(w(hostile, schema.PRIOR_PD1)["n"].sum()) for name, w in ways.items()}
    src.close()
    load_end = os.getloadavg()

    text = "\n".join([
        f"Filter values bound as parameters vs quoted literals (ibis {ibis.__version__}, duckdb "
        f"{__import__('duckdb').__version__}; {platform.machine()}, {os.cpu_count()} cores, DuckDB threads="
        f"{args.threads}, memory_limit 1GB) on {int(args.size):,} rows (Parquet read in place, "
        f"{folder.name}); counts query per seeded sidebar draw (seed {args.seed}), the three ways in rotating "
        f"order, fastest of {args.repeats} rounds per draw; wall s from SQL/expression to pandas frame (ibis: including compilation); identical = KM "
        "tables, medians and log-rank chi-square bit for bit equal to the bound-parameter path.",
        "",
        f"Run started {started}, ended {time.strftime('%H:%M UTC', time.gmtime())}; load average (1/5/15 min) "
        f"at start {'/'.join(f'{v:.2f}' for v in load_start)}, at end {'/'.join(f'{v:.2f}' for v in load_end)} "
        "(2 cores shared with other work).",
        "",
        _markdown(pd.DataFrame(rows)),
        "",
        f"Per-draw ratio ibis / bound: median {np.median(paired):.3f} (min {paired.min():.3f}, max "
        f"{paired.max():.3f}); inlined / bound: median {np.median(paired_inline):.3f} (min "
        f"{paired_inline.min():.3f}, max {paired_inline.max():.3f}). ibis compilation alone (to_sql): median "
        f"{np.median(compile_s) * 1000:.1f} ms.",
        "",
        f"Value \"St. Mary's\" (source, grouped by {schema.PRIOR_PD1}): rows counted bound {n_ours:,}, ibis "
        f"{n_ibis:,}, plain `source = $1` {n_direct:,}. Hostile value \"x' OR '1'='1\": rows counted "
        + ", ".join(f"{k} {v:,}" for k, v in n_hostile.items()) + ".",
        "",
        "Our SQL (values bound; the text holds a placeholder):",
        "",
        "```sql",
        ours.text,
        "```",
        f"parameters: {list(ours.params)!r}",
        "",
        "ibis's SQL (the value is inlined as a quoted literal):",
        "",
        "```sql",
        theirs,
        "```",
    ])
    print(text)
    if args.out:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
