"""With small-cell protection on (``?mask=1``, threshold 5), no page shows a count from 1 to 4.

Every page of the dashboard, every tab of the Survival page's "Models and further comparisons"
section and the built meeting report are run by AppTest under two filter settings that leave small
groups; every page is also run on a registry selection above the row limit (counts from the registry)
and on a messy upload (excluded rows, patients without AE rows). Every visible string, metric, table and
figure (labels, titles, annotations, hover text, bar lengths), the report preview and the CSV, figure and report downloads are scanned for a count at a
count position (rules in tests/support/disclosure_scan.py, unit-tested in tests/test_disclosure_scan_rules.py).
The rule is the usual minimum cell count: counts from 1 to threshold - 1 are shown as "<threshold",
zeros stay (as in DARWIN EU's omopgenerics, "Minimum cell count suppression",
https://darwin-eu-dev.github.io/omopgenerics/articles/suppression.html).
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_ui.masking import PROTECTED_VIEWS
from app_ui.state import plain_key
from app_ui.survival_sections import TABS as SURVIVAL_TABS
from il2lib.privacy.disclosure import recoverable
from support.apptest import APP, TIMEOUT, open_app, open_export_panels, protected_view, rerun
from support.disclosure_scan import THRESHOLD, download_small_counts, small_count_findings, visible_strings
from support.rendered_text import DownloadRecorder
from support.security import page_scripts

SURVIVAL, REPORT = "pages/3_Survival.py", "pages/6_Report.py"
BUILT = "built"  # the Report page after "Build report"
PAGES = ("app.py", *page_scripts())  # the Data page and every page in pages/
#: Each page's grouping option (URL key).
GROUPING_KEYS = {"pages/1_Cohort.py": "t1_by", "pages/2_Response.py": "resp_by", SURVIVAL: "km_by",
                 "pages/5_Toxicity.py": "tox_by"}
_MASK = {"mask": "1", "mask_k": str(THRESHOLD)}
#: Filter settings with small groups, published results shown (Response page, Survival tab): their rows of
#: published numbers are shown as printed and left out of the scan (support.disclosure_scan.published_rows).
#: RCC: groups by prior PD-1 agent where a page offers it (Response), else by prior PD-1/PD-L1; melanoma in
#: line 3+: groups by source (the community series has 2 patients).
MODES = {
    "rcc_by_prior_agent": {**_MASK, "published": "1", "disease": "rcc", "t1_by": "prior_pd1_pdl1",
                           "resp_by": "prior_pd1_agent", "km_by": "prior_pd1_pdl1", "tox_by": "prior_pd1_pdl1"},
    "melanoma_line3_by_source": {**_MASK, "published": "1", "disease": "melanoma", "line_of_il2": "3+",
                                 "t1_by": "source", "resp_by": "source", "km_by": "source", "tox_by": "source"},
}

#: (page, what is opened on it): a Survival tab of "Models and further comparisons", or the built report.
VIEWS = [(page, None) for page in PAGES] + [(SURVIVAL, tab) for tab in SURVIVAL_TABS] + [(REPORT, BUILT)]


@pytest.fixture(scope="module")
def downloads():
    with DownloadRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def sessions(downloads):
    """One AppTest session per mode, opened once; each test switches it to its page."""
    return {}


def _session(sessions, mode: str):
    if mode not in sessions:
        sessions[mode] = open_app(MODES[mode])
    return sessions[mode]


def _option(at, name: str):
    """A page option's value as the page used it (the URL drops an option at its default); None if unset."""
    key = plain_key(name)
    return at.session_state[key] if key in at.session_state else None


def _show(at, page: str, opened: str | None):
    """Run ``page``; on the Survival page, open "Models and further comparisons" on the tab ``opened``
    (or keep it shut); on the Report page, press "Build report" when ``opened`` is ``BUILT``."""
    tab = opened if page == SURVIVAL else None
    at.session_state["km_more"] = tab is not None
    if tab is None:
        at.query_params.pop("km_more", None)
        at.query_params.pop("km_tab", None)
    else:
        at.session_state["km_tab"] = tab
        at.query_params["km_more"], at.query_params["km_tab"] = "true", tab
    at.switch_page(page)
    at = rerun(at)
    if page == REPORT and opened == BUILT:
        at.button(key="report_build").click()
        at = rerun(at)
    return open_export_panels(at)


#: Pages whose counts go through complementary suppression, with the view each protects.
PROTECTED_KINDS = {"pages/1_Cohort.py": ("table1",), "pages/2_Response.py": ("response",),
                   "pages/3_Survival.py": ("survival",), "pages/4_Biomarkers.py": ("biomarkers",),
                   "pages/5_Toxicity.py": ("toxicity",)}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("page, opened", VIEWS, ids=[p.split("/")[-1].removesuffix(".py") + (f" / {o}" if o else "")
                                                     for p, o in VIEWS])
