"""Kaplan-Meier estimation, exact to R's ``survfit`` (survival 3.5).

Differences from lifelines (0.30.3), on purpose, so that numbers match R:

* lifelines' band is R's ``conf.type="log-log"``; R's own default is ``"log"``. Both are offered,
  with ``"log-log"`` as this project's default (SAS and lifelines).
* The median follows R's ``quantile.survfit``: when S(t) = 0.5 exactly over a flat stretch the
  median is the midpoint to the next event time (lifelines takes the first time).
* ``rmst`` gives R's standard error of the restricted mean; lifelines' ``return_variance`` is
  the variance of min(T, tau) in the population, not the sampling variance of the estimate.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from il2lib.stats.distributions import norm_ppf
from il2lib.survival import _checks
from il2lib.survival._counting import count, count_each_group
from il2lib.survival.timefix import aeq_counts

ConfType = Literal["log", "log-log", "plain"]
TABLE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "survival", "std_err", "ci_lower", "ci_upper")
_TOL = float(np.sqrt(np.finfo(float).eps))
#: Times (months) at which the pages and the report show survival with its CI.
MILESTONE_MONTHS = (12.0, 24.0, 36.0)
#: What an estimate at a time with fewer patients at risk than the small-cell threshold reads.
TOO_FEW_AT_RISK = "–"


def too_few_at_risk(n_risk, small_cell_threshold: int | None) -> np.ndarray:
    """Small-cell protection of an estimate at a time (survival, cumulative incidence, a difference of them): True
    where fewer than ``small_cell_threshold`` patients remain at risk, where the curves stop (see
    :func:`il2lib.figures.km.rows_with_enough_at_risk`): a later step gives its number of events back. All False
    without a threshold."""
    n = np.asarray(n_risk)
    return np.zeros(n.shape, dtype=bool) if small_cell_threshold is None else n < small_cell_threshold


def format_months(value, digits: int = 1) -> str:
    """A time in months for a table: ``"NR"`` (not reached) when it is missing or infinite."""
    if value is None or pd.isna(value) or not math.isfinite(float(value)):
        return "NR"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time up to ``tau``, with R's standard error and a normal CI."""

    tau: float
    rmst: float
    se: float
    ci: tuple[float, float]

    def to_frame(self) -> pd.DataFrame:
        """One row: tau, rmst, se, ci_lower, ci_upper."""
        return pd.DataFrame([{"tau": self.tau, "rmst": self.rmst, "se": self.se,
                              "ci_lower": self.ci[0], "ci_upper": self.ci[1]}])


