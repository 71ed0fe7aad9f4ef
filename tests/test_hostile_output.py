"""Hostile data: text from the district never runs as code or markup for the reader.

A small synthetic district (generated here, never the bundled one) gets injection payloads in
its school names, gender labels, column headers and file names, and runs through the whole
pipeline once. Nothing published may carry a live tag, a ``javascript:`` link, a formula or a
data-folder file name; the PDF is printed with JavaScript off and without network.
Unit tests pin each wall on its own, with benign text as the null that must pass unchanged.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from openpyxl import Workbook, load_workbook

from equity_audit.data.load import load_district
from equity_audit.data.synthetic import write_district
from equity_audit.data.text import FORMULA_START, inert_cells, inert_formula, inert_markdown, restore_cells
from equity_audit.publish import render
from equity_audit.publish.render import PdfError, clean_report_html, print_pdf

MARKUP = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "[x](javascript:alert(1))",
          "<javascript:alert(1)>", '<a href="javascript:alert(1)">x</a>', "![i](http://127.0.0.1:9/p.png)",
          "<svg/onload=alert(1)>", "$\\alpha$ **bold** _em_ `code`", "# heading\n1. item", "https://x.example/a"]
FORMULAS = ['=HYPERLINK("http://evil.example","go")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1"]
BENIGN = ["Maple Grove Elementary", "students from low-income families", "4 of 12 (33%)", "Grade 5"]

# what the fixture plants (school names, gender labels, extra column headers, file names)
SCHOOLS = ["<img src=x onerror=alert(1)>Quillfeather", "[go](javascript:alert(2)) Fernbrook",
           '=HYPERLINK("http://evil.example","Oakhollow")', "+cmd|' /C calc'!A0 Larchmont", "@SUM(1+1) Ashby"]
GENDERS = ["<img src=x onerror=alert(3)>first", "=1+2 second"]
HEADERS = ["<svg/onload=alert(4)>", "[y](javascript:alert(5))"]
FILE_NAMES = ["<img src=x onerror=alert(6)>.txt", "Jane Doe IEP 2025.pdf"]
RENAMED = ("schools.csv", "Schools.CSV")  # a contract table under a name that differs on disk


# --- Markdown: every value shows as typed ------------------------------------------------------

def _rendered(markdown: str) -> BeautifulSoup:
    return BeautifulSoup(markdown2html_mistune(markdown), "html.parser")


@pytest.mark.parametrize("payload", MARKUP + FORMULAS + BENIGN)
def test_inert_markdown_shows_the_text_and_makes_no_markup(payload):
    soup = _rendered("- " + inert_markdown(payload))
    assert [tag.name for tag in soup.find_all(True)] == ["ul", "li"]
    assert soup.li.get_text() == " ".join(payload.split())


def test_markdown_escaping_can_fail():
    # without inert_markdown the same payloads become a tag and a live link
    soup = _rendered("- <img src=x onerror=alert(1)> [x](javascript:alert(1))")
    assert soup.find("img") is not None and soup.find("a")["href"].startswith("javascript:")


def test_sanitiser_keeps_the_report_structure_and_drops_the_rest():
    kept = ('<figure class="audit-table"><figcaption>Caption</figcaption><table border="0" class="audit-table">'
            '<thead><tr style="text-align: right;"><th>School</th></tr></thead><tbody><tr><td>1</td></tr>'
            '</tbody></table></figure><h2 id="s">Section<a class="anchor-link" href="#s">¶</a></h2>'
            '<p><strong>4</strong> of <em>12</em> <a href="https://example.org">source</a></p>')
    assert clean_report_html(kept) == kept
    for payload in MARKUP:
        soup = BeautifulSoup(clean_report_html(markdown2html_mistune(payload)), "html.parser")
        assert not soup.find_all(["img", "script", "svg", "iframe", "object"])
        assert not [a for t in soup.find_all(True) for a in t.attrs if a.lower().startswith("on")]
        assert not [a for a in soup.find_all("a") if "javascript" in a.get("href", "").lower()]


# --- CSV and workbook cells --------------------------------------------------------------------

def test_inert_cells_quote_formulas_and_keep_numbers():
    table = pd.DataFrame({"text": FORMULAS + BENIGN, "number": range(-len(FORMULAS), len(BENIGN)),
                          "mixed": ["-0.25", "<10", "-3", "1e-05", "-", "+5 pts", "withheld", "—", "12", "=A1"]})
    out = inert_cells(table)
    assert out["text"].tolist() == ["'" + v.replace("\r", "\n") for v in FORMULAS] + BENIGN
    assert out["number"].tolist() == table["number"].tolist() and out["number"].dtype == table["number"].dtype
    assert out["mixed"].tolist() == ["-0.25", "<10", "-3", "1e-05", "'-", "'+5 pts", "withheld", "—", "12", "'=A1"]
    assert restore_cells(out).equals(table.replace({"text": {"\r=1+1": "\n=1+1"}}))
    assert inert_cells(pd.DataFrame({"=x": [1]})).columns.tolist() == ["'=x"]
    assert [inert_formula(v) for v in (-3, "-3", "=1", "\r=1", "a=1")] == [-3, "-3", "'=1", "'\n=1", "a=1"]
    null = pd.DataFrame({"text": BENIGN, "share": [0.1, -0.2, None, 3.0]})
    assert inert_cells(null).equals(null)  # benign text and negative numbers pass unchanged


def test_workbook_stores_formulas_as_text(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"school": FORMULAS, "gap": [-0.5, 0.1, -2, 3, 4, -1]}).pipe(inert_cells).to_csv(
        tmp_path / "tables" / "gaps.csv", index=False)
    sheet = load_workbook(render.write_workbook(tmp_path))["Gaps"]
    cells = [row for row in sheet.iter_rows(min_row=2)]
    # the text as written, apostrophe taken off (a carriage return is stored as a line feed)
    assert [row[0].value for row in cells] == [v.replace("\r", "\n") for v in FORMULAS]
    assert all(row[0].data_type == "s" and row[0].quotePrefix for row in cells)
    assert [row[1].value for row in cells] == [-0.5, 0.1, -2, 3, 4, -1]  # numbers stay numbers
    # the check can fail: openpyxl on its own stores "=..." as a formula
    book = Workbook()
    book.active["A1"] = FORMULAS[0]
    assert book.active["A1"].data_type == "f"


# --- loader notes ------------------------------------------------------------------------------

def test_loader_notes_never_name_a_data_folder_file(tmp_path):
    write_district(tmp_path, students=60, seed=2)
    for name in FILE_NAMES:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / RENAMED[0]).rename(tmp_path / RENAMED[1])
    district = load_district(tmp_path)
    text = " ".join(district.notes) + " " + " ".join(district.ledger["file"].dropna())
    assert not any(name in text for name in [*FILE_NAMES, RENAMED[1], "manifest.json"])
    # manifest.json and the two planted files are counted, not named
    assert "not tables of the data contract were ignored: 3." in text
    assert district.ledger.set_index("table").loc["schools", "file"] == RENAMED[0]


# --- PDF ---------------------------------------------------------------------------------------

def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


needs_chromium = pytest.mark.skipif(render.find_chromium() is None or shutil.which("pdftotext") is None,
                                    reason="needs chromium and pdftotext (apt-get install chromium poppler-utils)")


@needs_chromium
def test_pdf_is_printed_without_javascript_or_network(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    html = tmp_path / "page.html"  # no CSP here: the printer itself must stop script and network
    html.write_text(f"""<html><body><p id="t">Printed as written</p>
        <img src="http://127.0.0.1:{port}/a.png"><img src="http://localhost:{port}/b.png">
        <link rel="stylesheet" href="http://127.0.0.1:{port}/c.css">
        <script>document.getElementById("t").textContent = "SCRIPT RAN"; alert(1);</script>
        <img src="x" onerror="document.body.append('HANDLER RAN')"></body></html>""")
    pdf = print_pdf(html, tmp_path / "page.pdf", timeout=90)
    text = _pdf_text(pdf)
    assert "Printed as written" in text
    assert "SCRIPT RAN" not in text and "HANDLER RAN" not in text  # and alert() did not stall it
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing connected
    listener.close()


def _fake_chromium(tmp_path, monkeypatch, script: str) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n" + script + "\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(render, "find_chromium", lambda: str(fake))


def test_a_failing_pdf_step_is_an_error(tmp_path, monkeypatch):
    html = tmp_path / "report.html"
    html.write_text("<html><body>Report</body></html>")
    _fake_chromium(tmp_path, monkeypatch, "echo 'cannot open display' >&2; exit 3")
    with pytest.raises(PdfError, match="could not be printed") as error:
        print_pdf(html)
    assert error.value.exit_code != 0 and not (tmp_path / "report.pdf").exists()


def test_a_stalled_pdf_step_is_stopped_and_is_an_error(tmp_path, monkeypatch):
    html = tmp_path / "report.html"
    html.write_text("<html><body>Report</body></html>")
    _fake_chromium(tmp_path, monkeypatch, "exec sleep 60")
    with pytest.raises(PdfError, match="did not finish within 1 s"):
        print_pdf(html, timeout=1)


def test_the_sandbox_is_off_only_for_root():
    command = render.chromium_command("chromium", "/tmp/profile")
    assert ("--no-sandbox" in command) == (os.geteuid() == 0)
    assert "--proxy-bypass-list=<-loopback>" in command and "--remote-debugging-pipe" in command


# --- the whole pipeline on a hostile district ---------------------------------------------------

@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from equity_audit.app.pipeline import run_audit

    data = tmp_path_factory.mktemp("hostile_district")
    write_district(data, students=300, seed=11)
    schools = pd.read_csv(data / "schools.csv", dtype=str, keep_default_na=False)
    schools["school_name"] = SCHOOLS[:len(schools)]
    schools.to_csv(data / "schools.csv", index=False)
    students = pd.read_csv(data / "students.csv", dtype=str, keep_default_na=False)
    largest = students["gender"].value_counts().index[:2]  # whatever the generator calls them
    students["gender"] = students["gender"].replace(dict(zip(largest, GENDERS)))
    for header in HEADERS:
        students[header] = "1"
    students.to_csv(data / "students.csv", index=False)
    for name in FILE_NAMES:
        (data / name).write_bytes(b"x")
    (data / RENAMED[0]).rename(data / RENAMED[1])
    out = tmp_path_factory.mktemp("hostile_run") / "run"
    messages = []
    run_audit(data, out, log=messages.append, progress=False)
    return out, messages


def _published_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.is_file() and "confidential" not in p.relative_to(run).parts]


def test_report_has_no_live_markup_and_a_strict_policy(hostile_run):
    run, _ = hostile_run
    raw = (run / "report.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(raw, "html.parser")
    first = soup.head.find(True)
    assert first.name == "meta" and first["http-equiv"] == "Content-Security-Policy"
    policy = first["content"]
    assert "default-src 'none'" in policy and "script-src 'none'" in policy and "connect-src 'none'" in policy
    assert not soup.find_all(["script", "svg", "iframe", "object", "embed", "form", "base"])
    assert not [(t.name, a) for t in soup.find_all(True) for a in t.attrs if a.lower().startswith("on")]
    assert not [a for a in soup.find_all(href=True) if not a["href"].startswith(("#", "https://", "http://"))]
    assert all(img["src"].startswith("data:image/png;base64,") for img in soup.find_all("img"))
    # the payloads did reach the report, as text
    text = soup.get_text(" ")
    assert HEADERS[0] in text and HEADERS[1] in text
    assert any(name in text for name in SCHOOLS + GENDERS)


def test_no_formula_in_the_workbook_or_the_csvs(hostile_run):
    run, _ = hostile_run
    book = load_workbook(run / "findings.xlsx")
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                values.append(cell.value)
    assert any(isinstance(v, str) and v.startswith(tuple(SCHOOLS[2:] + GENDERS[1:])) for v in values)
    planted = 0
    for path in run.rglob("*.csv"):  # published and confidential
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for value in row:
                    if value.startswith(FORMULA_START):
                        float(value)  # only a number may start with + or -
                    planted += value.startswith(("'=HYPERLINK", "'+cmd", "'@SUM", "'=1+2"))
    assert planted > 0  # the payloads reached the tables, quoted


def test_no_data_folder_file_name_is_published(hostile_run):
    run, _ = hostile_run
    names = [*FILE_NAMES, RENAMED[1], "Jane Doe", "onerror=alert(6)"]
    for path in _published_files(run):
        if path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            text = " ".join(str(v) for sheet in book.worksheets for row in sheet.values for v in row)
        elif path.suffix == ".pdf":
            text = _pdf_text(path) if shutil.which("pdftotext") else ""
        elif path.suffix in (".html", ".csv", ".json", ".md", ".txt"):
            text = path.read_text(encoding="utf-8")
            text += BeautifulSoup(text, "html.parser").get_text() if path.suffix == ".html" else ""
        else:
            continue
        assert not [name for name in names if name in text], path.name
    notes = json.dumps(json.loads((run / "findings.json").read_text(encoding="utf-8")))
    assert "Jane Doe" not in notes


@needs_chromium
def test_pdf_of_the_hostile_run_starts_with_the_cover(hostile_run):
    run, messages = hostile_run
    assert any(m.startswith("PDF printed") for m in messages), messages
    soup = BeautifulSoup((run / "report.html").read_text(encoding="utf-8"), "html.parser")
    header, first_line = [line.strip() for line in _pdf_text(run / "report.pdf").splitlines() if line.strip()][:2]
    cover = soup.find("header", class_="audit-cover").h1.get_text(strip=True)
    assert header == f"Equity audit: {cover}", "the running header names the district"
    assert first_line == cover
    assert not any(payload in first_line for payload in SCHOOLS + GENDERS + HEADERS)
