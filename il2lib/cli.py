"""Command line: ``python -m il2lib <command> FILE [filters] [--format text|json]``.

Every command loads the patient file with :func:`il2lib.validation.load_cohort`, applies the
cohort filter given by flags named after the schema columns (``--disease rcc
--prior-pd1-pdl1 no``), and prints a text table or a JSON document. Errors (not a table, a
file-level finding, a bad argument) go to stderr with exit status 2.

Adding a command is one additive edit: write ``_add_x(parser)`` and ``_run_x(args) -> int`` and
append ``("x", "help", _add_x, _run_x)`` to :data:`COMMANDS`. Shared helpers:
:func:`add_load_arguments`, :func:`add_filter_arguments`, :func:`load_filtered`, :func:`emit`.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Callable, Sequence

import pandas as pd

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.errors import Il2libError

#: CohortFilter field -> schema column used as its flag/URL name
FILTER_FLAGS = {"disease": schema.DISEASE, "prior_pd1_pdl1": schema.PRIOR_PD1,
                "prior_pd1_agent": schema.PRIOR_PD1_AGENT, "line_of_il2": schema.LINE_OF_IL2,
                "sex": schema.SEX, "age_range": schema.AGE, "ecog": schema.ECOG, "source": schema.SOURCE}
_FILTER_HELP = {"disease": "melanoma, rcc (comma-separated for several)", "prior_pd1_pdl1": "yes or no",
                "prior_pd1_agent": "e.g. nivolumab,pembrolizumab", "line_of_il2": "1, 2 or 3+ (comma-separated)",
                "sex": "M or F", "age_range": "inclusive age range, e.g. 40-70", "ecog": "e.g. 0,1",
                "source": "e.g. PROCLAIM"}


class UsageError(Il2libError):
    """A command-line problem reported on stderr with exit status 2."""


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE plus the loading options shared by every command."""
    parser.add_argument("file", metavar="FILE", help="patient file (CSV/TSV, XLSX or Parquet)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--sheet", default=None, help="XLSX sheet name or 0-based number")
    parser.add_argument("--date-order", action="append", default=[], metavar="COLUMN=dmy|mdy",
                        help="day/month order of an ambiguous date column ('*' for all); repeatable")
    parser.add_argument("--map", action="append", default=[], metavar="FILE_COLUMN=SCHEMA_COLUMN",
                        help="map a file column onto a schema column; repeatable")
    parser.add_argument("--cb-sd-months", type=float, default=schema.CB_SD_MONTHS_DEFAULT,
                        help=f"SD duration counted as clinical benefit (default {schema.CB_SD_MONTHS_DEFAULT:g}; "
                             "0 = any SD)")
    parser.add_argument("--assessment-window-days", type=float, default=float(schema.ASSESSMENT_WINDOW_DAYS_DEFAULT),
                        metavar="DAYS", help="assessment window W of the SD-duration rules: an SD meets a threshold "
                        "when it lasts at least threshold x 30.4375 - W days (default "
                        f"{schema.ASSESSMENT_WINDOW_DAYS_DEFAULT:g})")


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per CohortFilter field, named after the schema column (``--prior-pd1-pdl1``)."""
    group = parser.add_argument_group("cohort filter")
    for field, column in FILTER_FLAGS.items():
        group.add_argument("--" + column.replace("_", "-"), dest="filter_" + field, default=None,
                           metavar="VALUES", help=_FILTER_HELP[field])
    group.add_argument("--extra", action="append", default=[], metavar="COLUMN=V1,V2", dest="filter_extra",
                       help="filter any other categorical column; repeatable")


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} '{item}' must look like NAME=VALUE.")
        out[key.strip()] = value.strip()
    return out


def filter_from_args(args: argparse.Namespace) -> CohortFilter:
    """The CohortFilter of the parsed flags; an unrecognised value is a :class:`UsageError`."""
    params: dict[str, str] = {}
    for field, column in FILTER_FLAGS.items():
        value = getattr(args, "filter_" + field, None)
        if value is not None:
            params[column] = value
    for column, values in _pairs(getattr(args, "filter_extra", []) or [], "--extra").items():
        params[column if column in schema.COLUMNS else "col." + column] = values
    flt, problems = CohortFilter.from_query_params(params)
    if problems:
        raise UsageError(" ".join(p.replace("; ignored.", ".") for p in problems))
    return flt


def load_filtered(args: argparse.Namespace):
    """Load FILE with the shared options and apply the filter: ``(cohort, filter, filtered_data)``."""
    from il2lib.validation import load_cohort

    date_order = _pairs(args.date_order, "--date-order")
    bad = [v for v in date_order.values() if v not in ("dmy", "mdy")]
    if bad:
        raise UsageError(f"--date-order value '{bad[0]}' must be dmy or mdy.")
    sheet: Any = args.sheet
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    flt = filter_from_args(args)
    if not (math.isfinite(args.cb_sd_months) and args.cb_sd_months >= 0):
        raise UsageError("--cb-sd-months must be a number >= 0.")
    if not (math.isfinite(args.assessment_window_days) and args.assessment_window_days >= 0):
        raise UsageError("--assessment-window-days must be a number >= 0.")
    cohort = load_cohort(args.file, _pairs(args.map, "--map") or None, sheet=sheet, date_order=date_order or None,
                         cb_sd_months=args.cb_sd_months, assessment_window_days=args.assessment_window_days)
    if not cohort.report.ok:
        raise UsageError("\n".join(f.message for f in cohort.report.file_errors))
    return cohort, flt, apply_filter(cohort.data, flt)


def emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    """Print ``payload`` as JSON or ``text``, per ``--format``."""
    if args.format == "json":
        print(json.dumps(payload, indent=None, allow_nan=False))
    else:
        print(text)


def _proportion(k: int, n: int) -> dict:
    if n == 0:
        return {"responders": 0, "n": 0, "rate": None, "ci95": None}
    try:
        from il2lib.stats import proportion_ci

        ci = proportion_ci(k, n, "exact")
        lo, hi = float(ci.lower), float(ci.upper)
    except ImportError:  # stats module not present: same Clopper-Pearson interval from scipy
        from scipy.stats import binomtest

        interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        lo, hi = float(interval.low), float(interval.high)
    return {"responders": k, "n": n, "rate": k / n, "ci95": [lo, hi]}


def summary_payload(cohort, data: pd.DataFrame) -> dict:
    """The JSON contract of ``summary``: counts, and per disease n, BOR counts and ORR (exact CI)."""
    report = cohort.report
    groups = {}
    for disease in schema.DISEASES:
        rows = data[data[schema.DISEASE] == disease]
        if not len(rows):
            continue
        counts = rows[schema.BOR].value_counts()
        bor = {level: int(counts.get(level, 0)) for level in schema.BOR_LEVELS}
        groups[disease] = {"n": int(len(rows)), "best_response": bor,
                           "orr": _proportion(bor["CR"] + bor["PR"], int(len(rows)))}
    return {"n_loaded": report.n_loaded, "n_analysed": report.n_analysed, "n_excluded": report.n_excluded,
            "groups": groups}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def summary_text(cohort, flt: CohortFilter, payload: dict) -> str:
    report = cohort.report
    lines = [f"il2-registry summary: {cohort.source_name}", report.summary(),
             f"Findings: {len(report.row_errors)} row errors, {len(report.warnings)} warnings",
             f"Filter: {flt.describe()}", ""]
    header = f"{'Group':<10}{'n':>5}" + "".join(f"{b:>5}" for b in schema.BOR_LEVELS) + "   ORR (exact 95% CI)"
    lines += [header, "-" * len(header)]
    for disease, g in payload["groups"].items():
        orr = g["orr"]
        rate = (f"{orr['responders']}/{orr['n']} = {_pct(orr['rate'])} "
                f"({_pct(orr['ci95'][0])}-{_pct(orr['ci95'][1])})") if orr["n"] else "-"
        lines.append(f"{schema.DISEASE_LABELS[disease]:<10}{g['n']:>5}"
                     + "".join(f"{g['best_response'][b]:>5}" for b in schema.BOR_LEVELS) + f"   {rate}")
    if not payload["groups"]:
        lines.append("(no patients match the filter)")
    lines += ["", "ORR = (CR + PR) / all patients in the group (NE included in the denominator)."]
    return "\n".join(lines)


def _add_summary(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser)
    add_filter_arguments(parser)


def _run_summary(args: argparse.Namespace) -> int:
    cohort, flt, data = load_filtered(args)
    payload = summary_payload(cohort, data)
    emit(args, payload, summary_text(cohort, flt, payload))
    return 0


#: (name, help, add_arguments, run) of every subcommand; other modules append to this list.
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    ("summary", "patients loaded/analysed/excluded and best response with ORR per disease",
     _add_summary, _run_summary),
]

# The analysis subcommands (response, table1, biomarkers, toxicity) live in il2lib.cli_analyses.
from il2lib.cli_analyses import COMMANDS as _ANALYSIS_COMMANDS  # noqa: E402

COMMANDS += _ANALYSIS_COMMANDS

# The meeting-report subcommand (HTML + optional PDF) lives in il2lib.cli_report.
from il2lib.cli_report import COMMANDS as _REPORT_COMMANDS  # noqa: E402

COMMANDS += _REPORT_COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m il2lib", description="il2-registry analyses from the command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except Il2libError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
