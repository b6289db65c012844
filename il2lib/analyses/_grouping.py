"""Helpers shared by the analysis modules (grouping, exclusion lists). Internal to il2lib."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.cohort import line_groups
from il2lib.errors import Il2libError

ALL_PATIENTS = "All patients"
YES, NO = "Yes", "No"
EXCLUDED_COLUMNS = ("patient_id", "reason")


class UnknownColumnError(Il2libError, KeyError):
    """A requested column is not in the data."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def require_columns(df: pd.DataFrame, *columns: str) -> None:
    """Raise :class:`UnknownColumnError` naming every missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UnknownColumnError(
            f"Column(s) {', '.join(repr(c) for c in missing)} not in the data; available: "
            f"{', '.join(map(str, df.columns))}.")


def patient_ids(df: pd.DataFrame) -> pd.Series:
    """Patient ids (the index as text when the frame has no id column)."""
    if schema.PATIENT_ID in df.columns:
        return df[schema.PATIENT_ID].astype(str)
    return pd.Series(df.index.astype(str), index=df.index)


def excluded_frame(df: pd.DataFrame, mask, reason: str) -> pd.DataFrame:
    """Rows of ``df`` selected by ``mask`` as (patient_id, reason)."""
    mask = np.asarray(mask, dtype=bool)
    ids = patient_ids(df)[mask]
    return pd.DataFrame({"patient_id": ids.to_numpy(), "reason": reason}, columns=list(EXCLUDED_COLUMNS))


def concat_excluded(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(EXCLUDED_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _value_label(value) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return YES if value else NO
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value).strip()
    return text or None


#: Groupings whose levels are names that explain themselves ("Melanoma", "PROCLAIM", "nivolumab"); the levels of
#: every other grouping (yes/no, line numbers, codes, small integers) are labelled with their variable.
SELF_EXPLAINING = frozenset({schema.DISEASE, schema.SOURCE, schema.PRIOR_PD1_AGENT, schema.HISTOLOGY,
                             schema.AUTOIMMUNE_TYPE, schema.RESPONSE_CRITERIA})
_SEPARATOR = ": "


def level_labels(df: pd.DataFrame, column: str | None) -> pd.Series:
    """Level of each row as text, without the variable (None = missing): booleans Yes/No, the line of IL-2
    the shared line groups 1 / 2 / 3+, the disease its display label, other values their text. For the
    rows of a variable under its own heading (Table 1); groups are labelled by :func:`group_labels`."""
    if column is None:
        return pd.Series(ALL_PATIENTS, index=df.index, dtype=object)
    require_columns(df, column)
    if column == schema.LINE_OF_IL2:
        return line_groups(df[column])
    codes, uniques = pd.factorize(df[column])  # label each distinct value once (missing: code -1 -> None)
    names = [_value_label(u) for u in uniques]
    if column == schema.DISEASE:
        names = [schema.DISEASE_LABELS.get(v, v) if v is not None else None for v in names]
    return pd.Series(np.array(names + [None], dtype=object)[codes], index=df.index, dtype=object)


def group_label(by: str | None, level: str | None) -> str | None:
    """The label of one group of ``by``: the level itself where it explains itself ("Melanoma"), else the
    variable and the level ("Prior PD-1/PD-L1: yes", "Line of IL-2: 3+", "Sex: F"), readable on a slide
    cut out of its page."""
    if level is None or by is None or by in SELF_EXPLAINING:
        return level
    return f"{schema.label(by)}{_SEPARATOR}{level.lower() if level in (YES, NO) else level}"


def value_group_label(by: str | None, value) -> str | None:
    """The group label of one value of ``by`` as a database counts it (True, "melanoma", "3+")."""
    level = _value_label(value)
    if by == schema.DISEASE and level is not None:
        level = schema.DISEASE_LABELS.get(level, level)
    return group_label(by, level)


def group_labels(df: pd.DataFrame, by: str | None) -> pd.Series:
    """Group label of each row (None = missing): :func:`level_labels` named by :func:`group_label`.

    The one labelling of groups in tables, legends, risk tables, downloads and the report.
    """
    codes, names = _group_codes(df, by)
    return pd.Series(np.array(names + [None], dtype=object)[codes], index=df.index, dtype=object)


def group_categories(df: pd.DataFrame, by: str | None) -> pd.Series:
    """:func:`group_labels` as a Categorical (missing: NaN) whose categories are the labels present, in order of
    first appearance: built from one factorization of the column, no label text per row."""
    codes, names = _group_codes(df, by)
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=df.index)


def _group_codes(df: pd.DataFrame, by: str | None) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the distinct group labels (-1 = missing) and those labels, in order of first
    appearance; each distinct value of the column is labelled once."""
    if by is None:
        return np.zeros(len(df), dtype=np.intp), [ALL_PATIENTS] if len(df) else []
    require_columns(df, by)
    if by == schema.LINE_OF_IL2:
        codes, uniques = pd.factorize(line_groups(df[by]))
        names = [_value_label(u) for u in uniques]
    else:
        codes, uniques = pd.factorize(df[by])
        names = [_value_label(u) for u in uniques]
        if by == schema.DISEASE:
            names = [schema.DISEASE_LABELS.get(v, v) if v is not None else None for v in names]
    if by not in SELF_EXPLAINING:
        names = [group_label(by, v) for v in names]
    distinct = list(dict.fromkeys(v for v in names if v is not None))  # two values may share a label
    at = {v: i for i, v in enumerate(distinct)}
    recode = np.array([at[v] if v is not None else -1 for v in names] + [-1], dtype=np.intp)
    return recode[codes], distinct


