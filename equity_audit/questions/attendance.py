"""Chronic absenteeism: who misses enough school that learning is at risk.

A student is *chronically absent* in a school year when the days absent are
10 % or more of the days enrolled (the definition of the U.S. Department of
Education's Civil Rights Data Collection and of most state report cards, and of
Ed-Fi's analytics middle tier). Days are summed over the schools a student
attended that year, so a student who moved is judged on the whole year.

Students enrolled for fewer than ``min_days`` days are left out of the rate and
counted with that reason, because a handful of days says little about a year.

- :func:`absence_by_student_year`: one row per student and school year;
- :func:`chronic_absence_by_group`: the latest year's rate by each subgroup,
  with the same intervals, false-discovery control and suppression as every
  other measure (:func:`equity_audit.disaggregate.disaggregate_each`);
- :func:`chronic_absence_by_school`: each school's rate against the others'
  (:func:`equity_audit.scans.scan_rates`).

Examples
--------
>>> import pandas as pd
>>> attendance = pd.DataFrame({"student_id": ["a", "a", "b"], "school_year": [2025, 2025, 2025],
...                            "school_id": ["S1", "S2", "S1"], "days_enrolled": [90, 80, 170],
...                            "days_absent": [10, 8, 5]})
>>> absence_by_student_year(attendance)[["student_id", "absence_rate", "chronic"]]
  student_id  absence_rate  chronic
0          a      0.105882     True
1          b      0.029412    False
"""
from __future__ import annotations

import pandas as pd

from equity_audit.data.subgroups import subgroup_labels
from equity_audit.disaggregate import disaggregate_each
from equity_audit.exceptions import ConfigError
from equity_audit.scans import scan_rates

__all__ = ["CHRONIC_THRESHOLD", "MIN_DAYS", "absence_by_student_year", "excluded_student_years",
           "latest_chronic_rate", "chronic_absence_by_group", "chronic_absence_by_school"]

#: Share of enrolled days absent from which a student counts as chronically absent.
CHRONIC_THRESHOLD = 0.10
#: Fewest enrolled days in a year for a student's absence rate to count.
MIN_DAYS = 10


def absence_by_student_year(attendance: pd.DataFrame, *, threshold: float = CHRONIC_THRESHOLD,
                            min_days: float = MIN_DAYS) -> pd.DataFrame:
    """Days enrolled and absent per student and school year, with the absence rate.

    Parameters
    ----------
    attendance : DataFrame
        The ``attendance`` table: ``student_id``, ``school_year``, ``days_enrolled``,
        ``days_absent`` and optionally ``school_id`` (one row per school attended).
    threshold : float
        Share of enrolled days absent from which a year counts as chronic absence.
    min_days : float
        Fewest enrolled days for the year to be judged; shorter years get
        ``chronic`` missing (see :func:`excluded_student_years`).

    Returns
    -------
    DataFrame
        ``student_id``, ``school_year``, ``days_enrolled``, ``days_absent``,
        ``absence_rate``, ``chronic`` (boolean, missing when under ``min_days``)
        and ``school_id``, the school with most enrolled days that year.
    """
    if not 0 < threshold < 1:
        raise ConfigError(f"The chronic-absence threshold must be a share between 0 and 1; got {threshold}.")
    key = ["student_id", "school_year"]
    days = attendance.groupby(key, observed=True)[["days_enrolled", "days_absent"]].sum().reset_index()
    days["absence_rate"] = days["days_absent"] / days["days_enrolled"].where(days["days_enrolled"] > 0)
    judged = days["days_enrolled"] >= min_days
    days["chronic"] = pd.array((days["absence_rate"] >= threshold).where(judged, pd.NA), dtype="boolean")
    if "school_id" in attendance:
        main = (attendance.dropna(subset=["school_id"])
                .sort_values([*key, "days_enrolled", "school_id"], ascending=[True, True, False, True])
                .drop_duplicates(key)[[*key, "school_id"]])
        days = days.merge(main, on=key, how="left")
    return days


def excluded_student_years(absence: pd.DataFrame, *, min_days: float = MIN_DAYS) -> pd.DataFrame:
    """Student-years left out of the rate, counted by reason (nothing is dropped silently)."""
    short = int((absence["days_enrolled"] < min_days).sum())
    return pd.DataFrame({"reason": [f"enrolled fewer than {min_days:g} days in the year"], "rows": [short]})


def _latest(absence: pd.DataFrame) -> pd.DataFrame:
    return absence[absence["school_year"] == absence["school_year"].max()]


def latest_chronic_rate(absence: pd.DataFrame) -> float:
    """The district's chronic-absence rate in the latest school year (students judged only)."""
    return float(_latest(absence)["chronic"].astype("Float64").mean())


def chronic_absence_by_group(absence: pd.DataFrame, students: pd.DataFrame, columns: list[str], *,
                             min_n: int = 10, fdr: float = 0.05) -> pd.DataFrame:
    """The latest school year's chronic-absence rate for each group of each subgroup column.

    ``students`` is the students table; flags are labelled Yes / No / Unknown
    (:func:`equity_audit.data.subgroups.subgroup_labels`). Each group is compared
    with all other students, with Wilson intervals, Benjamini-Hochberg q-values
    across the whole table and cells under ``min_n`` withheld.
    """
    labelled = subgroup_labels(students)[["student_id", *columns]]
    data = _latest(absence).merge(labelled, on="student_id", how="left")
    table = disaggregate_each(data, "chronic", columns, min_n=min_n, fdr=fdr)
    return table.assign(school_year=int(absence["school_year"].max()))


def chronic_absence_by_school(absence: pd.DataFrame, *, names: dict | None = None, min_n: int = 10,
                              fdr: float = 0.05) -> pd.DataFrame:
    """The latest school year's chronic-absence rate of each school against the pooled rate.

    A funnel-plot scan with overdispersion and false-discovery control
    (:func:`equity_audit.scans.scan_rates`): a school is called out only when it
    lies outside the limits and its q-value is under ``fdr``. ``names`` maps
    school ids to the names shown in the ``school`` column.
    """
    if "school_id" not in absence:
        raise ConfigError("Chronic absence by school needs a school_id column in the attendance table.")
    latest = _latest(absence).dropna(subset=["chronic"])
    data = latest.assign(chronic=latest["chronic"].astype(int))
    scan = scan_rates(data, unit="school_id", outcome="chronic", min_n=min_n, fdr=fdr)
    ids = scan["school_id"].astype(str)
    scan.insert(0, "school", ids.map(names or {}).where(ids.isin(list(names or {})), ids))
    return scan
