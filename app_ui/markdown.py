"""Markdown escaping: text that may come from an upload renders literally in ``st.markdown`` and captions."""
from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")


def md_escape(text: Any) -> str:
    """Escape Markdown, HTML and LaTeX specials so ``text`` renders literally in ``st.markdown``."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
