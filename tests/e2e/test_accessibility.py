"""axe-core audit (bundled by axe-playwright-python) of every page in the real browser: no critical or serious
violation, colour contrast included, in the normal view and in presentation mode."""
from __future__ import annotations

import pytest

from . import ui
from .test_pages_smoke import nav_labels


@pytest.mark.parametrize("mode", ["normal", "presentation"])
def test_every_page_passes_axe(open_at, mode):
    page = open_at("/?present=1" if mode == "presentation" else "/")
    if mode == "presentation":  # the sidebar starts collapsed: open it to reach the navigation
        page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button').first.click()
        page.wait_for_timeout(300)
    report = {}
    for label in nav_labels(page):
        if label != "Data":
            ui.go_to_page(page, label)
        violations = ui.axe_violations(page)
        if violations:
            report[label] = ui.describe_violations(violations)
        ui.shot(page, f"axe_{mode}_{label.lower()}")
    assert not report, "axe critical/serious violations:\n" + "\n".join(f"== {k}\n{v}" for k, v in report.items())
