"""The whole audit on districts with less data than the bundled one (issue 13).

Each district is generated with :mod:`equity_audit.data.synthetic` and then
reduced: tables deleted, columns dropped, schools or years cut, race recorded
differently. Nothing here names a group, school or value of ``data/synthetic``:
what is cut is chosen from the generated data. The audit runs each district once
(module-scoped fixtures; several reductions share a district to keep the runtime
down) and the tests check that it completes, which analyses ran and which were
listed as missing, and that no student id reaches a published file.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from equity_audit.app import pipeline
from equity_audit.publish import render
from equity_audit.config import district_label
from equity_audit.data.contract import ALIASES, RACE_ETHNICITY, UNKNOWN
from equity_audit.data.requirements import ANALYSES, analyses_for, availability, missing_tables
from equity_audit.disaggregate import disaggregate_each, scan_intersections
from equity_audit.questions import focus
from equity_audit.data.synthetic import write_district
from equity_audit.exceptions import DataValidationError

STUDENTS = 400


# --------------------------------------------------------------------------- building districts


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _write(folder: Path, name: str, table: pd.DataFrame) -> None:
    table.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")


def _tables(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.csv"))


def _generate(folder: Path, **kw) -> Path:
    write_district(folder, students=kw.pop("students", STUDENTS), seed=kw.pop("seed", 13), **kw)
    (folder / "manifest.json").unlink()
    return folder


def _keep_school(folder: Path) -> str:
    """Cut the district down to its largest school: every row elsewhere, and every student
    never enrolled there, is removed from every table."""
    enrollments = _read(folder, "enrollments")
    school = enrollments["school_id"].value_counts().index[0]
    kept_students = set(enrollments.loc[enrollments["school_id"] == school, "student_id"])
    sections = _read(folder, "sections")
    kept_sections = set(sections.loc[sections["school_id"] == school, "section_id"])
    for name in _tables(folder):
        table = _read(folder, name)
        keep = pd.Series(True, index=table.index)
        if "student_id" in table:
            keep &= table["student_id"].isin(kept_students)
        if "section_id" in table:
            keep &= table["section_id"].isin(kept_sections)
        if "school_id" in table:
            keep &= table["school_id"].isin([school, ""])
        _write(folder, name, table[keep])
    return school


#: What the last run passed to the PDF printer: the running header's district name of its last page, the report.
PRINTED: dict = {}


def _run(folder: Path, out: Path) -> Path:
    """The whole audit (no PDF: it adds time and nothing these tests look at)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "print_pdfs", lambda pages, **kwargs: PRINTED.update(district=list(pages)[-1][2]))
        pipeline.run_audit(folder, out, log=lambda message: None, progress=False)
    return out


@pytest.fixture(scope="module")
def minimal(tmp_path_factory):
    """Only students and enrollments."""
    folder = _generate(tmp_path_factory.mktemp("minimal") / "district")
    for path in folder.glob("*.csv"):
        if path.stem not in ("students", "enrollments"):
            path.unlink()
    return folder, _run(folder, tmp_path_factory.mktemp("minimal_run") / "out")


@pytest.fixture(scope="module")
def attendance_without_levels(tmp_path_factory):
    """A student information system export: no levels or evidence, but attendance and discipline."""
    folder = _generate(tmp_path_factory.mktemp("sis") / "district")
    for path in folder.glob("*.csv"):
        if path.stem not in ("students", "enrollments", "schools", "attendance", "discipline"):
            path.unlink()
    return folder, _run(folder, tmp_path_factory.mktemp("sis_run") / "out")


#: Finer race categories than the contract's: what a district might record, and how each is
#: spelled in the contract column (a spelling the contract accepts, see ALIASES).
_DETAILED = {"Black/African American": ("Somali", "black"), "Hispanic/Latino": ("Mexican", "latino"),
             "Asian": ("Hmong", "asian"), "White": ("European", "white"),
             "Two or more races": ("Multiracial", "multiracial")}


