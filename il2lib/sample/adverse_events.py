"""Long-format adverse-event table for a synthetic cohort, and the patient-level summaries it implies.

One generator serves both cohorts (the PROCLAIM paper found toxicity "similar to that observed in
patients treated with HD IL-2 without prior checkpoint blockade"). Rates are [assumption]s shaped
by typical HD IL-2 toxicity [external]; none is a published figure.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.sample._common import cycle_start_day, uniform_days, yes_no

#: (CTCAE v5 term, probability per patient, probabilities of grades 1-4) for the acute toxicities.
GENERIC_AES: tuple[tuple[str, float, tuple[float, float, float, float]], ...] = (
    ("Hypotension", 0.80, (0.15, 0.45, 0.37, 0.03)),
    ("Capillary leak syndrome", 0.45, (0.00, 0.55, 0.42, 0.03)),
    ("Chills", 0.60, (0.55, 0.45, 0.00, 0.00)),
    ("Fatigue", 0.70, (0.45, 0.45, 0.10, 0.00)),
    ("Nausea", 0.55, (0.50, 0.40, 0.10, 0.00)),
    ("Vomiting", 0.45, (0.50, 0.40, 0.10, 0.00)),
    ("Diarrhea", 0.60, (0.40, 0.40, 0.20, 0.00)),
    ("Creatinine increased", 0.60, (0.40, 0.40, 0.18, 0.02)),
    ("Blood bilirubin increased", 0.40, (0.40, 0.40, 0.20, 0.00)),
    ("Acidosis", 0.30, (0.60, 0.00, 0.38, 0.02)),
    ("Pruritus", 0.35, (0.60, 0.40, 0.00, 0.00)),
    ("Rash maculo-papular", 0.30, (0.60, 0.35, 0.05, 0.00)),
    ("Confusion", 0.20, (0.50, 0.30, 0.20, 0.00)),
    ("Edema limbs", 0.30, (0.60, 0.40, 0.00, 0.00)),
    ("Atrial fibrillation", 0.06, (0.00, 0.50, 0.45, 0.05)),
    ("Hypoxia", 0.10, (0.00, 0.50, 0.45, 0.05)),
)
#: A grade-4 event in one of these terms means transfer to intensive care.
ICU_TERMS = ("Hypotension", "Capillary leak syndrome", "Acidosis", "Atrial fibrillation", "Hypoxia")
LAB_TERMS = ("Platelet count decreased", "Creatinine increased", "Blood bilirubin increased", "Acidosis")
#: autoimmune_type token -> (AE term, grade, earliest and latest onset day, steroids given)
AUTOIMMUNE_AES = {
    "vitiligo": ("Skin hypopigmentation", 1, 42, 240, False),
    "thyroiditis": ("Hypothyroidism", 2, 35, 150, False),
    "pneumonitis": ("Pneumonitis", 3, 15, 20, True),
}
AE_COLUMNS = tuple(c.name for c in schema.AE_COLUMNS)
#: CTEP attribution: the acute toxicities during dosing are "definite", the later autoimmune events "probable".
LATE_IMMUNE_TERMS = tuple(term for term, *_ in AUTOIMMUNE_AES.values())


def _patient_arrays(cohort: pd.DataFrame) -> dict[str, np.ndarray]:
    start = pd.to_datetime(cohort[schema.DATE_IL2_START], format="%Y-%m-%d").to_numpy("datetime64[D]")
    end_date = pd.to_datetime(cohort[schema.DATE_DEATH].fillna(cohort[schema.DATE_LAST_FOLLOWUP]), format="%Y-%m-%d")
    return {"id": cohort[schema.PATIENT_ID].to_numpy(object), "start": start,
            "end": (end_date.to_numpy("datetime64[D]") - start).astype(float),
            "cycles": cohort[schema.N_CYCLES].to_numpy(int)}


def _rows(p: dict, mask, term: str, grade, cycle, onset_day, steroids=False) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    n = int(mask.sum())
    grade = np.broadcast_to(np.asarray(grade), mask.shape)[mask].astype(int)
    immune = term in schema.IMMUNE_RELATED_TERMS
    serious = (grade >= 4) | ((grade == 3) & (term not in LAB_TERMS))
    return pd.DataFrame({
        schema.AE_PATIENT_ID: p["id"][mask], schema.AE_TERM: np.full(n, term, dtype=object),
        schema.AE_GRADE: grade, schema.AE_CYCLE: np.broadcast_to(np.asarray(cycle), mask.shape)[mask].astype(int),
        schema.AE_ONSET: np.datetime_as_string(p["start"][mask] + onset_day[mask].astype("timedelta64[D]"), unit="D"),
        schema.AE_IMMUNE: yes_no(np.full(n, immune)), schema.AE_STEROIDS: yes_no(np.full(n, steroids)),
        schema.AE_SERIOUS: yes_no(serious),
        schema.AE_ATTRIBUTION: np.full(n, "probable" if term in LATE_IMMUNE_TERMS else "definite", dtype=object)})


def _cycle_of_day(day: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Latest cycle given whose first dose is on or before ``day``."""
    all_cycles = np.arange(1, 7)
    started = cycle_start_day(all_cycles)[None, :] <= day[:, None]
    return np.minimum(started.sum(axis=1), cycles).clip(1)


