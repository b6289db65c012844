"""The ORR and CBR by group figure (one grouping, a slide) and the forest plot's groupings filter: the figure
draws the response-rates result's numbers as they are, names the variable, fits its axis and keeps small
counts hidden under small-cell protection."""
from __future__ import annotations

import html
import json
import math

import numpy as np
import pytest

from il2lib import schema
from il2lib.analyses.response import rate_count_keys, response_count_view, response_rates
from il2lib.export import snippets
from il2lib.export.files import table_to_csv_bytes
from il2lib.figures.palette import color
from il2lib.figures.response import OUTCOME_MARKERS, SLIDE_SIZE, orr_forest_figure, rates_by_group_figure
from il2lib.privacy.disclosure import protect
from il2lib.privacy.masking import mask_figure
from il2lib.stats import p_phrase
from support.combined_sample import sample_data
from support.disclosure_scan import figure_small_counts
from support.rendered_text import decode_typed_arrays


@pytest.fixture(scope="module")
def data():
    return sample_data()


@pytest.fixture(scope="module")
def by_prior(data):
    return response_rates(data, schema.PRIOR_PD1)


def markers(fig) -> dict:
    """The marker trace of each outcome (``meta``), by outcome."""
    return {t.meta: t for t in fig.data if t.mode == "markers"}


def labels(fig) -> dict:
    """The "k/N" text trace of each outcome, by outcome."""
    return {t.meta: t for t in fig.data if t.mode == "text"}


def footnote(fig) -> str:
    """The footnote as read (lines joined, HTML entities decoded)."""
    return html.unescape(fig.layout.annotations[-1].text.replace("<br>", " "))


def test_one_point_per_group_and_outcome_at_the_results_rate_and_ci(by_prior):
    fig = rates_by_group_figure(by_prior)
    assert list(markers(fig)) == ["orr", "cbr"] and list(labels(fig)) == ["orr", "cbr"]
    for outcome, trace in markers(fig).items():
        rows = by_prior.rates[by_prior.rates["outcome"] == outcome]
        assert len(trace.x) == len(by_prior.groups) == 2
        assert np.allclose(trace.x, 100 * rows["rate"])
        assert np.allclose(np.asarray(trace.x) + trace.error_x.array, 100 * rows["ci_upper"])
        assert np.allclose(np.asarray(trace.x) - trace.error_x.arrayminus, 100 * rows["ci_lower"])
        assert (trace.marker.color, trace.marker.symbol) == OUTCOME_MARKERS[outcome]
        assert [t.strip() for t in labels(fig)[outcome].text] == \
            [f"{k}/{n}" for k, n in zip(rows["responders"], rows["n"])]
        assert np.allclose(labels(fig)[outcome].x, 100 * rows["ci_upper"])  # beside the whisker
    assert markers(fig)["orr"].name == "ORR (CR+PR, confirmed only)"
    assert markers(fig)["cbr"].name == "CBR (CR+PR+SD ≥ 6 months)"
    # ORR above CBR within each group's row
    assert all(a < b for a, b in zip(markers(fig)["orr"].y, markers(fig)["cbr"].y))


def test_groups_name_the_variable_with_their_size(by_prior):
    fig = rates_by_group_figure(by_prior)
    assert list(fig.layout.yaxis.ticktext) == ["Prior PD-1/PD-L1: no (n=50)", "Prior PD-1/PD-L1: yes (n=57)"]
    assert list(fig.layout.yaxis.tickvals) == [0, 1]


def test_axis_fitted_to_the_largest_upper_bound(data, by_prior):
    fig = rates_by_group_figure(by_prior)
    largest = 100 * by_prior.rates.loc[by_prior.rates["outcome"].isin(["orr", "cbr"]), "ci_upper"].max()
    assert largest == pytest.approx(42.49, abs=0.01)
    assert list(fig.layout.xaxis.range) == [0, 50]
    # DCR reaches 57.6%: the axis goes to 60
    assert list(rates_by_group_figure(by_prior, outcomes=("orr", "cbr", "dcr")).layout.xaxis.range) == [0, 60]
    # small groups: wide intervals, the axis stops at 100
    agent = rates_by_group_figure(response_rates(data, schema.PRIOR_PD1_AGENT))
    assert list(agent.layout.xaxis.range) == [0, 100]


def test_footnote_gives_the_between_group_tests_ci_method_and_denominator(by_prior):
    text = footnote(rates_by_group_figure(by_prior))
    for c in by_prior.comparisons[:2]:
        assert f"{c.outcome.upper()} {p_phrase(c.result.pvalue)} ({c.result.label})" in text
    assert "ORR p = 0.47 (Fisher's exact test)" in text and "CBR p > 0.99" in text
    assert "Clopper-Pearson exact" in text and "all treated (ITT)" in text


