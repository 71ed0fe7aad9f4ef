"""Pace, levels behind and projections: hand-computed cases, edge cases and planted effects."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equity_audit.config import Config
from equity_audit.data.load import load_district
from equity_audit.pace import (
    BELOW_PACE,
    INSUFFICIENT,
    ON_PACE,
    SCENARIOS,
    expected_level,
    levels_from_evidence,
    options_from_config,
    pace,
    pace_by_year,
    school_year_of,
    student_levels,
)


def levels_of(*rows) -> pd.DataFrame:
    """A levels table from (student, domain, date, level) tuples."""
    frame = pd.DataFrame(rows, columns=["student_id", "domain", "as_of", "performance_level"])
    return frame.assign(as_of=pd.to_datetime(frame["as_of"]),
                        performance_level=frame["performance_level"].astype(float))


def one(table: pd.DataFrame) -> pd.Series:
    assert len(table) == 1
    return table.iloc[0]


# ------------------------------------------------------------------------ minimum evidence
def test_one_point_is_insufficient_never_zero():
    row = one(pace(levels_of(("a", "math", "2024-09-20", 4.0))))
    assert np.isnan(row["pace"])
    assert row["status"] == INSUFFICIENT
    assert row["n_points"] == 1
    assert row["current_level"] == 4.0
    assert row["span_days"] == 0


def test_two_points_on_the_same_day_are_insufficient():
    row = one(pace(levels_of(("a", "math", "2024-09-20", 4.0), ("a", "math", "2024-09-20", 5.0)),
                   min_span_days=0))
    assert row["n_points"] == 2 and row["span_days"] == 0
    assert np.isnan(row["pace"]) and row["status"] == INSUFFICIENT


def test_span_below_min_span_days_is_insufficient():
    short = levels_of(("a", "math", "2024-09-01", 4.0), ("a", "math", "2024-11-29", 4.5))  # 89 days
    row = one(pace(short, year_basis="calendar"))
    assert row["span_days"] == 89
    assert np.isnan(row["pace"]) and row["status"] == INSUFFICIENT
    enough = one(pace(short, min_span_days=89, year_basis="calendar"))
    assert enough["pace"] == pytest.approx(0.5 / (89 / 365.25), abs=1e-9)
    just = one(pace(levels_of(("a", "math", "2024-09-01", 4.0), ("a", "math", "2024-11-30", 4.5)), year_basis="calendar"))
    assert just["span_days"] == 90
    assert just["pace"] == pytest.approx(0.5 * 365.25 / 90, abs=1e-9)


def test_falling_level_gives_a_negative_pace_below_pace():
    row = one(pace(levels_of(("a", "ela", "2023-01-01", 5.0), ("a", "ela", "2024-01-01", 4.5)), year_days=365, year_basis="calendar"))
    assert row["pace"] == -0.5
    assert row["status"] == BELOW_PACE
    assert row["first_level"] == 5.0 and row["last_level"] == 4.5 and row["current_level"] == 4.5


def test_exactly_one_level_a_year_is_on_pace():
    four_years = one(pace(levels_of(("a", "m", "2020-09-01", 3.0), ("a", "m", "2024-09-01", 7.0)), year_basis="calendar"))
    assert four_years["span_days"] == 1461  # 4 x 365.25
    assert four_years["pace"] == 1.0
    assert four_years["status"] == ON_PACE
    # 4.1 - 3.1 is 0.9999999999999996 in floating point; it must still be on pace.
    decimal = one(pace(levels_of(("a", "m", "2023-01-01", 3.1), ("a", "m", "2024-01-01", 4.1)), year_days=365, year_basis="calendar"))
    assert decimal["pace"] == 1.0 and decimal["status"] == ON_PACE
    just_below = one(pace(levels_of(("a", "m", "2023-01-01", 3.1), ("a", "m", "2024-01-01", 4.09)),
                          year_days=365, year_basis="calendar"))
    assert just_below["status"] == BELOW_PACE


# -------------------------------------------------------------------- endpoint vs regression
THREE = (("a", "ela", "2023-01-01", 2.0), ("a", "ela", "2023-03-15", 3.0), ("a", "ela", "2024-01-01", 3.0))


def test_endpoint_and_regression_on_a_hand_computed_three_point_example():
    # t = 0, 73/365 = 0.2, 1 year; y = 2, 3, 3. Endpoint: (3 - 2) / 1 = 1.
    # Regression: t-bar 0.4, y-bar 8/3; Sxy = 0.4, Sxx = 0.56, slope = 5/7.
    levels = levels_of(*THREE)
    assert one(pace(levels, year_days=365, year_basis="calendar"))["pace"] == 1.0
    slope = one(pace(levels, method="regression", year_days=365, year_basis="calendar"))
    assert slope["pace"] == pytest.approx(5 / 7, abs=1e-9)
    assert slope["status"] == BELOW_PACE
    assert slope["n_points"] == 3


def test_regression_needs_three_points():
    two = levels_of(*THREE[::2])
    assert one(pace(two, year_days=365, year_basis="calendar"))["pace"] == 1.0
    row = one(pace(two, method="regression", year_days=365, year_basis="calendar"))
    assert np.isnan(row["pace"]) and row["status"] == INSUFFICIENT


def test_regression_recovers_an_exact_line_and_ignores_point_order():
    rows = [("a", "m", d, 2.0 + 1.5 * k) for k, d in enumerate(["2021-01-01", "2022-01-01", "2023-01-01",
                                                                  "2024-01-01"])]
    shuffled = levels_of(*rows).iloc[[2, 0, 3, 1]]  # input order must not matter
    # 2021-01-01 .. 2024-01-01 has no 29 February: the points are exactly 365 days apart.
    row = one(pace(shuffled, method="regression", year_days=365, year_basis="calendar"))
    assert row["span_days"] == 1095 and row["first_level"] == 2.0 and row["current_level"] == 6.5
    assert row["pace"] == pytest.approx(1.5, abs=1e-9)


def test_unknown_method_or_basis_is_an_error():
    with pytest.raises(ValueError, match="method"):
        pace(levels_of(*THREE), method="median")
    with pytest.raises(ValueError, match="year_basis"):
        pace(levels_of(*THREE), year_basis="fiscal")
    with pytest.raises(ValueError, match="MM-DD"):
        pace(levels_of(*THREE), school_year_start="8/15")


# ------------------------------------------------------------------------------ year basis
def test_methods_note_369_days_calendar_versus_school_year():
    # methods.md 5.2: one level over 369 days is 0.9898 a year on the 365.25 basis.
    levels = levels_of(("a", "m", "2024-06-20", 4.0), ("a", "m", "2025-06-24", 5.0))
    calendar = one(pace(levels, year_basis="calendar"))
    assert calendar["span_days"] == 369
    assert calendar["pace"] == pytest.approx(365.25 / 369, abs=1e-9)
    assert round(calendar["pace"], 4) == 0.9898
    assert calendar["status"] == BELOW_PACE
    # Both dates fall in summer, one school year apart: exactly one school year.
    school = one(pace(levels, year_basis="school"))
    assert school["span_years"] == 1.0
    assert school["pace"] == 1.0 and school["status"] == ON_PACE


def test_school_basis_counts_only_the_school_window():
    # 1 Sept 2024 -> 1 June 2025 is 273 days of the 304-day window 15 Aug 2024 - 15 June 2025.
    levels = levels_of(("a", "m", "2024-09-01", 3.0), ("a", "m", "2025-06-01", 4.0))
    school = one(pace(levels, year_basis="school"))
    assert school["span_years"] == pytest.approx(273 / 304, abs=1e-12)
    assert school["pace"] == pytest.approx(304 / 273, abs=1e-9)
    assert one(pace(levels, year_basis="calendar"))["pace"] == pytest.approx(365.25 / 273, abs=1e-9)
    assert one(pace(levels))["pace"] == school["pace"]  # the school basis is the default


def test_school_basis_summer_adds_no_time():
    # Spring to the next spring crosses a summer that adds nothing: 2 May -> 2 May is one school
    # year (both windows have 304 days; a window holding 29 February has 305).
    spring = levels_of(("a", "m", "2025-05-02", 3.0), ("a", "m", "2026-05-02", 4.2))
    assert one(pace(spring, year_basis="school"))["span_years"] == pytest.approx(1.0, abs=1e-12)
    # Two summer dates of the same break: 92 calendar days but zero school time.
    summer = levels_of(("a", "m", "2024-06-16", 3.0), ("a", "m", "2024-08-14", 3.5))
    row = one(pace(summer, year_basis="school", min_span_days=0))
    assert row["span_years"] == 0.0
    assert np.isnan(row["pace"]) and row["status"] == INSUFFICIENT


def test_school_window_within_one_calendar_year():
    # A southern-hemisphere style year, 1 Feb - 10 Dec, is named by the year it ends in.
    dates = pd.to_datetime(["2024-01-31", "2024-02-01", "2024-12-20"])
    assert school_year_of(dates, school_year_start="02-01", school_year_end="12-10").tolist() == [
        2023, 2024, 2024]
    assert expected_level(5, "2024-12-20", school_year_start="02-01", school_year_end="12-10") == 6.0


# ---------------------------------------------------------------------------- pace by year
def test_school_year_of_follows_the_start_date():
    dates = pd.to_datetime(["2024-08-14", "2024-08-15", "2025-01-10", "2025-06-30", "2025-08-15"])
    assert school_year_of(dates).tolist() == [2024, 2025, 2025, 2025, 2026]


def test_pace_by_year_assigns_levels_to_school_years():
    levels = levels_of(
        ("a", "m", "2023-09-20", 2.0), ("a", "m", "2024-01-20", 2.3), ("a", "m", "2024-05-10", 2.6),
        ("a", "m", "2024-08-14", 2.7),  # summer: belongs to school year 2024, the one just ended
        ("a", "m", "2024-09-20", 2.9), ("a", "m", "2025-05-10", 3.9),
        ("b", "m", "2024-09-20", 5.0),
    )
    table = pace_by_year(levels, year_days=365, year_basis="calendar")
    assert table[["student_id", "school_year", "n_points"]].values.tolist() == [
        ["a", 2024, 4], ["a", 2025, 2], ["b", 2025, 1]]
    assert str(table["school_year"].dtype) == "Int64"
    first = table.iloc[0]
    assert first["span_days"] == 329  # 2023-09-20 -> 2024-08-14
    assert first["pace"] == pytest.approx(0.7 * 365 / 329, abs=1e-9)
    assert table.iloc[1]["pace"] == pytest.approx(1.0 * 365 / 232, abs=1e-9)
    assert table.iloc[2]["status"] == INSUFFICIENT


# --------------------------------------------------------------------- levels from evidence
STANDARDS = pd.DataFrame({
    "standard_id": ["m3a", "m3b", "m3c", "m4a", "m4b", "e2a", "e2b"],
    "domain": ["math"] * 5 + ["ela"] * 2,
    "performance_level": [3.0, 3.0, 3.0, 4.0, 4.0, 2.0, 2.0],
})


def evidence_of(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["student_id", "standard_id", "assessed_on", "score"])
    return frame.assign(assessed_on=pd.to_datetime(frame["assessed_on"]), score=frame["score"].astype(float))


def test_levels_from_evidence_hand_example():
    evidence = evidence_of(
        ("a", "m3a", "2024-09-10", 3),  # one level-3 standard: not yet a level
        ("a", "m3a", "2024-10-01", 4),  # the same standard again does not count twice
        ("a", "m3b", "2024-11-01", 2),  # not proficient
        ("a", "m3b", "2024-12-01", 3),  # second level-3 standard: level 3 from today
        ("a", "m4a", "2025-01-15", 3),
        ("a", "m3c", "2025-02-01", 1),  # a low score later does not take level 3 away
        ("a", "m4b", "2025-03-01", 4),  # second level-4 standard: level 4
        ("a", "e2a", "2025-03-01", 3),  # ela: only one standard, no ela level
        ("b", "m3a", "2024-09-10", 2),  # b never proficient: no rows
        ("a", "zzz", "2025-04-01", 4),  # unknown standard: ignored
    )
    result = levels_from_evidence(evidence, STANDARDS)
    assert list(result.columns) == ["student_id", "domain", "as_of", "performance_level"]
    assert result.assign(as_of=result["as_of"].dt.strftime("%Y-%m-%d")).values.tolist() == [
        ["a", "math", "2024-12-01", 3.0],
        ["a", "math", "2025-01-15", 3.0],
        ["a", "math", "2025-02-01", 3.0],
        ["a", "math", "2025-03-01", 4.0],
    ]
    assert str(result["as_of"].dtype) == "datetime64[ns]"


def test_levels_from_evidence_min_standards_and_threshold():
    evidence = evidence_of(("a", "m4a", "2024-09-10", 3), ("a", "m3a", "2024-10-01", 3),
                           ("a", "e2a", "2024-10-01", 2.5))
    one_standard = levels_from_evidence(evidence, STANDARDS, min_standards=1)
    # Level 4 is reached first and is not lowered by a later level-3 standard.
    assert one_standard[["domain", "performance_level"]].values.tolist() == [["math", 4.0], ["math", 4.0]]
    lenient = levels_from_evidence(evidence, STANDARDS, min_standards=1, proficient_score=2.5)
    assert lenient[["domain", "performance_level"]].values.tolist() == [
        ["ela", 2.0], ["math", 4.0], ["math", 4.0]]
    assert levels_from_evidence(evidence, STANDARDS).empty


def brute_force_levels(evidence, standards, proficient_score, min_standards):
    """Row-by-row reference implementation of the documented rule (slow, tiny data only)."""
    where = standards.set_index("standard_id")
    rows = []
    evidence = evidence[evidence["standard_id"].isin(where.index)]
    for student in sorted(evidence["student_id"].unique()):
        mine = evidence[evidence["student_id"] == student]
        domains = where.loc[mine["standard_id"], "domain"].to_numpy()
        for domain in sorted(set(domains)):
            ev = mine[domains == domain]
            for day in sorted(ev["assessed_on"].unique()):
                # each standard's latest day scored by then, its scores that day averaged
                seen = ev[ev["assessed_on"] <= day]
                latest = seen[seen["assessed_on"] == seen.groupby("standard_id")["assessed_on"].transform("max")]
                state = latest.groupby("standard_id")["score"].mean()
                shown = state[state >= proficient_score]
                per_level = where.loc[shown.index, "performance_level"].value_counts()
                reached = per_level[per_level >= min_standards]
                if len(reached):
                    rows.append([student, domain, pd.Timestamp(day), float(reached.index.max())])
    return pd.DataFrame(rows, columns=["student_id", "domain", "as_of", "performance_level"])


@pytest.mark.parametrize("min_standards", [1, 2, 3])
def test_levels_from_evidence_matches_the_rule_on_random_data(min_standards):
    rng = np.random.default_rng(min_standards)
    n = 400
    evidence = pd.DataFrame({
        "student_id": rng.choice(["s1", "s2", "s3", "s4", "s5"], n),
        "standard_id": rng.choice(STANDARDS["standard_id"], n),
        "assessed_on": pd.Timestamp("2024-09-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D"),
        "score": rng.integers(1, 5, n).astype(float),
    })
    got = levels_from_evidence(evidence, STANDARDS, min_standards=min_standards)
    want = brute_force_levels(evidence, STANDARDS, 3.0, min_standards)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got.astype({"student_id": object, "domain": object}),
                                  want.astype({"student_id": object, "domain": object}), check_dtype=False)
    # the evidence goes down as well as up: some levels fall (here with one standard a level)
    assert min_standards > 1 or (got.groupby(["student_id", "domain"])["performance_level"].diff().dropna() < 0).any()
    # and the row order of the evidence does not matter
    shuffled = levels_from_evidence(evidence.sample(frac=1, random_state=1), STANDARDS,
                                    min_standards=min_standards)
    pd.testing.assert_frame_equal(got, shuffled)


def test_levels_from_evidence_follows_a_lower_score_down():
    evidence = evidence_of(
        ("a", "m3a", "2024-09-10", 3), ("a", "m3b", "2024-09-20", 3),   # level 3
        ("a", "m4a", "2024-10-10", 4), ("a", "m4b", "2024-10-20", 3),   # level 4
        ("a", "m4b", "2024-11-10", 2),  # no longer proficient on m4b: back to level 3
        ("a", "m4b", "2024-12-10", 4),  # shown again: level 4
        ("a", "m3a", "2025-01-10", 2), ("a", "m4a", "2025-01-10", 1),  # level 3 and 4 both lost
        ("a", "m3c", "2025-02-10", 3),  # m3b and m3c: level 3 again
        ("a", "m3c", "2025-03-10", 2), ("a", "m3c", "2025-03-10", 4),  # same day: mean 3, proficient
    )
    got = levels_from_evidence(evidence, STANDARDS)
    assert got.assign(as_of=got["as_of"].dt.strftime("%m-%d"))[["as_of", "performance_level"]].values.tolist() == [
        ["09-20", 3.0], ["10-10", 3.0], ["10-20", 4.0], ["11-10", 3.0], ["12-10", 4.0], ["02-10", 3.0],
        ["03-10", 3.0]]
    # the 10 January date holds no level: it has no row rather than a made-up one
    falling = pace(got, min_span_days=0)
    assert falling["pace"].iloc[0] == pytest.approx(0.0)


def test_levels_from_evidence_feeds_pace(bundled_district):
    district = load_district(bundled_district)
    derived = levels_from_evidence(district["evidence"], district["standards"])
    assert not derived.empty
    assert derived["performance_level"].isin(district["standards"]["performance_level"]).all()
    table = pace(derived)
    assert set(table["status"]) <= {ON_PACE, BELOW_PACE, INSUFFICIENT}
    assert table["pace"].notna().mean() > 0.5


# -------------------------------------------------------------------------- expected level
def test_expected_level_at_start_middle_and_end_of_the_school_year():
    assert expected_level(3, "2024-08-15") == 3.0  # first day
    assert expected_level(3, "2025-01-14") == 3.5  # 152 of 304 days
    assert expected_level(3, "2025-06-15") == 4.0  # last day
    assert expected_level(3, "2025-07-20") == 4.0  # summer counts as the year just finished
    assert expected_level(0, "2024-10-14") == pytest.approx(60 / 304, abs=1e-12)  # K
    assert expected_level(-1, "2024-08-15") == -1.0  # PK
    # Pinned to a school year: before its start the fraction is 0, after its end 1.
    assert expected_level(3, "2024-08-01", school_year=2025) == 3.0
    assert expected_level(3, "2025-07-01", school_year=2025) == 4.0


def test_expected_level_keeps_series_index_and_missing_grades():
    grades = pd.Series(pd.array([3, None], dtype="Int64"), index=[10, 11])
    dates = pd.Series(pd.to_datetime(["2025-01-14", "2025-01-14"]), index=[10, 11])
    result = expected_level(grades, dates)
    assert list(result.index) == [10, 11]
    assert result.iloc[0] == 3.5 and np.isnan(result.iloc[1])
    with_missing_date = expected_level(pd.Series([3, 3]), pd.Series(pd.to_datetime(["2025-01-14", None])))
    assert with_missing_date.iloc[0] == 3.5 and np.isnan(with_missing_date.iloc[1])
    years = expected_level(3, "2025-01-14", school_year=pd.Series(pd.array([2025, None], dtype="Int64")))
    assert years.iloc[0] == 3.5 and np.isnan(years.iloc[1])
    assert school_year_of(pd.to_datetime(["2025-01-14", None])).tolist() == [2025, pd.NA]


def test_rows_missing_a_key_date_or_level_are_ignored():
    levels = levels_of(("a", "m", "2024-09-01", 3.0), ("a", "m", "2025-09-01", 4.0),
                       ("a", "m", "2025-10-01", 9.0), ("a", "m", None, 9.0), (None, "m", "2024-09-01", 1.0))
    levels.loc[2, "performance_level"] = np.nan
    row = one(pace(levels, year_basis="calendar"))
    assert row["n_points"] == 2 and row["pace"] == pytest.approx(365.25 / 365, abs=1e-9)


# ------------------------------------------------------------------------ the facts table
def enrollments_of(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["student_id", "school_year", "school_id", "grade_level", "entry_date"])
    return frame.assign(school_year=frame["school_year"].astype("Int64"),
                        grade_level=frame["grade_level"].astype("Int64"),
                        entry_date=pd.to_datetime(frame["entry_date"]))


def test_levels_behind_sign_and_flags():
    levels = levels_of(
        ("behind", "m", "2024-09-16", 6.0), ("behind", "m", "2025-06-02", 6.5),
        ("ahead", "m", "2024-09-16", 11.0), ("ahead", "m", "2025-06-02", 12.0),
        ("edge", "m", "2025-01-14", 8.5),  # expected 10.5 on this date: exactly 2 behind
    )
    enrollments = enrollments_of(("behind", 2025, "s1", 8, "2024-08-20"), ("ahead", 2025, "s1", 10, "2024-08-20"),
                                 ("edge", 2025, "s1", 10, "2024-08-20"))
    # two levels each: the level error cannot be estimated from the data, so it is given
    facts = student_levels(levels, enrollments, level_sd=0.1).set_index("student_id")
    behind, ahead, edge = facts.loc["behind"], facts.loc["ahead"], facts.loc["edge"]
    # 2 June 2025 is day 291 of the 304-day window.
    assert behind["expected_level"] == pytest.approx(8 + 291 / 304, abs=1e-12)
    assert behind["levels_behind"] == pytest.approx(8 + 291 / 304 - 6.5, abs=1e-9)
    assert behind["levels_behind"] > 0 and bool(behind["two_plus_behind"])
    assert ahead["levels_behind"] == pytest.approx(10 + 291 / 304 - 12.0, abs=1e-9)
    assert ahead["levels_behind"] < 0 and not bool(ahead["two_plus_behind"])
    assert edge["levels_behind"] == 2.0 and bool(edge["two_plus_behind"])  # >= threshold
    assert bool(behind["below_pace"]) and not bool(ahead["below_pace"])
    assert edge["status"] == INSUFFICIENT and pd.isna(edge["below_pace"])  # NA, not False
    assert str(facts["below_pace"].dtype) == "boolean"


def test_projections_with_a_birth_date():
    levels = levels_of(("a", "m", "2024-09-16", 8.0), ("a", "m", "2025-06-02", 8.5),
                       ("b", "m", "2024-09-16", 10.5), ("b", "m", "2025-06-02", 11.5))
    enrollments = enrollments_of(("a", 2025, "s9", 10, "2024-08-20"), ("b", 2025, "s9", 10, "2024-08-20"))
    # 2009-06-02 -> 2025-06-02 is 5844 days = 16 x 365.25: exactly 16 years old. She turns 18
    # on 2027-06-02, so she graduates with the class whose school year ends 2027-06-15:
    # 743 days after the latest level.
    students = pd.DataFrame({"student_id": ["a", "b"], "birth_date": pd.to_datetime(["2009-06-02"] * 2)})
    facts = student_levels(levels, enrollments, students, year_basis="calendar").set_index("student_id")
    a, b = facts.loc["a"], facts.loc["b"]
    pace_a = 0.5 / (259 / 365.25)
    assert a["pace"] == pytest.approx(pace_a, abs=1e-9)
    years = 743 / 365.25
    assert a["age_at_as_of"] == 16.0 and a["years_to_18"] == pytest.approx(years, abs=1e-12)
    assert a["projected_level_at_18"] == pytest.approx(8.5 + years * pace_a, abs=1e-9)
    assert a["pace_needed"] == pytest.approx(4.5 / years)  # (13 - 8.5) / years
    assert not bool(a["on_track_to_graduate"])
    assert a["years_to_target_at_pace"] == pytest.approx(4.5 / pace_a, rel=1e-8)
    assert [a[f"years_to_target_{s}"] for s in ("1_0", "1_25", "1_5", "2_0")] == [4.5, 3.6, 3.0, 2.25]
    assert [bool(a[f"reaches_by_18_{s}"]) for s in ("1_0", "1_25", "1_5", "2_0")] == [False] * 4
    # b: 1.5 levels to go, pace 1 / (259/365.25) = 1.41 a year -> projected 14.32 >= 13.
    assert bool(b["on_track_to_graduate"])
    assert b["pace_needed"] == pytest.approx(1.5 / years)
    assert [bool(b[f"reaches_by_18_{s}"]) for s in ("1_0", "1_25", "1_5", "2_0")] == [True] * 4
    assert b["years_to_target_1_0"] == 1.5


def test_projections_without_a_birth_date_and_past_18():
    levels = levels_of(("nobirth", "m", "2024-09-16", 8.0), ("nobirth", "m", "2025-06-02", 8.5),
                       ("old", "m", "2024-09-16", 11.0), ("old", "m", "2025-06-02", 11.5),
                       ("done", "m", "2025-06-02", 13.5))
    enrollments = enrollments_of(("nobirth", 2025, "s", 10, None), ("old", 2025, "s", 12, None),
                                 ("done", 2025, "s", 12, None))
    students = pd.DataFrame({"student_id": ["nobirth", "old", "done"],
                             "birth_date": pd.to_datetime([None, "2006-01-01", "2007-09-01"])})
    facts = student_levels(levels, enrollments, students).set_index("student_id")
    nob, old, done = facts.loc["nobirth"], facts.loc["old"], facts.loc["done"]
    for column in ("age_at_as_of", "years_to_18", "projected_level_at_18", "pace_needed"):
        assert np.isnan(nob[column]), column
    assert pd.isna(nob["on_track_to_graduate"]) and pd.isna(nob["reaches_by_18_1_0"])
    assert nob["years_to_target_1_0"] == 4.5  # the scenario times need no birth date
    assert old["years_to_18"] == 0.0 and np.isnan(old["pace_needed"])
    assert old["projected_level_at_18"] == 11.5 and not bool(old["on_track_to_graduate"])
    assert not bool(old["reaches_by_18_2_0"])
    # Already at the graduation level: nothing to gain, on track whatever the (unknown) pace.
    assert done["status"] == INSUFFICIENT
    assert done["years_to_target_1_0"] == 0.0 and done["years_to_target_at_pace"] == 0.0
    assert bool(done["on_track_to_graduate"]) and done["pace_needed"] == 0.0
    # Without a students table at all the projections are missing, not an error.
    bare = student_levels(levels, enrollments).set_index("student_id")
    assert bare["years_to_18"].isna().all()
    on_track = bare["on_track_to_graduate"]
    assert pd.isna(on_track["nobirth"]) and pd.isna(on_track["old"]) and bool(on_track["done"])


def test_enrollment_at_the_latest_level_date():
    levels = levels_of(("mover", "m", "2024-09-20", 3.0), ("mover", "m", "2025-02-10", 3.4),
                       ("gap", "m", "2023-09-20", 3.0), ("gap", "m", "2024-05-10", 3.6))
    enrollments = enrollments_of(
        ("mover", 2024, "s1", 2, "2023-08-20"), ("mover", 2025, "s1", 3, "2024-08-20"),
        ("mover", 2025, "s2", 3, "2025-01-06"),  # moved mid-year, before the latest level
        ("mover", 2025, "s3", 3, "2025-03-01"),  # and again after it: not yet there on 10 Feb
        ("gap", 2022, "s1", 1, "2021-08-20"), ("gap", 2026, "s4", 5, "2025-08-20"),  # no 2024 row
    )
    facts = student_levels(levels, enrollments).set_index("student_id")
    assert facts.loc["mover", ["school_year", "school_id", "grade_level"]].tolist() == [2025, "s2", 3]
    # No enrollment in school year 2024: the latest year (2026, grade 5) is used, and its
    # grade moved back two years (grade 3) for the expected level on 10 May 2024.
    gap = facts.loc["gap"]
    assert [gap["school_year"], gap["school_id"], gap["grade_level"]] == [2026, "s4", 5]
    assert gap["expected_level"] == pytest.approx(3 + 269 / 305, abs=1e-12)  # 2023-08-15 -> 2024-06-15: 305 days


def test_student_levels_columns_and_one_row_per_student_and_domain():
    levels = levels_of(*THREE, ("a", "math", "2024-01-01", 4.0), ("b", "ela", "2024-01-01", 2.0))
    facts = student_levels(levels, enrollments_of(("a", 2024, "s", 3, None), ("b", 2024, "s", 3, None)))
    assert facts[["student_id", "domain"]].values.tolist() == [["a", "ela"], ["a", "math"], ["b", "ela"]]
    for column in ("student_id", "domain", "school_year", "school_id", "grade_level", "current_level",
                   "expected_level", "levels_behind", "pace", "n_points", "status", "below_pace",
                   "two_plus_behind", "age_at_as_of", "years_to_18", "projected_level_at_18", "pace_needed",
                   "on_track_to_graduate", "years_to_target_1_0", "years_to_target_1_25",
                   "years_to_target_1_5", "years_to_target_2_0", "reaches_by_18_1_0", "reaches_by_18_2_0"):
        assert column in facts.columns, column
    assert SCENARIOS == (1.0, 1.25, 1.5, 2.0)


def test_options_from_config_feed_student_levels():
    options = options_from_config(Config(pace_method="regression", year_basis="school", min_span_days=30))
    assert options["method"] == "regression" and options["year_basis"] == "school"
    assert options["min_span_days"] == 30 and options["graduation_level"] == 13.0
    facts = student_levels(levels_of(*THREE), enrollments_of(("a", 2023, "s", 2, None)), **options)
    assert facts["n_points"].tolist() == [3]


def test_empty_levels_give_an_empty_table():
    empty = levels_of(*THREE).iloc[:0]
    table = pace(empty)
    assert table.empty and {"student_id", "domain", "pace", "status", "n_points"} <= set(table.columns)
    assert pace_by_year(empty).empty


# ---------------------------------------------------------------------- planted effects
def per_student_pace(district, **options) -> pd.DataFrame:
    """Each student's pace averaged over domains, with the subgroup flags."""
    table = pace(district["levels"], **options)
    mean = table.groupby("student_id")["pace"].mean()
    return district["students"].set_index("student_id").join(mean, how="inner").dropna(subset=["pace"])


