"""What a clinician sees of the clinical conventions on a messy upload, in real Chromium: the combined sample
with two unconfirmed melanoma responses, five PROCLAIM patients without max_ctcae_grade and only the
community AE file (the other 52 PROCLAIM patients are known from max_ctcae_grade alone). Screenshots: tests/artifacts/clinical_*.png.
"""
from __future__ import annotations

import re

from il2lib import schema

from . import builders, ui
from .test_upload import start_upload

COMMUNITY_AE = builders.SAMPLE_DIR / "community_synthetic_adverse_events.csv"


def test_messy_upload_shows_the_response_toxicity_and_pfs_conventions(page, tmp_path):
    frame = builders.read_sample(builders.COMBINED)
    responders = frame.index[(frame[schema.SOURCE].str.startswith("PROCLAIM")) & frame[schema.BOR].isin(["PR"])
                             & (frame[schema.DISEASE] == schema.MELANOMA)][:2]
    frame.loc[responders, schema.RESPONSE_CONFIRMED] = "No"
    proclaim = frame.index[frame[schema.SOURCE].str.startswith("PROCLAIM")]
    frame.loc[proclaim[-5:], schema.MAX_CTCAE] = ""
    path = builders.write_csv(frame, tmp_path / "combined_unconfirmed.csv")
    start_upload(page, path)
    ui.upload(page, COMMUNITY_AE, index=1)
    ui.assert_clean(page)

    ui.go_to_page(page, "Response")
    text = ui.visible_text(page)
    assert "confirmed only" in text and "incl. unconfirmed" in text
    assert re.search(r"2 CR/PR not confirmed", text), "the re-classification note is missing"
    ui.shot(page, "clinical_response_confirmed_view")

    ui.go_to_page(page, "Toxicity")
    text = ui.visible_text(page)
    assert "Toxicity unknown for 5 of 107 patient(s)" in text
    assert "52 patient(s) without AE rows are known from max_ctcae_grade only" in text
    ui.shot(page, "clinical_toxicity_unknown_coverage")

    ui.go_to_page(page, "Survival")
    ui.choose_select(page, "Endpoint", re.compile("Progression-free", re.I))
    text = ui.visible_text(page)
    assert "new anticancer therapy" in text and "reverse Kaplan-Meier on overall survival" in text
    ui.shot(page, "clinical_survival_pfs_censoring")
