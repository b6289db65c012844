"""Toxicity from the long-format adverse-event (AE) table, CTCAE v5 grades.

A patient counts once per term, at their worst grade, and once overall. Denominators are the
(filtered) patients whose toxicity is *known* (docs/domain.md, AE table): patients with AE rows, with
``max_ctcae_grade`` (0 = no AE; >= 1 answers "any AE" and "any grade >= 3" without term detail),
or of a source whose AE file the user declares complete (``ae_complete``: then no row = no AE).
The others are counted as unknown and named in a note. AE rows that cannot be attributed to an
analysed patient, or lack a valid grade, are listed with the reason, never dropped silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Literal, NamedTuple, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import (concat_excluded, excluded_frame, group_labels, level_order, level_text,
                                       patient_ids, require_columns)
from il2lib.errors import InsufficientDataError
from il2lib.notes import Note
from il2lib.privacy.disclosure import NO_SUPPRESSION, CountView, Suppression
from il2lib.stats import (TestResult, exact_work_budget, fisher_exact_pvalue, fisher_freeman_halton, format_p,
                          proportion_ci)
from il2lib.validation import ae_vocabulary

GRADES = (1, 2, 3, 4, 5)
#: How AE terms are ranked: by patients at any grade, or at grade >= 3.
TermOrder = Literal["any", "grade3"]
TERM_COLUMNS = ["group", "term", "N", "n_any", "pct_any", "n_grade3plus", "pct_grade3plus", "immune_related",
                *[f"n_grade{g}" for g in GRADES]]
SUMMARY_COLUMNS = ["group", "measure", "n", "N", "percent", "n_unknown"]
ANY_AE = "Any adverse event"
ANY_G3 = "Any grade >= 3 adverse event"
ANY_IRAE = "Any immune-related AE"
IRAE_G3 = "Immune-related AE grade >= 3"
STEROIDS = "Steroids for an AE / irAE"
ICU = "ICU transfer"
DEATHS = "Treatment-related death"
GRADE5_UNKNOWN = "Grade-5 AE, attribution unknown"
#: Summary measures over the patients whose "any AE" is known, and over those with term detail.
ANY_KNOWN_MEASURES = (ANY_AE, ANY_G3)
TERM_KNOWN_MEASURES = (ANY_IRAE, IRAE_G3, GRADE5_UNKNOWN)
#: Relations between summary measures that hold patient by patient (smaller, larger).
_MEASURE_ORDER = ((ANY_G3, ANY_AE), (ANY_IRAE, ANY_AE), (IRAE_G3, ANY_IRAE), (IRAE_G3, ANY_G3),
                  (GRADE5_UNKNOWN, ANY_G3))
CYCLE_COLUMNS = ["group", "cycle", "N", "n_patients_any", "pct_any", "n_patients_grade3plus", "pct_grade3plus",
                 "n_unknown"]
COVERAGE_COLUMNS = ["group", "n_patients", "n_known", "n_term_known", "n_unknown"]
#: Note kinds whose patients the page and the CLI list (the others are rules or whole denominators).
LISTED_NOTE_KINDS = ("ae_unknown", "ae_grade_only", "ae_complete", "ae_grade5_unknown_attribution",
                     "ae_grade_mismatch", "trd_conflict", "ae_cycle_not_given")
TRD_RULE = Note("Treatment-related death: a grade-5 AE with CTEP attribution definite, probable or possible, or "
                "treatment_related_death = yes in the patient file; a grade-5 AE of unknown attribution is listed "
                "apart, never counted as one.", kind="trd_rule")


@dataclass(frozen=True)
class ToxicitySummary:
    """Patient-level toxicity per group.

    ``by_term``: one row per (group, term): patients with the term at any grade and at grade
    >= 3, and the worst-grade distribution (``N``: the group's patients with term detail).
    ``summary``: one row per (group, measure) for any AE, grade >= 3, irAEs, steroids, ICU
    transfer and treatment-related deaths (``N`` = patients whose answer is known, ``n_unknown``
    = the others). ``by_cycle``: patients with an AE per cycle over those who received it.
    ``coverage``: per group, patients, known for "any AE", known term by term, unknown.
    ``excluded_ae_rows``: AE rows left out with the reason. ``warnings``: data conflicts (Notes).
    """

    by: str | None
    groups: tuple[str, ...]
    by_term: pd.DataFrame
    summary: pd.DataFrame
    by_cycle: pd.DataFrame
    excluded_ae_rows: pd.DataFrame
    n_patients: int
    notes: tuple[str, ...]
    warnings: tuple[Note, ...] = ()
    coverage: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COVERAGE_COLUMNS))
    #: The patients of unknown toxicity per source, as the "ae_unknown" note counts them.
    unknown_by_source: tuple[tuple[str, int], ...] = ()
    ae_complete: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.by_term.copy()

    @property
    def term_sizes(self) -> pd.Series:
        """Per group, the patients with term detail: the denominators of the per-term rows."""
        return self.coverage.set_index("group")["n_term_known"].reindex(list(self.groups)).fillna(0).astype(int)

    @property
    def n_known(self) -> int:
        """Patients whose toxicity ("any AE") is known: the overall denominators."""
        return int(self.coverage["n_known"].sum())

    @property
    def n_note(self) -> str:
        text = (f"Patients used: {self.n_patients}; toxicity known for {self.n_known} (the denominators), "
                f"unknown for {self.n_patients - self.n_known}.")
        if len(self.excluded_ae_rows):
            counts = self.excluded_ae_rows.groupby("reason", sort=False).size()
            text += " AE rows left out: " + "; ".join(f"{n} ({r})" for r, n in counts.items()) + "."
        return text

    def terms(self, sort_by: TermOrder = "any", grade3_only: bool = False) -> list[str]:
        """AE terms, most frequent first over all groups: by patients at any grade (``sort_by="any"``), or at
        grade >= 3 with any grade breaking ties (``"grade3"``); ties keep the alphabetical order.
        ``grade3_only``: only the terms of at least one patient at grade >= 3."""
        if sort_by not in ("any", "grade3"):
            raise ValueError(f"sort_by is 'any' or 'grade3', not {sort_by!r}.")
        totals = self.by_term.groupby("term")[["n_any", "n_grade3plus"]].sum()
        if grade3_only:
            totals = totals[totals["n_grade3plus"] > 0]
        if sort_by == "grade3":
            totals = totals.rename_axis("name").sort_values(["n_grade3plus", "n_any", "name"],
                                                             ascending=[False, False, True])
        else:
            totals = totals.sort_values("n_any", ascending=False, kind="stable")
        return list(totals.index)

    def display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """Terms (rows, most frequent first) x groups: "any grade n (%)" and "grade >= 3 n (%)".

        ``shown`` (small-cell protection, :func:`il2lib.privacy.disclosure.protect` of :meth:`count_view`) says how
        each count reads; a percentage is shown only when its count and the group's N are."""
        order = self.terms()
        wide = {}
        sizes = self.term_sizes
        for g in self.groups:
            sub = self.by_term[self.by_term["group"] == g].set_index("term").reindex(order)
            n, size = int(sizes[g]), self.size_key(g)
            for label, count, what in (("any grade", "n_any", "any"), ("grade >= 3", "n_grade3plus", "grade>=3")):
                cells = []
                for term, k in zip(order, sub[count].fillna(0)):
                    key = self.term_key(g, term, what)
                    cells.append("not known" if not n else f"{shown.text(key, k)} ({100 * k / n:.0f}%)"
                                 if shown.shows(key, size) else f"{shown.text(key, k)} (–)")
                wide[f"{g} (N={shown.text(size, n)}): {label}"] = cells
        out = pd.DataFrame(wide, index=pd.Index(order, dtype=object))
        return out.rename_axis("AE term (CTCAE v5)")

    def overview(self, shown: Suppression = NO_SUPPRESSION, measures: Iterable[str] | None = None,
                 group_sizes: bool = False) -> pd.DataFrame:
        """Measures (rows; ``measures`` only, when given) x groups: "n/N (%)" over the patients whose answer is
        known, and how many are not ("not known" without any answer). Counts as ``shown`` says (small-cell
        protection), a percentage only when its n and N are shown. With ``group_sizes`` each column header
        carries the group's size, "Melanoma (N=57)", and a row over every patient of the group reads "n (%)"."""
        rows = self.summary if measures is None else self.summary[self.summary["measure"].isin(list(measures))]
        totals = self.coverage.set_index("group")["n_patients"]

        def cell(group, measure, n, big_n, p, u) -> str:
            n_key, big_n_key, unknown = self.measure_keys(group, measure)
            extra = f", {shown.text(unknown, u)} unknown" if u else ""
            if not big_n:
                return "not known" + extra
            rate = f"{p:.0f}%" if shown.shows(n_key, big_n_key) else "–"
            if group_sizes and big_n == totals[group]:
                return f"{shown.text(n_key, n)} ({rate})" + extra
            return f"{shown.text(n_key, n)}/{shown.text(big_n_key, big_n)} ({rate})" + extra

        cells = rows.assign(value=[cell(*r) for r in zip(rows["group"], rows["measure"], rows["n"], rows["N"],
                                                          rows["percent"], rows["n_unknown"])])
        wide = cells.pivot(index="measure", columns="group", values="value")
        wide = wide.reindex(index=list(dict.fromkeys(cells["measure"])), columns=list(self.groups))
        if group_sizes:
            wide.columns = [f"{g} (N={shown.text(self.patients_key(g), totals[g])})" for g in wide.columns]
        return wide.rename_axis("Measure").reset_index()

    def cycles_display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """AEs by cycle: patients with an AE over those who received the cycle (counts as ``shown`` says)."""
        c = self.by_cycle

        def cell(group, cycle, what, n, big_n):
            n_key, big_n_key = self.cycle_key(group, cycle, what), self.cycle_key(group, cycle, "N")
            if not big_n:
                return "not known"
            rate = f"{100 * n / big_n:.0f}%" if shown.shows(n_key, big_n_key) else "–"
            return f"{shown.text(n_key, n)}/{shown.text(big_n_key, big_n)} ({rate})"

        def counts(what, values):  # plain numbers unless a count is hidden
            keys = [self.cycle_key(g, cy, what) for g, cy in zip(c["group"], c["cycle"])]
            return [shown.text(k, v) for k, v in zip(keys, values)] if not shown.shows(*keys) else values

        return pd.DataFrame({"Group": c["group"], "Cycle": c["cycle"], "Received (N)": counts("N", c["N"]),
                             "Any AE": [cell(g, cy, "any", n, b) for g, cy, n, b in
                                        zip(c["group"], c["cycle"], c["n_patients_any"], c["N"])],
                             "Grade >= 3": [cell(g, cy, "grade>=3", n, b) for g, cy, n, b in
                                           zip(c["group"], c["cycle"], c["n_patients_grade3plus"], c["N"])],
                             "Unknown": counts("unknown", c["n_unknown"])})

    def immune_display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """Immune-related AEs: patients per term at any grade and at grade >= 3, of the group's N."""
        irae = self.by_term[self.by_term["immune_related"]]
        keys = {"n_any": [self.term_key(g, t, "any") for g, t in zip(irae["group"], irae["term"])],
                "N": [self.size_key(g) for g in irae["group"]],
                "n_grade3plus": [self.term_key(g, t, "grade>=3") for g, t in zip(irae["group"], irae["term"])]}
        irae = irae[["group", "term", "n_any", "N", "n_grade3plus"]]
        if not shown.shows(*(k for column in keys.values() for k in column)):
            irae = irae.assign(**{c: [shown.text(k, v) for k, v in zip(keys[c], irae[c])] for c in keys})
        return irae.rename(columns={"group": "Group", "term": "AE term", "n_any": "Patients", "N": "Of",
                                    "n_grade3plus": "Grade >= 3"})

    def named_patients(self) -> pd.DataFrame:
        """The patients behind the notes and warnings that name them (pseudonyms when the data carry them)."""
        named = [{"Note": note[:90] + ("…" if len(note) > 90 else ""), "Patients": len(note.patient_ids),
                  "Patient ids": ", ".join(note.patient_ids)}
                 for note in (*self.warnings, *self.notes) if getattr(note, "kind", "") in LISTED_NOTE_KINDS]
        return pd.DataFrame(named, columns=["Note", "Patients", "Patient ids"])

    # -- small-cell protection: the counts shown together and the identities between them
    def size_key(self, group: str) -> tuple:
        """The group's patients with term detail: the N of the per-term, immune-related and by-cycle rows."""
        return _size_key(self.by, group)

    def patients_key(self, group: str) -> tuple:
        return ("tox", self.by, group, "patients")

    def term_key(self, group: str, term: str, what: str) -> tuple:
        """``what``: ``"grade1"`` .. ``"grade5"`` (worst grade), ``"any"`` or ``"grade>=3"``."""
        return _term_key(self.by, group, term, what)

    def measure_keys(self, group: str, measure: str) -> tuple[tuple, tuple, tuple]:
        """Keys of a summary row's n, N (patients whose answer is known) and unknown count. Rows over the same
        patients share their N: the "any AE" rows the patients with a known worst grade, the immune-related
        and grade-5 rows the patients with term detail."""
        if measure in ANY_KNOWN_MEASURES:
            denominator = ("tox", self.by, group, "known")
        elif measure in TERM_KNOWN_MEASURES:
            denominator = self.size_key(group)
        else:
            denominator = ("tox", self.by, group, "measure N", measure)
        return ("tox", self.by, group, "measure", measure), denominator, (*denominator, "unknown")

    def cycle_key(self, group: str, cycle, what: str) -> tuple:
        """``what``: ``"N"`` (received), ``"any"``, ``"grade>=3"`` or ``"unknown"``."""
        return ("tox", self.by, group, "cycle", int(cycle), what)

    def total_key(self, what) -> tuple:
        """Counts over all groups stated in the notes: ``"patients"``, ``"known"``, ``"unknown"``, ``"N"``
        (with term detail), ``"grade only"``, ``"complete without rows"``, ``"left out"``,
        :data:`GRADE5_UNKNOWN` or ``("unknown by source", source)``."""
        return ("tox total", self.by, what)

    def count_view(self) -> CountView:
        """Every count the toxicity tables, figure and notes show, with the identities between them.

        Per group: patients = N + unknown for each denominator; per term, any grade = grades 1-5,
        grade >= 3 = grades 3 + 4 + 5, any grade <= N; per summary row n <= N; per cycle received <= N,
        grade >= 3 <= any <= received. A patient with a term at grade >= 3 is one with any grade >= 3 AE,
        so term and cycle counts are at most the group's "any AE" (and "grade >= 3") counts. The notes'
        totals add up the groups."""
        view = CountView()
        cov = self.coverage.set_index("group")
        for g in self.groups:
            patients, known, size = self.patients_key(g), ("tox", self.by, g, "known"), self.size_key(g)
            view.add(patients, cov.loc[g, "n_patients"], headline=True)
            view.add(known, cov.loc[g, "n_known"], headline=True)
            view.add(size, cov.loc[g, "n_term_known"], headline=True)
            for denominator in (known, size):
                view.add((*denominator, "unknown"), view.counts[patients] - view.counts[denominator])
                view.add_sum(patients, [denominator, (*denominator, "unknown")])
            view.add_at_most(size, known)
            self._add_summary(view, g)
            self._add_terms(view, g)
            self._add_cycles(view, g)
        self._add_totals(view)
        return view

    def _add_summary(self, view: CountView, g: str) -> None:
        for r in self.summary[self.summary["group"] == g].itertuples():
            n, denominator, unknown = self.measure_keys(g, r.measure)
            view.add(n, r.n)
            view.add(denominator, r.N, headline=True)
            view.add(unknown, r.n_unknown)
            view.add_at_most(n, denominator)
            view.add_sum(self.patients_key(g), [denominator, unknown])
        for smaller, larger in _MEASURE_ORDER:
            view.add_at_most(self.measure_keys(g, smaller)[0], self.measure_keys(g, larger)[0])

    def _add_terms(self, view: CountView, g: str) -> None:
        any_ae, any_g3 = self.measure_keys(g, ANY_AE)[0], self.measure_keys(g, ANY_G3)[0]
        for r in self.by_term[self.by_term["group"] == g].itertuples():
            key = lambda what, term=r.term: self.term_key(g, term, what)  # noqa: E731
            grades = [key(f"grade{k}") for k in GRADES]
            for k, cell in zip(GRADES, grades):
                view.add(cell, getattr(r, f"n_grade{k}"))
            view.add(key("any"), r.n_any)
            view.add(key("grade>=3"), r.n_grade3plus)
            view.add_sum(key("any"), grades)
            view.add_sum(key("grade>=3"), grades[2:])
            view.add_at_most(key("any"), self.size_key(g))
            view.add_at_most(key("any"), any_ae)
            view.add_at_most(key("grade>=3"), any_g3)

    def _add_cycles(self, view: CountView, g: str) -> None:
        any_ae, any_g3 = self.measure_keys(g, ANY_AE)[0], self.measure_keys(g, ANY_G3)[0]
        for r in self.by_cycle[self.by_cycle["group"] == g].itertuples():
            key = lambda what, cycle=r.cycle: self.cycle_key(g, cycle, what)  # noqa: E731
            for what, value in (("N", r.N), ("any", r.n_patients_any), ("grade>=3", r.n_patients_grade3plus),
                                ("unknown", r.n_unknown)):
                view.add(key(what), value)
            view.add_at_most(key("N"), self.size_key(g))
            view.add_at_most(key("any"), key("N"))
            view.add_at_most(key("grade>=3"), key("any"))
            view.add_at_most(key("any"), any_ae)
            view.add_at_most(key("grade>=3"), any_g3)
            view.add_relation({key("N"): 1.0, key("unknown"): 1.0, self.patients_key(g): -1.0}, -np.inf, 0.0)

    def _add_totals(self, view: CountView) -> None:
        cov, total = self.coverage, self.total_key
        for what, column, per_group in (("patients", "n_patients", self.patients_key),
                                        ("known", "n_known", lambda g: ("tox", self.by, g, "known")),
                                        ("N", "n_term_known", self.size_key),
                                        ("unknown", "n_unknown", lambda g: ("tox", self.by, g, "known", "unknown"))):
            view.add(total(what), cov[column].sum(), headline=what != "unknown")
            view.add_sum(total(what), [per_group(g) for g in self.groups])
        view.add_sum(total("patients"), [total("known"), total("unknown")])
        view.add(total("grade only"), view.counts[total("known")] - view.counts[total("N")])
        view.add_sum(total("known"), [total("N"), total("grade only")])
        sources = [total(("unknown by source", s)) for s, _ in self.unknown_by_source]
        for key, (source, n) in zip(sources, self.unknown_by_source):
            view.add(key, n)
            if self.by == schema.SOURCE and source in self.groups:
                view.add_sum(key, [("tox", self.by, source, "known", "unknown")])
        if sources:
            view.add_sum(total("unknown"), sources)
        g5 = self.summary[self.summary["measure"] == GRADE5_UNKNOWN]
        if len(g5):
            view.add(total(GRADE5_UNKNOWN), g5["n"].sum())
            view.add_sum(total(GRADE5_UNKNOWN), [self.measure_keys(g, GRADE5_UNKNOWN)[0] for g in g5["group"]])
        for note in self.notes:
            kind = getattr(note, "kind", "")
            if kind == "ae_complete":
                view.add(total("complete without rows"), note.count)
                view.add_at_most(total("complete without rows"), total("N"))
            elif kind == "group_missing":
                view.add(total("left out"), note.count)

    def note_text(self, note, shown: Suppression = NO_SUPPRESSION) -> str:
        """A note with the counts of :meth:`count_view` as ``shown`` says (the note itself for other notes)."""
        kind, total = getattr(note, "kind", ""), self.total_key
        cov = self.coverage

        def text(what, value) -> str:
            return shown.text(total(what), value)

        patients, known, term = (int(cov[c].sum()) for c in ("n_patients", "n_known", "n_term_known"))
        if kind == "ae_denominator":
            return _denominator_text(text("known", known), text("patients", patients))
        if kind == "ae_unknown":
            return _unknown_text(text("unknown", patients - known), text("patients", patients),
                                 _by_source_text([(s, text(("unknown by source", s), n))
                                                  for s, n in self.unknown_by_source]))
        if kind == "ae_grade_only":
            return _grade_only_text(text("grade only", known - term), text("N", term))
        if kind == "ae_complete":
            return _complete_text(self.ae_complete, text("complete without rows", note.count))
        if kind == "ae_grade5_unknown_attribution":
            return _grade5_unknown_text(text(GRADE5_UNKNOWN, note.count))
        if kind == "group_missing":
            return _left_out_text(text("left out", note.count), self.by)
        return note


GRADE3_COLUMNS = ["term", "group", "n_grade3plus", "N", "pct_grade3plus", "difference_pct", "difference_ci_lower_pct",
                  "difference_ci_upper_pct", "ci_method", "p_value", "test"]
#: The interval of a difference of two proportions.
NEWCOMBE = "Newcombe hybrid score"


@dataclass(frozen=True)
class Grade3Comparison:
    """Per AE term, patients at grade >= 3 compared between groups.

    ``counts``: one row per (term, group): patients whose worst grade for the term is >= 3 (``n_grade3plus``) of
    the group's patients with term detail (``N``, per group in ``sizes``); ``present``: the group has a row of the
    term in the summary (else it had no AE of the term). ``tests``: one row per term: with two groups the difference
    first group minus second in percentage points with its 95% CI (:data:`NEWCOMBE`) and Fisher's exact p; with
    more, the Fisher-Freeman-Halton p only. Terms: every term of the summary, most patients at grade >= 3 first.
    """

    by: str | None
    groups: tuple[str, ...]
    sizes: tuple[int, ...]
    counts: pd.DataFrame
    tests: pd.DataFrame
    notes: tuple[str, ...]

    @property
    def has_difference(self) -> bool:
        return len(self.groups) == 2

    def to_frame(self) -> pd.DataFrame:
        """One row per (term, group), the term's difference, CI and p-value on each of its rows."""
        out = self.counts.merge(self.tests, on="term", how="left", sort=False)
        return out[GRADE3_COLUMNS].reset_index(drop=True)

    def display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """Terms (rows) x groups: "grade >= 3 n (%)", then the difference with its CI (two groups) and p.

        Counts as ``shown`` says (small-cell protection of :meth:`count_view`); a percentage only when its count
        and N are shown, a difference, CI or p-value only when every count of its row is."""
        terms = list(self.tests["term"])
        counts = self.counts.set_index(["term", "group"])
        wide: dict[str, list[str]] = {}
        row_shown = {t: True for t in terms}
        for g, big_n in zip(self.groups, self.sizes):
            size = _size_key(self.by, g)
            cells = []
            for t in terms:
                n, key = int(counts.loc[(t, g), "n_grade3plus"]), _term_key(self.by, g, t, "grade>=3")
                visible = shown.shows(key, size)
                row_shown[t] = row_shown[t] and visible
                cells.append(f"{shown.text(key, n)} ({100 * n / big_n:.0f}%)" if visible
                             else f"{shown.text(key, n)} (–)")
            wide[f"{g} (N={shown.text(size, big_n)}): grade >= 3"] = cells
        tests = self.tests.set_index("term")
        if self.has_difference:
            other, reference = (level_text(self.by, g) for g in self.groups[::-1])
            header = f"Difference {other} - {reference}, % points (95% CI, {NEWCOMBE})"
            wide[header] = [_difference_text(*tests.loc[t, ["difference_pct", "difference_ci_lower_pct",
                                                            "difference_ci_upper_pct"]])
                            if row_shown[t] else "–" for t in terms]
        labels = list(dict.fromkeys(tests["test"]))
        header = f"p ({labels[0]})" if len(labels) == 1 else "p"
        wide[header] = [format_p(tests.loc[t, "p_value"]) if row_shown[t] else "–" for t in terms]
        if len(labels) > 1:
            wide["Test"] = list(tests["test"])
        out = pd.DataFrame(wide, index=pd.Index(terms, dtype=object))
        return out.rename_axis("AE term (CTCAE v5)")

    def count_view(self) -> CountView:
        """The counts of :meth:`display` (grade >= 3 <= N) under the keys of :meth:`ToxicitySummary.count_view`
        (a term a group has no AE of reads 0 and is left out, as there). That view holds every one of these
        counts and implies their relation (grade >= 3 <= any grade <= N), so the suppression of that view protects
        this table too."""
        view = CountView()
        for g, big_n in zip(self.groups, self.sizes):
            view.add(_size_key(self.by, g), big_n, headline=True)
        for r in self.counts[self.counts["present"]].itertuples():
            key = _term_key(self.by, r.group, r.term, "grade>=3")
            view.add(key, r.n_grade3plus)
            view.add_at_most(key, _size_key(self.by, r.group))
        return view


def compare_grade3(tox: ToxicitySummary) -> Grade3Comparison:
    """Per AE term, the patients at grade >= 3 compared between the groups of ``tox`` with term detail.

    Notes
    -----
    Two groups: the difference of proportions p1 - p2 of the second group (1) minus the first, the reference (2),
    as a hazard ratio reads "other vs reference", with Newcombe's hybrid score interval (method 10),
    L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2), where (l, u) are the
    Wilson score intervals of each group (R's ``prop.test(correct = FALSE)``), and Fisher's exact test of the
    2x2 table. More groups: the Fisher-Freeman-Halton test of the 2 x k table (exact, or its Monte Carlo
    p-value when too large), no difference. p-values are not adjusted for the number of terms.

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions: comparison of
    eleven methods. Stat Med 1998;17:873-890.
    """
    sizes = tox.term_sizes
    groups = tuple(g for g in tox.groups if sizes[g] > 0)
    if len(groups) < 2:
        raise InsufficientDataError("Comparing grade >= 3 rates needs two or more groups with AE term detail; "
                                    "the filtered patients fall in fewer.")
    terms = tox.terms("grade3")
    if not terms:
        raise InsufficientDataError("No adverse event recorded for the filtered patients: no grade >= 3 rate to "
                                    "compare.")
    rows = tox.by_term.set_index(["group", "term"])
    count_rows, test_rows = [], []
    budget = exact_work_budget("the grade >= 3 comparison")
    for term in terms:
        n = []
        for g in groups:
            present = (g, term) in rows.index
            k = int(rows.loc[(g, term), "n_grade3plus"]) if present else 0
            n.append(k)
            count_rows.append({"term": term, "group": g, "n_grade3plus": k, "N": int(sizes[g]),
                               "pct_grade3plus": 100 * k / int(sizes[g]), "present": present})
        big_n = [int(sizes[g]) for g in groups]
        table = [[k, m - k] for k, m in zip(n, big_n)]
        if len(groups) == 2:
            test = TestResult("fisher_exact", fisher_exact_pvalue(table))  # the odds ratio is not shown
            d, lo, hi = risk_difference_newcombe(n[1], big_n[1], n[0], big_n[0])  # other minus reference
            ci_method = NEWCOMBE
        else:
            test = fisher_freeman_halton(table, shared=budget)
            d = lo = hi = np.nan
            ci_method = ""
        test_rows.append({"term": term, "difference_pct": 100 * d, "difference_ci_lower_pct": 100 * lo,
                          "difference_ci_upper_pct": 100 * hi, "ci_method": ci_method, "p_value": test.pvalue,
                          "test": test.label})
    counts = pd.DataFrame(count_rows, columns=["term", "group", "n_grade3plus", "N", "pct_grade3plus", "present"])
    tests = pd.DataFrame(test_rows, columns=["term", "difference_pct", "difference_ci_lower_pct",
                                             "difference_ci_upper_pct", "ci_method", "p_value", "test"])
    notes = ["Grade >= 3: patients whose worst CTCAE v5 grade for the term is 3, 4 or 5, of the group's patients "
             "with AE term detail (N)."]
    if len(groups) == 2:
        notes.append(f"Difference: {groups[1]} minus {groups[0]} (the reference), in percentage points, with its "
                     "95% CI by Newcombe's hybrid score method (from the Wilson score interval of each group); p: "
                     "Fisher's exact test of each term's 2x2 table.")
    else:
        notes.append(f"p: Fisher-Freeman-Halton test of each term's grade >= 3 rate across the {len(groups)} groups "
                     "(no single difference for more than two groups).")
    notes.append(f"p-values are not adjusted for the {len(terms)} terms compared: read them as a screen, not as "
                 "confirmatory tests.")
    return Grade3Comparison(tox.by, groups, tuple(int(sizes[g]) for g in groups), counts, tests, tuple(notes))


def risk_difference_newcombe(x1: int, n1: int, x2: int, n2: int,
                             conf_level: float = 0.95) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10 of Newcombe 1998, from Wilson intervals)."""
    a = proportion_ci(x1, n1, "wilson", conf_level)
    b = proportion_ci(x2, n2, "wilson", conf_level)
    d = a.estimate - b.estimate
    lower = d - math.sqrt((a.estimate - a.lower) ** 2 + (b.upper - b.estimate) ** 2)
    upper = d + math.sqrt((a.upper - a.estimate) ** 2 + (b.estimate - b.lower) ** 2)
    return d, lower, upper


def _difference_text(d: float, lower: float, upper: float) -> str:
    """``+4.3 (-9.5 to 18.1)``: one decimal, no signed zero."""
    def number(x: float, sign: str = "") -> str:
        text = f"{x:{sign}.1f}"
        return "0.0" if text in ("+0.0", "-0.0") else text

    return f"{number(d, '+')} ({number(lower)} to {number(upper)})"


def _size_key(by: str | None, group: str) -> tuple:
    return ("tox", by, group, "N")


def _term_key(by: str | None, group: str, term: str, what: str) -> tuple:
    return ("tox", by, group, "term", term, what)


def canonical_terms(terms: pd.Series) -> pd.Series:
    """One spelling per term: the CTCAE v5 term (``hypotension`` -> ``Hypotension``, ``Vitiligo`` ->
    ``Skin hypopigmentation``) or the first spelling seen (see :mod:`il2lib.validation.ae_vocabulary`)."""
    distinct = _text_codes(terms)
    if distinct is None:
        return ae_vocabulary.canonical_terms(terms)[0]
    codes, values = distinct
    spelled = _spread(ae_vocabulary.canonical_terms(values)[0].to_numpy(object), codes)  # in order of appearance
    return pd.Series(np.where(codes == -1, terms.astype(object).to_numpy(), spelled), index=terms.index,
                     dtype=object, name=terms.name)  # a missing term stays as it was


def _text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """``(codes, distinct values in order of appearance)`` of a column of text and missing values (code -1), so a
    per-value function runs once per distinct value; None when the column holds anything but text."""
    values = values.astype(object)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    codes, distinct = pd.factorize(values)
    if not set(map(type, values.to_numpy()[codes == -1])) <= _MISSING_TYPES:  # e.g. NaT: text to the vocabulary
        return None
    return codes, pd.Series(distinct.to_numpy(object), dtype=object)


def _spread(per_value: np.ndarray, codes: np.ndarray, missing=None) -> np.ndarray:
    """Each row's result from the results ``per_value`` of the distinct values (:func:`_text_codes`); ``missing``
    for a missing value (code -1)."""
    return np.append(per_value, np.array([missing], dtype=per_value.dtype))[codes]


#: The missing values :func:`_text_codes` codes -1, all missing to :mod:`il2lib.validation.ae_vocabulary` too.
_MISSING_TYPES = {type(None), float, np.float64, type(pd.NA)}


def _respellings(entered: pd.Series, canonical: pd.Series, typed_codes: np.ndarray,
                 canonical_codes: np.ndarray) -> dict[str, tuple[str, ...]]:
    """:func:`il2lib.validation.ae_vocabulary.respellings` of the first row of each distinct (typed, canonical) pair
    (their :func:`_text_codes`), in order of appearance: the same merges, each pair looked at once."""
    pairs = (typed_codes.astype(np.int64) + 1) * (int(canonical_codes.max(initial=-1)) + 2) + canonical_codes + 1
    first = np.flatnonzero(~pd.Series(pairs).duplicated().to_numpy())  # hashed: no sort of every row
    return ae_vocabulary.respellings(entered.iloc[first], canonical.iloc[first])


def _respelled_patients(pids: pd.Series, entered_values: pd.Series, typed_codes: np.ndarray,
                        canonical: pd.Series) -> set:
    """Patients with a term typed (distinct values ``entered_values``, codes ``typed_codes``) otherwise than its
    canonical spelling, stripped; ``canonical`` has no missing value and none of the texts of a missing term."""
    stripped = _spread(np.array([str(v).strip() for v in entered_values], dtype=object), typed_codes, "")
    differ = (typed_codes == -1) | (stripped != canonical.to_numpy(object))  # a missing typed term never equals one
    return set(pids.to_numpy(object)[differ])


def _attribution(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """:func:`il2lib.validation.ae_vocabulary.attribution` (the scale), once per distinct value, and the rows it
    reads related and unrelated."""
    related, unrelated = schema.ATTRIBUTION_RELATED, schema.ATTRIBUTION_UNRELATED
    distinct = _text_codes(values)
    if distinct is None:
        mapped = ae_vocabulary.attribution(values)[0]
        return mapped, mapped.eq(related).to_numpy(), mapped.eq(unrelated).to_numpy()
    codes, unique = distinct
    scale = ae_vocabulary.attribution(unique)[0]
    return (pd.Series(_spread(scale.to_numpy(object), codes), index=values.index, dtype=object),
            _spread(scale.eq(related).to_numpy(bool), codes, False),
            _spread(scale.eq(unrelated).to_numpy(bool), codes, False))


def _blank_terms(values: pd.Series) -> np.ndarray:
    """A missing or blank term (or one reading "nan", "None", "<NA>")."""
    return (values.isna() | values.astype(str).str.strip().isin(["", "nan", "None", "<NA>"])).to_numpy()


#: Private column of the cleaned AE rows: the term is immune-related (computed once per distinct term).
_IMMUNE_TERM = "_immune_term"
#: Private columns of the cleaned AE rows: the attribution reads related, unrelated (once per distinct value).
_RELATED, _UNRELATED = "_attribution_related", "_attribution_unrelated"
#: The AE columns the summary reads.
_AE_USED = {schema.PATIENT_ID, schema.AE_PATIENT_ID, schema.AE_TERM, schema.AE_TERM_ENTERED, schema.AE_GRADE,
            schema.AE_ATTRIBUTION, schema.AE_IMMUNE, schema.AE_STEROIDS, schema.AE_CYCLE}


class _KeptRows(NamedTuple):
    """What :func:`_clean_ae` knows of its kept rows: each one's position in ``ids`` (an :class:`pandas.Index` without
    repeats, else None), and its term as a code into the sorted distinct terms (None: not known)."""

    position: np.ndarray | None
    term_codes: np.ndarray | None = None
    terms: np.ndarray | None = None


def _clean_ae(ae: pd.DataFrame, ids) -> tuple[pd.DataFrame, pd.DataFrame, dict, _KeptRows]:
    """The AE rows of the patients ``ids`` (a set, or an Index) with a grade 1-5 and a term, terms respelled
    (:mod:`il2lib.validation.ae_vocabulary`); the rows left out with the reason; the merges and merged patients."""
    require_columns(ae, schema.AE_PATIENT_ID, schema.AE_TERM, schema.AE_GRADE)
    columns = {c: ae[c] for c in ae.columns if c in _AE_USED}  # the columns the summary reads, not the whole table
    pid = columns[schema.AE_PATIENT_ID] = ae[schema.AE_PATIENT_ID].astype(str)
    p_codes, p_distinct = pd.factorize(pid)  # each distinct patient looked up once
    p_distinct = pd.Index(np.asarray(p_distinct, dtype=object))
    position = (_spread(ids.get_indexer(p_distinct).astype(np.int64), p_codes, -1)
                if isinstance(ids, pd.Index) and ids.is_unique else None)
    outside = (position == -1 if position is not None
               else ~_spread(p_distinct.isin(ids if isinstance(ids, pd.Index) else list(ids)), p_codes, False))
    separate = schema.AE_TERM_ENTERED in columns
    entered = columns[schema.AE_TERM_ENTERED] if separate else columns[schema.AE_TERM]
    terms = _text_codes(columns[schema.AE_TERM])
    typed = _text_codes(entered) if separate else terms
    if terms is None or typed is None:  # other than text: the vocabulary row by row
        out = pd.DataFrame(columns, copy=False)
        clean, excluded, respelled, keep = _clean_ae_by_row(out, entered, outside)
        return clean, excluded, respelled, _KeptRows(None if position is None else position[keep])
    codes, values = terms
    canonical_values = ae_vocabulary.canonical_terms(values)[0]  # values in order of appearance
    columns[schema.AE_TERM] = pd.Series(np.where(codes == -1, columns[schema.AE_TERM].astype(object).to_numpy(),
                                                 _spread(canonical_values.to_numpy(object), codes)),
                                        index=ae.index, dtype=object)  # a missing term stays as it was
    spelled, spellings = pd.factorize(canonical_values.to_numpy(object))  # the canonical terms' distinct values
    canonical_codes = _spread(spelled, codes, -1)
    spellings = pd.Series(np.asarray(spellings, dtype=object), dtype=object)
    immune = _spread(ae_vocabulary.is_immune_related(spellings).to_numpy(bool), canonical_codes, False)
    columns[_IMMUNE_TERM] = pd.Series(immune, index=ae.index)
    out = pd.DataFrame(columns, copy=False)
    grade = pd.to_numeric(out[schema.AE_GRADE], errors="coerce")
    bad_grade = ~grade.isin(GRADES).to_numpy()
    no_term = _spread(_blank_terms(spellings), canonical_codes, True)
    excl = _excluded_ae_rows(out, outside, bad_grade, no_term)
    keep = ~(outside | bad_grade | no_term)
    every = bool(keep.all())
    kept = (lambda x: x) if every else (lambda x: x[keep])
    merges = _respellings(kept(entered), kept(out[schema.AE_TERM]), kept(typed[0]), kept(canonical_codes))
    merged_ids = _respelled_patients(kept(pid), typed[1], kept(typed[0]), kept(out[schema.AE_TERM]))
    clean, excluded, respelled = _kept_ae(out, keep, grade, excl, merges, merged_ids)
    term_codes = kept(canonical_codes)
    present = np.flatnonzero(np.bincount(term_codes, minlength=len(spellings)) > 0)
    rank, sorted_terms = pd.factorize(spellings.to_numpy(object)[present], sort=True)  # a sorted groupby's order
    recode = np.full(len(spellings), -1, dtype=np.int64)
    recode[present] = rank
    return clean, excluded, respelled, _KeptRows(None if position is None else kept(position), recode[term_codes],
                                                 np.asarray(sorted_terms, dtype=object))


def _clean_ae_by_row(out: pd.DataFrame, entered: pd.Series,
                     outside) -> tuple[pd.DataFrame, pd.DataFrame, dict, np.ndarray]:
    """:func:`_clean_ae` of a term column holding other than text, and the rows kept (``outside``: the rows of no
    analysed patient, or the analysed patients' ids)."""
    if not isinstance(outside, np.ndarray):
        outside = ~out[schema.AE_PATIENT_ID].isin(outside).to_numpy()
    out = out.assign(**{schema.AE_TERM: ae_vocabulary.canonical_terms(out[schema.AE_TERM])[0]})
    out[_IMMUNE_TERM] = ae_vocabulary.is_immune_related(out[schema.AE_TERM]).to_numpy(bool)
    grade = pd.to_numeric(out[schema.AE_GRADE], errors="coerce")
    bad_grade = ~grade.isin(GRADES).to_numpy()
    no_term = _blank_terms(out[schema.AE_TERM])
    excl = _excluded_ae_rows(out, outside, bad_grade, no_term)
    keep = ~(outside | bad_grade | no_term)
    merges = ae_vocabulary.respellings(entered[keep], out[schema.AE_TERM][keep])
    merged_ids = {p for p, t, c in zip(out[schema.AE_PATIENT_ID][keep], entered[keep].astype(object),
                                       out[schema.AE_TERM][keep]) if str(t).strip() != c}
    return *_kept_ae(out, keep, grade, excl, merges, merged_ids), keep


def _excluded_ae_rows(out: pd.DataFrame, outside: np.ndarray, bad_grade: np.ndarray,
                      no_term: np.ndarray) -> list[pd.DataFrame]:
    excl = []
    for mask, reason in [(outside, "patient not in the analysed (filtered) cohort"),
                         (~outside & bad_grade, "CTCAE grade missing or not an integer 1-5"),
                         (~outside & ~bad_grade & no_term, "AE term missing")]:
        if mask.any():
            frame = excluded_frame(out, mask, reason)
            frame.insert(0, "ae_row", pd.Series(np.flatnonzero(mask) + 1).astype(str).to_numpy())
            excl.append(frame)
    return excl


def _kept_ae(out: pd.DataFrame, keep: np.ndarray, grade: pd.Series, excl: list[pd.DataFrame], merges: dict,
             merged_ids: set) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    every = bool(keep.all())  # then the columns as they are: no copy of every row
    columns = {c: out[c] if every else out[c][keep] for c in out.columns}
    columns[schema.AE_GRADE] = (grade if every else grade[keep]).astype(int)
    if schema.AE_ATTRIBUTION in columns:
        attribution, related, unrelated = _attribution(columns[schema.AE_ATTRIBUTION])
        columns[schema.AE_ATTRIBUTION] = attribution
        columns[_RELATED], columns[_UNRELATED] = (pd.Series(m, index=attribution.index) for m in (related, unrelated))
    out = pd.DataFrame(columns, copy=False)
    excluded = (pd.concat(excl, ignore_index=True) if excl
                else pd.DataFrame(columns=["ae_row", "patient_id", "reason"]))
    return out, excluded, {"merges": merges, "patients": sorted(merged_ids)}


def _immune_flag(ae: pd.DataFrame) -> pd.Series:
    by_term = pd.Series(ae[_IMMUNE_TERM].to_numpy(bool), index=ae.index, name=schema.AE_TERM)
    if schema.AE_IMMUNE not in ae.columns:
        return by_term
    flag = ae[schema.AE_IMMUNE].astype("boolean")
    return flag.fillna(by_term).astype(bool)


def _flag(ae: pd.DataFrame, column: str) -> pd.Series:
    if column not in ae.columns:
        return pd.Series(False, index=ae.index)
    return ae[column].astype("boolean").fillna(False).astype(bool)


def unknown_sources(patients: pd.DataFrame, ae_complete: Iterable[str]) -> list[str]:
    """Entries of ``ae_complete`` that name no ``source`` of ``patients`` (``"*"`` always matches)."""
    present = set()
    if schema.SOURCE in patients.columns:
        present = {schema.norm(v) for v in patients[schema.SOURCE].dropna()}
    return [s for s in ae_complete if s != schema.AE_COMPLETE_ALL and schema.norm(s) not in present]


def toxicity_summary(ae: pd.DataFrame, patients: pd.DataFrame, by: str | None = None, *,
                     ae_complete: Iterable[str] = (), order: Sequence[str] | None = None) -> ToxicitySummary:
    """Summarise adverse events per patient, per term and overall, optionally by group.

    Parameters
    ----------
    ae : DataFrame
        Long AE table (:data:`schema.AE_PATIENT_ID`, :data:`schema.AE_TERM`, :data:`schema.AE_GRADE`;
        optional immune_related, steroids, cycle, attribution).
    patients : DataFrame
        The analysed (filtered) patients.
    by : str, optional
        Patient column to split by (disease, prior PD-1/PD-L1, ...).
    ae_complete : iterable of str
        Sources (values of ``source``, matched ignoring case and spacing) whose AE file lists every
        AE of every patient: their patients without AE rows had no AE. ``"*"``
        (:data:`schema.AE_COMPLETE_ALL`) declares it for every patient.
    order : sequence of str, optional
        Groups to put first, in that order (see :func:`~il2lib.analyses._grouping.level_order`).

    Notes
    -----
    Toxicity is known for a patient with AE rows, with ``max_ctcae_grade`` (0 = no AE; >= 1
    answers "any AE" and "any grade >= 3" only), or of a source in ``ae_complete``; each row's
    denominator is the patients whose answer is known, the others are ``n_unknown``. The worst
    grade is the higher of the AE rows and ``max_ctcae_grade`` (a mismatch is a warning). Worst
    grade per patient per term (CTCAE v5); terms merged ignoring case, spaces and punctuation.
    Immune-related: the AE's ``immune_related`` flag, or when missing a term in
    :data:`schema.IMMUNE_RELATED_TERMS`. Steroids: an AE with ``steroids`` = yes or the patient's
    ``steroids_for_irae``. Treatment-related death: a grade-5 AE with CTEP attribution related
    (definite/probable/possible) or the patient's flag; a grade-5 AE of unknown attribution is
    counted apart (:data:`GRADE5_UNKNOWN`). AEs by cycle: patients who received cycle c (cycles
    1-2: ``doses_cN`` > 0; later cycles: ``n_cycles`` >= c).
    """
    labels = group_labels(patients, by)
    pids = patient_ids(patients)
    excluded_patients = excluded_frame(patients, labels.isna().to_numpy(), f"{schema.label(by)} missing") if by \
        else concat_excluded([])
    keep = labels.notna().to_numpy()
    if not keep.all():
        patients, labels, pids = patients[keep], labels[keep], pids[keep]
    if len(patients) == 0:
        raise InsufficientDataError("No patient in the analysed cohort: no toxicity denominator.")
    ae_complete = tuple(str(s) for s in ae_complete)
    clean, excluded, respelled, kept = _clean_ae(ae, pd.Index(pids.to_numpy(object)))
    clean["_irae"], clean["_steroids"] = _immune_flag(clean), _flag(clean, schema.AE_STEROIDS)  # its own frame
    position = kept.position
    pt = _patient_table(patients, pids, labels, clean, ae_complete, position)
    groups = level_order(by, labels, order)
    show_g5_unknown = bool(pt["g5_unknown"].any())
    summary_rows, coverage_rows, sizes = [], [], []
    for g in groups:
        sub = pt[pt["group"] == g]
        n = int(sub["term_known"].sum())
        sizes.append(n)
        summary_rows += _summary_rows(g, sub, show_g5_unknown, schema.AE_STEROIDS in clean.columns)
        n_known = int(sub["any_known"].sum())
        coverage_rows.append({"group": g, "n_patients": len(sub), "n_known": n_known, "n_term_known": n,
                              "n_unknown": len(sub) - n_known})
    by_term = _term_table(clean, lambda: dict(zip(pids, labels)), groups, sizes, position,
                          pd.Index(groups).get_indexer(pt["group"].to_numpy(object)),
                          None if kept.term_codes is None else (kept.term_codes, kept.terms))
    summary = pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS)
    by_cycle, cycle_conflicts = _by_cycle(clean, pt, patients, groups, position)
    notes: tuple[str, ...] = ("Each patient counts once per term at the worst CTCAE v5 grade, and once in each "
                              "overall row.",)
    notes += _coverage_notes(pt, ae_complete)
    if respelled["merges"]:
        notes += (Note("AE terms merged (case, spacing and punctuation ignored; CTCAE v5 spelling where one "
                       "exists, else the first spelling): " + ae_vocabulary.merge_text(respelled["merges"]) + ".",
                       len(respelled["patients"]), respelled["patients"], "ae_term_merge"),)
    if len(excluded_patients):
        notes += (Note(_left_out_text(str(len(excluded_patients)), by), len(excluded_patients),
                       kind="group_missing"),)
    notes += (TRD_RULE,)
    if show_g5_unknown:
        ids = pt.index[pt["g5_unknown"]]
        notes += (Note(_grade5_unknown_text(str(len(ids))), len(ids), ids, "ae_grade5_unknown_attribution"),)
    if len(by_cycle):
        notes += (Note("AEs by cycle: N = patients with known toxicity who received the cycle (cycles 1-2: "
                       "doses_cN > 0, else n_cycles, and cycle 1 when both are missing as IL-2 was started; later "
                       "cycles: n_cycles >= the cycle; an AE recorded in the cycle counts as receiving it); "
                       "n_unknown = patients for whom either is unknown.",
                       kind="ae_by_cycle_denominators"),)
    if by in (schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT) and len(groups) >= 2:
        notes += (schema.ERA_CAVEAT,)
    coverage = pd.DataFrame(coverage_rows, columns=COVERAGE_COLUMNS)
    unknown = ~pt["any_known"].to_numpy(dtype=bool)
    return ToxicitySummary(by, tuple(groups), by_term, summary, by_cycle, excluded, int(keep.sum()), notes,
                           _warnings(pt, cycle_conflicts), coverage,
                           tuple(_source_counts(pt, unknown)) if unknown.any() else (), ae_complete)


