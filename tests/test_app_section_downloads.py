"""Download buttons under the analysis sections' tables and figures (AppTest, combined sample): CSV/XLSX right under
each table, an export panel (layout fields, PNG/SVG/HTML) right under each figure, and each table's CSV is the table as shown (masked when
small-cell protection is on)."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from test_app_analysis_sections import RESPONSE, SURVIVAL, open_tab

from il2lib.export.files import table_to_csv_bytes
from support.apptest import markdown_tables, open_app, read_table, rerun

#: Survival tab -> (table keys, figure keys) drawn in it; the pairwise log-rank table sits beside the KM figure.
SURVIVAL_SECTIONS = {
    "Multivariable Cox": (["pairwise_lr_table", "cox_hr_table", "cox_ph_table"], ["cox_forest_chart"]),
    "Milestones & RMST": (["milestone_table", "milestone_diff_table", "rmst_table"], []),
    "Competing risks": (["cif_table"], ["cif_chart"]),
    "Time origin": (["origin_table"], ["origin_chart"]),
    "Published results": (["published_median_table"], ["published_median_chart"]),
}


def elements(at) -> list:
    """The page's elements in drawing order (blocks flattened)."""
    def walk(node):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for index in sorted(children):
                yield from walk(children[index])
        else:
            yield node
    return list(walk(at.main))


def element_id(element) -> str:
    return getattr(getattr(element, "proto", None), "id", "") or ""


def check_downloads(at, download_buttons: dict, tables, charts) -> None:
    """CSV, XLSX right after each table (the CSV being that table); the export panel right after each chart (opened:
    its fields are drawn only while it is open)."""
    if charts:
        for key in charts:
            at.session_state[f"dl_panel_{key}"] = True
        rerun(at)
    shown = elements(at)
    ids = [element_id(e) for e in shown]

    def position(key: str) -> int:
        found = [i for i, x in enumerate(ids) if x.endswith(f"-{key}")]
        assert len(found) == 1, (key, [x.rsplit("-", 1)[-1] for x in ids if "dl_" in x])
        return found[0]

    for key in tables:
        i = position(f"dl_csv_{key}")
        before = shown[i - 1]  # a table, or a Markdown block ending with a small table
        assert before.type in ("table", "dataframe", "markdown") and ids[i + 1].endswith(f"-dl_xlsx_{key}"), key
        table = markdown_tables(before.value)[-1] if before.type == "markdown" else read_table(before)
        assert download_buttons[f"dl_csv_{key}"]["data"]() == table_to_csv_bytes(table), key
    for key in charts:  # the chart, then its export panel: the layout fields, then PNG, SVG, HTML
        i = position(f"dl_png_{key}")
        chart = max(j for j in range(i) if shown[j].type == "plotly_chart")
        assert ids[chart].endswith(f"-{key}"), key
        fields = shown[chart + 1:i]
        assert fields and all(f"_{key}" in element_id(e) or e.type in ("markdown", "caption") for e in fields), \
            (key, [element_id(e) or e.type for e in fields])
        assert ids[i + 1].endswith(f"-dl_svg_{key}") and ids[i + 2].endswith(f"-dl_html_{key}"), key


def xlsx_cells(download_buttons: dict, key: str) -> list[str]:
    sheet = load_workbook(io.BytesIO(download_buttons[f"dl_xlsx_{key}"]["data"]())).active
    return [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]


def test_response_sections_download_the_tables_as_shown_masked(download_buttons):
    at = open_app({"resp_by": "prior_pd1_agent"}, page=RESPONSE)
    at.toggle(key="w_published").set_value(True)
    at.toggle(key="w_mask").set_value(True)
    rerun(at)
    check_downloads(at, download_buttons, ["pairwise_fisher_table", "published_orr_table"], ["published_orr_chart"])
    csv = download_buttons["dl_csv_published_orr_table"]["data"]().decode("utf-8-sig")
    # published counts are shown as printed in the paper; this cohort's counts here are all 5 or more
    assert ",4/17," in csv and "<5" not in csv and "masked" not in csv
    cells = xlsx_cells(download_buttons, "published_orr_table")
    assert cells[0] == "Objective response rate by disease: our cohort vs the published PROCLAIM series"
    assert any(c.startswith("Published: Buchbinder") for c in cells)
    assert xlsx_cells(download_buttons, "pairwise_fisher_table")[0] == ("Pairwise comparisons of ORR by prior PD-1/PD-L1 agent "
                                                             "(Fisher's exact test)")
    assert download_buttons["dl_png_published_orr_chart"]["file_name"] == "orr_vs_published.png"


def test_survival_sections_download_every_table_and_figure(download_buttons):
    at = open_app({"km_by": "line_of_il2"}, page=SURVIVAL)
    for tab, (tables, charts) in SURVIVAL_SECTIONS.items():
        if tab == "Time origin":  # the last two tabs with small-cell protection on
            at.toggle(key="w_mask").set_value(True)
        open_tab(at, tab)
        if tab == "Published results":
            at.toggle(key="w_published").set_value(True)
            rerun(at)
        check_downloads(at, download_buttons, tables, charts)
    titles = {key: xlsx_cells(download_buttons, key)[0] for key in ("cox_hr_table", "rmst_table", "cif_table", "origin_table")}
    assert titles["cox_hr_table"] == "Overall survival: multivariable Cox model, hazard ratios"
    assert titles["rmst_table"].startswith("Restricted mean survival time to ")
    assert titles["rmst_table"].endswith(" months: Overall survival by line of IL-2")
    assert titles["cif_table"].startswith("Cumulative incidence of progression")
    assert titles["origin_table"] == "Overall survival from IL-2 start: medians with delayed entry, by line of IL-2"
    assert any("Efron ties; Wald CIs." in c for c in xlsx_cells(download_buttons, "cox_hr_table"))
    assert download_buttons["dl_csv_pairwise_lr_table"]["file_name"] == "pairwise_logrank_os_by_line_of_il2.csv"
    assert "multivariable Cox model" in download_buttons["dl_html_cox_forest_chart"]["data"]()  # the figure shown, offline


def test_survival_result_tables_beside_the_figure_download_as_shown_with_data_and_filters(download_buttons):
    at = open_app({"km_by": "prior_pd1_pdl1", "disease": "melanoma"}, page=SURVIVAL)
    check_downloads(at, download_buttons, ["median_os", "milestones_os", "cox_hazard_ratio"], [])
    for key, title in (("median_os", "Median survival"), ("milestones_os", "Survival at 12 / 24 / 36 months"),
                       ("cox_hazard_ratio", "Cox proportional-hazards model")):
        cells = xlsx_cells(download_buttons, key)  # title, the table, then the data and the filters it was computed on
        assert cells[0] == title
        assert cells[-1] == "Combined sample (PROCLAIM-like + community-like) · synthetic · n = 70 of 107 patients · Melanoma"
