"""Small-cell protection of the toxicity summary: one count view for the by-term table, the grade figure,
the overview, the cycle table and the notes, with complementary suppression (il2lib.privacy.disclosure).

The rule is the usual minimum cell count: counts from 1 to k - 1 read "<k", zeros stay (DARWIN EU's
omopgenerics, "Minimum cell count suppression",
https://darwin-eu-dev.github.io/omopgenerics/articles/suppression.html). A hidden count must also not
follow from the numbers shown with it, e.g. a worst-grade count from "any grade" minus the other grades.
"""
from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import load_cohort, schema
from il2lib.analyses.toxicity import ANY_AE, ANY_G3, ANY_IRAE, GRADES, toxicity_summary
from il2lib.figures.toxicity import ae_grade_figure
from il2lib.privacy.disclosure import NO_SUPPRESSION, SUPPRESSED, Suppression, protect, recoverable
from il2lib.validation.adverse_events import load_adverse_events
from support.disclosure_scan import figure_small_counts, html_small_counts
from support.rendered_text import decode_typed_arrays

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "combined_synthetic_adverse_events.csv"
K = 5
SMALL = re.compile(r"(?<![\d.<])[1-4](?![\d.])")


def spec(fig) -> dict:
    """The figure's JSON as the browser gets it, typed arrays decoded."""
    return decode_typed_arrays(json.loads(fig.to_json()))


@pytest.fixture(scope="module")
def sample():
    cohort = load_cohort(SAMPLE)
    return cohort.data, load_adverse_events(SAMPLE_AE, cohort).data


@pytest.fixture(scope="module")
def melanoma_line3(sample):
    """Melanoma in line 3+ by source: the community series has N = 2."""
    df, ae = sample
    sub = df[(df[schema.DISEASE] == "melanoma") & (df[schema.LINE_OF_IL2] >= 3).to_numpy(dtype=bool)]
    return toxicity_summary(ae, sub, by=schema.SOURCE)


@pytest.fixture(scope="module")
def rcc(sample):
    df, ae = sample
    return toxicity_summary(ae, df[df[schema.DISEASE] == "rcc"], by=schema.PRIOR_PD1)


@pytest.fixture(scope="module")
def protected(melanoma_line3, rcc):
    return {name: (tox, tox.count_view(), protect(tox.count_view(), K))
            for name, tox in (("melanoma_line3", melanoma_line3), ("rcc", rcc))}


@pytest.mark.parametrize("name", ["melanoma_line3", "rcc"])
def test_no_hidden_toxicity_count_follows_from_the_shown_ones(protected, name):
    tox, view, shown = protected[name]
    assert shown.primary, "the filter leaves small counts to hide"
    assert recoverable(view, shown) == {}


def test_the_small_group_is_hidden_with_its_size(melanoma_line3):
    tox = melanoma_line3
    sizes = tox.term_sizes
    small = [g for g in tox.groups if 0 < sizes[g] < K]
    assert small == ["Community (synthetic)"]
    shown = protect(tox.count_view(), K)
    assert shown.text(tox.size_key(small[0]), sizes[small[0]]) == f"<{K}"
    header = [c for c in tox.display(shown).columns if c.startswith(small[0])]
    assert header and all(f"(N=<{K})" in c for c in header)


def test_a_grade_given_back_by_any_grade_minus_the_others_is_hidden_by_a_complement(rcc):
    view = rcc.count_view()
    primary = frozenset(k for k, v in view.counts.items() if 0 < v < K)
    cell_by_cell = Suppression(K, primary)
    # a term whose "any grade" and other grades are shown and one grade only is "<5": that grade is any - others
    exposed = [key for key in recoverable(view, cell_by_cell) if key[3] == "term" and key[5].startswith("grade")
               and key[5] != "grade>=3"]
    assert exposed, "cell-by-cell masking leaves a worst-grade count that the shown counts give back"
    key = exposed[0]
    relation = {rcc.term_key(key[2], key[4], "any"), *(rcc.term_key(key[2], key[4], f"grade{g}") for g in GRADES)}
    assert relation - primary and not (relation - {key}) & primary  # the only hidden cell of any = grades 1-5
    shown = protect(view, K)
    assert shown.secondary & relation, "a shown cell of the same sum is hidden as a complement"
    assert key not in recoverable(view, shown)
    table = rcc.display(shown)
    column = f"{key[2]} (N={view.counts[rcc.size_key(key[2])]}): any grade"
    complement = shown.secondary & relation
    if rcc.term_key(key[2], key[4], "any") in complement:
        assert table.loc[key[4], column] == f"{SUPPRESSED} (–)"


