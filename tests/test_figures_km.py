"""km_figure: step curves from (0, 1), CI bands, censor ticks, an at-risk table aligned with the
time ticks, hover content, escaping, and thinning that stays within one bin of the exact curve."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from il2lib.figures.km import default_ticks, km_figure, thin_table
from il2lib.survival import kaplan_meier

# veteran-like toy data: months, event flags, two groups
TIME = np.array([1, 2, 2, 3, 5, 6, 8, 8, 9, 12, 14, 15, 20, 22, 30, 31, 40, 45], dtype=float)
EVENT = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
GROUP = np.array(["A", "B"] * 9)


@pytest.fixture(scope="module")
def curves():
    return kaplan_meier(TIME, EVENT, by=GROUP)


def traces(fig: go.Figure, suffix: str = "") -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data if t.name.endswith(suffix)}


def test_curves_are_steps_starting_at_one(curves):
    fig = km_figure(curves)
    for name in ("A", "B"):
        curve = traces(fig)[name]
        assert curve.line.shape == "hv"
        assert (curve.x[0], curve.y[0]) == (0.0, 1.0)
        table = curves[name].table
        np.testing.assert_allclose(curve.x[1:], table["time"])
        np.testing.assert_allclose(curve.y[1:], table["survival"])


def test_ci_band_is_filled_between_the_limits(curves):
    fig = km_figure(curves)
    lower, upper = traces(fig)["A lower CI"], traces(fig)["A upper CI"]
    assert upper.fill == "tonexty" and lower.fill in (None, "none")
    table = curves["A"].table
    finite = np.isfinite(table["ci_lower"].to_numpy())
    np.testing.assert_allclose(np.asarray(lower.y[1:])[finite], table["ci_lower"][finite])
    assert "A lower CI" not in traces(km_figure(curves, show_ci=False))


def test_risk_table_matches_at_risk_at_the_axis_ticks(curves):
    fig = km_figure(curves, times=[0, 10, 20, 30, 40])
    assert list(fig.layout.xaxis.tickvals) == [0, 10, 20, 30, 40]
    assert list(fig.layout.xaxis2.tickvals) == [0, 10, 20, 30, 40]
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"
    for name in ("A", "B"):
        row = traces(fig)[f"{name} at risk"]
        assert row.mode == "text" and row.yaxis == "y2"
        np.testing.assert_array_equal(row.x, [0, 10, 20, 30, 40])
        expected = curves[name].at_risk([0, 10, 20, 30, 40])
        assert list(row.text) == [str(int(v)) for v in expected]
    # hand check for group A (times 1,2,3,5,8,9,14,20,30,40 at indexes 0,2,...): 9 at 0, 0 after 45
    assert traces(fig)["A at risk"].text[0] == "9"
    assert "A at risk" not in traces(km_figure(curves, risk_table=False))


def test_hover_carries_ci_and_number_at_risk(curves):
    curve = traces(km_figure(curves))["B"]
    table = curves["B"].table
    custom = np.asarray(curve.customdata)
    np.testing.assert_allclose(custom[1:, 2], table["n_risk"])
    assert "S(t)" in curve.hovertemplate and "at risk" in curve.hovertemplate and "CI" in curve.hovertemplate


def test_censor_ticks_sit_on_the_curve_at_censoring_times(curves):
    ticks = traces(km_figure(curves))["A censored"]
    table = curves["A"].table
    censored = table[table["n_censor"] > 0]
    np.testing.assert_allclose(ticks.x, censored["time"])
    np.testing.assert_allclose(ticks.y, censored["survival"])
    assert "A censored" not in traces(km_figure(curves, censor_marks=False))


def test_median_lines_drawn_only_for_reached_medians(curves):
    fig = km_figure(curves, median_lines=True)
    reached = [r.median for r in curves.values() if np.isfinite(r.median)]
    assert len(fig.layout.shapes) == 2 * len(reached)
    assert not km_figure(curves).layout.shapes


def test_labels_and_titles_are_escaped():
    km = kaplan_meier(TIME, EVENT, by=np.where(GROUP == "A", "<b>x</b>", "y&z"))
    fig = km_figure(km, title="<script>t</script>", subtitle="a<i>b")
    names = {t.name for t in fig.data}
    assert "&lt;b&gt;x&lt;/b&gt;" in names and "y&amp;z" in names
    assert "<script>" not in fig.layout.title.text and "&lt;script&gt;" in fig.layout.title.text
    assert "&lt;i&gt;" in fig.layout.title.subtitle.text


def test_long_subtitles_wrap_at_separators():
    km = kaplan_meier(TIME, EVENT)
    subtitle = " · ".join(["Combined sample (PROCLAIM-like + community-like) · synthetic", "n = 70 of 107 patients",
                           "Melanoma", "prior PD-1/PD-L1: yes"])
    text = km_figure({"All": km}, subtitle=subtitle, presentation=True).layout.title.subtitle.text
    assert text.count("<br>") >= 1 and all(len(line) <= 70 for line in text.split("<br>"))
    assert text.replace("<br>", " · ") == subtitle


def test_presentation_mode_is_larger():
    km = kaplan_meier(TIME, EVENT)
    normal, present = km_figure({"All": km}), km_figure({"All": km}, presentation=True)
    assert present.layout.font.size > normal.layout.font.size
    assert present.data[2].line.width > normal.data[2].line.width


def test_default_ticks_follow_the_time_range():
    assert list(default_ticks(30)) == [0, 6, 12, 18, 24, 30]
    assert default_ticks(100)[1] == 12 and 100 - 12 < default_ticks(100)[-1] <= 100
    assert default_ticks(200)[1] == 24


def step_value(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Right-continuous step function through (0, 1) and (times, values), evaluated at ``at``."""
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx < 0, 1.0, values[np.clip(idx, 0, None)])


def test_thinning_stays_within_one_bin_of_the_exact_curve():
    rng = np.random.default_rng(7)
    n = 100_000
    km = kaplan_meier(rng.exponential(20, n), rng.random(n) < 0.7)
    t_max, max_points = float(km.table["time"].max()), 2000
    fig = km_figure({"All": km}, max_points=max_points)
    curve = traces(fig)["All"]
    assert len(curve.x) <= max_points + 1 < len(km.table)
    full_t, full_s = km.table["time"].to_numpy(), km.table["survival"].to_numpy()
    thin_t, thin_s = np.asarray(curve.x[1:]), np.asarray(curve.y[1:])
    width = t_max / max_points
    grid = np.linspace(0, t_max, 20_001)
    thin = step_value(thin_t, thin_s, grid)
    assert np.all(thin >= step_value(full_t, full_s, grid) - 1e-12)
    assert np.all(thin <= step_value(full_t, full_s, grid - width) + 1e-12)
    # every kept point is an exact point of the estimate, and the last one is kept
    np.testing.assert_allclose(thin_s, full_s[np.searchsorted(full_t, thin_t)])
    assert thin_t[-1] == full_t[-1]


def test_thin_table_keeps_small_tables_whole(curves):
    table = curves["A"].table
    assert thin_table(table, 50.0, 2000) is table
