"""Competing risks: Aalen-Johansen cumulative incidence and Gray's k-sample test.

Progression with death without progression as the competing event is the registry's use: the
Kaplan-Meier complement of PFS-censored-at-death overstates the probability of progression, the
cumulative incidence function (CIF) does not.

Validated against R's ``cmprsk::cuminc`` (estimates, variances, Gray's test) and
``survival::survfit`` multi-state output (Aalen-Johansen estimate and its SE); see
``tests/reference/scripts/make_survival_extended.R``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib._work import WorkCounter
from il2lib.errors import InsufficientDataError, SurvivalInputError, WorkLimitExceeded
from il2lib.stats.distributions import chi2_sf, norm_ppf
from il2lib.survival import _checks
from il2lib.survival.km import too_few_at_risk

#: status codes of :func:`cumulative_incidence`: 0 censored, 1 event of interest, 2 competing event
CENSORED, CAUSE, COMPETING = 0, 1, 2
#: Work Gray's test may spend: each distinct time of a stratum is one step of a Python loop, charged
#: GRAY_STEP_BASE (its fixed cost) + groups^2 (its matrix updates) units. About 8e-7 s a unit here: the
#: limit keeps the test within about 4 s (some 45,000 distinct times for three groups).
GRAY_WORK_LIMIT = 5_000_000
GRAY_STEP_BASE = 100
#: Times (months) at which the Survival page and the report show the cumulative incidence.
CIF_MONTHS = (6.0, 12.0, 24.0)
CIF_COLUMNS = ("time", "n_risk", "n_event", "n_competing", "n_censor", "cif", "variance", "ci_lower", "ci_upper")


@dataclass(frozen=True)
class CIFResult:
    """Cumulative incidence of the event of interest in one group.

    ``table``: one row per distinct time with ``n_risk, n_event, n_competing, n_censor, cif``,
    ``variance`` (cmprsk's delta-method variance, as ``timepoints(cuminc(...))$var``) and a
    pointwise CI on the log(-log) scale built from it (``ci_lower``, ``ci_upper``; cmprsk itself
    prints no CI): F^exp(+-z sd / (F log F)).
    """

    table: pd.DataFrame
    n: int
    n_events: int
    n_competing: int
    conf_level: float

    def to_frame(self) -> pd.DataFrame:
        """``table``: one row per distinct time."""
        return self.table.copy()

    def at(self, times) -> pd.DataFrame:
        """CIF, variance and CI at the given times (step function, right-continuous; NaN beyond the last time)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        idx = np.searchsorted(self.table["time"].to_numpy(), t, side="right") - 1
        out = {"time": t}
        for name, first in (("cif", 0.0), ("variance", 0.0), ("ci_lower", 0.0), ("ci_upper", 0.0)):
            values = np.concatenate([[first], self.table[name].to_numpy(dtype=float)])
            out[name] = values[idx + 1]
        beyond = t > (self.table["time"].iloc[-1] if len(self.table) else 0.0)
        for name in ("cif", "variance", "ci_lower", "ci_upper"):
            out[name] = np.where(beyond, np.nan, out[name])
        return pd.DataFrame(out)

    def at_risk(self, times) -> np.ndarray:
        """Number at risk at each time (patients whose time is >= t)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        n_risk = np.append(self.table["n_risk"].to_numpy(dtype=np.int64), 0)
        return n_risk[np.searchsorted(self.table["time"].to_numpy(), t, side="left")]


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's test of equal cumulative incidence across groups (``cmprsk::cuminc``'s ``Tests``)."""

    statistic: float
    df: int
    pvalue: float
    rho: float
    score: np.ndarray
    variance: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row: statistic, df, pvalue, rho."""
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue, "rho": self.rho}])


@dataclass(frozen=True)
class CompetingRisksResult:
    """CIF per group for the event of interest and of the competing event, plus Gray's test."""

    cif: dict  # group -> CIFResult (event of interest)
    competing_cif: dict  # group -> CIFResult (competing event)
    gray: GrayTestResult | None
    n: int
    n_input: int
    excluded: _checks.Excluded
    event_label: str
    competing_label: str
    gray_note: str = ""  # why Gray's test is missing when it was refused by its work limit

    @property
    def n_note(self) -> str:
        return _checks.describe_n(self.n, self.n_input, self.excluded)

    def to_frame(self) -> pd.DataFrame:
        """Every curve's table (:data:`CIF_COLUMNS`), after its group and event (label): the event of interest,
        then the competing event."""
        frames = [res.to_frame().assign(group=group, event=label)
                  for label, results in ((self.event_label, self.cif), (self.competing_label, self.competing_cif))
                  for group, res in results.items()]
        return pd.concat(frames, ignore_index=True)[["group", "event", *CIF_COLUMNS]]

    def at(self, times) -> pd.DataFrame:
        """Tidy table: group, event (label), time, cif, ci_lower, ci_upper."""
        frames = []
        for label, results in ((self.event_label, self.cif), (self.competing_label, self.competing_cif)):
            for group, res in results.items():
                frames.append(res.at(times).assign(group=group, event=label))
        out = pd.concat(frames, ignore_index=True)
        return out[["group", "event", "time", "cif", "ci_lower", "ci_upper"]]

    def too_few_at_risk(self, times, small_cell_threshold: int | None) -> np.ndarray:
        """Small-cell protection (:func:`il2lib.survival.km.too_few_at_risk`): the rows of :meth:`at` at a time
        where fewer than ``small_cell_threshold`` patients of the group remain at risk; their estimates are
        not shown. All False without a threshold."""
        n_risk = [res.at_risk(times) for results in (self.cif, self.competing_cif) for res in results.values()]
        return too_few_at_risk(np.concatenate(n_risk), small_cell_threshold)


def _status(values) -> np.ndarray:
    arr = _checks.as_float(values, "status")
    bad = ~np.isnan(arr) & ~np.isin(arr, (CENSORED, CAUSE, COMPETING))
    if bad.any():
        raise SurvivalInputError(f"status must be 0 (censored), 1 (event) or 2 (competing event); found "
                                 f"{int(bad.sum())} other value(s).")
    return arr


def _cif_one(time: np.ndarray, status: np.ndarray, cause: int, conf_level: float) -> CIFResult:
    """Aalen-Johansen CIF of ``cause`` in one group, with the variance ``cmprsk::cuminc`` reports."""
    times, inverse = np.unique(time, return_inverse=True)
    k = times.size
    d_cause = np.bincount(inverse, weights=(status == cause).astype(float), minlength=k)
    d_other = np.bincount(inverse, weights=((status != cause) & (status != CENSORED)).astype(float), minlength=k)
    exits = np.bincount(inverse, minlength=k).astype(float)
    n_risk = np.cumsum(exits[::-1])[::-1]
    surv = np.cumprod(1.0 - (d_cause + d_other) / n_risk)  # all-cause KM, S(t)
    surv_before = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(surv_before * d_cause / n_risk)
    variance = _cif_variance(n_risk, d_cause, d_other, surv_before, surv, cif)
    lower, upper = _loglog_band(cif, variance, conf_level)
    table = pd.DataFrame({"time": times, "n_risk": n_risk.astype(np.int64), "n_event": d_cause.astype(np.int64),
                          "n_competing": d_other.astype(np.int64),
                          "n_censor": (exits - d_cause - d_other).astype(np.int64), "cif": cif,
                          "variance": variance, "ci_lower": lower, "ci_upper": upper})
    return CIFResult(table, int(time.size), int(d_cause.sum()), int(d_other.sum()), conf_level)


def _cif_variance(n_risk, d_cause, d_other, surv_before, surv, cif) -> np.ndarray:
    """Delta-method variance of the CIF with tie corrections (Gray's ``cinc``; Aalen 1978).

    V(t) = v1 + F(t)^2 v3 - 2 F(t) v2, where each event time adds w = S(t-)^2 (1 - (d-1)/(n-1)) d / n^2
    times (a^2, a b, b^2): competing deaths with a = F/S(t), b = 1/S(t); events of interest with
    a = 1 + F/S(t), b = 1/S(t). V changes at times of the event of interest only, as in cmprsk.
    """
    def weight(d, n, s_prev):
        ties = np.where(d > 1, 1.0 - (d - 1) / np.maximum(n - 1, 1), 1.0)
        return s_prev**2 * ties * d / n**2

    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(surv > 0, 1.0 / surv, 0.0)
    a_other = cif * b
    use_other = (d_other > 0) & (surv > 0)
    w_other = np.where(use_other, weight(d_other, n_risk, surv_before), 0.0)
    w_cause = np.where(d_cause > 0, weight(d_cause, n_risk, surv_before), 0.0)
    a_cause = 1.0 + b * cif
    v1 = np.cumsum(a_other**2 * w_other + a_cause**2 * w_cause)
    v2 = np.cumsum(b * a_other * w_other + b * a_cause * w_cause)
    v3 = np.cumsum(b**2 * (w_other + w_cause))
    at_cause = v1 + cif**2 * v3 - 2 * cif * v2
    # carry the last value at a time of the event of interest forward (0 before the first one)
    last = np.maximum.accumulate(np.where(d_cause > 0, np.arange(cif.size), -1))
    return np.where(last >= 0, at_cause[np.maximum(last, 0)], 0.0)


def _loglog_band(cif: np.ndarray, variance: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI on the log(-log) scale: F^exp(+-z sd / (F log F)); [0, 0] where F = 0."""
    z = norm_ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        half = z * np.sqrt(variance) / (cif * np.log(cif))
        lower, upper = cif ** np.exp(-half), cif ** np.exp(half)
    inside = (cif > 0) & (cif < 1)
    lower = np.where(inside, np.minimum(lower, upper), np.where(cif >= 1, np.nan, 0.0))
    upper = np.where(inside, np.maximum(lower, upper), np.where(cif >= 1, np.nan, 0.0))
    return lower, upper


def gray_test(time, status, group, cause: int = CAUSE, rho: float = 0.0, strata=None,
              work_limit: int | None = None) -> GrayTestResult:
    """Gray's k-sample test of equal cumulative incidence of ``cause``, as ``cmprsk::cuminc``.

    Notes
    -----
    Compares weighted averages of the subdistribution hazards of each group with the pooled one;
    weights (1 - F(t-))^rho. The score of the first k-1 groups and its variance follow Gray
    (1988); statistic = s' V^-1 s ~ chi-square(k-1). Strata add their scores and variances.

    The loop runs over the distinct times of each stratum: its work (see :data:`GRAY_WORK_LIMIT`)
    is counted before it starts, and past ``work_limit`` it raises
    :class:`~il2lib.errors.WorkLimitExceeded`.

    References
    ----------
    Gray RJ (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. Ann Stat 16:1141-1154. R package ``cmprsk`` (``cuminc``).
    """
    st = _status(status)
    codes, labels, missing = _checks.as_labels(group, "group")
    extra = {"without group": missing}
    s_codes = np.zeros(st.size, dtype=np.int64)
    if strata is not None:
        s_codes, _, s_missing = _checks.as_labels(strata, "stratum")
        extra["without stratum"] = s_missing
    data = _checks.clean_survival(time, np.where(np.isnan(st), np.nan, st > 0), extra)
    keep = np.ones(st.size, dtype=bool) if data.keep is None else data.keep
    st, codes, s_codes = st[keep], codes[keep], s_codes[keep]
    present = np.unique(codes)
    if present.size < 2:
        raise InsufficientDataError(f"Gray's test needs at least two groups with patients; found {present.size}.")
    codes = np.searchsorted(present, codes)
    g = present.size
    score, var = np.zeros(g - 1), np.zeros((g - 1, g - 1))
    order = np.lexsort((data.time, s_codes))
    t_sorted, s_sorted = data.time[order], s_codes[order]
    new_step = (t_sorted[1:] != t_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    steps = int(t_sorted.size > 0) + int(np.count_nonzero(new_step))  # distinct times summed over strata
    WorkCounter(f"Gray's test on {steps:,} distinct times across {g} groups",
                GRAY_WORK_LIMIT if work_limit is None else work_limit).charge(steps * (GRAY_STEP_BASE + g * g))
    for s in np.unique(s_codes):  # loop over strata
        rows = s_codes == s
        sc, v = _gray_stratum(data.time[rows], st[rows], codes[rows], g, cause, rho)
        score, var = score + sc, var + v
    if not np.any(st == cause):
        raise InsufficientDataError("Gray's test needs at least one event of interest; there is none.")
    try:
        statistic = float(score @ np.linalg.solve(var, score))
    except np.linalg.LinAlgError:
        raise InsufficientDataError("Gray's test is undefined here: its variance matrix is singular "
                                    "(too few events in some group).") from None
    return GrayTestResult(statistic, g - 1, float(chi2_sf(statistic, g - 1)), float(rho), score, var)


def _gray_stratum(time, status, codes, g, cause, rho):
    """Score (g-1,) and variance (g-1, g-1) of one stratum; a loop over distinct times, numpy over groups."""
    times, inverse = np.unique(time, return_inverse=True)
    is_cause = status == cause
    is_other = (status != cause) & (status != CENSORED)
    d1 = np.zeros((times.size, g))
    d2 = np.zeros((times.size, g))
    exits = np.zeros((times.size, g))
    np.add.at(d1, (inverse, codes), is_cause)
    np.add.at(d2, (inverse, codes), is_other)
    np.add.at(exits, (inverse, codes), 1.0)
    risk = np.bincount(codes, minlength=g).astype(float)
    f1m, skmm, fm = np.zeros(g), np.ones(g), 0.0
    c = np.zeros((g, g))
    score, v = np.zeros(g - 1), np.zeros((g - 1, g - 1))
    v2, v3 = np.zeros((g - 1, g)), np.zeros(g)
    for j in range(times.size):  # sequential in time: c accumulates
        nd1, nd2 = d1[j].sum(), d2[j].sum()
        if nd1 + nd2 > 0:
            on = risk > 0
            skm = np.where(on, skmm * (risk - d1[j] - d2[j]) / np.where(on, risk, 1), skmm)
            f1 = np.where(on, f1m + skmm * d1[j] / np.where(on, risk, 1), f1m)
            h = np.where(on, risk / np.where(on, skmm, 1), 0.0)
            tr, tq = h.sum(), (h * (1 - f1m)).sum()
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            a = -fb * np.outer(h, h) / tr
            a[np.diag_indices(g)] = fb * h * (1 - h / tr)
            a[~on, :], a[:, ~on] = 0.0, 0.0
            c += a * nd1 / (tr * (1 - fm))
            score += np.where(on, fb * (d1[j] - nd1 * h * (1 - f1m) / tq), 0.0)[:g - 1]
            if nd1 > 0:
                with np.errstate(divide="ignore", invalid="ignore"):
                    t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
                    t5 = 1 - (nd1 - 1) / (tr * skmm - 1) if nd1 > 1 else np.ones(g)
                    t3 = np.where(on, t5 * skmm * nd1 / (tr * np.where(on, risk, 1)), 0.0)
                t1 = a[:g - 1] - t4 * c[:g - 1]
                v3 += t4**2 * t3
                v2 += t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            if nd2 > 0:
                use = (skm > 0) & (d2[j] > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t4 = np.where(use, (1 - f) / skm, 0.0)
                    t5 = np.where(d2[j] > 1, 1 - (d2[j] - 1) / (risk - 1), 1.0)
                    t3 = np.where(use, t5 * skmm**2 * d2[j] / risk**2, 0.0)
                t1 = t4 * c[:g - 1]
                v3 += t4**2 * t3
                v2 -= t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            fm, f1m, skmm = f, f1, skm
        risk = risk - exits[j]
    cg = c[:g - 1]
    v = v + (cg * v3) @ cg.T + cg @ v2.T + v2 @ cg.T
    return score, v


def cumulative_incidence(time, status, group=None, *, conf_level: float = 0.95, rho: float = 0.0,
                         event_label: str = "Event", competing_label: str = "Competing event") -> CompetingRisksResult:
    """Aalen-Johansen cumulative incidence per group and Gray's test (when there are >= 2 groups).

    Parameters
    ----------
    time : array-like of float
        Time to the first event or censoring (>= 0); missing rows are excluded and counted.
    status : array-like of int
        0 = censored, 1 = event of interest (e.g. progression), 2 = competing event (e.g. death
        without progression).
    group : array-like, optional
        Group labels (categories order for a Categorical, else sorted).
    conf_level : float
        Level of the pointwise log(-log) CI.
    rho : float
        Gray's test weight power (0 = cmprsk's default).

    Returns
    -------
    CompetingRisksResult

    Notes
    -----
    F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j with S the all-cause Kaplan-Meier (Aalen-Johansen);
    the variance is cmprsk's delta-method estimate. The CI is F^exp(+-z sd/(F log F)).

    References
    ----------
    Aalen OO, Johansen S (1978). Scand J Stat 5:141-150. Kalbfleisch JD, Prentice RL (2002),
    ch. 8. Gray RJ (1988). Ann Stat 16:1141-1154.
    """
    st = _status(status)
    labels_in = np.zeros(st.size, dtype=object) if group is None else group
    codes, labels, missing = _checks.as_labels(labels_in if group is not None else pd.Series(["All patients"] * st.size),
                                               "group")
    data = _checks.clean_survival(time, np.where(np.isnan(st), np.nan, st > 0), {"without group": missing},
                                  event_name="status")
    _checks.require_patients(data.time.size, "cumulative incidence")
    keep = np.ones(st.size, dtype=bool) if data.keep is None else data.keep
    st, codes = st[keep], codes[keep]
    cif, other = {}, {}
    for k, label in enumerate(labels):  # loop over groups
        rows = codes == k
        if rows.any():
            cif[label] = _cif_one(data.time[rows], st[rows], CAUSE, conf_level)
            other[label] = _cif_one(data.time[rows], st[rows], COMPETING, conf_level)
    gray, gray_note = None, ""
    if len(cif) >= 2 and np.any(st == CAUSE):
        try:
            gray = gray_test(data.time, st, pd.Categorical.from_codes(codes, categories=list(labels)), rho=rho)
        except InsufficientDataError:
            gray = None
        except WorkLimitExceeded as exc:  # the curves stay: only the test is refused
            gray_note = f"Gray's test not computed: {exc}"
    return CompetingRisksResult(cif, other, gray, int(data.time.size), data.n_input, data.excluded,
                                event_label, competing_label, gray_note)


def progression_competing_status(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Time (PFS months) and status for progression with death without progression as competing event.

    status 1 = progression (a progression date, or ``progressed`` true, at the PFS event), 2 = death
    without progression (PFS event, no progression), 0 = censored, NaN = PFS unknown. Raises
    :class:`InsufficientDataError` when the data hold no progression information at all.
    """
    from il2lib import schema

    time = pd.to_numeric(df[schema.PFS_MONTHS], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    event = pd.to_numeric(df[schema.PFS_EVENT].astype("Float64"), errors="coerce").to_numpy(dtype=float,
                                                                                                na_value=np.nan)
    known = [c for c in (schema.DATE_PROGRESSION, schema.PROGRESSED) if c in df.columns and df[c].notna().any()]
    if not known:
        raise InsufficientDataError("Competing risks need progression data (date_progression or progressed): "
                                    "without it every death would count as death without progression.")
    progressed = np.zeros(len(df), dtype=bool)
    if schema.DATE_PROGRESSION in df.columns:
        progressed |= df[schema.DATE_PROGRESSION].notna().to_numpy(dtype=bool)
    if schema.PROGRESSED in df.columns:
        progressed |= df[schema.PROGRESSED].astype("boolean").fillna(False).to_numpy(dtype=bool)
    status = np.where(np.isnan(event), np.nan, np.where(event == 1, np.where(progressed, CAUSE, COMPETING), CENSORED))
    return time, status