def level_text(by: str | None, label: str) -> str:
    """A group label without its variable ("Prior PD-1/PD-L1: yes" -> "yes"): the level as a short key."""
    head = f"{schema.label(by)}{_SEPARATOR}" if by is not None and by not in SELF_EXPLAINING else ""
    return label[len(head):] if head and label.startswith(head) else label


def versus(a, b) -> str:
    """"a vs b" of two group labels, the variable written once when both name it: "Line of IL-2: 1 vs 2"."""
    a, b = str(a), str(b)
    head = a.split(_SEPARATOR, 1)[0] + _SEPARATOR if _SEPARATOR in a else ""
    if head and b.startswith(head) and len(a) > len(head) and len(b) > len(head):
        return f"{a} vs {b[len(head):]}"
    return f"{a} vs {b}"


def _canonical(by: str | None, named: bool) -> list[str]:
    """Levels in their meaningful order. Groups put the reference first: without (no) before with (yes), first
    line first; the rows of a variable (Table 1) keep Yes before No."""
    spec = schema.COLUMNS.get(by) if by else None
    if by == schema.DISEASE:
        canon = [schema.DISEASE_LABELS[d] for d in schema.DISEASES]
    elif spec is not None and spec.allowed:
        canon = list(spec.allowed)
    elif by == schema.LDH_CATEGORY:
        canon = list(schema.LDH_CATEGORIES)
    elif by == schema.LINE_OF_IL2:
        canon = ["1", "2", "3+"]
    else:
        canon = [NO, YES] if named else [YES, NO]
    return [group_label(by, c) for c in canon] if named else canon


def level_order(by: str | None, labels: pd.Series, order=None) -> list[str]:
    """Levels present in ``labels`` (group labels or bare levels) in a stable, meaningful order (schema order
    where the column has one; for groups the reference first, see :func:`_canonical`).

    ``order``: levels to put first, in that order (each a label or its level, any case: "No", "Prior
    PD-1/PD-L1: no"); the others follow in the default order. The first level is the reference of
    comparisons (a Cox hazard ratio reads "other vs first"). Names not present are ignored.
    """
    if isinstance(labels.dtype, pd.CategoricalDtype):  # distinct codes, not labels: the same order, no text hashed
        categories = labels.cat.categories
        present = [categories[c] for c in pd.unique(labels.cat.codes.to_numpy()) if c >= 0]
    else:
        present = [v for v in pd.unique(labels.dropna())]
    named = by is not None and by not in SELF_EXPLAINING and any(
        str(v).startswith(f"{schema.label(by)}{_SEPARATOR}") for v in present)
    canon = _canonical(by, named)
    ordered = [c for c in canon if c in present]
    rest = [v for v in present if v not in ordered]
    try:
        rest.sort(key=lambda v: float(level_text(by, v)))
    except ValueError:
        rest.sort()
    default = ordered + rest
    if not order:
        return default
    key = {}
    for v in default:
        key.setdefault(str(v).lower(), v)
        key.setdefault(level_text(by, str(v)).lower(), v)
    first = list(dict.fromkeys(key[k] for k in (str(o).strip().lower() for o in order) if k in key))
    return first + [v for v in default if v not in first]


def column_label(column: str | None) -> str:
    return "All patients" if column is None else schema.label(column)


def patients_statement(n_used: int, excluded: pd.DataFrame) -> str:
    """``"Patients used: 54; left out: 3 (Prior PD-1/PD-L1 agent missing)."``"""
    if excluded is None or excluded.empty:
        return f"Patients used: {n_used}; none left out."
    counts = excluded.groupby("reason", sort=False).size()
    return f"Patients used: {n_used}; left out: " + "; ".join(f"{n} ({r})" for r, n in counts.items()) + "."
