"""Check a REDCap Data Dictionary CSV against REDCap's documented rules, without a REDCap server.

Rules (REDCap's Data Dictionary help): the 18 columns in order; the first field is the record id
(a text field on the first form); field names match ``^[a-z][a-z0-9_]*$`` (at most 100 characters) and
are unique; every field has a form name (same pattern) and a known field type; dropdown, radio and
checkbox fields have ``code, label | ...`` choices with unique codes (numbers or letters, digits and
underscores); text validation types come from REDCap's list; ``Identifier?`` and ``Required Field?``
are ``y`` or empty; a form's fields are contiguous.
"""
from __future__ import annotations

import re
from typing import Any

from il2lib.redcap.dictionary import CHOICE_TYPES, DICTIONARY_COLUMNS, read_dictionary, read_rows
from il2lib.validation.read import source_bytes

FIELD_TYPES = ("text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "file", "slider",
               "descriptive", "sql")
#: REDCap's text validation types (Control Center > Field Validation Types), legacy names included.
VALIDATION_TYPES = (
    "date_dmy", "date_mdy", "date_ymd", "datetime_dmy", "datetime_mdy", "datetime_ymd", "datetime_seconds_dmy",
    "datetime_seconds_mdy", "datetime_seconds_ymd", "time", "time_hh_mm_ss", "time_mm_ss", "integer", "number",
    "number_1dp", "number_2dp", "number_3dp", "number_4dp", "number_comma_decimal", "number_1dp_comma_decimal",
    "number_2dp_comma_decimal", "number_3dp_comma_decimal", "number_4dp_comma_decimal", "alpha_only", "email",
    "phone", "phone_australia", "phone_uk", "zipcode", "postalcode_australia", "postalcode_canada",
    "postalcode_french", "postalcode_germany", "postalcode_uk", "ssn", "vmrn", "mrn_10d", "mrn_generic",
    # legacy names REDCap still accepts
    "date", "datetime", "datetime_seconds", "int", "float",
)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CODE_PATTERN = re.compile(r"^(-?\d+(\.\d+)?|[A-Za-z0-9_]+)$")
MAX_NAME_LENGTH = 100


def check_dictionary(source: Any) -> list[str]:
    """Problems of a data dictionary CSV, one sentence each naming the line and field; empty = passes."""
    data, _ = source_bytes(source)
    header, rows, _ = read_rows(data)
    problems: list[str] = []
    if tuple(header) != DICTIONARY_COLUMNS:
        if len(header) != len(DICTIONARY_COLUMNS):
            problems.append(f"The header has {len(header)} columns; a REDCap data dictionary has "
                            f"{len(DICTIONARY_COLUMNS)}: {', '.join(DICTIONARY_COLUMNS)}.")
        for k, expected in enumerate(DICTIONARY_COLUMNS):
            got = header[k] if k < len(header) else ""
            if got != expected:
                problems.append(f"Column {k + 1} of the header is '{got}'; REDCap expects '{expected}'.")
                break
    dictionary = read_dictionary(data)
    fields = dictionary.fields
    if not fields:
        return problems + ["The dictionary has no fields."]
    problems += list(dictionary.problems)
    for k, row in enumerate(rows, start=2):
        if len(row) != len(header):
            problems.append(f"Line {k}: {len(row)} cells, the header has {len(header)}.")
    first = fields[0]
    if first.field_type != "text":
        problems.append(f"Line {first.row}: the first field '{first.name}' is the record id and must be a text "
                        f"field, not '{first.field_type}'.")
    if first.branching:
        problems.append(f"Line {first.row}: the record id '{first.name}' cannot have branching logic.")
    seen: dict[str, int] = {}
    closed_forms: set[str] = set()
    previous_form = None
    for f in fields:
        where = f"Line {f.row} ({f.name or 'no name'})"
        if not f.name:
            problems.append(f"Line {f.row}: the field name is empty.")
        elif not NAME_PATTERN.match(f.name):
            problems.append(f"{where}: field name '{f.name}' must be lower-case letters, digits and underscores, "
                            "starting with a letter (^[a-z][a-z0-9_]*$).")
        elif len(f.name) > MAX_NAME_LENGTH:
            problems.append(f"{where}: field name longer than {MAX_NAME_LENGTH} characters.")
        if f.name and f.name in seen:
            problems.append(f"{where}: field name '{f.name}' is already used on line {seen[f.name]}.")
        seen.setdefault(f.name, f.row)
        if f.name.endswith("_complete") and f.name[:-len("_complete")] in {g.form for g in fields}:
            problems.append(f"{where}: '{f.name}' is reserved for the form status of form "
                            f"'{f.name[:-len('_complete')]}'.")
        if "___" in f.name:
            problems.append(f"{where}: a field name cannot contain '___' (REDCap's checkbox column separator).")
        if not f.form:
            problems.append(f"{where}: the form name is empty.")
        elif not NAME_PATTERN.match(f.form):
            problems.append(f"{where}: form name '{f.form}' must be lower-case letters, digits and underscores, "
                            "starting with a letter.")
        if f.form != previous_form:
            if f.form in closed_forms:
                problems.append(f"{where}: form '{f.form}' continues after another form; a form's fields must be "
                                "contiguous.")
            if previous_form is not None:
                closed_forms.add(previous_form)
            previous_form = f.form
        if f.field_type not in FIELD_TYPES:
            problems.append(f"{where}: field type '{f.field_type}' is not a REDCap field type "
                            f"({', '.join(FIELD_TYPES)}).")
        if f.field_type in CHOICE_TYPES + ("checkbox",):
            if not f.choices:
                problems.append(f"{where}: a {f.field_type} field needs choices 'code, label | code, label'.")
            for code, label in f.choices:
                if not CODE_PATTERN.match(code):
                    problems.append(f"{where}: choice code '{code}' must be a number or letters, digits and "
                                    "underscores.")
                if not label:
                    problems.append(f"{where}: choice code '{code}' has no label.")
        if f.field_type == "calc" and not _cell(rows, f.row, 5):
            problems.append(f"{where}: a calc field needs its calculation in the choices column.")
        if f.validation:
            if f.field_type not in ("text", "slider"):
                problems.append(f"{where}: a validation type ('{f.validation}') is only allowed on text fields.")
            elif f.field_type == "text" and f.validation not in VALIDATION_TYPES:
                problems.append(f"{where}: validation type '{f.validation}' is not one of REDCap's "
                                "(e.g. date_ymd, integer, number).")
        if (f.minimum or f.maximum) and not f.validation:
            problems.append(f"{where}: validation min/max need a validation type.")
        for column, value in (("Identifier?", _cell(rows, f.row, 10)), ("Required Field?", _cell(rows, f.row, 12))):
            if value and value.lower() != "y":
                problems.append(f"{where}: '{column}' must be 'y' or empty, not '{value}'.")
    return problems


def _cell(rows: list[list[str]], line: int, column: int) -> str:
    row = rows[line - 2]
    return row[column].strip() if column < len(row) else ""
