"""Each page with the sample: renders, and shows exactly the numbers il2lib computes for the filter."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses._grouping import group_labels, level_order
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.analyses.response import best_response_table, response_rates
from il2lib.analyses.table1 import table1
from il2lib.analyses.toxicity import toxicity_summary
from il2lib.cohort import CohortFilter, apply_filter
from il2lib.stats import format_p, p_phrase
from il2lib.survival import kaplan_meier, landmark, logrank_test
from support.apptest import PAGES, frame_equal, open_app, rerun, sample_data, tables, texts, widget

MELANOMA = CohortFilter(disease=("melanoma",))


def filtered(f: CohortFilter) -> pd.DataFrame:
    return apply_filter(sample_data(), f)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_sample(page):
    at = open_app(page=page)
    assert at.title and at.title[0].value
    assert tables(at), "each page shows at least one table"
    assert not at.error


def test_cohort_table1_matches_il2lib_for_the_filter():
    at = open_app({"disease": "melanoma", "t1_by": schema.PRIOR_PD1}, "pages/1_Cohort.py")
    expected = table1(filtered(MELANOMA), schema.PRIOR_PD1)
    frame_equal(tables(at)[0], expected.display())
    assert any(schema.ERA_CAVEAT in w for w in texts(at, "warning"))
    # Table 1 is a static (Markdown) table: its indented level rows must not start with spaces,
    # which Markdown would draw as code blocks.
    cells = at.table[0].value.to_numpy().ravel()
    indented = [c for c in cells if isinstance(c, str) and c.startswith("\u00a0")]
    assert indented and not any(isinstance(c, str) and c.startswith(" ") for c in cells)


def test_response_tables_match_il2lib_and_follow_a_filter_change():
    at = open_app({"resp_by": schema.PRIOR_PD1}, "pages/2_Response.py")
    data = sample_data()
    frame_equal(tables(at)[0], best_response_table(data, schema.PRIOR_PD1).display())
    frame_equal(tables(at)[1], response_rates(data, schema.PRIOR_PD1).display())
    assert any(schema.ERA_CAVEAT in w for w in texts(at, "warning"))
    widget(at, "multiselect", "w_disease").set_value(["melanoma"])
    rerun(at)
    rates = response_rates(filtered(MELANOMA), schema.PRIOR_PD1)
    frame_equal(tables(at)[1], rates.display())
    shown_p = tables(at)[2]["p"].tolist()
    assert shown_p == [format_p(c.result.pvalue) for c in rates.comparisons]


def test_response_evaluable_denominator_and_wilson():
    at = open_app({"resp_by": schema.DISEASE, "denom": "evaluable", "ci_method": "wilson"}, "pages/2_Response.py")
    expected = response_rates(sample_data(), schema.DISEASE, ci_method="wilson", denominator="evaluable")
    frame_equal(tables(at)[1], expected.display())


def km_by(df: pd.DataFrame, endpoint: str, by: str):
    ep = schema.ENDPOINTS[endpoint]
    labels = group_labels(df, by)
    ordered = pd.Categorical(labels, categories=level_order(by, labels))  # the page's display order
    return kaplan_meier(df[ep.time], df[ep.event], by=ordered), labels


def as_array(value) -> np.ndarray:
    """A plotly JSON array, plain or typed ({"dtype": "f8", "bdata": base64})."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def chart_spec(at) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "no figure drawn"
    return json.loads(charts[0].proto.spec)


def test_survival_numbers_match_il2lib_and_follow_a_filter_change():
    at = open_app({"km_by": schema.PRIOR_PD1}, "pages/3_Survival.py")
    for f in (CohortFilter(), MELANOMA):
        if f == MELANOMA:
            widget(at, "multiselect", "w_disease").set_value(["melanoma"])
            rerun(at)
        data = filtered(f)
        km, labels = km_by(data, "os", schema.PRIOR_PD1)
        test = logrank_test(data[schema.OS_MONTHS], data[schema.OS_EVENT], labels)
        assert at.metric[0].value == p_phrase(test.pvalue)
        medians = tables(at)[0]
        assert list(medians["Group"]) == list(km.groups)
        for group, shown in zip(km.groups, medians["Median, months (95% CI)"]):
            assert shown.startswith(f"{km[group].median:.1f} (")
        spec = chart_spec(at)
        names = [t.get("name") for t in spec["data"]]
        assert all(g in names for g in km.groups)
        ticks = as_array(spec["layout"]["xaxis"]["tickvals"])
        for group in km.groups:
            row = next(t for t in spec["data"] if t.get("name") == f"{group} at risk")
            assert row["text"] == [str(int(v)) for v in km[group].at_risk(ticks)]
        assert f.describe() in spec["layout"]["title"]["subtitle"]["text"]
        assert any(schema.ERA_CAVEAT in w for w in texts(at, "warning"))


