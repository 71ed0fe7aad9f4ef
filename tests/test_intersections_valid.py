"""Intersections that flag only real interactions (issue 12), on simulated data whose truth is set here.

Groups are correlated as in a real district: one group is mostly English learners, English
learners are mostly from low-income families, and disability is more common among low-income
students. Main effects add; interactions are planted where a test needs one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from equity_audit import stats
from equity_audit.disaggregate import _fine_cells, _grouping_frame, _metric_values, _sandwich, \
    disaggregate, scan_intersections

COLUMNS = ["race", "el", "low_income", "disability"]


def _district(seed, n=2000, *, sd=0.3, el_sd=0.3, el_disability=0.0, group_b_low_income=0.0):
    """Correlated groups with additive main effects, values spread by ``sd`` (English learners'
    by ``el_sd``) and planted interactions of the given sizes (0: none)."""
    rng = np.random.default_rng(seed)
    race = rng.choice(["A", "B", "C", "D"], n, p=[0.2, 0.15, 0.15, 0.5])
    el = rng.random(n) < np.where(race == "A", 0.8, 0.06)
    low = rng.random(n) < np.where(el, 0.8, 0.35)
    swd = rng.random(n) < np.where(low, 0.18, 0.12)
    noise = rng.normal(0, 1, n) * np.where(el, el_sd, sd)
    y = (1.0 - 0.25 * el - 0.15 * low - 0.1 * swd + 0.05 * (race == "B") + noise
         + el_disability * (el & swd) + group_b_low_income * ((race == "B") & low))
    return pd.DataFrame({"race": race, "el": el, "low_income": low, "disability": swd, "y": y})


def _flagged(data):
    scan = scan_intersections(data, "y", COLUMNS)
    return set(scan.loc[scan["beyond_main_effects"], "intersection"])


def test_heteroscedastic_null_with_correlated_groups_raises_no_flag():
    # English learners' values vary four and a half times as much as everyone else's; no interaction
    any_flag = sum(bool(_flagged(_district(seed, sd=0.2, el_sd=0.9))) for seed in range(20))
    assert any_flag <= 2


def test_a_planted_interaction_is_flagged_and_its_overlapping_cell_is_not():
    # group A is 80% English learners, so "race: A × disability: Yes" shares most of its students
    # with the planted cell and departs from the main effects only through it
    runs = [_flagged(_district(seed, el_disability=-0.3)) for seed in range(5)]
    assert all("el: Yes × disability: Yes" in flags for flags in runs)
    assert not any("race: A × disability: Yes" in flags for flags in runs)
    assert sum(flags == {"el: Yes × disability: Yes"} for flags in runs) >= 4


def test_two_separate_interactions_are_both_flagged():
    runs = [_flagged(_district(seed, el_disability=-0.3, group_b_low_income=-0.3)) for seed in range(5)]
    both = {"el: Yes × disability: Yes", "race: B × low income: Yes"}
    assert sum(flags == both for flags in runs) >= 4


def test_the_overlapping_cell_departs_from_main_effects_only_through_the_planted_one():
    scan = scan_intersections(_district(0, el_disability=-0.3), "y", COLUMNS)
    family = scan["interaction_conditional_pvalue"].notna()
    scan["first_pass"] = stats.bh_adjust(scan["interaction_pvalue"].where(family).to_numpy(float)) < 0.05
    scan = scan.set_index("intersection")
    shadow = scan.loc["race: A × disability: Yes"]
    # flagged by the main-effects model alone, nowhere near significant given the planted cell
    assert shadow["first_pass"] and shadow["interaction_conditional_pvalue"] > 0.05
    planted = scan.loc["el: Yes × disability: Yes"]
    assert planted["interaction_conditional_pvalue"] == planted["interaction_pvalue"]


def _student_design(data):
    frame = data.assign(cell=(data["el"] & data["low_income"]).astype(float))
    import statsmodels.formula.api as smf

    return frame, smf.ols("y ~ C(race) + C(el) + C(low_income) + C(disability) + cell", data=frame)


@pytest.mark.parametrize("kind", ["HC0", "HC1", "HC2", "HC3"])
def test_sandwich_from_cell_aggregates_matches_statsmodels(kind):
    data = _district(3, n=1500, sd=0.2, el_sd=0.9)
    frame, model = _student_design(data)
    groups = _grouping_frame(frame, ["race", "el", "low_income", "disability", "cell"])
    fine = _fine_cells(groups, _metric_values(frame["y"]), list(groups), "mean", None)
    # the same columns as the formula's design, built on the fine cells
    x = np.column_stack([np.ones(len(fine)), *[(fine[c].astype(str) == level).to_numpy(float)
                         for c, level in (("race", "B"), ("race", "C"), ("race", "D"), ("el", "Yes"),
                                          ("low_income", "Yes"), ("disability", "Yes"), ("cell", "1.0"))]])
    expected = model.fit(cov_type=kind).cov_params().to_numpy()
    assert _sandwich(fine, x, kind) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_mean_interaction_uses_hc2_and_welch_satterthwaite_degrees_of_freedom():
    data = _district(4, n=1500, sd=0.2, el_sd=0.9, el_disability=-0.1)
    table = disaggregate(data, "y", by=["el", "low_income"], adjust_for=COLUMNS)
    cell = table[(table["el"] == "Yes") & (table["low_income"] == "Yes")].iloc[0]
    frame, model = _student_design(data)
    fit = model.fit(cov_type="HC2")
    # student-level parts of the indicator's HC2 variance: inside the cell and everyone else
    x = model.exog
    bread = np.linalg.inv(x.T @ x)
    weight = (x @ bread)[:, -1]
    leverage = np.einsum("ij,jk,ik->i", x, bread, x)
    part = weight**2 * fit.resid.to_numpy() ** 2 / (1 - leverage)
    inside = frame["cell"].to_numpy() == 1
    v_in, v_out = part[inside].sum(), part[~inside].sum()
    df = (v_in + v_out) ** 2 / (v_in**2 / (inside.sum() - 1) + v_out**2 / ((~inside).sum() - (x.shape[1] - 1)))
    assert np.sqrt(v_in + v_out) == pytest.approx(fit.bse["cell"], rel=1e-9)
    assert cell["interaction"] == pytest.approx(fit.params["cell"], rel=1e-9)
    t = fit.params["cell"] / fit.bse["cell"]
    assert cell["interaction_pvalue"] == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-8)
    half = sps.t.ppf(0.975, df) * fit.bse["cell"]
    assert (cell["interaction_low"], cell["interaction_high"]) == pytest.approx(
        (fit.params["cell"] - half, fit.params["cell"] + half), rel=1e-9)


def test_without_other_columns_the_interaction_test_is_welch():
    rng = np.random.default_rng(5)
    n = 400
    data = pd.DataFrame({"a": rng.random(n) < 0.3, "b": rng.random(n) < 0.5})
    data["y"] = rng.normal(0, np.where(data["a"] & data["b"], 1.0, 0.2), n)
    # a saturated pair of yes/no columns has no main effects left to fit once the cell is in:
    # check the indicator-only model instead, against scipy's Welch test of the cell vs the rest
    from equity_audit.disaggregate import _mean_tests

    groups = _grouping_frame(data, ["a", "b"])
    fine = _fine_cells(groups, _metric_values(data["y"]), ["a", "b"], "mean", None)
    inside = ((fine["a"].astype(str) == "Yes") & (fine["b"].astype(str) == "Yes")).to_numpy()
    gamma, _, _, pvalue = _mean_tests(fine, np.ones((len(fine), 1)), np.where(inside, 0, -1), 1, 0.95)[0]
    cell = data["a"] & data["b"]
    welch = sps.ttest_ind(data.loc[cell, "y"], data.loc[~cell, "y"], equal_var=False)
    assert gamma == pytest.approx(data.loc[cell, "y"].mean() - data.loc[~cell, "y"].mean(), rel=1e-9)
    assert pvalue == pytest.approx(welch.pvalue, rel=1e-8)


def _two_by_two(cells):
    """One row per student from {(gender, el): (successes, n)}."""
    rows = [(g, e, int(i < x)) for (g, e), (x, n) in cells.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["gender", "el", "y"])


def test_small_cell_interaction_allows_for_the_error_of_its_prediction():
    """A cell whose predicted rate rests on a few students of other cells (issue 12).

    In a 2 x 2 table the four cells share one interaction, whose score test
    here gives about 0.0008 (statsmodels on the students). The exact binomial
    test against the predicted rate, taken as known, gave 1e-8 and 1e-38 for
    the men's two cells, so a chance 2 x 2 pattern among some 260 students in
    need was flagged beyond main effects in 30-40 % of null districts.
    """
    import statsmodels.api as sm

    data = _two_by_two({("F", "Yes"): (15, 17), ("F", "No"): (46, 111), ("M", "Yes"): (5, 17),
                        ("M", "No"): (49, 114)})
    table = disaggregate(data, "y", by=["gender", "el"], min_n=10)
    exog = sm.add_constant(pd.DataFrame({"m": (data["gender"] == "M").astype(float),
                                         "el": (data["el"] == "Yes").astype(float)}))
    null = sm.GLM(data["y"], exog, family=sm.families.Binomial()).fit()
    both = ((data["gender"] == "M") & (data["el"] == "Yes")).to_numpy(float)
    score = float(np.ravel(null.score_test(exog_extra=both[:, None])[1])[0])
    tested = table.dropna(subset=["interaction_pvalue"])
    exact = stats.midp_binomial_pvalue(tested["successes"], tested["n"], tested["predicted"])
    small = tested["n"] * np.minimum(tested["predicted"], 1 - tested["predicted"]) < 5
    assert len(tested) == 4 and small.sum() >= 2 and 0.0005 < score < 0.001
    # where the cell is small the exact test is the smallest: the larger of the score test and the refitted
    # indicator's Wald test is reported there (both allow for the prediction's error), the score test elsewhere
    assert (exact[small.to_numpy()] < score).all()
    refit = sm.GLM(data["y"], exog.assign(both=both), family=sm.families.Binomial()).fit()
    wald = float(refit.pvalues["both"])
    expected = np.where(small.to_numpy(), max(score, wald), score)
    # the Wald test from the fit on cell counts agrees with statsmodels' fit on students to its tolerance
    assert tested["interaction_pvalue"].to_numpy() == pytest.approx(expected, rel=1e-4)


def test_the_small_cell_refits_solved_together_are_each_cells_own_fit():
    """The batched IRLS of the small cells' refits gives what one fit per cell gives (issue 16's speed).

    Four refits of one table: three with a cell's indicator, and one whose extra column
    the main effects already span (rank deficient, where the pseudo-inverse takes over).
    """
    from equity_audit.disaggregate import _logit_fit, _logit_fits

    rng = np.random.default_rng(3)
    m = 40
    design = np.column_stack([np.ones(m), rng.integers(0, 2, m), rng.integers(0, 3, m) == 1])
    trials = rng.integers(5, 60, m).astype(float)
    successes = rng.binomial(trials.astype(int), 0.3).astype(float)
    extras = [np.arange(m) == 0, np.arange(m) == 5, np.arange(m) % 7 == 0, design[:, 1] == 1]
    designs = np.stack([np.column_stack([design, extra]).astype(float) for extra in extras])
    params, errors = _logit_fits(successes, trials, designs)
    for k, exog in enumerate(designs):
        one_params, one_errors = _logit_fit(successes, trials, exog)
        assert params[k] == pytest.approx(one_params, rel=1e-10, abs=1e-12)
        # rank deficient: which singular value of about 1e-16 the cut keeps is rounding
        assert errors[k] == pytest.approx(one_errors, rel=1e-12 if k < 3 else 1e-6)


def _district_rates(seed, n=3000, interaction=0.0):
    """:func:`_district`'s correlated groups with a 0/1 outcome: main effects add on the log-odds scale."""
    data = _district(seed, n)
    logit = (-1.0 + 0.6 * data["el"] + 0.4 * data["low_income"] + 0.3 * data["disability"]
             - 0.2 * (data["race"] == "B") + interaction * (data["el"] & data["disability"]))
    rng = np.random.default_rng(seed + 1000)
    return data.assign(y=(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))


