"""Data page: samples, upload (CSV + AE table), mapping, validation report, identifiers, escaping."""
from __future__ import annotations

import json
import re

import pandas as pd
from conftest import csv_bytes, patient_rows

from il2lib import schema
from il2lib.validation.patients import load_cohort
from support.apptest import data_preview, open_app, rerun, sidebar_count, tables, texts, unescape, widget

PAYLOAD_HTML = "<img src=x onerror=alert(1)>"
PAYLOAD_TEXT = "**bold** [link](javascript:alert(1)) $x$ <script>alert(2)</script>"


def upload(at, frame: pd.DataFrame, name: str = "cohort.csv", key: str = "w_upload"):
    if widget(at, "radio", "w_data").value != "upload":
        widget(at, "radio", "w_data").set_value("upload")
        rerun(at)
    at.file_uploader(key=key).set_value((name, csv_bytes(frame), "text/csv"))
    return rerun(at)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_samples_are_one_click_away_and_labelled_synthetic():
    at = open_app()
    options = widget(at, "radio", "w_data").options
    assert any("PROCLAIM" in o and "synthetic" in o for o in options)
    assert any("Community" in o and "synthetic" in o for o in options)
    widget(at, "radio", "w_data").set_value("proclaim")
    rerun(at)
    assert sidebar_count(at) == "n = 57 of 57 patients"
    assert at.query_params["data"] == "proclaim"
    assert any(schema.SYNTHETIC_NOTE in i for i in texts(at, "info"))


def test_sample_choice_from_the_url():
    at = open_app({"data": "community"})
    assert sidebar_count(at) == "n = 50 of 50 patients"


def test_upload_counts_equal_the_loader():
    frame = patient_rows({}, {"patient_id": "P001"}, {}, {"disease": "lung"}, n=6)  # duplicate id, bad disease
    at = upload(open_app(), frame)
    expected = load_cohort(csv_bytes(frame)).report
    shown = metrics(at)
    assert {k: shown[k] for k in ("Rows loaded", "Patients analysed", "Rows excluded")} == {
        "Rows loaded": str(expected.n_loaded), "Patients analysed": str(expected.n_analysed),
                           "Rows excluded": str(expected.n_excluded)}
    assert sidebar_count(at) == f"n = {expected.n_analysed} of {expected.n_analysed} patients"
    expanders = [e.label for e in at.expander]
    assert any(unescape(label).startswith("Patient ID (patient_id):") for label in expanders)
    assert any(unescape(label).startswith("Disease (disease): 1 row left out") for label in expanders)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download excluded rows with reasons (CSV)" in labels
    assert "Template CSV (all columns, no rows)" in labels and "Data dictionary (CSV)" in labels


def test_missing_required_column_opens_the_mapping_and_a_mapping_fixes_it():
    frame = patient_rows(n=4).rename(columns={"disease": "tumour kind"})
    at = upload(open_app(), frame)
    assert metrics(at)["Patients analysed"] == "0"
    mapping = next(e for e in at.expander if "Column mapping" in e.label)
    assert mapping.proto.expanded
    assert at.get("arrow_data_frame") or at.dataframe
    from app_ui.data import MAPPING

    at.session_state[MAPPING] = {"tumour kind": schema.DISEASE}  # what "Apply mapping" stores
    rerun(at)
    assert metrics(at)["Patients analysed"] == "4"
    assert sidebar_count(at) == "n = 4 of 4 patients"


def test_identifier_column_warning_and_pseudonyms():
    frame = patient_rows(n=3).assign(MRN=["123", "456", "789"])
    at = upload(open_app(), frame)
    assert any("MRN" in w and "identifier" in w for w in texts(at, "warning"))
    widget(at, "toggle", "w_pseudonyms").set_value(True)
    rerun(at)
    preview = data_preview(at).dataframe[0].value
    assert list(preview[schema.label(schema.PATIENT_ID)]) == ["row 2", "row 3", "row 4"]


