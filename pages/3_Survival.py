"""Survival page: Kaplan-Meier curves with risk table, medians, milestones, log-rank and Cox HR."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app_ui import cached, figures, survival_sections
from app_ui.code_panel import code_for
from app_ui.downloads import download_figure, table_with_downloads
from app_ui.frame import frame
from app_ui.markdown import SMALL_TABLES_CSS, md_escape
from app_ui.registry import survival_from_counts
from app_ui.survival_view import COX_AUTO_MAX_N, RESPONSE_GROUPINGS, km_chart, survival_view, view_data
from app_ui.widgets import empty_state, format_p, url_choice, url_number, url_toggle
from il2lib import schema
from il2lib.figures.km import ci_band_default
from il2lib.privacy.masking import masking_caption
from il2lib.survival import format_months, hazard_ratio_table
from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED, PFS_DOR_CENSORING

ctx = frame("Survival")
ctx.require_data(from_counts=survival_from_counts)

GROUPINGS = [None, schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SOURCE, schema.OBJECTIVE_RESPONSE,
             schema.CLINICAL_BENEFIT]
#: Presentation mode: the small Markdown tables in the slide's larger type.
PRESENTATION_TABLE_CSS = ("<style>[data-testid='stMain'] [data-testid='stMarkdownContainer'] :is(th, td) "
                          "{ font-size: 1.25rem !important; }</style>")
CONF_TYPES = {"log-log": "log-log (default)", "log": "log (R's default)", "plain": "plain (linear)"}


def options() -> tuple[str, str | None, str, float | None, list[str], object]:
    """The analysis choices and the cautions they call for (drawn above the figure, below it when presenting), and
    the column under "Compare groups" (for the reference group)."""
    a, b, c = st.columns([1, 1, 1])
    endpoint = url_choice("endpoint", "Endpoint", list(schema.ENDPOINTS), "os",
                          format_func=lambda e: schema.ENDPOINTS[e].label, container=a)
    available = [g for g in GROUPINGS if g is None or g in ctx.column_names]
    by = url_choice("km_by", "Compare groups", available, schema.DISEASE if schema.DISEASE in available else None,
                    format_func=lambda g: "No grouping" if g is None else schema.label(g), container=b)
    conf_type = url_choice("ci", "Confidence band", list(CONF_TYPES), "log-log", format_func=CONF_TYPES.get,
                           container=c)
    landmark, cautions = None, []
    if by == schema.PRIOR_PD1 and cached.has_both_prior_levels(ctx.columns([schema.PRIOR_PD1])):
        cautions.append(schema.ERA_CAVEAT)
    if by in RESPONSE_GROUPINGS:
        default_l = max(6.0, ctx.cb_sd_months)
        cautions.append(
            "Grouping by response is exposed to guarantee-time (immortal-time) bias: a responder had to live "
            "long enough to respond"
            + (f", and clinical benefit needs stable disease lasting {ctx.cb_sd_months:g} months" if
               by == schema.CLINICAL_BENEFIT else "")
            + ". The landmark analysis is therefore the default: patients still followed at the landmark are "
              "grouped by their status at that time and survival is measured from it.")
        if url_toggle("landmark_on", "Landmark analysis", True):
            minimum = ctx.cb_sd_months if by == schema.CLINICAL_BENEFIT else 0.0
            landmark = url_number("landmark", "Landmark (months after IL-2 start)", default_l,
                                  min_value=minimum, max_value=60.0, step=1.0,
                                  help="Clinical benefit needs the landmark to be at least the SD threshold.")
    return endpoint, by, conf_type, landmark, cautions, b


def show_cautions(cautions: list[str]) -> None:
    for text in cautions:
        st.warning(text, icon=":material/history:" if text == schema.ERA_CAVEAT else ":material/warning:")


def censoring_note(endpoint: str, masking) -> str:
    """How PFS/DoR are censored (FDA 2018 table, and its two rows this schema cannot apply), and how many
    patients shown were censored at day 0 for want of a dated tumour assessment (Markdown; "" for OS)."""
    if endpoint not in ("pfs", "dor"):
        return ""
    text = f"{PFS_DOR_CENSORING} {FDA_ROWS_NOT_APPLIED}"
    shown = None  # the shown patients' ids, built only when a day-0 censoring note needs them
    for note in ctx.cohort.report.conversions:
        if endpoint == "pfs" and getattr(note, "kind", "") == "pfs_no_assessment":
            if shown is None:
                shown = (set(ctx.columns([schema.PATIENT_ID])[schema.PATIENT_ID].astype(str))
                         if schema.PATIENT_ID in ctx.column_names else set())
            n = len(shown.intersection(note.patient_ids))
            if n:
                text += (f" Here {masking.count(n)} patient(s) without a dated post-baseline tumour assessment are censored "
                         "at day 0.")
    return md_escape(text)


def display_toggles(masking) -> tuple[dict[str, bool], bool, object]:
    """The figure's toggles in one row (kept in the URL, so a shared link draws the same figure), the Cox toggle,
    and the place of the CI band toggle, first in the row (:func:`ci_band_toggle`)."""
    row = st.container(horizontal=True, gap="large", key="km_toggles")
    ci_place = row.empty()
    toggles = {"risk_table": url_toggle("km_risk", "Number at risk", True, container=row),
               "censor_marks": url_toggle("km_censor", "Censor ticks", True, container=row, disabled=masking.on,
                                          help="Not drawn while small-cell protection is on: each tick is one "
                                               "patient." if masking.on else None),
               "median_lines": url_toggle("km_median", "Median lines", False, container=row)}
    with_cox = row.toggle("Cox HR", ctx.n <= COX_AUTO_MAX_N, key=f"km_cox_{ctx.n > COX_AUTO_MAX_N}",
                              help=f"Cox proportional-hazards hazard ratio with its PH check. On by default up to "
                                   f"{COX_AUTO_MAX_N:,} patients.")
    return toggles, with_cox, ci_place


def ci_band_toggle(column, n_groups: int) -> bool:
    """On by default for up to 2 groups (more bands blend into one field); the choice is kept per default, in the
    URL as ``km_ci`` (up to 2 groups) or ``km_ci3`` (more)."""
    default = ci_band_default(n_groups)
    return url_toggle("km_ci" if default else "km_ci3", "CI band", default, container=column)


def medians_table(view, shown) -> pd.DataFrame:
    return pd.DataFrame([{"Group": label, "n (events)": f"{shown.text(('n', label), r.n)} "
                                                        f"({shown.text(('events', label), r.n_events)})",
                          "Median, months (95% CI)": r.median_text()} for label, r in view.curves.items()])


def milestones_table(view, masking) -> pd.DataFrame:
    k = masking.threshold if masking.on else None  # no estimate where fewer than k remain at risk
    return pd.DataFrame([{"Group": label, **r.milestone_texts(small_cell_threshold=k)}
                         for label, r in view.curves.items()])


def comparison(view) -> None:
    """Log-rank test, and the Cox hazard ratio with its model test and notes."""
    if view.logrank is not None:
        lr = view.logrank
        st.metric("Log-rank test", format_p(lr.pvalue), help=f"chi-square {lr.statistic:.2f} on {lr.df} df")
        st.caption(f"Log-rank chi-square = {lr.statistic:.2f}, df = {lr.df}")
    if view.cox is not None:
        hr = hazard_ratio_table(view.cox)
        table_with_downloads(ctx, hr, "cox_hazard_ratio", "cox_hazard_ratio", "Cox proportional-hazards model",
                             heading="")
        st.caption("\n\n".join([f"Model test: likelihood-ratio {format_p(view.cox.lr_test.pvalue)} "
                                 f"(chi-square {view.cox.lr_test.statistic:.2f} on {view.cox.lr_test.df} df).",
                                 *(md_escape(masking.text(note)) for note in view.cox.warnings)]))
        if view.ph_violated:
            st.warning("Proportional hazards look violated (Schoenfeld residual test p < 0.05 for "
                       + ", ".join(md_escape(t) for t in view.ph_violated)
                       + "): read the hazard ratio as an average over time and prefer the milestone rates.",
                       icon=":material/warning:")


def figure_notes(view, shown, endpoint: str, conf_type: str) -> str:
    """The notes under the figure as one caption (Markdown paragraphs): n and CI method, PFS/DoR censoring, small-cell
    protection, median follow-up, landmark."""
    notes = [md_escape(f"{schema.ENDPOINTS[endpoint].label}: {view.note_with(shown.text)}"
                       + (f"; {view.population_note}" if view.population_note else "")
                       + f". Pointwise 95% CI, {conf_type} transformation."),
             censoring_note(endpoint, masking),
             md_escape(masking_caption(masking.threshold)) if masking.on else ""]
    if view.followup is not None:
        f = view.followup
        notes.append(f"Median follow-up (reverse Kaplan-Meier on overall survival, from IL-2 start"
                     f"{', not from the landmark' if view.landmark is not None else ''}; "
                     f"n = {shown.text(('follow-up',), f.n)}): "
                     f"{format_months(f.median)} months "
                     f"(95% CI {format_months(f.median_ci[0])}–{format_months(f.median_ci[1])}).")
    if view.landmark is not None:
        notes.append(md_escape(masking.text(view.landmark.note)))
    return "\n\n".join(n for n in notes if n)


st.title("Survival")
endpoint, by, conf_type, landmark, cautions, by_column = options()
order = survival_sections.group_order(ctx, endpoint, by, landmark, container=by_column)
masking = ctx.masking
toggles, with_cox, ci_place = display_toggles(masking)
if not ctx.presentation:  # presenting: under the figure, so the KM and its risk table fill the screen
    show_cautions(cautions)
computed = survival_view(ctx.cache_key, view_data(ctx, endpoint, by, landmark), endpoint, by, conf_type, landmark,
                         ctx.cb_sd_months, with_cox, ctx.assessment_window_days, order)
if not computed.ok:
    empty_state(f"{schema.ENDPOINTS[endpoint].label} cannot be estimated: {md_escape(computed.message)}")
    st.stop()
view = computed.value
toggles["show_ci"] = ci_band_toggle(ci_place, len(view.curves))
shown = masking.protect(lambda: view.count_view(sidebar_n=ctx.n),
                        ("survival", ctx.cache_key, endpoint, by, landmark, ctx.cb_sd_months, order))
title, subtitle = ctx.figure_titles(schema.ENDPOINTS[endpoint].label
                                    + (f" by {schema.label(by)[:1].lower()}{schema.label(by)[1:]}" if by else "")
                                    + (f", landmark at {landmark:g} months" if view.landmark is not None else ""))
# Presentation mode stacks the numbers under a full-width figure (readable when screen-shared).
left, right = (st.container(), st.container()) if ctx.presentation else st.columns([2.2, 1.4])
with left:
    fig = km_chart((ctx.cache_key, endpoint, by, conf_type, landmark, ctx.cb_sd_months, with_cox, order), view.curves,
                   title, subtitle, ctx.presentation,
                   "Months since landmark" if view.landmark is not None else "Months since IL-2 start",
                   tuple(sorted(toggles.items())), masking.threshold if masking.on else None,
                   tuple(label for label in view.curves if ("n", label) in shown.secondary))
    figures.plotly_chart(masking.figure(fig), "km_chart")
    download_figure(fig, f"km_{endpoint}" + (f"_by_{by}" if by else ""), key="km_chart",
                    file_name=figures.stem(ctx, f"km_{endpoint}" + (f"_landmark_{landmark:g}m" if landmark else ""), by),
                    footnote=figures.km_footnote(view, shown, conf_type))
    if ctx.presentation:
        show_cautions(cautions)
    st.caption(figure_notes(view, shown, endpoint, conf_type))
    code_for("km", ctx, endpoint=endpoint, by=by, conf_type=conf_type, landmark=landmark)
with right:
    # the Markdown tables in st.table's type, on a slide as large as the rest (style only: no row in the page)
    st.html(SMALL_TABLES_CSS + (PRESENTATION_TABLE_CSS if ctx.presentation else ""))
    medians = medians_table(view, shown)
    table_with_downloads(ctx, medians, f"median_{endpoint}", f"median_{endpoint}", "Median survival",
                         heading="**Median survival**")
    milestones = milestones_table(view, masking)
    table_with_downloads(ctx, milestones, f"milestones_{endpoint}", f"milestones_{endpoint}",
                         "Survival at 12 / 24 / 36 months", heading="**Survival at 12 / 24 / 36 months**")
    comparison(view)
    survival_sections.next_to_figure(ctx, endpoint, by, view)
for message in view.messages:
    st.info(md_escape(masking.text(message)), icon=":material/info:")
survival_sections.further(ctx, endpoint, by, conf_type, view, shown)
