"""One rule for the grouped (univariable) Cox hazard ratio on the Survival page and in the report:
no hazard ratio, only the reason, when a group has fewer than 5 events or the coefficient diverges;
the likelihood-ratio test is the model test (it stays valid under separation, the Wald test does not).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.report._survival import survival_section
from il2lib.survival import cox_ph, grouped_hazard_ratios
from support.apptest import open_app, tables, texts

# 10 melanoma patients all alive at 24 months, 10 RCC patients dead at 1..10 months: the melanoma
# group has 0 events, so beta -> -inf (R's coxph: "Loglik converged before variable 1"; it prints
# exp(coef) ~ 3e-10 with Wald p 0.999 beside a log-rank p < 0.001).
N = 10


def _cohort_frame() -> pd.DataFrame:
    start = pd.Timestamp("2016-01-01")
    rows = []
    for i in range(N):
        rows.append({"patient_id": f"M{i}", "disease": "melanoma", "date_il2_start": start, "bor": "PD",
                     "died": "No", "date_death": None, "date_last_followup": start + pd.Timedelta(days=730),
                     "prior_pd1_pdl1": "Yes", "prior_systemic_lines": 1})
        rows.append({"patient_id": f"R{i}", "disease": "rcc", "date_il2_start": start, "bor": "PD",
                     "died": "Yes", "date_death": start + pd.Timedelta(days=int(30.4375 * (i + 1))),
                     "date_last_followup": None, "prior_pd1_pdl1": "Yes", "prior_systemic_lines": 1})
    return pd.DataFrame(rows)


def _os_frame() -> pd.DataFrame:
    return pd.DataFrame({"time": [24.0] * N + list(np.arange(1.0, N + 1)), "event": [0] * N + [1] * N,
                         "Disease": ["Melanoma"] * N + ["RCC"] * N})


def test_zero_event_group_has_no_hazard_ratio_only_the_reason():
    cox = cox_ph(_os_frame(), "time", "event", ["Disease"])
    hrs = grouped_hazard_ratios(cox)
    assert hrs[["hr", "hr_lower", "hr_upper", "p"]].isna().all(axis=None)
    assert hrs["reason"].iloc[0].startswith("not estimable: the coefficient tends to infinity")
    assert cox.lr_test.pvalue < 0.001


def test_few_events_group_has_no_hazard_ratio_but_the_numbers_stay_in_the_fit():
    df = _os_frame()
    df.loc[:3, "event"] = 1  # melanoma: 4 events (< 5), finite fit
    df.loc[:3, "time"] = [2.5, 5.5, 7.5, 12.0]
    cox = cox_ph(df, "time", "event", ["Disease"])
    assert cox.diverging == () and np.isfinite(cox.summary["hr"].iloc[0])
    hrs = grouped_hazard_ratios(cox)
    assert np.isnan(hrs["hr"].iloc[0]) and hrs["reason"].iloc[0] == "not reported: a group has 4 events (fewer than 5)"


def test_report_prints_the_reason_and_the_likelihood_ratio_test_not_a_diverging_hazard_ratio():
    df = _os_frame().rename(columns={"time": schema.OS_MONTHS, "event": schema.OS_EVENT,
                                     "Disease": schema.DISEASE})
    df[schema.DISEASE] = df[schema.DISEASE].str.lower()
    df[schema.OS_EVENT] = df[schema.OS_EVENT].astype(bool)
    section = survival_section(df, "os", schema.DISEASE, "log-log", "test")
    html = "".join(str(getattr(b, "html", b)) for b in section.blocks)
    assert "not estimable: the coefficient tends to infinity" in html
    assert "model test: likelihood-ratio" in html
    assert "e+" not in html.split("Cox model term")[-1][:2000]  # no 3e16-style hazard ratio
    assert "inf)" not in html and "0.00–inf" not in html


@pytest.fixture()
def zero_event_server_file(tmp_path, monkeypatch):
    path = tmp_path / "cohort.csv"
    _cohort_frame().to_csv(path, index=False, date_format="%Y-%m-%d")
    monkeypatch.setenv("IL2_DASHBOARD_DATA", str(path))
    monkeypatch.setenv("IL2_LOGIN", "none")  # a server file without [auth] needs the explicit switch
    return path


def test_survival_page_shows_the_reason_and_the_likelihood_ratio_test(zero_event_server_file):
    at = open_app({"km_by": schema.DISEASE}, "pages/3_Survival.py")
    cox = [t for t in tables(at) if "Cox model term" in t.columns]
    assert cox, "no Cox table on the page"
    row = cox[0].iloc[0]
    assert row["HR (95% CI)"].startswith("not estimable") and row["Wald p"] == "—"
    assert any("Model test: likelihood-ratio p < 0.001" in c for c in texts(at, "caption"))
