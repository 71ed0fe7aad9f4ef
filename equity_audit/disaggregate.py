"""The disaggregation engine: a student-level metric by group and intersection.

Shaped like fairlearn's ``MetricFrame`` (one metric, broken down by sensitive
features) but built as one grouped aggregation, so a million students take
about as long as a bare pandas ``groupby``. Every cell carries its n, the
estimate and its interval, and a comparison with a comparator group:

- rates (a 0/1 metric): Wilson interval; the difference by Newcombe's hybrid
  score interval and the ratio by Katz's log interval; p-value by
  :func:`equity_audit.stats.two_proportion_pvalue`;
- means: t interval; difference and p-value by Welch's t;
- counts per student (``statistic="count"``: removals, days removed): exact
  negative-binomial intervals and the exact conditional test with the
  dispersion of all students, see :mod:`equity_audit.counts`;
- medians: a distribution-free interval from order statistics; the difference
  is shown without an interval.

P-values are adjusted across the cells of one table (Benjamini-Hochberg), a
cell is ``flagged`` only when its adjusted p-value is below ``fdr`` and it meets
the minimum n. Cells under ``min_n`` are ``suppressed``: every number but n is
withheld (n itself is withheld when the table is published, see
:func:`publishable`). With two or more grouping columns each cell is also
shrunk (empirical Bayes) toward what the main effects alone predict, so an
intersection whose gap the single-group views hide shows up as ``interaction``.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({"el": ["Yes"] * 40 + ["No"] * 60,
...                      "below_pace": [1] * 20 + [0] * 20 + [1] * 12 + [0] * 48})
>>> table = disaggregate(data, "below_pace", by=["el"])
>>> table[["el", "n", "estimate", "comparator_estimate"]].round(2).values.tolist()
[['No', 60, 0.2, 0.5], ['Yes', 40, 0.5, 0.2]]
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps

from equity_audit import stats
from equity_audit.privacy import DisclosureWarning, suppress
from equity_audit.data.contract import UNKNOWN

__all__ = ["disaggregate", "disaggregate_cells", "disaggregate_each", "quantiles_each", "scan_intersections",
           "flagged_but_withheld", "publishable", "COMPARATORS"]

COMPARATORS = ("rest", "all")
_STATISTICS = ("auto", "rate", "mean", "median", "count")


def disaggregate(data: pd.DataFrame, metric: str, *, by: list[str] | str, statistic: str = "auto",
                 comparator: str | dict = "rest", min_n: int = 10, confidence: float = 0.95,
                 fdr: float = 0.05, cluster: str | None = None,
                 adjust_for: list[str] | None = None, strata: str | list[str] | None = None,
                 _keep_protecting: bool = False, _shared_model=None) -> pd.DataFrame:
    """Break ``metric`` down by the crossed cells of the ``by`` columns.

    Parameters
    ----------
    data : DataFrame
        One row per student (or per student and domain, for one domain).
    metric : str
        A 0/1 (or boolean) column for rates, or a numeric column. Rows where it
        is missing are left out of that cell's n and counted in ``n_missing``.
    by : list of str
        Grouping columns; two or three give intersections. Flags become
        Yes / No / Unknown, blanks become ``Unknown``, and empty categories are
        kept as cells with n = 0.
    statistic : {"auto", "rate", "mean", "median", "count"}
        "auto" is "rate" for 0/1 metrics and "mean" otherwise. "count" is for
        events per student (removals, days removed): the mean per student,
        compared by :func:`equity_audit.counts.compare_counts`, whose variance
        comes from all students rather than a small group's own few values.
    comparator : "rest", "all" or dict
        "rest" compares each cell with all other students, "all" with everyone,
        and a dict such as ``{"race_ethnicity": "White"}`` with that one cell.
    min_n : int
        Smallest cell shown as numbers.
    confidence, fdr : float
        Interval level, and false discovery rate across the table's cells.
    cluster : str, optional
        Column naming the independent unit when a student has several rows
        (``student_id`` for pooled student-years). Every cell and comparator
        is then compared on its effective (Kish) counts: n and successes
        divided by the cluster design effect of
        :func:`equity_audit.stats.cluster_design_effect` (cluster-robust
        variance over the independent one, at least 1), so intervals and
        p-values are cluster-robust; ``n`` stays the number of rows and
        ``design_effect``/``comparator_design_effect`` are added.
    adjust_for : list of str, optional
        For intersections: more columns whose main effects are fitted jointly
        with those of ``by`` (e.g. every subgroup column), see below.
    strata : str or list of str, optional
        Compare at equal strata (e.g. ``"need_band"``): ``n``, ``estimate``,
        its interval and ``comparator_estimate`` stay the raw, descriptive
        ones, but ``difference`` (with its interval), ``ratio`` and
        ``pvalue`` (hence ``qvalue`` and ``flagged``) compare each cell with
        its comparator *within* each stratum (the crossing of these columns;
        a blank is a stratum of its own), pooled. For rates: the
        Mantel-Haenszel risk difference with Sato's variance, the
        Mantel-Haenszel risk ratio and the Cochran-Mantel-Haenszel test
        (exact conditional mid-p when the Mantel-Fleiss criterion fails); for
        means: the difference of means pooled with weights ``n1·n0/(n1+n0)``
        (see :mod:`equity_audit.stratified`). A stratum where either side has
        no student contributes nothing. ``adjusted_for`` names the columns and
        ``strata_used`` counts the strata that contributed. With ``cluster``,
        each cell's and each comparator's sums in every stratum are divided by
        their design effect before pooling (the Kish effective counts the
        comparison without strata uses). Not with medians.

    Intersections (two or more ``by`` columns) are tested against a model
    that fits **all main effects jointly** on the student-level cells
    (the crossing of ``by`` and ``adjust_for``): least squares with one dummy
    per level for means, a binomial logit model for rates (statsmodels GLM on
    the cell counts, which gives the student-level fit). For each cell an
    indicator is added; its coefficient is the cell's departure from the
    additive model fitted to everyone, so subgroups that are correlated with
    additive effects show none. ``interaction`` is that departure on the
    estimate's scale (``estimate − predicted``, with ``predicted`` what the
    main effects give the cell), ``interaction_low``/``_high`` its interval
    and ``interaction_pvalue`` its test: for means the t test of the
    indicator; for rates Rao's score test of the indicator at the
    main-effects fit, with the interval of the one-step estimate (see
    :func:`_score_rates`), and the larger of that and the mid-p binomial test
    against ``predicted`` when the cell's smallest expected count is under 5.
    In a table of two yes/no columns the four cells carry the same
    interaction, mirrored.

    Returns
    -------
    DataFrame
        One row per cell: the ``by`` columns, ``n``, ``n_missing``, ``estimate``,
        ``low``, ``high``, ``comparator_n``, ``comparator_estimate``,
        ``difference`` (with ``difference_low``/``_high``), ``ratio`` (with
        ``ratio_low``/``_high`` for rates), ``pvalue``, ``qvalue``,
        ``suppressed``, ``flagged``, and for intersections ``predicted``,
        ``shrunk_estimate`` (shrunk toward ``predicted``), ``interaction``,
        ``interaction_low``, ``interaction_high`` and ``interaction_pvalue``.

    Examples
    --------
    Two schools support students alike at each level of need, but school B's
    students needing support are further behind (more of the harder-to-reach
    band), so its raw unmet need is higher; at equal need the gap is 0:

    >>> import pandas as pd
    >>> rows = [("A", "far behind", 1, 10), ("A", "far behind", 0, 10), ("A", "behind", 1, 8),
    ...         ("A", "behind", 0, 72), ("B", "far behind", 1, 40), ("B", "far behind", 0, 40),
    ...         ("B", "behind", 1, 2), ("B", "behind", 0, 18)]
    >>> data = pd.DataFrame([(s, band, unmet) for s, band, unmet, k in rows for _ in range(k)],
    ...                     columns=["school", "need_band", "unmet_need"])
    >>> raw = disaggregate(data, "unmet_need", by="school")
    >>> equal = disaggregate(data, "unmet_need", by="school", strata="need_band")
    >>> raw["difference"].round(2).tolist(), equal["difference"].round(2).tolist()
    ([-0.24, 0.24], [0.0, 0.0])
    >>> equal[["estimate", "adjusted_for"]].values.tolist()
    [[0.18, 'need_band'], [0.42, 'need_band']]
    """
    by = [by] if isinstance(by, str) else list(by)
    values = _metric_values(data[metric])
    statistic = _resolve_statistic(values, statistic)
    groups = _grouping_frame(data, by)
    cells = _aggregate(groups, values, by, statistic)
    comparison = _comparator_sums(cells, by, comparator, statistic, values)
    if cluster is not None and statistic != "median":
        effective, comparison = _effective(cells, comparison, groups, by, values, data[cluster],
                                           comparator, statistic)
        table = _compare(effective, comparison, by, statistic, confidence)
        table["n"], table["successes" if statistic == "rate" else "n"] = cells["n"], (
            cells["total"] if statistic == "rate" else cells["n"])
        table["comparator_n"] = comparison["rows"].to_numpy()
        table["design_effect"] = effective["deff"].to_numpy()
        table["comparator_design_effect"] = comparison["deff"].to_numpy()
    else:
        table = _compare(cells, comparison, by, statistic, confidence)
    if strata is not None:
        design = None if cluster is None else (table["design_effect"].to_numpy(float),
                                                table["comparator_design_effect"].to_numpy(float))
        table = _at_equal_strata(table, data, groups, values, by, strata, comparator, statistic, confidence,
                                 design)
    table = _adjust_and_flag(table, min_n, fdr)
    if len(by) >= 2 and statistic != "median":
        table = _shrink_toward_main_effects(table, cells, by, statistic)
        if _shared_model is not None:  # scan_intersections: one model of every column for all its tables
            table = _interactions_from_model(table, by, _shared_model, statistic, confidence)
        else:
            extra = [c for c in (adjust_for or []) if c not in by]
            fine_groups = {**groups, **_grouping_frame(data, extra)}
            table = _joint_interactions(table, cells, fine_groups, values, by, [*by, *extra], statistic,
                                        confidence, data[cluster] if cluster is not None else None)
    # _keep_protecting: the numbers of cells withheld only to protect others stay, for scan_intersections to
    # test them and blank them itself
    return _withhold_small(_complementary(table, by, min_n), min_n, keep_protecting=_keep_protecting)


def disaggregate_cells(cells: pd.DataFrame, fine: pd.DataFrame, *, by: list[str], statistic: str,
                       comparator: str | dict = "rest", min_n: int = 10, confidence: float = 0.95,
                       fdr: float = 0.05) -> pd.DataFrame:
    """:func:`disaggregate` from sums already reduced, e.g. by DuckDB or Spark (:mod:`equity_audit.lazy`).

    Parameters
    ----------
    cells : DataFrame
        Every crossed cell of ``by`` (empty ones with n = 0), in the order of
        their categories: the ``by`` columns (categorical), ``n``,
        ``n_missing``, ``total`` and ``total_sq`` (sum and sum of squares of
        the metric).
    fine : DataFrame
        For intersections, the non-empty cells of the model columns (``by``
        then the ``adjust_for`` columns) with the same sums, in the order of
        their categories; unused with one ``by`` column.
    by : list of str
        Grouping columns.
    statistic : {"rate", "mean", "count"}
        Already resolved: medians and cluster-robust or stratified comparisons
        need the students themselves and stay with :func:`disaggregate`.
    comparator, min_n, confidence, fdr
        As for :func:`disaggregate`.

    Returns
    -------
    DataFrame
        The table :func:`disaggregate` returns for the same students.
    """
    comparison = _comparator_sums(cells, by, comparator, statistic, None)
    table = _adjust_and_flag(_compare(cells, comparison, by, statistic, confidence), min_n, fdr)
    if len(by) >= 2:
        model = [c for c in fine.columns if c not in ("n", "n_missing", "total", "total_sq")]
        table = _shrink_toward_main_effects(table, cells, by, statistic)
        table = _interactions_from_fine(table, cells[by], fine, by, model, statistic, confidence)
    return _withhold_small(_complementary(table, by, min_n), min_n)


def _at_equal_strata(table, data, groups, values, by, strata, comparator, statistic, confidence, design):
    """The comparison columns restated within strata (:mod:`equity_audit.stratified`).

    ``design``: each cell's and its comparator's design effects when rows are clustered, else None.
    """
    from equity_audit import stratified

    strata = [strata] if isinstance(strata, str) else list(strata)
    if statistic == "median":
        raise ValueError("strata work with rates and means, not medians")
    cell, shape = _cell_codes(groups, by)
    reference = None
    if isinstance(comparator, dict):
        reference = np.logical_and.reduce([table[c].astype(str).to_numpy() == str(v) for c, v in comparator.items()])
    return stratified.restate_comparison(table, cell, int(np.prod(shape)), values, data, strata, comparator,
                                         reference, statistic, confidence, design_effects=design)


def _effective(cells, comparison, groups, by, values, clusters, comparator, statistic):
    """Cells and comparators with n, sums and sums of squares divided by their design effects."""
    code, shape = _cell_codes(groups, by)
    cluster_codes = pd.factorize(clusters)[0]
    own, rest = stats.cluster_design_effect(code, cluster_codes, values.to_numpy(), int(np.prod(shape)),
                                            complement=True)
    if comparator != "rest":  # everyone, or one reference cell: the design effect of that group
        everyone = stats.cluster_design_effect(np.zeros(len(code), int), cluster_codes, values.to_numpy(), 1)
        if comparator == "all":
            rest = np.full(len(cells), everyone[0])
        else:
            mask = np.logical_and.reduce([cells[c].astype(str) == str(v) for c, v in comparator.items()])
            rest = np.full(len(cells), own[np.flatnonzero(mask)[0]])
    effective = cells.copy()
    comparison = comparison.copy()
    comparison["rows"] = comparison["n"].to_numpy()
    for frame, deff in ((effective, own), (comparison, rest)):
        frame["deff"] = deff
        for column in ("n", "total", "total_sq"):
            frame[column] = frame[column].to_numpy(float) / deff
    return effective, comparison


def _resolve_statistic(values: pd.Series, statistic: str) -> str:
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, not {statistic!r}")
    if statistic == "count" and bool((values < 0).any()):
        raise ValueError("statistic='count' needs counts of 0 or more per student")
    if statistic != "auto":
        return statistic
    raw = values.to_numpy()
    return "rate" if bool(np.all((raw == 0) | (raw == 1) | np.isnan(raw))) else "mean"


def _metric_values(values: pd.Series) -> pd.Series:
    """The metric as float64 with NaN for missing (booleans become 0/1)."""
    if values.dtype == "boolean":
        values = values.astype("Float64")
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
    return values.astype("float64")


def _grouping_frame(data: pd.DataFrame, by: list[str]) -> dict[str, pd.Series]:
    return {column: _as_category(data[column]) for column in by}


def _as_category(column: pd.Series) -> pd.Series:
    """Categorical with every level kept and blanks as Unknown.

    Plain columns (text, booleans) are factorized once and their few distinct
    values relabelled, so no string is built or compared per student.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        if column.isna().any():
            if UNKNOWN not in column.cat.categories:
                column = column.cat.add_categories(UNKNOWN)
            column = column.fillna(UNKNOWN)
        return column
    codes, uniques = pd.factorize(column)  # a blank gets code -1
    if column.dtype == "boolean" or column.dtype == bool:
        levels, names = ["Yes", "No", UNKNOWN], ["Yes" if value else "No" for value in uniques]
    else:
        names = [str(value) for value in uniques]  # distinct values only
        blank = bool((codes < 0).any()) or UNKNOWN in names
        levels = sorted(set(names) - {UNKNOWN}) + ([UNKNOWN] if blank else [])
    position = {level: code for code, level in enumerate(levels)}
    # the last entry is where code -1 (a blank) lands: Unknown
    relabel = np.array([position[name] for name in names] + [position.get(UNKNOWN, -1)], dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(relabel[codes], categories=levels), index=column.index)


