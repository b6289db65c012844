"""The meeting report under small-cell protection: counts 1..k-1 masked at every count position of the
report's text and figures, patient-level figures withheld, the method stated; unmasked report unchanged."""
from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from il2lib.analyses.published import CITATIONS
from il2lib.cohort import CohortFilter
from il2lib.errors import InsufficientDataError
from il2lib.figures import PATIENT_LEVEL_FIGURES, withheld_under_masking
from il2lib.report import _render, _small_cells, build_report
from il2lib.report._html import Figure
from il2lib.report._sections import Section
from il2lib.validation.adverse_events import load_adverse_events
from il2lib.validation.patients import load_cohort

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "combined_synthetic_adverse_events.csv"
STAMP = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
#: Line 3+: 20 melanoma and 11 RCC patients, grouped by disease; 2 without prior PD-1, 2 RCC with benefit.
LINE_3 = CohortFilter(line_of_il2=("3+",))
K = 5
PUBLISHED_SERIES = CITATIONS["buchbinder2019"].series
#: A count from 1 to K-1 at a typed count position: "n=2"/"(N=2)", "2/30", "2 (6.7%)".
SMALL = {"n=k": re.compile(r"(?<![A-Za-z])[nN]\s*=\s*[1-4](?![\d.])"),
         "k/n": re.compile(r"(?<![\d.,<])[1-4]\s*/\s*\d"),
         "k (p%)": re.compile(r"(?<![\d.,<])[1-4] \(\d+(?:\.\d+)?%\)")}


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE)


@pytest.fixture(scope="module")
def ae(cohort):
    return load_adverse_events(SAMPLE_AE, cohort)


@pytest.fixture(scope="module")
def plain(cohort, ae):
    return build_report(cohort, ae, LINE_3, generated_at=STAMP)


@pytest.fixture(scope="module")
def masked(cohort, ae):
    return build_report(cohort, ae, LINE_3, generated_at=STAMP, small_cell_threshold=K)


def _own(html: str) -> str:
    """The report without the inlined plotly.js: its own text and the figures' JSON."""
    return html.replace(get_plotlyjs(), "")


def _text(html: str) -> str:
    """The report's own text, without the rows of published numbers (not this cohort's counts: never masked)."""
    body = re.sub(r"<script.*?</script>", " ", _own(html).split("<body>", 1)[1], flags=re.S)
    body = re.sub(rf"<tr>(?:(?!</tr>).)*{PUBLISHED_SERIES}.*?</tr>", " ", body, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def _figures(html: str) -> list[tuple[list, dict]]:
    calls = re.findall(r'Plotly\.newPlot\(\s*"figure-\d+",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"displaylogo', _own(html),
                       flags=re.S)
    return [(json.loads(data), json.loads(layout)) for data, layout in calls]


def _figure_strings(html: str) -> list[str]:
    """Every string of every figure (names, text, category labels, hover, titles, annotations)."""
    out: list[str] = []

    def walk(value):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):  # numeric arrays are {"dtype", "bdata" (base64)}: numbers, not text
            for key, v in value.items():
                if key not in ("bdata", "dtype", "shape"):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for data, layout in _figures(html):
        walk(data)
        walk(layout)
    return out


def _small_counts(pieces: list[str]) -> list[tuple[str, str]]:
    return [(name, piece) for piece in pieces for name, rule in SMALL.items() if rule.search(piece)]


def test_unmasked_report_shows_the_small_counts_this_test_looks_for(plain):
    found = {name for name, _ in _small_counts([_text(plain.html)] + _figure_strings(plain.html))}
    assert found == set(SMALL), found
    assert plain.small_cell_threshold is None


def test_masked_report_shows_no_count_below_the_threshold_in_text_or_figures(masked):
    assert _small_counts([_text(masked.html)]) == []
    assert _small_counts(_figure_strings(masked.html)) == []
    assert f"<{K}" in _text(masked.html) and "masked" in _text(masked.html)
    assert masked.small_cell_threshold == K and masked.n_patients == 31


