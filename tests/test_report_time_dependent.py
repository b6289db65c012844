"""The meeting report's "Response as a time-dependent covariate" section: the Simon-Makuch figures, the
Mantel-Byar test and the time-dependent Cox hazard ratio as il2lib computes them, masked like the rest."""
from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter
from il2lib.privacy.disclosure import recoverable
from il2lib.report import build_report
from il2lib.report._small_cells import recording
from il2lib.report._time_dependent import time_dependent_section
from il2lib.stats import p_phrase
from il2lib.survival import response_time_dependent
from il2lib.validation.patients import load_cohort
from support.apptest import SAMPLE
from support.disclosure_scan import html_text, small_counts

HEADING = "Response as a time-dependent covariate"
STAMP = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE)


def _section(html: str) -> str:
    body = html.split('id="time-dependent"', 1)[1].split("<section", 1)[0]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_section_shows_the_mantel_byar_test_and_hazard_ratio_for_response_and_benefit(cohort):
    report = build_report(cohort, generated_at=STAMP)
    assert report.sections.index(HEADING) == report.sections.index("Survival: overall survival") + 1
    text = _section(report.html)
    for grouping, label in (("response", "objective response"), ("benefit", "clinical benefit")):
        r = response_time_dependent(cohort.data, "os", grouping, cb_sd_months=cohort.cb_sd_months,
                                    window_days=cohort.assessment_window_days)
        mb, cox = r.mantel_byar, r.cox
        assert f"Overall survival by {label} over time (Simon-Makuch)" in text
        assert f"Mantel-Byar chi-square (1 df) {mb.statistic:.2f}" in text
        assert f"hazard ratio {cox.hr:.2f} (95% CI {cox.hr_lower:.2f}–{cox.hr_upper:.2f})" in text
        assert f"({r.rows.n_switched} switched)" in text
    assert text.count("Mantel-Byar test: chi-square") == 2 and "guarantee-time bias" in text
    assert "Mantel-Byar" in unescape(report.html.split("Methods and reproducibility")[-1])


def test_section_follows_the_endpoint(cohort):
    report = build_report(cohort, endpoint="pfs", generated_at=STAMP)
    r = response_time_dependent(cohort.data, "pfs", "response", cb_sd_months=cohort.cb_sd_months,
                                window_days=cohort.assessment_window_days)
    text = _section(report.html)
    assert "Progression-free survival by objective response over time" in text
    assert f"Mantel-Byar test: chi-square = {r.mantel_byar.statistic:.2f} on 1 df, " \
           f"{p_phrase(r.mantel_byar.pvalue)}." in text


def test_no_section_without_responders(cohort):
    df = cohort.data[~cohort.data[schema.BOR].isin(schema.RESPONDERS)]
    assert time_dependent_section(df, "os", "") is None
    assert time_dependent_section(cohort.data, "os", "") is not None


def test_masked_section_shows_no_small_count_and_gives_none_back(cohort):
    small = CohortFilter(disease=("melanoma",), line_of_il2=("3+",))
    with recording() as views:
        report = build_report(cohort, filter=small, small_cell_threshold=5, generated_at=STAMP)
    ours = [(v, s) for kind, v, s in views if kind == "time-dependent response"]
    assert ours and HEADING in report.sections
    for view, shown in ours:
        assert recoverable(view, shown) == {}
    text = html_text(report.html.split('id="time-dependent"', 1)[1].split("<section", 1)[0])
    assert not small_counts(text, 5), small_counts(text, 5)
