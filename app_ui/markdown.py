"""Markdown escaping: text that may come from an upload renders literally in ``st.markdown`` and captions."""
from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")


def md_escape(text: Any) -> str:
    """Escape Markdown, HTML and LaTeX specials so ``text`` renders literally in ``st.markdown``."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def markdown_table(df, heading: str = "") -> str:
    """A small table as a Markdown table (one light Markdown element instead of an Arrow table), every header and
    cell escaped; ``heading`` (Markdown) goes above it in the same block. A leading indent stays as no-break
    spaces, a missing value is an empty cell. Styled like st.table by :data:`SMALL_TABLES_CSS`."""
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        text = str(value)
        body = text.lstrip(" ")
        return "\u00a0" * (len(text) - len(body)) + md_escape(body)

    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |", "|" + " --- |" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False, name=None)]
    return (f"{heading}\n\n" if heading else "") + "\n".join(lines)


#: The main area's Markdown tables in st.table's smaller type and padding: static CSS for ``st.html`` (style only,
#: so it takes no row in the page).
SMALL_TABLES_CSS = """<style>
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] table { font-size: 0.875rem; width: 100%; }
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] :is(th, td) { padding: 0.375rem 0.5rem; }
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] th { font-weight: 400; opacity: 0.75; }
</style>"""
