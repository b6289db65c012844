"""The report's sections, each computed by the il2lib analysis it names (no statistics here).

A section builder returns a :class:`Section`: blocks (HTML strings already escaped, or
:class:`~il2lib.report._html.Figure` objects numbered later), key numbers for the summary,
and the sentences the Methods paragraph needs. An analysis that cannot run on these data
(a column missing, no patients) becomes a plain note in its section, never a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import best_response_table, response_count_view, response_rates
from il2lib.analyses.table1 import table1
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.cohort import benefit_rule_text
from il2lib.errors import Il2libError
from il2lib.figures.biomarkers import biomarker_figure
from il2lib.figures.response import orr_forest_figure, response_bar_figure
from il2lib.figures.toxicity import ae_grade_figure
from il2lib.report import _small_cells
from il2lib.report._html import Figure, definition_list, esc, paragraph, table_html
from il2lib.report._small_cells import protected, text as masked, threshold
from il2lib.stats import FFH_MC_REPLICATES, p_phrase

MAX_FINDINGS_SHOWN = 25
#: What an analysis raises on data it cannot handle; the section then says so instead of failing the
#: whole report (ValueError: degenerate input reaching numpy/scipy, e.g. an all-missing column).
ANALYSIS_ERRORS = (Il2libError, ValueError)
SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"


@dataclass
class Section:
    """One report section under construction."""

    anchor: str
    heading: str
    blocks: list = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    page_start: bool = False

    def add(self, block) -> None:
        self.blocks.append(block)

    def note(self, text: str, css_class: str = "note") -> None:
        self.blocks.append(paragraph(masked(text), css_class))

    def table(self, df: pd.DataFrame, caption: str, notes=(), long: bool = False, cohort_rows=None) -> None:
        self.blocks.append(table_html(df, caption=caption, notes=notes, css_class="long" if long else "",
                                      cohort_rows=cohort_rows))

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


def in_sentence(label: str) -> str:
    """A column label inside a sentence: first letter lower-cased, abbreviations kept ("prior PD-1/PD-L1")."""
    return label[:1].lower() + label[1:] if label[1:2].islower() or len(label) == 1 else label


#: The groupings a report can compare in Response, Toxicity and Key results (the Response page's "Compare groups").
GROUPINGS = schema.COMPARISON_GROUPINGS


class _DiseaseWhenBoth:
    """The report's comparison when the caller names none: :func:`group_column`."""

    def __repr__(self) -> str:
        return "DISEASE_WHEN_BOTH"


DISEASE_WHEN_BOTH = _DiseaseWhenBoth()


def group_column(df: pd.DataFrame) -> str | None:
    """Disease when both diseases are present (the report's comparison), else no grouping."""
    if schema.DISEASE in df.columns and df[schema.DISEASE].nunique(dropna=True) >= 2:
        return schema.DISEASE
    return None


def _by_words(by: str | None) -> str:
    """" by prior PD-1/PD-L1" for a caption whose group headers ("Yes", "No") do not name their grouping."""
    return "" if by in (None, schema.DISEASE) else f" by {in_sentence(schema.label(by))}"


def _not_computed(section: Section, what: str, exc: Exception) -> None:
    section.note(f"{what} not computed: {exc}", "callout")


