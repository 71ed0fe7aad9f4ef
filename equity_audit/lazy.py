"""The heavy reductions, written once for DuckDB, Spark or pandas (via narwhals).

A state of a million students and two hundred million evidence rows does not
fit the pandas path's memory. The audit's statistics never need the students
themselves, only a few sums per cell, so the row-level work is one grouped
reduction, written here once in `narwhals <https://narwhals-dev.github.io/>`_
and executed by whatever holds the data:

- a Parquet file or folder (the default): DuckDB, in-process, streaming from
  disk on every core;
- a PySpark ``DataFrame``: Spark, on a laptop (``local[2]``) or a cluster;
- a pandas, polars or DuckDB frame: converted to DuckDB.

The small reduced result comes back as pandas, and the statistics (intervals,
tests, funnel limits, false-discovery control) are the pandas code's own:
:func:`equity_audit.disaggregate.disaggregate_cells` and
:func:`equity_audit.scans.scan_rates_from_counts`. See ``docs/lazy.md`` for
why narwhals rather than ibis.

- :func:`cell_counts`: per crossed cell, n, n_missing, sum and sum of squares;
- :func:`disaggregate`: :func:`equity_audit.disaggregate.disaggregate` on it;
- :func:`unit_counts` and :func:`scan_rates`: a funnel scan of units;
- :func:`gap_sides` and :func:`scan_gaps`: a within-unit gap scan;
- :func:`outcome_counts` and :func:`risk_ratios`: IDEA risk ratios per group (per LEA or school);
- :func:`idea_counts`: a state's IDEA counts per LEA, for state mode's determinations;
- :func:`evidence_rollup`: per student and standard, evidence count and latest score;
- :func:`pace_sums` and :func:`pace_from_sums`: least-squares pace per student.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({"el": [True, True, False, False, None], "below_pace": [1, 0, 0, 0, 1]})
>>> cell_counts(data, ["el"], "below_pace")[["el", "n", "total"]].values.tolist()
[['Yes', 2, 1.0], ['No', 2, 0.0], ['Unknown', 1, 1.0]]
"""
from __future__ import annotations

import os
from pathlib import Path

import narwhals as nw
import numpy as np
import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.exceptions import EquityAuditError

__all__ = ["open_frame", "cell_counts", "disaggregate", "unit_counts", "scan_rates", "gap_sides", "scan_gaps",
           "outcome_counts", "risk_ratios", "idea_counts", "evidence_rollup", "pace_sums",
           "pace_from_sums", "LazyInputError"]

_SUMS = ["n", "n_missing", "total", "total_sq"]
_VALUE = "_value"


class LazyInputError(EquityAuditError, ValueError):
    """The big-data path was given a column or option it cannot use."""


def open_frame(source) -> nw.LazyFrame:
    """The data as a narwhals lazy frame: Parquet through DuckDB, Spark as Spark.

    Parameters
    ----------
    source : str, Path or frame
        A Parquet file, a folder of Parquet files, a glob (``"state/*.parquet"``),
        a PySpark or DuckDB frame, or a pandas/polars frame (handed to DuckDB).

    Returns
    -------
    narwhals.LazyFrame
    """
    if isinstance(source, nw.LazyFrame):
        return source
    if isinstance(source, (str, os.PathLike)):
        import duckdb

        path = Path(source)
        return nw.from_native(duckdb.read_parquet(str(path / "*.parquet") if path.is_dir() else str(path)))
    frame = nw.from_native(source)
    return frame.lazy(backend="duckdb") if isinstance(frame, nw.DataFrame) else frame


def _label(name: str, dtype) -> nw.Expr:
    """A grouping column as text, as the pandas engine labels it: flags Yes/No, blanks Unknown."""
    column = nw.col(name)
    if dtype == nw.Boolean:
        flag = nw.when(column).then(nw.lit("Yes")).otherwise(nw.lit("No"))
        # a blank flag first: SQL's CASE would otherwise send a null to "No"
        return nw.when(column.is_null()).then(nw.lit(UNKNOWN)).otherwise(flag).alias(name)
    return column.cast(nw.String).fill_null(UNKNOWN).alias(name)


