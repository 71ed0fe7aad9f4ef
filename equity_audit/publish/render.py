"""Turn the executed audit notebooks into one report with no code in it.

The notebooks are joined in run order and exported with nbconvert's HTML
exporter and the ``audit`` template (``templates/audit``); a table of contents
is then built from the section headings.

Beside the HTML, a run gets the same published tables for other tools:
``findings.xlsx`` (one sheet per table of ``OUT/tables``, with a Contents
sheet) and ``findings.json``, and a PDF printed from the HTML by headless
Chromium when one is installed (:func:`print_pdf`). All three read only the
HTML report and ``OUT/tables/``, never ``OUT/confidential/``.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from equity_audit.paths import template_dir

__all__ = ["render_report", "combine_notebooks", "print_pdf", "find_chromium", "write_workbook",
           "write_findings_json", "REPORT_NAME", "PDF_NAME", "WORKBOOK_NAME", "JSON_NAME",
           "NO_PDF_MESSAGE", "TABLE_DESCRIPTIONS"]

REPORT_NAME = "report.html"
PDF_NAME = "report.pdf"
WORKBOOK_NAME = "findings.xlsx"
JSON_NAME = "findings.json"
NO_PDF_MESSAGE = ("No PDF: no Chromium was found; install the Debian package chromium "
                  "(apt-get install chromium) and run again. The HTML report is complete.")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}


def combine_notebooks(paths: list[Path], cover: dict) -> nbformat.NotebookNode:
    """One notebook holding the cells of ``paths`` in order, minus parameter cells."""
    combined = nbformat.v4.new_notebook()
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        combined.cells.extend(
            copy.deepcopy(cell) for cell in notebook.cells
            if not _HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))
        )
    combined.metadata["equity_audit"] = cover
    combined.metadata["title"] = f"Equity audit: {cover.get('district_name', '')}"
    combined.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return combined


def render_report(notebooks: list[Path], out_path: Path, *, cover: dict) -> Path:
    """Write the HTML report of the executed ``notebooks`` to ``out_path``.

    ``cover`` holds what the cover page shows: ``district_name``, ``period``,
    ``version`` and ``settings``.
    """
    cover = {"generated": date.today().isoformat(), **cover}
    exporter = HTMLExporter(
        template_name="audit",
        extra_template_basedirs=[str(template_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    html, _ = exporter.from_notebook_node(combine_notebooks(notebooks, cover))
    out_path = Path(out_path)
    out_path.write_text(add_contents(html), encoding="utf-8")
    return out_path


def add_contents(html: str) -> str:
    """Insert a linked table of contents of the ``h2`` sections after the cover."""
    soup = BeautifulSoup(html, "html.parser")
    headings = [h for h in soup.find_all("h2") if h.get("id")]
    if not headings:
        return html
    nav = soup.new_tag("nav", id="toc", attrs={"aria-label": "Contents"})
    title = soup.new_tag("h2", attrs={"class": "toc-title"})
    title.string = "Contents"
    items = soup.new_tag("ol")
    for heading in headings:
        link = soup.new_tag("a", href=f"#{heading['id']}")
        link.string = heading.get_text(" ", strip=True).rstrip("¶").strip()
        item = soup.new_tag("li")
        item.append(link)
        items.append(item)
    nav.extend([title, items])
    cover = soup.find("header", class_="audit-cover")
    if cover:
        cover.insert_after(nav)
    else:
        soup.main.insert(0, nav)
    return str(soup)


# --- PDF ---------------------------------------------------------------------------------------

def find_chromium() -> str | None:
    """The first Chromium-family browser on ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path | None = None, *, timeout: float = 180,
              log: Callable[[str], None] | None = None) -> Path | None:
    """Print the HTML report to PDF with headless Chromium; the path, or None when no PDF was made.

    None means no Chromium is installed (the caller then says :data:`NO_PDF_MESSAGE`) or
    Chromium failed; a failure is described through ``log`` when given. Never raises for
    a missing or failing browser. The print styles of the ``audit`` template apply.
    nbconvert's ``webpdf`` is not used: its Playwright cannot use a system Chromium.
    """
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path).resolve() if pdf_path else html_path.with_suffix(".pdf")
    pdf_path.unlink(missing_ok=True)  # never leave an earlier run's PDF beside a new report
    chromium = find_chromium()
    if chromium is None:
        return None
    say = log or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="equity-audit-chromium-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.as_uri()]
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, start_new_session=True)
        except OSError as err:
            say(f"No PDF: {chromium} could not be started ({err}). The HTML report is complete.")
            return None
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            say(f"No PDF: {chromium} did not finish printing within {timeout:g} s. "
                "The HTML report is complete.")
            pdf_path.unlink(missing_ok=True)
            return None
    if process.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        detail = (stderr or "").strip().splitlines()[-1:] or ["no message"]
        say(f"No PDF: {chromium} exited with code {process.returncode} ({detail[0]}). "
            "The HTML report is complete.")
        pdf_path.unlink(missing_ok=True)
        return None
    return pdf_path


