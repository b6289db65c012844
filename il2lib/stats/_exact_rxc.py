"""Exact p-value of the Fisher-Freeman-Halton test: a network algorithm with exact bounds.

The tables with fixed margins are built column by column. A node is the multiset of row sums
still to fill (sorted: the completions of a node do not depend on the row order), and holds the
distinct "past" weights log prod 1/x_ij! of the partial tables reaching it. At each node:

* the total weight of all completions is known in closed form,
  sum over tables with margins (r, c) of prod 1/x_ij! = R! / (prod r_i! prod c_j!);
* the largest and smallest completion weights are bounded by relaxing the row sums to caps
  (each remaining column alone: the most even fill maximises, a fill with at most one row
  not at 0 or its cap minimises; both solved exactly for the relaxation);
* a past weight whose every completion is at most as probable as the observed table adds
  its whole subtree at once; one whose every completion is more probable is dropped;
  only the rest is expanded.

This is the idea of Mehta & Patel's network algorithm (FEXACT, used by R's ``fisher.test``)
in a compact form. The result is the exact p-value (R's rule: probabilities at most the
observed one times ``1 + 1e-7``), not an estimate.

The work is bounded before anything is listed: each stage's widest expansion is counted in
closed form first, and inside the search every expansion and every new node is counted
against the limit before its arrays are built (:func:`exact_pvalue`). Past the limit,
:func:`monte_carlo_pvalue` estimates the same p-value from seeded random tables, in batches.

References
----------
Mehta CR, Patel NR. A network algorithm for performing Fisher's exact test in r x c contingency
tables. JASA 1983;78:427-434. Patefield WM. Algorithm AS 159: an efficient method of generating
random R x C tables with given row and column totals. Appl Stat 1981;30:91-97.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

#: Cells (entries x rows) one stage may hold: a memory bound independent of the work limit (4 bytes a cell).
STAGE_CELL_LIMIT = 24_000_000
#: Largest table total for the exact path (its log-factorial table has this many entries).
MAX_TOTAL = 5_000_000
#: Cells (tables x cells per table) one batch of random tables may hold in the Monte Carlo p-value.
MC_BATCH_CELLS = 1_000_000
#: Work charged for visiting a node (its bounds cost about as much as expanding this many weights).
NODE_WORK = 100
#: Cells (nodes x remaining columns x rows or row subsets) the bounds of one stage compute at a time.
BOUND_CELLS = 1_000_000


class EnumerationLimit(Exception):
    """The exact computation would need more work than allowed.

    ``work`` is the work spent when it stopped (never above the limit); ``needed`` is the count
    that would have gone over it.
    """

    def __init__(self, work: int, needed: int, limit: int):
        super().__init__(f"needs more than {limit:,} units of work ({needed:,} asked, {work:,} spent)")
        self.work, self.needed, self.limit = work, needed, limit


def count_compositions(total: int, caps) -> int:
    """Number of ways to write ``total`` as x_1 + ... + x_k with 0 <= x_i <= caps_i, without listing them.

    Exact (inclusion-exclusion over the caps) for up to 12 parts; above that an upper bound,
    the smaller of C(total + k - 1, k - 1) and prod (min(cap_i, total) + 1) over all caps but the largest.
    """
    caps = sorted(int(c) for c in caps)
    k = len(caps)
    if k == 0:
        return int(total == 0)
    if k > 12:
        return min(math.comb(total + k - 1, k - 1), math.prod(min(c, total) + 1 for c in caps[:-1]))
    count = 0
    for mask in range(1 << k):
        over = sum(caps[i] + 1 for i in range(k) if mask >> i & 1)
        if over <= total:
            count += (-1) ** bin(mask).count("1") * math.comb(total - over + k - 1, k - 1)
    return count


def _compositions(total: int, caps: np.ndarray, budget: int) -> np.ndarray | None:
    """All x with sum x = ``total`` and 0 <= x_i <= ``caps[i]`` (lexicographic order), or None when
    there are more than ``budget``.

    Built one part at a time from feasible prefixes only (the caps after a prefix can still hold
    what is left), so every prefix has a completion: no step is larger than the result, and the
    size of each step is known before it is allocated.
    """
    caps = np.asarray(caps, dtype=np.int64)
    after = np.concatenate((np.cumsum(caps[::-1])[::-1][1:], [0]))  # sum of the caps after part i
    left = np.array([total], dtype=np.int64)
    values, parents = [], []
    for i in range(len(caps)):
        lo = np.maximum(0, left - after[i])
        n_next = np.minimum(caps[i], left) - lo + 1
        size = int(n_next.sum())
        if size > budget:
            return None
        parent = np.repeat(np.arange(len(left)), n_next)
        x = lo[parent] + np.arange(size) - np.repeat(np.cumsum(n_next) - n_next, n_next)
        values.append(x)
        parents.append(parent)
        left = left[parent] - x
    out = np.empty((len(left), len(caps)), dtype=np.int64)
    row = np.arange(len(left))
    for i in range(len(caps) - 1, -1, -1):  # follow each composition back through its prefixes
        out[:, i] = values[i][row]
        row = parents[i][row]
    return out


class _Network:
    def __init__(self, tab: np.ndarray):
        self.rows = np.sort(tab.sum(axis=1))
        self.cols = tuple(int(c) for c in sorted(tab.sum(axis=0), reverse=True))
        self.k = len(self.rows)
        n = int(tab.sum())
        self.lf = special.gammaln(np.arange(n + 2) + 1.0)
        self.log_const = float(self.lf[self.rows].sum() + self.lf[list(self.cols)].sum() - self.lf[n])
        self.threshold = float(-self.lf[tab].sum()) + math.log(1 + 1e-7)
        self.masks = ((np.arange(1 << self.k)[:, None] >> np.arange(self.k)) & 1).astype(bool) if self.k <= 10 else None

    def _max_fill(self, caps: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Per node (a row of ``caps``) and column total c: max of -sum log x_i! with sum x = c,
        0 <= x_i <= cap_i, the most even fill.

        A common level L fills row i to min(cap_i, L); the r units left go one each to rows still
        below their cap (from L to L + 1). ``filled[:, j]`` is what level ``level[:, j]`` holds.
        """
        s = np.sort(caps, axis=1)
        n, k = s.shape
        zero = np.zeros((n, 1), dtype=np.int64)
        level = np.hstack((zero, s))
        filled = np.hstack((zero, np.cumsum(s, axis=1) + (k - 1 - np.arange(k)) * s))
        full_lf = np.hstack((zero, np.cumsum(self.lf[s], axis=1)))  # rows below level[:, j] are at their caps
        j = (filled[:, :, None] <= cols[None, None, :]).sum(axis=1) - 1  # filled is sorted along each row
        at = (np.arange(n)[:, None], j)
        active = k - j
        extra = cols[None, :] - filled[at]
        step = np.maximum(active, 1)
        lvl = level[at] + extra // step
        r = extra % step
        return -(full_lf[at] + (active - r) * self.lf[lvl] + r * self.lf[np.minimum(lvl + 1, len(self.lf) - 1)])

    def _min_fill(self, caps: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Per node and column total c: min of -sum log x_i! with the same constraints (at most 10 rows): rows
        at 0 or their cap, at most one in between (the function is concave in each x_i)."""
        used = caps @ self.masks.T
        base = -(self.lf[caps] @ self.masks.T)
        free = np.where(self.masks[None], -1, caps[:, None, :]).max(axis=2)  # largest cap of a row not full
        rest = cols[None, None, :] - used[:, :, None]
        fill = np.where((rest > 0) & (rest <= free[:, :, None]), base[:, :, None] - self.lf[np.maximum(rest, 0)],
                        np.inf)
        return np.where(rest == 0, base[:, :, None], fill).min(axis=1)

    def bounds(self, caps: np.ndarray, stage: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per node (a row of ``caps``): log total completion weight, upper bound of the max and lower bound of
        the min completion weight for columns stage.. ; computed for :data:`BOUND_CELLS` cells at a time."""
        remaining = np.asarray(self.cols[stage:], dtype=np.int64)
        past = -self.lf[caps].sum(axis=1)
        total = self.lf[caps.sum(axis=1)] + past - self.lf[remaining].sum()
        if len(remaining) == 1:
            return total, past, past
        width = len(remaining) * (self.k + 1) * (len(self.masks) if self.masks is not None else 1)
        hi, lo = np.empty(len(caps)), np.empty(len(caps))
        for a in range(0, len(caps), max(1, BOUND_CELLS // width)):
            part = slice(a, a + max(1, BOUND_CELLS // width))
            hi[part] = self._max_fill(caps[part], remaining).sum(axis=1)
            lo[part] = (self._min_fill(caps[part], remaining).sum(axis=1) if self.masks is not None
                        else -self.lf[remaining].sum())
        return total, hi, lo


def exact_pvalue(tab: np.ndarray, work_limit: int) -> tuple[float, int]:
    """Exact two-sided FFH p-value and the work spent.

    Work counts the partial-table weights processed (each weight expanded times its node's
    children) plus :data:`NODE_WORK` per node visited. Nothing is listed before it is counted: first, every
    stage's widest possible expansion (the compositions of its column total under the row totals,
    counted in closed form) must fit in ``work_limit``; then each stage's nodes are counted before their
    bounds are computed, each node's expansion is built only if it fits in what is left of the limit, and
    each stage's arrays in :data:`STAGE_CELL_LIMIT`.

    Raises :class:`EnumerationLimit` as soon as the work would go over ``work_limit``.
    """
    rows, cols = tab.sum(axis=1), tab.sum(axis=0)
    total = int(tab.sum())
    if total > MAX_TOTAL:
        raise EnumerationLimit(0, total, MAX_TOTAL)
    widest = max(count_compositions(int(c), rows) for c in cols)
    if widest > work_limit:
        raise EnumerationLimit(0, widest, work_limit)
    net = _Network(tab)
    nodes: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {
        tuple(int(r) for r in net.rows): (np.zeros(1), np.ones(1))}
    pvalue, work = 0.0, 0
    for stage, c in enumerate(net.cols):
        keys, weights, counts = [], [], []
        cells = 0
        if work + NODE_WORK * len(nodes) > work_limit:
            raise EnumerationLimit(work, work + NODE_WORK * len(nodes), work_limit)
        work += NODE_WORK * len(nodes)
        stage_bounds = net.bounds(np.array(list(nodes), dtype=np.int64).reshape(len(nodes), net.k), stage)
        for (caps, (logw, count)), total_w, hi, lo in zip(nodes.items(), *stage_bounds):
            take = logw + hi <= net.threshold
            if take.any():
                pvalue += float(np.sum(count[take] * np.exp(net.log_const + logw[take] + total_w)))
            keep = ~take & (logw + lo <= net.threshold)
            if not keep.any():
                continue
            m = int(keep.sum())
            budget = min((work_limit - work) // m, (STAGE_CELL_LIMIT - cells) // (m * net.k))
            comps = _compositions(c, np.asarray(caps), budget)
            if comps is None:
                raise EnumerationLimit(work, work + m * (budget + 1), work_limit)
            n_comp = len(comps)
            work += m * n_comp
            cells += m * n_comp * net.k
            child = np.sort(np.asarray(caps) - comps, axis=1).astype(np.int32)
            keys.append(np.broadcast_to(child[None], (m, n_comp, net.k)).reshape(-1, net.k))
            weights.append((logw[keep][:, None] - net.lf[comps].sum(axis=1)[None, :]).ravel())
            counts.append(np.repeat(count[keep], n_comp))
        if not keys:
            break
        nodes = _group(keys, weights, counts, max_nodes=(work_limit - work) // NODE_WORK)
        if nodes is None:
            raise EnumerationLimit(work, work_limit + 1, work_limit)
    return min(1.0, pvalue), work


def _group(keys: list, weights: list, counts: list,
           max_nodes: int) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] | None:
    """Nodes of the next stage: equal past weights (to 1e-9 on the log scale) merged, path counts summed.

    None (and no dictionary built) when there are more than ``max_nodes`` nodes.
    """
    key = np.concatenate(keys)
    logw = np.concatenate(weights)
    count = np.concatenate(counts)
    base = int(key.max()) + 1
    if base ** key.shape[1] < 2 ** 62:  # one integer per node key: fast sorting
        node_code = key @ (base ** np.arange(key.shape[1], dtype=np.int64))
    else:
        node_code = np.unique(key, axis=0, return_inverse=True)[1].ravel().astype(np.int64)
    weight_code = np.round(logw * 1e9).astype(np.int64)
    order = np.lexsort((weight_code, node_code))
    node_code, weight_code = node_code[order], weight_code[order]
    new_item = np.ones(len(order), dtype=bool)
    new_item[1:] = (node_code[1:] != node_code[:-1]) | (weight_code[1:] != weight_code[:-1])
    item_id = np.cumsum(new_item) - 1
    merged_count = np.bincount(item_id, weights=count[order])
    merged_logw = logw[order][new_item]  # first member represents its group (they agree to 1e-9)
    item_node = node_code[new_item]
    node_start = np.flatnonzero(np.r_[True, item_node[1:] != item_node[:-1]])
    if len(node_start) > max_nodes:
        return None
    node_end = np.r_[node_start[1:], len(item_node)]
    first_row = order[new_item][node_start]
    return {tuple(int(v) for v in key[row]): (merged_logw[a:b], merged_count[a:b])
            for row, a, b in zip(first_row, node_start, node_end)}


def monte_carlo_pvalue(tab: np.ndarray, replicates: int, seed: int, cell_limit: int) -> tuple[float, int]:
    """Monte Carlo FFH p-value and the number of random tables as or less probable than ``tab``.

    As R's ``fisher.test(simulate.p.value = TRUE, B = replicates)``: ``replicates`` random tables
    with the observed margins (Patefield's algorithm, :func:`scipy.stats.random_table`) from
    numpy's generator seeded with ``seed``, drawn in batches of at most :data:`MC_BATCH_CELLS`
    cells. A table counts when its probability is at most the observed one times ``1 + 1e-7``
    (the exact path's rule); p = (1 + count) / (replicates + 1).

    Raises :class:`EnumerationLimit` before drawing when ``replicates`` x cells exceeds ``cell_limit``.
    """
    from scipy import stats

    n_cells = int(tab.size)
    if replicates < 1 or replicates * n_cells > cell_limit:
        raise EnumerationLimit(0, replicates * n_cells, cell_limit)
    tables = stats.random_table(tab.sum(axis=1), tab.sum(axis=0))
    rng = np.random.default_rng(seed)
    threshold = float(-special.gammaln(tab + 1.0).sum()) + math.log(1 + 1e-7)
    batch = max(1, MC_BATCH_CELLS // n_cells)
    count = done = 0
    while done < replicates:
        size = min(batch, replicates - done)
        drawn = tables.rvs(size=size, method="patefield", random_state=rng)
        log_weight = -special.gammaln(drawn + 1.0).sum(axis=(1, 2))
        count += int(np.count_nonzero(log_weight <= threshold))
        done += size
    return (1 + count) / (replicates + 1), count
