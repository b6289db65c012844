"""The meeting report: published counts, self-contained HTML, escaping, offline rendering, PDF.

Browser checks use Playwright with Debian's chromium; the PDF checks use ``pdfinfo``/``pdftotext``
from poppler-utils (installed by ``make test`` through scripts/ensure_system_packages.sh).
Screenshots are written to tests/artifacts/ for a person to look at.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from il2lib import schema
from il2lib.cohort import CohortFilter
from il2lib.errors import Il2libError, InsufficientDataError
from il2lib.report import build_report, write_pdf
from il2lib.report.pdf import find_chromium, set_paper
from il2lib.validation.adverse_events import load_adverse_events
from il2lib.validation.patients import load_cohort

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "proclaim_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "proclaim_synthetic_adverse_events.csv"
ARTIFACTS = ROOT / "tests" / "artifacts"
STAMP = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
PAYLOAD = "<script>window.__pwned = 1</script>"


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE)


@pytest.fixture(scope="module")
def report(cohort):
    ae = load_adverse_events(SAMPLE_AE, cohort)
    return build_report(cohort, ae, generated_at=STAMP)


def _text(html: str) -> str:
    """Visible text of the document body (tags dropped, entities decoded)."""
    body = html.split("<body>", 1)[1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


# ------------------------------------------------------------------------------ content
def test_report_contains_the_published_response_counts(report):
    # Buchbinder et al., JITC 2019: melanoma CR 4 / PR 5 of 40 (ORR 22.5%), RCC CR 2 / PR 2 of 17.
    # CIs are Clopper-Pearson (docs/domain.md section 1A: 10.8-38.5%, 6.8-49.9%, 12.7-35.8%).
    text = _text(report.html)
    assert re.search(r"Melanoma 40 4 5 9/40 = 22\.5 \(10\.8–38\.5\)", text)
    assert re.search(r"RCC 17 2 2 4/17 = 23\.5 \(6\.8–49\.9\)", text)
    assert re.search(r"All patients 57 6 7 13/57 = 22\.8 \(12\.7–35\.8\)", text)
    assert re.search(r"Complete response \(CR\) 4 \(10\.0%\) 2 \(11\.8%\)", text)
    assert re.search(r"Partial response \(PR\) 5 \(12\.5%\) 2 \(11\.8%\)", text)


def test_header_names_date_fingerprint_filter_and_sections(report, cohort):
    text = _text(report.html)
    assert cohort.fingerprint in report.html and len(cohort.fingerprint) == 64
    assert "15 January 2026, 09:30 UTC" in text
    assert "Filter All patients" in text
    for heading in ("Data and validation", "Patient characteristics (Table 1)", "Response",
                    "Survival: overall survival", "Biomarkers: clinical benefit vs no clinical benefit", "Toxicity",
                    "Methods and reproducibility"):
        assert heading in report.sections
    assert "Number at risk" in report.html and "Log-rank test: chi-square" in text
    assert "Cox model term" in text and "HR (95% CI)" in text and "Median follow-up (reverse Kaplan-Meier)" in text
    assert schema.SYNTHETIC_NOTE in text


def test_methods_name_estimators_tests_and_versions(report):
    import lifelines
    import pandas
    import scipy

    import il2lib

    text = _text(report.html)
    for phrase in ("Kaplan-Meier product-limit method", "Greenwood", "log-log", "Clopper-Pearson",
                   "log-rank test", "Cox proportional-hazards", "Efron", "Wilcoxon rank-sum", "Fisher's exact"):
        assert phrase in text, phrase
    for name, version in (("il2lib", il2lib.__version__), ("pandas", pandas.__version__),
                          ("scipy", scipy.__version__), ("lifelines", lifelines.__version__)):
        assert f"{name} {version}" in text, name
    assert "python -m il2lib report proclaim_synthetic.csv --out report.html --endpoint os --ae" in text


def test_plotly_js_is_embedded_once_and_nothing_is_external(report):
    html = report.html
    assert report.n_figures >= 5
    assert html.count(get_plotlyjs()[:500]) == 1, "plotly.js inlined exactly once"
    assert html.count("Plotly.newPlot(") == report.n_figures
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", html, flags=re.I)
    assert "default-src 'none'" in html


def test_filter_and_endpoint_change_the_report(cohort):
    rcc = build_report(cohort, None, CohortFilter(disease=("rcc",)), "pfs", generated_at=STAMP)
    text = _text(rcc.html)
    assert rcc.n_patients == 17 and rcc.filter_description == "RCC"
    assert "Survival: progression-free survival" in rcc.sections
    assert "RCC 17 2 2 4/17 = 23.5 (6.8–49.9)" in text and "Melanoma 40" not in text
    assert "No adverse-event table was supplied" in text


def test_no_patient_after_filter_is_a_typed_error(cohort):
    with pytest.raises(InsufficientDataError, match="No patient matches"):
        build_report(cohort, filter=CohortFilter(prior_pd1_pdl1=(False,)))


def test_upload_derived_strings_are_escaped(tmp_path):
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame.loc[0, schema.HISTOLOGY] = PAYLOAD
    path = tmp_path / "<img src=x onerror=alert(1)>.csv"
    frame.to_csv(path, index=False)
    html = build_report(load_cohort(path), generated_at=STAMP).html
    assert PAYLOAD not in html
    assert "<img src=x" not in html, "file name escaped in HTML and in the CSS footer string"
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in html


def test_paper_size_is_switched_in_the_page_rule(report):
    assert "size: A4;" in report.html
    letter = set_paper(report.html, "Letter")
    assert "size: letter;" in letter and "size: A4;" not in letter


# ------------------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def _open(browser, path: Path):
    """Open a local file, recording every request that is not file:// (each one is aborted)."""
    context = browser.new_context(viewport={"width": 1000, "height": 1400})
    page = context.new_page()
    external: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                         " e => window.__csp.push(e.blockedURI));")
    page.goto(path.as_uri(), wait_until="load")
    return context, page, external, errors


