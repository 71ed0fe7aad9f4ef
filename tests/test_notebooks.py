"""Notebooks stay thin, committed without outputs, and run through the pipeline."""
import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from equity_audit.app.pipeline import building_folder, steps

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
PARAMETERS = {"data_dir", "run_dir", "config_path"}
FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While,
             ast.Try, ast.Lambda, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_is_an_overview_notebook():
    assert [s.name for s in steps()][0] == "00_data_overview"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in code_cells(path):
        assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_logic_in_notebooks(path):
    for cell in code_cells(path):
        tree = ast.parse("".join(cell["source"]))
        bad = [type(node).__name__ for node in ast.walk(tree) if isinstance(node, FORBIDDEN)]
        assert not bad, f"{path.name}: move {bad} into the package"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_holds_literals_only(path):
    cells = [c for c in code_cells(path) if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse("".join(cells[0]["source"]))
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        names |= {target.id for target in node.targets}
    assert names == PARAMETERS


def test_every_notebook_ran_in_the_pipeline(demo_run):
    executed = sorted((demo_run / "confidential" / "notebooks").glob("*.ipynb"))
    assert [p.name for p in executed] == [step.path.name for step in steps()]
    assert len(executed) == 5
    for path in executed:
        meta = json.loads(path.read_text())["metadata"]["papermill"]
        assert meta["exception"] is None
        assert meta["parameters"]["run_dir"] == str(building_folder(demo_run))


def test_overview_artifacts_are_written(demo_run):
    tables = {p.stem for p in (demo_run / "tables").glob("*.csv")}
    assert {"students_by_school_year", "students_by_grade_year", "composition", "ledger",
            "exclusions"} <= tables
    assert (demo_run / "figures" / "students_by_grade.png").stat().st_size > 1000
    assert (demo_run / "confidential" / "README.txt").read_text().startswith("CONFIDENTIAL")


def test_unmet_need_section_writes_findings_and_keeps_students_confidential(demo_run):
    findings = pd.read_csv(demo_run / "tables" / "findings_unmet_need.csv")
    assert findings["statement"].str.startswith("English learners: average pace").any()
    assert findings["statement"].str.contains("Birch Elementary").any()
    published = " ".join(p.read_text() for p in (demo_run / "tables").glob("*.csv"))
    assert "student_id" not in published
    confidential = pd.read_csv(demo_run / "confidential" / "students_flagged_without_support.csv")
    assert len(confidential) > 0 and {"student_id", "domain", "pace"} <= set(confidential.columns)


def test_patterns_section_finds_the_planted_school_and_keeps_teachers_confidential(demo_run):
    bundled = Path(__file__).resolve().parents[1] / "data/synthetic"
    planted = {p["name"]: p for p in json.loads((bundled / "manifest.json").read_text())["planted"]}["disproportionate_discipline"]
    schools = pd.read_csv(bundled / "schools.csv").set_index("school_id")["school_name"]
    school, [group] = schools[planted["where"]["school_id"]], planted["group"].values()
    # The school's gap is tested against the same group's gap in the other schools, across every group
    # and school scanned (false-discovery control). In the bundled district (five schools) the planted
    # gap is the strongest of all those comparisons and its excess over the other schools' gap is clear,
    # but it is one of about 75 comparisons, so whether it also passes the false-discovery rule is not
    # asserted here (benchmarks/calibrate.py measures that power on many districts).
    gaps = pd.read_csv(demo_run / "tables" / "oss_gaps_by_school.csv")
    strongest = gaps.loc[gaps["pvalue"].idxmin()]
    assert (strongest["school"], strongest["group"]) == (school, group)
    assert strongest["interaction_low"] > 0 and strongest["difference"] > strongest["elsewhere_difference"]
    findings = pd.read_csv(demo_run / "tables" / "findings_patterns.csv")
    named = findings["statement"].str.startswith(f"{school}: the out-of-school suspension rate of {group} students")
    assert named.any() == bool(strongest["closer_look"])
    teachers = pd.read_csv(demo_run / "confidential" / "teacher_scan_below_pace.csv")
    assert len(teachers) > 10
    report = (demo_run / "report.html").read_text()
    published = report + " ".join(p.read_text() for p in (demo_run / "tables").glob("*.csv"))
    assert not [t for t in teachers["teacher_id"] if t in published]


def test_bias_section_finds_the_planted_grader_and_scorer_confidentially(demo_run):
    manifest = json.loads((Path(__file__).resolve().parents[1] / "data/synthetic/manifest.json").read_text())
    planted = {p["name"]: p for p in manifest["planted"]}
    grades = pd.read_csv(demo_run / "confidential" / "teacher_scan_grades_against_evidence.csv")
    flagged = grades[grades["closer_look"]]
    assert set(flagged["teacher_id"]) == {planted["teacher_grade_bias"]["where"]["teacher_id"]}
    severity = pd.read_csv(demo_run / "confidential" / "scorer_severity.csv")
    assert severity.loc[severity["harsh"], "scorer_id"].tolist() == [planted["harsh_rater"]["where"]["scorer_id"]]
    published = (demo_run / "report.html").read_text() + " ".join(
        p.read_text() for p in (demo_run / "tables").glob("*.csv"))
    staff = pd.read_csv(Path(__file__).resolve().parents[1] / "data/synthetic/staff.csv")["staff_id"]
    assert not [s for s in staff if s in published]
    assert (demo_run / "tables" / "findings_bias.csv").exists()