def gap(frame: pd.DataFrame, mask: pd.Series) -> float:
    return frame.loc[mask, "pace"].mean() - frame.loc[~mask, "pace"].mean()


@pytest.fixture(scope="module")
def bundled(bundled_district):
    return load_district(bundled_district)


@pytest.mark.parametrize("options", [{}, {"method": "regression"}, {"year_basis": "school"}])
def test_recovers_the_planted_english_learner_pace_gap(bundled, options):
    students = per_student_pace(bundled, **options)
    el = students["english_learner"].fillna(False).astype(bool)
    # Planted: -0.35 levels a year (measured -0.33 to -0.36 across methods and bases).
    assert -0.45 < gap(students, el) < -0.25


def test_recovers_the_hidden_low_income_disability_cell(bundled):
    students = per_student_pace(bundled)
    low_income = students["low_income"].fillna(False).astype(bool)
    disability = students["disability"].fillna(False).astype(bool)
    # Planted: the cell is 0.47 below the rest (measured -0.47) ...
    assert -0.6 < gap(students, low_income & disability) < -0.35
    # ... while both marginal gaps were planted at zero (measured -0.02 and -0.00).
    assert abs(gap(students, low_income)) < 0.06
    assert abs(gap(students, disability)) < 0.06


def test_facts_show_english_learners_further_behind(bundled):
    facts = student_levels(bundled["levels"], bundled["enrollments"], bundled["students"])
    assert not facts.duplicated(["student_id", "domain"]).any()
    assert len(facts) == len(bundled["levels"].drop_duplicates(["student_id", "domain"]))
    assert facts["school_id"].notna().all() and facts["grade_level"].notna().all()
    el = facts.merge(bundled["students"][["student_id", "english_learner"]], on="student_id")
    by = el.groupby("english_learner")[["levels_behind", "below_pace", "two_plus_behind"]].mean()
    assert by.loc[True, "levels_behind"] > by.loc[False, "levels_behind"] + 0.5
    assert by.loc[True, "below_pace"] > by.loc[False, "below_pace"]
    assert by.loc[True, "two_plus_behind"] > by.loc[False, "two_plus_behind"]


