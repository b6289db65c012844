"""With "Show pseudonyms" on (Data page), no patient id of the file reaches any page, download or report.

Each AppTest walk turns the switch on, then visits every page (every "Show code" expander open, every
tab of the Survival page's further comparisons, the report built) and scans everything drawn and every
download offered (tests/support/rendered_text.py). The bundled combined sample has ids such as PRO-001 and no
validation finding; the uploaded cohort carries a random token in every id, one id longer than 80
characters (validation messages cut it), a duplicated id (excluded rows), a patient without a dated
tumour assessment (a load note naming ids) and an adverse-event table naming an unknown patient and a
grade-5 event of a living one: so the ids reach findings, warnings, notes and excluded rows too.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from app_ui.survival_sections import TABS
from il2lib import schema
from support import rendered_text as rt, security as sh
from support.apptest import ROOT, open_app, open_code, open_export_panels, rerun, widget

COMBINED = ROOT / "sample_data" / "combined_synthetic.csv"
COMBINED_AE = ROOT / "sample_data" / "combined_synthetic_adverse_events.csv"
SURVIVAL = "pages/3_Survival.py"
REPORT = "pages/6_Report.py"
LONG = 90  # characters after the token: the id is longer than the 80 a validation message shows


def sample_ids() -> set[str]:
    ids = set(pd.read_csv(COMBINED, dtype=str)[schema.PATIENT_ID])
    return ids | set(pd.read_csv(COMBINED_AE, dtype=str)[schema.AE_PATIENT_ID])


def marked_files(token: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The combined sample and its AE table with every id carrying ``token`` (see the module docstring)."""
    frame = pd.read_csv(COMBINED, dtype=str, keep_default_na=False)
    events = pd.read_csv(COMBINED_AE, dtype=str, keep_default_na=False)
    new = {old: f"{token}-{k:03d}" for k, old in enumerate(frame[schema.PATIENT_ID])}
    new[frame.at[0, schema.PATIENT_ID]] = f"{token}-LONG-" + "X" * LONG  # a CR (row 2)
    events[schema.AE_PATIENT_ID] = events[schema.AE_PATIENT_ID].map(new)
    frame[schema.PATIENT_ID] = frame[schema.PATIENT_ID].map(new)
    frame.loc[0, [schema.DATE_FIRST_RESPONSE, schema.PRIOR_PD1]] = ""  # responder without a date; rowid warning
    frame.loc[2, schema.PATIENT_ID] = frame.at[3, schema.PATIENT_ID]  # duplicated id: rows 4 and 5 excluded
    frame.loc[4, [schema.DATE_LAST_ASSESSMENT, schema.DATE_PROGRESSION]] = ""  # alive SD, nothing dated
    frame.loc[4, schema.PROGRESSED] = "No"
    living = frame.at[9, schema.PATIENT_ID]
    extra = pd.DataFrame([{schema.AE_PATIENT_ID: f"{token}-GHOST", schema.AE_TERM: "Fever", schema.AE_GRADE: "1"},
                          {schema.AE_PATIENT_ID: living, schema.AE_TERM: "Sepsis", schema.AE_GRADE: "5"}])
    return frame, pd.concat([events, extra], ignore_index=True).fillna("")


def _turn_pseudonyms_on(at):
    widget(at, "toggle", "w_pseudonyms").set_value(True)
    return rerun(at)


def _runs(at):
    """(label, session) after every run of the walk: each page (the Data page's rows too), the Survival tabs, the
    built report."""
    yield "app.py", at
    at.session_state["data_preview"] = True  # the Data page's "Analysed data" rows, drawn only when open
    yield "app.py / Analysed data", rerun(at)
    for page in sh.page_scripts():
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
        at = open_export_panels(open_code(at))
        yield page, at
        if page == SURVIVAL:
            for tab in TABS:
                at.session_state["km_more"], at.session_state["km_tab"] = True, tab
                at.query_params["km_more"], at.query_params["km_tab"] = "true", tab
                yield f"{page} / {tab}", open_export_panels(rerun(at))
        if page == REPORT:
            at.button(key="report_build").click()
            yield f"{page} (built)", rerun(at)