def _levels(labels: pd.Series, dtype) -> list[str]:
    """The levels the pandas engine gives a column: Yes/No/Unknown, or sorted with Unknown last."""
    if dtype == nw.Boolean:
        return ["Yes", "No", UNKNOWN]
    seen = set(labels.astype(str))
    return sorted(seen - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in seen else [])


def _value(frame: nw.LazyFrame, value: str) -> nw.Expr:
    dtype = frame.collect_schema()[value]
    if not (dtype.is_numeric() or dtype == nw.Boolean):
        raise LazyInputError(f"The column {value!r} holds {dtype}; it needs numbers or True/False.")
    return nw.col(value).cast(nw.Float64)


def _reduce(frame: nw.LazyFrame, by: list[str], value: str | None) -> pd.DataFrame:
    """One grouped pass: per cell of ``by``, n, n_missing, sum, sum of squares and value checks."""
    schema = frame.collect_schema()
    missing = [c for c in [*by, *([value] if value else [])] if c not in schema]
    if missing:
        raise LazyInputError(f"The data has no column {', '.join(map(repr, missing))}.")
    labelled = frame.with_columns(*[_label(c, schema[c]) for c in by])
    if value is None:
        reduced = labelled.group_by(*by).agg(nw.len().alias("n")).collect(backend="pandas").to_native()
        reduced[["n_missing", "total", "total_sq", "_not_01", "_negative"]] = 0
    else:
        v = nw.col(_VALUE)
        reduced = labelled.with_columns(_value(frame, value).alias(_VALUE)).group_by(*by).agg(
            nw.len().alias("_rows"), v.count().alias("n"), v.sum().alias("total"), (v * v).sum().alias("total_sq"),
            ((v != 0) & (v != 1)).cast(nw.Int64).sum().alias("_not_01"),
            (v < 0).cast(nw.Int64).sum().alias("_negative"),
        ).collect(backend="pandas").to_native()
        reduced["n_missing"] = reduced.pop("_rows") - reduced["n"]
    reduced[["total", "total_sq"]] = reduced[["total", "total_sq"]].astype(float).fillna(0.0)
    reduced[["n", "n_missing"]] = reduced[["n", "n_missing"]].astype("int64")
    for column in by:
        reduced[column] = pd.Categorical(reduced[column], categories=_levels(reduced[column], schema[column]))
    return reduced


