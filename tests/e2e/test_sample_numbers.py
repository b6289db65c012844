"""The app opens on the combined sample, and the Data and Response pages show what
``python -m il2lib summary FILE --format json`` computes for the same file."""
from __future__ import annotations

import re

import pytest

from il2lib import schema

from . import builders, ui

BOR_CODE = re.compile(r"\((CR|PR|SD|PD|NE)\)\s*$")


def _leading_int(cell: str) -> int:
    match = re.match(r"\s*(\d+)", cell)
    assert match, f"no count in {cell!r}"
    return int(match.group(1))


def _bor_by_group(page) -> dict[str, dict[str, int]]:
    """Best-response counts per group column of the Response page's table: {"Melanoma (n=70)": {"CR": 6, ...}}."""
    rows = ui.grid_rows(ui.find_grid(page, "Best overall response"))
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        code = BOR_CODE.search(row["Best overall response"])
        if not code:  # the "Objective response (CR+PR)" summary row
            continue
        for column, cell in row.items():
            if column != "Best overall response":
                table.setdefault(column, {})[code.group(1)] = _leading_int(cell)
    return table


def _orr_rows(page) -> dict[str, dict[str, str]]:
    rows = ui.grid_rows(ui.find_grid(page, "Responders / n"))
    return {r["Group"]: r for r in rows if r["Outcome"].startswith("ORR")}


def assert_response_page_matches(page, summary: dict) -> None:
    """Best-response counts, ORR numerator/denominator, rate and exact CI per disease equal the CLI's."""
    bor = _bor_by_group(page)
    orr = _orr_rows(page)
    for disease, expected in summary["groups"].items():
        label = schema.DISEASE_LABELS[disease]
        column = f"{label} (n={expected['n']})"
        assert column in bor, f"no column {column!r} in the best-response table: {list(bor)}"
        assert bor[column] == expected["best_response"], f"{label}: page {bor[column]} vs CLI {expected['best_response']}"
        shown = orr[label]
        e_orr = expected["orr"]
        assert shown["Responders / n"] == f"{e_orr['responders']}/{e_orr['n']}"
        assert shown["Rate, %"] == f"{100 * e_orr['rate']:.1f}"
        lo, hi = e_orr["ci95"]
        ci_column = next(c for c in shown if c.startswith("95% CI"))
        assert shown[ci_column] == f"{100 * lo:.1f}–{100 * hi:.1f}", f"{label} CI {shown[ci_column]} vs CLI {lo}, {hi}"


def test_data_page_opens_on_combined_sample_with_cli_counts(page, summary_of):
    expected = summary_of(builders.COMBINED)
    assert expected["n_loaded"] == 107
    ui.settle(page)
    assert ui.metric(page, "Rows loaded") == str(expected["n_loaded"])
    assert ui.metric(page, "Patients analysed") == str(expected["n_analysed"])
    assert ui.metric(page, "Rows excluded") == str(expected["n_excluded"])
    assert ui.sidebar_counts(page) == (expected["n_analysed"], expected["n_analysed"])
    assert schema.SYNTHETIC_NOTE in ui.main_text(page)
    ui.shot(page, "data_default_combined")


def test_response_page_matches_cli_on_combined_sample(page, summary_of):
    expected = summary_of(builders.COMBINED)
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, expected)
    ui.shot(page, "response_default_combined")


def test_proclaim_sample_shows_published_response_numbers(page, summary_of):
    expected = summary_of(builders.PROCLAIM)
    melanoma, rcc = expected["groups"][schema.MELANOMA], expected["groups"][schema.RCC]
    assert (melanoma["n"], melanoma["best_response"]["CR"], melanoma["best_response"]["PR"]) == (40, 4, 5)
    assert (rcc["n"], rcc["best_response"]["CR"], rcc["best_response"]["PR"]) == (17, 2, 2)
    ui.choose_radio(page, "Data source", re.compile(r"^PROCLAIM"))
    assert ui.metric(page, "Patients analysed") == "57"
    ui.go_to_page(page, "Response")
    assert_response_page_matches(page, expected)
    assert _orr_rows(page)["Melanoma"]["Rate, %"] == "22.5"
    ui.shot(page, "response_proclaim_sample")
