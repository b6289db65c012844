"""Response as a time-dependent covariate against R (tests/reference/scripts/make_time_dependent.R, survival 3.5-3):
the counting-process rows as tmerge builds them, the Mantel-Byar test as the score test of
coxph(Surv(tstart, tstop, event) ~ responded, ties = "exact"), the Efron Cox model and the Simon-Makuch curves
(survfit on the rows, the responder curve from start.time), on survival::heart and on the synthetic cohort.
Tolerances: 1e-6 relative (R's numbers are printed to 15 digits and R's Cox fit is run to eps = 1e-14); counts and
times exactly."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.errors import SurvivalInputError
from il2lib.survival import kaplan_meier
from il2lib.survival.time_dependent import (REASON_SD_NO_DURATION, REASON_UNDATED, mantel_byar, response_rows,
                                            response_time_dependent, simon_makuch, split_rows, switch_months,
                                            time_dependent_cox)
from support.combined_sample import sample_data

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "time_dependent.json").read_text())
HEART = pd.read_csv(REF / "heart.csv")
COHORT_CSV = pd.read_csv(REF / "time_dependent_cohort.csv")
RTOL = 1e-6


def _arrays(rows):
    rows = pd.DataFrame(rows)
    return (rows["tstart"].to_numpy(float), rows["tstop"].to_numpy(float), rows["event"].to_numpy(int),
            rows["responded"].to_numpy(int))


HEART_ROWS = (HEART.start.to_numpy(float), HEART.stop.to_numpy(float), HEART.event.to_numpy(int),
              HEART.transplant.to_numpy(int))
CASES = [("heart", HEART_ROWS, R["heart"]),
         ("cohort response", _arrays(R["cohort"]["response"]["rows"]), R["cohort"]["response"]),
         ("cohort benefit", _arrays(R["cohort"]["benefit"]["rows"]), R["cohort"]["benefit"])]
IDS = [c[0] for c in CASES]


def close(ours, theirs, what=""):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=RTOL, err_msg=what)


# --------------------------------------------------------------------------------------- against R
@pytest.mark.parametrize("name, rows, ref", CASES, ids=IDS)
def test_mantel_byar_is_the_exact_ties_score_test_of_coxph(name, rows, ref):
    res = mantel_byar(*rows)
    close(res.statistic, ref["mantel_byar"]["chisq"], name)
    close(res.pvalue, ref["mantel_byar"]["p"], name)
    assert (res.n_rows, res.n_events) == (ref["n_rows"], ref["n_events"])


def test_exact_ties_score_differs_from_efron_and_breslow_with_tied_events():
    # heart has tied event times across the two statuses: the three scores differ, the test is the exact one
    ref = R["heart"]
    exact = mantel_byar(*HEART_ROWS).statistic
    assert abs(exact - ref["efron_score"]) > 1e-3 and abs(exact - ref["breslow_score"]) > 1e-4
    close(time_dependent_cox(*HEART_ROWS).score_test.statistic, ref["efron_score"])


@pytest.mark.parametrize("name, rows, ref", CASES, ids=IDS)
def test_cox_efron_on_counting_process_rows_matches_coxph(name, rows, ref):
    res = time_dependent_cox(*rows)
    r = ref["cox_efron"]
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("hr", "hr"), ("hr_lower", "hr_lower"),
                         ("hr_upper", "hr_upper"), ("z", "z"), ("pvalue", "p")]:
        close(getattr(res, ours), r[theirs], f"{name} {ours}")
    close(res.loglik, r["loglik"], f"{name} loglik")
    for test, key in [(res.wald_test, "wald"), (res.lr_test, "lr"), (res.score_test, "score")]:
        close([test.statistic, test.pvalue], [r[key]["stat"], r[key]["p"]], f"{name} {key}")
    assert res.reportable and res.reason == ""


def _check_curve(curve, ref, what):
    tab = curve.table
    np.testing.assert_array_equal(tab.time, ref["time"], err_msg=what)
    np.testing.assert_array_equal(tab.n_risk, ref["n.risk"], err_msg=what)
    np.testing.assert_array_equal(tab.n_event, ref["n.event"], err_msg=what)
    np.testing.assert_array_equal(tab.n_censor, ref["n.censor"], err_msg=what)
    close(tab.survival, ref["surv"], what)
    finite = np.array([v is not None for v in ref["std.err"]])
    close(curve.se_log[finite], np.array(ref["std.err"], dtype=float)[finite], what)
    for ours, theirs in (("ci_lower", "lower"), ("ci_upper", "upper")):
        expected = np.array([np.nan if v is None else v for v in ref[theirs]], dtype=float)
        expected[np.isnan(expected) & (tab.survival.to_numpy() == 1)] = 1.0  # R's log-log NA at S = 1 is [1, 1] here
        np.testing.assert_allclose(tab[ours].to_numpy(float), expected, rtol=RTOL, equal_nan=True, err_msg=what)
    for ours, theirs in ((curve.median, ref["median"]), (curve.median_ci[0], ref["median_lcl"]),
                         (curve.median_ci[1], ref["median_ucl"])):
        assert (np.isnan(ours) and theirs is None) or ours == pytest.approx(theirs, rel=RTOL), what
    assert curve.n == ref["n"], what


@pytest.mark.parametrize("name, rows, ref", CASES, ids=IDS)
def test_simon_makuch_curves_match_survfit_on_the_rows(name, rows, ref):
    res = simon_makuch(*rows, labels=("no", "yes"))
    _check_curve(res.km["no"], ref["survfit"]["status0"], f"{name} status 0")
    _check_curve(res.km["yes"], ref["survfit"]["status1"], f"{name} status 1")
    _check_curve(res["no"], ref["survfit"]["status0"], f"{name} display status 0")  # status 0: the whole curve


@pytest.mark.parametrize("name, rows, ref", CASES, ids=IDS)
def test_responder_curve_starts_with_five_at_risk_as_survfit_start_time(name, rows, ref):
    res = simon_makuch(*rows, labels=("no", "yes"), min_at_risk=5)
    started = ref["status1_started"]
    assert res.first_time == started["start.time"]
    _check_curve(res["yes"], started["curve"], f"{name} status 1 from start.time")
    tstart, tstop, _, responded = rows
    one = responded == 1
    at = lambda t: int(((tstart[one] < t) & (tstop[one] >= t)).sum())  # noqa: E731
    eps = 1e-9
    assert at(res.start_time + eps) >= 5 and at(res.start_time) < 5  # at least 5 just after the start, not before
    assert res.starts() == {"no": 0.0, "yes": res.start_time}
    assert res.at_risk_table([res.start_time + eps]).set_index("group").loc["yes", "n_risk"] >= 5


# ------------------------------------------------------------------------------------ the rows
def test_cohort_rows_are_the_rows_tmerge_builds():
    exported = _exported_cohort()
    pd.testing.assert_frame_equal(exported, COHORT_CSV, check_dtype=False, rtol=1e-15,
                                  obj="the synthetic sample changed: rerun tests/reference/scripts "
                                      "(export_time_dependent_cohort.py, then make_time_dependent.R)")
    for grouping in ("response", "benefit"):
        ours = response_rows(sample_data(), "os", grouping).rows
        theirs = pd.DataFrame(R["cohort"][grouping]["rows"])
        assert list(ours.patient_id) == list(theirs.patient_id), grouping
        close(ours.tstart, theirs.tstart, grouping)
        close(ours.tstop, theirs.tstop, grouping)
        np.testing.assert_array_equal(ours.event, theirs.event)
        np.testing.assert_array_equal(ours.responded, theirs.responded)


def _exported_cohort() -> pd.DataFrame:
    import importlib.util
    spec = importlib.util.spec_from_file_location("export", REF / "scripts" / "export_time_dependent_cohort.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.cohort_frame(sample_data())  # the bundled sample file, which il2lib.sample writes
    return out.astype({"date_first_response": object}).where(out.notna(), np.nan)


def test_split_rows_as_tmerge_by_hand():
    # switch inside follow-up -> two rows; at the end of follow-up or after it -> none; at 0 -> status 1 from start
    patient, tstart, tstop, event, responded = split_rows([10, 12, 5, 8, 20], [1, 0, 1, 1, 0],
                                                          [3, np.inf, 5, 9, 0])
    assert patient.tolist() == [0, 0, 1, 2, 3, 4]
    assert tstart.tolist() == [0, 3, 0, 0, 0, 0]
    assert tstop.tolist() == [3, 10, 12, 5, 8, 20]
    assert event.tolist() == [0, 1, 0, 1, 1, 0]
    assert responded.tolist() == [0, 1, 0, 0, 0, 1]


def _patients(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {schema.PATIENT_ID: [f"P{i + 1}" for i in range(n)], schema.DATE_IL2_START: ["2020-01-01"] * n}
    base.update(columns)
    return pd.DataFrame(base)


def _month(m: float) -> str:
    return str((pd.Timestamp("2020-01-01") + pd.Timedelta(days=round(m * schema.DAYS_PER_MONTH))).date())


def test_patient_responding_at_month_10_is_a_non_responder_before_month_10():
    # P1 responds at month 10 and dies at 30; P2 (never responds) dies at 5; P3 dies at 12; P4 censored at 40
    months = [30, 5, 12, 40]
    df = _patients(bor=["PR", "PD", "SD", "PD"], date_first_response=[_month(10), None, None, None],
                   os_months=[round(m * schema.DAYS_PER_MONTH) / schema.DAYS_PER_MONTH for m in months],
                   os_event=[True, True, True, False])
    res = response_time_dependent(df, min_at_risk=1)
    rows = res.rows.rows
    p1 = rows[rows.patient_id == "P1"]
    ten = round(10 * schema.DAYS_PER_MONTH) / schema.DAYS_PER_MONTH
    assert p1[["tstart", "tstop", "event", "responded"]].values.tolist() == [[0, ten, 0, 0],
                                                                             [ten, p1.tstop.iloc[1], 1, 1]]
    # P2's death at month 5: all four patients are at risk, all as non-responders (P1 has not responded yet)
    no = res.simon_makuch[res.labels[0]].table.set_index("time")
    assert no.loc[rows.tstop[rows.patient_id == "P2"].iloc[0], "n_risk"] == 4
    assert res.simon_makuch.km[res.labels[1]].table.n_risk.iloc[0] == 1  # the responder curve holds P1 only
    # Mantel-Byar at the three deaths: t=5 (n=4, n1=0), t=12 (n=3, n1=1: P1 responded), t=30 (n=2, n1=1, P1 dies)
    assert res.mantel_byar.expected == pytest.approx(0 + 1 / 3 + 1 / 2)
    assert res.mantel_byar.observed == 1
    # the biased analysis by final status would put P1 among responders from time 0: 1 at risk at month 5, not 0
    biased = kaplan_meier(df.os_months, df.os_event, by=df.bor.eq("PR"))
    assert biased[True].at_risk([5.0])[0] == 1
    assert res.simon_makuch.km[res.labels[1]].at_risk([5.0])[0] == 0


def test_response_on_or_after_death_or_censoring_is_not_a_switch():
    # P1: first response dated on the day of death; P2: response dated after the end of PFS follow-up
    df = _patients(bor=["PR", "CR", "PD"], date_first_response=[_month(8), _month(9), None],
                   os_months=[round(8 * schema.DAYS_PER_MONTH) / schema.DAYS_PER_MONTH, 20.0, 4.0],
                   os_event=[True, False, True])
    cp = response_rows(df.assign(os_months=[round(8 * schema.DAYS_PER_MONTH) / schema.DAYS_PER_MONTH, 7.0, 4.0]))
    assert cp.rows.responded.tolist() == [0, 0, 0]
    assert len(cp.rows) == 3 and cp.n_late_status == 2 and cp.n_switched == 0
    assert "2 reached the status only at or after the end of follow-up" in cp.note
    assert response_rows(df).n_switched == 1  # P2 followed to month 20: its response at month 9 is a switch


def test_undated_responders_are_left_out_and_listed():
    df = _patients(bor=["PR", "CR", "SD", "PD"], date_first_response=[None, _month(2), None, None],
                   os_months=[10.0, 12.0, 14.0, 3.0], os_event=[True, False, True, True])
    res = response_time_dependent(df, min_at_risk=1)
    assert res.excluded.to_dict("records") == [{"patient_id": "P1", "reason": REASON_UNDATED}]
    assert res.rows.n == 3 and res.rows.n_input == 4
    assert "Left out: 1 CR/PR without a date of first response." in res.note
    assert res.to_frame().loc[0, "n_excluded"] == 1


def test_benefit_switches_at_the_sd_threshold_if_progression_free_then():
    # SD for 7 months (benefit, switches at 6); SD for 3 months (no benefit); SD without duration (left out);
    # PR at month 9 after 12 months of disease control (switches at 6, the earlier); SD benefit but dead at 5
    df = _patients(bor=["SD", "SD", "SD", "PR", "SD"],
                   sd_duration_months=[7.0, 3.0, None, 12.0, 8.0],
                   date_first_response=[None, None, None, _month(9), None],
                   os_months=[20.0, 15.0, 10.0, 30.0, 5.0], os_event=[True, True, False, True, True])
    months, reason = switch_months(df, "benefit", cb_sd_months=6)
    assert months[[0, 3]].tolist() == [6.0, 6.0] and np.isinf(months[1]) and np.isnan(months[2])
    assert reason[2] == REASON_SD_NO_DURATION
    cp = response_rows(df, grouping="benefit", cb_sd_months=6)
    assert cp.excluded.patient_id.tolist() == ["P3"]
    p5 = cp.rows[cp.rows.patient_id == "P5"]
    assert p5.responded.tolist() == [0]  # dead at month 5, before the 6 months the benefit needs
    by_response = switch_months(df, "response")[0]
    assert by_response[3] == pytest.approx(round(9 * schema.DAYS_PER_MONTH) / schema.DAYS_PER_MONTH)
    assert np.isinf(by_response[[0, 1, 2, 4]]).all()


def test_benefit_with_a_zero_month_threshold_switches_when_sd_can_be_called_not_at_start():
    # any SD counts, but SD is known only after the RECIST SD minimum (6 weeks): no status from IL-2 start,
    # which would be the biased grouping by final status again
    df = _patients(bor=["SD", "PR", "PD"], sd_duration_months=[3.0, 8.0, None],
                   date_first_response=[None, _month(4), None], os_months=[10.0, 12.0, 1.0],
                   os_event=[True, True, True])
    six_weeks = 6 * 7 / schema.DAYS_PER_MONTH
    months, _ = switch_months(df, "benefit", cb_sd_months=0)
    assert months[0] == pytest.approx(six_weeks) and months[1] == pytest.approx(six_weeks) and np.isinf(months[2])
    cp = response_rows(df, grouping="benefit", cb_sd_months=0)
    assert cp.n_from_start == 0 and cp.n_switched == 2
    assert cp.rows.groupby("patient_id").responded.first().tolist() == [0, 0, 0]


def test_results_do_not_depend_on_row_order_or_iteration_stopping():
    # the test is closed-form; the Cox fit runs to full convergence: the same numbers from shuffled rows
    rows = HEART_ROWS
    order = np.random.default_rng(7).permutation(rows[0].size)
    shuffled = tuple(a[order] for a in rows)
    assert mantel_byar(*shuffled).statistic == pytest.approx(mantel_byar(*rows).statistic, rel=1e-12)
    a, b = time_dependent_cox(*rows), time_dependent_cox(*shuffled)
    assert a.coef == pytest.approx(b.coef, rel=1e-10) and a.se == pytest.approx(b.se, rel=1e-10)
    assert a.iterations < 60


def test_no_events_among_responders_gives_no_hazard_ratio():
    # responders never die: the coefficient diverges; the HR is not reported, the Mantel-Byar test still is
    rows = ([0, 0, 2, 0, 3, 0], [2, 5, 9, 3, 10, 7], [0, 1, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0])
    res = time_dependent_cox(*rows)
    assert not res.reportable and np.isnan(res.hr) and "not estimable" in res.reason
    assert np.isfinite(mantel_byar(*rows).statistic)


def test_invalid_rows_are_refused():
    with pytest.raises(SurvivalInputError, match="tstart must be earlier"):
        mantel_byar([0, 3], [2, 3], [1, 0], [0, 1])
    with pytest.raises(SurvivalInputError, match="responded must be 0/1"):
        mantel_byar([0, 0], [2, 3], [1, 0], [0, 2])
    with pytest.raises(SurvivalInputError, match="no follow-up"):
        split_rows([0.0, 3.0], [1, 0], [np.inf, 1.0])


def test_sample_summary_and_frames():
    res = response_time_dependent(sample_data())
    ref = R["cohort"]["response"]
    frame = res.to_frame()
    assert frame.loc[0, "n"] == 107 and frame.loc[0, "n_rows"] == ref["n_rows"]
    close(frame.loc[0, "mantel_byar_chisq"], ref["mantel_byar"]["chisq"])
    close(frame.loc[0, "hr"], ref["cox_efron"]["hr"])
    sm = res.simon_makuch.to_frame()
    assert sm.group.tolist() == list(res.labels) and sm.starts_at.iloc[0] == 0
    assert set(res.simon_makuch.estimates().group) == set(res.labels)
    # every switch time is listed for status 0 and none is counted as a true censoring by the figure
    assert res.simon_makuch.switches[res.labels[0]].size == res.rows.n_switched


# ---------------------------------------------------------------------------------------- the figure
def test_simon_makuch_figure_is_labelled_descriptive_and_starts_the_responder_curve_late():
    import plotly.graph_objects as go

    from il2lib.figures.simon_makuch import simon_makuch_figure

    res = response_time_dependent(sample_data())
    fig = simon_makuch_figure(res)
    assert isinstance(fig, go.Figure)
    subtitle = fig.layout.title.subtitle.text.replace("<br>", " ")
    assert "descriptive display; test: Mantel-Byar" in subtitle and "p &lt; 0.001" in subtitle
    no, yes = res.labels
    curve = {t.name: t for t in fig.data}
    assert curve[no].x[0] == 0 and curve[yes].x[0] == pytest.approx(res.simon_makuch.start_time)
    assert curve[f"{yes} lower CI"].x[0] == pytest.approx(res.simon_makuch.start_time)
    # risk table at 0: everyone is at risk as not (yet) responded, nobody as responded
    rows = {t.name: t for t in fig.data if t.name.endswith(" at risk")}
    assert (rows[f"{no} at risk"].text[0], rows[f"{yes} at risk"].text[0]) == ("107", "0")
    # censor ticks are true censorings: no tick where a patient only changed status
    ticks = curve[f"{no} censored"].x
    switches = res.simon_makuch.switches[no]
    rows_ = res.rows.rows
    true_censor = rows_[(rows_.responded == 0) & (rows_.event == 0) & ~rows_.tstop.isin(switches)].tstop
    assert sorted(ticks) == sorted(true_censor.unique())


def test_simon_makuch_figure_under_small_cell_protection_has_no_ticks_and_masks_counts():
    from il2lib.figures.simon_makuch import simon_makuch_figure

    res = response_time_dependent(sample_data())
    fig = simon_makuch_figure(res, small_cell_threshold=5, presentation=True)
    assert not [t for t in fig.data if t.name.endswith("censored")]
    texts = [x for t in fig.data if t.name.endswith(" at risk") for x in t.text]
    assert "<5" in texts and not any(x in texts for x in ("1", "2", "3", "4"))


def test_figure_without_a_responder_curve_says_why():
    from il2lib.figures.simon_makuch import simon_makuch_figure

    res = simon_makuch(*HEART_ROWS, labels=("no", "yes"), min_at_risk=1000)
    assert res.start_time is None and list(res) == ["no"]
    fig = simon_makuch_figure(res)
    assert "No 'yes' curve: fewer than 1000 patients" in fig.layout.title.subtitle.text.replace("<br>", " ")
