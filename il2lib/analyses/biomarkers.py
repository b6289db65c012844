"""Clinical benefit vs no clinical benefit: the community-hospital biomarker comparison, per disease.

Variables follow the SpringerPlus 2015 paper: platelet nadir, baseline and highest ALC, baseline
LDH (U/L and x ULN), peak temperature, IL-2 doses per cycle, autoimmune phenomena, number of
metastatic sites. The paper's abstract does not name its tests; we use the Wilcoxon rank-sum
(Mann-Whitney U) test for continuous variables and Fisher's exact test for binary ones, and say
so next to every p-value. Odds ratios: for a binary variable, R's ``fisher.test`` conditional
maximum-likelihood estimate with its exact conditional CI (the one that goes with the Fisher p);
for a continuous one, a univariable logistic regression (statsmodels) with a Wald CI.
All comparisons are unadjusted and multiple.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib._work import WorkCounter
from il2lib.analyses._grouping import concat_excluded, excluded_frame, patient_ids, patients_statement, require_columns
from il2lib.analyses.table1 import SUPERSCRIPTS
from il2lib.cohort import benefit_rule_text, clinical_benefit
from il2lib.errors import InsufficientDataError
from il2lib.notes import Note
from il2lib.privacy.disclosure import NO_SUPPRESSION, SUPPRESSED, CountView, Suppression
from il2lib.stats import TEST_LABELS, fisher_exact_2x2, format_p, p_adjust, rank_sum_test

CONTINUOUS_BIOMARKERS = (schema.PLATELET_NADIR, schema.BASELINE_ALC, schema.PEAK_ALC, schema.BASELINE_LDH,
                         schema.LDH_X_ULN, schema.PEAK_TEMP, schema.MEAN_DOSES_PER_CYCLE, schema.N_MET_SITES)
BINARY_BIOMARKERS = (schema.AUTOIMMUNE,)
#: odds ratios are reported per this many units of the variable
OR_STEP = {schema.PLATELET_NADIR: 10.0, schema.BASELINE_LDH: 100.0}
OR_UNIT = {schema.MEAN_DOSES_PER_CYCLE: "dose", schema.N_MET_SITES: "site", schema.LDH_X_ULN: "x ULN"}
#: Work the comparison may do, in patients x passes over them: one per variable (its rank test and logistic
#: regression) and :data:`BIOMARKER_BASE_PASSES` for the clinical-benefit rule; past it the comparison is refused.
BIOMARKER_WORK_LIMIT = 2_500_000
BIOMARKER_BASE_PASSES = 3
#: an interval wider than this ratio is flagged as unstable (near separation)
UNSTABLE_CI_RATIO = 1000.0
#: display column saying what each odds ratio is per ("10 x10^3/uL", "yes vs no")
OR_PER_COLUMN = "OR per"
UNADJUSTED_NOTE = ("Unadjusted comparisons of many variables in small groups: read p-values as exploratory. "
                   "Tests are our choice (the paper's abstract does not name them).")
ROW_COLUMNS = ["disease", "variable", "label", "var_type", "n_cb", "n_no_cb", "n_missing", "cb_summary",
               "no_cb_summary", "cb_median", "no_cb_median", "test", "test_label", "pvalue", "p_adjusted",
               "odds_ratio", "or_lower", "or_upper", "or_per", "or_note", "or_method", "or_text"]
#: ``or_method``: "conditional_mle_exact" (binary, as R's fisher.test) or "logistic_wald" (continuous);
#: ``or_text``: the shown "OR (95% CI)" (JSON has no infinity: an infinite estimate or bound is null there)
OR_METHOD_NOTE = ("Odds ratios of clinical benefit: binary variables, conditional maximum-likelihood estimate with "
                  "its exact 95% CI (as R's fisher.test; ∞ when a cell is empty); continuous variables, univariable "
                  "logistic regression with a Wald 95% CI.")


@dataclass(frozen=True)
class BiomarkerResult:
    """Per disease and variable: CB and no-CB summaries, test named, p, univariable OR (95% CI).

    ``rows`` is tidy (see :data:`ROW_COLUMNS`); ``groups`` has n CB / n no-CB per disease;
    ``excluded`` lists patients left out of every comparison (clinical benefit undetermined).
    Patients missing a single variable are counted in that row's ``n_missing``; ``yes_counts``, the
    patients with "yes" of a binary row per group (:meth:`yes_count`).
    """

    cb_sd_months: float
    adjust: str
    rows: pd.DataFrame
    groups: pd.DataFrame
    excluded: pd.DataFrame
    notes: tuple[str, ...]
    window_days: float = float(schema.ASSESSMENT_WINDOW_DAYS_DEFAULT)  # assessment window W of the CB rule
    yes_counts: Mapping[tuple[str, str, str], int] = field(default_factory=dict)  # (disease, variable, side)

    def to_frame(self) -> pd.DataFrame:
        return self.rows.copy()

    def yes_count(self, disease: str, variable: str, side: str) -> int:
        """Patients with "yes" for a binary variable in one group (``side``: "cb" or "no_cb"); the k of its
        "k/m (p%)", 0 for a group without values."""
        return self.yes_counts[(disease, variable, side)]

    @property
    def n_note(self) -> str:
        """Patients in the CB / no-CB groups and those left out (per-variable missing values: ``n_missing``)."""
        return patients_statement(self.n_used, self.excluded)

    @property
    def n_used(self) -> int:
        return int(self.groups["n_cb"].sum() + self.groups["n_no_cb"].sum())

    def count_view(self, total: int | None = None) -> CountView:
        """Every count the comparison shows, for small-cell protection: the benefit groups per disease
        (their sum is the patients used), and per variable the patients with a value in each group
        (the figure's n; "k/m" of a binary row), those with "yes", and the missing:
        group sizes = with a value + missing. ``total``, the filtered patients shown elsewhere (the
        sidebar, the report's header), is used + left out and never hidden."""
        view = CountView()
        groups = [("n", g.disease, side) for g in self.groups.itertuples() for side in GROUP_SIDES]
        for g in self.groups.itertuples():
            for side in GROUP_SIDES:
                view.add(("n", g.disease, side), getattr(g, f"n_{side}"), headline=True)
        view.add(("used",), self.n_used)
        view.add_sum(("used",), groups)
        view.add(("left out",), len(self.excluded))
        if total is not None:
            view.add(("total",), total, headline=True, fixed=True)
            view.add_sum(("total",), [("used",), ("left out",)])
        for r in self.rows.itertuples():
            known = [("known", r.disease, r.variable, side) for side in GROUP_SIDES]
            for key, side in zip(known, GROUP_SIDES):
                view.add(key, getattr(r, f"n_{side}"))
                view.add_at_most(key, ("n", r.disease, side))
            view.add(("missing", r.disease, r.variable), r.n_missing)
            coef = {("n", r.disease, side): 1.0 for side in GROUP_SIDES}
            coef.update({key: -1.0 for key in [*known, ("missing", r.disease, r.variable)]})
            view.add_relation(coef, 0.0, 0.0)
            if r.var_type == "binary":
                for key, side in zip(known, GROUP_SIDES):
                    yes = ("yes", r.disease, r.variable, side)
                    view.add(yes, self.yes_count(r.disease, r.variable, side))
                    view.add_at_most(yes, key)
        return view

    def display(self, disease: str, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """Manuscript-style table for one disease: CB vs no-CB, p (test), OR (95% CI) and what the OR is per.
        Counts read as ``shown`` says (small-cell protection)."""
        sub = self.rows[self.rows["disease"] == disease]
        g = self.groups.set_index("disease").loc[disease]
        summaries = {side: [_summary_text(r, side, shown, self.yes_count) for r in sub.itertuples()]
                     for side in GROUP_SIDES}
        out = pd.DataFrame({
            "Variable": sub["label"].to_numpy(),
            f"Clinical benefit (n={shown.text(('n', disease, 'cb'), g['n_cb'])})": summaries["cb"],
            f"No clinical benefit (n={shown.text(('n', disease, 'no_cb'), g['n_no_cb'])})": summaries["no_cb"],
            "p-value": sub["pvalue"].map(format_p).to_numpy(),
            "Test": sub["test_label"].to_numpy(),
            "OR (95% CI)": [_or_text(r) for r in sub.itertuples()],
            OR_PER_COLUMN: [_or_per_text(r) for r in sub.itertuples()],
            "Missing": [shown.text(("missing", disease, r.variable), r.n_missing) if shown.hidden else r.n_missing
                        for r in sub.itertuples()],
        })
        if self.adjust != "none":
            out.insert(4, f"p ({self.adjust})", sub["p_adjusted"].map(format_p).to_numpy())
        return out.reset_index(drop=True)

    def display_with_test_notes(self, disease: str, shown: Suppression = NO_SUPPRESSION) -> "NotedTable":
        """:meth:`display` narrowed for a screen: the "Test" column becomes a superscript mark on each p-value
        and one footnote per test ("¹ Wilcoxon rank-sum (Mann-Whitney U) test"), as in a manuscript table."""
        table = self.display(disease, shown)
        tests = list(dict.fromkeys(table["Test"]))
        marks = {t: SUPERSCRIPTS[i] for i, t in enumerate(tests)}
        table["p-value"] = [f"{p}{marks[t]}" for p, t in zip(table["p-value"], table["Test"])]
        return NotedTable(table.drop(columns="Test"), tuple(f"{marks[t]} {t}" for t in tests))


@dataclass(frozen=True)
class NotedTable:
    """A display table with the footnotes its superscript marks refer to."""

    table: pd.DataFrame
    footnotes: tuple[str, ...]


GROUP_SIDES = ("cb", "no_cb")


def _summary_text(row, side: str, shown: Suppression, yes_count) -> str:
    """A group's summary with its counts as ``shown`` says: "k/m (p%)" of a binary row (k from
    ``yes_count``, :meth:`BiomarkerResult.yes_count`); a median (IQR) of fewer values than the threshold
    would be those patients' values, so it reads "n<k" instead."""
    summary = getattr(row, f"{side}_summary")
    known = ("known", row.disease, row.variable, side)
    if not shown.hidden:
        return summary
    if row.var_type != "binary":
        return f"n<{shown.threshold}" if known in shown.primary else summary
    yes = ("yes", row.disease, row.variable, side)
    if shown.shows(yes, known):
        return summary
    k = yes_count(row.disease, row.variable, side)
    return f"{shown.text(yes, k)}/{shown.text(known, getattr(row, f'n_{side}'))} ({SUPPRESSED})"


def _or_text(r) -> str:
    if isinstance(r.or_note, str) and r.or_note:
        return r.or_note
    text = f"{format_ratio(r.odds_ratio)} ({format_ratio(r.or_lower)}–{format_ratio(r.or_upper)})"
    unstable = r.or_method == "logistic_wald" and r.or_upper / r.or_lower > UNSTABLE_CI_RATIO
    return text + (" (unstable: near separation)" if unstable else "")


def format_ratio(x: float) -> str:
    """An odds ratio or bound for a table: 2 decimals (1 from 100, none from 1000, 2 significant digits below
    0.01), ``0`` and ``∞`` at the ends of the exact interval, ``—`` when missing."""
    if x is None or math.isnan(x):
        return "—"
    if x == 0 or math.isinf(x):
        return "0" if x == 0 else "∞"
    return f"{x:.0f}" if x >= 1000 else f"{x:.1f}" if x >= 100 else f"{x:.2f}" if x >= 0.01 else f"{x:.2g}"


def _or_per_text(r) -> str:
    """What the odds ratio is per ("10 x10^3/uL", "yes vs no"); empty when the OR is not estimable."""
    return "" if isinstance(r.or_note, str) and r.or_note else str(r.or_per or "")


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}"


def with_mean_doses(df: pd.DataFrame) -> pd.DataFrame:
    """Copy with :data:`schema.MEAN_DOSES_PER_CYCLE` = mean doses over the cycles given: doses_c1 / doses_c2
    that are known and > 0 (a cycle with 0 doses was not given); NaN if none."""
    out = df.copy()
    doses = _cycle_doses(out)
    if doses is not None:
        out[schema.MEAN_DOSES_PER_CYCLE] = doses.where(doses > 0).mean(axis=1, skipna=True)
    return out


def benefit_frame(df: pd.DataFrame, cb_sd_months: float, window_days: float,
                  columns: Sequence[str] = ()) -> pd.DataFrame:
    """``with_mean_doses(with_clinical_benefit(df, cb_sd_months, window_days))`` narrowed to the id, the disease and
    ``columns`` (those present; default every biomarker): what the comparison and its figure read, without copying
    the other columns."""
    wanted = [schema.PATIENT_ID, schema.DISEASE, schema.DOSES_C1, schema.DOSES_C2,
              *(columns or CONTINUOUS_BIOMARKERS + BINARY_BIOMARKERS)]
    kept = [c for c in dict.fromkeys(wanted) if c in df.columns and c != schema.CLINICAL_BENEFIT]
    return with_mean_doses(df[kept].assign(**{schema.CLINICAL_BENEFIT: clinical_benefit(df, cb_sd_months,
                                                                                        window_days)}))


def _cycle_doses(df: pd.DataFrame) -> pd.DataFrame | None:
    cols = [c for c in (schema.DOSES_C1, schema.DOSES_C2) if c in df.columns]
    return df[cols].apply(pd.to_numeric, errors="coerce").astype("float64") if cols else None


def _cycle_not_given_note(data: pd.DataFrame) -> Note | None:
    """Which compared patients had a cycle with 0 doses, left out of their doses per cycle."""
    doses = _cycle_doses(data)
    zero = (doses == 0).any(axis=1).to_numpy() if doses is not None else np.zeros(len(data), dtype=bool)
    if not zero.any():
        return None
    ids = patient_ids(data)[zero]
    return Note(f"Doses per cycle: a cycle with 0 doses counts as not given and is left out of the mean "
                f"({int(zero.sum())} patient(s)).", count=int(zero.sum()), patient_ids=list(ids),
                kind="doses_cycle_not_given")


def univariable_odds_ratio(outcome: np.ndarray, x: np.ndarray, step: float = 1.0) -> tuple[float, float, float, str]:
    """Odds ratio of ``outcome`` per ``step`` units of ``x`` from a logistic regression, Wald 95% CI.

    Returns ``(or, lower, upper, note)``; ``note`` says "not estimable: ..." (and the numbers are
    NaN) when either outcome group has fewer than 2 patients, ``x`` does not vary, the data are
    (quasi-)separated or the fit does not converge.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    y = np.asarray(outcome, dtype=float)
    x = np.asarray(x, dtype=float)
    nan = (math.nan, math.nan, math.nan)
    if min(y.sum(), (1 - y).sum()) < 2:
        return (*nan, "not estimable: fewer than 2 patients in a group")
    if np.unique(x).size < 2:
        return (*nan, "not estimable: no variation")
    x1, x0 = x[y == 1], x[y == 0]
    if x1.min() >= x0.max() or x1.max() <= x0.min():
        return (*nan, "not estimable: groups separated by this variable")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = sm.Logit(y, sm.add_constant(x / step)).fit(disp=0, maxiter=100)
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError):
        return (*nan, "not estimable: separation")
    if not fit.mle_retvals.get("converged", False) or not np.all(np.isfinite(fit.bse)):
        return (*nan, "not estimable: no convergence")
    b, se = float(fit.params[1]), float(fit.bse[1])
    return math.exp(b), math.exp(b - 1.959963984540054 * se), math.exp(b + 1.959963984540054 * se), ""


def _continuous_row(cb: np.ndarray, values: pd.Series, column: str) -> dict:
    x = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    known = ~np.isnan(x)
    a, b = x[known & cb], x[known & ~cb]
    row = {"var_type": "continuous", "n_cb": a.size, "n_no_cb": b.size, "n_missing": int((~known).sum())}
    for prefix, v in (("cb", a), ("no_cb", b)):
        row[f"{prefix}_median"] = float(np.median(v)) if v.size else math.nan
        row[f"{prefix}_summary"] = (f"{_fmt(np.median(v))} ({_fmt(np.quantile(v, 0.25))}–{_fmt(np.quantile(v, 0.75))})"
                                    if v.size else "—")
    try:
        res = rank_sum_test(a, b)
        row.update(test=res.test, test_label=res.label, pvalue=res.pvalue)
    except InsufficientDataError:
        row.update(test=None, test_label="not tested (a group has no values)", pvalue=math.nan)
    step = OR_STEP.get(column, 1.0)
    unit = OR_UNIT.get(column) or (schema.COLUMNS[column].unit if column in schema.COLUMNS else "")
    o, lo, hi, note = univariable_odds_ratio(cb[known], x[known], step)
    row.update(odds_ratio=o, or_lower=lo, or_upper=hi, or_note=note, or_per=f"{step:g} {unit}".strip(),
               or_method="logistic_wald")
    return row


def _binary_row(cb: np.ndarray, values: pd.Series) -> dict:
    v = values.astype("boolean")
    known = v.notna().to_numpy()
    x = v.fillna(False).to_numpy(dtype=bool)
    a, b = x[known & cb], x[known & ~cb]
    row = {"var_type": "binary", "n_cb": a.size, "n_no_cb": b.size, "n_missing": int((~known).sum()),
           "cb_yes": int(a.sum()), "no_cb_yes": int(b.sum()), "cb_median": math.nan, "no_cb_median": math.nan,
           "cb_summary": f"{int(a.sum())}/{a.size} ({100 * a.mean():.0f}%)" if a.size else "—",
           "no_cb_summary": f"{int(b.sum())}/{b.size} ({100 * b.mean():.0f}%)" if b.size else "—"}
    nan_or = dict(odds_ratio=math.nan, or_lower=math.nan, or_upper=math.nan)
    row.update(or_per="yes vs no", or_method="conditional_mle_exact", or_note="", **nan_or)
    if a.size and b.size:
        res = fisher_exact_2x2([[int(a.sum()), int(a.size - a.sum())], [int(b.sum()), int(b.size - b.sum())]])
        row.update(test="fisher_exact", test_label=TEST_LABELS["fisher_exact"], pvalue=res.pvalue)
        if 0 < int(a.sum() + b.sum()) < a.size + b.size:  # margins all non-zero: 0 or inf with one finite bound
            row.update(odds_ratio=res.odds_ratio, or_lower=res.ci_lower, or_upper=res.ci_upper)
        else:
            row.update(or_note="not estimable: no variation")
    else:
        row.update(test=None, test_label="not tested (a group has no values)", pvalue=math.nan,
                   or_note="not estimable: a group has no patients with a value")
    return row


def biomarker_work(patients: int, variables: int) -> int:
    """Work of a comparison of ``patients`` (those of the compared diseases) on ``variables``."""
    return patients * (variables + BIOMARKER_BASE_PASSES)


def biomarker_comparison(df: pd.DataFrame, disease: str | None = None,
                         cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                         variables: Sequence[str] | None = None,
                         adjust: Literal["none", "holm", "BH"] = "none",
                         window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                         work_limit: int | None = None) -> BiomarkerResult:
    """Compare clinical-benefit (CB) and no-CB patients within each disease.

    Parameters
    ----------
    df : DataFrame
        One row per patient with :data:`schema.BOR`, :data:`schema.DISEASE` and the biomarker columns.
    disease : str, optional
        Restrict to one disease (``"melanoma"`` / ``"rcc"``); default: every disease present.
    cb_sd_months : float
        CB = CR/PR or SD lasting at least this many months (``il2lib.cohort.with_clinical_benefit``).
    variables : sequence of str, optional
        Default: the continuous and binary biomarkers present in ``df``.
    adjust : {"none", "holm", "BH"}
        Optional multiplicity adjustment within each disease.
    window_days : float
        Assessment window W (days) of the CB SD rule (``il2lib.validation.recist.duration_meets``).
    work_limit : int, optional
        Work allowed (default :data:`BIOMARKER_WORK_LIMIT`), counted by :func:`biomarker_work` before anything
        is computed; past it :class:`~il2lib.errors.WorkLimitExceeded` is raised.

    Notes
    -----
    Continuous: medians (Q1-Q3) and the two-sided Wilcoxon rank-sum test (exact without ties and
    n < 50, otherwise normal approximation with continuity correction, as R's ``wilcox.test``).
    Binary: n/N (%) and Fisher's exact test, with R's ``fisher.test`` conditional maximum-likelihood
    odds ratio and exact conditional (central) 95% CI: 0 or infinity with one finite bound when a cell
    is empty, "not estimable" only when a margin is zero. Continuous: odds ratio from a logistic
    regression of CB on the variable, Wald interval, per :data:`OR_STEP` units.

    References
    ----------
    SpringerPlus 2015;4:118 (community-hospital HD IL-2 series).
    """
    require_columns(df, schema.BOR, schema.DISEASE)
    compared = int(df[schema.DISEASE].isin([disease] if disease else schema.DISEASES).sum())
    present = set(df.columns) | ({schema.MEAN_DOSES_PER_CYCLE} if {schema.DOSES_C1, schema.DOSES_C2} & set(df.columns)
                                 else set())  # with_mean_doses adds it
    n_variables = len(variables) if variables is not None else sum(
        v in present for v in CONTINUOUS_BIOMARKERS + BINARY_BIOMARKERS)
    limit = BIOMARKER_WORK_LIMIT if work_limit is None else work_limit
    WorkCounter(f"the biomarker comparison of {compared:,} patients on {n_variables} variables",
                limit).charge(biomarker_work(compared, n_variables))
    data = benefit_frame(df, cb_sd_months, window_days, variables or ())
    if variables is None:
        variables = [v for v in CONTINUOUS_BIOMARKERS + BINARY_BIOMARKERS if v in data.columns]
    else:
        require_columns(data, *variables)
    if not variables:
        raise InsufficientDataError("None of the biomarker columns is in the data.")
    diseases = [disease] if disease else [d for d in schema.DISEASES if (data[schema.DISEASE] == d).any()]
    undetermined = data[schema.CLINICAL_BENEFIT].isna().to_numpy()
    in_scope = data[schema.DISEASE].isin(diseases).to_numpy()
    excluded = excluded_frame(data, undetermined & in_scope,
                              f"clinical benefit undetermined (SD without a duration; threshold {cb_sd_months:g} months)")
    rows, groups = [], []
    for d in diseases:
        sub = data[(data[schema.DISEASE] == d).to_numpy() & ~undetermined]
        cb = sub[schema.CLINICAL_BENEFIT].astype(bool).to_numpy()
        groups.append({"disease": d, "n_cb": int(cb.sum()), "n_no_cb": int((~cb).sum())})
        if len(sub) == 0:
            continue
        disease_rows = []
        for column in variables:
            build = _binary_row(cb, sub[column]) if column in BINARY_BIOMARKERS or \
                pd.api.types.is_bool_dtype(sub[column]) else _continuous_row(cb, sub[column], column)
            disease_rows.append({"disease": d, "variable": column, "label": schema.label(column), **build})
        pvals = np.array([r["pvalue"] for r in disease_rows], dtype=float)
        ok = ~np.isnan(pvals)
        adjusted = np.full(pvals.size, np.nan)
        if adjust != "none" and ok.any():
            adjusted[ok] = p_adjust(pvals[ok], adjust)
        for r, p in zip(disease_rows, adjusted):
            r["p_adjusted"] = p
        rows += disease_rows
    notes = (UNADJUSTED_NOTE, f"Clinical benefit = {benefit_rule_text(cb_sd_months, window_days)}.")
    doses_note = (_cycle_not_given_note(data[in_scope & ~undetermined])
                  if schema.MEAN_DOSES_PER_CYCLE in variables else None)
    yes_counts = {(r["disease"], r["variable"], side): r[f"{side}_yes"]
                  for r in rows if r["var_type"] == "binary" for side in GROUP_SIDES}
    table = pd.DataFrame(rows).reindex(columns=ROW_COLUMNS)  # the "yes" counts stay out of the tidy rows
    table["or_text"] = [_or_text(r) for r in table.itertuples()]
    return BiomarkerResult(float(cb_sd_months), adjust, table,
                           pd.DataFrame(groups, columns=["disease", "n_cb", "n_no_cb"]),
                           concat_excluded([excluded]), (*notes, OR_METHOD_NOTE, *filter(None, [doses_note])),
                           float(window_days), yes_counts)
