"""The floor of a first render: a minimal Streamlit page with one small plotly chart.

bench/bench_dashboard.py times its first render (fresh server, new browser session) in the same run as
the dashboard's Data and Survival pages: what Streamlit and plotly.js cost before any page code runs.
"""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Minimal", layout="wide")
st.title("Minimal page")
fig = go.Figure(go.Scatter(x=[0, 6, 12, 18, 24], y=[1.0, 0.8, 0.6, 0.5, 0.4], mode="lines", line_shape="hv"))
st.plotly_chart(fig, width="stretch")
