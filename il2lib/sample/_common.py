"""Shared, vectorised building blocks of the synthetic sample generators.

Every function takes a :class:`numpy.random.Generator` and numpy arrays, so the same code serves
the 57/50-patient calibrated cohorts and the million-row benchmark cohort. Times are kept as day
offsets from the IL-2 start (float, ``NaN`` = absent) until :func:`to_raw_frame` turns them into
ISO dates, ``Yes``/``No`` strings and the column order of the data dictionary.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema

MONTH = schema.DAYS_PER_MONTH
YES, NO = "Yes", "No"

#: Raw input columns in data-dictionary order (the given-time columns are for exports without dates).
_GIVEN_TIMES = {schema.OS_MONTHS, schema.PFS_MONTHS, schema.PFS_EVENT, schema.DOR_MONTHS, schema.DOR_EVENT}
RAW_COLUMNS: tuple[str, ...] = tuple(c.name for c in schema.PATIENT_COLUMNS if c.name not in _GIVEN_TIMES)

#: Decimals written for each float column (byte-stable CSV output).
DECIMALS = {schema.SD_DURATION: 1, schema.BASELINE_ALC: 2, schema.PEAK_ALC: 2, schema.PEAK_TEMP: 1}
INT_COLUMNS = (schema.AGE, schema.ECOG, schema.N_MET_SITES, schema.PRIOR_LINES, schema.N_COURSES, schema.N_CYCLES,
               schema.DOSES_C1, schema.DOSES_C2, schema.TOTAL_DOSES, schema.BASELINE_LDH, schema.LDH_ULN,
               schema.BASELINE_PLATELETS, schema.PLATELET_NADIR, schema.MAX_CTCAE)

MEL_HISTOLOGY = (("cutaneous", 0.72), ("mucosal", 0.07), ("acral", 0.07), ("uveal", 0.03), ("unknown primary", 0.11))
RCC_HISTOLOGY = (("clear cell", 0.90), ("papillary", 0.06), ("chromophobe", 0.02), ("other", 0.02))
COURSE_DAYS = 84  # a new course every ~12 weeks; cycle 2 of a course starts on day 14
MAX_COURSES = 3


def months_to_days(months) -> np.ndarray:
    """Whole days for a time in months (x 30.4375, rounded to the nearest day)."""
    return np.rint(np.asarray(months, dtype=float) * MONTH)


def uniform_days(rng: np.random.Generator, low, high, size: int) -> np.ndarray:
    """Whole days drawn uniformly in [low, high] (arrays broadcast)."""
    return np.floor(rng.uniform(low, np.asarray(high, dtype=float) + 1, size))


def choose(rng: np.random.Generator, options: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    """Draw labels with the given probabilities (object array)."""
    labels = np.array([o for o, _ in options], dtype=object)
    probs = np.array([p for _, p in options])
    return labels[rng.choice(len(labels), size=size, p=probs / probs.sum())]


def pick(labels, index) -> np.ndarray:
    """Object array ``labels[index]`` (shares one string object per label: fast for a million rows)."""
    return np.array(labels, dtype=object)[np.asarray(index, dtype=int)]


def iso_dates(start: np.ndarray, offset_days: np.ndarray | None = None) -> np.ndarray:
    """ISO ``YYYY-MM-DD`` strings for ``start + offset_days``; ``None`` where the offset is NaN.

    Each distinct day is formatted once and shared, so a million rows cost a few thousand strings.
    """
    dates = np.asarray(start, dtype="datetime64[D]")
    missing = np.zeros(dates.shape, dtype=bool)
    if offset_days is not None:
        offset = np.asarray(offset_days, dtype=float)
        missing = np.isnan(offset)
        dates = dates + np.where(missing, 0, offset).astype("timedelta64[D]")
    unique, inverse = np.unique(dates, return_inverse=True)
    out = pick(np.datetime_as_string(unique, unit="D").tolist(), inverse.reshape(dates.shape))
    out[missing] = None
    return out


def yes_no(mask, valid=None) -> np.ndarray:
    """``Yes``/``No`` strings from a boolean array; ``None`` where ``valid`` is False."""
    out = pick((NO, YES), np.asarray(mask, dtype=bool))
    if valid is not None:
        out[~np.asarray(valid, dtype=bool)] = None
    return out


def baseline(rng: np.random.Generator, is_mel: np.ndarray) -> dict[str, np.ndarray]:
    """Demographics, disease characteristics and metastatic sites (no outcome dependence).

    Melanoma-only columns (BRAF, AJCC M) and RCC-only columns (IMDC) are ``None`` for the other
    disease. The AJCC M category follows the sites: brain -> M1d, liver/bone -> M1c, lung -> M1b,
    otherwise M1a.
    """
    n = is_mel.size
    age = np.where(is_mel, rng.normal(53, 11, n), rng.normal(57, 8.5, n))
    male = rng.random(n) < np.where(is_mel, 0.62, 0.72)
    sites = {col: rng.random(n) < np.where(is_mel, p_mel, p_rcc) for col, p_mel, p_rcc in (
        (schema.LUNG_METS, 0.55, 0.75), (schema.LIVER_METS, 0.28, 0.18),
        (schema.BONE_METS, 0.15, 0.30), (schema.BRAIN_METS, 0.06, 0.03))}
    other_sites = rng.poisson(1.0, n)
    n_sites = sum(s.astype(int) for s in sites.values()) + other_sites
    n_sites = np.maximum(n_sites, 1)
    ajcc = pick(("M1d", "M1c", "M1b", "M1a"), np.select(
        [sites[schema.BRAIN_METS], sites[schema.LIVER_METS] | sites[schema.BONE_METS], sites[schema.LUNG_METS]],
        [0, 1, 2], 3))
    histology = np.where(is_mel, choose(rng, MEL_HISTOLOGY, n), choose(rng, RCC_HISTOLOGY, n))
    imdc = choose(rng, (("favorable", 0.30), ("intermediate", 0.58), ("poor", 0.12)), n)
    braf = choose(rng, (("mutant", 0.42), ("wild-type", 0.52), ("unknown", 0.06)), n)
    out = {
        schema.AGE: np.clip(np.rint(age), 19, 78).astype(int),
        schema.SEX: pick(("F", "M"), male),
        schema.ECOG: rng.choice(3, size=n, p=[0.68, 0.30, 0.02]),
        schema.HISTOLOGY: histology,
        schema.IMDC_RISK: np.where(is_mel, None, imdc),
        schema.BRAF: np.where(is_mel, braf, None),
        schema.N_MET_SITES: n_sites,
        schema.AJCC_M: np.where(is_mel, ajcc, None),
        schema.RESPONSE_CRITERIA: pick(("irRC", "RECIST1.1"), rng.random(n) < 0.9),
    }
    out.update({col: yes_no(mask) for col, mask in sites.items()})
    return out


def labs(rng: np.random.Generator, is_mel: np.ndarray, benefit: np.ndarray, uln: np.ndarray,
         nadir_ratio: float) -> dict[str, np.ndarray]:
    """Laboratory values and fever; only the platelet nadir depends on benefit.

    ``nadir_ratio`` is the multiplicative shift of the median platelet nadir in patients with
    benefit (< 1 gives the lower nadir of the community paper).
    """
    n = is_mel.size
    plt_base = np.clip(rng.normal(255, 60, n), 150, 450)
    nadir = np.exp(rng.normal(np.log(58), 0.45, n)) * np.where(benefit, nadir_ratio, 1.0)
    nadir = np.clip(np.minimum(nadir, plt_base - 40), 8, None)
    ldh = uln * np.exp(rng.normal(np.where(is_mel, np.log(0.95), np.log(0.85)), np.where(is_mel, 0.40, 0.30), n))
    alc = np.clip(np.exp(rng.normal(np.log(1.5), 0.35, n)), 0.3, 4.5)
    peak_alc = np.clip(alc * np.exp(rng.normal(np.log(3.5), 0.40, n)), alc * 1.2, 30)
    return {
        schema.BASELINE_LDH: np.rint(np.clip(ldh, 80, 9000)).astype(int),
        schema.LDH_ULN: np.asarray(uln, dtype=int),
        schema.BASELINE_PLATELETS: np.rint(plt_base).astype(int),
        schema.PLATELET_NADIR: np.rint(nadir).astype(int),
        schema.BASELINE_ALC: np.round(alc, 2),
        schema.PEAK_ALC: np.round(peak_alc, 2),
        schema.PEAK_TEMP: np.round(np.clip(rng.normal(39.2, 0.5, n), 37.6, 40.8), 1),
    }


def dose_matrix(rng: np.random.Generator, n: int) -> np.ndarray:
    """Doses given in each of up to ``2 * MAX_COURSES`` cycles (14 planned, held for toxicity)."""
    first = np.clip(np.rint(rng.normal(10.2, 2.2, (n, 1))), 2, 14)
    later = np.clip(np.rint(rng.normal(9.3, 2.4, (n, 2 * MAX_COURSES - 1))), 1, 14)
    return np.hstack([first, later]).astype(int)


def treatment(rng: np.random.Generator, doses: np.ndarray, wanted_courses: np.ndarray,
              on_treatment_days: np.ndarray) -> dict[str, np.ndarray]:
    """Courses, cycles and doses, limited to the time a patient stayed on treatment.

    A course (two cycles, day 1 and day 15) starts every ``COURSE_DAYS`` days while the patient is
    progression-free and alive (``on_treatment_days`` from the IL-2 start); 10% of one-course
    patients stop after cycle 1.
    """
    n = doses.shape[0]
    possible = 1 + np.floor(np.maximum(on_treatment_days - 25, 0) / COURSE_DAYS).astype(int)
    courses = np.clip(np.minimum(wanted_courses, possible), 1, MAX_COURSES)
    stop_after_one = (courses == 1) & (rng.random(n) < 0.10) & (on_treatment_days >= 0)
    cycles = 2 * courses - stop_after_one.astype(int)
    given = np.arange(doses.shape[1])[None, :] < cycles[:, None]
    return {
        schema.N_COURSES: courses,
        schema.N_CYCLES: cycles,
        schema.DOSES_C1: doses[:, 0],
        schema.DOSES_C2: np.where(cycles >= 2, doses[:, 1], -1),
        schema.TOTAL_DOSES: (doses * given).sum(axis=1),
    }


def cycle_start_day(cycle: np.ndarray) -> np.ndarray:
    """Day offset of the first dose of a 1-based cycle number."""
    cycle = np.asarray(cycle, dtype=int)
    return ((cycle - 1) // 2) * COURSE_DAYS + ((cycle - 1) % 2) * 14


def to_raw_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Assemble the raw patient frame in data-dictionary order with export-like dtypes.

    Integer columns that may be absent (``-1`` or NaN in the arrays) become nullable ``Int64``;
    float columns are rounded to :data:`DECIMALS`; text columns keep ``None`` for missing.
    """
    missing = [c for c in RAW_COLUMNS if c not in columns]
    if missing:
        raise KeyError(f"generator did not fill {missing}")
    data = {}
    for name in RAW_COLUMNS:
        values = np.asarray(columns[name])
        if name in INT_COLUMNS:
            as_float = values.astype(float)
            absent = np.isnan(as_float) | (as_float < 0)
            data[name] = pd.arrays.IntegerArray(np.where(absent, 0, as_float).astype("int64"), absent)
        elif name in DECIMALS:
            data[name] = np.round(values.astype(float), DECIMALS[name])
        else:
            data[name] = np.asarray(values, dtype=object)
    return pd.DataFrame(data, copy=False)  # fresh arrays: no need to copy (and no slow block merge)
