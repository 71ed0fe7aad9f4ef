"""One finding record for everything the audit flags, and the registry that builds them.

Every section writes its tables to the run folder (``tables/*.csv`` published,
``confidential/*.csv`` teacher- and scorer-level). A table with a flag column
(``flagged``, ``closer_look``, ``beyond_main_effects``, ``harsh`` ...) is listed in
:data:`REGISTRY`, which says how each flagged row becomes a :class:`Finding`.
:func:`write_findings` writes ``findings.json`` (published tables only, never a
withheld row) and ``confidential/findings.json`` (same schema), both checked
against ``findings.schema.json``, shipped beside this module.

A finding says in which direction the group fares: ``worse``, ``better`` or
``neutral``, from the sign of the difference and the :data:`POLARITY` of the
measure (a higher suspension rate is worse, a higher pace is better). Strengths
are findings too.

:func:`uncovered` lists the tables of a run that have a flag column but no
registry entry: a flag that no finding reports is a bug, and a test says so.

Examples
--------
>>> direction("oss", 0.08), direction("pace", 0.3), direction("pace", -0.3), direction("pace", 0.0)
('worse', 'better', 'worse', 'neutral')
>>> POLARITY["unmet_need"], POLARITY["pace"]
(-1, 1)
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from equity_audit import scans
from equity_audit.data.contract import GROUP_PREFIX, SUBGROUP_FLAGS
from equity_audit.data.dictionary import MEASURE_WORDS, display_value
from equity_audit.data.problems import plural
from equity_audit.data.text import restore_cells
from equity_audit.exceptions import EquityAuditError
from equity_audit.privacy import top_bottom_code
from equity_audit.publish import narrative

__all__ = ["Finding", "Source", "MEASURES", "POLARITY", "REGISTRY", "FLAG_COLUMNS", "SCHEMA_VERSION",
           "FINDINGS_NAME", "FindingsError", "direction", "polarity_of_label", "LABEL_ALIASES", "build_findings",
           "write_findings", "uncovered",
           "schema", "read_findings", "findings_frame", "near_complements", "other_sides", "mirrored", "NEAR_COMPLEMENT",
           "registered_tables"]

SCHEMA_VERSION = "1.0"
FINDINGS_NAME = "findings.json"

#: The audit's sections, with the framework question each answers.
QUESTIONS = {"unmet_need": 1, "patterns": 2, "bias": 3, "strategies": 4}

#: Krippendorff's (2004) least alpha for tentative conclusions; calls agree too little below it.
ALPHA_TENTATIVE = 0.667


#: Columns that mark a row for a closer look. A table holding one must be in :data:`REGISTRY`.
FLAG_COLUMNS = ("flagged", "closer_look", "beyond_main_effects", "access_gap", "harsh", "lenient",
                "persistent", "pattern", "significant_disproportionality", "Significant disproportionality",
                "Years above threshold", "verdict", "Closer look")


class FindingsError(EquityAuditError):
    """The findings of a run could not be built or do not meet their schema."""


#: measure key -> (label, polarity, percent); the label is the measure's words in the one dictionary of
#: display names (:data:`equity_audit.data.dictionary.MEASURE_WORDS`). Polarity: +1 higher is better for the
#: group, -1 higher is worse, 0 neither (direction is then "neutral").
MEASURES = {key: (MEASURE_WORDS[key], polarity, percent) for key, polarity, percent in (
    ("pace", 1, False),
    ("two_plus_behind", -1, True),
    ("unmet_need", -1, True),
    ("talent_without_access", -1, True),
    ("chronic_absence", -1, True),
    ("exclusion", -1, True),
    ("removals", -1, False),
    ("days_removed", -1, False),
    ("oss", -1, True),
    ("oss_risk_ratio", -1, True),
    ("level4_access", 1, True),
    ("access", 1, True),
    ("below_pace", -1, True),
    ("grade_residual", 1, False),
    ("high_grade_low_evidence", 0, True),
    ("low_grade_high_evidence", -1, True),
    ("performance_tasks", 1, True),
    ("dok34", 1, True),
    ("reaching_level4", 1, True),
    ("climate", 1, False),
    ("gap_trend", 0, False),
    ("scorer_severity", 1, False),
    ("scorer_group_gap", 1, False),
    ("calibration_agreement", 1, False),
)}
#: Higher is better (+1), worse (-1) or neither (0), per measure key; ``access_*`` and ``climate_*``
#: keys take the polarity of ``access`` and ``climate``.
POLARITY = {key: polarity for key, (_, polarity, _) in MEASURES.items()}


#: Words the sections use for a measure in their own findings tables, with its key.
LABEL_ALIASES = {"unmet need": "unmet_need", "the share removed from class": "exclusion",
                 "the share without access to acceleration or Level-4 work": "talent_without_access"}


def polarity_of_label(label: str) -> int | None:
    """The polarity of a measure named in words (a label of :data:`MEASURES` or an alias); None if unknown.

    >>> polarity_of_label("unmet need"), polarity_of_label("access to dual enrollment"), polarity_of_label("x")
    (-1, 1, None)
    """
    by_label = {words: POLARITY[key] for key, (words, _, _) in MEASURES.items()}
    if label in by_label:
        return by_label[label]
    if label in LABEL_ALIASES:
        return POLARITY[LABEL_ALIASES[label]]
    if label.startswith("access to "):
        return POLARITY["access"]
    if label.startswith("climate"):
        return POLARITY["climate"]
    return None


def _base_key(measure: str) -> str:
    for prefix in ("access_", "climate_"):
        if measure.startswith(prefix):
            return prefix[:-1]
    return measure


def direction(measure: str, difference) -> str:
    """``worse``, ``better`` or ``neutral`` for a group whose ``measure`` differs by ``difference``.

    The sign of the difference times the measure's polarity: a higher
    suspension rate is worse, a higher pace better. No difference, an unknown
    difference or a measure with no polarity give ``neutral``.
    """
    polarity = POLARITY.get(_base_key(measure))
    if polarity is None:
        raise FindingsError(f"The measure '{measure}' has no polarity: add it to MEASURES in "
                            "equity_audit/publish/findings.py.")
    if difference is None or pd.isna(difference) or difference == 0 or polarity == 0:
        return "neutral"
    return "better" if np.sign(difference) * polarity > 0 else "worse"


@dataclass
class Finding:
    """One result the audit flags, published or confidential.

    ``subgroups`` are attributes (``["english_learner", "disability"]``) and
    ``groups`` their values (``["Yes", "Yes"]``), empty for a whole unit.
    ``comparator`` names what the group is compared with; ``interval`` is the
    95% interval of ``estimate`` (or of ``difference`` when the table has only that).
    """

    id: str
    question: int
    section: str
    analysis: str
    measure: str
    measure_label: str
    unit: str
    unit_id: str | None
    unit_name: str | None
    subgroups: list
    groups: list
    kind: str
    direction: str
    n: float | None
    estimate: float | None
    comparator: str
    comparator_estimate: float | None
    difference: float | None
    interval: list | None
    qvalue: float | None
    students_affected: float | None
    years: list
    statement: str
    source: str
    confidential: bool = False
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The finding as JSON-safe values (NaN becomes null)."""
        return {key: _clean(value) for key, value in asdict(self).items()}


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- the registry ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """How the flagged rows of one table become findings.

    ``layout`` names the table's shape (one converter each); ``flag`` is the
    function that marks the rows to report; ``measure`` is a key of
    :data:`MEASURES` (``access`` and ``climate`` tables take it per row).
    """

    table: str
    section: str
    analysis: str
    measure: str
    layout: str
    kind: str = "gap"
    unit: str = "district"
    unit_column: str | None = None
    confidential: bool = False
    flag: Callable[[pd.DataFrame], pd.Series] | None = None
    #: The years a table covers, when two tables of one measure differ only by them ("over all school years").
    period: str = ""

    def flagged(self, table: pd.DataFrame) -> pd.Series:
        """The rows to report, never a withheld one."""
        marks = self.flag(table) if self.flag else _truthy(table[_DEFAULT_FLAG[self.layout]])
        if "suppressed" in table:
            marks &= ~_truthy(table["suppressed"])
        return marks.fillna(False).astype(bool)


