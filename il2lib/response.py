"""Best overall response, ORR / CBR / DCR with exact CIs, between-group comparisons, duration of response.

Denominators are intention-to-treat by default (every analysed patient, NE included, as the
PROCLAIM paper's 9/40 = 22.5%); ``denominator="evaluable"`` leaves NE out and lists them.
Every exclusion is returned as (patient_id, reason).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib._analysis import (ALL_PATIENTS, concat_excluded, excluded_frame, group_labels, level_order,
                              patient_ids, patients_statement, require_columns)
from il2lib.cohort import with_clinical_benefit
from il2lib.errors import InsufficientDataError
from il2lib.stats import TestResult, compare_proportions, format_p, proportion_ci

Outcome = Literal["orr", "cbr", "dcr"]
OUTCOMES: tuple[str, ...] = ("orr", "cbr", "dcr")
OUTCOME_LABELS = {"orr": "ORR (CR+PR)", "cbr": "CBR (CR+PR+SD>=threshold)", "dcr": "DCR (CR+PR+any SD)"}
Denominator = Literal["itt", "evaluable"]


def _missing_group_exclusions(df: pd.DataFrame, by: str | None, labels: pd.Series) -> pd.DataFrame:
    if by is None:
        return concat_excluded([])
    return excluded_frame(df, labels.isna().to_numpy(), f"{schema.label(by)} missing")


# ----------------------------------------------------------------------------------------
# Best overall response table
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseTable:
    """Best overall response counts and percentages per group.

    ``counts`` is tidy: one row per (group, response) with ``n``, ``group_n`` and ``percent``
    (of ``group_n``). ``excluded`` lists patients left out, with the reason.
    """

    by: str | None
    groups: tuple[str, ...]
    counts: pd.DataFrame
    excluded: pd.DataFrame
    n_used: int

    def to_frame(self) -> pd.DataFrame:
        return self.counts.copy()

    @property
    def patients_note(self) -> str:
        return patients_statement(self.n_used, self.excluded)

    def display(self) -> pd.DataFrame:
        """Wide table: one row per response (plus ORR), one column per group, cells "n (x.x%)"."""
        cols = {}
        for g in self.groups:
            sub = self.counts[self.counts["group"] == g].set_index("response")
            n = int(sub["group_n"].iloc[0])
            cells = [f"{int(sub.loc[r, 'n'])} ({sub.loc[r, 'percent']:.1f}%)" for r in schema.BOR_LEVELS]
            responders = int(sub.loc["CR", "n"] + sub.loc["PR", "n"])
            cells.append(f"{responders} ({100 * responders / n:.1f}%)")
            cols[f"{g} (n={n})"] = cells
        index = [schema.BOR_LABELS[r] + f" ({r})" for r in schema.BOR_LEVELS] + ["Objective response (CR+PR)"]
        return pd.DataFrame(cols, index=pd.Index(index, name="Best overall response"))


def best_response_table(df: pd.DataFrame, by: str | None = None) -> ResponseTable:
    """Count best overall responses (CR, PR, SD, PD, NE) per level of ``by``.

    Parameters
    ----------
    df : DataFrame
        One row per patient with :data:`schema.BOR` (always one of CR/PR/SD/PD/NE after loading).
    by : str, optional
        Any column: disease, prior PD-1/PD-L1 (Yes/No), agent, line of IL-2 (1 / 2 / 3+), ...
        Patients with a missing ``by`` value are left out and listed in ``excluded``.
    """
    require_columns(df, schema.BOR)
    labels = group_labels(df, by)
    excluded = [_missing_group_exclusions(df, by, labels)]
    bor = df[schema.BOR].astype(object)
    bad = ~bor.isin(schema.BOR_LEVELS).to_numpy() & labels.notna().to_numpy()
    excluded.append(excluded_frame(df, bad, "best overall response not one of CR/PR/SD/PD/NE"))
    keep = labels.notna().to_numpy() & ~bad
    labels, bor = labels[keep], bor[keep]
    groups = level_order(by, labels)
    if not groups:
        raise InsufficientDataError("No patient has a value for the grouping column; nothing to tabulate.")
    rows = []
    for g in groups:
        sub = bor[labels == g]
        for r in schema.BOR_LEVELS:
            k = int((sub == r).sum())
            rows.append({"group": g, "response": r, "n": k, "group_n": len(sub), "percent": 100 * k / len(sub)})
    counts = pd.DataFrame(rows, columns=["group", "response", "n", "group_n", "percent"])
    return ResponseTable(by, tuple(groups), counts, concat_excluded(excluded), int(keep.sum()))


# ----------------------------------------------------------------------------------------
# Rates with CIs and the between-group comparison
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutcomeComparison:
    """Between-group comparison of one outcome; ``result`` names the test chosen by the rules."""

    outcome: str
    table: tuple[tuple[int, int], ...]  # per group: (with outcome, without)
    result: TestResult

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "test": self.result.test, "test_label": self.result.label,
                "statistic": self.result.statistic, "pvalue": self.result.pvalue,
                "pvalue_text": format_p(self.result.pvalue), "note": self.result.note}


@dataclass(frozen=True)
class ResponseRates:
    """ORR / CBR / DCR per group with CIs, the n not evaluable, and the comparison between groups.

    ``rates`` is tidy: one row per (group, outcome) with ``responders``, ``n``, ``rate``,
    ``ci_lower``, ``ci_upper``, ``n_ne`` and ``n_undetermined`` (SD without a duration, CBR only).
    """

    by: str | None
    outcomes: tuple[str, ...]
    ci_method: str
    cb_sd_months: float
    denominator: str
    groups: tuple[str, ...]
    rates: pd.DataFrame
    bor_counts: pd.DataFrame
    comparisons: tuple[OutcomeComparison, ...]
    excluded: pd.DataFrame
    n_used: int
    notes: tuple[str, ...] = field(default=())

    @property
    def patients_note(self) -> str:
        return patients_statement(self.n_used, self.excluded)

    @property
    def comparison(self) -> OutcomeComparison | None:
        """The comparison of the first outcome (ORR when it was requested)."""
        return self.comparisons[0] if self.comparisons else None

    def to_frame(self) -> pd.DataFrame:
        return self.rates.copy()

    def display(self) -> pd.DataFrame:
        """One row per (group, outcome): "x/n", "rate % (lo-hi)", n NE."""
        out = self.rates.copy()
        ci = "95% CI (" + ("Clopper-Pearson" if self.ci_method == "exact" else "Wilson") + ")"
        out["Responders / n"] = out["responders"].astype(str) + "/" + out["n"].astype(str)
        out["Rate, %"] = [("—" if math.isnan(r) else f"{100 * r:.1f}") for r in out["rate"]]
        out[ci] = [("—" if math.isnan(lo) else f"{100 * lo:.1f}–{100 * hi:.1f}")
                   for lo, hi in zip(out["ci_lower"], out["ci_upper"])]
        out["Outcome"] = out["outcome"].map(OUTCOME_LABELS)
        out = out.rename(columns={"group": "Group", "n_ne": "n NE"})
        return out[["Group", "Outcome", "Responders / n", "Rate, %", ci, "n NE"]]

    def comparison_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.as_dict() for c in self.comparisons],
                            columns=["outcome", "test", "test_label", "statistic", "pvalue", "pvalue_text", "note"])

    def to_dict(self) -> dict:
        """The CLI's JSON contract (see the issue): groups with n, best_response, orr, cbr(, dcr)."""
        groups = {}
        for g in self.groups:
            counts = self.bor_counts[self.bor_counts["group"] == g].set_index("response")["n"]
            entry = {"n": int(counts.sum()), "best_response": {r: int(counts.get(r, 0)) for r in schema.BOR_LEVELS}}
            for _, row in self.rates[self.rates["group"] == g].iterrows():
                empty = int(row["n"]) == 0  # e.g. every SD without a duration: no CBR denominator
                entry[row["outcome"]] = {"responders": int(row["responders"]), "n": int(row["n"]),
                                         "rate": None if empty else float(row["rate"]),
                                         "ci95": None if empty else [float(row["ci_lower"]), float(row["ci_upper"])]}
            groups[g] = entry
        comp = self.comparison
        return {"by": self.by, "groups": groups,
                "comparison": None if comp is None else
                {"outcome": comp.outcome, "test": comp.result.test, "pvalue": float(comp.result.pvalue)},
                "ci_method": self.ci_method, "denominator": self.denominator, "cb_sd_months": self.cb_sd_months,
                "n_used": self.n_used, "excluded": self.excluded.to_dict(orient="records"),
                "notes": list(self.notes)}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def _outcome_flags(df: pd.DataFrame, cb_sd_months: float) -> dict[str, pd.Series]:
    bor = df[schema.BOR].astype(object)
    cb = with_clinical_benefit(df[[c for c in (schema.BOR, schema.SD_DURATION) if c in df.columns]],
                               cb_sd_months)[schema.CLINICAL_BENEFIT]
    return {"orr": bor.isin(["CR", "PR"]).astype("boolean"),
            "cbr": cb,
            "dcr": bor.isin(["CR", "PR", "SD"]).astype("boolean")}