@dataclass(frozen=True)
class KaplanMeierResult:
    """One Kaplan-Meier curve. ``table`` has one row per distinct time (events and censorings)."""

    table: pd.DataFrame
    median: float
    median_ci: tuple[float, float]
    conf_type: str
    conf_level: float
    n: int
    n_events: int
    n_input: int
    excluded: _checks.Excluded
    se_log: np.ndarray  # Greenwood SE of -log S (R's std.err), one per table row

    @property
    def n_note(self) -> str:
        """'n = 48 of 50 (2 without time)'."""
        return _checks.describe_n(self.n, self.n_input, self.excluded)

    def note_with(self, count) -> str:
        """:attr:`n_note` with each count written by ``count(key, n)`` (keys ``("used",)``, ``("total",)``,
        ``("left out", reason)``; e.g. a small-cell ``Suppression.text``)."""
        return _checks.describe_n(self.n, self.n_input, self.excluded, count)

    def _index(self, times) -> tuple[np.ndarray, np.ndarray]:
        t = np.atleast_1d(np.asarray(times, dtype=float))
        return t, np.searchsorted(self.table["time"].to_numpy(), t, side="right") - 1

    def at_risk(self, times) -> np.ndarray:
        """Number at risk at each time (patients with time >= t), as survminer's risk table."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        tab_t = self.table["time"].to_numpy()
        exits = (self.table["n_event"] + self.table["n_censor"]).to_numpy()
        after = np.concatenate([np.cumsum(exits[::-1])[::-1], [0]])
        return after[np.searchsorted(tab_t, t, side="left")].astype(np.int64)

    def median_text(self) -> str:
        """The median and its 95% CI in months, as the tables show it: "12.3 (8.1–20.5)", "NR" where not reached."""
        lo, hi = self.median_ci
        return f"{format_months(self.median)} ({format_months(lo)}–{format_months(hi)})"

    def milestone_texts(self, times=MILESTONE_MONTHS, small_cell_threshold: int | None = None) -> dict[str, str]:
        """``{"12 mo": "45% (30–60)", ...}``: survival at each of ``times`` with its CI; "—" beyond the last
        observed time, and "–" (:data:`TOO_FEW_AT_RISK`) where fewer than ``small_cell_threshold`` patients
        remain at risk (small-cell protection: :func:`too_few_at_risk`)."""
        at = self.survival_at(list(times))
        few = too_few_at_risk(at["n_risk"], small_cell_threshold)
        return {f"{t:g} mo": "—" if pd.isna(s) else TOO_FEW_AT_RISK if small
                else f"{100 * s:.0f}% ({100 * lo:.0f}–{100 * hi:.0f})"
                for t, s, lo, hi, small in zip(times, at["survival"], at["ci_lower"], at["ci_upper"], few)}

    def survival_at(self, times) -> pd.DataFrame:
        """S(t) with its CI at each time (right-continuous step function).

        Before the first time S = 1 with CI [1, 1]; after the last observed time the estimate is
        undefined and NaN is returned (R's ``summary(fit, times=)`` without ``extend``).
        """
        t, idx = self._index(times)
        cols = {}
        for name in ("survival", "ci_lower", "ci_upper"):
            values = np.concatenate([[1.0], self.table[name].to_numpy(dtype=float)])
            cols[name] = values[idx + 1]
        beyond = t > (self.table["time"].iloc[-1] if len(self.table) else 0.0)
        for name in cols:
            cols[name] = np.where(beyond, np.nan, cols[name])
        return pd.DataFrame({"time": t, **cols, "n_risk": self.at_risk(t)})

    def rmst(self, tau: float) -> RMSTResult:
        """Restricted mean survival to ``tau`` and its SE, as R's ``print(fit, rmean=tau)``.

        Notes
        -----
        RMST = integral of S from 0 to tau. Var = sum over times t_j <= tau of
        A_j^2 d_j / (n_j (n_j - d_j)), with A_j the area under S from t_j to tau and the term set to
        0 where n_j = d_j (R's ``survmean``).
        """
        tab = self.table
        keep = tab["time"].to_numpy() <= tau
        t = np.append(tab["time"].to_numpy()[keep], tau)
        s = tab["survival"].to_numpy()[keep]
        n_r, d = tab["n_risk"].to_numpy()[keep], tab["n_event"].to_numpy()[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            hh = np.where(n_r - d == 0, 0.0, d / (n_r * (n_r - d)))
        rect = np.diff(np.concatenate([[0.0], t])) * np.concatenate([[1.0], s])
        area_after = np.cumsum(rect[::-1])[::-1][1:]  # area from t_j to tau, j = 1..m
        se = float(np.sqrt(np.sum(area_after**2 * hh)))
        mean = float(rect.sum())
        z = norm_ppf(0.5 + self.conf_level / 2)
        return RMSTResult(float(tau), mean, se, (mean - z * se, mean + z * se))

    def to_frame(self) -> pd.DataFrame:
        """One-row summary: n, events, median and CI, settings."""
        return pd.DataFrame([{"n": self.n, "n_events": self.n_events, "median": self.median,
                              "median_lower": self.median_ci[0], "median_upper": self.median_ci[1],
                              "conf_type": self.conf_type, "conf_level": self.conf_level,
                              "n_input": self.n_input, "n_note": self.n_note}])


@dataclass(frozen=True)
class GroupedKaplanMeier(Mapping):
    """Kaplan-Meier curves per group, computed in one pass. Maps group label -> result."""

    results: dict
    n_input: int
    excluded: _checks.Excluded

    @property
    def groups(self) -> tuple:
        return tuple(self.results)

    def __getitem__(self, key) -> KaplanMeierResult:
        return self.results[key]

    def __iter__(self) -> Iterator:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def to_frame(self) -> pd.DataFrame:
        frames = [r.to_frame().assign(group=g) for g, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["group"] + [c for c in out.columns if c != "group"]]


def _zero_tail(surv: np.ndarray) -> int:
    """Index of the first S = 0 (S is non-increasing, so the zeros are a tail)."""
    return _first_true(surv.size, lambda j: surv[j] <= 0.0)


def confidence_band(surv: np.ndarray, se_log: np.ndarray, conf_type: ConfType, z: float,
                    out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits as R's ``survfit`` (``std.err`` = SE of -log S).

    log: exp(log S -+ z se), upper capped at 1; log-log: exp(-exp(log(-log S) -+ z se / log S)),
    with [1, 1] where S = 1 (R gives NA there); plain: S -+ z se S clipped to [0, 1].
    Limits are NaN where S = 0 (R's NA). ``out`` (2, k) receives (lower, upper) if given.
    """
    lower, upper = (np.empty_like(surv), np.empty_like(surv)) if out is None else (out[0], out[1])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * se_log * surv
            np.maximum(surv - half, 0.0, out=lower)
            np.minimum(surv + half, 1.0, out=upper)
        elif conf_type == "log":  # S exp(-+ z se), the same as exp(log S -+ z se)
            factor = np.exp(z * se_log)
            np.divide(surv, factor, out=lower)
            np.minimum(surv * factor, 1.0, out=upper)
            lower[_zero_tail(surv):], upper[_zero_tail(surv):] = np.nan, np.nan
        elif conf_type == "log-log":  # S ** exp(-+ z se / log S), the same as exp(-exp(log(-log S) -+ ...))
            log_s = np.log(surv)
            factor = np.exp(z * se_log / log_s)
            np.exp(log_s / factor, out=lower)
            np.exp(log_s * factor, out=upper)
            ones = _first_true(surv.size, lambda j: surv[j] < 1.0)  # S is non-increasing: S = 1 is a prefix
            lower[:ones], upper[:ones] = 1.0, 1.0
            lower[_zero_tail(surv):], upper[_zero_tail(surv):] = np.nan, np.nan
        else:
            raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}.")
    return lower, upper


def _first_true(n: int, predicate) -> int:
    """Bisection: the first index in [0, n) where a monotone predicate holds, n if none."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _curve_quantile(time: np.ndarray, curve: np.ndarray, n_valid: int, check_monotone: bool,
                    p: float = 0.5, tol: float = _TOL) -> float:
    """R's ``findq`` (quantile.survfit) on y = 1 - curve against x = time, R's leading (0, 0) implied.

    ``curve`` is S or a band limit: curve[:n_valid] finite, curve[n_valid:] NaN (the band after S
    reaches 0). On a non-increasing curve the answer is found by bisection with R's own float
    arithmetic (1 - c, then +- tol), so no array pass is needed; any other curve goes to the
    literal port :func:`_findq_general`. When the curve sits at 1 - p (within tol) up to its end,
    the median is the midpoint of where it got there and the last time.
    """
    head = curve[:n_valid]
    if check_monotone and not np.all(head[1:] <= head[:-1]):
        return _findq_general(np.concatenate([[0.0], time]), np.concatenate([[0.0], 1 - curve]), p, tol)
    if n_valid == 0 or 1.0 - head[-1] < p:  # never reaches p (max of y is its last value)
        return np.nan
    i1 = _first_true(n_valid, lambda j: (1.0 - head[j]) + tol >= p)
    i2 = _first_true(n_valid, lambda j: (1.0 - head[j]) - tol >= p)
    if n_valid == curve.size and abs(p - (1.0 - head[-1])) < tol:  # a flat at p up to the end
        return float((time[i1] + time[-1]) / 2)
    return float((time[i1] + (time[i2] if i2 < n_valid else np.nan)) / 2)


def _findq_general(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """Literal port of R's ``findq`` for any curve (duplicates dropped, NaN skipped by approx)."""
    valid = ~np.isnan(y)
    if not valid.any() or y[valid].max() < p:
        return np.nan
    xmax = x[-1]
    _, first = np.unique(np.where(valid, y, np.inf), return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    i1, i2 = _approx_constant_right(y + tol, p), _approx_constant_right(y - tol, p)
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and i1 is not None:
        return float((x[i1] + xmax) / 2)
    if i1 is None or i2 is None:
        return np.nan
    return float((x[i1] + x[i2]) / 2)


def _approx_constant_right(knots: np.ndarray, p: float) -> int | None:
    """Index returned by R's ``approx(knots, seq_along(knots), p, method="constant", f=1)``."""
    valid = np.flatnonzero(~np.isnan(knots))
    if valid.size == 0:
        return None
    order = valid[np.argsort(knots[valid], kind="stable")]
    v = knots[order]
    if p < v[0] or p > v[-1]:
        return None
    k = int(np.searchsorted(v, p, side="right"))
    if v[k - 1] == p or k == v.size:
        return int(order[k - 1])
    return int(order[k])


def km_from_counts(time, n_risk, n_event, n_censor, conf_type: ConfType = "log-log", conf_level: float = 0.95,
                   n_input: int | None = None, excluded: _checks.Excluded = ()) -> KaplanMeierResult:
    """Build a :class:`KaplanMeierResult` from per-time counts (rows with at least one exit)."""
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level}.")
    k = len(time)
    floats = np.empty((5, k))  # time, survival, std_err, ci_lower, ci_upper: one pandas block, no copy
    ints = np.empty((3, k), dtype=np.int64)  # n_risk, n_event, n_censor
    floats[0], ints[0], ints[1], ints[2] = time, n_risk, n_event, n_censor
    time, n_risk, n_event = floats[0], ints[0], ints[1]
    surv = floats[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        np.cumprod(1.0 - n_event / n_risk, out=surv)
        increments = n_event / (n_risk * (n_risk - n_event).astype(float))  # inf once n = d
        se_log = np.sqrt(np.cumsum(increments))
    if k and not np.isfinite(se_log[-1]):  # cumsum is monotone: only a tail can be infinite
        se_log[np.searchsorted(se_log, np.inf):] = np.nan
    np.multiply(se_log, surv, out=floats[2])
    z = float(norm_ppf(0.5 + conf_level / 2))
    lower, upper = confidence_band(surv, se_log, conf_type, z, out=floats[3:5])
    table = pd.DataFrame(floats.T, columns=["time", "survival", "std_err", "ci_lower", "ci_upper"], copy=False)
    for position, name in enumerate(("n_risk", "n_event", "n_censor"), start=1):
        table.insert(position, name, ints[position - 1])
    positive = _zero_tail(surv)  # rows before S = 0: the band is NaN after them
    median = _curve_quantile(time, surv, k, check_monotone=False)
    median_ci = tuple(_curve_quantile(time, band, positive, check_monotone=True) for band in (lower, upper))
    n = int(n_risk[0]) if n_risk.size else 0
    return KaplanMeierResult(table, median, median_ci, conf_type, conf_level, n, int(n_event.sum()),
                             n if n_input is None else n_input, excluded, se_log)


def kaplan_meier(time, event, conf_level: float = 0.95, conf_type: ConfType = "log-log", by=None,
                 timefix: bool = True):
    """Kaplan-Meier estimate with Greenwood standard errors, pointwise CIs, median and RMST.

    Parameters
    ----------
    time : array-like of float
        Follow-up time (>= 0, finite). Missing (NaN/None/pd.NA) rows are excluded and counted.
    event : array-like of 0/1 or bool
        1/True = event, 0/False = censored. Missing rows are excluded and counted; any other
        value raises :class:`~il2lib.errors.SurvivalInputError`.
    conf_level : float
        Confidence level of the pointwise band and of the median CI.
    conf_type : {"log", "log-log", "plain"}
        Transformation of the band, as R's ``conf.type``. R's default is "log"; "log-log" (the
        default here) is SAS's and lifelines'.
    by : array-like, optional
        Group labels. Every group is computed in the same counting pass and a
        :class:`GroupedKaplanMeier` is returned (categories order for a Categorical, else sorted).
    timefix : bool
        As R's ``survfit(timefix = TRUE)``: times within R's tolerance of each other (over all groups)
        are one time (:mod:`il2lib.survival.timefix`).

    Returns
    -------
    KaplanMeierResult or GroupedKaplanMeier

    Notes
    -----
    S(t) = prod_{t_j <= t} (1 - d_j / n_j). Greenwood: Var(-log S) = sum d_j / (n_j (n_j - d_j));
    ``table.std_err`` is the SE of S itself (R's ``std.err * surv``, i.e. ``std.err.surv``);
    ``se_log`` holds R's ``std.err``. A censoring tied with an event at the same time is still at
    risk at that time (R's convention). The median and its CI follow ``quantile.survfit``.

    References
    ----------
    Kaplan EL, Meier P (1958). JASA 53:457-481. Greenwood M (1926). Kalbfleisch JD, Prentice RL
    (2002), The Statistical Analysis of Failure Time Data. Therneau T, R package ``survival``.
    """
    if conf_type not in ("log", "log-log", "plain"):
        raise ValueError(f"conf_type must be 'log', 'log-log' or 'plain', got {conf_type!r}.")
    if by is None:
        data = _checks.clean_survival(time, event)
        _checks.require_patients(data.time.size, "Kaplan-Meier estimate")
        c = count(data.time, data.event)
        c = aeq_counts([c])[0] if timefix else c
        exits, events = c.exits[0], c.events[0]
        return km_from_counts(c.time, c.at_risk[0], events, exits - events, conf_type, conf_level,
                              data.n_input, data.excluded)
    codes, labels, missing = _checks.as_labels(by, "group")
    data = _checks.clean_survival(time, event, {"without group": missing})
    _checks.require_patients(data.time.size, "Kaplan-Meier estimate")
    codes = codes if data.keep is None else codes[data.keep]
    per_group = count_each_group(data.time, data.event, codes, len(labels))
    per_group = aeq_counts(per_group) if timefix else per_group
    results = {}
    for label, c in zip(labels, per_group):  # per group
        if c.time.size:
            ev, ex = c.events[0], c.exits[0]
            results[label] = km_from_counts(c.time, c.at_risk[0], ev, ex - ev, conf_type, conf_level)
    return GroupedKaplanMeier(results, data.n_input, data.excluded)
