"""Pairwise log-rank and Fisher tests with Holm/BH, against R (survdiff / fisher.test on each pair,
p.adjust; tests/reference/scripts/make_survival_extended.R) and p.adjust values in tests/reference/extra.json."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.errors import InsufficientDataError
from il2lib.stats import p_adjust
from il2lib.survival.pairwise import pairwise_fisher, pairwise_logrank

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "survival_extended.json").read_text())
EXTRA = json.loads((REF / "extra.json").read_text())


def test_pairwise_logrank_veteran_celltype():
    vet = pd.read_csv(REF / "veteran.csv")
    ref = R["pairwise_logrank"]["veteran_celltype"]
    res = pairwise_logrank(vet.time, vet.status, vet.celltype)
    assert list(zip(res.table.group_a, res.table.group_b)) == [(p["a"], p["b"]) for p in ref["pairs"]]
    np.testing.assert_allclose(res.table.statistic, [p["chisq"] for p in ref["pairs"]], rtol=1e-9)
    np.testing.assert_allclose(res.table.p, [p["p"] for p in ref["pairs"]], rtol=1e-8)
    np.testing.assert_allclose(res.table.p_holm, ref["holm"], rtol=1e-8)
    np.testing.assert_allclose(res.table.p_bh, ref["BH"], rtol=1e-8)


def test_pairwise_logrank_lung_ecog_numeric_groups():
    lung = pd.read_csv(REF / "lung.csv")
    lung = lung[lung["ph.ecog"].notna() & (lung["ph.ecog"] < 3)]
    ref = R["pairwise_logrank"]["lung_ph_ecog"]
    res = pairwise_logrank(lung.time, lung.status - 1, lung["ph.ecog"])
    np.testing.assert_allclose(res.table.p, [p["p"] for p in ref["pairs"]], rtol=1e-8)
    np.testing.assert_allclose(res.table.p_holm, ref["holm"], rtol=1e-8)
    assert res.matrix("p_bh").shape == (2, 2)


def test_pairwise_fisher_matches_r():
    ref = R["pairwise_fisher"]
    res = pairwise_fisher({k: tuple(v) for k, v in ref["counts"].items()})
    np.testing.assert_allclose(res.table.p, [p["p"] for p in ref["pairs"]], rtol=1e-7)
    np.testing.assert_allclose(res.table.p_holm, ref["holm"], rtol=1e-7)
    np.testing.assert_allclose(res.table.p_bh, ref["BH"], rtol=1e-7)


@pytest.mark.parametrize("method, key", [("holm", "holm"), ("BH", "BH")])
def test_adjustment_is_r_p_adjust(method, key):
    np.testing.assert_allclose(p_adjust(EXTRA["p_adjust"]["p"], method), EXTRA["p_adjust"][key], rtol=1e-12)


def test_needs_three_groups_and_valid_counts():
    with pytest.raises(InsufficientDataError, match="three groups"):
        pairwise_logrank([1, 2, 3, 4], [1, 1, 0, 1], ["a", "a", "b", "b"])
    with pytest.raises(InsufficientDataError):
        pairwise_fisher({"a": (1, 5), "b": (2, 5)})
    with pytest.raises(ValueError, match="between 0 and n"):
        pairwise_fisher({"a": (6, 5), "b": (2, 5), "c": (1, 4)})


def test_untestable_pair_is_left_out_of_adjustment():
    # groups b and c have no events: that pair cannot be tested, the other two can
    time = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    event = [1, 1, 1, 0, 0, 0, 0, 0, 0]
    res = pairwise_logrank(time, event, list("aaabbbccc"))
    bc = res.table[(res.table.group_a == "b") & (res.table.group_b == "c")].iloc[0]
    assert np.isnan(bc.p) and np.isnan(bc.p_holm)
    tested = res.table.p.notna()
    np.testing.assert_allclose(res.table.p_holm[tested], p_adjust(res.table.p[tested], "holm"))
