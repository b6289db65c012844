"""Newton-Raphson fit of the Cox partial likelihood (Efron or Breslow ties, strata), on arrays.

Risk-set sums come from one cumulative sum over the rows sorted by stratum and descending time;
Efron's correction expands each event time with d tied deaths into d rows with fractions
0, 1/d, ..., (d-1)/d. There is no Python loop over patients or event times.

Counting-process data (R's ``Surv(start, stop, event)``: delayed entry, time-dependent covariates) give
:func:`risk_sets` an ``entry``: the risk set at t is then {start < t <= stop}, the sums over stop >= t less
a second cumulative sum over the rows with start >= t (sorted by stratum and descending start).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from il2lib._work import WorkCounter
from il2lib.errors import ConvergenceError


@dataclass(frozen=True)
class RiskSets:
    """Sorted data and the index structure shared by every likelihood evaluation."""

    x: np.ndarray  # (n, p) centred covariates, sorted by stratum then descending time
    time: np.ndarray
    event: np.ndarray  # bool
    stratum: np.ndarray
    order: np.ndarray  # sorted position -> input row
    block_end: np.ndarray  # per event block: last sorted row with time >= block time in its stratum
    stratum_start: np.ndarray  # per event block: first sorted row of its stratum
    death_block: np.ndarray  # per death (sorted order): its event block
    deaths_per_block: np.ndarray
    efron_block: np.ndarray  # per expanded Efron row: its block
    efron_frac: np.ndarray  # per expanded Efron row: l / d (0 for Breslow)
    # counting-process data only: sorted rows in (stratum, descending start) order, and per event block the
    # [first, last) positions in that order of its stratum's rows with start >= block time (not yet at risk)
    entry_order: np.ndarray | None = None
    entry_bounds: np.ndarray | None = None


def _entry_index(entry: np.ndarray, stratum: np.ndarray, block_time: np.ndarray,
                 block_stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows sorted by stratum then descending entry, (2, blocks) bounds of the rows with entry >= block time)."""
    order = np.lexsort((-entry, stratum))
    sorted_stratum, neg_entry = stratum[order], -entry[order]
    bounds = np.zeros((2, block_time.size), dtype=np.int64)
    for s in np.unique(block_stratum):  # a loop over strata, not patients
        first, last = np.searchsorted(sorted_stratum, s, side="left"), np.searchsorted(sorted_stratum, s, side="right")
        mine = block_stratum == s
        bounds[0, mine] = first
        bounds[1, mine] = first + np.searchsorted(neg_entry[first:last], -block_time[mine], side="right")
    return order, bounds


def risk_sets(x: np.ndarray, time: np.ndarray, event: np.ndarray, stratum: np.ndarray, ties: str,
              entry: np.ndarray | None = None) -> RiskSets:
    """Sort once and index the event blocks (distinct (stratum, time) pairs with a death).

    ``entry`` (start times, each below its stop ``time``): counting-process rows, at risk at t when
    start < t <= stop."""
    order = np.lexsort((-time, stratum))
    xs, ts, es, ss = x[order], time[order], event[order], stratum[order]
    n = ts.size
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
    block_of_row = np.cumsum(new_block) - 1
    n_blocks = int(block_of_row[-1]) + 1
    last_row = np.zeros(n_blocks, dtype=np.int64)
    last_row[block_of_row] = np.arange(n)  # later rows overwrite: last row of each block
    new_stratum = np.ones(n, dtype=bool)
    new_stratum[1:] = ss[1:] != ss[:-1]
    stratum_first = np.maximum.accumulate(np.where(new_stratum, np.arange(n), 0))
    deaths = np.bincount(block_of_row[es], minlength=n_blocks)
    event_blocks = np.flatnonzero(deaths)
    remap = np.full(n_blocks, -1)
    remap[event_blocks] = np.arange(event_blocks.size)
    d = deaths[event_blocks]
    efron_block = np.repeat(np.arange(event_blocks.size), d)
    if ties == "efron":
        first = np.repeat(np.cumsum(d) - d, d)
        frac = (np.arange(efron_block.size) - first) / np.repeat(d, d)
    else:
        frac = np.zeros(efron_block.size)
    first_rows = np.flatnonzero(new_block)[event_blocks]
    entry_order = entry_bounds = None
    if entry is not None:
        entry_order, entry_bounds = _entry_index(entry[order], ss, ts[first_rows], ss[first_rows])
    return RiskSets(xs, ts, es, ss, order, last_row[event_blocks], stratum_first[first_rows],
                    remap[block_of_row[es]], d, efron_block, frac, entry_order, entry_bounds)


