"""Dashboard on a registry source (Parquet folder through DuckDB, local PostgreSQL) configured in secrets.

The same pages, filters and numbers as the bundled sample file (the same patients loaded from CSV):
every table the Survival and Response pages show is compared cell by cell.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.sources.export import write_parquet, write_postgres
from il2lib.validation.patients import load_cohort
from support.apptest import SAMPLE, protected_view, rerun, sidebar_count, tables, texts, widget
from support.registry import ensure_postgres_binaries

APP = str(SAMPLE.parents[1] / "app.py")


@pytest.fixture(autouse=True)
def _sign_in_elsewhere(monkeypatch):
    """A registry is real data: without [auth] the deployer must say that sign-in happens elsewhere."""
    monkeypatch.setenv("IL2_LOGIN", "none")


@pytest.fixture(scope="module")
def sample_data() -> pd.DataFrame:
    return load_cohort(SAMPLE).data


@pytest.fixture(scope="module")
def parquet_config(tmp_path_factory, sample_data):
    folder = tmp_path_factory.mktemp("app_registry") / "parquet"
    write_parquet(sample_data, folder, rows_per_file=40)
    return {"kind": "parquet", "path": str(folder), "label": "Test registry", "row_limit": 1000}


@pytest.fixture(scope="module")
def postgres_config(sample_data):
    from support.postgres import start_local_postgres

    ensure_postgres_binaries()
    pg = start_local_postgres()
    write_postgres(sample_data, pg.conninfo, "il2_registry")
    yield {"kind": "postgres", "url": pg.url, "table": "il2_registry", "label": "Test registry", "row_limit": 1000}
    pg.stop()


def _open(config: dict | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if config is not None:
        at.secrets["registry"] = config
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if config is None:
        widget(at, "radio", "w_data").set_value("combined")
        rerun(at)
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _tables(at: AppTest) -> list[pd.DataFrame]:
    return [d.reset_index(drop=True) for d in tables(at)]


@pytest.mark.parametrize("which", ["parquet", "postgres"])
def test_registry_is_the_default_choice_and_counts_are_shown(request, which, sample_data):
    config = request.getfixturevalue(f"{which}_config")
    at = _open(config)
    radio = widget(at, "radio", "w_data")
    assert radio.value == "registry" and "Registry database / Parquet folder" in radio.options
    assert any("Test registry" in t for t in texts(at, "caption"))
    metrics = {m.label: m.value for m in at.metric}
    n = len(sample_data)
    assert metrics["Patients in the registry"] == f"{n:,}" and metrics["Selected by the filters"] == f"{n:,}"
    assert sidebar_count(at) == f"n = {n} of {n} patients"
    if "url" in config:  # the connection URL is never shown
        assert not any(config["url"] in t for kind in ("caption", "markdown", "info", "error") for t in texts(at, kind))


@pytest.mark.parametrize("which", ["parquet", "postgres"])
@pytest.mark.parametrize("page", ["pages/3_Survival.py", "pages/2_Response.py", "pages/1_Cohort.py"])
def test_pages_show_the_same_numbers_as_the_sample_file(request, which, page):
    registry = _tables(_open(request.getfixturevalue(f"{which}_config"), page))
    sample = _tables(_open(None, page))
    assert len(registry) == len(sample) > 0
    for a, b in zip(registry, sample):
        pd.testing.assert_frame_equal(a, b)


def test_filters_work_and_a_large_selection_is_refused(parquet_config, sample_data):
    config = dict(parquet_config, row_limit=60)
    at = _open(config)
    n_rcc = len(apply_filter(sample_data, CohortFilter(disease=(schema.RCC,))))
    assert n_rcc <= 60 < len(sample_data)
    assert any("more than the 60 the pages load" in t for t in texts(at, "info"))
    assert sidebar_count(at) == f"n = {len(sample_data)} of {len(sample_data)} patients"  # counted in SQL
    at.switch_page("pages/3_Survival.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("computed here from event counts" in t for t in texts(at, "info"))
    medians = at.dataframe[0].value.set_index("Group")  # KM from SQL counts: the same medians as the rows
    from il2lib.survival import kaplan_meier, logrank_test

    km = kaplan_meier(sample_data[schema.OS_MONTHS], sample_data[schema.OS_EVENT], by=sample_data[schema.DISEASE])
    for disease, r in km.items():
        row = medians.loc[schema.DISEASE_LABELS[disease]]
        assert (row["Median, months"], row["95% CI lower"], row["95% CI upper"]) == pytest.approx(
            (r.median, *r.median_ci), rel=0, abs=0, nan_ok=True)
    lr = logrank_test(sample_data[schema.OS_MONTHS], sample_data[schema.OS_EVENT], sample_data[schema.DISEASE])
    assert any(f"chi-square {lr.statistic:.2f} on 1 df" in t for t in texts(at, "markdown"))
    at.switch_page("pages/1_Cohort.py").run()
    assert any("Narrow the filters" in t for t in texts(at, "info"))
    assert not tables(at)
    widget(at, "multiselect", "w_disease").set_value([schema.RCC])
    rerun(at)
    assert sidebar_count(at) == f"n = {n_rcc} of {len(sample_data)} patients"
    assert tables(at)  # the page analyses the fetched selection


def test_response_page_above_the_row_limit_uses_counts(parquet_config, sample_data):
    from il2lib.analyses.response import response_rates

    at = _open(dict(parquet_config, row_limit=60), "pages/2_Response.py")
    assert any("computed here from counts" in t for t in texts(at, "info"))
    bor, rates = (d.value for d in at.dataframe)
    assert int(bor.to_numpy().sum()) == len(sample_data)
    expected = response_rates(sample_data, by=schema.DISEASE, outcome=("orr", "dcr")).rates
    assert len(rates) == len(expected)
    for r in expected.itertuples(index=False):
        row = rates[(rates["group"] == r.group) & rates["outcome"].str.startswith(r.outcome.upper())]
        assert len(row) == 1
        assert (row["responders"].iloc[0], row["n"].iloc[0]) == (r.responders, r.n)
        assert (row["ci_lower"].iloc[0], row["ci_upper"].iloc[0]) == (r.ci_lower, r.ci_upper)


def test_registry_response_counts_are_masked_with_their_complements(parquet_config, sample_data):
    # RCC by line of IL-2: small groups, counted in SQL above the row limit
    from app_ui.masking import PROTECTED_VIEWS
    from il2lib.privacy.disclosure import SUPPRESSED, recoverable
    from support.disclosure_scan import small_counts

    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["registry"] = dict(parquet_config, row_limit=10)
    at.session_state[PROTECTED_VIEWS] = []  # collect the protected view for the audit
    at.query_params.update({"mask": "1", "disease": "rcc"})
    at.run()
    at.switch_page("pages/2_Response.py").run()
    widget(at, "selectbox", "registry_resp_by").set_value(schema.LINE_OF_IL2)
    rerun(at)
    assert not at.exception, [e.value for e in at.exception]
    bor, rates = (d.value for d in at.dataframe)
    cells = ([str(v) for v in bor.to_numpy().ravel()]
             + [str(v) for v in rates[["responders", "n", "n_ne"]].to_numpy().ravel()])
    assert "<5" in cells
    assert all(c in ("0", "<5", SUPPRESSED) or int(c) >= 5 for c in cells)
    view, shown = protected_view(at, "registry_response")
    assert recoverable(view, shown) == {}
    assert not [s for t in texts(at, "markdown") for s in small_counts(t)]


def test_a_registry_query_over_the_statement_timeout_shows_a_plain_message(postgres_config):
    import psycopg

    conninfo = postgres_config["url"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as con:  # every row of this view takes a second to read
        con.execute("CREATE OR REPLACE FUNCTION il2_slow_row() RETURNS boolean LANGUAGE plpgsql VOLATILE AS "
                    "$$ BEGIN PERFORM pg_sleep(1); RETURN true; END $$")
        con.execute("CREATE OR REPLACE VIEW il2_slow_registry AS SELECT * FROM il2_registry WHERE il2_slow_row()")
    at = _open(dict(postgres_config, table="il2_slow_registry", statement_timeout=0.1))
    assert "The registry query took longer than the 0.1 s limit (statement_timeout); narrow the filters or ask " \
           "the administrator to raise registry.statement_timeout." in texts(at, "error")


def test_a_response_count_over_the_statement_timeout_shows_a_plain_message(postgres_config):
    # The registry answers quickly while the Data page counts it, then slowly (a second a row) when the
    # Response page counts responses above the row limit.
    import psycopg

    conninfo = postgres_config["url"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute("CREATE OR REPLACE FUNCTION il2_slow_row() RETURNS boolean LANGUAGE plpgsql VOLATILE AS "
                    "$$ BEGIN PERFORM pg_sleep(1); RETURN true; END $$")
        con.execute("CREATE OR REPLACE VIEW il2_slowing_registry AS SELECT * FROM il2_registry")
        at = _open(dict(postgres_config, table="il2_slowing_registry", statement_timeout=0.5, row_limit=10))
        con.execute("CREATE OR REPLACE VIEW il2_slowing_registry AS SELECT * FROM il2_registry WHERE il2_slow_row()")
    at.switch_page("pages/2_Response.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The registry query took longer than the 0.5 s limit (statement_timeout); narrow the filters or ask " \
           "the administrator to raise registry.statement_timeout." in texts(at, "warning")


def test_registry_survival_counts_hide_those_left_out_with_the_n_used(parquet_config, sample_data, tmp_path):
    # two patients without an OS time: "Excluded: 2 without time" beside n = N - 2 (N = the sidebar's n)
    # would give 2 back; both are cells of one count view, so n reads "masked"
    from app_ui.masking import PROTECTED_VIEWS
    from il2lib.privacy.disclosure import recoverable
    from support.disclosure_scan import small_counts

    data = sample_data.copy()
    data.loc[data.index[:2], schema.OS_MONTHS] = float("nan")
    write_parquet(data, tmp_path / "parquet", rows_per_file=40)
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["registry"] = dict(parquet_config, path=str(tmp_path / "parquet"), row_limit=10)
    at.session_state[PROTECTED_VIEWS] = []
    at.query_params.update({"mask": "1"})
    at.run()
    at.switch_page("pages/3_Survival.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Excluded: <5 without time" in texts(at, "caption")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "n = masked · " in spec["layout"]["title"]["subtitle"]["text"]
    assert not [s for t in texts(at, "caption") for s in small_counts(t)]
    view, shown = protected_view(at, "registry_survival")
    assert view.counts[("left out", "without time")] == 2 and recoverable(view, shown) == {}
