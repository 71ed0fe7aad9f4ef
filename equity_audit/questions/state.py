"""State mode: a state's LEAs, their IDEA significant disproportionality and a state -> LEA -> school roll-up.

A state folder holds one district (LEA) per sub-folder, each a normal district
folder, or the district tables at its top level with an ``lea_id`` column
(:func:`find_leas` splits those into one folder per LEA). Every LEA is validated
with the district loader.

Determinations follow 34 CFR 300.647 with the state's settings (the ``state:``
block of the configuration, :class:`equity_audit.config.StateSettings`): for each
LEA, category, school year and racial/ethnic group the risk ratio, or the
alternate risk ratio against all other groups in the state, from
:func:`equity_audit.disproportionality.risk_ratios`; then the multi-year rule
and reasonable progress of :func:`equity_audit.disproportionality.multi_year`.
An LEA is significantly disproportionate when any group in any category is.

Examples
--------
>>> import pandas as pd
>>> from equity_audit.config import StateSettings
>>> counts = pd.DataFrame({"lea": "A", "category": "identification", "school_year": [2026, 2026],
...                        "group": ["g1", "g2"], "outcome": [40, 20], "base": [100, 400]})
>>> by_year, decided = determinations(counts, StateSettings(years=1))
>>> decided[["group", "ratio", "significant_disproportionality"]].values.tolist()
[['g1', 8.0, True], ['g2', 0.125, False]]
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from equity_audit.config import Config, StateSettings
from equity_audit.data.contract import TABLES, UNKNOWN
from equity_audit.data.read import FORMATS
from equity_audit.disproportionality import multi_year, risk_ratios
from equity_audit.exceptions import EquityAuditError

__all__ = ["CATEGORIES", "LEA_COLUMN", "StateDataError", "find_leas", "safe_id", "idea_counts",
           "determinations", "lea_summary", "rollup", "student_counts", "facts_for",
           "ROLLUP_MEASURES"]

#: Column that names the LEA of each row in the single-folder layout.
LEA_COLUMN = "lea_id"

#: IDEA categories the student-year facts give: outcome column and whether the population is
#: children with disabilities (discipline) or every enrolled child (identification).
CATEGORIES = {
    "identification": ("identified", False),
    "out_of_school_suspension": ("any_oss", True),
    "in_school_suspension": ("any_iss", True),
    "total_removals": ("removals", True),
}

#: Roll-up measures: column of the student-year facts and its plain name.
ROLLUP_MEASURES = {
    "identified": "identified with a disability",
    "any_exclusion": "any exclusionary removal",
    "any_oss": "out-of-school suspension",
}

_RISK_COLUMNS = ["group", "outcome", "base", "risk", "risk_ratio", "method", "reason", "flagged"]


class StateDataError(EquityAuditError):
    """The state folder, or one LEA in it, cannot be audited."""


# --------------------------------------------------------------------------- the state folder


def safe_id(name: str) -> str:
    """An LEA id usable as a folder name (letters, digits, ``-`` and ``_``).

    >>> safe_id("North County / 04")
    'North-County-04'
    """
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", str(name)).strip("-")
    return cleaned or "lea"


def _table_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORMATS
                  and p.stem.lower() in TABLES)


def find_leas(state_dir: str | Path, work_dir: str | Path | None = None) -> dict[str, Path]:
    """The LEAs of a state folder: ``{lea id: district folder}``, sorted by id.

    Sub-folders holding a ``students`` table are LEAs (their folder name is the
    id). Without any, tables at the top with an ``lea_id`` column are split by it
    into ``work_dir/<lea>/`` (student-level: keep ``work_dir`` confidential);
    tables without the column (``standards``, say) are copied to every LEA.

    Raises
    ------
    StateDataError
        When the folder holds neither layout, or two LEA ids give one folder name.
    """
    state_dir = Path(state_dir)
    if not state_dir.is_dir():
        raise StateDataError(f"The state folder {state_dir} does not exist.")
    folders = {p.name: p for p in sorted(state_dir.iterdir())
               if p.is_dir() and any(f.stem.lower() == "students" for f in _table_files(p))}
    if folders:
        return _unique_ids(folders, state_dir)
    if work_dir is not None and any(f.stem.lower() == "students" for f in _table_files(state_dir)):
        return _split_by_lea(state_dir, Path(work_dir))
    raise StateDataError(f"The state folder {state_dir} holds no LEA: give one sub-folder per LEA, each with "
                         f"a students table, or the tables at the top with an '{LEA_COLUMN}' column.")


def _unique_ids(folders: dict[str, Path], state_dir: Path) -> dict[str, Path]:
    ids = pd.Series(list(folders)).map(safe_id)
    if ids.duplicated().any():
        raise StateDataError(f"In {state_dir}, the LEAs {sorted(pd.Series(list(folders))[ids.duplicated(keep=False)])}"
                             " give the same folder name; rename one.")
    return dict(zip(ids, folders.values()))


def _read_any(path: Path) -> pd.DataFrame:
    """A table as text (CSV, so values are written back as they were) or as stored (Parquet, Excel)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_parquet(path) if suffix == ".parquet" else pd.read_excel(path)


