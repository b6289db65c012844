"""THE frame: every page (``app.py`` included) starts with one call to :func:`frame`.

It sets the page config, runs the optional login gate, seeds session state (from the URL on
a session's first run), loads the current data, draws the sidebar (presentation mode, data status,
navigation, filters with their "n = X of Y" summary, reset, settings), in presentation mode the
previous / next page links, mirrors the view in the URL and returns an :class:`AppContext` holding the
filtered cohort.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import app_auth
from app_ui import data as data_mod, filters, share, state
from app_ui.loaded import LoadedData
from app_ui.markdown import md_escape
from app_ui.masking import MASK_K_KEY, MASK_KEY, Masking, start_protected_views
from app_ui.widgets import url_number, url_toggle
from il2lib import schema
from il2lib.cohort import benefit_rule_text

ROOT = Path(__file__).resolve().parent.parent
#: (script path relative to the app root, navigation label, icon). Pages that do not exist are skipped.
NAVIGATION = (
    ("app.py", "Data", ":material/upload_file:"),
    ("pages/1_Cohort.py", "Cohort", ":material/groups:"),
    ("pages/2_Response.py", "Response", ":material/target:"),
    ("pages/3_Survival.py", "Survival", ":material/show_chart:"),
    ("pages/4_Biomarkers.py", "Biomarkers", ":material/science:"),
    ("pages/5_Toxicity.py", "Toxicity", ":material/healing:"),
    ("pages/6_Report.py", "Report", ":material/description:"),
)
#: Widgets that are controls: hidden from the main area in presentation mode (the sidebar keeps its filters).
CONTROL_TESTIDS = ("stSelectbox", "stMultiSelect", "stRadio", "stCheckbox", "stNumberInput", "stSlider",
                   "stButtonGroup", "stTextInput", "stDateInput", "stFileUploader", "stDownloadButton", "stPopover")
_CONTROLS = ", ".join(f'[data-testid="{t}"]' for t in CONTROL_TESTIDS)
#: Presentation mode: larger type in the main area, less room above the page title, the previous / next page
#: links fixed in the header.
PRESENTATION_CSS = """
<style>
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
  [data-testid="stMain"] [data-testid="stCaptionContainer"],
  [data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.25rem !important; }
  [data-testid="stMetricValue"], [data-testid="stMetricValue"] *,
  [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p { font-size: 2.8rem !important; }
  [data-testid="stTable"] th, [data-testid="stTable"] td,
  [data-testid="stTable"] [data-testid="stMarkdownContainer"] p { font-size: 1.25rem !important; }
  [data-testid="stMain"] input[role="combobox"], [data-testid="stMain"] [data-tag] span,
  [role="listbox"] [role="option"] { font-size: 1.25rem !important; }
  [data-testid="stCheckbox"] > label { align-items: center; }
  [data-testid="stMain"] h1 { font-size: 2.8rem !important; padding-top: 0 !important; }
  [data-testid="stMainBlockContainer"] { padding-top: 4.5rem !important; }
  [data-testid="stMain"] [data-testid="stElementContainer"]:has(> [data-testid="stMarkdown"] style) {
    display: none !important; }
  .st-key-slide_nav { position: fixed; top: 0.55rem; left: 50%; transform: translateX(-50%); width: auto;
    z-index: 999991; background: #ffffff; }
  .st-key-slide_nav a { border: 1px solid rgba(49, 51, 63, 0.3); padding: 0 0.75rem; }
</style>
"""
#: Presentation mode's slide layout: controls, download rows and export popovers hidden from the main area (a
#: columns row holding nothing else goes too). A static <style>, so turning presentation mode off restores them.
SLIDE_CSS = """
<style>
  [data-testid="stMain"] [data-testid="stElementContainer"]:has(> :is(CONTROLS)),
  [data-testid="stMain"] [class*="st-key-dl_"], [data-testid="stMain"] [data-testid="stPopover"],
  [data-testid="stMain"] [data-testid="stLayoutWrapper"]:has(> :is([class*="st-key-dl_"], [data-testid="stPopover"])),
  [data-testid="stMain"] [data-testid="stLayoutWrapper"]:has(> [data-testid="stHorizontalBlock"]):has(:is(CONTROLS)):not(:has([data-testid="stElementContainer"] > :not(CONTROLS))) {
    display: none !important; }
</style>
""".replace("CONTROLS", _CONTROLS)
#: Pages that keep their controls in presentation mode: a workflow, not a slide (the report's options and files).
PAGES_WITH_CONTROLS = ("Report",)


@dataclass(frozen=True)
class AppContext:
    """What a page needs: the filtered cohort and the view settings (read-only)."""

    loaded: LoadedData
    rows: filters.FilteredRows  # filtered, analysable patients (their columns copied on first use)
    filter: Any  # il2lib.CohortFilter
    n_total: int
    presentation: bool
    cb_sd_months: float
    pseudonyms: bool
    assessment_window_days: float = float(schema.ASSESSMENT_WINDOW_DAYS_DEFAULT)  # W of the SD-duration rules
    masking: Masking = Masking(False)  # small-cell protection (sidebar switch)

    @property
    def ok(self) -> bool:
        return self.loaded.ok

    @property
    def data(self) -> pd.DataFrame:
        """The filtered patients with every column (copied on first use in the session for this filter)."""
        return self.rows.frame()

    def columns(self, names) -> pd.DataFrame:
        """The filtered patients with only the columns ``names`` the data has: a page that reads a few columns
        asks for them, and the other columns are not copied."""
        return self.rows.columns(names)

    @property
    def column_names(self) -> pd.Index:
        """The data's columns (no copy)."""
        return self.rows.source.columns

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def cohort(self):
        return self.loaded.cohort

    @property
    def cache_key(self) -> tuple:
        """Hashable identity of (data set, clinical-benefit rule, filter) for cached analyses; the scope marks
        pseudonymised data (:func:`app_ui.data.with_pseudonyms`), so their results are cached apart."""
        fingerprint = self.cohort.fingerprint if self.ok else ""
        return (self.loaded.scope, fingerprint, self.cb_sd_months, self.assessment_window_days, self.filter)

    @property
    def filter_text(self) -> str:
        return self.filter.describe()

    @property
    def summary(self) -> str:
        """``n = 40 of 107 patients · Melanoma`` (plain text)."""
        return self.masking.text(f"n = {self.n:,} of {self.n_total:,} patients") + f" · {self.filter_text}"

    def figure_titles(self, title: str) -> tuple[str, str]:
        """Title and subtitle for a figure: the subtitle names the data and the filter."""
        return title, f"{self.loaded.label} · {self.summary}"

    def require_data(self, from_counts: Callable[["AppContext"], None] | None = None) -> None:
        """Stop the page with a plain message when there is nothing to analyse. A registry selection above
        the row limit is drawn by ``from_counts(ctx)`` (aggregates computed in the registry) when the page
        has such a view, else explained."""
        if not self.ok and self.loaded.n_selected is not None and not self.loaded.error:
            if from_counts is not None:
                from_counts(self)
            else:
                st.info(md_escape(self.loaded.note), icon=":material/filter_alt:")
            st.stop()
        if not self.ok:
            st.warning("No analysable data is loaded. Open the **Data** page to pick a sample or fix the upload.")
            st.page_link("app.py", label="Go to the Data page", icon=":material/upload_file:")
            st.stop()
        if self.n == 0:
            st.info(f"No patient matches the current filters ({md_escape(self.filter_text)}). "
                    "Widen or reset the filters in the sidebar.", icon=":material/filter_alt_off:")
            st.stop()


def frame(page_title: str) -> AppContext:
    """Draw the shared frame of a page and return its :class:`AppContext`."""
    state.init_session()
    start_protected_views()
    ss = st.session_state
    st.set_page_config(page_title=f"{page_title} · IL-2 registry", page_icon=":material/monitoring:",
                       layout="wide", initial_sidebar_state="collapsed" if ss[state.PRESENT] else "auto")
    _login_gate()
    if ss[state.PRESENT]:
        css = PRESENTATION_CSS + ("" if page_title in PAGES_WITH_CONTROLS else SLIDE_CSS)
        st.markdown(css, unsafe_allow_html=True)  # static CSS, nothing from the data
    choice = _current_choice()
    ss.setdefault(state.CB_WINDOW, float(schema.ASSESSMENT_WINDOW_DAYS_DEFAULT))
    loaded = data_mod.load_current(choice, ss.get(data_mod.MAPPING), ss[state.CB_SD], float(ss[state.CB_WINDOW]))
    # no file id on a shared screen, nor of a REDCap record id flagged as an identifier
    pseudonyms = bool(ss.get(state.PSEUDONYMS) or ss[state.PRESENT] or loaded.pseudonyms_required)
    if pseudonyms:  # the one place ids are replaced: every page, download and report follows
        loaded = data_mod.with_pseudonyms(loaded)
    else:
        ss.pop(data_mod.PSEUDONYM_MEMO, None)
    share.require_linked_upload(loaded)  # a link's upload this session lacks: blocked until it is uploaded
    with st.sidebar:
        _view_settings()
        _data_status(loaded)
        _navigation()
        fstate = filters.draw_filters(loaded)
    masking = draw_masking_option()
    cohort_filter = fstate.to_filter()
    rows, n_total = filters.filtered_rows(loaded, cohort_filter)
    with st.sidebar:
        _filter_summary(len(rows) if loaded.n_selected is None else loaded.n_selected, n_total, cohort_filter,
                        masking)
        share.copy_link(loaded, cohort_filter.describe())
        _settings()
        for problem in ss.get(state.URL_PROBLEMS, ()):
            st.warning(md_escape(problem))
    present = bool(ss[state.PRESENT])
    if present:
        _slide_navigation(page_title)
    state.sync_url(state.query_params_for(cohort_filter, {
        state.Q_PRESENT: "1" if present else "",
        state.Q_DATA: choice if choice not in (data_mod.default_choice(), data_mod.UPLOAD) else "",
        state.Q_CB_SD: f"{ss[state.CB_SD]:g}" if ss[state.CB_SD] != schema.CB_SD_MONTHS_DEFAULT else "",
        state.Q_CB_WINDOW: (f"{ss[state.CB_WINDOW]:g}"
                            if ss[state.CB_WINDOW] != schema.ASSESSMENT_WINDOW_DAYS_DEFAULT else ""),
    }))
    return AppContext(loaded=loaded, rows=rows, filter=cohort_filter, n_total=n_total, presentation=present,
                      cb_sd_months=float(ss[state.CB_SD]), pseudonyms=pseudonyms,
                      assessment_window_days=float(ss[state.CB_WINDOW]), masking=masking)


def _login_gate() -> None:
    app_auth.require_login()


def _current_choice() -> str:
    """The chosen data source (the default one when none, or an unavailable one, is set).

    The URL names an upload by file name and fingerprint only (``upload=``, ``upload_fp=``): a link
    copied from an upload session asks for the same file (:func:`app_ui.share.require_linked_upload`)
    and keeps its filters for it.
    """
    ss = st.session_state
    choice = ss.get(state.DATA_CHOICE) or data_mod.default_choice()
    if choice not in data_mod.choices():
        choice = data_mod.default_choice()
    ss[state.DATA_CHOICE] = choice
    return choice


def _data_status(loaded: LoadedData) -> None:
    st.markdown("### IL-2 registry")
    lines = [md_escape(loaded.label)] + ([f":material/science: {md_escape(schema.SYNTHETIC_NOTE)}"]
                                          if loaded.synthetic else [])
    if loaded.note and not loaded.error:
        lines.append(md_escape(loaded.note))
    st.caption("  \n".join(lines))  # one element, a line each
    if loaded.error:
        st.error(md_escape(loaded.error), icon=":material/error:")
        if loaded.note:
            st.caption(md_escape(loaded.note))


def _pages() -> list[tuple[str, str, str]]:
    """The :data:`NAVIGATION` entries whose page exists, in order (looked up once per process)."""
    return list(_existing_pages(NAVIGATION))


@functools.cache
def _existing_pages(navigation: tuple) -> tuple:
    return tuple(entry for entry in navigation if (ROOT / entry[0]).is_file())


def _navigation() -> None:
    for path, label, icon in _pages():
        st.page_link(path, label=label, icon=icon)
    st.divider()


def neighbours(page_title: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """(path, label) of the pages before and after ``page_title`` in the navigation (None at an end)."""
    pages = [(path, label) for path, label, _ in _pages()]
    i = next((i for i, (_, label) in enumerate(pages) if label == page_title), None)
    if i is None:
        return None, None
    return (pages[i - 1] if i > 0 else None), (pages[i + 1] if i + 1 < len(pages) else None)


def _slide_navigation(page_title: str) -> None:
    """Previous / next page links, fixed in the header by :data:`PRESENTATION_CSS` (the view's filters and
    settings follow from the session, as with the sidebar links)."""
    before, after = neighbours(page_title)
    with st.container(horizontal=True, gap="small", key="slide_nav"):
        if before is not None:
            st.page_link(before[0], label=f"Previous: {before[1]}", icon=":material/arrow_back:")
        if after is not None:
            st.page_link(after[0], label=f"Next: {after[1]}", icon=":material/arrow_forward:")


def _filter_summary(n_filtered: int, n_total: int, cohort_filter: Any, masking) -> None:
    st.markdown(f"**{masking.text(f'n = {n_filtered:,} of {n_total:,} patients')}**")
    st.caption(md_escape(cohort_filter.describe()))
    st.button("Reset filters", key="reset_filters", on_click=state.reset_filters, icon=":material/restart_alt:",
              disabled=cohort_filter.is_empty(), width="stretch")


def _view_settings() -> None:
    """The top of the sidebar: presentation mode (found without scrolling, to leave it too)."""
    st.toggle("Presentation mode", **state.bind("present"),
              help="A slide layout for screen sharing: larger type and markers, colour-blind-safe high-contrast "
                   "palette, controls, code and downloads hidden, previous / next page buttons, patients shown "
                   "by pseudonym, sidebar collapsed. Also `?present=1`.")
    if st.session_state[state.PRESENT]:
        st.caption(":material/badge: While presenting, patients are named by pseudonym (their row in the "
                   "file), not by the file's ids. Turn presentation mode off to change the page's options.")


def _settings() -> None:
    st.divider()
    st.number_input(
        "Clinical benefit: SD lasting at least (months)", min_value=0.0, max_value=60.0, step=1.0,
        **state.bind("cb_sd"),
        help="Clinical benefit = CR or PR, or stable disease lasting at least this long (0: any SD). "
             "The community paper does not state its rule; 6 months is this dashboard's assumption.")
    st.number_input(
        "Assessment window W (days)", min_value=0.0, max_value=60.0, step=1.0, **state.bind("cb_window"),
        help="An SD meets the threshold when, in whole days, it lasts at least the threshold x 30.4375 days less "
             "W: with W = 7 an SD of 182 days meets 6 months and one of 166 days does not. The landmark status "
             f"and the DCR SD minimum use the same comparison. Default {schema.ASSESSMENT_WINDOW_DAYS_DEFAULT:g}; "
             "also `?cb_window=`.")
    ss = st.session_state
    st.caption(md_escape("Clinical benefit = " + benefit_rule_text(float(ss[state.CB_SD]), float(ss[state.CB_WINDOW]))
                         + "."))


def draw_masking_option() -> Masking:
    """Sidebar switch for screen-sharing outside the care team (kept across pages, mirrored in the URL).

    Drawn by the page frame before anything that shows a count, so that every surface (sidebar n,
    captions, titles) follows it from the first run."""
    on = url_toggle(MASK_KEY, "Small-cell protection", False, container=st.sidebar,
                    help="For screen-sharing outside the care team: counts below the threshold, and the counts "
                         "that would give them back, are masked in tables, figures, metrics and captions; "
                         "patient-level figures and downloads are withheld.")
    if not on:
        return Masking(False)
    k = url_number(MASK_K_KEY, "Mask counts below", 5.0, min_value=2.0, max_value=20.0, step=1.0,
                   number_format="%.0f", container=st.sidebar)
    return Masking(True, int(k))
