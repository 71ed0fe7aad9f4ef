"""Small-sample statistics: intervals, tests, multiplicity and shrinkage.

Numbers in, numbers out. Every function takes array-likes (lists, numpy arrays,
pandas Series) that broadcast against each other, works on all elements at once
(no Python loop over elements) and returns numpy arrays; a scalar input gives
a 0-d result (``numpy.float64``). Missing values (NaN) propagate to NaN rather
than raising; impossible values (negative counts, successes above their total,
negative standard deviations, p-values outside [0, 1]) raise ``ValueError``.

Formulas and sources are those of section 6 of the project's methods notes:

* single proportions -- Wilson score interval (Newcombe 1998a; Brown, Cai &
  DasGupta 2001): :func:`wilson_interval`;
* differences and ratios of proportions -- Newcombe's (1998b) hybrid score
  interval and the Katz log interval: :func:`newcombe_difference_interval`,
  :func:`ratio_interval`, :func:`two_proportion_pvalue`;
* means -- :func:`mean_interval`, :func:`welch_difference`;
* many comparisons at once -- Benjamini & Hochberg (1995): :func:`bh_adjust`;
* funnel plots and overdispersion (Spiegelhalter 2005; Spiegelhalter et al.
  2012): :func:`funnel_limits`, :func:`overdispersion`;
* empirical-Bayes shrinkage (Efron & Morris 1975, 1977): :func:`shrink_rates`,
  :func:`beta_binomial_prior`, :func:`posterior_exceedance`,
  :func:`shrink_means`, :func:`james_stein`.

Examples
--------
>>> import numpy as np
>>> from equity_audit.stats import wilson_interval, bh_adjust
>>> low, high = wilson_interval([81, 0], [263, 20])
>>> np.round(low, 4), np.round(high, 4)
(array([0.2553, 0.    ]), array([0.3662, 0.1611]))
>>> np.round(bh_adjust([0.01, 0.04, 0.03, 0.5]), 4)
array([0.04  , 0.0533, 0.0533, 0.5   ])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special, stats

__all__ = [
    "wilson_interval",
    "bh_adjust",
    "shrink_rates",
    "beta_binomial_prior",
    "posterior_exceedance",
    "shrink_means",
    "james_stein",
    "newcombe_difference_interval",
    "ratio_interval",
    "mean_interval",
    "welch_difference",
    "two_proportion_pvalue",
    "midp_binomial_pvalue",
    "midp_conditional_pvalue",
    "smallest_expected_count",
    "cluster_design_effect",
    "funnel_limits",
    "overdispersion",
    "leave_one_out_pooled",
    "leave_one_out_tau2_conditional",
    "conditional_loglik",
    "BetaPrior",
    "WelchResult",
    "Overdispersion",
]

# Largest number of hypergeometric support points evaluated in one block by the
# exact test (bounds memory; about 8 arrays of this many float64 values).
_EXACT_BLOCK = 2_000_000
# Tables whose null probability is within this relative tolerance of the
# observed table's count as "as extreme" (R's fisher.test uses the same 1e-7).
_EXACT_RELERR = 1 + 1e-7


class BetaPrior(NamedTuple):
    """Method-of-moments beta prior: per-unit ``mean``, ``strength`` M = α + β, ``rho``."""

    mean: np.ndarray
    strength: float
    rho: float


class WelchResult(NamedTuple):
    """Difference of two means with its Welch interval and two-sided p-value."""

    difference: np.ndarray
    low: np.ndarray
    high: np.ndarray
    pvalue: np.ndarray


class LeaveOneOut(NamedTuple):
    """For each unit, what the *other* units say: between-unit variance ``tau2``, the
    random-effects pooled ``mean`` and that mean's ``variance``."""

    tau2: np.ndarray
    mean: np.ndarray
    variance: np.ndarray


class Overdispersion(NamedTuple):
    """Overdispersion factor ``phi`` and additive between-unit variance ``tau2``."""

    phi: float
    tau2: float


# --------------------------------------------------------------------------- helpers


def _floats(*arrays):
    """Broadcast array-likes to float arrays of a common shape."""
    return np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))


def _result(a):
    """0-d arrays come back as numpy scalars; others unchanged."""
    a = np.asarray(a)
    return a[()] if a.ndim == 0 else a


def _z(confidence):
    confidence = np.asarray(confidence, dtype=float)
    if not np.all((confidence > 0) & (confidence < 1)):
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    return stats.norm.isf((1 - confidence) / 2)


def _check_counts(x, n, what="successes"):
    """Raise on negative totals or successes outside [0, n] (NaN is allowed)."""
    if np.any(n < 0):
        raise ValueError("totals n must be non-negative")
    if np.any(x < 0) or np.any(x > n):
        raise ValueError(f"{what} must lie between 0 and n")


# --------------------------------------------------------------------------- proportions


def wilson_interval(successes, n, confidence=0.95):
    """Wilson score interval for a proportion (no continuity correction).

    The centre is ``(x + z²/2)/(n + z²)`` and the half-width
    ``z/(n + z²)·sqrt(x(n − x)/n + z²/4)`` (Wilson 1927; method 3 of
    Newcombe 1998a). The interval always lies inside [0, 1]; it is exactly 0
    below when ``x == 0`` and exactly 1 above when ``x == n``.

    Parameters
    ----------
    successes, n : array_like
        Counts of successes and totals; they broadcast together. Non-integer
        (e.g. weighted) counts are allowed.
    confidence : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    low, high : ndarray
        Bounds of the interval; NaN where ``n == 0`` or an input is NaN.

    Raises
    ------
    ValueError
        If a count is negative, ``successes > n``, or ``confidence`` is not in (0, 1).

    References
    ----------
    Newcombe RG (1998). Two-sided confidence intervals for the single proportion:
    comparison of seven methods. *Statistics in Medicine* 17:857-872.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = wilson_interval([81, 15, 0, 1], [263, 148, 20, 29])
    >>> np.round(np.c_[low, high], 4)
    array([[0.2553, 0.3662],
           [0.0624, 0.1605],
           [0.    , 0.1611],
           [0.0061, 0.1718]])
    >>> wilson_interval(0, 0)
    (np.float64(nan), np.float64(nan))
    """
    x, n = _floats(successes, n)
    _check_counts(x, n)
    z = _z(confidence)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + z2 / 2) / (n + z2)
        half = z / (n + z2) * np.sqrt(x * (n - x) / n + z2 / 4)
        low = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    empty = ~(n > 0) | np.isnan(x)
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return _result(low), _result(high)