def _split_by_lea(state_dir: Path, work_dir: Path) -> dict[str, Path]:
    """Write one district folder per LEA id from top-level tables with an ``lea_id`` column."""
    tables = {path: _read_any(path) for path in _table_files(state_dir)}
    students = next(t for p, t in tables.items() if p.stem.lower() == "students")
    if LEA_COLUMN not in students:
        raise StateDataError(f"The state folder {state_dir} has a students table without an '{LEA_COLUMN}' "
                             "column, and no LEA sub-folders: say which LEA each student belongs to.")
    raw_ids = students[LEA_COLUMN].astype(str)
    if (raw_ids.str.strip() == "").any() or students[LEA_COLUMN].isna().any():
        raise StateDataError(f"{state_dir / 'students'}: {int((raw_ids.str.strip() == '').sum())} row(s) have no "
                             f"'{LEA_COLUMN}'; every student needs the LEA that enrols them.")
    leas = {lea: work_dir / safe_id(lea) for lea in sorted(raw_ids.unique())}
    found = _unique_ids(leas, state_dir)  # before writing, so two ids never share a folder
    for folder in leas.values():
        folder.mkdir(parents=True, exist_ok=True)
    for path, table in tables.items():  # one pass per table file, one write per LEA
        for lea, folder in leas.items():
            part = table[table[LEA_COLUMN].astype(str) == lea].drop(columns=LEA_COLUMN) \
                if LEA_COLUMN in table else table
            _write_like(part, folder / path.name)
    return found


