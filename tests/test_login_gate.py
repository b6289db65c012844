"""The login gate (app_auth.require_login): off without [auth] for samples and uploads, closed for real data
unless IL2_LOGIN=none says so, fail-closed with [auth]; allow lists match only verified identities.

The page branches run through AppTest: ``at.secrets`` stands in for ``.streamlit/secrets.toml`` and
``at.user`` for the identity cookie Streamlit sets after an OIDC sign-in (the ID token's claims).
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit import secrets as st_secrets
from streamlit.testing.v1 import AppTest

import app_auth

ROOT = Path(__file__).resolve().parents[1]
PROTECTED_TEXT = "PROTECTED-CONTENT-7731"
SERVER_FILE = ROOT / "sample_data" / "combined_synthetic.csv"
SERVER_DATA_ENV = "IL2_DASHBOARD_DATA"

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


@pytest.fixture(autouse=True)
def _no_deployment_environment(monkeypatch):
    """Each test states its own deployment: no server file and no login switch inherited from the shell."""
    monkeypatch.delenv(SERVER_DATA_ENV, raising=False)
    monkeypatch.delenv(app_auth.LOGIN_ENV, raising=False)


@pytest.fixture()
def gate_log():
    """The lines app_auth logs, with its once-per-process memory emptied first."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("app_auth")
    logger.addHandler(handler)
    app_auth._logged_lines.clear()
    yield lines
    logger.removeHandler(handler)
    app_auth._logged_lines.clear()


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
    # open the dashboard.
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
    denied = _run(secrets={"auth": section},
                  user={"is_logged_in": True, "email": "someone@gmail.com", "email_verified": True})
    assert PROTECTED_TEXT not in _page_text(denied)
    assert "Access denied" in _page_text(denied)
    allowed = _run(secrets={"auth": section},
                   user={"is_logged_in": True, "email": "Dr.X@Hospital.Example", "email_verified": True})
    assert PROTECTED_TEXT in _page_text(allowed)


def test_unverified_email_is_refused_with_the_reason_on_the_page():
    section = {**DEFAULT_PROVIDER, "allowed_domains": ["hospital.example"], "cookie_secret": "SECRET-COOKIE-991"}
    at = _run(secrets={"auth": section},
              user={"is_logged_in": True, "email": "dr.x@hospital.example", "email_verified": False})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert "your identity provider did not confirm that this email address is verified" in text
    assert "SECRET-COOKIE-991" not in text and DEFAULT_PROVIDER["client_secret"] not in text
    assert [b.label for b in at.button] == ["Sign out"]


@pytest.mark.parametrize(("section", "email", "expected"), [
    ({}, None, True),
    ({"allowed_emails": ["a@x.org"]}, "A@x.org", True),
    ({"allowed_emails": ["A@X.org"]}, "a@x.ORG", True),
    ({"allowed_emails": ["a@x.org"]}, "b@x.org", False),
    ({"allowed_domains": ["@x.org"]}, "b@x.org", True),
    ({"allowed_domains": ["X.Org"]}, "b@x.ORG", True),
    ({"allowed_domains": ["x.org"]}, "b@evilx.org", False),
    ({"allowed_domains": ["x.org"]}, "b@sub.x.org", False),
    ({"allowed_domains": ["x.org"]}, "b@x.org.evil.example", False),
    ({"allowed_domains": ["x.org"]}, None, False),
])
def test_email_lists_for_a_verified_address(section, email, expected):
    claims = {"sub": "s-1", "email_verified": True} | ({"email": email} if email is not None else {})
    assert app_auth.access_decision(section, claims)[0] is expected


# ---- who passes the allow lists: access_decision(settings, claims) --------------------------

HOSPITAL = {"allowed_domains": ["hospital.example"]}
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def _entra(tenant: str = TENANT, **claims) -> dict:
    """Claims of a Microsoft Entra ID v2.0 ID token (no email_verified: Entra never sends it)."""
    return {"iss": f"https://login.microsoftonline.com/{tenant}/v2.0", "tid": tenant, "sub": "pairwise-sub",
            "oid": "00000000-0000-0000-0000-0000000000aa", "email": "dr.x@hospital.example", **claims}


def test_verified_email_in_an_allowed_domain_enters():
    allowed, _ = app_auth.access_decision(HOSPITAL, {"sub": "1", "email": "dr.x@hospital.example",
                                                     "email_verified": True})
    assert allowed


