"""Pace, levels behind and projections to graduation, from dated performance levels.

Pace is the growth of a student along the learning continuum divided by time,
in performance levels per year (*In Pursuit of Equality*, principle 8). One
level a year (1.0) keeps a student where they started relative to grade; a
student behind has to go faster to graduate by 18, which is why the paper asks
whether 1.25, 1.5 or 2.0 levels a year is a reasonable expectation
(:data:`SCENARIOS`).

Rules (``/work/shared/research/methods.md`` section 5.2)
---------------------------------------------------------
* **Endpoint pace** = (last level - first level) / years between them.
* **Regression pace** = least-squares slope of level on time in years.
* **Minimum evidence**: at least ``min_points`` levels (never fewer than 2 for
  endpoint or 3 for regression; the audit's setting ``pace_min_points`` is 3),
  a first and last level at least ``min_span_years`` apart on the chosen basis
  (setting ``pace_min_span_years``, 0.5) and ``min_span_days`` calendar days
  apart. Otherwise the status is ``"insufficient evidence"``, the pace is NaN,
  never 0 (a missing pace is not a stalled student), and ``insufficient_reason``
  says why (:data:`REASONS`); ``attrs["insufficient"]`` counts each reason.
* **Measurement error**: every pace has a standard error ``pace_se``. A level
  is a noisy reading of where a student is; its error variance is estimated
  from the scatter of levels around each student's own straight line, pooled
  over the students of a domain with 3 or more levels (residual sum of squares
  over its degrees of freedom). The regression slope then has SE
  sigma / sqrt(sum (t - mean t)^2) and the endpoint pace sigma * sqrt(2) / span.
  ``pace_low`` and ``pace_high`` are the normal interval at ``confidence``.
* **Status**: ``"on pace"`` when pace >= 1.0 (exactly 1.0 is on pace),
  ``"below pace"`` otherwise: the point estimate, to describe. A falling level
  gives a negative pace; it is kept, because a student losing ground is
  information, not an error. The *flag* ``below_pace`` of
  :func:`student_levels` accounts for the error (see there): a student is
  flagged only when the whole interval lies below the threshold (or, with
  ``pace_shrinkage``, when the empirical-Bayes pace does), so that in a
  district where every student truly gains one level a year few are flagged.
* **Year basis**: ``"school"`` (the default) counts only days between
  ``school_year_start`` and ``school_year_end`` and one school year per year,
  so summers add no time. ``"calendar"`` counts every day, ``year_days``
  (365.25) a year.
  One level gained from 1 September 2024 to 1 June 2025 (273 days) is
  365.25 / 273 = 1.34 levels a year on the calendar basis, but the school
  window 15 August 2024 - 15 June 2025 has 304 days, so on the school basis it
  is 304 / 273 = 1.11 levels per school year.
* **Unit crediting**: a school, PLC or teacher is credited only with the growth
  made while the student was with it: :func:`pace_by_unit` splits each
  student's levels by enrollment or roster spells and computes the pace
  within each spell.
* **School year of a date**: the school year whose start (``school_year_start``,
  15 August by default) is the latest on or before the date, named, as in
  Ed-Fi, by the calendar year in which it ends: 2024-08-15 to 2025-08-14 is
  school year 2025. A summer date belongs to the school year just finished.

Everything is a vectorised group-by over the tables: 100,000 students with two
domains and nine levels each take about a second.

Examples
--------
>>> import pandas as pd
>>> levels = pd.DataFrame({
...     "student_id": ["a", "a", "b"], "domain": ["math", "math", "math"],
...     "as_of": pd.to_datetime(["2024-09-01", "2025-09-01", "2024-09-01"]),
...     "performance_level": [3.0, 4.25, 5.0]})
>>> pace(levels)[["student_id", "pace", "n_points", "status"]].round(2).values.tolist()
[['a', 1.25, 2, 'on pace'], ['b', nan, 1, 'insufficient evidence']]
>>> pace(levels, min_points=3)["insufficient_reason"].tolist()
['too few levels', 'too few levels']
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "SCENARIOS",
    "STATUSES",
    "ON_PACE",
    "BELOW_PACE",
    "INSUFFICIENT",
    "REASONS",
    "TOO_FEW",
    "TOO_SHORT",
    "pace",
    "pace_by_unit",
    "enrollment_spells",
    "roster_spells",
    "pace_by_year",
    "levels_from_evidence",
    "expected_level",
    "school_year_of",
    "student_levels",
    "options_from_config",
    "shrunk_pace",
    "PACE_OPTIONS",
]

#: Paces (levels per year) the paper asks about for students who are behind.
SCENARIOS = (1.0, 1.25, 1.5, 2.0)

ON_PACE = "on pace"
BELOW_PACE = "below pace"
INSUFFICIENT = "insufficient evidence"
#: Every value of the ``status`` column.
STATUSES = (ON_PACE, BELOW_PACE, INSUFFICIENT)
TOO_FEW = "too few levels"
TOO_SHORT = "too short a span"
#: Every value of ``insufficient_reason`` (NA when there is a pace).
REASONS = (TOO_FEW, TOO_SHORT)

_KEY = ["student_id", "domain"]
_LEVEL_COLUMNS = ["student_id", "domain", "as_of", "performance_level"]
_METHODS = ("endpoint", "regression")
_BASES = ("calendar", "school")
_MIN_POINTS = {"endpoint": 2, "regression": 3}
_ON_PACE_AT = 1.0  # the status line is the paper's "one performance level per year"
_DECIMALS = 9  # paces and levels behind are rounded here, far below any recorded precision


# ------------------------------------------------------------------------ calendar helpers
def _month_day(text: str, name: str) -> tuple[int, int]:
    if not isinstance(text, str) or not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", text):
        raise ValueError(f"{name} is {text!r}; expected MM-DD like 08-15.")
    return int(text[:2]), int(text[3:])


def _on(years: np.ndarray, month_day: tuple[int, int]) -> np.ndarray:
    """The day ``month_day`` in each of ``years`` (29 February becomes 1 March in other years)."""
    years = np.asarray(years, dtype="int64")
    if years.size == 0:
        return years.astype("datetime64[D]")
    # Dates span few years: build each year's day once and look it up, instead of
    # converting millions of datetimes through years and months.
    low = int(years.min())
    first = (np.arange(low, int(years.max()) + 1) - 1970).astype("datetime64[Y]")
    table = first.astype("datetime64[M]").astype("datetime64[D]") + _months_days(first, *month_day)
    return table[years - low]


def _months_days(first: np.ndarray, month: int, day: int) -> np.ndarray:
    # Adding whole months first keeps every month's length right; the day then overflows
    # into the next month only for dates such as 29 February in a common year.
    to_month = (first.astype("datetime64[M]") + (month - 1)).astype("datetime64[D]")
    return (to_month - first.astype("datetime64[D]")) + np.timedelta64(day - 1, "D")


def _days(dates) -> np.ndarray:
    """Dates as datetime64[D] (times of day are dropped: levels are dated, not timed)."""
    return pd.to_datetime(pd.Series(dates)).to_numpy().astype("datetime64[D]")


def _filled(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Missing dates replaced by 1970-01-01 (so calendar arithmetic stays small), and where they were."""
    missing = np.isnat(days)
    return np.where(missing, np.datetime64(0, "D"), days), missing


