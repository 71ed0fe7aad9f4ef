"""Student-year facts for the patterns section: exclusionary discipline and access.

One row per student and school year of enrollment (the school attended last
that year), with 0/1 columns a rate can be taken of:

- discipline: ``any_referral``, ``any_iss``, ``any_oss``, ``any_expulsion``,
  ``any_exclusion`` (any in-school or out-of-school suspension or expulsion),
  and the counts ``removals`` and ``days_removed``;
- access: one column per opportunity type in the district's ``opportunities``
  table (``level4_work``, ``enrichment``, ...), and ``honors_or_advanced`` and
  ``dual_enrollment`` that also count sections whose ``course_level`` says so.

Examples
--------
>>> import pandas as pd
>>> years = pd.DataFrame({"student_id": ["a", "b"], "school_year": [2025, 2025],
...                       "school_id": ["s1", "s1"], "grade_level": [7, 7]})
>>> incidents = pd.DataFrame({"student_id": ["a", "a"], "action": ["referral", "out_of_school_suspension"],
...                           "incident_date": pd.to_datetime(["2024-10-01", "2025-02-03"]),
...                           "days_removed": [None, 3.0]})
>>> facts = discipline_counts(years, incidents)
>>> facts["any_oss"].tolist(), facts["removals"].tolist(), facts["days_removed"].tolist()
([1, 0], [1, 0], [3.0, 0.0])
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from equity_audit.config import Config
from equity_audit.disaggregate import disaggregate_each
from equity_audit.stats import bh_adjust
from equity_audit.data.enrollment import student_years
from equity_audit.data.programs import as_flags, membership_by_year
from equity_audit.questions.needs import band_of
from equity_audit.questions.overview import school_names
from equity_audit.pace import expected_level, school_year_of
from equity_audit.scans import scan_gaps_each
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels

__all__ = ["EXCLUSIONARY", "ADVANCED_LEVELS", "ACCESS_MEASURES", "discipline_counts", "access_flags",
           "student_year_facts", "unmatched_incidents", "access_table", "readiness_by_year", "with_readiness",
           "district_readiness", "with_district_readiness", "READINESS_BANDS",
           "with_pace_by_year", "idea_risk_ratios", "gap_scan", "teacher_rows",
           "current_domain_facts", "credited_pace", "teacher_pace_gaps", "unit_pace_gaps"]

EXCLUSIONARY = ("in_school_suspension", "out_of_school_suspension", "expulsion")
ADVANCED_LEVELS = ("honors", "advanced", "ap", "ib")
_ACTION_COLUMNS = {"referral": "any_referral", "in_school_suspension": "any_iss",
                   "out_of_school_suspension": "any_oss", "expulsion": "any_expulsion"}
_KEY = ["student_id", "school_year"]


def _with_school_year(incidents: pd.DataFrame, config: Config | None) -> pd.DataFrame:
    config = config or Config()
    years = school_year_of(incidents["incident_date"], school_year_start=config.school_year_start,
                           school_year_end=config.school_year_end)
    return incidents.assign(school_year=years.astype("int64"))


def discipline_counts(years: pd.DataFrame, incidents: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """``years`` (one row per student and school year) with the discipline columns added."""
    dated = _with_school_year(incidents, config)
    actions = pd.crosstab([dated["student_id"], dated["school_year"]], dated["action"])
    removed = dated.assign(excluded=dated["action"].isin(EXCLUSIONARY),
                           days=dated["days_removed"].fillna(0))
    totals = removed.groupby(_KEY).agg(removals=("excluded", "sum"), days_removed=("days", "sum"))
    facts = years.merge(actions.reset_index(), on=_KEY, how="left").merge(
        totals.reset_index(), on=_KEY, how="left")
    for action, column in _ACTION_COLUMNS.items():
        facts[column] = (facts[action].fillna(0) > 0).astype(int) if action in facts else 0
    facts["any_exclusion"] = (facts["removals"].fillna(0) > 0).astype(int)
    facts["removals"] = facts["removals"].fillna(0).astype(int)
    facts["days_removed"] = facts["days_removed"].fillna(0.0)
    return facts.drop(columns=[c for c in dated["action"].unique() if c in facts.columns])


def unmatched_incidents(years: pd.DataFrame, incidents: pd.DataFrame, config: Config | None = None) -> int:
    """Incidents in a school year the student was not enrolled: counted, not silently lost."""
    dated = _with_school_year(incidents, config)
    keys = pd.MultiIndex.from_frame(years[_KEY].astype({"school_year": "int64"}))
    return int((~pd.MultiIndex.from_frame(dated[_KEY]).isin(keys)).sum())


def access_flags(years: pd.DataFrame, opportunities: pd.DataFrame | None = None,
                 sections: pd.DataFrame | None = None, rosters: pd.DataFrame | None = None) -> pd.DataFrame:
    """``years`` with one 0/1 column per opportunity type, plus course-level access."""
    facts = years.copy()
    if opportunities is not None:
        had = pd.crosstab([opportunities["student_id"], opportunities["school_year"].astype("int64")],
                          opportunities["opportunity_type"]).clip(upper=1).reset_index()
        facts = facts.merge(had, on=_KEY, how="left")
        for kind in opportunities["opportunity_type"].dropna().unique():
            facts[kind] = facts[kind].fillna(0).astype(int)
    if sections is not None and rosters is not None and "course_level" in sections:
        facts = _course_levels(facts, sections, rosters)
    return facts


def _course_levels(facts: pd.DataFrame, sections: pd.DataFrame, rosters: pd.DataFrame) -> pd.DataFrame:
    enrolled = rosters.merge(sections[["section_id", "school_year", "course_level"]], on="section_id")
    enrolled["school_year"] = enrolled["school_year"].astype("int64")
    level = enrolled["course_level"].astype(str)
    per_year = enrolled.assign(advanced=level.isin(ADVANCED_LEVELS), dual=level == "dual_enrollment")
    taken = per_year.groupby(_KEY)[["advanced", "dual"]].any().reset_index()
    facts = facts.merge(taken, on=_KEY, how="left")
    existing_honors = facts["honors"] if "honors" in facts else 0
    existing_dual = facts["dual_enrollment"] if "dual_enrollment" in facts else 0
    facts["honors_or_advanced"] = ((facts.pop("advanced").fillna(False).astype(bool))
                                   | (existing_honors == 1)).astype(int)
    facts["dual_enrollment"] = ((facts.pop("dual").fillna(False).astype(bool))
                                | (existing_dual == 1)).astype(int)
    return facts


def student_year_facts(district, config: Config | None = None) -> pd.DataFrame:
    """Every enrolled student-year with school name, subgroups, discipline and access columns.

    With a ``programs`` table, each year's program flags (English learner, disability,
    low income, ``group_*``) are that year's membership (setting ``program_membership``,
    :func:`equity_audit.data.programs.membership_by_year`) rather than the fixed
    ``students`` flags.
    """
    years = student_years(district["enrollments"]).astype({"school_year": "int64"})
    if "discipline" in district:
        years = discipline_counts(years, district["discipline"], config)
    years = access_flags(years, district.tables.get("opportunities"), district.tables.get("sections"),
                         district.tables.get("rosters"))
    names = school_names(district)
    ids = years["school_id"].astype(str)
    years["school"] = ids.map(names).astype(str).where(ids.isin(list(names)), ids)
    students = _students_by_year(district, years, config)
    labelled = subgroup_labels(students)[["student_id", "school_year", *subgroup_columns(students)]]
    return years.merge(labelled, on=_KEY, how="left")


def _students_by_year(district, years: pd.DataFrame, config: Config | None) -> pd.DataFrame:
    """One row per student-year: the students' columns, with that year's program flags when there are programs."""
    keys = years[_KEY].drop_duplicates()
    students = keys.merge(district["students"], on="student_id", how="left")
    if "programs" not in district:
        return students
    config = config or Config()
    membership = as_flags(membership_by_year(
        district["programs"], keys, school_year_start=config.school_year_start,
        school_year_end=config.school_year_end, mode=config.program_membership))
    programs = [c for c in membership.columns if c not in _KEY]
    return students.drop(columns=[c for c in programs if c in students]).merge(membership, on=_KEY, how="left")


#: Opportunities audited for access, with the grades for which each is offered.
ACCESS_MEASURES = {
    "level4_work": ("Level-4 work", -1),
    "enrichment": ("enrichment", -1),
    "acceleration": ("acceleration", -1),
    "honors_or_advanced": ("honors or advanced courses", 9),
    "dual_enrollment": ("dual enrollment", 9),
    "leadership": ("leadership", -1),
}


def access_table(facts: pd.DataFrame, columns: list[str], *, min_n: int = 10, fdr: float = 0.05,
                 all_years: bool = False) -> pd.DataFrame:
    """Access to each opportunity by subgroup, latest school year, against all other students.

    One row per opportunity and group with the engine's columns (``n``,
    ``estimate`` = rate, interval, ``comparator_estimate`` = all other
    students' rate, ``difference`` and ``ratio`` of the two, ``qvalue``) plus:

    - ``ratio_adjusted``: the ratio the flag judges. For Level-4 work, when
      ``facts`` carry readiness (:func:`readiness_by_year`), it compares ready
      students at equal readiness: the Mantel-Haenszel rate ratio within the
      bands of :data:`READINESS_BANDS`, with its interval, and ``pvalue`` is
      then the Cochran-Mantel-Haenszel test (:mod:`equity_audit.stratified`);
      ``adjusted_for`` says so. For every other row it is ``ratio`` and
      ``adjusted_for`` is empty;
    - ``four_fifths``: the raw rate under four-fifths of other students'
      (the four-fifths rule), decided exactly in whole numbers
      (``5·x·n_other < 4·x_other·n``), so a ratio of exactly 0.8 is never read
      as below it;
    - ``access_gap``: ``ratio_adjusted`` below 0.8 (for unadjusted rows the
      exact ``four_fifths``) and beyond chance after false discovery control
      across every row, so a small group's noise is not called a gap;
    - ``flagged``: an access gap, or ``ratio_adjusted`` above 1.25 and beyond
      chance in the same way (a strength), on shown rows: what the findings report.

    Yes/no (and Y/N) subgroups keep their "Yes" row (the "No" row mirrors it).
    Students in grades where an opportunity is not offered are left out of its
    base. With ``all_years`` every student-year counts (more students, so more
    power to see a steady gap) and the years of one student are clustered
    (intervals and p-values on cluster-robust effective counts,
    ``cluster="student_id"``); otherwise only the latest school year.
    """
    latest = facts if all_years else facts[facts["school_year"] == facts["school_year"].max()]
    parts = []
    for measure, (words, first_grade) in ACCESS_MEASURES.items():  # six opportunities
        if measure in latest:
            offered = latest[latest["grade_level"] >= first_grade]
            cluster = "student_id" if all_years and "student_id" in offered else None
            options = dict(min_n=min_n, fdr=fdr, cluster=cluster)
            if measure == "level4_work" and "ready" in offered:
                table = _level4_at_equal_readiness(offered, columns, options)
            else:
                table = disaggregate_each(offered, measure, columns, **options)
            parts.append(table.assign(opportunity=words, measure=measure))
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    table = table[~table["group"].isin(["No", "N"]) & (table["n"] > 0)].reset_index(drop=True)
    table["qvalue"] = bh_adjust(table["pvalue"].to_numpy(dtype=float))
    table["four_fifths"] = _below_four_fifths(table)
    table = _judged_ratio(table)
    adjusted = table["adjusted_for"] != ""
    below = np.where(adjusted, table["ratio_adjusted"].to_numpy(float) < 0.8, table["four_fifths"])
    beyond_chance = np.nan_to_num(table["qvalue"], nan=1.0) < fdr
    table["access_gap"] = below & beyond_chance
    # the flag a finding reads, on the same q-value the row shows: a gap, or access beyond 5/4 of the
    # others' (a strength, the four-fifths rule turned round)
    above = table["ratio_adjusted"].to_numpy(float) > 1.25
    shown = ~table["suppressed"].astype("boolean").fillna(False).to_numpy(bool) if "suppressed" in table \
        else np.ones(len(table), bool)
    table["flagged"] = (table["access_gap"].to_numpy(bool) | (above & beyond_chance)) & shown
    return table


_RATIOS = ("ratio", "ratio_low", "ratio_high")


def _level4_at_equal_readiness(offered: pd.DataFrame, columns: list[str], options: dict) -> pd.DataFrame:
    """Level-4 access of ready students: raw rates and ratio, tested at equal readiness band."""
    # ready students only: Level-4 work is the step after grade level, and below the line it is
    # rare for every group, so strata of those students would add weight at the floor rate and
    # pull the pooled ratio toward 1 without saying anything about who is offered the next step
    ready = offered[offered["ready"].fillna(False).astype(bool)]
    raw = disaggregate_each(ready, "level4_work", columns, **options)
    if "readiness_band" not in ready:
        return raw
    equal = disaggregate_each(ready, "level4_work", columns, strata="readiness_band", **options)
    equal = equal.rename(columns={c: c.replace("ratio", "ratio_adjusted") for c in _RATIOS})
    restored = ["difference", "difference_low", "difference_high", *_RATIOS]
    equal[restored] = raw[restored].to_numpy()  # the same rows in the same order: only the strata differ
    order = [*raw.columns, *(c for c in equal.columns if c not in raw.columns)]
    return equal[order].assign(adjusted_for="readiness band at the start of the school year")


def _judged_ratio(table: pd.DataFrame) -> pd.DataFrame:
    """``ratio_adjusted`` (with its interval) on every row: the raw ratio where nothing was adjusted for."""
    adjusted_for = table["adjusted_for"] if "adjusted_for" in table else pd.Series(None, index=table.index)
    table["adjusted_for"] = adjusted_for.astype(object).where(adjusted_for.notna(), "").astype(str)
    kept = (table["adjusted_for"] != "").to_numpy()
    for column in _RATIOS:
        name = column.replace("ratio", "ratio_adjusted")
        table[name] = table[name].where(kept, table[column]) if name in table else table[column]
    return table


def _below_four_fifths(table: pd.DataFrame) -> pd.Series:
    """``rate / other students' rate < 4/5`` decided in whole numbers, not floats."""
    x = table["successes"].to_numpy(float)
    n = table["n"].to_numpy(float)
    other_n = pd.to_numeric(table["comparator_n"], errors="coerce").to_numpy(float)
    other_x = np.round(table["comparator_estimate"].to_numpy(float) * other_n)
    known = np.isfinite(x) & np.isfinite(other_x) & (n > 0) & (other_n > 0) & (other_x > 0)
    with np.errstate(invalid="ignore"):
        below = 5 * np.round(x) * other_n < 4 * other_x * n
    return pd.Series(known & below, index=table.index)


