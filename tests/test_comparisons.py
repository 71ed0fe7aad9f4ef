"""Valid comparisons (issue 12, Deliver 2), each on simulated data whose truth is set here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equity_audit import stats
from equity_audit.disproportionality import opportunity_gaps, risk_ratios
from equity_audit.trends import trend, trend_sentence


# --------------------------------------------------------------------------- exact thresholds


def test_risk_ratio_of_exactly_three_is_not_flagged_at_three():
    # (10/36) / (10/108) is exactly 3, but 3.0000000000000004 in floating point
    district = pd.DataFrame({"group": ["A", "B"], "outcome": [10, 10], "base": [36, 108]})
    assert (10 / 36) / (10 / 108) > 3.0
    out = risk_ratios(district, min_cell=10, min_n=30, threshold=3.0)
    assert not out.loc["A", "flagged"]
    # one more student with the outcome is above the threshold
    above = risk_ratios(district.assign(outcome=[11, 10]), min_cell=10, min_n=30, threshold=3.0)
    assert above.loc["A", "flagged"]


def test_risk_ratio_threshold_written_as_a_decimal_is_taken_as_written():
    # 11/10 exactly: not above a threshold of 1.1, though 1.1 is not exact in binary
    district = pd.DataFrame({"group": ["A", "B"], "outcome": [11, 30], "base": [100, 300]})
    assert not risk_ratios(district, min_cell=10, min_n=30, threshold=1.1).loc["A", "flagged"]
    assert risk_ratios(district, min_cell=10, min_n=30, threshold=1.09).loc["A", "flagged"]


def test_four_fifths_at_exactly_four_fifths_is_not_flagged():
    # (1/12) / (5/48) is exactly 0.8, 0.7999999999999999 in floating point
    table = pd.DataFrame({"group": ["A", "B"], "outcome": [1, 5], "base": [12, 48]})
    assert (1 / 12) / (5 / 48) < 0.8
    out = opportunity_gaps(table, min_n=10)
    assert not out.loc["A", "four_fifths_flagged"]
    below = opportunity_gaps(table.assign(outcome=[1, 6]), min_n=10)
    assert below.loc["A", "four_fifths_flagged"]
    nobody = opportunity_gaps(table.assign(outcome=[0, 5]), min_n=10)
    assert nobody.loc["A", "four_fifths_flagged"]


# --------------------------------------------------------------------------- shrinkage


def test_shrinkage_with_no_spread_beyond_chance_pools_every_unit():
    rng = np.random.default_rng(5)
    means = 50 + rng.normal(0, 1, 12)            # spread well within chance (se = 10/sqrt(4) = 5)
    variances = np.full(12, 100.0)
    variances[3] = 0.0                            # one unit with no variation at all
    out = stats.shrink_means(means, variances, np.full(12, 4))
    pooled = means[variances > 0].mean()
    np.testing.assert_allclose(out, pooled, rtol=1e-12)
    np.testing.assert_allclose(stats.shrink_rates([3, 5, 4, 4], [20, 20, 20, 20]), 0.2)


def test_shrinkage_with_real_spread_keeps_units_apart():
    out = stats.shrink_means([40.0, 50.0, 60.0], [4.0, 4.0, 4.0], [4, 4, 4])
    assert out[0] < 41 and out[2] > 59


# --------------------------------------------------------------------------- trends


def _gaps(first, last, half=0.03):
    return pd.DataFrame({"school_year": [2024, 2026], "difference": [first, last],
                         "low": [first - half, last - half], "high": [first + half, last + half]})


@pytest.mark.parametrize("first, last, polarity, verdict, for_group", [
    (0.10, 0.02, -1, "narrowing", "better for the group"),    # more suspensions than others, less so now
    (-0.10, -0.02, -1, "narrowing", "worse for the group"),   # fewer than others, less of an advantage now
    (0.02, 0.10, -1, "widening", "worse for the group"),
    (-0.02, -0.10, -1, "widening", "better for the group"),
    (-0.10, -0.02, 1, "narrowing", "better for the group"),   # slower pace than others, catching up
    (0.10, 0.02, 1, "narrowing", "worse for the group"),      # faster pace than others, less so now
    (-0.05, 0.20, -1, "reversed", "worse for the group"),     # through zero and larger the other way
    (0.05, 0.06, -1, "no clear change", "no clear change"),
])
def test_trend_verdict_takes_the_sign_of_the_gap_into_account(first, last, polarity, verdict, for_group):
    result = trend(_gaps(first, last), polarity=polarity)
    assert result["verdict"] == verdict
    assert result["for_group"] == for_group
    sentence = trend_sentence(result, "English learners", "suspension", percent=True)
    assert verdict in sentence
    if for_group != "no clear change":
        assert for_group in sentence


def test_trend_without_polarity_does_not_guess_what_a_change_means():
    assert trend(_gaps(-0.10, -0.02))["for_group"] == "not known"


# --------------------------------------------------------------------------- unit scans: the unit's own part

from equity_audit import scans  # noqa: E402


def _schools(seed, extra=0.0, schools=30, per_school=300, shared=1.0):
    """Schools that share one district gap (log odds ``shared``) for the focus group; school
    S29 has ``extra`` on top. School base rates differ, the focus share too."""
    rng = np.random.default_rng(seed)
    school = np.repeat([f"S{i:02d}" for i in range(schools)], per_school)
    base = np.repeat(rng.normal(-2.2, 0.4, schools), per_school)
    share = np.repeat(rng.uniform(0.15, 0.45, schools), per_school)
    focus = rng.random(school.size) < share
    logit = base + shared * focus + np.where((school == f"S{schools - 1:02d}") & focus, extra, 0.0)
    y = (rng.random(school.size) < 1 / (1 + np.exp(-logit))).astype(int)
    score = 50 + 10 * base + np.where(focus, -6.0, 0.0) + np.where(
        (school == f"S{schools - 1:02d}") & focus, -4 * extra, 0.0) + rng.normal(0, 10, school.size)
    return pd.DataFrame({"school": school, "el": np.where(focus, "Yes", "No"), "y": y, "score": score})


def test_a_gap_every_school_shares_is_not_called_out_by_default():
    called = []
    for seed in range(20):
        data = _schools(seed)
        gaps = scans.scan_gaps(data, unit="school", group="el", focus="Yes", outcome="y")
        called.append(int(gaps["closer_look"].sum()))
        # the shared gap is real: the within-school comparison calls it out in many schools
        if seed == 0:
            within = scans.scan_gaps(data, unit="school", group="el", focus="Yes", outcome="y",
                                     compare="within")
            assert within["closer_look"].sum() >= 5
            assert gaps["elsewhere_difference"].gt(0).all()
    assert sum(c > 0 for c in called) <= 2, called


def test_a_school_with_an_extra_gap_is_called_out():
    found = covered = 0
    for seed in range(10):
        gaps = scans.scan_gaps(_schools(seed, extra=1.5), unit="school", group="el", focus="Yes", outcome="y")
        flagged = gaps.loc[gaps["closer_look"], "school"].tolist()
        found += "S29" in flagged
        assert len(flagged) <= 2
        row = gaps.set_index("school").loc["S29"]
        covered += row["interaction_low"] < 1.5 < row["interaction_high"]   # the planted log odds ratio
        assert row["excess_difference"] > 0
    assert found >= 8 and covered >= 8


def test_mean_gaps_shared_by_every_school_are_not_called_out_but_an_extra_one_is():
    quiet = scans.scan_gaps(_schools(3), unit="school", group="el", focus="Yes", outcome="score")
    assert (quiet["statistic"] == "mean").all() and not quiet["closer_look"].any()
    assert quiet["elsewhere_difference"].between(-8, -4).all()
    loud = scans.scan_gaps(_schools(3, extra=1.5), unit="school", group="el", focus="Yes", outcome="score")
    assert loud.loc[loud["closer_look"], "school"].tolist() == ["S29"]
    row = loud.set_index("school").loc["S29"]
    assert row["interaction_low"] < -6 < row["interaction_high"]


@pytest.mark.parametrize("outcome", ["y", "score"])
def test_one_extreme_school_among_few_does_not_flag_the_others(outcome):
    # with 5 schools, the extreme one would pull "elsewhere" for each of the others; judged against
    # the other schools' own spread, only the extreme school is called out
    called = []
    for seed in range(10):
        gaps = scans.scan_gaps(_schools(seed, extra=2.5, schools=5, per_school=600), unit="school", group="el",
                               focus="Yes", outcome=outcome)
        called.append(gaps.loc[gaps["closer_look"], "school"].tolist())
    assert sum(c == ["S04"] for c in called) >= 7, called
    assert sum(len(set(c) - {"S04"}) for c in called) <= 1, called


def test_leave_one_out_spread_matches_dersimonian_laird_on_the_others():
    rng = np.random.default_rng(5)
    y, v = rng.normal(0, 0.3, 8), rng.uniform(0.01, 0.05, 8)
    out = stats.leave_one_out_pooled(y, v)
    others_y, others_v = np.delete(y, 2), np.delete(v, 2)
    w = 1 / others_v
    fixed = (w * others_y).sum() / w.sum()
    q = (w * (others_y - fixed) ** 2).sum()
    tau2 = max(0.0, (q - (len(others_y) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    w_re = 1 / (others_v + tau2)
    assert out.tau2[2] == pytest.approx(tau2, rel=1e-9)
    assert out.mean[2] == pytest.approx((w_re * others_y).sum() / w_re.sum(), rel=1e-9)
    assert out.variance[2] == pytest.approx(1 / w_re.sum(), rel=1e-9)


def test_the_interaction_matches_a_by_hand_mantel_haenszel_comparison():
    data = _schools(1, schools=4, per_school=400)
    gaps = scans.scan_gaps(data, unit="school", group="el", focus="Yes", outcome="y").set_index("school")
    table = data.assign(f=data["el"] == "Yes").groupby(["school", "f"])["y"].agg(["sum", "count"])
    cells = {s: (table.loc[(s, True), "sum"], table.loc[(s, True), "count"] - table.loc[(s, True), "sum"],
                 table.loc[(s, False), "sum"], table.loc[(s, False), "count"] - table.loc[(s, False), "sum"])
             for s in gaps.index}
    a, b, c, d = cells["S00"]
    own = np.log(a * d / (b * c))
    rest = [cells[s] for s in ("S01", "S02", "S03")]
    mh = sum(a_ * d_ / (a_ + b_ + c_ + d_) for a_, b_, c_, d_ in rest) / \
        sum(b_ * c_ / (a_ + b_ + c_ + d_) for a_, b_, c_, d_ in rest)
    assert gaps.loc["S00", "interaction"] == pytest.approx(own - np.log(mh), rel=1e-10)
    from statsmodels.stats.contingency_tables import StratifiedTable
    strat = StratifiedTable([np.array([[a_, b_], [c_, d_]], float) for a_, b_, c_, d_ in rest])
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d + strat.logodds_pooled_se**2)
    assert gaps.loc["S00", "interaction_high"] - gaps.loc["S00", "interaction"] == pytest.approx(
        1.959964 * se, rel=1e-6)


# --------------------------------------------------------------------------- intersections

from equity_audit.disaggregate import disaggregate, scan_intersections  # noqa: E402


def _correlated(seed, n=4000, interaction=0.0, rate=False):
    """English learners are mostly from low-income families; effects add (plus ``interaction``)."""
    rng = np.random.default_rng(seed)
    el = rng.random(n) < 0.25
    low = rng.random(n) < np.where(el, 0.85, 0.35)
    swd = rng.random(n) < np.where(low, 0.18, 0.10)
    both = el & low
    if rate:
        logit = -1.6 + 0.7 * el + 0.5 * low + 0.4 * swd + interaction * both
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    else:
        y = 1.0 - 0.25 * el - 0.15 * low - 0.1 * swd + interaction * both + rng.normal(0, 0.3, n)
    return pd.DataFrame({"el": el, "low_income": low, "disability": swd, "y": y})


COLUMNS = ["el", "low_income", "disability"]


@pytest.mark.parametrize("rate", [False, True])
def test_correlated_groups_with_additive_effects_raise_no_intersection_flag(rate):
    quiet = sum(not scan_intersections(_correlated(seed, rate=rate), "y", COLUMNS)["beyond_main_effects"].any()
                for seed in range(20))
    assert quiet >= 18


@pytest.mark.parametrize("rate, size", [(False, -0.25), (True, 0.9)])
def test_a_true_interaction_is_flagged(rate, size):
    found = 0
    for seed in range(10):
        scan = scan_intersections(_correlated(seed, interaction=size, rate=rate), "y", COLUMNS)
        flagged = scan.loc[scan["beyond_main_effects"], "intersection"].tolist()
        found += flagged == ["el: Yes × low income: Yes"]
    assert found >= 8


def test_mean_interaction_matches_statsmodels_ols_with_the_cell_indicator():
    import statsmodels.formula.api as smf
    from scipy import stats as sps

    data = _correlated(4, interaction=-0.1)
    table = disaggregate(data, "y", by=["el", "low_income"], adjust_for=COLUMNS)
    cell = table[(table["el"] == "Yes") & (table["low_income"] == "Yes")].iloc[0]
    frame = data.assign(cell=(data["el"] & data["low_income"]).astype(float))
    # heteroscedasticity-robust (HC2) standard error, t on Welch-Satterthwaite degrees of freedom (between
    # the cell's n - 1 and the normal); exact values are checked in test_intersections_valid.py
    fit = smf.ols("y ~ C(el) + C(low_income) + C(disability) + cell", data=frame).fit(cov_type="HC2")
    assert cell["interaction"] == pytest.approx(fit.params["cell"], rel=1e-9)
    assert (cell["interaction_low"] + cell["interaction_high"]) / 2 == pytest.approx(cell["interaction"], rel=1e-9)
    quantile = (cell["interaction_high"] - cell["interaction_low"]) / 2 / fit.bse["cell"]
    assert sps.norm.ppf(0.975) <= quantile <= sps.t.ppf(0.975, frame["cell"].sum() - 1)


def _one_step(null, cell, confidence=0.95):
    """The score test of ``cell`` at the statsmodels fit ``null`` and the one-step update it implies, by hand
    on the students: its p-value, the cell's predicted rate and the interval of its interaction."""
    from scipy.stats import norm

    x, mu, y = null.model.exog, null.mu, null.model.endog
    weight = mu * (1 - mu)
    solved = np.linalg.solve(x.T @ (x * weight[:, None]), x.T @ (weight * cell))
    information = cell @ (weight * cell) - (x.T @ (weight * cell)) @ solved
    gamma = cell @ (y - mu) / information
    moved = x @ (null.params.to_numpy() - solved * gamma)   # one Newton step on the model with the indicator
    inside = cell == 1
    rate = lambda shift: (1 / (1 + np.exp(-(moved[inside] + shift)))).mean()  # noqa: E731
    half = norm.ppf(0.5 + confidence / 2) / np.sqrt(information)
    statistic, pvalue = (float(np.ravel(v)[0]) for v in null.score_test(exog_extra=cell[:, None])[:2])
    return pvalue, rate(0.0), rate(gamma - half) - rate(0.0), rate(gamma + half) - rate(0.0)


