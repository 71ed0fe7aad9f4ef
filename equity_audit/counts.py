"""Events per student (removals, days removed) compared between groups.

A count per student is 0 for most students and heavy-tailed for the rest: the
same students are removed again and again. Welch's t takes a small group's
variance from its own few values, which with such a skew is anti-conservative
(a group of 15 with no removals has variance 0; a group of 15 with one long
removal has a huge one). Here every student's count is modelled as negative
binomial (gamma-Poisson: Poisson events around a gamma-distributed personal
rate) with mean ``μ`` and variance ``μ + μ²/k``, and the size ``k`` (the
dispersion ``1/k``) is estimated once from **all** students of the table.

- :func:`dispersion`: the pooled method-of-moments estimate of ``1/k`` from the
  cells' n, sums and sums of squares (each cell keeps its own mean);
- :func:`conditional_pvalue`: the exact conditional test of Robinson & Smyth
  (2008), the negative-binomial analogue of the conditional binomial test of two
  Poisson rates. The sum of ``n`` independent NB(μ, k) counts is NB(nμ, nk), and
  given the total ``T`` of two such sums with a common mean the first is
  beta-binomial: ``S | T ~ BetaBinomial(T, n·k, m·k)``. Two-sided p-value by
  doubling the smaller tail (Agresti 2013, section 1.4.5), so the test keeps its
  level for any group size under the model; with no overdispersion it is the
  conditional binomial test;
- :func:`mean_interval`: the exact (Garwood-type) interval of a group's mean
  events per student under NB(nμ, nk), from beta quantiles;
- :func:`compare_counts`: everything :func:`equity_audit.disaggregate.disaggregate`
  shows for ``statistic="count"``: the difference of means with the MOVER
  interval (Zou & Donner 2008) built from the two exact intervals, and the rate
  ratio with a log (Katz-type) interval whose variance uses the common dispersion.

References
----------
Robinson, M. D. & Smyth, G. K. (2008). Small-sample estimation of negative
binomial dispersion, with applications to SAGE data. *Biostatistics* 9(2), 321-332.
Zou, G. Y. & Donner, A. (2008). Construction of confidence limits about effect
measures: a general approach. *Statistics in Medicine* 27(10), 1693-1702.
Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley.
Lawless, J. F. (1987). Negative binomial and mixed Poisson regression.
*Canadian Journal of Statistics* 15(3), 209-225.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> removals = rng.poisson(rng.gamma(0.3, 0.5 / 0.3, 2000))  # heavy-tailed, same for all
>>> group = np.arange(2000) < 20
>>> n = np.array([20, 1980])
>>> total = np.array([removals[group].sum(), removals[~group].sum()])
>>> total_sq = np.array([(removals[group] ** 2).sum(), (removals[~group] ** 2).sum()])
>>> inverse_size = dispersion(n, total, total_sq)
>>> bool(conditional_pvalue(total[0], n[0], total[1], n[1], inverse_size) > 0.05)
True
"""
from __future__ import annotations

import numpy as np
from scipy import stats as sps

__all__ = ["dispersion", "conditional_pvalue", "mean_interval", "compare_counts"]


