"""Report page in a real browser: the preview (``st.iframe``) draws the report's figures with their inline
scripts, shows the same document the HTML download gives, and the server logs no deprecation warning.

The report runs in a frame inside Streamlit's frame, sandboxed without ``allow-same-origin``
(app_ui/isolated_frame.py): its origin is opaque ("null") and it cannot reach the app's document."""
from __future__ import annotations

from . import ui

PREVIEW = 'iframe[title="Preview of the meeting report"]'
REPORT = 'iframe[title="Meeting report"]'
DEPRECATED = "components.v1.html"


def test_report_preview_draws_the_figures_of_the_downloaded_report(open_at, streamlit_server):
    page = open_at("/Report?data=proclaim&disease=rcc")
    page.get_by_role("button", name="Build report").click()
    ui.settle(page)
    preview = page.locator(PREVIEW)
    assert preview.count() == 1, "no report preview iframe with an accessible name"
    report_frame = page.frame_locator(PREVIEW).locator(REPORT)
    assert report_frame.count() == 1, "the report is not in its own sandboxed frame"
    frame = page.frame_locator(PREVIEW).frame_locator(REPORT)
    figures = frame.locator(".js-plotly-plot")

    def drawn() -> None:  # Plotly.newPlot ran in the iframe: every figure has its SVG
        n = figures.count()
        assert n >= 2 and frame.locator(".js-plotly-plot .main-svg").count() >= n, n

    ui.eventually(drawn, timeout_s=60)
    assert frame.locator("h1").first.inner_text().strip()

    with page.expect_download() as download:
        page.get_by_role("button", name="Download HTML").click()
    downloaded = download.value.path().read_text(encoding="utf-8")
    assert report_frame.get_attribute("srcdoc") == downloaded, "the preview is not the downloaded report"
    report = preview.element_handle().content_frame().child_frames[0]
    assert report.evaluate("() => self.origin") == "null", "the report runs with the app's origin"
    reach = "() => { try { return String(parent.document.title) + top.document.title; } catch (e) { return e.name; } }"
    assert report.evaluate(reach) == "SecurityError", "the report's scripts can read the app's page"
    preview.scroll_into_view_if_needed()
    ui.shot(page, "report_preview")
    assert DEPRECATED not in streamlit_server.log_tail(200_000), "deprecated Streamlit API in the server log"
