"""Pseudonyms: the file's patient ids replaced by "row N" (N = the patient's line in the file).

:func:`pseudonymise` is applied once, where the data enter (the dashboard's frame, ``build_report``),
before any analysis or view is made: every table, figure, hover text, note, download and report then
shows pseudonyms without knowing about them. It replaces the ids of the analysed patients, of the
excluded rows (whose direct-identifier columns it drops) and of the adverse-event table, and rebuilds
every validation message and load note that names a patient from the text around the ids
(:func:`il2lib.notes.compose`), so an id is replaced whether a message shows it whole or cut short.

An id on several rows of the file names no single patient: messages show it as :data:`WITHHELD`, as
they do an id the patient file does not hold (an adverse-event row of an unknown patient).
Pure functions: the inputs are left unchanged, and pseudonymising twice changes nothing.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

import pandas as pd

from il2lib import schema
from il2lib.notes import Note, rebuild

WITHHELD = "(id withheld)"

__all__ = ["WITHHELD", "pseudonymise", "pseudonym_map", "row_pseudonyms"]


def row_pseudonyms(data: pd.DataFrame) -> pd.Series:
    """``"row N"`` for each row of a patient frame, N from ``file_row`` (a registry selection without it:
    the 1-based position in the frame); missing ids stay missing."""
    rows = data[schema.FILE_ROW] if schema.FILE_ROW in data else pd.Series(range(1, len(data) + 1), index=data.index)
    names = ("row " + rows.astype("int64").astype(str)).astype(object)
    return names.where(data[schema.PATIENT_ID].notna(), None) if schema.PATIENT_ID in data else names


def _id_column(cohort) -> str | None:
    """The file column holding the patient ids (as mapped when the file was read)."""
    return next((k for k, v in cohort.report.mapping.items() if v == schema.PATIENT_ID), None)


def pseudonym_map(cohort) -> dict[str, str]:
    """id -> ``"row N"`` for every id on exactly one row of the patient file (analysed or excluded)."""
    pairs = []
    data = cohort.data
    if schema.PATIENT_ID in data and len(data):
        pairs.append(pd.DataFrame({"id": data[schema.PATIENT_ID], "name": row_pseudonyms(data)}))
    found = [(f.patient_id, f"row {int(f.file_row)}") for f in cohort.report.findings
             if f.patient_id is not None and f.file_row is not None]
    if found:
        pairs.append(pd.DataFrame(found, columns=["id", "name"]))
    excluded, id_column = cohort.excluded, _id_column(cohort)
    if excluded is not None and id_column in getattr(excluded, "columns", ()) and len(excluded):
        ids = excluded[id_column].astype(object).where(excluded[id_column].notna(), None)
        pairs.append(pd.DataFrame({"id": [None if v is None else str(v).strip() or None for v in ids],
                                   "name": ["row " + str(int(r)) for r in excluded[schema.FILE_ROW]]}))
    if not pairs:
        return {}
    table = pd.concat(pairs, ignore_index=True).dropna()
    table = table.assign(id=table["id"].astype(str)).drop_duplicates()
    single = table[~table["id"].duplicated(keep=False)]
    return dict(zip(single["id"], single["name"]))


def _finding(finding, names: Mapping[str, str], own_row: bool):
    """A finding naming pseudonyms: ``patient_id`` the row's own (patient file) or the patient's (AE table)."""
    changes: dict[str, Any] = {}
    if finding.patient_id is not None:
        changes["patient_id"] = (f"row {int(finding.file_row)}" if own_row and finding.file_row is not None
                                 else names.get(str(finding.patient_id), WITHHELD))
    if finding.named_ids:
        changes["message"] = rebuild(finding.text_parts, finding.named_ids, names, WITHHELD)
        changes["named_ids"] = tuple(names.get(p, WITHHELD) for p in finding.named_ids)
    if finding.value is not None and finding.column == schema.PATIENT_ID:
        changes["value"] = names.get(str(finding.value), WITHHELD)
    return dataclasses.replace(finding, **changes) if changes else finding


def _notes(notes: Iterable, names: Mapping[str, str]) -> tuple:
    return tuple(n.renamed(names, WITHHELD) if isinstance(n, Note) else n for n in notes)


def _report(report, names: Mapping[str, str], own_row: bool):
    return dataclasses.replace(report, findings=tuple(_finding(f, names, own_row) for f in report.findings),
                               conversions=_notes(report.conversions, names))


def _excluded(cohort, report) -> pd.DataFrame:
    """The excluded rows without direct-identifier columns, the id as the row's pseudonym, reasons rebuilt."""
    excluded = cohort.excluded
    if excluded is None or not len(getattr(excluded, "columns", ())):
        return excluded
    id_column = _id_column(cohort)
    if id_column not in excluded.columns:  # the ids cannot be told from other columns: keep row and reasons
        return excluded[[c for c in (schema.FILE_ROW, "reasons") if c in excluded.columns]].copy()
    out = excluded.drop(columns=[c for c in cohort.report.identifier_columns if c in excluded.columns])
    given = out[id_column].notna() & (out[id_column].astype(str).str.strip() != "")
    out[id_column] = ["row " + str(int(r)) if g else v for r, g, v in zip(out[schema.FILE_ROW], given, out[id_column])]
    reasons: dict[int, list[str]] = {}
    for f in report.findings:
        if f.level == "row_error" and f.file_row is not None:
            reasons.setdefault(int(f.file_row), []).append(f.message)
    if "reasons" in out.columns:
        out["reasons"] = ["; ".join(reasons[int(r)]) if int(r) in reasons else why
                          for r, why in zip(out[schema.FILE_ROW], out["reasons"])]
    return out


def _adverse_events(ae, names: Mapping[str, str]):
    data = ae.data
    if schema.AE_PATIENT_ID in data:
        ids = data[schema.AE_PATIENT_ID]
        renamed = ids.astype(str).map(names).fillna(WITHHELD).astype(object).where(ids.notna(), None)
        data = data.assign(**{schema.AE_PATIENT_ID: renamed})
    return dataclasses.replace(ae, data=data, report=_report(ae.report, names, own_row=False))


def pseudonymise(cohort, ae=None) -> tuple[Any, Any]:
    """``(cohort, ae)`` with every patient id of the file replaced by its ``"row N"`` pseudonym.

    Parameters
    ----------
    cohort : il2lib.validation.patients.Cohort
    ae : il2lib.validation.adverse_events.AdverseEvents, optional
        Loaded against ``cohort``; its ids take the pseudonyms of the patient file.

    Returns
    -------
    (Cohort, AdverseEvents or None)
        New objects; ``data`` keeps every column but ``patient_id`` unchanged.
    """
    names = pseudonym_map(cohort)
    data = cohort.data
    if schema.PATIENT_ID in data:
        data = data.assign(**{schema.PATIENT_ID: row_pseudonyms(data)})
    report = _report(cohort.report, names, own_row=True)
    hidden = dataclasses.replace(cohort, data=data, report=report, excluded=_excluded(cohort, report))
    return hidden, (None if ae is None else _adverse_events(ae, names))
