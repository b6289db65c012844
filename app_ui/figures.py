"""Figure sections shared by pages: each calls an :mod:`il2lib.figures` builder and renders it.

Titles carry the data set and the filter (``AppContext.figure_titles``), so a screenshot
explains itself; presentation mode switches every builder to its large, high-contrast style.
"""
from __future__ import annotations

import streamlit as st

from app_ui import cached
from app_ui.downloads import download_figure
from app_ui.markdown import md_escape
from app_ui.masking import current_masking
from app_ui.widgets import by_text, url_multichoice, url_toggle
from il2lib import schema
from il2lib.figures import withheld_under_masking

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


def _chart(fig, key: str, kind: str | None = None) -> None:
    """Draw a figure of ``kind`` (see il2lib.figures.PATIENT_LEVEL_FIGURES) with its downloads, masked when
    small-cell protection is on; a patient-level kind without a masked form is withheld."""
    if withheld(kind):
        return
    fig = current_masking().figure(fig)  # small-cell protection, when switched on
    # theme=None: the figures carry their own (palette) styling, which presentation mode enlarges.
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False}, theme=None)
    download_figure(fig, key, kind=kind)


def response_bars(ctx, table, shown) -> None:
    """Stacked bars of best overall response per group (percent, counts on hover)."""
    from il2lib.figures.response import response_bar_figure

    title, subtitle = ctx.figure_titles("Best overall response")
    _chart(response_bar_figure(table, title=title, subtitle=subtitle, presentation=ctx.presentation, shown=shown),
           "bor_bars")


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
    _chart(fig, f"orr_cbr_by_{rates.by}")
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
    _chart(fig, "orr_forest")
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
    _chart(fig, "swimmer", kind="swimmer")
    st.caption("One lane per patient (at most 80, longest follow-up first), from IL-2 start to death or last "
               "follow-up; circles mark the first response, arrows an ongoing response.")


def biomarkers(ctx, result, shown) -> None:
    """Box/strip plot of one continuous biomarker, CB vs no-CB, one panel per disease (boxes only, no
    patient points, while small-cell protection is on)."""
    from il2lib.figures.biomarkers import biomarker_figure

    rows = result.rows[result.rows["var_type"] == "continuous"].drop_duplicates("variable")
    if rows.empty:
        return
    labels = dict(zip(rows["variable"], rows["label"]))
    variable = st.selectbox("Biomarker to plot", list(labels), format_func=labels.get, key="bio_variable")
    title, subtitle = ctx.figure_titles(f"{labels[variable]}: clinical benefit vs no benefit")
    masking = current_masking()
    k = masking.threshold if masking.on else None  # the masked form: boxes only
    fig = biomarker_figure(ctx.data, variable, result, title=title, subtitle=subtitle,
                           presentation=ctx.presentation, small_cell_threshold=k, shown=shown)
    _chart(fig, "biomarker_box", kind="biomarker")
    if masking.on:
        st.caption(f"Small-cell protection on: boxes only (no patient points); a group of fewer than "
                   f"{masking.threshold} patients gets no box.")


def toxicity(ctx, tox, shown, *, top_n: int | None = 15, grade3_only: bool = False, sort_by: str = "any") -> None:
    """Stacked bars of patients by worst CTCAE grade per AE term (counts as ``shown`` says): the ``top_n`` terms
    (None: all) by ``sort_by``, grades 3-5 only with ``grade3_only`` (see il2lib.figures.toxicity)."""
    from il2lib.figures.toxicity import ae_grade_figure

    title, subtitle = ctx.figure_titles("Grade >= 3 adverse events by worst grade" if grade3_only
                                        else "Adverse events by worst grade")
    try:
        fig = ae_grade_figure(tox, title=title, subtitle=subtitle, presentation=ctx.presentation, shown=shown,
                              top_n=top_n, grade3_only=grade3_only, sort_by=sort_by)
    except ValueError as exc:
        st.caption(md_escape(f"No AE figure: {exc}"))
        return
    _chart(fig, "ae_grades")
