"""PostgreSQL source against a real server (Debian's postgresql, started here on a free loopback port).

The server runs in a temporary data directory for this module and is stopped afterwards. The
tests skip only when the server binaries are absent and cannot be installed (the reason is shown).
Results must equal the in-memory path and the DuckDB source exactly, from the same SQL text.
"""
from __future__ import annotations

import pandas as pd
import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.sources import DuckDBSource, QueryTimeoutError, RowLimitError, UnsafeQueryError, open_source
from il2lib.sources.errors import DataSourceError
from il2lib.sources.export import write_parquet, write_postgres
from il2lib.sources.sql import Query
from support.postgres import start_local_postgres
from support.registry import (FILTERS, GROUPS, assert_same_as_memory, assert_same_categories, ensure_postgres_binaries,
                              registry_frame)

TABLE = "il2_registry"


@pytest.fixture(scope="module")
def server():
    ensure_postgres_binaries()
    pg = start_local_postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return registry_frame()


@pytest.fixture(scope="module")
def source(server, data):
    write_postgres(data, server.conninfo, TABLE)
    src = open_source({"kind": "postgres", "url": server.url, "table": TABLE, "row_limit": 2000})
    yield src
    src.close()


@pytest.fixture(scope="module")
def duck(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("pg_vs_duck") / "registry.parquet"
    write_parquet(data, path)
    src = DuckDBSource(path, row_limit=2000)
    yield src
    src.close()


def test_server_listens_on_loopback_only(server):
    import psycopg

    with psycopg.connect(server.conninfo) as con:
        assert con.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: "none" if f is None else f.describe())
@pytest.mark.parametrize("group", GROUPS, ids=str)
def test_os_by_group_and_filter_equals_memory(source, data, f, group):
    assert_same_as_memory(source, data, "os", f, group)


@pytest.mark.parametrize("endpoint,strata", [("pfs", None), ("pfs", schema.LINE_OF_IL2), ("dor", schema.DISEASE)])
def test_other_endpoints_equal_memory(source, data, endpoint, strata):
    assert_same_as_memory(source, data, endpoint, CohortFilter(sex=("M",)), schema.PRIOR_PD1, strata)


def test_category_counts_equal_memory(source, data):
    for f in FILTERS[:5]:
        assert_same_categories(source, data, schema.BOR, f, schema.LINE_OF_IL2)
        assert_same_categories(source, data, schema.CLINICAL_BENEFIT, f, None)


def test_same_sql_text_and_results_as_duckdb(source, duck):
    f = CohortFilter(disease=(schema.MELANOMA,), age_range=(30, 70), extra=(("braf_v600", ("mutant",)),))
    args = (schema.OS_MONTHS, schema.OS_EVENT, f, schema.PRIOR_PD1, schema.LINE_OF_IL2)
    assert source.survival_query(*args) == duck.survival_query(*args)
    a = source.survival_counts("os", f, schema.PRIOR_PD1, schema.LINE_OF_IL2)
    b = duck.survival_counts("os", f, schema.PRIOR_PD1, schema.LINE_OF_IL2)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)


def test_fetch_rows_equals_apply_filter(source, data, duck):
    f = CohortFilter(disease=(schema.RCC,), prior_pd1_pdl1=(True,))
    rows = source.fetch_rows(f)
    pd.testing.assert_frame_equal(rows, apply_filter(data, f).reset_index(drop=True), check_exact=True)
    pd.testing.assert_frame_equal(rows, duck.fetch_rows(f), check_exact=True)
    with pytest.raises(RowLimitError):
        source.fetch_rows(None)


HOSTILE_VALUES = ("melanoma' OR '1'='1", "x'); DROP TABLE il2_registry; --", "$1", "'; SELECT pg_sleep(5); --",
                  "melanoma\\", "\x00")


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_injection_through_filter_values_selects_nothing(source, server, value):
    for f in (CohortFilter(disease=(value,)), CohortFilter(source=(value,)),
              CohortFilter(extra=(("histology", (value,)),))):
        try:
            n = source.n_patients(f)
        except DataSourceError as exc:  # PostgreSQL refuses a NUL byte in text: a typed error, no SQL ran
            assert "\x00" in value, exc
            continue
        assert n == 0
    assert source.n_patients(None) == 3107  # the table is intact


HOSTILE_COLUMNS = ('disease" OR 1=1 --', "disease; DROP TABLE il2_registry", "DISEASE", "os_months)", "",
                   'a"b', "pg_catalog.pg_user")


@pytest.mark.parametrize("column", HOSTILE_COLUMNS)
def test_injection_through_column_names_is_refused(source, column):
    with pytest.raises(UnsafeQueryError):
        source.n_patients(CohortFilter(extra=((column, ("x",)),)))
    with pytest.raises(UnsafeQueryError):
        source.survival_counts("os", None, group=column)
    with pytest.raises(UnsafeQueryError):
        source.category_counts(column)
    with pytest.raises(UnsafeQueryError):
        source.fetch_rows(CohortFilter(disease=(schema.RCC,), sex=("F",), ecog=(2,)), columns=[column])
    assert source.n_patients(None) == 3107


@pytest.mark.parametrize("table", ['il2_registry"; DROP TABLE x; --', "a b", "x.y.z", "Il2"])
def test_unsafe_table_names_are_refused(server, table):
    with pytest.raises(UnsafeQueryError):
        open_source({"kind": "postgres", "url": server.url, "table": table})


def test_errors_never_echo_the_url(server):
    url = server.url.replace(str(server.port), "1").replace("il2@", "il2:s3cret@")
    with pytest.raises(DataSourceError) as info:
        open_source({"kind": "postgres", "url": url, "table": TABLE})
    assert "s3cret" not in str(info.value)
    with pytest.raises(DataSourceError, match="no table"):
        open_source({"kind": "postgres", "url": server.url, "table": "no_such_table"})


def test_connections_have_a_statement_timeout_and_only_read(source):
    settings = source.execute(Query("SELECT current_setting('statement_timeout') AS timeout, "
                                    "current_setting('default_transaction_read_only') AS read_only"))
    assert settings.iloc[0].tolist() == ["30s", "on"]
    with pytest.raises(DataSourceError, match="read-only transaction"):
        source.execute(Query("CREATE TABLE il2_written (a integer)"))


def test_a_query_over_the_statement_timeout_gets_a_plain_message(source, server):
    src = open_source({"kind": "postgres", "url": server.url, "table": TABLE, "statement_timeout": 0.1})
    assert src.execute(Query("SHOW statement_timeout"))["statement_timeout"].iloc[0] == "100ms"
    with pytest.raises(QueryTimeoutError) as info:
        src.execute(Query("SELECT pg_sleep(5) AS slept"))
    assert str(info.value) == ("The registry query took longer than the 0.1 s limit (statement_timeout); narrow the "
                               "filters or ask the administrator to raise registry.statement_timeout.")
    assert isinstance(info.value, DataSourceError)
    assert src.n_patients(None) == 3107  # the cancelled connection is usable again
    src.close()


def test_statement_timeout_setting_is_checked(source, server):
    with pytest.raises(DataSourceError, match="registry.statement_timeout must be a number of seconds"):
        open_source({"kind": "postgres", "url": server.url, "table": TABLE, "statement_timeout": "soon"})
    src = open_source({"kind": "postgres", "url": server.url, "table": TABLE, "statement_timeout": 0})
    assert src.execute(Query("SHOW statement_timeout"))["statement_timeout"].iloc[0] == "0"  # no limit
    src.close()
