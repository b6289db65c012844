"""Table 1's counts, summaries, tests and notes equal their definition, group by group and level by level, on messy
data: missing values of every kind, levels absent from a group, one-patient groups, a group without any value, and a
free-text grouping column whose raw values share labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses._grouping import group_labels, level_labels, level_order, patient_ids
from il2lib.analyses.table1 import MISSING, OVERALL, TIDY_COLUMNS, infer_type, table1
from il2lib.stats import compare_continuous, compare_proportions, exact_work_budget

EXTRA = ["site", "score", "flag", "mixed", "ints", "cat"]


def messy(seed: int, n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def some_missing(values, share=0.15):
        values = pd.Series(values, dtype=object)
        values[rng.random(n) < share] = None
        return values

    df = pd.DataFrame({
        schema.PATIENT_ID: [f"P{i:03d}" for i in range(n)],
        schema.DISEASE: some_missing(rng.choice(["melanoma", "rcc", "Other "], n, p=[0.6, 0.35, 0.05]), 0.05),
        schema.AGE: pd.to_numeric(some_missing(rng.normal(58, 11, n).round(0)), errors="coerce"),
        schema.SEX: some_missing(rng.choice(["M", "F", " F"], n)),  # " F" and "F" are one level
        schema.ECOG: pd.array(some_missing(rng.integers(0, 3, n)), dtype="Int64"),
        schema.BASELINE_LDH: pd.to_numeric(some_missing(rng.lognormal(5.5, 0.4, n), 0.3), errors="coerce"),
        schema.BRAIN_METS: pd.array(some_missing(rng.random(n) < 0.2), dtype="boolean"),
        schema.LINE_OF_IL2: pd.array(some_missing(rng.integers(1, 6, n)), dtype="Int64"),
        schema.BOR: some_missing(rng.choice(["CR", "PR", "SD", "PD", "NE"], n, p=[0.05, 0.1, 0.3, 0.5, 0.05])),
        # free text: " Site 3" and "Site 3 " label one group; one patient alone in "lonely"; blanks are missing
        "site": some_missing([f" Site {k}" if k % 2 else f"Site {k} " for k in rng.integers(0, 9, n)], 0.1),
        "score": pd.to_numeric(some_missing(rng.normal(size=n).round(1), 0.2), errors="coerce"),
        "flag": pd.array(some_missing(rng.random(n) < 0.5, 0.1), dtype="boolean"),
        "mixed": pd.Series(np.array([1, 1.0, "1", " a", "a", None, np.nan, True, 2.5, "  "],
                                    dtype=object)[rng.integers(0, 10, n)]),
        "ints": pd.array(some_missing(rng.integers(0, 4, n), 0.1), dtype="Int64"),
        "cat": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["z", "y", "x", "unused"]),
    })
    df.loc[:1, "site"] = ["lonely", "  "]
    df.loc[0, [schema.AGE, schema.BASELINE_LDH, "score"]] = [61.0, 240.0, 0.5]  # one value: no rank test
    site4 = df["site"].str.strip().eq("Site 4").to_numpy()
    df.loc[site4, "flag"] = pd.NA  # a group without any value: left out of the test
    df.loc[site4, "cat"] = "x"  # levels absent from a group
    return df


def defined_rows(df: pd.DataFrame, by: str | None, variables: list[str], overall: bool = True) -> pd.DataFrame:
    """Table 1's tidy rows straight from their definition: a boolean mask per group and per level."""
    labels = group_labels(df, by)
    data, labels = df[labels.notna().to_numpy()], labels.dropna()
    groups = level_order(by, labels) if by else []
    rows = []
    for column in variables:
        var_type = infer_type(df, column)
        for g in ([OVERALL] if overall or not by else []) + groups:
            in_group = np.ones(len(data), bool) if g == OVERALL else (labels == g).to_numpy()
            base = {"variable": column, "var_type": var_type, "group": g, "N": int(in_group.sum())}
            if var_type == "continuous":
                v = pd.to_numeric(data[column], errors="coerce").astype("float64")[in_group]
                known = v.dropna()
                stats = dict(median=known.median(), q1=known.quantile(0.25), q3=known.quantile(0.75),
                             mean=known.mean(), sd=known.std(ddof=1)) if len(known) else {}
                rows.append({**base, "level": None, "n": len(known), "percent": np.nan, **stats})
                rows.append({**base, "level": MISSING, "n": int(v.isna().sum()), "percent": np.nan})
                continue
            every = level_labels(data, column)
            v = every[in_group]
            known = int(v.notna().sum())
            for level in level_order(column, every):
                k = int((v == level).sum())
                rows.append({**base, "level": level, "n": k, "percent": 100 * k / known if known else np.nan})
            rows.append({**base, "level": MISSING, "n": int(v.isna().sum()), "percent": np.nan})
    return pd.DataFrame(rows).reindex(columns=[c for c in TIDY_COLUMNS if c != "label"])


