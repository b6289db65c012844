"""Figure sections shared by pages: each calls an :mod:`il2lib.figures` builder and renders it.

Titles carry the data set and the filter (``AppContext.figure_titles``), so a screenshot
explains itself; presentation mode switches every builder to its large, high-contrast style.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_ui import cached
from app_ui.downloads import chart_config, download_figure
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.session_cache import data_cache
from app_ui.widgets import by_text, format_p, url_multichoice, url_toggle
from il2lib import schema
from il2lib.figures import withheld_under_masking
from il2lib.figures.export_layout import file_stem

# The il2lib.figures builders are imported where a figure is drawn: plotly takes about a second to import.

#: Subgroups of the ORR forest plot, when present in the data.
FOREST_GROUPINGS = (schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SEX, schema.SOURCE)


WITHHELD_FIGURE = ("Patient-level figure withheld while small-cell protection is on: it shows patients one by "
                   "one. Switch off Small-cell protection in the sidebar to see it.")


def withheld(kind: str) -> bool:
    """Draw the info line and return True when a figure of ``kind`` is withheld (see il2lib.figures)."""
    if not (current_masking().on and withheld_under_masking(kind)):
        return False
    st.info(WITHHELD_FIGURE, icon=":material/visibility_off:")
    return True


def _chart(fig, key: str, kind: str | None = None, *, file_name: str | None = None,
           footnote: str | None = None) -> None:
    """Draw a figure of ``kind`` (see il2lib.figures.PATIENT_LEVEL_FIGURES) with its export panel, masked when
    small-cell protection is on; a patient-level kind without a masked form is withheld. ``file_name``: the
    export's file stem (:func:`stem`); ``footnote``: the export's default footnote."""
    if withheld(kind):
        return
    fig = current_masking().figure(fig)  # small-cell protection, when switched on
    plotly_chart(fig, key)
    download_figure(fig, key, kind=kind, file_name=file_name, footnote=footnote)


def plotly_chart(fig, key: str, **kwargs) -> None:
    """``st.plotly_chart`` of a figure with an export panel (:func:`app_ui.downloads.chart_config`).
    theme=None: the figures carry their own (palette) styling, which presentation mode enlarges."""
    st.plotly_chart(fig, width="stretch", key=key, config=chart_config(), theme=None, **kwargs)


def stem(ctx, what: str, by: str | None = None) -> str:
    """An export's file stem: what it shows, the grouping and the page's filter ("km_os_by_disease_melanoma")."""
    return file_stem(what, by, ctx.filter)


def km_footnote(view, shown, conf_type: str) -> str:
    """The KM figure's footnote: log-rank p, Cox HR (95% CI), median (95% CI) and n (events) per group, and the CI
    method. Counts read as ``shown`` says (small-cell protection), as in the page's tables."""
    from il2lib.survival import hazard_ratio_table

    masking = current_masking()
    parts = []
    if view.logrank is not None:
        lr = view.logrank
        parts.append(f"Log-rank {format_p(lr.pvalue)} (chi-square {lr.statistic:.2f}, {lr.df} df).")
    if view.cox is not None:
        hr = hazard_ratio_table(view.cox)
        parts.append("Cox HR (95% CI): " + "; ".join(
            masking.text(f"{t} {h}") + (f", {p_text(p)}" if p and p != "—" else "")
            for t, h, p in hr.itertuples(index=False, name=None)) + ".")
    groups = [(masking.text(str(label)), r) for label, r in view.curves.items()]
    parts.append("Median, months (95% CI): " + "; ".join(f"{label} {r.median_text()}" for label, r in groups) + ".")
    parts.append("n (events): " + "; ".join(
        f"{shown_label} {shown.text(('n', label), r.n)} ({shown.text(('events', label), r.n_events)})"
        for (shown_label, r), label in zip(groups, view.curves)) + ".")
    parts.append(f"Pointwise 95% CI, {conf_type} transformation.")
    return " ".join(parts)


def p_text(p: str) -> str:
    """A table's p cell in running text: "0.073" -> "p = 0.073", "<0.001" -> "p < 0.001"."""
    p = str(p).strip()
    return f"p {p[0]} {p[1:].strip()}" if p[:1] in "<>" else f"p = {p}"


def toxicity_footnote(overview, comparison) -> str:
    """The AE figure's footnote, from the tables as shown (their counts masked as on the page): any grade >= 3
    AE per group (the overview's row), and the three terms with the smallest p of the per-term comparison."""
    parts = []
    if overview is not None and "Measure" in overview:
        rows = overview[overview["Measure"].astype(str).str.startswith("Any grade >= 3")]
        if len(rows):
            row = rows.iloc[0]
            parts.append("Any grade >= 3 AE: " + "; ".join(f"{c} {row[c]}" for c in overview.columns
                                                             if c != "Measure") + ".")
    if comparison is not None and len(comparison):
        p_col = next((c for c in comparison.columns if str(c).startswith("p")), None)
        if p_col is not None:
            table = comparison.reset_index()
            term_col = table.columns[0]
            numeric = pd.to_numeric(table[p_col].astype(str).str.lstrip("<>"), errors="coerce")
            top = table.assign(_p=numeric).dropna(subset=["_p"]).sort_values("_p", kind="stable").head(3)
            groups = [c for c in comparison.columns if str(c).endswith("grade >= 3")]
            if len(top):
                test = str(p_col)[3:-1] if str(p_col).startswith("p (") else "per term"
                parts.append("Grade >= 3 by term, n (%) in " + " vs ".join(
                    g.removesuffix(": grade >= 3") for g in groups) + f"; smallest p ({test}, not adjusted for the "
                    "number of terms): " + "; ".join(
                    f"{row[term_col]} " + " vs ".join(str(row[g]) for g in groups) + f", {p_text(row[p_col])}"
                    for _, row in top.iterrows()) + ".")
    return " ".join(parts)


