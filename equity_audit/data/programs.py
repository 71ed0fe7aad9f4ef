"""Program membership by school year, from the optional ``programs`` table.

A district's ``programs`` table holds membership spells: student, program, begin
date and end date (blank = still in the program). This module turns the spells
into yes/no subgroup columns per student and school year.

Program names
-------------
Program codes are read as lower_snake_case. Common names of the contract's
programs map onto its subgroup flags (:data:`PROGRAM_ALIASES`: ``special_education``,
``iep`` and ``sped`` are ``disability``; ``ell``, ``lep`` and ``english_learner`` are
``english_learner``; ``frl`` and ``free_or_reduced_lunch`` are ``low_income``, ...).
Any other program becomes the district subgroup ``group_<name>`` (Yes/No).

Membership rule
---------------
School year ``Y`` (Ed-Fi convention: the calendar year in which it ends) runs from
``school_year_start`` to ``school_year_end`` (both MM-DD settings; with the
defaults, 15 August of ``Y - 1`` to 15 June of ``Y``, both days included).

* mode ``"year"``: a student is a member in ``Y`` when any spell of the program
  overlaps that window: ``begin_date <= end of Y`` and (``end_date`` blank or
  ``end_date >= start of Y``). A spell that lies wholly in the summer between
  two school years counts in neither.
* mode ``"ever"``: a student is a member in ``Y`` when any spell of the program
  began on or before the end of ``Y`` (once a member, a member in every later year).

A student with no spell of a program is "No" for it; a program nobody is in
does not appear at all (the ``students`` column of that name, if any, is kept).

Examples
--------
>>> import pandas as pd
>>> spells = pd.DataFrame({"student_id": ["a", "b"], "program": ["ELL", "after_school_robotics"],
...                        "begin_date": pd.to_datetime(["2023-09-01", "2024-09-01"]),
...                        "end_date": pd.to_datetime(["2024-06-30", None])})
>>> years = pd.DataFrame({"student_id": ["a", "a", "b"], "school_year": [2024, 2025, 2025]})
>>> by_year = membership_by_year(spells, years, mode="year")
>>> by_year["english_learner"].tolist(), by_year["group_after_school_robotics"].tolist()
(['Yes', 'No', 'No'], ['No', 'No', 'Yes'])
>>> membership_by_year(spells, years, mode="ever")["english_learner"].tolist()
['Yes', 'Yes', 'No']
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from equity_audit.data.contract import GROUP_PREFIX, SUBGROUP_FLAGS
from equity_audit.exceptions import ConfigError, EquityAuditError

__all__ = ["PROGRAM_ALIASES", "MODES", "program_column", "membership_by_year", "as_flags",
           "apply_programs", "ProgramError"]

MODES = ("year", "ever")

#: Common program names (as lower_snake_case codes) and the contract flag each one is.
PROGRAM_ALIASES = {
    **{flag: flag for flag in SUBGROUP_FLAGS},
    # English learners
    "el": "english_learner", "ell": "english_learner", "lep": "english_learner",
    "english_learners": "english_learner", "english_language_learner": "english_learner",
    "english_language_learners": "english_learner", "limited_english_proficient": "english_learner",
    "limited_english_proficiency": "english_learner", "esl": "english_learner",
    "emergent_bilingual": "english_learner", "multilingual_learner": "english_learner",
    # students with disabilities (IDEA)
    "special_education": "disability", "sped": "disability", "iep": "disability",
    "students_with_disabilities": "disability", "swd": "disability", "idea": "disability",
    "special_ed": "disability", "exceptional_student_education": "disability",
    # low income
    "frl": "low_income", "frpl": "low_income", "free_or_reduced_lunch": "low_income",
    "free_reduced_lunch": "low_income", "free_and_reduced_lunch": "low_income",
    "free_or_reduced_price_meals": "low_income", "free_reduced_price_meals": "low_income",
    "school_food_service": "low_income", "economically_disadvantaged": "low_income",
    # the others
    "504": "section_504", "504_plan": "section_504", "section_504_plan": "section_504",
    "mckinney_vento": "homeless", "homelessness": "homeless",
    "foster": "foster_care", "migrant_education": "migrant", "migratory": "migrant",
}


class ProgramError(EquityAuditError, ValueError):
    """The programs or school years given cannot be evaluated."""


def program_column(program) -> pd.Series:
    """The subgroup column each program code fills: a contract flag or ``group_<code>``.

    Examples
    --------
    >>> program_column(pd.Series(["iep", "frl", "gifted"])).tolist()
    ['disability', 'low_income', 'group_gifted']
    """
    codes = pd.Series(program, dtype="string").str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True)
    codes = codes.str.strip("_")
    mapped = codes.map(PROGRAM_ALIASES)
    return mapped.where(mapped.notna(), GROUP_PREFIX + codes).astype("string")


def _window(school_year: pd.Series, start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of each school year (Ed-Fi year: the calendar year in which it ends)."""
    wraps = int(end <= start)  # the year crosses 1 January (MM-DD text sorts as dates do)
    year = school_year.to_numpy(dtype="int64")
    first = pd.to_datetime(pd.Series(year - wraps).astype(str) + "-" + start, format="%Y-%m-%d")
    last = pd.to_datetime(pd.Series(year).astype(str) + "-" + end, format="%Y-%m-%d")
    return first.to_numpy(), last.to_numpy()


