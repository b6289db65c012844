"""Start the dashboard: ``streamlit run app.py``, with its libraries imported and the sample loaded first.

Usage (``make run`` does this; the browser tests and benchmarks start their servers the same way)::

    .venv/bin/python serve.py [streamlit run options, e.g. --server.port 8501]

Streamlit imports a page's modules, and reads the data, when the first browser session runs a
page: the first visitor of a fresh server waited about 1 s of server time (2 cores) for pandas,
pyarrow, scipy.special, plotly's figure classes and template, il2lib, and the reading and
validation of the bundled sample. This launcher does that work once, in the server process,
before the server starts listening (about 1-2 s), then hands over to Streamlit's own command
line: the server behaves exactly like ``streamlit run app.py`` (same options, same
``.streamlit/config.toml``, same caches: the sample is loaded by the same cached call the pages
make), only its first page view is faster. Nothing else is computed ahead. With a server file
(``IL2_DASHBOARD_DATA``) the sample is not preloaded; a registry is never preloaded (it loads on
first use, as before). ``streamlit run app.py`` still works, with the slower first view.
"""
from __future__ import annotations

import importlib
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent
APP = ROOT / "app.py"

#: Imported before the server starts: the libraries of every page's first run (pages import the rest).
WARM_MODULES = (
    "pandas",
    "pyarrow",
    "scipy.special",
    "plotly.graph_objects",
    "il2lib.validation",
    "il2lib.adverse_events",
    "il2lib.export",
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


def preload_sample() -> str | None:
    """Load the default bundled sample into the server's cache (None when the default is not a sample)."""
    with _quiet_streamlit():
        from app_ui.data import preload_default_sample

        return preload_default_sample()


def warm_up() -> str:
    """Run the warm-up steps; return a one-line status. A failing step is reported, never fatal: the
    server then starts as plain ``streamlit run app.py`` would, and the page shows any real error."""
    start = time.perf_counter()
    try:
        warm_imports()
        warm_figures()
        sample = preload_sample()
    except Exception as exc:  # noqa: BLE001  (a warm-up must never keep the dashboard from starting)
        return f"Warm-up stopped ({type(exc).__name__}: {exc}); starting Streamlit."
    loaded = f" and loaded the {sample} sample" if sample else ""
    return f"Imported the dashboard's libraries{loaded} in {time.perf_counter() - start:.1f} s; starting Streamlit."


def main(argv: list[str] | None = None) -> None:
    """Warm up, then run ``streamlit run app.py <argv>`` in this process."""
    args = sys.argv[1:] if argv is None else argv
    print(warm_up(), flush=True)
    from streamlit.web import cli

    cli.main(args=["run", str(APP), *args], prog_name="streamlit")


if __name__ == "__main__":
    main()
