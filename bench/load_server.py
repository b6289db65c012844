"""The dashboard's launcher (``serve.py``) with a session census, for ``bench/load_test.py`` only.

The load test talks to a separate server process, so it cannot see which session objects are still
alive there. This wrapper runs ``serve.main()`` unchanged in this process (same options, same warm-up,
same config) and adds two daemon threads, nothing in the app or in il2lib:

* every ``IL2_BENCH_CENSUS_INTERVAL`` seconds (default 1) a cheap line: sessions the runtime still
  lists (connected, and disconnected ones kept for ``server.disconnectedSessionTTL``), the connected
  ones, the sessions with uploaded files in Streamlit's upload store, and the longest GIL wait a
  10 ms sleeper thread saw in that second, with where the threads were after each wait over 0.25 s
  (:class:`GilProbe`);
* on ``SIGUSR1`` (sent by the load test after the sessions closed and the TTL passed) a full census:
  ``gc.collect()``, then the count of live objects whose type is one of ``CENSUS_TYPES`` (found with
  ``gc.get_objects()``: anything still referenced after a full collection is retained); then the same
  count after the session store dropped its expired entries (see ``full_census``), and the count of
  those no unlisted session holds (``_outside``: an upload there is kept by something else); the chains of
  referrers of the sessions and uploads still alive; where the resident memory is (glibc's heap,
  Python's arenas, Arrow's pool, Streamlit's caches); the most numerous object types. With
  ``IL2_BENCH_TRIM_PROBE`` set, also the RSS before and after ``malloc_trim(0)`` (diagnosis only: it
  changes the process).

Lines are JSON, appended to the file named by ``IL2_BENCH_CENSUS`` (required).

With ``IL2_BENCH_PROFILE`` set to a file name, every script run is profiled too (cProfile on the CPU time of its
thread; :class:`ScriptProfile`): the runs' stats are added up and written to that file (pstats format) at each
full census. ``IL2_BENCH_PROFILE=/tmp/runs.prof make load-test``, then
``python -c "import pstats; pstats.Stats('/tmp/runs.prof').sort_stats('cumulative').print_stats(40)"``. The
profiler slows the runs: its timings are for the shares, not for the step times.

    IL2_BENCH_CENSUS=bench/results/census.jsonl .venv/bin/python bench/load_server.py --server.port 8502
"""
from __future__ import annotations

import cProfile
import ctypes
import gc
import json
import os
import pstats
import re
import signal
import sys
import tempfile
import threading
import time
import types
import weakref
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Per-session objects of Streamlit, the app's copy of an upload and pandas frames (a session's cohort
#: is a DataFrame): label -> the class's module and qualified name (Streamlit and the app both have an
#: ``UploadedFile``).
CENSUS_TYPES = {
    "AppSession": "streamlit.runtime.app_session.AppSession",
    "SessionState": "streamlit.runtime.state.session_state.SessionState",
    "ScriptRunner": "streamlit.runtime.scriptrunner.script_runner.ScriptRunner",
    "UploadedFile": "streamlit.runtime.uploaded_file_manager.UploadedFile",
    "UploadedFileRec": "streamlit.runtime.uploaded_file_manager.UploadedFileRec",
    "app UploadedFile": "app_ui.data.UploadedFile",
    "DataFrame": "pandas.core.frame.DataFrame",
}


def _runtime():
    """Streamlit's runtime once the server has made it (never imported from here: an import from this thread while
    the main thread imports Streamlit can meet a partly initialised module)."""
    module = sys.modules.get("streamlit.runtime.runtime")
    runtime = getattr(module, "Runtime", None)
    return runtime.instance() if runtime is not None and runtime.exists() else None


def light_census(runtime) -> dict:
    mgr = runtime._session_mgr
    files = getattr(runtime._uploaded_file_mgr, "file_storage", {})
    return {"listed_sessions": len(mgr.list_sessions()), "active_sessions": len(mgr.list_active_sessions()),
            "sessions_with_files": sum(1 for v in list(files.values()) if v)}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _alive() -> dict:
    gc.collect()
    counts = Counter(_qualname(type(o)) for o in gc.get_objects())
    return {label: counts.get(name, 0) for label, name in CENSUS_TYPES.items()}


