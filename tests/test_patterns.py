"""Discipline and access facts per student-year, and gap trends."""
import json

import numpy as np
import pandas as pd
import pytest
from pathlib import Path

import equity_audit as ea
from equity_audit.questions import patterns
from equity_audit.disaggregate import disaggregate
from equity_audit.trends import gap_by_year, trend, trend_sentence


def years_of(*rows):
    return pd.DataFrame(rows, columns=["student_id", "school_year", "school_id", "grade_level"])


def incidents_of(*rows):
    frame = pd.DataFrame(rows, columns=["student_id", "incident_date", "action", "days_removed"])
    return frame.assign(incident_date=pd.to_datetime(frame["incident_date"]))


def test_incidents_fall_in_their_school_year_and_only_exclusions_remove():
    years = years_of(("a", 2024, "s", 5), ("a", 2025, "s", 6), ("b", 2025, "s", 6))
    incidents = incidents_of(("a", "2024-08-01", "referral", None),          # summer: school year 2024
                             ("a", "2024-09-10", "in_school_suspension", 1),
                             ("a", "2025-03-02", "out_of_school_suspension", 3),
                             ("a", "2025-03-09", "other", None),
                             ("b", "2023-10-01", "expulsion", 90))           # b not enrolled in 2024
    facts = patterns.discipline_counts(years, incidents).set_index(["student_id", "school_year"])
    assert facts.loc[("a", 2024), ["any_referral", "removals", "any_exclusion"]].tolist() == [1, 0, 0]
    assert facts.loc[("a", 2025), ["any_iss", "any_oss", "removals", "days_removed"]].tolist() == [1, 1, 2, 4.0]
    assert facts.loc[("b", 2025), ["any_expulsion", "removals"]].tolist() == [0, 0]
    assert patterns.unmatched_incidents(years, incidents) == 1


def test_access_counts_opportunities_and_course_levels():
    years = years_of(("a", 2025, "s", 10), ("b", 2025, "s", 10), ("c", 2025, "s", 10))
    opportunities = pd.DataFrame({"student_id": ["a", "a"], "opportunity_type": ["level4_work", "level4_work"],
                                  "school_year": [2025, 2024]})
    sections = pd.DataFrame({"section_id": ["x", "y"], "school_year": [2025, 2025],
                             "course_level": ["honors", "dual_enrollment"]})
    rosters = pd.DataFrame({"student_id": ["b", "c"], "section_id": ["x", "y"]})
    facts = patterns.access_flags(years, opportunities, sections, rosters).set_index("student_id")
    assert facts["level4_work"].tolist() == [1, 0, 0]
    assert facts["honors_or_advanced"].tolist() == [0, 1, 0]
    assert facts["dual_enrollment"].tolist() == [0, 0, 1]


@pytest.fixture(scope="module")
def bundled_facts():
    district = ea.load_district("data/synthetic")
    return district, patterns.student_year_facts(district)


def test_planted_discipline_school_is_found(bundled_facts):
    district, facts = bundled_facts
    effect = next(p for p in json.load(open("data/synthetic/manifest.json"))["planted"]
                  if p["name"] == "disproportionate_discipline")
    at_school = facts[facts["school_id"] == effect["school_id"]]
    black = disaggregate(at_school, "any_oss", by="race_ethnicity").set_index("race_ethnicity").loc[
        "Black/African American"]
    assert bool(black["flagged"]) and black["ratio"] == pytest.approx(effect["effect"], rel=0.35)
    elsewhere = facts[facts["school_id"] != effect["school_id"]]
    other = disaggregate(elsewhere, "any_oss", by="race_ethnicity").set_index("race_ethnicity").loc[
        "Black/African American"]
    assert not bool(other["flagged"])


def test_student_years_are_unique_and_complete(bundled_facts):
    district, facts = bundled_facts
    assert not facts.duplicated(["student_id", "school_year"]).any()
    assert len(facts) == district["enrollments"][["student_id", "school_year"]].drop_duplicates().shape[0]
    assert facts["removals"].sum() == district["discipline"]["action"].isin(patterns.EXCLUSIONARY).sum()


