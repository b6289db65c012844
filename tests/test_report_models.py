"""The report's "Models and further comparisons" section (il2lib/report/_models.py) on the sample."""
from __future__ import annotations

from il2lib import schema
from il2lib.report._html import Figure
from il2lib.report._models import models_section
from support.combined_sample import sample_data


def test_section_has_every_model_and_comparison_block():
    s = models_section(sample_data(), "os", schema.DISEASE, "subtitle")
    html = "\n".join(b for b in s.blocks if isinstance(b, str))
    assert sum(isinstance(b, Figure) for b in s.blocks) == 1  # the forest plot
    for caption in ("Multivariable Cox model", "Pairwise log-rank tests by line of IL-2",
                    "Milestone survival and RMST differences", "Cumulative incidence (competing risks)",
                    "Objective response: our cohort vs published", "our cohort vs published"):
        assert caption in html, caption
    assert "Disease: RCC vs Melanoma" in html and "Gray&#x27;s test" in html or "Gray's test" in html
    assert "from the end of PD-1/PD-L1 therapy" in html and "57 patient(s) enter the risk set late" in html
    assert "9/40" in html and "4/17" in html and "61 months" in html
    assert s.methods and "Aalen-Johansen" in s.methods[0]


def test_section_notes_instead_of_failing():
    df = sample_data()
    df = df[df[schema.DISEASE] == schema.MELANOMA].head(6)
    s = models_section(df, "os", None, "subtitle")
    html = "\n".join(b for b in s.blocks if isinstance(b, str))
    assert "not computed" in html or "could not be fitted" in html