def test_rate_interaction_is_the_score_test_of_the_cell_indicator_at_the_main_effects_fit():
    import statsmodels.formula.api as smf
    import statsmodels.api as sm

    data = _correlated(4, interaction=0.5, rate=True)
    table = disaggregate(data, "y", by=["el", "low_income"], adjust_for=COLUMNS)
    cell = table[(table["el"] == "Yes") & (table["low_income"] == "Yes")].iloc[0]
    frame = data.assign(cell=(data["el"] & data["low_income"]).astype(float))
    null = smf.glm("y ~ C(el) + C(low_income) + C(disability)", data=frame, family=sm.families.Binomial()).fit()
    pvalue, predicted, low, high = _one_step(null, frame["cell"].to_numpy())
    assert cell["interaction_pvalue"] == pytest.approx(pvalue, rel=1e-9)
    assert cell["predicted"] == pytest.approx(predicted, rel=1e-9)
    inside = frame["cell"] == 1
    assert cell["interaction"] == pytest.approx(frame.loc[inside, "y"].mean() - predicted, rel=1e-9)
    assert (cell["interaction_low"], cell["interaction_high"]) == pytest.approx((low, high), rel=1e-9)
    # the one-step update is close to refitting with the indicator, and the score test to its Wald test
    fit = smf.glm("y ~ C(el) + C(low_income) + C(disability) + cell", data=frame,
                  family=sm.families.Binomial()).fit()
    eta = fit.predict(frame[inside], which="linear") - fit.params["cell"]
    assert cell["predicted"] == pytest.approx((1 / (1 + np.exp(-eta))).mean(), abs=0.005)
    assert cell["interaction_pvalue"] == pytest.approx(fit.pvalues["cell"], rel=0.05)


