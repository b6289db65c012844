"""Baseline for bench/bench_dashboard.py: a minimal one-page Streamlit Kaplan-Meier app.

Reads the Parquet file named by ``IL2_BASELINE_DATA`` (the same file the dashboard benchmark
loads), derives overall survival from the dates in the plainest way, offers the two sidebar filters
the benchmark changes (prior PD-1/PD-L1, sex), fits lifelines' ``KaplanMeierFitter`` per disease and
draws the step curves with plotly. No risk table, CI, log-rank or Cox: the floor the dashboard is compared against.
"""
from __future__ import annotations

import os

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from lifelines import KaplanMeierFitter

DAYS_PER_MONTH = 30.4375
YES = {"yes", "y", "true", "1"}


@st.cache_data
def load(path: str) -> pd.DataFrame:
    raw = pd.read_parquet(path)
    died = raw["died"].str.lower().isin(YES)
    start = pd.to_datetime(raw["date_il2_start"], errors="coerce")
    end = pd.to_datetime(raw["date_death"].where(died, raw["date_last_followup"]), errors="coerce")
    frame = pd.DataFrame({"disease": raw["disease"].str.lower(),
                          "prior": raw["prior_pd1_pdl1"].str.lower().isin(YES).map({True: "yes", False: "no"}),
                          "sex": raw["sex"].str.upper(),
                          "time": (end - start).dt.days / DAYS_PER_MONTH, "event": died})
    return frame.dropna()


st.set_page_config(page_title="Baseline KM", layout="wide")
data = load(os.environ["IL2_BASELINE_DATA"])
chosen = st.sidebar.multiselect("Prior PD-1/PD-L1", ["yes", "no"], placeholder="All")
sexes = st.sidebar.multiselect("Sex", ["F", "M"], placeholder="All")
subset = data[data["prior"].isin(chosen)] if chosen else data
subset = subset[subset["sex"].isin(sexes)] if sexes else subset
st.sidebar.markdown(f"**n = {len(subset)} of {len(data)} patients**")
fig = go.Figure()
for disease, group in subset.groupby("disease"):
    fitter = KaplanMeierFitter().fit(group["time"], group["event"], label=disease)
    curve = fitter.survival_function_[disease]
    fig.add_trace(go.Scatter(x=curve.index, y=curve.to_numpy(), mode="lines", line_shape="hv", name=disease))
fig.update_layout(title="Overall survival by disease", xaxis_title="Months", yaxis_title="Survival")
st.title("Baseline Kaplan-Meier")
st.plotly_chart(fig, width="stretch")
