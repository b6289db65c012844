"""The one-click meeting report: one self-contained HTML file (and its PDF) for a filtered cohort.

:func:`build_report` runs the same il2lib analyses as the dashboard pages and lays them out as a
document a clinician can project: title, date, data fingerprint and filter; validation summary;
Table 1; response with ORR/CBR and exact CIs; Kaplan-Meier figures with numbers at risk, medians,
log-rank and Cox; biomarker and toxicity tables when the data have them; a Methods paragraph
naming every estimator, CI, test and software version. plotly.js is embedded once, everything
else inline, and a Content-Security-Policy forbids any network request: the file opens offline.
:func:`write_pdf` prints it to A4 or Letter with headless chromium.
"""
from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import group_labels, level_order, require_columns
from il2lib.analyses.response import response_rates
from il2lib.cohort import CohortFilter, apply_filter, benefit_rule_text
from il2lib.errors import Il2libError, InsufficientDataError
from il2lib.privacy.pseudonyms import pseudonymise as pseudonymised
from il2lib.report import _html, _small_cells
from il2lib.report._html import Figure, Paper, definition_list, esc, table_html
from il2lib.report._methods import ae_complete_arguments, methods_section, reproduce_command, software_versions
from il2lib.report._models import models_section
from il2lib.report._sections import (DISEASE_WHEN_BOTH, GROUPINGS, Section, _DiseaseWhenBoth, biomarker_section,
                                     caveat_blocks, group_column, response_section, table1_section, toxicity_section,
                                     validation_section)
from il2lib.report._survival import survival_section
from il2lib.report._time_dependent import time_dependent_section
from il2lib.report._tumour import add_tumour_figures
from il2lib.report.pdf import PdfExportError, pdf_bytes, write_pdf
from il2lib.survival import kaplan_meier

__all__ = ["Report", "build_report", "write_pdf", "pdf_bytes", "PdfExportError", "software_versions", "REPORT_TITLE",
           "GROUPINGS", "DISEASE_WHEN_BOTH"]

Endpoint = Literal["os", "pfs"]
REPORT_TITLE = "High-dose IL-2 registry: meeting report"