def _cell_codes(groups: dict[str, pd.Series], columns) -> tuple[np.ndarray, tuple[int, ...]]:
    """Each row's crossed cell of ``columns`` (C order), and the shape of the crossing.

    ``np.ravel_multi_index`` by hand: its bounds check was an eighth of the engine's time
    on a million rows. The codes of :func:`_grouping_frame` are never negative or too large
    (blanks become Unknown); a negative one is refused, as the library's check would.
    """
    shape = tuple(len(groups[c].cat.categories) for c in columns)
    codes = [groups[c].cat.codes.to_numpy() for c in columns]
    if any(len(code) and code.min() < 0 for code in codes):  # a blank would land in another cell
        raise ValueError("a grouping column has blanks left: group it with _grouping_frame first")
    cell = codes[0].astype(np.intp)
    for code, size in zip(codes[1:], shape[1:]):
        cell *= size
        cell += code
    return cell, shape


def _aggregate(groups: dict[str, pd.Series], values: pd.Series, by: list[str], statistic: str) -> pd.DataFrame:
    """n, rows, sum and sum of squares of every crossed cell, empty cells included.

    One ``np.bincount`` per sum over the raveled category codes: the same cells
    as ``groupby(by, observed=False)`` at a fraction of its cost.
    """
    categories = [groups[c].cat.categories for c in by]
    cell, shape = _cell_codes(groups, by)
    raw = values.to_numpy()
    sums = _cell_sums(cell, raw, int(np.prod(shape)), statistic)
    index = pd.MultiIndex.from_product(
        [pd.CategoricalIndex(levels, categories=levels) for levels in categories], names=by)
    cells = pd.DataFrame(sums, index=index)
    if statistic == "median":
        frame = pd.DataFrame(groups).assign(_v=raw)
        cells["median"] = frame.groupby(by, observed=False)["_v"].median().to_numpy()
        cells[["median_low", "median_high"]] = _median_bounds(frame, by)
    return cells.reset_index()


