"""Import an Ed-Fi ODS export into a district folder that meets the data contract.

An Ed-Fi ODS export holds one folder or file per ODS table (``Student/``,
``StudentSchoolAssociation.csv``, ...), in Parquet or CSV. Descriptor ids
(``SexDescriptorId``, ``GradeLevelDescriptorId``, ...) are resolved through the
``Descriptor`` table to their ``CodeValue``; an export that already holds
descriptor URIs (``uri://ed-fi.org/SexDescriptor#Female``) is read too.

What is written (see :data:`EDFI_COLUMNS` for the source of every column):

* ``students``: sex; race/ethnicity by Ed-Fi's rule (``HispanicLatinoEthnicity``
  true makes a student Hispanic/Latino whatever the races recorded; otherwise one
  race is that race, several are "Two or more races", none is "Unknown"); English
  learner from the limited-English-proficiency descriptor ("Limited") or any
  language-instruction program association; disability from any special-education
  program association; low income from any school food-service program
  association; homeless and migrant from their program associations. A flag whose
  source table is not in the export is left out (unknown), never set to "N".
* ``enrollments`` and ``schools``; ``sections`` (teacher of record) and
  ``rosters``; ``grades``; ``discipline``.
* ``attendance``, per student, school year and school: ``days_absent`` counts the
  ``StudentSchoolAttendanceEvent`` rows whose category is an excused or unexcused
  absence (tardies, partial days and presence are not counted), a day as its
  ``EventDuration`` where that is between 0 and 1 (half days as 0.5), else 1, and only
  within the enrollment's entry and exit dates. ``days_enrolled`` counts the
  instructional days (:data:`INSTRUCTIONAL_EVENTS`) of the school calendar
  (``CalendarDateCalendarEvent``) from the entry date to the exit date, both included.
  Where a school and year have no calendar dates, the rule is
  ``Session.TotalInstructionalDays`` of the sessions the enrollment covers whole; an
  enrollment that begins or ends within such a session (or with no session) is left out
  of attendance and counted in the notes, never estimated. Students recorded absent on
  more days than enrolled are left out and counted too (the contract refuses them).

Names, birth dates, addresses, login ids and every other direct identifier are
never read into the output: each output column is built from the columns listed
in :data:`EDFI_COLUMNS` only. Students are identified by ``StudentUniqueId``
(the district's student id) and staff by ``StaffUniqueId``; the run's pseudonym
key replaces them on loading where the settings ask for it. Tables the import
does not map (assessments) are counted and named in :attr:`ImportResult.left_out`.

Examples
--------
>>> from equity_audit.data.edfi import import_edfi
>>> result = import_edfi("tests/fixtures/edfi-grand-bend", "/tmp/grand-bend")  # doctest: +SKIP
>>> result.rows["students"]  # doctest: +SKIP
960
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from equity_audit.data.contract import DISCIPLINE_ACTIONS, TABLES, UNKNOWN
from equity_audit.exceptions import EquityAuditError

__all__ = ["EdFiImportError", "ImportResult", "EDFI_COLUMNS", "EDFI_OTHER_COLUMNS", "IMPORTED_TABLES",
           "INSTRUCTIONAL_EVENTS", "edfi_source", "import_edfi", "read_edfi_table"]


class EdFiImportError(EquityAuditError):
    """The Ed-Fi export cannot be read: a missing folder, table or column, or an unreadable file."""


#: The Ed-Fi source of each column the import writes, for the data dictionary.
EDFI_COLUMNS: dict[tuple[str, str], str] = {
    ("students", "student_id"): "Student.StudentUniqueId",
    ("students", "birth_date"): "Student.BirthDate (not imported: an identifier)",
    ("students", "race_ethnicity"): "StudentEducationOrganizationAssociation.HispanicLatinoEthnicity (true: "
                                    "Hispanic/Latino), else StudentEducationOrganizationAssociationRace "
                                    "(several races: Two or more races)",
    ("students", "gender"): "StudentEducationOrganizationAssociation.SexDescriptor",
    ("students", "english_learner"): "StudentEducationOrganizationAssociation.LimitedEnglishProficiency"
                                     "Descriptor = Limited, or a StudentLanguageInstructionProgramAssociation",
    ("students", "disability"): "a StudentSpecialEducationProgramAssociation",
    ("students", "low_income"): "a StudentSchoolFoodServiceProgramAssociation",
    ("students", "homeless"): "a StudentHomelessProgramAssociation",
    ("students", "migrant"): "a StudentMigrantEducationProgramAssociation",
    ("enrollments", "student_id"): "StudentSchoolAssociation.StudentUSI (as Student.StudentUniqueId)",
    ("enrollments", "school_year"): "StudentSchoolAssociation.SchoolYear, else the year ending after EntryDate",
    ("enrollments", "school_id"): "StudentSchoolAssociation.SchoolId",
    ("enrollments", "grade_level"): "StudentSchoolAssociation.EntryGradeLevelDescriptor",
    ("enrollments", "entry_date"): "StudentSchoolAssociation.EntryDate",
    ("enrollments", "exit_date"): "StudentSchoolAssociation.ExitWithdrawDate",
    ("enrollments", "exit_reason"): "StudentSchoolAssociation.ExitWithdrawTypeDescriptor",
    ("schools", "school_id"): "School.SchoolId",
    ("schools", "school_name"): "EducationOrganization.NameOfInstitution",
    ("schools", "school_level"): "SchoolCategory.SchoolCategoryDescriptor",
    ("sections", "section_id"): "Section.SectionIdentifier (with school, year, session and course "
                                "where it alone is not unique)",
    ("sections", "school_year"): "Section.SchoolYear",
    ("sections", "school_id"): "Section.SchoolId",
    ("sections", "teacher_id"): "StaffSectionAssociation.StaffUSI (as Staff.StaffUniqueId), teacher of "
                                "record first",
    ("sections", "course_id"): "CourseOffering.CourseCode",
    ("sections", "domain"): "Course.AcademicSubjectDescriptor",
    ("rosters", "student_id"): "StudentSectionAssociation.StudentUSI",
    ("rosters", "section_id"): "StudentSectionAssociation (section key)",
    ("grades", "student_id"): "Grade.StudentUSI",
    ("grades", "section_id"): "Grade (section key)",
    ("grades", "term"): "Grade.GradingPeriodDescriptor (prefixed by GradeTypeDescriptor unless "
                        "Grading Period)",
    ("grades", "grade"): "Grade.LetterGradeEarned, else Grade.NumericGradeEarned",
    ("discipline", "student_id"): "DisciplineAction.StudentUSI",
    ("discipline", "incident_date"): "DisciplineIncident.IncidentDate, else DisciplineAction.DisciplineDate",
    ("discipline", "action"): "DisciplineActionDiscipline.DisciplineDescriptor",
    ("discipline", "days_removed"): "DisciplineAction.ActualDisciplineActionLength, else "
                                    "DisciplineActionLength",
    ("discipline", "school_id"): "DisciplineAction.ResponsibilitySchoolId",
    ("attendance", "student_id"): "StudentSchoolAssociation.StudentUSI (as Student.StudentUniqueId)",
    ("attendance", "school_year"): "the enrollment's school year (StudentSchoolAssociation)",
    ("attendance", "school_id"): "StudentSchoolAssociation.SchoolId",
    ("attendance", "days_enrolled"): "CalendarDateCalendarEvent dates with an Instructional day, Make-up "
                                     "day or Student late arrival/early dismissal event, from EntryDate to "
                                     "ExitWithdrawDate; without calendar dates, Session.TotalInstructionalDays "
                                     "of the sessions enrolled whole",
    ("attendance", "days_absent"): "StudentSchoolAttendanceEvent with an Excused or Unexcused Absence "
                                   "AttendanceEventCategoryDescriptor, EventDuration (else 1) per day",
}

#: Where the columns of the tables the import does not write (yet) live in Ed-Fi, for the dictionary.
EDFI_OTHER_COLUMNS: dict[tuple[str, str], str] = {
    ("students", "section_504"): "StudentEducationOrganizationAssociationStudentCharacteristic (Section 504)",
    ("students", "foster_care"): "StudentEducationOrganizationAssociationStudentCharacteristic",
    ("levels", "student_id"): "StudentAssessment.StudentUSI",
    ("levels", "domain"): "AssessmentAcademicSubject.AcademicSubjectDescriptor",
    ("levels", "as_of"): "StudentAssessment.AdministrationDate",
    ("levels", "performance_level"): "StudentAssessmentPerformanceLevel.PerformanceLevelDescriptor, placed on "
                                     "the continuum by the district",
    ("standards", "standard_id"): "LearningStandard.LearningStandardId",
    ("standards", "domain"): "LearningStandardAcademicSubject.AcademicSubjectDescriptor",
    ("standards", "performance_level"): "LearningStandardGradeLevel.GradeLevelDescriptor",
    ("evidence", "student_id"): "StudentGradebookEntry.StudentUSI",
    ("evidence", "standard_id"): "GradebookEntryLearningStandard.LearningStandardId",
    ("evidence", "assessed_on"): "StudentGradebookEntry.DateFulfilled",
    ("evidence", "score"): "StudentGradebookEntry.NumericGradeEarned",
    ("evidence", "task_type"): "GradebookEntry.GradebookEntryTypeDescriptor",
    ("sections", "course_level"): "CourseLevelCharacteristic.CourseLevelCharacteristicDescriptor",
    ("supports", "student_id"): "GeneralStudentProgramAssociation.StudentUSI; StudentInterventionAssociation",
    ("supports", "support_type"): "ProgramTypeDescriptor or Intervention.InterventionClassDescriptor",
    ("supports", "start_date"): "GeneralStudentProgramAssociation.BeginDate",
    ("supports", "end_date"): "GeneralStudentProgramAssociation.EndDate",
    ("opportunities", "student_id"): "GeneralStudentProgramAssociation.StudentUSI",
    ("opportunities", "opportunity_type"): "ProgramTypeDescriptor (enrichment, acceleration programs)",
    ("opportunities", "school_year"): "GeneralStudentProgramAssociation.BeginDate (its school year)",
    ("survey", "student_id"): "SurveyResponse.StudentUSI",
    ("survey", "construct"): "SurveySection.SurveySectionTitle",
    ("survey", "item_id"): "SurveyQuestion.QuestionCode",
    ("survey", "response"): "SurveyQuestionResponseValue.NumericResponse",
    ("survey", "survey_date"): "SurveyResponse.ResponseDate",
    ("staff", "staff_id"): "Staff.StaffUniqueId",
    ("staff", "school_id"): "StaffSchoolAssociation.SchoolId",
    ("staff", "race_ethnicity"): "Staff.HispanicLatinoEthnicity, else StaffRace.RaceDescriptor",
    ("staff", "role"): "StaffEducationOrganizationAssignmentAssociation.StaffClassificationDescriptor",
}

#: The contract tables ``equity-audit import edfi`` writes.
IMPORTED_TABLES = ("students", "enrollments", "schools", "sections", "rosters", "grades", "discipline",
                   "attendance")

#: Ed-Fi tables counted and reported as left out when the contract has no table for them.
_LEFT_OUT = {
    "assessments": ("StudentAssessment", "assessment results"),
}

_GRADE_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12}


def edfi_source(table: str, column: str) -> str:
    """Where a contract column comes from in an Ed-Fi ODS; empty when Ed-Fi has no such field.

    Examples
    --------
    >>> edfi_source("enrollments", "entry_date")
    'StudentSchoolAssociation.EntryDate'
    >>> edfi_source("calibration", "work_id")
    ''
    """
    return EDFI_COLUMNS.get((table, column)) or EDFI_OTHER_COLUMNS.get((table, column), "")


@dataclass
class ImportResult:
    """What :func:`import_edfi` wrote.

    Attributes
    ----------
    folder : Path
        The district folder written.
    rows : dict of str to int
        Rows written per contract table.
    left_out : list of str
        What the export holds that was not imported, with counts and the reason.
    notes : list of str
        Values read as unknown, rows dropped, and why.
    """

    folder: Path
    rows: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading the export


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


class _Source:
    """The tables of one export, read on first use, with normalised column names."""

    def __init__(self, folder: Path):
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise EdFiImportError(f"The Ed-Fi export {folder} {what}; expected a folder with one folder "
                                  "or file per Ed-Fi table (Student, StudentSchoolAssociation, Descriptor, ...).")
        self.folder = folder
        self.entries = {}
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            stem = entry.name if entry.is_dir() else entry.stem
            key = _normal(re.sub(r"^edfi[._]", "", stem, flags=re.IGNORECASE))
            if entry.is_dir() or entry.suffix.lower() in (".parquet", ".csv"):
                self.entries.setdefault(key, entry)
        self._cache: dict[str, pd.DataFrame | None] = {}

    def has(self, table: str) -> bool:
        return _normal(table) in self.entries

    def get(self, table: str, columns: tuple[str, ...] = ()) -> pd.DataFrame | None:
        """The table with normalised column names, or None when the export lacks it."""
        key = _normal(table)
        if key not in self._cache:
            self._cache[key] = read_edfi_table(self.entries[key], table) if key in self.entries else None
        frame = self._cache[key]
        if frame is not None:
            missing = [c for c in columns if _normal(c) not in frame.columns]
            if missing:
                raise EdFiImportError(f"The Ed-Fi table {table} in {self.entries[key]} has no "
                                      f"{', '.join(missing)} column; expected the Ed-Fi ODS columns "
                                      f"{', '.join(columns)}.")
        return frame

    def need(self, table: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        frame = self.get(table, columns)
        if frame is None:
            raise EdFiImportError(f"The Ed-Fi export {self.folder} has no {table} table; expected a {table} "
                                  f"folder or a {table}.parquet or {table}.csv file.")
        return frame


def read_edfi_table(path: str | Path, table: str = "") -> pd.DataFrame:
    """Read one Ed-Fi table: a Parquet or CSV file, or a folder of them.

    Column names are normalised to lower case without spaces or underscores
    (``StudentUSI`` becomes ``studentusi``), so exports from SQL Server and
    PostgreSQL ODS databases read the same. CSV cells are read as text.

    Examples
    --------
    >>> read_edfi_table("tests/fixtures/edfi-grand-bend/School").columns[0]  # doctest: +SKIP
    'schoolid'
    """
    path = Path(path)
    table = table or path.stem
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".csv")) \
        if path.is_dir() else [path]
    if not files:
        raise EdFiImportError(f"The Ed-Fi table folder {path} holds no .parquet or .csv file.")
    parts = []
    for file in files:
        try:
            if file.suffix.lower() == ".parquet":
                part = pd.read_parquet(file)
            else:
                part = pd.read_csv(file, dtype=str, keep_default_na=False, na_values=["", "NULL"])
        except Exception as err:  # any reader failure is a malformed file to name, not a traceback
            raise EdFiImportError(f"The Ed-Fi table {table} could not be read from {file}: "
                                  f"{type(err).__name__}: {err}") from None
        part.columns = [_normal(c) for c in part.columns]
        parts.append(part)
    parts = [p for p in parts if len(p)] or parts[:1]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


# --------------------------------------------------------------------------- small vectorised helpers


def _id(values: pd.Series) -> pd.Series:
    """Integer ids (USI, descriptor and school ids) as text, ``1612.0`` read as ``1612``."""
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    whole = numbers.notna() & (numbers == np.floor(numbers))
    out = text.copy()
    out[whole] = numbers[whole].astype("int64").astype("string")
    return out.replace("", pd.NA)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().replace("", pd.NA)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("string").str.slice(0, 10), errors="coerce", format="%Y-%m-%d")


def _true(values: pd.Series) -> pd.Series:
    """Ed-Fi booleans (True, 'true', '1', 'Y') as a nullable boolean."""
    text = values.astype("string").str.strip().str.lower()
    return text.map({"true": True, "1": True, "y": True, "yes": True,
                     "false": False, "0": False, "n": False, "no": False}).astype("boolean")


def _snake(values: pd.Series) -> pd.Series:
    return (values.astype("string").str.strip().str.lower()
            .str.replace(r"[^a-z0-9]+", "_", regex=True).str.strip("_").replace("", pd.NA))


class _Descriptors:
    """Descriptor id -> CodeValue; descriptor URIs (``...#Female``) resolve to the text after ``#``."""

    def __init__(self, source: _Source):
        frame = source.get("Descriptor", ("DescriptorId", "CodeValue"))
        self.codes = (pd.Series(dtype="string") if frame is None
                      else pd.Series(_text(frame["codevalue"]).to_numpy(), index=_id(frame["descriptorid"])))
        self.codes = self.codes[~self.codes.index.duplicated()]
        self.available = frame is not None
        self.unresolved: set[str] = set()

    def __call__(self, values: pd.Series) -> pd.Series:
        ids = _id(values)
        uri = ids.str.contains("#", regex=False).fillna(False)
        out = ids.map(self.codes).astype("string")
        out[uri] = ids[uri].str.split("#").str[-1]
        unresolved = ids.notna() & out.isna()
        if unresolved.any() and not self.available:
            raise EdFiImportError("The Ed-Fi export has descriptor ids but no Descriptor table to "
                                  "resolve them; expected a Descriptor folder or file.")
        self.unresolved |= set(ids[unresolved].unique())
        return out


def _flag(students: pd.Series, members: pd.Series) -> pd.Series:
    return pd.Series(np.where(students.isin(members.dropna()), "Y", "N"), index=students.index)


# --------------------------------------------------------------------------- the tables


def _student_ids(source: _Source) -> pd.Series:
    student = source.need("Student", ("StudentUSI", "StudentUniqueId"))
    ids = pd.Series(_text(student["studentuniqueid"]).to_numpy(), index=_id(student["studentusi"]))
    return ids[ids.notna() & ~ids.index.duplicated()]


def _students(source: _Source, usi: pd.Series, code: _Descriptors, result: ImportResult) -> pd.DataFrame:
    out = pd.DataFrame({"usi": usi.index, "student_id": usi.to_numpy()})
    seoa = source.get("StudentEducationOrganizationAssociation", ("StudentUSI",))
    hispanic = pd.Series(pd.NA, index=out.index, dtype="boolean")
    if seoa is not None:
        seoa = seoa.assign(usi=_id(seoa["studentusi"]))
        if "educationorganizationid" in seoa:
            seoa = seoa.sort_values("educationorganizationid", kind="stable")
        if "sexdescriptorid" in seoa:
            sex = seoa.assign(v=code(seoa["sexdescriptorid"])).dropna(subset=["v"]).drop_duplicates("usi")
            out["gender"] = out["usi"].map(sex.set_index("usi")["v"])
        if "hispaniclatinoethnicity" in seoa:
            flag = seoa.assign(v=_true(seoa["hispaniclatinoethnicity"])).groupby("usi")["v"].max()
            hispanic = out["usi"].map(flag).astype("boolean")
        if "limitedenglishproficiencydescriptorid" in seoa:
            lep = code(seoa["limitedenglishproficiencydescriptorid"])
            limited = seoa.loc[_normal_series(lep).eq("limited").fillna(False).to_numpy(), "usi"]
            out["english_learner"] = _flag(out["usi"], limited)
    if "gender" not in out:
        student = source.need("Student")
        if "birthsexdescriptorid" in student:
            sex = code(student["birthsexdescriptorid"])
            out["gender"] = out["usi"].map(pd.Series(sex.to_numpy(), index=_id(student["studentusi"])))
    out["race_ethnicity"] = _race(source, out["usi"], hispanic, code, result)
    programs = {
        "english_learner": "StudentLanguageInstructionProgramAssociation",
        "disability": "StudentSpecialEducationProgramAssociation",
        "low_income": "StudentSchoolFoodServiceProgramAssociation",
        "homeless": "StudentHomelessProgramAssociation",
        "migrant": "StudentMigrantEducationProgramAssociation",
    }
    for column, table in programs.items():
        frame = source.get(table, ("StudentUSI",))
        if frame is None:
            if column not in out:
                result.notes.append(f"No {table} in the export: {column} is left blank (unknown).")
            continue
        members = _flag(out["usi"], _id(frame["studentusi"]))
        out[column] = members if column not in out else np.where(
            (out[column] == "Y") | (members == "Y"), "Y", "N")
    order = [c for c in TABLES["students"].column_names if c in out]
    return out[order]


def _normal_series(values: pd.Series) -> pd.Series:
    return values.astype("string").str.lower().str.replace(r"[^a-z0-9]", "", regex=True)


_RACE_PATTERNS = (  # (pattern in the normalised CodeValue, contract category); first match wins
    ("americanindian|alaska", "American Indian/Alaska Native"),
    ("hawaiian|pacificislander", "Native Hawaiian/Pacific Islander"),
    ("black|africanamerican", "Black/African American"),
    ("asian", "Asian"),
    ("white", "White"),
)


def _race(source: _Source, usi: pd.Series, hispanic: pd.Series, code: _Descriptors,
          result: ImportResult) -> pd.Series:
    race = pd.Series(UNKNOWN, index=usi.index, dtype="object")
    frame = source.get("StudentEducationOrganizationAssociationRace", ("StudentUSI", "RaceDescriptorId"))
    if frame is None:
        result.notes.append("No StudentEducationOrganizationAssociationRace in the export: race is Unknown "
                            "except for students recorded as Hispanic/Latino.")
    else:
        values = code(frame["racedescriptorid"])
        normal = _normal_series(values).fillna("")
        mapped = np.select([normal.str.contains(p) for p, _ in _RACE_PATTERNS],
                           [c for _, c in _RACE_PATTERNS], default="")
        unmapped = values[(mapped == "") & values.notna()]
        if len(unmapped):
            result.notes.append(f"{len(unmapped):,} race records ({', '.join(sorted(unmapped.unique()))}) "
                                "are not one of the federal races and were read as not reported.")
        races = pd.DataFrame({"usi": _id(frame["studentusi"]), "race": mapped})
        races = races[races["race"] != ""].drop_duplicates()
        per_student = races.groupby("usi")["race"].agg(["first", "size"])
        named = np.where(per_student["size"] > 1, "Two or more races", per_student["first"])
        race = usi.map(pd.Series(named, index=per_student.index, dtype="object")).astype("object")
        race = race.where(race.notna(), UNKNOWN)
    race[hispanic.fillna(False).to_numpy()] = "Hispanic/Latino"  # Ed-Fi's and the federal rule
    return race


def _grade_levels(values: pd.Series) -> pd.Series:
    """Ed-Fi GradeLevelDescriptor code values ("Ninth grade", "Kindergarten") as -1..12."""
    normal = values.astype("string").str.lower().str.strip()
    word = normal.str.extract(r"^(\w+)\s+grade$", expand=False).map(_GRADE_WORDS)
    number = pd.to_numeric(normal.str.extract(r"^(?:grade\s*)?(\d{1,2})$", expand=False), errors="coerce")
    level = word.astype("Float64").fillna(number.astype("Float64"))
    level[normal.str.contains("kindergarten|^k$|^kg$", regex=True).fillna(False)] = 0
    level[normal.str.contains("prekindergarten|pre-kindergarten|preschool|^pk$|early education",
                              regex=True).fillna(False)] = -1
    return level.where(level.between(-1, 12)).astype("Int64")


def _school_year_from(dates: pd.Series) -> pd.Series:
    """Ed-Fi school year (the year it ends) of a date: July or later belongs to the next year."""
    return (dates.dt.year + (dates.dt.month >= 7)).astype("Int64")


def _enrollments(source: _Source, usi: pd.Series, code: _Descriptors, result: ImportResult) -> pd.DataFrame:
    ssa = source.need("StudentSchoolAssociation", ("StudentUSI", "SchoolId", "EntryDate",
                                                   "EntryGradeLevelDescriptorId"))
    entry = _dates(ssa["entrydate"])
    year = pd.to_numeric(ssa["schoolyear"], errors="coerce").astype("Int64") if "schoolyear" in ssa \
        else pd.Series(pd.NA, index=ssa.index, dtype="Int64")
    grade_code = code(ssa["entrygradeleveldescriptorid"])
    out = pd.DataFrame({
        "student_id": _id(ssa["studentusi"]).map(usi),
        "school_year": year.fillna(_school_year_from(entry)),
        "school_id": _id(ssa["schoolid"]),
        "grade_level": _grade_levels(grade_code),
        "entry_date": entry.dt.strftime("%Y-%m-%d"),
        "exit_date": _dates(ssa["exitwithdrawdate"]).dt.strftime("%Y-%m-%d") if "exitwithdrawdate" in ssa
        else pd.NA,
        "exit_reason": _snake(code(ssa["exitwithdrawtypedescriptorid"])) if "exitwithdrawtypedescriptorid"
        in ssa else pd.NA,
    })
    bad_grade = out["grade_level"].isna()
    if bad_grade.any():
        result.notes.append(f"{int(bad_grade.sum()):,} enrollments with a grade level outside PK-12 "
                            f"({', '.join(sorted(grade_code[bad_grade].dropna().unique()))}) were not imported.")
    unknown = out["student_id"].isna()
    if unknown.any():
        result.notes.append(f"{int(unknown.sum()):,} enrollments of students not in Student were not imported.")
    out = out[~bad_grade & ~unknown & out["entry_date"].notna()]
    return _dedupe(out, "enrollments", result)


def _dedupe(frame: pd.DataFrame, table: str, result: ImportResult) -> pd.DataFrame:
    """One row per contract key (the first), counting any others in the notes."""
    key = [k for k in TABLES[table].key if k in frame]
    if not key:
        return frame.drop_duplicates()
    repeated = frame.duplicated(key)
    if repeated.any():
        result.notes.append(f"{table}: {int(repeated.sum()):,} Ed-Fi rows repeat the key "
                            f"{' + '.join(key)} of an earlier row; the first was kept.")
    return frame[~repeated]


def _schools(source: _Source, code: _Descriptors) -> pd.DataFrame | None:
    school = source.get("School", ("SchoolId",))
    if school is None:
        return None
    out = pd.DataFrame({"school_id": _id(school["schoolid"]).drop_duplicates()}).dropna()
    org = source.get("EducationOrganization", ("EducationOrganizationId", "NameOfInstitution"))
    if org is not None:
        names = pd.Series(_text(org["nameofinstitution"]).to_numpy(), index=_id(org["educationorganizationid"]))
        out["school_name"] = out["school_id"].map(names[~names.index.duplicated()])
    category = source.get("SchoolCategory", ("SchoolId", "SchoolCategoryDescriptorId"))
    if category is not None:
        levels = pd.DataFrame({"school_id": _id(category["schoolid"]),
                               "level": _snake(code(category["schoolcategorydescriptorid"])
                                               .str.replace(r"\s*school$", "", regex=True, case=False))})
        levels = levels.dropna().drop_duplicates("school_id").set_index("school_id")["level"]
        out["school_level"] = out["school_id"].map(levels)
    return out


_SECTION_KEY = ("localcoursecode", "schoolid", "schoolyear", "sessionname", "sectionidentifier")


def _keys(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Key columns as comparable text: school ids and years as integers, the rest trimmed."""
    return pd.DataFrame({c: _id(frame[c]) if c in ("schoolid", "schoolyear") else _text(frame[c])
                         for c in columns}, index=frame.index)


def _section_ids(frame: pd.DataFrame, unique: bool) -> pd.Series:
    """The section identifier, or the whole Ed-Fi section key joined by ``|`` where it alone is ambiguous."""
    if unique:
        return _text(frame["sectionidentifier"])
    parts = _keys(frame, _SECTION_KEY).fillna("")
    return parts[_SECTION_KEY[0]].str.cat([parts[c] for c in _SECTION_KEY[1:]], sep="|")


def _sections(source: _Source, code: _Descriptors, result: ImportResult):
    section = source.get("Section", _SECTION_KEY)
    if section is None:
        return None, None
    distinct = _keys(section, _SECTION_KEY).drop_duplicates()
    unique = not distinct["sectionidentifier"].duplicated().any()  # the identifier alone names a section
    out = pd.DataFrame({"section_id": _section_ids(section, unique),
                        "school_year": _id(section["schoolyear"]),
                        "school_id": _id(section["schoolid"])})
    staff = source.get("StaffSectionAssociation", (*_SECTION_KEY, "StaffUSI"))
    if staff is None:
        result.notes.append("No StaffSectionAssociation in the export: sections, rosters and grades need a "
                            "teacher of each section and were not imported.")
        return None, unique
    staff = staff.assign(section_id=_section_ids(staff, unique), staff=_id(staff["staffusi"]))
    record = pd.Series(False, index=staff.index)
    if "classroompositiondescriptorid" in staff:
        record = _normal_series(code(staff["classroompositiondescriptorid"])).eq("teacherofrecord").fillna(False)
    staff = staff.assign(record=~record).sort_values(["section_id", "record", "staff"], kind="stable")
    teacher = staff.drop_duplicates("section_id").set_index("section_id")["staff"]
    people = source.get("Staff", ("StaffUSI", "StaffUniqueId"))
    if people is not None:
        unique_ids = pd.Series(_text(people["staffuniqueid"]).to_numpy(), index=_id(people["staffusi"]))
        teacher = teacher.map(unique_ids[~unique_ids.index.duplicated()]).fillna(teacher)
    out["teacher_id"] = out["section_id"].map(teacher)
    offering = source.get("CourseOffering", ("LocalCourseCode", "SchoolId", "SchoolYear", "SessionName",
                                             "CourseCode"))
    if offering is not None:
        join = ["localcoursecode", "schoolid", "schoolyear", "sessionname"]
        offer = _keys(offering, join).assign(course_id=_text(offering["coursecode"]))
        out["course_id"] = _keys(section, join).merge(
            offer.drop_duplicates(join), on=join, how="left")["course_id"].to_numpy()
        course = source.get("Course", ("CourseCode", "AcademicSubjectDescriptorId"))
        if course is not None:
            subject = pd.Series(_snake(code(course["academicsubjectdescriptorid"])).to_numpy(),
                                index=_text(course["coursecode"]))
            out["domain"] = out["course_id"].map(subject[~subject.index.duplicated()])
    no_teacher = out["teacher_id"].isna()
    if no_teacher.any():
        result.notes.append(f"{int(no_teacher.sum()):,} sections with no teacher in StaffSectionAssociation "
                            "were not imported, nor their rosters and grades.")
    return _dedupe(out[~no_teacher], "sections", result), unique


def _linked(frame: pd.DataFrame, usi: pd.Series, sections: pd.DataFrame, unique: bool, table: str,
            result: ImportResult) -> pd.DataFrame:
    out = pd.DataFrame({"student_id": _id(frame["studentusi"]).map(usi),
                        "section_id": _section_ids(frame, unique)}, index=frame.index)
    orphan = out["student_id"].isna() | ~out["section_id"].isin(sections["section_id"])
    if orphan.any():
        result.notes.append(f"{table}: {int(orphan.sum()):,} rows of students or sections not imported "
                            "were left out.")
    return out[~orphan]


def _grades(source: _Source, usi, sections, unique, code: _Descriptors, result: ImportResult):
    grade = source.get("Grade", (*_SECTION_KEY, "StudentUSI", "GradingPeriodDescriptorId"))
    if grade is None:
        return None
    out = _linked(grade, usi, sections, unique, "grades", result)
    period = _snake(code(grade.loc[out.index, "gradingperioddescriptorid"]))
    if "gradetypedescriptorid" in grade:
        kind = _snake(code(grade.loc[out.index, "gradetypedescriptorid"]))
        period = period.where(kind.isna() | (kind == "grading_period"), kind + "_" + period)
    letter = _text(grade.loc[out.index, "lettergradeearned"]) if "lettergradeearned" in grade else None
    number = (pd.to_numeric(grade.loc[out.index, "numericgradeearned"], errors="coerce")
              if "numericgradeearned" in grade else None)
    value = pd.Series(pd.NA, index=out.index, dtype="string")
    if number is not None:  # 63.0 is written 63
        whole = (number == number.round()).fillna(False)
        value = number.astype("string").where(~whole, number.round().astype("Int64").astype("string"))
    if letter is not None:
        value = letter.fillna(value)
    out = out.assign(term=period, grade=value)
    blank = out["grade"].isna() | out["term"].isna()
    if blank.any():
        result.notes.append(f"grades: {int(blank.sum()):,} Ed-Fi grades with no grade earned or no grading "
                            "period were left out.")
    return _dedupe(out[~blank], "grades", result)


def _action(values: pd.Series) -> pd.Series:
    normal = values.astype("string").str.lower().str.replace(r"[^a-z]+", " ", regex=True).str.strip()
    conditions = [normal.str.contains("in school suspension"), normal.str.contains("out of school suspension"),
                  normal.str.contains("expulsion|expelled"), normal.str.contains("referral")]
    choices = ["in_school_suspension", "out_of_school_suspension", "expulsion", "referral"]
    return pd.Series(np.select([c.fillna(False) for c in conditions], choices, default="other"),
                     index=values.index)


def _discipline(source: _Source, usi, code: _Descriptors, result: ImportResult):
    action = source.get("DisciplineAction", ("DisciplineActionIdentifier", "DisciplineDate", "StudentUSI"))
    if action is None:
        return None
    key = ["disciplineactionidentifier", "disciplinedate", "studentusi"]
    base = action.assign(**{k: action[k].astype("string").str.slice(0, 10 if k == "disciplinedate" else None)
                            for k in key})
    kinds = source.get("DisciplineActionDiscipline", (*key, "DisciplineDescriptorId"))
    if kinds is not None:
        kinds = kinds.assign(**{k: kinds[k].astype("string").str.slice(0, 10 if k == "disciplinedate" else None)
                                for k in key}, kind=code(kinds["disciplinedescriptorid"]))
        base = base.merge(kinds[[*key, "kind"]], on=key, how="left")
    else:
        base = base.assign(kind=pd.NA)
    date = _dates(base["disciplinedate"])
    link = source.get("DisciplineActionStudentDisciplineIncidentAssociation", (*key, "IncidentIdentifier",
                                                                               "SchoolId"))
    incident = source.get("DisciplineIncident", ("IncidentIdentifier", "SchoolId", "IncidentDate"))
    if link is not None and incident is not None:
        link = link.assign(**{k: link[k].astype("string").str.slice(0, 10 if k == "disciplinedate" else None)
                              for k in key}, incident=_text(link["incidentidentifier"]), school=_id(link["schoolid"]))
        when = pd.DataFrame({"incident": _text(incident["incidentidentifier"]), "school": _id(incident["schoolid"]),
                             "incident_date": _dates(incident["incidentdate"])})
        link = link[[*key, "incident", "school"]].merge(when.drop_duplicates(["incident", "school"]),
                                                        on=["incident", "school"], how="left")
        first = link.dropna(subset=["incident_date"]).drop_duplicates(key)
        date = base[key].merge(first[[*key, "incident_date"]], on=key, how="left")["incident_date"].fillna(date)
    length = pd.Series(np.nan, index=base.index)
    for column in ("disciplineactionlength", "actualdisciplineactionlength"):
        if column in base:
            length = pd.to_numeric(base[column], errors="coerce").where(lambda s: s.notna(), length)
    out = pd.DataFrame({
        "student_id": _id(base["studentusi"]).map(usi),
        "incident_date": pd.Series(date.to_numpy(), index=base.index).dt.strftime("%Y-%m-%d"),
        "action": _action(base["kind"]),
        "days_removed": length.to_numpy(),
        "school_id": _id(base["responsibilityschoolid"]) if "responsibilityschoolid" in base else pd.NA,
    })
    other = base.loc[out["action"] == "other", "kind"].fillna("(none)")
    if len(other):
        result.notes.append(f"discipline: {len(other):,} actions ({', '.join(sorted(other.unique()))}) are not "
                            "a referral, suspension or expulsion and were imported as 'other'.")
    if set(out["action"]) - set(DISCIPLINE_ACTIONS):  # pragma: no cover - _action only returns contract values
        raise AssertionError("unmapped discipline action")
    bad = out["student_id"].isna() | out["incident_date"].isna()
    if bad.any():
        result.notes.append(f"discipline: {int(bad.sum()):,} actions with no known student or date were left out.")
    return out[~bad]


# --------------------------------------------------------------------------- attendance

#: CalendarEvent code values (normalised: lower case, letters and digits only) that make a calendar date an
#: instructional day: a regular day, a make-up day, and a day with late arrival or early dismissal.
INSTRUCTIONAL_EVENTS = ("instructionalday", "makeupday", "studentlatearrivalearlydismissal")


def _absence_days(source: _Source, code: _Descriptors, result: ImportResult) -> pd.DataFrame | None:
    """Absence events as (usi, school, date, days): excused and unexcused absences only, one row per day.

    A day counts 1, or ``EventDuration`` where it is between 0 and 1 (half days as 0.5); two absence
    events of one student, school and date count once (the longer).
    """
    events = source.get("StudentSchoolAttendanceEvent", ("StudentUSI", "SchoolId", "EventDate",
                                                         "AttendanceEventCategoryDescriptorId"))
    if events is None:
        return None
    category = code(events["attendanceeventcategorydescriptorid"])
    normal = _normal_series(category).fillna("")
    absence = normal.str.contains("absence|absent", regex=True) & ~normal.str.contains("tard|partial|present")
    others = category[~absence].fillna("(no category)")
    if len(others):
        counts = others.value_counts()
        shown = ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items()))
        result.notes.append(f"attendance: {len(others):,} attendance events that are not an excused or "
                            f"unexcused absence ({shown}) were not counted as days absent.")
    days = pd.Series(1.0, index=events.index)
    if "eventduration" in events:
        duration = pd.to_numeric(events["eventduration"], errors="coerce")
        usable = (duration > 0) & (duration <= 1)
        odd = duration.notna() & ~usable & absence
        if odd.any():
            result.notes.append(f"attendance: {int(odd.sum()):,} absence events with an EventDuration outside "
                                "0-1 day were counted as one day.")
        days = duration.where(usable, 1.0)
    out = pd.DataFrame({"usi": _id(events["studentusi"]), "school": _id(events["schoolid"]),
                        "date": _dates(events["eventdate"]), "days": days})[absence.to_numpy()]
    out = out.dropna(subset=["usi", "school", "date"])
    repeated = out.duplicated(["usi", "school", "date"])
    if repeated.any():
        result.notes.append(f"attendance: {int(repeated.sum()):,} absence events repeat a student, school "
                            "and date; each day was counted once.")
    return out.groupby(["usi", "school", "date"], as_index=False)["days"].max()


def _instructional_dates(source: _Source, code: _Descriptors) -> pd.DataFrame | None:
    """Instructional dates of each school calendar: (school, year, calendar, date); None without one."""
    dates = source.get("CalendarDateCalendarEvent", ("CalendarCode", "SchoolId", "SchoolYear", "Date",
                                                     "CalendarEventDescriptorId"))
    if dates is None or not len(dates):
        return None
    event = _normal_series(code(dates["calendareventdescriptorid"]))
    out = pd.DataFrame({"school": _id(dates["schoolid"]), "year": _id(dates["schoolyear"]),
                        "calendar": _text(dates["calendarcode"]), "date": _dates(dates["date"])})
    out = out[event.isin(INSTRUCTIONAL_EVENTS).fillna(False).to_numpy()].dropna(subset=["school", "year", "date"])
    return out.drop_duplicates()


_ANY_CALENDAR = "\x00any"  # the calendar of an enrollment without a CalendarCode: every calendar of the school
_DAY_SPAN = 1_000_000  # days since 1970 stay below this: (calendar number, day) as one sortable integer


class _Calendars:
    """The instructional dates of every school calendar, to count days between two dates quickly.

    An enrollment's ``CalendarCode`` names its calendar; without one, a date counts when any calendar
    of the school and year has it as an instructional day. Each (school, year, calendar) gets a number
    and each date the integer ``number * _DAY_SPAN + day``, so the days of any span are two binary
    searches in one sorted array: no enrollment-by-date table is built.
    """

    def __init__(self, dates: pd.DataFrame):
        union = dates.assign(calendar=_ANY_CALENDAR).drop_duplicates()
        dates = pd.concat([dates.assign(calendar=dates["calendar"].fillna(_ANY_CALENDAR)), union],
                          ignore_index=True).drop_duplicates()
        self.keys = dates[["school", "year", "calendar"]].drop_duplicates().reset_index(drop=True)
        self.keys["number"] = np.arange(len(self.keys), dtype="int64")
        number = dates.merge(self.keys, on=["school", "year", "calendar"], how="left")["number"].to_numpy()
        self.sorted = np.sort(number * _DAY_SPAN + self._day(dates["date"]))
        self.covered = pd.MultiIndex.from_frame(dates[["school", "year"]].drop_duplicates())

    @staticmethod
    def _day(dates: pd.Series) -> np.ndarray:
        return (pd.to_datetime(dates) - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype="int64")

    def has(self, spans: pd.DataFrame) -> pd.Series:
        """Whether the school and year of each span have calendar dates."""
        return pd.Series(pd.MultiIndex.from_frame(spans[["school", "year"]]).isin(self.covered), index=spans.index)

    def number(self, spans: pd.DataFrame) -> np.ndarray:
        """The calendar number of each span; -1 when its calendar code has no dates."""
        key = spans[["school", "year"]].assign(calendar=spans["calendar"].fillna(_ANY_CALENDAR))
        found = key.merge(self.keys, on=["school", "year", "calendar"], how="left")["number"]
        return found.fillna(-1).to_numpy(dtype="int64")

    def days(self, spans: pd.DataFrame) -> pd.Series:
        """Instructional days from entry to exit (both included; no exit: to the end of the calendar)."""
        number = self.number(spans)
        first = number * _DAY_SPAN + self._day(spans["entry"])
        last = number * _DAY_SPAN + np.where(spans["exit"].isna(), _DAY_SPAN - 1,
                                             self._day(spans["exit"].fillna(pd.Timestamp("1970-01-01"))))
        count = np.searchsorted(self.sorted, last, side="right") - np.searchsorted(self.sorted, first, side="left")
        return pd.Series(np.where(number >= 0, count, 0), index=spans.index, dtype=float)

    def instructional(self, hits: pd.DataFrame) -> np.ndarray:
        """Whether each (span, date) row is an instructional day of the span's calendar."""
        value = self.number(hits) * _DAY_SPAN + self._day(hits["date"])
        return np.isin(value, self.sorted) & (self.number(hits) >= 0)


def _session_days(source: _Source, spans: pd.DataFrame) -> pd.Series:
    """Sum of ``Session.TotalInstructionalDays`` of the sessions an enrollment covers whole.

    NaN when the school and year have no session, or the enrollment begins after a session begins or
    ends before it ends: its instructional days are then not known.
    """
    session = source.get("Session", ("SchoolId", "SchoolYear", "BeginDate", "EndDate", "TotalInstructionalDays"))
    if session is None or not len(session):
        return pd.Series(np.nan, index=spans.index)
    terms = pd.DataFrame({"school": _id(session["schoolid"]), "year": _id(session["schoolyear"]),
                          "begin": _dates(session["begindate"]), "end": _dates(session["enddate"]),
                          "total": pd.to_numeric(session["totalinstructionaldays"], errors="coerce")})
    both = spans.reset_index().merge(terms, on=["school", "year"], how="inner")
    overlap = (both["entry"] <= both["end"]) & (both["exit"].isna() | (both["exit"] >= both["begin"]))
    both = both[overlap]
    whole = (both["entry"] <= both["begin"]) & (both["exit"].isna() | (both["exit"] >= both["end"])) \
        & both["total"].notna()
    per = both.assign(whole=whole).groupby("index").agg(total=("total", "sum"), whole=("whole", "all"))
    return per["total"].where(per["whole"]).reindex(spans.index)


def _attendance(source: _Source, usi: pd.Series, enrollments: pd.DataFrame, code: _Descriptors,
                result: ImportResult) -> pd.DataFrame | None:
    """Days enrolled and absent per student, school year and school (see :func:`import_edfi`)."""
    absences = _absence_days(source, code, result)
    if absences is None:
        return None
    student = pd.Series(usi.index, index=usi.to_numpy())  # student_id -> usi
    student = student[~student.index.duplicated()]
    spans = pd.DataFrame({"student_id": enrollments["student_id"].to_numpy(),
                          "usi": enrollments["student_id"].map(student).to_numpy(),
                          "school": enrollments["school_id"].astype("string").to_numpy(),
                          "year": enrollments["school_year"].astype("string").to_numpy(),
                          "entry": _dates(enrollments["entry_date"]).to_numpy(),
                          "exit": _dates(enrollments["exit_date"]).to_numpy()})
    ssa = source.get("StudentSchoolAssociation")
    spans["calendar"] = pd.NA
    if ssa is not None and "calendarcode" in ssa:
        codes = pd.DataFrame({"usi": _id(ssa["studentusi"]), "school": _id(ssa["schoolid"]),
                              "entry": _dates(ssa["entrydate"]), "calendar": _text(ssa["calendarcode"])})
        spans["calendar"] = spans[["usi", "school", "entry"]].merge(
            codes.drop_duplicates(["usi", "school", "entry"]), on=["usi", "school", "entry"],
            how="left")["calendar"].to_numpy()
    dates = _instructional_dates(source, code)
    calendars = _Calendars(dates) if dates is not None and len(dates) else None
    with_calendar = calendars.has(spans) if calendars is not None else pd.Series(False, index=spans.index)
    enrolled = pd.Series(np.nan, index=spans.index)
    if calendars is not None:
        enrolled[with_calendar] = calendars.days(spans[with_calendar])
    enrolled[~with_calendar] = _session_days(source, spans[~with_calendar])
    by_session = int((~with_calendar & enrolled.notna()).sum())
    if by_session:
        result.notes.append(f"attendance: {by_session:,} enrollments at a school with no instructional days "
                            "in CalendarDateCalendarEvent took their days enrolled from "
                            "Session.TotalInstructionalDays of the sessions they cover whole.")
    unknown = enrolled.isna()
    if unknown.any():
        result.notes.append(f"attendance: {int(unknown.sum()):,} enrollments were left out of attendance: "
                            "their school has no instructional days in CalendarDateCalendarEvent, and they "
                            "begin or end within a session (or there is no Session), so their days enrolled "
                            "are not known.")
    # an absence counts for the enrollment whose entry-exit dates hold it
    hits = spans.reset_index().merge(absences, on=["usi", "school"], how="inner")
    inside = (hits["date"] >= hits["entry"]) & (hits["exit"].isna() | (hits["date"] <= hits["exit"]))
    outside = len(absences) - int(inside.sum())
    if outside > 0:
        result.notes.append(f"attendance: {outside:,} absence days outside every imported enrollment of the "
                            "student at that school were not counted.")
    hits = hits[inside]
    on_calendar = hits["index"].map(with_calendar).to_numpy(dtype=bool)
    if on_calendar.any():  # on a calendar, an absence on a day that is not instructional is not counted
        off = on_calendar & ~calendars.instructional(hits)
        if off.any():
            result.notes.append(f"attendance: {int(off.sum()):,} absences on days that are not instructional "
                                "in the school calendar were not counted.")
            hits = hits[~off]
    absent = hits.groupby("index")["days"].sum().reindex(spans.index, fill_value=0.0)
    out = pd.DataFrame({"student_id": spans["student_id"], "school_year": spans["year"], "school_id": spans["school"],
                        "days_enrolled": enrolled, "days_absent": absent, "unknown": unknown})
    out = out.groupby(["student_id", "school_year", "school_id"], as_index=False, sort=False).agg(
        days_enrolled=("days_enrolled", "sum"), days_absent=("days_absent", "sum"), unknown=("unknown", "any"))
    out = out[~out.pop("unknown")]  # a student, school and year with one enrollment of unknown days: all out
    empty = out["days_enrolled"] <= 0
    conflict = out["days_absent"] > out["days_enrolled"]
    if empty.any():
        result.notes.append(f"attendance: {int(empty.sum()):,} enrollments with no instructional day between "
                            "entry and exit were left out of attendance.")
    if (conflict & ~empty).any():
        result.notes.append(f"attendance: {int((conflict & ~empty).sum()):,} students were recorded absent on "
                            "more days than they were enrolled; their attendance was left out (check the "
                            "calendar and the attendance events of those students).")
    out = out[~empty & ~conflict]
    if not len(out):
        result.notes.append("attendance: no student is left with known days enrolled and absent; "
                            "attendance.csv was not written.")
        return None
    for column in ("days_enrolled", "days_absent"):  # 169.0 is written 169
        whole = (out[column] == out[column].round()).all()
        out[column] = out[column].round().astype("int64") if whole else out[column].round(2)
    return out


# --------------------------------------------------------------------------- entry point


def import_edfi(source: str | Path, out: str | Path, *, fmt: str = "csv") -> ImportResult:
    """Read an Ed-Fi ODS export and write a district folder that meets the data contract.

    Parameters
    ----------
    source : str or Path
        Folder with one folder or file (Parquet or CSV) per Ed-Fi ODS table. ``Student``,
        ``StudentSchoolAssociation`` and ``Descriptor`` are needed; every other table is optional.
    out : str or Path
        District folder to write; it must be new or empty.
    fmt : {"csv", "parquet"}
        File format of the tables written.

    Returns
    -------
    ImportResult
        Rows written per table, what was left out and why.

    Raises
    ------
    EdFiImportError
        The export is missing, lacks a needed table or column, or a file cannot be read; or
        ``out`` already holds files.

    Examples
    --------
    >>> result = import_edfi("tests/fixtures/edfi-grand-bend", "/tmp/gb")  # doctest: +SKIP
    >>> sorted(result.rows)  # doctest: +SKIP
    ['attendance', 'discipline', 'enrollments', 'grades', 'rosters', 'schools', 'sections', 'students']
    """
    if fmt not in ("csv", "parquet"):
        raise EdFiImportError(f"The format is {fmt!r}; expected 'csv' or 'parquet'.")
    source, out = Path(source), Path(out)
    found = _Source(source)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EdFiImportError(f"The output folder {out} already exists and is not empty; choose a new or "
                              "empty folder for --out.")
    result = ImportResult(out)
    code = _Descriptors(found)
    usi = _student_ids(found)
    tables = {"students": _students(found, usi, code, result),
              "enrollments": _enrollments(found, usi, code, result)}
    schools = _schools(found, code)
    if schools is not None:
        tables["schools"] = schools
    sections, unique = _sections(found, code, result)
    if sections is not None:
        tables["sections"] = sections
        roster = found.get("StudentSectionAssociation", (*_SECTION_KEY, "StudentUSI"))
        if roster is not None:
            tables["rosters"] = _dedupe(_linked(roster, usi, sections, unique, "rosters", result),
                                        "rosters", result)
        grades = _grades(found, usi, sections, unique, code, result)
        if grades is not None:
            tables["grades"] = grades
    discipline = _discipline(found, usi, code, result)
    if discipline is not None:
        tables["discipline"] = discipline
    attendance = _attendance(found, usi, tables["enrollments"], code, result)
    if attendance is not None:
        tables["attendance"] = attendance
    for contract_name, (edfi_name, words) in _LEFT_OUT.items():
        frame = found.get(edfi_name)
        if frame is not None and len(frame):
            why = ("the data contract has no table for them" if contract_name not in TABLES
                   else "this import does not map them yet")
            result.left_out.append(f"{len(frame):,} {words} ({edfi_name}) were not imported: {why}.")
    if code.unresolved:
        shown = ", ".join(sorted(code.unresolved)[:10])
        n = len(code.unresolved)
        result.notes.append(f"{n:,} descriptor id{'s' if n != 1 else ''} ({shown}) not in Descriptor: "
                            "their values were read as blank.")
    result.left_out.append("Names, birth dates, addresses, contact details, login ids and other identifiers "
                           "were not imported.")
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame = frame.reset_index(drop=True)
        if fmt == "csv":
            frame.to_csv(out / f"{name}.csv", index=False)
        else:
            frame.astype("string").to_parquet(out / f"{name}.parquet", index=False)
        result.rows[name] = len(frame)
    return result
