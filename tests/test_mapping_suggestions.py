"""The required fields a mapping leaves out, and the closest unmapped file column for each (the Data page's
"Can't analyse yet" banner)."""
from __future__ import annotations

from conftest import csv_bytes, patient_rows

from il2lib import schema
from il2lib.validation.mapping import closest_columns, missing_required
from il2lib.validation.patients import load_cohort


def test_missing_required_follows_the_loader():
    assert missing_required([]) == schema.REQUIRED_COLUMNS
    everything_but_start = [c for c in schema.REQUIRED_COLUMNS if c != schema.DATE_IL2_START]
    assert missing_required(everything_but_start) == (schema.DATE_IL2_START,)
    # an overall-survival time stands in for the IL-2 start date
    assert missing_required([*everything_but_start, schema.OS_MONTHS]) == ()
    frame = patient_rows(n=3).rename(columns={schema.DATE_IL2_START: "IL2 Beginn", schema.BOR: "Best resp"})
    report = load_cohort(csv_bytes(frame)).report
    assert missing_required(report.mapping.values()) == (schema.DATE_IL2_START, schema.BOR)
    assert {f.column for f in report.file_errors} == {schema.DATE_IL2_START, schema.BOR}


def test_close_file_columns_are_suggested_once_each():
    missing = (schema.PATIENT_ID, schema.DISEASE, schema.PRIOR_PD1, schema.DATE_IL2_START, schema.BOR, schema.DIED)
    columns = ["Bemerkung", "IL2 Beginn", "Best resp", "Diagnose", "vorher PD1", "PID", "Tod"]
    assert closest_columns(missing, columns) == {
        schema.PATIENT_ID: "PID", schema.DISEASE: "Diagnose", schema.PRIOR_PD1: "vorher PD1",
        schema.DATE_IL2_START: "IL2 Beginn", schema.BOR: "Best resp", schema.DIED: None}


def test_nothing_close_no_suggestion_and_identifiers_never():
    assert closest_columns((schema.DATE_IL2_START,), ["Bemerkung", "Klinik"]) == {schema.DATE_IL2_START: None}
    assert closest_columns((schema.PATIENT_ID,), ["Patient name"]) == {schema.PATIENT_ID: None}
    assert closest_columns((), ["IL2 Beginn"]) == {}
    # one file column, two fields it resembles: it goes to the closer one only
    assert closest_columns((schema.BOR, schema.DATE_IL2_START), ["Best resp"]) == {schema.BOR: "Best resp",
                                                                                  schema.DATE_IL2_START: None}
