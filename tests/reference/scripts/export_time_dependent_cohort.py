"""Write the synthetic cohort's overall survival and response data for make_time_dependent.R.

Usage (from the repository root): ``.venv/bin/python tests/reference/scripts/export_time_dependent_cohort.py
tests/reference`` writes ``<outdir>/time_dependent_cohort.csv``: one row per patient of the bundled
synthetic sample (``il2lib.sample.combined_cohort`` loaded by ``load_cohort``) with os_months, os_event,
the BOR counted under the RECIST rules, the IL-2 start and first-response dates (R derives the response
time from them) and ``benefit_months``, the month at which il2lib's clinical-benefit rule switches the
patient to "benefit" (empty: never).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from il2lib import load_cohort, schema
from il2lib.sample import combined_cohort, to_csv_bytes
from il2lib.survival.time_dependent import switch_months
from il2lib.validation.recist import apply_response_rules


def cohort_frame(df: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exported columns of a loaded cohort (default: the synthetic sample as ``il2lib.sample`` makes it)."""
    if df is None:
        patients, _ = combined_cohort()
        df = load_cohort(to_csv_bytes(patients)).data
    benefit, _ = switch_months(df, "benefit")
    out = pd.DataFrame({
        "patient_id": df[schema.PATIENT_ID].astype(str),
        "date_il2_start": pd.to_datetime(df[schema.DATE_IL2_START]).dt.strftime("%Y-%m-%d"),
        "date_first_response": pd.to_datetime(df[schema.DATE_FIRST_RESPONSE]).dt.strftime("%Y-%m-%d"),
        "bor_counted": apply_response_rules(df).bor,
        "os_months": df[schema.OS_MONTHS].astype(float),
        "os_event": df[schema.OS_EVENT].astype(int),
        "benefit_months": np.where(np.isfinite(benefit), benefit, np.nan),
    })
    return out.reset_index(drop=True)


if __name__ == "__main__":
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    cohort_frame().to_csv(outdir / "time_dependent_cohort.csv", index=False, float_format="%.17g")