class _Calendar:
    """The school-year window around each date: where it starts and ends, and its Ed-Fi year."""

    def __init__(self, start: str = "08-15", end: str = "06-15"):
        self.start = _month_day(start, "school_year_start")
        self.end = _month_day(end, "school_year_end")
        # When the end comes on or before the start in the calendar, the year crosses 1 January.
        self.wraps = int(self.end <= self.start)

    def start_year(self, days: np.ndarray) -> np.ndarray:
        """Calendar year in which the school year containing each date started."""
        years = days.astype("datetime64[Y]").astype("int64") + 1970
        return years - (days < _on(years, self.start))

    def window(self, start_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _on(start_year, self.start), _on(start_year + self.wraps, self.end)

    def fraction(self, days: np.ndarray, start_year: np.ndarray) -> np.ndarray:
        """Share of the school-year window elapsed: 0 at or before its start, 1 at or after its end."""
        begin, finish = self.window(start_year)
        length = (finish - begin).astype("int64")
        return np.clip((days - begin).astype("int64") / length, 0.0, 1.0)

    def ed_fi_year(self, days: np.ndarray) -> np.ndarray:
        return self.start_year(days) + self.wraps


def _elapsed_years(days: np.ndarray, first: np.ndarray, year_basis: str, year_days: float,
                   calendar: _Calendar) -> np.ndarray:
    """Years from ``first`` to ``days`` on the chosen basis.

    Whole school years and the fractions within them are subtracted separately,
    and calendar days are divided only once, so a span of exactly one (school)
    year comes out as exactly 1.0 rather than 0.9999999999999.
    """
    if year_basis == "calendar":
        return (days - first).astype("int64") / year_days
    start_year, first_start_year = calendar.start_year(days), calendar.start_year(first)
    whole = (start_year - first_start_year).astype("float64")
    return whole + (calendar.fraction(days, start_year) - calendar.fraction(first, first_start_year))


def school_year_of(dates, *, school_year_start: str = "08-15", school_year_end: str = "06-15"):
    """Ed-Fi school year (the calendar year in which it ends) of each date.

    A date belongs to the school year whose start is the latest on or before it,
    so a summer date belongs to the school year just finished.

    Examples
    --------
    >>> import pandas as pd
    >>> dates = pd.to_datetime(["2024-08-14", "2024-08-15", "2025-06-30"])
    >>> school_year_of(dates).tolist()
    [2024, 2025, 2025]
    """
    days, missing = _filled(_days(dates))
    years = pd.array(_Calendar(school_year_start, school_year_end).ed_fi_year(days), dtype="Int64")
    years[missing] = pd.NA
    return years


# ------------------------------------------------------------------------------- grouping
def _check_columns(frame: pd.DataFrame, needed, table: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"The {table} table lacks column(s) {', '.join(missing)}.")


def _runs(frame: pd.DataFrame, keys: list[str], days: np.ndarray):
    """Sort rows by keys then date; return the order and where each key's run starts.

    Keys are factorised once to integer codes, so every later aggregation is a
    numpy ``reduceat`` over contiguous runs instead of a hashing group-by.
    """
    group = np.zeros(len(frame), dtype="int64")
    for key in keys:
        code, uniques = pd.factorize(frame[key], sort=True)
        group = group * max(len(uniques), 1) + code  # mixed radix keeps the sorted key order
    return _sorted_runs(group, days.astype("int64"))


def _sorted_runs(group: np.ndarray, day: np.ndarray):
    """Order sorting rows by integer group then day (stable), and the start of each group's run."""
    if len(group) == 0:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    day = day - day.min()
    span = int(day.max()) + 1
    if int(group.max()) < np.iinfo("int64").max // span:
        # One int64 sort key (group, then day) sorts several times faster than lexsort.
        order = np.argsort(group * span + day, kind="stable")
    else:
        order = np.lexsort([day, group])
    sorted_group = group[order]
    return order, np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])


def _level_points(levels: pd.DataFrame, keys=_KEY) -> pd.DataFrame:
    _check_columns(levels, _LEVEL_COLUMNS, "levels")
    points = levels[list(dict.fromkeys([*keys, *_LEVEL_COLUMNS]))]
    # A row without a student, domain, date or level carries no evidence of growth.
    return points[points.notna().all(axis=1)]


# ------------------------------------------------------------------------------------ pace
def pace(levels: pd.DataFrame, *, method: str = "endpoint", year_days: float = 365.25,
         min_span_days: int = 90, year_basis: str = "school", school_year_start: str = "08-15",
         school_year_end: str = "06-15", min_points: int | None = None, min_span_years: float = 0.0,
         confidence: float = 0.95, level_sd: float | None = None) -> pd.DataFrame:
    """Pace (performance levels per year) of each student in each domain.

    Parameters
    ----------
    levels : DataFrame
        The ``levels`` table: ``student_id``, ``domain``, ``as_of`` (dates) and
        ``performance_level``. Rows missing a date or level are ignored.
    method : {"endpoint", "regression"}
        ``"endpoint"``: (last level - first level) / years between them.
        ``"regression"``: least-squares slope of level on time in years, from
        grouped sums of t, t², y and t·y; it uses every point, so one noisy
        assessment moves it less.
    year_days : float
        Days in a year on the calendar basis.
    min_span_days : int
        Fewest calendar days between the first and last level.
    year_basis : {"school", "calendar"}
        ``"school"`` (default) counts only days inside the school-year window
        (``school_year_start`` to ``school_year_end``) and divides by that
        window's length, so summers do not count and a pace is levels per
        school year; ``"calendar"`` divides days by ``year_days``.
    school_year_start, school_year_end : str
        The school-year window as MM-DD.
    min_points : int, optional
        Fewest levels for a pace; never fewer than the method needs (2 for
        endpoint, 3 for regression), which is also the default.
    min_span_years : float
        Fewest years (on ``year_basis``) between the first and last level.
    confidence : float
        Confidence level of ``pace_low`` and ``pace_high``.
    level_sd : float, optional
        Known measurement error (SD) of one level; by default it is estimated
        from the data (module notes).

    Returns
    -------
    DataFrame
        One row per student and domain, sorted by them, with ``pace``,
        ``status`` (``"on pace"`` when pace >= 1.0, ``"below pace"``,
        ``"insufficient evidence"``), ``pace_se``, ``pace_low``, ``pace_high``,
        ``insufficient_reason`` (NA, or one of :data:`REASONS`),
        ``n_points``, ``first_date``, ``last_date``, ``span_days`` (calendar
        days), ``span_years`` (on the chosen basis), ``first_level``,
        ``last_level`` and ``current_level`` (the latest level, the same as
        ``last_level``). ``attrs["insufficient"]`` counts students without a
        pace by reason and ``attrs["level_sd"]`` holds the level error used
        (per domain).

    Notes
    -----
    Too little evidence (fewer than ``min_points`` levels, or a span below
    ``min_span_years`` or ``min_span_days``, or no time elapsed on the school
    basis) gives a NaN pace and ``"insufficient evidence"``, never a pace of 0.

    Examples
    --------
    One level over 369 days falls just short of one level a year on the
    calendar basis; between two summer dates a school year apart it is exactly
    one level per school year (the default basis):

    >>> import pandas as pd
    >>> levels = pd.DataFrame({
    ...     "student_id": ["a", "a"], "domain": ["math", "math"],
    ...     "as_of": pd.to_datetime(["2024-06-20", "2025-06-24"]),
    ...     "performance_level": [4.0, 5.0]})
    >>> pace(levels, year_basis="calendar")[["pace", "span_days", "status"]].round(4).values.tolist()
    [[0.9898, 369, 'below pace']]
    >>> pace(levels)[["pace", "status"]].values.tolist()
    [[1.0, 'on pace']]

    The endpoint pace looks only at the first and last level; the regression
    slope also weighs the early jump to 3.0 (times 0, 0.2 and 1 year):

    >>> three = pd.DataFrame({
    ...     "student_id": ["a"] * 3, "domain": ["ela"] * 3,
    ...     "as_of": pd.to_datetime(["2023-01-01", "2023-03-15", "2024-01-01"]),
    ...     "performance_level": [2.0, 3.0, 3.0]})
    >>> float(pace(three, year_basis="calendar", year_days=365)["pace"].iloc[0])
    1.0
    >>> out = pace(three, method="regression", year_basis="calendar", year_days=365)
    >>> round(float(out["pace"].iloc[0]), 4)  # 5/7
    0.7143
    """
    return _pace_table(levels, _KEY, method=method, year_days=year_days, min_span_days=min_span_days,
                       year_basis=year_basis, calendar=_Calendar(school_year_start, school_year_end),
                       min_points=min_points, min_span_years=min_span_years, confidence=confidence,
                       level_sd=level_sd)


