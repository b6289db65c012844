"""Everything an AppTest session shows or offers, as plain strings, and a search for values in it.

* :func:`rendered_strings`: every string and bytes field of every element and block the last run drew
  (Markdown, captions, labels, metrics, tables as Arrow bytes, plotly figure JSON, iframe source), plus
  each table's values and column names as the user reads them.
* :class:`DownloadRecorder`: records every download button's payload while it is active (static bytes,
  and the deferred callables Streamlit runs on click); :meth:`DownloadRecorder.strings` runs the
  callables and reads the files (XLSX and other zip files member by member). PNG, SVG and PDF payloads
  are drawn by chromium from an object the callable holds (figure, report HTML): that object is read
  instead of launching a browser.
* :func:`find`: which needles occur in the strings, with some context, for a readable failure.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from unittest import mock

from streamlit.runtime.media_file_manager import MediaFileManager

#: Payloads a browser renders (kaleido, chromium): scanned through the objects the callable holds.
RENDERED_MIMES = ("image/png", "image/svg+xml", "application/pdf")


def _walk(node) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _repeated(descriptor) -> bool:
    if hasattr(descriptor, "is_repeated"):  # protobuf >= 5.28 (``label`` is deprecated there)
        return descriptor.is_repeated
    return descriptor.label == descriptor.LABEL_REPEATED


def proto_strings(message) -> Iterator[str]:
    """Every string (and bytes, decoded) field of a protobuf message, nested messages included."""
    for descriptor, value in message.ListFields():
        values = value if _repeated(descriptor) else [value]
        for item in values:
            if hasattr(item, "ListFields"):
                yield from proto_strings(item)
            elif isinstance(item, str):
                yield item
            elif isinstance(item, bytes):
                yield item.decode("utf-8", errors="replace")


def _frame_strings(frame) -> Iterator[str]:
    yield " | ".join(map(str, frame.columns))
    yield " | ".join(map(str, frame.index))
    yield frame.to_csv(index=False)


def rendered_strings(at) -> list[str]:
    """What the last run of ``at`` drew, sidebar included, as strings (see the module docstring)."""
    out: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            out.extend(proto_strings(proto))
        if getattr(node, "type", "") in ("table", "dataframe", "arrow_data_frame"):
            try:
                out.extend(_frame_strings(node.value))
            except Exception:  # an element whose value cannot be read is still scanned as proto bytes
                pass
        if getattr(node, "type", "") == "plotly_chart":
            out.append(json.dumps(json.loads(proto.spec), ensure_ascii=False))
    return out


def payload_strings(data: bytes | str) -> list[str]:
    """A file's text: zip members (XLSX) one by one, anything else decoded as UTF-8."""
    if isinstance(data, str):
        return [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name).decode("utf-8", errors="replace") for name in archive.namelist()]
    return [data.decode("utf-8", errors="replace")]


def _held_strings(fn: Callable) -> list[str]:
    """Text of what a deferred callable holds (its closure and defaults): figures, strings, objects with html."""
    held = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    held += list(getattr(fn, "__defaults__", None) or ())
    out = []
    for obj in held:
        if isinstance(obj, (str, bytes)):
            out.extend(payload_strings(obj))
        elif hasattr(obj, "to_json"):
            out.append(obj.to_json())
        elif isinstance(getattr(obj, "html", None), str):
            out.append(obj.html)
        elif hasattr(obj, "to_csv"):
            out.append(obj.to_csv())
    return out


@dataclass
class Download:
    file_name: str
    mimetype: str
    data: bytes | str | None = None
    make: Callable | None = None

    def strings(self) -> list[str]:
        if self.make is None:
            return payload_strings(self.data or b"")
        if (self.mimetype or "") in RENDERED_MIMES:
            return _held_strings(self.make)
        data = self.make()
        if hasattr(data, "read"):
            data = data.read()
        return payload_strings(data)


@dataclass
class DownloadRecorder:
    """``with DownloadRecorder() as downloads:`` records every download offered by AppTest runs inside it.

    Call :meth:`clear` before a run to keep only that run's downloads."""

    downloads: list[Download] = field(default_factory=list)

    def __enter__(self) -> "DownloadRecorder":
        recorder = self
        add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

        def record_add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
            if is_for_static_download:
                recorder.downloads.append(Download(file_name or "", mimetype or "", data=path_or_data))
            return add(self, path_or_data, mimetype, coordinates, file_name=file_name,
                       is_for_static_download=is_for_static_download)

        def record_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
            recorder.downloads.append(Download(file_name or "", mimetype or "", make=data_callable))
            return add_deferred(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

        self._patches = [mock.patch.object(MediaFileManager, "add", record_add),
                         mock.patch.object(MediaFileManager, "add_deferred", record_deferred)]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc) -> None:
        for patch in reversed(self._patches):
            patch.stop()

    def clear(self) -> None:
        self.downloads.clear()

    def strings(self) -> list[str]:
        """The text of every recorded download (file name first)."""
        out: list[str] = []
        for download in self.downloads:
            out.append(download.file_name)
            out.extend(download.strings())
        return out


def shown_and_offered(at, downloads: DownloadRecorder | None = None) -> list[str]:
    """:func:`rendered_strings` of the last run plus the text of the downloads recorded since the last clear."""
    return rendered_strings(at) + (downloads.strings() if downloads is not None else [])


def find(strings: Iterable[str], needles: Iterable[str], context: int = 60) -> list[str]:
    """``needle: ...context...`` for each needle found (at most one line per needle)."""
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles:
        return []
    pattern = re.compile("|".join(map(re.escape, needles)))
    hits: dict[str, str] = {}
    for text in strings:
        for match in pattern.finditer(text):
            if match.group(0) not in hits:
                start, end = max(0, match.start() - context), match.end() + context
                hits[match.group(0)] = f"{match.group(0)}: ...{text[start:end]}..."
    return sorted(hits.values())
