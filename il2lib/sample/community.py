"""Synthetic pre-PD-1 community cohort mirroring the SpringerPlus 2015;4:118 single-institution series.

Exact by construction: 50 patients, none with prior PD-1, IL-2 start 2004-2012 [paper]; 36
first-line of whom 9 have clinical benefit (CB) [paper]; 30 melanoma / 20 RCC, CB 9/30 and 5/20
[assumption]; KM median OS from IL-2 start, CB vs no CB, 61 vs 17 months (melanoma) and 48 vs 17
(RCC) [paper], hit exactly by the recipe of ``docs/domain.md`` section 4; autoimmune phenomena in
melanoma CB 4/9 vs no CB 2/21 (two-sided Fisher p = 0.0492) [assumption reproducing p = 0.049].
Calibrated draws (rejection sampling, still one deterministic stream per seed): platelet nadir
lower with CB (Mann-Whitney p in 0.005-0.03 for melanoma and 0.01-0.045 for RCC, near the published
0.015 and 0.026); doses per cycle, LDH, ALC, peak ALC and peak temperature not different (p > 0.2).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from il2lib import schema
from il2lib.errors import Il2libError
from il2lib.sample import _common as c, _timeline as tl
from il2lib.sample.adverse_events import assemble

SOURCE_COMMUNITY = "Community (synthetic)"
COMMUNITY_SEED = 20150306
CUTOFF = np.datetime64("2014-06-30")
START_FIRST, START_LAST = np.datetime64("2004-01-01"), np.datetime64("2012-12-31")
COMMUNITY_ULN = 222
MEL, RCC = schema.MELANOMA, schema.RCC
#: (disease, CB) -> OS months in order, and how many of the longest are censored (alive at last contact)
OS_TARGETS = {
    (MEL, True): ((30, 45, 52, 58, 61, 72, 84, 96, 110), 4),
    (MEL, False): ((3, 4, 5, 6, 7, 9, 10, 11, 13, 15, 17, 18, 19, 21, 23, 25, 27, 30, 34, 40, 48), 1),
    (RCC, True): ((26, 38, 48, 66, 90), 2),
    (RCC, False): ((4, 6, 8, 9, 11, 13, 15, 17, 20, 22, 26, 31, 38, 52, 70), 2),
}
BOR_MIX = {(MEL, True): {"CR": 2, "PR": 3, "SD": 4}, (MEL, False): {"NE": 2, "SD": 3, "PD": 16},
           (RCC, True): {"CR": 1, "PR": 2, "SD": 2}, (RCC, False): {"NE": 1, "SD": 2, "PD": 12}}
FIRST_LINE = {(MEL, True): 5, (MEL, False): 16, (RCC, True): 4, (RCC, False): 11}
AUTOIMMUNE = {(MEL, True): 4, (MEL, False): 2, (RCC, True): 1, (RCC, False): 1}
NOT_DIFFERENT = (schema.DOSES_C1, "doses_per_cycle", schema.BASELINE_LDH, schema.BASELINE_ALC, schema.PEAK_ALC,
                 schema.PEAK_TEMP)
NADIR_P_WINDOW = {MEL: (0.005, 0.03), RCC: (0.01, 0.045)}


def _group(rng: np.random.Generator, disease: str, cb: bool) -> dict[str, np.ndarray]:
    """One disease x benefit group: OS, BOR, line and autoimmune flags with the exact counts."""
    months, n_censored = OS_TARGETS[disease, cb]
    months = np.asarray(months, dtype=float)
    n = months.size
    died = np.arange(n) < n - n_censored
    mix = BOR_MIX[disease, cb]
    if cb:
        bor = rng.permutation(np.repeat(list(mix), list(mix.values())))
    else:  # NE: the earliest deaths; short SD: among OS >= 7 months; the rest PD
        bor = np.full(n, "PD", dtype=object)
        bor[: mix["NE"]] = "NE"
        bor[rng.choice(np.flatnonzero((months >= 7) & (bor == "PD")), mix["SD"], replace=False)] = "SD"
    first_line = np.zeros(n, dtype=bool)
    first_line[rng.choice(n, FIRST_LINE[disease, cb], replace=False)] = True
    autoimmune = np.zeros(n, dtype=bool)
    autoimmune[rng.choice(np.flatnonzero(months >= 9), AUTOIMMUNE[disease, cb], replace=False)] = True
    return {"disease": np.full(n, disease, dtype=object), "cb": np.full(n, cb), "months": months,
            "died": died, "bor": np.asarray(bor, dtype=object), "first_line": first_line, "autoimmune": autoimmune}


def _timeline(rng: np.random.Generator, g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Day offsets that reproduce the target OS exactly and respect every chronology rule.

    CR/PR respond at 50-110 days; SD with CB progresses at 6.5-18 months, SD without CB at
    2.5-5.5 months, PD at the first assessment (42-70 days), NE clinically at 20-45 days. Every
    death follows a progression; 30% of censored responders have progressed.
    """
    n = g["bor"].size
    bor, died = g["bor"], g["died"]
    os_days = c.months_to_days(g["months"])
    is_resp = np.isin(bor, schema.RESPONDERS)
    resp = np.where(is_resp, c.uniform_days(rng, 50, 110, n), np.nan)
    after_resp = np.floor(resp + rng.uniform(0.35, 0.75, n) * (os_days - resp))
    resp_progressed = died | (rng.random(n) < 0.3)
    prog = np.select(
        [is_resp, (bor == "SD") & g["cb"], bor == "SD", bor == "PD", bor == "NE"],
        [np.where(resp_progressed, after_resp, np.nan), c.uniform_days(rng, 6.5 * c.MONTH, 18 * c.MONTH, n),
         c.uniform_days(rng, 2.5 * c.MONTH, 5.5 * c.MONTH, n), c.uniform_days(rng, 42, 70, n),
         c.uniform_days(rng, 20, 45, n)])
    last_assess = np.where(np.isnan(prog), np.fmax(os_days - c.uniform_days(rng, 0, 45, n), resp), prog)
    return {"resp": resp, "prog": prog, "death": np.where(died, os_days, np.nan), "lfu": os_days,
            "last_assess": last_assess, "end": os_days, "died": died, "progressed": ~np.isnan(prog)}