def _on_levels(reduced: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Cells summed to ``by`` on the full product of levels (empty cells n = 0), in category order."""
    # categorical keys: observed=False gives every crossing of the levels, in their order
    cells = reduced.groupby(by, observed=False)[_SUMS].sum().reset_index()
    cells[["n", "n_missing"]] = cells[["n", "n_missing"]].astype("int64")
    return cells


def cell_counts(source, by: list[str] | str, value: str | None = None) -> pd.DataFrame:
    """Per crossed cell of ``by``: n, n_missing, sum and sum of squares of ``value``.

    The inputs of every mean, rate and interval of
    :func:`equity_audit.disaggregate.disaggregate`, reduced by DuckDB or
    Spark, with the pandas engine's cells: flags become Yes / No / Unknown,
    blanks Unknown, every crossing of the levels is a row (empty ones n = 0).

    Parameters
    ----------
    source : str, Path or frame
        See :func:`open_frame`.
    by : str or list of str
        Grouping columns.
    value : str, optional
        A numeric or True/False column (missing values count in
        ``n_missing``). Without it ``n`` counts rows and the sums are 0.

    Returns
    -------
    DataFrame
        The ``by`` columns (categorical), ``n``, ``n_missing``, ``total``,
        ``total_sq``; for a 0/1 value ``total`` is the number of events.
    """
    by = [by] if isinstance(by, str) else list(by)
    reduced = _reduce(open_frame(source), by, value)
    return _on_levels(reduced, by)


def _statistic(reduced: pd.DataFrame, statistic: str, metric: str) -> str:
    if statistic not in ("auto", "rate", "mean", "count"):
        raise LazyInputError(f"On Parquet or Spark data the statistic is a rate, mean or count, not {statistic!r}: "
                             "medians need every student's value; use the pandas path for them.")
    if statistic == "count" and reduced["_negative"].sum() > 0:
        raise LazyInputError(f"statistic='count' needs counts of 0 or more per student in {metric!r}.")
    if statistic != "auto":
        return statistic
    return "rate" if reduced["_not_01"].sum() == 0 else "mean"


def disaggregate(source, metric: str, *, by: list[str] | str, statistic: str = "auto", comparator="rest",
                 min_n: int = 10, confidence: float = 0.95, fdr: float = 0.05,
                 adjust_for: list[str] | None = None) -> pd.DataFrame:
    """:func:`equity_audit.disaggregate.disaggregate` on Parquet or Spark data, in one reduction.

    The data are reduced once, to the cells of ``by`` and ``adjust_for``
    crossed (what the joint main-effects model of intersections is fitted
    on); everything else is computed from those sums in pandas, by the same
    code, so the table is the pandas engine's (sums to the last bits of
    floating point: DuckDB and Spark add in another order).

    Parameters
    ----------
    source : str, Path or frame
        See :func:`open_frame`.
    metric, by, comparator, min_n, confidence, fdr, adjust_for
        As for :func:`equity_audit.disaggregate.disaggregate`.
    statistic : {"auto", "rate", "mean", "count"}
        Medians, ``cluster`` and ``strata`` need the students themselves and
        stay with the pandas path.

    Returns
    -------
    DataFrame
        The same columns as :func:`equity_audit.disaggregate.disaggregate`.
    """
    from equity_audit.disaggregate import disaggregate_cells

    by = [by] if isinstance(by, str) else list(by)
    extra = [c for c in (adjust_for or []) if c not in by] if len(by) >= 2 else []
    reduced = _reduce(open_frame(source), [*by, *extra], metric)
    statistic = _statistic(reduced, statistic, metric)
    model = [*by, *extra]
    fine = reduced[reduced["n"] > 0].sort_values(model, kind="mergesort")[[*model, *_SUMS]]
    return disaggregate_cells(_on_levels(reduced, by), fine.reset_index(drop=True), by=by,
                              statistic=statistic, comparator=comparator, min_n=min_n, confidence=confidence,
                              fdr=fdr)


def unit_counts(source, *, unit: str, outcome: str) -> tuple[pd.DataFrame, int]:
    """Per unit (school, PLC, teacher): n with an outcome, n_missing and events, sorted by unit.

    Rows without a unit are left out and counted. The reduction behind
    :func:`equity_audit.scans.scan_rates`.

    Returns
    -------
    (DataFrame, int)
        ``unit``, ``n``, ``n_missing``, ``events``; and the rows without a unit.

    Raises
    ------
    LazyInputError
        If ``outcome`` holds values other than 0 and 1.
    """
    frame = open_frame(source)
    v = nw.col(_VALUE)
    reduced = frame.with_columns(_value(frame, outcome).alias(_VALUE)).group_by(unit).agg(
        nw.len().alias("_rows"), v.count().alias("n"), v.sum().alias("events"),
        ((v != 0) & (v != 1)).cast(nw.Int64).sum().alias("_not_01"),
    ).collect(backend="pandas").to_native()
    if reduced["_not_01"].sum() > 0:
        raise LazyInputError(f"outcome {outcome!r} must hold only 0 and 1 (or True/False)")
    blank = reduced[unit].isna()
    table = reduced[~blank].sort_values(unit, kind="mergesort").reset_index(drop=True)
    return pd.DataFrame({unit: table[unit], "n": table["n"].astype("int64"),
                         "n_missing": (table["_rows"] - table["n"]).astype("int64"),
                         "events": table["events"].astype(float).fillna(0.0)}), int(reduced.loc[blank, "_rows"].sum())


def scan_rates(source, *, unit: str, outcome: str, **options) -> pd.DataFrame:
    """:func:`equity_audit.scans.scan_rates` on Parquet or Spark data: one reduction, then the same scan.

    ``within`` and ``cluster`` need every student's rows and stay with the pandas path."""
    from equity_audit.scans import scan_rates_from_counts

    for name in ("within", "cluster"):
        if options.pop(name, None) is not None:
            raise LazyInputError(f"On Parquet or Spark data the rate scan has no {name} option: it needs every "
                                 "student's rows; use equity_audit.scans.scan_rates on the students.")
    table, without = unit_counts(source, unit=unit, outcome=outcome)
    return scan_rates_from_counts(table, unit=unit, rows_without_unit=without, **options)