def test_survival_reference_group_orders_the_curves_and_turns_the_hazard_ratio():
    # default: the naive group is the reference, so the hazard ratio reads exposed vs naive
    at = open_app({"km_by": schema.PRIOR_PD1}, "pages/3_Survival.py")
    names = [t.get("name") for t in chart_spec(at)["data"] if t.get("name", "").startswith("Prior")]
    assert names.index("Prior PD-1/PD-L1: no") < names.index("Prior PD-1/PD-L1: yes")
    hr = tables(at)[-1]
    assert "yes vs no" in hr.iloc[0, 0]
    flipped = open_app({"km_by": schema.PRIOR_PD1, "km_ref": "yes"}, "pages/3_Survival.py")
    assert "no vs yes" in tables(flipped)[-1].iloc[0, 0]
    assert list(tables(flipped)[0]["Group"]) == ["Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"]
    assert flipped.metric[0].value == at.metric[0].value  # log-rank does not depend on the reference


def test_survival_by_response_defaults_to_the_landmark_and_says_why():
    at = open_app({"km_by": schema.OBJECTIVE_RESPONSE}, "pages/3_Survival.py")
    warning = " ".join(texts(at, "warning"))
    assert "guarantee-time" in warning and "landmark" in warning
    assert widget(at, "toggle", "w_landmark_on").value is True
    expected = landmark(sample_data(), grouping="response", landmark_months=6.0)
    assert any(expected.note in c for c in texts(at, "caption"))
    assert at.metric[0].value == p_phrase(expected.logrank.pvalue)
    spec = chart_spec(at)
    assert {"Responder at landmark", "Non-responder at landmark"} <= {t.get("name") for t in spec["data"]}
    widget(at, "toggle", "w_landmark_on").set_value(False)
    rerun(at)
    assert not any(expected.note in c for c in texts(at, "caption"))


def test_clinical_benefit_landmark_cannot_be_shorter_than_the_threshold():
    at = open_app({"km_by": schema.CLINICAL_BENEFIT, "cb_sd": "9", "landmark": "3"}, "pages/3_Survival.py")
    assert widget(at, "number_input", "w_landmark").value == 9.0  # default max(6, 9); 3 is below the minimum
    expected = landmark(sample_data(), grouping="benefit", landmark_months=9.0, cb_sd_months=9.0)
    assert any(expected.note in c for c in texts(at, "caption"))


def test_survival_one_group_and_dor_population():
    at = open_app({"disease": "rcc", "km_by": schema.DISEASE}, "pages/3_Survival.py")
    assert any("Only one group" in i for i in texts(at, "info"))
    assert "Log-rank test" not in [m.label for m in at.metric]
    at = open_app({"endpoint": "dor", "km_by": "None"}, "pages/3_Survival.py")
    data = sample_data()
    responders = data[data[schema.BOR].isin(["CR", "PR"])]
    km = kaplan_meier(responders[schema.DOR_MONTHS], responders[schema.DOR_EVENT])
    caption = " ".join(texts(at, "caption"))
    assert "responders (CR or PR) only" in caption and f"n = {km.n}" in caption


def test_biomarker_tables_match_il2lib():
    at = open_app({"adjust": "holm"}, "pages/4_Biomarkers.py")
    expected = biomarker_comparison(sample_data(), adjust="holm")
    diseases = list(expected.groups["disease"])
    for shown, disease in zip(tables(at), diseases):
        frame_equal(shown, expected.display_with_test_notes(disease).table)
    footnotes = [c for c in texts(at, "caption") if c.startswith("Tests:")]
    assert len(footnotes) == len(diseases) and "¹ Wilcoxon rank-sum (Mann-Whitney U) test" in footnotes[0]
    assert at.get("plotly_chart")


def test_toxicity_tables_match_il2lib():
    at = open_app({"disease": "melanoma"}, "pages/5_Toxicity.py")
    from app_ui.data import SAMPLE_DIR, SAMPLES
    from il2lib.validation.adverse_events import load_adverse_events
    from il2lib.validation.patients import load_cohort

    sample = SAMPLES["combined"]
    cohort = load_cohort(SAMPLE_DIR / sample.patients_file)
    ae = load_adverse_events(SAMPLE_DIR / sample.ae_file, cohort)
    tox = toxicity_summary(ae.data, apply_filter(cohort.data, MELANOMA), schema.PRIOR_PD1)
    frame_equal(tables(at)[1], tox.display())
    assert schema.ERA_CAVEAT in tox.notes and schema.ERA_CAVEAT in texts(at, "warning")
    assert schema.ERA_CAVEAT not in texts(at, "caption"), "era caveat shown twice (warning and caption)"
    overview = tables(at)[0]
    any_ae = overview.loc[overview["Measure"] == "Any adverse event"].iloc[0]
    row = tox.summary[(tox.summary["measure"] == "Any adverse event") & (tox.summary["group"] == tox.groups[0])]
    assert any_ae[tox.groups[0]].startswith(f"{int(row['n'].iloc[0])}/{int(row['N'].iloc[0])}")


def test_milestone_rates_are_the_km_estimates():
    at = open_app({"km_by": "None"}, "pages/3_Survival.py")
    data = sample_data()
    km = kaplan_meier(data[schema.OS_MONTHS], data[schema.OS_EVENT])
    at12 = km.survival_at([12.0]).iloc[0]
    shown = tables(at)[1]["12 mo"].iloc[0]
    assert shown == f"{100 * at12['survival']:.0f}% ({100 * at12['ci_lower']:.0f}–{100 * at12['ci_upper']:.0f})"
    assert np.isfinite(at12["survival"])
