"""Small-cell protection of the meeting report (``build_report(..., small_cell_threshold=k)``).

While a report is built under :func:`small_cells`, every table it renders goes through
:func:`il2lib.privacy.masking.mask_table` (rate, percentage, CI and median columns dependent: "masked" in a row
with a masked count), every figure through :func:`il2lib.privacy.masking.mask_figure`, and every caption and
note through :func:`il2lib.privacy.masking.mask_text`, and the count views of Table 1, response, survival,
biomarkers and toxicity through complementary suppression (:func:`protected`); patient-level figure kinds
(:data:`il2lib.figures.PATIENT_LEVEL_FIGURES`) are withheld or drawn in their masked form, and rows of
single patients (validation findings) are not listed. The setting is a context variable so that the
section builders need no extra argument; outside :func:`small_cells` nothing is masked.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from il2lib.figures import withheld_under_masking
from il2lib.privacy.disclosure import NO_SUPPRESSION, CountView, Suppression, protect
from il2lib.privacy.masking import mask_figure, mask_table, mask_text

_THRESHOLD: ContextVar[int | None] = ContextVar("report_small_cell_threshold", default=None)
#: Where an audit (a test) collects the count views a report protected; None when nobody asked.
_RECORDED: ContextVar[list | None] = ContextVar("report_protected_views", default=None)
#: Columns whose value gives a masked count back with the denominator (rates, percentages, CIs, medians).
_DEPENDENT = re.compile(r"%|\bCI\b|\brate\b|\bmedian\b", re.IGNORECASE)
_CLAUSE = re.compile(r"((?<=[.;])\s+)")


@contextmanager
def small_cells(threshold: int | None) -> Iterator[None]:
    """Mask what the report builds inside the block (``None``: nothing masked)."""
    if threshold is not None and (int(threshold) != threshold or threshold < 2):
        raise ValueError(f"small_cell_threshold must be a whole number of at least 2, got {threshold!r}.")
    token = _THRESHOLD.set(None if threshold is None else int(threshold))
    try:
        yield
    finally:
        _THRESHOLD.reset(token)


def honours_threshold(build):
    """Run ``build`` under :func:`small_cells` of its ``small_cell_threshold`` keyword."""
    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with small_cells(kwargs.get("small_cell_threshold")):
            return build(*args, **kwargs)
    return wrapper


def threshold() -> int | None:
    """The threshold of the report being built, or None when it is not masked."""
    return _THRESHOLD.get()


@contextmanager
def recording() -> Iterator[list[tuple[str, CountView, Suppression]]]:
    """Collect ``(kind, view, suppression)`` of every count view :func:`protected` hides cells of inside the
    block (for an audit: :func:`il2lib.privacy.disclosure.recoverable` of each should be empty)."""
    views: list = []
    token = _RECORDED.set(views)
    try:
        yield views
    finally:
        _RECORDED.reset(token)


def protected(view: CountView, kind: str) -> Suppression:
    """How the counts of ``view`` (the ``kind`` of table: "table1", "survival", ...) read in this report:
    small ones and their complements hidden when the report is built under :func:`small_cells`."""
    k = threshold()
    if k is None:
        return NO_SUPPRESSION
    shown = protect(view, k)
    recorded = _RECORDED.get()
    if recorded is not None:
        recorded.append((kind, view, shown))
    return shown


def text(value):
    """A caption or note with its counts masked ("n = 3 of 40", "2/17", "(N=2)", "3 events")."""
    k = threshold()
    if k is None or not isinstance(value, str):
        return value
    parts = _CLAUSE.split(value)  # clause by clause: a masked count blanks the percentages of its clause only
    for i in range(0, len(parts), 2):
        parts[i] = mask_text(parts[i], k)
    return "".join(parts)


def dependent_columns(df: pd.DataFrame) -> list[str]:
    """Rate, percentage, CI and median columns of our data (a published number is not ours to mask)."""
    return [c for c in df.columns if isinstance(c, str) and _DEPENDENT.search(c) and "published" not in c.lower()]


def table(df: pd.DataFrame, dependent=None, cohort_rows=None) -> pd.DataFrame:
    """``df`` masked (``dependent`` default: the rate, percentage, CI and median columns). ``cohort_rows``: the
    rows that hold this cohort's counts (default all); the others (published numbers) are shown as printed."""
    k = threshold()
    if k is None:
        return df
    dependent = dependent_columns(df) if dependent is None else [c for c in dependent if c in df.columns]
    masked = mask_table(df, k, dependent=dependent)
    if cohort_rows is not None:
        printed = ~np.asarray(cohort_rows, dtype=bool)
        masked = masked.astype(object)
        masked.iloc[printed] = df.iloc[printed].astype(object).to_numpy()
    return masked.set_axis([text(c) for c in masked.columns], axis=1)


def figure(fig):
    """``fig`` masked (:func:`il2lib.privacy.masking.mask_figure`: labels, titles, annotations, hover, bar lengths)."""
    k = threshold()
    return fig if k is None else mask_figure(fig, k)


def withheld(kind: str | None) -> bool:
    """True when a figure of ``kind`` is left out of this report (see :mod:`il2lib.figures`)."""
    return threshold() is not None and withheld_under_masking(kind)


def methods_text(k: int) -> str:
    """The Methods paragraph of a masked report: what is masked, and what the masking does not prevent."""
    return (f"Small-cell protection: this report was built with small cells masked (threshold {k}). Counts from 1 "
            f"to {k - 1} are shown as \"<{k}\" in every table, figure label, hover text, caption and note; in a "
            "row with a masked count, rates, percentages, confidence intervals and medians are shown as "
            "\"masked\", since with the denominator they give the count back. Patient-level figures (one lane or "
            "point per patient, such as a swimmer plot or the individual points of the biomarker figure) and the "
            "validation findings (one row per patient) are withheld; the biomarker figure shows boxes only, with "
            f"no box for a group of fewer than {k} patients, and survival curves end before fewer than {k} "
            "patients are at risk (survival, cumulative incidence and their differences at a fixed time read \"–\" "
            "there). Zeros, hazard ratios and p-values are not masked. In Table 1, the response, "
            "survival, biomarker and toxicity tables and figures, counts that would give a masked count back from "
            "the totals shown with it (a "
            "column's N minus its other rows, ORR minus PR) are suppressed too and read \"masked\" "
            "(complementary suppression, checked by an integer-programming audit); elsewhere masking is cell by "
            "cell. Masking does not prevent differencing, that is recovering a small count by subtracting the counts of two reports or two "
            "filter settings (for example all lines vs lines 1-2). It is not anonymisation: the data file stays "
            "identifiable.")
