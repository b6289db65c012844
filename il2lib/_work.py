"""A work counter for computations that can run long: charged before the work is done, in units
each caller defines, and raising :class:`~il2lib.errors.WorkLimitExceeded` past its limit."""
from __future__ import annotations

from il2lib.errors import WorkLimitExceeded


class WorkCounter:
    """``charge(units)`` before doing that much work; past ``limit`` it raises and the work is not done."""

    __slots__ = ("what", "limit", "advice", "work")

    def __init__(self, what: str, limit: int, advice: str = "narrow the filters"):
        self.what, self.limit, self.advice, self.work = what, int(limit), advice, 0

    def charge(self, units: int) -> None:
        needed = self.work + int(units)
        if needed > self.limit:
            raise WorkLimitExceeded(self.what, self.work, needed, self.limit, self.advice)
        self.work = needed
