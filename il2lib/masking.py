"""Small-cell protection for screen-sharing outside the care team.

Counts from 1 to ``threshold - 1`` (default 5) are replaced by ``"<5"`` in tables, figure text
and hover text; zeros and counts at or above the threshold stay. Rates whose numerator is masked
can be masked too (``dependent`` columns), since a rate and its denominator give the count back.

What is masked: whole-integer cells of count columns; in text cells, the integers of "x/n"
fractions, "n (k)" pairs and cells that are a bare integer. Decimals (months, percentages, CIs)
are never touched, except a percentage in the same cell as a masked count ("<5 (–)"). Estimates
(survival curves, medians) are not masked. This is a display filter, not anonymisation: the data stay identifiable to
anyone who has them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # plotly is imported when a figure is masked (start-up time)
    import plotly.graph_objects as go

DEFAULT_THRESHOLD = 5
MASKED_DEPENDENT = "masked"
_INT = r"(?<![\d.,])(\d+)(?![\d.,%])"
_PATTERNS = (re.compile(_INT + r"(?=\s*/\s*\d)"),  # numerator of x/n
             re.compile(r"(?<=/)\s*" + _INT),  # denominator of x/n
             re.compile(r"^\s*" + _INT + r"(?=\s*\((?:\d+|\d+(?:\.\d+)?\s*%)\))"),  # n of "n (k)", "n (p%)"
             re.compile(r"(?<=\()" + _INT + r"(?=\))"),  # the k of "n (k)", after its n has been read
             re.compile(r"(?<=n = )" + _INT), re.compile(r"(?<=n=)" + _INT), re.compile(r"(?<= of )" + _INT),
             re.compile(r"(?<=\()" + _INT + r"(?= [a-z])"))  # "(2 without a date)"  # "n = 3 of 40"
_PERCENT = re.compile(r"\d+(?:\.\d+)?\s*%")
_TEMPLATE_REF = re.compile(r"%\{customdata(?:\[(\d+)\])?(:\.0f)?\}")


def _check(threshold: int) -> int:
    if int(threshold) != threshold or threshold < 1:
        raise ValueError(f"threshold must be a positive whole number, got {threshold!r}.")
    return int(threshold)


def mask_count(n, threshold: int = DEFAULT_THRESHOLD):
    """``"<5"`` for 1 <= n < threshold; otherwise n unchanged (zeros and missing stay)."""
    threshold = _check(threshold)
    if n is None or (isinstance(n, float) and np.isnan(n)):
        return n
    return f"<{threshold}" if 0 < n < threshold else n


def mask_text(text: str, threshold: int = DEFAULT_THRESHOLD) -> str:
    """Mask the small counts inside one text cell ("3/40" -> "<5/40", "12 (3)" -> "12 (<5)", "4" -> "<5")."""
    threshold = _check(threshold)
    if not isinstance(text, str):
        return text
    if re.fullmatch(r"\s*\d+\s*", text):
        return str(mask_count(int(text), threshold))
    sub = lambda m: m.group(0).replace(m.group(1), str(mask_count(int(m.group(1)), threshold)))  # noqa: E731
    original = text
    for pattern in _PATTERNS:
        text = pattern.sub(sub, text)
    if text != original:  # a percentage beside a masked count gives the count back: "<5 (13.3%)" -> "<5 (–)"
        text = _PERCENT.sub("–", text)
    return text


def mask_table(df: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD, columns: Sequence[str] | None = None,
               dependent: Sequence[str] = ()) -> pd.DataFrame:
    """Copy of ``df`` with small counts masked in ``columns`` (default: every column).

    Integer columns (and float columns holding whole numbers only) are counts; text columns go
    through :func:`mask_text`, except a text first column when every column is masked: the row labels. In a row where anything was masked, ``dependent`` columns (rates,
    CIs) become ``"masked"``.
    """
    threshold = _check(threshold)
    out = df.copy()
    hit = np.zeros(len(df), dtype=bool)
    for i, col in enumerate(df.columns if columns is None else columns):
        series = df[col]
        if columns is None and i == 0 and not pd.api.types.is_numeric_dtype(series):
            continue  # the row labels ("ECOG PS 1", "Line 2"): a label is not a count
        if pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_numeric_dtype(series):
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            whole = np.isnan(values) | (values == np.round(values))
            if not whole.all():
                continue
            small = (values > 0) & (values < threshold)
            if small.any():  # one text type per column (Arrow-friendly): "12", "<5", "" for missing
                out[col] = [f"<{threshold}" if s else ("" if np.isnan(v) else str(int(v)))
                            for v, s in zip(values, small)]
        else:
            masked = series.map(lambda v: mask_text(v, threshold))
            small = (masked.astype(str) != series.astype(str)).to_numpy()
            out[col] = masked
        hit |= small
    for col in dependent:
        out[col] = out[col].astype(object).where(~hit, MASKED_DEPENDENT)
    if columns is None:  # headers such as "Melanoma (n=3)" carry counts too
        out.columns = [mask_text(c, threshold) if isinstance(c, str) else c for c in out.columns]
    return out


def mask_figure(fig: go.Figure, threshold: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Copy of ``fig`` with small counts masked in trace text and in count fields of hover text.

    A hover field is a count when the template shows ``%{customdata[k]}`` or ``%{customdata[k]:.0f}``
    and column k holds whole numbers only; it is replaced by masked text.
    """
    import plotly.graph_objects as go

    threshold = _check(threshold)
    out = go.Figure(fig)
    for trace in out.data:
        text = getattr(trace, "text", None)
        if text is not None and not isinstance(text, str):
            trace.text = [mask_text(str(t), threshold) if t is not None else t for t in text]
        elif isinstance(text, str):
            trace.text = mask_text(text, threshold)
        template = getattr(trace, "hovertemplate", None)
        custom = getattr(trace, "customdata", None)
        if not template or custom is None or isinstance(template, (list, tuple)):
            continue
        trace.customdata, trace.hovertemplate = _mask_custom(np.asarray(custom, dtype=object), template, threshold)
    return out


def _mask_custom(custom: np.ndarray, template: str, threshold: int):
    one_d = custom.ndim == 1
    data = custom.reshape(-1, 1).copy() if one_d else custom.copy()
    for match in set(_TEMPLATE_REF.finditer(template)):
        k = int(match.group(1) or 0)
        if k >= data.shape[1]:
            continue
        try:
            values = data[:, k].astype(float)
        except (TypeError, ValueError):
            continue
        if not np.all(np.isnan(values) | (values == np.round(values))):
            continue
        data[:, k] = [v if np.isnan(v) else mask_count(int(v), threshold) for v in values]
        ref = f"%{{customdata[{k}]}}" if match.group(1) is not None else "%{customdata}"
        template = template.replace(match.group(0), ref)
    return (data[:, 0] if one_d else data), template


def masking_caption(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The sentence a masked table or figure carries."""
    threshold = _check(threshold)
    return (f"Small-cell protection on: counts from 1 to {threshold - 1} are shown as \"<{threshold}\" in tables, "
            "figure labels and hover text (rates from masked counts are masked too).")
