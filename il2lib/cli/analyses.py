"""The analysis subcommands of ``python -m il2lib``: response, table1, biomarkers, toxicity.

Listed in :data:`il2lib.cli.COMMANDS`; each takes FILE, the shared load options and cohort
filter flags of ``summary``, and ``--format text|json``. The ``response`` JSON is a contract
(see :meth:`il2lib.analyses.response.ResponseRates.to_dict`).
"""
from __future__ import annotations

import argparse
import math

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import best_response_table, duration_of_response, response_rates
from il2lib.analyses.table1 import table1
from il2lib.analyses.toxicity import LISTED_NOTE_KINDS, toxicity_summary
from il2lib.cli._common import (UsageError, add_ae_complete_argument, add_filter_arguments, add_load_arguments,
                                ae_complete_from_args, emit, jsonable, load_filtered, records)
from il2lib.cohort import benefit_rule_text
from il2lib.notes import Note
from il2lib.stats import p_phrase
from il2lib.validation.adverse_events import load_adverse_events


def _shared(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser)
    add_filter_arguments(parser)


def _emit(args, payload: dict, text: str) -> None:
    emit(args, jsonable(payload), text)


def _header(cohort, flt, data) -> list[str]:
    return [f"{cohort.source_name}: {cohort.report.summary()}", f"Filter: {flt.describe()} ({len(data)} patients)", ""]


# ---------------------------------------------------------------------------------------- response
def _add_response(parser: argparse.ArgumentParser) -> None:
    _shared(parser)
    parser.add_argument("--by", default=None, metavar="COLUMN", help="grouping column (e.g. disease, prior_pd1_pdl1, "
                        "prior_pd1_agent, line_of_il2, prior_pd1_best_response)")
    parser.add_argument("--ci", choices=("exact", "wilson"), default="exact", help="CI method (default exact)")
    parser.add_argument("--evaluable-only", action="store_true", help="leave NE out of the denominators")
    parser.add_argument("--sd-minimum-weeks", type=float, default=float(schema.SD_MINIMUM_WEEKS_DEFAULT),
                        metavar="WEEKS", help="RECIST 1.1 SD minimum from IL-2 start (default "
                        f"{schema.SD_MINIMUM_WEEKS_DEFAULT:g}; 0 = none): a shorter SD counts as PD or NE")


def _run_response(args: argparse.Namespace) -> int:


    if not (math.isfinite(args.sd_minimum_weeks) and args.sd_minimum_weeks >= 0):
        raise UsageError("--sd-minimum-weeks must be a number >= 0.")
    cohort, flt, data = load_filtered(args)
    rates = response_rates(data, by=args.by, ci_method=args.ci, cb_sd_months=args.cb_sd_months,
                           denominator="evaluable" if args.evaluable_only else "itt",
                           sd_minimum_weeks=args.sd_minimum_weeks, window_days=args.assessment_window_days)
    payload = rates.to_dict()
    lines = _header(cohort, flt, data)
    bor = best_response_table(data, by=args.by, sd_minimum_weeks=args.sd_minimum_weeks,
                              window_days=args.assessment_window_days)
    lines += [bor.display().to_string(), "", rates.display().to_string(index=False), ""]
    for comp in rates.comparisons:
        lines.append(f"{comp.outcome.upper()} between groups: {p_phrase(comp.result.pvalue)} "
                     f"({comp.result.label}; {comp.result.note})")
    if {schema.DOR_MONTHS, schema.DOR_EVENT} <= set(data.columns):
        dor = duration_of_response(data)
        payload["duration_of_response"] = records(dor.to_frame())[0]
        med = "NR" if math.isnan(dor.median) else f"{dor.median:.1f}"
        lines.append(f"Duration of response: {dor.n_analysed} of {dor.n_responders} responders, median {med} months "
                     f"(KM, {dor.conf_type} CI), {dor.n_ongoing} ongoing, range {dor.range_text}")
    lines += ["", rates.n_note] + list(rates.notes)
    lines.append(f"Denominator: {'evaluable patients (NE left out)' if args.evaluable_only else 'all patients (ITT)'}; "
                 f"CI: {'Clopper-Pearson exact' if args.ci == 'exact' else 'Wilson score'}; "
                 f"CB = {benefit_rule_text(args.cb_sd_months, args.assessment_window_days)}; "
                 f"ORR view: {rates.view_label}; "
                 f"SD minimum {args.sd_minimum_weeks:g} weeks.")
    _emit(args, payload, "\n".join(lines))
    return 0


# ---------------------------------------------------------------------------------------- table1
def _add_table1(parser: argparse.ArgumentParser) -> None:
    _shared(parser)
    parser.add_argument("--by", default=None, metavar="COLUMN", help="grouping column (default: overall only)")
    parser.add_argument("--variables", default=None, metavar="A,B,...", help="columns to describe (default set)")
    parser.add_argument("--mean-sd", action="store_true", help="also show mean (SD) for continuous variables")


