"""The "registry database / Parquet folder" data source, configured by the deployer (never typed in a page).

``.streamlit/secrets.toml``::

    [registry]
    kind = "parquet"                 # "parquet" or "csv" (a file, folder or glob, read by DuckDB)
    path = "/srv/il2/registry"       # or, for PostgreSQL:
    # kind = "postgres"
    # url = "postgresql+psycopg://reader:...@db.internal/registry"
    # table = "il2_registry"
    label = "IL-2 registry"          # shown in the sidebar (optional)
    row_limit = 200000               # most rows the pages load at once (optional)

The registry table holds analysis-ready rows (``Cohort.data``; write them with
``il2lib.sources.export``). Patient counts (the registry's total and the filtered selection) are
SQL ``COUNT`` queries; the filtered rows are fetched with parameterised SQL only when the selection
is within ``row_limit``, otherwise every page says that a smaller selection is needed. Filter
choices come from ``GROUP BY`` queries over the whole registry, so narrowing always stays possible.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import streamlit as st

from app_ui import state
from app_ui.loaded import LoadedData
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.survival_view import curves_count_view
from il2lib import schema
from il2lib.analyses._grouping import value_group_label
from il2lib.analyses.response import OUTCOME_LABELS
from il2lib.cohort import CohortFilter
from il2lib.errors import Il2libError
from il2lib.privacy.disclosure import SUPPRESSED, CountView
from il2lib.sources.response import response_rates_from_counts
from il2lib.survival.counts import kaplan_meier_counts, logrank_counts
from il2lib.validation.patients import Cohort, ValidationReport

REGISTRY = "registry"
SECRETS_SECTION = "registry"
#: Columns whose distinct values are read for the filter choices (numbers other than these are not offered).
_NUMERIC_FILTERS = (schema.AGE, schema.ECOG, schema.LINE_OF_IL2)
_MAX_DISTINCT = 1000


def registry_config() -> dict[str, Any] | None:
    """The deployer's ``[registry]`` settings, or None when there are none (or no secrets file)."""
    try:
        section = st.secrets.get(SECRETS_SECTION)
    except Exception:  # noqa: BLE001  (no secrets.toml at all: the registry is simply not offered)
        return None
    return {str(k): v for k, v in dict(section).items()} if section else None


def _identity(config: dict[str, Any]) -> str:
    """A stable, non-secret id of the configuration (hash; the URL never appears in clear)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def label(config: dict[str, Any] | None) -> str:
    if not config:
        return "Registry (not configured)"
    return str(config.get("label") or f"Registry ({config.get('kind', '?')})")


@st.cache_resource(max_entries=4, show_spinner="Connecting to the registry…")
def _open(identity: str, config_json: str):
    from il2lib.sources import open_source  # the registry drivers: only when a registry is configured

    return open_source(json.loads(config_json))


def source():
    """The open registry source (one per process and configuration)."""
    config = registry_config()
    return _open(_identity(config), json.dumps(config, sort_keys=True, default=str))


@st.cache_data(ttl=600, max_entries=512, max_size="4MB", show_spinner=False)
def count(identity: str, cohort_filter) -> int:
    return source().n_patients(cohort_filter)


@st.cache_data(ttl=3600, max_entries=4, max_size="64MB", show_spinner="Reading the registry's filter choices…")
def options_frame(identity: str) -> pd.DataFrame:
    """A small frame with each filterable column's distinct values (padded), for the filter widgets."""
    from il2lib.sources import with_schema_dtypes

    src = source()
    kinds = src.column_kinds()
    wanted = [c for c, k in kinds.items() if k in ("string", "bool") and c != schema.PATIENT_ID]
    wanted += [c for c in _NUMERIC_FILTERS if c in kinds]
    columns = {}
    for name in wanted:
        values = src.category_counts(name)["value"].dropna().tolist()
        columns[name] = values[:_MAX_DISTINCT]
    if schema.LINE_OF_IL2 in columns:  # category_counts gives line groups: back to representative lines
        columns[schema.LINE_OF_IL2] = [{"1": 1, "2": 2, "3+": 3}[v] for v in columns[schema.LINE_OF_IL2]]
    height = max((len(v) for v in columns.values()), default=0)
    padded = {name: values + [None] * (height - len(values)) for name, values in columns.items()}
    return with_schema_dtypes(pd.DataFrame(padded))


@st.cache_data(ttl=600, max_entries=32, max_size="1GB",
               show_spinner="Fetching the selected patients from the registry…")
def rows(identity: str, cohort_filter, limit: int) -> pd.DataFrame:
    return source().fetch_rows(cohort_filter, limit=limit)


