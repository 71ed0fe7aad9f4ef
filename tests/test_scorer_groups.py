"""Scorer severity by subgroup on simulated districts whose truth is set (methods notes, section 7).

Each simulated student is scored by the teacher of their section in each of two
years; sections are formed within a school, students sort into schools by a
latent disadvantage that also makes the focus group more common and, in
expectation, not yet as far along (a real ability gap of 0.6 score points).
Teachers differ in overall severity (unbiased toward groups). An unbiased
scorer must not be flagged however much the groups differ in ability; a scorer
who scores focus students lower than other scorers score the same students must be.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from equity_audit.reliability import severity_by_subgroup

SCHOOLS, TEACHERS_PER_SCHOOL, STUDENTS, YEARS = 6, 5, 1800, 2
BIASED = (SCHOOLS - 1) * TEACHERS_PER_SCHOOL  # a teacher of the school where the focus group is most common


def simulated(seed: int, plant: float = 0.0, gap: float = -0.6) -> pd.DataFrame:
    """Evidence of a simulated district; teacher ``BIASED`` scores focus students ``plant`` points differently."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, 1, STUDENTS)
    focus = latent + rng.normal(0, 1, STUDENTS) > 1.0
    ability = gap * focus + 0.3 * rng.normal(0, 1, STUDENTS)  # persistent: shared by all of a student's scores
    school = np.argsort(np.argsort(latent + rng.normal(0, 1, STUDENTS))) * SCHOOLS // STUDENTS
    teachers = SCHOOLS * TEACHERS_PER_SCHOOL
    severity = rng.normal(0, 0.25, teachers)  # overall harshness, the same for every group
    scores_per_year = 8
    student = np.repeat(np.arange(STUDENTS), YEARS * scores_per_year)
    year = np.tile(np.repeat(np.arange(YEARS), scores_per_year), STUDENTS)
    section = rng.integers(0, TEACHERS_PER_SCHOOL, (STUDENTS, YEARS))
    teacher = school[student] * TEACHERS_PER_SCHOOL + section[student, year]
    standard = rng.integers(0, 20, student.size)
    difficulty = rng.normal(0, 0.3, 20)
    latent_score = (2.7 + ability[student] + severity[teacher] - difficulty[standard]
                    + rng.normal(0, 0.6, student.size))
    latent_score += np.where((teacher == BIASED) & focus[student], plant, 0.0)
    return pd.DataFrame({
        "student_id": [f"s{i:05d}" for i in student],
        "scorer_id": [f"T{t:02d}" for t in teacher],
        "standard_id": [f"std{j:02d}" for j in standard],
        "score": np.clip(np.round(latent_score), 1, 4),
        "group": np.where(focus[student], "Y", "N"),
    })


def test_groups_really_differ_in_the_simulated_null():
    ev = simulated(0)
    means = ev.groupby("group")["score"].mean()
    assert means["Y"] < means["N"] - 0.3


def test_unbiased_scorers_are_not_flagged_when_groups_differ_in_ability():
    flags = [int(severity_by_subgroup(simulated(seed), group_column="group", focus="Y")["closer_look"].sum())
             for seed in range(8)]
    assert sum(flags) <= 1  # BH at 5 % over 30 scorers: a false flag in about 5 % of districts


def test_comparing_a_scorer_with_the_same_students_removes_the_ability_gap():
    out = severity_by_subgroup(simulated(1, gap=-1.0), group_column="group", focus="Y")
    assert abs(out["difference"].mean()) < 0.05
    assert (out["mean_focus"].abs() < 0.3).all()


def test_a_scorer_harsh_with_one_group_is_flagged():
    hits = 0
    for seed in range(4):
        out = severity_by_subgroup(simulated(100 + seed, plant=-0.6), group_column="group",
                                   focus="Y").set_index("scorer_id")
        row = out.loc[f"T{BIASED:02d}"]
        hits += bool(row["closer_look"])
        assert -0.9 < row["difference"] < -0.3 and row["n_focus"] >= 10
        # a co-scorer of the same students can look lenient by contrast, never harsh
        others = out[out["closer_look"]].drop(index=f"T{BIASED:02d}", errors="ignore")
        assert (others["difference"] > 0).all()
    assert hits >= 3


def test_a_scorer_harsh_with_everyone_is_not_flagged_here():
    ev = simulated(7)
    ev.loc[ev["scorer_id"] == "T00", "score"] = (ev.loc[ev["scorer_id"] == "T00", "score"] - 1).clip(1, 4)
    out = severity_by_subgroup(ev, group_column="group", focus="Y").set_index("scorer_id")
    assert not out.loc["T00", "closer_look"]


def test_students_one_scorer_saw_are_counted_not_compared():
    ev = simulated(3)
    only = ev["student_id"].isin(["s00000", "s00001"])
    ev.loc[only, "scorer_id"] = "T99"
    out = severity_by_subgroup(ev, group_column="group", focus="Y").set_index("scorer_id")
    assert out.loc["T99", "unmatched"] == 2
    assert out.loc["T99", "n_focus"] + out.loc["T99", "n_other"] == 0
    assert np.isnan(out.loc["T99", "pvalue"]) and not out.loc["T99", "closer_look"]