def _start_dates(rng: np.random.Generator, os_days: np.ndarray, died: np.ndarray) -> np.ndarray:
    """IL-2 starts: deaths 30+ days before the cut-off; censored patients last seen 0-90 days before it."""
    latest = np.minimum((START_LAST - START_FIRST).astype(int), (CUTOFF - START_FIRST).astype(int) - os_days - 30)
    offset_dead = np.floor(rng.uniform(0, latest + 1))
    offset_alive = (CUTOFF - START_FIRST).astype(int) - os_days - c.uniform_days(rng, 0, 90, os_days.size)
    return START_FIRST + np.where(died, offset_dead, offset_alive).astype("timedelta64[D]")


def _prior_lines(rng: np.random.Generator, g: dict, start: np.ndarray, braf_mutant: np.ndarray) -> dict:
    """Later-line patients had 1-2 lines: ipilimumab or BRAF inhibitor (2011+) in melanoma, VEGF TKI (2006+) in RCC."""
    n = start.size
    later = ~g["first_line"]
    is_mel = g["disease"] == MEL
    ctla4 = later & is_mel & (start >= np.datetime64("2011-04-01")) & (rng.random(n) < 0.6)
    targeted = later & np.where(is_mel, braf_mutant & (start >= np.datetime64("2011-09-01")),
                                start >= np.datetime64("2006-01-01")) & (rng.random(n) < 0.8)
    return {schema.PRIOR_LINES: np.where(later, rng.choice([1, 2], n, p=[0.75, 0.25]), 0),
            schema.PRIOR_CTLA4: c.yes_no(ctla4), schema.PRIOR_TARGETED: c.yes_no(targeted), **tl.no_prior_pd1(n)}


