"""Shared by test_privacy.py and test_escaping.py: a marked cohort, an AppTest session that uploads
it and visits every page, and the protos of everything the session rendered (walked by rendered_text)."""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from il2lib import schema
from support.rendered_text import walk

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
SAMPLE = ROOT / "sample_data" / "proclaim_synthetic.csv"
SAMPLE_AE = ROOT / "sample_data" / "proclaim_synthetic_adverse_events.csv"
UPLOAD_OPTION = "upload"  # the data-source radio option containing this word (case-insensitive)


def marker() -> str:
    """A random token no file on this machine can contain by chance."""
    return f"ZQ{secrets.token_hex(5).upper()}"


def marked_cohort(token: str, extra: dict[str, object] | None = None) -> pd.DataFrame:
    """The PROCLAIM sample with every patient id, the source and the histology carrying ``token``,
    plus one duplicated id (so the excluded-rows table shows ids too)."""
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame[schema.PATIENT_ID] = [f"{token}P{k:03d}" for k in range(len(frame))]
    frame[schema.SOURCE] = f"site{token}"
    if schema.HISTOLOGY in frame:
        frame[schema.HISTOLOGY] = frame[schema.HISTOLOGY].where(frame.index % 2 == 1, f"histo{token}")
    for column, value in (extra or {}).items():
        frame[column] = value
    return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)


def marked_adverse_events(token: str) -> pd.DataFrame:
    """The PROCLAIM sample's adverse-event table with the ids :func:`marked_cohort` gives its patients."""
    original = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)[schema.PATIENT_ID]
    new_ids = {old: f"{token}P{k:03d}" for k, old in enumerate(original)}
    events = pd.read_csv(SAMPLE_AE, dtype=str, keep_default_na=False)
    events[schema.AE_PATIENT_ID] = events[schema.AE_PATIENT_ID].map(new_ids)
    return events


def page_scripts() -> list[str]:
    """Every page of the dashboard, as paths AppTest.switch_page accepts."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("[0-9]*.py"))


def new_session() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120)


def upload(at: AppTest, name: str, data: bytes, adverse_events: bytes | None = None) -> AppTest:
    """Choose "My upload" in the data-source radio, then put the file into the patient-file uploader
    (and the adverse-event table into the second uploader)."""
    at.run()
    source = at.radio[0]
    source.set_value(next(o for o in source.options if UPLOAD_OPTION in o.lower())).run()
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    if adverse_events is not None:
        at.file_uploader[1].set_value((f"ae_{name}", adverse_events, "text/csv")).run()
    return at


def visit_every_page(at: AppTest) -> Iterator[tuple[str, AppTest]]:
    """Yield (page, session) after running each page, the Data page first."""
    yield "app.py", at
    for page in page_scripts():
        at.switch_page(page).run()
        yield page, at


def rendered_protos(at: AppTest) -> Iterator[tuple[str, object]]:
    """(type, proto) of everything the last run drew, blocks included (expander/tab labels)."""
    for _where, _indices, node in walk(at):
        proto = getattr(node, "proto", None)
        if proto is not None:
            yield getattr(node, "type", type(node).__name__), proto


def files_modified_since(roots: list[Path], since: float, skip: tuple[Path, ...] = ()) -> Iterator[Path]:
    """Regular files under ``roots`` whose mtime or ctime is at or after ``since``."""
    seen: set[Path] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _e: None):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if here / d not in skip and not (here / d).is_symlink()]
            for filename in filenames:
                path = here / filename
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if path.is_file() and max(info.st_mtime, info.st_ctime) >= since and path not in seen:
                    seen.add(path)
                    yield path


def files_containing(paths: Iterator[Path], needles: list[bytes], max_bytes: int = 200_000_000) -> list[str]:
    """Paths whose bytes contain any needle (also searched as UTF-16, as some exports write it)."""
    variants = needles + [n.decode().encode("utf-16-le") for n in needles]
    hits = []
    for path in paths:
        try:
            if path.stat().st_size > max_bytes:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if any(v in data for v in variants):
            hits.append(str(path))
    return hits


def scan_start() -> float:
    """A start time for the disk scan, a little early so filesystem timestamp rounding cannot hide a file."""
    return time.time() - 2.0
