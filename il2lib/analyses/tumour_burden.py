"""Tumour burden (docs/domain.md "Optional tumour-burden data"): the long tumour-assessment table, its
validation, and per patient the baseline, the change of the target-lesion sum and the best change.

:func:`load_tumour_assessments` reads and validates the table (findings and counts as the adverse-event
loader's: ``n_loaded = n_analysed + n_excluded``); :func:`tumour_burden` chooses each patient's baseline
(the last assessment on or before ``date_il2_start``), computes change = (sum - baseline) / baseline and the
best change (the most negative post-baseline change up to ``date_progression``), and lists every row it
does not use with its reason, so that rows used + rows excluded (at load or here) + rows of patients not
analysed = rows read. Without a table, a per-patient ``best_pct_change`` column of the patient file is used.
:func:`recist_bor` derives the RECIST 1.1 best overall response from the assessments.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import group_labels, level_order
from il2lib.notes import SHORT_LIMIT, PatientRef, compose, short
from il2lib.validation import coerce
from il2lib.validation.mapping import is_identifier_column
from il2lib.validation.patients import Cohort, ValidationReport, build_report, coerce_columns, rows_and_report
from il2lib.validation.read import RawTable, read_table
from il2lib.validation.recist import duration_meets
from il2lib.validation.rules import Collector, Finding, fmt_value

__all__ = ["TumourAssessments", "TumourBurden", "load_tumour_assessments", "validate_assessments", "tumour_burden",
           "recist_bor", "PR_THRESHOLD", "PD_THRESHOLD"]

#: RECIST 1.1 thresholds (% change of the target sum): PR at -30% from baseline, PD at +20% from the nadir.
PR_THRESHOLD, PD_THRESHOLD = -30.0, 20.0
#: PD also needs an absolute increase of at least 5 mm over the nadir; CR and PR need confirmation >= 4 weeks later.
PD_MIN_MM, CONFIRM_DAYS = 5.0, 28
ANALYSIS = "tumour_burden"
PREFIX = "Assessment row"
ROW_COLUMNS = (schema.FILE_ROW, schema.PATIENT_ID, "reason")
_DTYPES = {"date": "datetime64[ns]", "bool": "boolean", "number": "float64", "string": object}


@dataclass(frozen=True)
class TumourAssessments:
    """Validated assessment rows (``file_row`` first) and their report (as
    :class:`il2lib.validation.adverse_events.AdverseEvents`: ``pseudonymise(cohort, assessments)`` renames both)."""

    data: pd.DataFrame
    report: ValidationReport

    @property
    def excluded(self) -> pd.DataFrame:
        """The rows excluded at load (``file_row``, ``patient_id``, ``reason``: every row error of the row), built
        from the report, so that pseudonyms given to the report reach it too."""
        if self.report.file_errors:
            reason = "; ".join(f.message for f in self.report.file_errors)
            return _rows_frame(np.arange(2, self.report.n_loaded + 2), [None] * self.report.n_loaded,
                               [reason] * self.report.n_loaded)
        reasons: dict[int, list[str]] = {}
        ids: dict[int, str | None] = {}
        for f in self.report.row_errors:
            reasons.setdefault(int(f.file_row), []).append(f.message)
            ids.setdefault(int(f.file_row), f.patient_id)
        rows = sorted(reasons)
        return _rows_frame(rows, [ids[r] for r in rows], ["; ".join(reasons[r]) for r in rows])


def _empty_frame() -> pd.DataFrame:
    columns = {schema.FILE_ROW: pd.Series(dtype="int64")}
    columns.update({s.name: pd.Series(dtype=_DTYPES[s.kind]) for s in schema.TUMOUR_COLUMNS})
    return pd.DataFrame(columns)


def _resolve(columns: list[str], user: Mapping[str, str | None] | None) -> tuple[dict[str, str], list[str]]:
    """File column -> schema column: the user's choices, then names and synonyms (:func:`schema.norm`); an
    identifier-looking column is never mapped to patient_id."""
    lookup: dict[str, str] = {}
    for spec in schema.TUMOUR_COLUMNS:
        for name in (spec.name, *spec.synonyms):
            lookup.setdefault(schema.norm(name), spec.name)
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for column, target in (user or {}).items():
        if not target:
            continue
        if column not in columns:
            problems.append(f"Mapping names column '{short(column)}', which is not in the file.")
        elif target not in schema.TUMOUR_COLUMN_SPECS:
            problems.append(f"Mapping target '{short(target)}' is not a column of the tumour-assessment table.")
        elif target == schema.PATIENT_ID and is_identifier_column(column):
            problems.append(f"Column '{short(column)}' looks like a direct identifier and cannot be used as "
                            "patient_id.")
        elif target not in chosen.values():
            chosen[column] = target
    for column in columns:
        target = lookup.get(schema.norm(column))
        if (column in (user or {}) or target is None or target in chosen.values()
                or is_identifier_column(column)):
            continue
        chosen[column] = target
    return {c: chosen[c] for c in columns if c in chosen}, problems


def _accepted(name: str) -> str:
    spec = schema.TUMOUR_COLUMN_SPECS[name]
    return ", ".join([name, *spec.synonyms])


def load_tumour_assessments(source: Any, cohort: Cohort | None = None,
                            mapping: Mapping[str, str | None] | None = None, *, sheet: str | int | None = None,
                            date_order: Mapping[str, str] | None = None,
                            today: dt.date | None = None) -> TumourAssessments:
    """Read and validate a long tumour-assessment table (one row per patient and assessment).

    ``source`` as for :func:`il2lib.load_cohort` (path, bytes, file-like) or a :class:`RawTable` already read
    (e.g. a REDCap repeating instrument). Rules: required columns ``patient_id``, ``assessment_date``,
    ``target_sum_mm`` (file error when missing, ``n_analysed = 0``); row errors: empty id, empty or unreadable
    date (format decided per column), empty, unreadable or negative target sum, unreadable ``new_lesions``, the
    same patient and date twice with different values (every copy; an identical repeat: the later copy), and
    with ``cohort``: a patient_id not among the analysed patients, an assessment after ``date_death``.
    Warnings: a target sum above 1,000 mm (kept), an identifier-looking column (not read).

    Raises
    ------
    CohortFileError
        The source is not a table at all.
    """
    raw = source if isinstance(source, RawTable) else read_table(source, sheet=sheet)
    return validate_assessments(raw, cohort, mapping, date_order=date_order, today=today)


def validate_assessments(raw: RawTable, cohort: Cohort | None = None, mapping: Mapping[str, str | None] | None = None,
                         *, date_order: Mapping[str, str] | None = None,
                         today: dt.date | None = None) -> TumourAssessments:
    """:func:`load_tumour_assessments` on a table already read."""
    frame = raw.frame
    c = Collector(raw.file_rows, None, frame, prefix=PREFIX)
    resolved, problems = _resolve(list(frame.columns), mapping)
    for problem in problems:
        c.add("warning", problem)
    unmapped = tuple(col for col in frame.columns if col not in resolved)
    identifiers = tuple(col for col in unmapped if is_identifier_column(col))
    for col in identifiers:
        c.add("warning", f"Column '{short(col)}' looks like a direct identifier; it is not read. Remove it from "
              "the file.", column=col)
    for name in schema.TUMOUR_REQUIRED_COLUMNS:
        if name not in resolved.values():
            c.add("file_error", f"Missing required column '{name}' (accepted names: {_accepted(name)}).",
                  column=name)
    conversions: list[str] = []
    if any(f.level == "file_error" for f in c.findings):
        return _blocked(raw, c, resolved, unmapped, identifiers, conversions)
    t = coerce_columns(c, frame, resolved, date_order or {}, raw.decimal_comma, conversions, today,
                       specs=schema.TUMOUR_COLUMN_SPECS)
    if any(f.level == "file_error" for f in c.findings):  # an ambiguous date column
        return _blocked(raw, c, resolved, unmapped, identifiers, conversions)
    if schema.NEW_LESIONS not in t.columns:
        t[schema.NEW_LESIONS] = pd.Series(pd.NA, index=t.index, dtype="boolean")
    _rules(c, t, {v: k for k, v in resolved.items()})
    if cohort is not None:
        _against_cohort(c, t, cohort)
    return TumourAssessments(*rows_and_report(c, t, raw, resolved, unmapped, identifiers, conversions,
                                              [s.name for s in schema.TUMOUR_COLUMNS]))


def _rows_frame(file_rows, ids, reasons) -> pd.DataFrame:
    return pd.DataFrame({schema.FILE_ROW: np.asarray(file_rows, dtype="int64"),
                         schema.PATIENT_ID: pd.Series(list(ids), dtype=object),
                         "reason": pd.Series(list(reasons), dtype=object)}, columns=list(ROW_COLUMNS))


def _blocked(raw, c, resolved, unmapped, identifiers, conversions) -> TumourAssessments:
    report = build_report(len(raw.frame), 0, c, resolved, unmapped, identifiers, conversions)
    return TumourAssessments(_empty_frame(), report)


def _rules(c: Collector, t: pd.DataFrame, raw_names: dict[str, str]) -> None:
    c.rows("row_error", t[schema.PATIENT_ID].isna(), "{row}: 'patient_id' is empty.", schema.PATIENT_ID)
    date_raw = c.raw[raw_names[schema.ASSESSMENT_DATE]].astype(str)
    c.rows("row_error", coerce.missing_mask(date_raw), "{rowid}: 'assessment_date' is empty.",
           schema.ASSESSMENT_DATE)
    # an unreadable sum is a row error here, not the generic "treated as missing" warning
    c.findings[:] = [f for f in c.findings if not (f.column == schema.TARGET_SUM and f.level == "warning")]
    raw_sum = c.raw[raw_names[schema.TARGET_SUM]].astype(str)
    total = t[schema.TARGET_SUM]
    empty = coerce.missing_mask(raw_sum)
    c.rows("row_error", empty, "{rowid}: 'target_sum_mm' is empty.", schema.TARGET_SUM)
    c.rows("row_error", ~empty & total.isna(), "{rowid}: target_sum_mm '{value}' is not a number.",
           schema.TARGET_SUM, raw_column=raw_names[schema.TARGET_SUM])
    c.rows("row_error", total < 0, "{rowid}: target_sum_mm {value} is negative; a sum of diameters is 0 or more.",
           schema.TARGET_SUM, raw_column=raw_names[schema.TARGET_SUM])
    lo, hi = schema.TUMOUR_COLUMN_SPECS[schema.TARGET_SUM].plausible
    c.rows("warning", total > hi, "{rowid}: target_sum_mm {value} is above " + f"{hi:,g}" + " mm; check the value "
           "(kept as entered).", schema.TARGET_SUM, raw_column=raw_names[schema.TARGET_SUM])
    _duplicates(c, t)


def _duplicates(c: Collector, t: pd.DataFrame) -> None:
    """Two rows of one patient on one date: identical values keep the first; different values exclude all."""
    usable = t[schema.PATIENT_ID].notna() & t[schema.ASSESSMENT_DATE].notna()
    key = t.loc[usable, [schema.PATIENT_ID, schema.ASSESSMENT_DATE]]
    repeated = key.duplicated(keep=False)
    if not repeated.any():
        return
    for _, group in t.loc[repeated[repeated].index].groupby([schema.PATIENT_ID, schema.ASSESSMENT_DATE], sort=False):
        positions = [t.index.get_loc(i) for i in group.index]
        rows = ", ".join(str(int(c.file_rows[p])) for p in positions)
        values = group[[schema.TARGET_SUM, schema.NEW_LESIONS]].astype(object).where(
            group[[schema.TARGET_SUM, schema.NEW_LESIONS]].notna(), None)
        same = len({tuple(v) for v in values.itertuples(index=False)}) == 1
        date = fmt_value(group[schema.ASSESSMENT_DATE].iat[0])
        for k, pos in enumerate(positions):
            if same and k == 0:
                continue
            why = (f"repeats {PREFIX.lower()} {int(c.file_rows[positions[0]])} (same patient, date and values)"
                   if same else f"the patient has {len(positions)} assessments on {date} with different values "
                                f"(rows {rows})")
            c.row("row_error", pos, [f"{c.label(pos)} (patient_id=", _pref(t[schema.PATIENT_ID].iat[pos]),
                                     f"): {why}."], schema.ASSESSMENT_DATE, date)


def _against_cohort(c: Collector, t: pd.DataFrame, cohort: Cohort) -> None:
    data = cohort.data
    known = set(data[schema.PATIENT_ID].astype(str)) if len(data) else set()
    id_column = next((k for k, v in cohort.report.mapping.items() if v == schema.PATIENT_ID), None)
    excluded_ids = set()
    if id_column in getattr(cohort.excluded, "columns", ()):
        excluded_ids = set(cohort.excluded[id_column].astype(str).str.strip())
    pid = t[schema.PATIENT_ID]
    unknown = pid.notna() & ~pid.isin(known)
    was_excluded = unknown & pid.isin(excluded_ids)
    c.rows("row_error", was_excluded, "{row}: patient_id '{pid}' was excluded from the patient file.",
           schema.PATIENT_ID)
    c.rows("row_error", unknown & ~was_excluded, "{row}: patient_id '{pid}' is not in the patient file.",
           schema.PATIENT_ID)
    if not len(data) or schema.DATE_DEATH not in data.columns:
        return
    death = pid.map(data.set_index(data[schema.PATIENT_ID].astype(str))[schema.DATE_DEATH])
    death = pd.to_datetime(death)
    c.rows("row_error", t[schema.ASSESSMENT_DATE] > death, "{rowid}: assessment_date ({a}) is after date_death "
           "({d}).", schema.ASSESSMENT_DATE, a=t[schema.ASSESSMENT_DATE], d=death)


# --------------------------------------------------------------------------------------------------------------
# Baseline, change and best change
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TumourBurden:
    """Per-patient best change and the per-assessment changes.

    ``patients``: one row per patient with a best change (the waterfall's bars): patient_id, bor, group,
    baseline_date, baseline_sum_mm, n_post_baseline, best_pct_change, best_date, new_lesions.
    ``changes``: the assessments used (baseline first): patient_id, file_row, assessment_date,
    months_since_il2, target_sum_mm, pct_change, new_lesions, is_baseline, after_progression, bor, group.
    ``excluded``: patients in scope without a best change (patient_id, reason). ``excluded_rows``: the table's
    rows not used (file_row, patient_id, reason), at load or here. ``source``: "assessments", "patient file"
    or None (no tumour data). Rows reconcile: ``n_rows_used + len(excluded_rows) + n_rows_other_patients ==
    n_rows_read``.
    """

    patients: pd.DataFrame
    changes: pd.DataFrame
    excluded: pd.DataFrame
    excluded_rows: pd.DataFrame
    findings: tuple[Finding, ...]
    source: str | None
    by: str | None
    groups: tuple[str, ...]
    n_in_scope: int
    n_rows_read: int = 0
    n_rows_used: int = 0
    n_rows_other_patients: int = 0

    @property
    def n(self) -> int:
        """Patients with a best change (bars of the waterfall)."""
        return len(self.patients)

    @property
    def n_without_baseline(self) -> int:
        return int(self.excluded["reason"].astype(str).str.startswith("no baseline").sum()) if len(self.excluded) \
            else 0

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    def to_frame(self) -> pd.DataFrame:
        """One row per patient in scope: the per-patient values, then the patients left out with ``reason``."""
        left = self.excluded.rename(columns={"reason": "reason_left_out"})
        return pd.concat([self.patients.assign(reason_left_out=None), left], ignore_index=True)

    def statement(self) -> str:
        """``"Tumour change: 40 of 57 patients; left out: 6 (no baseline ...), 11 (...)."``"""
        text = f"Tumour change: {self.n} of {self.n_in_scope} patients"
        if not len(self.excluded):
            return text + "."
        counts = self.excluded.groupby("reason", sort=False).size()
        return text + "; left out: " + "; ".join(f"{n} ({r})" for r, n in counts.items()) + "."


_PATIENT_COLUMNS = (schema.PATIENT_ID, schema.BOR, "group", schema.BASELINE_DATE, schema.BASELINE_SUM,
                    "n_post_baseline", schema.BEST_PCT_CHANGE, "best_date", schema.NEW_LESIONS)
_CHANGE_COLUMNS = (schema.PATIENT_ID, schema.FILE_ROW, schema.ASSESSMENT_DATE, schema.MONTHS_SINCE_IL2,
                   schema.TARGET_SUM, schema.PCT_CHANGE, schema.NEW_LESIONS, "is_baseline", "after_progression",
                   schema.BOR, "group")
NO_BASELINE = "no baseline (no assessment on or before the IL-2 start)"
NO_START = "no date_il2_start"
ZERO_BASELINE = "baseline target sum is 0 mm (no measurable disease)"
NO_FOLLOW_UP = "no assessment after the baseline"
NO_VALUE = "no best_pct_change"
NO_DATA = "no tumour-assessment data"


def _patient_frame(patients: Any) -> pd.DataFrame:
    data = patients.data if isinstance(patients, Cohort) else patients
    return data.reset_index(drop=True)


def _finding(level: str, message: list, file_row: int | None, pid: str | None, column: str | None = None,
             value: str | None = None) -> Finding:
    text, parts, named = compose(*message)
    return Finding(level, text, column, None if file_row is None else int(file_row),
                   None if pid is None else str(pid), value, ANALYSIS, parts, named)


def _pref(pid) -> PatientRef:
    return PatientRef(str(pid), SHORT_LIMIT)


def tumour_burden(assessments: TumourAssessments | pd.DataFrame | None, patients: Cohort | pd.DataFrame, *,
                  by: str | None = None) -> TumourBurden:
    """Baseline, changes and best change of each patient of ``patients`` (a cohort or its filtered frame).

    With ``assessments`` (a :class:`TumourAssessments` or its ``data``): baseline = the last assessment on or before
    ``date_il2_start`` (a warning when more than :data:`schema.BASELINE_MAX_DAYS` days before); earlier rows are
    not used (a warning each); a patient without a baseline, with a baseline sum of 0 or without a later
    assessment is left out with the reason. Change = (sum - baseline) / baseline x 100; best change = the most
    negative change of the assessments after the baseline up to ``date_progression`` (all of them without
    progression); ``new_lesions`` = any new lesion in those assessments. Without assessments, the patient
    file's ``best_pct_change`` (name or synonym; %) is used. Warnings: best change <= -30% with BOR PD, >= +20%
    with BOR PR or CR. ``by``: a grouping column of ``patients`` (labels as the other analyses'; a patient whose
    group is missing is left out).
    """
    frame = _patient_frame(patients)
    ids = frame[schema.PATIENT_ID].astype(str) if len(frame) else pd.Series(dtype=object)
    labels = group_labels(frame, by) if len(frame) else pd.Series(dtype=object)
    info = pd.DataFrame({schema.PATIENT_ID: ids.to_numpy(object),
                         schema.BOR: frame.get(schema.BOR, pd.Series(None, index=frame.index)).to_numpy(object),
                         "group": labels.to_numpy(object),
                         "start": _dates(frame, schema.DATE_IL2_START),
                         "progression": _dates(frame, schema.DATE_PROGRESSION),
                         schema.FILE_ROW: frame.get(schema.FILE_ROW, pd.Series(np.nan, index=frame.index))
                         .to_numpy()})
    info = info.drop_duplicates(schema.PATIENT_ID).set_index(schema.PATIENT_ID, drop=False)
    if isinstance(assessments, TumourAssessments):
        table, load_excluded, n_read = assessments.data, assessments.excluded, assessments.report.n_loaded
    elif isinstance(assessments, pd.DataFrame):
        table, load_excluded, n_read = assessments, _rows_frame([], [], []), len(assessments)
    else:
        table, load_excluded, n_read = None, _rows_frame([], [], []), 0
    if table is not None:
        result = _from_assessments(table, info, n_read, load_excluded)
    else:
        result = _from_column(frame, info)
    result = _grouped(result, info, by)
    return result


def _dates(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.to_datetime(frame[name], errors="coerce").to_numpy("datetime64[ns]")


def _grouped(result: TumourBurden, info: pd.DataFrame, by: str | None) -> TumourBurden:
    groups = tuple(level_order(by, info["group"])) if by is not None else ()
    if by is None or not len(result.patients):
        return dataclasses.replace(result, by=by, groups=groups)
    missing = result.patients["group"].isna().to_numpy()
    if not missing.any():
        return dataclasses.replace(result, by=by, groups=groups)
    left = pd.DataFrame({schema.PATIENT_ID: result.patients.loc[missing, schema.PATIENT_ID].to_numpy(object),
                         "reason": f"{schema.label(by)} missing"})
    kept = result.patients.loc[~missing].reset_index(drop=True)
    changes = result.changes[result.changes[schema.PATIENT_ID].isin(kept[schema.PATIENT_ID])].reset_index(drop=True)
    return dataclasses.replace(result, patients=kept, changes=changes,
                               excluded=pd.concat([result.excluded, left], ignore_index=True), by=by, groups=groups)


def _from_assessments(table: pd.DataFrame, info: pd.DataFrame, n_read: int,
                      load_excluded: pd.DataFrame) -> TumourBurden:
    """Vectorised over rows; findings are built only for the rows and patients they name."""
    t = table.copy()
    t[schema.PATIENT_ID] = t[schema.PATIENT_ID].astype(str)
    if schema.NEW_LESIONS not in t.columns:
        t[schema.NEW_LESIONS] = pd.Series(pd.NA, index=t.index, dtype="boolean")
    if schema.FILE_ROW not in t.columns:
        t[schema.FILE_ROW] = np.arange(2, len(t) + 2)
    in_scope = t[schema.PATIENT_ID].isin(info.index)
    n_other = int((~in_scope).sum())
    t = t[in_scope].copy()
    t[schema.ASSESSMENT_DATE] = pd.to_datetime(t[schema.ASSESSMENT_DATE]).astype("datetime64[ns]")
    t[schema.FILE_ROW] = t[schema.FILE_ROW].astype("int64")
    t[schema.TARGET_SUM] = t[schema.TARGET_SUM].astype(float)
    t[schema.NEW_LESIONS] = t[schema.NEW_LESIONS].astype("boolean")
    t = t.sort_values([schema.PATIENT_ID, schema.ASSESSMENT_DATE, schema.FILE_ROW], kind="stable")
    t = t.reset_index(drop=True)
    pid = t[schema.PATIENT_ID]
    patient = info.loc[pid.to_numpy()]
    start = pd.Series(patient["start"].to_numpy("datetime64[ns]"), index=t.index)
    progression = pd.Series(patient["progression"].to_numpy("datetime64[ns]"), index=t.index)
    date = t[schema.ASSESSMENT_DATE]
    k = t.groupby(schema.PATIENT_ID, sort=False).cumcount()
    before = (date <= start).to_numpy()
    base_k = pd.Series(np.where(before, k, -1), index=t.index).groupby(pid, sort=False).transform("max")
    no_start = start.isna().to_numpy()
    no_base = ~no_start & (base_k < 0).to_numpy()
    has_base = ~no_start & ~no_base
    is_base = has_base & (k == base_k).to_numpy()
    base_pos = pd.Series(np.where(is_base, np.arange(len(t)), -1), index=t.index).groupby(pid, sort=False) \
        .transform("max").to_numpy()
    pre = has_base & (k < base_k).to_numpy()
    base_sum = np.where(has_base, t[schema.TARGET_SUM].to_numpy()[np.maximum(base_pos, 0)], np.nan)
    zero = has_base & (base_sum == 0)
    used = has_base & ~pre & ~zero
    findings: list[Finding] = []
    excluded_rows = [load_excluded[list(ROW_COLUMNS)]] if len(load_excluded) else []
    reasons = np.full(len(t), None, dtype=object)
    reasons[no_start] = NO_START
    reasons[no_base] = NO_BASELINE
    reasons[zero & ~pre] = ZERO_BASELINE
    rows = t[schema.FILE_ROW].to_numpy()
    base_row = np.where(has_base, rows[np.maximum(base_pos, 0)], 0)
    base_date = date.to_numpy()[np.maximum(base_pos, 0)]
    for i in np.flatnonzero(pre):
        when = fmt_value(pd.Timestamp(base_date[i]))
        why = f"before the baseline assessment ({PREFIX.lower()} {base_row[i]}, {when})"
        reasons[i] = why
        findings.append(_finding("warning", [f"{PREFIX} {rows[i]} (patient_id=", _pref(pid.iat[i]),
                                             f"): assessment_date {fmt_value(date.iat[i])} is {why}; not used."],
                                 int(rows[i]), pid.iat[i], schema.ASSESSMENT_DATE, fmt_value(date.iat[i])))
    first = ~pid.duplicated().to_numpy()
    counts = pid.map(pid.value_counts()).to_numpy()
    for i in np.flatnonzero(no_base & first):
        findings.append(_finding("warning", ["Patient ", _pref(pid.iat[i]), f": no assessment on or before "
                                             f"date_il2_start ({fmt_value(start.iat[i])}), so no baseline; the "
                                             f"{counts[i]} assessment row(s) (first: {PREFIX.lower()} {rows[i]}) "
                                             "are not used and the patient is left out of the waterfall and spider "
                                             "plots."], int(rows[i]), pid.iat[i], schema.ASSESSMENT_DATE))
    days_before = ((start - date) / np.timedelta64(1, "D")).to_numpy()
    for i in np.flatnonzero(is_base & (days_before > schema.BASELINE_MAX_DAYS)):
        findings.append(_finding("warning", [f"{PREFIX} {rows[i]} (patient_id=", _pref(pid.iat[i]),
                                             f"): the baseline assessment ({fmt_value(date.iat[i])}) is "
                                             f"{int(days_before[i])} days before date_il2_start (more than "
                                             f"{schema.BASELINE_MAX_DAYS})."], int(rows[i]), pid.iat[i],
                                 schema.ASSESSMENT_DATE, fmt_value(date.iat[i])))
    for i in np.flatnonzero(zero & is_base):
        findings.append(_finding("warning", [f"{PREFIX} {rows[i]} (patient_id=", _pref(pid.iat[i]),
                                             "): the baseline target sum is 0 mm; change from baseline is not "
                                             "defined and the patient is left out."], int(rows[i]), pid.iat[i],
                                 schema.TARGET_SUM, "0"))
    out = np.flatnonzero(reasons != None)  # noqa: E711
    if len(out):
        excluded_rows.append(_rows_frame(rows[out], pid.to_numpy(object)[out], reasons[out]))
    u = t[used].copy()
    pct = (u[schema.TARGET_SUM].to_numpy() - base_sum[used]) / base_sum[used] * 100.0
    after = (u[schema.ASSESSMENT_DATE] > progression[used]).to_numpy()
    months = ((u[schema.ASSESSMENT_DATE] - start[used]) / np.timedelta64(1, "D")).to_numpy() / schema.DAYS_PER_MONTH
    u_patient = info.loc[u[schema.PATIENT_ID].to_numpy()]
    change = pd.DataFrame({
        schema.PATIENT_ID: u[schema.PATIENT_ID].to_numpy(object), schema.FILE_ROW: u[schema.FILE_ROW].to_numpy(),
        schema.ASSESSMENT_DATE: u[schema.ASSESSMENT_DATE].to_numpy(), schema.MONTHS_SINCE_IL2: months,
        schema.TARGET_SUM: u[schema.TARGET_SUM].to_numpy(), schema.PCT_CHANGE: pct,
        schema.NEW_LESIONS: u[schema.NEW_LESIONS].array, "is_baseline": is_base[used], "after_progression": after,
        schema.BOR: u_patient[schema.BOR].to_numpy(object), "group": u_patient["group"].to_numpy(object)})
    window = change[~change["is_baseline"] & ~change["after_progression"]]
    grouped = window.groupby(schema.PATIENT_ID, sort=False)
    best = window.loc[grouped[schema.PCT_CHANGE].idxmin()]
    new = window[schema.NEW_LESIONS]
    any_new = new.fillna(False).astype(bool).groupby(window[schema.PATIENT_ID], sort=False).any()
    any_known = new.notna().groupby(window[schema.PATIENT_ID], sort=False).any()
    lesions = pd.Series(any_new, dtype="boolean").where(any_known, pd.NA)
    base_of = change[change["is_baseline"]].set_index(schema.PATIENT_ID)
    ids = best[schema.PATIENT_ID].to_numpy(object)
    bars = pd.DataFrame({schema.PATIENT_ID: ids, schema.BOR: best[schema.BOR].to_numpy(object),
                         "group": best["group"].to_numpy(object),
                         schema.BASELINE_DATE: base_of.loc[ids, schema.ASSESSMENT_DATE].to_numpy(),
                         schema.BASELINE_SUM: base_of.loc[ids, schema.TARGET_SUM].to_numpy(),
                         "n_post_baseline": grouped.size().loc[ids].to_numpy(),
                         schema.BEST_PCT_CHANGE: best[schema.PCT_CHANGE].to_numpy(),
                         "best_date": best[schema.ASSESSMENT_DATE].to_numpy(),
                         schema.NEW_LESIONS: lesions.loc[ids].to_numpy()})
    reason_of = pd.Series(reasons, index=pid.to_numpy(object))
    reason_of = reason_of[~reason_of.index.duplicated(keep="last")]
    left = []
    with_rows = set(pid)
    shown = set(ids)
    for p in info.index:
        if p not in with_rows:
            left.append((p, NO_DATA))
        elif p in shown:
            continue
        elif reason_of.get(p) in (NO_START, NO_BASELINE, ZERO_BASELINE):
            left.append((p, reason_of.get(p)))
        else:
            left.append((p, NO_FOLLOW_UP))
    return _assemble(bars, change, left, excluded_rows, findings, "assessments", info, n_read, int(used.sum()),
                     n_other)


def _from_column(frame: pd.DataFrame, info: pd.DataFrame) -> TumourBurden:
    names = {schema.norm(n) for n in (schema.BEST_PCT_CHANGE, *schema.BEST_PCT_CHANGE_SPEC.synonyms)}
    column = next((col for col in frame.columns if schema.norm(col) in names), None)
    findings: list[Finding] = []
    if column is None:
        left = [(pid, NO_DATA) for pid in info.index]
        return _assemble([], None, left, [], findings, None, info, 0, 0, 0)
    text = frame[column].astype(object).where(frame[column].notna(), "").astype(str).str.strip()
    missing = coerce.missing_mask(text)
    values = pd.to_numeric(text.str.rstrip("%").str.strip().where(~missing, None), errors="coerce")
    lo, hi = schema.BEST_PCT_CHANGE_SPEC.hard
    bars, left = [], []
    for k, pid in enumerate(frame[schema.PATIENT_ID].astype(str)):
        if pid not in info.index or any(p == pid for p, *_ in bars):
            continue
        row, value = info.loc[pid], values.iat[k]
        file_row = None if pd.isna(row[schema.FILE_ROW]) else int(row[schema.FILE_ROW])
        if missing.iat[k]:
            left.append((pid, NO_VALUE))
            continue
        if pd.isna(value) or not lo <= value <= hi:
            why = "is not a number" if pd.isna(value) else f"is outside {lo:g} to {hi:,g}%"
            left.append((pid, "best_pct_change not usable"))
            findings.append(_finding("warning", [f"Row {file_row} (patient_id=", _pref(pid),
                                                 f"): best_pct_change '{short(text.iat[k])}' {why}; left out of the "
                                                 "waterfall."], file_row, pid, schema.BEST_PCT_CHANGE,
                                     short(text.iat[k])))
            continue
        bars.append((pid, row[schema.BOR], row["group"], pd.NaT, np.nan, 0, float(value), pd.NaT, pd.NA))
    return _assemble(bars, None, left, [], findings, "patient file", info, 0, 0, 0)


def _assemble(bars, changes, left, excluded_rows, findings, source, info, n_read, n_used, n_other) -> TumourBurden:
    patients = bars if isinstance(bars, pd.DataFrame) else pd.DataFrame(bars, columns=list(_PATIENT_COLUMNS))
    patients[schema.BEST_PCT_CHANGE] = patients[schema.BEST_PCT_CHANGE].astype(float)
    patients[schema.NEW_LESIONS] = patients[schema.NEW_LESIONS].astype("boolean")
    patients = patients.sort_values(schema.BEST_PCT_CHANGE, ascending=False, kind="stable").reset_index(drop=True)
    change = changes if isinstance(changes, pd.DataFrame) and len(changes) else \
        pd.DataFrame(columns=list(_CHANGE_COLUMNS))
    change[schema.NEW_LESIONS] = change[schema.NEW_LESIONS].astype("boolean")
    change[["is_baseline", "after_progression"]] = change[["is_baseline", "after_progression"]].astype(bool)
    findings = list(findings) + _consistency(patients)
    rows = pd.concat(excluded_rows, ignore_index=True) if excluded_rows else _rows_frame([], [], [])
    return TumourBurden(patients=patients, changes=change,
                        excluded=pd.DataFrame(left, columns=[schema.PATIENT_ID, "reason"]),
                        excluded_rows=rows.sort_values(schema.FILE_ROW, kind="stable").reset_index(drop=True),
                        findings=tuple(findings), source=source, by=None, groups=(), n_in_scope=len(info),
                        n_rows_read=n_read, n_rows_used=n_used, n_rows_other_patients=n_other)


def _consistency(patients: pd.DataFrame) -> list[Finding]:
    best = patients[schema.BEST_PCT_CHANGE].to_numpy(float)
    bor = patients[schema.BOR].to_numpy(object)
    shrunk = (best <= PR_THRESHOLD) & (bor == "PD")
    grown = (best >= PD_THRESHOLD) & np.isin(bor, schema.RESPONDERS)
    ids = patients[schema.PATIENT_ID].to_numpy(object)
    out = []
    for i in np.flatnonzero(shrunk | grown):
        size = "a partial-response size" if shrunk[i] else "a progression size"
        out.append(_finding("warning", ["Patient ", _pref(ids[i]), f": best change {best[i]:+.1f}% ({size}) but BOR "
                                        f"{bor[i]}; check the assessments or the best overall response."], None,
                            ids[i], schema.BEST_PCT_CHANGE, f"{best[i]:.1f}"))
    return out


# --------------------------------------------------------------------------------------------------------------
# RECIST 1.1 best overall response from the assessments
# --------------------------------------------------------------------------------------------------------------
def recist_bor(burden: TumourBurden, *, sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
               window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> pd.Series:
    """RECIST 1.1 best overall response (target lesions) per patient of ``burden.changes``, indexed by patient_id.

    Each assessment after the baseline, up to the first progression: PD when a new lesion appears or the sum
    rises >= 20% and >= 5 mm over the nadir (the smallest sum so far, baseline included); CR when the sum is 0;
    PR when it is >= 30% below the baseline; SD otherwise. CR and PR count when confirmed by an assessment
    (CR: CR; PR: PR or CR) >= 4 weeks later; SD when assessed at least the SD minimum after the IL-2 start
    (compared as :func:`il2lib.validation.recist.duration_meets`); then PD if progression was seen, else NE.
    A patient with only a baseline gets NE.
    """
    out = {}
    ch = burden.changes
    if not len(ch):
        return pd.Series(out, dtype=object)
    for pid, rows in ch.groupby(schema.PATIENT_ID, sort=False):
        rows = rows.sort_values(schema.ASSESSMENT_DATE)
        base = float(rows[schema.TARGET_SUM].iat[0])
        nadir = base
        points: list[tuple[np.datetime64, str, float]] = []
        for _, r in rows.iloc[1:].iterrows():
            total, months = float(r[schema.TARGET_SUM]), float(r[schema.MONTHS_SINCE_IL2])
            new = r[schema.NEW_LESIONS]
            if (not pd.isna(new) and bool(new)) or (total - nadir >= max(PD_MIN_MM, nadir * PD_THRESHOLD / 100)):
                points.append((r[schema.ASSESSMENT_DATE], "PD", months))
                break
            if total == 0:
                level = "CR"
            elif (total - base) / base * 100 <= PR_THRESHOLD:
                level = "PR"
            else:
                level = "SD"
            points.append((r[schema.ASSESSMENT_DATE], level, months))
            nadir = min(nadir, total)
        out[pid] = _best(points, sd_minimum_weeks, window_days)
    return pd.Series(out, dtype=object)


def _best(points, sd_minimum_weeks: float, window_days: float) -> str:
    def confirmed(levels: set[str], later: set[str]) -> bool:
        for k, (date, level, _) in enumerate(points):
            if level in levels and any(lv in later and (d - date) / np.timedelta64(1, "D") >= CONFIRM_DAYS
                                       for d, lv, _ in points[k + 1:]):
                return True
        return False

    if confirmed({"CR"}, {"CR"}):
        return "CR"
    if confirmed({"PR", "CR"}, {"PR", "CR"}):
        return "PR"
    threshold = sd_minimum_weeks * 7
    if any(level != "PD" and duration_meets(months, threshold, window_days) for _, level, months in points):
        return "SD"
    if any(level == "PD" for _, level, _ in points):
        return "PD"
    return "NE"
