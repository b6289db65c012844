"""Shared checks of the registry-source tests: every source must reproduce the in-memory path exactly."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter, line_groups
from il2lib.sample import combined_cohort, synthetic_cohort
from il2lib.survival import kaplan_meier, logrank_test
from il2lib.survival.counts import kaplan_meier_counts, logrank_counts
from il2lib.validation.patients import load_cohort
from support.postgres import postgres_bin_dir

ROOT = Path(__file__).resolve().parents[2]


def ensure_postgres_binaries() -> None:
    """Install Debian's postgresql when missing (root), else skip saying why; never skip silently."""
    if postgres_bin_dir() is not None:
        return
    if os.geteuid() == 0:  # the same install make test does (scripts/ensure_system_packages.sh)
        done = subprocess.run(["bash", str(ROOT / "scripts" / "ensure_system_packages.sh")], capture_output=True, text=True)
        if postgres_bin_dir() is not None:
            return
        pytest.skip(f"PostgreSQL server binaries could not be installed: {done.stderr.strip()[-300:]}")
    pytest.skip("PostgreSQL server binaries are not installed and this user is not root: "
                "run 'sudo apt-get install -y postgresql'.")


FILTERS = (
    None,
    CohortFilter(),
    CohortFilter(disease=(schema.MELANOMA,)),
    CohortFilter(disease=(schema.RCC,), prior_pd1_pdl1=(False,)),
    CohortFilter(prior_pd1_pdl1=(True,), line_of_il2=("2", "3+")),
    CohortFilter(sex=("F",), age_range=(40.0, 65.5)),
    CohortFilter(ecog=(0, 1), source=()),
    CohortFilter(extra=(("braf_v600", ("Mutant",)), ("brain_mets", ("no",)))),
    CohortFilter(extra=(("n_met_sites", ("2", "3")),)),
    CohortFilter(extra=(("histology", ("clear-cell",)),)),
    CohortFilter(extra=(("not_a_column", ("x",)),)),
    CohortFilter(disease=(schema.MELANOMA,), prior_pd1_agent=("nivolumab", "pembrolizumab")),
)
GROUPS = (None, schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SEX, schema.ECOG)


def registry_frame(n: int = 3000) -> pd.DataFrame:
    """Synthetic patients as loaded (``Cohort.data``) after the combined sample, with missing values added."""
    import io

    raw = pd.concat([combined_cohort()[0], synthetic_cohort(n, seed=11)], ignore_index=True)
    buffer = io.BytesIO(raw.to_csv(index=False).encode())
    buffer.name = "registry.csv"
    data = load_cohort(buffer).data
    data.loc[data.index[:3], schema.OS_MONTHS] = np.nan  # missing times: excluded and counted
    data.loc[data.index[3:5], schema.SEX] = None  # missing group values
    return data


def group_values(df: pd.DataFrame, group: str | None):
    if group is None:
        return None
    return line_groups(df[group]) if group == schema.LINE_OF_IL2 else df[group]


def assert_same_as_memory(source, data: pd.DataFrame, endpoint: str, f, group, strata=None) -> None:
    """KM (every table cell), medians and log-rank from ``source`` equal the in-memory row path."""
    ep = schema.ENDPOINTS[endpoint]
    sub = data if f is None else apply_filter(data, f)
    assert source.n_patients(f) == len(sub)
    counts = source.survival_counts(endpoint, f, group=group, strata=strata)
    assert counts.n_input == len(sub)
    if len(sub) == 0 or counts.n == 0:
        return
    rows = kaplan_meier(sub[ep.time], sub[ep.event], by=group_values(sub, group))
    from_counts = kaplan_meier_counts(counts)
    if group is None:
        rows, from_counts = {None: rows}, {None: from_counts}
        assert from_counts[None].excluded == rows[None].excluded
    else:
        assert from_counts.excluded == rows.excluded and from_counts.n_input == rows.n_input
    assert list(rows.keys()) == list(from_counts.keys())
    for g in rows:
        pd.testing.assert_frame_equal(rows[g].table, from_counts[g].table, check_exact=True)
        np.testing.assert_array_equal([rows[g].median, *rows[g].median_ci],
                                      [from_counts[g].median, *from_counts[g].median_ci])
    if group is not None and len(rows) >= 2:
        lr_rows = logrank_test(sub[ep.time], sub[ep.event], group_values(sub, group),
                               strata=group_values(sub, strata))
        lr_counts = logrank_counts(counts)
        assert (lr_rows.statistic, lr_rows.pvalue, lr_rows.excluded) == \
            (lr_counts.statistic, lr_counts.pvalue, lr_counts.excluded)
        pd.testing.assert_frame_equal(lr_rows.table, lr_counts.table, check_exact=True)


def assert_same_categories(source, data: pd.DataFrame, column: str, f, group) -> None:
    """Patients per (group, category) equal a pandas count of the filtered rows."""
    sub = data if f is None else apply_filter(data, f)
    got = source.category_counts(column, f, group)
    key = lambda v: "<NA>" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)  # noqa: E731
    got_map = {(key(g), key(v)): int(n) for g, v, n in got[["group", "value", "n"]].itertuples(index=False)}
    groups = group_values(sub, group) if group else pd.Series([None] * len(sub), index=sub.index)
    values = group_values(sub, column)
    want: dict = {}
    for g, v in zip(groups.astype(object), values.astype(object)):
        want[(key(g), key(v))] = want.get((key(g), key(v)), 0) + 1
    assert got_map == want
