"""The bundled synthetic sample files: byte-stable, valid, and on every calibration target of docs/domain.md section 4.

Everything is computed from the raw CSV files (dates -> days / 30.4375), not from generator internals.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy import stats

from il2lib import schema
from il2lib.errors import Il2libError
from il2lib.sample import (SAMPLE_FILES, adverse_events, community_cohort, proclaim_cohort, synthetic_cohort,
                           to_csv_bytes, write_samples)
from il2lib.sample._common import RAW_COLUMNS

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
MEL, RCC = schema.MELANOMA, schema.RCC
DATE_COLS = [c for c in schema.DATE_COLUMNS if c in RAW_COLUMNS]


def read(stem: str) -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_DIR / f"{stem}.csv", dtype={schema.PATIENT_ID: str})
    for col in DATE_COLS + ([schema.AE_ONSET] if schema.AE_ONSET in frame and schema.AE_TERM in frame else []):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
    return frame


@pytest.fixture(scope="module")
def proclaim() -> pd.DataFrame:
    return read("proclaim_synthetic")


@pytest.fixture(scope="module")
def community() -> pd.DataFrame:
    return read("community_synthetic")


@pytest.fixture(scope="module")
def combined() -> pd.DataFrame:
    return read("combined_synthetic")


@pytest.fixture(scope="module")
def combined_ae() -> pd.DataFrame:
    return read("combined_synthetic_adverse_events")


def yes(series: pd.Series) -> pd.Series:
    return series == "Yes"


def months(frame: pd.DataFrame, end_col: pd.Series) -> pd.Series:
    return (end_col - frame[schema.DATE_IL2_START]).dt.days / schema.DAYS_PER_MONTH


def os_months(frame: pd.DataFrame) -> pd.Series:
    return months(frame, frame[schema.DATE_DEATH].fillna(frame[schema.DATE_LAST_FOLLOWUP]))


def clinical_benefit(frame: pd.DataFrame) -> pd.Series:
    sd_long = (frame[schema.BOR] == "SD") & (frame[schema.SD_DURATION] >= schema.CB_SD_MONTHS_DEFAULT)
    return frame[schema.BOR].isin(["CR", "PR"]) | sd_long


def km_median(frame: pd.DataFrame) -> float:
    return KaplanMeierFitter().fit(os_months(frame), yes(frame[schema.DIED])).median_survival_time_


# ------------------------------------------------------------------ files
def test_committed_files_are_byte_identical_to_the_generator(tmp_path):
    written = write_samples(tmp_path)
    expected = {f"{stem}{suffix}.csv" for stem in SAMPLE_FILES
                for suffix in ("", "_adverse_events", "_tumour_assessments")}
    assert {p.name for p in written} == expected
    for path in written:
        assert path.read_bytes() == (SAMPLE_DIR / path.name).read_bytes(), path.name
        text = path.read_bytes().decode("utf-8")
        assert "\r" not in text and text.endswith("\n")


def test_command_line_writes_the_files(tmp_path, capsys):
    from il2lib.sample import main

    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}{suffix}.csv" for stem in SAMPLE_FILES
        for suffix in ("", "_adverse_events", "_tumour_assessments"))
    assert main(["one", "two"]) == 2 and "usage" in capsys.readouterr().err


def test_generators_are_pure_and_seeded():
    pd.testing.assert_frame_equal(proclaim_cohort(), proclaim_cohort())
    assert not proclaim_cohort(seed=1).equals(proclaim_cohort())
    cohort = community_cohort()
    pd.testing.assert_frame_equal(adverse_events(cohort, 5), adverse_events(cohort, 5))


@pytest.mark.parametrize("stem", SAMPLE_FILES)
def test_patient_files_follow_the_data_dictionary(stem):
    frame = read(stem)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert frame[schema.PATIENT_ID].is_unique
    for name, spec in schema.COLUMNS.items():
        if name not in frame or frame[name].isna().all():
            continue
        values = frame[name].dropna()
        if spec.allowed:
            assert set(values) <= set(spec.allowed), name
        if spec.kind == "bool":
            assert set(values) <= {"Yes", "No"}, name
        if spec.plausible or spec.hard:
            low, high = spec.plausible or spec.hard
            assert values.between(low, high).all(), name
    is_mel = frame[schema.DISEASE] == MEL
    assert frame.loc[is_mel, schema.IMDC_RISK].isna().all() and frame.loc[~is_mel, schema.IMDC_RISK].notna().all()
    assert frame.loc[~is_mel, [schema.BRAF, schema.AJCC_M]].isna().all().all()
    assert frame.loc[is_mel, [schema.BRAF, schema.AJCC_M]].notna().all().all()
    assert (frame[schema.TREATMENT_DEATH] == "No").all()
    assert (frame[schema.PLATELET_NADIR] < frame[schema.BASELINE_PLATELETS]).all()
    assert (frame[schema.PEAK_ALC] >= frame[schema.BASELINE_ALC]).all()


@pytest.mark.parametrize("stem", SAMPLE_FILES)
def test_every_chronology_rule_holds(stem):
    f = read(stem)
    start, end = f[schema.DATE_IL2_START], f[schema.DATE_DEATH].fillna(f[schema.DATE_LAST_FOLLOWUP])
    for col in DATE_COLS:
        if col not in (schema.DATE_LAST_PD1, schema.DATE_IL2_START, schema.DATA_CUTOFF):
            present = f[col].notna()
            assert (f.loc[present, col] >= start[present]).all(), col
            assert (f.loc[present, col] <= end[present]).all(), col
    assert (end <= f[schema.DATA_CUTOFF]).all()
    assert (yes(f[schema.DIED]) == f[schema.DATE_DEATH].notna()).all()
    assert f[schema.DATE_LAST_FOLLOWUP].notna().all()
    assert (yes(f[schema.PROGRESSED]) == f[schema.DATE_PROGRESSION].notna()).all()
    responder = f[schema.BOR].isin(["CR", "PR"])
    assert (responder == f[schema.DATE_FIRST_RESPONSE].notna()).all()
    prog_after_resp = f[schema.DATE_PROGRESSION] > f[schema.DATE_FIRST_RESPONSE]
    assert prog_after_resp[responder & yes(f[schema.PROGRESSED])].all()
    assert ((f[schema.BOR] == "SD") == f[schema.SD_DURATION].notna()).all()
    pd1 = f[schema.DATE_LAST_PD1].notna()
    assert (f.loc[pd1, schema.DATE_LAST_PD1] < start[pd1]).all()
    assert (f[schema.DOSES_C1] + f[schema.DOSES_C2].fillna(0) <= f[schema.TOTAL_DOSES]).all()
    assert (f[schema.DOSES_C2].isna() == (f[schema.N_CYCLES] == 1)).all()


# ------------------------------------------------------------------ PROCLAIM (Buchbinder 2019)
def test_proclaim_counts_are_exact(proclaim):
    assert len(proclaim) == 57
    assert proclaim[schema.DISEASE].value_counts().to_dict() == {MEL: 40, RCC: 17}
    bor = proclaim.groupby(schema.DISEASE)[schema.BOR].value_counts().unstack(fill_value=0)
    assert bor.loc[MEL].to_dict() == {"CR": 4, "NE": 2, "PD": 21, "PR": 5, "SD": 8}
    assert bor.loc[RCC].to_dict() == {"CR": 2, "NE": 1, "PD": 8, "PR": 2, "SD": 4}
    assert yes(proclaim[schema.PRIOR_PD1]).all() and proclaim[schema.PRIOR_PD1_AGENT].notna().all()
    assert (proclaim[schema.PRIOR_LINES] >= 1).all()
    years = proclaim[schema.DATE_IL2_START].dt.year
    assert years.between(2015, 2018).all()


def test_proclaim_prior_pd1_resistance_is_consistent(proclaim):
    assert set(proclaim[schema.PRIOR_PD1_BOR]) <= {"CR", "PR", "SD", "PD"}
    primary = proclaim[schema.PRIOR_PD1_BOR] == "PD"
    assert (proclaim.loc[primary, schema.PD1_RESISTANCE] == "primary").all()
    assert (proclaim.loc[~primary, schema.PD1_RESISTANCE] == "acquired").all()


def test_proclaim_responses_are_durable(proclaim):
    resp = proclaim[proclaim[schema.BOR].isin(["CR", "PR"])]
    event_date = resp[[schema.DATE_PROGRESSION, schema.DATE_DEATH]].min(axis=1)
    end = event_date.fillna(resp[schema.DATE_LAST_ASSESSMENT])
    dor = (end - resp[schema.DATE_FIRST_RESPONSE]).dt.days / schema.DAYS_PER_MONTH
    km = KaplanMeierFitter().fit(dor, event_date.notna())
    assert km.predict(12.0) >= 0.5
    assert (dor >= 12).sum() * 2 >= len(resp)


def test_proclaim_single_pneumonitis_after_pdl1(proclaim, combined_ae):
    ae = combined_ae[combined_ae[schema.AE_PATIENT_ID].str.startswith("PRO-")]
    pneumonitis = ae[ae[schema.AE_TERM] == "Pneumonitis"]
    assert pneumonitis[schema.AE_PATIENT_ID].nunique() == 1
    assert (pneumonitis[schema.AE_STEROIDS] == "Yes").all()
    case = proclaim.set_index(schema.PATIENT_ID).loc[pneumonitis[schema.AE_PATIENT_ID].iloc[0]]
    assert case[schema.PRIOR_PD1_AGENT] in schema.PDL1_AGENTS
    assert case[schema.STEROIDS_IRAE] == "Yes" and "pneumonitis" in case[schema.AUTOIMMUNE_TYPE]
    assert (proclaim[schema.STEROIDS_IRAE] == "Yes").sum() == 1


# ------------------------------------------------------------------ community (SpringerPlus 2015)
def test_community_counts_are_exact(community):
    assert len(community) == 50
    assert (community[schema.PRIOR_PD1] == "No").all() and community[schema.PRIOR_PD1_AGENT].isna().all()
    start = community[schema.DATE_IL2_START]
    assert start.min() >= pd.Timestamp("2004-01-01") and start.max() <= pd.Timestamp("2012-12-31")
    cb, first = clinical_benefit(community), community[schema.PRIOR_LINES] == 0
    assert (first.sum(), (cb & first).sum()) == (36, 9)
    assert ((~first).sum(), (cb & ~first).sum()) == (14, 5)
    per_disease = cb.groupby(community[schema.DISEASE]).agg(["sum", "size"])
    assert per_disease.loc[MEL].tolist() == [9, 30] and per_disease.loc[RCC].tolist() == [5, 20]


def test_community_sd_duration_separates_benefit(community):
    sd = community[community[schema.BOR] == "SD"]
    assert sd[schema.SD_DURATION].notna().all()
    assert not sd[schema.SD_DURATION].between(5.5, 6.5, inclusive="neither").any()
    derived = months(sd, sd[schema.DATE_PROGRESSION].fillna(sd[schema.DATE_LAST_ASSESSMENT]))
    np.testing.assert_allclose(sd[schema.SD_DURATION], derived, atol=0.051)


@pytest.mark.parametrize("disease, cb_median, no_cb_median", [(MEL, 61.0, 17.0), (RCC, 48.0, 17.0)])
def test_community_km_medians_are_on_target(community, disease, cb_median, no_cb_median):
    """KM median OS from IL-2 start, no landmark; tolerance 0.1 month."""
    frame = community[community[schema.DISEASE] == disease]
    cb = clinical_benefit(frame)
    assert km_median(frame[cb]) == pytest.approx(cb_median, abs=0.1)
    assert km_median(frame[~cb]) == pytest.approx(no_cb_median, abs=0.1)


def test_community_melanoma_logrank(community):
    frame = community[community[schema.DISEASE] == MEL]
    cb = clinical_benefit(frame)
    t, e = os_months(frame), yes(frame[schema.DIED])
    assert logrank_test(t[cb], t[~cb], e[cb], e[~cb]).p_value < 0.001


@pytest.mark.parametrize("disease", [MEL, RCC])
def test_community_platelet_nadir_lower_with_benefit(community, disease):
    frame = community[community[schema.DISEASE] == disease]
    cb = clinical_benefit(frame)
    nadir = frame[schema.PLATELET_NADIR]
    assert stats.mannwhitneyu(nadir[cb], nadir[~cb], alternative="two-sided").pvalue < 0.05
    assert nadir[cb].median() < nadir[~cb].median()


def test_community_autoimmune_melanoma(community):
    frame = community[community[schema.DISEASE] == MEL]
    cb, auto = clinical_benefit(frame), yes(frame[schema.AUTOIMMUNE])
    table = [[(auto & cb).sum(), (~auto & cb).sum()], [(auto & ~cb).sum(), (~auto & ~cb).sum()]]
    assert table == [[4, 5], [2, 19]]
    assert stats.fisher_exact(table).pvalue == pytest.approx(0.0492, abs=5e-5)


@pytest.mark.parametrize("disease", [MEL, RCC])
@pytest.mark.parametrize("column", [schema.DOSES_C1, "doses_per_cycle", schema.BASELINE_LDH, schema.BASELINE_ALC,
                                    schema.PEAK_ALC, schema.PEAK_TEMP])
def test_community_no_difference(community, disease, column):
    frame = community[community[schema.DISEASE] == disease]
    cb = clinical_benefit(frame)
    values = (frame[schema.TOTAL_DOSES] / frame[schema.N_CYCLES]) if column == "doses_per_cycle" else frame[column]
    assert stats.mannwhitneyu(values[cb], values[~cb], alternative="two-sided").pvalue > 0.05


@pytest.mark.parametrize("seed", [1, 7])
def test_exact_targets_hold_for_other_seeds(seed):
    """Counts and medians are exact by construction, not by a lucky seed."""
    frame = community_cohort(seed)
    for col in DATE_COLS:
        frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
    cb, first = clinical_benefit(frame), frame[schema.PRIOR_LINES] == 0
    assert (first.sum(), (cb & first).sum(), cb.sum()) == (36, 9, 14)
    for disease, targets in ((MEL, (61.0, 17.0)), (RCC, (48.0, 17.0))):
        sub = frame[frame[schema.DISEASE] == disease]
        sub_cb = clinical_benefit(sub)
        assert km_median(sub[sub_cb]) == pytest.approx(targets[0], abs=0.1)
        assert km_median(sub[~sub_cb]) == pytest.approx(targets[1], abs=0.1)
    bor = proclaim_cohort(seed).groupby(schema.DISEASE)[schema.BOR].value_counts().unstack()
    assert bor.loc[MEL, ["CR", "PR"]].tolist() == [4, 5] and bor.loc[RCC, ["CR", "PR"]].tolist() == [2, 2]


# ------------------------------------------------------------------ combined file and AE tables
def test_combined_file(combined, proclaim, community):
    assert len(combined) == 107 and combined[schema.PATIENT_ID].is_unique
    assert combined[schema.SOURCE].value_counts().to_dict() == {"PROCLAIM (synthetic)": 57,
                                                                "Community (synthetic)": 50}
    pd.testing.assert_frame_equal(combined, pd.concat([proclaim, community], ignore_index=True))


def test_adverse_events_are_consistent_with_patients(combined, combined_ae):
    ae, patients = combined_ae, combined.set_index(schema.PATIENT_ID)
    assert tuple(ae.columns) == tuple(c.name for c in schema.AE_COLUMNS)
    assert set(ae[schema.AE_PATIENT_ID]) <= set(patients.index)
    assert ae[schema.AE_GRADE].between(1, 4).all() and "Vitiligo" not in set(ae[schema.AE_TERM])
    assert not ae.duplicated([schema.AE_PATIENT_ID, schema.AE_TERM]).any()
    pat = patients.loc[ae[schema.AE_PATIENT_ID]]
    end = pat[schema.DATE_DEATH].fillna(pat[schema.DATE_LAST_FOLLOWUP]).to_numpy()
    assert (ae[schema.AE_ONSET].to_numpy() >= pat[schema.DATE_IL2_START].to_numpy()).all()
    assert (ae[schema.AE_ONSET].to_numpy() <= end).all()
    assert (ae[schema.AE_CYCLE].to_numpy() <= pat[schema.N_CYCLES].to_numpy()).all()
    worst = ae.groupby(schema.AE_PATIENT_ID)[schema.AE_GRADE].max().reindex(patients.index).fillna(0)
    assert (worst == patients[schema.MAX_CTCAE]).all()
    immune = ae[ae[schema.AE_IMMUNE] == "Yes"]
    assert set(immune[schema.AE_TERM]) <= set(schema.IMMUNE_RELATED_TERMS)
    assert (patients.index.isin(immune[schema.AE_PATIENT_ID]) == yes(patients[schema.AUTOIMMUNE])).all()
    steroid_ids = set(immune.loc[immune[schema.AE_STEROIDS] == "Yes", schema.AE_PATIENT_ID])
    assert steroid_ids == set(patients.index[yes(patients[schema.STEROIDS_IRAE])])
    icu = ae[(ae[schema.AE_GRADE] == 4) & ae[schema.AE_TERM].isin(
        ["Hypotension", "Capillary leak syndrome", "Acidosis", "Atrial fibrillation", "Hypoxia"])]
    assert set(icu[schema.AE_PATIENT_ID]) == set(patients.index[yes(patients[schema.ICU_TRANSFER])])


def test_platelet_and_fever_aes_match_the_recorded_values(combined, combined_ae):
    patients = combined.set_index(schema.PATIENT_ID)
    plt = combined_ae[combined_ae[schema.AE_TERM] == "Platelet count decreased"].set_index(schema.AE_PATIENT_ID)
    nadir = patients.loc[plt.index, schema.PLATELET_NADIR]
    expected = 1 + (nadir < 75).astype(int) + (nadir < 50) + (nadir < 25)
    assert (plt[schema.AE_GRADE] == expected).all()
    assert set(plt.index) == set(patients.index[patients[schema.PLATELET_NADIR] < 150])


# ------------------------------------------------------------------ loader (another helper's module)
@pytest.mark.parametrize("stem", SAMPLE_FILES)
def test_loader_excludes_no_row_and_reports_nothing(stem):
    from il2lib import load_adverse_events, load_cohort

    cohort = load_cohort(SAMPLE_DIR / f"{stem}.csv")
    assert cohort.report.n_excluded == 0 and list(cohort.report.findings) == []
    assert len(cohort.data) == len(read(stem))
    events = load_adverse_events(SAMPLE_DIR / f"{stem}_adverse_events.csv", cohort)
    assert events.report.n_excluded == 0 and list(events.report.findings) == []


def test_loader_clinical_benefit_reproduces_first_line_count():
    from il2lib import load_cohort

    data = load_cohort(SAMPLE_DIR / "community_synthetic.csv").data
    first = data[schema.PRIOR_LINES] == 0
    assert first.sum() == 36
    assert int(data.loc[first, schema.CLINICAL_BENEFIT].astype(bool).sum()) == 9
    melanoma = data[data[schema.DISEASE] == MEL]
    cb = melanoma[schema.CLINICAL_BENEFIT].astype(bool)
    fit = KaplanMeierFitter().fit(melanoma.loc[cb, schema.OS_MONTHS], melanoma.loc[cb, schema.OS_EVENT])
    assert fit.median_survival_time_ == pytest.approx(61.0, abs=0.1)


def test_loader_accepts_the_benchmark_generator_output():
    from il2lib import load_cohort

    cohort = load_cohort(io.BytesIO(to_csv_bytes(synthetic_cohort(1000, seed=2))))
    assert cohort.report.n_excluded == 0 and list(cohort.report.findings) == []


# ------------------------------------------------------------------ benchmark generator
def test_synthetic_cohort_is_deterministic_with_raw_columns():
    a, b = synthetic_cohort(1000, seed=4), synthetic_cohort(1000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert tuple(a.columns) == RAW_COLUMNS and a[schema.PATIENT_ID].is_unique
    assert not a.equals(synthetic_cohort(1000, seed=5))
    assert set(a[schema.DISEASE]) == {MEL, RCC} and set(a[schema.BOR]) == set(schema.BOR_LEVELS)
    dates = {c: pd.to_datetime(a[c], format="%Y-%m-%d") for c in DATE_COLS}
    end = dates[schema.DATE_DEATH].fillna(dates[schema.DATE_LAST_FOLLOWUP])
    for col in (schema.DATE_FIRST_RESPONSE, schema.DATE_PROGRESSION, schema.DATE_LAST_ASSESSMENT):
        present = dates[col].notna()
        assert (dates[col][present] >= dates[schema.DATE_IL2_START][present]).all()
        assert (dates[col][present] <= end[present]).all()
    assert (end <= dates[schema.DATA_CUTOFF]).all()


@pytest.mark.parametrize("bad", [0, -3, 1_000_001, 2.5, "10", True])
def test_synthetic_cohort_rejects_bad_sizes(bad):
    with pytest.raises(Il2libError, match="n must be an integer"):
        synthetic_cohort(bad)
