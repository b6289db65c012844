"""CohortFilter: query-parameter round trip, description, apply_filter; the clinical-benefit rule."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2lib import schema
from il2lib.cohort import LINE_GROUPS, CohortFilter, apply_filter, line_group, with_clinical_benefit


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        schema.DISEASE: ["melanoma", "rcc", "melanoma", "rcc", "melanoma"],
        schema.PRIOR_PD1: pd.array([True, False, None, True, False], dtype="boolean"),
        schema.PRIOR_PD1_AGENT: ["nivolumab", None, None, "atezolizumab", None],
        schema.LINE_OF_IL2: pd.array([1, 2, 3, 5, None], dtype="Int64"),
        schema.SEX: ["M", "F", "F", None, "M"],
        schema.AGE: [40.0, 70.0, None, 55.0, 39.9],
        schema.ECOG: pd.array([0, 1, 0, None, 2], dtype="Int64"),
        schema.SOURCE: ["PROCLAIM", "community", "PROCLAIM", "PROCLAIM", "community"],
        schema.BRAIN_METS: pd.array([True, False, None, True, False], dtype="boolean"),
        "site_note": ["a", "b", None, "a", "c"],
    }, index=[10, 11, 12, 13, 14])


def test_line_group():
    assert [line_group(v) for v in (1, 2, 3, 7, 2.0, None, pd.NA, float("nan"), 0)] == \
        ["1", "2", "3+", "3+", "2", None, None, None, None]
    assert LINE_GROUPS == ("1", "2", "3+")


def test_empty_filter_keeps_everything(frame):
    f = CohortFilter()
    assert f.is_empty() and f.describe() == "All patients" and f.to_query_params() == {}
    pd.testing.assert_frame_equal(apply_filter(frame, f), frame)


@pytest.mark.parametrize("f, expected", [
    (CohortFilter(disease=("melanoma",)), [10, 12, 14]),
    (CohortFilter(prior_pd1_pdl1=(True,)), [10, 13]),
    (CohortFilter(prior_pd1_pdl1=(False,)), [11, 14]),
    (CohortFilter(prior_pd1_agent=("atezolizumab",)), [13]),
    (CohortFilter(line_of_il2=("3+",)), [12, 13]),
    (CohortFilter(line_of_il2=("1", "2")), [10, 11]),
    (CohortFilter(sex=("F",)), [11, 12]),
    (CohortFilter(age_range=(40, 70)), [10, 11, 13]),
    (CohortFilter(ecog=(0,)), [10, 12]),
    (CohortFilter(source=("PROCLAIM",)), [10, 12, 13]),
    (CohortFilter(extra=((schema.BRAIN_METS, ("yes",)),)), [10, 13]),
    (CohortFilter(extra=(("site_note", ("a", "c")),)), [10, 13, 14]),
    (CohortFilter(disease=("melanoma",), prior_pd1_pdl1=(False,)), [14]),
    (CohortFilter(extra=(("not_a_column", ("x",)),)), []),
])
def test_apply_filter(frame, f, expected):
    out = apply_filter(frame, f)
    assert list(out.index) == expected
    out.loc[out.index, schema.SEX] = "changed"       # a copy: the input is untouched
    assert "changed" not in set(frame[schema.SEX].dropna())


def test_describe():
    f = CohortFilter(disease=("melanoma",), prior_pd1_pdl1=(True,), line_of_il2=("1",))
    assert f.describe() == "Melanoma · prior PD-1/PD-L1: yes · line 1"
    assert CohortFilter(age_range=(40, 70), ecog=(0, 1)).describe() == "age 40–70 · ECOG 0, 1"


def test_query_params_form():
    f = CohortFilter(disease=("rcc",), prior_pd1_pdl1=(False,), age_range=(40, 70), ecog=(0, 1),
                     extra=((schema.BRAF, ("mutant",)), ("site_note", ("a",))))
    assert f.to_query_params() == {"disease": "rcc", "prior_pd1_pdl1": "no", "age_at_il2": "40-70", "ecog": "0,1",
                                   "braf_v600": "mutant", "col.site_note": "a"}


def test_from_query_params_normalises_and_reports_bad_values():
    f, problems = CohortFilter.from_query_params({"disease": "Melanoma,lung", "prior_pd1_pdl1": "YES",
                                                  "line_of_il2": "1,4", "ecog": "7", "age_at_il2": "old",
                                                  "sex": "female", "page": "survival"})
    assert f == CohortFilter(disease=("melanoma",), prior_pd1_pdl1=(True,), line_of_il2=("1", "3+"), sex=("F",))
    assert len(problems) == 3
    assert any("'lung'" in p for p in problems) and any("'7'" in p for p in problems)


_text = st.text(alphabet="abcxyz", min_size=1, max_size=5)
filters = st.builds(
    CohortFilter,
    disease=st.lists(st.sampled_from(schema.DISEASES), unique=True).map(tuple),
    prior_pd1_pdl1=st.lists(st.booleans(), unique=True).map(tuple),
    prior_pd1_agent=st.lists(st.sampled_from(schema.PD1_AGENTS), unique=True).map(tuple),
    line_of_il2=st.lists(st.sampled_from(LINE_GROUPS), unique=True).map(tuple),
    sex=st.lists(st.sampled_from(("M", "F")), unique=True).map(tuple),
    age_range=st.none() | st.tuples(st.integers(18, 60), st.integers(60, 100)).map(lambda t: (float(t[0]),
                                                                                              float(t[1]))),
    ecog=st.lists(st.integers(0, 4), unique=True).map(tuple),
    source=st.lists(_text, unique=True).map(tuple),
    extra=st.lists(st.tuples(st.sampled_from([schema.BRAF, schema.IMDC_RISK, "site_note"]),
                             st.lists(_text, min_size=1, unique=True).map(tuple)),
                   unique_by=lambda kv: kv[0]).map(lambda kv: tuple(sorted(kv))),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(filters)
def test_query_param_round_trip(f):
    back, problems = CohortFilter.from_query_params(f.to_query_params())
    assert problems == [] and back == f and hash(back) == hash(f)


def test_with_clinical_benefit():
    df = pd.DataFrame({schema.BOR: ["CR", "PR", "SD", "SD", "SD", "PD", "NE"],
                       schema.SD_DURATION: [None, None, 7.0, 3.0, None, None, 12.0]})
    assert with_clinical_benefit(df)[schema.CLINICAL_BENEFIT].tolist() == [True, True, True, False, pd.NA, False,
                                                                            False]
    assert with_clinical_benefit(df, 3)[schema.CLINICAL_BENEFIT].tolist()[2:4] == [True, True]
    assert with_clinical_benefit(df, 0)[schema.CLINICAL_BENEFIT].tolist() == [True] * 5 + [False, False]
    assert str(with_clinical_benefit(df)[schema.CLINICAL_BENEFIT].dtype) == "boolean"
    assert schema.CLINICAL_BENEFIT not in df.columns
    with pytest.raises(ValueError):
        with_clinical_benefit(df, -1)