def adverse_events(cohort: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Long-format adverse-event table (columns ``schema.AE_*``) for a raw synthetic cohort.

    Parameters
    ----------
    cohort : raw patient frame from :func:`proclaim_cohort` or :func:`community_cohort` (needs the
        id, IL-2 start, death/last follow-up, cycles, platelet nadir, peak temperature and
        autoimmune type columns; never reads the AE summary columns it implies).
    seed : seed of the AE draws.

    Returns
    -------
    pandas.DataFrame, one row per patient and term (the worst episode), sorted by id, onset, term.

    Notes
    -----
    Acute toxicities are drawn from :data:`GENERIC_AES` in cycles 1-2 (days 0-4 of the cycle).
    "Platelet count decreased" is graded from the recorded nadir (CTCAE v5: < 150 / 75 / 50 / 25)
    and "Fever" from the peak temperature (>= 38.0 / > 39.0 / > 40.0 C). Each token of
    ``autoimmune_type`` gives one immune-related AE (:data:`AUTOIMMUNE_AES`), never after the
    patient's last contact. No grade-5 event: no treatment-related death.
    """
    rng = np.random.default_rng([seed, 2])
    p = _patient_arrays(cohort)
    n = p["id"].size
    frames = []
    for term, rate, grade_p in GENERIC_AES:
        has = rng.random(n) < rate
        grade = 1 + rng.choice(4, size=n, p=grade_p)
        cycle = 1 + (rng.random(n) < 0.5) * (p["cycles"] >= 2)
        onset = cycle_start_day(cycle) + uniform_days(rng, 0, 4, n)
        frames.append(_rows(p, has, term, grade, cycle, onset))
    nadir = cohort[schema.PLATELET_NADIR].to_numpy(float)
    plt_grade = 1 + (nadir < 75).astype(int) + (nadir < 50) + (nadir < 25)
    frames.append(_rows(p, nadir < 150, "Platelet count decreased", plt_grade, 1, uniform_days(rng, 3, 5, n)))
    temp = cohort[schema.PEAK_TEMP].to_numpy(float)
    fever_grade = 1 + (temp > 39.0).astype(int) + (temp > 40.0)
    frames.append(_rows(p, temp >= 38.0, "Fever", fever_grade, 1, uniform_days(rng, 0, 2, n)))
    types = cohort[schema.AUTOIMMUNE_TYPE].fillna("").to_numpy(object)
    for token, (term, grade, lo, hi, steroids) in AUTOIMMUNE_AES.items():
        has = np.array([token in str(t).split("; ") for t in types])
        onset = np.clip(uniform_days(rng, lo, hi, n), 1, p["end"])
        frames.append(_rows(p, has, term, grade, _cycle_of_day(onset, p["cycles"]), onset, steroids))
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values([schema.AE_PATIENT_ID, schema.AE_ONSET, schema.AE_TERM], kind="mergesort")
    return table.reset_index(drop=True)[list(AE_COLUMNS)]


def patient_summary(cohort: pd.DataFrame, ae: pd.DataFrame) -> dict[str, np.ndarray]:
    """Patient-level columns implied by the AE table: worst grade (0 = none), steroids for an irAE, ICU."""
    ids = cohort[schema.PATIENT_ID]
    worst = ae.groupby(schema.AE_PATIENT_ID)[schema.AE_GRADE].max().reindex(ids).fillna(0).astype(int)
    irae_steroids = ae[(ae[schema.AE_IMMUNE] == "Yes") & (ae[schema.AE_STEROIDS] == "Yes")][schema.AE_PATIENT_ID]
    icu = ae[ae[schema.AE_TERM].isin(ICU_TERMS) & (ae[schema.AE_GRADE] >= 4)][schema.AE_PATIENT_ID]
    return {schema.MAX_CTCAE: worst.to_numpy(), schema.STEROIDS_IRAE: yes_no(ids.isin(irae_steroids).to_numpy()),
            schema.ICU_TRANSFER: yes_no(ids.isin(icu).to_numpy())}


def assemble(columns: dict[str, np.ndarray], *, prefix: str, source: str, seed: int) -> pd.DataFrame:
    """Raw patient frame: ids numbered in order of IL-2 start (consecutive patients), AE summaries filled.

    The AE table is generated from the frame before the summaries exist, so
    ``adverse_events(frame, seed)`` reproduces exactly the table the summaries came from.
    """
    from il2lib.sample._common import to_raw_frame

    n = len(columns[schema.DATE_IL2_START])
    order = np.lexsort((np.arange(n), np.asarray(columns[schema.DATE_IL2_START], dtype=str)))
    columns = {k: np.asarray(v)[order] for k, v in columns.items()}
    columns[schema.PATIENT_ID] = np.array([f"{prefix}-{i:03d}" for i in range(1, n + 1)], dtype=object)
    columns[schema.SOURCE] = np.full(n, source, dtype=object)
    for placeholder in (schema.MAX_CTCAE, schema.STEROIDS_IRAE, schema.ICU_TRANSFER):
        columns[placeholder] = np.full(n, -1 if placeholder == schema.MAX_CTCAE else None, dtype=object)
    frame = to_raw_frame(columns)
    summary = patient_summary(frame, adverse_events(frame, seed))
    for name, values in summary.items():
        frame[name] = pd.array(values, dtype="Int64") if name == schema.MAX_CTCAE else values
    return frame
