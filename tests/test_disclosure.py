"""Complementary cell suppression and its audit (il2lib.privacy.disclosure).

The audit's definition: a hidden cell is disclosed when its minimum and maximum over the non-negative
integer solutions consistent with every shown number are equal (a primary cell is known to lie in
1..k-1, a complementary one in 0..the largest count). The brute-force test enumerates those solutions.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib.analyses.response import best_response_table, response_count_view, response_rates
from il2lib.analyses.table1 import table1
from il2lib.privacy.disclosure import NO_SUPPRESSION, SUPPRESSED, CountView, Suppression, protect, recoverable

LEVELS = ("CR", "PR", "SD", "PD", "NE")
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "combined_synthetic.csv"


@pytest.fixture(scope="module")
def combined_sample() -> pd.DataFrame:
    from il2lib import load_cohort

    return load_cohort(SAMPLE).data


def bor_view(counts: dict[str, int], dcr: bool = True) -> CountView:
    view = CountView()
    for level, n in counts.items():
        view.add(level, n)
    view.add("N", sum(counts.values()), headline=True)
    view.add("ORR", counts["CR"] + counts["PR"], headline=True)
    view.add_sum("N", LEVELS)
    view.add_sum("ORR", ["CR", "PR"])
    if dcr:
        view.add("DCR", counts["CR"] + counts["PR"] + counts["SD"], headline=True)
        view.add_sum("DCR", ["CR", "PR", "SD"])
    return view


def test_cell_masking_alone_gives_counts_back_by_subtraction():
    # melanoma, community column: CR 2, PR 3, SD 7, PD 16, NE 2 with N 30, ORR 5 and DCR 12 shown
    view = bor_view({"CR": 2, "PR": 3, "SD": 7, "PD": 16, "NE": 2})
    primary_only = Suppression(5, frozenset({"CR", "PR", "NE"}))
    assert recoverable(view, primary_only) == {"NE": 2}  # NE = N - DCR - PD


def test_protect_hides_a_detail_complement_and_leaves_nothing_recoverable():
    view = bor_view({"CR": 2, "PR": 3, "SD": 7, "PD": 16, "NE": 2})
    shown = protect(view, 5)
    assert shown.primary == {"CR", "PR", "NE"}
    assert shown.secondary == {"PD"}  # a detail row, not N, ORR or DCR
    assert recoverable(view, shown) == {}
    assert shown.text("PD", 16) == SUPPRESSED and shown.text("CR", 2) == "<5" and shown.text("SD", 7) == "7"


def test_a_count_the_fixed_total_gives_back_is_never_a_complement():
    # total (shown in the sidebar) = a + b; c is a forest row equal to the total. Hiding c would protect
    # nothing (it equals the total), so the complement of a is b, even though b is a headline count.
    view = CountView()
    view.add(("total",), 20, headline=True, fixed=True)
    view.add(("a",), 3)
    view.add(("b",), 17, headline=True)
    view.add(("c",), 20)
    view.add_sum(("total",), [("a",), ("b",)])
    view.add_sum(("c",), [("a",), ("b",)])
    shown = protect(view, 5)
    assert shown.primary == {("a",)} and shown.secondary == {("b",)}
    assert recoverable(view, shown) == {}


def test_relation_the_numbers_do_not_satisfy_is_not_kept():
    view = CountView()
    view.add("a", 2)
    view.add("b", 3)
    view.add("total", 9)
    view.add_sum("total", ["a", "b"])  # 2 + 3 != 9: not an identity a reader could use
    assert view.relations == []


def test_zeros_stay_shown_and_no_small_count_means_no_suppression():
    view = bor_view({"CR": 0, "PR": 6, "SD": 7, "PD": 16, "NE": 0})
    assert protect(view, 5) == Suppression(5)
    assert protect(view, 5).text("CR", 0) == "0"


def _brute_force_fixed(view: CountView, shown: Suppression) -> dict:
    """Hidden cells with one value over all integer solutions, by enumeration (small views only)."""
    hidden = sorted(shown.hidden)
    largest = max(view.counts.values())
    ranges = [range(1, shown.threshold) if k in shown.primary else range(0, largest + 1) for k in hidden]
    values = {k: set() for k in hidden}
    for combo in itertools.product(*ranges):
        counts = {**view.counts, **dict(zip(hidden, combo))}
        if all(lo - 1e-9 <= sum(c * counts[k] for k, c in coef.items()) <= hi + 1e-9
               for coef, lo, hi in view.relations):
            for k, v in zip(hidden, combo):
                values[k].add(v)
    return {k: next(iter(v)) for k, v in values.items() if len(v) == 1}


@pytest.mark.parametrize("seed", range(12))
def test_audit_matches_enumeration_of_integer_solutions(seed):
    rng = np.random.default_rng(seed)
    counts = dict(zip(LEVELS, rng.integers(0, 7, size=5).tolist()))
    view = bor_view(counts, dcr=bool(seed % 2))
    hidden = [k for k in view.counts if rng.random() < 0.4] or ["CR"]
    primary = frozenset(k for k in hidden if 0 < view.counts[k] < 5)
    shown = Suppression(5, primary, frozenset(set(hidden) - primary))
    assert recoverable(view, shown) == _brute_force_fixed(view, shown)


def test_two_way_table_needs_a_rectangle_of_hidden_cells():
    # rows: levels of one variable; columns A, B and their Overall; one small cell (B, x = 3)
    view = CountView()
    table = {("x", "A"): 10, ("x", "B"): 3, ("y", "A"): 20, ("y", "B"): 12}
    for key, n in table.items():
        view.add(key, n)
    for col in "AB":
        view.add(("N", col), table[("x", col)] + table[("y", col)], headline=True)
        view.add_sum(("N", col), [("x", col), ("y", col)])
    for row in "xy":
        view.add(("Overall", row), table[(row, "A")] + table[(row, "B")])
        view.add_sum(("Overall", row), [(row, "A"), (row, "B")])
    shown = protect(view, 5)
    assert recoverable(view, shown) == {}
    assert not shown.hidden & {("N", "A"), ("N", "B")}  # group sizes stay when detail cells suffice


def test_every_complement_is_needed(combined_sample):
    # Melanoma line 3+ (20 patients) by source: Table 1 and the response view. Showing any one complement
    # again gives a hidden count back: the greedy rounds leave no complement a later one made needless.
    df = combined_sample[(combined_sample["disease"] == "melanoma") & (combined_sample["line_of_il2"] >= 3)]
    table, rates = best_response_table(df, "source"), response_rates(df, "source")
    for view in (response_count_view(table, rates), table1(df, by="source").count_view()):
        shown = protect(view, 5)
        assert shown.secondary and recoverable(view, shown) == {}
        for cell in shown.secondary:
            again = Suppression(5, shown.primary, shown.secondary - {cell})
            assert recoverable(view, again), f"{cell} is hidden for nothing"


def test_response_views_of_the_sample_leave_nothing_recoverable(combined_sample):
    for disease, by in (("melanoma", "source"), ("rcc", "prior_pd1_pdl1_agent"), ("rcc", "source")):
        df = combined_sample[combined_sample["disease"] == disease]
        if by not in df:
            continue
        table, rates = best_response_table(df, by), response_rates(df, by)
        view = response_count_view(table, rates)
        shown = protect(view, 5)
        assert shown.primary, f"{disease} by {by}: expected small cells"
        assert recoverable(view, shown) == {}
        hidden_cells = [c for c in table.display(shown).to_numpy().ravel() if c.startswith(("<", SUPPRESSED))]
        assert hidden_cells and all(c.endswith("(–)") for c in hidden_cells)  # no percentage gives a count back


def test_table1_view_of_a_small_subgroup_leaves_nothing_recoverable(combined_sample):
    df = combined_sample[(combined_sample["disease"] == "melanoma") & (combined_sample["line_of_il2"] >= 3)]
    t1 = table1(df, "source")
    view = t1.count_view()
    shown = protect(view, 5)
    assert recoverable(view, shown) == {}
    shown_text = t1.display(shown).to_string()
    assert "(N=<5)" in shown_text


def test_without_suppression_displays_are_unchanged(combined_sample):
    df = combined_sample[combined_sample["disease"] == "melanoma"]
    t1 = table1(df, "source")
    assert t1.display(NO_SUPPRESSION).equals(t1.display())
    assert t1.display(Suppression(threshold=1)).equals(t1.display())  # formatted anew, not the table as built
