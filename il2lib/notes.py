"""Notes shown beside a result, with the numbers they state kept as data.

A :class:`Note` is a plain ``str`` (pages, exports and JSON print it unchanged) that also carries
the count it states and the patient ids behind it, so that small-cell protection can mask the
count and pseudonyms can replace the ids without parsing the sentence.
"""
from __future__ import annotations

from typing import Iterable


class Note(str):
    """A sentence for the user plus ``count`` (the number of patients it is about, if any),
    ``patient_ids`` (those patients) and ``kind`` (a short stable code, e.g. ``"ae_unknown"``)."""

    count: int | None
    patient_ids: tuple[str, ...]
    kind: str

    def __new__(cls, text: str, count: int | None = None, patient_ids: Iterable = (), kind: str = "") -> "Note":
        note = super().__new__(cls, text)
        note.count = None if count is None else int(count)
        note.patient_ids = tuple(str(p) for p in patient_ids)
        note.kind = kind
        return note

    def __reduce__(self):  # pickling (st.cache_data) keeps the data
        return (Note, (str(self), self.count, self.patient_ids, self.kind))

    def to_dict(self) -> dict:
        """JSON form: text, count, patient_ids, kind."""
        return {"text": str(self), "count": self.count, "patient_ids": list(self.patient_ids), "kind": self.kind}
