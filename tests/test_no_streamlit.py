"""il2lib never imports streamlit: import the package and every submodule in a fresh interpreter."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, pkgutil, sys
import il2lib
for name in sorted(il2lib._EXPORTS):
    getattr(il2lib, name)
names = [m.name for m in pkgutil.walk_packages(il2lib.__path__, "il2lib.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
assert len(names) >= 10, names
bad = sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit."))
print(len(names), "modules")
sys.exit(1 if bad else 0)
"""


def test_il2lib_does_not_import_streamlit():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "modules" in result.stdout
