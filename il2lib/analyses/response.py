"""Best overall response, ORR / CBR / DCR with exact CIs, between-group comparisons, duration of response.

Denominators are intention-to-treat by default (every analysed patient, NE included, as the
PROCLAIM paper's 9/40 = 22.5%); ``denominator="evaluable"`` leaves NE out and lists them.
Every exclusion is returned as (patient_id, reason).

The BOR counted is the recorded one after the RECIST 1.1 rules of :mod:`il2lib.validation.recist`: confirmed
responses only where ``response_confirmed`` exists (the other view is computed beside it), and SD only
from the SD minimum (default 6 weeks), so that DCR = CR + PR + SD always holds.
"""
from __future__ import annotations

import json
import math
import weakref
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib._work import WorkCounter
from il2lib.analyses._grouping import (ALL_PATIENTS, concat_excluded, excluded_frame, group_labels, level_order,
                                       patient_ids, patients_statement, require_columns)
from il2lib.cohort import clinical_benefit
from il2lib.errors import InsufficientDataError
from il2lib.notes import Note
from il2lib.privacy.disclosure import NO_SUPPRESSION, SUPPRESSED, CountView, Suppression
from il2lib.stats import TestResult, compare_proportions, exact_work_budget, format_p, proportion_ci
from il2lib.survival import kaplan_meier
from il2lib.validation.recist import VIEW_LABELS, VIEW_SHORT, PatientRules, View, patient_rules, resolve_view, rules_of

Outcome = Literal["orr", "cbr", "dcr"]
OUTCOMES: tuple[str, ...] = ("orr", "cbr", "dcr")
OUTCOME_LABELS = {"orr": "ORR (CR+PR)", "cbr": "CBR (CR+PR+SD>=threshold)", "dcr": "DCR (CR+PR+SD)"}
Denominator = Literal["itt", "evaluable"]
#: Work the response tables may do, in passes over the selected patients: :data:`RESPONSE_RULE_PASSES` for the
#: RECIST rules and outcome flags, and one per group plus :data:`RESPONSE_GROUP_COST`; past it they are refused.
RESPONSE_WORK_LIMIT = 2_500_000
RESPONSE_RULE_PASSES = 4
#: A group's fixed cost, in patients: its counts and confidence intervals (both response views) and its share of
#: the Monte Carlo p-values, whatever the number of patients.
RESPONSE_GROUP_COST = 13_000


def response_work(patients: int, groups: int) -> int:
    """Work of a response table or of the rates (see :data:`RESPONSE_WORK_LIMIT`)."""
    return patients * (groups + RESPONSE_RULE_PASSES) + groups * RESPONSE_GROUP_COST


def _charge_response_work(labels: pd.Series, work_limit: int | None) -> None:
    """Refuse, before any counting, a selection whose response work is over the limit."""
    patients, groups = int(labels.notna().sum()), int(labels.nunique())
    WorkCounter(f"response counts for {patients:,} patients in {groups:,} group{'s' if groups != 1 else ''}",
                RESPONSE_WORK_LIMIT if work_limit is None else work_limit,
                "narrow the filters or compare a column with fewer values").charge(response_work(patients, groups))


def _missing_group_exclusions(df: pd.DataFrame, by: str | None, labels: pd.Series) -> pd.DataFrame:
    if by is None:
        return concat_excluded([])
    return excluded_frame(df, labels.isna().to_numpy(), f"{schema.label(by)} missing")