def test_null_district_shows_no_english_learner_gap(tmp_path):
    from equity_audit.data.synthetic import write_district

    write_district(tmp_path, students=3000, seed=5, null=True)
    students = per_student_pace(load_district(tmp_path))
    el = students["english_learner"].fillna(False).astype(bool)
    assert el.sum() > 300
    assert abs(gap(students, el)) < 0.05  # measured -0.002
    low_income = students["low_income"].fillna(False).astype(bool)
    disability = students["disability"].fillna(False).astype(bool)
    assert abs(gap(students, low_income & disability)) < 0.05  # measured -0.011


def test_summer_birthday_graduates_with_the_next_class():
    levels = levels_of(("s", "m", "2024-09-16", 8.0), ("s", "m", "2025-06-02", 8.5))
    enrollments = enrollments_of(("s", 2025, "s9", 10, "2024-08-20"))
    students = pd.DataFrame({"student_id": ["s"], "birth_date": pd.to_datetime(["2009-07-01"])})
    row = student_levels(levels, enrollments, students).iloc[0]
    # turns 18 on 2027-07-01, after that school year ended on 2027-06-15: class of 2028
    expected = (pd.Timestamp("2028-06-15") - pd.Timestamp("2025-06-02")).days / 365.25
    assert row["years_to_18"] == pytest.approx(expected, abs=1e-12)
