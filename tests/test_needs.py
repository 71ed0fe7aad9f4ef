"""Unmet need and unidentified talent, on hand-made rows and on planted and null districts."""
import json

import numpy as np
import pandas as pd
import pytest

import equity_audit as ea
from equity_audit.questions import needs, overview, patterns
from equity_audit.disaggregate import disaggregate, disaggregate_each, scan_intersections
from equity_audit.data.subgroups import subgroup_columns
from equity_audit.data.synthetic import write_district


def supports_of(*rows):
    return pd.DataFrame(rows, columns=["student_id", "support_type", "start_date", "end_date", "domain"]).astype(
        {"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"})


def test_support_counts_in_its_school_year_and_domain():
    facts = pd.DataFrame({"student_id": ["a", "a", "b", "c", "d"], "domain": ["math", "ela", "math", "math", "math"],
                          "school_year": [2025] * 5})
    supports = supports_of(("a", "tutoring", "2024-10-01", None, "math"),        # math only
                           ("b", "advisory", "2023-09-01", "2024-08-20", None),  # general, overlaps start
                           ("c", "tutoring", "2023-09-01", "2024-06-01", None),  # ended the year before
                           ("d", "tutoring", "2025-07-01", None, None))          # starts after the year
    assert needs.support_received(facts, supports).tolist() == [True, False, True, False, False]


def test_access_is_matched_by_student_year_and_type():
    facts = pd.DataFrame({"student_id": ["a", "a", "b"], "school_year": [2025, 2026, 2025]})
    chances = pd.DataFrame({"student_id": ["a", "b"], "opportunity_type": ["level4_work", "leadership"],
                            "school_year": [2025, 2025]})
    assert needs.access_received(facts, chances).tolist() == [True, False, False]


def test_student_summary_flags_any_domain_and_keeps_unknowns():
    facts = pd.DataFrame({
        "student_id": ["a", "a", "b", "b", "c"], "domain": ["m", "e"] * 2 + ["m"],
        "school_year": 2025, "school_id": "s1", "grade_level": 3,
        "pace": [0.5, 1.5, 1.2, np.nan, np.nan], "levels_behind": [2.5, 0.0, -0.2, 0.1, 0.0],
        "below_pace": pd.array([True, False, False, None, None], dtype="boolean"),
        "two_plus_behind": pd.array([True, False, False, False, False], dtype="boolean"),
        "on_track_to_graduate": pd.array([False, True, True, None, None], dtype="boolean"),
        "supported": [False, False, False, False, False], "accelerated": [False, False, True, True, False],
    })
    facts["flagged"] = facts["below_pace"] | facts["two_plus_behind"]
    facts["in_need"] = facts["two_plus_behind"]
    students = pd.DataFrame({"student_id": ["a", "b", "c"],
                             "english_learner": pd.array([True, None, False], dtype="boolean")})
    # c has no readiness this year; a readiness of an earlier year does not count
    readiness = pd.DataFrame({"student_id": ["a", "b", "c"], "school_year": [2025, 2025, 2024],
                              "ready": pd.array([True, True, True], dtype="boolean")})
    summary = needs.student_summary(facts, students, readiness=readiness).set_index("student_id")
    assert summary.loc["a", "pace"] == 1.0 and bool(summary.loc["a", "below_pace"])
    assert bool(summary.loc["a", "unmet_need"])
    assert not bool(summary.loc["b", "flagged"]) and pd.isna(summary.loc["b", "unmet_need"])
    assert pd.isna(summary.loc["c", "flagged"])  # no pace and not behind: unknown, not "fine"
    assert bool(summary.loc["a", "talent_without_access"])  # ready, no access
    assert not bool(summary.loc["b", "talent_without_access"])  # ready, accelerated
    assert pd.isna(summary.loc["c", "at_or_above_grade"]) and pd.isna(summary.loc["c", "talent_without_access"])
    assert summary.loc["b", "english_learner"] == "Unknown"
    # without a readiness the audit does not guess another definition of ready: unknown for all
    unknown = needs.student_summary(facts, students)
    assert unknown["at_or_above_grade"].isna().all() and unknown["talent_without_access"].isna().all()


