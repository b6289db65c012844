"""A minimal Streamlit websocket client (the browser's protocol, no browser) for the load test.

It speaks what the Streamlit 1.67 frontend speaks: the XSRF cookie from ``/_stcore/health``,
the ``/_stcore/stream`` websocket (subprotocols ``streamlit, <xsrf token>``), ``BackMsg``
protobufs (``rerun_script`` with widget states, ``file_urls_request``) and a multipart ``PUT``
to the upload URL the server hands out. It records every element of the last run, so a caller
can read the page as text and check that no other session's data reached it.
"""
from __future__ import annotations

import asyncio
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

XSRF_COOKIE = "_streamlit_xsrf"
TEXT_FIELDS = {"markdown": "body", "alert": "body", "heading": "body", "text": "body", "exception": "message",
               "metric": "body", "code": "code_text"}
MAIN_PAGE = "__main__"
WIDGETS = ("radio", "multiselect", "file_uploader", "selectbox", "checkbox", "button", "slider")


class ProtocolError(RuntimeError):
    """The server answered something a browser would treat as a failure."""


@dataclass
class RunResult:
    """What one script run drew."""

    elements: list = field(default_factory=list)  # (type, proto) in delta order
    raw: bytearray = field(default_factory=bytearray)  # every ForwardMsg byte of the run
    seconds: float = 0.0

    def texts(self) -> list[str]:
        out = []
        for kind, element in self.elements:
            if kind in TEXT_FIELDS:
                out.append(getattr(getattr(element, kind), TEXT_FIELDS[kind]))
            if kind == "metric":
                out.append(f"{element.metric.label}: {element.metric.body}")
        return out

    def exceptions(self) -> list[str]:
        return [f"{e.exception.type}: {e.exception.message}" for k, e in self.elements if k == "exception"]

    def widget(self, kind: str, label_pattern: str):
        """The first widget of this kind whose label matches (regex, case-insensitive)."""
        for k, element in self.elements:
            if k == kind and re.search(label_pattern, getattr(element, kind).label, re.I):
                return getattr(element, kind)
        raise ProtocolError(f"no {kind} labelled /{label_pattern}/ on the page")

    def n_summary(self) -> tuple[int, int]:
        """The frame's ``n = X of Y patients`` line."""
        for text in self.texts():
            match = re.search(r"n = ([\d,]+) of ([\d,]+) patients", text)
            if match:
                return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))
        raise ProtocolError("no 'n = X of Y patients' summary on the page")