def test_report_opens_offline_and_renders_every_figure(browser, report, tmp_path):
    path = report.write_html(tmp_path / "report.html")
    context, page, external, errors = _open(browser, path)
    try:
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {report.n_figures}",
                               timeout=30_000)
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == report.n_figures
        for i in range(report.n_figures):
            box = plots.nth(i).bounding_box()
            assert box and box["width"] > 600 and box["height"] > 200
            assert plots.nth(i).locator("g.trace, g.barlayer .point, g.boxlayer .trace").count() > 0
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate("window.__csp") == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report_sample.png"), full_page=True)
    finally:
        context.close()
    assert external == [], f"network requests: {external}"
    assert errors == [], errors


def test_document_itself_requests_nothing_even_without_its_csp(browser, report, tmp_path):
    # The CSP would block requests before they are made; strip it to prove the document asks for none.
    without_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report.html)
    path = tmp_path / "report_no_csp.html"
    path.write_text(without_csp, encoding="utf-8")
    context, page, external, _ = _open(browser, path)
    try:
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {report.n_figures}",
                               timeout=30_000)
        page.mouse.move(400, 400)
        page.wait_for_timeout(500)
    finally:
        context.close()
    assert external == []


# ------------------------------------------------------------------------------ PDF
def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install poppler-utils (make test does it through scripts/ensure_system_packages.sh)")
    return path


@pytest.fixture(scope="module")
def pdf_pages(report, tmp_path_factory):
    """Text of each page of the A4 PDF, and the page size in points."""
    pdf = write_pdf(report.html, tmp_path_factory.mktemp("pdf") / "report.pdf", paper="A4")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "report_sample.pdf")
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    n_pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups()
    pages = [subprocess.run([_poppler("pdftotext"), "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"],
                            capture_output=True, text=True, check=True).stdout for i in range(1, n_pages + 1)]
    return pages, tuple(float(v) for v in size)


def test_pdf_is_a4_with_the_expected_pages_and_text(pdf_pages):
    pages, size = pdf_pages
    assert size == pytest.approx((595.3, 841.9), abs=1.0)
    # 14 pages on this machine: title + validation, Table 1 (2), response, survival, response as a time-dependent
    # covariate (3), models, biomarkers (2), toxicity, methods. Table lengths move that by a page, so a range is
    # asserted, plus the footer.
    assert 10 <= len(pages) <= 16
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in text
    assert "High-dose IL-2 registry: meeting report" in pages[0]
    assert re.search(r"Melanoma\s+40\s+4\s+5\s+9/40 = 22\.5 \(10\.8–38\.5\)", pages[0])
    assert "Methods and reproducibility" in "".join(pages)