def membership_by_year(programs: pd.DataFrame, school_years: pd.DataFrame, *,
                       school_year_start: str = "08-15", school_year_end: str = "06-15",
                       mode: str = "year") -> pd.DataFrame:
    """One row per student and school year with a Yes/No column per program.

    Parameters
    ----------
    programs : DataFrame
        Spells: ``student_id``, ``program``, ``begin_date``, ``end_date`` (NaT = still in it).
    school_years : DataFrame
        The student-years to evaluate: ``student_id`` and ``school_year``
        (duplicates are evaluated once).
    school_year_start, school_year_end : str
        MM-DD bounds of a school year (the settings of the same names).
    mode : {"year", "ever"}
        Membership in that school year, or ever up to its end (see the module notes).

    Returns
    -------
    DataFrame
        ``student_id``, ``school_year`` and one column per program found
        (:func:`program_column` names), each "Yes" or "No".

    Examples
    --------
    >>> spells = pd.DataFrame({"student_id": ["a"], "program": ["IEP"],
    ...                        "begin_date": pd.to_datetime(["2024-03-01"]), "end_date": [pd.NaT]})
    >>> years = pd.DataFrame({"student_id": ["a", "a"], "school_year": [2023, 2026]})
    >>> membership_by_year(spells, years)["disability"].tolist()
    ['No', 'Yes']
    """
    if mode not in MODES:
        raise ConfigError(f"Setting 'program_membership' is {mode!r}; expected 'year' or 'ever'.")
    missing = [c for c in ("student_id", "program", "begin_date") if c not in programs]
    missing += [c for c in ("student_id", "school_year") if c not in school_years]
    if missing:
        raise ProgramError(f"Program membership needs the column(s) {', '.join(missing)}.")
    years = (school_years[["student_id", "school_year"]].dropna().drop_duplicates()
             .astype({"school_year": "int64"}).reset_index(drop=True))
    spells = programs.assign(column=program_column(programs["program"]).to_numpy())
    spells = spells[spells["begin_date"].notna()]
    columns = sorted(spells["column"].unique(), key=_column_order)
    pairs = years.reset_index().merge(spells, on="student_id", how="inner")
    first, last = _window(pairs["school_year"], school_year_start, school_year_end)
    begins_in_time = pairs["begin_date"].to_numpy() <= last
    if mode == "year":
        ends = pairs["end_date"] if "end_date" in pairs else pd.Series(pd.NaT, index=pairs.index)
        member = begins_in_time & (ends.isna().to_numpy() | (ends.to_numpy() >= first))
    else:
        member = begins_in_time
    hits = pairs.loc[member, ["index", "column"]].drop_duplicates()
    table = np.zeros((len(years), len(columns)), dtype=bool)
    table[hits["index"].to_numpy(), pd.Index(columns).get_indexer(hits["column"])] = True
    flags = pd.DataFrame(np.where(table, "Yes", "No"), columns=columns, dtype="string")
    return pd.concat([years, flags], axis=1)


