"""The download buttons under tables and figures: right files, built lazily, neutralised."""
from __future__ import annotations

import contextlib
import io

import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from app_ui import downloads


@pytest.fixture
def buttons(monkeypatch):
    """Capture every download button the helper draws: label -> its keyword arguments."""
    drawn: dict[str, dict] = {}

    def fake_download_button(label, **kwargs):
        drawn[label] = kwargs
        return False

    monkeypatch.setattr(downloads.st, "download_button", fake_download_button)
    monkeypatch.setattr(downloads.st, "container", lambda **kwargs: contextlib.nullcontext())
    return drawn


def test_table_buttons_give_neutralised_csv_and_xlsx(buttons):
    df = pd.DataFrame({"AE term": ["=HYPERLINK(\"http://x\")", "Fever"], "n": [-1, 3], "p": ["<0.001", "0.20"]})
    downloads.download_table(df, "Adverse events (by term)", title="AEs", notes=["Worst grade per patient."])
    assert set(buttons) == {"CSV", "XLSX"}
    csv = buttons["CSV"]
    assert csv["file_name"] == "adverse_events_by_term.csv" and csv["on_click"] == "ignore"
    assert callable(csv["data"]), "built only when clicked"
    parsed = pd.read_csv(io.StringIO(csv["data"]().decode("utf-8-sig")), dtype=str)
    assert parsed.iloc[0].tolist() == ["'=HYPERLINK(\"http://x\")", "-1", "<0.001"]
    ws = load_workbook(io.BytesIO(buttons["XLSX"]["data"]())).active
    assert ws["A1"].value == "AEs" and ws["A3"].font.bold and ws["A4"].value.startswith("'=")
    assert buttons["XLSX"]["file_name"] == "adverse_events_by_term.xlsx"


def test_figure_buttons_give_png_svg_and_standalone_html(buttons):
    fig = go.Figure(go.Scatter(x=[0, 12], y=[1.0, 0.6], name="Melanoma"), layout={"width": 400, "height": 300})
    downloads.download_figure(fig, "KM: overall survival")
    assert set(buttons) == {"PNG", "SVG", "HTML"}
    assert buttons["PNG"]["file_name"] == "km_overall_survival.png"
    assert buttons["PNG"]["data"]()[:8] == b"\x89PNG\r\n\x1a\n"
    assert buttons["SVG"]["data"]().lstrip().startswith(b"<svg")
    html = buttons["HTML"]["data"]()
    assert "<title>KM: overall survival</title>" in html and "<script src=" not in html
    fig.data[0].name = "changed later"
    assert "changed later" not in buttons["HTML"]["data"](), "the figure is captured when the button is drawn"


def test_helper_draws_real_buttons_in_a_page_without_running_the_exports():
    script = '''
import pandas as pd, plotly.graph_objects as go
from app_ui.downloads import download_figure, download_table
download_table(pd.DataFrame({"a": [1]}), "Table 1")
download_table(pd.DataFrame({"a": [2]}), "Table 1", key="table_1_again")
download_figure(go.Figure(), "KM")
'''
    at = AppTest.from_string(script, default_timeout=30).run()
    assert not at.exception
    assert [b.proto.label for b in at.get("download_button")] == ["CSV", "XLSX", "CSV", "XLSX"], \
        "a closed export panel draws no buttons"
    at.session_state["dl_panel_km"] = True  # the export panel opened
    at.run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["CSV", "XLSX", "CSV", "XLSX", "PNG", "SVG", "HTML"]
    assert all(b.proto.deferred_file_id for b in at.get("download_button"))


def test_with_small_cell_protection_files_are_masked_and_patient_level_ones_withheld(buttons, monkeypatch):
    from app_ui.masking import Masking

    monkeypatch.setattr(downloads, "current_masking", lambda: Masking(True, 5))
    df = pd.DataFrame({"Group": ["Melanoma", "RCC"], "Responders / n": ["9/40", "3/17"]})
    downloads.download_table(df, "rates")
    parsed = pd.read_csv(io.StringIO(buttons["CSV"]["data"]().decode("utf-8-sig")), dtype=str)
    assert parsed["Responders / n"].tolist() == ["9/40", "<5/17"]
    buttons.clear()
    downloads.download_table(df, "patients", patient_level=True)
    downloads.download_figure(go.Figure(), "swimmer", patient_level=True)
    assert buttons == {}
