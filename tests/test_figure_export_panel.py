"""A figure laid out for export (size presets, edited title and axis titles, font scale, footnote under the plot),
file names that say endpoint, grouping and filter, and the export panel under each figure: a 16:9 slide with
its statistics in the footnote by default, counts in it as shown under small-cell protection, one PNG route."""
from __future__ import annotations

import io
import json
import re
import struct

import numpy as np
import plotly.graph_objects as go
import pytest

from il2lib.cohort import CohortFilter
from il2lib.export.files import figure_to_png, figure_to_svg
from il2lib.figures.export_layout import (FOOTNOTE_NAME, MAX_STEM, SIZE_PRESETS, ExportOptions, export_figure,
                                          figure_texts, file_stem, output_size)
from il2lib.figures.km import km_figure
from il2lib.survival import kaplan_meier
from support.apptest import open_app, rerun

SURVIVAL, TOXICITY, RESPONSE = "pages/3_Survival.py", "pages/5_Toxicity.py", "pages/2_Response.py"
TIME = np.array([1, 2, 2, 3, 5, 6, 8, 8, 9, 12, 14, 15, 20, 22, 30, 31, 40, 45], dtype=float)
EVENT = np.array([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
GROUP = np.array(["Melanoma", "RCC"] * 9)
NOTE = ("Log-rank p = 0.012. Cox HR (95% CI): RCC vs Melanoma 0.65 (0.41–1.03). Median, months (95% CI): "
        "Melanoma 14.2 (10.1–20.3); RCC 22.0 (15.0–NR). Pointwise 95% CI, log-log transformation.")


@pytest.fixture(scope="module")
def km():
    curves = dict(kaplan_meier(TIME, EVENT, by=GROUP).items())
    return km_figure(curves, title="Overall survival by disease",
                     subtitle="Combined sample (synthetic) · n = 18 of 18 patients · All patients")


def footnotes(fig: go.Figure) -> list:
    return [a for a in fig.layout.annotations if a.name == FOOTNOTE_NAME]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_slide_preset_sets_the_size_replaces_titles_and_adds_the_footnote_on_a_copy(km):
    before = km.to_plotly_json()
    out = export_figure(km, ExportOptions(preset="slide", title="OS by disease", x_title="Months",
                                          y_title="Overall survival", footnote=NOTE))
    assert (out.layout.width, out.layout.height) == (1280, 720)
    assert out.layout.title.text == "OS by disease" and out.layout.title.subtitle.text
    assert out.layout.xaxis.title.text == "Months" and out.layout.yaxis.title.text == "Overall survival"
    [note] = footnotes(out)
    assert note.text.replace("<br>", " ") == NOTE and note.yref == "paper" and note.yanchor == "top"
    assert out.layout.margin.b > -note.yshift, "the margin holds the footnote under the axis"
    assert out.layout.font.size == pytest.approx(16), "the preset's text size"
    assert km.to_plotly_json() == before, "the figure on screen is left as it is"
    assert figure_texts(km).title == "Overall survival by disease"
    assert figure_texts(km).x_title == "Months since IL-2 start" and figure_texts(km).footnote == ""


def test_font_scale_multiplies_every_text_size(km):
    one, big = (export_figure(km, ExportOptions(font_scale=s)) for s in (1.0, 1.5))
    assert big.layout.font.size == pytest.approx(1.5 * one.layout.font.size)
    assert big.layout.title.subtitle.font.size == pytest.approx(1.5 * one.layout.title.subtitle.font.size)
    rows = [t for t in big.data if t.name.endswith("at risk")]
    same = [t for t in one.data if t.name == rows[0].name][0]
    assert rows and rows[0].textfont.size == pytest.approx(1.5 * same.textfont.size, rel=1e-3)


def test_a_long_footnote_is_wrapped_to_the_width_and_the_bottom_margin_grows_with_it(km):
    without = export_figure(km, ExportOptions(preset="column"))
    with_note = export_figure(km, ExportOptions(preset="column", footnote=NOTE))
    lines = footnotes(with_note)[0].text.split("<br>")
    assert len(lines) >= 4 and max(map(len, lines)) < 60
    assert with_note.layout.margin.b > without.layout.margin.b + 3 * 10


def test_the_risk_table_keeps_its_height_in_pixels_and_the_curves_take_the_rest(km):
    out = export_figure(km, ExportOptions(preset="slide", footnote=NOTE))
    area = out.layout.height - out.layout.margin.t - out.layout.margin.b
    old_area = km.layout.height - km.layout.margin.t - km.layout.margin.b
    factor = out.layout.font.size / km.layout.font.size
    assert out.layout.yaxis.domain[0] * area == pytest.approx(km.layout.yaxis.domain[0] * old_area * factor, rel=0.01)
    assert out.layout.yaxis2.domain[1] <= out.layout.yaxis.domain[0]


def test_a_footnote_the_figure_carries_is_the_default_and_is_replaced_not_doubled():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), layout={"xaxis": {"title": {"text": "Rate, %"}}})
    fig.add_annotation(text="Between groups: ORR p = 0.47<br>(Fisher's exact test).", xref="paper", yref="paper",
                       x=0, y=0, xanchor="left", yanchor="top", yshift=-52, showarrow=False)
    assert figure_texts(fig).footnote == "Between groups: ORR p = 0.47 (Fisher's exact test)."
    out = export_figure(fig, ExportOptions(footnote="Edited note."))
    assert [a.text for a in out.layout.annotations] == ["Edited note."]


