"""Map file column names onto the data dictionary (schema), and spot identifier columns."""
from __future__ import annotations

import difflib
import re
from typing import Iterable, Mapping, Sequence

import pandas as pd

from il2lib import schema


def _short(text: object, limit: int = 80) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"

_IDENTIFIER_RES = tuple(re.compile(p) for p in schema.IDENTIFIER_PATTERNS)


def is_identifier_column(column: str) -> bool:
    """True when a column name looks like a direct identifier (MRN, name, birth date, address, ...)."""
    key = schema.norm(column)
    return any(rx.search(key) for rx in _IDENTIFIER_RES)


def _lookup(specs: Sequence[schema.ColumnSpec]) -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in specs:
        table.setdefault(schema.norm(spec.name), spec.name)
    for spec in specs:
        for syn in spec.synonyms:
            table.setdefault(schema.norm(syn), spec.name)
    return table


_PATIENT_LOOKUP = _lookup(schema.PATIENT_COLUMNS)
_AE_LOOKUP = _lookup(schema.AE_COLUMNS)


def suggest_mapping(columns: Sequence[str], *, table: str = "patient") -> dict[str, str | None]:
    """Suggest a schema column for each file column (``None`` = keep as an extra column).

    Matching is by exact name or listed synonym after :func:`schema.norm` (case, spaces,
    underscores, hyphens and dots ignored). Each schema column is used at most once (the first
    file column wins); identifier-looking columns are never mapped.

    Parameters
    ----------
    columns : file column names.
    table : ``"patient"`` (patient file) or ``"ae"`` (adverse-event table).
    """
    lookup = _AE_LOOKUP if table == "ae" else _PATIENT_LOOKUP
    used: set[str] = set()
    out: dict[str, str | None] = {}
    for column in columns:
        target = lookup.get(schema.norm(column))
        if target is None or target in used or is_identifier_column(column):
            out[column] = None
            continue
        used.add(target)
        out[column] = target
    return out


def resolve_mapping(columns: Sequence[str], user: Mapping[str, str | None] | None, *,
                    table: str = "patient") -> tuple[dict[str, str], list[str]]:
    """Final file-column -> schema-column mapping and the problems found in ``user``.

    ``user`` overrides the suggestion for the file columns it names (``None``/``""`` = unmapped);
    other columns keep their suggestion unless the target is already taken by ``user``.
    Problems (unknown file column, unknown target, target used twice, identifier mapped to
    patient_id) are returned as plain sentences; the offending entries are ignored.
    """
    specs = schema.AE_COLUMN_SPECS if table == "ae" else schema.COLUMNS
    problems: list[str] = []
    chosen: dict[str, str] = {}
    for column, target in (user or {}).items():
        if not target:
            continue
        if column not in columns:
            problems.append(f"Mapping names column '{_short(column)}', which is not in the file.")
        elif target not in specs:
            problems.append(f"Mapping target '{_short(target)}' for column '{_short(column)}' is not a column of the data dictionary.")
        elif target == schema.PATIENT_ID and is_identifier_column(column):
            problems.append(f"Column '{_short(column)}' looks like a direct identifier and cannot be used as patient_id.")
        elif target in chosen.values():
            problems.append(f"Two file columns are mapped to '{target}'; only the first one is used.")
        else:
            chosen[column] = target
    overridden = set((user or {}).keys())
    for column, target in suggest_mapping(columns, table=table).items():
        if column in overridden or target is None or target in chosen.values():
            continue
        chosen[column] = target
    ordered = {c: chosen[c] for c in columns if c in chosen}
    return ordered, problems


def accepted_names(column: str, *, table: str = "patient") -> str:
    """Accepted file names of a schema column, for a missing-column message."""
    specs = schema.AE_COLUMN_SPECS if table == "ae" else schema.COLUMNS
    spec = specs[column]
    names = [s for s in spec.synonyms if schema.norm(s) != schema.norm(column)]
    return ", ".join(names) if names else column


def missing_required(targets: Iterable[str]) -> tuple[str, ...]:
    """The required patient columns that a mapping onto ``targets`` (schema columns) does not supply, in
    data-dictionary order; an overall-survival time stands in for the IL-2 start date."""
    mapped = set(targets)
    return tuple(name for name in schema.REQUIRED_COLUMNS
                 if name not in mapped and not (name == schema.DATE_IL2_START and schema.OS_MONTHS in mapped))