def object_types(limit: int = 80) -> dict:
    """The most numerous object types tracked by gc (the load test compares them between censuses)."""
    return dict(Counter(_qualname(type(o)) for o in gc.get_objects()).most_common(limit))


def weak_references(top: int = 8) -> dict:
    """What the live weak references point to (type of the referent, or dead), and who keeps the
    newest dead ones (chains of referrers): dead references that pile up are retained somewhere."""
    refs = [o for o in gc.get_objects() if type(o) is weakref.ReferenceType]
    targets = Counter(_qualname(type(r())) if r() is not None else "(dead)" for r in refs)
    dead = [r for r in refs if r() is None][-2:]  # the newest are last in gc's list
    del refs
    # pandas' copy-on-write bookkeeping: each shared array keeps weak references to the blocks and indexes
    # made from it, and drops the dead ones once it holds more than a threshold (pandas/_libs/internals.pyx)
    lists = [o.referenced_blocks for o in gc.get_objects() if type(o).__name__ == "BlockValuesRefs"]
    return {"count": sum(targets.values()), "targets": dict(targets.most_common(top)),
            "newest_dead_kept_by": _chains(dead),
            "pandas_block_refs": {"objects": len(lists), "references": sum(len(x) for x in lists),
                                  "dead": sum(1 for x in lists for r in x if r() is None),
                                  "longest": max((len(x) for x in lists), default=0)}}


def full_census(runtime) -> dict:
    """Live objects after a full collection; then again after the session store dropped its expired
    entries (Streamlit's TTL store only drops them on its next write or length query, so until
    another session disconnects it still holds the last ones: held, not leaked)."""
    alive = _alive()
    mgr = runtime._session_mgr
    cache = getattr(getattr(mgr, "_session_storage", None), "_cache", None)
    held = len(getattr(cache, "_data", ()))
    if cache is not None:
        with mgr._storage_lock:
            len(cache)  # the store's own reaping of expired sessions
    alive_after_reap = _alive()
    unlisted = _unlisted_sessions(runtime)
    n_unlisted, outside = len(unlisted), _or_error(_outside, runtime, unlisted, alive_after_reap)
    del unlisted  # or the chains below would show this list as one more holder
    out = {"alive": alive, "held_by_session_store": held, "alive_after_reap": alive_after_reap,
           "unlisted_sessions": n_unlisted, "alive_outside_unlisted_sessions": outside,
           "after_reap": light_census(runtime),
           "referrers": {label: _or_error(referrer_chains, CENSUS_TYPES[label])
                         for label in ("AppSession", "UploadedFile", "app UploadedFile")},
           "memory": _or_error(memory_breakdown, runtime), "object_types": object_types(),
           "weak_references": _or_error(weak_references)}
    if os.environ.get("IL2_BENCH_TRIM_PROBE"):
        out["trim_probe"] = _or_error(trim_probe)
    return out


def _unlisted_sessions(runtime) -> list:
    """AppSessions alive that the runtime lists neither as connected nor as kept for reconnection
    (Streamlit's flush loop keeps the last session it flushed in a local variable: one of them)."""
    listed = {id(info.session) for info in runtime._session_mgr.list_sessions()}
    return [o for o in gc.get_objects()
            if _qualname(type(o)) == CENSUS_TYPES["AppSession"] and id(o) not in listed]


#: Where a walk through a session's own objects stops: code, modules, classes and other sessions.
_NOT_SESSION_DATA = (types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                     types.CodeType, types.FrameType, type)