def _term_table(ae: pd.DataFrame, group_of, groups: list[str], sizes: list[int],
                position: np.ndarray | None = None, patient_group: np.ndarray | None = None,
                terms: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """The per-term rows: for each group (in ``groups`` order) and term (sorted), the patients at their worst
    grade of the term; ``sizes``: each group's N. Grouped on integer codes (patient, term, group); ``position``
    (each AE row's patient, :class:`_KeptRows`) and ``patient_group`` (each analysed patient's position in
    ``groups``) when known, else ``group_of`` (a callable giving ``{patient id: group}``); ``terms``: each row's term
    as a code into the sorted distinct terms, and those terms, when known."""
    if ae.empty:
        return pd.DataFrame([], columns=TERM_COLUMNS)
    if position is not None and patient_group is not None and (position >= 0).all():
        p_codes, p_group = position, patient_group
    else:
        p_codes, p_values = pd.factorize(ae[schema.AE_PATIENT_ID])
        p_group = pd.Index(groups).get_indexer(pd.Series(p_values, dtype=object).map(group_of()))
    t_codes, t_values = terms if terms is not None else pd.factorize(ae[schema.AE_TERM], sort=True)  # sorted
    n_terms = len(t_values)
    pair = p_codes.astype(np.int64) * n_terms + t_codes  # (patient, term)
    grade = ae[schema.AE_GRADE].to_numpy(np.int64)
    n_pairs = (int(p_codes.max(initial=-1)) + 1) * n_terms
    if n_pairs <= _DENSE_PAIRS:  # each pair's worst grade (1-5) in a cell of its own; 0: no row
        worst_of = np.zeros(n_pairs, dtype=np.int8)
        np.maximum.at(worst_of, pair, grade.astype(np.int8))
        pairs = np.flatnonzero(worst_of)
        worst = worst_of[pairs].astype(np.int64)
    else:
        pair_grade = np.sort(pair * 8 + grade)  # (np.unique hashes; a sort is faster) each pair's last is its worst
        pairs = pair_grade >> 3
        last = np.append(pairs[1:] != pairs[:-1], True)
        pairs, worst = pairs[last], pair_grade[last] & 7
    pair_group = p_group[pairs // n_terms]
    found = pair_group >= 0
    keys = pair_group[found].astype(np.int64) * n_terms + pairs[found] % n_terms  # (group, term)
    row_group = p_group[p_codes]
    irae = ae["_irae"].to_numpy(dtype=bool) & (row_group >= 0)
    irae_keys = row_group[irae].astype(np.int64) * n_terms + t_codes[irae]
    if len(groups) * n_terms <= _DENSE_CELLS:  # every (group, term) cell counted, the empty ones dropped
        counts = np.bincount(keys * 6 + worst[found], minlength=len(groups) * n_terms * 6).reshape(-1, 6)
        cells = np.flatnonzero(counts.any(axis=1))
        counts = counts[cells]
        immune = (np.bincount(irae_keys, minlength=len(groups) * n_terms) > 0)[cells]
    else:
        cells, cell = _distinct_sorted(keys)
        counts = np.bincount(cell * 6 + worst[found], minlength=len(cells) * 6).reshape(len(cells), 6)
        immune = np.zeros(len(cells), dtype=bool)
        immune[np.searchsorted(cells, irae_keys)] = True
    if not len(cells):
        return pd.DataFrame([], columns=TERM_COLUMNS)
    group_at, term_at = cells // n_terms, cells % n_terms
    n = np.asarray(sizes, dtype=np.int64)[group_at]
    n_any, n3 = counts[:, 1:].sum(axis=1), counts[:, 3:].sum(axis=1)
    return pd.DataFrame({"group": np.asarray(groups, dtype=object)[group_at],
                         "term": np.asarray(t_values, dtype=object)[term_at], "N": n, "n_any": n_any,
                         "pct_any": 100 * n_any / n, "n_grade3plus": n3, "pct_grade3plus": 100 * n3 / n,
                         "immune_related": immune, **{f"n_grade{k}": counts[:, k] for k in GRADES}},
                        columns=TERM_COLUMNS)


#: Up to this many (group, term) cells the per-term counts are a dense count of every cell.
_DENSE_CELLS = 1_000_000
#: Up to this many (patient, term) pairs each pair's worst grade is kept in a cell of its own (one byte each).
_DENSE_PAIRS = 20_000_000


def _distinct_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` of int64 keys, by a sort."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.append(True, ordered[1:] != ordered[:-1]) if len(ordered) else np.zeros(0, dtype=bool)
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _flag_values(patients: pd.DataFrame, column: str) -> np.ndarray:
    """A patient-file yes/no column as an object array of True / False / None."""
    if column not in patients.columns:
        return np.full(len(patients), None, dtype=object)
    flag = patients[column].astype("boolean")
    out = np.full(len(flag), None, dtype=object)
    known = flag.notna().to_numpy()
    out[known] = flag[known].to_numpy(dtype=bool).astype(object)  # Python bools
    return out


def _complete_mask(patients: pd.DataFrame, ae_complete: tuple[str, ...]) -> np.ndarray:
    declared = {schema.norm(s) for s in ae_complete}
    if schema.AE_COMPLETE_ALL in declared:
        return np.ones(len(patients), dtype=bool)
    if not declared or schema.SOURCE not in patients.columns:
        return np.zeros(len(patients), dtype=bool)
    source = patients[schema.SOURCE]
    distinct = _text_codes(source)
    if distinct is None:
        return source.map(lambda v: None if pd.isna(v) else schema.norm(v)).isin(declared).to_numpy(dtype=bool)
    codes, values = distinct
    return _spread(values.map(schema.norm).isin(declared).to_numpy(dtype=bool), codes, False)


def _patient_table(patients: pd.DataFrame, pids: pd.Series, labels: pd.Series, ae: pd.DataFrame,
                   ae_complete: tuple[str, ...], position: np.ndarray | None = None) -> pd.DataFrame:
    """One row per analysed patient: what is known of their toxicity and what it is (``position``: each AE
    row's patient, :class:`_KeptRows`)."""
    pid, grade = schema.AE_PATIENT_ID, schema.AE_GRADE
    pt = pd.DataFrame({"group": labels.to_numpy(object)}, index=pd.Index(pids.to_numpy(object), name=pid))
    if position is not None and (position >= 0).all():
        has_rows = np.bincount(position, minlength=len(pt)) > 0
        worst_rows = np.zeros(len(pt))
        np.maximum.at(worst_rows, position, ae[grade].to_numpy(float))
    else:
        row_worst = ae.groupby(pid)[grade].max()
        has_rows = pt.index.isin(row_worst.index)
        worst_rows = row_worst.reindex(pt.index).fillna(0).to_numpy(float)
    given = (pd.to_numeric(patients[schema.MAX_CTCAE], errors="coerce").to_numpy(float)
             if schema.MAX_CTCAE in patients.columns else np.full(len(pt), np.nan))
    complete = _complete_mask(patients, ae_complete)
    term_known = has_rows | (given == 0) | complete
    any_known = term_known | ~np.isnan(given)
    g5 = (ae[grade] == 5).to_numpy()
    related, unrelated = (ae[c].to_numpy(bool) if c in ae.columns else np.zeros(len(ae), dtype=bool)
                          for c in (_RELATED, _UNRELATED))  # from _kept_ae
    trd_flag = _flag_values(patients, schema.TREATMENT_DEATH)
    has = _patients_with(pt.index, ae[pid], position)
    source = patients[schema.SOURCE].to_numpy(object) if schema.SOURCE in patients.columns else None
    pt = pt.assign(
        source=source, has_rows=has_rows, row_worst=worst_rows, max_given=given, complete=complete,
        term_known=term_known, any_known=any_known, worst=np.where(any_known, np.fmax(worst_rows, given), np.nan),
        mismatch=~np.isnan(given) & (has_rows | complete) & (worst_rows != given),
        irae=has(ae["_irae"].to_numpy(dtype=bool)),
        irae3=has(ae["_irae"].to_numpy(dtype=bool) & (ae[grade] >= 3).to_numpy()),
        steroid_ae=has(ae["_steroids"].to_numpy(dtype=bool)),
        steroid_flag=_flag_values(patients, schema.STEROIDS_IRAE), icu_flag=_flag_values(patients, schema.ICU_TRANSFER),
        trd_flag=trd_flag, g5_related=has(g5 & related), g5_unrelated=has(g5 & unrelated),
        g5_unknown_attr=has(g5 & ~related & ~unrelated),
    )
    pt["trd"] = (pt["trd_flag"] == True).to_numpy(dtype=bool) | pt["g5_related"].to_numpy()  # noqa: E712
    pt["g5_unknown"] = pt["g5_unknown_attr"] & ~pt["trd"]
    return pt


def _patients_with(patients: pd.Index, ae_patients: pd.Series, position: np.ndarray | None = None):
    """``has(mask)``: for each of ``patients``, whether an AE row of ``mask`` is theirs
    (``patients.isin(ae_patients[mask])``, each AE row's patient looked up once; ``position``: :class:`_KeptRows`
    when known)."""
    if not patients.is_unique:
        return lambda mask: patients.isin(ae_patients[np.asarray(mask, dtype=bool)])
    if position is None:
        position = patients.get_indexer(ae_patients)

    def has(mask) -> np.ndarray:
        out = np.zeros(len(patients), dtype=bool)
        rows = position[np.asarray(mask, dtype=bool)]
        out[rows[rows >= 0]] = True
        return out

    return has


def _summary_rows(group: str, sub: pd.DataFrame, show_g5_unknown: bool, ae_has_steroids: bool) -> list[dict]:
    size = len(sub)

    def row(name: str, positive, known) -> dict:
        positive, known = np.asarray(positive, dtype=bool), np.asarray(known, dtype=bool)
        n, big_n = int((positive & known).sum()), int(known.sum())
        return {"group": group, "measure": name, "n": n, "N": big_n,
                "percent": 100 * n / big_n if big_n else np.nan, "n_unknown": size - big_n}

    any_known, term_known = sub["any_known"].to_numpy(dtype=bool), sub["term_known"].to_numpy(dtype=bool)
    worst = sub["worst"].fillna(0).to_numpy(float)
    steroid_flag, icu_flag, trd_flag = (sub[c].to_numpy(object) for c in ("steroid_flag", "icu_flag", "trd_flag"))
    has = lambda flag: np.not_equal(flag, None).astype(bool)  # noqa: E731
    steroids = sub["steroid_ae"].to_numpy(dtype=bool) | (steroid_flag == True)  # noqa: E712
    trd = sub["trd"].to_numpy(dtype=bool)
    rows = [
        row(ANY_AE, worst >= 1, any_known),
        row(ANY_G3, worst >= 3, any_known),
        row(ANY_IRAE, sub["irae"], term_known),
        row(IRAE_G3, sub["irae3"], term_known),
        row(STEROIDS, steroids, has(steroid_flag) | steroids | (ae_has_steroids & term_known)),
        row(ICU, icu_flag == True, has(icu_flag)),  # noqa: E712
        row(DEATHS, trd, has(trd_flag) | trd | (term_known & ~sub["g5_unknown_attr"].to_numpy(dtype=bool))),
    ]
    if show_g5_unknown:
        rows.append(row(GRADE5_UNKNOWN, sub["g5_unknown"], term_known))
    return rows


def _ids(pt: pd.DataFrame, mask) -> list[str]:
    return [str(p) for p in pt.index[np.asarray(mask, dtype=bool)]]


def _coverage_notes(pt: pd.DataFrame, ae_complete: tuple[str, ...]) -> tuple[Note, ...]:
    known, term = pt["any_known"].to_numpy(dtype=bool), pt["term_known"].to_numpy(dtype=bool)
    total = len(pt)
    notes = [Note(_denominator_text(str(int(known.sum())), str(total)), int(known.sum()), _ids(pt, known),
                  "ae_denominator")]
    if (~known).any():
        ids = _ids(pt, ~known)
        by_source = _by_source_text([(s, str(n)) for s, n in _source_counts(pt, ~known)])
        notes.append(Note(_unknown_text(str(len(ids)), str(total), by_source), len(ids), ids, "ae_unknown"))
    grade_only = known & ~term
    if grade_only.any():
        ids = _ids(pt, grade_only)
        notes.append(Note(_grade_only_text(str(len(ids)), str(int(term.sum()))), len(ids), ids, "ae_grade_only"))
    if ae_complete:
        ids = _ids(pt, pt["complete"].to_numpy(dtype=bool) & ~pt["has_rows"].to_numpy(dtype=bool))
        notes.append(Note(_complete_text(ae_complete, str(len(ids))), len(ids), ids, "ae_complete"))
    independent = (~np.isnan(pt["max_given"].to_numpy(float)) | pt["complete"].to_numpy(dtype=bool))[known]
    if known.any() and pt["has_rows"].to_numpy(dtype=bool)[known].all() and not independent.any():
        notes.append(Note(f"Every patient whose toxicity is known has AE rows, so '{ANY_AE}' is 100% by "
                          "construction: a patient without AE rows is unknown, not 'no AE', unless max_ctcae_grade "
                          "= 0 or the AE file is declared complete for their source.", int(known.sum()),
                          _ids(pt, known), "ae_any_by_construction"))
    return tuple(notes)


def _source_counts(pt: pd.DataFrame, mask) -> list[tuple[str, int]]:
    """Patients of ``mask`` per source (none without a source column)."""
    if pt["source"].isna().all():
        return []
    counts = pt.loc[np.asarray(mask, dtype=bool), "source"].fillna("no source").astype(str).value_counts(sort=False)
    return [(str(k), int(n)) for k, n in counts.items()]


def _by_source_text(counts: list[tuple[str, str]]) -> str:
    """`` By source: A 3, B 1.`` (empty without counts)."""
    return " By source: " + ", ".join(f"{k} {n}" for k, n in counts) + "." if counts else ""


# The notes that state counts of the count view, written from counts as shown (see ToxicitySummary.note_text).
def _denominator_text(known: str, total: str) -> str:
    return (f"Denominators: the patients whose toxicity is known, {known} of {total} (AE rows, max_ctcae_grade, "
            "or an AE file declared complete for their source).")


def _unknown_text(unknown: str, total: str, by_source: str) -> str:
    return (f"Toxicity unknown for {unknown} of {total} patient(s): no AE row, no max_ctcae_grade, and the AE file "
            "is not declared complete for their source; left out of the denominators." + by_source)


def _grade_only_text(n: str, term: str) -> str:
    return (f"{n} patient(s) without AE rows are known from max_ctcae_grade only: they count in '{ANY_AE}' and "
            f"'{ANY_G3}' but not in the per-term, immune-related and by-cycle rows (N = {term} there).")


def _complete_text(ae_complete: tuple[str, ...], n: str) -> str:
    named = ["every patient" if s == schema.AE_COMPLETE_ALL else s for s in ae_complete]
    return (f"AE file declared complete for {', '.join(named)}: {n} patient(s) of it without AE rows count as "
            "having had no AE.")


def _grade5_unknown_text(n: str) -> str:
    return (f"{GRADE5_UNKNOWN}: {n} patient(s), not counted as treatment-related deaths (CTEP attribution blank or "
            "unknown).")


def _left_out_text(n: str, by: str | None) -> str:
    return f"{n} patient(s) left out: {schema.label(by)} missing."


def _warnings(pt: pd.DataFrame, cycle_conflicts: list[str]) -> tuple[Note, ...]:
    out = []
    mismatch = pt["mismatch"].to_numpy(dtype=bool)
    if mismatch.any():
        ids = _ids(pt, mismatch)
        out.append(Note(f"The worst AE-row grade differs from max_ctcae_grade for {len(ids)} patient(s) (the AE "
                        "file's load findings list the rows); counted at the higher grade.", len(ids), ids,
                        "ae_grade_mismatch"))
    flag = pt["trd_flag"].to_numpy(object)
    conflict = (((flag == False) & pt["g5_related"].to_numpy(dtype=bool))  # noqa: E712
                | ((flag == True) & pt["g5_unrelated"].to_numpy(dtype=bool)  # noqa: E712
                   & ~pt["g5_related"].to_numpy(dtype=bool) & ~pt["g5_unknown_attr"].to_numpy(dtype=bool)))
    if conflict.any():
        ids = _ids(pt, conflict)
        out.append(Note(f"Treatment-related death: the AE attribution and treatment_related_death disagree for "
                        f"{len(ids)} patient(s) (a related grade-5 AE with the flag = no, or the flag = yes with "
                        "every grade-5 AE unrelated); counted as treatment-related deaths.", len(ids), ids,
                        "trd_conflict"))
    if cycle_conflicts:
        out.append(Note(f"{len(cycle_conflicts)} patient(s) have AEs recorded in a cycle the patient file says was "
                        "not given (doses_cN = 0 or n_cycles below it); counted as having received it.",
                        len(cycle_conflicts), cycle_conflicts, "ae_cycle_not_given"))
    return tuple(out)


def _received(patients: pd.DataFrame, cycle: int) -> np.ndarray:
    """1 = the patient received the cycle, 0 = not, NaN = unknown (cycles 1-2 by doses_cN, else n_cycles)."""
    def numbers(column: str) -> np.ndarray:
        if column not in patients.columns:
            return np.full(len(patients), np.nan)
        return pd.to_numeric(patients[column], errors="coerce").to_numpy(float)

    n_cycles = numbers(schema.N_CYCLES)
    out = np.where(np.isnan(n_cycles), np.nan, (n_cycles >= cycle).astype(float))
    doses_column = {1: schema.DOSES_C1, 2: schema.DOSES_C2}.get(cycle)
    if doses_column is not None:
        doses = numbers(doses_column)
        out = np.where(np.isnan(doses), out, (doses > 0).astype(float))
    if cycle == 1:  # every analysed patient started IL-2 (date_il2_start is required)
        out = np.where(np.isnan(out), 1.0, out)
    return out


def _by_cycle(ae: pd.DataFrame, pt: pd.DataFrame, patients: pd.DataFrame, groups: list[str],
              position: np.ndarray | None = None) -> tuple[pd.DataFrame, list[str]]:
    empty = pd.DataFrame(columns=CYCLE_COLUMNS)
    if schema.AE_CYCLE not in ae.columns or ae.empty:
        return empty, []
    cycle = pd.to_numeric(ae[schema.AE_CYCLE], errors="coerce")
    cycles = sorted({int(c) for c in pd.unique(cycle.dropna())})
    term_known = pt["term_known"].to_numpy(dtype=bool)
    group = pt["group"].to_numpy(object)
    rows, conflicts = [], set()
    has = _patients_with(pt.index, ae[schema.AE_PATIENT_ID], position)
    grade3_rows = (ae[schema.AE_GRADE] >= 3).to_numpy()
    for c in cycles:
        at = (cycle == c).to_numpy()
        with_ae, grade3 = has(at), has(at & grade3_rows)
        given = _received(patients, c)
        conflicts |= set(_ids(pt, with_ae & (given == 0)))
        in_n = ((given == 1) | with_ae) & term_known
        not_given = (given == 0) & ~with_ae
        for g in groups:
            m = group == g
            big_n, n_any, n3 = int((in_n & m).sum()), int((in_n & with_ae & m).sum()), int((in_n & grade3 & m).sum())
            rows.append({"group": g, "cycle": c, "N": big_n, "n_patients_any": n_any,
                         "pct_any": 100 * n_any / big_n if big_n else np.nan, "n_patients_grade3plus": n3,
                         "pct_grade3plus": 100 * n3 / big_n if big_n else np.nan,
                         "n_unknown": int((m & ~not_given).sum()) - big_n})
    rows.sort(key=lambda r: (groups.index(r["group"]), r["cycle"]))
    return pd.DataFrame(rows, columns=CYCLE_COLUMNS), sorted(conflicts)
