"""The clinical benefit the loader derives is :func:`il2lib.cohort.clinical_benefit` of the derived table as it is
defined (RECIST 1.1 rules applied again, the SD duration computed again): the derivation hands over the counted
BOR codes and SD durations it has already, and must give the same column for every threshold."""
from __future__ import annotations

import pandas as pd
import pytest
from test_derivation_equivalence import _messy_registry

from il2lib import schema
from il2lib.cohort import clinical_benefit
from il2lib.validation.derive import derive


@pytest.mark.parametrize("cb_sd_months", [0, 3, 6])
@pytest.mark.parametrize("all_columns", [True, False], ids=["every-column", "required-columns-only"])
def test_derived_clinical_benefit_is_the_rule_applied_again(cb_sd_months, all_columns):
    frame = _messy_registry(21 if all_columns else 22, all_columns=all_columns)
    derived, _ = derive(frame, cb_sd_months, window_days=5)
    plain = clinical_benefit(derived.drop(columns=[schema.CLINICAL_BENEFIT]), cb_sd_months, 5)
    pd.testing.assert_series_equal(derived[schema.CLINICAL_BENEFIT], plain, check_names=False)
    benefit = derived[schema.CLINICAL_BENEFIT]
    assert benefit.isna().any() and benefit.eq(True).any() and benefit.eq(False).any()
    if cb_sd_months:  # SD patients on both sides of the threshold, and SD without a duration
        sd = derived[schema.BOR].eq("SD").to_numpy()
        assert set(benefit[sd].astype(object).fillna("na")) == {True, False, "na"}