def _district_where_ready_definitions_disagree(folder):
    """Four grade-5 students in school year 2025, levels on 1 September and 1 June in two domains.

    On 1 September a grade-5 student is expected at about 5.06, on 1 June at about 5.95:

    - ``ahead_in_one``: 4.6 in both domains when the year began, 6.2 in math by June (at grade
      in one domain at the latest level, behind on average at the start);
    - ``ahead_on_average``: 5.7 and 4.9 when the year began (ahead on average), 5.8 and 5.7 by
      June (behind in both at the latest level);
    - ``ready_both``: 5.5 then 6.5 in both (ready by either reading), accelerated that year;
    - ``behind_both``: 4.0 then 4.5 in both.

    Each has a level half way between on 15 January too.
    """
    ids = ["ahead_in_one", "ahead_on_average", "ready_both", "behind_both"]
    start = {"ahead_in_one": (4.6, 4.6), "ahead_on_average": (5.7, 4.9), "ready_both": (5.5, 5.5),
             "behind_both": (4.0, 4.0)}
    latest = {"ahead_in_one": (6.2, 5.0), "ahead_on_average": (5.8, 5.7), "ready_both": (6.5, 6.5),
              "behind_both": (4.5, 4.5)}
    # a level half way between on 15 January too, so that each domain has a pace with a standard error
    middle = {sid: tuple((a + b) / 2 for a, b in zip(start[sid], latest[sid])) for sid in ids}
    rows = [(sid, domain, date, levels[sid][i])
            for date, levels in (("2024-09-01", start), ("2025-01-15", middle), ("2025-06-01", latest))
            for sid in ids for i, domain in enumerate(("math", "ela"))]
    pd.DataFrame(rows, columns=["student_id", "domain", "as_of", "performance_level"]).to_csv(
        folder / "levels.csv", index=False)
    pd.DataFrame({"student_id": ids, "birth_date": "2014-03-01", "race_ethnicity": "White", "gender": "Female",
                  "english_learner": "N", "disability": "N", "low_income": "N"}).to_csv(folder / "students.csv",
                                                                                         index=False)
    pd.DataFrame({"student_id": ids, "school_year": 2025, "school_id": "s1", "grade_level": 5,
                  "entry_date": "2024-08-20", "exit_date": "2025-06-12"}).to_csv(folder / "enrollments.csv",
                                                                                 index=False)
    pd.DataFrame({"student_id": ["ready_both"], "opportunity_type": ["acceleration"], "school_year": [2025]}).to_csv(
        folder / "opportunities.csv", index=False)
    return ea.load_district(folder)


def test_talent_without_access_follows_the_start_of_year_readiness(tmp_path):
    """Issue 15: one definition of ready, the Level-4 comparison's, where the old one disagrees."""

    district = _district_where_ready_definitions_disagree(tmp_path)
    facts = needs.domain_facts(district)
    # the two readings disagree on two of the four students
    latest_any = (facts["levels_behind"] <= 0).groupby(facts["student_id"]).any()
    assert latest_any.to_dict() == {"ahead_in_one": True, "ahead_on_average": False, "behind_both": False,
                                    "ready_both": True}
    readiness = patterns.district_readiness(district)
    summary = needs.student_summary(facts, district["students"], readiness=readiness).set_index("student_id")
    assert summary["at_or_above_grade"].to_dict() == {"ahead_in_one": False, "ahead_on_average": True,
                                                      "behind_both": False, "ready_both": True}
    talent = summary["talent_without_access"]
    assert bool(talent["ahead_on_average"]) and not bool(talent["ready_both"])
    assert talent[["ahead_in_one", "behind_both"]].isna().all()
    # the same students count as ready in the Level-4 access comparison
    access = patterns.with_district_readiness(patterns.student_year_facts(district), district)
    assert access.set_index("student_id")["ready"].to_dict() == summary["at_or_above_grade"].to_dict()