# ----------------------------------------------------------------------------- validation
def validation_section(cohort, ae, n_filtered: int, filter_text: str, pseudonymise: bool = False) -> Section:
    report = cohort.report
    s = Section("validation", "Data and validation")
    facts = [("Patients in file", str(report.n_loaded)),
             ("Analysed", f"{report.n_analysed} (row-level errors excluded {report.n_excluded})"),
             ("After filter", f"{n_filtered} ({filter_text})"),
             ("Warnings (rows kept)", str(len(report.warnings)))]
    if ae is not None:
        facts.append(("Adverse-event rows", f"{ae.report.n_analysed} analysed of {ae.report.n_loaded} "
                                            f"({ae.report.n_excluded} excluded)"))
    s.add(definition_list(facts))
    if report.identifier_columns:
        s.note("Columns that look like direct identifiers were found and should be removed from the file: "
               + ", ".join(report.identifier_columns) + ".", "callout")
    for conversion in report.conversions:
        s.note(conversion)
    frame = report.to_frame()
    for level, caption in (("row_error", "Rows excluded (row-level errors)"),
                           ("warning", "Warnings (rows kept; some leave a patient out of one analysis)")):
        sub = frame[frame["level"] == level].sort_values("file_row", kind="stable", na_position="first")
        if len(sub):
            s.add(_findings_table(sub, f"{caption}: {len(sub)}"))
    if ae is not None and len(ae.report.row_errors):
        message = ae.report.row_errors[0].message
        example_text = "" if threshold() is not None else f" (for example: {message})"  # one patient's row
        s.note(f"{len(ae.report.row_errors)} adverse-event rows were excluded{example_text}")
    if pseudonymise:
        s.note("Patient ids are withheld: rows are named by their line in the file.")
    if not len(frame):
        s.note("No finding: every row passed every rule.")
    s.methods.append("The file was validated against the registry's data dictionary (required columns, allowed "
                     "values, date order and plausibility ranges); rows with row-level errors were excluded with "
                     "the reason recorded, and warnings were kept and reported.")
    return s


def _findings_table(findings: pd.DataFrame, caption: str) -> str:
    if _small_cells.threshold() is not None:  # one row per patient
        return paragraph(f"{caption}. Not listed while small-cell protection is on (one row per patient).", "note")
    shown = findings.head(MAX_FINDINGS_SHOWN)
    rows = [None if pd.isna(r) else int(r) for r in shown["file_row"]]
    patients, messages = list(shown["patient_id"].fillna("—")), list(shown["message"])  # pseudonyms: see build_report
    table = pd.DataFrame({"File row": ["—" if r is None else r for r in rows], "Patient": patients,
                          "Finding": messages})
    more = [f"{len(findings) - len(shown)} more not shown; the dashboard's Data page lists all."] \
        if len(findings) > len(shown) else []
    return table_html(table, caption=caption, notes=more, css_class="long findings")


# ----------------------------------------------------------------------------- Table 1
def table1_section(df: pd.DataFrame, by: str | None) -> Section:
    s = Section("table1", "Patient characteristics (Table 1)", page_start=True)
    try:
        t1 = table1(df, by=by)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Table 1", exc)
        return s
    caption = "Table 1. Baseline characteristics" + (f" by {in_sentence(schema.label(by))}" if by else "")
    s.table(t1.display(protected(t1.count_view(), "table1")), caption, t1.footnotes, long=True)
    s.methods.append("Table 1 shows medians with quartiles (R type 7) and counts with percentages of known values; "
                     "groups were compared with Fisher's exact test (2x2), the Fisher-Freeman-Halton exact test "
                     f"(a Monte Carlo estimate from {FFH_MC_REPLICATES:,} random tables when there are too many "
                     "tables to list) or Pearson's chi-square for larger tables, and the Wilcoxon rank-sum test for "
                     "continuous variables, as footnoted in the table.")
    return s


