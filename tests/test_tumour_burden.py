"""Tumour burden: the long tumour-assessment table's validation, the baseline and best change per patient, the
RECIST 1.1 best response derived from the assessments, the waterfall and spider figures, and the synthetic
sample's assessments against its patient rows."""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses.tumour_burden import NO_BASELINE, load_tumour_assessments, recist_bor, tumour_burden
from il2lib.figures import withheld_under_masking
from il2lib.figures.tumour_burden import SPIDER_KIND, WATERFALL_KIND, spider_figure, waterfall_figure
from il2lib.privacy.pseudonyms import pseudonymise
from il2lib.validation.patients import load_cohort

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
TODAY = dt.date(2026, 1, 1)

PATIENTS = """patient_id,disease,date_il2_start,bor,prior_pd1_pdl1,died,date_last_followup,date_progression
P1,melanoma,2020-03-01,PR,No,No,2021-06-01,2020-09-01
P2,melanoma,2020-03-01,SD,No,No,2021-06-01,
P3,rcc,2020-03-01,PD,Yes,No,2021-06-01,2020-05-01
P4,rcc,2020-03-01,CR,Yes,No,2021-06-01,
P5,melanoma,2020-03-01,PD,No,No,2021-06-01,2020-05-01
"""


@functools.lru_cache(maxsize=None)
def cohort(text: str = PATIENTS):
    return load_cohort(text.encode(), today=TODAY)


def assessments(rows: str, patients=None):
    text = "patient_id,assessment_date,target_sum_mm,new_lesions\n" + rows
    return load_tumour_assessments(text.encode(), patients if patients is not None else cohort(), today=TODAY)


# File rows: header = 1, so the n-th data line is row n + 1.
GOOD = """P1,2020-01-15,80,No
P1,2020-02-20,100,No
P1,2020-03-01,100,No
P1,2020-04-26,70,No
P1,2020-06-21,60,No
P1,2020-09-01,90,No
P1,2020-11-01,20,No
P2,2020-02-25,50,No
P2,2020-04-26,55,No
P3,2020-01-20,40,
P3,2020-05-01,52,Yes
P4,2020-02-28,30,No
P4,2020-04-26,0,No
P4,2020-06-21,0,No
"""


def test_baseline_is_the_last_assessment_on_or_before_il2_start_and_earlier_rows_are_listed():
    tb = tumour_burden(assessments(GOOD), cohort())
    p1 = tb.patients.set_index(schema.PATIENT_ID).loc["P1"]
    assert p1[schema.BASELINE_DATE] == pd.Timestamp("2020-03-01") and p1[schema.BASELINE_SUM] == 100
    early = tb.excluded_rows[tb.excluded_rows[schema.PATIENT_ID] == "P1"]
    assert list(early[schema.FILE_ROW]) == [2, 3]
    assert all("before the baseline assessment (assessment row 4, 2020-03-01)" in r for r in early["reason"])
    flagged = [f for f in tb.findings if f.file_row in (2, 3)]
    assert [f.file_row for f in flagged] == [2, 3] and all(f.level == "warning" for f in flagged)
    # P3's baseline is 41 days before the start: kept, with a warning naming its row
    late = [f for f in tb.warnings if f.file_row == 11]
    assert len(late) == 1 and "41 days before date_il2_start" in late[0].message


def test_change_is_relative_to_baseline_and_months_count_from_il2_start():
    tb = tumour_burden(assessments(GOOD), cohort())
    p1 = tb.changes[tb.changes[schema.PATIENT_ID] == "P1"].set_index(schema.FILE_ROW)
    assert p1.loc[4, schema.PCT_CHANGE] == 0 and bool(p1.loc[4, "is_baseline"])
    assert p1.loc[5, schema.PCT_CHANGE] == pytest.approx(-30.0)
    assert p1.loc[6, schema.PCT_CHANGE] == pytest.approx(-40.0)
    assert p1.loc[5, schema.MONTHS_SINCE_IL2] == pytest.approx(56 / 30.4375)
    p2 = tb.patients.set_index(schema.PATIENT_ID).loc["P2"]
    assert p2[schema.BEST_PCT_CHANGE] == pytest.approx(10.0)


