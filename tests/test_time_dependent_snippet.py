"""The "Show code" of response as a time-dependent covariate: the Python snippet gives il2lib's numbers, and the R
snippet (tmerge, coxph with exact ties, survfit) gives the same Mantel-Byar test and hazard ratio."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from il2lib.export import snippets
from il2lib.export.files import table_to_csv_bytes
from il2lib.survival import response_time_dependent
from support.apptest import sample_data

RSCRIPT = shutil.which("Rscript")


@pytest.fixture
def exported(tmp_path, monkeypatch):
    (tmp_path / snippets.DEFAULT_CSV).write_bytes(table_to_csv_bytes(sample_data()))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_python(snippet) -> dict:
    namespace: dict = {}
    exec(compile(snippet.python, "<snippet>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


@pytest.mark.parametrize("endpoint, grouping", [("os", "response"), ("os", "benefit")])
def test_python_snippet_gives_the_tab_numbers(exported, endpoint, grouping):
    result = run_python(snippets.time_dependent_snippet(endpoint, grouping))["result"]
    # on the loaded data: a time read back from the CSV can differ from it by 1e-14, which is a tie (R's timefix)
    direct = response_time_dependent(sample_data(), endpoint, grouping).to_frame()
    for column in ("mantel_byar_chisq", "hr", "hr_lower", "hr_upper", "n", "n_switched"):
        assert result[column].iloc[0] == pytest.approx(direct[column].iloc[0], rel=1e-9), column


def test_clinical_benefit_has_no_r_snippet():
    assert snippets.time_dependent_snippet("os", "benefit").r == ""


@pytest.mark.skipif(RSCRIPT is None, reason="Rscript not installed (Debian r-base-core r-cran-survival)")
def test_r_snippet_gives_the_dashboards_mantel_byar_test_and_hazard_ratio(exported):
    endpoint = "os"  # exact ties on PFS take R minutes
    code = snippets.time_dependent_snippet(endpoint, "response").r
    assert "tmerge(" in code and 'ties = "exact"' in code and "survfit(" in code
    extra = ('cat("MB", mb$score, "\\n")\n'
             'cat("HR", summary(fit)$conf.int[1, c(1, 3, 4)], "\\n")\n'
             'cat("N", length(unique(rows$patient_id)), "\\n")\n')
    out = subprocess.run([RSCRIPT, "-e", code + "\n" + extra], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]

    def numbers(tag):
        line = next(x for x in out.stdout.splitlines() if x.startswith(tag))
        return np.array(line.split()[1:], dtype=float)

    direct = response_time_dependent(sample_data(), endpoint, "response")
    assert numbers("N")[0] == direct.rows.n
    assert numbers("MB")[0] == pytest.approx(direct.mantel_byar.statistic, rel=1e-6)
    np.testing.assert_allclose(numbers("HR"), [direct.cox.hr, direct.cox.hr_lower, direct.cox.hr_upper], rtol=1e-6)
