"""The vectorised derived columns equal the published rules applied patient by patient (docs/domain.md "Derived
fields" and "Response rules"; FDA 2018 PFS censoring table; RECIST 1.1 confirmation and SD minimum).

A generated messy registry (missing and impossible dates, blank and unknown responses, unconfirmed responses,
events and assessments after the cut-off, IL-2 start after the cut-off, given month columns) is derived once, and
every row is checked against a plain per-row statement of each rule written here.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.validation.derive import derive
from il2lib.validation.recist import apply_response_rules

M = schema.DAYS_PER_MONTH
W = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT
N = 3000


def _messy_registry(seed: int, *, all_columns: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day0 = np.datetime64("2016-01-01", "ns")

    def dates(low: int, high: int, missing: float, base=None) -> pd.Series:
        base = np.full(N, day0) if base is None else base
        values = base + rng.integers(low, high, N).astype("m8[D]")
        values[rng.random(N) < missing] = np.datetime64("NaT")
        return pd.Series(values.astype("M8[ns]"))

    def flags(p_true: float, missing: float) -> pd.Series:
        values = pd.array(rng.random(N) < p_true, dtype="boolean")
        values[rng.random(N) < missing] = pd.NA
        return pd.Series(values)

    def numbers(low: float, high: float, missing: float) -> pd.Series:
        values = np.round(rng.uniform(low, high, N), 2)
        values[rng.random(N) < missing] = np.nan
        return pd.Series(values)

    start = dates(0, 400, 0.03)
    base = start.to_numpy()
    frame = pd.DataFrame({
        schema.PATIENT_ID: [f"R{k:05d}" for k in range(N)],
        schema.PRIOR_LINES: pd.array(np.where(rng.random(N) < 0.1, None, rng.integers(0, 4, N)), dtype="Int64"),
        schema.BOR: rng.choice(np.array(["CR", "PR", "SD", "PD", "NE", None], dtype=object), N,
                               p=[0.1, 0.2, 0.3, 0.25, 0.1, 0.05]),
        schema.DATE_IL2_START: start,
        schema.DATA_CUTOFF: dates(300, 1300, 0.1),
        schema.DATE_FIRST_RESPONSE: dates(-20, 300, 0.5, base),
        schema.PROGRESSED: flags(0.6, 0.15),
        schema.DATE_PROGRESSION: dates(-30, 1200, 0.3, base),
        schema.DATE_LAST_ASSESSMENT: dates(-10, 1400, 0.25, base),
        schema.DIED: flags(0.5, 0.1),
        schema.DATE_DEATH: dates(0, 1600, 0.25, base),
        schema.DATE_LAST_FOLLOWUP: dates(0, 1600, 0.15, base),
        schema.SD_DURATION: numbers(0, 12, 0.7),
        schema.BASELINE_LDH: numbers(100, 900, 0.1),
        schema.LDH_ULN: pd.Series(rng.choice([0.0, 250.0, 280.0, np.nan], N, p=[0.05, 0.5, 0.35, 0.1])),
    })
    # on the cut-off day (boundary of "after the cut-off")
    frame.loc[::97, schema.DATE_LAST_ASSESSMENT] = frame.loc[::97, schema.DATA_CUTOFF]
    frame.loc[5::89, schema.DATE_DEATH] = frame.loc[5::89, schema.DATA_CUTOFF]
    frame.loc[7::101, schema.DATE_PROGRESSION] = frame.loc[7::101, schema.DATA_CUTOFF]
    if all_columns:
        frame[schema.RESPONSE_CONFIRMED] = flags(0.6, 0.3)
        frame[schema.RESPONSE_CRITERIA] = rng.choice(np.array(["RECIST1.1", "iRECIST", "WHO", None], dtype=object),
                                                     N, p=[0.6, 0.1, 0.1, 0.2])
        frame[schema.OS_MONTHS] = numbers(0, 60, 0.5)
        frame[schema.PFS_MONTHS] = numbers(0, 40, 0.5)
        frame[schema.PFS_EVENT] = flags(0.5, 0.3)
        frame[schema.DOR_MONTHS] = numbers(0, 30, 0.5)
        frame[schema.DOR_EVENT] = flags(0.5, 0.3)
    return frame


def _value(row: pd.Series, name: str):
    v = row.get(name)
    if v is None or pd.isna(v):
        return None
    return bool(v) if isinstance(v, (bool, np.bool_)) else v


def _months(end, start):
    return (end - start).days / M if end is not None and start is not None else None


def _counted_bor(r: pd.Series, confirmed_view: bool):
    """RECIST 1.1: unconfirmed CR/PR counts as SD when the SD minimum (6 weeks) is met, else PD when progression
    followed, else NE; an SD shorter than the minimum counts as PD or NE the same way."""
    bor, start, progressed = _value(r, schema.BOR), _value(r, schema.DATE_IL2_START), _value(r, schema.PROGRESSED)
    progression = _value(r, schema.DATE_PROGRESSION)
    duration = _value(r, schema.SD_DURATION)
    if duration is None:
        end = progression if progressed is not False else None
        end = end if end is not None else _value(r, schema.DATE_LAST_ASSESSMENT)
        months = _months(end, start)
        duration = months if months is not None and months >= 0 else None
    meets = duration is not None and round(duration * M) >= schema.SD_MINIMUM_WEEKS_DEFAULT * 7 - W
    followed = progressed is True or (progressed is None and progression is not None)
    fallback = "PD" if followed else "NE"
    if bor in ("CR", "PR") and confirmed_view and _value(r, schema.RESPONSE_CONFIRMED) is not True:
        return ("SD" if meets else fallback), "unconfirmed"
    if bor == "SD" and duration is not None and not meets:
        return fallback, "short"
    return bor, None


def _time_event(start, event_date, censor, given_time, given_event, no_fill):
    end = event_date if event_date is not None else censor
    months = _months(end, start)
    if months is not None and months >= 0:
        return months, event_date is not None
    if given_time is not None and given_event is not None and not no_fill:
        return given_time, bool(given_event)
    return None, None


def _reference(r: pd.Series):
    """Every derived value of one patient, from the published rules."""
    g = lambda name: _value(r, name)  # noqa: E731
    start, cutoff, bor = g(schema.DATE_IL2_START), g(schema.DATA_CUTOFF), g(schema.BOR)
    died, death, progressed = g(schema.DIED), g(schema.DATE_DEATH), g(schema.PROGRESSED)
    progression, assessment = g(schema.DATE_PROGRESSION), g(schema.DATE_LAST_ASSESSMENT)
    first_response, followup = g(schema.DATE_FIRST_RESPONSE), g(schema.DATE_LAST_FOLLOWUP)
    after_cutoff = start is not None and cutoff is not None and start > cutoff
    out = {}
    lines = g(schema.PRIOR_LINES)
    out[schema.LINE_OF_IL2] = None if lines is None else lines + 1
    out[schema.FIRST_LINE] = None if lines is None else lines + 1 == 1

    # SD duration: given, else computed from dates for SD patients (IL-2 start to progression or last assessment)
    sd = g(schema.SD_DURATION)
    if sd is None and bor == "SD":
        end = progression if progressed is not False else None
        end = end if end is not None else assessment
        months = _months(end, start)
        sd = months if months is not None and months >= 0 else None
    out[schema.SD_DURATION] = sd

    counted, _ = _counted_bor(pd.Series({**r.to_dict(), schema.SD_DURATION: sd}),
                              schema.RESPONSE_CONFIRMED in r.index)
    out[schema.OBJECTIVE_RESPONSE] = None if bor is None else counted in ("CR", "PR")
    out[schema.DISEASE_CONTROL] = None if bor is None else counted in ("CR", "PR", "SD")

    # OS: death, else the last date known alive (latest of follow-up, assessment, progression, first response;
    # follow-up required), capped at the cut-off; a death after the cut-off is censored at it
    death_known = death if died is True else None
    censor = None
    if died is False and followup is not None:
        censor = max(d for d in (followup, assessment, progression, first_response) if d is not None)
    os_event_date = death_known
    if death_known is not None and cutoff is not None and death_known > cutoff:
        os_event_date, censor = None, cutoff
    if censor is not None and cutoff is not None and censor > cutoff:
        censor = cutoff
    out[schema.OS_MONTHS], out[schema.OS_EVENT] = _time_event(start, os_event_date, censor, g(schema.OS_MONTHS),
                                                              died, after_cutoff)

    # PFS (FDA 2018 PFS censoring table): earliest of progression and death; else the last dated assessment,
    # capped at the cut-off; an event after the cut-off is censored at the last assessment on or before it;
    # no assessment and no event: day 0; a progression (or death) without a date: no time
    prog_known = progression if progressed is not False else None
    events = [d for d in (prog_known, death_known) if d is not None]
    event_date = min(events) if events else None
    assessed = [d for d in (assessment, first_response) if d is not None]
    last_assessed = max(assessed) if assessed else None
    unknown_event = ((progressed is True or bor == "PD") and progression is None) or (
        died is True and death is None and prog_known is None)
    if event_date is not None and cutoff is not None and event_date > cutoff:
        event_date = None
    censor = cutoff if last_assessed is not None and cutoff is not None and last_assessed > cutoff else last_assessed
    if event_date is None and last_assessed is None and not unknown_event:
        censor = start
    if unknown_event or after_cutoff:
        event_date = censor = None
    given_pfs_event = g(schema.PFS_EVENT)
    out[schema.PFS_MONTHS], out[schema.PFS_EVENT] = _time_event(
        start, event_date, censor, g(schema.PFS_MONTHS), given_pfs_event,
        after_cutoff or (unknown_event and given_pfs_event is not True))

    # DoR: recorded CR/PR only, from the first response, same events and censoring as PFS
    given_dor_event = g(schema.DOR_EVENT)
    dor = _time_event(first_response, event_date, censor, g(schema.DOR_MONTHS), given_dor_event,
                      after_cutoff or (unknown_event and given_dor_event is not True))
    out[schema.DOR_MONTHS], out[schema.DOR_EVENT] = dor if bor in ("CR", "PR") else (None, None)

    ldh, uln = g(schema.BASELINE_LDH), g(schema.LDH_ULN)
    ratio = ldh / uln if ldh is not None and uln is not None and uln > 0 else None
    out[schema.LDH_X_ULN] = ratio
    out[schema.LDH_CATEGORY] = (None if ratio is None else schema.LDH_CATEGORIES[0] if ratio <= 1
                                else schema.LDH_CATEGORIES[1] if ratio <= 2 else schema.LDH_CATEGORIES[2])
    return out


def _same(got, expected) -> bool:
    if expected is None:
        return got is None or pd.isna(got)
    if got is None or pd.isna(got):
        return False
    if isinstance(expected, float):
        return math.isclose(float(got), expected, rel_tol=0, abs_tol=1e-12)
    return got == expected


@pytest.mark.parametrize("all_columns", [True, False], ids=["every-column", "required-columns-only"])
def test_derived_columns_follow_the_per_patient_rules(all_columns):
    frame = _messy_registry(7 if all_columns else 8, all_columns=all_columns)
    derived, _ = derive(frame)
    mismatches = []
    for pos in range(N):
        expected = _reference(frame.iloc[pos])
        got = derived.iloc[pos]
        for name, value in expected.items():
            if not _same(got[name], value):
                mismatches.append((frame.iloc[pos][schema.PATIENT_ID], name, got[name], value))
    assert not mismatches, f"{len(mismatches)} derived values differ from the rules, first: {mismatches[:5]}"
    # every case the rules distinguish occurs in the generated registry
    assert derived[schema.OS_EVENT].isna().any() and derived[schema.PFS_MONTHS].isna().any()
    assert (derived[schema.PFS_MONTHS] == 0).any() and derived[schema.DOR_EVENT].notna().any()
    assert (frame[schema.DATE_IL2_START] > frame[schema.DATA_CUTOFF]).any()


def test_cutoff_and_day0_notes_count_the_patients_of_the_rules():
    frame = _messy_registry(11, all_columns=True)
    analysed = np.random.default_rng(3).random(N) < 0.9
    _, notes = derive(frame, analysed=analysed)
    n_os = n_late = n_capped = 0
    day0 = []
    for pos in range(N):
        r = frame.iloc[pos]
        g = lambda name: _value(r, name)  # noqa: E731
        start, cutoff = g(schema.DATE_IL2_START), g(schema.DATA_CUTOFF)
        if not analysed[pos] or start is None or (cutoff is not None and start > cutoff):
            continue  # not timed
        died, death, progressed = g(schema.DIED), g(schema.DATE_DEATH), g(schema.PROGRESSED)
        progression, followup = g(schema.DATE_PROGRESSION), g(schema.DATE_LAST_FOLLOWUP)
        death_known = death if died is True else None
        known_alive = [d for d in (followup, g(schema.DATE_LAST_ASSESSMENT), progression,
                                   g(schema.DATE_FIRST_RESPONSE)) if d is not None]
        alive_until = max(known_alive) if died is False and followup is not None else None
        if cutoff is not None:
            n_os += (death_known is not None and death_known > cutoff) or (
                death_known is None and alive_until is not None and alive_until > cutoff)
        prog_known = progression if progressed is not False else None
        unknown_event = ((progressed is True or g(schema.BOR) == "PD") and progression is None) or (
            died is True and death is None and prog_known is None)
        events = [d for d in (prog_known, death_known) if d is not None]
        late = bool(events) and cutoff is not None and min(events) > cutoff
        assessed = [d for d in (g(schema.DATE_LAST_ASSESSMENT), g(schema.DATE_FIRST_RESPONSE)) if d is not None]
        if unknown_event:
            continue  # no PFS time
        n_late += late
        n_capped += bool(assessed) and cutoff is not None and max(assessed) > cutoff and not late
        if not events and not assessed:
            day0.append(r[schema.PATIENT_ID])
    cut = next(n for n in notes if getattr(n, "kind", "") == "cutoff_censoring")
    assert f"({n_os:,} patient(s))" in cut and f"{n_late:,} progression(s) or death(s) after the cut-off" in cut
    assert f"{n_capped:,} last assessment(s) after the cut-off" in cut and cut.count == n_os + n_late + n_capped
    zero = next(n for n in notes if getattr(n, "kind", "") == "pfs_no_assessment")
    assert list(zero.patient_ids) == day0 and zero.count == len(day0) > 0


def test_response_rules_reclassify_the_patients_of_recist():
    frame = _messy_registry(12, all_columns=True)
    rules = apply_response_rules(frame)
    reasons = {"unconfirmed": "CR/PR not confirmed (RECIST 1.1, Table 3)",
               "short": "SD shorter than the SD minimum (RECIST 1.1, section 4.4.3)"}
    expected_bor, expected_rows = [], []
    for pos in range(N):
        r = frame.iloc[pos]
        counted, why = _counted_bor(r, confirmed_view=True)
        expected_bor.append(counted)
        if why:
            expected_rows.append((r[schema.PATIENT_ID], r[schema.BOR], counted, reasons[why]))
    assert [None if pd.isna(v) else v for v in rules.bor] == expected_bor
    got = sorted(rules.reclassified.itertuples(index=False, name=None))
    assert got == sorted(expected_rows) and len(got) > 0
    unconfirmed = next(n for n in rules.notes if n.kind == "response_unconfirmed")
    assert unconfirmed.count == sum(1 for row in expected_rows if row[3] == reasons["unconfirmed"])
    criteria = frame[schema.RESPONSE_CRITERIA]
    assert rules.criteria_mix == {str(k): int(v) for k, v in criteria.fillna("not recorded").value_counts().items()}
    assert rules.n_irecist == int(((criteria == "iRECIST") & frame[schema.BOR].notna()).sum())