def test_pdf_keeps_each_figure_on_one_page(pdf_pages, report):
    pages, _ = pdf_pages
    for number in range(1, report.n_figures + 1):
        holders = [i for i, text in enumerate(pages) if f"Figure {number}." in text]
        assert len(holders) == 1, f"Figure {number} caption on pages {holders}"
    km_page = next(text for text in pages if "Overall survival by disease" in text and "Figure" in text)
    assert "Number at risk" in km_page and "Months since IL-2 start" in km_page


def test_letter_pdf(report, tmp_path):
    pdf = write_pdf(report.html, tmp_path / "letter.pdf", paper="Letter")
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+612 x 792 pts", info)


def test_css_footer_string_cannot_close_the_style_element():
    from il2lib.report._html import css_string

    escaped = css_string('name"</style><script>x</script>\\')
    assert "<" not in escaped and ">" not in escaped and '"' not in escaped
    assert escaped.startswith("name\\22 \\3c /style\\3e ")


def test_a_tiny_file_still_gives_a_whole_report_with_plain_notes():
    import io

    from conftest import csv_bytes, patient_rows

    # Two patients, one disease each, nobody died: Cox cannot be fitted, so the section says so.
    tiny = load_cohort(io.BytesIO(csv_bytes(patient_rows({"disease": "rcc"}, n=2))))
    report = build_report(tiny, generated_at=STAMP)
    text = _text(report.html)
    assert report.n_patients == 2 and "Methods and reproducibility" in report.sections
    assert "Cox model not computed: The Cox model needs at least one event" in text
    assert "Traceback" not in text


def test_pseudonymised_report_withholds_the_patient_ids(tmp_path):
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame.loc[3, schema.PATIENT_ID] = frame.loc[4, schema.PATIENT_ID]  # duplicate id: two row errors
    duplicated = frame.loc[4, schema.PATIENT_ID]
    path = tmp_path / "dup.csv"
    frame.to_csv(path, index=False)
    dup = load_cohort(path)
    plain = _text(build_report(dup, generated_at=STAMP).html)
    hidden = _text(build_report(dup, generated_at=STAMP, pseudonymise=True).html)
    assert f"patient_id '{duplicated}' appears 2 times" in plain
    assert duplicated not in hidden
    assert "5 row 5 patient_id '(id withheld)' appears 2 times" in hidden


def test_combined_sample_adds_the_prior_pd1_curves_with_the_era_caveat():
    combined = load_cohort(ROOT / "sample_data" / "combined_synthetic.csv")
    report = build_report(combined, generated_at=STAMP)
    text = _text(report.html)
    assert report.n_patients == 107
    assert text.count(schema.ERA_CAVEAT) >= 2, "in the header and beside the prior-PD-1 curves"
    assert "Overall survival by prior PD-1/PD-L1" in text
    assert "Prior PD-1/PD-L1: yes vs no" in text  # the hazard ratio of the exposed vs the naive (reference)


# ------------------------------------------------------------------------------ groups compared
COMBINED = ROOT / "sample_data" / "combined_synthetic.csv"
COMBINED_AE = ROOT / "sample_data" / "combined_synthetic_adverse_events.csv"


def _section(html: str, anchor: str) -> str:
    body = html.split("<body>", 1)[1]
    start = body.index(f'<section id="{anchor}"')
    return body[start:body.index("</section>", start)]


def _table_headers(section_html: str) -> list[list[str]]:
    return [[unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]
            for head in re.findall(r"<thead>(.*?)</thead>", section_html, re.S)]


@pytest.fixture(scope="module")
def combined():
    cohort = load_cohort(COMBINED)
    return cohort, load_adverse_events(COMBINED_AE, cohort)


@pytest.fixture(scope="module")
def by_prior_pd1(combined):
    return build_report(*combined, generated_at=STAMP, by=schema.PRIOR_PD1)


