"""Large synthetic cohorts for the dashboard benchmark: the combined sample resampled to n patients.

Rows are drawn with replacement from ``sample_data/combined_synthetic.csv`` and get new ids; each
row's IL-2 start (and last PD-1 dose) moves 0-30 days earlier, so follow-up times spread over
thousands of distinct values (as a real registry in days would) while every date keeps its order.
Written as Parquet to ``bench/data/`` (git-ignored); the baseline and the dashboard read the same file.
"""
from __future__ import annotations

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
