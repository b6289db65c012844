"""Session-state keys, the filter state <-> :class:`il2lib.CohortFilter` conversion, and URL sync.

Every filter value lives in a plain session-state key (``v_<name>``) that survives page
switches; the widget drawing it uses a separate key (``w_<name>``) that is re-seeded from the
plain key before each draw. The first run of a session seeds the plain keys from the URL
(``st.query_params``); every run writes the URL back, so a copied link reopens the view.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from il2lib import schema
from il2lib.cohort import EXTRA_PREFIX, CohortFilter

# Plain (persistent) keys of the global state.
DATA_CHOICE = "v_data"
PRESENT = "v_present"
CB_SD = "v_cb_sd"
CB_WINDOW = "v_cb_window"
PSEUDONYMS = "v_pseudonyms"
URL_PROBLEMS = "url_problems"
INITIALISED = "state_initialised"
SEEDED_WIDGETS = "seeded_widgets"  # widget key -> (page, identity) it was last seeded on

# URL parameters that are not filters (none of them is a schema column name).
Q_PRESENT, Q_DATA, Q_CB_SD = "present", "data", "cb_sd"
Q_CB_WINDOW = "cb_window"
# A view of an upload names the file and a short prefix of its SHA-256 (never its content).
Q_UPLOAD, Q_UPLOAD_FP = "upload", "upload_fp"
UPLOAD_CHOICE = "upload"  # the data-source choice of an upload (app_ui.data.UPLOAD)
UPLOAD_ID = "upload_id"  # (file name, fingerprint) of the file uploaded in this session
LINKED_UPLOAD = "linked_upload"  # (file name, fingerprint) a link names, until the same file is uploaded
UPLOAD_MISMATCH = "upload_mismatch"  # (linked name, linked fingerprint, uploaded fingerprint) after another file
FINGERPRINT_CHARS = 8
_FINGERPRINT = re.compile(r"[0-9a-f]{6,64}")

FILTER_KEYS = ("disease", "prior", "agent", "line", "sex", "age", "ecog", "source", "extra_col", "extra_vals")
NO_EXTRA = ""


@dataclass(frozen=True)
class FilterState:
    """The sidebar's filter choices as plain Python values (what the widgets show)."""

    disease: tuple[str, ...] = ()
    prior: tuple[str, ...] = ()  # "yes" / "no"
    agent: tuple[str, ...] = ()
    line: tuple[str, ...] = ()
    sex: tuple[str, ...] = ()
    age: tuple[float, float] | None = None
    ecog: tuple[int, ...] = ()
    source: tuple[str, ...] = ()
    extra_col: str = NO_EXTRA
    extra_vals: tuple[str, ...] = ()

    def to_filter(self) -> CohortFilter:
        """The il2lib filter these choices mean (an unset age slider is no restriction)."""
        extra = ((self.extra_col, self.extra_vals),) if self.extra_col and self.extra_vals else ()
        return CohortFilter(
            disease=self.disease, prior_pd1_pdl1=tuple(v == "yes" for v in self.prior),
            prior_pd1_agent=self.agent, line_of_il2=self.line, sex=self.sex, age_range=self.age,
            ecog=self.ecog, source=self.source, extra=extra,
        )

    @classmethod
    def from_filter(cls, f: CohortFilter) -> "FilterState":
        """Widget values for a filter (only the first extra column: the sidebar shows one)."""
        extra_col, extra_vals = f.extra[0] if f.extra else (NO_EXTRA, ())
        return cls(disease=f.disease, prior=tuple("yes" if v else "no" for v in f.prior_pd1_pdl1),
                   agent=f.prior_pd1_agent, line=f.line_of_il2, sex=f.sex, age=f.age_range, ecog=f.ecog,
                   source=f.source, extra_col=extra_col, extra_vals=tuple(extra_vals))


def plain_key(name: str) -> str:
    return f"v_{name}"


def widget_key(name: str) -> str:
    return f"w_{name}"


def _copy_widget_value(name: str) -> None:
    st.session_state[plain_key(name)] = st.session_state[widget_key(name)]


