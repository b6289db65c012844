"""Data page uploads: the session holds the uploaded bytes once, and a file over a loader limit is refused
with a message that names the limit and its setting."""
from __future__ import annotations

from conftest import csv_bytes, patient_rows

from app_ui import data as data_mod
from support import fuzz_inputs as fz
from support.apptest import open_app, rerun, texts, widget


def _upload(at, name: str, raw: bytes):
    if widget(at, "radio", "w_data").value != "upload":
        widget(at, "radio", "w_data").set_value("upload")
        rerun(at)
    at.file_uploader(key="w_upload").set_value((name, raw, "text/csv"))
    return rerun(at)


def test_the_session_keeps_the_uploaded_bytes_without_a_copy():
    """Streamlit's UploadedFile is a BytesIO over the upload manager's bytes; getvalue() hands back that
    same object, so the session's UploadedFile is the manager's copy, not a second one."""
    raw = csv_bytes(patient_rows(n=3))
    at = _upload(open_app(), "cohort.csv", raw)
    assert at.session_state[data_mod.UPLOAD_FILE].data is raw
    assert at.session_state["w_upload"].getvalue() is raw


def test_an_upload_over_a_loader_limit_shows_the_limit_and_its_setting():
    raw, name = fz.wide_csv(20_000)
    at = _upload(open_app(), name, raw)
    errors = " ".join(texts(at, "error"))
    assert "20,000 columns" in errors and "16,384 columns" in errors and "IL2_MAX_COLUMNS" in errors
