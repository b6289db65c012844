"""Statistics that can run long stop at a work limit counted in deterministic units, never in seconds.

The heavy cases run in a child process (tests/support/bounded_child.py: address-space limit, hang guard);
each test asserts the refusal or the fallback and the work counted, never how long anything took.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses import biomarkers as biomarkers_module, response as response_module, table1 as table1_module
from il2lib.analyses.biomarkers import biomarker_comparison, biomarker_work
from il2lib.analyses.response import best_response_table, response_rates, response_work
from il2lib.analyses.table1 import table1, table1_work
from il2lib.errors import WorkLimitExceeded
from il2lib.survival import (_counting, _coxfit, competing, cox as cox_module, cox_diagnostics, kaplan_meier,
                             logrank_test, pairwise)
from il2lib.survival.competing import cumulative_incidence, gray_test
from il2lib.survival.cox import cox_ph
from il2lib.survival.cox_diagnostics import concordance_counts, concordance_work
from il2lib.survival.multivariable import multivariable_cox
from il2lib.survival.pairwise import pairwise_logrank
from il2lib.survival.time_origin import kaplan_meier_entry
from support.bounded_child import run_bounded

TOO_LONG = "This took too long for the current selection"


def refusal(exc: WorkLimitExceeded) -> dict:
    return {"message": str(exc), "work": exc.work, "needed": exc.needed, "limit": exc.limit}


def distinct_times(n: int, seed: int = 7) -> np.ndarray:
    """n distinct times on no counting grid, shuffled."""
    return np.random.default_rng(seed).permutation(np.arange(1, n + 1) * 0.7)


# ----------------------------------------------------------------------------- heavy cases, in a child
def _cox_many_coefficients(n: int, levels: int):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"time": rng.exponential(10, n), "event": (rng.random(n) < 0.7).astype(float),
                       "site": pd.Categorical(rng.integers(0, levels, n).astype(str))})
    try:
        cox_ph(df, "time", "event", ["site"])
    except WorkLimitExceeded as exc:
        return refusal(exc)
    return None


def _competing_on_distinct_times(n: int):
    rng = np.random.default_rng(2)
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.5, 0.2])
    group = rng.integers(0, 3, n)
    result = cumulative_incidence(distinct_times(n), status, group)
    try:
        gray_test(distinct_times(n), status, group)
    except WorkLimitExceeded as exc:
        return {"gray": result.gray, "gray_note": result.gray_note, "curves": sorted(result.cif),
                "cif_rows": len(result.cif[0].table), **refusal(exc)}
    return None


def _pairwise_many_groups(n: int, groups: int):
    rng = np.random.default_rng(3)
    try:
        pairwise_logrank(rng.exponential(10, n), rng.random(n) < 0.7, rng.integers(0, groups, n))
    except WorkLimitExceeded as exc:
        return refusal(exc)
    return None


def _logrank_many_groups_and_times(n: int, groups: int):
    rng = np.random.default_rng(4)
    try:
        logrank_test(distinct_times(n), rng.random(n) < 0.7, rng.integers(0, groups, n))
    except WorkLimitExceeded as exc:
        return refusal(exc)
    return None


def _analyses_of_a_large_selection(n: int) -> dict:
    from support.apptest import sample_data

    sample = sample_data()
    df = sample.take(np.arange(n) % len(sample))
    df.index = pd.RangeIndex(n)  # no second copy of the frame
    out = {}
    for name, call in (("table1", lambda: table1(df, schema.DISEASE)),
                       ("response", lambda: response_rates(df, schema.DISEASE)),
                       ("biomarkers", lambda: biomarker_comparison(df))):
        try:
            call()
        except WorkLimitExceeded as exc:
            out[name] = refusal(exc)
    return out


def test_table1_response_and_biomarkers_of_a_large_selection_are_refused_before_counting():
    n = 600_000
    outcome = run_bounded(_analyses_of_a_large_selection, n)
    assert outcome.error is None and not outcome.hung, outcome
    got = outcome.value
    assert set(got) == {"table1", "response", "biomarkers"}, got  # none ran
    assert all(r["work"] == 0 and r["message"].startswith(TOO_LONG) for r in got.values())
    assert got["table1"]["limit"] == table1_module.TABLE1_WORK_LIMIT < got["table1"]["needed"]
    assert "group by a column with fewer values" in got["table1"]["message"]
    assert got["response"]["needed"] == response_work(n, 2)
    assert got["response"]["limit"] == response_module.RESPONSE_WORK_LIMIT
    assert got["biomarkers"]["limit"] == biomarkers_module.BIOMARKER_WORK_LIMIT
    assert got["biomarkers"]["needed"] % n == 0 and got["biomarkers"]["needed"] > got["biomarkers"]["limit"]


def test_cox_with_many_coefficients_on_a_large_selection_is_refused_before_its_first_evaluation():
    n, levels = 200_000, 30
    outcome = run_bounded(_cox_many_coefficients, n, levels)
    assert outcome.error is None and not outcome.hung, outcome
    assert outcome.value is not None, "the fit ran instead of being refused"
    assert outcome.value["work"] == 0
    assert outcome.value["needed"] == n * levels ** 2  # rows x (1 + 29 coefficients)^2
    assert outcome.value["limit"] == _coxfit.COX_EVALUATION_LIMIT
    assert outcome.value["message"].startswith(TOO_LONG) and "narrow the filters" in outcome.value["message"]


def test_gray_test_on_a_million_distinct_times_is_refused_and_the_curves_stay():
    n = 1_000_000
    outcome = run_bounded(_competing_on_distinct_times, n)
    assert outcome.error is None and not outcome.hung, outcome
    value = outcome.value
    assert value is not None, "Gray's test ran instead of being refused"
    assert value["gray"] is None and value["gray_note"].startswith("Gray's test not computed: " + TOO_LONG)
    assert value["curves"] == [0, 1, 2] and value["cif_rows"] > 0
    assert value["work"] == 0 and value["needed"] == n * (competing.GRAY_STEP_BASE + 3 ** 2)
    assert value["limit"] == competing.GRAY_WORK_LIMIT


def test_pairwise_logrank_across_many_groups_is_refused_before_the_first_pair():
    n, groups = 200_000, 200
    outcome = run_bounded(_pairwise_many_groups, n, groups)
    assert outcome.error is None and not outcome.hung, outcome
    assert outcome.value is not None, "the pairs ran instead of being refused"
    assert outcome.value["work"] == 0 and outcome.value["needed"] == groups * (groups - 1) // 2 * n
    assert "compare fewer groups" in outcome.value["message"]


def test_logrank_across_many_groups_and_distinct_times_is_refused_before_its_table():
    n, groups = 1_000_000, 100
    outcome = run_bounded(_logrank_many_groups_and_times, n, groups)
    assert outcome.error is None and not outcome.hung, outcome  # not a MemoryError
    assert outcome.value is not None, "the table was built instead of being refused"
    assert outcome.value["needed"] == groups * n and outcome.value["limit"] == _counting.DENSE_CELL_LIMIT


# ----------------------------------------------------------------------------- the counters, in process
@pytest.fixture(scope="module")
def sample():
    from il2lib import schema
    from support.apptest import sample_data

    df = sample_data()
    out = pd.DataFrame({"time": df[schema.OS_MONTHS].astype(float), "event": df[schema.OS_EVENT].astype(float),
                        "line": df[schema.LINE_OF_IL2], "age": df[schema.AGE].astype(float)}).dropna()
    return out.assign(line=out["line"].astype(int).clip(upper=3).astype(str))  # 1, 2, 3 (3 = 3rd or later)


def risk_sets_of(sample: pd.DataFrame):
    x = np.column_stack([sample["age"].to_numpy(), (sample["line"] == sample["line"].iloc[0]).to_numpy(float)])
    return _coxfit.risk_sets(x - x.mean(axis=0), sample["time"].to_numpy(), sample["event"].to_numpy(bool),
                             np.zeros(len(sample), dtype=np.int64), "efron")


def test_cox_fit_counts_rows_times_squared_terms_for_every_evaluation(sample):
    rs = risk_sets_of(sample)
    fit = _coxfit.newton(rs)
    cost = len(sample) * (1 + 2) ** 2
    assert fit.work % cost == 0 and fit.work >= (fit.iterations + 2) * cost  # beta = 0, each step, final


def test_cox_fit_stops_at_its_work_limit_and_the_same_limit_gives_the_same_decision(sample):
    rs = risk_sets_of(sample)
    full = _coxfit.newton(rs)
    exact = _coxfit.newton(rs, work_limit=full.work)
    assert np.array_equal(exact.beta, full.beta) and exact.work == full.work
    for _ in range(2):  # deterministic: refused the same way every time
        with pytest.raises(WorkLimitExceeded) as caught:
            _coxfit.newton(rs, work_limit=full.work - 1)
        assert caught.value.work <= full.work - 1 < caught.value.needed
        assert caught.value.needed == full.work  # stopped before the last evaluation


def test_concordance_past_its_work_limit_refuses_the_cox_model_before_the_fit(sample, monkeypatch):
    n = len(sample)
    args = (sample["time"], sample["event"], sample["age"], np.zeros(n))
    assert concordance_counts(*args, work_limit=concordance_work(n))["concordance"] > 0
    with pytest.raises(WorkLimitExceeded) as caught:
        concordance_counts(*args, work_limit=concordance_work(n) - 1)
    assert caught.value.work == 0 and caught.value.needed == n * n.bit_length()

    def no_fit(*_args, **_kwargs):
        raise AssertionError("the fit ran although the concordance was refused")

    monkeypatch.setattr(cox_diagnostics, "CONCORDANCE_WORK_LIMIT", concordance_work(n) - 1)
    monkeypatch.setattr(cox_module, "newton", no_fit)
    with pytest.raises(WorkLimitExceeded, match="concordance"):
        cox_ph(sample, "time", "event", ["line"])


def test_gray_test_counts_distinct_times_and_keeps_the_cif_when_refused(sample, monkeypatch):
    rng = np.random.default_rng(5)
    status = np.where(sample["event"] == 1, rng.choice([1, 2], len(sample)), 0)
    steps = np.unique(sample["time"]).size
    groups = sample["line"].nunique()
    needed = steps * (competing.GRAY_STEP_BASE + groups ** 2)
    full = gray_test(sample["time"], status, sample["line"], work_limit=needed)
    with pytest.raises(WorkLimitExceeded) as caught:
        gray_test(sample["time"], status, sample["line"], work_limit=needed - 1)
    assert caught.value.needed == needed and caught.value.work == 0
    reference = cumulative_incidence(sample["time"], status, sample["line"])
    monkeypatch.setattr(competing, "GRAY_WORK_LIMIT", needed - 1)
    refused = cumulative_incidence(sample["time"], status, sample["line"])
    assert reference.gray.statistic == full.statistic and refused.gray is None
    assert refused.gray_note.startswith("Gray's test not computed: " + TOO_LONG)
    for group, result in reference.cif.items():
        pd.testing.assert_frame_equal(refused.cif[group].table, result.table)


def test_pairwise_logrank_counts_pairs_times_rows(sample):
    n, pairs = len(sample), sample["line"].nunique() * (sample["line"].nunique() - 1) // 2
    assert pairs >= 3
    pairwise_logrank(sample["time"], sample["event"], sample["line"], work_limit=pairs * n)
    with pytest.raises(WorkLimitExceeded) as caught:
        pairwise_logrank(sample["time"], sample["event"], sample["line"], work_limit=pairs * n - 1)
    assert caught.value.needed == pairs * n


def test_count_tables_of_several_groups_stop_at_the_cell_limit_and_one_group_never_does(sample, monkeypatch):
    times = np.unique(sample["time"]).size
    groups = sample["line"].nunique()
    monkeypatch.setattr(_counting, "DENSE_CELL_LIMIT", groups * times - 1)
    with pytest.raises(WorkLimitExceeded) as caught:
        logrank_test(sample["time"], sample["event"], sample["line"])
    assert caught.value.needed == groups * times
    with pytest.raises(WorkLimitExceeded):
        kaplan_meier_entry(np.zeros(len(sample)), sample["time"], sample["event"], by=sample["line"])
    monkeypatch.setattr(_counting, "DENSE_CELL_LIMIT", 0)
    assert kaplan_meier(sample["time"], sample["event"]).n == len(sample)


def test_multivariable_cox_past_its_work_limit_returns_the_message(monkeypatch):
    from support.apptest import sample_data

    monkeypatch.setattr(_coxfit, "COX_WORK_LIMIT", 1)
    model = multivariable_cox(sample_data(), "os", ["age", "sex"])
    assert not model.converged and model.message.startswith(TOO_LONG)
    assert "narrow the filters" in model.message and "Fewer covariates" in model.message


def _table1_work_by_variable(df: pd.DataFrame, by: str) -> list[int]:
    from il2lib.analyses._grouping import group_labels, level_labels, level_order

    labels = group_labels(df, by)
    data, groups = df[labels.notna().to_numpy()], level_order(by, labels.dropna())
    work = []
    for v in [v for v in table1_module.DEFAULT_VARIABLES if v in df.columns and v != by]:
        categorical = table1_module.infer_type(df, v) == "categorical"
        levels = len(level_order(v, level_labels(data, v))) if categorical else None
        work.append(table1_work(len(data), len(groups) + 1, len(groups), levels))
    return work


def _no_counting(*_args, **_kwargs):
    raise AssertionError("counting started although the work was over the limit")


def test_table1_counts_each_variable_before_summarising_it_and_stops_at_its_limit():
    from support.apptest import sample_data

    df = sample_data()
    per_variable = _table1_work_by_variable(df, schema.DISEASE)
    total = sum(per_variable)
    assert table1(df, schema.DISEASE, work_limit=total).n_used == len(df)
    with pytest.raises(WorkLimitExceeded) as caught:
        table1(df, schema.DISEASE, work_limit=total - 1)
    assert caught.value.work == total - per_variable[-1] and caught.value.needed == total
    assert str(caught.value).startswith(TOO_LONG) and "group by a column with fewer values" in str(caught.value)


def test_table1_needing_more_than_its_limit_is_refused_before_any_level_is_counted(monkeypatch):
    from support.apptest import sample_data

    df = sample_data()
    least = sum(table1_work(len(df), 3, 2, None if table1_module.infer_type(df, v) == "continuous" else 0)
                for v in table1_module.DEFAULT_VARIABLES if v in df.columns and v != schema.DISEASE)
    monkeypatch.setattr(table1_module, "_level_codes", _no_counting)
    with pytest.raises(WorkLimitExceeded) as caught:
        table1(df, schema.DISEASE, work_limit=least - 1)
    assert caught.value.work == 0 and caught.value.needed == least


def test_response_tables_count_patients_and_groups_and_are_refused_before_counting(monkeypatch):
    from support.apptest import sample_data

    df = sample_data()
    groups = df[schema.DISEASE].nunique()
    needed = response_work(len(df), groups)
    passes, group_cost = response_module.RESPONSE_RULE_PASSES, response_module.RESPONSE_GROUP_COST
    assert needed == len(df) * (groups + passes) + groups * group_cost
    response_rates(df, schema.DISEASE, work_limit=needed)
    best_response_table(df, schema.DISEASE, work_limit=needed)
    monkeypatch.setattr(response_module, "patient_rules", _no_counting)
    for call in (response_rates, best_response_table):
        with pytest.raises(WorkLimitExceeded) as caught:
            call(df, schema.DISEASE, work_limit=needed - 1)
        assert caught.value.work == 0 and caught.value.needed == needed
        assert "compare a column with fewer values" in str(caught.value)


def test_biomarker_comparison_counts_patients_and_variables_and_is_refused_before_computing(monkeypatch):
    from support.apptest import sample_data

    df = sample_data()
    variables = biomarker_comparison(df).rows["variable"].nunique()
    needed = biomarker_work(len(df), variables)
    assert needed == len(df) * (variables + biomarkers_module.BIOMARKER_BASE_PASSES)
    biomarker_comparison(df, work_limit=needed)
    monkeypatch.setattr(biomarkers_module, "clinical_benefit", _no_counting)
    with pytest.raises(WorkLimitExceeded) as caught:
        biomarker_comparison(df, work_limit=needed - 1)
    assert caught.value.work == 0 and caught.value.needed == needed


def test_work_limit_refusal_survives_pickling():
    import pickle

    exc = WorkLimitExceeded("the Cox model fit", 10, 12, 11)
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc) and (again.work, again.needed, again.limit) == (10, 12, 11)


# ----------------------------------------------------------------------------- the page
@pytest.fixture
def fresh_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()  # no refused result stays cached for other tests
    st.cache_resource.clear()


def test_survival_page_says_a_refused_statistic_took_too_long_and_shows_the_rest(fresh_caches, monkeypatch):
    from support.apptest import open_app, tables, texts

    monkeypatch.setattr(_coxfit, "COX_WORK_LIMIT", 1)
    monkeypatch.setattr(pairwise, "PAIRWISE_WORK_LIMIT", 1)
    monkeypatch.setattr(competing, "GRAY_WORK_LIMIT", 1)
    at = open_app({"km_by": "line_of_il2"}, page="pages/3_Survival.py")
    infos = texts(at, "info")
    assert any(i.startswith("Cox model not computed: " + TOO_LONG) and "narrow the filters" in i for i in infos), infos
    assert any(i.startswith(TOO_LONG) and "log-rank tests for 3 pairs" in i for i in infos), infos
    assert any("Median, months (95% CI)" in t.columns for t in tables(at))  # the curves and medians stay
    assert at.get("plotly_chart")
    open_tab(at, "Competing risks")
    assert any(i.startswith("Gray's test not computed: " + TOO_LONG) for i in texts(at, "info"))
    assert any("CIF, % (95% CI)" in t.columns for t in tables(at))  # the cumulative incidence stays
    open_tab(at, "Multivariable Cox")
    assert any(w.startswith(TOO_LONG) and "Fewer covariates" in w for w in texts(at, "warning"))
    assert not at.exception


def test_cohort_response_and_biomarker_pages_say_a_refused_analysis_took_too_long(fresh_caches, monkeypatch):
    from support.apptest import open_app, texts

    monkeypatch.setattr(table1_module, "TABLE1_WORK_LIMIT", 1)
    monkeypatch.setattr(response_module, "RESPONSE_WORK_LIMIT", 1)
    monkeypatch.setattr(biomarkers_module, "BIOMARKER_WORK_LIMIT", 1)
    for page, shown in (("pages/1_Cohort.py", "Table 1 cannot be computed: "),
                        ("pages/2_Response.py", "Response rates not available: "),
                        ("pages/4_Biomarkers.py", "Biomarker comparison not available: ")):
        at = open_app(page=page)
        infos = texts(at, "info")
        assert any(i.startswith(shown + TOO_LONG) and "narrow the filters" in i for i in infos), (page, infos)
        assert not at.exception


def open_tab(at, tab: str) -> None:
    from support.apptest import rerun

    at.session_state["km_more"], at.session_state["km_tab"] = True, tab
    at.query_params["km_more"], at.query_params["km_tab"] = "true", tab  # both widgets are bound to the URL
    rerun(at)
