"""Figure builders: pure functions returning ``plotly.graph_objects.Figure`` (never rendering, no Streamlit).

Colours and sizes live in :mod:`il2lib.figures.palette` (Okabe-Ito, presentation mode).
Modules: ``km`` (Kaplan-Meier), ``response`` (bars, forest, swimmer), ``biomarkers`` (box/strip),
``toxicity`` (AE grade bars).
"""