def _text(name: str, dtype) -> nw.Expr:
    """A group column as text, blanks kept blank and flags Yes/No, as :func:`equity_audit.scans.scan_gaps` reads it."""
    column = nw.col(name)
    if dtype != nw.Boolean:
        return column.cast(nw.String)
    return nw.when(~column.is_null()).then(nw.when(column).then(nw.lit("Yes")).otherwise(nw.lit("No")))


def _need(schema, columns: list[str]) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise LazyInputError(f"The data has no column {', '.join(map(repr, missing))}.")


def _sides(reduced: pd.DataFrame) -> pd.DataFrame:
    """Per unit and side sums to the wide n/sum/mean/var table of :func:`equity_audit.scans.scan_gaps_from_sides`."""
    n, total, squares = (reduced[c].to_numpy(float) for c in ("n", "sum", "sum_sq"))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        # the sample variance from sums: exact enough for scores and rates (not for values near 1e8)
        var = np.where(n > 1, np.maximum(squares - total * mean, 0.0) / (n - 1), np.nan)
    long = pd.DataFrame({"unit": reduced["unit"], "side": np.where(reduced["_focus"].astype(bool), "focus", "others"),
                         "n": n, "sum": np.where(n > 0, total, np.nan), "mean": mean, "var": var})
    wide = long.pivot(index="unit", columns="side")
    wide = wide.reindex(columns=pd.MultiIndex.from_product([["n", "sum", "mean", "var"], ["focus", "others"]]))
    wide.columns = [f"{name}_{side}" for name, side in wide.columns]
    wide[["n_focus", "n_others"]] = wide[["n_focus", "n_others"]].fillna(0).astype("int64")
    return wide.sort_index(kind="mergesort")


