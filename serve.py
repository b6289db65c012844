"""Start the dashboard: ``streamlit run app.py``, with its libraries imported and the sample loaded first.

Usage (``make run`` does this; the browser tests and benchmarks start their servers the same way)::

    .venv/bin/python serve.py [streamlit run options, e.g. --server.port 8501]

Streamlit imports a page's modules, and reads the data, when the first browser session runs a
page: the first visitor of a fresh server waited about 1 s of server time (2 cores) for pandas,
pyarrow, scipy.special, plotly's figure classes and template, il2lib, and the reading and
validation of the bundled sample. This launcher does that work once, in the server process,
before the server starts listening (about 1-2 s), then hands over to Streamlit's own command
line: the server behaves exactly like ``streamlit run app.py`` (same options, same
``.streamlit/config.toml``, same caches: the data is loaded by the same cached call the pages
make), only its first page view is faster. Nothing else is computed ahead. With a server file
(``IL2_DASHBOARD_DATA``) that file is loaded instead of the sample (it is the same for every
session; a million patients take a few seconds, before the server answers its health check); a
registry is never preloaded (it loads on first use, as before). ``streamlit run app.py`` still
works, with the slower first view.

Temporary files in memory: Streamlit receives an upload with Starlette, which spools a body over
1 MiB to an unlinked file in Python's temp directory while it is parsed. Before anything else, this
launcher points the temp directory (``TMPDIR`` and ``tempfile.tempdir``, inherited by chromium and
kaleido) at a RAM-backed file system: ``$TMPDIR`` when the service sets it (systemd
``TemporaryFileSystem=/tmp:size=1G,mode=1777`` with ``TMPDIR=/tmp``), otherwise a private 0700
directory under ``/dev/shm``. It refuses to start when that directory is not on tmpfs/ramfs, or has
less room than one upload of ``server.maxUploadSize`` MB. ``streamlit run app.py`` makes no such check.

Memory after sessions: glibc keeps the heap that closed sessions freed, so the resident memory would
stay at the busiest moment's high-water mark. The launcher caps glibc at 2 heap arenas (unless
``MALLOC_ARENA_MAX`` is set) and, each time the runtime keeps fewer sessions than before, collects
their objects once and hands the freed heap back to the kernel with ``malloc_trim(0)``.
"""
from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

ROOT = Path(__file__).resolve().parent
APP = ROOT / "app.py"

#: Imported before the server starts: the libraries of every page's first run (pages import the rest).
WARM_MODULES = (
    "pandas",
    "pyarrow",
    "scipy.special",
    "plotly.graph_objects",
    "il2lib.validation.patients",
    "il2lib.validation.adverse_events",
    "il2lib.export.files",
    "il2lib.survival",
    "il2lib.figures.km",
)
#: Streamlit loggers that warn when caches are declared or used before the server runs (expected here).
_QUIET_LOGGERS = ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context")


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> float:
    """Import ``modules`` (the project root on ``sys.path``, as Streamlit puts it); return the seconds taken."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - start


def warm_figures() -> None:
    """Build one small Kaplan-Meier figure from made-up times: plotly imports its property validators
    and reads its template on first use (about 0.15 s), which the first page view would otherwise wait for."""
    from il2lib.figures.km import km_figure
    from il2lib.survival import kaplan_meier

    fit = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    km_figure({"a": fit, "b": fit}, title="warm-up", subtitle="warm-up")


def _drop_warnings(record: logging.LogRecord) -> bool:
    return record.levelno > logging.WARNING


@contextmanager
def _quiet_streamlit():
    """Silence the warnings Streamlit logs about caches used outside a running script (expected here)."""
    import streamlit  # noqa: F401  (creates the loggers)

    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    for lg in loggers:
        lg.addFilter(_drop_warnings)  # a filter, not a level: Streamlit resets levels when it reads its config
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(_drop_warnings)


def preload_data() -> str | None:
    """Load the default data (the server file, else the default sample) into the server's cache; say what
    was loaded (None: the server file could not be loaded, and its first page view says why)."""
    with _quiet_streamlit():
        from app_ui.data import preload_default_data

        loaded = preload_default_data()
    return f"{loaded.label} ({len(loaded.cohort.data):,} patients)" if loaded is not None else None


def warm_up() -> str:
    """Run the warm-up steps; return a one-line status. A failing step is reported, never fatal: the
    server then starts as plain ``streamlit run app.py`` would, and the page shows any real error."""
    start = time.perf_counter()
    try:
        warm_imports()
        warm_figures()
        data = preload_data()
    except Exception as exc:  # noqa: BLE001  (a warm-up must never keep the dashboard from starting)
        return f"Warm-up stopped ({type(exc).__name__}: {exc}); starting Streamlit."
    loaded = f" and loaded {data}" if data else ""
    return f"Imported the dashboard's libraries{loaded} in {time.perf_counter() - start:.1f} s; starting Streamlit."


# ------------------------------------------------------------------------------ temp files in memory
#: File systems whose files live in memory (and swap), never on a disk of their own.
RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
SHM = Path("/dev/shm")
#: Streamlit's default ``server.maxUploadSize`` (MB) when no config file, variable or flag sets it.
DEFAULT_UPLOAD_MB = 200
UPLOAD_OPTION = "server.maxUploadSize"
UPLOAD_ENV = "STREAMLIT_SERVER_MAX_UPLOAD_SIZE"
MIB = 1024 * 1024
MORE_ROOM = ("Give it more memory (Docker: --shm-size=1g; systemd: TemporaryFileSystem=/tmp:size=1G,mode=1777 "
             "with Environment=TMPDIR=/tmp), or lower server.maxUploadSize in .streamlit/config.toml.")


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str


def parse_mounts(text: str) -> list[Mount]:
    """The mount points and file-system types of a ``/proc/mounts`` table, in order (octal escapes decoded)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
            mounts.append(Mount(point, fields[2]))
    return mounts