def test_a_removed_title_leaves_no_title_and_an_escaped_one_stays_text(km):
    assert export_figure(km, ExportOptions(title="")).layout.title.text == ""
    assert export_figure(km, ExportOptions(title="<b>x</b> & y")).layout.title.text == "&lt;b&gt;x&lt;/b&gt; &amp; y"


@pytest.mark.parametrize("preset", ["slide", "half", "column"])
def test_the_png_is_the_preset_size_times_its_scale(km, preset):
    out = export_figure(km, ExportOptions(preset=preset, footnote=NOTE))
    width, height, scale = output_size(km, preset)
    assert png_size(figure_to_png(out, scale=scale)) == (round(width * scale), round(height * scale))
    assert (width, height) == (SIZE_PRESETS[preset].width, SIZE_PRESETS[preset].height)
    if preset == "slide":
        assert png_size(figure_to_png(out, scale=scale)) == (1920, 1080)


def test_file_names_say_endpoint_grouping_and_filter():
    assert file_stem("km_os", "disease") == "km_os_by_disease"
    melanoma = file_stem("km_os", "disease", CohortFilter(disease=("melanoma",)))
    pd1 = file_stem("km_os", "disease", CohortFilter(disease=("melanoma",), prior_pd1_pdl1=(True,)))
    assert melanoma == "km_os_by_disease_melanoma" and pd1 == "km_os_by_disease_melanoma_prior-pd1-yes"
    many = CohortFilter(disease=("melanoma", "rcc"), sex=("female",), line_of_il2=("1", "2"), age_range=(40, 70),
                        ecog=(0, 1), source=("proclaim", "community"), prior_pd1_agent=("nivolumab", "pembrolizumab"))
    fewer = CohortFilter(disease=("melanoma", "rcc"), sex=("female",), line_of_il2=("1", "2"), age_range=(40, 70),
                         ecog=(0, 1), source=("proclaim", "community"), prior_pd1_agent=("nivolumab",))
    long_a, long_b = file_stem("km_os", "disease", many), file_stem("km_os", "disease", fewer)
    assert len(long_a) <= MAX_STEM and len(long_b) <= MAX_STEM and long_a != long_b
    assert re.fullmatch(r"[a-z0-9_\-]+", long_a)


# ---------------------------------------------------------------------------------------------- the page
def open_panel(at, base: str):
    """Open the export panel of the figure keyed ``base`` (its fields are drawn only while it is open)."""
    at.session_state[f"dl_panel_{base}"] = True
    return rerun(at)


def panel_footnote(at, base: str) -> str:
    open_panel(at, base)
    [area] = [a for a in at.get("text_area") if a.key.startswith(f"fx_note_{base}_")]
    return area.value


def test_survival_panel_gives_a_16_9_slide_with_its_statistics_named_after_the_filter(download_buttons):
    at = open_app({"disease": "melanoma,rcc", "prior_pd1_pdl1": "yes"}, page=SURVIVAL)
    assert not [s for s in at.selectbox if s.key == "fx_size_km_chart"], "a closed panel draws no fields"
    open_panel(at, "km_chart")
    assert [s.value for s in at.selectbox if s.key == "fx_size_km_chart"] == ["slide"]
    note = panel_footnote(at, "km_chart")
    for part in ("Log-rank p", "Cox HR (95% CI)", "Median, months (95% CI)", "n (events)",
                 "Pointwise 95% CI, log-log transformation."):
        assert part in note, part
    png = download_buttons["dl_png_km_chart"]
    assert png["file_name"] == "km_os_by_disease_melanoma-rcc_prior-pd1-yes.png"
    assert png_size(png["data"]()) == (1920, 1080)
    svg = download_buttons["dl_svg_km_chart"]["data"]().decode()
    assert "Log-rank p" in svg and "log-log transformation" in svg
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert "toImage" in config["modeBarButtonsToRemove"], "one PNG route: the panel's"


