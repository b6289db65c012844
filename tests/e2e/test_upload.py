"""Uploads through the real file input: a European CSV (semicolons, decimal commas) and a file whose
IL-2 start column has an unknown name, fixed in the mapping editor. The oracle is the CLI on the same file."""
from __future__ import annotations

from il2lib import schema

from . import builders, ui
from .conftest import run_summary
from .test_sample_numbers import assert_response_page_matches


def start_upload(page, path) -> None:
    """Data page: choose "My upload", then send ``path`` through the patient-file input."""
    ui.choose_radio(page, "Data source", "My upload")
    ui.upload(page, path)


def assert_counts(page, summary: dict) -> None:
    assert ui.metric(page, "Rows loaded") == str(summary["n_loaded"])
    assert ui.metric(page, "Patients analysed") == str(summary["n_analysed"])
    assert ui.metric(page, "Rows excluded") == str(summary["n_excluded"])


def test_upload_european_csv_semicolons_and_decimal_commas(page, tmp_path, summary_of):
    path = builders.european_csv(builders.PROCLAIM, tmp_path / "proclaim_european.csv")
    expected = summary_of(path)
    assert expected["n_analysed"] == 57 and expected["n_excluded"] == 0
    start_upload(page, path)
    ui.assert_clean(page)
    assert_counts(page, expected)
    assert ui.sidebar_counts(page) == (57, 57)
    assert "proclaim_european.csv" in ui.page_text(page)
    ui.shot(page, "upload_european_csv_data")
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, expected)
    ui.shot(page, "upload_european_csv_response")


def test_wrong_column_name_fixed_in_mapping_editor(page, tmp_path, summary_of):
    path = builders.renamed_start_column(builders.PROCLAIM, tmp_path / "renamed_start.csv")
    blocked = run_summary(path)
    assert blocked.returncode == 2, blocked.stderr
    cli_message = blocked.stderr.strip().removeprefix("error: ")
    assert f"Missing required column '{schema.DATE_IL2_START}'" in cli_message
    start_upload(page, path)
    assert ui.metric(page, "Patients analysed") == "0"
    assert ui.metric(page, "Rows excluded") == ui.metric(page, "Rows loaded") == "57"
    assert cli_message in ui.visible_text(page), "the page does not show the CLI's file-level error"
    ui.shot(page, "upload_wrong_column_before_mapping")

    editor = ui.find_grid(page, "Maps to")
    row = ui.grid_row_index(page, editor, "File column", builders.UNKNOWN_START_HEADER)
    ui.edit_grid_select(page, editor, row, "Maps to", schema.DATE_IL2_START)
    page.get_by_role("button", name="Apply mapping").click()

    fixed = summary_of(path, "--map", f"{builders.UNKNOWN_START_HEADER}={schema.DATE_IL2_START}")
    assert fixed["n_analysed"] == 57
    ui.wait_for_metric(page, "Patients analysed", "57")
    assert_counts(page, fixed)
    assert ui.sidebar_counts(page) == (57, 57)
    ui.shot(page, "upload_wrong_column_after_mapping")
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, fixed)


def test_mapping_applied_twice_keeps_every_column_where_the_user_put_it(page, tmp_path, summary_of):
    """Apply, then Apply again as a careful user re-checking does: each file column keeps its target (the
    editor must not carry edits over to the rows that took their places) and the numbers stay the CLI's."""
    renames = {schema.DATE_IL2_START: "IL2 Beginn", schema.BOR: "Best resp"}
    path = builders.renamed_columns(builders.PROCLAIM, tmp_path / "renamed_two.csv", renames)
    start_upload(page, path)
    assert ui.metric(page, "Patients analysed") == "0"
    editor = ui.find_grid(page, "Maps to")
    for target, header in renames.items():
        row = ui.grid_row_index(page, editor, "File column", header)
        ui.edit_grid_select(page, editor, row, "Maps to", target)
    expected = summary_of(path, *[arg for target, header in renames.items() for arg in ("--map", f"{header}={target}")])
    assert expected["n_analysed"] == 57

    for attempt in ("first", "second"):
        page.get_by_role("button", name="Apply mapping").click()
        ui.wait_for_metric(page, "Patients analysed", "57")
        assert_counts(page, expected)
    ui.shot(page, "upload_mapping_applied_twice")
    ui.go_to_page(page, "Survival")  # death and follow-up dates still mapped: overall survival is estimated
    assert "cannot be estimated" not in ui.main_text(page)
    assert ui.km_curves(page), "no Kaplan-Meier curve on the Survival page"
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, expected)
