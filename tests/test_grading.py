"""Grades against evidence: hand-checked rules, and the planted and null synthetic districts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from equity_audit import load_district
from equity_audit.questions.grading import (
    discordance, grade_evidence, grade_points, level4_by_student, residuals, teacher_gaps,
    teacher_gaps_all, term_period, time_to_level4, who_gets_rich_evidence,
)
from equity_audit.data.subgroups import subgroup_columns
from equity_audit.data.synthetic import write_district

BLACK = "Black/African American"


# --------------------------------------------------------------------------- grade points


def test_letters_with_plus_and_minus():
    letters = ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F"]
    expected = [4.0, 4.0, 3.7, 3.3, 3.0, 2.7, 2.3, 2.0, 1.7, 1.3, 1.0, 0.7, 0.0]
    assert grade_points(pd.Series(letters)).tolist() == expected
    assert grade_points(pd.Series([" b+ ", "c -", "a\u2212"])).tolist() == [3.3, 1.7, 3.7]


def test_scale_overrides_a_plus():
    assert grade_points(pd.Series(["A+", "A"]), scale={"A+": 4.3}).tolist() == [4.3, 4.0]


def test_numbers_up_to_4_3_are_points():
    assert grade_points(pd.Series(["0", "2.5", "4.3", "4"])).tolist() == [0.0, 2.5, 4.3, 4.0]


def test_percent_bands():
    percents = ["100", "90", "89.9", "80", "79.99", "70", "69", "60", "59.9", "4.5", "85%", "3%"]
    expected = [4.0, 4.0, 3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 0.0, 0.0, 3.0, 0.0]
    assert grade_points(pd.Series(percents)).tolist() == expected


def test_unknown_grades_are_nan():
    points = grade_points(pd.Series(["P", "", None, "-1", "101", "E", "AB"]))
    assert points.isna().all()


def test_grade_points_reads_a_table_and_keeps_its_index():
    table = pd.DataFrame({"grade": ["B", "x"]}, index=[7, 9])
    points = grade_points(table)
    assert points.index.tolist() == [7, 9]
    assert points.loc[7] == 3.0 and np.isnan(points.loc[9])


# --------------------------------------------------------------------------- terms


def test_term_period_boundaries():
    dates = pd.to_datetime(["2024-08-15", "2024-08-14", "2025-01-31", "2025-02-01",
                            "2024-11-07", "2024-11-08", "2025-04-08", "2025-04-09", "2025-07-20"])
    out = term_period(dates)
    assert out["school_year"].tolist() == [2025, 2024, 2025, 2025, 2025, 2025, 2025, 2025, 2025]
    assert out["half"].tolist() == ["s1", "s2", "s1", "s2", "s1", "s1", "s2", "s2", "s2"]
    # q1/q2 split 15 Aug - 1 Feb (170 days) at 8 Nov; q3/q4 split 1 Feb - 15 Jun (134 days) at 9 Apr.
    assert out["quarter"].tolist() == ["q1", "q4", "q2", "q3", "q1", "q2", "q3", "q4", "q4"]


def _hand_district():
    grades = pd.DataFrame({
        "student_id": ["S1", "S1", "S1", "S1", "S1", "S2"],
        "section_id": ["X", "X", "X", "X", "Y", "X"],
        "term": ["s1", "S2", "q1", "year", "s1", "s1"],
        "grade": ["B", "A-", "C", "B+", "A", "C"]})
    sections = pd.DataFrame({"section_id": ["X", "Y"], "school_year": [2025, 2025], "school_id": ["H", "H"],
                             "teacher_id": ["T1", "T2"], "course_id": ["M1", "E1"],
                             "domain": ["math", "ela"], "plc_id": ["P", "P"]})
    evidence = pd.DataFrame({
        "student_id": ["S1"] * 5,
        "standard_id": ["M.1", "M.1", "M.2", "M.1", "E.1"],
        "assessed_on": pd.to_datetime(["2024-09-01", "2024-12-01", "2025-03-01", "2024-03-01", "2024-09-01"]),
        "score": [2.0, 3.0, 4.0, 1.0, 4.0]})
    standards = pd.DataFrame({"standard_id": ["M.1", "M.2", "E.1"], "domain": ["math", "math", "ela"],
                              "dok": [2, 3, 1]})
    students = pd.DataFrame({"student_id": ["S1", "S2"], "race_ethnicity": [BLACK, "White"],
                             "english_learner": pd.array([True, None], dtype="boolean")})
    return {"grades": grades, "sections": sections, "evidence": evidence, "standards": standards,
            "students": students}


def test_grade_evidence_matches_terms_domain_and_year():
    table = grade_evidence(_hand_district())
    assert len(table) == 6  # no grade dropped
    # s1 -> Sep + Dec scores (2, 3); S2 -> March (4); q1 -> Sep (2); year -> all three.
    # The 2024-03-01 score is school year 2024 and the ela score another domain: never used for X.
    assert table["evidence_n"].tolist() == [2, 1, 1, 3, 1, 0]
    assert table["evidence_mean"].tolist()[:5] == [2.5, 4.0, 2.0, 3.0, 4.0]
    assert table["proficient_share"].tolist()[:5] == [0.5, 1.0, 0.0, pytest.approx(2 / 3), 1.0]
    assert table["evidence_proficient"].tolist() == [False, True, False, True, True, pd.NA]
    assert table["grade_points"].tolist() == [3.0, 3.7, 2.0, 3.3, 4.0, 2.0]
    assert table["teacher_id"].tolist() == ["T1", "T1", "T1", "T1", "T2", "T1"]
    assert table["english_learner"].astype(str).tolist() == ["Yes"] * 5 + ["Unknown"]
    assert table.attrs["rows_without_evidence"] == 1
    assert np.isnan(table["evidence_mean"].iloc[5])



@pytest.mark.parametrize("terms", [["s1", "S2"], ["q1"], ["year"]])
def test_grades_of_one_kind_of_term_get_the_evidence_they_get_beside_other_kinds(terms):
    # only the kinds of term the grades use are summarised (the whole year always, for the evidence
    # outside a term): each grade's evidence must not depend on which other terms are graded
    district = _hand_district()
    full = grade_evidence(district)
    rows = district["grades"]["term"].isin(terms).to_numpy()
    alone = grade_evidence({**district, "grades": district["grades"][rows].reset_index(drop=True)})
    pd.testing.assert_frame_equal(alone, full[rows].reset_index(drop=True), check_dtype=False)


# --------------------------------------------------------------------------- discordance


def test_discordance_on_a_hand_table():
    table = pd.DataFrame({
        "grade_points": [4.0, 3.0, 2.7, 2.3, 2.0, 0.0, 3.7, 1.0, np.nan],
        "evidence_proficient": pd.array([False, False, False, True, True, True, True, False, False],
                                        dtype="boolean")})
    out = discordance(table)
    assert out["high_grade_low_evidence"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, pd.NA]
    assert out["low_grade_high_evidence"].tolist() == [0, 0, 0, 0, 1, 1, 0, 0, pd.NA]


def test_discordance_is_na_without_evidence():
    table = pd.DataFrame({"grade_points": [3.7, 1.0],
                          "evidence_proficient": pd.array([None, None], dtype="boolean")})
    out = discordance(table)
    assert out["high_grade_low_evidence"].isna().all() and out["low_grade_high_evidence"].isna().all()


# --------------------------------------------------------------------------- residuals


def test_residual_fit_recovers_an_exact_slope_and_domain_effect():
    evidence = np.array([1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 3.5, np.nan])
    domain = ["ela"] * 4 + ["math"] * 4
    points = 1.25 * evidence - 0.5 + np.where(np.array(domain) == "math", 0.3, 0.0)
    points[-1] = 3.0
    out = residuals(pd.DataFrame({"grade_points": points, "evidence_mean": evidence, "domain": domain}))
    coefficients = out.attrs["coefficients"]
    assert coefficients["evidence_mean"] == pytest.approx(1.25)
    assert coefficients["intercept"] == pytest.approx(-0.5)
    assert coefficients["domain[math]"] == pytest.approx(0.3)
    assert out.attrs["n_fitted"] == 7
    assert np.allclose(out["residual"].iloc[:7], 0.0)
    assert np.isnan(out["residual"].iloc[7]) and np.isnan(out["predicted_points"].iloc[7])


def test_residuals_by_hand():
    table = pd.DataFrame({"grade_points": [1.0, 2.0, 3.0, 2.5], "evidence_mean": [1.0, 2.0, 3.0, 2.0],
                          "domain": ["m"] * 4})
    out = residuals(table)
    # slope = Sxy/Sxx = 2/2; intercept = 2.125 - 2 = 0.125
    assert out.attrs["coefficients"]["evidence_mean"] == pytest.approx(1.0)
    assert out["residual"].tolist() == pytest.approx([-0.125, -0.125, -0.125, 0.375])


# --------------------------------------------------------------------------- time to level 4


def test_time_to_level4_by_hand():
    evidence = pd.DataFrame({
        "student_id": ["S1", "S1", "S1", "S1", "S1", "S2", "S2", "S3", "S3"],
        "standard_id": ["A", "A", "A", "A", "B", "A", "A", "A", "A"],
        "assessed_on": pd.to_datetime(["2024-09-01", "2024-09-11", "2024-09-21", "2024-10-01", "2024-09-05",
                                       "2024-09-01", "2024-12-01", "2024-09-01", "2024-09-30"]),
        "score": [2.0, 3.0, 2.0, 4.0, 4.0, 3.0, 3.0, 2.0, 2.0]})
    standards = pd.DataFrame({"standard_id": ["A", "B"], "domain": ["math", "ela"],
                              "performance_level": [3.0, 4.0]})
    out = time_to_level4(evidence, standards)
    # S3 never proficient: left out. S1/B: the first proficient score is a 4 -> 0 days.
    assert out[["student_id", "standard_id"]].values.tolist() == [["S1", "A"], ["S1", "B"], ["S2", "A"]]
    assert out["days_to_4"].tolist()[:2] == [20.0, 0.0] and np.isnan(out["days_to_4"].iloc[2])
    assert out["reached_4"].tolist() == [True, True, False]
    assert out["days_observed"].tolist() == [20.0, 0.0, 91.0]  # S2 censored after 91 days
    assert out["domain"].tolist() == ["math", "ela", "math"]
    summary = level4_by_student(out)
    assert summary.values.tolist() == [["S1", 2, 1.0, 10.0], ["S2", 1, 0.0, pytest.approx(np.nan, nan_ok=True)]]


# --------------------------------------------------------------------------- rich evidence


def test_rich_evidence_shares_by_hand():
    evidence = pd.DataFrame({
        "student_id": ["S1"] * 5 + ["S1", "S2"],
        "standard_id": ["M.1", "M.1", "M.2", "M.2", "M.1", "M.1", "M.2"],
        "assessed_on": pd.to_datetime(["2024-09-01"] * 5 + ["2025-09-01", "2024-09-01"]),
        "score": [3.0] * 7,
        "task_type": ["performance_task", "project", "quiz", "test", "observation", "quiz", None],
        "dok": pd.array([4, None, 1, 2, None, 3, None], dtype="Int64")})
    standards = pd.DataFrame({"standard_id": ["M.1", "M.2"], "domain": ["math"] * 2, "dok": [3, 2]})
    students = pd.DataFrame({"student_id": ["S1", "S2"], "race_ethnicity": [BLACK, "Asian"]})
    out = who_gets_rich_evidence({"evidence": evidence, "standards": standards, "students": students})
    assert out[["student_id", "school_year"]].values.tolist() == [["S1", 2025], ["S1", 2026], ["S2", 2025]]
    assert out["n_evidence"].tolist() == [5, 1, 1]
    assert out["n_task_compared"].tolist() == [4, 1, 0]
    # S1 2025: 2 of 4 rich; DOK 4, 3 (standard), 1, 2, 3 (standard) -> 3 of 5 at DOK 3-4.
    assert out["share_performance_tasks"].tolist()[:2] == [0.5, 0.0]
    assert np.isnan(out["share_performance_tasks"].iloc[2])
    assert out["share_dok34"].tolist() == [0.6, 1.0, 0.0]
    assert out["race_ethnicity"].astype(str).tolist() == [BLACK, BLACK, "Asian"]


# --------------------------------------------------------------------------- teacher scans


def test_teacher_gaps_counts_a_student_once_per_teacher():
    rows = pd.DataFrame({"teacher_id": ["T1"] * 4, "student_id": ["S1", "S1", "S2", "S3"],
                         "group": ["a", "a", "b", "b"], "residual": [1.0, 3.0, 0.0, 1.0]})
    gaps = teacher_gaps(rows, group_column="group", focus="a", min_n=1)
    assert gaps[["focus_n", "others_n"]].values.tolist() == [[1, 2]]
    assert gaps["difference"].iloc[0] == pytest.approx(2.0 - 0.5)


def test_teacher_gaps_all_scans_one_side_of_a_yes_no_column():
    rows = pd.DataFrame({"teacher_id": ["T1"] * 6, "student_id": list("abcdef"),
                         "el": ["Yes", "No", "Unknown", "Yes", "No", "No"],
                         "race": ["x", "y", "z", "x", "y", "z"], "residual": np.arange(6.0)})
    out = teacher_gaps_all(rows, ["el", "race"], min_n=1)
    assert out[["subgroup", "group"]].values.tolist() == [["el", "Yes"], ["race", "x"], ["race", "y"],
                                                         ["race", "z"]]


@pytest.fixture(scope="module")
def planted(bundled_district):
    district = load_district(bundled_district)
    manifest = json.loads((bundled_district / "manifest.json").read_text())
    effect = next(e for e in manifest["planted"] if e["name"] == "teacher_grade_bias")
    return residuals(grade_evidence(district)), effect["teacher_id"], subgroup_columns(district["students"])


@pytest.fixture(scope="module")
def null(tmp_path_factory):
    folder = tmp_path_factory.mktemp("null_grading")
    write_district(folder, students=2000, seed=5, null=True)
    district = load_district(folder)
    return residuals(grade_evidence(district)), subgroup_columns(district["students"])


def test_bundled_grade_table_keeps_every_grade(planted, bundled_district):
    table, _, _ = planted
    assert len(table) == len(load_district(bundled_district)["grades"])
    assert table.attrs["rows_without_evidence"] == int((table["evidence_n"] == 0).sum())
    # the generator's grade model is 1.35 * evidence - 1.05 (A+ capped at 4.0 here)
    assert 1.1 < table.attrs["coefficients"]["evidence_mean"] < 1.45


def test_planted_teacher_is_the_only_one_flagged(planted):
    table, teacher, _ = planted
    gaps = teacher_gaps(table, group_column="race_ethnicity", focus=BLACK)
    assert gaps.loc[gaps["closer_look"], "teacher_id"].tolist() == [teacher]
    gap = gaps.set_index("teacher_id").loc[teacher, "difference"]
    assert gap == pytest.approx(-1.0, abs=0.35)


def test_teacher_gaps_all_points_only_at_the_planted_teacher(planted):
    table, teacher, columns = planted
    stacked = teacher_gaps_all(table, columns)
    flagged = stacked[stacked["closer_look"]]
    assert set(flagged["teacher_id"]) == {teacher}
    assert ((flagged["group"] == BLACK) & (flagged["difference"] < 0)).any()


def test_null_district_flags_no_teacher(null):
    table, _ = null
    gaps = teacher_gaps(table, group_column="race_ethnicity", focus=BLACK)
    assert gaps.attrs["units_scanned"] > 10
    assert not gaps["closer_look"].any()


def test_null_district_all_groups_flags_at_most_five_percent(null):
    table, columns = null
    stacked = teacher_gaps_all(table, columns)
    assessed = stacked.attrs["units_scanned"]
    assert assessed > 100
    assert stacked["closer_look"].sum() <= 0.05 * assessed


def test_planted_teacher_is_a_persistent_pattern_and_nobody_else():
    from equity_audit.questions import grading

    district = load_district("data/synthetic")
    table = grading.residuals(grading.discordance(grading.grade_evidence(district)))
    patterns = grading.teacher_patterns(table, group_column="race_ethnicity", focus="Black/African American")
    planted = next(p for p in json.load(open("data/synthetic/manifest.json"))["planted"]
                   if p["name"] == "teacher_grade_bias")["where"]["teacher_id"]
    assert patterns.loc[patterns["pattern"] != "", "teacher_id"].tolist() == [planted]
    assert patterns.loc[patterns["teacher_id"] == planted, "years_flagged"].iloc[0] >= 2
