"""Small hand-made districts for the loader tests: a valid one, and ways to break it.

Every table is written as CSV text so a test can break one line and know exactly
which row number the loader must report (the header is row 1).
"""
from __future__ import annotations

from pathlib import Path

TODAY = "2025-06-30"

VALID = {
    "students": (
        "student_id,birth_date,race_ethnicity,gender,english_learner,disability,group_newcomer\n"
        "S1,2012-03-04,White,F,N,N,Y\n"
        "S2,2011-07-15,Hispanic,M,Y,N,\n"
        "S3,2012-01-20,,F,yes,1,N\n"
        "S4,2010-11-02,Black or African American,,0,False,N\n"
    ),
    "enrollments": (
        "student_id,school_year,school_id,grade_level,entry_date,exit_date,exit_reason\n"
        "S1,2025,SCH1,06,2024-08-20,,\n"
        "S2,2025,SCH1,7,2024-08-20,2025-01-10,Transfer Out\n"
        "S3,2025,SCH2,K,2024-08-21,,\n"
        "S4,2025,SCH2,PK,2024-08-21,,\n"
    ),
    "schools": (
        "school_id,school_name,school_level\n"
        "SCH1,Lincoln Middle,Middle\n"
        "SCH2,Adams Elementary,elementary\n"
    ),
    "standards": (
        "standard_id,domain,performance_level,dok\n"
        "M6.1,Math,6,2\n"
        "M7.1,math,7,3\n"
    ),
    "evidence": (
        "student_id,standard_id,assessed_on,score,scorer_id,task_type,dok\n"
        "S1,M6.1,2024-09-03,3,T1,Performance Task,3\n"
        "S1,M6.1,2024-10-03,4,T1,quiz,2\n"
        "S2,M7.1,2024-09-05,2.5,T2,test,\n"
        "S3,M6.1,09/12/2024,1,T1,project,1\n"
    ),
    "sections": (
        "section_id,school_year,school_id,teacher_id,course_id,domain,plc_id,course_level\n"
        "SEC1,2025,SCH1,T1,MATH6,math,PLC1,standard\n"
        "SEC2,2024-25,SCH1,T2,MATH7,math,PLC1,Honors\n"
    ),
    "rosters": (
        "student_id,section_id\n"
        "S1,SEC1\n"
        "S2,SEC2\n"
    ),
}


def write_district(folder: Path, overrides: dict[str, str | None] | None = None,
                   tables=None) -> Path:
    """Write the valid district to ``folder``; ``overrides`` replace (or with None drop) tables."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = dict(VALID if tables is None else {t: VALID[t] for t in tables})
    for name, text in (overrides or {}).items():
        if text is None:
            contents.pop(name, None)
        else:
            contents[name] = text
    for name, text in contents.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def replace_line(table: str, line: int, text: str) -> str:
    """The valid table with file line ``line`` (header = 1) replaced by ``text``."""
    lines = VALID[table].splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


def add_lines(table: str, *rows: str) -> str:
    """The valid table with ``rows`` appended (the first lands on line len+1)."""
    return VALID[table] + "".join(r + "\n" for r in rows)
