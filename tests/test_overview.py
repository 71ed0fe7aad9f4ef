import pandas as pd

from equity_audit.questions import overview
from equity_audit.data.enrollment import student_years
from equity_audit.privacy import publish_counts, small_cells
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels


def make_students():
    return pd.DataFrame({
        "student_id": ["a", "b", "c", "d"],
        "race_ethnicity": pd.Categorical(["Asian", "White", "Unknown", "White"],
                                         categories=["Asian", "Black/African American", "White", "Unknown"]),
        "english_learner": pd.array([True, False, None, False], dtype="boolean"),
        "group_newcomer": ["Y", None, "N", "N"],
    })


def test_student_years_keeps_last_school_and_counts_moves():
    enrollments = pd.DataFrame({
        "student_id": ["a", "a", "b", "b"], "school_year": [2025, 2025, 2025, 2026],
        "school_id": ["s1", "s2", "s1", "s1"], "grade_level": [3, 3, 4, 5],
        "entry_date": pd.to_datetime(["2025-01-06", "2024-08-20", "2024-08-20", "2025-08-20"]),
    })
    years = student_years(enrollments)
    assert years[["student_id", "school_year", "school_id", "n_schools"]].values.tolist() == [
        ["a", 2025, "s1", 2], ["b", 2025, "s1", 1], ["b", 2026, "s1", 1]]


def test_composition_keeps_empty_groups_and_unknown():
    students = make_students()
    years = pd.DataFrame({"student_id": list("abcd"), "school_year": 2025, "school_id": "s1",
                          "grade_level": 3})
    table = overview.composition(years, students, 2025).set_index(["subgroup", "group"])
    assert table.loc[("race_ethnicity", "Black/African American"), "n"] == 0
    assert table.loc[("race_ethnicity", "White"), "n"] == 2
    assert table.loc[("english_learner", "Unknown"), "n"] == 1
    assert table.loc[("group_newcomer", "Unknown"), "n"] == 1
    assert table.loc[("english_learner", "No"), "share"] == 0.5


def test_subgroup_columns_order_and_labels():
    students = make_students()
    assert subgroup_columns(students) == ["race_ethnicity", "english_learner", "group_newcomer"]
    labels = subgroup_labels(students)
    assert list(labels["english_learner"].cat.categories) == ["Yes", "No", "Unknown"]
    assert labels["group_newcomer"].tolist() == ["Y", "Unknown", "N", "N"]


def test_small_counts_are_withheld_but_zero_is_shown():
    counts = pd.DataFrame({"x": [0, 1, 9, 10]})
    assert small_cells(counts, min_n=10)["x"].tolist() == [False, True, True, False]
    assert publish_counts(counts, min_n=10)["x"].tolist() == ["0", "<10", "<10", "10"]


def test_composition_table_withholds_share_of_small_groups():
    students = make_students()
    years = pd.DataFrame({"student_id": list("abcd"), "school_year": 2025, "school_id": "s1",
                          "grade_level": 3})
    table = overview.composition_table(years, students, min_n=2)
    white = table[table["group"] == "White"].iloc[0]
    asian = table[table["group"] == "Asian"].iloc[0]
    assert (white["n"], white["share"]) == ("2", "50.0%")
    assert (asian["n"], asian["share"]) == ("<2", "suppressed")


def test_labels_people_read():
    assert [overview.grade_label(g) for g in (-1, 0, 7)] == ["PK", "K", "7"]
    assert overview.year_label(2025) == "2024-25"
    years = pd.DataFrame({"school_year": [2024, 2026]})
    assert overview.data_period(years) == "2023-24 to 2025-26"


def test_composition_chart_has_one_bar_per_yes_no_subgroup():
    students = make_students()
    years = pd.DataFrame({"student_id": list("abcd"), "school_year": 2025, "school_id": "s1",
                          "grade_level": 3})
    shares = overview.composition_shares(years, students, min_n=1)
    flags = shares[shares["subgroup"].str.startswith("Programs")]
    assert flags[["group", "share"]].values.tolist() == [["English learner", 0.25]]
    assert len(shares[shares["subgroup"] == "Race/ethnicity"]) == 4  # display names from the dictionary


def test_a_lone_small_group_is_protected_by_withholding_a_second():
    students = pd.DataFrame({"student_id": [f"s{i}" for i in range(40)],
                             "race_ethnicity": pd.Categorical(["Asian"] * 3 + ["Black/African American"] * 12
                                                              + ["White"] * 25)})
    years = pd.DataFrame({"student_id": students["student_id"], "school_year": 2025, "school_id": "s1",
                          "grade_level": 3})
    table = overview.composition_table(years, students, min_n=10).set_index("group")
    assert table.loc["Asian", "n"] == "<10" and table.loc["Black/African American", "n"] == "withheld"
    assert table.loc["White", "n"] == "25"


def test_extreme_shares_are_coded_by_group_size():
    from equity_audit.publish.narrative import display_table

    table = pd.DataFrame({"subgroup": "x", "group": ["a", "b"], "n": [84, 500], "estimate": [1.0, 0.4],
                          "low": [0.96, 0.35], "high": [1.0, 0.45], "comparator_estimate": [0.5, 0.6],
                          "difference": [0.5, -0.2], "suppressed": False, "flagged": True})
    assert display_table(table, percent=True)["Value"].tolist() == ["≥ 98%", "40.0%"]


def test_confidential_lists_can_be_pseudonymised(tmp_path, monkeypatch):
    from districts import write_district
    from equity_audit.publish import rundir

    monkeypatch.setenv(rundir.PSEUDONYM_KEY, "a-key-of-sixteen-chars")
    district = rundir.open_district(write_district(tmp_path / "data"), tmp_path / "run")
    ids = district["students"]["student_id"]
    assert ids.str.fullmatch("[0-9a-f]{16}").all() and len(set(ids)) == 4
    path = rundir.write_confidential(tmp_path / "run", "list", district["students"][["student_id"]])
    assert set(pd.read_csv(path)["student_id"]) == set(ids)
    # the run's Parquet copy of the district holds pseudonyms only, and so does every table that joins
    cached = pd.read_parquet(tmp_path / "run" / "confidential" / "district" / "tables" / "enrollments.parquet")
    assert set(cached["student_id"]) <= set(ids)
    assert (tmp_path / "run" / "confidential" / "README.txt").exists()
