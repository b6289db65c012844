"""Toxicity from the long-format adverse-event (AE) table, CTCAE v5 grades.

A patient counts once per term, at their worst grade, and once overall. Denominators are the
(filtered) patients, including those without any AE. AE rows that cannot be attributed to an
analysed patient, or lack a valid grade, are listed with the reason, never dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib._analysis import concat_excluded, excluded_frame, group_labels, level_order, patient_ids, require_columns
from il2lib.errors import InsufficientDataError

GRADES = (1, 2, 3, 4, 5)
TERM_COLUMNS = ["group", "term", "N", "n_any", "pct_any", "n_grade3plus", "pct_grade3plus", "immune_related",
                *[f"n_grade{g}" for g in GRADES]]
SUMMARY_COLUMNS = ["group", "measure", "n", "N", "percent", "n_unknown"]
ANY_AE = "Any adverse event"
ANY_G3 = "Any grade >=3 adverse event"
ANY_IRAE = "Any immune-related AE"
IRAE_G3 = "Immune-related AE grade >=3"
STEROIDS = "Steroids for an AE / irAE"
ICU = "ICU transfer"
DEATHS = "Treatment-related death"


@dataclass(frozen=True)
class ToxicitySummary:
    """Patient-level toxicity per group.

    ``by_term``: one row per (group, term): patients with the term at any grade and at grade
    >= 3, and the worst-grade distribution. ``summary``: one row per (group, measure) for any AE,
    grade >= 3, irAEs, steroids, ICU transfer and treatment-related deaths (``n_unknown`` = patients
    with the flag missing). ``excluded_ae_rows``: AE rows left out with the reason.
    """

    by: str | None
    groups: tuple[str, ...]
    by_term: pd.DataFrame
    summary: pd.DataFrame
    by_cycle: pd.DataFrame
    excluded_ae_rows: pd.DataFrame
    n_patients: int
    notes: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        return self.by_term.copy()

    @property
    def patients_note(self) -> str:
        text = f"Patients used: {self.n_patients} (the denominators, patients without any AE included)."
        if len(self.excluded_ae_rows):
            counts = self.excluded_ae_rows.groupby("reason", sort=False).size()
            text += " AE rows left out: " + "; ".join(f"{n} ({r})" for r, n in counts.items()) + "."
        return text

    def display(self) -> pd.DataFrame:
        """Terms (rows, most frequent first) x groups: "any grade n (%)" and "grade >=3 n (%)"."""
        order = list(self.by_term.groupby("term")["n_any"].sum().sort_values(ascending=False, kind="stable").index)
        wide = {}
        for g in self.groups:
            sub = self.by_term[self.by_term["group"] == g].set_index("term").reindex(order)
            n = int(self.summary.loc[self.summary["group"] == g, "N"].iloc[0])
            for label, count in (("any grade", "n_any"), ("grade >=3", "n_grade3plus")):
                wide[f"{g} (N={n}): {label}"] = [f"{int(k)} ({100 * k / n:.0f}%)" for k in sub[count].fillna(0)]
        out = pd.DataFrame(wide, index=pd.Index(order, dtype=object))
        return out.rename_axis("AE term (CTCAE v5)")


def canonical_terms(terms: pd.Series) -> pd.Series:
    """Strip, and map known non-CTCAE terms to CTCAE v5 (``Vitiligo`` -> ``Skin hypopigmentation``)."""
    lookup = {schema.norm(k): v for k, v in schema.AE_TERM_SYNONYMS.items()}
    text = terms.astype(str).str.strip()
    return text.map(lambda t: lookup.get(schema.norm(t), t))


def _clean_ae(ae: pd.DataFrame, ids: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    require_columns(ae, schema.AE_PATIENT_ID, schema.AE_TERM, schema.AE_GRADE)
    out = ae.copy()
    out[schema.AE_PATIENT_ID] = out[schema.AE_PATIENT_ID].astype(str)
    out[schema.AE_TERM] = canonical_terms(out[schema.AE_TERM])
    grade = pd.to_numeric(out[schema.AE_GRADE], errors="coerce")
    bad_grade = ~grade.isin(GRADES).to_numpy()
    outside = ~out[schema.AE_PATIENT_ID].isin(ids).to_numpy()
    no_term = out[schema.AE_TERM].isin(["", "nan", "None", "<NA>"]).to_numpy()
    rows = pd.Series(np.arange(len(out)) + 1, index=out.index).astype(str)
    excl = []
    for mask, reason in [(outside, "patient not in the analysed (filtered) cohort"),
                         (~outside & bad_grade, "CTCAE grade missing or not an integer 1-5"),
                         (~outside & ~bad_grade & no_term, "AE term missing")]:
        if mask.any():
            frame = excluded_frame(out, mask, reason)
            frame.insert(0, "ae_row", rows[mask].to_numpy())
            excl.append(frame)
    keep = ~(outside | bad_grade | no_term)
    out = out[keep].assign(**{schema.AE_GRADE: grade[keep].astype(int)})
    return out, (pd.concat(excl, ignore_index=True) if excl else pd.DataFrame(columns=["ae_row", "patient_id", "reason"]))


def _immune_flag(ae: pd.DataFrame) -> pd.Series:
    by_term = ae[schema.AE_TERM].isin(schema.IMMUNE_RELATED_TERMS)
    if schema.AE_IMMUNE not in ae.columns:
        return by_term
    flag = ae[schema.AE_IMMUNE].astype("boolean")
    return flag.fillna(by_term).astype(bool)


def _flag(ae: pd.DataFrame, column: str) -> pd.Series:
    if column not in ae.columns:
        return pd.Series(False, index=ae.index)
    return ae[column].astype("boolean").fillna(False).astype(bool)


def toxicity_summary(ae: pd.DataFrame, patients: pd.DataFrame, by: str | None = None) -> ToxicitySummary:
    """Summarise adverse events per patient, per term and overall, optionally by group.

    Parameters
    ----------
    ae : DataFrame
        Long AE table (:data:`schema.AE_PATIENT_ID`, :data:`schema.AE_TERM`, :data:`schema.AE_GRADE`;
        optional immune_related, steroids, cycle).
    patients : DataFrame
        The analysed (filtered) patients: the denominators, including patients with no AE.
    by : str, optional
        Patient column to split by (disease, prior PD-1/PD-L1, ...).

    Notes
    -----
    Worst grade per patient per term (CTCAE v5). Immune-related: the AE's ``immune_related``
    flag, or when missing a term in :data:`schema.IMMUNE_RELATED_TERMS`. Steroids: an AE with
    ``steroids`` = yes or the patient's ``steroids_for_irae``. Treatment-related death: the
    patient's flag or a grade-5 AE.
    """
    labels = group_labels(patients, by)
    pids = patient_ids(patients)
    excluded_patients = excluded_frame(patients, labels.isna().to_numpy(), f"{schema.label(by)} missing") if by \
        else concat_excluded([])
    keep = labels.notna().to_numpy()
    patients, labels, pids = patients[keep], labels[keep], pids[keep]
    if len(patients) == 0:
        raise InsufficientDataError("No patient in the analysed cohort: no toxicity denominator.")
    clean, excluded = _clean_ae(ae, set(pids))
    clean = clean.assign(_irae=_immune_flag(clean), _steroids=_flag(clean, schema.AE_STEROIDS))
    group_of = dict(zip(pids, labels))
    clean["_group"] = clean[schema.AE_PATIENT_ID].map(group_of)
    worst = (clean.groupby(["_group", schema.AE_PATIENT_ID, schema.AE_TERM], sort=False)
             .agg(grade=(schema.AE_GRADE, "max"), irae=("_irae", "any")).reset_index())
    groups = level_order(by, labels)
    size = labels.value_counts()
    term_rows, summary_rows = [], []
    for g in groups:
        n = int(size[g])
        w = worst[worst["_group"] == g]
        for term, t in w.groupby(schema.AE_TERM, sort=True):
            counts = t["grade"].value_counts()
            term_rows.append({"group": g, "term": term, "N": n, "n_any": len(t), "pct_any": 100 * len(t) / n,
                              "n_grade3plus": int((t["grade"] >= 3).sum()),
                              "pct_grade3plus": 100 * (t["grade"] >= 3).sum() / n, "immune_related": bool(t["irae"].any()),
                              **{f"n_grade{k}": int(counts.get(k, 0)) for k in GRADES}})
        summary_rows += _summary_rows(g, n, w, clean[clean["_group"] == g], patients[(labels == g).to_numpy()])
    by_term = pd.DataFrame(term_rows, columns=TERM_COLUMNS)
    summary = pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS)
    notes = ("Each patient counts once per term at the worst CTCAE v5 grade, and once in each overall row.",
             f"Denominators: analysed patients including those without any AE ({int(keep.sum())}).")
    if len(excluded_patients):
        notes += (f"{len(excluded_patients)} patient(s) left out: {schema.label(by)} missing.",)
    if by in (schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT) and len(groups) >= 2:
        notes += (schema.ERA_CAVEAT,)
    return ToxicitySummary(by, tuple(groups), by_term, summary, _by_cycle(clean), excluded, int(keep.sum()), notes)


def _patient_flag(patients: pd.DataFrame, column: str) -> tuple[set[str], int]:
    if column not in patients.columns:
        return set(), len(patients)
    flag = patients[column].astype("boolean")
    ids = patient_ids(patients)
    return set(ids[flag.fillna(False).to_numpy(dtype=bool)]), int(flag.isna().sum())


def _summary_rows(group: str, n: int, worst: pd.DataFrame, ae: pd.DataFrame, patients: pd.DataFrame) -> list[dict]:
    pid = schema.AE_PATIENT_ID
    steroid_pts, steroid_unknown = _patient_flag(patients, schema.STEROIDS_IRAE)
    icu_pts, icu_unknown = _patient_flag(patients, schema.ICU_TRANSFER)
    death_pts, death_unknown = _patient_flag(patients, schema.TREATMENT_DEATH)
    measures = [
        (ANY_AE, set(worst[pid]), 0),
        (ANY_G3, set(worst.loc[worst["grade"] >= 3, pid]), 0),
        (ANY_IRAE, set(worst.loc[worst["irae"], pid]), 0),
        (IRAE_G3, set(worst.loc[worst["irae"] & (worst["grade"] >= 3), pid]), 0),
        (STEROIDS, set(ae.loc[ae["_steroids"], pid]) | steroid_pts,
         steroid_unknown if schema.AE_STEROIDS not in ae.columns else 0),
        (ICU, icu_pts, icu_unknown),
        (DEATHS, set(worst.loc[worst["grade"] == 5, pid]) | death_pts, death_unknown),
    ]
    return [{"group": group, "measure": name, "n": len(ids), "N": n, "percent": 100 * len(ids) / n,
             "n_unknown": unknown} for name, ids, unknown in measures]


def _by_cycle(ae: pd.DataFrame) -> pd.DataFrame:
    cols = ["group", "cycle", "n_patients_any", "n_patients_grade3plus"]
    if schema.AE_CYCLE not in ae.columns or ae.empty:
        return pd.DataFrame(columns=cols)
    cyc = ae.assign(_cycle=pd.to_numeric(ae[schema.AE_CYCLE], errors="coerce")).dropna(subset=["_cycle"])
    out = (cyc.groupby(["_group", "_cycle"])
           .apply(lambda t: pd.Series({"n_patients_any": t[schema.AE_PATIENT_ID].nunique(),
                                       "n_patients_grade3plus": t.loc[t[schema.AE_GRADE] >= 3,
                                                                      schema.AE_PATIENT_ID].nunique()}),
                  include_groups=False)
           .reset_index().rename(columns={"_group": "group", "_cycle": "cycle"}))
    out["cycle"] = out["cycle"].astype(int)
    return out[cols]
