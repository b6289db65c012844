"""Near-equal times are ties, as in R's survival (aeqSurv, timefix = TRUE by default in survfit, survdiff and coxph):
against tests/reference/time_ties.json (tests/reference/scripts/make_time_ties.R, survival 3.5-3). The data hold
times t and t * (1 + 1e-12), t + 1e-14 (a CSV round trip), a chain t, t + 1e-8, t + 2e-8, a gap tied only by the
relative rule, a gap that is not tied, and counting-process rows whose start times are near-equal to other rows'
stop times; they are stored as exact hexadecimal doubles. Times and counts exactly, everything else to 1e-9
relative (R's Cox fit run to eps = 1e-14, numbers printed to 15 digits). Without a near-tie nothing changes, bit
for bit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import SurvivalInputError
from il2lib.survival import cox_ph, kaplan_meier, logrank_test
from il2lib.survival.counts import counts_from_aggregate, kaplan_meier_counts, logrank_counts, survival_counts
from il2lib.survival.time_dependent import mantel_byar, simon_makuch, split_rows, time_dependent_cox
from il2lib.survival.time_origin import kaplan_meier_entry, logrank_entry
from il2lib.survival.timefix import TOLERANCE, aeq_times, tie_cuts

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "time_ties.json").read_text())
RTOL = 1e-9


def _hex(values) -> np.ndarray:
    return np.array([float.fromhex(v) for v in values])


DATA = pd.DataFrame({"time": _hex(R["data"]["time"]), "status": R["data"]["status"], "group": R["data"]["group"],
                     "stratum": R["data"]["stratum"], "x": R["data"]["x"]})
ROWS = (_hex(R["rows"]["tstart"]), _hex(R["rows"]["tstop"]), np.asarray(R["rows"]["event"]),
        np.asarray(R["rows"]["responded"]))


def close(ours, theirs, what=""):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=RTOL, atol=0,
                               err_msg=what)


def assert_curve(km, ref, rows=slice(None), what=""):
    tab = km.table
    np.testing.assert_array_equal(tab["time"].to_numpy(), _hex(ref["time"])[rows], err_msg=what)
    for ours, theirs in (("n_risk", "n.risk"), ("n_event", "n.event"), ("n_censor", "n.censor")):
        np.testing.assert_array_equal(tab[ours].to_numpy(), np.asarray(ref[theirs])[rows], err_msg=f"{what} {ours}")
    close(tab["survival"], np.asarray(ref["surv"], dtype=float)[rows], f"{what} surv")
    close(km.se_log, np.asarray(ref["std.err"], dtype=float)[rows], f"{what} std.err")


def strata_rows(ref):
    bounds = np.concatenate([[0], np.cumsum(ref["strata"])])
    return [slice(bounds[i], bounds[i + 1]) for i in range(len(ref["strata"]))]


# ------------------------------------------------------------------------------------------- the rule
def test_the_data_hold_near_ties_that_r_merges():
    ref = R["right"]
    assert len(ref["km"]["time"]) < len(ref["km_timefix_false_times"]) == DATA["time"].nunique()
    assert float.fromhex(R["tolerance"]) == TOLERANCE


def test_each_time_becomes_the_first_of_its_chain_of_near_equal_times():
    fixed = aeq_times(DATA["time"].to_numpy())
    np.testing.assert_array_equal(np.unique(fixed), _hex(R["right"]["km"]["time"]))
    t = DATA["time"].to_numpy()
    assert fixed[8] == fixed[7] == fixed[6] == t[6]  # the chain t, t + 1e-8, t + 2e-8: one time, its first
    assert fixed[14] == fixed[13] == t[14]  # the smaller value of a pair is kept, wherever it is listed
    assert fixed[10] == t[9] and fixed[12] == t[12] != t[11]  # 1e-7 apart: tied (relative rule); 1e-6: not


def test_start_and_stop_times_are_pooled():
    tstart, tstop, _, _ = ROWS
    new_start, new_stop = aeq_times(tstop, tstart)
    grid = np.unique(np.concatenate([new_start, new_stop]))
    assert set(_hex(R["counting"]["km"]["time"])) <= set(grid)
    assert grid.size < np.unique(np.concatenate([tstart, tstop])).size
    assert np.all(new_start < new_stop)


def test_an_interval_shorter_than_the_tolerance_is_refused_as_in_r():
    assert "effective length 0" in R["collapsed_interval_error"]
    with pytest.raises(SurvivalInputError, match="effective length 0"):
        aeq_times(np.array([1.0, 1.0 * (1 + 1e-12)]), np.array([0.0, 1.0]))
    with pytest.raises(SurvivalInputError, match="effective length 0"):
        kaplan_meier_entry([0.0, 1.0], [1.0, 1.0 * (1 + 1e-12)], [1, 1])


# ------------------------------------------------------------------------------ right-censored, R
def test_kaplan_meier_is_survfit_with_timefix():
    km = kaplan_meier(DATA["time"], DATA["status"])
    ref = R["right"]["km"]
    assert_curve(km, ref)
    close(km.median, ref["median"])
    rmst = km.rmst(24.0)
    close([rmst.rmst, rmst.se], [R["right"]["rmst"]["rmean"], R["right"]["rmst"]["se"]])


def test_kaplan_meier_by_group_decides_ties_over_all_groups():
    km = kaplan_meier(DATA["time"], DATA["status"], by=DATA["group"])
    ref = R["right"]["km_by_group"]
    for label, rows in zip(("a", "b"), strata_rows(ref)):
        assert_curve(km[label], ref, rows, label)


def test_without_timefix_the_curve_keeps_every_near_equal_time():
    km = kaplan_meier(DATA["time"], DATA["status"], timefix=False)
    np.testing.assert_array_equal(km.table["time"].to_numpy(), _hex(R["right"]["km_timefix_false_times"]))


def test_logrank_is_survdiff_with_timefix():
    close(logrank_test(DATA["time"], DATA["status"], DATA["group"]).statistic, R["right"]["survdiff"])
    close(logrank_test(DATA["time"], DATA["status"], DATA["group"], strata=DATA["stratum"]).statistic,
          R["right"]["survdiff_strata"])
    assert not np.isclose(logrank_test(DATA["time"], DATA["status"], DATA["group"], timefix=False).statistic,
                          R["right"]["survdiff"], rtol=1e-6)


@pytest.mark.parametrize("key, ties, strata, timefix", [("cox_efron", "efron", None, True),
                                                        ("cox_breslow", "breslow", None, True),
                                                        ("cox_strata", "efron", "stratum", True),
                                                        ("cox_efron_timefix_false", "efron", None, False)])
def test_cox_is_coxph_with_timefix(key, ties, strata, timefix):
    fit = cox_ph(DATA, "time", "status", ["group", "x"], ties=ties, strata=strata, timefix=timefix)
    ref = R["right"][key]
    close(fit.summary["coef"], ref["coef"], "coef")
    close(fit.summary["se"], ref["se"], "se")
    close(fit.loglik, ref["loglik"], "loglik")
    close(fit.score_test.statistic, ref["score"], "score")
    close(fit.wald_test.statistic, ref["wald"], "wald")
    close(fit.concordance, ref["concordance"], "concordance")


def test_counts_from_rows_and_from_an_aggregate_query_apply_the_same_rule():
    ref_km, ref_group = R["right"]["km"], R["right"]["km_by_group"]
    counts = survival_counts(DATA["time"], DATA["status"], DATA["group"])
    km = kaplan_meier_counts(counts)
    for label, rows in zip(("a", "b"), strata_rows(ref_group)):
        assert_curve(km[label], ref_group, rows, label)
    close(logrank_counts(counts).statistic, R["right"]["survdiff"])
    # what a SQL GROUP BY returns: one row per (stratum, group, time, event) with exact times
    agg = (DATA.assign(stratum=None).groupby(["group", "time", "status"], as_index=False).size()
           .rename(columns={"status": "event", "size": "n"}).assign(stratum=None))
    assert_curve(kaplan_meier_counts(counts_from_aggregate(agg, grouped=False)), ref_km)
    close(logrank_counts(counts_from_aggregate(agg)).statistic, R["right"]["survdiff"])


# ------------------------------------------------------------------------------ counting process, R
def test_delayed_entry_kaplan_meier_is_survfit_on_start_stop_rows():
    tstart, tstop, event, responded = ROWS
    assert_curve(kaplan_meier_entry(tstart, tstop, event), R["counting"]["km"])
    by = kaplan_meier_entry(tstart, tstop, event, by=responded)
    ref = R["counting"]["km_by_status"]
    for label, rows in zip((0, 1), strata_rows(ref)):
        assert_curve(by[label], ref, rows, f"status {label}")
    no_fix = kaplan_meier_entry(tstart, tstop, event, timefix=False)
    np.testing.assert_array_equal(no_fix.table["time"].to_numpy(), _hex(R["counting"]["km_timefix_false_times"]))


def test_simon_makuch_curves_are_survfit_by_status():
    tstart, tstop, event, responded = ROWS
    sm = simon_makuch(tstart, tstop, event, responded, labels=("no", "yes"))
    ref = R["counting"]["km_by_status"]
    for label, rows in zip(("no", "yes"), strata_rows(ref)):
        assert_curve(sm.km[label], ref, rows, label)


def test_time_dependent_cox_and_mantel_byar_are_coxph_with_timefix():
    ref = R["counting"]
    fit = time_dependent_cox(*ROWS)
    close([fit.coef], ref["cox_efron"]["coef"], "coef")
    close([fit.se], ref["cox_efron"]["se"], "se")
    close(fit.loglik, ref["cox_efron"]["loglik"], "loglik")
    close(fit.score_test.statistic, ref["cox_efron"]["score"], "score")
    close(mantel_byar(*ROWS).statistic, ref["score_exact"], "Mantel-Byar")
    tstart, tstop, event, responded = ROWS
    close(logrank_entry(tstart, tstop, event, responded, variance="breslow").statistic, ref["score_breslow"])


# ------------------------------------------------------------------------------------ no near-ties
LUNG = pd.read_csv(REF / "lung.csv")
HEART = pd.read_csv(REF / "heart.csv")


def _continuous(n=2000, seed=7):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"time": rng.exponential(20.0, n), "status": (rng.random(n) < 0.7).astype(int),
                         "group": rng.integers(0, 2, n), "x": rng.normal(size=n)})


NO_TIES = [("lung", LUNG.dropna(subset=["ph.ecog"]).rename(columns={"ph.ecog": "x"})
            .assign(status=lambda d: d["status"] - 1, group=lambda d: d["sex"])), ("continuous", _continuous())]


@pytest.mark.parametrize("name, frame", NO_TIES, ids=[n for n, _ in NO_TIES])
def test_without_near_ties_every_result_is_bit_identical(name, frame):
    t = frame["time"].to_numpy(dtype=float)
    assert tie_cuts(np.unique(t)) is None
    assert aeq_times(t) is t
    for by in (None, frame["group"]):
        on, off = (kaplan_meier(frame["time"], frame["status"], by=by, timefix=f) for f in (True, False))
        for a, b in ([(on, off)] if by is None else [(on[g], off[g]) for g in on]):
            pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
            assert (a.median, a.median_ci) == (b.median, b.median_ci)
    on, off = (logrank_test(frame["time"], frame["status"], frame["group"], timefix=f) for f in (True, False))
    assert (on.statistic, on.pvalue) == (off.statistic, off.pvalue)
    on, off = (cox_ph(frame, "time", "status", ["group", "x"], timefix=f) for f in (True, False))
    pd.testing.assert_frame_equal(on.summary, off.summary, check_exact=True)
    assert on.loglik == off.loglik and on.concordance == off.concordance


def test_counting_process_rows_without_near_ties_are_returned_unchanged():
    tstart, tstop = HEART["start"].to_numpy(float), HEART["stop"].to_numpy(float)
    out_start, out_stop = aeq_times(tstop, tstart)
    assert out_start is tstart and out_stop is tstop


def test_a_switch_within_the_tolerance_of_the_end_of_follow_up_is_no_switch():
    # a response dated on the last follow-up day, its time read back from a CSV file 1e-14 earlier: R's tmerge
    # splits there and coxph stops ("effective length 0"); the rows here keep one row, status 0 until the end
    time = np.array([10.0, 12.0, 5.0])
    switch = np.array([10.0 - 1.5e-14, 4.0, 1e-12])
    patient, tstart, tstop, event, responded = split_rows(time, [1, 0, 1], switch)
    np.testing.assert_array_equal(patient, [0, 1, 1, 2])
    np.testing.assert_array_equal(tstart, [0.0, 0.0, 4.0, 0.0])
    np.testing.assert_array_equal(tstop, [switch[0], 4.0, 12.0, 5.0])  # the first (smaller) of the two times
    np.testing.assert_array_equal(responded, [0, 0, 1, 1])  # a switch within the tolerance of 0: status 1 from 0
    np.testing.assert_array_equal(event, [1, 0, 0, 1])
    assert split_rows(time, [1, 0, 1], np.array([8.0, 4.0, 1.0]))[1].size == 6  # no near-tie: split as tmerge


def test_counts_and_rows_forms_of_the_rule_agree_on_many_continuous_times():
    # 1e5 exponential times: some hundred pairs fall within R's tolerance, across groups and strata
    rng = np.random.default_rng(11)
    n = 100_000
    t, e = rng.exponential(20.0, n), rng.random(n) < 0.7
    g, s = rng.integers(0, 3, n), rng.integers(0, 2, n)
    fixed = aeq_times(t)
    assert 0 < n - np.unique(fixed).size < n // 100
    pd.testing.assert_frame_equal(kaplan_meier(t, e).table, kaplan_meier(fixed, e, timefix=False).table,
                                  check_exact=True)
    on, off = kaplan_meier(t, e, by=g), kaplan_meier(fixed, e, by=g, timefix=False)
    from_counts = kaplan_meier_counts(survival_counts(t, e, g, s))
    for label in on:
        pd.testing.assert_frame_equal(on[label].table, off[label].table, check_exact=True)
        pd.testing.assert_frame_equal(on[label].table, from_counts[label].table, check_exact=True)
    a, b = logrank_test(t, e, g, strata=s), logrank_test(fixed, e, g, strata=s, timefix=False)
    assert a.statistic == b.statistic == logrank_counts(survival_counts(t, e, g, s)).statistic