def response_bars(ctx, table, shown) -> None:
    """Stacked bars of best overall response per group (percent, counts on hover)."""
    from il2lib.figures.response import response_bar_figure

    title, subtitle = ctx.figure_titles("Best overall response")
    _chart(response_bar_figure(table, title=title, subtitle=subtitle, presentation=ctx.presentation, shown=shown),
           "bor_bars", file_name=stem(ctx, "bor", getattr(table, "by", None)))


def forest_results(ctx, denominator: str, ci_method: str) -> tuple[list, object]:
    """The ORR rows of the forest plot: one result per grouping present, and the ungrouped one (or None)."""
    results = []
    for by in FOREST_GROUPINGS:
        if by not in ctx.data.columns:
            continue
        computed = cached.response_rates(ctx.cache_key, ctx.data, by, ctx.cb_sd_months, denominator, ci_method)
        if computed.ok and len(computed.value.groups) >= 1:
            results.append(computed.value)
    overall = cached.response_rates(ctx.cache_key, ctx.data, None, ctx.cb_sd_months, denominator, ci_method)
    return results, (overall.value if overall.ok else None)


def response_rates_by_group(ctx, rates, shown) -> None:
    """ORR and CBR with their CIs per group of the page's grouping (a 16:9 slide figure): the numbers of the
    response-rates table, its between-group tests in the footnote."""
    from il2lib.figures.response import rates_by_group_figure

    if rates.by is None:
        return
    title, subtitle = ctx.figure_titles(f"ORR and CBR by {by_text(rates.by)}")
    fig = rates_by_group_figure(rates, title=title, subtitle=subtitle, presentation=ctx.presentation, shown=shown)
    _chart(fig, f"orr_cbr_by_{rates.by}", file_name=stem(ctx, "orr_cbr", rates.by))
    st.caption("Each dot: the group's rate; whiskers: its 95% CI; beside them, responders/n. The footnote gives "
               "the between-group tests of the table above."
               + (" A rate whose count is masked has no point." if shown.hidden else ""))


#: URL key of the forest plot's "Groupings shown".
FOREST_SHOWN_KEY = "forest_by"


def response_forest(ctx, results: list, overall, shown) -> list[str]:
    """ORR with its CI by subgroup (one row per level of each grouping chosen in "Groupings shown", all by
    default), overall as a reference. Returns the groupings shown."""
    from il2lib.figures.response import orr_forest_figure

    if not results or overall is None:
        return []
    available = [r.by for r in results]
    chosen = url_multichoice(FOREST_SHOWN_KEY, "Groupings shown", available, available,
                             format_func=schema.label)
    if not chosen:
        st.info("No grouping chosen for the forest plot.", icon=":material/info:")
        return []
    title, subtitle = ctx.figure_titles("Objective response rate by subgroup")
    fig = orr_forest_figure(results, overall=overall, groupings=chosen, title=title, subtitle=subtitle,
                            presentation=ctx.presentation, shown=shown)
    _chart(fig, "orr_forest", file_name=stem(ctx, "orr_forest"))
    st.caption("Each row: ORR with its 95% CI in one subgroup; p compares the levels of that grouping. "
               "The dashed line is the ORR of all filtered patients."
               + (" A row whose count is masked has no point." if shown.hidden else ""))
    return chosen


def swimmer(ctx) -> None:
    """Swimmer plot of time on study per patient, coloured by best response."""
    from il2lib.figures.response import swimmer_figure

    st.subheader("Swimmer plot")
    if withheld("swimmer"):
        return
    responders_only = url_toggle("swim_resp", "Responders only", True)
    title, subtitle = ctx.figure_titles("Time on study by patient" + (" (responders)" if responders_only else ""))
    fig = swimmer_figure(ctx.data, responders_only=responders_only, max_patients=80,
                         title=title, subtitle=subtitle, presentation=ctx.presentation)
    _chart(fig, "swimmer", kind="swimmer", file_name=stem(ctx, "swimmer"))
    st.caption("One lane per patient (at most 80, longest follow-up first), from IL-2 start to death or last "
               "follow-up; circles mark the first response, arrows an ongoing response.")


#: Points drawn per group of the biomarker figure (a larger group: a random sample; its box from every patient).
BIOMARKER_POINTS = 2_000


