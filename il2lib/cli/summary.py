"""``python -m il2lib summary FILE [filters]``: patients loaded, analysed and excluded, and best response
with ORR (exact 95% CI) per disease."""
from __future__ import annotations

import argparse

import pandas as pd

from il2lib import schema
from il2lib.cli._common import add_filter_arguments, add_load_arguments, emit, load_filtered
from il2lib.cohort import CohortFilter
from il2lib.stats import proportion_ci


def _proportion(k: int, n: int) -> dict:
    if n == 0:
        return {"responders": 0, "n": 0, "rate": None, "ci95": None}
    ci = proportion_ci(k, n, "exact")
    lo, hi = float(ci.lower), float(ci.upper)
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


COMMANDS = [
    ("summary", "patients loaded/analysed/excluded and best response with ORR per disease",
     _add_summary, _run_summary),
]
