"""Fast concordance counts (O(n log^2 n)) against a direct pair-by-pair count of R's definition.

The definition (tests/reference/extra.json ``concordance_definition``): in a stratum, a pair is
comparable when the earlier time is an event; a subject censored at an event's time outlives it;
events at the same time are tied.y (tied.xy when the scores tie too). Counts must be equal exactly.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from il2lib.survival.cox_diagnostics import concordance_counts

REFERENCE = Path(__file__).parent / "reference" / "extra.json"


def direct_counts(time, event, score, strata) -> dict:
    """Every ordered pair (i event, j) checked one by one."""
    counts = dict.fromkeys(["concordant", "discordant", "tied.x", "tied.y", "tied.xy"], 0)
    for i in np.flatnonzero(event):
        for j in range(time.size):
            if j == i or strata[i] != strata[j]:
                continue
            if time[j] > time[i] or (time[j] == time[i] and not event[j]):
                key = ("concordant" if score[i] > score[j] else
                       "discordant" if score[i] < score[j] else "tied.x")
                counts[key] += 1
            elif time[j] == time[i] and j > i:  # each tied pair of events once
                counts["tied.xy" if score[i] == score[j] else "tied.y"] += 1
    return counts


def test_definition_is_the_one_recorded_from_r():
    definition = json.loads(REFERENCE.read_text())["concordance_definition"]
    assert "tied.x/2" in definition and "tied.y pairs are not comparable" in definition


@pytest.mark.parametrize("seed", range(40))
def test_counts_equal_direct_count_with_ties_and_strata(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50))
    time = rng.integers(0, 6, n).astype(float)
    event = rng.random(n) < 0.6
    score = rng.integers(0, 4, n) * 0.25
    strata = rng.integers(0, int(rng.integers(1, 4)), n)
    fast = concordance_counts(time, event, score, strata)
    assert {k: fast[k] for k in direct_counts(time, event, score, strata)} == direct_counts(
        time, event, score, strata)
    denom = fast["concordant"] + fast["discordant"] + fast["tied.x"]
    if denom:
        assert fast["concordance"] == pytest.approx((fast["concordant"] + fast["tied.x"] / 2) / denom, rel=1e-12)
    else:
        assert np.isnan(fast["concordance"])


def test_no_ties_perfect_ordering():
    time = np.arange(1.0, 11.0)
    event = np.ones(10, bool)
    counts = concordance_counts(time, event, -time, np.zeros(10))
    assert counts["concordant"] == 45 and counts["discordant"] == 0 and counts["concordance"] == 1.0
    reverse = concordance_counts(time, event, time, np.zeros(10))
    assert reverse["discordant"] == 45 and reverse["concordance"] == 0.0


def test_continuous_scores_on_a_larger_sample():
    rng = np.random.default_rng(7)
    n = 400
    time = np.round(rng.exponential(5, n), 0)
    event = rng.random(n) < 0.7
    score = rng.normal(size=n)
    strata = rng.integers(0, 2, n)
    fast = concordance_counts(time, event, score, strata)
    assert {k: fast[k] for k in direct_counts(time, event, score, strata)} == direct_counts(
        time, event, score, strata)
