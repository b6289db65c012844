"""Load and validate a patient file: map columns, coerce, apply every rule, derive, report.

:func:`load_cohort` is the one entry point. It raises only :class:`~il2lib.errors.CohortFileError`
(the bytes are not a table at all); everything else becomes a :class:`Finding` in the
:class:`ValidationReport`, at one of three levels (file error, row error, warning), and
``n_loaded == n_analysed + n_excluded`` always holds.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.notes import short
from il2lib.validation import coerce, rules
from il2lib.validation.derive import _derive
from il2lib.validation.mapping import (accepted_names, is_identifier_column, missing_required, resolve_mapping,
                                       suggest_mapping)
from il2lib.validation.read import RawTable, read_table
from il2lib.validation.recist import CR, PR, SD, ResponseRules
from il2lib.validation.rules import AMBIGUOUS_DATE_ORDER, RECODE_SUGGESTION, Collector, Finding

__all__ = ["Finding", "ValidationReport", "Cohort", "load_cohort", "validate_table", "suggest_mapping",
           "empty_patient_frame", "coerce_columns", "build_report"]

_FINDING_FIELDS = ("level", "message", "column", "file_row", "patient_id", "value", "analysis")
_DTYPES = {"date": "datetime64[ns]", "bool": "boolean", "int": "Int64", "number": "float64",
           "category": object, "string": object}
_DERIVED_DTYPES = {schema.FILE_ROW: "int64", schema.LINE_OF_IL2: "Int64", schema.FIRST_LINE: "boolean",
                   schema.OBJECTIVE_RESPONSE: "boolean", schema.CLINICAL_BENEFIT: "boolean",
                   schema.DISEASE_CONTROL: "boolean", schema.OS_MONTHS: "float64", schema.OS_EVENT: "boolean",
                   schema.PFS_MONTHS: "float64", schema.PFS_EVENT: "boolean", schema.DOR_MONTHS: "float64",
                   schema.DOR_EVENT: "boolean", schema.LDH_X_ULN: "float64", schema.LDH_CATEGORY: object}


@dataclass(frozen=True)
class ValidationReport:
    """Everything found while loading one file; counts always reconcile."""

    n_loaded: int
    n_analysed: int
    n_excluded: int
    findings: tuple[Finding, ...]
    mapping: dict[str, str]
    unmapped_columns: tuple[str, ...]
    identifier_columns: tuple[str, ...]
    conversions: tuple[str, ...]

    def _level(self, level: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == level)

    @property
    def file_errors(self) -> tuple[Finding, ...]:
        return self._level("file_error")

    @property
    def row_errors(self) -> tuple[Finding, ...]:
        return self._level("row_error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return self._level("warning")

    @property
    def ok(self) -> bool:
        """True when no file-level error blocks the analysis."""
        return not self.file_errors

    def for_analysis(self, analysis: str) -> tuple[Finding, ...]:
        """Findings that leave patients out of one analysis (``"os"``, ``"pfs"``, ``"dor"``, a column)."""
        return tuple(f for f in self.findings if f.analysis and analysis in f.analysis.split(","))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: level, message, column, file_row, patient_id, value, analysis."""
        frame = pd.DataFrame([[getattr(f, k) for k in _FINDING_FIELDS] for f in self.findings],
                             columns=list(_FINDING_FIELDS))
        frame["file_row"] = frame["file_row"].astype("Int64")
        return frame

    def summary(self) -> str:
        """``"107 loaded, 105 analysed, 2 excluded"``."""
        return f"{self.n_loaded} loaded, {self.n_analysed} analysed, {self.n_excluded} excluded"


@dataclass(frozen=True)
class Cohort:
    """Analysed rows (``data``), the report, the excluded rows as read, and the file identity."""

    data: pd.DataFrame
    report: ValidationReport
    excluded: pd.DataFrame
    fingerprint: str
    source_name: str
    cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT
    assessment_window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT


def empty_patient_frame() -> pd.DataFrame:
    """Zero-row frame with every schema and derived column in its documented dtype."""
    columns = {schema.FILE_ROW: pd.Series(dtype="int64")}
    for spec in schema.PATIENT_COLUMNS:
        columns[spec.name] = pd.Series(dtype=_DTYPES[spec.kind])
    for name, dtype in _DERIVED_DTYPES.items():
        columns[name] = pd.Series(dtype=dtype)
    return pd.DataFrame(columns)


