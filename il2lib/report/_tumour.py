"""The report's tumour-burden figures (in the Response section): the waterfall of each patient's best change in
the target lesions and the spider plot of the changes over time, when the data have tumour assessments or a
best_pct_change column. Both are patient level (Figure kinds ``waterfall`` and ``spider``): withheld in a
report built under small-cell protection."""
from __future__ import annotations

import pandas as pd

from il2lib import schema
from il2lib.analyses.tumour_burden import tumour_burden
from il2lib.figures.tumour_burden import SPIDER_KIND, WATERFALL_KIND, spider_figure, waterfall_figure
from il2lib.report._html import Figure
from il2lib.report._sections import ANALYSIS_ERRORS, Section

_BEST_CHANGE_NAMES = {schema.norm(n) for n in (schema.BEST_PCT_CHANGE, *schema.BEST_PCT_CHANGE_SPEC.synonyms)}
THRESHOLDS = ("The dashed lines at -30% and +20% are the RECIST 1.1 thresholds of partial response (30% decrease "
              "from baseline) and progression (20% increase, which RECIST measures from the nadir).")


def has_tumour_data(df: pd.DataFrame, assessments) -> bool:
    """Tumour assessments are given, or the patient rows have a best change column (name or synonym)."""
    return assessments is not None or any(isinstance(c, str) and schema.norm(c) in _BEST_CHANGE_NAMES
                                          for c in df.columns)


def add_tumour_figures(s: Section, df: pd.DataFrame, assessments, by: str | None) -> None:
    """Append the waterfall and (with assessments) the spider plot to ``s``, coloured by ``by``'s groups when
    given (spider), else by best overall response; the patients used and left out as a note."""
    if not has_tumour_data(df, assessments):
        return
    try:
        tb = tumour_burden(assessments, df, by=by)
    except ANALYSIS_ERRORS as exc:
        s.note(f"Tumour burden not computed: {exc}")
        return
    s.add(Figure(waterfall_figure(tb, title="Best change in target lesions"),
                 "Waterfall plot: one bar per patient, their best (most negative) change of the sum of target "
                 "lesions from baseline up to progression, coloured by best overall response; stars mark new "
                 "lesions. " + THRESHOLDS, kind=WATERFALL_KIND))
    if tb.source == "assessments":
        s.add(Figure(spider_figure(tb, color_by="group" if by else "bor", title="Change in target lesions over time"),
                     "Spider plot: each assessment's change of the target-lesion sum from baseline over months since "
                     "the IL-2 start, one line per patient, coloured by "
                     + (schema.label(by) if by else "best overall response") + ". " + THRESHOLDS, kind=SPIDER_KIND))
    s.note(tb.statement())
    s.methods.append("Tumour burden: baseline = the last tumour assessment on or before the IL-2 start; change = "
                     "(sum of target lesions - baseline) / baseline x 100; best change = the most negative change "
                     "after the baseline up to progression (waterfall)." if tb.source == "assessments" else
                     "Tumour burden: best change in target lesions as recorded in the patient file (best_pct_change).")
