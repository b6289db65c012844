"""Response rates from counts: ORR and DCR per group from patients per (group, best overall response).

Response tables and their exact tests depend on the rows only through counts, so a registry
source's ``category_counts(schema.BOR, filter, group)`` (a SQL ``GROUP BY``) is all they need.
The arithmetic is :func:`il2lib.stats.proportion_ci` and :func:`il2lib.stats.compare_proportions`,
the functions :func:`il2lib.analyses.response.response_rates` uses, so the numbers are identical. CBR needs
the SD duration per patient and is computed from rows (or from counts of ``clinical_benefit``).
"""
from __future__ import annotations

import math
from typing import Literal

import pandas as pd

from il2lib import schema
from il2lib.errors import InsufficientDataError
from il2lib.stats import compare_proportions, proportion_ci

SUCCESS = {"orr": schema.RESPONDERS, "dcr": schema.DISEASE_CONTROL_LEVELS}


def response_rates_from_counts(counts: pd.DataFrame, outcomes=("orr", "dcr"),
                               ci_method: Literal["exact", "wilson"] = "exact",
                               denominator: Literal["itt", "evaluable"] = "itt",
                               conf_level: float = 0.95) -> tuple[pd.DataFrame, dict]:
    """Rates with CIs per group, and the between-group test per outcome, from (group, value, n) counts.

    Rows whose group or response is missing (or not a BOR level) are left out, as in
    ``response_rates``. ITT keeps NE in the denominator; "evaluable" leaves NE out.

    Returns
    -------
    (rates, tests): ``rates`` has group, outcome, responders, n, rate, ci_lower, ci_upper, n_ne;
    ``tests`` maps outcome -> :class:`il2lib.stats.TestResult` (when >= 2 groups), or to the
    reason no test was possible.

    References
    ----------
    Clopper CJ, Pearson ES (1934). Biometrika 26:404-413. Fisher RA (1922); Freeman GH, Halton JH (1951).
    """
    unknown = [o for o in outcomes if o not in SUCCESS]
    if unknown:
        raise ValueError(f"Outcome(s) {unknown} cannot be computed from response counts; use 'orr' or 'dcr'.")
    if denominator not in ("itt", "evaluable"):
        raise ValueError(f"Unknown denominator {denominator!r}; use 'itt' or 'evaluable'.")
    frame = counts[counts["value"].isin(schema.BOR_LEVELS)]
    if frame["group"].notna().any():
        frame = frame[frame["group"].notna()]
    keys = frame["group"].astype(object)
    by_group = frame.groupby(keys.where(keys.notna(), "All patients"), sort=True)
    rows, per_outcome = [], {o: [] for o in outcomes}
    for group, part in by_group:
        n_of = part.groupby("value")["n"].sum()
        n_ne = int(n_of.get("NE", 0))
        total = int(n_of.sum()) - (n_ne if denominator == "evaluable" else 0)
        for o in outcomes:
            yes = int(sum(n_of.get(level, 0) for level in SUCCESS[o]))
            per_outcome[o].append((yes, total - yes))
            ci = proportion_ci(yes, total, ci_method, conf_level) if total else None
            rows.append({"group": group, "outcome": o, "responders": yes, "n": total,
                         "rate": ci.estimate if ci else math.nan, "ci_lower": ci.lower if ci else math.nan,
                         "ci_upper": ci.upper if ci else math.nan, "n_ne": n_ne})
    tests: dict = {}
    for o, table in per_outcome.items():
        if len(table) >= 2:
            try:
                tests[o] = compare_proportions(table)
            except InsufficientDataError as err:
                tests[o] = str(err)
    return pd.DataFrame(rows), tests
