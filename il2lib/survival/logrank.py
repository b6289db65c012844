"""k-group (weighted, stratified) log-rank test, exact to R's ``survdiff``.

lifelines differences: lifelines has no stratified log-rank; its ``weightings="peto"`` uses a
modified survival estimate, so R's ``rho = 1`` corresponds to lifelines'
``weightings="fleming-harrington", p=1, q=0``, which is what ``rho=1`` computes here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import chi2_sf
from il2lib.survival import _checks
from il2lib.survival._counting import Counts, count
from il2lib.survival.timefix import aeq_counts

MIN_EVENTS_PER_GROUP_FOR_HR = 5
ZERO_VARIANCE_NOTE = ("No test possible: the variance of the group differences is zero (for example, every event "
                      "happened at one time when each group had a single patient at risk).")


@dataclass(frozen=True)
class LogRankResult:
    """Result of :func:`logrank_test`. ``table``: group, n, events, observed, expected, var."""

    statistic: float
    df: int
    pvalue: float
    rho: float
    table: pd.DataFrame
    var_matrix: np.ndarray
    n: int
    n_events: int
    n_input: int
    excluded: _checks.Excluded
    stratified: bool
    warnings: tuple[str, ...]

    @property
    def n_note(self) -> str:
        return _checks.describe_n(self.n, self.n_input, self.excluded)

    @property
    def hazard_ratio_reportable(self) -> bool:
        """True when every group has at least 5 events (the project's rule for showing an HR)."""
        return bool((self.table["events"] >= MIN_EVENTS_PER_GROUP_FOR_HR).all())

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue, "rho": self.rho,
                              "stratified": self.stratified, "n": self.n, "n_events": self.n_events,
                              "n_note": self.n_note}])


def hazard_ratio_allowed(event, group, min_events: int = MIN_EVENTS_PER_GROUP_FOR_HR) -> bool:
    """The project's rule for reporting a hazard ratio: every group has at least ``min_events`` events.

    Rows with a missing event or group are ignored. ``LogRankResult.hazard_ratio_reportable`` and
    ``CoxResult.reportable`` apply the same rule.
    """
    codes, labels, missing = _checks.as_labels(group, "group")
    e = _checks.as_event(event)
    ok = ~missing & ~np.isnan(e)
    counts = np.bincount(codes[ok], weights=e[ok], minlength=len(labels))
    present = np.bincount(codes[ok], minlength=len(labels)) > 0
    return bool(present.any() and (counts[present] >= min_events).all())


def stratum_sums_from_counts(c: Counts, rho: float):
    """Observed, expected (G,), variance (G, G) and raw events (G,) of one stratum from its per-(group, time) counts:
    the log-rank's only arithmetic."""
    events = c.events.sum(axis=1)
    d_all = functools.reduce(np.add, c.events)  # row by row: contiguous adds
    has = np.flatnonzero(d_all)
    at_risk = c.at_risk
    n_risk = np.take(at_risk, has, axis=1).astype(float)
    deaths = np.take(c.events, has, axis=1).astype(float)
    d_all = d_all[has].astype(float)
    n_all = functools.reduce(np.add, n_risk)
    share = n_risk / n_all
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = d_all * (n_all - d_all) / (n_all - 1)
    factor[n_all <= 1] = 0.0
    if rho:
        w = np.concatenate([[1.0], np.cumprod(1.0 - d_all / n_all)[:-1]]) ** rho  # pooled KM S(t-)
        observed, d_all, factor = (w * deaths).sum(axis=1), w * d_all, factor * w**2
    else:
        observed = events.astype(float)
    expected = share @ d_all  # matrix-vector products: one BLAS pass per group
    weighted = factor * share
    var = np.diag(weighted.sum(axis=1)) - weighted @ share.T
    return observed, expected, var, events


