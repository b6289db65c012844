"""``python -m il2lib summary``: JSON contract, exact CIs against R's binom.test, text table, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import csv_bytes, patient_rows

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
REFERENCE = json.loads((ROOT / "tests" / "reference" / "tests.json").read_text())
PROCLAIM = ROOT / "sample_data" / "proclaim_synthetic.csv"


def run(*args: str) -> subprocess.CompletedProcess:
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.run([python, "-m", "il2lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def binom(x: int, n: int) -> dict:
    return next(r for r in REFERENCE["binom_test"] if r["x"] == x and r["n"] == n)


@pytest.fixture(scope="module")
def paper_file(tmp_path_factory) -> Path:
    """40 melanoma (CR 4, PR 5, SD 8, PD 21, NE 2) and 17 RCC (CR 2, PR 2, SD 4, PD 8, NE 1) patients."""
    bors = {"melanoma": ["CR"] * 4 + ["PR"] * 5 + ["SD"] * 8 + ["PD"] * 21 + ["NE"] * 2,
            "rcc": ["CR"] * 2 + ["PR"] * 2 + ["SD"] * 4 + ["PD"] * 8 + ["NE"] * 1}
    rows = [{"disease": d, "bor": b, "prior_pd1_pdl1": "Yes" if k % 3 else "No", "date_first_response":
             "2016-02-01" if b in ("CR", "PR") else "", "date_progression": "2016-05-01"}
            for d, levels in bors.items() for k, b in enumerate(levels)]
    path = tmp_path_factory.mktemp("cli") / "paper.csv"
    path.write_bytes(csv_bytes(patient_rows(*rows)))
    return path


def test_json_contract_and_exact_ci(paper_file):
    result = run("summary", str(paper_file), "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["n_loaded", "n_analysed", "n_excluded", "groups"]
    assert (out["n_loaded"], out["n_analysed"], out["n_excluded"]) == (57, 57, 0)
    assert list(out["groups"]) == ["melanoma", "rcc"]
    mel, rcc = out["groups"]["melanoma"], out["groups"]["rcc"]
    assert list(mel) == ["n", "best_response", "orr"]
    assert mel["n"] == 40 and mel["best_response"] == {"CR": 4, "PR": 5, "SD": 8, "PD": 21, "NE": 2}
    assert rcc["best_response"] == {"CR": 2, "PR": 2, "SD": 4, "PD": 8, "NE": 1}
    assert list(mel["orr"]) == ["responders", "n", "rate", "ci95"]
    for group, (x, n) in ((mel, (9, 40)), (rcc, (4, 17))):
        ref = binom(x, n)
        assert group["orr"]["responders"] == x and group["orr"]["n"] == n
        assert group["orr"]["rate"] == pytest.approx(ref["estimate"], rel=1e-12)
        assert group["orr"]["ci95"] == pytest.approx([ref["ci_lower"], ref["ci_upper"]], rel=1e-6)


def test_filter_flags(paper_file):
    out = json.loads(run("summary", str(paper_file), "--format", "json", "--disease", "rcc",
                         "--prior-pd1-pdl1", "yes").stdout)
    assert list(out["groups"]) == ["rcc"] and out["n_analysed"] == 57
    expected = sum(1 for k in range(17) if k % 3)
    assert out["groups"]["rcc"]["n"] == expected


def test_text_format(paper_file):
    result = run("summary", str(paper_file))
    assert result.returncode == 0
    assert "57 loaded, 57 analysed, 0 excluded" in result.stdout
    assert "9/40 = 22.5% (10.8%-38.5%)" in result.stdout and "4/17 = 23.5% (6.8%-49.9%)" in result.stdout


@pytest.mark.parametrize("content, args, expected", [
    (b"", (), "empty"),
    (b"patient_id,disease\nP1,melanoma\n", (), "Missing required column 'date_il2_start'"),
    (None, ("--disease", "lung"), "value 'lung' not recognised"),
    (None, ("--age-at-il2", "old"), "not an age range"),
    (None, ("--date-order", "date_il2_start=ymd"), "must be dmy or mdy"),
])
def test_errors_exit_2_on_stderr(tmp_path, content, args, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if content is not None else csv_bytes(patient_rows(n=2)))
    result = run("summary", str(path), "--format", "json", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_exit_2(tmp_path):
    assert run("summary").returncode == 2
    assert run("summary", "x.csv", "--no-such-flag").returncode == 2
    assert run("summary", str(tmp_path / "missing.csv")).returncode == 2


def test_proclaim_sample_matches_the_paper():
    out = json.loads(run("summary", str(PROCLAIM), "--format", "json").stdout)
    assert out["n_loaded"] == out["n_analysed"] == 57 and out["n_excluded"] == 0
    mel, rcc = out["groups"]["melanoma"], out["groups"]["rcc"]
    assert (mel["n"], mel["best_response"]["CR"], mel["best_response"]["PR"]) == (40, 4, 5)
    assert (rcc["n"], rcc["best_response"]["CR"], rcc["best_response"]["PR"]) == (17, 2, 2)
    assert mel["orr"]["ci95"] == pytest.approx([binom(9, 40)["ci_lower"], binom(9, 40)["ci_upper"]], rel=1e-6)
