"""Disproportionality: IDEA risk ratios, composition indices and opportunity gaps.

Numbers in, numbers out: every function takes a small table of counts (one row
per group) and returns one row per group, computed for all groups at once.

Rules (``/work/shared/research/methods.md`` sections 1 and 2)
-------------------------------------------------------------
* **Risk** of group *g* = children in *g* experiencing the outcome / children in
  *g* in the relevant population (``outcome / base``). The **comparison group**
  is all other groups in the district; its risk is
  ``(Σoutcome − outcome_g) / (Σbase − base_g)``.
* **Minimum cell size** (``min_cell``) applies to the numerators and **minimum
  n-size** (``min_n``) to the denominators of both the group's and the
  comparison group's risk; a count exactly at the minimum meets it
  (34 CFR 300.647(b)(1)(i)-(iv); presumptively reasonable values are at most
  10 and 30).
* **Decision rules** (300.647(b)(5), (c)), in order: if the group fails either
  minimum the ratio is ``"not calculated"``; else if the district comparison
  group fails either minimum, the **alternate risk ratio** divides the group's
  district risk by the risk of all other groups *in the state* (from the
  ``state`` table), and if there is no state table or the state comparison
  group fails too, the ratio is ``"not calculated"``; otherwise it is the
  **risk ratio**. A ratio is flagged only when it is *strictly* above the
  threshold.
* **Multi-year rule** (300.647(d)), :func:`multi_year`: a group is identified
  only after exceeding the threshold in each of the last ``years`` (1-3)
  consecutive years, unless it made reasonable progress.
* Descriptive measures (IDC guide; Bollmer, Bethel, Munk & Bitterman 2014) are
  reported for every group without the minima: risk difference, weighted risk
  ratio, composition, difference and relative difference in composition and the
  E-formula (Chinn & Hughes 1987).
* **Opportunities** (honors, gifted, advanced work), :func:`opportunity_gaps`:
  the CCCCO proportionality index, the four-fifths rule (29 CFR 1607.4(D)) and
  the CCCCO percentage point gap with its margin of error.

Examples
--------
>>> import pandas as pd
>>> district = pd.DataFrame({"group": ["A", "B", "C"], "outcome": [30, 20, 10],
...                          "base": [100, 200, 100]})
>>> out = risk_ratios(district, threshold=2.0)
>>> out[["risk", "comparison_risk", "risk_ratio", "method", "flagged"]].round(3).reset_index()
  group  risk  comparison_risk  risk_ratio      method  flagged
0     A   0.3            0.100         3.0  risk ratio     True
1     B   0.1            0.200         0.5  risk ratio    False
2     C   0.1            0.167         0.6  risk ratio    False
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np
import pandas as pd

from equity_audit.stats import ratio_interval

__all__ = [
    "risk_ratios",
    "multi_year",
    "opportunity_gaps",
    "outcome_table",
    "RISK_RATIO",
    "ALTERNATE_RISK_RATIO",
    "NOT_CALCULATED",
    "METHODS",
    "MIN_CELL",
    "MIN_N",
    "FOUR_FIFTHS",
]

#: Values of the ``method`` column of :func:`risk_ratios`.
RISK_RATIO = "risk ratio"
ALTERNATE_RISK_RATIO = "alternate risk ratio"
NOT_CALCULATED = "not calculated"
METHODS = (RISK_RATIO, ALTERNATE_RISK_RATIO, NOT_CALCULATED)

#: Presumptively reasonable minimum cell size and n-size (300.647(b)(1)(iv)).
MIN_CELL = 10
MIN_N = 30
#: Coverage of the Katz interval reported with every risk ratio.
CONFIDENCE = 0.95
#: Four-fifths rule: a selection rate below 80 % of the reference rate.
FOUR_FIFTHS = 0.8
#: CCCCO percentage point gap: MOE = max(z·sqrt(0.25/n), floor).
PPG_Z = 1.96
PPG_MOE_FLOOR = 0.03
# Slack for "exactly at" comparisons of rates computed in floating point.
_TOLERANCE = 1e-12

COLUMNS = ("group", "outcome", "base")
YEAR_COLUMNS = ("group", "school_year", "risk_ratio", "flagged")

MSG_COLUMNS = "{table} needs the columns {missing}"
MSG_DUPLICATES = "{table} has more than one row for {keys}"
MSG_MISSING_COUNTS = "{table}: outcome and base must not be missing"
MSG_NEGATIVE = "{table}: outcome and base must be non-negative"
MSG_STATE_GROUPS = "the state table has no row for district group(s) {groups}"
MSG_MINIMA = "min_cell and min_n must be non-negative numbers, got {min_cell!r} and {min_n!r}"
MSG_THRESHOLD = "threshold must be a positive number or None, got {threshold!r}"
MSG_YEARS = "years must be 1, 2 or 3 (34 CFR 300.647(d)(1)), got {years!r}"
MSG_PROGRESS = "reasonable_progress must be None or a non-negative number, got {value!r}"
MSG_YEAR_LABEL = "cannot read a school year from {values}"
MSG_REFERENCE = "reference {reference!r} is neither 'overall' nor a group of the table"
MSG_OUTCOME_VALUES = "outcome column {column!r} must hold non-negative numbers (0/1 or counts)"

REASON_GROUP = "the group"
REASON_DISTRICT = "all other groups in the district"
REASON_STATE = "all other groups in the state"
REASON_CELL = "fewer than {min_cell} children experienced the outcome (minimum cell size)"
REASON_N = "fewer than {min_n} children in the population (minimum n-size)"
REASON_ALTERNATE = "compared with all other groups in the state (alternate risk ratio)"
REASON_NO_STATE = "no state table was given for an alternate risk ratio"
REASON_SMALL = "fewer than {min_n} in the group"
REASON_SMALL_REFERENCE = "reference group {reference!r} has fewer than {min_n}"
REASON_IDENTIFIED = "above the threshold in each of the last {years} consecutive year(s)"
REASON_PROGRESS = ("above the threshold in each of the last {years} consecutive year(s), but the "
                   "risk ratio fell by at least {amount} in each of the two prior years "
                   "(reasonable progress)")
REASON_RUN = "above the threshold in {run} consecutive year(s) up to {year}; {years} required"


# --------------------------------------------------------------------------- checks


def _with_group_column(table):
    """Accept ``group`` as a column or as the (named) index."""
    if "group" not in table.columns and "group" in (table.index.names or []):
        return table.reset_index()
    return table


def _require(table, columns, name):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(MSG_COLUMNS.format(table=name, missing=missing))


def _counts(table, name):
    """Validated ``outcome, base`` counts indexed by group (input order kept)."""
    table = _with_group_column(pd.DataFrame(table))
    _require(table, COLUMNS, name)
    duplicated = table["group"].duplicated()
    if duplicated.any():
        keys = sorted(map(str, table.loc[duplicated, "group"].unique()))
        raise ValueError(MSG_DUPLICATES.format(table=name, keys=f"group(s) {keys}"))
    counts = table.set_index("group")[["outcome", "base"]]
    values = counts.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise ValueError(MSG_MISSING_COUNTS.format(table=name))
    if (values < 0).any():
        raise ValueError(MSG_NEGATIVE.format(table=name))
    return counts


def _number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isnan(value)


def _check_options(min_cell, min_n, threshold):
    if not (_number(min_cell) and _number(min_n) and min_cell >= 0 and min_n >= 0):
        raise ValueError(MSG_MINIMA.format(min_cell=min_cell, min_n=min_n))
    if threshold is not None and not (_number(threshold) and threshold > 0):
        raise ValueError(MSG_THRESHOLD.format(threshold=threshold))


# --------------------------------------------------------------------------- arithmetic


def _ratio(numerator, denominator):
    """Elementwise ``numerator / denominator``; NaN where the denominator is not positive."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float),
                                                 np.asarray(denominator, float))
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _exact(value) -> Fraction:
    """A number as an exact fraction: counts as they are, a threshold as written (``1.1`` is 11/10)."""
    if isinstance(value, (float, np.floating)) and float(value) != round(float(value)):
        return Fraction(repr(float(value)))
    return Fraction(value)


