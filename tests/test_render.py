"""What a run publishes beside report.html: findings.xlsx, findings.json and report.pdf.

The canary test plants one student with a unique id and name and proves that neither reaches
any published output, while the id does reach the confidential folder (so the search looked
at the right data).
"""
from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook

from equity_audit.data.contract import TABLES
from equity_audit.publish import render
from equity_audit.publish.findings import SCHEMA_VERSION, build_findings
from equity_audit.publish.findings import write_findings
from equity_audit.publish.render import NO_PDF_MESSAGE, print_pdf, write_workbook

CANARY_ID = "CANARY0001"
CANARY_NAME = "Zyxwvut Qwertyson"
CANARY_WORDS = [CANARY_NAME, *CANARY_NAME.split()]
# every table of the bundled district that names students by id
#: Every contract table that names a student, so a table added to the contract is covered too.
STUDENT_TABLES = [name for name, table in TABLES.items() if "student_id" in table.column_names]


# --- findings.xlsx and findings.json on the demo run ----------------------------------------------

def test_workbook_has_contents_and_one_sheet_per_published_table(demo_run):
    workbook = demo_run / "findings.xlsx"
    assert workbook.exists()
    tables = sorted(p.name for p in (demo_run / "tables").glob("*.csv"))
    sheets = pd.read_excel(workbook, sheet_name=None)
    assert list(sheets)[:3] == ["README", "Contents", "Findings"]
    assert len(sheets) == len(tables) + 3
    readme = sheets["README"].set_index("Item")
    settings = json.loads((demo_run / "findings.json").read_text(encoding="utf-8"))["settings"]
    assert readme.loc["min_n", "Meaning"] == str(settings["min_n"])   # the run's settings
    assert {"small_n", "complementary"} <= set(readme.index)          # the status codes
    contents = sheets["Contents"]
    assert contents["Table file"].iloc[0] == "findings.json"
    assert sorted(contents["Table file"].iloc[1:].str.removeprefix("tables/")) == tables
    findings = json.loads((demo_run / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert len(sheets["Findings"]) == len(findings) > 0
    assert sheets["Findings"]["statement"].tolist() == [f["statement"] for f in findings]
    assert set(contents["Sheet"]) == set(sheets) - {"Contents", "README"}
    assert contents["Description"].str.len().gt(5).all()
    assert all(len(name) <= 31 for name in sheets)
    # each table is described in words of its own, not only its file name
    assert {path[:-4] for path in tables} <= set(render.TABLE_DESCRIPTIONS)
    assert not [name for name in sheets if "level4" in name.lower()], "Level-4, as the report writes it"


def _same_cell(csv_value: str, cell) -> bool:
    if csv_value == "":
        return cell is None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return math.isclose(float(csv_value), cell, rel_tol=1e-12)
    return str(cell) == csv_value


def test_workbook_cells_equal_the_csv(demo_run):
    """composition mixes counts with "<10" and shares with "suppressed": every cell must match."""
    csv = pd.read_csv(demo_run / "tables" / "composition.csv", dtype=str, keep_default_na=False)
    contents = pd.read_excel(demo_run / "findings.xlsx", sheet_name="Contents")
    sheet = contents.set_index("Table file").loc["tables/composition.csv", "Sheet"]
    rows = list(load_workbook(demo_run / "findings.xlsx", read_only=True)[sheet].values)
    assert list(rows[0]) == list(csv.columns)
    assert len(rows) - 1 == len(csv)
    for expected, got in zip(csv.itertuples(index=False), rows[1:]):
        assert all(_same_cell(e, g) for e, g in zip(expected, got)), (expected, got)
    # counts stay numbers in Excel even in a column that holds "<10"
    assert any(isinstance(row[list(csv.columns).index("n")], int) for row in rows[1:])


def test_workbook_sheets_filter_and_show_three_decimals_of_full_numbers(demo_run):
    book = load_workbook(demo_run / "findings.xlsx")
    findings = book["Findings"]
    assert findings.auto_filter.ref == findings.dimensions and findings.freeze_panes == "A2"
    floats = [cell for row in findings.iter_rows(min_row=2) for cell in row if isinstance(cell.value, float)]
    assert floats and all(cell.number_format == "0.000" for cell in floats)
    # stored in full: the workbook keeps the precision of findings.json
    document = json.loads((demo_run / "findings.json").read_text(encoding="utf-8"))
    column = [cell.value for cell in findings[1]].index("difference") + 1
    stored = [findings.cell(row=r, column=column).value for r in range(2, findings.max_row + 1)]
    expected = [f["difference"] for f in document["findings"]]
    assert len(stored) == len(expected) and all(
        (a is None and b is None) or math.isclose(a, b, rel_tol=1e-12) for a, b in zip(stored, expected))


def test_findings_json(demo_run):
    text = (demo_run / "findings.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert {"district", "period", "generated", "settings", "version", "tables", "findings"} <= set(document)
    assert document["district"] == "Synthetic district"
    assert document["period"] == "2023-24 to 2025-26"
    names = {p.stem for p in (demo_run / "tables").glob("*.csv")}
    assert set(document["tables"]) == names
    # one record per flagged row of the published tables (publish/findings.py), in its schema
    assert document["schema_version"] == SCHEMA_VERSION
    assert len(document["findings"]) == len(build_findings(demo_run)["published"]) > 0
    assert all(record["statement"] for record in document["findings"])


def test_outputs_read_only_published_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "confidential").mkdir()
    pd.DataFrame({"n": [12, float("nan")], "share": ["50%", "suppressed"]}).to_csv(
        tmp_path / "tables" / "findings_demo.csv", index=False)
    pd.DataFrame({"student_id": [CANARY_ID]}).to_csv(tmp_path / "confidential" / "list.csv", index=False)
    write_workbook(tmp_path)
    document = json.loads(write_findings(tmp_path, cover={"settings": {"x": float("nan")}},
                                         with_tables=True).read_text())
    assert document["tables"] == {"findings_demo": [{"n": 12.0, "share": "50%"}, {"n": None, "share": "suppressed"}]}
    assert document["settings"] == {"x": None}
    assert CANARY_ID not in json.dumps(document)
    assert list(pd.read_excel(tmp_path / "findings.xlsx", sheet_name=None)) == ["README", "Contents", "Findings demo"]


def test_sheet_names_are_short_unique_and_readable():
    names = render._sheet_names(["idea_oss_students_with_disabilities", "a" * 40, "a" * 41, "contents",
                                 "high_grade_low_evidence_by_subgroup", "x/y:z"])
    values = list(names.values())
    assert all(len(v) <= 31 for v in values)
    assert len({v.lower() for v in values}) == len(values) and "contents" not in {v.lower() for v in values}
    assert names["idea_oss_students_with_disabilities"] == "IDEA OSS SWD"
    assert names["x/y:z"] == "X y z"


# --- PDF -------------------------------------------------------------------------------------------

def test_print_pdf_without_chromium_returns_none(tmp_path, monkeypatch):
    html = tmp_path / "report.html"
    html.write_text("<html><body><h1>Report</h1></body></html>")
    (tmp_path / "report.pdf").write_bytes(b"stale")
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    assert print_pdf(html) is None
    assert not (tmp_path / "report.pdf").exists(), "an earlier run's PDF must not be left behind"
    assert "apt-get install chromium" in NO_PDF_MESSAGE and "HTML report is complete" in NO_PDF_MESSAGE


def test_print_pdf_with_chromium(tmp_path):
    if render.find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the PDF step is optional")
    html = tmp_path / "report.html"
    html.write_text("<html><body><h1>Equity report</h1><p>Printed by Chromium.</p></body></html>")
    messages = []
    pdf = print_pdf(html, tmp_path / "out.pdf", log=messages.append)
    assert pdf == tmp_path / "out.pdf", messages
    assert pdf.stat().st_size > 0 and pdf.read_bytes().startswith(b"%PDF")


# --- end to end -------------------------------------------------------------------------------------

def _pdf_text(pdf) -> str | None:
    """The text of a PDF, or None when no extractor is available.

    Chromium compresses page content streams, so searching the raw bytes is not enough on its own.
    """
    if importlib.util.find_spec("pypdf"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                              capture_output=True, text=True).stdout
    return None


def _plant_canary(source, target):
    """Copy the district; rename one student to the canary id everywhere and give them a name."""
    shutil.copytree(source, target)
    students = pd.read_csv(target / "students.csv", dtype=str, keep_default_na=False)
    victim = students["student_id"].iloc[0]
    touched = []
    for path in (target / f"{name}.csv" for name in STUDENT_TABLES):
        if not path.exists():
            continue
        name = path.stem
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        hits = table["student_id"] == victim
        if hits.any():
            touched.append(name)
        table.loc[hits, "student_id"] = CANARY_ID
        if name == "students":
            table.insert(1, "student_name", [f"Student {i}" for i in range(len(table))])
            table.loc[hits, "student_name"] = CANARY_NAME
        table.to_csv(path, index=False)
    for path in target.iterdir():  # no table may still name the student by the old id
        if path.suffix == ".csv":
            assert victim not in set(pd.read_csv(path, dtype=str, keep_default_na=False).get("student_id", [])), path
    return touched


@pytest.mark.slow
def test_canary_student_reaches_no_published_output(bundled_district, tmp_path):
    from equity_audit.app.pipeline import run_audit

    # the cover names the district after its folder: one that says nothing of the canary
    district, out = tmp_path / "springfield", tmp_path / "run"
    touched = _plant_canary(bundled_district, district)
    assert {"students", "enrollments", "levels", "evidence"} <= set(touched)
    report = run_audit(district, out, log=lambda message: None, progress=False)

    def assert_clean(text: str, where: str):
        lowered = text.lower()
        leaked = [word for word in [CANARY_ID, *CANARY_WORDS] if word.lower() in lowered]
        assert not leaked, f"{leaked} found in {where}"

    assert_clean(report.read_text(encoding="utf-8"), "report.html")
    for table in (out / "tables").glob("*.csv"):
        assert_clean(table.read_text(encoding="utf-8"), f"tables/{table.name}")
    sheets = pd.read_excel(out / "findings.xlsx", sheet_name=None, dtype=str)
    assert_clean("\n".join(name + "\n" + sheet.to_csv() for name, sheet in sheets.items()), "findings.xlsx")
    assert_clean((out / "findings.json").read_text(encoding="utf-8"), "findings.json")

    # the canary is in the data this test searched: the confidential folder holds its id
    confidential = b"".join(p.read_bytes() for p in (out / "confidential").rglob("*") if p.is_file())
    assert CANARY_ID.encode() in confidential

    pdf = out / "report.pdf"
    if not pdf.exists():
        pytest.skip("no report.pdf: Chromium is not installed, so the PDF could not be checked")
    assert_clean(pdf.read_bytes().decode("latin-1"), "report.pdf (raw bytes)")
    text = _pdf_text(pdf)
    if text is None:
        pytest.skip("cannot read the PDF's text: install poppler-utils (pdftotext); "
                    "Chromium compresses page text, so raw bytes alone prove nothing")
    assert "Springfield district" in text, "text extraction must work for the check to mean anything"
    assert_clean(text, "report.pdf (text)")


@pytest.mark.slow
def test_null_district_builds_report_and_findings(tmp_path):
    from equity_audit.app.pipeline import run_audit
    from equity_audit.data.synthetic import write_district

    district = tmp_path / "district"
    write_district(district, students=1500, seed=9, null=True)
    messages = []
    report = run_audit(district, tmp_path / "run", log=messages.append, progress=False)
    assert report == tmp_path / "run" / "report.html" and report.exists()
    assert (tmp_path / "run" / "findings.xlsx").exists()
    document = json.loads((tmp_path / "run" / "findings.json").read_text())
    assert document["tables"]
    assert any("findings.xlsx" in m for m in messages) and any("findings.json" in m for m in messages)
    assert any("report.pdf" in m for m in messages) or NO_PDF_MESSAGE in messages


def test_the_workbook_readme_explains_the_shared_columns(tmp_path):
    from equity_audit.publish.render import readme_sheet
    sheet = readme_sheet(tmp_path)
    columns = sheet.loc[sheet["Topic"] == "Column"].set_index("Item")["Meaning"]
    assert {"n", "n_missing", "flagged"} <= set(columns.index)
    assert "n plus n_missing is the group's size" in columns["n_missing"]
