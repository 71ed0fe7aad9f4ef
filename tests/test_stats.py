"""Tests for equity_audit.stats against published worked examples and well-kept libraries.

Sources are cited test by test. Published values are checked at the precision
they were printed with (usually 4 decimals); library cross-checks are tight.
"""
from __future__ import annotations

import ast
import time
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from equity_audit import stats
from equity_audit.stats import (
    beta_binomial_prior,
    bh_adjust,
    funnel_limits,
    james_stein,
    mean_interval,
    newcombe_difference_interval,
    overdispersion,
    posterior_exceedance,
    ratio_interval,
    shrink_means,
    shrink_rates,
    two_proportion_pvalue,
    welch_difference,
    wilson_interval,
)

Z95 = sps.norm.isf(0.025)


# --------------------------------------------------------------------------- module


def test_module_is_ground_floor():
    """No imports from equity_audit (or pandas): numbers in, numbers out."""
    tree = ast.parse(Path(stats.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "typing", "numpy", "scipy"}


def test_all_lists_public_functions_with_examples():
    for name in stats.__all__:
        obj = getattr(stats, name)
        assert obj.__doc__, name
        if callable(obj) and not isinstance(obj, type):
            assert "Examples\n    --------\n    >>>" in obj.__doc__, name


def test_accepts_lists_series_and_scalars():
    low_list, high_list = wilson_interval([81, 15], [263, 148])
    low_ser, high_ser = wilson_interval(pd.Series([81, 15]), pd.Series([263, 148]))
    assert isinstance(low_ser, np.ndarray)
    np.testing.assert_array_equal(low_list, low_ser)
    low, high = wilson_interval(81, 263)
    assert np.ndim(low) == 0 and isinstance(float(low), float)


# --------------------------------------------------------------------------- Wilson


# Newcombe RG (1998a) "Two-sided confidence intervals for the single proportion:
# comparison of seven methods", Stat Med 17:857-872, Table I, method 3 (Wilson
# score, no continuity correction).
NEWCOMBE_1998A = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("x, n, low, high", NEWCOMBE_1998A)
def test_wilson_newcombe_1998a(x, n, low, high):
    got_low, got_high = wilson_interval(x, n)
    assert round(float(got_low), 4) == low
    assert round(float(got_high), 4) == high


def test_wilson_vectorised_matches_published_and_statsmodels():
    x, n, low, high = map(np.array, zip(*NEWCOMBE_1998A))
    got_low, got_high = wilson_interval(x, n)
    np.testing.assert_array_equal(np.round(got_low, 4), low)
    np.testing.assert_array_equal(np.round(got_high, 4), high)
    ref_low, ref_high = proportion_confint(x, n, method="wilson")
    np.testing.assert_allclose(got_low, ref_low, atol=1e-12)
    np.testing.assert_allclose(got_high, ref_high, atol=1e-12)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_grid_matches_statsmodels(confidence):
    n = np.repeat(np.arange(1, 41), 41)
    x = np.tile(np.arange(41), 40)
    keep = x <= n
    x, n = x[keep], n[keep]
    low, high = wilson_interval(x, n, confidence)
    ref_low, ref_high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_wilson_edges():
    low, high = wilson_interval([0, 7, 0, np.nan, 3], [7, 7, 0, 10, np.nan])
    assert low[0] == 0.0 and high[1] == 1.0  # exactly, not -1e-17 or 1 - 1e-16
    assert np.isnan(low[2]) and np.isnan(high[2])  # n == 0
    assert np.isnan(low[3:]).all() and np.isnan(high[3:]).all()  # NaN in, NaN out
    empty_low, empty_high = wilson_interval([], [])
    assert empty_low.shape == (0,) and empty_high.shape == (0,)
    grid_low, _ = wilson_interval(np.ones((2, 3)), np.full((2, 3), 4))
    assert grid_low.shape == (2, 3)


@pytest.mark.parametrize("x, n", [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(x, n):
    with pytest.raises(ValueError):
        wilson_interval(x, n)


@pytest.mark.parametrize("confidence", [0, 1, 95])
def test_wilson_rejects_bad_confidence(confidence):
    with pytest.raises(ValueError):
        wilson_interval(1, 5, confidence)


# --------------------------------------------------------------------------- Newcombe difference


# Newcombe RG (1998b) "Interval estimation for the difference between
# independent proportions: comparison of eleven methods", Stat Med 17:873-890,
# Table II, method 10 (score interval from the two Wilson intervals, no CC).
NEWCOMBE_1998B = [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
]


@pytest.mark.parametrize("x1, n1, x2, n2, low, high", NEWCOMBE_1998B)
def test_newcombe_method10_1998b(x1, n1, x2, n2, low, high):
    got_low, got_high = newcombe_difference_interval(x1, n1, x2, n2)
    assert round(float(got_low), 4) == low
    assert round(float(got_high), 4) == high


def test_newcombe_method10_6_of_7_vs_2_of_7_by_hand():
    # Newcombe (1998b) Table II, example (c): 0.0582 to 0.8062.
    # Wilson intervals 6/7 -> (0.4869, 0.9743) and 2/7 -> (0.0822, 0.6411);
    # low = 4/7 - sqrt((6/7 - l1)^2 + (u2 - 2/7)^2), high likewise.
    (l1, u1), (l2, u2) = wilson_interval(6, 7), wilson_interval(2, 7)
    d = 6 / 7 - 2 / 7
    low, high = newcombe_difference_interval(6, 7, 2, 7)
    assert float(low) == pytest.approx(d - np.hypot(6 / 7 - l1, u2 - 2 / 7), abs=1e-15)
    assert float(high) == pytest.approx(d + np.hypot(u1 - 6 / 7, 2 / 7 - l2), abs=1e-15)
    assert (round(float(low), 4), round(float(high), 4)) == (0.0582, 0.8062)


def test_newcombe_matches_statsmodels_newcomb():
    rng = np.random.default_rng(1998)
    n1, n2 = rng.integers(1, 80, 200), rng.integers(1, 80, 200)
    x1, x2 = rng.binomial(n1, 0.4), rng.binomial(n2, 0.3)
    low, high = newcombe_difference_interval(x1, n1, x2, n2)
    for i in range(0, 200, 7):
        ref = confint_proportions_2indep(x1[i], n1[i], x2[i], n2[i], method="newcomb")
        assert (low[i], high[i]) == pytest.approx(ref, abs=1e-12)


def test_newcombe_edges():
    low, high = newcombe_difference_interval([0, 0, np.nan], [0, 5, 5], [1, 0, 1], [4, 0, 5])
    assert np.isnan(low).all() and np.isnan(high).all()
    low, high = newcombe_difference_interval([], [], [], [])
    assert low.shape == (0,)


# --------------------------------------------------------------------------- Katz ratio


def test_ratio_interval_katz_by_hand():
    # 10/50 vs 5/50: RR = 2, se(log RR) = sqrt(1/10 - 1/50 + 1/5 - 1/50) = sqrt(0.26),
    # interval 2·exp(±1.959964·0.509902) = (0.7362, 5.4332).
    low, high = ratio_interval(10, 50, 5, 50)
    se = np.sqrt(0.26)
    assert float(low) == pytest.approx(2 * np.exp(-Z95 * se), rel=1e-12)
    assert float(high) == pytest.approx(2 * np.exp(Z95 * se), rel=1e-12)
    assert (round(float(low), 4), round(float(high), 4)) == (0.7362, 5.4332)


def test_ratio_interval_matches_statsmodels():
    x1, n1, x2, n2 = [10, 3, 40, 7], [50, 12, 60, 7], [5, 9, 20, 2], [50, 30, 90, 11]
    low, high = ratio_interval(x1, n1, x2, n2, confidence=0.9)
    for i in range(4):
        table = np.array([[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]])
        # shift_zeros=False: statsmodels otherwise adds 0.5 to the 7/7 row's empty cell
        ref = Table2x2(table, shift_zeros=False).riskratio_confint(alpha=0.1)
        assert (low[i], high[i]) == pytest.approx(ref, rel=1e-12)


def test_ratio_interval_zero_counts_and_correction():
    low, high = ratio_interval([0, 4, 0, 4], [50, 50, 0, 50], [5, 0, 5, 5], [50, 50, 50, 50])
    assert np.isnan(low[:3]).all() and np.isnan(high[:3]).all()
    assert np.isfinite(low[3])
    # Correction 0.5 where a numerator is 0: 0.5/51 vs 5.5/51, by hand:
    # RR = 1/11, se = sqrt(1/0.5 - 1/51 + 1/5.5 - 1/51).
    low, high = ratio_interval([0, 4], [50, 50], [5, 5], [50, 50], correction=0.5)
    se = np.sqrt(2 - 1 / 51 + 1 / 5.5 - 1 / 51)
    assert low[0] == pytest.approx(np.exp(np.log(1 / 11) - Z95 * se), rel=1e-12)
    assert high[0] == pytest.approx(np.exp(np.log(1 / 11) + Z95 * se), rel=1e-12)
    # the row without a zero is not corrected
    assert (low[1], high[1]) == tuple(float(v) for v in ratio_interval(4, 50, 5, 50))


# --------------------------------------------------------------------------- BH


# Benjamini Y, Hochberg Y (1995) JRSS-B 57:289-300, section 4.2: the 15 p-values.
BH_1995 = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000])


def test_bh_benjamini_hochberg_1995_example():
    adjusted = bh_adjust(BH_1995)
    assert (adjusted <= 0.05).sum() == 4  # BH at q = 0.05 rejects four
    assert (BH_1995 <= 0.05 / 15).sum() == 3  # Bonferroni rejects three
    reject, ref, _, _ = multipletests(BH_1995, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(adjusted, ref, rtol=1e-12)
    np.testing.assert_array_equal(adjusted <= 0.05, reject)
    # by hand: p(4)·15/4 = 0.035625, and p(5)·15/5 = 0.0603 > 0.05
    assert adjusted[3] == pytest.approx(0.035625) and adjusted[4] == pytest.approx(0.0603)


def test_bh_preserves_input_order():
    rng = np.random.default_rng(57)
    order = rng.permutation(15)
    shuffled = BH_1995[order]
    np.testing.assert_allclose(bh_adjust(shuffled), bh_adjust(BH_1995)[order], rtol=1e-15)
    np.testing.assert_allclose(
        bh_adjust(shuffled), multipletests(shuffled, method="fdr_bh")[1], rtol=1e-12
    )


def test_bh_nan_not_counted_and_shapes():
    with_nan = np.insert(BH_1995, [0, 7, 15], np.nan)
    adjusted = bh_adjust(with_nan)
    assert np.isnan(adjusted[[0, 8, 17]]).all()
    np.testing.assert_allclose(adjusted[~np.isnan(with_nan)], bh_adjust(BH_1995), rtol=1e-15)
    assert bh_adjust([]).shape == (0,)
    assert np.isnan(bh_adjust([np.nan, np.nan])).all()
    grid = bh_adjust(BH_1995.reshape(3, 5))
    assert grid.shape == (3, 5)
    np.testing.assert_allclose(grid.ravel(), bh_adjust(BH_1995))
    ties = bh_adjust([0.01, 0.01, 0.04])
    assert ties[0] == ties[1] == pytest.approx(0.015)
    with pytest.raises(ValueError):
        bh_adjust([0.5, 1.2])


# --------------------------------------------------------------------------- Efron & Morris


# Efron B, Morris C (1975) JASA 70:311-319, Table 1; (1977) Scientific American
# 236(5):119-127: hits in the first 45 at-bats of the 1970 season.
BATTERS = ["Clemente", "F. Robinson", "F. Howard", "Johnstone", "Berry", "Spencer",
           "Kessinger", "L. Alvarado", "Santo", "Swoboda", "Unser", "Williams", "Scott",
           "Petrocelli", "E. Rodriguez", "Campaneris", "Munson", "Alvis"]
HITS = np.array([18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7])
AT_BATS = 45


def _baseball():
    y = HITS / AT_BATS
    grand = y.mean()
    return y, grand, grand * (1 - grand) / AT_BATS


def test_james_stein_efron_morris_baseball():
    y, grand, sigma2 = _baseball()
    z = james_stein(y, sigma2)
    c = (z[0] - grand) / (y[0] - grand)
    assert round(grand, 3) == 0.265
    assert round(c, 3) == 0.212
    assert round(float(z[0]), 3) == 0.294  # Clemente
    assert round(float(z[-1]), 3) == 0.242  # Alvis
    np.testing.assert_allclose(z - grand, c * (y - grand), atol=1e-15)


def test_shrink_rates_on_baseball_lands_near_james_stein():
    """Same data through the beta-binomial moment estimator.

    With equal n the moment estimator's shrinking factor is about
    1 − (I − 1)σ²/Σ(y − ȳ)² (with I − 1 = 17) where James–Stein's is
    1 − (k − 3)σ²/Σ(y − ȳ)² (k − 3 = 15). Here Σ(y − ȳ)²/σ² ≈ 19.0, barely above
    17, so the factor is 0.107 instead of 0.212: shrink_rates pulls about twice
    as hard, and lands within 0.015 of the James–Stein values (largest gap
    0.0141, Clemente: 0.280 vs 0.294).
    """
    y, grand, sigma2 = _baseball()
    z = james_stein(y, sigma2)
    posterior = shrink_rates(HITS, np.full(18, AT_BATS))
    # every estimate moves toward the grand mean, none crosses it
    assert np.all(np.abs(posterior - grand) <= np.abs(y - grand))
    assert np.all(np.sign(posterior - grand) == np.sign(y - grand))
    # the order is preserved (ties stay tied)
    np.testing.assert_array_equal(np.sign(np.diff(posterior)), np.sign(np.diff(y)))
    assert np.abs(posterior - z).max() < 0.015
    factor = (posterior[0] - grand) / (y[0] - grand)
    assert round(factor, 3) == 0.107
    spread = ((y - grand) ** 2).sum() / sigma2
    assert factor == pytest.approx(1 - 17 / spread, abs=0.001)
    assert round(float(posterior[0]), 3) == 0.280 and round(float(posterior[-1]), 3) == 0.254


def test_james_stein_edges():
    assert np.array_equal(james_stein([0.3, 0.3, 0.3, 0.3], 0.01), [0.3] * 4)
    out = james_stein([0.1, np.nan, 0.2, 0.3, 0.5], 0.001)
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2, 3, 4]]).all()
    # spread below chance: c would be negative; positive part stops at the mean
    y = np.array([0.20, 0.21, 0.22, 0.23, 0.24])
    assert np.allclose(james_stein(y, 0.01), y.mean())
    raw = james_stein(y, 0.01, positive_part=False)
    assert np.all(np.sign(raw - y.mean()) == -np.sign(y - y.mean()))
    assert james_stein([], 0.01).shape == (0,)


