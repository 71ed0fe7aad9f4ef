"""Grades against evidence: do course grades say what the standards evidence says?

In competency-based education a course grade should summarise the evidence of
learning on the course's standards. Where grades and evidence part ways, and
part ways more for some students than for others, grades may be rewarding or
penalising something other than learning. Following the methods notes
(section 5.4; Brookhart et al. 2016, Gershenson 2018, Bowers 2011):

- :func:`grade_points`: text grades (letters, grade points or percents) as points;
- :func:`grade_evidence`: one row per student x section x term with the grade
  and the evidence on that section's domain in the same term;
- :func:`discordance`: "A/B with evidence not yet proficient" and
  "C/D/F with proficient evidence", as 0/1; :func:`confirmed_by_residuals` keeps
  a group's discordance flag only where the residuals point the same way;
- :func:`residuals`: ``grade_points ~ evidence_mean + domain`` fitted
  district-wide, corrected for the error in the evidence mean (so regression
  to the mean does not read as a group graded lower); the residual is the
  grade minus what the evidence predicts;
- :func:`teacher_gaps`, :func:`teacher_gaps_all`: within each teacher, the
  difference in mean residual between a focus group and the teacher's other
  students, scanned with :func:`equity_audit.scans.scan_gaps` (Welch,
  empirical-Bayes shrinkage, Benjamini-Hochberg, minimum n);
- :func:`who_gets_rich_evidence`: per student and school year, the share of
  evidence from performance tasks and projects and the share at DOK 3-4;
- :func:`time_to_level4`, :func:`level4_by_student`: days from the first
  proficient score on a standard to the first score of 4.

A teacher flagged by a scan *warrants a closer look*; a gap in residuals is a
screen, never by itself a finding of bias.

Examples
--------
>>> import pandas as pd
>>> grade_points(pd.Series(["A-", "b+", "3.5", "85", "pass"])).tolist()
[3.7, 3.3, 3.5, 3.0, nan]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.pace import school_year_of
from equity_audit.scans import scan_gaps, scan_gaps_each
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels

__all__ = ["teacher_patterns", "student_grading", "evidence_bands", "confirmed_by_residuals", "EVIDENCE_BAND_WIDTH",
    "LETTER_POINTS",
    "PERCENT_BANDS",
    "HIGH_GRADE",
    "LOW_GRADE",
    "TOP_SCORE",
    "RICH_TASKS",
    "TESTED_TASKS",
    "HALF_YEAR_ENDS",
    "grade_points",
    "term_period",
    "grade_evidence",
    "discordance",
    "residuals",
    "teacher_gaps",
    "teacher_gaps_all",
    "who_gets_rich_evidence",
    "time_to_level4",
    "level4_by_student",
]

#: Default letter scale. A+ counts as 4.0 (pass ``scale={"A+": 4.3}`` for a 4.3 scale).
LETTER_POINTS = {
    "A+": 4.0, "A": 4.0, "A-": 3.7,
    "B+": 3.3, "B": 3.0, "B-": 2.7,
    "C+": 2.3, "C": 2.0, "C-": 1.7,
    "D+": 1.3, "D": 1.0, "D-": 0.7,
    "F": 0.0,
}
#: Percent bands as (lowest percent, points), highest first: 90+ A, 80+ B, 70+ C, 60+ D, else F.
PERCENT_BANDS = ((90.0, 4.0), (80.0, 3.0), (70.0, 2.0), (60.0, 1.0), (0.0, 0.0))
#: Highest number read as grade points; larger numbers (up to 100) are percents.
MOST_POINTS = 4.3
#: Grade points at or above which a grade is an A or a B (B- at 2.7 is not).
HIGH_GRADE = 3.0
#: Grade points at or below which a grade is a C, D or F (C+ at 2.3 is not).
LOW_GRADE = 2.0
#: Width of the evidence bands within which grades are compared (a quarter point of the proficiency scale).
EVIDENCE_BAND_WIDTH = 0.25
#: The top evidence score: "Level 4", beyond proficient.
TOP_SCORE = 4.0
#: Task types that count as rich evidence ...
RICH_TASKS = ("performance_task", "project")
#: ... against these.
TESTED_TASKS = ("quiz", "test")
#: The first half of a school year ends on this day (month-day); the second half is the rest.
HALF_YEAR_ENDS = "01-31"
#: Term codes matched to part of a school year; any other code means the whole year.
_PERIODS = ("s1", "s2", "q1", "q2", "q3", "q4")
#: The periods of each kind of term, as term_period() names its columns.
_TERM_KINDS = {"half": ("s1", "s2"), "quarter": ("q1", "q2", "q3", "q4")}
_WHOLE_YEAR = "year"
_SECTION_COLUMNS = ["section_id", "teacher_id", "plc_id", "school_id", "domain", "course_id",
                    "school_year"]
_KEYS = ["student_id", "domain", "school_year"]


# --------------------------------------------------------------------------- grade points


def grade_points(grades, *, scale: dict | None = None,
                 percent_bands=PERCENT_BANDS) -> pd.Series:
    """Text grades as grade points.

    Three forms are read, after removing spaces and a trailing ``%``:

    - a letter A-F with + or - (any case): :data:`LETTER_POINTS`, i.e. A = 4.0,
      A- = 3.7, B+ = 3.3, B = 3.0, B- = 2.7, C+ = 2.3, C = 2.0, C- = 1.7,
      D+ = 1.3, D = 1.0, D- = 0.7, F = 0, and A+ = 4.0 by default. ``scale``
      overrides or adds letters, e.g. ``{"A+": 4.3}``;
    - a number from 0 to 4.3 (without ``%``): grade points as given;
    - a number above 4.3 up to 100, or any number written with ``%``: a
      percent, banded by ``percent_bands`` (default 90+ = 4.0 (A),
      80-89.99 = 3.0 (B), 70+ = 2.0 (C), 60+ = 1.0 (D), below 60 = 0 (F)).

    Anything else (blank, "P", "I", negative numbers, more than 100) is NaN.

    Parameters
    ----------
    grades : Series or DataFrame
        The grades, or a table with a ``grade`` column.
    scale : dict, optional
        Letter -> points, merged over :data:`LETTER_POINTS`.
    percent_bands : sequence of (float, float)
        (lowest percent, points) pairs; a percent gets the points of the
        highest band whose lowest percent it reaches.

    Returns
    -------
    Series
        float64 grade points, with the index of ``grades``.

    Examples
    --------
    >>> import pandas as pd
    >>> grade_points(pd.Series(["A+", "C-", " f ", "4.3", "92", "59.5", "3%", "", None])).tolist()
    [4.0, 1.7, 0.0, 4.3, 4.0, 0.0, 0.0, nan, nan]
    >>> grade_points(pd.Series(["A+"]), scale={"A+": 4.3}).tolist()
    [4.3]
    """
    text = grades["grade"] if isinstance(grades, pd.DataFrame) else pd.Series(grades)
    clean = (text.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
             .str.replace("\u2212", "-", regex=False).str.replace("\u2013", "-", regex=False))
    letters = {k.upper().replace(" ", ""): float(v) for k, v in {**LETTER_POINTS, **(scale or {})}.items()}
    from_letter = clean.map(letters).astype("Float64")
    percent_sign = clean.str.endswith("%").fillna(False).astype(bool)
    number = pd.to_numeric(clean.str.rstrip("%"), errors="coerce").astype("float64")
    is_points = ~percent_sign & (number >= 0) & (number <= MOST_POINTS)
    is_percent = (percent_sign & (number >= 0) | (number > MOST_POINTS)) & (number <= 100)
    points = np.where(is_points, number, np.where(is_percent, _banded(number, percent_bands), np.nan))
    out = from_letter.astype("float64").fillna(pd.Series(points, index=text.index))
    return out.rename("grade_points")


def _banded(percent: pd.Series, bands) -> np.ndarray:
    """Points of the highest band each percent reaches (NaN below every band)."""
    lows = np.array([low for low, _ in bands], float)
    values = np.array([points for _, points in bands], float)
    order = np.argsort(lows)
    lows, values = lows[order], values[order]
    place = np.searchsorted(lows, percent.to_numpy(float), side="right") - 1
    return np.where(place >= 0, values[np.clip(place, 0, None)], np.nan)


# --------------------------------------------------------------------------- terms


def term_period(dates, *, school_year_start: str = "08-15", school_year_end: str = "06-15") -> pd.DataFrame:
    """The school year, half ("s1"/"s2") and quarter ("q1".."q4") of each date.

    - ``s1`` runs from the start of the school year (``school_year_start``)
      up to and including 31 January; ``s2`` is the rest of the school year,
      including the summer after ``school_year_end`` (a summer date belongs to
      the school year just finished, as in :func:`equity_audit.pace.school_year_of`);
    - ``q1``/``q2`` split ``s1`` at its midpoint, ``q3``/``q4`` split the span
      from 1 February to ``school_year_end`` at its midpoint (summer dates are ``q4``).

    Examples
    --------
    >>> import pandas as pd
    >>> dates = pd.to_datetime(["2024-08-20", "2024-12-20", "2025-01-31", "2025-02-01",
    ...                         "2025-05-30", "2025-07-01"])
    >>> out = term_period(dates)
    >>> out["half"].tolist(), out["quarter"].tolist()
    (['s1', 's1', 's1', 's2', 's2', 's2'], ['q1', 'q2', 'q2', 'q3', 'q4', 'q4'])
    """
    when = pd.Series(pd.to_datetime(pd.Series(dates)).to_numpy())
    year = school_year_of(when, school_year_start=school_year_start, school_year_end=school_year_end)
    year_float = pd.Series(year).astype("Float64").astype("float64")
    start = _on(year_float - 1, school_year_start)
    second = _on(year_float, HALF_YEAR_ENDS) + pd.Timedelta(days=1)
    end = _on(year_float, school_year_end)
    in_second = (when >= second).to_numpy()
    first_middle = start + (second - start) / 2
    second_middle = second + (end - second) / 2
    quarter = np.where(in_second, np.where(when >= second_middle, "q4", "q3"),
                       np.where(when >= first_middle, "q2", "q1"))
    known = when.notna().to_numpy()
    return pd.DataFrame({
        "school_year": pd.array(year, dtype="Int64"),
        "half": pd.Series(np.where(in_second, "s2", "s1"), dtype="string").where(known),
        "quarter": pd.Series(quarter, dtype="string").where(known),
    })


def _on(years: pd.Series, month_day: str) -> pd.Series:
    """The date ``month_day`` (MM-DD) in each year (NaT where the year is missing)."""
    month, day = (int(part) for part in month_day.split("-"))
    parts = pd.DataFrame({"year": years.to_numpy(float), "month": float(month), "day": float(day)})
    return pd.to_datetime(parts, errors="coerce")


def _grade_period(term: pd.Series) -> pd.Series:
    """A grade's term code as the period whose evidence it summarises."""
    code = term.astype("string").str.strip().str.lower()
    return code.where(code.isin(_PERIODS), _WHOLE_YEAR).fillna(_WHOLE_YEAR)


