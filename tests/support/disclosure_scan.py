"""What a user can read on a page run by AppTest, and where small counts show in it.

``visible_strings(at)`` lists every piece of text a page shows (element path, text): Markdown,
captions, headings, alerts, metrics, table headers and cells, expander and tab labels, widget labels
and help, plotly figure text (names, trace text, hover text with its template filled in, titles,
annotations, tick and category labels), iframe documents and download-button labels. Widget
options are left out: they are category names, not results.

``small_count_findings(at)`` lists the counts from 1 to ``threshold - 1`` shown at a count position
(see :func:`small_counts`, :func:`metric_is_small_count`, :func:`table_small_counts`,
:func:`figure_small_counts`); ``download_small_counts`` does the same for the files behind the
download buttons, recorded with ``DownloadRecorder``. The page is walked, and its figures and downloads
read, by tests/support/rendered_text.py. The detectors are pure functions with their own unit tests
(tests/test_disclosure_scan_rules.py).
"""
from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser

import pandas as pd

from il2lib.analyses.published import CITATIONS
from support.rendered_text import Download, decode_typed_arrays, held_objects, plotly_spec, walk

THRESHOLD = 5

# ---------------------------------------------------------------------------------------------------------------
# Text rules: counts in running text
# ---------------------------------------------------------------------------------------------------------------

# An integer that is not part of a decimal, a masked bound ("<5"), a label ("G3", "2nd") or a percentage.
_INT = r"(?<![\w.,<≤>≥−-])(\d+)(?![\d.,]|[A-Za-z]|\s*%)"
_MASKED = r"(?:<\s*\d+|masked|–)"
#: Words before a number that make it a category label, not a count ("ECOG PS 1 of 2" is not "1 of 2").
_LABEL_BEFORE = re.compile(r"(?:\b(?:ecog(?:\s*ps)?|ps|line|lines|grade|grades|cycle|cycles|year|years|month|months|"
                           r"week|weeks|day|days|age|dose|doses|stage|version|step|page|table|figure|section|"
                           r"level|visit|course|arm|cohort|group|v)\s*[:#]?\s*)$", re.IGNORECASE)
#: Words before a count that make it a rule, not a result ("at least 3 patients").
_RULE_BEFORE = re.compile(r"(?:\b(?:at least|fewer than|less than|more than|at most|minimum(?: of)?|below|above|"
                          r"from|to|under|over|needs?|per)\s*)$", re.IGNORECASE)
_COUNT_NOUNS = (r"patient\(s\)|patients?|events?|deaths?|responders?|progressions?|censored|rows?|records?|"
                r"without\b|with\b|excluded|missing|ongoing")
_COUNT_LABELS = r"patients?|events?|deaths?|responders?|progressions?|censored|at risk|number at risk|count"
_TEXT_PATTERNS = (
    # n = 3, N=2, (n=12): the count after an "n ="
    ("n =", re.compile(r"(?<![A-Za-z])[nN]\s*=\s*" + _INT)),
    # 3/40 and (0/2): both numbers of a fraction (not a date or "12 / 24 / 36": no second slash)
    ("k/N", re.compile(r"(?<!/)(?<!/\s)" + _INT + r"\s*/\s*" + _INT + r"(?!\s*/)")),
    # 3 (12.5%): the count before a percentage
    ("k (p%)", re.compile(_INT + r"\s*\(\s*\d+(?:\.\d+)?\s*%\s*\)")),
    # 12 (3), 2 (<5), <5 (3): "n (k)" and "k (events)" pairs, both numbers
    ("n (k)", re.compile(r"(?:" + _INT + r"|" + _MASKED + r")\s*\(\s*(?:" + _INT + r"|" + _MASKED + r")\s*\)")),
    # 3 of 40: both numbers
    ("k of N", re.compile(_INT + r"\s+of\s+" + _INT)),
    # 3 patients, 2 without a date, 4 events
    ("k <noun>", re.compile(_INT + r"\s+(?:" + _COUNT_NOUNS + r")", re.IGNORECASE)),
    # events (1), at risk: 3, deaths = 2
    ("<noun> k", re.compile(r"\b(?:" + _COUNT_LABELS + r")\s*(?:[:=]\s*" + _INT + r"|\(\s*" + _INT + r"\s*\))",
                            re.IGNORECASE)),
)
#: "Response criteria: RECIST1.1 19, irRC 1.": a list of "name count" items after a colon.
_COUNT_LIST = re.compile(r":\s*((?:[A-Za-z][^,;:()]*?\s\d+\s*[,;]\s*)+[A-Za-z][^,;:()]*?\s\d+)\s*(?:\.|$)")
_LIST_ITEM = re.compile(r"[A-Za-z][^,;:()]*?\s(\d+)$")
#: A masked count beside an exact percentage gives the count back: "<5 (13.3%)".
_MASKED_WITH_PERCENT = re.compile(r"<\s*\d+\s*\(\s*\d+(?:\.\d+)?\s*%\s*\)")