def test_no_count_below_the_threshold_is_visible_with_protection_on(sessions, downloads, mode, page, opened):
    at = _session(sessions, mode)
    downloads.clear()
    at = _show(at, page, opened)
    tab = opened if page == SURVIVAL else None
    assert (_option(at, "mask"), _option(at, "mask_k")) == (True, THRESHOLD), \
        f"{page}: small-cell protection is not on with ?mask=1&mask_k={THRESHOLD}"
    key = GROUPING_KEYS.get(page)
    assert key is None or _option(at, key) == MODES[mode][key], \
        f"{page} did not keep the grouping {key}={MODES[mode][key]}: the scan would miss its small groups"
    if tab is not None:  # only the open tab draws
        assert [t for t in at.tabs if t.label == tab and t.children], f"the Survival tab {tab!r} did not open"
    assert [where for where, _ in visible_strings(at) if where.startswith("main")], f"{page} showed nothing"

    _assert_nothing_small_is_shown(at, downloads, page, mode, PROTECTED_KINDS.get(page, ()), tab=tab,
                                   opened=opened)


def _assert_nothing_small_is_shown(at, downloads, page: str, mode: str, kinds=(), tab=None, opened=None) -> None:
    """No count from 1 to threshold - 1 on the last run's page and downloads, and no hidden count of a view
    the run protected (of each kind in ``kinds`` at least one) follows from the numbers shown with it."""
    found = small_count_findings(at) + download_small_counts(at, downloads.downloads)
    if tab is not None:  # the rest of the page is the Survival page's own test
        found = [(where, snippet) for where, snippet in found if "expander 'Models and further" in where]

    # the subtraction audit
    views = at.session_state[PROTECTED_VIEWS]
    assert set(kinds) <= {kind for kind, _, _ in views}, f"{page} protected no {kinds} view"
    for kind, view, shown in views:
        assert recoverable(view, shown) == {}, f"{page}: the {kind} view gives a masked count back"

    listing = "\n".join(f"  {where} | {snippet}" for where, snippet in found[:80])
    more = f"\n  ... and {len(found) - 80} more" if len(found) > 80 else ""
    assert not found, (f"{len(found)} count(s) from 1 to {THRESHOLD - 1} visible on {page}"
                       f"{' / ' + opened if opened else ''} with small-cell protection on ({mode}):\n{listing}{more}")


@pytest.fixture(scope="module")
def registry_session(tmp_path_factory):
    """The bundled sample as a Parquet registry with a row limit below it: the Response and Survival pages
    count in the registry (grouped by disease, their default), the others say the selection is too large.
    A registry is real data, so IL2_LOGIN=none says that sign-in happens elsewhere."""
    from il2lib.sources.export import write_parquet
    from support.apptest import sample_data

    folder = tmp_path_factory.mktemp("registry") / "parquet"
    write_parquet(sample_data(), folder, rows_per_file=40)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IL2_LOGIN", "none")
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.secrets["registry"] = {"kind": "parquet", "path": str(folder), "label": "Test registry", "row_limit": 10}
        at.session_state[PROTECTED_VIEWS] = []
        at.query_params.update(_MASK)
        yield rerun(at)


#: Registry pages drawn from counts, with the view each protects.
REGISTRY_KINDS = {"pages/2_Response.py": ("registry_response",)}


@pytest.mark.parametrize("page", PAGES)
def test_no_count_below_the_threshold_is_visible_on_a_registry_selection_above_the_row_limit(
        registry_session, downloads, page):
    at = registry_session
    downloads.clear()
    at = _show(at, page, None)
    shown = [text for where, text in visible_strings(at) if where.startswith("main")]
    assert any("more than the" in text for text in shown), f"{page} does not say the selection is above the row limit"
    _assert_nothing_small_is_shown(at, downloads, page, "registry", REGISTRY_KINDS.get(page, ()))


def _messy_upload() -> tuple[bytes, bytes]:
    """The combined sample as an upload (patient file, AE table) with small counts on the Data page: two rows
    excluded (a disease the dictionary does not know), two community patients without AE rows, and one
    patient whose worst AE grade exceeds the patient file's max_ctcae_grade (a warning naming the patient)."""
    import pandas as pd

    from il2lib import schema
    from support.apptest import SAMPLE

    patients = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    bad = patients.iloc[[0, 1]].assign(**{schema.PATIENT_ID: ["X-001", "X-002"], schema.DISEASE: "not a disease"})
    events = pd.read_csv(SAMPLE.parent / "combined_synthetic_adverse_events.csv", dtype=str, keep_default_na=False)
    community = patients.loc[patients[schema.SOURCE].str.startswith("Community"), schema.PATIENT_ID]
    events = events[~events[schema.AE_PATIENT_ID].isin(community.iloc[:2])].reset_index(drop=True)
    grade = pd.to_numeric(patients.set_index(schema.PATIENT_ID)[schema.MAX_CTCAE], errors="coerce")
    row = next(i for i, pid in events[schema.AE_PATIENT_ID].items() if grade.get(pid, 9) < 4)
    events.loc[row, schema.AE_GRADE] = str(int(grade[events.at[row, schema.AE_PATIENT_ID]]) + 1)
    as_csv = lambda frame: frame.to_csv(index=False).encode()  # noqa: E731
    return as_csv(pd.concat([patients, bad], ignore_index=True)), as_csv(events)