def _kill_group(process: subprocess.Popen) -> None:
    """End the Chromium we started and its helper processes (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.communicate()


# --- workbook and JSON -------------------------------------------------------------------------

TABLE_DESCRIPTIONS = {
    "students_by_school_year": "Students by school and school year.",
    "students_by_grade_year": "Students by grade and school year.",
    "composition": "Students in the audit by subgroup (small groups withheld).",
    "ledger": "Row ledger: rows read, used and excluded for each table provided.",
    "exclusions": "Rows left out of the audit, with the reason.",
    "pace_by_subgroup": "Pace (levels gained a year) by subgroup, with 95% intervals.",
    "levels_behind_by_pace": "Students by levels behind and by pace.",
    "two_plus_behind_by_subgroup": "Students two or more levels behind, by subgroup.",
    "pace_intersections": "Pace of intersections that differ from what their groups predict.",
    "unmet_need_by_school": "Students who needed more support and had none, by school.",
    "unmet_need_by_subgroup": "Students who needed more support and had none, by subgroup.",
    "unmet_need_intersections": "Unmet need in intersections that differ from what their groups predict.",
    "talent_without_access_by_subgroup": "Students ready to move on without acceleration or Level-4 work, by subgroup.",
    "graduation_scenarios": "Share on track to graduate by 18 at 1.0, 1.25, 1.5 and 2.0 levels a year.",
    "findings_unmet_need": "Findings of the unmet-need section, one statement per row.",
    "exclusion_by_subgroup": "Exclusionary discipline rates by subgroup.",
    "removals_by_subgroup": "Removals from class by subgroup.",
    "days_removed_by_subgroup": "Days removed by subgroup.",
    "idea_oss_all_students": "IDEA risk ratios for out-of-school suspension, all students (34 CFR 300.647).",
    "idea_oss_students_with_disabilities": "IDEA risk ratios for out-of-school suspension, students with disabilities.",
    "oss_gaps_by_school": "Within-school gaps in out-of-school suspension.",
    "access_by_subgroup": "Access to Level-4 work, enrichment, acceleration, advanced courses and leadership by subgroup (latest year).",
    "access_by_subgroup_all_years": "Access to opportunities by subgroup, all years pooled.",
    "level4_gaps_by_school": "Within-school gaps in access to Level-4 work.",
    "below_pace_by_school": "Students below pace by school (funnel-plot data).",
    "below_pace_by_plc": "Students below pace by professional learning community (funnel-plot data).",
    "gap_trends": "Headline gaps by year and whether they narrow.",
    "findings_patterns": "Findings of the patterns section, one statement per row.",
    "grade_residual_by_subgroup": "Grades against evidence of learning, by subgroup.",
    "high_grade_low_evidence_by_subgroup": "High grades with low evidence of learning, by subgroup.",
    "low_grade_high_evidence_by_subgroup": "Low grades with high evidence of learning, by subgroup.",
    "calibration_agreement": "Agreement between scorers of the same work.",
    "performance_tasks_by_subgroup": "Share of evidence from performance tasks, by subgroup.",
    "dok34_by_subgroup": "Share of evidence at depth of knowledge 3 or 4, by subgroup.",
    "reaching_level4_by_subgroup": "Students reaching Level-4 work, by subgroup.",
    "climate_by_subgroup": "Survey climate constructs by subgroup.",
    "workforce": "Staff compared with students by race and ethnicity.",
    "findings_bias": "Findings of the bias section, one statement per row.",
}

_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_WORDS = {"idea": "IDEA", "oss": "OSS", "plc": "PLC", "dok34": "DOK 3-4",
                "students with disabilities": "SWD"}
_ACRONYMS = re.compile(r"\b(students with disabilities|idea|oss|plc|dok34)\b", re.IGNORECASE)


def published_tables(run_dir: str | Path) -> dict[str, Path]:
    """The published tables of a run, ``{name: OUT/tables/<name>.csv}`` in name order.

    Only ``tables/`` is read: everything student-level lives under ``confidential/``.
    """
    folder = Path(run_dir) / "tables"
    return {path.stem: path for path in sorted(folder.glob("*.csv"))}


def _read_published(path: Path) -> pd.DataFrame:
    """A published table as written; an empty file gives an empty frame."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _describe(name: str) -> str:
    return TABLE_DESCRIPTIONS.get(name, name.replace("_", " ").capitalize() + ".")


def _sheet_names(names: list[str]) -> dict[str, str]:
    """Readable, unique Excel sheet names (at most 31 characters) for the table names."""
    taken, result = {"contents"}, {}
    for name in names:
        base = _SHEET_FORBIDDEN.sub(" ", name.replace("_", " ")).strip().capitalize() or "Table"
        base = _ACRONYMS.sub(lambda match: _SHEET_WORDS[match.group(0).lower()], base)
        for long, short in ((" by subgroup", " by group"), (" by group", " (group)")):
            if len(base) > 31:
                base = base.replace(long, short)
        if len(base) > 31:  # cut at a word boundary
            base = base[:32].rsplit(" ", 1)[0] if " " in base[:32] else base[:31]
        candidate, number = base, 1
        while candidate.lower() in taken:
            number += 1
            suffix = f" ({number})"
            candidate = base[:31 - len(suffix)].rstrip() + suffix
        taken.add(candidate.lower())
        result[name] = candidate
    return result