def _ratio_above(x, n, cx, cn, threshold) -> np.ndarray:
    """``(x/n) / (cx/cn) > threshold``, decided exactly: ``x·cn > threshold·cx·n`` in fractions.

    Floating point can put an exact ratio of 3 at 3.0000000000000004; the
    comparison here never does. NaN or a zero denominator gives False.
    """
    t = _exact(threshold)
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in (x, n, cx, cn)))
    out = np.zeros(arrays[0].shape, bool)
    flat = [a.ravel() for a in arrays]
    for i, (a, b, c, d) in enumerate(zip(*flat)):  # one per group, a handful
        if np.isfinite([a, b, c, d]).all() and b > 0 and c > 0 and d > 0:
            out.flat[i] = _exact(a) * _exact(d) > t * _exact(c) * _exact(b)
    return out


def _meets(outcome, base, min_cell, min_n):
    """Minimum cell size on the numerator and minimum n-size on the denominator."""
    return (outcome >= min_cell) & (base >= min_n)


def _shortfall(outcome, base, min_cell, min_n, who):
    """Plain words for which minimum a group fails ('' where it meets both)."""
    cell = REASON_CELL.format(min_cell=min_cell)
    size = REASON_N.format(min_n=min_n)
    cell_fails, size_fails = outcome < min_cell, base < min_n
    return np.select([cell_fails & size_fails, cell_fails, size_fails],
                     [f"{who}: {cell}; {size}", f"{who}: {cell}", f"{who}: {size}"], "")


