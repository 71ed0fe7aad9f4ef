"""One finding record: every flag of every table becomes a finding, in the right direction.

Tables are made by the package's own methods on simulated students whose truth the
test sets (seeded numpy): one group fares worse, one better, and a null where
nothing should be flagged.
"""
from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

from equity_audit.disaggregate import disaggregate_each, publishable
from equity_audit.exceptions import EquityAuditError
from equity_audit.publish import findings as F
from equity_audit.publish.narrative import finding_sentence
from equity_audit.questions import strategies


def simulated(seed: int, *, effect: float) -> pd.DataFrame:
    """Students in groups g1..g4 of attribute ``cohort``; g1 is ``effect`` behind, g2 ``effect`` ahead."""
    rng = np.random.default_rng(seed)
    n = 2000
    cohort = rng.choice(["g1", "g2", "g3", "g4"], size=n)
    shift = np.where(cohort == "g1", -effect, np.where(cohort == "g2", effect, 0.0))
    return pd.DataFrame({"cohort": cohort, "pace": 1.0 + shift + rng.normal(0, 0.3, n),
                         "suspended": (rng.random(n) < 0.1 - shift / 5).astype(int)})


def run_folder(tmp_path, students: pd.DataFrame):
    (tmp_path / "tables").mkdir(parents=True)
    (tmp_path / "confidential").mkdir()
    for name, metric in (("pace_by_subgroup", "pace"), ("exclusion_by_subgroup", "suspended")):
        table = publishable(disaggregate_each(students, metric, ["cohort"]))
        table.to_csv(tmp_path / "tables" / f"{name}.csv", index=False)
    return tmp_path


def test_direction_follows_the_polarity_of_the_measure():
    assert F.direction("pace", 0.2) == "better" and F.direction("pace", -0.2) == "worse"
    assert F.direction("oss", 0.2) == "worse" and F.direction("oss", -0.2) == "better"
    assert F.direction("unmet_need", -0.1) == "better" and F.direction("access_level4_work", -0.1) == "worse"
    assert F.direction("climate_belonging", 0.3) == "better"
    assert F.direction("pace", 0.0) == F.direction("pace", float("nan")) == "neutral"
    assert F.direction("high_grade_low_evidence", 0.3) == "neutral"
    assert all(polarity in (-1, 0, 1) for polarity in F.POLARITY.values())
    with pytest.raises(EquityAuditError, match="no polarity"):
        F.direction("a_measure_nobody_defined", 1.0)


def test_worse_and_better_groups_are_both_findings(tmp_path):
    run = run_folder(tmp_path, simulated(1, effect=0.3))
    found = F.build_findings(run)["published"]
    pace = {f.groups[0]: f for f in found if f.source == "pace_by_subgroup"}
    assert pace["g1"].direction == "worse" and "they fare worse" in pace["g1"].statement
    assert pace["g2"].direction == "better" and "they fare better" in pace["g2"].statement
    assert pace["g1"].difference < -0.2 and pace["g2"].difference > 0.2
    suspension = {f.groups[0]: f for f in found if f.source == "exclusion_by_subgroup"}
    # g1 is suspended more: higher is worse for this measure
    assert suspension["g1"].direction == "worse" and suspension["g1"].difference > 0
    assert suspension["g1"].students_affected == pytest.approx(suspension["g1"].estimate * suspension["g1"].n,
                                                               abs=0.5)
    assert {f.question for f in found} == {1, 2}
    assert all(f.unit == "district" and f.subgroups == ["cohort"] for f in found)


def test_null_districts_rarely_have_findings(tmp_path):
    """Flags keep a 5% false discovery rate: on nulls, findings are the exception (chance, not the records)."""
    with_findings = 0
    for seed in range(10):
        run = run_folder(tmp_path / str(seed), simulated(100 + seed, effect=0.0))
        found = F.build_findings(run)
        assert found["confidential"] == []
        with_findings += bool(found["published"])
    assert with_findings <= 2


def test_every_flagged_row_becomes_a_finding_and_withheld_rows_never_do(tmp_path):
    run = run_folder(tmp_path, simulated(3, effect=0.3))
    path = run / "tables" / "pace_by_subgroup.csv"
    table = pd.read_csv(path)
    table.loc[0, ["flagged", "suppressed"]] = [True, True]  # a withheld row, even flagged, stays out
    table.to_csv(path, index=False)
    expected = sum(int((t["flagged"] & ~t["suppressed"]).sum()) for t in
                   (pd.read_csv(run / "tables" / f"{n}.csv") for n in ("pace_by_subgroup", "exclusion_by_subgroup")))
    found = F.build_findings(run)["published"]
    assert len(found) == expected > 0
    assert len({f.id for f in found}) == len(found)


