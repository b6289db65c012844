"""Response page: the ORR and CBR by group figure of the chosen grouping (after the response-rates table) and the
forest plot's "Groupings shown", kept in the URL."""
from __future__ import annotations

import html

import numpy as np
import pytest

from app_ui.figures import FOREST_GROUPINGS, FOREST_SHOWN_KEY
from il2lib import schema
from il2lib.analyses.response import response_rates
from support.apptest import open_app, rerun, sample_data, widget
from support.disclosure_scan import figure_small_counts
from support.rendered_text import plotly_spec

RESPONSE = "pages/2_Response.py"


def charts(at) -> dict:
    """Each plotly chart's figure, by its key."""
    return {node.proto.id.rsplit("-", 1)[-1]: plotly_spec(node) for node in at.get("plotly_chart")}


def forest_groupings(at) -> list[str]:
    """The groupings the forest plot draws (one trace each, named after the grouping)."""
    names = [t["name"] for t in charts(at)["orr_forest"]["data"]]
    return [g for g in FOREST_GROUPINGS if any(n.startswith(schema.label(g) + " (") for n in names)]


@pytest.fixture(scope="module")
def by_prior():
    return open_app({"resp_by": schema.PRIOR_PD1}, RESPONSE)


def test_rates_figure_by_prior_pd1_draws_the_tables_numbers(by_prior):
    spec = charts(by_prior)["orr_cbr_by_prior_pd1_pdl1"]
    rates = response_rates(sample_data(), schema.PRIOR_PD1)
    marker = {t["meta"]: t for t in spec["data"] if t["mode"] == "markers"}
    assert list(marker) == ["orr", "cbr"]
    for outcome, trace in marker.items():
        rows = rates.rates[rates.rates["outcome"] == outcome]
        assert np.allclose(trace["x"], 100 * rows["rate"])
        assert np.allclose(np.add(trace["x"], trace["error_x"]["array"]), 100 * rows["ci_upper"])
    assert spec["layout"]["yaxis"]["ticktext"] == ["Prior PD-1/PD-L1: no (n=50)", "Prior PD-1/PD-L1: yes (n=57)"]
    assert spec["layout"]["xaxis"]["range"] == [0, 50]
    note = html.unescape(spec["layout"]["annotations"][-1]["text"])
    assert "ORR p = 0.47" in note and "CBR p > 0.99" in note
    assert spec["layout"]["title"]["text"].startswith("<b>ORR and CBR by prior PD-1/PD-L1</b>")
    # right after the response-rates table, before the between-group comparison table
    elements = list(by_prior.main)
    start = next(i for i, e in enumerate(elements) if e.type == "subheader" and e.value == "Response rates")
    after = [e.type for e in elements[start:]]
    rates_table = after.index("table")
    assert rates_table < after.index("plotly_chart") < after.index("table", rates_table + 1)
    assert any(e.label == "Show code: ORR and CBR by group" for e in by_prior.expander)


def test_reference_group_leads_the_rates_figure_and_keeps_the_numbers(by_prior):
    flipped = open_app({"resp_by": schema.PRIOR_PD1, "resp_ref": "yes"}, RESPONSE)
    before, after = charts(by_prior)["orr_cbr_by_prior_pd1_pdl1"], charts(flipped)["orr_cbr_by_prior_pd1_pdl1"]
    assert after["layout"]["yaxis"]["ticktext"] == list(reversed(before["layout"]["yaxis"]["ticktext"]))
    orr = [next(t for t in spec["data"] if t.get("meta") == "orr") for spec in (before, after)]
    assert np.allclose(orr[1]["x"], list(reversed(orr[0]["x"])))
    assert before["layout"]["annotations"][-1]["text"] == after["layout"]["annotations"][-1]["text"]


def test_no_grouping_no_rates_figure():
    at = open_app({"resp_by": "None"}, RESPONSE)
    assert not [k for k in charts(at) if k.startswith("orr_cbr_by_")]
    assert "orr_forest" in charts(at)


def test_forest_shows_every_grouping_by_default_and_the_chosen_ones_in_the_url():
    at = open_app({"resp_by": schema.DISEASE}, RESPONSE)
    available = [g for g in FOREST_GROUPINGS if g in sample_data().columns]
    chooser = widget(at, "multiselect", "w_" + FOREST_SHOWN_KEY)
    assert chooser.label == "Groupings shown" and chooser.value == available
    assert forest_groupings(at) == available and FOREST_SHOWN_KEY not in at.query_params

    chooser.set_value([schema.PRIOR_PD1, schema.DISEASE])
    at = rerun(at)
    assert forest_groupings(at) == [schema.DISEASE, schema.PRIOR_PD1]  # the forest's own order
    assert at.query_params[FOREST_SHOWN_KEY] == f"{schema.PRIOR_PD1},{schema.DISEASE}"
    assert "orr_cbr_by_disease" in charts(at)  # the page's grouping is another choice

    widget(at, "multiselect", "w_" + FOREST_SHOWN_KEY).set_value([])
    at = rerun(at)
    assert "orr_forest" not in charts(at)
    assert at.query_params[FOREST_SHOWN_KEY] == "none"
    assert any("No grouping chosen" in i.value for i in at.info)

    widget(at, "multiselect", "w_" + FOREST_SHOWN_KEY).set_value(available)
    at = rerun(at)
    assert forest_groupings(at) == available and FOREST_SHOWN_KEY not in at.query_params


def test_forest_groupings_from_a_link():
    at = open_app({FOREST_SHOWN_KEY: f"{schema.SEX},{schema.LINE_OF_IL2},unknown"}, RESPONSE)
    assert forest_groupings(at) == [schema.LINE_OF_IL2, schema.SEX]
    assert widget(at, "multiselect", "w_" + FOREST_SHOWN_KEY).value == [schema.SEX, schema.LINE_OF_IL2]


def test_rates_figure_under_small_cell_protection_shows_no_small_count():
    at = open_app({"mask": "1", "mask_k": "5", "disease": "rcc", "resp_by": schema.PRIOR_PD1_AGENT}, RESPONSE)
    spec = charts(at)["orr_cbr_by_prior_pd1_agent"]
    assert figure_small_counts(spec) == []
    assert any("(n=<5)" in html.unescape(t) for t in spec["layout"]["yaxis"]["ticktext"])
