"""Caches whose upload results stay in the uploading session and go with it.

:func:`data_cache` and :func:`resource_cache` replace ``@st.cache_data`` / ``@st.cache_resource`` on
every function that may compute from an upload. Each decorated function has two Streamlit caches:

* shared data (bundled samples, the server file, the registry): process-wide (``scope="global"``),
  so every session reuses the results, as before;
* an upload (a call whose arguments carry an ``upload:<token>`` scope, :data:`UPLOAD_SCOPE_PREFIX`):
  the session's own cache (``scope="session"``, Streamlit 1.67). Streamlit drops it when the session
  disconnects; :func:`forget_upload_results` drops it when the user presses "Forget the uploaded
  files" or uploads another file.

Every cache has an entry limit, and ``st.cache_data`` a byte limit (``max_size``: pickled bytes, per
session for the session scope). ``st.cache_resource`` has no byte limit in 1.67.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, TypeVar

import streamlit as st

T = TypeVar("T")
#: Scope of an upload's cache keys (``app_ui.data``: ``upload:<random per-session token>``).
UPLOAD_SCOPE_PREFIX = "upload:"

# (file, qualified name) -> the session-scoped cached function (pages redefine theirs on every run)
_SESSION_SCOPED: dict[tuple[str, str], Any] = {}


def holds_upload(value: Any, depth: int = 0) -> bool:
    """True when ``value`` is an upload scope, or a (nested) tuple holding one (a cache key)."""
    if isinstance(value, str):
        return value.startswith(UPLOAD_SCOPE_PREFIX)
    if isinstance(value, tuple) and depth < 4:
        return any(holds_upload(item, depth + 1) for item in value)
    return False


def _two_scopes(cache, func: Callable, options: dict) -> Callable:
    shared = cache(scope="global", **options)(func)
    own = cache(scope="session", **options)(func)
    _SESSION_SCOPED[(func.__code__.co_filename, func.__qualname__)] = own

    @functools.wraps(func)
    def call(*args, **kwargs):
        upload = any(holds_upload(v) for v in args) or any(holds_upload(v) for v in kwargs.values())
        return (own if upload else shared)(*args, **kwargs)

    call.shared, call.session = shared, own  # type: ignore[attr-defined]
    return call


def data_cache(*, max_entries: int, max_size: str, show_spinner: bool | str = False) -> Callable:
    """``st.cache_data`` with the two scopes described above."""
    options = dict(max_entries=max_entries, max_size=max_size, show_spinner=show_spinner)
    return lambda func: _two_scopes(st.cache_data, func, options)


def resource_cache(*, max_entries: int, show_spinner: bool | str = False) -> Callable:
    """``st.cache_resource`` with the two scopes described above (no byte limit exists for resources)."""
    options = dict(max_entries=max_entries, show_spinner=show_spinner)
    return lambda func: _two_scopes(st.cache_resource, func, options)


def forget_upload_results() -> None:
    """Drop this session's upload results from every cache (call from a script run or a callback)."""
    for cached in list(_SESSION_SCOPED.values()):
        cached.clear()  # a session-scoped function clears the current session's cache only


#: Session state key: what the pages derived from one object of this session (a report, the loaded data), by object.
DERIVED = "_derived"


def derived(obj, name: str, compute: Callable[[Any], T]) -> T:
    """``compute(obj)``, computed once per object and ``name`` in this session (a rerun that only changes a
    filter reuses it, without a cache lookup) and forgotten with the object; kept in the session like the object.
    A new upload and "Forget the uploaded files" drop all of it (:data:`DERIVED`, ``app_ui.data``)."""
    held = st.session_state.setdefault(DERIVED, {})
    entry = held.get(id(obj))
    if entry is None or entry[0]() is not obj:
        entry = held[id(obj)] = (forget_with(obj, (held, id(obj))), {})
    values = entry[1]
    if name not in values:
        values[name] = compute(obj)
    return values[name]


def forget_with(obj, *entries: tuple[dict, Any]) -> weakref.ref:
    """A weak reference to ``obj`` that drops each ``dict[key]`` of ``entries`` when ``obj`` goes; keep it with the
    entry. Unlike ``weakref.finalize``, whose process-wide registry would keep a session's dict until ``obj`` dies
    (for ever for a shared sample's frame), nothing outside the session refers to the dict."""
    def forget(_ref) -> None:
        for held, key in entries:
            held.pop(key, None)

    return weakref.ref(obj, forget)
