"""Load a district folder and check it against the data contract.

:func:`load_district` finds and reads the table files (:mod:`equity_audit.data.read`),
types each column by its contract kind (:mod:`equity_audit.data.coerce`), and checks
everything a district analyst could get wrong: missing files and columns, empty
files, the wrong separator or encoding, values that are not dates, numbers, grade
levels or accepted categories, missing required values, duplicate keys, ids that
do not join, and impossible values. Problems (:mod:`equity_audit.data.problems`) are
collected across all tables first, then reported together as a
:class:`~equity_audit.exceptions.DataValidationError`, each naming the file,
column, rows and values to fix. Only ``students`` and ``enrollments`` are required.

Decisions on ambiguous input
----------------------------
* Rows that repeat an earlier row in every column of the file are left out and
  counted (reason :data:`EXACT_DUPLICATE`), never an error. Rows that share a key
  but differ elsewhere are an error; with ``invalid_rows="exclude"`` all rows of
  that key are left out, since there is no telling which one is right.
* A referenced table that was not provided is skipped (noted), except where the
  table is useless without it (:data:`NEEDS_TABLE`: rosters need sections).
* Optional contract columns a file does not have are not added; a note lists
  them. Extra columns are dropped and noted, except ``group_<name>`` columns of
  ``students`` (district subgroups; a blank becomes ``"Unknown"``).
* Blank lines are skipped (noted) and do not count as rows read.
* In "exclude" mode a row is counted once, under the first problem found for it;
  ``District.problems`` lists the row-level problems whose rows were left out.

How values are read is decided in :mod:`equity_audit.data.read` (row numbers, blank
cells) and :mod:`equity_audit.data.coerce` (dates, grade levels, school years).

Examples
--------
>>> from equity_audit.data.load import load_district
>>> district = load_district("data/synthetic")  # doctest: +SKIP
>>> district.ledger[["table", "rows_read", "rows_used", "rows_excluded"]]  # doctest: +SKIP
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from equity_audit.data.coerce import PLAUSIBLE_YEARS, coerce_column
from equity_audit.data.contract import TABLES, UNKNOWN, Column, load_order
from equity_audit.data.dictionary import display_name
from equity_audit.exceptions import ConfigError, DataValidationError
from equity_audit.data.problems import (
    EXACT_DUPLICATE, EXPECTED_DATA, EXPECTED_SCHOOL_YEAR, KIND_DUPLICATE_COLUMN, KIND_DUPLICATE_KEY,
    KIND_CONTROL_CHARACTER, KIND_EMPTY, KIND_FUTURE, KIND_MISSING_COLUMN, KIND_MISSING_REFERENCED,
    KIND_MISSING_VALUE,
    KIND_ORDER, KIND_OUT_OF_RANGE, KIND_UNKNOWN_REFERENCE, KIND_VALUE_COUNT, REFERS_TO,
    WRONG_VALUE_COUNT, Problem, plural, problem,
)
from equity_audit.data.read import STRING, RawTable, UnusableFile, file_label, find_files, read_table

# Not used here, but importable from here: tests and callers compare a Problem's
# kind and expected text against load.KIND_* and load.EXPECTED_*.
from equity_audit.data.problems import (  # noqa: F401  (re-exports)
    EXPECTED_COMMAS, EXPECTED_GRADE, EXPECTED_GRADE_LEVEL, EXPECTED_ONE_FILE, KIND_DELIMITER,
    KIND_ENCODING, KIND_MISSING_TABLE, KIND_NO_FOLDER, KIND_NOT_DATE,
)
from equity_audit.data.read import FORMATS  # noqa: F401  (re-export)

__all__ = [
    "District",
    "Problem",
    "load_district",
    "FORMATS",
    "NEEDS_TABLE",
    "SCORE_COLUMNS",
    "EXACT_DUPLICATE",
    "WRONG_VALUE_COUNT",
    "REFERS_TO",
]

#: Tables that mean nothing without another table (a table-level problem if it is absent).
NEEDS_TABLE = {"rosters": ("sections",)}
#: Columns checked against ``score_scale`` rather than fixed bounds.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
SCORE_COLUMNS = frozenset({("evidence", "score"), ("calibration", "score")})


@dataclass
class District:
    """A validated district: its tables plus an account of every row read.

    Attributes
    ----------
    folder : Path
        The folder the files were read from.
    tables : dict of str to DataFrame
        The tables provided, typed per the contract, bad rows left out.
    ledger : DataFrame
        One row per contract table: table, file, provided, rows_read, rows_used,
        rows_excluded (rows_read == rows_used + rows_excluded).
    exclusions : DataFrame
        Rows left out, counted by table and reason.
    notes : list of str
        Values filled in, columns and files ignored, checks skipped.
    problems : list of Problem
        Row-level problems whose rows were left out (``invalid_rows="exclude"``).

    Examples
    --------
    >>> district = load_district("data/synthetic")  # doctest: +SKIP
    >>> "students" in district, district["students"].shape  # doctest: +SKIP
    """

    folder: Path
    tables: dict[str, pd.DataFrame]
    ledger: pd.DataFrame
    exclusions: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise KeyError(f"The district has no '{name}' table: no {name} file was provided.")
        return self.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    @property
    def missing_tables(self) -> list[str]:
        """Contract tables the district did not provide, in contract order."""
        return [name for name in TABLES if name not in self.tables]

    def missing_table_notes(self) -> pd.DataFrame:
        """What each missing table would have shown, and where it lives in Ed-Fi.

        Examples
        --------
        >>> district.missing_table_notes().columns.tolist()  # doctest: +SKIP
        ['table', 'what_it_would_show', 'edfi']
        """
        rows = [(n, TABLES[n].shows, TABLES[n].edfi) for n in self.missing_tables]
        return pd.DataFrame(rows, columns=["table", "what_it_would_show", "edfi"])


# --------------------------------------------------------------------------- entry point


def load_district(path, *, invalid_rows: str = "error", score_scale=(1, 4),
                  today: date | str | None = None, max_file_mb: float = 1024) -> District:
    """Read and validate a district folder.

    Parameters
    ----------
    path : str or Path
        Folder holding one ``<table>.csv``, ``.parquet`` or ``.xlsx`` per table.
    invalid_rows : {"error", "exclude"}
        "error" raises on any problem. "exclude" leaves out rows with row-level
        problems (and rows that then no longer join), counting each in the
        ledger; problems with whole files or columns still raise.
    score_scale : (low, high)
        Range of rubric scores accepted in ``evidence.score`` and ``calibration.score``.
    today : date or str, optional
        Reference date for "not in the future" checks; defaults to today.
    max_file_mb : float
        Largest file read, in MB (a workbook: once unzipped); a larger one is reported, not read.

    Returns
    -------
    District

    Raises
    ------
    DataValidationError
        Listing every problem found, each naming file, column, rows and values.

    Examples
    --------
    >>> district = load_district("data/synthetic", invalid_rows="exclude")  # doctest: +SKIP
    >>> district.exclusions  # doctest: +SKIP
    """
    if invalid_rows not in ("error", "exclude"):
        raise ConfigError(f"invalid_rows is {invalid_rows!r}; expected 'error' or 'exclude'.")
    low, high = (float(v) for v in score_scale)
    if not low < high:
        raise ConfigError(f"score_scale is {tuple(score_scale)}; expected (lowest, highest) score.")
    folder = Path(path)
    ctx = _Context(folder, invalid_rows == "exclude", (low, high),
                   pd.Timestamp(today or date.today()).normalize(), max_file_mb * 2**20)
    found = find_files(folder)
    ctx.problems += found.problems
    ctx.notes += found.notes
    works = {name: _load_table(name, found.files[name], ctx)
             for name in load_order() if found.files.get(name) is not None}
    _check_references(works, found.files, ctx)
    _raise_if_needed(ctx)
    return _district(works, ctx)


# --------------------------------------------------------------------------- internals


@dataclass
class _Context:
    folder: Path
    exclude: bool
    score_scale: tuple[float, float]
    today: pd.Timestamp
    max_bytes: float
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Work:
    """One table being validated: coerced frame, raw text and why rows are left out."""

    name: str
    file: str
    row_word: str
    raw: pd.DataFrame
    rows: np.ndarray
    frame: pd.DataFrame
    reason: np.ndarray  # 0 = kept, else 1 + index into reasons
    reasons: list[str] = field(default_factory=list)
    pre_excluded: Counter = field(default_factory=Counter)  # rows never in the frame

    def exclude(self, mask: np.ndarray, reason: str) -> None:
        """Give rows not yet left out this reason (a row keeps its first reason)."""
        fresh = np.asarray(mask, dtype=bool) & (self.reason == 0)
        if fresh.any():
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.reason[fresh] = self.reasons.index(reason) + 1

    @property
    def kept(self) -> np.ndarray:
        return self.reason == 0


def _raise_if_needed(ctx: _Context) -> None:
    fatal = [p for p in ctx.problems if not (ctx.exclude and p.row_level)]
    if fatal:  # in exclude mode only problems that leaving rows out cannot fix
        order = {name: i for i, name in enumerate(TABLES)}
        raise DataValidationError(sorted(fatal, key=lambda p: order.get(p.table, -1)), ctx.folder)


def _is_group(table: str, column: str) -> bool:
    prefix = TABLES[table].extra_prefix
    return bool(prefix) and column.startswith(prefix) and len(column) > len(prefix)


def _row_problem(work: _Work, ctx: _Context, column: str, mask, kind: str, issue: tuple[str, str],
                 expected: str, reason: str, values: pd.Series | None = None) -> None:
    """Report rows where ``mask`` holds, showing their raw text, and mark them left out."""
    mask = np.asarray(mask, dtype=bool)
    if ctx.exclude:  # a row already left out is reported once, under its first reason
        mask = mask & work.kept
    if not mask.any():
        return
    shown: tuple[str, ...] = ()
    if values is not None:
        picked = values[mask]
        shown = tuple(str(v) for v in pd.unique(picked[picked.notna()].astype(str)))
    n = len(shown) if shown else int(mask.sum())
    ctx.problems.append(problem(
        work.name, work.file, kind, issue[0] if n == 1 else issue[1], expected, column=column,
        rows=tuple(work.rows[mask].tolist()), values=shown, row_level=True,
        row_word=work.row_word, reason=reason))
    work.exclude(mask, reason)


# --------------------------------------------------------------------------- one table


def _load_table(name: str, path: Path, ctx: _Context) -> _Work | None:
    try:
        raw = read_table(path, name, ctx.max_bytes)
    except UnusableFile as error:
        ctx.problems.append(error.problem)
        return None
    ctx.notes.extend(raw.notes)
    if not _check_header(name, path, raw, ctx):
        return None
    if len(raw.frame) == 0 and not raw.bad_rows:
        ctx.problems.append(problem(name, file_label(name, path), KIND_EMPTY,
                                    "the file has a header but no rows of data", EXPECTED_DATA))
        return None
    if raw.blank_rows:
        ctx.notes.append(f"{file_label(name, path)}: {raw.blank_rows} blank "
                         f"{plural(raw.blank_rows, 'row was', 'rows were')} skipped.")
    work = _start_work(name, path, raw, ctx)
    _coerce_columns(work, ctx)
    _check_values(work, ctx)
    _check_keys(work, ctx)
    return work


def _check_header(name: str, path: Path, raw: RawTable, ctx: _Context) -> bool:
    """Duplicate and missing contract columns; notes on extra and absent optional ones."""
    table = TABLES[name]
    wanted = set(table.column_names)
    counts = Counter(raw.names)
    ok = True
    for column, n in counts.items():
        if n > 1 and (column in wanted or _is_group(name, column)):
            places = [str(i + 1) for i, c in enumerate(raw.names) if c == column]
            ctx.problems.append(problem(
                name, file_label(name, path), KIND_DUPLICATE_COLUMN,
                f"appears {n} times in the header (columns {', '.join(places)})",
                "each column once", column=column))
            ok = False
    for column in table.required_columns:
        if column not in counts:
            ctx.problems.append(problem(
                name, file_label(name, path), KIND_MISSING_COLUMN, "required column is missing from the header",
                "the columns " + ", ".join(table.required_columns), column=column))
            ok = False
    _note_extra_columns(name, path, counts, ctx)
    if ok:
        _note_absent_columns(name, path, counts, ctx)
    return ok


def _note_extra_columns(name: str, path: Path, counts: Counter, ctx: _Context) -> None:
    extra = [c for c in counts if c and c not in TABLES[name].column_names and not _is_group(name, c)]
    if extra:
        ctx.notes.append(f"{file_label(name, path)}: {plural(len(extra), 'column', 'columns')} "
                         f"{', '.join(repr(c) for c in extra)} "
                         f"{plural(len(extra), 'is', 'are')} not in the data contract and "
                         f"{plural(len(extra), 'was', 'were')} ignored.")


def _note_absent_columns(name: str, path: Path, counts: Counter, ctx: _Context) -> None:
    table = TABLES[name]
    absent = [c for c in table.column_names if c not in counts and c not in table.required_columns]
    if absent:
        ctx.notes.append(f"{file_label(name, path)}: optional {plural(len(absent), 'column', 'columns')} "
                         f"{', '.join(repr(c) for c in absent)} not provided.")


def _start_work(name: str, path: Path, raw: RawTable, ctx: _Context) -> _Work:
    """Drop exact duplicate rows, keep contract and group columns, note the rest."""
    frame = raw.frame
    duplicate = frame.duplicated(keep="first").to_numpy() if len(frame) else np.zeros(0, bool)
    keep = [i for i, c in enumerate(raw.names) if c in TABLES[name].column_names or _is_group(name, c)]
    text = frame.loc[~duplicate, keep].reset_index(drop=True)
    text.columns = [raw.names[i] for i in keep]
    work = _Work(name, file_label(name, path), raw.row_word, text, raw.rows[~duplicate],
                 pd.DataFrame(index=text.index), np.zeros(len(text), dtype=np.int16))
    n = int(duplicate.sum())
    if n:
        work.pre_excluded[EXACT_DUPLICATE] = n
        ctx.notes.append(f"{file_label(name, path)}: {n} {plural(n, 'row was an exact duplicate', 'rows were exact duplicates')}"
                         " of an earlier row and left out.")
    if raw.bad_rows:
        _report_bad_rows(work, raw, ctx)
    return work


def _report_bad_rows(work: _Work, raw: RawTable, ctx: _Context) -> None:
    """Rows with more or fewer values than the header: never parsed, so never in the frame."""
    ncols = len(raw.names)
    ctx.problems.append(problem(
        work.name, work.file, KIND_VALUE_COUNT,
        plural(len(raw.bad_rows), "does not have one value per column",
               "do not have one value per column"),
        f"{ncols} values separated by commas, as in the header (put quotes around a value "
        "that contains a comma)",
        rows=tuple(r for r, _ in raw.bad_rows), values=tuple(t for _, t in raw.bad_rows),
        row_level=True, reason=WRONG_VALUE_COUNT))
    work.pre_excluded[WRONG_VALUE_COUNT] += len(raw.bad_rows)


def _coerce_columns(work: _Work, ctx: _Context) -> None:
    """Type every column, reporting invalid values and missing required ones."""
    table = TABLES[work.name]
    for column in work.raw.columns:
        raw = work.raw[column]
        blank = raw.isna().to_numpy()
        if _is_group(work.name, column):
            work.frame[column] = _fill(raw.astype(STRING), blank, UNKNOWN, work, column, ctx)
            continue
        spec = table.column(column)
        values, fails = coerce_column(raw, spec)
        for fail in fails:
            _row_problem(work, ctx, column, fail.mask, fail.kind, fail.issue, fail.expected,
                         fail.reason, raw)
        if spec.missing is not None:
            values = _fill(values, blank, spec.missing, work, column, ctx)
        work.frame[column] = values
        if spec.required:
            _row_problem(work, ctx, column, blank, KIND_MISSING_VALUE,
                         ("the value is missing", "the values are missing"),
                         f"a value in every row ({column} is required)", f"{column} is missing")


def _fill(values: pd.Series, blank: np.ndarray, filler: str, work: _Work, column: str,
          ctx: _Context) -> pd.Series:
    """Blank cells (not invalid ones, which are reported) become ``filler``; counted in a note."""
    n = int(blank.sum())
    if n:
        # the column by its display name: the note is read in the report, not by a program
        ctx.notes.append(f"{work.file}: {n} blank {display_name(column).lower()} "
                         f"{plural(n, 'value was', 'values were')} recorded as '{filler}'.")
        values = values.mask(blank, filler)
    return values


# --------------------------------------------------------------------------- value checks


def _check_values(work: _Work, ctx: _Context) -> None:
    for column in work.frame.columns:
        if _is_group(work.name, column):
            continue
        spec = TABLES[work.name].column(column)
        _check_bounds(work, spec, ctx)
        if spec.not_in_future:
            _check_not_in_future(work, column, ctx)
        if spec.kind == "school_year":
            _check_school_year(work, column, ctx)
        _check_control_characters(work, column, ctx)
    _check_order(work, ctx)
    _check_ceilings(work, ctx)


def _check_bounds(work: _Work, spec: Column, ctx: _Context) -> None:
    if (work.name, spec.name) in SCORE_COLUMNS:
        low, high = ctx.score_scale
        expected = (f"a score from {_num(low)} to {_num(high)} "
                    "(the score_scale setting, if your rubric uses another scale)")
    elif spec.low is not None or spec.high is not None:
        low, high = spec.low, spec.high
        expected = f"a value from {_num(low)} to {_num(high)}"
    else:
        return
    values = work.frame[spec.name].astype("Float64")
    outside = ((values < low) | (values > high)).fillna(False).to_numpy()
    _row_problem(work, ctx, spec.name, outside, KIND_OUT_OF_RANGE,
                 (f"is outside {_num(low)} to {_num(high)}", f"are outside {_num(low)} to {_num(high)}"),
                 expected, f"{spec.name} is out of range", work.raw[spec.name])


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _check_not_in_future(work: _Work, column: str, ctx: _Context) -> None:
    late = (work.frame[column] > ctx.today).fillna(False).to_numpy()
    _row_problem(work, ctx, column, late, KIND_FUTURE, ("is in the future", "are in the future"),
                 f"a date on or before today ({ctx.today:%Y-%m-%d})",
                 f"{column} is in the future", work.raw[column])


def _check_school_year(work: _Work, column: str, ctx: _Context) -> None:
    """School years written with two digits, or more than a year ahead."""
    last = ctx.today.year + 1
    early = (work.frame[column] < PLAUSIBLE_YEARS[0]).fillna(False).to_numpy()
    _row_problem(work, ctx, column, early, KIND_OUT_OF_RANGE,
                 ("is not a plausible school year", "are not plausible school years"),
                 f"{EXPECTED_SCHOOL_YEAR}, written with four digits",
                 f"{column} is not a plausible school year", work.raw[column])
    late = (work.frame[column] > last).fillna(False).to_numpy()
    _row_problem(work, ctx, column, late, KIND_FUTURE,
                 ("is more than a year ahead", "are more than a year ahead"),
                 f"{EXPECTED_SCHOOL_YEAR}, no later than {last}",
                 f"{column} is in the future", work.raw[column])


def _check_order(work: _Work, ctx: _Context) -> None:
    for start, end in TABLES[work.name].order_rules:
        if start in work.frame and end in work.frame:
            before = (work.frame[end] < work.frame[start]).fillna(False).to_numpy()
            _row_problem(work, ctx, end, before, KIND_ORDER,
                         (f"is before the {start} on the same row",
                          f"are before the {start} on the same rows"),
                         f"{end} on or after {start}", f"{end} is before {start}", work.raw[end])


def _check_control_characters(work: _Work, column: str, ctx: _Context) -> None:
    """A NUL or other control character in a value is an export fault, and can corrupt what the report shows."""
    raw = work.raw[column]
    if not pd.api.types.is_string_dtype(raw):
        return
    bad = raw.str.contains(_CONTROL, regex=True, na=False).to_numpy()
    _row_problem(work, ctx, column, bad, KIND_CONTROL_CHARACTER,
                 ("holds a control character", "hold control characters"),
                 "printable text (no NUL or other control characters)",
                 f"{column} holds a control character", raw.str.replace(_CONTROL, "\ufffd", regex=True))


def _check_ceilings(work: _Work, ctx: _Context) -> None:
    for part, whole in TABLES[work.name].ceiling_rules:
        if part in work.frame and whole in work.frame:
            above = (work.frame[part] > work.frame[whole]).fillna(False).to_numpy()
            _row_problem(work, ctx, part, above, KIND_OUT_OF_RANGE,
                         (f"is larger than the {whole} on the same row",
                          f"are larger than the {whole} on the same rows"),
                         f"{part} no larger than {whole}", f"{part} is larger than {whole}",
                         work.raw[part])


def _check_keys(work: _Work, ctx: _Context) -> None:
    table = TABLES[work.name]
    # an optional key column the file does not have is left out of the key (a blank domain)
    key = [k for k in table.key if k in work.frame or table.column(k).required]
    if not key or any(k not in work.frame for k in key):
        return
    required = [k for k in key if table.column(k).required]
    candidate = work.frame[required].notna().all(axis=1).to_numpy()
    if ctx.exclude:  # a row already left out cannot make a good row a duplicate
        candidate = candidate & work.kept
    duplicate = np.zeros(len(work.frame), dtype=bool)
    duplicate[candidate] = work.frame.loc[candidate, key].duplicated(keep=False).to_numpy()
    shown = work.raw[key[0]].astype(STRING).fillna("(blank)")
    for k in key[1:]:
        shown = shown + " / " + work.raw[k].astype(STRING).fillna("(blank)")
    _row_problem(work, ctx, ", ".join(key), duplicate, KIND_DUPLICATE_KEY,
                 ("appears on more than one row", "appear on more than one row"),
                 f"one row per {' + '.join(key)}", f"duplicate {' + '.join(key)}", shown)


# --------------------------------------------------------------------------- references


def _check_references(works: dict[str, _Work | None], files: dict, ctx: _Context) -> None:
    """Ids must exist in the table they refer to, checked in load order so exclusions cascade."""
    for name in load_order():
        work = works.get(name)
        if work is None:
            continue
        for target in NEEDS_TABLE.get(name, ()):
            if target not in files:
                ctx.problems.append(problem(
                    name, work.file, KIND_MISSING_REFERENCED,
                    f"there is no {target} file, so these rows cannot be linked to {target}",
                    f"a {target}.csv, {target}.parquet or {target}.xlsx file alongside {work.file}"))
        for spec in TABLES[name].columns:
            if spec.references and spec.name in work.frame:
                _check_reference(work, spec, works, files, ctx)


def _isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Where ``values`` is missing or among ``known``, computed in Arrow (fast on millions of ids)."""
    value_set = pa.array(known.dropna().astype(STRING).unique())
    found = pc.is_in(pa.array(values.astype(STRING)), value_set=value_set)
    return (found.to_numpy(zero_copy_only=False) | values.isna().to_numpy()).astype(bool)


