"""Events per student compared by group (statistic="count"): level on heavy-tailed nulls, power, formulas."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from equity_audit import counts
from equity_audit.disaggregate import disaggregate

STUDENTS = 1800
MEAN, SHAPE = 0.6, 0.15  # gamma-Poisson: most students 0, a few with many events (a lasting frailty)


def heavy_tailed_counts(rng, size, mean=MEAN):
    return rng.poisson(rng.gamma(SHAPE, mean / SHAPE, size))


def small_group_null(seed):
    """One district where nothing differs: a small group of 15-40 among 1,800."""
    rng = np.random.default_rng(seed)
    in_group = np.arange(STUDENTS) < rng.integers(15, 41)
    return pd.DataFrame({"group": np.where(in_group, "Yes", "No"), "removals": heavy_tailed_counts(rng, STUDENTS)})


def group_pvalue(data, statistic):
    table = disaggregate(data, "removals", by="group", statistic=statistic)
    return table.set_index("group").loc["Yes", "pvalue"]


def test_count_comparison_holds_its_level_for_small_groups_where_welch_does_not():
    nulls = [small_group_null(seed) for seed in range(200)]
    count = np.array([group_pvalue(d, "count") for d in nulls])
    welch = np.array([group_pvalue(d, "mean") for d in nulls])
    count_rate = np.mean(count < 0.05)
    # Welch leaves a group with no events untested (NaN): count those as not rejected
    welch_rate = np.mean(np.nan_to_num(welch, nan=1.0) < 0.05)
    assert np.isfinite(count).all()
    assert count_rate <= 0.07
    assert welch_rate > 0.07 and welch_rate > count_rate


def test_planted_doubling_in_a_group_of_200_is_found_in_most_seeds():
    found = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        in_group = np.arange(STUDENTS) < 200
        removals = heavy_tailed_counts(rng, STUDENTS, np.where(in_group, 2 * MEAN, MEAN))
        data = pd.DataFrame({"group": np.where(in_group, "Yes", "No"), "removals": removals})
        row = disaggregate(data, "removals", by="group", statistic="count").set_index("group").loc["Yes"]
        found.append(bool(row["flagged"]) and row["ratio"] > 1)
    assert sum(found) >= 16


def test_conditional_test_is_the_negative_binomial_exact_test_of_robinson_and_smyth():
    # Robinson & Smyth (2008): given the total z of two groups' sums, with n and m students of
    # NB(mu, size k) each, P(z1 | z) = NB(z1; n·k, mu) NB(z - z1; m·k, mu) / NB(z; (n+m)·k, mu),
    # whatever mu. Worked by hand: 4 students with 9 events against 6 with 3, k = 2.
    n, m, k, z1, z2 = 4, 6, 2.0, 9, 3
    z = z1 + z2
    for mu in (0.5, 3.0):  # the conditional distribution does not depend on the common mean
        p = k / (k + mu)
        pmf = sps.nbinom.pmf(np.arange(z + 1), n * k, p) * sps.nbinom.pmf(z - np.arange(z + 1), m * k, p)
        pmf /= sps.nbinom.pmf(z, (n + m) * k, p)
        expected = min(1.0, 2 * min(pmf[: z1 + 1].sum(), pmf[z1:].sum()))
        assert counts.conditional_pvalue(z1, n, z2, m, 1 / k) == pytest.approx(expected, rel=1e-9)


def test_without_overdispersion_it_is_the_exact_conditional_poisson_test():
    from statsmodels.stats.rates import test_poisson_2indep

    one_sided = test_poisson_2indep(10, 100, 40, 1000, method="exact-cond", alternative="larger").pvalue
    assert counts.conditional_pvalue(10, 100, 40, 1000, 0.0) == pytest.approx(2 * one_sided, rel=1e-9)


def test_dispersion_recovers_the_gamma_poisson_shape():
    rng = np.random.default_rng(5)
    values = heavy_tailed_counts(rng, 200_000)
    estimate = counts.dispersion([len(values)], [values.sum()], [(values**2).sum()])
    assert estimate == pytest.approx(1 / SHAPE, rel=0.1)


def test_mean_interval_covers_the_true_mean_of_a_small_group():
    rng = np.random.default_rng(6)
    sums = heavy_tailed_counts(rng, (4000, 20)).sum(axis=1)
    low, high = counts.mean_interval(sums, 20, 1 / SHAPE)
    assert np.mean((low <= MEAN) & (MEAN <= high)) >= 0.94


def test_a_group_with_no_events_is_still_compared():
    data = pd.DataFrame({"group": ["Yes"] * 200 + ["No"] * 1600,
                         "removals": [0] * 200 + [0, 1, 2, 0] * 400})
    row = disaggregate(data, "removals", by="group", statistic="count").set_index("group").loc["Yes"]
    assert row["estimate"] == 0 and row["low"] == 0 and row["high"] > 0
    assert row["flagged"]


def test_everyone_as_comparator_tests_the_group_against_the_others():
    data = small_group_null(1)
    rest = disaggregate(data, "removals", by="group", statistic="count").set_index("group")
    everyone = disaggregate(data, "removals", by="group", statistic="count", comparator="all").set_index("group")
    assert everyone["pvalue"].to_numpy() == pytest.approx(rest["pvalue"].to_numpy())
    assert (everyone["comparator_n"] == STUDENTS).all()


def test_count_refuses_negative_values_and_repeated_rows():
    data = pd.DataFrame({"group": ["a", "b"] * 10, "removals": [-1, 1] * 10, "student_id": list(range(10)) * 2})
    with pytest.raises(ValueError, match="0 or more"):
        disaggregate(data, "removals", by="group", statistic="count")
    with pytest.raises(ValueError, match="one row per student"):
        disaggregate(data.assign(removals=1), "removals", by="group", statistic="count", cluster="student_id")
