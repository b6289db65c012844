"""Presentation mode in the figure builders: competing-risk curves and the Cox forest plot take the
presentation style (high-contrast palette, larger type, a reference line visible on a projector), as the
Kaplan-Meier figure does."""
from __future__ import annotations

import numpy as np

from il2lib.figures import palette
from il2lib.figures.cif import cif_figure
from il2lib.figures.forest_cox import cox_forest_figure
from il2lib.survival.competing import cumulative_incidence
from il2lib.survival.multivariable import multivariable_cox
from support.combined_sample import sample_data


def six_group_cif(presentation: bool):
    groups = [f"g{i}" for i in range(6) for _ in range(6)]
    time = np.tile(np.arange(1.0, 7.0), 6)
    status = np.tile([1, 2, 0, 1, 1, 0], 6)
    res = cumulative_incidence(time, status, groups, event_label="Progression", competing_label="Death")
    return cif_figure(res, presentation=presentation)


def line_colours(fig) -> list[str]:
    return [t.line.color for t in fig.data if t.mode == "lines"]


def test_competing_risk_curves_use_the_high_contrast_palette_when_presenting():
    present, normal = six_group_cif(True), six_group_cif(False)
    assert set(line_colours(present)) <= set(palette.HIGH_CONTRAST)
    assert not set(line_colours(normal)) <= set(palette.HIGH_CONTRAST)  # orange and sky blue in normal mode
    bands = [t.fillcolor for t in present.data if t.fill == "toself"]
    assert bands and all(palette.contrast_ratio("#{:02X}{:02X}{:02X}".format(
        *map(int, b[5:].split(",")[:3]))) >= 3.0 for b in bands)
    assert present.layout.font.size > normal.layout.font.size


def test_cox_forest_plot_keeps_its_reference_line_visible_when_presenting():
    table = multivariable_cox(sample_data(), "os", ["age", "sex", "ecog", "disease"]).table
    present, normal = cox_forest_figure(table, presentation=True), cox_forest_figure(table)
    reference = next(s for s in present.layout.shapes if s.x0 == 1.0)
    assert palette.contrast_ratio(reference.line.color) >= 3.0  # WCAG 1.4.11, graphical objects
    assert present.data[0].marker.color in palette.HIGH_CONTRAST
    assert present.layout.font.size > normal.layout.font.size
    assert present.data[0].marker.size > normal.data[0].marker.size


def test_orr_forest_plot_takes_the_presentation_palette_and_reference_line():
    from il2lib import schema
    from il2lib.analyses.response import response_rates
    from il2lib.figures.response import orr_forest_figure

    data = sample_data()
    results = [response_rates(data, by=schema.DISEASE), response_rates(data, by=schema.PRIOR_PD1)]
    overall = response_rates(data, by=None)
    present = orr_forest_figure(results, overall=overall, presentation=True)
    normal = orr_forest_figure(results, overall=overall)
    assert {t.marker.color for t in present.data} <= set(palette.HIGH_CONTRAST)
    reference = next(s for s in present.layout.shapes if s.line.dash == "dash")
    assert palette.contrast_ratio(reference.line.color) >= 3.0
    assert present.layout.font.size > normal.layout.font.size
