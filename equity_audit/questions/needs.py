"""Unmet need and unidentified talent: the facts behind notebook ``01_unmet_need``.

*In Pursuit of Equality* asks which students are not on a pace that ensures
success and whether they get support, and whether students ready to move on
get the chance. Two student-level facts answer it:

- **unmet need**: a student who needs more support in some domain -- two or
  more levels behind grade level there at their latest level -- and received no
  support (any intervention record) in that domain that school year. Being
  below pace is reported on its own (``below_pace``) but does not by itself
  count as need here: a pace over one school year is measured with so much
  error that many students flagged below pace are truly near it, and counting
  them made unmet need read 60-80 % everywhere and hid a school that truly
  supports few of its students who are behind (issue 12);
- **unidentified talent**: a student ready to move on (at or above grade level)
  who had no acceleration or Level-4 work that school year. Ready is the audit's
  one definition, the one the Level-4 access comparison uses
  (:data:`equity_audit.data.dictionary.READY_DEFINITION`, computed by
  :func:`equity_audit.questions.patterns.readiness_by_year`): judged when the
  year began, since a level later in the year partly shows the Level-4 work
  given, and on average over domains, not in any one (issue 15).

Both are computed for the latest school year of each student's levels, one row
per student (:func:`student_summary`), with every subgroup column attached.

Examples
--------
>>> import pandas as pd
>>> facts = pd.DataFrame({"student_id": ["a", "b"], "domain": "math", "school_year": 2025})
>>> supports = pd.DataFrame({"student_id": ["a"], "support_type": ["tutoring"],
...                          "start_date": pd.to_datetime(["2024-10-01"]),
...                          "end_date": pd.to_datetime([None]), "domain": [None]})
>>> support_received(facts, supports).tolist()
[True, False]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from equity_audit.config import Config
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels
from equity_audit.pace import (PACE_OPTIONS, enrollment_spells, levels_from_evidence, options_from_config,
                               pace_by_unit, roster_spells, school_year_of, shrunk_pace, student_levels)

__all__ = ["ACCESS_TYPES", "support_received", "access_received", "domain_facts", "student_summary",
           "missing_for_unmet_need", "quadrant_counts", "need_bands", "graduation_scenarios", "support_list", "BEHIND_BANDS",
           "PACE_BANDS", "unit_pace_facts", "band_of"]

#: Opportunities that count as a chance to move on or go deeper.
ACCESS_TYPES = ("acceleration", "level4_work")


def _windows(school_year: pd.Series, start: str, end: str) -> tuple[pd.Series, pd.Series]:
    year = school_year.astype("int64")
    begin = pd.to_datetime((year - 1).astype(str) + "-" + start)
    finish = pd.to_datetime(year.astype(str) + "-" + end)
    return begin, finish


def support_received(facts: pd.DataFrame, supports: pd.DataFrame, *, school_year_start: str = "08-15",
                     school_year_end: str = "06-15") -> pd.Series:
    """Whether each fact row's student had a support overlapping that school year.

    A support with a domain counts only for that domain; one without a domain
    (a general support such as an advisory or extended day) counts for all.
    """
    rows = facts[["student_id", "domain", "school_year"]].reset_index(names="_row")
    given = supports[["student_id", "start_date", "end_date"]].assign(
        support_domain=supports["domain"] if "domain" in supports else pd.NA)
    pairs = rows.merge(given, on="student_id")
    begin, finish = _windows(pairs["school_year"], school_year_start, school_year_end)
    overlaps = (pairs["start_date"] <= finish) & (pairs["end_date"].isna() | (pairs["end_date"] >= begin))
    domain_fits = pairs["support_domain"].isna() | (pairs["support_domain"] == pairs["domain"])
    hit = pairs.loc[(overlaps & domain_fits).to_numpy(), "_row"].unique()
    return pd.Series(np.isin(np.arange(len(facts)), hit), index=facts.index)


def access_received(facts: pd.DataFrame, opportunities: pd.DataFrame, *,
                    types: tuple[str, ...] = ACCESS_TYPES) -> pd.Series:
    """Whether each fact row's student had one of ``types`` in that school year."""
    chances = opportunities.loc[opportunities["opportunity_type"].isin(types), ["student_id", "school_year"]]
    keys = pd.MultiIndex.from_frame(chances.astype({"school_year": "int64"}).drop_duplicates())
    wanted = pd.MultiIndex.from_arrays([facts["student_id"], facts["school_year"].astype("int64")])
    return pd.Series(wanted.isin(keys), index=facts.index)


