"""Comparisons at equal strata (issue 12): Mantel-Haenszel rates, stratified means, and the
unmet-need and grades-against-evidence views that use them."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from equity_audit import stats
from equity_audit.disaggregate import disaggregate, disaggregate_each
from equity_audit.questions.grading import evidence_bands, student_grading
from equity_audit.questions.needs import need_bands
from equity_audit.stratified import cmh_pvalue, mh_rate_comparison, stratified_mean_comparison

# Agresti (2013), Table 6.9 (p. 226): eight clinics, drug (1) against control (0)
AGRESTI_X1 = np.array([11, 16, 14, 2, 6, 1, 1, 4])
AGRESTI_N1 = np.array([36, 20, 19, 16, 17, 11, 5, 6])
AGRESTI_X0 = np.array([10, 22, 7, 1, 0, 0, 1, 6])
AGRESTI_N0 = np.array([37, 32, 19, 17, 12, 10, 9, 7])


def _tables(x1, n1, x0, n0):
    return [np.array([[a, b - a], [c, d - c]]) for a, b, c, d in zip(x1, n1, x0, n0)]


# ----------------------------------------------------------------------- the formulas


def test_mh_risk_difference_matches_agresti():
    # Agresti (2013, p. 231): Mantel-Haenszel risk difference 0.130 with standard error 0.050
    out = mh_rate_comparison(AGRESTI_X1[None], AGRESTI_N1[None], AGRESTI_X0[None], AGRESTI_N0[None])
    assert round(float(out["difference"][0]), 3) == 0.130
    assert round(float(np.sqrt(out["variance"][0])), 3) == 0.050
    half = 1.959964 * np.sqrt(out["variance"][0])
    assert out["difference_low"][0] == pytest.approx(out["difference"][0] - half)


def test_cmh_test_and_risk_ratio_match_statsmodels():
    table = StratifiedTable(_tables(AGRESTI_X1, AGRESTI_N1, AGRESTI_X0, AGRESTI_N0))
    out = mh_rate_comparison(AGRESTI_X1[None], AGRESTI_N1[None], AGRESTI_X0[None], AGRESTI_N0[None])
    assert out["pvalue"][0] == pytest.approx(table.test_null_odds(correction=False).pvalue, rel=1e-10)
    assert table.test_null_odds().statistic == pytest.approx(6.38, abs=0.01)  # Agresti, p. 231
    assert out["ratio"][0] == pytest.approx(table.riskratio_pooled, rel=1e-12)


def test_mh_risk_ratio_interval_matches_sas_example():
    # SAS PROC FREQ common relative risk example (two genders): 2.1636 (1.2336 to 3.7948)
    out = mh_rate_comparison([[16, 12]], [[27, 28]], [[5, 7]], [[25, 26]])
    assert [round(float(out[k][0]), 4) for k in ("ratio", "ratio_low", "ratio_high")] == [2.1636, 1.2336, 3.7948]


def test_one_stratum_exact_test_is_the_conditional_midp():
    # under the Mantel-Fleiss criterion the exact conditional test is used; with one stratum it is
    # the mid-p version of Fisher's test
    x1, n1, x0, n0 = 1, 12, 6, 14
    expected = stats.midp_conditional_pvalue(x1, n1, x0, n0)
    assert cmh_pvalue([[x1]], [[n1]], [[x0]], [[n0]])[0] == pytest.approx(float(expected), rel=1e-9)


def test_strata_with_one_side_empty_contribute_nothing():
    with_empty = mh_rate_comparison([[8, 2, 5]], [[10, 10, 9]], [[4, 1, 0]], [[10, 10, 0]])
    without = mh_rate_comparison([[8, 2]], [[10, 10]], [[4, 1]], [[10, 10]])
    for key in ("difference", "variance", "ratio", "pvalue"):
        assert with_empty[key][0] == pytest.approx(without[key][0])
    assert with_empty["strata_used"][0] == 2
    means = stratified_mean_comparison([[1.0, 9.0]], [[4.0, 4.0]], [[5, 5]], [[0.5, np.nan]], [[4.0, 0.0]], [[5, 0]])
    assert means["difference"][0] == pytest.approx(0.5)


def _moments(values, side, stratum, k):
    parts = [values[(side == g) & (stratum == j)] for g in (1, 0) for j in range(k)]
    mean = np.array([p.mean() if p.size else np.nan for p in parts]).reshape(2, 1, k)
    squares = np.array([((p - p.mean()) ** 2).sum() if p.size else 0.0 for p in parts]).reshape(2, 1, k)
    count = np.array([p.size for p in parts], float).reshape(2, 1, k)
    return mean, squares, count


def test_stratified_mean_of_0_1_values_is_the_cmh_test():
    rng = np.random.default_rng(1)
    side, stratum = rng.integers(0, 2, 400), rng.integers(0, 3, 400)
    values = (rng.random(400) < 0.2 + 0.2 * stratum).astype(float)
    mean, squares, count = _moments(values, side, stratum, 3)
    out = stratified_mean_comparison(mean[0], squares[0], count[0], mean[1], squares[1], count[1])
    x = mean * count
    rates = mh_rate_comparison(x[0], count[0], x[1], count[1])
    assert out["difference"][0] == pytest.approx(rates["difference"][0])
    table = StratifiedTable(_tables(x[0][0], count[0][0], x[1][0], count[1][0]))
    assert out["pvalue"][0] == pytest.approx(table.test_null_odds(correction=False).pvalue, rel=1e-9)


def test_stratified_mean_variance_is_the_within_stratum_permutation_variance():
    # hand-checkable: every way of splitting each stratum's students between the two sides
    from itertools import combinations, product

    values = [np.array([0.0, 1.0, 3.0, 4.0]), np.array([2.0, 2.5, 7.0])]
    sizes = [2, 1]  # students on side 1 in each stratum
    splits = [list(combinations(range(len(v)), k)) for v, k in zip(values, sizes)]
    differences = []
    for choice in product(*splits):
        num = den = 0.0
        for v, chosen in zip(values, choice):
            inside = np.isin(np.arange(len(v)), chosen)
            w = inside.sum() * (~inside).sum() / len(v)
            num += w * (v[inside].mean() - v[~inside].mean())
            den += w
        differences.append(num / den)
    out = stratified_mean_comparison([[0.5, 2.0]], [[0.5, 0.0]], [[2, 1]], [[3.5, 4.75]], [[0.5, 10.125]], [[2, 2]])
    half = out["difference_high"][0] - out["difference"][0]
    assert half / 1.959964 == pytest.approx(np.std(differences), rel=1e-5)
    assert out["difference"][0] == pytest.approx((1.0 * -3.0 + 2 / 3 * -2.75) / (1.0 + 2 / 3))


def test_disaggregate_strata_keeps_the_raw_estimate():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"school": rng.choice(["A", "B", "C"], 600), "band": rng.choice(["x", "y"], 600),
                         "unmet": rng.random(600) < 0.4})
    raw = disaggregate(data, "unmet", by="school")
    equal = disaggregate(data, "unmet", by="school", strata="band")
    for column in ("n", "estimate", "low", "high", "comparator_estimate"):
        assert np.allclose(raw[column], equal[column])
    assert set(equal["adjusted_for"]) == {"band"}
    assert "adjusted_for" not in raw
    with pytest.raises(ValueError):
        disaggregate(data.assign(score=rng.random(600)), "score", by="school", strata="band", statistic="median")


def test_clustered_strata_weigh_a_students_repeated_rows_as_one():
    """Every student's row twice (two identical years): on effective counts, the comparison at
    equal strata is the one of the rows once, not twice as sure."""
    rng = np.random.default_rng(3)
    once = pd.DataFrame({"school": rng.choice(["A", "B"], 400), "band": rng.choice(["x", "y"], 400),
                         "unmet": rng.random(400) < 0.4, "student_id": np.arange(400)})
    twice = pd.concat([once, once], ignore_index=True)
    single = disaggregate(once, "unmet", by="school", strata="band")
    clustered = disaggregate(twice, "unmet", by="school", strata="band", cluster="student_id")
    naive = disaggregate(twice, "unmet", by="school", strata="band")
    assert clustered["design_effect"].to_numpy() == pytest.approx(2.0, rel=0.01)
    assert clustered["ratio"].to_numpy() == pytest.approx(single["ratio"].to_numpy())
    assert clustered["pvalue"].to_numpy() == pytest.approx(single["pvalue"].to_numpy(), rel=0.02)
    assert (naive["pvalue"].to_numpy() < 0.9 * single["pvalue"].to_numpy()).all()


# ------------------------------------------------------ unmet need at equal need (simulated)

BANDS = np.array(["2+ behind, pace under 0.5", "2+ behind, pace 0.5 to 1.0", "1 to 2 behind, pace 0.5 to 1.0",
                  "within a level, pace 0.5 to 1.0"])
#: Chance that a student in each band goes without support: the district supports by need.
UNMET_BY_BAND = np.array([0.10, 0.25, 0.55, 0.80])
#: How the students needing support spread over the bands, by school: school A is furthest behind.
BAND_MIX = {"A": [0.55, 0.25, 0.15, 0.05], "B": [0.25, 0.25, 0.25, 0.25], "C": [0.10, 0.15, 0.30, 0.45],
            "D": [0.25, 0.25, 0.25, 0.25]}


def _needy_students(seed: int, n: int = 1600, less_support_at: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    school = rng.choice(list(BAND_MIX), n)
    band = np.empty(n, dtype=int)
    for name, mix in BAND_MIX.items():  # four schools
        inside = school == name
        band[inside] = rng.choice(len(BANDS), inside.sum(), p=mix)
    unmet = UNMET_BY_BAND[band].copy()
    if less_support_at is not None:  # supports fewer of its students at every level of need
        unmet = np.where(school == less_support_at, 1 - (1 - unmet) * 0.6, unmet)
    return pd.DataFrame({"school": school, "need_band": BANDS[band], "unmet_need": rng.random(n) < unmet})


def test_unmet_need_null_flags_raw_but_not_at_equal_need():
    raw_flags = equal_flags = 0
    for seed in range(20):
        data = _needy_students(seed)
        raw_flags += disaggregate(data, "unmet_need", by="school")["flagged"].any()
        equal_flags += disaggregate(data, "unmet_need", by="school", strata="need_band")["flagged"].any()
    assert raw_flags >= 18  # the raw view reads composition as a school's practice
    assert equal_flags <= 3  # at equal need: the nominal false-discovery rate


def test_school_supporting_less_at_equal_need_is_flagged():
    found = 0
    for seed in range(20):
        table = disaggregate(_needy_students(100 + seed, less_support_at="B"), "unmet_need", by="school",
                             strata="need_band")
        flagged = set(table.loc[table["flagged"], "school"].astype(str))
        found += "B" in flagged
        assert table.set_index("school").loc["B", "difference"] > 0
    assert found >= 18


def test_unmet_need_by_subgroup_at_equal_need():
    rng = np.random.default_rng(7)
    false_flags = found = 0
    for seed in range(20):
        data = _needy_students(200 + seed)
        # the groups differ in need (mostly in the schools furthest behind), not in support at equal need
        data["english_learner"] = np.where(rng.random(len(data)) < np.where(data["school"] == "A", 0.6, 0.15),
                                           "Yes", "No")
        false_flags += disaggregate_each(data, "unmet_need", ["english_learner"], strata="need_band")["flagged"].any()
        el = data["english_learner"] == "Yes"
        planted = data.assign(unmet_need=data["unmet_need"] | (el & (rng.random(len(data)) < 0.25)))
        table = disaggregate_each(planted, "unmet_need", ["english_learner"], strata="need_band")
        found += bool(table.loc[table["group"] == "Yes", "flagged"].iloc[0])
    assert false_flags <= 3
    assert found >= 18


def test_need_bands_only_for_flagged_students():
    summary = pd.DataFrame({"levels_behind": [2.5, 1.5, np.nan, 0.2], "pace": [0.2, np.nan, 0.8, 0.9],
                            "flagged": pd.array([True, True, True, False], dtype="boolean")})
    assert need_bands(summary).tolist() == ["2+ levels behind, pace under 0.5", "1 to 2 behind, no pace yet",
                                            "levels behind not known, pace 0.5 to 1.0", pd.NA]


# --------------------------------------------------- discordance at equal evidence (simulated)


def _graded_students(seed: int, n: int = 1500, planted: float = 0.0) -> pd.DataFrame:
    """Grade rows whose chance of "A/B with evidence not yet proficient" depends on the evidence only."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.3, "Yes", "No")
    # the focus group's evidence lies nearer to (just under) the proficient score
    mastery = np.where(group == "Yes", rng.normal(2.75, 0.25, n), rng.normal(3.2, 0.45, n))
    rows = np.repeat(np.arange(n), 4)
    evidence = np.clip(np.round((mastery[rows] + rng.normal(0, 0.1, rows.size)) * 4) / 4, 1, 4)
    points = 1.35 * evidence - 1.05 + rng.normal(0, 0.35, rows.size) + planted * (group[rows] == "Yes")
    table = pd.DataFrame({"student_id": rows, "grade_points": points, "evidence_mean": evidence,
                          "residual": rng.normal(0, 0.3, rows.size), "el": group[rows]})
    below = evidence < 3.0
    table["high_grade_low_evidence"] = ((points >= 3.0) & below).astype(int)
    table["low_grade_high_evidence"] = ((points <= 2.0) & ~below).astype(int)
    return student_grading(table, ["el"])


