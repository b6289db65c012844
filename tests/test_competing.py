"""Competing risks (Aalen-Johansen CIF, Gray's test) against R: cmprsk 2.2-11 cuminc/timepoints and
survival 3.5-3 multi-state survfit, from tests/reference/scripts/make_survival_extended.R (survival::mgus2:
progression = 1, death without progression = 2). Tolerance 1e-9 relative (deterministic numbers)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.survival.competing import cumulative_incidence, gray_test, progression_competing_status
from support.combined_sample import sample_data

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "survival_extended.json").read_text())["competing"]
MGUS = pd.read_csv(REF / "mgus2.csv")
TIMES = R["by_sex"]["times"]


def _curve(ref: dict, name: str) -> dict:
    return next(e for e in ref["est"] if e["curve"] == name)


@pytest.mark.parametrize("group", ["F", "M"])
@pytest.mark.parametrize("cause", [1, 2])
def test_cif_and_variance_match_cmprsk(group, cause):
    res = cumulative_incidence(MGUS.etime, MGUS.event, MGUS.sex)
    curves = res.cif if cause == 1 else res.competing_cif
    at = curves[group].at(TIMES)
    expected = _curve(R["by_sex"], f"{group} {cause}")
    np.testing.assert_allclose(at["cif"], expected["est"], rtol=1e-9)
    np.testing.assert_allclose(at["variance"], expected["var"], rtol=1e-9)


def test_cif_matches_survfit_multistate():
    aj = R["aalen_johansen"]
    res = cumulative_incidence(MGUS.etime, MGUS.event, MGUS.sex)
    for k, (stratum, t) in enumerate(zip(aj["strata"], aj["time"])):
        group = stratum.split("=")[1]
        assert res.cif[group].at([t])["cif"].iloc[0] == pytest.approx(aj["pstate_pcm"][k], rel=1e-9)
        assert res.competing_cif[group].at([t])["cif"].iloc[0] == pytest.approx(aj["pstate_death"][k], rel=1e-9)


@pytest.mark.parametrize("by, cause", [("sex", 1), ("sex", 2), ("agegrp", 1), ("agegrp", 2)])
def test_gray_test_matches_cuminc(by, cause):
    ref = R[f"by_{by}"]["tests"][cause - 1]
    res = gray_test(MGUS.etime, MGUS.event, MGUS[by], cause=cause)
    assert res.statistic == pytest.approx(ref["stat"], rel=1e-9)
    assert res.pvalue == pytest.approx(ref["pv"], rel=1e-8)
    assert res.df == ref["df"]


def test_gray_test_rho_and_strata():
    assert gray_test(MGUS.etime, MGUS.event, MGUS.sex, rho=1).statistic == pytest.approx(R["gray_rho1"]["stat"],
                                                                                         rel=1e-9)
    strat = gray_test(MGUS.etime, MGUS.event, MGUS.sex, strata=MGUS.agegrp)
    assert strat.statistic == pytest.approx(R["gray_strata_agegrp"]["stat"], rel=1e-9)


def test_hand_computed_small_example():
    # times 1(prog), 2(death), 3(censored), 4(prog): S(1-)=1, n=4 -> F(1)=1/4; at 2 S=3/4, competing;
    # at 4: S(4-)=3/4*2/3=1/2, n=1 -> F(4)=1/4+1/2*1=3/4
    res = cumulative_incidence([1, 2, 3, 4], [1, 2, 0, 1])
    cif = res.cif["All patients"].at([0.5, 1, 2, 3.5, 4])["cif"].to_numpy()
    np.testing.assert_allclose(cif, [0, 0.25, 0.25, 0.25, 0.75])
    assert res.competing_cif["All patients"].at([2])["cif"].iloc[0] == pytest.approx(0.25)
    assert res.gray is None


def test_ci_contains_estimate_and_no_events_gives_zero():
    res = cumulative_incidence(MGUS.etime, MGUS.event, MGUS.sex)
    tab = res.cif["F"].table
    inside = tab["cif"] > 0
    assert (tab.loc[inside, "ci_lower"] <= tab.loc[inside, "cif"]).all()
    assert (tab.loc[inside, "ci_upper"] >= tab.loc[inside, "cif"]).all()
    assert (tab.loc[~inside, ["ci_lower", "ci_upper"]] == 0).all().all()


def test_invalid_status_and_missing_rows():
    with pytest.raises(SurvivalInputError, match="status"):
        cumulative_incidence([1, 2], [1, 3])
    res = cumulative_incidence([1, 2, np.nan, 4], [1, np.nan, 0, 2], ["a", "a", "b", None])
    assert res.n == 1 and res.n_input == 4
    assert "without" in res.n_note
    with pytest.raises(InsufficientDataError):
        gray_test([1, 2], [1, 1], ["a", "a"])


def test_progression_status_from_cohort():
    df = sample_data()
    time, status = progression_competing_status(df)
    known = ~np.isnan(status)
    event = df["pfs_event"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    assert set(np.unique(status[known])) <= {0, 1, 2}
    assert ((status == 0) == (known & ~event)).all()
    assert np.array_equal(time, df["pfs_months"].to_numpy(dtype=float))


def test_ci_is_the_loglog_transform_of_the_cmprsk_variance():
    from scipy.stats import norm

    res = cumulative_incidence(MGUS.etime, MGUS.event, MGUS.sex)
    row = res.cif["M"].at([120]).iloc[0]
    expected = _curve(R["by_sex"], "M 1")
    f, v = expected["est"][2], expected["var"][2]
    half = norm.ppf(0.975) * np.sqrt(v) / (f * np.log(f))
    assert row["ci_lower"] == pytest.approx(f ** np.exp(-half), rel=1e-9)
    assert row["ci_upper"] == pytest.approx(f ** np.exp(half), rel=1e-9)


def test_no_event_of_interest_gives_curves_without_test():
    res = cumulative_incidence([1, 2, 3, 4], [2, 0, 2, 0], ["a", "a", "b", "b"])
    assert res.gray is None
    assert res.cif["a"].table["cif"].max() == 0
    with pytest.raises(InsufficientDataError, match="at least one event"):
        gray_test([1, 2, 3, 4], [2, 0, 2, 0], ["a", "a", "b", "b"])


def test_no_progression_columns_is_refused():
    df = sample_data().drop(columns=["date_progression", "progressed"])
    with pytest.raises(InsufficientDataError, match="progression data"):
        progression_competing_status(df)


def test_to_frame_of_a_curve_of_all_curves_and_of_gray_test():
    res = cumulative_incidence(MGUS.etime, MGUS.event, MGUS.sex, event_label="PCM", competing_label="Death")
    pd.testing.assert_frame_equal(res.cif["F"].to_frame(), res.cif["F"].table)
    frame = res.to_frame()
    assert list(frame.columns) == ["group", "event", "time", "n_risk", "n_event", "n_competing", "n_censor", "cif",
                                   "variance", "ci_lower", "ci_upper"]
    assert len(frame) == sum(len(c.table) for c in [*res.cif.values(), *res.competing_cif.values()])
    death_m = frame[(frame.event == "Death") & (frame.group == "M")].drop(columns=["group", "event"])
    pd.testing.assert_frame_equal(death_m.reset_index(drop=True), res.competing_cif["M"].table)
    gray = res.gray.to_frame()
    assert gray.to_dict("records") == [{"statistic": res.gray.statistic, "df": res.gray.df,
                                        "pvalue": res.gray.pvalue, "rho": res.gray.rho}]
