"""The REDCap project template in redcap/: the data dictionary passes the checker, the project XML is valid
XML that agrees with the dictionary, and the checker rejects broken dictionaries with clear messages."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from il2lib import schema
from il2lib.redcap import check_dictionary, parse_choices, read_dictionary
from il2lib.redcap.__main__ import main as redcap_main
from il2lib.redcap.dictionary import DICTIONARY_COLUMNS
from il2lib.redcap.template import (DICTIONARY_FILE, EVENTS, REPEATING_FORMS, TEMPLATE_DIR, XML_FILE, project_xml,
                                    template_dictionary_csv)

DICTIONARY = TEMPLATE_DIR / DICTIONARY_FILE
XML = TEMPLATE_DIR / XML_FILE
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "redcap": "https://projectredcap.org"}
R = "{https://projectredcap.org}"


def test_committed_template_files_are_the_generator_output():
    assert DICTIONARY.read_bytes() == template_dictionary_csv()
    assert XML.read_bytes() == project_xml()
    assert (TEMPLATE_DIR / "README.md").is_file()


def test_template_dictionary_passes_the_checker(capsys):
    assert check_dictionary(DICTIONARY) == []
    assert redcap_main(["check", str(DICTIONARY)]) == 0
    assert "0 problems" in capsys.readouterr().out


def test_template_fields_are_schema_columns_with_schema_codes():
    d = read_dictionary(DICTIONARY)
    assert d.record_id == schema.PATIENT_ID
    for f in d.fields:
        if f.form in REPEATING_FORMS:
            continue
        assert f.name in schema.COLUMNS, f.name
        spec = schema.COLUMNS[f.name]
        if spec.kind == "date":
            assert f.validation == "date_ymd", f.name
        if spec.kind == "bool":
            assert f.field_type == "yesno", f.name
        if spec.kind == "category":  # every code reads as an allowed value of the schema
            allowed = {schema.norm(a) for a in spec.allowed} | set(spec.value_synonyms)
            assert all(schema.norm(code) in allowed for code, _ in f.choices), f.name
    ae = [f.name for f in d.fields if f.form == "adverse_events"]
    assert set(schema.AE_COLUMN_SPECS) - {schema.AE_PATIENT_ID} == set(ae)


def _xml_fields(root):
    """field -> (form, field type, validation, choices, identifier) as the project XML declares them."""
    mdv = root.find(".//odm:MetaDataVersion", NS)
    form_of = {}
    for group in mdv.findall("odm:ItemGroupDef", NS):
        form = group.get("OID").split(".")[0]
        for ref in group.findall("odm:ItemRef", NS):
            form_of.setdefault(ref.get(f"{R}Variable"), form)
    code_lists = {cl.get("OID"): cl for cl in mdv.findall("odm:CodeList", NS)}
    out = {}
    for item in mdv.findall("odm:ItemDef", NS):
        var, ftype = item.get(f"{R}Variable"), item.get(f"{R}FieldType")
        if ftype is None or var in out:  # form status fields have no field type
            continue
        ref = item.find("odm:CodeListRef", NS)
        choices = ()
        if ftype == "checkbox":
            choices = parse_choices(code_lists[ref.get("CodeListOID")].get(f"{R}CheckboxChoices"))[0]
        elif ftype in ("radio", "dropdown"):
            choices = tuple((i.get("CodedValue"), i.find(".//odm:TranslatedText", NS).text)
                            for i in code_lists[ref.get("CodeListOID")].findall("odm:CodeListItem", NS))
        label = item.find("odm:Question/odm:TranslatedText", NS).text
        out[var] = (form_of[var], ftype, item.get(f"{R}TextValidationType") or "", choices, label,
                    item.get(f"{R}Identifier") == "y")
    return mdv, out


def test_project_xml_agrees_with_the_dictionary():
    root = ET.parse(XML).getroot()
    mdv, fields = _xml_fields(root)
    d = read_dictionary(DICTIONARY)
    assert mdv.get(f"{R}RecordIdField") == d.record_id
    assert list(fields) == [f.name for f in d.fields]
    for f in d.fields:
        assert fields[f.name] == (f.form, f.field_type, f.validation, f.choices, f.label, f.identifier), f.name
    forms = {fd.get(f"{R}FormName"): fd.get("Repeating") for fd in mdv.findall("odm:FormDef", NS)}
    assert list(forms) == list(d.forms)
    assert {k for k, v in forms.items() if v == "Yes"} == set(REPEATING_FORMS)
    repeating = {(r.get(f"{R}UniqueEventName"), r.get(f"{R}RepeatInstrument"))
                 for r in root.iter(f"{R}RepeatingInstrument")}
    assert {form for _, form in repeating} == set(REPEATING_FORMS)
    events = {e.get(f"{R}UniqueEventName"): {r.get(f"{R}FormName") for r in e.findall("odm:FormRef", NS)}
              for e in mdv.findall("odm:StudyEventDef", NS)}
    assert set(events) == set(EVENTS) and {e.get(f"{R}ArmNum") for e in mdv.findall("odm:StudyEventDef", NS)} == {"1"}
    assert all(form in events[event] for event, form in repeating)
    assert set().union(*events.values()) == set(d.forms)


def _dictionary(rows, header=DICTIONARY_COLUMNS) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(list(row) + [""] * (len(header) - len(row)))
    return out.getvalue().encode()


_GOOD = [("record_id", "patients", "", "text", "Record ID"),
         ("disease", "patients", "", "radio", "Disease", "1, Melanoma | 2, Renal cell carcinoma"),
         ("date_il2_start", "patients", "", "text", "IL-2 start", "", "", "date_ymd")]


def test_a_minimal_valid_dictionary_passes():
    assert check_dictionary(_dictionary(_GOOD)) == []


@pytest.mark.parametrize("rows, header, expected", [
    (_GOOD, DICTIONARY_COLUMNS[:17], "The header has 17 columns; a REDCap data dictionary has 18"),
    (_GOOD, ("Field Name",) + DICTIONARY_COLUMNS[1:], "Column 1 of the header is 'Field Name'"),
    ([("Record-ID", "patients", "", "text", "Record ID")] + _GOOD[1:], DICTIONARY_COLUMNS,
     "Line 2 (Record-ID): field name 'Record-ID' must be lower-case letters"),
    ([_GOOD[1], _GOOD[0]], DICTIONARY_COLUMNS, "the first field 'disease' is the record id and must be a text field"),
    (_GOOD[:1] + [("disease", "patients", "", "radio", "Disease", "1 Melanoma | 2, RCC")], DICTIONARY_COLUMNS,
     "Line 3 (disease): choice '1 Melanoma' is not 'code, label'"),
    (_GOOD[:1] + [("disease", "patients", "", "dropdown", "Disease")], DICTIONARY_COLUMNS,
     "Line 3 (disease): a dropdown field needs choices"),
    (_GOOD[:1] + [("date_il2_start", "patients", "", "text", "IL-2 start", "", "", "date_yyyy")], DICTIONARY_COLUMNS,
     "Line 3 (date_il2_start): validation type 'date_yyyy' is not one of REDCap's"),
    (_GOOD + [("disease", "patients", "", "text", "Again")], DICTIONARY_COLUMNS,
     "Line 5 (disease): field name 'disease' is already used on line 3"),
    (_GOOD[:1] + [("sex", "patients", "", "radio", "Sex", "m f, Male | 2, Female")], DICTIONARY_COLUMNS,
     "choice code 'm f' must be a number or letters"),
    (_GOOD[:1] + [("bor", "patients", "", "select", "BOR", "1, CR")], DICTIONARY_COLUMNS,
     "field type 'select' is not a REDCap field type"),
])
def test_broken_dictionaries_fail_with_a_message_naming_the_problem(rows, header, expected, tmp_path, capsys):
    problems = check_dictionary(_dictionary(rows, header))
    assert any(expected in p for p in problems), problems
    path = tmp_path / "dictionary.csv"
    path.write_bytes(_dictionary(rows, header))
    assert redcap_main(["check", str(path)]) == 1
    assert expected in capsys.readouterr().out


def test_parse_choices_keeps_codes_and_labels():
    assert parse_choices("1, Melanoma | 2, Renal cell carcinoma, clear cell") == (
        (("1", "Melanoma"), ("2", "Renal cell carcinoma, clear cell")), [])
    assert parse_choices("a, A | a, B")[1] == ["choice code 'a' is given twice"]


def test_readme_explains_the_coordinator_steps():
    text = Path(TEMPLATE_DIR / "README.md").read_text()
    for needle in ("XML", "repeating", "(raw data)", "Data Dictionary", "check"):
        assert needle in text
