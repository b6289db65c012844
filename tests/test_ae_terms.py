"""AE terms are one vocabulary: spellings merged ignoring case, spacing and punctuation, to the CTCAE v5 term.

Convention (docs/domain.md, "Optional long-format adverse-event table"): match case-, spacing- and punctuation-insensitively
to the CTCAE v5 term (or to the first spelling seen when not a CTCAE term) and say which spellings were merged;
"Hypotension", "hypotension" and "HYPOTENSION" are one term. CTCAE v5.0 (NCI 2017) spells e.g. "Hypotension",
"Capillary leak syndrome", "Rash maculo-papular", "Atrial fibrillation", "Pneumonitis"; "Vitiligo" is not a CTCAE term
and maps to "Skin hypopigmentation". A patient counts once per term at the worst grade.
"""
import pandas as pd
from conftest import csv_bytes, patient_rows

from il2lib import load_adverse_events, schema
from il2lib.analyses.toxicity import ANY_IRAE, toxicity_summary
from il2lib.validation import ae_vocabulary

ALL = (schema.AE_COMPLETE_ALL,)  # the test AE tables list every AE of every patient


def test_case_variants_are_one_term_at_the_worst_grade():
    # P1 Hypotension G3 / hypotension G4 / HYPOTENSION G2; P2 "pneumonitis" G2; P3 "Pneumonitis" G3
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1", "P2", "P3", "P4"]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P1", "P1", "P2", "P3", "P1", "P4"],
                       schema.AE_TERM: ["Hypotension", "hypotension", "HYPOTENSION", "pneumonitis", "Pneumonitis",
                                        "capillary leak syndrome", "Capillary Leak  Syndrome"],
                       schema.AE_GRADE: [3, 4, 2, 2, 3, 2, 3]})
    tox = toxicity_summary(ae, patients, ae_complete=ALL)
    terms = tox.by_term.set_index("term")
    assert sorted(terms.index) == ["Capillary leak syndrome", "Hypotension", "Pneumonitis"]
    # P1's worst hypotension is G4: one patient, grade 4, on the one row
    hyp = terms.loc["Hypotension"]
    assert (hyp["n_any"], hyp["n_grade4"], hyp["n_grade3"], hyp["n_grade3plus"]) == (1, 1, 0, 1)
    # pneumonitis: P2 G2 and P3 G3 = 2/4 (50%), 1 at grade >= 3 (was two rows of 1/4)
    pneu = terms.loc["Pneumonitis"]
    assert (pneu["n_any"], pneu["pct_any"], pneu["n_grade3plus"]) == (2, 50.0, 1)
    assert (terms.loc["Capillary leak syndrome", "n_any"], terms.loc["Capillary leak syndrome", "n_grade3"]) == (2, 1)
    merge = next(n for n in tox.notes if getattr(n, "kind", "") == "ae_term_merge")
    assert '"hypotension", "HYPOTENSION" -> "Hypotension"' in merge
    assert '"pneumonitis" -> "Pneumonitis"' in merge
    assert '"capillary leak syndrome", "Capillary Leak  Syndrome" -> "Capillary leak syndrome"' in merge
    assert merge.patient_ids == ("P1", "P2", "P4") and merge.count == 3


def test_punctuation_and_spacing_are_ignored_and_other_terms_keep_their_first_spelling():
    terms = pd.Series(["rash maculopapular", "RASH MACULO-PAPULAR", "Atrial-fibrillation", "rigors", "Rigors",
                       " RIGORS ", "Vitiligo", None])
    out, merges = ae_vocabulary.canonical_terms(terms)
    # "Rigors" is not a CTCAE v5 term (CTCAE grades it as "Chills"): the first spelling, "rigors", is kept
    assert out.tolist()[:7] == ["Rash maculo-papular", "Rash maculo-papular", "Atrial fibrillation", "rigors",
                                "rigors", "rigors", "Skin hypopigmentation"]
    assert out.iloc[7] is None
    assert merges == {"Rash maculo-papular": ("rash maculopapular", "RASH MACULO-PAPULAR"),
                      "Atrial fibrillation": ("Atrial-fibrillation",), "rigors": ("Rigors", "RIGORS"),
                      "Skin hypopigmentation": ("Vitiligo",)}


def test_the_shipped_ctcae_terms_are_distinct_and_spelled_as_themselves():
    keys = [ae_vocabulary.term_key(t) for t in schema.CTCAE_V5_TERMS]
    assert len(set(keys)) == len(keys)
    out, merges = ae_vocabulary.canonical_terms(pd.Series(schema.CTCAE_V5_TERMS))
    assert out.tolist() == list(schema.CTCAE_V5_TERMS) and merges == {}
    # the HD IL-2 toxicities and irAEs of docs/domain.md 1C / 2.5, in their CTCAE v5.0 spelling
    for term in ("Capillary leak syndrome", "Hypotension", "Creatinine increased", "Acute kidney injury", "Fever",
                 "Chills", "Platelet count decreased", "Blood bilirubin increased", "Acidosis", "Atrial fibrillation",
                 "Sinus tachycardia", "Confusion", "Rash maculo-papular", "Pruritus", "Pneumonitis", "Colitis",
                 "Aspartate aminotransferase increased", "Alanine aminotransferase increased", "Hypothyroidism",
                 "Hyperthyroidism", "Skin hypopigmentation"):
        assert term in schema.CTCAE_V5_TERMS


def test_immune_related_lookup_ignores_spelling():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1", "P2", "P3"]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P2", "P3"], schema.AE_TERM: ["PNEUMONITIS", "vitiligo", "Fever"],
                       schema.AE_GRADE: [2, 1, 1]})  # no immune_related column: the term decides
    tox = toxicity_summary(ae, patients, ae_complete=ALL)
    # P1 pneumonitis and P2 vitiligo (skin hypopigmentation) are immune-related: 2/3
    assert tuple(tox.summary.set_index("measure").loc[ANY_IRAE, ["n", "N"]]) == (2, 3)
    assert ae_vocabulary.is_immune_related(pd.Series(["hypo-thyroidism", "Hypotension", None])).tolist() == \
        [True, False, False]


def test_the_loader_merges_spellings_and_says_so(load):
    cohort = load(patient_rows(n=2))
    ae = pd.DataFrame({"patient_id": ["P001", "P001", "P002"], "ae_term": ["hypotension", "HYPOTENSION", "PNEUMONITIS"],
                       "ctcae_grade": [2, 3, 2]})
    events = load_adverse_events(csv_bytes(ae), cohort)
    assert events.data[schema.AE_TERM].tolist() == ["Hypotension", "Hypotension", "Pneumonitis"]
    assert events.data[schema.AE_TERM_ENTERED].tolist() == ["hypotension", "HYPOTENSION", "PNEUMONITIS"]
    assert events.data[schema.AE_IMMUNE].tolist() == [False, False, True]
    assert any('"hypotension", "HYPOTENSION" -> "Hypotension"' in c for c in events.report.conversions)
    # the toxicity note still names the merge made at load
    tox = toxicity_summary(events.data, cohort.data)
    merge = next(n for n in tox.notes if getattr(n, "kind", "") == "ae_term_merge")
    assert '"hypotension", "HYPOTENSION" -> "Hypotension"; "PNEUMONITIS" -> "Pneumonitis"' in merge