def test_a_rare_intersection_gets_an_exact_test():
    rng = np.random.default_rng(109)
    data = _correlated(2, n=600, rate=True)
    data["y"] = (rng.random(len(data)) < 0.02).astype(int)            # rare outcome
    table = disaggregate(data, "y", by=["el", "disability"], min_n=5)
    cell = table[(table["el"] == "Yes") & (table["disability"] == "Yes")].iloc[0]
    x, n = int(data.loc[data["el"] & data["disability"], "y"].sum()), int((data["el"] & data["disability"]).sum())
    assert n * cell["predicted"] < 5
    # the exact test takes the predicted rate as known; the score test of the cell's indicator allows for its
    # error, so the larger of the two is reported (a small cell cannot be flagged on a prediction from few students)
    import statsmodels.api as sm

    design = sm.add_constant(pd.DataFrame({"el": data["el"].astype(float),
                                           "disability": data["disability"].astype(float)}))
    null = sm.GLM(data["y"].astype(float), design, family=sm.families.Binomial()).fit()
    score, predicted, _, _ = _one_step(null, (data["el"] & data["disability"]).to_numpy(float))
    assert cell["predicted"] == pytest.approx(predicted, rel=1e-9)
    exact = float(stats.midp_binomial_pvalue(x, n, predicted))
    assert exact != pytest.approx(score, rel=0.01)   # the two differ, so the larger is the one reported
    # and the Wald test of the refitted indicator (statsmodels), which in a small cell can be larger still
    refit = sm.GLM(data["y"].astype(float), design.assign(both=(data["el"] & data["disability"]).astype(float)),
                   family=sm.families.Binomial()).fit()
    assert cell["interaction_pvalue"] == pytest.approx(max(exact, score, float(refit.pvalues["both"])), rel=1e-4)


