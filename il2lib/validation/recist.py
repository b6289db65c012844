"""Best-overall-response rules (docs/domain.md "Response rules"): RECIST 1.1 confirmation and SD minimum, iRECIST.

:func:`apply_response_rules` turns the recorded ``bor`` into the BOR counted in one view:

- ``"confirmed"`` (the default where ``response_confirmed`` exists; RECIST 1.1 section 4.6.1 for non-randomised
  studies): a CR/PR not confirmed (``response_confirmed`` = No or blank) counts as SD if the SD minimum is met, else
  PD if progression followed, else NE (Eisenhauer 2009, section 4.4.3, Table 3);
- ``"all"``: every recorded CR/PR counts.

In both views an SD shorter than the SD minimum (default 6 weeks from IL-2 start) counts as PD if progression
followed, else NE (section 4.4.3), so that DCR = CR + PR + SD always holds. The duration is
``sd_duration_months``, else (progression or last assessment) - IL-2 start, compared with
:func:`duration_meets` (whole days, assessment window W), as in the clinical-benefit rule.

iRECIST categories (Seymour 2017) are mapped at load (iCR->CR, iPR->PR, iSD->SD, iCPD->PD, iUPD->PD); the
category as recorded is kept in :data:`schema.BOR_IRECIST` so that the notes can count them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.notes import Note

View = Literal["auto", "confirmed", "all"]
VIEWS = ("confirmed", "all")
VIEW_LABELS = {"confirmed": "confirmed responses only", "all": "all responses (unconfirmed included)"}
#: the same, short, for table rows ("ORR (CR+PR), confirmed only")
VIEW_SHORT = {"confirmed": "confirmed only", "all": "incl. unconfirmed"}
IRECIST_TO_RECIST = {"iCR": "CR", "iPR": "PR", "iSD": "SD", "iCPD": "PD", "iUPD": "PD"}
_IRECIST_LOOKUP = {k.lower(): k for k in IRECIST_TO_RECIST}
#: note kinds that describe the best-response table itself (shown under it)
TABLE_NOTE_KINDS = ("response_unconfirmed", "sd_below_minimum", "sd_minimum_unknown")


def irecist_category(values: pd.Series) -> pd.Series:
    """The iRECIST category (``"iCR"``, ``"iUPD"``, ...) of each raw ``bor`` cell, None elsewhere."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)  # normalise each distinct value once
    found = np.array([_IRECIST_LOOKUP.get(schema.norm(v).replace(" ", "")) for v in uniques] + [None], dtype=object)
    return pd.Series(found[codes], index=values.index, dtype=object)


