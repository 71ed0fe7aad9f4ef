import pandas as pd

from equity_audit.questions import strategies


def findings(*rows):
    return pd.DataFrame(rows, columns=["section", "measure", "subgroup", "group", "students_affected", "qvalue",
                                       "difference", "statement"])


def test_findings_map_to_framework_areas_by_their_measure():
    plan = strategies.action_plan(findings(
        ("patterns", "the out-of-school suspension rate", "race_ethnicity", "Black", 30, 0.001, 0.11, "a"),
        ("unmet need", "average pace (levels a year)", "english_learner", "Yes", 186, 0.0, -0.37, "b"),
        ("patterns", "access to Level-4 work", "disability", "Yes", 40, 0.01, -0.1, "c"),
        ("what prevents equality", "scoring severity in calibration", "", "", None, None, None, "d"),
        ("other", "something new", "", "", 5, 0.02, 0.2, "e"),
    )).set_index("finding")
    assert plan.loc["a", "area"].startswith("1. Culture")
    assert plan.loc["b", "area"].startswith("8. Progress") and "language acquisition" in plan.loc["b", "strategy"]
    assert plan.loc["c", "area"].startswith("7. Consistency") and plan.loc["c", "kind"] == "systemic"
    assert plan.loc["d", "area"].startswith("7. Consistency")
    assert plan.loc["e", "area"].startswith("6. Responsiveness")


def test_ranking_by_students_then_certainty_then_size():
    plan = strategies.action_plan(findings(
        ("s", "unmet need", "", "", 10, 0.01, 0.1, "small"),
        ("s", "unmet need", "", "", 50, 0.04, 0.1, "large but less certain"),
        ("s", "unmet need", "", "", 50, 0.001, 0.1, "large and certain"),
    ))
    assert plan["finding"].tolist() == ["large and certain", "large but less certain", "small"]
    assert plan["priority"].tolist() == [1, 2, 3]


def test_area_counts_list_every_area():
    counts = strategies.area_counts(strategies.action_plan(findings(
        ("s", "unmet need", "", "", 10, 0.01, 0.1, "x"))))
    assert len(counts) == 8 and counts["findings"].sum() == 1
    assert strategies.action_plan(pd.DataFrame()).empty


def record(statement, *, direction="worse", mirror=False, actionable=True, affected=10, group="g", source="t"):
    return {"id": f"{source}-{statement}", "source": source, "section": "unmet_need", "measure": "pace",
            "measure_label": "average pace (levels a year)",
            "analysis": "pace", "subgroups": ["cohort"], "groups": [group], "n": 50, "qvalue": 0.01,
            "difference": -0.3, "students_affected": affected, "direction": direction, "kind": "gap",
            "statement": statement, "details": {"mirror": mirror, "actionable": actionable}}


def test_a_count_of_confidential_results_follows_the_concerns_it_cannot_be_ranked_among():
    count = {**record("3 teachers warrant a closer look", affected=None, direction="neutral"), "kind": "count"}
    plan = strategies.action_plan(strategies.findings_table(
        [count, record("big", affected=90), record("tiny", actionable=False, affected=70)]))
    assert plan["finding"].tolist() == ["big", "3 teachers warrant a closer look", "tiny"]
    assert plan["reads"].tolist() == ["concern", strategies.CONFIDENTIAL_READS, "small difference"]


def test_two_groups_that_are_almost_everyone_make_one_priority_listed_under_the_concern():
    from equity_audit.publish import findings as F

    rows = pd.DataFrame({"subgroup": "gender", "group": ["Female", "Male", "Nonbinary"], "statistic": "mean",
                         "n": [480, 500, 20], "comparator_n": [520, 500, 980], "estimate": [0.8, 1.0, 0.6],
                         "comparator_estimate": [1.0, 0.8, 0.9], "difference": [-0.2, 0.2, -0.3],
                         "low": [0.7, 0.9, 0.4], "high": [0.9, 1.1, 0.8], "qvalue": 0.001, "flagged": True})
    found = F._by_group(F.REGISTRY["pace_by_subgroup"], rows)
    assert [f.details.get("mirror", False) for f in found] == [False, True, False]
    assert "The other side of the result for" in found[1].statement
    table = strategies.findings_table([{**f.__dict__, "details": f.details} for f in found])
    plan = strategies.action_plan(table)
    assert len(plan) == 2  # the Male row is listed with the Female row, not with the Nonbinary row
    female = plan[plan["finding_ids"].str.contains(found[0].id)].iloc[0]
    assert female["finding_ids"] == f"{found[0].id}; {found[1].id}"


def test_plan_lists_every_finding_concerns_first_then_small_differences_then_strengths():
    table = strategies.findings_table([record("kept", affected=5), record("strength", direction="better", affected=90),
                                       record("mirror", mirror=True, group="No", affected=80),
                                       record("tiny", actionable=False, affected=70),
                                       record("neutral", direction="neutral", affected=8),
                                       record("Yes row", group="Yes", affected=1)])
    assert len(table) == 6
    plan = strategies.action_plan(table)
    # concerns by students affected, then the small difference, then the strength: nothing left out
    assert plan["finding"].tolist() == ["neutral", "kept", "Yes row", "tiny", "strength"]
    assert plan["reads"].tolist() == ["concern"] * 3 + ["small difference", "strength"]
    assert plan["priority"].tolist() == [1, 2, 3, 4, 5]
    # the "No" row that mirrors a "Yes" row is listed under that row's priority
    assert plan.set_index("finding").loc["Yes row", "finding_ids"] == "t-Yes row; t-mirror"
    listed = {i for ids in plan["finding_ids"] for i in ids.split("; ")}
    assert listed == set(table["id"])
    assert plan.loc[0, "area"].startswith("8. Progress")
    assert plan.set_index("finding").loc["strength", "question"] == strategies.STRENGTH_QUESTION
    assert strategies.strengths(table)["statement"].tolist() == ["strength"]


def test_a_mirror_without_its_yes_row_stays_a_priority_of_its_own():
    plan = strategies.action_plan(strategies.findings_table(
        [record("mirror", mirror=True, group="No", source="a"), record("other table", source="b")]))
    assert sorted(plan["finding_ids"]) == ["a-mirror", "b-other table"]


def test_gather_findings_prefers_findings_json(tmp_path):
    import json

    (tmp_path / "tables").mkdir()
    pd.DataFrame({"section": ["s"], "measure": ["unmet need"], "statement": ["from csv"]}).to_csv(
        tmp_path / "tables" / "findings_old.csv", index=False)
    assert strategies.gather_findings(tmp_path)["statement"].tolist() == ["from csv"]
    (tmp_path / "findings.json").write_text(json.dumps({"findings": [record("from json")]}))
    assert strategies.gather_findings(tmp_path)["statement"].tolist() == ["from json"]


def test_a_difference_whose_side_is_withheld_follows_the_concerns_whose_side_is_known():
    # its "students affected" assumes a side (847 White students without acceleration, say): not ranked by it
    unshown = {**record("side withheld", direction="neutral", affected=847), "difference": None}
    plan = strategies.action_plan(strategies.findings_table(
        [unshown, record("known", affected=40), record("strength", direction="better", affected=900),
         {**record("3 teachers", affected=None, direction="neutral"), "kind": "count"}]))
    assert plan["finding"].tolist() == ["known", "side withheld", "3 teachers", "strength"]
    assert plan["reads"].tolist() == ["concern", "side not shown", strategies.CONFIDENTIAL_READS, "strength"]
