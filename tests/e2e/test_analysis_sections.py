"""Browser scenarios of the analysis sections on the default combined sample: multivariable Cox, pairwise
comparisons next to the figure, the published-result overlay and small-cell protection."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from . import ui


def _figure_index(page, title_part: str) -> int:
    for i in range(page.locator(ui.PLOTLY).count()):
        if title_part in ui.figure_title(page, i):
            return i
    raise AssertionError(f"no figure titled {title_part!r}: "
                         f"{[ui.figure_title(page, i) for i in range(page.locator(ui.PLOTLY).count())]}")


def test_multivariable_cox_table_forest_and_ph_warning(page):
    ui.go_to_page(page, "Survival")
    assert page.get_by_role("tab", name="Multivariable Cox").count() == 0  # collapsed until asked for
    ui.open_models_tab(page, "Multivariable Cox")
    assert "km_more=true" in page.url  # a copied link reopens the section
    grid = ui.find_grid(page, "Term")  # the model's table (the page's own Cox table says "Cox model term")
    expect(grid).to_be_visible()
    terms = [r["Term"] for r in ui.grid_rows(grid) if "Term" in r]
    assert terms == ["Age (per 10 years)", "Sex: M vs F", "ECOG PS (per point)", "Disease: RCC vs Melanoma"]
    forest = ui.plotly_traces(page, _figure_index(page, "multivariable Cox model"))
    assert len(forest[0]["x"]) == 4 and all(x > 0 for x in forest[0]["x"])
    text = ui.main_text(page)
    assert "events per coefficient" in text
    assert re.search(r"Proportional hazards questionable for: Sex", text)
    ui.shot(page, "sections_cox")


def test_pairwise_logrank_table_next_to_km_figure(page, app_url):
    ui.open_app(page, app_url.rstrip("/") + "/Survival?km_by=line_of_il2")
    grid = ui.find_grid(page, "p (Holm)")
    expect(grid).to_be_visible()
    rows = ui.grid_rows(grid)
    assert [r["Comparison"] for r in rows] == ["Line of IL-2: 1 vs 2", "Line of IL-2: 1 vs 3+", "Line of IL-2: 2 vs 3+"]
    assert ui.grid_headers(grid) == ["Comparison", "p", "p (Holm)", "p (BH)"]
    assert all(r["p (Holm)"] and r["p (BH)"] for r in rows)
    assert "Pairwise log-rank tests" in ui.main_text(page)
    km_box = page.locator(ui.PLOTLY).first.bounding_box()
    grid_box = grid.bounding_box()
    assert grid_box["x"] > km_box["x"] + km_box["width"] / 2  # in the column beside the figure
    ui.shot(page, "sections_pairwise")


def test_published_overlay_on_response_page(page):
    ui.go_to_page(page, "Response")
    assert ui.find_grid(page, "Source").count() == 0
    page.get_by_text("Show published results (our cohort vs the PROCLAIM series)").click()
    ui.settle(page)
    grid = ui.find_grid(page, "Source")
    expect(grid).to_be_visible()
    rows = ui.grid_rows(grid)
    sources = {r["Source"] for r in rows}
    assert sources == {"Our cohort", "PROCLAIM post-PD-1 series"}
    published = [r for r in rows if r["Source"] != "Our cohort"]
    assert {r["Responders / n"] for r in published} == {"9/40", "4/17"}
    assert "computed from published counts" in ui.main_text(page)
    traces = ui.plotly_traces(page, _figure_index(page, "our cohort vs published"))
    assert len(traces) == 2
    ui.shot(page, "sections_published")


def test_small_cell_protection_masks_tables_and_hides_downloads(page, app_url):
    ui.open_app(page, app_url.rstrip("/") + "/Response?resp_by=prior_pd1_agent")
    assert "<5" not in ui.grids_text(page)
    page.locator(ui.SIDEBAR).get_by_text("Small-cell protection", exact=True).click()
    # the rerun can start after the page looked idle: wait for the caption it draws after the tables
    expect(page.locator(ui.MAIN)).to_contain_text("Small-cell protection on", timeout=ui.DEFAULT_TIMEOUT_MS)
    ui.settle(page)
    assert "<5" in ui.grids_text(page)
    ui.open_expander(page, "Show code")
    assert page.get_by_text("Patient-level download hidden").first.is_visible()
