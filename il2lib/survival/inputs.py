"""The (time, event, group) input of a survival analysis, built once for the Survival page and the report."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.analyses._grouping import group_categories, level_order


def group_levels(df: pd.DataFrame, by: str | None,
                 order: Sequence[str] | None = None) -> tuple[pd.Series, list[str]]:
    """Group labels of a grouping column (il2lib's shared labelling, "Prior PD-1/PD-L1: yes") and their order:
    ``order`` first (levels or labels), then the default order. The first level is the reference of the Cox
    hazard ratio and of the milestone and RMST differences. The labels are a Categorical (see
    :func:`il2lib.analyses._grouping.group_categories`)."""
    labels = group_categories(df, by)
    return labels, level_order(by, labels, order)


def survival_input(df: pd.DataFrame, endpoint: str, by: str | None,
                   order: Sequence[str] | None = None, labels: pd.Series | None = None) -> pd.DataFrame:
    """Columns ``time`` and ``event`` of the endpoint (duration of response: responders only) and, with
    ``by``, ``group``: an ordered Categorical of the group labels (``order``: see :func:`group_levels`).
    ``labels``: the group labels of those patients (:func:`group_levels`) when the caller has them."""
    ep = schema.ENDPOINTS[endpoint]
    if endpoint == "dor" and schema.BOR in df:
        df = df[df[schema.BOR].isin(schema.RESPONDERS).to_numpy(dtype=bool)]
    out = pd.DataFrame({"time": pd.to_numeric(df[ep.time], errors="coerce") if ep.time in df else np.nan,
                        "event": df[ep.event].astype("Float64") if ep.event in df else np.nan}, index=df.index)
    if by is not None:
        if labels is None:
            labels = group_levels(df, by)[0]
        out["group"] = pd.Categorical(labels, categories=level_order(by, labels, order))
    return out
