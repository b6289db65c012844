"""Binomial proportions with their confidence intervals (R's ``binom.test`` and ``prop.test(correct = FALSE)``)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import LazyModule

sps = LazyModule("scipy.stats")  # scipy.stats costs ~1 s at start-up: import on first use


@dataclass(frozen=True)
class ProportionCI:
    """A binomial proportion with its confidence interval (``method`` names the interval)."""

    successes: int
    n: int
    estimate: float
    lower: float
    upper: float
    method: Literal["exact", "wilson"]
    conf_level: float = 0.95

    @property
    def method_label(self) -> str:
        return "Clopper-Pearson exact" if self.method == "exact" else "Wilson score"



def proportion_ci(successes: int, n: int, method: Literal["exact", "wilson"] = "exact",
                  conf_level: float = 0.95) -> ProportionCI:
    """Binomial proportion with a Clopper-Pearson (exact) or Wilson score interval.

    Parameters
    ----------
    successes, n : int
        Numerator and denominator, ``0 <= successes <= n``, ``n >= 1``.
    method : {"exact", "wilson"}
        ``"exact"``: Clopper-Pearson, the beta-quantile interval of R's ``binom.test``.
        ``"wilson"``: score interval without continuity correction, R's ``prop.test(correct = FALSE)``.
    conf_level : float
        Two-sided confidence level.

    Notes
    -----
    Clopper-Pearson: lower = B(a/2; x, n-x+1), upper = B(1-a/2; x+1, n-x), with lower = 0 when
    x = 0 and upper = 1 when x = n. Wilson: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),
    clipped to [0, 1] and pinned at 0 (x = 0) and 1 (x = n) as R does.

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404-413. Wilson EB. JASA 1927;22:209-212.
    """
    successes, n = int(successes), int(n)
    if n < 1:
        raise InsufficientDataError("A proportion needs at least one patient in the denominator.")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie between 0 and n={n}.")
    alpha = 1 - conf_level
    p = successes / n
    if method == "exact":
        lower = 0.0 if successes == 0 else float(sps.beta.ppf(alpha / 2, successes, n - successes + 1))
        upper = 1.0 if successes == n else float(sps.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    elif method == "wilson":
        z = float(sps.norm.ppf(1 - alpha / 2))
        centre = p + z * z / (2 * n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        lower = 0.0 if successes == 0 else max(0.0, (centre - half) / denom)
        upper = 1.0 if successes == n else min(1.0, (centre + half) / denom)
    else:
        raise ValueError(f"Unknown CI method {method!r}; use 'exact' or 'wilson'.")
    return ProportionCI(successes, n, p, lower, upper, method, conf_level)