def test_best_change_stops_at_progression():
    tb = tumour_burden(assessments(GOOD), cohort())
    p1 = tb.patients.set_index(schema.PATIENT_ID).loc["P1"]
    # -80% on 2020-11-01 comes after the progression of 2020-09-01: the best change is -40%, not -80%
    assert p1[schema.BEST_PCT_CHANGE] == pytest.approx(-40.0)
    assert p1["best_date"] == pd.Timestamp("2020-06-21") and p1["n_post_baseline"] == 3
    after = tb.changes.set_index(schema.FILE_ROW)["after_progression"]
    assert bool(after.loc[8]) and not after.loc[7]
    # the progression scan itself counts (P3: PD at its first scan, with a new lesion)
    p3 = tb.patients.set_index(schema.PATIENT_ID).loc["P3"]
    assert p3[schema.BEST_PCT_CHANGE] == pytest.approx(30.0) and bool(p3[schema.NEW_LESIONS])


def test_each_bad_row_is_excluded_with_its_row_number_and_reason():
    rows = """P1,2020-02-20,100,No
P1,2020-04-26,-5,No
P1,2019-02-30,60,No
P9,2020-04-26,60,No
P2,2020-02-25,,No
P2,2020-04-26,many,No
,2020-04-26,40,No
P2,2020-06-21,50,maybe
P4,2020-02-28,30,No
P4,2020-02-28,31,No
"""
    a = assessments(rows)
    errors = {f.file_row: f.message for f in a.report.row_errors}
    assert "Assessment row 3 (patient_id=P1): target_sum_mm -5 is negative" in errors[3]
    assert errors[4] == "Assessment row 4: assessment_date '2019-02-30' is not a valid date."
    assert errors[5] == "Assessment row 5: patient_id 'P9' is not in the patient file."
    assert "'target_sum_mm' is empty" in errors[6]
    assert "target_sum_mm 'many' is not a number" in errors[7]
    assert "'patient_id' is empty" in errors[8]
    assert "new_lesions 'maybe' not recognised" in errors[9]
    assert "2 assessments on 2020-02-28 with different values (rows 10, 11)" in errors[10] and 11 in errors
    assert a.report.n_loaded == 10 and a.report.n_analysed == 1 and a.report.n_excluded == 9
    assert list(a.excluded[schema.FILE_ROW]) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert a.excluded["reason"].notna().all()


def test_missing_baseline_leaves_the_patient_out_with_a_count_and_the_rows_listed():
    rows = "P2,2020-04-26,55,No\nP2,2020-06-21,50,No\n" + GOOD.split("P3,")[0].split("P2,")[0]
    tb = tumour_burden(assessments(rows), cohort())
    assert "P2" not in set(tb.patients[schema.PATIENT_ID]) and tb.n_without_baseline == 1
    assert tb.excluded.set_index(schema.PATIENT_ID).loc["P2", "reason"] == NO_BASELINE
    assert list(tb.excluded_rows.loc[tb.excluded_rows["reason"] == NO_BASELINE, schema.FILE_ROW]) == [2, 3]
    finding = next(f for f in tb.warnings if f.patient_id == "P2")
    assert "no assessment on or before date_il2_start (2020-03-01)" in finding.message and finding.file_row == 2


