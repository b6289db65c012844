"""The shared frame: sidebar filters, "n = X of Y", reset, URL state, page switches, presentation mode."""
from __future__ import annotations

import pytest

from il2lib import schema
from il2lib.cohort import CohortFilter, apply_filter
from support.apptest import PAGES, open_app, rerun, sample_data, sidebar_count, texts, widget


def n_filtered(f: CohortFilter) -> int:
    return len(apply_filter(sample_data(), f))


def test_default_is_the_combined_sample_with_every_patient():
    at = open_app()
    total = len(sample_data())
    assert sidebar_count(at) == f"n = {total} of {total} patients"
    assert any(schema.SYNTHETIC_NOTE in c for c in texts(at.sidebar, "caption"))
    labels = [link.label for link in at.sidebar.get("page_link")]
    assert labels[:6] == ["Data", "Cohort", "Response", "Survival", "Biomarkers", "Toxicity"]


def test_filter_changes_the_count_to_what_il2lib_computes_and_the_url():
    at = open_app()
    widget(at, "multiselect", "w_disease").set_value(["rcc"])
    rerun(at)
    expected = n_filtered(CohortFilter(disease=("rcc",)))
    assert sidebar_count(at) == f"n = {expected} of {len(sample_data())} patients"
    assert at.query_params["disease"] == "rcc"
    widget(at, "multiselect", "w_prior").set_value(["no"])
    rerun(at)
    expected = n_filtered(CohortFilter(disease=("rcc",), prior_pd1_pdl1=(False,)))
    assert sidebar_count(at).startswith(f"n = {expected} of")
    assert at.query_params[schema.PRIOR_PD1] == "no"


def test_query_parameters_restore_the_filters():
    at = open_app({"disease": "melanoma", "line_of_il2": "1", "ecog": "0,1", "present": "1"})
    f = CohortFilter(disease=("melanoma",), line_of_il2=("1",), ecog=(0, 1))
    assert sidebar_count(at).startswith(f"n = {n_filtered(f)} of")
    assert widget(at, "multiselect", "w_disease").value == ["melanoma"]
    assert widget(at, "multiselect", "w_ecog").value == [0, 1]
    assert widget(at, "toggle", "w_present").value is True
    assert any(f.describe() in c for c in texts(at.sidebar, "caption"))


def test_age_range_and_other_column_from_the_url():
    at = open_app({"age_at_il2": "40-60", "braf_v600": "mutant"})
    f = CohortFilter(age_range=(40.0, 60.0), extra=((schema.BRAF, ("mutant",)),))
    assert sidebar_count(at).startswith(f"n = {n_filtered(f)} of")
    assert widget(at, "slider", "w_age").value == (40.0, 60.0)
    assert widget(at, "selectbox", "w_extra_col").value == schema.BRAF


def test_url_cannot_filter_on_a_column_the_sidebar_does_not_offer():
    # ?col.patient_id=... would select one patient by a hidden column (security review: URL filters)
    pid = str(sample_data()[schema.PATIENT_ID].iloc[0])
    at = open_app({"col.patient_id": pid})
    total = len(sample_data())
    assert sidebar_count(at) == f"n = {total} of {total} patients"
    assert any("filter on column 'patient_id' was ignored" in w for w in texts(at.sidebar, "warning"))
    assert "col.patient_id" not in at.query_params


def test_bad_url_values_are_reported_not_raised():
    at = open_app({"disease": "lung", "age_at_il2": "old"})
    warnings = " ".join(texts(at.sidebar, "warning"))
    assert "lung" in warnings and "age range" in warnings
    total = len(sample_data())
    assert sidebar_count(at) == f"n = {total} of {total} patients"


def test_page_switch_keeps_filters_and_url():
    at = open_app()
    widget(at, "multiselect", "w_disease").set_value(["melanoma"])
    rerun(at)
    expected = sidebar_count(at)
    for page in PAGES:
        at.switch_page(page)
        rerun(at)
        assert sidebar_count(at) == expected, page
        assert widget(at, "multiselect", "w_disease").value == ["melanoma"]
        assert at.query_params["disease"] == "melanoma"


