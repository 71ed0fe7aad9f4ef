"""Ed-Fi import (issue #13) and the supports key that includes the domain.

The Ed-Fi tests read the golden fixture ``tests/fixtures/edfi-grand-bend`` (the Ed-Fi Alliance's
fictitious "Grand Bend" sample, CC BY 4.0; see its README). Its student and staff names are a
canary: none may reach the imported folder or any published file of an audit run on it.
"""
from __future__ import annotations

import pytest

from equity_audit.data.load import load_district
from equity_audit.exceptions import DataValidationError

from districts import TODAY, write_district

# --------------------------------------------------------------------------- supports key

SUPPORTS_HEADER = "student_id,support_type,start_date,end_date,domain\n"


def test_same_support_in_two_domains_on_the_same_day_is_valid(tmp_path):
    supports = SUPPORTS_HEADER + ("S1,tutoring,2024-09-10,,math\n"
                                  "S1,tutoring,2024-09-10,,ela\n"
                                  "S1,tutoring,2024-09-10,,\n")
    district = load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    assert sorted(district["supports"]["domain"].fillna("(blank)")) == ["(blank)", "ela", "math"]


def test_same_support_domain_and_day_twice_is_named_with_file_column_rows_and_values(tmp_path):
    supports = SUPPORTS_HEADER + ("S1,tutoring,2024-09-10,2024-12-01,math\n"
                                  "S1,tutoring,2024-09-10,2024-12-20,math\n"
                                  "S2,tutoring,2024-09-10,,\n"
                                  "S2,tutoring,2024-09-10,2025-01-10,\n")
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    assert [str(p) for p in caught.value.problems] == [
        "supports.csv, columns 'student_id', 'support_type', 'start_date', 'domain', rows 2, 3, 4, 5: "
        "'S1 / tutoring / 2024-09-10 / math', 'S2 / tutoring / 2024-09-10 / (blank)' appear on "
        "more than one row; expected one row per student_id + support_type + start_date + domain."]


def test_supports_without_a_domain_column_are_still_checked_for_duplicates(tmp_path):
    supports = ("student_id,support_type,start_date,end_date\n"
                "S1,tutoring,2024-09-10,2024-12-01\n"
                "S1,tutoring,2024-09-10,2024-12-20\n"
                "S2,tutoring,2024-09-11,\n")
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    (problem,) = caught.value.problems
    assert "columns 'student_id', 'support_type', 'start_date'," in str(problem)
    assert "rows 2, 3" in str(problem) and "'domain'" not in str(problem)


# --------------------------------------------------------------------------- a simulated Ed-Fi export

import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from equity_audit.data.edfi import EdFiImportError, import_edfi  # noqa: E402

from conftest import cli_env  # noqa: E402
from test_render import _pdf_text  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "edfi-grand-bend"
EDFI_RACES = {10: ("American Indian - Alaska Native", "American Indian/Alaska Native"),
              11: ("Asian", "Asian"),
              12: ("Black - African American", "Black/African American"),
              13: ("Native Hawaiian - Pacific Islander", "Native Hawaiian/Pacific Islander"),
              14: ("White", "White")}
GRADES = {30: ("Preschool/Prekindergarten", -1), 31: ("Kindergarten", 0), 32: ("First grade", 1),
          33: ("Sixth grade", 6), 34: ("Twelfth grade", 12), 35: ("Postsecondary", None)}