# --------------------------------------------------------------------------- shrink_rates


def test_shrink_rates_three_units_by_hand():
    # x = 1, 6, 12 of n = 10, 20, 30. By hand, in exact fractions:
    # μ = 19/60; S = 10(13/60)² + 20(1/60)² + 30(5/60)² = 41/60;
    # μ(1-μ) = 19·41/3600, so S/μ(1-μ) = 60/19; N - Σn²/N = 60 - 1400/60 = 110/3;
    # ρ = (60/19 - 2)/(110/3) = 3/95; M = 95/3 - 1 = 92/3; μM = 437/45;
    # posteriors (x + 437/45)/(n + 92/3) = 1446/5490, 2121/6840, 2931/8190.
    x, n = [1, 6, 12], [10, 20, 30]
    prior = beta_binomial_prior(x, n)
    assert prior.rho == pytest.approx(3 / 95, rel=1e-12)
    assert prior.strength == pytest.approx(92 / 3, rel=1e-12)
    np.testing.assert_allclose(prior.mean, 19 / 60, rtol=1e-15)
    expected = [float(F(1446, 5490)), float(F(2121, 6840)), float(F(2931, 8190))]
    np.testing.assert_allclose(shrink_rates(x, n), expected, rtol=1e-12)
    # the arithmetic above, redone in exact fractions
    mu = F(19, 60)
    s = sum(ni * (F(xi, ni) - mu) ** 2 for xi, ni in zip(x, n))
    rho = (s / (mu * (1 - mu)) - 2) / (60 - F(1400, 60))
    assert (s, rho, 1 / rho - 1) == (F(41, 60), F(3, 95), F(92, 3))


