"""Stored forms of a Parquet registry (a DuckDB database file, a sorted Parquet file): the same counts,
Kaplan-Meier and log-rank as reading the files in place, rebuilt when the files change, values bound.

Exactness: counts tables compared with ``check_exact``, log-rank statistics with ``==``.
"""
from __future__ import annotations

import os

import pandas as pd
import pytest

from bench.datasets import sidebar_draws
from il2lib.cohort import CohortFilter
from il2lib.sources import DuckDBSource, UnsafeQueryError, open_source, sql
from il2lib.sources.errors import DataSourceError
from il2lib.sources.export import write_parquet
from il2lib.survival.counts import kaplan_meier_counts, logrank_counts
from support.registry import FILTERS, GROUPS, assert_same_as_memory, registry_frame

FORMS = ("duckdb-file", "parquet")


def _generated(n: int, folder) -> None:
    """n synthetic registry rows written by DuckDB (bench.datasets' generator): a value with a quote, a value
    spelled two ways."""
    import duckdb

    from bench.datasets import _registry_sql

    folder.mkdir(parents=True)
    con = duckdb.connect()
    spelled = ("SELECT * REPLACE (CASE WHEN histology = 'clear cell' AND age_at_il2 % 2 = 0 THEN 'Clear_Cell ' "
               f"ELSE histology END AS histology) FROM ({_registry_sql(0, n)})")  # two spellings of one value
    con.execute(f"COPY ({spelled}) TO '{folder / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    _generated(100_000, root / "data")
    sources = {"files": DuckDBSource(root / "data", threads=2)}
    for form in FORMS:
        sources[form] = DuckDBSource(root / "data", threads=2, store=form, store_directory=root / "store")
    yield sources
    for src in sources.values():
        src.close()


def test_two_spellings_of_a_value_are_one_filter_value(generated):
    f = CohortFilter(extra=(("histology", ("clear cell",)),))
    n = generated["files"].n_patients(f)
    assert {"clear cell", "Clear_Cell "} <= {raw for raw, _ in generated["duckdb-file"].value_lookup("histology")}
    assert n > 0
    for form in FORMS:
        assert generated[form].n_patients(f) == n


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert (a.n_input, a.excluded, a.groups) == (b.n_input, b.excluded, b.groups)
    if len(a.groups) > 1 and a.n:
        assert logrank_counts(a).statistic == logrank_counts(b).statistic
        for (ga, ka), (gb, kb) in zip(kaplan_meier_counts(a).items(), kaplan_meier_counts(b).items()):
            pd.testing.assert_frame_equal(ka.table, kb.table, check_exact=True)


@pytest.mark.parametrize("form", FORMS)
def test_stored_forms_count_as_the_files_for_random_sidebar_draws(generated, form):
    for f, group in sidebar_draws(7, 12):
        expected = generated["files"].survival_counts("os", f, group=group)
        _same(generated[form].survival_counts("os", f, group=group), expected)
        assert generated[form].n_patients(f) == generated["files"].n_patients(f)
    assert generated[form].column_kinds() == generated["files"].column_kinds()  # stored time codes stay hidden


@pytest.mark.parametrize("form", FORMS)
def test_a_value_with_a_quote_selects_exactly_its_rows(generated, form):
    f = CohortFilter(source=("St. Mary's",))
    g = CohortFilter(extra=(("source", ("st mary's",)),))  # normalised form of the same value
    n = generated["files"].n_patients(f)
    assert n > 0 and generated[form].n_patients(f) == n == generated[form].n_patients(g)
    hostile = CohortFilter(extra=(("source", ("x') OR TRUE --",)),), disease=("rcc' OR '1'='1",))
    assert generated[form].n_patients(hostile) == 0
    with pytest.raises(UnsafeQueryError):
        generated[form].survival_counts("os", None, group='disease"; DROP TABLE il2_registry; --')
    with pytest.raises(UnsafeQueryError):
        generated[form].survival_counts("os", None, group="no_such_column")
    assert generated[form].n_patients(None) == 100_000


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample_store")
    data = registry_frame()
    write_parquet(data, root / "parquet", rows_per_file=700)
    return data, root


@pytest.mark.parametrize("form", FORMS)
def test_stored_forms_equal_the_in_memory_sample(sample, form):
    data, root = sample
    src = open_source({"kind": "parquet", "path": str(root / "parquet"), "store": form,
                       "store_directory": str(root / "store"), "store_memory_limit": "256MB"})
    for f in FILTERS:
        for group in GROUPS[:4]:
            assert_same_as_memory(src, data, "os", f, group)
    src.close()


def _written(sample, tmp_path, n: int):
    """The sample's first n rows as a one-file Parquet registry: (rows, its folder, a store directory)."""
    data = sample[0].iloc[:n]
    folder, store = tmp_path / "data", tmp_path / "store"
    write_parquet(data, folder, rows_per_file=10_000)
    return data, folder, store


def test_changed_files_rebuild_the_store(sample, tmp_path):
    data, folder, store = _written(sample, tmp_path, 200)
    first = DuckDBSource(folder, store="duckdb-file", store_directory=store)
    assert first.store.built and first.n_patients() == len(data)
    first.close()
    again = DuckDBSource(folder, store="duckdb-file", store_directory=store)
    assert not again.store.built and again.store.path == first.store.path
    again.close()
    (part,) = folder.glob("*.parquet")
    smaller = data.iloc[:100]
    os.remove(part)
    write_parquet(smaller, folder, rows_per_file=10_000)
    rebuilt = DuckDBSource(folder, store="duckdb-file", store_directory=store)
    assert rebuilt.store.built and rebuilt.n_patients() == 100
    assert [p.name for p in store.glob("*.duckdb")] == [rebuilt.store.path.name]  # the old store is gone
    rebuilt.close()


def test_store_settings_are_checked(sample, tmp_path):
    _, folder, _ = _written(sample, tmp_path, 50)
    with pytest.raises(DataSourceError, match="Unknown registry store"):
        DuckDBSource(folder, store="cube")
    inside = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "store_here")
    with pytest.raises(DataSourceError, match="outside the application"):
        DuckDBSource(folder, store="parquet", store_directory=inside)
    assert not os.path.exists(inside)


