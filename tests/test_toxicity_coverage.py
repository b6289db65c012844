"""Whose toxicity is known: denominators, the unknown count, max_ctcae_grade, AE files declared complete, by cycle.

Convention (docs/domain.md, "Optional long-format adverse-event table", coverage): toxicity is known for a patient with AE
rows, with max_ctcae_grade (0 = no AE; >= 1 answers "any AE" and "any grade >= 3" without term detail), or of a
source whose AE file the user declares complete (then no row = no AE). Denominators are the known patients; the
others are counted as unknown. A mismatch between the worst AE-row grade and max_ctcae_grade is a warning. CTCAE v5:
"grade >= 3" = severe or worse. AEs by cycle: cycles 1-2 over patients with doses_cN > 0, later cycles
over n_cycles >= c.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import csv_bytes, patient_rows

from il2lib import load_adverse_events, load_cohort, schema
from il2lib.analyses.toxicity import ANY_AE, ANY_G3, ANY_IRAE, ICU, toxicity_summary, unknown_sources

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
YES, NO = "Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"  # the group labels


def kinds(tox) -> dict:
    return {n.kind: n for n in (*tox.notes, *tox.warnings) if getattr(n, "kind", "")}


def summary(tox) -> pd.DataFrame:
    return tox.summary.set_index(["group", "measure"])


# ------------------------------------------------------------------ an AE file covering one source only
def test_combined_sample_with_only_the_community_ae_file_reads_max_ctcae_grade():
    cohort = load_cohort(SAMPLE / "combined_synthetic.csv")
    ae = load_adverse_events(SAMPLE / "community_synthetic_adverse_events.csv", cohort)
    tox = toxicity_summary(ae.data, cohort.data, by=schema.PRIOR_PD1)
    s = summary(tox)
    # prior PD-1 = yes are the 57 PROCLAIM patients, none of them in the community AE file. Their patient rows give
    # max_ctcae_grade 2 (4 patients), 3 (49) and 4 (4): any AE 57/57 and grade >= 3 49 + 4 = 53/57 (was 0/57).
    assert tuple(s.loc[(YES, ANY_AE), ["n", "N", "n_unknown"]]) == (57, 57, 0)
    assert tuple(s.loc[(YES, ANY_G3), ["n", "N"]]) == (53, 57)
    # no term detail for them: the per-term and immune-related rows count the 50 community patients only
    assert tuple(s.loc[(YES, ANY_IRAE), ["N", "n_unknown"]]) == (0, 57)
    assert tox.term_sizes.to_dict() == {NO: 50, YES: 0}
    note = kinds(tox)["ae_grade_only"]
    proclaim = set(cohort.data.loc[cohort.data[schema.SOURCE] == "PROCLAIM (synthetic)", schema.PATIENT_ID])
    assert note.count == 57 and set(note.patient_ids) == proclaim
    assert "known from max_ctcae_grade only" in note
    # the load says that they have no AE row, by source
    assert any(f.message.startswith("57 of 107 patients have no AE row (PROCLAIM (synthetic): 57)")
               for f in ae.report.findings)


def test_without_max_ctcae_grade_the_uncovered_source_is_unknown_unless_declared_complete():
    cohort = load_cohort(SAMPLE / "combined_synthetic.csv")
    ae = load_adverse_events(SAMPLE / "community_synthetic_adverse_events.csv", cohort).data
    patients = cohort.data.drop(columns=[schema.MAX_CTCAE])
    s = summary(toxicity_summary(ae, patients, by=schema.PRIOR_PD1))
    # no AE row, no max_ctcae_grade, file not declared complete: the 57 are unknown, not "no AE"
    assert tuple(s.loc[(YES, ANY_AE), ["n", "N", "n_unknown"]]) == (0, 0, 57)
    tox = toxicity_summary(ae, patients)
    unknown = kinds(tox)["ae_unknown"]
    assert unknown.count == 57 and "By source: PROCLAIM (synthetic) 57." in unknown
    assert tuple(summary(tox).loc[("All patients", ANY_AE), ["n", "N", "n_unknown"]]) == (50, 50, 57)
    # declared complete for PROCLAIM (matched ignoring case and spacing): no row = no AE, 0 of 57
    declared = toxicity_summary(ae, patients, by=schema.PRIOR_PD1, ae_complete=["proclaim  (SYNTHETIC)"])
    assert tuple(summary(declared).loc[(YES, ANY_AE), ["n", "N", "n_unknown"]]) == (0, 57, 0)
    assert kinds(declared)["ae_complete"].count == 57 and "ae_unknown" not in kinds(declared)


def test_bundled_samples_know_every_patient():
    for stem in ("combined", "proclaim", "community"):
        cohort = load_cohort(SAMPLE / f"{stem}_synthetic.csv")
        tox = toxicity_summary(load_adverse_events(SAMPLE / f"{stem}_synthetic_adverse_events.csv", cohort).data,
                               cohort.data)
        assert tox.n_known == tox.n_patients == len(cohort.data) and not tox.warnings
        assert {"ae_unknown", "ae_grade_only", "ae_any_by_construction"}.isdisjoint(kinds(tox))


# ------------------------------------------------------------------ a small adversarial cohort
@pytest.fixture
def cohort6():
    # P1 A rows G3, max 3 | P2 A nothing | P3 A max 0 | P4 B nothing | P5 B row G1 but max 3 | P6 A max 2
    patients = pd.DataFrame({schema.PATIENT_ID: [f"P{i}" for i in range(1, 7)],
                             schema.SOURCE: ["A", "A", "A", "B", "B", "A"],
                             schema.MAX_CTCAE: [3, np.nan, 0, np.nan, 3, 2],
                             schema.ICU_TRANSFER: pd.array([True, None, False, False, False, False], dtype="boolean")})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P5"], schema.AE_TERM: ["Hypotension", "Fever"],
                       schema.AE_GRADE: [3, 1]})
    return patients, ae


def test_known_patients_are_the_denominators(cohort6):
    patients, ae = cohort6
    tox = toxicity_summary(ae, patients, ae_complete=["B"])
    s = summary(tox).loc["All patients"]
    # known: P1 (rows), P3 (max 0), P4 (B complete), P5 (rows), P6 (max 2) = 5; unknown: P2
    # any AE: P1 (3), P5 (higher of row 1 and max 3 = 3), P6 (2) = 3/5; grade >= 3: P1, P5 = 2/5
    assert tuple(s.loc[ANY_AE, ["n", "N", "n_unknown"]]) == (3, 5, 1)
    assert tuple(s.loc[ANY_G3, ["n", "N", "n_unknown"]]) == (2, 5, 1)
    # term detail: P1, P3, P4, P5 (P6 has a max grade only) -> N = 4 in the per-term and irAE rows
    assert tuple(s.loc[ANY_IRAE, ["n", "N", "n_unknown"]]) == (0, 4, 2)
    hyp = tox.by_term.set_index("term").loc["Hypotension"]
    assert (hyp["n_any"], hyp["N"], hyp["pct_any"]) == (1, 4, 25.0)
    # ICU transfer: the patient flag, P2's missing -> 1/5, 1 unknown
    assert tuple(s.loc[ICU, ["n", "N", "n_unknown"]]) == (1, 5, 1)
    k = kinds(tox)
    assert (k["ae_unknown"].count, k["ae_unknown"].patient_ids) == (1, ("P2",))
    assert "By source: A 1." in k["ae_unknown"]
    assert k["ae_grade_only"].patient_ids == ("P6",)
    assert k["ae_complete"].patient_ids == ("P4",)
    assert k["ae_grade_mismatch"].patient_ids == ("P5",)  # worst row grade 1, max_ctcae_grade 3
    assert tox.n_note == "Patients used: 6; toxicity known for 5 (the denominators), unknown for 1."
    # not declared complete: P4 is unknown too
    s2 = summary(toxicity_summary(ae, patients)).loc["All patients"]
    assert tuple(s2.loc[ANY_AE, ["n", "N", "n_unknown"]]) == (3, 4, 2)
    # "*" declares every patient's AE file complete: P2 and P4 had no AE
    s3 = summary(toxicity_summary(ae, patients, ae_complete=[schema.AE_COMPLETE_ALL])).loc["All patients"]
    assert tuple(s3.loc[ANY_AE, ["n", "N", "n_unknown"]]) == (3, 6, 0)


def test_any_ae_is_100_percent_by_construction_when_only_rows_make_a_patient_known():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1", "P2", "P3"]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P2"], schema.AE_TERM: ["Fever", "Chills"],
                       schema.AE_GRADE: [1, 2]})
    tox = toxicity_summary(ae, patients)
    # P3 has no row and no max_ctcae_grade: unknown; the known P1, P2 both have rows -> any AE 2/2 necessarily
    assert tuple(summary(tox).loc[("All patients", ANY_AE), ["n", "N", "n_unknown"]]) == (2, 2, 1)
    assert "100% by construction" in kinds(tox)["ae_any_by_construction"]
    declared = toxicity_summary(ae, patients, ae_complete=["*"])
    assert tuple(summary(declared).loc[("All patients", ANY_AE), ["n", "N"]]) == (2, 3)
    assert "ae_any_by_construction" not in kinds(declared)


def test_grade_mismatch_is_a_load_warning_with_the_row_and_a_toxicity_warning(load):
    cohort = load(patient_rows({"max_ctcae_grade": "3"}, {"max_ctcae_grade": "0"}, {"max_ctcae_grade": "2"}))
    ae = pd.DataFrame({"patient_id": ["P001", "P001", "P002", "P003"],
                       "ae_term": ["Fever", "Hypotension", "Chills", "Fever"], "ctcae_grade": [1, 2, 1, 2]})
    events = load_adverse_events(csv_bytes(ae), cohort)
    warnings = [f.message for f in events.report.findings if f.level == "warning"]
    # P001: worst row grade 2 (file line 3) vs 3; P002: 1 (line 4) vs 0 (= no AE); P003 agrees
    assert warnings == [
        "AE row 3 (patient_id=P001): worst AE grade 2 but max_ctcae_grade = 3 in the patient file; toxicity "
        "counts the higher grade.",
        "AE row 4 (patient_id=P002): worst AE grade 1 but max_ctcae_grade = 0 in the patient file; toxicity "
        "counts the higher grade."]
    tox = toxicity_summary(events.data, cohort.data)
    assert kinds(tox)["ae_grade_mismatch"].patient_ids == ("P001", "P002")
    s = summary(tox).loc["All patients"]
    # higher grade: P001 3, P002 1, P003 2 -> any AE 3/3, grade >= 3 1/3
    assert tuple(s.loc[ANY_AE, ["n", "N"]]) == (3, 3) and tuple(s.loc[ANY_G3, ["n", "N"]]) == (1, 3)


def test_ae_complete_sources_are_checked_against_the_file():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1"], schema.SOURCE: ["Community (synthetic)"]})
    assert unknown_sources(patients, ["community  (SYNTHETIC)", "*", "PROCLAM"]) == ["PROCLAM"]


# ------------------------------------------------------------------ AEs by cycle
def test_aes_by_cycle_count_the_patients_who_received_the_cycle():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1", "P2", "P3", "P4", "P5"],
                             schema.DOSES_C1: [10, 12, 9, np.nan, 11], schema.DOSES_C2: [8, 0, np.nan, np.nan, 10],
                             schema.N_CYCLES: [4, 1, np.nan, 2, 2], schema.MAX_CTCAE: [3, 1, 0, 4, np.nan]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P1", "P2", "P4"], schema.AE_TERM: ["Hypotension", "Fever",
                                                                                      "Chills", "Hypotension"],
                       schema.AE_GRADE: [3, 2, 1, 4], schema.AE_CYCLE: [1, 3, 1, 2]})
    cyc = toxicity_summary(ae, patients).by_cycle.set_index("cycle")
    cols = ["N", "n_patients_any", "n_patients_grade3plus", "n_unknown"]
    # P5: no row, no max grade -> toxicity unknown. Cycle 1: P1-P3 doses_c1 > 0, P4 n_cycles 2 >= 1 -> N = 4
    # (P1-P4), AE: P1 (G3), P2 -> 2, grade >= 3: 1; unknown: P5
    assert tuple(cyc.loc[1, cols]) == (4, 2, 1, 1)
    # cycle 2: P1 doses 8, P4 n_cycles 2 -> N = 2; P2 doses 0 not given; P3 doses and n_cycles missing and P5
    # (toxicity unknown) -> 2 unknown; AE: P4 G4 -> 1 and 1
    assert tuple(cyc.loc[2, cols]) == (2, 1, 1, 2)
    # cycle 3: n_cycles >= 3 only P1 -> N = 1, P1's G2 fever -> 1, 0; P3 (n_cycles missing) unknown
    assert tuple(cyc.loc[3, cols]) == (1, 1, 0, 1)
    assert cyc.loc[3, "pct_any"] == 100.0


def test_an_ae_in_a_cycle_not_given_counts_the_cycle_as_received_with_a_warning():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1", "P2"], schema.DOSES_C1: [10, 12], schema.DOSES_C2: [0, 9],
                             schema.N_CYCLES: [1, 2]})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1", "P2"], schema.AE_TERM: ["Fever", "Fever"],
                       schema.AE_GRADE: [1, 1], schema.AE_CYCLE: [2, 1]})
    tox = toxicity_summary(ae, patients)
    # P1's doses_c2 = 0 but a fever in cycle 2: received (the AE), so cycle 2 N = P1 + P2 = 2, 1 with an AE
    assert tuple(tox.by_cycle.set_index("cycle").loc[2, ["N", "n_patients_any"]]) == (2, 1)
    assert kinds(tox)["ae_cycle_not_given"].patient_ids == ("P1",)
