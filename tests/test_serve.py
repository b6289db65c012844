"""serve.py, the launcher of ``make run`` and the browser tests: what it preloads is what the pages use."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import serve  # noqa: E402
from app_ui import data as data_mod  # noqa: E402
from il2lib import schema  # noqa: E402
from tests.e2e.server import server_command  # noqa: E402


def test_preloaded_sample_is_the_cohort_the_first_page_gets(monkeypatch):
    import il2lib.validation

    monkeypatch.delenv(data_mod.SERVER_DATA_ENV, raising=False)
    data_mod._load_path.clear()
    assert serve.preload_sample() == data_mod.DEFAULT_CHOICE

    def no_second_load(*args, **kwargs):
        raise AssertionError("the page read the sample again")

    monkeypatch.setattr(il2lib.validation, "load_cohort", no_second_load)
    # the frame's call on a fresh session: no mapping, the default clinical-benefit rule
    loaded = data_mod.load_current(data_mod.DEFAULT_CHOICE, None, schema.CB_SD_MONTHS_DEFAULT)
    assert loaded.ok and loaded.adverse_events is not None and not loaded.error


def test_a_server_file_is_not_preloaded(monkeypatch, tmp_path):
    monkeypatch.setenv(data_mod.SERVER_DATA_ENV, str(tmp_path / "big.parquet"))
    assert serve.preload_sample() is None


def test_warm_imports_cover_the_first_run_and_nothing_optional():
    serve.warm_imports()
    assert {"pandas", "pyarrow", "scipy.special", "il2lib.validation", "il2lib.survival"} <= set(sys.modules)
    optional = ("lifelines", "statsmodels", "openpyxl", "duckdb", "kaleido", "sqlalchemy")
    assert not any(name in serve.WARM_MODULES for name in optional)


def test_browser_tests_start_the_dashboard_through_the_launcher():
    assert server_command(ROOT / "app.py", 8600)[1] == str(ROOT / "serve.py")
    other = server_command(ROOT / "bench" / "baseline_app.py", 8600)
    assert other[1:4] == ["-m", "streamlit", "run"]


def test_a_failing_warm_up_is_reported_and_the_server_still_starts(monkeypatch):
    def broken(*args, **kwargs):
        raise ImportError("no module named 'pandas'")

    monkeypatch.setattr(serve, "warm_imports", broken)
    assert serve.warm_up() == "Warm-up stopped (ImportError: no module named 'pandas'); starting Streamlit."