class FrameRules:
    """The RECIST rules of one frame's patients, counted once per (view, SD minimum, window) and shared by every
    grouping of that frame (``frame_rules=`` of :func:`best_response_table` and :func:`response_rates`). It holds the
    frame weakly and answers for that frame object only; the frame must not change while it is in use."""

    def __init__(self, df: pd.DataFrame):
        self._frame = weakref.ref(df)
        self._parts: dict[tuple, PatientRules] = {}

    def belongs_to(self, df: pd.DataFrame) -> bool:
        return self._frame() is df

    def parts(self, df: pd.DataFrame, view: str, sd_minimum_weeks: float, window_days: float) -> PatientRules:
        if not self.belongs_to(df):
            raise ValueError("These response rules were counted for another frame.")
        key = (view, float(sd_minimum_weeks), float(window_days))
        if key not in self._parts:
            self._parts[key] = patient_rules(df, view, sd_minimum_weeks, window_days)
        return self._parts[key]

    def rules(self, df: pd.DataFrame, keep: np.ndarray, view: str, sd_minimum_weeks: float, window_days: float):
        """The rules of the rows ``keep`` of ``df``, as :func:`apply_response_rules` of ``df[keep]``."""
        return rules_of(self.parts(df, view, sd_minimum_weeks, window_days), None if keep.all() else keep)


# ----------------------------------------------------------------------------------------
# Best overall response table
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseTable:
    """Best overall response counts and percentages per group.

    ``counts`` is tidy: one row per (group, response) with ``n``, ``group_n`` and ``percent``
    (of ``group_n``). ``excluded`` lists patients left out, with the reason. The counts are of the BOR
    counted in ``view`` (:func:`il2lib.validation.recist.apply_response_rules`); ``reclassified`` lists the patients
    whose recorded BOR was re-classified and ``notes`` say so.
    """

    by: str | None
    groups: tuple[str, ...]
    counts: pd.DataFrame
    excluded: pd.DataFrame
    n_used: int
    view: str = "all"
    notes: tuple[Note, ...] = field(default=())
    reclassified: pd.DataFrame | None = None

    @property
    def view_label(self) -> str:
        return VIEW_LABELS[self.view]

    def to_frame(self) -> pd.DataFrame:
        return self.counts.copy()

    @property
    def n_note(self) -> str:
        return patients_statement(self.n_used, self.excluded)

    def display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """Wide table: one row per response (plus ORR), one column per group, cells "n (x.x%)".

        ``shown`` (small-cell protection, :func:`il2lib.privacy.disclosure.protect` of :meth:`count_view`) says how
        each count reads; a percentage of a hidden count or of a hidden group size reads "–".
        """
        cols = {}
        for g in self.groups:
            sub = self.counts[self.counts["group"] == g].set_index("response")
            n = int(sub["group_n"].iloc[0])
            size = ("n", self.by, g)

            def cell(key, k: int) -> str:
                return f"{shown.text(key, k)} ({100 * k / n:.1f}%)" if shown.shows(key, size) \
                    else f"{shown.text(key, k)} (–)"

            cells = [cell(("bor", self.by, g, r), int(sub.loc[r, "n"])) for r in schema.BOR_LEVELS]
            cells.append(cell(("bor", self.by, g, "CR+PR"), int(sub.loc["CR", "n"] + sub.loc["PR", "n"])))
            cols[f"{g} (n={shown.text(size, n)})"] = cells
        index = [schema.BOR_LABELS[r] + f" ({r})" for r in schema.BOR_LEVELS] + ["Objective response (CR+PR)"]
        return pd.DataFrame(cols, index=pd.Index(index, name="Best overall response"))

    def count_view(self) -> CountView:
        """The table's counts for small-cell protection: per group, N = CR + PR + SD + PD + NE, ORR = CR + PR."""
        view = CountView()
        for g in self.groups:
            sub = self.counts[self.counts["group"] == g].set_index("response")
            size, levels = ("n", self.by, g), [("bor", self.by, g, r) for r in schema.BOR_LEVELS]
            view.add(size, sub["group_n"].iloc[0], headline=True)
            for key, r in zip(levels, schema.BOR_LEVELS):
                view.add(key, sub.loc[r, "n"])
            view.add(("bor", self.by, g, "CR+PR"), sub.loc["CR", "n"] + sub.loc["PR", "n"], headline=True)
            view.add_sum(size, levels)
            view.add_sum(("bor", self.by, g, "CR+PR"), levels[:2])
        return view


