"""``python -m il2lib report``: writes the HTML (and PDF), prints a summary, exits 2 on bad input."""
from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from il2lib.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "proclaim_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "proclaim_synthetic_adverse_events.csv"
COMBINED = ROOT / "sample_data" / "combined_synthetic.csv"
COMBINED_AE = ROOT / "sample_data" / "combined_synthetic_adverse_events.csv"


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
    assert "9/40 = 22.5 (10.8–38.5)" in html and "Progression-free survival by disease" not in html  # one disease
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


def _stamp_free(html: str) -> str:
    html = re.sub(r"\d{2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} UTC", "STAMP", html)
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "STAMP", html)


def test_by_prior_pd1_round_trips_through_the_methods_command(tmp_path, capsys):
    first = tmp_path / "first.html"
    assert main(["report", str(COMBINED), "--out", str(first), "--by", "prior_pd1_pdl1", "--ae", str(COMBINED_AE),
                 "--format", "json"]) == 0
    capsys.readouterr()
    html = first.read_text(encoding="utf-8")
    command = re.search(r"<dd>(python -m il2lib report [^<]*)</dd>", html).group(1)
    assert command == ("python -m il2lib report combined_synthetic.csv --out report.html --endpoint os "
                       "--by prior_pd1_pdl1 --ae ADVERSE_EVENTS_FILE")
    again = tmp_path / "again.html"
    argv = shlex.split(command)[3:]
    argv = [str(COMBINED) if a == "combined_synthetic.csv" else str(again) if a == "report.html"
            else str(COMBINED_AE) if a == "ADVERSE_EVENTS_FILE" else a for a in argv]
    assert main(argv) == 0
    assert _stamp_free(again.read_text(encoding="utf-8")) == _stamp_free(html)
    assert "<dt>Groups compared</dt><dd>Prior PD-1/PD-L1</dd>" in html


def test_by_none_and_an_unknown_grouping(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(SAMPLE), "--out", str(out), "--by", "none"]) == 0
    assert "--endpoint os --by none" in out.read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["report", str(SAMPLE), "--out", str(tmp_path / "x.html"), "--by", "bmi"])
    assert exc.value.code == 2 and "invalid choice: 'bmi'" in capsys.readouterr().err
