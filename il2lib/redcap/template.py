"""The REDCap project template of the registry (``redcap/`` at the repository root), built from the schema.

Fields are named as :mod:`il2lib.schema` columns and coded by schema values, so a raw export of the
template reads like the CSV the loader expects. :func:`template_dictionary` is the data dictionary;
:func:`project_xml` the project XML (REDCap's CDISC ODM with its ``redcap:`` extensions: instruments,
the two repeating instruments, the events of one arm). ``python -m il2lib.redcap write-template [DIR]``
rewrites both files.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from il2lib import schema
from il2lib.redcap.dictionary import DataDictionary, Field, dictionary_csv_bytes

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "redcap"
DICTIONARY_FILE = "il2_registry_data_dictionary.csv"
XML_FILE = "il2_registry_project.xml"
PROJECT_TITLE = "HD IL-2 Registry"

AE_FORM = "adverse_events"
TUMOUR_FORM = "tumour_assessment"
#: Repeating instruments the loader reads, by form name.
REPEATING_FORMS = (AE_FORM, TUMOUR_FORM)

FORM_LABELS = {"demographics": "Demographics", "prior_therapy": "Prior Therapy", "il2_treatment": "IL-2 Treatment",
               "response_outcome": "Response and Outcome", AE_FORM: "Adverse Events",
               TUMOUR_FORM: "Tumour Assessment"}
#: One arm: unique event name -> (event label, forms). The AE and tumour instruments repeat in follow-up.
EVENTS = {"baseline_arm_1": ("Baseline", ("demographics", "prior_therapy", "il2_treatment")),
          "follow_up_arm_1": ("Follow-up", ("response_outcome", AE_FORM, TUMOUR_FORM))}
ARM = (1, "Arm 1")

_YESNO = "yesno"
_INT = ("text", "integer")
_NUM = ("text", "number")
_DATE = ("text", "date_ymd")


def _choices(*pairs: str) -> tuple[tuple[str, str], ...]:
    """``"code=Label"`` strings -> choices; a bare value is its own label."""
    out = []
    for pair in pairs:
        code, _, label = pair.partition("=")
        out.append((code, label or code))
    return tuple(out)


_BOR = _choices("CR=Complete response", "PR=Partial response", "SD=Stable disease", "PD=Progressive disease",
                "NE=Not evaluable")
_HISTOLOGY = _choices("cutaneous", "mucosal", "acral", "uveal", "unknown_primary=unknown primary",
                      "clear_cell=clear cell", "papillary", "chromophobe", "other")
_AUTOIMMUNE_TYPES = _choices("vitiligo", "thyroiditis", "pneumonitis", "colitis", "hepatitis", "other")

#: form -> fields as (name, type or (type, validation), choices, min, max, note)
_FORMS: dict[str, tuple[tuple, ...]] = {
    "demographics": (
        (schema.PATIENT_ID, "text", (), "", "", "Study/registry id; never a medical record number."),
        (schema.SOURCE, "text", (), "", "", "Cohort or site; the data access group fills it when empty."),
        (schema.DISEASE, "radio", _choices("melanoma=Melanoma", "rcc=Renal cell carcinoma")),
        (schema.AGE, _NUM, (), "18", "100", "years"),
        (schema.SEX, "radio", _choices("M=Male", "F=Female")),
        (schema.ECOG, _INT, (), "0", "4", "ECOG performance status 0-4"),
        (schema.HISTOLOGY, "dropdown", _HISTOLOGY),
        (schema.IMDC_RISK, "radio", _choices("favorable=Favorable", "intermediate=Intermediate", "poor=Poor"), "", "",
         "RCC only"),
        (schema.BRAF, "radio", _choices("mutant=Mutant", "wild_type=Wild-type", "unknown=Unknown"), "", "",
         "Melanoma only"),
        (schema.AJCC_M, "dropdown", _choices("M1a", "M1b", "M1c", "M1d"), "", "", "Melanoma only"),
        (schema.N_MET_SITES, _INT, (), "0", "50"),
        (schema.BRAIN_METS, _YESNO), (schema.LIVER_METS, _YESNO), (schema.LUNG_METS, _YESNO),
        (schema.BONE_METS, _YESNO),
    ),
    "prior_therapy": (
        (schema.PRIOR_LINES, _INT, (), "0", "20", "Metastatic-setting systemic lines before IL-2"),
        (schema.PRIOR_PD1, _YESNO),
        (schema.PRIOR_PD1_AGENT, "dropdown", _choices(*(f"{a}={a.capitalize()}" for a in schema.PD1_AGENTS))),
        (schema.PRIOR_CTLA4, _YESNO), (schema.PRIOR_TARGETED, _YESNO),
        (schema.PRIOR_PD1_BOR, "dropdown", _BOR),
        (schema.DATE_LAST_PD1, _DATE),
        (schema.PD1_RESISTANCE, "radio", _choices("primary=Primary", "acquired=Acquired",
                                                  "not_applicable=Not applicable")),
    ),
    "il2_treatment": (
        (schema.DATE_IL2_START, _DATE),
        (schema.N_COURSES, _INT, (), "1", "50"), (schema.N_CYCLES, _INT, (), "1", "100"),
        (schema.DOSES_C1, _INT, (), "0", "15"), (schema.DOSES_C2, _INT, (), "0", "15"),
        (schema.TOTAL_DOSES, _INT, (), "0", "500"),
        (schema.BASELINE_LDH, _NUM, (), "", "", "U/L"), (schema.LDH_ULN, _NUM, (), "", "", "U/L"),
        (schema.BASELINE_PLATELETS, _NUM, (), "", "", "x10^3/uL"),
        (schema.PLATELET_NADIR, _NUM, (), "", "", "x10^3/uL"),
        (schema.BASELINE_ALC, _NUM, (), "", "", "x10^3/uL"), (schema.PEAK_ALC, _NUM, (), "", "", "x10^3/uL"),
        (schema.PEAK_TEMP, _NUM, (), "35", "43", "degrees C"),
        (schema.AUTOIMMUNE, _YESNO),
        (schema.AUTOIMMUNE_TYPE, "checkbox", _AUTOIMMUNE_TYPES),
        (schema.MAX_CTCAE, _INT, (), "0", "5", "0 = no adverse event"),
        (schema.STEROIDS_IRAE, _YESNO), (schema.ICU_TRANSFER, _YESNO), (schema.TREATMENT_DEATH, _YESNO),
    ),
    "response_outcome": (
        (schema.RESPONSE_CRITERIA, "dropdown", _choices("recist1_1=RECIST 1.1", "irrc=irRC", "irecist=iRECIST",
                                                        "who=WHO", "clinical=Clinical")),
        (schema.BOR, "radio", _BOR),
        (schema.RESPONSE_CONFIRMED, _YESNO, (), "", "", "CR/PR confirmed at least 4 weeks later"),
        (schema.DATE_FIRST_RESPONSE, _DATE),
        (schema.SD_DURATION, _NUM, (), "0", "600", "months, from IL-2 start to PD or last assessment"),
        (schema.PROGRESSED, _YESNO), (schema.DATE_PROGRESSION, _DATE), (schema.DATE_LAST_ASSESSMENT, _DATE),
        (schema.DIED, _YESNO), (schema.DATE_DEATH, _DATE), (schema.DATE_LAST_FOLLOWUP, _DATE),
        (schema.DATA_CUTOFF, _DATE),
    ),
    AE_FORM: (
        (schema.AE_TERM, "text", (), "", "", "CTCAE v5 term, e.g. Hypotension"),
        (schema.AE_GRADE, _INT, (), "1", "5"),
        (schema.AE_CYCLE, _INT, (), "1", "100"),
        (schema.AE_ONSET, _DATE),
        (schema.AE_IMMUNE, _YESNO), (schema.AE_STEROIDS, _YESNO), (schema.AE_SERIOUS, _YESNO),
        (schema.AE_ATTRIBUTION, "dropdown", _choices("definite=Definite", "probable=Probable", "possible=Possible",
                                                     "unlikely=Unlikely", "unrelated=Unrelated")),
    ),
    TUMOUR_FORM: (
        (schema.ASSESSMENT_DATE, _DATE),
        (schema.TARGET_SUM, _NUM, (), "0", "", "Sum of target-lesion diameters (mm)"),
        (schema.NEW_LESIONS, _YESNO),
    ),
}
_LABELS = {schema.TARGET_SUM: "Sum of target lesions (mm)", schema.AUTOIMMUNE_TYPE: "Autoimmune type"}


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    for specs in (schema.COLUMNS, schema.AE_COLUMN_SPECS, schema.TUMOUR_COLUMN_SPECS):
        if name in specs:
            return specs[name].label
    raise KeyError(name)


def template_dictionary() -> DataDictionary:
    """The registry's data dictionary (forms in order; the record id ``patient_id`` first)."""
    fields = []
    for form, specs in _FORMS.items():
        for spec in specs:
            name, kind, choices, minimum, maximum, note = tuple(spec) + (None, None, (), "", "", "")[len(spec):]
            ftype, validation = kind if isinstance(kind, tuple) else (kind, "")
            fields.append(Field(name=name, form=form, field_type=ftype, label=_label(name), choices=choices,
                                validation=validation, minimum=minimum, maximum=maximum, note=note,
                                row=len(fields) + 2,
                                required=name in (schema.PATIENT_ID, schema.DISEASE, schema.DATE_IL2_START,
                                                  schema.BOR, schema.DIED, schema.AE_TERM, schema.AE_GRADE)))
    return DataDictionary(tuple(fields), source_name=DICTIONARY_FILE)


