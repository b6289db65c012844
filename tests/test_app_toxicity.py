"""Toxicity page: the AE figure's "Grade >= 3 only", "Sort by" and "Terms shown" controls, kept in the URL, and the
per-term grade >= 3 comparison table under the other tables."""
from __future__ import annotations

import html

import pytest

from il2lib import schema
from il2lib.analyses.toxicity import compare_grade3, toxicity_summary
from support.apptest import frame_equal, open_app, rerun, sample_data, tables, texts, widget
from support.rendered_text import plotly_spec

TOXICITY = "pages/5_Toxicity.py"


def sample_summary(by=schema.PRIOR_PD1):
    from app_ui.data import SAMPLE_DIR, SAMPLES
    from il2lib.validation.adverse_events import load_adverse_events
    from il2lib.validation.patients import load_cohort

    sample = SAMPLES["combined"]
    cohort = load_cohort(SAMPLE_DIR / sample.patients_file)
    ae = load_adverse_events(SAMPLE_DIR / sample.ae_file, cohort)
    return toxicity_summary(ae.data, sample_data(), by)


def ae_figure(at) -> dict:
    (spec,) = [plotly_spec(node) for node in at.get("plotly_chart") if node.proto.id.endswith("ae_grades")]
    return spec


def figure_terms(spec) -> list[str]:
    return [html.unescape(t) for t in spec["data"][0]["y"]]


@pytest.fixture(scope="module")
def tox():
    return sample_summary()


def test_defaults_show_every_term_and_the_comparison_table(tox):
    at = open_app(page=TOXICITY)
    assert widget(at, "toggle", "w_tox_g3").value is False
    assert widget(at, "radio", "w_tox_sort").value == "any"
    assert widget(at, "number_input", "w_tox_terms").value == 21  # 21 terms <= 25: all of them
    assert figure_terms(ae_figure(at)) == tox.terms()
    assert "The figure shows all 21 AE terms." in texts(at, "caption")
    shown = tables(at)
    frame_equal(shown[1], tox.display())  # the tables before stay where they were
    frame_equal(shown[3], compare_grade3(tox).display())
    assert "Grade >= 3 adverse events by group" in [h.value for h in at.subheader]
    assert {"dl_csv_grade3_by_group", "dl_xlsx_grade3_by_group"} <= {b.key for b in at.get("download_button")}
    assert not {"tox_g3", "tox_sort", "tox_terms"} & set(at.query_params)


def test_controls_change_the_figure_and_go_into_the_url(tox):
    at = open_app(page=TOXICITY)
    widget(at, "toggle", "w_tox_g3").set_value(True)
    at = rerun(at)
    # grades 3-5 only: sorted by them, no "Sort by" choice left
    assert "w_tox_sort" not in {r.key for r in at.radio}
    assert "Sorted by patients at grade >= 3." in texts(at, "caption")
    widget(at, "number_input", "w_tox_terms").set_value(5)
    at = rerun(at)
    spec = ae_figure(at)
    assert figure_terms(spec) == tox.terms("grade3", grade3_only=True)[:5]
    assert [t["name"] for t in spec["data"]] == ["Grade 3", "Grade 4", "Grade 5"] * 2
    title = html.unescape(spec["layout"]["title"]["text"])
    assert title.startswith("<b>Grade >= 3 adverse events by worst grade</b>")
    assert "top 5 of 16 terms with a grade >= 3 AE, by grade >= 3" in title
    assert ("The figure shows the 5 most frequent (grade >= 3) of the 16 AE terms with a grade >= 3 AE; set "
            '"Terms shown" to see more.') in texts(at, "caption")
    url = {k: at.query_params[k] for k in ("tox_g3", "tox_terms")}
    assert url == {"tox_g3": "1", "tox_terms": "5"} and "tox_sort" not in at.query_params

    # the link reproduces the view in a new session
    again = open_app(url, TOXICITY)
    assert figure_terms(ae_figure(again)) == figure_terms(spec)
    assert widget(again, "number_input", "w_tox_terms").value == 5


def test_terms_shown_at_its_default_leaves_the_url_and_follows_the_data():
    at = open_app({"tox_terms": "7"}, TOXICITY)
    assert len(figure_terms(ae_figure(at))) == 7
    widget(at, "number_input", "w_tox_terms").set_value(21)  # the default: all 21
    at = rerun(at)
    assert "tox_terms" not in at.query_params
    widget(at, "toggle", "w_tox_g3").set_value(True)  # 16 terms with a grade >= 3 AE: all of them
    at = rerun(at)
    assert widget(at, "number_input", "w_tox_terms").value == 16
    assert len(figure_terms(ae_figure(at))) == 16


def test_more_groups_get_a_p_value_only_and_no_grouping_no_table():
    at = open_app({"tox_by": schema.LINE_OF_IL2}, TOXICITY)
    frame_equal(tables(at)[3], compare_grade3(sample_summary(schema.LINE_OF_IL2)).display())
    at = open_app({"tox_by": "None"}, TOXICITY)
    assert any("Choose a grouping" in i for i in texts(at, "info"))


def test_small_cell_protection_covers_the_grade3_view():
    from support.disclosure_scan import small_count_findings

    at = open_app({"mask": "1", "mask_k": "5", "disease": "rcc", "tox_g3": "1", "tox_sort": "grade3",
                   "tox_terms": "8"}, TOXICITY)
    assert small_count_findings(at) == []
    comparison = tables(at)[3]
    assert comparison.iloc[:, 1:3].apply(lambda c: c.str.startswith("<5")).any().any()
    assert "–" in set(comparison.iloc[:, -1])
    assert any("no difference, CI or p-value where a count of the row is hidden" in c for c in texts(at, "caption"))
    assert len(figure_terms(ae_figure(at))) == 8
