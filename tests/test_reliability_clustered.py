"""Scorer severity by subgroup with the student as the unit: one student's scores share their ability,
and the comparison is with the same students' other scorers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equity_audit.reliability import severity_by_subgroup

SCORERS = 40


def simulated(seed: int, plant: float = 0.0) -> pd.DataFrame:
    """Each student scored 4 times by each of two scorers; scorer S00 scores focus students ``plant`` lower."""
    rng = np.random.default_rng(seed)
    students, per_student = 6000, 8
    focus = rng.random(students) < 0.3
    ability = np.where(focus, -0.5, 0.0) + rng.normal(0, 0.7, students)  # persistent, and differs by group
    pair = np.argsort(rng.random((students, SCORERS)), axis=1)[:, :2]
    scorer = pair[:, np.repeat([0, 1], per_student // 2)]  # students x scores
    standards = rng.integers(0, 15, (students, per_student))
    difficulty = rng.normal(0, 0.3, 15)
    true = 2.7 + ability[:, None] + difficulty[standards] + rng.normal(0, 0.5, (students, per_student))
    true += np.where((scorer == 0) & focus[:, None], plant, 0.0)
    return pd.DataFrame({
        "student_id": np.repeat([f"s{i:05d}" for i in range(students)], per_student),
        "scorer_id": [f"S{k:02d}" for k in scorer.ravel()],
        "standard_id": [f"std{j}" for j in standards.ravel()],
        "score": np.clip(np.round(true.ravel()), 1, 4),
        "el": np.repeat(np.where(focus, "Y", "N"), per_student)})


def test_unbiased_scorers_are_rarely_flagged():
    counts = [int(severity_by_subgroup(simulated(seed), group_column="el", focus="Y")["closer_look"].sum())
              for seed in range(10)]
    assert np.mean(counts) <= 2 and max(counts) <= 4


def test_a_student_column_is_required():
    # without students there is no "same student by other scorers" to compare with
    with pytest.raises(ValueError, match="lacks"):
        severity_by_subgroup(simulated(0).drop(columns="student_id"), group_column="el", focus="Y")


def test_students_not_scores_are_counted():
    out = severity_by_subgroup(simulated(1), group_column="el", focus="Y")
    assert out["scores"].sum() == 6000 * 8
    assert (out["n_focus"] + out["n_other"]).sum() == 6000 * 2  # once per scorer of the student


def test_a_harsh_scorer_of_one_group_is_flagged():
    hits = 0
    for seed in range(5):
        out = severity_by_subgroup(simulated(100 + seed, plant=-0.6), group_column="el", focus="Y")
        flagged = out.loc[out["closer_look"], "scorer_id"].tolist()
        hits += "S00" in flagged
        assert out.set_index("scorer_id").loc["S00", "difference"] < -0.3
    assert hits >= 4
