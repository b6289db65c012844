"""Report page in a real browser: "Compare groups" defaults to prior PD-1/PD-L1 on the combined sample (both
levels present), and the built report's Response tables in the preview have group headers that name the variable,
the reference (no prior PD-1/PD-L1) first."""
from __future__ import annotations

from . import ui

PREVIEW = 'iframe[title="Preview of the meeting report"]'
REPORT = 'iframe[title="Meeting report"]'


def test_report_grouped_by_prior_pd1_shows_yes_and_no_in_the_response_table(open_at):
    page = open_at("/Report?data=combined")
    assert ui.combobox(page, "Compare groups").input_value() == "Prior PD-1/PD-L1"
    page.get_by_role("button", name="Build report").click()
    ui.settle(page)
    frame = page.frame_locator(PREVIEW).frame_locator(REPORT)
    headers = frame.locator("#response table").first.locator("thead th")

    def grouped() -> None:
        texts = [t.strip() for t in headers.all_inner_texts()]
        assert texts[1:] == ["Prior PD-1/PD-L1: no (n=50)", "Prior PD-1/PD-L1: yes (n=57)"], texts

    ui.eventually(grouped, timeout_s=60)
    facts = frame.locator("header.title-block dl.facts").inner_text()
    assert "Groups compared" in facts and "Prior PD-1/PD-L1" in facts, facts
    assert "rep_by" not in page.url, "the default grouping is left out of the URL"
    page.locator(PREVIEW).scroll_into_view_if_needed()
    ui.shot(page, "report_compare_groups")
