"""Tests for equity_audit.disproportionality.

Published examples: the IDC technical assistance guide (Bollmer, Bethel, Munk &
Bitterman 2014, *Methods for Assessing Racial/Ethnic Disproportionality in
Special Education*, revised), as re-implemented with the guide's input tables
pre-filled by the UNC Charlotte DTAT tool (Algozzine, Wang & Wang 2017;
repository unccdtat/unccdtat.github.io, ``index.html`` for the tables and the
stated results, ``examples.js`` for the formulas). Each test names the DTAT
section and the guide pages DTAT cites. Published values are checked at the
precision they were printed with; where a printed value does not follow from
the printed inputs the test says so and checks the exact value instead.

Decision rules: 34 CFR 300.647 as summarised in methods notes section 1.2.
Opportunity indices: hand examples (methods notes section 2).
"""
from __future__ import annotations

import ast
import inspect
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from equity_audit import disproportionality as dp
from equity_audit.disproportionality import (
    ALTERNATE_RISK_RATIO,
    NOT_CALCULATED,
    RISK_RATIO,
    multi_year,
    opportunity_gaps,
    outcome_table,
    risk_ratios,
)
from equity_audit.stats import ratio_interval

# DTAT / IDC group order: Hispanic/Latino, American Indian or Alaska Native,
# Asian, Black or African American, Native Hawaiian or Other Pacific Islander,
# White, Two or more races.
GROUPS = ["HL", "AI", "A", "B", "NH", "W", "2M"]


def table(outcome, base, groups=GROUPS):
    return pd.DataFrame({"group": groups, "outcome": outcome, "base": base})


# DTAT 3.1 / 4.1 / 6.1 / 7.1 / 8.1 / 9.1: intellectual disabilities, district enrolment.
IDENTIFICATION = table([121, 11, 18, 316, 21, 732, 3], [6002, 311, 1213, 6224, 212, 34897, 3175])
# DTAT 5.1 / 6.1 state table. DTAT 5.1 shows 76 for Two or more races but its
# pre-filled total 8210 (used by examples.js) implies 132, the value DTAT 6.1 shows.
IDENTIFICATION_STATE = table([780, 47, 161, 3110, 45, 3935, 132],
                             [69672, 1991, 13934, 73653, 1424, 238875, 15287])
# DTAT 3.2 / 4.2 / 6.2 / 7.2 / 8.2 / 9.2: regular class < 40 % of the day, children with disabilities.
PLACEMENT = table([98, 0, 18, 101, 2, 257, 26], [778, 17, 156, 752, 4, 2520, 146])
PLACEMENT_STATE = table([1092, 31, 168, 1443, 23, 2365, 126],
                        [5789, 190, 1308, 10052, 124, 20886, 1895])
# DTAT 3.3 / 4.3 / 6.3 / 7.3 / 8.3 / 9.3: out-of-school suspension/expulsion <= 10 days.
SUSPENSION = table([0, 1, 1, 6, 0, 22, 2], [603, 22, 221, 889, 9, 4528, 282])
SUSPENSION_STATE = table([7, 2, 2, 55, 1, 95, 14], [7443, 253, 2249, 12757, 162, 27178, 2396])
# DTAT 3.4 / 4.4 / 6.4 / 7.4 / 8.4 / 9.4: total disciplinary removals per child.
REMOVALS = table([4, 0, 3, 42, 1, 65, 1], [904, 14, 225, 1268, 9, 3024, 216])
REMOVALS_STATE = table([45, 8, 25, 135, 11, 228, 33], [7443, 253, 2249, 12757, 162, 27178, 2396])
# The guide computes its examples without minima.
NO_MINIMA = dict(min_cell=0, min_n=0)


