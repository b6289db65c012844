"""REDCap exports of the bundled synthetic sample (raw with the dictionary, labels, longitudinal with the
repeating AE and tumour-assessment instruments and two data access groups) load into the same analysable cohort
and the same numbers as the CSV sample."""
from __future__ import annotations

import pandas as pd
import pytest

from il2lib import load_adverse_events, load_cohort, load_redcap, schema
from il2lib.analyses.response import response_rates
from il2lib.analyses.tumour_burden import load_tumour_assessments
from il2lib.redcap.template import DICTIONARY_FILE
from il2lib.sample.files import DEFAULT_OUTDIR
from il2lib.sample.redcap import LABELS, LONGITUDINAL, RAW, REDCAP_OUTDIR, redcap_sample_files

DICTIONARY = REDCAP_OUTDIR / DICTIONARY_FILE
EXPORTS = {"raw with dictionary": (RAW, DICTIONARY), "raw without dictionary": (RAW, None),
           "labels": (LABELS, None), "longitudinal with DAGs": (LONGITUDINAL, DICTIONARY)}


@pytest.fixture(scope="module")
def csv_sample():
    cohort = load_cohort(DEFAULT_OUTDIR / "combined_synthetic.csv")
    return (cohort, load_adverse_events(DEFAULT_OUTDIR / "combined_synthetic_adverse_events.csv", cohort),
            load_tumour_assessments(DEFAULT_OUTDIR / "combined_synthetic_tumour_assessments.csv", cohort))


@pytest.fixture(scope="module", params=list(EXPORTS))
def loaded(request):
    name, dictionary = EXPORTS[request.param]
    return request.param, load_redcap(REDCAP_OUTDIR / name, dictionary)


def test_committed_exports_are_the_generator_output():
    for name, data in redcap_sample_files().items():
        assert (REDCAP_OUTDIR / name).read_bytes() == data, name


def _rates(cohort):
    """ORR, CBR and DCR by disease: responders, n, rate and CI of each."""
    rates = response_rates(cohort.data, by=schema.DISEASE).rates
    return rates.set_index(list(rates.columns[:2]))[["responders", "n", "rate", "ci_lower", "ci_upper"]]


def test_export_gives_the_csv_cohort_and_numbers(loaded, csv_sample):
    label, result = loaded
    cohort, ae, scans = csv_sample
    rc = result.cohort
    assert rc.report.ok and rc.report.n_analysed == cohort.report.n_analysed == 107
    assert not [f for f in result.findings if f.level != "warning"]
    a = cohort.data.drop(columns=[schema.FILE_ROW])
    b = rc.data.drop(columns=[schema.FILE_ROW])
    assert list(a.columns) == list(b.columns)
    same = [c for c in a.columns if c != schema.SOURCE]
    pd.testing.assert_frame_equal(a[same], b[same])
    pd.testing.assert_frame_equal(_rates(rc), _rates(cohort))
    assert rc.data[schema.DISEASE].value_counts().to_dict() == {schema.MELANOMA: 70, schema.RCC: 37}
    assert result.adverse_events is not None
    assert result.adverse_events.report.n_analysed == ae.report.n_analysed == len(ae.data) == 982
    pd.testing.assert_frame_equal(ae.data.drop(columns=[schema.FILE_ROW]),
                                  result.adverse_events.data.drop(columns=[schema.FILE_ROW]))
    assert result.assessments is not None and result.assessments.report.n_analysed == scans.report.n_analysed > 0
    pd.testing.assert_frame_equal(scans.data.drop(columns=[schema.FILE_ROW]),
                                  result.assessments.data.drop(columns=[schema.FILE_ROW]))
    if label == "longitudinal with DAGs":  # the data access group is the source
        assert result.longitudinal
        assert rc.data[schema.SOURCE].value_counts().to_dict() == {"proclaim": 57, "community": 50}
    else:
        pd.testing.assert_series_equal(a[schema.SOURCE], b[schema.SOURCE])


def test_each_export_row_is_named_by_its_export_line(loaded):
    label, result = loaded
    rows = result.adverse_events.data[schema.FILE_ROW]
    assert rows.is_monotonic_increasing and rows.min() > result.cohort.data[schema.FILE_ROW].min()


def test_public_load_cohort_recognises_a_redcap_export(loaded):
    """``il2lib.load_cohort`` on a REDCap export (no dictionary given) is its REDCap patient cohort, not a CSV
    read of its coded columns."""
    label, result = loaded
    name, dictionary = EXPORTS[label]
    direct = load_cohort(REDCAP_OUTDIR / name, dictionary=dictionary)
    pd.testing.assert_frame_equal(direct.data, result.cohort.data)