def pace_by_year(levels: pd.DataFrame, *, method: str = "endpoint", year_days: float = 365.25,
                 min_span_days: int = 90, year_basis: str = "school", school_year_start: str = "08-15",
                 school_year_end: str = "06-15", min_points: int | None = None, min_span_years: float = 0.0,
                 confidence: float = 0.95, level_sd: float | None = None) -> pd.DataFrame:
    """Pace of each student and domain within each school year, for trends.

    Takes the same options as :func:`pace` and returns the same columns plus
    ``school_year``. Each level is assigned to the school year whose start
    (``school_year_start``) is the latest on or before its date, named by the
    calendar year in which that school year ends (Ed-Fi); a level recorded in
    the summer belongs to the school year just finished. Only levels of the
    same school year are compared, so the minimum evidence applies within the
    year (for example a fall and a spring level at least 90 days apart).

    Examples
    --------
    >>> import pandas as pd
    >>> levels = pd.DataFrame({
    ...     "student_id": ["a"] * 4, "domain": ["math"] * 4,
    ...     "as_of": pd.to_datetime(["2023-09-20", "2024-05-10", "2024-09-20", "2025-05-10"]),
    ...     "performance_level": [2.0, 2.6, 2.9, 3.9]})
    >>> by_year = pace_by_year(levels)
    >>> by_year[["school_year", "n_points", "status"]].values.tolist()
    [[2024, 2, 'below pace'], [2025, 2, 'on pace']]
    """
    _check_columns(levels, _LEVEL_COLUMNS, "levels")
    calendar = _Calendar(school_year_start, school_year_end)
    points = _level_points(levels).copy()
    points["school_year"] = calendar.ed_fi_year(_days(points["as_of"]))
    table = _pace_table(points, [*_KEY, "school_year"], method=method, year_days=year_days,
                        min_span_days=min_span_days, year_basis=year_basis, calendar=calendar,
                        min_points=min_points, min_span_years=min_span_years, confidence=confidence,
                        level_sd=level_sd)
    table["school_year"] = table["school_year"].astype("Int64")
    return table


