"""Sharing a view made on an upload: the copied link names the file and its fingerprint, a colleague's browser
without the file is blocked with the file's name instead of showing the sample, and uploading the same file
applies the link's filters (another file is named as different)."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess

from playwright.sync_api import expect

from . import builders, ui
from .conftest import APP
from .server import ARTIFACTS, StreamlitServer, server_command

COPY_BUTTON = "button#copy"
SAMPLE_TOTAL = 107  # patients of the default sample


def copied_link(page, context, app_url: str) -> str:
    """Press the sidebar's "Copy link to this view" and read the clipboard."""
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/"))
    button = page.locator(ui.SIDEBAR).frame_locator("iframe").locator(COPY_BUTTON)
    button.click()
    expect(button).to_contain_text("Link copied")
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == button.get_attribute("data-link")
    return link


def test_link_made_on_an_upload_asks_for_the_same_file_and_then_shows_its_view(new_context, app_url, tmp_path):
    path = builders.subset(builders.COMBINED, tmp_path / "registry_export.csv", 80)
    other = builders.subset(builders.COMBINED, tmp_path / "registry_export_v2.csv", 60)
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:8]

    mine = new_context()
    page = mine.new_page()
    ui.open_app(page, app_url)
    ui.choose_radio(page, "Data source", "My upload")
    ui.upload(page, path)
    ui.choose_select(page, "Disease", "RCC")
    n_rcc, n_total = ui.sidebar_counts(page)
    assert n_total == 80 and 0 < n_rcc < 80
    caption = page.locator(ui.SIDEBAR).inner_text()
    assert f"registry_export.csv (fingerprint {fingerprint})" in caption, "the button does not say what it reopens"
    link = copied_link(page, mine, app_url)
    assert f"upload_fp={fingerprint}" in link and "upload=registry_export.csv" in link and "disease=rcc" in link
    ui.shot(page, "shared_link_made_on_upload")

    colleague = new_context().new_page()
    ui.open_app(colleague, link)
    expected = (f"This link was made on an uploaded file: registry_export.csv (fingerprint {fingerprint}). "
                "Upload the same file to see this view.")
    assert expected in ui.main_text(colleague)
    assert not re.search(r"n = \d+ of \d+ patients", ui.page_text(colleague)), "numbers shown without the file"
    assert colleague.locator(ui.METRIC_VALUE).count() == 0
    ui.shot(colleague, "shared_link_without_the_file")

    ui.upload(colleague, path)
    assert ui.sidebar_counts(colleague) == (n_rcc, 80)
    assert ui.multiselect_values(colleague, "Disease") == ["RCC"]
    assert "different file" not in ui.page_text(colleague)

    third = new_context().new_page()
    ui.open_app(third, link)
    ui.upload(third, other)
    text = ui.page_text(third)
    assert "it is a different file" in text and fingerprint in text
    assert ui.sidebar_counts(third)[1] == 60
    assert ui.multiselect_values(third, "Disease") == ["RCC"]


def test_link_on_a_sample_reopens_it_without_asking_for_a_file(new_context, app_url):
    context = new_context()
    page = context.new_page()
    ui.open_app(page, app_url)
    ui.shot(page, "data_page_sample")
    ui.choose_select(page, "Disease", "Melanoma")
    link = copied_link(page, context, app_url)
    assert "upload" not in link and "disease=melanoma" in link
    other = new_context().new_page()
    ui.open_app(other, link)
    assert ui.sidebar_counts(other) == (70, SAMPLE_TOTAL)
    assert "This link was made on an uploaded file" not in ui.page_text(other)


def test_restart_that_loses_the_upload_blocks_the_open_page_instead_of_showing_the_sample(new_context, tmp_path):
    """The server restarts under an open page (same port): the page reconnects, and its next run is a new session
    without the upload, which must say so, not fall back to the sample with the same filters."""
    path = builders.subset(builders.COMBINED, tmp_path / "before_restart.csv", 80)
    server = StreamlitServer.start(APP, ARTIFACTS / "streamlit-restart-1.log")
    try:
        page = new_context().new_page()
        ui.open_app(page, server.url)
        ui.choose_radio(page, "Data source", "My upload")
        ui.upload(page, path)
        ui.choose_select(page, "Disease", "RCC")
        assert ui.sidebar_counts(page)[1] == 80
        server.stop()
        log = (ARTIFACTS / "streamlit-restart-2.log").open("wb")
        process = subprocess.Popen(server_command(APP, server.port), cwd=APP.parent, stdout=log,
                                   stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        server = StreamlitServer(APP, server.port, process, ARTIFACTS / "streamlit-restart-2.log")
        server.wait_healthy(60)
        ui.wait_idle(page)  # reconnected; the next run (here: a page switch) is a new session
        ui.go_to_page(page, "Survival")
        expect(page.locator(ui.MAIN)).to_contain_text("This link was made on an uploaded file: before_restart.csv",
                                                      timeout=ui.DEFAULT_TIMEOUT_MS)
        ui.settle(page)
        assert not re.search(r"n = \d+ of \d+ patients", ui.page_text(page)), "numbers shown without the upload"
        ui.shot(page, "shared_link_after_restart")
    finally:
        server.stop()