def test_reset_clears_every_filter():
    at = open_app({"disease": "rcc", "sex": "F"})
    at.sidebar.button(key="reset_filters").click()
    rerun(at)
    total = len(sample_data())
    assert sidebar_count(at) == f"n = {total} of {total} patients"
    assert "disease" not in at.query_params and "sex" not in at.query_params
    assert widget(at, "multiselect", "w_disease").value == []


@pytest.mark.parametrize("page", ("app.py",) + PAGES)
def test_empty_filter_shows_a_plain_message_on_every_page(page):
    # PROCLAIM patients all had prior PD-1/PD-L1, community ones none: this filter keeps nobody.
    query = {schema.PRIOR_PD1: "yes", "source": "Community (synthetic)"}
    assert n_filtered(CohortFilter(prior_pd1_pdl1=(True,), source=("Community (synthetic)",))) == 0
    at = open_app(query, None if page == "app.py" else page)
    assert sidebar_count(at).startswith("n = 0 of")
    if page != "app.py":
        assert any("No patient matches the current filters" in i for i in texts(at, "info"))
        assert not at.get("plotly_chart")


def test_presentation_toggle_is_mirrored_in_the_url():
    at = open_app()
    widget(at, "toggle", "w_present").set_value(True)
    rerun(at)
    assert at.query_params["present"] == "1"
    widget(at, "toggle", "w_present").set_value(False)
    rerun(at)
    assert "present" not in at.query_params


@pytest.mark.parametrize("name", ["mask", "published"])
def test_on_off_page_options_are_restored_from_the_url(name):
    """url_toggle writes ?<name>=1; reopening that URL must switch the option on again."""
    at = open_app({name: "1"}, page="pages/2_Response.py")
    assert widget(at, "toggle", f"w_{name}").value is True


def test_slide_navigation_follows_the_sidebar_order():
    from app_ui.frame import neighbours

    assert neighbours("Survival") == (("pages/2_Response.py", "Response"), ("pages/4_Biomarkers.py", "Biomarkers"))
    assert neighbours("Data")[0] is None and neighbours("Data")[1] == ("pages/1_Cohort.py", "Cohort")
    assert neighbours("Report")[1] is None
    assert neighbours("No such page") == (None, None)


def test_presentation_mode_draws_previous_and_next_links_and_no_code_panels():
    normal = open_app(page="pages/3_Survival.py")
    assert any(e.label.startswith("Show code") for e in normal.main.expander)
    assert not [link for link in normal.main.get("page_link") if link.label.startswith(("Previous", "Next"))]
    at = open_app({"present": "1"}, "pages/3_Survival.py")
    assert [link.label for link in at.main.get("page_link")] == ["Previous: Response", "Next: Biomarkers"]
    assert not any(e.label.startswith("Show code") for e in at.main.expander)
    assert "pseudonym" in " ".join(texts(at.sidebar, "caption"))


def swimmer_lanes(at) -> list[str]:
    import json

    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    swimmer = next(s for s in specs if s["layout"].get("yaxis", {}).get("title", {}).get("text") == "Patient")
    return [str(t) for t in swimmer["layout"]["yaxis"]["ticktext"]]


def test_presentation_mode_names_patients_by_pseudonym():
    ids = swimmer_lanes(open_app(page="pages/2_Response.py"))
    assert ids and not any(t.startswith("row ") for t in ids)
    at = open_app({"present": "1"}, "pages/2_Response.py")
    lanes = swimmer_lanes(at)
    assert len(lanes) == len(ids) and all(t.startswith("row ") for t in lanes), lanes[:5]
    widget(at, "toggle", "w_present").set_value(False)
    rerun(at)
    assert swimmer_lanes(at) == ids  # leaving presentation mode gives the file's ids back
