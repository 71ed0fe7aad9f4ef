"""Program membership by school year: spells, aliases, modes, the validator and the wiring."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from equity_audit.config import Config
from equity_audit.data import load
from equity_audit.data.load import District, load_district
from equity_audit.data.programs import apply_programs, membership_by_year, program_column
from equity_audit.exceptions import ConfigError, DataValidationError
from equity_audit.publish.rundir import open_district
from equity_audit.questions import patterns
from equity_audit.trends import gap_by_year

from districts import TODAY, add_lines, write_district


def spells(*rows):
    frame = pd.DataFrame(rows, columns=["student_id", "program", "begin_date", "end_date"])
    return frame.assign(begin_date=pd.to_datetime(frame["begin_date"]),
                        end_date=pd.to_datetime(frame["end_date"]))


def years_of(*pairs):
    return pd.DataFrame(pairs, columns=["student_id", "school_year"])


def flags(programs, years, column, **kw):
    table = membership_by_year(programs, years, **kw).set_index(["student_id", "school_year"])
    return table[column].to_dict()


# --------------------------------------------------------------------------- membership rule


def test_learner_exited_after_year_one_counts_in_year_one_only_or_ever():
    programs = spells(("a", "english_learner", "2023-09-01", "2024-06-01"))
    years = years_of(("a", 2024), ("a", 2025))
    assert flags(programs, years, "english_learner", mode="year") == {("a", 2024): "Yes", ("a", 2025): "No"}
    assert flags(programs, years, "english_learner", mode="ever") == {("a", 2024): "Yes", ("a", 2025): "Yes"}


def test_ever_does_not_reach_back_before_the_first_spell():
    programs = spells(("a", "english_learner", "2024-10-01", "2024-12-01"))
    years = years_of(("a", 2024), ("a", 2025), ("a", 2026))
    assert flags(programs, years, "english_learner", mode="ever") == {
        ("a", 2024): "No", ("a", 2025): "Yes", ("a", 2026): "Yes"}


def test_spells_crossing_school_year_boundaries():
    # default school year 2025: 2024-08-15 to 2025-06-15 (both days included)
    programs = spells(("a", "disability", "2025-03-01", "2025-10-01"),   # spring of 2025 into fall of 2026
                      ("b", "disability", "2025-06-15", "2025-06-20"),   # begins on the last day of 2025
                      ("c", "disability", "2025-06-20", "2025-08-01"),   # summer only: no school year
                      ("d", "disability", "2023-01-01", "2024-08-15"))   # ends on the first day of 2025
    years = years_of(*[(s, y) for s in "abcd" for y in (2024, 2025, 2026)])
    got = flags(programs, years, "disability", mode="year")
    assert [got[("a", y)] for y in (2024, 2025, 2026)] == ["No", "Yes", "Yes"]
    assert [got[("b", y)] for y in (2024, 2025, 2026)] == ["No", "Yes", "No"]
    assert [got[("c", y)] for y in (2024, 2025, 2026)] == ["No", "No", "No"]
    assert [got[("d", y)] for y in (2024, 2025, 2026)] == ["Yes", "Yes", "No"]


def test_school_year_settings_move_the_window():
    programs = spells(("a", "low_income", "2024-07-01", "2024-07-31"))
    years = years_of(("a", 2024), ("a", 2025))
    assert flags(programs, years, "low_income") == {("a", 2024): "No", ("a", 2025): "No"}
    # a school year from 1 July to 30 June: July 2024 is in 2025
    assert flags(programs, years, "low_income", school_year_start="07-01",
                 school_year_end="06-30") == {("a", 2024): "No", ("a", 2025): "Yes"}


def test_open_ended_spell_counts_in_every_later_year():
    programs = spells(("a", "low_income", "2023-01-10", None))
    years = years_of(("a", 2022), ("a", 2023), ("a", 2030))
    assert flags(programs, years, "low_income") == {("a", 2022): "No", ("a", 2023): "Yes", ("a", 2030): "Yes"}


def test_students_without_spells_are_no_and_several_spells_combine():
    programs = spells(("a", "english_learner", "2021-09-01", "2022-06-01"),
                      ("a", "english_learner", "2023-09-01", "2024-06-01"),
                      ("b", "homeless", "2023-09-01", None))
    years = years_of(("a", 2022), ("a", 2023), ("a", 2024), ("c", 2024))
    table = membership_by_year(programs, years)
    assert table.columns.tolist() == ["student_id", "school_year", "english_learner", "homeless"]
    assert table["english_learner"].tolist() == ["Yes", "No", "Yes", "No"]
    assert table["homeless"].tolist() == ["No", "No", "No", "No"]


@pytest.mark.parametrize("name, column", [
    ("Special Education", "disability"), ("IEP", "disability"), ("sped", "disability"),
    ("ELL", "english_learner"), ("LEP", "english_learner"), ("English Learner", "english_learner"),
    ("free or reduced lunch", "low_income"), ("FRL", "low_income"), ("504 plan", "section_504"),
    ("McKinney-Vento", "homeless"), ("Gifted and Talented", "group_gifted_and_talented"),
])
def test_aliases_and_unknown_programs(name, column):
    assert program_column(pd.Series([name])).tolist() == [column]


def test_unknown_program_becomes_a_district_subgroup():
    programs = spells(("a", "Newcomer Academy", "2024-09-01", None), ("b", "IEP", "2024-09-01", None))
    table = membership_by_year(programs, years_of(("a", 2025), ("b", 2025)))
    assert table.columns.tolist() == ["student_id", "school_year", "disability", "group_newcomer_academy"]
    assert table["group_newcomer_academy"].tolist() == ["Yes", "No"]
    assert table["disability"].tolist() == ["No", "Yes"]


def test_mode_is_checked():
    with pytest.raises(ConfigError, match="program_membership"):
        membership_by_year(spells(("a", "iep", "2024-09-01", None)), years_of(("a", 2025)), mode="always")
    with pytest.raises(ConfigError, match="program_membership"):
        Config.from_mapping({"program_membership": "sometimes"})
    assert Config().program_membership == "year"
    assert Config.from_mapping({"program_membership": "ever"}).program_membership == "ever"


def test_vectorised_on_many_students_matches_a_direct_rule():
    rng = np.random.default_rng(7)
    n = 3000
    begin = pd.Timestamp("2020-08-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    end = begin + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    end = end.where(rng.random(n) > 0.3)  # 30% open-ended
    programs = pd.DataFrame({"student_id": [f"s{i}" for i in range(n)], "program": "ell",
                             "begin_date": begin, "end_date": end})
    years = pd.DataFrame({"student_id": programs["student_id"], "school_year": rng.integers(2021, 2027, n)})
    got = membership_by_year(programs, years).set_index("student_id").loc[programs["student_id"]]
    first = pd.to_datetime((years["school_year"] - 1).astype(str) + "-08-15")
    last = pd.to_datetime(years["school_year"].astype(str) + "-06-15")
    expected = (begin <= last) & (end.isna() | (end >= first))
    assert (got["english_learner"].eq("Yes").to_numpy() == expected.to_numpy()).all()
    assert 0.2 < expected.mean() < 0.8  # the simulated case has both answers


# --------------------------------------------------------------------------- the validator

PROGRAMS = ("student_id,program,begin_date,end_date\n"
            "S1,ELL,2023-09-01,2024-06-01\n"
            "S2,special education,2024-09-01,\n"
            "S3,Newcomer,2024-09-01,\n")


def test_validator_accepts_the_programs_table(tmp_path):
    district = load_district(write_district(tmp_path / "d", {"programs": PROGRAMS}), today=TODAY)
    table = district["programs"]
    assert table["program"].tolist() == ["ell", "special_education", "newcomer"]
    assert table["end_date"].isna().tolist() == [False, True, True]
    assert district.ledger.set_index("table").loc["programs", "rows_used"] == 3


def test_validator_rejects_end_before_begin(tmp_path):
    bad = PROGRAMS.replace("S3,Newcomer,2024-09-01,", "S3,Newcomer,2024-09-01,2024-08-01")
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"programs": bad}), today=TODAY)
    [problem] = caught.value.problems
    assert str(problem) == ("programs.csv, column 'end_date', row 4: '2024-08-01' is before the "
                            "begin_date on the same row; expected end_date on or after begin_date.")
    assert problem.kind == load.KIND_ORDER


def test_validator_rejects_a_repeated_spell_and_unknown_students(tmp_path):
    bad = PROGRAMS + "S1,ell,2023-09-01,2024-05-01\nS9,frl,2024-09-01,\n"
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"programs": bad}), today=TODAY)
    found = {p.kind: p for p in caught.value.problems}
    assert found[load.KIND_DUPLICATE_KEY].rows == (2, 5)
    assert found[load.KIND_UNKNOWN_REFERENCE].values == ("S9",)


# --------------------------------------------------------------------------- wiring


def test_students_flags_become_latest_year_membership_and_changes_are_counted(tmp_path):
    # students says S2 and S3 are EL and S3 has an IEP; programs: only S1 was EL (exited 2024), S2 has an IEP
    folder = write_district(tmp_path / "d", {"programs": PROGRAMS})
    district = apply_programs(load_district(folder, today=TODAY), mode="year")
    students = district["students"].set_index("student_id")
    assert students["english_learner"].tolist() == [False, False, False, False]
    assert students["disability"].tolist() == [False, True, False, False]
    assert students["group_newcomer"].tolist() == ["No", "No", "Yes", "No"]
    notes = [n for n in district.notes if "from programs" in n]
    assert any("english_learner was replaced" in n and "2 students changed" in n for n in notes)
    assert any("disability was replaced" in n and "2 students changed" in n for n in notes)
    assert any("group_newcomer was replaced" in n and "3 students changed" in n for n in notes)
    ever = apply_programs(load_district(folder, today=TODAY), mode="ever")
    assert ever["students"]["english_learner"].tolist() == [True, False, False, False]


def test_a_program_students_lacks_is_added_and_noted(tmp_path):
    folder = write_district(tmp_path / "d", {"programs": PROGRAMS + "S4,FRL,2024-09-01,\n"})
    district = apply_programs(load_district(folder, today=TODAY))
    assert district["students"]["low_income"].tolist() == [False, False, False, True]
    assert str(district["students"]["low_income"].dtype) == "boolean"
    assert any(n.startswith("students: low_income was added from program membership in each student's latest school year")
               for n in district.notes)


def test_without_programs_nothing_changes(tmp_path):
    district = load_district(write_district(tmp_path / "d"), today=TODAY)
    assert apply_programs(district) is district
    before = patterns.student_year_facts(district)
    assert before["english_learner"].astype(str).tolist() == ["No", "Yes", "Yes", "No"]


def test_open_district_applies_programs_and_keys_the_cache_by_mode(tmp_path):
    folder = write_district(tmp_path / "d", {"programs": PROGRAMS})
    run = tmp_path / "run"
    year = open_district(folder, run, Config())
    assert year["students"]["english_learner"].tolist() == [False, False, False, False]
    ever = open_district(folder, run, Config(program_membership="ever"))
    assert ever["students"]["english_learner"].tolist() == [True, False, False, False]
    assert any("from programs" in n for n in ever.notes)


def simulated_district(seed: int = 3, n: int = 3000, with_programs: bool = True) -> District:
    """Two school years; 40% are English learners in 2024 and three in four of them exit before 2025.

    Truth: the rate of an out-of-school suspension is 0.50 in a year a student is an
    English learner and 0.05 otherwise, so the true gap is 0.45 in both years.
    The students table's fixed flag is the 2025 status.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"p{i:05d}" for i in range(n)])
    el_2024 = rng.random(n) < 0.4
    el_2025 = el_2024 & (rng.random(n) < 0.25)
    students = pd.DataFrame({"student_id": ids, "english_learner": pd.array(el_2025, dtype="boolean")})
    enrollments = pd.DataFrame({"student_id": np.tile(ids, 2), "school_year": np.repeat([2024, 2025], n),
                                "school_id": "k1", "grade_level": 5})
    member = np.concatenate([el_2024, el_2025])
    oss = rng.random(2 * n) < np.where(member, 0.5, 0.05)
    discipline = pd.DataFrame({
        "student_id": enrollments["student_id"][oss].to_numpy(), "action": "out_of_school_suspension",
        "incident_date": pd.to_datetime(np.where(enrollments["school_year"][oss] == 2024, "2023-11-01",
                                                 "2024-11-01")),
        "days_removed": 1.0})
    tables = {"students": students, "enrollments": enrollments, "discipline": discipline}
    if with_programs:
        tables["programs"] = pd.DataFrame({
            "student_id": ids[el_2024], "program": "LEP",
            "begin_date": pd.Timestamp("2021-09-01"),
            "end_date": pd.Series(pd.Timestamp("2024-06-01"), index=range(el_2024.sum()))
            .where(~el_2025[el_2024])})
    return District(Path("."), tables, pd.DataFrame(), pd.DataFrame())


