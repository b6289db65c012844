"""The between-group comparison of a 2x2 table is Fisher's exact test, whose p-value alone is computed there (its odds
ratio is shown nowhere): the same result as the full test with its odds ratio and interval."""
from __future__ import annotations

import pytest

from il2lib.stats.contingency import compare_proportions, fisher_exact_2x2


@pytest.mark.parametrize("table", [[[3, 7], [9, 2]], [[0, 12], [5, 5]], [[10, 0], [0, 10]], [[1, 1], [1, 1]],
                                   [[17, 40], [9, 41]], [[5000, 95000], [6100, 93900]]])
def test_two_by_two_comparison_is_fishers_exact_test(table):
    assert compare_proportions(table) == fisher_exact_2x2(table).as_test(note="2x2 table: Fisher's exact test.")