def test_shrink_rates_prior_mean_by_hand():
    # Same units, shrunk toward 0.3 each (a per-unit prior, here constant):
    # S = 10(0.1-0.3)² + 20(0.3-0.3)² + 30(0.4-0.3)² = 0.7; mean π(1-π) = 0.21;
    # ρ = (0.7/0.21 - 2)/(110/3) = 2/55; M = 53/2; posterior (x + 0.3·26.5)/(n + 26.5).
    x, n = np.array([1, 6, 12]), np.array([10, 20, 30])
    prior = beta_binomial_prior(x, n, prior_mean=[0.3, 0.3, 0.3])
    assert prior.rho == pytest.approx(2 / 55, rel=1e-12)
    assert prior.strength == pytest.approx(26.5, rel=1e-12)
    np.testing.assert_allclose(
        shrink_rates(x, n, prior_mean=[0.3, 0.3, 0.3]), (x + 7.95) / (n + 26.5), rtol=1e-12
    )
    # a prior equal to the pooled rate everywhere is the default
    np.testing.assert_allclose(shrink_rates(x, n, prior_mean=19 / 60), shrink_rates(x, n))


def test_shrink_rates_prior_mean_full_pooling_to_each_prior():
    # priors 0.15, 0.3, 0.3: S = 10(0.05)² + 0 + 30(0.1)² = 0.325;
    # mean π(1-π) = (10·0.1275 + 50·0.21)/60 = 0.19625; S/0.19625 = 1.656 < I-1 = 2,
    # so ρ = 0 and each unit gets its own prior.
    priors = [0.15, 0.3, 0.3]
    assert beta_binomial_prior([1, 6, 12], [10, 20, 30], prior_mean=priors).rho == 0
    np.testing.assert_allclose(shrink_rates([1, 6, 12], [10, 20, 30], prior_mean=priors), priors)


