"""``python -m il2lib build-store``: builds the registry's stored form from the dashboard's ``[registry]`` settings,
says when it is current, rebuilds after a data refresh, waits for a build in progress, and answers bad settings
with one plain line and exit status 2."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from il2lib.cli import main
from il2lib.sources import DuckDBSource
from il2lib.sources.export import write_parquet
from support.registry import registry_frame

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"


def run(cwd: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([python, "-m", "il2lib", "build-store", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, **kwargs)


def _settings(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text)


@pytest.fixture()
def deployment(tmp_path):
    """A registry folder of 300 rows and the dashboard's settings naming its DuckDB store."""
    data = registry_frame().iloc[:300]
    write_parquet(data, tmp_path / "data", rows_per_file=10_000)
    _settings(tmp_path, f'[registry]\nkind = "parquet"\npath = "{tmp_path / "data"}"\nstore = "duckdb-file"\n'
                        f'store_directory = "{tmp_path / "store"}"\nstore_memory_limit = "256MB"\n')
    return tmp_path, data


def _refresh(folder: Path, data) -> None:
    """The nightly export: the registry file replaced by a new one."""
    (part,) = folder.glob("*.parquet")
    os.remove(part)
    write_parquet(data, folder, rows_per_file=10_000)


def test_build_store_builds_says_current_and_rebuilds_after_a_refresh(deployment):
    root, data = deployment
    first = run(root)
    assert first.returncode == 0, first.stderr
    (line,) = first.stdout.splitlines()
    (built,) = (root / "store").glob("*.duckdb")
    assert line.startswith("Built the registry store (duckdb-file) in ") and "300 rows" in line
    assert line.endswith(str(built))
    again = run(root, "--format", "json")
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out == {"built": False, "form": "duckdb-file", "path": str(built), "rows": 300,
                   "size_bytes": built.stat().st_size, "build_seconds": 0.0}
    assert run(root).stdout.startswith("The registry store (duckdb-file) is current: 300 rows, ")
    serving = DuckDBSource(root / "data", store="duckdb-file", store_directory=root / "store")  # the dashboard's
    _refresh(root / "data", data.iloc[:120])
    rebuilt = run(root, "--format", "json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    out = json.loads(rebuilt.stdout)
    assert out["built"] and out["rows"] == 120 and out["path"] != str(built)
    assert [p.name for p in (root / "store").glob("*.duckdb")] == [Path(out["path"]).name]
    assert serving.n_patients() == 300  # a source open on the old store keeps it until it is reopened
    serving.close()
    reopened = DuckDBSource(root / "data", store="duckdb-file", store_directory=root / "store")
    assert not reopened.store.built and reopened.n_patients() == 120
    reopened.close()


def test_build_store_waits_for_a_build_in_progress(deployment):
    root, data = deployment
    assert run(root).returncode == 0
    _refresh(root / "data", data.iloc[:200])
    (lock_path,) = (root / "store").glob("*.lock")
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the dashboard is building this store
        waiting = subprocess.Popen([python, "-m", "il2lib", "build-store"], cwd=root, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        try:
            assert "waiting for it" in waiting.stderr.readline()
            assert waiting.poll() is None and len(list((root / "store").glob("*.duckdb"))) == 1
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert out.startswith("Built the registry store (duckdb-file)") and "200 rows" in out


BAD = {
    "no settings file": (None, "No settings file at .streamlit/secrets.toml"),
    "not TOML": ('[registry\nkind = "parquet"\n', "is not valid TOML"),
    "no registry table": ('[auth]\nclient_id = "x"\n', "has no [registry] table"),
    "a database registry": ('[registry]\nkind = "postgres"\nurl = "postgresql+psycopg://u:SECRET@db/r"\n',
                            "only a Parquet or CSV registry has a stored form"),
    "files read in place": ('[registry]\nkind = "parquet"\npath = "{data}"\n', "there is no store to build"),
    "missing data": ('[registry]\nkind = "parquet"\npath = "{root}/gone"\nstore = "duckdb-file"\n',
                     "Registry path not found: gone."),
    "unknown store": ('[registry]\nkind = "parquet"\npath = "{data}"\nstore = "cube"\n', "Unknown registry store"),
    "row limit not a number": ('[registry]\nkind = "parquet"\npath = "{data}"\nstore = "parquet"\n'
                               'row_limit = "many"\n', "settings are not valid"),
    "store inside the app": ('[registry]\nkind = "parquet"\npath = "{data}"\nstore = "parquet"\n'
                             f'store_directory = "{ROOT / "store_here"}"\n', "outside the application"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_settings_are_one_plain_line_and_status_2(deployment, case, capsys, monkeypatch):
    root, _ = deployment
    text, message = BAD[case]
    (root / ".streamlit" / "secrets.toml").unlink()
    if text is not None:
        _settings(root, text.format(root=root, data=root / "data"))
    monkeypatch.chdir(root)
    assert main(["build-store"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and message in line and "SECRET" not in line
    assert captured.out == ""
    assert not (ROOT / "store_here").exists()


def test_bad_settings_exit_with_status_2_without_a_traceback(tmp_path):
    result = run(tmp_path, "--secrets", str(tmp_path / "nowhere.toml"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"error: No settings file at {tmp_path / 'nowhere.toml'} (name the dashboard's with " \
                            "--secrets).\n"
