"""Toxicity page: the note on patients with unknown toxicity, and the Data page's "AE file complete" switch.

Convention (docs/domain.md, AE table coverage): without AE rows, max_ctcae_grade or an AE file declared complete for the
patient's source, toxicity is unknown; the page says how many and why. Declaring the file complete (Data page) makes
"no AE row" mean "no AE".
"""
import pandas as pd
from conftest import csv_bytes, patient_rows

from support.apptest import open_app, rerun, tables, texts, unescape, widget


def upload(at, frame: pd.DataFrame, name: str, key: str):
    if widget(at, "radio", "w_data").value != "upload":
        widget(at, "radio", "w_data").set_value("upload")
        rerun(at)
    at.file_uploader(key=key).set_value((name, csv_bytes(frame), "text/csv"))
    return rerun(at)


def test_unknown_toxicity_note_and_the_complete_switch():
    # P001 and P002 have AE rows; P003 has none and no max_ctcae_grade -> unknown: any AE 2/2, 1 unknown
    ae = pd.DataFrame({"patient_id": ["P001", "P002"], "ae_term": ["Fever", "hypotension"], "ctcae_grade": ["2", "3"]})
    at = upload(open_app(), patient_rows(n=3), "cohort.csv", "w_upload")
    at = upload(at, ae, "ae.csv", "w_upload_ae")
    at.switch_page("pages/5_Toxicity.py").run()
    assert not at.exception
    info = " ".join(texts(at, "info"))
    assert "Toxicity unknown for 1 of 3 patient(s)" in info
    assert "100% by construction" in info
    overview = tables(at)[0].set_index("Measure")
    assert overview.loc["Any adverse event"].iloc[0] == "2/2 (100%), 1 unknown"
    named = next(t for t in tables(at) if "Patient ids" in t.columns)
    assert "P003" in named["Patient ids"].tolist()
    # the Data page offers the switch (no source column: one switch for every patient)
    at.switch_page("app.py").run()
    switch = at.toggle(key="w_ae_complete_0")
    assert "every patient (1 of 3 without AE rows)" in unescape(switch.label)
    switch.set_value(True)
    rerun(at)
    at.switch_page("pages/5_Toxicity.py").run()
    assert not at.exception
    assert not any("Toxicity unknown" in i for i in texts(at, "info"))
    assert any("AE file declared complete for every patient: 1 patient(s)" in c for c in texts(at, "caption"))
    overview = tables(at)[0].set_index("Measure")
    assert overview.loc["Any adverse event"].iloc[0] == "2/3 (67%)"


def test_bundled_sample_shows_no_unknown_note():
    at = open_app(page="pages/5_Toxicity.py")
    assert not any("Toxicity unknown" in i for i in texts(at, "info"))
    overview = tables(at)[0].set_index("Measure")
    # default grouping prior PD-1: every patient known from the AE rows and max_ctcae_grade (50 no, 57 yes)
    assert overview.loc["Any adverse event"].tolist() == ["50/50 (100%)", "57/57 (100%)"]
