"""Wording that depends on the data on the pages this loading path feeds: the biomarker warning says "small
groups" only when a compared group is small; Table 1's group sizes carry thousands separators."""
from __future__ import annotations

import pandas as pd
from test_app_data import upload

from il2lib.analyses.biomarkers import UNADJUSTED_NOTE
from support.apptest import SAMPLE, open_app, rerun, texts


def biomarker_warning(at) -> str:
    found = [w for w in texts(at, "warning") if w.startswith("Unadjusted comparisons of many variables")]
    assert len(found) == 1, texts(at, "warning")
    return found[0]


def sample_times(k: int) -> pd.DataFrame:
    """The combined sample ``k`` times over, each copy with its own patient ids."""
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    return pd.concat([sample.assign(patient_id=sample["patient_id"] + f"-{i}") for i in range(k)], ignore_index=True)


def test_biomarker_warning_says_small_groups_only_when_a_group_is_small():
    at = open_app(page="pages/4_Biomarkers.py")
    warning = biomarker_warning(at)
    assert "in small groups (the smallest has " in warning
    large = upload(open_app(), sample_times(12))
    large.switch_page("pages/4_Biomarkers.py")
    rerun(large)
    warning = biomarker_warning(large)
    assert "small groups" not in warning
    assert warning == UNADJUSTED_NOTE.replace(" in small groups", "")


def test_table1_group_sizes_have_thousands_separators():
    at = upload(open_app(), sample_times(15))
    at.switch_page("pages/1_Cohort.py")
    rerun(at)
    values = {m.label: m.value for m in at.metric}
    assert values == {"Overall": "1,605", "Melanoma": "1,050", "RCC": "555"}
