"""Fully vectorised synthetic cohort of any size (up to 1,000,000 patients) for benchmarks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.errors import Il2libError
from il2lib.sample import _common as c, _timeline as tl

MAX_SYNTHETIC = 1_000_000
SOURCE_SYNTHETIC = "Benchmark (synthetic)"
CUTOFF = np.datetime64("2023-12-31")
#: (era first start, era last start) for patients without / with prior PD-1
ERAS = {False: (np.datetime64("2004-01-01"), np.datetime64("2014-06-30")),
        True: (np.datetime64("2015-01-01"), np.datetime64("2023-06-30"))}
BOR_P = {schema.MELANOMA: (0.05, 0.10, 0.22, 0.58, 0.05), schema.RCC: (0.06, 0.09, 0.22, 0.58, 0.05)}
AGENTS = (("nivolumab", 0.45), ("pembrolizumab", 0.45), ("atezolizumab", 0.05), ("avelumab", 0.03),
          ("durvalumab", 0.02))


def _starts(rng: np.random.Generator, prior_pd1: np.ndarray) -> np.ndarray:
    first = np.where(prior_pd1, ERAS[True][0], ERAS[False][0])
    last = np.where(prior_pd1, ERAS[True][1], ERAS[False][1])
    return first + np.floor(rng.uniform(0, (last - first).astype(int) + 1)).astype("timedelta64[D]")


def _prior(rng: np.random.Generator, is_mel: np.ndarray, prior_pd1: np.ndarray, start: np.ndarray,
           braf_mutant: np.ndarray) -> dict[str, np.ndarray]:
    n = is_mel.size
    agents = c.choose(rng, AGENTS, n)
    exposed = tl.prior_pd1_history(rng, is_mel, start, braf_mutant, agents)
    naive = tl.no_prior_pd1(n)
    naive[schema.PRIOR_LINES] = rng.choice([0, 1, 2], n, p=[0.7, 0.22, 0.08])
    naive[schema.PRIOR_CTLA4] = c.yes_no((naive[schema.PRIOR_LINES] > 0) & is_mel & (rng.random(n) < 0.2))
    naive[schema.PRIOR_TARGETED] = c.yes_no((naive[schema.PRIOR_LINES] > 0) & (rng.random(n) < 0.4))
    return {k: np.where(prior_pd1, exposed[k], naive[k]) for k in exposed}


def _toxicity(rng: np.random.Generator, n: int, end: np.ndarray) -> dict[str, np.ndarray]:
    """Patient-level toxicity columns (no AE table at this scale)."""
    auto = (end >= 60) & (rng.random(n) < 0.15)
    kind = c.choose(rng, (("vitiligo", 0.5), ("thyroiditis", 0.45), ("pneumonitis", 0.05)), n)
    worst = 1 + rng.choice(4, n, p=[0.02, 0.18, 0.65, 0.15])
    return {schema.AUTOIMMUNE: c.yes_no(auto), schema.AUTOIMMUNE_TYPE: np.where(auto, kind, None),
            schema.MAX_CTCAE: worst, schema.STEROIDS_IRAE: c.yes_no(auto & (kind == "pneumonitis")),
            schema.ICU_TRANSFER: c.yes_no((worst == 4) & (rng.random(n) < 0.3))}


def synthetic_cohort(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic raw cohort of ``n`` patients for benchmarks, built without a per-patient loop.

    Parameters
    ----------
    n : number of patients, 1 to 1,000,000.
    seed : seed of the numpy Generator (same ``n`` and seed give the same frame).

    Returns
    -------
    pandas.DataFrame with the same raw columns as :func:`proclaim_cohort`; ids ``SYN-0000001``...

    Notes
    -----
    60% melanoma; half treated after PD-1 (IL-2 start 2015-2023) and half before (2004-2014);
    BOR drawn with the PROCLAIM contemporary rates (Alva et al. 2016) [external]; 70% of
    responders durable; cut-off 2023-12-31. Not calibrated to any paper: for speed tests only.

    Raises
    ------
    Il2libError
        If ``n`` is not an integer in 1..1,000,000.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SYNTHETIC:
        raise Il2libError(f"synthetic_cohort: n must be an integer from 1 to {MAX_SYNTHETIC:,}; got {n!r}.")
    n = int(n)
    rng = np.random.default_rng([seed, 3])
    is_mel = rng.random(n) < 0.6
    disease = c.pick((schema.RCC, schema.MELANOMA), is_mel)
    bor_code = np.where(is_mel, rng.choice(5, n, p=BOR_P[schema.MELANOMA]), rng.choice(5, n, p=BOR_P[schema.RCC]))
    bor = c.pick(schema.BOR_LEVELS, bor_code)
    prior_pd1 = rng.random(n) < 0.5
    start = _starts(rng, prior_pd1)
    base = c.baseline(rng, is_mel)
    timeline = tl.outcomes(rng, is_mel, bor, rng.random(n) < 0.7, (CUTOFF - start).astype(float))
    on_treatment = np.fmin(timeline["prog"], timeline["end"])
    wanted = np.where(np.isin(bor, schema.DISEASE_CONTROL_LEVELS), rng.choice([1, 2, 3], n, p=[0.2, 0.5, 0.3]), 1)
    benefit = np.isin(bor, schema.RESPONDERS) | ((bor == "SD") & (on_treatment >= 6 * c.MONTH))
    columns = {
        schema.PATIENT_ID: np.char.add("SYN-", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object),
        schema.DISEASE: disease, schema.SOURCE: c.pick((SOURCE_SYNTHETIC,), np.zeros(n)), **base,
        **_prior(rng, is_mel, prior_pd1, start, base[schema.BRAF] == "mutant"),
        **c.treatment(rng, c.dose_matrix(rng, n), wanted, on_treatment),
        **c.labs(rng, is_mel, benefit, rng.choice([190, 222, 245, 280], n), nadir_ratio=0.75),
        **tl.outcome_columns(start, bor, timeline, CUTOFF), **_toxicity(rng, n, timeline["end"]),
    }
    return c.to_raw_frame(columns)
