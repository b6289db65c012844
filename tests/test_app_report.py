"""AppTest of the Report page: nothing is built until asked; the build follows data, filters and options."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app_ui.isolated_frame import inner_document
from il2lib import schema
from support.apptest import open_app, rerun, texts

PAGE = "pages/6_Report.py"


def _build(at):
    at.button(key="report_build").click()
    return rerun(at)


def _download_labels(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_report_waits_for_the_button_then_offers_html_and_pdf():
    at = open_app(page=PAGE)
    assert any("press **Build report**" in t for t in texts(at, "info"))
    assert "Download HTML" not in _download_labels(at)
    at = _build(at)
    success = texts(at, "success")
    assert len(success) == 1 and "107 patients" in success[0], success
    assert {"Download HTML", "Download PDF"} <= set(_download_labels(at))
    assert any("Data fingerprint (SHA-256 of the file)" in t for t in texts(at, "caption"))


@pytest.mark.parametrize("query, n", [({"data": "proclaim"}, 57), ({"data": "proclaim", "disease": "rcc"}, 17)])
def test_report_follows_the_data_set_and_the_filter(query, n):
    at = _build(open_app(query, page=PAGE))
    success = texts(at, "success")
    assert len(success) == 1 and f": {n} patients" in success[0], success


def test_changing_an_option_asks_for_a_new_build():
    at = _build(open_app({"data": "proclaim"}, page=PAGE))
    assert texts(at, "success")
    at.selectbox(key="w_report_endpoint").select("pfs")
    at = rerun(at)
    assert not texts(at, "success")
    assert any("press **Build report**" in t for t in texts(at, "info"))
    at = _build(at)
    assert texts(at, "success")


def test_small_cell_protection_builds_the_report_masked():
    at = open_app({"data": "proclaim"}, page="pages/2_Response.py")  # the switch lives on the analysis pages
    at.toggle(key="w_mask").set_value(True)
    at = rerun(rerun(at).switch_page(PAGE))
    assert any("the report is masked like the pages" in t for t in texts(at, "caption"))
    at = _build(at)
    assert texts(at, "success") and {"Download HTML", "Download PDF"} <= set(_download_labels(at))
    srcdoc = at.get("iframe")[0].proto.srcdoc
    assert "Small-cell protection: this report was built with small cells masked (threshold 5)" in srcdoc
    assert "--mask 5" in srcdoc


def test_switching_small_cell_protection_asks_for_a_new_build():
    at = _build(open_app({"data": "proclaim", "disease": "rcc"}, page=PAGE))
    assert texts(at, "success")
    at.session_state["v_mask"] = True  # the sidebar switch (the report's cache key holds the threshold)
    at = rerun(at)
    assert not texts(at, "success")
    assert any("press **Build report**" in t for t in texts(at, "info"))


def _report_frames(at) -> list:
    """The report preview's frames (the sidebar's Copy link button is a frame too)."""
    return [f for f in at.get("iframe") if f.proto.alt == "Preview of the meeting report"]


def test_preview_is_an_iframe_running_the_report_scripts_without_deprecated_api(monkeypatch):
    """The preview uses ``st.iframe`` (``components.v1.html`` is deprecated in Streamlit 1.67): the report's
    plotly figures are drawn by inline scripts, which ``st.html`` would not run."""
    import streamlit.deprecation_util as deprecation

    warned: list[str] = []
    original = deprecation.show_deprecation_warning
    monkeypatch.setattr(deprecation, "show_deprecation_warning",
                        lambda message, *a, **k: (warned.append(str(message)), original(message, *a, **k)))
    at = _build(open_app({"data": "proclaim", "disease": "rcc"}, page=PAGE))
    frames = _report_frames(at)
    assert len(frames) == 1
    proto = frames[0].proto
    assert proto.WhichOneof("type") == "srcdoc" and proto.scrolling
    report = inner_document(proto.srcdoc)
    assert report.lstrip().lower().startswith("<!doctype html") and "Plotly.newPlot" in report
    assert proto.alt == "Preview of the meeting report"
    assert not [w for w in warned if "components.v1" in w], warned


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))
        self.scripts += tag == "script"


def test_preview_runs_the_report_in_a_frame_without_the_app_origin(monkeypatch):
    """Streamlit frames an HTML string with ``allow-same-origin`` (its own sandbox list), so the report's
    scripts must not be in that document. They run one frame deeper, in an iframe sandboxed without
    ``allow-same-origin``: such a document gets an opaque origin and cannot reach the app (HTML standard,
    "sandboxed origin browsing context flag"). A data: URL would do the same, but Chromium blanks a frame
    whose data URL is over about 2 MB, and the report is about 6.5 MB as base64. The download is unchanged."""
    from streamlit.delta_generator import DeltaGenerator

    downloads: dict[str, object] = {}
    original = DeltaGenerator.download_button

    def spy(self, label, data=None, *args, **kwargs):
        downloads[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    at = _build(open_app({"data": "proclaim", "disease": "rcc"}, page=PAGE))
    frames = _report_frames(at)
    assert len(frames) == 1
    outer = frames[0].proto.srcdoc
    parsed = _Frames()
    parsed.feed(outer)
    assert parsed.scripts == 0 and "<script" not in outer.lower(), "a script in the frame that has the app's origin"
    assert len(parsed.frames) == 1
    sandbox = parsed.frames[0]["sandbox"].split()
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox, sandbox
    assert not {"allow-top-navigation", "allow-popups"} & set(sandbox), sandbox
    assert parsed.frames[0]["srcdoc"].encode("utf-8") == downloads["Download HTML"], "preview is not the download"
    assert "Plotly.newPlot" in parsed.frames[0]["srcdoc"]


def test_compare_groups_defaults_to_prior_pd1_when_both_levels_are_present():
    at = open_app(page=PAGE)  # the combined sample: prior PD-1/PD-L1 yes and no
    choice = at.selectbox(key="w_rep_by")
    assert choice.value == schema.PRIOR_PD1 and choice.label == "Compare groups"
    assert choice.options[:3] == ["No grouping", "Disease", "Prior PD-1/PD-L1"], choice.options
    assert "rep_by" not in at.query_params  # the default stays out of the URL
    srcdoc = inner_document(_build(at).get("iframe")[0].proto.srcdoc)
    assert "<dt>Groups compared</dt><dd>Prior PD-1/PD-L1</dd>" in srcdoc and "--by prior_pd1_pdl1" in srcdoc
    proclaim = open_app({"data": "proclaim"}, page=PAGE)  # prior PD-1/PD-L1 yes only
    assert proclaim.selectbox(key="w_rep_by").value == schema.DISEASE


def test_compare_groups_round_trips_through_the_url():
    at = open_app(page=PAGE)
    at.selectbox(key="w_rep_by").select(schema.LINE_OF_IL2)
    at = rerun(at)
    assert at.query_params["rep_by"] == schema.LINE_OF_IL2
    pasted = open_app({"rep_by": schema.LINE_OF_IL2}, page=PAGE)
    assert pasted.selectbox(key="w_rep_by").value == schema.LINE_OF_IL2
    srcdoc = inner_document(_build(pasted).get("iframe")[0].proto.srcdoc)
    assert "<dt>Groups compared</dt><dd>Line of IL-2</dd>" in srcdoc and "--by line_of_il2" in srcdoc
    none = open_app({"rep_by": "None"}, page=PAGE)
    assert none.selectbox(key="w_rep_by").value is None