@data_cache(max_entries=16, max_size="32MB")
def biomarker_figure_of(key: tuple, _df: pd.DataFrame, _result, _shown, variable: str, adjust: str, title: str,
                        subtitle: str, presentation: bool, threshold: int | None):
    """The biomarker figure of the page's comparison (``key``: the data, filter and benefit rule it was computed
    from; ``_shown`` follows from them and ``threshold``, the small-cell threshold when protection is on)."""
    from il2lib.figures.biomarkers import biomarker_figure

    return biomarker_figure(_df, variable, _result, title=title, subtitle=subtitle, presentation=presentation,
                            small_cell_threshold=threshold, shown=_shown, max_points=BIOMARKER_POINTS)


def biomarkers(ctx, result, shown) -> None:
    """Box/strip plot of one continuous biomarker, CB vs no-CB, one panel per disease (boxes only, no
    patient points, while small-cell protection is on)."""
    rows = result.rows[result.rows["var_type"] == "continuous"].drop_duplicates("variable")
    if rows.empty:
        return
    labels = dict(zip(rows["variable"], rows["label"]))
    variable = st.selectbox("Biomarker to plot", list(labels), format_func=labels.get, key="bio_variable")
    title, subtitle = ctx.figure_titles(f"{labels[variable]}: clinical benefit vs no benefit")
    masking = current_masking()
    k = masking.threshold if masking.on else None  # the masked form: boxes only
    fig = biomarker_figure_of(ctx.cache_key, ctx.data, result, shown, variable, result.adjust, title, subtitle,
                              ctx.presentation, k)
    _chart(fig, "biomarker_box", kind="biomarker", file_name=stem(ctx, f"biomarker_{variable}"))
    if masking.on:
        st.caption(f"Small-cell protection on: boxes only (no patient points); a group of fewer than "
                   f"{masking.threshold} patients gets no box.")


def toxicity(ctx, tox, shown, *, top_n: int | None = 15, grade3_only: bool = False, sort_by: str = "any",
             footnote: str | None = None) -> None:
    """Stacked bars of patients by worst CTCAE grade per AE term (counts as ``shown`` says): the ``top_n`` terms
    (None: all) by ``sort_by``, grades 3-5 only with ``grade3_only`` (see il2lib.figures.toxicity); ``footnote``:
    the export's default footnote (:func:`toxicity_footnote`)."""
    from il2lib.figures.toxicity import ae_grade_figure

    title, subtitle = ctx.figure_titles("Grade >= 3 adverse events by worst grade" if grade3_only
                                        else "Adverse events by worst grade")
    try:
        fig = ae_grade_figure(tox, title=title, subtitle=subtitle, presentation=ctx.presentation, shown=shown,
                              top_n=top_n, grade3_only=grade3_only, sort_by=sort_by)
    except ValueError as exc:
        st.caption(md_escape(f"No AE figure: {exc}"))
        return
    _chart(fig, "ae_grades", file_name=stem(ctx, "ae_grade3" if grade3_only else "ae_grades", tox.by),
           footnote=footnote)


TUMOUR_BURDEN_CAPTION = ("Waterfall: one bar per patient, their best (most negative) change of the sum of target "
                         "lesions from baseline up to progression; spider: every assessment's change over months "
                         "since the IL-2 start, one line per patient. The dashed lines at -30% and +20% are the "
                         "RECIST 1.1 thresholds of partial response (30% decrease from baseline) and progression "
                         "(20% increase, RECIST measures it from the nadir); stars mark new lesions. Colours: best "
                         "overall response as recorded.")


def tumour_burden(ctx, tb, by: str | None) -> bool:
    """The waterfall and spider plots of a :class:`il2lib.analyses.tumour_burden.TumourBurden` (spider coloured by
    the page's groups when grouped, else by best overall response) with their export panels. Returns True when
    they are withheld (patient level, small-cell protection on)."""
    from il2lib.figures.tumour_burden import SPIDER_KIND, WATERFALL_KIND, spider_figure, waterfall_figure

    if withheld(WATERFALL_KIND):
        return True
    # the builders count the patients drawn and those not shown: the subtitle names the data and the filter only
    title, subtitle = "Best change in target lesions", f"{ctx.loaded.label} · {ctx.filter_text}"
    _chart(waterfall_figure(tb, title=title, subtitle=subtitle, presentation=ctx.presentation), "tumour_waterfall",
           kind=WATERFALL_KIND, file_name=stem(ctx, "waterfall", by))
    if tb.source == "assessments":
        title = "Change in target lesions over time"
        _chart(spider_figure(tb, color_by="group" if by else "bor", title=title, subtitle=subtitle,
                             presentation=ctx.presentation), "tumour_spider", kind=SPIDER_KIND,
               file_name=stem(ctx, "spider", by))
    else:
        st.caption("Spider plot: needs the tumour-assessment table (dated sums of target lesions); the waterfall "
                   "above is drawn from the patient file's best_pct_change.")
    st.caption(TUMOUR_BURDEN_CAPTION)
    return False