def _cell_sums(cell: np.ndarray, raw: np.ndarray, size: int, statistic: str) -> dict[str, np.ndarray]:
    """n, n_missing, sum and sum of squares of each of ``size`` cells, one ``np.bincount`` each."""
    rows = np.bincount(cell, minlength=size)
    seen = ~np.isnan(raw)
    complete = bool(seen.all())
    clean = raw if complete else np.where(seen, raw, 0.0)
    n = rows if complete else np.bincount(cell, weights=seen, minlength=size).astype(np.int64)
    total = np.bincount(cell, weights=clean, minlength=size)
    return {
        "n": n,
        "n_missing": rows - n,
        "total": total,
        # for 0/1 values the sum of squares is the sum
        "total_sq": total if statistic == "rate" else np.bincount(cell, weights=clean**2, minlength=size),
    }


def _median_bounds(frame: pd.DataFrame, by: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Order-statistic interval for each cell's median (binomial ranks)."""
    ranked = frame.dropna(subset=["_v"]).sort_values([*by, "_v"])
    ranked["_rank"] = ranked.groupby(by, observed=True).cumcount() + 1
    n = ranked.groupby(by, observed=True)["_v"].transform("size")
    z = sps.norm.ppf(0.5 + confidence / 2)
    low_rank = np.floor(n / 2 - z * np.sqrt(n) / 2).clip(lower=1)
    high_rank = np.ceil(n / 2 + 1 + z * np.sqrt(n) / 2).clip(upper=n)
    low = ranked[ranked["_rank"] == low_rank].groupby(by, observed=False)["_v"].first()
    high = ranked[ranked["_rank"] == high_rank].groupby(by, observed=False)["_v"].first()
    return pd.concat([low.rename("median_low"), high.rename("median_high")], axis=1).to_numpy()


def _comparator_sums(cells: pd.DataFrame, by: list[str], comparator, statistic: str,
                     values: pd.Series) -> pd.DataFrame:
    """n, sum and sum of squares of each cell's comparator group."""
    sums = cells[["n", "total", "total_sq"]]
    whole = sums.sum()
    if comparator == "rest":
        result = whole - sums
    elif comparator == "all":
        result = pd.DataFrame([whole.to_numpy()] * len(cells), columns=sums.columns, index=cells.index)
    elif isinstance(comparator, dict):
        result = pd.DataFrame([_reference_cell(cells, by, comparator)] * len(cells),
                              columns=sums.columns, index=cells.index)
    else:
        raise ValueError(f"comparator must be 'rest', 'all' or a dict of column: value, not {comparator!r}")
    if statistic == "median":
        result["median"] = _comparator_medians(cells, comparator, values)
    return result


def _reference_cell(cells: pd.DataFrame, by: list[str], comparator: dict) -> np.ndarray:
    unknown = set(comparator) - set(by)
    if unknown:
        raise ValueError(f"comparator names {sorted(unknown)}, which are not among by={by}")
    mask = np.logical_and.reduce([cells[c].astype(str) == str(v) for c, v in comparator.items()])
    if not mask.any():
        raise ValueError(f"comparator group {comparator} has no cell in this table")
    return cells.loc[mask, ["n", "total", "total_sq"]].sum().to_numpy()


def _comparator_medians(cells: pd.DataFrame, comparator, values: pd.Series) -> np.ndarray:
    if comparator == "all":
        return np.full(len(cells), values.median())
    if isinstance(comparator, dict):
        mask = np.logical_and.reduce([cells[c].astype(str) == str(v) for c, v in comparator.items()])
        return np.full(len(cells), cells.loc[mask, "median"].iloc[0])
    return np.full(len(cells), np.nan)  # median of "everyone else" needs a pass per cell; not shown


def _compare(cells: pd.DataFrame, comparison: pd.DataFrame, by: list[str], statistic: str,
             confidence: float) -> pd.DataFrame:
    compare = {"rate": _compare_rates, "mean": _compare_means, "median": _compare_medians,
               "count": _compare_counts}[statistic]
    columns = compare(cells, comparison, confidence)
    # one frame built at once: a column inserted one at a time copies the frame's blocks
    return pd.DataFrame({**{column: cells[column] for column in by}, "statistic": statistic, "n": cells["n"],
                         "n_missing": cells["n_missing"], **columns}, index=cells.index)


def _compare_rates(cells, comparison, confidence):
    x, n = cells["total"].to_numpy(), cells["n"].to_numpy()
    cx, cn = comparison["total"].to_numpy(), comparison["n"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate, comparator_rate = x / n, cx / cn
    low, high = stats.wilson_interval(x, n, confidence)
    diff_low, diff_high = stats.newcombe_difference_interval(x, n, cx, cn, confidence)
    ratio_low, ratio_high = stats.ratio_interval(x, n, cx, cn, confidence)
    return dict(estimate=rate, low=low, high=high, comparator_n=cn,
                     comparator_estimate=comparator_rate, difference=rate - comparator_rate,
                     difference_low=diff_low, difference_high=diff_high,
                     ratio=_ratio(rate, comparator_rate), ratio_low=ratio_low, ratio_high=ratio_high,
                     successes=x, pvalue=_rate_pvalue(x, n, cx, cn))


def _rate_pvalue(x, n, cx, cn):
    """:func:`equity_audit.stats.two_proportion_pvalue`; with effective (not whole) counts, the
    same z test on them, and Fisher's exact test on them rounded where an expected count is under 5."""
    arrays = [np.asarray(a, dtype=float) for a in (x, n, cx, cn)]
    finite = [a[np.isfinite(a)] for a in arrays]
    if all(np.array_equal(f, np.round(f)) for f in finite):
        return stats.two_proportion_pvalue(x, n, cx, cn)
    x, n, cx, cn = arrays
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x + cx) / (n + cn)
        z = (x / n - cx / cn) / np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / cn))
        normal = 2 * sps.norm.sf(np.abs(z))
    whole = [np.round(a) for a in arrays]
    whole[0], whole[2] = np.minimum(whole[0], whole[1]), np.minimum(whole[2], whole[3])
    exact = stats.two_proportion_pvalue(*whole)
    small = stats.smallest_expected_count(x, n, cx, cn) < 5
    ok = (n > 0) & (cn > 0)
    return np.where(ok, np.where(small, exact, np.where(pooled * (1 - pooled) > 0, normal, 1.0)), np.nan)


def _compare_means(cells, comparison, confidence):
    mean, sd, n = _moments(cells)
    c_mean, c_sd, c_n = _moments(comparison)
    low, high = stats.mean_interval(mean, sd, n, confidence)
    welch = stats.welch_difference(mean, sd, n, c_mean, c_sd, c_n, confidence)
    difference, diff_low, diff_high, pvalue = (np.asarray(v, dtype=float) for v in _welch_parts(welch))
    # a group with no variation at all (say, no removals) gives Welch a zero variance and a
    # spurious p of 0: such a cell is shown but not tested
    pvalue = np.where((sd > 0) & (c_sd > 0), pvalue, np.nan)
    return dict(estimate=mean, low=low, high=high, comparator_n=c_n,
                     comparator_estimate=c_mean, difference=difference, difference_low=diff_low,
                     difference_high=diff_high, ratio=_ratio(mean, c_mean), ratio_low=np.nan,
                     ratio_high=np.nan, sd=sd, pvalue=pvalue)


def _compare_counts(cells, comparison, confidence):
    """Mean events per student; exact NB intervals and conditional test (:mod:`equity_audit.counts`)."""
    if "deff" in cells:
        # the design effect would count a student's rows twice over: their sum is already one count
        raise ValueError("statistic='count' takes one row per student: sum each student's counts first")
    from equity_audit import counts

    n, c_n = cells["n"].to_numpy(float), comparison["n"].to_numpy(float)
    events, c_events = cells["total"].to_numpy(float), comparison["total"].to_numpy(float)
    everyone = bool(np.allclose(c_n, n.sum()) and np.allclose(c_events, events.sum()))
    inverse_size = counts.dispersion(n, events, cells["total_sq"].to_numpy(float))
    columns = counts.compare_counts(events, n, c_events, c_n, inverse_size, confidence,
                                    comparator_includes_group=everyone)
    order = ("estimate", "low", "high", "comparator_n", "comparator_estimate", "difference", "difference_low",
             "difference_high", "ratio", "ratio_low", "ratio_high", "sd", "pvalue")  # as for means
    return {name: {**columns, "comparator_n": c_n, "sd": _moments(cells)[1]}[name] for name in order}


def _compare_medians(cells, comparison, confidence):
    median, c_median = cells["median"].to_numpy(), comparison["median"].to_numpy()
    return dict(estimate=median, low=cells["median_low"].to_numpy(), high=cells["median_high"].to_numpy(),
                     comparator_n=comparison["n"].to_numpy(), comparator_estimate=c_median,
                     difference=median - c_median, difference_low=np.nan, difference_high=np.nan,
                     ratio=_ratio(median, c_median), ratio_low=np.nan, ratio_high=np.nan,
                     pvalue=np.nan)


