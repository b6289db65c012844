"""RECIST 1.1 response rules (confirmation, SD minimum) and iRECIST categories: loader, derive, tables, rates, CLI.

References for the hand-worked values:
- RECIST 1.1 = Eisenhauer EA et al., Eur J Cancer 2009;45:228-47. Section 4.4.3 and its Table 3 (best overall
  response when confirmation of CR/PR is required: an unconfirmed CR/PR is SD "provided minimum criteria for SD
  duration met, otherwise PD" (progression followed) or "otherwise NE"); section 4.4.3 text (an SD that does not meet
  the protocol's minimum time is PD if PD follows, else inevaluable); section 4.6.1 (confirmation >= 4 weeks is
  required in non-randomised trials; the SD minimum interval is "in general not less than 6-8 weeks").
- iRECIST = Seymour L et al., Lancet Oncol 2017;18:e143-52 (iUPD = unconfirmed PD, iCPD = confirmed PD; a response
  (iCR/iPR) can be recorded after an iUPD that was not confirmed).
- SD minimum: 6 weeks = 42 days, assessment window W = 7 days, so an SD meets it when round(months x 30.4375) >= 35
  days (docs/domain.md "Derived fields", il2lib.validation.recist.duration_meets).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import UNCONFIRMED_PR_AND_SHORT_SD, patient_rows

from il2lib import schema
from il2lib.analyses.response import best_response_table, response_rates
from il2lib.cli import main
from il2lib.validation.patients import load_cohort
from il2lib.validation.recist import apply_response_rules

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
START = "2020-01-01"


def frame(*rows: dict) -> pd.DataFrame:
    """Patients in the loader's shape (typed dates and booleans); missing cells are NA."""
    df = pd.DataFrame(rows)
    df.insert(0, schema.PATIENT_ID, [f"P{i + 1}" for i in range(len(df))])
    df[schema.DISEASE] = schema.MELANOMA
    df[schema.DATE_IL2_START] = pd.Timestamp(START)
    for col in (schema.DATE_PROGRESSION, schema.DATE_LAST_ASSESSMENT):
        if col in df:
            df[col] = pd.to_datetime(df[col])
    for col in (schema.PROGRESSED, schema.RESPONSE_CONFIRMED):
        if col in df:
            df[col] = df[col].astype("boolean")
    if schema.SD_DURATION in df:
        df[schema.SD_DURATION] = df[schema.SD_DURATION].astype("float64")
    return df


def bor_counts(table) -> dict[str, int]:
    return table.to_frame().groupby("response")["n"].sum().to_dict()


def rate(res, outcome: str, rates=None) -> tuple[int, int]:
    rows = (res.rates if rates is None else rates).set_index("outcome")
    return int(rows.loc[outcome, "responders"]), int(rows.loc[outcome, "n"])


# --------------------------------------------------------------------------- confirmation
# IL-2 start 2020-01-01 for all.
# P1 PR, confirmed = Yes                                   -> PR
# P2 PR, confirmed = No, last assessment 2020-04-01 (91 d)  -> 91 >= 35: SD minimum met        -> SD (Table 3)
# P3 CR, confirmed = No, progressed 2020-01-15 (14 d)       -> 14 < 35, progression followed  -> PD (Table 3)
# P4 PR, confirmed blank, last assessment 2020-01-20 (19 d), no progression -> blank = unconfirmed; 19 < 35 -> NE
# P5 SD, sd_duration 8 months                               -> SD
# P6 PD                                                     -> PD
# Confirmed-only view: CR 0, PR 1, SD 2, PD 2, NE 1; ORR 1/6; DCR = CR+PR+SD = 3/6.
# All-responses view:  CR 1, PR 3, SD 1, PD 1, NE 0; ORR 4/6; DCR 5/6.
CONFIRMATION = [
    {schema.BOR: "PR", schema.RESPONSE_CONFIRMED: True, schema.PROGRESSED: False,
     schema.DATE_LAST_ASSESSMENT: "2020-09-01"},
    {schema.BOR: "PR", schema.RESPONSE_CONFIRMED: False, schema.PROGRESSED: False,
     schema.DATE_LAST_ASSESSMENT: "2020-04-01"},
    {schema.BOR: "CR", schema.RESPONSE_CONFIRMED: False, schema.PROGRESSED: True,
     schema.DATE_PROGRESSION: "2020-01-15"},
    {schema.BOR: "PR", schema.RESPONSE_CONFIRMED: None, schema.PROGRESSED: False,
     schema.DATE_LAST_ASSESSMENT: "2020-01-20"},
    {schema.BOR: "SD", schema.SD_DURATION: 8.0, schema.PROGRESSED: False},
    {schema.BOR: "PD", schema.PROGRESSED: True, schema.DATE_PROGRESSION: "2020-02-15"},
]


