"""Widgets kept in plain session-state keys (app_ui.state.bind): a rerun sends an unchanged widget as the
browser has it (no value to set, so the browser need not redraw it), and a value still reaches every widget
that is new to the browser: after a page switch, a reset, or new slider bounds."""
from __future__ import annotations

from support.apptest import open_app

SURVIVAL = "pages/3_Survival.py"
WIDGETS = ("multiselect", "selectbox", "slider", "checkbox", "toggle", "number_input")


def widgets_with_a_value_to_set(at) -> list[str]:
    """Enabled widgets sent with a value to set (Streamlit sends a disabled one's value every run: the browser
    does not report it back)."""
    return [f"{kind} {w.label!r}" for kind in WIDGETS for w in at.get(kind)
            if getattr(w.proto, "set_value", False) and not w.proto.disabled]


def sidebar_value(at, label: str):
    return next(w.value for kind in ("multiselect", "toggle", "slider") for w in at.sidebar.get(kind)
                if w.label == label)


def test_a_rerun_sends_unchanged_widgets_without_a_value_to_set():
    at = open_app({"disease": "melanoma", "km_by": "line_of_il2", "mask": "1"}, page=SURVIVAL)
    at.run()
    assert not at.exception
    assert not widgets_with_a_value_to_set(at)
    assert sidebar_value(at, "Disease") == ["melanoma"] and sidebar_value(at, "Small-cell protection") is True


def test_filters_and_switches_from_the_url_reach_the_widgets_of_each_page_switched_to():
    at = open_app({"disease": "melanoma", "line_of_il2": "3+", "mask": "1"}, page=SURVIVAL)
    for page in ("app.py", "pages/1_Cohort.py", SURVIVAL):
        at.switch_page(page).run()
        assert not at.exception
        assert sidebar_value(at, "Disease") == ["melanoma"], page
        assert sidebar_value(at, "Line of IL-2") == ["3+"], page
        assert sidebar_value(at, "Small-cell protection") is True, page


def test_reset_clears_the_filter_widgets():
    at = open_app({"disease": "melanoma", "sex": "F"}, page=SURVIVAL)
    at.sidebar.button(key="reset_filters").click().run()
    assert not at.exception
    assert sidebar_value(at, "Disease") == [] and sidebar_value(at, "Sex") == []
    at.run()
    assert sidebar_value(at, "Disease") == []


def test_the_age_range_is_kept_when_the_slider_is_drawn_again():
    at = open_app({"age_at_il2": "40-70"}, page=SURVIVAL)
    assert sidebar_value(at, "Age at IL-2 (years)") == (40.0, 70.0)
    at.run()
    at.switch_page("app.py").run()
    assert sidebar_value(at, "Age at IL-2 (years)") == (40.0, 70.0)
