"""Helpers that drive and read the Streamlit page the way a person does (Playwright sync API)."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable, TypeVar

from playwright.sync_api import Locator, Page, expect

from .server import ARTIFACTS

APP = '[data-testid="stApp"]'
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
STATUS = '[data-testid="stStatusWidget"]'
EXCEPTION = '[data-testid="stException"]'
UPLOAD_INPUT = '[data-testid="stFileUploader"] input[type="file"]'
PLOTLY = ".js-plotly-plot"
METRIC_VALUE = '[data-testid="stMetricValue"]'
PAGE_LINK = '[data-testid="stPageLink-NavLink"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'
WARNING_ALERT = '[data-testid="stAlertContentWarning"]'
ALERT = '[data-testid="stAlertContainer"]'

#: Text that must never reach the screen (a Python error leaking out of the app).
LEAK_PATTERNS = ("Traceback (most recent call last)", "Traceback", 'File "/')

DEFAULT_TIMEOUT_MS = 60_000
T = TypeVar("T")


def eventually(check: Callable[[], T], timeout_s: float = 20.0, interval_s: float = 0.25) -> T:
    """Run ``check`` until it stops raising AssertionError (plotly redraws a moment after the script ends)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval_s)


def wait_idle(page: Page, timeout_ms: int = DEFAULT_TIMEOUT_MS, settle_ms: int = 300) -> None:
    """Wait until the Streamlit script finished: app connected and not running, no status widget, no stale
    element, no skeleton (a widget whose code is still loading), and the state stayed so for ``settle_ms``
    (a rerun can start a moment after a click)."""
    deadline = time.monotonic() + timeout_ms / 1000
    stable_since: float | None = None
    while time.monotonic() < deadline:
        if _looks_idle(page):
            stable_since = stable_since or time.monotonic()
            if (time.monotonic() - stable_since) * 1000 >= settle_ms:
                return
        else:
            stable_since = None
        page.wait_for_timeout(100)
    raise AssertionError(f"Streamlit script still running after {timeout_ms / 1000:.0f} s")


def _looks_idle(page: Page) -> bool:
    return page.evaluate(
        """([app, status]) => {
            const root = document.querySelector(app);
            if (!root) return false;
            if (root.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
            if (root.getAttribute('data-test-script-state') !== 'notRunning') return false;
            if (document.querySelectorAll(status).length > 0) return false;
            if (document.querySelectorAll('[data-testid="stSkeleton"]').length > 0) return false;
            return document.querySelectorAll('[data-stale="true"]').length === 0;
        }""",
        [APP, STATUS],
    )


def assert_clean(page: Page) -> None:
    """No exception box anywhere and no traceback text on the page."""
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        title = page.title()
        raise AssertionError(f"exception box on the page '{title}': {boxes.first.inner_text()[:400]!r}\n"
                             f"main area:\n{main_text(page)[:1200]}")
    text = page_text(page)
    for pattern in LEAK_PATTERNS:
        assert pattern not in text, f"{pattern!r} on the page:\n{text[:3000]}"


def settle(page: Page) -> None:
    """Wait for the script to finish, then check the page shows no error leak."""
    wait_idle(page)
    assert_clean(page)


def open_app(page: Page, url: str) -> None:
    """Go to ``url`` and wait until the first script run rendered text in the main area."""
    page.goto(url)
    expect(page.locator(MAIN)).to_contain_text(re.compile(r"\w"), timeout=DEFAULT_TIMEOUT_MS)
    settle(page)


def page_text(page: Page) -> str:
    return page.locator("body").inner_text()


def main_text(page: Page) -> str:
    return page.locator(MAIN).inner_text()


def shot(page: Page, name: str) -> Path:
    """Screenshot of the whole (tall) viewport under tests/artifacts/<name>.png."""
    wait_idle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def go_to_page(page: Page, label: str) -> None:
    """Click the sidebar page link called ``label`` and wait for the page to run."""
    name = page.get_by_text(label, exact=True)
    link = page.locator(SIDEBAR).locator(PAGE_LINK).filter(has=name)
    if link.count() == 0:  # automatic navigation, if the app shows it
        link = page.locator(f'{SIDEBAR} [data-testid="stSidebarNav"] a').filter(has=name)
    link.first.click()
    page.wait_for_timeout(200)
    settle(page)


