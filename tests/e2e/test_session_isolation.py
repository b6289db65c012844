"""Two browser sessions at once upload two different cohorts: each sees only its own patients,
before and after the other one changes its filters, and a copied link names the upload but never carries it."""
from __future__ import annotations

from il2lib import schema

from . import builders, ui
from .test_upload import start_upload


def _response_total(page) -> int:
    """Sum of the group sizes in the Response page's best-response table headers ("Melanoma (n=40)")."""
    ui.go_to_page(page, "Response")
    headers = ui.grid_headers(ui.find_grid(page, "Best overall response"))
    return sum(int(h.rsplit("n=", 1)[1].rstrip(")")) for h in headers if "n=" in h)


def test_two_sessions_see_only_their_own_upload(new_context, app_url, tmp_path, summary_of):
    file_a = builders.subset(builders.PROCLAIM, tmp_path / "site_a.csv", 57)
    file_b = builders.subset(builders.COMMUNITY, tmp_path / "site_b.csv", 31)
    n_a, n_b = summary_of(file_a)["n_analysed"], summary_of(file_b)["n_analysed"]
    a_mel = sum(g["n"] for g in summary_of(file_a, "--disease", schema.MELANOMA)["groups"].values())
    b_rcc = sum(g["n"] for g in summary_of(file_b, "--disease", schema.RCC)["groups"].values())
    assert n_a != n_b and a_mel not in (n_a, n_b) and b_rcc not in (n_a, n_b)

    page_a, page_b = new_context().new_page(), new_context().new_page()
    ui.open_app(page_a, app_url)
    ui.open_app(page_b, app_url)
    start_upload(page_a, file_a)
    start_upload(page_b, file_b)
    for page, name, n in ((page_a, "site_a.csv", n_a), (page_b, "site_b.csv", n_b)):
        ui.go_to_page(page, "Survival")  # a rerun of this session after the other one uploaded
        ui.go_to_page(page, "Data")
        assert ui.metric(page, "Patients analysed") == str(n), f"{name}: wrong count after the other upload"
        assert ui.sidebar_counts(page) == (n, n)
        assert f"Upload: {name}" in ui.page_text(page)
    assert "site_b.csv" not in ui.page_text(page_a) and "site_a.csv" not in ui.page_text(page_b)

    ui.choose_select(page_a, "Disease", "Melanoma")
    assert ui.sidebar_counts(page_a) == (a_mel, n_a)
    assert _response_total(page_b) == n_b, "session B changed after session A filtered"
    assert ui.sidebar_counts(page_b) == (n_b, n_b)

    ui.choose_select(page_b, "Disease", "RCC")
    assert ui.sidebar_counts(page_b) == (b_rcc, n_b)
    assert _response_total(page_a) == a_mel, "session A changed after session B filtered"
    assert ui.sidebar_counts(page_a) == (a_mel, n_a)
    ui.shot(page_a, "isolation_session_a")
    ui.shot(page_b, "isolation_session_b")

    stranger = new_context().new_page()
    ui.open_app(stranger, page_b.url)
    text = ui.page_text(stranger)
    assert "This link was made on an uploaded file: site_b.csv" in text and "site_a.csv" not in text
    assert stranger.locator(ui.METRIC_VALUE).count() == 0
    assert "n = " not in text, "a copied link opened someone else's upload"
    ui.shot(stranger, "isolation_copied_link_asks_for_the_file")
