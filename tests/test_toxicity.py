"""Toxicity: worst grade per patient per term, denominators incl. patients without AEs, exclusions."""
from pathlib import Path

import pandas as pd
import pytest

from il2lib import load_adverse_events, load_cohort, schema
from il2lib.analyses.toxicity import ANY_AE, ANY_G3, ANY_IRAE, DEATHS, ICU, STEROIDS, toxicity_summary

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
# The fixture's AE table lists every AE of every patient: declared so, patients without rows had no AE
# (without the declaration or max_ctcae_grade their toxicity is unknown: docs/domain.md, AE table coverage).
COMPLETE = (schema.AE_COMPLETE_ALL,)


@pytest.fixture
def patients():
    return pd.DataFrame({
        schema.PATIENT_ID: ["P1", "P2", "P3", "P4", "P5"],
        schema.DISEASE: ["melanoma", "melanoma", "melanoma", "rcc", "rcc"],
        schema.PRIOR_PD1: pd.array([True, True, False, False, None], dtype="boolean"),
        schema.ICU_TRANSFER: pd.array([False, True, False, None, False], dtype="boolean"),
        schema.STEROIDS_IRAE: pd.array([False, False, False, False, False], dtype="boolean"),
        schema.TREATMENT_DEATH: pd.array([False] * 5, dtype="boolean"),
    })


@pytest.fixture
def ae():
    return pd.DataFrame({
        schema.AE_PATIENT_ID: ["P1", "P1", "P1", "P2", "P2", "P4", "P9", "P4"],
        schema.AE_TERM: ["Hypotension", "Hypotension", "Fever", "Hypotension", "Pneumonitis", "Vitiligo", "Fever",
                         "Fever"],
        schema.AE_GRADE: [2, 3, 1, 4, 2, 1, 3, 7],
        schema.AE_CYCLE: [1, 2, 1, 1, 2, 1, 1, 1],
        schema.AE_IMMUNE: pd.array([False, False, False, False, True, None, False, False], dtype="boolean"),
        schema.AE_STEROIDS: pd.array([False, False, False, False, True, False, False, False], dtype="boolean"),
    })


def test_worst_grade_once_per_patient_per_term(patients, ae):
    tox = toxicity_summary(ae, patients, ae_complete=COMPLETE)
    terms = tox.by_term.set_index("term")
    hyp = terms.loc["Hypotension"]
    assert (hyp["n_any"], hyp["n_grade3plus"], hyp["n_grade3"], hyp["n_grade4"], hyp["n_grade2"]) == (2, 2, 1, 1, 0)
    assert hyp["N"] == 5 and hyp["pct_any"] == pytest.approx(40.0)
    assert "Skin hypopigmentation" in terms.index  # vitiligo mapped to the CTCAE term
    assert bool(terms.loc["Skin hypopigmentation", "immune_related"])  # flag missing -> by term list
    summary = tox.summary.set_index("measure")
    assert summary.loc[ANY_AE, "n"] == 3 and summary.loc[ANY_AE, "N"] == 5  # P3, P5 had none
    assert summary.loc[ANY_G3, "n"] == 2
    assert summary.loc[ANY_IRAE, "n"] == 2  # P2 pneumonitis, P4 vitiligo
    assert summary.loc[STEROIDS, "n"] == 1
    assert (summary.loc[ICU, "n"], summary.loc[ICU, "n_unknown"]) == (1, 1)
    assert summary.loc[DEATHS, "n"] == 0


def test_unattributable_and_invalid_rows_are_listed(patients, ae):
    tox = toxicity_summary(ae, patients)
    reasons = dict(zip(tox.excluded_ae_rows["ae_row"], tox.excluded_ae_rows["reason"]))
    assert reasons == {"7": "patient not in the analysed (filtered) cohort", "8": "CTCAE grade missing or not an integer 1-5"}
    assert "AE rows left out: 1 (patient not in the analysed (filtered) cohort); 1 (CTCAE grade" in tox.n_note


