"""The current data set as the pages see it (:class:`LoadedData`), whatever its source: a bundled sample,
a server-side file, an upload (:mod:`app_ui.data`) or the registry (:mod:`app_ui.registry`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    # Registry source only (app_ui.registry): filter choices read from the whole registry, and its counts.
    options_data: Any = None
    options_key: str = ""
    n_registry: int | None = None
    n_selected: int | None = None
    row_limit: int | None = None

    @property
    def ok(self) -> bool:
        return self.cohort is not None and len(self.cohort.data) > 0