def domain_facts(district, config: Config | None = None) -> pd.DataFrame:
    """One row per student and domain: pace, levels behind, projections, support, access.

    Uses ``levels`` when the district provided it, else levels derived from
    ``evidence`` and ``standards`` (see :func:`equity_audit.pace.levels_from_evidence`).
    """
    config = config or Config()
    facts = student_levels(_levels(district, config), district["enrollments"], district["students"],
                           **options_from_config(config))
    window = dict(school_year_start=config.school_year_start, school_year_end=config.school_year_end)
    flagged = facts["below_pace"] | facts["two_plus_behind"]
    facts["flagged"] = flagged  # behind or below pace: the broad list the support team plans from
    # need for the unmet-need measure: 2+ levels behind, a reading precise enough to compare
    # support rates between schools and groups (see the module docstring)
    facts["in_need"] = facts["two_plus_behind"].astype("boolean")
    if "supports" in district:
        facts["supported"] = support_received(facts, district["supports"], **window)
    if "opportunities" in district:
        facts["accelerated"] = access_received(facts, district["opportunities"])
    return facts


def _levels(district, config: Config) -> pd.DataFrame:
    if "levels" in district:
        return district["levels"]
    if "evidence" in district and "standards" in district:
        return levels_from_evidence(district["evidence"], district["standards"],
                                    proficient_score=config.proficient_score)
    raise KeyError("levels")


def unit_pace_facts(district, config: Config | None = None, *, unit: str = "school_id",
                    school_year: int | None = None) -> pd.DataFrame:
    """Pace credited to each school, PLC or teacher in one school year, for the unit scans.

    A unit is credited only with the growth made while the student was with
    it: levels are split by enrollment spells (``unit="school_id"``) or by
    roster spells (``"teacher_id"``, ``"plc_id"``) with
    :func:`equity_audit.pace.pace_by_unit`, so a student who moved mid-year
    counts at each school with that school's part only, and a school is not
    credited with growth made elsewhere in earlier years.

    Returns
    -------
    DataFrame
        One row per unit, student, domain and spell in ``school_year`` (by
        default the latest year with levels): the :func:`pace_by_unit` columns
        plus ``below`` (1.0 when flagged below pace with the run's rule
        (interval or shrinkage), 0.0 when not, NA without a pace), ready for
        :func:`equity_audit.scans.scan_rates` with ``outcome="below"``.
        ``attrs["insufficient"]`` counts the spells without a pace, by reason.

    Examples
    --------
    >>> import pandas as pd
    >>> district = {"levels": pd.DataFrame({"student_id": "a", "domain": "m",
    ...     "as_of": pd.to_datetime(["2024-09-01", "2024-11-01", "2025-01-20", "2025-03-01", "2025-05-01",
    ...                              "2025-06-10"]), "performance_level": [3.0, 3.2, 3.4, 3.5, 3.7, 3.8]}),
    ...     "enrollments": pd.DataFrame({"student_id": "a", "school_year": 2025, "school_id": ["s1", "s2"],
    ...     "entry_date": pd.to_datetime([None, "2025-02-01"]), "exit_date": pd.to_datetime(["2025-01-31", None])})}
    >>> out = unit_pace_facts(district, Config(pace_min_span_years=0.3, min_span_days=60))
    >>> out[["school_id", "n_points"]].values.tolist()
    [['s1', 3], ['s2', 3]]
    """
    config = config or Config()
    levels = _levels(district, config)
    window = dict(school_year_start=config.school_year_start, school_year_end=config.school_year_end)
    if school_year is None:
        school_year = int(pd.Series(school_year_of(levels["as_of"], **window)).max())
    if unit == "school_id":
        spells = enrollment_spells(district["enrollments"], **window)
    else:
        spells = roster_spells(district["rosters"], district["sections"], **window)
    spells = spells[pd.to_numeric(spells["school_year"], errors="coerce") == school_year]
    options = {k: v for k, v in options_from_config(config).items() if k in PACE_OPTIONS}
    table = pace_by_unit(levels, spells, unit=unit, **options)
    if config.pace_shrinkage:
        shrunk = shrunk_pace(table)
        z = float(norm.ppf(0.5 + config.confidence / 2))
        judged = shrunk["pace_shrunk"] + z * shrunk["pace_shrunk_se"]
    else:
        judged = table["pace_high"]
    below = (judged.astype("float64") < config.pace_threshold).astype("Float64")
    table["below"] = below.where(table["pace"].notna() & judged.notna(), pd.NA)
    return table


def missing_for_unmet_need(district) -> list[str]:
    """Tables this section needs that the district did not provide."""
    missing = []
    if "levels" not in district and not ("evidence" in district and "standards" in district):
        missing.append("levels (or evidence with standards)")
    missing += [name for name in ("supports", "opportunities") if name not in district]
    return missing


