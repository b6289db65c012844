"""Small-cell protection: tables, text cells, figure text and hover counts."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from il2lib.figures.km import km_figure
from il2lib.privacy.masking import mask_count, mask_figure, mask_table, mask_text, masking_caption
from il2lib.survival import kaplan_meier


@pytest.mark.parametrize("text, expected", [
    ("3/40", "<5/40"), ("12/40", "12/40"), ("40/3", "40/<5"), ("12 (3)", "12 (<5)"), ("4", "<5"), ("0", "0"),
    ("5", "5"), ("22.5% (10.8–38.5)", "22.5% (10.8–38.5)"), ("OS: n = 3 of 50 (2 without time)",
                                                             "OS: n = <5 of 50 (<5 without time)"),
    ("Median 12.5 (3.1–20)", "Median 12.5 (3.1–20)"), ("(95% CI 2 to 3)", "(95% CI 2 to 3)"),
    ("4 (13.3%)", "<5 (–)"), ("3 (2–4)", "3 (2–4)"), ("2.0 (1.0)", "2.0 (1.0)"), ("12 (40.0%)", "12 (40.0%)"), ("3/40 (7.5%)", "<5/40 (–)"), ("0 (0.0%)", "0 (0.0%)"),
    ("2 (3)", "<5 (<5)"), ("2 (events 3)", "2 (events 3)"), ("12 (3)", "12 (<5)"), ("2 (0)", "<5 (0)"),
])
def test_mask_text(text, expected):
    assert mask_text(text) == expected


def test_mask_count_and_threshold():
    assert [mask_count(n) for n in (0, 1, 4, 5, 17)] == [0, "<5", "<5", 5, 17]
    assert mask_count(9, threshold=10) == "<10"
    with pytest.raises(ValueError):
        mask_count(3, threshold=0)
    assert "<11" in masking_caption(11)


def test_mask_table_counts_text_and_dependent_rates():
    df = pd.DataFrame({"Group": ["A", "B", "C"], "Responders / n": ["3/40", "12/40", "0/9"],
                       "Rate, %": ["7.5", "30.0", "0.0"], "n NE": [2, 6, 0], "Median": [12.5, 3.0, 4.2],
                       "ok": [True, False, True]})
    out = mask_table(df, dependent=["Rate, %"])
    assert list(out["Responders / n"]) == ["<5/40", "12/40", "0/9"]
    assert list(out["n NE"]) == ["<5", "6", "0"]
    assert list(out["Rate, %"]) == ["masked", "30.0", "0.0"]
    assert list(out["Median"]) == [12.5, 3.0, 4.2]  # not whole numbers: not counts
    assert df["n NE"].tolist() == [2, 6, 0]  # input untouched


def test_row_labels_are_not_counts():
    # Table 1 level rows "1", "2" (ECOG) and line "3+" are labels: masking them would hide which row is which
    df = pd.DataFrame({"Characteristic": ["ECOG PS", "  1", "  2"], "Melanoma (N=40)": ["", "3 (7.5%)", "37"]})
    out = mask_table(df)
    assert list(out["Characteristic"]) == ["ECOG PS", "  1", "  2"]
    assert list(out["Melanoma (N=40)"]) == ["", "<5 (–)", "37"]


def test_mask_figure_risk_table_and_hover():
    km = kaplan_meier([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1] * 10, by=list("aaaaaaabbb"))
    fig = km_figure(dict(km.items()))
    masked = mask_figure(fig)
    texts = [t.text for t in masked.data if t.mode == "text"]
    assert texts and all(all(x == "0" or x == "<5" or int(x) >= 5 for x in t) for t in texts)
    assert any("<5" in t for t in texts)
    curve = next(t for t in masked.data if t.mode == "lines" and t.customdata is not None)
    assert "%{customdata[2]}" in curve.hovertemplate and ":.0f}" not in curve.hovertemplate.split("at risk")[1]
    at_risk = [row[2] for row in curve.customdata]
    assert "<5" in at_risk and all(v == "<5" or v == 0 or v >= 5 for v in at_risk)
    # S(t) and its CI stay numeric
    assert all(isinstance(row[0], float) for row in curve.customdata)
    json.loads(masked.to_json())  # still a valid figure
    assert "<5" not in fig.to_json()  # the original figure is untouched


def test_numbered_category_columns_are_labels_not_counts():
    # AEs by cycle: cycle 3 is a label; the counts beside it are masked
    table = pd.DataFrame({"Cycle": [1, 2, 3], "Patients": [10, 3, 2], "Any AE": [5, 1, 0]})
    masked = mask_table(table)
    assert masked["Cycle"].tolist() == [1, 2, 3]
    assert masked["Patients"].tolist() == ["10", "<5", "<5"] and masked["Any AE"].tolist() == ["5", "<5", "0"]
