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
