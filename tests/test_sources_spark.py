"""Spark source (a local PySpark session, one per test run) against the DuckDB source on the same Parquet files.

Exactness: the aggregate, every KM table cell, median and log-rank statistic are compared with ``==``.
Only the per-(group, time) counts cross from Spark: the collected rows are counted.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.sources import DuckDBSource, QueryTimeoutError, RowLimitError, UnsafeQueryError, open_source
from il2lib.sources.errors import DataSourceError
from il2lib.sources.sql import Query
from il2lib.survival.counts import kaplan_meier_counts, logrank_counts
from support.registry import FILTERS, GROUPS, assert_same_as_memory, registry_frame

HOSTILE_VALUES = ("St. Mary's", "x'); DROP TABLE t; --", "' OR '1'='1", "`registry`", ":p1", "$1", "a\\b",
                  "Zürich — Hôpital", "melanoma")


def write_spark_parquet(frame: pd.DataFrame, folder, rows_per_file: int) -> None:
    """Part files of one schema (as Spark writes them), with microsecond timestamps (Spark reads no nanoseconds)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for part, start in enumerate(range(0, len(frame), rows_per_file)):
        pq.write_table(table.slice(start, rows_per_file), folder / f"part-{part:05d}.parquet", coerce_timestamps="us")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return registry_frame()


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("spark_registry") / "parquet"
    write_spark_parquet(data, folder, 1000)
    return folder


@pytest.fixture(scope="module")
def source(spark, parquet_dir):
    src = open_source({"kind": "spark", "path": str(parquet_dir), "row_limit": 2000})
    yield src
    src.close()


@pytest.fixture(scope="module")
def duck(parquet_dir):
    src = DuckDBSource(parquet_dir, row_limit=2000)
    yield src
    src.close()


def assert_same_as_duckdb(spark_src, duck, endpoint: str, f, group, strata=None) -> None:
    assert spark_src.n_patients(f) == duck.n_patients(f)
    a = spark_src.survival_counts(endpoint, f, group, strata)
    b = duck.survival_counts(endpoint, f, group, strata)
    assert (a.n_input, a.excluded) == (b.n_input, b.excluded)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    if a.n == 0:
        return
    km_a, km_b = kaplan_meier_counts(a), kaplan_meier_counts(b)
    if group is None:
        km_a, km_b = {None: km_a}, {None: km_b}
    assert list(km_a) == list(km_b)
    for g in km_a:
        pd.testing.assert_frame_equal(km_a[g].table, km_b[g].table, check_exact=True)  # times, at risk, events, S(t)
        np.testing.assert_array_equal([km_a[g].median, *km_a[g].median_ci], [km_b[g].median, *km_b[g].median_ci])
    if group is not None and len(km_a) >= 2:
        lr_a, lr_b = logrank_counts(a), logrank_counts(b)
        assert (lr_a.statistic, lr_a.pvalue, lr_a.excluded) == (lr_b.statistic, lr_b.pvalue, lr_b.excluded)
        pd.testing.assert_frame_equal(lr_a.table, lr_b.table, check_exact=True)