def test_masked_report_draws_the_biomarker_boxes_without_patients(cohort, plain, masked):
    ids = set(cohort.data["patient_id"].astype(str))

    def boxes(report):
        return [t for data, _ in _figures(report.html) for t in data if t.get("type") == "box"]

    assert any(t.get("boxpoints") == "all" for t in boxes(plain))  # the unmasked figure shows every patient
    assert boxes(masked) and all(t.get("boxpoints") is False and "text" not in t for t in boxes(masked))
    assert not ids & set(_figure_strings(masked.html))
    assert not [i for i in ids if i in _text(masked.html)]  # no patient id anywhere in the document
    labels = {x for t in boxes(masked) for x in t.get("x", []) if isinstance(x, str)}
    assert f"CB (n<{K})" in labels  # RCC: two patients with benefit, no box
    assert "no box for a group of fewer than 5 patients" in _text(masked.html)


def test_a_patient_level_figure_is_withheld_from_a_masked_report():
    from il2lib.figures.response import swimmer_figure
    from support.apptest import sample_data

    assert withheld_under_masking("swimmer") and "swimmer" in PATIENT_LEVEL_FIGURES
    section = Section("response", "Response")
    section.add(Figure(swimmer_figure(sample_data(), responders_only=True), "Time on study", "swimmer"))
    html, n = _render([section])
    assert n == 1 and 'id="figure-1"' in html
    with _small_cells.small_cells(K):
        html, n = _render([section])
    assert n == 0 and 'id="figure-1"' not in html and "Patient-level figure withheld" in html


def test_masked_report_states_the_method_in_its_methods_section(masked, plain):
    text = _text(masked.html)
    methods = text[text.index("Methods and reproducibility"):]
    assert "threshold 5" in methods and "differencing" in methods
    assert "--mask 5" in methods  # the command that rebuilds this report
    assert "Small-cell protection" in text[:text.index("Contents:")]  # stated in the header too
    assert "Small-cell protection" not in _text(plain.html)


def test_masked_report_does_not_list_validation_rows():
    import pandas as pd

    from il2lib.report._sections import validation_section

    raw = pd.read_csv(SAMPLE, dtype=str)
    raw.loc[2, "disease"] = "lung"  # a row-level error: the row is excluded and listed with its patient id
    cohort = load_cohort(raw.to_csv(index=False).encode())
    patient = raw.loc[2, "patient_id"]

    def html() -> str:
        return "".join(b for b in validation_section(cohort, None, len(cohort.data), "all patients").blocks)

    assert patient in html()
    with _small_cells.small_cells(K):
        assert patient not in html() and "Not listed while small-cell protection is on" in html()


def test_without_a_threshold_the_report_is_unchanged(cohort, ae, plain):
    again = build_report(cohort, ae, LINE_3, generated_at=STAMP, small_cell_threshold=None)
    assert again.html == plain.html
    assert "masked" not in _text(plain.html) and "--mask" not in plain.html


def test_no_masked_report_for_a_cohort_below_the_threshold(cohort):
    two = CohortFilter(disease=("rcc",), line_of_il2=("3+",), ecog=(1,))  # 2 patients
    assert build_report(cohort, filter=two).n_patients == 2
    with pytest.raises(InsufficientDataError, match="Fewer than 5 patients match the filter"):
        build_report(cohort, filter=two, small_cell_threshold=K)


