"""The export panel in a real browser: each of a meeting's three slides (OS by disease with its risk table, ORR and
CBR by prior PD-1/PD-L1, grade >= 3 adverse events by prior PD-1/PD-L1) is a 16:9 PNG (1920 x 1080 px) with the
figure's statistics in its footnote, at most four clicks from its page, named after the endpoint, grouping and
filter."""
from __future__ import annotations

import struct

from . import ui
from .server import ARTIFACTS

POPOVER_BODY = '[data-testid="stPopoverBody"]'
#: What the slide's footnote says by default (the page's log-rank test, medians and CI method).
FOOTNOTE_PARTS = ("Log-rank p", "Median, months (95% CI)", "Pointwise 95% CI, log-log transformation.")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_survival_slide_with_its_footnote_is_two_clicks_from_the_page(open_at):
    page = open_at("/Survival?disease=melanoma,rcc&prior_pd1_pdl1=yes")
    clicks = 0
    page.get_by_role("button", name="Export figure").first.click()
    clicks += 1
    body = page.locator(POPOVER_BODY)

    def panel_open() -> None:
        assert body.get_by_role("button", name="PNG").is_visible()

    ui.eventually(panel_open)
    ui.shot(page, "export_panel_open")
    note = body.locator("textarea").first.input_value()
    assert all(part in note for part in FOOTNOTE_PARTS), note
    with page.expect_download(timeout=90_000) as download:
        body.get_by_role("button", name="PNG").click()
        clicks += 1
    png = download.value
    data = png.path().read_bytes()
    assert clicks <= 4 and clicks == 2
    assert png.suggested_filename == "km_os_by_disease_melanoma-rcc_prior-pd1-yes.png"
    width, height = png_size(data)
    assert (width, height) == (1920, 1080) and width * 9 == height * 16, "a 16:9 slide"
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "export_km_slide.png").write_bytes(data)
    # the same figure as vector: the footnote is text in it
    with page.expect_download(timeout=90_000) as download:
        body.get_by_role("button", name="SVG").click()
    svg = download.value.path().read_text(encoding="utf-8")
    assert all(part in svg for part in ("Log-rank p", "log-log transformation")), "footnote not in the figure"
    ui.assert_clean(page)


def _slide(page, panel: str, name: str) -> tuple[bytes, str, str]:
    """Open the export panel keyed ``panel`` and download its PNG (2 clicks): the PNG, its file name and the footnote."""
    page.locator(f".st-key-dl_panel_{panel}").get_by_role("button", name="Export figure").click()
    body = page.locator(POPOVER_BODY)
    ui.eventually(lambda: _assert(body.get_by_role("button", name="PNG").is_visible()))
    note = ui.eventually(lambda: _filled(body.locator("textarea").first.input_value()))  # after the page's rerun
    ui.shot(page, f"export_{name}_panel")
    with page.expect_download(timeout=90_000) as download:
        body.get_by_role("button", name="PNG").click()
    data = download.value.path().read_bytes()
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    (shots / f"export_{name}_slide.png").write_bytes(data)
    return data, download.value.suggested_filename, note


def _assert(condition: bool) -> None:
    assert condition


def _filled(text: str) -> str:
    assert text
    return text


def test_orr_by_prior_pd1_slide_is_four_clicks_from_the_response_page(open_at):
    page = open_at("/Response")
    ui.choose_select(page, "Compare groups", "Prior PD-1/PD-L1")  # 2 clicks: the box, the option
    data, name, note = _slide(page, "orr_cbr_by_prior_pd1_pdl1", "orr")  # 2 clicks
    assert png_size(data) == (1920, 1080)
    assert name == "orr_cbr_by_prior_pd1_pdl1.png"
    assert "Between groups: ORR p = " in note and "Clopper-Pearson" in note, note
    ui.assert_clean(page)


def test_grade3_toxicity_by_prior_pd1_slide_is_three_clicks_from_the_toxicity_page(open_at):
    page = open_at("/Toxicity")  # grouped by prior PD-1/PD-L1 by default
    page.get_by_text("Grade ≥ 3 only", exact=True).click()  # 1 click (the label's ">=" is drawn as "≥")
    ui.settle(page)
    data, name, note = _slide(page, "ae_grades", "toxicity")  # 2 clicks
    assert png_size(data) == (1920, 1080)
    assert name == "ae_grade3_by_prior_pd1_pdl1.png", name
    assert "Any grade >= 3 AE" in note and "Fisher" in note, note
    ui.assert_clean(page)
