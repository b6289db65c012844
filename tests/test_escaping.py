"""Text from an upload renders as text everywhere: AppTest level.

A cohort whose file name, column names and values carry Markdown / HTML / LaTeX payloads (each
with a random token) is uploaded; every page is run. Every string Streamlit would render as
Markdown (markdown and caption bodies, alerts, headings, widget labels, help, radio options,
expander and tab labels) must not contain a payload verbatim: the app escapes it, so the raw
payload is never a substring. HTML contexts (``components.html`` srcdoc, ``unsafe_allow_html``
markdown) must not contain the raw payload either. Static tables (``st.table``) render Markdown, so their
headers and cells are checked too; grids (``st.dataframe``) show values as text by construction and are
not checked here; the browser check is tests/e2e/test_security_e2e.py.
"""
from __future__ import annotations

import json

import pytest
from streamlit import dataframe_util

from app_ui.isolated_frame import inner_document
from il2lib import schema
from support import security as sh

MARKDOWN_FIELDS = {"body", "label", "help", "caption", "placeholder", "captions"}
HTML_FIELDS = {"srcdoc"}  # plus plotly figure strings ("figure.html")
REPORT_BUTTON = "report_build"
# Group every page by the source column, whose values are payloads: they become legend entries,
# axis labels and table headers (page options read these URL parameters on first visit).
GROUP_BY_SOURCE = {"t1_by": schema.SOURCE, "resp_by": schema.SOURCE, "km_by": schema.SOURCE,
                   "tox_by": schema.SOURCE}
NOT_RENDERED_AS_MARKDOWN = {"dataframe", "arrow_data_frame", "plotly_chart", "download_button", "vega_lite_chart",
                            "json", "code", "text", "file_uploader_state_value", "selectbox", "multiselect"}


HTML_PAYLOADS = ("img", "script", "h1")  # Markdown payloads are inert text inside HTML


def payloads(token: str) -> dict[str, str]:
    return {
        "img": f"<img src=x onerror=alert('{token}')>",
        "script": f"<script>alert('{token}')</script>",
        "h1": f"<h1>{token}</h1>",
        "bold": f"**{token}bold**",
        "link": f"[{token}](javascript:alert(1))",
        "colour": f":red[{token}]",
        "latex": f"$${token}$$",
    }


def hostile_upload(token: str) -> tuple[str, bytes]:
    p = payloads(token)
    frame = sh.marked_cohort(token, extra={p["img"]: "a", p["bold"]: p["colour"], p["link"]: p["latex"]})
    frame[schema.HISTOLOGY] = p["script"]
    frame[schema.SOURCE] = [p["h1"] if k % 2 else p["bold"] for k in range(len(frame))]
    frame.loc[3, schema.DISEASE] = f"<b>{token}lung</b>"
    frame.loc[4, schema.SEX] = p["link"]
    return f"{p['img']}.csv", frame.to_csv(index=False).encode()


def _strings(message, field_names: set[str], prefix: str = "") -> list[tuple[str, str]]:
    """(field path, value) of every string field named in ``field_names`` below a protobuf message."""
    found = []
    for descriptor, value in message.ListFields():
        name = descriptor.name
        if name in NOT_RENDERED_AS_MARKDOWN:
            continue
        single = hasattr(value, "ListFields") or isinstance(value, (str, bytes, int, float, bool))
        values = [value] if single else list(value)  # a repeated field
        for item in values:
            if isinstance(item, str) and name in field_names:
                found.append((f"{prefix}{name}", item))
            elif hasattr(item, "ListFields"):
                found += _strings(item, field_names, f"{prefix}{name}.")
    return found


