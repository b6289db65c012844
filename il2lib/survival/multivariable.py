"""Multivariable Cox model for the registry: covariate picker keys, HR table, events per variable,
proportional-hazards check, and a plain message (never an exception) when the model cannot be fitted.

The fit itself is :func:`il2lib.survival.cox_ph` (exact to R's ``coxph``); this module builds the
model frame from clinical covariates with readable term names and reference levels.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.errors import ConvergenceError, InsufficientDataError, SurvivalInputError, WorkLimitExceeded
from il2lib.notes import Note
from il2lib.survival.cox import MIN_EVENTS_PER_COEFFICIENT, CoxResult, cox_ph
from il2lib.survival.cox_diagnostics import PHTestResult

#: ``kind`` of the warning that the proportional-hazards check rejects for some term.
PROPORTIONAL_HAZARDS = "proportional_hazards"


@dataclass(frozen=True)
class Covariate:
    key: str
    column: str
    label: str  # the model term name shown in tables and the forest plot
    kind: Literal["numeric", "binary", "categorical"]
    scale: float = 1.0
    reference: str | None = None  # raw value of the reference level (R's relevel ref)
    display: dict | None = None  # raw value -> label shown in the term name


#: The covariate picker: key -> how it enters the model (per 10 years, per 1 x ULN, ...).
COVARIATES: dict[str, Covariate] = {c.key: c for c in (
    Covariate("age", schema.AGE, "Age (per 10 years)", "numeric", 10.0),
    Covariate("sex", schema.SEX, "Sex", "categorical", reference="F"),
    Covariate("ecog", schema.ECOG, "ECOG PS (per point)", "numeric"),
    Covariate("ldh_x_uln", schema.LDH_X_ULN, "LDH (per 1 x ULN)", "numeric"),
    Covariate("later_line", schema.LINE_OF_IL2, "IL-2 as 2nd+ line (vs 1st)", "binary"),
    Covariate("prior_pd1", schema.PRIOR_PD1, "Prior PD-1/PD-L1 (yes vs no)", "binary"),
    Covariate("disease", schema.DISEASE, "Disease", "categorical", reference=schema.MELANOMA,
              display=schema.DISEASE_LABELS),
    Covariate("brain_mets", schema.BRAIN_METS, "Brain metastases (yes vs no)", "binary"),
    Covariate("n_met_sites", schema.N_MET_SITES, "Metastatic sites (per site)", "numeric"),
)}
DEFAULT_COVARIATES = ("age", "sex", "ecog", "disease")


@dataclass(frozen=True)
class MultivariableCoxResult:
    """A fitted model (``cox``) or the reason it could not be fitted (``message``), with its checks.

    ``table``: term, hr, hr_lower, hr_upper, p, reportable (empty without a fit).
    """

    endpoint: str
    covariates: tuple[str, ...]
    cox: CoxResult | None
    table: pd.DataFrame
    n_coefficients: int
    n_events: int
    ph: PHTestResult | None
    message: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def converged(self) -> bool:
        return self.cox is not None

    def to_frame(self) -> pd.DataFrame:
        """``table``: term, hr, hr_lower, hr_upper, p, reportable (no row without a fit)."""
        return self.table.copy()

    @property
    def events_per_coefficient(self) -> float:
        return self.n_events / self.n_coefficients if self.n_coefficients else float("nan")

    @property
    def overfitted(self) -> bool:
        """Fewer than 10 events per coefficient (Peduzzi et al. 1995)."""
        return self.n_coefficients > 0 and self.events_per_coefficient < MIN_EVENTS_PER_COEFFICIENT

    @property
    def ph_violated(self) -> tuple[str, ...]:
        return () if self.ph is None else self.ph.violated

    @property
    def rmst_suggested(self) -> bool:
        """True when the PH check rejects: offer milestone survival and RMST differences instead."""
        return bool(self.ph_violated)


def model_frame(df: pd.DataFrame, endpoint: str, covariates) -> pd.DataFrame:
    """time, event and one column per covariate, named by its term label (binary as 0/1)."""
    if endpoint not in schema.ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(schema.ENDPOINTS)}, got {endpoint!r}.")
    unknown = [k for k in covariates if k not in COVARIATES]
    if unknown:
        raise ValueError(f"Unknown covariate(s) {unknown}; choose from {', '.join(COVARIATES)}.")
    ep = schema.ENDPOINTS[endpoint]
    out = pd.DataFrame(index=df.index)
    out["time"] = pd.to_numeric(df[ep.time], errors="coerce") if ep.time in df else np.nan
    out["event"] = df[ep.event].astype("Float64") if ep.event in df else np.nan
    for key in covariates:
        cov = COVARIATES[key]
        if cov.column not in df.columns:
            raise InsufficientDataError(f"{cov.label}: column '{cov.column}' is not in the data.")
        col = df[cov.column]
        if cov.kind == "numeric":
            out[cov.label] = pd.to_numeric(col, errors="coerce").astype(float) / cov.scale
        elif cov.kind == "binary":
            values = pd.to_numeric(col, errors="coerce") >= 2 if key == "later_line" else col.astype("boolean")
            out[cov.label] = values.astype("Float64").where(col.notna()).astype(float)
        else:
            values = col.astype(object).where(col.notna(), None)
            out[cov.label] = values.map(lambda v: (cov.display or {}).get(v, v) if v is not None else None)
    return out


def _diverging_terms(fit: CoxResult) -> list[str]:
    """Terms flagged by the fit's monotone-likelihood check, plus any without a finite standard error."""
    summary = fit.summary
    bad = summary["term"].isin(fit.diverging) | ~np.isfinite(summary["coef"]) | ~np.isfinite(summary["se"])
    return list(summary.loc[bad, "term"])


