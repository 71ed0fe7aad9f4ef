"""One false-discovery family for the whole audit (issue 12): weighted BH over every table's tests."""
import json

import numpy as np
import pandas as pd
import pytest

from equity_audit.publish import audit_wide

#: Benjamini & Hochberg (1995), section 4: fifteen p-values; at q = 0.05 the procedure rejects the four smallest.
BH_1995 = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
                    0.4262, 0.5719, 0.6528, 0.7590, 1.0000])


@pytest.fixture(autouse=True)
def _forget():
    audit_wide._REMEMBERED.clear()
    yield
    audit_wide._REMEMBERED.clear()


def test_one_table_is_benjamini_hochbergs_own_worked_example():
    assert audit_wide.cut({"t": BH_1995}, 0.05) == 0.0095
    assert audit_wide.cut({"t": np.array([0.2, 0.6])}, 0.05) == 0.0
    assert audit_wide.cut({}, 0.05) == 0.0


def test_every_table_gets_an_equal_share_and_the_weights_average_one():
    tested = {"schools": np.full(3, 0.5), "teachers": np.full(300, 0.5), "none": np.array([]),
              "groups": np.full(21, 0.5)}
    weights = audit_wide.weights(tested)
    assert "none" not in weights
    per_test = np.concatenate([np.full(len(tested[name]), w) for name, w in weights.items()])
    assert per_test.mean() == pytest.approx(1.0)
    assert [weights[name] * len(tested[name]) for name in weights] == pytest.approx([108.0] * 3)


def test_a_small_tables_test_survives_where_a_big_tables_equal_p_value_does_not():
    """Weighted BH: p = 0.004 passes in a scan of 4 schools, not among 400 teachers' tests."""
    tested = {"schools": np.array([0.004, 0.6, 0.7, 0.8]), "teachers": np.r_[0.004, np.full(399, 0.9)]}
    cut = audit_wide.cut(tested, 0.05)
    weights = audit_wide.weights(tested)  # schools 202/4 = 50.5, teachers 202/400 = 0.505
    assert 0.004 / weights["schools"] <= cut < 0.004 / weights["teachers"]


def _run(tmp_path, tables: dict[str, pd.DataFrame], confidential: dict[str, pd.DataFrame] = ()):
    (tmp_path / "tables").mkdir()
    (tmp_path / "confidential").mkdir()
    for name, table in tables.items():
        table.to_csv(tmp_path / "tables" / f"{name}.csv", index=False)
    for name, table in dict(confidential).items():
        table.to_csv(tmp_path / "confidential" / f"{name}.csv", index=False)
    return tmp_path


def test_compute_weighs_every_registered_table_and_names_those_that_lose_a_flag(tmp_path):
    """A flag its own table keeps (q < 0.05 among 2 rows) but the audit-wide control does not."""
    groups = pd.DataFrame({"subgroup": "g", "group": ["a", "b"], "n": [50, 50], "pvalue": [0.0001, 0.02],
                           "qvalue": [0.0002, 0.02], "flagged": [True, True], "suppressed": False})
    teachers = pd.DataFrame({"subgroup": "g", "group": "a", "teacher_id": [f"T{i}" for i in range(98)],
                             "pvalue": np.r_[0.9, np.full(97, 0.8)], "closer_look": False, "suppressed": False})
    run = _run(tmp_path, {"pace_by_subgroup": groups}, {"teacher_scan_pace_gaps": teachers})
    lost = audit_wide.compute(run, 0.05)
    written = json.loads((run / "confidential" / audit_wide.CUT_FILE).read_text())
    assert written["weights"] == {"pace_by_subgroup": 25.0, "teacher_scan_pace_gaps": pytest.approx(100 / 2 / 98)}
    # weighted p: 0.0001/25 and 0.02/25 = 0.0008 among 100 tests: BH passes the first (k=1: 0.0005), the second
    # needs 0.0008 <= 2 * 0.05 / 100 = 0.001: passes too
    assert written["cut"] == pytest.approx(0.0008)
    assert lost == set()
    strict = audit_wide.compute(run, 0.01)  # now 0.0008 > 2 * 0.01 / 100
    assert strict == {"pace_by_subgroup"}
    cleared = audit_wide.apply(groups, "pace_by_subgroup")
    assert cleared["flagged"].tolist() == [True, False] and groups["flagged"].tolist() == [True, True]
    assert audit_wide.apply(groups, "a table the control did not weigh") is groups


def test_nothing_changes_before_the_cut_is_known(tmp_path):
    table = pd.DataFrame({"pvalue": [0.04], "flagged": [True]})
    assert audit_wide.remember(tmp_path) is None
    assert audit_wide.apply(table, "pace_by_subgroup") is table


def test_each_flag_column_is_judged_on_its_own_p_value():
    audit_wide._REMEMBERED.update({"cut": 0.01, "weights": {"pace_intersections": 1.0}})
    scan = pd.DataFrame({"pvalue": [0.001, 0.5], "flagged": [True, False],
                         "interaction_pvalue": [0.2, 0.001], "beyond_main_effects": [True, True]})
    cleared = audit_wide.apply(scan, "pace_intersections")
    assert cleared["flagged"].tolist() == [True, False]
    assert cleared["beyond_main_effects"].tolist() == [False, True]
    # a table of intersections withheld for a smaller cell is weighed with its own table
    assert audit_wide.apply(scan, "pace_intersections_withheld")["beyond_main_effects"].tolist() == [False, True]
