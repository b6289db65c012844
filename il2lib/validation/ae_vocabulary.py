"""Adverse-event vocabulary: one spelling per term, the immune-related lookup, CTEP attribution.

Terms are compared ignoring case, spaces and punctuation (:func:`term_key`): a term that matches
a CTCAE v5 term (:data:`schema.CTCAE_V5_TERMS`) or a listed synonym takes the CTCAE spelling;
any other term takes the first spelling seen in the table. Every respelling is reported.
"""
from __future__ import annotations

import re

import pandas as pd

from il2lib import schema


def term_key(text: object) -> str:
    """Case-, spacing- and punctuation-free key: ``"Rash maculo-papular"`` -> ``"rashmaculopapular"``."""
    return re.sub(r"[\W_]+", "", str(text).casefold())


_CTCAE = {term_key(t): t for t in schema.CTCAE_V5_TERMS}
_SYNONYMS = {term_key(k): v for k, v in schema.AE_TERM_SYNONYMS.items()}
_IMMUNE = {term_key(t) for t in schema.IMMUNE_RELATED_TERMS}


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value) \
        or str(value).strip() == ""


def canonical_terms(terms: pd.Series) -> tuple[pd.Series, dict[str, tuple[str, ...]]]:
    """One spelling per term, and the merges made.

    Returns the respelled terms (missing values stay missing, others are stripped) and
    ``{canonical spelling: (other spellings seen, in order of appearance)}`` for each term that
    was typed in a spelling other than the one kept.
    """
    chosen: dict[str, str] = {}
    mapping: dict[object, object] = {}
    for raw in pd.unique(terms.astype(object)):
        if _missing(raw):
            continue
        key = term_key(str(raw).strip())
        mapping[raw] = _SYNONYMS.get(key) or _CTCAE.get(key) or chosen.setdefault(key, str(raw).strip())
    out = terms.astype(object).map(lambda v: v if _missing(v) else mapping[v])
    return out, respellings(terms, out)


def respellings(entered: pd.Series, canonical: pd.Series) -> dict[str, tuple[str, ...]]:
    """``{canonical: (spellings typed that differ from it, in order)}`` of aligned term series."""
    merges: dict[str, list[str]] = {}
    for typed, canon in zip(entered.astype(object), canonical.astype(object)):
        if _missing(typed) or _missing(canon):
            continue
        text = str(typed).strip()
        if text != canon and text not in merges.setdefault(canon, []):
            merges[canon].append(text)
    return {k: tuple(v) for k, v in merges.items() if v}


def merge_text(merges: dict[str, tuple[str, ...]]) -> str:
    """``"hypotension", "HYPOTENSION" -> "Hypotension"; ...``"""
    return "; ".join(", ".join(f'"{s}"' for s in spellings) + f' -> "{canon}"'
                     for canon, spellings in merges.items())


def is_immune_related(terms: pd.Series) -> pd.Series:
    """True for a term of :data:`schema.IMMUNE_RELATED_TERMS` (or a synonym of one), in any spelling."""
    def check(value: object) -> bool:
        if _missing(value):
            return False
        key = term_key(value)
        return key in _IMMUNE or term_key(_SYNONYMS.get(key, "")) in _IMMUNE

    return terms.astype(object).map(check).astype(bool)


def attribution(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """CTEP attribution -> ``"related"`` / ``"unrelated"`` / None (unknown), and the unrecognised cells.

    Definite, probable, possible -> related; unlikely, unrelated -> unrelated; blank or
    "unknown" -> unknown. An unrecognised value counts as unknown (the mask says which).
    """
    def one(value: object) -> tuple[object, bool]:
        if _missing(value):
            return None, False
        key = schema.norm(value)
        if key in schema.MISSING_TOKENS:
            return None, False
        hit = schema.ATTRIBUTION_SCALE.get(key)
        return hit, hit is None

    pairs = [one(v) for v in values.astype(object)]
    mapped = pd.Series([p[0] for p in pairs], index=values.index, dtype=object)
    return mapped, pd.Series([p[1] for p in pairs], index=values.index, dtype=bool)
