"""Power of the access table for a Level-4 access gap of the calibration's planted size (issue 12).

The planted ``level4_access`` effect: students with a disability who are at or
above grade level at the start of the school year get Level-4 work at half the
rate of others at the same level. The audit's base for Level-4 work is the
students ready for it at the start of the year (mean over domains of the
year's first level minus the expected level, 0 or more:
``patterns.readiness_by_year``), compared at equal readiness band
(Mantel-Haenszel ratio, Cochran-Mantel-Haenszel test). Readiness read from
the year's latest level, as before, was partly a consequence of the access
it explains and mixed students behind on average into the base; on the
realistic nulls it gave students with a disability ratios of 0.64-1.0 with no
gap planted, and diluted the planted one.

On the planted districts of seeds 30000-30009 (1,800 students) the base holds,
pooled over three school years, 26 to 60 student-years of ready students with a
disability (about 35 typical) and about 500 of others, at Level-4 rates of
about 17 % and 35 %; in the latest year alone 7 to 18 and about 180.

Two-proportion z-test, normal approximation:
``z = (p0 - p1) / sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0)``

* all years: ``0.18 / sqrt(0.17 * 0.83 / 35 + 0.35 * 0.65 / 500) = 0.18 / 0.067 = 2.7``,
  before the years of one student are clustered (design effect about 1.15:
  z about 2.5);
* latest year: ``0.18 / sqrt(0.17 * 0.83 / 12 + 0.35 * 0.65 / 180) = 1.5``.

The table controls the false discovery rate over every opportunity and group
(6 opportunities x about 20 groups = about 120 rows). With one real gap among
them, Benjamini-Hochberg's first rejection needs ``p <= 0.05 / 100`` or so,
two-sided ``|z| >= 3.48``. Power ``= Phi(z - 3.48)``: about 15 % (all years),
about 3 % (latest year) -- short of the 80 % target; even a single test at
5 % with no false-discovery control at all would find it in only about 70 % of
districts (3 of the 10 planted districts had p < 0.05). Dropping the
false-discovery control or choosing a smaller family after seeing the data
would buy the power with false flags. The tests below check this calculation,
that the same rule finds a gap of the same ratio once the group is large
enough, flags nothing on a null, and that the comparison at equal readiness
tells a group that is less often ready from a group that is offered less.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from equity_audit.questions.patterns import READINESS_BANDS, access_table

Z_BH_FIRST = sps.norm.isf(0.05 / 100 / 2)  # BH's first rejection among ~100 rows, two-sided


def power(p1, n1, p0, n0, design_effect=1.0, z_crit=Z_BH_FIRST):
    """Normal-approximation power of a two-sided two-proportion test at ``z_crit``."""
    se = np.sqrt((p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) * design_effect)
    return float(sps.norm.cdf(abs(p0 - p1) / se - z_crit))


def test_planted_size_is_below_the_power_target():
    assert round(Z_BH_FIRST, 2) == 3.48
    assert power(0.17, 35, 0.35, 500, design_effect=1.15) < 0.2  # all years
    assert power(0.17, 12, 0.35, 180) < 0.05  # latest year
    # one test at 5 %, no false-discovery control: still short of 80 %
    assert power(0.17, 35, 0.35, 500, design_effect=1.15, z_crit=1.96) < 0.8
    # the same ratio in a district four times as large would be found
    assert power(0.17, 140, 0.35, 2000, design_effect=1.15) > 0.9


#: Level-4 rate in each readiness band (students further ahead get it more often), and how the
#: students with and without a disability spread over the bands: the first are less often far ahead.
RATE_BY_BAND = np.array([0.10, 0.15, 0.22, 0.32])
BAND_MIX = {True: [0.6, 0.25, 0.1, 0.05], False: [0.3, 0.3, 0.25, 0.15]}


def student_years(seed: int, students: int, ratio: float, years: int = 3) -> pd.DataFrame:
    """Student-years ready for Level-4 work; students with ``disability`` get it at ``ratio`` x the rate of
    their readiness band, and are less often far ahead (a raw ratio of about 0.76 with ``ratio`` 1)."""
    rng = np.random.default_rng(seed)
    disability = rng.random(students) < 0.09
    band = np.where(disability, rng.choice(4, students, p=BAND_MIX[True]), rng.choice(4, students, p=BAND_MIX[False]))
    propensity = np.exp(rng.normal(0, 0.3, students) - 0.045)  # lasting, so a student's years cluster
    low_income = rng.random(students) < 0.4
    student = np.repeat(np.arange(students), years)
    rate = (RATE_BY_BAND[band] * np.where(disability, ratio, 1.0) * propensity)[student]
    return pd.DataFrame({
        "student_id": student, "school_year": np.tile(2024 + np.arange(years), students),
        "grade_level": 5, "ready": True,
        "readiness_band": pd.Categorical(np.array(list(READINESS_BANDS))[band[student]],
                                         categories=list(READINESS_BANDS)),
        "level4_work": (rng.random(student.size) < rate).astype(int),
        "disability": np.where(disability, "Yes", "No")[student],
        "low_income": np.where(low_income, "Yes", "No")[student],
    })


def _row(table: pd.DataFrame) -> pd.Series:
    return table[(table["subgroup"] == "disability") & (table["group"] == "Yes")].iloc[0]


def test_a_large_enough_gap_of_the_planted_ratio_is_found():
    rows = [_row(access_table(student_years(seed, 6000, 0.5), ["disability", "low_income"], all_years=True))
            for seed in range(5)]
    assert sum(bool(row["access_gap"]) for row in rows) >= 4
    assert all(row["ratio_adjusted"] == pytest.approx(0.5, abs=0.15) for row in rows)


def test_no_gap_is_flagged_on_a_null_where_the_group_is_less_often_far_ahead():
    districts = [student_years(seed, 6000, 1.0) for seed in range(5)]
    tables = [access_table(facts, ["disability", "low_income"], all_years=True) for facts in districts]
    assert sum(int(table["access_gap"].sum()) for table in tables) == 0
    rows = [_row(table) for table in tables]
    assert all(row["ratio"] < 0.85 and row["ratio_adjusted"] == pytest.approx(1.0, abs=0.1) for row in rows)
    # without the readiness bands the same ready students would read a gap in most districts
    unbanded = [_row(access_table(facts.drop(columns="readiness_band"), ["disability", "low_income"],
                                  all_years=True)) for facts in districts]
    assert sum(bool(row["access_gap"]) for row in unbanded) >= 3


def banded(groups: dict) -> pd.DataFrame:
    """Ready student-years built from exact counts: {group: [(band, students, with Level-4 work), ...]}."""
    bands = list(READINESS_BANDS)
    rows = [(group, bands[band], int(k < given)) for group, cells in groups.items()
            for band, students, given in cells for k in range(students)]
    facts = pd.DataFrame(rows, columns=["disability", "readiness_band", "level4_work"])
    return facts.assign(student_id=np.arange(len(facts)), school_year=2025, grade_level=5, ready=True,
                        readiness_band=pd.Categorical(facts["readiness_band"], categories=bands))


def _disability_row(facts: pd.DataFrame, **options) -> pd.Series:
    table = access_table(facts, ["disability"], **options)
    return table[table["group"] == "Yes"].iloc[0]


@pytest.mark.parametrize("all_years", [False, True])
def test_less_often_ready_is_not_an_access_gap(all_years):
    """Same rate in every readiness band, but the group sits mostly just past the line, where the rate is lower."""
    facts = banded({"Yes": [(0, 200, 30), (3, 20, 10)], "No": [(0, 200, 30), (3, 800, 400)]})
    row = _disability_row(facts, all_years=all_years)
    # raw: 40 of 220 (18 %) against 430 of 1,000 (43 %), far under four-fifths
    assert row["estimate"] == pytest.approx(40 / 220) and row["comparator_estimate"] == pytest.approx(0.43)
    assert row["ratio"] == pytest.approx(40 / 220 / 0.43) and row["four_fifths"]
    # at equal readiness there is no gap, and none is flagged
    assert row["ratio_adjusted"] == pytest.approx(1.0)
    assert row["pvalue"] == pytest.approx(1.0)
    assert row["adjusted_for"] == "readiness band at the start of the school year"
    assert not row["access_gap"]


@pytest.mark.parametrize("all_years", [False, True])
def test_half_the_access_at_equal_readiness_is_a_gap(all_years):
    facts = banded({"Yes": [(0, 200, 15), (3, 100, 25)], "No": [(0, 400, 60), (3, 400, 200)]})
    row = _disability_row(facts, all_years=all_years)
    assert row["ratio_adjusted"] == pytest.approx(0.5)
    assert row["ratio_adjusted_low"] < 0.5 < row["ratio_adjusted_high"] < 0.8
    assert row["pvalue"] < 1e-6 and row["access_gap"] and row["flagged"]


def test_the_flag_a_finding_reads_is_a_gap_or_a_strength_on_the_qvalue_shown():
    # twice the access at equal readiness is a strength: flagged, not an access gap
    facts = banded({"Yes": [(0, 200, 60), (3, 100, 100)], "No": [(0, 400, 60), (3, 400, 200)]})
    table = access_table(facts, ["disability"])
    row = table[table["group"] == "Yes"].iloc[0]
    assert row["ratio_adjusted"] == pytest.approx(2.0) and row["flagged"] and not row["access_gap"]
    # equal access: nothing flagged; and no row is flagged with a q-value that is not beyond chance
    same = access_table(banded({"Yes": [(0, 200, 30)], "No": [(0, 400, 60)]}), ["disability"])
    assert not same["flagged"].any()
    assert not (table["flagged"] & (table["qvalue"] >= 0.05)).any()


def test_students_not_ready_are_left_out_of_the_level4_base():
    facts = banded({"Yes": [(0, 30, 3)], "No": [(0, 30, 3)]})
    behind = facts.assign(ready=False, readiness_band=pd.NA, level4_work=0, student_id=facts["student_id"] + 100)
    row = _disability_row(pd.concat([facts, behind], ignore_index=True))
    assert row["n"] == 30 and row["estimate"] == pytest.approx(0.1)
