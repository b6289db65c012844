"""A large upload passes through the server's temp directory in memory (tmpfs), never on a disk.

Streamlit 1.67 parses an upload with Starlette, whose ``SpooledTemporaryFile`` moves a multipart body
over 1 MiB into an unlinked file in Python's temp directory while the body arrives. ``serve.py`` (which
starts the fixture's server, as ``make run`` and the systemd unit do) points that directory at tmpfs.

Checked on the real server, from outside the process (``/proc/<pid>``):

* the temp directory the launcher reports in the server log is on a RAM file system (tmpfs/ramfs), by
  the server's own mount table (``/proc/<pid>/mounts``: longest mount point that is a prefix of the
  path), and private (mode 0700). ``/proc/<pid>/environ`` cannot show it: it holds the environment the
  process was started with, and the launcher sets ``TMPDIR`` in its own environment afterwards;
* a CSV of about 2.5 MB uploaded through the Data page's file input in Chromium: while it is received,
  the server holds a descriptor on an unlinked file (``/proc/<pid>/fd/N -> "<dir>/#inode (deleted)"``),
  and ``<dir>`` is that ``TMPDIR``, on tmpfs. The spooled file lives only while the body arrives
  (milliseconds on loopback), so the upload is throttled with Chromium's DevTools network emulation
  (``uploadThroughput`` 256 kB/s: about 10 s per upload) and a thread polls ``/proc/<pid>/fd`` every few ms.
  Not seeing the descriptor at all fails the test (it would otherwise pass without looking at the file).
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from . import ui
from .server import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import serve  # noqa: E402  (its mount-table reading is what the launcher checks)

SAMPLE = ROOT / "sample_data" / "proclaim_synthetic.csv"
UPLOAD_BYTES = 2_500_000
SPOOL_LIMIT = 1024 * 1024  # Starlette's MultiPartParser spool_max_size
UPLOAD_BYTES_PER_S = 256 * 1024


def _big_csv(path: Path) -> tuple[Path, int]:
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame["free_text_notes"] = "x" * (UPLOAD_BYTES // len(frame))
    frame.to_csv(path, index=False)
    assert path.stat().st_size > 2 * SPOOL_LIMIT, "too small to be spooled to a temporary file"
    return path, len(frame)


def _server_tmpdir(server) -> str:
    """The temp directory serve.py reports ("Temporary files go to <dir> (in memory, ...").)"""
    match = re.search(r"Temporary files go to (\S+) \(in memory", server.log_tail(200_000))
    assert match, "the launcher did not report its temp directory:\n" + server.log_tail()
    return match.group(1)


def _mount_type(pid: int, path: str) -> str:
    mount = serve.mount_of(os.path.realpath(path), serve.parse_mounts(Path(f"/proc/{pid}/mounts").read_text()))
    return mount.fstype if mount else "?"


def _deleted_files(pid: int) -> set[str]:
    """Targets of the server's descriptors on unlinked regular files (" (deleted)"), memfds left out."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.endswith(" (deleted)") and target.startswith("/") and not target.startswith("/memfd:"):
            found.add(target.removesuffix(" (deleted)"))
    return found


class _FdWatch(threading.Thread):
    """Polls the server's descriptors until stopped; keeps every unlinked file that was not there before."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.before = pid, _deleted_files(pid)
        self.seen: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen |= _deleted_files(self.pid) - self.before
            self.stop.wait(0.003)


def test_server_temp_dir_is_in_memory_and_private(streamlit_server):
    pid = streamlit_server.process.pid
    tmpdir = _server_tmpdir(streamlit_server)
    assert _mount_type(pid, tmpdir) in serve.RAM_FILESYSTEMS, f"TMPDIR {tmpdir} is on {_mount_type(pid, tmpdir)}"
    if not os.environ.get("TMPDIR"):  # the launcher made its own directory under /dev/shm
        assert tmpdir.startswith("/dev/shm/il2dash-") and os.stat(tmpdir).st_mode & 0o777 == 0o700


def test_large_upload_is_spooled_to_tmpfs_only(page, streamlit_server, tmp_path):
    pid = streamlit_server.process.pid
    tmpdir = os.path.realpath(_server_tmpdir(streamlit_server))
    path, n_rows = _big_csv(tmp_path / "large_upload.csv")
    ui.choose_radio(page, "Data source", "My upload")

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": UPLOAD_BYTES_PER_S})
    watch = _FdWatch(pid)
    watch.start()
    started = time.monotonic()
    try:
        page.locator(ui.UPLOAD_INPUT).first.set_input_files(str(path))
        ui.eventually(lambda: _assert_loaded(page, path.name), timeout_s=120, interval_s=0.5)
    finally:
        watch.stop.set()
        watch.join()
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": -1})
    elapsed = time.monotonic() - started
    ui.settle(page)
    assert ui.metric(page, "Rows loaded") == str(n_rows)

    assert watch.seen, (f"no spooled temporary file seen during a {elapsed:.1f} s upload of "
                        f"{path.stat().st_size:,} bytes (was the upload throttled?)")
    for spooled in watch.seen:
        folder = os.path.dirname(spooled)
        assert os.path.realpath(folder) == tmpdir, f"spooled to {spooled}, outside the server's TMPDIR {tmpdir}"
        assert _mount_type(pid, folder) in serve.RAM_FILESYSTEMS, f"{spooled} is on {_mount_type(pid, folder)}"
    assert not (_deleted_files(pid) & watch.seen), "the spooled file is still open after the upload"


def _assert_loaded(page, name: str) -> None:
    assert f"In this session: {name}" in ui.page_text(page)