def template_dictionary_csv() -> bytes:
    return dictionary_csv_bytes(template_dictionary())


_DATA_TYPES = {"integer": "integer", "number": "float", "date_ymd": "date"}
_STATUS = (("0", "Incomplete"), ("1", "Unverified"), ("2", "Complete"))


def project_xml() -> bytes:
    """The project XML (REDCap CDISC ODM 1.3.1): metadata only, no records."""
    d = template_dictionary()
    oid = "Metadata.HD_IL2_Registry"
    out = ['<?xml version="1.0" encoding="UTF-8" ?>',
           '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:redcap="https://projectredcap.org" '
           'xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.1" FileOID="000-00-0000" '
           'FileType="Snapshot" Description=' + quoteattr(PROJECT_TITLE) + ' AsOfDateTime="2026-01-01T00:00:00" '
           'CreationDateTime="2026-01-01T00:00:00" SourceSystem="REDCap" SourceSystemVersion="14.0.0">',
           '<Study OID="Project.HD_IL2_Registry">', '<GlobalVariables>',
           f'\t<StudyName>{escape(PROJECT_TITLE)}</StudyName>',
           '\t<StudyDescription>Registry of patients treated with high-dose interleukin-2 (metastatic melanoma and '
           'renal cell carcinoma); fields named as the il2-registry dashboard\'s data dictionary.</StudyDescription>',
           f'\t<ProtocolName>{escape(PROJECT_TITLE)}</ProtocolName>',
           '\t<redcap:RecordAutonumberingEnabled>0</redcap:RecordAutonumberingEnabled>',
           '\t<redcap:CustomRecordLabel></redcap:CustomRecordLabel>',
           '\t<redcap:SecondaryUniqueField></redcap:SecondaryUniqueField>',
           '\t<redcap:SchedulingEnabled>0</redcap:SchedulingEnabled>',
           '\t<redcap:SurveysEnabled>0</redcap:SurveysEnabled>',
           '\t<redcap:SurveyInvitationEmailField></redcap:SurveyInvitationEmailField>',
           '\t<redcap:Purpose>2</redcap:Purpose>', '\t<redcap:PurposeOther></redcap:PurposeOther>',
           '\t<redcap:ProjectNotes>Template of the il2-registry dashboard (redcap/README.md).</redcap:ProjectNotes>',
           '\t<redcap:MissingDataCodes></redcap:MissingDataCodes>',
           '\t<redcap:RepeatingInstrumentsAndEvents>', '\t\t<redcap:RepeatingInstruments>']
    for event, (_, forms) in EVENTS.items():
        for form in forms:
            if form in REPEATING_FORMS:
                out.append(f'\t\t\t<redcap:RepeatingInstrument redcap:UniqueEventName="{event}" '
                           f'redcap:RepeatInstrument="{form}" redcap:CustomLabel=""/>')
    out += ['\t\t</redcap:RepeatingInstruments>', '\t</redcap:RepeatingInstrumentsAndEvents>', '</GlobalVariables>',
            f'<MetaDataVersion OID="{oid}" Name={quoteattr(PROJECT_TITLE)} '
            f'redcap:RecordIdField="{d.record_id}">', '\t<Protocol>']
    for k, event in enumerate(EVENTS, start=1):
        out.append(f'\t\t<StudyEventRef StudyEventOID="Event.{event}" OrderNumber="{k}" Mandatory="No"/>')
    out.append('\t</Protocol>')
    for k, (event, (label, forms)) in enumerate(EVENTS.items(), start=1):
        out.append(f'\t<StudyEventDef OID="Event.{event}" Name={quoteattr(label)} Type="Common" Repeating="No" '
                   f'redcap:EventName={quoteattr(label)} redcap:CustomEventLabel="" '
                   f'redcap:UniqueEventName="{event}" redcap:ArmNum="{ARM[0]}" redcap:ArmName={quoteattr(ARM[1])} '
                   f'redcap:DayOffset="{k}" redcap:OffsetMin="0" redcap:OffsetMax="0">')
        for j, form in enumerate(forms, start=1):
            out.append(f'\t\t<FormRef FormOID="Form.{form}" OrderNumber="{j}" Mandatory="No" '
                       f'redcap:FormName="{form}"/>')
        out.append('\t</StudyEventDef>')
    for form in d.forms:
        repeating = "Yes" if form in REPEATING_FORMS else "No"
        out.append(f'\t<FormDef OID="Form.{form}" Name={quoteattr(FORM_LABELS[form])} Repeating="{repeating}" '
                   f'redcap:FormName="{form}">')
        out.append(f'\t\t<ItemGroupRef ItemGroupOID="{form}.{d.form_fields(form)[0].name}" Mandatory="No"/>')
        out.append(f'\t\t<ItemGroupRef ItemGroupOID="{form}.{form}_complete" Mandatory="No"/>')
        out.append('\t</FormDef>')
    for form in d.forms:
        fields = d.form_fields(form)
        out.append(f'\t<ItemGroupDef OID="{form}.{fields[0].name}" Name={quoteattr(FORM_LABELS[form])} '
                   'Repeating="No">')
        for f in fields:
            for item in _items(f):
                out.append(f'\t\t<ItemRef ItemOID="{item}" Mandatory="{"Yes" if f.required else "No"}" '
                           f'redcap:Variable="{f.name}"/>')
        out.append('\t</ItemGroupDef>')
        out.append(f'\t<ItemGroupDef OID="{form}.{form}_complete" Name="Form Status" Repeating="No">')
        out.append(f'\t\t<ItemRef ItemOID="{form}_complete" Mandatory="No" redcap:Variable="{form}_complete"/>')
        out.append('\t</ItemGroupDef>')
    for form in d.forms:
        for f in d.form_fields(form):
            out += _item_defs(f)
        out += [f'\t<ItemDef OID="{form}_complete" Name="{form}_complete" DataType="text" Length="1" '
                f'redcap:Variable="{form}_complete">',
                '\t\t<Question><TranslatedText>Complete?</TranslatedText></Question>',
                f'\t\t<CodeListRef CodeListOID="{form}_complete.choices"/>', '\t</ItemDef>']
    for form in d.forms:
        for f in d.form_fields(form):
            out += _code_lists(f)
        out += _code_list(f"{form}_complete", f"{form}_complete", "text", _STATUS)
    out += ['</MetaDataVersion>', '</Study>', '</ODM>', '']
    return "\n".join(out).encode("utf-8")


