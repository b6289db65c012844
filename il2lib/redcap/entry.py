"""``load_cohort`` that also reads REDCap exports: the dispatch the public ``il2lib.load_cohort`` can point to.

A source whose header is a REDCap export's (:func:`il2lib.redcap.shape.looks_like_redcap`), or any source given
with a ``dictionary``, goes through :func:`il2lib.redcap.load_redcap` and its patient cohort is returned; every
other source goes to :func:`il2lib.validation.patients.load_cohort` unchanged. Only the first bytes of the
source are looked at to decide.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from il2lib.redcap.shape import looks_like_redcap

_PEEK = 1 << 16


def _head(source: Any) -> bytes:
    """The first bytes of a path, bytes object or file-like, leaving a file-like where it was."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:_PEEK])
    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as handle:
                return handle.read(_PEEK)
        except OSError:
            return b""
    if hasattr(source, "getvalue"):
        return bytes(source.getvalue()[:_PEEK])
    if hasattr(source, "read") and hasattr(source, "seek") and hasattr(source, "tell"):
        at = source.tell()
        head = source.read(_PEEK)
        source.seek(at)
        return head.encode("utf-8") if isinstance(head, str) else bytes(head)
    return b""


def is_redcap_export(source: Any) -> bool:
    """True when the source is a delimited text file whose header is a REDCap export's (raw or labels)."""
    head = _head(source)
    if head.startswith((b"PK", b"PAR1")):
        return False
    text = head.decode("utf-8-sig", errors="replace").lstrip("\ufeff")
    line = next(iter(text.splitlines()), "")
    if not line:
        return False
    delimiter = max((",", ";", "\t"), key=line.count)
    try:
        header = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return False
    return looks_like_redcap(header) is not None


def load_cohort(source: Any, mapping=None, *, dictionary: Any = None, missing_codes=None, **kwargs):
    """:func:`il2lib.validation.patients.load_cohort`, or the patient cohort of :func:`il2lib.redcap.load_redcap`
    for a REDCap export (recognised by its header, or any file given with its ``dictionary``)."""
    if dictionary is not None or is_redcap_export(source):
        from il2lib.redcap.export import load_redcap

        kwargs.pop("sheet", None)
        return load_redcap(source, dictionary, missing_codes=missing_codes, mapping=mapping, **kwargs).cohort
    from il2lib.validation.patients import load_cohort as load_table

    return load_table(source, mapping, **kwargs)