def gap_sides(source, *, unit: str, group: str, focus, outcome: str) -> tuple[pd.DataFrame, dict]:
    """Per unit, the focus group's and the other students' n, sum, mean and variance of ``outcome``.

    The reduction behind :func:`equity_audit.scans.scan_gaps`: rows with no
    unit, no group or no outcome are in neither side (rows without a group
    are counted).

    Returns
    -------
    (DataFrame, dict)
        The ``sides`` table of :func:`equity_audit.scans.scan_gaps_from_sides`
        (indexed by unit, sorted); and ``rows_without_group``,
        ``focus_rows`` and ``not_zero_one`` (outcome values other than 0 and 1).

    Raises
    ------
    LazyInputError
        If a column is missing, the outcome is not numeric, or no row of ``group`` equals ``focus``.
    """
    frame = open_frame(source)
    schema = frame.collect_schema()
    _need(schema, [unit, group, outcome])
    if schema[group] == nw.Boolean and isinstance(focus, bool):
        focus = "Yes" if focus else "No"
    v = nw.col(_VALUE)
    reduced = frame.with_columns((_text(group, schema[group]) == nw.lit(str(focus))).alias("_focus"),
                                 _value(frame, outcome).alias(_VALUE)).group_by(unit, "_focus").agg(
        nw.len().alias("_rows"), v.count().alias("n"), v.sum().alias("sum"), (v * v).sum().alias("sum_sq"),
        ((v != 0) & (v != 1)).cast(nw.Int64).sum().alias("_not_01"),
    ).collect(backend="pandas").to_native().rename(columns={unit: "unit"})
    reduced[["sum", "sum_sq"]] = reduced[["sum", "sum_sq"]].astype(float).fillna(0.0)
    focus_rows = int(reduced.loc[reduced["_focus"].eq(True).fillna(False).astype(bool), "_rows"].sum())
    if focus_rows == 0:
        raise LazyInputError(f"No row of {group!r} equals the focus group {focus!r}.")
    counts = {"rows_without_group": int(reduced.loc[reduced["_focus"].isna(), "_rows"].sum()),
              "focus_rows": focus_rows, "not_zero_one": int(reduced["_not_01"].fillna(0).sum())}
    kept = reduced[reduced["unit"].notna() & reduced["_focus"].notna()]
    return _sides(kept).rename_axis(unit), counts


def scan_gaps(source, *, unit: str, group: str, focus, outcome: str, statistic: str = "auto",
              **options) -> pd.DataFrame:
    """:func:`equity_audit.scans.scan_gaps` on Parquet or Spark data: one reduction, then the same scan.

    ``cluster`` needs every student's rows and stays with the pandas path;
    the other options are those of :func:`equity_audit.scans.scan_gaps`.
    """
    from equity_audit.scans import scan_gaps_from_sides

    if options.get("cluster") is not None:
        raise LazyInputError("On Parquet or Spark data the gap scan has no cluster option: the design effect needs "
                             "every student's rows; use the pandas path for student-years.")
    options.pop("cluster", None)
    sides, counts = gap_sides(source, unit=unit, group=group, focus=focus, outcome=outcome)
    if statistic not in ("auto", "rate", "mean"):
        raise LazyInputError(f"statistic must be 'auto', 'rate' or 'mean', not {statistic!r}")
    if statistic == "rate" and counts["not_zero_one"]:
        raise LazyInputError(f"statistic='rate' needs an outcome of 0 and 1 in {outcome!r}.")
    if statistic == "auto":
        statistic = "mean" if counts["not_zero_one"] else "rate"
    return scan_gaps_from_sides(sides, unit=unit, group=group, focus=focus, statistic=statistic,
                                rows_without_group=counts["rows_without_group"], **options)


def _known_group(name: str, dtype) -> nw.Expr:
    """True where the group is known: not blank and not Unknown (the IDEA rule's groups are the known ones)."""
    return ~nw.col(name).is_null() & (_label(name, dtype) != nw.lit(UNKNOWN))


