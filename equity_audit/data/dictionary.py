"""The data dictionary and blank CSV templates, written from the contract.

``templates/data/`` in the repository is the output of :func:`write_templates`;
a test regenerates it and fails if the committed copy drifted.

It also holds the one dictionary of display names (:data:`DISPLAY_NAMES`,
:func:`display_name`): every contract column, subgroup attribute and measure key
has one label a reader sees, in charts, tables, findings and the workbook.

Examples
--------
>>> print(data_dictionary().splitlines()[0])
# Data dictionary: what to export for an equity audit
>>> display_name("low_income"), display_name("race_ethnicity"), display_name("group_newcomer")
('Low income', 'Race/ethnicity', 'Newcomer')
"""
from __future__ import annotations

from pathlib import Path

from equity_audit.data.contract import ALIASES, GROUP_PREFIX, SUBGROUP_FLAGS, TABLES, Column, Table
from equity_audit.data.edfi import IMPORTED_TABLES, edfi_source

__all__ = ["data_dictionary", "header_line", "write_templates", "DISPLAY_NAMES", "MEASURE_WORDS",
           "READY_DEFINITION", "display_name", "display_value"]

#: Labels that the plain rule of :func:`_words` (``low_income`` -> "Low income") would get wrong:
#: identifiers read as what they identify, abbreviations spelled out, and the columns the
#: analyses derive from the contract (``school``, ``plc``, ``need_band`` ...).
_NAMED = {
    "race_ethnicity": "Race/ethnicity",
    "section_504": "Section 504 plan",
    "student_id": "Student", "school_id": "School", "school_name": "School", "staff_id": "Staff member",
    "section_id": "Section", "teacher_id": "Teacher", "plc_id": "PLC", "scorer_id": "Scorer",
    "group_name": "Group",  # a chart's groups in words (not the district's own group "name")
    "work_id": "Piece of work", "standard_id": "Standard", "item_id": "Survey item", "course_id": "Course",
    "dok": "Depth of knowledge (DOK)", "grade_level": "Grade", "as_of": "Date recorded",
    "base": "Students in the population", "outcome": "Students with the outcome",
    "school": "School", "plc": "PLC", "teacher": "Teacher", "scorer": "Scorer", "need_band": "Level of need",
    "evidence_band": "Level of evidence", "opportunity": "Opportunity", "subgroup": "Subgroup",
    "scorers": "Scorers",
}

#: The one definition of a student "ready to move on" ("at or above grade level"), used by the
#: unidentified-talent measure and the Level-4 access comparison alike
#: (:func:`equity_audit.questions.patterns.readiness_by_year` computes it). The notebooks' text,
#: the methods appendix and the workbook state it in these words; a test holds them to it.
READY_DEFINITION = ("A student is ready to move on (at or above grade level) in a school year when their first "
                    "level of that year in each domain is, on average over the domains, at or above the level "
                    "expected for their grade on that date.")

#: Measure key -> the words a sentence uses for it ("the share chronically absent"); the
#: findings (:data:`equity_audit.publish.findings.MEASURES`) and every label take them from here.
MEASURE_WORDS = {
    "pace": "average pace (levels a year)",
    "two_plus_behind": "the share two or more levels behind",
    "unmet_need": "the share who needed more support and had none",
    "talent_without_access": "the share ready to move on without acceleration or Level-4 work",
    "chronic_absence": "the share chronically absent",
    "exclusion": "the exclusionary discipline rate",
    "removals": "removals from class per student",
    "days_removed": "days removed per student",
    "oss": "the out-of-school suspension rate",
    "oss_risk_ratio": "the out-of-school suspension risk",
    "level4_access": "access to Level-4 work",
    "access": "access to opportunities",
    "below_pace": "the share below pace",
    "grade_residual": "grades against evidence (grade points)",
    "high_grade_low_evidence": "the share of students with an A or B grade while their evidence was not yet proficient",
    "low_grade_high_evidence": "the share of students with a C, D or F grade while their evidence was proficient",
    "performance_tasks": "the share of evidence from performance tasks",
    "dok34": "the share of evidence at DOK 3 or 4",
    "reaching_level4": "the share of Level-3 standards taken on to Level 4",
    "climate": "climate survey score",
    "gap_trend": "a headline gap over the years",
    "scorer_severity": "scores against other scorers of the same work (score points)",
    "scorer_group_gap": "score deviation from the other scorers (score points)",
    "calibration_agreement": "agreement between scorers of the same work (Krippendorff's alpha)",
}


def _words(key: str) -> str:
    """``low_income`` -> "Low income": underscores as spaces, first letter capital."""
    words = str(key).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _measure_label(words: str) -> str:
    """A measure's sentence words as a label: "the share below pace" -> "Share below pace"."""
    return _words(words.removeprefix("the "))


def _display_names() -> dict[str, str]:
    columns = {column.name for table in TABLES.values() for column in table.columns}
    names = {name: _words(name) for name in sorted(columns)}
    names.update({key: _measure_label(words) for key, words in MEASURE_WORDS.items()})
    names.update(_NAMED)
    return names


#: Every contract column, derived column and measure key with the one label a reader sees.
DISPLAY_NAMES: dict[str, str] = _display_names()

#: How a coded yes/no value reads.
_CODED = {"y": "Yes", "n": "No", "true": "Yes", "false": "No", "yes": "Yes", "no": "No"}


def display_name(key) -> str:
    """The label a reader sees for a column, subgroup attribute or measure key.

    A district's own subgroup (``group_newcomer``) reads as its name without the
    prefix; a key the dictionary does not hold reads as its words.

    >>> display_name("english_learner"), display_name("two_plus_behind"), display_name("Already a label")
    ('English learner', 'Share two or more levels behind', 'Already a label')
    """
    key = str(key)
    if key in DISPLAY_NAMES:
        return DISPLAY_NAMES[key]
    return _words(key.removeprefix(GROUP_PREFIX)) if "_" in key or key.islower() else key


def display_value(subgroup, value) -> str:
    """A group's value as a reader sees it: coded yes/no values as "Yes"/"No", anything else as given.

    The values of a district's own groups come from its data and stay as they are, but for
    the one-letter sex codes many systems export ("M students" reads as a typo).

    >>> display_value("low_income", "Y"), display_value("group_newcomer", "True"), display_value("gender", "N")
    ('Yes', 'Yes', 'N')
    >>> display_value("gender", "F"), display_value("gender", "X")
    ('Female', 'X')
    """
    text = str(value)
    if str(subgroup) == "gender":
        return _SEX_CODES.get(text.strip(), text)
    coded = str(subgroup) in SUBGROUP_FLAGS or str(subgroup).startswith(GROUP_PREFIX)
    return _CODED.get(text.strip().lower(), text) if coded else text


#: One-letter sex codes as words (Ed-Fi's SexDescriptor values are the words themselves).
_SEX_CODES = {"F": "Female", "M": "Male"}

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
