"""Headless chromium for the PNG, SVG and PDF exports: shared browsers, a queue, the sandbox.

* One browser per kind and process: kaleido's chromium draws every figure (:mod:`il2lib.export.files`),
  another prints every report (:mod:`il2lib.report.pdf`). Each starts on its first export, stays open
  for the next ones, closes after :data:`IDLE_CLOSE_SECONDS` without exports and at process exit.
* At most ``IL2_EXPORT_SLOTS`` exports (default 2) run at once, figures and PDFs together; the others
  wait in line, first come first served (:class:`ExportSlots`).
* chromium runs with its sandbox whenever the process is not root. ``--no-sandbox`` only as root
  (chromium refuses the sandbox there) or when the administrator sets ``IL2_CHROMIUM_NO_SANDBOX=1``.
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from il2lib.errors import Il2libError

#: Environment variable: how many exports may run at once (figures and PDFs together).
SLOTS_ENV = "IL2_EXPORT_SLOTS"
DEFAULT_SLOTS = 2
MAX_SLOTS = 16
#: Environment variable: ``1`` runs chromium without its sandbox even when the process is not root.
NO_SANDBOX_ENV = "IL2_CHROMIUM_NO_SANDBOX"
#: How long an export waits for a free slot before it gives up.
SLOT_WAIT_SECONDS = 600.0
#: The shared browsers close after this long without an export (they start again on the next one).
IDLE_CLOSE_SECONDS = 600.0

_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


class ExportBrowserError(Il2libError, RuntimeError):
    """A figure or PDF export could not run (chromium missing or failing, all slots busy, bad setting)."""


def export_slot_count(environ: Mapping[str, str] | None = None) -> int:
    """How many exports may run at once: ``IL2_EXPORT_SLOTS`` (1 to 16), 2 when unset."""
    raw = (os.environ if environ is None else environ).get(SLOTS_ENV, "").strip()
    if not raw:
        return DEFAULT_SLOTS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SLOTS:
        raise ExportBrowserError(f"The export setting {SLOTS_ENV}={raw!r} is not understood. Ask the administrator "
                                 f"to set it to a whole number from 1 to {MAX_SLOTS}, or to remove it (2 at once).")
    return int(raw)


def use_sandbox(environ: Mapping[str, str] | None = None, euid: int | None = None) -> bool:
    """Whether chromium runs with its sandbox: yes unless the process is root or ``IL2_CHROMIUM_NO_SANDBOX=1``.

    chromium refuses to run as root with its sandbox (it exits at start), so root always gets
    ``--no-sandbox``; any other user gets the sandbox unless the administrator opts out.
    """
    raw = (os.environ if environ is None else environ).get(NO_SANDBOX_ENV, "").strip().lower()
    if raw in _TRUE:
        return False
    if raw not in _FALSE:
        raise ExportBrowserError(f"The export setting {NO_SANDBOX_ENV}={raw!r} is not understood. Ask the "
                                 "administrator to set it to 1 (chromium without its sandbox) or to remove it.")
    return (os.geteuid() if euid is None else euid) != 0


def sandbox_failure(what: str) -> str:
    """The message shown when chromium cannot start with its sandbox; it names the opt-out."""
    return (f"The {what} could not be made: chromium, which draws it, could not start its security sandbox on "
            f"this server. Ask the administrator to allow the sandbox (unprivileged user namespaces; see "
            f"docs/hospital-deployment.md, \"Exports\") or to turn it off with the environment variable "
            f"{NO_SANDBOX_ENV}=1 for the dashboard service.")


# ------------------------------------------------------------------------------------- the queue
_progress = threading.local()


@contextmanager
def reporting_to(callback: Callable[[str, int], None]) -> Iterator[None]:
    """Exports run by this thread inside the block call ``callback(state, ahead)``.

    ``state`` is ``"queued"`` (``ahead`` exports are in line before this one) or ``"running"``
    (``ahead`` is 0). The callback runs while the queue's lock is held: it must only store values.
    """
    previous = getattr(_progress, "callback", None)
    _progress.callback = callback
    try:
        yield
    finally:
        _progress.callback = previous


class ExportSlots:
    """At most ``size`` exports at once; the others wait in line, first come first served."""

    def __init__(self, size: int, on_busy: Callable[[], None] | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
        """``on_busy`` runs when an export takes a slot, ``on_idle`` when the last one ends with none waiting."""
        if size < 1:
            raise ValueError("an export queue needs at least one slot")
        self.size = size
        self._on_busy, self._on_idle = on_busy, on_idle
        self._cond = threading.Condition()
        self._in_use = 0
        self._line: deque[object] = deque()
        self._peak_in_use = 0

    @property
    def in_use(self) -> int:
        """Exports running now."""
        return self._in_use

    @property
    def waiting(self) -> int:
        """Exports waiting for a slot now."""
        return len(self._line)

    @property
    def peak_in_use(self) -> int:
        """The most exports that ever ran at the same time in this queue."""
        return self._peak_in_use

    @contextmanager
    def hold(self, timeout: float = SLOT_WAIT_SECONDS) -> Iterator[None]:
        """Wait for a free slot (at most ``timeout`` seconds), run the block in it, free it."""
        callback = getattr(_progress, "callback", None)
        turn = object()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._line.append(turn)
            try:
                while self._line[0] is not turn or self._in_use >= self.size:
                    if callback:
                        callback("queued", self._line.index(turn) + self._in_use)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ExportBrowserError(
                            f"All {self.size} export slots stayed busy for {_duration(timeout)}. Try again "
                            f"later, or ask the administrator to raise {SLOTS_ENV} (now {self.size}).")
                    self._cond.wait(left)
            except BaseException:
                self._line.remove(turn)
                self._cond.notify_all()
                raise
            self._line.popleft()
            self._in_use += 1
            self._peak_in_use = max(self._peak_in_use, self._in_use)
            if self._on_busy:
                self._on_busy()
            self._cond.notify_all()
        if callback:
            callback("running", 0)
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= 1
                if not self._in_use and not self._line and self._on_idle:
                    self._on_idle()
                self._cond.notify_all()

    def run_if_idle(self, action: Callable[[], None]) -> bool:
        """Run ``action`` if no export runs or waits; no export can start until it returns."""
        with self._cond:
            if self._in_use or self._line:
                return False
            action()
            return True


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} second{'s' if round(seconds) != 1 else ''}"


# ------------------------------------------------------------------------- shared browsers' life
class _Activity:
    """The process-wide queue and the shared browsers' closers, with the idle and exit shutdowns."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.slots: ExportSlots | None = None
        self.closers: list[Callable[[], None]] = []
        self.timer: threading.Timer | None = None
        self.exit_hook = False

    def cancel_idle_close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def schedule_idle_close(self) -> None:
        self.cancel_idle_close()
        self.timer = threading.Timer(IDLE_CLOSE_SECONDS, self._close_if_idle)
        self.timer.daemon = True
        self.timer.start()

    def _close_if_idle(self) -> None:
        if self.slots is not None:
            self.slots.run_if_idle(close_browsers)