# ----------------------------------------------------------------------------- response
def response_section(df: pd.DataFrame, by: str | None, cb_sd_months: float, ci_method: str,
                     window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Section:
    s = Section("response", "Response")
    try:
        bor = best_response_table(df, by=by, window_days=window_days)
        rates = response_rates(df, by=by, outcome=["orr", "cbr"], ci_method=ci_method, cb_sd_months=cb_sd_months,
                               window_days=window_days)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "Response", exc)
        return s
    bor_notes = [f"BOR as counted under RECIST 1.1 (Eisenhauer 2009, 4.4.3, 4.6.1): {bor.view_label}; an "
                 f"unconfirmed CR/PR counts as SD if the SD minimum ({rates.sd_minimum_weeks:g} weeks from IL-2 "
                 "start) is met; otherwise it, like a shorter SD, counts as PD if progression followed, else NE; "
                 "iRECIST categories count as RECIST 1.1 (iUPD as PD; Seymour 2017)."] + list(bor.notes)
    forest = _forest_rates(df, by, cb_sd_months, ci_method, window_days)
    shown = protected(response_count_view(bor, rates, *forest), "response")
    s.table(bor.display(shown).reset_index(), f"Best overall response{_by_words(by)}, n (% of treated patients)",
            bor_notes)
    notes = [f"Denominator: all treated patients (intention to treat); NE counted as non-responders. "
             f"CBR counts clinical benefit: {benefit_rule_text(cb_sd_months, window_days)}."]
    notes += [n for n in rates.notes if n not in bor.notes]
    for comp in rates.comparisons:
        notes.append(f"{comp.outcome.upper()} between groups: {comp.result.label}, {p_phrase(comp.result.pvalue)}.")
    s.table(rates.display(shown), "Objective response and clinical benefit rates with 95% confidence intervals"
            + _by_words(by), notes)
    _response_figures(s, bor, forest, shown)
    ci_name = "Clopper-Pearson exact" if ci_method == "exact" else "Wilson score"
    s.methods.append(f"Best overall response was tabulated per patient; ORR = (CR+PR)/N and CBR = (CR+PR+SD lasting "
                     f">= {cb_sd_months:g} months, window {window_days:g} days)/N over all treated patients, with "
                     f"{ci_name} 95% confidence "
                     "intervals (Clopper & Pearson 1934); rates were compared between groups with Fisher's exact "
                     "test.")
    return s


def _forest_rates(df: pd.DataFrame, by: str | None, cb_sd_months: float, ci_method: str,
                  window_days: float) -> tuple:
    """ORR by group and over all patients, for the forest plot (none without a grouping)."""
    if by is None:
        return ()
    kw = dict(outcome=["orr"], ci_method=ci_method, cb_sd_months=cb_sd_months, window_days=window_days)
    return response_rates(df, by=by, **kw), response_rates(df, **kw)


def _response_figures(s: Section, bor, forest: tuple, shown) -> None:
    s.add(Figure(response_bar_figure(bor, title="Best overall response", shown=shown),
                 "Best overall response per group, % of treated patients (counts inside the bars)."))
    if not forest:
        return
    by_group, overall = forest
    s.add(Figure(orr_forest_figure([by_group], overall=overall, title="Objective response rate", shown=shown),
                 "Objective response rate with 95% confidence intervals per group; the dashed line is the rate "
                 "over all patients shown."))


