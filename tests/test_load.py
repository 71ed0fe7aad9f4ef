"""The loader: coercion, every kind of bad input, exclusion accounting and file formats.

Each test writes the small valid district of ``tests/districts.py`` into a temporary
folder, breaks one thing, and checks the exact message a district analyst would read.
"""
from __future__ import annotations

import datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest

from equity_audit.data import load
from equity_audit.data.contract import RACE_ETHNICITY, TABLES
from equity_audit.exceptions import ConfigError, DataValidationError
from equity_audit.data.load import District, Problem, load_district

from districts import TODAY, VALID, add_lines, replace_line, write_district


def problems_of(folder, **kwargs) -> list[Problem]:
    """The problems ``load_district`` raises for ``folder`` (fails if it loads)."""
    with pytest.raises(DataValidationError) as caught:
        load_district(folder, today=TODAY, **kwargs)
    return caught.value.problems


def only_problem(folder, **kwargs) -> Problem:
    found = problems_of(folder, **kwargs)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "district"


# --------------------------------------------------------------------------- valid input


def test_valid_district_loads_every_table_with_contract_dtypes(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert isinstance(district, District)
    assert sorted(district.tables) == sorted(VALID)
    students, enrollments = district["students"], district["enrollments"]
    assert students["student_id"].dtype == pd.StringDtype("pyarrow")
    assert students["birth_date"].dtype == np.dtype("datetime64[ns]")
    assert students["english_learner"].dtype == "boolean"
    assert isinstance(students["race_ethnicity"].dtype, pd.CategoricalDtype)
    assert enrollments["school_year"].dtype == "Int64"
    assert enrollments["grade_level"].dtype == "Int64"
    assert district["evidence"]["score"].dtype == np.float64
    assert district["evidence"]["dok"].dtype == "Int64"
    assert district["standards"]["performance_level"].tolist() == [6.0, 7.0]
    ledger = district.ledger.set_index("table")
    assert ledger.loc["evidence"].tolist() == ["evidence.csv", True, 4, 4, 0]
    assert ledger.loc["levels"].tolist()[1:] == [False, 0, 0, 0]
    assert list(district.ledger["table"]) == list(TABLES)
    assert district.exclusions.empty
    assert list(district.exclusions.columns) == ["table", "reason", "rows"]


def test_grade_levels_pk_k_and_leading_zero(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert district["enrollments"]["grade_level"].tolist() == [6, 7, 0, -1]


@pytest.mark.parametrize("text, level", [
    ("PK", -1), ("Pre-K", -1), ("prek", -1), ("TK", -1), ("K", 0), ("KG", 0), ("Kindergarten", 0),
    ("-1", -1), ("0", 0), ("01", 1), ("1", 1), ("1.0", 1), ("12", 12), ("Grade 3", 3), ("3rd", 3), ("Ninth grade", 9),
    ("uri://ed-fi.org/GradeLevelDescriptor#Ninth grade", 9),
])
def test_grade_level_spellings(folder, text, level):
    enrollments = replace_line("enrollments", 2, f"S1,2025,SCH1,{text},2024-08-20,,")
    district = load_district(write_district(folder, {"enrollments": enrollments}), today=TODAY)
    assert district["enrollments"]["grade_level"].iloc[0] == level


def test_flags_accept_yes_no_spellings_and_blank_stays_unknown(folder):
    students = ("student_id,english_learner,disability\n"
                "S1,Y,yes\nS2,N,no\nS3,1,True\nS4,0,FALSE\nS5,,n\n")
    enrollments = add_lines("enrollments", "S5,2025,SCH1,3,2024-08-20,,")
    district = load_district(write_district(folder, {"students": students, "enrollments": enrollments,
                                                     "evidence": None, "rosters": None}), today=TODAY)
    flags = district["students"]
    assert flags["english_learner"].tolist() == [True, False, True, False, pd.NA]
    assert flags["disability"].tolist() == [True, False, True, False, False]


def test_race_aliases_blank_unknown_and_empty_categories_kept(folder):
    district = load_district(write_district(folder), today=TODAY)
    race = district["students"]["race_ethnicity"]
    assert race.tolist() == ["White", "Hispanic/Latino", "Unknown", "Black/African American"]
    assert list(race.cat.categories) == list(RACE_ETHNICITY)
    counts = race.value_counts()
    assert counts["Asian"] == 0 and counts["Native Hawaiian/Pacific Islander"] == 0
    assert "students.csv: 1 blank race/ethnicity value was recorded as 'Unknown'." in district.notes
    assert "students.csv: 1 blank gender value was recorded as 'Unknown'." in district.notes
    assert district["students"]["gender"].tolist() == ["F", "M", "F", "Unknown"]


def test_group_columns_kept_with_blank_as_unknown(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert district["students"]["group_newcomer"].tolist() == ["Y", "Unknown", "N", "N"]


def test_codes_are_lower_snake_case_and_school_year_span(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert district["evidence"]["task_type"].tolist() == ["performance_task", "quiz", "test", "project"]
    assert district["enrollments"]["exit_reason"].tolist()[1] == "transfer_out"
    assert district["sections"]["school_year"].tolist() == [2025, 2025]  # "2024-25"
    assert district["sections"]["course_level"].tolist() == ["standard", "honors"]


def test_us_dates_and_iso_dates(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert district["evidence"]["assessed_on"].iloc[3] == pd.Timestamp("2024-09-12")


def test_headers_normalised_bom_and_extra_columns_noted(folder):
    students = "\ufeff Student ID ,Race Ethnicity,Comment\nS1,White,hi\nS2,Asian,\nS3,,\nS4,White,\n"
    write_district(folder, {"students": students})
    (folder / "notes.txt").write_text("hello")
    district = load_district(folder, today=TODAY)
    assert list(district["students"].columns) == ["student_id", "race_ethnicity"]
    assert "students.csv: column 'comment' is not in the data contract and was ignored." in district.notes
    # counted, never named: a file name in the data folder can hold a student's name or markup
    assert ("Files or folders in the data folder that are not tables of the data contract were ignored: 1."
            in district.notes)
    assert not any("notes.txt" in note for note in district.notes)


def test_district_api_for_missing_tables(folder):
    district = load_district(write_district(folder), today=TODAY)
    assert "students" in district and "discipline" not in district
    assert district.missing_tables == ["programs", "levels", "grades", "supports", "opportunities",
                                       "discipline", "calibration", "survey", "state_comparison",
                                       "attendance", "staff"]
    notes = district.missing_table_notes()
    assert list(notes.columns) == ["table", "what_it_would_show", "edfi"]
    assert notes.set_index("table").loc["discipline", "edfi"] == TABLES["discipline"].edfi
    with pytest.raises(KeyError, match="no 'discipline' table"):
        district["discipline"]


# --------------------------------------------------------------------------- files and structure


def test_missing_required_table(folder):
    problem = only_problem(write_district(folder, {"enrollments": None}))
    assert str(problem) == ("enrollments table: no file was found in the folder; expected a file named "
                            "enrollments.csv, enrollments.parquet or enrollments.xlsx (this table is "
                            "required).")
    assert (problem.kind, problem.row_level) == (load.KIND_MISSING_TABLE, False)


def test_missing_required_column(folder):
    enrollments = "student_id,school_id,grade_level\nS1,SCH1,6\n"
    problem = only_problem(write_district(folder, {"enrollments": enrollments}))
    assert str(problem) == ("enrollments.csv, column 'school_year': required column is missing from "
                            "the header; expected the columns student_id, school_year, school_id, "
                            "grade_level.")


@pytest.mark.parametrize("text, issue", [
    ("", "the file is empty"),
    ("student_id,section_id\n", "the file has a header but no rows of data"),
])
def test_empty_file(folder, text, issue):
    problem = only_problem(write_district(folder, {"rosters": text}))
    assert str(problem) == f"rosters.csv: {issue}; expected {load.EXPECTED_DATA}."
    assert problem.kind == load.KIND_EMPTY


@pytest.mark.parametrize("separator, words", [(";", "semicolons (;)"), ("\t", "tabs"),
                                              ("|", "vertical bars (|)")])
def test_wrong_delimiter(folder, separator, words):
    schools = VALID["schools"].replace(",", separator)
    problem = only_problem(write_district(folder, {"schools": schools}))
    header = separator.join(["school_id", "school_name", "school_level"])
    assert str(problem) == (f"schools.csv, line 1: '{header}' seems to use {words} to separate "
                            f"columns; expected {load.EXPECTED_COMMAS}.")
    assert problem.kind == load.KIND_DELIMITER


def test_wrong_encoding_names_line_and_suggests_csv_utf8(folder):
    write_district(folder)
    (folder / "schools.csv").write_bytes(
        "school_id,school_name\nSCH1,Lincoln\nSCH2,Jos\u00e9 Mart\u00ed\n".encode("cp1252"))
    problem = only_problem(folder)
    assert problem.kind == load.KIND_ENCODING
    assert problem.rows == (3,)
    assert str(problem) == ("schools.csv, line 3: 'SCH2,Jos\u00e9 Mart\u00ed' is not UTF-8 text "
                            "(byte 0xE9, perhaps Windows or Mac encoding); expected UTF-8 text: in "
                            'Excel choose File > Save As > "CSV UTF-8 (Comma delimited)", or pick UTF-8 '
                            "encoding when exporting.")


def test_two_files_for_one_table(folder):
    write_district(folder)
    pd.DataFrame({"school_id": ["SCH1"]}).to_parquet(folder / "schools.parquet")
    problem = only_problem(folder)
    assert str(problem) == ("schools table: found 2 files (schools.csv and schools.parquet); "
                            f"expected {load.EXPECTED_ONE_FILE}.")


def test_unsupported_file_type_for_a_table(folder):
    write_district(folder)
    (folder / "staff.xls").write_bytes(b"\xd0\xcf")
    assert str(only_problem(folder)) == ("staff.xls: is not a file type the audit reads; "
                                         "expected a .csv, .parquet or .xlsx file.")


def test_row_with_wrong_number_of_values(folder):
    schools = add_lines("schools", "SCH3,Lincoln, East,high")
    problem = only_problem(write_district(folder, {"schools": schools}))
    assert problem.rows == (4,)
    assert str(problem) == ("schools.csv, row 4: 'SCH3,Lincoln, East,high' does not have one value "
                            "per column; expected 3 values separated by commas, as in the header (put "
                            "quotes around a value that contains a comma).")


def test_row_numbers_count_blank_lines_and_quoted_line_breaks(folder):
    schools = ('school_id,school_name,school_level\nSCH1,"Lincoln\nMiddle",middle\n\n'
               "SCH2,Adams,elementary\nSCH2,Adams East,elementary\n")
    problem = only_problem(write_district(folder, {"schools": schools}))
    assert problem.rows == (5, 6)
    assert str(problem).startswith("schools.csv, column 'school_id', rows 5, 6: 'SCH2' appears")
    district = load_district(folder, today=TODAY, invalid_rows="exclude")
    assert district["schools"]["school_name"].tolist() == ["Lincoln\nMiddle"]
    assert "schools.csv: 1 blank row was skipped." in district.notes


# --------------------------------------------------------------------------- values


def test_unparseable_dates(folder):
    evidence = add_lines("evidence", "S1,M6.1,2024-13-45,3,T1,quiz,2", "S2,M6.1,soon,3,T1,quiz,2")
    problem = only_problem(write_district(folder, {"evidence": evidence}))
    assert str(problem) == ("evidence.csv, column 'assessed_on', rows 6, 7: '2024-13-45', 'soon' are "
                            "not dates; expected a date like 2024-09-03.")
    assert problem.row_level and problem.kind == load.KIND_NOT_DATE


def test_unparseable_number(folder):
    evidence = replace_line("evidence", 3, "S1,M6.1,2024-10-03,three,T1,quiz,2")
    problem = only_problem(write_district(folder, {"evidence": evidence}))
    assert str(problem) == ("evidence.csv, column 'score', row 3: 'three' is not a number; "
                            "expected a number like 3 or 2.5.")


def test_fraction_in_whole_number_column(folder):
    standards = replace_line("standards", 2, "M6.1,math,6,2.5")
    problem = only_problem(write_district(folder, {"standards": standards}))
    assert str(problem) == ("standards.csv, column 'dok', row 2: '2.5' is not a whole number; "
                            "expected a whole number like 3.")


def test_unknown_grade_level(folder):
    enrollments = replace_line("enrollments", 4, "S3,2025,SCH2,UG,2024-08-21,,")
    problem = only_problem(write_district(folder, {"enrollments": enrollments}))
    assert str(problem) == ("enrollments.csv, column 'grade_level', row 4: 'UG' is not a grade level; "
                            f"expected {load.EXPECTED_GRADE_LEVEL}.")


def test_unknown_category_lists_accepted_values(folder):
    students = replace_line("students", 3, "S2,2011-07-15,Martian,M,Y,N,")
    problem = only_problem(write_district(folder, {"students": students}))
    assert str(problem) == (
        "students.csv, column 'race_ethnicity', row 3: 'Martian' is not an accepted value; expected "
        "one of Hispanic/Latino, American Indian/Alaska Native, Asian, Black/African American, Native "
        "Hawaiian/Pacific Islander, White, Two or more races or Unknown.")


def test_unknown_flag_value(folder):
    students = replace_line("students", 2, "S1,2012-03-04,White,F,maybe,N,Y")
    problem = only_problem(write_district(folder, {"students": students}))
    assert str(problem) == ("students.csv, column 'english_learner', row 2: 'maybe' is not yes or no; "
                            "expected Y, N, Yes, No, True, False, 1 or 0.")


def test_course_grades_letters_points_percent_and_unknown_code(folder):
    grades = "student_id,section_id,term,grade\nS1,SEC1,S1,b+\nS2,SEC2,S1,3.7\nS1,SEC1,S2,88\nS2,SEC2,S2,P\n"
    problem = only_problem(write_district(folder, {"grades": grades}))
    assert str(problem) == f"grades.csv, column 'grade', row 5: 'P' is not a grade; expected {load.EXPECTED_GRADE}."
    district = load_district(folder, today=TODAY, invalid_rows="exclude")
    assert district["grades"]["grade"].tolist() == ["B+", "3.7", "88"]


def test_missing_value_in_required_column(folder):
    evidence = replace_line("evidence", 4, "S2,M7.1,2024-09-05,,T2,test,")
    problem = only_problem(write_district(folder, {"evidence": evidence}))
    assert str(problem) == ("evidence.csv, column 'score', row 4: the value is missing; expected a "
                            "value in every row (score is required).")
    assert problem.kind == load.KIND_MISSING_VALUE


def test_duplicate_keys(folder):
    students = add_lines("students", "S2,2011-07-16,Hispanic,M,Y,N,")
    problem = only_problem(write_district(folder, {"students": students}))
    assert str(problem) == ("students.csv, column 'student_id', rows 3, 6: 'S2' appears on more than "
                            "one row; expected one row per student_id.")


def test_duplicate_composite_key_names_every_key_column(folder):
    enrollments = add_lines("enrollments", "S1,2025,SCH1,6,2024-08-20,2025-01-02,")
    problem = only_problem(write_district(folder, {"enrollments": enrollments}))
    assert str(problem) == ("enrollments.csv, columns 'student_id', 'school_year', 'school_id', "
                            "'entry_date', rows 2, 6: 'S1 / 2025 / SCH1 / 2024-08-20' appears on more "
                            "than one row; expected one row per student_id + school_year + school_id + "
                            "entry_date.")


def test_exact_duplicate_rows_are_excluded_not_errors(folder):
    evidence = add_lines("evidence", "S1,M6.1,2024-09-03,3,T1,Performance Task,3",
                         "S1,M6.1,2024-09-03,3,T1,Performance Task,3")
    students = add_lines("students", "S1,2012-03-04,White,F,N,N,Y")
    district = load_district(write_district(folder, {"evidence": evidence, "students": students}),
                             today=TODAY)
    assert district.exclusions.values.tolist() == [
        ["students", load.EXACT_DUPLICATE, 1], ["evidence", load.EXACT_DUPLICATE, 2]]
    ledger = district.ledger.set_index("table")
    assert ledger.loc["evidence", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [6, 4, 2]
    assert len(district["students"]) == 4


def test_evidence_for_unknown_student(folder):
    evidence = add_lines("evidence", "S9,M6.1,2024-09-03,3,T1,quiz,2")
    problem = only_problem(write_district(folder, {"evidence": evidence}))
    assert str(problem) == ("evidence.csv, column 'student_id', row 6: 'S9' is not in students.csv; "
                            "expected a student_id that appears in students.csv.")
    assert problem.kind == load.KIND_UNKNOWN_REFERENCE


def test_roster_for_unknown_section(folder):
    rosters = add_lines("rosters", "S3,SEC7")
    problem = only_problem(write_district(folder, {"rosters": rosters}))
    assert str(problem) == ("rosters.csv, column 'section_id', row 4: 'SEC7' is not in sections.csv; "
                            "expected a section_id that appears in sections.csv.")


def test_enrollment_at_unknown_school_only_when_schools_provided(folder):
    enrollments = replace_line("enrollments", 5, "S4,2025,SCH9,PK,2024-08-21,,")
    problem = only_problem(write_district(folder, {"enrollments": enrollments}))
    assert str(problem) == ("enrollments.csv, column 'school_id', row 5: 'SCH9' is not in schools.csv; "
                            "expected a school_id that appears in schools.csv.")
    (folder / "schools.csv").unlink()
    district = load_district(folder, today=TODAY)
    assert "enrollments.csv: school_id was not checked because no schools file was provided." in district.notes


def test_rosters_without_sections_is_a_table_problem(folder):
    problem = only_problem(write_district(folder, {"sections": None}))
    assert str(problem) == ("rosters.csv: there is no sections file, so these rows cannot be linked to "
                            "sections; expected a sections.csv, sections.parquet or sections.xlsx file "
                            "alongside rosters.csv.")
    assert not problem.row_level
    with pytest.raises(DataValidationError):
        load_district(folder, today=TODAY, invalid_rows="exclude")


def test_score_outside_scale_and_custom_scale(folder):
    evidence = replace_line("evidence", 2, "S1,M6.1,2024-09-03,5,T1,quiz,3")
    problem = only_problem(write_district(folder, {"evidence": evidence}))
    assert str(problem) == ("evidence.csv, column 'score', row 2: '5' is outside 1 to 4; expected a "
                            "score from 1 to 4 (the score_scale setting, if your rubric uses another "
                            "scale).")
    district = load_district(folder, today=TODAY, score_scale=(0, 5))
    assert district["evidence"]["score"].iloc[0] == 5.0


def test_exit_before_entry(folder):
    enrollments = replace_line("enrollments", 3, "S2,2025,SCH1,7,2024-08-20,2024-08-01,transfer")
    problem = only_problem(write_district(folder, {"enrollments": enrollments}))
    assert str(problem) == ("enrollments.csv, column 'exit_date', row 3: '2024-08-01' is before the "
                            "entry_date on the same row; expected exit_date on or after entry_date.")
    assert problem.kind == load.KIND_ORDER


def test_birth_date_in_the_future(folder):
    students = replace_line("students", 5, "S4,2031-01-01,White,F,N,N,N")
    problem = only_problem(write_district(folder, {"students": students}))
    assert str(problem) == ("students.csv, column 'birth_date', row 5: '2031-01-01' is in the future; "
                            "expected a date on or before today (2025-06-30).")


def test_school_year_more_than_a_year_ahead(folder):
    sections = replace_line("sections", 2, "SEC1,2027,SCH1,T1,MATH6,math,PLC1,standard")
    problem = only_problem(write_district(folder, {"sections": sections}))
    assert str(problem) == ("sections.csv, column 'school_year', row 2: '2027' is more than a year "
                            "ahead; expected the year in which the school year ends, like 2025 for "
                            "2024-25, no later than 2026.")


def test_value_outside_contract_bounds(folder):
    standards = replace_line("standards", 3, "M7.1,math,7,9")
    problem = only_problem(write_district(folder, {"standards": standards}))
    assert str(problem) == ("standards.csv, column 'dok', row 3: '9' is outside 1 to 4; expected a "
                            "value from 1 to 4.")


def test_long_lists_are_cut_after_five(folder):
    rows = [f"S1,M6.1,bad{i},3,T1,quiz,2" for i in range(8)]
    problem = only_problem(write_district(folder, {"evidence": add_lines("evidence", *rows)}))
    assert len(problem.rows) == 8 and len(problem.values) == 8
    assert str(problem) == ("evidence.csv, column 'assessed_on', rows 6, 7, 8, 9, 10 and 3 more: "
                            "'bad0', 'bad1', 'bad2', 'bad3', 'bad4' and 3 more are not dates; expected "
                            "a date like 2024-09-03.")


def test_problems_collected_from_several_tables(folder):
    write_district(folder, {
        "students": replace_line("students", 2, "S1,not a date,White,F,N,N,Y"),
        "evidence": replace_line("evidence", 5, "S3,M6.1,2024-09-12,9,T1,project,1"),
        "schools": "",
    })
    found = problems_of(folder)
    assert [(p.file, p.column, p.rows) for p in found] == [
        ("students.csv", "birth_date", (2,)),
        ("schools.csv", None, ()),
        ("evidence.csv", "score", (5,)),
    ]
    with pytest.raises(DataValidationError, match="has 3 problems to fix"):
        load_district(folder, today=TODAY)


# --------------------------------------------------------------------------- exclude mode


def test_exclude_mode_ledger_arithmetic_and_cascade(folder):
    write_district(folder, {
        "students": add_lines("students", "S5,2031-01-01,White,F,N,N,N", "S1,2012-03-04,White,F,N,N,Y"),
        "enrollments": add_lines("enrollments", "S5,2025,SCH1,6,2024-08-20,,", "S9,2025,SCH1,6,2024-08-20,,"),
        "evidence": add_lines("evidence", "S5,M6.1,2024-09-03,3,T1,quiz,2", "S2,M6.1,someday,3,T1,quiz,2"),
    })
    district = load_district(folder, today=TODAY, invalid_rows="exclude")
    ledger = district.ledger
    assert (ledger["rows_read"] == ledger["rows_used"] + ledger["rows_excluded"]).all()
    by_table = ledger.set_index("table")
    assert by_table.loc["students", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [6, 4, 2]
    assert by_table.loc["enrollments", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [6, 4, 2]
    assert by_table.loc["evidence", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [6, 4, 2]
    refers = load.REFERS_TO.format(column="student_id")
    assert district.exclusions.values.tolist() == [
        ["students", load.EXACT_DUPLICATE, 1],
        ["students", "birth_date is in the future", 1],
        ["enrollments", refers, 2],
        ["evidence", "assessed_on is not a date", 1],
        ["evidence", refers, 1],
    ]
    assert district.exclusions.groupby("table")["rows"].sum().to_dict() == \
        by_table.loc[by_table["rows_excluded"] > 0, "rows_excluded"].to_dict()
    assert "S5" not in set(district["students"]["student_id"])
    assert [p.kind for p in district.problems] == [load.KIND_FUTURE, load.KIND_NOT_DATE,
                                                   load.KIND_UNKNOWN_REFERENCE, load.KIND_UNKNOWN_REFERENCE]


def test_exclude_mode_duplicate_keys_leave_out_every_copy(folder):
    students = add_lines("students", "S2,2011-07-16,Hispanic,M,Y,N,")
    district = load_district(write_district(folder, {"students": students}), today=TODAY,
                             invalid_rows="exclude")
    assert district["students"]["student_id"].tolist() == ["S1", "S3", "S4"]
    assert district.exclusions.values.tolist()[0] == ["students", "duplicate student_id", 2]


def test_exclude_mode_still_raises_on_file_problems(folder):
    write_district(folder, {"schools": VALID["schools"].replace(",", ";"),
                            "evidence": add_lines("evidence", "S1,M6.1,soon,3,T1,quiz,2")})
    found = problems_of(folder, invalid_rows="exclude")
    assert [p.kind for p in found] == [load.KIND_DELIMITER]


def test_invalid_settings_are_config_errors(folder):
    write_district(folder)
    with pytest.raises(ConfigError, match="'drop'"):
        load_district(folder, invalid_rows="drop")
    with pytest.raises(ConfigError, match="score_scale"):
        load_district(folder, score_scale=(4, 1))


# --------------------------------------------------------------------------- other formats


def test_parquet_input_with_typed_columns_and_record_numbers(folder):
    write_district(folder, {"evidence": None, "rosters": None, "sections": None})
    (folder / "students.csv").unlink()
    pd.DataFrame({
        "student_id": ["S1", "S2", "S3", "S4"],
        "birth_date": [datetime.date(2012, 3, 4), None, datetime.date(2012, 1, 20),
                       datetime.date(2030, 1, 1)],
        "english_learner": [True, False, None, True],
        "race_ethnicity": ["White", None, "Asian", "Latino"],
    }).to_parquet(folder / "students.parquet")
    problem = only_problem(folder)
    assert str(problem) == ("students.parquet, column 'birth_date', record 4: '2030-01-01' is in the "
                            "future; expected a date on or before today (2025-06-30).")
    district = load_district(folder, today="2031-01-01")
    students = district["students"]
    assert students["birth_date"].dtype == np.dtype("datetime64[ns]")
    assert students["english_learner"].tolist() == [True, False, pd.NA, True]
    assert students["race_ethnicity"].tolist() == ["White", "Unknown", "Asian", "Hispanic/Latino"]
    assert district.ledger.set_index("table").loc["students", "file"] == "students.parquet"


def test_parquet_numbers_for_ids_and_grade_levels(folder):
    write_district(folder, {"enrollments": None, "evidence": None, "rosters": None, "sections": None})
    pd.DataFrame({"student_id": ["S1", "S2", "S3", "S4"], "school_year": [2025, 2025, 2025, 2025],
                  "school_id": ["SCH1"] * 4, "grade_level": [3, 0, -1, 12]}
                 ).to_parquet(folder / "enrollments.parquet")
    district = load_district(folder, today=TODAY)
    assert district["enrollments"]["grade_level"].tolist() == [3, 0, -1, 12]
    assert district["enrollments"]["school_year"].dtype == "Int64"


def test_xlsx_input_uses_first_sheet_and_sheet_row_numbers(folder):
    write_district(folder, {"evidence": None, "rosters": None, "sections": None})
    (folder / "students.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Student ID", "Birth Date", "English Learner"])
    sheet.append(["S1", datetime.datetime(2012, 3, 4), "Y"])
    sheet.append(["S2", "2011-07-15", 0])
    sheet.append([None, None, None])
    sheet.append(["S3", "31/12/2012", "N"])
    sheet.append(["S4", datetime.datetime(2010, 11, 2), 1])
    book.create_sheet("Notes").append(["ignored"])
    book.save(folder / "students.xlsx")
    problem = only_problem(folder)
    assert str(problem) == ("students.xlsx, column 'birth_date', row 5: '31/12/2012' is not a date; "
                            "expected a date like 2024-09-03.")
    district = load_district(folder, today=TODAY, invalid_rows="exclude")
    students = district["students"]
    assert students["student_id"].tolist() == ["S1", "S2", "S4"]
    assert students["birth_date"].tolist() == [pd.Timestamp("2012-03-04"), pd.Timestamp("2011-07-15"),
                                               pd.Timestamp("2010-11-02")]
    assert students["english_learner"].tolist() == [True, False, True]
    assert ("students.xlsx: only the first sheet was read; the workbook has 2 sheets."
            in district.notes)


def test_district_round_trips_through_the_run_folder_store(folder, tmp_path):
    from equity_audit.data.store import read_district, save_district

    district = load_district(write_district(folder), today=TODAY)
    save_district(district, tmp_path / "store", key={"data_dir": str(folder)})
    again = read_district(tmp_path / "store", key={"data_dir": str(folder)})
    for name in district.tables:
        pd.testing.assert_frame_equal(again[name], district[name])
    pd.testing.assert_frame_equal(again.ledger, district.ledger)


def test_windows_line_endings_and_spaces_around_values(folder):
    schools = "school_id,school_name,school_level\r\n SCH1 , Lincoln Middle ,middle\r\nSCH2,Adams,x\r\n"
    district = load_district(write_district(folder, {"schools": schools}), today=TODAY)
    assert district["schools"]["school_id"].tolist() == ["SCH1", "SCH2"]
    assert district["schools"]["school_name"].tolist() == ["Lincoln Middle", "Adams"]


def test_missing_folder(tmp_path):
    problem = only_problem(tmp_path / "nowhere")
    assert problem.kind == load.KIND_NO_FOLDER
    assert str(problem) == (f"{tmp_path / 'nowhere'}: the folder does not exist; expected a folder "
                            "holding students and enrollments files.")


def test_empty_excel_sheet(folder):
    write_district(folder, {"schools": None})
    openpyxl.Workbook().save(folder / "schools.xlsx")
    assert str(only_problem(folder)) == f"schools.xlsx: the first sheet is empty; expected {load.EXPECTED_DATA}."
