"""Time origin and delayed entry against R: survfit(Surv(entry, time, status)) and the coxph score
test with Breslow ties on survival::lung with entry = (inst %% 4) * 30 days (make_survival_extended.R);
survdiff (lung.json) when every entry is 0; the origin arithmetic on small hand-made cohorts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.errors import SurvivalInputError
from il2lib.survival import kaplan_meier
from il2lib.survival.time_origin import kaplan_meier_entry, logrank_entry, origin_times
from support.combined_sample import sample_data

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "survival_extended.json").read_text())["delayed_entry"]
LT = pd.read_csv(REF / "lung_entry.csv")


def test_km_with_delayed_entry_matches_survfit():
    km = kaplan_meier_entry(LT.entry, LT.time, LT.status - 1, conf_type="log")
    ref = R["km"]
    tab = km.table
    np.testing.assert_array_equal(tab.time, ref["time"])
    np.testing.assert_array_equal(tab.n_risk, ref["n.risk"])
    np.testing.assert_array_equal(tab.n_event, ref["n.event"])
    np.testing.assert_allclose(tab.survival, ref["surv"], rtol=1e-12)
    np.testing.assert_allclose(km.se_log, np.array(ref["std.err"], dtype=float), rtol=1e-9)
    np.testing.assert_allclose(tab.ci_lower, np.array(ref["lower"], dtype=float), rtol=1e-9)
    assert (km.median, *km.median_ci) == (ref["median"], ref["lcl"], ref["ucl"])
    assert km.n == R["n"]


def test_grouped_medians_and_logrank():
    km = kaplan_meier_entry(LT.entry, LT.time, LT.status - 1, by=LT.sex)
    assert [r.median for r in km.values()] == [m[0] for m in R["by_sex_median"]]
    res = logrank_entry(LT.entry, LT.time, LT.status - 1, LT.sex, variance="breslow")
    assert res.statistic == pytest.approx(R["logrank_score"]["chisq"], rel=1e-9)
    assert res.pvalue == pytest.approx(R["logrank_score"]["p"], rel=1e-8)
    assert res.to_frame().to_dict("records") == [{"statistic": res.statistic, "df": res.df, "pvalue": res.pvalue}]


def test_zero_entry_equals_survdiff_and_plain_km():
    lung = pd.read_csv(REF / "lung.csv")
    ref = json.loads((REF / "lung.json").read_text())["survdiff"]["logrank"]
    res = logrank_entry(np.zeros(len(lung)), lung.time, lung.status - 1, lung.sex)
    assert res.statistic == pytest.approx(ref["chisq"], rel=1e-9)
    km0 = kaplan_meier_entry(np.zeros(len(lung)), lung.time, lung.status - 1)
    km = kaplan_meier(lung.time, lung.status - 1)
    np.testing.assert_allclose(km0.table.survival, km.table.survival, rtol=1e-12)


def test_hand_computed_left_truncation():
    # exits 2 (event), 3 (event), 4 (censored); entries 0, 2.5, 0: at t=2 risk set {1, 3} (patient 2 not yet
    # entered) -> S(2) = 1/2; at t=3 risk set {2, 3} -> S(3) = 1/2 * 1/2 = 1/4
    km = kaplan_meier_entry([0, 2.5, 0], [2, 3, 4], [1, 1, 0])
    assert list(km.table.n_risk) == [2, 2, 1]
    np.testing.assert_allclose(km.table.survival, [0.5, 0.25, 0.25])
    naive = kaplan_meier([2, 3, 4], [1, 1, 0])
    assert naive.table.survival.iloc[0] == pytest.approx(2 / 3)


def test_entry_must_precede_exit():
    with pytest.raises(SurvivalInputError, match="entry must be earlier"):
        kaplan_meier_entry([1, 0], [1, 2], [1, 1])


def test_origin_end_of_pd1_on_sample():
    df = sample_data()
    o = origin_times(df, "os", "pd1_end")
    has_date = df[schema.DATE_LAST_PD1].notna().to_numpy()
    assert o.n == has_date.sum() == 57
    assert o.n_truncated == 57  # everyone entered at IL-2 start, after the end of PD-1 therapy
    assert dict(o.excluded) == {"without date of last PD-1/PD-L1 dose": 50}
    gap = ((pd.to_datetime(df[schema.DATE_IL2_START]) - pd.to_datetime(df[schema.DATE_LAST_PD1])).dt.days
           / schema.DAYS_PER_MONTH).to_numpy()[has_date]
    np.testing.assert_allclose(o.entry, gap)
    np.testing.assert_allclose(o.time, df[schema.OS_MONTHS].to_numpy()[has_date] + gap)
    assert "57 patient(s) enter the risk set late" in o.note


def test_origin_il2_start_with_registry_entry_and_diagnosis():
    df = sample_data().head(4).copy()
    start = pd.to_datetime(df[schema.DATE_IL2_START])
    df[schema.DATE_REGISTRY_ENTRY] = (start + pd.Timedelta(days=61)).dt.strftime("%Y-%m-%d")
    df.loc[df.index[0], schema.DATE_REGISTRY_ENTRY] = None
    o = origin_times(df, "os", "il2_start")
    assert o.n_truncated == sum(df[schema.OS_MONTHS].iloc[1:] > 61 / schema.DAYS_PER_MONTH)
    assert o.entry[0] == 0
    assert origin_times(sample_data(), "os", "il2_start").n_truncated == 0
    df[schema.DATE_DIAGNOSIS] = (start - pd.Timedelta(days=365)).dt.strftime("%Y-%m-%d")
    d = origin_times(df.drop(columns=[schema.DATE_REGISTRY_ENTRY]), "pfs", "diagnosis")
    np.testing.assert_allclose(d.entry, 365 / schema.DAYS_PER_MONTH)
    missing = origin_times(sample_data(), "os", "diagnosis")
    assert missing.n == 0 and missing.excluded[0][1] == 107


def test_bad_options():
    with pytest.raises(ValueError):
        origin_times(sample_data(), "dor", "pd1_end")
    with pytest.raises(ValueError):
        origin_times(sample_data(), "os", "birth")


def test_optional_date_columns_survive_the_loader():
    from il2lib import load_cohort
    from support.combined_sample import SAMPLE

    raw = pd.read_csv(SAMPLE)
    start = pd.to_datetime(raw[schema.DATE_IL2_START])
    raw[schema.DATE_DIAGNOSIS] = (start - pd.Timedelta(days=400)).dt.strftime("%Y-%m-%d")
    raw[schema.DATE_REGISTRY_ENTRY] = (start + pd.Timedelta(days=30)).dt.strftime("%Y-%m-%d")
    data = load_cohort(raw.to_csv(index=False).encode()).data
    assert {schema.DATE_DIAGNOSIS, schema.DATE_REGISTRY_ENTRY} <= set(data.columns)
    o = origin_times(data, "os", "diagnosis")
    alive_at_entry = data[schema.OS_MONTHS] > 30 / schema.DAYS_PER_MONTH
    assert o.n == alive_at_entry.sum() and o.n_truncated == o.n
    np.testing.assert_allclose(o.entry, (400 + 30) / schema.DAYS_PER_MONTH)


def test_number_at_risk_counts_late_entries():
    km = kaplan_meier_entry(LT.entry, LT.time, LT.status - 1)
    ref = R["km"]
    # at each distinct time R's n.risk is #(entry < t <= exit); the risk table uses the same rule
    np.testing.assert_array_equal(km.at_risk(ref["time"]), ref["n.risk"])
    assert km.at_risk([0.0])[0] == 0  # nobody is at risk at the origin: all enter later or at 0 exactly
    small = kaplan_meier_entry([0, 2.5, 0], [2, 3, 4], [1, 1, 0])
    assert list(small.at_risk([1, 2.5, 3, 4, 5])) == [2, 1, 2, 1, 0]  # patient 2 enters at 2.5: at risk after