def test_unconfirmed_responses_are_reclassified_per_recist_table_3():
    df = frame(*CONFIRMATION)
    rules = apply_response_rules(df)
    assert rules.view == "confirmed"  # the column exists: confirmed-only is the default
    assert rules.bor.tolist() == ["PR", "SD", "PD", "NE", "SD", "PD"]
    assert rules.reclassified["patient_id"].tolist() == ["P2", "P3", "P4"]
    assert rules.reclassified["counted_as"].tolist() == ["SD", "PD", "NE"]
    assert apply_response_rules(df, "all").bor.tolist() == ["PR", "PR", "CR", "PR", "SD", "PD"]


def test_confirmed_only_orr_is_the_default_and_the_all_responses_view_is_beside_it():
    res = response_rates(frame(*CONFIRMATION))
    assert (res.view, res.other_view) == ("confirmed", "all")
    assert rate(res, "orr") == (1, 6) and rate(res, "dcr") == (3, 6)
    assert rate(res, "orr", res.other_rates) == (4, 6) and rate(res, "dcr", res.other_rates) == (5, 6)
    shown = res.display().set_index("Outcome")
    assert shown.loc["ORR (CR+PR), confirmed only", "Responders / n"] == "1/6"
    assert shown.loc["ORR (CR+PR), incl. unconfirmed", "Responders / n"] == "4/6"
    blank = next(n for n in res.notes if n.kind == "confirmation_blank")
    assert blank.count == 1 and blank.patient_ids == ("P4",) and "blank" in blank
    unconfirmed = next(n for n in res.notes if n.kind == "response_unconfirmed")
    assert unconfirmed.count == 3 and "1 as SD, 1 as PD, 1 as NE" in unconfirmed
    view = next(n for n in res.notes if n.kind == "orr_view")
    assert "ORR 1/6; all responses (unconfirmed included): 4/6" in view and view.count == 3


def test_bor_table_shows_the_reclassified_bor_so_dcr_is_cr_pr_sd():
    df = frame(*CONFIRMATION)
    table = best_response_table(df)
    assert bor_counts(table) == {"CR": 0, "PR": 1, "SD": 2, "PD": 2, "NE": 1}
    assert any(n.kind == "response_unconfirmed" for n in table.notes)
    for view in ("confirmed", "all"):
        counts = bor_counts(best_response_table(df, view=view))
        res = response_rates(df, view=view)
        assert rate(res, "dcr")[0] == counts["CR"] + counts["PR"] + counts["SD"]
        assert rate(res, "orr")[0] == counts["CR"] + counts["PR"]


def test_without_the_confirmation_column_every_response_counts_as_before():
    df = frame(*CONFIRMATION).drop(columns=[schema.RESPONSE_CONFIRMED])
    res = response_rates(df)
    assert (res.view, res.other_view, res.other_rates) == ("all", None, None)
    assert rate(res, "orr") == (4, 6)
    assert "ORR (CR+PR)" in res.display()["Outcome"].tolist()