# --------------------------------------------------------------------------- risk ratios


def _state_comparison(state, groups):
    """State all-other-groups counts per district group, and state base per group."""
    state = _counts(state, "state")
    missing = [g for g in groups if g not in state.index]
    if missing:
        raise ValueError(MSG_STATE_GROUPS.format(groups=[str(g) for g in missing]))
    own = state.reindex(groups).to_numpy(dtype=float)
    totals = state.to_numpy(dtype=float).sum(axis=0)
    return totals[0] - own[:, 0], totals[1] - own[:, 1], own[:, 1]


def _decide(x, n, cx, cn, sx, sn, has_state, min_cell, min_n):
    """Method, whether the state comparison is used, and the reason, per group."""
    group_ok = _meets(x, n, min_cell, min_n)
    district_ok = _meets(cx, cn, min_cell, min_n)
    state_ok = has_state & _meets(sx, sn, min_cell, min_n)
    method = np.select([~group_ok, district_ok, state_ok],
                       [NOT_CALCULATED, RISK_RATIO, ALTERNATE_RISK_RATIO], NOT_CALCULATED)
    use_state = group_ok & ~district_ok & has_state
    district_words = _shortfall(cx, cn, min_cell, min_n, REASON_DISTRICT)
    if has_state:
        after = np.where(state_ok, REASON_ALTERNATE, _shortfall(sx, sn, min_cell, min_n, REASON_STATE))
    else:
        after = np.full(x.shape, REASON_NO_STATE)
    reason = np.select([~group_ok, ~district_ok],
                       [_shortfall(x, n, min_cell, min_n, REASON_GROUP),
                        np.char.add(np.char.add(district_words.astype(str), "; "), after.astype(str))],
                       "")
    return method, use_state, reason


def _katz(x, n, cx, cn, calculated):
    """Katz interval where the ratio is calculated and both are proportions (x <= n)."""
    valid = calculated & (x <= n) & (cx <= cn)
    nan = np.nan
    low, high = ratio_interval(np.where(valid, x, nan), np.where(valid, n, nan),
                               np.where(valid, cx, nan), np.where(valid, cn, nan), CONFIDENCE)
    return np.asarray(low, float), np.asarray(high, float)


def _weighted_risks(x, n, state_base):
    """Westat weighted risk of each group and of all other groups (state base shares as weights).

    ``(Σ_{j≠g} p_j)·R_g`` and ``Σ_{j≠g} p_j R_j``, the sums running over the
    groups present in the district (``base > 0``); with every group present,
    ``Σ_{j≠g} p_j = 1 − p_g``. Their ratio is the weighted risk ratio.
    """
    risk = _ratio(x, n)
    share = _ratio(state_base, state_base.sum())
    present = n > 0
    weight = np.where(present, share, 0.0)
    weighted = np.where(present, share * risk, 0.0)
    return (weight.sum() - weight) * risk, weighted.sum() - weighted


def _composition(x, n):
    """Composition, base share, their differences and the E-formula upper bound."""
    composition = _ratio(x, x.sum())
    share = _ratio(n, n.sum())
    upper = share + np.sqrt(_ratio(share * (1 - share), x.sum()))
    return {
        "composition": composition,
        "base_share": share,
        "composition_difference": composition - share,
        "relative_difference_in_composition": _ratio(composition - share, share),
        "e_formula_upper": upper,
        "e_formula_flagged": composition > upper,
    }