def outcome_counts(source, *, group: str, outcome: str, by: list[str] | str = (),
                   population: str | None = None) -> pd.DataFrame:
    """Per cell of ``by`` and known ``group``: children with the outcome and in the population.

    :func:`equity_audit.disproportionality.outcome_table` for every cell of
    ``by`` (an LEA, a school, a school year) in one reduction: ``outcome``
    sums the outcome column (0/1 or a count such as removals), ``base``
    counts the rows with a known outcome. Blank and Unknown groups are left
    out, as the IDEA rule defines the groups; only groups seen in a cell are
    rows.

    Parameters
    ----------
    source : str, Path or frame
        See :func:`open_frame`.
    group, outcome : str
        The group column (race/ethnicity) and the 0/1 or count column.
    by : str or list of str, optional
        Cells to count separately.
    population : str, optional
        A Yes/No (or True/False) column: only its "Yes" rows are counted
        (children with disabilities for the discipline categories).

    Returns
    -------
    DataFrame
        ``by`` columns, ``group``, ``outcome`` (integers when whole) and
        ``base``, sorted by ``by`` and group.
    """
    by = [by] if isinstance(by, str) else list(by)
    frame = open_frame(source)
    schema = frame.collect_schema()
    _need(schema, [*by, group, outcome, *([population] if population else [])])
    rows = frame.filter(_known_group(group, schema[group]), ~nw.col(outcome).is_null())
    if population:
        rows = rows.filter(_label(population, schema[population]) == nw.lit("Yes"))
    v = nw.col(_VALUE)
    table = rows.with_columns(_value(frame, outcome).alias(_VALUE)).group_by(*by, group).agg(
        v.sum().alias("outcome"), nw.len().alias("base"), (v < 0).cast(nw.Int64).sum().alias("_negative"),
    ).collect(backend="pandas").to_native()
    if table["_negative"].sum() > 0:
        raise LazyInputError(f"outcome column {outcome!r} must hold non-negative numbers (0/1 or counts)")
    table = table.rename(columns={group: "group"}).sort_values([*by, "group"], kind="mergesort")
    table["outcome"] = _whole(table["outcome"].astype(float))
    table["base"] = table["base"].astype("int64")
    return table[[*by, "group", "outcome", "base"]].reset_index(drop=True)


def _whole(values: pd.Series) -> pd.Series:
    """Integer counts when every value is whole, as the pandas counts are."""
    return values.astype("int64") if np.all(values.to_numpy() == np.round(values.to_numpy())) else values


def risk_ratios(source, *, group: str, outcome: str, by: list[str] | str = (), population: str | None = None,
                state=None, **options) -> pd.DataFrame:
    """:func:`equity_audit.disproportionality.risk_ratios` per cell of ``by``, from one reduction.

    Counts by :func:`outcome_counts`; each cell's small table (one row per
    group) then goes through the pandas rules: risk, risk ratio or alternate
    risk ratio against ``state``, minimum cell and n sizes, the threshold.

    Parameters
    ----------
    source, group, outcome, by, population
        As for :func:`outcome_counts`.
    state : DataFrame, optional
        ``group, outcome, base`` for the whole state, the same for every cell.
    **options
        ``min_cell``, ``min_n`` and ``threshold`` of
        :func:`equity_audit.disproportionality.risk_ratios`.

    Returns
    -------
    DataFrame
        ``by`` columns, ``group`` and the columns of
        :func:`equity_audit.disproportionality.risk_ratios`, one row per cell and group.
    """
    from equity_audit.disproportionality import risk_ratios as rules

    by = [by] if isinstance(by, str) else list(by)
    counts = outcome_counts(source, group=group, outcome=outcome, by=by, population=population)
    if counts.empty:
        raise LazyInputError(f"No child has both a known {group!r} and a known {outcome!r}"
                             + (f" among the {population!r} = Yes rows." if population else "."))
    if not by:
        return rules(counts, state, **options).reset_index()
    parts = [rules(table[["group", "outcome", "base"]], state, **options).reset_index()
             .assign(**dict(zip(by, key if isinstance(key, tuple) else (key,))))
             for key, table in counts.groupby(by, sort=True)]  # one small table per cell
    stacked = pd.concat(parts, ignore_index=True)
    return stacked[[*by, *[c for c in stacked.columns if c not in by]]]


