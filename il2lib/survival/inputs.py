"""The (time, event, group) input of a survival analysis, built once for the Survival page and the report."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import group_labels, level_order


def group_levels(df: pd.DataFrame, by: str | None,
                 order: Sequence[str] | None = None) -> tuple[pd.Series, list[str]]:
    """Group labels of a grouping column (il2lib's shared labelling, "Prior PD-1/PD-L1: yes") and their order:
    ``order`` first (levels or labels), then the default order. The first level is the reference of the Cox
    hazard ratio and of the milestone and RMST differences."""
    labels = group_labels(df, by)
    return labels, level_order(by, labels, order)


def survival_input(df: pd.DataFrame, endpoint: str, by: str | None,
                   order: Sequence[str] | None = None) -> pd.DataFrame:
    """Columns ``time`` and ``event`` of the endpoint (duration of response: responders only) and, with
    ``by``, ``group``: an ordered Categorical of the group labels (``order``: see :func:`group_levels`)."""
    ep = schema.ENDPOINTS[endpoint]
    if endpoint == "dor" and schema.BOR in df:
        df = df[df[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)]
    out = pd.DataFrame({"time": pd.to_numeric(df[ep.time], errors="coerce") if ep.time in df else np.nan,
                        "event": df[ep.event].astype("Float64") if ep.event in df else np.nan}, index=df.index)
    if by is not None:
        labels, levels = group_levels(df, by, order)
        out["group"] = pd.Categorical(labels, categories=levels)
    return out