def test_year_by_year_gap_uses_each_years_flags():
    per_year = patterns.student_year_facts(simulated_district())
    fixed = patterns.student_year_facts(simulated_district(with_programs=False))
    by_year = gap_by_year(per_year, "any_oss", column="english_learner", focus="Yes").set_index("school_year")
    by_fixed = gap_by_year(fixed, "any_oss", column="english_learner", focus="Yes").set_index("school_year")
    # 2024: per-year flags recover the true gap; the fixed flags count the exited learners as
    # never having been learners and understate it (expected about 0.30)
    assert by_year.loc[2024, "difference"] == pytest.approx(0.45, abs=0.06)
    assert by_year.loc[2024, "low"] < 0.45 < by_year.loc[2024, "high"]
    assert by_fixed.loc[2024, "difference"] < by_year.loc[2024, "difference"] - 0.08
    assert by_fixed.loc[2024, "n"] < by_year.loc[2024, "n"]
    # 2025: the fixed flag is the 2025 status, so the two agree exactly
    assert by_year.loc[2025, "difference"] == by_fixed.loc[2025, "difference"]
    assert by_year.loc[2025, "n"] == by_fixed.loc[2025, "n"]


def test_null_programs_equal_to_fixed_flags_change_nothing():
    district = simulated_district(with_programs=False)
    students = district["students"]
    stable = students[students["english_learner"].to_numpy(dtype=bool)]
    same = District(Path("."), {**district.tables, "programs": pd.DataFrame({
        "student_id": stable["student_id"], "program": "english learner",
        "begin_date": pd.Timestamp("2020-09-01"), "end_date": pd.NaT})}, pd.DataFrame(), pd.DataFrame())
    with_programs = patterns.student_year_facts(same)
    without = patterns.student_year_facts(district)
    assert (with_programs["english_learner"].astype(str) == without["english_learner"].astype(str)).all()
    assert len(with_programs) == len(without)


def test_a_student_who_left_earlier_keeps_the_membership_of_their_own_last_year(tmp_path):
    students = add_lines("students", "S5,2011-01-01,White,F,N,N,N")
    enrollments = add_lines("enrollments", "S5,2024,SCH1,7,2023-08-20,2024-06-01,Transfer Out")
    programs = "student_id,program,begin_date,end_date\nS5,ELL,2023-09-01,2024-06-01\n"
    folder = write_district(tmp_path / "d", {"students": students, "enrollments": enrollments,
                                             "programs": programs})
    district = apply_programs(load_district(folder, today=TODAY), mode="year")
    flags = district["students"].set_index("student_id")["english_learner"]
    assert bool(flags["S5"]) and not flags.drop("S5").any()
