"""DuckDB source (in-process) on Parquet and CSV, and the in-memory DataFrame source: identical to the row path.

Exactness: every KM table cell, median, CI and log-rank statistic is compared with ``==``.
"""
from __future__ import annotations

import pandas as pd
import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.sources import DataFrameSource, DuckDBSource, RowLimitError, UnsafeQueryError, open_source
from il2lib.sources.errors import DataSourceError
from il2lib.sources.export import write_parquet
from support.registry import FILTERS, GROUPS, assert_same_as_memory, assert_same_categories, registry_frame


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return registry_frame()


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("registry") / "parquet"
    write_parquet(data, folder, rows_per_file=700)  # a folder of part files, read as one table
    return folder


@pytest.fixture(scope="module", params=["parquet", "dataframe"])
def source(request, data, parquet_dir):
    if request.param == "dataframe":
        yield DataFrameSource(data)
        return
    src = open_source({"kind": "parquet", "path": str(parquet_dir), "row_limit": 2000})
    yield src
    src.close()


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: "none" if f is None else f.describe())
@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_os_by_group_and_filter_equals_memory(source, data, f, group):
    assert_same_as_memory(source, data, "os", f, group)


@pytest.mark.parametrize("endpoint", ["pfs", "dor"])
@pytest.mark.parametrize("strata", [None, schema.DISEASE, schema.LINE_OF_IL2])
def test_other_endpoints_and_strata_equal_memory(source, data, endpoint, strata):
    assert_same_as_memory(source, data, endpoint, CohortFilter(ecog=(0, 1)), schema.PRIOR_PD1, strata)


@pytest.mark.parametrize("column,group", [(schema.BOR, None), (schema.BOR, schema.PRIOR_PD1),
                                          (schema.BOR, schema.LINE_OF_IL2), (schema.CLINICAL_BENEFIT, schema.DISEASE)])
def test_category_counts_equal_memory(source, data, column, group):
    for f in FILTERS[:6]:
        assert_same_categories(source, data, column, f, group)


def test_csv_source_equals_memory(tmp_path, data):
    path = tmp_path / "registry.csv"
    data.to_csv(path, index=False)
    src = DuckDBSource(path)
    assert src.column_kinds()[schema.OS_EVENT] == "bool"
    assert_same_as_memory(src, data, "os", CohortFilter(disease=(schema.RCC,)), schema.PRIOR_PD1)
    src.close()


def test_fetch_rows_equals_apply_filter(data, parquet_dir):
    src = DuckDBSource(parquet_dir, row_limit=5000)
    f = CohortFilter(disease=(schema.MELANOMA,), line_of_il2=("1",))
    rows = src.fetch_rows(f)
    expected = apply_filter(data, f).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, expected, check_exact=True)
    some = src.fetch_rows(f, columns=[schema.PATIENT_ID, schema.OS_MONTHS])
    assert list(some.columns) == [schema.PATIENT_ID, schema.OS_MONTHS] and len(some) == len(expected)


def test_row_limit_refuses_large_selections(parquet_dir, data):
    src = DuckDBSource(parquet_dir, row_limit=100)
    with pytest.raises(RowLimitError, match="select 3,107 patients") as info:
        src.fetch_rows(None)
    assert (info.value.n_selected, info.value.limit) == (len(data), 100)
    small = CohortFilter(disease=(schema.RCC,), sex=("F",), ecog=(2,))
    assert len(src.fetch_rows(small)) == len(apply_filter(data, small)) <= 100


