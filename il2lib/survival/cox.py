"""Cox proportional-hazards regression, exact to R's ``coxph`` (Efron or Breslow ties, strata).

lifelines differences: lifelines' default ``precision=1e-7`` stops early (coefficients up to
1.3e-4 from R on small data; with ``fit_options={"precision": 1e-12}`` the gap is < 1e-8), and it
has Efron ties only. This fit runs Newton-Raphson to full convergence and offers Breslow too.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError
from il2lib.notes import Note
from il2lib.stats import TestResult, format_p
from il2lib.stats.distributions import chi2_sf, norm_ppf, norm_sf
from il2lib.survival import _checks
from il2lib.survival._coxfit import RiskSets, newton, risk_sets
from il2lib.survival.cox_diagnostics import PHTestResult, check_concordance_work, concordance_counts, zph_test
from il2lib.survival.timefix import aeq_times

MIN_EVENTS_PER_GROUP_FOR_HR = 5
MIN_EVENTS_PER_COEFFICIENT = 10
#: ``kind`` of the warning that a model has fewer events per coefficient than that.
OVERFITTING = "overfitting"


@dataclass(frozen=True)
class Design:
    x: np.ndarray
    columns: tuple[str, ...]  # term label per column ("celltype: smallcell vs squamous")
    terms: tuple[str, ...]  # covariate names
    assign: tuple[tuple[int, ...], ...]  # columns of each term
    groups: dict = field(default_factory=dict)  # covariate -> group codes (binary/categorical only)
    missing: dict = field(default_factory=dict)  # "without <col>" -> mask


@dataclass(frozen=True)
class CoxResult:
    """Result of :func:`cox_ph`. ``summary``: term, coef, se, hr, hr_lower, hr_upper, z, p, reportable, reason.

    A term whose coefficient diverges (``diverging``) or that has a group with fewer than 5 events
    is not reportable and ``reason`` says why; a diverging term's hr, CI and Wald p are NaN. The likelihood-ratio
    test stays valid under separation and is the model test; the Wald test then is NaN.
    """

    summary: pd.DataFrame
    vcov: np.ndarray
    loglik: tuple[float, float]  # (null, model)
    lr_test: TestResult
    wald_test: TestResult
    score_test: TestResult
    concordance: float
    concordance_counts: dict
    ties: str
    conf_level: float
    n: int
    n_events: int
    n_input: int
    excluded: _checks.Excluded
    warnings: tuple[str, ...]
    reportable: bool
    iterations: int
    diverging: tuple[str, ...]  # terms whose coefficient tends to infinity (monotone likelihood)
    _rs: RiskSets = field(repr=False, compare=False)
    _beta: np.ndarray = field(repr=False, compare=False)
    _pieces: object = field(repr=False, compare=False)
    _assign: tuple = field(repr=False, compare=False)
    _terms: tuple = field(repr=False, compare=False)

    @property
    def n_note(self) -> str:
        return _checks.describe_n(self.n, self.n_input, self.excluded)

    def zph(self) -> PHTestResult:
        """Proportional-hazards test equal to R's ``cox.zph(fit, transform="km")`` (score test per term + GLOBAL)."""
        if self._rs is None:
            raise ValueError("zph() needs the fitted data, which this compact copy (compact()) dropped.")
        return zph_test(self._rs, self._pieces, self._assign, self._terms)

    def compact(self) -> "CoxResult":
        """This result without the per-patient arrays behind :meth:`zph` (tens of MB at 1e6 patients),
        for caching; every reported number stays."""
        return replace(self, _rs=None, _pieces=None)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (``summary``): one row per model term."""
        return self.summary.copy()


def _design(df: pd.DataFrame, covariates, reference_levels) -> Design:
    blocks, columns, assign, groups, missing = [], [], [], {}, {}
    for name in covariates:
        col = df[name]
        missing[f"without {name}"] = col.isna().to_numpy()
        numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        if numeric and not isinstance(col.dtype, pd.CategoricalDtype):
            values = col.to_numpy(dtype=float, na_value=np.nan)
            blocks.append(values[:, None])
            assign.append((len(columns),))
            columns.append(str(name))
            distinct = np.unique(values[~np.isnan(values)])
            if distinct.size == 2:
                groups[name] = np.searchsorted(distinct, values)
            continue
        codes, labels, _ = _checks.as_labels(col, name)
        if len(labels) < 2:
            raise InsufficientDataError(f"{name} takes a single value among these patients"
                                        f"{' (' + str(labels[0]) + ')' if len(labels) else ''}: a Cox model "
                                        "needs at least two groups.")
        ref = (reference_levels or {}).get(name)
        if ref is not None:
            if ref not in list(labels):
                raise ValueError(f"reference level {ref!r} is not a value of {name!r}.")
            ref_code = list(labels).index(ref)
        else:
            ref_code = 0
        others = [k for k in range(len(labels)) if k != ref_code]
        dummies = (codes[:, None] == np.asarray(others)[None, :]).astype(float)
        dummies[codes < 0] = np.nan
        blocks.append(dummies)
        assign.append(tuple(range(len(columns), len(columns) + len(others))))
        columns.extend(f"{name}: {_level(labels[k], name)} vs {_level(labels[ref_code], name)}" for k in others)
        groups[name] = codes
    x = np.hstack(blocks) if blocks else np.zeros((len(df), 0))
    return Design(x, tuple(columns), tuple(covariates), tuple(assign), groups, missing)


def _level(label, name) -> str:
    """A level in a term name, without the covariate name its group label already carries ("Prior PD-1/PD-L1:
    yes" in the term "Prior PD-1/PD-L1: yes vs no")."""
    text, head = str(label), f"{name}: "
    return text[len(head):] if text.startswith(head) and len(text) > len(head) else text


def _events_per_group_warnings(design: Design, keep, event) -> tuple[list[str], dict[str, int]]:
    """Notes and {covariate: fewest events in a group} for covariates with a group under 5 events."""
    notes, few = [], {}
    for name, codes in design.groups.items():
        codes = codes[keep]
        counts = np.bincount(codes[codes >= 0], weights=event[codes >= 0], minlength=int(codes.max()) + 1)
        if (counts < MIN_EVENTS_PER_GROUP_FOR_HR).any():
            few[name] = int(counts.min())
            notes.append(f"{name}: a group has fewer than {MIN_EVENTS_PER_GROUP_FOR_HR} events "
                         f"({few[name]}); its hazard ratio is not reported.")
    return notes, few


def _not_reportable_reason(column: str, term: str, few_events: dict[str, int], diverging) -> str:
    """Why a term's hazard ratio is not shown ("" when it is): one rule for page, CLI and report."""
    if column in diverging:
        return "not estimable: the coefficient tends to infinity (monotone likelihood)"
    if term in few_events:
        return f"not reported: a group has {few_events[term]} events (fewer than {MIN_EVENTS_PER_GROUP_FOR_HR})"
    return ""


def _require_variation(x: np.ndarray, design: Design) -> None:
    """A covariate that does not vary among the analysed patients cannot be fitted: name it."""
    for term, cols in zip(design.terms, design.assign):
        block = x[:, list(cols)]
        if block.size and (np.ptp(block, axis=0) == 0).any():
            raise InsufficientDataError(f"{term} does not vary among the patients analysed: a Cox model "
                                        "cannot estimate its effect. Remove it or widen the filter.")


def cox_ph(df: pd.DataFrame, duration: str, event: str, covariates, ties: Literal["efron", "breslow"] = "efron",
           strata: str | None = None, reference_levels: dict | None = None, conf_level: float = 0.95,
           timefix: bool = True) -> CoxResult:
    """Cox proportional-hazards model with likelihood-ratio, Wald and score tests and concordance.

    Parameters
    ----------
    df : DataFrame
    duration, event : str
        Columns of time (>= 0) and event (0/1 or bool). Missing values are excluded and counted.
    covariates : sequence of str
        Numeric or boolean columns enter as they are; text and Categorical columns get treatment
        contrasts against their first level (categories order, else sorted) or ``reference_levels``.
        Terms are named "celltype: smallcell vs squamous". Rows missing any covariate are excluded
        and counted per covariate.
    ties : {"efron", "breslow"}
    strata : str, optional
        Column whose levels get separate baseline hazards.
    timefix : bool
        As R's ``coxph.control(timefix = TRUE)``: times within R's tolerance of each other are one time
        (:mod:`il2lib.survival.timefix`).

    Returns
    -------
    CoxResult
        ``reportable`` is False (and ``summary.reportable`` marks the terms) when a group of a
        binary or categorical covariate has fewer than 5 events; ``warnings`` also flags fewer than
        10 events per coefficient.

    Notes
    -----
    Newton-Raphson from beta = 0 with step halving; SE from the inverse information at the MLE;
    Wald = b' I b, score test at beta = 0, LR = 2 (l(b) - l(0)). Concordance as R defines it:
    (concordant + tied.x / 2) / (concordant + discordant + tied.x) over comparable pairs within strata.

    References
    ----------
    Cox DR (1972). JRSS B 34:187-220. Efron B (1977). JASA 72:557-565. Therneau TM, Grambsch PM
    (2000), Modeling Survival Data. R ``survival::coxph``.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}.")
    covariates = list(covariates)
    design = _design(df, covariates, reference_levels)
    extra = dict(design.missing)
    s_codes = np.zeros(len(df), dtype=np.int64)
    if strata is not None:
        s_codes, _, s_missing = _checks.as_labels(df[strata], strata)
        extra[f"without {strata}"] = s_missing
    data = _checks.clean_survival(df[duration], df[event], extra, duration, event)
    _checks.require_patients(data.time.size, "Cox model")
    keep = np.ones(len(df), dtype=bool) if data.keep is None else data.keep
    x, strat = design.x[keep], s_codes[keep]
    if not data.event.any():
        raise InsufficientDataError("The Cox model needs at least one event; all patients are censored.")
    _require_variation(x, design)
    check_concordance_work(data.time.size)  # before the fit: both are refused at once
    time = aeq_times(data.time) if timefix else data.time
    rs = risk_sets(x - x.mean(axis=0), time, data.event, strat, ties)
    newton_fit = newton(rs)
    beta, null, fit, iterations = newton_fit.beta, newton_fit.null, newton_fit.fit, newton_fit.iterations
    diverging = tuple(c for c, flag in zip(design.columns, newton_fit.diverging) if flag)
    with np.errstate(all="ignore"):
        try:
            vcov = np.linalg.inv(fit.info)
        except np.linalg.LinAlgError:  # singular along a diverging direction
            vcov = np.full_like(fit.info, np.nan)
        se = np.sqrt(np.diag(vcov))
    z = norm_ppf(0.5 + conf_level / 2)
    p_count = beta.size
    group_notes, few_events = _events_per_group_warnings(design, keep, data.event.astype(float))
    term_of_col = [design.terms[i] for i, cols in enumerate(design.assign) for _ in cols]
    reason = [_not_reportable_reason(col, term, few_events, diverging)
              for col, term in zip(design.columns, term_of_col)]
    shown = np.array([not r for r in reason])
    finite = np.array([c not in diverging for c in design.columns])
    with np.errstate(all="ignore"):
        summary = pd.DataFrame({"term": design.columns, "coef": beta, "se": se,
                                "hr": np.where(finite, np.exp(beta), np.nan),
                                "hr_lower": np.where(finite, np.exp(beta - z * se), np.nan),
                                "hr_upper": np.where(finite, np.exp(beta + z * se), np.nan),
                                "z": np.where(finite, beta / se, np.nan),
                                "p": np.where(finite, 2 * norm_sf(np.abs(beta / se)), np.nan),
                                "reportable": shown, "reason": reason})
    lr = 2 * (fit.loglik - null.loglik)
    score = float(null.score @ np.linalg.solve(null.info, null.score))
    wald = float(beta @ fit.info @ beta) if not diverging else float("nan")
    n_events = int(data.event.sum())
    notes = list(group_notes)
    if diverging:
        notes.append(f"{', '.join(diverging)}: the coefficient tends to infinity (monotone likelihood: a group "
                     "without events, or events of one group only after the other has left the risk set); no "
                     "hazard ratio is reported. The likelihood-ratio test is the model test; the Wald test is "
                     "not valid under separation.")
    if n_events < MIN_EVENTS_PER_COEFFICIENT * p_count:
        notes.append(Note(f"fewer than {MIN_EVENTS_PER_COEFFICIENT} events per coefficient ({n_events} events for "
                          f"{p_count} coefficients): the model may be over-fitted.", kind=OVERFITTING))
    eta = np.empty(data.time.size)
    eta[rs.order] = rs.x @ beta
    counts = concordance_counts(time, data.event, eta, strat)
    return CoxResult(summary, vcov, (null.loglik, fit.loglik),
                     TestResult("likelihood_ratio", float(chi2_sf(lr, p_count)), float(lr), p_count),
                     TestResult("wald", float(chi2_sf(wald, p_count)), wald, p_count),
                     TestResult("score", float(chi2_sf(score, p_count)), score, p_count),
                     counts["concordance"], counts, ties, conf_level, int(data.time.size), n_events,
                     data.n_input, data.excluded, tuple(notes), bool(shown.all()), iterations, diverging,
                     rs, beta, fit, design.assign, design.terms)


def grouped_hazard_ratios(cox: CoxResult) -> pd.DataFrame:
    """The grouped (univariable) Cox model as page, CLI and report show it: one rule for all three.

    Columns term, hr, hr_lower, hr_upper, p (Wald), reason. A term with a group of fewer than 5
    events, or whose coefficient diverges, has no hazard ratio and no p (NaN), only ``reason``.
    The model test to print beside it is ``cox.lr_test`` (valid under separation; the Wald test is not).
    """
    s = cox.summary
    keep = s["reportable"].to_numpy(dtype=bool)
    out = s[["term", "hr", "hr_lower", "hr_upper", "p", "reason"]].copy()
    out.loc[~keep, ["hr", "hr_lower", "hr_upper", "p"]] = np.nan
    return out.reset_index(drop=True)


def hazard_ratio_table(cox: CoxResult) -> pd.DataFrame:
    """:func:`grouped_hazard_ratios` for display: Cox model term, HR (95% CI), Wald p (the reason instead of
    the hazard ratio, and "—" for p, when a term has none)."""
    hrs = grouped_hazard_ratios(cox)
    return pd.DataFrame({
        "Cox model term": hrs["term"],
        "HR (95% CI)": [reason or f"{h:.2f} ({lo:.2f}–{hi:.2f})" for h, lo, hi, reason in
                        zip(hrs["hr"], hrs["hr_lower"], hrs["hr_upper"], hrs["reason"])],
        "Wald p": [format_p(p) if not reason else "—" for p, reason in zip(hrs["p"], hrs["reason"])]})
