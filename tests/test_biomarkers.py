"""Biomarker comparison CB vs no-CB per disease: tests named, ORs, missing data, sample-data pins."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from il2lib import load_cohort, schema
from il2lib.analyses.biomarkers import biomarker_comparison, univariable_odds_ratio, with_mean_doses

TOL = 1e-9
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture
def df():
    """Melanoma: 9 CB (4 autoimmune) vs 21 no-CB (2 autoimmune); RCC: 5 CB vs 15 no-CB."""
    rng = np.random.default_rng(7)
    rows = []
    for disease, n_cb, n_no, auto_cb, auto_no in [(schema.MELANOMA, 9, 21, 4, 2), (schema.RCC, 5, 15, 2, 3)]:
        for i in range(n_cb + n_no):
            cb = i < n_cb
            rows.append({schema.PATIENT_ID: f"{disease}{i}", schema.DISEASE: disease,
                         schema.BOR: "PR" if cb else "PD", schema.SD_DURATION: np.nan,
                         schema.PLATELET_NADIR: round(rng.normal(45 if cb else 65, 20), 1),
                         schema.DOSES_C1: int(rng.integers(6, 15)), schema.DOSES_C2: int(rng.integers(4, 15)),
                         schema.AUTOIMMUNE: (i < auto_cb) if cb else (i - n_cb < auto_no)})
    out = pd.DataFrame(rows)
    out[schema.AUTOIMMUNE] = out[schema.AUTOIMMUNE].astype("boolean")
    return out


def test_binary_variable_uses_fisher_and_its_conditional_odds_ratio(df):
    res = biomarker_comparison(df, disease=schema.MELANOMA)
    row = res.rows.set_index("variable").loc[schema.AUTOIMMUNE]
    assert row["test"] == "fisher_exact" and row["test_label"] == "Fisher's exact test"
    assert row["pvalue"] == pytest.approx(0.04916003536693, abs=1e-9)  # fisher.test(matrix(c(4,5,2,19),2,byrow=T))
    assert row["cb_summary"] == "4/9 (44%)" and row["no_cb_summary"] == "2/21 (10%)"
    # the same fisher.test: conditional MLE OR and exact CI (its equations solved to tol 1e-14, as fisher_hp in
    # tests/reference/scripts/make_tests.R): 6.97086870005048 (0.756755907785675-98.572604800252)
    assert row["odds_ratio"] == pytest.approx(6.97086870005048, rel=1e-6)
    assert row["or_lower"] == pytest.approx(0.756755907785675, rel=1e-6)
    assert row["or_upper"] == pytest.approx(98.572604800252, rel=1e-6)


def test_continuous_variable_uses_rank_sum(df):
    res = biomarker_comparison(df)
    row = res.rows.set_index(["disease", "variable"]).loc[(schema.RCC, schema.PLATELET_NADIR)]
    rcc = df[df[schema.DISEASE] == schema.RCC]
    cb = rcc[schema.BOR] == "PR"
    x, y = rcc.loc[cb, schema.PLATELET_NADIR], rcc.loc[~cb, schema.PLATELET_NADIR]
    assert row["test"] == "wilcoxon_rank_sum"
    assert row["pvalue"] == pytest.approx(sps.mannwhitneyu(x, y, method="exact").pvalue, abs=TOL)
    assert row["cb_median"] == pytest.approx(np.median(x))
    assert row["or_per"].startswith("10 ")


def test_mean_doses_per_cycle_is_derived_from_known_cycles():
    out = with_mean_doses(pd.DataFrame({schema.DOSES_C1: [10, 12, np.nan], schema.DOSES_C2: [8, np.nan, np.nan]}))
    assert out[schema.MEAN_DOSES_PER_CYCLE].tolist()[:2] == [9.0, 12.0]
    assert np.isnan(out[schema.MEAN_DOSES_PER_CYCLE].iloc[2])


def test_missing_values_and_undetermined_cb_are_reported(df):
    df.loc[0, schema.PLATELET_NADIR] = np.nan
    df.loc[1, [schema.BOR, schema.SD_DURATION]] = ["SD", np.nan]  # CB undetermined
    res = biomarker_comparison(df, disease=schema.MELANOMA)
    assert list(res.excluded["patient_id"]) == [df.loc[1, schema.PATIENT_ID]]
    assert res.groups.iloc[0]["n_cb"] == 8
    row = res.rows.set_index("variable").loc[schema.PLATELET_NADIR]
    assert row["n_missing"] == 1 and row["n_cb"] + row["n_no_cb"] == 28
    assert res.n_note.startswith("Patients used: 29; left out: 1 (clinical benefit undetermined")


def test_odds_ratio_not_estimable_cases():
    assert univariable_odds_ratio(np.array([1, 0, 0, 0]), np.array([1, 2, 3, 4]))[3].startswith("not estimable")
    sep = univariable_odds_ratio(np.array([1, 1, 1, 0, 0, 0]), np.array([1, 2, 3, 4, 5, 6]))
    assert math.isnan(sep[0]) and "separated" in sep[3]
    flat = univariable_odds_ratio(np.array([1, 1, 0, 0]), np.array([2, 2, 2, 2]))
    assert "no variation" in flat[3]


def test_display_names_tests_and_adjustment(df):
    res = biomarker_comparison(df, adjust="holm")
    disp = res.display(schema.MELANOMA)
    assert {"Test", "p-value", "p (holm)", "OR (95% CI)"} <= set(disp.columns)
    assert disp["Test"].notna().all()
    assert any("Unadjusted" in n for n in res.notes)


def test_display_puts_the_odds_ratio_unit_in_its_own_column(df):
    """The unit of each OR has its own column, so a narrow table never hides it."""
    res = biomarker_comparison(df, disease=schema.MELANOMA)
    disp = res.display(schema.MELANOMA).set_index("Variable")
    rows = res.rows.set_index("variable")
    nadir = rows.loc[schema.PLATELET_NADIR]
    assert disp.loc[schema.label(schema.PLATELET_NADIR), "OR per"] == "10 x10^3/uL"
    assert disp.loc[schema.label(schema.PLATELET_NADIR), "OR (95% CI)"] == \
        f"{nadir['odds_ratio']:.2f} ({nadir['or_lower']:.2f}–{nadir['or_upper']:.2f})"
    assert disp.loc[schema.label(schema.AUTOIMMUNE), "OR per"] == "yes vs no"
    assert not disp["OR (95% CI)"].str.contains(" per ").any()
    assert list(disp.columns[-2:]) == ["OR per", "Missing"]


def test_display_with_test_notes_marks_p_values_and_names_each_test_once(df):
    res = biomarker_comparison(df, disease=schema.MELANOMA, adjust="holm")
    full, noted = res.display(schema.MELANOMA), res.display_with_test_notes(schema.MELANOMA)
    assert "Test" not in noted.table.columns
    assert list(noted.table.columns) == [c for c in full.columns if c != "Test"]
    assert noted.footnotes == ("¹ Wilcoxon rank-sum (Mann-Whitney U) test", "² Fisher's exact test")
    marks = {"Wilcoxon rank-sum (Mann-Whitney U) test": "¹", "Fisher's exact test": "²"}
    assert list(noted.table["p-value"]) == [p + marks[t] for p, t in zip(full["p-value"], full["Test"])]
    assert noted.table.drop(columns="p-value").equals(full.drop(columns=["p-value", "Test"]))


def test_or_per_is_empty_when_the_odds_ratio_is_not_estimable(df):
    df.loc[df[schema.DISEASE] == schema.MELANOMA, schema.DOSES_C1] = 10
    df.loc[df[schema.DISEASE] == schema.MELANOMA, schema.DOSES_C2] = 10
    disp = biomarker_comparison(df, disease=schema.MELANOMA).display(schema.MELANOMA).set_index("Variable")
    row = disp.loc[schema.label(schema.MEAN_DOSES_PER_CYCLE)]
    assert row["OR (95% CI)"].startswith("not estimable") and row["OR per"] == ""


def test_missing_biomarker_columns_is_a_clear_error():
    from il2lib.errors import InsufficientDataError
    with pytest.raises(InsufficientDataError):
        biomarker_comparison(pd.DataFrame({schema.BOR: ["CR"], schema.DISEASE: [schema.RCC]}))


def _community():
    return load_cohort(SAMPLE / "community_synthetic.csv").data


def test_community_sample_reproduces_published_directions():
    res = biomarker_comparison(_community())
    groups = res.groups.set_index("disease")
    assert tuple(groups.loc[schema.MELANOMA]) == (9, 21) and tuple(groups.loc[schema.RCC]) == (5, 15)
    rows = res.rows.set_index(["disease", "variable"])
    auto = rows.loc[(schema.MELANOMA, schema.AUTOIMMUNE)]
    assert (auto["cb_summary"], auto["no_cb_summary"]) == ("4/9 (44%)", "2/21 (10%)")
    assert auto["pvalue"] == pytest.approx(0.0492, abs=5e-5)  # paper: p = 0.049
    for disease in schema.DISEASES:  # paper: 0.015 (melanoma), 0.026 (RCC), lower nadir with CB
        plt = rows.loc[(disease, schema.PLATELET_NADIR)]
        assert plt["pvalue"] < 0.05 and plt["cb_median"] < plt["no_cb_median"]
        doses = rows.loc[(disease, schema.MEAN_DOSES_PER_CYCLE)]
        assert doses["pvalue"] > 0.05  # paper: same number of doses


def test_logistic_odds_ratio_matches_r_glm():
    import json
    ref = json.loads((Path(__file__).parent / "reference" / "analyses.json").read_text())["logistic_or"]
    # R: glm(cb ~ I(nadir / 10), binomial, control = glm.control(epsilon = 1e-14)); Wald CI (confint.default).
    # (R's default epsilon 1e-8 stops early: its CI differs from the converged one at 1e-4.)
    o, lo, hi, note = univariable_odds_ratio(np.array(ref["y"]), np.array(ref["x"], dtype=float), ref["step"])
    assert note == ""
    assert o == pytest.approx(ref["odds_ratio"], rel=1e-6)
    assert (lo, hi) == (pytest.approx(ref["ci_lower"], rel=1e-6), pytest.approx(ref["ci_upper"], rel=1e-6))


def test_disease_without_benefit_group_is_reported_not_raised():
    df = pd.DataFrame({schema.PATIENT_ID: list("abcdef"), schema.DISEASE: [schema.RCC] * 6,
                       schema.BOR: ["PD"] * 5 + ["NE"], schema.PLATELET_NADIR: [1, 2, 3, 4, 5, 6.0],
                       schema.AUTOIMMUNE: pd.array([True, False] * 3, dtype="boolean")})
    rows = biomarker_comparison(df).rows
    assert rows["test"].isna().all() and rows["or_note"].str.startswith("not estimable").all()


def test_small_counts_of_the_comparison_are_hidden_with_their_complements(df):
    # Two melanoma patients without a platelet nadir: missing = group sizes - those with a value, so hiding
    # the "2" alone gives it back; a complement (a group's count with a value) must go too.
    from il2lib.privacy.disclosure import SUPPRESSED, Suppression, protect, recoverable

    df.loc[[0, 20], schema.PLATELET_NADIR] = np.nan
    res = biomarker_comparison(df)
    view = res.count_view(total=len(df))
    missing = ("missing", schema.MELANOMA, schema.PLATELET_NADIR)
    assert view.counts[missing] == 2 and missing in recoverable(view, Suppression(5, frozenset({missing})))
    shown = protect(view, 5)
    assert missing in shown.primary and shown.secondary and recoverable(view, shown) == {}
    assert ("total",) not in shown.hidden
    table = res.display(schema.MELANOMA, shown)
    row = table[table["Variable"] == schema.label(schema.PLATELET_NADIR)].iloc[0]
    assert row["Missing"] == "<5"
    cells = [str(v) for v in table.to_numpy().ravel()] + list(table.columns)
    autoimmune = table[table["Variable"] == schema.label(schema.AUTOIMMUNE)].iloc[0]
    assert autoimmune["Clinical benefit (n=9)"] == f"<5/9 ({SUPPRESSED})"  # 4 of 9
    assert not [c for c in cells if c in ("2", "4")]