def pct(value, digits=2):
    """A proportion as a percentage rounded half up, as the guide and DTAT print them."""
    return float(Decimal(repr(100 * float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


# --------------------------------------------------------------------------- module


def test_public_api_and_messages():
    for name in dp.__all__:
        assert hasattr(dp, name), name
    assert dp.METHODS == ("risk ratio", "alternate risk ratio", "not calculated")
    assert (dp.MIN_CELL, dp.MIN_N, dp.FOUR_FIFTHS) == (10, 30, 0.8)
    messages = [v for k, v in vars(dp).items() if k.startswith(("MSG_", "REASON_"))]
    assert len(messages) >= 10 and all(isinstance(m, str) for m in messages)


def test_signature_is_exact():
    signature = inspect.signature(risk_ratios)
    assert str(signature) == "(district, state=None, *, min_cell=10, min_n=30, threshold=None)"


def test_public_functions_have_numpydoc_examples():
    for name in ("risk_ratios", "multi_year", "opportunity_gaps", "outcome_table"):
        doc = getattr(dp, name).__doc__
        for section in ("Parameters", "Returns", "Examples"):
            assert f"{section}\n    ---" in doc, (name, section)


def test_functions_are_short():
    tree = ast.parse(Path(dp.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines = body[-1].end_lineno - body[0].lineno + 1
            assert lines <= 40, (node.name, lines)


# --------------------------------------------------------------------------- published: risk


@pytest.mark.parametrize("data, group, expected, digits", [
    (IDENTIFICATION, "B", 5.08, 2),  # DTAT 3.1, IDC pp. 11-12: risk = 5.08 %
    (PLACEMENT, "HL", 12.6, 1),  # DTAT 3.2, IDC p. 12: risk = 12.6 %
    (SUSPENSION, "A", 0.45, 2),  # DTAT 3.3, IDC p. 13: risk = 0.45 %
    (REMOVALS, "2M", 0.46, 2),  # DTAT 3.4 / 7.4, IDC pp. 13-14, 51: 0.0046 removals per child
])
def test_published_risk(data, group, expected, digits):
    assert pct(risk_ratios(data, **NO_MINIMA).loc[group, "risk"], digits) == expected


# --------------------------------------------------------------------------- published: risk ratio


@pytest.mark.parametrize("data, group, risk, comparison, ratio", [
    (IDENTIFICATION, "B", 5.08, 1.98, 2.57),  # DTAT 4.1, IDC pp. 16-17
    (PLACEMENT, "HL", 12.60, 11.24, 1.12),  # DTAT 4.2, IDC pp. 18-19
    (SUSPENSION, "A", 0.45, 0.49, 0.92),  # DTAT 4.3, IDC pp. 19-20
    (REMOVALS, "2M", 0.46, 2.11, 0.22),  # DTAT 4.4, IDC pp. 21-22 (removals per child)
])
def test_published_risk_ratio(data, group, risk, comparison, ratio):
    row = risk_ratios(data, **NO_MINIMA).loc[group]
    assert row["method"] == RISK_RATIO
    assert pct(row["risk"]) == risk
    assert pct(row["comparison_risk"]) == comparison
    assert round(row["risk_ratio"], 2) == ratio


def test_published_tables_under_the_default_minima():
    """4.1 and 4.2 have large cells; 4.3 and 4.4 rest on one child and are not calculated."""
    assert risk_ratios(IDENTIFICATION).loc["B", "method"] == RISK_RATIO
    assert risk_ratios(PLACEMENT).loc["HL", "method"] == RISK_RATIO
    for data, group in ((SUSPENSION, "A"), (REMOVALS, "2M")):
        row = risk_ratios(data).loc[group]
        assert row["method"] == NOT_CALCULATED
        assert np.isnan(row["risk_ratio"]) and not row["flagged"]
        assert row["reason"] == "the group: " + dp.REASON_CELL.format(min_cell=10)


def test_published_risk_ratio_counts():
    """DTAT 4.1: 906 of 45,810 other children (exact arithmetic)."""
    row = risk_ratios(IDENTIFICATION, threshold=2.5).loc["B"]
    assert (row["comparison_outcome"], row["comparison_base"]) == (906, 45810)
    assert row["risk_ratio"] == pytest.approx(float(F(316, 6224) / F(906, 45810)), rel=1e-15)
    assert row["flagged"]  # 2.567 > 2.5


# --------------------------------------------------------------------------- published: alternate


# District tables of DTAT 5.1-5.4 (state tables as above).
ALT_IDENTIFICATION = table([0, 0, 0, 189, 0, 0, 0], [500, 25, 154, 4697, 51, 386, 76])
ALT_PLACEMENT = table([229, 0, 1, 1, 1, 1, 0], [742, 0, 2, 3, 0, 4, 0])
ALT_SUSPENSION = table([0, 0, 0, 0, 1, 0, 0], [876, 42, 222, 1236, 43, 3927, 427])
ALT_REMOVALS = table([4, 0, 0, 0, 0, 0, 0], [742, 0, 2, 3, 0, 4, 0])


@pytest.mark.parametrize("district, state, group, min_cell, risk, comparison, ratio", [
    # DTAT 5.1, IDC pp. 24-25: 4.02 % / 1.49 % = 2.69; district comparison has 0 children.
    (ALT_IDENTIFICATION, IDENTIFICATION_STATE, "B", 10, 4.02, 1.49, 2.69),
    # DTAT 5.2, IDC pp. 25-27: 30.86 % / 12.06 % = 2.56; comparison has 4 of 9 children.
    (ALT_PLACEMENT, PLACEMENT_STATE, "HL", 10, 30.86, 12.06, 2.56),
    # DTAT 5.3, IDC pp. 27-29: 2.33 % / 0.33 % = 6.95 (one child: needs min_cell <= 1).
    (ALT_SUSPENSION, SUSPENSION_STATE, "NH", 1, 2.33, 0.33, 6.95),
    # DTAT 5.4, IDC pp. 29-30: 0.54 % / 0.98 %; the text prints 0.5, the exact ratio is
    # 0.5513 (0.0054 / 0.0098 truncated, not rounded).
    (ALT_REMOVALS, REMOVALS_STATE, "HL", 1, 0.54, 0.98, 0.55),
])
def test_published_alternate_risk_ratio(district, state, group, min_cell, risk, comparison, ratio):
    row = risk_ratios(district, state, min_cell=min_cell, min_n=30).loc[group]
    assert row["method"] == ALTERNATE_RISK_RATIO
    assert pct(row["risk"]) == risk
    assert pct(row["comparison_risk"]) == comparison
    assert round(row["risk_ratio"], 2) == ratio
    assert row["reason"].startswith("all other groups in the district: fewer than")
    assert row["reason"].endswith(dp.REASON_ALTERNATE)


def test_published_alternate_comparison_is_state_all_others():
    """DTAT 5.1: 8,210 − 3,110 = 5,100 of 414,836 − 73,653 = 341,183 in the state."""
    row = risk_ratios(ALT_IDENTIFICATION, IDENTIFICATION_STATE).loc["B"]
    assert (row["comparison_outcome"], row["comparison_base"]) == (5100, 341183)
    assert row["risk_ratio"] == pytest.approx(float(F(189, 4697) / F(5100, 341183)), rel=1e-15)


def test_published_alternate_reason_names_both_minima():
    """DTAT 5.2: the district comparison has 4 children in a population of 9."""
    reason = risk_ratios(ALT_PLACEMENT, PLACEMENT_STATE).loc["HL", "reason"]
    assert reason == ("all other groups in the district: "
                      "fewer than 10 children experienced the outcome (minimum cell size); "
                      "fewer than 30 children in the population (minimum n-size); "
                      "compared with all other groups in the state (alternate risk ratio)")


# --------------------------------------------------------------------------- published: weighted


@pytest.mark.parametrize("district, state, group, risk, comparison, digits, ratio", [
    # DTAT 6.1, IDC pp. 33-36: 0.04 / 0.02; the text's "= 2" divides the rounded
    # components, the weighted risk ratio itself is 0.041757 / 0.016508 = 2.53.
    (IDENTIFICATION, IDENTIFICATION_STATE, "B", 0.04, 0.02, 2, 2.53),
    # DTAT 6.2, IDC pp. 36-39: 0.11 / 0.10 = 1.08.
    (PLACEMENT, PLACEMENT_STATE, "HL", 0.11, 0.10, 2, 1.08),
    # DTAT 6.3, IDC pp. 40-43: 0.0043 / 0.0047 = 0.92.
    (SUSPENSION, SUSPENSION_STATE, "A", 0.0043, 0.0047, 4, 0.92),
    # DTAT 6.4, IDC pp. 43-46: 0.0044 / 0.0210 = 0.21. The printed inputs give
    # 0.0207 for all others (not 0.0210); the ratio 0.213 still rounds to 0.21.
    (REMOVALS, REMOVALS_STATE, "2M", 0.0044, 0.0207, 4, 0.21),
])
def test_published_weighted_risk_ratio(district, state, group, risk, comparison, digits, ratio):
    row = risk_ratios(district, state, **NO_MINIMA).loc[group]
    assert round(row["weighted_risk"], digits) == risk
    assert round(row["weighted_comparison_risk"], digits) == comparison
    assert round(row["weighted_risk_ratio"], 2) == ratio


def test_weighted_risk_ratio_closed_form():
    """WRR_g = (1 − p_g)·R_g / Σ_{j≠g} p_j R_j, p = state base shares (exact fractions)."""
    district = table([10, 20, 30], [100, 100, 200], ["x", "y", "z"])
    state = table([0, 0, 0], [500, 300, 200], ["x", "y", "z"])
    out = risk_ratios(district, state)
    p = {"x": F(5, 10), "y": F(3, 10), "z": F(2, 10)}
    r = {"x": F(10, 100), "y": F(20, 100), "z": F(30, 200)}
    for g in p:
        expected = (1 - p[g]) * r[g] / sum(p[j] * r[j] for j in p if j != g)
        assert out.loc[g, "weighted_risk_ratio"] == pytest.approx(float(expected), rel=1e-14)


def test_weighted_risk_ratio_leaves_out_groups_absent_from_the_district():
    district = table([10, 20, 0], [100, 100, 0], ["x", "y", "z"])
    state = table([0, 0, 0], [500, 300, 200], ["x", "y", "z"])
    out = risk_ratios(district, state)
    # x: weights of the present others (y only) cancel: R_x / R_y.
    assert out.loc["x", "weighted_risk_ratio"] == pytest.approx(0.5, rel=1e-14)
    assert np.isnan(out.loc["z", "weighted_risk_ratio"])
    assert risk_ratios(district)["weighted_risk_ratio"].isna().all()


# --------------------------------------------------------------------------- published: difference


@pytest.mark.parametrize("data, group, expected", [
    (IDENTIFICATION, "B", 3.10),  # DTAT 7.1, IDC pp. 48-49: 3.10 percentage points higher
    (PLACEMENT, "HL", 1.36),  # DTAT 7.2, IDC pp. 49-50: 1.36 points higher
    (SUSPENSION, "A", -0.04),  # DTAT 7.3, IDC pp. 49-50: 0.04 points lower
])
def test_published_risk_difference(data, group, expected):
    assert pct(risk_ratios(data).loc[group, "risk_difference"]) == expected


def test_published_removals_difference():
    """DTAT 7.4, IDC pp. 51-52: 0.0046 vs 0.0211 removals per child, 0.02 fewer."""
    row = risk_ratios(REMOVALS).loc["2M"]
    assert (round(row["risk"], 4), round(row["district_comparison_risk"], 4)) == (0.0046, 0.0211)
    assert round(row["risk_difference"], 2) == -0.02


def test_risk_difference_uses_the_district_comparison_even_for_the_alternate():
    row = risk_ratios(ALT_PLACEMENT, PLACEMENT_STATE).loc["HL"]
    assert row["district_comparison_risk"] == pytest.approx(4 / 9)
    assert row["risk_difference"] == pytest.approx(229 / 742 - 4 / 9)


# --------------------------------------------------------------------------- published: composition


@pytest.mark.parametrize("data, group, composition, difference, relative", [
    (IDENTIFICATION, "B", 25.86, 13.90, 116.19),  # DTAT 8.1, IDC pp. 54-55
    (PLACEMENT, "HL", 19.52, 1.73, 9.73),  # DTAT 8.2, IDC pp. 56-58
    (SUSPENSION, "A", 3.13, -0.25, -7.32),  # DTAT 8.3, IDC pp. 58-60
    (REMOVALS, "2M", 0.86, -2.95, -77.41),  # DTAT 8.4, IDC pp. 58-60
])
def test_published_composition(data, group, composition, difference, relative):
    row = risk_ratios(data).loc[group]
    assert pct(row["composition"]) == composition
    assert pct(row["composition_difference"]) == difference
    assert pct(row["relative_difference_in_composition"]) == relative


def test_relative_difference_is_risk_over_overall_risk_minus_one():
    out = risk_ratios(IDENTIFICATION)
    overall = IDENTIFICATION["outcome"].sum() / IDENTIFICATION["base"].sum()
    np.testing.assert_allclose(out["relative_difference_in_composition"], out["risk"] / overall - 1,
                               rtol=1e-12)
    assert out["composition"].sum() == pytest.approx(1) and out["base_share"].sum() == pytest.approx(1)


# --------------------------------------------------------------------------- published: E-formula


@pytest.mark.parametrize("data, group, composition, upper, digits, flagged", [
    (IDENTIFICATION, "B", 25.86, 12.9, (2, 1), True),  # DTAT 9.1, IDC pp. 64-65
    (PLACEMENT, "HL", 19.52, 19.50, (2, 2), True),  # DTAT 9.2, IDC pp. 65-66: just above
    (SUSPENSION, "A", 3.1, 6.6, (1, 1), False),  # DTAT 9.3, IDC pp. 67-68
    (REMOVALS, "2M", 0.9, 5.6, (1, 1), False),  # DTAT 9.4, IDC pp. 68-69
])
def test_published_e_formula(data, group, composition, upper, digits, flagged):
    row = risk_ratios(data).loc[group]
    assert pct(row["composition"], digits[0]) == composition
    assert pct(row["e_formula_upper"], digits[1]) == upper
    assert bool(row["e_formula_flagged"]) is flagged


def test_over_represented_within_the_e_formula_bound_is_not_flagged():
    """DTAT 9.3 table, Black: 18.75 % of suspensions vs 13.56 % of children, bound 19.62 %."""
    row = risk_ratios(SUSPENSION).loc["B"]
    assert row["base_share"] < row["composition"] < row["e_formula_upper"]
    assert pct(row["e_formula_upper"]) == 19.62
    assert not row["e_formula_flagged"]


def test_e_formula_upper_bound_formula():
    """E = A + sqrt(A(1 − A)/N) with A the base share and N the children in the category."""
    row = risk_ratios(IDENTIFICATION).loc["B"]
    a = 6224 / 52034
    assert row["e_formula_upper"] == pytest.approx(a + np.sqrt(a * (1 - a) / 1222), rel=1e-14)


# --------------------------------------------------------------------------- decision rules


def two_groups(outcome, base, other_outcome=50, other_base=500):
    return table([outcome, other_outcome], [base, other_base], ["g", "rest"])


def test_exactly_at_the_threshold_is_not_flagged():
    district = two_groups(20, 100, 50, 500)  # 0.2 / 0.1 = 2.0 exactly
    out = risk_ratios(district, threshold=2.0)
    assert out.loc["g", "risk_ratio"] == 2.0
    assert not out.loc["g", "flagged"]
    assert risk_ratios(district, threshold=1.999)["flagged"].tolist() == [True, False]


def test_just_above_the_threshold_is_flagged():
    out = risk_ratios(two_groups(21, 100, 50, 500), threshold=2.0)
    assert out.loc["g", "risk_ratio"] == pytest.approx(2.1)
    assert out.loc["g", "flagged"]


def test_no_threshold_flags_nothing():
    out = risk_ratios(two_groups(90, 100, 10, 500))
    assert out.loc["g", "risk_ratio"] == pytest.approx(45)
    assert not out["flagged"].any()


@pytest.mark.parametrize("outcome, base, method", [
    (10, 30, RISK_RATIO),  # exactly at both minima: calculated
    (9, 30, NOT_CALCULATED),  # one below the minimum cell size
    (10, 29, NOT_CALCULATED),  # one below the minimum n-size
])
def test_group_minima_edges(outcome, base, method):
    assert risk_ratios(two_groups(outcome, base)).loc["g", "method"] == method


def test_group_failing_both_minima_names_both():
    reason = risk_ratios(two_groups(9, 29)).loc["g", "reason"]
    assert reason == ("the group: fewer than 10 children experienced the outcome (minimum cell size); "
                      "fewer than 30 children in the population (minimum n-size)")


@pytest.mark.parametrize("other_outcome, other_base, method", [
    (10, 30, RISK_RATIO),  # comparison exactly at the minima
    (9, 30, ALTERNATE_RISK_RATIO),  # comparison one below the minimum cell size
    (10, 29, ALTERNATE_RISK_RATIO),  # comparison one below the minimum n-size
])
def test_comparison_minima_edges(other_outcome, other_base, method):
    district = two_groups(20, 100, other_outcome, other_base)
    state = two_groups(2000, 10000, 3000, 60000)
    assert risk_ratios(district, state).loc["g", "method"] == method


def test_configurable_minima():
    district = two_groups(5, 20, 3, 20)
    assert risk_ratios(district).loc["g", "method"] == NOT_CALCULATED
    assert risk_ratios(district, min_cell=3, min_n=20).loc["g", "method"] == RISK_RATIO


def test_district_comparison_fails_alternate_with_state():
    district = two_groups(40, 200, 5, 100)
    state = two_groups(900, 9000, 500, 10000)
    row = risk_ratios(district, state, threshold=3).loc["g"]
    assert row["method"] == ALTERNATE_RISK_RATIO
    assert (row["comparison_outcome"], row["comparison_base"]) == (500, 10000)
    assert row["risk_ratio"] == pytest.approx(0.2 / 0.05)
    assert row["flagged"]
    assert row["reason"] == ("all other groups in the district: fewer than 10 children experienced the "
                             "outcome (minimum cell size); compared with all other groups in the state "
                             "(alternate risk ratio)")


def test_district_comparison_fails_without_state_not_calculated():
    row = risk_ratios(two_groups(40, 200, 5, 100), threshold=1).loc["g"]
    assert row["method"] == NOT_CALCULATED
    assert np.isnan(row["risk_ratio"]) and not row["flagged"]
    assert (row["comparison_outcome"], row["comparison_base"]) == (5, 100)
    assert row["reason"].endswith("; " + dp.REASON_NO_STATE)
    assert row["reason"].startswith("all other groups in the district: fewer than 10 children")


def test_state_comparison_fails_too_not_calculated():
    district = two_groups(40, 200, 5, 100)
    state = two_groups(900, 9000, 8, 10000)  # 8 children outside the group in the state
    row = risk_ratios(district, state, threshold=1).loc["g"]
    assert row["method"] == NOT_CALCULATED and not row["flagged"]
    assert (row["comparison_outcome"], row["comparison_base"]) == (8, 10000)
    assert row["reason"] == ("all other groups in the district: fewer than 10 children experienced the "
                             "outcome (minimum cell size); all other groups in the state: fewer than 10 "
                             "children experienced the outcome (minimum cell size)")


def test_group_failing_comes_first_even_when_comparison_fails():
    row = risk_ratios(two_groups(5, 200, 5, 100), two_groups(900, 9000, 500, 10000)).loc["g"]
    assert row["method"] == NOT_CALCULATED
    assert row["reason"].startswith("the group:")
    assert (row["comparison_outcome"], row["comparison_base"]) == (5, 100)  # district, not state


def test_risk_ratio_rows_have_empty_reason():
    out = risk_ratios(IDENTIFICATION, IDENTIFICATION_STATE)
    assert (out.loc[out["method"] == RISK_RATIO, "reason"] == "").all()


# --------------------------------------------------------------------------- Katz interval


def test_katz_interval_matches_stats_for_risk_ratio_rows():
    out = risk_ratios(IDENTIFICATION)
    calculated = out[out["method"] == RISK_RATIO]
    low, high = ratio_interval(calculated["outcome"], calculated["base"],
                               calculated["comparison_outcome"], calculated["comparison_base"])
    np.testing.assert_array_equal(calculated["risk_ratio_low"], low)
    np.testing.assert_array_equal(calculated["risk_ratio_high"], high)
    assert round(out.loc["B", "risk_ratio_low"], 3) == 2.265
    assert round(out.loc["B", "risk_ratio_high"], 3) == 2.910


def test_katz_interval_uses_the_state_comparison_for_the_alternate():
    row = risk_ratios(ALT_IDENTIFICATION, IDENTIFICATION_STATE).loc["B"]
    low, high = ratio_interval(189, 4697, 5100, 341183)
    assert (row["risk_ratio_low"], row["risk_ratio_high"]) == (low, high)
    assert row["risk_ratio_low"] < row["risk_ratio"] < row["risk_ratio_high"]


def test_katz_interval_missing_when_not_calculated_or_not_a_proportion():
    out = risk_ratios(SUSPENSION)
    assert out.loc[out["method"] == NOT_CALCULATED, ["risk_ratio_low", "risk_ratio_high"]].isna().all().all()
    removals = table([45, 12], [30, 100], ["g", "rest"])  # more removals than children
    row = risk_ratios(removals).loc["g"]
    assert row["method"] == RISK_RATIO and row["risk_ratio"] == pytest.approx(1.5 / 0.12)
    assert np.isnan(row["risk_ratio_low"]) and np.isnan(row["risk_ratio_high"])


# --------------------------------------------------------------------------- shapes and inputs


def test_output_columns_index_and_order():
    out = risk_ratios(IDENTIFICATION)
    assert list(out.index) == GROUPS and out.index.name == "group"
    required = ["risk", "comparison_risk", "risk_ratio", "method", "flagged", "risk_difference",
                "weighted_risk_ratio", "composition", "base_share", "composition_difference",
                "relative_difference_in_composition", "e_formula_upper", "e_formula_flagged",
                "risk_ratio_low", "risk_ratio_high", "comparison_outcome", "comparison_base", "reason"]
    assert set(required) <= set(out.columns)
    assert out["outcome"].tolist() == IDENTIFICATION["outcome"].tolist()
    assert out["method"].isin(dp.METHODS).all()


def test_group_as_index_and_categorical_groups():
    indexed = IDENTIFICATION.set_index("group")
    pd.testing.assert_frame_equal(risk_ratios(indexed), risk_ratios(IDENTIFICATION))
    categorical = IDENTIFICATION.assign(group=pd.Categorical(GROUPS, categories=GROUPS))
    expected = risk_ratios(IDENTIFICATION).loc["B", "risk_ratio"]
    assert risk_ratios(categorical).loc["B", "risk_ratio"] == expected


def test_zero_base_gives_missing_rates_not_errors():
    out = risk_ratios(ALT_PLACEMENT, PLACEMENT_STATE)
    assert np.isnan(out.loc["AI", "risk"]) and out.loc["AI", "method"] == NOT_CALCULATED


@pytest.mark.parametrize("district, state, kwargs, message", [
    (IDENTIFICATION.drop(columns="base"), None, {}, "needs the columns"),
    (pd.concat([IDENTIFICATION, IDENTIFICATION.iloc[:1]]), None, {}, "more than one row"),
    (IDENTIFICATION.assign(outcome=-1), None, {}, "non-negative"),
    (IDENTIFICATION.assign(base=np.nan), None, {}, "must not be missing"),
    (IDENTIFICATION, IDENTIFICATION_STATE.iloc[:-1], {}, "no row for district group"),
    (IDENTIFICATION, None, {"threshold": 0}, "threshold"),
    (IDENTIFICATION, None, {"threshold": "2"}, "threshold"),
    (IDENTIFICATION, None, {"min_cell": -1}, "min_cell"),
])
def test_invalid_inputs(district, state, kwargs, message):
    with pytest.raises(ValueError, match=message):
        risk_ratios(district, state, **kwargs)


# --------------------------------------------------------------------------- multi-year


def years_table(rows):
    """rows: {group: [(school_year, risk_ratio, flagged), ...]}"""
    return pd.DataFrame([{"group": g, "school_year": y, "risk_ratio": r, "flagged": f}
                         for g, values in rows.items() for y, r, f in values])


def test_two_of_three_years_is_not_identified_under_the_three_year_rule():
    flags = years_table({"g": [(2023, 3.2, True), (2024, 2.5, False), (2025, 3.1, True)],
                         "h": [(2023, 2.5, False), (2024, 3.2, True), (2025, 3.1, True)]})
    out = multi_year(flags, years=3)
    assert out["significant_disproportionality"].tolist() == [False, False]
    assert out["consecutive_years_flagged"].tolist() == [1, 2]
    assert out.loc["h", "reason"] == "above the threshold in 2 consecutive year(s) up to 2025; 3 required"
    assert multi_year(flags, years=2)["significant_disproportionality"].tolist() == [False, True]
    assert multi_year(flags, years=1)["significant_disproportionality"].tolist() == [True, True]


def test_three_consecutive_years_is_identified():
    flags = years_table({"g": [(2023, 3.2, True), (2024, 3.3, True), (2025, 3.1, True)]})
    row = multi_year(flags).loc["g"]
    assert row["exceeds_all_years"] and row["significant_disproportionality"]
    assert row["determination_year"] == 2025 and row["risk_ratio"] == 3.1 and row["flagged"]
    assert row["reason"] == dp.REASON_IDENTIFIED.format(years=3)


def test_not_flagged_in_the_determination_year_is_not_identified():
    flags = years_table({"g": [(2022, 3.0, True), (2023, 3.2, True), (2024, 3.3, True),
                               (2025, 2.0, False)]})
    assert not multi_year(flags).loc["g", "significant_disproportionality"]


def test_reasonable_progress_exemption():
    flags = years_table({"g": [(2023, 3.6, True), (2024, 3.3, True), (2025, 3.1, True)]})
    exempt = multi_year(flags, reasonable_progress=0.2).loc["g"]  # fell 0.3 then 0.2
    assert exempt["exceeds_all_years"] and exempt["reasonable_progress"]
    assert not exempt["significant_disproportionality"]
    assert exempt["reason"] == dp.REASON_PROGRESS.format(years=3, amount=0.2)
    assert multi_year(flags, reasonable_progress=0.25).loc["g", "significant_disproportionality"]
    assert multi_year(flags).loc["g", "significant_disproportionality"]  # no exemption by default


def test_reasonable_progress_needs_a_fall_in_each_of_two_years():
    rose = years_table({"g": [(2023, 3.0, True), (2024, 3.4, True), (2025, 3.1, True)]})
    assert multi_year(rose, reasonable_progress=0.1).loc["g", "significant_disproportionality"]
    exact = years_table({"g": [(2023, 3.5, True), (2024, 3.25, True), (2025, 3.0, True)]})
    assert not multi_year(exact, reasonable_progress=0.25).loc["g", "significant_disproportionality"]
    flat = years_table({"g": [(2023, 3.0, True), (2024, 3.0, True), (2025, 3.0, True)]})
    assert multi_year(flat, reasonable_progress=0).loc["g", "significant_disproportionality"]
    missing = years_table({"g": [(2023, np.nan, True), (2024, 3.3, True), (2025, 3.1, True)]})
    assert multi_year(missing, reasonable_progress=0.1).loc["g", "significant_disproportionality"]


def test_missing_year_breaks_the_run():
    flags = years_table({"g": [(2023, 3.0, True), (2025, 3.1, True)],
                         "h": [(2023, 3.0, True), (2024, 3.0, True), (2025, 3.1, True)]})
    out = multi_year(flags, years=2)
    assert out["significant_disproportionality"].tolist() == [False, True]
    assert out.loc["g", "consecutive_years_flagged"] == 1


def test_fewer_years_of_data_than_required_is_not_identified():
    flags = years_table({"g": [(2024, 3.0, True), (2025, 3.1, True)]})
    assert not multi_year(flags, years=3).loc["g", "significant_disproportionality"]
    assert multi_year(flags, years=2).loc["g", "significant_disproportionality"]


def test_school_year_labels():
    flags = years_table({"g": [("2022-23", 3.0, True), ("2023-24", 3.1, True), ("2024-25", 3.2, True)]})
    row = multi_year(flags).loc["g"]
    assert row["determination_year"] == "2024-25" and row["significant_disproportionality"]


def test_multi_year_takes_risk_ratios_output():
    frames = [risk_ratios(IDENTIFICATION, threshold=2.5).reset_index().assign(school_year=y)
              for y in (2023, 2024, 2025)]
    out = multi_year(pd.concat(frames))
    # B (2.57) and Native Hawaiian/Pacific Islander (21/212 = 9.9 % vs 2.3 %, 4.33) exceed 2.5.
    assert out.index[out["significant_disproportionality"]].tolist() == ["B", "NH"]


@pytest.mark.parametrize("kwargs, flags, message", [
    ({"years": 4}, None, "years must be 1, 2 or 3"),
    ({"years": 0}, None, "years must be 1, 2 or 3"),
    ({"reasonable_progress": -0.1}, None, "reasonable_progress"),
    ({}, years_table({"g": [(2025, 3.0, True), (2025, 3.1, True)]}), "more than one row"),
    ({}, years_table({"g": [("last year", 3.0, True)]}), "cannot read a school year"),
    ({}, years_table({"g": [(2025, 3.0, True)]}).drop(columns="flagged"), "needs the columns"),
])
def test_multi_year_invalid_inputs(kwargs, flags, message):
    if flags is None:
        flags = years_table({"g": [(2025, 3.0, True)]})
    with pytest.raises(ValueError, match=message):
        multi_year(flags, **kwargs)


# --------------------------------------------------------------------------- opportunities


def test_four_fifths_exactly_point_eight_is_not_flagged_and_0_79_is():
    honors = table([100, 80, 79], [200, 200, 200], ["top", "at", "below"])
    out = opportunity_gaps(honors)
    assert out["four_fifths_ratio"].tolist() == pytest.approx([1.0, 0.8, 0.79])
    assert out["four_fifths_flagged"].tolist() == [False, False, True]
    assert (out["four_fifths_reference_rate"] == 0.5).all()


def test_percentage_point_gap_moe_floor():
    big = table([3000, 3600], [10000, 10000], ["a", "b"])  # overall rate 0.33
    out = opportunity_gaps(big)
    assert out["moe"].tolist() == [0.03, 0.03]  # 1.96·sqrt(0.25/10000) = 0.0098 < 0.03
    assert out["percentage_point_gap"].tolist() == pytest.approx([-0.03, 0.03])
    assert out["reference_rate"].tolist() == pytest.approx([0.33, 0.33])
    assert out["ppg_flagged"].tolist() == [True, False]  # 0.30 + 0.03 <= 0.33 (boundary counts)


def test_percentage_point_gap_boundary_is_inclusive():
    """0.27 + 0.03 = 0.30 (0.30000000000000004 in floating point) is flagged."""
    out = opportunity_gaps(table([2700, 3000], [10000, 10000], ["a", "b"]), reference="b")
    assert out.loc["a", "ppg_flagged"]
    assert not opportunity_gaps(table([2701, 3000], [10000, 10000], ["a", "b"]),
                                reference="b").loc["a", "ppg_flagged"]


def test_percentage_point_gap_moe_above_the_floor():
    small = table([20, 60], [100, 100], ["a", "b"])  # overall 0.4
    out = opportunity_gaps(small)
    assert out["moe"].tolist() == pytest.approx([0.098, 0.098])  # 1.96 · sqrt(0.25/100)
    assert out["ppg_flagged"].tolist() == [True, False]  # 0.2 + 0.098 <= 0.4
    near = opportunity_gaps(table([31, 49], [100, 100], ["a", "b"]))  # overall 0.4, 0.31 + 0.098 > 0.4
    assert not near.loc["a", "ppg_flagged"]


def test_representation_index_and_named_reference():
    honors = table([30, 45, 25], [100, 100, 50], ["a", "b", "c"])
    out = opportunity_gaps(honors, reference="b")
    assert out["representation_index"].tolist() == pytest.approx([0.75, 1.125, 1.25])  # overall 0.4
    np.testing.assert_allclose(out["representation_index"], out["composition"] / out["base_share"])
    assert out["four_fifths_ratio"].tolist() == pytest.approx([30 / 45, 1.0, 0.5 / 0.45])
    assert out["percentage_point_gap"].tolist() == pytest.approx([-0.15, 0.0, 0.05])
    assert out["four_fifths_flagged"].tolist() == [True, False, False]


def test_opportunity_groups_under_min_n_are_not_calculated():
    honors = table([50, 40, 9, 5], [100, 100, 9, 10], ["a", "b", "tiny", "ten"])
    out = opportunity_gaps(honors)
    tiny = out.loc["tiny"]
    assert not tiny["calculated"] and tiny["reason"] == "fewer than 10 in the group"
    assert tiny[["representation_index", "four_fifths_ratio", "percentage_point_gap", "moe"]].isna().all()
    assert not tiny["four_fifths_flagged"] and not tiny["ppg_flagged"]
    assert out.loc["ten", "calculated"]  # exactly min_n is calculated
    assert out.loc["a", "four_fifths_reference_rate"] == 0.5  # tiny's rate of 1.0 is not the reference


def test_opportunity_reference_errors_and_small_reference():
    honors = table([50, 4], [100, 5], ["a", "b"])
    with pytest.raises(ValueError, match="neither 'overall' nor a group"):
        opportunity_gaps(honors, reference="z")
    out = opportunity_gaps(honors, reference="b")
    assert out.loc["a", ["four_fifths_ratio", "percentage_point_gap"]].isna().all()
    assert out.loc["a", "reason"] == "reference group 'b' has fewer than 10"


# --------------------------------------------------------------------------- outcome_table


def test_outcome_table_indicator_keeps_empty_categories():
    students = pd.DataFrame({
        "race": pd.Categorical(["B", "W", "W", "B", "B"], categories=["HL", "B", "W"]),
        "honors": [1, 0, 1, 1, np.nan]})
    out = outcome_table(students, group="race", outcome="honors")
    assert out["group"].tolist() == ["HL", "B", "W"]
    assert out["outcome"].tolist() == [0, 2, 1] and out["base"].tolist() == [0, 2, 2]
    assert out["outcome"].dtype == "int64" and out["base"].dtype == "int64"


def test_outcome_table_counts_and_booleans():
    students = pd.DataFrame({"race": ["a", "a", "b"], "removals": [3, 0, 2],
                             "suspended": [True, False, True]})
    counts = outcome_table(students, group="race", outcome="removals")
    assert counts.to_dict("list") == {"group": ["a", "b"], "outcome": [3, 2], "base": [2, 1]}
    flags = outcome_table(students, group="race", outcome="suspended")
    assert flags["outcome"].tolist() == [1, 1]


def test_outcome_table_feeds_risk_ratios():
    students = pd.DataFrame({"race": ["a"] * 100 + ["b"] * 300,
                             "sped": [1] * 20 + [0] * 80 + [1] * 30 + [0] * 270})
    out = risk_ratios(outcome_table(students, group="race", outcome="sped"))
    assert out.loc["a", "risk_ratio"] == pytest.approx(2.0)


@pytest.mark.parametrize("values", [[1, -1], ["yes", "no"]])
def test_outcome_table_rejects_bad_outcomes(values):
    students = pd.DataFrame({"race": ["a", "b"], "flag": values})
    with pytest.raises(ValueError, match="non-negative numbers"):
        outcome_table(students, group="race", outcome="flag")