def test_upload_derived_text_is_escaped_everywhere():
    frame = patient_rows(n=4).assign(**{PAYLOAD_HTML: ["a", "b", "a", "b"], "source": [PAYLOAD_TEXT, "x"] * 2})
    at = upload(open_app(), frame)
    widget(at, "multiselect", "w_source").set_value([PAYLOAD_TEXT])
    rerun(at)
    for page in (None, "pages/3_Survival.py"):
        if page:
            at.switch_page(page).run()
            assert not at.exception
        hits = 0
        for element in list(at.markdown) + list(at.sidebar.markdown) + list(at.caption) + list(at.sidebar.caption):
            body = element.proto.body
            if re.search(r"alert\\?\(", body):  # the payload's call, raw or escaped (not a file-name slug of it)
                hits += 1
                assert not element.proto.allow_html
                assert "\\<script\\>" in body or "\\<img" in body, body
                assert "](javascript" not in body and "**bold**" not in body
        assert hits, "the filter description with the payload should be on screen"
    # the survival page, grouped by source, shows the value as escaped text in the figure
    widget(at, "multiselect", "w_source").set_value([])
    widget(at, "selectbox", "w_km_by").set_value(schema.SOURCE)
    rerun(at)
    names = " ".join(str(t.get("name")) for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"])
    assert "&lt;script&gt;" in names and "<script>" not in names


def test_adverse_event_upload_feeds_the_toxicity_page():
    patients = patient_rows(n=3)
    ae = pd.DataFrame({"patient_id": ["P001", "P002", "P002"], "ae_term": ["Fever", "Hypotension", "Fever"],
                       "ctcae_grade": ["2", "3", "1"]})
    at = upload(open_app(), patients)
    at.switch_page("pages/5_Toxicity.py").run()
    assert any("No adverse-event table" in i for i in texts(at, "info"))
    at.switch_page("app.py").run()
    upload(at, ae, "ae.csv", key="w_upload_ae")
    at.switch_page("pages/5_Toxicity.py").run()
    assert not at.exception
    assert not any("No adverse-event table" in i for i in texts(at, "info"))
    by_term = tables(at)[1]
    assert by_term.iloc[0, 0] == "Fever"


def test_ambiguous_dates_ask_for_the_order_and_the_answer_loads_the_file():
    frame = patient_rows(n=3).assign(date_il2_start=["03/04/2016", "05/06/2016", "07/08/2016"],
                                     date_last_followup=["03/04/2017", "05/06/2017", "07/08/2017"],
                                     date_progression=["03/05/2016", "05/07/2016", "07/09/2016"])
    at = upload(open_app(), frame)
    assert metrics(at)["Patients analysed"] == "0"
    radios = [r for r in at.radio if r.key and r.key.startswith("date_order_")]
    assert radios, "a date-order choice should be offered"
    for radio in radios:
        radio.set_value("dmy")
    rerun(at)
    next(b for b in at.button if b.label == "Apply date order").click()
    rerun(at)
    assert metrics(at)["Patients analysed"] == "3"


def test_findings_download_under_the_report_and_withheld_under_small_cell_protection(monkeypatch):
    from app_ui import downloads

    offered = {}
    real = downloads.download_table
    monkeypatch.setattr(downloads, "download_table", lambda df, name, **kw: (offered.update({name: (df, kw)}),
                                                                             real(df, name, **kw)))
    frame = patient_rows({}, {"patient_id": "P001"}, {}, {"disease": "lung"}, n=6)
    at = upload(open_app(), frame)
    findings, options = offered["validation_findings"]
    expected = load_cohort(csv_bytes(frame)).report.to_frame()
    assert options["patient_level"] is True
    assert sorted(findings["message"]) == sorted(expected["message"]) and len(findings) >= 2
    assert set(findings["column"]) == set(expected["column"].fillna("(whole file)"))
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels.count("CSV") == 1 and labels.count("XLSX") == 1, labels
    assert all(b.proto.deferred_file_id for b in at.get("download_button") if b.proto.label in ("CSV", "XLSX"))
    assert "All findings in one table:" in texts(at, "caption")
    at.session_state["v_mask"] = True  # the sidebar's small-cell protection switch (patient-level files withheld)
    rerun(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "CSV" not in labels and "Download excluded rows with reasons (CSV)" not in labels
    assert "Template CSV (all columns, no rows)" in labels


def test_landing_page_says_what_it_is_for_shows_the_cohort_and_where_to_start():
    at = open_app()
    assert texts(at, "markdown")[0].startswith("Explore an HD IL-2 registry (metastatic melanoma and RCC")
    shown = metrics(at)
    assert shown["Disease"] == "Melanoma 70 · RCC 37"
    assert shown["Prior PD-1/PD-L1"] == "yes 57 · no 50"
    assert shown["IL-2 start years"] == "2004–2018"
    assert shown["Median follow-up"].endswith(" months")
    links = {link.proto.label: link.proto.page for link in at.main.get("page_link")}
    assert list(links) == ["Response rates", "Survival curves", "Build the meeting report"]
    assert list(links.values()) == ["Response", "Survival", "Report"]  # pages/2_Response.py, ...
    assert not at.error


def test_snapshot_counts_are_protected_like_the_page_s_other_counts():
    # two RCC patients among ten: "<5" with protection on, and the melanoma count (the complement) masked
    frame = patient_rows(*[{"disease": "rcc"}] * 2, n=10)
    at = upload(open_app({"mask": "1"}), frame)
    shown = metrics(at)
    assert shown["Disease"] == "Melanoma masked · RCC <5"
    assert shown["Patients analysed"] == "10"


def test_nothing_analysed_names_the_fields_to_map_with_a_suggestion():
    frame = patient_rows(n=4).rename(columns={schema.DATE_IL2_START: "IL2 Beginn"})
    at = upload(open_app(), frame)
    assert metrics(at)["Patients analysed"] == "0"
    banner = texts(at, "error")
    assert len(banner) == 1 and banner[0].startswith("**Can't analyse yet: map these fields.**")
    assert "IL-2 start date (`date_il2_start`): perhaps the file column 'IL2 Beginn'" in banner[0]
    assert "Column mapping" in banner[0]
    assert "Disease" not in metrics(at) and not at.main.get("page_link")
