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


def group_labels(df: pd.DataFrame, by: str | None) -> pd.Series:
    """Group label of each row as text (None = missing).

    Booleans become Yes/No, the line of IL-2 becomes the shared line groups 1 / 2 / 3+, the
    disease its display label; other values their text.
    """
    if by is None:
        return pd.Series(ALL_PATIENTS, index=df.index, dtype=object)
    require_columns(df, by)
    if by == schema.LINE_OF_IL2:
        return line_groups(df[by])
    codes, uniques = pd.factorize(df[by])  # label each distinct value once (missing: code -1 -> None)
    names = [_value_label(u) for u in uniques]
    if by == schema.DISEASE:
        names = [schema.DISEASE_LABELS.get(v, v) if v is not None else None for v in names]
    return pd.Series(np.array(names + [None], dtype=object)[codes], index=df.index, dtype=object)


def level_order(by: str | None, labels: pd.Series) -> list[str]:
    """Levels in a stable, meaningful order (schema order where the column has one)."""
    present = [v for v in pd.unique(labels.dropna())]
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
        canon = [YES, NO]
    ordered = [c for c in canon if c in present]
    rest = [v for v in present if v not in ordered]
    try:
        rest.sort(key=float)
    except ValueError:
        rest.sort()
    return ordered + rest


def column_label(column: str | None) -> str:
    return "All patients" if column is None else schema.label(column)


def patients_statement(n_used: int, excluded: pd.DataFrame) -> str:
    """``"Patients used: 54; left out: 3 (Prior PD-1/PD-L1 agent missing)."``"""
    if excluded is None or excluded.empty:
        return f"Patients used: {n_used}; none left out."
    counts = excluded.groupby("reason", sort=False).size()
    return f"Patients used: {n_used}; left out: " + "; ".join(f"{n} ({r})" for r, n in counts.items()) + "."
