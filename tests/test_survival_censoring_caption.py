"""The Survival page's PFS censoring caption says how many of the patients shown were censored at day 0 for want of
a dated post-baseline tumour assessment (FDA 2018 PFS censoring table), counting only the patients the filter
keeps; OS has no such caption."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import patient_rows

from support.apptest import open_app, texts

NEVER_SCANNED = dict(bor="NE", progressed="No", date_progression="", date_last_followup="2018-12-01")


@pytest.fixture()
def server_file(tmp_path, monkeypatch):
    never = [dict(NEVER_SCANNED, sex="F") for _ in range(7)]
    scanned = [dict(sex=("M" if k % 2 else "F")) for k in range(13)]
    path = tmp_path / "cohort.csv"
    pd.DataFrame(patient_rows(*never, *scanned)).to_csv(path, index=False)
    monkeypatch.setenv("IL2_DASHBOARD_DATA", str(path))
    monkeypatch.setenv("IL2_LOGIN", "none")  # a server file without [auth] needs the explicit switch
    return path


def censoring(at) -> list[str]:
    notes = [p for c in texts(at, "caption") for p in c.split("\n\n")]  # the figure's notes: one caption, paragraphs
    return [p for p in notes if p.startswith("PFS and DoR end at progression or death")]


def test_pfs_caption_counts_the_shown_patients_censored_at_day_zero(server_file):
    caption, = censoring(open_app({"endpoint": "pfs"}, "pages/3_Survival.py"))
    assert caption.endswith(" Here 7 patient(s) without a dated post-baseline tumour assessment are censored at day 0.")
    caption, = censoring(open_app({"endpoint": "pfs", "sex": "M"}, "pages/3_Survival.py"))  # none of them shown
    assert "censored at day 0." not in caption.split("Two rows of the FDA table")[-1]


def test_overall_survival_has_no_censoring_caption(server_file):
    assert not censoring(open_app({"endpoint": "os"}, "pages/3_Survival.py"))
