"""Every page of the navigation renders on each bundled sample with no exception box and no traceback."""
from __future__ import annotations

import re

import pytest

from . import ui

SAMPLES = {"combined": re.compile(r"^Combined sample"), "proclaim": re.compile(r"^PROCLAIM"),
           "community": re.compile(r"^Community")}


def nav_labels(page) -> list[str]:
    links = page.locator(ui.SIDEBAR).locator(ui.PAGE_LINK)
    return [t.strip() for t in links.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()]


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_every_page_renders_on_each_sample(page, sample):
    if sample != "combined":
        ui.choose_radio(page, "Data source", SAMPLES[sample])
    labels = nav_labels(page)
    assert labels[:6] == ["Data", "Cohort", "Response", "Survival", "Biomarkers", "Toxicity"], labels
    failures = []
    for label in labels[1:]:
        try:
            ui.go_to_page(page, label)
        except AssertionError as exc:
            failures.append(f"{label}: {str(exc)[:300]}")
            ui.shot(page, f"smoke_{sample}_{label.lower()}_FAILED")
    assert not failures, "pages with an exception or traceback:\n" + "\n".join(failures)
