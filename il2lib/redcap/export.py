"""Read a REDCap export ("CSV (raw data)" or "CSV (labels)") into the patient, AE and tumour-assessment tables.

:func:`load_redcap` recognises the export's shape, decodes its choice codes with the project's data
dictionary (or the registry template's coding when the export is recognisably the template's),
turns REDCap missing-data codes into missing values, drops identifier-flagged fields, splits the
rows (one patient per record; the repeating AE instrument; the repeating tumour-assessment
instrument) and hands the tables to the same validation as a CSV
(:func:`il2lib.validation.patients.validate_table` and the AE rules).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses.tumour_burden import TumourAssessments, validate_assessments
from il2lib.notes import SHORT_LIMIT, PatientRef, compose, short
from il2lib.redcap import template
from il2lib.redcap.dictionary import DataDictionary, Field, checkbox_suffix, read_dictionary
from il2lib.redcap.shape import CHECKED, CHOICE_HEADER, INTEGER, LABEL_META, RAW_META, Kind, looks_like_redcap
from il2lib.validation.adverse_events import AdverseEvents, validate_adverse_events
from il2lib.validation.mapping import resolve_mapping, suggest_mapping
from il2lib.validation.patients import Cohort, validate_table
from il2lib.validation.read import RawTable, read_table
from il2lib.validation.rules import Finding

#: REDCap's default missing-data codes (Project Setup > Additional customizations > Missing Data Codes).
#: ``NA`` is left out: it is a code only when a project declares it (pass it in ``missing_codes``).
DEFAULT_MISSING_CODES = {
    "NI": "No information", "INV": "Invalid", "UNK": "Unknown", "NASK": "Not asked", "ASKU": "Asked but unknown",
    "NAV": "Temporarily unavailable", "MSK": "Masked", "NAVU": "Not available", "NP": "Not present",
    "QS": "Sufficient quantity", "QI": "Insufficient quantity", "TRC": "Trace", "UNC": "Unencoded",
    "DER": "Derived", "PINF": "Positive infinity", "NINF": "Negative infinity", "OTH": "Other",
}


@dataclass(frozen=True)
class RedcapLoad:
    """What :func:`load_redcap` returns.

    ``cohort``: the patients, validated as a CSV is (its report starts with the REDCap findings).
    ``adverse_events``: the repeating AE instrument, validated against the cohort (None when the export has
    none). ``assessments``: the repeating tumour-assessment instrument, validated as
    :func:`il2lib.analyses.tumour_burden.load_tumour_assessments` does (None when the export has none).
    ``findings``: file-level findings of the REDCap layer (shape, dictionary, decoding, missing-data codes,
    identifiers, instruments, values that differ between events). ``pseudonyms_required``: the record id is flagged as
    an identifier, so ids must be shown and exported as pseudonyms. ``missing_counts``: field ->
    {code: count} of the missing-data codes read as missing.
    """

    cohort: Cohort
    adverse_events: AdverseEvents | None
    assessments: TumourAssessments | None
    findings: tuple[Finding, ...]
    pseudonyms_required: bool
    kind: Kind
    longitudinal: bool
    coding: str  # "dictionary", "template", "labels" or "none"
    missing_counts: dict[str, dict[str, int]]


def load_redcap(export: Any, dictionary: Any = None, *, missing_codes: Mapping[str, str] | Iterable[str] | None = None,
                mapping: Mapping[str, str | None] | None = None, date_order: Mapping[str, str] | None = None,
                cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                assessment_window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                today: dt.date | None = None, recodes: Mapping[str, Mapping[str, str]] | None = None,
                progress: Callable[[str], None] | None = None) -> RedcapLoad:
    """Read a REDCap CSV export (path, bytes or file-like) with or without the project's data dictionary.

    ``missing_codes``: the project's missing-data codes (code -> label, or codes), replacing
    :data:`DEFAULT_MISSING_CODES`; ``NA`` counts only when listed. ``mapping``, ``date_order``,
    ``cb_sd_months``, ``assessment_window_days``, ``today`` and ``recodes`` are those of the patient validation
    (:func:`il2lib.load_cohort`; ``mapping`` keys are field names, or the headers of a labels export);
    ``progress`` is called with the name of each step.

    Raises
    ------
    CohortFileError
        The export or the dictionary is not a table at all.
    """
    raw = read_table(export)
    d = read_dictionary(dictionary) if dictionary is not None else None
    reader = _Reader(raw, d, _codes(missing_codes))
    return reader.run(mapping, date_order, cb_sd_months, assessment_window_days, today, recodes, progress)


def _codes(missing_codes) -> dict[str, str]:
    if missing_codes is None:
        return dict(DEFAULT_MISSING_CODES)
    if isinstance(missing_codes, Mapping):
        return {str(k).strip(): str(v) for k, v in missing_codes.items()}
    if isinstance(missing_codes, str):  # REDCap's setting text: "UNK, Unknown\nNASK, Not asked"
        pairs = [line.partition(",") for line in missing_codes.replace("|", "\n").splitlines() if line.strip()]
        return {k.strip(): v.strip() for k, _, v in pairs}
    return {str(k).strip(): str(k).strip() for k in missing_codes}


class _Reader:
    """One export being read: its columns by role, the decoded cells, and the findings so far."""

    def __init__(self, raw: RawTable, dictionary: DataDictionary | None, missing: dict[str, str]):
        self.raw = raw
        self.frame = raw.frame
        self.header = [h.strip() for h in raw.header]
        self.given = dictionary
        self.d = dictionary
        self.missing = missing
        self.findings: list[Finding] = []
        self.missing_counts: dict[str, dict[str, int]] = {}
        self.kind: Kind = looks_like_redcap(self.header) or "raw"
        self.coding = "dictionary" if dictionary is not None else "none"
        self.meta: dict[str, str] = {}  # role -> frame column
        self.fields: dict[str, pd.Series] = {}  # field name -> decoded cells (str, "" = missing)
        self.field_form: dict[str, str] = {}
        self.label_mapping: dict[str, str] = {}  # field -> schema column found through its label
        self.pseudonyms_required = False

    def add(self, level: str, message, **kw) -> None:
        if isinstance(message, str):
            self.findings.append(Finding(level, message, **kw))
        else:
            text, parts, named = compose(*message)
            self.findings.append(Finding(level, text, text_parts=parts, named_ids=named, **kw))

    def rows_text(self, positions: Iterable[int], limit: int = 8) -> str:
        lines = [int(self.raw.file_rows[p]) for p in positions]
        text = ", ".join(map(str, lines[:limit]))
        return text + (f" and {len(lines) - limit} more" if len(lines) > limit else "")

    # ---------------------------------------------------------------------------------------------
    def run(self, mapping, date_order, cb_sd_months, window, today, recodes=None, progress=None) -> RedcapLoad:
        step = progress or (lambda text: None)
        step("Decoding the REDCap export")
        if looks_like_redcap(self.header) is None:
            self.add("warning", f"'{short(self.raw.source_name)}' does not look like a REDCap export (no redcap_* "
                     "column, no '_complete' form status, no checkbox column); read as a raw export whose first "
                     "column is the record id.")
        columns = self._columns()
        self._identify_template(columns)
        self._check_dictionary(columns)
        self._decode(columns)
        self._drop_identifiers()
        instrument = self.frame[self.meta["instrument"]].str.strip() if "instrument" in self.meta else None
        kinds = self._instrument_kinds(instrument)
        patient_rows = np.flatnonzero((instrument == "").to_numpy()) if instrument is not None \
            else np.arange(len(self.frame))
        self._counts_finding()
        step("Checking the patient rows")
        cohort = self._cohort(patient_rows, kinds, mapping, date_order, cb_sd_months, window, today, recodes,
                              progress)
        ae = self._repeating(instrument, kinds, "ae")
        if ae is not None:
            step("Checking the adverse events")
        adverse = self._adverse_events(ae, cohort, today) if ae is not None else None
        tumour = self._repeating(instrument, kinds, "tumour")
        if tumour is not None:
            step("Checking the tumour assessments")
        assessments = validate_assessments(tumour[0], cohort, {tumour[0].frame.columns[0]: schema.PATIENT_ID},
                                           date_order=date_order, today=today) if tumour is not None else None
        return RedcapLoad(cohort=cohort, adverse_events=adverse, assessments=assessments, findings=tuple(self.findings),
                          pseudonyms_required=self.pseudonyms_required, kind=self.kind,
                          longitudinal="event" in self.meta, coding=self.coding, missing_counts=self.missing_counts)

    # ---------------------------------------------------------------------------------------------
    def _columns(self) -> dict[str, list[tuple[str, str | None]]]:
        """field -> [(frame column, checkbox choice or None)]; meta columns go to ``self.meta``."""
        out: dict[str, list[tuple[str, str | None]]] = {}
        names = list(self.frame.columns)
        self.record_column = names[0]
        labels = self.kind == "labels"
        by_label = self._label_index() if labels else {}
        for k, (column, written) in enumerate(zip(names, self.header)):
            if k == 0:
                field = self.d.record_id if (self.d and labels) else (written or column)
                out.setdefault(field or column, []).append((column, None))
                continue
            if labels:
                role = LABEL_META.get(written.lower())
                if role:
                    self.meta[role] = column
                    continue
                if written == "Complete?" or written.lower() == "survey timestamp":
                    continue
                match = CHOICE_HEADER.match(written)
                if match:
                    field = by_label.get(_key(match["label"]), match["label"].strip())
                    out.setdefault(field, []).append((column, match["choice"].strip()))
                    continue
                out.setdefault(by_label.get(_key(written), written), []).append((column, None))
                continue
            if written in RAW_META:
                self.meta[RAW_META[written]] = column
                continue
            if self._form_status(written):
                continue
            base, sep, code = written.partition("___")
            if sep:
                out.setdefault(base, []).append((column, code))
            else:
                out.setdefault(written, []).append((column, None))
        return out

    def _form_status(self, name: str) -> bool:
        """A form's status (``<form>_complete``) or survey timestamp (``<form>_timestamp``) column; with a
        dictionary, only for its forms and never one of its fields."""
        base, sep, _ = name.rpartition("_complete") if name.endswith("_complete") else name.rpartition("_timestamp")
        if not sep or not base:
            return False
        if self.d is None:
            return True
        return name not in self.d.by_name and base in self.d.forms

    def _label_index(self) -> dict[str, str]:
        d = self.d or template.template_dictionary()
        return {_key(f.label): f.name for f in reversed(d.fields)}

    def _identify_template(self, columns) -> None:
        """Without a dictionary, use the template's when the export is recognisably the template's."""
        if self.d is not None:
            return
        t = template.template_dictionary()
        names = set(columns) - {next(iter(columns))}
        known = {f.name for f in t.fields}
        if self.kind == "raw":
            complete = {h for h in self.header if h.endswith("_complete")}
            is_template = bool(complete) and complete <= {f"{form}_complete" for form in t.forms} \
                and names <= known and next(iter(columns)) == t.record_id
        else:
            is_template = names <= known and len(names) > 0 and _key(self.header[0]) == _key(t.fields[0].label)
        if is_template:
            self.d = t
            self.coding = "template"
            if self.kind == "labels":  # choice labels are the values: nothing to decode
                self.coding = "labels"
        elif self.kind == "labels":
            self.coding = "labels"

    def _check_dictionary(self, columns) -> None:
        if self.given is None:
            return
        d = self.given
        for problem in d.problems:
            self.add("warning", f"Data dictionary: {problem}")
        unknown = [f for f in list(columns)[1:] if f not in d.by_name]
        if unknown:
            self.add("warning", f"{len(unknown)} column{'s' if len(unknown) > 1 else ''} of the export "
                     f"{'are' if len(unknown) > 1 else 'is'} not in the data dictionary: "
                     f"{', '.join(short(u, 40) for u in unknown[:10])}{' ...' if len(unknown) > 10 else ''}. "
                     "They are read without decoding (a coded one is not read at all); check that the dictionary is "
                     "this project's.",
                     column=unknown[0])
        first = list(columns)[0]
        if self.kind == "raw" and d.record_id and first != d.record_id:
            self.add("warning", f"The export's first column is '{short(first, 40)}' but the dictionary's record id "
                     f"is '{d.record_id}'; the first column is used as the record id.", column=first)

    # ---------------------------------------------------------------------------------------------
    def _decode(self, columns) -> None:
        record = next(iter(columns))
        for field, cols in columns.items():
            spec = self.d.by_name.get(field) if self.d else None
            if spec is not None:
                self.field_form[field] = spec.form
            if any(code is not None for _, code in cols):
                cells = self._checkbox(field, cols, spec)
            else:  # each distinct value once, then expanded to the rows
                codes, uniques = pd.factorize(self.frame[cols[0][0]].to_numpy(dtype=object), use_na_sentinel=False)
                u = self._without_missing(field, pd.Series(uniques, dtype=object).fillna("").astype(str).str.strip(),
                                          codes, first=field == record)
                if self.kind == "raw" and spec is not None and spec.is_coded:
                    u = self._choices(field, u, codes, spec)
                elif self.kind == "raw" and spec is None and field != record:
                    u = self._undecodable(field, u)
                elif self.kind == "labels" and spec is not None and spec.is_coded:
                    u = self._labels(field, u, codes, spec)
                cells = None if u is None else pd.Series(u.to_numpy(dtype=object)[codes], index=self.frame.index,
                                                         dtype=object)
            if cells is None:
                continue
            self.fields[field] = cells
            label = spec.label if spec is not None else (field if self.kind == "labels" else None)
            if field != record and label and not suggest_mapping([field]).get(field):
                target = _schema_by_label(label)
                if target:
                    self.label_mapping[field] = target

    def _rows_of(self, codes: np.ndarray, bad: pd.Series) -> np.ndarray:
        """Row positions whose distinct value (``codes`` into the distinct values) is flagged in ``bad``."""
        return np.flatnonzero(np.isin(codes, np.flatnonzero(bad.to_numpy())))

    def _without_missing(self, field: str, u: pd.Series, codes: np.ndarray, first: bool = False) -> pd.Series:
        """Distinct values ``u`` with the missing-data codes made empty (counted over the rows)."""
        if first or not self.missing:
            return u
        hit = u.isin(list(self.missing))
        if hit.any():
            per_value = np.bincount(codes, minlength=len(u))
            counts: dict[str, int] = {}
            for k in np.flatnonzero(hit.to_numpy()):
                counts[str(u.iat[k])] = counts.get(str(u.iat[k]), 0) + int(per_value[k])
            self.missing_counts[field] = counts
            u = u.where(~hit, "")
        return u

    def _choices(self, field: str, cells: pd.Series, rows: np.ndarray, spec: Field) -> pd.Series:
        choices = spec.choice_map
        present = cells != ""
        known = cells.isin(list(choices))
        bad = present & ~known
        if bad.any():
            codes = sorted(set(cells[bad]))
            positions = self._rows_of(rows, bad)
            self.add("warning", f"Field '{field}': choice code{'s' if len(codes) > 1 else ''} "
                     f"{', '.join(repr(short(c, 20)) for c in codes[:5])} not in the data dictionary "
                     f"({', '.join(f'{k} = {v}' for k, v in list(choices.items())[:6])}); rows "
                     f"{self.rows_text(positions)} left empty for this field.", column=field,
                     file_row=int(self.raw.file_rows[positions[0]]), value=codes[0])
        return cells.map(lambda v: choices.get(v, "")).where(present, "")

    def _labels(self, field: str, cells: pd.Series, rows: np.ndarray, spec: Field) -> pd.Series:
        labels = set(spec.choice_map.values()) | set(spec.choice_map)
        bad = (cells != "") & ~cells.isin(list(labels))
        if bad.any():
            values = sorted(set(cells[bad]))
            self.add("warning", f"Field '{field}': value{'s' if len(values) > 1 else ''} "
                     f"{', '.join(repr(short(v, 20)) for v in values[:5])} not among the dictionary's choices "
                     f"(rows {self.rows_text(self._rows_of(rows, bad))}); read as written.", column=field)
        return cells

    def _undecodable(self, field: str, cells: pd.Series) -> pd.Series | None:
        """A coded field of a raw export without a dictionary: a finding, and the codes are not guessed."""
        present = cells[cells != ""]
        if present.empty or not present.str.match(INTEGER).all():
            return cells
        target = suggest_mapping([field]).get(field) or suggest_mapping([field], table="ae").get(field)
        spec = schema.COLUMNS.get(target) or schema.AE_COLUMN_SPECS.get(target) if target else None
        if spec is None:
            return cells
        coded = spec.kind == "category" or (spec.kind == "bool" and not set(present) <= {"0", "1"}) \
            or (spec.kind == "string" and target not in (schema.PATIENT_ID,))
        if not coded:
            return cells
        required = target in schema.REQUIRED_COLUMNS
        self.add("file_error" if required else "warning",
                 f"Field '{field}' ({target}) holds REDCap choice codes ({', '.join(sorted(set(present))[:6])}) and "
                 + ("is not in the data dictionary" if self.given is not None else "no data dictionary was given")
                 + ", so their meaning is unknown: load the project's Data Dictionary CSV with the export, or export "
                 "'CSV (labels)'. The field was not read"
                 + (" (it is required, so no patient can be analysed)." if required else "."), column=field)
        return None

    def _checkbox(self, field: str, cols, spec: Field | None) -> pd.Series | None:
        """Checked choices joined with '; ' (their labels), missing when none is checked."""
        if spec is None and self.kind == "raw":
            self.add("warning", f"Checkbox field '{field}' ({', '.join(c for c, _ in cols[:4])}"
                     f"{' ...' if len(cols) > 4 else ''}) cannot be decoded without the data dictionary (its codes "
                     "have no labels): load the project's Data Dictionary CSV, or export 'CSV (labels)'. The field "
                     "was not read.", column=field)
            return None
        by_suffix = {checkbox_suffix(code): label for code, label in spec.choices} if spec is not None else {}
        missing_suffixes = {checkbox_suffix(c): c for c in self.missing}
        labels_known = set(by_suffix.values())
        parts = [[] for _ in range(len(self.frame))]
        coded_missing = np.zeros(len(self.frame), dtype=bool)
        for column, choice in cols:
            codes, uniques = pd.factorize(self.frame[column].to_numpy(dtype=object), use_na_sentinel=False)
            u = pd.Series(uniques, dtype=object).fillna("").astype(str).str.strip().str.lower()
            checked = u.map(lambda v: CHECKED.get(v) is True).to_numpy(dtype=bool)[codes]
            unreadable = (~u.isin(list(CHECKED))).to_numpy(dtype=bool)[codes]
            if self.kind == "raw":
                label = by_suffix.get(choice.lower())
                if label is None and choice.lower() in missing_suffixes:
                    coded_missing |= checked
                    n = int(checked.sum())
                    if n:
                        code = missing_suffixes[choice.lower()]
                        self.missing_counts.setdefault(field, {})[code] = n
                    continue
                if label is None:
                    self.add("warning", f"Checkbox column '{column}': code '{choice}' is not a choice of '{field}' "
                             "in the data dictionary; the column was not read.", column=field)
                    continue
            else:
                label = choice
                if labels_known and label not in labels_known:
                    self.add("warning", f"Checkbox column '{column}': choice '{choice}' is not a choice of "
                             f"'{field}' in the data dictionary; read as written.", column=field)
            if unreadable.any():
                self.add("warning", f"Checkbox column '{column}': values other than Checked/Unchecked (1/0) in rows "
                         f"{self.rows_text(np.flatnonzero(unreadable))}; read as unchecked.", column=field)
            for pos in np.flatnonzero(checked):
                parts[pos].append(label)
        joined = ["" if gone else "; ".join(p) for p, gone in zip(parts, coded_missing)]
        return pd.Series(joined, index=self.frame.index, dtype=object)

    def _drop_identifiers(self) -> None:
        if self.given is None:
            return
        record = next(iter(self.fields))
        flagged = [f.name for f in self.given.fields if f.identifier]
        if record in flagged or (self.given.record_id in flagged):
            self.pseudonyms_required = True
            self.add("warning", f"The record id '{record}' is flagged 'Identifier? = y' in the data dictionary: it "
                     "stays the patient key, and ids are shown and exported as pseudonyms.", column=record)
        dropped = [f for f in flagged if f != record and f != self.given.record_id and f in self.fields]
        for name in dropped:
            del self.fields[name]
        if dropped:
            many = len(dropped) > 1
            self.add("warning", f"Field{'s' if many else ''} {', '.join(dropped)} {'are' if many else 'is'} flagged "
                     f"'Identifier? = y' in the data dictionary and {'were' if many else 'was'} not loaded.",
                     column=dropped[0])

    # ---------------------------------------------------------------------------------------------
    def _instrument_kinds(self, instrument: pd.Series | None) -> dict[str, str]:
        """repeat-instrument value -> "ae", "tumour" or "unknown" (with a finding naming its rows)."""
        if instrument is None:
            return {}
        kinds = {}
        for value in [v for v in dict.fromkeys(instrument) if v]:
            rows = (instrument == value).to_numpy()
            kind = self._kind_of(value, rows)
            kinds[value] = kind
            if kind == "unknown":
                n = int(rows.sum())
                self.add("warning", f"Repeating instrument '{short(value, 40)}' is not one the dashboard reads "
                         f"(adverse events, tumour assessments); its {n} row{'s' if n > 1 else ''} "
                         f"(rows {self.rows_text(np.flatnonzero(rows))}) were not loaded.", value=value)
        return kinds

    def _kind_of(self, value: str, rows: np.ndarray) -> str:
        key = _key(value)
        for form, kind in ((template.AE_FORM, "ae"), (template.TUMOUR_FORM, "tumour")):
            if key in (_key(form), _key(template.FORM_LABELS[form])):
                return kind
        if self.d is not None:
            fields = [f.name for f in self.d.fields if _key(f.form) == key]
        else:
            fields = [f for f, cells in list(self.fields.items())[1:] if (cells[rows] != "").any()]
        ae_targets = set(suggest_mapping(fields, table="ae").values())
        if {schema.AE_TERM, schema.AE_GRADE} <= ae_targets:
            return "ae"
        if {schema.ASSESSMENT_DATE, schema.TARGET_SUM} & set(fields):
            return "tumour"
        return "unknown"

    def _repeating_fields(self, kinds: dict[str, str]) -> set[str]:
        """Fields of repeating instruments (left out of the patient table)."""
        instrument = self.frame[self.meta["instrument"]].str.strip() if "instrument" in self.meta else None
        out = set()
        repeating_forms = {_key(v) for v in kinds} | {_key(f) for f in template.REPEATING_FORMS}
        for name, cells in list(self.fields.items())[1:]:
            form = self.field_form.get(name)
            if form is not None:
                if _key(form) in repeating_forms or _key(template.FORM_LABELS.get(form, form)) in repeating_forms:
                    out.add(name)
            elif instrument is not None:
                filled = (cells != "").to_numpy()
                base = (instrument == "").to_numpy()
                if filled.any() and not (filled & base).any():
                    out.add(name)
        return out

    # ---------------------------------------------------------------------------------------------
    def _cohort(self, rows: np.ndarray, kinds, mapping, date_order, cb_sd_months, window, today, recodes,
                progress) -> Cohort:
        record = next(iter(self.fields))
        exclude = self._repeating_fields(kinds)
        names = [f for f in self.fields if f not in exclude]
        data = {name: self.fields[name].to_numpy(dtype=object)[rows] for name in names}
        file_rows = self.raw.file_rows[rows]
        if "dag" in self.meta:
            dag = self.frame[self.meta["dag"]].astype(object).fillna("").astype(str).str.strip().to_numpy()[rows]
            source_field = next((n for n in names if suggest_mapping([n]).get(n) == schema.SOURCE), None)
            if source_field is None:
                source_field = schema.SOURCE if schema.SOURCE not in data else "redcap_data_access_group"
                data[source_field] = dag
                names.append(source_field)
            else:  # the field where it is filled, the group elsewhere
                data[source_field] = np.where(data[source_field] != "", data[source_field], dag)
        instance = self.frame[self.meta["instance"]].astype(str).str.strip().to_numpy()[rows] \
            if "instance" in self.meta else np.array([], dtype=object)
        if "event" in self.meta or (instance != "").any():
            data, file_rows = self._per_record(data, file_rows, record, rows)
        frame = pd.DataFrame(data, columns=names, dtype=object)
        frame.index = pd.RangeIndex(len(frame))
        raw = dataclasses.replace(self.raw, frame=frame, header=tuple(names), file_rows=file_rows, bad_rows=())
        user = dict(self.label_mapping)
        user[record] = schema.PATIENT_ID
        user.update(mapping or {})
        accepted = inspect.signature(validate_table).parameters
        options = {k: v for k, v in (("recodes", recodes), ("progress", progress)) if v and k in accepted}
        if recodes and "recodes" not in accepted:
            _recode(frame, names, user, recodes)
        cohort = validate_table(raw, user, date_order=date_order, cb_sd_months=cb_sd_months, today=today,
                                assessment_window_days=window, **options)
        extra = tuple(f for f in self.findings)
        report = dataclasses.replace(cohort.report, findings=extra + cohort.report.findings)
        return dataclasses.replace(cohort, report=report)

    def _per_record(self, data: dict, file_rows: np.ndarray, record: str, rows: np.ndarray):
        """One row per record: each field's latest non-missing value across events (in export order);
        different values are findings (a Yes that turns No, a date that moves back, any other change)."""
        codes, ids = pd.factorize(pd.Series(data[record], dtype=object), use_na_sentinel=False)
        events = np.array([""] * len(rows), dtype=object)
        if "event" in self.meta:
            events = self.frame[self.meta["event"]].astype(str).str.strip().to_numpy(dtype=object)[rows]
        if "instance" in self.meta:  # a repeating event: its instances apart
            instance = self.frame[self.meta["instance"]].astype(str).str.strip().to_numpy(dtype=object)[rows]
            events = np.array([f"{e} #{i}".strip() if i else e for e, i in zip(events, instance)], dtype=object)
        first = pd.Series(np.arange(len(codes))).groupby(codes, sort=True).min().to_numpy()
        out = {record: np.asarray(ids, dtype=object)}
        for name, values in data.items():
            if name == record:
                continue
            cells = pd.Series(values, dtype=object)
            filled = cells != ""
            present = cells[filled]
            by_record = present.groupby(codes[filled.to_numpy()], sort=True)
            latest = np.full(len(ids), "", dtype=object)
            last = by_record.last()
            latest[last.index.to_numpy()] = last.to_numpy(dtype=object)
            out[name] = latest
            counts = by_record.nunique()
            for code in counts.index[counts.to_numpy() > 1]:
                positions = np.flatnonzero((codes == code) & filled.to_numpy())
                self._conflict(name, str(ids[code]), [(values[p], p) for p in positions], events, file_rows)
        return {k: out[k] for k in data}, file_rows[first].astype(np.int64)

    def _conflict(self, name: str, pid: str, cells, events, file_rows) -> None:
        spec = self.d.by_name.get(name) if self.d else None
        values = [v for v, _ in cells]
        is_date = (spec is not None and spec.is_date) or _all_iso_dates(values)
        if is_date and values == sorted(values):
            return  # a date that moves forward (last follow-up, last assessment) is an update
        flags = _flags(name, values, self.label_mapping.get(name))
        if flags is not None and flags == sorted(flags):  # No then Yes: the patient died or progressed later
            return
        where = ", ".join(f"'{short(v, 20)}' ({events[p] or 'row ' + str(file_rows[p])})" for v, p in cells)
        self.add("warning", ["Record ", PatientRef(pid, SHORT_LIMIT), f": field '{name}' differs between events "
                             f"({where}); the latest, '{short(values[-1], 20)}', is used."], column=name,
                 file_row=int(file_rows[cells[-1][1]]), patient_id=pid, value=values[-1])

    def _repeating(self, instrument, kinds: dict[str, str], kind: str) -> tuple[RawTable, list[str]] | None:
        if instrument is None:
            return None
        values = [v for v, k in kinds.items() if k == kind]
        if not values:
            return None
        rows = np.flatnonzero(instrument.isin(values).to_numpy())
        record = next(iter(self.fields))
        forms = {_key(v) for v in values}
        names = []
        for name, cells in list(self.fields.items())[1:]:
            form = self.field_form.get(name)
            if form is not None:
                if _key(form) in forms or _key(template.FORM_LABELS.get(form, form)) in forms:
                    names.append(name)
            elif (cells.to_numpy()[rows] != "").any():
                names.append(name)
        data = {record: self.fields[record].to_numpy(dtype=object)[rows]}
        data.update({n: self.fields[n].to_numpy(dtype=object)[rows] for n in names})
        frame = pd.DataFrame(data, dtype=object)
        raw = dataclasses.replace(self.raw, frame=frame, header=tuple(frame.columns),
                                  file_rows=self.raw.file_rows[rows], bad_rows=())
        return raw, names

    def _adverse_events(self, ae, cohort: Cohort, today) -> AdverseEvents:
        raw, names = ae
        record = raw.frame.columns[0]
        user = {record: schema.AE_PATIENT_ID}
        for name in names:
            spec = self.d.by_name.get(name) if self.d is not None else None
            label = spec.label if spec is not None else (name if self.kind == "labels" else None)
            if label and not suggest_mapping([name], table="ae").get(name):
                target = _schema_by_label(label, table="ae")
                if target:
                    user[name] = target
        return validate_adverse_events(raw, cohort, user, today=today)

    def _counts_finding(self) -> None:
        if not self.missing_counts:
            return
        parts = [f"{field}: " + ", ".join(f"{code} {n}" for code, n in counts.items())
                 for field, counts in self.missing_counts.items()]
        self.add("warning", "REDCap missing-data codes read as missing values: " + "; ".join(parts) + ".",
                 column=next(iter(self.missing_counts)))


def _recode(frame: pd.DataFrame, names: list[str], user: Mapping[str, str | None],
            recodes: Mapping[str, Mapping[str, str]]) -> None:
    """Accepted recodes (schema column -> {value: allowed value}) applied to the fields mapped to those columns."""
    resolved, _ = resolve_mapping(names, user)
    for column, target in resolved.items():
        table = recodes.get(target)
        if table:
            frame[column] = frame[column].map(lambda v: table.get(str(v).strip(), v))


def _flags(name: str, values: list[str], target: str | None) -> list[bool] | None:
    """Yes/No values of a field that maps to a schema yes/no column (Dead/Alive included), else None."""
    spec = schema.COLUMNS.get(target or suggest_mapping([name]).get(name) or "")
    if spec is None or spec.kind != "bool":
        return None
    out = []
    for value in values:
        key = schema.norm(value)
        key = spec.value_synonyms.get(key, key)
        if key in schema.BOOL_TRUE or key == "true":
            out.append(True)
        elif key in schema.BOOL_FALSE or key == "false":
            out.append(False)
        else:
            return None
    return out


def _schema_by_label(label: str, table: str = "patient") -> str | None:
    """The schema column whose name, label or synonym is a field's label."""
    specs = schema.AE_COLUMNS if table == "ae" else schema.PATIENT_COLUMNS
    key = schema.norm(label)
    for spec in specs:
        if key in {schema.norm(spec.name), schema.norm(spec.label), *(schema.norm(s) for s in spec.synonyms)}:
            return spec.name
    return None


def _key(text: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in str(text)).split())


def _all_iso_dates(values) -> bool:
    return all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in values)
