"""Binary biomarkers: R's fisher.test conditional maximum-likelihood odds ratio with its exact (central,
conditional) 95% CI, beside the Fisher p-value, instead of a Wald logistic OR that can contradict that p.

R reference (R 4.2.2). Tables are row-wise [[a, b], [c, d]] = matrix(c(a, b, c, d), 2, byrow = TRUE), rows CB /
no CB, columns biomarker yes / no. For each: R's `fisher.test(m)` p-value, estimate and conf.int, then the same
estimate and interval solved to tol 1e-14 (`fisher_hp` in tests/reference/scripts/make_tests.R: fisher.test's own
equations; fisher.test's uniroot stops at tol ~1.2e-4, so its estimate/CI carry only ~3-5 digits, e.g. an upper
bound of 2419.7 for 2473.6 below). Produced by:
    m <- matrix(t, 2, byrow = TRUE); f <- fisher.test(m); hp <- fisher_hp(m)
    c(f$p.value, f$estimate, f$conf.int, hp["mle"], hp["lower"], hp["upper"])
These tests never run R: the outputs are literals.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.stats import fisher_exact_2x2

INF = math.inf
# table, fisher.test: p, estimate, lower, upper; fisher_hp (tol 1e-14): estimate, lower, upper
R_FISHER = [
    ((3, 2, 3, 18), 0.062420188507145, 7.96871013199361, 0.641908945598558, 136.764504220283,
     7.9694708664732, 0.64190841844517, 136.704113653893),
    ((3, 2, 0, 21), 0.00384615384615385, INF, 2.32602888212819, INF, INF, 2.32613481985471, INF),
    ((0, 3, 8, 2), 0.034965034965035, 0, 0, 1.19333820654868, 0, 0, 1.19333787545183),
    ((4, 5, 2, 19), 0.049160035366932, 6.97065579450413, 0.756755074877976, 98.6668212698213,
     6.97086870005048, 0.756755907785675, 98.572604800252),
    ((5, 2, 1, 20), 0.00118914901523597, 37.9360397607548, 2.73554567927671, 2419.68561264588,
     37.9404557761331, 2.73550613562605, 2473.59727001469),
    ((2, 3, 21, 0), 0.00384615384615385, 0, 0, 0.429917275612268, 0, 0, 0.429897696154369),
    ((1, 6, 9, 12), 0.364244451200973, 0.232915925402897, 0.0043616932399731, 2.48813068853432,
     0.232934532685024, 0.00435603094117489, 2.48813379458672),
]


def _close(got: float, want: float) -> bool:
    return got == want if want in (0, INF) else got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("case", R_FISHER, ids=lambda c: str(c[0]))
def test_fisher_2x2_matches_r_fisher_test(case):
    (a, b, c, d), p, _, _, _, est, lower, upper = case
    res = fisher_exact_2x2([[a, b], [c, d]])
    assert res.pvalue == pytest.approx(p, rel=1e-9)
    assert _close(res.odds_ratio, est) and _close(res.ci_lower, lower) and _close(res.ci_upper, upper)


def _cohort(cb_yes: int, n_cb: int, no_yes: int, n_no: int) -> pd.DataFrame:
    """One melanoma cohort: CB = PR, no CB = PD; autoimmune phenomena in the first *_yes patients of each group."""
    rows = [{schema.PATIENT_ID: f"C{i}", schema.BOR: "PR", schema.AUTOIMMUNE: i < cb_yes} for i in range(n_cb)]
    rows += [{schema.PATIENT_ID: f"N{i}", schema.BOR: "PD", schema.AUTOIMMUNE: i < no_yes} for i in range(n_no)]
    df = pd.DataFrame(rows).assign(**{schema.DISEASE: schema.MELANOMA, schema.SD_DURATION: np.nan})
    df[schema.AUTOIMMUNE] = df[schema.AUTOIMMUNE].astype("boolean")
    return df


def _row(df):
    res = biomarker_comparison(df, disease=schema.MELANOMA, variables=[schema.AUTOIMMUNE])
    shown = res.display(schema.MELANOMA).set_index("Variable").loc[schema.label(schema.AUTOIMMUNE)]
    return res, res.rows.set_index("variable").loc[schema.AUTOIMMUNE], shown


def test_odds_ratio_agrees_with_the_fisher_p_value():
    """CB 3/5 vs no CB 3/21: Fisher p = 0.062 and, from R, OR 7.97 (0.64-136.7), whose CI holds 1 (a Wald
    logistic OR would read 9 (1.03-78.6): a CI excluding 1 beside p > 0.05)."""
    res, row, shown = _row(_cohort(3, 5, 3, 21))
    assert row["odds_ratio"] == pytest.approx(7.9694708664732, rel=1e-6)
    assert row["or_lower"] == pytest.approx(0.64190841844517, rel=1e-6)
    assert row["or_upper"] == pytest.approx(136.704113653893, rel=1e-6)
    assert row["or_method"] == "conditional_mle_exact"
    assert shown["p-value"] == "0.062"
    assert shown["OR (95% CI)"] == "7.97 (0.64–136.7)"
    assert shown["OR per"] == "yes vs no"
    assert any("conditional maximum-likelihood" in n for n in res.notes)


def test_zero_cell_gives_an_infinite_estimate_with_a_finite_bound():
    """CB 3/5 vs no CB 0/21: R `fisher.test(matrix(c(3,2,0,21),2))`: OR Inf, 95% CI 2.326029-Inf, p = 0.003846."""
    _, row, shown = _row(_cohort(3, 5, 0, 21))
    assert row["odds_ratio"] == INF and row["or_upper"] == INF
    assert row["or_lower"] == pytest.approx(2.32613481985471, rel=1e-6)
    assert row["or_note"] == ""
    assert shown["OR (95% CI)"] == row["or_text"] == "∞ (2.33–∞)"  # JSON: odds_ratio null, or_text says ∞
    assert shown["p-value"] == "0.004"


def test_p_value_and_central_interval_are_each_rs_even_when_they_disagree():
    """CB 0/3 vs no CB 8/10: R's two-sided p (tables no more likely than the observed) = 0.035 while R's central
    CI is 0-1.19 and holds 1. Both are shown as R gives them."""
    _, row, shown = _row(_cohort(0, 3, 8, 10))
    assert row["pvalue"] == pytest.approx(0.034965034965035, rel=1e-9)
    assert row["odds_ratio"] == 0 and row["or_lower"] == 0
    assert row["or_upper"] == pytest.approx(1.19333787545183, rel=1e-6)
    assert shown["OR (95% CI)"] == "0 (0–1.19)"
    assert shown["p-value"] == "0.035"


def test_odds_ratio_not_estimable_only_when_a_margin_is_zero():
    """No patient with autoimmune phenomena: the table's "yes" column is empty, so R's estimate (0, CI 0-Inf)
    carries no information."""
    _, row, shown = _row(_cohort(0, 5, 0, 21))
    assert math.isnan(row["odds_ratio"]) and row["or_note"].startswith("not estimable")
    assert shown["OR (95% CI)"].startswith("not estimable") and shown["OR per"] == ""


def test_biomarkers_page_states_how_each_odds_ratio_is_computed():
    from il2lib.analyses.biomarkers import OR_METHOD_NOTE
    from support.apptest import open_app, texts

    at = open_app(page="pages/4_Biomarkers.py")
    assert OR_METHOD_NOTE in texts(at, "caption")
