"""Fisher's exact p-value alone equals the p-value of the full test (odds ratio and interval solved for), for both
tails and two-sided, on small, empty-margin, lopsided and large tables; the grade >= 3 comparison's p-values equal the
full test's."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from il2lib import schema
from il2lib.analyses.toxicity import compare_grade3, toxicity_summary
from il2lib.stats import fisher_exact_2x2, fisher_exact_pvalue
from tests.test_toxicity_distinct_terms import messy

TABLES = [[[3, 1], [1, 3]], [[0, 5], [5, 0]], [[0, 0], [4, 6]], [[7, 0], [0, 0]], [[1, 999], [12, 988]],
          [[40, 60], [55, 45]], [[120, 99880], [240, 99760]], [[2, 3], [2, 3]]]


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("table", TABLES)
def test_fisher_pvalue_alone_equals_the_full_test(table, alternative):
    assert fisher_exact_pvalue(table, alternative) == fisher_exact_2x2(table, alternative).pvalue


def test_fisher_pvalue_alone_of_random_tables_equals_the_full_test():
    rng = np.random.default_rng(11)
    for _ in range(200):
        table = rng.integers(0, 30, (2, 2))
        assert fisher_exact_pvalue(table) == fisher_exact_2x2(table).pvalue


def test_fisher_pvalue_alone_refuses_what_the_full_test_refuses():
    for bad in ([[1, 2, 3], [4, 5, 6]], [[1, -1], [2, 2]], [[1.5, 1], [2, 2]]):
        with pytest.raises(ValueError):
            fisher_exact_pvalue(bad)


def test_grade3_comparison_p_values_equal_the_full_fisher_test():
    patients, ae = messy(n_rows=1500, seed=8)
    comparison = compare_grade3(toxicity_summary(ae, patients, schema.DISEASE))
    assert len(comparison.groups) == 2 and len(comparison.tests) > 5
    counts = comparison.counts.set_index(["term", "group"])
    for row in comparison.tests.itertuples():
        table = [[int(counts.loc[(row.term, g), "n_grade3plus"]),
                  int(counts.loc[(row.term, g), "N"] - counts.loc[(row.term, g), "n_grade3plus"])]
                 for g in comparison.groups]
        full = fisher_exact_2x2(table).as_test()
        assert (row.p_value, row.test) == (full.pvalue, full.label)
    assert dataclasses.is_dataclass(comparison)
