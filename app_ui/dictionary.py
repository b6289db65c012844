"""The downloadable template CSV and data dictionary, generated from :mod:`il2lib.schema`."""
from __future__ import annotations

import csv
import io

from il2lib import schema


def template_csv() -> bytes:
    """A header-only CSV with every column of the patient file, in dictionary order."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([spec.name for spec in schema.PATIENT_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def dictionary_rows(columns: tuple[schema.ColumnSpec, ...] = schema.PATIENT_COLUMNS) -> list[dict[str, str]]:
    """One row per column: name, label, type, required, unit, allowed values, synonyms, notes."""
    rows = []
    for spec in columns:
        rows.append({
            "column": spec.name, "label": spec.label, "type": spec.kind, "required": spec.required,
            "unit": spec.unit, "allowed_values": " / ".join(spec.allowed),
            "accepted_names": ", ".join(spec.synonyms),
            "range": "" if spec.hard is None else f"{spec.hard[0]:g} to {spec.hard[1]:g}",
            "description": spec.description,
        })
    return rows


def dictionary_csv() -> bytes:
    """The data dictionary of the patient file and of the optional adverse-event table, as CSV."""
    buffer = io.StringIO()
    rows = [{"table": "patient", **r} for r in dictionary_rows()] + \
        [{"table": "adverse_events", **r} for r in dictionary_rows(schema.AE_COLUMNS)]
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