def test_shrink_rates_rho_zero_is_full_pooling():
    # 3, 5, 4 of 20: μ = 0.2, S/μ(1-μ) = 20·0.005/0.16 = 0.625 < 2, so ρ = 0, M = ∞.
    prior = beta_binomial_prior([3, 5, 4], [20, 20, 20])
    assert prior.rho == 0 and np.isinf(prior.strength)
    np.testing.assert_allclose(shrink_rates([3, 5, 4], [20, 20, 20]), 0.2)


def test_shrink_rates_rho_capped_at_one():
    # 0/2 and 2/2: μ = 0.5, S/μ(1-μ) = 4, ρ = (4 - 1)/(4 - 2) = 1.5 → capped to 1, M = 0.
    prior = beta_binomial_prior([0, 2], [2, 2])
    assert prior.rho == 1 and prior.strength == 0
    np.testing.assert_array_equal(shrink_rates([0, 2], [2, 2]), [0.0, 1.0])


def test_shrink_rates_edges():
    x = [1, 6, 12, np.nan, 0, 3]
    n = [10, 20, 30, 10, 0, np.nan]
    out = shrink_rates(x, n)
    # NaN and n == 0 units do not enter the estimate
    np.testing.assert_allclose(out[:3], shrink_rates([1, 6, 12], [10, 20, 30]), rtol=1e-14)
    assert np.isnan(out[3]) and np.isnan(out[5])
    assert out[4] == pytest.approx(19 / 60)  # n == 0 gets the prior mean
    assert shrink_rates([], []).shape == (0,)
    np.testing.assert_allclose(shrink_rates([0, 0, 0], [5, 9, 3]), 0.0)  # μ = 0
    np.testing.assert_allclose(shrink_rates([5, 9, 3], [5, 9, 3]), 1.0)  # μ = 1
    assert shrink_rates([3], [10]) == pytest.approx(0.3)  # one unit
    with pytest.raises(ValueError):
        shrink_rates([3, 4], [2, 10])
    with pytest.raises(ValueError):
        shrink_rates([1, 2], [10, 10], prior_mean=[0.5, 1.5])