# --------------------------------------------------------------------------- grades x evidence


def grade_evidence(district, *, proficient_score: float = 3.0, school_year_start: str = "08-15",
                   school_year_end: str = "06-15", scale: dict | None = None) -> pd.DataFrame:
    """Each grade beside the evidence on the same domain in the same term.

    A grade (student x section x term) is matched to the student's evidence on
    standards of the section's ``domain`` in the section's ``school_year``,
    in the part of the year its ``term`` names: "s1"/"s2" the halves and
    "q1".."q4" the quarters of :func:`term_period` (codes are matched after
    trimming and lower-casing); any other term code (e.g. "y", "fy", "t1")
    takes the whole school year. A student with two sections of one domain in
    one year (a mid-year move) has the same evidence beside both grades.

    Parameters
    ----------
    district : District or dict of DataFrame
        Needs ``grades``, ``sections``, ``evidence``, ``standards``; ``students``
        (for subgroup columns) is used when present.
    proficient_score : float, default 3.0
        Score that counts as proficient.
    school_year_start, school_year_end : str
        MM-DD, as in :func:`equity_audit.pace.school_year_of`.
    scale : dict, optional
        Letter scale overrides for :func:`grade_points`.

    Returns
    -------
    DataFrame
        One row per grade: ``student_id``, ``section_id``, ``term``,
        ``teacher_id``, ``plc_id``, ``school_id``, ``domain``, ``course_id``,
        ``school_year``, ``grade_points``, ``evidence_n`` (0 without evidence),
        ``evidence_mean`` (mean score), ``evidence_other_n`` and
        ``evidence_other_mean`` (the student's evidence in the same domain and
        school year outside the term: the instrument of :func:`residuals`;
        NaN for whole-year grades or without other evidence),
        ``proficient_share`` (share of scores
        >= ``proficient_score``), ``evidence_proficient`` (``evidence_mean >=
        proficient_score``; nullable boolean), then the student's subgroup
        columns (:func:`equity_audit.data.subgroups.subgroup_labels`). Rows without
        evidence or with an unreadable grade are kept (NaN). ``attrs`` holds
        ``rows``, ``rows_without_evidence``, ``rows_without_section``,
        ``rows_without_grade_points``, ``evidence_without_standard`` and
        ``proficient_score``.

    Examples
    --------
    >>> import pandas as pd
    >>> district = {
    ...     "grades": pd.DataFrame({"student_id": ["S1", "S1", "S2"], "section_id": ["X", "X", "X"],
    ...                             "term": ["s1", "s2", "s1"], "grade": ["B", "A-", "C"]}),
    ...     "sections": pd.DataFrame({"section_id": ["X"], "school_year": [2025], "school_id": ["H"],
    ...                               "teacher_id": ["T1"], "course_id": ["M1"], "domain": ["math"],
    ...                               "plc_id": ["P"]}),
    ...     "evidence": pd.DataFrame({"student_id": ["S1", "S1", "S1"], "standard_id": ["M.1"] * 3,
    ...                               "assessed_on": pd.to_datetime(["2024-10-01", "2024-11-01",
    ...                                                              "2025-03-01"]),
    ...                               "score": [2.0, 3.0, 4.0]}),
    ...     "standards": pd.DataFrame({"standard_id": ["M.1"], "domain": ["math"]})}
    >>> table = grade_evidence(district)
    >>> table[["student_id", "term", "grade_points", "evidence_n", "evidence_mean"]].values.tolist()
    [['S1', 's1', 3.0, 2, 2.5], ['S1', 's2', 3.7, 1, 4.0], ['S2', 's1', 2.0, 0, nan]]
    >>> table.attrs["rows_without_evidence"]
    1
    """
    grades = district["grades"]
    table = grades[["student_id", "section_id", "term"]].copy()
    table["_period"] = _grade_period(grades["term"]).to_numpy()
    table = table.merge(_sections(district["sections"]), on="section_id", how="left")
    table["grade_points"] = grade_points(grades, scale=scale).to_numpy()
    summary, unplaced = _evidence_by_period(district["evidence"], district["standards"], proficient_score,
                                            school_year_start, school_year_end, used=set(table["_period"]))
    table = table.merge(summary, on=[*_KEYS, "_period"], how="left").drop(columns="_period")
    table["evidence_n"] = table["evidence_n"].fillna(0).astype("int64")
    table["evidence_other_n"] = table["evidence_other_n"].fillna(0).astype("int64")
    table["evidence_proficient"] = (table["evidence_mean"] >= proficient_score).astype("boolean")
    table.loc[table["evidence_n"] == 0, "evidence_proficient"] = pd.NA
    table = _with_subgroups(table, district)
    table.attrs = {"rows": len(table),
                   "rows_without_evidence": int((table["evidence_n"] == 0).sum()),
                   "rows_without_section": int(table["teacher_id"].isna().sum()),
                   "rows_without_grade_points": int(table["grade_points"].isna().sum()),
                   "evidence_without_standard": unplaced, "proficient_score": proficient_score}
    return table