def _pace_table(levels, keys, *, method, year_days, min_span_days, year_basis, calendar,
                min_points=None, min_span_years=0.0, confidence=0.95, level_sd=None) -> pd.DataFrame:
    if method not in _METHODS:
        raise ValueError(f"method is {method!r}; expected 'endpoint' or 'regression'.")
    if year_basis not in _BASES:
        raise ValueError(f"year_basis is {year_basis!r}; expected 'calendar' or 'school'.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence is {confidence!r}; expected a number between 0 and 1.")
    needed = max(_MIN_POINTS[method], int(min_points or 0))
    points = _level_points(levels, keys)
    days = _days(points["as_of"])
    order, starts = _runs(points, keys, days)
    days, level = days[order], points["performance_level"].to_numpy(dtype="float64")[order]
    counts = np.diff(np.r_[starts, len(days)])
    years = _elapsed_years(days, np.repeat(days[starts], counts), year_basis, year_days, calendar)
    out = points.iloc[order[starts]][keys].reset_index(drop=True)
    out = pd.concat([out, _summary(days, level, years, starts)], axis=1)
    few = (out["n_points"] < needed).to_numpy()
    short = ~few & ~((out["span_days"] >= min_span_days) & (out["span_years"] > 0)
                     & (out["span_years"] >= min_span_years - 1e-12)).to_numpy()
    enough = ~few & ~short
    fit = _line_fits(level, years, starts)
    slope = _endpoint(out) if method == "endpoint" else fit["slope"]
    sd, sd_by_domain = _level_error(fit, out["domain"].to_numpy() if "domain" in out else None, level_sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = (sd * np.sqrt(2.0) / out["span_years"].to_numpy() if method == "endpoint"
              else sd / np.sqrt(fit["sxx"]))
    # Rounding to 9 decimals removes float noise such as 4.1 - 3.1 = 0.9999999999999996,
    # which would otherwise put a student gaining exactly one level a year below pace.
    values = np.round(np.where(enough, slope, np.nan), _DECIMALS)
    se = np.where(enough, se, np.nan)
    z = float(_normal_quantile(0.5 + confidence / 2))
    out.insert(len(keys), "pace", values)
    out.insert(len(keys) + 1, "status", _status(out["pace"]))
    out.insert(len(keys) + 2, "pace_se", se)
    out.insert(len(keys) + 3, "pace_low", values - z * se)
    out.insert(len(keys) + 4, "pace_high", values + z * se)
    reason = pd.Series(pd.NA, index=out.index, dtype="string")
    reason[few] = TOO_FEW
    reason[short] = TOO_SHORT
    out.insert(len(keys) + 5, "insufficient_reason", reason)
    out.attrs = {"insufficient": {r: int((reason == r).sum()) for r in REASONS},
                 "level_sd": sd_by_domain}
    return out


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return norm.ppf(p)


def _line_fits(level, t, starts) -> dict:
    """Per run: OLS slope, centred sum of squares of t, residual SS and its degrees of freedom."""
    if len(level) == 0:
        empty = np.empty(0)
        return {"slope": empty, "sxx": empty, "rss": empty, "df": empty}
    counts = np.diff(np.r_[starts, len(level)])
    st, sy = np.add.reduceat(t, starts), np.add.reduceat(level, starts)
    stt, sty = np.add.reduceat(t * t, starts), np.add.reduceat(t * level, starts)
    syy = np.add.reduceat(level * level, starts)
    sxx, sxy = stt - st * st / counts, sty - st * sy / counts
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy / sxx
        rss = np.clip(syy - sy * sy / counts - slope * sxy, 0.0, None)
    usable = (counts >= 3) & (sxx > 0)
    return {"slope": slope, "sxx": sxx, "rss": np.where(usable, rss, 0.0),
            "df": np.where(usable, counts - 2, 0).astype("float64")}


def _level_error(fit: dict, domain, level_sd) -> tuple[np.ndarray, dict]:
    """SD of one level's measurement error for each run (given, or pooled per domain), and per domain."""
    n = len(fit["rss"])
    if level_sd is not None:
        return np.full(n, float(level_sd)), {"all": float(level_sd)}
    code, names = pd.factorize(pd.Series(domain if domain is not None else np.zeros(n)), sort=True)
    rss = np.bincount(code, weights=fit["rss"], minlength=len(names))
    df = np.bincount(code, weights=fit["df"], minlength=len(names))
    with np.errstate(divide="ignore", invalid="ignore"):
        by_domain = np.sqrt(np.where(df > 0, rss / df, np.nan))
    sd = by_domain[code] if n else np.empty(0)
    return np.asarray(sd, dtype="float64"), {str(k): float(v) for k, v in zip(names, by_domain)}


def _summary(days, level, years, starts) -> pd.DataFrame:
    """First and last date and level, number of points and span of each run."""
    ends = np.r_[starts[1:], len(days)] - 1 if len(days) else starts
    return pd.DataFrame({
        "n_points": np.diff(np.r_[starts, len(days)]).astype("int64"),
        "first_date": days[starts].astype("datetime64[ns]"),
        "last_date": days[ends].astype("datetime64[ns]"),
        "span_days": (days[ends] - days[starts]).astype("int64"),
        "span_years": years[ends],  # years are already measured from the run's first point
        "first_level": level[starts],
        "last_level": level[ends],
        "current_level": level[ends],
    })


def _endpoint(summary: pd.DataFrame) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((summary["last_level"] - summary["first_level"]) / summary["span_years"]).to_numpy()


def _status(values: pd.Series) -> np.ndarray:
    return np.select([values >= _ON_PACE_AT, values < _ON_PACE_AT], [ON_PACE, BELOW_PACE], INSUFFICIENT)


# --------------------------------------------------------------------- levels from evidence
def levels_from_evidence(evidence: pd.DataFrame, standards: pd.DataFrame, *,
                         proficient_score: float = 3.0, min_standards: int = 2) -> pd.DataFrame:
    """Dated performance levels derived from scored evidence, for districts without a levels table.

    Rule: on each date a student was assessed in a domain, their level is the
    highest performance level L such that, on that date, at least
    ``min_standards`` distinct standards at level L in that domain are
    currently shown proficient: the latest score on the standard (the mean of
    that day's scores when there are several) is at least ``proficient_score``.
    The rule follows the evidence both ways: a later score below proficient on
    a standard withdraws it, and the level falls if L no longer has enough
    standards (to the next level that still has, or to no row). Levels need not
    be reached in order; dates on which no level is held, and students who
    never reach one, have no row. The result does not depend on row order.

    Parameters
    ----------
    evidence : DataFrame
        ``student_id``, ``standard_id``, ``assessed_on``, ``score``.
    standards : DataFrame
        ``standard_id``, ``domain``, ``performance_level``. Evidence on a
        standard not listed here is ignored.
    proficient_score : float
        Score that means proficient (3 on a 1-4 rubric).
    min_standards : int
        Distinct proficient standards needed at a level.

    Returns
    -------
    DataFrame
        The ``levels`` table: ``student_id``, ``domain``, ``as_of``,
        ``performance_level``, one row per student, domain and assessment date.

    Examples
    --------
    >>> import pandas as pd
    >>> standards = pd.DataFrame({"standard_id": ["m3a", "m3b", "m4a", "m4b"],
    ...                           "domain": "math", "performance_level": [3.0, 3.0, 4.0, 4.0]})
    >>> evidence = pd.DataFrame({
    ...     "student_id": "a", "standard_id": ["m3a", "m3a", "m3b", "m4a", "m4b"],
    ...     "assessed_on": pd.to_datetime(["2024-09-10", "2024-10-01", "2024-11-01",
    ...                                    "2024-12-01", "2025-01-15"]),
    ...     "score": [3, 4, 3, 4, 2]})
    >>> levels_from_evidence(evidence, standards)[["as_of", "performance_level"]].astype(str).values.tolist()
    [['2024-11-01', '3.0'], ['2024-12-01', '3.0'], ['2025-01-15', '3.0']]

    A later score of 2 on ``m3a`` withdraws it, and level 3 with it:

    >>> later = pd.concat([evidence, pd.DataFrame({"student_id": ["a"], "standard_id": ["m3a"],
    ...     "assessed_on": pd.to_datetime(["2025-02-01"]), "score": [2]})])
    >>> levels_from_evidence(later, standards)["as_of"].astype(str).tolist()[-1]
    '2025-01-15'
    """
    _check_columns(evidence, ["student_id", "standard_id", "assessed_on", "score"], "evidence")
    _check_columns(standards, ["standard_id", "domain", "performance_level"], "standards")
    placed, students, domains = _placed_evidence(evidence, standards)
    reached = _levels_reached(placed, proficient_score, min_standards)
    found = _level_on_each_date(placed, reached, n_domains=len(domains))
    return pd.DataFrame({
        "student_id": students.take(found["s"]),
        "domain": domains.take(found["d"]),
        "as_of": found["day"].astype("datetime64[D]").astype("datetime64[ns]"),
        "performance_level": found["level"].astype("float64"),
    })


def _placed_evidence(evidence: pd.DataFrame, standards: pd.DataFrame):
    """Evidence as integer codes with the domain and level of its standard.

    Returns a dict of arrays ``s`` (student code), ``d`` (domain code),
    ``standard`` (row of ``standards``), ``level``, ``day`` and ``score``, plus
    the student and domain values the codes stand for. Evidence on an unknown
    standard, or without a date or score, is dropped. Working on integer codes
    keeps the sorts and group-bys fast on millions of rows.
    """
    where = standards.drop_duplicates("standard_id")
    where = where[where["domain"].notna() & where["performance_level"].notna()]
    row = pd.Index(where["standard_id"]).get_indexer(evidence["standard_id"])
    day = _days(evidence["assessed_on"])
    keep = (row >= 0) & ~np.isnat(day) & evidence["score"].notna().to_numpy()
    students_code, students = pd.factorize(evidence["student_id"][keep], sort=True)
    domain_code, domains = pd.factorize(where["domain"], sort=True)
    row = row[keep]
    placed = {
        "s": students_code.astype("int64"), "d": domain_code[row].astype("int64"), "standard": row,
        "level": where["performance_level"].to_numpy("float64")[row],
        "day": day[keep].astype("int64"), "score": evidence["score"].to_numpy("float64")[keep],
    }
    return placed, students, domains


def _levels_reached(placed: dict, proficient_score: float, min_standards: int) -> dict:
    """Days on which each student's set of levels held changes, as bit-mask increments.

    1. Each standard's state on each day it was scored: proficient when the
       mean of that day's scores on it is at least ``proficient_score`` (so
       several scores on one day do not depend on row order); the state holds
       until the standard is scored again.
    2. Per student, domain and level, the number of its standards currently
       proficient, and whether that reaches ``min_standards`` ("held").
    3. Each change of a level's held state as +/- 2**code of the level, so a
       running sum over a student's time line is the bit mask of held levels.
    """
    level_values, level_code = np.unique(placed["level"], return_inverse=True)
    if len(level_values) > 62:
        raise ValueError(f"The standards table has {len(level_values)} distinct performance levels; "
                         "at most 62 are supported.")
    n_standards = int(placed["standard"].max(initial=-1)) + 1
    n_domains = int(placed["d"].max(initial=-1)) + 1
    # 1. one state per student, standard and day
    order, _ = _sorted_runs(placed["s"] * n_standards + placed["standard"], placed["day"])
    key, day = (placed["s"] * n_standards + placed["standard"])[order], placed["day"][order]
    starts = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]) | (day[1:] != day[:-1])]) if len(key) else \
        np.zeros(0, dtype="int64")
    if len(starts) == 0:
        return {"s": starts, "d": starts, "day": starts, "bits": starts}
    sizes = np.diff(np.r_[starts, len(key)])
    state = (np.add.reduceat(placed["score"][order], starts) / sizes >= proficient_score).astype("int64")
    first = order[starts]
    new_standard = np.r_[True, key[starts][1:] != key[starts][:-1]]
    change = state - np.where(new_standard, 0, np.r_[0, state[:-1]])
    moved = change != 0
    s, d, code = placed["s"][first][moved], placed["d"][first][moved], level_code[first][moved]
    day, change = day[starts][moved], change[moved]
    # 2. proficient standards per student, domain and level, over time
    group = (s * max(n_domains, 1) + d) * len(level_values) + code
    count, (s, d, code, day, group) = _running_sum(group, day, change, s, d, code, day, group)
    held = (count >= min_standards).astype("int64")
    new_group = np.r_[True, group[1:] != group[:-1]]
    flip = held - np.where(new_group, 0, np.r_[0, held[:-1]])
    kept = flip != 0
    bits = flip[kept] * (np.int64(1) << code[kept].astype("int64"))
    return {"s": s[kept], "d": d[kept], "day": day[kept], "bits": bits, "levels": level_values}