def logrank_test(time, event, group, strata=None, rho: float = 0, timefix: bool = True) -> LogRankResult:
    """Log-rank test of k groups, Fleming-Harrington weighted and/or stratified, as R's ``survdiff``.

    Parameters
    ----------
    time, event : array-like
        Follow-up time (>= 0) and event indicator (0/1 or bool). Missing rows are excluded
        and counted; invalid values raise :class:`~il2lib.errors.SurvivalInputError`.
    group : array-like
        Group labels (missing = excluded and counted). Empty groups do not appear.
    strata : array-like, optional
        Stratum labels: observed, expected and variance are summed over strata.
    rho : float
        Weight S(t-)^rho with S the pooled Kaplan-Meier of the stratum (rho = 0 log-rank,
        rho = 1 Peto-Peto as in R).
    timefix : bool
        As R's ``survdiff(timefix = TRUE)``: times within R's tolerance of each other (over all strata)
        are one time (:mod:`il2lib.survival.timefix`).

    Returns
    -------
    LogRankResult
        ``statistic`` = (O - E)' V^- (O - E) over groups with expected > 0, ``df`` = number of such
        groups - 1. ``table.observed`` is the weighted count as R prints it; ``events`` the raw count.

    References
    ----------
    Mantel N (1966). Cancer Chemother Rep 50:163-170. Harrington DP, Fleming TR (1982).
    Biometrika 69:553-566. R ``survival::survdiff``.
    """
    codes, labels, missing = _checks.as_labels(group, "group")
    extra = {"without group": missing}
    s_codes = None
    if strata is not None:
        s_codes, _, s_missing = _checks.as_labels(strata, "stratum")
        extra["without stratum"] = s_missing
    data = _checks.clean_survival(time, event, extra)
    _checks.require_patients(data.time.size, "log-rank test")
    if data.keep is not None:
        codes = codes[data.keep]
        s_codes = None if s_codes is None else s_codes[data.keep]
    n_per = np.bincount(codes, minlength=len(labels))
    present = np.flatnonzero(n_per)
    if present.size < 2:
        raise InsufficientDataError("The log-rank test needs at least two groups with patients; "
                                    f"found {present.size}.")
    if present.size < len(labels):  # drop empty groups
        remap = np.full(len(labels), -1)
        remap[present] = np.arange(present.size)
        codes, labels, n_per = remap[codes], labels[present], n_per[present]
    g = present.size
    if s_codes is None:
        parts = [count(data.time, data.event, codes, g)]
    else:
        order = np.argsort(s_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(s_codes[order])) + 1
        parts = [count(data.time[idx], data.event[idx], codes[idx], g)
                 for idx in np.split(order, bounds)]  # loop over strata, not patients
    parts = aeq_counts(parts) if timefix else parts
    observed, expected, var, events = np.zeros(g), np.zeros(g), np.zeros((g, g)), np.zeros(g, dtype=np.int64)
    for c in parts:
        o, e, v, d = stratum_sums_from_counts(c, rho)
        observed, expected, var, events = observed + o, expected + e, var + v, events + d
    return logrank_result(labels, n_per, (observed, expected, var, events), rho, data.n_input, data.excluded,
                          strata is not None)


def logrank_result(labels, n_per, sums, rho, n_input, excluded, stratified) -> LogRankResult:
    """Assemble a :class:`LogRankResult` from the summed (observed, expected, var, events)."""
    observed, expected, var, events = sums
    statistic, df, pvalue, notes = _chisq(observed, expected, var)
    table = pd.DataFrame({"group": labels, "n": n_per, "events": events, "observed": observed,
                          "expected": expected, "var": np.diag(var)})
    return LogRankResult(statistic, df, pvalue, float(rho), table, var, int(np.sum(n_per)), int(events.sum()),
                         n_input, excluded, stratified, notes)


def _chisq(observed, expected, var):
    used = np.flatnonzero(expected > 0)
    df = used.size - 1
    if df < 1:
        return np.nan, max(df, 0), np.nan, ("No comparison possible: fewer than two groups have expected events.",)
    diff = (observed - expected)[used][1:]
    sub = var[np.ix_(used, used)][1:, 1:]
    try:
        statistic = float(diff @ np.linalg.solve(sub, diff))
    except np.linalg.LinAlgError:  # R's survdiff stops with "system is exactly singular" here
        return np.nan, int(df), np.nan, (ZERO_VARIANCE_NOTE,)
    return statistic, int(df), float(chi2_sf(statistic, df)), ()
