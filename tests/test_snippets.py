"""Reproducible code: every Python snippet runs on the exported analysis CSV and gives the dashboard's
numbers; every R snippet runs under Rscript (Debian r-base-core, survival, cmprsk) and gives the same
numbers where we read them back (skipped when Rscript is absent)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.export import snippets
from il2lib.export.files import table_to_csv_bytes
from il2lib.survival import kaplan_meier, logrank_test
from il2lib.survival.multivariable import multivariable_cox
from il2lib.survival.pairwise import pairwise_logrank
from support.combined_sample import sample_data

RSCRIPT = shutil.which("Rscript")
ALL = [snippets.km_snippet("os", schema.DISEASE), snippets.km_snippet("pfs", None),
       snippets.cox_snippet("os", ["age", "sex", "ecog", "ldh_x_uln", "later_line", "prior_pd1", "disease"]),
       snippets.pairwise_logrank_snippet("os", schema.LINE_OF_IL2),
       snippets.pairwise_fisher_snippet(schema.LINE_OF_IL2), snippets.milestone_snippet("os", schema.DISEASE),
       snippets.cif_snippet(schema.DISEASE), snippets.time_origin_snippet("os", "pd1_end", schema.DISEASE),
       snippets.response_snippet(schema.DISEASE), snippets.response_snippet(None, "wilson", "evaluable"),
       snippets.landmark_snippet("os", schema.OBJECTIVE_RESPONSE, 6.0), snippets.bor_snippet(schema.DISEASE),
       snippets.forest_snippet([schema.DISEASE, schema.LINE_OF_IL2]), snippets.swimmer_snippet(),
       snippets.dor_snippet(), snippets.table1_snippet(schema.DISEASE), snippets.biomarkers_snippet(),
       snippets.toxicity_snippet(schema.PRIOR_PD1)]


@pytest.fixture
def exported(tmp_path, monkeypatch):
    """The analysis CSV as the dashboard exports it, in the working directory the snippets read from."""
    from il2lib import load_adverse_events, load_cohort
    from support.combined_sample import ROOT

    (tmp_path / snippets.DEFAULT_CSV).write_bytes(table_to_csv_bytes(sample_data()))
    cohort = load_cohort(ROOT / "sample_data" / "combined_synthetic.csv")
    events = load_adverse_events(ROOT / "sample_data" / "combined_synthetic_adverse_events.csv", cohort)
    (tmp_path / snippets.AE_CSV).write_bytes(table_to_csv_bytes(events.data))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_python(snippet) -> dict:
    namespace: dict = {}
    exec(compile(snippet.python, "<snippet>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


@pytest.mark.parametrize("snippet", ALL, ids=lambda s: s.python.splitlines()[-2][:40])
def test_python_snippets_run(exported, snippet):
    assert isinstance(run_python(snippet)["result"], pd.DataFrame)


def test_python_km_snippet_reproduces_numbers(exported):
    ns = run_python(snippets.km_snippet("os", schema.DISEASE))
    df = sample_data()
    direct = kaplan_meier(df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64"), by=df[schema.DISEASE])
    np.testing.assert_allclose(ns["result"]["median"], [r.median for r in direct.values()], rtol=1e-12)
    test = logrank_test(df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64"), df[schema.DISEASE])
    assert ns["test"].statistic == pytest.approx(test.statistic, rel=1e-12)


def test_python_cox_and_pairwise_snippets_reproduce_numbers(exported):
    covs = ["age", "sex", "ecog", "disease"]
    ns = run_python(snippets.cox_snippet("os", covs))
    np.testing.assert_allclose(ns["result"]["hr"], multivariable_cox(sample_data(), "os", covs).table["hr"],
                               rtol=1e-10)
    ns = run_python(snippets.pairwise_logrank_snippet("os", schema.LINE_OF_IL2))
    df = sample_data()
    from il2lib import line_group
    direct = pairwise_logrank(df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64"),
                              df[schema.LINE_OF_IL2].map(line_group))
    np.testing.assert_allclose(ns["result"]["p_holm"], direct.table["p_holm"], rtol=1e-12)


def run_r(code: str, extra: str = "") -> str:
    out = subprocess.run([RSCRIPT, "-e", code + "\n" + extra], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    return out.stdout


def _numbers(stdout: str, tag: str) -> np.ndarray:
    line = next(l for l in stdout.splitlines() if l.startswith(tag))
    return np.array(line.split()[1:], dtype=float)


@pytest.mark.skipif(RSCRIPT is None, reason="Rscript not installed (Debian r-base-core r-cran-survival r-cran-cmprsk)")
@pytest.mark.parametrize("snippet", [s for s in ALL if s.r], ids=lambda s: s.r.splitlines()[-1][:40])
def test_r_snippets_run(exported, snippet):
    run_r(snippet.r)


def test_python_page_snippets_reproduce_numbers(exported):
    from il2lib.analyses.response import duration_of_response
    from il2lib.analyses.table1 import table1

    df = sample_data()
    ns = run_python(snippets.dor_snippet())
    assert ns["result"]["median_months"].iloc[0] == pytest.approx(duration_of_response(df).median, nan_ok=True)
    ns = run_python(snippets.table1_snippet(schema.DISEASE))
    pd.testing.assert_frame_equal(ns["result"].astype(str), table1(df, schema.DISEASE).display().astype(str))


def test_toxicity_snippet_reproduces_the_grade3_comparison(exported):
    from il2lib import load_adverse_events, load_cohort
    from il2lib.analyses.toxicity import compare_grade3, toxicity_summary
    from support.combined_sample import ROOT

    cohort = load_cohort(ROOT / "sample_data" / "combined_synthetic.csv")
    events = load_adverse_events(ROOT / "sample_data" / "combined_synthetic_adverse_events.csv", cohort)
    page = compare_grade3(toxicity_summary(events.data, sample_data(), schema.PRIOR_PD1))
    ns = run_python(snippets.toxicity_snippet(schema.PRIOR_PD1))
    pd.testing.assert_frame_equal(ns["grade3"].tests, page.tests)
    pd.testing.assert_frame_equal(ns["grade3"].counts, page.counts)
    assert "grade3" not in run_python(snippets.toxicity_snippet(None))


@pytest.mark.skipif(RSCRIPT is None, reason="Rscript not installed")
def test_r_snippets_give_the_same_numbers(exported):
    df = sample_data()
    out = run_r(snippets.km_snippet("os", schema.DISEASE).r,
                'cat("CHISQ", survdiff(Surv(os_months, os_event) ~ disease, data = df)$chisq, "\\n")\n'
                'cat("MED", unname(summary(fit)$table[, "median"]), "\\n")')
    test = logrank_test(df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64"), df[schema.DISEASE])
    assert _numbers(out, "CHISQ")[0] == pytest.approx(test.statistic, rel=1e-6)
    direct = kaplan_meier(df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64"), by=df[schema.DISEASE])
    np.testing.assert_allclose(_numbers(out, "MED"), [r.median for r in direct.values()], rtol=1e-6)
    covs = ["age", "sex", "ecog", "disease"]
    out = run_r(snippets.cox_snippet("os", covs).r, 'cat("HR", exp(coef(fit)), "\\n")')
    np.testing.assert_allclose(_numbers(out, "HR"), multivariable_cox(df, "os", covs).table["hr"], rtol=1e-6)
    out = run_r(snippets.pairwise_logrank_snippet("os", schema.LINE_OF_IL2).r, 'cat("HOLM", p.adjust(p, "holm"), "\\n")')
    ns_p = run_python(snippets.pairwise_logrank_snippet("os", schema.LINE_OF_IL2))["result"]["p_holm"]
    np.testing.assert_allclose(_numbers(out, "HOLM"), ns_p, rtol=1e-6)
    out = run_r(snippets.cif_snippet(schema.DISEASE).r, 'cat("GRAY", ci$Tests[1, "stat"], "\\n")')
    gray = run_python(snippets.cif_snippet(schema.DISEASE))["cr"].gray
    assert _numbers(out, "GRAY")[0] == pytest.approx(gray.statistic, rel=1e-6)
    out = run_r(snippets.time_origin_snippet("os", "pd1_end", schema.DISEASE).r,
                'cat("MED", unname(summary(fit)$table[, "median"]), "\\n")')
    ns = run_python(snippets.time_origin_snippet("os", "pd1_end", schema.DISEASE))
    np.testing.assert_allclose(_numbers(out, "MED"), ns["result"]["median"], rtol=1e-6)
