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
_INT = r"(?<![\d.,])(\d+)(?!\d|[.,]\d|%)"  # a whole number, not part of a decimal or a percentage
_PATTERNS = (re.compile(_INT + r"(?=\s*/\s*\d)"),  # numerator of x/n
             re.compile(r"(?<=/)\s*" + _INT),  # denominator of x/n
             re.compile(r"^\s*" + _INT + r"(?=\s*\((?:\d+|\d+(?:\.\d+)?\s*%)\))"),  # n of "n (k)", "n (p%)"
             re.compile(r"(?<=\()" + _INT + r"(?=\))"),  # the k of "n (k)", after its n has been read
             re.compile(r"(?<![A-Za-z])[nN] ?= ?" + _INT),  # "n = 3", "(N=2)"
             re.compile(r"(?<= of )" + _INT),
             re.compile(r"(?<=\()" + _INT + r"(?= [a-z])"),  # "(2 without a date)"
             re.compile(r"(?<!than )" + _INT
                        + r"(?= (?:events?|deaths?|patients?|patient\(s\)|responders?|responses?|unknown)\b)"),
             re.compile(r"(?<!than )" + _INT + r"(?= (?:adverse-event|AE) rows?\b)"),
             re.compile(r"(?<=events = )" + _INT))
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
    through :func:`mask_text`, except a text first column when every column is masked: the row labels.
    In a row where anything was masked, ``dependent`` columns (rates, CIs) become ``"masked"``.
    """
    threshold = _check(threshold)
    out = df.copy()
    hit = np.zeros(len(df), dtype=bool)
    for i, col in enumerate(df.columns if columns is None else columns):
        series = df[col]
        if columns is None and ((i == 0 and not pd.api.types.is_numeric_dtype(series)) or _is_label_column(col)):
            continue  # row labels ("ECOG PS 1", "Line 2") and numbered categories (cycle 3): a label is not a count
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


#: Column headers of numbered categories, whose numbers are labels, not counts.
_LABEL_HEADERS = re.compile(r"^(cycle|line|grade|ecog|year|month|week|day|time|age)\b", re.IGNORECASE)


def _is_label_column(header) -> bool:
    return isinstance(header, str) and bool(_LABEL_HEADERS.match(header.strip()))


def mask_figure(fig: go.Figure, threshold: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Copy of ``fig`` with small counts masked in its text: trace text, names and category labels, titles,
    subtitles, annotations, axis titles and tick labels, and the count fields of hover text.

    A hover field is a count when the template shows ``%{customdata[k]}`` or ``%{customdata[k]:.0f}``
    and column k holds whole numbers only; it is replaced by masked text.
    """
    import plotly.graph_objects as go

    threshold = _check(threshold)
    out = go.Figure(fig)
    _mask_layout_text(out, threshold)
    _mask_bar_lengths(out, threshold)
    for trace in out.data:
        if isinstance(getattr(trace, "name", None), str):
            trace.name = mask_text(trace.name, threshold)
        for axis in ("x", "y"):  # category labels such as "Melanoma (n=3)" or "Prior PD-1: No (0/2)"
            values = getattr(trace, axis, None)
            if values is not None and len(values) and all(isinstance(v, str) for v in values):
                setattr(trace, axis, [mask_text(v, threshold) for v in values])
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


def _bar_counts(trace) -> np.ndarray | None:
    """The per-bar counts of a bar trace whose hover shows ``%{customdata}`` (one count per bar)."""
    custom = getattr(trace, "customdata", None)
    if trace.type != "bar" or custom is None or "%{customdata}" not in (trace.hovertemplate or ""):
        return None
    try:
        values = np.asarray(custom, dtype=float)
    except (TypeError, ValueError):
        return None
    return values if values.ndim == 1 and np.all(values == np.round(values)) else None


def _mask_bar_lengths(fig: go.Figure, threshold: int) -> None:
    """A bar of a masked count becomes a hatched band of one fixed length, labelled "<k": not to scale.

    The band is half as long as the shortest bar that stays shown, so its length says nothing of the
    hidden counts."""
    traces = [(t, c) for t in fig.data if (c := _bar_counts(t)) is not None]
    small = [(c > 0) & (c < threshold) for _, c in traces]
    if not any(m.any() for m in small):
        return
    lengths = [np.asarray(t.x if t.orientation == "h" else t.y, dtype=float) for t, _ in traces]
    kept = np.concatenate([v[~m & (v > 0)] for v, m in zip(lengths, small)])
    band = float(kept.min()) / 2 if kept.size else 1.0
    for (trace, _), values, masked in zip(traces, lengths, small):
        if not masked.any():
            continue
        values = np.where(masked, band, values)
        if trace.orientation == "h":
            trace.x = values
        else:
            trace.y = values
        trace.marker.pattern = {"shape": ["/" if m else "" for m in masked]}
        trace.text = [f"<{threshold}" if m else "" for m in masked]
        trace.textposition, trace.textangle = "inside", 0


def _mask_layout_text(fig: go.Figure, threshold: int) -> None:
    """Titles, subtitles, annotations (subplot titles), legend title and axis titles and tick labels."""
    layout = fig.layout
    if layout.title and layout.title.text:
        layout.title.text = mask_text(layout.title.text, threshold)
    if layout.title and layout.title.subtitle and layout.title.subtitle.text:
        layout.title.subtitle.text = mask_text(layout.title.subtitle.text, threshold)
    for annotation in layout.annotations or ():
        if annotation.text:
            annotation.text = mask_text(annotation.text, threshold)
    if layout.legend and layout.legend.title and layout.legend.title.text:
        layout.legend.title.text = mask_text(layout.legend.title.text, threshold)
    fig.for_each_xaxis(lambda axis: _mask_axis(axis, threshold))
    fig.for_each_yaxis(lambda axis: _mask_axis(axis, threshold))


def _mask_axis(axis, threshold: int) -> None:
    if axis.title and axis.title.text:
        axis.title.text = mask_text(axis.title.text, threshold)
    if axis.ticktext:
        axis.ticktext = [mask_text(t, threshold) for t in axis.ticktext]
    if axis.categoryarray is not None and len(axis.categoryarray) and all(
            isinstance(v, str) for v in axis.categoryarray):
        axis.categoryarray = [mask_text(v, threshold) for v in axis.categoryarray]


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
    """The sentence a masked page carries: what is hidden and what is not prevented."""
    threshold = _check(threshold)
    return (f"Small-cell protection on: counts from 1 to {threshold - 1} read \"<{threshold}\"; counts that would give "
            "one back from the totals on the same page read \"masked\" (complementary suppression); a rate or "
            "percentage of a hidden count is not shown; patient-level figures are withheld. Comparing two filter "
            "settings can still reveal a small count.")
