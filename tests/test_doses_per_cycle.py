"""IL-2 doses per cycle (biomarker "doses per cycle", review F14): a cycle with 0 doses was not given, so it is
left out of the mean instead of averaging in a 0. HD IL-2 (docs/domain.md regimen): up to 14 doses per cycle, 2 cycles
per course; a patient who stopped after cycle 1 with 12 doses received 12 doses per cycle given, not 6."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison, with_mean_doses


def test_a_cycle_with_zero_doses_is_not_given():
    out = with_mean_doses(pd.DataFrame({schema.DOSES_C1: [12, 10, 12, 0, 0, np.nan],
                                        schema.DOSES_C2: [0, 8, np.nan, 9, 0, 0]}))
    mean = out[schema.MEAN_DOSES_PER_CYCLE]
    # 12 and 0 -> 12 (cycle 2 not given); 10 and 8 -> 9; 12 and blank -> 12; 0 and 9 -> 9; no cycle given -> unknown
    assert mean.tolist()[:4] == [12.0, 9.0, 12.0, 9.0]
    assert np.isnan(mean.iloc[4]) and np.isnan(mean.iloc[5])


def test_biomarker_table_says_which_patients_had_a_cycle_not_given():
    """CB patients C0-C3 got 10-13 doses in each cycle; no-CB N0-N3 got 10-13 in cycle 1 and 0 in cycle 2 (stopped
    after cycle 1). Per cycle given, both groups have 10, 11, 12, 13: median 11.5 each, and R
    `wilcox.test(c(10,11,12,13), c(10,11,12,13))` gives W = 8, p = 1 (the old mean, 5.75 vs 11.5, made a difference)."""
    doses = [10, 11, 12, 13]
    df = pd.DataFrame({schema.PATIENT_ID: [f"C{i}" for i in range(4)] + [f"N{i}" for i in range(4)],
                       schema.DISEASE: schema.MELANOMA, schema.BOR: ["PR"] * 4 + ["PD"] * 4,
                       schema.SD_DURATION: np.nan, schema.DOSES_C1: doses * 2, schema.DOSES_C2: doses + [0] * 4})
    res = biomarker_comparison(df, variables=[schema.MEAN_DOSES_PER_CYCLE])
    row = res.rows.set_index("variable").loc[schema.MEAN_DOSES_PER_CYCLE]
    assert row["cb_median"] == 11.5 and row["no_cb_median"] == 11.5
    assert row["pvalue"] == pytest.approx(1.0)
    note = next(n for n in res.notes if getattr(n, "kind", "") == "doses_cycle_not_given")
    assert note.count == 4 and note.patient_ids == ("N0", "N1", "N2", "N3")
    assert "0 doses" in note and "not given" in note
