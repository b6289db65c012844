"""Cohort page: Table 1 by a chosen grouping, with p-values and the tests named."""
from __future__ import annotations

import streamlit as st

from app_ui import cached
from app_ui.code_panel import code_for
from app_ui.downloads import download_table
from app_ui.frame import frame
from app_ui.markdown import md_escape
from app_ui.widgets import STATIC_MAX_ROWS, empty_state, show_table, url_choice, used_note
from il2lib import schema
from il2lib.cohort import benefit_rule_text

ctx = frame("Cohort")
ctx.require_data()

GROUPINGS = [None, schema.DISEASE, schema.PRIOR_PD1, schema.LINE_OF_IL2, schema.SOURCE, schema.SEX,
             schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT]
available = [g for g in GROUPINGS if g is None or g in ctx.data.columns]

st.title("Cohort")
masking = ctx.masking
masking.caption()
st.caption(md_escape(f"{ctx.loaded.label} · {ctx.summary}"))
by = url_choice("t1_by", "Group Table 1 by", available, schema.DISEASE if schema.DISEASE in available else None,
                format_func=lambda c: "No grouping (overall)" if c is None else schema.label(c))
if by == schema.PRIOR_PD1 and cached.has_both_prior_levels(ctx.data):
    st.warning(schema.ERA_CAVEAT, icon=":material/history:")
if by == schema.CLINICAL_BENEFIT:
    st.caption(md_escape(f"Clinical benefit = {benefit_rule_text(ctx.cb_sd_months, ctx.assessment_window_days)} "
                         "(sidebar settings)."))

with st.spinner(f"Table 1: summarising {ctx.n:,} patients"
                + (f" by {schema.label(by)}" if by else "") + " and testing the differences…", show_time=True):
    result = cached.table1(ctx.cache_key, ctx.data, by)
if not result.ok:
    empty_state(f"Table 1 cannot be computed: {md_escape(result.message)}")
    st.stop()
t1 = result.value
missing = {f"without {schema.label(by)}": len(t1.excluded)} if by else {}


def count_view():
    """Table 1's counts with the captions' "n = used of total" and the left-out count."""
    view = t1.count_view()
    view.add(("total",), ctx.n, headline=True, fixed=True)  # the sidebar shows it
    view.add(("used", "t1"), t1.n_used)
    view.add(("left out", "t1"), len(t1.excluded))
    view.add_sum(("total",), [("used", "t1"), ("left out", "t1")])
    return view


shown = masking.protect(count_view, ("table1", ctx.cache_key, by))
sizes = t1.tidy[["group", "N"]].drop_duplicates("group")
cols = st.columns(min(6, len(sizes)))
for col, (group, size) in zip(cols, sizes.itertuples(index=False)):
    key = ("n", by, group)
    col.metric(md_escape(group), f"{size:,}" if shown.shows(key) else shown.text(key, size),
               help="Patients in this column of Table 1")
if len(t1.groups) == 1 and by is not None:
    st.info("Only one group is present under the current filters, so no between-group test is shown.")
display = t1.display(shown)
table = display.reset_index() if display.index.name else display
show_table(table, height=None if len(table) <= STATIC_MAX_ROWS else min(35 * (len(table) + 1) + 3, 1600))
footnotes = [masking.text(note) for note in t1.footnotes]
download_table(table, "table1" + (f"_by_{by}" if by else ""), title="Table 1", notes=footnotes)
for note in footnotes:
    st.caption(md_escape(note))
used_note("Table 1", t1.n_used, ctx.n, missing, shown=shown,
          keys=(("used", "t1"), ("total",), {why: ("left out", "t1") for why in missing}))
code_for("table1", ctx, by=by)
