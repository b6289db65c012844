"""Response tables and rates on hand-built cohorts in the loader's shape, and on the sample data."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import load_cohort, schema
from il2lib.analyses.response import best_response_table, duration_of_response, response_rates

TOL = 1e-9
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def cohort(spec: dict[str, dict[str, int]], **extra) -> pd.DataFrame:
    """One row per patient: spec = {disease: {bor: count}}; SD gets an SD duration of 8 months."""
    rows = []
    for disease, counts in spec.items():
        for bor, k in counts.items():
            for _ in range(k):
                rows.append({schema.PATIENT_ID: f"P{len(rows) + 1:03d}", schema.DISEASE: disease, schema.BOR: bor,
                             schema.SD_DURATION: 8.0 if bor == "SD" else np.nan})
    df = pd.DataFrame(rows)
    for col, values in extra.items():
        df[col] = values
    return df


PROCLAIM_LIKE = {schema.MELANOMA: {"CR": 4, "PR": 5, "SD": 8, "PD": 21, "NE": 2},
                 schema.RCC: {"CR": 2, "PR": 2, "SD": 4, "PD": 8, "NE": 1}}


def test_best_response_counts_and_percent():
    tab = best_response_table(cohort(PROCLAIM_LIKE), by=schema.DISEASE)
    assert tab.groups == ("Melanoma", "RCC")
    c = tab.to_frame().set_index(["group", "response"])
    assert c.loc[("Melanoma", "CR"), "n"] == 4 and c.loc[("Melanoma", "PR"), "n"] == 5
    assert c.loc[("Melanoma", "PR"), "percent"] == pytest.approx(12.5)
    assert c.loc[("RCC", "NE"), "group_n"] == 17
    disp = tab.display()
    assert disp.loc["Objective response (CR+PR)", "Melanoma (n=40)"] == "9 (22.5%)"
    assert tab.excluded.empty and tab.n_used == 57


def test_rates_exact_ci_and_fisher_comparison():
    res = response_rates(cohort(PROCLAIM_LIKE), by=schema.DISEASE, outcome="orr")
    r = res.to_frame().set_index("group")
    assert (r.loc["Melanoma", "responders"], r.loc["Melanoma", "n"]) == (9, 40)
    assert r.loc["Melanoma", "ci_lower"] == pytest.approx(0.108396638984072, abs=TOL)  # binom.test(9, 40)
    assert r.loc["RCC", "ci_upper"] == pytest.approx(0.49899327320458, abs=TOL)  # binom.test(4, 17)
    assert r.loc["Melanoma", "n_ne"] == 2
    comp = res.comparison
    assert comp.result.test == "fisher_exact"
    assert comp.result.pvalue == pytest.approx(1.0, abs=TOL)  # fisher.test(matrix(c(9,31,4,13),2,byrow=T))


def test_wilson_option():
    res = response_rates(cohort(PROCLAIM_LIKE), outcome="orr", ci_method="wilson")
    row = res.to_frame().iloc[0]
    assert (row["responders"], row["n"]) == (13, 57)
    assert row["ci_lower"] == pytest.approx(0.138418904989622, abs=TOL)  # prop.test(13, 57, correct = FALSE)
    assert res.comparison is None  # one group: nothing to compare


def test_evaluable_denominator_lists_ne():
    res = response_rates(cohort(PROCLAIM_LIKE), by=schema.DISEASE, outcome="orr", denominator="evaluable")
    r = res.to_frame().set_index("group")
    assert r.loc["Melanoma", "n"] == 38 and r.loc["RCC", "n"] == 16
    assert (res.excluded["reason"].str.contains("NE")).sum() == 3


def test_cbr_threshold_and_undetermined_sd():
    df = cohort({schema.MELANOMA: {"CR": 1, "SD": 3, "PD": 2}})
    df.loc[df[schema.BOR] == "SD", schema.SD_DURATION] = [3.0, 7.0, np.nan]
    res = response_rates(df, outcome=["cbr", "dcr"], cb_sd_months=6)
    r = res.to_frame().set_index("outcome")
    assert (r.loc["cbr", "responders"], r.loc["cbr", "n"], r.loc["cbr", "n_undetermined"]) == (2, 5, 1)
    assert (r.loc["dcr", "responders"], r.loc["dcr", "n"]) == (4, 6)
    assert res.excluded["reason"].str.contains("SD without a duration").sum() == 1
    any_sd = response_rates(df, outcome="cbr", cb_sd_months=0).to_frame().iloc[0]
    assert (any_sd["responders"], any_sd["n"]) == (4, 6)


def test_missing_group_value_is_excluded_with_reason():
    df = cohort(PROCLAIM_LIKE)
    df[schema.PRIOR_PD1_AGENT] = "nivolumab"
    df.loc[:2, schema.PRIOR_PD1_AGENT] = None
    res = response_rates(df, by=schema.PRIOR_PD1_AGENT, outcome="orr")
    assert res.to_frame()["n"].sum() == 54
    assert len(res.excluded) == 3 and set(res.excluded["reason"]) == {"Prior PD-1/PD-L1 agent missing"}
    assert res.n_note == "Patients used: 54; left out: 3 (Prior PD-1/PD-L1 agent missing)."
    assert best_response_table(cohort(PROCLAIM_LIKE)).n_note == "Patients used: 57; none left out."


def test_boolean_grouping_and_json_contract():
    df = cohort(PROCLAIM_LIKE)
    df[schema.PRIOR_PD1] = pd.array([True] * 30 + [False] * 27, dtype="boolean")
    res = response_rates(df, by=schema.PRIOR_PD1)
    data = json.loads(res.to_json())
    assert data["by"] == schema.PRIOR_PD1 and set(data["groups"]) == {"Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"}
    yes = data["groups"]["Prior PD-1/PD-L1: yes"]
    assert yes["n"] == 30 and sum(yes["best_response"].values()) == 30
    assert set(yes["orr"]) == {"responders", "n", "rate", "ci95"} and len(yes["orr"]["ci95"]) == 2
    assert set(yes["cbr"]) == {"responders", "n", "rate", "ci95"}
    assert data["comparison"]["outcome"] == "orr"
    assert data["comparison"]["test"] in {"fisher_exact", "fisher_freeman_halton", "chi_square"}
    assert 0 <= data["comparison"]["pvalue"] <= 1


def test_three_groups_choose_exact_or_chisq_by_expected_counts():
    small = cohort({"a": {"CR": 3, "PD": 7}, "b": {"CR": 1, "PD": 9}, "c": {"CR": 5, "PD": 5}})
    comp = response_rates(small, by=schema.DISEASE, outcome="orr").comparison
    assert comp.result.test == "fisher_freeman_halton"
    big = cohort({"a": {"CR": 30, "PD": 30}, "b": {"CR": 20, "PD": 40}, "c": {"CR": 25, "PD": 35}})
    comp = response_rates(big, by=schema.DISEASE, outcome="orr").comparison
    assert comp.result.test == "chi_square" and comp.result.df == 2
    assert comp.table == ((30, 30), (20, 40), (25, 35))


def test_line_of_therapy_grouping_uses_shared_line_groups():
    df = cohort({schema.MELANOMA: {"CR": 2, "PD": 4}})
    df[schema.LINE_OF_IL2] = pd.array([1, 1, 2, 3, 4, None], dtype="Int64")
    tab = best_response_table(df, by=schema.LINE_OF_IL2)
    assert tab.groups == ("Line of IL-2: 1", "Line of IL-2: 2", "Line of IL-2: 3+")
    assert len(tab.excluded) == 1


def test_unknown_column_and_outcome_are_clear_errors():
    with pytest.raises(KeyError, match="not in the data"):
        response_rates(cohort(PROCLAIM_LIKE), by="nope")
    with pytest.raises(ValueError, match="Unknown outcome"):
        response_rates(cohort(PROCLAIM_LIKE), outcome="os")


def test_duration_of_response_median_and_range():
    df = cohort({schema.MELANOMA: {"CR": 2, "PR": 3, "PD": 2}})
    df[schema.DOR_MONTHS] = [2.0, 5.0, 7.0, 12.0, np.nan, np.nan, np.nan]
    df[schema.DOR_EVENT] = pd.array([True, True, False, True, None, None, None], dtype="boolean")
    dor = duration_of_response(df)
    assert (dor.n_responders, dor.n_analysed, dor.n_events, dor.n_ongoing) == (5, 4, 3, 1)
    assert dor.range_text == "2.0–12.0"
    assert len(dor.excluded) == 1
    # KM: S = 0.75 after 2, 0.5 after 5 (flat to 12): R's midpoint rule gives (5 + 12) / 2
    assert dor.median == pytest.approx(8.5, abs=1e-9)


def test_duration_of_response_marks_an_ongoing_longest_response_and_to_frame_holds_the_numbers():
    df = cohort({schema.MELANOMA: {"CR": 1, "PR": 4, "SD": 1}})
    df[schema.DOR_MONTHS] = [2.1, 5.0, 8.0, 35.4, 9.9, 4.0]
    df[schema.DOR_EVENT] = pd.array([True, True, False, False, True, True], dtype="boolean")
    dor = duration_of_response(df)
    assert (dor.n_responders, dor.n_analysed, dor.n_events, dor.n_ongoing) == (5, 5, 3, 2)
    assert dor.range_text == "2.1–35.4+"
    frame = dor.to_frame()
    assert list(frame.columns) == ["n_responders", "n_analysed", "n_events", "n_ongoing", "median_months",
                                   "ci_lower", "ci_upper", "range", "conf_type"]
    expected = [dor.n_responders, dor.n_analysed, dor.n_events, dor.n_ongoing, dor.median, *dor.median_ci,
                dor.range_text, dor.conf_type]
    pd.testing.assert_frame_equal(frame, pd.DataFrame([expected], columns=frame.columns))


# ---------------------------------------------------------------- sample data (pinned)
def _load(name):
    return load_cohort(SAMPLE / name).data


def test_proclaim_sample_reproduces_published_response_counts():
    df = _load("proclaim_synthetic.csv")
    counts = best_response_table(df, by=schema.DISEASE).to_frame().set_index(["group", "response"])["n"]
    assert (counts["Melanoma", "CR"], counts["Melanoma", "PR"]) == (4, 5)
    assert (counts["RCC", "CR"], counts["RCC", "PR"]) == (2, 2)
    r = response_rates(df, by=schema.DISEASE, outcome="orr").to_frame().set_index("group")
    assert (r.loc["Melanoma", "responders"], r.loc["Melanoma", "n"]) == (9, 40)
    assert r.loc["Melanoma", "rate"] == pytest.approx(0.225)
    assert (round(100 * r.loc["Melanoma", "ci_lower"], 1), round(100 * r.loc["Melanoma", "ci_upper"], 1)) == (10.8, 38.5)
    assert (r.loc["RCC", "responders"], r.loc["RCC", "n"]) == (4, 17)


def test_community_sample_first_line_clinical_benefit():
    df = _load("community_synthetic.csv")
    res = response_rates(df, by=schema.LINE_OF_IL2, outcome="cbr").to_frame().set_index("group")
    first = res.loc["Line of IL-2: 1"]
    assert (first["responders"], first["n"]) == (9, 36)


def test_grouping_by_prior_pd1_best_response_keeps_schema_order():
    df = cohort(PROCLAIM_LIKE)
    df[schema.PRIOR_PD1_BOR] = (["PD", "SD", "PR", "CR"] * 15)[:57]
    tab = best_response_table(df, by=schema.PRIOR_PD1_BOR)
    assert tab.groups == tuple(f"Best response to prior PD-1/PD-L1: {r}" for r in ("CR", "PR", "SD", "PD"))
    res = response_rates(df, by=schema.PRIOR_PD1_BOR, outcome="orr")
    assert res.comparison.result.test in {"fisher_freeman_halton", "chi_square"}
    assert res.comparison.result.label  # the test is always named


def test_group_with_no_cbr_denominator_gives_null_rate_not_nan():
    df = cohort({schema.MELANOMA: {"SD": 2}, schema.RCC: {"CR": 1, "PD": 2}})
    df[schema.SD_DURATION] = np.nan  # SD without duration: CB undetermined for every melanoma patient
    res = response_rates(df, by=schema.DISEASE, outcome=["orr", "cbr"])
    data = json.loads(res.to_json())
    assert data["groups"]["Melanoma"]["cbr"] == {"responders": 0, "n": 0, "rate": None, "ci95": None}
    shown = res.display().set_index(["Group", "Outcome"])
    assert shown.loc[("Melanoma", "CBR (CR+PR+SD>=threshold)"), "Rate, %"] == "—"