def test_the_view_holds_the_identities_between_the_counts(rcc):
    view = rcc.count_view()
    relations = [frozenset(coef) for coef, _, _ in view.relations]
    for r in rcc.by_term.itertuples():
        grades = {rcc.term_key(r.group, r.term, f"grade{g}") for g in GRADES}
        assert frozenset(grades | {rcc.term_key(r.group, r.term, "any")}) in relations
        assert frozenset({rcc.term_key(r.group, r.term, f"grade{g}") for g in (3, 4, 5)}
                         | {rcc.term_key(r.group, r.term, "grade>=3")}) in relations
        assert frozenset({rcc.term_key(r.group, r.term, "any"), rcc.size_key(r.group)}) in relations
    # rows over the same patients share their N: "any AE" over the known, irAEs over those with term detail
    coverage = rcc.coverage.set_index("group")
    for r in rcc.summary.itertuples():
        _, denominator, _ = rcc.measure_keys(r.group, r.measure)
        if r.measure in (ANY_AE, ANY_G3):
            assert r.N == coverage.loc[r.group, "n_known"] == view.counts[denominator]
        if r.measure == ANY_IRAE:
            assert r.N == rcc.term_sizes[r.group] == view.counts[denominator]


def test_the_by_term_table_shows_a_percentage_only_with_its_count_and_n(protected):
    tox, view, shown = protected["rcc"]
    table = tox.display(shown)
    for g in tox.groups:
        n = int(tox.term_sizes[g])
        column = f"{g} (N={shown.text(tox.size_key(g), n)}): grade >= 3"
        for term, cell in table[column].items():
            count = view.counts.get(tox.term_key(g, term, "grade>=3"), 0)
            if shown.shows(tox.term_key(g, term, "grade>=3"), tox.size_key(g)):
                assert cell == f"{count} ({100 * count / n:.0f}%)"
            else:
                assert cell == f"{shown.text(tox.term_key(g, term, 'grade>=3'), count)} (–)"
    assert not [c for col in table for c in table[col] if SMALL.match(c)]


def test_without_suppression_the_table_and_figure_are_as_before(rcc):
    table = rcc.display(NO_SUPPRESSION)
    pd.testing.assert_frame_equal(table, rcc.display())
    assert table.loc["Fever", "Prior PD-1/PD-L1: yes (N=17): any grade"] == "17 (100%)"
    assert table.loc["Fever", "Prior PD-1/PD-L1: yes (N=17): grade >= 3"] == "1 (6%)"
    sizes = rcc.term_sizes
    for g in rcc.groups:
        sub = rcc.by_term[rcc.by_term["group"] == g].set_index("term").reindex(table.index)
        n = int(sizes[g])
        assert list(table[f"{g} (N={n}): any grade"]) == [f"{int(k)} ({100 * k / n:.0f}%)"
                                                          for k in sub["n_any"].fillna(0)]

    fig = ae_grade_figure(rcc, shown=NO_SUPPRESSION)
    assert fig.to_json() == ae_grade_figure(rcc).to_json()
    assert [a.text for a in fig.layout.annotations] == ["Prior PD-1/PD-L1: no (N=20)", "Prior PD-1/PD-L1: yes (N=17)"]
    assert "hatched" not in fig.layout.title.text
    terms = list(fig.data[0].y)
    for trace in fig.data:
        g = rcc.groups[0] if trace.xaxis in ("x", "x1") else rcc.groups[1]
        grade = int(trace.name.split()[-1])
        counts = (rcc.by_term[rcc.by_term["group"] == g].set_index("term")[f"n_grade{grade}"]
                  .reindex(terms).fillna(0).astype(int))
        assert list(trace.customdata) == list(counts)
        assert np.allclose(trace.x, 100 * counts / sizes[g])
        assert trace.hovertemplate == f"%{{y}}: %{{customdata}} patient(s)<extra>Grade {grade}</extra>"
        assert trace.text is None and trace.marker.pattern.shape is None