def _outside(runtime, sessions: list, alive: dict, limit: int = 500_000) -> dict:
    """Per census type, the live objects that none of ``sessions`` holds: neither in its session state
    (walked through containers, never into code, modules or another session) nor among its files in
    Streamlit's upload store. An upload alive outside every session is retained by something else."""
    stop = {CENSUS_TYPES["AppSession"], "streamlit.runtime.runtime.Runtime"}
    roots = [session._session_state for session in sessions]
    files = getattr(runtime._uploaded_file_mgr, "file_storage", {})
    roots += [files[session.id] for session in sessions if session.id in files]
    seen, todo = {id(r) for r in roots}, list(roots)
    while todo and len(seen) < limit:
        for ref in gc.get_referents(todo.pop()):
            if id(ref) in seen or isinstance(ref, _NOT_SESSION_DATA) or _qualname(type(ref)) in stop:
                continue
            seen.add(id(ref))
            todo.append(ref)
    held = Counter(_qualname(type(o)) for o in gc.get_objects() if id(o) in seen)
    out = {label: alive[label] - held.get(name, 0) for label, name in CENSUS_TYPES.items()}
    out["AppSession"] = alive["AppSession"] - len(sessions)
    return out


def trim_probe() -> dict:
    """RSS before and after glibc's ``malloc_trim(0)`` (free heap pages given back to the kernel):
    how much of the RSS is memory glibc keeps after it was freed. Changes the process: diagnosis only."""
    before = _status()["rss"]
    ctypes.CDLL(None).malloc_trim(0)
    return {"rss_before": before, "rss_after": _status()["rss"], "glibc_after": _glibc_heap()}


def _or_error(func, *args) -> dict:
    try:
        return func(*args)
    except Exception as exc:  # a failed breakdown must not hide the session counts
        return {"error": f"{type(exc).__name__}: {exc}"}


def _mb(value: float) -> float:
    return round(value / 2**20, 1)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _glibc_heap() -> dict:
    """glibc's heap (``mallinfo2``, all arenas): obtained from the kernel, in use, free but kept."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"heap": _mb(info.arena), "mmapped": _mb(info.hblkhd), "in_use": _mb(info.uordblks),
            "free_kept": _mb(info.fordblks)}


def _pymalloc() -> dict:
    """Python's small-object allocator (``sys._debugmallocstats``, which only writes to fd 2): its arenas
    and the bytes of live blocks in them. An arena goes back to the kernel only once all of it is free."""
    with tempfile.TemporaryFile() as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")

    def number(label: str) -> int:
        match = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(match.group(1).replace(",", "")) if match else -1

    arenas = number("# arenas allocated current")
    return {"arenas": arenas, "arena_mb": _mb(arenas * 2**20) if arenas >= 0 else -1,
            "live_blocks": _mb(number("# bytes in allocated blocks")),
            "highwater_arenas": number("# arenas highwater mark")}


def _status() -> dict:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
            parts = value.split()
            fields[name] = int(parts[0]) / 1024 if len(parts) > 1 else int(parts[0])
    return {"rss": round(fields["VmRSS"], 1), "rss_anon": round(fields["RssAnon"], 1),
            "rss_file": round(fields["RssFile"], 1), "threads": fields["Threads"]}


def _cache_bytes(runtime) -> dict:
    """Bytes Streamlit counts in its caches and stores, per kind (``st.cache_data`` includes session scopes)."""
    out: Counter = Counter()
    from streamlit.runtime.stats import CACHE_MEMORY_FAMILY
    for stat in runtime.stats_mgr.get_stats([CACHE_MEMORY_FAMILY]).get(CACHE_MEMORY_FAMILY, []):
        out[stat.category_name] += stat.byte_length
    return {name: _mb(size) for name, size in out.most_common(8)}


def memory_breakdown(runtime) -> dict:
    """Where the resident memory (MB) is, after a full collection: glibc's heap, Python's arenas,
    Arrow's pool (pyarrow's default allocator), Streamlit's caches; and the live objects tracked by gc."""
    import pyarrow as pa
    pool = pa.default_memory_pool()
    out = {"process": _status(), "glibc": _glibc_heap(), "pymalloc": _pymalloc(),
           "arrow": {"backend": pool.backend_name, "allocated": _mb(pool.bytes_allocated()),
                     "max": _mb(pool.max_memory())},
           "streamlit_caches": _cache_bytes(runtime), "gc_objects": len(gc.get_objects())}
    return out


