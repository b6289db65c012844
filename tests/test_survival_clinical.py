"""Clinical survival helpers: landmark analysis, reverse-KM follow-up, survival at fixed times.

Hand-built cohorts whose answers can be worked out on paper, plus the community synthetic sample
(61 vs 17 months median OS for CB vs no-CB melanoma, measured from IL-2 start WITHOUT a landmark,
as the paper reports them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.survival import (default_landmark, kaplan_meier, landmark, logrank_test, median_followup,
                             status_time_months, survival_at_times)

SAMPLE = Path(__file__).parents[1] / "sample_data" / "community_synthetic.csv"


def cohort():
    """Six patients: times in months from IL-2 start, response time in months (inf = never)."""
    return pd.DataFrame({
        "os": [3.0, 6.0, 10.0, 20.0, 30.0, 40.0],
        "died": [1, 0, 1, 1, 0, 1],
        "resp_t": [np.inf, 2.0, 8.0, 3.0, np.inf, 5.0],
    })


def test_landmark_excludes_groups_and_restarts_time():
    res = landmark(cohort(), "os", "died", "resp_t", landmark_months=6)
    assert res.landmark_months == 6 and res.n_input == 6
    assert res.n_before_landmark == 2 and res.excluded == (("died or censored by the landmark", 2),)
    np.testing.assert_array_equal(res.time, [4.0, 14.0, 24.0, 34.0])  # time restarts at L
    # responder at 8 months is after L: counted as non-responder at the landmark
    np.testing.assert_array_equal(res.group, ["Non-responder at landmark", "Responder at landmark",
                                              "Non-responder at landmark", "Responder at landmark"])
    assert res.group_counts == {"Responder at landmark": 2, "Non-responder at landmark": 2}
    assert set(res.km.groups) == set(res.group_counts) and res.logrank is not None
    direct = logrank_test(res.time, res.event, res.group)
    assert res.logrank.statistic == direct.statistic
    assert "2 died or were censored" in res.note
    assert res.to_frame().to_dict("records") == [{"landmark_months": 6, "grouping": res.grouping, "n": 4,
                                                  "n_input": 6, "n_before_landmark": 2}]


def test_landmark_default_and_benefit_refusal():
    assert default_landmark(6) == 6 and default_landmark(3) == 6 and default_landmark(9) == 9
    df = cohort()
    assert landmark(df, "os", "died", "resp_t").landmark_months == 6
    assert landmark(df, "os", "died", "resp_t", grouping="benefit", cb_sd_months=9).landmark_months == 9
    with pytest.raises(ValueError, match="shorter than the clinical-benefit threshold"):
        landmark(df, "os", "died", "resp_t", grouping="benefit", landmark_months=3, cb_sd_months=6)
    landmark(df, "os", "died", "resp_t", grouping="response", landmark_months=3)  # allowed for response


def test_landmark_counts_unknown_status():
    df = cohort()
    df.loc[5, "resp_t"] = np.nan
    res = landmark(df, "os", "died", "resp_t", landmark_months=6)
    assert res.excluded[0] == ("without status at landmark", 1) and res.n == 3


def test_status_time_from_registry_columns():
    df = pd.DataFrame({
        schema.BOR: ["CR", "PR", "SD", "SD", "SD", "PD", None],
        schema.DATE_IL2_START: ["2020-01-01"] * 7,
        schema.DATE_FIRST_RESPONSE: ["2020-04-01", None, None, None, None, None, None],
        schema.SD_DURATION: [np.nan, np.nan, 8.0, 2.0, np.nan, np.nan, np.nan],
    })
    resp = status_time_months(df, "response")
    assert resp[0] == pytest.approx(91 / schema.DAYS_PER_MONTH)
    assert np.isnan(resp[1]) and np.isinf(resp[2:6]).all() and np.isnan(resp[6])
    ben = status_time_months(df, "benefit", cb_sd_months=6)
    assert ben[2] == 6.0 and np.isinf(ben[3]) and np.isnan(ben[4]) and np.isinf(ben[5])
    assert status_time_months(df, "benefit", cb_sd_months=0)[4] == 0.0


def test_median_followup_is_reverse_km():
    time = np.array([2.0, 4.0, 5.0, 7.0, 9.0, 12.0])
    died = np.array([1, 0, 1, 0, 0, 1])
    fu = median_followup(time, died)
    reverse = kaplan_meier(time, 1 - died)
    assert fu.median == reverse.median == 9.0
    assert fu.median_ci == reverse.median_ci and fu.n == 6
    frame = fu.to_frame()
    assert list(frame.columns) == ["n", "median", "median_lower", "median_upper"] and len(frame) == 1
    np.testing.assert_array_equal(frame.iloc[0, 1:].astype(float), [9.0, *fu.median_ci])  # an open CI end is NaN
    assert frame["n"].iloc[0] == 6


def test_survival_at_fixed_times():
    t = np.arange(1.0, 41.0)
    e = np.ones(40)
    out = survival_at_times(t, e)
    np.testing.assert_allclose(out["survival"], [28 / 40, 16 / 40, 4 / 40])
    np.testing.assert_array_equal(out["n_risk"], [29, 17, 5])
    assert (out["ci_lower"] < out["survival"]).all() and (out["survival"] < out["ci_upper"]).all()
    grouped = survival_at_times(t, e, times=[12], by=np.r_[np.zeros(20), np.ones(20)])
    assert list(grouped["group"]) == [0.0, 1.0]


def test_community_paper_medians_without_landmark():
    """61 vs 17 months (CB vs no CB, melanoma) are from IL-2 start, no landmark, as the paper reports."""
    from il2lib import load_cohort

    df = load_cohort(SAMPLE).data
    mel = df[df[schema.DISEASE] == schema.MELANOMA]
    km = kaplan_meier(mel[schema.OS_MONTHS], mel[schema.OS_EVENT], by=mel[schema.CLINICAL_BENEFIT])
    assert km[True].median == pytest.approx(61.0, abs=0.05)
    assert km[False].median == pytest.approx(17.0, abs=0.05)
    assert logrank_test(mel[schema.OS_MONTHS], mel[schema.OS_EVENT], mel[schema.CLINICAL_BENEFIT]).pvalue < 0.001
    lm = landmark(mel.assign(**{schema.CLINICAL_BENEFIT: mel[schema.CLINICAL_BENEFIT]}), grouping="benefit")
    assert lm.landmark_months == 6 and lm.n + lm.n_before_landmark + sum(c for r, c in lm.excluded
                                                                         if r != "died or censored by the landmark") == len(mel)
