"""The data dictionary and blank CSV templates, written from the contract.

``templates/data/`` in the repository is the output of :func:`write_templates`;
a test regenerates it and fails if the committed copy drifted.

Examples
--------
>>> print(data_dictionary().splitlines()[0])
# Data dictionary: what to export for an equity audit
"""
from __future__ import annotations

from pathlib import Path

from equity_audit.data.contract import ALIASES, TABLES, Column, Table
from equity_audit.data.edfi import IMPORTED_TABLES, edfi_source

__all__ = ["data_dictionary", "header_line", "write_templates"]

_KIND_WORDS = {
    "id": "identifier (text)",
    "text": "text",
    "code": "text code (lower_snake_case after loading)",
    "category": "one of a fixed list",
    "flag": "yes/no (Y, N, Yes, No, 1, 0, True, False)",
    "date": "date, YYYY-MM-DD",
    "number": "number",
    "integer": "whole number",
    "school_year": "year in which the school year ends (2025 for 2024-25)",
    "grade_level": "grade: PK, K, 1 ... 12 (01 accepted)",
    "grade": "letter A-F with + or -, grade points, or percent",
}

_INTRO = """\
# Data dictionary: what to export for an equity audit

A district provides one folder with one file per table, named `<table>.csv`,
`<table>.parquet` or `<table>.xlsx` (first sheet). Only **students** and
**enrollments** are required; every other table opens more of the audit, and
the report says what each missing table would have shown. Required columns are
marked with *. Column names are matched without regard to case or spaces.
Header-only CSV templates for every table sit beside this file.

A district whose data is in an Ed-Fi ODS can write this folder with
`equity-audit import edfi --source EXPORT --out DIR`; the last column of each
table below names the Ed-Fi field a column comes from.

Check a folder before a run with `equity-audit validate --data DIR`: every
problem is named with its file, column, row and value. Nothing is dropped
silently: the report's data-quality appendix counts, for every table, the rows
read, used and excluded, with the reason.

This file is generated from `equity_audit/contract.py` by
`equity-audit templates --out templates/data`; edit the contract, not this file.
"""


def header_line(table: Table) -> str:
    """The CSV header of a table's template."""
    return ",".join(table.column_names)


def data_dictionary() -> str:
    """The Markdown data dictionary of every contract table."""
    sections = [_INTRO]
    for table in TABLES.values():
        sections.append(_table_section(table))
    return "\n".join(sections)


def _table_section(table: Table) -> str:
    need = "required" if table.required else "optional"
    lines = [
        f"## {table.name} ({need})",
        "",
        table.description,
        "",
        f"*What it shows:* {table.shows}",
        "",
        f"*Ed-Fi source:* {table.edfi}",
        "",
        "*Ed-Fi import:* " + ("`equity-audit import edfi` writes this table." if table.name in IMPORTED_TABLES
                              else "not written by `equity-audit import edfi`; export it yourself."),
        "",
    ]
    if table.key:
        lines += [f"*Unique key:* {', '.join(table.key)}", ""]
    lines += ["| column | type | meaning | Ed-Fi |", "| --- | --- | --- | --- |"]
    lines += [_column_row(table, column) for column in table.columns]
    return "\n".join(lines) + "\n"


def _column_row(table: Table, column: Column) -> str:
    name = f"{column.name}*" if column.required else column.name
    kind = _KIND_WORDS[column.kind]
    notes = [column.description]
    if column.categories:
        notes.append("Accepted: " + "; ".join(column.categories) + ".")
    if column.name in ALIASES:
        notes.append("Common spellings are mapped (see `contract.ALIASES`).")
    if column.low is not None and column.high is not None:
        notes.append(f"From {column.low:g} to {column.high:g}.")
    elif column.low is not None:
        notes.append(f"At least {column.low:g}.")
    if column.references:
        notes.append(f"Must match `{column.references}`.")
    if column.not_in_future:
        notes.append("Not in the future.")
    source = edfi_source(table.name, column.name) or "no Ed-Fi field"
    return f"| {name} | {kind} | {' '.join(notes)} | {source} |"


def write_templates(folder: str | Path) -> list[Path]:
    """Write ``<table>.csv`` headers and ``README.md`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES.values():
        path = folder / f"{table.name}.csv"
        path.write_text(header_line(table) + "\n", encoding="utf-8")
        written.append(path)
    readme = folder / "README.md"
    readme.write_text(data_dictionary(), encoding="utf-8")
    return [*written, readme]
