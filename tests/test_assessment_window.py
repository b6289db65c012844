"""The assessment window W of the clinical-benefit SD rule, from load to CLI, report and pages.

docs/domain.md "Derived fields": an SD meets ``cb_sd_months`` when its duration in whole days is
>= cb_sd_months x 30.4375 - W (W = 7 days by default, configurable, printed in the rule text).
6 months = 182.625 days: with W = 7 the bar is 175.625 days, so 182 days meets it and 166 days
does not; with W = 0 the bar is 182.625 (182 fails); with W = 17 it is 165.625 (166 meets).
"""
from __future__ import annotations

import json

import pytest
from conftest import csv_bytes, patient_rows

from il2lib import schema
from il2lib.cli import main
from il2lib.cohort import benefit_rule_text
from support.apptest import open_app, rerun, texts, widget

#: SD from IL-2 start 2016-01-01 to the last assessment: 182 days (2016-07-01) and 166 days (2016-06-15);
#: sd_duration_months is computed from these dates by the loader.
SD_ROWS = (
    {"date_il2_start": "2016-01-01", "bor": "SD", "progressed": "No", "date_progression": "",
     "date_last_assessment": "2016-07-01", "date_last_followup": "2017-01-01"},
    {"date_il2_start": "2016-01-01", "bor": "SD", "progressed": "No", "date_progression": "",
     "date_last_assessment": "2016-06-15", "date_last_followup": "2017-01-01"},
)


@pytest.mark.parametrize("window, expected", [(None, [True, False]), (0, [False, False]), (17, [True, True])])
def test_window_decides_clinical_benefit_at_load(load, window, expected):
    kw = {} if window is None else {"assessment_window_days": window}
    cohort = load(patient_rows(*SD_ROWS), **kw)
    assert cohort.data[schema.CLINICAL_BENEFIT].tolist() == expected
    assert cohort.assessment_window_days == (7.0 if window is None else float(window))


def test_window_reaches_the_analyses_that_recompute_benefit(load):
    from il2lib.analyses.biomarkers import biomarker_comparison
    from il2lib.analyses.response import response_rates

    data = load(patient_rows(*SD_ROWS)).data
    # CBR: 1/2 with W = 7 (182 days meets), 0/2 with W = 0.
    for window, responders in ((7, 1), (0, 0)):
        cbr = response_rates(data, outcome=["cbr"], window_days=window).rates.iloc[0]
        assert (int(cbr["responders"]), int(cbr["n"])) == (responders, 2)
        groups = biomarker_comparison(data.assign(platelet_nadir=[40.0, 60.0]), window_days=window).groups
        assert groups[["n_cb", "n_no_cb"]].iloc[0].tolist() == [responders, 2 - responders]


def test_rule_text_prints_the_window():
    assert benefit_rule_text(6, 7) == ("CR or PR, or SD lasting at least 6 months (176 days or more: 6 × 30.4375 "
                                       "days less an assessment window of 7 days)")
    assert "183 days or more" in benefit_rule_text(6, 0)  # ceil(182.625)
    assert benefit_rule_text(0, 7) == "CR or PR, or SD of any duration"


def test_invalid_window_is_refused(load):
    with pytest.raises(ValueError, match="assessment_window_days"):
        load(patient_rows(*SD_ROWS), assessment_window_days=-1)


def test_cli_option_changes_the_clinical_benefit_rate(tmp_path, capsys):
    path = tmp_path / "sd.csv"
    path.write_bytes(csv_bytes(patient_rows(*SD_ROWS).assign(platelet_nadir=["40", "60"])))

    def cbr(*extra):
        assert main(["response", str(path), "--format", "json", *extra]) == 0
        payload = json.loads(capsys.readouterr().out)
        group = next(iter(payload["groups"].values()))
        return group["cbr"]["responders"], payload["assessment_window_days"]

    assert cbr() == (1, 7.0)
    assert cbr("--assessment-window-days", "0") == (0, 0.0)
    assert main(["biomarkers", str(path), "--format", "json", "--assessment-window-days", "0"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["assessment_window_days"] == 0.0 and payload["groups"][0]["n_cb"] == 0
    assert main(["response", str(path), "--assessment-window-days", "-3"]) == 2
    assert "--assessment-window-days" in capsys.readouterr().err


def test_report_prints_the_window_and_reproduces_it(load):
    from il2lib.report import build_report

    cohort = load(patient_rows(*SD_ROWS, {"bor": "PR", "date_first_response": "2016-03-01"}),
                  assessment_window_days=0)
    html = build_report(cohort).html
    assert "assessment window of 0 days" in html
    assert "--assessment-window-days 0" in html


def test_sidebar_setting_and_rule_text_in_the_app():
    at = open_app({"cb_window": "0", "t1_by": schema.CLINICAL_BENEFIT}, "pages/1_Cohort.py")
    assert widget(at, "number_input", "w_cb_window").value == 0.0
    rule = benefit_rule_text(6, 0)
    assert any(rule in c for c in texts(at, "caption"))  # Table 1 by clinical benefit names the rule
    assert any(rule in c for c in [e.value.replace("\\", "") for e in at.sidebar.caption])
    widget(at, "number_input", "w_cb_window").set_value(14.0)
    rerun(at)
    assert at.query_params["cb_window"] == "14"
    assert any(benefit_rule_text(6, 14) in c for c in texts(at, "caption"))


def test_survival_page_states_the_censoring_rules_for_pfs():
    from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED

    at = open_app({"endpoint": "pfs", "km_by": "None"}, "pages/3_Survival.py")
    assert any(FDA_ROWS_NOT_APPLIED in c for c in texts(at, "caption"))
    at = open_app({"endpoint": "os", "km_by": "None"}, "pages/3_Survival.py")
    assert not any(FDA_ROWS_NOT_APPLIED in c for c in texts(at, "caption"))