def _accepted(g: dict, lab: dict, treatment: dict) -> bool:
    """True when the draw shows the published pattern (see the module docstring)."""
    values = {**lab, **treatment, "doses_per_cycle": treatment[schema.TOTAL_DOSES] / treatment[schema.N_CYCLES]}
    for disease in (MEL, RCC):
        cb = g["cb"] & (g["disease"] == disease)
        no_cb = ~g["cb"] & (g["disease"] == disease)
        nadir = values[schema.PLATELET_NADIR]
        p = stats.mannwhitneyu(nadir[cb], nadir[no_cb], alternative="two-sided").pvalue
        low, high = NADIR_P_WINDOW[disease]
        if not (low <= p <= high and np.median(nadir[cb]) < np.median(nadir[no_cb])):
            return False
        for name in NOT_DIFFERENT:
            if stats.mannwhitneyu(values[name][cb], values[name][no_cb], alternative="two-sided").pvalue <= 0.2:
                return False
    return True


def _calibrated_labs(rng: np.random.Generator, g: dict, on_treatment: np.ndarray, max_draws: int = 20_000):
    n = g["cb"].size
    is_mel = g["disease"] == MEL
    wanted = np.select([g["cb"], g["bor"] == "SD"], [rng.choice([2, 3], n), rng.choice([1, 2], n)], 1)
    for _ in range(max_draws):
        lab = c.labs(rng, is_mel, g["cb"], np.full(n, COMMUNITY_ULN), nadir_ratio=0.62)
        treatment = c.treatment(rng, c.dose_matrix(rng, n), wanted, on_treatment)
        if _accepted(g, lab, treatment):
            return lab, treatment
    raise Il2libError(f"no calibrated laboratory draw in {max_draws} tries; try another seed")


def _autoimmune_types(rng: np.random.Generator, g: dict) -> np.ndarray:
    """Vitiligo or thyroiditis in melanoma, thyroiditis in RCC, for the patients flagged in the design."""
    n = g["cb"].size
    kind = np.where((g["disease"] == MEL) & (rng.random(n) < 0.6), "vitiligo", "thyroiditis")
    return np.where(g["autoimmune"], kind, None).astype(object)


def community_cohort(seed: int = COMMUNITY_SEED) -> pd.DataFrame:
    """Synthetic 50-patient pre-PD-1 community cohort (raw registry-export columns).

    Parameters
    ----------
    seed : seed of the numpy Generator; the bundled file uses the default.

    Returns
    -------
    pandas.DataFrame with the data-dictionary columns, ids ``COM-001``.. in order of IL-2 start
    (the paper's "50 consecutive patients").

    Notes
    -----
    Clinical benefit (CB) = CR or PR, or SD lasting >= ``schema.CB_SD_MONTHS_DEFAULT`` (6) months
    [assumption]; SD with CB lasts >= 6.5 months and SD without CB <= 5.5 months, so the rule is
    unambiguous. OS (days) = round(months x 30.4375); each group has an odd size and no censoring
    before its median, so the Kaplan-Meier median is the ((n+1)/2)-th death, on target to 0.1 month.
    What is exact, assumed or only approximate is listed in the module docstring.

    References
    ----------
    Clinical characteristics and treatment-related biomarkers associated with response to high-dose
    interleukin-2 in metastatic melanoma and renal cell carcinoma: retrospective analysis of an
    academic community hospital's experience. SpringerPlus 2015;4:118.
    """
    rng = np.random.default_rng(seed)
    groups = [_group(rng, d, cb) for d, cb in OS_TARGETS]
    g = {k: np.concatenate([grp[k] for grp in groups]) for k in groups[0]}
    n = g["cb"].size
    is_mel = g["disease"] == MEL
    timeline = _timeline(rng, g)
    start = _start_dates(rng, timeline["end"], g["died"])
    base = c.baseline(rng, is_mel)
    on_treatment = np.fmin(timeline["prog"], timeline["end"])
    lab, treatment = _calibrated_labs(rng, g, on_treatment)
    types = _autoimmune_types(rng, g)
    columns = {schema.DISEASE: g["disease"], **base, **_prior_lines(rng, g, start, base[schema.BRAF] == "mutant"),
               **treatment, **lab, **tl.outcome_columns(start, g["bor"], timeline, CUTOFF),
               schema.AUTOIMMUNE: c.yes_no(g["autoimmune"]), schema.AUTOIMMUNE_TYPE: types}
    columns[schema.RESPONSE_CRITERIA] = np.full(n, "RECIST1.1", dtype=object)
    return assemble(columns, prefix="COM", source=SOURCE_COMMUNITY, seed=seed)
