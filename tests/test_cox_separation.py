"""Monotone likelihood (separation) in the Cox model: detected from the iterates, named, never a number.

R's ``coxph`` warns "Loglik converged before variable k; coefficient may be infinite" and still
prints a huge coefficient with a Wald p of 0.999; we flag the term instead, report no hazard ratio
for it, and keep the likelihood-ratio and score tests, which stay valid under separation
(Heinze & Schemper 2001, Biometrics 57:114-119).
"""
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import InsufficientDataError
from il2lib.survival import cox_ph
from il2lib.survival.multivariable import multivariable_cox

# Both groups have events, but every event of x = 1 happens before any of x = 0: the partial
# likelihood rises monotonically in beta_x (no finite MLE). R 4.x, survival 3.x:
#   d <- data.frame(t=1:8, e=c(1,1,1,1,1,1,0,1), x=c(1,1,1,0,0,0,0,0))
#   f <- coxph(Surv(t,e)~x, data=d)   # Warning: Loglik converged before variable 1
#   2*diff(f$loglik) = 8.050703375776;  f$score = 8.175820803928 (p = 0.004245245486)
BOTH_GROUPS_HAVE_EVENTS = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 1, 1, 1, 0, 1],
                                        "x": [1, 1, 1, 0, 0, 0, 0, 0]})

# Separation in g with a second, ordinary covariate. R:
#   d2 <- data.frame(t=1:10, e=c(rep(1,9),0), g=rep(c('A','B'),each=5), age=c(50,61,45,70,55,62,48,66,59,53))
#   f2 <- coxph(Surv(t,e)~g+age, data=d2)   # Warning: Loglik converged before variable 1
#   2*diff(f2$loglik) = 11.064278746488; f2$score = 9.708439157768; coef(f2)["age"] = -0.003499482482
WITH_SECOND_COVARIATE = pd.DataFrame({"t": np.arange(1.0, 11), "e": [1] * 9 + [0], "g": ["A"] * 5 + ["B"] * 5,
                                      "age": [50.0, 61, 45, 70, 55, 62, 48, 66, 59, 53]})


def test_separation_with_events_in_both_groups_is_flagged_and_the_lr_test_kept():
    res = cox_ph(BOTH_GROUPS_HAVE_EVENTS, "t", "e", ["x"])
    assert res.diverging == ("x",)
    row = res.summary.iloc[0]
    assert not row["reportable"] and "tends to infinity" in row["reason"]
    assert all(math.isnan(row[k]) for k in ("hr", "hr_lower", "hr_upper", "p"))
    assert res.lr_test.statistic == pytest.approx(8.050703375776, rel=1e-6)
    assert res.score_test.statistic == pytest.approx(8.175820803928, rel=1e-9)
    assert math.isnan(res.wald_test.statistic)
    assert any("x: the coefficient tends to infinity" in w and "likelihood-ratio test is the model test" in w
               for w in res.warnings)


def test_separated_term_is_named_and_the_other_term_is_estimated():
    res = cox_ph(WITH_SECOND_COVARIATE, "t", "e", ["g", "age"])
    assert res.diverging == ("g: B vs A",)
    age = res.summary.set_index("term").loc["age"]
    assert age["coef"] == pytest.approx(-0.003499482482, rel=1e-6)
    assert math.isfinite(age["hr"]) and age["reportable"]
    assert res.lr_test.statistic == pytest.approx(11.064278746488, rel=1e-6)
    assert res.score_test.statistic == pytest.approx(9.708439157768, rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_separation_decision_does_not_depend_on_rounding(seed):
    """Row order and 1e-12 perturbations change where rounding stops the iteration, not the decision."""
    rng = np.random.default_rng(seed)
    df = WITH_SECOND_COVARIATE.sample(frac=1, random_state=seed).reset_index(drop=True)
    df["age"] = df["age"] * (1 + 1e-12 * rng.standard_normal(len(df)))
    res = cox_ph(df, "t", "e", ["g", "age"])
    assert res.diverging == ("g: B vs A",)
    assert res.lr_test.statistic == pytest.approx(11.064278746488, rel=1e-6)


def test_finite_fit_is_not_flagged():
    # Same times, groups interleaved: a finite MLE (R: coef(coxph(Surv(t,e)~x)) is finite, no warning).
    df = BOTH_GROUPS_HAVE_EVENTS.assign(x=[1, 0, 1, 0, 1, 0, 1, 0])
    res = cox_ph(df, "t", "e", ["x"])
    assert res.diverging == () and math.isfinite(res.summary["hr"].iloc[0])
    assert math.isfinite(res.wald_test.statistic)
    assert res.summary["reason"].iloc[0] == "not reported: a group has 3 events (fewer than 5)"


def test_multivariable_message_names_the_separated_term_when_both_groups_have_events():
    df = WITH_SECOND_COVARIATE.rename(columns={"t": "os_months", "e": "os_event", "g": "sex", "age": "age_at_il2"})
    df["sex"] = df["sex"].map({"A": "F", "B": "M"})
    df["os_event"] = df["os_event"].astype(bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = multivariable_cox(df, "os", ["sex", "age"])
    assert not res.converged
    assert "did not converge" in res.message and "Sex: M vs F" in res.message


def test_one_level_covariate_gives_a_plain_message_naming_it():
    df = BOTH_GROUPS_HAVE_EVENTS.assign(g="A")
    with pytest.raises(InsufficientDataError, match="g takes a single value"):
        cox_ph(df, "t", "e", ["g"])


def test_constant_numeric_covariate_gives_a_plain_message_naming_it():
    df = BOTH_GROUPS_HAVE_EVENTS.assign(z=3.0)
    with pytest.raises(InsufficientDataError, match="z does not vary"):
        cox_ph(df, "t", "e", ["x", "z"])
