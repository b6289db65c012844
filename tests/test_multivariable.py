"""Multivariable Cox wrapper: coefficients against R's coxph on survival::lung (tests/reference/lung.json,
age + sex + ph.ecog, Efron), the PH check against cox.zph (extra.json), events-per-variable warning,
and plain messages (no exception) when the model cannot be fitted."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.survival.multivariable import COVARIATES, model_frame, multivariable_cox
from support.combined_sample import sample_data

REF = Path(__file__).parent / "reference"
LUNG = pd.read_csv(REF / "lung.csv")
COX = json.loads((REF / "lung.json").read_text())["coxph"]["efron"]
ZPH = json.loads((REF / "extra.json").read_text())["cox_zph"]["lung"]


def lung_as_registry() -> pd.DataFrame:
    return pd.DataFrame({schema.OS_MONTHS: LUNG.time, schema.OS_EVENT: LUNG.status == 2, schema.AGE: LUNG.age,
                         schema.SEX: LUNG.sex.map({1: "M", 2: "F"}), schema.ECOG: LUNG["ph.ecog"]})


def test_coefficients_match_r_coxph():
    res = multivariable_cox(lung_as_registry(), "os", ["age", "sex", "ecog"])
    assert res.converged and res.message == ""
    coef = dict(zip(res.cox.summary.term, res.cox.summary.coef))
    b_age, b_sex, b_ecog = COX["coef"]
    assert coef["Age (per 10 years)"] == pytest.approx(10 * b_age, rel=1e-7)
    assert coef["Sex: M vs F"] == pytest.approx(-b_sex, rel=1e-7)  # R: sex 2 (female) vs 1 (male)
    assert coef["ECOG PS (per point)"] == pytest.approx(b_ecog, rel=1e-7)
    hr = res.table.set_index("term")
    assert hr.at["ECOG PS (per point)", "hr_lower"] == pytest.approx(COX["hr_lower95"][2], rel=1e-6)
    assert res.n_events == COX["nevent"] == 164 and res.cox.n == COX["n"]
    assert res.events_per_coefficient == pytest.approx(164 / 3) and not res.overfitted


def test_ph_check_matches_cox_zph():
    res = multivariable_cox(lung_as_registry(), "os", ["age", "sex", "ecog"])
    np.testing.assert_allclose(res.ph.table.chisq, ZPH["chisq"], rtol=1e-6)
    assert not res.rmst_suggested


def test_sample_data_model_and_ph_violation():
    res = multivariable_cox(sample_data(), "os", ["age", "sex", "ecog", "disease"])
    assert res.converged and len(res.table) == 4
    assert res.table.term.tolist() == ["Age (per 10 years)", "Sex: M vs F", "ECOG PS (per point)",
                                       "Disease: RCC vs Melanoma"]
    assert (res.table.hr_lower < res.table.hr).all() and (res.table.hr < res.table.hr_upper).all()
    # the synthetic sample's sex effect is not proportional (cox.zph p = 0.003): RMST is offered
    assert "Sex" in res.ph_violated and res.rmst_suggested
    assert any("Milestone survival and RMST" in w for w in res.warnings)


def test_events_per_variable_warning():
    df = sample_data()
    small = df[df[schema.SOURCE].str.startswith("Community")].head(40)
    res = multivariable_cox(small, "os", ["age", "sex", "ecog", "ldh_x_uln", "later_line", "disease"])
    assert res.converged
    assert res.overfitted and res.events_per_coefficient < 10
    assert any("events per coefficient" in w for w in res.warnings)


def test_constant_covariate_gives_message():
    df = sample_data()
    res = multivariable_cox(df[df[schema.DISEASE] == schema.MELANOMA], "os", ["disease", "age"])
    assert not res.converged and res.cox is None
    assert "Disease takes a single value" in res.message and res.table.empty


def test_separation_gives_message_not_exception():
    df = sample_data()
    df.loc[df[schema.SEX] == "M", schema.OS_EVENT] = False  # no deaths among men: HR tends to 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = multivariable_cox(df, "os", ["sex", "age"])
    assert not res.converged
    assert "did not converge" in res.message and "Sex: M vs F" in res.message


def test_no_events_gives_message():
    df = sample_data()
    df[schema.OS_EVENT] = False
    res = multivariable_cox(df, "os", ["age"])
    assert not res.converged and "could not be fitted" in res.message


def test_model_frame_encoding_and_errors():
    df = sample_data()
    frame = model_frame(df, "os", ["later_line", "prior_pd1", "age"])
    assert set(frame["IL-2 as 2nd+ line (vs 1st)"].dropna()) == {0.0, 1.0}
    assert frame["IL-2 as 2nd+ line (vs 1st)"].sum() == (df[schema.LINE_OF_IL2] >= 2).sum()
    assert frame["Age (per 10 years)"].iloc[0] == pytest.approx(df[schema.AGE].iloc[0] / 10)
    with pytest.raises(ValueError, match="Unknown covariate"):
        model_frame(df, "os", ["shoe_size"])
    with pytest.raises(ValueError):
        multivariable_cox(df, "os", [])
    assert set(COVARIATES) >= {"age", "sex", "ecog", "ldh_x_uln", "later_line", "prior_pd1", "disease"}
    assert not math.isnan(multivariable_cox(df, "pfs", ["age"]).table.hr.iloc[0])



def test_overfitting_and_proportional_hazards_warnings_carry_their_kind():
    # the page shows these two in boxes of their own and picks them out by kind, never by their wording
    from il2lib.survival.cox import OVERFITTING
    from il2lib.survival.multivariable import PROPORTIONAL_HAZARDS

    df = sample_data()
    ph = multivariable_cox(df, "os", ["age", "sex", "ecog", "disease"])
    assert [w.kind for w in ph.warnings if "Milestone survival and RMST" in w] == [PROPORTIONAL_HAZARDS]
    small = df[df[schema.SOURCE].str.startswith("Community")].head(40)
    few = multivariable_cox(small, "os", ["age", "sex", "ecog", "ldh_x_uln", "later_line", "disease"])
    assert [w.kind for w in few.warnings if "events per coefficient" in w] == [OVERFITTING]


def test_to_frame_is_the_hazard_ratio_table_with_or_without_a_fit():
    res = multivariable_cox(lung_as_registry(), "os", ["age", "sex", "ecog"])
    frame = res.to_frame()
    assert list(frame.columns) == ["term", "hr", "hr_lower", "hr_upper", "p", "reportable"]
    pd.testing.assert_frame_equal(frame, res.table)
    assert frame is not res.table
    unfitted = multivariable_cox(lung_as_registry().assign(**{schema.OS_EVENT: False}), "os", ["age"])
    assert not unfitted.converged and unfitted.to_frame().empty
