"""Hostile and broken files never break the loader.

Property: for ANY bytes (and any file name), ``il2lib.load_cohort`` either raises
``CohortFileError`` with one short plain message, or returns a Cohort whose report reconciles
(``n_loaded == n_analysed + n_excluded``, data and excluded tables of those sizes, a file-level
error means nothing analysed) and whose analysed rows are trustworthy (unique ids, finite
non-negative follow-up times).

Profiles (``IL2_FUZZ_PROFILE``): ``ci`` (default; derandomised, about 2,200 inputs, 2-4 minutes
on 2 cores) and ``long`` (``make fuzz-long``: 20x the examples, random seeds; ``IL2_FUZZ_MULTIPLIER``
overrides the factor). Counts of inputs
tried per strategy are written to ``tests/artifacts/fuzz_counts.json``.
"""
from __future__ import annotations

import io
import json
import math
import os
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import il2lib
from il2lib import schema
from support import fuzz_inputs as fz
from support.bounded_child import run_bounded

PROFILE = os.environ.get("IL2_FUZZ_PROFILE", "ci")
MULTIPLIER = int(os.environ.get("IL2_FUZZ_MULTIPLIER", {"ci": 1, "long": 20}[PROFILE]))
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.large_base_example, HealthCheck.filter_too_much])
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)
settings.load_profile(PROFILE)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
WARNED: Counter[str] = Counter()
FINDING_LEVELS = {"file_error", "row_error", "warning"}
MAX_MESSAGE_CHARS = 600


def examples(n: int) -> settings:
    return settings(max_examples=n * MULTIPLIER)


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    summary = {"profile": PROFILE, "tried": dict(TRIED), "total": sum(TRIED.values()), "outcomes": dict(OUTCOMES),
               "warnings_from_the_loader": dict(WARNED)}
    (ARTIFACTS / "fuzz_counts.json").write_text(json.dumps(summary, indent=2))


def _as_source(raw: bytes, name: str | None):
    """Bytes as they are, or a named file-like object like Streamlit's UploadedFile."""
    if name is None:
        return raw
    buffer = io.BytesIO(raw)
    buffer.name = name
    return buffer


def check_load(raw: bytes, name: str | None, strategy: str) -> "il2lib.Cohort | None":
    """Load one input and assert every invariant; return the cohort (None after a CohortFileError)."""
    TRIED[strategy] += 1
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cohort = il2lib.load_cohort(_as_source(raw, name))
        for w in caught:  # reported, not failed: a warning is not a crash
            WARNED[f"{w.category.__name__} at {Path(w.filename).name}:{w.lineno}: {str(w.message)[:80]}"] += 1
    except il2lib.CohortFileError as exc:
        message = str(exc)
        assert message.strip(), "CohortFileError without a message"
        assert len(message) <= MAX_MESSAGE_CHARS, f"message of {len(message)} characters: {message[:200]}..."
        assert "Traceback" not in message
        OUTCOMES["CohortFileError"] += 1
        return None
    check_report(cohort)
    OUTCOMES["file_error finding" if cohort.report.file_errors else "loaded"] += 1
    return cohort


def check_report(cohort) -> None:
    """The counts reconcile and the analysed rows are usable by every analysis."""
    report = cohort.report
    for count in (report.n_loaded, report.n_analysed, report.n_excluded):
        assert isinstance(count, int) and count >= 0
    assert report.n_loaded == report.n_analysed + report.n_excluded
    assert len(cohort.data) == report.n_analysed
    assert len(cohort.excluded) == report.n_excluded
    assert all(f.level in FINDING_LEVELS and isinstance(f.message, str) and f.message for f in report.findings)
    if report.file_errors:
        assert report.n_analysed == 0
    assert len(report.to_frame()) == len(report.findings)
    assert isinstance(report.summary(), str)
    if report.n_analysed:
        data = cohort.data
        assert data[schema.PATIENT_ID].is_unique, "duplicate ids reached the analysed data"
        assert data[schema.PATIENT_ID].notna().all()
        for months_column in (ep.time for ep in schema.ENDPOINTS.values()):
            if months_column in data:
                times = pd.to_numeric(data[months_column], errors="coerce").dropna()
                assert times.map(math.isfinite).all() and (times >= 0).all(), f"bad {months_column}: {times.min()}"


# ---- properties ------------------------------------------------------------------------

@examples(250)
@given(fz.well_formed_csv())
def test_hostile_values_in_a_well_formed_file_never_break_validation(case):
    check_load(*case, strategy="well-formed CSV, hostile values (row-level validation)")


@examples(600)
@given(fz.text_files())
def test_delimited_text_never_breaks_the_loader(case):
    check_load(*case, strategy="delimited text (ragged, mixed encodings, injections, bad dates/numbers)")


