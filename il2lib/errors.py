"""The small typed error hierarchy of il2lib."""


class Il2libError(Exception):
    """Base class of every error il2lib raises on purpose."""


class CohortFileError(Il2libError, ValueError):
    """The uploaded file is not a usable table at all (empty, binary, HTML, no usable sheet).

    The message is one plain sentence meant for the person who uploaded the file.
    """


class InsufficientDataError(Il2libError, ValueError):
    """An analysis cannot be computed with the data given (no patients, no events in a group, ...)."""


class ConvergenceError(Il2libError, ValueError):
    """An iterative fit (Cox model) did not converge."""


class SurvivalInputError(Il2libError, ValueError):
    """Survival input that cannot be analysed as given (negative or infinite time, event not 0/1, ...).

    Missing values are not errors: survival functions exclude them and count them. This error is
    for values that are present but invalid, and its message names the column and the problem.
    """


class WorkLimitExceeded(Il2libError):
    """A computation would need more work than its limit allows for this selection, so it stopped.

    Work is counted in deterministic units named by each limit (rows x terms per likelihood
    evaluation, distinct times x groups, ...), never in seconds: the same selection is refused on
    every machine. ``work`` is the work spent when it stopped (never above ``limit``); ``needed``
    is the count that would have gone over it. The message is the one the pages show.
    """

    def __init__(self, what: str, work: int, needed: int, limit: int, advice: str = "narrow the filters"):
        super().__init__(f"This took too long for the current selection ({what}); {advice}.")
        self.what, self.work, self.needed, self.limit, self.advice = what, int(work), int(needed), int(limit), advice

    def __reduce__(self):
        return type(self), (self.what, self.work, self.needed, self.limit, self.advice)
