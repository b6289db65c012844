"""Kaplan-Meier and cumulative-incidence figures under small-cell protection: curves stop where
fewer than k patients remain at risk, no censor ticks, and no count from 1 to k - 1 in any text.

Truncating the curve follows the usual small-cell practice for survival plots: a step taken with
fewer than k at risk gives the number of events back from the size of the drop (for example the
UK ONS/NHS Digital statistical disclosure guidance: suppress or aggregate cells below the threshold).
"""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from il2lib.figures.cif import cif_figure
from il2lib.figures.km import km_figure
from il2lib.privacy.disclosure import recoverable
from il2lib.survival import kaplan_meier
from il2lib.survival.competing import cumulative_incidence
from il2lib.survival.milestones import survival_differences
from support.apptest import open_app, tables, texts

K = 5
SMALL, LARGE = "Melanoma (n=3)", "RCC (n=12)"
# 3 patients in one group, 12 in the other (months, event flags)
TIME = np.array([2.0, 5.0, 8.0] + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], dtype=float)
EVENT = np.array([1, 0, 1] + [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
GROUP = np.array([SMALL] * 3 + [LARGE] * 12)
SMALL_TOKEN = re.compile(r"(?<![\w.-])[1-4](?![\d.])")  # a whole number 1..4 standing alone in a text, not a
#                                                        name's ("Prior PD-1/PD-L1: yes", "IL-2")
SMALL_N = re.compile(r"n = [1-4](?!\d)")  # the subtitle's "n = 3 of 107" (its filter may say "ECOG 1")
SMALL_SHOWN = "Melanoma (n=&lt;5)"  # labels are HTML-escaped: plotly shows "Melanoma (n=<5)"
MARKUP = re.compile(r"<[^>]*>[^<]*</span>\s*")  # the risk-table row key before a group label


def row_labels(ticktext) -> list[str]:
    """The risk-table group labels without their coloured key."""
    return [MARKUP.sub("", t) for t in ticktext or ()]


@pytest.fixture(scope="module")
def curves():
    km = kaplan_meier(TIME, EVENT, by=GROUP)
    return {LARGE: km[LARGE], SMALL: km[SMALL]}


def decoded(value):
    """A plotly JSON value with its base64 typed arrays ({"bdata", "dtype"}) decoded."""
    if isinstance(value, dict) and set(value) >= {"bdata", "dtype"}:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    return value


def small_counts(value, path: str = "") -> list[str]:
    """Every whole number 1..4 (value or token in a string) inside ``value``, with where it was found."""
    value = decoded(value)
    if isinstance(value, str):
        return [f"{path}: {value!r}"] if SMALL_TOKEN.search(value) else []
    if isinstance(value, (bool, np.bool_)) or value is None:
        return []
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return [f"{path}: {value!r}"] if np.isfinite(v) and v == round(v) and 1 <= v <= 4 else []
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in small_counts(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [hit for i, v in enumerate(value) for hit in small_counts(v, f"{path}[{i}]")]
    return []


def shown_text_fields(spec: dict) -> list[str]:
    """Counts a reader can see: trace text, hover text, customdata and names, annotations, risk-table
    group labels, the subtitle."""
    hits = []
    for i, trace in enumerate(spec["data"]):
        for field in ("text", "hovertext", "customdata", "name"):
            hits += small_counts(trace.get(field), f"data[{i}].{field}")
    layout = spec["layout"]
    for i, note in enumerate(layout.get("annotations", [])):
        hits += small_counts(note.get("text"), f"annotations[{i}]")
    hits += small_counts(row_labels(layout.get("yaxis2", {}).get("ticktext")), "yaxis2.ticktext")
    subtitle = layout.get("title", {}).get("subtitle", {}).get("text", "")
    return hits + ([f"subtitle: {subtitle!r}"] if SMALL_N.search(subtitle) else [])


def traces(spec: dict) -> dict[str, dict]:
    return {t["name"]: {k: decoded(v) for k, v in t.items()} for t in spec["data"]}


def last_time_with_k_at_risk(result) -> float | None:
    table = result.table
    small = (table["n_risk"] < K).to_numpy()
    kept = table["time"].to_numpy()[: int(np.argmax(small))] if small.any() else table["time"].to_numpy()
    return float(kept[-1]) if kept.size else None


def test_curves_and_bands_stop_where_fewer_than_k_remain_at_risk(curves):
    spec = km_figure(curves, small_cell_threshold=K).to_plotly_json()
    by_name = traces(spec)
    end = last_time_with_k_at_risk(curves[LARGE])
    assert end is not None and end < curves[LARGE].table["time"].max()
    large = "RCC (n=12)"  # 12 >= 5: the label stays
    for name in (large, f"{large} lower CI", f"{large} upper CI"):
        assert max(by_name[name]["x"]) == end
    # the curve ends at the survival estimate of its last shown time
    table = curves[LARGE].table
    assert by_name[large]["y"][-1] == pytest.approx(float(table.loc[table["time"] == end, "survival"].iloc[0]))
    # 3 patients: fewer than 5 at risk from the start, so only the starting point (0, 1) is left
    small = SMALL_SHOWN
    assert list(by_name[small]["x"]) == [0.0] and list(by_name[small]["y"]) == [1.0]


def test_no_censor_ticks_under_protection(curves):
    assert any(t.name.endswith(" censored") for t in km_figure(curves).data)
    masked = km_figure(curves, small_cell_threshold=K, censor_marks=True)
    assert not any(t.name.endswith(" censored") or t.mode == "markers" for t in masked.data)


def test_risk_table_cells_below_k_read_less_than_k(curves):
    fig = km_figure(curves, small_cell_threshold=K, times=[0, 3, 6, 9, 12, 15])
    rows = {t.name: list(t.text) for t in fig.data if t.name.endswith(" at risk")}
    assert rows["RCC (n=12) at risk"] == ["12", "10", "7", "<5", "<5", "0"]
    assert rows[f"{SMALL_SHOWN} at risk"] == ["<5", "<5", "<5", "0", "0", "0"]
    assert row_labels(fig.layout.yaxis2.ticktext) == ["RCC (n=12)", SMALL_SHOWN]


def test_no_count_below_k_anywhere_in_the_figure(curves):
    plain = km_figure(curves, subtitle="Sample · n = 3 of 15 patients")
    assert shown_text_fields(plain.to_plotly_json())  # the scan does find them without protection
    masked = km_figure(curves, subtitle="Sample · n = 3 of 15 patients", small_cell_threshold=K, median_lines=True)
    spec = masked.to_plotly_json()
    assert shown_text_fields(spec) == []
    assert "n = &lt;5 of 15" in spec["layout"]["title"]["subtitle"]["text"]
    hover = traces(spec)["RCC (n=12)"]
    assert "at risk: %{customdata[1]}" in hover["hovertemplate"] and "S(t) = %{y:.3f}" in hover["hovertemplate"]
    json.loads(masked.to_json())  # a valid figure


def test_medians_stay_under_protection(curves):
    masked = km_figure(curves, small_cell_threshold=K, median_lines=True)
    assert masked.layout.shapes == km_figure(curves, median_lines=True).layout.shapes


def test_bare_number_group_labels_are_not_counts():
    km = kaplan_meier(TIME, EVENT, by=np.where(GROUP == SMALL, "1", "3+"))
    names = {t.name for t in km_figure(dict(km.items()), small_cell_threshold=K).data}
    assert {"1", "3+"} <= names


def test_without_a_threshold_the_figure_is_unchanged(curves):
    default = km_figure(curves, subtitle="n = 3 of 15 patients")
    assert km_figure(curves, subtitle="n = 3 of 15 patients", small_cell_threshold=None).to_json() == default.to_json()
    by_name = traces(default.to_plotly_json())
    assert max(by_name[SMALL]["x"]) == curves[SMALL].table["time"].max()  # every step drawn
    assert f"{SMALL} censored" in by_name
    assert list(by_name[f"{SMALL} at risk"]["text"])[0] == "3"


def test_cumulative_incidence_stops_and_masks_under_protection():
    status = np.where(EVENT, 1, 0)
    status[[4, 9]] = 2  # two deaths without progression in the larger group
    res = cumulative_incidence(TIME, status, GROUP, event_label="Progression",
                               competing_label="Death without progression")
    plain = cif_figure(res).to_plotly_json()
    assert shown_text_fields(plain)
    spec = cif_figure(res, small_cell_threshold=K, subtitle="n = 3 of 15 patients").to_plotly_json()
    assert shown_text_fields(spec) == []
    by_name = traces(spec)
    table = res.cif[LARGE].table
    small = (table["n_risk"] < K).to_numpy()
    end = float(table["time"].to_numpy()[int(np.argmax(small)) - 1])
    assert max(by_name["Progression: RCC (n=12)"]["x"]) == end
    assert max(by_name[f"Progression: {SMALL_SHOWN}"]["x"]) == 0.0


def test_survival_page_under_protection_has_no_censor_ticks_or_small_counts():
    # RCC, ECOG 1, by prior PD-1/PD-L1: 7 and 3 patients
    at = open_app({"mask": "1", "disease": "rcc", "ecog": "1", "km_by": "prior_pd1_pdl1"}, page="pages/3_Survival.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not any(t.get("name", "").endswith(" censored") for t in spec["data"])
    rows = [t for t in spec["data"] if t.get("name", "").endswith(" at risk")]
    assert rows and any("<5" in row["text"] for row in rows)
    assert shown_text_fields(spec) == []
    medians = next(d for d in tables(at) if "n (events)" in d.columns)
    assert not medians["n (events)"].astype(str).str.contains(SMALL_TOKEN).any(), list(medians["n (events)"])
    assert "<5 (" in " ".join(medians["n (events)"].astype(str))
    assert at.toggle(key="w_km_censor").disabled  # each tick is one patient: not offered under protection


def test_survival_from_registry_counts_under_protection(tmp_path, monkeypatch):
    # a registry selection above the row limit: Kaplan-Meier from SQL counts, the same protection
    from streamlit.testing.v1 import AppTest

    from il2lib.sources.export import write_parquet
    from support.apptest import APP, sample_data

    monkeypatch.setenv("IL2_LOGIN", "none")  # a registry needs the deployer's word that sign-in happens elsewhere
    write_parquet(sample_data(), tmp_path / "parquet", rows_per_file=40)
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["registry"] = {"kind": "parquet", "path": str(tmp_path / "parquet"), "label": "Test registry",
                              "row_limit": 60}
    at.session_state["v_mask"] = True  # switched on earlier on another page (the switch is kept across pages)
    at.run()
    at.switch_page("pages/3_Survival.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("computed here from event counts" in t for t in texts(at, "info"))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not any(t.get("name", "").endswith(" censored") for t in spec["data"])
    rows = [t for t in spec["data"] if t.get("name", "").endswith(" at risk")]
    assert rows and any("<5" in row["text"] for row in rows)
    assert shown_text_fields(spec) == []
    assert any("Small-cell protection on" in c for c in texts(at, "caption"))


def test_survival_page_hides_the_group_size_the_total_would_give_back():
    # melanoma line 3+ by source: Community n = 2 reads "<5"; with "n = 20 of 20" shown, PROCLAIM's 18 would
    # give it back, so its n (medians table and the risk table at time 0) reads "masked"
    at = open_app({"mask": "1", "disease": "melanoma", "line_of_il2": "3+", "km_by": "source"},
                  page="pages/3_Survival.py")
    medians = tables(at)[0].set_index("Group")
    assert medians["n (events)"].str.startswith("<5").sum() == 1
    assert medians["n (events)"].str.startswith("masked").sum() == 1
    assert any("n = 20 of 20" in t for t in texts(at, "caption"))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    first_cells = [d["text"][0] for d in spec["data"] if d.get("mode") == "text" and d["name"].endswith("at risk")]
    assert sorted(first_cells) == ["<5", "masked"]
    # the curve's hover of the hidden group shows no number at risk: its first step would be the hidden 18
    hover_at_risk = {d["name"]: [row[1] for row in decoded(d["customdata"])] for d in spec["data"]
                     if d.get("mode") == "lines" and "hovertemplate" in d}
    assert len(hover_at_risk) == 2
    hidden = [name for name, at_risk in hover_at_risk.items() if set(at_risk) == {"masked"}]
    assert len(hidden) == 1 and "18" not in str(hover_at_risk)


def test_time_origin_tab_hides_the_group_sizes_the_page_hides():
    # melanoma line 3+ by source: the main view shows Community "<5" and PROCLAIM 18 as "masked" (n = 20 of 20
    # is shown); the Time origin tab's table and caption must not give 18 (so Community = 2) back
    from support.apptest import protected_view

    at = open_app({"mask": "1", "disease": "melanoma", "line_of_il2": "3+", "km_by": "source", "km_more": "true",
                   "km_tab": "Time origin"}, page="pages/3_Survival.py")
    origin = next(d for d in tables(at) if "Median ignoring delayed entry" in d.columns).set_index("Group")
    assert sorted(origin["n"].astype(str)) == ["<5", "masked"], list(origin["n"])
    assert any(c.startswith("Time from IL-2 start: n = 20") for c in texts(at, "caption"))
    view, shown = protected_view(at, "survival origin")
    assert recoverable(view, shown) == {}


def test_published_tab_hides_the_complement_of_a_small_group_of_the_disease():
    # RCC in line 3+: 11 patients (the sidebar's n and "n = 11 of 11"), fewer than 5 with clinical benefit and 9
    # without; the tab's "Our n" showing 9 would give the small group back (11 - 9), so it reads "masked"
    from support.apptest import protected_view

    at = open_app({"mask": "1", "published": "1", "disease": "rcc", "line_of_il2": "3+", "km_more": "true",
                   "km_tab": "Published results"}, page="pages/3_Survival.py")
    table = next(d for d in tables(at) if "Our n" in d.columns)
    rcc = table[table["Disease"] == "RCC"].set_index("Group")["Our n"]
    assert dict(rcc) == {"Clinical benefit": "<5", "No clinical benefit": "masked"}
    assert any(c.startswith("Overall survival: n = 11 of 11") for c in texts(at, "caption"))
    view, shown = protected_view(at, "survival published")
    assert view.counts[("N", "RCC")] == 11 and ("N", "RCC") in view.fixed
    assert recoverable(view, shown) == {}


def test_published_tab_keeps_hidden_what_the_survival_view_hides():
    # 2 of 20 patients without an OS time: the page reads "n = masked of 20 (<5 without time)"; the tab's
    # "Our n" (the same 18 patients by disease and benefit) must not add up to the hidden 18
    from types import SimpleNamespace

    from app_ui.masking import Masking
    from app_ui.survival_tabs import _published_count_view
    from app_ui.survival_view import compute
    from il2lib.analyses.published import median_overlay
    from il2lib.privacy.disclosure import protect
    from support.apptest import sample_data

    df = sample_data().head(20).copy()
    df.loc[df.index[:2], "os_months"] = np.nan
    view = compute(df, "os", None, "log-log", None, 6.0)
    page_shown = protect(view.count_view(sidebar_n=20), K)
    assert ("used",) in page_shown.secondary
    table = median_overlay(df, 6.0)
    assert table["our_n"].sum() == 18
    ctx = SimpleNamespace(data=df, n=20, masking=Masking(True, K))
    counts = _published_count_view(ctx, table, view, page_shown)
    shown = protect(counts, K)
    assert {("our n", d, g) for d, g, n in zip(table["disease"], table["group"], table["our_n"]) if n} & shown.hidden
    assert recoverable(counts, shown) == {}
    # with the page's hiding alone (every "Our n" shown), the 2 would come back
    assert ("left out", "without time") in recoverable(counts, page_shown)


def test_milestones_read_a_dash_where_fewer_than_k_remain_at_risk(curves):
    # as the curve stops there: an estimate with fewer than k at risk gives its events back from the drop
    times = (3.0, 6.0, 9.0, 13.0)
    large = curves[LARGE]
    assert list(large.at_risk(times)) == [10, 7, 4, 0]
    plain = large.milestone_texts(times)
    assert plain["9 mo"].endswith(")") and plain["13 mo"] == "—"
    assert list(large.milestone_texts(times, small_cell_threshold=K).values()) == [plain["3 mo"], plain["6 mo"], "–",
                                                                                    "—"]
    assert set(curves[SMALL].milestone_texts((1.0, 6.0), small_cell_threshold=K).values()) == {"–"}
    assert large.milestone_texts(times, small_cell_threshold=None) == plain


def test_milestone_differences_and_cumulative_incidence_know_where_fewer_than_k_remain_at_risk():
    res = survival_differences(TIME, EVENT, GROUP, [3.0, 6.0, 9.0], reference=LARGE)
    per, diff = res.too_few_at_risk(K)
    few = dict(zip(zip(res.per_group["group"], res.per_group["time"]), per))
    assert [few[LARGE, t] for t in (3.0, 6.0, 9.0)] == [False, False, True]
    assert [few[SMALL, t] for t in (3.0, 6.0, 9.0)] == [True, True, True]
    assert diff.all() and len(diff) == 3  # each difference involves the 3-patient group
    assert not res.too_few_at_risk(None)[0].any() and not res.too_few_at_risk(None)[1].any()
    status = np.where(EVENT, 1, 0)
    cr = cumulative_incidence(TIME, status, GROUP)
    at = cr.at([3.0, 9.0])
    flags = dict(zip(zip(at["group"], at["event"], at["time"]), cr.too_few_at_risk([3.0, 9.0], K)))
    assert flags[LARGE, "Event", 3.0] is np.False_ and flags[LARGE, "Competing event", 9.0] is np.True_
    assert all(v for (g, _, _), v in flags.items() if g == SMALL)
    assert not cr.too_few_at_risk([3.0, 9.0], None).any()


def test_survival_page_milestones_and_cumulative_incidence_show_no_estimate_with_fewer_than_k_at_risk():
    # melanoma line 3+ by source: the community series has 2 patients, so no milestone or CIF of its own
    from support.apptest import rerun

    query = {"mask": "1", "disease": "melanoma", "line_of_il2": "3+", "km_by": "source", "km_more": "true",
             "km_tab": "Milestones & RMST"}
    at = open_app(query, page="pages/3_Survival.py")
    community = "Community (synthetic)"
    main = next(d for d in tables(at) if "36 mo" in d.columns).set_index("Group")
    assert set(main.loc[community]) == {"–"}
    milestones = next(d for d in tables(at) if "12 mo" in d.columns and "36 mo" not in d.columns).set_index("Group")
    assert set(milestones.loc[community]) == {"–"}
    diff = next(d for d in tables(at) if "Difference, % points (95% CI)" in d.columns)
    assert set(diff["Difference, % points (95% CI)"]) == {"–"} and set(diff["p"]) == {"–"}
    at.session_state["km_tab"] = at.query_params["km_tab"] = "Competing risks"
    at = rerun(at)
    cif = next(d for d in tables(at) if "CIF, % (95% CI)" in d.columns)
    assert set(cif.loc[cif["Group"] == community, "CIF, % (95% CI)"]) == {"–", "—"}  # "—": beyond its follow-up
    assert cif.loc[cif["Group"] != community, "CIF, % (95% CI)"].str.contains("%|\\(", regex=True).any()


def test_survival_page_follow_up_n_is_a_cell_of_the_survival_view():
    # 2 of 20 patients without an overall-survival time: "n = masked of 20 (<5 without time)"; the median
    # follow-up's n (the same 18 patients) must read masked too, or 20 - 18 gives the 2 back
    from app_ui.survival_view import compute
    from il2lib.privacy.disclosure import protect
    from support.apptest import sample_data

    df = sample_data().head(20).copy()
    df.loc[df.index[:2], "os_months"] = np.nan
    view = compute(df, "os", None, "log-log", None, 6.0)
    counts = view.count_view(sidebar_n=20)
    shown = protect(counts, K)
    assert counts.counts[("follow-up",)] == view.followup.n == 18
    assert ("used",) in shown.secondary and ("follow-up",) in shown.hidden
    assert recoverable(counts, shown) == {}