def dispersion(n, total, total_sq) -> float:
    """Common negative-binomial dispersion ``1/k`` of the cells, by the method of moments.

    Each cell has its own mean ``m_c`` and variance ``s_c²``; under NB
    ``E[s_c² − m_c] = μ_c²/k`` and ``E[m_c² − s_c²/n_c] = μ_c²``, so pooling the
    cells with weights ``n_c − 1``::

        1/k = Σ (n_c − 1)(s_c² − m_c) / Σ (n_c − 1)(m_c² − s_c²/n_c)

    (the pooled moment estimator of Anscombe 1950 and Robinson & Smyth 2008,
    bias-corrected in the denominator). Every student counts, so a small group's
    variance does not rest on its own few values. 0 (Poisson) when the counts
    are not overdispersed.

    Parameters
    ----------
    n, total, total_sq : array_like
        Students, sum of counts and sum of squared counts of each cell.

    Returns
    -------
    float
        The estimate of ``1/k`` (at least 0).

    Examples
    --------
    Counts 0, 0, 1, 1 and 0, 0, 3, 3: ``(3(1/3 − 1/2) + 3(3 − 3/2)) / (3(1/4 − 1/12) + 3(9/4 − 3/4)) = 4/5``

    >>> dispersion([4, 4], [2, 6], [2, 18])
    0.8
    """
    n = np.asarray(n, dtype=float)
    total, total_sq = np.asarray(total, dtype=float), np.asarray(total_sq, dtype=float)
    used = n >= 2
    n, total, total_sq = n[used], total[used], total_sq[used]
    if not len(n):
        return 0.0
    mean = total / n
    variance = (total_sq - n * mean**2) / (n - 1)
    excess = ((n - 1) * (variance - mean)).sum()
    squared_mean = ((n - 1) * (mean**2 - variance / n)).sum()
    if squared_mean <= 0:  # too few events to tell: the plug-in mean²
        squared_mean = ((n - 1) * mean**2).sum()
    if squared_mean <= 0 or excess <= 0:
        return 0.0
    return float(excess / squared_mean)


def conditional_pvalue(events, n, other_events, other_n, inverse_size):
    """Exact conditional two-sided p-value that two groups have the same mean count.

    Given the total ``T = events + other_events``, the group's events are
    ``BetaBinomial(T, n·k, other_n·k)`` under the null hypothesis (binomial with
    ``p = n/(n + other_n)`` when ``inverse_size`` is 0). The p-value doubles the
    smaller tail, ``min(1, 2·min(P(S ≤ s), P(S ≥ s)))``. Event sums are rounded to
    whole events.

    Parameters
    ----------
    events, n : array_like
        Sum of counts and students of the group.
    other_events, other_n : array_like
        The same for the students it is compared with (disjoint from the group).
    inverse_size : float
        The dispersion ``1/k`` (see :func:`dispersion`).

    Returns
    -------
    ndarray
        P-values; NaN where either group has no students.

    Examples
    --------
    Without overdispersion it is the conditional binomial test of two Poisson
    rates: 10 events among 100 students against 40 among 1000 give
    ``T = 50``, ``p = 100/1100`` and ``2·P(Binomial(50, 1/11) ≥ 10)``:

    >>> round(float(conditional_pvalue(10, 100, 40, 1000, 0.0)), 4)
    0.0267
    """
    events, other_events = np.round(np.asarray(events, float)), np.round(np.asarray(other_events, float))
    n, other_n = np.asarray(n, float), np.asarray(other_n, float)
    usable = (n > 0) & (other_n > 0)
    n_, other_n_ = np.where(usable, n, 1.0), np.where(usable, other_n, 1.0)
    total = events + other_events
    if inverse_size > 0:
        null = sps.betabinom(total, n_ / inverse_size, other_n_ / inverse_size)
    else:
        null = sps.binom(total, n_ / (n_ + other_n_))
    pvalue = np.minimum(1.0, 2 * np.minimum(null.cdf(events), null.sf(events - 1)))
    return np.where(usable, pvalue, np.nan)