def risk_ratios(district, state=None, *, min_cell=10, min_n=30, threshold=None):
    """Risk, risk ratio (or alternate risk ratio) and descriptive indices per group.

    Decision rules of 34 CFR 300.647 (methods notes 1.2), for each group:

    1. the group's outcome count is below ``min_cell`` or its base below
       ``min_n`` -> ``"not calculated"``;
    2. else, the comparison group (all other groups in the district) is below
       either minimum -> ``"alternate risk ratio"``: the group's district risk
       over the risk of all other groups in the state, from ``state``; if
       ``state`` is None or the state comparison group is below either minimum
       too -> ``"not calculated"``;
    3. else ``"risk ratio"``: the group's risk over the district comparison risk.

    Counts exactly at the minima meet them. ``flagged`` is ``risk_ratio >
    threshold`` (strictly above; exactly at the threshold is not flagged).

    Parameters
    ----------
    district : DataFrame
        Columns ``group, outcome, base``, one row per group: ``outcome`` counts
        the children experiencing the outcome (or, for total disciplinary
        removals, the removals), ``base`` the children in the relevant
        population (enrolment for identification; children with disabilities
        for placement and discipline). All groups of the district, since "all
        other groups" are summed from these rows.
    state : DataFrame, optional
        Same columns for the whole state, with a row for every district group.
        Needed for the alternate risk ratio and the weighted risk ratio.
    min_cell, min_n : int, default 10 and 30
        Minimum cell size (numerators) and minimum n-size (denominators).
    threshold : float, optional
        Risk ratio threshold; None means nothing is flagged.

    Returns
    -------
    DataFrame
        Indexed by group, in input order, with columns

        * ``outcome``, ``base``, ``risk``;
        * ``comparison_outcome``, ``comparison_base``, ``comparison_risk``: the
          comparison the rules settled on -- all other groups in the state when
          the district comparison fails a minimum and ``state`` is given, all
          other groups in the district otherwise;
        * ``risk_ratio`` (NaN when not calculated), ``risk_ratio_low``,
          ``risk_ratio_high`` (95 % Katz log interval, :func:`~equity_audit.stats.ratio_interval`,
          treating the comparison as an independent sample; NaN when not
          calculated, when a numerator is 0 or when outcome > base, e.g. removals),
          ``method`` (one of :data:`METHODS`), ``reason`` (plain words why the
          ratio is alternate or not calculated; '' for a risk ratio) and
          ``flagged``;
        * descriptive measures, computed for every group regardless of the
          minima: ``district_comparison_risk`` and ``risk_difference`` (risk
          minus the district comparison risk), ``weighted_risk``,
          ``weighted_comparison_risk`` and their ratio ``weighted_risk_ratio``
          (NaN without ``state``; see Notes), ``composition`` (outcome / Σoutcome),
          ``base_share`` (base / Σbase), ``composition_difference``,
          ``relative_difference_in_composition`` ((composition − base_share) /
          base_share), ``e_formula_upper`` (base_share +
          sqrt(base_share·(1 − base_share)/Σoutcome)) and ``e_formula_flagged``
          (composition above the upper bound).

        Rates with a zero denominator are NaN.

    Raises
    ------
    ValueError
        On missing columns, repeated groups, missing or negative counts, a
        district group absent from ``state``, negative minima or a threshold
        that is not positive.

    Notes
    -----
    The weighted risk ratio (Bollmer et al. 2007; IDC guide pp. 32-46) weights
    the district risks ``R_j`` by the state base shares ``p_j``:
    ``WRR_g = (Σ_{j≠g} p_j)·R_g / Σ_{j≠g} p_j·R_j``, i.e. ``(1 − p_g)·R_g /
    Σ_{j≠g} p_j R_j`` when every group is present; groups with no base in the
    district (risk undefined) are left out of both sums.

    Examples
    --------
    The comparison group of B has only 9 children experiencing the outcome, so
    B gets the alternate risk ratio against the state; C is too small.

    >>> import pandas as pd
    >>> district = pd.DataFrame({"group": ["A", "B", "C"], "outcome": [4, 40, 5],
    ...                          "base": [100, 200, 20]})
    >>> state = pd.DataFrame({"group": ["A", "B", "C"], "outcome": [500, 900, 100],
    ...                       "base": [10000, 9000, 1000]})
    >>> out = risk_ratios(district, state, threshold=2.0)
    >>> out[["risk", "comparison_risk", "risk_ratio", "method", "flagged"]].round(3).reset_index()
      group  risk  comparison_risk  risk_ratio                method  flagged
    0     A  0.04            0.205         NaN        not calculated    False
    1     B  0.20            0.055       3.667  alternate risk ratio     True
    2     C  0.25            0.147         NaN        not calculated    False
    >>> for part in out.loc["B", "reason"].split("; "):
    ...     print(part)
    all other groups in the district: fewer than 10 children experienced the outcome (minimum cell size)
    compared with all other groups in the state (alternate risk ratio)
    """
    _check_options(min_cell, min_n, threshold)
    counts = _counts(district, "district")
    x, n = (counts[c].to_numpy(dtype=float) for c in ("outcome", "base"))
    state_counts = None if state is None else _state_comparison(state, list(counts.index))
    columns = {"outcome": counts["outcome"], "base": counts["base"], "risk": _ratio(x, n)}
    columns.update(_regulatory(x, n, state_counts, min_cell, min_n, threshold))
    columns.update(_descriptive(x, n, state_counts))
    out = pd.DataFrame(columns, index=counts.index)
    out.index.name = "group"
    return out


