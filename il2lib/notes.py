"""Notes shown beside a result, with the numbers they state kept as data.

A :class:`Note` is a plain ``str`` (pages, exports and JSON print it unchanged) that also carries
the count it states and the patient ids behind it, so that small-cell protection can mask the
count and pseudonyms can replace the ids without parsing the sentence.

A sentence that names patients is built with :func:`compose` from text and :class:`PatientRef`
pieces: it keeps the text between the ids (``text_parts``) and the ids it names (``named_ids``),
so :func:`rebuild` writes it again with other names (pseudonyms) for every id, whole or cut short.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

SHORT_LIMIT = 80  # characters of a user-supplied value or id shown in a message


def short(text: object, limit: int = SHORT_LIMIT) -> str:
    """A user-supplied value or name, cut to ``limit`` characters for a message."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class PatientRef:
    """A patient id inside a sentence, shown cut to ``limit`` characters (``None``: whole)."""

    id: str
    limit: int | None = None


def compose(*pieces: "str | PatientRef") -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """``(text, text_parts, named_ids)`` of a sentence made of text and :class:`PatientRef` pieces.

    ``text`` shows each id (cut as asked); ``text_parts`` is the text around the ids (one more than
    ``named_ids``), both empty when the sentence names no patient.
    """
    text, parts, ids = [], [""], []
    for piece in pieces:
        if isinstance(piece, PatientRef):
            pid = str(piece.id)
            text.append(pid if piece.limit is None else short(pid, piece.limit))
            ids.append(pid)
            parts.append("")
        else:
            text.append(piece)
            parts[-1] += piece
    return "".join(text), (tuple(parts) if ids else ()), tuple(ids)


def rebuild(text_parts: tuple[str, ...], named_ids: tuple[str, ...], names: Mapping[str, str],
            default: str) -> str:
    """The sentence again with ``names[id]`` (``default`` for an id not in ``names``) for every id it names."""
    out = [text_parts[0]]
    for pid, part in zip(named_ids, text_parts[1:]):
        out += [names.get(pid, default), part]
    return "".join(out)


class Note(str):
    """A sentence for the user plus ``count`` (the number of patients it is about, if any),
    ``patient_ids`` (those patients) and ``kind`` (a short stable code, e.g. ``"ae_unknown"``)."""

    count: int | None
    patient_ids: tuple[str, ...]
    kind: str
    text_parts: tuple[str, ...]  # see compose(): the text around the ids it names
    named_ids: tuple[str, ...]

    def __new__(cls, text: str, count: int | None = None, patient_ids: Iterable = (), kind: str = "",
                text_parts: Iterable[str] = (), named_ids: Iterable = ()) -> "Note":
        note = super().__new__(cls, text)
        note.count = None if count is None else int(count)
        note.patient_ids = tuple(str(p) for p in patient_ids)
        note.kind = kind
        note.text_parts = tuple(text_parts)
        note.named_ids = tuple(str(p) for p in named_ids)
        return note

    @classmethod
    def naming(cls, pieces: Iterable["str | PatientRef"], count: int | None = None, patient_ids: Iterable = (),
               kind: str = "") -> "Note":
        """A note whose sentence names patients (text and :class:`PatientRef` pieces, see :func:`compose`)."""
        text, parts, named = compose(*pieces)
        return cls(text, count, patient_ids, kind, parts, named)

    def renamed(self, names: Mapping[str, str], default: str) -> "Note":
        """The note with every patient id replaced by ``names[id]`` (``default`` when missing), in its
        sentence and in ``patient_ids``."""
        text = rebuild(self.text_parts, self.named_ids, names, default) if self.named_ids else str(self)
        return Note(text, self.count, [names.get(p, default) for p in self.patient_ids], self.kind, self.text_parts,
                    [names.get(p, default) for p in self.named_ids])

    def __reduce__(self):  # pickling (st.cache_data) keeps the data
        return (Note, (str(self), self.count, self.patient_ids, self.kind, self.text_parts, self.named_ids))

    def to_dict(self) -> dict:
        """JSON form: text, count, patient_ids, kind."""
        return {"text": str(self), "count": self.count, "patient_ids": list(self.patient_ids), "kind": self.kind}