@examples(400)
@given(fz.random_bytes())
def test_random_bytes_never_break_the_loader(case):
    check_load(*case, strategy="random bytes behind magic numbers")


_VALID = fz.valid_files()


@examples(400)
@given(fz.corrupted(_VALID))
def test_corrupted_valid_files_never_break_the_loader(case):
    check_load(*case, strategy="truncated / bit-flipped CSV, XLSX, Parquet")


@examples(200)
@given(fz.excel_files())
def test_excel_workbooks_never_break_the_loader(case):
    check_load(*case, strategy="XLSX (sheets, merged cells, formulas, typed cells)")


@examples(150)
@given(fz.parquet_files())
def test_parquet_files_never_break_the_loader(case):
    check_load(*case, strategy="Parquet (typed, nested, inf/NaN, nulls)")


@examples(150)
@given(st.lists(st.sampled_from(fz.BAD_HEADERS + (schema.PATIENT_ID, schema.PATIENT_ID)), min_size=1, max_size=8),
       st.sampled_from(fz.DELIMITERS))
def test_hostile_headers_never_break_the_loader(header, delimiter):
    body = delimiter.join(h.replace("\n", " ") for h in header) + "\n" + delimiter.join("1" for _ in header) + "\n"
    check_load(body.encode(), "cohort.csv", strategy="duplicated / empty / HTML / formula headers")


# ---- fixed edge cases ------------------------------------------------------------------

def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in [header, *rows]).encode() + b"\n"


def _valid_header_and_rows(n: int) -> tuple[list[str], list[list[str]]]:
    frame = fz.valid_frame(n)
    return list(frame.columns), frame.astype(str).values.tolist()


EDGE_CASES = {
    "empty": b"",
    "bom only": b"\xef\xbb\xbf",
    "blank lines": b"\n\n \n\r\n",
    "header only": b"patient_id,disease,bor\n",
    "one cell": b"x",
    "nul bytes": b"\x00" * 512,
    "html page": b"<!DOCTYPE html><html><body><table><tr><td>patient_id</td></tr></table></body></html>",
    "json": b'[{"patient_id": "P1", "disease": "melanoma"}]',
    "unclosed quote": b'patient_id,disease\n"P1,melanoma\nP2,rcc\n',
    "one 100k cell": b"patient_id,disease\nP1," + b"m" * 100_000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_files(name):
    check_load(EDGE_CASES[name], "cohort.csv", strategy="fixed edge cases")
    check_load(EDGE_CASES[name], None, strategy="fixed edge cases")


def test_ten_thousand_columns():
    header, rows = _valid_header_and_rows(5)
    wide_header = header + [f"extra_{i}" for i in range(10_000 - len(header))]
    wide_rows = [row + ["<b>x</b>"] * (10_000 - len(header)) for row in rows]
    cohort = check_load(_csv(wide_header, wide_rows), "wide.csv", strategy="fixed edge cases")
    assert cohort is None or cohort.report.n_loaded == 5


def test_ten_thousand_unknown_columns():
    header = [f"c{i}" for i in range(10_000)]
    check_load(_csv(header, [["1"] * 10_000]), "wide.csv", strategy="fixed edge cases")


@pytest.mark.parametrize("column", [schema.PATIENT_ID, schema.DISEASE, "<script>x</script>", ""])
def test_single_column(column):
    check_load(_csv([column], [["P1"], ["P2"], ["P2"]]), "one.csv", strategy="fixed edge cases")


def test_valid_cohort_loads_and_reconciles():
    """The seed the corruption strategy starts from is a good file: the fuzzer is not testing errors only."""
    for raw, name in zip(_VALID, ("c.csv", "c.csv", "c.xlsx", "c.parquet")):
        cohort = check_load(raw, name, strategy="valid seeds")
        assert cohort is not None and cohort.report.n_analysed > 0, cohort.report.to_frame() if cohort else name


def test_duplicate_ids_exclude_every_copy():
    header, rows = _valid_header_and_rows(4)
    rows[1][0] = rows[0][0]
    cohort = check_load(_csv(header, rows), "dup.csv", strategy="fixed edge cases")
    assert cohort is not None and cohort.report.n_excluded >= 2
    assert rows[0][0] not in set(cohort.data[schema.PATIENT_ID])


def _check_hostile(case: str) -> str:
    """In a bounded child: the loader's invariants hold for a file built to exhaust memory or time."""
    builder, args = fz.HOSTILE_FILES[case]
    cohort = check_load(*builder(*args), strategy="files built to exhaust memory or time")
    return "refused" if cohort is None else "loaded"


@pytest.mark.parametrize("case", sorted(fz.HOSTILE_FILES))
def test_files_built_to_exhaust_memory_never_break_the_loader(case):
    outcome = run_bounded(_check_hostile, case)
    assert not outcome.hung and outcome.error is None, outcome.error or "the child did not finish"
    assert outcome.value in ("refused", "loaded")
