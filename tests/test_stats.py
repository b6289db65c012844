"""il2lib.stats against R 4.2.2 (tests/reference/tests.json, extra.json); tolerance 1e-9 absolute.

R commands: binom.test(x, n)$conf.int; prop.test(x, n, correct = FALSE)$conf.int; fisher.test(m)
(odds ratio / CI from the *_hp fields, the same equations solved to 1e-14); fisher.test on r x c;
chisq.test(m, correct = FALSE); wilcox.test(x, y, exact = FALSE, correct = TRUE/FALSE); p.adjust.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from il2lib import stats as S
from il2lib.errors import InsufficientDataError

REF = Path(__file__).parent / "reference"
TESTS = json.loads((REF / "tests.json").read_text())
EXTRA = json.loads((REF / "extra.json").read_text())
TOL = 1e-9


@pytest.mark.parametrize("case", TESTS["binom_test"], ids=lambda c: f"{c['x']}/{c['n']}")
def test_clopper_pearson_matches_binom_test(case):
    ci = S.proportion_ci(case["x"], case["n"], "exact")
    assert ci.estimate == pytest.approx(case["estimate"], abs=TOL)
    assert ci.lower == pytest.approx(case["ci_lower"], abs=TOL)
    assert ci.upper == pytest.approx(case["ci_upper"], abs=TOL)
    assert ci.method_label == "Clopper-Pearson exact"


@pytest.mark.parametrize("case", EXTRA["wilson"], ids=lambda c: f"{c['x']}/{c['n']}")
def test_wilson_matches_prop_test(case):
    ci = S.proportion_ci(case["x"], case["n"], "wilson")
    assert ci.lower == pytest.approx(case["lower"], abs=TOL)
    assert ci.upper == pytest.approx(case["upper"], abs=TOL)


def test_proportion_edges_and_errors():
    assert S.proportion_ci(0, 10).lower == 0.0
    assert S.proportion_ci(10, 10).upper == 1.0
    with pytest.raises(InsufficientDataError):
        S.proportion_ci(0, 0)
    with pytest.raises(ValueError):
        S.proportion_ci(5, 4)
    with pytest.raises(ValueError):
        S.proportion_ci(1, 4, method="wald")


@pytest.mark.parametrize("case", TESTS["fisher_test"], ids=lambda c: str(c["table"]))
def test_fisher_2x2_matches_r(case):
    res = S.fisher_exact_2x2(case["table"])
    assert res.pvalue == pytest.approx(case["p_two_sided"], abs=TOL)
    assert S.fisher_exact_2x2(case["table"], "less").pvalue == pytest.approx(case["p_less"], abs=TOL)
    assert S.fisher_exact_2x2(case["table"], "greater").pvalue == pytest.approx(case["p_greater"], abs=TOL)
    assert res.sample_odds_ratio == pytest.approx(case["odds_ratio_sample"], rel=TOL)
    for got, want in [(res.odds_ratio, case["odds_ratio_conditional_mle_hp"]),
                      (res.ci_lower, case["ci_lower_hp"]), (res.ci_upper, case["ci_upper_hp"])]:
        assert got == pytest.approx(want, rel=TOL, abs=TOL)


def test_fisher_2x2_boundary_odds_ratio():
    res = S.fisher_exact_2x2([[5, 0], [0, 5]])
    assert res.odds_ratio == math.inf and res.ci_upper == math.inf and res.ci_lower > 0


def test_fisher_published_autoimmune_example():
    # docs/domain.md: melanoma autoimmune phenomena CB 4/9 vs no-CB 2/21 -> two-sided p = 0.0492
    assert S.fisher_exact_2x2([[4, 5], [2, 19]]).pvalue == pytest.approx(0.0492, abs=5e-5)


@pytest.mark.parametrize("case", EXTRA["fisher_rxc"], ids=lambda c: str(c["table"]))
def test_fisher_freeman_halton_and_chisq_match_r(case):
    exact = S.fisher_freeman_halton(case["table"])
    assert exact.test == "fisher_freeman_halton"
    assert exact.pvalue == pytest.approx(case["fisher_p"], abs=TOL)
    chi = S.chi_square_test(case["table"])
    assert chi.statistic == pytest.approx(case["chisq"], abs=TOL)
    assert chi.df == case["chisq_df"]
    assert chi.pvalue == pytest.approx(case["chisq_p"], abs=TOL)
    assert S.expected_counts(case["table"]).min() == pytest.approx(case["expected_min"], abs=TOL)


def test_ffh_is_deterministic_and_agrees_with_2x2_fisher():
    tab = [[4, 5, 9], [2, 8, 21]]
    assert S.fisher_freeman_halton(tab).pvalue == S.fisher_freeman_halton(tab).pvalue
    for case in TESTS["fisher_test"]:
        assert S.fisher_freeman_halton(case["table"]).pvalue == pytest.approx(case["p_two_sided"], abs=TOL)
    # transposing a table does not change the exact p-value
    assert S.fisher_freeman_halton(np.array(tab).T).pvalue == pytest.approx(EXTRA["fisher_rxc"][0]["fisher_p"], abs=TOL)


def test_ffh_falls_back_to_chisq_with_a_note_only_when_even_monte_carlo_is_too_large():
    tab = [[3, 1, 6], [2, 7, 2], [1, 4, 9]]
    res = S.fisher_freeman_halton(tab, work_limit=10, mc_cell_limit=0)
    assert res.test == "chi_square"
    assert "too many possible tables" in res.note.lower() and "chi-square used instead" in res.note
    assert res.pvalue == pytest.approx(EXTRA["fisher_rxc"][1]["chisq_p"], abs=TOL)


def _brute_force_ffh(tab):
    """Independent reference: list every table with the margins (small tables only), R's rule."""
    import itertools

    from scipy.special import gammaln
    tab = np.asarray(tab)
    rows, cols = tab.sum(axis=1), tab.sum(axis=0)
    log_p = lambda t: (gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(tab.sum() + 1)  # noqa: E731
                       - gammaln(np.asarray(t) + 1).sum())
    obs = log_p(tab)
    total = 0.0
    r, c = tab.shape
    ranges = [range(min(rows[i], cols[j]) + 1) for i in range(r - 1) for j in range(c - 1)]
    for free in itertools.product(*ranges):
        t = np.zeros((r, c), dtype=int)
        t[:-1, :-1] = np.reshape(free, (r - 1, c - 1))
        t[:-1, -1] = rows[:-1] - t[:-1, :-1].sum(axis=1)
        t[-1, :] = cols - t[:-1, :].sum(axis=0)
        if (t < 0).any():
            continue
        lp = log_p(t)
        if lp <= obs + math.log(1 + 1e-7):
            total += math.exp(lp)
    return total