#: Bands of the start-of-year readiness margin (levels above the expected level, mean over
#: domains; left-closed) in which ready students are compared: students just past the line and
#: students well ahead of it get Level-4 work at different rates.
READINESS_BANDS = {"at grade to +0.25": (0.0, 0.25), "+0.25 to +0.5": (0.25, 0.5), "+0.5 to +1": (0.5, 1.0),
                   "+1 and over": (1.0, np.inf)}


def readiness_by_year(levels: pd.DataFrame, years: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Readiness for Level-4 work per student and school year, judged at the start of the year.

    The audit's one definition of a student ready to move on (at or above
    grade level, :data:`equity_audit.data.dictionary.READY_DEFINITION`): the
    Level-4 access comparison and the unidentified-talent measure both use it.
    In each domain the year's first level is compared with the level expected
    on its date (grade plus the elapsed school year, :func:`equity_audit.pace.expected_level`).
    ``readiness_margin`` is the mean over domains of that level minus the
    expected one; ``ready`` is a margin of 0 or more (at or above grade level
    on average when the year began); ``readiness_band`` is the ready
    student's band of :data:`READINESS_BANDS` (NA when not ready).

    The first level, not the latest: Level-4 work given during the year
    raises later levels, so readiness read at the end of the year partly
    follows from the access it is meant to explain, and a group that gets
    less of it looks less often "ready". The mean over domains, not "any
    domain": with one noisy level per domain, "ready in some domain" admits
    many students behind on average whose one reading crossed the line, more
    often from groups further behind, who then look under-served beside
    students truly ahead. Two levels recorded on a year's first day count
    as the lower of them, whatever the order of the rows.

    Returns
    -------
    DataFrame
        ``student_id``, ``school_year``, ``readiness_margin``, ``ready``
        (boolean, NA without a margin) and ``readiness_band``, one row per
        student-year with levels and a grade.
    """
    config = config or Config()
    calendar = dict(school_year_start=config.school_year_start, school_year_end=config.school_year_end)
    dated = levels.assign(school_year=school_year_of(levels["as_of"], **calendar).astype("int64"))
    # a stable sort on the full key, so the answer does not depend on the order of the rows
    first = dated.sort_values(["student_id", "domain", "school_year", "as_of", "performance_level"],
                              kind="mergesort").drop_duplicates(["student_id", "domain", "school_year"])
    first = first.merge(years[["student_id", "school_year", "grade_level"]].drop_duplicates(_KEY), on=_KEY)
    expected = expected_level(first["grade_level"], first["as_of"], school_year=first["school_year"], **calendar)
    first["readiness_margin"] = first["performance_level"].to_numpy(float) - np.asarray(expected, float)
    ready = first.groupby(_KEY)["readiness_margin"].mean().reset_index()
    margin = ready["readiness_margin"]
    ready["ready"] = pd.array(np.where(margin.notna(), margin >= 0, pd.NA), dtype="boolean")
    ready["readiness_band"] = band_of(margin, READINESS_BANDS)
    return ready


def with_readiness(facts: pd.DataFrame, ready: pd.DataFrame) -> pd.DataFrame:
    """Add ``ready``, ``readiness_margin`` and ``readiness_band`` (from :func:`readiness_by_year`);
    unknown where a year has no levels."""
    merged = facts.merge(ready, on=_KEY, how="left")
    merged["ready"] = merged["ready"].astype("boolean")
    return merged


def district_readiness(district, config: Config | None = None, years: pd.DataFrame | None = None
                       ) -> pd.DataFrame | None:
    """The district's readiness per student and school year (:func:`readiness_by_year`), or None.

    The one readiness every section uses: the Level-4 access comparison and the
    unidentified-talent measure (:func:`equity_audit.questions.needs.student_summary`).

    Parameters
    ----------
    district
        The loaded district; readiness needs ``levels``, or ``evidence`` and
        ``standards`` to derive levels from.
    config : Config, optional
        The run's settings (school-year calendar, proficient score).
    years : DataFrame, optional
        Student-years with ``student_id``, ``school_year`` and ``grade_level``;
        by default every enrolled student-year.

    Returns
    -------
    DataFrame or None
        As :func:`readiness_by_year`; None when the district has no levels to judge readiness from.
    """
    from equity_audit.questions.overview import levels

    tables = district.tables
    if "levels" not in tables and not {"evidence", "standards"} <= set(tables):
        return None
    if years is None:
        years = student_years(district["enrollments"]).astype({"school_year": "int64"})
    return readiness_by_year(levels(district, config), years, config)


def with_district_readiness(facts: pd.DataFrame, district, config: Config | None = None) -> pd.DataFrame:
    """``facts`` with readiness (:func:`with_readiness`) when the district has levels, or evidence and
    standards to derive them from; unchanged otherwise, so access still runs on opportunities alone
    (Level-4 work then compared among all students)."""
    ready = district_readiness(district, config, years=facts)
    return facts if ready is None else with_readiness(facts, ready)


def with_readiness_and_pace(facts: pd.DataFrame, district, config: Config | None = None) -> pd.DataFrame:
    """``facts`` with readiness and pace per school year, when the district has levels to judge them from.

    :func:`with_district_readiness`, then :func:`with_pace_by_year` on the same levels:
    the student-years that access, Level-4 access by school and the gap trends all
    read, computed once for the three. Unchanged without levels (or evidence and
    standards to derive them from), like :func:`with_district_readiness`.
    """
    from equity_audit.questions.overview import levels

    ready = with_district_readiness(facts, district, config)
    return ready if ready is facts else with_pace_by_year(ready, levels(district, config), config)


def with_pace_by_year(facts: pd.DataFrame, levels: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Add ``pace`` per student and school year (mean over domains with enough evidence)
    and ``level4_ready`` (Level-4 work, only for students ready for it)."""
    from equity_audit.pace import PACE_OPTIONS, options_from_config, pace_by_year

    # the run's pace settings (school-year basis, minimum evidence), as every other pace
    options = {k: v for k, v in options_from_config(config or Config()).items() if k in PACE_OPTIONS}
    yearly = pace_by_year(levels, **options).groupby(_KEY)["pace"].mean().reset_index()
    merged = facts.merge(yearly.astype({"school_year": "int64"}), on=_KEY, how="left")
    if "level4_work" in merged and "ready" in merged:
        merged["level4_ready"] = merged["level4_work"].astype(float).where(merged["ready"].fillna(False).astype(bool))
    return merged


