"""Milestone survival differences and RMST differences against R (summary(survfit, times) and
print(survfit, rmean = tau) per group, difference with sqrt(se1^2 + se2^2); make_survival_extended.R)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import InsufficientDataError
from il2lib.survival.milestones import rmst_differences, survival_differences

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "survival_extended.json").read_text())["milestones"]


def test_survival_difference_lung_by_sex():
    lung = pd.read_csv(REF / "lung.csv")
    res = survival_differences(lung.time, lung.status - 1, lung.sex, [180, 365, 730])
    diff = res.differences
    assert res.reference == 1 and (diff.group == 2).all()
    for k, ref in enumerate(R["lung_sex"]):
        # R's script computes sex 1 minus sex 2; the difference here is group minus reference (2 - 1)
        assert diff.difference[k] == pytest.approx(-ref["diff"], rel=1e-9)
        assert diff.se[k] == pytest.approx(ref["se_diff"], rel=1e-9)
        assert diff.ci_lower[k] == pytest.approx(-ref["upper"], rel=1e-9)
        assert diff.ci_upper[k] == pytest.approx(-ref["lower"], rel=1e-9)
        per = res.per_group[res.per_group.time == ref["time"]]
        np.testing.assert_allclose(per.std_err, ref["se"], rtol=1e-9)


def test_rmst_difference_veteran_by_trt():
    vet = pd.read_csv(REF / "veteran.csv")
    ref = R["veteran_rmst"]
    res = rmst_differences(vet.time, vet.status, vet.trt, 365)
    np.testing.assert_allclose(res.per_group.rmst, ref["rmean"], rtol=1e-9)
    np.testing.assert_allclose(res.per_group.se, ref["se"], rtol=1e-9)
    row = res.differences.iloc[0]
    assert row.difference == pytest.approx(ref["diff"], rel=1e-9)
    assert (row.ci_lower, row.ci_upper) == (pytest.approx(ref["lower"], rel=1e-9), pytest.approx(ref["upper"], rel=1e-9))


def test_default_tau_is_shortest_follow_up_and_longer_tau_refused():
    time = [1, 2, 3, 4, 5, 6]
    res = rmst_differences(time, [1, 0, 1, 1, 0, 1], list("aaabbb"))
    assert res.tau == 3
    with pytest.raises(InsufficientDataError, match="not estimable"):
        rmst_differences(time, [1, 0, 1, 1, 0, 1], list("aaabbb"), tau=5)


def test_hand_computed_difference():
    # group a: S(2)=1/2 (events at 1 and 2 among 4? no: 2 events of 4 -> 0.5); group b: no event by 2 -> 1
    res = survival_differences([1, 2, 5, 6, 3, 4, 5, 6], [1, 1, 0, 0, 1, 0, 0, 0], list("aaaabbbb"), [2],
                               reference="b")
    row = res.differences.iloc[0]
    assert row.difference == pytest.approx(-0.5)
    # Greenwood: Var S_a(2) = 0.25 * (1/(4*3) + 1/(3*2)) = 0.0625; b has no event -> 0
    assert row.se == pytest.approx(0.25)


def test_one_group_and_unknown_reference():
    with pytest.raises(InsufficientDataError):
        survival_differences([1, 2], [1, 0], ["a", "a"], [1])
    with pytest.raises(ValueError, match="reference"):
        survival_differences([1, 2], [1, 0], ["a", "b"], [1], reference="z")


def test_to_frame_puts_each_difference_beside_the_group_estimate():
    lung = pd.read_csv(REF / "lung.csv")
    res = survival_differences(lung.time, lung.status - 1, lung.sex, [180, 365])
    frame = res.to_frame()
    assert list(frame.columns) == ["time", "group", "survival", "std_err", "ci_lower", "ci_upper", "n_risk",
                                   "reference", "difference", "difference_se", "difference_lower",
                                   "difference_upper", "p"]
    pd.testing.assert_frame_equal(frame[list(res.per_group.columns)], res.per_group)
    assert (frame["reference"] == res.reference).all()
    assert frame.loc[frame.group == res.reference, ["difference", "p"]].isna().all(axis=None)
    other = frame[frame.group != res.reference].reset_index(drop=True)
    np.testing.assert_array_equal(other["difference"], res.differences["difference"])
    np.testing.assert_array_equal(other["difference_se"], res.differences["se"])
    np.testing.assert_array_equal(other["difference_lower"], res.differences["ci_lower"])
    np.testing.assert_array_equal(other["p"], res.differences["p"])


def test_rmst_to_frame_puts_each_difference_beside_the_group_rmst():
    vet = pd.read_csv(REF / "veteran.csv")
    res = rmst_differences(vet.time, vet.status, vet.trt, 365)
    frame = res.to_frame()
    assert list(frame.columns) == ["group", "tau", "rmst", "se", "ci_lower", "ci_upper", "reference", "difference",
                                   "difference_se", "difference_lower", "difference_upper", "p"]
    pd.testing.assert_frame_equal(frame[list(res.per_group.columns)], res.per_group)
    row, diff = frame.iloc[1], res.differences.iloc[0]
    assert (row.group, row.reference) == (diff.group, res.reference)
    assert (row.difference, row.difference_se, row.difference_upper, row.p) == (diff.difference, diff.se,
                                                                                  diff.ci_upper, diff.p)
    assert frame.iloc[0][["difference", "p"]].isna().all()