def mount_of(path: str, mounts: Sequence[Mount]) -> Mount | None:
    """The mount holding ``path`` (absolute, symlinks resolved): the longest mount point that is a prefix
    of it; of equal ones the last, which hides the earlier."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        if path == point or point == "/" or path.startswith(point + "/"):
            if best is None or len(point) >= len(best.point.rstrip("/") or "/"):
                best = mount
    return best


def temp_dir_problem(path: str, mounts: Sequence[Mount], free_bytes: int, upload_mb: int) -> str:
    """Why ``path`` cannot hold uploads while they are received ("" when it can): it must be on a RAM
    file system with room for one upload of ``upload_mb`` MB (``server.maxUploadSize``)."""
    mount = mount_of(path, mounts)
    if mount is None:
        return (f"Cannot tell whether the temporary directory {path} is in memory (no mount table: this check "
                "needs Linux). Uploads over 1 MB are written there while they are received.")
    if mount.fstype not in RAM_FILESYSTEMS:
        return (f"The temporary directory {path} is on disk (file system type {mount.fstype}), not in memory: "
                "uploads over 1 MB would be written there while they are received. Set TMPDIR to a directory "
                "on tmpfs (systemd: TemporaryFileSystem=/tmp:size=1G,mode=1777 with Environment=TMPDIR=/tmp), "
                "or leave TMPDIR unset to use /dev/shm.")
    if free_bytes < upload_mb * MIB:
        return (f"The in-memory temporary directory {path} has {free_bytes // MIB:,} MB free, less than one upload "
                f"of server.maxUploadSize = {upload_mb} MB. " + MORE_ROOM)
    return ""


def _flag_value(args: Sequence[str], option: str) -> str | None:
    """The value of ``--option VALUE`` or ``--option=VALUE`` in a command line (the last one wins)."""
    value = None
    for i, arg in enumerate(args):
        if arg == f"--{option}" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(f"--{option}="):
            value = arg.split("=", 1)[1]
    return value


def upload_limit_mb(args: Sequence[str], environ: Mapping[str, str], config_files: Sequence[Path]) -> int:
    """``server.maxUploadSize`` as Streamlit will read it: command-line flag, then environment variable,
    then the config files (later files win), then Streamlit's default."""
    for raw in (_flag_value(args, UPLOAD_OPTION), environ.get(UPLOAD_ENV)):
        if raw:
            return int(raw)
    limit = DEFAULT_UPLOAD_MB
    for path in config_files:
        if path.is_file():
            value = tomllib.loads(path.read_text(encoding="utf-8")).get("server", {}).get("maxUploadSize")
            limit = int(value) if value is not None else limit
    return limit


def streamlit_config_files() -> list[Path]:
    """Where ``streamlit run app.py`` reads config.toml: home, working directory, next to app.py."""
    files = [Path.home() / ".streamlit" / "config.toml", Path.cwd() / ".streamlit" / "config.toml",
             ROOT / ".streamlit" / "config.toml"]
    return list(dict.fromkeys(files))


