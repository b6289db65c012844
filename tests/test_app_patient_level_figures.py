"""AppTest: under small-cell protection (``?mask=1``) the pages withhold patient-level figures and rows
(il2lib.figures.PATIENT_LEVEL_FIGURES): no swimmer plot, biomarker boxes without patient points, no
patient rows on the Data page (the Report page: tests/test_app_report.py)."""
from __future__ import annotations

import json

from il2lib import schema
from support.apptest import data_preview, open_app, open_export_panels, rerun, texts

RESPONSE, BIOMARKERS = "pages/2_Response.py", "pages/4_Biomarkers.py"
WITHHELD = "Patient-level figure withheld while small-cell protection is on"


def _charts(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def _titled(at, part: str) -> list[dict]:
    return [c for c in _charts(at) if part in c["layout"]["title"]["text"]]


def _downloads(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_swimmer_plot_is_withheld_with_an_info_line():
    at = open_app(page=RESPONSE)
    assert _titled(at, "Time on study by patient")
    assert not any(WITHHELD in t for t in texts(at, "info"))
    at = open_app({"mask": "1"}, page=RESPONSE)
    assert not _titled(at, "Time on study by patient")
    assert any(WITHHELD in t for t in texts(at, "info"))
    assert not [k for k in (b.key for b in at.get("download_button")) if k and "swimmer" in k]


def test_biomarker_figure_has_boxes_only_and_keeps_its_downloads():
    at = open_app(page=BIOMARKERS)
    [plain] = _titled(at, "clinical benefit vs no benefit")
    assert any(t.get("boxpoints") == "all" and t.get("text") for t in plain["data"])
    at = open_export_panels(open_app({"mask": "1"}, page=BIOMARKERS))
    [masked] = _titled(at, "clinical benefit vs no benefit")
    boxes = [t for t in masked["data"] if t["type"] == "box"]
    assert boxes and all(t.get("boxpoints") is False and not t.get("text") for t in boxes)
    assert not any("%{text}" in (t.get("hovertemplate") or "") for t in masked["data"])
    assert {"PNG", "SVG", "HTML"} <= set(_downloads(at))
    assert any("boxes only (no patient points)" in c for c in texts(at, "caption"))


def _patient_rows(at) -> list:
    return [d.value for d in at.dataframe if schema.label(schema.PATIENT_ID) in d.value.columns]


def test_data_page_withholds_patient_rows():
    at = open_app()
    data_preview(at)
    assert _patient_rows(at)  # the analysed-data preview
    at = open_app({"mask": "1"}, page=RESPONSE)  # the switch is read from the URL on an analysis page
    at = rerun(at.switch_page("app.py"))
    data_preview(at)
    assert not _patient_rows(at)
    assert any("Patient-level table withheld while small-cell protection is on" in t for t in texts(at, "info"))