def _check_reference(work: _Work, spec: Column, works: dict, files: dict, ctx: _Context) -> None:
    target, target_column = spec.references.split(".")
    if target == work.name:
        return
    if target not in files:
        if target not in NEEDS_TABLE.get(work.name, ()):
            ctx.notes.append(f"{work.file}: {spec.name} was not checked because no {target} "
                             "file was provided.")
        return
    other = works.get(target)
    if other is None or target_column not in other.frame:
        return  # that file has its own problem already
    known = other.frame[target_column]
    if ctx.exclude:
        known = known[other.kept]
    unknown = ~_isin(work.frame[spec.name], known)
    issue = ((f"is unknown or was left out of {other.file}", f"are unknown or were left out of {other.file}")
             if ctx.exclude else (f"is not in {other.file}", f"are not in {other.file}"))
    _row_problem(work, ctx, spec.name, unknown, KIND_UNKNOWN_REFERENCE, issue,
                 f"a {target_column} that appears in {other.file}",
                 REFERS_TO.format(column=target_column), work.raw[spec.name])


# --------------------------------------------------------------------------- result


def _district(works: dict[str, _Work | None], ctx: _Context) -> District:
    tables, ledger, exclusions = {}, [], []
    for name in TABLES:
        work = works.get(name)
        if work is None:
            ledger.append((name, None, False, 0, 0, 0))
            continue
        counts = Counter(work.pre_excluded)
        tally = np.bincount(work.reason, minlength=len(work.reasons) + 1)
        for i, reason in enumerate(work.reasons, start=1):
            counts[reason] += int(tally[i])
        used = int(tally[0])
        excluded = sum(counts.values())
        ledger.append((name, work.file, True, used + excluded, used, excluded))
        exclusions += [(name, reason, n) for reason, n in counts.items() if n]
        tables[name] = work.frame[work.kept].reset_index(drop=True)
    ledger_frame = pd.DataFrame(ledger, columns=["table", "file", "provided", "rows_read",
                                                 "rows_used", "rows_excluded"])
    ledger_frame["file"] = ledger_frame["file"].astype(STRING)
    exclusion_frame = pd.DataFrame(exclusions, columns=["table", "reason", "rows"])
    exclusion_frame["rows"] = exclusion_frame["rows"].astype("int64")
    return District(ctx.folder, tables, ledger_frame, exclusion_frame, ctx.notes,
                    [p for p in ctx.problems if p.row_level])