def seed_widget(key: str, value: Any, identity: tuple = ()) -> None:
    """Set a widget's key to ``value`` before the widget is drawn, unless the widget drawn in the previous run of
    this page (same ``identity``: the arguments besides its key that make Streamlit see a new widget, e.g. a
    slider's bounds) holds it already. Streamlit sends a widget whose key was assigned in the run with that value
    to set, and the browser then redraws it: seeding every widget on every run redrew them all at each rerun."""
    ss = st.session_state
    ctx = get_script_run_ctx()
    drawn = (ctx.page_script_hash, identity) if ctx is not None else None
    seeded = ss.setdefault(SEEDED_WIDGETS, {})
    if drawn is None or seeded.get(key) != drawn or key not in ss or not _same(ss[key], value):
        ss[key] = value  # a page switch or a new identity makes a new widget: it takes the seeded value
        seeded[key] = drawn


def _same(a: Any, b: Any) -> bool:
    """The same widget value: equal sequences (a multiselect's list, a range's tuple), else equal of one type."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and bool(a == b)


def bind(name: str, seed: Any = None) -> dict[str, Any]:
    """Widget kwargs for a value kept in the plain key ``v_<name>``.

    Seeds the widget key from the plain key (``seed`` when given) before the widget is drawn,
    and copies a user change back in ``on_change``, which runs before the script: so the
    value survives page switches, where Streamlit forgets widget keys.
    """
    seed_widget(widget_key(name), st.session_state.get(plain_key(name)) if seed is None else seed)
    return {"key": widget_key(name), "on_change": _copy_widget_value, "args": (name,)}


def init_session() -> None:
    """Seed the plain keys once per session: from the URL when it has them, else defaults."""
    ss = st.session_state
    if ss.get(INITIALISED):
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    flat = {k: ",".join(v) for k, v in params.items()}
    f, problems = CohortFilter.from_query_params(flat)
    if len(f.extra) > 1:
        problems.append("Only one extra column filter can be shown in the sidebar; the first is kept.")
    write_filter_state(FilterState.from_filter(f))
    ss[PRESENT] = flat.get(Q_PRESENT, "") in ("1", "true", "yes")
    linked = _linked_upload(flat, problems)
    if linked is None and not flat.get(Q_DATA):  # a page switch drops the URL: the browser remembers the upload
        linked = remembered_upload()
    if linked:
        ss[LINKED_UPLOAD] = linked
    ss.setdefault(DATA_CHOICE, UPLOAD_CHOICE if linked else flat.get(Q_DATA, ""))
    ss[CB_SD] = _parse_setting(Q_CB_SD, flat.get(Q_CB_SD), schema.CB_SD_MONTHS_DEFAULT, "months", problems)
    ss[CB_WINDOW] = _parse_setting(Q_CB_WINDOW, flat.get(Q_CB_WINDOW), schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                                   "days", problems)
    ss.setdefault(PSEUDONYMS, False)
    ss[URL_PROBLEMS] = problems
    ss[INITIALISED] = True


UPLOAD_COOKIE = "il2_upload"  # browser session cookie: the upload this browser last viewed (name|fingerprint)


def upload_cookie_value() -> str:
    """What the browser keeps in :data:`UPLOAD_COOKIE` for the current view ("" = forget): the file name
    percent-encoded (only ``[A-Za-z0-9_.~%-]``), a bar and the fingerprint."""
    params = upload_params()
    if Q_UPLOAD_FP not in params:
        return ""
    return quote(params[Q_UPLOAD], safe="") + "|" + params[Q_UPLOAD_FP]


def remembered_upload() -> tuple[str, str] | None:
    """(file name, fingerprint) from :data:`UPLOAD_COOKIE`: a new session of a browser whose view was an upload
    (after a restart or a reconnect that lost it), whatever URL its first run has."""
    try:
        raw = st.context.cookies.get(UPLOAD_COOKIE)
    except Exception:  # no browser request behind this session (tests, bare mode)
        return None
    if not isinstance(raw, str):
        return None
    name, _, fingerprint = unquote(raw).rpartition("|")
    if not name or not _FINGERPRINT.fullmatch(fingerprint):
        return None
    return name.rsplit("/", 1)[-1][:200], fingerprint


def upload_fingerprint(sha256: str) -> str:
    """The short fingerprint of an uploaded file that links carry: a prefix of its SHA-256."""
    return sha256[:FINGERPRINT_CHARS]


def _linked_upload(flat: dict[str, str], problems: list[str]) -> tuple[str, str] | None:
    """(file name, fingerprint) of the upload a link was made on, when the URL names one."""
    name, fingerprint = flat.get(Q_UPLOAD, "").strip(), flat.get(Q_UPLOAD_FP, "").strip().lower()
    if not name and not fingerprint:
        return None
    if not _FINGERPRINT.fullmatch(fingerprint):
        problems.append("This link names an uploaded file without a valid fingerprint (upload_fp); "
                        "upload the file the link was made on to reproduce the view.")
        fingerprint = ""
    return name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "(file name not given)", fingerprint


def _parse_setting(key: str, text: str | None, default: float, unit: str, problems: list[str]) -> float:
    """A URL number between 0 and 60 (``unit``), else ``default`` and a problem naming the value."""
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if 0 <= value <= 60:
        return value
    problems.append(f"URL value {key}='{text}' is not a number of {unit} between 0 and 60; using {default:g}.")
    return float(default)


def read_filter_state() -> FilterState:
    ss = st.session_state
    values: dict[str, Any] = {}
    for name in FILTER_KEYS:
        value = ss.get(plain_key(name))
        if name == "age" or name == "extra_col":
            values[name] = value if value else (None if name == "age" else NO_EXTRA)
        else:
            values[name] = tuple(value or ())
    return FilterState(**values)


def write_filter_state(state: FilterState) -> None:
    ss = st.session_state
    for name in FILTER_KEYS:
        value = getattr(state, name)
        ss[plain_key(name)] = list(value) if isinstance(value, tuple) and name != "age" else value


def reset_filters() -> None:
    """Button callback: clear every filter (the widgets are re-seeded on the rerun)."""
    write_filter_state(FilterState())
    for name in FILTER_KEYS:
        st.session_state.pop(widget_key(name), None)


def query_params_for(f: CohortFilter, extra: dict[str, str]) -> dict[str, str]:
    """The URL of the current view: the filter's own form plus the non-filter settings and, on an upload,
    the file's name and fingerprint (the uploaded one, else the one a link is waiting for)."""
    params = dict(f.to_query_params())
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    params.update(upload_params())
    return params


