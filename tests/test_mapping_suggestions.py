"""The required fields a mapping leaves out, and the closest unmapped file column for each (the Data page's
"Can't analyse yet" banner)."""
from __future__ import annotations

import difflib
import random

from conftest import csv_bytes, patient_rows

from il2lib import schema
from il2lib.validation.mapping import _AcceptedNames, closest_columns, missing_required
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


def _closeness_by_definition(column: str, names: list[str]) -> float:
    """Closeness computed straight from its definition: difflib's ratio against every accepted name, and the share
    of the name's words close to a word of them."""
    key = schema.norm(column)
    whole = max(difflib.SequenceMatcher(None, key, name).ratio() for name in names)
    words = key.split()
    vocabulary = sorted({word for name in names for word in name.split() if len(word) > 1})
    share = (sum(1 for word in words if difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8)) / len(words)
             if words else 0.0)
    return max(whole if whole >= 0.6 else 0.0, share if share >= 0.5 else 0.0)


def test_closeness_equals_its_definition_for_every_field_and_many_names():
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 _-"
    columns = [rng.choice(spec.synonyms or (spec.label,)) for spec in schema.COLUMNS.values()]
    columns = [*columns, *(c[:-1] + "x" for c in columns if len(c) > 2), *(c.upper() + " (v2)" for c in columns)]
    columns += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(300)]
    for spec in schema.COLUMNS.values():
        names = [schema.norm(n) for n in (spec.name, spec.label, *spec.synonyms)]
        accepted = _AcceptedNames(names)
        for column in columns:
            assert accepted.closeness(column) == _closeness_by_definition(column, names), (spec.name, column)
