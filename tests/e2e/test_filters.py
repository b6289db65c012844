"""Sidebar filters on the combined sample: counts and the Kaplan-Meier legend follow the disease and
prior-PD-1/PD-L1 filters, the era/site caveat appears when grouping by prior exposure, filters survive a
page switch, and the copied URL reopens the same view."""
from __future__ import annotations

from il2lib import schema

from . import builders, ui

PRIOR = "Prior PD-1/PD-L1"


def _filtered_n(summary: dict) -> int:
    return sum(group["n"] for group in summary["groups"].values())


def _assert_survival_view(page, n: int, total: int, curves: list[str], caveat: bool) -> None:
    assert ui.sidebar_counts(page) == (n, total)
    assert (schema.ERA_CAVEAT in ui.main_text(page)) is caveat

    def drawn() -> None:
        assert ui.km_curves(page) == curves
        assert ui.legend_labels(page) == curves

    ui.eventually(drawn)


def _n_curves(page, n: int) -> list[str]:
    curves = ui.km_curves(page)
    assert len(curves) == n, curves
    return curves


def test_disease_and_prior_filters_change_counts_legend_and_caveat(open_at, summary_of):
    melanoma = _filtered_n(summary_of(builders.COMBINED, "--disease", schema.MELANOMA))
    mel_yes = _filtered_n(summary_of(builders.COMBINED, "--disease", schema.MELANOMA, "--prior-pd1-pdl1", "yes"))
    mel_no = _filtered_n(summary_of(builders.COMBINED, "--disease", schema.MELANOMA, "--prior-pd1-pdl1", "no"))
    assert (melanoma, mel_yes, mel_no) == (70, 40, 30)

    page = open_at("/Survival")
    _assert_survival_view(page, 107, 107, ["Melanoma", "RCC"], caveat=False)
    ui.shot(page, "filters_0_survival_by_disease")

    ui.choose_select(page, "Disease", "Melanoma")
    _assert_survival_view(page, melanoma, 107, ["Melanoma"], caveat=False)
    assert ui.at_risk_rows(page)["Melanoma"][0] == (0, str(melanoma))
    assert "Melanoma" in ui.figure_title(page)

    ui.choose_select(page, "Compare groups", PRIOR)
    ui.eventually(lambda: _n_curves(page, 2))
    assert schema.ERA_CAVEAT in ui.main_text(page)
    starts = sorted(int(rows[0][1]) for rows in ui.at_risk_rows(page).values())
    assert starts == sorted([mel_yes, mel_no]), "number at risk at 0 months is not the group size"
    ui.shot(page, "filters_1_melanoma_by_prior_pd1_with_caveat")

    ui.choose_select(page, PRIOR, "yes")
    assert ui.sidebar_counts(page) == (mel_yes, 107)
    ui.eventually(lambda: _n_curves(page, 1))
    assert schema.ERA_CAVEAT not in ui.main_text(page), "caveat shown though only one prior-exposure group is left"
    assert ui.at_risk_rows(page) and next(iter(ui.at_risk_rows(page).values()))[0] == (0, str(mel_yes))
    ui.shot(page, "filters_2_melanoma_prior_yes")


def _regrouped(page, before: list[str]) -> list[str]:
    curves = ui.km_curves(page)
    assert curves and curves != before, f"figure not regrouped: {curves}"
    return curves


def _assert_curves(page, curves: list[str]) -> None:
    assert ui.km_curves(page) == curves, "grouping or filters not restored"


def test_filters_survive_page_switch_and_copied_url(open_at, summary_of):
    rcc_no = _filtered_n(summary_of(builders.COMBINED, "--disease", schema.RCC, "--prior-pd1-pdl1", "no"))
    page = open_at("/Survival")
    ui.choose_select(page, "Disease", "RCC")
    ui.choose_select(page, PRIOR, "no")
    ui.choose_select(page, "Compare groups", "Line of IL-2")
    assert ui.sidebar_counts(page) == (rcc_no, 107)
    curves = ui.eventually(lambda: _regrouped(page, ["RCC"]))

    for name in ("Response", "Cohort", "Survival"):
        ui.go_to_page(page, name)
        assert ui.sidebar_counts(page) == (rcc_no, 107), f"filters lost on the {name} page"
        assert ui.multiselect_values(page, "Disease") == ["RCC"]
        assert ui.multiselect_values(page, PRIOR) == ["no"]
    ui.eventually(lambda: _assert_curves(page, curves))
    url = page.url
    assert "disease=rcc" in url and "prior_pd1_pdl1=no" in url, url

    page.reload()
    ui.settle(page)
    assert ui.sidebar_counts(page) == (rcc_no, 107)
    ui.eventually(lambda: _assert_curves(page, curves))

    other = open_at(url)  # the copied link, pasted in a fresh browser session
    assert ui.sidebar_counts(other) == (rcc_no, 107), "copied link did not restore the filters"
    assert ui.multiselect_values(other, "Disease") == ["RCC"]
    ui.eventually(lambda: _assert_curves(other, curves))
    assert ui.figure_title(other) == ui.figure_title(page)
    ui.shot(other, "filters_copied_url_reopened")
