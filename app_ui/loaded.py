"""The current data set as the pages see it (:class:`LoadedData`), whatever its source: a bundled sample,
a server-side file, an upload (:mod:`app_ui.data`) or the registry (:mod:`app_ui.registry`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RedcapSummary:
    """What the Data page reports of a REDCap export beyond the validation: its kind, coding, the REDCap
    findings and the missing-data codes read as missing (field -> {code: count})."""

    kind: str
    coding: str
    longitudinal: bool
    findings: tuple
    missing_counts: dict
    pseudonyms_required: bool
    dictionary_name: str = ""


@dataclass(frozen=True)
class LoadedData:
    """The current data set: the loaded cohort (or why there is none) and its AE table."""

    choice: str
    label: str
    synthetic: bool
    scope: str
    cohort: Any = None  # il2lib.Cohort
    adverse_events: Any = None  # result of il2lib.load_adverse_events, or None
    error: str = ""
    ae_error: str = ""
    ae_key: str = ""  # identity of the AE table (path and mtime, or the upload's SHA-256)
    note: str = ""  # a plain status line (e.g. waiting for an upload)
    assessments: Any = None  # il2lib.analyses.tumour_burden.TumourAssessments, or None
    tumour_error: str = ""
    tumour_key: str = ""  # identity of the tumour-assessment table (as ae_key)
    redcap: Any = None  # RedcapSummary of a REDCap export, or None
    # Registry source only (app_ui.registry): filter choices read from the whole registry, and its counts.
    options_data: Any = None
    options_key: str = ""
    n_registry: int | None = None
    n_selected: int | None = None
    row_limit: int | None = None

    @property
    def pseudonyms_required(self) -> bool:
        """The REDCap dictionary flags the record id as an identifier: ids are shown as pseudonyms only."""
        return bool(self.redcap is not None and self.redcap.pseudonyms_required)

    @property
    def ok(self) -> bool:
        return self.cohort is not None and len(self.cohort.data) > 0