def _outcome_rows(outcome, flag, labels, groups, drop, is_ne, undetermined, ci_method, conf_level, rows) -> list:
    """Append one rate row per group to ``rows``; return the (yes, no) counts per group."""
    counts = []
    for g in groups:
        in_g = (labels == g).to_numpy()
        usable = in_g & flag.notna().to_numpy() & ~drop
        yes, n = int(flag[usable].astype(bool).sum()), int(usable.sum())
        counts.append((yes, n - yes))
        ci = proportion_ci(yes, n, ci_method, conf_level) if n else None
        rows.append({"group": g, "outcome": outcome, "responders": yes, "n": n,
                     "rate": ci.estimate if ci else math.nan,
                     "ci_lower": ci.lower if ci else math.nan, "ci_upper": ci.upper if ci else math.nan,
                     "n_ne": int((in_g & is_ne).sum()),
                     "n_undetermined": int((in_g & undetermined).sum()) if outcome == "cbr" else 0})
    return counts


def response_rates(df: pd.DataFrame, by: str | None = None, outcome: Outcome | Literal["all"] | Sequence[str] = "all",
                   ci_method: Literal["exact", "wilson"] = "exact",
                   cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                   denominator: Denominator = "itt", conf_level: float = 0.95) -> ResponseRates:
    """Objective response, clinical benefit and disease control rates per group, with CIs and a test.

    Parameters
    ----------
    df : DataFrame
        One row per patient (needs :data:`schema.BOR`; :data:`schema.SD_DURATION` for CBR).
    by : str, optional
        Grouping column (see :func:`best_response_table`).
    outcome : "orr", "cbr", "dcr", "all" or a sequence of them
        ORR = CR+PR; CBR = CR+PR+SD lasting >= ``cb_sd_months`` (``il2lib.cohort.with_clinical_benefit``);
        DCR = CR+PR+SD of any duration.
    ci_method : {"exact", "wilson"}
        Clopper-Pearson (default) or Wilson score interval.
    denominator : {"itt", "evaluable"}
        ITT keeps NE in the denominator (counted as non-responders); "evaluable" leaves NE out.

    Notes
    -----
    SD without a duration makes clinical benefit undetermined: such patients leave the CBR
    denominator only, counted in ``n_undetermined`` and listed in ``excluded``. The comparison
    between groups uses :func:`il2lib.stats.compare_proportions` (Fisher for 2x2, exact
    Fisher-Freeman-Halton when an expected count is < 5, chi-square otherwise).
    """
    outcomes = OUTCOMES if outcome == "all" else ((outcome,) if isinstance(outcome, str) else tuple(outcome))
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise ValueError(f"Unknown outcome(s) {unknown}; choose from {', '.join(OUTCOMES)} or 'all'.")
    table = best_response_table(df, by)
    labels = group_labels(df, by)
    kept = labels.notna().to_numpy() & df[schema.BOR].isin(schema.BOR_LEVELS).to_numpy()
    data, labels = df[kept], labels[kept]
    excluded = [table.excluded]
    is_ne = data[schema.BOR].eq("NE").to_numpy(dtype=bool)
    if denominator == "evaluable":
        excluded.append(excluded_frame(data, is_ne, "not evaluable (NE): evaluable-only denominator"))
    elif denominator != "itt":
        raise ValueError(f"Unknown denominator {denominator!r}; use 'itt' or 'evaluable'.")
    flags = _outcome_flags(data, cb_sd_months)
    undetermined = flags["cbr"].isna().to_numpy()
    if "cbr" in outcomes and undetermined.any():
        excluded.append(excluded_frame(data, undetermined & ~(is_ne & (denominator == "evaluable")),
                                       f"SD without a duration: clinical benefit (SD >= {cb_sd_months:g} months) "
                                       "undetermined; left out of CBR only"))
    rows, comparisons, notes = [], [], []
    drop_ne = is_ne & (denominator == "evaluable")
    for o in outcomes:
        counts = _outcome_rows(o, flags[o], labels, table.groups, drop_ne, is_ne, undetermined, ci_method,
                               conf_level, rows)
        if len(table.groups) >= 2:
            try:
                comparisons.append(OutcomeComparison(o, tuple(counts), compare_proportions(counts)))
            except InsufficientDataError as err:
                notes.append(f"{OUTCOME_LABELS[o]}: no test ({err})")
    if by in (schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT) and len(table.groups) >= 2:
        notes.append(schema.ERA_CAVEAT)
    rates = pd.DataFrame(rows, columns=["group", "outcome", "responders", "n", "rate", "ci_lower", "ci_upper",
                                        "n_ne", "n_undetermined"])
    return ResponseRates(by, tuple(outcomes), ci_method, float(cb_sd_months), denominator, table.groups, rates,
                         table.counts[["group", "response", "n"]].copy(), tuple(comparisons),
                         concat_excluded(excluded), table.n_used, tuple(notes))


