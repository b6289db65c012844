"""CLI: toxicity denominators are the known patients; ``--ae-complete SOURCE`` declares an AE file complete.

Convention (docs/domain.md, AE table coverage): a patient without AE rows has unknown toxicity unless max_ctcae_grade is
given or the AE file is declared complete for their source; the CLI states how many are unknown and why.
"""
import json
from pathlib import Path

import pandas as pd

from il2lib import schema
from il2lib.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
PATIENTS = str(SAMPLE / "combined_synthetic.csv")
COMMUNITY_AE = str(SAMPLE / "community_synthetic_adverse_events.csv")


def run_json(capsys, *argv) -> dict:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_toxicity_json_uses_max_ctcae_grade_for_the_uncovered_source(capsys):
    data = run_json(capsys, "toxicity", PATIENTS, "--ae", COMMUNITY_AE, "--by", schema.PRIOR_PD1)
    summary = {(r["group"], r["measure"]): r for r in data["summary"]}
    # PROCLAIM (prior PD-1 = yes): no AE rows, max_ctcae_grade 2/3/4 for 4/49/4 patients -> 57/57 and 53/57
    yes, no = "Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"
    assert (summary[(yes, "Any adverse event")]["n"], summary[(yes, "Any adverse event")]["N"]) == (57, 57)
    assert summary[(yes, "Any grade >= 3 adverse event")]["n"] == 53
    assert summary[(yes, "Any immune-related AE")]["n_unknown"] == 57
    assert {r["group"]: r["n_term_known"] for r in data["coverage"]} == {yes: 0, no: 50}
    grade_only = next(r for r in data["note_records"] if r["kind"] == "ae_grade_only")
    assert grade_only["count"] == 57 and len(grade_only["patient_ids"]) == 57
    assert data["ae_complete"] == [] and data["warnings"] == []


def test_ae_complete_flag_declares_a_source_and_rejects_an_unknown_one(capsys, tmp_path):
    patients = pd.read_csv(PATIENTS).drop(columns=[schema.MAX_CTCAE])
    path = tmp_path / "no_max_grade.csv"
    patients.to_csv(path, index=False)
    data = run_json(capsys, "toxicity", str(path), "--ae", COMMUNITY_AE)
    overall = {r["measure"]: r for r in data["summary"]}["Any adverse event"]
    # the 57 PROCLAIM patients: no AE row, no max grade -> unknown, named in the note
    assert (overall["n"], overall["N"], overall["n_unknown"]) == (50, 50, 57)
    assert next(r for r in data["note_records"] if r["kind"] == "ae_unknown")["count"] == 57
    data = run_json(capsys, "toxicity", str(path), "--ae", COMMUNITY_AE, "--ae-complete", "PROCLAIM (synthetic)",
                    "--ae-complete", "community (synthetic)")
    overall = {r["measure"]: r for r in data["summary"]}["Any adverse event"]
    assert (overall["n"], overall["N"], overall["n_unknown"]) == (50, 107, 0)
    assert data["ae_complete"] == ["PROCLAIM (synthetic)", "community (synthetic)"]
    capsys.readouterr()
    assert main(["toxicity", str(path), "--ae", COMMUNITY_AE, "--ae-complete", "PROCLAM"]) == 2
    assert "--ae-complete 'PROCLAM' is not a source of this file" in capsys.readouterr().err


def test_toxicity_text_states_the_unknown_patients(capsys, tmp_path):
    patients = pd.read_csv(PATIENTS).drop(columns=[schema.MAX_CTCAE])
    path = tmp_path / "no_max_grade.csv"
    patients.to_csv(path, index=False)
    assert main(["toxicity", str(path), "--ae", COMMUNITY_AE]) == 0
    out = capsys.readouterr().out
    assert "Toxicity unknown for 57 of 107 patient(s)" in out
    assert "  patients: PRO-001, PRO-002," in out


def test_report_cli_passes_ae_complete_to_the_toxicity_section(capsys, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", PATIENTS, "--out", str(out), "--ae", COMMUNITY_AE, "--ae-complete", "*"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "AE file declared complete for every patient" in html
    assert "--ae-complete &#x27;*&#x27;" in html  # in the command that rebuilds the report
    capsys.readouterr()
    assert main(["report", PATIENTS, "--out", str(out), "--ae-complete", "*"]) == 2
    assert "--ae-complete needs --ae" in capsys.readouterr().err
