"""Cached wrappers around il2lib analyses (``st.cache_data`` with an upload's results kept in its session:
:mod:`app_ui.session_cache`).

Every wrapper takes ``key`` (``AppContext.cache_key``: data scope, fingerprint, clinical-benefit
rule and filter; hashable) plus the filtered frame as ``_df`` (not hashed: the key already
identifies it, and hashing a million-row frame on every rerun would cost more than the
analysis). Options are plain hashable arguments. A wrapper returns ``Computed(value, message)``:
``message`` is the plain sentence of an :class:`il2lib.errors.Il2libError` (too few patients, no
events, ...) for the page to show instead of numbers; ``refused`` marks a computation stopped by its
work limit (:class:`il2lib.errors.WorkLimitExceeded`: too long for the selection); other exceptions propagate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import pandas as pd
import streamlit as st

from app_ui.session_cache import data_cache, forget_with
from il2lib import schema
from il2lib.analyses import response as response_analysis, table1 as table1_analysis
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import FrameRules, best_response_table
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.errors import Il2libError, WorkLimitExceeded
from il2lib.survival.time_dependent import response_time_dependent

T = TypeVar("T")
CACHE = dict(max_entries=128, max_size="128MB")  # per scope: process-wide, or one session's upload


@dataclass(frozen=True)
class Computed(Generic[T]):
    value: T | None
    message: str = ""
    refused: bool = False  # stopped by its work limit: the message says to narrow the filters

    @property
    def ok(self) -> bool:
        return self.value is not None


def attempt(fn, *args, **kwargs) -> Computed:
    try:
        return Computed(fn(*args, **kwargs))
    except Il2libError as exc:
        return Computed(None, str(exc), isinstance(exc, WorkLimitExceeded))


@data_cache(**CACHE)
def table1(key: tuple, _df: pd.DataFrame, by: str | None) -> Computed:
    return attempt(table1_analysis.table1, _df, by)


#: Session state key: this session's :class:`FrameRules`, by frame object (and their frames' weak references).
FRAME_RULES = "_frame_rules"
FRAME_RULES_REFS = "_frame_rules_refs"


def frame_rules(df: pd.DataFrame) -> FrameRules:
    """The RECIST rules of this frame object, counted once for all its groupings (the page's tables and the forest
    plot). Kept in the session (an upload's per-patient results never leave it) and forgotten with the frame."""
    held = st.session_state.setdefault(FRAME_RULES, {})
    rules = held.get(id(df))
    if rules is None or not rules.belongs_to(df):
        rules = held[id(df)] = FrameRules(df)
        refs = st.session_state.setdefault(FRAME_RULES_REFS, {})
        refs[id(df)] = forget_with(df, (held, id(df)), (refs, id(df)))
    return rules


@data_cache(**CACHE)
def best_response(key: tuple, _df: pd.DataFrame, by: str | None,
                  sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                  order: tuple[str, ...] | None = None) -> Computed:
    return attempt(best_response_table, _df, by, sd_minimum_weeks=sd_minimum_weeks, window_days=window_days,
                   order=order, frame_rules=frame_rules(_df))


@data_cache(**CACHE)
def response_rates(key: tuple, _df: pd.DataFrame, by: str | None, cb_sd_months: float, denominator: str,
                   ci_method: str, sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                   window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                   order: tuple[str, ...] | None = None) -> Computed:
    return attempt(response_analysis.response_rates, _df, by, "all", ci_method=ci_method, cb_sd_months=cb_sd_months,
                   denominator=denominator, sd_minimum_weeks=sd_minimum_weeks, window_days=window_days, order=order,
                   frame_rules=frame_rules(_df))


@data_cache(**CACHE)
def duration_of_response(key: tuple, _df: pd.DataFrame, conf_type: str) -> Computed:
    return attempt(response_analysis.duration_of_response, _df, conf_type)


@data_cache(**CACHE)
def biomarkers(key: tuple, _df: pd.DataFrame, cb_sd_months: float, adjust: str,
               window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Computed:
    return attempt(biomarker_comparison, _df, None, cb_sd_months, adjust=adjust, window_days=window_days)


@data_cache(**CACHE)
def toxicity(key: tuple, ae_key: str, _ae: pd.DataFrame, _df: pd.DataFrame, by: str | None,
             ae_complete: tuple[str, ...] = ()) -> Computed:
    """Toxicity summary; ``ae_key`` identifies the AE table (``_ae``: its validated rows); ``ae_complete``:
    the sources whose AE file the user declared complete (Data page)."""
    return attempt(toxicity_summary, _ae, _df, by, ae_complete=ae_complete)


@data_cache(**CACHE)
def time_dependent_response(key: tuple, _df: pd.DataFrame, endpoint: str, grouping: str, conf_type: str,
                            cb_sd_months: float, window_days: float, min_at_risk: int) -> Computed:
    """Response (``grouping="response"``) or clinical benefit as a time-dependent covariate: Mantel-Byar test,
    time-dependent Cox HR and Simon-Makuch curves (:func:`il2lib.survival.response_time_dependent`)."""
    return attempt(response_time_dependent, _df, endpoint, grouping, cb_sd_months=cb_sd_months,
                   window_days=window_days, min_at_risk=min_at_risk, conf_type=conf_type)


def has_both_prior_levels(df: pd.DataFrame) -> bool:
    """True when the patients include both prior PD-1/PD-L1 = yes and = no (era caveat applies)."""
    if schema.PRIOR_PD1 not in df:
        return False
    values = set(df[schema.PRIOR_PD1].dropna().astype(bool).unique().tolist())
    return values == {True, False}