def idea_risk_ratios(facts: pd.DataFrame, outcome: str, *, category: str, state_comparison=None,
                     disability_only: bool = False, config: Config | None = None) -> pd.DataFrame:
    """IDEA-style risk ratios by race/ethnicity for one outcome, per school year.

    ``category`` names the outcome in the ``state_comparison`` table. With
    ``disability_only`` the population is students with disabilities, as in the
    IDEA discipline categories. Students whose race/ethnicity is Unknown are
    left out, as the rule defines the groups. One row per year and group, plus
    ``consecutive_years_flagged`` and ``significant_disproportionality`` from
    the multi-year rule (``idea_years`` in the settings) for the latest year.
    """
    from equity_audit.data.contract import UNKNOWN
    from equity_audit.disproportionality import multi_year, outcome_table, risk_ratios

    config = config or Config()
    population = facts[facts["disability"] == "Yes"] if disability_only else facts
    population = population[population["race_ethnicity"].astype(str) != UNKNOWN]
    state = _state_rows(state_comparison, category)
    years = []
    for school_year, part in population.groupby("school_year", sort=True):  # a few years
        table = outcome_table(part, group="race_ethnicity", outcome=outcome)
        table = table[table["group"].astype(str) != UNKNOWN]
        rows = risk_ratios(table, state, min_cell=config.idea_min_cell, min_n=config.idea_min_n,
                           threshold=config.risk_ratio_threshold)
        years.append(rows.reset_index(names="group").assign(school_year=school_year))
    stacked = pd.concat(years, ignore_index=True)
    decided = multi_year(stacked[["group", "school_year", "risk_ratio", "flagged"]], years=config.idea_years)
    decided = decided.reset_index()[["group", "consecutive_years_flagged", "significant_disproportionality"]]
    return stacked.merge(decided, on="group", how="left")


