import pandas as pd
import pytest

import equity_audit as ea
from equity_audit.questions import climate
from equity_audit.data.enrollment import student_years
from equity_audit.data.subgroups import subgroup_columns


def test_construct_scores_use_the_latest_survey_year():
    survey = pd.DataFrame({"student_id": ["a", "a", "a", "b"], "construct": ["safety"] * 4,
                           "item_id": ["s1", "s2", "s1", "s1"], "response": [1.0, 2.0, 5.0, 4.0],
                           "survey_date": pd.to_datetime(["2025-03-01", "2025-03-01", "2024-03-01", "2025-04-01"])})
    scores = climate.construct_scores(survey).set_index("student_id")
    assert scores["safety"].to_dict() == {"a": 1.5, "b": 4.0}


def test_workforce_shares_leave_out_unknown_and_withhold_small_staff():
    years = pd.DataFrame({"student_id": list("abcdefghijkl"), "school_year": 2025,
                          "school_id": ["s1"] * 12, "grade_level": 3})
    students = pd.DataFrame({"student_id": list("abcdefghijkl"),
                             "race_ethnicity": ["White"] * 6 + ["Asian"] * 5 + ["Unknown"]})
    staff = pd.DataFrame({"staff_id": list("pqrs"), "school_id": "s1",
                          "race_ethnicity": ["White", "White", "Asian", "Unknown"]})
    table = climate.workforce_table(staff, years, students, min_n=3).set_index("school")
    assert table.loc["s1", "students"] == 11 and table.loc["s1", "students_of_color_share"] == pytest.approx(5 / 11)
    assert table.loc["s1", "staff_of_color_share"] == pytest.approx(1 / 3)
    withheld = climate.workforce_table(staff, years, students, min_n=10).set_index("school")
    assert pd.isna(withheld.loc["s1", "staff_of_color_share"]) and pd.isna(withheld.loc["s1", "gap"])


def test_climate_by_subgroup_on_the_bundled_district():
    district = ea.load_district("data/synthetic")
    scores = climate.construct_scores(district["survey"])
    columns = subgroup_columns(district["students"])
    table = climate.climate_by_subgroup(scores, district["students"], columns)
    assert set(table["construct"]) == {"agency", "belonging", "safety"}
    assert table["estimate"].dropna().between(1, 5).all()
    tested = table["pvalue"].notna()
    assert tested.sum() > 30 and table.loc[tested, "flagged"].mean() <= 0.05  # nothing planted in the survey