def open_models_tab(page: Page, tab: str) -> None:
    """On the Survival page, open the collapsed "Models and further comparisons" section on ``tab``."""
    if page.get_by_role("tab", name=tab).count() == 0:
        page.locator('[data-testid="stExpander"] summary').filter(has_text="Models and further comparisons").click()
        settle(page)
    page.get_by_role("tab", name=tab).click()
    page.wait_for_timeout(200)
    settle(page)


def upload(page: Page, path: Path, index: int = 0) -> None:
    """Upload ``path`` through the real file input number ``index`` and wait for the rerun."""
    page.locator(UPLOAD_INPUT).nth(index).set_input_files(str(path))
    page.wait_for_timeout(300)
    settle(page)


def widget(page: Page, testid: str, label: str | re.Pattern) -> Locator:
    """The widget container ``[data-testid=testid]`` whose label text matches ``label``."""
    pattern = label if isinstance(label, re.Pattern) else re.compile(re.escape(label), re.I)
    return page.locator(f'[data-testid="{testid}"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').filter(has_text=pattern)
    ).first


def combobox(page: Page, label: str | re.Pattern) -> Locator:
    """The st.selectbox / st.multiselect input named ``label`` (Streamlit 1.67 draws a react-aria combobox)."""
    return page.get_by_role("combobox", name=label).first


def choose_select(page: Page, label: str | re.Pattern, option: str | re.Pattern) -> None:
    """Pick ``option`` in the st.selectbox (or add it in the st.multiselect) labelled ``label``."""
    combobox(page, label).click()
    page.get_by_role("option", name=option).first.click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    settle(page)


def choose_radio(page: Page, label: str | re.Pattern, option: str | re.Pattern) -> None:
    """Pick ``option`` in the st.radio labelled ``label``."""
    box = widget(page, "stRadio", label)
    box.get_by_text(option, exact=isinstance(option, str)).first.click()
    page.wait_for_timeout(200)
    settle(page)


def metric(page: Page, label: str | re.Pattern) -> str:
    """Displayed value of the st.metric labelled ``label``."""
    pattern = label if isinstance(label, re.Pattern) else re.compile(re.escape(label), re.I)
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').filter(has_text=pattern)
    ).first
    return box.locator(METRIC_VALUE).inner_text().strip()


def wait_for_metric(page: Page, label: str, value: str) -> None:
    """Wait until the st.metric labelled ``label`` reads ``value`` (a button's rerun can start late under
    load, after the page looked idle), then settle; fails with the value last shown."""
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').filter(has_text=re.compile(re.escape(label), re.I))
    ).first
    expect(box.locator(METRIC_VALUE)).to_have_text(value, timeout=DEFAULT_TIMEOUT_MS)
    settle(page)


def plotly_traces(page: Page, index: int = 0) -> list[dict]:
    """Every trace of the plotly figure number ``index`` as plotly.js holds it after drawing
    (``_fullData``: arrays decoded): name, mode, axes, legend flag, x values and text."""
    return page.evaluate(
        """([sel, i]) => {
            const gd = document.querySelectorAll(sel)[i];
            if (!gd || !gd._fullData) return null;
            const arr = (v) => (v == null ? [] : Array.from(v));
            return gd._fullData.map(t => ({name: t.name ?? null, type: t.type ?? null, mode: t.mode ?? null,
                                           showlegend: t.showlegend !== false, visible: t.visible,
                                           legendgroup: t.legendgroup || null, xaxis: t.xaxis, yaxis: t.yaxis,
                                           x: arr(t.x), text: typeof t.text === 'string' ? [t.text] : arr(t.text)}));
        }""",
        [PLOTLY, index],
    )


def figure_title(page: Page, index: int = 0) -> str:
    """The drawn title (with subtitle) of plotly figure number ``index``."""
    return " ".join(page.locator(PLOTLY).nth(index).locator(".gtitle, .gtitle-subtitle").all_text_contents())