def best_response_table(df: pd.DataFrame, by: str | None = None, view: View = "auto",
                        sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                        window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                        work_limit: int | None = None, order: Sequence[str] | None = None,
                        frame_rules: FrameRules | None = None) -> ResponseTable:
    """Count best overall responses (CR, PR, SD, PD, NE) per level of ``by``, after the RECIST 1.1 rules.

    Parameters
    ----------
    df : DataFrame
        One row per patient with :data:`schema.BOR` (always one of CR/PR/SD/PD/NE after loading).
    by : str, optional
        Any column: disease, prior PD-1/PD-L1, agent, line of IL-2 (1 / 2 / 3+), ... Groups are labelled by
        :func:`~il2lib.analyses._grouping.group_labels` ("Prior PD-1/PD-L1: yes", "Melanoma").
        Patients with a missing ``by`` value are left out and listed in ``excluded``.
    view, sd_minimum_weeks, window_days
        See :func:`il2lib.validation.recist.apply_response_rules`: ``"auto"`` counts confirmed responses only where
        ``response_confirmed`` exists; an SD shorter than ``sd_minimum_weeks`` counts as PD or NE.
    work_limit : int, optional
        Work allowed (default :data:`RESPONSE_WORK_LIMIT`, counted by :func:`response_work` before anything is
        counted); past it :class:`~il2lib.errors.WorkLimitExceeded` is raised.
    order : sequence of str, optional
        Groups to put first, in that order (see :func:`~il2lib.analyses._grouping.level_order`); the others
        follow in the default order (without before with, first line first).
    frame_rules : FrameRules, optional
        The rules of ``df`` already counted (for another grouping of the same frame); same results.
    """
    return _best_response(df, by, view, sd_minimum_weeks, window_days, work_limit, order,
                          frame_rules=frame_rules)[0]


def _best_response(df: pd.DataFrame, by: str | None, view: View, sd_minimum_weeks: float, window_days: float,
                   work_limit: int | None, order: Sequence[str] | None, labels: pd.Series | None = None,
                   frame_rules: FrameRules | None = None):
    """:func:`best_response_table` and the RECIST rules it applied to its patients (the rows of ``df`` with a
    group and a BOR of CR/PR/SD/PD/NE); ``labels``: ``group_labels(df, by)`` when already made and charged for."""
    require_columns(df, schema.BOR)
    view = resolve_view(df, view)
    if labels is None:
        labels = group_labels(df, by)
        _charge_response_work(labels, work_limit)
    excluded = [_missing_group_exclusions(df, by, labels)]
    bor = df[schema.BOR].astype(object)
    bad = ~bor.isin(schema.BOR_LEVELS).to_numpy() & labels.notna().to_numpy()
    excluded.append(excluded_frame(df, bad, "best overall response not one of CR/PR/SD/PD/NE"))
    keep = labels.notna().to_numpy() & ~bad
    rules = (frame_rules or FrameRules(df)).rules(df, keep, view, sd_minimum_weeks, window_days)
    labels, bor = labels[keep], rules.bor
    groups = level_order(by, labels, order)
    if not groups:
        raise InsufficientDataError("No patient has a value for the grouping column; nothing to tabulate.")
    rows = []
    code = _group_codes(labels, groups)
    sizes = np.bincount(code[code >= 0], minlength=len(groups))
    for g, size, by_level in zip(groups, sizes.tolist(), _bor_counts(bor, code, len(groups)).tolist()):
        for r, k in zip(schema.BOR_LEVELS, by_level):
            rows.append({"group": g, "response": r, "n": k, "group_n": size, "percent": 100 * k / size})
    counts = pd.DataFrame(rows, columns=["group", "response", "n", "group_n", "percent"])
    return ResponseTable(by, tuple(groups), counts, concat_excluded(excluded), int(keep.sum()), rules.view,
                         rules.table_notes, rules.reclassified), rules