def test_an_intersection_the_main_effects_leave_no_information_on_is_not_tested():
    # every success is an English learner's, so the disability effect is fitted on English learners alone and
    # pins both of their cells: nothing is left to test an interaction with (statsmodels' score test gives a
    # meaningless p near 1 from 0/0), so the cells get no p-value and cannot be flagged
    rng = np.random.default_rng(2)
    data = _correlated(2, n=600, rate=True)
    data["y"] = ((rng.random(len(data)) < 0.02) & data["el"]).astype(int)
    table = disaggregate(data, "y", by=["el", "disability"], min_n=5)
    learners = table[(table["el"] == "Yes") & (table["n"] > 0) & (table["disability"] != "Unknown")]
    assert len(learners) == 2 and learners["interaction_pvalue"].isna().all()
    assert learners["interaction"].abs().max() < 1e-9       # the model fits them exactly


# --------------------------------------------------------------------------- the student is the unit


def _student_years(seed, students=300, years=3):
    """Null: the group has no effect, but each student's propensity persists across years."""
    rng = np.random.default_rng(seed)
    student = np.repeat(np.arange(students), years)
    group = np.repeat(rng.random(students) < 0.4, years)
    propensity = np.repeat(np.where(rng.random(students) < 0.25, 0.9, 0.02), years)
    y = (rng.random(student.size) < propensity).astype(int)
    score = np.repeat(rng.normal(0, 1, students), years) + rng.normal(0, 0.3, student.size)
    return pd.DataFrame({"student_id": student, "g": np.where(group, "Yes", "No"), "y": y, "score": score})