def mean_interval(events, n, inverse_size, confidence=0.95):
    """Exact interval for a group's mean events per student.

    The group's sum is ``NB(n·μ, n·k)``: its cdf at ``s`` is the regularised
    incomplete beta ``I_p(n·k, s + 1)`` with ``p = k/(k + μ)``, so the limits
    that leave ``α/2`` on each side are beta quantiles (Garwood's Poisson
    interval when ``inverse_size`` is 0)::

        upper: p = Beta⁻¹(α/2; n·k, s + 1),  lower: p = Beta⁻¹(1 − α/2; n·k, s),
        μ = k (1 − p) / p                     (lower is 0 when s = 0)

    Parameters
    ----------
    events, n : array_like
        Sum of counts and students of each group.
    inverse_size : float
        The dispersion ``1/k`` (see :func:`dispersion`).
    confidence : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper limits; NaN where ``n`` is 0.

    Examples
    --------
    Garwood's interval for 3 events among 10 students:

    >>> low, high = mean_interval(3, 10, 0.0)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0619, 0.8767)
    """
    events, n = np.asarray(events, float), np.asarray(n, float)
    alpha = 1 - confidence
    usable = n > 0
    n_ = np.where(usable, n, 1.0)
    if inverse_size > 0:
        size = n_ / inverse_size
        p_high = sps.beta.ppf(alpha / 2, size, events + 1)
        p_low = sps.beta.ppf(1 - alpha / 2, size, np.where(events > 0, events, 1.0))
        with np.errstate(divide="ignore"):
            high = (1 - p_high) / p_high / inverse_size
            low = np.where(events > 0, (1 - p_low) / p_low / inverse_size, 0.0)
    else:
        high = sps.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2 / n_
        low = np.where(events > 0, sps.chi2.ppf(alpha / 2, 2 * np.where(events > 0, events, 1.0)) / 2 / n_, 0.0)
    return np.where(usable, low, np.nan), np.where(usable, high, np.nan)


def compare_counts(events, n, other_events, other_n, inverse_size, confidence=0.95, *,
                   comparator_includes_group=False) -> dict:
    """Mean events per student of each group against its comparator.

    Parameters
    ----------
    events, n, other_events, other_n : array_like
        Sums of counts and students of each group and of its comparator.
    inverse_size : float
        The common dispersion ``1/k`` (see :func:`dispersion`).
    confidence : float, default 0.95
        Two-sided coverage of the intervals.
    comparator_includes_group : bool, default False
        True when the comparator is everyone (the group included): the test then
        compares the group with the students outside it, which is the same
        hypothesis (the group's mean equals everyone's).

    Returns
    -------
    dict of ndarray
        ``estimate``, ``low``, ``high``, ``comparator_estimate``, ``difference``
        with ``difference_low``/``_high`` (MOVER: ``d ∓ sqrt((m₁ − l₁)² + (u₂ − m₂)²)``
        and its mirror), ``ratio`` with ``ratio_low``/``_high`` (log scale, variance
        ``1/s₁ + 1/(n₁k) + 1/s₂ + 1/(n₂k)``) and ``pvalue``
        (:func:`conditional_pvalue`).

    Examples
    --------
    >>> out = compare_counts([30], [100], [50], [1000], 0.5)
    >>> round(float(out["ratio"][0]), 1), bool(out["pvalue"][0] < 0.05)
    (6.0, True)
    """
    events, n = np.asarray(events, float), np.asarray(n, float)
    other_events, other_n = np.asarray(other_events, float), np.asarray(other_n, float)
    z = sps.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean, other_mean = events / n, other_events / other_n
        low, high = mean_interval(events, n, inverse_size, confidence)
        other_low, other_high = mean_interval(other_events, other_n, inverse_size, confidence)
        difference = mean - other_mean
        ratio = np.where(other_mean > 0, mean / other_mean, np.nan)
        log_se = np.sqrt(1 / events + inverse_size / n + 1 / other_events + inverse_size / other_n)
        finite = (events > 0) & (other_events > 0)
        ratio_low = np.where(finite, ratio * np.exp(-z * log_se), np.nan)
        ratio_high = np.where(finite, ratio * np.exp(z * log_se), np.nan)
    if comparator_includes_group:
        tested_events, tested_n = other_events - events, other_n - n
    else:
        tested_events, tested_n = other_events, other_n
    return dict(
        estimate=mean, low=low, high=high, comparator_estimate=other_mean, difference=difference,
        difference_low=difference - np.sqrt((mean - low) ** 2 + (other_high - other_mean) ** 2),
        difference_high=difference + np.sqrt((high - mean) ** 2 + (other_mean - other_low) ** 2),
        ratio=ratio, ratio_low=ratio_low, ratio_high=ratio_high,
        pvalue=conditional_pvalue(events, n, tested_events, tested_n, inverse_size),
    )