def newcombe_difference_interval(x1, n1, x2, n2, confidence=0.95):
    """Interval for a difference of independent proportions ``p1 − p2`` (Newcombe method 10).

    Newcombe's hybrid score interval combines the two single-proportion
    Wilson intervals ``(l1, u1)`` and ``(l2, u2)``::

        low  = d − sqrt((p1 − l1)² + (u2 − p2)²)
        high = d + sqrt((u1 − p1)² + (p2 − l2)²)

    with ``d = p1 − p2``. It behaves well for small counts and zero cells,
    never leaves [−1, 1], and needs no continuity correction.

    Parameters
    ----------
    x1, n1, x2, n2 : array_like
        Successes and totals of the two groups; they broadcast together.
    confidence : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    low, high : ndarray
        Bounds for ``p1 − p2``; NaN where either total is 0 or an input is NaN.

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. *Statistics in
    Medicine* 17:873-890 (method 10).

    Examples
    --------
    >>> import numpy as np
    >>> low, high = newcombe_difference_interval([56, 9], [70, 10], [48, 3], [80, 10])
    >>> np.round(low, 4), np.round(high, 4)
    (array([0.0524, 0.1705]), array([0.3339, 0.809 ]))
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _result(np.clip(low, -1.0, 1.0)), _result(np.clip(high, -1.0, 1.0))


def ratio_interval(x1, n1, x2, n2, confidence=0.95, correction=0.0):
    """Katz log interval for a ratio of proportions (risk ratio) ``p1 / p2``.

    ``exp(log(p1/p2) ± z·se)`` with ``se = sqrt(1/x1 − 1/n1 + 1/x2 − 1/n2)``
    (Katz et al. 1978). The log interval is undefined when either numerator is
    zero: those rows are NaN unless a ``correction`` is asked for.

    Parameters
    ----------
    x1, n1, x2, n2 : array_like
        Successes and totals of the two groups; they broadcast together.
    confidence : float, default 0.95
        Two-sided coverage.
    correction : float, default 0.0
        Haldane-type correction: where ``x1 == 0`` or ``x2 == 0`` (and only
        there), ``correction`` is added to each of the four cells of the 2×2
        table -- i.e. to ``x1`` and ``x2``, and ``2·correction`` to ``n1`` and
        ``n2`` -- before computing the interval. ``0.5`` is the usual choice.
        Rows without a zero numerator are never corrected.

    Returns
    -------
    low, high : ndarray
        Bounds for ``p1 / p2``; NaN where a total is 0, an input is NaN, or (with
        no correction) a numerator is 0.

    References
    ----------
    Katz D, Baptista J, Azen SP, Pike MC (1978). Obtaining confidence intervals
    for the risk ratio in cohort studies. *Biometrics* 34:469-474.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = ratio_interval([10, 0], [50, 50], [5, 5], [50, 50])
    >>> np.round(low, 4), np.round(high, 4)
    (array([0.7362,    nan]), array([5.4332,    nan]))
    >>> low, high = ratio_interval(0, 50, 5, 50, correction=0.5)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0052, 1.6016)
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    if correction < 0:
        raise ValueError("correction must be non-negative")
    z = _z(confidence)
    if correction:
        zero = (x1 == 0) | (x2 == 0)
        add = np.where(zero, float(correction), 0.0)
        x1, x2, n1, n2 = x1 + add, x2 + add, n1 + 2 * add, n2 + 2 * add
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((x1 / n1) / (x2 / n2))
        se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        bad = ~((x1 > 0) & (x2 > 0) & (n1 > 0) & (n2 > 0))
        low = np.where(bad, np.nan, np.exp(log_ratio - z * se))
        high = np.where(bad, np.nan, np.exp(log_ratio + z * se))
    return _result(low), _result(high)


