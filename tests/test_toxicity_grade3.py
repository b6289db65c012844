"""Grade >= 3 adverse events: the per-term comparison between groups (numbers against R), the AE figure's
grade >= 3 options (bars, order, "top N of M terms"), and the grade colours under simulated colour-vision deficiency.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import load_cohort, schema
from il2lib.analyses.toxicity import (NEWCOMBE, Grade3Comparison, compare_grade3, risk_difference_newcombe,
                                      toxicity_summary)
from il2lib.errors import InsufficientDataError
from il2lib.figures.palette import GRADE_COLORS
from il2lib.figures.toxicity import ae_grade_figure
from il2lib.privacy.disclosure import NO_SUPPRESSION, protect, recoverable
from il2lib.validation.adverse_events import load_adverse_events
from support.disclosure_scan import small_counts

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-6
YES, NO = "Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"  # the group labels


def _patients() -> pd.DataFrame:
    """Source A: 12 patients with prior PD-1 (Y01-Y12); B: 10 without (N01-N10); C: 8 without (C01-C08)."""
    ids = [f"Y{i:02d}" for i in range(1, 13)] + [f"N{i:02d}" for i in range(1, 11)] + [f"C{i:02d}" for i in range(1, 9)]
    return pd.DataFrame({schema.PATIENT_ID: ids,
                         schema.PRIOR_PD1: pd.array([i.startswith("Y") for i in ids], dtype="boolean"),
                         schema.SOURCE: [{"Y": "A", "N": "B", "C": "C"}[i[0]] for i in ids]})


def _ae() -> pd.DataFrame:
    """Worst grade >= 3: hypotension A 5/12, B 1/10, C 3/8; platelets A 2/12, B 6/10, C 0/8; pneumonitis A 1/12;
    fever at grade 1 in every patient (so every patient has term detail)."""
    rows = [(p, "Fever", 1) for p in _patients()[schema.PATIENT_ID]]
    rows += [("Y01", "Hypotension", 3), ("Y02", "Hypotension", 3), ("Y03", "Hypotension", 3), ("Y04", "Hypotension", 3),
             ("Y05", "Hypotension", 4), ("Y05", "Hypotension", 2), ("Y06", "Hypotension", 2), ("N01", "Hypotension", 3),
             ("N02", "Hypotension", 1), ("C01", "Hypotension", 3), ("C02", "Hypotension", 4), ("C03", "Hypotension", 5)]
    rows += [("Y08", "Platelet count decreased", 4), ("Y09", "Platelet count decreased", 3),
             ("Y10", "Platelet count decreased", 2), ("C04", "Platelet count decreased", 2)]
    rows += [(f"N{i:02d}", "Platelet count decreased", 3 + i % 2) for i in range(3, 9)]
    rows += [("Y07", "Pneumonitis", 3)]
    return pd.DataFrame(rows, columns=[schema.AE_PATIENT_ID, schema.AE_TERM, schema.AE_GRADE])


@pytest.fixture(scope="module")
def two_groups() -> Grade3Comparison:
    patients = _patients()
    return compare_grade3(toxicity_summary(_ae(), patients[patients[schema.SOURCE] != "C"], by=schema.PRIOR_PD1))


# R 4.2.2:
#   newcombe <- function(x1, n1, x2, n2) {  # method 10 of Newcombe (1998), from prop.test's Wilson intervals
#     a <- prop.test(x1, n1, correct = FALSE)$conf.int; b <- prop.test(x2, n2, correct = FALSE)$conf.int
#     p1 <- x1 / n1; p2 <- x2 / n2; d <- p1 - p2
#     c(d, d - sqrt((p1 - a[1])^2 + (b[2] - p2)^2), d + sqrt((a[2] - p1)^2 + (p2 - b[1])^2)) }
#   fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), 2, byrow = TRUE))$p.value
R_TWO_GROUPS = {  # term: (x1/n1 Yes, x2/n2 No, difference, lower, upper, Fisher p)
    "Hypotension": (5, 12, 1, 10, 0.316666666666667, -0.0607159473523673, 0.592975144687239, 0.16187527642636),
    "Pneumonitis": (1, 12, 0, 10, 0.0833333333333333, -0.202520396293714, 0.353879911141117, 1.0),
    "Platelet count decreased": (2, 12, 6, 10, -0.433333333333333, -0.69423334195468, -0.0311863786550762,
                                 0.0743034055727555),
    "Fever": (0, 12, 0, 10, 0.0, -0.277532799862889, 0.242494006655241, 1.0),
}
# R 4.2.2: fisher.test(matrix(c(5, 7, 1, 9, 3, 5), 3, byrow = TRUE))$p.value and
#          fisher.test(matrix(c(2, 10, 6, 4, 0, 8), 3, byrow = TRUE))$p.value (Fisher-Freeman-Halton, 3 x 2)
R_THREE_GROUPS = {"Hypotension": 0.247809941183258, "Platelet count decreased": 0.0106990948969961}
# Newcombe RG. Stat Med 1998;17:873-890, Table II, method 10 (hybrid score), to the 4 decimals printed there.
NEWCOMBE_TABLE_II = [((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090)),
                     ((6, 7, 2, 7), (0.0582, 0.8062)), ((5, 56, 0, 29), (-0.0381, 0.1926)),
                     ((0, 10, 0, 20), (-0.1611, 0.2775)), ((0, 10, 0, 10), (-0.2775, 0.2775)),
                     ((10, 10, 0, 20), (0.6791, 1.0000)), ((10, 10, 0, 10), (0.6075, 1.0000))]


@pytest.mark.parametrize("term", list(R_TWO_GROUPS))
def test_two_groups_match_r(two_groups, term):
    x1, n1, x2, n2, d, lower, upper, p = R_TWO_GROUPS[term]
    counts = two_groups.counts.set_index(["term", "group"])
    assert (counts.loc[(term, YES), "n_grade3plus"], counts.loc[(term, YES), "N"]) == (x1, n1)
    assert (counts.loc[(term, NO), "n_grade3plus"], counts.loc[(term, NO), "N"]) == (x2, n2)
    row = two_groups.tests.set_index("term").loc[term]
    for got, want in ((row["difference_pct"], 100 * d), (row["difference_ci_lower_pct"], 100 * lower),
                      (row["difference_ci_upper_pct"], 100 * upper), (row["p_value"], p)):
        assert got == pytest.approx(want, rel=REL, abs=1e-12)
    assert row["test"] == "Fisher's exact test"


@pytest.mark.parametrize("counts, published", NEWCOMBE_TABLE_II, ids=lambda v: str(v))
def test_newcombe_interval_matches_the_published_table(counts, published):
    _, lower, upper = risk_difference_newcombe(*counts)
    assert (round(lower, 4), round(upper, 4)) == published


def test_more_than_two_groups_get_the_fisher_freeman_halton_p_only():
    comparison = compare_grade3(toxicity_summary(_ae(), _patients(), by=schema.SOURCE))
    assert comparison.groups == ("A", "B", "C") and not comparison.has_difference
    tests = comparison.tests.set_index("term")
    for term, p in R_THREE_GROUPS.items():
        assert tests.loc[term, "p_value"] == pytest.approx(p, rel=REL)
        assert tests.loc[term, "test"] == "Fisher-Freeman-Halton exact test"
    assert tests["difference_pct"].isna().all()
    table = comparison.display()
    assert not any(c.startswith("Difference") for c in table.columns)
    assert table.columns[-1] == "p (Fisher-Freeman-Halton exact test)"
    assert table.loc["Hypotension", "C (N=8): grade >= 3"] == "3 (38%)"


def test_display_and_frame(two_groups):
    table = two_groups.display()
    assert list(table.index) == ["Platelet count decreased", "Hypotension", "Pneumonitis", "Fever"]  # most at >= 3
    # the reference (no prior PD-1) first; the difference is the other group minus the reference: exposed - naive
    assert list(table.columns) == [f"{NO} (N=10): grade >= 3", f"{YES} (N=12): grade >= 3",
                                   f"Difference yes - no, % points (95% CI, {NEWCOMBE})", "p (Fisher's exact test)"]
    assert table.loc["Hypotension"].tolist() == ["1 (10%)", "5 (42%)", "+31.7 (-6.1 to 59.3)", "0.16"]
    assert table.loc["Fever"].tolist() == ["0 (0%)", "0 (0%)", "0.0 (-27.8 to 24.2)", ">0.99"]
    frame = two_groups.to_frame()
    assert len(frame) == 2 * 4 and set(frame["ci_method"]) == {NEWCOMBE}
    assert frame.loc[frame["term"] == "Hypotension", "p_value"].nunique() == 1
    assert any("not adjusted for the 4 terms" in note for note in two_groups.notes)


def test_one_group_or_no_term_detail_cannot_be_compared():
    with pytest.raises(InsufficientDataError, match="two or more groups"):
        compare_grade3(toxicity_summary(_ae(), _patients(), by=None))


@pytest.fixture(scope="module")
def sample():
    cohort = load_cohort(ROOT / "sample_data" / "combined_synthetic.csv")
    return cohort.data, load_adverse_events(ROOT / "sample_data" / "combined_synthetic_adverse_events.csv",
                                            cohort).data


@pytest.mark.parametrize("disease, by", [("rcc", schema.PRIOR_PD1), ("melanoma", schema.SOURCE)])
def test_the_toxicity_view_protects_the_comparison(sample, disease, by):
    df, ae = sample
    tox = toxicity_summary(ae, df[df[schema.DISEASE] == disease], by=by)
    comparison = compare_grade3(tox)
    view, mine = tox.count_view(), comparison.count_view()
    assert all(view.counts[k] == v for k, v in mine.counts.items())  # the same cells as the summary's
    shown = protect(view, 5)
    assert shown.primary and recoverable(view.merge(mine), shown) == {}
    table = comparison.display(shown)
    assert [c for cell in table.to_numpy().ravel() for c in small_counts(cell)] == []
    assert [c for c in table.columns if small_counts(c)] == []
    hidden = table.iloc[:, 0].str.contains("<|masked") | table.iloc[:, 1].str.contains("<|masked")
    assert hidden.any() and (table.loc[hidden, table.columns[-1]] == "–").all()
    assert (table.loc[~hidden, table.columns[-1]] != "–").all()
    pd.testing.assert_frame_equal(comparison.display(NO_SUPPRESSION), comparison.display())


# ---------------------------------------------------------------------------------------------- the figure
@pytest.fixture(scope="module")
def by_prior(sample):
    df, ae = sample
    return toxicity_summary(ae, df, by=schema.PRIOR_PD1)


def _panel_terms(fig) -> list[str]:
    return list(fig.data[0].y)


def test_default_figure_states_the_terms_it_leaves_out(by_prior):
    every = by_prior.terms()
    assert len(every) == 21
    fig = ae_grade_figure(by_prior)  # the default: 15 terms, most frequent at any grade
    assert _panel_terms(fig) == every[:15] and len(fig.data) == 5 * 2
    assert fig.layout.title.text.endswith("at the worst grade · top 15 of 21 terms</span>")
    assert "Pneumonitis" not in _panel_terms(fig)
    report = ae_grade_figure(by_prior, top_n=12)  # the report's call
    assert len(_panel_terms(report)) == 12 and "top 12 of 21 terms" in report.layout.title.text
    everything = ae_grade_figure(by_prior, top_n=None)
    assert _panel_terms(everything) == every and "top" not in everything.layout.title.text
    assert "Pneumonitis" in _panel_terms(everything)


def test_sort_by_grade3(by_prior):
    fig = ae_grade_figure(by_prior, sort_by="grade3", top_n=None)
    terms = _panel_terms(fig)
    totals = by_prior.by_term.groupby("term")[["n_grade3plus", "n_any"]].sum().loc[terms]
    keys = list(zip(totals["n_grade3plus"], totals["n_any"]))
    assert keys == sorted(keys, reverse=True)
    assert terms[0] == "Platelet count decreased"
    top = ae_grade_figure(by_prior, sort_by="grade3", top_n=5)
    assert _panel_terms(top) == terms[:5]
    assert "top 5 of 21 terms, by grade &gt;= 3" in top.layout.title.text
    with pytest.raises(ValueError):
        ae_grade_figure(by_prior, sort_by="worst")


def test_grade3_only_draws_grades_3_to_5_of_the_terms_with_one(by_prior):
    fig = ae_grade_figure(by_prior, grade3_only=True, sort_by="grade3", top_n=None)
    assert [t.name for t in fig.data] == ["Grade 3", "Grade 4", "Grade 5"] * 2
    terms = _panel_terms(fig)
    with_g3 = by_prior.by_term.groupby("term")["n_grade3plus"].sum()
    assert set(terms) == set(with_g3[with_g3 > 0].index) and "Pneumonitis" in terms
    assert "grades 3-5 only" in fig.layout.title.text and "top" not in fig.layout.title.text
    sizes = by_prior.term_sizes
    for j, g in enumerate(by_prior.groups):
        sub = by_prior.by_term[by_prior.by_term["group"] == g].set_index("term").reindex(terms)
        stacked = sum(np.asarray(t.x, float) for t in fig.data[3 * j:3 * j + 3])
        assert np.allclose(stacked, 100 * sub["n_grade3plus"].fillna(0) / sizes[g])
    top = ae_grade_figure(by_prior, grade3_only=True, top_n=4)
    assert top.layout.title.text.endswith("top 4 of 16 terms with a grade &gt;= 3 AE</span>")


def test_figure_options_are_checked():
    tox = toxicity_summary(_ae().assign(**{schema.AE_GRADE: 1}), _patients(), by=schema.PRIOR_PD1)
    with pytest.raises(ValueError, match="grade >= 3"):
        ae_grade_figure(tox, grade3_only=True)
    with pytest.raises(ValueError, match="top_n"):
        ae_grade_figure(tox, top_n=0)


# ------------------------------------------------------------------------------ colours under colour blindness
# Machado GM, Oliveira MM, Fernandes LAF. A physiologically-based model for simulation of color vision deficiency.
# IEEE TVCG 2009;15:1291-1298: the severity-1.0 matrices, applied to linear sRGB.
MACHADO = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _lab(hex_colour: str, vision: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour as seen with ``vision``."""
    srgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(MACHADO[vision] @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def adjacent_delta_e(colours: dict[int, str], vision: str) -> list[float]:
    """CIE76 colour difference between grades 1/2, 2/3, 3/4 and 4/5."""
    labs = [_lab(colours[g], vision) for g in range(1, 6)]
    return [float(np.linalg.norm(a - b)) for a, b in zip(labs, labs[1:])]


def test_the_delta_e_check_sees_the_old_colours_weak_threshold():
    # the Okabe-Ito yellow, orange, vermillion, purple, black of before: grade 2/3 only 18 under deuteranopia
    before = {1: "#F0E442", 2: "#E69F00", 3: "#D55E00", 4: "#CC79A7", 5: "#000000"}
    assert [round(d) for d in adjacent_delta_e(before, "deuteranopia")[:2]] == [17, 18]


@pytest.mark.parametrize("vision", list(MACHADO))
def test_grade_colours_darken_grade_by_grade_and_grade3_stands_out(vision):
    lightness = [_lab(GRADE_COLORS[g], vision)[0] for g in range(1, 6)]
    assert lightness == sorted(lightness, reverse=True)
    steps = adjacent_delta_e(GRADE_COLORS, vision)
    assert min(steps) >= 25, steps  # every grade told from the next
    assert steps[1] == max(steps) and steps[1] >= 70, steps  # grade 2 -> 3, the threshold, the largest step


def test_no_colour_is_named_twice():
    assert len(set(GRADE_COLORS.values())) == 5 and all(re.fullmatch(r"#[0-9A-F]{6}", c)
                                                        for c in GRADE_COLORS.values())