@pytest.mark.parametrize("metric", ["y", "score"])
def test_pooled_student_years_cluster_by_student(metric):
    naive = clustered = 0
    for seed in range(60):
        data = _student_years(seed)
        plain = disaggregate(data, metric, by="g").set_index("g").loc["Yes"]
        robust = disaggregate(data, metric, by="g", cluster="student_id").set_index("g").loc["Yes"]
        assert robust["n"] == plain["n"] == (data["g"] == "Yes").sum()
        assert robust["estimate"] == pytest.approx(plain["estimate"])
        assert robust["design_effect"] > 1.5
        naive += plain["pvalue"] < 0.05
        clustered += robust["pvalue"] < 0.05
    assert naive >= 8          # treating 3 years of one student as 3 students: about 1 in 4
    assert clustered <= 7      # nominal 5 %: about 3 of 60


def test_one_row_per_student_is_unchanged_by_clustering():
    data = _student_years(1, years=1)
    plain = disaggregate(data, "y", by="g")
    robust = disaggregate(data, "y", by="g", cluster="student_id")
    for column in ("estimate", "low", "high", "difference_low", "difference_high", "pvalue"):
        np.testing.assert_allclose(robust[column], plain[column], rtol=1e-12)
    np.testing.assert_allclose(robust["design_effect"], 1.0)
    data["school"] = np.where(data["student_id"] % 2 == 0, "A", "B")
    a = scans.scan_gaps(data, unit="school", group="g", focus="Yes", outcome="y")
    b = scans.scan_gaps(data, unit="school", group="g", focus="Yes", outcome="y", cluster="student_id")
    np.testing.assert_allclose(a["pvalue"], b["pvalue"], rtol=1e-12)


