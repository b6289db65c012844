"""The Survival page computes its results before it draws them: the browser renders each burst of elements that
reaches it while the server works, so the figure, its tables and the comparisons beside it must be sent together.
Recorded in AppTest: the order of the page's analysis calls and of the elements the script run sends."""
from __future__ import annotations

import json

import pytest
from streamlit.runtime.scriptrunner import script_runner

import app_ui.survival_sections as sections
import app_ui.survival_view as survival_view
from support.apptest import open_app, rerun

SURVIVAL = "pages/3_Survival.py"


@pytest.fixture
def events(monkeypatch):
    """("element", type, label) for each element a run sends and ("call", name) for each analysis the page asks
    for, in order (the real functions run; they are only wrapped)."""
    log: list[tuple] = []
    enqueue = script_runner.ScriptRunner._enqueue_forward_msg

    def recording_enqueue(runner, msg):
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            kind = element.WhichOneof("type")
            log.append(("element", kind, getattr(getattr(element, kind), "label", "")))
        return enqueue(runner, msg)

    def recording(name, function):
        def call(*args, **kwargs):
            log.append(("call", name))
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(script_runner.ScriptRunner, "_enqueue_forward_msg", recording_enqueue)
    for name in ("survival_view", "km_chart"):  # the page imports them from the module at each run
        monkeypatch.setattr(survival_view, name, recording(name, getattr(survival_view, name)))
    monkeypatch.setattr(sections, "comparison", recording("comparison", sections.comparison))
    return log


def first(log, kind: str, label: str | None = None) -> int:
    return next(i for i, e in enumerate(log) if e[0] == "element" and e[1] == kind and label in (None, e[2]))


@pytest.mark.parametrize("query", [{"km_by": "line_of_il2"}, {"km_by": "line_of_il2", "km_ci3": "1"},
                                   {"km_by": "None", "endpoint": "pfs"}])
def test_results_are_computed_before_the_first_result_is_drawn(events, query):
    at = open_app(query, page=SURVIVAL)
    events.clear()
    rerun(at)  # a rerun on the page itself: its own run, from its first element
    calls = [i for i, e in enumerate(events) if e[0] == "call"]
    names = {events[i][1] for i in calls}
    assert {"survival_view", "km_chart"} <= names
    if query["km_by"] != "None":
        assert "comparison" in names  # the pairwise log-rank of the 3 lines, next to the figure
    # the CI band toggle is drawn once its number of groups is known; the figure's build waits for nothing after it
    ci_band = first(events, "checkbox", "CI band")  # st.toggle sends a checkbox element
    assert max(calls) < ci_band, [e for e in events[ci_band:] if e[0] == "call"]
    assert ci_band < first(events, "plotly_chart")


def test_ci_band_switched_in_the_browser_is_drawn_in_the_same_run():
    at = open_app({"km_by": "None"}, page=SURVIVAL)

    def bands(at) -> int:
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        return sum(str(t.get("name", "")).endswith("lower CI") for t in spec["data"])

    assert at.toggle(key="w_km_ci").value is True and bands(at) > 0
    at.toggle(key="w_km_ci").set_value(False).run()
    assert not at.exception
    assert at.toggle(key="w_km_ci").value is False and bands(at) == 0
    at.toggle(key="w_km_ci").set_value(True).run()
    assert bands(at) > 0