@pytest.fixture(scope="module")
def without_flags(tmp_path_factory):
    """No disability, English-learner or low-income column; more race categories than the
    contract's (kept as a district subgroup, the contract column in accepted spellings);
    grades, evidence, standards, sections, rosters and calibration but no survey or staff."""
    folder = _generate(tmp_path_factory.mktemp("flags") / "district")
    students = _read(folder, "students").drop(columns=["english_learner", "disability", "low_income"])
    race = students["race_ethnicity"]
    students["group_race_detail"] = race.map({k: v[0] for k, v in _DETAILED.items()}).fillna(race)
    students["race_ethnicity"] = race.map({k: v[1] for k, v in _DETAILED.items()}).fillna(race)
    _write(folder, "students", students)
    (folder / "survey.csv").unlink()
    (folder / "staff.csv").unlink()
    return folder, _run(folder, tmp_path_factory.mktemp("flags_run") / "out")


@pytest.fixture(scope="module")
def one_school_one_year(tmp_path_factory):
    """One school, one school year, race recorded only as Unknown."""
    folder = _generate(tmp_path_factory.mktemp("one") / "district", years=(2026,))
    _keep_school(folder)
    students = _read(folder, "students")
    _write(folder, "students", students.assign(race_ethnicity=UNKNOWN))
    return folder, _run(folder, tmp_path_factory.mktemp("one_run") / "out")


@pytest.fixture(scope="module")
def many_schools(tmp_path_factory):
    """80 schools, few students in each."""
    folder = _generate(tmp_path_factory.mktemp("many") / "district", schools=80, students=600)
    return folder, _run(folder, tmp_path_factory.mktemp("many_run") / "out")


# --------------------------------------------------------------------------- what a run shows


def composition(out: Path) -> pd.DataFrame:
    """The published composition, with subgroups named by their column ("race ethnicity" -> race_ethnicity)."""
    table = pd.read_csv(out / "tables" / "composition.csv", dtype=str, keep_default_na=False)
    return table.assign(subgroup=table["subgroup"].str.replace(" ", "_"))


def analyses_listed(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / "analyses_available.csv", keep_default_na=False)


def ran(out: Path) -> set[str]:
    table = analyses_listed(out)
    return set(table.loc[table["Runs"] == "Yes", "Analysis"])


