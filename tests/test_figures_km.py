"""km_figure: step curves from (0, 1), CI bands, censor ticks, an at-risk table aligned with the
time ticks, hover content, escaping, thinning that stays within one bin of the exact curve, and
readability: a dash per group, dark risk-table numbers keyed by colour, subtitles of at least 12 px."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from il2lib import schema
from il2lib.figures import palette
from il2lib.figures.km import (MIN_PLOT_PX, PRESENTATION_FIGURE_PX, PRESENTATION_SUBTITLE_CHARS, ci_band_default,
                               default_ticks, km_figure, thin_table)
from il2lib.survival import kaplan_meier
from support.apptest import open_app

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
        times = table["time"].to_numpy()
        # drawn through its change points: the same step function at every event and censoring time
        np.testing.assert_allclose(step_value(np.asarray(curve.x[1:]), np.asarray(curve.y[1:]), times),
                                   table["survival"])
        assert len(curve.x) - 1 < len(table) and curve.x[-1] == times[-1]


def test_ci_band_is_filled_between_the_limits(curves):
    fig = km_figure(curves)
    lower, upper = traces(fig)["A lower CI"], traces(fig)["A upper CI"]
    assert upper.fill == "tonexty" and lower.fill in (None, "none")
    table = curves["A"].table
    finite = np.isfinite(table["ci_lower"].to_numpy())
    drawn = step_value(np.asarray(lower.x[1:]), np.asarray(lower.y[1:]), table["time"].to_numpy())
    np.testing.assert_allclose(drawn[finite], table["ci_lower"][finite])
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
    at = table.set_index("time").loc[np.asarray(curve.x[1:])]
    np.testing.assert_allclose(custom[1:, 2], at["n_risk"])
    np.testing.assert_allclose(custom[1:, :2], at[["ci_lower", "ci_upper"]])
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
    for presentation, width in ((False, 75), (True, PRESENTATION_SUBTITLE_CHARS)):
        text = km_figure({"All": km}, subtitle=subtitle, presentation=presentation).layout.title.subtitle.text
        assert text.count("<br>") >= 1 and all(len(line) <= width for line in text.split("<br>"))
        assert text.replace("<br>", " · ") == subtitle


def test_contrast_ratio_follows_wcag():
    # WCAG 2 reference values: black on white 21:1, #767676 the lightest grey passing 4.5:1
    assert palette.contrast_ratio("#000000") == pytest.approx(21.0)
    assert palette.contrast_ratio("#FFFFFF") == pytest.approx(1.0)
    assert palette.contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)
    assert palette.contrast_ratio("#FFFFFF", "#000000") == pytest.approx(21.0)
    # the group colours that failed as risk-table text (vermillion, green)
    assert palette.contrast_ratio(palette.VERMILLION) == pytest.approx(3.87, abs=0.01)
    assert palette.contrast_ratio(palette.GREEN) == pytest.approx(3.42, abs=0.01)


@pytest.mark.parametrize("presentation", [False, True])
def test_risk_table_numbers_are_dark_and_rows_keyed_by_group_colour(presentation):
    km = kaplan_meier(TIME, EVENT, by=np.array(["A", "B", "C"] * 6))
    fig = km_figure(dict(km.items()), presentation=presentation)
    rows = [t for t in fig.data if t.name.endswith(" at risk")]
    assert len(rows) == 3
    for row in rows:
        assert palette.contrast_ratio(row.textfont.color) >= 4.5
        assert row.textfont.size >= palette.MIN_TEXT_PX
    # each row's label: a short line in its curve's colour, then the group name, on the row's own position
    curves = {t.name: t for t in fig.data if t.mode == "lines" and t.showlegend is not False}
    labels = dict(zip(fig.layout.yaxis2.tickvals, fig.layout.yaxis2.ticktext))
    for row in rows:
        name = row.name.removesuffix(" at risk")
        label = labels[row.y[0]]
        assert label.endswith(f"</span> {name}") and f"color:{curves[name].line.color}" in label


@pytest.mark.parametrize("presentation", [False, True])
def test_left_margin_holds_the_risk_table_labels_so_plotly_need_not_widen_it(presentation):
    """The margin holds key, label and standoff as Liberation Sans (Arial's metrics, the narrowest of plotly's
    default fonts) draws them, and grows with the longest label; without the risk table it stays 80 px."""
    image_font = pytest.importorskip("PIL.ImageFont")
    try:
        font = image_font.truetype("LiberationSans-Regular.ttf", 100)
    except OSError:
        pytest.skip("Liberation Sans not installed")

    def margin(labels, risk_table=True):
        km = kaplan_meier(TIME, EVENT, by=np.array(labels * (len(TIME) // len(labels))))
        fig = km_figure(dict(km.items()), presentation=presentation, risk_table=risk_table)
        return fig, fig.layout.margin.l

    fig, short = margin(["A", "B", "C"])
    for longest, other in (("Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"), ("Community (synthetic)", "RCC"),
                           ("Melanoma", "RCC"), ("WWW mmm (n=120)", "x")):
        fig, long = margin([longest, other])
        size, standoff = fig.layout.yaxis2.tickfont.size, fig.layout.yaxis2.ticklabelstandoff
        label_px = (font.getlength(longest) / 100 + 1.48) * size  # the key "━━ " is 1.48 font sizes wide
        assert label_px + standoff + 12 <= long <= 1.1 * label_px + standoff + 16, longest
    assert margin(["Prior PD-1/PD-L1: yes", "x"])[1] > short >= 80
    assert margin(["Prior PD-1/PD-L1: yes", "x"], risk_table=False)[1] == 80

def test_each_group_has_its_own_dash_shown_in_the_legend():
    km = kaplan_meier(TIME, EVENT, by=np.array(["A", "B", "C"] * 6))
    fig = km_figure(dict(km.items()))
    curves = [t for t in fig.data if t.mode == "lines" and t.showlegend is not False]
    assert [c.line.dash for c in curves] == ["solid", "dash", "dot"]
    assert fig.layout.showlegend is not False


def test_ci_band_off_by_default_above_two_groups_and_tinted_by_group(curves):
    assert ci_band_default(1) and ci_band_default(2) and not ci_band_default(3)
    km3 = dict(kaplan_meier(TIME, EVENT, by=np.array(["A", "B", "C"] * 6)).items())
    assert not any(t.name.endswith(" CI") for t in km_figure(km3).data)
    assert any(t.name.endswith(" upper CI") for t in km_figure(km3, show_ci=True).data)
    fig = km_figure(curves)
    for name in ("A", "B"):
        band = traces(fig)[f"{name} upper CI"]
        color = traces(fig)[name].line.color
        r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
        assert band.fillcolor.startswith(f"rgba({r},{g},{b},")
        assert float(band.fillcolor.rstrip(")").split(",")[-1]) <= 0.15
        assert band.line.width == 0


@pytest.mark.parametrize("presentation", [False, True])
def test_subtitle_is_at_least_12_px(presentation):
    km = kaplan_meier(TIME, EVENT)
    fig = km_figure({"All": km}, subtitle="Combined sample · n = 18 of 18 patients", presentation=presentation)
    assert fig.layout.title.subtitle.font.size >= 12
    # every other builder's subtitle (palette.title_html)
    style = palette.figure_style(presentation)
    assert palette.subtitle_size(style) >= 12
    assert f"font-size:{palette.subtitle_size(style)}px" in palette.title_html("T", "a subtitle", style)


def test_presentation_palette_is_high_contrast():
    colors = palette.figure_style(presentation=True).colors
    assert colors[:3] == palette.OKABE_ITO[:3] and set(colors) <= set(palette.OKABE_ITO)
    assert all(palette.contrast_ratio(c) >= 3.0 for c in colors)  # WCAG 1.4.11, graphical objects


def test_presentation_mode_is_larger():
    km = kaplan_meier(TIME, EVENT)
    normal, present = km_figure({"All": km}), km_figure({"All": km}, presentation=True)
    assert present.layout.font.size > normal.layout.font.size
    assert present.data[2].line.width > normal.data[2].line.width


def panel_heights(fig: go.Figure) -> tuple[float, float]:
    """Pixel heights of the curve panel and of the risk-table panel (0 without one)."""
    area = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    top = fig.layout.yaxis.domain
    table = fig.layout.yaxis2.domain if "yaxis2" in fig.layout and fig.layout.yaxis2.domain else (0, 0)
    return area * (top[1] - top[0]), area * (table[1] - table[0])


@pytest.mark.parametrize("n_groups", [1, 2, 3, 6])
@pytest.mark.parametrize("risk_table", [True, False])
def test_presentation_figure_with_its_risk_table_has_one_screen_height(n_groups, risk_table):
    groups = np.array([f"Group {i}" for i in range(n_groups)] * 6)
    time = np.arange(1.0, len(groups) + 1)
    events = np.ones(len(time), bool)
    results = kaplan_meier(time, events, by=groups) if n_groups > 1 else {"All": kaplan_meier(time, events)}
    subtitle = "Combined sample (PROCLAIM-like + community-like) · synthetic · n = 107 of 107 patients · All patients"
    fig = km_figure(dict(results), subtitle=subtitle, presentation=True, risk_table=risk_table)
    assert fig.layout.height == PRESENTATION_FIGURE_PX
    plot, table = panel_heights(fig)
    assert plot >= MIN_PLOT_PX
    if risk_table:
        assert table >= n_groups * 30  # a readable row per group at the 18-px table font
    normal = km_figure(dict(results), subtitle=subtitle, risk_table=risk_table)
    assert panel_heights(normal)[0] >= palette.figure_style().height  # normal mode: the panel's own height


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


@pytest.mark.parametrize(("grouping", "n_groups"), [(schema.DISEASE, 2), (schema.LINE_OF_IL2, 3)])
def test_survival_page_ci_band_toggle_defaults_by_number_of_groups(grouping, n_groups):
    at = open_app({"km_by": grouping}, "pages/3_Survival.py")
    toggle = next(t for t in at.toggle if t.label == "CI band")
    assert toggle.value is ci_band_default(n_groups) is (n_groups <= 2)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(t["name"].endswith(" at risk") for t in spec["data"]) == n_groups
    assert any(t["name"].endswith(" upper CI") for t in spec["data"]) is (n_groups <= 2)