def test_shrink_rates_small_units_move_most():
    x = np.array([2, 20, 200, 30])
    n = np.array([4, 40, 400, 100])
    out = shrink_rates(x, n)
    mu = x.sum() / n.sum()
    moved = np.abs(out[:3] - x[:3] / n[:3]) / np.abs(x[:3] / n[:3] - mu)
    assert moved[0] > moved[1] > moved[2]


def test_posterior_exceedance():
    x, n = np.array([1, 6, 12]), np.array([10, 20, 30])
    prior = beta_binomial_prior(x, n)
    a, b = x + prior.mean * prior.strength, n - x + (1 - prior.mean) * prior.strength
    np.testing.assert_allclose(
        posterior_exceedance(x, n, 0.35), sps.beta.sf(0.35, a, b), rtol=1e-12
    )
    # full pooling: point mass at μ = 0.2
    np.testing.assert_array_equal(posterior_exceedance([3, 5, 4], [20, 20, 20], 0.1), 1.0)
    np.testing.assert_array_equal(posterior_exceedance([3, 5, 4], [20, 20, 20], 0.3), 0.0)
    # M = 0: 0/2 is a point mass at 0, 2/2 at 1
    np.testing.assert_array_equal(posterior_exceedance([0, 2], [2, 2], 0.5), [0.0, 1.0])


