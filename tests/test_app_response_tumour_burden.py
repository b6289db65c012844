"""Response page: the tumour-burden section (waterfall and spider plots) from the sample's tumour assessments,
coloured by the page's groups, withheld under small-cell protection, pseudonymous in hover, and one line
naming the file that enables it when there are no tumour data."""
from __future__ import annotations

import json
from pathlib import Path

from il2lib import schema
from il2lib.analyses.tumour_burden import load_tumour_assessments, tumour_burden
from support.apptest import open_app, rerun, sample_data, texts, widget

RESPONSE = "pages/2_Response.py"
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ASSESSMENTS = ROOT / "sample_data" / "combined_synthetic_tumour_assessments.csv"
WITHHELD = "Patient-level figure withheld while small-cell protection is on"


def _charts(at) -> dict[str, dict]:
    return {e.proto.id: json.loads(e.proto.spec) for e in at.get("plotly_chart")}


def _titled(at, part: str) -> list[dict]:
    return [c for c in _charts(at).values() if part in c["layout"]["title"]["text"]]


def _bar_count(fig: dict) -> int:
    return sum(len(t["customdata"]) for t in fig["data"] if t["type"] == "bar")


def test_waterfall_and_spider_show_every_patient_with_a_best_change():
    at = open_app({"resp_by": "None"}, page=RESPONSE)
    assert "Tumour burden" in [h.value for h in at.subheader]
    [waterfall] = _titled(at, "Best change in target lesions")
    [spider] = _titled(at, "Change in target lesions over time")
    expected = tumour_burden(load_tumour_assessments(SAMPLE_ASSESSMENTS), sample_data())
    assert expected.n > 20
    assert _bar_count(waterfall) == expected.n
    assert spider["layout"]["legend"]["title"]["text"] == "Best overall response"
    captions = texts(at, "caption")
    assert any(c.startswith(f"Tumour change: {expected.n} of ") for c in captions)
    assert any("-30% and +20% are the RECIST 1.1 thresholds" in c for c in captions)
    assert any(b.proto.label == "CSV" for b in at.get("download_button"))


def test_spider_takes_the_page_s_grouping():
    at = open_app({"resp_by": schema.DISEASE}, page=RESPONSE)
    [spider] = _titled(at, "Change in target lesions over time")
    assert spider["layout"]["legend"]["title"]["text"] == schema.label(schema.DISEASE)
    names = {t.get("name") for t in spider["data"] if t.get("mode") == "lines+markers"}
    assert names == {"Melanoma", "RCC"}


def test_tumour_figures_are_withheld_under_small_cell_protection():
    at = open_app({"mask": "1"}, page=RESPONSE)
    assert "Tumour burden" in [h.value for h in at.subheader]
    assert not _titled(at, "target lesions")
    assert any(WITHHELD in t for t in texts(at, "info"))
    assert not any("Tumour change:" in c for c in texts(at, "caption"))


def test_hover_names_pseudonyms_when_they_are_on():
    at = open_app(page=RESPONSE)
    at.switch_page("app.py").run()
    widget(at, "toggle", "w_pseudonyms").set_value(True)
    rerun(at)
    at = rerun(at.switch_page(RESPONSE))
    [waterfall] = _titled(at, "Best change in target lesions")
    ids = [i for t in waterfall["data"] if t["type"] == "bar" for i in t["customdata"]]
    assert ids and all(str(i).startswith("row ") for i in ids)


def test_without_tumour_data_one_line_names_the_file_that_enables_it():
    from test_app_redcap_upload import upload_file

    at = upload_file(open_app(), ROOT / "sample_data" / "combined_synthetic.csv")
    at = rerun(at.switch_page(RESPONSE))
    assert "Tumour burden" in [h.value for h in at.subheader]
    assert not _titled(at, "target lesions")
    assert any("upload a tumour-assessment table on the Data page" in c for c in texts(at, "caption"))