def use_ram_temp_dir(args: Sequence[str]) -> str:
    """Point this process's temp directory (and its children's) at memory; return a one-line status.
    Raise SystemExit with the reason when no such directory can take an upload."""
    configured = os.environ.get("TMPDIR", "").strip()
    created = False
    if configured:
        path = configured
    elif SHM.is_dir():
        path, created = tempfile.mkdtemp(prefix="il2dash-", dir=SHM), True  # mode 0700
    else:
        raise SystemExit("Not starting: /dev/shm does not exist and TMPDIR is not set. Set TMPDIR to a "
                         "directory on tmpfs (systemd: TemporaryFileSystem=/tmp:size=1G,mode=1777 with "
                         "Environment=TMPDIR=/tmp).")
    real = os.path.realpath(path)
    try:
        mounts = parse_mounts(Path("/proc/self/mounts").read_text())
    except OSError:
        mounts = []
    limit = upload_limit_mb(args, os.environ, streamlit_config_files())
    try:
        stats = os.statvfs(real)
    except OSError as exc:
        free, problem = 0, f"The temporary directory {path} cannot be used ({exc.strerror}). Set TMPDIR to a " \
                           "directory on tmpfs."
    else:
        free = stats.f_bavail * stats.f_frsize
        problem = temp_dir_problem(real, mounts, free, limit)
    if problem:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise SystemExit(f"Not starting: {problem}")
    if created:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["TMPDIR"] = path
    tempfile.tempdir = path
    os.environ["IL2_TEMP_IN_MEMORY"] = "1"  # the Data page then says that uploads pass through memory
    return f"Temporary files go to {path} (in memory, {free // MIB:,} MB free; uploads up to {limit} MB)."


# ------------------------------------------------------------------------------ memory after sessions
#: glibc's ``mallopt`` parameter for the number of heap arenas (``M_ARENA_MAX`` in malloc.h).
M_ARENA_MAX = -8
#: Heap arenas when the service environment does not set ``MALLOC_ARENA_MAX``: glibc's default is
#: 8 per core, and each arena keeps its own freed memory.
HEAP_ARENAS = 2
#: Seconds between looks at the runtime's session list.
SESSION_CHECK_S = 5.0


def _glibc():
    """The C library when it is glibc (``malloc_trim`` and ``mallopt``), else None (musl, macOS)."""
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def limit_heap_arenas(environ: Mapping[str, str] = os.environ) -> bool:
    """Cap glibc's heap arenas before any server thread allocates (``MALLOC_ARENA_MAX`` wins when set);
    True when glibc took the cap."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in environ:
        return False
    return libc.mallopt(M_ARENA_MAX, HEAP_ARENAS) == 1


def _listed_sessions() -> int | None:
    """Sessions the runtime keeps, after its store dropped those past ``disconnectedSessionTTL``
    (Streamlit's store only drops them on its next write or length query)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    manager = Runtime.instance()._session_mgr
    with manager._storage_lock:
        len(manager._session_storage._cache)
    return len(manager.list_sessions())


def return_freed_memory(check_s: float = SESSION_CHECK_S) -> None:
    """Forever: whenever the runtime keeps fewer sessions than at the last look, collect their
    objects (one full collection: sessions hold reference cycles, and Streamlit's collection after
    every run is off) and give the heap glibc freed back to the kernel (``malloc_trim(0)``; ctypes
    releases the interpreter lock for it). Without this the resident memory stays at the high-water
    mark of the busiest moment."""
    libc = _glibc()
    if libc is None:
        return
    seen = None
    while True:
        time.sleep(check_s)
        try:
            now = _listed_sessions()
        except Exception:  # noqa: BLE001  (a Streamlit internal moved: stop trimming, never the server)
            return
        if now is not None and seen is not None and now < seen:
            gc.collect()
            libc.malloc_trim(0)
        seen = now


def main(argv: list[str] | None = None) -> None:
    """Put temp files in memory, warm up, then run ``streamlit run app.py <argv>`` in this process."""
    args = sys.argv[1:] if argv is None else argv
    limit_heap_arenas()
    print(use_ram_temp_dir(args), flush=True)
    print(warm_up(), flush=True)
    from streamlit.web import cli

    threading.Thread(target=return_freed_memory, daemon=True, name="return-freed-memory").start()
    cli.main(args=["run", str(APP), *args], prog_name="streamlit")


if __name__ == "__main__":
    main()
