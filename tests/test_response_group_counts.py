"""Response counts and rates find each group's patients by the group's position, not by comparing label texts: the
counts equal a plain grouping of the label texts, on a messy cohort (missing groups and responses, a response that is
no BOR level, confirmed and unconfirmed responses, a repeated index), in both views and both denominators."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import load_cohort, schema
from il2lib.analyses._grouping import group_labels
from il2lib.analyses.response import _outcome_flags, best_response_table, response_rates
from il2lib.validation.recist import apply_response_rules, sd_rule_duration

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "combined_synthetic.csv"


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    df = load_cohort(SAMPLE).data.copy()
    rng = np.random.default_rng(12)
    n = len(df)
    bor = df[schema.BOR].astype(object)
    bor[rng.random(n) < 0.05] = None
    bor[rng.random(n) < 0.03] = "XX"  # not a BOR level: left out
    df[schema.BOR] = bor
    source = df[schema.SOURCE].astype(object)
    source[rng.random(n) < 0.1] = None
    df[schema.SOURCE] = source
    if schema.RESPONSE_CONFIRMED not in df.columns:
        df[schema.RESPONSE_CONFIRMED] = pd.array(rng.choice([True, False, None], n), dtype="boolean")
    return df.set_axis(np.arange(n) % 97)  # a repeated index


def text_rows(df: pd.DataFrame, by, view: str, denominator: str) -> pd.DataFrame:
    """The definition: per group label text, the patients counted in each response level and in each rate."""
    labels = group_labels(df, by)
    keep = (labels.notna() & df[schema.BOR].isin(schema.BOR_LEVELS)).to_numpy()
    data, labels = df[keep], labels[keep].to_numpy(object)
    rules = apply_response_rules(data, view)
    bor = rules.bor.to_numpy(object)
    flags = _outcome_flags(rules.bor, sd_rule_duration(data), schema.CB_SD_MONTHS_DEFAULT,
                           schema.ASSESSMENT_WINDOW_DAYS_DEFAULT)
    drop = (bor == "NE") & (denominator == "evaluable")
    rows = []
    for g in pd.unique(labels):
        in_g = labels == g
        levels = {f"n_{r}": int((bor[in_g] == r).sum()) for r in schema.BOR_LEVELS}
        for o, flag in flags.items():
            usable = in_g & flag.notna().to_numpy() & ~drop
            rows.append({"group": g, "outcome": o, "responders": int(flag[usable].astype(bool).sum()),
                         "n": int(usable.sum()), "n_ne": int((in_g & (bor == "NE")).sum()), **levels})
    return pd.DataFrame(rows).sort_values(["group", "outcome"], ignore_index=True)


@pytest.mark.parametrize("by", [None, schema.DISEASE, schema.SOURCE, schema.PRIOR_PD1, schema.LINE_OF_IL2])
@pytest.mark.parametrize("denominator", ["itt", "evaluable"])
def test_rates_and_counts_equal_a_grouping_of_the_label_texts(messy, by, denominator):
    res = response_rates(messy, by, denominator=denominator)
    assert res.other_view is not None  # both views counted
    for view, rates, counts in ((res.view, res.rates, res.bor_counts), (res.other_view, res.other_rates,
                                                                    res.other_bor_counts)):
        expected = text_rows(messy, by, view, denominator)
        wide = counts.pivot(index="group", columns="response", values="n").add_prefix("n_").reset_index()
        got = rates.merge(wide, on="group")[expected.columns].sort_values(["group", "outcome"], ignore_index=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert expected["n"].sum() > 0 and expected["n_ne"].sum() > 0
    table = best_response_table(messy, by)
    sizes = table.counts.groupby("group", sort=False)["n"].sum()
    assert (table.counts["group_n"].to_numpy() == sizes.reindex(table.counts["group"]).to_numpy()).all()
    assert np.allclose(table.counts["percent"], 100 * table.counts["n"] / table.counts["group_n"], rtol=0, atol=0)
