"""Minimal reproducers of crashes found by the robustness work (fuzzing, load test).

Each test names where the crash was found. They fail until the crash is fixed: no xfail, so a
regression is visible in ``make test``.
"""
from __future__ import annotations

import math

import numpy as np

from il2lib.errors import Il2libError


def test_gray_test_without_any_event_of_interest_is_not_a_linalg_crash():
    """Found by ``make load-test``: the Survival page's competing-risks tab raised
    ``numpy.linalg.LinAlgError: Singular matrix`` (an uncaught exception box on the page) for any
    cohort without progression events, e.g. an export that has no progression columns."""
    from il2lib.survival.competing import cumulative_incidence

    time = np.array([1.0, 2, 3, 4, 5, 6])
    status = np.array([0, 2, 0, 2, 0, 0])  # deaths without progression and censorings only
    group = np.array(["a", "a", "a", "b", "b", "b"])
    try:
        result = cumulative_incidence(time, status, group)
    except Il2libError:
        return  # a typed, explained refusal is fine
    gray = getattr(result, "gray", None)
    statistic = getattr(gray, "statistic", None) if gray is not None else None
    assert statistic is None or math.isnan(statistic) or math.isfinite(statistic)