def make_gaps(rates_focus, rates_rest, n=400):
    rows = []
    for year, (focus, rest) in enumerate(zip(rates_focus, rates_rest), start=2024):
        rows += [{"school_year": year, "g": "Yes", "y": int(i < focus * n)} for i in range(n)]
        rows += [{"school_year": year, "g": "No", "y": int(i < rest * n)} for i in range(n)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("focus, verdict", [((0.5, 0.4, 0.3), "narrowing"), ((0.3, 0.4, 0.5), "widening"),
                                            ((0.32, 0.30, 0.31), "no clear change")])
def test_trend_verdicts(focus, verdict):
    gaps = gap_by_year(make_gaps(focus, (0.2, 0.2, 0.2)), "y", column="g", focus="Yes")
    assert gaps["school_year"].tolist() == [2024, 2025, 2026]
    assert gaps["difference"].round(2).tolist() == [round(f - 0.2, 2) for f in focus]
    assert trend(gaps)["verdict"] == verdict


def test_a_gap_below_zero_narrows_upward():
    gaps = gap_by_year(make_gaps((0.1, 0.2), (0.4, 0.4)), "y", column="g", focus="Yes")
    result = trend(gaps)
    assert result["verdict"] == "narrowing" and result["change"] == pytest.approx(0.1)
    assert "narrowing" in trend_sentence(result, "English learners", "suspension rate", percent=True)


def test_small_years_are_not_judged():
    gaps = gap_by_year(make_gaps((0.5, 0.3), (0.2, 0.2), n=6), "y", column="g", focus="Yes")
    assert gaps["difference"].isna().all() and gaps["n"].tolist() == [6, 6]
    assert trend(gaps)["verdict"] == "not enough data"


def test_a_year_whose_counts_are_small_shows_no_gap():
    # 3 of 400 students with the outcome: the gap, with the overall rate published elsewhere, gives back 3
    gaps = gap_by_year(make_gaps((0.0075, 0.2), (0.2, 0.2)), "y", column="g", focus="Yes")
    assert np.isnan(gaps["difference"].iloc[0]) and gaps["n"].tolist() == [400, 400]
    assert gaps["difference"].iloc[1] == pytest.approx(0.0)
    # none with the outcome is a count the gate prints (0), so that year keeps its gap
    assert gap_by_year(make_gaps((0.0,), (0.2,)), "y", column="g", focus="Yes")["difference"].iloc[0] == \
        pytest.approx(-0.2)


@pytest.mark.parametrize("null", [False, True])
def test_planted_level4_access_gap_is_found_and_null_is_quiet(tmp_path, null):
    from equity_audit.data.subgroups import core_subgroups
    from equity_audit.data.synthetic import write_district

    manifest = json.loads(Path(write_district(tmp_path, students=6000, seed=11, null=null, fmt="parquet")).read_text())
    district = ea.load_district(tmp_path)
    facts = patterns.student_year_facts(district)
    facts = patterns.with_readiness(facts, patterns.readiness_by_year(district["levels"], facts))
    table = patterns.access_table(facts, core_subgroups(district["students"]), all_years=True)
    gaps = table[table["access_gap"]]
    disability = (gaps["measure"] == "level4_work") & (gaps["subgroup"] == "disability")
    if null:
        assert gaps.empty
    else:
        planted = next(p for p in manifest["planted"] if p["name"] == "level4_access")
        assert disability.sum() == 1
        # readiness at the start of the year, compared at equal readiness band: the planted ratio,
        # no longer diluted toward 1 (0.7) by end-of-year readiness
        assert gaps.loc[disability, "ratio_adjusted"].iloc[0] == pytest.approx(planted["effect"], abs=0.1)
        assert gaps.loc[disability, "adjusted_for"].iloc[0] != ""


def test_readiness_is_judged_at_the_start_of_the_year_on_the_mean_over_domains():
    levels = pd.DataFrame({
        "student_id": ["a", "a", "b", "b", "c", "d"],
        "domain": ["m", "m", "m", "r", "m", "m"],
        "as_of": pd.to_datetime(["2024-09-20", "2025-06-01", "2024-09-20", "2024-09-20", "2024-09-20",
                                 "2024-09-20"]),
        "performance_level": [3.0, 4.5, 3.5, 2.9, 4.5, 3.2]})
    years = years_of(("a", 2025, "s", 3), ("b", 2025, "s", 3), ("c", 2025, "s", 3), ("d", 2025, "s", 3))
    ready = patterns.readiness_by_year(levels, years).set_index("student_id")
    # on 20 September a grade-3 student is expected at 3 + 36/304 = 3.118 (15 August to 15 June)
    expected = 3 + 36 / 304
    assert ready["readiness_margin"].to_dict() == pytest.approx(
        {"a": 3.0 - expected, "b": (3.5 + 2.9) / 2 - expected, "c": 4.5 - expected, "d": 3.2 - expected})
    # a ends the year far ahead (4.5 on 1 June), after the year's work: not ready when the year began
    assert ready["ready"].tolist() == [False, True, True, True]
    assert pd.isna(ready.loc["a", "readiness_band"])
    assert ready["readiness_band"].tolist()[1:] == ["at grade to +0.25", "+1 and over", "at grade to +0.25"]


def test_headline_trends_follow_the_planted_pace_gap(bundled_facts):
    """The planted slower pace of one group (from the manifest) is followed year by year."""
    from equity_audit import trends

    district, facts = bundled_facts
    manifest = json.loads(Path("data/synthetic/manifest.json").read_text())
    planted = next(p for p in manifest["planted"] if p["name"] == "slow_pace_subgroup")
    (column, value), = planted["group"].items()
    focus = {"Y": "Yes", "N": "No"}.get(value, value)
    facts = patterns.with_pace_by_year(facts, district["levels"])
    followed = [("the planted group", column, focus, "pace", "pace", False),
                ("the planted group ready for it", column, focus, "level4_ready", "Level-4 work", True)]
    by_year, summary = trends.headline_trends(facts, followed)
    gap = by_year[by_year["subgroup"] == "pace: the planted group"]
    assert gap["group"].tolist() == ["2023-24", "2024-25", "2025-26"]
    # the planted difference, within the sampling error of a group of a few hundred students
    assert gap["estimate"].between(planted["effect"] - 0.1, planted["effect"] + 0.1).all()
    assert (gap["high"] < 0).all()
    verdicts = summary.set_index("headline")["verdict"]
    assert verdicts["pace: the planted group"] == "no clear change"
    assert "Level-4 work: the planted group ready for it" not in verdicts  # no readiness column