def test_bad_paths_and_configs_are_typed_errors(tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        DuckDBSource(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataSourceError, match="Cannot read"):
        DuckDBSource(tmp_path / "junk.parquet")
    with pytest.raises(DataSourceError, match="Unknown registry kind"):
        open_source({"kind": "oracle"})
    with pytest.raises(DataSourceError, match="path"):
        open_source({"kind": "parquet"})


def test_no_extension_is_installed_or_loaded(parquet_dir):
    src = DuckDBSource(parquet_dir)
    src.survival_counts("os", CohortFilter(disease=(schema.RCC,)), schema.PRIOR_PD1)
    settings = src._con.execute("SELECT current_setting('autoinstall_known_extensions'), "
                                "current_setting('autoload_known_extensions')").fetchone()
    assert settings == (False, False)
    installed = src._con.execute("SELECT extension_name FROM duckdb_extensions() WHERE installed AND NOT "
                                 "(install_mode = 'STATICALLY_LINKED' OR install_mode IS NULL)").fetchall()
    assert installed == []
    src.close()


def test_unknown_group_column_is_refused(source):
    with pytest.raises(UnsafeQueryError):
        source.survival_counts("os", None, group='disease"; DROP TABLE x; --')
    with pytest.raises(UnsafeQueryError):
        source.survival_counts("os", None, group="no_such_column")


@pytest.mark.parametrize("group", [schema.PRIOR_PD1, schema.DISEASE, schema.LINE_OF_IL2])
@pytest.mark.parametrize("denominator", ["itt", "evaluable"])
def test_response_rates_from_counts_equal_response_rates(source, data, group, denominator):
    from il2lib.analyses._grouping import group_label, group_labels
    from il2lib.analyses.response import response_rates
    from il2lib.sources.response import response_rates_from_counts

    f = CohortFilter(ecog=(0, 1))
    sub = apply_filter(data, f)
    rows = response_rates(sub, by=group, outcome=("orr", "dcr"), denominator=denominator)
    rates, tests = response_rates_from_counts(source.category_counts(schema.BOR, f, group),
                                              denominator=denominator)
    raw_to_label = dict(zip(sub[group].astype(object), group_labels(sub, group)))
    if group == schema.LINE_OF_IL2:
        raw_to_label = {g: group_label(group, g) for g in rates["group"]}
    rates = rates.assign(group=rates["group"].map(raw_to_label))
    expected = rows.rates.set_index(["group", "outcome"])
    for r in rates.itertuples(index=False):
        e = expected.loc[(r.group, r.outcome)]
        assert (r.responders, r.n, r.rate, r.ci_lower, r.ci_upper, r.n_ne) == \
            (e.responders, e.n, e.rate, e.ci_lower, e.ci_upper, e.n_ne)
    assert len(rates) == len(expected)
    for comparison in rows.comparisons:
        # the same test on the same counts; group rows may come in another order (last-bit differences)
        assert tests[comparison.outcome].pvalue == pytest.approx(comparison.result.pvalue, rel=1e-12)
        assert tests[comparison.outcome].test == comparison.result.test


SPILLING_QUERY = "SELECT count(*) AS n FROM (SELECT i % 1000000 AS g, sum(i) AS s FROM range(2000000) t(i) GROUP BY g)"


def _settings(src) -> tuple:
    return src._con.execute("SELECT current_setting('temp_directory'), current_setting('memory_limit'), "
                            "current_setting('threads')").fetchone()


def test_default_limits_and_a_private_temp_directory_in_the_temp_dir(parquet_dir, tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # serve.py points tempfile.tempdir at tmpfs
    src = open_source({"kind": "parquet", "path": str(parquet_dir)})
    temp_dir, memory, threads = _settings(src)
    assert os.path.dirname(temp_dir) == str(tmp_path) and os.path.basename(temp_dir).startswith("il2duckdb-")
    assert os.stat(temp_dir).st_mode & 0o777 == 0o700
    assert memory == "953.6 MiB"  # DuckDB's display of 1GB (10^9 bytes); its own default is 80 % of RAM
    assert threads == min(4, os.cpu_count())
    src.close()
    assert not os.path.exists(temp_dir)


def test_configured_limits_and_temp_directory(parquet_dir, tmp_path):
    import os

    src = open_source({"kind": "parquet", "path": str(parquet_dir), "memory_limit": "200MB", "threads": 1,
                       "temp_directory": str(tmp_path)})
    temp_dir, memory, threads = _settings(src)
    assert os.path.dirname(temp_dir) == str(tmp_path) and (memory, threads) == ("190.7 MiB", 1)
    src.close()
    src = open_source({"kind": "parquet", "path": str(parquet_dir), "temp_directory": ""})
    assert _settings(src)[0] == ""  # no spilling at all
    src.close()


def test_spilled_data_goes_to_the_temp_directory_never_the_working_directory(parquet_dir, tmp_path, monkeypatch):
    from il2lib.sources.sql import Query

    cwd, spill = tmp_path / "cwd", tmp_path / "spill"
    cwd.mkdir(), spill.mkdir()
    monkeypatch.chdir(cwd)  # DuckDB's default temp_directory is '.tmp' here
    src = DuckDBSource(parquet_dir, memory_limit="16MB", threads=1, temp_directory=spill)
    (private,) = spill.iterdir()
    assert src.execute(Query(SPILLING_QUERY))["n"].iloc[0] == 1_000_000
    assert [p.name for p in private.iterdir() if p.name.startswith("duckdb_temp")]  # it did spill, there
    assert list(cwd.iterdir()) == []
    src.close()
    assert list(spill.iterdir()) == []


def test_a_query_over_the_memory_limit_names_the_setting(parquet_dir):
    from il2lib.sources.sql import Query

    src = DuckDBSource(parquet_dir, memory_limit="16MB", threads=1, temp_directory="")
    with pytest.raises(DataSourceError, match=r"more memory than the 16MB limit \(memory_limit\).*"
                                              r"registry\.memory_limit") as info:
        src.execute(Query(SPILLING_QUERY))
    assert "Traceback" not in str(info.value)
    src.close()


def test_unusable_resource_settings_are_typed_errors(parquet_dir, tmp_path):
    with pytest.raises(DataSourceError, match="registry.temp_directory"):
        DuckDBSource(parquet_dir, temp_directory=tmp_path / "missing")
    with pytest.raises(DataSourceError, match="memory_limit"):
        DuckDBSource(parquet_dir, memory_limit="lots", temp_directory=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the private directory of the refused source is gone
