"""Fixtures of the browser tests: one `streamlit run app.py` per session, one Debian chromium per session,
a fresh browser context (own cookies, own Streamlit session) per test.

The server listens on a free 127.0.0.1 port; the fixture waits on ``/_stcore/health``, then on rendered text,
and stops the server by its PID at the end. Its log is kept in ``tests/artifacts/streamlit-server.log``.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from . import ui
from .server import ARTIFACTS, CHROMIUM_ARGS, ROOT, VIEWPORT, StreamlitServer, chromium_executable

APP = ROOT / "app.py"


@pytest.fixture(scope="package")
def streamlit_server() -> Iterator[StreamlitServer]:
    if not APP.is_file():
        pytest.fail(f"{APP} does not exist: the dashboard is missing")
    server = StreamlitServer.start(APP, ARTIFACTS / "streamlit-server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")  # package, not session: other test modules start their own sync Playwright
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def app_url(streamlit_server: StreamlitServer, browser: Browser) -> str:
    """Base URL of the running app, once a first page load has rendered text (the script ran once)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        ui.open_app(page, streamlit_server.url)
    finally:
        context.close()
    return streamlit_server.url


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """Factory of fresh browser contexts (each one its own Streamlit session); all closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(ui.DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test leaves a screenshot of its page under tests/artifacts/failed_<test>.png."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is not None and not page.is_closed():
        try:
            page.screenshot(path=str(ARTIFACTS / f"failed_{item.name}.png"), full_page=True)
        except Exception:  # the browser may be gone; the failure itself is what matters
            pass


@pytest.fixture
def page(new_context: Callable[[], BrowserContext], app_url: str) -> Page:
    """A fresh page in a fresh context, already opened on the app's landing page."""
    page = new_context().new_page()
    ui.open_app(page, app_url)
    return page


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def open_at(new_context: Callable[[], BrowserContext], app_url: str) -> Callable[[str], Page]:
    """Open a fresh session directly at ``path`` (``"/Survival?present=1"``) or at a full URL, as a pasted
    link does."""

    def open_(path: str = "") -> Page:
        page = new_context().new_page()
        ui.open_app(page, path if path.startswith("http") else app_url + path)
        return page

    return open_


def run_summary(path: Path, *extra: str) -> CliRun:
    """``python -m il2lib summary FILE --format json [extra]`` for the same file the browser shows.

    Runs the entry point ``python -m il2lib`` runs (``il2lib.cli.main``, see ``il2lib/__main__.py``) in this
    process: a subprocess per call costs seconds of imports on a busy 2-core machine, for the same code path.
    """
    from il2lib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["summary", str(path), "--format", "json", *extra])
        except SystemExit as exc:  # argparse errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliRun(int(code or 0), out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def summary_of() -> Callable[..., dict]:
    """The oracle: the CLI's JSON summary of a file (cached per file and flags); the CLI must exit 0."""
    cache: dict[tuple, dict] = {}

    def get(path: Path, *extra: str) -> dict:
        key = (str(path), *extra)
        if key not in cache:
            done = run_summary(path, *extra)
            assert done.returncode == 0, f"il2lib summary {path} {extra} exited {done.returncode}:\n{done.stderr}"
            cache[key] = json.loads(done.stdout)
        return cache[key]

    return get
