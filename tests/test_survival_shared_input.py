"""The Survival view checks and ranks its (time, event, group) input once for the Kaplan-Meier curves, the log-rank
test and the reverse Kaplan-Meier follow-up: every number equals, to the last digit, that of each public function
called on its own, on messy data (ties, near-equal times R's timefix merges, missing times, events and groups,
one-patient groups, a group without patients, a group whose only patient has no time)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app_ui.survival_view import GROUP_COLUMN, _grouped_input, compute
from il2lib import schema
from il2lib.errors import InsufficientDataError, SurvivalInputError
from il2lib.survival import kaplan_meier, logrank_test, median_followup, prepared as prepared_module
from il2lib.survival._checks import as_labels
from il2lib.survival.prepared import prepare_survival


def assert_same(a, b, path="result"):
    """Equal to the last digit: frames and arrays exactly (NaN where NaN), dataclasses field by field."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=path)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b), path
        for name in a.__dataclass_fields__:
            assert_same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b and type(a) is type(b), (path, a, b)


def messy(n: int, kind: str, seed: int = 0) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Time (months), event and group of ``n`` patients. ``kind``: "days" (whole days in months: many ties),
    "grid" (exactly 0.1 month, no near-equal times), "continuous" (all distinct)."""
    rng = np.random.default_rng(seed)
    if kind == "days":
        time = rng.integers(0, 1500, n) / 30.4375
    elif kind == "grid":
        time = rng.integers(0, 600, n) / 10
    else:
        time = rng.exponential(20.0, n)
    if kind != "grid":  # the grid stays exact: counted by a counting pass
        time[: n // 10] = np.round(time[: n // 10], 1)
        near = slice(n // 10, n // 10 + max(n // 20, 3))  # near-equal to a tied time: one time after timefix
        time[near] = time[: near.stop - near.start] * (1 + 1e-12) + 1e-13
        time[5] = 10 / 30.4375 * 30.4375  # and 10 itself
        time[6] = 10.0
    time = pd.Series(time, dtype="float64")
    time[rng.random(n) < 0.05] = np.nan
    event = pd.Series(rng.random(n) < 0.6, dtype="boolean")
    event[rng.random(n) < 0.05] = pd.NA
    labels = rng.choice(["A", "B", "C"], n)
    group = pd.Series(pd.Categorical(labels, categories=["C", "empty", "A", "B", "only one", "no time"]))
    group[rng.random(n) < 0.05] = np.nan
    group[7] = "only one"
    group[8] = "no time"
    time[8] = np.nan
    event[7] = True
    return time, event, group


CASES = [(n, kind) for n in (40, 5000) for kind in ("days", "grid", "continuous")]


@pytest.mark.parametrize("n,kind", CASES)
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_curves_from_the_shared_input_equal_kaplan_meier_on_its_own(n, kind, conf_type):
    time, event, group = messy(n, kind)
    shared = prepare_survival(time, event, group)
    curves = shared.kaplan_meier(conf_level=0.9, conf_type=conf_type)
    assert_same(curves, kaplan_meier(time, event, 0.9, conf_type, by=group))
    assert "empty" not in curves and "no time" not in curves and curves["only one"].n == 1
    assert_same(prepare_survival(time, event).kaplan_meier(conf_type=conf_type),
                kaplan_meier(time, event, conf_type=conf_type))


@pytest.mark.parametrize("n,kind", CASES)
@pytest.mark.parametrize("rho", [0, 1])
def test_log_rank_from_the_shared_input_equals_logrank_test_on_its_own(n, kind, rho):
    time, event, group = messy(n, kind)
    test = prepare_survival(time, event, group).logrank(rho)
    assert_same(test, logrank_test(time, event, group, rho=rho))
    assert list(test.table["group"]) == ["C", "A", "B", "only one"]


@pytest.mark.parametrize("n,kind", CASES)
def test_follow_up_from_the_shared_input_equals_median_followup_on_its_own(n, kind):
    time, event, group = messy(n, kind)
    complete = time.notna() & event.notna()
    expected = median_followup(time[complete], event[complete].astype(float))
    assert_same(prepare_survival(time, event, group).followup(), expected)  # whatever the group
    assert expected.n == int(complete.sum()) > int((complete & group.notna()).sum())


def test_near_equal_times_are_one_time_on_the_shared_input_as_on_its_own():
    time = pd.Series([10.0, 10 * (1 + 1e-12), 10.0 + 1e-9, 5.0, 5.0, 20.0, 3.0])
    event = pd.Series([1, 1, 0, 1, 0, 1, 1])
    group = pd.Series(["a", "b", "a", "b", "a", "b", "a"])
    curves = prepare_survival(time, event, group).kaplan_meier()
    assert 10 * (1 + 1e-12) not in set(curves["b"].table["time"])  # merged into 10 by timefix
    assert_same(curves, kaplan_meier(time, event, by=group))
    assert_same(prepare_survival(time, event, group).logrank(), logrank_test(time, event, group))


def test_too_many_groups_times_distinct_times_count_as_each_function_does(monkeypatch):
    time, event, group = messy(5000, "continuous")
    monkeypatch.setattr(prepared_module, "DENSE_CELL_LIMIT", 100)  # no shared table: each analysis counts alone
    shared = prepare_survival(time, event, group)
    assert shared.rank is None
    assert_same(shared.kaplan_meier(), kaplan_meier(time, event, by=group))
    assert_same(shared.logrank(), logrank_test(time, event, group))
    complete = time.notna() & event.notna()
    assert_same(shared.followup(), median_followup(time[complete], event[complete].astype(float)))


def test_invalid_and_empty_inputs_fail_as_each_function_does():
    with pytest.raises(SurvivalInputError, match="negative"):
        prepare_survival([1.0, -2.0], [1, 0], ["a", "b"])
    with pytest.raises(SurvivalInputError, match="0/1"):
        prepare_survival([1.0, 2.0], [1, 2], ["a", "b"])
    with pytest.raises(InsufficientDataError):
        prepare_survival([1.0, 2.0, 3.0], [1, 0, 1], ["a", "a", "a"]).logrank()
    empty = prepare_survival([np.nan, 2.0], [1, None], ["a", "b"])
    with pytest.raises(InsufficientDataError):
        empty.kaplan_meier()
    assert empty.followup() is None


def test_group_codes_of_a_categorical_drop_its_unused_categories_as_pandas_does():
    for values, categories in ((["b", None, "d", "b"], ["a", "b", "c", "d"]), (["a", "b"], ["a", "b"]),
                               ([None, None], ["a"]), ([], ["a", "b"])):
        cat = pd.Series(pd.Categorical(values, categories=categories))
        codes, labels, missing = as_labels(cat, "group")
        used = cat.cat.remove_unused_categories()
        np.testing.assert_array_equal(codes, used.cat.codes.to_numpy().astype(np.int64))
        assert list(labels) == list(used.cat.categories) and codes.dtype == np.int64
        np.testing.assert_array_equal(missing, cat.isna().to_numpy())


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    time, event, group = messy(n, "days", seed)
    rng = np.random.default_rng(seed)
    sex = pd.Series(np.where(group.isna(), None, rng.choice(["F", "M"], n)), dtype=object)
    sex[7] = "X"  # one patient in a group of their own
    pfs_time, pfs_event, _ = messy(n, "continuous", seed + 1)
    return pd.DataFrame({schema.OS_MONTHS: time, schema.OS_EVENT: event, schema.SEX: sex,
                         schema.DISEASE: rng.choice([schema.MELANOMA, schema.RCC], n),
                         schema.PFS_MONTHS: np.fmin(pfs_time, time), schema.PFS_EVENT: pfs_event})


@pytest.mark.parametrize("endpoint", ["os", "pfs"])
@pytest.mark.parametrize("by", [schema.SEX, schema.DISEASE, None])
@pytest.mark.parametrize("n", [60, 4000])
def test_the_survival_view_equals_each_analysis_on_its_own(endpoint, by, n):
    df = cohort(n)
    view = compute(df, endpoint, by, "log", None, 6.0, with_cox=False)
    data = _grouped_input(df, endpoint, by)
    km = kaplan_meier(data["time"], data["event"], conf_type="log", by=data[GROUP_COLUMN] if by else None)
    assert_same(view.curves, dict(km.items()) if by else {"All patients": km})
    assert view.excluded == tuple(km.excluded)
    if by is not None:
        assert_same(view.logrank, logrank_test(data["time"], data["event"], data[GROUP_COLUMN]))
    os = df[[schema.OS_MONTHS, schema.OS_EVENT]].astype("float64").dropna()
    assert_same(view.followup, median_followup(os[schema.OS_MONTHS], os[schema.OS_EVENT]))
