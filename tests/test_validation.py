"""Each validation rule of docs/domain.md section 3, with a small malformed file built here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import csv_bytes, messages, patient_rows

from il2lib import schema
from il2lib.validation.patients import empty_patient_frame
from il2lib.validation.rules import AMBIGUOUS_DATE_ORDER


def test_valid_file_loads_everything(load):
    cohort = load(patient_rows(n=3))
    assert cohort.report.summary() == "3 loaded, 3 analysed, 0 excluded"
    assert cohort.report.ok and not cohort.report.findings
    assert list(cohort.data[schema.FILE_ROW]) == [2, 3, 4]


def test_missing_required_column_is_a_file_error(load):
    frame = patient_rows(n=2).drop(columns=[schema.DATE_IL2_START])
    cohort = load(frame)
    report = cohort.report
    assert not report.ok and report.n_analysed == 0 and report.n_excluded == 2
    assert [f.message for f in report.file_errors] == [
        "Missing required column 'date_il2_start' (accepted names: il2_start, start_date, tx_start)."]
    assert list(cohort.data.columns) == list(empty_patient_frame().columns) and cohort.data.empty
    assert cohort.excluded["reasons"].str.contains("date_il2_start").all()


def test_missing_prior_lines_column_only_disables_line_analyses(load):
    """docs/domain.md: prior_systemic_lines is required for line-of-therapy analyses only, not for the file."""
    cohort = load(patient_rows(n=2).drop(columns=[schema.PRIOR_LINES]))
    report = cohort.report
    assert report.ok and report.n_analysed == 2
    [finding] = report.warnings
    assert finding.analysis == schema.LINE_OF_IL2 and "line-of-therapy analyses are unavailable" in finding.message
    assert cohort.data[schema.LINE_OF_IL2].isna().all()


def test_column_and_value_synonyms(load):
    frame = patient_rows({"disease": "mRCC", "bor": "partial response", "died": "Dead", "date_death": "2016-09-01",
                          "date_last_followup": "", "date_first_response": "2016-02-20",
                          "date_progression": "2016-08-01"},
                         {"disease": "Cutaneous Melanoma", "bor": "stable", "died": "Alive"},
                         {"disease": "ccRCC", "bor": "POD", "prior_pd1_pdl1": "n"})
    frame = frame.rename(columns={"patient_id": "Subject ID", "disease": "Cancer_Type", "bor": "Best Response",
                                  "died": "vital_status", "date_il2_start": "IL2_start", "date_death": "DOD",
                                  "date_last_followup": "DLFU", "prior_pd1_pdl1": "prior IO",
                                  "prior_systemic_lines": "prior-lines"})
    cohort = load(frame)
    assert cohort.report.n_analysed == 3, messages(cohort)
    assert cohort.report.mapping["Subject ID"] == schema.PATIENT_ID
    assert cohort.report.mapping["DOD"] == schema.DATE_DEATH
    data = cohort.data
    assert list(data[schema.DISEASE]) == ["rcc", "melanoma", "rcc"]
    assert list(data[schema.BOR]) == ["PR", "SD", "PD"]
    assert list(data[schema.DIED]) == [True, False, False]
    assert list(data[schema.PRIOR_PD1]) == [True, True, False]


def test_required_value_empty_and_empty_bor(load):
    cohort = load(patient_rows({"disease": ""}, {"patient_id": " "}, {"bor": "", "patient_id": "P012"}))
    assert cohort.report.n_excluded == 2
    errors = messages(cohort, "row_error")
    assert "Row 2: 'disease' is empty." in errors
    assert "Row 3: 'patient_id' is empty." in errors
    assert "Row 4 (patient_id=P012): 'bor' is empty; counted as NE." in messages(cohort, "warning")
    assert cohort.data.set_index(schema.PATIENT_ID).loc["P012", schema.BOR] == "NE"


def test_duplicate_ids_exclude_every_copy(load):
    cohort = load(patient_rows({}, {"patient_id": "P007"}, {}, {"patient_id": "P007"}))
    message = "patient_id 'P007' appears 2 times (rows 3, 5); the patient file must be one row per patient."
    assert messages(cohort, "row_error") == [message, message]
    assert sorted(cohort.excluded[schema.FILE_ROW]) == [3, 5]
    assert cohort.report.n_analysed == 2


def test_unknown_category_suggests_closest(load):
    cohort = load(patient_rows({"disease": "lung"}, {"disease": "melanomma"}, {"bor": "partal"}))
    errors = messages(cohort, "row_error")
    assert errors[0].startswith("Row 2: disease 'lung' not recognised; allowed melanoma/rcc (or synonyms")
    assert "Did you mean 'melanoma'?" in errors[1]
    assert errors[2].startswith("Row 4: bor 'partal' not recognised; allowed CR/PR/SD/PD/NE")
    assert "Did you mean 'PR'?" in errors[2]
    assert cohort.report.n_analysed == 0


@pytest.mark.parametrize("value, why", [("2019-02-30", "is not a valid date"),
                                        ("1975-05-01", "is not a valid date (before 1980)"),
                                        ("2999-01-01", "is not a valid date (in the future)"),
                                        ("someday", "is not a valid date")])
def test_invalid_dates_are_row_errors(load, value, why):
    cohort = load(patient_rows({}, {"died": "Yes", "date_death": value, "date_last_followup": ""}))
    assert messages(cohort, "row_error") == [f"Row 3: date_death '{value}' {why}."]
    assert cohort.report.n_excluded == 1


def test_negative_time_and_event_after_death(load):
    cohort = load(patient_rows(
        {"died": "Yes", "date_death": "2016-01-02", "date_last_followup": "", "date_progression": ""},
        {"died": "Yes", "date_death": "2016-02-01", "date_progression": "2016-03-01", "date_last_followup": ""}))
    errors = messages(cohort, "row_error")
    assert "Row 2: date_death (2016-01-02) precedes date_il2_start (2016-01-10)." in errors
    assert "Row 3: date_progression after date_death." in errors


def test_missing_death_or_followup_date_only_leaves_survival(load):
    # row 2 is SD: a PD row without a progression date is also left out of PFS for that reason (own test)
    cohort = load(patient_rows({"died": "Yes", "date_last_followup": "", "date_progression": "", "progressed": "No",
                                "bor": "SD"},
                               {"died": "No", "date_last_followup": ""}, {}))
    report = cohort.report
    assert report.n_analysed == 3
    assert "Row 2: died=Yes but date_death missing; left out of OS and PFS." in messages(cohort, "warning")
    assert "Row 3: died=No but date_last_followup missing; left out of OS." in messages(cohort, "warning")
    assert [f.file_row for f in report.for_analysis("os")] == [2, 3]
    assert [f.file_row for f in report.for_analysis("pfs")] == [2]
    os_time = cohort.data[schema.OS_MONTHS]
    assert os_time.isna().tolist() == [True, True, False]


def test_date_contradicting_flag(load):
    cohort = load(patient_rows({"died": "No", "date_death": "2016-05-01"}))
    assert messages(cohort, "row_error") == ["Row 2: date_death given but died=No."]


def test_responders_without_first_response_date(load):
    cohort = load(patient_rows({"bor": "CR"}, {"bor": "PR"}, {"bor": "PR", "date_first_response": "2016-02-01"}))
    warnings = [f for f in cohort.report.warnings if f.analysis == "dor"]
    assert [f.message for f in warnings] == [
        "2 responders lack date_first_response; excluded from DoR (P001, P002)."]
    assert cohort.report.n_analysed == 3
    assert cohort.data[schema.DOR_MONTHS].notna().tolist() == [False, False, True]


def test_progression_before_first_response(load):
    cohort = load(patient_rows({"bor": "PR", "date_first_response": "2016-04-01"}))
    assert "Row 2: progression recorded before first response." in messages(cohort, "row_error")


@pytest.mark.parametrize("doses, level, text", [
    ("22", "row_error", "Row 2: doses_c1=22 exceeds protocol maximum (14, some centres 15)."),
    ("-1", "row_error", "Row 2: doses_c1=-1 is negative."),
    ("15", "warning", "Row 2: doses_c1=15 exceeds the usual maximum of 14 doses per cycle (some centres allow 15)."),
])
def test_doses_per_cycle(load, doses, level, text):
    cohort = load(patient_rows({"doses_c1": doses}))
    assert messages(cohort, level) == [text]


def test_implausible_lab_is_a_warning_and_kept(load):
    frame = patient_rows({"platelet_nadir": "2400"}, {"platelet_nadir": "80"}, {"platelet_nadir": "60"})
    cohort = load(frame)
    assert messages(cohort, "warning") == ["Row 2: platelet_nadir 2400 is outside 0–1500 ×10³/µL; check the unit."]
    assert cohort.data[schema.PLATELET_NADIR].tolist() == [2400.0, 80.0, 60.0]
    assert cohort.report.conversions == ()


@pytest.mark.parametrize("column, values, expected, threshold", [
    ("platelet_nadir", ["45000", "60000", "120000"], [45.0, 60.0, 120.0], "2000"),
    ("baseline_alc", ["1500", "900", "2100"], [1.5, 0.9, 2.1], "50"),
    ("peak_temp_c", ["102.2", "104", "98.6"], [39.0, 40.0, 37.0], "45"),
])
def test_unit_conversion_by_column_median(load, column, values, expected, threshold):
    cohort = load(patient_rows(*[{column: v} for v in values]))
    np.testing.assert_allclose(cohort.data[column], expected, rtol=1e-12)
    assert len(cohort.report.conversions) == 1 and cohort.report.conversions[0].startswith(column)
    assert f"> {threshold}" in cohort.report.conversions[0]
    assert len(cohort.report.warnings) == 1


def test_identifier_columns_warned_dropped_never_patient_id(load):
    frame = patient_rows(n=2)
    frame.insert(0, "MRN", ["12345", "67890"])
    frame["Patient Name"] = ["Ann Smith", "Bob Jones"]
    cohort = load(frame, mapping={"MRN": "patient_id"})
    report = cohort.report
    assert report.identifier_columns == ("MRN", "Patient Name")
    assert report.mapping.get("MRN") is None and "MRN" not in cohort.data and "Patient Name" not in cohort.data
    assert sum("direct identifier" in m for m in messages(cohort, "warning")) >= 2
    assert cohort.data[schema.PATIENT_ID].tolist() == ["P001", "P002"]


def test_prior_pd1_no_but_agent_given(load):
    cohort = load(patient_rows({"prior_pd1_pdl1": "No", "prior_pd1_agent": "nivo"}))
    assert messages(cohort, "warning") == ["Row 2: prior_pd1_agent 'nivolumab' given but prior_pd1_pdl1=No."]


def test_ambiguous_date_column_is_a_file_error_until_resolved(load):
    frame = patient_rows({"date_il2_start": "01/02/2016", "date_progression": "", "progressed": "No"},
                         {"date_il2_start": "03/04/2016", "date_progression": "", "progressed": "No"})
    cohort = load(frame)
    assert not cohort.report.ok and cohort.report.n_analysed == 0
    finding = cohort.report.file_errors[0]
    assert "could be day-first or month-first" in finding.message
    assert (finding.kind, finding.column) == (AMBIGUOUS_DATE_ORDER, schema.DATE_IL2_START)
    dmy = load(frame, date_order={"date_il2_start": "dmy"})
    assert dmy.data[schema.DATE_IL2_START].dt.strftime("%Y-%m-%d").tolist() == ["2016-02-01", "2016-04-03"]
    mdy = load(frame, date_order={"*": "mdy"})
    assert mdy.data[schema.DATE_IL2_START].dt.strftime("%Y-%m-%d").tolist() == ["2016-01-02", "2016-03-04"]


@pytest.mark.parametrize("texts, expected", [
    (["13/02/2016", "01/03/2016"], ["2016-02-13", "2016-03-01"]),      # a first field > 12: day-first
    (["02/13/2016", "03/01/2016"], ["2016-02-13", "2016-03-01"]),      # a second field > 12: month-first
    (["13.02.2016", "01.03.2016"], ["2016-02-13", "2016-03-01"]),
    (["13-Feb-2016", "01-MAR-2016"], ["2016-02-13", "2016-03-01"]),
    (["42413", "42430"], ["2016-02-13", "2016-03-01"]),                # Excel serial day numbers
])
def test_date_formats_decided_per_column(load, texts, expected):
    frame = patient_rows(*[{"date_il2_start": t, "date_progression": "", "progressed": "No"} for t in texts])
    cohort = load(frame)
    assert cohort.report.ok, messages(cohort)
    assert cohort.data[schema.DATE_IL2_START].dt.strftime("%Y-%m-%d").tolist() == expected


def test_derived_fields(load):
    frame = patient_rows(
        {"prior_systemic_lines": "2", "bor": "PR", "date_first_response": "2016-02-10", "progressed": "Yes",
         "date_progression": "2016-08-10", "died": "Yes", "date_death": "2017-01-10", "date_last_followup": "",
         "baseline_ldh": "500", "ldh_uln": "250"},
        {"bor": "SD", "sd_duration_months": "7", "progressed": "No", "date_progression": "",
         "date_last_assessment": "2016-07-10", "baseline_ldh": "200", "ldh_uln": "250"},
        {"bor": "SD", "sd_duration_months": "", "progressed": "No", "date_progression": "",
         "date_last_assessment": "", "date_last_followup": "2016-03-10"})
    cohort = load(frame)
    d = cohort.data
    assert [f.message for f in cohort.report.for_analysis(schema.CLINICAL_BENEFIT)] == [
        "1 SD patient without sd_duration_months (or dates to compute it): clinical benefit (SD >= 6 months) is "
        "unknown (NA) for this patient."]
    assert d[schema.LINE_OF_IL2].tolist() == [3, 1, 1] and str(d[schema.LINE_OF_IL2].dtype) == "Int64"
    assert d[schema.FIRST_LINE].tolist() == [False, True, True]
    assert d[schema.OBJECTIVE_RESPONSE].tolist() == [True, False, False]
    assert d[schema.DISEASE_CONTROL].tolist() == [True, True, True]
    assert d[schema.CLINICAL_BENEFIT].tolist()[:2] == [True, True] and d[schema.CLINICAL_BENEFIT].isna()[2]
    days = (pd.Timestamp("2017-01-10") - pd.Timestamp("2016-01-10")).days
    assert d[schema.OS_MONTHS][0] == pytest.approx(days / 30.4375, rel=1e-12)
    assert d[schema.PFS_MONTHS][0] == pytest.approx(213 / 30.4375, rel=1e-12) and d[schema.PFS_EVENT][0]
    assert d[schema.PFS_MONTHS][1] == pytest.approx(182 / 30.4375, rel=1e-12) and not d[schema.PFS_EVENT][1]
    assert d[schema.DOR_MONTHS][0] == pytest.approx(182 / 30.4375, rel=1e-12) and d[schema.DOR_EVENT][0]
    assert d[schema.DOR_MONTHS].isna()[1]
    assert d[schema.LDH_X_ULN].tolist()[:2] == [2.0, 0.8]
    assert d[schema.LDH_CATEGORY].tolist()[:2] == ["1-2x ULN", "<=1x ULN"]
    for column, dtype in [(schema.OS_EVENT, "boolean"), (schema.DATE_DEATH, "datetime64[ns]"),
                          (schema.OS_MONTHS, "float64"), (schema.DISEASE, "object")]:
        assert str(d[column].dtype) == dtype


def test_data_cutoff_censors_follow_up(load):
    frame = patient_rows({"died": "Yes", "date_death": "2018-06-01", "date_last_followup": "",
                          "data_cutoff_date": "2017-12-31", "progressed": "No", "date_progression": ""})
    cohort = load(frame)
    d = cohort.data
    assert not d[schema.OS_EVENT][0]
    assert d[schema.OS_MONTHS][0] == pytest.approx((pd.Timestamp("2017-12-31") - pd.Timestamp("2016-01-10")).days
                                                    / 30.4375, rel=1e-12)
    assert any("cut-off" in line for line in cohort.report.conversions)


def test_month_columns_used_when_dates_absent(load):
    frame = patient_rows({"os_months": "12.5", "died": "Yes", "pfs_months": "4", "pfs_event": "1"}).drop(
        columns=["date_il2_start", "date_progression", "date_last_followup", "date_death"])
    cohort = load(frame)
    assert cohort.report.ok, messages(cohort)
    d = cohort.data
    assert d[schema.OS_MONTHS][0] == 12.5 and d[schema.OS_EVENT][0]
    assert d[schema.PFS_MONTHS][0] == 4.0 and d[schema.PFS_EVENT][0]


def test_clinical_benefit_threshold_is_configurable(load):
    frame = patient_rows({"bor": "SD", "sd_duration_months": "4"}, {"bor": "SD", "sd_duration_months": "8"})
    assert load(frame).data[schema.CLINICAL_BENEFIT].tolist() == [False, True]
    assert load(frame, cb_sd_months=0).data[schema.CLINICAL_BENEFIT].tolist() == [True, True]
    assert load(frame, cb_sd_months=3).data[schema.CLINICAL_BENEFIT].tolist() == [True, True]


def test_several_errors_in_one_row_are_all_listed(load):
    cohort = load(patient_rows({"disease": "lung", "bor": "??", "date_death": "2019-02-30", "died": "Yes"}))
    reasons = cohort.excluded["reasons"][0]
    assert "disease 'lung'" in reasons and "bor '??'" in reasons and "2019-02-30" in reasons


def test_unreadable_number_is_a_warning_for_that_analysis(load):
    cohort = load(patient_rows({"baseline_alc": "abc"}))
    finding = cohort.report.warnings[0]
    assert finding.message == "Row 2: baseline_alc 'abc' is not a number; treated as missing."
    assert finding.analysis == schema.BASELINE_ALC and cohort.report.n_analysed == 1


def test_unmapped_columns_are_kept_as_extras(load):
    frame = patient_rows(n=2)
    frame["tumour_site"] = ["back", "NA"]
    frame["line_of_il2"] = ["9", "9"]  # a derived column in the file is never trusted
    cohort = load(frame)
    assert "tumour_site" in cohort.report.unmapped_columns
    assert cohort.data["tumour_site"].tolist() == ["back", None]
    assert cohort.data[schema.LINE_OF_IL2].tolist() == [1, 1]
    assert cohort.data["line_of_il2 (file)"].tolist() == ["9", "9"]


def test_report_frame_and_summary(load):
    cohort = load(patient_rows({"disease": ""}, {}))
    frame = cohort.report.to_frame()
    assert list(frame.columns) == ["level", "message", "column", "file_row", "patient_id", "value", "analysis"]
    assert frame.loc[0, "file_row"] == 2 and frame.loc[0, "patient_id"] == "P001"
    assert cohort.report.summary() == "2 loaded, 1 analysed, 1 excluded"


def test_adverse_events_rules(load):
    from il2lib import load_adverse_events

    cohort = load(patient_rows({}, {"died": "Yes", "date_death": "2016-06-01", "date_last_followup": "",
                                    "progressed": "No", "date_progression": ""}, {"disease": "lung"}))
    ae = pd.DataFrame({"patient_id": ["P001", "P001", "P002", "P001", "P009", "P003", "P001"],
                       "ae_term": ["Vitiligo", "Hypotension", "Pneumonitis", "Fever", "Fever", "Fever", "Rash"],
                       "ctcae_grade": ["2", "6", "5", "5", "1", "1", "1"],
                       "onset_date": ["2016-01-12", "2016-01-12", "2016-01-12", "2016-01-12", "", "", "2016-01-01"]})
    events = load_adverse_events(csv_bytes(ae), cohort)
    errors = [f.message for f in events.report.row_errors]
    assert "AE row 3: ctcae_grade '6' outside 1–5." in errors
    assert "Patient P001 has a grade-5 AE but died=No." in errors
    assert "AE row 6: patient_id 'P009' is not in the patient file." in errors
    assert "AE row 7: patient_id 'P003' was excluded from the patient file." in errors
    assert "AE row 8: onset_date (2016-01-01) precedes date_il2_start (2016-01-10)." in errors
    assert events.data[schema.AE_TERM].tolist() == ["Skin hypopigmentation", "Pneumonitis"]
    assert events.data[schema.AE_IMMUNE].tolist() == [True, True]
    report = events.report
    assert report.n_loaded == report.n_analysed + report.n_excluded == 7
    missing = load_adverse_events(csv_bytes(ae.drop(columns=["ctcae_grade"])))
    assert missing.report.file_errors[0].message.startswith("Missing required column 'ctcae_grade'")


def test_suggest_mapping():
    from il2lib import suggest_mapping

    got = suggest_mapping(["Subject_ID", "id", "Tumor Type", "MRN", "whatever", "BOR"])
    assert got == {"Subject_ID": "patient_id", "id": None, "Tumor Type": "disease", "MRN": None,
                   "whatever": None, "BOR": "bor"}


def test_progressed_without_date_leaves_pfs_and_dor_only(load):
    cohort = load(patient_rows({"bor": "PR", "date_first_response": "2016-02-01", "date_progression": "",
                                "died": "Yes", "date_death": "2016-09-01", "date_last_followup": ""}))
    assert messages(cohort) == ["Row 2: progressed=Yes but date_progression missing; left out of PFS and DoR."]
    d = cohort.data
    assert d[schema.PFS_MONTHS].isna()[0] and d[schema.DOR_MONTHS].isna()[0] and d[schema.OS_MONTHS].notna()[0]


def test_bad_date_order_argument_raises(load):
    with pytest.raises(ValueError, match="dmy"):
        load(patient_rows(n=1), date_order={"date_il2_start": "ymd"})


SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


def test_bundled_samples_load_clean_with_calibrated_derived_fields(load):
    from il2lib import load_adverse_events

    for name, n in (("proclaim", 57), ("community", 50), ("combined", 107)):
        cohort = load((SAMPLES / f"{name}_synthetic.csv").read_bytes())
        assert cohort.report.summary() == f"{n} loaded, {n} analysed, 0 excluded"
        assert not cohort.report.findings, cohort.report.findings[:3]
        events = load_adverse_events(SAMPLES / f"{name}_synthetic_adverse_events.csv", cohort)
        assert events.report.ok and events.report.n_excluded == 0
    d = load((SAMPLES / "community_synthetic.csv").read_bytes()).data
    first = d[d[schema.FIRST_LINE].fillna(False).astype(bool)]
    assert (len(first), int(first[schema.CLINICAL_BENEFIT].sum())) == (36, 9)
    cb = d.groupby(schema.DISEASE)[schema.CLINICAL_BENEFIT].agg(["sum", "count"])
    assert cb.loc["melanoma"].tolist() == [9, 30] and cb.loc["rcc"].tolist() == [5, 20]


@pytest.mark.parametrize("dropped_rows", [False, True])
def test_unmapped_columns_read_the_same_as_one_block_or_column_by_column(monkeypatch, dropped_rows):
    """A file of many columns strips its unmapped columns as one block; the values are those the
    column-by-column path gives (stripped text, None where missing), for kept and excluded rows alike."""
    from il2lib.validation import patients

    frame = pd.read_csv(SAMPLES / "combined_synthetic.csv", dtype=str, keep_default_na=False).head(30)
    if dropped_rows:
        frame.loc[[3, 17], schema.DISEASE] = "not a disease"
    cells = [" a ", "", "NA", "b", " ", "12", "n/a", "a"]
    for j in range(12):
        frame[f"extra_{j}"] = [cells[(i * (j + 1)) % len(cells)] for i in range(len(frame))]
    block = patients.load_cohort(csv_bytes(frame))
    monkeypatch.setattr(patients, "EXTRAS_BLOCK_CELLS", 0)
    by_column = patients.load_cohort(csv_bytes(frame))
    assert len(block.excluded) == (2 if dropped_rows else 0)
    extras = [f"extra_{j}" for j in range(12)]
    pd.testing.assert_frame_equal(block.data[extras], by_column.data[extras])
    assert block.data["extra_0"].tolist()[:3] == ["a", None, None]
