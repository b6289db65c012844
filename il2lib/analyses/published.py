"""Published numbers of the two source papers, for the "our cohort vs published" overlay.

Only values that ``docs/domain.md`` tags **[paper]** (stated in the published abstract) are kept
here, each with its citation, the tag and the abstract wording. Anything derived from them (the
responder count CR + PR, a confidence interval) is computed by the functions below and labelled
"computed from published counts"; assumed or external values (SD/PD/NE splits, PROCLAIM
contemporary-cohort rates, per-disease clinical-benefit counts) never appear.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.cohort import with_clinical_benefit
from il2lib.privacy.disclosure import CountView
from il2lib.stats import proportion_ci
from il2lib.survival import kaplan_meier

PAPER_TAG = "[paper]"
DERIVED_LABEL = "computed from published counts"


@dataclass(frozen=True)
class Citation:
    key: str
    short: str
    full: str
    series: str  # how the overlay names the published cohort


@dataclass(frozen=True)
class PublishedValue:
    """One number as printed in an abstract: ``value`` (numeric) and ``text`` (as printed)."""

    study: str
    quantity: str  # n, cr, pr, orr, median_os, cb_rate, treatment_related_deaths, os_p
    disease: str | None  # schema.MELANOMA / schema.RCC, None = pooled
    group: str | None  # e.g. "Clinical benefit" for the community medians
    value: float
    text: str
    unit: str
    tag: str = PAPER_TAG


CITATIONS = {
    "buchbinder2019": Citation(
        "buchbinder2019", "Buchbinder et al., J Immunother Cancer 2019",
        "Buchbinder EI, Dutcher JP, Daniels GA, et al. Therapy with high-dose Interleukin-2 (HD IL-2) in metastatic "
        "melanoma and renal cell carcinoma following PD1 or PDL1 inhibition. J Immunother Cancer 2019;7(1):49.",
        "PROCLAIM post-PD-1 series"),
    "springerplus2015": Citation(
        "springerplus2015", "SpringerPlus 2015;4:118 (community hospital series)",
        "Clinical characteristics and treatment-related biomarkers associated with response to high-dose "
        "interleukin-2 in metastatic melanoma and renal cell carcinoma: retrospective analysis of an academic "
        "community hospital's experience. SpringerPlus 2015;4:118.",
        "Community series 2004-2012"),
}

_M, _R = schema.MELANOMA, schema.RCC
PUBLISHED: tuple[PublishedValue, ...] = (
    PublishedValue("buchbinder2019", "n", _M, None, 40, "40", "patients"),
    PublishedValue("buchbinder2019", "n", _R, None, 17, "17", "patients"),
    PublishedValue("buchbinder2019", "n", None, None, 57, "57", "patients"),
    PublishedValue("buchbinder2019", "cr", _M, None, 4, "4", "patients"),
    PublishedValue("buchbinder2019", "cr", _R, None, 2, "2", "patients"),
    PublishedValue("buchbinder2019", "pr", _M, None, 5, "5", "patients"),
    PublishedValue("buchbinder2019", "pr", _R, None, 2, "2", "patients"),
    PublishedValue("buchbinder2019", "orr", _M, None, 0.225, "22.5%", "proportion"),
    PublishedValue("buchbinder2019", "orr", _R, None, 0.24, "24%", "proportion"),
    PublishedValue("springerplus2015", "n", None, None, 50, "50", "patients"),
    PublishedValue("springerplus2015", "median_os", _M, "Clinical benefit", 61, "61 months", "months"),
    PublishedValue("springerplus2015", "median_os", _M, "No clinical benefit", 17, "17 months", "months"),
    PublishedValue("springerplus2015", "median_os", _R, "Clinical benefit", 48, "48 months", "months"),
    PublishedValue("springerplus2015", "median_os", _R, "No clinical benefit", 17, "17 months", "months"),
    PublishedValue("springerplus2015", "os_p", _M, None, 0.001, "p < 0.001", "p-value"),
    PublishedValue("springerplus2015", "cb_rate", None, "First-line IL-2", 0.25, "25% (9/36)", "proportion"),
    PublishedValue("springerplus2015", "cb_responders", None, "First-line IL-2", 9, "9", "patients"),
    PublishedValue("springerplus2015", "cb_n", None, "First-line IL-2", 36, "36", "patients"),
    PublishedValue("springerplus2015", "treatment_related_deaths", None, None, 0, "0", "patients"),
)


def published_values(study: str | None = None, quantity: str | None = None) -> pd.DataFrame:
    """The stored [paper] values as a tidy table, with the short citation."""
    rows = [dict(v.__dict__, citation=CITATIONS[v.study].short) for v in PUBLISHED
            if (study is None or v.study == study) and (quantity is None or v.quantity == quantity)]
    return pd.DataFrame(rows)


def _get(study: str, quantity: str, disease=None, group=None) -> PublishedValue:
    for v in PUBLISHED:
        if (v.study, v.quantity, v.disease, v.group) == (study, quantity, disease, group):
            return v
    raise KeyError((study, quantity, disease, group))


def published_response(ci_method: str = "exact", conf_level: float = 0.95) -> pd.DataFrame:
    """Published ORR per disease (Buchbinder 2019) and first-line CB rate (SpringerPlus 2015).

    Columns: study, citation, series, outcome, disease, group, published_text (as printed),
    responders, n, rate, ci_lower, ci_upper, ci_note. ``responders`` for ORR is CR + PR from the
    published counts; the CI is computed from published counts and says so in ``ci_note``.
    """
    rows = []
    for disease in (_M, _R):
        cite = CITATIONS["buchbinder2019"]
        x = int(_get("buchbinder2019", "cr", disease).value + _get("buchbinder2019", "pr", disease).value)
        n = int(_get("buchbinder2019", "n", disease).value)
        ci = proportion_ci(x, n, ci_method, conf_level)
        rows.append({"study": cite.key, "citation": cite.short, "series": cite.series, "outcome": "orr",
                     "disease": disease, "group": schema.DISEASE_LABELS[disease],
                     "published_text": _get("buchbinder2019", "orr", disease).text, "responders": x, "n": n,
                     "rate": x / n, "ci_lower": ci.lower, "ci_upper": ci.upper,
                     "ci_note": f"CI {DERIVED_LABEL} ({x}/{n}, {ci.method_label})"})
    cite = CITATIONS["springerplus2015"]
    x = int(_get("springerplus2015", "cb_responders", None, "First-line IL-2").value)
    n = int(_get("springerplus2015", "cb_n", None, "First-line IL-2").value)
    ci = proportion_ci(x, n, ci_method, conf_level)
    rows.append({"study": cite.key, "citation": cite.short, "series": cite.series, "outcome": "cbr", "disease": None,
                 "group": "First-line IL-2 (both diseases)",
                 "published_text": _get("springerplus2015", "cb_rate", None, "First-line IL-2").text,
                 "responders": x, "n": n, "rate": x / n, "ci_lower": ci.lower, "ci_upper": ci.upper,
                 "ci_note": f"CI {DERIVED_LABEL} ({x}/{n}, {ci.method_label}); CB definition not published"})
    return pd.DataFrame(rows)


def published_medians() -> pd.DataFrame:
    """Published median OS from IL-2 start by disease and clinical-benefit group (SpringerPlus 2015)."""
    cite = CITATIONS["springerplus2015"]
    rows = [{"study": cite.key, "citation": cite.short, "series": cite.series, "disease": v.disease,
             "group": v.group, "median_months": v.value, "published_text": v.text}
            for v in PUBLISHED if v.quantity == "median_os"]
    return pd.DataFrame(rows)


def response_overlay(rates, ci_method: str = "exact") -> pd.DataFrame:
    """Our ORR per disease (from :func:`il2lib.analyses.response.response_rates` by disease) beside the published ORR.

    Columns: source ("Our cohort" / the published series), group, responders, n, rate, ci_lower,
    ci_upper, note. Our groups come from ``rates`` when grouped by disease; otherwise only the
    published rows are returned with a note.
    """
    pub = published_response(ci_method)
    rows = []
    ours = rates.rates[rates.rates["outcome"] == "orr"] if rates is not None else pd.DataFrame()
    for _, p in pub[pub["outcome"] == "orr"].iterrows():
        label = schema.DISEASE_LABELS[p["disease"]]
        if rates is not None and rates.by == schema.DISEASE:
            mine = ours[ours["group"] == label]
            for _, m in mine.iterrows():
                rows.append({"source": "Our cohort", "group": label, "responders": int(m["responders"]),
                             "n": int(m["n"]), "rate": m["rate"], "ci_lower": m["ci_lower"],
                             "ci_upper": m["ci_upper"], "note": "uploaded data, current filters"})
        rows.append({"source": p["series"], "group": label, "responders": p["responders"], "n": p["n"],
                     "rate": p["rate"], "ci_lower": p["ci_lower"], "ci_upper": p["ci_upper"],
                     "note": f"published ORR {p['published_text']} ({p['citation']}); {p['ci_note']}"})
    return pd.DataFrame(rows, columns=["source", "group", "responders", "n", "rate", "ci_lower", "ci_upper", "note"])


def median_overlay(df: pd.DataFrame, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                   window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> pd.DataFrame:
    """Our median OS from IL-2 start by disease x clinical benefit beside the published medians.

    Same view as the paper (no landmark), so both share its guarantee-time bias.
    Columns: disease, group, our_n, our_median, our_lower, our_upper, published_median, published_text, citation.
    """
    data = with_clinical_benefit(df, cb_sd_months, window_days)
    rows = []
    for _, p in published_medians().iterrows():
        cb = p["group"] == "Clinical benefit"
        sel = (data[schema.DISEASE] == p["disease"]).to_numpy(dtype=bool) & \
            (data[schema.CLINICAL_BENEFIT].astype("boolean") == cb).fillna(False).to_numpy(dtype=bool)
        sub = data[sel]
        row = {"disease": schema.DISEASE_LABELS[p["disease"]], "group": p["group"], "our_n": int(len(sub)),
               "our_median": np.nan, "our_lower": np.nan, "our_upper": np.nan,
               "published_median": p["median_months"], "published_text": p["published_text"],
               "citation": p["citation"]}
        if len(sub) and sub[schema.OS_MONTHS].notna().any():
            km = kaplan_meier(sub[schema.OS_MONTHS], sub[schema.OS_EVENT].astype("Float64"))
            row.update(our_n=km.n, our_median=km.median, our_lower=km.median_ci[0], our_upper=km.median_ci[1])
        rows.append(row)
    return pd.DataFrame(rows)


def median_overlay_count_view(df: pd.DataFrame, med: pd.DataFrame, threshold: int | None = None) -> CountView:
    """The counts of our median OS by clinical benefit beside the published medians (``med``, from
    :func:`median_overlay` of ``df``), for small-cell protection: per disease, its patients with and without
    benefit (and OS) add up to at most the disease's N, which is shown elsewhere (never hidden unless it is
    itself below ``threshold``)."""
    view = CountView()
    for disease, rows in med.groupby("disease", sort=False):
        n = int((df[schema.DISEASE].map(schema.DISEASE_LABELS) == disease).sum())
        view.add(("N", disease), n, headline=True, fixed=threshold is not None and n >= threshold)
        parts = [("our n", disease, g) for g in rows["group"]]
        for key, value in zip(parts, rows["our_n"]):
            view.add(key, value, headline=True)
        if int(rows["our_n"].sum()) == n:
            view.add_sum(("N", disease), parts)
        else:  # patients without a benefit status or OS time: the groups hold fewer
            view.add_relation({**dict.fromkeys(parts, 1.0), ("N", disease): -1.0}, -np.inf, 0.0)
    return view
