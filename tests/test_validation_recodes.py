"""Loader options the Data page drives: accepted recodes of close category values, the step names of a load,
and the examples of a date column that reads both ways."""
from __future__ import annotations

from conftest import csv_bytes, patient_rows

from il2lib import load_cohort, schema
from il2lib.validation.rules import AMBIGUOUS_DATE_ORDER, RECODE_SUGGESTION


def test_close_category_value_is_offered_as_a_recode_and_the_recode_analyses_the_rows():
    data = csv_bytes(patient_rows({"disease": "Melanom"}, {}, {"disease": " Melanom "}, {"disease": "lung"}, n=5))
    before = load_cohort(data).report
    offers = [f for f in before.findings if f.kind == RECODE_SUGGESTION]
    assert [(f.column, f.value, f.suggestion) for f in offers] == [(schema.DISEASE, "Melanom", "melanoma")] * 2
    assert not any(f.kind == RECODE_SUGGESTION and f.value == "lung" for f in before.findings)
    after = load_cohort(data, recodes={schema.DISEASE: {"Melanom": "melanoma"}}).report
    assert (after.n_analysed, after.n_excluded) == (before.n_analysed + 2, before.n_excluded - 2)
    assert after.n_loaded == after.n_analysed + after.n_excluded
    recoded = [c for c in after.conversions if "recoded" in c]
    assert recoded == ["disease: 'Melanom' in column 'disease' recoded to 'melanoma' (2 rows; suggestion accepted "
                       "on the Data page)."]


def test_a_recode_to_a_value_outside_the_allowed_ones_changes_nothing():
    data = csv_bytes(patient_rows({"disease": "Melanom"}, n=3))
    report = load_cohort(data, recodes={schema.DISEASE: {"Melanom": "lung"}}).report
    assert report.n_excluded == 1 and not any("recoded" in c for c in report.conversions)


def test_load_names_its_steps_in_order():
    steps: list[str] = []
    load_cohort(csv_bytes(patient_rows(n=1200)), progress=steps.append)
    assert steps == ["Validating 1,200 rows", "Deriving endpoints"]


def test_ambiguous_date_column_carries_up_to_three_examples_the_order_changes():
    frame = patient_rows(n=5).assign(date_il2_start=["03/04/2016", "05/06/2016", "07/08/2016", "07/08/2016",
                                                     "01/01/2016"],
                                     date_last_followup=["03/04/2017"] * 5, date_progression=[""] * 5,
                                     progressed=["No"] * 5)
    found = [f for f in load_cohort(csv_bytes(frame)).report.findings
             if f.kind == AMBIGUOUS_DATE_ORDER and f.column == schema.DATE_IL2_START]
    assert len(found) == 1
    assert found[0].examples == ("03/04/2016", "05/06/2016", "07/08/2016")
