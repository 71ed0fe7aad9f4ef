"""Which tables and columns each analysis needs, and what a district lacks for it.

A requirement is a list of alternatives, each a list of items that together
suffice: ``[["levels"], ["evidence", "standards"]]`` reads "levels, or evidence
with standards". An item is a table (``"discipline"``) or a column of a table
(``"students.disability"``). The check takes what the district provided: a
collection of table names, or a mapping of table names to their frames (or
column names) so that columns can be checked too. A step of any layer can ask
it without handing the loaded district upward.

Every analysis of the audit is declared once in :data:`ANALYSES`, with the
notebook it belongs to and what it shows; the notebooks tag their cells with the
analysis name, and the pipeline runs the cells of every analysis whose inputs
are present (see :mod:`equity_audit.app.pipeline`).

Examples
--------
>>> missing_tables({"students", "evidence"}, [["levels"], ["evidence", "standards"]])
['levels', 'standards']
>>> missing_tables({"students", "levels"}, [["levels"], ["evidence", "standards"]])
[]
>>> missing_tables({"students"}, [])
[]
>>> missing_tables({"students": ["student_id", "race_ethnicity"]}, [["students.disability"]])
['the disability column of students']
>>> missing_tables({"students": pd.DataFrame({"race_ethnicity": ["Unknown"]})}, [["students.race_ethnicity"]])
['recorded values in the race/ethnicity column of students (every value is blank or Unknown)']
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from equity_audit.data.contract import UNKNOWN

__all__ = ["missing_tables", "Analysis", "ANALYSES", "analysis", "analyses_for", "availability"]

#: Levels, or the evidence and standards they can be derived from.
_LEVELS = (("levels",), ("evidence", "standards"))


def _with(*items: str, base=_LEVELS) -> tuple[tuple[str, ...], ...]:
    """Every alternative of ``base`` with ``items`` added."""
    return tuple((*option, *items) for option in base)


def _has(provided, item: str) -> bool:
    """Whether ``item`` is provided; a column of a loaded table also needs one recorded value."""
    table, _, column = item.partition(".")
    if table not in provided:
        return False
    if not column or not isinstance(provided, Mapping):
        return True
    columns = provided[table]
    if not isinstance(columns, pd.DataFrame):
        return column in columns
    return column in columns and _recorded(columns[column])


def _recorded(values: pd.Series) -> bool:
    """Whether a column holds at least one value other than blank or Unknown."""
    present = values.dropna()
    return bool(len(present)) and bool((present.astype(str) != UNKNOWN).any())


def _phrase(provided, item: str) -> str:
    table, _, column = item.partition(".")
    if not column:
        return table
    words = _column_words(column)
    if isinstance(provided, Mapping) and isinstance(provided.get(table), pd.DataFrame) \
            and column in provided[table].columns:
        return f"recorded values in the {words} column of {table} (every value is blank or {UNKNOWN})"
    return f"the {words} column of {table}"


def _column_words(column: str) -> str:
    """A column as the report names it, in a sentence: "birth date" for ``birth_date``, "depth of knowledge (DOK)"."""
    from equity_audit.data.dictionary import display_name  # the dictionary reads the contract this module serves

    name = display_name(column)
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def missing_tables(provided: Collection[str] | Mapping, alternatives: Sequence[Sequence[str]]) -> list[str]:
    """What to provide so that one of ``alternatives`` is met; empty when one already is.

    Parameters
    ----------
    provided : collection of str, or mapping of str to DataFrame or column names
        The tables the district provided (a loaded district's ``tables`` works and
        lets column items be checked: a column counts when it holds at least one
        value other than blank or Unknown; with bare names, a column item counts
        as present when its table is).
    alternatives : sequence of sequence of str
        Each inner sequence is one set of items (``"table"`` or ``"table.column"``)
        that together suffice; empty means no need.

    Returns
    -------
    list of str
        One phrase per alternative, naming only what is missing from it
        ("evidence and standards"), or ``[]`` when one alternative is met.

    Examples
    --------
    >>> missing_tables({"evidence"}, [["levels"], ["evidence", "standards"]])
    ['levels', 'standards']
    """
    if not alternatives or any(all(_has(provided, item) for item in option) for option in alternatives):
        return []
    phrases = [" and ".join(_phrase(provided, item) for item in option if not _has(provided, item))
               for option in alternatives]
    return list(dict.fromkeys(phrases))


@dataclass(frozen=True)
class Analysis:
    """One analysis of the audit: what it needs and what it shows.

    Attributes
    ----------
    name : str
        Identifier used to tag the notebook cells of the analysis.
    notebook : str
        Name of the notebook (without ``.ipynb``) the analysis belongs to.
    title : str
        How the report names it.
    needs : tuple of tuple of str
        Alternatives of tables and ``table.column`` items (see :func:`missing_tables`).
    shows : str
        What it shows, for the report when it cannot run.

    Examples
    --------
    >>> analysis("climate").missing({"students", "enrollments"})
    ['survey']
    """

    name: str
    notebook: str
    title: str
    needs: tuple[tuple[str, ...], ...]
    shows: str

    def missing(self, provided) -> list[str]:
        """What the district must add for this analysis; empty when it can run."""
        return missing_tables(provided, self.needs)

    def message(self, provided) -> str:
        """A sentence for the report: why the analysis did not run and what it would show."""
        missing = self.missing(provided)
        if not missing:
            return f"{self.title} ran."
        return (f"**{self.title}** could not be run: it needs {' or '.join(missing)}, which the district "
                f"did not provide. It would have shown {self.shows}")


_U, _P, _B = "01_unmet_need", "02_patterns", "03_bias"

#: Every analysis of the audit, in report order.
ANALYSES: tuple[Analysis, ...] = (
    Analysis("pace", _U, "Pace by subgroup", _LEVELS,
             "how many performance levels students gain per year, by subgroup, with 95% intervals."),
    Analysis("levels_behind", _U, "Levels behind grade", _LEVELS,
             "how many students are two or more levels behind their grade, alone and with their pace."),
    Analysis("pace_intersections", _U, "Intersections of subgroups", _LEVELS,
             "the intersections of subgroups whose pace differs from what their groups alone predict."),
    Analysis("unmet_need", _U, "Unmet need", _with("supports"),
             "which students who need more support did not receive any, by school and subgroup."),
    Analysis("talent", _U, "Students ready to move on", _with("opportunities"),
             "which students ready to move on (at or above grade level when the school year began) had no "
             "acceleration or Level-4 work, by subgroup."),
    Analysis("chronic_absence", _U, "Chronic absence", (("attendance",),),
             "the share of students absent 10% or more of their enrolled days, by subgroup."),
    Analysis("chronic_absence_by_school", _U, "Chronic absence by school", (("attendance", "attendance.school_id"),),
             "schools where more students are chronically absent than chance explains."),
    Analysis("graduation", _U, "Graduating by 18", _with("students.birth_date"),
             "the share of students reaching graduation level by 18 at their pace and faster paces."),
    Analysis("discipline", _P, "Exclusionary discipline", (("discipline",),),
             "who is removed from class by suspension or expulsion, how often and for how long, by subgroup."),
    Analysis("idea_discipline", _P, "IDEA disproportionality", (("discipline", "students.race_ethnicity"),),
             "out-of-school suspension risk ratios by race/ethnicity as the IDEA rule measures them."),
    Analysis("idea_discipline_disability", _P, "IDEA disproportionality for students with disabilities",
             (("discipline", "students.race_ethnicity", "students.disability"),),
             "out-of-school suspension risk ratios by race/ethnicity among students with disabilities."),
    Analysis("discipline_by_school", _P, "Discipline by school", (("discipline",),),
             "schools whose suspension rate, or a group's gap within the school, is beyond chance."),
    Analysis("access", _P, "Access to opportunities", (("opportunities",), ("sections.course_level", "rosters")),
             "who gets Level-4 work, enrichment, acceleration and advanced courses, by subgroup."),
    Analysis("level4_by_school", _P, "Level-4 work by school", _with("opportunities"),
             "schools where students ready for Level-4 work get it less often in one group than in others."),
    Analysis("pace_by_school", _P, "Pace by school", _LEVELS,
             "schools where more students gain under one level a year than chance explains."),
    Analysis("pace_by_plc", _P, "Pace by PLC and teacher", _with("sections", "rosters"),
             "PLCs and teachers whose students gain under one level a year more often than chance explains."),
    Analysis("gap_trends", _P, "Are the gaps narrowing?", _LEVELS,
             "whether the largest gaps between groups are narrowing from year to year."),
    Analysis("grades_against_evidence", _B, "Grades against evidence",
             (("grades", "evidence", "standards", "sections", "rosters"),),
             "whether course grades sit above or below what the evidence of mastery predicts, by subgroup "
             "and by teacher (the teacher results in the confidential folder)."),
    Analysis("calibration", _B, "Calibration", (("calibration",),),
             "how consistently educators score the same work, and which scorers are harsher or more lenient."),
    Analysis("scorer_severity_by_subgroup", _B, "Scorer severity by subgroup",
             (("evidence", "evidence.scorer_id"),),
             "scorers who score one group of students lower than the other scorers of the same standards."),
    Analysis("rich_evidence", _B, "Rich evidence and Level 4",
             (("evidence", "standards", "evidence.task_type", "evidence.dok"),),
             "who gets performance tasks, work at depth of knowledge 3 or 4, and goes on to Level 4."),
    Analysis("teacher_pace", _B, "Teacher-level patterns in pace", _with("sections", "rosters"),
             "teachers whose students in one group gain less than their other students."),
    Analysis("climate", _B, "Climate survey", (("survey",),),
             "how students in each group experience belonging, safety and agency."),
    Analysis("workforce", _B, "Workforce diversity",
             (("staff", "staff.race_ethnicity", "staff.school_id", "students.race_ethnicity"),),
             "whether the adults in each school reflect the diversity of its students."),
)


def analysis(name: str) -> Analysis:
    """The declared analysis called ``name`` (``KeyError`` if none is)."""
    found = [a for a in ANALYSES if a.name == name]
    if not found:
        raise KeyError(f"No analysis is declared as {name!r} in equity_audit.data.requirements.")
    return found[0]


def analyses_for(notebook: str) -> list[Analysis]:
    """The analyses of one notebook, in report order."""
    return [a for a in ANALYSES if a.notebook == notebook]


def availability(provided) -> pd.DataFrame:
    """One row per analysis: whether it can run on what was provided and, if not, what is missing.

    Parameters
    ----------
    provided : collection of str, or mapping of str to DataFrame
        As in :func:`missing_tables` (a loaded district's ``tables``).

    Returns
    -------
    DataFrame
        Columns ``section``, ``analysis``, ``runs`` (bool), ``missing`` (what to
        add, "" when it runs) and ``what_it_shows``.

    Examples
    --------
    >>> table = availability({"students", "enrollments", "levels"})
    >>> bool(table.set_index("analysis").loc["Pace by subgroup", "runs"])
    True
    >>> table.set_index("analysis").loc["Climate survey", "missing"]
    'survey'
    """
    rows = [(a.notebook, a.title, not a.missing(provided), " or ".join(a.missing(provided)), a.shows)
            for a in ANALYSES]
    return pd.DataFrame(rows, columns=["section", "analysis", "runs", "missing", "what_it_shows"])
