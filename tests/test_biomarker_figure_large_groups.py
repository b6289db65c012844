"""The biomarker figure of a large cohort: a group over ``max_points`` gets the box plotly would draw from every
value (its statistics computed here, as plotly.js computes them) and a strip of a random sample of its patients;
smaller groups, and every figure without ``max_points``, are drawn from every point as before."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from il2lib import schema
from il2lib.analyses.biomarkers import biomarker_comparison
from il2lib.figures.biomarkers import biomarker_figure, box_statistics, sample_points


def cohort(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bor = rng.choice(["CR", "PR", "SD", "PD", "NE"], n)
    platelets = rng.lognormal(4, 0.6, n).round(1)
    platelets[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        schema.PATIENT_ID: [f"P{i:05d}" for i in range(n)],
        schema.DISEASE: rng.choice([schema.MELANOMA, schema.RCC], n),
        schema.BOR: bor, schema.SD_DURATION: np.where(bor == "SD", rng.choice([2.0, 9.0], n), np.nan),
        schema.PLATELET_NADIR: platelets,
        schema.DOSES_C1: rng.integers(0, 15, n), schema.DOSES_C2: rng.integers(0, 15, n),
    })


def reference(values: np.ndarray) -> dict:
    """Quartiles by plotly's "linear" method (numpy's Hazen positions) and Tukey fences at data points."""
    v = np.sort(values)
    q1, median, q3 = (float(np.quantile(v, p, method="hazen")) for p in (0.25, 0.5, 0.75))
    iqr = q3 - q1
    return {"q1": q1, "median": median, "q3": q3, "lowerfence": min(q1, float(v[v >= q1 - 1.5 * iqr].min())),
            "upperfence": max(q3, float(v[v <= q3 + 1.5 * iqr].max())), "min": float(v[0]), "max": float(v[-1])}


@pytest.mark.parametrize("seed", range(6))
def test_box_statistics_are_the_quartiles_and_fences_of_every_value(seed):
    rng = np.random.default_rng(seed)
    values = [rng.normal(50, 15, 1001), rng.lognormal(5, 1, 4000), rng.integers(0, 6, 777).astype(float),
              np.r_[rng.normal(0, 1, 500), [40.0, -35.0]], np.array([3.0, 1.0, 2.0]), np.array([7.0])][seed]
    got, expected = box_statistics(values), reference(values)
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key


def test_sample_keeps_the_extremes_and_is_the_same_every_time():
    values = np.random.default_rng(0).normal(size=10_000)
    drawn = sample_points(values, 500)
    assert 500 <= drawn.size <= 502 and np.all(np.diff(drawn) > 0)
    assert values.argmin() in drawn and values.argmax() in drawn
    assert np.array_equal(drawn, sample_points(values, 500))


def test_groups_within_max_points_are_drawn_as_before():
    df = cohort(400)
    result = biomarker_comparison(df)
    for k in (None, 5):
        full = biomarker_figure(df, schema.PLATELET_NADIR, result, small_cell_threshold=k)
        same = biomarker_figure(df, schema.PLATELET_NADIR, result, small_cell_threshold=k, max_points=400)
        assert json.loads(full.to_json()) == json.loads(same.to_json())


def test_a_large_group_gets_its_box_from_every_value_and_a_sample_of_points():
    df = cohort(6000)
    result = biomarker_comparison(df)
    full = biomarker_figure(df, schema.PLATELET_NADIR, result)
    fast = biomarker_figure(df, schema.PLATELET_NADIR, result, max_points=300)
    assert len(full.data) == 4 and len(fast.data) == 8  # per group: its box, then its sampled points
    for before, box, strip in zip(full.data, fast.data[0::2], fast.data[1::2]):
        values = np.asarray(before.y, dtype=float)
        assert len(values) > 300 and list(box.x) == [before.x[0]]  # the label, "CB (n=...)", unchanged
        stats = box_statistics(values)
        assert [box.q1[0], box.median[0], box.q3[0], box.lowerfence[0], box.upperfence[0]] == \
            [stats[k] for k in ("q1", "median", "q3", "lowerfence", "upperfence")]
        # its only points, hidden, are the extremes: whiskers to the fences and hover as a box with every point
        assert list(box.y[0]) == [values.min(), values.max()] and box.marker.opacity == 0
        assert (box.boxpoints, box.hoveron, box.showlegend) == ("all", "boxes", before.showlegend)
        points, ids = np.asarray(strip.y, dtype=float), list(strip.text)
        assert 300 <= len(points) <= 302 and points.min() == values.min() and points.max() == values.max()
        by_id = dict(zip(before.text, values))
        assert all(by_id[i] == v for i, v in zip(ids, points))  # each point is its patient's value
        assert set(strip.x) == {before.x[0]} and strip.hoveron == "points" and strip.showlegend is False
        assert strip.line.width == 0 and strip.fillcolor == "rgba(0,0,0,0)"  # the strip's own box is not drawn
        assert (strip.boxpoints, strip.jitter, strip.pointpos, strip.hovertemplate, strip.marker.opacity) == \
            (before.boxpoints, before.jitter, before.pointpos, before.hovertemplate, before.marker.opacity)
    title = re.sub(r"</span><br><span[^>]*>", " ", fast.layout.title.text)  # the subtitle's lines joined
    assert "points: 300 sampled per larger group, extremes kept (boxes: every patient)" in title
    assert "sampled" not in full.layout.title.text


def test_masked_large_group_has_no_point_and_whiskers_to_its_extremes():
    df = cohort(6000)
    result = biomarker_comparison(df)
    full = biomarker_figure(df, schema.PLATELET_NADIR, result, small_cell_threshold=5)
    fast = biomarker_figure(df, schema.PLATELET_NADIR, result, small_cell_threshold=5, max_points=300)
    for before, after in zip(full.data, fast.data):
        values = np.asarray(before.y, dtype=float)
        assert after.y is None and after.text is None and after.boxpoints is False
        assert (after.lowerfence[0], after.upperfence[0]) == (values.min(), values.max())  # as drawn without points
        assert after.q1[0] == box_statistics(values)["q1"] and list(after.x) == [before.x[0]]
    assert "sampled" not in fast.layout.title.text
    spec = fast.to_json()
    assert "P0" not in spec  # no patient id in the masked figure