def test_gap_scan_clusters_pooled_student_years():
    data = _student_years(3)
    data["school"] = np.where(data["student_id"] % 3 == 0, "A", np.where(data["student_id"] % 3 == 1, "B", "C"))
    gaps = scans.scan_gaps(data, unit="school", group="g", focus="Yes", outcome="y", cluster="student_id")
    assert (gaps["focus_design_effect"] > 1.5).all()
    assert (gaps["focus_n"] + gaps["others_n"]).sum() == len(data)


# --------------------------------------------------------------------------- rare outcomes


def _rare_units(seed, units=40, size=60, rate=0.02):
    rng = np.random.default_rng(seed)
    unit = np.repeat([f"U{i:02d}" for i in range(units)], size)
    focus = rng.random(unit.size) < 0.3
    return pd.DataFrame({"unit": unit, "g": np.where(focus, "Yes", "No"),
                         "y": (rng.random(unit.size) < rate).astype(int)})


def test_rare_outcome_unit_scan_uses_mid_p_not_the_normal_approximation():
    data = _rare_units(0)
    scan = scans.scan_rates(data, unit="unit", outcome="y", overdispersion=False)
    assert scan["exact"].all()
    x = scan["events"].to_numpy()
    np.testing.assert_allclose(scan["pvalue"], stats.midp_binomial_pvalue(x, 60, scan.attrs["target"]),
                               rtol=1e-12)
    normal = 2 * __import__("scipy").stats.norm.sf(np.abs(scan["z"]))
    assert (normal[x >= 4] < scan["pvalue"][x >= 4]).all()      # the normal tail is too thin here
    anyflag = sum(bool(scans.scan_rates(_rare_units(seed), unit="unit", outcome="y")["closer_look"].any())
                  for seed in range(20))
    assert anyflag <= 2