def test_rows_used_plus_rows_excluded_equal_rows_read():
    rows = GOOD + "P9,2020-04-26,60,No\nP1,2020-04-26,-1,No\nP5,2020-04-26,10,No\n"
    a = assessments(rows)
    assert a.report.n_loaded == a.report.n_analysed + a.report.n_excluded
    tb = tumour_burden(a, cohort())
    assert tb.n_rows_read == len(GOOD.splitlines()) + 3
    assert tb.n_rows_used + len(tb.excluded_rows) + tb.n_rows_other_patients == tb.n_rows_read
    assert tb.n_rows_used == len(tb.changes)
    table = tb.to_frame()
    assert len(table) == tb.n_in_scope == 5
    assert table.set_index(schema.PATIENT_ID).loc["P5", "reason_left_out"] == NO_BASELINE
    # a filtered view: the other patients' rows are counted apart, never lost
    only_melanoma = cohort().data.query("disease == 'melanoma'")
    view = tumour_burden(a, only_melanoma)
    assert view.n_rows_other_patients == 5
    assert view.n_rows_used + len(view.excluded_rows) + view.n_rows_other_patients == view.n_rows_read
    every_row = set(view.changes[schema.FILE_ROW]) | set(view.excluded_rows[schema.FILE_ROW])
    assert len(every_row) == view.n_rows_read - view.n_rows_other_patients


def test_a_missing_required_column_blocks_the_table():
    a = load_tumour_assessments(b"patient_id,scan_date\nP1,2020-01-01\n", cohort(), today=TODAY)
    assert not a.report.ok and a.report.n_analysed == 0 and a.report.n_excluded == 1
    assert "Missing required column 'target_sum_mm'" in a.report.file_errors[0].message
    # synonyms map: "scan_date" is assessment_date, "SLD" the target sum
    b = load_tumour_assessments(b"Subject ID,Scan date,SLD\nP1,2020-02-20,40\n", cohort(), today=TODAY)
    assert b.report.ok and b.data[schema.TARGET_SUM].tolist() == [40.0]


def test_consistency_warnings_between_best_change_and_bor():
    rows = """P3,2020-02-20,100,No
P3,2020-05-01,55,Yes
P1,2020-02-20,100,No
P1,2020-04-26,125,No
"""
    tb = tumour_burden(assessments(rows), cohort())
    text = {f.patient_id: f.message for f in tb.warnings if f.column == schema.BEST_PCT_CHANGE}
    assert "best change -45.0%" in text["P3"] and "BOR PD" in text["P3"]
    assert "best change +25.0%" in text["P1"] and "BOR PR" in text["P1"]


def test_best_pct_change_column_is_used_without_an_assessment_table():
    patients = PATIENTS.replace("date_progression\n", "date_progression,Best change\n", 1)
    lines = patients.splitlines()
    values = ["-45", "5", "abc", "", "-150"]
    text = "\n".join([lines[0]] + [f"{line},{v}" for line, v in zip(lines[1:], values)]) + "\n"
    c = cohort(text)
    tb = tumour_burden(None, c)
    assert tb.source == "patient file" and tb.n == 2
    assert tb.patients.set_index(schema.PATIENT_ID)[schema.BEST_PCT_CHANGE].to_dict() == {"P2": 5.0, "P1": -45.0}
    bad = {f.file_row: f.message for f in tb.warnings}
    assert "'abc' is not a number" in bad[4] and "is outside -100" in bad[6]
    assert len(tb.changes) == 0


def test_groups_label_each_patient_and_a_missing_level_is_left_out():
    tb = tumour_burden(assessments(GOOD), cohort(), by=schema.DISEASE)
    assert tb.groups == ("Melanoma", "RCC")
    assert tb.patients.set_index(schema.PATIENT_ID)["group"].to_dict() == {
        "P3": "RCC", "P2": "Melanoma", "P1": "Melanoma", "P4": "RCC"}


# ---------------------------------------------------------------------------------------------- RECIST 1.1
def _bor(rows: str, patients: str = PATIENTS) -> dict:
    c = cohort(patients)
    return recist_bor(tumour_burden(assessments(rows, c), c)).to_dict()


def test_recist_response_needs_confirmation_four_weeks_later():
    confirmed = "P2,2020-02-25,100,No\nP2,2020-04-26,60,No\nP2,2020-05-24,65,No\n"
    unconfirmed = "P2,2020-02-25,100,No\nP2,2020-04-26,60,No\nP2,2020-05-20,65,No\n"
    complete = "P2,2020-02-25,100,No\nP2,2020-04-26,0,No\nP2,2020-05-24,0,No\n"
    assert _bor(confirmed)["P2"] == "PR"
    assert _bor(unconfirmed)["P2"] == "SD"  # 24 days apart: not confirmed; SD after 6 weeks on study
    assert _bor(complete)["P2"] == "CR"


