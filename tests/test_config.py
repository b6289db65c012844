"""The deployment settings in .streamlit/config.toml (privacy and security).

Each key is checked against Streamlit's own option registry (a typo would be silently ignored
by Streamlit) and against the value the hospital-deployment notes promise.
"""
from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / ".streamlit" / "config.toml"
UPLOAD_LIMIT_MB = 200

REQUIRED = {
    "browser.gatherUsageStats": False,       # no telemetry leaves the hospital
    "server.enableXsrfProtection": True,      # uploads need the XSRF token of the page
    "server.maxUploadSize": UPLOAD_LIMIT_MB,  # MB; Streamlit says "File must be 200.0MB or smaller." above it
    "client.showErrorDetails": "none",        # no traceback (which may quote patient values) in the browser
    "server.fileWatcherType": "none",         # deployed code is not hot-reloaded
    "server.address": "127.0.0.1",            # loopback only: reach it through the HTTPS reverse proxy
}
FORBIDDEN = {  # settings that would weaken the defaults if someone added them
    "server.enableCORS": False,
    "server.enableStaticServing": True,
    "global.developmentMode": True,
    "server.runOnSave": True,
    "logger.level": "debug",
}


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@pytest.fixture(scope="module")
def settings() -> dict[str, object]:
    assert CONFIG_PATH.is_file(), f"{CONFIG_PATH} is missing"
    return _flatten(tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8")))


def test_every_key_is_a_real_streamlit_option(settings):
    known = st_config.get_config_options()
    unknown = sorted(key for key in settings if key not in known)
    assert unknown == [], f"not Streamlit 1.67 options (ignored by Streamlit): {unknown}"


@pytest.mark.parametrize(("key", "expected"), sorted(REQUIRED.items()))
def test_required_setting(settings, key, expected):
    assert settings.get(key) == expected, f"{key} should be {expected!r}, is {settings.get(key)!r}"


def test_toolbar_is_minimal_for_viewers(settings):
    assert settings.get("client.toolbarMode") in {"minimal", "viewer"}


@pytest.mark.parametrize(("key", "weak_value"), sorted(FORBIDDEN.items()))
def test_no_weakening_setting(settings, key, weak_value):
    assert settings.get(key) != weak_value


def test_settings_parse_with_streamlits_own_types(settings):
    known = st_config.get_config_options()
    for key, value in settings.items():
        option_type = getattr(known[key], "type", None)
        if option_type in (bool, int, str):
            assert isinstance(value, option_type), f"{key}: {value!r} is not {option_type.__name__}"


def test_secrets_file_is_never_committed():
    """The [auth] client secret lives in .streamlit/secrets.toml, which git must ignore."""
    ignored = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT)
    assert ignored.returncode == 0, ".streamlit/secrets.toml is not in .gitignore"
    tracked = subprocess.run(["git", "ls-files", "--", "*secrets.toml"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""