def _state_rows(state_comparison, category: str):
    if state_comparison is None:
        return None
    rows = state_comparison[state_comparison["category"] == category]
    return rows[["group", "outcome", "base"]] if len(rows) else None


def gap_scan(facts: pd.DataFrame, outcome: str, columns: list[str], *, unit: str = "school",
             min_n: int = 10, fdr: float = 0.05) -> pd.DataFrame:
    """Units where a group's gap against the unit's other students is the unit's own.

    :func:`equity_audit.scans.scan_gaps_each`: stacks
    :func:`equity_audit.scans.scan_gaps` over every group (yes/no subgroups:
    their "Yes" group) and re-applies false-discovery control across all of
    them, so scanning more groups does not mean more chance calls. Each
    unit's gap is tested against the same group's gap in all other units
    (``compare="between"``), so a gap the whole district shares is not
    called out in every unit. When a student has several rows (student-years
    pooled), the rows of one student are clustered (``cluster="student_id"``).
    """
    cluster = "student_id" if "student_id" in facts and facts["student_id"].duplicated().any() else None
    return scan_gaps_each(facts, unit=unit, columns=columns, outcome=outcome, min_n=min_n, fdr=fdr,
                          cluster=cluster)


def teacher_rows(district, facts: pd.DataFrame) -> pd.DataFrame:
    """Student x teacher rows for the latest school year: each student's domain facts
    joined to the teachers (and PLCs) of their sections in that domain."""
    sections = district["sections"].astype({"school_year": "int64"})
    linked = district["rosters"].merge(sections, on="section_id")
    latest = facts[facts["school_year"] == facts["school_year"].max()].astype({"school_year": "int64"})
    keys = ["student_id", "school_year"] + (["domain"] if "domain" in linked and "domain" in latest else [])
    columns = [*keys, "teacher_id"] + (["plc_id"] if "plc_id" in linked else [])
    return latest.merge(linked[columns].drop_duplicates(), on=keys)