@dataclass(frozen=True)
class Pieces:
    loglik: float
    score: np.ndarray
    info: np.ndarray
    mean: np.ndarray  # (r, p) Efron-weighted covariate mean per expanded row
    var: np.ndarray  # (r, p, p) its variance per expanded row


def _block_sums(values: np.ndarray, rs: RiskSets) -> np.ndarray:
    """Sum of ``values`` (sorted rows) over each event block's risk set."""
    cum = np.cumsum(values, axis=0)
    zero = np.zeros((1,) + values.shape[1:])
    cum = np.concatenate([zero, cum])
    sums = cum[rs.block_end + 1] - cum[rs.stratum_start]
    if rs.entry_order is not None:  # less the rows not yet entered (start >= t)
        late = np.concatenate([zero, np.cumsum(values[rs.entry_order], axis=0)])
        sums = sums - (late[rs.entry_bounds[1]] - late[rs.entry_bounds[0]])
    return sums


def evaluate(rs: RiskSets, beta: np.ndarray, keep_rows: bool = False) -> Pieces:
    """Partial log-likelihood, score and information at ``beta``."""
    x = rs.x
    eta = x @ beta
    shift = eta.max()
    w = np.exp(eta - shift)
    wx = w[:, None] * x
    wxx = wx[:, :, None] * x[:, None, :]
    s0, s1, s2 = _block_sums(w, rs), _block_sums(wx, rs), _block_sums(wxx, rs)
    dw, dx, dxx = w[rs.event], wx[rs.event], wxx[rs.event]
    nb = rs.deaths_per_block.size
    d0 = np.bincount(rs.death_block, weights=dw, minlength=nb)
    d1 = np.zeros((nb,) + dx.shape[1:])
    np.add.at(d1, rs.death_block, dx)
    d2 = np.zeros((nb,) + dxx.shape[1:])
    np.add.at(d2, rs.death_block, dxx)
    b, f = rs.efron_block, rs.efron_frac
    den = s0[b] - f * d0[b]
    mean = (s1[b] - f[:, None] * d1[b]) / den[:, None]
    var = (s2[b] - f[:, None, None] * d2[b]) / den[:, None, None] - mean[:, :, None] * mean[:, None, :]
    loglik = float(eta[rs.event].sum() - np.log(den).sum() - shift * den.size)
    score = x[rs.event].sum(axis=0) - mean.sum(axis=0)
    info = var.sum(axis=0)
    if keep_rows:
        return Pieces(loglik, score, info, mean, var)
    return Pieces(loglik, score, info, np.empty((0, x.shape[1])), np.empty((0, x.shape[1], x.shape[1])))


#: Relative log-likelihood change below which the fit has converged in R's sense (``coxph.control(eps)``).
LOGLIK_CONVERGED = 1e-9
#: A step that moves a term's linear predictor by more than this across the covariate's range while the
#: log-likelihood no longer changes is a move along a flat ridge: the coefficient tends to infinity.
FLAT_STEP = 1e-2
#: Work one fit may spend: each likelihood evaluation costs rows x (1 + coefficients)^2 units (the
#: weights, their products with the covariates and the covariate cross-products of every row). About
#: 1e-7 s a unit here: the limit keeps a fit within about 5 s (2e5 patients and 4 coefficients fit;
#: 1e6 patients are refused).
COX_WORK_LIMIT = 50_000_000
#: Largest single evaluation, checked before the first: it holds about 40 bytes a unit at once.
COX_EVALUATION_LIMIT = 50_000_000


