"""Status at the landmark for OS by clinical benefit (il2lib/validation/derive.py; README, "Derived fields").

A patient is grouped by the status known at the landmark L; a status that cannot be known (a CR/PR
without a first-response date, an SD without a duration) excludes the patient from the landmark
analysis and is counted (Anderson, Cain & Gelber 1983: the landmark method needs each patient's
status at L). SD qualifies at the threshold when its duration meets it with the assessment window
W (docs/domain.md: whole days >= cb_sd_months x 30.4375 - W; 6 months = 182.625 days, so with W = 7 an
SD counts from 175.625 days on).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.survival import landmark
from il2lib.survival.clinical import status_time_months

M = 30.4375


def _cohort() -> pd.DataFrame:
    """Responders without a first-response date, and SD durations around 6 months; all alive at 41 months."""
    rows = [
        ("R1", "CR", None, np.nan),           # no first-response date: unknown -> excluded (was "no CB")
        ("R2", "PR", None, np.nan),           # same
        ("R3", "PR", "2016-03-01", np.nan),   # responded at 60 days = 1.971 months -> CB at L = 6
        ("R4", "PR", None, 7.0),              # no date, but SD of 7 months documented: CB at 6 months
        ("S1", "SD", None, 182 / M),          # 182 days >= 175.625: meets 6 months with W = 7 -> CB at 6
        ("S2", "SD", None, 166 / M),          # 166 days < 175.625: no CB
        ("S3", "SD", None, np.nan),           # SD without a duration: unknown -> excluded
        ("P1", "PD", None, np.nan),           # never
    ]
    frame = pd.DataFrame(rows, columns=[schema.PATIENT_ID, schema.BOR, schema.DATE_FIRST_RESPONSE,
                                        schema.SD_DURATION])
    frame[schema.DATE_IL2_START] = pd.Timestamp("2016-01-01")
    frame[schema.DATE_FIRST_RESPONSE] = pd.to_datetime(frame[schema.DATE_FIRST_RESPONSE])
    frame[schema.OS_MONTHS] = 41.0
    frame[schema.OS_EVENT] = False
    return frame


def test_responder_without_first_response_date_has_unknown_benefit_status():
    status = status_time_months(_cohort(), "benefit", 6.0)
    # R1, R2: NaN (np.fmin used to turn them into inf = never benefited); R3: 60 days; R4, S1: 6
    # months; S2, P1: never; S3: NaN.
    expected = [np.nan, np.nan, 60 / M, 6.0, 6.0, np.inf, np.nan, np.inf]
    np.testing.assert_allclose(status, expected, rtol=1e-12)
    by_response = status_time_months(_cohort(), "response")
    np.testing.assert_allclose(by_response, [np.nan, np.nan, 60 / M, np.nan, np.inf, np.inf, np.inf, np.inf])


def test_landmark_by_benefit_excludes_and_counts_unknown_status():
    res = landmark(_cohort(), grouping="benefit", landmark_months=6.0, cb_sd_months=6.0)
    # L = 6: everyone is followed beyond it (41 months). CB at L: R3, R4, S1 = 3; no CB: S2, P1 = 2;
    # excluded without a status: R1, R2, S3 = 3 (before: CB 2, no CB 5, 1 excluded).
    assert res.group_counts == {"Clinical benefit at landmark": 3, "No clinical benefit at landmark": 2}
    assert res.excluded == (("without status at landmark", 3),)
    assert res.n == 5 and res.n_input == 8
    assert "3 without a known status at the landmark" in res.note


def test_assessment_window_decides_the_sd_status_at_the_landmark():
    # W = 0: S1's 182 days < 182.625 -> no CB; S2 unchanged. The counts move by one patient.
    status = status_time_months(_cohort(), "benefit", 6.0, window_days=0)
    assert status[4] == np.inf and status[5] == np.inf
    res = landmark(_cohort(), grouping="benefit", landmark_months=6.0, cb_sd_months=6.0, window_days=0)
    assert res.group_counts == {"Clinical benefit at landmark": 2, "No clinical benefit at landmark": 3}
    # W = 17: 166 days >= 182.625 - 17 = 165.625 -> S2 qualifies too.
    wide = landmark(_cohort(), grouping="benefit", landmark_months=6.0, cb_sd_months=6.0, window_days=17)
    assert wide.group_counts == {"Clinical benefit at landmark": 4, "No clinical benefit at landmark": 1}


@pytest.mark.parametrize("days, meets", [(182, True), (176, True), (175, False), (166, False)])
def test_sd_status_uses_the_clinical_benefit_comparison(days, meets):
    # 182.625 - 7 = 175.625 days: 176 meets, 175 does not (whole days, docs/domain.md "Derived fields").
    frame = _cohort().iloc[[4]].assign(**{schema.SD_DURATION: days / M})
    status = status_time_months(frame, "benefit", 6.0)
    assert status[0] == (6.0 if meets else np.inf)
