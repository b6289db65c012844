"""A 200,000-patient upload names its steps while it is read and validated (no stale "No file uploaded yet"),
and the Data page counts it with thousands separators."""
from __future__ import annotations

import time

import pandas as pd

from bench.datasets import make_dataset

from . import ui

N = 200_000


def test_large_upload_shows_the_step_it_is_on(page, tmp_path):
    path = tmp_path / "big.csv"
    pd.read_parquet(make_dataset(N)).to_csv(path, index=False)
    size_mb = f"{path.stat().st_size / 1_000_000:,.0f} MB"
    ui.choose_radio(page, "Data source", "My upload")
    page.locator(ui.UPLOAD_INPUT).first.set_input_files(str(path))
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = ui.main_text(page)
        seen.append(text)
        if "Rows loaded" in text and "Reading big.csv" not in text and "Validating" not in text:
            break
        page.wait_for_timeout(100)
    ui.settle(page)
    steps = "\n".join(seen)
    assert f"Reading big.csv ({size_mb})…" in steps, "no reading step shown"
    assert f"Validating {N:,} rows…" in steps, "no validation step shown"
    assert not any("No file uploaded yet" in t and ("Reading" in t or "Validating" in t) for t in seen)
    assert ui.metric(page, "Rows loaded") == f"{N:,}"
    assert ui.metric(page, "Patients analysed") == f"{N:,}"
    ui.shot(page, "data_page_upload_200000")