@dataclass(frozen=True)
class NewtonFit:
    beta: np.ndarray
    null: Pieces
    fit: Pieces
    iterations: int
    diverging: np.ndarray  # bool per coefficient: monotone likelihood, the MLE is infinite
    work: int = 0  # units spent (see COX_WORK_LIMIT)


def newton(rs: RiskSets, max_iter: int = 60, tol: float = 1e-12, work_limit: int | None = None) -> NewtonFit:
    """Maximise the partial likelihood from beta = 0 with step halving, as R's ``coxph``.

    Runs to full convergence (relative change in log-likelihood below ``tol`` and every step below
    1e-7), tighter than R's default 1e-9, so the coefficients are the MLE to ~1e-10.

    Monotone likelihood (separation: e.g. no events in one group, or every event of one group after
    the other group has left the risk set) is detected from the iterates, not from the size a
    coefficient happens to reach: the log-likelihood has converged (relative change <= 1e-9) while
    the Newton step still moves the linear predictor by more than 1e-2 across a covariate's range.
    At a finite maximum the step is then ~1e-5 or less and shrinks quadratically; on a flat ridge it
    stays of order one (exactly 1 per iteration for a binary covariate). Those coefficients are
    flagged in ``diverging`` and the fit stops there, so the decision does not depend on where
    floating-point rounding would end the iteration.

    Every likelihood evaluation (Newton steps and step halvings) is charged rows x (1 + p)^2 units
    before it runs; past ``work_limit`` (default :data:`COX_WORK_LIMIT`) the fit stops with
    :class:`~il2lib.errors.WorkLimitExceeded`. It does not start when one evaluation alone would
    pass :data:`COX_EVALUATION_LIMIT`.
    """
    p = rs.x.shape[1]
    n = rs.time.size
    cost = n * (1 + p) ** 2
    what = f"the Cox model fit on {n:,} patients with {p} coefficient{'s' if p != 1 else ''}"
    WorkCounter(what, COX_EVALUATION_LIMIT).charge(cost)
    work = WorkCounter(what, COX_WORK_LIMIT if work_limit is None else work_limit)

    def evaluated(beta, keep_rows=False):
        work.charge(cost)
        return evaluate(rs, beta, keep_rows)

    spread = np.ptp(rs.x, axis=0) if rs.x.size else np.zeros(p)
    beta = np.zeros(p)
    null = current = evaluated(beta)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(current.info, current.score)
        except np.linalg.LinAlgError:
            raise ConvergenceError("The Cox model cannot be fitted: the covariates are collinear.") from None
        candidate = beta + step
        trial = evaluated(candidate)
        halvings = 0
        while not np.isfinite(trial.loglik) or trial.loglik < current.loglik - 1e-12 * abs(current.loglik):
            halvings += 1
            if halvings > 30:
                break
            candidate = (beta + candidate) / 2
            trial = evaluated(candidate)
        change = abs(1 - current.loglik / trial.loglik)
        moved = np.abs(candidate - beta) * spread
        beta, current = candidate, trial
        if change <= LOGLIK_CONVERGED and (moved > FLAT_STEP).any():
            return NewtonFit(beta, null, evaluated(beta, keep_rows=True), iteration, moved > FLAT_STEP, work.work)
        if change <= tol and np.max(np.abs(step)) < 1e-7:
            return NewtonFit(beta, null, evaluated(beta, keep_rows=True), iteration, np.zeros(p, dtype=bool),
                             work.work)
    raise ConvergenceError(f"The Cox model did not converge in {max_iter} iterations.")
