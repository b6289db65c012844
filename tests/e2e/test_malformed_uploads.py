"""Malformed uploads (binary, empty, missing required column, impossible dates) show a clear error or the
validation report, and never a traceback or an exception box."""
from __future__ import annotations

import pytest

from il2lib import schema

from . import builders, ui
from .conftest import run_summary
from .test_upload import start_upload


@pytest.mark.parametrize(
    ("kind", "build", "message_part"),
    [
        ("binary", lambda d: builders.binary_file(d / "scan.csv"), "is a binary file"),
        ("empty", lambda d: builders.empty_file(d / "empty.csv"), "is empty"),
    ],
)
def test_unreadable_file_shows_one_clear_error(page, tmp_path, kind, build, message_part):
    path = build(tmp_path)
    cli = run_summary(path)
    assert cli.returncode == 2 and message_part in cli.stderr
    message = cli.stderr.strip().removeprefix("error: ")
    start_upload(page, path)
    ui.assert_clean(page)
    errors = page.locator(f"{ui.MAIN} {ui.ERROR_ALERT}")
    assert errors.count() >= 1, f"no error box for the {kind} file"
    assert message in errors.first.inner_text()
    assert "Patients analysed" not in ui.main_text(page)
    ui.shot(page, f"malformed_{kind}")
    for name in ("Response", "Survival"):
        ui.go_to_page(page, name)
        assert "No analysable data is loaded" in ui.main_text(page)
    ui.shot(page, f"malformed_{kind}_survival_page")


def test_missing_required_column_shows_validation_report(page, tmp_path):
    path = builders.missing_required_column(builders.PROCLAIM, tmp_path / "no_bor.csv", schema.BOR)
    cli = run_summary(path)
    assert cli.returncode == 2
    message = cli.stderr.strip().removeprefix("error: ")
    assert f"Missing required column '{schema.BOR}'" in message
    start_upload(page, path)
    ui.assert_clean(page)
    assert ui.metric(page, "Patients analysed") == "0"
    assert message in ui.visible_text(page)
    assert page.get_by_role("button", name="Apply mapping").is_visible(), "mapping editor not offered"
    ui.shot(page, "malformed_missing_column")


def test_bad_dates_exclude_only_those_rows_with_reasons(page, tmp_path, summary_of):
    path, bad_ids = builders.bad_dates(builders.PROCLAIM, tmp_path / "bad_dates.csv")
    expected = summary_of(path)
    assert (expected["n_loaded"], expected["n_excluded"]) == (57, len(bad_ids))
    start_upload(page, path)
    ui.assert_clean(page)
    assert ui.metric(page, "Rows excluded") == str(len(bad_ids))
    assert ui.metric(page, "Patients analysed") == str(expected["n_analysed"])
    assert ui.sidebar_counts(page) == (expected["n_analysed"], expected["n_analysed"])
    heading = f"{schema.label(schema.DATE_IL2_START)} ({schema.DATE_IL2_START}): {len(bad_ids)} rows left out"
    ui.open_expander(page, heading)
    report = ui.visible_text(page)
    assert "'2019-02-30' is not a valid date" in report
    assert "'31/31/2016' is not a valid date" in report
    assert page.get_by_role("button", name="Download excluded rows with reasons (CSV)").is_visible()
    ui.shot(page, "malformed_bad_dates")