@pytest.mark.parametrize("text, expected", [
    ("Cox model: n = 31, events = 3; model test", "Cox model: n = 31, events = <5; model test"),
    ("not reported: a group has 1 events (fewer than 5)", "not reported: a group has <5 events (fewer than 5)"),
    ("2 patient(s) left out: clinical benefit undetermined.", "<5 patient(s) left out: clinical benefit undetermined."),
    ("Melanoma (N=3)", "Melanoma (N=<5)"),
    ("95% confidence bands. n = 3 of 31 (2 without time).", "95% confidence bands. n = <5 of 31 (<5 without time)."),
    ("no hazard ratio when a group has fewer than 5 events", "no hazard ratio when a group has fewer than 5 events"),
])
def test_report_notes_mask_their_counts(text, expected):
    assert _small_cells.text(text) == text  # outside a masked build nothing changes
    with _small_cells.small_cells(K):
        assert _small_cells.text(text) == expected


def test_cli_mask_builds_the_masked_report(tmp_path, capsys):
    from il2lib.cli import main

    out = tmp_path / "report.html"
    code = main(["report", str(SAMPLE), "--out", str(out), "--line-of-il2", "3+", "--mask", "5", "--format", "json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["small_cell_threshold"] == 5
    html = out.read_text(encoding="utf-8")
    assert _small_counts([_text(html)]) == [] and "threshold 5" in _text(html)


@pytest.mark.parametrize("value", ["1", "x", "21"])
def test_cli_mask_needs_a_threshold_the_dashboard_offers(tmp_path, value, capsys):
    from il2lib.cli import main

    with pytest.raises(SystemExit):
        main(["report", str(SAMPLE), "--out", str(tmp_path / "r.html"), "--mask", value])
    assert "--mask needs a whole number from 2 to 20" in capsys.readouterr().err


def test_masked_report_suppresses_the_complements_of_table1_and_response_counts(cohort, masked):
    # Line 3+ by disease: Table 1's ECOG 2 cell reads "<5" but, cell by cell, 31 - 24 - 5 gave it back
    from il2lib.analyses.response import best_response_table, response_count_view, response_rates
    from il2lib.analyses.table1 import table1
    from il2lib.cohort import apply_filter
    from il2lib.privacy.disclosure import protect, recoverable

    df = apply_filter(cohort.data, LINE_3)
    t1 = table1(df, by="disease")
    shown = protect(t1.count_view(), K)
    assert shown.secondary and recoverable(t1.count_view(), shown) == {}
    view = response_count_view(best_response_table(df, "disease"), response_rates(df, "disease", outcome=["orr", "cbr"]))
    assert recoverable(view, protect(view, K)) == {}
    assert "masked (–)" in unescape(_own(masked.html))
    assert "complementary suppression" in unescape(_own(masked.html))


#: Filter settings with small groups: melanoma in line 3+ (2 patients without prior PD-1) and RCC (by prior
#: PD-1/PD-L1 agent on the pages; the report groups by prior PD-1/PD-L1).
AUDITED = {"melanoma_line3": CohortFilter(disease=("melanoma",), line_of_il2=("3+",)),
           "rcc": CohortFilter(disease=("rcc",))}


@pytest.fixture(scope="module")
def audited(cohort, ae):
    """Each audited filter's masked report, with every count view it protected and how it showed it."""
    out = {}
    for name, flt in AUDITED.items():
        with _small_cells.recording() as views:
            report = build_report(cohort, ae, flt, generated_at=STAMP, small_cell_threshold=K)
        out[name] = report, views
    return out


def _tables(html: str) -> dict[str, list[list[str]]]:
    """Every table of the report by caption: its rows of cell texts (header row first)."""
    out = {}
    for block in re.findall(r"<table>(.*?)</table>", _own(html), flags=re.S):
        caption = unescape(re.sub(r"<[^>]+>", "", (re.findall(r"<caption>(.*?)</caption>", block) or [""])[0]))
        rows = [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
                for r in re.findall(r"<tr>(.*?)</tr>", block, flags=re.S)]
        out[caption] = rows
    return out


@pytest.mark.parametrize("name", list(AUDITED))
def test_no_count_view_of_the_masked_report_gives_a_hidden_count_back(audited, name):
    from il2lib.privacy.disclosure import recoverable

    _, views = audited[name]
    assert {"table1", "response", "survival", "biomarkers", "toxicity", "published medians"} <= {
        kind for kind, _, _ in views}
    for kind, view, shown in views:
        assert recoverable(view, shown) == {}, f"{name}: the {kind} view gives a masked count back"


def test_survival_table_hides_the_group_size_and_events_the_totals_would_give_back(audited):
    # melanoma line 3+ by prior PD-1/PD-L1: Yes 18 (12 events), No 2 (1 event), all 20 (13 events); cell by
    # cell, 20 - 18 and 13 - 12 gave the "<5" back
    report, _ = audited["melanoma_line3"]
    rows = _tables(report.html)["Overall survival by prior PD-1/PD-L1: medians and milestone survival"]
    size = {row[0]: (row[1], row[2]) for row in rows[1:]}
    assert size["Prior PD-1/PD-L1: no"] == ("<5", "<5") and size["All patients"] == ("20", "13")
    assert size["Prior PD-1/PD-L1: yes"] == ("masked", "masked")


def test_report_shows_no_estimate_where_fewer_than_k_remain_at_risk(audited, masked, plain):
    # as the curves stop there: milestone survival, its differences and the cumulative incidence read "–"
    tables = _tables(audited["melanoma_line3"][0].html)
    rows = {r[0]: r[4:] for r in tables["Overall survival by prior PD-1/PD-L1: medians and milestone survival"][1:]}
    assert rows["Prior PD-1/PD-L1: no"] == ["–", "–", "–"]
    assert rows["Prior PD-1/PD-L1: yes"][:2] == ["72% (46–87)", "33% (13–56)"]
    assert "–" in {r[3] for r in tables["Cumulative incidence (competing risks)"][1:]}
    line3 = {tuple(r[:2]): r[2:] for r in _tables(masked.html)["Milestone survival and RMST differences"][1:]}
    assert line3["RCC vs Melanoma", "Survival at 24 months"] == ["–", "–"]  # RCC: fewer than 5 at risk at 24 months
    unmasked = {tuple(r[:2]): r[2:] for r in _tables(plain.html)["Milestone survival and RMST differences"][1:]}
    assert unmasked["RCC vs Melanoma", "Survival at 24 months"][0].endswith("% points")


def test_masked_report_shows_published_numbers_as_printed(masked):
    # PROCLAIM's RCC responders are printed as 4/17: a published number, not this cohort's count
    orr = {(r[0], r[1]): r[2:] for r in _tables(masked.html)["Objective response: our cohort vs published"][1:]}
    assert orr[PUBLISHED_SERIES, "RCC"] == ["4/17", "23.5 (6.8 to 49.9)"]
    assert orr["Our cohort", "RCC"] == ["<5/11", "masked"]


def test_masked_report_leaves_the_key_results_to_the_sections_that_protect_them(masked, plain):
    # Key results repeat the Response section's CR, PR, ORR and CBR by disease; with their own complements, a CR
    # hidden in one and shown beside the other disease's CR and the total in the other would come back
    assert "Key results" not in _tables(masked.html)
    assert "Key results are not repeated here while small-cell protection is on" in masked.html
    key = {r[0]: r for r in _tables(plain.html)["Key results"][1:]}
    assert key["All patients"][1:4] == ["31", "3", "5"] and key["RCC"][6] == "24.8 (8.2–NR)"


def test_masked_report_hides_the_benefit_group_size_the_disease_total_would_give_back(masked):
    # our median OS by clinical benefit: RCC 2 with benefit, 9 without, of 11 (RCC's N shown in Response)
    table = _tables(masked.html)["Median OS from IL-2 start by clinical benefit: our cohort vs published"]
    medians = {(r[0], r[1]): r[2] for r in table[1:]}
    assert (medians["RCC", "Clinical benefit"], medians["RCC", "No clinical benefit"]) == ("<5", "masked")
