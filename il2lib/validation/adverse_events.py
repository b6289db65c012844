"""Load and validate the optional long-format adverse-event (AE) table (docs/domain.md section 3)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.notes import SHORT_LIMIT, PatientRef, short
from il2lib.validation import ae_vocabulary, coerce
from il2lib.validation.mapping import accepted_names, resolve_mapping
from il2lib.validation.patients import Cohort, ValidationReport, build_report, coerce_columns, rows_and_report
from il2lib.validation.read import RawTable, read_table
from il2lib.validation.rules import Collector

_AE_DTYPES = {"date": "datetime64[ns]", "bool": "boolean", "int": "Int64", "string": object}


@dataclass(frozen=True)
class AdverseEvents:
    """Validated AE rows (one row per event, ``file_row`` first) and their report."""

    data: pd.DataFrame
    report: ValidationReport


def _empty_ae_frame() -> pd.DataFrame:
    columns = {schema.FILE_ROW: pd.Series(dtype="int64")}
    columns.update({s.name: pd.Series(dtype=_AE_DTYPES.get(s.kind, object)) for s in schema.AE_COLUMNS})
    return pd.DataFrame(columns)


def load_adverse_events(source: Any, cohort: Cohort | None = None, mapping: Mapping[str, str | None] | None = None,
                        *, sheet: str | int | None = None, today: dt.date | None = None) -> AdverseEvents:
    """Read and validate an AE table; with ``cohort``, check it against the analysed patients.

    Rules: required columns patient_id, ae_term, ctcae_grade (file error when missing); grade an
    integer 1-5; patient_id present among the cohort's analysed patients; onset_date not before
    date_il2_start; a grade-5 AE needs died = Yes (all row errors). ``ae_term`` spellings are merged
    ignoring case, spaces and punctuation, to the CTCAE v5 term (synonyms too: Vitiligo -> Skin
    hypopigmentation) or else the first spelling (:mod:`il2lib.validation.ae_vocabulary`; the merges are listed
    in ``conversions`` and the typed term kept in ``ae_term_as_entered``); a missing
    ``immune_related`` is filled from :data:`schema.IMMUNE_RELATED_TERMS` and said so in
    ``conversions``. ``attribution`` (CTEP scale) becomes related / unrelated / missing (unknown).
    With ``cohort``, warnings: a worst AE-row grade that differs from ``max_ctcae_grade``, and the
    patients without any AE row (by source).

    Raises
    ------
    CohortFileError
        The source is not a table at all.
    """
    return validate_adverse_events(read_table(source, sheet=sheet), cohort, mapping, today=today)


def validate_adverse_events(raw: RawTable, cohort: Cohort | None = None,
                            mapping: Mapping[str, str | None] | None = None, *,
                            today: dt.date | None = None) -> AdverseEvents:
    """The rules of :func:`load_adverse_events` on a table already read (findings name its ``file_rows``)."""
    frame = raw.frame
    c = Collector(raw.file_rows, None, frame, prefix="AE row")
    resolved, problems = resolve_mapping(list(frame.columns), mapping, table="ae")
    for problem in problems:
        c.add("warning", problem)
    for name in schema.AE_REQUIRED_COLUMNS:
        if name not in resolved.values():
            c.add("file_error", f"Missing required column '{name}' (accepted names: "
                  f"{accepted_names(name, table='ae')}).", column=name)
    unmapped = tuple(col for col in frame.columns if col not in resolved)
    conversions: list[str] = []
    if any(f.level == "file_error" for f in c.findings):
        return AdverseEvents(_empty_ae_frame(), build_report(len(frame), 0, c, resolved, unmapped, (), conversions))
    t = coerce_columns(c, frame, resolved, {}, raw.decimal_comma, conversions, today, specs=schema.AE_COLUMN_SPECS)
    _ae_rules(c, t, cohort, conversions, {v: k for k, v in resolved.items()})
    return AdverseEvents(*rows_and_report(c, t, raw, resolved, unmapped, (), conversions))


def _ae_rules(c: Collector, t: pd.DataFrame, cohort: Cohort | None, conversions: list[str],
              raw_names: dict[str, str]) -> None:
    for name in (schema.AE_PATIENT_ID, schema.AE_TERM):
        c.rows("row_error", t[name].isna(), "{row}: '" + name + "' is empty.", name)
    entered = t[schema.AE_TERM]
    t[schema.AE_TERM], merges = ae_vocabulary.canonical_terms(entered)
    if merges:
        t[schema.AE_TERM_ENTERED] = entered
        conversions.append("AE terms merged (case, spacing and punctuation ignored; CTCAE v5 spelling where "
                           "one exists, else the first spelling): " + ae_vocabulary.merge_text(merges) + ".")
    if schema.AE_ATTRIBUTION in t.columns:
        t[schema.AE_ATTRIBUTION], unrecognised = ae_vocabulary.attribution(t[schema.AE_ATTRIBUTION])
        c.rows("warning", unrecognised, "{row}: attribution '{value}' not recognised (CTEP scale: definite, "
               "probable, possible = related; unlikely, unrelated = unrelated); counted as unknown.",
               schema.AE_ATTRIBUTION, raw_column=raw_names[schema.AE_ATTRIBUTION])
    # an unreadable grade is a row error here, not the generic "treated as missing" warning
    c.findings[:] = [f for f in c.findings if not (f.column == schema.AE_GRADE and f.level == "warning")]
    grade, raw_grade = t[schema.AE_GRADE], c.raw[raw_names[schema.AE_GRADE]].str.strip()
    empty = coerce.missing_mask(raw_grade)
    c.rows("row_error", empty, "{row}: 'ctcae_grade' is empty.", schema.AE_GRADE)
    c.rows("row_error", ~empty & (grade.isna() | (grade < 1) | (grade > 5)).fillna(True),
           "{row}: ctcae_grade '{value}' outside 1–5.", schema.AE_GRADE, raw_column=raw_names[schema.AE_GRADE])
    if schema.AE_IMMUNE not in t.columns or t[schema.AE_IMMUNE].isna().any():
        inferred = ae_vocabulary.is_immune_related(t[schema.AE_TERM]).astype("boolean")
        inferred[t[schema.AE_TERM].isna().to_numpy()] = pd.NA
        current = t[schema.AE_IMMUNE] if schema.AE_IMMUNE in t.columns else pd.Series(pd.NA, index=t.index,
                                                                                     dtype="boolean")
        n = int((current.isna() & inferred.notna()).sum())
        t[schema.AE_IMMUNE] = current.fillna(inferred).astype("boolean")
        if n:
            conversions.append(f"immune_related filled for {n:,} AE row(s) from the CTCAE term "
                               f"({', '.join(schema.IMMUNE_RELATED_TERMS[:4])}, ...).")
    if cohort is not None:
        _against_cohort(c, t, cohort)


def _against_cohort(c: Collector, t: pd.DataFrame, cohort: Cohort) -> None:
    patients = cohort.data.set_index(schema.PATIENT_ID) if len(cohort.data) else None
    known_ids = set(cohort.data[schema.PATIENT_ID].astype(str)) if len(cohort.data) else set()
    id_column = next((k for k, v in cohort.report.mapping.items() if v == schema.PATIENT_ID), None)
    excluded_ids = set()
    if id_column in cohort.excluded.columns:
        excluded_ids = set(cohort.excluded[id_column].astype(str).str.strip())
    pid = t[schema.AE_PATIENT_ID]
    unknown = pid.notna() & ~pid.isin(known_ids)
    was_excluded = unknown & pid.isin(excluded_ids)
    c.rows("row_error", was_excluded, "{row}: patient_id '{pid}' was excluded from the patient file.",
           schema.AE_PATIENT_ID)
    c.rows("row_error", unknown & ~was_excluded, "{row}: patient_id '{pid}' is not in the patient file.",
           schema.AE_PATIENT_ID)
    if patients is None:
        return
    start = pid.map(patients[schema.DATE_IL2_START]) if schema.DATE_IL2_START in patients else None
    if start is not None and schema.AE_ONSET in t.columns:
        start = pd.to_datetime(start)
        c.rows("row_error", t[schema.AE_ONSET] < start, "{row}: onset_date ({o}) precedes date_il2_start ({s}).",
               schema.AE_ONSET, o=t[schema.AE_ONSET], s=start)
    died = pid.map(patients[schema.DIED]) if schema.DIED in patients else None
    if died is not None:
        bad = (t[schema.AE_GRADE] == 5).fillna(False) & died.eq(False).fillna(False)
        for pos in np.flatnonzero(bad.to_numpy()):
            c.row("row_error", pos, ["Patient ", PatientRef(pid.iat[pos], SHORT_LIMIT),
                                     " has a grade-5 AE but died=No."], schema.AE_GRADE, "5")
    usable = np.ones(len(t), dtype=bool)
    usable[list(c.reasons)] = False
    usable &= (pid.notna() & t[schema.AE_GRADE].notna()).to_numpy()
    _grade_mismatch(c, t, pid, usable, patients)
    _coverage(c, set(pid[usable]), patients)


def _grade_mismatch(c: Collector, t: pd.DataFrame, pid: pd.Series, usable: np.ndarray, patients: pd.DataFrame) -> None:
    """Warning per patient whose worst AE-row grade differs from the patient file's max_ctcae_grade."""
    if schema.MAX_CTCAE not in patients.columns or not usable.any():
        return
    rows = pd.DataFrame({"pid": pid.to_numpy(object), "grade": pd.to_numeric(t[schema.AE_GRADE]).to_numpy(float)})
    rows = rows[usable]
    worst_pos = rows.groupby("pid")["grade"].idxmax()
    stated = pd.to_numeric(patients[schema.MAX_CTCAE]).reindex(worst_pos.index)
    for patient, pos in worst_pos.items():
        worst, given = rows.at[pos, "grade"], stated.get(patient)
        if pd.notna(given) and worst != given:
            c.row("warning", int(pos), [f"{c.label(int(pos))} (patient_id=", PatientRef(patient, SHORT_LIMIT),
                                        f"): worst AE grade {int(worst)} but max_ctcae_grade = {int(given)} in the "
                                        "patient file; toxicity counts the higher grade."], schema.AE_GRADE,
                  str(int(worst)))


def _coverage(c: Collector, covered: set, patients: pd.DataFrame) -> None:
    """One warning when patients of the cohort have no AE row (their toxicity may be unknown)."""
    missing = patients.index[~patients.index.astype(str).isin(covered)]
    if not len(missing):
        return
    text = f"{len(missing):,} of {len(patients):,} patients have no AE row"
    if schema.SOURCE in patients.columns:
        counts = patients.loc[missing, schema.SOURCE].fillna("no source").astype(str).value_counts(sort=False)
        text += " (" + ", ".join(f"{short(k)}: {n:,}" for k, n in counts.items()) + ")"
    with_grade = int(patients.loc[missing, schema.MAX_CTCAE].notna().sum()) if schema.MAX_CTCAE in patients else 0
    c.add("warning", text + f". Their toxicity is unknown unless max_ctcae_grade is given ({with_grade} of them "
          "have it) or the AE file is declared complete for their source.", column=schema.AE_PATIENT_ID)
