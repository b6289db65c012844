"""Vectorised outcome timelines and prior-PD-1 histories for generated (not target-fitted) patients.

All times are whole-day offsets from the IL-2 start. The chronology holds by construction:
first response < progression < death, every observed date <= death or last follow-up, and a
patient's last follow-up is at most the data cut-off.
"""
from __future__ import annotations

import numpy as np

from il2lib import schema
from il2lib.sample._common import MONTH, iso_dates, pick, uniform_days, yes_no


def outcomes(rng: np.random.Generator, is_mel: np.ndarray, bor: np.ndarray, durable: np.ndarray,
             available_days: np.ndarray) -> dict[str, np.ndarray]:
    """Response, progression, death and follow-up days for each patient.

    Parameters
    ----------
    rng : numpy.random.Generator
    is_mel : bool array (False = RCC)
    bor : array of CR/PR/SD/PD/NE
    durable : bool array; a durable responder stays in response for at least 13 months
    available_days : days from IL-2 start to the data cut-off (>= 184 expected)

    Returns
    -------
    dict with float day arrays ``resp``, ``prog`` (NaN if no progression observed), ``death``
    (NaN if alive), ``lfu`` (last contact), ``last_assess`` and ``end`` (death or last contact),
    plus ``died`` and ``progressed`` booleans.

    Notes
    -----
    Progression is at the first assessment (6-10 weeks) for PD, clinical at 20-45 days for NE,
    1.5-20 months for SD, and 3-11 months after response (13+ months if durable) for CR/PR.
    Death follows progression by an exponential post-progression survival (mean 10 months
    melanoma, 16 months RCC; 2.5 months after NE). Administrative censoring at the last contact,
    0-60 days before the cut-off.
    """
    n = bor.size
    is_resp = np.isin(bor, schema.RESPONDERS)
    first_assess = uniform_days(rng, 42, 70, n)
    resp = np.where(bor == "CR", uniform_days(rng, 60, 120, n), uniform_days(rng, 45, 100, n))
    resp = np.where(is_resp, resp, np.nan)
    dor = np.where(durable, 13 * MONTH + rng.exponential(30 * MONTH, n), uniform_days(rng, 3 * MONTH, 11 * MONTH, n))
    prog = np.select(
        [bor == "PD", bor == "NE", bor == "SD", is_resp],
        [first_assess, uniform_days(rng, 20, 45, n), first_assess + rng.exponential(5 * MONTH, n), resp + dor])
    prog = np.floor(prog)
    pps_mean = np.where(bor == "NE", 2.5, np.where(is_mel, 10.0, 16.0)) * MONTH
    death = np.floor(prog + 5 + rng.exponential(pps_mean))
    earliest_lfu = np.fmax(np.fmax(resp, first_assess), 21) + 1
    lfu = np.maximum(np.floor(available_days - uniform_days(rng, 0, 60, n)), earliest_lfu)
    died = death <= lfu
    end = np.where(died, death, lfu)
    progressed = prog < end
    prog = np.where(progressed, prog, np.nan)
    floor_assess = np.fmax(resp, first_assess)
    last_assess = np.where(progressed, prog, np.clip(end - uniform_days(rng, 0, 45, n), floor_assess, end))
    return {"resp": resp, "prog": prog, "death": np.where(died, death, np.nan), "lfu": np.where(died, death, lfu),
            "last_assess": last_assess, "end": end, "died": died, "progressed": progressed}


def sd_duration_months(bor: np.ndarray, prog: np.ndarray, last_assess: np.ndarray) -> np.ndarray:
    """SD duration (months, 1 decimal) from IL-2 start to progression or last assessment; NaN if not SD."""
    days = np.where(np.isnan(prog), last_assess, prog)
    return np.where(bor == "SD", np.round(days / MONTH, 1), np.nan)


def prior_pd1_history(rng: np.random.Generator, is_mel: np.ndarray, start: np.ndarray, braf_mutant: np.ndarray,
                      agent: np.ndarray) -> dict[str, np.ndarray]:
    """Prior-therapy columns for patients who all had PD-1/PD-L1 blockade before IL-2.

    Best response to PD-1 is PD (primary resistance) or CR/PR/SD followed by progression
    (acquired resistance, SITC 2020). Targeted therapy needs a second line.
    """
    n = is_mel.size
    lines = rng.choice([1, 2, 3, 4], size=n, p=[0.45, 0.35, 0.15, 0.05])
    pd1_bor = pick(("PD", "SD", "PR", "CR"), rng.choice(4, size=n, p=[0.55, 0.20, 0.20, 0.05]))
    gap = np.where(pd1_bor == "PD", uniform_days(rng, 21, 90, n), uniform_days(rng, 28, 240, n))
    targeted = (lines >= 2) & (rng.random(n) < np.where(is_mel, np.where(braf_mutant, 0.85, 0.0), 0.80))
    return {
        schema.PRIOR_LINES: lines,
        schema.PRIOR_PD1: yes_no(np.ones(n, dtype=bool)),
        schema.PRIOR_PD1_AGENT: agent,
        schema.PRIOR_CTLA4: yes_no(rng.random(n) < np.where(is_mel, 0.45, 0.10)),
        schema.PRIOR_TARGETED: yes_no(targeted),
        schema.PRIOR_PD1_BOR: pd1_bor,
        schema.DATE_LAST_PD1: iso_dates(start, -gap),
        schema.PD1_RESISTANCE: pick(("acquired", "primary"), pd1_bor == "PD"),
    }


def no_prior_pd1(n: int) -> dict[str, np.ndarray]:
    """Prior-PD-1 columns for patients never exposed (pre-2014 era)."""
    empty = np.full(n, None, dtype=object)
    return {schema.PRIOR_PD1: yes_no(np.zeros(n, dtype=bool)), schema.PRIOR_PD1_AGENT: empty,
            schema.PRIOR_PD1_BOR: empty.copy(), schema.DATE_LAST_PD1: empty.copy(),
            schema.PD1_RESISTANCE: pick(("not_applicable",), np.zeros(n))}


def outcome_columns(start: np.ndarray, bor: np.ndarray, timeline: dict[str, np.ndarray],
                    cutoff: np.ndarray) -> dict[str, np.ndarray]:
    """Raw response, progression, survival and follow-up columns from a day-offset timeline."""
    start = np.asarray(start, dtype="datetime64[D]")
    is_resp = np.isin(bor, schema.RESPONDERS)
    n = bor.size
    return {
        schema.DATE_IL2_START: iso_dates(start),
        schema.BOR: np.asarray(bor, dtype=object),
        schema.RESPONSE_CONFIRMED: yes_no(is_resp, valid=is_resp),
        schema.DATE_FIRST_RESPONSE: iso_dates(start, timeline["resp"]),
        schema.SD_DURATION: sd_duration_months(bor, timeline["prog"], timeline["last_assess"]),
        schema.PROGRESSED: yes_no(timeline["progressed"]),
        schema.DATE_PROGRESSION: iso_dates(start, timeline["prog"]),
        schema.DATE_LAST_ASSESSMENT: iso_dates(start, timeline["last_assess"]),
        schema.DIED: yes_no(timeline["died"]),
        schema.DATE_DEATH: iso_dates(start, timeline["death"]),
        schema.DATE_LAST_FOLLOWUP: iso_dates(start, timeline["lfu"]),
        schema.DATA_CUTOFF: iso_dates(np.broadcast_to(np.asarray(cutoff, dtype="datetime64[D]"), (n,))),
        schema.TREATMENT_DEATH: yes_no(np.zeros(n, dtype=bool)),
    }
