"""Cohort filters shared by the CLI, the URL and every page, plus the clinical-benefit rule.

:class:`CohortFilter` is a frozen (hashable) dataclass, so it can be a ``st.cache_data`` key;
:func:`apply_filter` is pure and returns a filtered copy. Keys of the query-parameter form are
the schema's column names (``?disease=rcc&prior_pd1_pdl1=no``), the same names the CLI flags use
(``--disease rcc --prior-pd1-pdl1 no``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib.validation.recist import CR, NE, PD, PR, SD, apply_response_rules, duration_meets, sd_rule_duration

LINE_GROUPS = ("1", "2", "3+")
#: Prefix of query-parameter keys for extra filters on columns that are not in the schema
#: (unmapped file columns), so they cannot collide with other URL parameters.
EXTRA_PREFIX = "col."

_YES, _NO = "yes", "no"


def line_group(line_of_il2: Any) -> str | None:
    """Group a line-of-therapy number: 1 -> "1", 2 -> "2", >= 3 -> "3+"; None when missing."""
    if line_of_il2 is None or line_of_il2 is pd.NA:
        return None
    try:
        value = float(line_of_il2)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or value < 1:
        return None
    return "1" if value < 2 else "2" if value < 3 else "3+"


def line_groups(lines: pd.Series) -> pd.Series:
    """Vectorised :func:`line_group` (object Series of "1"/"2"/"3+" or None)."""
    values = pd.to_numeric(lines, errors="coerce").astype("float64")
    out = np.select([values >= 3, values >= 2, values >= 1], ["3+", "2", "1"], default="")
    return pd.Series(out, index=lines.index, dtype=object).replace("", None)


def _yes_no(value: bool) -> str:
    return _YES if value else _NO


def _parse_bool(text: str) -> bool | None:
    token = schema.norm(text)
    if token in schema.BOOL_TRUE:
        return True
    if token in schema.BOOL_FALSE:
        return False
    return None


def _filter_strings(series: pd.Series) -> pd.Series:
    """Values of a column as the strings a filter compares against (normalised; NA -> None)."""
    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if v is pd.NA or v is None else _yes_no(bool(v)))
    if pd.api.types.is_numeric_dtype(series):
        num = series.astype("float64")
        return num.map(lambda v: None if math.isnan(v) else _num(v))
    return series.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
                      else schema.norm(v))


def _norm_value(column: str, value: str) -> str:
    spec = schema.COLUMNS.get(column)
    if spec is not None and spec.kind == "bool":
        parsed = _parse_bool(value)
        return _yes_no(parsed) if parsed is not None else schema.norm(value)
    return schema.norm(value)


@dataclass(frozen=True)
class CohortFilter:
    """A cohort restriction; each empty field means "no restriction on that column".

    Hashable (only tuples), so Streamlit can cache on it. ``extra`` holds filters on any other
    categorical column: ``(("braf_v600", ("mutant",)),)``; values compare as normalised strings,
    booleans as ``yes``/``no``.
    """

    disease: tuple[str, ...] = ()
    prior_pd1_pdl1: tuple[bool, ...] = ()
    prior_pd1_agent: tuple[str, ...] = ()
    line_of_il2: tuple[str, ...] = ()
    sex: tuple[str, ...] = ()
    age_range: tuple[float, float] | None = None
    ecog: tuple[int, ...] = ()
    source: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def is_empty(self) -> bool:
        """True when the filter keeps every patient."""
        return all(not getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        """One-line plain description: ``"Melanoma · prior PD-1/PD-L1: yes · line 1"``."""
        parts: list[str] = []
        if self.disease:
            parts.append(", ".join(schema.DISEASE_LABELS.get(d, d) for d in self.disease))
        if self.prior_pd1_pdl1:
            parts.append("prior PD-1/PD-L1: " + ", ".join(_yes_no(v) for v in self.prior_pd1_pdl1))
        if self.prior_pd1_agent:
            parts.append("prior agent: " + ", ".join(self.prior_pd1_agent))
        if self.line_of_il2:
            parts.append(("line " if len(self.line_of_il2) == 1 else "lines ") + ", ".join(self.line_of_il2))
        if self.sex:
            parts.append("sex: " + ", ".join(self.sex))
        if self.age_range is not None:
            lo, hi = self.age_range
            parts.append(f"age {_num(lo)}–{_num(hi)}")
        if self.ecog:
            parts.append("ECOG " + ", ".join(str(e) for e in self.ecog))
        if self.source:
            parts.append("source: " + ", ".join(self.source))
        for column, values in self.extra:
            parts.append(f"{schema.label(column)}: " + ", ".join(values))
        return " · ".join(parts) if parts else "All patients"

    def to_query_params(self) -> dict[str, str]:
        """URL / CLI form: schema column names as keys, lists comma-joined, booleans yes/no, age "40-70"."""
        params: dict[str, str] = {}
        simple = {schema.DISEASE: self.disease, schema.PRIOR_PD1_AGENT: self.prior_pd1_agent,
                  schema.LINE_OF_IL2: self.line_of_il2, schema.SEX: self.sex, schema.SOURCE: self.source}
        for key, values in simple.items():
            if values:
                params[key] = ",".join(values)
        if self.prior_pd1_pdl1:
            params[schema.PRIOR_PD1] = ",".join(_yes_no(v) for v in self.prior_pd1_pdl1)
        if self.age_range is not None:
            params[schema.AGE] = f"{_num(self.age_range[0])}-{_num(self.age_range[1])}"
        if self.ecog:
            params[schema.ECOG] = ",".join(str(e) for e in self.ecog)
        for column, values in self.extra:
            key = column if column in schema.COLUMNS else EXTRA_PREFIX + column
            params[key] = ",".join(values)
        return params

    @classmethod
    def from_query_params(cls, params: Mapping[str, Any]) -> tuple["CohortFilter", list[str]]:
        """Parse :meth:`to_query_params` output; bad values are dropped with one message each.

        Keys that are neither filter fields nor schema columns (nor ``col.<name>``) are ignored
        silently: the URL may carry other settings.
        """
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        extra: list[tuple[str, tuple[str, ...]]] = []
        for key, raw in params.items():
            if isinstance(raw, (list, tuple)):
                raw = ",".join(str(r) for r in raw)
            text = "" if raw is None else str(raw)
            parser = _PARSERS.get(key)
            if parser is not None:
                value = parser(text, problems)
                if value:
                    kwargs[_FIELD_OF[key]] = value
            elif key.startswith(EXTRA_PREFIX) or key in schema.COLUMNS:
                column = key[len(EXTRA_PREFIX):] if key.startswith(EXTRA_PREFIX) else key
                values = tuple(dict.fromkeys(_norm_value(column, v) for v in _split(text)))
                if values:
                    extra.append((column, values))
        if extra:
            kwargs["extra"] = tuple(sorted(extra))
        return cls(**kwargs), problems


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _parse_choices(column: str, allowed: tuple, canon, shown: tuple[str, ...] = ()) -> Any:
    def parse(text: str, problems: list[str]) -> tuple:
        out = []
        for part in _split(text):
            value = canon(part)
            if value is None or (allowed and value not in allowed):
                problems.append(f"Filter {column}: value '{part}' not recognised"
                                + (f" (allowed: {', '.join(map(str, shown or allowed))})" if allowed else "")
                                + "; ignored.")
            elif value not in out:
                out.append(value)
        return tuple(out)
    return parse


def _canon_category(column: str):
    spec = schema.COLUMNS[column]

    def canon(part: str) -> str | None:
        key = schema.norm(part)
        if key in spec.value_synonyms:
            return spec.value_synonyms[key]
        for allowed in spec.allowed:
            if schema.norm(allowed) == key:
                return allowed
        return part.strip() if not spec.allowed else None
    return canon


def _canon_line(part: str) -> str | None:
    text = part.strip().replace(" ", "")
    if text in LINE_GROUPS:
        return text
    return line_group(text) if text.isdigit() else None


def _canon_ecog(part: str) -> int | None:
    try:
        value = float(part)
    except ValueError:
        return None
    return int(value) if value.is_integer() and 0 <= value <= 4 else None


def _parse_age(text: str, problems: list[str]) -> tuple[float, float] | None:
    cleaned = text.replace("–", "-").replace("..", "-").replace(",", "-").strip()
    try:
        lo_text, hi_text = cleaned.split("-", 1) if "-" in cleaned[1:] else (cleaned, cleaned)
        lo, hi = float(lo_text), float(hi_text)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError
    except ValueError:
        problems.append(f"Filter {schema.AGE}: '{text}' is not an age range like 40-70; ignored.")
        return None
    return (lo, hi)


_PARSERS = {
    schema.DISEASE: _parse_choices(schema.DISEASE, schema.DISEASES, _canon_category(schema.DISEASE)),
    schema.PRIOR_PD1: _parse_choices(schema.PRIOR_PD1, (True, False), _parse_bool, (_YES, _NO)),
    schema.PRIOR_PD1_AGENT: _parse_choices(schema.PRIOR_PD1_AGENT, schema.PD1_AGENTS,
                                           _canon_category(schema.PRIOR_PD1_AGENT)),
    schema.LINE_OF_IL2: _parse_choices(schema.LINE_OF_IL2, LINE_GROUPS, _canon_line),
    schema.SEX: _parse_choices(schema.SEX, ("M", "F"), _canon_category(schema.SEX)),
    schema.AGE: _parse_age,
    schema.ECOG: _parse_choices(schema.ECOG, (0, 1, 2, 3, 4), _canon_ecog),
    schema.SOURCE: _parse_choices(schema.SOURCE, (), lambda p: p.strip() or None),
}
_FIELD_OF = {schema.DISEASE: "disease", schema.PRIOR_PD1: "prior_pd1_pdl1", schema.PRIOR_PD1_AGENT: "prior_pd1_agent",
             schema.LINE_OF_IL2: "line_of_il2", schema.SEX: "sex", schema.AGE: "age_range", schema.ECOG: "ecog",
             schema.SOURCE: "source"}


def _isin(values) -> Callable[[pd.Series], pd.Series]:
    wanted = list(values)
    return lambda series: series.isin(wanted).fillna(False).astype(bool)


def apply_filter(df: pd.DataFrame, f: CohortFilter) -> pd.DataFrame:
    """Rows of ``df`` that pass every restriction of ``f`` (a copy; the index is preserved).

    A restriction on a column the frame does not have keeps no row. Missing values never pass
    a restriction on their column (age only when ``age_range`` is set).
    """
    return df.take(filter_positions(df, f))  # one copy; take leaves no chained-assignment link


#: Factorization of a column, ``pd.factorize(df[column])``: (codes, -1 = missing; distinct values).
Distinct = Callable[[str], tuple[np.ndarray, Any]]


def filter_positions(df: pd.DataFrame, f: CohortFilter, distinct: Distinct | None = None) -> np.ndarray:
    """Positions (``iloc``, ascending) of the rows :func:`apply_filter` keeps, without copying any column.

    ``distinct(column)``: the factorization of a column, for a caller that filters the same data again and
    keeps them; each restriction but age is then decided once per distinct value instead of once per row.
    """
    keep = np.ones(len(df), dtype=bool)

    def restrict(column: str, test: Callable[[pd.Series], pd.Series], by_value: bool = True) -> None:
        nonlocal keep
        if column not in df.columns:
            keep &= False
        elif distinct is None or not by_value:
            keep &= np.asarray(test(df[column]), dtype=bool)
        else:
            codes, values = distinct(column)
            passes = np.asarray(test(pd.Series(values)), dtype=bool)
            keep &= np.append(passes, False)[codes]  # a missing value (code -1) never passes

    if f.disease:
        restrict(schema.DISEASE, _isin(f.disease))
    if f.prior_pd1_pdl1:
        restrict(schema.PRIOR_PD1, _isin(f.prior_pd1_pdl1))
    if f.prior_pd1_agent:
        restrict(schema.PRIOR_PD1_AGENT, _isin(f.prior_pd1_agent))
    if f.line_of_il2:
        restrict(schema.LINE_OF_IL2, lambda s: line_groups(s).isin(list(f.line_of_il2)).astype(bool))
    if f.sex:
        restrict(schema.SEX, _isin(f.sex))
    if f.age_range is not None:
        restrict(schema.AGE, lambda s: _numbers(s).between(*f.age_range), by_value=False)
    if f.ecog:
        restrict(schema.ECOG, lambda s: _numbers(s).isin([float(e) for e in f.ecog]))
    if f.source:
        restrict(schema.SOURCE, _isin(f.source))
    for column, values in f.extra:
        wanted = {_norm_value(column, v) for v in values}
        restrict(column, lambda s, wanted=wanted: _filter_strings(s).isin(wanted).astype(bool))
    return np.flatnonzero(keep)


def _numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def benefit_rule_text(cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                      window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> str:
    """The clinical-benefit rule as shown to users, with the assessment window W and the shortest SD
    that counts: ``"CR or PR, or SD lasting at least 6 months (176 days or more: 6 × 30.4375 days less
    an assessment window of 7 days)"``."""
    if cb_sd_months == 0:
        return "CR or PR, or SD of any duration"
    least = max(0, math.ceil(cb_sd_months * schema.DAYS_PER_MONTH - window_days - 1e-9))
    return (f"CR or PR, or SD lasting at least {cb_sd_months:g} months ({least} days or more: "
            f"{cb_sd_months:g} × 30.4375 days less an assessment window of {window_days:g} days)")