def test_recist_progression_needs_20_percent_and_5_mm_over_the_nadir_or_a_new_lesion():
    small = "P2,2020-02-25,10,No\nP2,2020-04-26,13,No\n"  # +30% but 3 mm
    # +21.7% and 13 mm over the nadir of 60 mm (a PR too early to count as SD), though -27% from the baseline
    large = "P2,2020-02-25,100,No\nP2,2020-03-20,60,No\nP2,2020-04-26,73,No\n"
    new = "P2,2020-02-25,100,No\nP2,2020-04-26,90,Yes\n"
    baseline_only = "P2,2020-02-25,100,No\n"
    assert _bor(small)["P2"] == "SD"
    assert _bor(large)["P2"] == "PD"
    assert _bor(new)["P2"] == "PD"
    assert _bor(baseline_only)["P2"] == "NE"


# ---------------------------------------------------------------------------------------------- figures
def _bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def test_waterfall_has_one_sorted_bar_per_patient_with_reference_lines():
    rows = GOOD + "P5,2020-04-26,10,No\n"  # P5 has no baseline
    tb = tumour_burden(assessments(rows), cohort())
    fig = waterfall_figure(tb)
    bars = _bars(fig)
    x = np.concatenate([np.asarray(b.x) for b in bars])
    y = np.concatenate([np.asarray(b.y) for b in bars])
    assert len(x) == tb.n == 4 and sorted(x) == list(range(4))
    assert list(y[np.argsort(x)]) == sorted(y, reverse=True)
    assert {b.name for b in bars} == {"PR", "SD", "PD", "CR"}
    assert next(b for b in bars if b.name == "PR").marker.color == "#56B4E9"  # the response figures' PR colour
    dashed = sorted(s.y0 for s in fig.layout.shapes if s.line.dash == "dash")
    assert dashed == [-30, 20]
    title = fig.layout.title.text
    assert "n = 4 patients" in title and "1 without a baseline" in title
    stars = [t for t in fig.data if t.type == "scatter"]
    assert len(stars) == 1 and list(stars[0].customdata) == ["P3"]
    hover = {c for b in bars for c in b.customdata}
    assert hover == {"P1", "P2", "P3", "P4"}


def test_waterfall_draws_one_panel_per_group():
    tb = tumour_burden(assessments(GOOD), cohort(), by=schema.DISEASE)
    fig = waterfall_figure(tb)
    panels = [a.text for a in fig.layout.annotations if "(n = " in a.text]
    assert panels == ["Melanoma (n = 2)", "RCC (n = 2)"]
    assert {b.xaxis for b in _bars(fig)} == {"x", "x2"}
    dashed = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert len(dashed) == 4  # -30% and +20% in each panel


def test_spider_draws_one_line_per_patient_from_baseline():
    tb = tumour_burden(assessments(GOOD), cohort(), by=schema.DISEASE)
    fig = spider_figure(tb)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == tb.n == 4
    p1 = next(t for t in lines if t.text[0].startswith("P1"))
    assert list(p1.y) == pytest.approx([0, -30, -40, -10, -80]) and p1.x[0] == 0
    assert "after progression" in p1.text[-1]
    assert sorted(s.y0 for s in fig.layout.shapes if s.line.dash == "dash") == [-30, 20]
    grouped = spider_figure(tb, color_by="group")
    assert {t.name for t in grouped.data if t.mode == "lines+markers"} == {"Melanoma", "RCC"}


def test_both_figures_are_patient_level_and_withheld_under_small_cell_protection():
    assert withheld_under_masking(WATERFALL_KIND) and withheld_under_masking(SPIDER_KIND)