def duration_meets(duration_months, threshold_days: float,
                   window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> np.ndarray:
    """True where an SD duration meets a threshold, compared in whole days with an assessment window.

    ``round(duration_months x 30.4375) >= threshold_days - window_days`` (docs/domain.md "Derived fields"):
    with W = 7, 182 days meets 6 months (182.625 days) and 166 days does not. A missing duration is
    False; callers that need "unknown" test for it themselves. The same comparison serves the
    clinical-benefit rule, the landmark status time and the DCR SD minimum.
    """
    days = np.round(np.asarray(duration_months, dtype=float) * schema.DAYS_PER_MONTH)
    with np.errstate(invalid="ignore"):
        return days >= float(threshold_days) - float(window_days)


def _column(df: pd.DataFrame, name: str, kind: str) -> pd.Series:
    if name in df.columns:
        s = df[name]
        if kind == "date":  # a typed column as it is (to_datetime would look at its values again)
            return s if s.dtype == "datetime64[ns]" else pd.to_datetime(s, errors="coerce")
        if kind == "number":
            return s if s.dtype == "float64" else pd.to_numeric(s, errors="coerce").astype("float64")
        return s.astype("boolean") if kind == "bool" else s
    if kind == "date":
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    if kind == "number":
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.Series(pd.NA, index=df.index, dtype="boolean" if kind == "bool" else object)


_NAT = np.datetime64("NaT", "ns")
_NS_PER_DAY = 86_400 * 10**9


def dates_ns(s: pd.Series) -> np.ndarray:
    """A date column's values as datetime64[ns] (NaT where missing)."""
    return s.to_numpy(dtype="datetime64[ns]")


def bool_parts(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(value, missing)`` of a Yes/No column as two bool arrays (value False where missing)."""
    values = s.astype("boolean").array
    return values.to_numpy(dtype=bool, na_value=False), np.asarray(values.isna())


def days_between(end: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Whole days (floored, as ``Series.dt.days``) from ``start`` to ``end`` (datetime64[ns]); NaN where either is
    missing."""
    delta = end - start
    missing = np.isnat(delta)
    whole = delta.view("i8")
    np.floor_divide(whole, _NS_PER_DAY, out=whole)  # in place: one large temporary less
    days = whole.astype("float64")
    days[missing] = np.nan
    return days


def _sd_rule_days(df: pd.DataFrame) -> np.ndarray:
    """Days from IL-2 start to progression (when the patient progressed or it is unknown) or else the last
    assessment."""
    progressed, unknown = bool_parts(_column(df, schema.PROGRESSED, "bool"))
    end = np.where(progressed | unknown, dates_ns(_column(df, schema.DATE_PROGRESSION, "date")), _NAT)
    end = np.where(np.isnat(end), dates_ns(_column(df, schema.DATE_LAST_ASSESSMENT, "date")), end)
    return days_between(end, dates_ns(_column(df, schema.DATE_IL2_START, "date")))


def sd_rule_duration(df: pd.DataFrame) -> pd.Series:
    """Months of disease control for the SD minimum: ``sd_duration_months``, else (progression when the patient
    progressed, or the last assessment) - IL-2 start; NaN when neither is known."""
    given = _column(df, schema.SD_DURATION, "number")
    days = _sd_rule_days(df)
    with np.errstate(invalid="ignore"):
        computed = np.where(days >= 0, days / schema.DAYS_PER_MONTH, np.nan)
    values = given.to_numpy(dtype="float64")
    return pd.Series(np.where(np.isnan(values), computed, values), index=given.index, name=given.name)


def _progression_followed(df: pd.DataFrame) -> np.ndarray:
    progressed, unknown = bool_parts(_column(df, schema.PROGRESSED, "bool"))
    return progressed | (unknown & ~np.isnat(dates_ns(_column(df, schema.DATE_PROGRESSION, "date"))))


def progression_followed(df: pd.DataFrame) -> pd.Series:
    """True where the patient progressed (``progressed`` = Yes, or a progression date without a flag)."""
    return pd.Series(_progression_followed(df), index=df.index)


#: integer codes of the recorded BOR (:func:`bor_codes`)
CR, PR, SD, PD, NE, OTHER, MISSING = 0, 1, 2, 3, 4, 5, -1


def bor_codes(bor: pd.Series) -> np.ndarray:
    """Each BOR as an integer: its position in :data:`schema.BOR_LEVELS` (CR, PR, SD, PD, NE), ``OTHER`` for
    another value, ``MISSING`` where missing (each distinct value compared once)."""
    codes, uniques = pd.factorize(bor.to_numpy(dtype=object), use_na_sentinel=True)
    level = pd.Index(schema.BOR_LEVELS).get_indexer(pd.Index(uniques, dtype=object))
    lookup = np.append(np.where(level >= 0, level, OTHER), MISSING).astype(np.int8)
    return lookup[codes]


@dataclass(frozen=True)
class ResponseRules:
    """The BOR counted in one view (``bor``), who was re-classified and why, and the notes to show.

    ``reclassified`` has one row per re-classified patient: patient_id, recorded, counted_as, reason.
    ``criteria_mix`` counts ``response_criteria`` values (``"not recorded"`` for blanks); empty when the
    column is absent. ``n_irecist`` counts BORs recorded as an iRECIST category or under iRECIST criteria.
    """

    view: str
    has_confirmation: bool
    sd_minimum_weeks: float
    window_days: float
    bor: pd.Series
    reclassified: pd.DataFrame
    notes: tuple[Note, ...] = field(default=())
    criteria_mix: dict = field(default_factory=dict)
    n_irecist: int = 0

    @property
    def view_label(self) -> str:
        return VIEW_LABELS[self.view]

    @property
    def table_notes(self) -> tuple[Note, ...]:
        """The notes about the best-response table (re-classifications)."""
        return tuple(n for n in self.notes if n.kind in TABLE_NOTE_KINDS)


def resolve_view(df: pd.DataFrame, view: View = "auto") -> str:
    """``"auto"`` -> ``"confirmed"`` where ``response_confirmed`` exists, else ``"all"``."""
    if view == "auto":
        return "confirmed" if schema.RESPONSE_CONFIRMED in df.columns else "all"
    if view not in VIEWS:
        raise ValueError(f"Unknown response view {view!r}; use 'auto', 'confirmed' or 'all'.")
    if view == "confirmed" and schema.RESPONSE_CONFIRMED not in df.columns:
        raise ValueError("The confirmed-only view needs a 'response_confirmed' column.")
    return view


def _ids(df: pd.DataFrame, mask: np.ndarray) -> list[str]:
    if schema.PATIENT_ID not in df.columns:
        return [str(i) for i in df.index[mask]]
    return [str(v) for v in df[schema.PATIENT_ID].to_numpy()[mask]]


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


@dataclass(frozen=True)
class PatientRules:
    """Each patient's part of :func:`apply_response_rules` for a whole frame (the rules read only the patient's own
    columns): :func:`rules_of` makes the :class:`ResponseRules` of any selection of its rows from it."""

    view: str
    has_confirmation: bool
    sd_minimum_weeks: float
    window_days: float
    bor: pd.Series
    counted: pd.Series
    ids: np.ndarray
    unconfirmed: np.ndarray | None
    blank: np.ndarray | None
    as_sd: np.ndarray | None
    fallback: np.ndarray
    short: np.ndarray
    unknown: np.ndarray
    irecist: pd.Series
    by_category: np.ndarray
    under_criteria: np.ndarray
    is_irecist: np.ndarray
    criteria: pd.Series  # blanks as "not recorded"
    other_criteria: np.ndarray  # not RECIST1.1
    has_criteria: bool
    duration: pd.Series
    criteria_keys: tuple[np.ndarray, np.ndarray] | None = None  # distinct ``criteria`` values, each row's position


def _all_ids(df: pd.DataFrame) -> np.ndarray:
    """:func:`_ids` of every row, as an object array (text ids are taken as they are)."""
    if schema.PATIENT_ID in df.columns:
        values = df[schema.PATIENT_ID].to_numpy()
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
            return values.copy()
    return np.array(_ids(df, np.ones(len(df), dtype=bool)), dtype=object)


def _equal_to(codes: np.ndarray, uniques: np.ndarray, value: str) -> np.ndarray:
    """Rows (``pd.factorize`` codes and uniques) whose value equals ``value``; False where missing."""
    return np.append(np.asarray(uniques == value, dtype=bool), False)[codes]


def patient_rules(df: pd.DataFrame, view: View = "auto",
                  sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> PatientRules:
    """The per-patient results of :func:`apply_response_rules` for every row of ``df`` (same parameters)."""
    return counted_rules(df, view, sd_minimum_weeks, window_days)[0]


def counted_rules(df: pd.DataFrame, view: View = "auto",
                  sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                  window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                  codes: np.ndarray | None = None) -> tuple[PatientRules, np.ndarray]:
    """:func:`patient_rules` and the counted BOR as :func:`bor_codes` (``codes``: those of the recorded BOR, when
    the caller has them)."""
    if not (np.isfinite(sd_minimum_weeks) and sd_minimum_weeks >= 0):
        raise ValueError(f"sd_minimum_weeks must be a finite number >= 0, got {sd_minimum_weeks!r}.")
    view = resolve_view(df, view)
    bor = df[schema.BOR].astype(object) if schema.BOR in df.columns else pd.Series(None, index=df.index, dtype=object)
    code = bor_codes(bor) if codes is None else codes
    duration = sd_rule_duration(df)
    known = ~np.isnan(duration.to_numpy())
    if sd_minimum_weeks == 0:
        meets = np.ones(len(df), dtype=bool)
    else:
        meets = known & duration_meets(duration.to_numpy(), sd_minimum_weeks * 7, window_days)
    progressed = _progression_followed(df)
    fallback = np.where(progressed, "PD", "NE")
    fallback_code = np.where(progressed, PD, NE).astype(code.dtype)
    ids = _all_ids(df)
    responder = (code == CR) | (code == PR)
    counted = bor.to_numpy(dtype=object, copy=True)
    counted_code = code.copy()
    unconfirmed = blank = as_sd = None
    if view == "confirmed":
        confirmed, confirmation_blank = bool_parts(df[schema.RESPONSE_CONFIRMED])
        unconfirmed = responder & ~confirmed
        blank = responder & confirmation_blank
        as_sd = np.where(meets, "SD", fallback)
        counted[unconfirmed] = as_sd[unconfirmed]
        counted_code[unconfirmed] = np.where(meets, SD, fallback_code)[unconfirmed]
    is_sd = code == SD
    short = is_sd & known & ~meets
    counted[short] = fallback[short]
    counted_code[short] = fallback_code[short]
    unknown = is_sd & ~known & (sd_minimum_weeks > 0)
    irecist = _column(df, schema.BOR_IRECIST, "object")
    criteria = _column(df, schema.RESPONSE_CRITERIA, "object")
    by_category = irecist.notna().to_numpy()
    criteria_codes, criteria_uniques = pd.factorize(criteria.to_numpy(dtype=object), use_na_sentinel=True)
    under_criteria = _equal_to(criteria_codes, criteria_uniques, "iRECIST")
    is_irecist = (by_category | under_criteria) & (code != MISSING)
    keys = None
    if criteria.dtype == object:
        filled = criteria.to_numpy(copy=True)
        filled[criteria_codes < 0] = "not recorded"
        filled = pd.Series(filled, index=criteria.index, name=criteria.name)
        key_of, distinct = pd.factorize(np.append(criteria_uniques, np.array(["not recorded"], dtype=object)))
        keys = (distinct, key_of[criteria_codes])
    else:
        filled = criteria.fillna("not recorded")
    parts = PatientRules(view, schema.RESPONSE_CONFIRMED in df.columns, float(sd_minimum_weeks), float(window_days),
                         bor, pd.Series(counted, index=bor.index, name=bor.name), ids, unconfirmed, blank, as_sd,
                         fallback, short, unknown, irecist, by_category, under_criteria, is_irecist, filled,
                         ~_equal_to(criteria_codes, criteria_uniques, "RECIST1.1"),
                         schema.RESPONSE_CRITERIA in df.columns, duration, keys)
    return parts, counted_code


def _value_counts(keys: tuple[np.ndarray, np.ndarray] | None, values: pd.Series, keep: np.ndarray | None) -> pd.Series:
    """``values[keep].value_counts()`` from each row's position among the distinct values (``keys``), when few."""
    if keys is None or len(keys[0]) > 64:
        return (values if keep is None else values[keep]).value_counts()
    distinct, position = keys[0], keys[1] if keep is None else keys[1][keep]
    counts = np.bincount(position, minlength=len(distinct))
    seen = np.flatnonzero(counts)
    first = [int(np.argmax(position == k)) for k in seen]  # value_counts lists values by first occurrence, then sorts
    order = seen[np.argsort(first, kind="stable")]
    return pd.Series(counts[order], index=pd.Index(distinct[order], dtype=object)).sort_values(ascending=False)


def rules_of(parts: PatientRules, keep: np.ndarray | None = None) -> ResponseRules:
    """The :class:`ResponseRules` of the rows ``keep`` (boolean, all rows when None) of the frame of ``parts``:
    the same as :func:`apply_response_rules` of those rows."""
    def sub(a):
        return a if keep is None or a is None else a[keep]

    bor, counted, ids, fallback = sub(parts.bor), sub(parts.counted), sub(parts.ids), sub(parts.fallback)
    sd_minimum_weeks, window_days = parts.sd_minimum_weeks, parts.window_days
    minimum = (f"the SD minimum ({sd_minimum_weeks:g} weeks from IL-2 start, assessment window "
               f"{window_days:g} days)")
    notes: list[Note] = []
    rows: list[pd.DataFrame] = []

    def reclassify(mask: np.ndarray, values: np.ndarray, reason: str) -> None:
        rows.append(pd.DataFrame({"patient_id": list(ids[mask]), "recorded": bor.to_numpy()[mask],
                                  "counted_as": values[mask], "reason": reason}))

    if parts.view == "confirmed":
        unconfirmed, blank, as_sd = sub(parts.unconfirmed), sub(parts.blank), sub(parts.as_sd)
        if unconfirmed.any():
            reclassify(unconfirmed, as_sd, "CR/PR not confirmed (RECIST 1.1, Table 3)")
            n = int(unconfirmed.sum())
            split = ", ".join(f"{int((unconfirmed & (as_sd == v)).sum()):,} as {v}" for v in ("SD", "PD", "NE")
                              if (unconfirmed & (as_sd == v)).any())
            notes.append(Note(f"{n:,} CR/PR not confirmed (response_confirmed = No or blank) "
                              f"{_plural(n, 'is', 'are')} counted per RECIST 1.1 in the confirmed-only view: {split} "
                              f"(SD if {minimum} is met, else PD if progression followed, else NE).",
                              n, list(ids[unconfirmed]), "response_unconfirmed"))
        if blank.any():
            n = int(blank.sum())
            notes.append(Note(f"{n:,} CR/PR with a blank response_confirmed {_plural(n, 'is', 'are')} counted as "
                              "unconfirmed in the confirmed-only view.", n, list(ids[blank]), "confirmation_blank"))
    short = sub(parts.short)
    if short.any():
        reclassify(short, fallback, "SD shorter than the SD minimum (RECIST 1.1, section 4.4.3)")
        n = int(short.sum())
        split = ", ".join(f"{int((short & (fallback == v)).sum()):,} as {v}" for v in ("PD", "NE")
                          if (short & (fallback == v)).any())
        notes.append(Note(f"{n:,} SD shorter than {minimum} {_plural(n, 'is', 'are')} counted per RECIST 1.1: "
                          f"{split} (PD if progression followed, else NE).", n, list(ids[short]), "sd_below_minimum"))
    unknown = sub(parts.unknown)
    if unknown.any():
        n = int(unknown.sum())
        notes.append(Note(f"{n:,} SD without a duration (no sd_duration_months, progression or last-assessment "
                          f"date): {minimum} cannot be checked; counted as SD.", n, list(ids[unknown]),
                          "sd_minimum_unknown"))
    irecist = sub(parts.irecist)
    by_category, under_criteria, is_irecist = sub(parts.by_category), sub(parts.under_criteria), sub(parts.is_irecist)
    if is_irecist.any():
        n = int(is_irecist.sum())
        counts = irecist[by_category].value_counts()
        detail = [f"{cat}->{IRECIST_TO_RECIST[cat]} {int(counts[cat])}" for cat in IRECIST_TO_RECIST if cat in counts]
        if under_criteria.any():
            detail.append(f"{int(under_criteria.sum()):,} with response_criteria = iRECIST")
        notes.append(Note(f"{n:,} {_plural(n, 'BOR is', 'BORs are')} iRECIST-based ({'; '.join(detail)}); iRECIST "
                          "categories count as their RECIST 1.1 counterpart (iUPD as PD). iRECIST can count a "
                          "response after an unconfirmed progression (iUPD), which RECIST 1.1 would call PD "
                          "(Seymour 2017), so these rates are not strictly RECIST 1.1.",
                          n, list(ids[is_irecist]), "irecist"))
    mix: dict = {}
    if parts.has_criteria:
        mix = {str(k): int(v) for k, v in _value_counts(parts.criteria_keys, parts.criteria, keep).items()}
        other = sub(parts.other_criteria)
        text = ", ".join(f"{k} n = {v}" for k, v in mix.items())
        notes.append(Note(f"Response criteria: {text}.", int(other.sum()), list(ids[other]), "response_criteria"))
    reclassified = (pd.concat(rows, ignore_index=True) if rows else
                    pd.DataFrame(columns=["patient_id", "recorded", "counted_as", "reason"]))
    return ResponseRules(parts.view, parts.has_confirmation, sd_minimum_weeks, window_days,
                         counted, reclassified, tuple(notes), mix, int(is_irecist.sum()))


def apply_response_rules(df: pd.DataFrame, view: View = "auto",
                         sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT,
                         window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> ResponseRules:
    """The best overall response counted per patient under RECIST 1.1 rules (see the module docstring).

    Parameters
    ----------
    df : DataFrame
        One row per patient with :data:`schema.BOR` (CR/PR/SD/PD/NE); optional ``response_confirmed``,
        ``response_criteria``, ``sd_duration_months``, dates and ``progressed``.
    view : {"auto", "confirmed", "all"}
        ``"auto"``: confirmed-only where ``response_confirmed`` exists, else all responses.
    sd_minimum_weeks : float
        RECIST 1.1 minimum time from IL-2 start for SD (0 = no minimum).
    window_days : float
        Assessment window W of :func:`duration_meets`.
    """
    return rules_of(patient_rules(df, view, sd_minimum_weeks, window_days))


__all__ = ["apply_response_rules", "ResponseRules", "PatientRules", "patient_rules", "rules_of", "irecist_category",
           "sd_rule_duration", "progression_followed", "resolve_view", "IRECIST_TO_RECIST", "VIEWS",
           "VIEW_LABELS", "VIEW_SHORT", "TABLE_NOTE_KINDS"]
