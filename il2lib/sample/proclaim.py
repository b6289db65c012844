"""Synthetic post-PD-1 cohort mirroring Buchbinder et al., J Immunother Cancer 2019;7:49 (PROCLAIM).

Exact by construction [paper]: 40 melanoma / 17 RCC, all after PD-1/PD-L1 blockade; CR 4 / PR 5
(melanoma) and CR 2 / PR 2 (RCC); exactly one patient, previously given a PD-L1 inhibitor, with
pneumonitis that needed steroids; no treatment-related death. [assumption]: SD/PD/NE split
(melanoma 8/21/2, RCC 4/8/1), IL-2 start 2015-01-01..2018-06-30, cut-off 2018-12-31, "durable"
responses (7 of 9 melanoma and 3 of 4 RCC responders still in response 12 months after response),
and every other column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.sample import _common as c, _timeline as tl
from il2lib.sample.adverse_events import assemble

SOURCE_PROCLAIM = "PROCLAIM (synthetic)"
PROCLAIM_SEED = 20190218
CUTOFF = np.datetime64("2018-12-31")
START_FIRST, START_LAST = np.datetime64("2015-01-01"), np.datetime64("2018-06-30")
#: responders start early enough to be followed >= 12 months in response
RESPONDER_START_LAST = CUTOFF - np.timedelta64(700, "D")
BOR_COUNTS = {schema.MELANOMA: {"CR": 4, "PR": 5, "SD": 8, "PD": 21, "NE": 2},
              schema.RCC: {"CR": 2, "PR": 2, "SD": 4, "PD": 8, "NE": 1}}
DURABLE_RESPONDERS = {schema.MELANOMA: 7, schema.RCC: 3}
AGENT_COUNTS = {schema.MELANOMA: {"pembrolizumab": 22, "nivolumab": 17, "durvalumab": 1},
                schema.RCC: {"nivolumab": 13, "pembrolizumab": 1, "atezolizumab": 2, "avelumab": 1}}
SITE_ULN = np.array([190, 222, 245, 280])  # LDH upper limits of normal of four registry sites


def _design(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Disease, BOR, durable flag and prior agent with the exact counts, shuffled within disease."""
    disease, bor, durable, agent = [], [], [], []
    for dis, counts in BOR_COUNTS.items():
        levels = np.repeat(list(counts), list(counts.values()))
        n = levels.size
        resp_idx = np.flatnonzero(np.isin(levels, schema.RESPONDERS))
        flag = np.zeros(n, dtype=bool)
        flag[rng.choice(resp_idx, DURABLE_RESPONDERS[dis], replace=False)] = True
        agents = np.repeat(list(AGENT_COUNTS[dis]), list(AGENT_COUNTS[dis].values()))
        disease.append(np.full(n, dis, dtype=object))
        bor.append(levels.astype(object))
        durable.append(flag)
        agent.append(rng.permutation(agents).astype(object))
    return {"disease": np.concatenate(disease), "bor": np.concatenate(bor),
            "durable": np.concatenate(durable), "agent": np.concatenate(agent)}


def _start_dates(rng: np.random.Generator, bor: np.ndarray) -> np.ndarray:
    last = np.where(np.isin(bor, schema.RESPONDERS), RESPONDER_START_LAST, START_LAST)
    span = (last - START_FIRST).astype(int)
    return START_FIRST + np.floor(rng.uniform(0, span + 1)).astype("timedelta64[D]")


def _autoimmune(rng: np.random.Generator, design: dict, end: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """autoimmune_type: vitiligo/thyroiditis more often in responders; one PD-L1 patient with pneumonitis."""
    is_mel = design["disease"] == schema.MELANOMA
    n = is_mel.size
    eligible = end >= 60
    has = eligible & (rng.random(n) < np.where(np.isin(design["bor"], schema.RESPONDERS), 0.40, 0.12))
    kind = np.where(is_mel & (rng.random(n) < 0.6), "vitiligo", "thyroiditis")
    types = np.where(has, kind, "").astype(object)
    pdl1 = np.flatnonzero(np.isin(design["agent"], schema.PDL1_AGENTS) & (cycles >= 2) & (end >= 20))
    case = rng.choice(pdl1)
    types[case] = "; ".join(t for t in (types[case], "pneumonitis") if t)
    return np.where(types == "", None, types)


def proclaim_cohort(seed: int = PROCLAIM_SEED) -> pd.DataFrame:
    """Synthetic 57-patient post-PD-1 cohort (raw registry-export columns).

    Parameters
    ----------
    seed : seed of the numpy Generator; the bundled file uses the default.

    Returns
    -------
    pandas.DataFrame with the data-dictionary columns (``il2lib.schema.PATIENT_COLUMNS`` minus the
    given-time columns): ISO date strings, ``Yes``/``No`` booleans, ids ``PRO-001``.. in order of
    IL-2 start.

    Notes
    -----
    Counts marked exact in ``docs/domain.md`` section 4 hold for every seed; everything else is
    an illustrative draw. See :mod:`il2lib.sample.proclaim` for what is [paper] vs [assumption].

    References
    ----------
    Buchbinder EI et al. Therapy with high-dose interleukin-2 (HD IL-2) in metastatic melanoma and
    renal cell carcinoma following PD1 or PDL1 inhibition. J Immunother Cancer 2019;7:49.
    """
    rng = np.random.default_rng(seed)
    design = _design(rng)
    bor, n = design["bor"], design["bor"].size
    is_mel = design["disease"] == schema.MELANOMA
    start = _start_dates(rng, bor)
    base = c.baseline(rng, is_mel)
    timeline = tl.outcomes(rng, is_mel, bor, design["durable"], (CUTOFF - start).astype(float))
    on_treatment = np.fmin(timeline["prog"], timeline["end"])
    wanted = np.select([np.isin(bor, schema.RESPONDERS), bor == "SD"],
                       [rng.choice([2, 3], n, p=[0.4, 0.6]), rng.choice([1, 2, 3], n, p=[0.3, 0.5, 0.2])], 1)
    treatment = c.treatment(rng, c.dose_matrix(rng, n), wanted, on_treatment)
    benefit = np.isin(bor, schema.RESPONDERS) | ((bor == "SD") & (on_treatment >= 6.5 * c.MONTH))
    lab = c.labs(rng, is_mel, benefit, rng.choice(SITE_ULN, n), nadir_ratio=0.8)
    prior = tl.prior_pd1_history(rng, is_mel, start, base[schema.BRAF] == "mutant", design["agent"])
    types = _autoimmune(rng, design, timeline["end"], treatment[schema.N_CYCLES])
    columns = {schema.DISEASE: design["disease"], **base, **prior, **treatment, **lab,
               **tl.outcome_columns(start, bor, timeline, CUTOFF),
               schema.AUTOIMMUNE: c.yes_no(pd.notna(types)), schema.AUTOIMMUNE_TYPE: types}
    return assemble(columns, prefix="PRO", source=SOURCE_PROCLAIM, seed=seed)
