"""Comparisons at equal strata: a group against its comparator within strata, pooled.

A raw gap between two groups mixes how each treats students alike with how
the students differ: a school whose students needing support are further
behind shows more unmet need even if it supports students at each level of
need like every other school. Comparing within strata (bands of need, of
evidence) and pooling the within-stratum gaps removes that part (methods
notes, section 6 rule 5 and section 7):

- rates: the Mantel-Haenszel risk difference (weights ``n1·n0/N`` per
  stratum) with Sato's (1989) variance, which holds both for a few large
  strata and for many sparse ones (Greenland & Robins 1985); the
  Mantel-Haenszel risk ratio with the Greenland-Robins variance of its log;
  the Cochran-Mantel-Haenszel test, or its exact conditional mid-p version
  when the Mantel-Fleiss criterion (both distances of the expected count from
  the attainable bounds at least 5) fails;
- means: the difference of means pooled with the same weights
  ``n1·n0/(n1 + n0)``, tested with Mantel's (1963) extension of the CMH
  test (the variance of the difference when the students of a stratum are
  exchangeable between the two sides); for 0/1 values it is the CMH test.

A stratum where either side has no student contributes nothing (its weight
is 0). Everything works on sums per cell and stratum, so the cost is one
``np.bincount`` per sum over the students.

Examples
--------
>>> import numpy as np
>>> # Agresti (2013), Table 6.9: eight clinics, drug against control
>>> x1, n1 = np.array([11, 16, 14, 2, 6, 1, 1, 4]), np.array([36, 20, 19, 16, 17, 11, 5, 6])
>>> x0, n0 = np.array([10, 22, 7, 1, 0, 0, 1, 6]), np.array([37, 32, 19, 17, 12, 10, 9, 7])
>>> out = mh_rate_comparison(x1[None], n1[None], x0[None], n0[None])
>>> round(float(out["difference"][0]), 3), round(float(np.sqrt(out["variance"][0])), 3)
(0.13, 0.05)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from equity_audit.stats import _two_sided_midp

__all__ = ["mh_rate_comparison", "stratified_mean_comparison", "cmh_pvalue", "stratum_codes", "strata_sums",
           "comparator_strata", "restate_comparison"]

#: Mantel-Fleiss criterion: below this distance of the expected count from its bounds, the exact test.
_MANTEL_FLEISS = 5.0


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def mh_rate_comparison(x1, n1, x0, n0, confidence: float = 0.95) -> dict:
    """Mantel-Haenszel risk difference and ratio of group 1 against group 0, pooled over strata.

    Parameters
    ----------
    x1, n1, x0, n0 : array_like, shape (cells, strata)
        Successes and totals of each cell (group 1) and of its comparator
        (group 0) in each stratum. Whole numbers are not required (effective
        counts work), but the exact test rounds them.
    confidence : float
        Level of the intervals.

    Returns
    -------
    dict of ndarray, one value per cell
        ``difference`` (Mantel-Haenszel risk difference), ``variance`` (Sato),
        ``difference_low``/``_high`` (Wald), ``ratio`` (Mantel-Haenszel risk
        ratio) with ``ratio_low``/``_high`` (Greenland-Robins log interval),
        ``pvalue`` (:func:`cmh_pvalue`) and ``strata_used`` (strata where both
        sides have students). NaN where no stratum has both sides.

    Examples
    --------
    >>> import numpy as np
    >>> out = mh_rate_comparison([[8, 2]], [[10, 10]], [[4, 1]], [[10, 10]])
    >>> round(float(out["difference"][0]), 2), int(out["strata_used"][0])
    (0.25, 2)
    """
    x1, n1, x0, n0 = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (x1, n1, x0, n0))
    both = (n1 > 0) & (n0 > 0)
    total = np.where(both, n1 + n0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(both, n1 * n0 / total, 0.0)
        w_sum = weight.sum(axis=1)
        gap = np.where(both, (x1 * n0 - x0 * n1) / total, 0.0).sum(axis=1)
        difference = gap / w_sum
        # Sato (1989): var = (RD * sum P + sum Q) / (sum w)^2
        p_k = np.where(both, (n1**2 * x0 - n0**2 * x1 + n1 * n0 * (n0 - n1) / 2) / total**2, 0.0)
        q_k = np.where(both, (x1 * (n0 - x0) + x0 * (n1 - x1)) / (2 * total), 0.0)
        variance = (difference * p_k.sum(axis=1) + q_k.sum(axis=1)) / w_sum**2
        # Greenland & Robins (1985): the log of the Mantel-Haenszel risk ratio
        r = np.where(both, x1 * n0 / total, 0.0).sum(axis=1)
        s = np.where(both, x0 * n1 / total, 0.0).sum(axis=1)
        ratio = np.where(s > 0, r / s, np.nan)
        log_var = np.where(both, (n1 * n0 * (x1 + x0) - x1 * x0 * total) / total**2, 0.0).sum(axis=1) / (r * s)
    used = both.sum(axis=1)
    ok = used > 0
    z = _z(confidence)
    se = np.sqrt(np.clip(variance, 0, None))
    log_se = np.sqrt(np.clip(log_var, 0, None))
    fine = ok & (r > 0) & (s > 0)
    with np.errstate(invalid="ignore", over="ignore"):  # rows with r or s of 0 are masked: no interval
        ratio_low, ratio_high = ratio * np.exp(-z * log_se), ratio * np.exp(z * log_se)
    return {
        "difference": np.where(ok, difference, np.nan),
        "variance": np.where(ok, variance, np.nan),
        "difference_low": np.where(ok, difference - z * se, np.nan),
        "difference_high": np.where(ok, difference + z * se, np.nan),
        "ratio": np.where(ok, ratio, np.nan),
        "ratio_low": np.where(fine, ratio_low, np.nan),
        "ratio_high": np.where(fine, ratio_high, np.nan),
        "pvalue": cmh_pvalue(x1, n1, x0, n0),
        "strata_used": used,
    }


def cmh_pvalue(x1, n1, x0, n0) -> np.ndarray:
    """Two-sided Cochran-Mantel-Haenszel p-value per cell (rows), strata along columns.

    The statistic is ``(sum(x1 - E))² / sum(V)`` with the hypergeometric mean
    ``E = n1·m1/N`` and variance ``V = n1·n0·m1·m0 / (N²(N − 1))`` per stratum
    (no continuity correction; as ``statsmodels`` ``StratifiedTable.test_null_odds``).
    Where the Mantel-Fleiss criterion fails (the summed expected count is less
    than 5 from its smallest or largest attainable value), the exact
    conditional test is used instead: the sum of ``x1`` given every stratum's
    margins follows the convolution of the strata's hypergeometric laws, and
    the p-value is its two-sided mid-p (Agresti 2013, sections 6.4 and 16.6).

    Examples
    --------
    >>> import numpy as np
    >>> x1, n1 = np.array([[11, 16, 14, 2, 6, 1, 1, 4]]), np.array([[36, 20, 19, 16, 17, 11, 5, 6]])
    >>> x0, n0 = np.array([[10, 22, 7, 1, 0, 0, 1, 6]]), np.array([[37, 32, 19, 17, 12, 10, 9, 7]])
    >>> round(float(cmh_pvalue(x1, n1, x0, n0)[0]), 4)  # CMH chi-square 6.38 (Agresti, p. 231)
    0.0115
    """
    x1, n1, x0, n0 = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (x1, n1, x0, n0))
    both = (n1 > 0) & (n0 > 0)
    total = n1 + n0
    m1 = x1 + x0
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(both, n1 * m1 / total, 0.0)
        var = np.where(both & (total > 1), n1 * n0 * m1 * (total - m1) / (total**2 * (total - 1)), 0.0)
    observed = np.where(both, x1, 0.0).sum(axis=1)
    e_sum, v_sum = expected.sum(axis=1), var.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = (observed - e_sum) ** 2 / v_sum
    pvalue = np.where(v_sum > 0, sps.chi2.sf(chi2, 1), np.where(both.any(axis=1), 1.0, np.nan))
    lowest = np.where(both, np.maximum(0, m1 - n0), 0.0).sum(axis=1)
    highest = np.where(both, np.minimum(n1, m1), 0.0).sum(axis=1)
    small = (v_sum > 0) & (np.minimum(e_sum - lowest, highest - e_sum) < _MANTEL_FLEISS)
    for row in np.flatnonzero(small):  # a few cells of a table, each a handful of strata
        keep = both[row]
        pvalue[row] = _exact_midp(*(np.round(a[row, keep]).astype(np.int64) for a in (x1, n1, x0, n0)))
    return pvalue


def _exact_midp(x1, n1, x0, n0) -> float:
    """Two-sided mid-p of sum(x1) given every stratum's margins (convolved hypergeometric laws)."""
    law = np.ones(1)
    low = 0
    for a, b, c in zip(n1, n0, x1 + x0):  # strata of one cell
        support = np.arange(max(0, c - b), min(a, c) + 1)
        law = np.convolve(law, sps.hypergeom.pmf(support, a + b, c, a))
        low += support[0]
    t = int(x1.sum()) - low
    below, at, above = law[:t].sum(), law[t], law[t + 1:].sum()
    return float(_two_sided_midp(below, at, above))


