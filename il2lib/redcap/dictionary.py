"""A REDCap Data Dictionary CSV: its 18 columns, fields, choices and validation types.

:func:`read_dictionary` reads the file REDCap gives under "Project Home and Design > Data Dictionary >
Download the current Data Dictionary"; :func:`parse_choices` reads a choices cell
(``1, Melanoma | 2, Renal cell carcinoma``). Structural problems (what :mod:`il2lib.redcap.checker`
reports) do not stop the reading: the fields that can be read are kept.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from il2lib.errors import CohortFileError
from il2lib.validation.read import source_bytes

#: The 18 columns of a REDCap Data Dictionary CSV, in order.
DICTIONARY_COLUMNS = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
)
#: Largest dictionary file read (a dictionary of thousands of fields is well under 1 MB).
MAX_DICTIONARY_BYTES = 20 * 2**20
#: Field types whose value is one code of the choices cell.
CHOICE_TYPES = ("dropdown", "radio")
#: yesno and truefalse export 1/0 (raw) and Yes/No, True/False (labels).
BOOLEAN_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
DATE_VALIDATIONS = ("date_ymd", "date_mdy", "date_dmy", "date")
DATETIME_VALIDATIONS = ("datetime_ymd", "datetime_mdy", "datetime_dmy", "datetime_seconds_ymd",
                        "datetime_seconds_mdy", "datetime_seconds_dmy", "datetime")
NUMBER_VALIDATIONS = ("integer", "int", "number", "float", "number_1dp", "number_2dp", "number_3dp", "number_4dp",
                      "number_comma_decimal", "number_1dp_comma_decimal", "number_2dp_comma_decimal",
                      "number_3dp_comma_decimal", "number_4dp_comma_decimal")


@dataclass(frozen=True)
class Field:
    """One field (row) of a data dictionary."""

    name: str
    form: str
    field_type: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    validation: str = ""
    identifier: bool = False
    row: int = 0  # line of the dictionary file (header = 1)
    minimum: str = ""
    maximum: str = ""
    note: str = ""
    section_header: str = ""
    required: bool = False
    branching: str = ""

    @property
    def choice_map(self) -> dict[str, str]:
        """code -> label (the 1/0 codes of yesno and truefalse included)."""
        if self.field_type in BOOLEAN_CHOICES:
            return dict(BOOLEAN_CHOICES[self.field_type])
        return dict(self.choices)

    @property
    def is_date(self) -> bool:
        return self.field_type == "text" and self.validation in DATE_VALIDATIONS + DATETIME_VALIDATIONS

    @property
    def is_coded(self) -> bool:
        """A value is a code to decode (dropdown, radio, yesno, truefalse; checkboxes are columns per code)."""
        return self.field_type in CHOICE_TYPES or self.field_type in BOOLEAN_CHOICES


@dataclass(frozen=True)
class DataDictionary:
    """Fields in dictionary order; ``problems`` are the structural problems met while reading."""

    fields: tuple[Field, ...]
    header: tuple[str, ...] = DICTIONARY_COLUMNS
    problems: tuple[str, ...] = ()
    source_name: str = "data dictionary"
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.by_name.update({f.name: f for f in self.fields})

    @property
    def record_id(self) -> str | None:
        """The record-id field: the first field of the dictionary."""
        return self.fields[0].name if self.fields else None

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.form for f in self.fields))

    def form_fields(self, form: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.form == form)

    def checkbox_column(self, name: str, code: str) -> str:
        """Raw-export column of one checkbox choice (REDCap: ``field___code``, code lower-cased,
        other characters than letters, digits and underscores replaced by ``_``)."""
        return f"{name}___{checkbox_suffix(code)}"


def checkbox_suffix(code: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(code).strip().lower())


def parse_choices(text: str) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """``"1, Melanoma | 2, Renal cell carcinoma"`` -> ``((("1", "Melanoma"), ("2", "Renal cell carcinoma")), [])``.

    The code is the text before the first comma of each ``|``-separated choice; a choice without a comma,
    an empty code or a code given twice is a problem (returned as text, the choice left out).
    """
    choices: list[tuple[str, str]] = []
    problems: list[str] = []
    text = (text or "").replace("\\n", "|").strip()
    if not text:
        return (), problems
    seen: set[str] = set()
    for part in text.split("|"):
        part = part.strip()
        if not part:
            problems.append("an empty choice between two '|'")
            continue
        code, sep, label = part.partition(",")
        code, label = code.strip(), label.strip()
        if not sep or not code:
            problems.append(f"choice '{part}' is not 'code, label'")
            continue
        if code in seen:
            problems.append(f"choice code '{code}' is given twice")
            continue
        seen.add(code)
        choices.append((code, label))
    return tuple(choices), problems


def read_rows(source: Any) -> tuple[list[str], list[list[str]], str]:
    """Header, data rows and display name of a dictionary CSV (UTF-8, with or without BOM; Latin-1 fallback)."""
    data, name = source_bytes(source)
    if len(data) > MAX_DICTIONARY_BYTES:
        raise CohortFileError(f"'{name}' is {len(data) / 2**20:.0f} MB: larger than any REDCap data dictionary "
                              f"(at most {MAX_DICTIONARY_BYTES // 2**20} MB are read).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        raise CohortFileError(f"'{name}' is empty: it is not a REDCap data dictionary.")
    sample = text[:4096]
    delimiter = max((",", ";", "\t"), key=sample.split("\n", 1)[0].count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise CohortFileError(f"'{name}' is empty: it is not a REDCap data dictionary.")
    return [h.strip() for h in rows[0]], rows[1:], name


def read_dictionary(source: Any) -> DataDictionary:
    """Read a Data Dictionary CSV (path, bytes or file-like).

    Columns are found by position when the header has REDCap's 18 columns, else by name (case and
    spacing ignored); a file without a field-name, form-name and field-type column raises
    :class:`~il2lib.errors.CohortFileError`.
    """
    if isinstance(source, DataDictionary):
        return source
    header, rows, name = read_rows(source)
    index = _column_index(header)
    missing = [c for c in ("Variable / Field Name", "Form Name", "Field Type") if c not in index]
    if missing:
        raise CohortFileError(f"'{name}' is not a REDCap data dictionary: no column "
                              f"{', '.join(repr(m) for m in missing)} (its header must be REDCap's 18 columns, "
                              f"starting with 'Variable / Field Name').")
    problems: list[str] = []
    fields: list[Field] = []

    def cell(row: list[str], column: str) -> str:
        k = index.get(column)
        return row[k].strip() if k is not None and k < len(row) else ""

    for i, row in enumerate(rows, start=2):
        fname = cell(row, "Variable / Field Name")
        choices, choice_problems = (), []
        ftype = cell(row, "Field Type").lower()
        raw_choices = cell(row, "Choices, Calculations, OR Slider Labels")
        if ftype in CHOICE_TYPES + ("checkbox",):
            choices, choice_problems = parse_choices(raw_choices)
        problems += [f"Line {i} ({fname}): {p}." for p in choice_problems]
        fields.append(Field(
            name=fname, form=cell(row, "Form Name"), field_type=ftype, label=cell(row, "Field Label"),
            choices=choices, validation=cell(row, "Text Validation Type OR Show Slider Number").lower(),
            identifier=cell(row, "Identifier?").lower() in ("y", "yes"), row=i,
            minimum=cell(row, "Text Validation Min"), maximum=cell(row, "Text Validation Max"),
            note=cell(row, "Field Note"), section_header=cell(row, "Section Header"),
            required=cell(row, "Required Field?").lower() in ("y", "yes"),
            branching=cell(row, "Branching Logic (Show field only if...)")))
    return DataDictionary(tuple(fields), tuple(header), tuple(problems), name)


def _column_index(header: list[str]) -> dict[str, int]:
    if len(header) == len(DICTIONARY_COLUMNS) and all(_key(h) == _key(c) for h, c in zip(header, DICTIONARY_COLUMNS)):
        return {c: k for k, c in enumerate(DICTIONARY_COLUMNS)}
    keys = {_key(h): k for k, h in enumerate(header)}
    out = {c: keys[_key(c)] for c in DICTIONARY_COLUMNS if _key(c) in keys}
    aliases = {"Variable / Field Name": ("variable field name", "field name", "variable"),
               "Choices, Calculations, OR Slider Labels": ("choices", "choices or calculations"),
               "Text Validation Type OR Show Slider Number": ("text validation type", "validation")}
    for column, names in aliases.items():
        if column not in out:
            out.update({column: keys[n] for n in names if n in keys})
    return out


def _key(text: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in text).split())


def dictionary_csv_bytes(dictionary: DataDictionary) -> bytes:
    """The dictionary as REDCap writes it: 18 columns, every cell quoted where needed, ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DICTIONARY_COLUMNS)
    for f in dictionary.fields:
        choices = " | ".join(f"{code}, {label}" for code, label in f.choices)
        writer.writerow([f.name, f.form, f.section_header, f.field_type, f.label, choices, f.note, f.validation,
                         f.minimum, f.maximum, "y" if f.identifier else "", f.branching, "y" if f.required else "",
                         "", "", "", "", ""])
    return out.getvalue().encode("utf-8")