def test_wilson_and_evaluable_are_the_results_numbers(data):
    rates = response_rates(data, schema.DISEASE, ci_method="wilson", denominator="evaluable")
    fig = rates_by_group_figure(rates, outcomes=("orr", "cbr", "dcr"))
    assert list(markers(fig)) == ["orr", "cbr", "dcr"]
    dcr = rates.rates[rates.rates["outcome"] == "dcr"]
    assert np.allclose(np.asarray(markers(fig)["dcr"].x) + markers(fig)["dcr"].error_x.array, 100 * dcr["ci_upper"])
    text = footnote(fig)
    assert "Wilson score" in text and "evaluable patients" in text
    assert fig.layout.yaxis.ticktext[0].startswith("Melanoma (n=")  # a disease names itself


def test_slide_size_is_16_by_9_and_grows_with_many_groups(data, by_prior):
    fig = rates_by_group_figure(by_prior)
    assert (fig.layout.width, fig.layout.height) == SLIDE_SIZE[False]
    big = rates_by_group_figure(by_prior, presentation=True)
    assert (big.layout.width, big.layout.height) == SLIDE_SIZE[True]
    many = rates_by_group_figure(response_rates(data, schema.PRIOR_PD1_AGENT), outcomes=("orr", "cbr", "dcr"))
    assert many.layout.height > SLIDE_SIZE[False][1]
    assert many.layout.width / many.layout.height == pytest.approx(16 / 9, abs=0.01)


def test_one_group_has_no_test(data):
    rates = response_rates(data[data[schema.DISEASE] == schema.MELANOMA], schema.DISEASE)
    fig = rates_by_group_figure(rates)
    assert len(markers(fig)["orr"].x) == 1
    assert "One group: no between-group test." in footnote(fig)


def test_outcome_not_computed_is_refused(data):
    with pytest.raises(ValueError):
        rates_by_group_figure(response_rates(data, schema.DISEASE, outcome="dcr"))


def test_small_cell_protection_hides_small_counts_and_their_rates(data):
    """RCC by prior PD-1/PD-L1 agent: groups of 1 and 2 patients, shown as on the page (the page's count view)."""
    rcc = data[data[schema.DISEASE] == schema.RCC]
    rates = response_rates(rcc, schema.PRIOR_PD1_AGENT)
    view = response_count_view(None, rates)
    for g, n in rates.bor_counts.groupby("group", sort=False)["n"].sum().items():
        view.add(("n", rates.by, g), n, headline=True)
    shown = protect(view, 5)
    fig = mask_figure(rates_by_group_figure(rates, shown=shown), 5)
    spec = decode_typed_arrays(json.loads(fig.to_json()))
    assert figure_small_counts(spec) == []
    trace = markers(fig)["orr"]
    for g, x in zip(rates.groups, trace.x):
        keys = rate_count_keys(rates.by, g, "orr", rates.view)[:2]
        assert (x is None or math.isnan(x)) == (not shown.shows(*keys))
    assert any(x is None or math.isnan(x) for x in trace.x), "a small group should have no point"
    assert any("(n=<5)" in html.unescape(t) for t in fig.layout.yaxis.ticktext)


def test_forest_draws_only_the_groupings_asked_for(data):
    by_disease, by_prior = response_rates(data, schema.DISEASE, "orr"), response_rates(data, schema.PRIOR_PD1, "orr")
    everything = orr_forest_figure([by_disease, by_prior])
    assert len(everything.data) == 2
    assert orr_forest_figure([by_disease, by_prior], groupings=None).to_json() == everything.to_json()
    only = orr_forest_figure([by_disease, by_prior], groupings=[schema.PRIOR_PD1])
    assert len(only.data) == 1 and only.data[0].name.startswith("Prior PD-1/PD-L1 (")
    assert only.data[0].marker.color == color(1)  # the grouping keeps its colour
    assert all(label.startswith("Prior PD-1/PD-L1: ") for label in only.layout.yaxis.categoryarray)
    assert not any("Prior PD-1/PD-L1: Prior" in label for label in only.layout.yaxis.categoryarray)  # named once
    assert everything.layout.yaxis.categoryarray[0].startswith("Disease: Melanoma (")  # rows of two groupings
    assert only.layout.height < everything.layout.height
    with pytest.raises(ValueError):
        orr_forest_figure([by_disease, by_prior], groupings=[])


def test_code_snippet_reproduces_the_figures_numbers(data, tmp_path, monkeypatch):
    (tmp_path / snippets.DEFAULT_CSV).write_bytes(table_to_csv_bytes(data))
    monkeypatch.chdir(tmp_path)
    snippet = snippets.rates_figure_snippet(schema.PRIOR_PD1, "wilson", "evaluable", 6.0, sd_minimum_weeks=8.0)
    assert "sd_minimum_weeks=8" in snippet.python
    namespace: dict = {}
    exec(compile(snippet.python, "<snippet>", "exec"), namespace)  # noqa: S102 - our own generated code
    expected = response_rates(data, schema.PRIOR_PD1, ci_method="wilson", denominator="evaluable",
                              sd_minimum_weeks=8.0)
    assert np.allclose(namespace["result"]["ci_upper"], expected.rates["ci_upper"])
    assert len(namespace["fig"].data) == 4