def _welch_parts(welch):
    if isinstance(welch, dict):
        return welch["difference"], welch["low"], welch["high"], welch["pvalue"]
    return welch


def _moments(sums: pd.DataFrame):
    n = sums["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sums["total"].to_numpy() / n
        variance = (sums["total_sq"].to_numpy() - n * mean**2) / (n - 1)
    return mean, np.sqrt(np.clip(variance, 0, None)), n


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) != 0, np.asarray(a) / np.asarray(b), np.nan)


def _adjust_and_flag(table: pd.DataFrame, min_n: int, fdr: float) -> pd.DataFrame:
    table["suppressed"] = table["n"] < min_n
    table["qvalue"], table["flagged"] = _false_discovery(table, "pvalue", min_n, fdr)
    return table


def _false_discovery(table: pd.DataFrame, pvalues: str, min_n: int, fdr: float):
    """BH-adjusted p-values over the cells that meet the minimum n, and the flags they give."""
    eligible = ~table["suppressed"] & (table["comparator_n"] >= min_n)
    qvalues = stats.bh_adjust(table[pvalues].where(eligible).to_numpy(dtype=float))
    return qvalues, np.nan_to_num(qvalues, nan=1.0) < fdr


def _shrink_toward_main_effects(table, cells, by, statistic):
    """Shrink each cell toward overall + the sum of its main effects.

    The main effects come from the cell sums, so no second pass over students.
    """
    # rates add on the log-odds scale, so a prediction never leaves (0, 1) near a ceiling
    scale, unscale = (_logit, _expit) if statistic == "rate" else (_same, _same)
    overall = scale(cells["total"].sum() / cells["n"].sum())
    predicted = np.full(len(table), overall)
    total, count = cells["total"].to_numpy(float), cells["n"].to_numpy(float)
    for column in by:
        codes, levels = cells[column].cat.codes.to_numpy(), len(cells[column].cat.categories)
        sums = np.bincount(codes, weights=total, minlength=levels), np.bincount(codes, weights=count, minlength=levels)
        with np.errstate(divide="ignore", invalid="ignore"):
            marginal = scale(np.where(sums[1] > 0, sums[0] / sums[1], np.nan))
        # a level with no student has no effect
        predicted = predicted + np.nan_to_num(marginal - overall, nan=0.0)[table[column].cat.codes.to_numpy()]
    predicted = unscale(predicted)
    n = table["n"].to_numpy(dtype=float)
    if statistic == "rate":
        shrunk = stats.shrink_rates(table["successes"].to_numpy(), n, prior_mean=predicted)
    else:
        shrunk = stats.shrink_means(table["estimate"].to_numpy(), table["sd"].to_numpy() ** 2, n,
                                    prior_mean=predicted)
    table["predicted"] = predicted
    table["shrunk_estimate"] = np.where(n > 0, shrunk, np.nan)
    table["interaction"] = table["shrunk_estimate"] - predicted
    table["interaction_pvalue"] = _interaction_pvalue(table, predicted, statistic)
    return table


def _joint_interactions(table, cells, groups, values, by, columns, statistic, confidence, clusters):
    """Each cell's departure from a model fitting every main effect of ``columns`` jointly.

    ``cells`` are the table's cells with their sums, in the table's order.
    """
    if list(columns) == list(by) and clusters is None:  # the model's cells are the table's own: no second pass
        seen = cells["n"].to_numpy() > 0
        fine = cells.loc[seen, [*by, "n", "n_missing", "total", "total_sq"]].reset_index(drop=True)
        return _interactions_from_fine(table, cells[by], fine, by, columns, statistic, confidence,
                                       coarse=np.flatnonzero(seen))
    fine = _fine_cells(groups, values, columns, statistic, clusters)
    return _interactions_from_fine(table, cells[by], fine, by, columns, statistic, confidence)


def _interactions_from_model(table, by, model, statistic, confidence):
    """:func:`_joint_interactions` with the model's fine cells, design, labels and test already built
    (:func:`_main_effects_model`): the table's cells are found among the fine ones by their labels."""
    fine, design, labels, _test = model
    coarse = _rows_of([_as_text(table[column]) for column in by], [labels[column] for column in by])
    return _interactions_from_fine(table, None, fine, by, None, statistic, confidence, coarse=coarse,
                                   design=design)


def _rows_of(rows: list[np.ndarray], cells: list[np.ndarray]) -> np.ndarray:
    """For each cell (its label in every column), the row with the same labels, or -1.

    ``rows``: the table's labels per column (no two rows alike); ``cells``: the cells' labels per column.
    The same as ``MultiIndex.get_indexer``, by integer keys: building MultiIndexes costs milliseconds a table.
    """
    row_key = np.zeros(len(rows[0]), dtype=np.int64)
    cell_key = np.zeros(len(cells[0]), dtype=np.int64)
    unmatched = np.zeros(len(cells[0]), dtype=bool)
    for row_labels, cell_labels in zip(rows, cells):
        levels = pd.Index(pd.unique(row_labels))
        cell_codes = levels.get_indexer(cell_labels)
        unmatched |= cell_codes < 0
        row_key = row_key * len(levels) + levels.get_indexer(row_labels)
        cell_key = cell_key * len(levels) + np.maximum(cell_codes, 0)
    found = pd.Index(row_key).get_indexer(cell_key)
    return np.where(unmatched, -1, found)


def _as_text(column: pd.Series) -> np.ndarray:
    """A column's values as text; a categorical one converts its few categories, not every row."""
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.isna().any():
        return np.asarray(column.cat.categories.astype(str), dtype=object)[column.cat.codes.to_numpy()]
    return column.astype(str).to_numpy(dtype=object)


def _interactions_from_fine(table, keys, fine, by, columns, statistic, confidence, coarse=None, design=None):
    """:func:`_joint_interactions` on fine cells already reduced (here, or by :mod:`equity_audit.lazy`).

    ``coarse``: each fine cell's row of the table, when known; else found by the cells' labels.
    ``design``: the fine cells' main-effects design of ``columns``, when already built.
    """
    design = _main_effects_design(fine, columns) if design is None else design
    if coarse is None:
        wanted = pd.MultiIndex.from_frame(keys.astype(str))
        coarse = wanted.get_indexer(pd.MultiIndex.from_frame(fine[by].astype(str)))
    out = _cell_tests(statistic)(fine, design, coarse, len(table), confidence)
    estimate = table["estimate"].to_numpy(float)
    predicted = np.where(np.isfinite(out[:, 0]), estimate - out[:, 0], table["predicted"])
    table["predicted"] = predicted
    n = table["n"].to_numpy(dtype=float)
    usable = np.isfinite(predicted)
    prior = np.where(usable, predicted, np.nanmean(estimate) if np.isfinite(estimate).any() else 0.0)
    if statistic == "rate":
        shrunk = stats.shrink_rates(table["successes"].to_numpy(float), n, prior_mean=np.clip(prior, 0, 1))
    else:
        shrunk = stats.shrink_means(estimate, table["sd"].to_numpy(float) ** 2, n, prior_mean=prior)
    table["shrunk_estimate"] = np.where((n > 0) & usable, shrunk, table["shrunk_estimate"])
    table["interaction"] = out[:, 0]
    table["interaction_low"], table["interaction_high"] = out[:, 1], out[:, 2]
    table["interaction_pvalue"] = out[:, 3]
    return table


def _fine_cells(groups, values, columns, statistic, clusters):
    """The non-empty crossed cells of ``columns`` with n, sum and sum of squares.

    With ``clusters`` each cell's sums are divided by its cluster design effect,
    so a fit on them carries the cluster-robust (effective) sample sizes.
    """
    categories = [groups[c].cat.categories for c in columns]
    code, shape = _cell_codes(groups, columns)
    size = int(np.prod(shape))
    if size <= max(len(code), 1 << 16):
        # few enough crossings to count every one: one pass, where finding those that occur sorts the students
        sums = _cell_sums(code, values.to_numpy(), size, statistic)
        present = np.flatnonzero(sums["n"] + sums["n_missing"])
        sums = {name: column[present] for name, column in sums.items()}
    else:
        # only the crossings that occur: with the adjustment columns the full product can run to millions
        present, position = np.unique(code, return_inverse=True)
        sums = _cell_sums(position.ravel(), values.to_numpy(), len(present), statistic)
    levels = np.unravel_index(present, shape)
    fine = pd.DataFrame({**{c: pd.Categorical.from_codes(k, categories=l)
                            for c, k, l in zip(columns, levels, categories)}, **sums})
    if clusters is not None:
        deff = stats.cluster_design_effect(code, pd.factorize(clusters)[0], values.to_numpy(), size)[present]
        for column in ("n", "total", "total_sq"):
            fine[column] = fine[column].to_numpy(float) / deff
    return fine[fine["n"] > 0].reset_index(drop=True)