def defined_test(df: pd.DataFrame, by: str, column: str, exact):
    """The p-value's test from its definition: the values of each group, or the groups x levels table (``exact``:
    the exact tests' budget, shared by the table's variables in their order)."""
    labels = group_labels(df, by)
    data, labels = df[labels.notna().to_numpy()], labels.dropna()
    groups = level_order(by, labels)
    if infer_type(df, column) == "continuous":
        num = pd.to_numeric(data[column], errors="coerce").astype("float64")
        return compare_continuous([num[(labels == g).to_numpy()].to_numpy() for g in groups])
    levels_of = level_labels(data, column)
    table = np.array([[int(((labels == g) & (levels_of == lv)).sum()) for lv in level_order(column, levels_of)]
                      for g in groups])
    return compare_proportions(table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0], shared=exact)


def variables_of(df: pd.DataFrame, by: str | None) -> list[str]:
    return [c for c in df.columns if c not in (schema.PATIENT_ID, by)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("by", ["site", schema.DISEASE, schema.LINE_OF_IL2, "mixed", "cat", "flag", None])
def test_counts_and_summaries_equal_their_definition_group_by_group(seed, by):
    df = messy(seed)
    variables = variables_of(df, by)
    t = table1(df, by, variables, tests=False)
    got = t.tidy.drop(columns="label").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, defined_rows(df, by, variables), check_exact=True)


def test_free_text_groups_share_a_label_and_a_one_patient_group_is_its_own_column():
    df = messy(0)
    t = table1(df, "site", variables_of(df, "site"), tests=False)
    sizes = t.tidy.groupby("group", sort=False)["N"].first()
    assert sizes["site: lonely"] == 1 and "site:   " not in sizes
    assert sizes["site: Site 3"] == df["site"].str.strip().eq("Site 3").sum()
    assert sizes[OVERALL] == df["site"].str.strip().replace("", None).notna().sum() == sizes.iloc[1:].sum()
    cat = t.tidy[(t.tidy["variable"] == "cat") & (t.tidy["group"] == "site: Site 4")].set_index("level")["n"]
    assert (cat["z"], cat["y"]) == (0, 0) and "unused" not in cat.index


def same(a, b) -> bool:
    return a == b or (pd.isna(a) and pd.isna(b))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("by", ["site", schema.DISEASE, "flag"])
def test_p_values_and_their_notes_equal_the_tests_on_each_groups_values(seed, by):
    df = messy(seed)
    variables = variables_of(df, by)
    t = table1(df, by, variables)
    exact = exact_work_budget("Table 1")
    for row in t.tests.itertuples():
        if row.test is None:
            continue
        want = defined_test(df, by, row.variable, exact)
        assert (row.test, row.pvalue) == (want.test, want.pvalue) and same(row.statistic, want.statistic), row
    if by != "site":
        return
    labels, ids = group_labels(df, by), patient_ids(df)
    notes = [n for n in t.footnotes if getattr(n, "kind", "")]
    left_out = next(n for n in notes if n.kind == "table1_group_left_out" and n.startswith("flag"))
    site4 = (labels == "site: Site 4").to_numpy()
    assert "site: Site 4" in left_out and left_out.count == site4.sum()
    assert left_out.patient_ids == tuple(ids[site4])
    small = next(n for n in notes if n.kind == "table1_group_too_small" and n.startswith("Age"))
    assert small.patient_ids == ("P000",) and small.count == 1
    tests = t.tests.set_index("variable")
    assert tests.loc[schema.AGE, "test"] is None and "fewer than 2" in tests.loc[schema.AGE, "note"]
    assert tests.loc["flag", "test"] is not None
