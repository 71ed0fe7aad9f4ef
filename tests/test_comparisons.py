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
