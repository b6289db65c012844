"""Seeded synthetic sample data: the two calibrated cohorts, their AE tables and a benchmark generator.

Everything here is SYNTHETIC and illustrative, calibrated to published summaries (see
``sample_data/README.md``). Functions are pure and deterministic for a given seed, and return raw
registry-export columns (ISO dates, ``Yes``/``No``, BOR as CR/PR/SD/PD/NE) named by
:mod:`il2lib.schema`.

``python -m il2lib.sample [OUTDIR]`` rewrites the bundled files.
"""
from il2lib.sample.adverse_events import adverse_events
from il2lib.sample.community import COMMUNITY_SEED, SOURCE_COMMUNITY, community_cohort
from il2lib.sample.files import SAMPLE_FILES, combined_cohort, main, to_csv_bytes, write_samples
from il2lib.sample.proclaim import PROCLAIM_SEED, SOURCE_PROCLAIM, proclaim_cohort
from il2lib.sample.synthetic import synthetic_cohort

#: Top-level alias (``il2lib.validation.adverse_events`` is the AE-analysis module).
sample_adverse_events = adverse_events

__all__ = ["COMMUNITY_SEED", "PROCLAIM_SEED", "SAMPLE_FILES", "SOURCE_COMMUNITY", "SOURCE_PROCLAIM",
           "adverse_events", "combined_cohort", "community_cohort", "main", "proclaim_cohort", "sample_adverse_events",
           "synthetic_cohort", "to_csv_bytes", "write_samples"]