def test_discordance_null_flags_raw_but_not_at_equal_evidence():
    raw_flags = equal_flags = 0
    for seed in range(20):
        per_student = _graded_students(seed)
        each = dict(statistic="mean")
        raw_flags += disaggregate_each(per_student, "high_grade_low_evidence", ["el"], **each)["flagged"].any()
        equal_flags += disaggregate_each(per_student, "high_grade_low_evidence", ["el"], strata="evidence_band",
                                         **each)["flagged"].any()
    assert raw_flags >= 18
    assert equal_flags <= 3


def test_lenient_grading_at_equal_evidence_is_flagged():
    found = 0
    for seed in range(20):
        table = disaggregate_each(_graded_students(300 + seed, planted=0.3), "high_grade_low_evidence", ["el"],
                                  statistic="mean", strata="evidence_band")
        yes = table[table["group"] == "Yes"].iloc[0]
        found += bool(yes["flagged"]) and yes["difference"] > 0
    assert found >= 18


def test_evidence_bands_start_at_the_proficient_score():
    assert evidence_bands(pd.Series([2.99, 3.0, 3.24, np.nan])).tolist() == [
        "2.75 to 3.00", "3.00 to 3.25", "3.00 to 3.25", pd.NA]



def _rare_discordance(seed, n=1800):
    """Null: a low grade beside proficient evidence on 1 % of such grades, whatever the group.

    Students have 4 or 12 grades around their own mastery (near the proficient
    score), so the few discordant grades cluster in students just above it, as
    in the calibration's null districts; eight groups of about 1 % each.
    """
    rng = np.random.default_rng(seed)
    group = np.minimum((rng.random(n) * 100).astype(int), 8).astype(str)
    rows = np.repeat(np.arange(n), rng.choice([4, 12], n))
    evidence = np.clip(np.round((rng.normal(2.9, 0.25, n)[rows] + rng.normal(0, 0.15, rows.size)) * 4) / 4, 1, 4)
    low = (evidence >= 3.0) & (rng.random(rows.size) < 0.01)
    table = pd.DataFrame({"student_id": rows, "grade_points": 3.0, "evidence_mean": evidence, "residual": 0.0,
                          "g": group[rows], "high_grade_low_evidence": 0, "low_grade_high_evidence": low.astype(int)})
    return student_grading(table, ["g"])


def test_rare_discordance_is_compared_per_student_without_false_flags():
    """A rare yes/no per student is compared as a rate, exactly when small (issue 12).

    As a share of each student's grades compared as a mean, 6 of these 30 null
    districts had a false flag.
    """
    assert set(_rare_discordance(0)["low_grade_high_evidence"].dropna().unique()) == {0.0, 1.0}
    flagged = [bool(disaggregate_each(_rare_discordance(seed), "low_grade_high_evidence", ["g"],
                                      strata="evidence_band")["flagged"].any()) for seed in range(30)]
    assert sum(flagged) <= 1