@pytest.mark.parametrize("name", ["melanoma_line3", "rcc"])
def test_the_protected_figure_shows_no_small_count(protected, name):
    tox, view, shown = protected[name]
    plain = spec(ae_grade_figure(tox))
    assert figure_small_counts(plain), "the unprotected figure shows small counts (the check can fail)"
    fig = ae_grade_figure(tox, shown=shown)
    assert figure_small_counts(spec(fig)) == []
    hidden = [(trace, i) for trace in fig.data for i, s in enumerate(trace.marker.pattern.shape or ()) if s == "/"]
    assert hidden
    assert len({float(trace.x[i]) for trace, i in hidden}) == 1  # one fixed length, not to scale
    for trace, i in hidden:
        assert trace.text[i] in (f"<{K}", SUPPRESSED) or int(trace.text[i]) >= K
        assert "%" not in trace.customdata[i] and not SMALL.search(trace.customdata[i])
    assert "not to scale" in fig.layout.title.text
    titles = [re.search(r"\(N=([^)]*)\)$", a.text).group(1) for a in fig.layout.annotations]
    assert titles == [escape(shown.text(tox.size_key(g), tox.term_sizes[g])) for g in tox.groups]


def test_band_length_is_half_the_shortest_bar_drawn_to_scale(protected):
    tox, view, shown = protected["rcc"]
    fig = ae_grade_figure(tox, shown=shown)
    to_scale, bands = [], set()
    for trace in fig.data:
        shape = trace.marker.pattern.shape or [""] * len(trace.x)
        to_scale += [float(x) for x, s in zip(trace.x, shape) if s != "/" and x > 0]
        bands |= {float(x) for x, s in zip(trace.x, shape) if s == "/"}
    assert bands == {min(to_scale) / 2}


def test_notes_state_the_totals_as_the_view_shows_them(sample):
    df, ae = sample
    known = df.copy()
    known[schema.MAX_CTCAE] = pd.NA
    known.loc[known.index[:3], schema.MAX_CTCAE] = 2  # 3 known from the patient file only
    ids = set(known[schema.PATIENT_ID].astype(str).iloc[:6])
    tox = toxicity_summary(ae[~ae[schema.AE_PATIENT_ID].isin(ids)], known, by=schema.SOURCE)
    assert [tox.note_text(n) for n in tox.notes] == list(tox.notes)
    view = tox.count_view()
    shown = protect(view, K)
    assert recoverable(view, shown) == {}
    texts = {getattr(n, "kind", ""): tox.note_text(n, shown) for n in tox.notes}
    assert texts["ae_unknown"].startswith(f"Toxicity unknown for {shown.text(tox.total_key('unknown'), 3)} of ")
    assert texts["ae_grade_only"].startswith(f"<{K} patient(s) without AE rows")
    assert not [t for t in texts.values() if re.search(r"(?<![\d.<])[1-4] (?:of|patient)", t)]


def test_the_report_section_renders_through_one_protected_view(sample):
    from il2lib.report import _small_cells
    from il2lib.report._sections import toxicity_section

    df, _ = sample
    loaded = load_adverse_events(SAMPLE_AE, load_cohort(SAMPLE))
    sub = df[(df[schema.DISEASE] == "melanoma") & (df[schema.LINE_OF_IL2] >= 3).to_numpy(dtype=bool)]

    def text(section) -> str:
        return "".join(b for b in section.blocks if isinstance(b, str))

    plain = toxicity_section(sub, loaded, schema.SOURCE)
    with _small_cells.small_cells(K):
        masked = toxicity_section(sub, loaded, schema.SOURCE)
    assert SUPPRESSED not in text(plain) and SUPPRESSED in text(masked)  # complements, not only "<5"
    assert html_small_counts(text(masked)) == []
    (figure,) = masked.figures
    assert figure_small_counts(spec(figure.fig)) == []
    assert [a.text for a in figure.fig.layout.annotations] == ["Community (synthetic) (N=&lt;5)",  # names stay
                                                               f"PROCLAIM (synthetic) (N={SUPPRESSED})"]


def test_toxicity_page_renders_its_counts_through_the_protected_view():
    from support.apptest import open_app, protected_view

    at = open_app({"mask": "1", "disease": "melanoma", "line_of_il2": "3+", "tox_by": "source"},
                  page="pages/5_Toxicity.py")
    cells = [str(v) for table in at.table for v in table.value.to_numpy().ravel()]
    assert any(SUPPRESSED in c for c in cells) and any(f"<{K}" in c.replace("\\", "") for c in cells)
    view, shown = protected_view(at, "toxicity")
    assert shown.secondary and recoverable(view, shown) == {}