@pytest.mark.parametrize("seed", range(6))
def test_ffh_network_algorithm_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = [(2, 3), (3, 3), (2, 4), (3, 2), (2, 5), (3, 4)][seed]
    tab = rng.integers(0, 5, size=shape)
    tab[0, 0] += 1
    assert S.fisher_freeman_halton(tab).pvalue == pytest.approx(_brute_force_ffh(tab), abs=TOL)


def test_ffh_exact_on_registry_sized_table_is_transpose_invariant():
    # line of IL-2 (3 groups) x best response (5 levels), n = 107: exact within the work limit
    tab = [[3, 5, 11, 15, 2], [4, 4, 7, 22, 3], [2, 3, 5, 20, 1]]
    res = S.fisher_freeman_halton(tab)
    assert res.test == "fisher_freeman_halton"
    assert 0 < res.pvalue < 1
    assert S.fisher_freeman_halton(np.array(tab).T).pvalue == pytest.approx(res.pvalue, abs=TOL)


@pytest.mark.parametrize("case", TESTS["chisq_test"], ids=["2x3", "2x2"])
def test_chisq_without_correction(case):
    res = S.chi_square_test(case["table"])
    assert res.statistic == pytest.approx(case["correct_FALSE"]["statistic"], abs=TOL)
    assert res.pvalue == pytest.approx(case["correct_FALSE"]["p_value"], abs=TOL)


def test_selection_rule_2x2_is_always_fisher():
    res = S.compare_proportions([[40, 60], [50, 50]])  # all expected >= 5, still Fisher
    assert res.test == "fisher_exact" and "2x2" in res.note


def test_selection_rule_small_expected_uses_exact_rxc():
    res = S.compare_proportions([[4, 5, 9], [2, 8, 21]])  # min expected 2.20
    assert res.test == "fisher_freeman_halton"
    assert res.pvalue == pytest.approx(EXTRA["fisher_rxc"][0]["fisher_p"], abs=TOL)
    assert "Cochran" in res.note


def test_selection_rule_large_expected_uses_chisq():
    case = TESTS["chisq_test"][0]  # min expected 7.3
    res = S.compare_proportions(case["table"])
    assert res.test == "chi_square"
    assert res.pvalue == pytest.approx(case["correct_FALSE"]["p_value"], abs=TOL)
    assert res.label.startswith("Pearson chi-square")


def test_selection_rule_drops_empty_rows_and_needs_two_levels():
    # an empty group row is dropped, leaving a 2x2 -> Fisher
    assert S.compare_proportions([[4, 5], [0, 0], [2, 19]]).test == "fisher_exact"
    with pytest.raises(InsufficientDataError):
        S.compare_proportions([[0, 5], [0, 7]])