def legend_labels(page: Page, index: int = 0) -> list[str]:
    """Legend entries as drawn in the SVG of plotly figure number ``index``."""
    plot = page.locator(PLOTLY).nth(index)
    return [t.strip() for t in plot.locator("g.legend g.traces text.legendtext").all_text_contents() if t and t.strip()]


# grids, the static result tables, and the small tables of Markdown elements (app_ui.markdown.markdown_table)
GRID = '[data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stMarkdownContainer"]:has(> table)'
GRID_HEADER = '[role="columnheader"], thead th'
GRID_CELLS = ('[data-testid="stDataFrame"] [role="gridcell"], [data-testid="stDataFrame"] [role="columnheader"], '
              '[data-testid="stTable"] td, [data-testid="stTable"] th, '
              '[data-testid="stMarkdownContainer"] > table td, [data-testid="stMarkdownContainer"] > table th')
GRID_ROW_PX = 35  # Streamlit's default row (and header) height in st.dataframe / st.data_editor


def grid_rows(grid: Locator) -> list[dict[str, str]]:
    """Rows of a table: a static table's HTML rows, or a grid's (st.dataframe / st.data_editor)
    accessibility table (the canvas has no text)."""
    return grid.evaluate(
        """(el) => {
            const html = el.querySelector('table:not([role])');
            const headSel = html ? 'thead th' : '[role="columnheader"]';
            const cellSel = html ? 'td' : '[role="gridcell"]';
            const heads = [...el.querySelectorAll(headSel)].map(h => h.textContent.trim());
            const rows = [...el.querySelectorAll(html ? 'tbody tr' : '[role="row"]')].filter(r => r.querySelector(cellSel));
            return rows.map(r => Object.fromEntries(
                [...r.querySelectorAll(cellSel)].map((c, i) => [heads[i] ?? String(i), c.textContent.trim()])));
        }"""
    )


def grid_headers(grid: Locator) -> list[str]:
    return [h.strip() for h in grid.locator(GRID_HEADER).all_text_contents()]


def grid_row(page: Page, grid: Locator, column: str, value: str) -> tuple[int, dict[str, str]]:
    """The first row whose ``column`` cell reads ``value``: its 0-based index and its cells by header,
    scrolling the grid with the mouse wheel (it only keeps the visible rows in its accessibility table)."""
    expect(grid.locator(GRID_HEADER).filter(has_text=column).first).to_be_attached(timeout=DEFAULT_TIMEOUT_MS)
    headers = grid_headers(grid)
    col = headers.index(column) + 1
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None, "grid not visible"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(100):
        found = grid.evaluate(
            """(el, [col, value]) => {
                for (const row of el.querySelectorAll('tbody [role="row"]')) {
                    const cell = row.querySelector(`[aria-colindex="${col}"]`);
                    if (cell && cell.textContent.trim() === value) {
                        const cells = [...row.querySelectorAll('[aria-colindex]')].map(
                            c => [Number(c.getAttribute('aria-colindex')), c.textContent.trim()]);
                        return [Number(row.getAttribute('aria-rowindex')) - 2, cells];
                    }
                }
                return null;
            }""",
            [col, value],
        )
        if found is not None:
            page.mouse.wheel(0, -100_000)
            # back at the top before anyone counts rows from the first one
            expect(grid.locator('tbody [role="row"]').first).to_have_attribute("aria-rowindex", "2")
            page.wait_for_timeout(200)
            index, cells = found
            return index, {headers[k - 1]: text for k, text in cells if 0 < k <= len(headers)}
        page.mouse.wheel(0, 3 * GRID_ROW_PX)
        page.wait_for_timeout(60)
    raise AssertionError(f"no row with {column} = {value!r} in the grid")


def grid_row_index(page: Page, grid: Locator, column: str, value: str) -> int:
    """0-based index of the first row whose ``column`` cell reads ``value``."""
    return grid_row(page, grid, column, value)[0]


