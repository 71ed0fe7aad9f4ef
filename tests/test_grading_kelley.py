"""Grades against evidence: the error in the evidence mean must not read as a group graded lower.

Simulated districts where grades depend only on true achievement, groups differ in true
achievement, and evidence means average a few noisy scores (Kelley's regression to the mean).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equity_audit.disaggregate import disaggregate_each
from equity_audit.questions.grading import (confirmed_by_residuals, discordance, grade_evidence, residuals,
                                            student_grading, teacher_gaps)

TEACHERS, STUDENTS_PER_TEACHER = 20, 80


def simulated(seed: int, bias: float = 0.0, score_sd: float = 0.8, on_recorded: bool = False,
              everywhere: bool = False, intercept: float = 0.4) -> pd.DataFrame:
    """One grade per student; teacher T00 (every teacher with ``everywhere``) grades group "f"
    ``bias`` points lower at equal achievement.

    Grades follow true achievement, or with ``on_recorded`` the term's recorded mean score;
    a lower ``intercept`` makes C, D and F grades common.
    """
    rng = np.random.default_rng(seed)
    n = TEACHERS * STUDENTS_PER_TEACHER
    focus = rng.random(n) < 0.3
    ability = rng.normal(np.where(focus, 2.2, 2.8), 0.5)  # the focus group's true mean is lower
    scores_n = rng.integers(2, 7, n)
    # the means of scores_n (this term) and other_n (the rest of the year) noisy scores
    mean = ability + rng.normal(0, score_sd / np.sqrt(scores_n))
    other_n = rng.integers(0, 7, n)
    other = np.where(other_n > 0, ability + rng.normal(0, score_sd / np.sqrt(np.maximum(other_n, 1))), np.nan)
    teacher = np.repeat([f"T{t:02d}" for t in range(TEACHERS)], STUDENTS_PER_TEACHER)
    points = intercept + 1.1 * (mean if on_recorded else ability) + rng.normal(0, 0.3, n)
    points -= bias * (((teacher == "T00") | everywhere) & focus)
    return pd.DataFrame({
        "student_id": [f"s{i:05d}" for i in range(n)], "teacher_id": teacher, "domain": "math",
        "group": np.where(focus, "f", "o"), "grade_points": points, "evidence_mean": mean,
        "evidence_n": scores_n, "evidence_other_n": other_n, "evidence_other_mean": other})


def flagged(table: pd.DataFrame, compare: str = "between") -> list[str]:
    gaps = teacher_gaps(table, group_column="group", focus="f", min_n=10, compare=compare)
    return gaps.loc[gaps["closer_look"], "teacher_id"].tolist()


def test_instrumented_slope_recovers_the_true_slope():
    table = residuals(simulated(0))
    assert table.attrs["reliability_adjusted"] and table.attrs["n_instrumented"] > 1000
    assert table.attrs["coefficients"]["evidence_mean"] == pytest.approx(1.1, abs=0.08)
    plain = residuals(simulated(0), reliability_adjusted=False)
    assert plain.attrs["coefficients"]["evidence_mean"] < 0.95  # attenuated


def test_grades_that_follow_the_recorded_scores_are_not_overcorrected():
    slopes = [residuals(simulated(seed, on_recorded=True)).attrs["coefficients"]["evidence_mean"]
              for seed in range(5)]
    assert np.mean(slopes) == pytest.approx(1.1, abs=0.05)
    assert not flagged(residuals(simulated(7, on_recorded=True)))


def test_group_residual_is_unbiased_in_a_null_district():
    biased, corrected = [], []
    for seed in range(20):
        rows = simulated(100 + seed)
        focus = (rows["group"] == "f").to_numpy()
        corrected.append(residuals(rows)["residual"][focus].mean())
        biased.append(residuals(rows, reliability_adjusted=False)["residual"][focus].mean())
    # the plain fit puts the focus group about 0.1 grade points below its evidence
    assert np.mean(biased) < -0.08
    corrected = np.asarray(corrected)
    assert abs(corrected.mean()) < 3 * corrected.std(ddof=1) / np.sqrt(len(corrected))
    assert abs(corrected.mean()) < 0.02


def test_null_district_flags_no_teacher_in_most_seeds():
    seeds_with_flags = sum(bool(flagged(residuals(simulated(200 + seed)))) for seed in range(20))
    assert seeds_with_flags <= 2


def test_a_teacher_grading_one_group_lower_at_equal_evidence_is_flagged():
    hits = [flagged(residuals(simulated(300 + seed, bias=0.5))) for seed in range(10)]
    assert sum("T00" in found for found in hits) >= 7  # about 24 focus students per teacher
    assert sum(len(set(found) - {"T00"}) for found in hits) <= 2


def test_without_the_correction_the_null_flags_teachers_tested_within():
    # the test above can fail: the plain fit, scanned within each teacher, flags teachers on every null
    # district; the correction keeps the within scan quiet as well
    plain = [flagged(residuals(simulated(200 + seed), reliability_adjusted=False), "within") for seed in range(5)]
    assert sum(map(bool, plain)) >= 4
    corrected = [flagged(residuals(simulated(200 + seed)), "within") for seed in range(5)]
    assert sum(map(bool, corrected)) <= 1


def test_grade_evidence_reports_the_spread_of_the_scores():
    district = {
        "grades": pd.DataFrame({"student_id": ["S1", "S2"], "section_id": "X", "term": "y", "grade": ["B", "C"]}),
        "sections": pd.DataFrame({"section_id": ["X"], "school_year": [2025], "school_id": ["H"],
                                  "teacher_id": ["T1"], "course_id": ["M1"], "domain": ["math"]}),
        "evidence": pd.DataFrame({"student_id": ["S1", "S1", "S1", "S2"], "standard_id": "M.1",
                                  "assessed_on": pd.to_datetime(["2024-10-01", "2024-11-01", "2025-03-01",
                                                                 "2024-10-01"]),
                                  "score": [2.0, 3.0, 4.0, 3.0]}),
        "standards": pd.DataFrame({"standard_id": ["M.1"], "domain": ["math"]})}
    table = grade_evidence(district)
    # whole-year grades have no evidence outside their term
    assert table["evidence_other_n"].tolist() == [0, 0] and table["evidence_other_mean"].isna().all()
    district["grades"] = pd.DataFrame({"student_id": ["S1", "S1"], "section_id": "X", "term": ["s1", "s2"],
                                       "grade": ["B", "A"]})
    halves = grade_evidence(district)
    assert halves["evidence_mean"].tolist() == [2.5, 4.0]
    assert halves["evidence_other_n"].tolist() == [1, 2]
    assert halves["evidence_other_mean"].tolist() == [4.0, 2.5]


# ---------------------------------------------------------------- discordance by subgroup
def discordant_groups(rows: pd.DataFrame, metric: str, confirmed: bool = True) -> list[str]:
    """The groups flagged on ``metric`` within evidence bands, as notebook 03 compares them."""
    rows = rows.assign(evidence_proficient=(rows["evidence_mean"] >= 3.0).astype("boolean"))
    per_student = student_grading(residuals(discordance(rows)), ["group"])
    compare = dict(min_n=10, fdr=0.05)
    table = disaggregate_each(per_student, metric, ["group"], statistic="rate", strata="evidence_band", **compare)
    if confirmed:
        residual = disaggregate_each(per_student, "residual", ["group"], **compare)
        table = confirmed_by_residuals(table, residual, rises_with_grades=metric == "high_grade_low_evidence")
    return table.loc[table["flagged"], "group"].tolist()


#: Each discordance measure, and a grading scale on which it is common enough to compare.
DISCORDANCE = [("high_grade_low_evidence", 0.4), ("low_grade_high_evidence", -0.6)]


@pytest.mark.parametrize("metric, intercept", DISCORDANCE)
def test_discordance_within_evidence_bands_reads_regression_to_the_mean_as_a_gap_unless_confirmed(metric, intercept):
    # grades follow true achievement and nobody is graded unfairly; the focus group's true mean is lower
    raw = sum(bool(discordant_groups(simulated(400 + seed, intercept=intercept), metric, confirmed=False))
              for seed in range(10))
    assert raw >= 6  # the comparison within bands of recorded evidence flags fair grading
    confirmed = sum(bool(discordant_groups(simulated(400 + seed, intercept=intercept), metric))
                    for seed in range(10))
    assert confirmed <= 1


@pytest.mark.parametrize("metric, intercept", DISCORDANCE)
def test_grades_that_follow_the_recorded_scores_raise_no_discordance_flag(metric, intercept):
    flags = [discordant_groups(simulated(500 + seed, intercept=intercept, on_recorded=True), metric, confirmed=False)
             for seed in range(10)]
    assert sum(map(bool, flags)) <= 1


@pytest.mark.parametrize("metric, intercept", DISCORDANCE)
def test_a_district_wide_grading_gap_keeps_its_discordance_flag(metric, intercept):
    hits = [discordant_groups(simulated(600 + seed, bias=0.3, everywhere=True, intercept=intercept), metric)
            for seed in range(10)]
    assert sum("f" in found for found in hits) >= 8
    on_recorded = [discordant_groups(simulated(700 + seed, bias=0.3, everywhere=True, on_recorded=True),
                                     "high_grade_low_evidence") for seed in range(10)]
    assert sum("f" in found for found in on_recorded) >= 8


def test_a_discordance_flag_needs_a_residual_flag_pointing_the_same_way():
    table = pd.DataFrame({"subgroup": ["el", "el", "race", "race"], "group": ["Yes", "No", "Black", "White"],
                          "difference": [0.05, -0.05, 0.04, -0.02], "flagged": [True, True, True, False]})
    residual = pd.DataFrame({"subgroup": ["el", "el", "race"], "group": ["Yes", "No", "Black"],
                             "difference": [0.2, -0.2, 0.1], "flagged": [True, True, False]})
    over = confirmed_by_residuals(table, residual, rises_with_grades=True)
    assert over["flagged"].tolist() == [True, True, False, False]  # Black: residual not flagged; White: not tested
    assert list(over.columns) == list(table.columns)  # nothing that would outlive the release's withholding
    under = confirmed_by_residuals(table, residual, rises_with_grades=False)
    assert under["flagged"].tolist() == [False, False, False, False]  # more A/B and grades above evidence