def _group_codes(labels: pd.Series, groups: Sequence[str]) -> np.ndarray:
    """Each patient's position in ``groups`` (-1: none), so a group's patients are ``code == k``, not ``labels == g``
    compared text by text."""
    return pd.Index(list(groups), dtype=object).get_indexer(labels)


def _bor_counts(bor: pd.Series, code: np.ndarray, n_groups: int) -> np.ndarray:
    """Patients per group (``code``: :func:`_group_codes`) and level of :data:`schema.BOR_LEVELS`, in that order."""
    level = pd.Index(schema.BOR_LEVELS, dtype=object).get_indexer(bor.astype(object))
    counted = (code >= 0) & (level >= 0)
    n_levels = len(schema.BOR_LEVELS)
    return np.bincount(code[counted] * n_levels + level[counted],
                       minlength=n_groups * n_levels).reshape(n_groups, n_levels)


def rate_count_keys(by: str | None, group: str, outcome: str, view: str) -> tuple:
    """Small-cell keys of one rate row: responders, denominator, n NE."""
    return ("resp", by, group, outcome, view), ("denom", by, group, outcome, view), ("ne", by, group)


def response_count_view(table: ResponseTable | None, *rates: ResponseRates) -> CountView:
    """Everything a response section shows, with the identities a reader could use between its numbers:
    N = CR + PR + SD + PD + NE, ORR = CR + PR, DCR = CR + PR + SD, ORR <= CBR <= DCR, denominator = N
    (all treated) or N - NE (evaluable), each grouping's levels adding up to all patients. Each identity
    is kept only where the numbers satisfy it (:meth:`il2lib.privacy.disclosure.CountView.add_relation`)."""
    view = table.count_view() if table is not None else CountView()
    for r in rates:
        view = view.merge(r.count_view())
    for r in rates:
        for g in r.groups:
            size, (cr, pr, sd, _, ne) = ("n", r.by, g), [("bor", r.by, g, lvl) for lvl in schema.BOR_LEVELS]
            for outcome in r.outcomes:
                for v in {r.view, r.other_view} - {None}:
                    resp, denom, n_ne = rate_count_keys(r.by, g, outcome, v)
                    view.add_sum(size, [denom])
                    view.add_sum(size, [denom, ne])
                    view.add_sum(n_ne, [ne])
                    view.add_sum(resp, {"orr": [cr, pr], "dcr": [cr, pr, sd]}.get(outcome, [cr, pr, sd]))
                    view.add_at_most(rate_count_keys(r.by, g, "orr", v)[0], resp)
                    view.add_at_most(resp, rate_count_keys(r.by, g, "dcr", v)[0])
        for outcome in r.outcomes:  # a grouping's levels add up to the ungrouped row, where one is shown
            for v in {r.view, r.other_view} - {None}:
                for i in (0, 1):
                    whole = rate_count_keys(None, ALL_PATIENTS, outcome, v)[i]
                    view.add_sum(whole, [rate_count_keys(r.by, g, outcome, v)[i] for g in r.groups])
    return view


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

    ``view`` is the response view of ``rates`` (``"confirmed"``: confirmed CR/PR only, the default where
    ``response_confirmed`` exists; ``"all"``). Where the column exists, ``other_view`` names the other view
    and ``other_rates`` / ``other_bor_counts`` hold its numbers (same layout). ``reclassified`` lists the
    patients whose BOR the RECIST 1.1 rules re-classified in ``view``; ``criteria_mix`` counts
    ``response_criteria``; ``n_irecist`` counts iRECIST-based BORs.
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
    view: str = "all"
    sd_minimum_weeks: float = float(schema.SD_MINIMUM_WEEKS_DEFAULT)
    window_days: float = float(schema.ASSESSMENT_WINDOW_DAYS_DEFAULT)
    other_view: str | None = None
    other_rates: pd.DataFrame | None = None
    other_bor_counts: pd.DataFrame | None = None
    reclassified: pd.DataFrame | None = None
    criteria_mix: dict = field(default_factory=dict)
    n_irecist: int = 0

    @property
    def n_note(self) -> str:
        return patients_statement(self.n_used, self.excluded)

    @property
    def view_label(self) -> str:
        return VIEW_LABELS[self.view]

    def _labelled_rows(self) -> pd.DataFrame:
        """Rates in display order with an ``label`` column; the other view's ORR follows each ORR row."""
        rows = []
        for g in self.groups:
            mine = self.rates[self.rates["group"] == g]
            for _, row in mine.iterrows():
                both = row["outcome"] == "orr" and self.other_rates is not None
                rows.append({**row.to_dict(), "view": self.view, "label": OUTCOME_LABELS[row["outcome"]]
                             + (f", {VIEW_SHORT[self.view]}" if both else "")})
                if both:
                    other = self.other_rates[(self.other_rates["group"] == g) & (self.other_rates["outcome"] == "orr")]
                    rows += [{**r.to_dict(), "view": self.other_view,
                              "label": f"{OUTCOME_LABELS['orr']}, {VIEW_SHORT[self.other_view]}"}
                             for _, r in other.iterrows()]
        return pd.DataFrame(rows, columns=list(self.rates.columns) + ["view", "label"])

    @property
    def comparison(self) -> OutcomeComparison | None:
        """The comparison of the first outcome (ORR when it was requested)."""
        return self.comparisons[0] if self.comparisons else None

    def to_frame(self) -> pd.DataFrame:
        return self.rates.copy()

    def display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """One row per (group, outcome): "x/n", "rate % (lo-hi)", n NE. Where ``response_confirmed`` exists,
        the ORR row of each view is shown, labelled (the default view first). Under small-cell protection
        (``shown``, see :meth:`count_view`) a rate and CI of a hidden count read "masked"."""
        out = self._labelled_rows()
        ci = "95% CI (" + ("Clopper-Pearson" if self.ci_method == "exact" else "Wilson") + ")"
        keys = [rate_count_keys(self.by, r.group, r.outcome, r.view) for r in out.itertuples()]
        visible = [shown.shows(k, n) for k, n, _ in keys]
        out["Responders / n"] = [f"{shown.text(k, r)}/{shown.text(n, d)}"
                                 for (k, n, _), r, d in zip(keys, out["responders"], out["n"])]
        out["Rate, %"] = [("—" if math.isnan(r) else f"{100 * r:.1f}") if v else SUPPRESSED
                          for r, v in zip(out["rate"], visible)]
        out[ci] = [("—" if math.isnan(lo) else f"{100 * lo:.1f}–{100 * hi:.1f}") if v else SUPPRESSED
                   for lo, hi, v in zip(out["ci_lower"], out["ci_upper"], visible)]
        out["n_ne"] = [shown.text(ne, v) for (_, _, ne), v in zip(keys, out["n_ne"])]
        out["Outcome"] = out["label"]
        out = out.rename(columns={"group": "Group", "n_ne": "n NE"})
        return out[["Group", "Outcome", "Responders / n", "Rate, %", ci, "n NE"]]

    def count_view(self) -> CountView:
        """Responders, denominators and n NE of every row shown, with responders <= denominator."""
        view = CountView()
        for r in self._labelled_rows().itertuples():
            responders, denominator, ne = rate_count_keys(self.by, r.group, r.outcome, r.view)
            view.add(responders, r.responders, headline=r.outcome == "orr")
            view.add(denominator, r.n, headline=True)
            view.add(ne, r.n_ne)
            view.add_at_most(responders, denominator)
        return view

    def comparison_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.as_dict() for c in self.comparisons],
                            columns=["outcome", "test", "test_label", "statistic", "pvalue", "pvalue_text", "note"])

    def to_dict(self) -> dict:
        """The CLI's JSON contract (README, command line): groups with n, best_response, orr, cbr(, dcr).

        The existing keys hold the numbers of ``orr_view`` (confirmed responses only where
        ``response_confirmed`` exists). New keys: per group ``by_view`` (each view's best_response and
        rates); ``orr_view``, ``orr_view_label``, ``views``, ``sd_minimum_weeks``, ``assessment_window_days``,
        ``response_criteria`` (mix, or None), ``irecist_based``, ``reclassified`` and ``note_details``
        (each note with its count and patient ids).
        """
        views = [(self.view, self.rates, self.bor_counts)]
        if self.other_view is not None:
            views.append((self.other_view, self.other_rates, self.other_bor_counts))
        groups = {}
        for g in self.groups:
            by_view = {view: _group_entry(g, rates, counts) for view, rates, counts in views}
            groups[g] = {**by_view[self.view], "by_view": by_view}
        comp = self.comparison
        reclassified = self.reclassified if self.reclassified is not None else pd.DataFrame()
        return {"by": self.by, "groups": groups,
                "comparison": None if comp is None else
                {"outcome": comp.outcome, "test": comp.result.test, "pvalue": float(comp.result.pvalue)},
                "ci_method": self.ci_method, "denominator": self.denominator, "cb_sd_months": self.cb_sd_months,
                "n_used": self.n_used, "excluded": self.excluded.to_dict(orient="records"),
                "notes": [str(n) for n in self.notes],
                "orr_view": self.view, "orr_view_label": self.view_label, "views": [v for v, _, _ in views],
                "sd_minimum_weeks": self.sd_minimum_weeks, "assessment_window_days": self.window_days,
                "response_criteria": self.criteria_mix or None, "irecist_based": self.n_irecist,
                "reclassified": reclassified.astype(object).to_dict(orient="records"),
                "note_details": [n.to_dict() for n in self.notes if isinstance(n, Note)]}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def _group_entry(g: str, rates: pd.DataFrame, bor_counts: pd.DataFrame) -> dict:
    counts = bor_counts[bor_counts["group"] == g].set_index("response")["n"]
    entry = {"n": int(counts.sum()), "best_response": {r: int(counts.get(r, 0)) for r in schema.BOR_LEVELS}}
    for _, row in rates[rates["group"] == g].iterrows():
        empty = int(row["n"]) == 0  # e.g. every SD without a duration: no CBR denominator
        entry[row["outcome"]] = {"responders": int(row["responders"]), "n": int(row["n"]),
                                 "rate": None if empty else float(row["rate"]),
                                 "ci95": None if empty else [float(row["ci_lower"]), float(row["ci_upper"])]}
    return entry


