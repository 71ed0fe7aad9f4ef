"""Unmet need and unidentified talent, on hand-made rows and on planted and null districts."""
import json

import numpy as np
import pandas as pd
import pytest

import equity_audit as ea
from equity_audit.questions import needs, overview
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
    facts["at_or_above_grade"] = pd.array(facts["levels_behind"] <= 0, dtype="boolean")
    students = pd.DataFrame({"student_id": ["a", "b", "c"],
                             "english_learner": pd.array([True, None, False], dtype="boolean")})
    summary = needs.student_summary(facts, students).set_index("student_id")
    assert summary.loc["a", "pace"] == 1.0 and bool(summary.loc["a", "below_pace"])
    assert bool(summary.loc["a", "unmet_need"])
    assert not bool(summary.loc["b", "flagged"]) and pd.isna(summary.loc["b", "unmet_need"])
    assert pd.isna(summary.loc["c", "flagged"])  # no pace and not behind: unknown, not "fine"
    assert bool(summary.loc["a", "talent_without_access"])  # at grade in e, no access
    assert not bool(summary.loc["b", "talent_without_access"])
    assert summary.loc["b", "english_learner"] == "Unknown"


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
    return district, facts, needs.student_summary(facts, district["students"], overview.school_names(district))


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
    summary = needs.student_summary(needs.domain_facts(district), district["students"])
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
    summary = needs.student_summary(facts, district["students"])
    english_learners = disaggregate(summary, "pace", by="english_learner").set_index("english_learner").loc["Yes"]
    assert bool(english_learners["flagged"]) and english_learners["difference"] < -0.15


def _unmet_summary(folder, seed, **kind):
    write_district(folder, students=1800, seed=seed, fmt="parquet", **kind)
    district = ea.load_district(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    return needs.student_summary(needs.domain_facts(district), district["students"]), district, manifest


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