def load(cb_sd: float, window: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT):
    """LoadedData for the registry under the current sidebar filter (rows fetched only under the limit)."""
    config = registry_config()
    name = label(config)
    if not config:
        return LoadedData(REGISTRY, name, False, REGISTRY, error="No registry is configured.")
    identity = _identity(config)
    scope = f"{REGISTRY}:{identity}"
    cohort_filter = state.read_filter_state().to_filter()
    try:
        src = source()
        total, selected = count(identity, None), count(identity, cohort_filter)
        options = options_frame(identity)
        base = dict(options_data=options, options_key=scope, n_registry=total, n_selected=selected,
                    row_limit=src.row_limit)
        if selected > src.row_limit:
            note = (f"The registry holds {total:,} patients; the filters select {selected:,}, more than the "
                    f"{src.row_limit:,} the pages load at once. Narrow the filters to analyse this selection.")
            return LoadedData(REGISTRY, name, False, scope, note=note, **base)
        data = rows(identity, cohort_filter, src.row_limit)
    except Il2libError as exc:
        return LoadedData(REGISTRY, name, False, scope, error=str(exc))
    n = len(data)
    report = ValidationReport(n, n, 0, (), {}, (), (), ())
    fingerprint = f"{identity}:{total}:" + hashlib.sha256(repr(cohort_filter).encode()).hexdigest()[:16]
    cohort = Cohort(data, report, pd.DataFrame(), fingerprint, name, cb_sd, window)
    return LoadedData(REGISTRY, name, False, scope, cohort=cohort, **base)


# ------------------------------------------------------------------ counts-only Survival view (large selections)
COUNT_GROUPINGS = (None, schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SOURCE)


@st.cache_data(ttl=600, max_entries=64, max_size="64MB", show_spinner="Counting events in the registry…")
def survival_counts(identity: str, cohort_filter, endpoint: str, by: str | None):
    return source().survival_counts(endpoint, cohort_filter, group=by)


def _display_label(by: str, value) -> str:
    """il2lib's group label of a value counted in the registry ("Prior PD-1/PD-L1: yes", "Melanoma")."""
    return value_group_label(by, value) or str(value)


def survival_from_counts(ctx) -> None:
    """Kaplan-Meier, medians and log-rank of a registry selection above the row limit, from SQL counts only.

    Nothing patient-level is fetched: the registry returns events and censorings per (group, time).
    Views that need patient rows (Cox, landmark, competing risks, swimmer) say that they need a
    smaller selection.
    """
    from il2lib.figures.km import km_figure

    loaded = ctx.loaded
    _counts_header(ctx, "Survival", "Kaplan-Meier curves, medians and the log-rank test are computed here from "
                   "event counts aggregated in the registry; Cox models, landmark and competing-risk analyses "
                   "need a selection within the row limit.")
    a, b = st.columns(2)
    endpoint = a.selectbox("Endpoint", list(schema.ENDPOINTS), format_func=lambda e: schema.ENDPOINTS[e].label,
                           key="registry_km_endpoint")
    by = _grouping(b, "registry_km_by")
    f = ctx.filter
    if endpoint == "dor":  # duration of response: responders only
        f = CohortFilter(**{**f.__dict__, "extra": f.extra + ((schema.BOR, ("cr", "pr")),)})
    try:
        counts = survival_counts(_identity(registry_config()), f, endpoint, by)
        km = kaplan_meier_counts(counts)
    except Il2libError as exc:
        st.warning(md_escape(str(exc)))
        return
    curves = {_display_label(by, g): r for g, r in km.items()} if by is not None else {"All patients": km}
    masking = current_masking()
    k = masking.threshold if masking.on else None
    # one count view: the curves' n and events, the n used, the selection (the sidebar's n) and those left out
    shown = masking.protect(lambda: curves_count_view(curves, counts.n, counts.n_input, counts.excluded,
                                                      loaded.n_selected),
                            ("registry_survival", ctx.cache_key, str(f), endpoint, by))
    count = shown.text if k is not None else (lambda _key, n: f"{n:,}")
    st.plotly_chart(km_figure(curves, title=schema.ENDPOINTS[endpoint].label,
                              subtitle=f"{loaded.label} · n = {count(('used',), counts.n)} · {ctx.filter_text}",
                              presentation=ctx.presentation, small_cell_threshold=k,
                              hidden_sizes=tuple(g for g in curves if ("n", g) in shown.secondary)), width="stretch")
    # the counts only: medians are estimates (a whole-month median is not a count)
    medians = pd.DataFrame([{"Group": g, "n (events)": f"{count(('n', g), r.n)} ({count(('events', g), r.n_events)})",
                             "Median, months": r.median, "95% CI lower": r.median_ci[0],
                             "95% CI upper": r.median_ci[1]} for g, r in curves.items()])
    months = st.column_config.NumberColumn(format="%.1f")
    st.dataframe(medians, hide_index=True, column_config={c: months for c in list(medians.columns)[2:]})
    if by is not None and len(curves) >= 2:
        lr = logrank_counts(counts)
        st.markdown(f"Log-rank test: chi-square {lr.statistic:.2f} on {lr.df} df, p = {lr.pvalue:.3g}")
    if counts.excluded:
        st.caption("Excluded: " + "; ".join(f"{count(('left out', reason), n)} {reason}"
                                            for reason, n in counts.excluded))
    masking.caption()


def _counts_header(ctx, title: str, what: str) -> None:
    """Page title and the note that the selection is above the row limit, so ``what`` comes from registry counts."""
    loaded = ctx.loaded
    st.title(title)
    st.info(f"{loaded.n_selected:,} patients selected: more than the row limit ({loaded.row_limit:,}). " + what,
            icon=":material/database:")