def _cell(value):
    """A cell for Excel: numbers stay numbers (also in a column holding "<10"), blanks empty."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_workbook(run_dir: str | Path) -> Path:
    """Write ``OUT/findings.xlsx``: a Contents sheet, then one sheet per published table."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    run_dir = Path(run_dir)
    tables = published_tables(run_dir)
    sheets = _sheet_names(list(tables))
    contents = pd.DataFrame({
        "Sheet": [sheets[name] for name in tables],
        "Table file": [f"tables/{path.name}" for path in tables.values()],
        "Description": [_describe(name) for name in tables],
    })
    found = findings_sheet(run_dir)
    if found is not None:
        contents = pd.concat([pd.DataFrame({"Sheet": ["Findings"], "Table file": [JSON_NAME], "Description": [
            "Every finding of the audit, one per row, with its direction (worse, better or neutral)."]}),
            contents], ignore_index=True)
    out = run_dir / WORKBOOK_NAME
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        contents.to_excel(writer, sheet_name="Contents", index=False)
        if found is not None:
            found.to_excel(writer, sheet_name="Findings", index=False)
        for name, path in tables.items():
            table = _read_published(path)
            table = table.astype(object).map(_cell) if not table.empty else table
            table.to_excel(writer, sheet_name=sheets[name], index=False)
        for sheet in writer.book.worksheets:
            sheet.freeze_panes = "A2"
            for column in sheet.iter_cols(min_row=1, max_row=min(sheet.max_row, 200)):
                width = max((len(str(cell.value)) for cell in column if cell.value is not None), default=8)
                sheet.column_dimensions[get_column_letter(column[0].column)].width = min(max(width + 2, 8), 60)
        index = writer.book["Contents"]
        for row in range(2, index.max_row + 1):
            cell = index.cell(row=row, column=1)
            cell.hyperlink = f"#'{cell.value}'!A1"
            cell.font = Font(color="0563C1", underline="single")
    return out


def findings_sheet(run_dir: str | Path) -> pd.DataFrame | None:
    """The published findings (``OUT/findings.json``) as the workbook's Findings sheet, or None."""
    path = Path(run_dir) / JSON_NAME
    if not path.exists():
        return None
    records = json.loads(path.read_text(encoding="utf-8")).get("findings", [])
    columns = ["question", "section", "statement", "direction", "kind", "measure_label", "unit", "unit_name",
               "subgroups", "groups", "n", "estimate", "comparator", "comparator_estimate", "difference",
               "qvalue", "students_affected", "id"]
    sheet = pd.DataFrame([{key: record.get(key) for key in columns} for record in records], columns=columns)
    for key in ("subgroups", "groups"):  # lists as "a; b", cells hold no lists
        sheet[key] = sheet[key].map(lambda v: "; ".join(map(str, v)) if isinstance(v, list) else v)
    return sheet.astype(object).map(_cell) if len(sheet) else sheet


def _records(table: pd.DataFrame) -> list[dict]:
    """JSON-safe records: NaN and infinities become null, numpy numbers plain numbers."""
    return [{key: _json_value(value) for key, value in row.items()}
            for row in table.astype(object).to_dict(orient="records")]


def _json_value(value):
    if value is None or isinstance(value, (str, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)):
        return value
    return str(value)


def _json_tree(value):
    """``value`` with every leaf JSON-safe (tuples become lists, paths strings, NaN null)."""
    if isinstance(value, dict):
        return {str(key): _json_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_tree(item) for item in value]
    return _json_value(value)


def write_findings_json(run_dir: str | Path, *, cover: dict) -> Path:
    """Write ``OUT/findings.json``: the cover, every published table and all findings as records.

    ``{"district", "period", "generated", "settings", "version", "tables": {name: [...]},
    "findings": [...]}``; each finding carries the ``table`` it comes from. Strict JSON:
    missing values are null, never ``NaN``.
    """
    run_dir = Path(run_dir)
    tables = {name: _records(_read_published(path)) for name, path in published_tables(run_dir).items()}
    findings = [{"table": name, **record} for name, records in tables.items()
                if name.startswith("findings_") for record in records]
    document = {
        "district": cover.get("district_name", ""),
        "period": cover.get("period", ""),
        "generated": cover.get("generated") or date.today().isoformat(),
        "settings": _json_tree(cover.get("settings", {})),
        "version": cover.get("version", ""),
        "tables": tables,
        "findings": findings,
    }
    out = run_dir / JSON_NAME
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                   encoding="utf-8")
    return out
