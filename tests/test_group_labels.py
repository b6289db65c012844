"""Group labels name their variable where a level does not explain itself ("Prior PD-1/PD-L1: yes", "Line of IL-2:
3+", "Sex: F"; "Melanoma" and source names stay), one labelling for tables, legends, risk tables, downloads and the
report; the user sets the groups' order, whose first group is the reference of the Cox hazard ratio."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_ui.survival_view import compute, group_choices
from il2lib import load_adverse_events, load_cohort, schema
from il2lib.analyses._grouping import group_label, group_labels, level_labels, level_order, value_group_label
from il2lib.analyses.response import best_response_table, response_rates
from il2lib.analyses.table1 import table1
from il2lib.analyses.toxicity import compare_grade3, toxicity_summary
from il2lib.survival import hazard_ratio_table
from il2lib.survival.inputs import group_levels, survival_input

ROOT = Path(__file__).resolve().parents[1]
YES, NO = "Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(ROOT / "sample_data" / "combined_synthetic.csv")


@pytest.fixture(scope="module")
def data(cohort):
    return cohort.data


def test_booleans_and_line_groups_name_their_variable_and_missing_stays_missing():
    df = pd.DataFrame({schema.PRIOR_PD1: pd.array([True, False, None, True], dtype="boolean"),
                       schema.LINE_OF_IL2: pd.array([1, 2, 5, None], dtype="Int64"),
                       schema.SEX: ["F", "M", None, "F"], schema.ECOG: pd.array([0, 1, 1, None], dtype="Int64")})
    assert group_labels(df, schema.PRIOR_PD1).tolist() == [YES, NO, None, YES]
    assert group_labels(df, schema.LINE_OF_IL2).tolist() == ["Line of IL-2: 1", "Line of IL-2: 2", "Line of IL-2: 3+",
                                                             None]
    assert group_labels(df, schema.SEX).tolist() == ["Sex: F", "Sex: M", None, "Sex: F"]
    assert group_labels(df, schema.ECOG).tolist() == ["ECOG PS: 0", "ECOG PS: 1", "ECOG PS: 1", None]
    # the levels of a variable under its own heading (Table 1 rows) stay bare
    assert level_labels(df, schema.PRIOR_PD1).tolist() == ["Yes", "No", None, "Yes"]
    assert level_labels(df, schema.LINE_OF_IL2).tolist() == ["1", "2", "3+", None]


def test_names_that_explain_themselves_stay(data):
    assert set(group_labels(data, schema.DISEASE)) == {"Melanoma", "RCC"}
    assert set(group_labels(data, schema.SOURCE)) == set(data[schema.SOURCE])
    assert set(group_labels(data, schema.PRIOR_PD1_AGENT).dropna()) <= set(schema.PD1_AGENTS)
    assert group_labels(data, None).unique().tolist() == ["All patients"]
    assert value_group_label(schema.DISEASE, "rcc") == "RCC"
    assert value_group_label(schema.PRIOR_PD1, True) == YES and value_group_label(schema.PRIOR_PD1, None) is None
    assert group_label(schema.LINE_OF_IL2, "3+") == "Line of IL-2: 3+"


def test_default_order_puts_the_reference_first_and_an_order_moves_groups_ahead(data):
    labels = group_labels(data, schema.PRIOR_PD1)
    assert level_order(schema.PRIOR_PD1, labels) == [NO, YES]  # naive first: HR = exposed vs naive
    for order in (["yes"], ["Yes"], [YES], ["yes", "no"], ["unknown level", "YES"]):
        assert level_order(schema.PRIOR_PD1, labels, order) == [YES, NO], order
    lines = group_labels(data, schema.LINE_OF_IL2)
    assert level_order(schema.LINE_OF_IL2, lines) == ["Line of IL-2: 1", "Line of IL-2: 2", "Line of IL-2: 3+"]
    assert level_order(schema.LINE_OF_IL2, lines, ["3+"]) == ["Line of IL-2: 3+", "Line of IL-2: 1", "Line of IL-2: 2"]
    assert level_order(schema.DISEASE, group_labels(data, schema.DISEASE), ["RCC"]) == ["RCC", "Melanoma"]
    assert group_levels(data, schema.PRIOR_PD1, ("yes",))[1] == [YES, NO]
    assert survival_input(data, "os", schema.PRIOR_PD1, ["yes"])["group"].cat.categories.tolist() == [YES, NO]


def test_table1_columns_name_the_grouping_and_its_rows_stay_bare(data):
    t = table1(data, by=schema.PRIOR_PD1, variables=[schema.BRAIN_METS])
    assert list(t.display().columns[-2:]) == [f"{NO} (N=50)", f"{YES} (N=57)"]
    assert [c.strip() for c in t.display()["Characteristic"]][1:3] == ["Yes", "No"]
    assert t.groups == (NO, YES) and table1(data, by=schema.PRIOR_PD1, order=["yes"]).groups == (YES, NO)


def test_reference_flip_inverts_the_hazard_ratio_and_swaps_its_ci_and_keeps_log_rank(data):
    naive = compute(data, "os", schema.PRIOR_PD1, "log-log", None, 6.0)
    exposed = compute(data, "os", schema.PRIOR_PD1, "log-log", None, 6.0, order=("yes",))
    assert list(naive.curves) == [NO, YES] and list(exposed.curves) == [YES, NO]
    assert naive.order is None and exposed.order == ("yes",)
    a, b = naive.cox.summary.iloc[0], exposed.cox.summary.iloc[0]
    assert a["term"] == "Prior PD-1/PD-L1: yes vs no" and b["term"] == "Prior PD-1/PD-L1: no vs yes"
    assert a["hr"] == pytest.approx(1 / b["hr"], rel=1e-9, abs=0)
    assert a["hr_lower"] == pytest.approx(1 / b["hr_upper"], rel=1e-9, abs=0)
    assert a["hr_upper"] == pytest.approx(1 / b["hr_lower"], rel=1e-9, abs=0)
    assert a["p"] == pytest.approx(b["p"], rel=1e-9)
    assert naive.logrank.statistic == pytest.approx(exposed.logrank.statistic, rel=1e-12)
    assert naive.logrank.pvalue == pytest.approx(exposed.logrank.pvalue, rel=1e-12)
    for label in (NO, YES):  # the same curves, in another order
        assert naive.curves[label].median == exposed.curves[label].median
    assert hazard_ratio_table(naive.cox)["Cox model term"].tolist() == ["Prior PD-1/PD-L1: yes vs no"]


def test_group_choices_follow_the_endpoint_population_and_the_landmark(data):
    assert group_choices(data, "os", schema.PRIOR_PD1, None) == [NO, YES]
    assert group_choices(data, "os", None, None) == []
    assert group_choices(data, "os", schema.OBJECTIVE_RESPONSE, 6.0) == ["Responder at landmark",
                                                                         "Non-responder at landmark"]
    flipped = compute(data, "os", schema.OBJECTIVE_RESPONSE, "log-log", 6.0, 6.0,
                      order=("Non-responder at landmark",))
    assert list(flipped.curves) == ["Non-responder at landmark", "Responder at landmark"]


def test_response_tables_and_rates_follow_the_order_with_the_same_numbers(data):
    default = response_rates(data, schema.PRIOR_PD1)
    flipped = response_rates(data, schema.PRIOR_PD1, order=["yes"])
    assert default.groups == (NO, YES) and flipped.groups == (YES, NO)
    assert best_response_table(data, schema.PRIOR_PD1, order=["yes"]).groups == (YES, NO)
    key = ["group", "outcome"]
    pd.testing.assert_frame_equal(default.rates.sort_values(key).reset_index(drop=True),
                                  flipped.rates.sort_values(key).reset_index(drop=True))
    assert [c.result.pvalue for c in default.comparisons] == \
        pytest.approx([c.result.pvalue for c in flipped.comparisons])
    assert list(flipped.display().iloc[:, 0].drop_duplicates())[:2] == [YES, NO]


def test_toxicity_difference_is_the_other_group_minus_the_reference(cohort):
    ae = load_adverse_events(ROOT / "sample_data" / "combined_synthetic_adverse_events.csv", cohort).data
    default = compare_grade3(toxicity_summary(ae, cohort.data, by=schema.PRIOR_PD1))
    flipped = compare_grade3(toxicity_summary(ae, cohort.data, by=schema.PRIOR_PD1, order=["yes"]))
    assert default.groups == (NO, YES) and flipped.groups == (YES, NO)
    assert "Difference yes - no, % points" in " ".join(default.display().columns)
    assert "Difference no - yes, % points" in " ".join(flipped.display().columns)
    a, b = default.tests.set_index("term"), flipped.tests.set_index("term")
    assert np.allclose(a["difference_pct"], -b["difference_pct"])
    assert np.allclose(a["difference_ci_lower_pct"], -b["difference_ci_upper_pct"])
    assert np.allclose(a["p_value"], b["p_value"])


def _reference_page():
    import streamlit as st

    from app_ui.widgets import url_group_order

    order = url_group_order("km_ref", ["Prior PD-1/PD-L1: no", "Prior PD-1/PD-L1: yes"])
    st.write("order: " + " | ".join(order))


def _order_text(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("order: "))


def test_reference_group_control_is_kept_in_the_url():
    at = AppTest.from_function(_reference_page, default_timeout=30).run()
    assert not at.exception
    box = at.selectbox[0]
    assert box.label == "Reference group" and box.value == "no"
    assert _order_text(at) == f"order: {NO} | {YES}" and "km_ref" not in at.query_params
    box.set_value("yes").run()
    assert _order_text(at) == f"order: {YES} | {NO}" and at.query_params["km_ref"] == "yes"
    linked = AppTest.from_function(_reference_page, default_timeout=30)
    linked.query_params["km_ref"] = "yes"
    linked.run()
    assert _order_text(linked) == f"order: {YES} | {NO}"
    assert linked.selectbox[0].format_func("yes") == YES  # the control shows the full label


def test_a_comparison_names_the_variable_once():
    from il2lib.analyses._grouping import versus

    assert versus("Line of IL-2: 1", "Line of IL-2: 3+") == "Line of IL-2: 1 vs 3+"
    assert versus("Melanoma", "RCC") == "Melanoma vs RCC"
    assert versus("Sex: F", "Melanoma") == "Sex: F vs Melanoma"
