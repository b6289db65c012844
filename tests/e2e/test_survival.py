"""The survival page draws a plotly Kaplan-Meier figure with one curve per group and a readable
number-at-risk table under it, at the figure's own ticks."""
from __future__ import annotations

import pytest

from il2lib import schema

from . import ui


def _inside(inner, outer, tol: float = 1.0) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol
            and inner[2] <= outer[2] + tol and inner[3] <= outer[3] + tol)


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def assert_km_readable(page) -> None:
    """Title and subtitle are not cut off, the legend covers neither, tick labels do not collide."""
    geo = ui.km_geometry(page)
    for part in geo["titles"]:
        assert _inside(part["box"], geo["figure"]), f"figure title cut off: {part['text']!r}"
        for legend in geo["legend"]:
            assert not _overlap(part["box"], legend["box"]), f"legend covers the title {part['text']!r}"
    for axis in ("xticks", "yticks"):
        boxes = sorted(t["box"] for t in geo[axis])
        for a, b in zip(boxes, boxes[1:]):
            assert not _overlap(a, b), f"{axis} labels overlap"


def assert_risk_table_under_figure(page) -> None:
    geo = ui.km_geometry(page)
    assert geo["risk"], "no number-at-risk table drawn"
    above = [t["box"][3] for t in geo["xticks"] + geo["xtitle"]] + [geo["panel"][3]]
    top_of_table = min(t["box"][1] for t in geo["risk"])
    assert top_of_table >= max(above) - 1, "number-at-risk table overlaps the curves or the time axis"
    for part in geo["risk"] + geo["risk_labels"]:
        assert _inside(part["box"], geo["figure"]), f"at-risk text {part['text']!r} cut off by the figure"
        assert _inside(part["box"], geo["viewport"]), f"at-risk text {part['text']!r} outside the viewport"
    rows: dict[float, list] = {}
    for part in geo["risk"]:
        rows.setdefault(round(part["box"][1]), []).append(part["box"])
    for boxes in rows.values():
        boxes.sort()
        for left, right in zip(boxes, boxes[1:]):
            assert left[2] <= right[0] + 0.5, "neighbouring at-risk numbers overlap"
    ticks = sorted(float(t["text"]) for t in geo["xticks"])
    for group, cells in ui.at_risk_rows(page).items():
        assert sorted(x for x, _ in cells) == ticks, f"{group}: at-risk times differ from the axis ticks"


def _curves(page, n: int) -> list[str]:
    curves = ui.km_curves(page)
    assert len(curves) == n, curves
    return curves


def _titled(page, text: str) -> None:
    assert text.lower() in ui.figure_title(page).lower(), ui.figure_title(page)


def _medians_n(page) -> dict[str, int]:
    rows = ui.grid_rows(ui.find_grid(page, "n (events)"))
    return {r["Group"]: int(r["n (events)"].split()[0]) for r in rows}


@pytest.mark.parametrize(
    ("grouping", "n_groups"),
    [("Disease", 2), ("Source", 2), ("Line of IL-2", 3), ("No grouping", 1)],
)
def test_km_figure_has_one_curve_per_group_and_risk_table(open_at, grouping, n_groups):
    page = open_at("/Survival")
    if grouping != "Disease":
        ui.choose_select(page, "Compare groups", grouping)
    assert page.locator(ui.PLOTLY).count() >= 1
    curves = ui.eventually(lambda: _curves(page, n_groups))
    ui.shot(page, f"survival_by_{grouping.lower().replace(' ', '_').replace('-', '')}")
    if n_groups > 1:
        assert ui.legend_labels(page) == curves
    at_risk = ui.at_risk_rows(page)
    assert sorted(at_risk) == sorted(curves)
    medians = _medians_n(page)
    for group, cells in at_risk.items():
        assert cells[0][0] == 0 and int(cells[0][1]) == medians[group], f"{group}: n at risk at 0 != n"
    assert sum(medians.values()) == 107
    assert page.get_by_text("Number at risk", exact=True).first.is_visible()
    assert_risk_table_under_figure(page)
    assert_km_readable(page)


@pytest.mark.parametrize("endpoint", ["Progression-free survival", "Duration of response"])
def test_other_endpoints_draw(open_at, endpoint):
    page = open_at("/Survival")
    ui.choose_select(page, "Endpoint", endpoint)
    ui.eventually(lambda: _titled(page, endpoint))
    assert ui.km_curves(page) == ["Melanoma", "RCC"]
    assert_risk_table_under_figure(page)
    ui.shot(page, f"survival_{schema.norm(endpoint).replace(' ', '_')}")


def test_grouping_by_response_uses_landmark_and_warns(open_at):
    page = open_at("/Survival")
    ui.choose_select(page, "Compare groups", "Clinical benefit")
    assert "guarantee-time" in ui.main_text(page)
    ui.eventually(lambda: _titled(page, "landmark"))
    ui.eventually(lambda: _curves(page, 2))
    assert_risk_table_under_figure(page)
    ui.shot(page, "survival_by_clinical_benefit_landmark")


def test_response_over_time_draws_the_simon_makuch_plot_with_its_test(open_at):
    page = open_at("/Survival")
    ui.choose_select(page, "Compare groups", "Objective response")
    ui.eventually(lambda: _titled(page, "landmark"))  # the landmark view stays the default
    ui.open_models_tab(page, "Response over time")

    def simon_makuch() -> int:
        titles = [ui.figure_title(page, i) for i in range(page.locator(ui.PLOTLY).count())]
        found = [i for i, t in enumerate(titles) if "over time (Simon-Makuch)" in t]
        assert found, titles
        return found[0]

    index = ui.eventually(simon_makuch)
    assert ui.km_curves(page, index) == ["Not (yet) responded", "Responded"]
    assert sorted(ui.at_risk_rows(page, index)) == ["Not (yet) responded", "Responded"]
    assert "Mantel-Byar" in ui.figure_title(page, index)
    text = ui.main_text(page)
    assert "Mantel-Byar test: chi-square = " in text and "guarantee-time bias" in text
    page.locator(ui.PLOTLY).nth(index).evaluate("e => e.scrollIntoView({block: 'start'})")
    ui.shot(page, "screens/survival_time_dependent")
