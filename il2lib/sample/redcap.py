"""REDCap exports of the bundled synthetic sample, as a project built from the registry template gives them.

Three exports of the combined sample (107 patients, their AE rows and tumour assessments), written to
``sample_data/redcap/`` with the template's data dictionary by ``python -m il2lib.sample.redcap [OUTDIR]``:

- ``combined_redcap_raw.csv``: "CSV (raw data)" of a classic project (codes; AE rows and tumour assessments as
  instances of the repeating ``adverse_events`` and ``tumour_assessment`` instruments); read it with the dictionary.
- ``combined_redcap_labels.csv``: the same as "CSV (labels)" (label headers, choice labels, Checked/Unchecked).
- ``combined_redcap_longitudinal.csv``: raw, longitudinal (the template's two events), the AE and tumour
  instruments repeating in the follow-up event, and two data access groups (``proclaim``, ``community``) giving
  ``source``.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pandas as pd

from il2lib import schema
from il2lib.redcap import template
from il2lib.redcap.dictionary import BOOLEAN_CHOICES, Field
from il2lib.sample.files import AE_SUFFIX, DEFAULT_OUTDIR, TUMOUR_SUFFIX, sample_frames, to_csv_bytes

REDCAP_OUTDIR = DEFAULT_OUTDIR / "redcap"
RAW, LABELS, LONGITUDINAL = ("combined_redcap_raw.csv", "combined_redcap_labels.csv",
                             "combined_redcap_longitudinal.csv")
#: data access group (unique group name) of each sample source
DAGS = {"PROCLAIM (synthetic)": "proclaim", "Community (synthetic)": "community"}
_STATUS_LABELS = {"2": "Complete", "1": "Unverified", "0": "Incomplete", "": ""}


def _text_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The combined patient, AE and tumour-assessment files as the CSV sample has them (every cell the CSV's text)."""
    frames = sample_frames()
    read = [pd.read_csv(io.BytesIO(to_csv_bytes(frames[stem])), dtype=str, keep_default_na=False)
            for stem in ("combined_synthetic", "combined_synthetic" + AE_SUFFIX, "combined_synthetic" + TUMOUR_SUFFIX)]
    return read[0], read[1], read[2]


def _key(text: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in str(text)).split())


def _code(f: Field, value: str) -> str:
    if value == "":
        return ""
    if f.field_type in BOOLEAN_CHOICES:
        return {"yes": "1", "no": "0", "true": "1", "false": "0"}[value.strip().lower()]
    for code, label in f.choices:
        if _key(value) in (_key(code), _key(label)):
            return code
    raise ValueError(f"{f.name}: '{value}' is not a template choice")


def _columns(d, labels: bool, longitudinal: bool) -> list[tuple[str, str, Field | None, str | None]]:
    """(header, kind, field, choice code) of every export column, in REDCap's order."""
    record = d.fields[0]
    cols = [(record.label if labels else record.name, "field", record, None)]
    meta = (["event", "instrument", "instance", "dag"] if longitudinal else ["instrument", "instance"])
    names = {"event": ("redcap_event_name", "Event Name"), "instrument": ("redcap_repeat_instrument",
             "Repeat Instrument"), "instance": ("redcap_repeat_instance", "Repeat Instance"),
             "dag": ("redcap_data_access_group", "Data Access Group")}
    cols += [(names[m][labels], m, None, None) for m in meta]
    for form in d.forms:
        for f in d.form_fields(form):
            if f is record:
                continue
            if f.field_type == "checkbox":
                cols += [(f"{f.label} (choice={label})" if labels else f"{f.name}___{code}", "checkbox", f, code)
                         for code, label in f.choices]
            else:
                cols.append((f.label if labels else f.name, "field", f, None))
        cols.append(("Complete?" if labels else f"{form}_complete", "complete", None, form))
    return cols


def _cell(f: Field, value: str, labels: bool, choice: str | None = None) -> str:
    if choice is not None:  # checkbox: value is the '; '-joined list
        checked = choice in {_code(f, v.strip()) for v in value.split(";") if v.strip()}
        return ("Checked" if checked else "Unchecked") if labels else ("1" if checked else "0")
    if not (f.field_type in BOOLEAN_CHOICES or f.choices) or value == "":
        return value
    code = _code(f, value)
    return f.choice_map[code] if labels else code


def export_bytes(kind: str, frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None) -> bytes:
    """One export (``"raw"``, ``"labels"`` or ``"longitudinal"``) of the combined sample (``frames``: its patient,
    AE and tumour-assessment text frames, when already built)."""
    patients, events, scans = frames or _text_frames()
    d = template.template_dictionary()
    labels, longitudinal = kind == "labels", kind == "longitudinal"
    cols = _columns(d, labels, longitudinal)
    event_of = {form: event for event, (_, forms) in template.EVENTS.items() for form in forms}
    event_label = {e: f"{label} (Arm {template.ARM[0]}: {template.ARM[1]})" for e, (label, _) in
                   template.EVENTS.items()}
    repeats = {form: {pid: rows for pid, rows in table.groupby(schema.PATIENT_ID, sort=False)}
               for form, table in ((template.AE_FORM, events), (template.TUMOUR_FORM, scans))}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c[0] for c in cols])

    def row(values: dict, forms: set, meta: dict) -> list[str]:
        cells = []
        for header, what, f, extra in cols:
            if what in ("event", "instrument", "instance", "dag"):
                cells.append(meta.get(what, ""))
            elif what == "complete":
                cells.append(_STATUS_LABELS["2"] if labels and extra in forms else "2" if extra in forms else "")
            elif f is d.fields[0]:
                cells.append(values[f.name])
            elif f.form in forms and f.name in values:
                cells.append(_cell(f, values[f.name], labels, extra))
            else:
                cells.append("")
        return cells

    patient_forms = [form for form in d.forms if form not in template.REPEATING_FORMS]
    for record in patients.to_dict(orient="records"):
        pid = record[schema.PATIENT_ID]
        dag = DAGS[record[schema.SOURCE]]
        if longitudinal:
            record = dict(record, **{schema.SOURCE: ""})
            for event, (_, forms) in template.EVENTS.items():
                shown = {f for f in forms if f in patient_forms}
                if shown:
                    writer.writerow(row(record, shown, {"event": event_label[event] if labels else event,
                                                        "dag": dag}))
        else:
            writer.writerow(row(record, set(patient_forms), {}))
        for form, by_patient in repeats.items():
            if pid not in by_patient:
                continue
            for k, values in enumerate(by_patient[pid].to_dict(orient="records"), start=1):
                values[d.fields[0].name] = pid
                meta = {"instrument": template.FORM_LABELS[form] if labels else form, "instance": str(k)}
                if longitudinal:
                    meta.update(event=event_of[form], dag=dag)
                writer.writerow(row(values, {form}, meta))
    return out.getvalue().encode("utf-8")


def redcap_sample_files() -> dict[str, bytes]:
    """File name -> bytes of the three exports and the template's data dictionary."""
    frames = _text_frames()
    return {RAW: export_bytes("raw", frames), LABELS: export_bytes("labels", frames),
            LONGITUDINAL: export_bytes("longitudinal", frames), template.DICTIONARY_FILE: template.template_dictionary_csv()}


def write_redcap_samples(outdir: str | Path = REDCAP_OUTDIR) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in redcap_sample_files().items():
        (outdir / name).write_bytes(data)
        paths.append(outdir / name)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for path in write_redcap_samples(args[0] if args else REDCAP_OUTDIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