def test_written_documents_meet_the_schema_and_keep_teachers_confidential(tmp_path):
    run = run_folder(tmp_path, simulated(4, effect=0.3))
    rng = np.random.default_rng(4)
    teachers = [f"T{i:03d}" for i in range(8)]
    deviation = rng.normal(0, 0.05, len(teachers))
    deviation[3] = -0.8  # one harsh scorer
    pd.DataFrame({"scorer_id": teachers, "works": 30, "mean_deviation": deviation, "sd": 0.4,
                  "low": deviation - 0.15, "high": deviation + 0.15, "harsh": deviation < -0.5,
                  "lenient": deviation > 0.5, "qwk": 0.8, "low_qwk": False}).to_csv(
        run / "confidential" / "scorer_severity.csv", index=False)
    published = F.write_findings(run, cover={"district_name": "Simulated", "settings": {"x": float("nan")}},
                                 with_tables=True)
    documents = [json.loads(published.read_text()), json.loads((run / "confidential" / "findings.json").read_text())]
    for document in documents:
        jsonschema.validate(document, F.schema())
        assert document["schema_version"] == F.SCHEMA_VERSION
    public, confidential = documents
    assert [f["unit_id"] for f in confidential["findings"]] == ["T003"]
    assert confidential["findings"][0]["direction"] == "worse" and confidential["findings"][0]["kind"] == "severity"
    assert "T003" not in published.read_text()
    counts = [f for f in public["findings"] if f["kind"] == "count"]
    assert len(counts) == 1 and counts[0]["n"] == 1 and counts[0]["unit"] == "scorer"
    assert set(public["tables"]) == {"pace_by_subgroup", "exclusion_by_subgroup"}
    # the schema can fail: a finding without a direction is refused
    broken = json.loads(published.read_text())
    del broken["findings"][0]["direction"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, F.schema())


def test_uncovered_names_a_flagged_table_missing_from_the_registry(tmp_path):
    run = run_folder(tmp_path, simulated(5, effect=0.0))
    assert F.uncovered(run) == []
    pd.DataFrame({"group": ["a"], "closer_look": [True]}).to_csv(run / "confidential" / "new_scan.csv", index=False)
    pd.DataFrame({"group": ["a"], "flagged": [False]}).to_csv(run / "tables" / "new_table.csv", index=False)
    pd.DataFrame({"group": ["a"], "n": [3]}).to_csv(run / "tables" / "no_flags.csv", index=False)
    assert F.uncovered(run) == ["new_table", "confidential/new_scan"]


def test_every_registry_entry_has_a_known_measure_section_and_layout():
    for name, source in F.REGISTRY.items():
        assert source.table == name
        assert F._base_key(source.measure) in F.MEASURES, name
        assert source.section in F.QUESTIONS and source.layout in F._CONVERTERS, name
        assert source.unit in ("district", "school", "plc", "teacher", "scorer")
        # confidential: results about teachers and scorers, intersections withheld to protect smaller ones,
        # and a PLC's scans against its school's other PLCs or by group (for a conversation with the PLC)
        assert source.confidential == (source.unit in ("teacher", "scorer") or name.endswith("_withheld")
                                       or name.startswith("plc_scan_")), name


def test_finding_sentence_says_worse_or_better_plainly():
    common = dict(subject="group A", measure="average pace (levels a year)", percent=False, n=50,
                  estimate=0.7, comparator="all other students", comparator_estimate=1.0, interval=[0.6, 0.8])
    worse = finding_sentence(difference=-0.3, direction="worse", **common)
    better = finding_sentence(difference=0.3, direction="better", **{**common, "estimate": 1.3})
    assert "they fare worse" in worse and "Worth asking why" in worse
    assert "they fare better" in better and "strength" in better and "Worth asking why" not in better
    gap = finding_sentence(difference=0.12, direction="worse", unit_name="School X", interval_of="difference",
                           **{**common, "percent": True, "estimate": 0.2, "comparator_estimate": 0.08,
                              "interval": [0.05, 0.19]})
    assert gap.startswith("School X: average pace (levels a year) of group A is 20%")
    assert "difference +12 points, 95% interval +5 to +19" in gap


def test_strategies_rank_findings_json_and_keep_strengths_apart(tmp_path):
    run = run_folder(tmp_path, simulated(6, effect=0.3))
    F.write_findings(run)
    found = strategies.gather_findings(run)
    assert set(found["direction"]) == {"worse", "better"}
    plan = strategies.action_plan(found)
    # every finding reaches the plan; strengths are listed last, as strengths
    assert set(plan["finding_ids"].str.split("; ").explode()) == set(found["id"])
    strong = plan["reads"] == "strength"
    assert strong.sum() == (found["direction"] == "better").sum() > 0 and strong.iloc[-strong.sum():].all()
    assert not plan.loc[~strong, "finding"].str.contains("fare better").any()
    assert len(strategies.strengths(found)) == (found["direction"] == "better").sum() > 0


