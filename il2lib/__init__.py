"""il2lib: analysis package of the il2-registry dashboard (HD IL-2 in metastatic melanoma and RCC).

Plain Python: no Streamlit anywhere in this package. Public names are imported lazily, so
``import il2lib`` stays fast and only pulls in what a caller uses.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "schema": "il2lib.schema",
    "Il2libError": "il2lib.errors",
    "CohortFileError": "il2lib.errors",
    "InsufficientDataError": "il2lib.errors",
    "ConvergenceError": "il2lib.errors",
    "load_cohort": "il2lib.redcap.entry",
    "load_adverse_events": "il2lib.validation.adverse_events",
    "Cohort": "il2lib.validation.patients",
    "ValidationReport": "il2lib.validation.patients",
    "Finding": "il2lib.validation.rules",
    "CohortFilter": "il2lib.cohort",
    "apply_filter": "il2lib.cohort",
    "with_clinical_benefit": "il2lib.cohort",
    "line_group": "il2lib.cohort",
    "LINE_GROUPS": "il2lib.cohort",
    "suggest_mapping": "il2lib.validation.mapping",
    "AdverseEvents": "il2lib.validation.adverse_events",
    "read_table": "il2lib.validation.read",
    "load_redcap": "il2lib.redcap.export",
    "load_tumour_assessments": "il2lib.analyses.tumour_burden",
    "tumour_burden": "il2lib.analyses.tumour_burden",
    "TumourAssessments": "il2lib.analyses.tumour_burden",
    "survival": "il2lib.survival",
    "kaplan_meier": "il2lib.survival",
    "logrank_test": "il2lib.survival",
    "cox_ph": "il2lib.survival",
    "landmark": "il2lib.survival",
    "median_followup": "il2lib.survival",
    "survival_at_times": "il2lib.survival",
    "hazard_ratio_allowed": "il2lib.survival",
    "SurvivalInputError": "il2lib.errors",
    "sample": "il2lib.sample",
    "proclaim_cohort": "il2lib.sample",
    "community_cohort": "il2lib.sample",
    "combined_cohort": "il2lib.sample",
    "sample_adverse_events": "il2lib.sample",
    "synthetic_cohort": "il2lib.sample",
    "write_samples": "il2lib.sample",
    "proportion_ci": "il2lib.stats",
    "compare_proportions": "il2lib.stats",
    "fisher_exact_2x2": "il2lib.stats",
    "fisher_freeman_halton": "il2lib.stats",
    "format_p": "il2lib.stats",
    "best_response_table": "il2lib.analyses.response",
    "response_rates": "il2lib.analyses.response",
    "duration_of_response": "il2lib.analyses.response",
    "Table1": "il2lib.analyses.table1",
    "biomarker_comparison": "il2lib.analyses.biomarkers",
    "toxicity_summary": "il2lib.analyses.toxicity",
    "multivariable_cox": "il2lib.survival.multivariable",
    "pairwise_logrank": "il2lib.survival.pairwise",
    "pairwise_fisher": "il2lib.survival.pairwise",
    "survival_differences": "il2lib.survival.milestones",
    "rmst_differences": "il2lib.survival.milestones",
    "cumulative_incidence": "il2lib.survival.competing",
    "gray_test": "il2lib.survival.competing",
    "origin_times": "il2lib.survival.time_origin",
    "kaplan_meier_entry": "il2lib.survival.time_origin",
    "logrank_entry": "il2lib.survival.time_origin",
    "published": "il2lib.analyses.published",
    "masking": "il2lib.privacy.masking",
    "snippets": "il2lib.export.snippets",
    "export": "il2lib.export",
    "neutralize_cell": "il2lib.export.files",
    "neutralize_frame": "il2lib.export.files",
    "table_to_csv_bytes": "il2lib.export.files",
    "table_to_xlsx_bytes": "il2lib.export.files",
    "figure_to_png": "il2lib.export.files",
    "figure_to_svg": "il2lib.export.files",
    "figure_to_html": "il2lib.export.files",
    "report": "il2lib.report",
    "SurvivalCounts": "il2lib.survival.counts",
    "survival_counts": "il2lib.survival.counts",
    "counts_from_aggregate": "il2lib.survival.counts",
    "kaplan_meier_counts": "il2lib.survival.counts",
    "logrank_counts": "il2lib.survival.counts",
    "rmst_counts": "il2lib.survival.counts",
    "median_counts": "il2lib.survival.counts",
    "sources": "il2lib.sources",
    "DataSource": "il2lib.sources",
    "DataFrameSource": "il2lib.sources",
    "DuckDBSource": "il2lib.sources",
    "PostgresSource": "il2lib.sources",
    "open_source": "il2lib.sources",
    "build_report": "il2lib.report",
    "Report": "il2lib.report",
    "write_pdf": "il2lib.report",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    try:
        module = importlib.import_module(_EXPORTS[name])
    except KeyError:
        raise AttributeError(f"module 'il2lib' has no attribute {name!r}") from None
    # a module exported under its own name, unless it defines that name (il2lib.tumour_burden is the function)
    value = getattr(module, name) if hasattr(module, name) or module.__name__.rpartition(".")[2] != name else module
    globals()[name] = value
    return value
