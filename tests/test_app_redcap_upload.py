"""Data page: a REDCap export (raw with its data dictionary, labels without) and a tumour-assessment table
uploaded in memory, loaded as the CSV sample is."""
from __future__ import annotations

from pathlib import Path

from support.apptest import open_app, rerun, sidebar_count, tables, texts, unescape, widget

ROOT = Path(__file__).resolve().parent.parent
REDCAP = ROOT / "sample_data" / "redcap"
SAMPLE = ROOT / "sample_data"


def upload_file(at, path: Path, key: str = "w_upload"):
    if widget(at, "radio", "w_data").value != "upload":
        widget(at, "radio", "w_data").set_value("upload")
        rerun(at)
    at.file_uploader(key=key).set_value((path.name, path.read_bytes(), "text/csv"))
    return rerun(at)


def orr_row(at) -> str:
    """The ORR rows of the Response page's response-rates table (by disease), as shown."""
    rates = next(t for t in tables(at) if t.astype(str).apply(lambda c: c.str.contains("ORR")).any().any())
    orr = rates[rates.astype(str).apply(lambda c: c.str.contains("ORR")).any(axis=1)]
    assert len(orr)
    return orr.astype(str).to_csv(index=False)


def sample_orr() -> str:
    at = open_app()
    at.switch_page("pages/2_Response.py").run()
    return orr_row(at)


def test_raw_redcap_export_with_its_dictionary_loads_the_sample_s_patients_and_orr():
    at = open_app()
    at = upload_file(at, REDCAP / "il2_registry_data_dictionary.csv", key="w_upload_dictionary")
    at = upload_file(at, REDCAP / "combined_redcap_raw.csv")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients analysed"] == "107"
    assert "107" in sidebar_count(at)
    assert any("REDCap export: raw data" in e.label for e in at.expander)
    at.switch_page("pages/2_Response.py").run()
    assert not at.exception
    assert orr_row(at) == sample_orr()


def test_labels_export_without_a_dictionary_loads_the_sample_s_patients():
    at = upload_file(open_app(), REDCAP / "combined_redcap_labels.csv")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients analysed"] == "107"
    assert any("REDCap export: labels" in e.label for e in at.expander)
    at.switch_page("pages/2_Response.py").run()
    assert orr_row(at) == sample_orr()


def test_tumour_assessment_upload_is_validated_on_the_data_page():
    at = upload_file(open_app(), SAMPLE / "combined_synthetic.csv")
    at = upload_file(at, SAMPLE / "combined_synthetic_tumour_assessments.csv", key="w_upload_tumour")
    assert not at.exception
    assert any(m == "#### Tumour-assessment table" for m in (x.value for x in at.markdown))
    assert any("assessment rows read" in c for c in texts(at, "caption"))


def test_tumour_assessment_findings_are_listed_unless_small_cell_protection_is_on(tmp_path):
    lines = (SAMPLE / "combined_synthetic_tumour_assessments.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",31,", ",soon,")  # file row 2: not a number
    lines[3] = lines[3].rsplit(",", 1)[0] + ",-5"  # file row 4: new_lesions not Yes/No
    path = tmp_path / "assessments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = upload_file(open_app(), SAMPLE / "combined_synthetic.csv")
    at = upload_file(at, path, key="w_upload_tumour")
    [listing] = [e for e in at.expander if e.label.startswith("Tumour-assessment table:")]
    assert listing.label == "Tumour-assessment table: 2 findings"
    shown = unescape("\n".join(m.value for m in listing.markdown))
    assert "- Left out: Assessment row 2 (patient_id=PRO-001): target_sum_mm 'soon' is not a number." in shown
    assert "- Left out: Assessment row 4: new_lesions '-5' not recognised" in shown
    at.toggle(key="w_mask").set_value(True)  # small-cell protection: findings about patients are not listed
    at = rerun(at)
    [listing] = [e for e in at.expander if e.label.startswith("Tumour-assessment table:")]
    assert not listing.markdown
    # rows read = kept + left out: the kept rows are hidden too, or 566 - 564 would give back the 2 left out
    [rows] = [c for c in texts(at, "caption") if "assessment rows read" in c]
    assert rows.startswith("566 assessment rows read: ") and "564" not in rows and "<5 left out" in rows, rows
    assert any("not listed while small-cell protection is on" in c.value for c in listing.caption)


def test_record_id_flagged_as_identifier_forces_pseudonyms():
    import csv
    import io

    rows = list(csv.reader(io.StringIO((REDCAP / "il2_registry_data_dictionary.csv").read_text(encoding="utf-8"))))
    assert rows[1][0] == "patient_id"
    rows[1][10] = "y"  # Identifier?
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    at = open_app()
    widget(at, "radio", "w_data").set_value("upload")
    rerun(at)
    at.file_uploader(key="w_upload_dictionary").set_value(("dictionary.csv", buffer.getvalue().encode(), "text/csv"))
    rerun(at)
    at = upload_file(at, REDCAP / "combined_redcap_raw.csv")
    assert widget(at, "toggle", "w_pseudonyms_required").value is True
    assert any("Pseudonyms are on and stay on" in c for c in texts(at, "caption"))
    at = rerun(at.switch_page("pages/2_Response.py"))
    charts = [e.proto.spec for e in at.get("plotly_chart")]
    assert any("row " in spec for spec in charts)
    assert not any("PRO-0" in spec or "COM-0" in spec for spec in charts)
