"""Every figure builder sets plotly's named template unvalidated: its JSON is that of the fully validated figure."""
from __future__ import annotations

import functools
import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from il2lib import load_cohort, schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import best_response_table, response_rates
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.analyses.tumour_burden import load_tumour_assessments, tumour_burden
from il2lib.figures import palette
from il2lib.figures.biomarkers import biomarker_figure
from il2lib.figures.cif import cif_figure
from il2lib.figures.forest_cox import cox_forest_figure
from il2lib.figures.published import published_comparison_figure
from il2lib.figures.response import orr_forest_figure, rates_by_group_figure, response_bar_figure, swimmer_figure
from il2lib.figures.toxicity import ae_grade_figure
from il2lib.figures.tumour_burden import spider_figure, waterfall_figure
from il2lib.survival.competing import cumulative_incidence
from il2lib.survival.multivariable import multivariable_cox
from il2lib.validation.adverse_events import load_adverse_events
from support.combined_sample import SAMPLE


@functools.lru_cache(maxsize=1)
def sample():
    return load_cohort(SAMPLE)


def _cif(presentation):
    df = sample().data.dropna(subset=[schema.PFS_MONTHS])
    event = df[schema.PFS_EVENT].fillna(False).astype(int).to_numpy()
    res = cumulative_incidence(df[schema.PFS_MONTHS], event, df[schema.DISEASE], event_label="Progression",
                               competing_label="Death")
    return cif_figure(res, presentation=presentation)


def _published(presentation):
    import pandas as pd

    rows = pd.DataFrame({"group": ["Melanoma", "Melanoma"], "source": ["Our cohort", "Published"],
                         "estimate": [0.2, 0.225], "lower": [0.1, 0.108], "upper": [0.3, 0.385],
                         "published": [False, True], "label": ["(14/70)", "(9/40)"]})
    return published_comparison_figure(rows, x_label="ORR, %", percent=True, presentation=presentation)


def _toxicity(presentation):
    events = load_adverse_events(SAMPLE.with_name("combined_synthetic_adverse_events.csv"), sample())
    return ae_grade_figure(toxicity_summary(events.data, sample().data, by=schema.DISEASE), presentation=presentation)


def _burden():
    assessments = load_tumour_assessments(SAMPLE.with_name("combined_synthetic_tumour_assessments.csv"), sample())
    return tumour_burden(assessments, sample())


BUILDERS = {
    "response bars": lambda p: response_bar_figure(best_response_table(sample().data, by=schema.DISEASE),
                                                   presentation=p),
    "ORR forest": lambda p: orr_forest_figure([response_rates(sample().data, by=schema.DISEASE, outcome="orr")],
                                              presentation=p),
    "rates by group": lambda p: rates_by_group_figure(response_rates(sample().data, schema.PRIOR_PD1),
                                                      presentation=p),
    "swimmer": lambda p: swimmer_figure(sample().data, presentation=p),
    "biomarker": lambda p: biomarker_figure(sample().data, schema.PLATELET_NADIR,
                                            biomarker_comparison(sample().data), presentation=p),
    "AE grades": _toxicity,
    "CIF": _cif,
    "Cox forest": lambda p: cox_forest_figure(
        multivariable_cox(sample().data, "os", ["age", "sex", "ecog", "disease"]).table, presentation=p),
    "published": _published,
    "waterfall": lambda p: waterfall_figure(_burden(), presentation=p),
    "spider": lambda p: spider_figure(_burden(), presentation=p),
}


@pytest.mark.parametrize("presentation", [False, True])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_figure_json_is_that_of_the_fully_validated_figure_with_its_named_template(name, presentation):
    fig = BUILDERS[name](presentation)
    validated = go.Figure(fig)  # every property validated again
    validated.update_layout(template=palette.figure_style(presentation).template)  # the template too
    assert json.loads(pio.to_json(fig, validate=False)) == json.loads(pio.to_json(validated, validate=False))
