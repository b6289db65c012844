"""``python -m il2lib report``: writes the HTML (and PDF), prints a summary, exits 2 on bad input."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from il2lib.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "proclaim_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "proclaim_synthetic_adverse_events.csv"


def test_report_with_filter_endpoint_and_ae_writes_the_html(tmp_path, capsys):
    out = tmp_path / "nested" / "report.html"
    code = main(["report", str(SAMPLE), "--out", str(out), "--disease", "melanoma", "--endpoint", "pfs",
                 "--ae", str(SAMPLE_AE), "--format", "json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert Path(payload["html"]).resolve() == out.resolve()
    assert payload["n_patients"] == 40 and payload["filter"] == "Melanoma" and payload["endpoint"] == "pfs"
    assert payload["pdf"] is None and payload["n_figures"] >= 4
    html = out.read_text(encoding="utf-8")
    assert "9/40 = 22.5 (10.8–38.5)" in html and "Progression-free survival by" not in html
    assert "Survival: progression-free survival" in html
    assert "--disease melanoma --endpoint pfs --ae ADVERSE_EVENTS_FILE" in html
    assert hashlib.sha256(SAMPLE_AE.read_bytes()).hexdigest() in html


def test_report_with_pdf_as_a_subprocess(tmp_path):
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    proc = subprocess.run([sys.executable, "-m", "il2lib", "report", str(SAMPLE), "--out", str(html), "--pdf", str(pdf),
                           "--paper", "Letter"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Report written to {html}") and "57 patients (All patients)" in proc.stdout
    assert pdf.read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("extra, message", [
    (["--disease", "lung"], "Filter disease: value 'lung' not recognised"),
    (["--prior-pd1-pdl1", "no"], "No patient matches the filter"),
    (["--ae", "/nonexistent/ae.csv"], "could not be opened"),
])
def test_bad_input_exits_2_with_one_plain_message(tmp_path, capsys, extra, message):
    code = main(["report", str(SAMPLE), "--out", str(tmp_path / "r.html"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_endpoint_must_be_os_or_pfs(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["report", str(SAMPLE), "--out", str(tmp_path / "r.html"), "--endpoint", "dor"])
    assert exc.value.code == 2
