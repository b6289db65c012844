"""Everything an AppTest session shows or offers, as plain strings, and a search for values in it.

* :func:`walk`: every block and element the last run drew, with a readable path and its delta path
  (tests/support/disclosure_scan.py reads the same walk for small counts).
* :func:`rendered_strings`: every string and bytes field of every element and block the last run drew
  (Markdown, captions, labels, metrics, tables as Arrow bytes, plotly figure JSON, iframe source), plus
  each table's values and column names as the user reads them.
* :class:`DownloadRecorder`: records every download button's payload and place while it is active (static
  bytes, and the deferred callables Streamlit runs on click); :meth:`DownloadRecorder.strings` runs the
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

#: Payloads a browser renders (kaleido, chromium): scanned through the objects the callable holds.
RENDERED_MIMES = ("image/png", "image/svg+xml", "application/pdf")


def walk(at) -> Iterator[tuple[str, tuple[int, ...], object]]:
    """Every block and element of the last run (main area, sidebar, event container): (readable path with
    expander and tab labels, delta path such as ``(0, 3, 1)``: main area, 4th block, its 2nd child, node)."""
    root = at._tree
    for index in sorted(root.children):
        block = root.children[index]
        yield from _walk_block(block, getattr(block, "type", None) or f"root[{index}]", (index,))


def _walk_block(block, path: str, indices: tuple[int, ...]) -> Iterator[tuple[str, tuple[int, ...], object]]:
    for index in sorted(getattr(block, "children", None) or {}):
        node = block.children[index]
        kind = getattr(node, "type", None) or "block"
        if hasattr(node, "children"):
            label = str(getattr(node, "label", ""))
            label = label if len(label) <= 40 else label[:37] + "..."
            sub = f"{path} > {kind} {label!r}" if kind in ("expander", "tab", "status") else f"{path} > {kind}[{index}]"
            yield sub, indices + (index,), node
            yield from _walk_block(node, sub, indices + (index,))
        else:
            yield f"{path} > {kind}[{index}]", indices + (index,), node


def plotly_spec(node) -> dict:
    """A plotly chart element's figure JSON, typed arrays decoded to lists."""
    return decode_typed_arrays(json.loads(node.proto.spec))


def decode_typed_arrays(obj):
    """Plotly's base64 typed arrays (``{"dtype": "f8", "bdata": ..., "shape": "2, 3"}``) as nested lists."""
    if isinstance(obj, dict):
        if set(obj) >= {"dtype", "bdata"}:
            import base64

            import numpy as np

            array = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if obj.get("shape"):
                array = array.reshape([int(n) for n in str(obj["shape"]).split(",")])
            return array.tolist()
        return {key: decode_typed_arrays(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [decode_typed_arrays(value) for value in obj]
    return obj


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
    for _where, _indices, node in walk(at):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            out.extend(proto_strings(proto))
        if getattr(node, "type", "") in ("table", "dataframe", "arrow_data_frame"):
            try:
                out.extend(_frame_strings(node.value))
            except Exception:  # an element whose value cannot be read is still scanned as proto bytes
                pass
        if getattr(node, "type", "") == "plotly_chart":
            out.append(json.dumps(plotly_spec(node), ensure_ascii=False))
    return out


def payload_strings(data: bytes | str) -> list[str]:
    """A file's text: zip members (XLSX) one by one, anything else decoded as UTF-8."""
    if isinstance(data, str):
        return [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name).decode("utf-8", errors="replace") for name in archive.namelist()]
    return [data.decode("utf-8", errors="replace")]


def held_objects(fn: Callable | None) -> list:
    """What a deferred download callable holds (its closure and defaults): what PNG, SVG and PDF files draw."""
    held = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    return held + list(getattr(fn, "__defaults__", None) or ())


def _held_strings(fn: Callable) -> list[str]:
    """Text of what a deferred callable holds: figures, strings, objects with html."""
    out = []
    for obj in held_objects(fn):
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
    """One download button's file: its place on the page (delta path), name, type and content."""

    coordinates: tuple[int, ...]
    file_name: str
    mimetype: str
    data: bytes | str | None = None
    make: Callable | None = None  # deferred: what the button runs on click

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
        from streamlit.runtime.media_file_manager import MediaFileManager

        recorder = self
        add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

        def record_add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
            if is_for_static_download:
                recorder.downloads.append(Download(_indices(coordinates), file_name or "", mimetype or "",
                                                   data=path_or_data))
            return add(self, path_or_data, mimetype, coordinates, file_name=file_name,
                       is_for_static_download=is_for_static_download)

        def record_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
            recorder.downloads.append(Download(_indices(coordinates), file_name or "", mimetype or "",
                                               make=data_callable))
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


def _indices(coordinates: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(coordinates)))


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
