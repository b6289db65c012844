"""PFS, DoR and OS censoring on messy registry rows (docs/domain.md "Derived fields").

Conventions cited: the FDA 2018 guidance "Clinical Trial Endpoints for the Approval of Cancer Drugs
and Biologics", its PFS censoring table (rows quoted by their "Situation" text), and RECIST 1.1.
Months = days / 30.4375. Every patient starts IL-2 on 2016-01-01 unless said otherwise.
"""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import messages, patient_rows

from il2lib import schema

M = 30.4375
START = {"date_il2_start": "2016-01-01"}
#: alive, never progressed, no tumour-assessment date; tests add what they need
QUIET = dict(START, bor="SD", progressed="No", date_progression="", died="No", date_death="",
             date_last_followup="2018-12-01", date_last_assessment="", data_cutoff_date="2019-01-01")


def _row(cohort, pid: str) -> pd.Series:
    data = cohort.data.set_index(schema.PATIENT_ID)
    return data.loc[pid]


def test_event_after_cutoff_censors_pfs_at_last_assessment_not_at_cutoff(load):
    cohort = load(patient_rows(
        # A: the review's case. SD, last scan 2016-07-01, death 2019-06-01 after the cut-off 2019-01-01.
        #    FDA 2018 PFS table, "No progression": censored at the date of the last radiological
        #    assessment, 2016-07-01 = 182 days = 5.979 months (was 36.0: censored at the cut-off).
        #    OS: the death is after the cut-off, so alive at the cut-off: 1096 days = 36.008, censored.
        dict(QUIET, date_last_assessment="2016-07-01", died="Yes", date_death="2019-06-01",
             date_last_followup=""),
        # B: PR from 2016-03-01, last scan before the cut-off 2018-10-01, progression 2019-03-01 after it.
        #    PFS censored at 2018-10-01: 1004 days = 32.986; DoR from 2016-03-01: 944 days = 31.014, both
        #    censored (RECIST 1.1 / FDA: events after the cut-off are not counted, time ends at the last
        #    assessment on or before the cut-off). OS: last known alive 2019-06-01 > cut-off: 1096 days.
        dict(QUIET, bor="PR", date_first_response="2016-03-01", date_last_assessment="2018-10-01",
             progressed="Yes", date_progression="2019-03-01", date_last_followup="2019-06-01"),
        # C: no event, last scan 2019-04-01 after the cut-off: PFS censored at min(last assessment,
        #    cut-off) = 2019-01-01 = 1096 days = 36.008.
        dict(QUIET, date_last_assessment="2019-04-01", date_last_followup="2019-05-01"),
        # D: death after the cut-off and no dated assessment at all: no assessment on or before the
        #    cut-off, so PFS is censored at day 0 (0.0 months), never at the cut-off.
        dict(QUIET, bor="NE", died="Yes", date_death="2019-06-01", date_last_followup="")))
    a, b, c, d = (_row(cohort, f"P00{k}") for k in range(1, 5))
    assert a[schema.PFS_MONTHS] == pytest.approx(182 / M) and not a[schema.PFS_EVENT]
    assert a[schema.OS_MONTHS] == pytest.approx(1096 / M) and not a[schema.OS_EVENT]
    assert b[schema.PFS_MONTHS] == pytest.approx(1004 / M) and not b[schema.PFS_EVENT]
    assert b[schema.DOR_MONTHS] == pytest.approx(944 / M) and not b[schema.DOR_EVENT]
    assert b[schema.OS_MONTHS] == pytest.approx(1096 / M) and not b[schema.OS_EVENT]
    assert c[schema.PFS_MONTHS] == pytest.approx(1096 / M) and not c[schema.PFS_EVENT]
    assert d[schema.PFS_MONTHS] == 0.0 and not d[schema.PFS_EVENT]
    note = next(n for n in cohort.report.conversions if getattr(n, "kind", "") == "cutoff_censoring")
    # OS: A, B, C and D end at the cut-off (4); PFS: A, B, D have an event after it (3), C a scan after it (1)
    assert "(4 patient(s))" in note and "3 progression(s) or death(s) after the cut-off" in note
    assert "1 last assessment(s) after the cut-off" in note and note.count == 8


