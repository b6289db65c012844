"""Counts-first survival: results from per-(stratum, group, time) counts equal those from rows exactly.

Exact equality (``check_exact=True`` / ``==``): both paths call the same arithmetic
(``km_from_counts``, ``stratum_sums_from_counts``) on the same integer counts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.survival import kaplan_meier, logrank_test
from il2lib.survival.counts import (counts_from_aggregate, kaplan_meier_counts, logrank_counts, median_counts,
                                    rmst_counts, survival_counts)
from il2lib.survival.milestones import rmst_differences


def _data(n: int, seed: int, grid: bool = True):
    rng = np.random.default_rng(seed)
    time = rng.exponential(12, n)
    time = np.round(time, 1) if grid else time
    event = rng.random(n) < 0.65
    group = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    strata = rng.choice([1, 2, 3], n)
    return time, event, group, strata


def _assert_same_km(rows, counts):
    assert rows.keys() == counts.keys()
    for g in rows:
        pd.testing.assert_frame_equal(rows[g].table, counts[g].table, check_exact=True)
        assert rows[g].median == counts[g].median or (np.isnan(rows[g].median) and np.isnan(counts[g].median))
        assert rows[g].median_ci == counts[g].median_ci or np.allclose(rows[g].median_ci, counts[g].median_ci,
                                                                       rtol=0, atol=0, equal_nan=True)
        assert (rows[g].n, rows[g].n_events) == (counts[g].n, counts[g].n_events)
        np.testing.assert_array_equal(rows[g].se_log, counts[g].se_log)


@pytest.mark.parametrize("grid", [True, False])
@pytest.mark.parametrize("n", [40, 5000])
def test_grouped_km_from_counts_equals_rows(grid, n):
    time, event, group, _ = _data(n, 1, grid)
    _assert_same_km(kaplan_meier(time, event, by=group), kaplan_meier_counts(survival_counts(time, event, group)))


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_single_km_from_counts_equals_rows_with_exclusions(conf_type):
    time, event, _, _ = _data(800, 2)
    time[:7] = np.nan
    rows = kaplan_meier(time, event, conf_type=conf_type, conf_level=0.9)
    counts = kaplan_meier_counts(survival_counts(time, event), conf_type=conf_type, conf_level=0.9)
    pd.testing.assert_frame_equal(rows.table, counts.table, check_exact=True)
    assert (rows.median, rows.median_ci, rows.n_input, rows.excluded, rows.n_note) == \
        (counts.median, counts.median_ci, counts.n_input, counts.excluded, counts.n_note)
    assert rows.excluded == (("without time", 7),)


@pytest.mark.parametrize("rho", [0, 1, 0.5])
@pytest.mark.parametrize("stratified", [False, True])
def test_logrank_from_counts_equals_rows(rho, stratified):
    time, event, group, strata = _data(3000, 3)
    group[:4] = None
    s = strata if stratified else None
    rows = logrank_test(time, event, group, strata=s, rho=rho)
    counts = logrank_counts(survival_counts(time, event, group, s), rho=rho)
    assert (rows.statistic, rows.pvalue, rows.df, rows.n, rows.n_events, rows.excluded, rows.stratified) == \
        (counts.statistic, counts.pvalue, counts.df, counts.n, counts.n_events, counts.excluded, counts.stratified)
    pd.testing.assert_frame_equal(rows.table, counts.table, check_exact=True)
    np.testing.assert_array_equal(rows.var_matrix, counts.var_matrix)
    assert rows.excluded == (("without group", 4),)


def test_rmst_and_median_from_counts_equal_rows():
    time, event, group, _ = _data(1200, 4)
    tau = 20.0
    by_rows = rmst_differences(time, event, group, tau=tau).per_group.set_index("group")
    by_counts = rmst_counts(survival_counts(time, event, group), tau)
    for g, r in by_counts.items():
        assert (r.rmst, r.se) == (by_rows.loc[g, "rmst"], by_rows.loc[g, "se"])
    med = median_counts(survival_counts(time, event, group)).set_index("group")
    for g, r in kaplan_meier(time, event, by=group).items():
        assert med.loc[g, "median"] == r.median


def _aggregate(time, event, group, strata) -> pd.DataFrame:
    frame = pd.DataFrame({"stratum": strata, "group": group, "time": time,
                          "event": pd.array(event, dtype="boolean")})
    return frame.groupby(["stratum", "group", "time", "event"], dropna=False).size().rename("n").reset_index()


def test_aggregate_with_missing_keys_equals_row_reduction():
    time, event, group, strata = _data(2000, 5)
    event = pd.array(event, dtype="boolean")
    time[:5], group[5:8], event[8:10], strata = np.nan, None, pd.NA, strata.astype(object)
    strata[10:12] = None
    direct = survival_counts(time, event, group, strata)
    agg = counts_from_aggregate(_aggregate(time, event, group, strata), grouped=True, stratified=True)
    for name in ("stratum", "group", "time", "n_event", "n_censor"):
        np.testing.assert_array_equal(getattr(direct, name), getattr(agg, name))
    assert agg.excluded == direct.excluded == (("without time", 5), ("without event", 2), ("without group", 3),
                                               ("without stratum", 2))
    assert (agg.groups, agg.strata, agg.n_input, agg.n) == (direct.groups, direct.strata, 2000, 1988)


def test_aggregate_rejects_invalid_values_like_rows():
    frame = pd.DataFrame({"stratum": [None] * 2, "group": ["a", "b"], "time": [1.0, -2.0], "event": [1, 0],
                          "n": [3, 1]})
    with pytest.raises(SurvivalInputError, match="negative"):
        counts_from_aggregate(frame)
    frame = frame.assign(time=[1.0, 2.0], event=[1, 2])
    with pytest.raises(SurvivalInputError, match="0/1"):
        counts_from_aggregate(frame)
    with pytest.raises(SurvivalInputError, match="lack"):
        counts_from_aggregate(frame.drop(columns="n"))


def test_logrank_counts_needs_two_groups():
    time, event, _, _ = _data(50, 6)
    with pytest.raises(InsufficientDataError):
        logrank_counts(survival_counts(time, event))
    with pytest.raises(InsufficientDataError):
        logrank_counts(survival_counts(time, event, np.array(["a"] * 50, dtype=object)))


def test_counts_table_is_tidy():
    counts = survival_counts([1.0, 1.0, 2.0, 3.0], [1, 0, 1, 0], ["x", "y", "x", "x"])
    table = counts.table
    assert list(table.columns) == ["stratum", "group", "time", "n_event", "n_censor"]
    assert table[["group", "time", "n_event", "n_censor"]].values.tolist() == \
        [["x", 1.0, 1, 0], ["x", 2.0, 1, 0], ["x", 3.0, 0, 1], ["y", 1.0, 0, 1]]


def _outcome(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001  (compared by type between the two paths)
        return exc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.sampled_from("abc"), st.sampled_from([0, 1])),
                min_size=2, max_size=60), st.sampled_from([0, 1]))
def test_property_counts_equal_rows(rows, rho):
    time = np.array([r[0] / 2 for r in rows], dtype=float)
    event = np.array([r[1] for r in rows])
    group = np.array([r[2] for r in rows], dtype=object)
    strata = np.array([r[3] for r in rows])
    _assert_same_km(kaplan_meier(time, event, by=group), kaplan_meier_counts(survival_counts(time, event, group)))
    if len(set(group)) < 2:
        return
    a = _outcome(lambda: logrank_test(time, event, group, strata=strata, rho=rho))
    b = _outcome(lambda: logrank_counts(counts_from_aggregate(_aggregate(time, event, group, strata),
                                                              stratified=True), rho=rho))
    if isinstance(a, Exception) or isinstance(b, Exception):  # e.g. a singular variance: the same on both paths
        assert type(a) is type(b)
        return
    assert (a.df, a.n, a.n_events) == (b.df, b.n, b.n_events)
    assert a.statistic == b.statistic or (np.isnan(a.statistic) and np.isnan(b.statistic))
