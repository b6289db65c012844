"""Figure builders of the analyses: go.Figure out, trace counts/names, palette, presentation mode."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import best_response_table, response_rates
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.figures import palette
from il2lib.figures.biomarkers import biomarker_figure
from il2lib.figures.response import orr_forest_figure, response_bar_figure, swimmer_figure
from il2lib.figures.toxicity import ae_grade_figure


@pytest.fixture
def df():
    rng = np.random.default_rng(11)
    n = 24
    bor = np.array(["CR", "PR", "SD", "PD", "PD", "NE"] * 4)
    start = pd.Timestamp("2016-01-01")
    out = pd.DataFrame({
        schema.PATIENT_ID: [f"P{i:02d}" for i in range(n)],
        schema.DISEASE: np.where(np.arange(n) % 2 == 0, schema.MELANOMA, schema.RCC),
        schema.BOR: bor, schema.SD_DURATION: np.where(bor == "SD", 8.0, np.nan),
        schema.PRIOR_PD1: pd.array(np.arange(n) < 12, dtype="boolean"),
        schema.OS_MONTHS: rng.uniform(2, 40, n).round(1),
        schema.OS_EVENT: pd.array(rng.random(n) < 0.5, dtype="boolean"),
        schema.DATE_IL2_START: start,
        schema.DATE_FIRST_RESPONSE: [start + pd.Timedelta(days=60) if b in ("CR", "PR") else pd.NaT for b in bor],
        schema.DOR_EVENT: pd.array([False if b == "CR" else True if b == "PR" else None for b in bor], dtype="boolean"),
        schema.PLATELET_NADIR: rng.normal(50, 15, n).round(),
        schema.AUTOIMMUNE: pd.array(rng.random(n) < 0.3, dtype="boolean"),
    })
    out.loc[5, schema.OS_MONTHS] = np.nan
    return out


def test_palette_is_okabe_ito_and_presentation_is_larger():
    assert palette.OKABE_ITO[0] == "#0072B2" and len(set(palette.OKABE_ITO)) == 8
    normal, big = palette.figure_style(False), palette.figure_style(True)
    assert big.font_size > normal.font_size and big.marker_size > normal.marker_size
    assert set(palette.RESPONSE_COLORS.values()) <= set(palette.OKABE_ITO) | {palette.GREY}


def test_response_bar_figure(df):
    fig = response_bar_figure(best_response_table(df, by=schema.DISEASE), subtitle="Melanoma · prior PD-1: yes")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == list(schema.BOR_LEVELS)
    assert fig.data[0].marker.color == palette.RESPONSE_COLORS["CR"]
    assert "prior PD-1: yes" in fig.layout.title.text
    assert fig.layout.barmode == "stack"


def test_forest_figure_one_trace_per_grouping_with_ci(df):
    by_disease = response_rates(df, by=schema.DISEASE, outcome="orr")
    by_pd1 = response_rates(df, by=schema.PRIOR_PD1, outcome="orr")
    fig = orr_forest_figure([by_disease, by_pd1], overall=response_rates(df, outcome="orr"), presentation=True)
    assert len(fig.data) == 2
    assert fig.data[0].name.startswith("Disease (p ")
    assert "Fisher's exact test" in fig.data[0].name
    r = by_disease.rates.iloc[0]
    assert fig.data[0].x[0] == pytest.approx(100 * r["rate"])
    assert fig.data[0].error_x.array[0] == pytest.approx(100 * (r["ci_upper"] - r["rate"]))
    assert fig.layout.font.size == palette.figure_style(True).font_size
    assert len(fig.layout.shapes) == 1  # overall reference line
    with pytest.raises(ValueError):
        orr_forest_figure([by_disease], outcome="dcr")


def test_swimmer_figure_traces_and_exclusion_note(df):
    fig = swimmer_figure(df)
    names = [t.name for t in fig.data]
    assert names == ["CR", "PR", "SD", "PD", "NE", "Response onset", "Ongoing response", "Death",
                     "Alive at last follow-up"]
    lanes = sum(len(t.y) for t in fig.data[:5])
    assert lanes == 23  # one patient without OS time
    assert "1 patient(s) without an OS time not shown" in fig.layout.title.text
    assert len(fig.data[6].x) == 4  # the 4 CRs have a censored DoR: ongoing arrows
    onset = fig.data[5]
    assert np.allclose(onset.x, 60 / schema.DAYS_PER_MONTH)
    few = swimmer_figure(df, responders_only=True, max_patients=3)
    assert sum(len(t.y) for t in few.data[:2]) == 3 and "more not shown" in few.layout.title.text


def test_biomarker_figure_two_boxes_per_disease_with_named_test(df):
    res = biomarker_comparison(df)
    fig = biomarker_figure(df, schema.PLATELET_NADIR, res)
    assert len(fig.data) == 4 and all(t.type == "box" for t in fig.data)
    assert {t.name for t in fig.data} == {"Clinical benefit", "No clinical benefit"}
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == 2 and all("p " in t for t in titles)
    assert "Wilcoxon rank-sum" in fig.layout.title.text  # the test is named once, in the subtitle
    with pytest.raises(ValueError):
        biomarker_figure(df, "nope", res)


def test_ae_grade_figure(df):
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P00", "P00", "P01", "P02"],
                       schema.AE_TERM: ["Fever", "Fever", "Hypotension", "Fever"], schema.AE_GRADE: [1, 3, 4, 2]})
    tox = toxicity_summary(ae, df, by=schema.DISEASE)
    fig = ae_grade_figure(tox)
    assert len(fig.data) == 5 * 2  # grades 1-5 x two disease panels
    assert [t.name for t in fig.data[:5]] == [f"Grade {g}" for g in range(1, 6)]
    fever_g3 = fig.data[2]
    assert list(fever_g3.y) == ["Fever", "Hypotension"]
    assert fever_g3.customdata[0] == 1  # P00 counted once, at grade 3


def test_ae_grade_figure_draws_no_empty_panel_for_a_group_without_term_detail(df):
    # only P00 and P01 (prior PD-1 = yes) have AE rows and no AE file is declared complete: the "no" group has
    # no term detail and gets no panel (an axis from -1 to 1 without a bar); the subtitle names it
    ae = pd.DataFrame({schema.AE_PATIENT_ID: ["P00", "P01"], schema.AE_TERM: ["Fever", "Hypotension"],
                       schema.AE_GRADE: [1, 4]})
    tox = toxicity_summary(ae, df, by=schema.PRIOR_PD1)
    empty = [g for g in tox.groups if tox.term_sizes[g] == 0]
    assert empty, "the fixture must leave one group without term detail"
    fig = ae_grade_figure(tox)
    assert len(fig.data) == 5 * (len(tox.groups) - len(empty))
    assert empty == ["Prior PD-1/PD-L1: no"]
    assert "no AE term detail for Prior PD-1/PD-L1: no" in fig.layout.title.text