def _is_label_number(text: str, start: int) -> bool:
    return bool(_LABEL_BEFORE.search(text[max(0, start - 16):start]))


def _is_rule_number(text: str, start: int) -> bool:
    return bool(_RULE_BEFORE.search(text[max(0, start - 16):start]))


def normalise(text) -> str:
    """Text as read: Markdown escapes removed, no-break and thin spaces as spaces, bold markers dropped."""
    text = re.sub(r"\\(.)", r"\1", str(text))
    return text.replace("\u00a0", " ").replace("\u2009", " ").replace("\u202f", " ").replace("**", "")


def small_counts(text: str, threshold: int = THRESHOLD) -> list[str]:
    """The count positions of ``text`` holding a count from 1 to ``threshold - 1``, as short snippets.

    Count positions: "n = k" (any case and spacing), both numbers of "k/N", "k (p%)", both numbers
    of "n (k)", both numbers of "k of N", "k patients" (and events, deaths, ...), and a masked count
    beside an exact percentage ("<5 (13.3%)"). Category labels ("ECOG PS 1", "Line 2", "Grade 3",
    "G3", "2nd line"), decimals, percentages, p-values and CIs are not counts.
    """
    text = normalise(text)
    for citation in CITATIONS.values():  # a reference as printed ("2019;7(1):49") holds no count
        text = text.replace(citation.full, "")
    found: set[tuple[int, int]] = set()
    for name, pattern in _TEXT_PATTERNS:
        for match in pattern.finditer(text):
            for group in range(1, (match.lastindex or 0) + 1):
                value = match.group(group)
                if value is None or not 0 < int(value) < threshold:
                    continue
                start = match.start(group)
                if _is_label_number(text, start) or (name == "k <noun>" and _is_rule_number(text, start)):
                    continue
                found.add(match.span())
    found |= {m.span() for m in _MASKED_WITH_PERCENT.finditer(text)}
    for match in _COUNT_LIST.finditer(text):
        start = match.start(1)
        for item in re.split(r"([,;]\s*)", match.group(1)):
            m = _LIST_ITEM.fullmatch(item.strip())
            if m and 0 < int(m.group(1)) < threshold and not _is_label_number(item, m.start(1)):
                found.add((start, start + len(item.rstrip())))
            start += len(item)
    merged: list[list[int]] = []  # overlapping matches are one position ("n = 3 of 40")
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [text[start:end].strip() for start, end in merged]


