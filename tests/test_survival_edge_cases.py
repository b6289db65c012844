"""Edge cases of the survival engine, each with defined behaviour.

Missing values are excluded and counted; invalid values raise SurvivalInputError (a ValueError)
naming the problem; nothing left to analyse raises InsufficientDataError. The three counting
strategies (grid counting pass, hash, sort) must agree exactly with a direct count.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.survival import cox_ph, kaplan_meier, logrank_test
from il2lib.survival import _counting


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_all_censored():
    res = kaplan_meier([1, 2, 3], [0, 0, 0], conf_type="log")
    assert (res.table["survival"] == 1).all() and (res.table["ci_lower"] == 1).all()
    assert np.isnan(res.median) and all(np.isnan(res.median_ci)) and res.n_events == 0
    rm = res.rmst(2.5)
    assert rm.rmst == 2.5 and rm.se == 0


def test_single_patient():
    died = kaplan_meier([5.0], [1])
    assert died.table["survival"].tolist() == [0.0] and np.isnan(died.table["std_err"].iloc[0])
    assert died.median == 5.0 and all(np.isnan(died.median_ci))
    alive = kaplan_meier([5.0], [0])
    assert alive.table["survival"].tolist() == [1.0] and np.isnan(alive.median)


def test_all_events_at_one_time():
    res = kaplan_meier([3, 3, 3, 3], [1, 1, 1, 1])
    assert res.table[["n_risk", "n_event"]].values.tolist() == [[4, 4]]
    assert res.median == 3.0 and np.isnan(res.table["ci_lower"].iloc[0])


def test_time_zero_counts():
    res = kaplan_meier([0, 0, 1, 2], [1, 0, 1, 0])
    assert res.table["time"].tolist() == [0, 1, 2]
    assert res.table["survival"].iloc[0] == pytest.approx(0.75)
    assert res.median == 1.0


def test_event_and_censoring_tied_censored_still_at_risk():
    """R's convention: at a tied time the censored patient is in the risk set of the event."""
    res = kaplan_meier([1, 1, 2], [1, 0, 1])
    assert res.table[["n_risk", "n_event", "n_censor"]].values.tolist() == [[3, 1, 1], [1, 1, 0]]
    assert res.table["survival"].tolist() == pytest.approx([2 / 3, 0.0])


def test_empty_groups_are_dropped():
    by = pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"])
    grouped = kaplan_meier([1, 2, 3, 4], [1, 1, 0, 1], by=by)
    assert grouped.groups == ("a", "b")
    only_missing = kaplan_meier([1, 2, np.nan], [1, 0, 1], by=["a", "a", "b"])
    assert grouped and only_missing.groups == ("a",)
    assert only_missing.excluded == (("without time", 1),)
    res = logrank_test([1, 2, 3, 4], [1, 1, 0, 1], by)
    assert list(res.table["group"]) == ["a", "b"]


def test_missing_values_are_excluded_and_counted():
    time = pd.Series([1.0, None, 3.0, 4.0, 5.0], dtype="Float64")
    event = pd.array([True, False, None, True, False], dtype="boolean")
    res = kaplan_meier(time, event)
    assert res.n == 3 and res.n_input == 5
    assert res.n_note == "n = 3 of 5 (1 without time; 1 without event)"
    grouped = kaplan_meier(time, event, by=["x", "x", "y", None, "y"])
    assert grouped.excluded == (("without time", 1), ("without event", 1), ("without group", 1))


@pytest.mark.parametrize(("time", "event", "message"), [
    ([1.0, -2.0], [1, 0], "negative"),
    ([1.0, np.inf], [1, 0], "infinite"),
    ([1.0, -np.inf], [1, 0], "infinite"),
    ([1.0, 2.0], [1, 2], "0/1"),
    ([1.0, 2.0], [0.5, 1], "0/1"),
    (["a", 2.0], [1, 0], "numeric"),
    ([1.0, 2.0, 3.0], [1, 0], "different lengths"),
])
def test_invalid_values_raise_named_errors(time, event, message):
    with pytest.raises(SurvivalInputError, match=message):
        kaplan_meier(time, event)
    with pytest.raises(ValueError):
        logrank_test(time, event, ["a", "b", "a"][: len(time)])


def test_nothing_left():
    with pytest.raises(InsufficientDataError):
        kaplan_meier([np.nan, np.nan], [1, 0])
    with pytest.raises(InsufficientDataError):
        kaplan_meier([], [])


def test_cox_invalid_and_missing():
    df = pd.DataFrame({"t": [1.0, 2, 3, -1], "e": [1, 0, 1, 1], "x": [1.0, 2, 3, 4]})
    with pytest.raises(SurvivalInputError, match="negative"):
        cox_ph(df, "t", "e", ["x"])


def naive_counts(time, event, group, n_groups):
    utime = np.unique(time)
    events = np.array([[np.sum((time == u) & event & (group == g)) for u in utime] for g in range(n_groups)])
    exits = np.array([[np.sum((time == u) & (group == g)) for u in utime] for g in range(n_groups)])
    return utime, events, exits