def current_domain_facts(domain_facts: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """The latest year's student x domain facts with ``below`` (0/1 below pace, NA without
    enough evidence) and the school name, for the school, PLC and teacher scans."""
    latest = domain_facts[domain_facts["school_year"] == domain_facts["school_year"].max()]
    current = latest.assign(below=latest["below_pace"].astype("Float64"),
                            school_year=latest["school_year"].astype("int64"))
    return current.merge(facts[["student_id", "school_year", "school"]], on=_KEY, how="left")


#: The unit column of :func:`equity_audit.questions.needs.unit_pace_facts` for each scan unit.
_UNIT_COLUMNS = {"school": "school_id", "plc_id": "plc_id", "teacher_id": "teacher_id"}


def credited_pace(district, config: Config | None = None, *, unit: str = "school") -> pd.DataFrame:
    """Student-domain pace of the latest school year, credited to the school, PLC or teacher
    the student was with while the growth was made, with ``below`` for the unit scans.

    A student who moved counts at each school with that school's part only, so a
    school is not called out for growth (or its absence) that happened elsewhere.
    For ``unit="school"`` the ``school`` column holds the school's name.
    """
    from equity_audit.questions.needs import unit_pace_facts

    if unit not in _UNIT_COLUMNS:
        raise ValueError(f"unit must be one of {sorted(_UNIT_COLUMNS)}, got {unit!r}")
    credited = unit_pace_facts(district, config, unit=_UNIT_COLUMNS[unit])
    if unit == "school":
        names, ids = school_names(district), credited["school_id"].astype(str)
        credited["school"] = ids.map(names).astype(str).where(ids.isin(list(names)), ids)
    return credited


def teacher_pace_gaps(district, current: pd.DataFrame, columns: list[str], *, min_n: int = 10,
                      fdr: float = 0.05, config: Config | None = None) -> pd.DataFrame:
    """Per teacher and group: :func:`unit_pace_gaps` for teachers."""
    return unit_pace_gaps(district, current, columns, unit="teacher_id", min_n=min_n, fdr=fdr, config=config)


def unit_pace_gaps(district, current: pd.DataFrame, columns: list[str], *, unit: str = "teacher_id",
                   min_n: int = 10, fdr: float = 0.05, config: Config | None = None) -> pd.DataFrame:
    """Per teacher (or PLC) and group: the gap in pace between the group's students and the unit's
    other students (latest year), with false-discovery control across every unit and group.

    Each gap is tested against the same group's gap with the other units (:func:`gap_scan`), so a gap
    the whole district shares is not called out in every unit. A unit is credited only with the
    growth made while the student was in its classes
    (:func:`equity_audit.questions.needs.unit_pace_facts` with roster spells), not with the
    student's whole history; ``current`` gives the school year (its latest). ``unit`` is
    ``"teacher_id"`` or ``"plc_id"``."""
    from equity_audit.data.subgroups import subgroup_labels
    from equity_audit.questions.needs import unit_pace_facts

    year = int(pd.to_numeric(current["school_year"]).max())
    taught = unit_pace_facts(district, config, unit=unit, school_year=year)
    # a unit of both domains sees a student twice: one row per student and unit, or
    # the scan would count the same student as two and be overconfident
    per_student = taught.groupby([unit, "student_id"])["pace"].mean().reset_index()
    labels = subgroup_labels(district["students"])[["student_id", *columns]]
    return gap_scan(per_student.merge(labels, on="student_id", how="left"), "pace", columns, unit=unit,
                    min_n=min_n, fdr=fdr)