def test_progression_without_a_date_leaves_pfs_and_dor_and_is_never_refilled(load):
    frame = patient_rows(
        # A: the review's A6. bor = PD, progressed blank, no progression date, last scan 2016-03-01.
        #    The patient progressed at an unknown date (FDA 2018 PFS table has no row that censors a
        #    known progression): left out of PFS with a warning (was 1.97 months, censored). The given
        #    pfs_months = 1.97 with pfs_event = 0 would count them as progression-free: never used.
        dict(QUIET, bor="PD", progressed="", date_last_assessment="2016-03-01", pfs_months="1.97",
             pfs_event="0"),
        # B: progressed = yes, no date, given censored PFS 20 months: left out, not refilled (was 20.0).
        dict(QUIET, bor="SD", progressed="Yes", date_last_assessment="2016-09-01", pfs_months="20",
             pfs_event="0"),
        # C: a responder who progressed at an unknown date: left out of PFS and DoR; the given censored
        #    dor_months = 10 is not used.
        dict(QUIET, bor="CR", date_first_response="2016-03-01", progressed="Yes",
             date_last_assessment="2016-09-01", dor_months="10", dor_event="0"),
        # D: control, same as A with a progression date 2016-03-01: PFS event at 60 days = 1.971.
        dict(QUIET, bor="PD", progressed="Yes", date_progression="2016-03-01", date_last_assessment="2016-03-01"))
    cohort = load(frame)
    a, b, c, d = (_row(cohort, f"P00{k}") for k in range(1, 5))
    assert pd.isna(a[schema.PFS_MONTHS]) and pd.isna(a[schema.PFS_EVENT])
    assert pd.isna(b[schema.PFS_MONTHS]) and pd.isna(b[schema.PFS_EVENT])
    assert pd.isna(c[schema.PFS_MONTHS]) and pd.isna(c[schema.DOR_MONTHS]) and pd.isna(c[schema.DOR_EVENT])
    assert d[schema.PFS_MONTHS] == pytest.approx(60 / M) and d[schema.PFS_EVENT]
    warnings = messages(cohort, "warning")
    assert ("Row 2: bor=PD but date_progression missing, so the patient progressed at an unknown date; "
            "left out of PFS.") in warnings
    assert "Row 3: progressed=Yes but date_progression missing; left out of PFS." in warnings
    assert "Row 4: progressed=Yes but date_progression missing; left out of PFS and DoR." in warnings
    assert sorted(f.file_row for f in cohort.report.for_analysis("pfs")) == [2, 3, 4]
    assert [f.file_row for f in cohort.report.for_analysis("dor")] == [4]
    for x in (a, b, c, d):  # the patients stay in the cohort (response tables, OS)
        assert x[schema.OS_MONTHS] == pytest.approx(1065 / M)  # 2016-01-01 -> 2018-12-01


def test_given_event_time_still_times_an_undated_progression(load):
    # Month columns only (no dates): a given pfs_months with pfs_event = yes states the progression
    # time itself, so the patient is not "progressed at an unknown date" (no warning, time kept).
    frame = patient_rows({"os_months": "12.5", "died": "Yes", "pfs_months": "4", "pfs_event": "1"}).drop(
        columns=["date_il2_start", "date_progression", "date_last_followup", "date_death"])
    cohort = load(frame)
    assert _row(cohort, "P001")[schema.PFS_MONTHS] == 4.0 and not cohort.report.for_analysis("pfs")


def test_no_post_baseline_assessment_censors_at_day_zero_or_counts_the_death(load):
    cohort = load(patient_rows(
        # A: the review's t14. NE, never scanned, alive at 3 years: PFS censored at day 0 (0.0 months,
        #    in the risk set at time 0), never at last follow-up (was 36.0). FDA 2018 PFS table: the last
        #    radiological assessment is the baseline one ("No progression" row), i.e. day 0.
        dict(QUIET, bor="NE", date_last_followup="2019-01-01"),
        # B: NE, never scanned, died 2016-04-01: FDA 2018 PFS table, "Death before first PD
        #    assessment": progressed (event) at the date of death, 91 days = 2.990 months.
        dict(QUIET, bor="NE", died="Yes", date_death="2016-04-01", date_last_followup=""),
        # C: a scan date is an assessment: censored at it (2016-07-01 = 182 days), not day 0.
        dict(QUIET, bor="SD", date_last_assessment="2016-07-01")))
    a, b, c = (_row(cohort, f"P00{k}") for k in range(1, 4))
    assert a[schema.PFS_MONTHS] == 0.0 and not a[schema.PFS_EVENT]
    assert a[schema.OS_MONTHS] == pytest.approx(1096 / M)
    assert b[schema.PFS_MONTHS] == pytest.approx(91 / M) and b[schema.PFS_EVENT]
    assert c[schema.PFS_MONTHS] == pytest.approx(182 / M) and not c[schema.PFS_EVENT]
    notes = [n for n in cohort.report.conversions if getattr(n, "kind", "") == "pfs_no_assessment"]
    assert len(notes) == 1 and notes[0].count == 1 and notes[0].patient_ids == ("P001",)
    assert "censored at day 0" in notes[0] and "P001" in notes[0]


