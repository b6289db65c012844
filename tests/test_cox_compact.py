"""CoxResult.compact(): same reported numbers, no per-patient arrays, zph() refuses clearly."""
import pickle

import numpy as np
import pandas as pd
import pytest

from il2lib.survival import cox_ph


def test_compact_keeps_numbers_and_drops_fit_arrays():
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({"time": rng.exponential(10, n).round(1), "event": rng.random(n) < 0.7,
                       "group": rng.choice(["a", "b"], n)})
    full = cox_ph(df, "time", "event", ["group"])
    small = full.compact()
    pd.testing.assert_frame_equal(small.summary, full.summary)
    assert small.concordance_counts == full.concordance_counts and small.loglik == full.loglik
    assert len(pickle.dumps(small)) < len(pickle.dumps(full)) / 10
    full.zph()
    with pytest.raises(ValueError, match="compact"):
        small.zph()
