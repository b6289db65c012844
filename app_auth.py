"""Login gate of the dashboard.

Local use needs no login: with only the bundled samples and uploads, and no ``[auth]`` section in
``.streamlit/secrets.toml``, :func:`require_login` does nothing. On a hospital server the deployer adds that section
(OpenID Connect: Entra ID / Azure AD, Okta, Keycloak, Google, ...) and every page then
shows a sign-in screen until ``st.user.is_logged_in`` is true. Streamlit's built-in
``st.login`` does the OIDC flow; it needs the ``streamlit[auth]`` extra (Authlib), pinned
in ``requirements.txt``.

The gate fails closed: a secrets file that cannot be parsed, or a configured but unusable
``[auth]`` section (Authlib missing, no provider with a client id), stops the page with an error
instead of showing data.

``secrets.toml`` examples (one provider configured directly in ``[auth]``)::

    [auth]
    redirect_uri = "https://il2.hospital.example/oauth2callback"
    cookie_secret = "<long random string>"
    client_id = "<client id>"
    client_secret = "<client secret>"
    server_metadata_url = "https://idp.hospital.example/.well-known/openid-configuration"

or named providers in ``[auth.<name>]`` tables (one sign-in button each). The optional lists
``allowed_subjects`` / ``allowed_object_ids`` / ``allowed_emails`` / ``allowed_domains`` /
``allowed_tenants`` in ``[auth]`` restrict who may enter after signing in; an account id counts only
together with who issued it (``"<issuer>|<sub>"``, ``"<tenant id>|<object id>"``), an email address
only when the identity provider vouches for it (:func:`access_decision`).

Real patient data (a server file named by ``IL2_DASHBOARD_DATA`` or a ``[registry]`` source) is
never served without ``[auth]`` unless the deployer says so with the environment variable
``IL2_LOGIN=none`` (sign-in done at a reverse proxy, or not wanted). See docs/hospital-deployment.md.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import streamlit as st
from streamlit.logger import get_logger

#: Keys an OIDC provider needs (besides the shared redirect_uri and cookie_secret).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SHARED_KEYS = ("redirect_uri", "cookie_secret")
ALLOWED_DOMAINS_KEY = "allowed_domains"
ALLOWED_EMAILS_KEY = "allowed_emails"
ALLOWED_SUBJECTS_KEY = "allowed_subjects"
ALLOWED_OBJECT_IDS_KEY = "allowed_object_ids"
ALLOWED_TENANTS_KEY = "allowed_tenants"

#: Environment switch: ``IL2_LOGIN=none`` allows serving real data without ``[auth]``.
LOGIN_ENV = "IL2_LOGIN"
LOGIN_NONE = "none"

#: Hosts that issue Microsoft Entra ID tokens (public and national clouds).
ENTRA_ISSUER_HOSTS = frozenset({
    "login.microsoftonline.com", "sts.windows.net", "login.microsoftonline.us",
    "login.partner.microsoftonline.cn", "login.chinacloudapi.cn", "sts.chinacloudapi.cn",
})
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Streamlit's logger: printed in the server log at Streamlit's logger.level (the root logger has no handler).
_LOG = get_logger(__name__)
_logged_lines: set[str] = set()


class UnreadableSecrets(RuntimeError):
    """A secrets file exists but cannot be read: whether login is configured is unknown."""


def auth_settings() -> Mapping | None:
    """The ``[auth]`` section of the secrets, or None when login is not configured.

    Raises :class:`UnreadableSecrets` when a secrets file exists but cannot be parsed: Streamlit
    raises the same ``FileNotFoundError`` subclass for "no file" and "a file with a syntax error",
    and only the first may open the dashboard without login.
    """
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError as exc:  # StreamlitSecretNotFoundError
        if getattr(exc, "error_id", None) == "no-secrets-found":
            return None
        raise UnreadableSecrets(str(exc)) from None
    if isinstance(section, Mapping) and len(section) > 0:
        return section
    return None


def login_providers(section: Mapping) -> tuple[str | None, ...]:
    """Providers configured in ``[auth]``: ``None`` stands for the unnamed default provider."""
    if all(key in section for key in PROVIDER_KEYS):
        return (None,)
    return tuple(sorted(name for name, value in section.items()
                        if isinstance(value, Mapping) and all(key in value for key in PROVIDER_KEYS)))


def configuration_problem(section: Mapping) -> str | None:
    """One sentence naming what makes the ``[auth]`` section unusable, or None when it is complete."""
    missing = [key for key in SHARED_KEYS if key not in section]
    if missing:
        return f"the [auth] section lacks {', '.join(missing)}"
    if not login_providers(section):
        return f"no identity provider in [auth] has all of {', '.join(PROVIDER_KEYS)}"
    for key, form, is_issuer in ((ALLOWED_SUBJECTS_KEY, "<issuer>|<sub>", _is_issuer_url),
                                 (ALLOWED_OBJECT_IDS_KEY, "<tenant id>|<object id>", _GUID.match)):
        if not all(ident and is_issuer(issuer) for issuer, ident in _issued_ids(section, key)):
            return f"every entry of {key} must be written as `{form}`"
    return None


def _strings(settings: Mapping, key: str, fold_case: bool = True) -> set[str]:
    value = settings.get(key) or ()
    if not isinstance(value, (list, tuple, set, frozenset)):
        value = (value,)
    items = {str(v).strip() for v in value if str(v).strip()}
    return {v.lower() for v in items} if fold_case else items


def _issued_ids(settings: Mapping, key: str, fold_case: bool = True) -> set[tuple[str, str]]:
    """The ``"<issuer>|<id>"`` entries of an identity list as (issuer, id) pairs.

    Split at the first "|": an issuer URL or a tenant id holds none, a ``sub`` may (Auth0: ``auth0|42``).
    An entry without one of the parts gets "" there and matches no account.
    """
    pairs = (entry.partition("|") for entry in _strings(settings, key, fold_case))
    return {(issuer.strip(), ident.strip()) for issuer, _, ident in pairs}


def _is_issuer_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def _claim_text(claims: Mapping, key: str) -> str:
    value = claims.get(key)
    return value.strip().lower() if isinstance(value, str) else ""


def _entra_tenant(claims: Mapping) -> tuple[bool, str]:
    """(whether the token was issued by Microsoft Entra ID, its tenant id or "" when unknown or inconsistent)."""
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        return False, ""
    parts = urlsplit(issuer.strip())
    if parts.scheme != "https" or (parts.hostname or "") not in ENTRA_ISSUER_HOSTS:
        return False, ""
    segments = [seg for seg in parts.path.split("/") if seg]
    issuer_tenant = segments[0].lower() if segments and _GUID.match(segments[0].lower()) else ""
    tid = _claim_text(claims, "tid")
    if tid and issuer_tenant and tid != issuer_tenant:
        return True, ""
    return True, tid or issuer_tenant


def access_decision(settings: Mapping, claims: Mapping) -> tuple[bool, str]:
    """Whether a signed-in account may enter, and why (plain words, no secret).

    ``settings`` is the ``[auth]`` section, ``claims`` the identity token's claims (``st.user``).
    Without any of ``allowed_subjects`` / ``allowed_object_ids`` / ``allowed_emails`` /
    ``allowed_domains`` every signed-in account may enter. Otherwise one must match:

    * ``allowed_subjects``: ``"<issuer>|<sub>"``, the ``iss`` and ``sub`` claims (a ``sub`` is unique only
      within its issuer, so another identity provider's account with the same ``sub`` does not match);
    * ``allowed_object_ids``: ``"<tenant id>|<object id>"``, the tenant and the ``oid`` claim of a
      Microsoft Entra ID token (an ``oid`` names a user only within its tenant);
    * ``allowed_emails`` / ``allowed_domains`` (exact address or exact domain, case-insensitive):
      only for an address the provider vouches for: ``email_verified`` is true, or, for an Entra ID
      token (Entra sends no ``email_verified``), its tenant is in ``allowed_tenants`` and the optional
      claim ``xms_edov`` (email domain owner verified) is true. Both claims count only as the JSON
      boolean ``true`` (OpenID Connect and Entra's claims reference define them as booleans), never
      as text or a number.

    ``allowed_tenants`` also refuses every Entra ID token from a tenant not listed.
    """
    entra, tenant = _entra_tenant(claims)
    tenants = _strings(settings, ALLOWED_TENANTS_KEY)
    if entra and tenants and tenant not in tenants:
        return False, "your Microsoft Entra ID organisation (tenant) is not one this dashboard accepts"
    subjects = _issued_ids(settings, ALLOWED_SUBJECTS_KEY, fold_case=False)  # OIDC: iss and sub are case-sensitive
    object_ids = _issued_ids(settings, ALLOWED_OBJECT_IDS_KEY)
    emails = _strings(settings, ALLOWED_EMAILS_KEY)
    domains = {d.lstrip("@") for d in _strings(settings, ALLOWED_DOMAINS_KEY)}
    if not (subjects or object_ids or emails or domains):
        return True, "no allow list is configured"
    issuer, sub = claims.get("iss"), claims.get("sub")
    if (isinstance(issuer, str) and isinstance(sub, str) and issuer.strip() and sub.strip()
            and (issuer.strip(), sub.strip()) in subjects):
        return True, "the account's issuer and subject id are allowed"
    oid = _claim_text(claims, "oid")
    if entra and tenant and oid and (tenant, oid) in object_ids:
        return True, "the account's Entra ID tenant and object id are allowed"
    address = _claim_text(claims, "email")
    if not address or not (address in emails or address.rsplit("@", 1)[-1] in domains):
        return False, "your account is not on this dashboard's list of allowed users"
    if entra:
        if not tenants:
            return False, ("this dashboard accepts Microsoft Entra ID email addresses only from listed organisations "
                           "(tenants), and none is listed")
        if claims.get("xms_edov") is not True:
            return False, ("Microsoft Entra ID did not confirm that your organisation owns the domain of this email "
                           "address")
        return True, "the Entra ID tenant is allowed and the email domain is verified"
    if claims.get("email_verified") is not True:
        return False, "your identity provider did not confirm that this email address is verified"
    return True, "the verified email address is allowed"


def real_data_served() -> tuple[str, ...]:
    """What real (non-sample) data this process serves: a server file and/or a registry (kinds only)."""
    from app_ui import data as data_mod, registry

    kinds = []
    if data_mod.server_data_path() is not None:
        kinds.append(f"a server file ({data_mod.SERVER_DATA_ENV})")
    config = registry.registry_config()
    if config:
        kind = str(config.get("kind", "?"))
        kinds.append(f"a registry ({kind if kind.isalnum() else '?'})")
    return tuple(kinds)


def login_switch() -> str | None:
    """``"none"`` when ``IL2_LOGIN=none``, ``""`` when unset; None for any other value (not understood)."""
    value = os.environ.get(LOGIN_ENV, "").strip().lower()
    return value if value in ("", LOGIN_NONE) else None


def _log_once(level: int, line: str) -> None:
    """Log ``line`` the first time this process decides it (the gate runs on every page view)."""
    if line not in _logged_lines:
        _logged_lines.add(line)
        _LOG.log(level, line)


def _authlib_installed() -> bool:
    from streamlit.auth_util import is_authlib_installed

    return is_authlib_installed()


def _stop_with_error(message: str) -> None:
    st.error(message)
    st.stop()


def _show_sign_in(providers: tuple[str | None, ...]) -> None:
    st.title("Sign in required")
    st.write("This dashboard shows patient-level registry data. Sign in with your hospital account to continue.")
    for provider in providers:
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        st.button(label, key=f"login_{provider or 'default'}", on_click=st.login, args=(provider,),
                  type="primary")
    st.stop()


def _show_account() -> None:
    with st.sidebar:
        name = st.user.get("name") or st.user.get("email") or "signed-in user"
        st.text(f"Signed in as {name}")  # plain text: the provider's name is never Markdown
        st.button("Sign out", key="logout", on_click=st.logout)


def require_login() -> None:
    """Stop the page unless the visitor may see it.

    Without an ``[auth]`` section: returns when only the bundled samples and uploads are served, or
    when ``IL2_LOGIN=none`` says that sign-in happens elsewhere; stops with an error when real data
    (a server file or a registry) is configured. With ``[auth]``: stops with an error when the
    section is incomplete or Authlib is missing; shows the sign-in screen and stops when nobody is
    signed in; stops with "access denied" and the reason when :func:`access_decision` refuses the
    account; else draws "Signed in as ..." and a sign-out button in the sidebar and returns.
    Logs the gate's state once per process.
    """
    try:
        section = auth_settings()
    except UnreadableSecrets as exc:
        _LOG.error("Login configuration unreadable; every page is closed: %s", exc)
        _stop_with_error("The dashboard is closed: its login configuration (.streamlit/secrets.toml) cannot be "
                         "read, so it is not known who may enter. Ask the administrator to fix it (the server "
                         "log names the error).")
    switch = login_switch()
    if switch is None:
        _log_once(logging.ERROR, f"login gate: {LOGIN_ENV} has a value other than '{LOGIN_NONE}'; every page is closed")
        _stop_with_error(f"The dashboard is closed: the environment variable `{LOGIN_ENV}` has a value it does not "
                         f"understand. Ask the administrator to remove it or set `{LOGIN_ENV}=none`.")
    if section is None:
        served = real_data_served()
        if not served:
            _log_once(logging.INFO, "login gate: off (no [auth]; serving only the bundled samples and uploads)")
            return
        kinds = " and ".join(served)
        if switch == LOGIN_NONE:
            _log_once(logging.INFO, f"login gate: off by explicit {LOGIN_ENV}=none while serving {kinds}")
            return
        _log_once(logging.ERROR, f"login gate: missing while serving {kinds}; every page is closed until [auth] "
                                 f"is configured or {LOGIN_ENV}=none is set")
        _stop_with_error(
            "The dashboard is closed: it is set up to show real patient data (" + kinds + "), but no sign-in is "
            "configured. Ask the administrator to either add an `[auth]` section to `.streamlit/secrets.toml` "
            "(sign-in with the hospital account), or, if sign-in happens elsewhere (for example at the reverse proxy) "
            f"or is not wanted, set the environment variable `{LOGIN_ENV}=none` for the dashboard service.")
    problem = configuration_problem(section)
    if problem is not None:
        _stop_with_error(f"Login is configured but incomplete: {problem}. Ask the administrator to fix "
                         ".streamlit/secrets.toml.")
    if not _authlib_installed():
        _stop_with_error("Login is configured but Authlib is not installed: "
                         "run `pip install -r requirements.txt` (streamlit[auth]).")
    names = [p or "default" for p in login_providers(section)]
    _log_once(logging.INFO, f"login gate: on (provider{'s' if len(names) > 1 else ''} {', '.join(names)})"
              + (f"; {LOGIN_ENV}=none is ignored while [auth] is configured" if switch == LOGIN_NONE else ""))
    if not st.user.is_logged_in:
        _show_sign_in(login_providers(section))
    allowed, reason = access_decision(section, st.user.to_dict())
    if not allowed:
        st.error(f"Access denied: {reason}. If you should have access, ask the administrator to check the "
                 "`allowed_...` lists in the `[auth]` section of `.streamlit/secrets.toml`.")
        st.button("Sign out", key="logout_denied", on_click=st.logout)
        st.stop()
    _show_account()
