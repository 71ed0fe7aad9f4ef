"""Scans of many units (schools, PLCs, teachers) that find the few that warrant a closer look.

Ranking many units on a rate mostly ranks noise: small units land at both
ends by chance. These scans follow the layered rule of the methods notes
(section 6; Spiegelhalter 2005, Spiegelhalter et al. 2012), and a unit is
called out only when every layer agrees:

1. a minimum n -- units under ``min_n`` are ``suppressed``: their numbers are
   withheld (NaN) and they are never called out;
2. a funnel plot -- the unit lies outside the 99.8 % limits, widened for the
   spread between units that chance alone does not explain (overdispersion);
3. false-discovery control -- its Benjamini-Hochberg q-value across all the
   units scanned is below ``fdr``;
4. persistence -- :func:`persistence` calls it "a pattern" only when that held
   in at least 2 of the last 3 school years. One year alone is never a pattern.

A unit that passes is said to *warrant a closer look*. A scan is a screen:
it says where to look, and never amounts to a finding of bias.

- :func:`scan_rates`: one 0/1 outcome per student, each unit against the
  pooled rate (funnel plot, overdispersion, empirical-Bayes shrinkage);
- :func:`scan_gaps`: within each unit, a focus group's gap (e.g. Black
  students, or English learners, against the unit's other students) tested
  against the same group's gap in all other units (unit-by-group
  interaction), so a gap every unit shares is not called out in each of them;
  ``compare="within"`` keeps the plain within-unit comparison;
- :func:`scan_gaps_each`: :func:`scan_gaps` for every group of several subgroup
  columns, with false-discovery control across all of them;
- :func:`scan_rates_by_year`, :func:`scan_gaps_by_year`: the same per school year;
- :func:`persistence`: which units were called out in enough of the recent years;
- :func:`against_school_colleagues`: for a scan against the district, whether each
  unit also differs from the other units of its own school, or shares its school's rate.

All statistics come from :mod:`equity_audit.stats`; the work per student is one
pandas group-by.

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> rng = np.random.default_rng(1)
>>> units = np.repeat([f"U{i:02d}" for i in range(20)], 200)
>>> risk = np.where(units == "U07", 0.30, 0.10)
>>> data = pd.DataFrame({"school_id": units, "oss": (rng.random(units.size) < risk).astype(int)})
>>> scan = scan_rates(data, unit="school_id", outcome="oss")
>>> scan.loc[scan["closer_look"], "school_id"].tolist()
['U07']
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from scipy import stats as sps

from equity_audit import stats
from equity_audit.data.contract import UNKNOWN

__all__ = [
    "scan_rates",
    "scan_rates_from_counts",
    "scan_rates_by_year",
    "against_school_colleagues",
    "scan_gaps",
    "scan_gaps_from_sides",
    "scan_gaps_each",
    "scan_gaps_by_year",
    "persistence",
    "CLOSER_LOOK",
    "PATTERN",
    "Z_95",
    "Z_998",
]

#: Normal quantile of the 95 % ("2 SD") funnel limits.
Z_95 = 1.959964
#: Normal quantile of the 99.8 % ("3 SD") funnel limits.
Z_998 = 3.090232
#: What a called-out unit is said to warrant (never "a finding of bias").
CLOSER_LOOK = "warrants a closer look"
#: The words :func:`persistence` uses, and only for units called out in enough years.
PATTERN = "a pattern that warrants a closer look"

SIDES = ("both", "above", "below")
#: Most units whose between-unit spread of odds ratios a gap scan estimates by maximum likelihood.
CONDITIONAL_UNITS = 40
#: Passes of a ``within`` scan that leaves the units it calls out out of their colleagues' comparators.
WITHIN_PASSES = 5
#: What a gap scan compares: the unit's gap with the same gap elsewhere, or within the unit only.
COMPARES = ("between", "within")
_STATISTICS = ("auto", "rate", "mean")
INSIDE = "inside"


# --------------------------------------------------------------------------- scan_rates


def scan_rates(data: pd.DataFrame, *, unit: str, outcome: str, min_n: int = 10, fdr: float = 0.05,
               z: tuple[float, float] = (Z_95, Z_998), overdispersion: bool = True,
               target: float | None = None, threshold: float | None = None,
               side: str = "both", within: str | list[str] | None = None,
               cluster: str | None = None) -> pd.DataFrame:
    """Scan many units for a rate that sits outside its funnel.

    Each unit's rate is compared with the ``target`` on the **proportion
    (normal) scale** of Spiegelhalter (2005), the scale of
    :func:`equity_audit.stats.funnel_limits`: with ``s_i² = p0(1 − p0)/n_i``,

    - ``z = (p_i − p0)/s_i``, from which :func:`~equity_audit.stats.overdispersion`
      estimates φ (winsorised at 10 %/90 %) and the DerSimonian-Laird τ²
      (weights ``1/s_i²``), over the units that meet ``min_n``;
    - ``z_adjusted = (p_i − p0)/sqrt(s_i² + τ²)`` and the limits
      ``p0 ± z·sqrt(s_i² + τ²)`` (τ² = 0 when ``overdispersion`` is False or
      the units spread no more than chance);
    - ``pvalue`` is two-sided from ``z_adjusted`` and ``qvalue`` its
      Benjamini-Hochberg adjustment across the units scanned; where the
      unit's expected count ``n·min(p0, 1 − p0)`` is under 5 the normal
      approximation is not used: ``pvalue`` is then the two-sided mid-p of a
      binomial (beta-binomial with the same τ² when there is overdispersion)
      and ``exact`` is True.

    With ``within`` (e.g. ``"school_id"`` for a teacher scan) each unit is
    compared with its own setting instead of the district: its target is the
    rate of the *other* units' rows in the same ``within`` group (for a unit
    in several, those rates weighted by the unit's rows in each: indirect
    standardisation); ``s_i²`` is then the pooled two-sample variance of the
    unit's rate against the colleagues' (their rate is a chance count too),
    and the exact test for small counts is Fisher's mid-p. Units called out
    are left out of their colleagues' comparators and the scan is run again
    until the calls stay the same, so that one teacher far from the others of
    a small school does not make the colleagues look unusual the other way
    (``attrs["excluded_from_comparators"]``). A school whose students all
    grow more slowly is then the school scan's finding, not one for each of
    its teachers; a teacher is called out only for what differs from the
    colleagues in the same school. A unit with no other unit in its group has
    nothing to be compared with and is not tested (its rate is shown, its
    p-value is blank; ``attrs["units_without_comparator"]``).

    The normal scale keeps the z-scores, τ² and the limits in the units of
    the plotted rate. It is rough for small n and rates near 0 (the lower limit
    is cut off at 0); the arcsine scale of FunnelPlotR is steadier there, and
    a minimum n of 30 (methods notes, step 1) avoids the worst of it.

    Parameters
    ----------
    data : DataFrame
        One row per student (or student-year) with a ``unit`` column and a 0/1
        (or boolean) ``outcome``. Rows with no unit are left out; rows with a
        missing outcome count in ``n_missing`` only.
    unit : str
        Column naming the unit (school, PLC, teacher).
    outcome : str
        0/1 column: 1 when the event happened (e.g. suspended).
    min_n : int, default 10
        Units with fewer students with an outcome are suppressed.
    fdr : float, default 0.05
        False discovery rate across the units scanned.
    z : (float, float), default (1.959964, 3.090232)
        Quantiles of the inner (95 %) and outer (99.8 %) funnel limits.
    overdispersion : bool, default True
        Widen the limits (and the z-scores behind the p-values) by τ².
    target : float, optional
        Rate to compare with (a policy value); by default the pooled rate of
        the units that meet ``min_n``.
    threshold : float, optional
        Rate for ``prob_above``; defaults to ``target``.
    side : {"both", "above", "below"}, default "both"
        Which side of the funnel counts toward ``closer_look``.
    within : str or list of str, optional
        Column(s) grouping the units (e.g. ``["school_id", "domain"]`` for
        teachers: the colleagues who teach the same domain in the same
        school): compare each unit with the other units of its group, not with
        the district. Rows with a blank ``within`` are not compared.
    cluster : str, optional
        Column naming the independent unit, e.g. ``student_id`` when a student
        has a row per domain: each unit's counts are divided by its cluster
        design effect (:func:`~equity_audit.stats.cluster_design_effect`), so
        three domains of one student do not count as three students. The
        table then has a ``design_effect`` column.

    Returns
    -------
    DataFrame
        One row per unit, sorted by unit: ``unit``, ``n``, ``n_missing``,
        ``events``, ``rate`` with its Wilson 95 % ``low``/``high``, ``target``
        (with ``within``: the unit's own comparator, and ``compared_within``
        names the columns, joined by ", "),
        ``z``, ``z_adjusted``, the (adjusted) funnel limits at the unit's n
        ``inner_low``/``inner_high`` (95 %) and ``outer_low``/``outer_high``
        (99.8 %), ``funnel_position`` ("inside", "above 95%", "above 99.8%",
        "below 95%", "below 99.8%"), ``shrunk_rate`` (empirical-Bayes
        beta-binomial posterior mean), ``prob_above`` (posterior probability
        that the unit's true rate exceeds ``threshold``; the methods notes read
        more than 0.9 as "likely above"), ``pvalue``, ``qvalue``, ``suppressed``
        and ``closer_look``: not suppressed, outside the outer adjusted limit
        (on ``side``) and ``qvalue < fdr``. Suppressed units keep only ``n``,
        ``n_missing`` and ``target``; everything else is NaN.

        ``attrs`` holds ``target`` (the pooled rate), ``phi`` and ``tau2`` (the
        estimates), ``tau2_used`` (τ² in the limits: 0 without
        ``overdispersion``), ``z``, ``min_n``, ``fdr``, ``side``,
        ``units_scanned``, ``rows_without_unit`` and, with ``within``,
        ``within`` and ``units_without_comparator``.

    Raises
    ------
    ValueError
        If ``outcome`` has values other than 0 and 1, or an option is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> data = pd.DataFrame({"school": ["A"] * 100 + ["B"] * 200 + ["C"] * 5,
    ...                      "oss": [1] * 10 + [0] * 90 + [1] * 30 + [0] * 170 + [1] * 5})
    >>> scan = scan_rates(data, unit="school", outcome="oss")
    >>> scan[["school", "n", "rate", "suppressed", "closer_look"]].round(3).values.tolist()
    [['A', 100, 0.1, False, False], ['B', 200, 0.15, False, False], ['C', 5, nan, True, False]]
    >>> round(scan.attrs["target"], 4), scan.attrs["tau2"]
    (0.1333, 0.0)

    Teachers against the colleagues of their own school: school S is slower as
    a whole, which is not any one teacher's doing.

    >>> data = pd.DataFrame({"teacher": ["T1"] * 50 + ["T2"] * 50 + ["T3"] * 50,
    ...                      "school": ["R"] * 50 + ["S"] * 100,
    ...                      "below": [1] * 5 + [0] * 45 + ([1] * 15 + [0] * 35) * 2})
    >>> scan = scan_rates(data, unit="teacher", outcome="below", within="school")
    >>> scan[["teacher", "rate", "target"]].values.tolist()
    [['T1', 0.1, nan], ['T2', 0.3, 0.3], ['T3', 0.3, 0.3]]
    >>> scan.attrs["units_without_comparator"]
    1
    """
    _check_options(min_n, fdr, side)
    values = _zero_one(data[outcome], outcome)
    table = _unit_counts(values, data[unit], unit)
    codes = pd.Index(table[unit]).get_indexer(data[unit])
    deff = None if cluster is None else stats.cluster_design_effect(
        codes, pd.factorize(data[cluster])[0], values.to_numpy(float), len(table))
    scan = partial(scan_rates_from_counts, table, unit=unit, rows_without_unit=int(data[unit].isna().sum()),
                   min_n=min_n, fdr=fdr, z=z, overdispersion=overdispersion, target=target, threshold=threshold,
                   side=side, design_effect=deff)
    if within is None:
        return scan()
    columns = [within] if isinstance(within, str) else list(within)
    if missing := [column for column in columns if column not in data]:
        raise ValueError(f"within names {', '.join(map(repr, missing))}, which the data has no column for")
    known = data[columns].notna().all(axis=1)
    setting = data[columns].groupby(columns, sort=False, dropna=False).ngroup().where(known)
    # the colleagues' rows count with their own unit's effective weight
    weights = pd.Series(np.ones(len(data)) if deff is None else 1 / np.where(codes >= 0, deff[codes], 1.0),
                        index=data.index)
    # A unit called out is not a colleague to compare with: one teacher far above the others of a small
    # school would otherwise raise their comparator and make them look low. Compare again without the
    # units called out until the calls stay the same (those of the last pass when they keep changing).
    excluded: frozenset = frozenset()
    for _ in range(WITHIN_PASSES):
        result = scan(comparator=_within_comparator(values, data[unit], setting, table[unit], excluded,
                                                    weights=weights))
        called = frozenset(result.loc[result["closer_look"], unit])
        if called == excluded:
            break
        excluded = called
    result.insert(result.columns.get_loc("target") + 1, "compared_within", ", ".join(columns))
    result.attrs.update(within=columns, excluded_from_comparators=len(excluded))
    return result


def _within_comparator(values: pd.Series, keys: pd.Series, groups: pd.Series, units: pd.Series,
                       excluded: frozenset = frozenset(), weights: pd.Series | None = None) -> pd.DataFrame:
    """Each unit's comparator, aligned with ``units``: ``target``, the rate of the other units' rows in its
    ``groups`` (indirectly standardised over the groups it has rows in), leaving out the ``excluded``
    units; ``variance``, the variance of the unit's rate minus that target were the unit no different (the
    pooled two-sample variance in each group); ``target_n``, the colleagues' rows the target is worth.
    ``weights`` count each row as that many (the inverse of its unit's design effect)."""
    known = (values.notna() & keys.notna() & groups.notna()).to_numpy()
    weight = np.ones(len(values)) if weights is None else weights.to_numpy(float)
    frame = pd.DataFrame({"unit": keys.to_numpy()[known], "group": groups.to_numpy()[known],
                          "count": weight[known], "sum": (weight * values.to_numpy(float))[known]})
    cells = frame.groupby(["unit", "group"], sort=False)[["count", "sum"]].sum()
    colleague = ~cells.index.get_level_values("unit").isin(list(excluded))
    totals = cells[colleague].groupby(level="group").sum().reindex(cells.index.get_level_values("group"))
    totals = totals.fillna(0.0)
    own_n, own_x = cells["count"].to_numpy(float), cells["sum"].to_numpy(float)
    rest_n = totals["count"].to_numpy(float) - np.where(colleague, own_n, 0.0)
    rest_x = totals["sum"].to_numpy(float) - np.where(colleague, own_x, 0.0)
    compared = rest_n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rest_rate = np.where(compared, rest_x / rest_n, 0.0)
        pooled = (own_x + rest_x) / (own_n + rest_n)
        n_compared = np.where(compared, own_n, 0.0)
        inverse_rest = np.where(compared, n_compared**2 / np.where(compared, rest_n, 1), 0.0)
        parts = pd.DataFrame({"n": n_compared, "expected": n_compared * rest_rate,
                              "variance": np.where(compared, pooled * (1 - pooled) * (n_compared + inverse_rest), 0.0),
                              "inverse_rest": inverse_rest}, index=cells.index.get_level_values("unit"))
        per_unit = parts.groupby(level=0, sort=False).sum().reindex(units.to_numpy())
        n = per_unit["n"].to_numpy(float)
        target = np.where(n > 0, per_unit["expected"].to_numpy(float) / n, np.nan)
        variance = np.where(n > 0, per_unit["variance"].to_numpy(float) / n**2, np.nan)
        size = np.where(n > 0, n**2 / per_unit["inverse_rest"].to_numpy(float), np.nan)
    return pd.DataFrame({"target": target, "variance": variance, "target_n": size})


def scan_rates_from_counts(table: pd.DataFrame, *, unit: str, rows_without_unit: int = 0, min_n: int = 10,
                           fdr: float = 0.05, z: tuple[float, float] = (Z_95, Z_998), overdispersion: bool = True,
                           target: float | None = None, threshold: float | None = None,
                           side: str = "both", comparator: pd.DataFrame | None = None,
                           design_effect=None) -> pd.DataFrame:
    """:func:`scan_rates` from counts already reduced, e.g. by DuckDB or Spark (:mod:`equity_audit.lazy`).

    Parameters
    ----------
    table : DataFrame
        One row per unit, sorted by unit: ``unit``, ``n`` (students with an
        outcome), ``n_missing`` and ``events``.
    unit : str
        Column naming the unit.
    rows_without_unit : int
        Rows left out for having no unit (reported in ``attrs``).
    min_n, fdr, z, overdispersion, target, threshold, side
        As for :func:`scan_rates`.
    comparator : DataFrame, optional
        Row for row with ``table``: each unit's own ``target``, the ``variance``
        of its rate minus that target under no difference, and ``target_n``
        (what ``within`` computes); replaces ``target``.
    design_effect : array_like, optional
        Each unit's cluster design effect (what ``cluster`` computes): its
        counts are divided by it for every interval and test.

    Returns
    -------
    DataFrame
        The table :func:`scan_rates` returns for the same students.
    """
    _check_options(min_n, fdr, side)
    table = table.copy()
    scanned = (table["n"] >= min_n).to_numpy()
    x, n = table["events"].to_numpy(float), table["n"].to_numpy(float)
    pooled = _pooled(x, n, scanned) if target is None else float(target)
    if not 0 <= pooled <= 1:
        raise ValueError(f"target must lie in [0, 1], got {pooled}")
    p0, s2 = pooled, None
    if comparator is not None:
        p0, s2 = comparator["target"].to_numpy(float), comparator["variance"].to_numpy(float)
        without = ~np.isfinite(p0)
        scanned = scanned & ~without
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = x / n
    table["rate"] = rate
    prior = None  # the beta prior's mean: from the units' own counts unless they are deflated (below)
    if design_effect is not None:
        prior = _pooled(x, n, scanned)  # whole counts: rounding the effective ones would move the centre
        # whole effective (Kish) counts: every interval and test below is then cluster-robust
        table["design_effect"] = np.asarray(design_effect, float)
        n = np.round(n / table["design_effect"].to_numpy())
        x = np.minimum(np.round(x / table["design_effect"].to_numpy()), n)
    table["low"], table["high"] = stats.wilson_interval(x, n)
    table["target"] = p0
    spread, tau2 = _funnel(table, rate, n, p0, scanned, z, overdispersion, s2)
    table["shrunk_rate"] = _within(scanned, stats.shrink_rates(x[scanned], n[scanned], prior_mean=prior))
    level = np.broadcast_to(p0 if threshold is None else float(threshold), n.shape)
    exceed = stats.posterior_exceedance(x[scanned], n[scanned], level[scanned], prior_mean=prior)
    table["prob_above"] = _within(scanned, exceed)
    table["pvalue"] = 2 * sps.norm.sf(np.abs(table["z_adjusted"].to_numpy()))
    table["exact"] = scanned & (n * np.minimum(p0, 1 - p0) < 5)
    if table["exact"].any():
        exact = _midp_rate(x, n, p0, tau2) if comparator is None else _midp_against(x, n, comparator, tau2)
        table["pvalue"] = np.where(table["exact"], exact, table["pvalue"])
    table["qvalue"] = _within(scanned, stats.bh_adjust(table["pvalue"].to_numpy()[scanned]))
    outside = _outside(table, side)
    table["suppressed"] = (table["n"] < min_n).to_numpy()  # a unit with no comparator shows its rate, untested
    table["closer_look"] = scanned & outside & (np.nan_to_num(table["qvalue"], nan=1.0) < fdr)
    # a suppressed unit's design effect is withheld too: 1 (no variation) would tell that its rate is 0 or 100%
    table = _withhold(table, keep=[unit, "n", "n_missing", "target", "suppressed", "exact", "closer_look"])
    table.attrs = {"target": pooled, "phi": spread.phi, "tau2": spread.tau2, "tau2_used": tau2,
                   "z": tuple(float(v) for v in z), "min_n": min_n, "fdr": fdr, "side": side,
                   "units_scanned": int(scanned.sum()),
                   "rows_without_unit": int(rows_without_unit)}
    if comparator is not None:
        table.attrs["units_without_comparator"] = int(without.sum())
    return table


def _midp_rate(x: np.ndarray, n: np.ndarray, p0, tau2: float) -> np.ndarray:
    """Two-sided mid-p of each unit's events against ``p0`` (one target, or each unit's own): binomial,
    or beta-binomial with the same extra variance τ² as the funnel (``var(x/n) = p0(1 − p0)/n + τ²``)."""
    p0 = np.broadcast_to(np.asarray(p0, float), np.shape(x))
    binomial = stats.midp_binomial_pvalue(x, n, np.nan_to_num(p0, nan=0.5))
    inside = (p0 > 0) & (p0 < 1) & (n > 1)
    if tau2 <= 0 or not inside.any():
        return binomial
    q = np.where(inside, p0, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip(tau2 * n / (q * (1 - q) * (n - 1)), 1e-12, 1 - 1e-9)
        strength = (1 - rho) / rho
    law = sps.betabinom(np.maximum(n, 1), q * strength, (1 - q) * strength)
    below, at, above = law.cdf(x - 1), law.pmf(x), law.sf(x)
    out = np.minimum(1.0, 2 * np.minimum(below + 0.5 * at, above + 0.5 * at))
    return np.where(inside, out, binomial)


def _midp_against(x: np.ndarray, n: np.ndarray, comparator: pd.DataFrame, tau2: float) -> np.ndarray:
    """Exact mid-p of each unit's events against its colleagues' (Fisher's, conditional on the margins,
    so the comparator's own chance counts too); the larger with the beta-binomial of τ² when units spread."""
    size = np.round(np.nan_to_num(comparator["target_n"].to_numpy(float)))
    events = np.minimum(np.round(np.nan_to_num(comparator["target"].to_numpy(float)) * size), size)
    usable = size > 0
    exact = stats.midp_conditional_pvalue(x, n, np.where(usable, events, 0), np.where(usable, size, 1))
    exact = np.where(usable, exact, np.nan)
    return exact if tau2 <= 0 else np.maximum(exact, _midp_rate(x, n, comparator["target"].to_numpy(float), tau2))


def _funnel(table, rate, n, p0, scanned, z, overdispersion, s2=None):
    """z-scores, φ and τ², the adjusted limits and each unit's position, added to ``table``
    (``s2``: each unit's null variance when it has its own target; ``p0(1 − p0)/n`` for one known target)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if s2 is None:
            s2 = np.where(n > 0, p0 * (1 - p0) / n, np.nan)
        raw = np.where(s2 > 0, (rate - p0) / np.sqrt(s2), np.nan)
        weights = np.where(s2 > 0, 1 / s2, np.nan)
    spread = stats.overdispersion(raw[scanned], weights=weights[scanned])
    tau2 = spread.tau2 if overdispersion and np.isfinite(spread.tau2) else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        table["z"] = raw
        table["z_adjusted"] = np.where(s2 + tau2 > 0, (rate - p0) / np.sqrt(s2 + tau2), np.nan)
        inner, outer = z
        for name, quantile in (("inner", inner), ("outer", outer)):
            half = quantile * np.sqrt(s2 + tau2)
            table[f"{name}_low"] = np.where(n > 0, np.clip(p0 - half, 0.0, 1.0), np.nan)
            table[f"{name}_high"] = np.where(n > 0, np.clip(p0 + half, 0.0, 1.0), np.nan)
    table["funnel_position"] = _position(table, _coverage(inner), _coverage(outer))
    return spread, tau2


def _coverage(z: float) -> str:
    """95% for 1.96, 99.8% for 3.09: the two-sided coverage of a normal quantile."""
    return f"{100 * (1 - 2 * sps.norm.sf(z)):.3g}%"


def _position(table: pd.DataFrame, inner: str, outer: str) -> pd.Series:
    rate = table["rate"]
    position = np.select(
        [rate > table["outer_high"], rate > table["inner_high"],
         rate < table["outer_low"], rate < table["inner_low"]],
        [f"above {outer}", f"above {inner}", f"below {outer}", f"below {inner}"], INSIDE)
    return pd.Series(position, index=table.index).where(rate.notna())


def _outside(table: pd.DataFrame, side: str) -> np.ndarray:
    above = (table["rate"] > table["outer_high"]).to_numpy()
    below = (table["rate"] < table["outer_low"]).to_numpy()
    return {"both": above | below, "above": above, "below": below}[side]


def _pooled(x: np.ndarray, n: np.ndarray, scanned: np.ndarray) -> float:
    total = n[scanned].sum()
    return float(x[scanned].sum() / total) if total > 0 else np.nan


def _unit_counts(values: pd.Series, keys: pd.Series, unit: str) -> pd.DataFrame:
    """n (outcome known), n_missing and events per unit, in one group-by."""
    grouped = values.groupby(keys.rename(unit), observed=True, sort=True, dropna=True)
    table = grouped.agg(["count", "size", "sum"])
    return pd.DataFrame({unit: table.index, "n": table["count"].to_numpy(np.int64),
                         "n_missing": (table["size"] - table["count"]).to_numpy(np.int64),
                         "events": table["sum"].to_numpy(float)})


# --------------------------------------------------------------------------- scan_gaps


def scan_gaps(data: pd.DataFrame, *, unit: str, group: str, focus, outcome: str, min_n: int = 10,
              fdr: float = 0.05, statistic: str = "auto", side: str = "both",
              compare: str = "between", cluster: str | None = None) -> pd.DataFrame:
    """Scan many units for a focus group's gap that is the unit's own.

    Within each unit the students in the ``focus`` group are compared with the
    unit's other students (the *within-unit gap*). By default
    (``compare="between"``) a unit is called out only when that gap differs
    from **the same group's gap in all the other units**: the unit-by-group
    interaction, a difference in differences. A gap every unit shares (an
    English-learner gap seen across the district) is then not repeated as a
    call-out in every school or teacher; a unit whose gap is larger (or
    smaller) than elsewhere is.

    - rates: the unit's log odds ratio (focus against others) minus the log of
      the Mantel-Haenszel common odds ratio of all other units, with the Woolf
      variance of the unit's log odds ratio (0.5 added to every cell when one
      is empty) plus the Robins-Breslow-Greenland variance of the common one.
      When the unit's smallest expected cell is under 5, the p-value is the
      exact conditional mid-p test that the unit's odds ratio equals the
      common odds ratio elsewhere (Fisher's noncentral hypergeometric law,
      :func:`~equity_audit.stats.midp_conditional_pvalue`). Where the other
      units' odds ratios spread more than chance (τ² > 0: maximum likelihood
      on their tables, :func:`~equity_audit.stats.leave_one_out_tau2_conditional`,
      for up to ``CONDITIONAL_UNITS`` units; DerSimonian-Laird beyond), their
      random-effects mean replaces the common odds ratio and τ² is added to
      the variance (:func:`~equity_audit.stats.leave_one_out_pooled`);
    - means: the unit's difference of means minus the precision-weighted mean
      of the other units' differences, with the sum of the two variances (t
      test with the unit's Welch degrees of freedom).

    ``elsewhere_difference`` is the gap the unit would have if it shared the
    other units' gap (for rates: the focus rate implied by the unit's other
    students and the common odds ratio), and ``excess_difference`` the unit's
    own part, ``difference − elsewhere_difference``.

    With ``compare="within"`` the scan is the older one: the focus group
    against the unit's other students, a call-out wherever that gap is beyond
    chance (so a district-wide gap is called out in every large unit):

    - a 0/1 outcome (``statistic="rate"``): the difference of rates with
      Newcombe's hybrid score interval, the risk ratio with Katz's log interval,
      and the p-value of :func:`~equity_audit.stats.two_proportion_pvalue`
      (z test, or Fisher's exact test for small cells);
    - a numeric outcome (``statistic="mean"``): the difference of means with
      Welch's interval and p-value.

    The p-values are adjusted across the units scanned (Benjamini-Hochberg).
    That bounds the *share* of chance call-outs among the call-outs, so a real
    gap at one school can bring a chance call-out elsewhere with it: one more
    reason a pattern needs :func:`persistence` over years.
    The differences are also shrunk toward the overall gap, the
    precision-weighted mean of the units' gaps (empirical Bayes,
    :func:`~equity_audit.stats.shrink_means` with each gap's sampling
    variance), so a gap measured on few students moves most. For rates that
    variance uses Agresti-Caffo's ``(x + 1)/(n + 2)`` in each group, so a group
    with no events still counts as uncertain.

    Parameters
    ----------
    data : DataFrame
        One row per student (or student-year): ``unit``, ``group`` and ``outcome``.
    unit : str
        Column naming the unit (school, PLC, teacher).
    group : str
        Column holding the group, e.g. ``race_ethnicity``, or a flag such as
        ``english_learner`` (booleans read as "Yes"/"No"). Rows where it is
        blank are in neither side.
    focus
        The focus group's value, e.g. "Black/African American", or "Yes" (or
        True) for a flag.
    outcome : str
        A 0/1 (or boolean) column, or a numeric one. Rows where it is missing
        are left out.
    min_n : int, default 10
        Both sides of a unit need at least this many students, or the unit is
        suppressed.
    fdr : float, default 0.05
        False discovery rate across the units scanned.
    statistic : {"auto", "rate", "mean"}, default "auto"
        "auto" is "rate" for a 0/1 outcome and "mean" otherwise.
    side : {"both", "above", "below"}, default "both"
        Which gaps count toward ``closer_look``: any, or only the focus group
        higher (``"above"``) or lower (``"below"``) than the others -- with
        ``compare="between"``, higher or lower than the same group elsewhere.
    compare : {"between", "within"}, default "between"
        "between" tests the unit's own part of the gap (unit-by-group
        interaction); "within" tests the gap inside the unit alone.
    cluster : str, optional
        Column naming the independent unit of the data, e.g. ``student_id``
        when rows are student-years: each side's counts are divided by its
        cluster design effect (cluster-robust variance over the independent
        variance, at least 1), so repeated years of one student are not
        counted as independent evidence. See
        :func:`~equity_audit.stats.cluster_design_effect`.

    Returns
    -------
    DataFrame
        One row per unit, sorted by unit: ``unit``, ``statistic``, ``compare``, ``focus_n``,
        ``others_n``, (rates) ``focus_events`` and ``others_events``,
        ``focus_estimate``, ``others_estimate``, ``difference`` (focus minus
        others) with ``difference_low``/``_high``, (rates) ``ratio`` with
        ``ratio_low``/``_high``, ``shrunk_difference``, ``within_pvalue`` (the
        within-unit test), ``elsewhere_difference``, ``excess_difference``,
        ``interaction`` with ``interaction_low``/``_high`` (log odds ratio
        for rates, difference of means otherwise; NaN with ``compare="within"``),
        ``pvalue`` (of the comparison chosen by ``compare``), ``exact`` (whether
        that p-value is exact), ``qvalue``, ``suppressed`` and ``closer_look``
        (not suppressed, ``qvalue < fdr`` and the gap, or its excess over
        elsewhere, on ``side``). Suppressed units keep only the two n's.

        ``attrs`` holds ``group``, ``focus``, ``statistic``, ``compare``,
        ``min_n``, ``fdr``, ``side``, ``units_scanned`` and ``rows_without_group``.

    Raises
    ------
    ValueError
        If no row of ``group`` equals ``focus``, or an option is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"school": ["A"] * 200 + ["B"] * 200,
    ...                      "el": ([True] * 50 + [False] * 150) * 2,
    ...                      "oss": [1] * 20 + [0] * 30 + [1] * 15 + [0] * 135      # A: 40% vs 10%
    ...                             + [1] * 5 + [0] * 45 + [1] * 15 + [0] * 135})   # B: 10% vs 10%
    >>> gaps = scan_gaps(data, unit="school", group="el", focus="Yes", outcome="oss", compare="within")
    >>> gaps[["school", "focus_n", "difference", "closer_look"]].round(2).values.tolist()
    [['A', 50, 0.3, True], ['B', 50, 0.0, False]]
    >>> gaps = scan_gaps(data, unit="school", group="el", focus="Yes", outcome="oss")  # A against B
    >>> gaps[["school", "excess_difference", "closer_look"]].round(2).values.tolist()
    [['A', 0.3, True], ['B', -0.3, True]]
    """
    _check_options(min_n, fdr, side)
    if compare not in COMPARES:
        raise ValueError(f"compare must be one of {COMPARES}, not {compare!r}")
    values = _numeric(data[outcome], outcome)
    statistic = _resolve_statistic(values, statistic)
    in_focus = _focus_mask(data[group], focus, group)
    sides = _side_summaries(values, data[unit].rename(unit), in_focus)
    real_n = sides[["n_focus", "n_others"]].to_numpy(np.int64)
    if cluster is not None:
        sides = _deflate_by_cluster(sides, values, data[unit].rename(unit), in_focus, data[cluster], statistic)
    return _gaps_from_sides(sides, real_n, unit=unit, group=group, focus=focus, statistic=statistic,
                            compare=compare, min_n=min_n, fdr=fdr, side=side, clustered=cluster is not None,
                            rows_without_group=int(in_focus.isna().sum()))


def scan_gaps_from_sides(sides: pd.DataFrame, *, unit: str, group: str, focus, statistic: str,
                         compare: str = "between", min_n: int = 10, fdr: float = 0.05, side: str = "both",
                         rows_without_group: int = 0) -> pd.DataFrame:
    """:func:`scan_gaps` from per-unit sums already reduced, e.g. by DuckDB or Spark (:mod:`equity_audit.lazy`).

    Parameters
    ----------
    sides : DataFrame
        Indexed by unit (sorted): ``n_focus``, ``n_others`` (students with an
        outcome), ``sum_focus``, ``sum_others``, ``mean_focus``,
        ``mean_others``, ``var_focus`` and ``var_others`` (sample variances);
        NaN where a side has no students.
    unit, group, focus
        As for :func:`scan_gaps` (``group`` and ``focus`` are reported in ``attrs``).
    statistic : {"rate", "mean"}
        Resolved already: "rate" for a 0/1 outcome.
    compare, min_n, fdr, side
        As for :func:`scan_gaps`; ``cluster`` needs the students and stays with it.
    rows_without_group : int
        Rows left out for a blank group (reported in ``attrs``).

    Returns
    -------
    DataFrame
        The table :func:`scan_gaps` returns for the same students.
    """
    _check_options(min_n, fdr, side)
    if compare not in COMPARES or statistic not in ("rate", "mean"):
        raise ValueError(f"compare must be one of {COMPARES} and statistic 'rate' or 'mean', "
                         f"not {compare!r} and {statistic!r}")
    real_n = sides[["n_focus", "n_others"]].to_numpy(np.int64)
    return _gaps_from_sides(sides, real_n, unit=unit, group=group, focus=focus, statistic=statistic,
                            compare=compare, min_n=min_n, fdr=fdr, side=side, clustered=False,
                            rows_without_group=rows_without_group)


def _gaps_from_sides(sides, real_n, *, unit, group, focus, statistic, compare, min_n, fdr, side, clustered,
                     rows_without_group):
    """The gap table of :func:`scan_gaps` from each unit's two sides (``real_n``: the counts before any
    cluster deflation)."""
    compare_sides = _compare_rates if statistic == "rate" else _compare_means
    columns, variance = compare_sides(sides)
    table = pd.DataFrame({unit: sides.index, "statistic": statistic, "compare": compare,
                          "focus_n": real_n[:, 0], "others_n": real_n[:, 1], **columns})
    if clustered:
        table["focus_design_effect"] = sides["deff_focus"].to_numpy(float)
        table["others_design_effect"] = sides["deff_others"].to_numpy(float)
        if statistic == "rate":  # the events as counted, not the effective ones
            table["focus_events"] = sides["events_focus"].to_numpy(float)
            table["others_events"] = sides["events_others"].to_numpy(float)
    scanned = ((table["focus_n"] >= min_n) & (table["others_n"] >= min_n)).to_numpy()
    difference = table["difference"].to_numpy(float)
    table["shrunk_difference"] = _within(
        scanned, stats.shrink_means(difference[scanned], variance[scanned], 1.0))
    between = (_between_rates if statistic == "rate" else _between_means)(sides)
    for name, value in between.items():
        table[name] = value
    table["within_pvalue"] = table["pvalue"]
    if compare == "between":
        table["pvalue"] = table["between_pvalue"]
        shift = table["interaction"].to_numpy(float)
    else:
        table["exact"] = False
        table[["interaction", "interaction_low", "interaction_high"]] = np.nan
        shift = difference
    table = table.drop(columns="between_pvalue")
    table["qvalue"] = _within(scanned, stats.bh_adjust(table["pvalue"].to_numpy(float)[scanned]))
    table["suppressed"] = ~scanned
    table["exact"] = table["exact"].to_numpy(bool) & scanned
    table["closer_look"] = (scanned & _on_side(shift, side)
                            & (np.nan_to_num(table["qvalue"], nan=1.0) < fdr))
    table = _withhold(table, keep=[unit, "statistic", "compare", "focus_n", "others_n", "suppressed",
                                   "exact", "closer_look"])
    table.attrs = {"group": group, "focus": focus, "statistic": statistic, "compare": compare,
                   "min_n": min_n, "fdr": fdr, "side": side, "units_scanned": int(scanned.sum()),
                   "rows_without_group": int(rows_without_group)}
    return table


def _deflate_by_cluster(sides, values, keys, in_focus, clusters, statistic):
    """Each side's n and sum divided by its cluster design effect (effective, Kish, counts).

    Rates get whole effective counts (rounded) so the exact tests apply.
    """
    unit_codes = pd.Index(sides.index).get_indexer(keys)
    focus = in_focus.astype("boolean")
    usable = (unit_codes >= 0) & focus.notna().to_numpy()
    side_code = np.where(focus.fillna(False).to_numpy(bool), 0, 1)
    cells = np.where(usable, unit_codes * 2 + side_code, -1)
    cluster_codes = pd.factorize(clusters)[0]
    deff = stats.cluster_design_effect(cells, cluster_codes, values.to_numpy(float), 2 * len(sides))
    sides = sides.copy()
    sides["deff_focus"], sides["deff_others"] = deff[0::2], deff[1::2]
    for side in ("focus", "others"):
        d = sides[f"deff_{side}"].to_numpy()
        n, total = sides[f"n_{side}"].to_numpy(float), sides[f"sum_{side}"].to_numpy(float)
        if statistic == "rate":
            sides[f"events_{side}"] = total
            n_eff = np.round(n / d)
            sides[f"sum_{side}"] = np.minimum(np.round(total / d), n_eff)
        else:
            n_eff = n / d
            sides[f"sum_{side}"] = total / d
        sides[f"n_{side}"] = n_eff
    return sides


def _on_side(shift: np.ndarray, side: str) -> np.ndarray:
    return {"both": np.ones(len(shift), bool), "above": shift > 0, "below": shift < 0}[side]


def _between_rates(sides: pd.DataFrame) -> dict:
    """Each unit's log odds ratio against the Mantel-Haenszel common odds ratio of the other units."""
    x1, n1 = sides["sum_focus"].fillna(0).to_numpy(float), sides["n_focus"].to_numpy(float)
    x2, n2 = sides["sum_others"].fillna(0).to_numpy(float), sides["n_others"].to_numpy(float)
    a, b, c, d = x1, n1 - x1, x2, n2 - x2
    total = n1 + n2
    usable = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(usable, total, np.inf)
        r, s_ = a * d / size, b * c / size
        p, q = (a + d) / size, (b + c) / size
        parts = np.column_stack([r, s_, p * r, p * s_ + q * r, q * s_])
        parts = np.where(usable[:, None], parts, 0.0)
        rest = parts.sum(axis=0) - parts             # every sum over the other units
        R, S, PR, PSQR, QS = rest.T
        common = np.where((R > 0) & (S > 0), R / S, np.nan)
        common_var = PR / (2 * R**2) + PSQR / (2 * R * S) + QS / (2 * S**2)
        empty = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        h = np.where(empty, 0.5, 0.0)
        own = np.log((a + h) * (d + h) / ((b + h) * (c + h)))
        own_var = 1 / (a + h) + 1 / (b + h) + 1 / (c + h) + 1 / (d + h)
        # Where the other units' odds ratios vary more than chance (tau2 > 0), their random-effects
        # mean replaces the Mantel-Haenszel one and the unit is judged against that spread, so one
        # extreme unit does not make every other unit look unusual the other way.
        # the spread between the other units by maximum likelihood on the tables themselves (no 0.5 added
        # to empty cells): with few events, DerSimonian-Laird on log odds ratios mistook chance for spread
        # and so hid a unit's own gap; past CONDITIONAL_UNITS units, where it costs too much, DL as before
        tau2 = (stats.leave_one_out_tau2_conditional(a, n1, c, n2, usable) if usable.sum() <= CONDITIONAL_UNITS
                else None)
        others = stats.leave_one_out_pooled(own, own_var, usable, tau2=tau2)
        spread = np.nan_to_num(others.tau2) > 0
        common = np.where(spread, np.exp(others.mean), common)
        common_var = np.where(spread, others.variance, common_var) + np.nan_to_num(others.tau2)
        interaction = own - np.log(common)
        se = np.sqrt(own_var + common_var)
        z = interaction / se
        others_rate = x2 / n2
        odds = others_rate / (1 - others_rate) * common
        expected_rate = np.where(np.isfinite(odds), odds / (1 + odds), 1.0)
        elsewhere = expected_rate - others_rate
    pvalue = 2 * sps.norm.sf(np.abs(z))
    small = usable & (stats.smallest_expected_count(x1, n1, x2, n2) < 5) & np.isfinite(common)
    if small.any():
        # the exact test knows the discreteness, the normal one the spread between units: keep the larger
        exact = stats.midp_conditional_pvalue(
            np.where(small, x1, 0), np.where(small, n1, 1), np.where(small, x2, 0),
            np.where(small, n2, 1), np.where(small, common, 1.0))
        pvalue = np.where(small, np.where(spread, np.maximum(exact, pvalue), exact), pvalue)
    ok = usable & np.isfinite(common)
    nan = lambda v: np.where(ok, v, np.nan)  # noqa: E731
    return {"elsewhere_difference": nan(elsewhere), "excess_difference": nan(x1 / np.where(n1 > 0, n1, 1)
                                                                            - x2 / np.where(n2 > 0, n2, 1)
                                                                            - elsewhere),
            "interaction": nan(interaction), "interaction_low": nan(interaction - Z_95 * se),
            "interaction_high": nan(interaction + Z_95 * se), "between_pvalue": nan(pvalue),
            "exact": small}