def _setting(src: DuckDBSource, name: str) -> str:
    return src.execute(sql.Query(f"SELECT current_setting('{name}') AS v")).iloc[0]["v"]


def test_two_sources_of_one_store_with_other_settings_both_count(sample, tmp_path):
    """DuckDB opens a database file once per process with one configuration: sources of the same store share
    it, the later source's memory_limit and threads apply, and closing one leaves the other counting."""
    data, folder, store = _written(sample, tmp_path, 200)
    first = DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="512MB", threads=1)
    assert first.n_patients() == 200 and _setting(first, "memory_limit") == "488.2 MiB"
    second = DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="256MB", threads=2)
    assert second.store.path == first.store.path
    assert second.n_patients() == first.n_patients() == 200
    assert _setting(first, "memory_limit") == _setting(second, "memory_limit") == "244.1 MiB"
    assert _setting(first, "threads") == 2
    same = DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="256MB", threads=2)
    assert same.n_patients() == 200
    same.close()
    spill = second.temp_directory
    assert spill and os.path.isdir(spill)
    first.close()
    assert os.path.isdir(spill) and second.n_patients(CohortFilter(disease=("melanoma",))) == \
        int((data["disease"] == "melanoma").sum())
    second.close()
    assert not os.path.exists(spill)  # the shared database's spill directory goes with its last source
    again = DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="128MB", threads=1)
    assert _setting(again, "memory_limit") == "122.0 MiB" and again.n_patients() == 200
    again.close()


def test_an_invalid_setting_beside_an_open_store_names_the_setting(sample, tmp_path):
    _, folder, store = _written(sample, tmp_path, 50)
    first = DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="512MB")
    with pytest.raises(DataSourceError, match="memory_limit .* not valid") as caught:
        DuckDBSource(folder, store="duckdb-file", store_directory=store, memory_limit="lots")
    assert "configuration" not in str(caught.value)
    assert _setting(first, "memory_limit") == "488.2 MiB" and first.n_patients() == 50
    first.close()


def test_a_source_keeps_its_store_while_a_newer_one_is_built_beside_it(sample, tmp_path):
    data, folder, store = _written(sample, tmp_path, 200)
    old = DuckDBSource(folder, store="duckdb-file", store_directory=store)
    (part,) = folder.glob("*.parquet")
    os.remove(part)
    write_parquet(data.iloc[:120], folder, rows_per_file=10_000)
    new = DuckDBSource(folder, store="duckdb-file", store_directory=store)
    assert new.store.built and new.store.path != old.store.path
    assert (old.n_patients(), new.n_patients()) == (200, 120)  # the old file stays readable until closed
    old.close()
    new.close()


def test_a_store_opened_for_writing_elsewhere_in_the_process_is_a_plain_message(sample, tmp_path):
    import duckdb

    write_parquet(sample[0].iloc[:50], tmp_path / "data", rows_per_file=10_000)
    first = DuckDBSource(tmp_path / "data", store="duckdb-file", store_directory=tmp_path / "store")
    path = first.store.path
    first.close()
    writer = duckdb.connect(str(path))
    try:
        with pytest.raises(DataSourceError, match="already open in this process") as caught:
            DuckDBSource(tmp_path / "data", store="duckdb-file", store_directory=tmp_path / "store")
        assert "not valid" not in str(caught.value)
    finally:
        writer.close()