def multivariable_cox(df: pd.DataFrame, endpoint: str = "os", covariates=DEFAULT_COVARIATES,
                      ties: Literal["efron", "breslow"] = "efron", conf_level: float = 0.95) -> MultivariableCoxResult:
    """Multivariable Cox model of ``endpoint`` on the chosen covariates, with its checks.

    Parameters
    ----------
    df : DataFrame
        Loaded cohort (``Cohort.data``).
    endpoint : {"os", "pfs", "dor"}
    covariates : sequence of :data:`COVARIATES` keys
        Numeric terms per the stated unit, binary terms yes vs no, categorical terms with
        treatment contrasts against the named reference level.

    Returns
    -------
    MultivariableCoxResult
        Never raises for data problems: a model that cannot be fitted (no events, a covariate
        without variation, non-convergence, a diverging coefficient, or a fit past its work limit)
        comes back with ``cox=None`` and ``message`` saying why. Warnings: fewer than 10 events per coefficient
        (over-fitting), proportional hazards rejected by ``cox.zph`` (KM transform, p < 0.05).

    References
    ----------
    Cox DR (1972). Peduzzi P et al. (1996). J Clin Epidemiol 49:1373-1379 (events per variable).
    Grambsch PM, Therneau TM (1994). Biometrika 81:515-526.
    """
    covariates = tuple(covariates)
    if not covariates:
        raise ValueError("Choose at least one covariate.")
    frame = model_frame(df, endpoint, covariates)
    labels = [COVARIATES[k].label for k in covariates]
    refs = {COVARIATES[k].label: (COVARIATES[k].display or {}).get(COVARIATES[k].reference, COVARIATES[k].reference)
            for k in covariates if COVARIATES[k].reference}
    refs = {label: ref for label, ref in refs.items() if ref in set(frame[label].dropna())}
    empty = pd.DataFrame(columns=["term", "hr", "hr_lower", "hr_upper", "p", "reportable"])
    n_events = int(frame.dropna()["event"].sum())
    constant = [label for label in labels if frame[label].dropna().nunique() < 2]
    if constant:
        return MultivariableCoxResult(endpoint, covariates, None, empty, 0, n_events, None,
                                      "The model could not be fitted: " + ", ".join(constant)
                                      + (" takes" if len(constant) == 1 else " each take") + " a single "
                                      "value under the current filters. Remove it or widen the filter.")
    try:
        with warnings.catch_warnings():  # a diverging fit gives NaN standard errors: reported below, not warned
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = cox_ph(frame, "time", "event", labels, ties=ties, reference_levels=refs, conf_level=conf_level)
    except (ConvergenceError, InsufficientDataError, SurvivalInputError, np.linalg.LinAlgError) as exc:
        return MultivariableCoxResult(endpoint, covariates, None, empty, 0, n_events, None,
                                      f"The model could not be fitted: {exc} Remove a covariate or widen the filter.")
    except WorkLimitExceeded as exc:
        return MultivariableCoxResult(endpoint, covariates, None, empty, 0, n_events, None,
                                      f"{exc} Fewer covariates also make the model quicker to fit.")
    diverging = _diverging_terms(fit)
    if diverging:
        return MultivariableCoxResult(
            endpoint, covariates, None, empty, len(fit.summary), fit.n_events, None,
            "The model did not converge: the coefficient of " + ", ".join(diverging) + " tends to infinity "
            "(a group with no events, or a covariate that separates events perfectly). Remove it or merge levels.")
    notes = list(fit.warnings)
    try:
        ph = fit.zph()
    except (np.linalg.LinAlgError, ValueError, IndexError):
        ph = None
        notes.append("The proportional-hazards check could not be computed for this model.")
    if ph is not None and ph.warning:
        notes.append(Note(ph.warning + " Milestone survival and RMST differences do not assume proportional hazards.",
                          kind=PROPORTIONAL_HAZARDS))
    table = fit.summary[["term", "hr", "hr_lower", "hr_upper", "p", "reportable"]].copy()
    return MultivariableCoxResult(endpoint, covariates, fit, table, len(fit.summary), fit.n_events, ph,
                                  "", tuple(notes))
