"""Figure builders of the models section: Cox forest plot, cumulative-incidence curves, published comparison."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from il2lib.figures.cif import cif_figure
from il2lib.figures.forest_cox import cox_forest_figure
from il2lib.figures.published import published_comparison_figure
from il2lib.survival.competing import cumulative_incidence
from il2lib.survival.multivariable import multivariable_cox
from support.combined_sample import sample_data


def test_forest_plot_rows_and_log_axis():
    res = multivariable_cox(sample_data(), "os", ["age", "sex", "ecog", "disease"])
    fig = cox_forest_figure(res.table, title="Cox <model>")
    assert isinstance(fig, go.Figure) and fig.layout.xaxis.type == "log"
    trace = fig.data[0]
    np.testing.assert_allclose(trace.x, res.table.hr)
    np.testing.assert_allclose(np.asarray(trace.x) + np.asarray(trace.error_x.array), res.table.hr_upper)
    assert len(trace.y) == 4 and trace.y[0].startswith("Age (per 10 years): ")
    assert "&lt;model&gt;" in fig.layout.title.text
    assert any(s.x0 == 1.0 for s in fig.layout.shapes)
    with pytest.raises(ValueError):
        cox_forest_figure(res.table.iloc[0:0])


def test_cif_figure_steps_and_hover_counts():
    res = cumulative_incidence([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 1, 0], list("aaabbb"), event_label="Progression",
                               competing_label="Death")
    fig = cif_figure(res)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 4  # progression and death, two groups each
    assert max(lines[0].y) == pytest.approx(100 * res.cif["a"].table.cif.max())
    assert "Gray" in fig.layout.title.text and "at risk" in lines[0].hovertemplate
    masked = cif_figure(res, hover_counts=False, show_ci=False, show_competing=False)
    assert all("at risk" not in t.hovertemplate for t in masked.data)
    assert len(masked.data) == 2


def test_published_comparison_figure():
    rows = pd.DataFrame({"group": ["Melanoma", "Melanoma"], "source": ["Our cohort", "Published"],
                         "estimate": [0.2, 0.225], "lower": [0.1, 0.108], "upper": [0.3, 0.385],
                         "published": [False, True], "label": ["(14/70)", "(9/40)"]})
    fig = published_comparison_figure(rows, x_label="ORR, %", percent=True)
    assert [t.x[0] for t in fig.data] == pytest.approx([20.0, 22.5])
    assert fig.data[1].marker.symbol == "diamond-open"
    assert "(9/40)" in str(fig.data[1].customdata)
    hidden = published_comparison_figure(rows, x_label="ORR, %", percent=True, hover_counts=False)
    assert "(9/40)" not in str(hidden.data[1].customdata)


def test_published_comparison_rows_keep_input_order():
    rows = pd.DataFrame({"group": ["Melanoma", "Melanoma", "RCC", "RCC"], "source": ["Ours", "Published"] * 2,
                         "estimate": [0.2, 0.225, 0.2, 0.24], "lower": [0.1, 0.1, 0.1, 0.1],
                         "upper": [0.3, 0.4, 0.4, 0.5], "published": [False, True] * 2, "label": list("abcd")})
    fig = published_comparison_figure(rows, x_label="ORR")
    assert list(fig.layout.yaxis.categoryarray) == ["Melanoma · Ours", "Melanoma · Published", "RCC · Ours",
                                                    "RCC · Published"]