def _items(f: Field) -> list[str]:
    if f.field_type == "checkbox":
        return [f"{f.name}___{code}" for code, _ in f.choices]
    return [f.name]


def _item_defs(f: Field) -> list[str]:
    extra = ""
    if f.validation:
        extra += f' redcap:TextValidationType="{f.validation}"'
    if f.note:
        extra += f" redcap:FieldNote={quoteattr(f.note)}"
    if f.required:
        extra += ' redcap:RequiredField="y"'
    if f.identifier:
        extra += ' redcap:Identifier="y"'
    out = []
    for item in _items(f):
        if f.field_type == "checkbox":
            dtype, length = "boolean", "1"
        elif f.field_type in ("yesno", "truefalse"):
            dtype, length = "boolean", "1"
        else:
            dtype, length = _DATA_TYPES.get(f.validation, "text"), "999"
        out.append(f'\t<ItemDef OID="{item}" Name="{item}" DataType="{dtype}" Length="{length}" '
                   f'redcap:Variable="{f.name}" redcap:FieldType="{f.field_type}"{extra}>')
        out.append(f"\t\t<Question><TranslatedText>{escape(f.label)}</TranslatedText></Question>")
        if f.field_type != "text" and f.field_type != "notes":
            out.append(f'\t\t<CodeListRef CodeListOID="{item}.choices"/>')
        for comparator, value in (("GE", f.minimum), ("LE", f.maximum)):
            if value:
                out += [f'\t\t<RangeCheck Comparator="{comparator}" SoftHard="Soft">',
                        f"\t\t\t<CheckValue>{value}</CheckValue>",
                        "\t\t\t<ErrorMessage><TranslatedText>The value you provided is outside the suggested range "
                        f"({f.minimum or 'no limit'} - {f.maximum or 'no limit'}). This value is admissible, but you "
                        "may wish to double check it.</TranslatedText></ErrorMessage>", "\t\t</RangeCheck>"]
        out.append("\t</ItemDef>")
    return out


