"""The Data page's cohort snapshot: disease split, prior PD-1/PD-L1, years of IL-2 start, median follow-up."""
from __future__ import annotations

import math

from conftest import patient_rows

from il2lib import schema
from il2lib.analyses.snapshot import cohort_snapshot
from il2lib.survival import median_followup
from support.apptest import sample_data


def test_the_combined_sample_at_a_glance():
    data = sample_data()
    snapshot = cohort_snapshot(data)
    assert snapshot.n == 107
    assert snapshot.disease == {"melanoma": 70, "rcc": 37, "unknown": 0}
    assert snapshot.prior_pd1 == {"yes": 57, "no": 50, "unknown": 0}
    years = data[schema.DATE_IL2_START].dt.year
    assert snapshot.il2_years == (years.min(), years.max()) == (2004, 2018)
    expected = median_followup(data[schema.OS_MONTHS].astype(float), data[schema.OS_EVENT].astype(float)).median
    assert math.isclose(snapshot.followup_months, expected)


def test_missing_values_are_counted_as_unknown_and_the_counts_add_up(load):
    rows = patient_rows({}, {"prior_pd1_pdl1": ""}, {"disease": "rcc", "date_il2_start": "2012-05-01"}, n=5)
    snapshot = cohort_snapshot(load(rows).data)
    assert snapshot.disease == {"melanoma": 4, "rcc": 1, "unknown": 0}
    assert snapshot.prior_pd1 == {"yes": 4, "no": 0, "unknown": 1}
    assert snapshot.il2_years == (2012, 2016)
    assert sum(snapshot.disease.values()) == sum(snapshot.prior_pd1.values()) == snapshot.n == 5


def test_no_patients_and_no_follow_up():
    empty = cohort_snapshot(sample_data().iloc[:0])
    assert empty.n == 0 and empty.il2_years is None and empty.followup_months is None
    assert set(empty.disease.values()) == set(empty.prior_pd1.values()) == {0}
    # everyone died: nobody's follow-up is censored, the reverse Kaplan-Meier median is not reached
    died = sample_data().assign(**{schema.OS_EVENT: 1.0})
    assert cohort_snapshot(died).followup_months is None
