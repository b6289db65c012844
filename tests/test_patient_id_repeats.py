"""A patient_id given on more than one row is a row error on each of those rows, naming all of them. The repeats
are found on integer codes of the ids as read; they must be the repeats of the stripped ids themselves: ids that
differ only by spaces around them are the same patient, missing ids ("", "NA", ".") are never repeats."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2lib.sample import synthetic_cohort
from il2lib.validation import rules
from il2lib.validation.patients import coerce_columns, load_cohort
from il2lib.validation.read import read_table
from il2lib.validation.rules import Collector


def _ids_file(n: int, seed: int, pool: int) -> bytes:
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{k}" for k in rng.integers(0, pool, n)], dtype=object)
    pad = rng.random(n)
    ids[pad < 0.05] = [" " + v for v in ids[pad < 0.05]]
    ids[(pad >= 0.05) & (pad < 0.1)] = [v + "  " for v in ids[(pad >= 0.05) & (pad < 0.1)]]
    ids[(pad >= 0.1) & (pad < 0.13)] = rng.choice(["", "NA", ".", "unknown"], int(((pad >= 0.1) & (pad < 0.13)).sum()))
    frame = pd.DataFrame({"patient_id": ids, "disease": "melanoma"})
    return frame.to_csv(index=False).encode()


def _findings(raw, with_codes: bool):
    typed_by = Collector(raw.file_rows, None, raw.frame)
    coerce_columns(typed_by, raw.frame, {"patient_id": "patient_id"}, {}, False, [], None)
    c = Collector(raw.file_rows, typed_by.ids, raw.frame)
    rules.check_duplicates(c, typed_by.ids, typed_by.id_codes if with_codes else None)
    return c.findings


@pytest.mark.parametrize("compact", [False, True], ids=["plain", "compact"])
@pytest.mark.parametrize("n, pool", [(3_000, 100_000), (3_000, 2_500), (3_000, 200), (40, 30)])
def test_repeats_found_on_codes_are_the_repeats_of_the_stripped_ids(n, pool, compact):
    raw = read_table(_ids_file(n, seed=n + pool, pool=pool), compact=compact)
    on_codes, on_texts = _findings(raw, True), _findings(raw, False)
    assert on_codes == on_texts
    if pool <= n:
        assert on_codes  # the case has repeats


def test_ids_that_differ_by_spaces_are_one_patient():
    frame = synthetic_cohort(5, seed=0)
    frame["patient_id"] = ["P1", " P1 ", "P2", "NA", "NA"]
    cohort = load_cohort(frame.to_csv(index=False).encode())
    repeats = [f for f in cohort.report.row_errors if "appears" in f.message]
    assert [f.file_row for f in repeats] == [2, 3]
    assert repeats[0].message == ("patient_id 'P1' appears 2 times (rows 2, 3); the patient file must be one row "
                                  "per patient.")
