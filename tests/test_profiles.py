"""School profiles: numbers from the released tables only, withheld values stay withheld, data text is inert."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from equity_audit.publish import profiles
from equity_audit.publish.narrative import fmt_value
from equity_audit.publish.render import clean_report_html
from equity_audit.publish.rundir import read_table, write_table

HOSTILE = "<script>alert(1)</script>North"
SAFE_NAME = re.compile(r"^[a-z0-9-]+\.(html|pdf)$")


@pytest.fixture
def run(tmp_path):
    """A small run folder: three schools (one with markup in its name), tables through the gate, findings."""
    schools = [HOSTILE, "South", "../../etc/West"]
    write_table(tmp_path, "students_by_school_year", pd.DataFrame(
        {"school": schools, "2024-25": [200, 150, 90], "2025-26": [210, 160, 6]}), min_n=10)
    write_table(tmp_path, "composition_by_school", pd.DataFrame({
        "school": [HOSTILE] * 3 + ["South"] * 3, "subgroup": "english_learner",
        "group": ["Yes", "No", "Unknown"] * 2, "n": [4, 190, 16, 40, 110, 10],
        "share": [4 / 210, 190 / 210, 16 / 210, 40 / 160, 110 / 160, 10 / 160],
        "suppressed": [True, True, False, False, False, False]}), min_n=10)
    write_table(tmp_path, "unmet_need_by_school", pd.DataFrame({
        "group": [HOSTILE, "South"], "statistic": "rate", "n": [94, 61], "estimate": [0.8191, 0.55],
        "low": [0.73, 0.42], "high": [0.88, 0.67], "comparator_n": [61, 94], "comparator_estimate": [0.6592, 0.80],
        "difference": [0.157, -0.25], "difference_low": [0.072, -0.38], "difference_high": [0.241, -0.12],
        "suppressed": False, "flagged": [True, True], "subgroup": "school"}), min_n=10)
    write_table(tmp_path, "below_pace_by_school", pd.DataFrame({
        "school": [HOSTILE, "South"], "n": [454, 6], "events": [71, 3], "rate": [0.1564, 0.5],
        "low": [0.126, 0.19], "high": [0.193, 0.81], "target": [0.148, 0.148], "suppressed": [False, True],
        "closer_look": False}), min_n=10)
    findings = [{"unit": "school", "unit_name": HOSTILE, "direction": "worse", "confidential": False,
                 "statement": f"{HOSTILE}: the share who needed more support and had none is 82%."},
                {"unit": "school", "unit_name": "South", "direction": "better", "confidential": False,
                 "statement": "South: the share who needed more support and had none is 55%."},
                {"unit": "teacher", "unit_name": HOSTILE, "direction": "worse", "confidential": True,
                 "statement": "confidential teacher result"}]
    (tmp_path / "findings.json").write_text(json.dumps({"settings": {"min_n": 10}, "findings": findings}))
    return tmp_path


def _profile(run, name):
    return next(p for p in profiles.school_profiles(run) if p.name == name)


def test_profile_shows_the_released_numbers(run):
    html = profiles.profile_html(_profile(run, HOSTILE))
    unmet = read_table(run, "unmet_need_by_school").iloc[0]
    assert fmt_value(unmet["estimate"], percent=True) in html  # 82%
    assert f"{fmt_value(unmet['comparator_estimate'], percent=True)} (other schools" in html
    assert "94 students" in html and "+15.7 points; 95% interval +7.2 points to +24.1 points" in html
    assert "454 student-subjects" in html and "16%" in html and "15% (the district)" in html
    assert "210 students in 2025-26" in html
    south = profiles.profile_html(_profile(run, "South"))
    assert re.search(r"<tr><td[^>]*>English learner</td><td[^>]*>40 \(25%\)</td></tr>", south)  # its Yes group
    assert "South: the share" not in html  # another school's flag is not this school's
    assert "confidential teacher result" not in html


def test_withheld_values_stay_withheld(run):
    south = profiles.profile_html(_profile(run, "South"))
    below = re.search(r"<tr><td[^>]*>Gaining under one level.*?</tr>", south).group(0)
    assert "fewer than 10 student-subjects" in below and "50%" not in below and "withheld" in below
    hostile = profiles.profile_html(_profile(run, HOSTILE))
    english = re.search(r"<tr><td[^>]*>English learner</td><td[^>]*>(.*?)</td>", hostile).group(1)
    assert english == "fewer than 10"  # the Yes group (4 students)
    assert "190" not in hostile  # nor its complement
    west = _profile(run, "../../etc/West")
    assert west.students == "fewer than 10"
    assert all(m["missing"] == "Not measured for this school in this run." for m in west.measures[:2])


def test_a_missing_table_is_said_not_failed(run):
    absence = _profile(run, "South").measures[2]
    assert absence["label"].startswith("Chronically absent") and absence["missing"].startswith("Not available")


def test_markup_in_a_school_name_is_inert(run):
    html = profiles.profile_html(_profile(run, HOSTILE))
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;North" in html
    appendix = profiles.appendix_html(run)
    assert "<script" not in appendix
    # the report's sanitiser keeps the appendix as it is: every tag it uses is allowed
    assert "&lt;div" not in clean_report_html(appendix) and "&lt;table" not in clean_report_html(appendix)


def test_file_names_are_safe_and_stay_in_the_folder(run, monkeypatch):
    monkeypatch.setattr(profiles, "print_pdfs", lambda *args, **kwargs: None)
    notebook = profiles.write_profiles(run)
    written = sorted(p.name for p in (run / "schools").iterdir())
    assert written == ["etc-west.html", "index.html", "script-alert-1-script-north.html", "south.html"]
    assert all(SAFE_NAME.match(name) for name in written)
    index = (run / "schools" / "index.html").read_text()
    assert "<script" not in index and "Content-Security-Policy" in index
    assert notebook.parent == run / "confidential" / "appendices" and "Appendix E: school profiles" in notebook.read_text()


def test_slugs_are_unique_and_plain():
    assert profiles.slugs(["École Ü", "ecole u", "***", "a/../b"]) == ["ecole-u", "ecole-u-2", "school", "a-b"]


def test_school_composition_withholds_small_groups_and_their_complements():
    students = pd.DataFrame({"student_id": [f"s{i}" for i in range(60)],
                             "english_learner": pd.array([True] * 3 + [False] * 57, dtype="boolean")})
    enrollments = pd.DataFrame({"student_id": students["student_id"], "school_year": 2025,
                                "school_id": ["A"] * 30 + ["B"] * 30, "grade_level": 3})
    schools = pd.DataFrame({"school_id": ["A", "B"], "school_name": ["Aspen", "Baker"]})
    table = profiles.school_composition({"students": students, "enrollments": enrollments, "schools": schools})
    english = table[table["subgroup"] == "english_learner"].set_index(["school", "group"])
    assert english.loc[("Aspen", "Yes"), "n"] == 3 and english.loc[("Baker", "No"), "n"] == 30
    withheld = english.index[english["suppressed"]].tolist()
    assert ("Aspen", "Yes") in withheld and ("Aspen", "No") in withheld  # the complement goes with it
    assert ("Baker", "No") in withheld  # else Aspen's No follows from the district total


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="needs poppler-utils")
def test_bundled_run_has_one_single_page_pdf_per_school(demo_run):
    schools = read_table(demo_run, "students_by_school_year")["school"]
    pdfs = sorted((demo_run / "schools").glob("*.pdf"))
    if not pdfs:
        pytest.skip("no Chromium: the run printed no PDF")
    assert len(pdfs) == len(schools)
    for pdf in pdfs:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+1$", info, re.MULTILINE), pdf.name
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        district = json.loads((demo_run / "findings.json").read_text(encoding="utf-8"))["district"]
        assert f"Equity audit: {district}" in text and f"{district} · Page 1 of 1" in text, pdf.name
    assert "Appendix E: school profiles" in (demo_run / "report.html").read_text(encoding="utf-8")