def _regulatory(x, n, state_counts, min_cell, min_n, threshold):
    """Comparison group, (alternate) risk ratio, Katz interval, method, reason and flag."""
    cx, cn = x.sum() - x, n.sum() - n
    has_state = state_counts is not None
    sx, sn = state_counts[:2] if has_state else (np.full(x.shape, np.nan),) * 2
    method, use_state, reason = _decide(x, n, cx, cn, sx, sn, has_state, min_cell, min_n)
    calculated = method != NOT_CALCULATED
    comp_x, comp_n = np.where(use_state, sx, cx), np.where(use_state, sn, cn)
    comp_risk = _ratio(comp_x, comp_n)
    ratio = np.where(calculated, _ratio(_ratio(x, n), comp_risk), np.nan)
    low, high = _katz(x, n, comp_x, comp_n, calculated)
    flagged = (calculated & _ratio_above(x, n, comp_x, comp_n, threshold) if threshold is not None
               else np.zeros(x.shape, bool))
    return {"comparison_outcome": comp_x, "comparison_base": comp_n, "comparison_risk": comp_risk,
            "risk_ratio": ratio, "risk_ratio_low": low, "risk_ratio_high": high,
            "method": method.astype(str), "reason": reason.astype(str), "flagged": flagged}


def _descriptive(x, n, state_counts):
    """Risk difference, weighted risk ratio and composition measures (no minima)."""
    district_risk = _ratio(x.sum() - x, n.sum() - n)
    if state_counts is None:
        weighted_risk = weighted_comparison = np.full(x.shape, np.nan)
    else:
        weighted_risk, weighted_comparison = _weighted_risks(x, n, state_counts[2])
    return {"district_comparison_risk": district_risk, "risk_difference": _ratio(x, n) - district_risk,
            "weighted_risk": weighted_risk, "weighted_comparison_risk": weighted_comparison,
            "weighted_risk_ratio": _ratio(weighted_risk, weighted_comparison), **_composition(x, n)}


# --------------------------------------------------------------------------- multi-year


def _year_numbers(labels):
    """School-year labels (2025, '2024-25', '2024-2025') as integers for consecutiveness."""
    if pd.api.types.is_numeric_dtype(labels):
        numbers = pd.to_numeric(labels)
    else:
        numbers = pd.to_numeric(labels.astype(str).str.extract(r"(\d{4})", expand=False))
    if numbers.isna().any() or (numbers != np.round(numbers)).any():
        raise ValueError(MSG_YEAR_LABEL.format(values=sorted(map(str, labels[numbers.isna()].unique()))))
    return numbers.astype("int64")


def _year_table(flags_by_year):
    table = _with_group_column(pd.DataFrame(flags_by_year))
    _require(table, YEAR_COLUMNS, "flags_by_year")
    table = table.assign(year=_year_numbers(table["school_year"]))
    if table.duplicated(["group", "year"]).any():
        raise ValueError(MSG_DUPLICATES.format(table="flags_by_year", keys="a group in a school year"))
    return table


