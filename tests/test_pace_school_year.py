"""Pace on the school-year basis, minimum evidence, measurement error and unit crediting.

Every district here is simulated with a truth we set: growth happens only inside the
school-year window, levels are read with noise, and nothing names the bundled district.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equity_audit.config import Config
from equity_audit.pace import (
    INSUFFICIENT,
    TOO_FEW,
    TOO_SHORT,
    enrollment_spells,
    options_from_config,
    pace,
    pace_by_unit,
    pace_by_year,
    roster_spells,
    shrunk_pace,
    student_levels,
)
from equity_audit.questions.needs import unit_pace_facts

# fall, winter and spring readings of two school years (15 Aug - 15 June windows of 304 days)
DATES = pd.to_datetime(["2023-09-20", "2024-01-20", "2024-05-20", "2024-09-20", "2025-01-20", "2025-05-20"])
WINDOW_START = pd.to_datetime(["2023-08-15", "2023-08-15", "2023-08-15", "2024-08-15", "2024-08-15",
                               "2024-08-15"])
WINDOW_DAYS = np.array([305, 305, 305, 304, 304, 304])  # the 2023-24 window holds 29 February
SCHOOL_TIME = (DATES - WINDOW_START).days.to_numpy() / WINDOW_DAYS + np.array([0, 0, 0, 1, 1, 1])


def simulated(seed: int, n: int = 1500, true_pace=1.0, noise: float = 0.15) -> pd.DataFrame:
    """Levels of ``n`` students in two domains; growth only in school time, Gaussian reading error."""
    rng = np.random.default_rng(seed)
    rates = np.broadcast_to(np.asarray(true_pace, dtype=float), (n,))
    start = rng.normal(4.0, 1.0, (n, 2))
    level = (start[:, :, None] + rates[:, None, None] * SCHOOL_TIME[None, None, :]
             + rng.normal(0, noise, (n, 2, len(DATES))))
    return pd.DataFrame({
        "student_id": np.repeat([f"s{i:05d}" for i in range(n)], 2 * len(DATES)),
        "domain": np.tile(np.repeat(["ela", "math"], len(DATES)), n),
        "as_of": np.tile(DATES.to_numpy(), 2 * n),
        "performance_level": level.ravel(),
    })


def enrolled(levels: pd.DataFrame) -> pd.DataFrame:
    ids = levels["student_id"].unique()
    return pd.DataFrame({"student_id": ids, "school_year": 2025, "school_id": "s1", "grade_level": 5})


# --------------------------------------------------------------------------- school basis
def test_school_basis_is_the_default_everywhere():
    levels = simulated(1, n=40)
    school = pace(levels, year_basis="school")["pace"]
    assert pace(levels)["pace"].equals(school)
    assert not np.allclose(pace(levels, year_basis="calendar")["pace"], school)
    by_year = pace_by_year(levels)
    assert by_year["pace"].equals(pace_by_year(levels, year_basis="school")["pace"])
    facts = student_levels(levels, enrolled(levels))
    assert np.allclose(facts["pace"], school)
    assert Config().year_basis == "school" and options_from_config(Config())["year_basis"] == "school"


def test_growth_only_in_school_time_gives_one_level_a_year_on_the_school_basis():
    levels = simulated(2, n=800, noise=0.0)
    assert pace(levels)["pace"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    within = pace_by_year(levels)["pace"].to_numpy()
    assert within == pytest.approx(1.0, abs=1e-9)
    # on the calendar basis a span with one summer inside reads differently: Sept 2023 -> May 2025
    # is 608 calendar days
    calendar = pace(levels, year_basis="calendar")["pace"].to_numpy()
    assert calendar == pytest.approx((SCHOOL_TIME[-1] - SCHOOL_TIME[0]) * 365.25 / 608, abs=1e-9)
    assert np.abs(calendar - 1.0).min() > 0.05  # the calendar basis misstates a true 1.0


# ------------------------------------------------------------------------ minimum evidence
def test_too_few_levels_and_too_short_a_span_give_no_pace_with_a_reason():
    levels = pd.DataFrame({
        "student_id": ["two"] * 2 + ["short"] * 3 + ["ok"] * 3, "domain": "m",
        "as_of": pd.to_datetime(["2024-09-01", "2025-05-01",
                                 "2024-09-01", "2024-10-15", "2024-12-20",
                                 "2024-09-01", "2025-01-10", "2025-05-01"]),
        "performance_level": [3.0, 4.0, 3.0, 3.2, 3.4, 3.0, 3.5, 4.0]})
    table = pace(levels, min_points=3, min_span_years=0.5).set_index("student_id")
    assert table.loc["two", "insufficient_reason"] == TOO_FEW
    # 1 Sept -> 20 Dec is 110 days: past 90 calendar days but 0.36 of a school year
    assert table.loc["short", "insufficient_reason"] == TOO_SHORT
    assert table.loc["short", "span_years"] == pytest.approx(110 / 304)
    for student in ("two", "short"):
        assert np.isnan(table.loc[student, "pace"]) and table.loc[student, "status"] == INSUFFICIENT
    assert pd.isna(table.loc["ok", "insufficient_reason"]) and table.loc["ok", "pace"] > 1
    assert table.attrs["insufficient"] == {TOO_FEW: 1, TOO_SHORT: 1}
    # without the settings both would have had a pace
    assert pace(levels)["pace"].notna().all()


def test_settings_reach_student_levels():
    levels = simulated(3, n=30).query("as_of < '2024-03-01'")  # two readings of one school year
    facts = student_levels(levels, enrolled(levels), **options_from_config(Config()))
    assert facts["pace"].isna().all() and (facts["insufficient_reason"] == TOO_FEW).all()
    assert facts["below_pace"].isna().all()
    assert facts.attrs["insufficient"][TOO_FEW] == len(facts)


# ---------------------------------------------------------------------- measurement error
def test_standard_errors_follow_the_pooled_level_error():
    levels = simulated(4, n=300, noise=0.2)
    table = pace(levels, method="regression")
    # pooled residual SD of each student's own line recovers the reading error
    assert table.attrs["level_sd"]["math"] == pytest.approx(0.2, rel=0.06)
    one = levels[(levels["student_id"] == "s00000") & (levels["domain"] == "ela")]
    t = SCHOOL_TIME
    sigma = table.attrs["level_sd"]["ela"]
    row = table.iloc[0]
    assert row["pace_se"] == pytest.approx(sigma / np.sqrt(((t - t.mean()) ** 2).sum()), rel=1e-9)
    slope = np.polyfit(t, one["performance_level"].to_numpy(), 1)[0]
    assert row["pace"] == pytest.approx(slope, abs=1e-8)
    assert row["pace_low"] < row["pace"] < row["pace_high"]
    endpoint = pace(levels, level_sd=0.2).iloc[0]
    assert endpoint["pace_se"] == pytest.approx(0.2 * np.sqrt(2) / endpoint["span_years"], rel=1e-12)


@pytest.mark.parametrize("shrinkage", [False, True])
@pytest.mark.parametrize("method", ["endpoint", "regression"])
def test_a_district_on_pace_flags_few_students(method, shrinkage):
    # true pace 1.0 for every student; readings with realistic error
    levels = simulated(5, n=1500, noise=0.2)
    config = Config(pace_method=method, pace_shrinkage=shrinkage)
    facts = student_levels(levels, enrolled(levels), **options_from_config(config))
    assert facts["pace"].notna().all()
    assert facts["below_pace"].astype(float).mean() <= 0.05
    # the point estimate alone would call a large share of them below pace
    assert (facts["pace"] < 1.0).mean() > 0.3


@pytest.mark.parametrize("shrinkage", [False, True])
def test_students_truly_below_pace_are_flagged(shrinkage):
    rates = np.r_[np.full(300, 0.4), np.full(1200, 1.1)]
    levels = simulated(6, n=1500, true_pace=rates, noise=0.2)
    config = Config(pace_method="regression", pace_shrinkage=shrinkage)
    facts = student_levels(levels, enrolled(levels), **options_from_config(config))
    slow = facts["student_id"].str[1:].astype(int) < 300
    assert facts.loc[slow, "below_pace"].astype(float).mean() > 0.8
    assert facts.loc[~slow, "below_pace"].astype(float).mean() < 0.05


def test_shrinkage_with_no_true_spread_shrinks_fully():
    table = pd.DataFrame({"domain": ["a"] * 4 + ["b"] * 2, "pace": [0.9, 1.1, 1.0, 1.0, 0.0, 2.0],
                          "pace_se": [0.5] * 4 + [0.1, 0.1]})
    out = shrunk_pace(table)["pace_shrunk"]
    assert out[:4].tolist() == pytest.approx([1.0] * 4)  # variance below the error: tau² = 0
    # spread far beyond the error: hardly shrunk (tau² = 2 - 0.01)
    assert out[4] == pytest.approx(1 - (2 - 0.01) / (2 - 0.01 + 0.01), abs=1e-12)


def test_shrinkage_of_text_domains_with_no_pace_error_is_unknown_not_an_error():
    # a small district whose domains are text and whose paces have no error yet (two levels each)
    table = pd.DataFrame({"domain": pd.array(["m", "r", "m"], dtype="string"), "pace": [1.0, None, 0.8],
                          "pace_se": [None, None, None]})
    out = shrunk_pace(table)
    assert out["pace_shrunk"].isna().all() and out["pace_shrunk_se"].isna().all()
    assert out["pace_shrunk"].dtype == "float64"


# ------------------------------------------------------------------------- unit crediting
def test_a_student_who_moves_mid_year_credits_each_school_with_its_part():
    levels = pd.DataFrame({
        "student_id": "a", "domain": "m",
        "as_of": pd.to_datetime(["2023-09-20", "2024-05-20",  # an earlier year, at another school
                                 "2024-09-01", "2024-10-15", "2024-12-01", "2025-01-25",
                                 "2025-02-10", "2025-03-20", "2025-05-01", "2025-06-10"]),
        "performance_level": [1.0, 1.2, 3.0, 3.3, 3.6, 3.9, 4.0, 4.0, 4.0, 4.0]})
    enrollments = pd.DataFrame({
        "student_id": "a", "school_year": [2024, 2025, 2025], "school_id": ["old", "fast", "flat"],
        "entry_date": pd.to_datetime([None, None, "2025-02-03"]),
        "exit_date": pd.to_datetime([None, "2025-01-31", None])})
    spells = enrollment_spells(enrollments)
    table = pace_by_unit(levels, spells, min_points=3, min_span_days=60).set_index("school_id")
    fast, flat = table.loc["fast"], table.loc["flat"]
    assert fast["n_points"] == 4 and flat["n_points"] == 4
    assert fast["first_level"] == 3.0 and fast["last_level"] == 3.9  # nothing from the old school
    assert fast["pace"] == pytest.approx(0.9 / ((pd.Timestamp("2025-01-25") - pd.Timestamp("2024-09-01")).days
                                                / 304))
    assert flat["pace"] == 0.0
    # two levels in the earlier spell: too few for a pace, counted rather than guessed
    assert np.isnan(table.loc["old", "pace"]) and table.loc["old", "insufficient_reason"] == TOO_FEW
    # the whole history would have credited the growth at the first school to the second
    whole = pace(levels[levels["as_of"] >= "2024-08-15"])["pace"].iloc[0]
    assert whole > flat["pace"] + 0.5


def test_teachers_and_schools_are_credited_only_with_their_year():
    levels = simulated(7, n=60, noise=0.0, true_pace=np.r_[np.full(30, 0.5), np.full(30, 1.5)])
    students = levels["student_id"].unique()
    # in 2024 every student had T1; in 2025 the first half T2, the second half T3
    sections = pd.DataFrame({"section_id": ["x1", "y1", "x2", "y2", "z2", "w2"],
                             "school_year": [2024, 2024, 2025, 2025, 2025, 2025],
                             "teacher_id": ["T1", "T1", "T2", "T2", "T3", "T3"],
                             "domain": ["ela", "math"] * 3, "plc_id": "P"})
    rosters = pd.concat([
        pd.DataFrame({"student_id": students, "section_id": "x1"}),
        pd.DataFrame({"student_id": students, "section_id": "y1"}),
        pd.DataFrame({"student_id": students[:30], "section_id": "x2"}),
        pd.DataFrame({"student_id": students[:30], "section_id": "y2"}),
        pd.DataFrame({"student_id": students[30:], "section_id": "z2"}),
        pd.DataFrame({"student_id": students[30:], "section_id": "w2"}),
    ])
    district = {"levels": levels, "rosters": rosters, "sections": sections,
                "enrollments": enrolled(levels)}
    facts = unit_pace_facts(district, unit="teacher_id")
    by_teacher = facts.groupby("teacher_id")["pace"].mean()
    assert set(by_teacher.index) == {"T2", "T3"}  # the latest year only
    assert by_teacher["T2"] == pytest.approx(0.5) and by_teacher["T3"] == pytest.approx(1.5)
    assert (facts["n_points"] == 3).all()
    spells = roster_spells(rosters, sections)
    earlier = pace_by_unit(levels, spells[spells["school_year"] == 2024], unit="teacher_id")
    assert earlier["pace"].mean() == pytest.approx(1.0) and (earlier["n_points"] == 3).all()


def test_teacher_pace_gaps_do_not_credit_a_teacher_with_an_earlier_year():
    from equity_audit.questions.patterns import teacher_pace_gaps

    # English learners grew slowly in 2024 (with T1) and like everyone else in 2025 (with T2)
    rng = np.random.default_rng(8)
    n = 120
    el = np.arange(n) < 40
    levels = simulated(9, n=n, noise=0.05)
    second_year = levels["as_of"] >= "2024-08-15"
    slow = levels["student_id"].str[1:].astype(int).to_numpy() < 40
    t = np.select([levels["as_of"] == d for d in DATES], SCHOOL_TIME)
    levels["performance_level"] -= np.where(slow & ~second_year, 0.6 * t, np.where(slow, 0.6 * 0.8, 0.0))
    students = pd.DataFrame({"student_id": [f"s{i:05d}" for i in range(n)], "english_learner": el,
                             "low_income": rng.random(n) < 0.5})
    sections = pd.DataFrame({"section_id": ["a", "b", "c", "d"], "school_year": [2024, 2024, 2025, 2025],
                             "teacher_id": ["T1", "T1", "T2", "T2"], "domain": ["ela", "math"] * 2})
    rosters = pd.DataFrame({"student_id": np.tile(students["student_id"], 4),
                            "section_id": np.repeat(["a", "b", "c", "d"], n)})
    district = {"levels": levels, "students": students, "sections": sections, "rosters": rosters,
                "enrollments": enrolled(levels)}
    current = pd.DataFrame({"school_year": [2025]})
    gaps = teacher_pace_gaps(district, current, ["english_learner"], min_n=10)
    row = gaps[gaps["teacher_id"] == "T2"].iloc[0]
    assert abs(row["difference"]) < 0.1 and not bool(row["closer_look"])
    # over the whole history the slower first year would have been charged to T2
    whole = pace(levels).assign(el=lambda f: f["student_id"].str[1:].astype(int) < 40)
    assert whole.groupby("el")["pace"].mean().diff().iloc[-1] < -0.2
