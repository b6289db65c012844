"""The Fisher-Freeman-Halton test stays bounded in work and memory: the exact enumeration is counted before
anything is listed, and a table with too many possible tables gets a seeded Monte Carlo p-value instead.

Hostile tables run in a child process under an address-space limit (tests/support/bounded_child.py); the tests check
the method used and the work counted, never the time taken.
"""
from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_stats import _brute_force_ffh

from il2lib import schema, stats as S
from il2lib._work import WorkCounter
from il2lib.stats._exact_rxc import EnumerationLimit, _compositions, count_compositions, exact_pvalue
from support.bounded_child import run_bounded

REF = Path(__file__).parent / "reference"
EXTRA = json.loads((REF / "extra.json").read_text())
ANALYSES = json.loads((REF / "analyses.json").read_text())
TOL = 1e-9

# Line of IL-2 (3 groups) x ECOG 0-4 with ECOG 4 rare, 12,789 patients.
REGISTRY_LINE_BY_ECOG = [[1500, 2000, 800, 95, 2], [1500, 2000, 800, 95, 1], [1500, 1600, 800, 95, 1]]
# Histology by a free-text source with 5 levels on a 428-row upload; one histology is rare.
HISTOLOGY_BY_SOURCE = {
    "Centre A": {"cutaneous": 64, "clear cell": 39, "mucosal": 15, "acral": 7, "uveal": 0},
    "Centre B": {"cutaneous": 53, "clear cell": 33, "mucosal": 12, "acral": 5, "uveal": 0},
    "Centre C": {"cutaneous": 43, "clear cell": 22, "mucosal": 11, "acral": 4, "uveal": 1},
    "Centre D": {"cutaneous": 35, "clear cell": 26, "mucosal": 6, "acral": 9, "uveal": 0},
    "Centre E": {"cutaneous": 28, "clear cell": 9, "mucosal": 6, "acral": 0, "uveal": 0},
}
# Passes the per-stage check (each column has few compositions) but needs more nodes than the limit allows.
WIDE_SEARCH = [[4, 8, 6, 8, 11], [7, 7, 5, 9, 15], [12, 9, 5, 7, 8]]
# 3 sources x 3 levels, one level rare: exact within the limit, but among the slowest tables that are (852,046 units).
SLOW_EXACT = [[129, 312, 1], [108, 245, 1], [67, 195, 1]]
# Six Table 1 variables whose table by source is SLOW_EXACT, in Table 1's order, with three of their levels.
SLOW_VARIABLES = {schema.ECOG: [0, 1, 2], schema.HISTOLOGY: ["cutaneous", "mucosal", "acral"],
                  schema.LDH_CATEGORY: list(schema.LDH_CATEGORIES), schema.LINE_OF_IL2: [1, 2, 3],
                  schema.PRIOR_PD1_AGENT: ["nivolumab", "pembrolizumab", "avelumab"], schema.BOR: ["CR", "PR", "SD"]}


def _work_or_refusal(tab, work_limit: int) -> dict:
    try:
        pvalue, work = exact_pvalue(np.asarray(tab), work_limit)
    except EnumerationLimit as stop:
        return {"exact": False, "work": stop.work}
    return {"exact": True, "work": work, "pvalue": pvalue}


def _registry_table_result() -> dict:
    res = S.compare_proportions(REGISTRY_LINE_BY_ECOG)
    return {**_work_or_refusal(np.asarray(REGISTRY_LINE_BY_ECOG), S.FFH_WORK_LIMIT), "test": res.test,
            "label": res.label, "pvalue": res.pvalue, "mc_se": res.mc_se, "note": res.note}


