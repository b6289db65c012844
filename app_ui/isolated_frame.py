"""Show a whole HTML document with scripts (the meeting report) inside the app, without the app's origin.

``st.iframe`` embeds an HTML string through ``srcdoc`` in Streamlit's sandbox, which includes
``allow-same-origin``: the document's scripts would run with the app's origin and could read the page
and its storage or call the server in the user's name. A ``data:`` URL has an opaque origin, but
Chromium leaves a frame blank (``about:blank#blocked``) for a data URL over about 2 MB, and the report
with plotly.js inlined is about 6.5 MB as base64. So the document goes one frame deeper: the frame
Streamlit draws holds no script, only ``<iframe sandbox="allow-scripts allow-downloads" srcdoc=...>``.
Without ``allow-same-origin`` the inner document has an opaque origin (HTML standard, "sandboxed
origin browsing context flag"): its scripts run, but cannot touch the outer frames or the app, and
without ``allow-top-navigation`` / ``allow-popups`` it can neither navigate the app nor open windows.
"""
from __future__ import annotations

from html import escape

#: Sandbox of the inner frame: scripts (plotly draws the figures) and the modebar's PNG download only.
SANDBOX = "allow-scripts allow-downloads"

_STYLE = "html,body{margin:0;height:100%}iframe{display:block;border:0;width:100%;height:100%}"


def isolated_document(html_text: str, title: str) -> str:
    """A script-free page that shows ``html_text`` in a frame sandboxed without ``allow-same-origin``."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{_STYLE}</style></head><body>'
            f'<iframe title="{escape(title)}" sandbox="{SANDBOX}" srcdoc="{escape(html_text, quote=True)}">'
            "</iframe></body></html>")


def inner_document(page: str) -> str | None:
    """The document an :func:`isolated_document` page shows (None for any other page); for tests and scanners."""
    from html.parser import HTMLParser

    found: list[str] = []

    class _Frames(HTMLParser):
        def handle_starttag(self, tag, attrs):
            values = dict(attrs)
            if tag == "iframe" and values.get("sandbox") == SANDBOX and values.get("srcdoc") is not None:
                found.append(values["srcdoc"])

    parser = _Frames()
    parser.feed(page)
    parser.close()
    return found[0] if len(found) == 1 else None