def test_quadrant_counts_band_edges():
    summary = pd.DataFrame({"pace": [0.4, 0.5, 1.0, 1.5, np.nan], "levels_behind": [2.0, 1.99, -1.0, -1.01, 3.0]})
    counts = needs.quadrant_counts(summary)
    assert counts.loc["2+ levels behind", "under 0.5"] == 1
    assert counts.loc["1 to 2 behind", "0.5 to 1.0"] == 1
    assert counts.loc["within a level", "1.0 to 1.5"] == 1
    assert counts.loc["1+ levels ahead", "1.5 and over"] == 1
    assert counts.values.sum() == 4


@pytest.fixture(scope="module")
def bundled():
    district = ea.load_district("data/synthetic")
    # The bundled generator grows students linearly in calendar time (summers included), so
    # its planted truths are stated on the calendar basis; the audit's default is the school year.
    facts = needs.domain_facts(district, ea.Config(year_basis="calendar"))
    return district, facts, needs.student_summary(facts, district["students"], overview.school_names(district),
                                                  readiness=patterns.district_readiness(district))


def planted(name):
    manifest = json.load(open("data/synthetic/manifest.json"))
    return next(p for p in manifest["planted"] if p["name"] == name)


def test_planted_slow_pace_subgroup_is_found(bundled):
    _, _, summary = bundled
    effect = planted("slow_pace_subgroup")
    column, value = next(iter(effect["group"].items()))
    row = disaggregate(summary, "pace", by=column).set_index(column).loc["Yes" if value == "Y" else value]
    assert bool(row["flagged"]) and row["difference"] == pytest.approx(effect["effect"], abs=0.1)


def test_planted_hidden_intersection_is_found_only_crossed(bundled):
    district, _, summary = bundled
    single = disaggregate_each(summary, "pace", ["low_income", "disability"])
    assert single.loc[single["group"] == "Yes", "difference"].abs().max() < 0.1
    crossed = disaggregate(summary, "pace", by=["low_income", "disability"])
    cell = crossed[(crossed["low_income"] == "Yes") & (crossed["disability"] == "Yes")].iloc[0]
    assert bool(cell["flagged"]) and cell["interaction"] < -0.3
    scan = scan_intersections(summary, "pace", subgroup_columns(district["students"]))
    top = scan.iloc[0]
    assert top["intersection"] == "disability: Yes × low income: Yes" and bool(top["beyond_main_effects"])


def test_planted_school_without_supports_is_found(bundled):
    district, _, summary = bundled
    school = overview.school_names(district)[planted("unmet_need_school")["where"]["school_id"]]
    table = disaggregate(summary, "unmet_need", by="school").set_index("school")
    assert bool(table.loc[school, "flagged"]) and table.loc[school, "difference"] > 0
    assert table["flagged"].sum() == 1


def test_null_district_flags_at_most_five_percent(tmp_path):
    write_district(tmp_path, students=3000, seed=5, null=True)
    district = ea.load_district(tmp_path)
    summary = needs.student_summary(needs.domain_facts(district), district["students"],
                                    readiness=patterns.district_readiness(district))
    assert summary["talent_without_access"].notna().sum() > 150  # the measure has students to compare
    columns = subgroup_columns(district["students"])
    flagged = compared = 0
    for metric in ("pace", "below_pace", "two_plus_behind", "unmet_need", "talent_without_access"):
        for table in (disaggregate_each(summary, metric, columns),
                      disaggregate(summary, metric, by=["school_id"]),
                      disaggregate(summary, metric, by=["race_ethnicity", "low_income"]),
                      disaggregate(summary, metric, by=["english_learner", "disability", "low_income"])):
            eligible = ~table["suppressed"] & table["pvalue"].notna()
            flagged += int(table.loc[eligible, "flagged"].sum())
            compared += int(eligible.sum())
    assert compared > 150
    assert flagged / compared <= 0.05
    scans = [scan_intersections(summary, metric, columns) for metric in ("pace", "below_pace", "unmet_need")]
    beyond = sum(int(scan["beyond_main_effects"].sum()) for scan in scans)
    assert beyond / sum(int((~scan["suppressed"]).sum()) for scan in scans) <= 0.05


