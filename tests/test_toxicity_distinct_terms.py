"""The toxicity summary reads each distinct AE term, attribution and source once (a registry's AE table repeats a
few dozen terms over millions of rows): the results equal the AE vocabulary applied row by row, messy values
included (spellings, blanks, every kind of missing value, non-text cells)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses import toxicity
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.validation import ae_vocabulary

TERMS = ["Hypotension", "hypotension", " HYPOTENSION ", "Capillary Leak  Syndrome", "capillary leak syndrome",
         "Vitiligo", "rigors", "Rigors", "rash maculopapular", "Pneumonitis", None, np.nan, pd.NA, "", "  ", "nan",
         "None", "<NA>", "Fever", "fever", "Colitis", "colitis (immune)"]
ATTRIBUTIONS = ["probable", "Definite", " possible", "unlikely", "Unrelated", "unknown", "", None, np.nan, pd.NA,
                "maybe", "UNK", "definite "]


def messy(n_patients: int = 60, n_rows: int = 900, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n_patients)]
    patients = pd.DataFrame({
        schema.PATIENT_ID: ids,
        schema.DISEASE: rng.choice(["melanoma", "rcc"], n_patients),
        schema.SOURCE: rng.choice(["Centre A", "centre a ", "St. Mary's", None], n_patients),
        schema.PRIOR_PD1: pd.array(rng.choice([True, False, None], n_patients), dtype="boolean"),
        schema.ICU_TRANSFER: pd.array(rng.choice([True, False, None], n_patients), dtype="boolean"),
        schema.STEROIDS_IRAE: pd.array(rng.choice([True, False, None], n_patients), dtype="boolean"),
        schema.TREATMENT_DEATH: pd.array(rng.choice([False, None, True], n_patients, p=[0.8, 0.15, 0.05]),
                                         dtype="boolean"),
        schema.MAX_CTCAE: pd.array(rng.choice([0, 2, 3, 5, None], n_patients), dtype="Int64"),
        schema.DOSES_C1: rng.choice([0, 8, 12], n_patients), schema.N_CYCLES: rng.choice([1, 2, 3], n_patients),
    })
    entered = pd.Series(rng.choice(np.array(TERMS, dtype=object), n_rows), dtype=object)
    ae = pd.DataFrame({
        schema.AE_PATIENT_ID: rng.choice(ids + ["P999", "nobody"], n_rows),
        schema.AE_TERM: entered,
        schema.AE_GRADE: rng.choice([1, 2, 3, 4, 5, 7, None], n_rows),
        schema.AE_CYCLE: rng.choice([1.0, 2.0, 2.5, 3.0, np.nan], n_rows),
        schema.AE_IMMUNE: pd.array(rng.choice([True, False, None], n_rows), dtype="boolean"),
        schema.AE_STEROIDS: pd.array(rng.choice([True, False, None], n_rows), dtype="boolean"),
        schema.AE_ATTRIBUTION: pd.Series(rng.choice(np.array(ATTRIBUTIONS, dtype=object), n_rows), dtype=object),
    })
    return patients, ae


def per_row(monkeypatch) -> None:
    """Every per-value step back to the AE vocabulary applied to each row."""
    monkeypatch.setattr(toxicity, "_text_codes", lambda values: None)


def same_values(a: pd.Series, b: pd.Series) -> bool:
    """Equal element by element, a missing value equal only to the same missing object (None is not NaN)."""
    return a.index.equals(b.index) and a.dtype == b.dtype and all(
        x is y or (type(x) is type(y) and x == y) for x, y in zip(a.tolist(), b.tolist()))


def assert_same_summary(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        else:
            assert x == y, f.name


def test_canonical_terms_equal_the_vocabulary_row_by_row():
    terms = pd.Series(np.random.default_rng(0).choice(np.array(TERMS, dtype=object), 500), dtype=object)
    assert same_values(toxicity.canonical_terms(terms), ae_vocabulary.canonical_terms(terms)[0])
    assert toxicity._text_codes(terms) is not None, "the messy column must take the distinct-value path"


def test_a_column_holding_other_than_text_is_read_row_by_row():
    # NaT is text to the vocabulary ("NaT"), a number is a term: both go through it row by row
    for odd in (pd.NaT, 7, 2.5):
        terms = pd.Series(["Fever", odd, "fever", None], dtype=object)
        assert toxicity._text_codes(terms) is None
        assert same_values(toxicity.canonical_terms(terms), ae_vocabulary.canonical_terms(terms)[0])


def test_attribution_equals_the_vocabulary():
    attribution = pd.Series(np.random.default_rng(1).choice(np.array(ATTRIBUTIONS, dtype=object), 400), dtype=object)
    mapped, related, unrelated = toxicity._attribution(attribution)
    assert same_values(mapped, ae_vocabulary.attribution(attribution)[0])
    assert related.tolist() == mapped.eq(schema.ATTRIBUTION_RELATED).tolist() and related.any()
    assert unrelated.tolist() == mapped.eq(schema.ATTRIBUTION_UNRELATED).tolist() and unrelated.any()


@pytest.mark.parametrize("typed_apart", [False, True])
def test_cleaned_ae_rows_equal_the_row_by_row_vocabulary(typed_apart):
    # canonical terms, immune-related flags, rows left out and why, merges (in the note's order), merged patients
    patients, ae = messy(n_rows=1500, seed=4)
    if typed_apart:  # the term as typed kept beside a term column already respelled
        ae[schema.AE_TERM_ENTERED] = ae[schema.AE_TERM]
        ae[schema.AE_TERM] = ae[schema.AE_TERM].where(np.arange(len(ae)) % 3 != 0, "Fever")
    ids = set(patients[schema.PATIENT_ID])
    entered = ae[schema.AE_TERM_ENTERED] if typed_apart else ae[schema.AE_TERM]
    fast = toxicity._clean_ae(ae, ids)
    slow = toxicity._clean_ae_by_row(ae.copy().assign(**{schema.AE_PATIENT_ID: ae[schema.AE_PATIENT_ID].astype(str)}),
                                     entered, ids)
    pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
    pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    assert fast[2] == slow[2] and list(fast[2]["merges"]) == list(slow[2]["merges"])
    assert fast[2]["merges"] and fast[2]["patients"] and fast[0][toxicity._IMMUNE_TERM].any()
    assert set(fast[1]["reason"]) == {"patient not in the analysed (filtered) cohort", "AE term missing",
                                      "CTCAE grade missing or not an integer 1-5"}


@pytest.mark.parametrize("by", [None, schema.DISEASE, schema.PRIOR_PD1, schema.SOURCE])
@pytest.mark.parametrize("ae_complete", [(), ("centre a",), (schema.AE_COMPLETE_ALL,)])
def test_summary_of_a_messy_ae_table_equals_the_row_by_row_summary(monkeypatch, by, ae_complete):
    patients, ae = messy()
    fast = toxicity_summary(ae, patients, by, ae_complete=ae_complete)
    per_row(monkeypatch)
    slow = toxicity_summary(ae, patients, by, ae_complete=ae_complete)
    assert_same_summary(fast, slow)
    assert fast.by_term["term"].nunique() > 5 and len(fast.excluded_ae_rows) > 0
    assert any(getattr(n, "kind", "") == "ae_term_merge" for n in fast.notes)


def test_patient_flags_stay_true_false_or_none():
    patients, _ = messy()
    flags = toxicity._flag_values(patients, schema.ICU_TRANSFER)
    expected = [None if v is pd.NA else bool(v) for v in patients[schema.ICU_TRANSFER]]
    assert flags.dtype == object and [type(v) for v in flags] == [type(v) for v in expected]
    assert list(flags) == expected


@pytest.mark.parametrize("ids", [["P1", "P2", "P3", "P4"], ["P1", "P2", "P2", "P4"]])
def test_patients_with_an_ae_row_of_a_kind_are_those_isin_finds(ids):
    patients = pd.Index(ids)
    ae_patients = pd.Series(["P2", "P9", "P4", "P2", "P1", "P3"])
    has = toxicity._patients_with(patients, ae_patients)
    for mask in ([True] * 6, [False] * 6, [False, True, True, False, False, False],
                 [True, False, False, True, True, True]):
        assert has(np.array(mask)).tolist() == patients.isin(ae_patients[np.array(mask)]).tolist()