# --------------------------------------------------------------------------- shrink_means


def test_shrink_means_by_hand():
    # means 60, 70, 80, σ² = 100, n = 4: v = 25, w = 0.04, m = 70;
    # Q = 0.04·200 = 8; τ² = (8 - 2)/(0.12 - 0.0048/0.12) = 75; B = 75/100.
    np.testing.assert_allclose(shrink_means([60, 70, 80], [100] * 3, [4] * 3), [62.5, 70, 77.5])


def test_shrink_means_matches_statsmodels_dl():
    rng = np.random.default_rng(7)
    n = rng.integers(5, 60, 25)
    sd = rng.uniform(5, 15, 25)
    y = rng.normal(50, 4, 25) + rng.normal(0, sd / np.sqrt(n))
    v = sd**2 / n
    ref = combine_effects(y, v, method_re="dl")
    m = (y / v).sum() / (1 / v).sum()
    expected = m + ref.tau2 / (ref.tau2 + v) * (y - m)
    assert ref.tau2 > 0
    np.testing.assert_allclose(shrink_means(y, sd**2, n), expected, rtol=1e-10)


def test_shrink_means_prior_and_edges():
    # prior 65 everywhere: Q = 0.04(25 + 25 + 225) = 11; τ² = (11 - 2)/0.08 = 112.5
    out = shrink_means([60, 70, 80], [100] * 3, [4] * 3, prior_mean=65)
    np.testing.assert_allclose(out, 65 + 112.5 / 137.5 * np.array([-5, 5, 15]))
    # no excess spread: full pooling to the weighted mean
    np.testing.assert_allclose(shrink_means([69, 70, 71], [100] * 3, [4] * 3), 70)
    out = shrink_means(
        [60, 70, 80, np.nan, 90, 55], [100, 100, 100, 100, 100, 0], [4, 4, 4, 4, 0, 3]
    )
    np.testing.assert_allclose(out[:3], [62.5, 70, 77.5])
    assert np.isnan(out[3]) and np.isnan(out[4]) and out[5] == 55  # σ² = 0: exact
    assert shrink_means([], [], []).shape == (0,)


# --------------------------------------------------------------------------- means


def test_mean_interval_matches_scipy_t():
    mean, sd, n = np.array([10.0, 3.2, -1.0]), np.array([2.0, 0.5, 4.0]), np.array([16, 2, 300])
    low, high = mean_interval(mean, sd, n, confidence=0.9)
    ref_low, ref_high = sps.t.interval(0.9, n - 1, loc=mean, scale=sd / np.sqrt(n))
    np.testing.assert_allclose(low, ref_low, rtol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-12)


def test_mean_interval_edges():
    low, high = mean_interval([1.0, 1.0, 1.0, np.nan], [1.0, 1.0, np.nan, 1.0], [0, 1, 5, 5])
    assert np.isnan(low).all() and np.isnan(high).all()
    low, high = mean_interval(4.0, 0.0, 10)
    assert low == high == 4.0
    assert mean_interval([], [], [])[0].shape == (0,)
    with pytest.raises(ValueError):
        mean_interval(1.0, -1.0, 5)


def test_welch_matches_scipy():
    rng = np.random.default_rng(1947)
    a, b = rng.normal(10, 2, 14), rng.normal(8.5, 5, 23)
    m1, s1, m2, s2 = a.mean(), a.std(ddof=1), b.mean(), b.std(ddof=1)
    res = welch_difference(m1, s1, a.size, m2, s2, b.size, confidence=0.9)
    ref = sps.ttest_ind_from_stats(m1, s1, a.size, m2, s2, b.size, equal_var=False)
    assert float(res.pvalue) == pytest.approx(ref.pvalue, rel=1e-10)
    interval = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert (float(res.low), float(res.high)) == pytest.approx(tuple(interval), rel=1e-10)
    assert float(res.difference) == pytest.approx(m1 - m2)
    difference, low, high, pvalue = res  # plain tuple unpacking works


