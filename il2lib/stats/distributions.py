"""Normal and chi-squared tail functions without importing ``scipy.stats`` (about 1 s at start-up).

The same special functions ``scipy.stats`` evaluates (``ndtri``, ``ndtr``, ``chdtrc``), with its
argument conventions (chi-squared: x < 0 gives 1, df <= 0 gives NaN), so every number is
bit-identical to ``scipy.stats.norm`` / ``chi2``. ``scipy.special`` is imported on first use.
"""
from __future__ import annotations

import numpy as np


def norm_ppf(q):
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    from scipy.special import ndtri

    return ndtri(q)


def norm_sf(x):
    """Standard normal upper tail P(Z > x) (``scipy.stats.norm.sf``)."""
    from scipy.special import ndtr

    return ndtr(-np.asarray(x, dtype=float))[()]


def chi2_sf(x, df):
    """Chi-squared upper tail P(X > x) on df degrees of freedom (``scipy.stats.chi2.sf``)."""
    from scipy.special import chdtrc

    x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
    out = np.where(x < 0, 1.0, chdtrc(df, np.maximum(x, 0.0)))
    return np.where(df > 0, out, np.nan)[()]


class LazyModule:
    """Stands for a module imported on first attribute access (``sps = LazyModule("scipy.stats")``)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)
