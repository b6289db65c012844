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

References
----------
Mehta CR, Patel NR. A network algorithm for performing Fisher's exact test in r x c contingency
tables. JASA 1983;78:427-434.
"""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
from scipy import special


class EnumerationLimit(Exception):
    """The exact computation would need more work than allowed."""


def _compositions(total: int, parts: int) -> np.ndarray:
    """All ways to write ``total`` as an ordered sum of ``parts`` non-negative integers."""
    rows = []
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(parts)])
    return np.asarray(rows, dtype=np.int64).reshape(-1, parts)


class _Network:
    def __init__(self, tab: np.ndarray):
        self.rows = np.sort(tab.sum(axis=1))
        self.cols = tuple(int(c) for c in sorted(tab.sum(axis=0), reverse=True))
        self.k = len(self.rows)
        n = int(tab.sum())
        self.lf = special.gammaln(np.arange(n + 2) + 1.0)
        self.log_const = float(self.lf[self.rows].sum() + self.lf[list(self.cols)].sum() - self.lf[n])
        self.threshold = float(-self.lf[tab].sum()) + math.log(1 + 1e-7)
        self.bound_col_max = lru_cache(maxsize=None)(self._col_max)
        self.bound_col_min = lru_cache(maxsize=None)(self._col_min)

    def _col_max(self, caps: tuple[int, ...], c: int) -> float:
        """max of -sum log x_i! with sum x = c, 0 <= x_i <= cap_i: the most even (water-filling) fill."""
        x = [0] * len(caps)
        left = c
        order = sorted(range(len(caps)), key=lambda i: caps[i])
        for pos, i in enumerate(order):
            share = left // (len(caps) - pos)
            x[i] = min(caps[i], share)
            left -= x[i]
        # distribute what is left one unit at a time to the smallest entries below their cap
        while left > 0:
            i = min((j for j in range(len(caps)) if x[j] < caps[j]), key=lambda j: x[j])
            x[i] += 1
            left -= 1
        return float(-sum(self.lf[v] for v in x))

    def _col_min(self, caps: tuple[int, ...], c: int) -> float:
        """min of -sum log x_i! with the same constraints: rows at 0 or their cap, at most one in between."""
        best = math.inf
        k = len(caps)
        for mask in range(1 << k):
            full = [i for i in range(k) if mask >> i & 1]
            used = sum(caps[i] for i in full)
            if used > c:
                continue
            base = -sum(self.lf[caps[i]] for i in full)
            rest = c - used
            if rest == 0:
                best = min(best, base)
                continue
            for p in range(k):
                if not mask >> p & 1 and caps[p] >= rest:
                    best = min(best, base - self.lf[rest])
        return best

    def bounds(self, caps: tuple[int, ...], stage: int) -> tuple[float, float, float]:
        """(log total completion weight, upper bound of max, lower bound of min) for columns stage.. ."""
        remaining = self.cols[stage:]
        total = float(self.lf[sum(caps)] - sum(self.lf[r] for r in caps) - sum(self.lf[c] for c in remaining))
        if len(remaining) == 1:
            exact = float(-sum(self.lf[r] for r in caps))
            return total, exact, exact
        hi = sum(self.bound_col_max(caps, c) for c in remaining)
        lo = sum(self.bound_col_min(caps, c) for c in remaining) if self.k <= 10 else \
            -sum(self.lf[c] for c in remaining)
        return total, hi, lo


def exact_pvalue(tab: np.ndarray, work_limit: int) -> tuple[float, int]:
    """Exact two-sided FFH p-value and the number of partial-table weights processed.

    Raises :class:`EnumerationLimit` when more than ``work_limit`` weights would be processed.
    """
    net = _Network(tab)
    nodes: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {
        tuple(int(r) for r in net.rows): (np.zeros(1), np.ones(1))}
    pvalue, work = 0.0, 0
    for stage, c in enumerate(net.cols):
        comps_all = _compositions_cached(c, net.k)
        keys, weights, counts = [], [], []
        for caps, (logw, count) in nodes.items():
            total, hi, lo = net.bounds(caps, stage)
            take = logw + hi <= net.threshold
            if take.any():
                pvalue += float(np.sum(count[take] * np.exp(net.log_const + logw[take] + total)))
            keep = ~take & (logw + lo <= net.threshold)
            if not keep.any():
                continue
            comps = comps_all[np.all(comps_all <= np.asarray(caps), axis=1)]
            m, n_comp = int(keep.sum()), len(comps)
            work += m * n_comp
            if work > work_limit:
                raise EnumerationLimit
            child = np.sort(np.asarray(caps) - comps, axis=1)
            keys.append(np.broadcast_to(child[None], (m, n_comp, net.k)).reshape(-1, net.k))
            weights.append((logw[keep][:, None] - net.lf[comps].sum(axis=1)[None, :]).ravel())
            counts.append(np.repeat(count[keep], n_comp))
        nodes = _group(keys, weights, counts) if keys else {}
    return min(1.0, pvalue), work


@lru_cache(maxsize=256)
def _compositions_cached(total: int, parts: int) -> np.ndarray:
    return _compositions(total, parts)


def _group(keys: list, weights: list, counts: list) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
    """Nodes of the next stage: equal past weights (to 1e-9 on the log scale) merged, path counts summed."""
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
    node_end = np.r_[node_start[1:], len(item_node)]
    first_row = order[new_item][node_start]
    return {tuple(int(v) for v in key[row]): (merged_logw[a:b], merged_count[a:b])
            for row, a, b in zip(first_row, node_start, node_end)}
