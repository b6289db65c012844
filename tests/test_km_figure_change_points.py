"""The Kaplan-Meier figure is drawn through the curves' change points only: its step functions (curve and CI
band) equal the full estimate's at every event and censoring time, censor ticks stay at every censoring time,
and the figure's JSON is that of a fully validated figure."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from il2lib.figures.km import CENSOR_TICK_BINS, change_points, km_figure
from il2lib.figures.palette import copy_figure, figure
from il2lib.privacy.masking import mask_figure
from il2lib.survival import kaplan_meier


def step(x, y, at: np.ndarray) -> np.ndarray:
    """The drawn right-continuous step function (x[0] = 0) at ``at``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return y[np.searchsorted(x, at, side="right") - 1]


@pytest.fixture(scope="module")
def curves():
    rng = np.random.default_rng(11)
    n = 3000
    time = np.round(rng.exponential(18, n) * 30.4375) / 30.4375  # whole days: ties and censor-only times
    event = rng.random(n) < 0.55
    return kaplan_meier(time, event, by=np.where(rng.random(n) < 0.6, "Melanoma", "RCC"))


def test_curve_and_band_equal_the_full_step_function_at_every_event_and_censoring_time(curves):
    fig = km_figure(curves, show_ci=True)
    by_name = {t.name: t for t in fig.data}
    for name, result in curves.items():
        table = result.table
        times = table["time"].to_numpy()
        assert (table["n_censor"] > 0).any() and (table["n_event"] == 0).any()  # censor-only rows exist
        curve = by_name[name]
        assert len(curve.x) - 1 < len(table)  # fewer points than rows: the test compares thinned with full
        np.testing.assert_array_equal(step(curve.x, curve.y, times), table["survival"])
        for column, trace in (("ci_lower", f"{name} lower CI"), ("ci_upper", f"{name} upper CI")):
            full = table[column].ffill().to_numpy()
            finite = np.isfinite(full)
            band = by_name[trace]
            np.testing.assert_array_equal(step(band.x, band.y, times)[finite], full[finite])
        assert curve.x[-1] == times[-1]  # drawn on to the last follow-up


def test_censor_ticks_stay_on_the_curve_at_every_censoring_time(curves):
    """One tick per 1/400 of the time axis (narrower than a tick): every censoring time has one in its bin."""
    by_name = {t.name: t for t in km_figure(curves).data}
    t_max = max(float(r.table["time"].max()) for r in curves.values())
    for name, result in curves.items():
        table = result.table
        censored = table[table["n_censor"] > 0]
        ticks = by_name[f"{name} censored"]
        x = np.asarray(ticks.x)
        assert np.isin(x, censored["time"]).all()
        np.testing.assert_array_equal(ticks.y, censored.set_index("time").loc[x, "survival"])
        nearest = np.abs(censored["time"].to_numpy()[:, None] - x[None, :]).min(axis=1)
        assert (nearest < t_max / CENSOR_TICK_BINS).all()


def test_change_points_keep_rows_where_survival_or_ci_change():
    import pandas as pd

    table = pd.DataFrame({"time": [1.0, 2.0, 3.0, 4.0, 5.0], "survival": [0.9, 0.9, 0.8, 0.8, 0.8],
                          "ci_lower": [0.7, 0.7, 0.6, 0.6, np.nan], "ci_upper": [1.0, 1.0, 0.9, 0.9, np.nan]})
    assert list(change_points(table)["time"]) == [1.0, 3.0, 5.0]
    table.loc[4, ["ci_lower", "ci_upper"]] = [0.6, 0.9]
    assert list(change_points(table)["time"]) == [1.0, 3.0, 5.0]  # the last row is kept: the curve runs on


@pytest.mark.parametrize("template", ["plotly_white", "simple_white"])
def test_figure_json_is_that_of_the_fully_validated_figure(curves, template):
    traces = [dict(type="scatter", x=np.arange(5.0), y=np.linspace(1, 0.5, 5), mode="lines", name="a",
                   line=dict(shape="hv", width=2))]
    layout = dict(template=template, height=500, title=dict(text="KM"), xaxis=dict(title=dict(text="Months")))
    fast, full = figure(traces, layout), go.Figure(data=traces, layout=layout)
    assert json.loads(pio.to_json(fast, validate=False)) == json.loads(pio.to_json(full, validate=False))
    assert layout["template"] == template  # the caller's layout is left as it was
    with pytest.raises(ValueError):
        figure([dict(type="scatter", not_a_property=1)], layout)


@pytest.mark.parametrize("presentation", [False, True])
def test_a_copy_of_the_figure_has_the_same_json_and_is_independent(curves, presentation):
    fig = km_figure(curves, presentation=presentation, title="KM", subtitle="data")
    copy = copy_figure(fig)
    assert json.loads(pio.to_json(copy, validate=False)) == json.loads(pio.to_json(go.Figure(fig), validate=False))
    copy.update_layout(title_text="changed", template={"layout": {"font": {"size": 30}}})
    assert fig.layout.title.text == "KM" and fig.layout.template.layout.font.size != 30


def test_a_copy_keeps_array_data_as_arrays_for_the_masking_that_reads_it():
    custom = np.array([[3, 0.25], [12, 0.5]])
    fig = go.Figure(go.Bar(x=["Melanoma (n=3)", "RCC (n=12)"], y=[1, 2], customdata=custom,
                           hovertemplate="n=%{customdata[0]}<extra></extra>"))
    copy = copy_figure(fig)
    assert isinstance(copy.data[0].customdata, np.ndarray)
    np.testing.assert_array_equal(copy.data[0].customdata, custom)
    masked = mask_figure(copy, 5)
    assert masked.data[0].x[0] == "Melanoma (n=<5)" and "customdata" in masked.data[0].hovertemplate
