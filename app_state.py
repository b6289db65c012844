"""The app-side frame every page starts with (``from app_state import frame``).

The implementation lives in the :mod:`app_ui` package: ``frame.py`` (page config, sidebar,
navigation, URL sync), ``state.py`` (session-state keys, filter state, URL parsing),
``filters.py`` (filter widgets and the filtered cohort), ``data.py`` (samples, uploads and the
storage/caching rules: uploaded bytes stay in the session; see its docstring), ``cached.py``
(``st.cache_data`` wrappers around il2lib analyses) and ``widgets.py`` (display helpers).
"""
from app_ui.frame import AppContext, frame

__all__ = ["AppContext", "frame"]