def _running_sum(group, day, change, *columns):
    """Sum of ``change`` per (group, day), then its running total within each group, in day order."""
    order, _ = _sorted_runs(group, day)
    group, day, change = group[order], day[order], change[order]
    last = np.r_[(group[1:] != group[:-1]) | (day[1:] != day[:-1]), True]
    total = np.cumsum(change)
    # running total within the group: subtract what came before the group's first row
    group_start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    before = np.r_[0, total][group_start]
    total = total - np.repeat(before, np.diff(np.r_[group_start, len(group)]))
    return total[last], tuple(c[order][last] for c in columns)


def _level_on_each_date(placed: dict, reached: dict, n_domains: int) -> dict:
    """The highest level held on each assessment day of each student and domain.

    Changes of held levels and assessment days are merged into one time line
    per student and domain (a change sorts before an assessment of the same
    day); a running sum of the bit increments is the mask of levels held, and
    its highest set bit is the level. Days on which no level is held have no row.
    """
    n = len(reached["s"])
    s = np.r_[reached["s"], placed["s"]]
    d = np.r_[reached["d"], placed["d"]]
    day = np.r_[reached["day"], placed["day"]]
    is_assessment = np.r_[np.zeros(n, dtype="int64"), np.ones(len(placed["s"]), dtype="int64")]
    bits = np.r_[reached["bits"], np.zeros(len(placed["s"]), dtype="int64")].astype("int64")
    group = s * max(n_domains, 1) + d
    mask, (s, d, day, is_assessment) = _running_sum(group, day * 2 + is_assessment, bits, s, d, day,
                                                    is_assessment)
    take = (is_assessment == 1) & (mask > 0)
    mask = mask[take]
    top = np.full(mask.shape, -1, dtype="int64")
    for code in range(len(reached.get("levels", ()))):  # a handful of levels, not students
        top = np.where((mask >> code) & 1, code, top)
    level = np.asarray(reached.get("levels", np.zeros(0)), dtype="float64")
    return {"s": s[take], "d": d[take], "day": day[take], "level": level[top] if len(top) else top}


# ------------------------------------------------------------------------- unit crediting
_SPELL_COLUMNS = ["student_id", "spell_start", "spell_end"]


def pace_by_unit(levels: pd.DataFrame, spells: pd.DataFrame, *, unit: str = "school_id",
                 level_sd: float | None = None, **options) -> pd.DataFrame:
    """Pace credited to each unit (school, PLC, teacher): only growth made while the student was there.

    Each level is assigned to every spell of the student that contains its
    date (``spell_start`` <= ``as_of`` <= ``spell_end``; a missing end is an
    open spell; when ``spells`` has a ``domain`` column, only levels of that
    domain), and a pace is computed within each spell, with the same rules and
    options as :func:`pace`. A student who moves mid-year gives each school
    only its own part; the growth between the last level at the old school and
    the first at the new one is credited to neither. Minimum evidence applies
    within the spell, so a short spell gives no pace rather than a noisy one.

    The level error (``level_sd``) is, by default, estimated from the
    students' whole histories (:func:`pace` on ``levels``), since spells are
    short.

    Parameters
    ----------
    levels : DataFrame
        The ``levels`` table.
    spells : DataFrame
        ``student_id``, ``unit``, ``spell_start``, ``spell_end`` (dates) and
        optionally ``domain`` and other columns (kept), e.g. from
        :func:`enrollment_spells` or :func:`roster_spells`.
    unit : str
        The column of ``spells`` naming the unit.
    level_sd : float, optional
        Measurement error of one level; estimated when not given.
    **options
        Keywords of :func:`pace` (``method``, ``year_basis``, ``min_points`` ...).

    Returns
    -------
    DataFrame
        One row per student, domain and spell: ``unit``, ``student_id``,
        ``domain``, ``spell_start``, then the columns of :func:`pace`, and
        ``spell_end`` and any other spell columns.

    Examples
    --------
    A student gains 0.5 at the first school and 0.4 at the second after a
    move on 1 February (levels per school year; 1 February is day 170 of 304):

    >>> import pandas as pd
    >>> levels = pd.DataFrame({"student_id": "a", "domain": "m", "performance_level": [3.0, 3.5, 3.6, 4.0],
    ...     "as_of": pd.to_datetime(["2024-08-15", "2025-01-14", "2025-02-01", "2025-06-15"])})
    >>> spells = pd.DataFrame({"student_id": "a", "school_id": ["s1", "s2"],
    ...     "spell_start": pd.to_datetime(["2024-08-15", "2025-02-01"]),
    ...     "spell_end": pd.to_datetime(["2025-01-31", None])})
    >>> out = pace_by_unit(levels, spells, min_span_days=0, level_sd=0.1)
    >>> out[["school_id", "n_points", "pace"]].round(3).values.tolist()
    [['s1', 2, 1.0], ['s2', 2, 0.907]]
    """
    _check_columns(spells, [*_SPELL_COLUMNS, unit], "spells")
    points = _level_points(levels)
    if level_sd is None:
        known = pace(points, **options).attrs.get("level_sd", {})
        finite = [v for v in known.values() if np.isfinite(v)]
        level_sd = float(np.sqrt(np.mean(np.square(finite)))) if finite else None
    extra = [c for c in spells.columns if c not in {*_SPELL_COLUMNS, unit, "domain"}]
    spell = spells[[*_SPELL_COLUMNS, unit, *extra] + (["domain"] if "domain" in spells else [])]
    spell = spell.rename(columns={"domain": "_spell_domain"}).reset_index(drop=True)
    spell["_spell"] = np.arange(len(spell))
    pairs = _within_spells_span(points, spell).merge(spell, on="student_id", how="inner")
    day = pairs["as_of"].astype("datetime64[ns]")
    inside = (day >= pairs["spell_start"]) & (pairs["spell_end"].isna() | (day <= pairs["spell_end"]))
    if "_spell_domain" in pairs:
        inside &= pairs["_spell_domain"].isna() | (pairs["_spell_domain"] == pairs["domain"])
    pairs = pairs[inside.to_numpy(dtype=bool)]
    keys = ["_spell", "student_id", "domain"]
    table = _pace_table(pairs, keys, calendar=_Calendar(options.pop("school_year_start", "08-15"),
                                                        options.pop("school_year_end", "06-15")),
                        level_sd=level_sd, **_pace_defaults(options))
    described = spell.drop(columns=[c for c in ("student_id", "_spell_domain") if c in spell])
    out = table.merge(described, on="_spell", how="left")
    front = [unit, "student_id", "domain", "spell_start"]
    out = out[front + [c for c in out.columns if c not in {*front, "_spell"}]]
    out.attrs = table.attrs
    return out.sort_values(front, kind="stable").reset_index(drop=True)


def _within_spells_span(points: pd.DataFrame, spell: pd.DataFrame) -> pd.DataFrame:
    """The points dated between the first spell's start and the last spell's end (open: no end).

    No point outside that span is inside any spell; leaving them out before pairing each
    point with every spell of its student keeps a one-year scan from pairing every year.
    """
    day = points["as_of"].astype("datetime64[ns]")
    keep = day >= pd.to_datetime(spell["spell_start"]).min()
    ends = pd.to_datetime(spell["spell_end"])
    if len(ends) and ends.notna().all():
        keep &= day <= ends.max()
    return points[keep.to_numpy(dtype=bool)]


def _pace_defaults(options: dict) -> dict:
    """The keywords of :func:`_pace_table` with :func:`pace`'s defaults."""
    defaults = {"method": "endpoint", "year_days": 365.25, "min_span_days": 90, "year_basis": "school",
                "min_points": None, "min_span_years": 0.0, "confidence": 0.95}
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"pace_by_unit got unknown option(s) {sorted(unknown)}.")
    return {**defaults, **options}