def _check_multi_year(years, reasonable_progress):
    if years not in (1, 2, 3) or isinstance(years, bool):
        raise ValueError(MSG_YEARS.format(years=years))
    if reasonable_progress is not None and not (_number(reasonable_progress)
                                                and reasonable_progress >= 0):
        raise ValueError(MSG_PROGRESS.format(value=reasonable_progress))


def _wide(table, column, fill):
    """Groups × every year from the first to the last in the data (newest first)."""
    years = range(table["year"].max(), table["year"].min() - 1, -1)
    wide = table.pivot(index="group", columns="year", values=column)
    return wide.reindex(columns=list(years)).astype(float).fillna(fill)


def _progress(ratios, last, amount):
    """Risk ratio fell by at least ``amount`` (and by more than 0) in each of the last two changes."""
    if amount is None:
        return np.zeros(len(ratios), bool)
    rr = ratios.reindex(columns=[last, last - 1, last - 2]).to_numpy(dtype=float)
    drops = np.column_stack([rr[:, 1] - rr[:, 0], rr[:, 2] - rr[:, 1]])
    return ((drops >= amount - _TOLERANCE) & (drops > 0)).all(axis=1)


def multi_year(flags_by_year, *, years=3, reasonable_progress=None):
    """Significant disproportionality under the multi-year rule of 300.647(d).

    The determination year is the latest school year in the table. A group
    **exceeds the threshold in every year** when it is flagged in each of the
    ``years`` consecutive school years ending with the determination year (a
    year with no row for the group, or a row not flagged, breaks the run). It
    is **exempt for reasonable progress** when ``reasonable_progress`` is given
    and its risk ratio fell, in each of the two prior consecutive years (from
    the year before last to last year, and from last year to the determination
    year), by at least ``reasonable_progress`` (and by more than zero). The
    group has **significant disproportionality** when it exceeds the threshold
    in every year and is not exempt.

    Parameters
    ----------
    flags_by_year : DataFrame
        Columns ``group, school_year, risk_ratio, flagged`` (one row per group
        and year), e.g. :func:`risk_ratios` of each year with the index reset and
        a ``school_year`` column added. ``risk_ratio`` holds the risk ratio or
        alternate risk ratio (NaN when not calculated). School years are numbers
        (2025) or labels whose first four digits are a year ('2024-25').
    years : {1, 2, 3}, default 3
        Consecutive years above the threshold required ("up to three prior
        consecutive years", 300.647(d)(1)).
    reasonable_progress : float, optional
        The smallest fall of the risk ratio, in risk-ratio units, that counts as
        reasonable progress in a year (the State defines it,
        300.647(d)(2)). None: no exemption.

    Returns
    -------
    DataFrame
        Indexed by group: ``determination_year`` (label), ``risk_ratio`` and
        ``flagged`` of that year, ``consecutive_years_flagged`` (run of flagged
        years ending with the determination year), ``exceeds_all_years``,
        ``reasonable_progress``, ``significant_disproportionality`` and
        ``reason``.

    Examples
    --------
    >>> import pandas as pd
    >>> flags = pd.DataFrame({
    ...     "group": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
    ...     "school_year": ["2022-23", "2023-24", "2024-25"] * 3,
    ...     "risk_ratio": [3.6, 3.3, 3.1, 3.5, 2.5, 3.2, 3.0, 3.2, 3.4],
    ...     "flagged": [True, True, True, True, False, True, True, True, True]})
    >>> out = multi_year(flags, years=3, reasonable_progress=0.2)
    >>> out["consecutive_years_flagged"].tolist(), out["reasonable_progress"].tolist()
    ([3, 1, 3], [True, False, False])
    >>> out["significant_disproportionality"].tolist()
    [False, False, True]
    >>> print(out.loc["B", "reason"])
    above the threshold in 1 consecutive year(s) up to 2024-25; 3 required
    """
    _check_multi_year(years, reasonable_progress)
    table = _year_table(flags_by_year)
    last = int(table["year"].max())
    flagged = _wide(table, "flagged", 0.0).astype(bool)
    run = flagged.cumprod(axis=1).sum(axis=1).astype("int64")
    ratios = _wide(table, "risk_ratio", np.nan)
    exceeds = (run >= years).to_numpy()
    progress = _progress(ratios, last, reasonable_progress) & exceeds
    out = pd.DataFrame({
        "determination_year": table.loc[table["year"] == last, "school_year"].iloc[0],
        "risk_ratio": ratios[last], "flagged": flagged[last], "consecutive_years_flagged": run,
        "exceeds_all_years": exceeds, "reasonable_progress": progress,
        "significant_disproportionality": exceeds & ~progress,
    }, index=flagged.index)
    out["reason"] = _multi_year_reason(out, years, reasonable_progress)
    out.index.name = "group"
    return out