# --- a whole run: nothing flagged is lost -----------------------------------------------------------

_LAYOUT_FLAG = {"by_group": "flagged", "by_unit": "flagged", "intersection": "beyond_main_effects",
                "unit_gap": "closer_look", "funnel": "closer_look", "scorer_gap": "closer_look"}


@pytest.mark.slow
def test_every_flag_of_a_run_reaches_the_findings(demo_run):
    assert F.uncovered(demo_run) == [], "a table with a flag column has no REGISTRY entry"
    found = F.build_findings(demo_run)
    by_source = pd.Series([f.source for f in found["published"] + found["confidential"] if f.kind != "count"])
    for name, source in F.REGISTRY.items():
        path = demo_run / ("confidential" if source.confidential else "tables") / f"{name}.csv"
        if source.layout not in _LAYOUT_FLAG or not path.exists():
            continue
        table = pd.read_csv(path)
        flagged = table[_LAYOUT_FLAG[source.layout]].astype(bool)
        if "suppressed" in table:
            flagged &= ~table["suppressed"].astype(bool)
        assert (by_source == name).sum() == flagged.sum(), name
    for document in (demo_run / "findings.json", demo_run / "confidential" / "findings.json"):
        jsonschema.validate(json.loads(document.read_text()), F.schema())
    assert all(not f["confidential"] for f in F.read_findings(demo_run))


def test_workbook_findings_sheet_lists_every_published_finding(tmp_path):
    from equity_audit.publish.render import write_workbook

    run = run_folder(tmp_path, simulated(7, effect=0.3))
    F.write_findings(run)
    sheets = pd.read_excel(write_workbook(run), sheet_name=None)
    assert list(sheets)[:3] == ["README", "Contents", "Findings"]
    records = F.read_findings(run)
    assert sheets["Findings"]["statement"].tolist() == [r["statement"] for r in records]
    assert set(sheets["Findings"]["direction"]) == {"worse", "better"}


def test_schema_ships_inside_the_package():
    from importlib.resources import files

    shipped = json.loads(files("equity_audit.publish").joinpath("findings.schema.json").read_text())
    assert shipped == F.schema()
    jsonschema.Draft202012Validator.check_schema(shipped)


def test_section_findings_tables_say_which_way_the_group_fares():
    from equity_audit.publish import narrative

    table = disaggregate_each(simulated(8, effect=0.3), "pace", ["cohort"])
    found = narrative.findings(table, section="unmet need", measure="average pace (levels a year)", percent=False)
    by_group = found.set_index("group")["statement"]
    assert by_group["g1"].endswith("they fare worse. Worth asking why.")
    assert "they fare better" in by_group["g2"]
    unmet = narrative.findings(table.assign(statistic="rate"), section="unmet need", measure="unmet need",
                               percent=False)  # higher unmet need is worse: the pace-ahead group reads as worse
    assert "they fare worse" in unmet.set_index("group")["statement"]["g2"]


def test_a_registered_table_missing_a_column_is_named_in_a_plain_error(tmp_path):
    run = run_folder(tmp_path, simulated(9, effect=0.3))
    path = run / "tables" / "pace_by_subgroup.csv"
    pd.read_csv(path).drop(columns=["comparator_estimate"]).to_csv(path, index=False)
    with pytest.raises(F.FindingsError, match="pace_by_subgroup has no column 'comparator_estimate'"):
        F.build_findings(run)


def _hidden_intersection(seed: int, effect: float) -> pd.DataFrame:
    """Two yes/no groups; their 41-student intersection grows ``effect`` levels a year slower, and the
    5 students of one group without the other make publishing that intersection give them away."""
    rng = np.random.default_rng(seed)
    sizes = {("Yes", "Yes"): 41, ("Yes", "No"): 5, ("No", "Yes"): 200, ("No", "No"): 1000}
    rows = [(a, b) for (a, b), k in sizes.items() for _ in range(k)]
    data = pd.DataFrame(rows, columns=["club", "team"])
    data["pace"] = 1.0 - 0.1 * (data["team"] == "Yes") + rng.normal(0, 0.3, len(data))
    data.loc[(data["club"] == "Yes") & (data["team"] == "Yes"), "pace"] -= effect
    return data