def upload_params() -> dict[str, str]:
    """``upload`` and ``upload_fp`` of the current view when it is an upload's (else nothing)."""
    ss = st.session_state
    if ss.get(DATA_CHOICE) != UPLOAD_CHOICE:
        return {}
    identity = ss.get(UPLOAD_ID) or ss.get(LINKED_UPLOAD)
    if not identity:
        return {}
    name, fingerprint = identity
    return {Q_UPLOAD: name, **({Q_UPLOAD_FP: fingerprint} if fingerprint else {})}


def is_managed_param(key: str) -> bool:
    """URL keys the frame owns: filters (schema column names, ``col.<name>``) and global settings."""
    return key in schema.COLUMNS or key == schema.LINE_OF_IL2 or key.startswith(EXTRA_PREFIX) or key in (
        Q_PRESENT, Q_DATA, Q_CB_SD, Q_CB_WINDOW, Q_UPLOAD, Q_UPLOAD_FP)


def sync_url(params: dict[str, str]) -> None:
    """Make the frame's URL keys equal ``params``; page options (other keys) are left alone."""
    qp = st.query_params
    for key in [k for k in qp.keys() if is_managed_param(k) and k not in params]:
        del qp[key]
    for key, value in params.items():
        if qp.get(key) != value:
            qp[key] = value


def page_option(name: str, options: list[Any], default: Any) -> Any:
    """Current value of a page option that is mirrored in the URL (``?<name>=...``).

    Returns the value to seed the widget with: the session value, else the URL value when it
    is one of ``options`` (compared as strings), else ``default``.
    """
    ss = st.session_state
    key = plain_key(name)
    if key not in ss:
        raw = st.query_params.get(name)
        by_text = {str(o): o for o in options}
        if set(options) == {True, False}:
            by_text.update({"1": True, "0": False})  # how url_toggle writes on/off options
        ss[key] = by_text.get(raw, default) if raw is not None else default
    if ss[key] not in options:
        ss[key] = default
    return ss[key]