def two_proportion_pvalue(x1, n1, x2, n2):
    """Two-sided p-value for equal proportions in two independent groups.

    Rule, applied cell by cell: with the pooled proportion
    ``p = (x1 + x2)/(n1 + n2)``, if every expected count of the 2×2 table
    (``n1·p``, ``n1·(1 − p)``, ``n2·p``, ``n2·(1 − p)``) is at least 5 the
    pooled-variance z test is used, ``z = (p1 − p2)/sqrt(p(1 − p)(1/n1 + 1/n2))``
    (equivalent to Pearson's chi-square without continuity correction);
    otherwise Fisher's exact test, two-sided by summing the probabilities of
    all tables no more likely than the observed one (the definition of R's
    ``fisher.test`` and ``scipy.stats.fisher_exact``, with R's relative
    tolerance 1e-7 for ties). The exact test is computed for all small cells
    at once from the hypergeometric log-probabilities.

    Parameters
    ----------
    x1, n1, x2, n2 : array_like
        Integer successes and totals of the two groups; they broadcast together.

    Returns
    -------
    ndarray
        Two-sided p-values; NaN where either total is 0 or an input is NaN.
        When nobody (or everybody) succeeded in both groups the p-value is 1.

    Raises
    ------
    ValueError
        If a count is negative, not a whole number, or ``x > n``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(two_proportion_pvalue([3, 120], [10, 400], [9, 80], [12, 400]), 4)
    array([0.0836, 0.0011])
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    for a in (x1, n1, x2, n2):
        finite = a[np.isfinite(a)]
        if np.any(finite != np.round(finite)):
            raise ValueError("two_proportion_pvalue needs whole-number counts")
    shape = x1.shape
    x1, n1, x2, n2 = (a.ravel() for a in (x1, n1, x2, n2))
    out = np.full(x1.shape, np.nan)
    ok = np.isfinite(x1 + n1 + x2 + n2) & (n1 > 0) & (n2 > 0)
    total = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / total
        expected = np.minimum(n1, n2) * np.minimum(pooled, 1 - pooled)
        large = ok & (expected >= 5)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        zstat = (x1 / n1 - x2 / n2) / se
    out[large] = 2 * stats.norm.sf(np.abs(zstat[large]))
    small = np.flatnonzero(ok & ~large)
    if small.size:
        out[small] = _fisher_two_sided(x1[small], n1[small], x2[small], n2[small])
    return _result(out.reshape(shape))


def _two_sided_midp(below, at, above):
    """Two-sided mid-p from P(X < x), P(X = x) and P(X > x): twice the smaller tail, capped at 1."""
    return np.minimum(1.0, 2 * np.minimum(below + 0.5 * at, above + 0.5 * at))


def midp_binomial_pvalue(successes, n, p):
    """Two-sided mid-p value of ``successes`` out of ``n`` against a rate ``p``.

    ``2·min(P(X < x) + P(X = x)/2, P(X > x) + P(X = x)/2)`` for
    ``X ~ Binomial(n, p)`` (Agresti 2013, section 1.4.5): the exact test for
    small expected counts, less conservative than the plain exact test.

    Parameters
    ----------
    successes, n : array_like
        Whole-number successes and totals.
    p : array_like
        Rate(s) under the null hypothesis, in [0, 1].

    Returns
    -------
    ndarray
        Two-sided mid-p values; NaN where ``n == 0`` or an input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(midp_binomial_pvalue([0, 6], [20, 20], 0.1), 4)
    array([0.1216, 0.0136])
    """
    x, n, p = _floats(successes, n, p)
    _check_counts(x, n)
    ok = np.isfinite(x + n + p) & (n > 0)
    xs, ns, ps = (np.where(ok, a, v) for a, v in ((x, 0.0), (n, 1.0), (p, 0.5)))
    out = _two_sided_midp(stats.binom.cdf(xs - 1, ns, ps), stats.binom.pmf(xs, ns, ps),
                          stats.binom.sf(xs, ns, ps))
    return _result(np.where(ok, out, np.nan))


def midp_conditional_pvalue(x1, n1, x2, n2, odds_ratio=1.0):
    """Exact conditional two-sided mid-p test that a 2×2 table has odds ratio ``odds_ratio``.

    Given the margins, the successes of group 1 follow Fisher's noncentral
    hypergeometric distribution with that odds ratio (Agresti 2013, section
    16.6); with ``odds_ratio = 1`` this is the mid-p version of Fisher's exact
    test. A unit's gap can so be tested against the odds ratio seen elsewhere,
    exactly, when its cells are small.

    Parameters
    ----------
    x1, n1, x2, n2 : array_like
        Whole-number successes and totals of the two groups.
    odds_ratio : array_like, default 1.0
        Odds ratio (group 1 against group 2) under the null hypothesis, > 0.

    Returns
    -------
    ndarray
        Two-sided mid-p values; NaN where a total is 0, the odds ratio is not
        positive and finite, or an input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(midp_conditional_pvalue([3, 3], [10, 10], [9, 1], [12, 12], [1.0, 1.0]), 4)
    array([0.0504, 0.2543])
    """
    x1, n1, x2, n2, ratio = _floats(x1, n1, x2, n2, odds_ratio)
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    ok = np.isfinite(x1 + n1 + x2 + n2 + ratio) & (n1 > 0) & (n2 > 0) & (ratio > 0)
    k = np.where(ok, x1 + x2, 1.0)
    total = np.where(ok, n1 + n2, 2.0)
    drawn = np.where(ok, n1, 1.0)
    # scipy's noncentral law (BiasedUrn, C++) aborts the whole process on an odds ratio a rounding
    # error away from 1 (e.g. 1 + 2e-16 with 1 of 4 drawn): such a ratio is 1, the central law
    odds = np.where(ok & ~np.isclose(ratio, 1.0, rtol=1e-9, atol=0.0), ratio, 1.0)
    x = np.where(ok, x1, 0.0)
    law = stats.nchypergeom_fisher(total, k, drawn, odds)
    out = _two_sided_midp(law.cdf(x - 1), law.pmf(x), law.sf(x))
    return _result(np.where(ok, out, np.nan))


def smallest_expected_count(x1, n1, x2, n2):
    """The smallest expected cell of each 2×2 table under equal rates: ``min(n1, n2)·min(p, 1 − p)``.

    The rule of this package: below 5, a normal approximation is not used and
    an exact (or mid-p) test is.

    Examples
    --------
    >>> float(smallest_expected_count(2, 40, 3, 60))
    2.0
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        return _result(np.minimum(n1, n2) * np.minimum(pooled, 1 - pooled))


def _fisher_two_sided(x1, n1, x2, n2):
    """Fisher's exact two-sided p-values for many 2×2 tables (float inputs, whole numbers)."""
    x1, n1, x2, n2 = (a.astype(np.int64) for a in (x1, n1, x2, n2))
    k = x1 + x2
    lo = np.maximum(0, k - n2)
    hi = np.minimum(n1, k)
    lengths = hi - lo + 1
    log_norm = _log_choose(n1 + n2, k)
    log_obs = _log_choose(n1, x1) + _log_choose(n2, x2) - log_norm
    pvalues = np.empty(x1.size)
    # Process the ragged supports in blocks of bounded total length.
    ends = np.cumsum(lengths)
    start = 0
    while start < x1.size:
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _EXACT_BLOCK, side="right")))
        idx = np.arange(start, stop)
        length = lengths[idx]
        owner = np.repeat(np.arange(idx.size), length)
        offsets = np.cumsum(length) - length
        a = lo[idx][owner] + (np.arange(owner.size) - offsets[owner])
        i = idx[owner]
        log_p = _log_choose(n1[i], a) + _log_choose(n2[i], k[i] - a) - log_norm[i]
        keep = log_p <= log_obs[i] + np.log(_EXACT_RELERR)
        sums = np.bincount(owner, weights=np.where(keep, np.exp(log_p), 0.0), minlength=idx.size)
        pvalues[idx] = np.minimum(sums, 1.0)
        start = stop
    return pvalues


def _log_choose(n, k):
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


# --------------------------------------------------------------------------- clustering


def cluster_design_effect(cells, clusters, values, size, complement=False):
    """Design effect of clustering for the mean of each cell (and of each cell's complement).

    Rows of one cluster (the years of one student) are not independent. The
    cluster-robust variance of a cell's mean ``μ = Σy/n`` (Cameron & Miller
    2015, with the ``G/(G − 1)`` small-sample factor) is
    ``V = G/(G − 1) · Σ_j (s_j − μ m_j)² / n²`` over the ``G`` clusters of the
    cell, with ``s_j`` and ``m_j`` cluster ``j``'s sum and number of rows in the
    cell. The design effect is ``V`` over the independent variance
    ``σ²/n`` (σ² the rows' sample variance), floored at 1: dividing a cell's
    counts by it gives the effective (Kish) sample size, so intervals and tests
    computed on effective counts are cluster-robust.

    Parameters
    ----------
    cells : array_like of int
        Cell code of each row, 0 to ``size − 1``.
    clusters : array_like of int
        Cluster code of each row (non-negative).
    values : array_like of float
        The row values; rows with NaN are left out.
    size : int
        Number of cells.
    complement : bool, default False
        Also return the design effect of every cell's complement (all other
        rows, as for the comparator "everyone else").

    Returns
    -------
    ndarray or (ndarray, ndarray)
        Design effects (at least 1; 1 where fewer than two clusters or no
        variation).

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.repeat(np.arange(6), 3)                   # six students, three years each
    >>> y = np.repeat([1.0, 0, 1, 0, 0, 0], 3)              # each student the same every year
    >>> round(float(cluster_design_effect(np.zeros(18, int), rows, y, 1)[0]), 3)
    3.4
    """
    cells = np.asarray(cells, dtype=np.int64)
    clusters = np.asarray(clusters, dtype=np.int64)
    y = np.asarray(values, dtype=float)
    seen = np.isfinite(y) & (cells >= 0) & (clusters >= 0)
    cells, clusters, y = cells[seen], clusters[seen], y[seen]
    pair_code = cells * (int(clusters.max(initial=0)) + 1) + clusters
    pairs, pair = np.unique(pair_code, return_inverse=True)
    pair_cell = cells[np.unique(pair, return_index=True)[1]] if pairs.size else cells[:0]
    m = np.bincount(pair, minlength=pairs.size).astype(float)
    s = np.bincount(pair, weights=y, minlength=pairs.size)
    cell_sums = lambda w: np.bincount(pair_cell, weights=w, minlength=size)  # noqa: E731
    n = np.bincount(cells, minlength=size).astype(float)
    total = np.bincount(cells, weights=y, minlength=size)
    total_sq = np.bincount(cells, weights=y * y, minlength=size)
    count = np.bincount(pair_cell, minlength=size).astype(float)
    own = _design_effect(n, total, total_sq, count, cell_sums(s * s), cell_sums(s * m), cell_sums(m * m))
    if not complement:
        return own
    pair_cluster = pairs - pair_cell * (int(clusters.max(initial=0)) + 1)
    big_m = np.bincount(clusters, minlength=int(clusters.max(initial=-1)) + 1).astype(float)
    big_t = np.bincount(clusters, weights=y, minlength=big_m.size)
    mj, tj = big_m[pair_cluster], big_t[pair_cluster]
    rest_count = (big_m > 0).sum() - cell_sums((mj == m).astype(float))
    rest = _design_effect(
        n.sum() - n, total.sum() - total, total_sq.sum() - total_sq, rest_count,
        (big_t**2).sum() - cell_sums(2 * tj * s - s * s),
        (big_t * big_m).sum() - cell_sums(tj * m + mj * s - s * m),
        (big_m**2).sum() - cell_sums(2 * mj * m - m * m))
    return own, rest