def _outcome_flags(bor: pd.Series, duration: pd.Series, cb_sd_months: float,
                   window_days: float) -> dict[str, pd.Series]:
    """ORR / CBR / DCR flags of the counted BOR; CBR's SD duration is the RECIST rule duration."""
    frame = pd.DataFrame({schema.BOR: bor.astype(object), schema.SD_DURATION: duration})
    cb = clinical_benefit(frame, cb_sd_months, window_days, counted=frame[schema.BOR])  # bor is counted already
    return {"orr": bor.isin(schema.RESPONDERS).astype("boolean"),
            "cbr": cb,
            "dcr": bor.isin(schema.DISEASE_CONTROL_LEVELS).astype("boolean")}


def _outcome_rows(outcome, flag, code, groups, drop, is_ne, undetermined, ci_method, conf_level, rows) -> list:
    """Append one rate row per group to ``rows`` (``code``: each patient's group, :func:`_group_codes`); return the
    (yes, no) counts per group."""
    counts = []
    known = flag.notna().to_numpy() & ~drop
    positive = flag.fillna(False).to_numpy(dtype=bool)
    for k, g in enumerate(groups):
        in_g = code == k
        usable = in_g & known
        yes, n = int((positive & usable).sum()), int(usable.sum())
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
                   denominator: Denominator = "itt", conf_level: float = 0.95, view: View = "auto",
                   sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                   window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                   work_limit: int | None = None, order: Sequence[str] | None = None,
                   frame_rules: FrameRules | None = None) -> ResponseRates:
    """Objective response, clinical benefit and disease control rates per group, with CIs and a test.

    Parameters
    ----------
    df : DataFrame
        One row per patient (needs :data:`schema.BOR`; :data:`schema.SD_DURATION` for CBR).
    by : str, optional
        Grouping column (see :func:`best_response_table`).
    outcome : "orr", "cbr", "dcr", "all" or a sequence of them
        ORR = CR+PR; CBR = CR+PR+SD lasting >= ``cb_sd_months`` (``il2lib.cohort.with_clinical_benefit``);
        DCR = CR+PR+SD, all of the BOR counted under the RECIST 1.1 rules (see ``view``).
    ci_method : {"exact", "wilson"}
        Clopper-Pearson (default) or Wilson score interval.
    denominator : {"itt", "evaluable"}
        ITT keeps NE in the denominator (counted as non-responders); "evaluable" leaves NE out.
    view : {"auto", "confirmed", "all"}
        Response view (:func:`il2lib.validation.recist.apply_response_rules`): ``"auto"`` counts confirmed CR/PR only
        where ``response_confirmed`` exists; the other view is then computed too (``other_rates``).
    sd_minimum_weeks, window_days
        RECIST 1.1 SD minimum from IL-2 start (0 = none) and the assessment window W: a shorter SD counts
        as PD if progression followed, else NE.
    work_limit, order, frame_rules
        As for :func:`best_response_table`.

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
    if denominator not in ("itt", "evaluable"):
        raise ValueError(f"Unknown denominator {denominator!r}; use 'itt' or 'evaluable'.")
    view = resolve_view(df, view)
    labels = group_labels(df, by)
    _charge_response_work(labels, work_limit)
    frame_rules = frame_rules or FrameRules(df)
    table, rules = _best_response(df, by, view, sd_minimum_weeks, window_days, work_limit, order,
                                  labels, frame_rules)  # and the rules of data
    kept = labels.notna().to_numpy() & df[schema.BOR].isin(schema.BOR_LEVELS).to_numpy()
    # The columns read below, not all of them.
    data = df.loc[kept, [c for c in (schema.PATIENT_ID, schema.BOR, schema.RESPONSE_CONFIRMED) if c in df.columns]]
    duration = frame_rules.parts(df, view, sd_minimum_weeks, window_days).duration[kept]
    labels = labels[kept]
    excluded = [table.excluded]
    is_ne = rules.bor.eq("NE").to_numpy(dtype=bool)
    if denominator == "evaluable":
        excluded.append(excluded_frame(data, is_ne, "not evaluable (NE): evaluable-only denominator"))
    flags = _outcome_flags(rules.bor, duration, cb_sd_months, window_days)
    undetermined = flags["cbr"].isna().to_numpy()
    if "cbr" in outcomes and undetermined.any():
        excluded.append(excluded_frame(data, undetermined & ~(is_ne & (denominator == "evaluable")),
                                       f"SD without a duration: clinical benefit (SD >= {cb_sd_months:g} months) "
                                       "undetermined; left out of CBR only"))
    rows, comparisons, notes = [], [], []
    code = _group_codes(labels, table.groups)
    drop_ne = is_ne & (denominator == "evaluable")
    exact = exact_work_budget("the response rates")
    for o in outcomes:
        counts = _outcome_rows(o, flags[o], code, table.groups, drop_ne, is_ne, undetermined, ci_method,
                               conf_level, rows)
        if len(table.groups) >= 2:
            try:
                comparisons.append(OutcomeComparison(o, tuple(counts), compare_proportions(counts, exact)))
            except InsufficientDataError as err:
                notes.append(f"{OUTCOME_LABELS[o]}: no test ({err})")
    columns = ["group", "outcome", "responders", "n", "rate", "ci_lower", "ci_upper", "n_ne", "n_undetermined"]
    rates = pd.DataFrame(rows, columns=columns)
    other_view = other_rates = other_counts = None
    if rules.has_confirmation:
        other_view = "all" if view == "confirmed" else "confirmed"
        other = frame_rules.rules(df, kept, other_view, sd_minimum_weeks, window_days)
        other_ne = other.bor.eq("NE").to_numpy(dtype=bool)
        other_flags = _outcome_flags(other.bor, duration, cb_sd_months, window_days)
        other_rows: list = []
        for o in outcomes:
            _outcome_rows(o, other_flags[o], code, table.groups, other_ne & (denominator == "evaluable"), other_ne,
                          other_flags["cbr"].isna().to_numpy(), ci_method, conf_level, other_rows)
        other_rates = pd.DataFrame(other_rows, columns=columns)
        other_by_level = _bor_counts(other.bor, code, len(table.groups)).tolist()
        other_counts = pd.DataFrame([{"group": g, "response": r, "n": k}
                                     for g, by_level in zip(table.groups, other_by_level)
                                     for r, k in zip(schema.BOR_LEVELS, by_level)])
        notes.insert(0, _view_note(view, other_view, rates, other_rates, data))
    notes = notes[:1] + list(rules.notes) + notes[1:] if other_view else list(rules.notes) + notes
    if by in (schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT) and len(table.groups) >= 2:
        notes.append(schema.ERA_CAVEAT)
    return ResponseRates(by, tuple(outcomes), ci_method, float(cb_sd_months), denominator, table.groups, rates,
                         table.counts[["group", "response", "n"]].copy(), tuple(comparisons),
                         concat_excluded(excluded), table.n_used, tuple(notes), view, float(sd_minimum_weeks),
                         float(window_days), other_view, other_rates, other_counts, rules.reclassified,
                         rules.criteria_mix, rules.n_irecist)


def _view_note(view: str, other_view: str, rates: pd.DataFrame, other_rates: pd.DataFrame,
               data: pd.DataFrame) -> Note:
    """Which ORR view the rates use, and the other view's ORR (count: CR/PR counted in one view only)."""
    def orr(frame: pd.DataFrame) -> tuple[int, int]:
        rows = frame[frame["outcome"] == "orr"]
        return int(rows["responders"].sum()), int(rows["n"].sum())

    recorded = data[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)
    confirmed = data[schema.RESPONSE_CONFIRMED].astype("boolean").fillna(False).to_numpy(dtype=bool)
    differ = recorded & ~confirmed
    ids = list(patient_ids(data)[differ])
    text = (f"Rates count {VIEW_LABELS[view]}"
            + (" (RECIST 1.1 for non-randomised studies; the default where response_confirmed exists)"
               if view == "confirmed" else ""))
    if not rates[rates["outcome"] == "orr"].empty:
        (k, n), (k2, n2) = orr(rates), orr(other_rates)
        text += f": ORR {k}/{n}; {VIEW_LABELS[other_view]}: {k2}/{n2}"
    text += "."
    return Note(text, int(differ.sum()), ids, "orr_view")


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
    require_columns(df, schema.BOR, schema.DOR_MONTHS, schema.DOR_EVENT)
    resp = df[df[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)]
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


__all__ = ["ResponseTable", "ResponseRates", "FrameRules", "response_count_view", "OutcomeComparison",
           "DurationOfResponse", "best_response_table", "response_rates", "duration_of_response", "OUTCOMES",
           "OUTCOME_LABELS", "ALL_PATIENTS", "patient_ids"]
