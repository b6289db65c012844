"""Helpers for the dashboard's AppTest suites (tests/test_app_*.py)."""
from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "combined_synthetic.csv"
PAGES = ("pages/1_Cohort.py", "pages/2_Response.py", "pages/3_Survival.py", "pages/4_Biomarkers.py",
         "pages/5_Toxicity.py")
TIMEOUT = 90


def open_app(query: dict[str, str] | None = None, page: str | None = None) -> AppTest:
    """Run the landing page (with URL parameters), optionally switch to ``page``; no exception allowed.
    The session collects the count views its pages protect, for the subtraction audits."""
    from app_ui.masking import PROTECTED_VIEWS

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[PROTECTED_VIEWS] = []
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def protected_view(at: AppTest, kind: str):
    """The (view, suppression) the last run protected under ``kind`` (a session from :func:`open_app`)."""
    from app_ui.masking import PROTECTED_VIEWS

    found = [(view, shown) for k, view, shown in at.session_state[PROTECTED_VIEWS] if k == kind]
    assert len(found) == 1, f"{len(found)} {kind} views protected in the last run"
    return found[0]


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sidebar_count(at: AppTest) -> str:
    """The sidebar's ``n = X of Y patients`` line."""
    lines = [m.value for m in at.sidebar.markdown if m.value.startswith("**n = ")]
    assert len(lines) == 1, [m.value for m in at.sidebar.markdown]
    return lines[0].strip("*")


def unescape(text: str) -> str:
    """Undo the pages' Markdown escaping (backslash before a special character)."""
    return re.sub(r"\\(.)", r"\1", text)


def texts(at: AppTest, kind: str) -> list[str]:
    """Text of every element of one kind (markdown, caption, info, ...), Markdown escapes removed."""
    return [unescape(e.value) for e in getattr(at, kind)]


def data_preview(at: AppTest):
    """The Data page's "Analysed data (first 50 rows)" section, opened (it draws its table only when open)."""
    at.session_state["data_preview"] = True
    rerun(at)
    return next(e for e in at.expander if e.label == "Analysed data (first 50 rows)")


def widget(at: AppTest, kind: str, key: str):
    return getattr(at, kind)(key=key)


@lru_cache(maxsize=1)
def _sample_cohort():
    from il2lib.validation.patients import load_cohort

    return load_cohort(SAMPLE)


def sample_data() -> pd.DataFrame:
    """The combined sample exactly as the dashboard loads it (a copy)."""
    return _sample_cohort().data.copy()


def frame_equal(shown: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Compare a displayed table with il2lib's own display table (index reset, as the pages show)."""
    expected = expected.reset_index() if expected.index.name else expected.reset_index(drop=True)
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)


def read_table(node) -> pd.DataFrame:
    """A table element's frame as the user reads it: a static table (``st.table``, Markdown-escaped by
    the app) with its escapes removed, a grid (``st.dataframe``) as it is."""
    frame = node.value
    if node.type != "table":
        return frame
    frame.columns = [unescape(str(c)) for c in frame.columns]
    return frame.map(lambda v: unescape(v.replace("\u00a0", " ")) if isinstance(v, str) else v)


def markdown_tables(text: str) -> list[pd.DataFrame]:
    """The Markdown tables of a Markdown element (``app_ui.markdown.markdown_table``), cells as the user reads them."""
    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        return [unescape(p.strip(" ")).replace("\u00a0", " ") for p in parts]

    found, lines = [], text.split("\n")
    for i in range(len(lines) - 1):
        if lines[i].startswith("| ") and re.fullmatch(r"\|( --- \|)+", lines[i + 1].strip()):
            body = []
            for line in lines[i + 2:]:
                if not line.startswith("| "):
                    break
                body.append(cells(line))
            found.append(pd.DataFrame(body, columns=cells(lines[i])))
    return found


def tables(at: AppTest) -> list[pd.DataFrame]:
    """Every table in the main area (static tables, grids and the small tables of Markdown elements), in page order,
    as the user reads it."""
    out = []
    for node in at.main:
        if node.type in ("table", "dataframe", "arrow_data_frame"):
            out.append(read_table(node))
        elif node.type == "markdown" and "\n| --- |" in node.value:
            out.extend(markdown_tables(node.value))
    return out


def open_export_panels(at: AppTest) -> AppTest:
    """Open every figure's export panel (its fields and buttons are drawn only while it is open) and rerun; again
    while the opened ones bring new closed panels."""
    for _ in range(3):
        closed = [k for k in at.session_state.keys()
                  if isinstance(k, str) and k.startswith("dl_panel_") and not at.session_state[k]]
        if not closed:
            break
        for key in closed:
            at.session_state[key] = True
        at = rerun(at)
    return at


def open_code(at: AppTest) -> AppTest:
    """Open every "Show code" expander (drawn on demand) and rerun."""
    from app_ui.code_panel import CODE_TITLES, code_key

    for key in CODE_TITLES:
        at.session_state[code_key(key)] = True
    return rerun(at)