# --------------------------------------------------------------------------- SD minimum
# IL-2 start 2020-01-01; SD minimum 6 weeks (42 d), W = 7 d -> meets when >= 35 days.
# S1 SD, progressed 2020-02-01 (31 d)           -> 31 < 35, progression followed -> PD (section 4.4.3)
# S2 SD, last assessment 2020-02-05 (35 d)      -> 35 >= 35                       -> SD
# S3 SD, last assessment 2020-02-04 (34 d)      -> 34 < 35, no progression         -> NE ("inevaluable", 4.4.3)
# S4 SD, sd_duration 0.5 mo (15 d), progressed  -> PD
# S5 SD, sd_duration 0.5 mo, progressed = No    -> NE
# S6 SD, no duration at all                     -> the minimum cannot be checked: kept as SD, with a note
# S7 PR (no confirmation column)                -> PR
# DCR = PR 1 + SD 2 (S2, S6) = 3/7 (before the rule: 7/7).
# With a 4-week minimum (28 - 7 = 21 d): S1 31 and S2 35 and S3 34 meet; S4/S5 15 d do not -> DCR 5/7.
# With 0 weeks: no minimum -> DCR 7/7.
SD_MINIMUM = [
    {schema.BOR: "SD", schema.PROGRESSED: True, schema.DATE_PROGRESSION: "2020-02-01"},
    {schema.BOR: "SD", schema.PROGRESSED: False, schema.DATE_LAST_ASSESSMENT: "2020-02-05"},
    {schema.BOR: "SD", schema.PROGRESSED: False, schema.DATE_LAST_ASSESSMENT: "2020-02-04"},
    {schema.BOR: "SD", schema.PROGRESSED: True, schema.SD_DURATION: 0.5},
    {schema.BOR: "SD", schema.PROGRESSED: False, schema.SD_DURATION: 0.5},
    {schema.BOR: "SD", schema.PROGRESSED: None},
    {schema.BOR: "PR", schema.PROGRESSED: False, schema.DATE_LAST_ASSESSMENT: "2020-06-01"},
]


def test_sd_shorter_than_the_minimum_is_pd_if_progression_followed_else_ne():
    df = frame(*SD_MINIMUM)
    assert apply_response_rules(df).bor.tolist() == ["PD", "SD", "NE", "PD", "NE", "SD", "PR"]
    res = response_rates(df)
    assert rate(res, "dcr") == (3, 7)
    assert bor_counts(best_response_table(df)) == {"CR": 0, "PR": 1, "SD": 2, "PD": 2, "NE": 2}
    short = next(n for n in res.notes if n.kind == "sd_below_minimum")
    assert short.count == 4 and short.patient_ids == ("P1", "P3", "P4", "P5") and "2 as PD, 2 as NE" in short
    unknown = next(n for n in res.notes if n.kind == "sd_minimum_unknown")
    assert unknown.count == 1 and unknown.patient_ids == ("P6",)


def test_sd_minimum_is_a_parameter():
    df = frame(*SD_MINIMUM)
    assert rate(response_rates(df, sd_minimum_weeks=4), "dcr") == (5, 7)
    assert rate(response_rates(df, sd_minimum_weeks=0), "dcr") == (7, 7)
    with pytest.raises(ValueError):
        response_rates(df, sd_minimum_weeks=-1)


def test_cbr_uses_the_counted_bor():
    # cb_sd_months = 0 ("any SD counts"): a 15-day SD (S4, S5) is no SD under RECIST 1.1, so no benefit either.
    # CB = PR 1 + SD 2 (S2, S6) = 3/7, the same patients as DCR.
    assert rate(response_rates(frame(*SD_MINIMUM), cb_sd_months=0), "cbr") == (3, 7)


@pytest.mark.parametrize("weeks, benefit", [(0, 7), (4, 5), (6, 3)])
def test_cbr_counts_the_sd_of_the_chosen_minimum(weeks, benefit):
    # Any SD counts (cb_sd_months = 0): CB is DCR under the SD minimum the user chose (RECIST 1.1, the BOR as counted),
    # never the default minimum applied a second time.
    res = response_rates(frame(*SD_MINIMUM), cb_sd_months=0, sd_minimum_weeks=weeks)
    assert rate(res, "cbr") == rate(res, "dcr") == (benefit, 7)


# --------------------------------------------------------------------------- loader, derive, warnings
def test_loader_warns_and_derives_the_flags_under_the_rules(load):
    # P001 PR confirmed No, last scan 2016-03-01 (51 d after 2016-01-10 >= 35) -> SD in the confirmed view:
    #      objective_response False, disease_control True; a warning names it.
    # P002 SD progressed 2016-02-01 (22 d < 35)                             -> PD: disease_control False; warning.
    # P003 PR confirmed Yes                                                  -> responder.
    rows = patient_rows(
        {"bor": "PR", "response_confirmed": "No", "progressed": "No", "date_progression": "",
         "date_last_assessment": "2016-03-01"},
        {"bor": "SD", "response_confirmed": "", "date_progression": "2016-02-01"},
        {"bor": "PR", "response_confirmed": "Yes", "progressed": "No", "date_progression": "",
         "date_last_assessment": "2016-06-01"})
    cohort = load(rows)
    data = cohort.data.set_index(schema.PATIENT_ID)
    assert data[schema.OBJECTIVE_RESPONSE].tolist() == [False, False, True]
    assert data[schema.DISEASE_CONTROL].tolist() == [True, False, True]
    warnings = [f.message for f in cohort.report.warnings]
    assert any("P001" in w and "not confirmed" in w and "counted as SD" in w for w in warnings)
    assert any("P002" in w and "SD minimum" in w and "counted as PD" in w for w in warnings)