def test_hover_shows_pseudonyms_when_the_data_have_them():
    c = cohort()
    hidden, hidden_assessments = pseudonymise(c, assessments(GOOD, c))
    tb = tumour_burden(hidden_assessments, hidden)
    fig = waterfall_figure(tb)
    hover = {v for b in _bars(fig) for v in b.customdata}
    assert hover == {"row 2", "row 3", "row 4", "row 5"}
    spider = " ".join(t for tr in spider_figure(tb).data if tr.text is not None for t in tr.text)
    assert "P1" not in spider and "row 2" in spider
    # rows excluded at load name the patient by pseudonym too (an id the patient file lacks is withheld)
    _, bad = pseudonymise(c, assessments("P1,2020-04-26,-5,No\nP9,2020-04-26,60,No\n", c))
    assert list(bad.excluded[schema.PATIENT_ID]) == ["row 2", "(id withheld)"]
    assert "P1" not in " ".join(bad.excluded["reason"]) and "P9" not in " ".join(bad.excluded["reason"])


# ---------------------------------------------------------------------------------------------- sample
@pytest.fixture(scope="module")
def sample():
    c = load_cohort(SAMPLE_DIR / "combined_synthetic.csv")
    a = load_tumour_assessments(SAMPLE_DIR / "combined_synthetic_tumour_assessments.csv", c)
    return c, a, tumour_burden(a, c)


def test_sample_assessments_load_cleanly_and_every_row_is_used(sample):
    c, a, tb = sample
    assert a.report.n_excluded == 0 and not a.report.findings
    assert tb.n_rows_used == tb.n_rows_read == a.report.n_loaded
    assert not [f for f in tb.findings if f.column == schema.BEST_PCT_CHANGE]  # no consistency warning


def test_sample_recist_bor_from_the_assessments_matches_bor(sample):
    c, a, tb = sample
    derived = recist_bor(tb)
    recorded = c.data.set_index(schema.PATIENT_ID)[schema.BOR]
    post_baseline = set(tb.changes.loc[~tb.changes["is_baseline"], schema.PATIENT_ID])
    determinable = [p for p in derived.index if p in post_baseline]
    assert len(determinable) == 101 and set(recorded.index) == set(derived.index)
    assert {p: derived[p] for p in determinable if derived[p] != recorded[p]} == {}
    # NE patients (clinical progression before the first scan) have a baseline only
    assert set(recorded.index[recorded == "NE"]) == set(derived.index) - post_baseline


def test_sample_assessments_fall_on_the_patient_rows_dates(sample):
    c, a, tb = sample
    data = c.data.set_index(schema.PATIENT_ID)
    changes = tb.changes
    last = changes.groupby(schema.PATIENT_ID)[schema.ASSESSMENT_DATE].max()
    post = changes[~changes["is_baseline"]]
    for pid, rows in post.groupby(schema.PATIENT_ID):
        p = data.loc[pid]
        dates = set(rows[schema.ASSESSMENT_DATE])
        assert last[pid] == p[schema.DATE_LAST_ASSESSMENT], pid
        if pd.notna(p[schema.DATE_PROGRESSION]):
            assert p[schema.DATE_PROGRESSION] in dates, pid
        if pd.notna(p[schema.DATE_FIRST_RESPONSE]):
            assert p[schema.DATE_FIRST_RESPONSE] in dates, pid
            at = rows.loc[rows[schema.ASSESSMENT_DATE] == p[schema.DATE_FIRST_RESPONSE], schema.PCT_CHANGE]
            earlier = rows.loc[rows[schema.ASSESSMENT_DATE] < p[schema.DATE_FIRST_RESPONSE], schema.PCT_CHANGE]
            assert at.iat[0] <= -30 and (earlier > -30).all(), pid
    baseline = changes[changes["is_baseline"]].set_index(schema.PATIENT_ID)[schema.ASSESSMENT_DATE]
    gap = (data.loc[baseline.index, schema.DATE_IL2_START] - baseline).dt.days
    assert gap.between(0, schema.BASELINE_MAX_DAYS).all()