def is_small_integer(value, threshold: int = THRESHOLD) -> bool:
    """A whole number from 1 to ``threshold - 1`` (an int, a whole float or a bare integer string)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        text = normalise(value).strip().replace(",", "")
        if not re.fullmatch(r"\d+", text):
            return False
        value = int(text)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number == round(number) and 0 < number < threshold


#: Headers (and metric labels) of whole-number columns that are not counts.
_NOT_COUNT_HEADER = re.compile(r"year|grade|\bline\b|line of|ecog|time|\bage\b|dose|month|week|\bday|cycle|"
                               r"landmark|median|mean|\bsd\b|iqr|%|percent|rate|ratio|\bhr\b|\bor\b|p-value|"
                               r"\bp\b|\bci\b|lower|upper|score|rank|\bid\b|version|level|order|position",
                               re.IGNORECASE)


def is_count_header(header) -> bool:
    """Whether a whole-number column (or metric) with this header counts patients or events."""
    return not _NOT_COUNT_HEADER.search(normalise(header))


def metric_is_small_count(label: str, value: str, threshold: int = THRESHOLD) -> bool:
    """A metric whose value is a whole number from 1 to ``threshold - 1`` (labels such as "Median age" excepted)."""
    return is_count_header(label) and is_small_integer(value, threshold)


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------

def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _is_masked_token(value) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\s*(?:<\s*\d+|masked|–|-|—|)\s*", normalise(value)))


def _whole_number_column(series: pd.Series) -> bool:
    """Numeric with whole values only, or text holding only bare integers and masked tokens."""
    if pd.api.types.is_bool_dtype(series):
        return False
    values = [v for v in series.tolist() if not _missing(v)]
    if pd.api.types.is_numeric_dtype(series):
        return bool(values) and all(float(v) == round(float(v)) for v in values)
    integers = [v for v in values if not _is_masked_token(v)]
    return bool(integers) and all(isinstance(v, str) and re.fullmatch(r"\s*\d[\d,]*\s*", normalise(v))
                                  for v in integers)


#: A column naming the patient or the file row: the table lists patients, its numbers are per-patient values.
_LISTING_HEADER = re.compile(r"patient[ _]?id|pseudonym|file[ _]row|^patient$", re.IGNORECASE)


def is_listing(df: pd.DataFrame) -> bool:
    """Whether a table lists patients (one row each) rather than counting them."""
    return any(_LISTING_HEADER.search(normalise(col)) for col in df.columns)


#: The names the published series go by in a table's source column (their numbers are printed, not this cohort's).
PUBLISHED_SERIES = frozenset(c.series for c in CITATIONS.values())


def published_rows(df: pd.DataFrame) -> set[int]:
    """The rows of a table whose source column names a published series."""
    sources = [j for j, col in enumerate(df.columns) if normalise(col).strip().lower() == "source"]
    return {i for j in sources for i, value in enumerate(df.iloc[:, j].tolist())
            if isinstance(value, str) and normalise(value).strip() in PUBLISHED_SERIES}


def table_small_counts(df: pd.DataFrame, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts in a displayed table: (cell reference, text).

    Headers and text cells go through :func:`small_counts`; every whole number in a count column
    (whole numbers only, header not a year, grade, line, ECOG, time, age, dose ...) is a count,
    except in a patient listing (:func:`is_listing`), whose numbers are per-patient values, and in the
    rows of a published series (:func:`published_rows`), whose numbers are printed in a paper.
    """
    out: list[tuple[str, str]] = []
    listing = is_listing(df)
    printed = published_rows(df)
    for col in df.columns:
        out += [(f"header {normalise(col)!r}", snippet) for snippet in small_counts(str(col), threshold)]
    for j, col in enumerate(df.columns):
        series = df.iloc[:, j]
        count_column = not listing and is_count_header(col) and _whole_number_column(series)
        for i, value in enumerate(series.tolist()):
            if i in printed:
                continue
            ref = f"row {normalise(df.iloc[i, 0]).strip() if j else i!r}, column {normalise(col)!r}"
            if count_column and is_small_integer(value, threshold):
                out.append((ref, str(value)))
            elif isinstance(value, str):
                out += [(ref, snippet) for snippet in small_counts(value, threshold)]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Plotly figures
# ---------------------------------------------------------------------------------------------------------------

_TEMPLATE_FIELD = re.compile(r"%\{([^}:|]+)(?::([^}]*))?\}")


def _lookup(trace: dict, name: str, i: int):
    """The value a hover template field shows for point ``i`` (None when unknown)."""
    name = name.strip()
    if name in ("fullData.name", "data.name"):
        return trace.get("name")
    m = re.fullmatch(r"customdata(?:\[(\d+)\])?", name)
    if m:
        custom = trace.get("customdata")
        if not isinstance(custom, list) or i >= len(custom):
            return None
        row = custom[i]
        if m.group(1) is None:
            return row
        k = int(m.group(1))
        return row[k] if isinstance(row, list) and k < len(row) else None
    values = trace.get(name)
    if isinstance(values, list):
        return values[i] if i < len(values) else None
    return values


def _format(value, spec: str | None) -> str:
    if value is None:
        return ""
    if spec and re.search(r"[fdeg%]$", spec):
        try:
            return format(float(value), spec.replace("~", ""))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and value == round(value):
        return str(int(value))
    return str(value)


def fill_template(template: str, trace: dict, i: int) -> str:
    """A plotly hover/text template with point ``i``'s values substituted, tags removed."""
    text = _TEMPLATE_FIELD.sub(lambda m: _format(_lookup(trace, m.group(1), i), m.group(2)), template)
    return html_text(text)


def _n_points(trace: dict) -> int:
    sizes = [len(trace[k]) for k in ("x", "y", "customdata", "text", "hovertext", "values", "labels")
             if isinstance(trace.get(k), list)]
    return max(sizes, default=1)


#: Keys whose string leaves a reader sees (titles are dicts with "text").
_VISIBLE_KEYS = {"name", "text", "hovertext", "ticktext", "title", "subtitle", "labels", "values", "x", "y"}
_HIDDEN_KEYS = {"template", "hovertemplate", "texttemplate", "meta", "uid", "legendgroup"}


