"""The dashboard's analyses of a filtered cohort: best response and response rates with exact CIs
(:mod:`~il2lib.analyses.response`), Table 1 (:mod:`~il2lib.analyses.table1`), biomarkers by clinical
benefit (:mod:`~il2lib.analyses.biomarkers`), toxicity (:mod:`~il2lib.analyses.toxicity`) and the
published numbers they are compared with (:mod:`~il2lib.analyses.published`). Survival analyses are in
:mod:`il2lib.survival`."""