def student_summary(facts: pd.DataFrame, students: pd.DataFrame, schools: dict | None = None, *,
                    readiness: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per student in the latest school year, with every subgroup column.

    ``pace`` is the mean of the student's domain paces with enough evidence;
    the flags say "in any domain". ``in_need``: two or more levels behind in
    some domain. ``unmet_need`` is defined for students in need only (NA
    otherwise): True when a domain where they are 2+ levels behind had no
    support that school year, so its mean is one minus the support rate among
    students in need. ``need_band`` (their pace band) lets comparisons be made
    at equal need.

    ``at_or_above_grade`` is ``ready`` of ``readiness`` in the latest school
    year (ready to move on, judged at the start of the year, on average over
    domains); ``talent_without_access`` is defined for those students only:
    True when they had no acceleration or Level-4 work that school year.

    Parameters
    ----------
    facts : DataFrame
        One row per student and domain (:func:`domain_facts`).
    students : DataFrame
        The ``students`` table, for the subgroup columns.
    schools : dict, optional
        School id -> name.
    readiness : DataFrame, optional
        ``student_id``, ``school_year`` and ``ready``, one row per student-year
        (:func:`equity_audit.questions.patterns.district_readiness`). A student
        without a readiness for the latest year (no level that year, or no
        grade), or every student when it is not given, has ``at_or_above_grade``
        and ``talent_without_access`` NA: unknown and left out of the measure.
        The audit has one definition of ready and does not fall back on another.

    Returns
    -------
    DataFrame
        One row per student (sorted by ``student_id``).
    """
    year = facts["school_year"].max()
    latest = facts[facts["school_year"] == year].copy()
    if "supported" in latest:
        latest["unmet_need"] = latest["in_need"] & ~latest["supported"].astype("boolean")
    grouped = latest.groupby("student_id", sort=True)
    summary = pd.DataFrame({
        "school_id": grouped["school_id"].last(),
        "grade_level": grouped["grade_level"].last(),
        "pace": grouped["pace"].mean(),
        "levels_behind": grouped["levels_behind"].max(),
        "below_pace": _any(grouped, "below_pace"),
        "two_plus_behind": _any(grouped, "two_plus_behind"),
        "flagged": _any(grouped, "flagged"),
        "in_need": _any(grouped, "in_need"),
        "at_or_above_grade": _ready_in(readiness, year, grouped.size().index),
        "on_track_to_graduate": _all(grouped, "on_track_to_graduate"),
    })
    # without the supports or opportunities table the measure is unknown (NA), not zero
    unknown = pd.Series(pd.NA, index=summary.index, dtype="boolean")
    summary["unmet_need"] = _only_where(
        summary["in_need"], _any(grouped, "unmet_need") if "unmet_need" in latest else unknown)
    # access is recorded per student and school year, so "no access" is the same in every domain
    without_access = ~_any(grouped, "accelerated") if "accelerated" in latest else unknown
    summary["talent_without_access"] = _only_where(summary["at_or_above_grade"], without_access)
    summary["need_band"] = need_bands(summary, need="in_need")
    ids = summary["school_id"].astype(str)
    summary["school"] = ids.map(schools or {}).astype(str).where(ids.isin(list(schools or {})), ids)
    labelled = subgroup_labels(students)[["student_id", *subgroup_columns(students)]]
    return summary.reset_index().merge(labelled, on="student_id", how="left")


def _ready_in(readiness: pd.DataFrame | None, year, student_ids: pd.Index) -> pd.Series:
    """``ready`` of each student in ``year`` (boolean; NA without a readiness that year)."""
    if readiness is None:
        return pd.Series(pd.NA, index=student_ids, dtype="boolean")
    that_year = readiness[readiness["school_year"].astype("int64") == int(year)]
    known = that_year.drop_duplicates("student_id").set_index("student_id")["ready"].astype("boolean")
    return known.reindex(student_ids).astype("boolean")


def _any(grouped, column: str) -> pd.Series:
    """True if any domain is True, False if all known are False, NA if none known."""
    values = grouped[column]
    known = values.count()
    return pd.Series(pd.array(np.where(known > 0, values.sum() > 0, pd.NA), dtype="boolean"),
                     index=known.index)


def _all(grouped, column: str) -> pd.Series:
    values = grouped[column]
    known = values.count()
    return pd.Series(pd.array(np.where(known > 0, values.sum() == known, pd.NA), dtype="boolean"),
                     index=known.index)


def _only_where(condition: pd.Series, values: pd.Series) -> pd.Series:
    return values.where(condition.fillna(False).to_numpy(), pd.NA)


#: Bands for the levels-behind by pace chart (left-closed intervals).
BEHIND_BANDS = {"2+ levels behind": (2, np.inf), "1 to 2 behind": (1, 2), "within a level": (-1, 1),
                "1+ levels ahead": (-np.inf, -1)}
PACE_BANDS = {"under 0.5": (-np.inf, 0.5), "0.5 to 1.0": (0.5, 1.0), "1.0 to 1.5": (1.0, 1.5),
              "1.5 and over": (1.5, np.inf)}


def need_bands(summary: pd.DataFrame, need: str = "flagged") -> pd.Series:
    """Levels-behind band x pace band of each student in ``need`` (NA for the others).

    ``need`` names the boolean column that selects the students: ``"flagged"``
    (behind or below pace) or ``"in_need"`` (2+ levels behind, the unmet-need
    measure's base, whose bands then differ only in pace).

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"levels_behind": [2.4, 1.2, 0.0], "pace": [0.3, None, 1.2],
    ...                         "flagged": pd.array([True, True, False], dtype="boolean")})
    >>> need_bands(summary).tolist()
    ['2+ levels behind, pace under 0.5', '1 to 2 behind, no pace yet', <NA>]
    """
    behind = pd.Series(band_of(summary["levels_behind"], BEHIND_BANDS), index=summary.index)
    pace = pd.Series(band_of(summary["pace"], PACE_BANDS), index=summary.index)
    behind = behind.astype("string").fillna("levels behind not known")
    pace = ("pace " + pace.astype("string")).fillna("no pace yet")
    band = behind + ", " + pace
    return band.where(summary[need].fillna(False).to_numpy(bool), pd.NA)


def quadrant_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Students by levels-behind band (rows) and pace band (columns).

    Students without enough evidence for a pace are not in the grid; their
    count is in the section's headline.
    """
    known = summary.dropna(subset=["pace", "levels_behind"])
    rows = band_of(known["levels_behind"], BEHIND_BANDS)
    columns = band_of(known["pace"], PACE_BANDS)
    return pd.crosstab(rows, columns, dropna=False).rename_axis(index="Levels behind", columns="Pace")