def rendered_strings(at, kinds_seen: set[str]) -> list[tuple[str, str, str]]:
    """(element kind, field path, value) of the Markdown- and HTML-rendered strings of the last run."""
    out = []
    for kind, proto in sh.rendered_protos(at):
        kinds_seen.add(kind)
        if kind in NOT_RENDERED_AS_MARKDOWN or not hasattr(proto, "ListFields"):
            continue
        for path, value in _strings(proto, MARKDOWN_FIELDS | HTML_FIELDS | {"options"}):
            if path.endswith("options") and kind != "radio":
                continue  # selectbox / multiselect options are plain text
            out.append((kind, path, value))
            inner = inner_document(value) if path.endswith("srcdoc") else None
            if inner is not None:  # the report preview: the document inside its sandboxed frame
                out.append((kind, f"{path}.srcdoc", inner))
        if kind == "markdown" and getattr(proto, "allow_html", False):
            out.append((kind, "unsafe_allow_html body", proto.body))
        if kind == "table":  # st.table renders Markdown in its headers and cells
            frame = dataframe_util.convert_arrow_bytes_to_pandas_df(proto.arrow_data.data)
            out += [(kind, "header", str(c)) for c in frame.columns]
            out += [(kind, "cell", v) for v in frame.to_numpy().ravel() if isinstance(v, str)]
    return out


def _json_strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _json_strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _json_strings(value)]
    return []


def plotly_strings(at) -> list[tuple[str, str, str]]:
    """Every string of every plotly figure (names, titles, hover text, annotations): plotly renders a
    subset of HTML in them, so upload text must arrive HTML-escaped."""
    return [("plotly_chart", "figure.html", text) for kind, proto in sh.rendered_protos(at) if kind == "plotly_chart"
            for text in _json_strings(json.loads(proto.spec))]


@pytest.fixture(scope="module")
def hostile_session():
    token = sh.marker()
    name, data = hostile_upload(token)
    at = sh.upload(sh.new_session(), name, data)
    pages = []
    for page in ["app.py", *sh.page_scripts()]:
        if page != "app.py":
            at.query_params.update(GROUP_BY_SOURCE)
            at.switch_page(page).run()
        if any(b.key == REPORT_BUTTON for b in at.button):  # the report preview is an HTML iframe
            at.button(key=REPORT_BUTTON).click().run()
        exceptions = [e.message for e in at.exception]
        kinds: set[str] = set()
        strings = rendered_strings(at, kinds) + plotly_strings(at)
        pages.append((page, exceptions, strings, "\n".join(str(p) for _k, p in sh.rendered_protos(at))))
    return token, pages


def test_every_page_runs_with_the_hostile_upload(hostile_session):
    _token, pages = hostile_session
    assert [(page, exc) for page, exc, _s, _t in pages if exc] == []


def test_payloads_reach_the_pages(hostile_session):
    """Not vacuous: the token is on the pages (escaped or in tables), and in the report preview."""
    token, pages = hostile_session
    assert any(token in text for _p, _e, _s, text in pages)
    srcdocs = [value for _p, _e, strings, _t in pages for _k, path, value in strings if path.endswith("srcdoc")]
    assert srcdocs, "the report page drew no HTML preview"
    assert any(token in doc for doc in srcdocs), "the report preview shows nothing of the upload"
    figure_texts = [v for _p, _e, strings, _t in pages for _k, path, v in strings if path == "figure.html"]
    assert any(token in text for text in figure_texts), "no figure carries upload text (grouping by source failed?)"
    assert any(token in value for _p, _e, strings, _t in pages for kind, _f, value in strings if kind == "table"), \
        "no static table carries upload text: their escaping would go unchecked"
    assert any(token in value for _p, _e, strings, _t in pages for _k, _f, value in strings), \
        "no Markdown-rendered string carries upload text: the escaping check below would be empty"


def test_no_payload_is_rendered_as_markdown_or_html(hostile_session):
    token, pages = hostile_session
    markdown_raw = list(payloads(token).values())
    html_raw = [payloads(token)[k] for k in HTML_PAYLOADS]

    def unsafe(path: str, value: str) -> bool:
        if path == "unsafe_allow_html body":
            return token in value
        if path.rsplit(".", 1)[-1] in HTML_FIELDS or path == "figure.html":
            return any(p in value for p in html_raw)
        return any(p in value for p in markdown_raw)

    offending = [(page, kind, path, value[:160]) for page, _e, strings, _t in pages
                 for kind, path, value in strings if unsafe(path, value)]
    assert offending == [], "upload text rendered unescaped:\n" + "\n".join(map(str, offending))
