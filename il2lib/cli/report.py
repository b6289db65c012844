"""``python -m il2lib report FILE --out report.html [--pdf report.pdf] [filters] [--endpoint os|pfs] [--by COLUMN]
[--ae AE_FILE] [--tumour ASSESSMENTS_FILE] [--ae-complete SOURCE ...] [--mask K]``.

Builds the same self-contained meeting report as the dashboard's Report page
(:func:`il2lib.report.build_report`) and optionally prints it to PDF with headless chromium. A REDCap export
brings its own adverse-event and tumour-assessment instruments; ``--ae`` and ``--tumour`` take their place.
Listed in :data:`il2lib.cli.COMMANDS`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from il2lib import schema
from il2lib.analyses.tumour_burden import load_tumour_assessments
from il2lib.cli._common import (UsageError, _pairs, add_ae_complete_argument, add_filter_arguments, add_load_arguments,
                                ae_complete_from_args, load_filtered)
from il2lib.redcap.entry import is_redcap_export
from il2lib.validation.adverse_events import load_adverse_events

#: ``--by`` choices: the report's groupings and "none".
NO_GROUPING = "none"
BY_CHOICES = (*schema.COMPARISON_GROUPINGS, NO_GROUPING)


def _add_report(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser)
    add_filter_arguments(parser)
    group = parser.add_argument_group("report")
    group.add_argument("--out", required=True, metavar="HTML", help="where to write the self-contained HTML report")
    group.add_argument("--pdf", default=None, metavar="PDF", help="also print the report to this PDF (chromium)")
    group.add_argument("--paper", choices=("A4", "Letter"), default="A4", help="PDF/print page size (default A4)")
    group.add_argument("--endpoint", choices=("os", "pfs"), default="os", help="survival endpoint (default os)")
    group.add_argument("--by", choices=BY_CHOICES, default=None, metavar="COLUMN",
                       help="groups compared in Response, Toxicity and Key results: "
                            f"{', '.join(BY_CHOICES)} (default: disease when both diseases are present)")
    group.add_argument("--ae", default=None, metavar="AE_FILE", help="long-format adverse-event table for toxicity")
    group.add_argument("--tumour", default=None, metavar="ASSESSMENTS_FILE",
                       help="long tumour-assessment table (patient_id, assessment_date, target_sum_mm, new_lesions): "
                            "the Response section gets the waterfall and spider plots")
    add_ae_complete_argument(group)
    group.add_argument("--ci", choices=("exact", "wilson"), default="exact",
                       help="binomial CI for ORR/CBR (default exact: Clopper-Pearson)")
    group.add_argument("--pseudonyms", action="store_true",
                       help="withhold the file's patient ids everywhere in the report: patients are named "
                            "'row N' by their line in the file")
    group.add_argument("--conf-type", choices=("log-log", "log", "plain"), default="log-log",
                       help="Kaplan-Meier CI transformation (default log-log)")
    group.add_argument("--mask", type=_threshold, default=None, metavar="K",
                       help="small-cell protection: show counts from 1 to K-1 as '<K', withhold patient-level "
                            "figures and rows (as the dashboard's switch; K from 2 to 20, the dashboard's default 5)")


def _threshold(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--mask needs a whole number from 2 to 20, got {text!r}.") from None
    if not 2 <= k <= 20:
        raise argparse.ArgumentTypeError(f"--mask needs a whole number from 2 to 20, got {k}.")
    return k


def _load_ae(path: str, cohort):

    ae = load_adverse_events(path, cohort)
    if not ae.report.ok:
        raise UsageError("Adverse-event file: " + " ".join(f.message for f in ae.report.file_errors))
    try:
        fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:  # the loader read it a moment ago; report a plain error if it vanished
        raise UsageError(f"The adverse-event file '{path}' could not be read ({exc.strerror}).") from exc
    return ae, fingerprint


def _load_tumour(path: str, cohort):
    assessments = load_tumour_assessments(path, cohort)
    if not assessments.report.ok:
        raise UsageError("Tumour-assessment file: " + " ".join(f.message for f in assessments.report.file_errors))
    return assessments


def _redcap_tables(args: argparse.Namespace):
    """The AE table and tumour assessments of a REDCap export (None each when FILE is not one, or has none)."""
    dictionary = getattr(args, "redcap_dictionary", None)
    if dictionary is None and not is_redcap_export(args.file):
        return None, None
    from il2lib.redcap.export import load_redcap

    result = load_redcap(args.file, dictionary, mapping=_pairs(args.map, "--map") or None,
                         date_order=_pairs(args.date_order, "--date-order") or None, cb_sd_months=args.cb_sd_months,
                         assessment_window_days=args.assessment_window_days)
    return result.adverse_events, result.assessments


def _run_report(args: argparse.Namespace) -> int:
    from il2lib.report import DISEASE_WHEN_BOTH, build_report, write_pdf  # plotly and the templates: only here

    cohort, flt, _ = load_filtered(args)
    if args.ae_complete and not args.ae:
        raise UsageError("--ae-complete needs --ae (the adverse-event file it describes).")
    ae_complete = ae_complete_from_args(args, cohort)
    ae, ae_fingerprint = _load_ae(args.ae, cohort) if args.ae else (None, None)
    assessments = _load_tumour(args.tumour, cohort) if args.tumour else None
    if ae is None or assessments is None:
        redcap_ae, redcap_assessments = _redcap_tables(args)
        ae = ae if ae is not None else redcap_ae
        assessments = assessments if assessments is not None else redcap_assessments
    by = DISEASE_WHEN_BOTH if args.by is None else None if args.by == NO_GROUPING else args.by
    report = build_report(cohort, ae, flt, args.endpoint, conf_type=args.conf_type, ci_method=args.ci,
                          paper=args.paper, ae_fingerprint=ae_fingerprint, pseudonymise=args.pseudonyms,
                          ae_complete=ae_complete, small_cell_threshold=args.mask, by=by, assessments=assessments)
    try:
        html_path = report.write_html(args.out)
    except OSError as exc:
        raise UsageError(f"Cannot write '{args.out}' ({exc.strerror}).") from exc
    pdf_path = write_pdf(report.html, args.pdf, paper=args.paper) if args.pdf else None
    payload = {"html": str(html_path), "pdf": None if pdf_path is None else str(pdf_path),
               "fingerprint": report.fingerprint, "filter": report.filter_description, "n_patients": report.n_patients,
               "endpoint": report.endpoint, "sections": list(report.sections), "n_figures": report.n_figures,
               "generated_at": report.generated_at, "small_cell_threshold": report.small_cell_threshold}
    if args.format == "json":
        print(json.dumps(payload))
    else:
        print(f"Report written to {html_path}" + (f" and {pdf_path}" if pdf_path else "")
              + f": {report.n_patients} patients ({report.filter_description}), {report.n_figures} figures, "
              f"data SHA-256 {report.fingerprint}."
              + (f" Small cells masked (counts below {args.mask})." if args.mask is not None else ""))
    return 0


COMMANDS = [("report", "self-contained HTML meeting report (and optional PDF) of the filtered cohort",
             _add_report, _run_report)]
