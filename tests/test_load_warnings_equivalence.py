"""The loader's empty-cell, iRECIST, clinical-benefit and response-rule warnings are those of their plain
definitions: findings read from every finding per column asked, iRECIST categories read from each raw BOR cell,
the BOR compared as text row by row. The loader reads each finding once, the iRECIST category of each category
of the raw BOR once, and the BOR as integer codes; the findings (level, text, row, patient id, column, value,
kind, order), the row-error reasons, the conversion lines and the columns must not change, on a messy file
mixing iRECIST and RECIST values (padded, other case), blank BORs, unconfirmed responses, SD with and without a
duration and rows excluded by row errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.validation import patients
from il2lib.validation.derive import _derive
from il2lib.validation.mapping import resolve_mapping
from il2lib.validation.patients import (_irecist_categories, _response_rule_warnings, _row_rules, _unknown_benefit,
                                        coerce_columns, validate_table)
from il2lib.validation.read import read_table
from il2lib.validation.rules import Collector
from support.combined_sample import resampled_file

CB = schema.CB_SD_MONTHS_DEFAULT
W = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT


# The plain definitions.
def plain_has_reason(c: Collector, t: pd.DataFrame, column: str) -> pd.Series:
    """Rows that already have a finding on ``column`` (an unreadable value is not also "empty")."""
    flagged = np.zeros(len(t), dtype=bool)
    rows = {f.file_row for f in c.findings if f.column == column and f.file_row is not None}
    if rows:
        flagged = np.isin(c.file_rows, list(rows))
    return pd.Series(flagged, index=t.index)


class PlainReasons:
    """``patients._Reasons`` by its plain definition: every finding read again at each question."""

    def __init__(self, c: Collector):
        self.c = c

    def of(self, t: pd.DataFrame, column: str) -> pd.Series:
        return plain_has_reason(self.c, t, column)


def plain_unknown_benefit(c: Collector, derived: pd.DataFrame, cb_sd_months: float, _codes=None) -> None:
    """``_codes`` unused: the BOR is read as text."""
    analysed = np.ones(len(derived), dtype=bool)
    analysed[list(c.reasons)] = False
    unknown = (derived[schema.BOR].eq("SD").fillna(False).to_numpy() & analysed
               & derived[schema.CLINICAL_BENEFIT].isna().to_numpy())
    n = int(unknown.sum())
    if n:
        c.add("warning", f"{n:,} SD patient{'s' if n > 1 else ''} without sd_duration_months (or dates to compute it): "
              f"clinical benefit (SD >= {cb_sd_months:g} months) is unknown (NA) for "
              f"{'them' if n > 1 else 'this patient'}.", column=schema.SD_DURATION, analysis=schema.CLINICAL_BENEFIT)


def plain_irecist_categories(c, frame, typed, resolved, conversions) -> None:
    from il2lib.validation.recist import IRECIST_TO_RECIST, irecist_category

    raw_bor = next((col for col, name in resolved.items() if name == schema.BOR), None)
    if raw_bor is None or schema.BOR not in typed.columns:
        return
    category = irecist_category(frame[raw_bor].astype(object))
    if not category.notna().any():
        return
    typed[schema.BOR_IRECIST] = category.to_numpy()
    counts = category.value_counts()
    conversions.append("bor: iRECIST categories counted as their RECIST 1.1 counterpart ("
                       + ", ".join(f"{k} -> {v}: {int(counts[k])}" for k, v in IRECIST_TO_RECIST.items()
                                   if k in counts) + ").")
    c.rows("warning", category.eq("iUPD").to_numpy(), "{rowid}: bor 'iUPD' (iRECIST unconfirmed progression) "
           "counted as PD: bor is the best overall response, and a progression never confirmed is still PD under "
           "RECIST 1.1.", schema.BOR, raw_column=raw_bor)


def plain_response_rule_warnings(c: Collector, derived: pd.DataFrame, rules, _codes=None) -> None:
    """``_codes`` unused: the BOR is read as text."""
    analysed = np.ones(len(derived), dtype=bool)
    analysed[list(c.reasons)] = False
    counted = rules.bor.to_numpy(dtype=object)
    bor = derived[schema.BOR].to_numpy(dtype=object)
    if rules.view == "confirmed":
        said_no = derived[schema.RESPONSE_CONFIRMED].astype("boolean").eq(False).fillna(False).to_numpy()
        mask = analysed & said_no & np.isin(bor, schema.RESPONDERS)
        c.rows("warning", mask, "{rowid}: {bor} not confirmed (response_confirmed = No): counted as {counted} in "
               "the confirmed-only ORR (RECIST 1.1), as a response in the all-responses ORR.", schema.RESPONSE_CONFIRMED,
               analysis="response", bor=pd.Series(bor), counted=pd.Series(counted))
    short = analysed & (bor == "SD") & (counted != "SD")
    c.rows("warning", short, "{rowid}: SD lasted less than the SD minimum (" + f"{schema.SD_MINIMUM_WEEKS_DEFAULT:g}"
           + " weeks from IL-2 start): counted as {counted} for disease control (RECIST 1.1).", schema.BOR,
           analysis="response", counted=pd.Series(counted))


BOR_CELLS = ["iCR", "iPR", "iSD", "iUPD", "iCPD", " icr ", "IUPD", " iSD", "icpd ", "I PR", " SD ", "pr", "Cr", "",
             "nCR"]


def _messy_file(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    frame = resampled_file(n, rng, "P")

    def rows(k: int) -> np.ndarray:
        return rng.choice(n, k, replace=False)

    frame.loc[rows(n // 5), "bor"] = rng.choice(BOR_CELLS, n // 5)
    frame["response_confirmed"] = rng.choice(["Yes", "No", "", "no "], n)
    sd = np.flatnonzero(frame["bor"].astype(str).str.strip().str.lower().isin(["sd", "isd"]).to_numpy())
    frame.loc[sd[::3], "sd_duration_months"] = ""  # SD without a duration
    frame.loc[sd[1::3], "sd_duration_months"] = rng.choice(["0.5", "1", "1.2"], len(sd[1::3]))  # below the minimum
    frame.loc[sd[::6], ["date_progression", "date_last_assessment"]] = ""  # nor dates to compute it
    frame.loc[rows(n // 40), "date_il2_start"] = rng.choice(["", "31/02/2016", "soon"], n // 40)
    frame.loc[rows(n // 40), "prior_pd1_pdl1"] = rng.choice(["", "maybe"], n // 40)
    frame.loc[rows(n // 40), "prior_systemic_lines"] = rng.choice(["", "two", "-1"], n // 40)
    frame.loc[rows(n // 40), "disease"] = rng.choice(["", "melanomaa"], n // 40)
    frame.loc[rows(n // 40), "patient_id"] = rng.choice(["", "P000011"], n // 40)
    frame.loc[rows(n // 40), "date_death"] = "2001-02-03"  # before IL-2 start: a row error
    frame.loc[rows(n // 40), "total_doses"] = rng.choice(["16", "-2"], n // 40)
    return frame.to_csv(index=False).encode()


def _load(data: bytes, *, irecist=_irecist_categories, unknown=_unknown_benefit,
          response=_response_rule_warnings, bor_as: str = "read"):
    """The steps of ``patients._validate``, each rule given; the findings, conversion lines and derived frame."""
    raw = read_table(data, compact=True)
    frame = raw.frame
    resolved, _ = resolve_mapping(list(frame.columns), {})
    bor = next(col for col, name in resolved.items() if name == schema.BOR)
    if bor_as == "text":
        frame = frame.assign(**{bor: frame[bor].astype(object)})
    elif bor_as == "missing":  # a categorical whose blank cells are missing
        frame = frame.assign(**{bor: frame[bor].astype(object).replace("", None).astype("category")})
    c = Collector(raw.file_rows, None, frame)
    conversions: list[str] = []
    typed = coerce_columns(c, frame, resolved, {}, raw.decimal_comma, conversions, None, distinct=raw.distinct)
    _row_rules(c, raw, typed, resolved, conversions)
    irecist(c, frame, typed, resolved, conversions)
    analysed = np.ones(len(typed), dtype=bool)
    analysed[list(c.reasons)] = False
    derived, notes, response_rules, codes = _derive(typed, CB, W, analysed, copy=False)
    unknown(c, derived, CB, codes)
    response(c, derived, response_rules, codes)
    return c, conversions + notes, derived, frame


def _assert_same(fast, plain) -> None:
    (c, conversions, derived, _), (pc, p_conversions, p_derived, _) = fast, plain
    assert [dataclasses.astuple(f) for f in c.findings] == [dataclasses.astuple(f) for f in pc.findings]
    assert list(c.reasons.items()) == list(pc.reasons.items())
    assert conversions == p_conversions
    pd.testing.assert_frame_equal(derived, p_derived, check_exact=True)


@pytest.fixture(scope="module", params=[1_200, 3_000])
def messy(request) -> bytes:
    return _messy_file(request.param, seed=request.param)


def test_an_unreadable_cell_is_not_also_reported_empty(messy, monkeypatch):
    fast = _load(messy)
    monkeypatch.setattr(patients, "_Reasons", PlainReasons)
    plain = _load(messy)
    c = plain[0]
    for column in (schema.DATE_IL2_START, schema.PRIOR_PD1, schema.PRIOR_LINES, schema.DISEASE, schema.BOR):
        assert any(f.column == column and "is empty" in f.message for f in c.findings)
        assert any(f.column == column and "is empty" not in f.message and f.file_row for f in c.findings)
    _assert_same(fast, plain)


@pytest.mark.parametrize("bor_as", ["read", "text", "missing"])
def test_irecist_categories_are_read_from_each_raw_bor(messy, bor_as):
    fast = _load(messy, bor_as=bor_as)
    plain = _load(messy, irecist=plain_irecist_categories, bor_as=bor_as)
    assert isinstance(fast[3][schema.BOR].dtype, pd.CategoricalDtype) == (bor_as != "text")
    assert fast[3][schema.BOR].isna().any() == (bor_as == "missing")
    assert any(f.message.startswith("Row") and "'iUPD'" in f.message and f.value for f in plain[0].findings)
    line = next(line for line in plain[1] if line.startswith("bor: iRECIST"))
    assert all(k in line for k in ("iCR", "iPR", "iSD", "iUPD", "iCPD"))
    assert set(plain[2][schema.BOR_IRECIST].dropna()) == {"iCR", "iPR", "iSD", "iUPD", "iCPD"}
    _assert_same(fast, plain)


def test_sd_without_a_duration_is_counted_as_unknown_benefit(messy):
    fast, plain = _load(messy), _load(messy, unknown=plain_unknown_benefit)
    assert any("clinical benefit" in f.message and "unknown (NA)" in f.message for f in plain[0].findings)
    _assert_same(fast, plain)


def test_unconfirmed_responses_and_short_sd_are_warned_as_recorded(messy):
    fast, plain = _load(messy), _load(messy, response=plain_response_rule_warnings)
    c = plain[0]
    assert sum("not confirmed (response_confirmed = No)" in f.message for f in c.findings) > 10
    assert sum("SD lasted less than the SD minimum" in f.message for f in c.findings) > 5
    assert c.reasons  # rows excluded by row errors, whose warnings are not given
    _assert_same(fast, plain)


def test_a_load_gives_the_findings_of_the_plain_rules(messy, monkeypatch):
    fast = validate_table(read_table(messy, compact=True))
    for name, plain in [("_Reasons", PlainReasons), ("_irecist_categories", plain_irecist_categories),
                        ("_unknown_benefit", plain_unknown_benefit),
                        ("_response_rule_warnings", plain_response_rule_warnings)]:
        monkeypatch.setattr(patients, name, plain)
    slow = validate_table(read_table(messy, compact=True))
    assert slow.report.n_excluded > 0
    assert [dataclasses.astuple(f) for f in fast.report.findings] == [dataclasses.astuple(f) for f in
                                                                        slow.report.findings]
    assert fast.report.conversions == slow.report.conversions
    pd.testing.assert_frame_equal(fast.data, slow.data, check_exact=True)
    pd.testing.assert_frame_equal(fast.excluded, slow.excluded, check_exact=True)
