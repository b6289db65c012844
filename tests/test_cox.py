"""Cox model vs R coxph (Efron and Breslow), cox.zph (transform="km") and R's concordance.

Reference: tests/reference/{lung,veteran}.json ``coxph.*`` (lung ``age + sex + ph.ecog``, veteran
``trt + karno + celltype``, treatment contrasts, squamous = reference) and tests/reference/extra.json
``cox_zph``. Tolerance 1e-5 relative (R stops Newton-Raphson at a relative log-likelihood change of
1e-9; this fit converges fully, so the gap is R's). Concordance counts must be equal.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import ConvergenceError, InsufficientDataError
from il2lib.survival import cox_ph

REF = Path(__file__).parent / "reference"
RTOL = 1e-5
CELLTYPES = ["squamous", "smallcell", "adeno", "large"]


def model(name):
    ref = json.loads((REF / f"{name}.json").read_text())
    df = pd.read_csv(REF / f"{name}.csv")
    if name == "lung":
        df["event"] = (df["status"] == 2).astype(int)
        return ref, df, ["age", "sex", "ph.ecog"]
    df["event"] = df["status"]
    df["celltype"] = pd.Categorical(df["celltype"], CELLTYPES)  # R's factor order
    return ref, df, ["trt", "karno", "celltype"]


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_matches_coxph(name, ties):
    ref, df, cov = model(name)
    r = ref["coxph"][ties]
    res = cox_ph(df, "time", "event", cov, ties=ties)
    s = res.summary
    assert res.n == r["n"] and res.n_events == r["nevent"]
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("hr", "hr"), ("hr_lower", "hr_lower95"),
                         ("hr_upper", "hr_upper95"), ("z", "z"), ("p", "p")]:
        np.testing.assert_allclose(s[ours], r[theirs], rtol=RTOL, err_msg=f"{name} {ties} {ours}")
    np.testing.assert_allclose(res.vcov, np.asarray(r["vcov"]), rtol=RTOL)
    np.testing.assert_allclose(res.loglik, [r["loglik_null"], r["loglik"]], rtol=RTOL)
    for test, key in [(res.lr_test, "lr_test"), (res.wald_test, "wald_test"), (res.score_test, "score_test")]:
        np.testing.assert_allclose([test.statistic, test.pvalue], [r[key]["stat"], r[key]["p"]], rtol=RTOL)
        assert test.df == r[key]["df"]
    np.testing.assert_allclose(res.concordance, r["concordance"], rtol=1e-6)
    counts = {k: res.concordance_counts[k] for k in r["concordance_counts"]}
    assert counts == r["concordance_counts"]


def test_term_names_name_the_reference_level():
    _, df, cov = model("veteran")
    res = cox_ph(df, "time", "event", cov)
    assert list(res.summary["term"]) == ["trt", "karno", "celltype: smallcell vs squamous",
                                         "celltype: adeno vs squamous", "celltype: large vs squamous"]
    plain = df.assign(celltype=df["celltype"].astype(str))
    other = cox_ph(plain, "time", "event", cov, reference_levels={"celltype": "squamous"})
    coef = other.summary.set_index("term")["coef"]  # text labels: sorted order, same reference
    np.testing.assert_allclose(coef[res.summary["term"]], res.summary["coef"], rtol=1e-10)


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_zph_matches_cox_zph(name):
    extra = json.loads((REF / "extra.json").read_text())["cox_zph"][name]
    _, df, cov = model(name)
    z = cox_ph(df, "time", "event", cov).zph()
    assert list(z.table["term"]) == extra["terms"]
    np.testing.assert_allclose(z.table["chisq"], extra["chisq"], rtol=1e-6)
    np.testing.assert_allclose(z.table["p"], extra["p"], rtol=1e-6)
    np.testing.assert_array_equal(z.table["df"], extra["df"])
    assert z.transform == "km"
    if name == "veteran":  # karno and celltype violate PH in R too
        assert "karno" in z.violated and z.warning
    else:
        assert z.warning is None


def test_zph_to_frame_is_its_table():
    _, df, cov = model("lung")
    z = cox_ph(df, "time", "event", cov).zph()
    frame = z.to_frame()
    assert list(frame.columns) == ["term", "chisq", "df", "p"] and frame["term"].iloc[-1] == "GLOBAL"
    pd.testing.assert_frame_equal(frame, z.table)
    assert frame is not z.table


def test_exclusions_and_warnings():
    ref, df, cov = model("lung")
    res = cox_ph(df, "time", "event", cov)
    assert res.excluded == (("without ph.ecog", 1),) and res.n_input == 228
    assert res.n_note == "n = 227 of 228 (1 without ph.ecog)"
    assert res.reportable and res.warnings == ()
    small = df.iloc[:25]
    few = cox_ph(small, "time", "event", cov)
    assert any("events per coefficient" in w for w in few.warnings)


def test_hazard_ratio_needs_five_events_per_group():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"t": rng.exponential(10, 60), "e": np.r_[np.ones(56), np.zeros(4)],
                       "arm": ["a"] * 56 + ["b"] * 4})
    df.loc[df.index[52:56], "arm"] = "b"  # group b: 4 events, 4 censored
    res = cox_ph(df, "t", "e", ["arm"])
    assert not res.reportable and not res.summary["reportable"].iloc[0]
    assert any("fewer than 5 events" in w for w in res.warnings)


def test_stratified_fit_agrees_with_lifelines():
    import lifelines
    _, df, _ = model("lung")
    data = df[["time", "event", "age", "sex", "ph.ecog"]].dropna()
    ours = cox_ph(data, "time", "event", ["age", "sex"], strata="ph.ecog")
    theirs = lifelines.CoxPHFitter().fit(data, "time", "event", strata=["ph.ecog"],
                                         fit_options={"precision": 1e-12})
    np.testing.assert_allclose(ours.summary["coef"], theirs.params_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.summary["se"], theirs.standard_errors_.to_numpy(), rtol=1e-6)


def test_failures_are_typed():
    df = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [0, 0, 0, 0], "x": [1.0, 2, 3, 4]})
    with pytest.raises(InsufficientDataError):
        cox_ph(df, "t", "e", ["x"])
    separated = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 1, 1, 1, 1, 1], "x": [1, 1, 1, 0, 0, 0]})
    # R's coxph fits it with "Loglik converged before variable 1": a result with the term flagged, no HR
    assert cox_ph(separated, "t", "e", ["x"]).diverging == ("x",)
    collinear = df.assign(e=[1, 1, 1, 1], y=[2.0, 4, 6, 8])
    with pytest.raises(ConvergenceError, match="collinear"):
        cox_ph(collinear, "t", "e", ["x", "y"])
    with pytest.raises(ValueError, match="ties"):
        cox_ph(df, "t", "e", ["x"], ties="exact")  # type: ignore[arg-type]


def test_to_frame_is_a_copy_of_the_coefficient_table():
    _, df, cov = model("veteran")
    res = cox_ph(df, "time", "event", cov)
    frame = res.to_frame()
    pd.testing.assert_frame_equal(frame, res.summary)
    assert list(frame.columns) == ["term", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p", "reportable", "reason"]
    frame.loc[0, "hr"] = -1.0
    assert res.summary.loc[0, "hr"] > 0
