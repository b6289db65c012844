"""The sidebar filters: their options (from the loaded data), widgets, and the filtered cohort."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app_ui import state
from app_ui.loaded import LoadedData
from app_ui.markdown import md_escape
from app_ui.session_cache import data_cache, derived, resource_cache
from il2lib import schema
from il2lib.cohort import LINE_GROUPS, CohortFilter, filter_positions, line_groups

#: Columns never offered as "other" filters (ids, dates, times, free text, the fixed filters).
_NOT_EXTRA = set(schema.FILTER_COLUMNS) | set(schema.DATE_COLUMNS) | {
    schema.PATIENT_ID, schema.FILE_ROW, schema.OS_MONTHS, schema.PFS_MONTHS, schema.DOR_MONTHS,
    schema.AUTOIMMUNE_TYPE}
MAX_EXTRA_LEVELS = 30
FILTER_MEMO = "filter_memo"


@dataclass(frozen=True)
class FilterOptions:
    """Values present in the loaded data, for the filter widgets."""

    disease: tuple[str, ...]
    agent: tuple[str, ...]
    line: tuple[str, ...]
    sex: tuple[str, ...]
    age: tuple[float, float] | None
    ecog: tuple[int, ...]
    source: tuple[str, ...]
    extra: tuple[tuple[str, tuple[str, ...]], ...]  # (column, normalised values)


def _present(values: pd.Series, order: tuple) -> tuple:
    seen = set(values.tolist())
    return tuple(v for v in order if v in seen)


def _extra_values(dtype, values: pd.Series) -> tuple[str, ...]:
    """Normalised strings as :func:`il2lib.apply_filter` compares them (booleans as yes/no), of the distinct
    values of a column of type ``dtype``."""
    values = values.tolist()
    if pd.api.types.is_bool_dtype(dtype):
        return tuple(v for v in ("yes", "no") if (v == "yes") in {bool(x) for x in values})
    return tuple(sorted({schema.norm(v) for v in values}))


@data_cache(max_entries=16, max_size="16MB")
def filter_options(scope: str, fingerprint: str, _df: pd.DataFrame) -> FilterOptions:
    """The filter widgets' options, from the distinct values of each column (those of the sidebar's own filters
    from their factorization, kept for the filters: :func:`column_values`)."""
    df = _df

    def distinct(name: str, dtype=object) -> pd.Series:  # not missing, in order of first appearance
        if name not in df.columns:
            return pd.Series(dtype=dtype)
        return pd.Series(column_values(scope, fingerprint, id(df), df, name)[1])

    age = pd.to_numeric(df.get(schema.AGE, pd.Series(dtype=float)), errors="coerce").dropna()
    ecog = pd.to_numeric(distinct(schema.ECOG, float), errors="coerce").dropna()
    extra = []
    for name in df.columns:
        if name in _NOT_EXTRA or pd.api.types.is_datetime64_any_dtype(df[name]):
            continue
        dtype = df[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            continue
        values = _extra_values(dtype, pd.Series(df[name].unique()).dropna())  # rarely filtered: no factorization
        if 1 < len(values) <= MAX_EXTRA_LEVELS:
            extra.append((name, values))
    return FilterOptions(
        disease=_present(distinct(schema.DISEASE), schema.DISEASES),
        agent=_present(distinct(schema.PRIOR_PD1_AGENT), schema.PD1_AGENTS),
        line=_present(line_groups(distinct(schema.LINE_OF_IL2, float)), LINE_GROUPS),
        sex=_present(distinct(schema.SEX), ("F", "M")),
        age=(float(math.floor(age.min())), float(math.ceil(age.max()))) if len(age) else None,
        ecog=tuple(sorted({int(e) for e in ecog})),
        source=tuple(sorted({str(s) for s in distinct(schema.SOURCE)})),
        extra=tuple(extra),
    )


def _union(options: tuple, chosen: tuple) -> list:
    """Options plus any chosen value the data lacks (a URL filter stays visible and honest)."""
    return list(options) + [c for c in chosen if c not in options]


def draw_filters(loaded: LoadedData) -> state.FilterState:
    """Draw the filter widgets (in the current container) and return the choices."""
    current = state.read_filter_state()
    if loaded.options_data is not None:  # a registry: choices from the whole registry, not the fetched rows
        opts = filter_options(loaded.scope, loaded.options_key, loaded.options_data)
    elif not loaded.ok:
        return current
    else:
        opts = derived(loaded.cohort.data, "filter options " + loaded.scope,
                       lambda data: filter_options(loaded.scope, loaded.cohort.fingerprint, data))
    st.markdown("**Filters**")
    st.multiselect("Disease", _union(opts.disease, current.disease), **state.bind("disease"),
                   format_func=lambda d: schema.DISEASE_LABELS.get(d, d), placeholder="All")
    st.multiselect("Prior PD-1/PD-L1", _union(("yes", "no"), current.prior), **state.bind("prior"),
                   placeholder="All")
    if opts.agent or current.agent:
        st.multiselect("Prior PD-1/PD-L1 agent", _union(opts.agent, current.agent), **state.bind("agent"),
                       placeholder="All")
    st.multiselect("Line of IL-2", _union(opts.line, current.line), **state.bind("line"), placeholder="All")
    st.multiselect("Sex", _union(opts.sex, current.sex), **state.bind("sex"), placeholder="All")
    _age_slider(opts.age, current.age)
    if opts.ecog or current.ecog:
        st.multiselect("ECOG PS", _union(opts.ecog, current.ecog), **state.bind("ecog"), placeholder="All")
    if opts.source or current.source:
        st.multiselect("Source", _union(opts.source, current.source), **state.bind("source"), placeholder="All")
    _extra_filter(opts, current)
    return state.read_filter_state()


def _age_slider(bounds: tuple[float, float] | None, chosen: tuple[float, float] | None) -> None:
    if bounds is None and chosen is None:
        return
    lo, hi = bounds or chosen
    if chosen is not None:
        lo, hi = min(lo, chosen[0]), max(hi, chosen[1])
    if lo >= hi:
        return
    state.seed_widget(state.widget_key("age"), tuple(float(v) for v in (chosen or (lo, hi))), (float(lo), float(hi)))
    st.slider("Age at IL-2 (years)", min_value=float(lo), max_value=float(hi), step=1.0, format="%d",
              key=state.widget_key("age"), on_change=_age_changed, args=((float(lo), float(hi)),))


def _age_changed(bounds: tuple[float, float]) -> None:
    value = tuple(float(v) for v in st.session_state[state.widget_key("age")])
    st.session_state[state.plain_key("age")] = None if value == bounds else value


def _extra_filter(opts: FilterOptions, current: state.FilterState) -> None:
    columns = {name: values for name, values in opts.extra}
    if current.extra_col and current.extra_col not in columns:  # e.g. ?col.patient_id=... from a URL
        _drop_extra_filter(current.extra_col)
    if not columns:
        return
    names = [state.NO_EXTRA] + sorted(columns)
    bound = state.bind("extra_col")
    bound["on_change"] = _extra_column_changed
    st.selectbox("Other column", names, **bound,
                 format_func=lambda c: "(none)" if c == state.NO_EXTRA else schema.label(c))
    column = st.session_state[state.plain_key("extra_col")]
    if column:
        st.multiselect(f"{md_escape(schema.label(column))} is", _union(columns[column], current.extra_vals),
                       **state.bind("extra_vals"), placeholder="All")


def _drop_extra_filter(column: str) -> None:
    """Only a column the "Other column" list offers may filter: a URL cannot select on hidden columns."""
    st.session_state[state.plain_key("extra_col")] = state.NO_EXTRA
    st.session_state[state.plain_key("extra_vals")] = []
    st.session_state.setdefault(state.URL_PROBLEMS, []).append(
        f"The filter on column '{column}' was ignored: only the columns offered under 'Other column' can filter.")


def _extra_column_changed(name: str) -> None:
    st.session_state[state.plain_key(name)] = st.session_state[state.widget_key(name)]
    st.session_state[state.plain_key("extra_vals")] = []


class FilteredRows:
    """The loaded patients that pass the filter: their positions in the loaded data, and their columns copied on
    first use (all of them by :meth:`frame`, a few by :meth:`columns`), each copy made once."""

    def __init__(self, data: pd.DataFrame, positions: np.ndarray | None = None):
        self.source = data  # the unfiltered data
        self.positions = positions  # None: every row
        self._frame: pd.DataFrame | None = None
        self._subsets: dict[tuple[str, ...], pd.DataFrame] = {}

    def __len__(self) -> int:
        return len(self.source) if self.positions is None else len(self.positions)

    def frame(self) -> pd.DataFrame:
        """Every column of the rows (the loaded data itself without a filter)."""
        if self.positions is None:
            return self.source
        if self._frame is None:
            self._frame = self.source.take(self.positions)
            self._subsets.clear()  # later subsets are cut from the frame
        return self._frame

    def columns(self, names) -> pd.DataFrame:
        """The rows with only the columns ``names`` the data has (in that order; names it lacks are left out):
        the same values, dtypes and index as those columns of :meth:`frame`."""
        present = tuple(dict.fromkeys(n for n in names if n in self.source.columns))
        if present not in self._subsets:
            if self._frame is not None or self.positions is None:
                self._subsets[present] = self.frame()[list(present)]
            else:
                self._subsets[present] = self.source[list(present)].take(self.positions)
        return self._subsets[present]

    def nbytes(self) -> int:
        """Bytes of the copies held (the unfiltered data is not counted)."""
        held = [] if self.positions is None else [self.positions.nbytes]
        if self._frame is not None:
            held.append(_frame_bytes(self._frame))
        return sum(held) + sum(_frame_bytes(df) for df in self._subsets.values())


def filtered_rows(loaded: LoadedData, cohort_filter: CohortFilter) -> tuple[FilteredRows, int]:
    """The filtered patients and the total; memoised in the session for the last filters, so that the row
    selection and each copy of its columns are made once per filter."""
    total = loaded.n_registry  # a registry: its patient count (the rows are the filtered selection)
    if not loaded.ok:
        return FilteredRows(pd.DataFrame()), total or 0
    data = loaded.cohort.data
    total = len(data) if total is None else total
    key = (loaded.scope, loaded.cohort.fingerprint, id(data), cohort_filter)
    memo = st.session_state.get(FILTER_MEMO)
    if not isinstance(memo, dict):
        memo = st.session_state[FILTER_MEMO] = {}
    for old in [k for k in memo if k[:3] != key[:3]]:  # other data: do not keep it alive
        del memo[old]
    rows = memo.pop(key, None)  # most recently used last
    if rows is None:
        positions = None if cohort_filter.is_empty() else filter_positions(
            data, cohort_filter, lambda column: column_values(loaded.scope, loaded.cohort.fingerprint, id(data), data,
                                                              column))
        rows = FilteredRows(data, positions)
    memo[key] = rows
    _trim_memo(memo, _frame_bytes(data))  # the copies made on the previous run count too
    return rows, total


@resource_cache(max_entries=256)
def column_values(scope: str, fingerprint: str, data_id: int, _data: pd.DataFrame, column: str) -> tuple:
    """``pd.factorize`` of a column of the loaded data (codes in the smallest integer type; distinct values not
    missing), made once for the filter options and the filters: a filter tests each distinct value, not each
    row. The same object is returned to every run: do not modify it."""
    codes, values = pd.factorize(_data[column])
    return codes.astype(np.min_scalar_type(-max(len(values), 1))), values


#: Filters whose rows are remembered per session (switching back to a recent filter skips the row selection and
#: copies), their copies together at most the size of the unfiltered data.
FILTER_MEMO_ENTRIES = 4


def _frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(deep=False, index=False).sum())


def _trim_memo(memo: dict, budget: int) -> None:
    """Drop the least recently used filters beyond the entry limit or the byte budget."""
    while len(memo) > 1 and (len(memo) > FILTER_MEMO_ENTRIES or sum(r.nbytes() for r in memo.values()) > budget):
        memo.pop(next(iter(memo)))  # least recently used first