def _describe(ref, target) -> str:
    """A referrer in a few words: dict keys, function and coroutine names, frames, or the type."""
    if isinstance(ref, dict):
        keys = [str(k)[:40] for k, v in list(ref.items()) if v is target][:2]
        return f"dict[{','.join(keys)}]" if keys else "dict"
    if isinstance(ref, types.FrameType):
        return f"frame {Path(ref.f_code.co_filename).name}:{ref.f_lineno} {ref.f_code.co_name}"
    if isinstance(ref, (types.FunctionType, types.MethodType)):
        return f"function {getattr(ref, '__module__', '?')}.{ref.__qualname__}"
    if isinstance(ref, types.CoroutineType):
        return f"coroutine {ref.__qualname__}@{ref.cr_frame.f_lineno if ref.cr_frame else '-'}"
    return _qualname(type(ref))


def referrer_chains(qualified: str, limit: int = 2, depth: int = 6, width: int = 3) -> list[list[str]]:
    """Who keeps the live objects of one type: for each (``limit`` at most), the chains of referrers
    up to ``depth`` steps (``width`` referrers per step), as "A <- B <- C" strings. Modules' globals
    end a chain (``module <name>``)."""
    gc.collect()
    return _chains([o for o in gc.get_objects() if _qualname(type(o)) == qualified][:limit], depth, width)


def _chains(targets: list, depth: int = 6, width: int = 3) -> list[list[str]]:
    """For each object of ``targets``, its chains of referrers (see :func:`referrer_chains`)."""
    modules = {id(vars(m)): name for name, m in list(sys.modules.items()) if m is not None}
    out: list[list[str]] = []

    def ours(ref) -> bool:  # this census's own frames and lists
        return (ref is targets or ref is out or isinstance(ref, types.FrameType)
                and ref.f_code in (walk.__code__, _chains.__code__, referrer_chains.__code__, weak_references.__code__))

    def walk(obj, path: list[str], ignore: set[int], chains: list[str], expanded: set[int]) -> None:
        if id(obj) in expanded:  # reached by another chain already
            chains.append(" <- ".join(path + ["(as above)"]))
            return
        expanded.add(id(obj))
        refs = [r for r in gc.get_referrers(obj) if id(r) not in ignore and r is not chains and not ours(r)]
        if not refs or len(path) >= depth:
            chains.append(" <- ".join(path + ([] if refs else ["(nothing)"])))
            return
        for k in range(min(width, len(refs))):  # by index: an iterator or a slice would be one more referrer
            if id(refs[k]) in modules:
                chains.append(" <- ".join(path + [_describe(refs[k], obj), f"module {modules[id(refs[k])]}"]))
            else:
                walk(refs[k], path + [_describe(refs[k], obj)], ignore | {id(refs)}, chains, expanded)

    for obj in targets:
        chains: list[str] = []
        walk(obj, [_qualname(type(obj)).rsplit(".", 1)[-1]], set(), chains, set())
        out.append(chains[:12])
    return out


def thread_stacks(skip: int | None = None, depth: int = 4) -> dict[int, list[str]]:
    """The innermost ``depth`` frames (``file:line function``) of every thread but ``skip``."""
    out = {}
    for ident, frame in sys._current_frames().items():
        if ident == skip:
            continue
        names = []
        while frame is not None and len(names) < depth:
            names.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        out[ident] = names
    return out