def _between_means(sides: pd.DataFrame) -> dict:
    """Each unit's difference of means against the mean difference elsewhere (random effects,
    leave-one-out: :func:`equity_audit.stats.leave_one_out_pooled`)."""
    m1, m2 = sides["mean_focus"].to_numpy(float), sides["mean_others"].to_numpy(float)
    v1, v2 = sides["var_focus"].to_numpy(float), sides["var_others"].to_numpy(float)
    n1, n2 = sides["n_focus"].to_numpy(float), sides["n_others"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s1, s2 = v1 / n1, v2 / n2
        own_var = s1 + s2
        gap = m1 - m2
        usable = np.isfinite(gap) & np.isfinite(own_var) & (own_var > 0)
        others = stats.leave_one_out_pooled(gap, own_var, usable)
        rest_w = np.where(np.isfinite(others.variance), 1 / others.variance, 0.0)
        elsewhere = others.mean
        interaction = gap - elsewhere
        # the other units' own spread (tau2) counts too: a unit is unusual only against it
        variance = own_var + others.tau2 + others.variance
        se = np.sqrt(variance)
        df = own_var**2 / (s1**2 / (n1 - 1) + s2**2 / (n2 - 1))
        t = interaction / se
    ok = usable & (rest_w > 0) & np.isfinite(df)
    df = np.where(ok, df, 1.0)
    half = sps.t.ppf(0.975, df) * se
    pvalue = 2 * sps.t.sf(np.abs(np.where(ok, t, 0.0)), df)
    nan = lambda v: np.where(ok, v, np.nan)  # noqa: E731
    return {"elsewhere_difference": nan(elsewhere), "excess_difference": nan(interaction),
            "interaction": nan(interaction), "interaction_low": nan(interaction - half),
            "interaction_high": nan(interaction + half), "between_pvalue": nan(pvalue),
            "exact": np.zeros(len(gap), bool)}


def scan_gaps_each(data: pd.DataFrame, *, unit: str, columns, outcome: str, min_n: int = 10,
                   fdr: float = 0.05, two_groups_once: bool = False, **options) -> pd.DataFrame:
    """:func:`scan_gaps` for every group of every column in ``columns``, stacked.

    Each group of a column is the focus in turn, against the unit's other
    students; "Unknown" is never a focus. A yes/no column (groups "Yes" and
    "No" only) is scanned once, for "Yes", since its "No" comparison is the
    same one mirrored. The q-values and ``closer_look`` are then recomputed
    (Benjamini-Hochberg) across every unit x group scanned, so scanning more
    groups does not mean more chance call-outs.

    Parameters
    ----------
    data : DataFrame
        One row per student (or student-year): ``unit``, the ``columns`` and ``outcome``.
    unit : str
        Column naming the unit (school, PLC, teacher).
    columns : list of str
        Subgroup columns, e.g. ``["race_ethnicity", "english_learner"]``.
    outcome : str
        As in :func:`scan_gaps`.
    min_n : int, default 10
        As in :func:`scan_gaps`.
    fdr : float, default 0.05
        False discovery rate across every unit x group scanned.
    two_groups_once : bool, default False
        Scan *any* column with two groups (not only yes/no ones) once: for its
        yes-like group ("yes", "y", "true", "1", any case), else its first.
    **options
        Passed to :func:`scan_gaps` (``statistic``, ``side``).

    Returns
    -------
    DataFrame
        The stacked :func:`scan_gaps` tables with ``subgroup`` (the column) and
        ``group`` (the focus) first; ``qvalue`` and ``closer_look`` are across
        all rows (suppressed rows: NaN and False). ``attrs`` holds
        ``units_scanned`` (rows not suppressed), ``flagged``, ``min_n``,
        ``fdr`` and ``side``.

    Raises
    ------
    ValueError
        As :func:`scan_gaps`, e.g. a yes/no column with no "Yes" row.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"school": ["A"] * 200 + ["B"] * 200,
    ...                      "el": (["Yes"] * 50 + ["No"] * 150) * 2,
    ...                      "sex": (["F", "M"] * 100) * 2,
    ...                      "oss": [1] * 20 + [0] * 30 + [1] * 15 + [0] * 135      # A: 40% vs 10%
    ...                             + [1] * 5 + [0] * 45 + [1] * 15 + [0] * 135})   # B: 10% vs 10%
    >>> gaps = scan_gaps_each(data, unit="school", columns=["el", "sex"], outcome="oss", compare="within")
    >>> gaps[["subgroup", "group", "school", "closer_look"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['el', 'Yes', 'A', True], ['el', 'Yes', 'B', False], ['sex', 'F', 'A', False],
     ['sex', 'F', 'B', False], ['sex', 'M', 'A', False], ['sex', 'M', 'B', False]]
    >>> gaps.attrs["units_scanned"], gaps.attrs["flagged"]
    (6, 1)
    """
    parts = [scan_gaps(data, unit=unit, group=column, focus=focus, outcome=outcome, min_n=min_n, fdr=fdr,
                       **options).assign(subgroup=column, group=focus)
             for column in columns for focus in _focus_groups(data[column], two_groups_once)]
    stacked = pd.concat(parts, ignore_index=True)
    side = options.get("side", "both")
    scanned = ~stacked["suppressed"].astype(bool).to_numpy()
    stacked["qvalue"] = _within(scanned, stats.bh_adjust(stacked["pvalue"].to_numpy(float)[scanned]))
    between = options.get("compare", "between") == "between"
    shift = stacked["interaction" if between else "difference"].to_numpy(float)
    stacked["closer_look"] = (scanned & _on_side(shift, side)
                              & (np.nan_to_num(stacked["qvalue"], nan=1.0) < fdr))
    stacked = stacked[["subgroup", "group", *[c for c in stacked.columns if c not in ("subgroup", "group")]]]
    stacked.attrs = {"units_scanned": int(scanned.sum()), "flagged": int(stacked["closer_look"].sum()),
                     "min_n": min_n, "fdr": fdr, "side": side,
                     "compare": options.get("compare", "between")}
    return stacked


def _focus_groups(column: pd.Series, two_groups_once: bool) -> list[str]:
    """The groups of ``column`` to scan in turn (never Unknown; one side of a mirrored pair)."""
    groups = sorted(set(column.dropna().astype(str)) - {UNKNOWN})
    if two_groups_once and len(groups) == 2:
        yes = [g for g in groups if g.lower() in ("yes", "y", "true", "1")]
        return yes[:1] or groups[:1]
    if not two_groups_once and (set(groups) <= {"Yes", "No"} or set(groups) <= {"Y", "N"}):
        return [g for g in groups if g in ("Yes", "Y")][:1] or groups[:1]
    return groups


def _side_summaries(values: pd.Series, keys: pd.Series, in_focus: pd.Series) -> pd.DataFrame:
    """count, sum, mean and variance of the outcome per unit and side, one group-by.

    Columns ``<statistic>_focus`` and ``<statistic>_others``; a side with no
    students has n = 0 and NaN elsewhere.
    """
    grouped = values.groupby([keys, in_focus.rename("_focus")], observed=True, sort=True,
                             dropna=True)
    wide = grouped.agg(["count", "sum", "mean", "var"]).unstack("_focus")
    wide = wide.reindex(columns=pd.MultiIndex.from_product([["count", "sum", "mean", "var"],
                                                            [True, False]]))
    wide.columns = [f"{name}_{'focus' if side else 'others'}" for name, side in wide.columns]
    wide = wide.rename(columns={"count_focus": "n_focus", "count_others": "n_others"})
    wide[["n_focus", "n_others"]] = wide[["n_focus", "n_others"]].fillna(0)
    return wide


def _compare_rates(sides: pd.DataFrame):
    """Difference, Newcombe interval, Katz ratio and p-value; and each gap's sampling variance."""
    x1, n1 = sides["sum_focus"].fillna(0).to_numpy(float), sides["n_focus"].to_numpy(float)
    x2, n2 = sides["sum_others"].fillna(0).to_numpy(float), sides["n_others"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        ratio = np.where(p2 > 0, p1 / p2, np.nan)
    low, high = stats.newcombe_difference_interval(x1, n1, x2, n2)
    ratio_low, ratio_high = stats.ratio_interval(x1, n1, x2, n2)
    columns = {"focus_events": x1, "others_events": x2, "focus_estimate": p1, "others_estimate": p2,
               "difference": p1 - p2, "difference_low": low, "difference_high": high,
               "ratio": ratio, "ratio_low": ratio_low, "ratio_high": ratio_high,
               "pvalue": stats.two_proportion_pvalue(x1, n1, x2, n2)}
    return columns, _agresti_caffo_variance(x1, n1) + _agresti_caffo_variance(x2, n2)


def _agresti_caffo_variance(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Sampling variance of a rate with one event and one non-event added: never 0."""
    p = (x + 1) / (n + 2)
    return p * (1 - p) / (n + 2)


def _compare_means(sides: pd.DataFrame):
    """Welch difference, interval and p-value; and each gap's sampling variance."""
    m1, m2 = sides["mean_focus"].to_numpy(float), sides["mean_others"].to_numpy(float)
    v1, v2 = sides["var_focus"].to_numpy(float), sides["var_others"].to_numpy(float)
    n1, n2 = sides["n_focus"].to_numpy(float), sides["n_others"].to_numpy(float)
    welch = stats.welch_difference(m1, np.sqrt(v1), n1, m2, np.sqrt(v2), n2)
    columns = {"focus_estimate": m1, "others_estimate": m2, "difference": welch.difference,
               "difference_low": welch.low, "difference_high": welch.high, "pvalue": welch.pvalue}
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = v1 / n1 + v2 / n2
    return columns, variance


def _focus_mask(column: pd.Series, focus, name: str) -> pd.Series:
    """True for the focus group, False for the others, NA where the group is blank."""
    if pd.api.types.is_bool_dtype(column.dtype):
        flags = column.astype("boolean")
        text = pd.Series(np.where(flags.fillna(False), "Yes", "No"), index=column.index,
                         dtype="string").where(flags.notna())
        focus = {True: "Yes", False: "No"}.get(focus, focus) if isinstance(focus, bool) else focus
    else:
        text = column.astype("string")
    mask = (text == str(focus)).astype("boolean")
    if not mask.fillna(False).any():
        seen = sorted(text.dropna().unique().tolist())[:12]
        raise ValueError(f"no row of {name!r} equals focus {focus!r}; values include {seen}")
    return mask


# --------------------------------------------------------------------------- by year


def scan_rates_by_year(data: pd.DataFrame, *, unit: str, outcome: str, year: str = "school_year",
                       **options) -> pd.DataFrame:
    """:func:`scan_rates` separately for each school year, stacked.

    Each year is its own scan: its own target, τ² and false-discovery family.

    Parameters
    ----------
    data : DataFrame
        One row per student-year with a ``year`` column.
    unit, outcome : str
        As in :func:`scan_rates`.
    year : str, default "school_year"
        Column holding the school year; rows where it is blank are left out.
    **options
        Passed to :func:`scan_rates` (``min_n``, ``fdr``, ``z``, ...).

    Returns
    -------
    DataFrame
        The yearly scans stacked, ``year`` first. ``attrs["by_year"]`` maps each
        year to that scan's ``attrs`` (``target``, ``phi``, ``tau2``, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"school_year": [2025] * 40 + [2026] * 40,
    ...                      "school": (["A"] * 20 + ["B"] * 20) * 2, "oss": [0, 1] * 40})
    >>> table = scan_rates_by_year(data, unit="school", outcome="oss")
    >>> table[["school_year", "school", "rate"]].values.tolist()
    [[2025, 'A', 0.5], [2025, 'B', 0.5], [2026, 'A', 0.5], [2026, 'B', 0.5]]
    >>> sorted(table.attrs["by_year"])
    [2025, 2026]
    """
    return _by_year(scan_rates, data, year, unit=unit, outcome=outcome, **options)


def scan_gaps_by_year(data: pd.DataFrame, *, unit: str, group: str, focus, outcome: str,
                      year: str = "school_year", **options) -> pd.DataFrame:
    """:func:`scan_gaps` separately for each school year, stacked (see :func:`scan_rates_by_year`).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"school_year": [2025] * 40 + [2026] * 40, "school": "A",
    ...                      "el": [True, False] * 40, "oss": [0, 0, 1, 0] * 20})
    >>> table = scan_gaps_by_year(data, unit="school", group="el", focus="Yes", outcome="oss",
    ...                           compare="within")
    >>> table[["school_year", "school", "difference"]].values.tolist()
    [[2025, 'A', 0.5], [2026, 'A', 0.5]]
    """
    return _by_year(scan_gaps, data, year, unit=unit, group=group, focus=focus, outcome=outcome,
                    **options)


def _by_year(scan, data: pd.DataFrame, year: str, **options) -> pd.DataFrame:
    parts, summaries = [], {}
    for value in sorted(data[year].dropna().unique()):  # a handful of years
        part = scan(data[data[year] == value], **options)
        key = value.item() if isinstance(value, np.generic) else value
        summaries[key] = dict(part.attrs)
        part.insert(0, year, key)
        parts.append(part)
    if not parts:
        raise ValueError(f"no row has a {year!r}")
    table = pd.concat(parts, ignore_index=True)
    table.attrs = {"by_year": summaries}
    return table


# --------------------------------------------------------------------------- colleagues


#: What ``vs_school_colleagues`` says of a unit (blank: not compared, e.g. the only one of its school).
COLLEAGUE_WORDS = ("higher", "lower", "similar")
#: The column :func:`against_school_colleagues` writes them in.
COLLEAGUE_COLUMN = "vs_school_colleagues"


def against_school_colleagues(scan: pd.DataFrame, data: pd.DataFrame, *, unit: str, outcome: str,
                              school: str = "school_id", colleagues: pd.DataFrame | None = None,
                              **options) -> pd.DataFrame:
    """``scan`` (units against the district) with each unit it marks set against the other units of its school.

    A PLC whose whole school grows more slowly lies outside the district's
    funnel as the school does: the pattern is the school's, and the team asks
    a different question than of a PLC that differs from the other PLCs of
    its own school. ``colleagues`` is the units scanned with ``within=school``
    (:func:`scan_rates`: each against the other units' rows in the same
    school, with its own false-discovery control); it is computed when not
    given. For each unit the district scan marks (``closer_look``), one
    column of words says what that comparison found, with no comparator
    number (the colleagues' rate would let a reader work out a withheld
    unit's rate from its school's):

    ``vs_school_colleagues``
        ``"higher"`` or ``"lower"`` where the unit's rate differs from its
        colleagues' beyond chance (``closer_look`` of ``colleagues``),
        ``"similar"`` where it was compared and does not; blank where it was
        not marked against the district, could not be compared (no other
        unit in its school) or its colleagues number fewer than ``min_n``
        students. Which unmarked units differ from their colleagues is
        ``colleagues``' own result, for the confidential folder.

    Parameters
    ----------
    scan : DataFrame
        :func:`scan_rates` of ``data`` against the district.
    data : DataFrame
        The rows scanned, with a ``school`` column.
    unit, outcome : str
        As in :func:`scan_rates`.
    school : str, default "school_id"
        Column naming each row's school.
    colleagues : DataFrame, optional
        :func:`scan_rates` of ``data`` with ``within=school`` (e.g. after the
        audit-wide false-discovery control).
    **options
        Passed to :func:`scan_rates` (``min_n``, ``fdr``, ``cluster``, ...).

    Returns
    -------
    DataFrame
        ``scan`` with ``vs_school_colleagues``.

    Examples
    --------
    Eight schools of two PLCs; all of school A and one PLC of school B have
    more students below pace:

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> plcs = [f"{school}{k}" for school in "ABCDEFGH" for k in (1, 2)]
    >>> plc = np.repeat(plcs, 300)
    >>> risk = np.where(np.isin(plc, ["A1", "A2", "B1"]), 0.25, 0.10)
    >>> data = pd.DataFrame({"plc": plc, "school_id": [p[0] for p in plc],
    ...                      "below": (rng.random(plc.size) < risk).astype(int)})
    >>> colleagues = scan_rates(data, unit="plc", outcome="below", within="school_id")
    >>> colleagues.loc[colleagues["closer_look"], "plc"].tolist()
    ['B1', 'B2']
    >>> scan = against_school_colleagues(scan_rates(data, unit="plc", outcome="below"), data,
    ...                                  unit="plc", outcome="below", colleagues=colleagues)
    >>> scan.loc[scan["closer_look"], ["plc", "vs_school_colleagues"]].values.tolist()
    [['A2', 'similar']]
    """
    if colleagues is None:
        colleagues = scan_rates(data, unit=unit, outcome=outcome, within=school, **options)
    # a word about a unit against colleagues fewer than min_n would tell something of a withheld group
    enough = _colleague_students(data, unit, school, options.get("cluster")).reindex(colleagues[unit]).fillna(0)
    tested = (colleagues["pvalue"].notna() & ~colleagues["suppressed"].astype(bool)
              & (enough.to_numpy() >= options.get("min_n", 10)))
    side = np.where(colleagues["rate"] > colleagues["target"], "higher", "lower")
    words = pd.Series(np.where(colleagues["closer_look"].astype(bool), side, "similar"), index=colleagues.index)
    words = words.where(tested, "").set_axis(colleagues[unit].to_numpy())
    out = scan.copy()
    marked = out["closer_look"].astype(bool)
    out[COLLEAGUE_COLUMN] = out[unit].map(words).fillna("").where(marked, "").astype(object)
    return out


def _colleague_students(data: pd.DataFrame, unit: str, school: str, cluster: str | None) -> pd.Series:
    """For each unit, the students (``cluster``; rows without it) of its school(s) seen by other units only."""
    key = data[cluster].to_numpy() if cluster else np.arange(len(data))
    pairs = pd.DataFrame({"school": data[school].to_numpy(), "unit": data[unit].to_numpy(), "key": key})
    pairs = pairs.dropna(subset=["school", "unit"]).drop_duplicates()
    total = pairs.groupby("school")["key"].nunique()
    seen = pairs.groupby(["school", "key"])["unit"].agg(["nunique", "first"])
    only = seen[seen["nunique"] == 1].groupby(["school", "first"]).size()
    units = pairs[["school", "unit"]].drop_duplicates()
    own = pd.Series(only.reindex(pd.MultiIndex.from_frame(units)).fillna(0).to_numpy(), index=units.index)
    return (units["school"].map(total) - own).groupby(units["unit"].to_numpy()).sum()


# --------------------------------------------------------------------------- persistence


def persistence(scan_by_year: pd.DataFrame, *, unit: str, years_needed: int = 2, window: int = 3,
                year: str = "school_year", through: int | None = None) -> pd.DataFrame:
    """Which units were called out in at least ``years_needed`` of the last ``window`` years.

    A single year's call-out can be chance even after the funnel and the
    false-discovery control, so **one year alone is never called a pattern**:
    ``years_needed`` must be at least 2. Only units called out (``closer_look``)
    in at least ``years_needed`` distinct school years of the window get the
    words :data:`PATTERN`, "a pattern that warrants a closer look".

    Parameters
    ----------
    scan_by_year : DataFrame
        Stacked yearly scans with ``year``, ``unit`` and ``closer_look`` (and
        ``suppressed``) columns, e.g. from :func:`scan_rates_by_year` or
        :func:`scan_gaps_by_year`.
    unit : str
        Column naming the unit.
    years_needed : int, default 2
        Years with a call-out needed for a pattern (at least 2).
    window : int, default 3
        Length of the window in school years; it ends at ``through`` and counts
        calendar school years, so a year with no scan still uses up a place.
    year : str, default "school_year"
        Column holding the school year (whole numbers, e.g. 2026 for 2025-26).
    through : int, optional
        Last school year of the window; by default the latest in the table.

    Returns
    -------
    DataFrame
        One row per unit, sorted by unit: ``unit``, ``years_scanned`` (years of
        the window in which the unit met the minimum n), ``years_flagged``
        (years with ``closer_look``), ``flagged_years`` (e.g. "2024, 2026"),
        ``persistent`` (bool) and ``pattern`` (:data:`PATTERN` or ""). ``attrs``
        holds ``first_year``, ``last_year`` and ``years_needed``.

    Raises
    ------
    ValueError
        If ``years_needed < 2``, ``window < years_needed`` or a year is not a
        whole number.

    Examples
    --------
    >>> import pandas as pd
    >>> scans = pd.DataFrame({"school_year": [2024, 2025, 2026] * 2,
    ...                       "school": ["A"] * 3 + ["B"] * 3, "suppressed": False,
    ...                       "closer_look": [True, False, True, False, False, True]})
    >>> persistence(scans, unit="school")[["school", "years_flagged", "pattern"]].values.tolist()
    [['A', 2, 'a pattern that warrants a closer look'], ['B', 1, '']]
    """
    if years_needed < 2:
        raise ValueError("one year alone is never a pattern: years_needed must be at least 2")
    if window < years_needed:
        raise ValueError(f"window ({window}) must be at least years_needed ({years_needed})")
    years = _whole_years(scan_by_year[year], year)
    last = int(years.max()) if through is None else int(through)
    inside = ((years > last - window) & (years <= last)).to_numpy()
    flagged = _bool(scan_by_year["closer_look"]) & inside
    scanned = inside & (~_bool(scan_by_year["suppressed"]) if "suppressed" in scan_by_year
                        else inside)
    frame = pd.DataFrame({unit: scan_by_year[unit].to_numpy(), "_year": years.to_numpy(),
                          "_flag": flagged, "_scanned": scanned})
    per_year = frame.groupby([unit, "_year"], observed=True, sort=True)[["_flag", "_scanned"]].any()
    per_unit = per_year.groupby(level=unit, observed=True, sort=True)
    table = per_unit.sum().astype(np.int64).rename(
        columns={"_scanned": "years_scanned", "_flag": "years_flagged"})
    table = table[["years_scanned", "years_flagged"]]
    hits = per_year[per_year["_flag"]].reset_index()
    listed = hits.groupby(unit, observed=True)["_year"].agg(lambda s: ", ".join(map(str, s)))
    table["flagged_years"] = listed.astype(object).reindex(table.index, fill_value="").astype(str)
    table["persistent"] = table["years_flagged"] >= years_needed
    table["pattern"] = np.where(table["persistent"], PATTERN, "")
    table = table.reset_index()
    table.attrs = {"first_year": last - window + 1, "last_year": last, "years_needed": years_needed}
    return table


def _whole_years(column: pd.Series, name: str) -> pd.Series:
    years = pd.to_numeric(column, errors="coerce").astype("Float64")
    if years.isna().any() or not (years == years.round()).all():
        raise ValueError(f"{name!r} must hold whole-number school years (e.g. 2026 for 2025-26)")
    return years.astype("int64")


def _bool(column: pd.Series) -> np.ndarray:
    return column.astype("boolean").fillna(False).to_numpy(bool)


# --------------------------------------------------------------------------- shared helpers


def _check_options(min_n: int, fdr: float, side: str) -> None:
    if min_n < 1:
        raise ValueError(f"min_n must be at least 1, got {min_n}")
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be strictly between 0 and 1, got {fdr}")
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")


def _numeric(column: pd.Series, name: str) -> pd.Series:
    """The outcome as float64 with NaN for missing (booleans become 0/1)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        column = column.astype("boolean").astype("Float64")
    if not pd.api.types.is_numeric_dtype(column.dtype):
        raise ValueError(f"outcome {name!r} must be numeric or boolean, not {column.dtype}")
    return column.astype("Float64").astype("float64")


def _zero_one(column: pd.Series, name: str) -> pd.Series:
    values = _numeric(column, name)
    if not values.dropna().isin([0.0, 1.0]).all():
        raise ValueError(f"outcome {name!r} must hold only 0 and 1 (or True/False)")
    return values


def _resolve_statistic(values: pd.Series, statistic: str) -> str:
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, not {statistic!r}")
    if statistic == "rate" and not values.dropna().isin([0.0, 1.0]).all():
        raise ValueError("statistic='rate' needs a 0/1 outcome")
    if statistic != "auto":
        return statistic
    return "rate" if values.dropna().isin([0.0, 1.0]).all() else "mean"


def _within(mask: np.ndarray, values) -> np.ndarray:
    """``values`` (computed for the rows in ``mask``) spread back over all rows, NaN elsewhere."""
    out = np.full(mask.shape, np.nan)
    out[mask] = values
    return out


def _withhold(table: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """Every number of a suppressed unit but those in ``keep`` becomes NaN."""
    hidden = [c for c in table.columns if c not in keep]
    table.loc[table["suppressed"].to_numpy(), hidden] = np.nan
    return table.reset_index(drop=True)