def _walk_and_scan(at, downloads: rt.DownloadRecorder, needles) -> dict[str, list[str]]:
    """Leaks per run of the walk; every run's downloads are scanned (the recorder is cleared before each)."""
    leaks, pseudonyms_seen = {}, False
    downloads.clear()
    for label, run in _runs(at):
        strings = rt.shown_and_offered(run, downloads)
        downloads.clear()
        pseudonyms_seen |= any("row 2" in s for s in strings)
        found = rt.find(strings, needles)
        if found:
            leaks[label] = found[:5]
        if label == f"{REPORT} (built)":
            assert any("Download HTML" in s for s in strings), "the report was not built"
    assert pseudonyms_seen, "no pseudonym reached any page: the walk proves nothing"
    return leaks


def test_no_page_download_or_report_shows_a_sample_patient_id():
    with rt.DownloadRecorder() as downloads:
        at = _turn_pseudonyms_on(open_app())
        leaks = _walk_and_scan(at, downloads, sample_ids())
    assert leaks == {}, leaks


def test_no_page_download_or_report_shows_an_uploaded_id_even_cut_short():
    token = sh.marker()
    frame, events = marked_files(token)
    with rt.DownloadRecorder() as downloads:
        at = sh.upload(sh.new_session(), "cohort.csv", frame.to_csv(index=False).encode(),
                       adverse_events=events.to_csv(index=False).encode())
        shown = rt.rendered_strings(at)
        assert rt.find(shown, [token]), "the upload's ids are not on the Data page before the switch"
        at = _turn_pseudonyms_on(at)
        leaks = _walk_and_scan(at, downloads, [token])
    assert leaks == {}, leaks


def test_the_scan_sees_figure_hover_and_download_payloads():
    """Without pseudonyms the Biomarkers page gives ids away in the figure, in its exported files and in the Analysis
    CSV."""
    with rt.DownloadRecorder() as downloads:
        at = open_export_panels(open_code(open_app(page="pages/4_Biomarkers.py")))
        figure = rt.find(rt.rendered_strings(at), ["PRO-001"])
        offered = rt.find(downloads.strings(), ["PRO-001"])
        exported = {d.mimetype for d in downloads.downloads if rt.find(d.strings(), ["PRO-001"])}
    assert figure and offered
    assert {"image/png", "image/svg+xml", "text/html"} <= exported


# ----------------------------------------------------------------------------- il2lib: one function, applied once
@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    from il2lib import load_adverse_events, load_cohort

    token = sh.marker()
    frame, events = marked_files(token)
    folder = tmp_path_factory.mktemp("marked")
    patients, ae_file = folder / "cohort.csv", folder / "events.csv"
    frame.to_csv(patients, index=False)
    events.to_csv(ae_file, index=False)
    cohort = load_cohort(patients)
    return token, patients, ae_file, cohort, load_adverse_events(ae_file, cohort)


def _all_text(cohort, ae) -> str:
    parts = [cohort.data.to_csv(), cohort.excluded.to_csv(), cohort.report.to_frame().to_csv(),
             *cohort.report.conversions, ae.data.to_csv(), ae.report.to_frame().to_csv()]
    parts += [" ".join(getattr(n, "patient_ids", ())) for n in cohort.report.conversions]
    return "\n".join(parts)