def _upload_frame() -> pd.DataFrame:
    histology, source = [], []
    for centre, counts in HISTOLOGY_BY_SOURCE.items():
        for level, n in counts.items():
            histology += [level] * n
            source += [centre] * n
    n = len(histology)
    return pd.DataFrame({schema.PATIENT_ID: [f"P{i:03d}" for i in range(n)], "source": source,
                         schema.HISTOLOGY: histology, schema.SEX: ["M", "F"] * (n // 2),
                         schema.AGE: [40 + i % 37 for i in range(n)]})


@contextlib.contextmanager
def _recording_exact_work() -> Iterator[list[int]]:
    """The work every exact attempt inside the block spends (refused attempts too), in order."""
    from il2lib.stats import _exact_rxc

    spent: list[int] = []
    exact = _exact_rxc.exact_pvalue

    def counted(tab, work_limit):
        try:
            pvalue, work = exact(tab, work_limit)
        except EnumerationLimit as stop:
            spent.append(stop.work)
            raise
        spent.append(work)
        return pvalue, work

    _exact_rxc.exact_pvalue = counted
    try:
        yield spent
    finally:
        _exact_rxc.exact_pvalue = exact


def _table1_by_source() -> dict:
    """Table 1 by the 5-level source, recording the work every exact attempt spent (child process only)."""
    from il2lib.analyses.table1 import table1

    with _recording_exact_work() as spent:
        t = table1(_upload_frame(), by="source")
    tests = t.tests.set_index("variable")
    return {"tests": tests["test"].to_dict(), "labels": tests["test_label"].to_dict(),
            "footnotes": [str(n) for n in t.footnotes],
            "p_column": t.display().set_index("Characteristic")["p-value"].to_dict(),
            "spent": spent}


def slow_tables_frame() -> pd.DataFrame:
    """1,059 patients of 3 sources; each of :data:`SLOW_VARIABLES` by source is :data:`SLOW_EXACT`."""
    rng = np.random.default_rng(0)
    source = np.repeat(["Site A", "Site B", "Site C"], [sum(row) for row in SLOW_EXACT])
    frame = {schema.PATIENT_ID: [f"S{i:04d}" for i in range(len(source))], "source": source}
    for column, levels in SLOW_VARIABLES.items():
        values = np.concatenate([rng.permutation(np.repeat(np.array(levels, dtype=object), row)) for row in SLOW_EXACT])
        frame[column] = values
    return pd.DataFrame(frame)


def _table1_with_six_slow_tables() -> dict:
    from il2lib.analyses.table1 import table1

    with _recording_exact_work() as spent:
        t = table1(slow_tables_frame(), by="source")
    return {"tests": t.tests.set_index("variable")["test"].to_dict(), "spent": spent}


def _wide_search_result() -> dict:
    rows = np.asarray(WIDE_SEARCH).sum(axis=1)
    widest = max(count_compositions(int(c), rows) for c in np.asarray(WIDE_SEARCH).sum(axis=0))
    res = S.fisher_freeman_halton(WIDE_SEARCH)
    return {**_work_or_refusal(WIDE_SEARCH, S.FFH_WORK_LIMIT), "widest": widest, "test": res.test}


def _monte_carlo_p(tab) -> float:
    return S.fisher_freeman_halton(tab, work_limit=0).pvalue


def _finished(outcome):
    assert not outcome.hung, "the computation hung"
    assert outcome.error is None, outcome.error
    return outcome.value


def test_registry_sized_table_gets_a_monte_carlo_p_value_without_enumerating():
    got = _finished(run_bounded(_registry_table_result))
    assert got["exact"] is False and got["work"] == 0  # refused before listing anything
    assert got["test"] == "fisher_freeman_halton_mc"
    assert "Monte Carlo, B = 10,000" in got["label"] and "Monte Carlo SE" in got["label"]
    assert got["mc_se"] == pytest.approx(math.sqrt(got["pvalue"] * (1 - got["pvalue"]) / 10_000))
    assert got["pvalue"] == pytest.approx(1 / 10_001)  # no random table is as improbable as this one
    assert "Monte Carlo standard error" in got["note"]


def test_table1_by_a_five_level_text_column_stays_within_the_work_limit():
    got = _finished(run_bounded(_table1_by_source))
    assert got["tests"][schema.HISTOLOGY] == "fisher_freeman_halton_mc"
    assert got["spent"] and max(got["spent"]) <= S.FFH_WORK_LIMIT
    assert "Monte Carlo, B = 10,000" in got["labels"][schema.HISTOLOGY]
    marker = got["p_column"][schema.label(schema.HISTOLOGY)][-1]
    assert f"{marker} Fisher-Freeman-Halton test (Monte Carlo, B = 10,000)" in got["footnotes"]
    per_variable = [n for n in got["footnotes"] if n.startswith(schema.label(schema.HISTOLOGY) + ":")]
    assert len(per_variable) == 1 and "Monte Carlo SE" in per_variable[0]


def test_table1_variables_share_one_exact_work_budget_then_get_monte_carlo_p_values():
    alone = exact_pvalue(np.asarray(SLOW_EXACT), S.FFH_WORK_LIMIT)[1]
    assert alone == 852_046 and 2 * alone <= S.FFH_ANALYSIS_WORK_LIMIT < 3 * alone  # each alone would be exact
    got = _finished(run_bounded(_table1_with_six_slow_tables))
    assert sum(got["spent"]) <= S.FFH_ANALYSIS_WORK_LIMIT
    assert [got["tests"][v] for v in SLOW_VARIABLES] == ["fisher_freeman_halton"] * 2 + ["fisher_freeman_halton_mc"] * 4


def test_a_shared_budget_caps_the_exact_work_and_records_what_was_spent():
    table = EXTRA["fisher_rxc"][1]["table"]
    work = exact_pvalue(np.asarray(table), S.FFH_WORK_LIMIT)[1]
    shared = WorkCounter("the exact tests of a table", work + 10)
    assert S.fisher_freeman_halton(table, shared=shared).test == "fisher_freeman_halton" and shared.work == work
    cut = S.fisher_freeman_halton(table, shared=shared)  # 10 units left
    assert cut.test == "fisher_freeman_halton_mc" and "in the work left to this analysis's exact tests" in cut.note
    assert work <= shared.work <= work + 10
    assert S.fisher_freeman_halton(table).test == "fisher_freeman_halton"  # without it, the test's own limit


def test_enumeration_stops_at_the_work_limit_inside_the_search():
    got = _finished(run_bounded(_wide_search_result))
    assert got["widest"] <= S.FFH_WORK_LIMIT  # the up-front count lets it start
    assert got["exact"] is False and got["work"] <= S.FFH_WORK_LIMIT
    assert got["test"] == "fisher_freeman_halton_mc"


def test_table_just_within_the_work_limit_stays_exact_and_matches_r():
    case = EXTRA["fisher_rxc"][1]  # R 4.2.2 fisher.test
    work = exact_pvalue(np.asarray(case["table"]), S.FFH_WORK_LIMIT)[1]
    res = S.fisher_freeman_halton(case["table"], work_limit=work)
    assert res.test == "fisher_freeman_halton"
    assert res.pvalue == pytest.approx(case["fisher_p"], abs=TOL)
    assert res.pvalue == pytest.approx(_brute_force_ffh(case["table"]), abs=TOL)
    assert S.fisher_freeman_halton(case["table"], work_limit=work - 1).test == "fisher_freeman_halton_mc"


@pytest.mark.parametrize("case", EXTRA["fisher_rxc"] + ANALYSES["fisher_rxc"], ids=lambda c: str(c["table"]))
def test_monte_carlo_p_agrees_with_the_exact_p_within_four_standard_errors(case):
    # R's fisher.test(x, simulate.p.value = TRUE) is random too: compare with R's exact p within Monte Carlo error.
    res = S.fisher_freeman_halton(case["table"], work_limit=0)
    p = case["fisher_p"]
    assert res.test == "fisher_freeman_halton_mc" and res.replicates == S.FFH_MC_REPLICATES
    assert abs(res.pvalue - p) <= 4 * math.sqrt(p * (1 - p) / S.FFH_MC_REPLICATES)
    count = res.pvalue * (S.FFH_MC_REPLICATES + 1) - 1  # p = (1 + count) / (B + 1), as R
    assert count == pytest.approx(round(count), abs=1e-6)


def test_monte_carlo_p_is_the_same_on_every_run():
    tab = ANALYSES["fisher_rxc"][0]["table"]
    first = _monte_carlo_p(tab)
    assert _monte_carlo_p(tab) == first
    assert _finished(run_bounded(_monte_carlo_p, tab)) == first
    other_seed = S.fisher_freeman_halton(tab, work_limit=0, seed=S.FFH_MC_SEED + 1).pvalue
    assert other_seed != first  # the seed, not a cache, makes the runs agree


def test_monte_carlo_is_refused_before_drawing_when_the_tables_are_too_large():
    many_levels = np.ones((51, 50), dtype=int)  # 2,550 cells x 10,000 tables > FFH_MC_CELL_LIMIT
    res = _finished(run_bounded(S.fisher_freeman_halton, many_levels))
    assert res.test == "chi_square" and "chi-square used instead" in res.note


@pytest.mark.parametrize("seed", range(20))
def test_compositions_are_counted_exactly_without_listing_them(seed):
    rng = np.random.default_rng(seed)
    caps = rng.integers(0, 9, size=int(rng.integers(1, 6)))
    total = int(rng.integers(0, caps.sum() + 1))
    listed = _compositions(total, caps, budget=10**6)
    assert len(listed) == count_compositions(total, caps)
    assert (listed.sum(axis=1) == total).all() and (listed <= caps).all() and (listed >= 0).all()
    assert len(np.unique(listed, axis=0)) == len(listed)
    assert _compositions(total, caps, budget=len(listed) - 1) is None