def _main_effects_design(fine: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Intercept and one dummy per level but the first of every column (levels seen in ``fine``)."""
    parts = [np.ones((len(fine), 1))]
    for column in columns:
        dummies = pd.get_dummies(fine[column].astype(str)).to_numpy(float)
        parts.append(dummies[:, 1:])
    return np.hstack(parts)


def _cell_tests(statistic):
    """The test of every cell against the main effects: ``f(fine, design, owner, cells, confidence)``."""
    return _score_rates if statistic == "rate" else _mean_tests


def _mean_tests(fine, design, owner, cells, confidence):
    """Least squares on the cells (weights n), as if each cell's indicator were added; one row per cell.

    The student-level fit of the main effects and one cell's indicator, for
    every cell (fine cells ``owner == cell``), without refitting: by
    partitioned regression the indicator's coefficient, the fitted values,
    residuals and leverages of the model with it follow exactly from the
    main-effects fit and the indicator swept of the main effects (see
    :func:`_indicator_columns`), so one fit serves every cell.

    The indicator's variance is heteroscedasticity-robust (HC2 sandwich, see
    :func:`_sandwich`): students' values may vary much more in some groups than
    in others, and a pooled variance would then judge a noisy cell too surely.
    Its t test uses Welch–Satterthwaite degrees of freedom from the cell's own
    residuals and everyone else's, so with no other column it is Welch's test
    of the cell against the rest.

    Returns
    -------
    ndarray
        ``cells`` × 4: the indicator's coefficient, its interval's low and
        high, and its p-value; NaN where the cell cannot be told from the
        main effects (none or all of the fine cells, or an indicator they span).
    """
    out = np.full((cells, 4), np.nan)
    n = fine["n"].to_numpy(float)
    base = _least_squares(fine, design)
    if base is None or n.sum() <= design.shape[1] + 1:
        return out
    # blocks of cells, so the fine cells × cells arrays stay small however many fine cells there are
    step = max(1, 4_000_000 // len(n))
    for start in range(0, cells, step):
        ids = np.arange(start, min(cells, start + step))
        out[ids] = _indicator_columns(fine, design, base, owner[:, None] == ids[None, :], confidence)
    return out


def _indicator_columns(fine, design, base, inside, confidence):
    """:func:`_mean_tests` for the cells whose fine cells are the columns of ``inside``.

    With ``B = (X'NX)⁻¹`` of the main effects and ``c = X'Nz``, the indicator
    swept of the main effects is ``m = z − XBc``, its information
    ``s = z'Nz − c'Bc`` (zero when the main effects span it), its coefficient
    ``γ = z'N(y − Xβ)/s``; the fitted values move by ``m·γ``, the leverages by
    ``m²/s``, and each student's weight in ``γ`` is ``m/s``.
    """
    beta, bread, _, leverage = base
    n = fine["n"].to_numpy(float)
    mean = fine["total"].to_numpy(float) / n
    within = np.clip(fine["total_sq"].to_numpy(float) - n * mean**2, 0, None)
    residual = mean - design @ beta
    z = inside.astype(float)
    size = n @ z
    cross = design.T @ (z * n[:, None])
    projected = bread @ cross
    swept = z - design @ projected
    information = size - np.einsum("kc,kc->c", cross, projected)
    usable = (inside.any(0) & (~inside).any(0) & (information > 1e-10 * size))
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(usable, (n * residual) @ z / information, np.nan)
        rss = within[:, None] + n[:, None] * (residual[:, None] - swept * gamma) ** 2
        moved = leverage[:, None] + swept**2 / information
        share = (swept / information) ** 2 * _hc_residuals(rss, moved, "HC2", n.sum(), design.shape[1] + 1)
    variance_in, variance_out = (share * z).sum(0), (share * (1 - z)).sum(0)
    variance = variance_in + variance_out
    tested = usable & (variance > 0)
    df = _satterthwaite(variance_in, variance_out, size - 1, n.sum() - size - design.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(tested, np.sqrt(variance), np.nan)
        half = sps.t.ppf(0.5 + confidence / 2, df) * se
        pvalue = 2 * sps.t.sf(np.abs(gamma) / se, df)
    return np.column_stack([gamma, gamma - half, gamma + half, pvalue])


def _least_squares(fine, x):
    """Student-level least squares from the fine cells' n, sum and sum of squares.

    Returns the coefficients, ``(X'X)⁻¹``, each fine cell's residual sum of
    squares (its within-cell sum of squares plus n·(mean − fitted)²) and each of
    its students' leverage ``x'(X'X)⁻¹x``; None when the design is rank deficient.
    """
    n = fine["n"].to_numpy(float)
    mean = fine["total"].to_numpy(float) / n
    within = np.clip(fine["total_sq"].to_numpy(float) - n * mean**2, 0, None)
    gram = x.T @ (x * n[:, None])
    if n.sum() <= x.shape[1] or np.linalg.matrix_rank(gram) < x.shape[1]:
        return None
    bread = np.linalg.inv(gram)
    beta = bread @ (x.T @ (n * mean))
    rss = within + n * (mean - x @ beta) ** 2
    leverage = np.einsum("ij,jk,ik->i", x, bread, x)
    return beta, bread, rss, leverage


def _hc_residuals(rss, leverage, kind, n_total, k):
    """Each fine cell's squared residuals as the sandwich's meat weighs them (HC0 to HC3).

    HC2 divides by ``1 − h`` and is unbiased when the variance is in fact
    constant; HC3 divides by ``(1 − h)²``; HC1 scales HC0 by ``N / (N − k)``.
    A student whose leverage is 1 has a zero residual and adds nothing.
    """
    room = np.clip(1 - leverage, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = {"HC0": rss, "HC1": rss * n_total / (n_total - k), "HC2": rss / room,
                  "HC3": rss / room**2}[kind]
    return np.where(room > 1e-12, scaled, 0.0)


def _sandwich(fine, x, kind="HC2"):
    """Heteroscedasticity-robust covariance of the student-level least-squares fit.

    Computed from the fine cells alone: every student of a fine cell has the
    same row of ``x`` and so the same leverage, and their squared residuals sum
    to the cell's residual sum of squares. The same matrix as statsmodels'
    ``OLS(y, X).fit(cov_type=kind)`` on one row per student.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> fine = pd.DataFrame({"n": [2, 2], "total": [2.0, 6.0], "total_sq": [2.5, 18.5]})
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> np.round(_sandwich(fine, x, "HC0"), 4).tolist()
    [[0.125, -0.125], [-0.125, 0.25]]
    """
    parts = _least_squares(fine, x)
    if parts is None:
        return np.full((x.shape[1], x.shape[1]), np.nan)
    _, bread, rss, leverage = parts
    meat = x.T @ (x * _hc_residuals(rss, leverage, kind, fine["n"].to_numpy(float).sum(), x.shape[1])[:, None])
    return bread @ meat @ bread


def _satterthwaite(variance_in, variance_out, df_in, df_out):
    """Welch–Satterthwaite degrees of freedom of a variance summed from two independent parts."""
    parts = variance_in**2 / np.maximum(df_in, 1) + variance_out**2 / np.maximum(df_out, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(parts > 0, (variance_in + variance_out) ** 2 / parts, np.inf)


@lru_cache(maxsize=8)
def _normal_quantile(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (scipy's, looked up once per level)."""
    return sps.norm.ppf(0.5 + confidence / 2)


def _main_effects_eta(fine, design):
    """The linear predictor of the binomial logit GLM of the main effects alone; None if it fails."""
    n, x_ = fine["n"].to_numpy(float), fine["total"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return design @ _logit_fit(x_, n, design)[0]
        except (np.linalg.LinAlgError, ValueError):
            return None


def _logit_fit(successes, trials, exog, maxiter=100, tol=1e-8):
    """Coefficients and standard errors of statsmodels' ``GLM(Binomial()).fit()`` on cell counts.

    The same IRLS, operation for operation (logit link and binomial variance
    clipped at machine epsilon, a least-squares step per iteration, stop when the
    deviance changes by less than ``tol``, covariance from the pseudo-inverse), so
    the numbers are the same; without the model and results objects, which cost
    most of the time of the hundreds of small fits of one intersection table.
    """
    from statsmodels.tools.tools import pinv_extended

    eps = np.finfo(float).eps
    counts = np.column_stack([successes, trials - successes])
    n = counts.sum(1)
    endog = counts[:, 0] * 1.0 / n

    def deviance(mu):
        ratio = np.clip(endog / (mu + 1e-20), eps, np.inf)
        rest = np.clip((1.0 - endog) / (1.0 - mu + 1e-20), eps, np.inf)
        return np.sum(2 * n * (endog * np.log(ratio) + (1 - endog) * np.log(rest)))

    mu = (endog + 0.5) / 2
    clean = np.clip(mu, eps, 1.0 - eps)
    lin_pred = np.log(clean / (1.0 - clean))
    history = [deviance(mu)]
    if np.isnan(history[0]):
        raise ValueError("the first guess of the deviance is not a number")
    for _ in range(maxiter):
        clean = np.clip(mu, eps, 1.0 - eps)
        deriv = 1.0 / (clean * (1 - clean))
        weights = np.ones(len(n)) * n * (1.0 / (deriv**2 * (clean * (1 - clean) * 1)))
        working = lin_pred + deriv * (endog - mu)
        root = np.sqrt(weights)
        if not (np.all(np.isfinite(root)) and np.all(np.isfinite(working))):
            raise ValueError("the weighted least-squares step is not finite")
        params = np.linalg.lstsq(root[:, None] * exog, root * working, rcond=-1)[0]
        lin_pred = np.dot(exog, params)
        mu = 1.0 / (1.0 + np.exp(-lin_pred))
        history.append(deviance(mu))
        if history[-2] == history[-1] or abs(history[-2] - history[-1]) <= tol:  # np.allclose, rtol=0
            break
    inverse, _ = pinv_extended(root[:, None] * exog)
    return np.dot(inverse, root * working), np.sqrt(np.diag(np.dot(inverse, inverse.T) * 1.0))


def _score_rates(fine, design, owner, cells, confidence):
    """Each cell's departure from the main-effects logit model, by Rao's score test; one row per cell.

    ``owner`` gives each fine cell's cell (0 to ``cells`` − 1, −1 for none), so
    the cells do not overlap. The binomial logit GLM of the main effects is
    fitted once on the fine cells (:func:`_main_effects_eta`); for a cell with
    indicator ``z``, with ``W = n·μ(1 − μ)``,

    ``U = z'(x − n·μ)``,  ``V = z'Wz − (X'Wz)'(X'WX)⁻¹(X'Wz)``,

    and ``U²/V`` is the score statistic (χ² with one degree of freedom): the
    same as statsmodels' ``GLMResults.score_test(exog_extra=z)``. The score
    test is used rather than the Wald test of the indicator in a refitted
    model because it needs no fit per cell, and because near small cells or
    large departures the Wald statistic shrinks as the departure grows (the
    Hauck–Donner effect) while the score test, judged where the main effects
    alone hold, does not.

    The interval is the one-step (score-based) approximation of the refitted
    model: one Newton step from the main-effects fit gives the indicator's
    coefficient ``γ₁ = U/V`` with standard error ``1/√V`` and moves the main
    effects by ``−(X'WX)⁻¹(X'Wz)·γ₁``; ``predicted`` is the cell's rate from
    the moved main effects and the interval is ``rate(γ₁ ± z·se) − predicted``.
    A cell with all or none of its students a success (where the refitted
    coefficient would be infinite), or whose indicator the main effects span,
    keeps the main-effects prediction and gets no interval.

    Returns
    -------
    ndarray
        ``cells`` × 4: interaction (observed − predicted), its interval's low
        and high, and the p-value (the mid-p binomial test against
        ``predicted`` instead, or the larger of the two, when the cell's
        smallest expected count is under 5).
    """
    out = np.full((cells, 4), np.nan)
    eta = _main_effects_eta(fine, design)
    if eta is None:
        return out
    n, x_ = fine["n"].to_numpy(float), fine["total"].to_numpy(float)
    member = np.flatnonzero(owner >= 0)
    cell = owner[member]
    onehot = sparse.csr_matrix((np.ones(len(member)), (member, cell)), shape=(len(n), cells))
    size, hits = onehot.T @ n, onehot.T @ x_
    fine_cells = np.bincount(cell, minlength=cells)
    score, information, own, solved = _score_parts(eta, n, x_, design, onehot)
    edge = (hits == 0) | (hits == size)
    with np.errstate(divide="ignore", invalid="ignore"):
        # an indicator the main effects span (almost) entirely leaves nothing to test
        spanned = ~(information > 1e-10 * own)
        se = np.where(spanned, np.nan, 1 / np.sqrt(information))
        gamma = np.where(edge | spanned, np.nan, score / information)
    step = np.zeros(len(n))
    step[member] = np.nan_to_num(gamma)[cell] * np.einsum("ij,ji->i", design[member], solved[:, cell])
    moved = eta - step  # the main effects after the one-step update

    def rate_at(shift):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (onehot.T @ (n * _expit(moved + np.asarray(shift)[owner]))) / size

    z = _normal_quantile(confidence)
    predicted = rate_at(np.zeros(cells))
    with np.errstate(divide="ignore", invalid="ignore"):
        model = 2 * sps.norm.sf(np.abs(score) / np.sqrt(information))
        expected = size * np.minimum(predicted, 1 - predicted)
        testable = (fine_cells > 0) & (fine_cells < len(n)) & (1e-6 < predicted) & (predicted < 1 - 1e-6)
        small = edge | ~np.isfinite(se) | ~(expected >= 5)
        exact = stats.midp_binomial_pvalue(np.round(np.where(testable, hits, 0)),
                                           np.round(np.where(testable, size, 1)), np.where(testable, predicted, 0.5))
        # the exact test takes the predicted rate as known; when it rests on a few students of the other
        # cells its error is large, which the score test of the indicator includes; so does the Wald test
        # of the refitted indicator, and in a small cell far from its prediction the two differ widely
        # (calibrated on null districts, the score test alone flagged more): the larger of the three
        wald = _small_cell_wald(x_, n, design, owner, np.flatnonzero(small & testable & np.isfinite(gamma)), cells)
        model_small = np.fmax(np.where(np.isfinite(gamma), model, np.nan), wald)
        pvalue = np.where(small, np.fmax(exact, model_small), model)
        out[:, 0] = hits / size - predicted
        out[:, 1] = rate_at(gamma - z * se) - predicted
        out[:, 2] = rate_at(gamma + z * se) - predicted
    out[:, 3] = np.where(spanned & ~edge, np.nan, pvalue)  # nothing left to test: the main effects say it all
    # a main effect with all or none of its students (separation): the model cannot say what such a cell
    # should be, so it is not tested rather than tested against 0 or 1
    out[~testable] = np.nan
    return out


def _small_cell_wald(successes, trials, design, owner, listed, cells: int) -> np.ndarray:
    """Wald p-value of each ``listed`` cell's indicator refitted with the main effects; NaN for the others.

    One fit per listed cell (the small cells of a table), all solved together by :func:`_logit_fits`.
    """
    out = np.full(cells, np.nan)
    listed = np.asarray(listed, dtype=np.int64)
    if not len(listed):
        return out
    extra = (owner[None, :] == listed[:, None]).astype(float)[:, :, None]
    designs = np.concatenate([np.broadcast_to(design, (len(listed), *design.shape)), extra], axis=2)
    params, errors = _logit_fits(np.asarray(successes, float), np.asarray(trials, float), designs)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[listed] = 2 * sps.norm.sf(np.abs(params[:, -1]) / errors[:, -1])
    return out


def _logit_fits(successes, trials, designs, maxiter=100, tol=1e-8):
    """:func:`_logit_fit` for a stack of designs (k × cells × columns) on the same counts, at once.

    The same IRLS step for step, each fit stopping at its own iteration; one batched
    solve per iteration instead of a least-squares call per fit (the refits of a table's
    small cells were a third of the engine's time). A fit whose step is not finite gives
    NaN, as :func:`_logit_fit` raises for it.
    """
    eps = np.finfo(float).eps
    endog = successes / trials
    k = len(designs)

    def deviance(mu):
        ratio = np.clip(endog / (mu + 1e-20), eps, np.inf)
        rest = np.clip((1.0 - endog) / (1.0 - mu + 1e-20), eps, np.inf)
        return np.sum(2 * trials * (endog * np.log(ratio) + (1 - endog) * np.log(rest)), axis=-1)

    mu = np.tile((endog + 0.5) / 2, (k, 1))
    clean = np.clip(mu, eps, 1.0 - eps)
    lin_pred = np.log(clean / (1.0 - clean))
    last = deviance(mu)
    active, failed = np.isfinite(last), ~np.isfinite(last)
    root, working = np.zeros_like(mu), np.zeros_like(mu)
    for _ in range(maxiter):  # a few iterations, each over every fit still moving
        clean = np.clip(mu[active], eps, 1.0 - eps)
        deriv = 1.0 / (clean * (1 - clean))
        root[active] = np.sqrt(trials * (1.0 / (deriv**2 * (clean * (1 - clean)))))
        working[active] = lin_pred[active] + deriv * (endog - mu[active])
        finite = np.isfinite(root).all(axis=1) & np.isfinite(working).all(axis=1)
        failed |= active & ~finite
        active &= finite
        if not active.any():
            break
        params = _pinv(root[active, :, None] * designs[active], (root[active] * working[active])[:, :, None])
        lin_pred[active] = (designs[active] @ params)[:, :, 0]
        mu[active] = 1.0 / (1.0 + np.exp(-lin_pred[active]))
        now = deviance(mu[active])
        done = (last[active] == now) | (np.abs(last[active] - now) <= tol)
        last[active] = now
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    inverse = _pinv(root[:, :, None] * designs)
    params = (inverse @ (root * working)[:, :, None])[:, :, 0]
    errors = np.sqrt(np.einsum("kij,kij->ki", inverse, inverse))
    params[failed], errors[failed] = np.nan, np.nan
    return params, errors


def _pinv(stack, times=None, rcond=1e-15):
    """The pseudo-inverse of each matrix of a stack (rows ≥ columns), as statsmodels' ``pinv_extended``.

    By QR where a matrix has full column rank (the pseudo-inverse is then ``R⁻¹Q'``, four
    times faster than the SVD), by the SVD with its ``rcond`` cut where it has not. With
    ``times``, a stack of columns, the pseudo-inverses times them (a least-squares solution).
    """
    q, r = np.linalg.qr(stack)
    diagonal = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    full = (diagonal > 1e-10 * diagonal.max(axis=-1, keepdims=True)).all(axis=-1)
    right = np.swapaxes(q, -1, -2) if times is None else np.swapaxes(q, -1, -2) @ times
    out = np.empty((*stack.shape[:-2], stack.shape[-1], right.shape[-1]))
    if full.any():
        out[full] = np.linalg.solve(r[full], right[full])
    if not full.all():
        u, s, vt = np.linalg.svd(stack[~full], full_matrices=False)
        keep = s > rcond * s.max(axis=-1, keepdims=True)
        inverse_s = np.where(keep, 1 / np.where(keep, s, 1), 0.0)
        inverse = np.swapaxes(vt, -1, -2) @ (inverse_s[..., :, None] * np.swapaxes(u, -1, -2))
        out[~full] = inverse if times is None else inverse @ times[~full]
    return out


def _score_parts(eta, n, successes, design, onehot):
    """``U``, ``V``, ``z'Wz`` and ``(X'WX)⁻¹X'Wz`` of each cell's indicator (a column of ``onehot``) at ``eta``.

    One solve for all the cells: ``X'WX`` is the main effects' alone.
    """
    mu = _expit(eta)
    weight = n * mu * (1 - mu)
    score = onehot.T @ (successes - n * mu)
    cross = np.asarray((onehot.T @ (design * weight[:, None])).T)  # X'Wz, one column per cell
    solved = np.linalg.lstsq(design.T @ (design * weight[:, None]), cross, rcond=None)[0]
    own = onehot.T @ weight
    return score, own - np.einsum("jc,jc->c", cross, solved), own, solved


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _expit(x):
    from scipy.special import expit

    return expit(np.asarray(x, dtype=float))


def _same(x):
    return np.asarray(x, dtype=float)


def _interaction_pvalue(table: pd.DataFrame, predicted: np.ndarray, statistic: str) -> np.ndarray:
    """Two-sided p-value of the cell against what its main effects predict (z test)."""
    n = table["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "rate":
            se = np.sqrt(predicted * (1 - predicted) / n)
        else:
            se = table["sd"].to_numpy() / np.sqrt(n)
        z = (table["estimate"].to_numpy() - predicted) / se
    return np.where(n >= 2, 2 * sps.norm.sf(np.abs(z)), np.nan)


def _complementary(table: pd.DataFrame, by: list[str], min_n: int) -> pd.DataFrame:
    """Withhold more cells where the published totals would reveal a withheld one.

    The group sizes of a table add up to published totals (all students, or a
    row of an intersection), so a single withheld group could be recovered by
    subtraction; :func:`equity_audit.privacy.suppress` picks the extra cells.
    Three-way tables keep primary suppression only.
    """
    if len(by) > 2:
        return table
    # the counts as pivot_table lays them out (sorted keys, empty crossings 0); a groupby is a third of its time
    sums = table.groupby(by, observed=False, sort=True)["n"].sum()
    counts = sums.unstack(fill_value=0) if len(by) == 2 else sums.to_frame("n")
    with warnings.catch_warnings():
        # a cell no suppression can protect is already withheld as a primary cell
        warnings.simplefilter("ignore", DisclosureWarning)
        withheld = suppress(counts.astype("int64"), min_n=min_n).to_numpy(bool)
    row = counts.index.get_indexer(table[by[0]])
    column = counts.columns.get_indexer(table[by[1]]) if len(by) == 2 else np.zeros(len(table), dtype=int)
    found = (row >= 0) & (column >= 0)
    extra = np.zeros(len(table), dtype=bool)
    extra[found] = withheld[row[found], column[found]]
    extra &= ~table["suppressed"].to_numpy(bool)
    if not extra.any():
        return table
    table = table.copy(deep=False)  # copy-on-write: the caller's table keeps its columns
    table["suppressed"] = table["suppressed"].to_numpy(bool) | extra
    table.loc[extra, "flagged"] = False
    return table


def _withhold_small(table: pd.DataFrame, min_n: int, *, keep_protecting: bool = False) -> pd.DataFrame:
    numbers = [c for c in ("estimate", "low", "high", "difference", "difference_low", "difference_high",
                           "ratio", "ratio_low", "ratio_high", "successes", "sd", "pvalue", "qvalue",
                           "shrunk_estimate", "interaction", "interaction_low", "interaction_high",
                           "interaction_pvalue", "interaction_conditional_pvalue") if c in table.columns]
    withheld = table["suppressed"].to_numpy(bool)
    if keep_protecting:
        withheld = withheld & (table["n"] < min_n).to_numpy()
    if withheld.any():
        # column by column: one .loc assignment over many columns costs milliseconds per table
        plain = [c for c in numbers if table[c].dtype.kind in "fiu"]
        for column in plain:
            table[column] = np.where(withheld, np.nan, table[column].to_numpy(float))
        if len(plain) < len(numbers):
            table.loc[withheld, [c for c in numbers if c not in plain]] = np.nan
    return table.reset_index(drop=True)


def flagged_but_withheld(scan: pd.DataFrame) -> pd.DataFrame:
    """The intersections of a scan that differ beyond main effects but are withheld from publication.

    A cell of ``min_n`` or more students is withheld when publishing it would
    give away a smaller cell of its row or column (complementary suppression).
    Its test is still valid, and a difference there is a question for the
    team: :func:`scan_intersections` tests it, blanks it in the table it
    returns and keeps it in ``attrs["flagged_but_withheld"]``. These rows go to
    the confidential folder with their numbers; the report says only how many.

    Examples
    --------
    >>> import pandas as pd
    >>> flagged_but_withheld(pd.DataFrame({"intersection": ["a × b"]})).empty
    True
    """
    kept = scan.attrs.get("flagged_but_withheld")
    if kept is None or kept.empty:
        return pd.DataFrame(columns=[c for c in scan.columns if c != "suppressed"] + ["withheld_from_report"])
    return kept.drop(columns=["suppressed"]).assign(withheld_from_report=True).reset_index(drop=True)


def publishable(table: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """The table as it may be published: small n shown as ``<min_n``, p-values dropped."""
    shown = table.drop(columns=[c for c in ("successes", "sd", "total", "total_sq") if c in table])
    n = shown["n"].astype("Int64").astype("string")
    small = (shown["n"] > 0) & (shown["n"] < min_n)
    # a group withheld to protect another (complementary suppression) hides its size too
    protecting = shown["suppressed"].astype(bool) & (shown["n"] >= min_n) if "suppressed" in shown else False
    shown["n"] = n.mask(small, f"<{min_n}").mask(protecting, "withheld")
    for column in ("comparator_n",):
        if column in shown:
            shown[column] = shown[column].astype("Int64").astype("string").mask(small | protecting, "withheld")
    return shown


def disaggregate_each(data: pd.DataFrame, metric: str, columns: list[str], **options) -> pd.DataFrame:
    """:func:`disaggregate` by each column in turn, stacked with ``subgroup`` and ``group``.

    Benjamini-Hochberg control is applied across all the stacked cells, so the
    flags of the combined table keep the false discovery rate ``fdr``.
    """
    parts = [disaggregate(data, metric, by=[column], **options)
             .rename(columns={column: "group"}).assign(subgroup=column) for column in columns]
    table = pd.concat(parts, ignore_index=True)
    table["group"] = table["group"].astype(str)
    table["qvalue"], table["flagged"] = _false_discovery(table, "pvalue", options.get("min_n", 10),
                                                         options.get("fdr", 0.05))
    return table[["subgroup", "group", *[c for c in table.columns if c not in ("subgroup", "group")]]]


def quantiles_each(data: pd.DataFrame, metric: str, columns: list[str], *, min_n: int = 10) -> pd.DataFrame:
    """The 5th, 25th, 50th, 75th and 95th percentiles of ``metric`` per group of each column.

    Groups under ``min_n`` keep their n but no percentiles, so a chart cannot
    show a small group's values.
    """
    points = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
    parts = []
    for column in columns:
        groups = _as_category(data[column])
        values = _metric_values(data[metric])
        grouped = values.groupby(groups, observed=False)
        part = grouped.quantile(list(points.values())).unstack()
        part.columns = list(points)
        part["n"] = grouped.count()
        parts.append(part.rename_axis("group").reset_index().assign(subgroup=column))
    table = pd.concat(parts, ignore_index=True)
    table["group"] = table["group"].astype(str)
    table.loc[table["n"] < min_n, list(points)] = np.nan
    return table[["subgroup", "group", "n", *points]]


def scan_intersections(data: pd.DataFrame, metric: str, columns: list[str], *, depth: int = 2,
                       **options) -> pd.DataFrame:
    """Every ``depth``-way intersection of ``columns``, stacked, with BH control across all cells.

    Each row names its cell in ``intersection`` ("low income: Yes × disability: Yes")
    and keeps ``interaction``: how far the cell sits from what a model fitting
    the main effects of **all** ``columns`` jointly predicts (see
    :func:`disaggregate`, ``adjust_for``), with ``interaction_low``/``_high``.
    Correlated subgroups with additive effects therefore raise no flag.
    ``beyond_main_effects`` flags cells whose departure survives
    false-discovery control across the cells scanned: the intersections the
    single-group views would hide. A column with two groups carries the same
    interaction in both (mirrored), so only one of them is scanned: "Yes" for a
    yes/no column, otherwise the smaller group; Unknown is never scanned.

    Cells overlap (a group whose students are mostly English learners, crossed
    with disability, shares most of its students with English learners with a
    disability), so one real interaction makes its overlapping cells depart
    from the main effects too. The flags are therefore chosen by forward
    selection: the cell with the smallest p-value among those passing
    Benjamini–Hochberg over the whole family of scanned cells enters the model
    (its indicator joins the main effects), every other scanned cell is
    re-tested with the indicators of the cells already in, and this repeats
    while a cell still passes Benjamini–Hochberg on the family's p-values
    (entered cells keep the p-value they entered with; a cell the entered ones
    explain entirely gets 1; the family's size never changes). A cell that is
    only the shadow of a flagged one stops passing; two separate interactions
    are both flagged. ``interaction_conditional_pvalue`` is each scanned cell's
    p-value at the end: when it entered, or given all the entered cells.
    Sorted with the flagged cells first, largest interaction first.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> el = rng.random(4000) < 0.3
    >>> low = rng.random(4000) < np.where(el, 0.8, 0.3)            # correlated groups
    >>> pace = 1 - 0.2 * el - 0.1 * low + rng.normal(0, 0.3, 4000)  # additive effects
    >>> data = pd.DataFrame({"el": el, "low_income": low, "pace": pace})
    >>> bool(scan_intersections(data, "pace", ["el", "low_income"])["beyond_main_effects"].any())
    False
    """
    from itertools import combinations

    options = dict(options)
    options.setdefault("adjust_for", list(columns))
    shared = _shared_model(data, metric, columns, options)
    parts = []
    for combo in combinations(columns, depth):
        table = disaggregate(data, metric, by=list(combo), _keep_protecting=True, _shared_model=shared, **options)
        names = [table[c].astype(str).radd(f"{c.replace('_', ' ')}: ") for c in combo]
        table["intersection"] = names[0].str.cat(names[1:], sep=" × ")
        table["columns"] = " × ".join(combo)
        table["_scanned"] = np.logical_and.reduce(
            [table[c].astype(str).isin(_scanned_levels(data[c])).to_numpy() for c in combo])
        table["_cell"] = list(zip(*[zip([c] * len(table), table[c].astype(str)) for c in combo]))
        parts.append(table.drop(columns=list(combo)))
    stacked = pd.concat(parts, ignore_index=True)
    min_n, fdr = options.get("min_n", 10), options.get("fdr", 0.05)
    stacked["qvalue"], stacked["flagged"] = _false_discovery(stacked, "pvalue", min_n, fdr)
    # a cell withheld only to protect a smaller one (complementary) is still tested: its flag goes to the
    # confidential folder (:func:`flagged_but_withheld`), so the team hears of it without the report showing it
    family = (stacked["_scanned"] & (stacked["n"] >= min_n) & (stacked["comparator_n"] >= min_n)).to_numpy()
    if "interaction_pvalue" in stacked:
        model = [*dict.fromkeys([*columns, *(options.get("adjust_for") or [])])]
        stacked["beyond_main_effects"], stacked["interaction_conditional_pvalue"] = _forward_selection(
            stacked, family, data, metric, model, options, shared)
    else:  # medians: no model, nothing beyond main effects
        stacked["beyond_main_effects"] = False
    # rounded, so sums taken in another row order (last-bit differences) do not reorder ties
    withheld = stacked["suppressed"].astype(bool).to_numpy()
    kept = stacked[withheld & stacked["beyond_main_effects"].to_numpy(bool)].drop(columns=["_scanned", "_cell"])
    stacked = _withhold_small(stacked, min_n)  # now every withheld cell's numbers go, as disaggregate's do
    stacked.loc[withheld, "beyond_main_effects"] = False
    order = stacked.assign(_size=stacked["interaction"].abs().round(10)).sort_values(
        ["beyond_main_effects", "_size", "columns", "intersection"], ascending=[False, False, True, True],
        kind="mergesort")
    out = order.drop(columns=["_size", "_scanned", "_cell"]).reset_index(drop=True)
    out.attrs["flagged_but_withheld"] = kept.reset_index(drop=True)
    return out


def _shared_model(data, metric, columns, options):
    """The main-effects model every table of a scan tests its cells against, built once, or None.

    Each table of two columns fits the main effects of those columns and of ``adjust_for``; where
    ``adjust_for`` holds every scanned column that is the same model for all of them (by default,
    and as the notebooks scan). Fitting it once instead of once per table changes nothing but the
    order of sums (the last digits of a p-value).
    """
    adjust_for = list(options.get("adjust_for") or [])
    statistic = _resolve_statistic(_metric_values(data[metric]), options.get("statistic", "auto"))
    if statistic == "median" or not set(columns) <= set(adjust_for):
        return None
    return _main_effects_model(data, metric, [*dict.fromkeys([*columns, *adjust_for])], statistic, options)


def _forward_selection(stacked, family, data, metric, model, options, shared=None):
    """Interactions flagged one at a time, each re-test given those already flagged.

    Returns the flags and each family cell's final p-value (see
    :func:`scan_intersections`). Benjamini–Hochberg runs over all ``family``
    cells at every step, so a cell enters only if it would pass with the
    family's other p-values as they stand.
    """
    fdr = options.get("fdr", 0.05)
    pvalues = np.array(stacked["interaction_pvalue"].where(family), dtype=float)
    entered = np.zeros(len(stacked), bool)
    fine, design, labels, test = shared if shared is not None else (None,) * 4
    while True:
        open_ = (np.nan_to_num(stats.bh_adjust(pvalues), nan=1.0) < fdr) & ~entered
        if not open_.any():
            return entered, pvalues
        best = np.flatnonzero(open_)[np.argmin(pvalues[open_])]
        entered[best] = True
        if fine is None:  # built only once something is flagged
            fine, design, labels, test = _main_effects_model(data, metric, model,
                                                             str(stacked["statistic"].iloc[0]), options)
        best_cell = np.logical_and.reduce([labels[c] == v for c, v in stacked["_cell"].iloc[best]])
        design = np.column_stack([design, best_cell.astype(float)])
        rows = np.flatnonzero(~entered & np.isfinite(pvalues))
        pvalues[rows] = _retest(stacked, rows, fine, labels, design, test, options.get("confidence", 0.95))


def _retest(stacked, rows, fine, labels, design, test, confidence):
    """The p-values of the scanned ``rows`` given ``design``: all the cells of one table in one batch.

    A cell the entered ones explain entirely (no p-value) is no discovery, but stays in the family: 1.
    """
    out = np.ones(len(rows))
    tables = stacked["columns"].to_numpy()[rows]
    for name in dict.fromkeys(tables):  # a table's cells do not overlap
        batch = rows[tables == name]
        cells = [stacked["_cell"].iloc[row] for row in batch]
        wanted = pd.MultiIndex.from_tuples([tuple(value for _, value in cell) for cell in cells])
        owner = wanted.get_indexer(pd.MultiIndex.from_arrays([labels[column] for column, _ in cells[0]]))
        tested = test(fine, design, owner, len(batch), confidence)[:, 3]
        out[tables == name] = np.where(np.isfinite(tested), tested, 1.0)
    return out


def _main_effects_model(data, metric, model, statistic, options):
    """The fine cells of the ``model`` columns, their main-effects design, their labels and the cells' test."""
    groups = _grouping_frame(data, model)
    clusters = data[options["cluster"]] if options.get("cluster") is not None else None
    fine = _fine_cells(groups, _metric_values(data[metric]), model, statistic, clusters)
    labels = {c: fine[c].astype(str).to_numpy() for c in model}
    return fine, _main_effects_design(fine, model), labels, _cell_tests(statistic)


def _scanned_levels(column: pd.Series) -> set[str]:
    """The groups of a column whose intersections are scanned (one of a mirrored pair, never Unknown)."""
    labels = _as_category(column).astype(str)
    counts = labels[labels != UNKNOWN].value_counts()
    if len(counts) != 2:
        return set(counts.index)
    yes = [g for g in counts.index if g.lower() in ("yes", "y", "true", "1")]
    if yes:
        return {yes[0]}
    smallest = counts.sort_index().sort_values(kind="mergesort").index[0]
    return {smallest}