# IRECIST: iCR -> CR, iPR -> PR, iSD -> SD (8 months), iCPD -> PD, iUPD -> PD with a warning (Seymour 2017);
# never a row error, so the ITT denominator keeps all 5: ORR = (CR + PR) / 5 = 2/5.
IRECIST_ROWS = [{"bor": "iCR", "progressed": "No", "date_progression": "", "date_first_response": "2016-03-01"},
                {"bor": "iPR", "progressed": "No", "date_progression": "", "date_first_response": "2016-03-01"},
                {"bor": "i-SD", "sd_duration_months": "8", "progressed": "No", "date_progression": ""},
                {"bor": "iCPD"},
                {"bor": "iUPD"}]


def test_irecist_categories_map_to_recist_and_never_drop_the_patient(load):
    cohort = load(patient_rows(*IRECIST_ROWS))
    assert cohort.report.n_analysed == 5 and not cohort.report.row_errors
    assert cohort.data[schema.BOR].tolist() == ["CR", "PR", "SD", "PD", "PD"]
    assert cohort.data[schema.BOR_IRECIST].tolist() == ["iCR", "iPR", "iSD", "iCPD", "iUPD"]
    iupd = [f for f in cohort.report.warnings if "iUPD" in f.message]
    assert len(iupd) == 1 and iupd[0].patient_id == "P005" and "counted as PD" in iupd[0].message
    res = response_rates(cohort.data)
    assert rate(res, "orr") == (2, 5) and res.n_irecist == 5
    note = next(n for n in res.notes if n.kind == "irecist")
    assert note.count == 5 and note.startswith("5 BORs are iRECIST-based")
    assert "unconfirmed progression" in note


def test_response_criteria_mix_is_shown_beside_the_rates(load):
    rows = patient_rows(*[{"response_criteria": c} for c in ("RECIST 1.1", "RECIST1.1", "irRC", "iRECIST", "")])
    res = response_rates(load(rows).data)
    assert res.criteria_mix == {"RECIST1.1": 2, "irRC": 1, "iRECIST": 1, "not recorded": 1}
    mix = next(n for n in res.notes if n.kind == "response_criteria")
    assert str(mix) == "Response criteria: RECIST1.1 n = 2, irRC n = 1, iRECIST n = 1, not recorded n = 1."
    assert mix.count == 3  # not RECIST 1.1
    assert next(n for n in res.notes if n.kind == "irecist").count == 1  # response_criteria = iRECIST


# --------------------------------------------------------------------------- samples do not move
@pytest.mark.parametrize("name", ["proclaim_synthetic.csv", "community_synthetic.csv", "combined_synthetic.csv"])
def test_sample_responses_are_all_confirmed_and_no_sd_is_short(name):
    data = load_cohort(SAMPLE / name).data
    rules = apply_response_rules(data)
    assert rules.view == "confirmed" and rules.reclassified.empty
    assert (rules.bor == data[schema.BOR]).all()


def test_published_numbers_hold_in_the_confirmed_view():
    proclaim = response_rates(load_cohort(SAMPLE / "proclaim_synthetic.csv").data, schema.DISEASE, "orr")
    orr = proclaim.rates.set_index("group")
    assert (orr.loc["Melanoma", "responders"], orr.loc["Melanoma", "n"]) == (9, 40)  # Buchbinder 2019
    assert (orr.loc["RCC", "responders"], orr.loc["RCC", "n"]) == (4, 17)
    community = response_rates(load_cohort(SAMPLE / "community_synthetic.csv").data, schema.LINE_OF_IL2, "cbr")
    cb = community.rates.set_index("group").loc["Line of IL-2: 1"]
    assert (cb["responders"], cb["n"]) == (9, 36)  # SpringerPlus 2015, first-line IL-2


