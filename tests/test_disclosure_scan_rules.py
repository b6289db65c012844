"""The rules that find a visible small count (tests/support/disclosure_scan.py): counts at count positions are
flagged, category labels and estimates are not."""
from __future__ import annotations

import pandas as pd
import pytest

from support.disclosure_scan import (bar_count_lengths, figure_small_counts, figure_strings, fill_template,
                                     metric_is_small_count, small_counts, table_small_counts)


@pytest.mark.parametrize("text, flagged", [
    ("Community (N=2)", ["N=2"]),
    ("Melanoma (n = 3)", ["n = 3"]),
    ("Melanoma (n=<5)", []),
    ("(0/2)", ["0/2"]),  # the 2 is a group size
    ("Prior PD-1/PD-L1: No (0/2)", ["0/2"]),
    ("ORR 4/17", ["4/17"]),
    ("2 (<5)", ["2 (<5)"]),  # "n (events)" with only the events masked
    ("12 (3)", ["12 (3)"]),
    ("n = 3 of 40", ["n = 3 of 40"]),
    ("Table 1: n = 37 of 37 filtered patients (2 without ECOG PS)", ["2 without"]),
    ("3 (7.5%)", ["3 (7.5%)"]),
    ("<5 (13.3%)", ["<5 (13.3%)"]),  # the percentage gives the masked count back
    ("Fever: 2 patient(s)", ["2 patient(s)"]),
    ("not reported: a group has fewer than 5 events (1)", ["events (1)"]),
    ("t = 3.0 months | at risk: 3", ["at risk: 3"]),
    ("Response criteria: RECIST1.1 19, irRC 1.", ["irRC 1"]),
])
def test_a_small_count_at_a_count_position_is_flagged(text, flagged):
    assert small_counts(text) == flagged


@pytest.mark.parametrize("text", [
    "ECOG PS 1", "Line 2", "Grade 3", "G3", "2nd line", "Line of IL-2: 3+ (6/20)", "12.5 months", "p = 0.03",
    "95% CI 1.2–3.4", "<5", "<5/40", "<5 (<5)", "<5 (–)", "0", "0 (0.0%)", "0/18 (0%)", "12 (40.0%)",
    "Survival at 1 / 2 / 3 years", "counts from 1 to 4 are shown as \"<5\"", "a group needs at least 3 patients",
    "1 x10^3/uL", "1 dose", "HR 1.2 (0.5–3)", "Response criteria: RECIST1.1 12, irRC 5.", "at risk: <5",
    "Landmark: 6 months, cycle 2", "PRO-024 (3)",
])
def test_labels_estimates_and_masked_counts_are_not_flagged(text):
    assert small_counts(text) == []


def test_the_threshold_sets_what_is_small():
    assert small_counts("n = 7", threshold=10) == ["n = 7"]
    assert small_counts("n = 7", threshold=5) == []


@pytest.mark.parametrize("label, value, flagged", [
    ("Responses ongoing", "3", True),
    ("Community (synthetic)", "2", True),
    ("Responders (CR/PR)", "6", False),
    ("Rows excluded", "0", False),
    ("Median DoR", "3.5 mo", False),
    ("Median age", "3", False),
    ("Log-rank test", "p = 0.03", False),
])
def test_a_metric_showing_a_small_whole_number_is_flagged(label, value, flagged):
    assert metric_is_small_count(label, value) is flagged


def test_a_table_flags_small_counts_in_count_columns_headers_and_text_cells():
    df = pd.DataFrame({"Group": ["A", "B"], "Patients": [3, 12], "Year": [2, 2019], "Line": [1, 2],
                       "ECOG PS": [1, 0], "n (events)": ["12 (4)", "<5 (<5)"], "B (N=2)": ["x", "y"]})
    found = table_small_counts(df)
    assert ("header 'B (N=2)'", "N=2") in found
    assert ("row 'A', column 'Patients'", "3") in found
    assert ("row 'A', column 'n (events)'", "12 (4)") in found
    assert not [f for f in found if "Year" in f[0] or "Line" in f[0] or "ECOG" in f[0]]
    assert len(found) == 3


def test_a_masked_count_column_shown_as_text_is_still_a_count_column():
    df = pd.DataFrame({"Outcome": ["ORR", "DCR"], "n NE": ["<5", "3"]})
    assert table_small_counts(df) == [("row 'DCR', column 'n NE'", "3")]


def test_the_rows_of_a_published_series_are_not_scanned_and_the_cohort_s_own_rows_are():
    from il2lib.analyses.published import CITATIONS

    series = CITATIONS["buchbinder2019"].series
    df = pd.DataFrame({"Source": ["Our cohort", series], "Disease": ["RCC", "RCC"],
                       "Responders / n": ["3/11", "4/17"], "Responders": [3, 4]})
    assert table_small_counts(df) == [("row 'Our cohort', column 'Responders / n'", "3/11"),
                                      ("row 'Our cohort', column 'Responders'", "3")]


