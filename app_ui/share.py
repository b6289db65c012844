"""Sharing a view: the sidebar's "Copy link" button, and what a link made on an upload asks of the colleague.

A link carries the page, the filters, the page settings and, for an upload, the file's name and a short
prefix of its SHA-256 (:func:`app_ui.state.upload_params`), never its content. Opened in a session that
does not hold that file (a colleague's browser, or the same browser after a reconnect that lost the upload),
the page is blocked by :func:`require_linked_upload` until the same file is uploaded: its filters then apply.
"""
from __future__ import annotations

import html

import streamlit as st

from app_ui import data as data_mod, state
from app_ui.loaded import LoadedData
from app_ui.markdown import md_escape

COPY_LINK_HEIGHT = 44


def linked_upload_text(name: str, fingerprint: str) -> str:
    """``This link was made on an uploaded file: big.csv (fingerprint ab12cd34).`` (plain text)"""
    return (f"This link was made on an uploaded file: {name}"
            + (f" (fingerprint {fingerprint})" if fingerprint else "") + ".")


def pending_link() -> tuple[str, str] | None:
    """(file name, fingerprint) of the upload the current view needs and this session does not hold."""
    ss = st.session_state
    if ss.get(state.DATA_CHOICE) != data_mod.UPLOAD or ss.get(data_mod.UPLOAD_FILE) is not None:
        return None
    return ss.get(state.LINKED_UPLOAD)


def _open_default() -> None:
    """Button callback: give up the link's upload and open the default data set (filters kept)."""
    st.session_state.pop(state.LINKED_UPLOAD, None)
    st.session_state[state.DATA_CHOICE] = data_mod.default_choice()
    st.session_state.pop(state.widget_key("data"), None)


def require_linked_upload(loaded: LoadedData) -> None:
    """Block the page while the view is a link's upload that this session does not hold: the file's name and
    fingerprint, the uploader, and a way out to the default data set. After another file than the link's was
    uploaded, say so (not blocking)."""
    linked = pending_link()
    if linked is None:
        mismatch = st.session_state.get(state.UPLOAD_MISMATCH)
        current = st.session_state.get(state.UPLOAD_ID)
        if mismatch and current and loaded.choice == data_mod.UPLOAD and current[1] == mismatch[2]:
            name, fingerprint, uploaded = mismatch
            st.warning(md_escape(f"{linked_upload_text(name, fingerprint)} The file uploaded now has fingerprint "
                                 f"{uploaded}: it is a different file, so the link's filters apply to other "
                                 "data and its numbers will differ."), icon=":material/difference:")
        return
    name, fingerprint = linked
    st.error(md_escape(linked_upload_text(name, fingerprint) + " Upload the same file to see this view.")
             + "\n\nThe file never travels with a link. If you made this view yourself, the server lost the "
               "upload (a reconnect or a restart): upload it again. Nothing is shown from other data meanwhile.",
             icon=":material/lock:")
    st.file_uploader(md_escape(f"Upload {name}"), type=data_mod.UPLOAD_TYPES, key="w_upload",
                     on_change=data_mod.store_upload, args=("w_upload", data_mod.UPLOAD_FILE))
    st.button(f"Open {data_mod.choice_label(data_mod.default_choice())} instead", on_click=_open_default,
              icon=":material/swap_horiz:", help="Keeps the link's filters on the default data set.")
    if st.session_state.get(state.PRESENT):  # presentation mode hides the uploader
        st.button("Leave presentation mode to upload the file", on_click=_leave_presentation,
                  icon=":material/slideshow:")
    st.stop()


def _leave_presentation() -> None:
    st.session_state[state.PRESENT] = False
    st.session_state.pop(state.widget_key("present"), None)


def reproduces(loaded: LoadedData, filter_text: str) -> str:
    """What a copied link reopens (markdown)."""
    if loaded.choice == data_mod.UPLOAD:
        identity = st.session_state.get(state.UPLOAD_ID)
        data = (f"the upload {identity[0]} (fingerprint {identity[1]}); the colleague is asked to upload the "
                "same file, the link does not contain it") if identity else "an upload"
    else:
        data = loaded.label
    return ("Reopens this page with **data** " + md_escape(data) + "; **filters** " + md_escape(filter_text)
            + "; the settings and this page's choices (groupings, endpoints, display toggles).")


def copy_link(loaded: LoadedData, filter_text: str) -> None:
    """Sidebar: a button copying the page's address (read in the browser when clicked, so it has every choice
    made on the page) and a caption saying what it reproduces. Its script also keeps the view's upload (name and
    fingerprint) in a browser session cookie, so that a restart's new session asks for the file
    (:func:`app_ui.state.remembered_upload`) even after a page switch, which drops the URL."""
    page = (_COPY_HTML.replace("__LABEL__", html.escape("Copy link to this view"))
            .replace("__COOKIE__", state.UPLOAD_COOKIE).replace("__UPLOAD__", state.upload_cookie_value()))
    st.iframe(page, height=COPY_LINK_HEIGHT)
    st.caption(reproduces(loaded, filter_text))


_COPY_HTML = """
<style>
  body { margin: 0; font-family: "Source Sans Pro", "Source Sans 3", sans-serif; }
  button { width: 100%; padding: 0.4rem 0.75rem; border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem;
           background: #fff; color: rgb(49, 51, 63); font-size: 1rem; cursor: pointer; }
  button:hover { border-color: #ff4b4b; color: #ff4b4b; }
</style>
<button id="copy" type="button" aria-live="polite">__LABEL__</button>
<script>
  const button = document.getElementById("copy");
  const label = button.textContent;
  function say(text) { button.textContent = text; setTimeout(() => { button.textContent = label; }, 2500); }
  // the upload this view needs, kept for the browser session: a restart's new session asks for it
  const upload = "__UPLOAD__";
  window.parent.document.cookie = upload ? `__COOKIE__=${upload}; path=/; SameSite=Strict`
                                         : "__COOKIE__=; path=/; max-age=0; SameSite=Strict";
  button.addEventListener("click", async () => {
    const url = window.parent.location.href;
    button.dataset.link = url;
    try { await navigator.clipboard.writeText(url); say("Link copied"); }
    catch (e) { window.parent.prompt("Copy this link:", url); }
  });
</script>
"""
