"""The RECIST rules of a frame are counted once and selected per grouping: each grouping's best-response table and
rates equal those of its own patients alone (the rules applied to that grouping's rows only): counts, rates, CIs,
tests, notes (text, counts, patient ids, order) and re-classified patients; and one set of rules shared by every
grouping gives what each call counting its own gives."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from il2lib import schema
from il2lib.analyses.response import FrameRules, best_response_table, response_rates
from il2lib.notes import Note
from il2lib.validation.patients import load_cohort

GROUPINGS = (None, schema.DISEASE, schema.SOURCE, schema.LINE_OF_IL2, schema.SEX, schema.PRIOR_PD1)


def messy_cohort() -> pd.DataFrame:
    """The bundled sample with unconfirmed and blank-confirmation responses, iRECIST categories and criteria, blank criteria,
    short SDs and SDs without a duration, a source missing for some patients, a sex missing for others (they leave that grouping) and one BOR
    missing after loading."""
    raw = pd.read_csv(ROOT / "sample_data" / "combined_synthetic.csv", dtype=str, keep_default_na=False)
    raw.loc[raw.index[:6], "bor"] = ["iCR", "iPR", "iSD", "iUPD", "iCPD", "iPR"]
    raw.loc[raw.index[6:9], "response_criteria"] = "iRECIST"
    raw.loc[raw.index[40:44], "response_criteria"] = ""
    df = load_cohort(raw.to_csv(index=False).encode()).data.copy()
    responders = np.flatnonzero(df[schema.BOR].isin(schema.RESPONDERS).to_numpy())
    confirmed = df[schema.RESPONSE_CONFIRMED].astype("boolean")
    confirmed.iloc[responders[::3]] = False
    confirmed.iloc[responders[1::3]] = True
    confirmed.iloc[responders[2::5]] = pd.NA
    df[schema.RESPONSE_CONFIRMED] = confirmed
    sd = np.flatnonzero(df[schema.BOR].eq("SD").to_numpy())
    durations = df[schema.SD_DURATION].copy()
    durations.iloc[sd[::2]] = 0.8  # shorter than 6 weeks
    durations.iloc[sd[1::4]] = np.nan  # with no dates either: the SD minimum cannot be checked
    df[schema.SD_DURATION] = durations
    for col in (schema.DATE_PROGRESSION, schema.DATE_LAST_ASSESSMENT):
        dates = df[col].copy()
        dates.iloc[sd[1::4]] = pd.NaT
        df[col] = dates
    df[schema.SOURCE] = df[schema.SOURCE].astype(object).where(np.arange(len(df)) % 7 != 3, None)
    df[schema.SEX] = df[schema.SEX].astype(object).where(np.arange(len(df)) % 5 != 1, None)
    bor = df[schema.BOR].astype(object)
    bor.iloc[10] = None
    df[schema.BOR] = bor
    return df


def assert_same(shared, alone, where: str = "") -> None:
    """Every field equal, recursively: frames and series exactly (dtypes included), notes with their details."""
    if dataclasses.is_dataclass(shared) and not isinstance(shared, type):
        assert type(shared) is type(alone), where
        for f in dataclasses.fields(shared):
            assert_same(getattr(shared, f.name), getattr(alone, f.name), f"{where}.{f.name}")
    elif isinstance(shared, pd.DataFrame):
        pd.testing.assert_frame_equal(shared, alone, obj=where)
    elif isinstance(shared, pd.Series):
        pd.testing.assert_series_equal(shared, alone, obj=where)
    elif isinstance(shared, Note) or isinstance(alone, Note):
        assert type(shared) is type(alone), where
        assert (str(shared), shared.count, shared.patient_ids, shared.kind, shared.text_parts, shared.named_ids) == \
            (str(alone), alone.count, alone.patient_ids, alone.kind, alone.text_parts, alone.named_ids), where
    elif isinstance(shared, (tuple, list)):
        assert type(shared) is type(alone) and len(shared) == len(alone), where
        for i, (a, b) in enumerate(zip(shared, alone)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(shared, dict):
        assert list(shared) == list(alone), where
        for k in shared:
            assert_same(shared[k], alone[k], f"{where}[{k!r}]")
    elif isinstance(shared, float) and math.isnan(shared):
        assert isinstance(alone, float) and math.isnan(alone), where
    else:
        assert shared == alone, where


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return messy_cohort()


def test_the_messy_cohort_exercises_every_rule_note(cohort):
    kinds = {n.kind for n in response_rates(cohort, schema.SEX).notes}
    assert {"orr_view", "response_unconfirmed", "confirmation_blank", "sd_below_minimum", "sd_minimum_unknown",
            "irecist", "response_criteria"} <= kinds
    assert "not recorded" in response_rates(cohort, schema.SEX).criteria_mix
    excluded = set(best_response_table(cohort, schema.SEX).excluded["reason"])
    assert any("missing" in r for r in excluded) and any("not one of" in r for r in excluded)


def own_rows(df: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """The patients a grouping counts: a group and a BOR of CR/PR/SD/PD/NE."""
    keep = df[schema.BOR].isin(schema.BOR_LEVELS)
    return df[keep & df[by].notna()] if by else df[keep]


def assert_same_but_exclusions(selected, alone, where: str) -> None:
    """Equal in every field but the exclusions (the grouping's own rows exclude nobody)."""
    for f in dataclasses.fields(selected):
        if f.name != "excluded":
            assert_same(getattr(selected, f.name), getattr(alone, f.name), f"{where}.{f.name}")


@pytest.mark.parametrize("view", ["confirmed", "all"])
@pytest.mark.parametrize("sd_minimum_weeks", [0, 6])
def test_each_grouping_counts_the_rules_of_its_own_patients(cohort, view, sd_minimum_weeks):
    for by in GROUPINGS:
        alone = own_rows(cohort, by)
        assert len(alone) < len(cohort)  # the frame's rules are selected, not taken whole
        assert_same_but_exclusions(best_response_table(cohort, by, view, sd_minimum_weeks),
                                   best_response_table(alone, by, view, sd_minimum_weeks), f"table by {by}")
        for denominator in ("itt", "evaluable"):
            assert_same_but_exclusions(
                response_rates(cohort, by, denominator=denominator, view=view, sd_minimum_weeks=sd_minimum_weeks),
                response_rates(alone, by, denominator=denominator, view=view, sd_minimum_weeks=sd_minimum_weeks),
                f"rates by {by}, {denominator}")


@pytest.mark.parametrize("window", [0, 14])
def test_each_grouping_counts_its_own_patients_without_a_confirmation_column(cohort, window):
    df = cohort.drop(columns=[schema.RESPONSE_CONFIRMED])
    for by in GROUPINGS:
        assert_same_but_exclusions(response_rates(df, by, window_days=window),
                                   response_rates(own_rows(df, by), by, window_days=window), f"rates by {by}")


@pytest.mark.parametrize("view", ["confirmed", "all"])
def test_shared_rules_give_the_tables_and_rates_of_each_call_alone(cohort, view):
    rules = FrameRules(cohort)  # one for every grouping, denominator, SD minimum and both functions
    for by in GROUPINGS:
        for sd_minimum_weeks in (0, 6):
            assert_same(best_response_table(cohort, by, view, sd_minimum_weeks, frame_rules=rules),
                        best_response_table(cohort, by, view, sd_minimum_weeks), f"table by {by}")
            for denominator in ("itt", "evaluable"):
                assert_same(response_rates(cohort, by, denominator=denominator, view=view,
                                           sd_minimum_weeks=sd_minimum_weeks, frame_rules=rules),
                            response_rates(cohort, by, denominator=denominator, view=view,
                                           sd_minimum_weeks=sd_minimum_weeks), f"rates by {by}, {denominator}")


def test_shared_rules_answer_only_for_their_frame(cohort):
    rules = FrameRules(cohort)
    with pytest.raises(ValueError, match="another frame"):
        response_rates(cohort.copy(), schema.DISEASE, frame_rules=rules)


def test_a_sessions_shared_rules_stay_in_that_session():
    import streamlit as st

    from app_ui.cached import FRAME_RULES
    from support.apptest import open_app

    held = []
    for _ in range(2):
        st.cache_data.clear()  # the rules are counted when the response results are computed, not on a cache hit
        at = open_app(page="pages/2_Response.py")
        held.append(at.session_state[FRAME_RULES])
        assert held[-1] and all(isinstance(r, FrameRules) for r in held[-1].values())
    assert not set(map(id, held[0].values())) & set(map(id, held[1].values()))
