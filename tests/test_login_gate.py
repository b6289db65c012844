"""The optional login gate (app_auth.require_login): off without [auth], fail-closed with it.

Both branches run through AppTest: ``at.secrets`` stands in for ``.streamlit/secrets.toml`` and
``at.user`` for the identity cookie Streamlit sets after an OIDC sign-in.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import app_auth
from streamlit import secrets as st_secrets

ROOT = Path(__file__).resolve().parents[1]
PROTECTED_TEXT = "PROTECTED-CONTENT-7731"

GATED_SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import streamlit as st
from app_auth import require_login
require_login()
st.write({PROTECTED_TEXT!r})
"""

DEFAULT_PROVIDER = {
    "redirect_uri": "https://il2.example.org/oauth2callback",
    "cookie_secret": "not-a-real-secret-0123456789",
    "client_id": "dashboard",
    "client_secret": "not-a-real-client-secret",
    "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
}


def _run(secrets: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_string(GATED_SCRIPT, default_timeout=30)
    if secrets is not None:
        at.secrets = secrets
    if user is not None:
        at.user = user
    return at.run()


def _page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [t.value for t in at.title]
    parts += [c.value for c in at.caption] + [t.value for t in at.text]
    return "\n".join(str(p) for p in parts)


def test_without_auth_section_the_gate_is_off():
    at = _run(secrets={"unrelated": {"token": "x"}})
    assert not at.exception
    assert PROTECTED_TEXT in _page_text(at)
    assert len(at.button) == 0


@pytest.fixture()
def broken_secrets_file(tmp_path):
    """A real secrets.toml with a TOML syntax error (an unclosed string), read by Streamlit's own parser."""
    from streamlit import config

    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\ncookie_secret = "abc\nclient_id = "x"\n')
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    st_secrets._reset()
    yield path
    config.set_option("secrets.files", saved)
    st_secrets._reset()


def test_unreadable_secrets_file_closes_every_page(broken_secrets_file):
    # Streamlit raises the FileNotFoundError subclass it uses for "no file" also for a parse error: that must not
    # open the dashboard (security review H1).
    at = _run()
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert "login configuration (.streamlit/secrets.toml) cannot be read" in text
    assert str(broken_secrets_file) not in text  # the server path stays in the log


def test_without_secrets_file_the_gate_is_off():
    # The test process has no .streamlit/secrets.toml next to the temporary script.
    at = _run()
    assert not at.exception
    assert PROTECTED_TEXT in _page_text(at)


def test_logged_out_visitor_sees_only_the_sign_in_screen():
    at = _run(secrets={"auth": DEFAULT_PROVIDER}, user={"is_logged_in": False})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert "Sign in required" in text
    assert [b.label for b in at.button] == ["Sign in"]


def test_signed_in_user_sees_the_page_and_a_sign_out_button():
    at = _run(secrets={"auth": DEFAULT_PROVIDER},
              user={"is_logged_in": True, "name": "Dr <b>Test</b>", "email": "test@hospital.example"})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT in text
    assert "Signed in as Dr <b>Test</b>" in text
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_the_providers_name_is_shown_as_text_not_markdown():
    name = "**Dr** [Test](https://evil.example)"
    at = _run(secrets={"auth": DEFAULT_PROVIDER}, user={"is_logged_in": True, "name": name, "email": "t@h.example"})
    assert [t.value for t in at.sidebar.text] == [f"Signed in as {name}"]
    assert not any("evil.example" in m.value for m in [*at.sidebar.markdown, *at.sidebar.caption])


def test_named_providers_each_get_a_button():
    shared = {k: DEFAULT_PROVIDER[k] for k in app_auth.SHARED_KEYS}
    provider = {k: DEFAULT_PROVIDER[k] for k in app_auth.PROVIDER_KEYS}
    at = _run(secrets={"auth": {**shared, "okta": provider, "microsoft": provider}}, user={"is_logged_in": False})
    assert PROTECTED_TEXT not in _page_text(at)
    assert [b.label for b in at.button] == ["Sign in with microsoft", "Sign in with okta"]


def test_incomplete_auth_section_fails_closed():
    broken = {k: v for k, v in DEFAULT_PROVIDER.items() if k != "cookie_secret"}
    at = _run(secrets={"auth": broken}, user={"is_logged_in": True, "email": "a@b.c"})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert "cookie_secret" in text


def test_allow_list_denies_other_domains():
    section = {**DEFAULT_PROVIDER, "allowed_domains": ["hospital.example"]}
    denied = _run(secrets={"auth": section}, user={"is_logged_in": True, "email": "someone@gmail.com"})
    assert PROTECTED_TEXT not in _page_text(denied)
    assert "Access denied" in _page_text(denied)
    allowed = _run(secrets={"auth": section}, user={"is_logged_in": True, "email": "Dr.X@Hospital.Example"})
    assert PROTECTED_TEXT in _page_text(allowed)


@pytest.mark.parametrize(("section", "email", "expected"), [
    ({}, None, True),
    ({"allowed_emails": ["a@x.org"]}, "A@x.org", True),
    ({"allowed_emails": ["a@x.org"]}, "b@x.org", False),
    ({"allowed_domains": ["@x.org"]}, "b@x.org", True),
    ({"allowed_domains": ["x.org"]}, "b@evilx.org", False),
    ({"allowed_domains": ["x.org"]}, None, False),
])
def test_user_allowed(section, email, expected):
    assert app_auth.user_allowed(section, email) is expected


# ---- wired into the dashboard's frame ----------------------------------------------------

def _dashboard(secrets: dict, user: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets = secrets
    at.user = user
    return at.run()


def test_dashboard_shows_no_patient_data_before_sign_in():
    at = _dashboard({"auth": DEFAULT_PROVIDER}, {"is_logged_in": False})
    assert not at.exception
    assert "Sign in required" in _page_text(at)
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.table) == 0 and len(at.get("plotly_chart")) == 0
    assert "n = " not in _page_text(at)
    for page in sorted(p.name for p in (ROOT / "pages").glob("[0-9]*.py")):
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, page
        assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.table) == 0 and len(at.get("plotly_chart")) == 0, page


def test_dashboard_after_sign_in_shows_the_data_page():
    at = _dashboard({"auth": DEFAULT_PROVIDER}, {"is_logged_in": True, "email": "dr@hospital.example"})
    assert not at.exception
    assert "Sign in required" not in _page_text(at)
    assert [m.label for m in at.metric][:1] == ["Rows loaded"]