def load_cohort(source: Any, mapping: Mapping[str, str | None] | None = None, *, sheet: str | int | None = None,
                date_order: Mapping[str, Literal["mdy", "dmy"]] | None = None,
                cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, today: dt.date | None = None,
                assessment_window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                recodes: Mapping[str, Mapping[str, str]] | None = None,
                progress: Callable[[str], None] | None = None) -> Cohort:
    """Read, map, validate and derive a one-row-per-patient file.

    Parameters
    ----------
    source : path, bytes or binary file-like (Streamlit ``UploadedFile``); CSV/TSV, XLSX or Parquet.
    mapping : file column -> schema column overrides (``None`` = keep unmapped); the rest is
        suggested by :func:`suggest_mapping`.
    sheet : XLSX sheet name or 0-based index (default: the first non-empty sheet).
    date_order : schema date column (or ``"*"`` for all) -> ``"dmy"``/``"mdy"``, to resolve
        a column whose dates could be read either way.
    cb_sd_months : SD duration (months) that counts as clinical benefit (0 = any SD).
    assessment_window_days : assessment window W (days) of that rule: an SD meets ``cb_sd_months``
        when it lasts at least ``cb_sd_months`` x 30.4375 - W days (:func:`il2lib.validation.recist.duration_meets`).
    today : reference date for "in the future" (default: today).
    recodes : schema category column -> {value as in the file (stripped): allowed value}, applied before the
        values are recognised (e.g. an accepted "Did you mean" suggestion); each is listed in the conversions.
    progress : called with the name of each step as it starts ("Validating 200,000 rows", "Deriving endpoints").

    Returns
    -------
    Cohort

    Raises
    ------
    CohortFileError
        The source is not a table at all (empty, binary, HTML, no header, no usable sheet).
    """
    tables = [read_table(source, sheet=sheet, compact=True)]  # handed over: its cells are freed once read
    return _validate(tables, mapping, date_order=date_order, cb_sd_months=cb_sd_months, today=today,
                     assessment_window_days=assessment_window_days, recodes=recodes, progress=progress)