@pytest.mark.parametrize("i", [0, 1])
def test_rank_sum_matches_wilcox_test(i):
    case = TESTS["wilcox_test"][i]
    with_cc = S.rank_sum_test(case["x"], case["y"], "asymptotic", correct=True)
    without = S.rank_sum_test(case["x"], case["y"], "asymptotic", correct=False)
    assert with_cc.statistic == case["exact_FALSE_correct_TRUE"]["statistic_W"]
    assert with_cc.pvalue == pytest.approx(case["exact_FALSE_correct_TRUE"]["p_value"], abs=TOL)
    assert without.pvalue == pytest.approx(case["exact_FALSE_correct_FALSE"]["p_value"], abs=TOL)
    # R's default with ties: normal approximation with continuity correction
    assert S.rank_sum_test(case["x"], case["y"]).pvalue == pytest.approx(with_cc.pvalue, abs=TOL)


def test_rank_sum_exact_without_ties():
    # no ties, n < 50: exact; x all above y -> p = 2 / C(8, 4) = 2/70
    res = S.rank_sum_test([5, 6, 7, 8], [1, 2, 3, 4])
    assert res.pvalue == pytest.approx(2 / 70, abs=TOL) and res.note == "exact null distribution"
    assert res.statistic == 16


def test_kruskal_and_compare_continuous():
    res = S.compare_continuous([[1, 2, 3], [4, 5, 6], [7, 8, 9.5]])
    assert res.test == "kruskal_wallis" and res.df == 2
    # H = 12/(N(N+1)) sum R^2/n - 3(N+1) = 12/90*(36+225+576)/3 - 30 = 7.2
    assert res.statistic == pytest.approx(7.2, abs=TOL)
    assert S.compare_continuous([[1, 2, np.nan], [3, 4], []]).test == "wilcoxon_rank_sum"
    with pytest.raises(InsufficientDataError):
        S.compare_continuous([[1, 2], []])


def test_format_p():
    assert S.format_p(0.0004) == "<0.001"
    assert S.format_p(0.0492) == "0.049"
    assert S.format_p(0.015) == "0.015"
    assert S.format_p(0.2597) == "0.26"
    assert S.format_p(1.0) == ">0.99"
    assert S.format_p(float("nan")) == "—"


@pytest.mark.parametrize("method", ["holm", "BH", "bonferroni"])
def test_p_adjust_matches_r(method):
    ref = EXTRA["p_adjust"]
    np.testing.assert_allclose(S.p_adjust(ref["p"], method), ref[method], atol=TOL)
    shuffled = np.array(ref["p"])[::-1]
    np.testing.assert_allclose(S.p_adjust(shuffled, method), np.array(ref[method])[::-1], atol=TOL)


# R 4.2.2, tests/reference/scripts/make_analyses_reference.R: fisher.test(m, workspace = 2e8),
# wilcox.test(x, y) (exact, no ties), kruskal.test(list(a, b, c)).
ANALYSES = json.loads((REF / "analyses.json").read_text())


@pytest.mark.parametrize("case", ANALYSES["fisher_rxc"], ids=lambda c: c["name"])
def test_ffh_matches_r_on_registry_sized_tables(case):
    res = S.fisher_freeman_halton(case["table"])
    assert res.test == "fisher_freeman_halton"
    assert res.pvalue == pytest.approx(case["fisher_p"], abs=TOL)


def test_exact_rank_sum_and_kruskal_match_r():
    w = ANALYSES["wilcox_exact"]
    res = S.rank_sum_test(w["x"], w["y"])
    assert res.note == "exact null distribution"
    assert res.statistic == w["statistic_W"]
    assert res.pvalue == pytest.approx(w["p_value"], abs=TOL)
    k = ANALYSES["kruskal"]
    res = S.kruskal_wallis_test(*k["groups"].values())
    assert res.statistic == pytest.approx(k["statistic"], abs=TOL)
    assert res.pvalue == pytest.approx(k["p_value"], abs=TOL)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from(["exact", "wilson"]))
def test_proportion_ci_contains_the_estimate(xn, method):
    x, n = xn
    ci = S.proportion_ci(x, n, method)
    assert 0.0 <= ci.lower <= ci.estimate <= ci.upper <= 1.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=3, max_size=3), min_size=2, max_size=3))
def test_ffh_equals_brute_force_on_random_small_tables(rows):
    tab = np.array(rows)
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return
    assert S.fisher_freeman_halton(tab).pvalue == pytest.approx(min(1.0, _brute_force_ffh(tab)), abs=TOL)