def _sections(sections: pd.DataFrame) -> pd.DataFrame:
    """The section columns a grade row carries (missing optional ones as NA)."""
    out = sections.reindex(columns=_SECTION_COLUMNS).drop_duplicates("section_id")
    out["school_year"] = pd.to_numeric(out["school_year"], errors="coerce").astype("Int64")
    return out


def _placed(evidence: pd.DataFrame, standards: pd.DataFrame):
    """Evidence with the standard's domain (and DOK as ``standard_dok``); and the count without a standard."""
    known = standards[["standard_id", "domain"]].assign(
        standard_dok=standards["dok"] if "dok" in standards else np.nan).drop_duplicates("standard_id")
    placed = evidence.merge(known, on="standard_id", how="left")
    return placed, int(placed["domain"].isna().sum())


def _evidence_by_period(evidence, standards, proficient_score, school_year_start, school_year_end,
                        used=frozenset(_PERIODS)):
    """n, mean score and proficient share per student x domain x school year x period.

    Halves and quarters are summarised only when ``used`` (the grades' periods) names
    one; the whole year always, since the evidence outside a period is taken from it.
    """
    placed, unplaced = _placed(evidence, standards)
    placed = placed[placed["domain"].notna() & placed["score"].notna()].reset_index(drop=True)
    periods = term_period(placed["assessed_on"], school_year_start=school_year_start,
                          school_year_end=school_year_end)
    base = pd.DataFrame({"student_id": placed["student_id"].to_numpy(), "domain": placed["domain"].to_numpy(),
                         "school_year": periods["school_year"].to_numpy(),
                         "score": placed["score"].to_numpy(float)})
    base["proficient"] = (base["score"] >= proficient_score).astype(float)
    # each kind of period on its own: stacking the three tripled the evidence in memory
    kinds = [periods[kind].to_numpy() for kind, named in _TERM_KINDS.items() if set(used) & set(named)]
    summary = pd.concat([_period_summary(base.assign(_period=period)) for period in [*kinds, _WHOLE_YEAR]],
                        ignore_index=True)
    # the same student's evidence in the domain and year outside the period: an independent
    # reading of their achievement, the instrument residuals() uses against regression to the mean
    year = summary.loc[summary["_period"] == _WHOLE_YEAR, [*_KEYS, "evidence_n", "_sum"]]
    year = year.rename(columns={"evidence_n": "_year_n", "_sum": "_year_sum"})
    summary = summary.merge(year, on=_KEYS, how="left")
    other_n = summary.pop("_year_n") - summary["evidence_n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        other = (summary.pop("_year_sum") - summary.pop("_sum")) / other_n
    summary["evidence_other_n"] = other_n.astype("int64")
    summary["evidence_other_mean"] = other.where(other_n > 0)
    summary["school_year"] = summary["school_year"].astype("Int64")
    return summary, unplaced


def _period_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """n, mean, proficient share and sum of the scores per student x domain x school year x period."""
    return (scores.groupby([*_KEYS, "_period"], observed=True, sort=False, dropna=True)
            .agg(evidence_n=("score", "size"), evidence_mean=("score", "mean"),
                 proficient_share=("proficient", "mean"), _sum=("score", "sum")).reset_index())


def _with_subgroups(table: pd.DataFrame, district) -> pd.DataFrame:
    """``table`` with the student's subgroup columns (Unknown for students not on file)."""
    if "students" not in district:
        return table
    labelled = subgroup_labels(district["students"])
    columns = subgroup_columns(labelled)
    out = table.merge(labelled[["student_id", *columns]].drop_duplicates("student_id"),
                      on="student_id", how="left")
    for column in columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype) and UNKNOWN in out[column].cat.categories:
            out[column] = out[column].fillna(UNKNOWN)
    return out