def test_the_session_runs_in_utc_with_bounded_resources(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.getConf().get("spark.driver.memory") == "1g"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"
    assert spark.sparkContext.master == "local[2]"


@pytest.mark.parametrize("k", range(len(FILTERS)),
                         ids=lambda k: "none" if FILTERS[k] is None else FILTERS[k].describe())
def test_km_and_logrank_equal_duckdb(source, duck, k):
    assert_same_as_duckdb(source, duck, "os", FILTERS[k], GROUPS[k % len(GROUPS)])


@pytest.mark.parametrize("endpoint,strata", [("pfs", None), ("pfs", schema.LINE_OF_IL2), ("dor", schema.DISEASE)])
def test_other_endpoints_and_strata_equal_duckdb(source, duck, endpoint, strata):
    assert_same_as_duckdb(source, duck, endpoint, CohortFilter(ecog=(0, 1)), schema.PRIOR_PD1, strata)


def test_km_and_logrank_equal_the_row_path(source, data):
    assert_same_as_memory(source, data, "os", CohortFilter(disease=(schema.MELANOMA,)), schema.PRIOR_PD1)


@pytest.mark.parametrize("column,group,k", [(schema.BOR, schema.LINE_OF_IL2, 2), (schema.BOR, None, 4),
                                            (schema.CLINICAL_BENEFIT, schema.DISEASE, 5)])
def test_response_counts_equal_duckdb(source, duck, column, group, k):
    def counted(src):
        out = src.category_counts(column, FILTERS[k], group)
        return sorted((str(g), str(v), int(n)) for g, v, n in out[["group", "value", "n"]].itertuples(index=False))

    assert counted(source) == counted(duck)


@pytest.mark.parametrize("group", [schema.DISEASE, schema.LINE_OF_IL2])
def test_only_counts_per_group_and_time_are_collected(source, data, group):
    f = CohortFilter(age_range=(30.0, 75.0))
    counts = source.survival_counts("os", f, group)
    collected = source.last_collected_rows
    sub = apply_filter(data, f)
    keys = pd.DataFrame({"group": line_groups_or(sub, group), "time": sub[schema.OS_MONTHS],
                         "event": sub[schema.OS_EVENT].astype(object)})
    n_groups, n_times = keys["group"].nunique(dropna=False), keys["time"].nunique(dropna=False)
    assert collected == len(keys.drop_duplicates())  # one row per (group, time, event) key, nothing else
    assert collected <= n_groups * n_times * 2  # at most groups x distinct times (event and censoring rows)
    assert counts.n_input == len(sub)


def line_groups_or(sub: pd.DataFrame, group: str) -> pd.Series:
    from il2lib.cohort import line_groups

    return line_groups(sub[group]) if group == schema.LINE_OF_IL2 else sub[group].astype(object)


def test_fetch_rows_equal_apply_filter_with_dates_in_utc(source, data):
    f = CohortFilter(disease=(schema.RCC,), prior_pd1_pdl1=(True,))
    rows = source.fetch_rows(f)
    assert source.last_collected_rows == len(rows)
    pd.testing.assert_frame_equal(rows, apply_filter(data, f).reset_index(drop=True), check_exact=True)
    with pytest.raises(RowLimitError, match="select 3,107 patients"):
        source.fetch_rows(None)


def test_date_differences_in_days_equal_duckdb(source, duck):
    spark_days = source.execute(Query(f"SELECT datediff(date_death, date_il2_start) AS d FROM {source.relation} "
                                      "WHERE date_death IS NOT NULL ORDER BY file_row"))["d"]
    duck_days = duck.execute(Query(f"SELECT date_diff('day', date_il2_start, date_death) AS d FROM {duck.relation} "
                                   "WHERE date_death IS NOT NULL ORDER BY file_row"))["d"]
    assert len(spark_days) > 100
    assert spark_days.astype("int64").tolist() == duck_days.astype("int64").tolist()


@pytest.fixture(scope="module")
def hostile(spark, data, tmp_path_factory):
    """A cohort whose source and an extra column hold quotes, SQL text and parameter markers."""
    frame = data.iloc[:900].copy()
    values = [HOSTILE_VALUES[i % len(HOSTILE_VALUES)] for i in range(len(frame))]
    frame[schema.SOURCE] = values
    frame["centre"] = values
    folder = tmp_path_factory.mktemp("spark_hostile") / "parquet"
    write_spark_parquet(frame, folder, 400)
    src = open_source({"kind": "spark", "path": str(folder), "row_limit": 2000})
    duck = DuckDBSource(folder, row_limit=2000)
    yield frame, src, duck
    src.close()
    duck.close()


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_value_with_quotes_or_sql_matches_literally_and_selects_exactly_its_rows(hostile, value):
    frame, src, duck = hostile
    exact = CohortFilter(source=(value,))
    wanted = frame[schema.SOURCE] == value
    assert src.n_patients(exact) == int(wanted.sum()) == 100
    rows = src.fetch_rows(exact, columns=[schema.PATIENT_ID, schema.SOURCE])
    assert rows[schema.SOURCE].tolist() == [value] * 100
    assert rows[schema.PATIENT_ID].tolist() == frame.loc[wanted, schema.PATIENT_ID].tolist()
    assert_same_as_duckdb(src, duck, "os", exact, schema.PRIOR_PD1)
    normalised = CohortFilter(extra=(("centre", (value,)),))  # compared as normalised text, as apply_filter does
    assert src.n_patients(normalised) == duck.n_patients(normalised) == len(apply_filter(frame, normalised)) >= 100
    assert src.n_patients(None) == len(frame)  # the table is intact


def test_filter_values_travel_as_named_parameters(source):
    from il2lib.sources.spark import spark_query

    f = CohortFilter(disease=(HOSTILE_VALUES[1],), age_range=(18.0, 99.0), extra=(("histology", ("St. Mary's",)),))
    text, args = spark_query(source.survival_query(schema.OS_MONTHS, schema.OS_EVENT, f, schema.PRIOR_PD1))
    assert "DROP" not in text and "mary" not in text.lower() and "18" not in text.replace(source.relation, "")
    assert set(args.values()) == {HOSTILE_VALUES[1], 18.0, 99.0, "st mary's"}
    assert all(f":{name}" in text for name in args)


HOSTILE_COLUMNS = ('disease" OR 1=1 --', "disease` OR 1=1 --", "disease; DROP TABLE t", "DISEASE", "os_months)", "",
                   "not_a_column", "registry.disease")


@pytest.mark.parametrize("column", HOSTILE_COLUMNS)
def test_an_unknown_column_or_identifier_is_refused_with_a_plain_message(source, column):
    for call in (lambda: source.survival_counts("os", None, group=column), lambda: source.category_counts(column),
                 lambda: source.fetch_rows(CohortFilter(disease=(schema.RCC,), sex=("F",), ecog=(2,)),
                                           columns=[column])):
        with pytest.raises(UnsafeQueryError) as info:
            call()
        message = str(info.value)
        assert message.startswith("Column ") and "\n" not in message and "org.apache" not in message
    if column != "not_a_column":  # a plain unknown name in a filter keeps no row, as in apply_filter
        with pytest.raises(UnsafeQueryError):
            source.n_patients(CohortFilter(extra=((column, ("x",)),)))


@pytest.mark.parametrize("table", ["il2_registry`; DROP TABLE x; --", "a b", "a.b.c.d", "Il2"])
def test_unsafe_table_names_are_refused(spark, table):
    with pytest.raises(UnsafeQueryError):
        open_source({"kind": "spark", "table": table})


def test_a_missing_path_or_table_is_a_plain_error(spark, tmp_path):
    with pytest.raises(DataSourceError) as info:
        open_source({"kind": "spark", "path": str(tmp_path / "no_such_folder")})
    assert str(info.value) == "Registry path not found: no_such_folder."
    with pytest.raises(DataSourceError) as info:
        open_source({"kind": "spark", "table": "no_such_table"})
    assert str(info.value).startswith("Cannot read the registry table no_such_table:") and "\n" not in str(info.value)
    with pytest.raises(DataSourceError, match="needs a 'path'"):
        open_source({"kind": "spark"})


def test_a_remote_that_is_not_a_spark_connect_url_is_refused(spark):
    with pytest.raises(DataSourceError) as info:
        open_source({"kind": "spark", "remote": "http://localhost:1", "path": "/x"})
    assert str(info.value) == "registry.remote must be a Spark Connect URL (sc://host:port)."


def test_a_query_over_the_timeout_is_interrupted_with_a_plain_message(spark, parquet_dir, source):
    from pyspark.sql import functions as F

    slow = F.udf(lambda x: (time.sleep(0.05), x)[1], "double")  # 400 rows: about 10 s on 2 cores
    spark.read.parquet(str(parquet_dir)).limit(400).withColumn(schema.OS_MONTHS, slow(schema.OS_MONTHS)) \
        .createOrReplaceTempView("il2_slow_registry")
    src = open_source({"kind": "spark", "table": "il2_slow_registry", "statement_timeout": 1})
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info:
        src.survival_counts("os", None, schema.DISEASE)
    assert time.monotonic() - started < 5  # cancelled, not waited for
    assert str(info.value) == ("The registry query took longer than the 1 s limit (statement_timeout); narrow the "
                               "filters or ask the administrator to raise registry.statement_timeout.")
    src.close()
    spark.catalog.dropTempView("il2_slow_registry")
    assert source.n_patients(None) == 3107  # the session answers again


def test_an_unreachable_spark_connect_server_is_a_plain_error(spark):
    started = time.monotonic()
    with pytest.raises(DataSourceError) as info:
        open_source({"kind": "spark", "remote": "sc://127.0.0.1:1/;token=s3cret", "path": "/x"})
    assert str(info.value).startswith("Cannot reach the Spark Connect server at 127.0.0.1:1 (")
    assert "s3cret" not in str(info.value) and time.monotonic() - started < 5


@pytest.mark.parametrize("page", ["pages/3_Survival.py", "pages/2_Response.py"])
def test_pages_show_the_same_numbers_on_spark_as_on_duckdb(spark, tmp_path_factory, monkeypatch, page):
    from streamlit.testing.v1 import AppTest

    from il2lib.validation.patients import load_cohort
    from support.apptest import SAMPLE, tables

    monkeypatch.setenv("IL2_LOGIN", "none")  # a registry is real data: sign-in happens elsewhere
    folder = tmp_path_factory.mktemp("spark_app") / "parquet"
    write_spark_parquet(load_cohort(SAMPLE).data, folder, 40)
    shown = []
    for kind in ("spark", "parquet"):
        at = AppTest.from_file(str(SAMPLE.parents[1] / "app.py"), default_timeout=120)
        at.secrets["registry"] = {"kind": kind, "path": str(folder), "label": "Test registry", "row_limit": 1000}
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown.append([d.reset_index(drop=True) for d in tables(at)])
    assert len(shown[0]) == len(shown[1]) > 0
    for a, b in zip(*shown):
        pd.testing.assert_frame_equal(a, b)
