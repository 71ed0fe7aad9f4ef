"""The data contract: the one definition of the tables a district provides.

The validator (:mod:`equity_audit.data.load`), the CSV header templates in
``templates/data/`` and the data dictionary ``templates/data/README.md`` are all
made from :data:`TABLES`, so they cannot drift apart.

Column kinds
------------
``id``
    Text identifier; leading and trailing spaces are removed.
``text``
    Free text, kept as given.
``code``
    Free text normalised to lower_snake_case (``"Performance Task"`` becomes
    ``"performance_task"``), for open lists such as support types.
``category``
    One of a fixed list of values (``Column.categories``); spelling variants in
    :data:`ALIASES` are accepted. Where ``Column.missing`` is set, a blank
    becomes that value (race/ethnicity becomes ``"Unknown"``) instead of an error.
``flag``
    Yes/no: Y, N, Yes, No, True, False, 1, 0 (any case). Blank stays unknown.
``date``
    A calendar date, ISO ``2024-09-03`` preferred; ``09/03/2024`` is read as
    month/day/year.
``number`` / ``integer``
    Numeric; ``Column.low`` / ``Column.high`` bound the plausible values.
``school_year``
    Ed-Fi convention: the calendar year in which the school year ends.
``grade_level``
    PK = -1, K = 0, 1..12; "PK", "Pre-K", "K", "KG", "01" and the like accepted.
``grade``
    A course grade: a letter A-F with + or -, grade points (0-4.3) or a percent.

Examples
--------
>>> from equity_audit.data.contract import TABLES
>>> TABLES["students"].required_columns
('student_id',)
>>> [t.name for t in TABLES.values() if t.required]
['students', 'enrollments']
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "RACE_ETHNICITY",
    "DISCIPLINE_ACTIONS",
    "ALIASES",
    "SUBGROUP_FLAGS",
    "GROUP_PREFIX",
    "UNKNOWN",
    "load_order",
]

UNKNOWN = "Unknown"
GROUP_PREFIX = "group_"

RACE_ETHNICITY = (
    "Hispanic/Latino",
    "American Indian/Alaska Native",
    "Asian",
    "Black/African American",
    "Native Hawaiian/Pacific Islander",
    "White",
    "Two or more races",
    UNKNOWN,
)

DISCIPLINE_ACTIONS = (
    "referral",
    "in_school_suspension",
    "out_of_school_suspension",
    "expulsion",
    "other",
)

#: Accepted spellings, matched case-insensitively after trimming spaces.
ALIASES = {
    "race_ethnicity": {
        "hispanic": "Hispanic/Latino",
        "latino": "Hispanic/Latino",
        "latina": "Hispanic/Latino",
        "latinx": "Hispanic/Latino",
        "hispanic or latino": "Hispanic/Latino",
        "american indian or alaska native": "American Indian/Alaska Native",
        "american indian": "American Indian/Alaska Native",
        "native american": "American Indian/Alaska Native",
        "black": "Black/African American",
        "african american": "Black/African American",
        "black or african american": "Black/African American",
        "native hawaiian or other pacific islander": "Native Hawaiian/Pacific Islander",
        "pacific islander": "Native Hawaiian/Pacific Islander",
        "native hawaiian": "Native Hawaiian/Pacific Islander",
        "two or more": "Two or more races",
        "multiracial": "Two or more races",
        "multiple": "Two or more races",
        "not reported": UNKNOWN,
        "declined": UNKNOWN,
    },
    "action": {
        "iss": "in_school_suspension",
        "in-school suspension": "in_school_suspension",
        "in school suspension": "in_school_suspension",
        "oss": "out_of_school_suspension",
        "out-of-school suspension": "out_of_school_suspension",
        "out of school suspension": "out_of_school_suspension",
        "office referral": "referral",
        "office discipline referral": "referral",
    },
}

#: The contract's yes/no subgroup columns on ``students``, in report order.
SUBGROUP_FLAGS = (
    "english_learner",
    "disability",
    "low_income",
    "section_504",
    "homeless",
    "foster_care",
    "migrant",
)


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    kind: str
    required: bool = False
    description: str = ""
    categories: tuple[str, ...] | None = None
    missing: str | None = None
    low: float | None = None
    high: float | None = None
    references: str | None = None
    not_in_future: bool = False


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, key, joins and documentation."""

    name: str
    columns: tuple[Column, ...]
    description: str
    edfi: str
    shows: str
    required: bool = False
    key: tuple[str, ...] = ()
    extra_prefix: str | None = None
    order_rules: tuple[tuple[str, str], ...] = field(default=())
    #: (part, whole) pairs: on every row ``part`` may not exceed ``whole`` (an outcome within its base).
    ceiling_rules: tuple[tuple[str, str], ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, kind, required=False, description="", **kw) -> Column:
    return Column(name, kind, required, description, **kw)