# ----------------------------------------------------------------------------------------
# Duration of response
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DurationOfResponse:
    """Kaplan-Meier duration of response among responders (CR/PR).

    ``median`` is NaN when not reached; ``range_text`` is the observed range with ``+`` on an
    ongoing (censored) response, e.g. ``"2.1–35.4+"``.
    """

    n_responders: int
    n_analysed: int
    n_events: int
    n_ongoing: int
    median: float
    median_ci: tuple[float, float]
    range_text: str
    conf_type: str
    excluded: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"n_responders": self.n_responders, "n_analysed": self.n_analysed,
                              "n_events": self.n_events, "n_ongoing": self.n_ongoing, "median_months": self.median,
                              "ci_lower": self.median_ci[0], "ci_upper": self.median_ci[1],
                              "range": self.range_text, "conf_type": self.conf_type}])


def duration_of_response(df: pd.DataFrame, conf_type: str = "log-log") -> DurationOfResponse:
    """Median duration of response by Kaplan-Meier (the survival engine), n ongoing, observed range.

    Responders without a DoR time (no first-response date or assessment) are listed in ``excluded``.
    """
    from il2lib.survival import kaplan_meier  # the survival engine; imported lazily

    require_columns(df, schema.BOR, schema.DOR_MONTHS, schema.DOR_EVENT)
    resp = df[df[schema.BOR].isin(["CR", "PR"]).to_numpy(dtype=bool)]
    time = pd.to_numeric(resp[schema.DOR_MONTHS], errors="coerce").astype("float64")
    event = resp[schema.DOR_EVENT].astype("boolean")
    usable = (time.notna() & event.notna()).to_numpy()
    excluded = excluded_frame(resp, ~usable, "responder without a duration-of-response time or status")
    t, e = time[usable].to_numpy(), event[usable].to_numpy(dtype=bool)
    if t.size == 0:
        return DurationOfResponse(len(resp), 0, 0, 0, math.nan, (math.nan, math.nan), "—", conf_type, excluded)
    km = kaplan_meier(t, e, conf_type=conf_type)
    lo_i, hi_i = int(np.argmin(t)), int(np.argmax(t))
    fmt = lambda i: f"{t[i]:.1f}" + ("" if e[i] else "+")  # noqa: E731
    median = km.median if km.median is not None else math.nan
    ci = tuple(math.nan if v is None else float(v) for v in km.median_ci)
    return DurationOfResponse(len(resp), int(t.size), int(e.sum()), int((~e).sum()), float(median), ci,
                              f"{fmt(lo_i)}–{fmt(hi_i)}", conf_type, excluded)


__all__ = ["ResponseTable", "ResponseRates", "OutcomeComparison", "DurationOfResponse", "best_response_table",
           "response_rates", "duration_of_response", "OUTCOMES", "OUTCOME_LABELS", "ALL_PATIENTS", "patient_ids"]