def test_the_marked_files_put_ids_in_every_kind_of_message(marked):
    token, _p, _a, cohort, ae = marked
    messages = [f.message for f in cohort.report.findings] + [f.message for f in ae.report.findings]
    long_id = f"{token}-LONG-"
    assert any("date_first_response; excluded from DoR (" in m and long_id in m and "…" in m for m in messages)
    assert any("(patient_id=" in m and f"{token}-LONG-" in m and "…" in m for m in messages)
    assert any("appears 2 times" in m and token in m for m in messages)
    assert any("is not in the patient file" in m and f"{token}-GHOST" in m for m in messages)
    assert any("grade-5 AE but died=No" in m and token in m for m in messages)
    assert any(token in note for note in cohort.report.conversions)
    assert cohort.report.n_excluded == 2


def test_pseudonymise_replaces_every_id_and_keeps_everything_else(marked):
    from il2lib.privacy.pseudonyms import WITHHELD, pseudonymise

    token, _p, _a, cohort, ae = marked
    hidden, hidden_ae = pseudonymise(cohort, ae)
    assert token not in _all_text(hidden, hidden_ae)
    assert token in _all_text(cohort, ae), "the loaded cohort itself is left unchanged"
    data = hidden.data
    assert list(data[schema.PATIENT_ID]) == ["row " + str(r) for r in data[schema.FILE_ROW]]
    pd.testing.assert_frame_equal(data.drop(columns=schema.PATIENT_ID), cohort.data.drop(columns=schema.PATIENT_ID))
    by_row = dict(zip(cohort.data[schema.PATIENT_ID], data[schema.PATIENT_ID]))
    assert list(hidden_ae.data[schema.AE_PATIENT_ID]) == [by_row[p] for p in ae.data[schema.AE_PATIENT_ID]]
    assert [f.level for f in hidden.report.findings] == [f.level for f in cohort.report.findings]
    messages = [f.message for f in hidden.report.findings] + [f.message for f in hidden_ae.report.findings]
    assert "Row 2 (patient_id=row 2): 'prior_pd1_pdl1' is empty; left out of prior PD-1/PD-L1 comparisons." \
        in messages
    assert any(m.startswith("1 responder lacks date_first_response; excluded from DoR (row 2)") for m in messages)
    assert f"patient_id '{WITHHELD}' appears 2 times (rows 4, 5); the patient file must be one row per patient." \
        in messages
    assert any(m.endswith(f"patient_id '{WITHHELD}' is not in the patient file.") for m in messages)
    assert "Patient row 11 has a grade-5 AE but died=No." in messages
    assert {r.split(";")[0] for r in hidden.excluded["reasons"]} == {
        f"patient_id '{WITHHELD}' appears 2 times (rows 4, 5)"}
    assert list(hidden.excluded[schema.PATIENT_ID]) == ["row 4", "row 5"]
    note = next(n for n in hidden.report.conversions if getattr(n, "kind", "") == "pfs_no_assessment")
    assert note.patient_ids == ("row 6",) and note.endswith(": row 6.")


def test_pseudonymise_twice_changes_nothing(marked):
    from il2lib.privacy.pseudonyms import pseudonymise

    _t, _p, _a, cohort, ae = marked
    once = pseudonymise(cohort, ae)
    twice = pseudonymise(*once)
    assert _all_text(*twice) == _all_text(*once)
    assert [dataclasses.asdict(f) for f in twice[0].report.findings] == \
        [dataclasses.asdict(f) for f in once[0].report.findings]


def test_pseudonymised_report_and_cli_report_name_no_patient_id(marked, tmp_path, capsys):
    from il2lib.cli import main
    from il2lib.report import build_report

    token, patients, ae_file, cohort, ae = marked
    plain = build_report(cohort, ae).html
    assert token in plain, "the report lists ids when pseudonyms are off"
    html = build_report(cohort, ae, pseudonymise=True).html
    assert token not in html and "row 2" in html
    out = tmp_path / "report.html"
    assert main(["report", str(patients), "--ae", str(ae_file), "--out", str(out), "--pseudonyms"]) == 0
    capsys.readouterr()
    written = out.read_text(encoding="utf-8")
    assert token not in written and "Patient ids are withheld" in written