def _write_like(table: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix.lower() == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_excel(path, index=False)


# --------------------------------------------------------------------------- IDEA determinations


def idea_counts(facts: pd.DataFrame) -> pd.DataFrame:
    """Children with each outcome (``outcome``) and in each population (``base``) per LEA, year and group.

    Parameters
    ----------
    facts : DataFrame
        Student-year rows of every LEA (:func:`equity_audit.questions.patterns.student_year_facts`
        with an ``lea`` column): ``school_year``, ``race_ethnicity``, ``disability`` (Yes/No) and
        the outcome columns of :data:`CATEGORIES` that the LEA's data has. Children whose
        race/ethnicity is Unknown are left out, as the rule defines the groups.

    Returns
    -------
    DataFrame
        Columns ``lea, category, school_year, group, outcome, base``; only groups with
        children in the population.
    """
    missing = [c for c in ("race_ethnicity", "disability") if c not in facts]
    if missing:
        raise StateDataError(f"The IDEA determinations need the students' {' and '.join(missing)}, which no LEA "
                             "provided.")
    # an LEA without the column has blanks here after the LEAs are put together: left out, not counted as No
    known = facts[facts["race_ethnicity"].notna() & (facts["race_ethnicity"].astype(str) != UNKNOWN)
                  & facts["disability"].notna() & (facts["disability"].astype(str) != UNKNOWN)]
    known = known.assign(identified=(known["disability"].astype(str) == "Yes").astype(int),
                         group=known["race_ethnicity"].astype(str))
    with_disability = known[known["identified"] == 1]
    parts = []
    for category, (column, disability_only) in CATEGORIES.items():  # four categories
        if column not in known:
            continue
        rows = with_disability if disability_only else known
        table = rows.groupby(["lea", "school_year", "group"], observed=True)[column].agg(["sum", "count"])
        parts.append(table.set_axis(["outcome", "base"], axis=1).reset_index().assign(category=category))
    counts = pd.concat(parts, ignore_index=True)
    counts = counts[counts["base"] > 0]
    return counts[["lea", "category", "school_year", "group", "outcome", "base"]].reset_index(drop=True)


def determinations(counts: pd.DataFrame, settings: StateSettings | None = None):
    """Risk ratios per LEA, category, year and group, and the multi-year determinations.

    The state comparison (for the alternate risk ratio) is every LEA's counts
    of the same category, year and group added up.

    Parameters
    ----------
    counts : DataFrame
        Columns ``lea, category, school_year, group, outcome, base`` (:func:`idea_counts`).
    settings : StateSettings, optional
        Threshold, minimum n-size and cell size, years and reasonable progress.

    Returns
    -------
    by_year : DataFrame
        One row per LEA, category, school year and group: ``outcome``, ``base``,
        ``risk``, ``ratio`` (risk ratio or alternate risk ratio, NaN when not
        calculated), ``method``, ``reason`` and ``above_threshold``.
    decided : DataFrame
        One row per LEA, category and group, for the latest year of the LEA:
        ``determination_year``, ``ratio``, ``above_threshold``,
        ``consecutive_years_above``, ``reasonable_progress``,
        ``significant_disproportionality`` and ``reason``.
    """
    settings = settings or StateSettings()
    state = counts.groupby(["category", "school_year", "group"])[["outcome", "base"]].sum()
    years = []
    for (category, year, lea), table in counts.groupby(["category", "school_year", "lea"], sort=True):
        rows = risk_ratios(table[["group", "outcome", "base"]], state.loc[(category, year)].reset_index(),
                           min_cell=settings.min_cell, min_n=settings.min_n,
                           threshold=settings.risk_ratio_threshold)  # one small table per LEA, category, year
        years.append(rows.reset_index()[_RISK_COLUMNS].assign(lea=lea, category=category, school_year=year))
    by_year = pd.concat(years, ignore_index=True)
    decided = []
    for (lea, category), table in by_year.groupby(["lea", "category"], sort=True):
        rule = multi_year(table[["group", "school_year", "risk_ratio", "flagged"]], years=settings.years,
                          reasonable_progress=settings.reasonable_progress)
        decided.append(rule.reset_index().assign(lea=lea, category=category))
    renames = {"risk_ratio": "ratio", "flagged": "above_threshold", "consecutive_years_flagged": "consecutive_years_above"}
    by_year = by_year.rename(columns=renames)[["lea", "category", "school_year", "group", "outcome", "base", "risk",
                                               "ratio", "method", "reason", "above_threshold"]]
    decided = pd.concat(decided, ignore_index=True).rename(columns=renames)
    return by_year, decided[["lea", "category", "group", "determination_year", "ratio", "above_threshold",
                             "consecutive_years_above", "reasonable_progress", "significant_disproportionality",
                             "reason"]]


def lea_summary(decided: pd.DataFrame, students: pd.Series) -> pd.DataFrame:
    """One row per LEA: students, whether it is significantly disproportionate and in what.

    ``students`` counts the students of each LEA (indexed by LEA id).
    """
    found = decided[decided["significant_disproportionality"]]
    where = (found["category"].str.replace("_", " ") + " (" + found["group"].astype(str) + ")") \
        .groupby(found["lea"]).agg("; ".join)
    out = pd.DataFrame({"lea": students.index, "n": students.to_numpy()})
    out["significantly_disproportionate"] = out["lea"].isin(found["lea"]).map({True: "Yes", False: "No"})
    out["categories_and_groups"] = out["lea"].map(where.to_dict()).astype(object).where(out["lea"].isin(list(where.index)), "")
    return out


# --------------------------------------------------------------------------- roll-up


def rollup(facts: pd.DataFrame) -> pd.DataFrame:
    """State, LEA and school rows of students and the main rates, for the latest school year.

    ``facts`` are the student-year rows of every LEA (with ``lea`` and
    ``school``). Each student counts once a year, in the school attended last,
    so schools add up to their LEA and LEAs to the state.

    Returns
    -------
    DataFrame
        Columns ``level`` (state, lea, school), ``lea``, ``school``, ``measure``,
        ``statistic`` ("rate"), ``n`` (students), ``events`` (students with the
        outcome) and ``estimate`` (their share); one row per unit and measure.
    """
    latest = facts[facts["school_year"] == facts["school_year"].max()]
    if "disability" in latest:
        known = latest["disability"].notna() & (latest["disability"].astype(str) != UNKNOWN)
        latest = latest.assign(identified=(latest["disability"].astype(str) == "Yes").astype(float).where(known))
    measures = [m for m in ROLLUP_MEASURES if m in latest]
    long = latest.melt(id_vars=["lea", "school"], value_vars=measures, var_name="column", value_name="value")
    long = long.dropna(subset=["value"])
    levels = {"state": [], "lea": ["lea"], "school": ["lea", "school"]}
    parts = []
    for level, keys in levels.items():  # three levels
        table = long.groupby([*keys, "column"], observed=True)["value"].agg(["count", "sum"]).reset_index()
        parts.append(table.assign(level=level))
    out = pd.concat(parts, ignore_index=True).rename(columns={"count": "n", "sum": "events"})
    out["measure"] = out.pop("column").map(ROLLUP_MEASURES)
    out[["lea", "school"]] = out[["lea", "school"]].fillna("")
    out["statistic"] = "rate"
    out["estimate"] = out["events"] / out["n"]
    out[["n", "events"]] = out[["n", "events"]].round().astype("int64")
    return out[["level", "lea", "school", "measure", "statistic", "n", "events", "estimate"]]


def student_counts(facts: pd.DataFrame) -> pd.Series:
    """Students of each LEA in the latest school year (one count per student)."""
    latest = facts[facts["school_year"] == facts["school_year"].max()]
    return latest.groupby("lea")["student_id"].nunique()


def facts_for(district, lea: str, config: Config | None = None) -> pd.DataFrame:
    """The LEA's student-year facts (:func:`~equity_audit.questions.patterns.student_year_facts`) with its id."""
    from equity_audit.questions.patterns import student_year_facts

    return student_year_facts(district, config).assign(lea=lea)