# Both verification claims count only as the JSON boolean true: email_verified (OpenID Connect Core 1.0, 5.1) and
# xms_edov (Entra's optional-claims reference: "Boolean value"); text, numbers and false do not vouch.
NOT_JSON_TRUE = [False, "true", "True", "1", 1, 1.0, [True], None]


@pytest.mark.parametrize("verified", NOT_JSON_TRUE)
def test_an_email_the_provider_did_not_verify_is_refused(verified):
    # OpenID Connect Core 1.0, section 5.1: email_verified is a JSON boolean; only true vouches for the address.
    claims = {"sub": "1", "email": "dr.x@hospital.example"} | ({} if verified is None else {"email_verified": verified})
    allowed, reason = app_auth.access_decision(HOSPITAL, claims)
    assert not allowed
    assert reason == "your identity provider did not confirm that this email address is verified"


def test_a_lookalike_domain_does_not_match():
    claims = {"sub": "1", "email": "dr.x@evilhospital.example", "email_verified": True}
    allowed, reason = app_auth.access_decision(HOSPITAL, claims)
    assert not allowed and "not on this dashboard's list" in reason


def test_entra_token_from_a_listed_tenant_with_a_verified_domain_enters():
    # Entra ID sends no email_verified; the optional claim xms_edov says the email domain's owner is verified
    # (learn.microsoft.com/entra/identity-platform/optional-claims-reference).
    settings = {**HOSPITAL, "allowed_tenants": [TENANT.upper()]}
    assert app_auth.access_decision(settings, _entra(xms_edov=True))[0]
    v1_issuer = _entra(xms_edov=True, iss=f"https://sts.windows.net/{TENANT}/")
    assert app_auth.access_decision(settings, v1_issuer)[0]


def test_entra_token_from_a_tenant_not_listed_is_refused():
    settings = {**HOSPITAL, "allowed_tenants": [TENANT]}
    allowed, reason = app_auth.access_decision(settings, _entra(OTHER_TENANT, xms_edov=True, email_verified=True))
    assert not allowed and "tenant" in reason


