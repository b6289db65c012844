"""Optional login gate of the dashboard (off unless the deployer configures it).

Local use needs no login: without an ``[auth]`` section in ``.streamlit/secrets.toml``
:func:`require_login` does nothing. On a hospital server the deployer adds that section
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

or named providers in ``[auth.<name>]`` tables (one sign-in button each). The optional
``allowed_domains`` / ``allowed_emails`` lists in ``[auth]`` restrict who may enter after
signing in (for identity providers that accept accounts outside the hospital).
See docs/hospital-deployment.md.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import streamlit as st

#: Keys an OIDC provider needs (besides the shared redirect_uri and cookie_secret).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SHARED_KEYS = ("redirect_uri", "cookie_secret")
ALLOWED_DOMAINS_KEY = "allowed_domains"
ALLOWED_EMAILS_KEY = "allowed_emails"


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
    return None


def user_allowed(section: Mapping, email: str | None) -> bool:
    """Whether a signed-in user passes the optional ``allowed_domains`` / ``allowed_emails`` lists."""
    domains = [str(d).lower().lstrip("@") for d in section.get(ALLOWED_DOMAINS_KEY, ())]
    emails = [str(e).lower() for e in section.get(ALLOWED_EMAILS_KEY, ())]
    if not domains and not emails:
        return True
    address = (email or "").strip().lower()
    if not address:
        return False
    return address in emails or address.rsplit("@", 1)[-1] in domains


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
    """Stop the page unless the visitor is signed in, when the deployer configured ``[auth]``.

    Does nothing without an ``[auth]`` section (local use). Otherwise: stops with an error
    when the section is incomplete or Authlib is missing; shows the sign-in screen and stops
    when nobody is signed in; stops with "access denied" when the signed-in account is not
    in the optional allow lists; else draws "Signed in as ..." and a sign-out button in the
    sidebar and returns.
    """
    try:
        section = auth_settings()
    except UnreadableSecrets as exc:
        logging.getLogger(__name__).error("Login configuration unreadable; every page is closed: %s", exc)
        _stop_with_error("The dashboard is closed: its login configuration (.streamlit/secrets.toml) cannot be "
                         "read, so it is not known who may enter. Ask the administrator to fix it (the server "
                         "log names the error).")
    if section is None:
        return
    problem = configuration_problem(section)
    if problem is not None:
        _stop_with_error(f"Login is configured but incomplete: {problem}. Ask the administrator to fix "
                         ".streamlit/secrets.toml.")
    if not _authlib_installed():
        _stop_with_error("Login is configured but Authlib is not installed: "
                         "run `pip install -r requirements.txt` (streamlit[auth]).")
    if not st.user.is_logged_in:
        _show_sign_in(login_providers(section))
    if not user_allowed(section, st.user.get("email")):
        st.error("Access denied: your account is not on this dashboard's list of allowed users.")
        st.button("Sign out", key="logout_denied", on_click=st.logout)
        st.stop()
    _show_account()
