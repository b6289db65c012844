"""Cox model diagnostics: the proportional-hazards score test (R's ``cox.zph``) and concordance."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from il2lib.survival._counting import count

_PAIR_BUDGET = 4_000_000  # comparisons held in memory at once by the concordance count


@dataclass(frozen=True)
class PHTestResult:
    """Proportional-hazards test per term and GLOBAL (last row): table with term, chisq, df, p."""

    table: pd.DataFrame
    transform: str
    alpha: float = 0.05

    @property
    def violated(self) -> tuple[str, ...]:
        """Terms (or GLOBAL) with p < alpha."""
        return tuple(self.table.loc[self.table["p"] < self.alpha, "term"])

    @property
    def warning(self) -> str | None:
        """A sentence the dashboard can show, or None when no test rejects."""
        if not self.violated:
            return None
        return ("Proportional-hazards assumption questionable (cox.zph score test, KM transform, p < "
                f"{self.alpha:g}) for: {', '.join(self.violated)}. Hazard ratios are averages over time.")


def zph_test(rs, fit, assign, terms, transform: str = "km") -> PHTestResult:
    """Score test of beta(t) = beta + theta g(t), as R's ``cox.zph`` (survival >= 3).

    g(t) = 1 - S(t-) with S the pooled Kaplan-Meier (``transform="km"``), centred on its mean over
    the deaths. At the fitted beta, for the augmented covariates x g(t): u2 = sum over Efron rows
    of g (x_death - xbar), and the information blocks are sum V, sum g V, sum g^2 V. Each term is
    tested with all original coefficients plus that term's theta; GLOBAL uses every theta. The
    original score is set to 0 as R does.

    References
    ----------
    Grambsch PM, Therneau TM (1994). Biometrika 81:515-526. R ``survival::cox.zph``.
    """
    if transform != "km":
        raise ValueError("only transform='km' (R's default) is implemented.")
    c = count(rs.time, rs.event)
    surv = np.cumprod(1.0 - c.events[0] / c.at_risk[0])
    before = np.concatenate([[1.0], surv])[np.searchsorted(c.time, rs.time, side="left")]
    ttimes = 1.0 - before
    gtime = ttimes - ttimes[rs.event].mean()
    g_block = np.zeros(rs.deaths_per_block.size)
    g_block[rs.death_block] = gtime[rs.event]
    g_row = g_block[rs.efron_block]
    p = rs.x.shape[1]
    u2 = (gtime[rs.event, None] * rs.x[rs.event]).sum(axis=0) - (g_row[:, None] * fit.mean).sum(axis=0)
    i11 = fit.var.sum(axis=0)
    i12 = np.einsum("r,rij->ij", g_row, fit.var)
    i22 = np.einsum("r,rij->ij", g_row**2, fit.var)
    imat = np.block([[i11, i12], [i12, i22]])
    u = np.concatenate([np.zeros(p), u2])
    rows = []
    for name, cols in zip(terms, assign):  # loop over model terms
        kk = np.concatenate([np.arange(p), np.asarray(cols) + p])
        stat = float(u[kk] @ np.linalg.solve(imat[np.ix_(kk, kk)], u[kk]))
        rows.append((str(name), stat, len(cols)))
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"])
    table["p"] = chi2.sf(table["chisq"], table["df"])
    return PHTestResult(table, transform)


def concordance_counts(time, event, score, strata) -> dict:
    """Harrell's concordance as R's ``concordance`` for a Cox fit (higher risk score = earlier event).

    A pair is comparable when, in the same stratum, the earlier time is an event; a subject censored
    at the same time as an event counts as outliving it. Pairs of events at the same time are
    ``tied.y`` (or ``tied.xy`` when the scores tie too) and are not comparable.
    concordance = (concordant + tied.x / 2) / (concordant + discordant + tied.x).
    """
    idx = np.flatnonzero(event)
    totals = np.zeros(5)
    step = max(1, _PAIR_BUDGET // max(time.size, 1))
    for start in range(0, idx.size, step):  # blocks of events, bounded memory
        i = idx[start:start + step]
        same = strata[i, None] == strata[None, :]
        ti, tj = time[i, None], time[None, :]
        later = same & ((tj > ti) | ((tj == ti) & ~event[None, :]))
        si, sj = score[i, None], score[None, :]
        both = same & (tj == ti) & event[None, :]
        both[np.arange(i.size), i] = False
        totals += [np.sum(later & (si > sj)), np.sum(later & (si < sj)), np.sum(later & (si == sj)),
                   np.sum(both & (si != sj)) / 2, np.sum(both & (si == sj)) / 2]
    conc, disc, tx, ty, txy = totals
    denom = conc + disc + tx
    value = (conc + tx / 2) / denom if denom else np.nan
    return {"concordant": int(conc), "discordant": int(disc), "tied.x": int(tx), "tied.y": int(ty),
            "tied.xy": int(txy), "concordance": float(value)}