def test_the_footnote_follows_the_edited_text_and_the_file_follows_the_panel(download_buttons):
    at = open_panel(open_app(page=SURVIVAL), "km_chart")
    [area] = [a for a in at.get("text_area") if a.key.startswith("fx_note_km_chart_")]
    area.set_value("My own footnote.").run()
    [title] = [t for t in at.text_input if t.key.startswith("fx_title_km_chart_")]
    title.set_value("OS in our HD IL-2 cohort").run()
    [size] = [s for s in at.selectbox if s.key == "fx_size_km_chart"]
    size.set_value("half").run()
    svg = download_buttons["dl_svg_km_chart"]["data"]().decode()
    assert "My own footnote." in svg and "OS in our HD IL-2 cohort" in svg and "Log-rank p" not in svg
    assert png_size(download_buttons["dl_png_km_chart"]["data"]()) == (960, 1080)


def test_a_closed_panel_keeps_what_was_chosen_and_typed_for_its_next_opening():
    at = open_panel(open_app(page=SURVIVAL), "km_chart")
    [size] = [s for s in at.selectbox if s.key == "fx_size_km_chart"]
    size.set_value("column").run()
    [title] = [t for t in at.text_input if t.key.startswith("fx_title_km_chart_")]
    title.set_value("OS in our HD IL-2 cohort").run()
    at.session_state["dl_panel_km_chart"] = False  # closed, then a filter-free rerun, then opened again
    rerun(rerun(at))
    assert not [s for s in at.selectbox if s.key == "fx_size_km_chart"]
    open_panel(at, "km_chart")
    assert [s.value for s in at.selectbox if s.key == "fx_size_km_chart"] == ["column"]
    assert [t.value for t in at.text_input if t.key.startswith("fx_title_km_chart_")] == ["OS in our HD IL-2 cohort"]
    assert not at.warning and not at.exception


def test_under_small_cell_protection_the_footnote_shows_counts_as_the_tables_do():
    at = open_app({"mask": "1", "disease": "melanoma", "line_of_il2": "3+", "km_by": "source"}, page=SURVIVAL)
    note = panel_footnote(at, "km_chart")
    counts = re.search(r"n \(events\): (.*?)\.", note).group(1)
    assert "<5" in counts or "masked" in counts, counts
    assert not re.search(r"(?<![<\d.])[1-4](?![\d.%])", counts), counts


def test_toxicity_and_response_footnotes_carry_their_tests():
    tox = open_app({"tox_by": "prior_pd1_pdl1", "tox_g3": "1"}, page=TOXICITY)
    note = panel_footnote(tox, "ae_grades")
    assert note.startswith("Any grade >= 3 AE: ") and "Fisher's exact test" in note and "p = " in note
    response = open_app({"resp_by": "prior_pd1_pdl1"}, page=RESPONSE)
    note = panel_footnote(response, "orr_cbr_by_prior_pd1_pdl1")
    assert note.startswith("Between groups: ORR p") and "Clopper-Pearson" in note


def test_survival_display_toggles_are_read_from_and_written_to_the_url():
    at = open_app({"km_median": "1", "km_ci": "0", "km_risk": "0"}, page=SURVIVAL)
    toggles = {t.key: t.value for t in at.toggle}
    assert toggles["w_km_median"] is True and toggles["w_km_ci"] is False and toggles["w_km_risk"] is False
    assert toggles["w_km_censor"] is True
    at.toggle(key="w_km_censor").set_value(False).run()
    assert at.query_params.get("km_censor") in ("0", ["0"])
    assert not [a for a in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
                if str(a.get("name", "")).endswith("lower CI")], "no band with km_ci=0"
    by_line = open_app({"km_by": "line_of_il2"}, page=SURVIVAL)
    assert {t.key: t.value for t in by_line.toggle}["w_km_ci3"] is False, "more than 2 groups: off by default"


def test_svg_of_a_laid_out_figure_holds_the_footnote(km):
    svg = figure_to_svg(export_figure(km, ExportOptions(footnote="Pointwise 95% CI, log-log."))).decode()
    assert "Pointwise 95% CI, log-log." in svg
    assert io.BytesIO(svg.encode()).getvalue()


def test_side_by_side_panel_titles_are_wrapped_on_a_narrow_preset_so_they_do_not_run_into_each_other():
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=["Prior PD-1/PD-L1: no (N=50)", "Prior PD-1/PD-L1: yes (N=57)"])
    fig.add_bar(x=[1, 2], y=["Fever", "Nausea"], orientation="h", row=1, col=1)
    fig.add_bar(x=[2, 1], y=["Fever", "Nausea"], orientation="h", row=1, col=2)
    fig.update_layout(title="AEs", margin={"t": 80})
    slide, half = (export_figure(fig, ExportOptions(preset=p)) for p in ("slide", "half"))
    assert not any("<br>" in a.text for a in slide.layout.annotations)
    assert all("<br>" in a.text for a in half.layout.annotations)
