"""Log-rank vs R survdiff (survival 3.5-3): rho = 0, rho = 1 (Peto-Peto), stratified; lung and veteran.

Reference: tests/reference/{lung,veteran}.json (``survdiff(Surv(time, event) ~ group [+ strata(s)], rho=)``,
p with df = groups with expected > 0 minus 1). Tolerance 1e-6 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import InsufficientDataError
from il2lib.survival import hazard_ratio_allowed, logrank_test

REF = Path(__file__).parent / "reference"
EVENT = {"lung": lambda d: (d["status"] == 2).astype(int), "veteran": lambda d: d["status"]}


def load(name):
    return json.loads((REF / f"{name}.json").read_text()), pd.read_csv(REF / f"{name}.csv")


def check(res, r):
    np.testing.assert_allclose(res.statistic, r["chisq"], rtol=1e-6)
    np.testing.assert_allclose(res.pvalue, r["p"], rtol=1e-6)
    assert res.df == r["df"]
    np.testing.assert_allclose(res.table["n"], r["n"])
    np.testing.assert_allclose(res.table["observed"], r["observed"], rtol=1e-6)
    np.testing.assert_allclose(res.table["expected"], r["expected"], rtol=1e-6)
    np.testing.assert_allclose(res.var_matrix, np.asarray(r["var"]), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize(("key", "rho"), [("logrank", 0), ("peto_rho1", 1)])
def test_matches_survdiff(name, key, rho):
    ref, df = load(name)
    res = logrank_test(df["time"], EVENT[name](df), df[ref["group_col"]], rho=rho)
    check(res, ref["survdiff"][key])
    assert [f"{ref['group_col']}={g}" for g in res.table["group"]] == ref["survdiff"][key]["groups"]


def test_stratified_matches_survdiff_strata():
    ref, df = load("lung")
    r = ref["survdiff"]["stratified_logrank"]
    res = logrank_test(df["time"], EVENT["lung"](df), df[r["group_col"]], strata=df[r["strata_col"]])
    check(res, r)
    assert res.n == r["n_used"] and res.excluded == (("without stratum", 1),)
    assert res.stratified


def test_three_groups_and_hr_rule():
    ref, df = load("veteran")
    res = logrank_test(df["time"], df["status"], df["celltype"])
    assert res.df == 3 and len(res.table) == 4
    assert res.hazard_ratio_reportable  # every cell type has >= 5 deaths
    np.testing.assert_allclose(res.table["observed"].sum(), res.table["expected"].sum())
    small = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1], ["a", "a", "a", "b", "b", "b"])
    assert not small.hazard_ratio_reportable
    assert hazard_ratio_allowed(df["status"], df["celltype"])
    assert not hazard_ratio_allowed([1, 1, 1, 1, 0, 1], ["a", "a", "a", "b", "b", "b"])
    assert hazard_ratio_allowed([1] * 10 + [None], ["a"] * 5 + ["b"] * 5 + ["b"])


def test_agrees_with_lifelines_on_two_groups():
    from lifelines import statistics as stats
    _, df = load("veteran")
    a, b = df[df["trt"] == 1], df[df["trt"] == 2]
    theirs = stats.logrank_test(a["time"], b["time"], a["status"], b["status"])
    ours = logrank_test(df["time"], df["status"], df["trt"])
    np.testing.assert_allclose(ours.statistic, theirs.test_statistic, rtol=1e-10)


def test_single_group_or_no_events():
    with pytest.raises(InsufficientDataError, match="two groups"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    res = logrank_test([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert np.isnan(res.pvalue) and res.warnings