def _year_window(school_year: pd.Series, calendar: _Calendar) -> tuple[pd.Series, pd.Series]:
    """First day of each Ed-Fi school year, and the day before the next one starts."""
    year = pd.to_numeric(school_year, errors="coerce").to_numpy("float64")
    known = ~np.isnan(year)
    start_year = np.where(known, year, 1970).astype("int64") - calendar.wraps
    begin = _on(start_year, calendar.start).astype("datetime64[ns]")
    finish = (_on(start_year + 1, calendar.start) - np.timedelta64(1, "D")).astype("datetime64[ns]")
    begin = np.where(known, begin, np.datetime64("NaT"))
    finish = np.where(known, finish, np.datetime64("NaT"))
    return pd.Series(begin, index=school_year.index), pd.Series(finish, index=school_year.index)


def enrollment_spells(enrollments: pd.DataFrame, *, school_year_start: str = "08-15",
                      school_year_end: str = "06-15") -> pd.DataFrame:
    """Enrollment spells for :func:`pace_by_unit`: each enrollment from entry to exit.

    A missing entry date is the start of its school year; a missing exit date
    the day before the next school year starts (the summer adds no time on the
    school basis).

    Examples
    --------
    >>> import pandas as pd
    >>> enr = pd.DataFrame({"student_id": ["a", "a"], "school_year": [2025, 2025], "school_id": ["s1", "s2"],
    ...     "entry_date": pd.to_datetime([None, "2025-02-01"]), "exit_date": pd.to_datetime(["2025-01-31", None])})
    >>> enrollment_spells(enr)[["school_id", "spell_start", "spell_end"]].astype(str).values.tolist()
    [['s1', '2024-08-15', '2025-01-31'], ['s2', '2025-02-01', '2025-08-14']]
    """
    _check_columns(enrollments, ["student_id", "school_year", "school_id"], "enrollments")
    begin, finish = _year_window(enrollments["school_year"], _Calendar(school_year_start, school_year_end))
    entry = enrollments["entry_date"] if "entry_date" in enrollments else pd.Series(pd.NaT, enrollments.index)
    leave = enrollments["exit_date"] if "exit_date" in enrollments else pd.Series(pd.NaT, enrollments.index)
    return pd.DataFrame({
        "student_id": enrollments["student_id"], "school_id": enrollments["school_id"],
        "school_year": enrollments["school_year"],
        "spell_start": entry.astype("datetime64[ns]").fillna(begin),
        "spell_end": leave.astype("datetime64[ns]").fillna(finish),
    }).reset_index(drop=True)


def roster_spells(rosters: pd.DataFrame, sections: pd.DataFrame, *, school_year_start: str = "08-15",
                  school_year_end: str = "06-15") -> pd.DataFrame:
    """Roster spells for :func:`pace_by_unit`: each student's time in each section.

    Rosters carry no dates in the data contract, so a spell is the section's
    school year (its start to the day before the next one); optional
    ``entry_date``/``exit_date`` columns of ``rosters`` narrow it. The
    section's ``teacher_id``, ``plc_id``, ``school_id`` and ``domain`` come
    along, so the spells serve teacher and PLC crediting alike.

    Examples
    --------
    >>> import pandas as pd
    >>> rosters = pd.DataFrame({"student_id": ["a"], "section_id": ["X"]})
    >>> sections = pd.DataFrame({"section_id": ["X"], "school_year": [2025], "teacher_id": ["T1"],
    ...                          "domain": ["math"]})
    >>> roster_spells(rosters, sections)[["teacher_id", "spell_start", "spell_end"]].astype(str).values.tolist()
    [['T1', '2024-08-15', '2025-08-14']]
    """
    _check_columns(rosters, ["student_id", "section_id"], "rosters")
    _check_columns(sections, ["section_id", "school_year", "teacher_id"], "sections")
    wanted = [c for c in ("section_id", "school_year", "teacher_id", "plc_id", "school_id", "domain")
              if c in sections]
    linked = rosters.merge(sections[wanted], on="section_id", how="inner").reset_index(drop=True)
    begin, finish = _year_window(linked["school_year"], _Calendar(school_year_start, school_year_end))
    entry = linked.pop("entry_date") if "entry_date" in linked else pd.Series(pd.NaT, linked.index)
    leave = linked.pop("exit_date") if "exit_date" in linked else pd.Series(pd.NaT, linked.index)
    linked["spell_start"] = entry.astype("datetime64[ns]").fillna(begin)
    linked["spell_end"] = leave.astype("datetime64[ns]").fillna(finish)
    return linked


# ------------------------------------------------------------------------- expected level
def expected_level(grade_level, as_of, *, school_year=None, school_year_start: str = "08-15",
                   school_year_end: str = "06-15"):
    """Level a student would hold on a date if on grade: grade plus the school year elapsed.

    Level L holds grade L's standards, so a grade-3 student is expected at 3.0
    on the first day of the school year and at 4.0 on its last day. The
    elapsed fraction is 0 on or before ``school_year_start``, 1 on or after
    ``school_year_end`` and linear in calendar days between.

    Parameters
    ----------
    grade_level : int, array-like or Series
        Grade (PK = -1, K = 0); missing grades give NaN.
    as_of : date, array-like or Series
        The date of the level being compared.
    school_year : int, array-like or Series, optional
        Ed-Fi school year (the year it ends) the grade belongs to. By default
        the school year containing ``as_of`` (see :func:`school_year_of`), so a
        summer date counts as the end of the year just finished.
    school_year_start, school_year_end : str
        The school-year window as MM-DD.

    Returns
    -------
    float, ndarray or Series
        A float when every input is a scalar, a Series (with the index of the
        first Series among ``as_of``, ``grade_level``, ``school_year``) when one
        is a Series, else an array. Missing dates or years give NaN.

    Examples
    --------
    >>> expected_level(3, "2024-08-15")
    3.0
    >>> expected_level(3, "2025-01-14")  # 152 of the 304 days
    3.5
    >>> expected_level(3, "2025-06-15"), expected_level(3, "2025-07-04")
    (4.0, 4.0)
    >>> expected_level(3, "2024-08-01", school_year=2025)  # before the start of that year
    3.0
    """
    calendar = _Calendar(school_year_start, school_year_end)
    days = _days(np.atleast_1d(as_of) if np.ndim(as_of) == 0 else as_of)
    year = np.full(1, np.nan) if school_year is None else _floats(school_year)
    grade, days, year = np.broadcast_arrays(_floats(grade_level), days, year)
    days, missing = _filled(days)
    if school_year is None:
        start_year = calendar.start_year(days)
    else:
        missing |= np.isnan(year)
        start_year = np.where(np.isnan(year), 1970, year).astype("int64") - calendar.wraps
    result = grade + calendar.fraction(days, start_year)
    result[missing] = np.nan
    if all(np.ndim(x) == 0 for x in (grade_level, as_of, school_year)):
        return float(result[0])
    index = next((x.index for x in (as_of, grade_level, school_year) if isinstance(x, pd.Series)), None)
    return result if index is None else pd.Series(result, index=index, name="expected_level")


def _floats(values) -> np.ndarray:
    """Numbers (scalar, array or nullable Series) as a float array with NaN for missing."""
    series = pd.Series([values]) if np.ndim(values) == 0 else pd.Series(values)
    return pd.to_numeric(series, errors="coerce").to_numpy("float64", na_value=np.nan)


# ------------------------------------------------------------------------- the facts table
def options_from_config(config) -> dict:
    """Keywords of :func:`student_levels` taken from a :class:`~equity_audit.config.Config`.

    Examples
    --------
    >>> from equity_audit.config import Config
    >>> options_from_config(Config(pace_method="regression"))["method"]
    'regression'
    """
    names = ("year_days", "min_span_days", "year_basis", "school_year_start", "school_year_end",
             "pace_threshold", "levels_behind_threshold", "graduation_level", "graduation_age",
             "pace_shrinkage", "confidence")
    return {"method": config.pace_method, "min_points": config.pace_min_points,
            "min_span_years": config.pace_min_span_years, **{name: getattr(config, name) for name in names}}


