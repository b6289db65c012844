"""The bundled combined sample, loaded once, for tests that analyse it directly."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
