"""Figure sections shared by pages: each calls an il2lib figure builder and renders it."""
from __future__ import annotations

import streamlit as st


def response_forest(ctx, rates) -> None:
    """ORR forest plot by subgroup (il2lib.figures.response)."""


def swimmer(ctx) -> None:
    """Swimmer plot of responders (il2lib.figures.response)."""


def biomarkers(ctx, result, disease) -> None:
    """Box/strip plots of the continuous biomarkers (il2lib.figures.biomarkers)."""


def toxicity(ctx, tox) -> None:
    """AE grade bar chart (il2lib.figures.toxicity)."""