def test_rare_outcome_gap_scan_uses_the_exact_conditional_test():
    data = _rare_units(1, rate=0.05)
    gaps = scans.scan_gaps(data, unit="unit", group="g", focus="Yes", outcome="y", min_n=10)
    small = gaps[gaps["exact"]]
    assert len(small) > 30
    # where the other units' odds ratios show no spread (their maximum-likelihood τ² is 0; with about one
    # event per unit it mostly is not: the likelihood is nearly flat), the p-value is exactly the conditional
    # test against their Mantel-Haenszel odds ratio
    sides = data.assign(f=data["g"] == "Yes").groupby(["unit", "f"])["y"].agg(["sum", "count"]).unstack("f")
    tau2 = stats.leave_one_out_tau2_conditional(sides[("sum", True)], sides[("count", True)],
                                                sides[("sum", False)], sides[("count", False)])
    no_spread = set(sides.index[tau2 == 0])
    row = small[small["unit"].isin(no_spread)].iloc[0]
    assert row["pvalue"] == pytest.approx(float(stats.midp_conditional_pvalue(
        row["focus_events"], row["focus_n"], row["others_events"], row["others_n"],
        _mh_elsewhere(data, row["unit"]))), rel=1e-9)
    anyflag = sum(bool(scans.scan_gaps(_rare_units(seed, rate=0.05), unit="unit", group="g", focus="Yes",
                                       outcome="y")["closer_look"].any()) for seed in range(20))
    assert anyflag <= 2


def _mh_elsewhere(data, unit):
    rest = data[data["unit"] != unit].assign(f=lambda d: d["g"] == "Yes")
    t = rest.groupby(["unit", "f"])["y"].agg(["sum", "count"]).unstack("f")
    a, n1 = t[("sum", True)], t[("count", True)]
    c, n2 = t[("sum", False)], t[("count", False)]
    total = n1 + n2
    return ((a * (n2 - c)) / total).sum() / (((n1 - a) * c) / total).sum()


def test_mid_p_by_enumeration():
    from scipy.stats import binom
    x, n, p = 3, 25, 0.05
    probs = binom.pmf(np.arange(n + 1), n, p)
    lower = probs[:x].sum() + probs[x] / 2
    upper = probs[x + 1:].sum() + probs[x] / 2
    assert float(stats.midp_binomial_pvalue(x, n, p)) == pytest.approx(min(1, 2 * min(lower, upper)), rel=1e-12)


def test_a_main_effect_with_every_student_a_success_leaves_its_cells_untested():
    # every student of group b=Yes has the outcome: the logit main effect is infinite (separation),
    # so its cells cannot be judged against "what the groups alone predict" and must not be flagged
    rng = np.random.default_rng(11)
    n = 2000
    a = np.where(rng.random(n) < 0.5, "Yes", "No")
    b = np.where(rng.random(n) < 0.02, "Yes", "No")
    y = np.where(b == "Yes", 1, (rng.random(n) < 0.7).astype(int))
    table = disaggregate(pd.DataFrame({"a": a, "b": b, "y": y}), "y", by=["a", "b"], min_n=5)
    cells = table[(table["b"] == "Yes") & (table["n"] > 0)]
    assert len(cells) == 2 and cells["interaction_pvalue"].isna().all()