def idea_counts(source, categories: dict, *, lea: str = "lea", year: str = "school_year") -> pd.DataFrame:
    """:func:`equity_audit.questions.state.idea_counts` on Parquet or Spark data, in one reduction.

    Every category whose outcome column the data have is counted in the
    same pass: those for children with disabilities (discipline) over them,
    the others over every child; ``identified`` is ``disability`` = Yes.
    Children whose race/ethnicity or disability is blank or Unknown are left
    out. :func:`equity_audit.questions.state.determinations` turns the counts
    into the LEA determinations::

        from equity_audit.questions import state
        by_year, decided = state.determinations(lazy.idea_counts(source, state.CATEGORIES), settings)

    Parameters
    ----------
    source : str, Path or frame
        Student-year rows of every LEA (see :func:`open_frame`).
    categories : dict
        ``{category: (outcome column, children with disabilities only)}``,
        e.g. :data:`equity_audit.questions.state.CATEGORIES`.
    lea, year : str
        The LEA and school-year columns.

    Returns
    -------
    DataFrame
        Columns ``lea, category, school_year, group, outcome, base``; only
        groups with children in the population.
    """
    frame = open_frame(source)
    schema = frame.collect_schema()
    _need(schema, [lea, year, "race_ethnicity", "disability"])
    disability = _label("disability", schema["disability"])
    identified = (disability == nw.lit("Yes")).cast(nw.Int64)
    rows = frame.filter(_known_group("race_ethnicity", schema["race_ethnicity"]),
                        _known_group("disability", schema["disability"])).with_columns(
        _label("race_ethnicity", schema["race_ethnicity"]).alias("group"), identified.alias("identified"))
    present = {name: spec for name, spec in categories.items() if spec[0] in schema or spec[0] == "identified"}
    sums = []
    for name, (column, disability_only) in present.items():  # four categories, one pass
        value = nw.col(column).cast(nw.Float64)
        value = nw.when(nw.col("identified") == 1).then(value) if disability_only else value
        sums += [value.sum().alias(f"{name}__outcome"), value.count().alias(f"{name}__base")]
    wide = rows.group_by(lea, year, "group").agg(*sums).collect(backend="pandas").to_native()
    table = pd.concat([wide[[lea, year, "group"]].assign(category=name, outcome=wide[f"{name}__outcome"],
                                                         base=wide[f"{name}__base"]) for name in present])
    table = table[table["base"] > 0].rename(columns={lea: "lea", year: "school_year"})
    table["category"] = pd.Categorical(table["category"], categories=list(present))
    table = table.sort_values(["category", "lea", "school_year", "group"], kind="mergesort")
    table["category"] = table["category"].astype(str)
    # sums of integer or flag columns stay integers, any decimal column makes them all decimal, as in pandas
    decimal = any(schema[column].is_float() for column, _ in present.values() if column in schema)
    table["outcome"] = table["outcome"].fillna(0.0).astype(float if decimal else "int64")
    table["base"] = table["base"].astype("int64")
    return table[["lea", "category", "school_year", "group", "outcome", "base"]].reset_index(drop=True)


def _day_number(name: str) -> nw.Expr:
    """Days since 1970-01-01 from year and day of year: integer arithmetic every backend runs alike."""
    year = nw.col(name).dt.year().cast(nw.Int64)
    before = year - 1
    leap_days = before // 4 - before // 100 + before // 400 - 477  # 477 leap days before 1970
    return 365 * (year - 1970) + leap_days + nw.col(name).dt.ordinal_day().cast(nw.Int64) - 1


def evidence_rollup(source, *, keys=("student_id", "standard_id"), date: str = "assessed_on",
                    score: str = "score") -> pd.DataFrame:
    """Per student and standard: pieces of evidence, the latest date and the latest score.

    The latest score is the mean of the scores on the latest date, as
    :func:`equity_audit.pace.levels_from_evidence` reads several scores on one
    day; rows without a date or score are left out.

    Returns
    -------
    DataFrame
        ``keys``, ``n_evidence``, ``latest_on`` (date), ``latest_score``, sorted by ``keys``.
    """
    keys = list(keys)
    frame = open_frame(source).filter(~nw.col(date).is_null(), ~nw.col(score).is_null()).with_columns(
        _day_number(date).alias("_day"), nw.col(score).cast(nw.Float64).alias(score))
    per_key = frame.group_by(*keys).agg(nw.len().alias("n_evidence"), nw.col("_day").max().alias("_latest"))
    latest = frame.join(per_key, on=keys).filter(nw.col("_day") == nw.col("_latest")).group_by(*keys).agg(
        nw.col("n_evidence").max(), nw.col("_latest").max(), nw.col(score).mean().alias("latest_score"))
    table = latest.collect(backend="pandas").to_native().sort_values(keys, kind="mergesort")
    table.insert(len(keys) + 1, "latest_on", table.pop("_latest").to_numpy("int64").astype("datetime64[D]"))
    table["n_evidence"] = table["n_evidence"].astype("int64")
    return table.reset_index(drop=True)