def test_welch_vectorised_and_edges():
    s1, n1 = np.array([1.0, 1.0, 0.0, 1.0]), np.array([10, 1, 10, 10])
    s2, n2 = np.array([2.0, 2.0, 0.0, 2.0]), np.array([12, 12, 12, 12])
    res = welch_difference(5.0, s1, n1, 4.0, s2, n2)
    ref = sps.ttest_ind_from_stats(5.0, 1.0, 10, 4.0, 2.0, 12, equal_var=False)
    assert res.pvalue[0] == pytest.approx(ref.pvalue) and res.pvalue[3] == res.pvalue[0]
    assert np.isnan([res.low[1], res.high[1], res.pvalue[1]]).all()  # n < 2
    assert np.isnan([res.low[2], res.pvalue[2]]).all()  # both sd zero
    np.testing.assert_array_equal(res.difference, 1.0)


# --------------------------------------------------------------------------- two proportions


def _fisher(x1, n1, x2, n2):
    return sps.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue


def test_two_proportion_small_cells_match_fisher_exact():
    rng = np.random.default_rng(35)
    n1, n2 = rng.integers(1, 25, 400), rng.integers(1, 25, 400)
    x1, x2 = rng.binomial(n1, 0.3), rng.binomial(n2, 0.5)
    got = two_proportion_pvalue(x1, n1, x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    small = np.minimum(n1, n2) * np.minimum(pooled, 1 - pooled) < 5
    assert small.sum() > 300
    ref = np.array([_fisher(*t) for t in zip(x1[small], n1[small], x2[small], n2[small])])
    np.testing.assert_allclose(got[small], ref, rtol=1e-9, atol=1e-14)


def test_two_proportion_large_cells_use_pooled_z():
    x1, n1 = np.array([120, 30, 55]), np.array([400, 100, 90])
    x2, n2 = np.array([80, 30, 40]), np.array([400, 120, 100])
    got = two_proportion_pvalue(x1, n1, x2, n2)
    for i in range(3):
        ref = proportions_ztest([x1[i], x2[i]], [n1[i], n2[i]])[1]
        assert got[i] == pytest.approx(ref, rel=1e-12)
        table = [[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]]
        chi2 = sps.chi2_contingency(table, correction=False)
        assert got[i] == pytest.approx(chi2.pvalue, rel=1e-10)


def test_two_proportion_rule_boundary():
    # 5/10 vs 5/10 pooled 0.5: smallest expected count 10·0.5 = 5 -> z test (p = 1 either way);
    # 1/10 vs 10/40: pooled 11/50, 10·0.22 = 2.2 < 5 -> Fisher;
    # 10/20 vs 0/20: pooled 0.25, 20·0.25 = 5 -> z test, not Fisher.
    got = two_proportion_pvalue([1, 10], [10, 20], [10, 0], [40, 20])
    assert got[0] == pytest.approx(_fisher(1, 10, 10, 40), rel=1e-12)
    assert got[1] == pytest.approx(proportions_ztest([10, 0], [20, 20])[1], rel=1e-12)
    assert got[1] != pytest.approx(_fisher(10, 20, 0, 20), rel=1e-3)


def test_two_proportion_large_n_with_rare_outcome_stays_exact():
    # a rare outcome in big groups: expected count 700·700/100000 < 5, support 701 tables
    got = two_proportion_pvalue([3, 0], [700, 10], [697, 0], [99300, 12])
    assert got[0] == pytest.approx(_fisher(3, 700, 697, 99300), rel=1e-8)
    assert got[1] == 1.0  # nobody succeeded in either group


def test_two_proportion_edges():
    got = two_proportion_pvalue([0, 1, np.nan], [0, 5, 5], [1, 0, 1], [5, 0, 5])
    assert np.isnan(got).all()
    assert two_proportion_pvalue([], [], [], []).shape == (0,)
    with pytest.raises(ValueError):
        two_proportion_pvalue(1.5, 5, 1, 5)
    with pytest.raises(ValueError):
        two_proportion_pvalue(6, 5, 1, 5)


def test_vectorised_at_scale():
    """100,000 cells at once, small cells included, in well under a loop's time."""
    rng = np.random.default_rng(100_000)
    n1, n2 = rng.integers(0, 40, 100_000), rng.integers(0, 300, 100_000)
    x1, x2 = rng.binomial(n1, 0.2), rng.binomial(n2, 0.25)
    start = time.perf_counter()
    p = two_proportion_pvalue(x1, n1, x2, n2)
    wilson_interval(x1, n1)
    newcombe_difference_interval(x1, n1, x2, n2)
    bh_adjust(p)
    shrink_rates(x1, n1)
    assert time.perf_counter() - start < 5
    for i in rng.choice(np.flatnonzero((n1 > 0) & (n2 > 0) & (n1 < 8)), 20, replace=False):
        assert p[i] == pytest.approx(_fisher(x1[i], n1[i], x2[i], n2[i]), rel=1e-9)


# --------------------------------------------------------------------------- funnel plots


def test_funnel_limits_by_hand():
    # p0 = 0.2, n = 100, z = 3.090232: 0.2 ± 3.090232·0.04 = (0.07639, 0.32361)
    low, high = funnel_limits(0.2, [25, 100], 3.090232)
    assert low[1] == pytest.approx(0.2 - 3.090232 * 0.04)
    assert high[1] == pytest.approx(0.2 + 3.090232 * 0.04)
    assert low[0] == 0.0  # 0.2 - 3.09·0.08 < 0, truncated
    low_od, high_od = funnel_limits(0.2, 100, 3.090232, tau2=0.0009)
    assert float(high_od) == pytest.approx(0.2 + 3.090232 * 0.05)
    low, high = funnel_limits(0.2, [0, np.nan], 1.96)
    assert np.isnan(low).all() and np.isnan(high).all()
    low, high = funnel_limits([0.1, 0.5], 50, [[1.96], [3.09]])
    assert low.shape == (2, 2)


def test_overdispersion_by_hand():
    # Sorted z: -2.5 -1 -0.5 0 0.3 0.8 1.2 1.9 2.4 6. Type-7 10% quantile
    # -2.5 + 0.9·1.5 = -1.15; 90% quantile 2.4 + 0.1·3.6 = 2.76. Winsorised squares sum
    # 1.3225+1+0.25+0+0.09+0.64+1.44+3.61+5.76+7.6176 = 21.7301 -> φ = 2.17301.
    # w = 400 each: τ² = (21.7301 - 9)/(4000 - 160000/4000) = 12.7301/3600.
    z = np.array([0.3, -2.5, 6.0, -1.0, 0.0, 2.4, -0.5, 1.2, 0.8, 1.9])
    phi, tau2 = overdispersion(z, weights=np.full(10, 400.0))
    assert phi == pytest.approx(2.17301, rel=1e-12)
    assert tau2 == pytest.approx(12.7301 / 3600, rel=1e-12)


def test_overdispersion_edges():
    z = np.array([-0.5, 0.2, 0.1, -0.3, 0.4, 0.0])
    phi, tau2 = overdispersion(z, weights=np.arange(1, 7.0))
    assert phi < 1 and tau2 == 0.0  # I·φ ≤ I - 1: no overdispersion
    phi, tau2 = overdispersion(np.append(z, np.nan) * 10)
    assert phi > 1 and np.isnan(tau2)  # no weights: τ² not computable
    assert np.isnan(overdispersion([])).all()
    phi_raw, _ = overdispersion([3.0, -3.0, 0.0], winsorize=0)
    assert phi_raw == pytest.approx(6.0)


def test_conditional_midp_survives_an_odds_ratio_a_rounding_error_from_one():
    # scipy's noncentral law aborted the process (a notebook kernel died) on 1 + 2e-16 with 1 of 4 drawn
    from equity_audit.stats import midp_conditional_pvalue

    near = midp_conditional_pvalue([0, 3], [1, 10], [2, 9], [3, 12], [1.0000000000000002, 1 - 1e-16])
    exact = midp_conditional_pvalue([0, 3], [1, 10], [2, 9], [3, 12], [1.0, 1.0])
    assert near == pytest.approx(exact, abs=1e-12) and near[0] == pytest.approx(0.5)
