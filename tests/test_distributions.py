"""il2lib.stats.distributions equals scipy.stats exactly, and the survival/stats modules load without scipy.stats."""
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import chi2, norm

from il2lib.stats.distributions import chi2_sf, norm_ppf, norm_sf

X = [-1.0, 0.0, 1e-12, 0.5, 3.0, 40.0, 1e3, np.nan, np.inf]


def same(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("df", [0, 1, 2, 3.5, 10])
def test_chi2_sf_is_scipys(df):
    assert all(same(chi2_sf(x, df), chi2.sf(x, df)) for x in X)
    assert same(chi2_sf(np.array(X), df), chi2.sf(np.array(X), df))


def test_normal_tails_are_scipys():
    q = np.array([0.0, 1e-10, 0.025, 0.5, 0.9, 0.975, 0.995, 1.0, 1.5, np.nan])
    assert same(norm_ppf(q), norm.ppf(q))
    assert all(same(norm_sf(x), norm.sf(x)) for x in X + [-np.inf, -5.0])
    assert same(norm_sf(np.array(X)), norm.sf(np.array(X)))


def test_scalars_stay_scalars():
    assert isinstance(chi2_sf(3.0, 1), np.floating) and isinstance(norm_sf(1.0), np.floating)


def test_analysis_modules_do_not_import_scipy_stats():
    code = ("import sys, il2lib.survival, il2lib.survival.cox, il2lib.survival.competing, "
            "il2lib.survival.time_origin, il2lib.stats; print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
