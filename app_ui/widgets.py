"""Small display helpers shared by the pages: escaping, notes, empty states, URL-backed options.

Nothing here uses ``unsafe_allow_html`` with data: text that may come from an upload goes
through :func:`md_escape` (Markdown) or is shown with widgets that render plain text.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app_ui import state
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from il2lib import schema
from il2lib.stats import p_phrase


def used_note(label: str, n_used: int, n_filtered: int, reasons: dict[str, int] | None = None, *,
              shown=None, keys: tuple | None = None) -> None:
    """The "patients used" line under a table or figure: ``OS: n = 48 of 50 (2 without ...)``.

    Under small-cell protection its counts are masked; with ``shown`` (the section's
    :class:`il2lib.privacy.disclosure.Suppression`) and ``keys`` (used, filtered, {reason: key}) they read as in
    the section's tables, complementary suppression included.
    """
    masking = current_masking()
    if shown is not None and keys is not None and masking.on:
        used_key, total_key, reason_keys = keys
        count = lambda key, n: shown.text(key, n) if key in shown.hidden else masking.count(n)  # noqa: E731
        used, total = count(used_key, n_used), count(total_key, n_filtered)
        why_count = {why: count(reason_keys.get(why), n) for why, n in (reasons or {}).items()}
    else:
        used, total = masking.count(n_used), masking.count(n_filtered)
        why_count = {why: masking.count(n) for why, n in (reasons or {}).items()}
    detail = "; ".join(f"{why_count[why]} {md_escape(why)}" for why, n in (reasons or {}).items() if n)
    text = f"{md_escape(label)}: n = {used} of {total} filtered patients"
    st.caption(text + (f" ({detail})" if detail else ""))


def empty_state(message: str) -> None:
    """A plain message where the numbers would be (no patient, one group, no events)."""
    st.info(message, icon=":material/info:")


def url_choice(name: str, label: str, options: Sequence[Any], default: Any, *,
               format_func: Callable[[Any], str] = str, widget: str = "selectbox",
               help: str | None = None, horizontal: bool = True, container: Any = st) -> Any:
    """A page option (selectbox or radio) kept in session state and mirrored as ``?<name>=``."""
    options = list(options)
    current = state.page_option(name, options, default)
    bound = state.bind(name, current)
    if widget == "radio":
        value = container.radio(label, options, format_func=format_func, horizontal=horizontal, help=help,
                                **bound)
    else:
        value = container.selectbox(label, options, format_func=format_func, help=help, **bound)
    _store(name, value, str(value) if value != default else None)
    return value


def url_group_order(name: str, levels: Sequence[str], default: str | None = None, *, label: str = "Reference group",
                    help: str | None = None, container: Any = st) -> list[str]:
    """The order of a grouping's groups: a "Reference group" selectbox, the chosen group first and the others in
    their given order (``levels``: the group labels in their default order). The first group is the reference
    of comparisons (a hazard ratio reads "other vs reference") and leads legends, risk tables and tables.

    Kept in session state and mirrored as ``?<name>=<level>`` when it differs from ``default`` (the first
    level unless given), the level without the variable its labels share ("yes", "3+"). Fewer than two
    groups: no control, ``levels`` as they are.
    """
    levels = list(levels)
    if len(levels) < 2:
        return levels
    short = dict(zip(levels, _level_keys(levels)))
    label_of = {key: level for level, key in short.items()}
    key = url_choice(name, label, list(short.values()), short.get(default, short[levels[0]]),
                     format_func=label_of.get, help=help, container=container)
    return [label_of[key], *(level for level in levels if level != label_of[key])]


def _level_keys(levels: list[str]) -> list[str]:
    """The levels without the "Variable: " head they all share ("Line of IL-2: 3+" -> "3+")."""
    heads = {level.split(": ", 1)[0] for level in levels}
    if len(heads) == 1 and all(": " in level for level in levels):
        keys = [level.split(": ", 1)[1] for level in levels]
        if len(set(keys)) == len(keys):
            return keys
    return list(levels)


#: URL value of a multiple-choice page option with nothing chosen.
NONE_CHOSEN = "none"


def url_multichoice(name: str, label: str, options: Sequence[Any], default: Sequence[Any], *,
                    format_func: Callable[[Any], str] = str, help: str | None = None, container: Any = st) -> list:
    """A page option of several values (multiselect of strings) kept in session state and mirrored as
    ``?<name>=a,b`` when it differs from the default (``?<name>=none`` when nothing is chosen)."""
    options = list(options)
    default = [o for o in default if o in options]
    key = state.plain_key(name)
    if key not in st.session_state:
        raw = st.query_params.get(name)
        st.session_state[key] = default if raw is None else [v for v in raw.split(",") if v != NONE_CHOSEN]
    current = [o for o in st.session_state[key] if o in options]
    value = list(container.multiselect(label, options, format_func=format_func, help=help,
                                       **state.bind(name, current)))
    _store(name, value, None if set(value) == set(default) else (",".join(value) or NONE_CHOSEN))
    return value


def url_toggle(name: str, label: str, default: bool, *, help: str | None = None, disabled: bool = False,
               container: Any = st) -> bool:
    """A page on/off option mirrored as ``?<name>=1`` / ``0`` when it differs from the default."""
    current = state.page_option(name, [True, False], default)
    value = bool(container.toggle(label, help=help, disabled=disabled, **state.bind(name, current)))
    _store(name, value, ("1" if value else "0") if value != default else None)
    return value


def url_number(name: str, label: str, default: float, *, min_value: float, max_value: float, step: float,
               help: str | None = None, number_format: str | None = None, container: Any = st) -> float:
    """A numeric page option mirrored in the URL when it differs from the default."""
    ss = st.session_state
    key = state.plain_key(name)
    if key not in ss:
        ss[key] = _parse_number(st.query_params.get(name), default, min_value, max_value)
    value = float(container.number_input(label, min_value=float(min_value), max_value=float(max_value),
                                         step=float(step), help=help, format=number_format,
                                         **state.bind(name, float(ss[key]))))
    _store(name, value, f"{value:g}" if value != default else None)
    return value


def _parse_number(raw: str | None, default: float, lo: float, hi: float) -> float:
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        return default
    return value if lo <= value <= hi else default


def _store(name: str, value: Any, url_value: str | None) -> None:
    st.session_state[state.plain_key(name)] = value
    if url_value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != url_value:
        st.query_params[name] = url_value


#: Result tables up to this many rows are drawn as static tables; longer ones as a scrollable grid.
STATIC_MAX_ROWS = 80


def show_table(df: pd.DataFrame, *, key: str | None = None, height: int | None = None,
               column_config: dict | None = None, interactive: bool = False, cohort_rows=None) -> None:
    """Display a tidy result table as is, masked when small-cell protection is on (``cohort_rows``: see
    :meth:`app_ui.masking.Masking.table`).

    A small result table is a static table (``st.table``): light to draw, readable in a screenshot,
    and it follows presentation mode's larger type. ``st.table`` renders Markdown, so every text
    cell and header is escaped with :func:`md_escape` first. Long tables, explicit heights, column
    configs and ``interactive`` listings use the sortable grid (``st.dataframe``: cell text, never HTML).
    """
    df = current_masking().table(df, cohort_rows=cohort_rows)
    if not interactive and column_config is None and height is None and len(df) <= STATIC_MAX_ROWS:
        st.table(_escaped(df), hide_index=True)
        return
    kwargs: dict[str, Any] = {"hide_index": True, "width": "stretch"}
    if column_config:
        kwargs["column_config"] = column_config
    if height is not None:
        kwargs["height"] = height
    st.dataframe(df, key=key, **kwargs)


def _escaped(df: pd.DataFrame) -> pd.DataFrame:
    """Headers and text cells escaped for Markdown (an indent kept as no-break spaces, not read as a code
    block); numbers left as they are."""
    def cell(v):
        if not isinstance(v, str):
            return v
        body = v.lstrip(" ")
        return "\u00a0" * (len(v) - len(body)) + md_escape(body)

    out = df.copy()
    for i, dtype in enumerate(df.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            out.isetitem(i, df.iloc[:, i].map(cell))
    out.columns = [md_escape(c) for c in df.columns]
    return out


def format_p(p: float | None) -> str:
    """p-value for running text, il2lib's rule: ``p = 0.043``, ``p < 0.001``, ``p > 0.99``."""
    return p_phrase(p)


def by_text(by: str) -> str:
    """Grouping label for running text: "line of IL-2"."""
    text = schema.label(by)
    return text[:1].lower() + text[1:]
