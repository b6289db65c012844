"""The load test's hostile files are what its report says they are, its session check compares with the
warm-up census, and its verdicts, GIL waits and per-file report read what they should (bench/load_test.py;
the load test itself runs with ``make load-test``)."""
from __future__ import annotations

import io
import os
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import load_test  # noqa: E402


def test_forged_xlsx_declares_the_whole_sheet_but_stores_four_rows():
    data = load_test.hostile_xlsx_forged_dimension()
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:XFD1048576"/>' in sheet
    assert sheet.count(b"<row ") == 4


def test_parquet_bomb_is_small_on_disk_and_long_when_decoded():
    data = load_test.hostile_parquet_rle_bomb(rows=2_000_000)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == 2_000_000
    assert len(data) < 100_000


def test_wide_and_repeated_header_csvs_have_the_stated_columns():
    wide = load_test.hostile_csv_wide().split(b"\n", 1)[0].split(b",")
    repeated = load_test.hostile_csv_repeated_header().split(b"\n", 1)[0].split(b",")
    assert len(wide) == len(set(wide)) == 10_000
    assert len(repeated) == 8_000 and len(set(repeated)) == 1


def test_table1_file_has_three_sources_by_five_ecog_levels_with_rare_levels():
    frame = pd.read_csv(io.BytesIO(load_test.hostile_table1_rare_ecog()))
    table = pd.crosstab(frame["source"], frame["ecog"])
    assert table.shape == (3, 5)
    assert (table[[3, 4]] < 5).any().any()  # an expected count under 5: the exact test


def _census(app_sessions: int, listed: int = 0, uploads_outside: int = 0) -> dict:
    alive = {t: 0 for t in load_test.SESSION_TYPES + load_test.UPLOAD_TYPES} | {"AppSession": app_sessions}
    outside = {t: 0 for t in load_test.UPLOAD_TYPES} | {"UploadedFile": uploads_outside}
    return {"alive_after_reap": alive, "after_reap": {"listed_sessions": listed},
            "alive_outside_unlisted_sessions": outside}


def test_session_check_accepts_the_warm_up_level_and_flags_more():
    baseline = _census(1)
    assert load_test._leaked(_census(1), baseline) == []
    assert load_test._leaked(_census(2), baseline) == ["AppSession: 2 alive, 1 after warm-up"]
    assert load_test._leaked(_census(0, listed=3), baseline) == ["3 sessions still listed after the TTL"]
    assert load_test._leaked({"error": "no census line"}, baseline)


def test_session_check_flags_an_upload_no_session_holds_and_a_missing_upload_census():
    baseline = _census(1)
    assert load_test._leaked(_census(1, uploads_outside=1), baseline) == [
        "UploadedFile: 1 alive outside the sessions still alive"]
    census = _census(1)
    census["alive_outside_unlisted_sessions"] = {"error": "RuntimeError: x"}
    assert load_test._leaked(census, baseline) == ["census of uploads failed: RuntimeError: x"]


def _run(*elements):
    """A RunResult holding the given (kind, proto) elements."""
    from st_client import RunResult
    from streamlit.proto.Element_pb2 import Element

    run = RunResult()
    for kind, fields in elements:
        element = Element()
        getattr(element, kind).MergeFrom(fields)
        run.elements.append((kind, element))
    return run


def test_verdict_tells_a_refusal_from_a_loaded_file():
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.Exception_pb2 import Exception as ExceptionProto
    from streamlit.proto.Markdown_pb2 import Markdown

    counts = ("markdown", Markdown(body="n = 900 of 900 patients"))
    refusal = ("alert", Alert(body="too large to load (setting IL2_MAX_DECODED_MB)", format=Alert.ERROR))
    info = ("alert", Alert(body="synthetic data", format=Alert.INFO))
    assert load_test._verdict(_run(counts, info)) == "loaded"
    assert load_test._verdict(_run(refusal, counts)) == "refused"  # the sidebar still counts an empty frame
    assert load_test._verdict(_run(info)) == "nothing"
    assert load_test._verdict(_run(counts, ("exception", ExceptionProto(type="ValueError")))) == "exception"


def test_gil_waits_are_taken_from_the_census_seconds_inside_the_window():
    lines = [{"unix": 100.0 + k, "gil_wait": {"max_ms": ms, "samples": 90, "over_50ms": ms > 50,
                                               "over_250ms": ms > 250, "full_gc": 1, "full_gc_ms": ms / 2,
                                               "full_gc_max_ms": ms / 2}}
             for k, ms in enumerate([5.0, 400.0, 20.0, 900.0])]
    assert load_test.gil_waits(lines, 100.5, 102.0) == {"seconds": 2, "max_ms": 400.0,
                                                        "p95_of_second_max_ms": 400.0, "seconds_over_250ms": 1,
                                                        "full_gc": 2, "full_gc_s": 0.21, "full_gc_max_ms": 200.0}
    assert load_test.gil_waits(lines, 200.0, 210.0) == {"seconds": 0}