def _leaves(obj, path: tuple = ()) -> Iterator[tuple[tuple, object]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key not in _HIDDEN_KEYS:
                yield from _leaves(value, path + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaves(value, path + (i,))
    else:
        yield path, obj


def _last_key(path: tuple) -> str | None:
    keys = [p for p in path if isinstance(p, str)]
    return keys[-1] if keys else None


def figure_strings(spec: dict) -> list[tuple[str, str]]:
    """Every string a figure shows: (JSON path, text). Hover and text templates are filled in per point."""
    out: list[tuple[str, str]] = []
    for path, leaf in _leaves(spec):
        key = _last_key(path)
        if key not in _VISIBLE_KEYS and "customdata" not in path:
            continue
        trace_text = key == "text" and path[:1] == ("data",) and isinstance(leaf, (int, float))
        if isinstance(leaf, str) or trace_text:
            out.append((".".join(map(str, path)), html_text(_format(leaf, None))))
    for t, trace in enumerate(spec.get("data", [])):
        for field in ("hovertemplate", "texttemplate"):
            template = trace.get(field)
            if not template:
                continue
            for i in range(_n_points(trace)):
                item = template[i] if isinstance(template, list) and i < len(template) else template
                if isinstance(item, str):
                    out.append((f"data.{t}.{field}[{i}]", fill_template(item, trace, i)))
    return out


def bar_count_lengths(trace: dict) -> list:
    """Bar lengths shown as counts: the whole-number lengths of a bar trace whose text or hover shows
    them as they are (not as a percentage); empty for any other trace."""
    if trace.get("type") != "bar":
        return []
    axis = "x" if trace.get("orientation") == "h" else "y"
    lengths = trace.get(axis)
    if not isinstance(lengths, list) or not lengths:
        return []
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == round(v) for v in lengths):
        return []
    template = " ".join(str(trace.get(k) or "") for k in ("hovertemplate", "texttemplate"))
    # "%{x}" or "%{x:d}" shows the length; "%{x:.0%}" or "%{x}%" shows a percentage
    as_is = [m for m in re.finditer(r"%\{" + axis + r"(?::([^}]*))?\}(\s*%)?", template)
             if "%" not in (m.group(1) or "") and not m.group(2)]
    text = trace.get("text")
    as_text = isinstance(text, list) and any(_format(v, None) in map(str, text) for v in lengths)
    return lengths if as_is or as_text else []


def figure_small_counts(spec: dict, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts a figure shows: in its strings (names, titles, hover, tick labels, annotations),
    bare whole numbers as trace text, and whole-number bar lengths shown as counts."""
    out: list[tuple[str, str]] = []
    for path, text in figure_strings(spec):
        out += [(path, snippet) for snippet in small_counts(text, threshold)]
        if re.fullmatch(r"data\.\d+\.text(\.\d+)?", path) and is_small_integer(text, threshold):
            out.append((path, text))
    for t, trace in enumerate(spec.get("data", [])):
        for i, length in enumerate(bar_count_lengths(trace)):
            if is_small_integer(length, threshold):
                labels = trace.get("y") if trace.get("orientation") == "h" else trace.get("x")
                at = labels[i] if isinstance(labels, list) and i < len(labels) else i
                out.append((f"data.{t} bar {trace.get('name', '')!r} at {at!r}", f"length {_format(length, None)}"))
    return out


# ---------------------------------------------------------------------------------------------------------------
# HTML (iframe documents, hover text)
# ---------------------------------------------------------------------------------------------------------------

_BLOCK_TAGS = ("br", "p", "div", "tr", "li", "td", "th", "extra", "h1", "h2", "h3", "h4", "h5", "h6", "caption",
               "figcaption", "section", "table")


class _Document(HTMLParser):
    """An HTML document read as a user sees it: text blocks outside tables, tables as rows of cells, and
    the documents of nested iframes (``srcdoc``)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = [""]
        self.tables: list[list[list[str]]] = []
        self.frames: list[str] = []
        self._skip = 0
        self._open_tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "iframe":
            srcdoc = dict(attrs).get("srcdoc")
            if srcdoc:
                self.frames.append(srcdoc)
        elif tag == "table":
            self._open_tables.append([])
        elif tag == "tr" and self._open_tables:
            self._open_tables[-1].append([])
        elif tag in ("td", "th") and self._open_tables:
            self._cell = []
        if tag in _BLOCK_TAGS and self._cell is None:
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self._open_tables:
            rows = self._open_tables[-1] or [[]]
            rows[-1].append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._open_tables[-1] = rows
            self._cell = None
        elif tag == "table" and self._open_tables:
            self.tables.append(self._open_tables.pop())

    def handle_data(self, data):
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif not self._open_tables:
            self.blocks[-1] += data


def _read_html(text: str) -> _Document:
    parser = _Document()
    parser.feed(text)
    parser.close()
    return parser


def html_text(text: str) -> str:
    """Visible text of an HTML fragment ("<b>a</b><br>b" -> "a | b"; tables included, scripts left out)."""
    if not re.search(r"<[A-Za-z/!]", text):
        return text
    document = _read_html(text)
    parts = [b for b in document.blocks] + [" | ".join(cell for row in table for cell in row)
                                             for table in document.tables]
    return " | ".join(p for p in (re.sub(r"\s+", " ", part).strip() for part in parts) if p)


def html_figures(text: str) -> list[dict]:
    """The plotly figures an HTML document draws (``Plotly.newPlot("id", data, layout, ...)``)."""
    decoder = json.JSONDecoder()
    figures = []
    for match in re.finditer(r"Plotly\.newPlot\(\s*[\"'][^\"']*[\"']\s*,\s*", text):
        try:
            data, end = decoder.raw_decode(text, match.end())
            comma = re.compile(r"\s*,\s*").match(text, end)
            layout = decoder.raw_decode(text, comma.end())[0] if comma else {}
        except ValueError:
            continue
        figures.append(decode_typed_arrays({"data": data, "layout": layout}))
    return figures


def _table_frame(rows: list[list[str]]) -> pd.DataFrame:
    rows = [row for row in rows if row]
    if not rows:
        return pd.DataFrame()
    width = max(len(row) for row in rows)
    header = rows[0] + [""] * (width - len(rows[0]))
    body = [row + [""] * (width - len(row)) for row in rows[1:]]
    return pd.DataFrame(body, columns=[h or f"({i})" for i, h in enumerate(header)])


def html_small_counts(text: str, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts an HTML document shows: its text blocks, tables (first row as header), plotly
    figures and the documents of nested iframes."""
    document = _read_html(text)
    out = [("text", snippet) for block in document.blocks for snippet in small_counts(block, threshold)]
    for t, rows in enumerate(document.tables):
        out += [(f"table {t} {ref}", snippet) for ref, snippet in table_small_counts(_table_frame(rows), threshold)]
    for f, spec in enumerate(html_figures(text)):
        out += [(f"figure {f} {path}", snippet) for path, snippet in figure_small_counts(spec, threshold)]
    for n, frame in enumerate(document.frames):
        out += [(f"frame {n} {ref}", snippet) for ref, snippet in html_small_counts(frame, threshold)]
    return out


# ---------------------------------------------------------------------------------------------------------------
# What an AppTest run shows
# ---------------------------------------------------------------------------------------------------------------

_WIDGETS = ("selectbox", "multiselect", "radio", "toggle", "checkbox", "number_input", "slider", "select_slider",
            "text_input", "text_area", "date_input", "button", "page_link", "file_uploader", "link_button",
            "download_button", "button_group", "color_picker", "time_input")
_TEXT_ELEMENTS = ("markdown", "caption", "latex", "title", "header", "subheader", "text", "error", "warning", "info",
                  "success", "toast", "exception")



def node_strings(where: str, node) -> list[tuple[str, str]]:
    """The visible strings of one block or element: (where, text)."""
    kind = getattr(node, "type", "")
    out: list[tuple[str, str]] = []

    def add(suffix: str, text) -> None:
        if text not in (None, ""):
            out.append((f"{where}{suffix}", normalise(text)))

    if kind in ("expander", "tab", "status"):
        add(" label", node.label)
    elif kind in _TEXT_ELEMENTS:
        add("", node.value)
    elif kind == "metric":
        for part in ("label", "body", "delta", "help"):
            add(f" {part}", getattr(node.proto, part))
    elif kind in ("table", "dataframe"):
        frame = node.value
        for j, col in enumerate(frame.columns):
            add(f" header {j}", col)
            for i, value in enumerate(frame.iloc[:, j].tolist()):
                if not _missing(value):
                    add(f" [{i}, {j}]", value)
    elif kind == "plotly_chart":
        out += [(f"{where} {path}", text) for path, text in figure_strings(plotly_spec(node))]
    elif kind == "iframe":
        document = node.proto.srcdoc
        add(" document", html_text(document) if document else node.proto.src)
        for n, frame in enumerate(_read_html(document).frames if document else []):
            add(f" frame {n}", html_text(frame))
    elif kind == "code":
        add("", node.proto.code_text)
    elif kind == "json":
        add("", node.proto.body)
    elif kind in _WIDGETS:
        add(" label", getattr(node.proto, "label", ""))
        add(" help", getattr(node.proto, "help", ""))
    return out


def visible_strings(at) -> list[tuple[str, str]]:
    """Every string the last run shows, main area then sidebar: (element path, text)."""
    return [item for where, _indices, node in walk(at) for item in node_strings(where, node)]


def node_small_counts(where: str, node, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts one element shows: (where, snippet)."""
    kind = getattr(node, "type", "")
    if kind == "metric":
        label, value = normalise(node.label), normalise(node.value)
        out = [(f"{where} {label!r}", value)] if metric_is_small_count(label, value, threshold) else []
        for text in (label, value, node.proto.delta, node.proto.help):
            out += [(f"{where} {label!r}", s) for s in small_counts(text or "", threshold)]
        return out
    if kind in ("table", "dataframe"):
        return [(f"{where} {ref}", text) for ref, text in table_small_counts(node.value, threshold)]
    if kind == "plotly_chart":
        return [(f"{where} {path}", text) for path, text in figure_small_counts(plotly_spec(node), threshold)]
    if kind == "iframe" and node.proto.srcdoc:
        return [(f"{where} {ref}", text) for ref, text in html_small_counts(node.proto.srcdoc, threshold)]
    return [(w, snippet) for w, text in node_strings(where, node) for snippet in small_counts(text, threshold)]


def small_count_findings(at, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Every count from 1 to ``threshold - 1`` the last run shows at a count position: (element path, snippet)."""
    return [item for where, _indices, node in walk(at) for item in node_small_counts(where, node, threshold)]


# ---------------------------------------------------------------------------------------------------------------
# Download files (recorded by support.rendered_text.DownloadRecorder)
# ---------------------------------------------------------------------------------------------------------------

def csv_small_counts(name: str, data: bytes, threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts in a downloaded CSV table, read as text as a spreadsheet shows it ("12", "<5")."""
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return [(f"download {name} {ref}", text) for ref, text in table_small_counts(frame, threshold)]


def held_figures(make) -> list:
    """The plotly figures a deferred download callable holds: what PNG, SVG and HTML draw."""
    return [held for held in held_objects(make) if hasattr(held, "to_json") and hasattr(held, "data")]


def download_small_counts(at, downloads: Iterable[Download], threshold: int = THRESHOLD) -> list[tuple[str, str]]:
    """Small counts in the files behind the download buttons of the last run, each under the path of
    the block holding its button.

    CSV files are built and read (XLSX holds the same frame); PNG, SVG and HTML figure files are read
    through the figure their callable holds, once per figure, so no browser is started; a ready HTML
    document (the meeting report) is read as a page. PDF files are not read (the report's PDF is its
    HTML printed)."""
    blocks = {indices: where for where, indices, node in walk(at) if hasattr(node, "children")}

    def place(coordinates: tuple[int, ...]) -> str:
        for n in range(len(coordinates), 0, -1):
            if coordinates[:n] in blocks:
                return blocks[coordinates[:n]]
        return "main" if coordinates[:1] == (0,) else "sidebar"

    out: list[tuple[str, str]] = []
    figures: dict[int, tuple[list[str], str, object]] = {}
    for download in downloads:
        where = place(download.coordinates)
        if download.mimetype == "text/csv":
            data = download.make() if download.make is not None else download.data
            data = data.encode() if isinstance(data, str) else data
            out += [(f"{where} > {ref}", text) for ref, text in csv_small_counts(download.file_name, data, threshold)]
        if download.mimetype == "text/html" and download.data is not None:
            data = download.data.decode("utf-8") if isinstance(download.data, bytes) else str(download.data)
            out += [(f"{where} > download {download.file_name} {ref}", text)
                    for ref, text in html_small_counts(data, threshold)]
        for figure in held_figures(download.make):
            figures.setdefault(id(figure), ([], where, figure))[0].append(download.file_name)
    for names, where, figure in figures.values():
        spec = decode_typed_arrays(json.loads(figure.to_json()))
        out += [(f"{where} > download {'/'.join(names)} {path}", text)
                for path, text in figure_small_counts(spec, threshold)]
    return out