@settings(max_examples=60, deadline=None)
@given(st.integers(300, 3000), st.sampled_from(["grid1", "grid10", "hash", "sort"]), st.integers(1, 3),
       st.integers(0, 2**32 - 1))
def test_counting_strategies_agree(n, kind, n_groups, seed):
    rng = np.random.default_rng(seed)
    raw = rng.exponential(20, n)
    time = {"grid1": np.round(raw), "grid10": np.round(raw, 1), "hash": np.round(raw, 1) + np.pi,
            "sort": raw}[kind]
    event = rng.random(n) < 0.7
    group = rng.integers(0, n_groups, n)
    expected = naive_counts(time, event, group, n_groups)
    for strategy in (_counting._count_sort, _counting._count_hash, _counting._count_grid):
        if strategy is _counting._count_grid:
            scale = _counting._grid_scale(np.concatenate([time] * (1 + 300 // n)))
            if scale is None:
                continue
            got = strategy(time, event, group, n_groups, np.rint(time * scale).astype(np.intp), scale)
        else:
            got = strategy(time, event, group, n_groups)
        np.testing.assert_array_equal(got.time, expected[0])
        np.testing.assert_array_equal(got.events, expected[1])
        np.testing.assert_array_equal(got.exits, expected[2])
    packed = _counting._pack(time, event, group, n_groups)
    got = _counting._count_packed(*packed, n_groups)
    np.testing.assert_array_equal(got.time, expected[0])
    np.testing.assert_array_equal(got.events, expected[1])
    np.testing.assert_array_equal(got.exits, expected[2])
    chosen = _counting.count(time, event, group, n_groups)
    np.testing.assert_array_equal(chosen.time, expected[0])
    np.testing.assert_array_equal(chosen.exits, expected[2])


def test_packed_sort_refuses_inexact_cases():
    tiny = np.array([1e-310, 2e-310, 1.0])  # subnormal after scaling would lose bits
    assert _counting._pack(tiny, np.ones(3, bool), np.array([0, 1, 1]), 2) is None
    assert _counting._pack(np.ones(3), np.ones(3, bool), np.arange(3), 40) is None  # too many groups
    huge = np.array([1e300, 3.0, 0.0, -0.0])
    got = _counting._count_packed(*_counting._pack(huge, np.array([1, 0, 1, 1], bool), np.array([0, 1, 0, 1]), 2), 2)
    np.testing.assert_array_equal(got.time, [0.0, 3.0, 1e300])
    np.testing.assert_array_equal(got.exits, [[1, 0, 1], [1, 1, 0]])


def test_grid_detection_is_exact():
    assert _counting._grid_scale(np.round(np.linspace(0, 50, 5000), 1)) == 10.0
    assert _counting._grid_scale(np.arange(5000.0)) == 1.0
    assert _counting._grid_scale(np.linspace(0, 1, 5000) + 1e-9) is None
    off_grid = np.round(np.linspace(0, 50, 5000), 1)
    off_grid[1235] += 1e-7  # off the grid and outside the (even-stride) sample: the full check catches it
    assert _counting._grid_scale(off_grid) is None


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_median_fast_path_equals_literal_port_of_r(steps, seed):
    """The bisection median equals the literal port of R's findq, flats at exactly 0.5 included."""
    from il2lib.survival.km import _curve_quantile, _findq_general

    tol = np.sqrt(np.finfo(float).eps)
    rng = np.random.default_rng(seed)
    levels = np.array([0.1, 0.3, 0.5, 0.5, 0.5 + 1e-9, 0.5 - 1e-9, 0.5 + 1e-7, 0.7, 1.0])[: 3 + max(steps)]
    y = np.concatenate([[0.0], np.sort(rng.choice(levels, size=len(steps)))])
    x = np.concatenate([[0.0], np.cumsum(rng.integers(1, 5, y.size - 1)).astype(float)])
    curve = 1.0 - y[1:]
    expected = _findq_general(x, y, 0.5, tol)
    assert np.array_equal(_curve_quantile(x[1:], curve, curve.size, False), expected, equal_nan=True)
    cut = int(rng.integers(0, curve.size + 1))
    banded = np.where(np.arange(curve.size) < cut, curve, np.nan)
    expected = _findq_general(x, np.concatenate([[0.0], 1 - banded]), 0.5, tol)
    assert np.array_equal(_curve_quantile(x[1:], banded, cut, True), expected, equal_nan=True)
    shuffled = rng.permutation(curve)  # a non-monotone band goes to the literal port
    expected = _findq_general(x, np.concatenate([[0.0], 1 - shuffled]), 0.5, tol)
    assert np.array_equal(_curve_quantile(x[1:], shuffled, curve.size, True), expected, equal_nan=True)


def test_logrank_with_zero_variance_is_a_defined_no_test_result():
    """Every event at one time with one patient per group: the variance is 0, so no test (R stops with an error)."""
    result = logrank_test([0.0, 0.0], [1, 1], ["a", "b"])
    assert np.isnan(result.statistic) and np.isnan(result.pvalue) and result.df == 1
    assert "variance of the group differences is zero" in result.warnings[0]