def pace_sums(source, *, keys=("student_id", "domain"), date: str = "as_of", level: str = "performance_level",
              year_days: float = 365.25) -> pd.DataFrame:
    """Per student (and domain): the sums behind a least-squares pace, on the calendar basis.

    With t the calendar years since the student's first level (days /
    ``year_days``) and y the level: ``n_points``, ``first_day``/``last_day``
    (days since 1970), ``sum_t``, ``sum_y``, ``sum_tt``, ``sum_ty`` and
    ``sum_yy``. Rows missing a key, date or level are left out, as in
    :func:`equity_audit.pace.pace`. :func:`pace_from_sums` turns them into
    the slope.

    The data are reduced in one pass, with no join: sums of whole days since
    1970 (integers, exact on any engine) are shifted to each student's first
    day afterwards, in pandas.

    Returns
    -------
    DataFrame
        One row per ``keys``, sorted by them.
    """
    keys = list(keys)
    d, y = nw.col("_day"), nw.col("_y")
    table = open_frame(source).filter(*[~nw.col(c).is_null() for c in [*keys, date, level]]).with_columns(
        _day_number(date).alias("_day"), nw.col(level).cast(nw.Float64).alias("_y")).group_by(*keys).agg(
        nw.len().alias("n_points"), d.min().alias("first_day"), d.max().alias("last_day"),
        d.sum().alias("_sd"), (d * d).sum().alias("_sdd"), y.sum().alias("sum_y"),
        (d.cast(nw.Float64) * y).sum().alias("_sdy"), (y * y).sum().alias("sum_yy"),
    ).collect(backend="pandas").to_native()
    n, first = table["n_points"].to_numpy("int64"), table["first_day"].to_numpy("int64")
    shifted = table.pop("_sd").to_numpy("int64") - n * first  # sum of days since the first, exact
    shifted_sq = table.pop("_sdd").to_numpy("int64") - 2 * first * (shifted + n * first) + n * first**2
    table["sum_t"] = shifted / year_days
    table["sum_tt"] = shifted_sq / year_days**2
    table["sum_ty"] = (table.pop("_sdy").to_numpy(float) - first * table["sum_y"].to_numpy(float)) / year_days
    columns = [*keys, "n_points", "first_day", "last_day", "sum_t", "sum_y", "sum_tt", "sum_ty", "sum_yy"]
    return table[columns].sort_values(keys, kind="mergesort").reset_index(drop=True)


def pace_from_sums(sums: pd.DataFrame) -> pd.DataFrame:
    """Slope (levels a year), centred sum of squares of t and span of each row of :func:`pace_sums`.

    The slope is NaN where t does not vary (one date); the minimum-evidence
    rules of :func:`equity_audit.pace.pace` are the caller's to apply.
    """
    n = sums["n_points"].to_numpy(float)
    sxx = sums["sum_tt"].to_numpy() - sums["sum_t"].to_numpy() ** 2 / n
    sxy = sums["sum_ty"].to_numpy() - sums["sum_t"].to_numpy() * sums["sum_y"].to_numpy() / n
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / sxx, np.nan)
    return sums.assign(slope=slope, sxx=sxx, span_days=(sums["last_day"] - sums["first_day"]).astype("int64"))