_STUDENT = _c("student_id", "id", True, "District student identifier.", references="students.student_id")
_SCHOOL_REF = dict(references="schools.school_id")

_TABLES = (
    Table(
        "students",
        (
            _c("student_id", "id", True, "District student identifier, unique per student."),
            _c("birth_date", "date", description="Date of birth; used for age-18 projections.",
               not_in_future=True),
            _c("race_ethnicity", "category", description="Federal seven categories; blank becomes Unknown.",
               categories=RACE_ETHNICITY, missing=UNKNOWN),
            _c("gender", "text", description="As recorded by the district; blank becomes Unknown.",
               missing=UNKNOWN),
            _c("english_learner", "flag", description="Currently identified as an English learner."),
            _c("disability", "flag", description="Has an IEP (students with disabilities under IDEA)."),
            _c("low_income", "flag", description="Eligible for free or reduced-price meals or the local measure."),
            _c("section_504", "flag", description="Has a Section 504 plan."),
            _c("homeless", "flag", description="Identified as experiencing homelessness (McKinney-Vento)."),
            _c("foster_care", "flag", description="In foster care."),
            _c("migrant", "flag", description="Identified as a migratory child."),
        ),
        "One row per student with the characteristics used to form subgroups. Any extra column "
        "named group_<name> is a district-defined subgroup (for example group_newcomer).",
        "Student; StudentEducationOrganizationAssociation (race, sex, disabilities, limited English "
        "proficiency, student characteristics and indicators); StudentProgramAssociation (special "
        "education, school food service)",
        "Who the students are, so every result can be disaggregated by subgroup and intersection.",
        required=True,
        key=("student_id",),
        extra_prefix=GROUP_PREFIX,
    ),
    Table(
        "enrollments",
        (
            _STUDENT,
            _c("school_year", "school_year", True, "Year in which the school year ends (2025 for 2024-25)."),
            _c("school_id", "id", True, "School identifier.", **_SCHOOL_REF),
            _c("grade_level", "grade_level", True, "PK = -1, K = 0, 1..12; PK, K and 01 are accepted."),
            _c("entry_date", "date", description="First day enrolled at this school this year."),
            _c("exit_date", "date", description="Last day enrolled, blank if still enrolled."),
            _c("exit_reason", "code", description="Why the student left (transfer, graduated, ...)."),
        ),
        "One row per student, school year and school attended.",
        "StudentSchoolAssociation (entry date, exit date, entry grade level, exit withdraw type)",
        "Where and in which grade each student was enrolled each year: the base of every rate.",
        required=True,
        key=("student_id", "school_year", "school_id", "entry_date"),
        order_rules=(("entry_date", "exit_date"),),
    ),
    Table(
        "schools",
        (
            _c("school_id", "id", True, "School identifier."),
            _c("school_name", "text", description="Name shown in reports."),
            _c("school_level", "code", description="elementary, middle, high, k8, ..."),
        ),
        "One row per school.",
        "School; EducationOrganization (name, school categories)",
        "School names and levels, so school results read as names rather than codes.",
        key=("school_id",),
    ),
    Table(
        "programs",
        (
            _STUDENT,
            _c("program", "code", True, "Program code: english_learner, disability, low_income, section_504, "
               "homeless, foster_care, migrant, or any other name (which becomes the subgroup "
               "group_<name>). Common names are accepted: special education, IEP, ELL, LEP, FRL, ..."),
            _c("begin_date", "date", True, "First day in the program.", not_in_future=True),
            _c("end_date", "date", description="Last day in the program, blank if still in it."),
        ),
        "Program membership spells: one row per student, program and time in it. Optional; when "
        "given, each program is evaluated per school year (setting program_membership) and replaces "
        "the yes/no column of the same name in students.",
        "StudentProgramAssociation; StudentSpecialEducationProgramAssociation; "
        "StudentSchoolFoodServiceProgramAssociation; StudentLanguageInstructionProgramAssociation "
        "(begin date, end date)",
        "Who was an English learner, had an IEP, was low income or in another program in each school "
        "year, so year-by-year results use that year's membership, as state report cards do.",
        key=("student_id", "program", "begin_date"),
        order_rules=(("begin_date", "end_date"),),
    ),
    Table(
        "levels",
        (
            _STUDENT,
            _c("domain", "code", True, "Learning domain or strand, e.g. math, ela."),
            _c("as_of", "date", True, "Date on which the level was recorded.", not_in_future=True),
            _c("performance_level", "number", True,
               "Level on the district's learning continuum; level L holds grade L's standards. "
               "Fractions allowed.", low=-1, high=16),
        ),
        "Dated performance levels per student and domain: the basis of pace.",
        "StudentCompetencyObjective; StudentLearningStandardGrade; StudentAssessment "
        "(performance levels)",
        "Pace (levels gained per year) and how many levels each student is behind: the central "
        "measures of personalized, competency-based education.",
        key=("student_id", "domain", "as_of"),
    ),
    Table(
        "standards",
        (
            _c("standard_id", "id", True, "Standard or competency identifier."),
            _c("domain", "code", True, "Learning domain the standard belongs to."),
            _c("performance_level", "number", True, "Level on the continuum where the standard sits.",
               low=-1, high=16),
            _c("dok", "integer", description="Webb's depth of knowledge, 1-4.", low=1, high=4),
        ),
        "The learning continuum: where each standard sits.",
        "LearningStandard; CompetencyObjective",
        "Where each piece of evidence sits on the continuum, so pace can be derived from evidence.",
        key=("standard_id",),
    ),
    Table(
        "evidence",
        (
            _STUDENT,
            _c("standard_id", "id", True, "Standard assessed.", references="standards.standard_id"),
            _c("assessed_on", "date", True, "Date of the assessment.", not_in_future=True),
            _c("score", "number", True, "Rubric score; 1-4 with 3 = proficient unless configured."),
            _c("scorer_id", "id", description="Staff member who scored the work."),
            _c("task_type", "code", description="performance_task, test, quiz, project, observation, ..."),
            _c("dok", "integer", description="Depth of knowledge of the task, 1-4.", low=1, high=4),
        ),
        "One row per scored piece of student work against a standard.",
        "StudentGradebookEntry; Grade.learningStandardGrades; StudentCompetencyObjective",
        "Demonstrated mastery: the evidence behind proficiency calls, who gets rich tasks, and "
        "whether grades match evidence.",
    ),
    Table(
        "sections",
        (
            _c("section_id", "id", True, "Class section identifier."),
            _c("school_year", "school_year", True, "Year in which the school year ends."),
            _c("school_id", "id", True, "School identifier.", **_SCHOOL_REF),
            _c("teacher_id", "id", True, "Teacher of record."),
            _c("course_id", "id", description="Course identifier."),
            _c("domain", "code", description="Learning domain the course teaches."),
            _c("plc_id", "id", description="Professional learning community the teacher belongs to."),
            _c("course_level", "code", description="standard, honors, advanced, dual_enrollment, ..."),
        ),
        "One row per class section with its teacher.",
        "Section; CourseOffering; Course (course level characteristics); StaffSectionAssociation",
        "Which teacher and PLC each student learns with, for patterns at classroom and PLC level, "
        "and access to honors and advanced courses.",
        key=("section_id",),
    ),
    Table(
        "rosters",
        (
            _STUDENT,
            _c("section_id", "id", True, "Section identifier.", references="sections.section_id"),
        ),
        "Which students are in which sections.",
        "StudentSectionAssociation",
        "Links students to teachers and PLCs.",
        key=("student_id", "section_id"),
    ),
    Table(
        "grades",
        (
            _STUDENT,
            _c("section_id", "id", True, "Section identifier.", references="sections.section_id"),
            _c("term", "code", True, "Grading period, e.g. s1, s2, q1."),
            _c("grade", "grade", True, "Letter A-F with +/-, grade points or percent."),
        ),
        "Course grades per student, section and term.",
        "Grade; ReportCard",
        "Whether course grades agree with demonstrated mastery, or reward behaviour and compliance.",
        key=("student_id", "section_id", "term"),
    ),
    Table(
        "supports",
        (
            _STUDENT,
            _c("support_type", "code", True, "tutoring, intervention_block, extended_learning, ..."),
            _c("start_date", "date", True, "First day of the support."),
            _c("end_date", "date", description="Last day, blank if ongoing."),
            _c("domain", "code", description="Domain the support targets, blank for general supports."),
        ),
        "Additional supports each student received.",
        "StudentProgramAssociation; StudentInterventionAssociation",
        "Whether students who are behind or below pace receive support: unmet need.",
        # the same support in two domains (tutoring in math and in ELA) starting the same day is two rows
        key=("student_id", "support_type", "start_date", "domain"),
        order_rules=(("start_date", "end_date"),),
    ),
    Table(
        "opportunities",
        (
            _STUDENT,
            _c("opportunity_type", "code", True,
               "level4_work, enrichment, acceleration, honors, dual_enrollment, leadership, internship, ..."),
            _c("school_year", "school_year", True, "Year in which the school year ends."),
        ),
        "Access to deeper learning, enrichment, acceleration and leadership.",
        "StudentProgramAssociation (gifted and talented, enrichment); StudentSectionAssociation "
        "(advanced courses)",
        "Who gets Level-4 work, enrichment, acceleration and leadership, and who does not.",
        key=("student_id", "opportunity_type", "school_year"),
    ),
    Table(
        "discipline",
        (
            _STUDENT,
            _c("incident_date", "date", True, "Date of the incident.", not_in_future=True),
            _c("action", "category", True, "referral, in_school_suspension, out_of_school_suspension, "
               "expulsion or other.", categories=DISCIPLINE_ACTIONS),
            _c("days_removed", "number", description="Days removed from instruction.", low=0, high=366),
            _c("school_id", "id", description="School where it happened.", **_SCHOOL_REF),
        ),
        "One row per disciplinary action.",
        "DisciplineIncident; StudentDisciplineIncidentBehaviorAssociation; DisciplineAction",
        "Exclusionary discipline: who loses instructional time, and where.",
    ),
    Table(
        "calibration",
        (
            _c("work_id", "id", True, "Piece of student work scored by several scorers."),
            _c("scorer_id", "id", True, "Scorer."),
            _c("score", "number", True, "Rubric score on the same scale as evidence."),
            _c("standard_id", "id", description="Standard the work was scored against.",
               references="standards.standard_id"),
        ),
        "Calibration sessions: the same work scored by several educators.",
        "No standard Ed-Fi entity; export from the district's calibration or moderation records",
        "Whether proficiency calls are calibrated across scorers (inter-rater reliability).",
        key=("work_id", "scorer_id"),
    ),
    Table(
        "survey",
        (
            _STUDENT,
            _c("construct", "code", True, "belonging, safety, agency, ..."),
            _c("item_id", "id", True, "Survey item."),
            _c("response", "number", True, "Numeric response (e.g. 1-5 agreement)."),
            _c("survey_date", "date", description="Date of the response.", not_in_future=True),
        ),
        "Student climate survey responses.",
        "SurveyResponse; SurveyQuestionResponse",
        "How students experience belonging, safety and agency, by subgroup.",
        key=("student_id", "construct", "item_id", "survey_date"),
    ),
    Table(
        "state_comparison",
        (
            _c("category", "code", True, "What is counted, named as in the audit: out_of_school_suspension, "
               "in_school_suspension, expulsion, exclusionary_discipline, level4_work, honors, ..."),
            _c("group", "category", True, "Race/ethnicity group (federal seven).", categories=RACE_ETHNICITY),
            _c("outcome", "integer", True, "Children in the group with the outcome, statewide.", low=0, high=1e8),
            _c("base", "integer", True, "Children in the group in the relevant population, statewide.", low=0, high=1e8),
        ),
        "Statewide counts by race/ethnicity, copied from the state's public data, for the alternate "
        "risk ratio and the weighted risk ratio.",
        "No Ed-Fi entity: the state education agency's published disproportionality or discipline files",
        "The state comparison the IDEA rule uses when a district's own comparison group is too small.",
        key=("category", "group"),
        ceiling_rules=(("outcome", "base"),),
    ),
    Table(
        "attendance",
        (
            _STUDENT,
            _c("school_year", "school_year", True, "School year (the calendar year in which it ends)."),
            _c("school_id", "id", description="School the days were counted at; blank for the whole "
               "district.", **_SCHOOL_REF),
            _c("days_enrolled", "number", True, "Days the student was enrolled (instructional days).",
               low=0, high=366),
            _c("days_absent", "number", True, "Days absent, excused or not; half days as 0.5.",
               low=0, high=366),
        ),
        "Days enrolled and absent per student, school year and school.",
        "StudentSchoolAttendanceEvent (absence events, summed per school year); "
        "CalendarDate or Session instructional days between StudentSchoolAssociation entry and exit (days enrolled)",
        "Chronic absenteeism (absent 10% or more of enrolled days) by group and by school: the equity "
        "measure states report most.",
        key=("student_id", "school_year", "school_id"),
        ceiling_rules=(("days_absent", "days_enrolled"),),
    ),
    Table(
        "staff",
        (
            _c("staff_id", "id", True, "Staff identifier."),
            _c("school_id", "id", description="School of assignment.", **_SCHOOL_REF),
            _c("race_ethnicity", "category", description="Federal seven categories.",
               categories=RACE_ETHNICITY, missing=UNKNOWN),
            _c("role", "code", description="teacher, counselor, administrator, ..."),
        ),
        "Staff, for workforce diversity.",
        "Staff; StaffEducationOrganizationAssignmentAssociation",
        "Whether the diversity of the staff reflects the diversity of the students.",
        key=("staff_id",),
    ),
)

#: The contract, by table name, in the order tables are documented and loaded.
TABLES: dict[str, Table] = {t.name: t for t in _TABLES}


def load_order() -> list[str]:
    """Table names ordered so every referenced table comes before its referrers."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for col in TABLES[name].columns:
            if col.references and col.references.split(".")[0] != name:
                visit(col.references.split(".")[0])
        done.append(name)

    for name in TABLES:
        visit(name)
    return done