def not_run_notes(out: Path) -> dict[str, str]:
    """Analysis name -> the note that replaced it in the executed notebooks."""
    notes = {}
    for path in sorted((out / "confidential" / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if name := cell.metadata.get("equity_audit", {}).get("not_run"):
                notes[name] = cell.source
    return notes


def title(name: str) -> str:
    return next(a.title for a in ANALYSES if a.name == name)


def published_text(out: Path) -> str:
    """Everything outside the confidential folder, as text (the workbook's cells too)."""
    parts = []
    for path in out.rglob("*"):
        if not path.is_file() or "confidential" in path.relative_to(out).parts:
            continue
        if path.suffix == ".xlsx":
            sheets = pd.read_excel(path, sheet_name=None, header=None)
            parts += [sheet.astype(str).to_csv() for sheet in sheets.values()]
        elif path.suffix in (".csv", ".html", ".json", ".txt", ".md"):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def assert_no_student_id_published(folder: Path, out: Path) -> None:
    ids = set(_read(folder, "students")["student_id"])
    words = set(re.findall(r"[A-Za-z0-9_\-]+", published_text(out)))
    assert (out / "report.html").exists()
    assert not ids & words


def assert_every_missing_analysis_explained(out: Path) -> None:
    table = analyses_listed(out)
    missing = table[table["Runs"] == "No"]
    assert (missing["Missing"] != "").all()
    notes = not_run_notes(out)
    for name in [a.name for a in ANALYSES if a.title in set(missing["Analysis"])]:  # a few dozen
        assert name in notes, f"{name} is listed as missing but its section does not say so"
        assert "could not be run: it needs" in notes[name] and "It would have shown" in notes[name]


# --------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_only_students_and_enrollments(minimal):
    folder, out = minimal
    assert ran(out) == set()
    table = analyses_listed(out).set_index("Analysis")
    assert table.loc[title("climate"), "Missing"] == "survey"
    assert table.loc[title("pace"), "Missing"] == "levels or evidence and standards"
    assert table.loc[title("grades_against_evidence"), "Missing"] == "grades and evidence and standards and sections and rosters"
    assert_every_missing_analysis_explained(out)
    assert (out / "tables" / "composition.csv").exists()
    assert_no_student_id_published(folder, out)


@pytest.mark.slow
def test_no_disability_english_learner_or_low_income_column(without_flags):
    folder, out = without_flags
    shown = composition(out)
    assert {"race_ethnicity", "gender"} <= set(shown["subgroup"])
    assert not {"english_learner", "disability", "low_income"} & set(shown["subgroup"])
    table = analyses_listed(out).set_index("Analysis")
    assert table.loc[title("idea_discipline_disability"), "Missing"] == "the disability column of students"
    assert {title(n) for n in ("pace", "pace_intersections", "unmet_need", "discipline", "idea_discipline")} <= ran(out)
    intersections = pd.read_csv(out / "tables" / "pace_intersections.csv")
    assert not intersections["columns"].str.contains("disability|english_learner|low_income").any()
    assert_every_missing_analysis_explained(out)
    assert_no_student_id_published(folder, out)


@pytest.mark.slow
def test_more_race_categories_kept_as_a_district_subgroup(without_flags):
    folder, out = without_flags
    shown = composition(out)
    detail = shown[shown["subgroup"] == "group_race_detail"]
    assert {v[0] for v in _DETAILED.values()} <= set(detail["group"])
    race = shown[shown["subgroup"] == "race_ethnicity"]
    assert len(race) > 0
    assert set(race["group"]) <= set(RACE_ETHNICITY)   # accepted spellings mapped to the contract's
    pace = pd.read_csv(out / "tables" / "pace_by_subgroup.csv")
    assert "group_race_detail" in set(pace["subgroup"])


@pytest.mark.slow
def test_categories_outside_the_contract_stop_with_a_clear_message(tmp_path):
    folder = _generate(tmp_path / "district", students=60)
    for path in folder.glob("*.csv"):
        if path.stem not in ("students", "enrollments"):
            path.unlink()
    students = _read(folder, "students")
    _write(folder, "students", students.assign(race_ethnicity="Somali"))
    assert "somali" not in ALIASES["race_ethnicity"]
    with pytest.raises(DataValidationError) as caught:
        pipeline.run_audit(folder, tmp_path / "out", log=lambda message: None, progress=False)
    message = str(caught.value)
    assert "students" in message and "race_ethnicity" in message and "Somali" in message
    assert "White" in message   # what was expected is named
    assert not (tmp_path / "out" / "report.html").exists()


@pytest.mark.slow
def test_no_survey_or_staff_keeps_grading_and_calibration(without_flags):
    folder, out = without_flags
    assert {title(n) for n in ("grades_against_evidence", "calibration", "rich_evidence", "teacher_pace")} <= ran(out)
    assert not {title("climate"), title("workforce")} & ran(out)
    for table in ("grade_residual_by_subgroup", "calibration_agreement", "findings_bias"):
        assert (out / "tables" / f"{table}.csv").exists()
    assert not (out / "tables" / "climate_by_subgroup.csv").exists()
    notes = not_run_notes(out)
    assert "survey" in notes["climate"] and "staff" in notes["workforce"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Climate survey</strong> could not be run" in report or "Climate survey** could not be run" in report


@pytest.mark.slow
def test_one_school_and_one_school_year(one_school_one_year):
    folder, out = one_school_one_year
    by_school = pd.read_csv(out / "tables" / "students_by_school_year.csv")
    assert len(by_school) == 1
    assert {title(n) for n in ("pace", "levels_behind", "discipline", "grades_against_evidence")} <= ran(out)
    assert (out / "tables" / "findings_unmet_need.csv").exists()
    assert_every_missing_analysis_explained(out)
    assert_no_student_id_published(folder, out)


@pytest.mark.slow
def test_race_recorded_only_as_unknown(one_school_one_year):
    folder, out = one_school_one_year
    shown = composition(out)
    race = shown[(shown["subgroup"] == "race_ethnicity") & (shown["n"] != "0")]
    assert race["group"].tolist() == [UNKNOWN]
    table = analyses_listed(out).set_index("Analysis")
    assert table.loc[title("idea_discipline"), "Missing"].startswith("recorded values in the race/ethnicity column")
    assert title("idea_discipline") not in ran(out) and title("discipline") in ran(out)
    # the audit still reports on the other subgroups
    pace = pd.read_csv(out / "tables" / "pace_by_subgroup.csv")
    assert len(set(pace["subgroup"]) - {"race_ethnicity"}) >= 3


@pytest.mark.slow
def test_eighty_schools(many_schools):
    folder, out = many_schools
    by_school = pd.read_csv(out / "tables" / "students_by_school_year.csv")
    assert len(by_school) >= 70   # every school with students enrolled is listed
    assert ran(out) == {a.title for a in ANALYSES}   # every table is there: every analysis runs
    assert_no_student_id_published(folder, out)
    findings = json.loads((out / "findings.json").read_text())
    assert isinstance(findings, (dict, list))


# --------------------------------------------------------------------------- fast checks of the machinery


def test_requirements_name_only_what_is_missing():
    levels = [["levels"], ["evidence", "standards"]]
    assert missing_tables({"evidence"}, levels) == ["levels", "standards"]
    assert missing_tables({"evidence", "standards"}, levels) == []
    tables = {"discipline": pd.DataFrame(columns=["student_id"]),
              "students": pd.DataFrame({"student_id": ["a"], "race_ethnicity": ["x"]})}
    assert missing_tables(tables, [["discipline", "students.race_ethnicity"]]) == []
    assert missing_tables(tables, [["discipline", "students.disability"]]) == ["the disability column of students"]


def test_every_analysis_is_tagged_in_its_notebook_and_every_tag_is_declared():
    for step in pipeline.steps():
        assert step.analyses == [a.name for a in analyses_for(step.name)], step.name
    assert {a.notebook for a in ANALYSES} <= {step.name for step in pipeline.steps()}


@pytest.mark.slow
def test_a_district_without_levels_keeps_chronic_absence(attendance_without_levels):
    # the unmet-need section used to be skipped whole without levels, and said chronic absence "ran"
    folder, out = attendance_without_levels
    # no district_name in the settings: the cover and the PDF's running header name the data folder
    assert PRINTED["district"] == district_label("", folder) and PRINTED["district"].endswith("district")
    assert {title("chronic_absence"), title("chronic_absence_by_school")} <= ran(out)
    assert title("pace") not in ran(out)
    absence = pd.read_csv(out / "tables" / "chronic_absence_by_subgroup.csv")
    assert absence["n"].notna().any()
    notes = not_run_notes(out)
    assert "could not be run: it needs levels" in notes["pace"]
    assert "chronic_absence" not in notes
    assert_every_missing_analysis_explained(out)
    assert_no_student_id_published(folder, out)


def test_a_skipped_section_does_not_say_an_analysis_ran():
    from equity_audit.data.requirements import analysis
    note = pipeline._not_run_message(analysis("chronic_absence"), {"students", "attendance"}, ["levels"])
    assert note.startswith("**Chronic absence** was not run") and "levels" in note and "ran." not in note
    assert "could not be run: it needs attendance" in pipeline._not_run_message(analysis("chronic_absence"),
                                                                                 {"students"}, ["levels"])


def test_a_district_without_survey_or_staff_keeps_grading_and_calibration():
    names = {"students", "enrollments", "grades", "evidence", "standards", "sections", "rosters", "calibration"}
    table = availability(names).set_index("analysis")
    assert table.loc[title("grades_against_evidence"), "runs"] and table.loc[title("calibration"), "runs"]
    assert not table.loc[title("climate"), "runs"] and table.loc[title("climate"), "missing"] == "survey"
    assert table.loc[title("workforce"), "missing"].startswith("staff")


def test_prepared_notebook_replaces_what_cannot_run(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# Section"),
             nbformat.v4.new_code_cell("a = 1", metadata={"equity_audit": {"analysis": "climate"}}),
             nbformat.v4.new_code_cell("b, c = 2, 3\nprint(b)", metadata={"equity_audit": {"analysis": "climate"}}),
             nbformat.v4.new_code_cell("d = 4", metadata={"equity_audit": {"analysis": "calibration"}}),
             nbformat.v4.new_code_cell("e = [a, d]")]
    path = tmp_path / "03_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    step = pipeline.Step("03_x", path)
    assert step.analyses == ["climate", "calibration"]
    prepared = pipeline.prepared_notebook(step, {"students", "calibration"})
    sources = [c.source for c in prepared.cells]
    assert sources[0] == "# Section"
    assert "could not be run: it needs survey" in sources[1] and "It would have shown" in sources[1]
    assert sources[2:] == ["a = None", "b = c = None", "d = 4", "e = [a, d]"]
    assert "remove-cell" in prepared.cells[2].metadata["tags"]
    # the same district, the same notebook: no random cell ids in the report
    again = pipeline.prepared_notebook(step, {"students", "calibration"})
    assert [c.id for c in prepared.cells] == [c.id for c in again.cells]
    assert [c.id for c in prepared.cells[1:4]] == ["not-run-climate", f"{cells[1].id}-not-run", f"{cells[2].id}-not-run"]
    nbformat.validate(prepared)
    everything = pipeline.prepared_notebook(step, {"students", "calibration", "survey"})
    assert [c.source for c in everything.cells] == [c.source for c in cells]


def _simulated(seed: int, effect: float, n: int = 3000) -> pd.DataFrame:
    """Students with two yes/no subgroups and a race-like column; ``effect`` lowers the pace of
    students in both "club" and "team" (an intersection) and nothing else."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"club": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
                         "team": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
                         "colour": rng.choice(["red", "green", "blue", UNKNOWN], n),
                         "pace": rng.normal(1.0, 0.3, n)})
    both = (data["club"] == "Yes") & (data["team"] == "Yes")
    data.loc[both, "pace"] -= effect
    return data


def test_focus_finds_the_planted_group_and_intersection():
    data = _simulated(1, effect=0.4)
    columns = ["colour", "club", "team"]
    table = disaggregate_each(data, "pace", columns, min_n=10)
    assert focus.top_group(table) in {("club", "Yes"), ("team", "Yes")}
    scan = scan_intersections(data, "pace", columns, min_n=10)
    assert set(focus.top_pair(scan, columns)) == {"club", "team"}


def test_focus_in_a_null_district_never_picks_unknown_or_no():
    for seed in range(5):
        data = _simulated(seed, effect=0.0)
        table = disaggregate_each(data, "pace", ["colour", "club", "team"], min_n=10)
        column, group = focus.top_group(table)
        assert group not in (UNKNOWN, "No")
        candidates = table[~table["group"].isin([UNKNOWN, "No"])].set_index(["subgroup", "group"])
        if candidates["flagged"].any():   # a chance call among the candidates is preferred
            assert bool(candidates.loc[(column, group), "flagged"])
        else:                             # otherwise the largest gap of a group large enough to show
            shown = candidates[~candidates["suppressed"]]
            assert (column, group) == shown["difference"].abs().idxmax()


def test_focus_without_groups_says_so():
    with pytest.raises(focus.NothingToFocusError):
        focus.top_group(pd.DataFrame(columns=["subgroup", "group", "difference"]))
    with pytest.raises(focus.NothingToFocusError):
        focus.top_pair(pd.DataFrame(columns=["columns"]), ["only_one"])


def test_a_column_with_no_recorded_value_counts_as_missing():
    students = pd.DataFrame({"student_id": ["a", "b"], "race_ethnicity": [UNKNOWN, None]})
    tables = {"students": students, "discipline": pd.DataFrame(columns=["student_id"])}
    needs = [["discipline", "students.race_ethnicity"]]
    assert missing_tables(tables, needs)[0].startswith("recorded values in the race/ethnicity column of students")
    tables["students"] = students.assign(race_ethnicity=[UNKNOWN, "x"])
    assert missing_tables(tables, needs) == []
