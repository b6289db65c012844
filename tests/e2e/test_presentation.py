"""Presentation mode (``?present=1`` and the sidebar toggle): larger type and lines, colour-blind-safe
palette, sidebar collapsed, figure titles naming data and filters."""
from __future__ import annotations

from il2lib.figures.palette import OKABE_ITO

from . import ui


def test_present_query_parameter(open_at):
    normal = open_at("/Survival")
    present = open_at("/Survival?present=1")
    assert not ui.sidebar_hidden(normal)
    assert ui.sidebar_hidden(present), "sidebar not collapsed in presentation mode"

    small, large = ui.font_sizes(normal), ui.font_sizes(present)
    for part in ("text", "label", "figure"):
        assert large[part] > small[part], f"{part} font not larger in presentation mode: {small} vs {large}"
    thin, thick = ui.curve_styles(normal), ui.curve_styles(present)
    assert all(t[0] > n[0] for n, t in zip(thin, thick)), f"curves not thicker: {thin} vs {thick}"
    assert {colour for _, colour in thick} <= set(OKABE_ITO), "curve colours outside the Okabe-Ito palette"
    title = ui.figure_title(present)
    assert "n = 107 of 107 patients" in title and "All patients" in title
    ui.shot(present, "presentation_survival")

    ui.go_to_page(present, "Response") if not ui.sidebar_hidden(present) else present.goto(
        present.url.replace("/Survival", "/Response"))
    ui.settle(present)
    assert "present=1" in present.url
    assert ui.font_sizes(present)["text"] == large["text"]
    ui.shot(present, "presentation_response")


def test_presentation_toggle_in_sidebar(open_at):
    page = open_at("/Survival")
    before = ui.font_sizes(page)
    page.locator(ui.SIDEBAR).get_by_text("Presentation mode", exact=True).click()
    ui.settle(page)
    assert "present=1" in page.url

    def larger() -> None:
        after = ui.font_sizes(page)
        assert after["figure"] > before["figure"] and after["text"] > before["text"], (before, after)

    ui.eventually(larger)
    ui.shot(page, "presentation_toggled_in_sidebar")