# --------------------------------------------------------------------------- discordance


def discordance(table: pd.DataFrame, *, high_grade: float = HIGH_GRADE,
                low_grade: float = LOW_GRADE) -> pd.DataFrame:
    """Add the two discordance indicators, 0/1 (NA without evidence or grade points).

    - ``high_grade_low_evidence``: grade points >= ``high_grade`` (an A or a B;
      B- at 2.7 is not) while the evidence is not yet proficient;
    - ``low_grade_high_evidence``: grade points <= ``low_grade`` (C, D or F;
      C+ at 2.3 is not) while the evidence is proficient.

    Parameters
    ----------
    table : DataFrame
        With ``grade_points`` and ``evidence_proficient`` (from :func:`grade_evidence`).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"grade_points": [3.7, 3.7, 1.0, 2.7, 2.0],
    ...                       "evidence_proficient": pd.array([False, True, True, False, None],
    ...                                                       dtype="boolean")})
    >>> out = discordance(table)
    >>> out["high_grade_low_evidence"].tolist(), out["low_grade_high_evidence"].tolist()
    ([1, 0, 0, 0, <NA>], [0, 0, 1, 0, <NA>])
    """
    out = table.copy()
    proficient = out["evidence_proficient"].astype("boolean")
    points = out["grade_points"].astype("Float64")
    out["high_grade_low_evidence"] = ((points >= high_grade) & ~proficient).astype("Int64")
    out["low_grade_high_evidence"] = ((points <= low_grade) & proficient).astype("Int64")
    unknown = (proficient.isna() | points.isna()).to_numpy()
    out.loc[unknown, ["high_grade_low_evidence", "low_grade_high_evidence"]] = pd.NA
    return out


# --------------------------------------------------------------------------- residuals


def residuals(table: pd.DataFrame, *, effects=("domain",), reliability_adjusted: bool = True) -> pd.DataFrame:
    """Fit ``grade_points ~ evidence_mean + effects`` district-wide; add predictions and residuals.

    Least squares on the rows with grade points, evidence and every effect
    known; each effect column enters as fixed effects (one indicator per value
    but the first, sorted). Pass ``effects=("course_id",)`` for course fixed
    effects, or ``()`` for none.

    **Error in the evidence mean (Kelley bias).** ``evidence_mean`` averages a
    few noisy scores, so an ordinary least-squares slope is attenuated toward
    0 and the residual of a group whose true achievement is lower comes out
    negative even when every teacher grades true achievement alike
    (regression to the mean). With ``reliability_adjusted`` (the default) and
    an ``evidence_other_mean`` column (from :func:`grade_evidence`: the same
    student's evidence in the same domain and year outside the term), the
    slope is instead estimated by instrumental variables, the other evidence
    instrumenting the term's (just-identified two-stage least squares, fitted on
    the rows that have both). Its error is independent of the term's, so the
    slope is not attenuated, and the residual ``grade - a - b x evidence_mean``
    of every group has mean 0 whether grades follow true achievement or the
    recorded scores, whatever the groups' true achievement. Without the
    column, with fewer than 30 rows that have it, or with
    ``reliability_adjusted=False``, the plain least-squares fit is used.

    Returns
    -------
    DataFrame
        ``table`` with ``predicted_points`` and ``residual`` (grade points minus
        predicted; NaN for rows not fitted). ``attrs`` adds ``coefficients``
        (dict: ``intercept``, ``evidence_mean``, ``<effect>[<value>]``),
        ``n_fitted``, ``r_squared`` and ``reliability_adjusted`` (whether the
        instrumented slope was used; ``n_instrumented`` rows fitted it).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"grade_points": [1.0, 2.0, 3.0, 2.5],
    ...                       "evidence_mean": [1.0, 2.0, 3.0, 2.0], "domain": ["m"] * 4})
    >>> out = residuals(table)
    >>> round(out.attrs["coefficients"]["evidence_mean"], 6), out["residual"].round(3).tolist()
    (1.0, [-0.125, -0.125, -0.125, 0.375])

    """
    effects = list(effects)
    out = table.copy()
    fitted = (out[["grade_points", "evidence_mean"]].notna().all(axis=1)
              & out[effects].notna().all(axis=1)).to_numpy()
    design = _design(out.loc[fitted], effects)
    x = design.to_numpy(float)
    y = out.loc[fitted, "grade_points"].to_numpy(float)
    instrument = _instrument(out.loc[fitted], design) if reliability_adjusted else None
    if instrument is not None:
        has, z = instrument
        coefficients = np.linalg.solve(z.T @ x[has], z.T @ y[has])
    else:
        coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    predicted = x @ coefficients
    out["predicted_points"] = _spread(fitted, predicted)
    out["residual"] = out["grade_points"].astype(float) - out["predicted_points"]
    total = float(((y - y.mean()) ** 2).sum()) if y.size else np.nan
    out.attrs = {**table.attrs, "coefficients": dict(zip(design.columns, map(float, coefficients))),
                 "n_fitted": int(fitted.sum()),
                 "r_squared": 1 - float(((y - predicted) ** 2).sum()) / total if total else np.nan,
                 "reliability_adjusted": instrument is not None,
                 "n_instrumented": int(instrument[0].sum()) if instrument is not None else 0}
    return out


