"""Exports: CSV/formula-injection neutralisation, XLSX layout, figure images and standalone HTML."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook

from il2lib.export.files import (
    FORMULA_PREFIXES, PUBLICATION_SCALE, figure_to_html, figure_to_png, figure_to_svg, neutralize_cell,
    neutralize_frame, table_to_csv_bytes, table_to_xlsx_bytes,
)

# The OWASP CSV-injection payloads, one per dangerous leading character.
INJECTIONS = [
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_formula_cells_are_prefixed_with_an_apostrophe(payload):
    assert neutralize_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", [-2.5, -1, 0, 3.25, "-2.5", "+1", "-1e-3", "P001", "<0.001", "≥3", "", None])
def test_numbers_and_harmless_text_are_untouched(value):
    assert neutralize_cell(value) == value


def test_frame_neutralises_cells_headers_and_keeps_numeric_columns_numeric():
    df = pd.DataFrame({"=evil()": ["=1+1", "ok"], "delta": [-1.5, 2.0]}, index=["@x", "y"])
    out = neutralize_frame(df)
    assert list(out.columns) == ["'=evil()", "delta"]
    assert list(out.index) == ["'@x", "y"]
    assert out.iloc[0, 0] == "'=1+1" and out.iloc[1, 0] == "ok"
    assert out["delta"].dtype == float and out["delta"].tolist() == [-1.5, 2.0]
    assert df.iloc[0, 0] == "=1+1", "the input frame is not modified"


def test_csv_has_no_cell_starting_with_a_formula_character():
    df = pd.DataFrame({"term": INJECTIONS, "n": range(len(INJECTIONS)), "delta": [-1] * len(INJECTIONS)})
    text = table_to_csv_bytes(df).decode("utf-8-sig")
    parsed = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for cell in parsed["term"]:
        assert not cell.startswith(FORMULA_PREFIXES), cell
    assert parsed["delta"].tolist() == ["-1"] * len(INJECTIONS), "real negative numbers stay numbers"


def test_xlsx_has_bold_frozen_header_text_pvalues_and_no_formula():
    df = pd.DataFrame({"Variable": ["Platelet nadir", "=1+1"], "n": [30, 20], "p-value": ["0.015", "<0.001"]})
    blob = table_to_xlsx_bytes(df, sheet_name="Biomarkers", title="CB vs no CB", notes=["Mann-Whitney U."])
    ws = load_workbook(io.BytesIO(blob)).active
    assert ws.title == "Biomarkers"
    assert ws["A1"].value == "CB vs no CB"
    header = [c for c in ws[3]]
    assert [c.value for c in header] == ["Variable", "n", "p-value"]
    assert all(c.font.bold for c in header)
    assert ws.freeze_panes == "A4"
    assert [c.value for c in ws[4]] == ["Platelet nadir", 30, "0.015"]
    assert [c.value for c in ws[5]] == ["'=1+1", 20, "<0.001"], "p-values as shown, formula neutralised"
    assert ws["A7"].value == "Mann-Whitney U."
    sheet_xml = zipfile.ZipFile(io.BytesIO(blob)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def _figure():
    return go.Figure(go.Scatter(x=[0, 6, 12], y=[1.0, 0.7, 0.5], name="Melanoma"),
                     layout={"title": {"text": "Overall survival"}})


def test_png_is_at_publication_resolution():
    from PIL import Image

    png = figure_to_png(_figure(), width=600, height=400)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (600 * PUBLICATION_SCALE, 400 * PUBLICATION_SCALE)


def test_svg_is_vector_with_the_title_text():
    svg = figure_to_svg(_figure()).decode()
    assert svg.lstrip().startswith("<svg") and "Overall survival" in svg


def test_html_is_standalone():
    html = figure_to_html(_figure(), title="OS <figure>")
    assert "<script src=" not in html, "no external script (plotly.js is inline)"
    assert "Plotly.newPlot" in html and len(html) > 1_000_000, "plotly.js is embedded"
    assert "<title>OS &lt;figure&gt;</title>" in html
