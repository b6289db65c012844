"""Start and stop one `streamlit run` process for the browser tests, and find Debian's chromium.

Kept apart from ``conftest.py`` so the same code can start a server by hand while debugging::

    .venv/bin/python -c "from tests.e2e.server import StreamlitServer; ..."
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"

#: The one list of chromium flags (DEVELOPERS.md flags plus --disable-dev-shm-usage).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

#: Streamlit scrolls an inner container, so a full-page screenshot needs a tall viewport.
VIEWPORT = {"width": 1400, "height": 2400}

_DEBIAN_CHROMIUM = Path("/usr/lib/chromium/chromium")


def chromium_executable() -> str:
    """Path of Debian's chromium binary (``IL2_CHROMIUM`` overrides); raise when it is not installed."""
    candidates = [os.environ.get("IL2_CHROMIUM"), str(_DEBIAN_CHROMIUM), shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "Debian chromium not found (looked for /usr/lib/chromium/chromium and `chromium` on PATH). "
        "Install it with `make browser` (runs scripts/ensure_system_packages.sh)."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The dashboard's launcher (``make run``): ``streamlit run app.py`` with the heavy imports done first.
LAUNCHER = "serve.py"


def server_command(app: Path, port: int) -> list[str]:
    """The command line serving ``app`` on ``port``: through the launcher next to an ``app.py``, as ``make run``."""
    options = [
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
    ]
    launcher = app.parent / LAUNCHER
    if app.name == "app.py" and launcher.is_file():
        return [sys.executable, str(launcher), *options]
    return [sys.executable, "-m", "streamlit", "run", str(app), *options]


@dataclass
class StreamlitServer:
    """One ``streamlit run`` child process on a loopback port; ``stop()`` ends it by its PID."""

    app: Path
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, app: Path, log_path: Path, timeout: float = 60.0,
              env: dict[str, str] | None = None) -> "StreamlitServer":
        """Serve ``app``; ``env`` adds to (or overrides) the test process's environment."""
        port = free_port()
        command = server_command(app, port)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        process = subprocess.Popen(command, cwd=app.parent, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        server = cls(app=app, port=port, process=process, log_path=log_path)
        try:
            server.wait_healthy(timeout)
        except Exception:
            server.stop()
            raise
        return server

    def wait_healthy(self, timeout: float) -> None:
        """Poll ``/_stcore/health`` until it answers ``ok`` (it does so before any script ran)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"streamlit not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process by its PID, then kill it if it has not exited after ``timeout`` s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return ""
