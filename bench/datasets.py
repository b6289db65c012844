"""Large synthetic cohorts for the dashboard benchmark: the combined sample resampled to n patients.

Rows are drawn with replacement from ``sample_data/combined_synthetic.csv`` and get new ids; each
row's IL-2 start (and last PD-1 dose) moves 0-30 days earlier, so follow-up times spread over
thousands of distinct values (as a real registry in days would) while every date keeps its order.
Written as Parquet to ``bench/data/`` (git-ignored); the baseline and the dashboard read the same file.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"
DATA_DIR = ROOT / "bench" / "data"
SHIFTED = ("date_il2_start", "date_last_pd1")


def dataset_path(n: int) -> Path:
    return DATA_DIR / f"cohort_{n}.parquet"


def make_dataset(n: int, seed: int = 2026) -> Path:
    """Write (once) and return the path of an n-patient resampled cohort."""
    path = dataset_path(n)
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    source = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed + n)
    frame = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
    frame["patient_id"] = [f"B{i:07d}" for i in range(n)]
    shift = pd.to_timedelta(rng.integers(0, 31, n), unit="D")
    for column in SHIFTED:
        dates = pd.to_datetime(frame[column].replace("", None), errors="coerce")
        frame[column] = (dates - shift).dt.strftime("%Y-%m-%d").fillna("")
    frame.to_parquet(path, index=False)
    return path


#: Synthetic registry tables for the engine benchmark (bench_registry.py): written by DuckDB SQL, not pandas.
REGISTRY_DIR = Path("/tmp/il2_bench")
_REGISTRY_SQL = """
SELECT
  CASE WHEN h(1) % 100 < 62 THEN 'melanoma' ELSE 'rcc' END AS disease,
  CASE WHEN h(2) % 10 < 7 THEN 'Centre A' WHEN h(2) % 10 < 9 THEN 'Centre B' ELSE 'St. Mary''s' END AS source,
  CASE WHEN h(3) % 200 = 0 THEN NULL ELSE CAST(18 + h(3) % 68 AS DOUBLE) END AS age_at_il2,
  CASE WHEN h(4) % 500 = 0 THEN NULL WHEN h(4) % 100 < 61 THEN 'M' ELSE 'F' END AS sex,
  CAST(h(5) % 3 AS BIGINT) AS ecog,
  ['cutaneous', 'mucosal', 'acral', 'clear cell', 'papillary', NULL][1 + h(6) % 6] AS histology,
  CASE WHEN h(7) % 3 = 0 THEN 'mutant' WHEN h(7) % 3 = 1 THEN 'wild-type' ELSE NULL END AS braf_v600,
  h(8) % 5 = 0 AS brain_mets,
  CAST(1 + h(9) % 5 AS BIGINT) AS n_met_sites,
  h(10) % 100 < 55 AS prior_pd1_pdl1,
  ['nivolumab', 'pembrolizumab', 'atezolizumab', NULL][1 + h(11) % 4] AS prior_pd1_agent,
  CAST(1 + h(12) % 4 AS BIGINT) AS line_of_il2,
  ['CR', 'PR', 'SD', 'PD', 'NE'][1 + h(13) % 5] AS bor,
  CASE WHEN h(14) % 1000 = 0 THEN NULL
       ELSE CAST(1 + (h(14) % 1825) * (1 + h(10) % 2) AS DOUBLE) / 30.4375 END AS os_months,
  h(15) % 100 < 58 AS os_event,
  CAST(1 + h(16) % 1460 AS DOUBLE) / 30.4375 AS pfs_months,
  h(17) % 100 < 80 AS pfs_event,
  ['<=1x ULN', '1-2x ULN', '>2x ULN'][1 + h(18) % 3] AS ldh_category
FROM range({start}, {stop}) t(i)
"""


def _registry_sql(start: int, stop: int) -> str:
    text = re.sub(r"h\((\d+)\)", lambda m: f"CAST(hash(i * 131 + {m.group(1)}) >> 1 AS BIGINT)", _REGISTRY_SQL)
    return text.format(start=int(start), stop=int(stop))


def registry_parquet(n: int, parts: int | None = None, root: Path = REGISTRY_DIR) -> Path:
    """A folder of Parquet files with ``n`` synthetic registry rows (once): deterministic, hash-based columns.

    Row ``i`` is the same in every size (sizes nest), so a 1e6 set is the first 1e6 rows of the 1e8 set.
    """
    import duckdb

    folder = root / f"registry_{n:.0e}".replace("+", "")
    parts = parts or max(1, n // 10_000_000)
    targets = [folder / f"part-{k:04d}.parquet" for k in range(parts)]
    if all(t.exists() for t in targets):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for k, target in enumerate(targets):
        if target.exists():
            continue
        start, stop = n * k // parts, n * (k + 1) // parts
        partial = target.with_suffix(".tmp")
        con.execute(f"COPY ({_registry_sql(start, stop)}) TO '{partial}' (FORMAT parquet)")
        partial.rename(target)
    con.close()
    return folder


#: Values the benchmark's extra-column filter draws from (raw spellings and normalised forms mixed).
EXTRA_VALUES = {"histology": ("clear-cell", "Cutaneous", "acral"), "braf_v600": ("mutant", "Wild type"),
                "source": ("St. Mary's", "centre a"), "brain_mets": ("yes", "no"), "n_met_sites": ("2", "5"),
                "ldh_category": ("<=1x ULN", ">2x ULN")}
GROUP_CHOICES = ("prior_pd1_pdl1", "disease", "sex", "line_of_il2", "histology")


def sidebar_draws(seed: int, k: int):
    """``k`` seeded (CohortFilter, group column) draws from the sidebar's set: disease, sex, line, an age
    range and one extra categorical column; the grouping is drawn too."""
    import random

    from il2lib.cohort import CohortFilter

    rng = random.Random(seed)
    for _ in range(k):
        lo = rng.randint(18, 60)
        column = rng.choice(sorted(EXTRA_VALUES))
        f = CohortFilter(disease=tuple(rng.sample(["melanoma", "rcc"], rng.randint(0, 1))),
                         sex=tuple(rng.sample(["F", "M"], rng.randint(0, 1))),
                         line_of_il2=tuple(rng.sample(["1", "2", "3+"], rng.randint(0, 2))),
                         age_range=(float(lo), float(lo + rng.randint(5, 30)) + 0.5),
                         extra=((column, tuple(rng.sample(EXTRA_VALUES[column], 1))),))
        yield f, rng.choice(GROUP_CHOICES)