def with_clinical_benefit(df: pd.DataFrame, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                          window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> pd.DataFrame:
    """Copy of ``df`` with :data:`schema.CLINICAL_BENEFIT` recomputed for an SD-duration threshold.

    Notes
    -----
    Clinical benefit = CR or PR, or SD lasting ``cb_sd_months`` (:func:`il2lib.validation.recist.duration_meets`,
    assessment window ``window_days``; ``cb_sd_months = 0``: any SD counts, duration not needed), on the
    BOR counted under the RECIST 1.1 rules (:func:`il2lib.validation.recist.apply_response_rules`: an unconfirmed
    CR/PR counts as SD where confirmation is recorded, a too-short SD as PD/NE). PD and NE are no benefit; SD without a duration (threshold > 0) and a missing BOR give NA. Result dtype: ``"boolean"``.
    """
    benefit = clinical_benefit(df, cb_sd_months, window_days)
    out = df.copy()
    out[schema.CLINICAL_BENEFIT] = benefit
    return out


def clinical_benefit(df: pd.DataFrame, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                     window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT, *,
                     counted: pd.Series | None = None, counted_codes: np.ndarray | None = None,
                     duration: np.ndarray | None = None) -> pd.Series:
    """The :data:`schema.CLINICAL_BENEFIT` column :func:`with_clinical_benefit` sets (``df`` is not changed).
    ``counted``: ``apply_response_rules(df, window_days=window_days).bor`` when the caller has it already, or
    ``counted_codes``: that BOR as :func:`il2lib.validation.recist.bor_codes`; ``duration``: ``sd_rule_duration(df)``
    as an array, likewise."""
    if not (isinstance(cb_sd_months, (int, float)) and math.isfinite(cb_sd_months) and cb_sd_months >= 0):
        raise ValueError(f"cb_sd_months must be a finite number >= 0, got {cb_sd_months!r}.")
    if counted_codes is not None:
        value = (counted_codes == CR) | (counted_codes == PR)
        known = value | (counted_codes == PD) | (counted_codes == NE)
        is_sd = counted_codes == SD
    else:
        bor = apply_response_rules(df, window_days=window_days).bor if counted is None else counted  # RECIST 1.1
        level = pd.Index(["CR", "PR", "PD", "NE", "SD"]).get_indexer(bor)  # -1: missing or another value
        value, known = level < 2, (level >= 0) & (level < 4)
        is_sd = level == 4
    if cb_sd_months == 0:
        value[is_sd] = known[is_sd] = True
    else:
        duration = sd_rule_duration(df).to_numpy() if duration is None else duration
        lasted = duration_meets(duration, cb_sd_months * schema.DAYS_PER_MONTH, window_days)
        measured = is_sd & ~np.isnan(duration)
        value[measured], known[measured] = lasted[measured], True
    return pd.Series(pd.arrays.BooleanArray(value, ~known), index=df.index)