def _multi_year_reason(out, years, amount):
    year = out["determination_year"].iloc[0] if len(out) else None
    short = [REASON_RUN.format(run=run, year=year, years=years)
             for run in out["consecutive_years_flagged"]]
    return np.select([out["reasonable_progress"].to_numpy(), out["exceeds_all_years"].to_numpy()],
                     [REASON_PROGRESS.format(years=years, amount=amount),
                      REASON_IDENTIFIED.format(years=years)],
                     np.asarray(short, dtype=object)).astype(str)


# --------------------------------------------------------------------------- opportunities


def _references(rate, calculated, overall, labels, reference, min_n):
    """Reference rates for the four-fifths rule and the percentage point gap, a note, and the
    position of the four-fifths reference group (None when there is none)."""
    if isinstance(reference, str) and reference == "overall":
        if not calculated.any():
            return np.nan, overall, "", None
        where = int(np.nanargmax(np.where(calculated, rate, np.nan)))
        return rate[where], overall, "", where
    if reference not in labels:
        raise ValueError(MSG_REFERENCE.format(reference=reference))
    where = labels.get_loc(reference)
    if not calculated[where]:
        return np.nan, np.nan, REASON_SMALL_REFERENCE.format(reference=reference, min_n=min_n), None
    return rate[where], rate[where], "", where


def _below_four_fifths(x, n, where, calculated) -> np.ndarray:
    """``(x/n) / (x_ref/n_ref) < 4/5`` decided exactly (``5·x·n_ref < 4·x_ref·n``), not in floats."""
    if where is None:
        return np.zeros(x.shape, bool)
    reference = np.full(x.shape, x[where])
    above = _ratio_above(reference, n[where], x, n, 1 / Fraction(FOUR_FIFTHS).limit_denominator(1000))
    return calculated & (above | ((x == 0) & (reference > 0)))