@dataclass(frozen=True)
class Report:
    """A built report. ``html`` is the complete, self-contained document."""

    html: str
    title: str
    source_name: str
    fingerprint: str
    filter_description: str
    endpoint: str
    generated_at: str
    n_patients: int
    sections: tuple[str, ...]
    n_figures: int
    paper: str
    small_cell_threshold: int | None = None

    def write_html(self, path: str | os.PathLike) -> Path:
        """Write the HTML document (UTF-8) and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.html, encoding="utf-8")
        return target

    def write_pdf(self, path: str | os.PathLike, paper: Paper | None = None) -> Path:
        """Print the document to PDF (see :func:`il2lib.report.pdf.write_pdf`)."""
        return write_pdf(self.html, path, paper=paper or self.paper)  # type: ignore[arg-type]


@_small_cells.honours_threshold
def build_report(cohort, ae=None, filter: CohortFilter = CohortFilter(), endpoint: Endpoint = "os", *,
                 conf_type: Literal["log-log", "log", "plain"] = "log-log",
                 ci_method: Literal["exact", "wilson"] = "exact", paper: Paper = "A4",
                 title: str = REPORT_TITLE, generated_at: dt.datetime | None = None,
                 synthetic: bool | None = None, ae_fingerprint: str | None = None,
                 pseudonymise: bool = False, ae_complete: Iterable[str] = (),
                 small_cell_threshold: int | None = None,
                 by: str | None | _DiseaseWhenBoth = DISEASE_WHEN_BOTH, assessments=None) -> Report:
    """Build the meeting report for a loaded cohort.

    Parameters
    ----------
    cohort : il2lib.validation.patients.Cohort
        From :func:`il2lib.load_cohort` (its report, fingerprint and clinical-benefit rule are used).
    ae : il2lib.validation.adverse_events.AdverseEvents, optional
        From :func:`il2lib.load_adverse_events`; without it the toxicity section says so.
    filter : CohortFilter
        The cohort restriction (the dashboard's sidebar or the CLI flags).
    endpoint : {"os", "pfs"}
        The time-to-event endpoint of the survival section.
    conf_type, ci_method
        Kaplan-Meier CI transformation (R's ``conf.type``) and the binomial CI (Clopper-Pearson or Wilson).
    paper : {"A4", "Letter"}
        Page size of the printed/PDF version.
    generated_at : datetime, optional
        Time stamp printed in the report (default: now, UTC).
    synthetic : bool, optional
        Print the synthetic-data note; default: when the file name contains "synthetic".
    ae_fingerprint : str, optional
        SHA-256 of the adverse-event file, printed beside the patient file's.
    pseudonymise : bool
        Withhold the file's patient ids: the cohort and the AE table are pseudonymised first
        (:func:`il2lib.privacy.pseudonyms.pseudonymise`), so every section, figure and finding names a patient
        "row N" by their line in the file.
    ae_complete : iterable of str
        Sources whose AE file lists every AE of every patient (``"*"``: every patient); see
        :func:`il2lib.analyses.toxicity.toxicity_summary`.
    small_cell_threshold : int, optional
        Build the report masked, like the dashboard under small-cell protection: counts from 1 to
        ``small_cell_threshold - 1`` read ``"<k"`` in every table, figure, caption and note, the rates and
        CIs beside them read "masked", patient-level figures and per-patient rows are withheld, and the
        Methods section states the method (see :mod:`il2lib.report._small_cells`).
    by : str or None, optional
        The groups compared in Response, Toxicity and Key results (one of :data:`GROUPINGS`, or None: all
        patients together); the header names it, Key results adds a row per group beside its rows per disease,
        and the Methods command passes ``--by``. Default (:data:`DISEASE_WHEN_BOTH`): disease when both
        diseases are present, else none. Table 1 and Survival are by disease (Survival adds prior PD-1/PD-L1)
        whatever ``by`` is.
    assessments : il2lib.analyses.tumour_burden.TumourAssessments, optional
        From :func:`il2lib.load_tumour_assessments` (loaded against ``cohort``): the Response section then has
        the waterfall and spider plots (patient level: withheld under ``small_cell_threshold``). Without it, a
        ``best_pct_change`` column of the patient file gives the waterfall.

    Returns
    -------
    Report

    Raises
    ------
    InsufficientDataError
        The file has a file-level error, or no patient matches the filter (or, masked, fewer patients
        than ``small_cell_threshold``).
    Il2libError
        ``by`` names a column the data do not have.
    """
    if endpoint not in ("os", "pfs"):
        raise ValueError(f"endpoint must be 'os' or 'pfs', got {endpoint!r}.")
    if pseudonymise:  # once, before anything is computed from the data
        if assessments is not None:
            assessments = pseudonymised(cohort, assessments)[1]
        cohort, ae = pseudonymised(cohort, ae)
    if not cohort.report.ok:
        raise InsufficientDataError("The file cannot be analysed: "
                                    + " ".join(f.message for f in cohort.report.file_errors))
    df = apply_filter(cohort.data, filter)
    if df.empty:
        raise InsufficientDataError(f"No patient matches the filter ({filter.describe()}); nothing to report.")
    if small_cell_threshold is not None and len(df) < small_cell_threshold:
        raise InsufficientDataError(f"Fewer than {small_cell_threshold} patients match the filter "
                                    f"({filter.describe()}): with small-cell protection on, no report is built for "
                                    "so few patients. Widen the filter.")
    stamp = (generated_at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    synthetic = "synthetic" in cohort.source_name.lower() if synthetic is None else synthetic
    by_disease = group_column(df)
    if by is not DISEASE_WHEN_BOTH and by is not None:
        require_columns(df, by)
    compared = by_disease if by is DISEASE_WHEN_BOTH else by  # Response, Toxicity, Key results
    subtitle = f"{cohort.source_name} · {filter.describe()} · n = {len(df)}"
    sections = [validation_section(cohort, ae, len(df), filter.describe(), pseudonymise),
                table1_section(df, by_disease),
                response_section(df, compared, cohort.cb_sd_months, ci_method, cohort.assessment_window_days),
                survival_section(df, endpoint, by_disease, conf_type, subtitle),
                models_section(df, endpoint, by_disease, subtitle, cohort.cb_sd_months,
                               cohort.assessment_window_days)]
    time_dependent = time_dependent_section(df, endpoint, subtitle, cohort.cb_sd_months,
                                            cohort.assessment_window_days)
    if time_dependent is not None:  # after Survival
        sections.insert(4, time_dependent)
    add_tumour_figures(next(s for s in sections if s.anchor == "response"), df, assessments, compared)
    biomarkers = biomarker_section(df, cohort.cb_sd_months, cohort.assessment_window_days)
    if biomarkers is not None:
        sections.append(biomarkers)
    sections.append(toxicity_section(df, ae, compared, tuple(ae_complete)))
    command = reproduce_command(cohort.source_name, filter, endpoint, ae is not None, cohort.cb_sd_months,
                                cohort.assessment_window_days, by)
    command += ae_complete_arguments(tuple(ae_complete) if ae is not None else ())
    command += f" --mask {small_cell_threshold}" if small_cell_threshold is not None else ""
    sections.append(methods_section(sections, conf_type, ci_method, command, endpoint, small_cell_threshold))
    header = _header(title, cohort, filter, df, endpoint, stamp, synthetic, ae, ae_fingerprint, sections, by)
    body, n_figures = _render(sections)
    footer = f"{title} · {cohort.source_name} · SHA-256 {cohort.fingerprint[:12]}… · {stamp:%Y-%m-%d %H:%M} UTC"
    document = _html.document(title, header + body, paper=paper, footer=footer, has_figures=n_figures > 0)
    return Report(document, title, cohort.source_name, cohort.fingerprint, filter.describe(), endpoint,
                  stamp.isoformat(timespec="seconds"), len(df), tuple(s.heading for s in sections), n_figures, paper,
                  small_cell_threshold)


def _header(title, cohort, flt, df, endpoint, stamp, synthetic, ae, ae_fingerprint, sections, by) -> str:
    facts = [("Data file", cohort.source_name),
             ("Data fingerprint", f"SHA-256 {cohort.fingerprint}"),
             ("Generated", f"{stamp:%d %B %Y, %H:%M} UTC"),
             ("Filter", flt.describe()),
             ("Patients", f"{len(df)} after filter (of {cohort.report.n_analysed} analysed, "
                          f"{cohort.report.n_loaded} in file)"),
             ("Survival endpoint", schema.ENDPOINTS[endpoint].label),
             ("Clinical benefit", benefit_rule_text(cohort.cb_sd_months, cohort.assessment_window_days))]
    if by is not DISEASE_WHEN_BOTH:
        facts.append(("Groups compared", "None (all patients together)" if by is None else schema.label(by)))
    if ae is not None:
        facts.append(("Adverse events", f"{ae.report.n_analysed} rows" +
                      (f"; SHA-256 {ae_fingerprint}" if ae_fingerprint else "")))
    k = _small_cells.threshold()
    if k is not None:
        facts.append(("Small-cell protection", f"on: counts from 1 to {k - 1} shown as \"<{k}\"; patient-level "
                                               "figures and rows withheld (see Methods)"))
    contents = " · ".join(f'<a href="#{esc(s.anchor)}">{esc(s.heading)}</a>' for s in sections)
    return ('<header class="title-block">'
            f"<h1>{esc(title)}</h1>"
            f'<p class="subtitle">{esc(cohort.source_name)} · {esc(flt.describe())}</p>'
            f"{definition_list(facts)}</header>"
            + "".join(caveat_blocks(df, synthetic))
            + _key_results(df, endpoint, cohort.cb_sd_months, cohort.assessment_window_days,
                           None if by in (DISEASE_WHEN_BOTH, schema.DISEASE) else by)
            + f'<p class="toc">Contents: {contents}</p>')


def _key_results(df: pd.DataFrame, endpoint: str, cb_sd_months: float,
                 window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT, by: str | None = None) -> str:
    """Headline table: per disease, per group of ``by`` (a grouping other than disease) and overall: N, CR, PR,
    ORR and CBR with CIs, median survival. Not built under small-cell protection: it repeats counts of the
    Response section, whose complements it would not share."""
    if _small_cells.threshold() is not None:
        return _html.paragraph("Key results are not repeated here while small-cell protection is on: the Response "
                               "and Survival sections show them, with small counts and their complements hidden.",
                               "note")
    rows, view = [], ""
    groups = [(schema.DISEASE_LABELS.get(d, d), df[df[schema.DISEASE] == d]) for d in schema.DISEASES
              if (df[schema.DISEASE] == d).any()]
    overall = [("All patients", df)] if len(groups) != 1 else []
    if by is not None:
        labels = group_labels(df, by)
        groups += [(level, df[labels == level]) for level in level_order(by, labels)]
    groups += overall
    ep = schema.ENDPOINTS[endpoint]
    for label, sub in groups:
        try:
            result = response_rates(sub, outcome=["orr", "cbr"], cb_sd_months=cb_sd_months, window_days=window_days)
            rates = result.rates.set_index("outcome")
            km = kaplan_meier(sub[ep.time].astype("float64"), sub[ep.event].astype("float64"))
        except Il2libError:
            continue
        counts = result.bor_counts.groupby("response")["n"].sum()  # BOR as counted under RECIST 1.1 rules
        view = result.view_label
        row = {"Group": label, "N": len(sub), "CR": int(counts.get("CR", 0)), "PR": int(counts.get("PR", 0))}
        for outcome in ("orr", "cbr"):
            r = rates.loc[outcome]
            row[f"{outcome.upper()}, % (95% CI)"] = (f"{int(r['responders'])}/{int(r['n'])} = {100 * r['rate']:.1f} "
                                                     f"({100 * r['ci_lower']:.1f}–{100 * r['ci_upper']:.1f})")
        lo, hi = km.median_ci
        row[f"Median {endpoint.upper()}, months (95% CI)"] = f"{_m(km.median)} ({_m(lo)}–{_m(hi)})"
        rows.append(row)
    if not rows:
        return ""
    notes = [f"ORR = (CR+PR)/N and CBR = (CR+PR+SD >= {cb_sd_months:g} months, assessment window "
             f"{window_days:g} days)/N over all treated patients "
             "(NE included), Clopper-Pearson exact 95% CI; median by Kaplan-Meier (NR = not reached). "
             f"CR, PR and ORR count {view} (RECIST 1.1 rules; see Response)."]
    return table_html(pd.DataFrame(rows), caption="Key results", notes=notes, css_class="key")


def _m(value: float) -> str:
    return "NR" if not math.isfinite(value) else f"{value:.1f}"


def _render(sections: list[Section]) -> tuple[str, int]:
    parts, number = [], 0
    for s in sections:
        blocks = []
        for block in s.blocks:
            if isinstance(block, Figure) and _small_cells.withheld(block.kind):
                blocks.append(_html.paragraph("Patient-level figure withheld while small-cell protection is on "
                                              "(it shows patients one by one).", "note"))
            elif isinstance(block, Figure):
                number += 1
                blocks.append(_html.figure_html(block, number))
            else:
                blocks.append(block)
        cls = ' class="page-start"' if s.page_start else ""
        parts.append(f'<section id="{esc(s.anchor)}"{cls}><h2>{esc(s.heading)}</h2>{"".join(blocks)}</section>')
    return "".join(parts), number
