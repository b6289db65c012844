"""Every page in the real browser, normal view and presentation mode: an axe-core audit (bundled by
axe-playwright-python) finds no critical or serious violation, colour contrast included, and every plotly figure
is readable (titles not cut off, nothing drawn over them, no legend hidden behind a scrollbar).

One browser session per mode visits all pages once; the two checks read what that visit recorded."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from app_ui.survival_sections import TABS as MODEL_TABS

from . import ui
from .server import VIEWPORT
from .test_pages_smoke import nav_labels


@dataclass(frozen=True)
class PageAudit:
    axe: str  # described critical/serious violations, "" when none
    figures: tuple[str, ...]


@pytest.fixture(scope="module", params=["normal", "presentation"])
def audit(request, browser, app_url) -> dict[str, PageAudit]:
    mode = request.param
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ui.DEFAULT_TIMEOUT_MS)
    try:
        page = context.new_page()
        ui.open_app(page, app_url + ("/?present=1" if mode == "presentation" else "/"))
        if mode == "presentation":  # the sidebar starts collapsed: open it to reach the navigation
            page.locator('[data-testid="stExpandSidebarButton"]').first.click()
            page.wait_for_timeout(300)
        results = {}
        for label in nav_labels(page):
            if label != "Data":
                ui.go_to_page(page, label)
            ui.shot(page, f"page_{mode}_{label.lower()}")
            results[f"{mode}: {label}"] = PageAudit(ui.describe_violations(ui.axe_violations(page)),
                                                    tuple(ui.figure_problems(page)))
            for tab in (MODEL_TABS if label == "Survival" else ()):  # the collapsed section, tab by tab
                ui.open_models_tab(page, tab)
                ui.shot(page, f"page_{mode}_survival_" + re.sub(r"\W+", "_", tab.lower()))
                results[f"{mode}: Survival, {tab}"] = PageAudit(ui.describe_violations(ui.axe_violations(page)),
                                                                tuple(ui.figure_problems(page)))
    finally:
        context.close()
    return results


def test_every_page_passes_axe(audit):
    failing = {page: a.axe for page, a in audit.items() if a.axe}
    assert not failing, "axe critical/serious violations:\n" + "\n".join(f"== {k}\n{v}" for k, v in failing.items())


def test_every_figure_is_readable(audit):
    failing = {page: a.figures for page, a in audit.items() if a.figures}
    assert not failing, "figures hard to read:\n" + "\n".join(f"{k}: {p}" for k, v in failing.items() for p in v)