def test_pace_from_evidence_when_no_levels_are_provided(tmp_path):
    write_district(tmp_path, students=2000, seed=3)
    (tmp_path / "levels.csv").unlink()
    district = ea.load_district(tmp_path)
    facts = needs.domain_facts(district)
    assert set(facts["domain"]) == {"math", "ela"}
    assert facts["pace"].notna().mean() > 0.5
    assert facts["current_level"].between(-1, 16).all()
    # the planted slower pace of English learners shows through evidence-derived levels too
    summary = needs.student_summary(facts, district["students"], readiness=patterns.district_readiness(district))
    # readiness is judged on the same evidence-derived levels: known for most students
    assert summary["at_or_above_grade"].notna().mean() > 0.5 and summary["at_or_above_grade"].any()
    english_learners = disaggregate(summary, "pace", by="english_learner").set_index("english_learner").loc["Yes"]
    assert bool(english_learners["flagged"]) and english_learners["difference"] < -0.15


def _unmet_summary(folder, seed, **kind):
    write_district(folder, students=1800, seed=seed, fmt="parquet", **kind)
    district = ea.load_district(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    summary = needs.student_summary(needs.domain_facts(district), district["students"],
                                    readiness=patterns.district_readiness(district))
    return summary, district, manifest


@pytest.mark.parametrize("seed", [30004, 30006])
def test_school_that_rarely_supports_students_in_need_is_found(tmp_path, seed):
    """Realistic planted districts where "need" as below pace or behind missed the school (issue 12)."""
    summary, _, manifest = _unmet_summary(tmp_path, seed, realistic=True)
    school = next(p for p in manifest["planted"] if p["name"] == "unmet_need_school")["where"]["school_id"]
    # in need means 2+ levels behind, and the measure is one minus the support rate among them
    in_need = summary["in_need"].fillna(False).astype(bool)
    assert summary.loc[~in_need, "unmet_need"].isna().all() and summary.loc[in_need, "unmet_need"].notna().all()
    table = disaggregate(summary, "unmet_need", by=["school_id"], strata="need_band").set_index("school_id")
    assert bool(table.loc[school, "flagged"]) and table.loc[school, "difference"] > 0.2
    assert int(table["flagged"].sum()) == 1


@pytest.mark.parametrize("seed", [20000, 20001])
def test_realistic_null_unmet_need_flags_no_school_or_group(tmp_path, seed):
    """Real additive gaps in need are not unmet need: support rates among students in need are equal."""
    summary, district, _ = _unmet_summary(tmp_path, seed, null="realistic")
    schools = disaggregate(summary, "unmet_need", by=["school_id"], strata="need_band")
    groups = disaggregate_each(summary, "unmet_need", subgroup_columns(district["students"]), strata="need_band")
    assert int(schools["flagged"].sum()) == 0 and int(groups["flagged"].sum()) == 0
    assert summary["unmet_need"].astype(float).mean() < 0.5  # most students 2+ behind are supported


def _words(text: str) -> str:
    """Text with its line breaks and runs of spaces as single spaces, lower case."""
    return " ".join(text.split()).lower()


@pytest.mark.parametrize("notebook", ["01_unmet_need", "02_patterns", "04_strategies"])
def test_every_notebook_states_the_one_definition_of_ready(notebook):
    """Issue 15: the unmet-need and patterns sections and the methods appendix say the same sentence."""
    import nbformat

    from equity_audit.data.dictionary import READY_DEFINITION

    cells = nbformat.read(f"notebooks/{notebook}.ipynb", as_version=4).cells
    text = _words(" ".join(cell.source for cell in cells if cell.cell_type == "markdown"))
    assert _words(READY_DEFINITION) in text
    assert "grade level in some domain" not in text and "at or above grade level in a domain" not in text


def test_the_workbook_readme_and_missing_analysis_say_the_same_readiness():
    from equity_audit.data.dictionary import READY_DEFINITION
    from equity_audit.data.requirements import analysis
    from equity_audit.publish.render import TABLE_DESCRIPTIONS

    assert TABLE_DESCRIPTIONS["talent_without_access_by_subgroup"].endswith(READY_DEFINITION)
    assert _words(READY_DEFINITION) in _words(open("README.md").read())
    assert "when the school year began" in analysis("talent").shows
