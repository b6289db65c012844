"""The "Show code" expanders: the Python (il2lib) and R code that reproduces a table or figure from the
exported analysis CSV (see :mod:`il2lib.export.snippets`), with that CSV to download."""
from __future__ import annotations

import streamlit as st

from app_ui.figures import FOREST_GROUPINGS
from il2lib import schema
from il2lib.export import snippets
from il2lib.export.files import table_to_csv_bytes

#: What each "Show code" expander reproduces (by its key).
CODE_TITLES = {"pairwise_fisher": "pairwise Fisher tests", "published_orr": "ORR vs published",
               "page_km": "curves, medians, log-rank", "page_response": "response rates",
               "page_forest": "ORR forest plot", "page_rates_figure": "ORR and CBR by group",
               "page_swimmer": "swimmer plot", "page_dor": "duration of response",
               "page_table1": "Table 1", "page_biomarkers": "biomarker comparisons", "page_toxicity": "toxicity",
               "pairwise_lr": "pairwise log-rank", "rmst_auto": "RMST", "cox": "multivariable Cox",
               "milestones": "milestones and RMST", "cif": "cumulative incidence", "origin": "time origin",
               "time_dependent": "Mantel-Byar, time-dependent Cox, Simon-Makuch"}


def code_key(key: str) -> str:
    """Session key of the "Show code" expander ``key`` (open = True)."""
    return f"show_code_{key}"


def show_code(snippet, ctx, key: str, ae: bool = False) -> None:
    """'Show code' expander: Python (il2lib) and R snippets plus the CSV they read (and the AE rows if ``ae``).
    Not drawn in presentation mode (a slide shows results, not code)."""
    if ctx.presentation:
        return
    title = CODE_TITLES.get(key, "")
    section = st.expander(f"Show code: {title}" if title else "Show code", icon=":material/code:",
                          key=code_key(key), on_change="rerun")
    with section:
        if not section.open:  # drawn on demand: the code highlighter is a large browser bundle
            return
        st.caption(f"Reproduces the numbers from the exported analysis CSV ({snippets.DEFAULT_CSV}: the filtered "
                   "patients, one row each, derived columns included).")
        st.code(snippet.python, language="python")
        if snippet.r:
            st.markdown("Equivalent R (`survival`; `cmprsk` for competing risks):")
            st.code(snippet.r, language="r")
        if ctx.masking.on:
            st.caption("Patient-level download hidden while small-cell protection is on.")
        else:
            st.download_button("Analysis CSV", data=lambda: table_to_csv_bytes(ctx.data),
                               file_name=snippets.DEFAULT_CSV, mime="text/csv", key=f"code_csv_{key}",
                               on_click="ignore", type="tertiary", icon=":material/download:")
            events = getattr(ctx.loaded, "adverse_events", None)
            if ae and events is not None:
                st.download_button("Adverse-event CSV", data=lambda: table_to_csv_bytes(events.data),
                                   file_name=snippets.AE_CSV, mime="text/csv", key=f"code_ae_{key}",
                                   on_click="ignore", type="tertiary", icon=":material/download:")


def code_for(kind: str, ctx, **options) -> None:
    """'Show code' for one of the pages' tables or figures."""
    cb, window = ctx.cb_sd_months, ctx.assessment_window_days
    if kind == "km":
        landmark = options.get("landmark")
        snippet = (snippets.landmark_snippet(options["endpoint"], options["by"], landmark, cb, options["conf_type"],
                                             window_days=window)
                   if landmark is not None and options["by"] in (schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT)
                   else snippets.km_snippet(options["endpoint"], options["by"], options["conf_type"]))
    elif kind == "response":
        snippet = snippets.response_snippet(options["by"], options["ci_method"], options["denominator"], cb,
                                            window_days=window)
    elif kind == "rates_figure":
        snippet = snippets.rates_figure_snippet(options["by"], options["ci_method"], options["denominator"], cb,
                                                window_days=window, sd_minimum_weeks=options["sd_minimum"])
    elif kind == "forest":
        snippet = snippets.forest_snippet(options.get("groupings", FOREST_GROUPINGS), options["denominator"],
                                          options["ci_method"], cb)
    elif kind == "table1":
        snippet = snippets.table1_snippet(options["by"])
    elif kind == "biomarkers":
        snippet = snippets.biomarkers_snippet(cb, options.get("adjust", "none"), window_days=window)
    elif kind == "toxicity":
        snippet = snippets.toxicity_snippet(options["by"], ae_complete=options.get("ae_complete", ()))
    else:
        snippet = {"swimmer": snippets.swimmer_snippet, "dor": snippets.dor_snippet}[kind]()
    show_code(snippet, ctx, f"page_{kind}", ae=kind == "toxicity")