def band_of(values: pd.Series, bands: dict) -> pd.Categorical:
    """The band of ``bands`` (label -> left-closed (low, high)) holding each value; NA in none.

    Examples
    --------
    >>> band_of(pd.Series([0.2, 1.7, None]), PACE_BANDS).tolist()
    ['under 0.5', '1.5 and over', nan]
    """
    labels = np.select([(values >= low) & (values < high) for low, high in bands.values()], list(bands),
                       default=None)
    return pd.Categorical(labels, categories=list(bands))


def graduation_scenarios(facts: pd.DataFrame, min_n: int = 10) -> pd.DataFrame:
    """For students not yet at graduation level: the share who would reach it by 18 at each pace.

    One row per domain and scenario (the student's own pace, then the paper's
    1.0, 1.25, 1.5 and 2.0 levels a year), from the latest school year.
    """
    latest = facts[facts["school_year"] == facts["school_year"].max()]
    scenario_columns = [c for c in latest.columns if c.startswith("reaches_by_18_")]
    rows = []
    for domain, part in latest.groupby("domain"):
        rows.append(_scenario_row(domain, "their own current pace", part["on_track_to_graduate"], min_n))
        for column in scenario_columns:
            rate = column.removeprefix("reaches_by_18_").replace("_", ".")
            rows.append(_scenario_row(domain, f"{rate} levels a year", part[column], min_n))
    return pd.DataFrame(rows)


def _scenario_row(domain: str, scenario: str, reaches: pd.Series, min_n: int) -> dict:
    known = reaches.dropna()
    share = float(known.mean()) if len(known) >= min_n else float("nan")
    return {"domain": domain, "pace": scenario, "students": len(known), "share_reaching_by_18": share}


def support_list(facts: pd.DataFrame) -> pd.DataFrame:
    """Confidential: each student and domain flagged in the latest year without a support.

    For the team that plans supports; it goes only to the run's confidential folder.
    """
    latest = facts[facts["school_year"] == facts["school_year"].max()]
    unsupported = latest["flagged"].fillna(False).to_numpy(bool)
    if "supported" in latest:
        unsupported &= ~latest["supported"].to_numpy(bool)
    columns = ["student_id", "school_id", "grade_level", "domain", "current_level", "levels_behind",
               "pace", "status"]
    return latest.loc[unsupported, columns].sort_values(["school_id", "grade_level", "student_id"])