def _design_effect(n, total, total_sq, clusters, ss, sm, mm):
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        sigma2 = (total_sq - n * mean**2) / (n - 1)
        residual = ss - 2 * mean * sm + mean**2 * mm
        deff = clusters / (clusters - 1) * residual / (n * sigma2)
    ok = np.isfinite(deff) & (clusters >= 2) & (sigma2 > 0)
    return np.where(ok, np.maximum(deff, 1.0), 1.0)


# --------------------------------------------------------------------------- means


def mean_interval(mean, sd, n, confidence=0.95):
    """Student t interval for a mean: ``mean ± t(n − 1)·sd/sqrt(n)``.

    Parameters
    ----------
    mean, sd, n : array_like
        Sample means, sample standard deviations (``ddof=1``) and sizes; they
        broadcast together.
    confidence : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    low, high : ndarray
        Bounds; NaN where ``n < 2`` or an input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = mean_interval([10.0, 5.0], [2.0, 1.0], [16, 1])
    >>> np.round(low, 4), np.round(high, 4)
    (array([8.9343,    nan]), array([11.0657,     nan]))
    """
    mean, sd, n = _floats(mean, sd, n)
    if np.any(sd < 0):
        raise ValueError("standard deviations must be non-negative")
    alpha = 1 - np.asarray(confidence, dtype=float)
    _z(confidence)  # validates confidence
    ok = n >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.isf(alpha / 2, np.where(ok, n - 1, np.nan))
        half = t * sd / np.sqrt(n)
    low = np.where(ok, mean - half, np.nan)
    high = np.where(ok, mean + half, np.nan)
    return _result(low), _result(high)


def welch_difference(mean1, sd1, n1, mean2, sd2, n2, confidence=0.95):
    """Welch's unequal-variance t comparison of two means, from summary statistics.

    ``d = mean1 − mean2``, ``se² = sd1²/n1 + sd2²/n2`` and Welch–Satterthwaite
    degrees of freedom ``se⁴ / ((sd1²/n1)²/(n1 − 1) + (sd2²/n2)²/(n2 − 1))``.

    Parameters
    ----------
    mean1, sd1, n1, mean2, sd2, n2 : array_like
        Means, standard deviations (``ddof=1``) and sizes of the two groups;
        they broadcast together.
    confidence : float, default 0.95
        Two-sided coverage of the interval for ``d``.

    Returns
    -------
    WelchResult
        Named tuple ``(difference, low, high, pvalue)``; the p-value is
        two-sided. Everything but ``difference`` is NaN where a group has fewer
        than 2 members or both standard deviations are 0.

    Examples
    --------
    >>> import numpy as np
    >>> res = welch_difference(15.0, 3.0, 20, 12.0, 5.0, 25)
    >>> [round(float(v), 4) for v in res]
    [3.0, 0.5666, 5.4334, 0.017]
    """
    m1, s1, n1, m2, s2, n2 = _floats(mean1, sd1, n1, mean2, sd2, n2)
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise ValueError("standard deviations must be non-negative")
    _z(confidence)
    alpha = 1 - np.asarray(confidence, dtype=float)
    ok = (n1 >= 2) & (n2 >= 2)
    diff = m1 - m2
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = s1**2 / n1, s2**2 / n2
        se2 = v1 + v2
        df = se2**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        ok = ok & (se2 > 0)
        df = np.where(ok, df, np.nan)
        se = np.sqrt(se2)
        half = stats.t.isf(alpha / 2, df) * se
        pvalue = 2 * stats.t.sf(np.abs(diff) / se, df)
    nan = np.nan
    return WelchResult(
        _result(diff),
        _result(np.where(ok, diff - half, nan)),
        _result(np.where(ok, diff + half, nan)),
        _result(np.where(ok, pvalue, nan)),
    )


# --------------------------------------------------------------------------- multiplicity


