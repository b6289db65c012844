"""Tables and figures fit their boxes and follow presentation mode, checked at 1400 px."""
from __future__ import annotations

import re

import pytest

from il2lib import schema

from . import ui

AE_FIGURE = "Adverse events by worst grade"


def _grid_fit(grid) -> dict:
    """Content width and height of a table against its visible box (a grid scrolls when larger)."""
    return grid.evaluate(
        """(el) => { const s = el.querySelector('.dvn-scroller') || el;
                     return {scrollWidth: s.scrollWidth, clientWidth: s.clientWidth,
                             scrollHeight: s.scrollHeight, clientHeight: s.clientHeight}; }"""
    )


def _active_tab_grid(page):
    return page.locator('[data-testid="stTabs"] [role="tabpanel"]:not([hidden])').locator(ui.GRID).first


# ----------------------------------------------------------------------------- biomarker tables
@pytest.mark.parametrize("adjust", ["none", "holm"])
def test_biomarker_tables_fit_and_say_what_the_odds_ratio_is_per(open_at, adjust):
    page = open_at(f"/Biomarkers?adjust={adjust}")
    for tab in ("Melanoma", "RCC"):
        page.get_by_role("tab", name=tab).click()
        ui.settle(page)
        grid = _active_tab_grid(page)

        def fits() -> None:
            size = _grid_fit(grid)
            assert size["scrollWidth"] <= size["clientWidth"] + 1, f"{tab}: table wider than the page: {size}"

        ui.eventually(fits)
        headers = ui.grid_headers(grid)
        assert headers[-2:] == ["OR per", "Missing"], headers
        rows = {r["Variable"]: r for r in ui.grid_rows(grid)}
        assert rows["Platelet nadir"]["OR per"] == "10 x10^3/uL"
        assert rows["Autoimmune phenomena"]["OR per"] == "yes vs no"
        assert re.fullmatch(r"\d\.\d+ \(\d\.\d+–\d+(\.\d+)?\)", rows["Platelet nadir"]["OR (95% CI)"])
        assert rows["Platelet nadir"]["p-value"].endswith("¹")
        assert "¹ Wilcoxon rank-sum (Mann-Whitney U) test" in ui.main_text(page)
        ui.shot(page, f"findings_biomarkers_{adjust}_{tab.lower()}")


# ----------------------------------------------------------------------------- toxicity tables and figure
def test_toxicity_caveat_once_and_ae_table_shows_every_term(open_at):
    page = open_at("/Toxicity")
    text = ui.main_text(page)
    assert text.count(schema.ERA_CAVEAT) == 1, "the era/site caveat is shown more than once"
    grid = ui.find_grid(page, "AE term (CTCAE v5)")
    grid.scroll_into_view_if_needed()

    def whole_table() -> None:
        size = _grid_fit(grid)
        assert size["scrollHeight"] <= size["clientHeight"] + 1, f"AE table scrolls: {size}"

    ui.eventually(whole_table)
    ui.shot(page, "findings_toxicity")


def _facet_gap(page) -> dict:
    """Space (px) between the bottom of the title block (title and subtitle lines) of the AE figure and the
    top of its facet titles, with the figure's font size; drawn term labels and the number of terms."""
    return page.evaluate(
        """(name) => {
            for (const gd of document.querySelectorAll('.js-plotly-plot')) {
                const title = gd.querySelector('.infolayer .gtitle');
                if (!title || !title.textContent.startsWith(name)) continue;
                const facets = [...gd.querySelectorAll('.infolayer .annotation-text')].map(a => a.getBoundingClientRect().top);
                const ticks = [...gd.querySelectorAll('.yaxislayer-above .ytick text')].filter(t => t.textContent !== '');
                return {gap: Math.min(...facets) - title.getBoundingClientRect().bottom, font: gd._fullLayout.font.size,
                        facets: facets.length, labels: ticks.length, terms: gd._fullData[0].y.length};
            }
            return null;
        }""",
        AE_FIGURE,
    )


@pytest.mark.parametrize("mode", ["normal", "presentation"])
def test_ae_figure_facet_titles_clear_of_the_subtitle_and_every_term_labelled(open_at, mode):
    page = open_at("/Toxicity" + ("?present=1" if mode == "presentation" else ""))
    page.locator(ui.PLOTLY).filter(has_text=AE_FIGURE).first.scroll_into_view_if_needed()

    def clear() -> None:
        found = _facet_gap(page)
        assert found and found["facets"] == 2, found
        assert found["gap"] >= 0.75 * found["font"], f"facet titles touch the subtitle: {found}"
        # the sample's 21 AE terms: "Terms shown" draws all of them by default (up to 25)
        assert found["labels"] == found["terms"] == 21, f"term labels skipped (bars too thin): {found}"

    ui.eventually(clear)
    ui.shot(page, f"findings_toxicity_figure_{mode}")


# ----------------------------------------------------------------------------- presentation mode: select boxes
def _combobox_font_px(page) -> list[float]:
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] input[role="combobox"]')]
                  .map(e => parseFloat(getComputedStyle(e).fontSize))"""
    )


def test_presentation_mode_enlarges_select_box_values(open_at):
    normal, present = open_at("/Survival"), open_at("/Survival?present=1")
    small, large = _combobox_font_px(normal), _combobox_font_px(present)
    label = ui.font_sizes(present)["label"]
    assert small and large and len(small) == len(large)
    assert max(small) < 16, small
    assert min(large) >= 0.9 * label, f"select-box values {large} px next to {label} px labels"
    ui.shot(present, "findings_presentation_select_boxes")


# ----------------------------------------------------------------------------- presentation mode: tables
def _table_cell_font_px(page) -> list[float]:
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stTable"] td, '
               + '[data-testid="stMain"] [data-testid="stMarkdownContainer"] table td')]
                  .map(e => parseFloat(getComputedStyle(e.querySelector('p') || e).fontSize))"""
    )


@pytest.mark.parametrize("path", ["/Survival", "/Cohort"])
def test_presentation_mode_enlarges_result_tables(open_at, path):
    normal, present = open_at(path), open_at(path + "?present=1")
    small, large = _table_cell_font_px(normal), _table_cell_font_px(present)
    assert small and large and len(small) == len(large), "result tables are drawn on both views"
    assert max(small) < 16 and min(large) >= 0.9 * ui.font_sizes(present)["label"], (small[:3], large[:3])
    # An indented Table 1 level row stays text (four leading spaces would make it a Markdown code block).
    assert present.locator('[data-testid="stTable"] code').count() == 0
    ui.shot(present, "findings_presentation_tables" + path.replace("/", "_").lower())