def _column_order(column: str) -> tuple[int, str]:
    return (SUBGROUP_FLAGS.index(column), "") if column in SUBGROUP_FLAGS else (len(SUBGROUP_FLAGS), column)


def as_flags(membership: pd.DataFrame) -> pd.DataFrame:
    """Membership columns in the ``students`` table's types: contract flags boolean, ``group_*`` Yes/No.

    Examples
    --------
    >>> as_flags(pd.DataFrame({"disability": ["Yes", "No"]}))["disability"].tolist()
    [True, False]
    """
    flags = [c for c in membership.columns if c in SUBGROUP_FLAGS]
    return membership.assign(**{c: membership[c].eq("Yes").astype("boolean") for c in flags})


_YES_NO = {"y": "Yes", "yes": "Yes", "true": "Yes", "1": "Yes", "n": "No", "no": "No", "false": "No", "0": "No"}


def _yes_no(values: pd.Series) -> pd.Series:
    """Flags and yes/no text as "Yes" / "No" (anything else, blank included, as "(other)"), for counting changes."""
    text = values.astype("string").str.strip().str.lower()
    return text.map(_YES_NO).fillna("(other)")


def apply_programs(district, *, school_year_start: str = "08-15", school_year_end: str = "06-15",
                   mode: str = "year"):
    """The district with its ``students`` flags taken from ``programs``, changes counted in the notes.

    Without a ``programs`` table the district is returned unchanged. Otherwise each
    program's column in ``students`` becomes the membership in the student's own
    latest school year of ``enrollments`` (mode "year") or ever up to its end (mode "ever"). Where
    ``students`` already had the column and the programs disagree, the programs win
    and a note counts the students whose value changed.

    Parameters
    ----------
    district : District
        A loaded district (:func:`equity_audit.data.load.load_district`).
    school_year_start, school_year_end, mode
        As in :func:`membership_by_year`.

    Returns
    -------
    District
        A copy with the new ``students`` table and notes; the same object without programs.

    Examples
    --------
    >>> district = apply_programs(district, mode="year")  # doctest: +SKIP
    """
    if "programs" not in district.tables or "enrollments" not in district.tables:
        return district
    students = district.tables["students"]
    enrolled = district.tables["enrollments"].groupby("student_id")["school_year"].max()
    latest = int(enrolled.max())
    # each student's own latest year: a student who left earlier keeps the membership of their years
    own = students["student_id"].map(enrolled).fillna(latest).astype("int64")
    years = pd.DataFrame({"student_id": students["student_id"], "school_year": own.to_numpy()})
    membership = as_flags(membership_by_year(district.tables["programs"], years, mode=mode,
                                             school_year_start=school_year_start,
                                             school_year_end=school_year_end))
    columns = [c for c in membership.columns if c not in ("student_id", "school_year")]
    new = students[["student_id"]].merge(membership, on="student_id", how="left")
    notes, updated = [], students.copy()
    when = ("in each student's latest school year" if mode == "year"
            else "ever, up to each student's latest school year")
    for column in columns:
        values = new[column].to_numpy()
        if column in students:
            changed = int((_yes_no(students[column]).to_numpy()
                           != _yes_no(pd.Series(values, index=students.index)).to_numpy()).sum())
            notes.append(f"students: {column} was replaced by program membership {when} (from programs); "
                         f"{changed} {'student' if changed == 1 else 'students'} changed.")
        else:
            notes.append(f"students: {column} was added from program membership {when} (from programs).")
        updated[column] = pd.Series(values, index=students.index, dtype=new[column].dtype)
    tables = {**district.tables, "students": updated}
    return replace(district, tables=tables, notes=[*district.notes, *notes])
