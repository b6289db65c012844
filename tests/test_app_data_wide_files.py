"""Data page with a file of thousands of columns: what it draws stays bounded (at most 200 unrecognised columns in
the mapping table, 50 file columns listed with their findings, 20 identifier columns named, 100 preview columns),
each cut says how much it leaves out, the counts still reconcile and the findings download keeps every finding;
a normal file is drawn in full."""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from conftest import csv_bytes, patient_rows

from app_ui import data as data_mod
from il2lib import schema
from il2lib.validation.patients import load_cohort
from support import fuzz_inputs as fz
from support.apptest import data_preview, open_app, rerun, texts, unescape, widget

WIDTH = 10_000


def _uploaded(raw: bytes, name: str):
    """A Data page session with ``raw`` uploaded; the findings offered for download are recorded."""
    from app_ui import downloads

    offered = {}
    real = downloads.download_table
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(downloads, "download_table",
                      lambda df, table, **kw: (offered.update({table: df}), real(df, table, **kw)))
        at = open_app()
        widget(at, "radio", "w_data").set_value("upload")
        rerun(at)
        at.file_uploader(key="w_upload").set_value((name, raw, "text/csv"))
        rerun(at)
    buffer = io.BytesIO(raw)
    buffer.name = name
    return at, load_cohort(buffer).report, offered


@pytest.fixture(scope="module")
def unrecognised():
    """10,000 columns the dashboard does not recognise (c0 ... c9999), one row."""
    return _uploaded(*fz.wide_csv(WIDTH))


@pytest.fixture(scope="module")
def identifiers():
    """10,000 identifier-looking columns (mrn, mrn (2), ...): one warning per column, and no required column."""
    return _uploaded(*fz.repeated_header_csv(WIDTH, "mrn"))


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _mapping(at):
    return next(e for e in at.expander if e.label == "Column mapping")


def _findings_expanders(at) -> list:
    return [e for e in at.expander if e.label not in ("Column mapping", "Analysed data (first 50 rows)")
            and not e.label.startswith(("Not in your file", "How the file was read"))]


def _bounded(at) -> None:
    nodes = list(at.main)
    assert len(nodes) < 600, len(nodes)
    assert all(d.value.shape[0] <= 200 and d.value.shape[1] <= 100 for d in at.dataframe)


def test_the_mapping_table_lists_200_unrecognised_columns_and_says_how_many_it_leaves_out(unrecognised):
    at, report, _ = unrecognised
    _bounded(at)
    assert len(report.unmapped_columns) == WIDTH
    table = _mapping(at).dataframe[0].value
    assert list(table["File column"]) == [f"c{k}" for k in range(200)]
    assert (f"{WIDTH:,} file columns are not recognised; the table lists 200 of them. The others stay extra columns "
            "unless you find and map them: apply your changes before a new search (it starts a fresh table).") \
        in texts(at, "caption")
    assert _metrics(at) == {"Rows loaded": "1", "Patients analysed": "0", "Rows excluded": "1"}
    assert report.n_loaded == report.n_analysed + report.n_excluded == 1
    assert "Download excluded rows with reasons (CSV)" in [b.proto.label for b in at.get("download_button")]


def test_any_unrecognised_column_can_be_found_and_an_applied_mapping_keeps_the_columns_not_listed(unrecognised):
    at = unrecognised[0]
    at.session_state[data_mod.MAPPING] = {"c7000": ""}  # applied earlier, not listed now
    at.text_input(key="w_mapping_find").set_value("c999")
    rerun(at)
    table = _mapping(at).dataframe[0].value
    assert list(table["File column"]) == ["c999", "c9990", "c9991", "c9992", "c9993", "c9994", "c9995", "c9996",
                                          "c9997", "c9998", "c9999"]
    assert any(c.startswith(f"{WIDTH:,} file columns are not recognised; the table lists 11 of them (11 match the "
                            "search)") for c in texts(at, "caption"))
    next(b for b in at.button if b.label == "Apply mapping").click()
    rerun(at)
    applied = at.session_state[data_mod.MAPPING]
    assert applied == {**{c: "" for c in table["File column"]}, "c7000": ""}


