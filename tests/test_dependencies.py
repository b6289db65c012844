"""A fresh install is reproducible.

``requirements.txt`` (runtime) and ``requirements-test.txt`` pin every direct dependency with
``==``; ``constraints.txt`` locks every package of the environment (direct and transitive) at the
same versions; and the environment the tests run in is exactly that lock (pip and setuptools
aside), so what passed here is what ``make setup`` installs.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLING = {"pip", "setuptools", "wheel"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?==([A-Za-z0-9.+!-]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith(("-r", "-c")):
            lines.append(line)
    return lines


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in requirement_lines(path):
        match = PIN.match(line)
        assert match, f"{path.name}: '{line}' is not pinned as name==version"
        found[canonical(match.group(1))] = match.group(3)
    return found


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt", "constraints.txt"])
def test_every_line_is_an_exact_pin(name):
    assert pins(ROOT / name)


def test_direct_pins_agree_with_the_lock():
    lock = pins(ROOT / "constraints.txt")
    for name in ("requirements.txt", "requirements-test.txt"):
        for package, version in pins(ROOT / name).items():
            assert lock.get(package) == version, f"{name}: {package}=={version} but constraints.txt has {lock.get(package)}"


def test_the_test_environment_is_the_lock():
    lock = pins(ROOT / "constraints.txt")
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unlocked = sorted(f"{p}=={v}" for p, v in installed.items() if p not in lock and p not in TOOLING)
    drifted = sorted(f"{p}: installed {v}, locked {lock[p]}" for p, v in installed.items() if p in lock and lock[p] != v)
    missing = sorted(p for p in lock if p not in installed)
    assert unlocked == [], f"installed but not in constraints.txt: {unlocked}"
    assert drifted == [], f"installed versions differ from constraints.txt: {drifted}"
    assert missing == [], f"in constraints.txt but not installed: {missing}"