def _grouping(container, key: str) -> str | None:
    """The "Compare groups" choice of a counts-only page (disease by default)."""
    return container.selectbox("Compare groups", COUNT_GROUPINGS, index=1, key=key,
                               format_func=lambda g: "No grouping" if g is None else schema.label(g))


# ------------------------------------------------------------------ counts-only Response view (large selections)
@st.cache_data(ttl=600, max_entries=64, max_size="64MB", show_spinner="Counting responses in the registry…")
def response_counts(identity: str, cohort_filter, by: str | None) -> pd.DataFrame:
    return source().category_counts(schema.BOR, cohort_filter, by)


def _masked_response(ctx, bor: pd.DataFrame, rates: pd.DataFrame, by, denominator: str):
    """The registry's response counts under small-cell protection: one count view (N = the levels,
    ORR = CR + PR, DCR = CR + PR + SD, denominator = N or N - NE), complements included; each group's
    NE count beside its rates is the table's NE cell; a rate or CI of a hidden count reads "masked"."""

    view = CountView()
    for g, row in bor.iterrows():
        levels = [("bor", g, level) for level in bor.columns]
        for key, n in zip(levels, row):
            view.add(key, n)
        view.add(("n", g), row.sum(), headline=True)
        view.add_sum(("n", g), levels)
    for r in rates.itertuples():
        resp, denom = ("resp", r.group, r.outcome), ("denom", r.group, r.outcome)
        view.add(resp, r.responders, headline=True)
        view.add(denom, r.n, headline=True)
        view.add_sum(denom, [("n", r.group)])
        view.add_sum(("n", r.group), [denom, ("bor", r.group, "NE")])
        for parts in (schema.RESPONDERS, schema.DISEASE_CONTROL_LEVELS):
            view.add_sum(resp, [("bor", r.group, level) for level in parts])
    shown = ctx.masking.protect(lambda: view, ("registry_response", ctx.cache_key, by, denominator))
    masked_bor = pd.DataFrame({level: [shown.text(("bor", g, level), n) for g, n in bor[level].items()]
                               for level in bor.columns}, index=bor.index)
    visible = [shown.shows(("resp", r.group, r.outcome), ("denom", r.group, r.outcome)) for r in rates.itertuples()]
    masked_rates = rates.assign(
        responders=[shown.text(("resp", r.group, r.outcome), r.responders) for r in rates.itertuples()],
        n=[shown.text(("denom", r.group, r.outcome), r.n) for r in rates.itertuples()],
        n_ne=[shown.text(("bor", r.group, "NE"), r.n_ne) for r in rates.itertuples()],
        **{c: [f"{v:.3f}" if ok else SUPPRESSED for v, ok in zip(rates[c], visible)]
           for c in ("rate", "ci_lower", "ci_upper") if c in rates})
    return masked_bor, masked_rates


def response_from_counts(ctx) -> None:
    """Best overall response, ORR and DCR with exact CIs and the group test, from SQL counts only.

    CBR needs each SD's duration and the swimmer plot needs patient rows: both ask for a smaller selection.
    """

    _counts_header(ctx, "Response", "Best overall response, ORR and DCR (exact CIs, group test) are computed here "
                   "from counts aggregated in the registry; CBR, the swimmer plot and duration of response need a "
                   "selection within the row limit.")
    a, b = st.columns(2)
    by = _grouping(a, "registry_resp_by")
    denominator = b.selectbox("Denominator", ["itt", "evaluable"], key="registry_resp_den",
                              format_func={"itt": "All treated (ITT)", "evaluable": "Evaluable only"}.get)
    try:
        counts = response_counts(_identity(registry_config()), ctx.filter, by)
    except Il2libError as exc:  # e.g. the registry's statement timeout
        st.warning(md_escape(str(exc)))
        return
    shown = counts.assign(group=counts["group"].map(lambda g: "All patients" if g is None and by is None
                                                    else ("(missing)" if g is None else _display_label(by, g))))
    bor = shown.pivot_table(index="group", columns="value", values="n", aggfunc="sum", fill_value=0)
    bor = bor[[c for c in schema.BOR_LEVELS if c in bor.columns]]
    rates, tests = response_rates_from_counts(counts, denominator=denominator)
    rates = rates.assign(group=rates["group"].map(lambda g: g if by is None else _display_label(by, g)),
                         outcome=rates["outcome"].map(OUTCOME_LABELS))
    if ctx.masking.on:
        bor, rates = _masked_response(ctx, bor, rates, by, denominator)
    st.markdown("#### Best overall response (patients)")
    st.dataframe(bor, width="stretch")
    st.markdown("#### Response rates (Clopper-Pearson exact 95% CI)")
    share = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(rates, hide_index=True, width="stretch",
                 column_config={c: share for c in ("rate", "ci_lower", "ci_upper")})
    for outcome, test in tests.items():
        text = test if isinstance(test, str) else f"{test.label}: p = {test.pvalue:.3g}"
        st.markdown(f"{OUTCOME_LABELS[outcome]}: " + md_escape(text))