def edit_grid_select(page: Page, grid: Locator, row: int, column: str, option_text: str) -> None:
    """Set the selectbox cell (``row``, ``column``) of an st.data_editor by keyboard, as a person would:
    click the first cell, arrow down to the row and right to the column, Enter opens the list, type, pick."""
    col = grid_headers(grid).index(column)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None, "data editor not visible"
    page.mouse.click(box["x"] + 8, box["y"] + GRID_ROW_PX * 1.5)
    # whatever row the grid was scrolled to, walk up to the first cell before counting rows down
    n_rows = int(grid.locator("[aria-rowcount]").first.get_attribute("aria-rowcount") or 0)
    for _ in range(n_rows):
        page.keyboard.press("ArrowUp")
    for _ in range(row):
        page.keyboard.press("ArrowDown")
    for _ in range(col):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.locator('[role="listbox"]').first.wait_for()
    page.keyboard.type(option_text)
    page.get_by_role("option", name=option_text, exact=True).first.click()
    page.keyboard.press("Escape")
    page.locator(f"{MAIN} h1").first.click()  # leave the grid, as a person does before pressing a button
    page.wait_for_timeout(300)
    settle(page)


BLOCKING_IMPACTS = ("critical", "serious")


def axe_violations(page: Page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """axe-core (bundled by axe-playwright-python) violations of the given impacts on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s)]")
        for node in v["nodes"][:5]:
            detail = "; ".join(item["message"] for item in node.get("any", []) + node.get("all", []))
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}  -- {detail[:240]}")
    return "\n".join(lines)


_N_OF = re.compile(r"n = ([\d,]+) of ([\d,]+) patients")


def sidebar_counts(page: Page) -> tuple[int, int]:
    """The sidebar summary "n = X of Y patients" as (X, Y)."""
    text = page.locator(SIDEBAR).inner_text()
    match = _N_OF.search(text)
    assert match, f"no 'n = X of Y patients' in the sidebar:\n{text}"
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def grids_text(page: Page) -> str:
    """All cell text of every table on the page (a grid draws on a canvas: its text is in its a11y table)."""
    return "\n".join(page.locator(GRID_CELLS).all_text_contents())


def visible_text(page: Page) -> str:
    """What a person can read: the page text plus the cell text of the data grids."""
    return page_text(page) + "\n" + grids_text(page)


def find_grid(page: Page, header: str | re.Pattern) -> Locator:
    """The first table (static or grid) whose column headers include one matching ``header``."""
    pattern = header if isinstance(header, re.Pattern) else re.compile(rf"^{re.escape(header)}$")
    return page.locator(GRID).filter(has=page.locator(GRID_HEADER).filter(has_text=pattern)).first


def open_expander(page: Page, title_start: str) -> None:
    """Click open the st.expander whose title starts with ``title_start`` (no-op when already open)."""
    expander = page.locator('[data-testid="stExpander"] details').filter(
        has=page.locator("summary").filter(has_text=re.compile(rf"^\W*\w*\W*{re.escape(title_start)}"))
    ).first
    if expander.get_attribute("open") is None:
        expander.locator("summary").first.click()
        page.wait_for_timeout(200)
        settle(page)


def km_curves(page: Page, index: int = 0) -> list[str]:
    """Group names of the Kaplan-Meier step curves (the legend entries) of figure number ``index``."""
    traces = plotly_traces(page, index) or []
    return [t["name"] for t in traces if t["mode"] == "lines" and t["showlegend"] and t["yaxis"] == "y"]


def at_risk_rows(page: Page, index: int = 0) -> dict[str, list[tuple[float, str]]]:
    """Number-at-risk rows of the figure: {group: [(time, count text), ...]} from its text traces."""
    traces = plotly_traces(page, index) or []
    return {t["name"].removesuffix(" at risk"): list(zip(t["x"], t["text"]))
            for t in traces if t["mode"] == "text" and t["name"].endswith(" at risk")}


def multiselect_values(page: Page, label: str) -> list[str]:
    """The chips (chosen values) shown in the st.multiselect labelled ``label``."""
    box = widget(page, "stMultiSelect", label)
    return [t.strip() for t in box.locator("[data-tag]").all_text_contents()]


def km_geometry(page: Page, index: int = 0) -> dict:
    """On-screen boxes [left, top, right, bottom] of the parts of a Kaplan-Meier figure: the curve panel,
    its x tick labels and title, the number-at-risk texts and row labels, the figure and the viewport."""
    return page.evaluate(
        """([sel, i]) => {
            const gd = document.querySelectorAll(sel)[i];
            const box = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
            const all = (q) => [...gd.querySelectorAll(q)].map(el => ({text: el.textContent, box: box(el)}));
            return {
                figure: box(gd),
                viewport: [0, 0, window.innerWidth, window.innerHeight],
                panel: box(gd.querySelector('.draglayer .xy .nsewdrag')),
                xticks: all('.xaxislayer-above .xtick text').filter(t => t.text !== ''),
                xtitle: all('.g-xtitle text'),
                risk: all('.subplot.x2y2 .textpoint text'),
                risk_labels: all('.yaxislayer-above .y2tick text'),
                titles: all('.infolayer .gtitle, .infolayer .gtitle-subtitle'),
                legend: all('.infolayer .legend .bg'),
                yticks: all('.yaxislayer-above .ytick text').filter(t => t.text !== ''),
            };
        }""",
        [PLOTLY, index],
    )


def font_sizes(page: Page) -> dict[str, float]:
    """Computed font sizes (px) of main-area text, widget labels, metric values and the plotly figure."""
    return page.evaluate(
        """() => {
            const px = (q) => { const e = document.querySelector(q); return e ? parseFloat(getComputedStyle(e).fontSize) : null; };
            const gd = document.querySelector('.js-plotly-plot');
            return {text: px('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p'),
                    label: px('[data-testid="stMain"] [data-testid="stWidgetLabel"] p'),
                    caption: px('[data-testid="stMain"] [data-testid="stCaptionContainer"]'),
                    metric: px('[data-testid="stMetricValue"]'),
                    figure: gd && gd._fullLayout ? gd._fullLayout.font.size : null};
        }"""
    )


def curve_styles(page: Page, index: int = 0) -> list[tuple[float, str]]:
    """(line width, colour) of each Kaplan-Meier curve of figure number ``index``."""
    return [tuple(x) for x in page.evaluate(
        """([sel, i]) => document.querySelectorAll(sel)[i]._fullData
                .filter(t => t.mode === 'lines' && t.showlegend !== false && t.yaxis === 'y')
                .map(t => [t.line.width, t.line.color])""",
        [PLOTLY, index],
    )]


def sidebar_hidden(page: Page) -> bool:
    box = page.locator(SIDEBAR).bounding_box()
    return box is None or box["width"] == 0 or box["x"] + box["width"] <= 0


def figure_problems(page: Page) -> list[str]:
    """Readability problems of every plotly figure on the page: a title or subtitle cut off by the figure
    edge, an annotation or the legend drawn over a title, a legend that needs scrolling (entries hidden)."""
    return page.evaluate(
        """(sel) => {
            const problems = [];
            const box = (el) => el.getBoundingClientRect();
            const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
            // text boxes include line spacing: count an overlap only when it covers 30 % of the lower box's height
            const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
                && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.3 * Math.min(a.height, b.height);
            document.querySelectorAll(sel).forEach((gd, i) => {
                const fig = box(gd);
                const first = gd.querySelector('.gtitle');
                const name = first ? first.textContent.slice(0, 50) : `figure ${i + 1}`;
                const titles = [...gd.querySelectorAll('.infolayer .gtitle, .infolayer .gtitle-subtitle')];
                for (const t of titles) {
                    if (!inside(box(t), fig)) problems.push(`${name}: title cut off: "${t.textContent.slice(0, 80)}"`);
                }
                const covering = [...gd.querySelectorAll('.infolayer .annotation-text, .infolayer .legend .bg')];
                for (const c of covering) {
                    for (const t of titles) {
                        if (overlap(box(c), box(t))) {
                            const what = c.classList.contains('bg') ? 'legend' : `annotation "${c.textContent}"`;
                            problems.push(`${name}: ${what} drawn over "${t.textContent.slice(0, 60)}"`);
                        }
                    }
                }
                const bar = gd.querySelector('.infolayer .legend .scrollbar');
                if (bar && box(bar).height > 0) problems.push(`${name}: legend too small, entries hidden behind a scrollbar`);
            });
            return problems;
        }""",
        PLOTLY,
    )
