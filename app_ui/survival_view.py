"""The survival page's analysis bundle: KM per group, log-rank, Cox HR with its PH check.

Only orchestration: every number comes from :mod:`il2lib.survival`. Cached with
``st.cache_data`` under the page's cache key (see :mod:`app_ui.cached`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from il2lib import schema
from il2lib.errors import Il2libError

GROUP_COLUMN = "group"
MILESTONES = (12.0, 24.0, 36.0)
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
    extra: dict = field(default_factory=dict)

    @property
    def n_note(self) -> str:
        detail = "; ".join(f"{n} {MISSING_TIME[self.endpoint] if why == 'without time' else why}"
                           for why, n in self.excluded)
        return f"n = {self.n_used} of {self.n_input}" + (f" ({detail})" if detail else "")


def _population(df: pd.DataFrame, endpoint: str) -> tuple[pd.DataFrame, str]:
    """DoR is defined for responders only: restrict to CR/PR and say so."""
    if endpoint == "dor" and schema.BOR in df:
        return df[df[schema.BOR].isin(["CR", "PR"]).to_numpy(dtype=bool)], "responders (CR or PR) only"
    return df, ""


def _grouped_input(df: pd.DataFrame, endpoint: str, by: str | None) -> pd.DataFrame:
    from app_ui.cached import group_column_values

    time_col, event_col, _ = schema.ENDPOINTS[endpoint]
    out = pd.DataFrame({"time": df[time_col] if time_col in df else pd.Series(float("nan"), index=df.index),
                        "event": df[event_col] if event_col in df else pd.Series(pd.NA, index=df.index)},
                       index=df.index)
    if by is not None:
        labels, order = group_column_values(df, by)
        out[GROUP_COLUMN] = pd.Categorical(labels, categories=order)
    return out


def _comparisons(data: pd.DataFrame, curves: dict, messages: list[str]) -> tuple[Any, Any, tuple[str, ...]]:
    from il2lib.survival import cox_ph, logrank_test

    if len(curves) < 2:
        messages.append("Only one group has patients under the current filters: no between-group test.")
        return None, None, ()
    try:
        logrank = logrank_test(data["time"], data["event"], data[GROUP_COLUMN])
    except Il2libError as exc:
        messages.append(f"Log-rank test not computed: {exc}")
        return None, None, ()
    try:
        cox = cox_ph(data, "time", "event", [GROUP_COLUMN])
        violated = cox.zph().violated
    except Il2libError as exc:
        messages.append(f"Cox model not computed: {exc}")
        return logrank, None, ()
    return logrank, cox, violated


def compute(df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str,
            landmark_months: float | None) -> SurvivalView:
    """Kaplan-Meier per group, log-rank, Cox HR and PH test for one endpoint and grouping."""
    from il2lib.survival import kaplan_meier

    population, note = _population(df, endpoint)
    data = _grouped_input(population, endpoint, by)
    landmark = None
    if landmark_months is not None and by is not None:
        from app_ui.landmark import apply_landmark

        data, landmark = apply_landmark(population, data, endpoint, by, landmark_months)
    messages: list[str] = []
    km = kaplan_meier(data["time"], data["event"], conf_type=conf_type,
                      by=data[GROUP_COLUMN] if by is not None else None)
    curves = dict(km.items()) if by is not None else {"All patients": km}
    logrank = cox = None
    violated: tuple[str, ...] = ()
    if by is not None:
        logrank, cox, violated = _comparisons(data, curves, messages)
    if all(r.n_events == 0 for r in curves.values()):
        messages.append("No events under the current filters: survival stays at 100% and no median is reached.")
    return SurvivalView(endpoint, by, curves, sum(r.n for r in curves.values()), len(population) if landmark is None
                        else landmark.n_input, tuple(km.excluded), logrank, cox, violated, tuple(messages),
                        landmark, note)


@st.cache_data(max_entries=128, show_spinner=False)
def survival_view(key: tuple, _df: pd.DataFrame, endpoint: str, by: str | None, conf_type: str,
                  landmark_months: float | None):
    """Cached :func:`compute`; returns ``Computed`` (value or the plain reason it cannot be computed)."""
    from app_ui.cached import _attempt

    return _attempt(compute, _df, endpoint, by, conf_type, landmark_months)