def test_entra_token_whose_tid_disagrees_with_its_issuer_is_refused():
    settings = {**HOSPITAL, "allowed_tenants": [TENANT]}
    claims = _entra(xms_edov=True, iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")
    assert not app_auth.access_decision(settings, claims)[0]


@pytest.mark.parametrize("edov", [*NOT_JSON_TRUE, "false", "0"])
def test_entra_email_without_a_verified_domain_is_refused(edov):
    settings = {**HOSPITAL, "allowed_tenants": [TENANT]}
    claims = _entra() if edov is None else _entra(xms_edov=edov)
    allowed, reason = app_auth.access_decision(settings, claims)
    assert not allowed and "did not confirm that your organisation owns the domain" in reason


def test_entra_email_is_refused_when_no_tenant_is_listed():
    # email_verified from an Entra token is not trusted either: only the tenant list plus xms_edov are.
    allowed, reason = app_auth.access_decision(HOSPITAL, _entra(xms_edov=True, email_verified=True))
    assert not allowed and "tenants" in reason


def test_allowed_tenants_alone_refuses_other_tenants_only():
    settings = {"allowed_tenants": [TENANT]}
    assert app_auth.access_decision(settings, _entra())[0]
    assert not app_auth.access_decision(settings, _entra(OTHER_TENANT))[0]


IDP = "https://idp.example.org"
OTHER_IDP = "https://accounts.other.example"
OID = "00000000-0000-0000-0000-0000000000AA"


def test_subject_list_matches_issuer_and_sub_exactly_without_any_email():
    settings = {"allowed_subjects": [f"{IDP}|AbC-123"]}
    assert app_auth.access_decision(settings, {"iss": IDP, "sub": "AbC-123"})[0]
    assert not app_auth.access_decision(settings, {"iss": IDP, "sub": "abc-123"})[0]  # OIDC: sub is case-sensitive
    assert not app_auth.access_decision(settings, {"iss": IDP.upper(), "sub": "AbC-123"})[0]  # and so is iss
    claims = {"iss": IDP, "sub": "other", "email": "AbC-123", "email_verified": True}
    assert not app_auth.access_decision(settings, claims)[0]


def test_a_subject_from_another_identity_provider_is_refused():
    # sub is unique only within its issuer: with several providers, another one may issue the same sub.
    settings = {"allowed_subjects": [f"{IDP}|AbC-123"]}
    for claims in ({"iss": OTHER_IDP, "sub": "AbC-123"}, {"sub": "AbC-123"}, {"iss": f"{IDP}|AbC", "sub": "123"}):
        allowed, reason = app_auth.access_decision(settings, claims)
        assert not allowed and reason == "your account is not on this dashboard's list of allowed users"


def test_a_sub_may_contain_the_separator():
    settings = {"allowed_subjects": [f" {IDP}|auth0|42 "]}  # Auth0 writes sub as "<connection>|<id>"
    assert app_auth.access_decision(settings, {"iss": IDP, "sub": "auth0|42"})[0]
    assert not app_auth.access_decision(settings, {"iss": f"{IDP}|auth0", "sub": "42"})[0]


def test_a_subject_entry_without_its_issuer_matches_no_account():
    settings = {"allowed_subjects": ["AbC-123"]}
    assert not app_auth.access_decision(settings, {"iss": IDP, "sub": "AbC-123"})[0]
    assert not app_auth.access_decision(settings, {"iss": OTHER_IDP, "sub": "AbC-123"})[0]


def test_object_id_list_matches_the_tenant_and_oid_of_an_entra_token_only():
    settings = {"allowed_object_ids": [f"{TENANT.upper()}|{OID}"]}
    assert app_auth.access_decision(settings, _entra(email="someone@elsewhere.example"))[0]
    v1_issuer = _entra(iss=f"https://sts.windows.net/{TENANT}/")
    assert app_auth.access_decision(settings, {k: v for k, v in v1_issuer.items() if k != "tid"})[0]
    not_entra = {"iss": IDP, "tid": TENANT, "sub": "x", "oid": OID.lower()}
    assert not app_auth.access_decision(settings, not_entra)[0]
    assert not app_auth.access_decision({**settings, "allowed_tenants": [OTHER_TENANT]}, _entra())[0]


def test_an_object_id_from_another_tenant_is_refused():
    # Entra names a user by tid and oid together; no allowed_tenants list is needed to keep other tenants out.
    settings = {"allowed_object_ids": [f"{TENANT}|{OID}"]}
    allowed, reason = app_auth.access_decision(settings, _entra(OTHER_TENANT))
    assert not allowed and reason == "your account is not on this dashboard's list of allowed users"
    inconsistent = _entra(iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")
    assert not app_auth.access_decision(settings, inconsistent)[0]
    assert not app_auth.access_decision({"allowed_object_ids": [OID]}, _entra())[0]


@pytest.mark.parametrize(("key", "entry", "form"), [
    ("allowed_subjects", "AbC-123", "<issuer>|<sub>"),
    ("allowed_subjects", "auth0|42", "<issuer>|<sub>"),
    ("allowed_subjects", f"{IDP}|", "<issuer>|<sub>"),
    ("allowed_object_ids", OID, "<tenant id>|<object id>"),
    ("allowed_object_ids", f"{IDP}|{OID}", "<tenant id>|<object id>"),
])
def test_an_identity_entry_without_its_issuer_closes_every_page(key, entry, form):
    section = {**DEFAULT_PROVIDER, key: [entry]}
    assert app_auth.configuration_problem(section) == f"every entry of {key} must be written as `{form}`"
    at = _run(secrets={"auth": section}, user={"is_logged_in": True, "iss": IDP, "sub": "AbC-123"})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert f"Login is configured but incomplete: every entry of {key} must be written as `{form}`." in text


def test_identity_entries_with_their_issuer_are_a_complete_configuration():
    section = {**DEFAULT_PROVIDER, "allowed_subjects": [f"{IDP}|auth0|42", f"https://sts.windows.net/{TENANT}/|s"],
               "allowed_object_ids": [f"{TENANT.upper()}|{OID}"]}
    assert app_auth.configuration_problem(section) is None
    at = _run(secrets={"auth": section}, user={"is_logged_in": True, "iss": IDP, "sub": "auth0|42"})
    assert PROTECTED_TEXT in _page_text(at)


def test_an_identity_list_and_an_email_list_combine():
    settings = {**HOSPITAL, "allowed_subjects": [f"{IDP}|admin-1"]}
    assert app_auth.access_decision(settings, {"iss": IDP, "sub": "admin-1", "email": "x@gmail.com"})[0]
    claims = {"iss": IDP, "sub": "2", "email": "a@hospital.example", "email_verified": True}
    assert app_auth.access_decision(settings, claims)[0]
    assert not app_auth.access_decision(settings, {"iss": IDP, "sub": "2", "email": "a@hospital.example"})[0]


# ---- real data needs a login gate or an explicit IL2_LOGIN=none ------------------------------

def test_server_file_without_auth_closes_the_page(monkeypatch, gate_log):
    monkeypatch.setenv(SERVER_DATA_ENV, str(SERVER_FILE))
    at = _run()
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text
    assert "[auth]" in text and "IL2_LOGIN=none" in text
    assert str(SERVER_FILE) not in text and SERVER_FILE.name not in text
    assert any(line.startswith("login gate: missing while serving a server file") for line in gate_log)


def test_registry_without_auth_closes_the_page(gate_log):
    at = _run(secrets={"registry": {"kind": "parquet", "path": "/srv/il2/registry"}})
    assert not at.exception
    text = _page_text(at)
    assert PROTECTED_TEXT not in text and "IL2_LOGIN=none" in text
    assert "/srv/il2" not in text and not any("/srv/il2" in line for line in gate_log)


def test_explicit_switch_serves_real_data_without_auth_and_says_so_once(monkeypatch, gate_log):
    monkeypatch.setenv(SERVER_DATA_ENV, str(SERVER_FILE))
    monkeypatch.setenv(app_auth.LOGIN_ENV, "none")
    at = _run()
    assert not at.exception
    assert PROTECTED_TEXT in _page_text(at)
    at.run()
    assert gate_log == ["login gate: off by explicit IL2_LOGIN=none while serving a server file (IL2_DASHBOARD_DATA)"]


def test_samples_and_uploads_alone_need_no_switch(gate_log):
    at = _run()
    assert PROTECTED_TEXT in _page_text(at)
    assert gate_log == ["login gate: off (no [auth]; serving only the bundled samples and uploads)"]


def test_the_switch_never_turns_a_configured_gate_off(monkeypatch, gate_log):
    monkeypatch.setenv(SERVER_DATA_ENV, str(SERVER_FILE))
    monkeypatch.setenv(app_auth.LOGIN_ENV, "none")
    at = _run(secrets={"auth": DEFAULT_PROVIDER}, user={"is_logged_in": False})
    assert PROTECTED_TEXT not in _page_text(at)
    assert "Sign in required" in _page_text(at)
    assert gate_log == ["login gate: on (provider default); IL2_LOGIN=none is ignored while [auth] is configured"]
    assert not any(DEFAULT_PROVIDER["client_secret"] in line or "cookie" in line for line in gate_log)


def test_an_unknown_switch_value_closes_the_page(monkeypatch):
    monkeypatch.setenv(app_auth.LOGIN_ENV, "off")
    at = _run()
    assert PROTECTED_TEXT not in _page_text(at)
    assert "IL2_LOGIN" in _page_text(at)


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


def _shows_no_data(at: AppTest) -> bool:
    return (len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.table) == 0
            and len(at.get("plotly_chart")) == 0)


def test_dashboard_on_a_server_file_without_auth_shows_only_the_error(monkeypatch):
    monkeypatch.setenv(SERVER_DATA_ENV, str(SERVER_FILE))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert [e.value for e in at.error] and "IL2_LOGIN=none" in at.error[0].value
    assert _shows_no_data(at) and "n = " not in _page_text(at)
    for page in sorted(p.name for p in (ROOT / "pages").glob("[0-9]*.py")):
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, page
        assert _shows_no_data(at), page
        assert "IL2_LOGIN=none" in _page_text(at), page


def test_dashboard_on_a_server_file_with_the_switch_works(monkeypatch, gate_log):
    monkeypatch.setenv(SERVER_DATA_ENV, str(SERVER_FILE))
    monkeypatch.setenv(app_auth.LOGIN_ENV, "none")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert [m.label for m in at.metric][:1] == ["Rows loaded"]
    assert "login gate: off by explicit IL2_LOGIN=none while serving a server file (IL2_DASHBOARD_DATA)" in gate_log