def test_a_published_reference_holds_no_count():
    from il2lib.analyses.published import CITATIONS

    assert small_counts(f"Published: {CITATIONS['buchbinder2019'].full} Ours: 3 patients") == ["3 patients"]


def test_a_patient_listing_has_no_count_columns():
    df = pd.DataFrame({"patient_id": ["P1", "P2"], "n_met_sites": [3, 1]})
    assert table_small_counts(df) == []


def test_the_first_column_of_row_labels_is_not_a_count():
    df = pd.DataFrame({"Characteristic": ["ECOG PS", "    1"], "Overall (N=37)": ["", "10 (27%)"]})
    assert table_small_counts(df) == []


def _bar(**kw):
    return {"type": "bar", "orientation": "h", "y": ["A (n=12)", "B (n=20)"], **kw}


def test_a_bar_length_shown_as_a_count_is_flagged():
    shown = _bar(x=[3, 12], hovertemplate="%{y}: %{x} patients<extra></extra>")
    assert bar_count_lengths(shown) == [3, 12]
    assert ("data.0 bar '' at 'A (n=12)'", "length 3") in figure_small_counts({"data": [shown], "layout": {}})


@pytest.mark.parametrize("trace", [
    _bar(x=[3, 12], hovertemplate="%{y}: %{x:.1f}%"),  # a percentage
    _bar(x=[3, 12], hovertemplate="%{y}: %{x}%"),
    _bar(x=[3.5, 12.0], hovertemplate="%{x}"),  # not whole
    _bar(x=[3, 12]),  # length not shown
    {"type": "scatter", "x": [3, 12], "y": [1, 2], "hovertemplate": "%{x}"},
])
def test_a_bar_length_not_shown_as_a_count_is_not_flagged(trace):
    assert bar_count_lengths(trace) == []


def test_figure_labels_titles_annotations_and_filled_hover_text_are_scanned():
    spec = {"data": [{"type": "bar", "name": "CR", "y": ["Community (n=2)"], "x": [50.0],
                      "customdata": [[1, "50.0%"]], "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>x"}],
            "layout": {"title": {"text": "BOR", "subtitle": {"text": "n = 3 of 40"}},
                       "annotations": [{"text": "Source: B (N=4)"}], "xaxis": {"ticktext": ["1/3"]}}}
    found = dict(figure_small_counts(spec))
    assert found["data.0.y.0"] == "n=2"
    assert found["layout.title.subtitle.text"] == "n = 3 of 40"
    assert found["layout.annotations.0.text"] == "N=4"
    assert found["layout.xaxis.ticktext.0"] == "1/3"
    assert found["data.0.hovertemplate[0]"] == "1 (50.0%)"


def test_a_hover_template_is_filled_per_point():
    trace = {"x": [1.0, 2.0], "y": ["a", "b"], "name": "G", "customdata": [[3, "x"], [7, "y"]]}
    assert fill_template("%{fullData.name}: %{customdata[0]} at %{x:.1f}<extra></extra>", trace, 1) == "G: 7 at 2.0"


def test_typed_arrays_and_template_internals_are_not_shown_strings():
    spec = {"data": [{"type": "scatter", "uid": "n=2", "hovertemplate": "n=%{customdata}", "customdata": [9]}],
            "layout": {"template": {"layout": {"title": {"text": "n=1"}}}}}
    assert figure_small_counts(spec) == []
    assert ("data.0.hovertemplate[0]", "n=9") in figure_strings(spec)


def test_an_html_document_is_read_as_text_tables_figures_and_nested_frames():
    from html import escape

    from support.disclosure_scan import html_small_counts

    inner = ('<h2>Response</h2><p>ORR: n = 3 of 40</p>'
             '<table><tr><th>Group</th><th>Community (N=2)</th><th>Patients</th></tr>'
             '<tr><td>ECOG PS 1</td><td>12 (40%)</td><td>4</td></tr></table>'
             '<script>Plotly.newPlot("f1", [{"type": "bar", "y": ["B (n=1)"], "x": [1]}], {"title": {"text": "t"}})'
             '</script><script>var hidden = "n=2";</script>')
    page = f'<html><body><iframe sandbox="allow-scripts" srcdoc="{escape(inner, quote=True)}"></iframe></body></html>'
    found = html_small_counts(page)
    assert ("frame 0 text", "n = 3 of 40") in found
    assert ("frame 0 table 0 header 'Community (N=2)'", "N=2") in found
    assert ("frame 0 table 0 row 'ECOG PS 1', column 'Patients'", "4") in found
    assert ("frame 0 figure 0 data.0.y.0", "n=1") in found
    assert len(found) == 4  # script text is not shown; the row label "ECOG PS 1" is not a count