@pytest.fixture(scope="module")
def upload_session():
    """A messy upload (:func:`_messy_upload`) with protection on, melanoma in line 3+ grouped by source."""
    from support.security import upload

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[PROTECTED_VIEWS] = []
    at.query_params.update(MODES["melanoma_line3_by_source"])
    patients, events = _messy_upload()
    return rerun(upload(at, "messy.csv", patients, adverse_events=events))


@pytest.mark.parametrize("page", PAGES)
def test_no_count_below_the_threshold_is_visible_on_a_messy_upload(upload_session, downloads, page):
    downloads.clear()
    at = _show(upload_session, page, None)
    assert any("Upload: messy.csv" in text for _, text in visible_strings(at)), "the upload is not the data shown"
    if page == "app.py":
        shown = " ".join(text for _, text in visible_strings(at))
        assert "Adverse-event file:" in shown and "without AE rows" in shown, "the upload's AE checks are not drawn"
        assert "patient_id=" not in shown, "a warning naming a patient is listed with protection on"
    kinds = ("data",) if page == "app.py" else PROTECTED_KINDS.get(page, ())
    _assert_nothing_small_is_shown(at, downloads, page, "upload", kinds)


def test_a_session_keeps_no_count_views_unless_an_audit_asks():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"mask": "1"})
    at.run()
    at.switch_page("pages/2_Response.py").run()
    assert not at.exception and PROTECTED_VIEWS not in at.session_state


def _protect_two_tables_of_one_kind():
    from app_ui.masking import Masking, start_protected_views
    from il2lib.privacy.disclosure import CountView

    start_protected_views()  # as every page's frame does
    for name in ("first", "second"):
        view = CountView()
        view.add(("n",), 2)
        Masking(True).protect(lambda: view, ("two_tables", name))


def test_the_audit_sees_every_view_a_run_protects_and_only_that_run_s():
    at = AppTest.from_function(_protect_two_tables_of_one_kind, default_timeout=TIMEOUT)
    at.session_state[PROTECTED_VIEWS] = []
    at.run()
    assert not at.exception
    assert [kind for kind, _, _ in at.session_state[PROTECTED_VIEWS]] == ["two_tables", "two_tables"]
    # a page's run starts the list afresh: the Response page's view is gone on the Cohort page
    at = open_app(_MASK, page="pages/2_Response.py")
    at.switch_page("pages/1_Cohort.py")
    at = rerun(at)
    assert [kind for kind, _, _ in at.session_state[PROTECTED_VIEWS]] == ["table1"]


@pytest.mark.parametrize(("page", "kind", "grouping"), [("pages/2_Response.py", "response", "resp_by"),
                                                        ("pages/1_Cohort.py", "table1", "t1_by")])
def test_the_sidebar_total_stays_shown_and_complements_stay_few(page, kind, grouping):
    # Melanoma, line 3+, by source: 20 patients, the community group below the threshold. The sidebar shows
    # n = 20, so the page's own "of 20" is never hidden, nor is any count that equals it.
    at = open_app({"mask": "1", "disease": "melanoma", "line_of_il2": "3+", grouping: "source"}, page=page)
    view, shown = protected_view(at, kind)
    assert view.counts[("total",)] == 20 and ("total",) not in shown.hidden
    assert recoverable(view, shown) == {}
    equal_to_total = {k for k, v in view.counts.items() if v == 20 and k[0] in ("used", "denom")}
    assert equal_to_total and not equal_to_total & shown.hidden
    assert len(shown.secondary) <= 25  # 58 when the total itself was hidden


def test_published_numbers_are_shown_as_printed_and_the_cohort_s_own_masked():
    # Response page, RCC in line 3+ (11 patients, <5 responders): PROCLAIM's RCC responders are printed as 4/17
    from il2lib.analyses.published import CITATIONS
    from support.apptest import tables

    at = open_app({**_MASK, "published": "1", "line_of_il2": "3+"}, page="pages/2_Response.py")
    table = next(t for t in tables(at) if "Source" in t.columns).set_index(["Source", "Disease"])
    assert table.loc[(CITATIONS["buchbinder2019"].series, "RCC"), "Responders / n"] == "4/17"
    assert table.loc[("Our cohort", "RCC"), "Responders / n"] == "<5/11"
    assert table.loc[("Our cohort", "RCC"), "ORR, % (95% CI)"] == "masked"