def test_report_by_prior_pd1_groups_the_response_tables_by_yes_and_no(by_prior_pd1):
    response = _section(by_prior_pd1.html, "response")
    bor, rates = _table_headers(response)[:2]
    assert bor[1:] == ["Prior PD-1/PD-L1: no (n=50)", "Prior PD-1/PD-L1: yes (n=57)"], bor
    assert re.search(r"Prior PD-1/PD-L1: yes ORR \(CR\+PR\), confirmed only 13/57 22\.8 12\.7–35\.8",
                     _text("<body>" + response))
    assert re.search(r"Prior PD-1/PD-L1: no ORR \(CR\+PR\), confirmed only 8/50 16\.0 7\.2–29\.1",
                     _text("<body>" + response))
    assert "Best overall response by prior PD-1/PD-L1, n (% of treated patients)" in _text("<body>" + response)
    assert '"y":["Prior PD-1\\u002fPD-L1: no (n=50)","Prior PD-1\\u002fPD-L1: yes (n=57)"]' in response, \
        "the BOR bars are by prior PD-1/PD-L1"


def test_report_by_prior_pd1_groups_toxicity_and_keeps_table1_and_survival_by_disease(by_prior_pd1):
    toxicity = _section(by_prior_pd1.html, "toxicity")
    assert _table_headers(toxicity)[0][1:] == ["Prior PD-1/PD-L1: no (N=50)", "Prior PD-1/PD-L1: yes (N=57)"]
    assert "Patients with adverse events by prior PD-1/PD-L1" in _text("<body>" + toxicity)
    table1 = _text("<body>" + _section(by_prior_pd1.html, "table1"))
    assert "Table 1. Baseline characteristics by disease" in table1
    assert "Overall survival by prior PD-1/PD-L1" in _text(by_prior_pd1.html)


def test_report_by_prior_pd1_names_the_groups_and_adds_them_to_the_key_results(by_prior_pd1):
    text = _text(by_prior_pd1.html)
    assert "Groups compared Prior PD-1/PD-L1" in text
    assert re.search(r"Melanoma 70 6 8 14/70 = 20\.0 .* RCC 37 3 4 7/37 = 18\.9 .* Prior PD-1/PD-L1: no 50 3 5 "
                     r"8/50 = 16\.0 \(7\.2–29\.1\) 14/50 = 28\.0 .* Prior PD-1/PD-L1: yes 57 6 7 13/57 = 22\.8 "
                     r"\(12\.7–35\.8\) 16/57 = 28\.1 .* All patients 107 9 12 21/107", text)
    assert "--endpoint os --by prior_pd1_pdl1 --ae ADVERSE_EVENTS_FILE" in text


def test_report_without_grouping_and_with_an_unknown_column(combined):
    report = build_report(*combined, generated_at=STAMP, by=None)
    text = _text(report.html)
    assert "Groups compared None (all patients together)" in text and "--by none" in text
    assert _table_headers(_section(report.html, "response"))[0][1:] == ["All patients (n=107)"]
    with pytest.raises(Il2libError, match="'bmi'"):
        build_report(*combined, generated_at=STAMP, by="bmi")


def test_default_grouping_is_disease_and_names_no_option(report, cohort):
    text = _text(report.html)
    assert "Groups compared" not in text and "--by" not in text
    by_disease = _text(build_report(cohort, load_adverse_events(SAMPLE_AE, cohort), generated_at=STAMP,
                                    by=schema.DISEASE).html)
    assert "Groups compared Disease" in by_disease and "--by disease" in by_disease
    assert text.replace("--endpoint os ", "--endpoint os --by disease ") == by_disease.replace(
        " Groups compared Disease", "")


def test_report_and_cli_compare_the_groupings_of_the_response_page():
    from il2lib.cli.report import BY_CHOICES, NO_GROUPING
    from il2lib.report import GROUPINGS

    assert GROUPINGS == schema.COMPARISON_GROUPINGS
    assert BY_CHOICES == (*GROUPINGS, NO_GROUPING)
    assert "GROUPINGS = [None, *schema.COMPARISON_GROUPINGS]" in (ROOT / "pages" / "2_Response.py").read_text()
