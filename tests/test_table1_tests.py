"""Table 1 p-values: no test of a variable that defines the groups, no rank test with a group of fewer than 2
patients, and a group without any value that drops out of a test is named under the table (review F11, F12)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses.table1 import table1

RESPONSE_COLUMNS = [schema.BOR, schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT, schema.DISEASE_CONTROL]


@pytest.fixture
def responses():
    """16 patients, twice: CR, PR, SD >= 6 months (CB), SD short, PD x3, NE. CB = CR/PR or long SD (docs/domain.md)."""
    bor = ["CR", "PR", "SD", "SD", "PD", "PD", "PD", "NE"] * 2
    return pd.DataFrame({
        schema.PATIENT_ID: [f"P{i}" for i in range(16)], schema.BOR: bor,
        schema.OBJECTIVE_RESPONSE: pd.array([b in ("CR", "PR") for b in bor], dtype="boolean"),
        schema.CLINICAL_BENEFIT: pd.array(([True] * 3 + [False] * 5) * 2, dtype="boolean"),
        schema.DISEASE_CONTROL: pd.array(([True] * 4 + [False] * 4) * 2, dtype="boolean"),
        schema.AGE: [40 + 2 * i for i in range(16)],
    })


@pytest.mark.parametrize("by", RESPONSE_COLUMNS)
def test_no_p_value_for_a_variable_that_defines_the_groups(responses, by):
    """CB is CR/PR or a long SD: testing BOR against it gave p = 6e-09 on the community sample, a tautology."""
    variables = [c for c in RESPONSE_COLUMNS if c != by] + [schema.AGE]
    t = table1(responses, by=by, variables=variables)
    tests = t.tests.set_index("variable")
    for column in variables[:-1]:
        assert tests.loc[column, "test"] is None and np.isnan(tests.loc[column, "pvalue"])
        assert "not tested" in tests.loc[column, "note"]
        shown = t.display().set_index("Characteristic").loc[schema.label(column), "p-value"]
        assert shown == "—"
        assert any(schema.label(column) in n and "best overall response" in n for n in t.footnotes)
    # other variables are still tested (5 BOR groups: Kruskal-Wallis)
    assert tests.loc[schema.AGE, "test"] == ("kruskal_wallis" if by == schema.BOR else "wilcoxon_rank_sum")


def test_response_is_still_tested_against_an_unrelated_grouping(responses):
    responses[schema.SEX] = ["M", "F"] * 8
    t = table1(responses, by=schema.SEX, variables=[schema.BOR])
    assert t.tests.iloc[0]["test"] == "fisher_freeman_halton"


@pytest.fixture
def small_groups():
    """Groups A (P0, P1), B (P2 only), C (P3-P5); B has no LDH and no sex recorded."""
    return pd.DataFrame({
        schema.PATIENT_ID: [f"P{i}" for i in range(6)], schema.SOURCE: ["A", "A", "B", "C", "C", "C"],
        schema.AGE: [40, 50, 60, 45, 55, 65],
        schema.BASELINE_LDH: [200, 300, np.nan, 250, 400, 500],
        schema.SEX: ["M", "F", None, "F", "M", "M"],
    })


def test_no_rank_test_with_a_group_of_fewer_than_2_patients(small_groups):
    """Age: B has 1 patient. R's kruskal.test(list(c(40,50), 60, c(45,55,65))) would print p = 0.3425 from a
    chi-square approximation that one patient cannot support: no p-value, and the reason under the table."""
    t = table1(small_groups, by=schema.SOURCE, variables=[schema.AGE])
    row = t.tests.iloc[0]
    assert row["test"] is None and np.isnan(row["pvalue"])
    assert "fewer than 2" in row["note"] and "B" in row["note"]
    assert t.display().iloc[0]["p-value"] == "—"
    note = next(n for n in t.footnotes if getattr(n, "kind", "") == "table1_group_too_small")
    assert "Age" in note and "B" in note and "fewer than 2" in note
    assert note.count == 1 and note.patient_ids == ("P2",)


def test_a_group_without_values_drops_out_of_the_test_and_is_named(small_groups):
    """LDH: B has no value, so the test compares A and C only: R wilcox.test(c(200, 300), c(250, 400, 500)):
    W = 1, p = 0.4 (exact). The table says that B was left out."""
    t = table1(small_groups, by=schema.SOURCE, variables=[schema.BASELINE_LDH])
    row = t.tests.iloc[0]
    assert row["test"] == "wilcoxon_rank_sum"
    assert row["statistic"] == 1 and row["pvalue"] == pytest.approx(0.4, abs=1e-12)
    note = next(n for n in t.footnotes if getattr(n, "kind", "") == "table1_group_left_out")
    assert "Baseline LDH" in note and "B" in note and "A and C" in note
    assert note.count == 1 and note.patient_ids == ("P2",)


def test_a_group_without_values_is_named_for_categorical_tests_too(small_groups):
    """Sex: B's only patient has no sex recorded; Fisher's exact test compares A and C (2x2)."""
    t = table1(small_groups, by=schema.SOURCE, variables=[schema.SEX])
    assert t.tests.iloc[0]["test"] == "fisher_exact"
    note = next(n for n in t.footnotes if getattr(n, "kind", "") == "table1_group_left_out")
    assert "Sex" in note and "B" in note and note.patient_ids == ("P2",)


def test_no_note_when_every_group_has_values(small_groups):
    t = table1(small_groups[small_groups[schema.SOURCE] != "B"], by=schema.SOURCE,
               variables=[schema.AGE, schema.BASELINE_LDH, schema.SEX])
    assert not any(getattr(n, "kind", "").startswith("table1_") for n in t.footnotes)
    assert t.tests["test"].notna().all()


def test_cohort_page_shows_why_bor_has_no_p_value_by_clinical_benefit():
    from support.apptest import open_app, tables, texts

    at = open_app({"t1_by": schema.CLINICAL_BENEFIT}, "pages/1_Cohort.py")
    shown = tables(at)[0]
    row = shown[shown["Characteristic"] == schema.label(schema.BOR)].iloc[0]
    assert row["p-value"] == "—"
    assert any(c.startswith("Best overall response: no p-value") for c in texts(at, "caption"))
