"""AppTest of the analysis sections on the Survival and Response pages (combined sample, the default data)."""
from __future__ import annotations

import json

import pytest

from app_ui.survival_sections import TABS
from support.apptest import open_app, open_code, rerun, tables, texts

SURVIVAL, RESPONSE = "pages/3_Survival.py", "pages/2_Response.py"


def frame_with(at, column: str):
    frames = [d for d in tables(at) if column in d.columns]
    assert frames, [list(d.columns) for d in tables(at)]
    return frames[0]


def chart(at, title_part: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if title_part in spec["layout"]["title"]["text"]:
            return spec
    raise AssertionError(f"no chart titled {title_part!r}")


def open_tab(at, tab: str):
    """Open "Models and further comparisons" on ``tab`` (collapsed by default; only the open tab runs)."""
    at.session_state["km_more"], at.session_state["km_tab"] = True, tab
    at.query_params["km_more"], at.query_params["km_tab"] = "true", tab  # both widgets are bound to the URL
    return rerun(at)


@pytest.fixture(scope="module")
def survival():
    return open_tab(open_app({"km_by": "line_of_il2"}, page=SURVIVAL), "Multivariable Cox")


def test_models_section_is_collapsed_and_lazy():
    at = open_app({"km_by": "line_of_il2"}, page=SURVIVAL)
    assert not any(list(d.columns) == ["Term", "HR (95% CI)", "p"] for d in tables(at))
    assert [e.label for e in at.expander if e.label.startswith("Models and further comparisons")]
    open_tab(at, "Competing risks")  # only the open tab runs: the Cox tab draws nothing
    assert not any(list(d.columns) == ["Term", "HR (95% CI)", "p"] for d in tables(at))
    frame_with(at, "CIF, % (95% CI)")


def test_models_section_opens_from_the_url():
    at = open_app({"km_by": "line_of_il2", "km_more": "true", "km_tab": "Time origin"}, page=SURVIVAL)
    assert any(r.key == "origin" for r in at.radio)


def test_multivariable_cox_table_forest_and_checks(survival):
    at = survival
    hr = [d for d in tables(at) if list(d.columns) == ["Term", "HR (95% CI)", "p"]][0]
    assert list(hr["Term"]) == ["Age (per 10 years)", "Sex: M vs F", "ECOG PS (per point)", "Disease: RCC vs Melanoma"]
    spec = chart(at, "multivariable Cox model")
    assert spec["layout"]["xaxis"]["type"] == "log" and len(spec["data"][0]["y"]) == 4
    assert any("events per coefficient" in c for c in texts(at, "caption"))
    assert any("Proportional hazards questionable for: Sex" in w for w in texts(at, "warning"))
    assert any("Chi-square" in d.columns for d in tables(at))


def test_cox_overfitting_and_non_convergence_messages():
    at = open_tab(open_app({"disease": "melanoma"}, page=SURVIVAL), "Multivariable Cox")
    at.multiselect(key="mv_covariates").set_value(["disease", "age"])
    rerun(at)
    assert any("Disease takes a single value" in w for w in texts(at, "warning"))
    at.multiselect(key="mv_covariates").set_value(["age", "sex", "ecog", "ldh_x_uln", "later_line", "n_met_sites"])
    rerun(at)
    assert any("Over-fitting risk" in w for w in texts(at, "warning"))


def test_pairwise_logrank_next_to_figure(survival):
    table = frame_with(survival, "p (Holm)")
    assert list(table["Comparison"]) == ["Line of IL-2: 1 vs 2", "Line of IL-2: 1 vs 3+", "Line of IL-2: 2 vs 3+"]
    assert list(table.columns) == ["Comparison", "p", "p (Holm)", "p (BH)"]


def test_milestones_rmst_competing_and_origin_tabs():
    at = open_tab(open_app({"km_by": "line_of_il2"}, page=SURVIVAL), "Milestones & RMST")
    diff = frame_with(at, "Difference, % points (95% CI)")
    assert set(diff["Time"]) == {"12 mo", "24 mo"}
    assert any(c.startswith("RMST to ") for d in tables(at) for c in d.columns)
    open_tab(at, "Competing risks")
    cif = frame_with(at, "CIF, % (95% CI)")
    assert set(cif["Event"]) == {"Progression", "Death without progression"}
    assert any("Gray's test" in c for c in texts(at, "caption"))
    open_tab(at, "Time origin")
    at.radio(key="origin").set_value("pd1_end")
    rerun(at)
    metric = [m for m in at.metric if m.label.startswith("Patients with delayed entry")][0]
    assert metric.value == "57"
    assert any("57 patient(s) enter the risk set late" in c for c in texts(at, "caption"))


def test_milestone_differences_follow_the_reference_group():
    def comparisons(query: dict) -> set:
        at = open_tab(open_app({"km_by": "prior_pd1_pdl1", **query}, page=SURVIVAL), "Milestones & RMST")
        diff = frame_with(at, "Difference, % points (95% CI)")
        return set(diff.iloc[:, 0])

    assert comparisons({}) == {"Prior PD-1/PD-L1: yes vs no"}
    assert comparisons({"km_ref": "yes"}) == {"Prior PD-1/PD-L1: no vs yes"}


def test_show_code_expanders(survival):
    assert not survival.code  # drawn on demand
    codes = [c.value for c in open_code(survival).code]
    competing = open_tab(open_app({"km_by": "line_of_il2"}, page=SURVIVAL), "Competing risks")
    codes += [c.value for c in open_code(competing).code]
    assert any("multivariable_cox(df" in c for c in codes)
    assert any("coxph(Surv(os_months, os_event)" in c for c in codes)
    assert any("cuminc(" in c for c in codes) and any("pairwise_logrank(" in c for c in codes)


def test_published_medians_on_survival_page():
    at = open_tab(open_app(page=SURVIVAL), "Published results")
    assert not any("Published median" in d.columns for d in tables(at))
    at.toggle(key="w_published").set_value(True)
    rerun(at)
    table = frame_with(at, "Published median")
    assert list(table["Published median"]) == ["61 months", "17 months", "48 months", "17 months"]
    chart(at, "our cohort vs published")


def test_response_pairwise_published_and_masking():
    at = open_app({"resp_by": "prior_pd1_agent"}, page=RESPONSE)
    pair = frame_with(at, "p (BH)")
    assert "Odds ratio" in pair.columns and len(pair) >= 3
    assert not any("Source" in d.columns for d in tables(at))
    at.toggle(key="w_published").set_value(True)
    rerun(at)
    pub = frame_with(at, "Source")
    assert "PROCLAIM post-PD-1 series" in set(pub["Source"]) and "Our cohort" in set(pub["Source"])
    assert any("computed from published counts" in c for c in texts(at, "caption"))
    spec = chart(at, "our cohort vs published")
    assert {"circle", "diamond-open"} <= {t["marker"]["symbol"] for t in spec["data"]}
    bor = [d for d in tables(at) if "Best overall response" in d.columns][0]
    assert not bor.astype(str).apply(lambda c: c.str.contains("<5")).any().any()
    at.toggle(key="w_mask").set_value(True)
    rerun(at)
    bor = [d for d in tables(at) if "Best overall response" in d.columns][0]
    assert bor.astype(str).apply(lambda c: c.str.contains("<5")).any().any()
    assert any("Small-cell protection on" in c for c in texts(at, "caption"))
    open_code(at)
    assert any("Patient-level download hidden" in c for c in texts(at, "caption"))
    assert not any(b.label == "Analysis CSV" for b in at.get("download_button"))


@pytest.mark.parametrize("page, needle", [("pages/1_Cohort.py", "table1(df"), ("pages/4_Biomarkers.py",
                                          "biomarker_comparison(df"), ("pages/5_Toxicity.py", "toxicity_summary(ae")])
def test_other_pages_show_code_and_mask(page, needle):
    at = open_code(open_app(page=page))
    assert any(needle in c.value for c in at.code)
    before = [d.astype(str) for d in tables(at)]
    at.toggle(key="w_mask").set_value(True)
    rerun(at)
    after = [d.astype(str) for d in tables(at)]
    assert any(a.apply(lambda c: c.str.contains("<5")).any().any() for a in after)
    assert not any(b.apply(lambda c: c.str.contains("<5")).any().any() for b in before)
    assert any("Small-cell protection on" in c for c in texts(at, "caption"))


def crossing_hazards_csv() -> bytes:
    """The combined sample with melanoma half early deaths / half long survivors and RCC deaths at 16-26
    months: the curves cross and cox.zph rejects proportional hazards by disease."""
    import numpy as np
    import pandas as pd

    from support.apptest import SAMPLE

    raw = pd.read_csv(SAMPLE, dtype=str)
    start = pd.to_datetime(raw["date_il2_start"])
    mel = (raw["disease"] == "melanoma").to_numpy()
    k = np.arange(len(raw))
    days = np.where(mel, np.where(k % 2 == 0, 40 + k % 30, 2500), 500 + (k % 10) * 30)
    died = np.where(mel & (k % 2 == 1), "No", "Yes")
    end = (start + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d")
    raw["died"], raw["date_death"], raw["date_last_followup"] = died, np.where(died == "Yes", end, ""), end
    for column in ("date_progression", "date_first_response", "date_last_assessment", "data_cutoff_date",
                   "sd_duration_months"):
        raw[column] = ""
    raw["progressed"] = "No"
    return raw.to_csv(index=False).encode()


def test_rmst_offered_automatically_when_ph_fails():
    at = open_app()
    at.radio(key="w_data").set_value("upload")
    rerun(at)
    at.file_uploader(key="w_upload").set_value(("crossing.csv", crossing_hazards_csv(), "text/csv"))
    rerun(at)
    at.switch_page(SURVIVAL)
    rerun(at)
    assert any("Proportional hazards look violated" in w for w in texts(at, "warning"))
    assert any("restricted mean survival time (RMST) is offered" in i for i in texts(at, "info"))
    assert {"dl_csv_rmst_auto_table", "dl_xlsx_rmst_auto_table"} <= {b.proto.id.rsplit("-", 1)[-1]
                                                                  for b in at.get("download_button")}
    open_tab(at, "Milestones & RMST")
    assert any("Offered because the proportional-hazards check failed" in i for i in texts(at, "info"))
    rmst = [d for d in tables(at) if any(c.startswith("RMST to ") for c in d.columns)]
    assert len(rmst) == 2  # beside the figure and in the Milestones & RMST tab
    assert list(rmst[0]["Group"]) == ["Melanoma", "RCC"]


@pytest.mark.parametrize("query", [
    {"endpoint": "dor", "km_by": "line_of_il2"}, {"endpoint": "pfs", "km_by": "prior_pd1_pdl1"},
    {"km_by": "objective_response"}, {"km_by": "clinical_benefit", "disease": "rcc"},
    {"disease": "rcc", "line": "3+", "km_by": "line_of_il2"}, {"km_by": "None", "ecog": "2"},
])
def test_survival_sections_never_raise(query):
    at = open_app(query, page=SURVIVAL)  # open_app asserts that no exception reached the page
    for tab in TABS:
        open_tab(at, tab)  # asserts that no exception reached the page
    if any(r.key == "origin" for r in at.radio):  # the time-origin tab (OS and PFS only)
        at.radio(key="origin").set_value("pd1_end")
        rerun(at)


def test_minimal_upload_without_optional_columns():
    import pandas as pd

    from il2lib import schema
    from support.apptest import SAMPLE

    raw = pd.read_csv(SAMPLE, dtype=str)
    keep = list(schema.REQUIRED_COLUMNS) + [schema.DATE_DEATH, schema.DATE_LAST_FOLLOWUP]
    at = open_app()
    at.radio(key="w_data").set_value("upload")
    rerun(at)
    at.file_uploader(key="w_upload").set_value(("minimal.csv", raw[keep].to_csv(index=False).encode(), "text/csv"))
    rerun(at)
    for page in (SURVIVAL, RESPONSE):
        at.switch_page(page)
        rerun(at)
    at.toggle(key="w_published").set_value(True)
    rerun(at)
    at.switch_page(SURVIVAL)
    rerun(at)
    open_tab(at, "Competing risks")
    assert any("Competing risks need progression data" in t for t in texts(at, "info"))