_MIN_INSTRUMENTED = 30


def _instrument(rows: pd.DataFrame, design: pd.DataFrame):
    """Rows with other evidence, and the instrument matrix (the design with it in place of the term's)."""
    if "evidence_other_mean" not in rows:
        return None
    other = rows["evidence_other_mean"].to_numpy(float)
    has = np.isfinite(other)
    if has.sum() < _MIN_INSTRUMENTED:
        return None
    z = design.to_numpy(float)[has].copy()
    z[:, list(design.columns).index("evidence_mean")] = other[has]
    if np.linalg.matrix_rank(z.T @ design.to_numpy(float)[has]) < z.shape[1]:
        return None
    return has, z


def _design(rows: pd.DataFrame, effects: list[str]) -> pd.DataFrame:
    """Intercept, evidence_mean and one indicator per effect value but the first."""
    parts = [pd.DataFrame({"intercept": 1.0, "evidence_mean": rows["evidence_mean"].astype(float)},
                          index=rows.index)]
    for effect in effects:
        values = rows[effect].astype(str)
        dummies = pd.get_dummies(pd.Categorical(values, categories=sorted(values.unique())),
                                 drop_first=True, dtype=float)
        dummies.index = rows.index
        parts.append(dummies.rename(columns=lambda value, e=effect: f"{e}[{value}]"))
    return pd.concat(parts, axis=1)