def stratified_mean_comparison(m1, v1, n1, m0, v0, n0, confidence: float = 0.95) -> dict:
    """Difference of means of group 1 against group 0 at equal strata (Mantel's extension of the CMH test).

    The within-stratum differences are pooled with the Mantel-Haenszel
    weights ``w = n1·n0/N``: ``D = Σ w·(m1 − m0) / Σw``, whose numerator is
    the sum over strata of group 1's total minus what it would be at the
    stratum's mean. Its variance is the one it has when the students of a
    stratum are exchangeable between the two sides (Mantel 1963, the
    "mean score" generalisation of the Cochran-Mantel-Haenszel test; for 0/1
    values it is the CMH test): ``Var(D) = Σ w·S² / (Σw)²``, with ``S²`` the
    variance of the values in the stratum, both sides together. So a small
    group with few students showing a rare outcome is judged against the
    spread of everyone at its level, not against its own (near zero) spread,
    which makes a Welch test call such a group different far too often. The
    p-value is two-sided normal; the interval ``D ± z·sqrt(Var(D))``.

    Parameters
    ----------
    m1, v1, n1, m0, v0, n0 : array_like, shape (cells, strata)
        Means, within-side sums of squares about those means, and counts of
        each cell and its comparator in each stratum.

    Returns
    -------
    dict of ndarray
        ``difference``, ``difference_low``/``_high``, ``pvalue`` (NaN where
        no stratum with both sides has any variation), ``ratio`` (the two
        weighted means' ratio) and ``strata_used``.

    Examples
    --------
    >>> out = stratified_mean_comparison([[1.0, 3.0]], [[2.0, 2.0]], [[5, 5]],
    ...                                  [[0.5, 2.5]], [[2.0, 2.0]], [[5, 5]])
    >>> round(float(out["difference"][0]), 2), round(float(out["pvalue"][0]), 3)
    (0.5, 0.119)
    """
    m1, ss1, n1, m0, ss0, n0 = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (m1, v1, n1, m0, v0, n0))
    both = (n1 > 0) & (n0 > 0)
    total = np.where(both, n1 + n0, 2.0)
    a, b = np.nan_to_num(m1), np.nan_to_num(m0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(both, n1 * n0 / total, 0.0)
        w_sum = weight.sum(axis=1)
        difference = (weight * (a - b)).sum(axis=1) / w_sum
        ratio = (weight * a).sum(axis=1) / (weight * b).sum(axis=1)
        # the stratum's sum of squares about its own mean, both sides together
        squares = np.where(both, ss1 + ss0 + weight * (a - b) ** 2, 0.0)
        spread = np.where(both & (total > 1), squares / (total - 1), 0.0)
        se = np.sqrt((weight * spread).sum(axis=1)) / w_sum
        pvalue = 2 * sps.norm.sf(np.abs(difference) / se)
    used = both.sum(axis=1)
    testable = (used > 0) & (se > 0)
    z = _z(confidence)
    return {
        "difference": np.where(used > 0, difference, np.nan),
        "difference_low": np.where(testable, difference - z * se, np.nan),
        "difference_high": np.where(testable, difference + z * se, np.nan),
        "pvalue": np.where(testable, pvalue, np.nan),
        "ratio": np.where(used > 0, ratio, np.nan),
        "strata_used": used,
    }


def stratum_codes(data: pd.DataFrame, strata: list[str]) -> tuple[np.ndarray, int]:
    """One code per row for the crossing of the ``strata`` columns (a blank is a stratum of its own)."""
    keys = data[strata].astype(object).where(data[strata].notna(), "\0missing")
    codes, levels = pd.MultiIndex.from_frame(keys.astype(str)).factorize()
    return codes.astype(np.int64), max(len(levels), 1)


def strata_sums(cell: np.ndarray, size: int, values: np.ndarray, strata: np.ndarray,
                n_strata: int) -> dict[str, np.ndarray]:
    """n, sum and sum of squares of ``values`` per cell (rows) and stratum (columns); NaN values left out."""
    seen = ~np.isnan(values)
    clean = np.where(seen, values, 0.0)
    key = cell * n_strata + strata
    shape = (size, n_strata)
    count = lambda weights: np.bincount(key, weights=weights, minlength=size * n_strata).reshape(shape)  # noqa: E731
    return {"n": count(seen.astype(float)), "total": count(clean), "total_sq": count(clean**2)}


def comparator_strata(sums: dict[str, np.ndarray], comparator, reference: np.ndarray | None) -> dict:
    """Each cell's comparator per stratum: everyone else ("rest"), everyone ("all"), or the reference cells."""
    out = {}
    for name, by_cell in sums.items():
        whole = by_cell.sum(axis=0, keepdims=True)
        if comparator == "rest":
            out[name] = whole - by_cell
        elif comparator == "all":
            out[name] = np.repeat(whole, len(by_cell), axis=0)
        else:
            out[name] = np.repeat(by_cell[reference].sum(axis=0, keepdims=True), len(by_cell), axis=0)
    return out


def restate_comparison(table: pd.DataFrame, cell: np.ndarray, size: int, values: pd.Series,
                       data: pd.DataFrame, strata: list[str], comparator, reference, statistic: str,
                       confidence: float, design_effects=None) -> pd.DataFrame:
    """The table's comparison columns recomputed at equal strata (estimate and n stay raw).

    ``cell`` is each row's cell code (the table's row order), ``reference``
    the mask of the reference cells for a dict comparator. ``design_effects``
    (each cell's and its comparator's, in the table's row order), when rows
    are clustered, divide the sums of every stratum: the pooled comparison is
    then made on effective counts, so a student's several rows weigh as the
    information they carry, not as independent students.
    """
    codes, n_strata = stratum_codes(data, strata)
    own = strata_sums(cell, size, values.to_numpy(float), codes, n_strata)
    other = comparator_strata(own, comparator, reference)
    if design_effects is not None:
        own, other = ({name: sums / np.asarray(deff, float)[:, None] for name, sums in part.items()}
                      for part, deff in zip((own, other), design_effects))
    if statistic == "rate":
        result = mh_rate_comparison(own["total"], own["n"], other["total"], other["n"], confidence)
    else:
        moments = [_stratum_moments(part) for part in (own, other)]
        result = stratified_mean_comparison(*moments[0], *moments[1], confidence)
    table = table.copy()
    for name in ("difference", "difference_low", "difference_high", "ratio", "ratio_low", "ratio_high",
                 "pvalue"):
        if name in result:
            table[name] = result[name]
        elif name in table:
            table[name] = np.nan
    table["adjusted_for"] = " × ".join(strata)
    table["strata_used"] = result["strata_used"]
    return table


def _stratum_moments(sums: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sum of squares about the mean, and n per cell and stratum."""
    n = sums["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, sums["total"] / n, np.nan)
    squares = np.where(n > 0, sums["total_sq"] - n * np.nan_to_num(mean) ** 2, 0.0)
    return mean, np.clip(squares, 0, None), n
