"""The cleaned AE rows (:func:`il2lib.analyses.toxicity._clean_ae`) look each patient up once and hand their term codes
to the per-term rows: the same rows, positions and summaries as membership in a set of ids and a sorted grouping of
the term text, whether every row is kept or not, with repeated ids, ids that are not text and a repeated index."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses import toxicity
from il2lib.analyses.toxicity import GRADES, toxicity_summary
from il2lib.validation import ae_vocabulary
from tests.test_toxicity_distinct_terms import assert_same_summary, messy, per_row
from tests.test_toxicity_term_table import messy_tables as messy_terms, text_grouped_terms


def usable_rows(ae: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """The rows of analysed patients with a grade 1-5 and a term: every one is kept."""
    grade = pd.to_numeric(ae[schema.AE_GRADE], errors="coerce")
    term = ae[schema.AE_TERM].astype(str).str.strip()
    ok = (ae[schema.AE_PATIENT_ID].isin(set(patients[schema.PATIENT_ID])) & grade.isin([1, 2, 3, 4, 5])
          & ae[schema.AE_TERM].notna() & ~term.isin(["", "nan", "None", "<NA>"]))
    return ae[ok.to_numpy()]


def plainly_cleaned(ae: pd.DataFrame, ids: set) -> pd.DataFrame:
    """The definition of the kept rows: the AE vocabulary row by row, the rows filtered, the grade as integers."""
    out = ae[[c for c in ae.columns if c in toxicity._AE_USED]].copy()
    out[schema.AE_PATIENT_ID] = out[schema.AE_PATIENT_ID].astype(str)
    out[schema.AE_TERM] = ae_vocabulary.canonical_terms(out[schema.AE_TERM])[0]
    out[toxicity._IMMUNE_TERM] = ae_vocabulary.is_immune_related(out[schema.AE_TERM]).to_numpy(bool)
    grade = pd.to_numeric(out[schema.AE_GRADE], errors="coerce")
    term = out[schema.AE_TERM]
    keep = (out[schema.AE_PATIENT_ID].isin(ids) & grade.isin(GRADES) & term.notna()
            & ~term.astype(str).str.strip().isin(["", "nan", "None", "<NA>"])).to_numpy()
    out = out[keep].assign(**{schema.AE_GRADE: grade[keep].astype(int)})
    out[schema.AE_ATTRIBUTION] = ae_vocabulary.attribution(out[schema.AE_ATTRIBUTION])[0]
    out[toxicity._RELATED] = out[schema.AE_ATTRIBUTION].eq(schema.ATTRIBUTION_RELATED)
    out[toxicity._UNRELATED] = out[schema.AE_ATTRIBUTION].eq(schema.ATTRIBUTION_UNRELATED)
    return out


def assert_same_clean(a, b) -> None:
    for x, y in zip(a[:2], b[:2]):
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert a[2] == b[2] and list(a[2]["merges"]) == list(b[2]["merges"])


@pytest.mark.parametrize("every_row_kept", [False, True])
@pytest.mark.parametrize("index", ["range", "repeated"])
@pytest.mark.parametrize("grade_type", [object, "Int64"])  # as typed, as the loader types it
def test_cleaned_rows_of_an_index_of_ids_equal_those_of_a_set(every_row_kept, index, grade_type):
    patients, ae = messy(n_rows=1200, seed=5)
    ae[schema.AE_GRADE] = ae[schema.AE_GRADE].astype(grade_type)
    if every_row_kept:
        ae = usable_rows(ae, patients)
    if index == "repeated":  # e.g. two files concatenated without a new index
        ae = ae.set_axis(np.arange(len(ae)) % 50)
    ids = patients[schema.PATIENT_ID].astype(str)
    by_set = toxicity._clean_ae(ae, set(ids))
    by_index = toxicity._clean_ae(ae, pd.Index(ids.to_numpy(object)))
    assert_same_clean(by_index, by_set)
    clean = by_index[0]
    pd.testing.assert_frame_equal(clean, plainly_cleaned(ae, set(ids)), check_exact=True)
    assert (len(clean) == len(ae)) == every_row_kept and len(clean) > 100
    assert by_set[3].position is None  # a set has no positions
    assert by_index[3].position.tolist() == pd.Index(ids).get_indexer(clean[schema.AE_PATIENT_ID]).tolist()
    codes, values = pd.factorize(clean[schema.AE_TERM], sort=True)
    assert by_index[3].term_codes.tolist() == codes.tolist()
    assert by_index[3].terms.tolist() == list(values)


def test_cleaned_rows_of_an_index_repeating_an_id_equal_those_of_a_set():
    patients, ae = messy(n_rows=600, seed=6)
    ids = pd.Index(np.append(patients[schema.PATIENT_ID].to_numpy(object), ["P001", "P002"]))
    by_index = toxicity._clean_ae(ae, ids)
    assert_same_clean(by_index, toxicity._clean_ae(ae, set(ids)))
    assert by_index[3].position is None


@pytest.mark.parametrize("every_row_kept", [False, True])
@pytest.mark.parametrize("by", [None, schema.DISEASE, schema.SOURCE])
def test_summary_equals_the_row_by_row_summary_with_every_row_kept_or_not(monkeypatch, every_row_kept, by):
    patients, ae = messy(n_rows=1200, seed=7)
    if every_row_kept:
        patients = patients[patients[by].notna()] if by else patients  # those without a group are left out
        ae = usable_rows(ae, patients)
        ae = ae.set_axis(np.arange(len(ae)) % 40)
    given = ae.copy(deep=True)
    fast = toxicity_summary(ae, patients, by, ae_complete=("centre a",))
    pd.testing.assert_frame_equal(ae, given, check_exact=True)  # the cleaned rows share columns, never write them
    per_row(monkeypatch)
    slow = toxicity_summary(ae, patients, by, ae_complete=("centre a",))
    assert_same_summary(fast, slow)
    assert (len(fast.excluded_ae_rows) == 0) == every_row_kept
    assert fast.by_term["n_grade5"].sum() > 0 and fast.summary["n"].sum() > 0


def test_summary_of_patient_ids_that_are_not_text_equals_the_row_by_row_summary(monkeypatch):
    # ids compare as text: 7 and "7" are one patient, "7.0" another, a missing id reads "None" or "nan"
    patients = pd.DataFrame({schema.PATIENT_ID: [7, 8, "None", "nan", "7.0"],
                             schema.DISEASE: ["melanoma", "rcc", "rcc", "melanoma", "rcc"]})
    ae = pd.DataFrame({
        schema.AE_PATIENT_ID: pd.Series([7, "7", 8.0, None, np.nan, 7.0, "8", pd.NA, "x"], dtype=object),
        schema.AE_TERM: ["Fever", "fever", "Colitis", "Rash", None, "Fever", "Hypotension", "Fever", "Fever"],
        schema.AE_GRADE: [1, 3, 2, 2, 4, 5, 1, 3, 2],
        schema.AE_ATTRIBUTION: ["definite", None, "unlikely", "", "possible", "unknown", "x", None, None],
    })
    fast = toxicity_summary(ae, patients, schema.DISEASE)
    per_row(monkeypatch)
    assert_same_summary(fast, toxicity_summary(ae, patients, schema.DISEASE))
    excluded = fast.excluded_ae_rows
    assert sorted(excluded["patient_id"]) == ["8.0", "<NA>", "nan", "x"]  # "nan": a patient, the term missing
    assert excluded.set_index("patient_id").loc["nan", "reason"] == "AE term missing"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_worst_grade_of_each_patient_and_term_kept_densely_or_by_a_sort_agree(seed, monkeypatch):
    ae, patients = messy_terms(seed, n_patients=60, n_rows=500)
    dense = toxicity_summary(ae, patients, schema.DISEASE).by_term
    monkeypatch.setattr(toxicity, "_DENSE_PAIRS", 0)  # many patients and terms: the rows sorted by pair instead
    by_sort = toxicity_summary(ae, patients, schema.DISEASE).by_term
    pd.testing.assert_frame_equal(dense, by_sort, check_exact=True)
    pd.testing.assert_frame_equal(dense, text_grouped_terms(ae, patients, schema.DISEASE), check_exact=True)
    assert (dense["n_any"] > 1).any() and dense["n_grade5"].sum() > 0