def validate_table(raw: RawTable, mapping: Mapping[str, str | None] | None = None, *,
                   date_order: Mapping[str, str] | None = None,
                   cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, today: dt.date | None = None,
                   assessment_window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Cohort:
    """Validate an already-read :class:`~il2lib.validation.read.RawTable` (see :func:`load_cohort`)."""
    return _validate([raw], mapping, date_order=date_order, cb_sd_months=cb_sd_months, today=today,
                     assessment_window_days=assessment_window_days)


def _validate(tables: list[RawTable], mapping: Mapping[str, str | None] | None, *, date_order: Mapping[str, str] | None,
              cb_sd_months: float, today: dt.date | None, assessment_window_days: float,
              recodes: Mapping[str, Mapping[str, str]] | None = None,
              progress: Callable[[str], None] | None = None) -> Cohort:
    """:func:`validate_table` of the one table in ``tables``, taken out of the list so that nothing else
    keeps its cells alive once the rules have read them."""
    raw = tables.pop()
    window = float(assessment_window_days)
    if not (np.isfinite(window) and window >= 0):
        raise ValueError(f"assessment_window_days must be a finite number >= 0, got {assessment_window_days!r}.")
    bad_order = {k: v for k, v in (date_order or {}).items() if v not in ("dmy", "mdy")}
    if bad_order:
        raise ValueError(f"date_order values must be 'dmy' or 'mdy', got {bad_order!r}.")
    frame = raw.frame
    step = progress or (lambda _: None)
    step(f"Validating {len(frame):,} rows")
    columns = list(frame.columns)
    identifiers = tuple(c for c in columns if is_identifier_column(c))
    usable = [c for c in columns if c not in identifiers]
    user = dict(mapping or {})
    c = Collector(raw.file_rows, None, frame)
    for column in identifiers:
        c.add("warning", f"Column '{short(column)}' looks like a direct identifier (name, record number, birth date, "
              "address, phone or e-mail); it was not loaded. Remove it from the file before sharing.", column=column)
        if column in user:
            user.pop(column)
            c.add("warning", f"Column '{short(column)}' looks like a direct identifier and cannot be mapped.",
                  column=column)
    resolved, problems = resolve_mapping(usable, user)
    for problem in problems:
        c.add("warning", problem)
    for name in missing_required(resolved.values()):
        c.add("file_error", f"Missing required column '{name}' (accepted names: {accepted_names(name)}).", column=name)
    conversions: list[str] = []
    if raw.encoding == "latin-1":
        conversions.append("Text decoded as Latin-1 (the file is not valid UTF-8).")
    if raw.decimal_comma:
        conversions.append("Decimal commas read as decimal points (';'-separated file, values such as 1,5).")
    unmapped = tuple(col for col in usable if col not in resolved)
    typed = None
    if not any(f.level == "file_error" for f in c.findings):
        typed = coerce_columns(c, frame, resolved, date_order or {}, raw.decimal_comma, conversions, today,
                               recodes=recodes, distinct=raw.distinct)
    if typed is None or any(f.level == "file_error" for f in c.findings):
        return _blocked(raw, c, resolved, unmapped, identifiers, conversions, cb_sd_months, window)
    _row_rules(c, raw, typed, resolved, conversions)
    _irecist_categories(c, frame, typed, resolved, conversions)
    # Only warnings follow (no row leaves the analysis): the excluded rows and the unmapped columns are
    # taken from the cells as read now, and the cells are let go before the derived columns are computed.
    excluded_pos = np.array(sorted(c.reasons), dtype=np.int64)
    excluded = _excluded_frame(raw, excluded_pos, ["; ".join(c.reasons[p]) for p in excluded_pos])
    rows = np.delete(np.arange(len(frame)), excluded_pos) if len(excluded_pos) else None
    extras = _extras(frame, unmapped, rows)
    raw = dataclasses.replace(raw, frame=frame.iloc[:, :0])
    del frame
    c.raw = raw.frame
    analysed = np.ones(len(typed), dtype=bool)
    analysed[excluded_pos] = False
    step("Deriving endpoints")
    derived, notes, response_rules, bor_code = _derive(typed, cb_sd_months, window, analysed, copy=False)
    del typed
    conversions.extend(notes)
    _unknown_benefit(c, derived, cb_sd_months, bor_code)
    _response_rule_warnings(c, derived, response_rules, bor_code)
    return _assemble(raw, c, derived, rows, extras, excluded, resolved, unmapped, identifiers, conversions,
                     cb_sd_months, window)


def coerce_columns(c: Collector, frame: pd.DataFrame, resolved: dict[str, str], date_order: Mapping[str, str],
                   decimal_comma: bool, conversions: list[str], today: dt.date | None,
                   specs: Mapping[str, schema.ColumnSpec] = schema.COLUMNS,
                   recodes: Mapping[str, Mapping[str, str]] | None = None,
                   distinct: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
    """Typed columns of every mapped file column (converted once per distinct value, then expanded);
    ``recodes`` as in :func:`load_cohort`; ``distinct`` as :attr:`RawTable.distinct`."""
    typed: dict[str, pd.Series] = {}
    for file_col, name in sorted(resolved.items(), key=lambda kv: kv[1] != schema.PATIENT_ID):
        spec = specs[name]
        codes, uniques = _distinct(frame[file_col], (distinct or {}).get(file_col))
        u = pd.Series(uniques, dtype=object)
        if pd.isna(uniques).any():
            u = u.fillna("")
        if spec.kind == "category" and (recodes or {}).get(name):
            u = _recode(u, codes, recodes[name], spec, file_col, conversions)
        keep = frozenset(schema.norm(a) for a in spec.allowed)
        if spec.kind == "string":  # stripped text: its missing cells and padding found in one pass
            values, missing = coerce.to_text(u, keep)
            invalid = pd.Series(False, index=u.index)
        else:
            missing = coerce.missing_mask(u, keep)
            values, invalid = _convert(c, u, missing, spec, file_col, date_order, decimal_comma, conversions, today)
        expanded = _expand(values, codes, frame.index)
        typed[name] = expanded
        if name == schema.PATIENT_ID:  # stripped ids, None when missing: the row labels of every finding
            c.ids = expanded
            c.id_codes = _id_codes(values, u, codes)
        invalid = invalid.to_numpy(dtype=bool)
        if invalid.any():  # checked on the distinct values: a clean column is not expanded to its rows
            _report_invalid(c, frame[file_col], pd.Series(invalid[codes], index=frame.index), spec, file_col, today)
    return _frame_of(typed, frame.index)


def _expand(values: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``values.take(codes)`` on ``index``: one numpy take of the values (and of the mask of a masked dtype)."""
    dtype = values.dtype
    if isinstance(dtype, (pd.BooleanDtype, pd.Int64Dtype)):
        masked = values.array
        mask = masked.isna()
        data = masked.to_numpy(dtype=dtype.numpy_dtype, na_value=dtype.numpy_dtype.type(0))
        array = type(masked)(data[codes], mask[codes], copy=False)
    elif isinstance(dtype, np.dtype):
        array = values.to_numpy()[codes]
    else:
        return values.take(codes).set_axis(index, copy=False)
    return pd.Series(array, index=index, copy=False)


def _id_codes(ids: pd.Series, cells: pd.Series, codes: np.ndarray) -> np.ndarray:
    """An integer per row (``codes`` into the distinct ``cells``), the same for the same id in ``ids`` (the
    stripped ``cells``, None when missing) and -1 where it is missing. Distinct cells that nothing was stripped
    from are distinct ids: they are hashed again only when stripping changed a cell."""
    values = ids.to_numpy(dtype=object)
    present = ids.notna().to_numpy()
    if ((values == cells.to_numpy(dtype=object)) | ~present).all():
        per_distinct = np.where(present, np.arange(len(values)), -1)
    else:
        per_distinct = pd.factorize(values)[0]
    return per_distinct[codes]


def _recode(u: pd.Series, codes: np.ndarray, recode: Mapping[str, str], spec: schema.ColumnSpec, file_col: str,
            conversions: list[str]) -> pd.Series:
    """The distinct values ``u`` with each value of ``recode`` (stripped, as in the file) replaced by its allowed
    value; one conversion line per value recoded (with its row count). Targets outside the allowed values are
    ignored."""
    allowed = set(spec.allowed)
    stripped = u.str.strip()
    out = u.copy()
    counts = np.bincount(codes, minlength=len(u)) if len(codes) else np.zeros(len(u), dtype=np.int64)
    for value, target in recode.items():
        hit = (stripped == value).to_numpy()
        if target not in allowed or not hit.any():
            continue
        out[hit] = target
        n = int(counts[hit].sum())
        conversions.append(f"{spec.name}: '{short(value)}' in column '{short(file_col)}' recoded to '{target}' "
                           f"({n:,} row{'s' if n != 1 else ''}; suggestion accepted on the Data page).")
    return out


def _distinct(cells: pd.Series, coded: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of a column as read, in order of first appearance (as ``pd.factorize``),
    for a column of strs or a categorical one (:func:`il2lib.validation.read.read_table` with ``compact``).
    ``coded``: the reader's (codes, distinct texts) of an object column, used when they give its cells."""
    if isinstance(cells.dtype, pd.CategoricalDtype):
        codes, categories = cells.array.codes, cells.array.categories.to_numpy(dtype=object)
        if _first_appearance(codes, len(categories)):  # as the reader writes them: already factorized
            return codes, categories
        if not (codes < 0).any():
            order, used = pd.factorize(codes)
            return order, categories[used]
    values = cells.to_numpy(dtype=object)
    if coded is not None and _codes_give(values, *coded):
        return coded
    return pd.factorize(values, use_na_sentinel=False)


def _first_appearance(codes: np.ndarray, n: int) -> bool:
    """Whether every one of ``n`` codes is used and each first appears after the one before it."""
    if not len(codes):
        return n == 0
    if codes[0] != 0 or codes.min() < 0:
        return False
    highest = np.maximum.accumulate(codes)
    return highest[-1] == n - 1 and np.count_nonzero(np.diff(highest)) == n - 1


def _codes_give(values: np.ndarray, codes: np.ndarray, texts: np.ndarray) -> bool:
    """Whether ``texts[codes]`` are ``values``, in order of first appearance (``texts``, a dictionary's values, are
    distinct)."""
    if len(codes) != len(values) or not _first_appearance(codes, len(texts)):
        return False
    return bool((texts[codes] == values).all())


def _frame_of(columns: Mapping[Any, Any], index: pd.Index) -> pd.DataFrame:
    """A frame of these columns in this order, each keeping its own array (``copy=False``: pandas
    neither copies them nor merges columns of one dtype into a new block)."""
    return pd.DataFrame(dict(columns), index=index, copy=False)


def _convert(c, u, missing, spec, file_col, date_order, decimal_comma, conversions, today):
    """(typed values, unreadable mask) of the distinct cells ``u`` of one column that is not text."""
    name = spec.name
    if spec.kind == "date":
        parsed = coerce.to_date(u, missing, date_order.get(name) or date_order.get("*"), today)
        if parsed.ambiguous:
            c.add("file_error", f"Column '{short(file_col)}' ({name}): every date could be day-first or month-first "
                  f"(e.g. '{short(parsed.example)}'); choose the date order, DD/MM/YYYY or MM/DD/YYYY.", column=name,
                  value=parsed.example, kind=AMBIGUOUS_DATE_ORDER, examples=parsed.examples)
        elif parsed.decision and parsed.decision != "ISO YYYY-MM-DD":
            conversions.append(f"{name}: dates read as {parsed.decision}.")
        return parsed.values, parsed.invalid
    if spec.kind in ("category", "bool"):
        convert = coerce.to_category if spec.kind == "category" else coerce.to_bool
        return convert(u, missing, spec)
    convert = coerce.to_number if spec.kind == "number" else coerce.to_int
    return convert(u, missing, decimal_comma)


def _report_invalid(c, raw_s, invalid, spec, file_col, today) -> None:
    name = spec.name
    if not invalid.any():
        return
    if spec.kind == "date":
        positions = np.flatnonzero(invalid.to_numpy())
        problems: dict[str, str] = {}  # one look per distinct value
        for pos, cell in zip(positions, raw_s.take(positions).to_numpy(dtype=object)):
            value = cell.strip()
            if value not in problems:
                problems[value] = coerce.date_problem(value, today)
            c.row("row_error", pos, f"{c.label(pos)}: {name} '{short(value)}' {problems[value]}.", name, value)
    elif spec.kind in ("category", "bool"):
        _unrecognised(c, raw_s, invalid, spec)
    elif spec.kind in ("number", "int"):
        what = "a number" if spec.kind == "number" else "a whole number"
        c.rows("warning", invalid, "{row}: " + name + " '{value}' is not " + what + "; treated as missing.",
               name, analysis=name, raw_column=file_col)


def _unrecognised(c: Collector, raw_s: pd.Series, invalid: pd.Series, spec: schema.ColumnSpec) -> None:
    if spec.kind == "bool":
        allowed = "Yes/No (also 1/0, Y/N, TRUE/FALSE, T/F)"
    else:
        synonyms = [k for k in spec.value_synonyms if k not in {schema.norm(a) for a in spec.allowed}][:4]
        allowed = "/".join(spec.allowed) + (f" (or synonyms such as {', '.join(synonyms)})" if synonyms else "")
    hints: dict[str, str | None] = {}
    positions = np.flatnonzero(invalid.to_numpy())
    for pos, cell in zip(positions, raw_s.take(positions).to_numpy(dtype=object)):
        value = cell.strip()
        if value not in hints:
            hints[value] = coerce.closest_value(value, spec) if spec.kind == "category" else None
        best = hints[value]
        c.row("row_error", pos, f"{c.label(pos)}: {spec.name} '{short(value)}' not recognised; allowed "
              f"{allowed}." + (f" Did you mean '{best}'?" if best else ""), spec.name, value,
              **({"kind": RECODE_SUGGESTION, "suggestion": best} if best else {}))


def _row_rules(c: Collector, raw: RawTable, t: pd.DataFrame, resolved: dict[str, str], conversions: list[str]):
    position_of = {int(r): i for i, r in enumerate(raw.file_rows)} if raw.bad_rows else {}
    for file_row, problem in raw.bad_rows:
        c.row("row_error", position_of[file_row], f"{c.label(position_of[file_row])} {problem}.")
    reasons = _Reasons(c)
    for name in (schema.PATIENT_ID, schema.DISEASE):
        c.rows("row_error", t[name].isna() & ~reasons.of(t, name), "{row}: '" + name + "' is empty.", name)
    rules.check_duplicates(c, t[schema.PATIENT_ID], c.id_codes)
    empty_bor = t[schema.BOR].isna() & ~reasons.of(t, schema.BOR)
    c.rows("warning", empty_bor, "{rowid}: 'bor' is empty; counted as NE.", schema.BOR)
    t.loc[empty_bor.to_numpy(), schema.BOR] = "NE"
    _empty_required(c, t, reasons)
    raw_names = {v: k for k, v in resolved.items()}
    conversions.extend(rules.convert_units(c, t))
    rules.check_ranges(c, t, {n: schema.COLUMNS[n] for n in t.columns}, raw_names)
    rules.check_chronology(c, t)
    rules.check_flags(c, t)
    rules.check_responders(c, t)


class _Reasons:
    """Rows that already have a finding on a column (an unreadable value is not also "empty"), asked for several
    columns in turn: each finding is read once."""

    def __init__(self, c: Collector):
        self.c, self.seen, self.rows = c, 0, {}
        lines = np.asarray(c.file_rows)
        self.ascending = lines.ndim == 1 and len(lines) > 0 and bool(np.all(lines[1:] > lines[:-1]))

    def of(self, t: pd.DataFrame, column: str) -> pd.Series:
        findings = self.c.findings
        for f in findings[self.seen:]:
            if f.file_row is not None:
                self.rows.setdefault(f.column, set()).add(f.file_row)
        self.seen = len(findings)
        rows = self.rows.get(column)
        if not rows:
            flagged = np.zeros(len(t), dtype=bool)
        elif self.ascending:  # each file row at one position, found by bisection
            lines, wanted = np.asarray(self.c.file_rows), np.array(list(rows))
            at = np.minimum(np.searchsorted(lines, wanted), max(len(lines) - 1, 0))
            flagged = np.zeros(len(lines), dtype=bool)
            flagged[at[lines[at] == wanted]] = True
        else:
            flagged = np.isin(self.c.file_rows, list(rows))
        return pd.Series(flagged, index=t.index)


def _empty_required(c: Collector, t: pd.DataFrame, reasons: _Reasons) -> None:
    given_os = t[schema.OS_MONTHS].notna() if schema.OS_MONTHS in t.columns else pd.Series(False, index=t.index)
    infer = t[schema.DIED].isna() & t[schema.DATE_DEATH].notna() if schema.DATE_DEATH in t.columns else None
    if infer is not None and infer.any():
        c.rows("warning", infer, "{rowid}: 'died' is empty; taken as Yes because date_death is given.", schema.DIED)
        t.loc[infer.to_numpy(), schema.DIED] = True
    if schema.DATE_IL2_START in t.columns:
        c.rows("warning", t[schema.DATE_IL2_START].isna() & ~given_os & ~reasons.of(t, schema.DATE_IL2_START),
               "{rowid}: 'date_il2_start' is empty; left out of OS and PFS.", schema.DATE_IL2_START,
               analysis="os,pfs")
    c.rows("warning", t[schema.PRIOR_PD1].isna() & ~reasons.of(t, schema.PRIOR_PD1),
           "{rowid}: 'prior_pd1_pdl1' is empty; left out of prior PD-1/PD-L1 comparisons.", schema.PRIOR_PD1,
           analysis=schema.PRIOR_PD1)
    if schema.PRIOR_LINES not in t.columns:  # required only for line-of-therapy analyses (docs/domain.md)
        c.add("warning", f"No 'prior_systemic_lines' column (accepted names: {accepted_names(schema.PRIOR_LINES)}); "
              "line-of-therapy analyses are unavailable.", column=schema.PRIOR_LINES, analysis=schema.LINE_OF_IL2)
        return
    c.rows("warning", t[schema.PRIOR_LINES].isna() & ~reasons.of(t, schema.PRIOR_LINES),
           "{rowid}: 'prior_systemic_lines' is empty; left out of line-of-therapy analyses.", schema.PRIOR_LINES,
           analysis=schema.LINE_OF_IL2)


def _unknown_benefit(c: Collector, derived: pd.DataFrame, cb_sd_months: float, code: np.ndarray) -> None:
    """One warning counting analysed SD patients whose clinical benefit is NA (no SD duration). ``code``: the
    BOR as :func:`recist.bor_codes`."""
    analysed = np.ones(len(derived), dtype=bool)
    analysed[list(c.reasons)] = False
    unknown = (code == SD) & analysed & derived[schema.CLINICAL_BENEFIT].isna().to_numpy()
    n = int(unknown.sum())
    if n:
        c.add("warning", f"{n:,} SD patient{'s' if n > 1 else ''} without sd_duration_months (or dates to compute it): "
              f"clinical benefit (SD >= {cb_sd_months:g} months) is unknown (NA) for "
              f"{'them' if n > 1 else 'this patient'}.", column=schema.SD_DURATION, analysis=schema.CLINICAL_BENEFIT)


def _irecist_categories(c: Collector, frame: pd.DataFrame, typed: pd.DataFrame, resolved: dict[str, str],
                        conversions: list[str]) -> None:
    """Keep the iRECIST category of each BOR (mapped to RECIST 1.1 by the schema) and warn for iUPD."""
    from il2lib.validation.recist import IRECIST_TO_RECIST, irecist_category

    raw_bor = next((col for col, name in resolved.items() if name == schema.BOR), None)
    if raw_bor is None or schema.BOR not in typed.columns:
        return
    cells = frame[raw_bor]
    if isinstance(cells.dtype, pd.CategoricalDtype):
        codes, uniques = cells.cat.codes.to_numpy(), cells.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(cells.astype(object), use_na_sentinel=True)
    names = list(IRECIST_TO_RECIST)  # each distinct cell read once, the rows taken by their codes
    found = irecist_category(pd.Series(uniques, dtype=object))
    which = np.append([names.index(v) if v is not None else -1 for v in found], -1).astype(np.int8)
    row = which[codes]
    if not (row >= 0).any():
        return
    typed[schema.BOR_IRECIST] = np.array(names + [None], dtype=object)[row]
    counts = np.bincount(row[row >= 0], minlength=len(names))
    conversions.append("bor: iRECIST categories counted as their RECIST 1.1 counterpart ("
                       + ", ".join(f"{k} -> {v}: {int(counts[i])}" for i, (k, v) in
                                   enumerate(IRECIST_TO_RECIST.items()) if counts[i]) + ").")
    iupd = row == names.index("iUPD")
    c.rows("warning", iupd, "{rowid}: bor 'iUPD' (iRECIST unconfirmed progression) "
           "counted as PD: bor is the best overall response, and a progression never confirmed is still PD under "
           "RECIST 1.1.", schema.BOR, raw_column=raw_bor)


def _response_rule_warnings(c: Collector, derived: pd.DataFrame, rules: ResponseRules, code: np.ndarray) -> None:
    """CR/PR with response_confirmed = No and SD shorter than the SD minimum (default rules), one warning each.
    ``rules``: those :func:`il2lib.validation.derive.derive` applied (the same view, SD minimum and window);
    ``code``: the BOR as :func:`recist.bor_codes`."""
    analysed = np.ones(len(derived), dtype=bool)
    analysed[list(c.reasons)] = False
    counted = rules.bor.to_numpy(dtype=object)
    bor = derived[schema.BOR].to_numpy(dtype=object)
    if rules.view == "confirmed":
        confirmed = derived[schema.RESPONSE_CONFIRMED]
        if confirmed.dtype == "boolean":
            said_no = ~confirmed.array.to_numpy(dtype=bool, na_value=True)
        else:
            said_no = confirmed.astype("boolean").eq(False).fillna(False).to_numpy()
        mask = analysed & said_no & ((code == CR) | (code == PR))
        c.rows("warning", mask, "{rowid}: {bor} not confirmed (response_confirmed = No): counted as {counted} in "
               "the confirmed-only ORR (RECIST 1.1), as a response in the all-responses ORR.", schema.RESPONSE_CONFIRMED,
               analysis="response", bor=pd.Series(bor), counted=pd.Series(counted))
    short = analysed & (code == SD)
    sd_rows = np.flatnonzero(short)
    short[sd_rows] = counted[sd_rows] != "SD"  # the counted BOR read where SD was recorded only
    c.rows("warning", short, "{rowid}: SD lasted less than the SD minimum (" + f"{schema.SD_MINIMUM_WEEKS_DEFAULT:g}"
           + " weeks from IL-2 start): counted as {counted} for disease control (RECIST 1.1).", schema.BOR,
           analysis="response", counted=pd.Series(counted))


#: Cells of the unmapped columns up to which they are stripped as one block (a file of many columns and
#: few rows), not column by column through each column's distinct values (a file of many rows).
EXTRAS_BLOCK_CELLS = 1_000_000


def _extras(frame: pd.DataFrame, unmapped: Sequence[str], rows: np.ndarray | None) -> list[np.ndarray]:
    """Unmapped columns of the rows kept (all when ``rows`` is None): stripped text, None when missing."""
    if unmapped and len(frame) * len(unmapped) <= EXTRAS_BLOCK_CELLS:
        block = frame[list(unmapped)]
        stripped, missing = coerce.strip_block(block if rows is None else block.iloc[rows])
        values = np.where(missing, None, stripped).astype(object)
        return [values[:, j] for j in range(values.shape[1])]
    out = []
    for column in unmapped:
        codes, uniques = _distinct(frame[column])
        stripped, missing = coerce.strip_block(pd.DataFrame({0: uniques}, dtype=object))
        values = np.where(missing[:, 0], None, stripped[:, 0]).astype(object)
        out.append(values[codes if rows is None else codes[rows]])
    return out


#: Cells of the derived table from which each column is taken out of it as its analysed rows are copied (the
#: table is never held twice); a smaller table is read in place (each removal rebuilds the table's blocks).
TAKE_OUT_CELLS = 1_000_000


def _assemble(raw, c, derived, rows, extras, excluded, resolved, unmapped, identifiers, conversions, cb_sd_months,
              window) -> Cohort:
    """The analysed rows (``rows``, None for all), one column at a time: each column of a large table leaves
    ``derived`` as its rows are copied, so the table is never held twice."""
    derived.insert(0, schema.FILE_ROW, raw.file_rows.astype("int64"))
    for name, dtype in _DERIVED_DTYPES.items():
        if name in derived.columns:
            derived[name] = derived[name].astype(dtype)
    index = pd.RangeIndex(len(derived) if rows is None else len(rows))
    order = [schema.FILE_ROW] + [s.name for s in schema.PATIENT_COLUMNS if s.name in derived.columns]
    order += [n for n in schema.DERIVED_COLUMNS if n in derived.columns and n not in order]
    names = order + [column if column not in derived.columns else f"{column} (file)" for column in unmapped]
    columns: list[Any] = []
    take_out = rows is not None and derived.size > TAKE_OUT_CELLS
    for name in order:
        column = derived.pop(name) if take_out else derived[name]
        columns.append(column.set_axis(index, copy=False) if rows is None else _expand(column, rows, index))
    del derived
    columns += [pd.Series(v, index=index, dtype=object, copy=False) for v in extras]
    del extras[:]
    data = _frame_of(enumerate(columns), index)  # by position: an unmapped column may repeat a name
    del columns
    data.columns = names
    report = build_report(len(raw.frame), len(data), c, resolved, unmapped, identifiers, conversions)
    return Cohort(data, report, excluded, raw.fingerprint, raw.source_name, cb_sd_months, window)


def _excluded_frame(raw: RawTable, positions: np.ndarray, reasons: list[str]) -> pd.DataFrame:
    """Excluded rows as read (strings), with ``file_row`` first and ``reasons`` last; index 0..n-1."""
    source = raw.frame
    names = [f"{c} (file)" if c in (schema.FILE_ROW, "reasons") else c for c in source.columns]
    block = np.empty((len(names), len(positions)), dtype=object)
    for k, (_, column) in enumerate(source.items()):
        block[k] = np.asarray(column.array.take(positions), dtype=object)
    frame = pd.DataFrame(block.T, columns=names, dtype=object, copy=False)
    frame.insert(0, schema.FILE_ROW, raw.file_rows[positions])
    frame["reasons"] = reasons
    return frame


def _blocked(raw, c, resolved, unmapped, identifiers, conversions, cb_sd_months, window) -> Cohort:
    reason = "; ".join(f.message for f in c.findings if f.level == "file_error")
    excluded = _excluded_frame(raw, np.arange(len(raw.frame)), [reason] * len(raw.frame))
    report = build_report(len(raw.frame), 0, c, resolved, unmapped, identifiers, conversions)
    return Cohort(empty_patient_frame(), report, excluded, raw.fingerprint, raw.source_name, cb_sd_months, window)


def rows_and_report(c, t, raw, resolved, unmapped, identifiers, conversions,
                    columns: list[str] | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """The rows of a companion table (AE, tumour) without a row finding, their file row first, and the load's report."""
    t.insert(0, schema.FILE_ROW, raw.file_rows.astype("int64"))
    keep = np.ones(len(t), dtype=bool)
    keep[list(c.reasons)] = False
    data = (t.loc[keep] if columns is None else t.loc[keep, [schema.FILE_ROW, *columns]]).reset_index(drop=True)
    return data, build_report(len(raw.frame), int(keep.sum()), c, resolved, unmapped, identifiers, conversions)


def build_report(n_loaded, n_analysed, c, resolved, unmapped, identifiers, conversions) -> ValidationReport:
    """The report of a load: counts, findings, the mapping used and the conversions made."""
    return ValidationReport(n_loaded=n_loaded, n_analysed=n_analysed, n_excluded=n_loaded - n_analysed,
                            findings=tuple(c.findings), mapping=dict(resolved), unmapped_columns=tuple(unmapped),
                            identifier_columns=tuple(identifiers), conversions=tuple(conversions))
