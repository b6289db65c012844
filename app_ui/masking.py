"""Small-cell protection as the pages apply it: the session's setting (the sidebar switch, see
:func:`app_ui.frame.frame`) and the masking of tables, figures, counts and sentences it implies.
The rules themselves live in :mod:`il2lib.privacy.masking` and :mod:`il2lib.privacy.disclosure`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app_ui import state
from app_ui.markdown import md_escape
from app_ui.session_cache import data_cache
from il2lib.privacy.disclosure import NO_SUPPRESSION, protect
from il2lib.privacy.masking import mask_count, mask_figure, mask_table, mask_text, masking_caption

MASK_KEY, MASK_K_KEY = "mask", "mask_k"
#: Session key under which an audit (a test) collects every count view a run protected, in order:
#: (kind, view, suppression), the kind being the first part of the view's key. Kept only when the audit
#: created it; emptied at the start of each run (:func:`start_protected_views`).
PROTECTED_VIEWS = "protected_count_views"
#: The most views one run keeps for the audit (a bound, far above what a page protects).
MAX_PROTECTED_VIEWS = 256


@dataclass(frozen=True)
class Masking:
    on: bool
    threshold: int = 5

    def table(self, df: pd.DataFrame, dependent=(), cohort_rows=None) -> pd.DataFrame:
        """``df`` masked; ``cohort_rows``: the rows holding this cohort's counts (default all), the others
        (published numbers, not this cohort's) are shown as printed."""
        if not self.on:
            return df
        masked = mask_table(df, self.threshold, dependent=[c for c in dependent if c in df.columns])
        if cohort_rows is not None:
            printed = ~np.asarray(cohort_rows, dtype=bool)
            masked = masked.astype(object)
            masked.iloc[printed] = df.iloc[printed].astype(object).to_numpy()
        return masked

    def figure(self, fig):
        return mask_figure(fig, self.threshold) if self.on else fig

    def protect(self, build_view, key: tuple):
        """How each count of the view ``build_view()`` returns (an :class:`il2lib.privacy.disclosure.CountView`) is
        shown: small counts and the complements that would give them back hidden. With protection off
        nothing is hidden and the view is not built. ``key`` names the view for the cache (the session's
        data key and everything the view depends on)."""
        if not self.on:
            return NO_SUPPRESSION
        view, shown = _protected(key, build_view, self.threshold)
        views = st.session_state.get(PROTECTED_VIEWS)
        if views is not None and len(views) < MAX_PROTECTED_VIEWS:
            views.append((key[0], view, shown))
        return shown

    def count(self, n) -> str:
        """One count as shown: "<5" when small, else the number."""
        return str(mask_count(int(n), self.threshold) if self.on else int(n))

    def text(self, text: str) -> str:
        """Counts in a sentence, label or metric value masked ("n = 3 of 40" -> "n = <5 of 40")."""
        return mask_text(text, self.threshold) if self.on else text

    def caption(self) -> None:
        if self.on:
            st.caption(md_escape(masking_caption(self.threshold)))


def start_protected_views() -> None:
    """Empty the audit's list of protected count views at the start of a run (when an audit collects them)."""
    if PROTECTED_VIEWS in st.session_state:
        st.session_state[PROTECTED_VIEWS] = []


@data_cache(max_entries=64, max_size="16MB")
def _protected(key: tuple, _build_view, threshold: int):
    view = _build_view()
    return view, protect(view, threshold)


def current_masking() -> Masking:
    """The small-cell setting of this session, without drawing anything (for shared table/figure helpers)."""
    ss = st.session_state
    if not ss.get(state.plain_key(MASK_KEY), False):
        return Masking(False)
    return Masking(True, int(ss.get(state.plain_key(MASK_K_KEY), 5)))