# --------------------------------------------------------------------------- CLI JSON
def test_cli_response_json_has_the_view_and_both_views_numbers(capsys, tmp_path):
    path = tmp_path / "cohort.csv"
    rows = UNCONFIRMED_PR_AND_SHORT_SD
    rows.to_csv(path, index=False)
    assert main(["response", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    group = out["groups"]["All patients"]
    # existing keys keep their meaning, in the confirmed-only view: PR (P002) only; P001 -> SD (51 d >= 35),
    # P003 SD 22 d -> PD; DCR = 1 PR + 1 SD = 2/4
    assert group["orr"]["responders"] == 1 and group["orr"]["n"] == 4
    assert group["best_response"] == {"CR": 0, "PR": 1, "SD": 1, "PD": 2, "NE": 0}
    assert group["dcr"]["responders"] == 2
    assert out["orr_view"] == "confirmed" and out["views"] == ["confirmed", "all"]
    assert group["by_view"]["confirmed"]["orr"] == group["orr"]
    assert group["by_view"]["all"]["orr"]["responders"] == 2
    assert group["by_view"]["all"]["best_response"] == {"CR": 0, "PR": 2, "SD": 0, "PD": 2, "NE": 0}
    assert out["sd_minimum_weeks"] == 6 and out["assessment_window_days"] == 7
    assert [r["patient_id"] for r in out["reclassified"]] == ["P001", "P003"]
    details = {d["kind"]: d for d in out["note_details"]}
    assert details["response_unconfirmed"]["count"] == 1 and details["response_unconfirmed"]["patient_ids"] == ["P001"]
    assert all(isinstance(n, str) for n in out["notes"])
    assert main(["response", str(path), "--format", "json", "--sd-minimum-weeks", "0"]) == 0
    no_minimum = json.loads(capsys.readouterr().out)["groups"]["All patients"]
    assert no_minimum["best_response"]["SD"] == 2 and no_minimum["dcr"]["responders"] == 3
    assert main(["response", str(path), "--sd-minimum-weeks", "-2"]) == 2


def test_cli_response_json_without_the_confirmation_column_keeps_the_old_numbers(capsys, tmp_path):
    path = tmp_path / "cohort.csv"
    patient_rows({"bor": "PR", "progressed": "No", "date_progression": "", "date_last_assessment": "2016-06-01"},
                 {"bor": "PD"}).to_csv(path, index=False)
    assert main(["response", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["orr_view"] == "all" and out["views"] == ["all"] and out["response_criteria"] is None
    assert out["groups"]["All patients"]["orr"]["responders"] == 1
    assert np.isclose(out["groups"]["All patients"]["orr"]["rate"], 0.5)


# --------------------------------------------------------------------------- clinical benefit and landmark status
# Clinical benefit and the landmark status use the same counted BOR as the Response page (confirmed-only view),
# so CBR and the Biomarkers/Table 1/landmark "clinical benefit" groups never disagree. With CONFIRMATION:
# P1 confirmed PR -> CB yes; P2 unconfirmed PR counted SD of 91 days < 6 months (182.625 - 7 days) -> CB no;
# P3 counted PD -> no; P4 counted NE -> no; P5 SD 8 months -> yes; P6 PD -> no.
def test_clinical_benefit_and_landmark_status_follow_the_counted_response():
    from il2lib.cohort import with_clinical_benefit
    from il2lib.survival.clinical import status_time_months

    df = frame(*CONFIRMATION)
    df[schema.DATE_FIRST_RESPONSE] = pd.to_datetime(["2020-03-01", "2020-03-01", "2020-01-10", "2020-01-15",
                                                     None, None])
    benefit = with_clinical_benefit(df, 6.0)[schema.CLINICAL_BENEFIT]
    assert benefit.tolist() == [True, False, False, False, True, False]
    # landmark by response: only P1 is a responder (at 60 days = 1.97 months); the unconfirmed are never
    status = status_time_months(df, "response")
    assert status[0] == pytest.approx(60 / 30.4375) and np.isinf(status[1:4]).all()
    # with every response confirmed, the recorded CR/PR are the counted ones again
    confirmed = with_clinical_benefit(df.assign(**{schema.RESPONSE_CONFIRMED: True}), 6.0)[schema.CLINICAL_BENEFIT]
    assert confirmed.tolist() == [True, True, True, True, True, False]
