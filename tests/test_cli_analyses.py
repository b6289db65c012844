"""python -m il2lib response | table1 | biomarkers | toxicity: JSON contract, filters, errors."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from il2lib import schema
from il2lib.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
CONTRACT_TESTS = {"fisher_exact", "fisher_freeman_halton", "chi_square"}


def _sample(name: str) -> str:
    return str(SAMPLE / name)


def run_json(capsys, *argv) -> dict:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def tiny_csv(tmp_path):
    """A small valid patient file written by hand (loader's input format)."""
    rows = []
    for i, (disease, bor, pd1) in enumerate([("melanoma", "CR", "yes"), ("melanoma", "PR", "yes"),
                                             ("melanoma", "PD", "no"), ("melanoma", "SD", "no"),
                                             ("rcc", "PD", "yes"), ("rcc", "NE", "no"), ("rcc", "PR", "no")]):
        rows.append({"patient_id": f"T{i}", "disease": disease, "bor": bor, "prior_pd1_pdl1": pd1,
                     "prior_systemic_lines": i % 3, "date_il2_start": "2016-01-15", "died": "no",
                     "date_last_followup": "2018-06-01", "sd_duration_months": 7 if bor == "SD" else "",
                     "platelet_nadir": 30 + 10 * i, "autoimmune_phenomena": "yes" if i < 2 else "no"})
    path = tmp_path / "tiny.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_response_json_contract(capsys, tiny_csv):
    data = run_json(capsys, "response", tiny_csv, "--by", schema.PRIOR_PD1)
    assert data["by"] == schema.PRIOR_PD1
    assert set(data["groups"]) == {"Prior PD-1/PD-L1: yes", "Prior PD-1/PD-L1: no"}
    for g in data["groups"].values():
        assert isinstance(g["n"], int) and set(g["best_response"]) == set(schema.BOR_LEVELS)
        for key in ("orr", "cbr"):
            assert set(g[key]) >= {"responders", "n", "rate", "ci95"}
            assert isinstance(g[key]["responders"], int) and len(g[key]["ci95"]) == 2
    yes = data["groups"]["Prior PD-1/PD-L1: yes"]
    assert (yes["n"], yes["orr"]["responders"], yes["best_response"]["CR"]) == (3, 2, 1)
    comp = data["comparison"]
    assert comp["outcome"] == "orr" and comp["test"] in CONTRACT_TESTS and 0 <= comp["pvalue"] <= 1
    assert comp["test"] == "fisher_exact"  # 2x2


def test_response_filters_and_evaluable_option(capsys, tiny_csv):
    data = run_json(capsys, "response", tiny_csv, "--by", schema.DISEASE, "--disease", "rcc", "--evaluable-only")
    assert list(data["groups"]) == ["RCC"]
    assert data["groups"]["RCC"]["orr"]["n"] == 2  # NE left out
    assert data["comparison"] is None
    assert data["excluded"][0]["reason"].startswith("not evaluable")


def test_response_text_names_the_test(capsys, tiny_csv):
    assert main(["response", tiny_csv, "--by", schema.DISEASE]) == 0
    out = capsys.readouterr().out
    assert "Fisher's exact test" in out and "Clopper-Pearson" in out and "Patients used: 7; none left out." in out


def test_unknown_column_exits_2_with_message(capsys, tiny_csv):
    assert main(["response", tiny_csv, "--by", "nope"]) == 2
    assert "'nope' not in the data" in capsys.readouterr().err


def test_table1_json(capsys, tiny_csv):
    data = run_json(capsys, "table1", tiny_csv, "--by", schema.DISEASE, "--variables", "platelet_nadir,prior_pd1_pdl1")
    assert data["groups"] == ["Melanoma", "RCC"] and data["n_used"] == 7
    assert {t["test"] for t in data["tests"]} == {"wilcoxon_rank_sum", "fisher_exact"}
    assert any("Wilcoxon" in f for f in data["footnotes"])


def test_biomarkers_json(capsys, tiny_csv):
    data = run_json(capsys, "biomarkers", tiny_csv, "--disease", "melanoma")
    assert [g["disease"] for g in data["groups"]] == ["melanoma"]
    rows = {r["variable"]: r for r in data["rows"]}
    assert rows[schema.AUTOIMMUNE]["test"] == "fisher_exact"
    assert rows[schema.PLATELET_NADIR]["test"] == "wilcoxon_rank_sum"
    assert rows[schema.PLATELET_NADIR]["or_note"].startswith("not estimable")  # 3 CB vs 1: too few


def test_toxicity_json_with_ae_file(capsys, tiny_csv, tmp_path):
    ae = tmp_path / "ae.csv"
    pd.DataFrame({"patient_id": ["T0", "T0", "T4"], "ae_term": ["Hypotension", "Hypotension", "Fever"],
                  "ctcae_grade": [2, 3, 1]}).to_csv(ae, index=False)
    # this AE file lists every AE of every patient ('*': tiny_csv has no source column); without the declaration
    # the melanoma patients without rows (T1-T3) have unknown toxicity (docs/domain.md, AE table coverage)
    data = run_json(capsys, "toxicity", tiny_csv, "--ae", str(ae), "--by", schema.DISEASE, "--ae-complete", "*")
    summary = {(r["group"], r["measure"]): r for r in data["summary"]}
    assert summary[("Melanoma", "Any grade >= 3 adverse event")]["n"] == 1
    assert summary[("Melanoma", "Any adverse event")]["N"] == 4
    assert summary[("RCC", "Any adverse event")]["n"] == 1


def test_toxicity_requires_ae_flag(tiny_csv):
    with pytest.raises(SystemExit):
        main(["toxicity", tiny_csv])


def test_sample_response_json_reproduces_paper(capsys):
    data = run_json(capsys, "response", _sample("proclaim_synthetic.csv"), "--by", schema.DISEASE)
    mel = data["groups"]["Melanoma"]
    assert (mel["best_response"]["CR"], mel["best_response"]["PR"], mel["n"]) == (4, 5, 40)
    assert mel["orr"]["rate"] == pytest.approx(0.225)
    assert mel["orr"]["ci95"] == pytest.approx([0.108396638984072, 0.384511677303423], abs=1e-9)
    rcc = data["groups"]["RCC"]
    assert (rcc["best_response"]["CR"], rcc["best_response"]["PR"], rcc["n"]) == (2, 2, 17)


def test_module_entry_point_runs():
    path = _sample("community_synthetic.csv")
    out = subprocess.run([sys.executable, "-m", "il2lib", "response", path, "--by", schema.LINE_OF_IL2, "--format",
                          "json"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    first = json.loads(out)["groups"]["Line of IL-2: 1"]["cbr"]
    assert (first["responders"], first["n"]) == (9, 36)  # paper: CB 9/36 (25%) first-line
