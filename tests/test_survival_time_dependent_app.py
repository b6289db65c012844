"""The Survival page's "Response over time" tab: response as a time-dependent covariate (Simon-Makuch figure,
Mantel-Byar test, time-dependent Cox HR) with the numbers of il2lib, and nothing small shown under protection."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from app_ui.masking import PROTECTED_VIEWS
from il2lib.privacy.disclosure import recoverable
from il2lib.stats import p_phrase
from il2lib.survival import response_time_dependent
from support.apptest import SAMPLE, open_app, rerun, sample_data, tables, texts, widget
from support.disclosure_scan import small_count_findings

SURVIVAL = "pages/3_Survival.py"
TAB = "Response over time"


def open_tab(at):
    at.session_state["km_more"], at.session_state["km_tab"] = True, TAB
    at.query_params["km_more"], at.query_params["km_tab"] = "true", TAB
    return rerun(at)


def charts(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


@pytest.mark.parametrize("by, grouping", [("objective_response", "response"), ("clinical_benefit", "benefit")])
def test_tab_shows_the_mantel_byar_test_and_hazard_ratio_of_il2lib(by, grouping):
    at = open_tab(open_app({"km_by": by}, page=SURVIVAL))
    expected = response_time_dependent(sample_data(), "os", grouping)
    mb, cox = expected.mantel_byar, expected.cox
    captions = texts(at, "caption")
    assert f"Mantel-Byar test: chi-square = {mb.statistic:.2f} on 1 df, {p_phrase(mb.pvalue)}." in captions
    hr = f"{cox.hr:.2f} (95% CI {cox.hr_lower:.2f}–{cox.hr_upper:.2f})"
    assert any(hr in c and "Efron" in c for c in captions), captions
    assert [m.value for m in at.metric if m.label == "Mantel-Byar test"] == [p_phrase(mb.pvalue)]
    assert any("responds at month 10" in c and "guarantee-time bias" in c for c in captions)
    assert any(f"({expected.rows.n_switched} switched)" in c for c in captions)
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    assert any("landmark at" in t for t in titles), "the landmark view stays the page's default"
    sm = [c for c in charts(at) if "over time (Simon-Makuch)" in c["layout"]["title"]["text"]]
    assert len(sm) == 1 and f"chi-square {mb.statistic:.2f}" in sm[0]["layout"]["title"]["subtitle"]["text"]
    assert set(expected.labels) <= {t.get("name") for t in sm[0]["data"]}
    summary = [d for d in tables(at) if list(d.columns) == ["Measure", "Value"]]
    assert summary and f"{mb.statistic:.2f}" in list(summary[0]["Value"])
    tab = [t for t in at.tabs if t.label == TAB][0]
    assert [e for e in tab.expander if e.label.startswith("Show code")]


def test_other_groupings_choose_the_status_that_changes():
    at = open_tab(open_app({"km_by": "disease"}, page=SURVIVAL))
    at.radio(key="td_status").set_value("benefit")
    rerun(at)
    mb = response_time_dependent(sample_data(), "os", "benefit").mantel_byar
    assert f"Mantel-Byar test: chi-square = {mb.statistic:.2f} on 1 df, {p_phrase(mb.pvalue)}." in texts(at, "caption")


def test_duration_of_response_has_no_time_dependent_analysis():
    at = open_tab(open_app({"km_by": "objective_response", "endpoint": "dor"}, page=SURVIVAL))
    assert any("applies to overall and progression-free survival" in m.value for m in at.info)


def _undated_upload(pseudonyms: bool = False):
    """The sample with three responders' date of first response blanked, uploaded; the Survival tab opened."""
    raw = pd.read_csv(SAMPLE, dtype=str)
    undated = raw.index[raw["bor"].isin(["CR", "PR"])][:3]
    raw.loc[undated, "date_first_response"] = ""
    at = open_app({"km_by": "objective_response"})
    at.radio(key="w_data").set_value("upload")
    rerun(at)
    at.file_uploader(key="w_upload").set_value(("undated.csv", raw.to_csv(index=False).encode(), "text/csv"))
    rerun(at)
    if pseudonyms:
        widget(at, "toggle", "w_pseudonyms").set_value(True)
        rerun(at)
    at.switch_page(SURVIVAL)
    return open_tab(rerun(at)), raw, undated


def left_out_table(at) -> pd.DataFrame:
    found = [d for d in tables(at) if list(d.columns) == ["Patient", "Reason"]]
    assert found, [list(d.columns) for d in tables(at)]
    return found[0]


def test_responders_without_a_date_of_first_response_are_listed_as_left_out():
    at, raw, undated = _undated_upload()
    left_out = [left_out_table(at)]
    assert sorted(left_out[0]["Patient"]) == sorted(raw.loc[undated, "patient_id"])
    assert set(left_out[0]["Reason"]) == {"CR/PR without a date of first response"}
    assert any("Left out: 3 CR/PR without a date of first response" in c for c in texts(at, "caption"))


@pytest.mark.parametrize("query", [
    {"km_by": "objective_response", "disease": "melanoma", "line_of_il2": "3+"},
    {"km_by": "clinical_benefit", "disease": "rcc"},
    {"km_by": "source", "disease": "melanoma", "line_of_il2": "3+"},
])
def test_no_count_below_the_threshold_in_the_tab_under_protection(query):
    at = open_tab(open_app({**query, "mask": "1", "mask_k": "5"}, page=SURVIVAL))
    assert [t for t in at.tabs if t.label == TAB and t.children], "the tab did not open"
    assert any("over time (Simon-Makuch)" in c["layout"]["title"]["text"] for c in charts(at))
    found = [(w, s) for w, s in small_count_findings(at) if "expander 'Models and further" in w]
    assert not found, found
    views = [(v, s) for kind, v, s in at.session_state[PROTECTED_VIEWS] if kind == "time-dependent response"]
    assert views
    for view, shown in views:
        assert recoverable(view, shown) == {}
    assert not [d for d in tables(at) if list(d.columns) == ["Patient", "Reason"]]


def test_left_out_patients_are_listed_by_pseudonym_when_pseudonyms_are_on():
    at, raw, undated = _undated_upload(pseudonyms=True)
    listed = list(left_out_table(at)["Patient"])
    assert len(listed) == 3 and not set(listed) & set(raw["patient_id"])
    assert all(p.startswith("row ") for p in listed), listed
