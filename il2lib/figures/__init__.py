"""Figure builders: pure functions returning ``plotly.graph_objects.Figure`` (never rendering, no Streamlit).

Colours and sizes live in :mod:`il2lib.figures.palette` (Okabe-Ito, presentation mode).
Modules: ``km`` (Kaplan-Meier), ``response`` (bars, forest, swimmer), ``biomarkers`` (box/strip),
``toxicity`` (AE grade bars), ``tumour_burden`` (waterfall, spider).
"""
from __future__ import annotations

#: Figure kinds that show patients one by one (a lane or a point per patient, ids on hover). While
#: small-cell protection is on, the dashboard, its downloads and the report withhold a figure of such a
#: kind, unless the kind is in :data:`MASKED_FORMS`. A new per-patient figure is declared here.
PATIENT_LEVEL_FIGURES = frozenset({"swimmer", "biomarker", "waterfall", "spider"})
#: Patient-level kinds whose builder has a masked form, drawn instead while protection is on: the builder
#: takes ``small_cell_threshold`` and then draws no per-patient mark (biomarkers: boxes only, no points).
MASKED_FORMS = frozenset({"biomarker"})


def withheld_under_masking(kind: str | None) -> bool:
    """True when a figure of ``kind`` is not shown at all while small-cell protection is on."""
    return kind in PATIENT_LEVEL_FIGURES and kind not in MASKED_FORMS