def test_os_is_censored_at_the_last_date_known_alive_so_pfs_never_exceeds_os(load):
    cohort = load(patient_rows(
        # A: the review's P07. Alive, last scan 2018-03-01 after last follow-up 2017-01-01. The scan
        #    proves the patient alive then: OS censored at 2018-03-01 = 790 days = 25.955 (was 366 days
        #    = 12.025, shorter than PFS 25.955). PFS censored at the same scan: PFS <= OS.
        dict(QUIET, date_last_assessment="2018-03-01", date_last_followup="2017-01-01"),
        # B: alive, follow-up after the last scan: OS to follow-up 2018-12-01 = 1065 days.
        dict(QUIET, date_last_assessment="2017-06-01")))
    a, b = _row(cohort, "P001"), _row(cohort, "P002")
    assert a[schema.OS_MONTHS] == pytest.approx(790 / M) and not a[schema.OS_EVENT]
    assert a[schema.PFS_MONTHS] == pytest.approx(790 / M)
    assert b[schema.OS_MONTHS] == pytest.approx(1065 / M)
    assert ("Row 2: date_last_assessment (2018-03-01) is later than date_last_followup (2017-01-01); OS is "
            "censored at the last date known alive (2018-03-01).") in messages(cohort, "warning")
    d = cohort.data
    assert (d[schema.PFS_MONTHS] <= d[schema.OS_MONTHS]).all()


def test_followup_after_death_and_il2_start_after_cutoff_are_warnings_with_their_rows(load):
    cohort = load(patient_rows(
        # A: the review's P08. Died 2016-01-20, last follow-up 2016-03-01: warning; OS ends at the death,
        #    19 days = 0.624 months, event.
        dict(QUIET, died="Yes", date_death="2016-01-20", date_last_followup="2016-03-01", bor="NE"),
        # B: the review's A3. IL-2 start 2019-06-01 after the cut-off 2019-01-01: no time exists before the
        #    cut-off; left out of OS, PFS and DoR with a warning (was silently NaN), even with a given
        #    os_months column value.
        dict(QUIET, date_il2_start="2019-06-01", date_last_followup="2019-08-01", os_months="2")))
    a, b = _row(cohort, "P001"), _row(cohort, "P002")
    assert a[schema.OS_MONTHS] == pytest.approx(19 / M) and a[schema.OS_EVENT]
    assert pd.isna(b[schema.OS_MONTHS]) and pd.isna(b[schema.PFS_MONTHS])
    warnings = messages(cohort, "warning")
    assert ("Row 2: date_last_followup (2016-03-01) is after date_death (2016-01-20); OS ends at the date of "
            "death.") in warnings
    assert ("Row 3: date_il2_start (2019-06-01) is after data_cutoff_date (2019-01-01); left out of OS, PFS "
            "and DoR.") in warnings
    assert {f.file_row for f in cohort.report.for_analysis("os")} == {3}
    assert cohort.report.n_analysed == 2


def test_pfs_never_exceeds_os_on_a_mixed_adversarial_cohort(load):
    rows = [dict(QUIET, date_last_assessment="2018-03-01", date_last_followup="2017-01-01"),
            dict(QUIET, date_last_assessment="2019-04-01", date_last_followup="2019-05-01"),
            dict(QUIET, date_last_assessment="2016-07-01", died="Yes", date_death="2019-06-01",
                 date_last_followup=""),
            dict(QUIET, bor="NE"),
            dict(QUIET, bor="PR", date_first_response="2016-03-01", date_last_assessment="2018-10-01",
                 progressed="Yes", date_progression="2019-03-01", date_last_followup="2019-06-01")]
    d = load(patient_rows(*rows)).data.dropna(subset=[schema.PFS_MONTHS, schema.OS_MONTHS])
    assert len(d) == 5 and (d[schema.PFS_MONTHS] <= d[schema.OS_MONTHS] + 1e-12).all()


def test_pfs_report_states_the_censoring_rules_and_the_fda_rows_it_cannot_apply(load):
    # FDA 2018 PFS censoring table rows "New anticancer treatment started" and "Death or progression after
    # more than one missed visit" need a new-therapy date and a visit schedule, which the schema lacks.
    from il2lib.report import build_report
    from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED

    cohort = load(patient_rows(dict(QUIET, date_last_assessment="2016-07-01"),
                               dict(QUIET, bor="PR", date_first_response="2016-03-01",
                                    date_last_assessment="2017-03-01")))
    html = build_report(cohort, endpoint="pfs").html
    methods = html.split('id="methods"', 1)[1]
    assert FDA_ROWS_NOT_APPLIED in methods and "never at last follow-up" in methods
    assert FDA_ROWS_NOT_APPLIED in html.split('id="methods"', 1)[0]  # the PFS section's note too
    os_report = build_report(cohort, endpoint="os").html
    assert "last date known alive" in os_report and FDA_ROWS_NOT_APPLIED not in os_report
