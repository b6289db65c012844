"""What every subcommand of ``python -m il2lib`` shares: loading FILE with its options, the cohort-filter
flags, printing text or JSON, and the ``--ae-complete`` option."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses.toxicity import unknown_sources
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.errors import Il2libError
from il2lib.redcap.entry import load_cohort

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
    parser.add_argument("--redcap-dictionary", default=None, metavar="DICTIONARY_CSV",
                        help="the REDCap project's Data Dictionary CSV, when FILE is a REDCap export (a REDCap export "
                             "is recognised by its header; without the dictionary only the registry template's codes "
                             "are decoded)")
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
                         cb_sd_months=args.cb_sd_months, assessment_window_days=args.assessment_window_days,
                         dictionary=getattr(args, "redcap_dictionary", None))
    if not cohort.report.ok:
        raise UsageError("\n".join(f.message for f in cohort.report.file_errors))
    return cohort, flt, apply_filter(cohort.data, flt)


def emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    """Print ``payload`` as JSON or ``text``, per ``--format``."""
    if args.format == "json":
        print(json.dumps(payload, indent=None, allow_nan=False))
    else:
        print(text)


def jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (the JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return jsonable(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))


def add_ae_complete_argument(parser) -> None:
    """``--ae-complete SOURCE`` (repeatable): the AE file lists every AE of every patient of SOURCE."""
    parser.add_argument("--ae-complete", action="append", default=[], metavar="SOURCE",
                        help="the AE file lists every AE of every patient of this source (a value of the source "
                             "column; '*' = every patient): their patients without AE rows had no AE. Repeatable. "
                             "Otherwise a patient without AE rows and without max_ctcae_grade has unknown toxicity")


def ae_complete_from_args(args: argparse.Namespace, cohort) -> tuple[str, ...]:
    """The ``--ae-complete`` sources, each checked against the file's sources (UsageError otherwise)."""
    bad = unknown_sources(cohort.data, args.ae_complete)
    if bad:
        sources = sorted({str(v) for v in cohort.data.get(schema.SOURCE, pd.Series(dtype=object)).dropna()})
        raise UsageError(f"--ae-complete '{bad[0]}' is not a source of this file (sources: "
                         f"{', '.join(sources) or 'none, no source column'}; '*' = every patient).")
    return tuple(args.ae_complete)
