"""Treatment-related deaths: a grade-5 AE counts only when its attribution is related, or by the patient's flag.

Convention (docs/domain.md, AE table; CTEP attribution scale, NCI "Guidelines for adverse event reporting"): definite,
probable, possible -> related; unlikely, unrelated -> unrelated; blank -> unknown. A treatment-related death is a
grade-5 AE with attribution related or treatment_related_death = yes; a grade-5 AE of unknown attribution is listed
as such, never as a treatment-related death (CTCAE v5 "Disease progression" is grade 5 only and not a toxicity);
a conflict with the patient flag is a warning.
"""
import pandas as pd
from conftest import csv_bytes, patient_rows

from il2lib import load_adverse_events, schema
from il2lib.analyses.toxicity import DEATHS, GRADE5_UNKNOWN, toxicity_summary


def test_only_related_grade5_aes_or_the_flag_are_treatment_related_deaths():
    patients = pd.DataFrame({schema.PATIENT_ID: [f"P{i}" for i in range(1, 7)],
                             schema.TREATMENT_DEATH: pd.array([False, False, True, True, False, None],
                                                              dtype="boolean")})
    ae = pd.DataFrame({
        schema.AE_PATIENT_ID: ["P1", "P2", "P3", "P4", "P6"],
        schema.AE_TERM: ["Disease progression", "Sepsis", "Capillary leak syndrome", "Myocarditis", "Hypotension"],
        schema.AE_GRADE: [5, 5, 5, 5, 5],
        schema.AE_ATTRIBUTION: [None, "Possible", "unrelated", "probable", ""]})
    tox = toxicity_summary(ae, patients, ae_complete=[schema.AE_COMPLETE_ALL])
    s = tox.summary.set_index("measure")
    # P1 blank attribution, flag no -> not a TRD (was counted); P2 possible = related -> TRD (flag no: conflict);
    # P3 unrelated but flag yes -> TRD by the flag (conflict); P4 probable, flag yes -> TRD; P5 no AE, flag no;
    # P6 blank attribution, flag missing -> unknown. TRD = P2, P3, P4: 3 of the 5 known, 1 unknown.
    assert tuple(s.loc[DEATHS, ["n", "N", "n_unknown"]]) == (3, 5, 1)
    # grade-5 AE, attribution unknown, not counted as TRD: P1 and P6, of the 6 with term detail
    assert tuple(s.loc[GRADE5_UNKNOWN, ["n", "N"]]) == (2, 6)
    note = next(n for n in tox.notes if getattr(n, "kind", "") == "ae_grade5_unknown_attribution")
    assert note.startswith(f"{GRADE5_UNKNOWN}: 2 patient(s)") and note.patient_ids == ("P1", "P6")
    conflict = next(w for w in tox.warnings if w.kind == "trd_conflict")
    assert conflict.patient_ids == ("P2", "P3")


def test_without_grade5_aes_there_is_no_attribution_row():
    patients = pd.DataFrame({schema.PATIENT_ID: ["P1"], schema.TREATMENT_DEATH: pd.array([False], dtype="boolean")})
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P1"], schema.AE_TERM: ["Fever"], schema.AE_GRADE: [2]})
    tox = toxicity_summary(ae, patients)
    assert GRADE5_UNKNOWN not in set(tox.summary["measure"])
    assert tuple(tox.summary.set_index("measure").loc[DEATHS, ["n", "N"]]) == (0, 1)


def test_the_loader_reads_the_ctep_scale(load):
    cohort = load(patient_rows(*[{"died": "Yes", "date_death": "2016-06-01", "date_last_followup": ""}] * 6))
    ae = pd.DataFrame({"patient_id": [f"P00{i}" for i in range(1, 7)],
                       "ae_term": ["Sepsis"] * 6, "ctcae_grade": [5] * 6,
                       "Relatedness": ["Definite", "PROBABLE", "possible", "Unlikely", "", "maybe"]})
    events = load_adverse_events(csv_bytes(ae), cohort)
    assert events.data[schema.AE_ATTRIBUTION].tolist() == ["related", "related", "related", "unrelated", None, None]
    assert [f.message for f in events.report.findings if f.column == schema.AE_ATTRIBUTION] == [
        "AE row 7: attribution 'maybe' not recognised (CTEP scale: definite, probable, possible = related; unlikely, "
        "unrelated = unrelated); counted as unknown."]
    assert events.report.n_excluded == 0  # an unreadable attribution never drops the AE