def test_filtered_cohort_denominators_and_grouping(patients, ae):
    mel = patients[patients[schema.DISEASE] == "melanoma"]
    tox = toxicity_summary(ae, mel)
    assert tox.n_patients == 3
    assert (tox.excluded_ae_rows["reason"] == "patient not in the analysed (filtered) cohort").sum() == 3
    by = toxicity_summary(ae, patients, by=schema.PRIOR_PD1, ae_complete=COMPLETE)
    assert by.groups == ("Prior PD-1/PD-L1: no", "Prior PD-1/PD-L1: yes")  # the reference (naive) first
    s = by.summary.set_index(["group", "measure"])
    assert s.loc[("Prior PD-1/PD-L1: yes", ANY_AE), "N"] == 2 and s.loc[("Prior PD-1/PD-L1: no", ANY_AE), "N"] == 2
    assert any("left out" in n for n in by.notes)  # P5 has no prior-PD-1 value
    assert schema.ERA_CAVEAT in by.notes


def test_grade5_counts_as_treatment_related_death_only_when_related(patients):
    # CTEP attribution: "probable" = related -> a treatment-related death; blank = unknown -> listed apart
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P3"], schema.AE_TERM: ["Sepsis"], schema.AE_GRADE: [5],
                       schema.AE_ATTRIBUTION: ["probable"]})
    tox = toxicity_summary(ae, patients)
    assert tox.summary.set_index("measure").loc[DEATHS, "n"] == 1
    blank = toxicity_summary(ae.assign(**{schema.AE_ATTRIBUTION: [None]}), patients)
    assert blank.summary.set_index("measure").loc[DEATHS, "n"] == 0


def test_by_cycle_and_display(patients, ae):
    tox = toxicity_summary(ae, patients, by=schema.DISEASE, ae_complete=COMPLETE)
    cyc = tox.by_cycle.set_index(["group", "cycle"])
    assert cyc.loc[("Melanoma", 1), "n_patients_any"] == 2
    assert cyc.loc[("Melanoma", 2), "n_patients_grade3plus"] == 1
    disp = tox.display()
    assert disp.index[0] == "Hypotension"
    assert disp.loc["Hypotension", "Melanoma (N=3): grade >= 3"] == "2 (67%)"


def test_missing_required_ae_column_is_clear(patients):
    with pytest.raises(KeyError, match="ctcae_grade"):
        toxicity_summary(pd.DataFrame({schema.AE_PATIENT_ID: ["P1"], schema.AE_TERM: ["Fever"]}), patients)


def test_proclaim_sample_has_one_pneumonitis_with_steroids_after_pdl1():
    ae_path = SAMPLE / "proclaim_synthetic_adverse_events.csv"
    cohort = load_cohort(SAMPLE / "proclaim_synthetic.csv")
    patients = cohort.data
    ae = load_adverse_events(ae_path, cohort).data
    tox = toxicity_summary(ae, patients)
    pneu = ae[(ae[schema.AE_TERM] == "Pneumonitis") & ae[schema.AE_STEROIDS].astype("boolean").fillna(False)]
    assert pneu[schema.AE_PATIENT_ID].nunique() == 1
    agent = patients.set_index(schema.PATIENT_ID).loc[pneu[schema.AE_PATIENT_ID].iloc[0], schema.PRIOR_PD1_AGENT]
    assert agent in schema.PDL1_AGENTS
    assert tox.summary.set_index("measure").loc[DEATHS, "n"] == 0


def test_group_without_any_ae_and_empty_ae_table(patients, ae):
    from il2lib.figures.toxicity import ae_grade_figure
    one = ae[ae[schema.AE_PATIENT_ID] == "P1"]
    tox = toxicity_summary(one, patients, by=schema.DISEASE, ae_complete=COMPLETE)
    assert tox.display().loc["Hypotension", "RCC (N=2): any grade"] == "0 (0%)"
    assert len(ae_grade_figure(tox).data) == 10
    empty = toxicity_summary(ae.iloc[0:0], patients)
    assert empty.summary.set_index("measure").loc[ANY_AE, "n"] == 0 and empty.display().empty
