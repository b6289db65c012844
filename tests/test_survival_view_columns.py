"""The Survival page reads only the columns its view needs: the filtered rows are selected once and only those
columns are copied; the view, its group choices and comparisons equal those computed from every column, and the
sidebar count needs no copy."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from app_ui.filters import FILTER_MEMO, FilteredRows, filter_options
from app_ui.survival_view import (GROUP_COLUMN, RESPONSE_GROUPINGS, compute, group_choices, population_labels,
                                  view_columns)
from il2lib import schema
from il2lib.analyses._grouping import group_categories, group_labels, level_order
from il2lib.cohort import CohortFilter, apply_filter, filter_positions
from il2lib.survival.inputs import survival_input
from support.apptest import open_app, rerun, sample_data, sidebar_count, widget

GROUPINGS = (None, schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SOURCE, schema.OBJECTIVE_RESPONSE,
             schema.CLINICAL_BENEFIT, schema.SEX, schema.ECOG)
MELANOMA_NAIVE = CohortFilter(disease=(schema.MELANOMA,), prior_pd1_pdl1=(False,))


@pytest.fixture(scope="module")
def rows():
    data = sample_data()
    return FilteredRows(data, filter_positions(data, CohortFilter(prior_pd1_pdl1=(True,))))


def test_filtered_columns_equal_those_columns_of_the_filtered_frame(rows):
    data = rows.source
    names = [schema.OS_MONTHS, schema.DISEASE, "not_a_column", schema.OS_EVENT]
    subset = rows.columns(names)
    assert rows._frame is None  # only the asked columns were copied
    expected = apply_filter(data, CohortFilter(prior_pd1_pdl1=(True,)))
    pd.testing.assert_frame_equal(subset, expected[[schema.OS_MONTHS, schema.DISEASE, schema.OS_EVENT]])
    assert rows.columns(names) is subset and len(rows) == len(expected) < len(data)
    pd.testing.assert_frame_equal(rows.frame(), expected)
    unfiltered = FilteredRows(data)
    assert unfiltered.frame() is data and len(unfiltered) == len(data)
    pd.testing.assert_frame_equal(unfiltered.columns(names), data[[schema.OS_MONTHS, schema.DISEASE, schema.OS_EVENT]])


FILTERS = (CohortFilter(disease=(schema.RCC,)), CohortFilter(prior_pd1_pdl1=(True,)), MELANOMA_NAIVE,
           CohortFilter(prior_pd1_agent=("nivolumab", "avelumab")), CohortFilter(line_of_il2=("3+", "1")),
           CohortFilter(sex=("F",), ecog=(0, 2)), CohortFilter(age_range=(45.0, 62.0), source=("Community (synthetic)",)),
           CohortFilter(extra=((schema.BRAF, ("mutant",)), (schema.RESPONSE_CONFIRMED, ("yes",)))),
           CohortFilter(extra=((schema.DOSES_C2, ("14",)),)), CohortFilter(extra=(("not_a_column", ("x",)),)),
           CohortFilter(disease=(schema.RCC,), line_of_il2=("1", "2"), extra=((schema.IMDC_RISK, ("poor", "favorable")),)))


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: f.describe())
def test_a_filter_decided_per_distinct_value_keeps_the_rows_it_keeps_per_row(f):
    data = sample_data()
    odd = data.assign(**{schema.SEX: data[schema.SEX].where(data.index % 7 != 0, None),
                         schema.ECOG: data[schema.ECOG].where(data.index % 5 != 0)})
    for frame in (data, odd):
        positions = filter_positions(frame, f, lambda column: pd.factorize(frame[column]))
        expected = filter_positions(frame, f)
        assert np.array_equal(positions, expected) and np.array_equal(positions, np.flatnonzero(
            frame.index.isin(apply_filter(frame, f).index)))
    assert (len(filter_positions(data, f)) == 0) == (f == FILTERS[-2])  # only the unknown column keeps no row


def test_group_categories_hold_the_group_labels_and_their_order():
    data = sample_data()
    odd = pd.DataFrame({schema.SEX: ["F", " F", None, "M", "F "], schema.DISEASE: ["rcc", None, "melanoma", "rcc", None],
                        schema.ECOG: pd.array([1, None, 0, 2, 1], dtype="Int64"),
                        schema.PRIOR_PD1: pd.array([None, True, False, True, None], dtype="boolean")})
    for frame in (data, odd, data.iloc[:0]):
        for by in (None, *GROUPINGS, schema.PRIOR_PD1_AGENT, schema.HISTOLOGY):
            if by is not None and by not in frame:
                continue
            labels, categories = group_labels(frame, by), group_categories(frame, by)
            assert categories.astype(object).where(categories.notna(), None).tolist() == labels.tolist(), by
            assert list(categories.cat.categories) == list(pd.unique(labels.dropna())), by  # first appearance
            for order in (None, ["no"], ["3+", "2"], ["RCC"]):
                assert level_order(by, categories, order) == level_order(by, labels, order), (by, order)


def _same(a, b) -> bool:
    """Every field pickles to the same bytes (a whole view may share an object between fields in one and not
    the other)."""
    return all(pickle.dumps(getattr(a, f.name)) == pickle.dumps(getattr(b, f.name)) for f in dataclasses.fields(a))


@pytest.mark.parametrize("endpoint", list(schema.ENDPOINTS))
def test_survival_view_from_its_columns_equals_the_view_from_every_column(rows, endpoint):
    full = rows.frame()
    checked = 0
    for by in GROUPINGS:
        for landmark in (None, 6.0):
            columns = view_columns(endpoint, by, landmark)
            if columns is None:
                assert landmark is not None and by in RESPONSE_GROUPINGS
                continue
            subset = FilteredRows(rows.source, rows.positions).columns(columns)
            assert len(subset.columns) < len(full.columns)
            labels = population_labels(subset, endpoint, by) if by is not None else None
            choices = group_choices(subset, endpoint, by, landmark, labels=(lambda: labels))
            assert choices == group_choices(full, endpoint, by, landmark)
            for order in (None, tuple(reversed(choices)) or None):
                args = (endpoint, by, "log-log", landmark, 6.0, True, 7.0, order)
                view = compute(subset, *args, labels=labels)
                assert _same(view, compute(full, *args)), (endpoint, by, landmark, order)
                if by is not None:
                    pd.testing.assert_frame_equal(survival_input(subset, endpoint, by, order, labels),
                                                  survival_input(full, endpoint, by, order))
                checked += 1
    assert checked >= 2 * len(GROUPINGS)


def test_survival_page_copies_only_its_columns_and_counts_without_a_copy():
    at = open_app(page="pages/3_Survival.py")
    widget(at, "multiselect", "w_disease").set_value([schema.MELANOMA])
    widget(at, "multiselect", "w_prior").set_value(["no"])
    rerun(at)
    expected = apply_filter(sample_data(), MELANOMA_NAIVE)
    assert sidebar_count(at) == f"n = {len(expected)} of {len(sample_data())} patients"
    memo = at.session_state[FILTER_MEMO]
    rows = [r for key, r in memo.items() if key[-1] == MELANOMA_NAIVE]
    assert len(rows) == 1 and rows[0]._frame is None  # the page never asked for every column
    assert np.array_equal(rows[0].source.index[rows[0].positions], expected.index)
    copied = {name for subset in rows[0]._subsets.values() for name in subset.columns}
    assert copied <= set(view_columns("os", schema.DISEASE, None)) and schema.DISEASE in copied
    assert not any(GROUP_COLUMN in s for s in rows[0]._subsets.values())
    # a page reading every column gets them, filtered the same way
    at.switch_page("pages/1_Cohort.py").run()
    assert not at.exception and sidebar_count(at) == f"n = {len(expected)} of {len(sample_data())} patients"
    rows = [r for key, r in at.session_state[FILTER_MEMO].items() if key[-1] == MELANOMA_NAIVE]
    pd.testing.assert_frame_equal(rows[0].frame(), expected)


def test_filter_options_list_the_values_present_and_skip_missing_ones():
    data = sample_data()
    odd = data.assign(**{schema.ECOG: data[schema.ECOG].where(data.index % 5 != 0),
                         schema.LINE_OF_IL2: data[schema.LINE_OF_IL2].where(data[schema.LINE_OF_IL2] < 3),
                         schema.SEX: data[schema.SEX].where(data.index % 3 != 0, None),
                         schema.SOURCE: data[schema.SOURCE].where(data.index % 2 == 0, float("nan")),
                         schema.BRAF: data[schema.BRAF].where(data.index % 4 != 0, " Mutant "),
                         schema.BRAIN_METS: data[schema.BRAIN_METS].where(data.index % 6 != 0)})
    for frame in (data, odd):
        opts = filter_options.shared.__wrapped__("test", "fingerprint", frame)
        assert opts.ecog == tuple(sorted(int(e) for e in frame[schema.ECOG].dropna().unique()))
        assert opts.line == ("1", "2") + (("3+",) if frame is data else ())
        assert opts.sex == ("F", "M") and opts.disease == schema.DISEASES
        assert opts.source == tuple(sorted(frame[schema.SOURCE].dropna().unique()))
        assert opts.age == (float(np.floor(frame[schema.AGE].min())), float(np.ceil(frame[schema.AGE].max())))
        extra = dict(opts.extra)
        assert extra[schema.BRAIN_METS] == ("yes", "no")
        assert extra[schema.BRAF] == tuple(sorted({schema.norm(v) for v in frame[schema.BRAF].dropna()}))
        assert schema.PATIENT_ID not in extra and schema.DISEASE not in extra