def test_probe_sees_a_call_that_holds_the_gil_and_where_it_was():
    import re
    import threading
    import time

    import load_server

    # catastrophic backtracking inside one C call holds the GIL; each extra "a" doubles its time, so the
    # length is found on this machine: the first whose fastest of three runs takes over 0.15 s (a busy machine
    # only slows a run down, so a pause cannot end the search early), plus two (about 0.6 s)
    def seconds(n: int) -> float:
        started = time.perf_counter()
        re.match(r"(a+)+b", "a" * n)
        return time.perf_counter() - started

    n = 16
    while min(seconds(n) for _ in range(3)) <= 0.15:
        n += 1
    probe = load_server.GilProbe(period=0.005, frames_after=0.1)
    probe.start()
    time.sleep(0.05)
    probe.take()
    started = time.perf_counter()
    re.match(r"(a+)+b", "a" * (n + 2))
    held = time.perf_counter() - started
    time.sleep(0.05)
    probe.stop()
    probe.join()
    seen = probe.take()
    assert held > 0.3
    assert seen["max_ms"] > 200 and seen["over_250ms"] >= 1
    wait = max(seen["long_waits"], key=lambda w: w["lag_ms"])
    here = wait["threads"][str(threading.get_ident())]
    assert any(f.startswith("test_load_test_inputs.py:") for f in here)
    line = {"unix": wait["unix"], "gil_wait": seen}
    found = load_test.long_waits([line])
    # the call holding the GIL is among the busy threads (a full run has others: a browser's pipe reader, ...)
    assert found[0]["lag_ms"] == wait["lag_ms"] and here in found[0]["busy_threads"]


def test_probe_times_full_collections():
    import gc
    import time

    import load_server

    probe = load_server.GilProbe()
    probe.start()
    time.sleep(0.05)
    gc.collect()
    probe.stop()
    probe.join()
    seen = probe.take()
    assert seen["full_gc"] >= 1 and seen["full_gc_ms"] > 0
    assert probe._on_gc not in gc.callbacks


def test_long_waits_leave_out_threads_waiting_for_work():
    idle = ["threading.py:324 wait", "threading.py:622 wait"]
    busy = ["script_runner.py:1055 _on_script_finished", "script_runner.py:993 _run_script"]
    line = {"unix": 10.0, "gil_wait": {"long_waits": [
        {"unix": 9.5, "lag_ms": 400.0, "threads": {"1": idle, "2": busy}},
        {"unix": 30.0, "lag_ms": 900.0, "threads": {"2": busy}}]}}
    assert load_test.long_waits([line], 0.0, 20.0) == [{"unix": 9.5, "lag_ms": 400.0, "busy_threads": [busy]}]
    assert load_test.wait_frames(load_test.long_waits([line])) == {
        "count": 2, "frames": {"script_runner.py:1055 _on_script_finished": 2}}


def test_every_hostile_file_is_reported_even_when_never_uploaded():
    files = [("a.csv", b""), ("b.csv", b"")]
    log = [{"file": "a.csv", "verdict": "refused", "answer_s": 0.4, "seconds": 1.0, "shown": "too large",
            "gil_wait": {"seconds": 2, "max_ms": 30.0}}]
    report = load_test.hostile_per_file(files, log)
    assert report["a.csv"] == {"uploads": 1, "verdicts": ["refused"], "answer_s_max": 0.4, "seconds_max": 1.0,
                               "gil_wait_max_ms": 30.0, "shown": "too large"}
    assert report["b.csv"]["uploads"] == 0 and report["b.csv"]["shown"] == "never uploaded"


def test_page_counts_are_read_with_thousands_separators():
    from streamlit.proto.Markdown_pb2 import Markdown

    assert _run(("markdown", Markdown(body="**n = 1,003 of 1,004 patients**"))).n_summary() == (1003, 1004)
    assert _run(("markdown", Markdown(body="n = 900 of 900 patients"))).n_summary() == (900, 900)


def test_cpu_split_gives_the_server_cpu_per_step_and_its_busy_share():
    split = load_test.cpu_split(server_cpu=30.0, client_cpu=4.0, wall=40.0, steps=200)
    assert split == {"server_cpu_s": 30.0, "client_cpu_s": 4.0, "server_cpu_per_step_s": 0.15, "server_busy_share": 0.75}
    assert load_test.cpu_seconds(os.getpid()) > 0


def test_step_times_are_split_by_kind_so_the_slowest_steps_can_be_named():
    a = load_test.SessionReport(0, step_seconds=[3.0, 0.5, 0.7], step_kinds=["upload", "filter change, Data",
                                                                             "filter change, Survival"])
    b = load_test.SessionReport(1, step_seconds=[4.0, 0.6], step_kinds=["upload", "filter change, Data"])
    kinds = load_test.steps_by_kind([a, b])
    assert kinds["upload"] == {"steps": 2, "median": 3.5, "p95": 4.0, "max": 4.0}
    assert kinds["filter change, Data"] == {"steps": 2, "median": 0.55, "p95": 0.6, "max": 0.6}
    assert kinds["filter change, Survival"]["steps"] == 1


def test_script_profile_adds_up_the_runs_and_writes_pstats(tmp_path):
    import cProfile
    import pstats

    import load_server

    def page_run():
        return sorted(range(1000), key=lambda v: -v)

    profile = load_server.ScriptProfile(tmp_path / "runs.prof")
    profile.dump()  # nothing profiled yet: no file
    assert not (tmp_path / "runs.prof").exists()
    for _ in range(3):
        run = cProfile.Profile()
        run.runcall(page_run)
        profile.add(run)
    profile.dump()
    stats = pstats.Stats(str(tmp_path / "runs.prof")).stats
    calls = {key[2]: value[1] for key, value in stats.items()}
    assert calls["page_run"] == 3
