"""The Data page's validation report in the browser: a file with a typo in three disease values, a free-text
column and no prior-lines column; one click on Accept analyses the three rows. A file whose dates read both
ways asks for the order with nothing chosen and examples read both ways. Screenshots of both."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from il2lib import schema

from . import builders, ui


def test_typo_recode_is_one_click_and_free_text_is_flagged(page, tmp_path):
    frame = builders.read_sample(builders.PROCLAIM).drop(columns=[schema.PRIOR_LINES])
    frame.loc[[1, 4, 9], schema.DISEASE] = "Melanom"
    frame["Bemerkung"] = [f"Seen by Dr Müller at clinic {i % 7}, phoned {i} May" for i in range(len(frame))]
    path = builders.write_csv(frame, tmp_path / "registry_typos.csv")
    ui.choose_radio(page, "Data source", "My upload")
    ui.upload(page, path)
    assert ui.metric(page, "Rows loaded") == "57" and ui.metric(page, "Patients analysed") == "54"
    text = ui.main_text(page)
    assert "Disease: 'Melanom' → melanoma (3 rows)" in text
    assert "Free-text columns kept as extra columns: 'Bemerkung'" in text
    page.get_by_text(re.compile(r"^Not in your file")).click()
    ui.settle(page)
    assert "Prior systemic lines. Limits: line of IL-2 (grouping and filter)." in ui.main_text(page)
    ui.shot(page, "data_page_upload_with_problems")

    page.get_by_role("button", name="Accept").click()
    ui.wait_for_metric(page, "Patients analysed", "57")
    assert ui.metric(page, "Rows excluded") == "0"
    assert "'Melanom' read as 'melanoma'" in ui.main_text(page)
    ui.shot(page, "data_page_upload_recode_accepted")


def test_date_order_question_waits_for_an_answer(page, tmp_path):
    frame = builders.read_sample(builders.PROCLAIM).head(12)
    for column in (schema.DATE_IL2_START, schema.DATE_PROGRESSION, schema.DATE_DEATH, schema.DATE_LAST_FOLLOWUP):
        frame[column] = frame[column].map(day_first_within_12)
    path = builders.write_csv(frame, tmp_path / "dates_both_ways.csv")
    ui.choose_radio(page, "Data source", "My upload")
    ui.upload(page, path)
    assert ui.metric(page, "Patients analysed") == "0"
    radios = page.locator('[data-testid="stRadio"]').filter(has_text="the dates are")
    assert radios.count() >= 1
    assert radios.locator("input:checked").count() == 0, "a date order is chosen before the user answers"
    expect(page.get_by_role("button", name="Apply date order")).to_be_disabled()
    assert re.search(r"'\d\d/\d\d/\d{4}' is \d+ \w{3} \d{4} \(day first\) or \d+ \w{3} \d{4} \(month first\)",
                     ui.main_text(page))
    ui.shot(page, "data_page_date_order_question")
    for i in range(radios.count()):
        radios.nth(i).get_by_text("Day first").click()
        ui.settle(page)
    page.get_by_role("button", name="Apply date order").click()
    ui.settle(page)
    assert int(ui.metric(page, "Patients analysed")) > 0


def day_first_within_12(iso: str) -> str:
    """``2016-05-23`` -> ``11/05/2016``: DD/MM/YYYY with the day folded into 1-12, so every date reads both ways."""
    if not iso:
        return iso
    day = (int(iso[8:10]) - 1) % 12 + 1
    return f"{day:02d}/{iso[5:7]}/{iso[0:4]}"
