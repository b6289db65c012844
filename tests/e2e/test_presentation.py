"""Presentation mode (``?present=1`` and the toggle at the top of the sidebar): a slide layout for screen
sharing. Larger type and lines, colour-blind-safe palette, sidebar collapsed, figure titles naming data and
filters; controls, code panels and downloads hidden from the main area; previous / next page links; the
Kaplan-Meier figure with its risk table inside a 1920x1080 screen; patients named by pseudonym."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from il2lib.figures.palette import OKABE_ITO

from . import ui
from .server import ARTIFACTS

SCREEN = {"width": 1920, "height": 1080}
SCREENS = ARTIFACTS / "screens"
#: What a slide does not show in the main area: controls, download rows and buttons, export popovers, code panels.
HIDDEN_IN_SLIDES = {
    "selectbox": '[data-testid="stSelectbox"]', "multiselect": '[data-testid="stMultiSelect"]',
    "toggle or checkbox": '[data-testid="stCheckbox"]', "radio": '[data-testid="stRadio"]',
    "number input": '[data-testid="stNumberInput"]', "slider": '[data-testid="stSlider"]',
    "segmented control": '[data-testid="stButtonGroup"]', "file uploader": '[data-testid="stFileUploader"]',
    "download button": '[data-testid="stDownloadButton"]', "download row": '[class*="st-key-dl_"]',
    "export popover": '[data-testid="stPopover"]', "code panel": '[data-testid="stExpander"]:has-text("Show code")',
}
NAV_LINK = ".st-key-slide_nav a"


def open_screen(new_context, app_url: str, path: str) -> Page:
    """A fresh session at ``path`` in a 1920x1080 window (a projector or a shared full-HD screen)."""
    context = new_context()
    page = context.new_page()
    page.set_viewport_size(SCREEN)
    ui.open_app(page, app_url + path)
    return page


def screen_shot(page: Page, name: str) -> None:
    ui.wait_idle(page)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def visible_in_main(page: Page) -> dict[str, int]:
    """How many of each :data:`HIDDEN_IN_SLIDES` kind are drawn (have a size) in the main area."""
    main = page.locator(ui.MAIN)
    return {kind: sum(1 for el in main.locator(sel).all() if el.is_visible()) for kind, sel in
            HIDDEN_IN_SLIDES.items()}


def heading(page: Page) -> str:
    return page.locator(f"{ui.MAIN} h1").first.inner_text().strip()


def click_nav(page: Page, label: str) -> None:
    page.locator(NAV_LINK).filter(has_text=label).click()
    page.wait_for_timeout(300)
    ui.settle(page)


def test_present_query_parameter(open_at):
    normal = open_at("/Survival")
    present = open_at("/Survival?present=1")
    assert not ui.sidebar_hidden(normal)
    assert ui.sidebar_hidden(present), "sidebar not collapsed in presentation mode"

    small, large = ui.font_sizes(normal), ui.font_sizes(present)
    for part in ("text", "figure"):
        assert large[part] > small[part], f"{part} font not larger in presentation mode: {small} vs {large}"
    thin, thick = ui.curve_styles(normal), ui.curve_styles(present)
    assert all(t[0] > n[0] for n, t in zip(thin, thick)), f"curves not thicker: {thin} vs {thick}"
    assert {colour for _, colour in thick} <= set(OKABE_ITO), "curve colours outside the Okabe-Ito palette"
    title = ui.figure_title(present)
    assert "n = 107 of 107 patients" in title and "All patients" in title
    ui.shot(present, "presentation_survival")

    click_nav(present, "Previous: Response")
    assert heading(present) == "Response"
    assert "present=1" in present.url
    assert ui.font_sizes(present)["text"] == large["text"]
    ui.shot(present, "presentation_response")


def test_presentation_toggle_in_sidebar(open_at):
    page = open_at("/Survival")
    before = ui.font_sizes(page)
    first = page.locator(f'{ui.SIDEBAR} [data-testid="stSidebarUserContent"] [data-testid="stElementContainer"]').first
    assert first.locator('[data-testid="stCheckbox"]').count() == 1 and "Presentation mode" in first.inner_text(), \
        "the presentation toggle is not the first element of the sidebar"
    page.locator(ui.SIDEBAR).get_by_text("Presentation mode", exact=True).click()
    ui.settle(page)
    assert "present=1" in page.url

    def larger() -> None:
        after = ui.font_sizes(page)
        assert after["figure"] > before["figure"] and after["text"] > before["text"], (before, after)

    ui.eventually(larger)
    ui.shot(page, "presentation_toggled_in_sidebar")


def test_survival_slide_fits_a_full_hd_screen(new_context, app_url):
    page = open_screen(new_context, app_url, "/Survival?present=1")
    geometry = ui.km_geometry(page)
    chart = page.locator(f'{ui.MAIN} .st-key-km_chart').bounding_box()
    assert chart is not None and chart["y"] >= 0
    assert chart["y"] + chart["height"] <= SCREEN["height"], f"KM figure ends at {chart['y'] + chart['height']} px"
    risk = [t["box"][3] for t in geometry["risk"]] + [t["box"][3] for t in geometry["risk_labels"]]
    assert risk and max(risk) <= SCREEN["height"], f"number-at-risk rows below the screen: {max(risk)} px"
    assert geometry["xtitle"] and geometry["xtitle"][0]["box"][3] <= SCREEN["height"]
    assert set(ui.at_risk_rows(page)) == {"Melanoma", "RCC"}
    shown = visible_in_main(page)
    assert not any(shown.values()), f"controls, downloads or code on the slide: {shown}"
    screen_shot(page, "presentation_survival_1920x1080")

    # the toggle leads the sidebar: visible without scrolling once the sidebar is opened
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    toggle = page.locator(ui.SIDEBAR).get_by_text("Presentation mode", exact=True)
    toggle.wait_for()
    box = toggle.bounding_box()
    assert box is not None and box["y"] < 150, f"presentation toggle {box} not at the top of the sidebar"
    assert "pseudonym" in page.locator(ui.SIDEBAR).inner_text()
    screen_shot(page, "presentation_survival_sidebar_open")

    # switching it off in the sidebar restores the page's controls
    toggle.click()
    ui.settle(page)
    assert "present=1" not in page.url
    ui.eventually(lambda: _assert(visible_in_main(page)["selectbox"] >= 3))


@pytest.mark.parametrize("grouping", ["prior_pd1_pdl1", "line_of_il2", "objective_response"])
def test_survival_slide_fits_and_keeps_its_caution_under_the_figure(new_context, app_url, grouping):
    # prior PD-1: the era caveat; line of IL-2: three risk rows; response: the guarantee-time warning
    page = open_screen(new_context, app_url, f"/Survival?present=1&km_by={grouping}")
    chart = page.locator(f"{ui.MAIN} .st-key-km_chart").bounding_box()
    assert chart is not None and chart["y"] + chart["height"] <= SCREEN["height"], (grouping, chart)
    if grouping != "line_of_il2":  # the caution is still on the slide, under the figure
        warning = page.locator(f"{ui.MAIN} {ui.WARNING_ALERT}").first.bounding_box()
        assert warning is not None and warning["y"] >= chart["y"] + chart["height"], (grouping, warning, chart)
    screen_shot(page, f"presentation_survival_by_{grouping}")


def _assert(condition: bool) -> None:
    assert condition


def test_previous_and_next_pages_keep_the_filters(new_context, app_url):
    page = open_screen(new_context, app_url, "/Survival?present=1&disease=melanoma")
    counts = ui.sidebar_counts(page)
    links = [t.strip() for t in page.locator(NAV_LINK).all_inner_texts()]
    assert [re.sub(r"^\W*arrow_\w+\s*", "", t) for t in links] == ["Previous: Response", "Next: Biomarkers"]
    click_nav(page, "Next: Biomarkers")
    assert heading(page) == "Biomarkers"
    assert "/Biomarkers" in page.url and "present=1" in page.url and "disease=melanoma" in page.url
    assert ui.sidebar_counts(page) == counts
    click_nav(page, "Previous: Survival")
    click_nav(page, "Previous: Response")
    assert heading(page) == "Response"
    assert "disease=melanoma" in page.url and ui.sidebar_counts(page) == counts


def test_swimmer_lanes_show_pseudonyms_when_presenting(open_at):
    def lanes(page: Page) -> list[str]:
        page.locator(".st-key-swimmer .js-plotly-plot").scroll_into_view_if_needed()
        return page.evaluate("() => document.querySelector('.st-key-swimmer .js-plotly-plot')"
                             "._fullLayout.yaxis.ticktext.map(String)")

    normal, present = lanes(open_at("/Response")), lanes(open_at("/Response?present=1"))
    assert normal and not any(t.startswith("row ") for t in normal), normal[:5]
    assert len(present) == len(normal)
    assert all(re.fullmatch(r"row \d+", t) for t in present), present[:5]


@pytest.mark.parametrize("path, name, controls_kept", [
    ("/", "Data", False), ("/Cohort", "Cohort", False), ("/Response", "Response", False),
    ("/Biomarkers", "Biomarkers", False), ("/Toxicity", "Toxicity", False), ("/Report", "Meeting report", True),
])
def test_every_page_is_a_slide(new_context, app_url, path, name, controls_kept):
    page = open_screen(new_context, app_url, f"{path}?present=1")
    assert heading(page) == name
    shown = visible_in_main(page)
    assert not shown["code panel"] and not shown["download row"], shown
    if controls_kept:  # the report's options stay: building it is a workflow, not a slide
        assert shown["selectbox"] >= 1
    else:
        assert not any(shown.values()), f"controls, downloads or code on the {name} slide: {shown}"
    nav = page.locator(NAV_LINK)
    assert 1 <= nav.count() <= 2 and all(nav.nth(i).is_visible() for i in range(nav.count()))
    screen_shot(page, f"presentation_{name.split()[-1].lower()}")
