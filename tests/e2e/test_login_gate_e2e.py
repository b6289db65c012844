"""A login configuration that cannot be read closes the real app: only its error shows, in Chromium.

Streamlit 1.67 raises the same ``FileNotFoundError`` subclass for a missing and for an unparsable
``secrets.toml``; the gate must tell them apart and fail closed on the second. The server here reads
a ``~/.streamlit/secrets.toml`` with a missing quote after ``cookie_secret`` (its ``HOME`` is a temporary
directory), and is started the way ``make run`` starts it.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e import ui
from tests.e2e.conftest import APP, ARTIFACTS, VIEWPORT
from tests.e2e.server import StreamlitServer

BROKEN_SECRETS = ('[auth]\nredirect_uri = "https://x/oauth2callback"\ncookie_secret = "abc\nclient_id = "x"\n'
                  'client_secret = "y"\nserver_metadata_url = "https://idp/.well-known/openid-configuration"\n')


@pytest.fixture(scope="module")
def broken_secrets_server(tmp_path_factory) -> StreamlitServer:
    home = tmp_path_factory.mktemp("home")
    (home / ".streamlit").mkdir()
    (home / ".streamlit" / "secrets.toml").write_text(BROKEN_SECRETS, encoding="utf-8")
    server = StreamlitServer.start(APP, ARTIFACTS / "streamlit-server-broken-secrets.log", env={"HOME": str(home)})
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["", "Survival", "Report"])
def test_unreadable_login_configuration_shows_only_its_error(broken_secrets_server, browser: Browser, path: str):
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        ui.open_app(page, f"{broken_secrets_server.url}/{path}")
        expect(page.locator(ui.MAIN)).to_contain_text("login configuration", timeout=ui.DEFAULT_TIMEOUT_MS)
        main = ui.main_text(page)
        assert "cannot be read" in main
        assert "n = " not in ui.page_text(page)  # no patient count, sidebar included
        assert page.locator("[data-testid='stMetric'], [data-testid='stTable'], [data-testid='stDataFrame'], "
                            ".js-plotly-plot, [data-testid='stFileUploader']").count() == 0
        ui.shot(page, f"login_unreadable_configuration_{path or 'data'}")
    finally:
        context.close()
    assert "Login configuration unreadable" in Path(broken_secrets_server.log_path).read_text(errors="replace")
