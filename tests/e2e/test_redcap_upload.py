"""A REDCap raw export with its data dictionary, uploaded through the real file inputs: the Data page counts the
CSV sample's patients, the Response page shows the CSV sample's numbers (the CLI's summary of the CSV file is the
oracle) and the waterfall from the export's repeating tumour-assessment instrument."""
from __future__ import annotations

from pathlib import Path

from . import ui
from .test_response_tumour_burden import _index
from .test_sample_numbers import assert_response_page_matches

ROOT = Path(__file__).resolve().parents[2]
REDCAP = ROOT / "sample_data" / "redcap"
CSV_SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"
PATIENT_INPUT, DICTIONARY_INPUT = 0, 3  # patient file, AE table, tumour assessments, REDCap dictionary


def test_raw_export_with_dictionary_gives_the_csv_sample_s_numbers_and_figures(page, summary_of):
    expected = summary_of(CSV_SAMPLE)
    ui.choose_radio(page, "Data source", "My upload")
    ui.upload(page, REDCAP / "il2_registry_data_dictionary.csv", index=DICTIONARY_INPUT)
    ui.upload(page, REDCAP / "combined_redcap_raw.csv", index=PATIENT_INPUT)
    ui.wait_for_metric(page, "Patients analysed", "107")
    ui.assert_clean(page)
    assert "REDCap export: raw data" in ui.page_text(page)
    assert "Tumour-assessment table" in ui.page_text(page)
    ui.shot(page, "screens/redcap_upload_data")
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, expected)
    waterfall = ui.eventually(lambda: _index(page, "Best change in target lesions"))
    assert {"PD", "PR"} <= set(ui.legend_labels(page, waterfall))
    page.get_by_role("heading", name="Tumour burden").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    ui.shot(page, "screens/redcap_upload_response_tumour_burden")