def opportunity_gaps(table, *, reference="overall", min_n=10):
    """Access gaps for outcomes that are opportunities (honors, gifted, Level 4 work).

    For each group with ``base >= min_n`` (others are not calculated: their
    indices are NaN and never flagged):

    * ``rate`` = outcome / base; ``representation_index`` = composition /
      base share = rate / overall rate (CCCCO proportionality index; below 1 is
      under-representation);
    * ``four_fifths_ratio`` = rate / reference rate, ``four_fifths_flagged``
      when strictly below 0.8 (exactly 0.8 is not flagged). The reference is the
      highest rate among calculated groups, or the named ``reference`` group;
    * ``percentage_point_gap`` = rate − reference rate (as a proportion: −0.05
      is 5 points), reference = the overall rate of all students by default or
      the named group; ``moe`` = max(1.96·sqrt(0.25/base), 0.03) and
      ``ppg_flagged`` when rate + moe <= reference rate (CCCCO 2017; DisImpact
      ``di_ppg``).

    Parameters
    ----------
    table : DataFrame
        Columns ``group, outcome, base`` (e.g. from :func:`outcome_table`).
    reference : "overall" or group label, default "overall"
        "overall": four-fifths against the highest-rate group and gaps against
        the overall rate. A group label: both against that group.
    min_n : int, default 10
        Smallest base for a group to be compared.

    Returns
    -------
    DataFrame
        Indexed by group: ``outcome, base, rate, calculated, reason, composition,
        base_share, representation_index, four_fifths_reference_rate,
        four_fifths_ratio, four_fifths_flagged, reference_rate,
        percentage_point_gap, moe, ppg_flagged``.

    Examples
    --------
    >>> import pandas as pd
    >>> honors = pd.DataFrame({"group": ["A", "B", "C", "D"], "outcome": [50, 40, 39, 1],
    ...                        "base": [100, 100, 100, 5]})
    >>> out = opportunity_gaps(honors)
    >>> out[["rate", "four_fifths_ratio", "four_fifths_flagged", "ppg_flagged"]].round(3).reset_index()
      group  rate  four_fifths_ratio  four_fifths_flagged  ppg_flagged
    0     A  0.50               1.00                False        False
    1     B  0.40               0.80                False        False
    2     C  0.39               0.78                 True        False
    3     D  0.20                NaN                False        False
    """
    if not (_number(min_n) and min_n >= 0):
        raise ValueError(MSG_MINIMA.format(min_cell=None, min_n=min_n))
    counts = _counts(table, "table")
    x, n = (counts[c].to_numpy(dtype=float) for c in ("outcome", "base"))
    rate, overall = _ratio(x, n), _ratio(x.sum(), n.sum())[()]
    calculated = (n >= min_n) & (n > 0)
    ff_ref, ppg_ref, note, ff_where = _references(rate, calculated, overall, counts.index, reference, min_n)
    four_fifths = np.where(calculated, _ratio(rate, ff_ref), np.nan)
    moe = np.where(calculated, np.maximum(PPG_Z * np.sqrt(_ratio(0.25, n)), PPG_MOE_FLOOR), np.nan)
    out = pd.DataFrame({
        "outcome": counts["outcome"], "base": counts["base"], "rate": rate,
        "calculated": calculated,
        "reason": np.where(calculated, note, REASON_SMALL.format(min_n=min_n)).astype(str),
        "composition": _ratio(x, x.sum()), "base_share": _ratio(n, n.sum()),
        "representation_index": np.where(calculated, _ratio(rate, overall), np.nan),
        "four_fifths_reference_rate": ff_ref, "four_fifths_ratio": four_fifths,
        "four_fifths_flagged": _below_four_fifths(x, n, ff_where, calculated),
        "reference_rate": ppg_ref,
        "percentage_point_gap": np.where(calculated, rate - ppg_ref, np.nan), "moe": moe,
        "ppg_flagged": rate + moe <= ppg_ref + _TOLERANCE,
    }, index=counts.index)
    out.index.name = "group"
    return out


# --------------------------------------------------------------------------- from student rows


def outcome_table(data, *, group, outcome):
    """Student rows to the ``group, outcome, base`` table of the functions above.

    ``base`` counts the students (rows) of each group and ``outcome`` sums the
    ``outcome`` column: a 0/1 (or boolean) indicator gives the number of students
    with the outcome, a count column (e.g. removals) the total count. Students
    whose outcome is missing are left out of both; students without a group
    label are left out (give them an explicit group upstream to keep them). Every
    category of a categorical ``group`` column is kept, empty ones with zeros.

    Parameters
    ----------
    data : DataFrame
        One row per student.
    group : str
        Column with the group of each student.
    outcome : str
        Column with the 0/1 outcome or the count.

    Returns
    -------
    DataFrame
        Columns ``group, outcome, base``; integer counts when the outcome values
        are whole numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> students = pd.DataFrame({
    ...     "race": pd.Categorical(["A", "A", "B", "B", "B"], categories=["A", "B", "C"]),
    ...     "suspended": [1, 0, 1, 1, None]})
    >>> outcome_table(students, group="race", outcome="suspended")
      group  outcome  base
    0     A        1     2
    1     B        2     2
    2     C        0     0
    """
    frame = pd.DataFrame(data)
    _require(frame, [group, outcome], "data")
    values = frame[outcome]
    try:
        values = values.astype(float)
    except (TypeError, ValueError):
        raise ValueError(MSG_OUTCOME_VALUES.format(column=outcome)) from None
    if (values < 0).any():
        raise ValueError(MSG_OUTCOME_VALUES.format(column=outcome))
    known = values.notna()
    rows = pd.DataFrame({"group": frame.loc[known, group], "outcome": values[known]})
    table = rows.groupby("group", observed=False)["outcome"].agg(["sum", "size"])
    table.columns = ["outcome", "base"]
    sums = table["outcome"].to_numpy()
    if np.all(sums == np.round(sums)):
        table["outcome"] = table["outcome"].astype("int64")
    table["base"] = table["base"].astype("int64")
    return table.reset_index()
