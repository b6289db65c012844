"""Response page: both ORR views, the RECIST 1.1 re-classification note and the SD-minimum setting (AppTest)."""
from __future__ import annotations

from conftest import UNCONFIRMED_PR_AND_SHORT_SD as ROWS, csv_bytes

from support.apptest import open_app, rerun, tables, texts, widget


def _response_page():
    at = open_app()
    widget(at, "radio", "w_data").set_value("upload")
    rerun(at)
    at.file_uploader(key="w_upload").set_value(("cohort.csv", csv_bytes(ROWS), "text/csv"))
    rerun(at)
    at.switch_page("pages/2_Response.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rates_table(at):
    return next(t for t in tables(at) if "Outcome" in t.columns)


def test_response_page_shows_both_orr_views_and_the_reclassification_note():
    at = _response_page()
    rates = _rates_table(at).set_index("Outcome")
    assert rates.loc["ORR (CR+PR), confirmed only", "Responders / n"] == "1/4"
    assert rates.loc["ORR (CR+PR), incl. unconfirmed", "Responders / n"] == "2/4"
    assert rates.loc["DCR (CR+PR+SD)", "Responders / n"] == "2/4"
    bor = tables(at)[0].set_index("Best overall response")
    assert bor.iloc[:, 0]["Stable disease (SD)"].startswith("1 ") and bor.iloc[:, 0]["Partial response (PR)"].startswith("1 ")
    captions = " ".join(texts(at, "caption"))
    assert "1 CR/PR not confirmed" in captions and "counted per RECIST 1.1" in captions
    assert "1 SD shorter than the SD minimum (6 weeks" in captions
    assert "ORR 1/4; all responses (unconfirmed included): 2/4" in captions
    assert captions.count("1 CR/PR not confirmed") == 1  # under the BOR table only, not repeated under the rates

    widget(at, "number_input", "w_sd_min").set_value(0.0)
    rerun(at)
    rates = _rates_table(at).set_index("Outcome")
    assert rates.loc["DCR (CR+PR+SD)", "Responders / n"] == "3/4"
    assert "SD shorter than" not in " ".join(texts(at, "caption"))
