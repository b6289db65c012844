"""Median follow-up is reverse Kaplan-Meier on overall survival whatever endpoint the page shows
(Schemper & Smith 1996: follow-up ends at death as a censoring or at last contact)."""
from __future__ import annotations

import pytest

from il2lib import schema
from il2lib.survival import median_followup
from il2lib.validation.patients import load_cohort
from support.apptest import SAMPLE, open_app, texts


@pytest.mark.parametrize("endpoint", ["os", "pfs", "dor"])
def test_survival_page_follow_up_is_reverse_km_on_os(endpoint):
    data = load_cohort(SAMPLE).data
    expected = median_followup(data[schema.OS_MONTHS].astype(float), data[schema.OS_EVENT].astype(float))
    at = open_app({"endpoint": endpoint}, "pages/3_Survival.py")
    notes = [p for c in texts(at, "caption") for p in c.split("\n\n")]  # the figure's notes: one caption, paragraphs
    line = next(p for p in notes if p.startswith("Median follow-up"))
    assert "reverse Kaplan-Meier on overall survival" in line
    assert f": {expected.median:.1f} months" in line, line  # 48.0 on the combined sample, also on PFS/DoR