# ----------------------------------------------------------------------------- biomarkers
def biomarker_section(df: pd.DataFrame, cb_sd_months: float,
                      window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Section | None:
    s = Section("biomarkers", "Biomarkers: clinical benefit vs no clinical benefit", page_start=True)
    try:
        result = biomarker_comparison(df, cb_sd_months=cb_sd_months, window_days=window_days)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "The biomarker comparison", exc)
        return s
    if result.rows.empty:
        return None
    shown = protected(result.count_view(total=len(df)), "biomarkers")
    for disease in result.groups["disease"]:
        name = schema.DISEASE_LABELS.get(disease, str(disease))
        table = result.display(disease, shown)
        tests = list(dict.fromkeys(table["Test"]))
        marks = {t: SUPERSCRIPTS[i] for i, t in enumerate(tests)}
        table["p-value"] = [f"{p}{marks[t]}" for p, t in zip(table["p-value"], table["Test"])]
        footnotes = [f"{marks[t]} {t}" for t in tests] + ["Medians (Q1–Q3) or n/N (%); OR: binary, conditional "
                                                          "MLE with exact 95% CI (fisher.test); continuous, "
                                                          "univariable logistic regression, Wald 95% CI."]
        s.table(table.drop(columns="Test"), f"{name}: clinical benefit (CB) vs no CB", footnotes)
    for note in result.notes:
        s.note(note)
    if schema.PLATELET_NADIR in set(result.rows["variable"]):
        k = threshold()
        points = (f"no box for a group of fewer than {k} patients (small-cell protection)" if k is not None
                  else "points every patient")
        s.add(Figure(biomarker_figure(df, schema.PLATELET_NADIR, result, title="Platelet nadir during IL-2",
                                      small_cell_threshold=k, shown=shown),
                     "Platelet nadir in patients with and without clinical benefit, per disease: boxes show the "
                     f"median and quartiles, {points}; the p-value and test are printed per panel.", "biomarker"))
    if len(result.excluded):
        s.note(f"{shown.text(('left out',), len(result.excluded))} patient(s) left out: clinical benefit undetermined "
               "(SD without a duration).")
    s.methods.append("Biomarkers were compared between patients with and without clinical benefit within each "
                     "disease: medians (Q1-Q3) with the two-sided Wilcoxon rank-sum test (Mann-Whitney U; exact "
                     "without ties for n < 50), proportions with Fisher's exact test and its conditional "
                     "maximum-likelihood odds ratio with exact 95% CI (as R's fisher.test), and univariable logistic "
                     "odds ratios with Wald intervals for continuous variables; these comparisons are unadjusted "
                     "and exploratory.")
    return s


# ----------------------------------------------------------------------------- toxicity
def toxicity_section(df: pd.DataFrame, ae, by: str | None, ae_complete: tuple[str, ...] = ()) -> Section:
    s = Section("toxicity", "Toxicity")
    if ae is None:
        s.note("No adverse-event table was supplied with this file, so no toxicity summary is shown.")
        return s
    try:
        tox = toxicity_summary(ae.data, df, by=by, ae_complete=ae_complete)
    except ANALYSIS_ERRORS as exc:
        _not_computed(s, "The toxicity summary", exc)
        return s
    for warning in tox.warnings:
        s.note(f"Warning: {warning}", "callout")
    shown = protected(tox.count_view(), "toxicity")
    notes = [tox.note_text(n, shown) for n in tox.notes
             if getattr(n, "kind", "") != "ae_by_cycle_denominators"]  # no cycle table here
    s.table(tox.overview(shown, group_sizes=True),
            f"Patients with adverse events{_by_words(by)}, n (%) of the patients whose answer is known", notes)

    s.add(Figure(ae_grade_figure(tox, top_n=12, shown=shown), "The 12 most frequent adverse events: patients by "
                 "worst CTCAE v5 grade, % of the group."))
    s.table(tox.display(shown).reset_index(), "Adverse events by term: worst CTCAE grade per patient, n (%)",
            long=True)
    if len(tox.excluded_ae_rows):
        s.note(f"{len(tox.excluded_ae_rows)} adverse-event row(s) were left out (their patient is not in the "
               "filtered cohort or the row was invalid).")
    s.methods.append("Adverse events: worst CTCAE v5 grade per patient and term (spellings merged), over the patients "
                     "whose toxicity is known (AE rows, the patient file's worst grade, or an AE file declared "
                     "complete); a treatment-related death is a grade-5 event with CTEP attribution related, or the "
                     "patient file's flag.")
    return s


# ----------------------------------------------------------------------------- caveats
def caveat_blocks(df: pd.DataFrame, synthetic: bool) -> list[str]:
    blocks = []
    if synthetic:
        blocks.append(paragraph(schema.SYNTHETIC_NOTE, "synthetic"))
    if schema.PRIOR_PD1 in df.columns and df[schema.PRIOR_PD1].dropna().nunique() >= 2:
        blocks.append(paragraph(schema.ERA_CAVEAT, "callout"))
    return blocks


def esc_join(parts) -> str:
    return " · ".join(esc(p) for p in parts if p)
