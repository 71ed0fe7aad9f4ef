"""Chronic absenteeism: the attendance table, the student-year rate and its scans, on simulated truth."""
import numpy as np
import pandas as pd
import pytest

from districts import TODAY, write_district
from equity_audit.data.load import load_district
from equity_audit.exceptions import ConfigError, DataValidationError
from equity_audit.questions.attendance import (absence_by_student_year, chronic_absence_by_group,
                                               chronic_absence_by_school, excluded_student_years)


def simulated(seed: int, *, group_extra: float = 0.0, school_extra: float = 0.0, n: int = 3000):
    """Absence days drawn from a known daily rate: group "Yes" and school U03 get the extras."""
    rng = np.random.default_rng(seed)
    students = pd.DataFrame({"student_id": [f"s{i}" for i in range(n)],
                             "flag": np.where(rng.random(n) < 0.3, "Yes", "No")})
    school = rng.integers(0, 20, n)
    daily = 0.05 + group_extra * (students["flag"] == "Yes") + school_extra * (school == 3)
    attendance = pd.DataFrame({"student_id": students["student_id"], "school_year": 2025,
                               "school_id": [f"U{k:02d}" for k in school], "days_enrolled": 170,
                               "days_absent": rng.binomial(170, daily)})
    return absence_by_student_year(attendance), students


def test_days_are_summed_over_the_schools_of_a_year():
    attendance = pd.DataFrame({"student_id": ["a", "a", "b", "c"], "school_year": 2025,
                               "school_id": ["S1", "S2", "S1", "S2"], "days_enrolled": [60, 110, 170, 5],
                               "days_absent": [9, 8, 16, 3]})
    absence = absence_by_student_year(attendance).set_index("student_id")
    assert absence.loc["a", "days_absent"] == 17 and absence.loc["a", "chronic"]
    assert absence.loc["a", "school_id"] == "S2"
    assert not absence.loc["b", "chronic"]
    assert pd.isna(absence.loc["c", "chronic"])
    assert excluded_student_years(absence)["rows"].tolist() == [1]


def test_a_group_with_more_absence_is_flagged_and_the_rest_is_not():
    absence, students = simulated(1, group_extra=0.02)
    table = chronic_absence_by_group(absence, students, ["flag"]).set_index("group")
    assert table.loc["Yes", "flagged"] and table.loc["Yes", "difference"] > 0
    assert table.loc["Yes", "low"] < table.loc["Yes", "estimate"] < table.loc["Yes", "high"]


def test_one_school_with_more_absence_is_the_only_one_called_out():
    absence, _ = simulated(2, school_extra=0.04)
    scan = chronic_absence_by_school(absence)
    assert scan.loc[scan["closer_look"], "school_id"].tolist() == ["U03"]


def test_a_null_district_is_rarely_flagged():
    flagged = []
    for seed in range(20):
        absence, students = simulated(100 + seed)
        groups = chronic_absence_by_group(absence, students, ["flag"])
        schools = chronic_absence_by_school(absence)
        flagged.append(bool(groups["flagged"].any() or schools["closer_look"].any()))
    assert sum(flagged) <= 3


def test_threshold_must_be_a_share():
    absence = pd.DataFrame({"student_id": ["a"], "school_year": [2025], "days_enrolled": [10], "days_absent": [1]})
    with pytest.raises(ConfigError, match="share between 0 and 1"):
        absence_by_student_year(absence, threshold=10)


def test_the_loader_reads_attendance_and_refuses_more_absent_than_enrolled_days(tmp_path):
    good = "student_id,school_year,school_id,days_enrolled,days_absent\nS1,2025,SCH1,170,20\nS3,2025,SCH2,150,3\n"
    district = load_district(write_district(tmp_path / "good", {"attendance": good}), today=TODAY)
    assert len(district["attendance"]) == 2
    bad = good + "S2,2025,SCH1,40,41\n"
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "bad", {"attendance": bad}), today=TODAY)
    [problem] = caught.value.problems
    assert (problem.file, problem.column, problem.rows, problem.values) == (
        "attendance.csv", "days_absent", (4,), ("41",))