def _run_table1(args: argparse.Namespace) -> int:
    cohort, flt, data = load_filtered(args)
    variables = [v.strip() for v in args.variables.split(",") if v.strip()] if args.variables else None
    t = table1(data, by=args.by, variables=variables, mean_sd=args.mean_sd)
    payload = {"by": args.by, "groups": list(t.groups), "n_used": t.n_used, "rows": records(t.tidy),
               "tests": records(t.tests), "footnotes": list(t.footnotes), "excluded": records(t.excluded)}
    text = "\n".join(_header(cohort, flt, data) + [t.display().to_string(index=False), ""] + list(t.footnotes))
    _emit(args, payload, text)
    return 0


# ---------------------------------------------------------------------------------------- biomarkers
def _add_biomarkers(parser: argparse.ArgumentParser) -> None:
    _shared(parser)
    parser.add_argument("--adjust", choices=("none", "holm", "BH"), default="none",
                        help="multiplicity adjustment within each disease (default none)")


def _run_biomarkers(args: argparse.Namespace) -> int:
    cohort, flt, data = load_filtered(args)
    res = biomarker_comparison(data, cb_sd_months=args.cb_sd_months, adjust=args.adjust,
                               window_days=args.assessment_window_days)
    payload = {"cb_sd_months": res.cb_sd_months, "assessment_window_days": res.window_days, "adjust": res.adjust,
               "groups": records(res.groups),
               "rows": records(res.rows), "excluded": records(res.excluded), "notes": list(res.notes)}
    lines = _header(cohort, flt, data)
    for disease in res.groups["disease"]:
        lines += [f"{schema.DISEASE_LABELS.get(disease, disease)}: clinical benefit vs no clinical benefit",
                  res.display(disease).to_string(index=False), ""]
    lines += [res.n_note] + list(res.notes)
    _emit(args, payload, "\n".join(lines))
    return 0


# ---------------------------------------------------------------------------------------- toxicity
def _add_toxicity(parser: argparse.ArgumentParser) -> None:
    _shared(parser)
    parser.add_argument("--ae", required=True, metavar="AE_FILE", help="long-format adverse-event table")
    parser.add_argument("--by", default=None, metavar="COLUMN", help="patient column to split by")
    add_ae_complete_argument(parser)


def _note_lines(notes) -> list[str]:
    """Each note, and under the notes that name patients, their ids."""
    lines = []
    for note in notes:
        lines.append(str(note))
        ids = getattr(note, "patient_ids", ())
        if ids and getattr(note, "kind", "") in LISTED_NOTE_KINDS:
            lines.append("  patients: " + ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else ""))
    return lines


def _run_toxicity(args: argparse.Namespace) -> int:
    cohort, flt, data = load_filtered(args)
    ae_complete = ae_complete_from_args(args, cohort)
    ae = load_adverse_events(args.ae, cohort)
    if not ae.report.ok:
        raise UsageError("\n".join(f.message for f in ae.report.file_errors))
    tox = toxicity_summary(ae.data, data, by=args.by, ae_complete=ae_complete)
    payload = {"by": args.by, "groups": list(tox.groups), "n_patients": tox.n_patients,
               "ae_file": {"n_loaded": ae.report.n_loaded, "n_analysed": ae.report.n_analysed,
                           "n_excluded": ae.report.n_excluded},
               "summary": records(tox.summary), "by_term": records(tox.by_term), "by_cycle": records(tox.by_cycle),
               "excluded_ae_rows": records(tox.excluded_ae_rows), "notes": list(tox.notes),
               "ae_complete": list(ae_complete), "n_known": tox.n_known, "coverage": records(tox.coverage),
               "note_records": [n.to_dict() for n in tox.notes if isinstance(n, Note)],
               "warnings": [w.to_dict() for w in tox.warnings]}
    summary = tox.summary.assign(percent=tox.summary["percent"].map("{:.1f}".format))
    lines = _header(cohort, flt, data) + [f"AE file: {ae.report.summary()}", "",
                                          summary.to_string(index=False), "", tox.display().to_string(), ""]
    if len(tox.by_cycle):
        lines += ["Adverse events by cycle (N = patients who received the cycle)",
                  tox.by_cycle.to_string(index=False), ""]
    lines += [f"Warning: {line}" if not line.startswith("  ") else line for line in _note_lines(tox.warnings)]
    lines += [tox.n_note] + _note_lines(tox.notes)
    _emit(args, payload, "\n".join(lines))
    return 0


COMMANDS = [
    ("response", "best response, ORR/CBR/DCR with exact CIs by group, the test between groups, DoR",
     _add_response, _run_response),
    ("table1", "patient characteristics overall and by group with p-values (tests named)", _add_table1, _run_table1),
    ("biomarkers", "clinical benefit vs no benefit per disease: labs, fever, doses, autoimmunity, ORs",
     _add_biomarkers, _run_biomarkers),
    ("toxicity", "adverse events: any / grade >= 3 per term, irAEs, steroids, ICU, deaths", _add_toxicity,
     _run_toxicity),
]
