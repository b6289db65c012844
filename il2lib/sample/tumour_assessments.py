"""Long tumour-assessment table for a synthetic cohort, consistent with its patient rows.

Per patient: a baseline scan 0-27 days before the IL-2 start, then scans every 8 weeks (12 weeks after the first
year) up to ``date_last_assessment``, with a scan on ``date_first_response`` and on ``date_progression``. The sums
of target-lesion diameters follow the patient's best overall response under RECIST 1.1: CR reaches 0 mm and PR
-30% or less by the first-response date, each confirmed by the next scan >= 4 weeks later; SD stays between -30%
and +20% of its nadir with a scan at least 6 weeks after the start; progression is +20% and +5 mm over the nadir or
a new lesion; NE patients (clinical progression before their first scan) have only the baseline. Every size is an
[assumption]: the papers publish none.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.sample._common import NO, YES

TUMOUR_COLUMNS = tuple(c.name for c in schema.TUMOUR_COLUMNS)
#: Scan interval (days) in the first year, then after it; the last scan before a dated one is >= 14 days earlier.
INTERVAL, LATE_INTERVAL, GAP = 56, 84, 14
SD_FIRST_SCAN = 42  # RECIST 1.1 SD minimum: 6 weeks
_STREAM = 19  # this table's random stream, beside the cohort's seed


def _days(frame: pd.DataFrame, name: str, start: pd.Series) -> np.ndarray:
    return (pd.to_datetime(frame[name], format="%Y-%m-%d") - start).dt.days.to_numpy(float)


def _schedule(rng: np.random.Generator, first: int, until: float) -> list[int]:
    """Scan days from ``first`` on, every 8 weeks (12 after day 365) +- 3 days, up to ``until`` - :data:`GAP`."""
    days, day = [], first
    while day <= until - GAP:
        days.append(day)
        day += (INTERVAL if day < 365 else LATE_INTERVAL) + int(rng.integers(-3, 4))
    return days


def _no_pd(total: float, nadir: float) -> float:
    """The largest sum below progression over ``nadir`` (+20% and +5 mm), if ``total`` is above it."""
    return min(total, math.ceil(nadir + max(5.0, 0.2 * nadir)) - 1)


def _progression(rng: np.random.Generator, nadir: float) -> tuple[float, bool]:
    """A progression scan: a new lesion (sum about the nadir), or the sum +25-60% and >= 6 mm over the nadir."""
    if nadir == 0 or rng.random() < 0.4:
        return float(round(nadir * rng.uniform(0.95, 1.15))), True
    return float(max(math.ceil(nadir * rng.uniform(1.25, 1.6)), nadir + 6)), False


def _patient(rng: np.random.Generator, bor: str, first_response: float, progression: float,
             last: float) -> list[tuple[int, float, bool]]:
    """(day from IL-2 start, sum in mm, new lesions) of one patient's scans, baseline first."""
    base = float(rng.integers(25, 181))
    scans = [(-int(rng.integers(0, 28)), base, False)]
    if bor == "NE" or np.isnan(last):
        return scans
    end = progression if not np.isnan(progression) else last
    nadir = base

    def add(day: int, total: float, new: bool = False) -> None:
        nonlocal nadir
        scans.append((int(day), float(total), new))
        nadir = min(nadir, total)

    if bor == "PD":
        add(end, *_progression(rng, base))
        return scans
    if bor == "SD":
        days = _schedule(rng, INTERVAL, end) or [int(rng.integers(SD_FIRST_SCAN, max(SD_FIRST_SCAN, end - GAP) + 1))]
        for day in days:
            total = max(round(base * (1 + rng.uniform(-0.25, 0.10))), math.floor(base * 0.7) + 1)
            add(day, _no_pd(total, nadir))
    else:  # CR or PR: stable before the first response, then shrinking
        for day in _schedule(rng, INTERVAL, first_response):
            add(day, _no_pd(max(round(base * (1 - rng.uniform(0.05, 0.25))), math.floor(base * 0.7) + 1), nadir))
        complete_now = bor == "CR" and rng.random() < 0.3
        add(first_response, 0.0 if complete_now else float(math.floor(base * (1 - rng.uniform(0.32, 0.6)))))
        first_next = int(first_response) + INTERVAL + int(rng.integers(-3, 4))
        for day in _schedule(rng, first_next, end):
            if bor == "CR":
                total = 0.0
            else:
                total = float(max(1, min(math.floor(base * 0.7), round(nadir * rng.uniform(0.85, 1.1)))))
            add(day, _no_pd(total, nadir))
    if not np.isnan(progression):
        add(end, *_progression(rng, nadir))
    elif end > scans[-1][0]:
        add(end, 0.0 if bor == "CR" else scans[-1][1])
    return scans


def tumour_assessments(cohort: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Tumour assessments (patient_id, assessment_date, target_sum_mm, new_lesions as Yes/No) of a raw synthetic
    cohort (:func:`il2lib.sample.proclaim_cohort`, :func:`il2lib.sample.community_cohort`), seeded and pure."""
    rng = np.random.default_rng([seed, _STREAM])
    start = pd.to_datetime(cohort[schema.DATE_IL2_START], format="%Y-%m-%d")
    first = _days(cohort, schema.DATE_FIRST_RESPONSE, start)
    progression = _days(cohort, schema.DATE_PROGRESSION, start)
    last = _days(cohort, schema.DATE_LAST_ASSESSMENT, start)
    rows = []
    for k, (pid, bor) in enumerate(zip(cohort[schema.PATIENT_ID], cohort[schema.BOR])):
        for day, total, new in _patient(rng, bor, first[k], progression[k], last[k]):
            rows.append((pid, (start.iat[k] + pd.Timedelta(days=day)).strftime("%Y-%m-%d"), int(total),
                         YES if new else NO))
    return pd.DataFrame(rows, columns=list(TUMOUR_COLUMNS))