def test_findings_of_50_file_columns_are_listed_the_rest_summed_up_and_all_downloadable(identifiers):
    at, report, offered = identifiers
    _bounded(at)
    assert len(report.findings) == WIDTH + len(schema.REQUIRED_COLUMNS)
    expanders = _findings_expanders(at)
    labels = [unescape(e.label) for e in expanders]
    required = [f"{schema.label(name)} ({name}): 1 file problem" for name in schema.REQUIRED_COLUMNS]
    assert labels == ["File column 'mrn': 1 warning"] + [f"File column 'mrn ({k})': 1 warning"
                                                         for k in range(2, 51)] + required
    assert all(e.proto.expanded for e in expanders if "file problem" in e.label)  # the blocking errors stay in view
    summary = f"… and {WIDTH - 50:,} more file columns with findings ({WIDTH - 50:,} warnings), not listed one by " \
              "one: the findings download below has every finding."
    assert summary in texts(at, "caption")
    listed = sum(int(n) for label in labels for n in re.findall(r"(\d+) (?:warning|file problem|row left out)", label))
    assert listed + (WIDTH - 50) == len(report.findings)
    assert len(offered["validation_findings"]) == len(report.findings)


def test_the_identifier_warning_names_20_columns_and_counts_the_others(identifiers):
    at, report = identifiers[:2]
    assert len(report.identifier_columns) == WIDTH
    named = ", ".join(["'mrn'"] + [f"'mrn ({k})'" for k in range(2, 21)])
    assert (f"Columns that look like direct identifiers: {named} and {WIDTH - 20:,} more. Remove them from the file "
            "before sharing; they are never used as patient_id.") in texts(at, "warning")
    assert _metrics(at) == {"Rows loaded": "1", "Patients analysed": "0", "Rows excluded": "1"}


def test_the_preview_shows_the_first_100_columns_of_a_wide_cohort():
    frame = pd.concat([patient_rows(n=3), pd.DataFrame({f"extra {k}": ["x", "y", "z"] for k in range(150)})],
                      axis=1)
    at, report, _ = _uploaded(csv_bytes(frame), "cohort.csv")
    assert report.n_analysed == 3
    preview = data_preview(at)
    data = load_cohort(csv_bytes(frame)).data
    assert preview.dataframe[0].value.shape == (3, 100)
    labels = [schema.label(c) for c in data.columns[:100]]
    assert [c.split(" (")[0] if c not in labels else c for c in preview.dataframe[0].value.columns] == labels
    assert f"Showing the first 100 of the {data.shape[1]:,} columns." in [c.value for c in preview.caption]
    assert len(_mapping(at).dataframe[0].value) == len(report.unmapped_columns) + len(report.mapping)  # under 200


def test_a_normal_file_is_drawn_in_full():
    at = open_app()
    sample = load_cohort(data_mod.SAMPLE_DIR / data_mod.SAMPLES[data_mod.DEFAULT_CHOICE].patients_file)
    assert len(_mapping(at).dataframe[0].value) == len(sample.report.mapping)
    preview = data_preview(at)
    assert preview.dataframe[0].value.shape == (50, sample.data.shape[1])
    frame = patient_rows({}, {"patient_id": "P001"}, {}, {"disease": "lung"}, n=6).assign(MRN=list("123456"))
    at, report, offered = _uploaded(csv_bytes(frame), "cohort.csv")
    columns = report.to_frame()["column"].fillna("(whole file)")
    assert len(_findings_expanders(at)) == columns.nunique()
    assert "Columns that look like direct identifiers: 'MRN'. Remove them from the file before sharing; they are " \
           "never used as patient_id." in texts(at, "warning")
    assert len(_mapping(at).dataframe[0].value) == len(report.unmapped_columns) + len(report.mapping)
    assert not at.main.text_input  # no search for a table listed in full
    cuts = ("not recognised", "more file columns", "Showing the first")
    assert not [c for c in texts(at, "caption") if any(cut in c for cut in cuts)]
    assert len(offered["validation_findings"]) == len(report.findings)