_WHOLE_NAME_CUTOFF = 0.6  # difflib's default: a file name close to a whole accepted name
_WORD_CUTOFF = 0.8  # a word of the file name close to a word of an accepted name ...
_WORD_SHARE = 0.5  # ... for at least half of the file name's words ("IL2 Beginn": "il2")


class _AcceptedNames:
    """A schema column's accepted names (normalised), ready to be compared with many file column names."""

    def __init__(self, names: Sequence[str]):
        self.matchers = []
        for name in names:  # difflib caches what it learns of the second sequence: set it once
            matcher = difflib.SequenceMatcher(None)
            matcher.set_seq2(name)
            self.matchers.append(matcher)
        self.vocabulary = sorted({word for name in names for word in name.split() if len(word) > 1})
        self._close_word: dict[str, bool] = {}

    def _word_is_close(self, word: str) -> bool:
        if word not in self._close_word:
            self._close_word[word] = bool(difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=_WORD_CUTOFF))
        return self._close_word[word]

    def closeness(self, column: str) -> float:
        """How close a file column name is to these names (0 = not close)."""
        key = schema.norm(column)
        whole = 0.0
        for matcher in self.matchers:
            matcher.set_seq1(key)
            # the ratio's upper bounds first, as difflib.get_close_matches does: a name that cannot reach the
            # cutoff (or the best so far) cannot change the result
            if (matcher.real_quick_ratio() >= max(whole, _WHOLE_NAME_CUTOFF)
                    and matcher.quick_ratio() >= max(whole, _WHOLE_NAME_CUTOFF)):
                whole = max(whole, matcher.ratio())
        words = key.split()
        share = sum(1 for word in words if self._word_is_close(word)) / len(words) if words else 0.0
        return max(whole if whole >= _WHOLE_NAME_CUTOFF else 0.0, share if share >= _WORD_SHARE else 0.0)


def closest_columns(missing: Sequence[str], columns: Sequence[str]) -> dict[str, str | None]:
    """For each schema column in ``missing``, the unmapped file column (of ``columns``) whose name is closest
    to its name, label or synonyms, or None when none is close. Each file column is suggested once, to the
    schema column it is closest to; identifier-looking columns never."""
    specs = schema.COLUMNS
    candidates = [c for c in columns if not is_identifier_column(c)]
    scored = []
    for i, target in enumerate(missing):
        spec = specs[target]
        accepted = _AcceptedNames([schema.norm(n) for n in (spec.name, spec.label, *spec.synonyms)])
        for j, column in enumerate(candidates):
            score = accepted.closeness(column)
            if score > 0:
                scored.append((-score, i, j, target, column))
    out: dict[str, str | None] = dict.fromkeys(missing)
    used: set[str] = set()
    for _, _, _, target, column in sorted(scored):
        if out[target] is None and column not in used:
            out[target] = column
            used.add(column)
    return out


FREE_TEXT_SAMPLE = 2000  # rows looked at per column


_WORDY = re.compile(r"[^\W\d_]{2}")
_SPACE = re.compile(r"\s")


def _sample_texts(series) -> list[str]:
    """The first ``FREE_TEXT_SAMPLE`` non-blank values of a column, as stripped text."""
    if series.dtype != object:
        values = series.dropna().astype(str).str.strip()
        return values[values != ""].head(FREE_TEXT_SAMPLE).tolist()
    out: list[str] = []
    for value in series.array:  # a text column: value by value, which stops at the sample's size
        if not isinstance(value, str):
            if pd.api.types.is_scalar(value) and pd.isna(value):
                continue
            value = str(value)
        text = value.strip()
        if text:
            out.append(text)
            if len(out) == FREE_TEXT_SAMPLE:
                break
    return out


def free_text_columns(frame, columns: Sequence[str]) -> list[str]:
    """The ``columns`` of ``frame`` whose values read like free text (notes, comments): mostly words, with
    spaces or long, and varied (not a handful of codes). Free text may name people or places."""
    found = []
    for column in columns:
        if column not in frame.columns:
            continue
        values = _sample_texts(frame[column])
        n = len(values)
        if n == 0 or sum(1 for v in values if _WORDY.search(v)) / n < 0.5:
            continue
        spaced_or_long = sum(1 for v in values if _SPACE.search(v) or len(v) >= 20) / n
        varied = len(set(values)) / n
        if spaced_or_long >= 0.3 and (varied >= 0.2 or n < 10):
            found.append(column)
    return found
