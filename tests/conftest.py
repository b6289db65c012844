"""Shared test helpers: build small patient files in the test code (no data files needed)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: one valid patient (strings as a user would type them); tests override single cells
BASE_ROW = {
    "patient_id": "P001", "disease": "melanoma", "prior_systemic_lines": "0", "prior_pd1_pdl1": "Yes",
    "date_il2_start": "2016-01-10", "bor": "PD", "progressed": "Yes", "date_progression": "2016-03-01",
    "died": "No", "date_death": "", "date_last_followup": "2017-01-10",
}


def patient_rows(*overrides: dict, n: int | None = None) -> pd.DataFrame:
    """A frame of valid patients P001, P002, ...; the k-th override dict changes row k."""
    count = max(len(overrides), n or 0) or 1
    rows = []
    for k in range(count):
        row = dict(BASE_ROW, patient_id=f"P{k + 1:03d}")
        if k < len(overrides):
            row.update(overrides[k])
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def csv_bytes(frame: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, sep=sep, index=False)
    return buffer.getvalue().encode(encoding)


@pytest.fixture
def load():
    """``load(frame_or_bytes, **kw)`` -> Cohort, with the counts checked to reconcile."""
    from il2lib import load_cohort

    def _load(obj, **kw):
        data = csv_bytes(obj) if isinstance(obj, pd.DataFrame) else obj
        cohort = load_cohort(data, **kw)
        report = cohort.report
        assert report.n_loaded == report.n_analysed + report.n_excluded
        assert len(cohort.data) == report.n_analysed and len(cohort.excluded) == report.n_excluded
        return cohort

    return _load


def messages(cohort, level: str | None = None) -> list[str]:
    return [f.message for f in cohort.report.findings if level is None or f.level == level]


# IL-2 start 2016-01-10 (conftest BASE_ROW). RECIST 1.1 (Eisenhauer 2009) section 4.4.3 / Table 3:
# P001 PR, confirmed = No, last scan 2016-03-01 (51 d >= 42 - 7 = 35)   -> SD in the confirmed-only view
# P002 PR, confirmed = Yes                                               -> PR
# P003 SD, progression 2016-02-01 (22 d < 35)                            -> PD (SD shorter than 6 weeks)
# P004 PD                                                                -> PD
# Confirmed-only ORR 1/4; all responses 2/4. DCR 2/4 (PR + SD); with no SD minimum (0 weeks) DCR = 3/4.
UNCONFIRMED_PR_AND_SHORT_SD = patient_rows(
    {"bor": "PR", "response_confirmed": "No", "progressed": "No", "date_progression": "",
     "date_last_assessment": "2016-03-01"},
    {"bor": "PR", "response_confirmed": "Yes", "progressed": "No", "date_progression": "",
     "date_last_assessment": "2016-06-01"},
    {"bor": "SD", "date_progression": "2016-02-01"},
    {"bor": "PD"})


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole run (local[2], driver memory 1 GB, no UI), for the Spark registry tests.

    Never skipped: without pyspark or Java 17+ the tests fail, saying what `make setup-test` installs.
    """
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        pytest.fail("pyspark is not installed: run 'make setup-test' (requirements-spark.txt).")
    from il2lib.sources.spark import spark_session

    session = spark_session(config={"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


@pytest.fixture
def download_buttons(monkeypatch) -> dict[str, dict]:
    """Every download button drawn, still drawn for real: key -> its keyword arguments (``data`` builds the file)."""
    import streamlit

    drawn: dict[str, dict] = {}
    real = streamlit.download_button

    def recording(label, *args, **kwargs):
        drawn[kwargs.get("key", label)] = kwargs
        return real(label, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return drawn
