"""Complementary cell suppression for small counts, with a linear-programming audit.

A view is every count shown together (a table, its figure, the metrics and captions beside it) and
the linear relations a reader can use between them: a group's levels add up to its N, ORR = CR + PR,
an evaluable denominator is N - NE. Primary cells (counts from 1 to ``threshold - 1``) are shown as
``"<k"``. A primary cell is still disclosed when the shown numbers fix its value: the audit computes,
for each hidden cell, its minimum and maximum over the non-negative integer solutions consistent with
everything shown (scipy ``milp``); where they are equal, one more cell of a relation holding it is
hidden (complementary suppression), preferring detail cells over headline totals. Zeros stay shown.

This protects a single view. It does not prevent differencing two filter settings.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

Key = Hashable
#: What a complementary-suppressed cell shows (its value may be any count).
SUPPRESSED = "masked"


@dataclass
class CountView:
    """Counts shown together and the relations between them (``lo <= sum(coef * count) <= hi``).

    Relations are added only when they hold for the values: a proposed identity that the data do
    not satisfy is not one a reader could use, and an infeasible model would hide nothing.
    ``headline`` cells (group sizes, ORR) are hidden as a complement only when no detail cell can be.
    """

    counts: dict[Key, int] = field(default_factory=dict)
    relations: list[tuple[dict[Key, float], float, float]] = field(default_factory=list)
    headline: set[Key] = field(default_factory=set)
    fixed: set[Key] = field(default_factory=set)

    def add(self, key: Key, value, headline: bool = False, fixed: bool = False) -> None:
        """A count of the view; ``headline`` (N, ORR) is hidden as a complement only when no detail cell
        can be, ``fixed`` never (it is shown elsewhere on the page, such as the sidebar's n)."""
        self.counts[key] = int(value)
        if headline:
            self.headline.add(key)
        if fixed:
            self.fixed.add(key)

    def add_sum(self, total: Key, parts: Iterable[Key], offset: float = 0.0) -> None:
        """``total == sum(parts) + offset``, kept when the shown values satisfy it."""
        coef: dict[Key, float] = {total: -1.0}
        for p in parts:
            coef[p] = coef.get(p, 0.0) + 1.0
        self.add_relation(coef, -offset, -offset)

    def add_at_most(self, smaller: Key, larger: Key) -> None:
        self.add_relation({smaller: 1.0, larger: -1.0}, -np.inf, 0.0)

    def add_relation(self, coef: Mapping[Key, float], lo: float, hi: float) -> None:
        if not all(k in self.counts for k in coef):
            return
        value = sum(c * self.counts[k] for k, c in coef.items())
        if lo - 1e-9 <= value <= hi + 1e-9:
            self.relations.append((dict(coef), lo, hi))

    def merge(self, other: CountView) -> CountView:
        """One view from two (the same key in both is the same cell)."""
        out = CountView(dict(self.counts), list(self.relations), set(self.headline), set(self.fixed))
        out.counts.update(other.counts)
        out.relations += other.relations
        out.headline |= other.headline
        out.fixed |= other.fixed
        return out


@dataclass(frozen=True)
class Suppression:
    """Which cells of a view are hidden, and how each count is shown."""

    threshold: int
    primary: frozenset = frozenset()
    secondary: frozenset = frozenset()

    @property
    def hidden(self) -> frozenset:
        return self.primary | self.secondary

    def text(self, key: Key, value) -> str:
        """The count as shown: ``"<k"``, ``"masked"`` or the number."""
        if key in self.primary:
            return f"<{self.threshold}"
        if key in self.secondary:
            return SUPPRESSED
        return str(int(value))

    def shows(self, *keys: Key) -> bool:
        """True when none of ``keys`` is hidden (a rate of shown counts can be shown)."""
        return not any(k in self.primary or k in self.secondary for k in keys)


NO_SUPPRESSION = Suppression(threshold=1)


def recoverable(view: CountView, suppression: Suppression, only: Iterable[Key] | None = None,
                first: bool = False) -> dict[Key, int]:
    """Hidden cells whose value the shown numbers fix (the audit: empty when the view is safe).

    A cell is fixed when its minimum and maximum over the integer solutions consistent with the view
    are equal. A primary cell is known to lie in 1..threshold-1 (it reads "<k"); a complementary one
    only to be a count between 0 and the view's largest count (a reader knows the cohort's size).
    Cells are solved per group of hidden cells linked by a relation (shown cells are constants);
    ``only`` limits the audit to some cells' groups; ``first`` stops at the first cell found.
    """
    primary, hidden = set(suppression.primary), set(suppression.hidden)
    reduced = _reduced(view, hidden)
    wanted = hidden if only is None else hidden & set(only)
    largest = max(view.counts.values(), default=0)
    out: dict[Key, int] = {}
    for component in _components(wanted, hidden, reduced):
        problem = _Problem(component, reduced, primary, suppression.threshold, largest)
        truth = np.array([view.counts[k] for k in component], dtype=float)
        free = np.zeros(len(component), dtype=bool)  # cells seen at another value in an integer solution
        for i, k in enumerate(component):
            if free[i] or k not in wanted:
                continue
            for below in (True, False):
                other = problem.other(i, truth[i], below)
                if other is not None:
                    free |= np.abs(other - truth) > 0.5
                    break
            else:
                out[k] = view.counts[k]
                if first:
                    return out
    return out


def _reduced(view: CountView, hidden: set) -> list:
    """The relations over hidden cells, with the shown cells moved into the bounds."""
    reduced = []
    for coef, lo, hi in view.relations:
        known = sum(c * view.counts[k] for k, c in coef.items() if k not in hidden)
        unknown = {k: c for k, c in coef.items() if k in hidden and c}
        if unknown:
            reduced.append((unknown, lo - known, hi - known))
    return reduced


def _components(wanted: set, hidden: set, relations: list) -> list[list]:
    """Groups of hidden cells linked through relations, for the groups that hold a wanted cell."""
    parent = {k: k for k in hidden}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for coef, _, _ in relations:
        keys = list(coef)
        for k in keys[1:]:
            parent[root(k)] = root(keys[0])
    groups: dict = {}
    for k in hidden:
        groups.setdefault(root(k), []).append(k)
    return [sorted(g, key=repr) for g in groups.values() if any(k in wanted for k in g)]


class _Problem:
    """The integer solutions of one group of hidden cells: is a cell's true value the only one?

    The linear relaxation answers first (dual simplex: its optimum is a vertex, integral for the
    sum-of-cells relations of count tables); an integer program settles only a fractional optimum.
    """

    def __init__(self, cells: list, relations: list, primary: set, threshold: int, largest: int):
        self.index = {k: i for i, k in enumerate(cells)}
        rows, lows, highs = [], [], []
        for coef, lo, hi in relations:
            if next(iter(coef)) in self.index:
                row = np.zeros(len(cells))
                for k, c in coef.items():
                    row[self.index[k]] += c
                rows.append(row)
                lows.append(lo)
                highs.append(hi)
        self.matrix, self.lows, self.highs = (np.array(rows), np.array(lows, float), np.array(highs, float))
        self.lower = np.array([1.0 if k in primary else 0.0 for k in cells])
        self.upper = np.array([threshold - 1.0 if k in primary else float(largest) for k in cells])

    def other(self, i: int, value: float, below: bool) -> np.ndarray | None:
        """An integer solution with cell i below (or above) ``value``, or None when there is none."""
        from scipy.optimize import Bounds, LinearConstraint, linprog, milp

        lower, upper = self.lower.copy(), self.upper.copy()
        if below:
            upper[i] = min(upper[i], value - 1)
        else:
            lower[i] = max(lower[i], value + 1)
        if lower[i] > upper[i]:
            return None
        if not len(self.matrix):
            return lower
        c = np.zeros(len(lower))
        c[i] = 1.0 if below else -1.0
        a_ub = np.vstack([self.matrix, -self.matrix])
        b_ub = np.concatenate([self.highs, -self.lows])
        finite = np.isfinite(b_ub)
        lp = linprog(c, A_ub=a_ub[finite], b_ub=b_ub[finite], bounds=list(zip(lower, upper)), method="highs-ds")
        if lp.status == 2:  # infeasible even without integrality
            return None
        if lp.status == 0 and np.allclose(lp.x, np.round(lp.x), atol=1e-7):
            return np.round(lp.x)
        res = milp(np.zeros(len(lower)), constraints=[LinearConstraint(self.matrix, self.lows, self.highs)],
                   integrality=np.ones(len(lower)), bounds=Bounds(lower, upper))
        return np.round(res.x) if res.status == 0 else None


def _given_by_fixed(view: CountView, threshold: int) -> frozenset:
    """The fixed cells and every cell they determine on their own (all the others hidden)."""
    if not view.fixed:
        return frozenset()
    rest = frozenset(view.counts.keys() - view.fixed)
    return frozenset(view.fixed | recoverable(view, Suppression(threshold, frozenset(), rest)).keys())


def protect(view: CountView, threshold: int) -> Suppression:
    """Hide the small counts of ``view`` and, where the shown numbers would give one back, complements.

    Each round audits the view and gives every exposed cell one complement: a shown, non-zero cell of
    a relation that holds the exposed cell as its only hidden cell (else of any relation linked to it),
    a detail cell before a headline cell (group size, ORR), then one that frees the exposed cell, then
    the smallest. Cells shown elsewhere (``view.fixed``) are never hidden, nor is a cell they give back
    whatever else is hidden (the overall denominator when the sidebar shows the total): hiding it would
    protect nothing. Rounds repeat until the audit finds nothing; then a complement a later round made
    needless is shown again.
    """
    primary = frozenset(k for k, v in view.counts.items() if 0 < v < threshold)
    pinned = _given_by_fixed(view, threshold)
    hidden, secondary = set(primary), set()
    exposed = recoverable(view, Suppression(threshold, primary))
    while exposed:
        before = len(secondary)
        for cell in sorted(exposed, key=repr):
            alone = [coef for coef, _, _ in view.relations if cell in coef and not (hidden - {cell}) & coef.keys()]
            if not alone and before < len(secondary):
                continue  # already given a complement this round through a linked cell
            if not alone:
                linked = set(_components({cell}, hidden, _reduced(view, hidden))[0])
                alone = [coef for coef, _, _ in view.relations if linked & coef.keys()]
            candidates = {k for coef in alone for k in coef
                          if k not in hidden and k not in pinned and view.counts[k] > 0}

            def cost(k, cell=cell):
                trial = Suppression(threshold, primary, frozenset(secondary | {k}))
                return k in view.headline, cell in recoverable(view, trial, only={cell}), view.counts[k], repr(k)

            if candidates:
                chosen = min(candidates, key=cost)
                secondary.add(chosen)
                hidden.add(chosen)
        if len(secondary) == before:
            break  # nothing left to hide: the caller's audit will report the exposed cells
        exposed = recoverable(view, Suppression(threshold, primary, frozenset(secondary)))
    if not exposed:
        secondary = _without_needless(view, primary, secondary, threshold)
    return Suppression(threshold, primary, frozenset(secondary))


def _without_needless(view: CountView, primary: frozenset, secondary: set, threshold: int) -> set:
    """The greedy rounds can leave complements that a later one made needless: show each one again
    (headline and large counts first) when the view stays safe without it. Showing it changes only the
    relations that hold it, so only the groups of hidden cells linked to those relations are audited."""
    kept = set(secondary)
    for cell in sorted(secondary, key=lambda k: (k not in view.headline, -view.counts[k], repr(k))):
        rest = frozenset(kept - {cell})
        hidden = set(primary | rest)
        near = {k for coef, _, _ in view.relations if cell in coef for k in coef if k in hidden}
        linked = [k for group in _components(near, hidden, _reduced(view, hidden)) for k in group]
        if not recoverable(view, Suppression(threshold, primary, rest), only=linked, first=True):
            kept.discard(cell)
    return kept
