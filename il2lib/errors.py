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
