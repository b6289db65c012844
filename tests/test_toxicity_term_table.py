"""Per-term toxicity rows (worst grade per patient per term, per group) equal a plain text groupby of the AE rows."""
import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses import toxicity
from il2lib.analyses._grouping import group_labels, level_order, patient_ids
from il2lib.analyses.toxicity import GRADES, TERM_COLUMNS, _clean_ae, _immune_flag, toxicity_summary


def text_grouped_terms(ae: pd.DataFrame, patients: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """The definition: group the cleaned AE rows by group, patient and term text, then by term per group."""
    labels = group_labels(patients, by)
    keep = labels.notna().to_numpy()
    patients, labels = patients[keep], labels[keep]
    pids = patient_ids(patients)
    clean = _clean_ae(ae, set(pids))[0]
    clean = clean.assign(_irae=_immune_flag(clean))
    clean["_group"] = clean[schema.AE_PATIENT_ID].map(dict(zip(pids, labels)))
    worst = (clean.groupby(["_group", schema.AE_PATIENT_ID, schema.AE_TERM], sort=False)
             .agg(grade=(schema.AE_GRADE, "max"), irae=("_irae", "any")).reset_index())
    tox = toxicity_summary(ae, patients, by)
    rows = []
    for g in level_order(by, labels, None):
        n = int(tox.term_sizes[g])
        w = worst[worst["_group"] == g]
        for term, t in w.groupby(schema.AE_TERM, sort=True):
            counts = t["grade"].value_counts()
            rows.append({"group": g, "term": term, "N": n, "n_any": len(t), "pct_any": 100 * len(t) / n,
                         "n_grade3plus": int((t["grade"] >= 3).sum()),
                         "pct_grade3plus": 100 * (t["grade"] >= 3).sum() / n,
                         "immune_related": bool(t["irae"].any()),
                         **{f"n_grade{k}": int(counts.get(k, 0)) for k in GRADES}})
    return pd.DataFrame(rows, columns=TERM_COLUMNS)


def messy_tables(seed: int, n_patients: int, n_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"P{i}" for i in range(n_patients)]
    patients = pd.DataFrame({
        schema.PATIENT_ID: ids,
        schema.DISEASE: rng.choice(np.array(["melanoma", "rcc", None], dtype=object), n_patients, p=[.5, .4, .1]),
        schema.PRIOR_PD1: pd.array(rng.choice(np.array([True, False, None], dtype=object), n_patients),
                                   dtype="boolean"),
    })
    terms = np.array(["Hypotension", "hypotension ", "Fever", "Vitiligo", "Skin hypopigmentation", "Colitis",
                      "Rash maculo-papular", "", "  ", None, "Capillary leak syndrome", "zzz local term",
                      "Zzz Local-Term"], dtype=object)
    ae = pd.DataFrame({
        schema.AE_PATIENT_ID: rng.choice(np.array(ids + ["X1", "X2"], dtype=object), n_rows),
        schema.AE_TERM: rng.choice(terms, n_rows),
        schema.AE_GRADE: pd.array(rng.choice(np.array([1, 2, 3, 4, 5, 0, 7, None], dtype=object), n_rows,
                                             p=[.25, .25, .2, .1, .08, .04, .04, .04]), dtype="Int64"),
        schema.AE_IMMUNE: pd.array(rng.choice(np.array([True, False, None], dtype=object), n_rows),
                                   dtype="boolean"),
        schema.AE_ATTRIBUTION: rng.choice(np.array(["definite", "unlikely", "unknown", "", None], dtype=object),
                                          n_rows),
    })
    return ae, patients


@pytest.mark.parametrize("by", [None, schema.DISEASE, schema.PRIOR_PD1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_term_rows_equal_the_text_grouping_on_a_messy_table(by, seed):
    ae, patients = messy_tables(seed, n_patients=60, n_rows=400)
    got = toxicity_summary(ae, patients, by).by_term
    assert len(got) and (got["n_grade5"] > 0).any() and (got["n_any"] > 1).any()
    pd.testing.assert_frame_equal(got, text_grouped_terms(ae, patients, by), check_exact=True)


def test_per_term_rows_of_a_patient_with_one_term_at_several_grades_and_ties():
    patients = pd.DataFrame({schema.PATIENT_ID: ["A", "B", "C"], schema.DISEASE: ["melanoma", "rcc", "melanoma"]})
    ae = pd.DataFrame({
        schema.AE_PATIENT_ID: ["A", "A", "A", "B", "B", "C", "C", "C"],
        schema.AE_TERM: ["Fever", "fever", "Fever ", "Fever", "Fever", "Colitis", "Colitis", " "],
        schema.AE_GRADE: [1, 3, 2, 2, 2, 5, 5, 4],
        schema.AE_ATTRIBUTION: ["unknown", None, "", "definite", "definite", "unknown", "", "possible"],
    })
    got = toxicity_summary(ae, patients, schema.DISEASE).by_term
    pd.testing.assert_frame_equal(got, text_grouped_terms(ae, patients, schema.DISEASE), check_exact=True)
    fever = got[(got["term"] == "Fever") & got["group"].str.lower().str.startswith("melanoma")].iloc[0]
    assert (fever["n_any"], fever["n_grade3"], fever["n_grade1"]) == (1, 1, 0)  # A once, at grade 3


def test_per_term_rows_without_any_kept_ae_row_are_empty():
    patients = pd.DataFrame({schema.PATIENT_ID: ["A"], schema.DISEASE: ["melanoma"],
                             schema.MAX_CTCAE: [0]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["Z"], schema.AE_TERM: ["Fever"], schema.AE_GRADE: [2]})
    got = toxicity_summary(ae, patients, schema.DISEASE).by_term
    pd.testing.assert_frame_equal(got, text_grouped_terms(ae, patients, schema.DISEASE))


@pytest.mark.parametrize("seed", [0, 1])
def test_per_term_rows_counted_cell_by_cell_or_by_distinct_cells_agree(seed, monkeypatch):
    ae, patients = messy_tables(seed, n_patients=60, n_rows=400)
    dense = toxicity_summary(ae, patients, schema.DISEASE).by_term
    monkeypatch.setattr(toxicity, "_DENSE_CELLS", 0)  # many terms: only the (group, term) cells present
    sparse = toxicity_summary(ae, patients, schema.DISEASE).by_term
    pd.testing.assert_frame_equal(sparse, dense, check_exact=True)
    pd.testing.assert_frame_equal(sparse, text_grouped_terms(ae, patients, schema.DISEASE), check_exact=True)


def test_per_term_rows_with_a_patient_id_given_twice_equal_the_text_grouping():
    ae, patients = messy_tables(3, n_patients=40, n_rows=300)
    patients = pd.concat([patients, patients.iloc[[0, 5]].assign(**{schema.DISEASE: "rcc"})], ignore_index=True)
    got = toxicity_summary(ae, patients, schema.DISEASE).by_term
    pd.testing.assert_frame_equal(got, text_grouped_terms(ae, patients, schema.DISEASE), check_exact=True)