#: Keywords of :func:`pace` and :func:`pace_by_year` among those of :func:`options_from_config`.
PACE_OPTIONS = ("method", "year_days", "min_span_days", "year_basis", "school_year_start", "school_year_end",
                "min_points", "min_span_years", "confidence")


def student_levels(levels: pd.DataFrame, enrollments: pd.DataFrame, students: pd.DataFrame | None = None,
                   *, method: str = "endpoint", year_days: float = 365.25, min_span_days: int = 90,
                   year_basis: str = "school", school_year_start: str = "08-15",
                   school_year_end: str = "06-15", pace_threshold: float = 1.0,
                   levels_behind_threshold: float = 2.0, graduation_level: float = 13.0,
                   graduation_age: float = 18.0, scenarios=SCENARIOS, min_points: int | None = None,
                   min_span_years: float = 0.0, confidence: float = 0.95, pace_shrinkage: bool = False,
                   level_sd: float | None = None) -> pd.DataFrame:
    """The pace facts: one row per student and domain with a level, ready to disaggregate.

    Parameters
    ----------
    levels, enrollments : DataFrame
        The ``levels`` and ``enrollments`` tables.
    students : DataFrame, optional
        The ``students`` table; only ``birth_date`` is used (for the age-18
        projections). Without it, or without a birth date, those are NaN/NA.
    method, year_days, min_span_days, year_basis, school_year_start, school_year_end, min_points, \
    min_span_years, confidence, level_sd
        As in :func:`pace`. :func:`options_from_config` maps a run's settings.
    pace_threshold : float
        The pace a student is flagged below (``below_pace``), allowing for the
        pace's measurement error: see ``pace_shrinkage``.
    pace_shrinkage : bool
        ``False`` (default): ``below_pace`` when the whole interval
        (``pace_high``) is below ``pace_threshold``. ``True``: when the
        empirical-Bayes pace ``pace_shrunk`` is below it; ``pace_shrunk`` =
        m + B (pace - m), with m the domain's mean pace, B = tau² / (tau² +
        se²) and tau² = max(variance of paces - mean se², 0), so with no true
        spread every student is shrunk fully to the mean.
    levels_behind_threshold : float
        ``two_plus_behind`` is levels_behind >= this.
    graduation_level, graduation_age : float
        Level reached on finishing grade 12 (13) and the age to reach it by (18).
    scenarios : tuple of float
        Paces for the ``years_to_target_*`` and ``reaches_by_18_*`` columns.

    Returns
    -------
    DataFrame
        One row per student and domain in ``levels`` with:

        * ``school_year``, ``school_id``, ``grade_level``: the enrollment at the
          date of the latest level: in the school year of that date, the one
          that had started by then with the latest entry date. If the student
          has no enrollment that school year, the latest enrollment year is used
          and its grade moved by one per school year in between for
          ``expected_level`` (students move up a grade a year).
        * ``as_of`` and ``current_level``: the latest level and its date.
        * ``expected_level`` (:func:`expected_level` at ``as_of``) and
          ``levels_behind`` = expected - current: positive is behind grade.
        * ``pace``, ``pace_se``, ``pace_low``, ``pace_high``,
          ``insufficient_reason``, ``n_points``, ``span_days``, ``status`` as
          in :func:`pace`, and ``pace_shrunk``, ``pace_shrunk_se`` (see
          ``pace_shrinkage``).
        * ``below_pace`` (NA with insufficient evidence, or when the pace's
          error is unknown) and ``two_plus_behind``.
        * ``age_at_as_of`` (days / 365.25), ``years_to_18`` (years from
          ``as_of`` to ``graduation_age``, 0 once reached),
          ``projected_level_at_18`` = current + pace x years_to_18,
          ``pace_needed`` = (graduation_level - current) / years_to_18 (0 if
          already there; NaN without a birth date or once 18),
          ``on_track_to_graduate`` (projected >= graduation_level, or already
          there).
        * ``years_to_target_at_pace`` = levels still to gain / pace (0 if none
          to gain, inf if pace <= 0), and for each scenario rate r
          ``years_to_target_<r>`` (e.g. ``years_to_target_1_25``) = levels to
          gain / r and ``reaches_by_18_<r>``: whether that is no later than 18.

    Notes
    -----
    "Graduation by 18" is read as graduating with the class of the school year
    in which the student turns 18: ``years_to_18`` runs to the end of that
    school year (``school_year_end``). Most students turn 18 during grade 12, so
    measuring to the birthday itself would call almost every student on grade
    and on pace "not on track".

    Examples
    --------
    >>> import pandas as pd
    >>> levels = pd.DataFrame({
    ...     "student_id": "a", "domain": "math",
    ...     "as_of": pd.to_datetime(["2024-09-16", "2025-06-02"]),
    ...     "performance_level": [6.0, 6.5]})
    >>> enrollments = pd.DataFrame({"student_id": "a", "school_year": [2025], "school_id": "s1",
    ...                             "grade_level": [8]})
    >>> students = pd.DataFrame({"student_id": ["a"], "birth_date": pd.to_datetime(["2011-06-02"])})
    >>> row = student_levels(levels, enrollments, students).iloc[0]
    >>> round(float(row["levels_behind"]), 2), bool(row["two_plus_behind"]), row["status"]
    (2.46, True, 'below pace')
    >>> round(float(row["years_to_18"]), 2), float(row["years_to_target_1_25"])
    (4.04, 5.2)
    >>> bool(row["reaches_by_18_1_25"]), bool(row["reaches_by_18_2_0"])
    (False, True)
    """
    table = pace(levels, method=method, year_days=year_days, min_span_days=min_span_days,
                 year_basis=year_basis, school_year_start=school_year_start, school_year_end=school_year_end,
                 min_points=min_points, min_span_years=min_span_years, confidence=confidence, level_sd=level_sd)
    counted = table.attrs
    table = table.rename(columns={"last_date": "as_of"})
    table[["pace_shrunk", "pace_shrunk_se"]] = shrunk_pace(table)
    z = float(_normal_quantile(0.5 + confidence / 2))
    table["pace_shrunk_high"] = table["pace_shrunk"] + z * table["pace_shrunk_se"]
    calendar = _Calendar(school_year_start, school_year_end)
    facts = _with_enrollment(table, enrollments, calendar)
    facts = _with_flags(facts, pace_threshold, levels_behind_threshold, pace_shrinkage)
    facts = _with_projections(facts, students, graduation_level, graduation_age, scenarios, calendar)
    facts.attrs = counted
    return facts


def shrunk_pace(table: pd.DataFrame, by: str = "domain") -> pd.DataFrame:
    """Empirical-Bayes pace: each pace shrunk toward its ``by`` group's mean by its reliability.

    ``pace_shrunk = m + B (pace - m)`` with ``m`` the group's mean pace,
    ``B = tau² / (tau² + se²)`` and ``tau² = max(var(pace) - mean(se²), 0)``
    (method of moments). With ``tau² = 0`` (no spread beyond error) every pace
    becomes ``m``. ``pace_shrunk_se`` is the posterior SD, sqrt(B se² +
    (1 - B)² var(m)), which keeps the error of the group mean itself, so a
    district whose students all grow at exactly the threshold is not flagged
    wholesale because its mean came out a hair below it.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"domain": "m", "pace": [0.5, 1.0, 1.5], "pace_se": [1.0, 1.0, 1.0]})
    >>> shrunk_pace(table)["pace_shrunk"].tolist()
    [1.0, 1.0, 1.0]
    """
    values, se = table["pace"].astype("float64"), table["pace_se"].astype("float64")
    known = values.notna() & se.notna()
    group = table[by] if by in table else pd.Series(0, index=table.index)
    kept = pd.DataFrame({"g": group[known], "p": values[known], "v": se[known] ** 2})
    stats = kept.groupby("g").agg(mean=("p", "mean"), var=("p", "var"), n=("p", "size"), error=("v", "mean"))
    # as floats: mapping a text column through an empty table (no pace with an error) gives NA, not NaN
    mean = group.map(stats["mean"]).astype("float64")
    tau2 = group.map((stats["var"] - stats["error"]).clip(lower=0.0).fillna(0.0)).astype("float64")
    mean_var = group.map((stats["var"] / stats["n"]).fillna(np.inf)).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(tau2 > 0, tau2 / (tau2 + se ** 2), 0.0)
    shrunk = (mean + weight * (values - mean)).where(known)
    spread = np.sqrt(weight * se ** 2 + (1 - weight) ** 2 * mean_var).where(known)
    return pd.DataFrame({"pace_shrunk": shrunk, "pace_shrunk_se": spread}, index=table.index)


