"""Issue-10 sections of the Survival page: pairwise log-rank next to the figure, RMST offered when
proportional hazards fail, and a collapsed, lazily drawn section with tabs for the multivariable Cox
model, milestones/RMST, competing risks, time origin with delayed entry and the published-result
overlay. Numbers come from il2lib.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import streamlit as st

from app_ui.beyond import Masking, by_text, pairwise_display, show_code, table_with_downloads
from app_ui.cached import Computed, _attempt, group_column_values
from app_ui.session_cache import data_cache
from app_ui.survival_view import COX_AUTO_MAX_N
from app_ui.widgets import format_p, md_escape
from il2lib import schema

MILESTONE_CHOICES = (6.0, 12.0, 18.0, 24.0, 36.0, 48.0, 60.0)
ORIGINS = {"il2_start": "IL-2 start (default)", "pd1_end": "End of PD-1/PD-L1 therapy", "diagnosis": "Diagnosis"}


def _fmt(value: float, digits: int = 1) -> str:
    return "NR" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def survival_input(df: pd.DataFrame, endpoint: str, by: str | None) -> pd.DataFrame:
    """time, event, group of the endpoint (DoR: responders only), group labels as on the page."""
    time_col, event_col, _ = schema.ENDPOINTS[endpoint]
    if endpoint == "dor" and schema.BOR in df:
        df = df[df[schema.BOR].isin(["CR", "PR"]).to_numpy(dtype=bool)]
    out = pd.DataFrame({"time": pd.to_numeric(df[time_col], errors="coerce") if time_col in df else np.nan,
                        "event": df[event_col].astype("Float64") if event_col in df else np.nan}, index=df.index)
    if by is not None:
        labels, order = group_column_values(df, by)
        out["group"] = pd.Categorical(labels, categories=order)
    return out


@data_cache(max_entries=64, max_size="64MB")
def _compute(key: tuple, kind: str, _df: pd.DataFrame, endpoint: str, by: str | None, options: tuple) -> Computed:
    from il2lib.survival.milestones import rmst_differences, survival_differences
    from il2lib.survival.multivariable import multivariable_cox
    from il2lib.survival.pairwise import pairwise_logrank

    data = survival_input(_df, endpoint, by)
    if kind == "pairwise":
        return _attempt(pairwise_logrank, data["time"], data["event"], data["group"])
    if kind == "milestones":
        return _attempt(survival_differences, data["time"], data["event"], data["group"], list(options))
    if kind == "rmst":
        return _attempt(rmst_differences, data["time"], data["event"], data["group"], options[0])
    if kind == "cox":
        computed = _attempt(multivariable_cox, _df, endpoint, list(options))
        if computed.ok and computed.value.cox is not None:  # cached: drop the per-patient fit arrays
            computed = Computed(dataclasses.replace(computed.value, cox=computed.value.cox.compact()))
        return computed
    raise ValueError(kind)


def next_to_figure(ctx, endpoint: str, by: str | None, view, masking: Masking) -> None:
    """Right column: pairwise log-rank (3+ groups) and RMST offered when the PH check fails."""
    from il2lib.snippets import milestone_snippet, pairwise_logrank_snippet

    if by is None or view.landmark is not None:
        return
    if len(view.curves) >= 3:
        computed = _compute(ctx.cache_key, "pairwise", ctx.data, endpoint, by, ())
        if computed.ok:
            st.markdown("**Pairwise log-rank tests**")
            note = ("Each pair tested on its two groups; Holm (family-wise) and Benjamini-Hochberg (false "
                    "discovery rate) adjust over the pairs, as R's p.adjust.")
            table_with_downloads(ctx, masking.table(pairwise_display(computed.value.table)), "pairwise_lr_table",
                                 f"pairwise_logrank_{endpoint}_by_{by}",
                                 f"Pairwise log-rank tests: {endpoint_by(endpoint, by)}", [note])
            st.caption(note)
            show_code(pairwise_logrank_snippet(endpoint, by), ctx, masking, "pairwise_lr")
        elif computed.refused:
            st.info(md_escape(computed.message), icon=":material/hourglass_disabled:")
    if view.ph_violated:
        computed = _compute(ctx.cache_key, "rmst", ctx.data, endpoint, by, (None,))
        st.info("Proportional hazards look violated, so the restricted mean survival time (RMST) is offered: it "
                "needs no PH assumption.", icon=":material/insights:")
        if computed.ok:
            table_with_downloads(ctx, rmst_display(computed.value), "rmst_auto_table",
                                 f"rmst_{endpoint}_by_{by}_tau_{computed.value.tau:.1f}",
                                 f"Restricted mean survival time to {computed.value.tau:.1f} months: "
                                 f"{endpoint_by(endpoint, by)}")
            show_code(milestone_snippet(endpoint, by, tau=computed.value.tau), ctx, masking, "rmst_auto")
        elif computed.refused:
            st.info(md_escape(computed.message), icon=":material/hourglass_disabled:")


def endpoint_by(endpoint: str, by: str | None) -> str:
    """"Overall survival by line of IL-2" (for download titles)."""
    return schema.ENDPOINTS[endpoint][2] + (f" by {by_text(by)}" if by else "")


def rmst_display(res) -> pd.DataFrame:
    per = res.per_group.set_index("group")
    rows = [{"Group": g, f"RMST to {res.tau:.1f} mo": f"{per.at[g, 'rmst']:.1f} ({per.at[g, 'ci_lower']:.1f}–"
             f"{per.at[g, 'ci_upper']:.1f})", "Difference vs " + str(res.reference): "reference" if g == res.reference
             else _diff_text(res.differences, g)} for g in per.index]
    return pd.DataFrame(rows)


def _diff_text(diff: pd.DataFrame, group, scale: float = 1.0, unit: str = "") -> str:
    row = diff[diff["group"] == group].iloc[0]
    return (f"{scale * row['difference']:+.1f}{unit} ({scale * row['ci_lower']:+.1f} to {scale * row['ci_upper']:+.1f}), "
            f"{format_p(row['p'])}")


#: Tab labels of "Models and further comparisons" (also the values of ``?km_tab=``).
TABS = ("Multivariable Cox", "Milestones & RMST", "Competing risks", "Time origin", "Published results")


def further(ctx, endpoint: str, by: str | None, conf_type: str, view, masking: Masking) -> None:
    """The issue-10 sections under the Kaplan-Meier figure, in a collapsed expander.

    Nothing inside runs or draws until the expander is opened, and then only the open tab: a
    filter change redraws just the figure and its numbers. Open state and tab are mirrored in
    the URL (``?km_more=true&km_tab=...``).
    """
    from app_ui import beyond_survival_tabs as t

    more = st.expander("Models and further comparisons: multivariable Cox, milestones & RMST, competing risks, "
                       "time origin, published results", icon=":material/query_stats:", key="km_more",
                       on_change="rerun", bind="query-params")
    with more:
        if not more.open:
            return
        if ctx.n > COX_AUTO_MAX_N:
            st.caption(f"{ctx.n:,} patients: each model takes a few seconds at this size.")
        draw = {"Multivariable Cox": lambda: t.cox_tab(ctx, endpoint, masking),
                "Milestones & RMST": lambda: t.milestones_tab(ctx, endpoint, by, view, masking),
                "Competing risks": lambda: t.competing_tab(ctx, by, masking),
                "Time origin": lambda: t.origin_tab(ctx, endpoint, by, conf_type, masking),
                "Published results": lambda: t.published_tab(ctx, endpoint, masking)}
        for label, tab in zip(TABS, st.tabs(list(TABS), key="km_tab", on_change="rerun", bind="query-params")):
            if tab.open:
                with tab:
                    draw[label]()
