"""Table 1: summaries, missing rows, test selection per variable, display and footnotes."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from il2lib import schema
from il2lib.analyses.table1 import MISSING, OVERALL, infer_type, table1

TOL = 1e-9


@pytest.fixture
def df():
    return pd.DataFrame({
        schema.PATIENT_ID: [f"P{i}" for i in range(12)],
        schema.DISEASE: ["melanoma"] * 7 + ["rcc"] * 5,
        schema.AGE: [40, 45, 50, 55, 60, 65, np.nan, 48, 52, 58, 62, 70],
        schema.SEX: ["M", "F", "M", None, "F", "M", "M", "F", "F", "M", "F", "M"],
        schema.ECOG: pd.array([0, 1, 0, 1, 0, 0, 1, 1, 2, 0, 1, 0], dtype="Int64"),
        schema.PRIOR_PD1: pd.array([True] * 6 + [None] + [False] * 5, dtype="boolean"),
    })


def test_continuous_summary_matches_numpy_type7(df):
    t = table1(df, by=schema.DISEASE, variables=[schema.AGE])
    row = t.tidy[(t.tidy["group"] == "Melanoma") & t.tidy["level"].isna()].iloc[0]
    mel = np.array([40, 45, 50, 55, 60, 65])
    assert row["n"] == 6 and row["N"] == 7
    assert row["median"] == pytest.approx(np.median(mel))
    assert (row["q1"], row["q3"]) == (pytest.approx(np.quantile(mel, 0.25)), pytest.approx(np.quantile(mel, 0.75)))
    miss = t.tidy[(t.tidy["group"] == "Melanoma") & (t.tidy["level"] == MISSING)].iloc[0]
    assert miss["n"] == 1
    test = t.tests.set_index("variable").loc[schema.AGE]
    assert test["test"] == "wilcoxon_rank_sum"
    want = sps.mannwhitneyu(mel, [48, 52, 58, 62, 70], method="exact").pvalue  # no ties: exact, as R
    assert test["pvalue"] == pytest.approx(want, abs=TOL)


def test_categorical_counts_percent_of_known_and_missing_row(df):
    t = table1(df, by=schema.DISEASE, variables=[schema.SEX, schema.PRIOR_PD1])
    tidy = t.tidy.set_index(["variable", "group", "level"])
    assert tidy.loc[(schema.SEX, "Melanoma", "M"), "n"] == 4
    assert tidy.loc[(schema.SEX, "Melanoma", "M"), "percent"] == pytest.approx(100 * 4 / 6)
    assert tidy.loc[(schema.SEX, "Melanoma", MISSING), "n"] == 1
    assert tidy.loc[(schema.PRIOR_PD1, OVERALL, "Yes"), "n"] == 6
    assert tidy.loc[(schema.PRIOR_PD1, OVERALL, MISSING), "n"] == 1
    # overall counts add up to N: nothing dropped silently
    overall = t.tidy[(t.tidy["variable"] == schema.SEX) & (t.tidy["group"] == OVERALL)]
    assert overall["n"].sum() == 12
    tests = t.tests.set_index("variable")
    assert tests.loc[schema.SEX, "test"] == "fisher_exact"  # 2x2 -> Fisher


def test_three_level_categorical_uses_exact_test_when_expected_small(df):
    t = table1(df, by=schema.DISEASE, variables=[schema.ECOG])
    assert t.tests.iloc[0]["test"] == "fisher_freeman_halton"


def test_kruskal_for_three_groups_and_chisq_for_large_tables():
    rng = np.random.default_rng(3)
    n = 150
    big = pd.DataFrame({schema.SOURCE: np.repeat(["a", "b", "c"], 50), schema.AGE: rng.normal(55, 8, n),
                        schema.SEX: np.tile(["M", "F"], 75)})
    t = table1(big, by=schema.SOURCE, variables=[schema.AGE, schema.SEX])
    tests = t.tests.set_index("variable")
    assert tests.loc[schema.AGE, "test"] == "kruskal_wallis"
    assert tests.loc[schema.SEX, "test"] == "chi_square"
    want = sps.kruskal(*[big.loc[big[schema.SOURCE] == g, schema.AGE] for g in "abc"]).pvalue
    assert tests.loc[schema.AGE, "pvalue"] == pytest.approx(want, abs=TOL)


def test_display_and_footnotes_name_the_tests(df):
    t = table1(df, by=schema.DISEASE, variables=[schema.AGE, schema.SEX], mean_sd=True)
    disp = t.display()
    assert list(disp.columns) == ["Characteristic", "Overall (N=12)", "Melanoma (N=7)", "RCC (N=5)", "p-value"]
    assert (disp["Characteristic"].str.strip() == "Mean (SD)").any()
    assert (disp["Characteristic"].str.strip() == MISSING).any()
    p_cells = [p for p in disp["p-value"] if p]
    assert len(p_cells) == 2 and all(p[-1] in "¹²³⁴⁵" for p in p_cells)
    notes = " ".join(t.footnotes)
    assert "Wilcoxon rank-sum" in notes and "Fisher's exact test" in notes
    assert "Patients used: 12 of 12" in notes


def test_missing_group_value_is_excluded_and_reported(df):
    t = table1(df, by=schema.PRIOR_PD1, variables=[schema.AGE])
    assert t.n_used == 11 and len(t.excluded) == 1
    assert t.excluded.iloc[0]["patient_id"] == "P6"
    assert "1 left out" in t.footnotes[0]
    assert t.footnotes[-1] == schema.ERA_CAVEAT  # grouping by prior PD-1 exposure: era confounding said


def test_no_grouping_gives_overall_only_without_tests(df):
    t = table1(df)
    assert t.tests.empty and list(t.display().columns) == ["Characteristic", "All patients (N=12)"]


def test_type_inference_and_unknown_column(df):
    assert infer_type(df, schema.AGE) == "continuous"
    assert infer_type(df, schema.ECOG) == "categorical"
    assert infer_type(df, schema.PRIOR_PD1) == "categorical"
    with pytest.raises(KeyError, match="not in the data"):
        table1(df, by=schema.DISEASE, variables=["nope"])


def test_untestable_variable_is_reported_not_raised(df):
    df = df.assign(const="x")
    t = table1(df, by=schema.DISEASE, variables=["const"])
    row = t.tests.iloc[0]
    assert row["test"] is None and "not tested" in row["note"]


def test_line_of_il2_grouping_and_boolean_levels():
    df = pd.DataFrame({schema.LINE_OF_IL2: pd.array([1, 1, 2, 3, 5, 2], dtype="Int64"),
                       schema.BRAIN_METS: pd.array([True, False, None, False, True, False], dtype="boolean")})
    t = table1(df, by=schema.LINE_OF_IL2, variables=[schema.BRAIN_METS])
    assert t.groups == ("Line of IL-2: 1", "Line of IL-2: 2", "Line of IL-2: 3+")  # groups name their variable
    tidy = t.tidy.set_index(["group", "level"])  # a variable's levels sit under its heading: "Yes", not named
    assert tidy.loc[("Line of IL-2: 3+", "Yes"), "n"] == 1 and tidy.loc[("Line of IL-2: 2", MISSING), "n"] == 1
    assert list(t.display().columns[3:6]) == ["Line of IL-2: 1 (N=2)", "Line of IL-2: 2 (N=2)",
                                              "Line of IL-2: 3+ (N=2)"]
    assert t.tests.iloc[0]["test"] == "fisher_freeman_halton"  # 3 groups x 2 levels, small counts


def test_single_level_variables_are_not_tested_and_do_not_crash():
    """A variable with one level (all 'No') or no values at all gets no test, only a note."""
    from il2lib import load_cohort

    data = load_cohort(Path(__file__).resolve().parents[1] / "sample_data" / "community_synthetic.csv").data
    result = table1(data, by=schema.DISEASE)
    tests = result.tests.set_index("variable")
    assert tests.loc[schema.PRIOR_PD1, "test"] is None
    assert tests.loc[schema.PRIOR_PD1, "note"].startswith("not tested: a comparison needs at least two groups")
    assert tests[tests["test"].notna()]["pvalue"].between(0, 1).all()