def _code_lists(f: Field) -> list[str]:
    if f.field_type == "checkbox":
        text = " | ".join(f"{c}, {lab}" for c, lab in f.choices)
        out = []
        for item in _items(f):
            out += _code_list(item, f.name, "boolean", (("1", "Checked"), ("0", "Unchecked")),
                              f" redcap:CheckboxChoices={quoteattr(text)}")
        return out
    if f.field_type in ("yesno", "truefalse"):
        pairs = (("1", "Yes"), ("0", "No")) if f.field_type == "yesno" else (("1", "True"), ("0", "False"))
        return _code_list(f.name, f.name, "boolean", pairs)
    if f.choices:
        return _code_list(f.name, f.name, "text", f.choices)
    return []


def _code_list(item: str, variable: str, dtype: str, pairs, extra: str = "") -> list[str]:
    out = [f'\t<CodeList OID="{item}.choices" Name="{item}" DataType="{dtype}" redcap:Variable="{variable}"{extra}>']
    for code, label in pairs:
        out.append(f'\t\t<CodeListItem CodedValue={quoteattr(code)}><Decode><TranslatedText>{escape(label)}'
                   '</TranslatedText></Decode></CodeListItem>')
    out.append("\t</CodeList>")
    return out


def write_template(outdir: str | Path = TEMPLATE_DIR) -> list[Path]:
    """(Re)write the template's dictionary CSV and project XML into ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / DICTIONARY_FILE, outdir / XML_FILE]
    paths[0].write_bytes(template_dictionary_csv())
    paths[1].write_bytes(project_xml())
    return paths