@pytest.mark.parametrize("seed, interaction, by", [(0, 0.0, ["race", "el"]), (1, 0.8, ["el", "disability"]),
                                                   (2, 0.0, ["race", "low_income", "disability"]),
                                                   (3, -0.6, ["race", "el", "disability"])])
def test_rate_interaction_pvalues_are_statsmodels_score_tests(seed, interaction, by):
    import statsmodels.api as sm

    data = _district_rates(seed, interaction=interaction)
    table = disaggregate(data, "y", by=by, adjust_for=COLUMNS, min_n=5)
    labels = data[COLUMNS].astype(str).replace({"True": "Yes", "False": "No"})
    exog = sm.add_constant(pd.get_dummies(labels, drop_first=True).astype(float))
    null = sm.GLM(data["y"].astype(float), exog, family=sm.families.Binomial()).fit()
    tested = table.dropna(subset=["interaction_pvalue"])
    assert len(tested) >= 4
    for _, cell in tested.iterrows():
        inside = np.logical_and.reduce([labels[c].to_numpy() == cell[c] for c in by]).astype(float)
        score = float(np.ravel(null.score_test(exog_extra=inside[:, None])[1])[0])
        expected = cell["n"] * min(cell["predicted"], 1 - cell["predicted"])
        exact = float(stats.midp_binomial_pvalue(cell["successes"], cell["n"], cell["predicted"]))
        if expected >= 5:
            assert cell["interaction_pvalue"] == pytest.approx(score, rel=1e-9)
        else:  # a small cell: also the refitted indicator's Wald test, the largest of the three
            refit = sm.GLM(data["y"].astype(float), np.column_stack([exog, inside]),
                           family=sm.families.Binomial()).fit()
            wald = float(np.asarray(refit.pvalues)[-1])
            assert cell["interaction_pvalue"] == pytest.approx(max(exact, score, wald), rel=1e-4)
        assert cell["interaction_low"] < cell["interaction"] < cell["interaction_high"]