class GilProbe(threading.Thread):
    """Sleeps ``period`` s in a loop and records how late it wakes: waking needs the GIL (and a core), so
    a lag of L s means another thread held the GIL, or every core was busy, for about L s. After a lag
    over ``frames_after`` s it notes where every other thread is at that moment (``sys._current_frames``,
    taken with the GIL: the thread that held it has just let it go, a few bytecodes after the call that
    held it; the others wait for it wherever they were). No traceback is taken while the lag lasts:
    faulthandler's watchdog reads other threads' frames without the GIL and can crash a busy process
    (python/cpython#131580)."""

    def __init__(self, period: float = 0.01, frames_after: float = 0.25, keep: int = 200) -> None:
        super().__init__(daemon=True, name="gil-probe")
        self.period, self.frames_after, self.keep = period, frames_after, keep
        self._lock = threading.RLock()  # gc's callback may run in the probe's own thread while it holds it
        self._halt = threading.Event()
        self._reset()

    def _reset(self) -> None:
        self.max_lag, self.samples, self.over_50ms, self.over_250ms = 0.0, 0, 0, 0
        self.long_waits: list[dict] = []
        self.full_gc_count, self.full_gc_s, self.full_gc_max_s = 0, 0.0, 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        """gc's callback: times the full collections (generation 2), which hold the GIL throughout."""
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif getattr(self, "_gc_started", None) is not None:
            took, self._gc_started = time.perf_counter() - self._gc_started, None
            with self._lock:
                self.full_gc_count += 1
                self.full_gc_s += took
                self.full_gc_max_s = max(self.full_gc_max_s, took)

    def run(self) -> None:
        gc.callbacks.append(self._on_gc)
        while not self._halt.is_set():
            started = time.perf_counter()
            time.sleep(self.period)
            lag = time.perf_counter() - started - self.period
            stacks = thread_stacks(skip=threading.get_ident()) if lag >= self.frames_after else None
            with self._lock:
                self.max_lag = max(self.max_lag, lag)
                self.samples += 1
                self.over_50ms += lag > 0.05
                self.over_250ms += lag > 0.25
                if stacks is not None and len(self.long_waits) < self.keep:
                    self.long_waits.append({"unix": round(time.time(), 3), "lag_ms": round(1000 * lag, 1),
                                            "threads": {str(k): v for k, v in stacks.items()}})

    def take(self) -> dict:
        """The lags since the last call (ms) and the long waits with the threads' frames, then start again."""
        with self._lock:
            out = {"max_ms": round(1000 * self.max_lag, 1), "samples": self.samples,
                   "over_50ms": self.over_50ms, "over_250ms": self.over_250ms, "long_waits": self.long_waits,
                   "full_gc": self.full_gc_count, "full_gc_ms": round(1000 * self.full_gc_s, 1),
                   "full_gc_max_ms": round(1000 * self.full_gc_max_s, 1)}
            self._reset()
        return out

    def stop(self) -> None:
        self._halt.set()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)


class ScriptProfile:
    """The cProfile stats of every script run of the server, added up (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path, self.lock, self.stats = path, threading.Lock(), None

    def install(self) -> None:
        from streamlit.runtime.scriptrunner import script_runner

        run_script = script_runner.ScriptRunner._run_script

        def profiled(runner, *args, **kwargs):
            profile = cProfile.Profile(time.thread_time)
            try:
                return profile.runcall(run_script, runner, *args, **kwargs)
            finally:
                self.add(profile)

        script_runner.ScriptRunner._run_script = profiled

    def add(self, profile: cProfile.Profile) -> None:
        with self.lock:
            if self.stats is None:
                self.stats = pstats.Stats(profile)
            else:
                self.stats.add(profile)

    def dump(self) -> None:
        with self.lock:
            if self.stats is not None:
                self.stats.dump_stats(self.path)


def census_thread(path: Path, interval: float, requested: threading.Event, probe: GilProbe,
                  profile: ScriptProfile | None = None) -> None:
    t0 = time.time()
    with path.open("a") as out:
        while True:
            full = requested.wait(interval)
            requested.clear()
            runtime = _runtime()
            if runtime is None:
                continue
            try:
                line = {"t": round(time.time() - t0, 2), "unix": time.time(), **light_census(runtime),
                        "gil_wait": probe.take()}
                if full:
                    line.update(full=True, **full_census(runtime))
                    if profile is not None:
                        profile.dump()
            except Exception as exc:  # a census must never take the server down
                line = {"t": round(time.time() - t0, 2), "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(line) + "\n")
            out.flush()


def main() -> None:
    path = Path(os.environ["IL2_BENCH_CENSUS"])
    requested = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: requested.set())
    interval = float(os.environ.get("IL2_BENCH_CENSUS_INTERVAL", "1"))
    probe = GilProbe()
    probe.start()
    profile = ScriptProfile(Path(os.environ["IL2_BENCH_PROFILE"])) if os.environ.get("IL2_BENCH_PROFILE") else None
    if profile is not None:
        profile.install()
    threading.Thread(target=census_thread, args=(path, interval, requested, probe, profile), daemon=True,
                     name="census").start()
    import serve
    serve.main(sys.argv[1:])


if __name__ == "__main__":
    main()