def bh_adjust(pvalues):
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in input order.

    ``p̃_(i) = min_{j ≥ i} min(1, m·p_(j)/j)`` over the sorted p-values; a
    hypothesis is rejected at FDR level ``q`` exactly when ``p̃ ≤ q``. The same
    values as ``statsmodels.stats.multitest.multipletests(p, method="fdr_bh")``.

    Parameters
    ----------
    pvalues : array_like
        P-values of any shape; all entries form one family.

    Returns
    -------
    ndarray
        Adjusted p-values, same shape and order as the input. NaN entries stay
        NaN and are not counted in the number of tests ``m``.

    Raises
    ------
    ValueError
        If a p-value lies outside [0, 1].

    References
    ----------
    Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. *JRSS-B* 57:289-300.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(bh_adjust([0.04, np.nan, 0.01, 0.03]), 4)
    array([0.04,  nan, 0.03, 0.04])
    """
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    ok = ~np.isnan(flat)
    values = flat[ok]
    if np.any((values < 0) | (values > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = values.size
    out = np.full(flat.shape, np.nan)
    if m:
        order = np.argsort(values, kind="stable")
        scaled = values[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        filled = np.empty(m)
        filled[order] = adjusted
        out[ok] = filled
    return _result(out.reshape(p.shape))


# --------------------------------------------------------------------------- funnel plots


def funnel_limits(target, n, z, tau2=0.0):
    """Funnel-plot limits for a proportion: ``target ± z·sqrt(target(1 − target)/n + tau2)``.

    The normal approximation of Spiegelhalter (2005), truncated to [0, 1].
    ``z = 1.959964`` gives the 95 % ("2 SD") limits and ``z = 3.090232`` the
    99.8 % ("3 SD") limits. With ``tau2`` from :func:`overdispersion` (computed
    from z-scores on this same proportion scale, weights ``n/(target(1 − target))``)
    these are the additive random-effects limits of Spiegelhalter et al. (2012).

    Parameters
    ----------
    target : array_like
        Target proportion ``p0`` (pooled or policy value).
    n : array_like
        Denominators at which to draw the limits.
    z : array_like
        Normal quantile(s); broadcasts with ``target`` and ``n``.
    tau2 : float, default 0.0
        Additive between-unit variance on the proportion scale.

    Returns
    -------
    low, high : ndarray
        Limits; NaN where ``n <= 0`` or an input is NaN.

    References
    ----------
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional
    performance. *Statistics in Medicine* 24:1185-1202.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = funnel_limits(0.2, [25, 100, 400], 3.090232)
    >>> np.round(low, 4), np.round(high, 4)
    (array([0.    , 0.0764, 0.1382]), array([0.4472, 0.3236, 0.2618]))
    """
    target, n, z = _floats(target, n, z)
    if np.any((target < 0) | (target > 1)):
        raise ValueError("target must lie in [0, 1]")
    if np.any(np.asarray(tau2) < 0):
        raise ValueError("tau2 must be non-negative")
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(target * (1 - target) / n + tau2)
    ok = n > 0
    low = np.where(ok, np.clip(target - half, 0.0, 1.0), np.nan)
    high = np.where(ok, np.clip(target + half, 0.0, 1.0), np.nan)
    return _result(low), _result(high)


def overdispersion(z_scores, weights=None, winsorize=0.1):
    """Overdispersion factor φ and DerSimonian–Laird τ² from unit z-scores.

    Following Spiegelhalter et al. (2012) and the FunnelPlotR implementation:
    the z-scores are winsorised at their ``winsorize`` and ``1 − winsorize``
    quantiles (linear interpolation, R's type 7), ``φ = mean(z_w²)`` over the
    ``I`` units, and if ``I·φ > I − 1``::

        τ² = max(0, (I·φ − (I − 1)) / (Σw − Σw²/Σw)),   w_i = 1/s_i²

    otherwise ``τ² = 0``. ``s_i`` is the unit's standard error on the scale of
    the z-scores (for proportions, ``sqrt(p0(1 − p0)/n_i)``). Inflated limits
    use ``sqrt(s_i² + τ²)`` (additive, see :func:`funnel_limits`) or
    ``sqrt(φ)·s_i`` (multiplicative).

    Parameters
    ----------
    z_scores : array_like
        One z-score per unit, ``(y_i − target)/s_i``. NaN entries are dropped.
    weights : array_like, optional
        Precision weights ``w_i = 1/s_i²`` aligned with ``z_scores``. Without
        them τ² cannot be computed and is returned as NaN.
    winsorize : float, default 0.1
        Fraction winsorised at each end (0 turns winsorisation off).

    Returns
    -------
    Overdispersion
        Named tuple ``(phi, tau2)`` of floats; both NaN when no z-score is given.

    References
    ----------
    Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, et al. (2012). Statistical
    methods for healthcare regulation: rating, screening and surveillance.
    *JRSS-A* 175:1-47.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([-2.5, -1.0, -0.5, 0.0, 0.3, 0.8, 1.2, 1.9, 2.4, 6.0])
    >>> phi, tau2 = overdispersion(z, weights=np.full(10, 400.0))
    >>> round(phi, 4), round(tau2, 6)
    (2.173, 0.003536)
    """
    z = np.asarray(z_scores, dtype=float).ravel()
    w = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), z.shape)
    ok = ~np.isnan(z) if w is None else ~(np.isnan(z) | np.isnan(w))
    z = z[ok]
    if w is not None:
        w = w[ok]
        if np.any(w <= 0):
            raise ValueError("weights must be positive")
    if not 0 <= winsorize < 0.5:
        raise ValueError("winsorize must be in [0, 0.5)")
    count = z.size
    if count == 0:
        return Overdispersion(np.nan, np.nan)
    if winsorize:
        lower, upper = np.quantile(z, [winsorize, 1 - winsorize])
        z = np.clip(z, lower, upper)
    phi = float(np.mean(z * z))
    if w is None:
        return Overdispersion(phi, np.nan)
    tau2 = 0.0
    if count * phi > count - 1:
        denominator = w.sum() - (w * w).sum() / w.sum()
        if denominator > 0:
            tau2 = max(0.0, (count * phi - (count - 1)) / denominator)
    return Overdispersion(phi, float(tau2))


# --------------------------------------------------------------------------- shrinkage


def beta_binomial_prior(successes, n, prior_mean=None):
    """Method-of-moments beta prior behind :func:`shrink_rates`.

    With ``p_i = x_i/n_i`` over the ``I`` units with ``n_i > 0`` and
    ``N = Σn_i``::

        μ = Σx/Σn,   S = Σ n_i (p_i − μ)²,
        ρ = max(0, (S/(μ(1 − μ)) − (I − 1)) / (N − Σn_i²/N)),
        M = α + β = 1/ρ − 1

    This is the DerSimonian–Laird moment estimator with the within-unit
    variance taken as ``μ(1 − μ)/n_i``. ``ρ`` is also capped at 1 (``M = 0``,
    no shrinkage) -- the moment equation can exceed 1 when units are almost all
    0 % or 100 % -- and set to 0 (``M = ∞``, full pooling) when it is undefined
    (fewer than two units, or ``μ`` equal to 0 or 1).

    With ``prior_mean`` the prior means are per unit (``π_i``, e.g. the rate the
    main effects predict for an intersection cell): ``S`` uses ``p_i − π_i`` and
    ``μ(1 − μ)`` becomes the n-weighted mean of ``π_i(1 − π_i)``; ``I − 1`` is
    kept, which allows roughly for the priors having been fitted to the same data.

    Parameters
    ----------
    successes, n : array_like
        Successes and totals per unit.
    prior_mean : array_like, optional
        Per-unit prior means in [0, 1]; broadcast with ``successes``.

    Returns
    -------
    BetaPrior
        ``mean`` (array of per-unit prior means, NaN where the unit's input is
        NaN), ``strength`` ``M = α + β`` (``inf`` for full pooling) and ``rho``.
        The prior of unit ``i`` is ``Beta(mean_i·M, (1 − mean_i)·M)``.

    Examples
    --------
    >>> prior = beta_binomial_prior([2, 10, 18], [20, 20, 20])
    >>> round(float(prior.mean[0]), 4), round(prior.strength, 4), round(prior.rho, 4)
    (0.5, 0.6949, 0.59)
    """
    x, n, prior, valid, used = _rate_inputs(successes, n, prior_mean)
    xu, nu = x[used], n[used]
    total = nu.sum()
    count = int(used.sum())
    if prior is None:
        mu = xu.sum() / total if total > 0 else np.nan
        prior = np.where(valid, mu, np.nan)
        variance = mu * (1 - mu)
    else:
        prior = np.where(valid, prior, np.nan)
        variance = (nu * prior[used] * (1 - prior[used])).sum() / total if total > 0 else np.nan
    rho = 0.0
    if count >= 2:
        s = (nu * (xu / nu - prior[used]) ** 2).sum()
        denominator = total - (nu * nu).sum() / total
        if denominator > 0:
            if variance > 0:
                rho = (s / variance - (count - 1)) / denominator
            elif s > 0:
                rho = 1.0
            rho = min(1.0, max(0.0, rho))
    strength = np.inf if rho == 0 else 1 / rho - 1
    return BetaPrior(_result(prior), float(strength), float(rho))


def _rate_inputs(successes, n, prior_mean):
    if prior_mean is None:
        x, n = _floats(successes, n)
        prior = None
        valid = ~(np.isnan(x) | np.isnan(n))
    else:
        x, n, prior = _floats(successes, n, prior_mean)
        if np.any((prior < 0) | (prior > 1)):
            raise ValueError("prior_mean must lie in [0, 1]")
        valid = ~(np.isnan(x) | np.isnan(n) | np.isnan(prior))
    _check_counts(x, n)
    used = valid & (n > 0)
    return x, n, prior, valid, used


def shrink_rates(successes, n, prior_mean=None):
    """Empirical-Bayes (beta-binomial) posterior means of many rates.

    The prior is estimated by the method of moments (see
    :func:`beta_binomial_prior`, methods notes section 6)::

        μ = Σx/Σn,   S = Σ n_i (p_i − μ)²,
        ρ = max(0, (S/(μ(1 − μ)) − (I − 1)) / (N − Σn_i²/N)),   M = 1/ρ − 1

    and each unit's posterior mean is ``(x_i + μM)/(n_i + M)``: a weighted
    average of its own rate and ``μ`` with weight ``n_i/(n_i + M)`` on its own
    rate, so small units move most. ``ρ = 0`` (no more spread than chance)
    means full pooling: every unit gets ``μ``.

    Parameters
    ----------
    successes, n : array_like
        Successes and totals per unit; all entries form one family.
    prior_mean : array_like, optional
        Per-unit prior means to shrink toward instead of the common ``μ`` --
        for example, for an intersection cell (race × disability), the rate its
        main effects predict. Then ``S = Σ n_i (p_i − prior_i)²`` and
        ``μ(1 − μ)`` becomes ``Σ n_i prior_i(1 − prior_i)/N``; the posterior is
        ``(x_i + prior_i·M)/(n_i + M)``.

    Returns
    -------
    ndarray
        Posterior means, same shape as the inputs. Units with ``n == 0`` get
        their prior mean (NaN if no unit has any data); NaN inputs give NaN and
        are left out of the estimate of the prior (as are units with ``n == 0``).

    Notes
    -----
    The estimator is the DerSimonian–Laird form of the moment estimator; it
    divides by ``N − Σn²/N`` where the exact beta-binomial moment equation has
    ``N − Σn²/N − (I − 1)``, a difference that matters only for few, small units.
    ``ρ`` is capped at 1 (no shrinkage).

    References
    ----------
    Efron B, Morris C (1975). Data analysis using Stein's estimator and its
    generalizations. *JASA* 70:311-319.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(shrink_rates([2, 10, 18], [20, 20, 20]), 4)
    array([0.1134, 0.5   , 0.8866])
    >>> np.round(shrink_rates([3, 5, 4], [20, 20, 20]), 4)   # no excess spread: full pooling
    array([0.2, 0.2, 0.2])
    >>> np.round(shrink_rates([2, 10, 18], [20, 20, 20], prior_mean=[0.2, 0.5, 0.8]), 4)
    array([0.195, 0.5  , 0.805])
    """
    x, n, _, valid, _ = _rate_inputs(successes, n, prior_mean)
    prior, strength, _ = beta_binomial_prior(x, n, prior_mean)
    prior = np.asarray(prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isinf(strength):
            posterior = prior.copy()
        else:
            posterior = np.where(n > 0, (x + prior * strength) / (n + strength), prior)
    return _result(np.where(valid, posterior, np.nan))


def posterior_exceedance(successes, n, threshold, prior_mean=None):
    """Posterior probability that a unit's true rate exceeds ``threshold``.

    Uses the beta prior of :func:`beta_binomial_prior`; unit ``i``'s posterior
    is ``Beta(x_i + μ_i·M, n_i − x_i + (1 − μ_i)·M)``. The methods notes flag a
    unit when this probability exceeds 0.9, rather than on its raw rate.

    Parameters
    ----------
    successes, n : array_like
        Successes and totals per unit; all entries form one family.
    threshold : array_like
        Rate(s) to exceed; broadcasts with the counts.
    prior_mean : array_like, optional
        Per-unit prior means, as in :func:`shrink_rates`.

    Returns
    -------
    ndarray
        ``P(θ_i > threshold)``. Under full pooling (``M = ∞``) the posterior is a
        point mass at the prior mean, so the result is 0 or 1; with ``M = 0`` a
        unit with no successes (all successes) is a point mass at 0 (at 1).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(posterior_exceedance([2, 10, 18], [20, 20, 20], 0.6), 4)
    array([0.    , 0.1819, 0.9988])
    """
    x, n, _, valid, _ = _rate_inputs(successes, n, prior_mean)
    prior, strength, _ = beta_binomial_prior(x, n, prior_mean)
    x, n, prior, threshold = _floats(x, n, prior, threshold)
    if np.isinf(strength):
        out = (prior > threshold).astype(float)
    else:
        a = x + prior * strength
        b = n - x + (1 - prior) * strength
        with np.errstate(divide="ignore", invalid="ignore"):
            out = stats.beta.sf(threshold, np.where(a > 0, a, 1.0), np.where(b > 0, b, 1.0))
        out = np.where(a <= 0, (threshold < 0).astype(float), out)
        out = np.where(b <= 0, (threshold < 1).astype(float), out)
        out = np.where((a <= 0) & (b <= 0), np.nan, out)
    return _result(np.where(valid & ~np.isnan(threshold), out, np.nan))


def shrink_means(means, variances, n, prior_mean=None):
    """Empirical-Bayes (normal-normal) posterior means of many group means.

    Each unit's mean has sampling variance ``v_i = σ_i²/n_i``. The between-unit
    variance is the DerSimonian–Laird moment estimate, with ``w_i = 1/v_i``::

        m = Σ w_i y_i / Σ w_i,   Q = Σ w_i (y_i − m)²,
        τ² = max(0, (Q − (I − 1)) / (Σw − Σw²/Σw))

    and the posterior mean is ``m + B_i (y_i − m)`` with
    ``B_i = τ²/(τ² + v_i)``. ``τ² = 0`` means full pooling to ``m``.

    Parameters
    ----------
    means : array_like
        Observed unit means ``y_i``.
    variances : array_like
        Within-unit variances of individual observations ``σ_i²`` (squared
        standard deviations, not squared standard errors).
    n : array_like
        Unit sizes.
    prior_mean : array_like, optional
        Per-unit prior means to shrink toward instead of ``m`` (for example
        what the main effects predict for an intersection cell); ``Q`` then uses
        ``y_i − prior_i`` and, as in :func:`shrink_rates`, keeps ``I − 1``.

    Returns
    -------
    ndarray
        Posterior means. NaN where an input is NaN or ``n == 0``; units with
        ``σ² = 0`` are left out of the estimate of ``τ²`` and the pooled mean,
        and taken as exact (``B = 1``) while ``τ² > 0``. When ``τ² = 0`` is
        estimated from two or more units, every unit (exact ones included) is
        shrunk fully to the pooled value (or its ``prior_mean``).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(shrink_means([60.0, 70.0, 80.0], [100.0, 100.0, 100.0], [4, 4, 4]), 4)
    array([62.5, 70. , 77.5])
    """
    if prior_mean is None:
        y, var, n = _floats(means, variances, n)
        prior = None
    else:
        y, var, n, prior = _floats(means, variances, n, prior_mean)
    if np.any(var < 0):
        raise ValueError("variances must be non-negative")
    if np.any(n < 0):
        raise ValueError("n must be non-negative")
    valid = np.isfinite(y) & np.isfinite(var) & (n > 0)
    if prior is not None:
        valid &= np.isfinite(prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = var / n
        used = valid & (v > 0)
        w = np.where(used, 1 / v, 0.0)
        if prior is None:
            prior = np.full(y.shape, (w * np.where(used, y, 0.0)).sum() / w.sum())
        count = int(used.sum())
        tau2 = 0.0
        if count >= 2:
            q = (w * np.where(used, y - prior, 0.0) ** 2).sum()
            denominator = w.sum() - (w * w).sum() / w.sum()
            if denominator > 0:
                tau2 = max(0.0, (q - (count - 1)) / denominator)
        shrink = np.where(v > 0, tau2 / (tau2 + v), 1.0)
        if count >= 2 and tau2 == 0:
            # no spread beyond chance: every unit, an exact one too, takes the pooled value
            shrink = np.zeros(shrink.shape)
        posterior = prior + shrink * (y - prior)
    return _result(np.where(valid, posterior, np.nan))


def james_stein(y, sigma2, positive_part=True):
    """Efron & Morris's James–Stein estimator, shrinking toward the grand mean.

    ``z_i = ȳ + c(y_i − ȳ)`` with ``c = 1 − (k − 3)σ²/Σ(y_i − ȳ)²`` for ``k``
    observations with common known sampling variance ``σ²``.

    Parameters
    ----------
    y : array_like
        Observed values (e.g. batting averages); NaN entries are ignored and
        stay NaN.
    sigma2 : float
        Common sampling variance of each ``y_i``.
    positive_part : bool, default True
        Clip ``c`` to [0, 1] (the positive-part estimator: never shrink past the
        mean, never expand). ``c`` only leaves [0, 1] when the spread is below
        what chance alone gives, or when ``k < 3``.

    Returns
    -------
    ndarray
        The estimates ``z_i``. With all values equal, ``z = y``.

    References
    ----------
    Efron B, Morris C (1975). *JASA* 70:311-319; Efron B, Morris C (1977). Stein's
    paradox in statistics. *Scientific American* 236(5):119-127.

    Examples
    --------
    >>> import numpy as np
    >>> hits = np.array([18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7])
    >>> y = hits / 45
    >>> z = james_stein(y, y.mean() * (1 - y.mean()) / 45)
    >>> round(float(z[0]), 3), round(float(z[-1]), 3)
    (0.294, 0.242)
    """
    y = np.asarray(y, dtype=float)
    sigma2 = float(sigma2)
    if sigma2 < 0:
        raise ValueError("sigma2 must be non-negative")
    ok = ~np.isnan(y)
    k = int(ok.sum())
    if k == 0:
        return _result(y.copy())
    mean = y[ok].mean()
    spread = ((y[ok] - mean) ** 2).sum()
    if spread == 0:
        return _result(y.copy())
    c = 1 - (k - 3) * sigma2 / spread
    if positive_part:
        c = min(1.0, max(0.0, c))
    return _result(mean + c * (y - mean))


def leave_one_out_pooled(estimates, variances, usable=None, tau2=None) -> LeaveOneOut:
    """Random-effects summary of all other units, for each unit in turn.

    For unit *i*, the DerSimonian-Laird between-unit variance τ²₍₋ᵢ₎ and the
    random-effects mean μ₍₋ᵢ₎ (weights ``1 / (v_j + τ²₍₋ᵢ₎)``) are computed
    from the units ``j ≠ i``. Comparing unit *i* with them,

        z_i = (y_i − μ₍₋ᵢ₎) / √(v_i + τ²₍₋ᵢ₎ + Var μ₍₋ᵢ₎),

    is the externally standardised (deleted) residual of meta-analysis outlier
    screening (Viechtbauer & Cheung 2010): a unit is unusual only against the
    spread that the other units show, so one extreme unit does not make every
    other unit look unusual in the opposite direction.

    Parameters
    ----------
    estimates, variances : array_like
        Each unit's estimate (e.g. a gap) and its sampling variance.
    usable : array_like of bool, optional
        Units that may enter the others' summary (default: finite, variance > 0).
    tau2 : array_like, optional
        τ²₍₋ᵢ₎ estimated otherwise (e.g. :func:`leave_one_out_tau2_conditional`
        for sparse 2×2 tables); replaces DerSimonian-Laird's.

    Returns
    -------
    LeaveOneOut
        Arrays ``tau2``, ``mean`` and ``variance`` (NaN where fewer than one
        other unit is usable).

    Examples
    --------
    >>> out = leave_one_out_pooled([-1.3, -0.2, -0.1, -0.2, -0.2], [0.004] * 5)
    >>> bool(out.tau2[0] < 0.01 < out.tau2[1])
    True
    >>> round(float(out.mean[0]), 3)
    -0.175
    """
    y, v = _floats(estimates, variances)
    ok = np.isfinite(y) & np.isfinite(v) & (v > 0) if usable is None else np.asarray(usable, bool)
    w = np.where(ok, 1 / np.where(ok, v, 1.0), 0.0)
    wy = np.where(ok, w * np.where(ok, y, 0.0), 0.0)
    wyy, ww = wy * np.where(ok, y, 0.0), w * w
    s0, s1, s2, c = (t.sum() - t for t in (w, wy, wyy, ww))
    k = ok.sum() - ok  # other usable units
    with np.errstate(divide="ignore", invalid="ignore"):
        q = s2 - s1**2 / s0
        if tau2 is None:
            tau2 = np.where(k >= 2, np.maximum(0.0, (q - (k - 1)) / (s0 - c / s0)), 0.0)
        tau2 = np.nan_to_num(np.asarray(tau2, dtype=float) * np.ones(y.shape))
        weights = np.where(ok[None, :], 1 / (np.where(ok, v, 1.0)[None, :] + tau2[:, None]), 0.0)
        np.fill_diagonal(weights, 0.0)
        total = weights.sum(axis=1)
        mean = np.where(total > 0, (weights * np.where(ok, y, 0.0)[None, :]).sum(axis=1) / total, np.nan)
        variance = np.where(total > 0, 1 / total, np.nan)
    return LeaveOneOut(np.where(k >= 1, tau2, np.nan), mean, variance)


#: The grids of :func:`leave_one_out_tau2_conditional`: log odds ratios (step 0.05) and between-unit sds.
_THETA = np.linspace(-6.0, 6.0, 241)
_TAUS = np.linspace(0.0, 1.5, 31)


def conditional_loglik(x1, n1, x2, n2, theta):
    """Log-likelihood of each 2×2 table's log odds ratio ``theta``, conditional on its margins.

    Given its margins, a table's count ``x1`` follows Fisher's noncentral
    hypergeometric law with odds ratio ``exp(theta)`` (the law of
    :func:`midp_conditional_pvalue`); no cell needs a continuity correction.

    Returns
    -------
    ndarray
        One row per table, one column per value of ``theta``.

    Examples
    --------
    >>> from scipy import stats
    >>> ll = conditional_loglik([3], [10], [9], [12], [0.0, 1.0])
    >>> bool(np.allclose(ll[0], stats.nchypergeom_fisher.logpmf(3, 22, 12, 10, np.exp([0.0, 1.0]))))
    True
    """
    x1, n1, x2, n2 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (x1, n1, x2, n2))
    theta = np.asarray(theta, dtype=float)
    events = x1 + x2
    low, high = np.maximum(0.0, events - n2), np.minimum(n1, events)
    width = int((high - low).max()) + 1 if x1.size else 1
    support = low[:, None] + np.arange(width)[None, :]
    ways = (special.gammaln(n1[:, None] + 1) - special.gammaln(support + 1)
            - special.gammaln(np.maximum(n1[:, None] - support, 0) + 1)
            + special.gammaln(n2[:, None] + 1) - special.gammaln(np.maximum(events[:, None] - support, 0) + 1)
            - special.gammaln(np.maximum(n2[:, None] - events[:, None] + support, 0) + 1))
    ways = np.where(support <= high[:, None], ways, -np.inf)
    total = special.logsumexp(ways[:, :, None] + support[:, :, None] * theta[None, None, :], axis=1)
    seen = np.take_along_axis(ways, (x1 - low).astype(int)[:, None], axis=1)
    return seen + x1[:, None] * theta[None, :] - total


def leave_one_out_tau2_conditional(x1, n1, x2, n2, usable=None) -> np.ndarray:
    """τ² of the other units' log odds ratios, for each unit in turn, by maximum likelihood.

    The model is the conditional binomial-normal one for sparse 2×2 tables
    (Van Houwelingen, Zwinderman & Stijnen 1993; ``metafor::rma.glmm`` with
    ``model="CM.EL"``): each unit's count follows Fisher's noncentral
    hypergeometric law given its margins (:func:`conditional_loglik`), with a
    log odds ratio drawn from ``N(μ, τ²)``. The likelihood of the other units is
    maximised over ``μ`` and ``τ`` on grids (steps of 0.05). DerSimonian-Laird's
    moment estimate on log odds ratios with 0.5 added to empty cells takes
    each table's Woolf variance as known, which with a handful of events
    mistakes chance for spread between units.

    Returns
    -------
    ndarray
        τ²₍₋ᵢ₎ per unit (0 where fewer than two other units are usable; NaN
        where none is).

    Examples
    --------
    >>> x1, n1 = [2, 10, 9, 13, 8, 6], [150, 208, 247, 302, 184, 95]
    >>> x2, n2 = [38, 19, 22, 23, 48, 7], [1152, 641, 648, 530, 938, 361]
    >>> leave_one_out_tau2_conditional(x1 + [110], n1 + [225], x2 + [113], n2 + [602]).round(2).tolist()
    [0.3, 0.49, 0.49, 0.49, 0.42, 0.42, 0.0]
    """
    x1, n1, x2, n2 = _floats(x1, n1, x2, n2)
    ok = np.ones(x1.shape, bool) if usable is None else np.asarray(usable, bool)
    ok = ok & (n1 > 0) & (n2 > 0) & np.isfinite(x1 + x2)
    count = int(ok.sum())
    out = np.where(count - ok >= 1, 0.0, np.nan)
    if count < 3:
        return out
    loglik = conditional_loglik(x1[ok], n1[ok], x2[ok], n2[ok], _THETA)
    top = loglik.max(axis=1, keepdims=True)
    likelihood = np.exp(loglik - top)
    # each unit's marginal log-likelihood at every (τ, μ) of the grids: its likelihood smoothed by N(μ, τ²)
    gaps = _THETA[:, None] - _THETA[None, :]
    marginal = np.empty((_TAUS.size, _THETA.size, count))
    for t, tau in enumerate(_TAUS):
        kernel = np.eye(_THETA.size) if tau == 0 else np.exp(-0.5 * (gaps / tau) ** 2)
        kernel = kernel / kernel.sum(axis=1, keepdims=True)
        marginal[t] = (np.log(np.maximum(likelihood @ kernel.T, 1e-300)) + top).T
    rest = marginal.sum(axis=2)[:, :, None] - marginal  # the others' log-likelihood, without each unit in turn
    best = rest.reshape(-1, count).argmax(axis=0) // _THETA.size
    out[np.flatnonzero(ok)] = _TAUS[best] ** 2
    return out