def _any_true(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    marks = pd.Series(False, index=table.index)
    for column in columns:
        if column in table:
            marks |= _truthy(table[column])
    return marks


def _truthy(column: pd.Series) -> pd.Series:
    if column.dtype == bool:
        return column
    return column.astype(str).str.strip().str.lower().isin(["true", "yes", "1", "1.0"])


_DEFAULT_FLAG = {"by_group": "flagged", "by_unit": "flagged", "intersection": "beyond_main_effects",
                 "unit_gap": "closer_look", "funnel": "closer_look", "scorer_gap": "closer_look",
                 "idea": "Years above threshold", "severity": "harsh", "pattern": "pattern", "trend": "verdict"}


def _by(table, section, measure, **kw):
    return Source(table, section, kw.pop("analysis", table.removesuffix("_by_subgroup").replace("_", " ")),
                  measure, "by_group", **kw)


REGISTRY = {source.table: source for source in [
    # question 1: unmet need
    _by("pace_by_subgroup", "unmet_need", "pace"),
    _by("two_plus_behind_by_subgroup", "unmet_need", "two_plus_behind"),
    Source("pace_intersections", "unmet_need", "pace of intersections", "pace", "intersection",
           kind="beyond_main_effects"),
    Source("unmet_need_by_school", "unmet_need", "unmet need by school", "unmet_need", "by_unit", unit="school",
           unit_column="group"),
    _by("unmet_need_by_subgroup", "unmet_need", "unmet_need"),
    Source("unmet_need_intersections", "unmet_need", "unmet need of intersections", "unmet_need", "intersection",
           kind="beyond_main_effects"),
    # tested, but withheld to protect a smaller cell: numbers only in the confidential folder
    Source("pace_intersections_withheld", "unmet_need", "pace of withheld intersections", "pace", "intersection",
           kind="beyond_main_effects", confidential=True),
    Source("unmet_need_intersections_withheld", "unmet_need", "unmet need of withheld intersections", "unmet_need",
           "intersection", kind="beyond_main_effects", confidential=True),
    _by("talent_without_access_by_subgroup", "unmet_need", "talent_without_access"),
    _by("chronic_absence_by_subgroup", "unmet_need", "chronic_absence"),
    Source("chronic_absence_by_school", "unmet_need", "chronic absence by school", "chronic_absence", "funnel",
           kind="outlier", unit="school", unit_column="school"),
    # question 2: patterns
    _by("exclusion_by_subgroup", "patterns", "exclusion"),
    _by("removals_by_subgroup", "patterns", "removals"),
    _by("days_removed_by_subgroup", "patterns", "days_removed"),
    Source("idea_oss_all_students", "patterns", "IDEA risk ratio, all students", "oss_risk_ratio", "idea",
           kind="disproportionality", flag=lambda t: pd.to_numeric(t["Years above threshold"], errors="coerce") > 0),
    Source("idea_oss_students_with_disabilities", "patterns", "IDEA risk ratio, students with disabilities",
           "oss_risk_ratio", "idea", kind="disproportionality",
           flag=lambda t: pd.to_numeric(t["Years above threshold"], errors="coerce") > 0),
    Source("oss_gaps_by_school", "patterns", "suspension gaps within schools", "oss", "unit_gap", unit="school",
           unit_column="school"),
    _by("access_by_subgroup", "patterns", "access", analysis="access (latest year)",
        period="in the latest school year"),
    _by("access_by_subgroup_all_years", "patterns", "access", analysis="access (all years)",
        period="over all school years"),
    Source("level4_gaps_by_school", "patterns", "Level-4 access gaps within schools", "level4_access", "unit_gap",
           unit="school", unit_column="school"),
    Source("below_pace_by_school", "patterns", "below pace by school", "below_pace", "funnel", kind="outlier",
           unit="school", unit_column="school"),
    Source("below_pace_by_plc", "patterns", "below pace by PLC", "below_pace", "funnel", kind="outlier",
           unit="plc", unit_column="plc_id"),
    Source("gap_trends", "patterns", "gap trends", "gap_trend", "trend", kind="trend",
           flag=lambda t: t["verdict"].isin(["narrowing", "widening"])),
    Source("plc_scan_below_pace_in_school", "patterns", "below pace by PLC, against the other PLCs of its school",
           "below_pace", "funnel", kind="outlier", unit="plc", unit_column="plc_id", confidential=True),
    Source("plc_scan_pace_gaps", "patterns", "pace gaps by PLC", "pace", "unit_gap", unit="plc",
           unit_column="plc_id", confidential=True),
    Source("teacher_scan_below_pace", "patterns", "below pace by teacher", "below_pace", "funnel", kind="outlier",
           unit="teacher", unit_column="teacher_id", confidential=True),
    # question 3: bias
    _by("grade_residual_by_subgroup", "bias", "grade_residual"),
    _by("high_grade_low_evidence_by_subgroup", "bias", "high_grade_low_evidence"),
    _by("low_grade_high_evidence_by_subgroup", "bias", "low_grade_high_evidence"),
    _by("performance_tasks_by_subgroup", "bias", "performance_tasks"),
    _by("dok34_by_subgroup", "bias", "dok34"),
    _by("reaching_level4_by_subgroup", "bias", "reaching_level4"),
    _by("climate_by_subgroup", "bias", "climate"),
    Source("teacher_scan_grades_against_evidence", "bias", "grades against evidence by teacher", "grade_residual",
           "unit_gap", unit="teacher", unit_column="teacher_id", confidential=True),
    Source("teacher_patterns_grades_against_evidence", "bias", "grading patterns by teacher over the years",
           "grade_residual", "pattern", kind="persistence", unit="teacher", unit_column="teacher_id",
           confidential=True, flag=lambda t: t["pattern"].astype("string").fillna("").str.strip() != ""),
    Source("calibration_agreement", "bias", "calibration agreement", "calibration_agreement", "agreement",
           kind="discordance", flag=lambda t: (t["standard_id"].astype(str) == "All")
           & (pd.to_numeric(t["alpha_ordinal"], errors="coerce") < ALPHA_TENTATIVE)),
    Source("scorer_severity", "bias", "scorer severity in calibration", "scorer_severity", "severity",
           kind="severity", unit="scorer", unit_column="scorer_id", confidential=True,
           flag=lambda t: _any_true(t, ["harsh", "lenient"])),
    Source("scorer_severity_by_subgroup", "bias", "scorer severity against one group", "scorer_group_gap",
           "scorer_gap", unit="scorer", unit_column="scorer_id", confidential=True),
    Source("teacher_scan_pace_gaps", "bias", "pace gaps by teacher", "pace", "unit_gap", unit="teacher",
           unit_column="teacher_id", confidential=True),
]}


# --- reading a run folder --------------------------------------------------------------------------

def _tables(run_dir: Path, confidential: bool) -> dict[str, Path]:
    folder = run_dir / ("confidential" if confidential else "tables")
    return {path.stem: path for path in sorted(folder.glob("*.csv"))}


def _read(path: Path) -> pd.DataFrame:
    try:
        return restore_cells(pd.read_csv(path))  # the text as the district wrote it
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def uncovered(run_dir: str | Path) -> list[str]:
    """Tables of a run with a flag column and no :data:`REGISTRY` entry (``confidential/`` prefixed)."""
    run_dir, missing = Path(run_dir), []
    for confidential in (False, True):
        for name, path in _tables(run_dir, confidential).items():
            if name.startswith("findings_") or name in REGISTRY:
                continue
            columns = pd.read_csv(path, nrows=0).columns if path.stat().st_size else []
            if any(column in FLAG_COLUMNS for column in columns):
                missing.append(f"confidential/{name}" if confidential else name)
    return missing


def build_findings(run_dir: str | Path) -> dict[str, list[Finding]]:
    """The findings of a run: ``{"published": [...], "confidential": [...]}``.

    Published findings come only from ``tables/``; confidential ones only from
    ``confidential/``. Published findings also count, without naming anyone, the
    teachers and scorers of each confidential analysis that warrant a closer look.
    """
    result = {"published": [], "confidential": []}
    for name, (source, table) in registered_tables(run_dir).items():
        try:
            rows = table[source.flagged(table)]
            if len(rows):
                result["confidential" if source.confidential else "published"].extend(
                    _CONVERTERS[source.layout](source, rows))
        except KeyError as err:
            raise FindingsError(f"The table {name} has no column {err} that its findings need: update its "
                                "entry in REGISTRY (equity_audit/publish/findings.py).") from None
    result["published"].extend(_count_findings(result["confidential"]))
    return result


def registered_tables(run_dir: str | Path) -> dict[str, tuple[Source, pd.DataFrame]]:
    """Every non-empty table of a run that :data:`REGISTRY` lists, with its entry: published ones from
    ``tables/``, confidential ones from ``confidential/``, in registry order."""
    run_dir, found = Path(run_dir), {}
    available = {confidential: _tables(run_dir, confidential) for confidential in (False, True)}
    for name, source in REGISTRY.items():
        path = available[source.confidential].get(name)
        if path is not None and not (table := _read(path)).empty:
            found[name] = (source, table)
    return found


def _count_findings(confidential: list[Finding]) -> list[Finding]:
    """One published finding per confidential analysis: how many units, never which."""
    counts: dict[str, list[Finding]] = {}
    for finding in confidential:
        counts.setdefault(finding.source, []).append(finding)
    out = []
    for name, found in counts.items():
        source, units = REGISTRY[name], len({f.unit_id for f in found})
        kind = _kind(source)
        statement = (f"{units} {plural(units, f'{kind} warrants', f'{kind}s warrant')} a closer look in "
                     f"{source.analysis} ({len(found)} {plural(len(found), 'result', 'results')}). "
                     f"{plural(units, 'The name is', 'The names are')} in the run's confidential folder, for a "
                     f"professional conversation {'with the PLC' if source.unit == 'plc' else 'in their PLC'}.")
        if source.layout == "intersection":
            units = len(found)
            differ = plural(units, "intersection of subgroups differs", "intersections of subgroups differ")
            statement = (f"{units} {differ} from what their groups alone predict ({source.analysis}), but "
                         f"{plural(units, 'it is', 'they are')} withheld from this report because publishing "
                         f"{plural(units, 'it', 'them')} would give away a smaller group of students. "
                         f"{plural(units, 'Which one', 'Which ones')}, with {plural(units, 'its', 'their')} "
                         "numbers, is in the run's "
                         "confidential folder, for the equity team.")
        out.append(_finding(source, unit_id=None, unit_name=None, subgroups=[], groups=[], kind="count",
                            direction_="neutral", n=units, estimate=None, comparator="", comparator_estimate=None,
                            difference=None, interval=None, qvalue=None, students_affected=None,
                            statement=statement, confidential=False, key=f"count:{name}"))
    return out


# --- converters: one per table layout ---------------------------------------------------------------

def _num(value):
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def _finding(source: Source, *, key: str, measure: str | None = None, measure_label: str | None = None,
             direction_: str | None = None, confidential: bool | None = None, years=(), details=None,
             **fields) -> Finding:
    measure = measure or source.measure
    label = measure_label or MEASURES[_base_key(measure)][0]
    if direction_ is None:
        direction_ = direction(measure, fields["difference"])
    digest = hashlib.sha1(f"{source.table}|{key}".encode()).hexdigest()[:12]
    details = {**_priority_marks(measure, fields), **(details or {})}
    return Finding(id=f"{source.table}-{digest}", question=QUESTIONS[source.section], section=source.section,
                   analysis=source.analysis, measure=measure, measure_label=label, unit=source.unit,
                   kind=fields.pop("kind", source.kind), direction=direction_, years=list(years),
                   source=source.table, details=details,
                   confidential=source.confidential if confidential is None else confidential, **fields)


def _priority_marks(measure: str, fields: dict) -> dict:
    """Marks the action plan reads: ``mirror`` (a "No" cell of a yes/no subgroup only mirrors the
    "Yes" cell) and ``actionable`` (a difference of at least :data:`narrative.MIN_DIFFERENCE`)."""
    difference = fields.get("difference")
    floor = narrative.MIN_DIFFERENCE[MEASURES[_base_key(measure)][2]]
    return {"mirror": any(str(group) in ("No", "N") for group in fields.get("groups", [])),
            "actionable": difference is None or abs(difference) >= floor}


#: What a finding says in place of a share the release gate did not show, by status word. It never
#: states the count: a coded row can still be flagged, but its statement keeps the code.
_CODED_WORDS = {
    "small_count": "not shown (fewer students than the publishing minimum have it)",
    "small_complement": "not shown (all but fewer students than the publishing minimum have it)",
    "complementary_share": "not shown (so that a small count elsewhere cannot be worked out)",
}
_SHARE_COLUMNS = ("estimate", "focus_estimate", "rate")


def _coded_words(row, n) -> str | None:
    """The words for a share the release gate coded (``status`` of the row), or None when it is shown.

    >>> _coded_words({"status": "small_count:estimate"}, 40), _coded_words({"status": "top_coded"}, 40)
    ('not shown (fewer students than the publishing minimum have it)', '≥ 95%')
    >>> _coded_words({"status": "small_count:n_missing"}, 40) is None
    True
    """
    status = row.get("status")
    words = [] if status is None or pd.isna(status) else str(status).split(";")
    for word in words:
        code, _, column = word.partition(":")
        if code in ("top_coded", "bottom_coded") and n:
            return top_bottom_code(1.0 if code == "top_coded" else 0.0, n, scale=1)
        if code in _CODED_WORDS and (not column or column in _SHARE_COLUMNS):
            return _CODED_WORDS[code]
    return None


def _say_coded(statement: str, row, n) -> str:
    """The statement with the coded share in words where the sentence would print a dash."""
    words = _coded_words(row, n)
    return statement.replace(" is —", f" is {words}", 1) if words else statement


def _rate_affected(row, measure: str):
    n, estimate = _num(row.get("n")), _num(row.get("estimate"))
    if n is None:
        return None
    if str(row.get("statistic")) == "rate" and estimate is None and _coded_words(row, n):
        return None  # the count is what the code hides
    if str(row.get("statistic")) != "rate" or estimate is None:
        return n
    with_outcome = round(estimate * n)
    return float(n - with_outcome if POLARITY.get(_base_key(measure), 0) > 0 else with_outcome)


def _group_measure(source: Source, row) -> tuple[str, str]:
    if source.measure == "access" and "measure" in row and pd.notna(row.get("measure")):
        words = f"access to {row.get('opportunity', row['measure'])} {source.period}".strip()
        return f"access_{row['measure']}", words
    if source.measure == "climate" and pd.notna(row.get("construct")):
        return f"climate_{row['construct']}", f"climate survey score: {row['construct']}"
    return source.measure, MEASURES[source.measure][0]


def _group_direction(measure: str, difference, row) -> str:
    """The direction of a by-group row; an access row under four-fifths of the others' access is worse
    even when the release gate withheld its difference (the four-fifths mark is published)."""
    found = direction(measure, difference)
    if found == "neutral" and difference is None and _truthy(pd.Series([row.get("four_fifths")])).iloc[0]:
        return "worse"
    return found


def _mirror_of(subgroup: str, group: str) -> str | None:
    """The "Yes" group a "No" row of a yes/no subgroup mirrors, in words; None for any other row."""
    yes_no = subgroup in SUBGROUP_FLAGS or subgroup.startswith(GROUP_PREFIX)
    if not yes_no or display_value(subgroup, group) != "No":
        return None
    return narrative.group_words(subgroup, "Yes")


#: Share of the students compared that two groups must hold between them for their rows to be one comparison.
NEAR_COMPLEMENT = 0.95
#: Columns that make rows one block of comparisons: the same subgroup, measure, year and unit.
_BLOCK = ("subgroup", "measure", "school_year", "school", "school_id", "plc_id", "teacher_id", "scorer_id")


def near_complements(rows: pd.DataFrame) -> pd.Series:
    """For each flagged by-group row, the other flagged group with which it holds (almost) every student.

    When two groups of a subgroup hold nearly every student compared (a gender column with
    a handful of other answers), each compared with "all other students" is the other seen
    from the opposite side: one result, not two. A row's partner is a group of the same
    subgroup, measure, year and unit (school, PLC, teacher or scorer) that holds, with the
    row's group, at least :data:`NEAR_COMPLEMENT` of the students (the row's ``n`` and
    ``comparator_n``), and whose difference has the opposite sign; "" where there is none.
    Rows of a scan within units are read the same way (``focus_n`` and ``others_n``, the
    other students of the same unit). The share is of the students of both groups and the
    rest, not of one comparator: in a block of 300 students, 9 with another answer are 3% of
    everyone but 6% of a comparator, and which side of a cut on the comparator a pair
    falls was chance.

    >>> t = pd.DataFrame({"subgroup": "gender", "group": ["F", "M"], "n": [490, 500],
    ...                   "comparator_n": [510, 500], "difference": [-0.1, 0.1]})
    >>> near_complements(t).tolist()
    ['M', 'F']
    """
    out = pd.Series("", index=rows.index, dtype=object)
    n_column = "n" if "n" in rows else "focus_n"
    other_column = "comparator_n" if "comparator_n" in rows else "others_n"
    if rows.empty or not {"subgroup", "group", n_column, other_column, "difference"} <= set(rows.columns):
        return out
    keys = [c for c in _BLOCK if c in rows]
    n = pd.to_numeric(rows[n_column], errors="coerce")
    everyone = n + pd.to_numeric(rows[other_column], errors="coerce")
    sign = np.sign(pd.to_numeric(rows["difference"], errors="coerce"))
    for _, frame in rows.groupby(keys, dropna=False, sort=False):  # a few rows per block
        block = list(frame.index)
        for row in block:
            partner = [h for h in block if h != row and n[h] + n[row] >= NEAR_COMPLEMENT * everyone[row]
                       and sign[h] * sign[row] < 0]
            out[row] = str(rows.at[partner[0], "group"]) if partner else ""
    return out


def other_sides(rows: pd.DataFrame, directions: pd.Series) -> pd.Series:
    """For each row that fares better, the groups of its block whose worse result its advantage only mirrors.

    A group compared with "all other students" is compared with the groups that fare worse
    too. Where Hispanic/Latino and Black students fare worse, White students fare better
    than "everyone else" partly for that reason. A better row (``directions``) is the other
    side of the worse rows of its block (same subgroup, measure, year and unit) when

    - set against its comparator without them, its difference no longer clears the row's
      own interval (scaled to the smaller comparator; equal spread assumed) or changes
      sign: the advantage is over those groups only, and
    - some worse row, set against its comparator without the better group, still does:
      the worse groups differ from the rest, so they, not the better group, are what
      differs. (Where only the better group differs from groups that are alike, its
      advantage is its own: a strength.)

    Returns the worse groups joined by ``"; "`` for such rows, "" for every other row and
    wherever a needed number is withheld. By-group rows (``n``, ``estimate``,
    ``comparator_n``, ``comparator_estimate``) and rows of a scan within units (``focus_*``
    or ``n``, ``others_*``) both work; each needs ``difference_low`` and ``difference_high``.

    Examples
    --------
    >>> t = pd.DataFrame({"subgroup": "race", "group": ["A", "B", "C"], "n": [200, 600, 200],
    ...                   "estimate": [0.30, 0.10, 0.10], "comparator_n": [800, 400, 800],
    ...                   "comparator_estimate": [0.10, 0.20, 0.15], "difference": [0.20, -0.10, -0.05],
    ...                   "difference_low": [0.14, -0.15, -0.09], "difference_high": [0.26, -0.05, -0.01]})
    >>> other_sides(t, pd.Series(["worse", "better", "better"])).tolist()
    ['', 'A', 'A']
    """
    out = pd.Series("", index=rows.index, dtype=object)
    own = "n" if "n" in rows else "focus_n"
    own_estimate = "focus_estimate" if "focus_estimate" in rows else "estimate"
    other = "comparator" if "comparator_n" in rows else "others"
    needed = {"subgroup", "group", own, own_estimate, f"{other}_n", f"{other}_estimate", "difference",
              "difference_low", "difference_high"}
    if rows.empty or not needed <= set(rows.columns):
        return out
    number = {key: pd.to_numeric(rows[column], errors="coerce") for key, column in
              (("n", own), ("estimate", own_estimate), ("other_n", f"{other}_n"),
               ("other_estimate", f"{other}_estimate"), ("difference", "difference"),
               ("low", "difference_low"), ("high", "difference_high"))}
    worse = directions.reindex(rows.index).eq("worse")
    for _, frame in rows.groupby([c for c in _BLOCK if c in rows], dropna=False, sort=False):
        behind = [i for i in frame.index if worse[i]]
        for row in (i for i in frame.index if directions.get(i) == "better") if behind else ():
            only_over_them = _still_differs(number, row, without=behind) is False
            they_differ = any(_still_differs(number, i, without=[row]) for i in behind)
            if only_over_them and they_differ:
                out[row] = "; ".join(str(rows.at[i, "group"]) for i in behind)
    return out


def _still_differs(number: dict, row, *, without: list) -> bool | None:
    """Whether ``row`` differs, beyond its interval and the same way, from its comparator less the rows ``without``.

    None when a number it needs is withheld.
    """
    n_out = sum(number["n"][i] for i in without)
    sum_out = sum(number["n"][i] * number["estimate"][i] for i in without)
    n, estimate, difference = number["n"][row], number["estimate"][row], number["difference"][row]
    n_other, other_estimate = number["other_n"][row], number["other_estimate"][row]
    half = (number["high"][row] - number["low"][row]) / 2
    if any(pd.isna(v) for v in (n, estimate, n_other, other_estimate, difference, half, n_out, sum_out)):
        return None
    rest = n_other - n_out
    if rest < 1:  # every other student is in the groups left out
        return False
    left = estimate - (n_other * other_estimate - sum_out) / rest
    scale = math.sqrt((1 / n + 1 / rest) / (1 / n + 1 / n_other))
    return bool(np.sign(left) == np.sign(difference) and abs(left) > half * scale)


def _by_group(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    whole_unit = source.unit != "district"
    directions = pd.Series({index: _group_direction(_group_measure(source, row)[0], _num(row["difference"]), row)
                            for index, row in rows.iterrows()}, dtype=object)
    partners = (pd.Series("", index=rows.index) if whole_unit
                else _partners(near_complements(rows), other_sides(rows, directions)))
    for index, row in rows.iterrows():
        measure, label = _group_measure(source, row)
        percent = MEASURES[_base_key(measure)][2]
        subgroups, groups = ([], []) if whole_unit else ([str(row["subgroup"])], [str(row["group"])])
        unit_name = str(row[source.unit_column]) if whole_unit else None
        values = dict(n=_num(row["n"]), estimate=_num(row["estimate"]),
                      comparator_estimate=_num(row["comparator_estimate"]), difference=_num(row["difference"]),
                      interval=[_num(row["low"]), _num(row["high"])], qvalue=_num(row.get("qvalue")))
        comparator = f"students in other {source.unit}s" if whole_unit else "all other students"
        dir_ = directions[index]
        mirror_of = None if whole_unit else _mirror_of(subgroups[0], groups[0])
        if not whole_unit and partners[index] and dir_ == "better":  # the concern is the partner's row
            mirror_of = _groups_words(subgroups[0], partners[index])
        statement = narrative.finding_sentence(
            subject=unit_name if whole_unit else narrative.group_words(subgroups[0], groups[0]),
            measure=label, percent=percent, comparator=comparator, direction=dir_, **values,
            mirror_of=mirror_of,
            extra=(" Under four-fifths of their access." if _truthy(pd.Series([row.get("access_gap")])).iloc[0]
                   else ""))
        statement = _say_coded(statement, row, values["n"])
        out.append(_finding(source, key=f"{row.get('subgroup')}|{row.get('group')}|{measure}", measure=measure,
                            measure_label=label, direction_=dir_, unit_id=unit_name, unit_name=unit_name,
                            subgroups=subgroups, groups=groups, comparator=comparator,
                            students_affected=_rate_affected(row, measure), statement=statement,
                            details=_mirror_details(partners[index]) if partners[index] and mirror_of
                            else None, **values))
    return out


def _partners(complements: pd.Series, sides: pd.Series) -> pd.Series:
    """Each row's partner: its near complement, else the worse groups its advantage mirrors (:func:`other_sides`)."""
    return complements.where(complements.ne(""), sides)


def mirrored(rows: pd.DataFrame, directions: pd.Series) -> pd.Series:
    """For each better row, in words, the result it is only the other side of (:func:`near_complements`,
    :func:`other_sides`); None for every other row. The words a section's findings end with.
    """
    partners = _partners(near_complements(rows), other_sides(rows, directions))
    return pd.Series([_groups_words(str(rows.at[i, "subgroup"]), partners[i])
                      if partners[i] and directions.get(i) == "better" else None for i in rows.index],
                     index=rows.index, dtype=object)


def _groups_words(subgroup: str, groups: str) -> str:
    """The groups (joined by "; ") in words: "Asian students, Black students and Hispanic students"."""
    words = [narrative.group_words(subgroup, group) for group in groups.split("; ")]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _mirror_details(partners: str) -> dict:
    """A mirror's details: the first group it mirrors is the one the action plan lists it under."""
    return {"mirror": True, "partner": partners.split("; ")[0]}


def _intersection(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    percent = MEASURES[source.measure][2]
    for _, row in rows.iterrows():
        subgroups = [part.strip() for part in str(row["columns"]).split("×")]
        groups = [part.split(":", 1)[-1].strip() for part in str(row["intersection"]).split("×")]
        estimate, predicted = _num(row["estimate"]), _num(row.get("predicted"))
        difference = None if estimate is None or predicted is None else estimate - predicted
        dir_ = direction(source.measure, difference)
        values = dict(n=_num(row["n"]), estimate=estimate, comparator_estimate=predicted, difference=difference,
                      interval=[_num(row["low"]), _num(row["high"])],
                      qvalue=_num(row.get("interaction_qvalue", row.get("qvalue"))))
        comparator = narrative.PREDICTED_COMPARATOR
        statement = narrative.finding_sentence(
            subject=narrative.intersection_words(subgroups, groups),
            measure=MEASURES[source.measure][0], percent=percent, comparator=comparator, direction=dir_, **values)
        statement = _say_coded(statement, row, values["n"])
        out.append(_finding(source, key=str(row["intersection"]), direction_=dir_, unit_id=None, unit_name=None,
                            subgroups=subgroups, groups=groups, comparator=comparator,
                            students_affected=_rate_affected(row, source.measure), statement=statement,
                            details={"all_others_estimate": _num(row.get("comparator_estimate"))}, **values))
    return out


def _unit_gap(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    percent = MEASURES[source.measure][2]
    directions = pd.Series({index: direction(source.measure, _num(row["difference"]))
                            for index, row in rows.iterrows()}, dtype=object)
    partners = _partners(near_complements(rows), other_sides(rows, directions))
    for index, row in rows.iterrows():
        unit = str(row[source.unit_column])
        n = _num(row.get("focus_n", row.get("n")))
        estimate, other = _num(row["focus_estimate"]), _num(row["others_estimate"])
        values = dict(n=n, estimate=estimate, comparator_estimate=other, difference=_num(row["difference"]),
                      interval=[_num(row.get("difference_low")), _num(row.get("difference_high"))],
                      qvalue=_num(row.get("qvalue")))
        dir_ = directions[index]
        comparator = f"other students of the same {_kind(source)}"
        # the better side of a near-complement pair, or of worse groups of its unit, is the other side of their result
        mirror_of = (_groups_words(str(row["subgroup"]), partners[index])
                     if partners[index] and dir_ == "better" else None)
        statement = narrative.finding_sentence(
            subject=narrative.group_words(str(row["subgroup"]), str(row["group"])), unit_name=_unit_words(source, unit),
            measure=MEASURES[source.measure][0], percent=percent, comparator=comparator, direction=dir_,
            interval_of="difference", mirror_of=mirror_of, **values)
        statement = _say_coded(statement, row, n)
        affected = (round(estimate * n) if percent and n is not None and estimate is not None
                    else None if percent and _coded_words(row, n) else n)
        out.append(_finding(source, key=f"{unit}|{row['subgroup']}|{row['group']}", direction_=dir_, unit_id=unit,
                            unit_name=unit, subgroups=[str(row["subgroup"])], groups=[str(row["group"])],
                            comparator=comparator, students_affected=affected, statement=statement,
                            details=_mirror_details(partners[index]) if mirror_of else None, **values))
    return out


def _funnel(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        unit = str(row[source.unit_column])
        rate, target = _num(row["rate"]), _num(row["target"])
        values = dict(n=_num(row["n"]), estimate=rate, comparator_estimate=target,
                      difference=None if rate is None or target is None else rate - target,
                      interval=[_num(row["low"]), _num(row["high"])], qvalue=_num(row.get("qvalue")))
        dir_ = direction(source.measure, values["difference"])
        within = row.get("compared_within")
        comparator = (f"the other {_kind(source)}s' students in the same {narrative.setting_words(within)}"
                      if isinstance(within, str) and within else "the district rate")
        colleagues = _colleague_words(row.get("vs_school_colleagues"))
        statement = narrative.finding_sentence(subject=_unit_words(source, unit), measure=MEASURES[source.measure][0],
                                               percent=True, comparator=comparator, direction=dir_,
                                               extra=narrative.colleagues_clause(
                                                   colleagues, source.unit, MEASURES[source.measure][0],
                                                   values["difference"]),
                                               **values)
        statement = _say_coded(statement, row, values["n"])
        out.append(_finding(source, key=unit, direction_=dir_, unit_id=unit, unit_name=unit, subgroups=[], groups=[],
                            comparator=comparator, students_affected=_num(row.get("events")), statement=statement,
                            details={"vs_school_colleagues": colleagues} if colleagues else None, **values))
    return out


def _colleague_words(value) -> str:
    """``vs_school_colleagues`` of a funnel row ("" where absent or blank)."""
    return str(value) if isinstance(value, str) and value in scans.COLLEAGUE_WORDS else ""


def _unit_words(source: Source, unit: str) -> str:
    """A school by its name; a PLC, teacher or scorer by kind and id (once: "PLC-7" is not "PLC PLC-7")."""
    if source.unit == "school":
        return unit
    kind = _kind(source)[:1].upper() + _kind(source)[1:]
    return unit if unit.lower().startswith(kind.lower()) else f"{kind} {unit}"


def _kind(source: Source) -> str:
    return narrative.unit_kind(source.unit)


_RATIO = re.compile(r"\s*([-\d.]+)\s*\(([-\d.]+)\s*to\s*([-\d.]+)\)")


def _percent(text) -> float | None:
    match = re.fullmatch(r"\s*([-\d.]+)\s*%\s*", str(text))
    return float(match.group(1)) / 100 if match else None


def _idea(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        group = str(row["Group"])
        risk, comparison = _percent(row.get("Risk")), _percent(row.get("Comparison risk"))
        ratio = _RATIO.match(str(row.get("Risk ratio (95% interval)", "")))
        difference = None if risk is None or comparison is None else risk - comparison
        dir_ = direction(source.measure, difference)
        significant = _truthy(pd.Series([row.get("Significant disproportionality")])).iloc[0]
        rule = (" Significant disproportionality under the IDEA rule." if significant else
                " Above the threshold this year; not yet for the years the IDEA rule requires.")
        values = dict(n=_num(row.get("Students")), estimate=risk, comparator_estimate=comparison,
                      difference=difference, interval=None, qvalue=None)
        statement = narrative.finding_sentence(
            subject=f"{group} students" + (" with disabilities" if "disabilities" in source.table else ""),
            measure=MEASURES[source.measure][0], percent=True, comparator="all other students", direction=dir_,
            extra=(f" Risk ratio {ratio.group(1)} (95% interval {ratio.group(2)} to {ratio.group(3)})." if ratio
                   else "") + rule, **values)
        out.append(_finding(source, key=group, direction_=dir_, unit_id=None, unit_name=None,
                            subgroups=["race_ethnicity"], groups=[group], comparator="all other students",
                            students_affected=None, statement=statement,
                            details={"risk_ratio": _num(ratio.group(1)) if ratio else None,
                                     "significant_disproportionality": bool(significant)}, **values))
    return out


#: A gap's change over the years, as good or bad news for the group (``for_group`` of the trend table).
_TREND_DIRECTION = {"better for the group": "better", "worse for the group": "worse"}
_TREND_WORDS = {"better": "Better for the group: a strength to learn from.",
                "worse": "Worse for the group: worth asking why.",
                "neutral": "Worth understanding."}


def _trend(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        headline = str(row["headline"])
        measure_words, _, group = headline.partition(": ")
        dir_ = _TREND_DIRECTION.get(str(row.get("for_group")), "neutral")
        out.append(_finding(source, key=headline, direction_=dir_, measure_label=measure_words,
                            unit_id=None, unit_name=None, subgroups=[], groups=[group] if group else [],
                            n=None, estimate=None, comparator="the first school year", comparator_estimate=None,
                            difference=None, interval=None, qvalue=None, students_affected=None,
                            statement=f"{row['sentence']} {_TREND_WORDS[dir_]}",
                            details={"verdict": str(row["verdict"])}))
    return out


def _severity(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        scorer = str(row[source.unit_column])
        values = dict(n=_num(row["works"]), estimate=_num(row["mean_deviation"]), comparator_estimate=0.0,
                      difference=_num(row["mean_deviation"]), interval=[_num(row["low"]), _num(row["high"])],
                      qvalue=_num(row.get("qvalue")))
        dir_ = direction(source.measure, values["difference"])
        kind = "harsh" if _truthy(pd.Series([row["harsh"]])).iloc[0] else "lenient"
        statement = narrative.finding_sentence(
            subject=f"Scorer {scorer}", measure=MEASURES[source.measure][0], percent=False,
            comparator="the other scorers of the same work", direction=dir_,
            extra=f" A consistently {kind} scorer: the students scored fare {dir_}.", **values)
        out.append(_finding(source, key=scorer, direction_=dir_, unit_id=scorer, unit_name=scorer, subgroups=[],
                            groups=[], comparator="the other scorers of the same work", students_affected=None,
                            statement=statement, details={"qwk": _num(row.get("qwk")), "severity": kind}, **values))
    return out


def _scorer_gap(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        scorer = str(row[source.unit_column])
        subgroups = [str(row["group_column"])] if "group_column" in row else []
        groups = [str(row["focus"])] if "focus" in row else []
        values = dict(n=_num(row["n_focus"]), estimate=_num(row["mean_focus"]),
                      comparator_estimate=_num(row["mean_other"]), difference=_num(row["difference"]),
                      interval=[_num(row["low"]), _num(row["high"])], qvalue=_num(row.get("qvalue")))
        dir_ = direction(source.measure, values["difference"])
        subject = narrative.group_words(subgroups[0], groups[0]) if groups else "the students of one group"
        statement = narrative.finding_sentence(
            subject=subject, unit_name=_unit_words(source, scorer), measure=MEASURES[source.measure][0], percent=False,
            comparator="the scorer's other students", direction=dir_, interval_of="difference", **values)
        out.append(_finding(source, key=scorer, direction_=dir_, unit_id=scorer, unit_name=scorer,
                            subgroups=subgroups, groups=groups, comparator="the scorer's other students",
                            students_affected=values["n"], statement=statement, **values))
    return out


def _pattern(source: Source, rows: pd.DataFrame) -> list[Finding]:
    out = []
    for _, row in rows.iterrows():
        teacher = str(row[source.unit_column])
        years = [y.strip() for y in str(row.get("flagged_years", "")).replace(";", ",").split(",")
                 if y.strip() and y.strip().lower() != "nan"]
        statement = (f"Teacher {teacher}: {MEASURES[source.measure][0]} warrant a closer look in "
                     f"{int(_num(row.get('years_flagged')) or len(years))} of "
                     f"{int(_num(row.get('years_scanned')) or 0)} school years ({row['pattern']}). "
                     "A pattern over years, not one year alone.")
        out.append(_finding(source, key=teacher, direction_="neutral", unit_id=teacher, unit_name=teacher,
                            subgroups=[], groups=[], n=_num(row.get("years_scanned")), estimate=None,
                            comparator="the teacher's other students", comparator_estimate=None, difference=None,
                            interval=None, qvalue=None, students_affected=None, years=years, statement=statement,
                            details={"pattern": str(row["pattern"])}))
    return out


def _agreement(source: Source, rows: pd.DataFrame) -> list[Finding]:
    """Calibration agreement over all works too low to rely on: proficiency calls depend on the scorer."""
    out = []
    for _, row in rows.iterrows():
        alpha, works, scorers = _num(row["alpha_ordinal"]), _num(row.get("works")), _num(row.get("scorers"))
        difference = alpha - ALPHA_TENTATIVE
        statement = (f"Calibration: {MEASURE_WORDS[source.measure]} is {alpha:.2f} over {int(works or 0)} pieces of "
                     f"work scored by {int(scorers or 0)} scorers, below {ALPHA_TENTATIVE}, the least for "
                     "tentative conclusions (0.800 to rely on). Whether a student's work is called proficient "
                     "may depend on who scores it: students whose work meets a harsher scorer fare worse. "
                     "Worth asking why.")
        out.append(_finding(source, key=str(row["standard_id"]), direction_="worse", unit_id=None, unit_name=None,
                            subgroups=[], groups=[], n=works, estimate=alpha, comparator="the threshold for "
                            "tentative conclusions", comparator_estimate=ALPHA_TENTATIVE, difference=difference,
                            interval=None, qvalue=None, students_affected=None, statement=statement,
                            # too little agreement is worth acting on whatever the distance to the threshold
                            details={"scorers": scorers, "reading": str(row.get("reading", "")), "actionable": True}))
    return out


_CONVERTERS = {"by_group": _by_group, "by_unit": _by_group, "intersection": _intersection, "unit_gap": _unit_gap,
               "funnel": _funnel, "idea": _idea, "trend": _trend, "severity": _severity,
               "scorer_gap": _scorer_gap, "pattern": _pattern, "agreement": _agreement}


# --- schema and files ------------------------------------------------------------------------------

def schema() -> dict:
    """The JSON Schema of ``findings.json`` (shipped as ``findings.schema.json``)."""
    return json.loads((Path(__file__).with_name("findings.schema.json")).read_text(encoding="utf-8"))


def _document(findings: list[Finding], cover: dict | None, extra: dict | None = None) -> dict:
    cover = cover or {}
    return {"schema_version": SCHEMA_VERSION,
            "district": cover.get("district_name", ""), "period": cover.get("period", ""),
            "generated": cover.get("generated") or date.today().isoformat(),
            "version": cover.get("version", ""), "settings": _clean(cover.get("settings", {})),
            **(extra or {}),
            "findings": [finding.as_dict() for finding in findings]}


def write_findings(run_dir: str | Path, *, cover: dict | None = None, with_tables: bool = False) -> Path:
    """Write ``findings.json`` and ``confidential/findings.json`` from the run's tables; the public path.

    Both documents follow ``findings.schema.json``. With ``with_tables`` the published
    document also holds every published table as records (``"tables"``), for other tools.
    """
    run_dir = Path(run_dir)
    found = build_findings(run_dir)
    extra = None
    if with_tables:
        extra = {"tables": {name: [_clean(record) for record in _read(path).astype(object).to_dict(orient="records")]
                            for name, path in _tables(run_dir, False).items()}}
    published = run_dir / FINDINGS_NAME
    published.write_text(json.dumps(_document(found["published"], cover, extra), indent=1, ensure_ascii=False,
                                     allow_nan=False) + "\n", encoding="utf-8")
    if (run_dir / "confidential").is_dir():
        (run_dir / "confidential" / FINDINGS_NAME).write_text(
            json.dumps(_document(found["confidential"], cover), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
            encoding="utf-8")
    return published


def read_findings(path: str | Path) -> list[dict]:
    """The finding records of a ``findings.json`` (an empty list when the file is missing)."""
    path = Path(path)
    if path.is_dir():
        path = path / FINDINGS_NAME
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8")).get("findings", [])


def findings_frame(findings: list[Finding] | list[dict]) -> pd.DataFrame:
    """Findings as a table, one row each (for the workbook and the action plan)."""
    records = [f.as_dict() if isinstance(f, Finding) else f for f in findings]
    return pd.DataFrame(records, columns=list(Finding.__dataclass_fields__))
