"""The dashboard's launcher (``serve.py``) with a session census, for ``bench/load_test.py`` only.

The load test talks to a separate server process, so it cannot see which session objects are still
alive there. This wrapper runs ``serve.main()`` unchanged in this process (same options, same warm-up,
same config) and adds one daemon thread, nothing in the app or in il2lib:

* every ``IL2_BENCH_CENSUS_INTERVAL`` seconds (default 1) a cheap line: sessions the runtime still
  lists (connected, and disconnected ones kept for ``server.disconnectedSessionTTL``), the connected
  ones, and the sessions with uploaded files in Streamlit's upload store;
* on ``SIGUSR1`` (sent by the load test after the sessions closed and the TTL passed) a full census:
  ``gc.collect()``, then the count of live objects whose type is one of ``CENSUS_TYPES`` (found with
  ``gc.get_objects()``: anything still referenced after a full collection is retained); then the same
  count after the session store dropped its expired entries (see ``full_census``).

Lines are JSON, appended to the file named by ``IL2_BENCH_CENSUS`` (required).

    IL2_BENCH_CENSUS=bench/results/census.jsonl .venv/bin/python bench/load_server.py --server.port 8502
"""
from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Per-session objects of Streamlit and pandas frames (a session's cohort is a DataFrame).
CENSUS_TYPES = ("AppSession", "SessionState", "ScriptRunner", "UploadedFile", "UploadedFileRec", "DataFrame")


def _runtime():
    from streamlit.runtime import Runtime
    return Runtime.instance() if Runtime.exists() else None


def light_census(runtime) -> dict:
    mgr = runtime._session_mgr
    files = getattr(runtime._uploaded_file_mgr, "file_storage", {})
    return {"listed_sessions": len(mgr.list_sessions()), "active_sessions": len(mgr.list_active_sessions()),
            "sessions_with_files": sum(1 for v in list(files.values()) if v)}


def _alive() -> dict:
    gc.collect()
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    return {name: counts.get(name, 0) for name in CENSUS_TYPES}


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
    return {"alive": alive, "held_by_session_store": held, "alive_after_reap": _alive(),
            "after_reap": light_census(runtime), "app_session_referrers": _referrers("AppSession"),
            "uploaded_file_referrers": _referrers("UploadedFile")}


def _referrers(type_name: str, limit: int = 3) -> list[list[str]]:
    """What still refers to the live objects of ``type_name`` (type names, and dict keys where the
    referrer is a dict): enough to tell who holds a session."""
    out = []
    for obj in [o for o in gc.get_objects() if type(o).__name__ == type_name][:limit]:
        names = []
        for ref in gc.get_referrers(obj):
            if isinstance(ref, dict):
                keys = [str(k) for k, v in ref.items() if v is obj][:2]
                names.append(f"dict[{','.join(keys)}]")
            elif type(ref).__name__ == "cell":
                owners = [getattr(f, "__qualname__", "?") for f in gc.get_referrers(ref)
                          if type(f).__name__ == "function"]
                names.append(f"closure of {','.join(owners[:2]) or '?'}")
            elif type(ref).__name__ == "ActiveSessionInfo":
                holders = [getattr(h, "__qualname__", type(h).__name__) + (
                    f"@{h.cr_frame.f_lineno}" if getattr(h, "cr_frame", None) else "")
                    for h in gc.get_referrers(ref) if h is not out and not isinstance(h, list)]
                names.append(f"ActiveSessionInfo held by {','.join(holders[:4])}")
            elif isinstance(ref, list) and len(ref) < 1000:
                names.append(type(ref).__name__)
        out.append(names[:8])
    return out


def census_thread(path: Path, interval: float, requested: threading.Event) -> None:
    t0 = time.time()
    with path.open("a") as out:
        while True:
            full = requested.wait(interval)
            requested.clear()
            runtime = _runtime()
            if runtime is None:
                continue
            try:
                line = {"t": round(time.time() - t0, 2), "unix": time.time(), **light_census(runtime)}
                if full:
                    line.update(full=True, **full_census(runtime))
            except Exception as exc:  # a census must never take the server down
                line = {"t": round(time.time() - t0, 2), "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(line) + "\n")
            out.flush()


def main() -> None:
    path = Path(os.environ["IL2_BENCH_CENSUS"])
    requested = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: requested.set())
    interval = float(os.environ.get("IL2_BENCH_CENSUS_INTERVAL", "1"))
    threading.Thread(target=census_thread, args=(path, interval, requested), daemon=True, name="census").start()
    import serve
    serve.main(sys.argv[1:])


if __name__ == "__main__":
    main()