def simulated_export(folder: Path, n: int = 400, seed: int = 0, null: bool = False,
                     programs: bool = True) -> dict:
    """Write a small Ed-Fi export as CSV whose truth the test sets; returns that truth.

    ``null``: nobody is Hispanic, no race is recorded, nobody has a limited-English-proficiency
    descriptor and the program tables are empty, so no student may be flagged or given a race.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    usi = np.arange(1, n + 1)
    unique_id = np.char.add("SIM", (usi * 7 + 1000).astype(str))
    descriptors = [(1, "uri://ed-fi.org/SexDescriptor", "Male"), (2, "uri://ed-fi.org/SexDescriptor", "Female"),
                   (20, "uri://ed-fi.org/LimitedEnglishProficiencyDescriptor", "Limited"),
                   (21, "uri://ed-fi.org/LimitedEnglishProficiencyDescriptor", "NotLimited"),
                   (22, "uri://ed-fi.org/LimitedEnglishProficiencyDescriptor", "Limited Monitored 1")]
    descriptors += [(k, "uri://ed-fi.org/RaceDescriptor", v[0]) for k, v in EDFI_RACES.items()]
    descriptors += [(k, "uri://ed-fi.org/GradeLevelDescriptor", v[0]) for k, v in GRADES.items()]
    pd.DataFrame(descriptors, columns=["DescriptorId", "Namespace", "CodeValue"]).to_csv(
        folder / "Descriptor.csv", index=False)
    first, last = np.array(["Quenby", "Ysolde", "Thaddeus"]), np.array(["Vantreight", "Ollivander", "Pemberley"])
    pd.DataFrame({"StudentUSI": usi, "StudentUniqueId": unique_id,
                  "FirstName": first[usi % 3], "LastSurname": last[usi % 3],
                  "BirthDate": "2012-03-04"}).to_csv(folder / "Student.csv", index=False)
    hispanic = np.zeros(n, bool) if null else rng.random(n) < 0.3
    sex = rng.choice([1, 2], n)
    lep = np.full(n, np.nan) if null else rng.choice([20, 21, 22, np.nan], n, p=[0.1, 0.3, 0.1, 0.5])
    pd.DataFrame({"EducationOrganizationId": 9, "StudentUSI": usi, "SexDescriptorId": sex,
                  "HispanicLatinoEthnicity": np.where(hispanic, "true", "false"),
                  "LimitedEnglishProficiencyDescriptorId": pd.array(lep, dtype="Int64")}).to_csv(
        folder / "StudentEducationOrganizationAssociation.csv", index=False)
    races_per_student = np.zeros(n, int) if null else rng.choice([0, 1, 2], n, p=[0.1, 0.8, 0.1])
    race_usi = np.repeat(usi, races_per_student)
    race_ids = rng.choice(list(EDFI_RACES), len(race_usi))
    races = pd.DataFrame({"EducationOrganizationId": 9, "StudentUSI": race_usi, "RaceDescriptorId": race_ids})
    races.to_csv(folder / "StudentEducationOrganizationAssociationRace.csv", index=False)
    grade = rng.choice(list(GRADES), n)
    pd.DataFrame({"StudentUSI": usi, "SchoolId": rng.choice([101, 102], n), "EntryDate": "2024-08-26",
                  "EntryGradeLevelDescriptorId": grade}).to_csv(folder / "StudentSchoolAssociation.csv",
                                                                 index=False)
    members = {}
    if programs:
        for table, share in (("StudentSpecialEducationProgramAssociation", 0.12),
                             ("StudentLanguageInstructionProgramAssociation", 0.08),
                             ("StudentSchoolFoodServiceProgramAssociation", 0.4)):
            chosen = usi[rng.random(n) < (0 if null else share)]
            members[table] = set(chosen)
            pd.DataFrame({"BeginDate": "2024-08-26", "ProgramName": "p", "StudentUSI": chosen}).to_csv(
                folder / f"{table}.csv", index=False)
    # the truth, set here: Hispanic first, then one race, several, or none
    distinct = races.drop_duplicates(["StudentUSI", "RaceDescriptorId"])
    count = distinct.groupby("StudentUSI").size().reindex(usi, fill_value=0).to_numpy()
    one = distinct.drop_duplicates("StudentUSI").set_index("StudentUSI")["RaceDescriptorId"]
    named = pd.Series(usi).map(one.map({k: v[1] for k, v in EDFI_RACES.items()})).to_numpy()
    race = np.where(hispanic, "Hispanic/Latino",
                    np.where(count > 1, "Two or more races", np.where(count == 1, named, "Unknown")))
    in_language = np.isin(usi, list(members.get("StudentLanguageInstructionProgramAssociation", ())))
    return {"student_id": unique_id, "race": race, "usi": usi,
            "english_learner": np.where((lep == 20) | in_language, "Y", "N"),
            "disability": np.where(np.isin(usi, list(members.get("StudentSpecialEducationProgramAssociation",
                                                                  ()))), "Y", "N"),
            "low_income": np.where(np.isin(usi, list(members.get("StudentSchoolFoodServiceProgramAssociation",
                                                                  ()))), "Y", "N"),
            "grade": np.array([GRADES[g][1] for g in grade], dtype=object),
            "sex": np.where(sex == 1, "Male", "Female"), "names": [*first, *last]}


def imported_students(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "students.csv", dtype=str, keep_default_na=False).set_index("student_id")


def test_simulated_export_imports_race_sex_and_flags_as_set(tmp_path):
    truth = simulated_export(tmp_path / "edfi", seed=3)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    students = imported_students(tmp_path / "out").loc[truth["student_id"]]
    assert result.rows["students"] == 400
    assert (students["race_ethnicity"].to_numpy() == truth["race"]).all()
    assert {"Hispanic/Latino", "Two or more races", "Unknown", "White"} <= set(truth["race"])
    assert (students["gender"].to_numpy() == truth["sex"]).all()
    for flag in ("english_learner", "disability", "low_income"):
        assert (students[flag].to_numpy() == truth[flag]).all(), flag
        assert 0 < (truth[flag] == "Y").sum() < 400
    # "Limited Monitored 1" is a former English learner: not counted unless in a language program
    assert "homeless" not in students and "migrant" not in students  # no table in the export: unknown
    load_district(tmp_path / "out")


def test_null_export_flags_nobody_and_gives_no_race(tmp_path):
    simulated_export(tmp_path / "edfi", seed=4, null=True)
    import_edfi(tmp_path / "edfi", tmp_path / "out")
    students = imported_students(tmp_path / "out")
    assert set(students["race_ethnicity"]) == {"Unknown"}
    for flag in ("english_learner", "disability", "low_income"):
        assert set(students[flag]) == {"N"}, flag


def test_flags_whose_source_table_is_absent_are_left_out_not_set_to_no(tmp_path):
    simulated_export(tmp_path / "edfi", seed=5, programs=False)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    students = imported_students(tmp_path / "out")
    assert "disability" not in students and "low_income" not in students
    assert "english_learner" in students  # from the limited-English-proficiency descriptor alone
    assert any("StudentSpecialEducationProgramAssociation" in note and "disability" in note
               for note in result.notes)


def test_grade_levels_are_read_from_descriptors_and_others_are_counted(tmp_path):
    truth = simulated_export(tmp_path / "edfi", seed=6)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    enrollments = pd.read_csv(tmp_path / "out" / "enrollments.csv", dtype={"student_id": str})
    expected = pd.Series(truth["grade"], index=truth["student_id"]).dropna()
    got = enrollments.set_index("student_id")["grade_level"]
    assert sorted(got.index) == sorted(expected.index)
    assert (got.loc[expected.index].to_numpy() == expected.to_numpy().astype(int)).all()
    assert set(enrollments["school_year"]) == {2025}  # entered August 2024: the 2024-25 school year
    dropped = int(pd.isna(truth["grade"]).sum())
    assert dropped > 0 and any(f"{dropped:,} enrollments" in n and "Postsecondary" in n for n in result.notes)


def test_descriptor_uris_are_read_without_a_descriptor_row(tmp_path):
    simulated_export(tmp_path / "edfi", seed=7)
    path = tmp_path / "edfi" / "StudentEducationOrganizationAssociation.csv"
    frame = pd.read_csv(path)
    frame["SexDescriptorId"] = "uri://ed-fi.org/SexDescriptor#Not Selected"
    frame.to_csv(path, index=False)
    import_edfi(tmp_path / "edfi", tmp_path / "out")
    assert set(imported_students(tmp_path / "out")["gender"]) == {"Not Selected"}


def test_simulated_names_and_birth_dates_are_not_imported(tmp_path):
    truth = simulated_export(tmp_path / "edfi", seed=8)
    import_edfi(tmp_path / "edfi", tmp_path / "out")
    text = "\n".join(p.read_text() for p in (tmp_path / "out").iterdir()).lower()
    assert not [name for name in truth["names"] if name.lower() in text]
    assert "2012-03-04" not in text and "birth" not in text


# --------------------------------------------------------------------------- clear errors


def test_missing_source_folder_is_a_plain_error(tmp_path):
    with pytest.raises(EdFiImportError, match="does not exist"):
        import_edfi(tmp_path / "nowhere", tmp_path / "out")


def test_export_without_student_table_names_it(tmp_path):
    simulated_export(tmp_path / "edfi", seed=9)
    (tmp_path / "edfi" / "Student.csv").unlink()
    with pytest.raises(EdFiImportError, match=r"has no Student table"):
        import_edfi(tmp_path / "edfi", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_column_is_named_with_its_table(tmp_path):
    simulated_export(tmp_path / "edfi", seed=10)
    path = tmp_path / "edfi" / "Student.csv"
    pd.read_csv(path).drop(columns="StudentUniqueId").to_csv(path, index=False)
    with pytest.raises(EdFiImportError, match=r"Student in .*Student.csv has no StudentUniqueId column"):
        import_edfi(tmp_path / "edfi", tmp_path / "out")


def test_unreadable_parquet_file_is_named(tmp_path):
    simulated_export(tmp_path / "edfi", seed=11)
    (tmp_path / "edfi" / "Student.csv").unlink()
    (tmp_path / "edfi" / "Student").mkdir()
    (tmp_path / "edfi" / "Student" / "part-0.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(EdFiImportError, match=r"could not be read from .*part-0.parquet"):
        import_edfi(tmp_path / "edfi", tmp_path / "out")


def test_output_folder_with_files_is_refused(tmp_path):
    simulated_export(tmp_path / "edfi", seed=12)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(EdFiImportError, match="not empty"):
        import_edfi(tmp_path / "edfi", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "equity_audit.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=cli_env())


@pytest.mark.parametrize("broken", ["missing", "malformed"])
def test_cli_import_errors_exit_2_without_traceback(tmp_path, broken):
    source = tmp_path / "edfi"
    if broken == "malformed":
        simulated_export(source, seed=13)
        (source / "StudentSchoolAssociation.csv").write_bytes(b"\x00\x01garbage")
    result = cli("import", "edfi", "--source", source, "--out", tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("equity-audit: ") and "Traceback" not in result.stderr
    assert ("does not exist" if broken == "missing" else "StudentSchoolAssociation") in result.stderr


# --------------------------------------------------------------------------- the Grand Bend sample


@pytest.fixture(scope="module")
def grand_bend(tmp_path_factory):
    """The golden fixture imported once through the command line."""
    out = tmp_path_factory.mktemp("grand_bend") / "district"
    result = cli("import", "edfi", "--source", FIXTURE, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def _edfi(table: str) -> pd.DataFrame:
    return pd.read_parquet(FIXTURE / table)


def test_grand_bend_counts(grand_bend):
    out, stdout = grand_bend
    rows = {p.stem: len(pd.read_csv(p)) for p in out.glob("*.csv")}
    assert rows == {"students": 960, "enrollments": 960, "schools": 3, "sections": 526, "rosters": 13440,
                    "grades": 40320, "discipline": 25, "attendance": 958}
    students = imported_students(out)
    counts = {flag: int((students[flag] == "Y").sum())
              for flag in ("english_learner", "disability", "low_income", "homeless", "migrant")}
    assert counts == {"english_learner": 50, "disability": 97, "low_income": 21, "homeless": 11, "migrant": 275}
    # the flags are exactly the program members (by StudentUniqueId), not just the right number
    usi_to_id = _edfi("Student").set_index("StudentUSI")["StudentUniqueId"]
    special = set(usi_to_id.loc[_edfi("StudentSpecialEducationProgramAssociation")["StudentUSI"]])
    assert set(students.index[students["disability"] == "Y"]) == special
    hispanic = _edfi("StudentEducationOrganizationAssociation").query("HispanicLatinoEthnicity")["StudentUSI"]
    assert (students["race_ethnicity"] == "Hispanic/Latino").sum() == hispanic.nunique() == 434
    assert "(StudentSchoolAttendanceEvent) were not imported" not in stdout and "1,290 assessment results" in stdout
    assert "6 sections with no teacher" in stdout


def test_grand_bend_import_meets_the_contract(grand_bend):
    out, stdout = grand_bend
    assert "the data meets the contract" in stdout
    district = load_district(out)
    ledger = district.ledger.set_index("table")
    assert ledger.loc["students", "rows_used"] == 960 and ledger.loc["grades", "rows_used"] == 40320
    assert sorted(district["enrollments"]["school_id"].unique()) == sorted(district["schools"]["school_id"])


def _names() -> tuple[list[str], list[str]]:
    """Full names of every student and staff member, and each single first, middle and last name."""
    people = pd.concat([_edfi("Student"), _edfi("Staff")], ignore_index=True)
    full = (people["FirstName"] + " " + people["LastSurname"]).tolist() + \
        (people["LastSurname"] + ", " + people["FirstName"]).tolist()
    single = pd.concat([people["FirstName"], people["MiddleName"], people["LastSurname"]]).dropna().unique()
    return full, list(single)


def test_grand_bend_names_are_not_in_the_imported_folder(grand_bend):
    out, _ = grand_bend
    full, single = _names()
    text = "\n".join(p.read_text(encoding="utf-8") for p in out.iterdir()).lower()
    assert not [name for name in full if name.lower() in text]
    # no column holds names: a word that is also a surname ("White") may appear, a names column may not
    for path in out.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str)
        for column in frame:
            named = set(frame[column].dropna()) & set(single)
            assert len(named) <= 1, f"{path.name}:{column} holds names: {sorted(named)[:5]}"
    birth = set(_edfi("Student")["BirthDate"].astype(str))
    assert not birth & set(re.findall(r"\d{4}-\d{2}-\d{2}", (out / "students.csv").read_text()))


@pytest.mark.slow
def test_grand_bend_audit_publishes_no_name_or_raw_id(grand_bend, tmp_path):
    from equity_audit.app.pipeline import run_audit

    out, _ = grand_bend
    run = tmp_path / "run"
    report = run_audit(out, run, log=lambda message: None, progress=False)
    assert report.exists()
    full, _ = _names()
    ids = set(_edfi("Student")["StudentUniqueId"].astype(str)) | set(_edfi("Staff")["StaffUniqueId"].astype(str))
    published = [p for p in run.rglob("*") if p.is_file() and "confidential" not in p.relative_to(run).parts]
    assert any(p.name == report.name for p in published)
    for path in published:
        if path.suffix == ".xlsx":
            sheets = pd.read_excel(path, sheet_name=None, dtype=str)
            text = "\n".join(name + "\n" + sheet.to_csv() for name, sheet in sheets.items())
        elif path.suffix == ".pdf":  # page text is compressed: search the extracted text too
            text = path.read_bytes().decode("latin-1") + "\n" + (_pdf_text(path) or "")
        elif path.suffix in (".png", ".svg", ".jpg"):
            text = path.read_bytes().decode("latin-1")
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
        lowered = text.lower()
        assert not [name for name in full if name.lower() in lowered], path
        leaked = set(re.findall(r"[A-Za-z0-9_-]+", text)) & ids
        assert not leaked, f"{sorted(leaked)[:5]} in {path.relative_to(run)}"


def test_descriptor_ids_missing_from_descriptor_are_counted(tmp_path):
    simulated_export(tmp_path / "edfi", seed=14)
    path = tmp_path / "edfi" / "StudentEducationOrganizationAssociation.csv"
    frame = pd.read_csv(path)
    frame.loc[:9, "SexDescriptorId"] = 999
    frame.to_csv(path, index=False)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    assert any(note.startswith("1 descriptor id (999) not in Descriptor") for note in result.notes)
    assert (imported_students(tmp_path / "out")["gender"] == "").sum() == 10  # blank: the loader's Unknown


def test_parquet_output_loads_like_csv(tmp_path):
    simulated_export(tmp_path / "edfi", seed=15)
    as_csv = import_edfi(tmp_path / "edfi", tmp_path / "csv")
    as_parquet = import_edfi(tmp_path / "edfi", tmp_path / "parquet", fmt="parquet")
    assert as_parquet.rows == as_csv.rows
    a, b = load_district(tmp_path / "csv"), load_district(tmp_path / "parquet")
    pd.testing.assert_frame_equal(a["students"], b["students"])
    pd.testing.assert_frame_equal(a["enrollments"], b["enrollments"])


# --------------------------------------------------------------------------- attendance

ABSENCE = {40: "Excused Absence", 41: "Unexcused Absence"}
NOT_ABSENCE = {42: "Tardy", 43: "In Attendance", 44: "Partial", 45: "Early departure"}
CALENDAR_EVENTS = {50: "Instructional day", 51: "Holiday", 52: "Make-up day", 53: "Teacher only day"}
SCHOOL_DAYS = pd.bdate_range("2024-08-26", "2025-06-06")


def add_attendance(folder: Path, seed: int, *, calendar: bool = True, sessions: bool = False,
                   null: bool = False, calendars: int = 1) -> pd.DataFrame:
    """Add entry and exit dates, school calendars and attendance events to a simulated export.

    Returns the truth per student (index ``student_id``): ``days_enrolled`` and ``days_absent``,
    worked out on a dense student-by-day grid. ``null``: no event is an absence. With ``calendars``
    above 1, each school has that many calendars and each enrollment names its own (CalendarCode).
    """
    rng = np.random.default_rng(seed)
    descriptor = pd.read_csv(folder / "Descriptor.csv")
    extra = [(k, "uri://ed-fi.org/AttendanceEventCategoryDescriptor", v) for k, v in {**ABSENCE, **NOT_ABSENCE}.items()]
    extra += [(k, "uri://ed-fi.org/CalendarEventDescriptor", v) for k, v in CALENDAR_EVENTS.items()]
    pd.concat([descriptor, pd.DataFrame(extra, columns=descriptor.columns)]).to_csv(folder / "Descriptor.csv",
                                                                                     index=False)
    ssa = pd.read_csv(folder / "StudentSchoolAssociation.csv")
    n = len(ssa)
    days = SCHOOL_DAYS.to_numpy()
    entry = np.where(rng.random(n) < 0.7, days[0], days[rng.integers(1, 60, n)])
    leaves = rng.random(n) < 0.3
    exit_ = np.where(leaves, days[rng.integers(80, len(days), n)], np.datetime64("NaT"))
    ssa["EntryDate"] = pd.Series(entry).dt.strftime("%Y-%m-%d")
    ssa["ExitWithdrawDate"] = pd.Series(exit_).dt.strftime("%Y-%m-%d")
    schools = sorted(ssa["SchoolId"].unique())
    own = rng.integers(0, calendars, n)  # the calendar of each enrollment at its school
    if calendars > 1:
        ssa["CalendarCode"] = [f"C{k}" for k in own]
    ssa.to_csv(folder / "StudentSchoolAssociation.csv", index=False)
    # each calendar: every weekday, some of them holidays or teacher-only days, a few make-up days
    event = rng.choice(list(CALENDAR_EVENTS), (len(schools) * calendars, len(days)), p=[0.85, 0.07, 0.03, 0.05])
    instructional = np.isin(event, [50, 52])
    if calendar:
        rows = pd.DataFrame({"CalendarCode": np.repeat([f"C{k}" for _ in schools for k in range(calendars)],
                                                       len(days)),
                             "SchoolId": np.repeat(np.repeat(schools, calendars), len(days)), "SchoolYear": 2025,
                             "Date": np.tile(SCHOOL_DAYS.strftime("%Y-%m-%d"), len(schools) * calendars),
                             "CalendarEventDescriptorId": event.ravel()})
        rows.to_csv(folder / "CalendarDateCalendarEvent.csv", index=False)
        rows.drop(columns="CalendarEventDescriptorId").to_csv(folder / "CalendarDate.csv", index=False)
    if sessions:
        pd.DataFrame({"SchoolId": schools, "SchoolYear": 2025, "SessionName": "Year", "BeginDate": "2024-08-26",
                      "EndDate": "2025-06-06", "TotalInstructionalDays": 170}).to_csv(folder / "Session.csv",
                                                                                       index=False)
    # events on random weekdays, in and out of the enrollment, on instructional days and not
    per_student = rng.poisson(9, n)
    usi = np.repeat(ssa["StudentUSI"].to_numpy(), per_student)
    day = rng.integers(0, len(days), len(usi))
    kinds = list(NOT_ABSENCE) if null else [*ABSENCE, *NOT_ABSENCE]
    category = rng.choice(kinds, len(usi))
    duration = rng.choice([1.0, 0.5, np.nan], len(usi), p=[0.6, 0.2, 0.2])
    school = np.repeat(ssa["SchoolId"].to_numpy(), per_student)
    pd.DataFrame({"StudentUSI": usi, "SchoolId": school, "SchoolYear": 2025, "SessionName": "Year",
                  "EventDate": SCHOOL_DAYS[day].strftime("%Y-%m-%d"), "AttendanceEventCategoryDescriptorId": category,
                  "EventDuration": duration}).to_csv(folder / "StudentSchoolAttendanceEvent.csv", index=False)
    # the truth on a student x day grid
    row = ssa["SchoolId"].map({s: i for i, s in enumerate(schools)}).to_numpy() * calendars + own
    enrolled = (days[None, :] >= entry[:, None]) & ((days[None, :] <= exit_[:, None]) | ~leaves[:, None])
    absent = np.zeros((n, len(days)))
    student_row = pd.Series(np.arange(n), index=ssa["StudentUSI"]).loc[usi].to_numpy()
    is_absence = np.isin(category, list(ABSENCE))
    np.maximum.at(absent, (student_row[is_absence], day[is_absence]), np.nan_to_num(duration[is_absence], nan=1.0))
    on_calendar = enrolled & instructional[row] if calendar else enrolled
    ids = pd.read_csv(folder / "Student.csv", dtype=str).set_index("StudentUSI")["StudentUniqueId"]
    return pd.DataFrame({"days_enrolled": on_calendar.sum(1), "days_absent": (absent * on_calendar).sum(1),
                         "whole_year": (entry == days[0]) & (~leaves | (exit_ == days[-1]))},
                        index=ids.loc[ssa["StudentUSI"].astype(str)].to_numpy())


def imported_attendance(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "attendance.csv", dtype={"student_id": str}).set_index("student_id")


def test_attendance_counts_absences_over_the_calendar_instructional_days(tmp_path):
    simulated_export(tmp_path / "edfi", seed=20)
    truth = add_attendance(tmp_path / "edfi", seed=21)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    got = imported_attendance(tmp_path / "out")
    imported = pd.read_csv(tmp_path / "out" / "enrollments.csv", dtype={"student_id": str})["student_id"]
    truth = truth.loc[imported]  # enrollments outside PK-12 are not imported, nor their attendance
    assert sorted(got.index) == sorted(truth.index) and result.rows["attendance"] == len(truth)
    assert (got.loc[truth.index, "days_enrolled"].to_numpy() == truth["days_enrolled"].to_numpy()).all()
    assert np.allclose(got.loc[truth.index, "days_absent"].to_numpy(), truth["days_absent"].to_numpy())
    # the simulation exercises what it should: half days, partial enrollments, uncounted events
    assert (truth["days_absent"] % 1 == 0.5).any() and truth["days_enrolled"].nunique() > 10
    assert set(got["school_year"]) == {2025}
    assert any("Tardy" in note and "not counted as days absent" in note for note in result.notes)
    assert any("not instructional in the school calendar" in note for note in result.notes)
    district = load_district(tmp_path / "out")
    assert len(district["attendance"]) == len(truth)


def test_attendance_follows_each_enrollments_own_calendar(tmp_path):
    simulated_export(tmp_path / "edfi", seed=30)
    truth = add_attendance(tmp_path / "edfi", seed=31, calendars=2)
    import_edfi(tmp_path / "edfi", tmp_path / "out")
    got = imported_attendance(tmp_path / "out")
    truth = truth.loc[got.index]
    assert len(got) > 300
    assert (got["days_enrolled"] == truth["days_enrolled"]).all()
    assert np.allclose(got["days_absent"], truth["days_absent"])
    # without CalendarCode, a day counts when any calendar of the school has it: more days, never fewer
    path = tmp_path / "edfi" / "StudentSchoolAssociation.csv"
    pd.read_csv(path).drop(columns="CalendarCode").to_csv(path, index=False)
    import_edfi(tmp_path / "edfi", tmp_path / "union")
    union = imported_attendance(tmp_path / "union").loc[got.index, "days_enrolled"]
    assert (union >= got["days_enrolled"]).all() and (union > got["days_enrolled"]).mean() > 0.5


def test_attendance_null_export_counts_no_absence(tmp_path):
    simulated_export(tmp_path / "edfi", seed=22)
    truth = add_attendance(tmp_path / "edfi", seed=23, null=True)
    import_edfi(tmp_path / "edfi", tmp_path / "out")
    got = imported_attendance(tmp_path / "out")
    assert (got["days_absent"] == 0).all()
    assert (got["days_enrolled"] == truth.loc[got.index, "days_enrolled"]).all()


def test_attendance_without_calendar_uses_whole_sessions_and_leaves_partial_enrollments_out(tmp_path):
    simulated_export(tmp_path / "edfi", seed=24)
    truth = add_attendance(tmp_path / "edfi", seed=25, calendar=False, sessions=True)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    got = imported_attendance(tmp_path / "out")
    imported = pd.read_csv(tmp_path / "out" / "enrollments.csv", dtype={"student_id": str})["student_id"]
    whole = truth.loc[imported].query("whole_year")
    assert 0 < len(whole) < len(imported)
    assert sorted(got.index) == sorted(whole.index)  # the year's sessions covered whole, the others left out
    assert (got["days_enrolled"] == 170).all()
    assert np.allclose(got.loc[whole.index, "days_absent"], whole["days_absent"])  # every absence in the year
    partial = len(imported) - len(whole)
    assert any(note.startswith(f"attendance: {partial:,} enrollments were left out") for note in result.notes)
    load_district(tmp_path / "out")


def test_attendance_without_calendar_or_session_is_not_written_and_says_why(tmp_path):
    simulated_export(tmp_path / "edfi", seed=26)
    add_attendance(tmp_path / "edfi", seed=27, calendar=False)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    assert not (tmp_path / "out" / "attendance.csv").exists() and "attendance" not in result.rows
    assert any("attendance.csv was not written" in note for note in result.notes)
    assert any("days enrolled are not known" in note for note in result.notes)


def test_attendance_absent_more_days_than_enrolled_is_counted_and_left_out(tmp_path):
    simulated_export(tmp_path / "edfi", seed=28)
    truth = add_attendance(tmp_path / "edfi", seed=29, calendar=False, sessions=True)
    sessions = tmp_path / "edfi" / "Session.csv"
    pd.read_csv(sessions).assign(TotalInstructionalDays=3).to_csv(sessions, index=False)
    result = import_edfi(tmp_path / "edfi", tmp_path / "out")
    imported = pd.read_csv(tmp_path / "out" / "enrollments.csv", dtype={"student_id": str})["student_id"]
    whole = truth.loc[imported].query("whole_year")
    over = int((whole["days_absent"] > 3).sum())
    assert 0 < over < len(whole)
    got = imported_attendance(tmp_path / "out")
    assert sorted(got.index) == sorted(whole.index[whole["days_absent"] <= 3])
    assert any(note.startswith(f"attendance: {over:,} students were recorded absent on more days than")
               for note in result.notes)
    load_district(tmp_path / "out")  # the validator accepts what is left


def test_grand_bend_attendance_counts_its_absence_events_over_its_sessions(grand_bend):
    """Grand Bend has a Calendar but no CalendarDate: days enrolled come from its two sessions (81 + 88)."""
    out, stdout = grand_bend
    got = imported_attendance(out)
    events = _edfi("StudentSchoolAttendanceEvent")
    descriptor = _edfi("Descriptor").set_index("DescriptorId")["CodeValue"]
    category = events["AttendanceEventCategoryDescriptorId"].map(descriptor)
    assert category.value_counts().to_dict() == {"Excused Absence": 1077, "Unexcused Absence": 773, "Tardy": 66,
                                                 "Partial": 1}
    absences = events[category.isin(["Excused Absence", "Unexcused Absence"])]
    usi_to_id = _edfi("Student").set_index("StudentUSI")["StudentUniqueId"].astype(str)
    expected = absences["StudentUSI"].map(usi_to_id).value_counts()
    # the two students who left mid-session have no known days enrolled: left out, and said so
    ssa = _edfi("StudentSchoolAssociation")
    left = set(ssa.loc[ssa["ExitWithdrawDate"].notna(), "StudentUSI"].map(usi_to_id))
    assert len(left) == 2 and not left & set(got.index) and len(got) == 958
    assert "2 enrollments were left out of attendance" in stdout
    assert set(got["days_enrolled"]) == {_edfi("Session").groupby("SessionName")["TotalInstructionalDays"]
                                         .first().sum()} == {169}
    assert got["days_absent"].sum() == expected.drop(list(left), errors="ignore").sum() == 1850
    assert (got["days_absent"] == expected.reindex(got.index, fill_value=0)).all()
    assert int((got["days_absent"] >= 0.1 * got["days_enrolled"]).sum()) == 44  # chronically absent
    district = load_district(out)
    assert len(district["attendance"]) == 958


def test_attendance_of_a_student_who_left_and_came_back_sums_both_enrollments(tmp_path):
    simulated_export(tmp_path / "edfi", n=60, seed=32)
    add_attendance(tmp_path / "edfi", seed=33)
    folder = tmp_path / "edfi"
    ssa = pd.read_csv(folder / "StudentSchoolAssociation.csv")
    ssa = ssa[ssa["EntryGradeLevelDescriptorId"] != 35]  # Postsecondary is not imported
    first = ssa.iloc[[0]].assign(EntryDate="2024-08-26", ExitWithdrawDate="2024-12-20")
    again = ssa.iloc[[0]].assign(EntryDate="2025-01-06", ExitWithdrawDate=np.nan)
    pd.concat([first, again, ssa.iloc[1:]]).to_csv(folder / "StudentSchoolAssociation.csv", index=False)
    usi, school = int(first["StudentUSI"].iloc[0]), int(first["SchoolId"].iloc[0])
    calendar = pd.read_csv(folder / "CalendarDateCalendarEvent.csv").query("SchoolId == @school")
    days = pd.to_datetime(calendar.loc[calendar["CalendarEventDescriptorId"].isin([50, 52]), "Date"])
    enrolled = days[(days <= "2024-12-20") | (days >= "2025-01-06")]
    events = pd.read_csv(folder / "StudentSchoolAttendanceEvent.csv").query("StudentUSI == @usi")
    events = events[events["AttendanceEventCategoryDescriptorId"].isin(list(ABSENCE))]
    events = events[pd.to_datetime(events["EventDate"]).isin(enrolled)]
    expected_absent = events.fillna({"EventDuration": 1.0}).groupby("EventDate")["EventDuration"].max().sum()
    import_edfi(folder, tmp_path / "out")
    student = pd.read_csv(folder / "Student.csv").set_index("StudentUSI").loc[usi, "StudentUniqueId"]
    got = imported_attendance(tmp_path / "out").loc[student]
    assert got["days_enrolled"] == len(enrolled) < len(days)
    assert got["days_absent"] == pytest.approx(expected_absent) and expected_absent > 0
    assert len(pd.read_csv(tmp_path / "out" / "enrollments.csv").query("student_id == @student")) == 2
