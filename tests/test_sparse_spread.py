"""The spread between units of sparse 2x2 tables (gap scans of rare outcomes), where the truth is set.

A school's suspension gap is judged against the other schools' gaps and their
spread (τ²). With few suspensions per school, DerSimonian-Laird on log odds
ratios (0.5 added to empty cells, Woolf variances taken as known) reads chance
as spread and so hides a school's own gap; the maximum-likelihood τ² of the
exact conditional model does not.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats as sps

from equity_audit import scans, stats


def sparse_tables(rng, tau: float, k: int = 7):
    """k schools: 100-300 students of the group and 500-1,200 others, 2-5% suspended, odds ratio 1.3
    (times a school effect of sd ``tau`` on the log scale)."""
    n1, n2 = rng.integers(100, 300, k), rng.integers(500, 1200, k)
    base = rng.uniform(0.02, 0.05, k)
    odds = base / (1 - base) * np.exp(np.log(1.3) + rng.normal(0, tau, k))
    return rng.binomial(n1, odds / (1 + odds)), n1, rng.binomial(n2, base), n2


def woolf(x1, n1, x2, n2):
    a, b, c, d = x1, n1 - x1, x2, n2 - x2
    h = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), 0.5, 0.0)
    return np.log((a + h) * (d + h) / ((b + h) * (c + h))), 1 / (a + h) + 1 / (b + h) + 1 / (c + h) + 1 / (d + h)


def test_the_conditional_likelihood_is_fishers_noncentral_law():
    theta = np.array([-1.0, 0.0, 0.7])
    got = stats.conditional_loglik([2, 10], [150, 208], [38, 19], [1152, 641], theta)
    for row, (x1, n1, x2, n2) in enumerate([(2, 150, 38, 1152), (10, 208, 19, 641)]):
        expected = sps.nchypergeom_fisher.logpmf(x1, n1 + n2, x1 + x2, n1, np.exp(theta))
        assert np.allclose(got[row], expected)


def test_the_grid_finds_the_maximum_likelihood_spread():
    # six schools' tables; the continuous maximum of the same marginal likelihood (quadrature, Nelder-Mead)
    x1, n1 = np.array([4, 6, 5, 8, 8, 7]), np.array([132, 176, 215, 345, 144, 102])
    x2, n2 = np.array([28, 20, 10, 20, 70, 5]), np.array([1038, 614, 575, 569, 982, 304])

    def minus_loglik(params):
        mu, tau = params[0], abs(params[1])
        total = 0.0
        for a, m, c, n in zip(x1, n1, x2, n2):
            def density(t):
                return np.exp(sps.nchypergeom_fisher.logpmf(a, m + n, a + c, m, np.exp(t))) * sps.norm.pdf(t, mu, tau)
            total += np.log(integrate.quad(density, mu - 8 * tau, mu + 8 * tau)[0]) if tau > 1e-4 else \
                sps.nchypergeom_fisher.logpmf(a, m + n, a + c, m, np.exp(mu))
        return -total

    best = optimize.minimize(minus_loglik, x0=[0.1, 0.3], method="Nelder-Mead", options={"xatol": 1e-4})
    with_all = np.append(x1, 1), np.append(n1, 10), np.append(x2, 1), np.append(n2, 10)
    usable = np.array([True] * 6 + [True])
    # the seventh unit is left out of its own estimate: its τ² is the others' (these six schools')
    tau2 = stats.leave_one_out_tau2_conditional(*with_all, usable)[6]
    assert np.sqrt(tau2) == pytest.approx(abs(best.x[1]), abs=0.05)  # the grid's step


def test_no_spread_is_read_as_less_spread_and_a_real_one_is_kept():
    rng = np.random.default_rng(0)
    moments, likelihood = {0.0: [], 0.6: []}, {0.0: [], 0.6: []}
    for _ in range(100):
        for tau in (0.0, 0.6):
            x1, n1, x2, n2 = sparse_tables(rng, tau)
            moments[tau].append(stats.leave_one_out_pooled(*woolf(x1, n1, x2, n2)).tau2[0])
            likelihood[tau].append(stats.leave_one_out_tau2_conditional(x1, n1, x2, n2)[0])
    moments = {tau: np.array(v) for tau, v in moments.items()}
    likelihood = {tau: np.array(v) for tau, v in likelihood.items()}
    # schools that do not differ: DerSimonian-Laird finds spread more often than maximum likelihood
    assert (likelihood[0.0] > 0.1).mean() < (moments[0.0] > 0.1).mean()
    assert likelihood[0.0].mean() < moments[0.0].mean()
    # schools that do differ (τ² = 0.36): both see it, six schools being few (both underestimate)
    assert 0.15 < likelihood[0.6].mean() < 0.5 and 0.15 < moments[0.6].mean() < 0.5


def test_a_school_gap_hidden_by_chance_spread_is_found():
    # a held-out district's suspension gap: one middle school's group suspended at 2.6 times the rate of the
    # school's other students; two small elementary schools' chance gaps (2 of 150, 6 of 95) had made the
    # other schools look spread (DL τ² 0.095) and the school's own gap p = 0.002 only
    sides = pd.DataFrame({"n_focus": [150, 208, 247, 302, 184, 225, 95], "sum_focus": [2, 10, 9, 13, 8, 110, 6],
                          "n_others": [1152, 641, 648, 530, 938, 602, 361], "sum_others": [38, 19, 22, 23, 48, 113, 7]},
                         index=pd.Index(list("ABCDEFG"), name="school")).astype(float)
    sides = sides.assign(mean_focus=np.nan, mean_others=np.nan, var_focus=np.nan, var_others=np.nan)
    scan = scans.scan_gaps_from_sides(sides, unit="school", group="race", focus="Hispanic/Latino", statistic="rate")
    assert scan.loc[scan["closer_look"], "school"].tolist() == ["F"]
    assert scan.set_index("school").loc["F", "pvalue"] < 1e-6
