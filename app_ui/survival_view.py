"""The survival page's analysis bundle: KM per group, log-rank, Cox HR with its PH check.

Only orchestration: every number comes from :mod:`il2lib.survival`. Cached with
``st.cache_data`` under the page's cache key (see :mod:`app_ui.cached`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app_ui.cached import Computed, attempt
from app_ui.session_cache import data_cache, resource_cache
from app_ui.widgets import by_text, format_p
from il2lib import schema
from il2lib.analyses._grouping import level_order
from il2lib.errors import Il2libError, InsufficientDataError
from il2lib.privacy.disclosure import CountView
from il2lib.survival import cox_ph, landmark as landmark_cohort
from il2lib.survival.clinical import GROUP_LABELS
from il2lib.survival.inputs import group_levels, survival_input
from il2lib.survival.milestones import rmst_differences, survival_differences
from il2lib.survival.multivariable import multivariable_cox
from il2lib.survival.pairwise import pairwise_logrank
from il2lib.survival.prepared import prepare_survival

GROUP_COLUMN = "group"
#: Above this many patients the Cox model waits for the user's click: the fit (Newton steps over
#: n rows, O(n log^2 n) concordance) takes about 0.5 s at 2e5 and 3-10 s at 1e6 patients.
COX_AUTO_MAX_N = 200_000
RESPONSE_GROUPINGS = (schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT)
#: What "without time" means for each endpoint, for the "n = 48 of 50" note.
MISSING_TIME = {"os": "without a date of death or last follow-up", "pfs": "without a progression-free time",
                "dor": "responders without a duration-of-response time"}


@dataclass(frozen=True)
class SurvivalView:
    """Everything the survival page shows, computed once per (data, filter, options)."""

    endpoint: str
    by: str | None
    curves: dict[str, Any]  # label -> KaplanMeierResult, in display order
    n_used: int
    n_input: int
    excluded: tuple[tuple[str, int], ...]
    logrank: Any = None
    cox: Any = None
    ph_violated: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    landmark: Any = None  # il2lib landmark result when a landmark was applied
    population_note: str = ""
    followup: Any = None  # il2lib FollowUpResult (reverse Kaplan-Meier), None without patients
    order: tuple[str, ...] | None = None  # the group order asked for (first = reference), None = the default

    @property
    def n_note(self) -> str:
        return self.note_with(lambda _key, n: str(n))

    def note_with(self, count) -> str:
        """``n = 48 of 50 (2 without ...)`` with each count as ``count(key, n)`` writes it (keys of
        :meth:`count_view`, e.g. a small-cell ``Suppression.text``)."""
        detail = "; ".join(f"{count(('left out', why), n)} {MISSING_TIME[self.endpoint] if why == 'without time' else why}"
                           for why, n in self.excluded)
        return (f"n = {count(('used',), self.n_used)} of {count(('total',), self.n_input)}"
                + (f" ({detail})" if detail else ""))

    def count_view(self, sidebar_n: int | None = None):
        """The counts shown with the curves, for small-cell protection (:func:`curves_count_view`), and the
        median follow-up's n: on overall survival, the curves' patients and those left out only for want of
        a group, when OS is the endpoint (from IL-2 start)."""
        view = curves_count_view(self.curves, self.n_used, self.n_input, self.excluded, sidebar_n)
        if self.followup is not None:
            view.add(("follow-up",), self.followup.n)
            if self.endpoint == "os" and self.landmark is None:
                view.add_sum(("follow-up",), [("used",), *(("left out", why) for why, _ in self.excluded
                                                          if why not in ("without time", "without event"))])
            view.add_at_most(("follow-up",), ("total",))
        return view


def curves_count_view(curves: dict, n_used: int, n_input: int, excluded, sidebar_n: int | None = None,
                      events: bool = True) -> CountView:
    """The counts shown with survival curves, for small-cell protection: each curve's n (and events, events <= n),
    and the note's used / total / left out (used = the curves' n, or at least it when some patients have no
    group; total = used + left out). A total equal to ``sidebar_n`` (the sidebar's filtered n) is shown there,
    so it is never hidden."""
    view = CountView()
    for label, r in curves.items():
        view.add(("n", label), r.n, headline=True)
        if events:
            view.add(("events", label), r.n_events)
            view.add_at_most(("events", label), ("n", label))
    view.add(("used",), n_used, headline=True)
    view.add(("total",), n_input, headline=True, fixed=n_input == sidebar_n)
    for why, n in excluded:
        view.add(("left out", why), n)
    sizes = [("n", label) for label in curves]
    if sum(r.n for r in curves.values()) == n_used:
        view.add_sum(("used",), sizes)
    else:
        view.add_relation({**dict.fromkeys(sizes, 1.0), ("used",): -1.0}, -np.inf, 0.0)
    view.add_sum(("total",), [("used",), *(("left out", why) for why, _ in excluded)])
    return view


def _population(df: pd.DataFrame, endpoint: str) -> tuple[pd.DataFrame, str]:
    """DoR is defined for responders only: restrict to CR/PR and say so."""
    if endpoint == "dor" and schema.BOR in df:
        return df[df[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)], "responders (CR or PR) only"
    return df, ""


def _grouped_input(df: pd.DataFrame, endpoint: str, by: str | None, order=None, labels=None) -> pd.DataFrame:
    """``labels``: :func:`group_levels` of ``df`` when the caller has them."""
    ep = schema.ENDPOINTS[endpoint]
    # the columns' arrays, not Series: no index alignment, no copy
    out = pd.DataFrame({"time": df[ep.time].array if ep.time in df else pd.Series(float("nan"), index=df.index),
                        "event": df[ep.event].array if ep.event in df else pd.Series(pd.NA, index=df.index)},
                       index=df.index, copy=False)
    if by is not None:
        if labels is None:
            labels = group_levels(df, by)[0]
        out[GROUP_COLUMN] = pd.Categorical(labels, categories=level_order(by, labels, order))
    return out


def _ordered(categories, order) -> list[str]:
    """``categories`` with the levels named in ``order`` first (in that order)."""
    first = [c for c in dict.fromkeys(order or ()) if c in categories]
    return first + [c for c in categories if c not in first]


def group_choices(df: pd.DataFrame, endpoint: str, by: str | None, landmark_months: float | None,
                  labels=None) -> list[str]:
    """The groups of a survival grouping in their default order (empty without grouping): the labels the
    curves, risk table and Cox model use, so a user can pick the reference among them. ``labels``: a function
    returning :func:`population_labels` when the caller has them."""
    if by is None:
        return []
    if landmark_months is not None and by in RESPONSE_GROUPINGS:
        return list(GROUP_LABELS["response" if by == schema.OBJECTIVE_RESPONSE else "benefit"])
    return level_order(by, population_labels(df, endpoint, by) if labels is None else labels())


@data_cache(max_entries=128, max_size="4MB")
def cached_group_choices(key: tuple, _df: pd.DataFrame, endpoint: str, by: str | None,
                         landmark_months: float | None) -> list[str]:
    """:func:`group_choices` once per (data, filter) ``key``, from the labels the view uses too."""
    return group_choices(_df, endpoint, by, landmark_months,
                         labels=lambda: cached_population_labels(key, _df, endpoint == "dor", by))


def population_labels(df: pd.DataFrame, endpoint: str, by: str) -> pd.Series:
    """The group label (a Categorical, :func:`group_levels`) of each patient of the endpoint's population."""
    return group_levels(_population(df, endpoint)[0], by)[0]


@resource_cache(max_entries=16)
def cached_population_labels(key: tuple, _df: pd.DataFrame, responders_only: bool, by: str) -> pd.Series:
    """:func:`population_labels` once per (data, filter) ``key``: the one pass over the grouping column shared by
    the reference-group control and the view (the same object is returned: do not modify it)."""
    return population_labels(_df, "dor" if responders_only else "os", by)


def _comparisons(data: pd.DataFrame, prepared, curves: dict, messages: list[str], label: str,
                 with_cox: bool) -> tuple[Any, Any, tuple[str, ...]]:
    """``prepared``: :func:`prepare_survival` of ``data``."""
    if len(curves) < 2:
        messages.append("Only one group has patients under the current filters: no between-group test.")
        return None, None, ()
    try:
        logrank = prepared.logrank()
    except Il2libError as exc:
        messages.append(f"Log-rank test not computed: {exc}")
        return None, None, ()
    if not with_cox:
        messages.append(f"Cox hazard ratio not computed: more than {COX_AUTO_MAX_N:,} patients. Switch on "
                        "'Cox HR' to compute it (slow on large cohorts).")
        return logrank, None, ()
    try:
        cox = cox_ph(data.rename(columns={GROUP_COLUMN: label}), "time", "event", [label])
        violated = cox.zph().violated
        cox = cox.compact()  # the view is cached: keep the numbers, not the per-patient fit arrays
    except Il2libError as exc:
        messages.append(f"Cox model not computed: {exc}")
        return logrank, None, ()
    except np.linalg.LinAlgError:  # il2lib's Cox fit lets a singular information matrix through
        messages.append("Cox model not computed: the model cannot be estimated with these patients "
                        "(singular information matrix, e.g. a group without events).")
        return logrank, None, ()
    return logrank, cox, violated


def _landmarked(population: pd.DataFrame, endpoint: str, by: str, landmark_months: float, cb_sd_months: float,
                conf_type: str, window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT, order=None):
    """Landmark cohort (il2lib.survival.landmark) as the time/event/group frame, and the result."""
    ep = schema.ENDPOINTS[endpoint]
    grouping = "response" if by == schema.OBJECTIVE_RESPONSE else "benefit"
    try:
        result = landmark_cohort(population, ep.time, ep.event, grouping=grouping, landmark_months=landmark_months,
                                 cb_sd_months=cb_sd_months, conf_type=conf_type, window_days=window_days)
    except ValueError as exc:  # a landmark shorter than the clinical-benefit threshold
        raise InsufficientDataError(str(exc)) from None
    data = pd.DataFrame({"time": result.time, "event": result.event,
                         GROUP_COLUMN: pd.Categorical(result.group,
                                                      categories=_ordered(list(GROUP_LABELS[grouping]), order))})
    return data, result


def _os_followup(df: pd.DataFrame):
    """Reverse Kaplan-Meier follow-up on overall survival of the filtered cohort, whatever endpoint is shown."""

    if schema.OS_MONTHS not in df or schema.OS_EVENT not in df:
        return None
    return prepare_survival(df[schema.OS_MONTHS], df[schema.OS_EVENT]).followup()  # None without patients


def compute(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str, landmark_months: float | None,
            cb_sd_months: float, with_cox: bool = True,
            window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT, order=None, labels=None) -> SurvivalView:
    """Kaplan-Meier per group, log-rank, Cox HR and PH test for one endpoint and grouping.

    ``order``: groups to put first (curves, legend, risk table, tables); the first is the Cox reference, so the
    hazard ratio reads "other vs first". None: the default order (without before with, first line first).
    ``labels``: :func:`population_labels` when the caller has them (unused with a landmark by response).
    """
    order = tuple(order) if order else None

    population, note = _population(df, endpoint)
    landmark = None
    if landmark_months is not None and by in RESPONSE_GROUPINGS:
        data, landmark = _landmarked(population, endpoint, by, landmark_months, cb_sd_months, conf_type,
                                     window_days, order)
        if len(data) == 0:
            raise InsufficientDataError(landmark.note)
    else:
        data = _grouped_input(population, endpoint, by, order, labels)
    messages: list[str] = []
    # checked, factorized and ranked once for the curves, the log-rank test and (on OS) the follow-up
    prepared = prepare_survival(data["time"], data["event"], data[GROUP_COLUMN] if by is not None else None)
    km = prepared.kaplan_meier(conf_type=conf_type)
    curves = dict(km.items()) if by is not None else {"All patients": km}
    logrank = cox = None
    violated: tuple[str, ...] = ()
    if by is not None:
        label = "Status at landmark" if landmark is not None else schema.label(by)
        logrank, cox, violated = _comparisons(data, prepared, curves, messages, label, with_cox)
    if all(r.n_events == 0 for r in curves.values()):
        messages.append("No events under the current filters: survival stays at 100% and no median is reached.")
    shared = endpoint == "os" and landmark is None and schema.OS_MONTHS in df and schema.OS_EVENT in df
    followup = prepared.followup() if shared else _os_followup(df)  # OS of the filtered cohort either way
    excluded = landmark.excluded if landmark is not None else tuple(km.excluded)
    return SurvivalView(endpoint, by, curves, sum(r.n for r in curves.values()),
                        landmark.n_input if landmark is not None else len(population), excluded, logrank, cox,
                        violated, tuple(messages), landmark, note, followup, order)


@data_cache(max_entries=128, max_size="256MB")
def survival_view(key: tuple, _df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str,
                  landmark_months: float | None, cb_sd_months: float, with_cox: bool,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT, order: tuple[str, ...] | None = None):
    """Cached :func:`compute`; returns ``Computed`` (value or the plain reason it cannot be computed).
    ``order``: see :func:`compute` (a tuple: part of the cache key)."""

    return attempt(_compute_view, key, _df, endpoint, by, conf_type, landmark_months, cb_sd_months, with_cox,
                   window_days, tuple(order) if order else None)


def _compute_view(key: tuple, df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str,
                  landmark_months: float | None, cb_sd_months: float, with_cox: bool, window_days: float,
                  order: tuple[str, ...] | None) -> SurvivalView:
    """:func:`compute` with the group labels the reference-group control has made for ``key``."""
    landmarked = landmark_months is not None and by in RESPONSE_GROUPINGS
    labels = None if by is None or landmarked else cached_population_labels(key, df, endpoint == "dor", by)
    return compute(df, endpoint, by, conf_type, landmark_months, cb_sd_months, with_cox, window_days, order, labels)


def view_columns(endpoint: str, by: str | None, landmark_months: float | None) -> tuple[str, ...] | None:
    """The columns the view (:func:`compute`), its group choices and the pairwise and RMST comparisons read; None
    (every column) for a landmark by response status, which reads the response record."""
    if landmark_months is not None and by in RESPONSE_GROUPINGS:
        return None
    ep = schema.ENDPOINTS[endpoint]
    population = (schema.BOR,) if endpoint == "dor" else ()  # duration of response: responders only
    return tuple(dict.fromkeys((*population, ep.time, ep.event, *((by,) if by else ()), schema.OS_MONTHS,
                                schema.OS_EVENT)))


def view_data(ctx, endpoint: str, by: str | None, landmark_months: float | None) -> pd.DataFrame:
    """The filtered patients with the columns of :func:`view_columns` (copied once per filter)."""
    columns = view_columns(endpoint, by, landmark_months)
    return ctx.data if columns is None else ctx.columns(columns)


@resource_cache(max_entries=32)
def km_chart(view_key: tuple, _curves: dict, title: str, subtitle: str, presentation: bool, time_label: str,
             toggles: tuple[tuple[str, bool], ...], small_cell_threshold: int | None = None,
             hidden_sizes: tuple[str, ...] = ()):
    """The Kaplan-Meier figure, built once per view and display options (plotly's validation of a
    figure costs 0.1-0.3 s per rerun). ``view_key`` identifies ``_curves`` (the arguments of the cached
    :func:`survival_view`); ``small_cell_threshold`` (small-cell protection, part of the cache key) cuts
    the curves where fewer than that many remain at risk. The same object is returned to every rerun:
    do not modify it (masking copies)."""
    from il2lib.figures.km import km_figure

    return km_figure(_curves, title=title, subtitle=subtitle, presentation=presentation, time_label=time_label,
                     small_cell_threshold=small_cell_threshold, hidden_sizes=hidden_sizes, **dict(toggles))


@resource_cache(max_entries=64)
def cached_figure(key: tuple, _build):
    """``_build()`` once per ``key`` (which must name everything the figure depends on: the analysis
    cache key, options, titles, presentation). The same object is returned to every rerun: do not modify it."""
    return _build()


MILESTONE_CHOICES = (6.0, 12.0, 18.0, 24.0, 36.0, 48.0, 60.0)
ORIGINS = {"il2_start": "IL-2 start (default)", "pd1_end": "End of PD-1/PD-L1 therapy", "diagnosis": "Diagnosis"}


@data_cache(max_entries=64, max_size="64MB")
def comparison(key: tuple, kind: str, _df: pd.DataFrame, endpoint: str, by: str | None, options: tuple,
               order: tuple[str, ...] | None = None) -> Computed:
    """Pairwise log-rank, milestone or RMST differences (against the first group of ``order``, else of the
    default order) or the multivariable Cox model."""
    labels = cached_population_labels(key, _df, endpoint == "dor", by) if by is not None else None
    data = survival_input(_df, endpoint, by, order, labels)
    if kind == "pairwise":
        return attempt(pairwise_logrank, data["time"], data["event"], data["group"])
    if kind == "milestones":
        return attempt(survival_differences, data["time"], data["event"], data["group"], list(options))
    if kind == "rmst":
        return attempt(rmst_differences, data["time"], data["event"], data["group"], options[0])
    if kind == "cox":
        computed = attempt(multivariable_cox, _df, endpoint, list(options))
        if computed.ok and computed.value.cox is not None:  # cached: drop the per-patient fit arrays
            computed = Computed(dataclasses.replace(computed.value, cox=computed.value.cox.compact()))
        return computed
    raise ValueError(kind)


def endpoint_by(endpoint: str, by: str | None) -> str:
    """"Overall survival by line of IL-2" (for download titles)."""
    return schema.ENDPOINTS[endpoint].label + (f" by {by_text(by)}" if by else "")


def rmst_display(res) -> pd.DataFrame:
    per = res.per_group.set_index("group")
    rows = [{"Group": g, f"RMST to {res.tau:.1f} mo": f"{per.at[g, 'rmst']:.1f} ({per.at[g, 'ci_lower']:.1f}–"
             f"{per.at[g, 'ci_upper']:.1f})", "Difference vs " + str(res.reference): "reference" if g == res.reference
             else diff_text(res.differences, g)} for g in per.index]
    return pd.DataFrame(rows)


def diff_text(diff: pd.DataFrame, group, scale: float = 1.0, unit: str = "") -> str:
    row = diff[diff["group"] == group].iloc[0]
    return (f"{scale * row['difference']:+.1f}{unit} ({scale * row['ci_lower']:+.1f} to {scale * row['ci_upper']:+.1f}), "
            f"{format_p(row['p'])}")