class StreamlitClient:
    """One browser tab's worth of protocol: connect, rerun with widget states, upload, switch page."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session_id = ""
        self.pages: dict[str, str] = {}  # page name -> script hash
        self.page_hash = ""
        self.main_page_hash = ""
        self.states: dict[str, WidgetState] = {}  # widget id -> state the "browser" keeps sending
        self._ws = None
        self._cookie = ""
        self._responses: dict[str, ForwardMsg] = {}

    async def __aenter__(self) -> "StreamlitClient":
        self._cookie = await asyncio.to_thread(self._xsrf_cookie)
        ws_url = self.base_url.replace("http://", "ws://") + "/_stcore/stream"
        self._ws = await connect(ws_url, subprotocols=[Subprotocol("streamlit"), Subprotocol(self._cookie)],
                                 additional_headers={"Cookie": f"{XSRF_COOKIE}={self._cookie}",
                                                     "Origin": self.base_url},
                                 max_size=None, open_timeout=self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._ws is not None:
            await self._ws.close()

    def _xsrf_cookie(self) -> str:
        with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=self.timeout) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                if name.strip() == XSRF_COOKIE:
                    return rest.split(";", 1)[0]
        raise ProtocolError("the server set no XSRF cookie")

    async def run(self, page: str | None = None) -> RunResult:
        """Rerun the script with the current widget states; ``page``: a page name from ``self.pages``,
        ``MAIN_PAGE`` for the entry script, None to stay where the last run ended."""
        if page == MAIN_PAGE:
            self.page_hash = self.main_page_hash
        elif page is not None:
            self.page_hash = self.pages[page]
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.widget_states.widgets.extend(self.states.values())
        await self._ws.send(msg.SerializeToString())
        return await self._receive_run()

    async def _receive_run(self) -> RunResult:
        result, started = RunResult(), time.perf_counter()
        while True:
            raw = await asyncio.wait_for(self._ws.recv(), self.timeout)
            fwd = ForwardMsg.FromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                result = RunResult()
                self._read_new_session(fwd)
            result.raw += raw
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                result.elements.append((element.WhichOneof("type"), element))
            elif kind == "file_urls_response":
                self._responses[fwd.file_urls_response.response_id] = fwd
            elif kind == "session_event" and fwd.session_event.WhichOneof("type") == "script_compilation_exception":
                raise ProtocolError(f"script compilation error: {fwd.session_event}")
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("script finished with a compile error")
                if fwd.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    result.seconds = time.perf_counter() - started
                    self._forget_vanished_widgets(result)
                    return result

    def _read_new_session(self, fwd: ForwardMsg) -> None:
        new = fwd.new_session
        self.session_id = new.initialize.session_id or self.session_id
        for page in new.app_pages:
            self.pages[page.page_name] = page.page_script_hash
        self.page_hash = new.page_script_hash or self.page_hash
        self.main_page_hash = new.main_script_hash or self.main_page_hash

    def _forget_vanished_widgets(self, result: RunResult) -> None:
        present = {getattr(e, k).id for k, e in result.elements if k in WIDGETS}
        self.states = {wid: s for wid, s in self.states.items() if wid in present}

    def set_string(self, widget, value: str) -> None:
        self.states[widget.id] = WidgetState(id=widget.id, string_value=value)

    def set_strings(self, widget, values: list[str]) -> None:
        state = WidgetState(id=widget.id)
        state.string_array_value.data.extend(values)
        self.states[widget.id] = state

    async def upload_patient_file(self, name: str, data: bytes) -> RunResult:
        """On the Data page, choose "My upload" as the data source, upload ``name`` as the patient file
        and rerun: what the page drew with the file."""
        run = await self.run()
        source = run.widget("radio", "data source")
        choice = next((o for o in source.options if "upload" in o.lower()), None)
        if choice is None:
            raise ProtocolError(f"no upload choice among the data sources {list(source.options)}")
        self.set_string(source, choice)
        run = await self.run()
        await self.upload(run.widget("file_uploader", "patient file"), name, data)
        return await self.run()

    async def upload(self, widget, name: str, data: bytes) -> None:
        """Ask for an upload URL, PUT the file (multipart, XSRF header), then set the widget's state."""
        request_id = uuid.uuid4().hex
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self._ws.send(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout
        while request_id not in self._responses:
            if time.monotonic() > deadline:
                raise ProtocolError("no file_urls_response")
            raw = await asyncio.wait_for(self._ws.recv(), self.timeout)
            fwd = ForwardMsg.FromString(raw)
            if fwd.WhichOneof("type") == "file_urls_response":
                self._responses[fwd.file_urls_response.response_id] = fwd
        response = self._responses.pop(request_id).file_urls_response
        if response.error_msg:
            raise ProtocolError(f"file URL request refused: {response.error_msg}")
        urls: FileURLs = response.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        state = WidgetState(id=widget.id)
        state.file_uploader_state_value.uploaded_file_info.append(
            UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls))
        self.states[widget.id] = state

    def _put(self, upload_url: str, name: str, data: bytes) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        url = upload_url if upload_url.startswith("http") else f"{self.base_url}{upload_url}"
        request = urllib.request.Request(url, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self._cookie,
            "Cookie": f"{XSRF_COOKIE}={self._cookie}", "Origin": self.base_url})
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            if answer.status not in (200, 204):
                raise ProtocolError(f"upload answered HTTP {answer.status}")
