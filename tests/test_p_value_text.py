"""p-values as text (docs/domain.md "p-values as text"): 3 decimals for 0.001 <= p < 0.1, 2 above, ``<0.001`` and
``>0.99`` at the ends, and no p-value is ever rounded across 0.05 (a p below 0.05 whose 3-decimal text would
read 0.050 is truncated to 4 decimals)."""
from __future__ import annotations

import pytest

from il2lib.stats import format_p, p_phrase


@pytest.mark.parametrize("p, text", [
    (0.0496, "0.0496"),    # rounds to 0.050 at 3 decimals, but p < 0.05: truncated to 4 decimals
    (0.049996, "0.0499"),  # truncated, not rounded (rounding would give 0.0500)
    (0.0495, "0.0495"),    # lowest p whose 3-decimal text can read 0.050
    (0.05, "0.050"),       # p = 0.05 is not below 0.05: 3 decimals
    (0.0504, "0.050"),     # above 0.05, reads 0.050 at 3 decimals
    (0.000999, "<0.001"),
    (0.001, "0.001"),
    (0.0492, "0.049"),     # 3-decimal text 0.049 is already below 0.05: unchanged
    (0.0123, "0.012"),
    (0.2597, "0.26"),
    (0.995, ">0.99"),
    (0.99, "0.99"),
    (1.0, ">0.99"),
    (float("nan"), "—"),
    (None, "—"),
])
def test_p_value_text(p, text):
    assert format_p(p) == text


@pytest.mark.parametrize("p, phrase", [
    (0.0496, "p = 0.0496"), (0.05, "p = 0.050"), (0.000999, "p < 0.001"), (0.995, "p > 0.99"),
])
def test_p_value_phrase_keeps_its_prefix(p, phrase):
    assert p_phrase(p) == phrase


def test_no_p_below_005_reads_as_005_or_more():
    """A sweep of p just below 0.05: the text, read as a number, stays below 0.05."""
    for i in range(1, 2000):
        p = 0.05 - i * 2.5e-7
        assert float(format_p(p)) < 0.05, p