def test_a_flagged_intersection_withheld_for_a_smaller_one_reaches_the_team(tmp_path):
    from equity_audit.disaggregate import flagged_but_withheld, scan_intersections

    scan = scan_intersections(_hidden_intersection(1, effect=0.5), "pace", ["club", "team"])
    cell = scan.set_index("intersection").loc["club: Yes × team: Yes"]
    assert cell["suppressed"] and cell["n"] == 41, "withheld to protect the 5-student cell"
    assert np.isnan(cell["estimate"]) and not cell["beyond_main_effects"], "the scan itself shows nothing of it"
    kept = flagged_but_withheld(scan)
    assert kept["intersection"].tolist() == ["club: Yes × team: Yes"], "still tested: the planted difference"
    assert kept["interaction"].iloc[0] < -0.3 and kept["withheld_from_report"].all()
    run = tmp_path
    (run / "tables").mkdir()
    (run / "confidential").mkdir()
    publishable(scan).to_csv(run / "tables" / "pace_intersections.csv", index=False)
    flagged_but_withheld(scan).to_csv(run / "confidential" / "pace_intersections_withheld.csv", index=False)
    found = F.build_findings(run)
    confidential = [f for f in found["confidential"] if f.source == "pace_intersections_withheld"]
    assert [f.groups for f in confidential] == [["Yes", "Yes"]] and confidential[0].direction == "worse"
    counts = [f for f in found["published"] if f.kind == "count"]
    assert len(counts) == 1 and counts[0].n == 1 and "withheld from this report" in counts[0].statement
    assert "club: Yes × team: Yes" not in counts[0].statement
    # no planted difference: nothing is flagged, withheld or not
    null = scan_intersections(_hidden_intersection(2, effect=0.0), "pace", ["club", "team"])
    assert flagged_but_withheld(null).empty


def test_a_flagged_intersection_the_joint_audit_withheld_goes_to_the_confidential_folder(monkeypatch):
    from equity_audit.publish import narrative, release

    scan = pd.DataFrame({"intersection": ["a: Yes × b: Yes", "a: No × b: Yes"], "n": [41, 300],
                         "estimate": [0.6, 1.0], "suppressed": [False, False], "beyond_main_effects": [True, True]})
    assert narrative.withheld_flags(scan).empty, "both shown in the report"
    # the run's audit withheld the first in an earlier pass (recorded by label, n and value)
    monkeypatch.setattr(release, "_AUDITED", {("a: Yes × b: Yes", 41, 0.6): "audit"})
    kept = narrative.withheld_flags(scan)
    assert kept["intersection"].tolist() == ["a: Yes × b: Yes"] and kept["withheld_from_report"].all()


def test_two_groups_holding_nearly_everyone_are_one_comparison_however_the_rest_falls():
    """Female and Male in a block of 289 with 9 other answers (3%): one result seen from both sides.

    The 9 are 6% of each comparator, so a share of one comparator missed the pair; a real
    run of the realistic generator flagged both (issue 12). A third group of 25% is no partner.
    """
    rows = pd.DataFrame({"subgroup": "gender", "group": ["Female", "Male", "Nonbinary"], "n": [134, 146, 70],
                         "comparator_n": [155, 143, 219], "difference": [-0.16, 0.15, 0.1]})
    assert F.near_complements(rows.iloc[:2]).tolist() == ["Male", "Female"]
    wider = rows.assign(comparator_n=[216, 204, 280])  # the 70 others are 20% of everyone
    assert F.near_complements(wider).tolist() == ["", "", ""]


def test_a_teacher_flagged_for_both_sides_of_one_comparison_gives_one_concern(tmp_path):
    """A teacher scan's Female and Male rows of one teacher mirror each other, like district rows."""
    folder = tmp_path / "confidential"
    folder.mkdir()
    scan = pd.DataFrame({
        "subgroup": "gender", "group": ["Female", "Male", "Female"], "teacher_id": ["T1", "T1", "T2"],
        "statistic": "mean", "focus_n": [30, 31, 28], "others_n": [32, 30, 40],
        "focus_estimate": [-0.3, 0.2, -0.25], "others_estimate": [0.2, -0.3, 0.1],
        "difference": [-0.5, 0.5, -0.35], "difference_low": [-0.8, 0.2, -0.6], "difference_high": [-0.2, 0.8, -0.1],
        "qvalue": [0.01, 0.01, 0.03], "suppressed": False, "closer_look": True})
    scan.to_csv(folder / "teacher_scan_grades_against_evidence.csv", index=False)
    found = F.build_findings(tmp_path)["confidential"]
    by = {(f.unit_id, f.groups[0]): f for f in found}
    assert len(by) == 3
    assert by[("T1", "Male")].details["mirror"] and by[("T1", "Male")].details["partner"] == "Female"
    assert not by[("T1", "Female")].details["mirror"] and not by[("T2", "Female")].details["mirror"]
    assert "other side" in by[("T1", "Male")].statement.lower()