def _spread(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(mask.shape, np.nan)
    out[mask] = values
    return out


# --------------------------------------------------------------------------- teacher scans


def _per_student(table: pd.DataFrame, group_columns: list[str], by_year: bool = False) -> pd.DataFrame:
    """Mean residual per teacher x student (x school year): students, not report cards, are the units."""
    rows = table[table["residual"].notna() & table["teacher_id"].notna()]
    keys = ["teacher_id", "student_id"] + (["school_year"] if by_year else [])
    means = rows.groupby(keys, observed=True, sort=True)["residual"].agg(["mean", "size"])
    groups = rows.drop_duplicates(keys).set_index(keys)[group_columns]
    return groups.join(means.rename(columns={"mean": "residual", "size": "grades"})).reset_index()


def teacher_gaps(table: pd.DataFrame, *, group_column: str, focus, min_n: int = 10, fdr: float = 0.05,
                 side: str = "both", compare: str = "between") -> pd.DataFrame:
    """Per teacher, the gap in mean residual between the focus group and the teacher's other students,
    tested against the same group's gap with the other teachers.

    Each student's residuals with a teacher (all sections, terms and years)
    are averaged first, so a student counts once per teacher; then
    :func:`equity_audit.scans.scan_gaps` takes, within each teacher, the gap
    between the students in ``focus`` and the others, and (``compare="between"``,
    the default) tests it against the same gap elsewhere, so a gap every teacher
    shares (a district pattern) does not flag each teacher; ``compare="within"``
    tests the gap against zero. Benjamini-Hochberg across the teachers scanned;
    teachers with fewer than ``min_n`` students on either side are suppressed.
    A negative ``difference`` means the focus group's grades fall further below
    what their evidence predicts.

    Parameters
    ----------
    table : DataFrame
        From :func:`residuals`: ``teacher_id``, ``student_id``, ``residual`` and ``group_column``.
    group_column : str
        E.g. ``"race_ethnicity"`` or ``"english_learner"``.
    focus
        The focus group's value, e.g. ``"Black/African American"`` or ``"Yes"``.
    min_n, fdr, side, compare
        As in :func:`equity_audit.scans.scan_gaps`.

    Returns
    -------
    DataFrame
        The :func:`~equity_audit.scans.scan_gaps` table, one row per teacher
        (``teacher_id``, ``focus_n``, ``others_n``, ``focus_estimate``,
        ``others_estimate``, ``difference`` ..., ``closer_look``).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> teachers = ["T1", "T2", "T3", "T4", "T5"]
    >>> table = pd.DataFrame({"teacher_id": np.repeat(teachers, 100),
    ...                       "student_id": [f"S{i}" for i in range(500)],
    ...                       "group": np.tile(["a"] * 30 + ["b"] * 70, 5),
    ...                       "residual": rng.normal(0, 0.3, 500)})
    >>> table.loc[table["group"] == "a", "residual"] -= 0.2  # a gap every teacher shares
    >>> table.loc[(table["teacher_id"] == "T1") & (table["group"] == "a"), "residual"] -= 1
    >>> gaps = teacher_gaps(table, group_column="group", focus="a")
    >>> gaps.loc[gaps["closer_look"], "teacher_id"].tolist()
    ['T1']
    """
    students = _per_student(table, [group_column])
    return scan_gaps(students, unit="teacher_id", group=group_column, focus=focus, outcome="residual",
                     min_n=min_n, fdr=fdr, statistic="mean", side=side, compare=compare)


def teacher_gaps_all(table: pd.DataFrame, columns: list[str], *, min_n: int = 10, fdr: float = 0.05,
                     side: str = "both") -> pd.DataFrame:
    """:func:`teacher_gaps` for every group of every column, stacked, with BH across all of them.

    Each group of a column (Unknown left out) is the focus in turn; a column
    with two groups (yes/no subgroups, Y/N district groups) is scanned once,
    for its "Yes"-like group, since the other comparison is the same one
    mirrored. The q-values and ``closer_look`` are recomputed across every
    teacher x group scanned, so scanning more groups does not mean more chance
    call-outs (as :func:`equity_audit.questions.patterns.gap_scan`). Both are
    :func:`equity_audit.scans.scan_gaps_each`, here on each student's mean
    residual per teacher and with ``two_groups_once``.

    Returns
    -------
    DataFrame
        The stacked scans with ``subgroup`` (the column) and ``group`` (the
        focus) first. ``attrs`` holds ``units_scanned`` (rows not suppressed)
        and ``flagged``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> table = pd.DataFrame({"teacher_id": np.repeat(["T1", "T2"], 100),
    ...                       "student_id": [f"S{i}" for i in range(200)],
    ...                       "el": np.tile(["Yes"] * 30 + ["No"] * 70, 2),
    ...                       "residual": rng.normal(0, 0.3, 200)})
    >>> teacher_gaps_all(table, ["el"])[["subgroup", "group", "teacher_id"]].values.tolist()
    [['el', 'Yes', 'T1'], ['el', 'Yes', 'T2']]
    """
    students = _per_student(table, list(columns))
    return scan_gaps_each(students, unit="teacher_id", columns=columns, outcome="residual", min_n=min_n,
                          fdr=fdr, two_groups_once=True, statistic="mean", side=side)


# --------------------------------------------------------------------------- rich evidence


def who_gets_rich_evidence(district, *, school_year_start: str = "08-15",
                           school_year_end: str = "06-15") -> pd.DataFrame:
    """Per student and school year: how much of their evidence is rich.

    - ``share_performance_tasks``: evidence of task type in :data:`RICH_TASKS`
      (performance_task, project) over evidence in RICH_TASKS or
      :data:`TESTED_TASKS` (quiz, test); other task types (observation ...)
      and blanks are in neither (``n_task_compared`` is the denominator);
    - ``share_dok34``: evidence at DOK 3 or 4 over evidence with a DOK (the
      evidence's own ``dok``, else its standard's; ``n_dok`` is the denominator).

    Parameters
    ----------
    district : District or dict of DataFrame
        Needs ``evidence`` and ``standards``; ``students`` adds subgroup columns.

    Returns
    -------
    DataFrame
        ``student_id``, ``school_year``, ``n_evidence``, ``n_task_compared``,
        ``share_performance_tasks``, ``n_dok``, ``share_dok34``, then the
        subgroup columns, ready for :func:`equity_audit.disaggregate.disaggregate_each`.

    Examples
    --------
    >>> import pandas as pd
    >>> district = {"evidence": pd.DataFrame({
    ...     "student_id": ["S1"] * 4, "standard_id": ["M.1"] * 4,
    ...     "assessed_on": pd.to_datetime(["2024-10-01"] * 4), "score": [3.0] * 4,
    ...     "task_type": ["project", "quiz", "observation", "test"],
    ...     "dok": pd.array([4, None, 2, 1], dtype="Int64")}),
    ...     "standards": pd.DataFrame({"standard_id": ["M.1"], "domain": ["math"], "dok": [3]})}
    >>> out = who_gets_rich_evidence(district)
    >>> out[["school_year", "n_evidence", "n_task_compared", "n_dok"]].values.tolist()
    [[2025, 4, 3, 4]]
    >>> out[["share_performance_tasks", "share_dok34"]].round(3).values.tolist()
    [[0.333, 0.5]]
    """
    placed, _ = _placed(district["evidence"], district["standards"])
    own = placed["dok"] if "dok" in placed else pd.Series(np.nan, index=placed.index)
    dok = pd.to_numeric(own, errors="coerce").astype("float64").fillna(
        pd.to_numeric(placed["standard_dok"], errors="coerce").astype("float64"))
    task = (placed["task_type"] if "task_type" in placed else pd.Series(pd.NA, index=placed.index)).astype("string")
    rich = task.isin(RICH_TASKS).to_numpy()
    compared = rich | task.isin(TESTED_TASKS).to_numpy()
    frame = pd.DataFrame({
        "student_id": placed["student_id"].to_numpy(),
        "school_year": school_year_of(placed["assessed_on"], school_year_start=school_year_start,
                                      school_year_end=school_year_end),
        "_rich": np.where(compared, rich, np.nan), "_deep": np.where(dok.notna(), dok >= 3, np.nan)})
    grouped = frame.groupby(["student_id", "school_year"], observed=True, sort=True)
    table = grouped.agg(n_evidence=("_rich", "size"), n_task_compared=("_rich", "count"),
                        share_performance_tasks=("_rich", "mean"), n_dok=("_deep", "count"),
                        share_dok34=("_deep", "mean")).reset_index()
    return _with_subgroups(table, district)


# --------------------------------------------------------------------------- time to level 4


def time_to_level4(evidence: pd.DataFrame, standards: pd.DataFrame | None = None, *,
                   proficient_score: float = 3.0) -> pd.DataFrame:
    """Days from reaching proficient on a standard to the first score of 4 on it.

    For each student x standard with a score >= ``proficient_score`` (Level 3
    reached): ``reached_on`` the first such date, ``level4_on`` the first
    date with a score of :data:`TOP_SCORE` (4), ``days_to_4`` the days between
    them (0 when the first proficient score is a 4), and ``reached_4``. A
    standard never scored 4 is right-censored: ``days_to_4`` is NaN and
    ``days_observed`` the days from ``reached_on`` to the student's last score
    on the standard (for survival methods). Student x standards never proficient
    are left out.

    Parameters
    ----------
    evidence : DataFrame
        ``student_id``, ``standard_id``, ``assessed_on``, ``score``.
    standards : DataFrame, optional
        Adds ``domain`` and ``performance_level`` of each standard.
    proficient_score : float, default 3.0

    Returns
    -------
    DataFrame
        ``student_id``, ``standard_id``, (``domain``, ``performance_level``),
        ``reached_on``, ``level4_on``, ``days_to_4``, ``days_observed``, ``reached_4``.

    Examples
    --------
    >>> import pandas as pd
    >>> evidence = pd.DataFrame({"student_id": ["S1"] * 4 + ["S2"] * 2,
    ...     "standard_id": ["A", "A", "A", "B", "A", "A"],
    ...     "assessed_on": pd.to_datetime(["2024-09-01", "2024-09-11", "2024-10-01",
    ...                                    "2024-09-01", "2024-09-01", "2024-12-01"]),
    ...     "score": [2.0, 3.0, 4.0, 2.0, 3.0, 3.0]})
    >>> out = time_to_level4(evidence)
    >>> out[["student_id", "standard_id", "days_to_4", "days_observed", "reached_4"]].values.tolist()
    [['S1', 'A', 20.0, 20.0, True], ['S2', 'A', nan, 91.0, False]]
    """
    keys = ["student_id", "standard_id"]
    rows = evidence[evidence["score"].notna() & evidence["assessed_on"].notna()]
    when = pd.to_datetime(rows["assessed_on"])
    frame = rows[keys].assign(
        _when=when, _proficient=when.where(rows["score"] >= proficient_score),
        _top=when.where(rows["score"] >= TOP_SCORE))
    table = frame.groupby(keys, observed=True, sort=True).agg(
        reached_on=("_proficient", "min"), level4_on=("_top", "min"), _last=("_when", "max")).reset_index()
    table = table[table["reached_on"].notna()].reset_index(drop=True)
    table["days_to_4"] = (table["level4_on"] - table["reached_on"]).dt.days.astype(float)
    table["reached_4"] = table["level4_on"].notna()
    table["days_observed"] = np.where(table["reached_4"], table["days_to_4"],
                                      (table["_last"] - table["reached_on"]).dt.days.astype(float))
    table = table.drop(columns="_last")
    if standards is not None:
        extra = standards.reindex(columns=["standard_id", "domain", "performance_level"]).drop_duplicates("standard_id")
        table = table.merge(extra, on="standard_id", how="left")
    first = [*keys, *[c for c in ("domain", "performance_level") if c in table]]
    return table[[*first, "reached_on", "level4_on", "days_to_4", "days_observed", "reached_4"]]


def level4_by_student(times: pd.DataFrame, students: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per student: standards at Level 3, share that reached 4, median days among those that did.

    ``median_days_to_4`` is over the standards that reached 4 only; with much
    censoring (short observation), compare ``share_reaching_4`` as well.

    Parameters
    ----------
    times : DataFrame
        From :func:`time_to_level4`.
    students : DataFrame, optional
        Adds the student's subgroup columns for disaggregation.

    Examples
    --------
    >>> import pandas as pd
    >>> times = pd.DataFrame({"student_id": ["S1", "S1", "S2"], "days_to_4": [10.0, float("nan"), 30.0],
    ...                       "reached_4": [True, False, True]})
    >>> level4_by_student(times).values.tolist()
    [['S1', 2, 0.5, 10.0], ['S2', 1, 1.0, 30.0]]
    """
    frame = times.assign(_reached=times["reached_4"].astype(float))
    table = frame.groupby("student_id", observed=True, sort=True).agg(
        standards_at_3=("_reached", "size"), share_reaching_4=("_reached", "mean"),
        median_days_to_4=("days_to_4", "median")).reset_index()
    return table if students is None else _with_subgroups(table, {"students": students})


def student_grading(table: pd.DataFrame, columns: list[str], *,
                    band_width: float = EVIDENCE_BAND_WIDTH) -> pd.DataFrame:
    """One row per student: mean grade residual, whether any of their grades is
    discordant with their evidence, and where their evidence lies.

    Students, not grade rows, are the unit, so a student with many grades does
    not weigh more. The two discordance measures are 0/1 per student (1 when
    at least one of the student's grades is discordant), so a group's value is
    the share of its students with such a grade and is compared as a rate
    (Mantel-Haenszel within evidence bands, exact when counts are small). A
    low grade with proficient evidence is rare (a few students in a hundred):
    as a share of each student's grades, compared as a mean with a normal
    approximation, one or two such students in a small group were flagged in
    30 % of null districts (issue 12); as a yes/no per student the exact test
    holds its level. Whether a grade counts as discordant depends on how far the
    evidence beside it is from the proficiency threshold, so groups whose
    evidence lies nearer to it show more discordance under the same grading;
    ``evidence_band`` lets the by-subgroup view compare students with the same
    evidence (``disaggregate(..., strata="evidence_band")``).

    Parameters
    ----------
    table : DataFrame
        From :func:`residuals` (or :func:`discordance`): ``student_id``,
        ``grade_points``, ``evidence_mean``, ``residual``, the two discordance
        indicators and ``columns``.
    columns : list of str
        Subgroup columns to carry.
    band_width : float, default 0.25
        Width of the evidence bands in score points (a quarter point of the
        proficiency scale by default), counted from 0 so that the proficient
        score is a band edge.

    Returns
    -------
    DataFrame
        ``student_id``, ``residual`` (mean over the student's grades),
        ``high_grade_low_evidence``, ``low_grade_high_evidence`` (1.0 when any
        of the student's grades is such a grade, 0.0 when none, NA when none is known),
        ``evidence_mean`` (mean of the evidence beside the student's graded
        rows), ``evidence_band`` (e.g. "2.75 to 3.00", left-closed; NA without
        evidence) and ``columns``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"student_id": ["a", "a", "b"], "grade_points": [3.0, 2.0, 4.0],
    ...                       "evidence_mean": [2.5, 3.0, 3.6], "residual": [0.2, -0.4, 0.1],
    ...                       "high_grade_low_evidence": [1, 0, 0], "low_grade_high_evidence": [0, 1, 0],
    ...                       "el": ["Yes", "Yes", "No"]})
    >>> student_grading(table, ["el"])[["student_id", "evidence_mean", "evidence_band"]].values.tolist()
    [['a', 2.75, '2.75 to 3.00'], ['b', 3.6, '3.50 to 3.75']]
    """
    measures = ["residual", "high_grade_low_evidence", "low_grade_high_evidence"]
    values = table[["student_id", *measures]].astype({m: "Float64" for m in measures[1:]})
    graded = table["grade_points"].notna().to_numpy() if "grade_points" in table else True
    values = values.assign(evidence_mean=table["evidence_mean"].astype(float).where(graded))
    grouped = values.groupby("student_id")
    # max of 0/1 over the student's grades: any discordant grade (NA only if none is known)
    per_student = grouped[["residual", "evidence_mean"]].mean().join(grouped[measures[1:]].max())
    per_student = per_student[[*measures, "evidence_mean"]].reset_index()
    per_student["evidence_band"] = evidence_bands(per_student["evidence_mean"], band_width)
    labels = table[["student_id", *columns]].drop_duplicates("student_id")
    return per_student.merge(labels, on="student_id", how="left")


def confirmed_by_residuals(table: pd.DataFrame, residual_table: pd.DataFrame, *,
                           rises_with_grades: bool) -> pd.DataFrame:
    """Keep a group's discordance flag only where its grade residual is flagged the same way.

    Students of a group whose true achievement is lower sit, within a band of
    their *recorded* evidence, lower in true achievement than other students
    of the band (regression to the mean: a mean of a few scores errs, and
    errs toward the group's mean). Where teachers grade what a student has
    truly learned (their own reading of the work, not only the recorded
    scores), that group then gets fewer A and B grades and more C, D and F
    grades at "equal evidence", from fair grading alone. On a district
    generated outside the project (grades that follow true achievement), the
    discordance comparison within evidence bands flagged 1 to 8 group gaps
    that were not there; where grades follow the recorded scores it is right.
    The grade residual (:func:`residuals`) is corrected for the error in the
    evidence mean either way. So a discordance flag stands only where the
    residual comparison of the same group is flagged too and points the same
    way: an intersection-union test, whose false-flag rate is at most the
    residual test's. A discordance gap that the residuals do not confirm is
    still shown, unflagged.

    Parameters
    ----------
    table : DataFrame
        A discordance rate by subgroup (``subgroup``, ``group``, ``difference``,
        ``flagged``), as :func:`equity_audit.disaggregate.disaggregate_each` gives it.
    residual_table : DataFrame
        The grade residual by subgroup, with the same layout and its flags.
    rises_with_grades : bool
        True for a measure that grows when grades are above the evidence
        (``high_grade_low_evidence``), False for one that grows when they are
        below it (``low_grade_high_evidence``).

    Returns
    -------
    DataFrame
        ``table`` with ``flagged`` cleared where the group's residual is not
        flagged with a difference of the sign that matches. No column says
        which: on a row the release withholds, it would tell the sign of the
        withheld difference; the residual table's own flags are published.

    Examples
    --------
    >>> import pandas as pd
    >>> low = pd.DataFrame({"subgroup": ["el"] * 2 + ["race"], "group": ["Yes", "No", "Black"],
    ...                     "difference": [0.05, -0.05, 0.04], "flagged": [True, True, True]})
    >>> residual = pd.DataFrame({"subgroup": ["el", "el", "race"], "group": ["Yes", "No", "Black"],
    ...                          "difference": [-0.2, 0.2, 0.1], "flagged": [True, True, True]})
    >>> confirmed_by_residuals(low, residual, rises_with_grades=False)["flagged"].tolist()
    [True, True, False]
    """
    keys = ["subgroup", "group"]
    residual = residual_table[[*keys, "difference", "flagged"]].rename(
        columns={"difference": "_residual_difference", "flagged": "_residual_flagged"})
    merged = table[keys].astype(str).merge(residual.astype({k: str for k in keys}).drop_duplicates(keys),
                                           on=keys, how="left")
    sign = 1.0 if rises_with_grades else -1.0
    same_way = (np.sign(pd.to_numeric(merged["_residual_difference"], errors="coerce").to_numpy(float)) * sign
                == np.sign(pd.to_numeric(table["difference"], errors="coerce").to_numpy(float)))
    agrees = merged["_residual_flagged"].fillna(False).astype(bool).to_numpy() & same_way
    flagged = table["flagged"].fillna(False).astype(bool).to_numpy()
    return table.assign(flagged=flagged & agrees)


def evidence_bands(scores: pd.Series, width: float = EVIDENCE_BAND_WIDTH) -> pd.Series:
    """Left-closed bands of ``width`` score points counted from 0, as text ("2.75 to 3.00"); NA for NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> evidence_bands(pd.Series([2.99, 3.0, None])).tolist()
    ['2.75 to 3.00', '3.00 to 3.25', <NA>]
    """
    # a hair of tolerance: a mean of quarter-point scores can land a rounding error below an edge
    low = pd.Series(np.floor(scores.astype(float).to_numpy() / width + 1e-9) * width, index=scores.index)
    edges = low.dropna().unique()
    names = {a: f"{a:.2f} to {a + width:.2f}" for a in edges}  # one name per band, not per student
    return low.map(names).astype("string")


def teacher_patterns(table: pd.DataFrame, *, group_column: str, focus, min_n: int = 10, fdr: float = 0.05,
                     years_needed: int = 2, window: int = 3) -> pd.DataFrame:
    """Teachers whose grades-against-evidence gap for ``focus`` students warrants a closer look in
    at least ``years_needed`` of the last ``window`` school years (one year is never a pattern)."""
    from equity_audit.scans import persistence, scan_gaps_by_year

    per_year = _per_student(table, [group_column], by_year=True)
    yearly = scan_gaps_by_year(per_year, unit="teacher_id", group=group_column, focus=focus, outcome="residual",
                               min_n=min_n, fdr=fdr, statistic="mean")
    return persistence(yearly, unit="teacher_id", years_needed=years_needed, window=window)
