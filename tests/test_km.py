"""Kaplan-Meier vs R survfit (survival 3.5-3) on lung and veteran: every column, every CI type, medians, RMST.

Reference values: tests/reference/{lung,veteran}.json, made by tests/reference/scripts/make_reference.R
(``survfit(Surv(time, event) ~ 1 | group, conf.type = "log" | "log-log" | "plain")``, ``print(fit, rmean=tau)``).
Tolerance: 1e-6 relative (absolute 1e-12 near zero); R's null is NaN; where S(t) = 1 a log-log limit
may be NaN (R) or 1 (here).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.survival import GroupedKaplanMeier, KaplanMeierResult, kaplan_meier

REF = Path(__file__).parent / "reference"
RTOL, ATOL = 1e-6, 1e-12
CONF_TYPES = ("log", "log-log", "plain")
EVENT = {"lung": lambda d: (d["status"] == 2).astype(int), "veteran": lambda d: d["status"]}


def load(name):
    return json.loads((REF / f"{name}.json").read_text()), pd.read_csv(REF / f"{name}.csv")


def as_float(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def assert_close(actual, expected, what):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), as_float(expected), rtol=RTOL, atol=ATOL,
                               equal_nan=True, err_msg=what)


def curves(name, conf_type):
    """(R block, our result) for the overall curve and every group."""
    ref, df = load(name)
    time, event = df["time"], EVENT[name](df)
    out = [("overall", ref["km"]["overall"], kaplan_meier(time, event, conf_type=conf_type))]
    grouped = kaplan_meier(time, event, conf_type=conf_type, by=df[ref["group_col"]])
    assert isinstance(grouped, GroupedKaplanMeier)
    assert len(grouped) == len(ref["km"]["by_group"])
    for label, result in grouped.items():
        key = f"{ref['group_col']}={label}"
        out.append((key, ref["km"]["by_group"][key], result))
    return out


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_table_matches_survfit(name, conf_type):
    for key, r, res in curves(name, conf_type):
        tab = res.table
        assert list(tab.columns) == ["time", "n_risk", "n_event", "n_censor", "survival", "std_err",
                                     "ci_lower", "ci_upper"]
        for ours, theirs in [("time", "time"), ("n_risk", "n.risk"), ("n_event", "n.event"),
                             ("n_censor", "n.censor"), ("survival", "surv"), ("std_err", "std.err.surv")]:
            assert_close(tab[ours], r[theirs], f"{name} {key} {ours}")
        assert_close(res.se_log, r["std.err"], f"{name} {key} se_log (R std.err)")
        lower, upper = as_float(r["ci"][conf_type]["lower"]), as_float(r["ci"][conf_type]["upper"])
        if conf_type == "log-log":  # documented: [1, 1] where S = 1, R says NA
            at_one = tab["survival"].to_numpy() == 1
            lower[at_one & np.isnan(lower)] = 1.0
            upper[at_one & np.isnan(upper)] = 1.0
        assert_close(tab["ci_lower"], lower, f"{name} {key} {conf_type} lower")
        assert_close(tab["ci_upper"], upper, f"{name} {key} {conf_type} upper")
        assert res.n == r["n"] and res.n_events == r["events"]


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_median_and_ci_match_quantile_survfit(name, conf_type):
    for key, r, res in curves(name, conf_type):
        m = r["median"][conf_type]
        assert_close([res.median, *res.median_ci], [m["median"], m["lcl"], m["ucl"]], f"{name} {key} median")


def test_median_midpoint_rule_on_flat_half():
    """veteran trt=2: S = 0.5 exactly between 52 and 53 -> R's 52.5 (lifelines says 52)."""
    _, df = load("veteran")
    res = kaplan_meier(df["time"], df["status"], by=df["trt"])[2]
    assert res.median == 52.5


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_rmst_matches_print_rmean(name):
    for key, r, res in curves(name, "log"):
        rm = res.rmst(r["rmst"]["tau"])
        assert_close([rm.rmst, rm.se], [r["rmst"]["rmean"], r["rmst"]["se"]], f"{name} {key} rmst")
        assert rm.ci[0] < rm.rmst < rm.ci[1]


def test_survival_at_and_at_risk():
    ref, df = load("lung")
    res = kaplan_meier(df["time"], EVENT["lung"](df), conf_type="log")
    tab = res.table
    out = res.survival_at([0, 5, 5.5, 310, 2000])
    assert out["survival"].iloc[0] == 1.0 and out["ci_lower"].iloc[0] == 1.0
    row5 = tab[tab["time"] == 5].iloc[0]
    assert out["survival"].iloc[1] == row5["survival"] == out["survival"].iloc[2]
    assert out["ci_upper"].iloc[1] == row5["ci_upper"]
    assert np.isnan(out["survival"].iloc[4])  # beyond the last observed time
    np.testing.assert_array_equal(res.at_risk([0, 5, 6, 1022, 1023]), [228, 228, 227, 1, 0])
    np.testing.assert_array_equal(res.at_risk(tab["time"]), tab["n_risk"])


def test_result_is_frozen_and_reports_counts():
    res = kaplan_meier([1.0, 2.0, np.nan, 4.0], pd.array([1, 0, 1, None], dtype="Int64"))
    assert isinstance(res, KaplanMeierResult)
    assert res.n == 2 and res.n_input == 4
    assert res.excluded == (("without time", 1), ("without event", 1))
    assert res.n_note == "n = 2 of 4 (1 without time; 1 without event)"
    with pytest.raises(AttributeError):
        res.median = 3.0  # type: ignore[misc]
    assert list(res.to_frame().columns)[:3] == ["n", "n_events", "median"]


def test_matches_lifelines_log_log_band():
    """lifelines' KaplanMeierFitter band is R's log-log; checked on lung as an independent cross-check."""
    import lifelines
    _, df = load("lung")
    event = EVENT["lung"](df)
    kmf = lifelines.KaplanMeierFitter().fit(df["time"], event)
    res = kaplan_meier(df["time"], event, conf_type="log-log")
    ci = kmf.confidence_interval_.iloc[1:]  # lifelines adds a row at time 0
    np.testing.assert_allclose(res.table["survival"], kmf.survival_function_.iloc[1:, 0], rtol=1e-12)
    np.testing.assert_allclose(res.table["ci_lower"], ci.iloc[:, 0], rtol=1e-9)


def test_rmst_to_frame():
    res = kaplan_meier([1, 2, 3, 4, 5], [1, 0, 1, 1, 0])
    rm = res.rmst(4.0)
    frame = rm.to_frame()
    assert list(frame.columns) == ["tau", "rmst", "se", "ci_lower", "ci_upper"] and len(frame) == 1
    assert tuple(frame.iloc[0]) == (rm.tau, rm.rmst, rm.se, rm.ci[0], rm.ci[1])
