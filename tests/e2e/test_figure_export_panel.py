"""The export panel under the Kaplan-Meier figure, in a real browser: the 16:9 slide (1920 x 1080 px) with the
figure's statistics in its footnote is two clicks from the Survival page ("Export figure", then "PNG"), named after
the endpoint, grouping and filter."""
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