@pytest.mark.parametrize("seed, by", [(5, ["race", "el"]), (6, ["race", "low_income", "disability"])])
def test_every_mean_cell_is_the_refitted_model_with_its_indicator(seed, by):
    # the tests of all cells come from one main-effects fit (partitioned regression): each must be what
    # refitting with that cell's indicator gives, HC2 variance and Welch-Satterthwaite t (statsmodels)
    import statsmodels.api as sm

    data = _district(seed, n=1500, sd=0.2, el_sd=0.9, el_disability=-0.1)
    table = disaggregate(data, "y", by=by, adjust_for=COLUMNS, min_n=5)
    labels = data[COLUMNS].astype(str).replace({"True": "Yes", "False": "No"})
    main = sm.add_constant(pd.get_dummies(labels, drop_first=True).astype(float)).to_numpy()
    tested = table.dropna(subset=["interaction_pvalue"])
    assert len(tested) >= 6
    for _, cell in tested.iterrows():
        inside = np.logical_and.reduce([labels[c].to_numpy() == cell[c] for c in by])
        x = np.column_stack([main, inside.astype(float)])
        fit = sm.OLS(data["y"].to_numpy(), x).fit(cov_type="HC2")
        bread = np.linalg.inv(x.T @ x)
        leverage = np.einsum("ij,jk,ik->i", x, bread, x)
        part = (x @ bread)[:, -1] ** 2 * fit.resid**2 / (1 - leverage)
        v_in, v_out = part[inside].sum(), part[~inside].sum()
        df = (v_in + v_out) ** 2 / (v_in**2 / (inside.sum() - 1) + v_out**2 / ((~inside).sum() - main.shape[1]))
        gamma, se = fit.params[-1], fit.bse[-1]
        half = sps.t.ppf(0.975, df) * se
        assert (cell["interaction"], cell["interaction_low"], cell["interaction_high"]) == pytest.approx(
            (gamma, gamma - half, gamma + half), rel=1e-9)
        assert cell["interaction_pvalue"] == pytest.approx(2 * sps.t.sf(abs(gamma) / se, df), rel=1e-8)
