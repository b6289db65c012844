"""Data page's validation report as a clinician reads it: one-click recodes of close values, the date-order
question with examples and no answer chosen for the user, absent optional columns apart from data problems,
free-text columns, counts with thousands separators; and links naming the upload they were made on."""
from __future__ import annotations

import hashlib

from conftest import csv_bytes, patient_rows
from test_app_data import metrics, upload

from app_ui import state
from il2lib import schema
from support.apptest import data_preview, open_app, rerun, sidebar_count, texts, unescape


def reconciles(at) -> bool:
    shown = {k: int(v.replace(",", "")) for k, v in metrics(at).items()
             if k in ("Rows loaded", "Patients analysed", "Rows excluded")}
    return shown["Rows loaded"] == shown["Patients analysed"] + shown["Rows excluded"]


def button(at, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def test_accepting_a_recode_suggestion_analyses_the_rows_and_records_the_recode():
    frame = patient_rows({"disease": "Melanom"}, {}, {"disease": "Melanom"}, n=6)
    at = upload(open_app(), frame)
    assert metrics(at)["Patients analysed"] == "4" and metrics(at)["Rows excluded"] == "2"
    offer = [t for t in texts(at, "markdown") if "'Melanom' → melanoma" in t]
    assert offer == ["Disease: 'Melanom' → melanoma (2 rows)"]
    button(at, "Accept").click()
    rerun(at)
    assert metrics(at)["Patients analysed"] == "6" and metrics(at)["Rows excluded"] == "0"
    assert reconciles(at)
    assert any("'Melanom' read as 'melanoma'" in t for t in texts(at, "markdown")), "accepted recode not listed"
    methods = at.session_state["upload_memo"][1].cohort.report.conversions
    assert any("'Melanom'" in c and "recoded to 'melanoma'" in c and "2 rows" in c for c in methods)
    assert any("recoded to 'melanoma'" in t for t in texts(at, "markdown")), "recode not shown as read"
    button(at, "Undo").click()
    rerun(at)
    assert metrics(at)["Patients analysed"] == "4"


def test_date_order_question_has_no_answer_chosen_and_reads_examples_both_ways():
    frame = patient_rows(n=3).assign(date_il2_start=["03/04/2016", "05/06/2016", "07/08/2016"],
                                     date_last_followup=["03/04/2017", "05/06/2017", "07/08/2017"],
                                     date_progression=["03/05/2016", "05/07/2016", "07/09/2016"])
    at = upload(open_app(), frame)
    radios = [r for r in at.radio if r.key and r.key.startswith("date_order_")]
    assert radios and all(r.value is None for r in radios), "an order is chosen before the user answers"
    assert button(at, "Apply date order").disabled
    assert any("held back" in w and "no patient is analysed" in w for w in texts(at, "warning"))
    captions = "\n".join(texts(at, "caption"))
    assert "'03/04/2016' is 3 Apr 2016 (day first) or 4 Mar 2016 (month first)" in captions
    assert "'05/06/2016' is 5 Jun 2016 (day first) or 6 May 2016 (month first)" in captions
    for radio in radios:
        radio.set_value("mdy")
    rerun(at)
    assert not button(at, "Apply date order").disabled
    button(at, "Apply date order").click()
    rerun(at)
    assert metrics(at)["Patients analysed"] == "3"
    assert at.session_state["upload_memo"][1].cohort.data[schema.DATE_IL2_START].iloc[0].month == 3


def test_absent_optional_columns_are_kept_apart_from_data_problems_with_what_they_limit():
    frame = patient_rows({"disease": "lung"}, n=4).drop(columns=[schema.PRIOR_LINES], errors="ignore")
    at = upload(open_app(), frame)
    absent = [e for e in at.expander if e.label.startswith("Not in your file")]
    assert len(absent) == 1
    notes = unescape("\n".join(m.value for m in absent[0].markdown))
    assert "Prior systemic lines" in notes and "line of IL-2" in notes
    problems = [unescape(e.label) for e in at.expander if e.label.startswith("Disease")]
    assert problems == ["Disease (disease): 1 row left out"]
    assert not any("Prior systemic lines" in unescape(e.label) for e in at.expander if e.label != absent[0].label)
    listed = unescape("\n".join(m.value for e in at.expander if e.label.startswith("Disease") for m in e.markdown))
    assert "Left out: Row 2" in listed and "None" not in listed


def test_free_text_columns_are_flagged_as_possible_identifiers():
    notes = ["Seen by Dr Müller at the Müller-Klinik", "Señora Gómez, phoned 3 May", "No remarks today",
             "Referred from St Mary's, Leeds"]
    frame = patient_rows(n=4).assign(Bemerkung=notes, Zentrum=["A", "B", "A", "B"])
    at = upload(open_app(), frame)
    warnings = [w for w in texts(at, "warning") if "Free-text" in w]
    assert len(warnings) == 1 and "'Bemerkung'" in warnings[0] and "Zentrum" not in warnings[0]


def test_counts_have_thousands_separators():
    at = upload(open_app(), patient_rows(n=1200))
    assert metrics(at)["Rows loaded"] == "1,200"
    assert metrics(at)["Patients analysed"] == "1,200"


def test_no_stale_waiting_note_on_the_data_page_of_an_upload():
    at = open_app()
    at.radio(key="w_data").set_value("upload")
    rerun(at)
    assert not any("No file uploaded yet" in t for t in texts(at, "info"))


def test_upload_link_names_the_file_blocks_without_it_and_applies_its_filters_with_it():
    data = csv_bytes(patient_rows({"disease": "rcc"}, {"disease": "rcc"}, n=5))
    fingerprint = hashlib.sha256(data).hexdigest()[:8]
    mine = open_app()
    mine.radio(key="w_data").set_value("upload")
    rerun(mine)
    mine.file_uploader(key="w_upload").set_value(("cohort.csv", data, "text/csv"))
    rerun(mine)
    assert mine.query_params[state.Q_UPLOAD] == ["cohort.csv"] or mine.query_params[state.Q_UPLOAD] == "cohort.csv"

    link = {state.Q_UPLOAD: "cohort.csv", state.Q_UPLOAD_FP: fingerprint, schema.DISEASE: "rcc"}
    theirs = open_app(link)
    assert texts(theirs, "error")[0].startswith(
        f"This link was made on an uploaded file: cohort.csv (fingerprint {fingerprint}). Upload the same file")
    assert not theirs.metric and not [m for m in theirs.sidebar.markdown if m.value.startswith("**n = ")]
    theirs.file_uploader(key="w_upload").set_value(("cohort.csv", data, "text/csv"))
    rerun(theirs)
    assert sidebar_count(theirs) == "n = 2 of 5 patients"
    assert not any("different file" in w for w in texts(theirs, "warning"))

    other = open_app(link)
    other.file_uploader(key="w_upload").set_value(("cohort.csv", csv_bytes(patient_rows(n=3)), "text/csv"))
    rerun(other)
    assert any("it is a different file" in w and fingerprint in w for w in texts(other, "warning"))


def test_analysed_data_preview_is_drawn_only_when_opened():
    at = open_app()
    closed = next(e for e in at.expander if e.label == "Analysed data (first 50 rows)")
    assert not closed.dataframe and not closed.table
    assert data_preview(at).dataframe[0].value.shape[0] == 50
    rerun(at)  # stays open over a rerun
    assert next(e for e in at.expander if e.label == "Analysed data (first 50 rows)").dataframe
    at.session_state["v_mask"] = True  # small-cell protection: one row per patient is withheld, open or not
    masked = data_preview(at)
    assert not masked.dataframe and [i.value[:36] for i in masked.info] == ["Patient-level table withheld while s"]


def test_analysed_data_preview_reads_clinically():
    at = open_app()
    preview = data_preview(at)
    table = preview.dataframe[0].value
    assert "IL-2 start date" in table.columns and "date_il2_start" not in table.columns
    assert set(table["Disease"]) <= {"Melanoma", "RCC"}
    assert not table["IL-2 start date"].astype(str).str.contains("00:00:00").any()
    assert set(table["Died"]) <= {"Yes", "No", ""}
    assert not table.astype(str).isin(["None", "nan", "<NA>", "NaT"]).any().any()


def test_upload_link_in_presentation_mode_offers_to_leave_it_to_upload():
    at = open_app({state.Q_UPLOAD: "cohort.csv", state.Q_UPLOAD_FP: "ab12cd34", "present": "1"})
    assert texts(at, "error")[0].startswith("This link was made on an uploaded file: cohort.csv (fingerprint "
                                            "ab12cd34)")
    button(at, "Leave presentation mode to upload the file").click()
    rerun(at)
    assert at.session_state[state.PRESENT] is False
    assert at.file_uploader(key="w_upload") is not None
    assert not [b for b in at.button if b.label == "Leave presentation mode to upload the file"]
