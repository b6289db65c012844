"""``python -m il2lib build-store``: build the registry's stored form ahead of the dashboard.

Reads the ``[registry]`` table of the dashboard's ``.streamlit/secrets.toml`` (the settings the app
reads) and opens the registry as the app does (:func:`il2lib.sources.open_source`): the store is
built when missing or out of date, under the store's lock, so a run while the dashboard serves or
builds waits for that build instead of repeating it. Listed in :data:`il2lib.cli.COMMANDS`.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from pathlib import Path

from il2lib.cli._common import UsageError, emit

SECTION = "registry"


def _add_build_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secrets", default=".streamlit/secrets.toml", metavar="SECRETS_TOML",
                        help="the dashboard's settings file, whose [registry] table is read "
                             "(default .streamlit/secrets.toml)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


def registry_settings(path: Path) -> dict:
    """The ``[registry]`` table of ``path``, checked to name a Parquet/CSV registry with a stored form."""
    try:
        with open(path, "rb") as file:
            settings = tomllib.load(file)
    except FileNotFoundError:
        raise UsageError(f"No settings file at {path} (name the dashboard's with --secrets).") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}.") from None
    config = settings.get(SECTION)
    if not isinstance(config, dict):
        raise UsageError(f"{path} has no [{SECTION}] table.")
    kind = str(config.get("kind", "")).lower()
    if kind not in ("parquet", "csv"):
        raise UsageError(f"[{SECTION}] kind is {kind!r}: only a Parquet or CSV registry has a stored form to build.")
    store = config.get("store") or "files"
    if store == "files":
        raise UsageError(f"[{SECTION}] reads the files in place (store = \"files\"): there is no store to build; set "
                         "store = \"duckdb-file\" or \"parquet\".")
    return config


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _run_build_store(args: argparse.Namespace) -> int:
    from il2lib.sources import open_source

    config = registry_settings(Path(args.secrets))
    log = logging.getLogger("il2lib.sources.duckdb_store")  # "building", "waiting for another build" on stderr
    handler = logging.StreamHandler(sys.stderr)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        src = open_source(config)
    except (TypeError, ValueError) as exc:  # e.g. row_limit = "many"
        raise UsageError(f"The [{SECTION}] settings are not valid: {exc}.") from None
    finally:
        log.removeHandler(handler)
    try:
        rows, store = src.n_patients(), src.store
    finally:
        src.close()
    payload = {"built": store.built, "form": store.form, "path": str(store.path), "rows": rows,
               "size_bytes": store.size_bytes, "build_seconds": round(store.build_seconds, 3)}
    facts = f"{rows:,} rows, {_size(store.size_bytes)}"
    text = (f"Built the registry store ({store.form}) in {store.build_seconds:.1f} s: {facts}: {store.path}"
            if store.built else f"The registry store ({store.form}) is current: {facts}: {store.path}")
    emit(args, payload, text)
    return 0


COMMANDS = [("build-store", "build the registry's stored form (store = \"duckdb-file\" or \"parquet\" in [registry]) "
             "now, so that the dashboard does not wait for it", _add_build_store, _run_build_store)]
