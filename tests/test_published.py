"""Published-result overlay: only [paper]-tagged abstract numbers are stored (values checked against the
abstract wording in docs/domain.md, copied here), CIs are computed from published counts and labelled
so (Clopper-Pearson vs R binom.test in tests/reference/tests.json), and the overlays line up."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from il2lib import schema
from il2lib.analyses.published import (CITATIONS, DERIVED_LABEL, PAPER_TAG, PUBLISHED, median_overlay,
                                       published_medians, published_response, published_values, response_overlay)
from il2lib.analyses.response import response_rates
from support.combined_sample import sample_data

REF = Path(__file__).parent / "reference"
BINOM = {(b["x"], b["n"]): b for b in json.loads((REF / "tests.json").read_text())["binom_test"]}

#: (study, quantity, disease, group) -> text as printed in the abstracts (docs/domain.md section 1, [paper] rows)
ABSTRACT = {
    ("buchbinder2019", "n", "melanoma", None): "40", ("buchbinder2019", "n", "rcc", None): "17",
    ("buchbinder2019", "n", None, None): "57",
    ("buchbinder2019", "cr", "melanoma", None): "4", ("buchbinder2019", "cr", "rcc", None): "2",
    ("buchbinder2019", "pr", "melanoma", None): "5", ("buchbinder2019", "pr", "rcc", None): "2",
    ("buchbinder2019", "orr", "melanoma", None): "22.5%", ("buchbinder2019", "orr", "rcc", None): "24%",
    ("springerplus2015", "n", None, None): "50",
    ("springerplus2015", "median_os", "melanoma", "Clinical benefit"): "61 months",
    ("springerplus2015", "median_os", "melanoma", "No clinical benefit"): "17 months",
    ("springerplus2015", "median_os", "rcc", "Clinical benefit"): "48 months",
    ("springerplus2015", "median_os", "rcc", "No clinical benefit"): "17 months",
    ("springerplus2015", "os_p", "melanoma", None): "p < 0.001",
    ("springerplus2015", "cb_rate", None, "First-line IL-2"): "25% (9/36)",
    ("springerplus2015", "cb_responders", None, "First-line IL-2"): "9",
    ("springerplus2015", "cb_n", None, "First-line IL-2"): "36",
    ("springerplus2015", "treatment_related_deaths", None, None): "0",
}


def test_only_paper_values_with_citations():
    assert {(v.study, v.quantity, v.disease, v.group): v.text for v in PUBLISHED} == ABSTRACT
    assert all(v.tag == PAPER_TAG and v.study in CITATIONS for v in PUBLISHED)
    table = published_values()
    assert len(table) == len(PUBLISHED) and table["citation"].notna().all()


def test_assumed_and_external_values_are_absent():
    # [derived] totals (CR 6, PR 7, ORR 22.8%), [assumption] SD/PD/NE splits, [external] PROCLAIM
    # contemporary cohort (median OS 19.6 / 41 months; CR 5%, PR 10%) must never be stored
    texts = {v.text for v in PUBLISHED}
    assert not texts & {"6", "7", "13", "22.8%", "19.6", "41", "5%", "10%", "23.5%", "30", "20", "8", "21"}
    assert not any(v.quantity in {"sd", "pd", "ne", "dor"} for v in PUBLISHED)


def test_published_response_cis_are_computed_and_labelled():
    pub = published_response()
    mel = pub[(pub.outcome == "orr") & (pub.disease == schema.MELANOMA)].iloc[0]
    assert (mel.responders, mel.n, mel.published_text) == (9, 40, "22.5%")
    assert (mel.ci_lower, mel.ci_upper) == (pytest.approx(BINOM[(9, 40)]["ci_lower"], rel=1e-9),
                                            pytest.approx(BINOM[(9, 40)]["ci_upper"], rel=1e-9))
    rcc = pub[(pub.outcome == "orr") & (pub.disease == schema.RCC)].iloc[0]
    assert (rcc.responders, rcc.n, rcc.published_text) == (4, 17, "24%")
    assert rcc.ci_upper == pytest.approx(BINOM[(4, 17)]["ci_upper"], rel=1e-9)
    cb = pub[pub.outcome == "cbr"].iloc[0]
    assert cb.ci_lower == pytest.approx(BINOM[(9, 36)]["ci_lower"], rel=1e-9)
    assert pub.ci_note.str.contains(DERIVED_LABEL).all()


def test_response_overlay_beside_our_cohort():
    df = sample_data()
    proclaim = df[df[schema.PRIOR_PD1].astype(bool)]
    rates = response_rates(proclaim, schema.DISEASE)
    over = response_overlay(rates)
    assert list(over.source) == ["Our cohort", "PROCLAIM post-PD-1 series"] * 2
    ours = over[over.source == "Our cohort"].set_index("group")
    # the synthetic PROCLAIM cohort is calibrated to the paper: 9/40 and 4/17
    assert (ours.at["Melanoma", "responders"], ours.at["Melanoma", "n"]) == (9, 40)
    assert (ours.at["RCC", "responders"], ours.at["RCC", "n"]) == (4, 17)
    assert over[over.source != "Our cohort"].note.str.contains("computed from published counts").all()
    assert list(response_overlay(response_rates(df, None)).source) == ["PROCLAIM post-PD-1 series"] * 2


def test_median_overlay_on_community_sample():
    df = sample_data()
    community = df[~df[schema.PRIOR_PD1].astype(bool)]
    table = median_overlay(community)
    assert list(table.published_median) == [61, 17, 48, 17]
    assert table.our_median.to_numpy() == pytest.approx([61, 17, 48, 17], abs=0.1)
    assert len(published_medians()) == 4
