"""Meeting report: the waterfall and spider plots in the Response section when tumour assessments are given,
withheld under small-cell protection, pseudonymous with pseudonyms, absent without tumour data; the CLI passes
``--tumour`` and a REDCap export's own tumour instrument."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from il2lib.analyses.tumour_burden import load_tumour_assessments, tumour_burden
from il2lib.cli import main
from il2lib.report import build_report
from il2lib.validation.patients import load_cohort

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = ROOT / "sample_data" / "combined_synthetic.csv"
ASSESSMENTS = ROOT / "sample_data" / "combined_synthetic_tumour_assessments.csv"
REDCAP = ROOT / "sample_data" / "redcap"
WATERFALL, SPIDER = "Best change in target lesions", "Change in target lesions over time"


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(PATIENTS)


@pytest.fixture(scope="module")
def assessments(cohort):
    return load_tumour_assessments(ASSESSMENTS, cohort)


def _response_section(html: str) -> str:
    start = html.index('id="response"')
    return html[start:html.index("<section", start + 1)] if "<section" in html[start + 1:] else html[start:]


def test_waterfall_and_spider_sit_in_the_response_section(cohort, assessments):
    report = build_report(cohort, assessments=assessments, by=None)
    response = _response_section(report.html)
    assert WATERFALL in response and SPIDER in response
    expected = tumour_burden(assessments, cohort.data)
    assert f"Tumour change: {expected.n} of {len(cohort.data)} patients" in response
    assert "-30% and +20% are the RECIST 1.1 thresholds" in response
    without = build_report(cohort, by=None)
    assert report.n_figures == without.n_figures + 2
    assert WATERFALL not in without.html


def test_tumour_figures_are_withheld_under_small_cell_protection(cohort, assessments):
    masked = build_report(cohort, assessments=assessments, small_cell_threshold=5, by=None)
    plain = build_report(cohort, assessments=assessments, by=None)
    assert WATERFALL not in masked.html and SPIDER not in masked.html
    assert masked.n_figures <= plain.n_figures - 2
    assert "Patient-level figure withheld" in _response_section(masked.html)


def test_pseudonyms_reach_the_tumour_figures(cohort, assessments):
    html = build_report(cohort, assessments=assessments, pseudonymise=True, by=None).html
    assert WATERFALL in html
    assert not re.search(r"PRO-0\d\d|COM-0\d\d", html)


def test_cli_report_takes_tumour_assessments_and_a_redcap_export_s_own(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(PATIENTS), "--tumour", str(ASSESSMENTS), "--out", str(out), "--format", "json"]) == 0
    with_file = json.loads(capsys.readouterr().out)
    assert WATERFALL in out.read_text()
    assert main(["report", str(PATIENTS), "--out", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_figures"] == with_file["n_figures"] - 2
    assert main(["report", str(REDCAP / "combined_redcap_raw.csv"), "--redcap-dictionary",
                 str(REDCAP / "il2_registry_data_dictionary.csv"), "--out", str(out), "--format", "json"]) == 0
    redcap = json.loads(capsys.readouterr().out)
    assert redcap["n_patients"] == 107
    assert SPIDER in out.read_text()


def test_report_page_passes_the_sample_s_tumour_assessments():
    from support.apptest import open_app, rerun

    at = open_app({"data": "proclaim", "disease": "rcc"}, page="pages/6_Report.py")
    at.button(key="report_build").click()
    at = rerun(at)
    [frame] = [f for f in at.get("iframe") if f.proto.alt == "Preview of the meeting report"]
    assert WATERFALL in frame.proto.srcdoc and SPIDER in frame.proto.srcdoc