_activity = _Activity()


def slots() -> ExportSlots:
    """The process-wide export queue (its size is read from ``IL2_EXPORT_SLOTS`` on first use)."""
    with _activity.lock:
        if _activity.slots is None:
            _activity.slots = ExportSlots(export_slot_count(), on_busy=_activity.cancel_idle_close,
                                          on_idle=_activity.schedule_idle_close)
        return _activity.slots


def register_browser(close: Callable[[], None]) -> None:
    """Register a shared browser's ``close`` for :func:`close_browsers` (idle time, process exit).

    The exit hook is registered here, after the browser made its temporary folders: exit hooks run
    last-registered first, so the browser closes before Python removes those folders.
    """
    with _activity.lock:
        if close not in _activity.closers:
            _activity.closers.append(close)
        if not _activity.exit_hook:
            atexit.register(shutdown)
            _activity.exit_hook = True


def close_browsers() -> None:
    """Close every shared browser now; the next export starts a fresh one."""
    with _activity.lock:
        closers = list(_activity.closers)
    for close in closers:
        try:
            close()
        except Exception:  # noqa: BLE001 - one browser failing to close must not keep the other open
            pass


def shutdown() -> None:
    """Close the shared browsers and forget the queue (its size is read again on the next export).

    Runs at process exit. Call it only when no export is running.
    """
    with _activity.lock:
        _activity.cancel_idle_close()
        close_browsers()
        _activity.slots = None
