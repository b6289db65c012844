"""REDCap exports of a registry project that is not the template (tests/fixtures/redcap/): its own field names, a
dictionary whose codes differ from the template's (1 = renal cell carcinoma, 1 = female), a checkbox whose codes
are not 1..k, data access groups, a longitudinal export and a labels export; and bad input, each a clear finding
naming the field and rows while the rest of the export loads."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from il2lib import load_redcap, schema
from il2lib.redcap import looks_like_redcap

FIXTURES = Path(__file__).parent / "fixtures" / "redcap"
DICTIONARY = FIXTURES / "registry_dictionary.csv"
RAW = FIXTURES / "registry_raw.csv"

#: what every export of the fixture project says about its four patients
EXPECTED = {"101": ("melanoma", "M", "PR", "Vitiligo"), "102": ("rcc", "F", "CR", "Thyroiditis; Other"),
            "103": ("melanoma", "M", "PD", None), "104": ("rcc", "F", "SD", None)}


def _patients(result) -> dict:
    data = result.cohort.data
    return {r[schema.PATIENT_ID]: (r[schema.DISEASE], r[schema.SEX], r[schema.BOR], r[schema.AUTOIMMUNE_TYPE])
            for r in data.to_dict(orient="records")}


def _messages(result, level=None) -> list[str]:
    return [f.message for f in result.findings if level is None or f.level == level]


@pytest.mark.parametrize("export, dictionary", [("registry_raw.csv", DICTIONARY),
                                                ("registry_longitudinal.csv", DICTIONARY),
                                                ("registry_labels.csv", None), ("registry_labels.csv", DICTIONARY)])
def test_each_export_gives_the_same_four_patients_and_their_adverse_events(export, dictionary):
    result = load_redcap(FIXTURES / export, dictionary)
    assert result.cohort.report.ok and result.cohort.report.n_analysed == 4
    assert _patients(result) == EXPECTED  # the project's own codes, never the template's or a guess
    ae = result.adverse_events
    assert ae.report.n_analysed == 4
    assert sorted(ae.data[schema.AE_TERM]) == ["Fever", "Hypotension", "Pneumonitis", "Skin hypopigmentation"]
    sources = result.cohort.data.set_index(schema.PATIENT_ID)[schema.SOURCE].to_dict()
    labels = export == "registry_labels.csv"
    assert sources == ({"101": "Site A", "102": "Site A", "103": "Site B", "104": "Site B"} if labels
                       else {"101": "site_a", "102": "site_a", "103": "site_b", "104": "site_b"})
    assert result.kind == ("labels" if labels else "raw")


def test_identifier_fields_are_dropped_and_a_flagged_record_id_forces_pseudonyms():
    result = load_redcap(RAW, DICTIONARY)
    assert result.pseudonyms_required
    assert "initials" not in result.cohort.data.columns
    assert any("initials" in m and "Identifier? = y" in m for m in _messages(result))
    assert result.cohort.data[schema.PATIENT_ID].tolist() == ["101", "102", "103", "104"]
    assert not load_redcap(FIXTURES / "registry_labels.csv").pseudonyms_required


def test_missing_data_codes_are_missing_values_counted_per_field():
    result = load_redcap(RAW, DICTIONARY)
    assert result.missing_counts == {"dod": {"UNK": 1}}
    row = result.cohort.data.set_index(schema.PATIENT_ID).loc["103"]
    assert row[schema.DIED] and pd.isna(row[schema.DATE_DEATH])
    assert any("dod: UNK 1" in m for m in _messages(result))
    assert any("dod: UNK 1" in f.message for f in result.cohort.report.findings)
    # a project's own list replaces REDCap's defaults; NA is a code only when declared
    text = RAW.read_text().replace("2020-04-20", "NA")
    assert "dlfu" not in load_redcap(text.encode(), DICTIONARY).missing_counts
    declared = load_redcap(text.encode(), DICTIONARY, missing_codes={"NA": "Not applicable", "UNK": "Unknown"})
    assert declared.missing_counts == {"dod": {"UNK": 1}, "dlfu": {"NA": 1}}
    only_na = load_redcap(text.encode(), DICTIONARY, missing_codes=["NA"])
    assert "dod" not in only_na.missing_counts


def test_longitudinal_fields_take_the_latest_value_and_conflicts_are_findings():
    result = load_redcap(FIXTURES / "registry_longitudinal.csv", DICTIONARY)
    assert result.longitudinal
    data = result.cohort.data.set_index(schema.PATIENT_ID)
    assert data.loc["101", schema.DIED] and str(data.loc["101", schema.DATE_DEATH].date()) == "2020-05-01"
    assert str(data.loc["102", schema.DATE_LAST_FOLLOWUP].date()) == "2020-06-15"  # month 12, not month 6
    assert not data.loc["103", schema.DIED]  # Dead at month 6, Alive at month 12: the latest, with a finding
    conflicts = [f for f in result.findings if "differs between events" in f.message]
    assert len(conflicts) == 1  # Alive then Dead (101) is an update, a later follow-up date too
    f = conflicts[0]
    assert f.patient_id == "103" and f.column == "vital_status" and "month_6_arm_1" in f.message
    assert f.file_row == 13 and f.named_ids == ("103",)
    assert result.missing_counts == {"dod": {"NASK": 1}}


def test_checkbox_codes_that_are_not_one_to_k_decode_through_the_dictionary():
    result = load_redcap(RAW, DICTIONARY)
    assert _patients(result)["102"][3] == "Thyroiditis; Other"  # columns autoimmune_type___thy and ___99


def test_checkbox_missing_data_code_and_unreadable_cells():
    text = ("patient_id,disease,bor,date_il2_start,died,prior_pd1_pdl1,date_last_followup,autoimmune_type___vitiligo,"
            "autoimmune_type___unk,autoimmune_type___thyroiditis,demographics_complete\n"
            "1,melanoma,PR,2019-01-01,0,1,2020-01-01,0,1,0,2\n"
            "2,melanoma,PR,2019-01-01,0,1,2020-01-01,1,0,x,2\n")
    result = load_redcap(text.encode())  # the template's fields: its checkbox choices decode without a dictionary
    assert result.coding == "template"
    assert result.missing_counts == {"autoimmune_type": {"UNK": 1}}
    assert result.cohort.data[schema.AUTOIMMUNE_TYPE].tolist() == [None, "vitiligo"]
    assert any("autoimmune_type___thyroiditis" in m and "rows 3" in m for m in _messages(result))


def test_accepted_recodes_and_progress_steps_as_for_a_csv():
    text = (FIXTURES / "registry_labels.csv").read_text().replace("101,,,Site A,,Melanoma,", "101,,,Site A,,Skin,")
    assert load_redcap(text.encode()).cohort.report.n_analysed == 3
    steps = []
    result = load_redcap(text.encode(), recodes={schema.DISEASE: {"Skin": schema.MELANOMA}}, progress=steps.append)
    assert result.cohort.report.n_analysed == 4 and _patients(result)["101"][0] == schema.MELANOMA
    assert steps[0] == "Decoding the REDCap export" and "Checking the adverse events" in steps


def test_without_the_dictionary_coded_fields_are_findings_never_guesses():
    result = load_redcap(RAW)
    errors = _messages(result, "file_error")
    assert any("'cancer' (disease) holds REDCap choice codes (1, 2)" in m and "Data Dictionary" in m for m in errors)
    assert any("'response' (bor)" in m for m in errors)
    warnings = _messages(result, "warning")
    assert any("'sex' (sex) holds REDCap choice codes" in m for m in warnings)  # 1/2 would read as M/F: not guessed
    assert any("Checkbox field 'autoimmune_type'" in m for m in warnings)
    assert result.cohort.report.n_analysed == 0 and not result.cohort.report.ok
    assert result.coding == "none"


def test_template_coding_is_used_only_for_the_template():
    text = RAW.read_text().replace("record_id,", "patient_id,", 1)  # template's record id, other fields: not it
    assert load_redcap(text.encode()).coding == "none"


def test_redcap_exports_are_recognised_and_plain_files_are_not():
    assert looks_like_redcap(RAW.read_text().splitlines()[0].split(",")) == "raw"
    assert looks_like_redcap((FIXTURES / "registry_labels.csv").read_text().splitlines()[0].split(",")) == "labels"
    sample = Path(__file__).parents[1] / "sample_data" / "combined_synthetic.csv"
    assert looks_like_redcap(sample.read_text().splitlines()[0].split(",")) is None


# ------------------------------------------------------------------------------------------------------------
# Bad input: a clear finding naming the field and the rows; the rest of the export still loads
# ------------------------------------------------------------------------------------------------------------
def test_an_unknown_choice_code_names_the_field_and_row_and_the_rest_loads():
    lines = RAW.read_text().splitlines()
    lines[7] = lines[7].replace("104,,,site_b,GH,,1,", "104,,,site_b,GH,,7,")  # file line 8
    result = load_redcap(("\n".join(lines) + "\n").encode(), DICTIONARY)
    found = [f for f in result.findings if f.column == "cancer"]
    assert len(found) == 1 and "'7' not in the data dictionary" in found[0].message and "rows 8" in found[0].message
    assert found[0].file_row == 8
    assert result.cohort.report.n_analysed == 3
    assert [f.file_row for f in result.cohort.report.row_errors] == [8]
    assert sorted(result.cohort.data[schema.PATIENT_ID]) == ["101", "102", "103"]


def test_a_dictionary_that_does_not_match_the_export_names_the_columns_and_the_rest_loads():
    lines = RAW.read_text().splitlines()
    header = lines[0].replace(",patient_complete", ",braf,ecog_ps,patient_complete")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        k = header.split(",").index("braf")
        rows.append(",".join(cells[:k] + (["1", "0"] if cells[1] == "" else ["", ""]) + cells[k:]))
    result = load_redcap(("\n".join([header] + rows) + "\n").encode(), DICTIONARY)
    messages = _messages(result)
    assert any("2 columns of the export are not in the data dictionary: braf, ecog_ps" in m for m in messages)
    assert any("'braf' (braf_v600) holds REDCap choice codes (1) and is not in the data dictionary" in m
               for m in messages)
    assert result.cohort.report.n_analysed == 4 and schema.BRAF not in result.cohort.data.columns
    assert result.cohort.data[schema.ECOG].tolist() == [0, 0, 0, 0]  # a number, not a code: read


def test_a_checkbox_without_a_dictionary_is_a_finding_and_the_rest_loads():
    text = ("record_id,disease,date_il2_start,prior_pd1_pdl1,bor,died,date_last_followup,autoimmune_type___1,"
            "autoimmune_type___2,patient_complete\n"
            "1,melanoma,2019-01-01,1,PR,0,2020-01-01,1,0,2\n"
            "2,rcc,2019-02-01,0,PD,0,2020-02-01,0,1,2\n")
    result = load_redcap(text.encode())
    found = [f for f in result.findings if f.column == "autoimmune_type"]
    assert len(found) == 1 and "autoimmune_type___1, autoimmune_type___2" in found[0].message
    assert "Data Dictionary" in found[0].message
    assert result.cohort.report.n_analysed == 2 and schema.AUTOIMMUNE_TYPE not in result.cohort.data.columns


def test_an_unknown_repeating_instrument_names_its_rows_and_the_rest_loads():
    lines = RAW.read_text().splitlines()
    width = len(lines[0].split(","))
    extra = ["102,concomitant_medications,1,site_a" + "," * (width - 4),
             "102,concomitant_medications,2,site_a" + "," * (width - 4)]
    text = "\n".join(lines[:6] + extra + lines[6:]) + "\n"
    result = load_redcap(text.encode(), DICTIONARY)
    found = [f for f in result.findings if f.value == "concomitant_medications"]
    assert len(found) == 1 and "rows 7, 8" in found[0].message and "not loaded" in found[0].message
    assert result.cohort.report.n_analysed == 4 and result.adverse_events.report.n_analysed == 4


# ------------------------------------------------------------------------------------------------------------
# load_cohort-style entry and the command line
# ------------------------------------------------------------------------------------------------------------
def test_the_redcap_aware_load_cohort_reads_exports_and_leaves_other_files_alone():
    from il2lib.redcap.entry import is_redcap_export, load_cohort

    assert is_redcap_export(RAW) and is_redcap_export(RAW.read_bytes())
    plain = Path(__file__).parents[1] / "sample_data" / "proclaim_synthetic.csv"
    assert not is_redcap_export(plain)
    assert load_cohort(RAW, dictionary=DICTIONARY).report.n_analysed == 4
    assert load_cohort(FIXTURES / "registry_labels.csv").report.n_analysed == 4
    assert load_cohort(plain).report.n_analysed == 57


def test_command_line_reads_an_export_with_its_dictionary(capsys):
    import json

    from il2lib.cli import main

    assert main(["summary", str(FIXTURES / "registry_longitudinal.csv"), "--redcap-dictionary", str(DICTIONARY),
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_analysed"] == 4 and out["groups"]["rcc"]["best_response"]["CR"] == 1
    assert main(["summary", str(RAW)]) == 2  # coded fields without the dictionary: the finding, exit 2
    assert "holds REDCap choice codes" in capsys.readouterr().err
