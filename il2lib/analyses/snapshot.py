"""The loaded cohort at a glance (the Data page's snapshot): disease split, prior PD-1/PD-L1, the years of
IL-2 start and the median follow-up."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from il2lib import schema
from il2lib.survival import median_followup

UNKNOWN = "unknown"


@dataclass(frozen=True)
class CohortSnapshot:
    """Counts reconcile: ``disease`` and ``prior_pd1`` each add up to ``n``."""

    n: int
    disease: dict[str, int]  # each of schema.DISEASES, then "unknown"
    prior_pd1: dict[str, int]  # "yes", "no", "unknown"
    il2_years: tuple[int, int] | None  # first and last year of IL-2 start; None without dates
    followup_months: float | None  # median follow-up (reverse Kaplan-Meier on overall survival); None if not reached


def cohort_snapshot(data: pd.DataFrame) -> CohortSnapshot:
    """Snapshot of the analysed patients ``data`` (one row per patient, as :func:`load_cohort` returns them)."""
    n = len(data)
    disease = data[schema.DISEASE].astype(object) if schema.DISEASE in data else pd.Series(None, index=data.index)
    by_disease = {level: int((disease == level).sum()) for level in schema.DISEASES}
    by_disease[UNKNOWN] = n - sum(by_disease.values())
    prior = (data[schema.PRIOR_PD1].astype("boolean") if schema.PRIOR_PD1 in data
             else pd.Series(pd.NA, index=data.index, dtype="boolean"))
    yes = int(prior.sum())  # missing values skipped
    no = int(prior.count()) - yes
    years = (pd.to_datetime(data[schema.DATE_IL2_START], errors="coerce").dropna().dt.year
             if schema.DATE_IL2_START in data else pd.Series(dtype="int64"))
    return CohortSnapshot(n=n, disease=by_disease, prior_pd1={"yes": yes, "no": no, UNKNOWN: n - yes - no},
                          il2_years=(int(years.min()), int(years.max())) if len(years) else None,
                          followup_months=_median_followup(data))


def _median_followup(data: pd.DataFrame) -> float | None:
    if schema.OS_MONTHS not in data or schema.OS_EVENT not in data:
        return None
    os = data[[schema.OS_MONTHS, schema.OS_EVENT]].astype("float64").dropna()
    if not len(os):
        return None
    median = median_followup(os[schema.OS_MONTHS], os[schema.OS_EVENT]).median
    return float(median) if median is not None and math.isfinite(median) else None
