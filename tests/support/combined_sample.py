"""The bundled combined sample, loaded once, for tests that analyse it directly."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference"
SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"


@lru_cache(maxsize=1)
def _sample() -> pd.DataFrame:
    from il2lib import load_cohort

    return load_cohort(SAMPLE).data


def sample_data() -> pd.DataFrame:
    """The combined sample's analysed rows (a fresh copy each call)."""
    return _sample().copy()


def resampled_file(n: int, rng: np.random.Generator, id_prefix: str) -> pd.DataFrame:
    """The sample file's text cells resampled to ``n`` rows, ids ``<id_prefix>000000`` upwards (to be made messy)."""
    source = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
    frame["patient_id"] = [f"{id_prefix}{i:06d}" for i in range(n)]
    return frame