def _with_enrollment(table: pd.DataFrame, enrollments: pd.DataFrame, calendar: _Calendar) -> pd.DataFrame:
    _check_columns(enrollments, ["student_id", "school_year", "school_id", "grade_level"], "enrollments")
    enrolled = _enrollment_at(table, enrollments, calendar)
    facts = table.merge(enrolled, on=_KEY, how="left")
    level_year = calendar.ed_fi_year(_days(facts["as_of"]))
    # Grade in the school year of the level; differs from the recorded one only on fallback.
    grade = facts["grade_level"].astype("Float64") + (level_year - facts["school_year"]).astype("Float64")
    fraction = calendar.fraction(_days(facts["as_of"]), level_year - calendar.wraps)
    facts["expected_level"] = _floats(grade) + fraction
    facts["levels_behind"] = np.round(facts["expected_level"] - facts["current_level"], _DECIMALS)
    return facts


def _enrollment_at(table: pd.DataFrame, enrollments: pd.DataFrame, calendar: _Calendar) -> pd.DataFrame:
    """The enrollment of each student and domain at the date of its latest level."""
    columns = ["student_id", "school_year", "school_id", "grade_level"]
    entry = enrollments["entry_date"] if "entry_date" in enrollments else pd.Series(pd.NaT, enrollments.index)
    enr = enrollments[columns].assign(entry_date=entry.astype("datetime64[ns]"))
    wanted = table[[*_KEY, "as_of"]].assign(
        level_year=calendar.ed_fi_year(_days(table["as_of"])))
    pairs = wanted.merge(enr, on="student_id", how="inner")
    # Preference, lowest first: an enrollment in the level's school year, then the latest
    # year, then one already started at the level's date, then the latest entry.
    pairs["in_year"] = (pairs["school_year"] == pairs["level_year"]).fillna(False).astype(bool)
    pairs["started"] = (pairs["entry_date"].isna() | (pairs["entry_date"] <= pairs["as_of"])).astype(bool)
    pairs = pairs.sort_values([*_KEY, "in_year", "school_year", "started", "entry_date"],
                              kind="stable", na_position="first")
    chosen = pairs.drop_duplicates(_KEY, keep="last")
    return chosen[[*_KEY, "school_year", "school_id", "grade_level"]]


def _with_flags(facts: pd.DataFrame, pace_threshold: float, behind_threshold: float,
                shrinkage: bool = False) -> pd.DataFrame:
    # the flag allows for the pace's error: the whole interval, or the shrunk pace, is below
    judged = facts["pace_shrunk_high"] if shrinkage else facts["pace_high"]
    judged = judged.astype("float64").where(facts["pace"].notna())
    behind = facts["levels_behind"].astype("Float64")
    facts["below_pace"] = (judged.astype("Float64") < pace_threshold).astype("boolean")
    facts["two_plus_behind"] = (behind >= behind_threshold).astype("boolean")
    return facts


def _with_projections(facts, students, graduation_level, graduation_age, scenarios, calendar) -> pd.DataFrame:
    birth = _birth_dates(facts, students)
    age = (facts["as_of"] - birth).dt.days.to_numpy("float64", na_value=np.nan) / 365.25
    years_left = _years_to_graduation(facts["as_of"], birth, graduation_age, calendar)
    current, pace_values = facts["current_level"].to_numpy(), facts["pace"].to_numpy()
    to_gain = np.clip(graduation_level - current, 0.0, None)
    facts["age_at_as_of"] = age
    facts["years_to_18"] = years_left
    facts["projected_level_at_18"] = current + pace_values * years_left
    with np.errstate(divide="ignore", invalid="ignore"):
        facts["pace_needed"] = np.where(years_left > 0, to_gain / years_left, np.nan)
    done = current >= graduation_level
    on_track = pd.array(facts["projected_level_at_18"] >= graduation_level, dtype="boolean")
    on_track[np.isnan(facts["projected_level_at_18"].to_numpy())] = pd.NA
    on_track[done] = True
    facts["on_track_to_graduate"] = on_track
    facts["years_to_target_at_pace"] = _years_at_pace(to_gain, pace_values)
    for rate in scenarios:
        suffix = str(float(rate)).replace(".", "_")
        facts[f"years_to_target_{suffix}"] = to_gain / rate
        reaches = pd.array(to_gain / rate <= years_left, dtype="boolean")
        reaches[np.isnan(years_left)] = pd.NA
        facts[f"reaches_by_18_{suffix}"] = reaches
    return facts[_fact_columns(scenarios)]


def _years_to_graduation(as_of: pd.Series, birth: pd.Series, graduation_age: float,
                         calendar: _Calendar) -> np.ndarray:
    """Years from ``as_of`` to the end of the school year in which the student reaches
    ``graduation_age``: "graduate by 18" means with the class of the year one turns 18.
    """
    birthday, missing = _filled(_days(birth + pd.to_timedelta(graduation_age * 365.25, unit="D")))
    start_year = calendar.start_year(birthday)
    end = calendar.window(start_year)[1]
    # a birthday in the summer falls after its school year's end: the class is the next one
    end = np.where(birthday > end, calendar.window(start_year + 1)[1], end)
    years = (end - _days(as_of)).astype("int64") / 365.25
    return np.where(missing, np.nan, np.clip(years, 0.0, None))


def _birth_dates(facts: pd.DataFrame, students: pd.DataFrame | None) -> pd.Series:
    if students is None or "birth_date" not in students:
        return pd.Series(pd.NaT, index=facts.index, dtype="datetime64[ns]")
    born = students.drop_duplicates("student_id").set_index("student_id")["birth_date"]
    return facts["student_id"].map(born).astype("datetime64[ns]")


def _years_at_pace(to_gain: np.ndarray, pace_values: np.ndarray) -> np.ndarray:
    # A student not growing never arrives (inf); an unknown pace gives an unknown time (NaN).
    with np.errstate(divide="ignore", invalid="ignore"):
        years = np.where(pace_values > 0, to_gain / pace_values, np.inf)
    years = np.where(np.isnan(pace_values), np.nan, years)
    return np.where(to_gain == 0, 0.0, years)


def _fact_columns(scenarios) -> list[str]:
    base = ["student_id", "domain", "school_year", "school_id", "grade_level", "as_of", "current_level",
            "expected_level", "levels_behind", "two_plus_behind", "pace", "status", "below_pace",
            "pace_se", "pace_low", "pace_high", "pace_shrunk", "pace_shrunk_se", "insufficient_reason", "n_points", "first_date", "span_days", "age_at_as_of", "years_to_18",
            "projected_level_at_18", "pace_needed", "on_track_to_graduate", "years_to_target_at_pace"]
    for rate in scenarios:
        suffix = str(float(rate)).replace(".", "_")
        base += [f"years_to_target_{suffix}", f"reaches_by_18_{suffix}"]
    return base
