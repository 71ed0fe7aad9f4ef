"""Load a district folder and check it against the data contract.

A district folder holds one file per table of :data:`equity_audit.contract.TABLES`,
named after the table: ``students.csv``, ``enrollments.parquet``, ``schools.xlsx``
(first sheet) and so on. Only ``students`` and ``enrollments`` are required.

:func:`load_district` reads every file as text, turns each column into the type
its contract kind asks for, and checks everything a district analyst could get
wrong: missing files and columns, empty files, the wrong separator or encoding,
values that are not dates, numbers, grade levels or accepted categories, missing
required values, duplicate keys, ids that do not join, and impossible values.
Problems are collected across all tables first, then reported together as a
:class:`~equity_audit.exceptions.DataValidationError`, each naming the file,
column, rows and values to fix.

Row numbers are the ones the analyst sees: for CSV and Excel the line or sheet
row with the header as row 1 (so the first data row is 2); for Parquet the
1-based record number.

Decisions on ambiguous input
----------------------------
* Only a blank cell (after trimming spaces) is missing; ``NA``, ``NULL`` and
  ``N/A`` are values like any other, so they are reported rather than guessed.
* Grade levels: ``PK``, ``Pre-K``, ``PreK``, ``P``, ``PS``, ``Preschool``, ``-1`` and
  ``TK`` (transitional kindergarten, the year before kindergarten) are -1; ``K``,
  ``KG``, ``KN`` and ``Kindergarten`` are 0; ``1``-``12``, ``01``-``12``,
  ``Grade 3``, ``3rd`` and Ed-Fi descriptors such as ``Ninth grade`` are 1-12.
* School years may also be written ``2024-25`` or ``2024-2025``; both mean 2025.
* Dates: ``2024-09-03`` (or ``2024/09/03``), or ``09/03/2024`` read as
  month/day/year; a time of day after the date is ignored. Dates before 1900 or
  after 2100 are reported as implausible.
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

Examples
--------
>>> from equity_audit.load import load_district
>>> district = load_district("data/synthetic")  # doctest: +SKIP
>>> district.ledger[["table", "rows_read", "rows_used", "rows_excluded"]]  # doctest: +SKIP
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .contract import ALIASES, TABLES, UNKNOWN, Column, load_order
from .exceptions import ConfigError, DataValidationError

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

# --------------------------------------------------------------------------- constants

#: File types read, in the order they are listed to the user.
FORMATS = (".csv", ".parquet", ".xlsx")
#: Tables that mean nothing without another table (a table-level problem if it is absent).
NEEDS_TABLE = {"rosters": ("sections",)}
#: Columns checked against ``score_scale`` rather than fixed bounds.
SCORE_COLUMNS = frozenset({("evidence", "score"), ("calibration", "score")})
#: Values and rows shown in a message before "and N more".
SHOW = 5
STRING = pd.StringDtype("pyarrow")
DATETIME = "datetime64[ns]"
PLAUSIBLE_YEARS = (1900, 2100)

# Exclusion reasons (the ``reason`` column of ``District.exclusions``).
EXACT_DUPLICATE = "exact duplicate of an earlier row"
WRONG_VALUE_COUNT = "wrong number of values on the row"
REFERS_TO = "refers to an excluded or unknown {column}"

# What was expected, as printed after "expected".
EXPECTED_DATE = "a date like 2024-09-03"
EXPECTED_NUMBER = "a number like 3 or 2.5"
EXPECTED_WHOLE = "a whole number like 3"
EXPECTED_FLAG = "Y, N, Yes, No, True, False, 1 or 0"
EXPECTED_GRADE_LEVEL = "PK, K or a grade from 1 to 12 (Pre-K, TK, KG and 01-12 are also accepted)"
EXPECTED_GRADE = ("a letter grade A-F with + or - (like B+), grade points from 0 to 4.3 "
                  "or a percent from 0 to 100")
EXPECTED_SCHOOL_YEAR = "the year in which the school year ends, like 2025 for 2024-25"
EXPECTED_ONE_FILE = "one file per table; remove or rename all but one"
EXPECTED_FORMATS = "a .csv, .parquet or .xlsx file"
EXPECTED_UTF8 = ('UTF-8 text: in Excel choose File > Save As > "CSV UTF-8 (Comma delimited)", '
                 "or pick UTF-8 encoding when exporting")
EXPECTED_COMMAS = ('commas between columns: in Excel choose File > Save As > "CSV UTF-8 (Comma '
                   'delimited)", or pick comma as the separator when exporting')
EXPECTED_DATA = "a header row followed by at least one row of data"

# Problem kinds (``Problem.kind``).
KIND_NO_FOLDER = "no_folder"
KIND_MISSING_TABLE = "missing_table"
KIND_TWO_FILES = "two_files"
KIND_UNSUPPORTED = "unsupported_file"
KIND_UNREADABLE = "unreadable_file"
KIND_EMPTY = "empty_file"
KIND_DELIMITER = "wrong_delimiter"
KIND_ENCODING = "wrong_encoding"
KIND_MISSING_COLUMN = "missing_column"
KIND_DUPLICATE_COLUMN = "duplicate_column"
KIND_MISSING_REFERENCED = "missing_referenced_table"
KIND_VALUE_COUNT = "wrong_value_count"
KIND_NOT_DATE = "not_a_date"
KIND_NOT_NUMBER = "not_a_number"
KIND_NOT_WHOLE = "not_a_whole_number"
KIND_UNKNOWN_VALUE = "unknown_value"
KIND_MISSING_VALUE = "missing_value"
KIND_OUT_OF_RANGE = "out_of_range"
KIND_FUTURE = "in_the_future"
KIND_ORDER = "end_before_start"
KIND_DUPLICATE_KEY = "duplicate_key"
KIND_UNKNOWN_REFERENCE = "unknown_reference"

_SEPARATORS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_BOM = b"\xef\xbb\xbf"
_FLAGS = {"y": True, "yes": True, "true": True, "1": True,
          "n": False, "no": False, "false": False, "0": False}
_GRADE_WORDS = {
    "pk": -1, "pre-k": -1, "prek": -1, "pre k": -1, "p": -1, "ps": -1, "tk": -1, "-1": -1, "-1.0": -1,
    "preschool": -1, "prekindergarten": -1, "pre-kindergarten": -1,
    "preschool/prekindergarten": -1, "transitional kindergarten": -1,
    "k": 0, "kg": 0, "kn": 0, "kindergarten": 0,
    **{f"{word} grade": n for n, word in enumerate(
        ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
         "tenth", "eleventh", "twelfth"), start=1)},
}
_GRADE_NUMBER = re.compile(r"^(?:grade\s*)?0*(\d{1,2})(?:\.0+)?(?:st|nd|rd|th)?(?:\s*grade)?$")
_ISO_DATE = r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_US_DATE = r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$"
_SPAN_YEAR = r"^(\d{4})\s*[-/]\s*(\d{2}|\d{4})$"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Problem:
    """One thing to fix in the district's files, in words a district analyst can act on.

    Parameters
    ----------
    table : str
        Contract table the problem belongs to ("" for the folder itself).
    file : str or None
        File name as found in the folder, or None when the file is missing.
    column : str or None
        Column involved; several key columns are joined with ", ".
    rows : tuple of int
        Every row number involved, as the user sees it (see the module docstring).
    values : tuple of str
        Every distinct offending value, in order of first appearance.
    expected : str
        What would have been accepted.
    kind : str
        One of the ``KIND_*`` constants of this module.
    row_level : bool
        True when leaving the rows out fixes it (``invalid_rows="exclude"``).
    issue : str
        What is wrong, already in singular or plural form ("is not a date").
    row_word : str
        "row" (CSV, Excel), "record" (Parquet) or "line" (encoding problems).
    reason : str
        Short reason used in ``District.exclusions`` when the rows are left out.

    Examples
    --------
    >>> p = Problem("evidence", "evidence.csv", "assessed_on", (14, 27), ("2024-13-45", "soon"),
    ...             EXPECTED_DATE, KIND_NOT_DATE, True, "are not dates")
    >>> print(p)
    evidence.csv, column 'assessed_on', rows 14, 27: '2024-13-45', 'soon' are not dates; expected a date like 2024-09-03.
    """

    table: str
    file: str | None
    column: str | None
    rows: tuple[int, ...]
    values: tuple[str, ...]
    expected: str
    kind: str
    row_level: bool
    issue: str
    row_word: str = "row"
    reason: str = ""

    def __str__(self) -> str:
        where = [self.file or (f"{self.table} table" if self.table else "folder")]
        if self.column:
            names = self.column.split(", ")
            label = "column" if len(names) == 1 else "columns"
            where.append(f"{label} " + ", ".join(f"'{n}'" for n in names))
        if self.rows:
            word = self.row_word + ("s" if len(self.rows) > 1 else "")
            where.append(f"{word} {_shorten([str(r) for r in self.rows])}")
        what = self.issue
        if self.values:
            what = f"{_shorten([_quote(v) for v in self.values])} {self.issue}"
        return f"{', '.join(where)}: {what}; expected {self.expected}."


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
                  today: date | str | None = None) -> District:
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
                   pd.Timestamp(today or date.today()).normalize())
    files = _find_files(ctx)
    works = {}
    for name in load_order():
        if name in files and files[name] is not None:
            works[name] = _load_table(name, files[name], ctx)
    _check_references(works, files, ctx)
    _raise_if_needed(ctx)
    return _district(works, files, ctx)


# --------------------------------------------------------------------------- internals


@dataclass
class _Context:
    folder: Path
    exclude: bool
    score_scale: tuple[float, float]
    today: pd.Timestamp
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _FileError(Exception):
    """A file cannot be read at all; carries the Problem to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Raw:
    """A file as read: text (or typed Parquet) columns and the user's row numbers."""

    frame: pd.DataFrame  # columns are positions 0..n-1
    names: list[str]  # normalised headers, same order
    rows: np.ndarray
    row_word: str
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    blank_rows: int = 0
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
    reason: np.ndarray
    reasons: list[str] = field(default_factory=list)
    pre_excluded: Counter = field(default_factory=Counter)
    ok: bool = True

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


def _problem(table, file, kind, issue, expected, column=None, row_level=False, **kw) -> Problem:
    return Problem(table=table, file=file, column=column, rows=kw.pop("rows", ()),
                   values=kw.pop("values", ()), expected=expected, kind=kind,
                   row_level=row_level, issue=issue, **kw)


def _shorten(items: list[str]) -> str:
    """'a, b, c' or 'a, b, c, d, e and 37 more'."""
    if len(items) <= SHOW:
        return ", ".join(items)
    return f"{', '.join(items[:SHOW])} and {len(items) - SHOW:,} more"


def _quote(value: str) -> str:
    value = str(value)
    return f"'{value[:60]}...'" if len(value) > 60 else f"'{value}'"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _normalise_header(name) -> str:
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    return re.sub(r"\s+", "_", text.replace("\ufeff", "").strip().lower())


def _raise_if_needed(ctx: _Context) -> None:
    fatal = [p for p in ctx.problems if not (ctx.exclude and p.row_level)]
    if fatal:  # in exclude mode only problems that leaving rows out cannot fix
        order = {name: i for i, name in enumerate(TABLES)}
        raise DataValidationError(sorted(fatal, key=lambda p: order.get(p.table, -1)), ctx.folder)


# --------------------------------------------------------------------------- finding files


def _find_files(ctx: _Context) -> dict[str, Path | None]:
    """Map table name to its file; None when the table's files cannot be used."""
    if not ctx.folder.is_dir():
        ctx.problems.append(_problem("", str(ctx.folder), KIND_NO_FOLDER, "the folder does not exist",
                                     "a folder holding students and enrollments files"))
        _raise_if_needed(ctx)
    found: dict[str, list[Path]] = {}
    ignored = []
    for entry in sorted(ctx.folder.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue  # hidden files and Excel lock files
        stem = entry.stem.strip().lower() if entry.is_file() else ""
        if stem in TABLES:
            found.setdefault(stem, []).append(entry)
        else:
            ignored.append(entry.name + ("/" if entry.is_dir() else ""))
    if ignored:
        ctx.notes.append("Ignored files that are not tables of the data contract: "
                         + ", ".join(ignored) + ".")
    files: dict[str, Path | None] = {}
    for name, paths in found.items():
        files[name] = _pick_file(name, paths, ctx)
    for name, table in TABLES.items():
        if table.required and name not in found:
            ctx.problems.append(_problem(
                name, None, KIND_MISSING_TABLE, "no file was found in the folder",
                f"a file named {name}.csv, {name}.parquet or {name}.xlsx (this table is required)"))
    return files


def _pick_file(name: str, paths: list[Path], ctx: _Context) -> Path | None:
    usable = [p for p in paths if p.suffix.lower() in FORMATS]
    for p in paths:
        if p not in usable:
            ctx.problems.append(_problem(name, p.name, KIND_UNSUPPORTED,
                                         "is not a file type the audit reads", EXPECTED_FORMATS))
    if len(usable) > 1:
        names = " and ".join(p.name for p in usable)
        ctx.problems.append(_problem(name, None, KIND_TWO_FILES,
                                     f"found {len(usable)} files ({names})", EXPECTED_ONE_FILE))
        return None
    return usable[0] if usable else None


# --------------------------------------------------------------------------- reading files


def _read(path: Path, table: str) -> _Raw:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, table)
    if suffix == ".xlsx":
        return _read_xlsx(path, table)
    return _read_parquet(path, table)


def _read_csv(path: Path, table: str) -> _Raw:
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data or data.isspace():
        raise _FileError(_problem(table, path.name, KIND_EMPTY, "the file is empty", EXPECTED_DATA))
    header_text = _header_line(data, path, table)
    header = next(csv.reader([header_text]))
    _check_delimiter(header_text, header, path, table)
    names = [_normalise_header(h) for h in header]
    parsed, bad = _parse_csv(data, len(names), path, table, threads=True)
    if bad:  # row numbers of bad rows are only known from a single-threaded read
        parsed, bad = _parse_csv(data, len(names), path, table, threads=False)
    frame = _arrow_to_frame(parsed)
    blank_lines = [b for b in bad if not b[1].strip()]
    bad = [b for b in bad if b[1].strip()]
    rows = _csv_row_numbers(parsed, [b[0] for b in blank_lines + bad])
    return _drop_blank(_Raw(frame, names, rows, "row", bad_rows=bad, blank_rows=len(blank_lines)))


def _header_line(data: bytes, path: Path, table: str) -> str:
    end = data.find(b"\n")
    line = data[: end if end >= 0 else len(data)]
    try:
        return line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise _FileError(_encoding_problem(data, path, table)) from None


def _check_delimiter(text: str, header: list[str], path: Path, table: str) -> None:
    if len(header) > 1:
        return
    counts = {sep: text.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=counts.get)
    if counts[sep]:
        raise _FileError(_problem(
            table, path.name, KIND_DELIMITER,
            f"seems to use {_SEPARATORS[sep]} to separate columns",
            EXPECTED_COMMAS, rows=(1,), values=(text,), row_word="line"))


def _encoding_problem(data: bytes, path: Path, table: str) -> Problem:
    try:
        data.decode("utf-8")
        position = 0
    except UnicodeDecodeError as error:
        position = error.start
    line = data.count(b"\n", 0, position) + 1
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    snippet = data[start: end if end >= 0 else len(data)].decode("cp1252", "replace").strip()
    return _problem(table, path.name, KIND_ENCODING,
                    f"is not UTF-8 text (byte 0x{data[position]:02X}, perhaps Windows or Mac encoding)",
                    EXPECTED_UTF8, rows=(line,), values=(snippet,), row_word="line")


def _parse_csv(data: bytes, ncols: int, path: Path, table: str, threads: bool):
    bad: list[tuple[int, str]] = []

    def skip(row) -> str:
        bad.append((row.number if row.number is not None else -1, row.text))
        return "skip"

    names = [str(i) for i in range(ncols)]
    try:
        parsed = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=threads),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True,
                                             invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as error:
        if "utf8" in str(error).lower():
            raise _FileError(_encoding_problem(data, path, table)) from None
        raise _FileError(_problem(table, path.name, KIND_UNREADABLE,
                                  f"the file could not be read as CSV ({error})",
                                  "a comma-separated file with a header row")) from None
    return parsed, bad


def _csv_row_numbers(parsed: pa.Table, skipped: list[int]) -> np.ndarray:
    """Line number of each record: header is line 1; skipped rows and embedded newlines shift it."""
    n = parsed.num_rows
    if skipped:
        lines = np.setdiff1d(np.arange(2, n + len(skipped) + 2), np.asarray(skipped))[:n]
    else:
        lines = np.arange(2, n + 2)
    extra = np.zeros(n, dtype=np.int64)
    for column in parsed.columns:
        if pc.any(pc.match_substring(column, "\n")).as_py():
            extra += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
    if extra.any():  # a quoted value spanning lines pushes later rows down
        lines = lines + np.concatenate([[0], np.cumsum(extra)[:-1]])
    return lines.astype(np.int64)


def _arrow_to_frame(parsed: pa.Table) -> pd.DataFrame:
    """Trim every text column and turn blanks into missing, column by column in Arrow."""
    columns = {}
    for i, column in enumerate(parsed.columns):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.utf8_trim_whitespace(column)
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
            columns[i] = pd.Series(column.to_pandas(types_mapper={
                pa.string(): STRING, pa.large_string(): STRING}.get), dtype=STRING)
        elif pa.types.is_boolean(column.type):  # nullable, so a missing flag stays missing
            columns[i] = column.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        else:
            columns[i] = column.to_pandas(date_as_object=False)
    frame = pd.DataFrame(columns)
    frame.columns = range(len(columns))
    return frame


def _drop_blank(raw: _Raw) -> _Raw:
    blank = raw.frame.isna().all(axis=1).to_numpy() if raw.frame.shape[1] else np.zeros(0, bool)
    if blank.any():
        raw.frame = raw.frame[~blank].reset_index(drop=True)
        raw.rows = raw.rows[~blank]
        raw.blank_rows += int(blank.sum())
    return raw


def _read_xlsx(path: Path, table: str) -> _Raw:
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            sheets = book.sheet_names
            cells = pd.read_excel(book, sheet_name=0, header=None, dtype=object)
    except Exception as error:  # a corrupt or password-protected workbook
        raise _FileError(_problem(table, path.name, KIND_UNREADABLE,
                                  f"the workbook could not be read ({error})",
                                  "an Excel .xlsx workbook with the table on its first sheet")) from None
    used = cells.notna().any(axis=1).to_numpy()
    if not used.any():
        raise _FileError(_problem(table, path.name, KIND_EMPTY, "the first sheet is empty",
                                  EXPECTED_DATA))
    first = int(np.argmax(used))  # the header is the first row with anything in it
    names = [_normalise_header(v) for v in cells.iloc[first]]
    body = cells.iloc[first + 1:].reset_index(drop=True)
    text = {}
    for i in range(body.shape[1]):
        column = body.iloc[:, i]
        as_text = column.astype(str).where(column.notna(), None)  # dates print as ISO
        text[i] = as_text.astype(STRING).str.strip().replace("", pd.NA)
    frame = pd.DataFrame(text, index=body.index)
    rows = np.arange(first + 2, first + 2 + len(body), dtype=np.int64)
    raw = _drop_blank(_Raw(frame, names, rows, "row"))
    if len(sheets) > 1:
        raw.notes = [f"{path.name}: only the first sheet ('{sheets[0]}') was read; "
                     f"the workbook has {len(sheets)} sheets."]
    return raw


def _read_parquet(path: Path, table: str) -> _Raw:
    try:
        parsed = pq.read_table(path)
    except Exception as error:
        raise _FileError(_problem(table, path.name, KIND_UNREADABLE,
                                  f"the file could not be read as Parquet ({error})",
                                  "a Parquet file written by pandas, Arrow or Spark")) from None
    names = [_normalise_header(n) for n in parsed.column_names]
    contract = TABLES[table]
    columns = []
    for name, column in zip(names, parsed.columns):
        kind = contract.column(name).kind if name in contract.column_names else "text"
        columns.append(_parquet_column(column, kind))
    frame = _arrow_to_frame(pa.table(columns, names=[str(i) for i in range(len(columns))]))
    rows = np.arange(1, parsed.num_rows + 1, dtype=np.int64)
    return _drop_blank(_Raw(frame, names, rows, "record"))


def _parquet_column(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Keep types that already match the column's kind; read everything else as text."""
    kind_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_dictionary(column.type):
        column = column.cast(kind_type)
    numeric = pa.types.is_integer(kind_type) or pa.types.is_floating(kind_type)
    if kind == "date" and (pa.types.is_date(kind_type) or pa.types.is_timestamp(kind_type)):
        return column
    if kind in ("number", "integer", "school_year") and numeric:
        return column.cast(pa.float64())
    if kind == "flag" and pa.types.is_boolean(kind_type):
        return column
    if pa.types.is_string(kind_type) or pa.types.is_large_string(kind_type):
        return column
    return column.cast(pa.string())


# --------------------------------------------------------------------------- one table


def _load_table(name: str, path: Path, ctx: _Context) -> _Work | None:
    try:
        raw = _read(path, name)
    except _FileError as error:
        ctx.problems.append(error.problem)
        return None
    ctx.notes.extend(raw.notes)
    if not _check_header(name, path, raw, ctx):
        return None
    if len(raw.frame) == 0 and not raw.bad_rows:
        ctx.problems.append(_problem(name, path.name, KIND_EMPTY,
                                     "the file has a header but no rows of data", EXPECTED_DATA))
        return None
    if raw.blank_rows:
        ctx.notes.append(f"{path.name}: {raw.blank_rows} blank "
                         f"{_plural(raw.blank_rows, 'row was', 'rows were')} skipped.")
    work = _start_work(name, path, raw, ctx)
    _coerce_columns(work, ctx)
    _check_values(work, ctx)
    _check_keys(work, ctx)
    return work


def _check_header(name: str, path: Path, raw: _Raw, ctx: _Context) -> bool:
    """Duplicate and missing contract columns; notes on extra and absent optional ones."""
    table = TABLES[name]
    wanted = set(table.column_names)
    counts = Counter(raw.names)
    ok = True
    for column, n in counts.items():
        if n > 1 and (column in wanted or _is_group(name, column)):
            places = [str(i + 1) for i, c in enumerate(raw.names) if c == column]
            ctx.problems.append(_problem(
                name, path.name, KIND_DUPLICATE_COLUMN,
                f"appears {n} times in the header (columns {', '.join(places)})",
                "each column once", column=column))
            ok = False
    for column in table.required_columns:
        if column not in counts:
            ctx.problems.append(_problem(
                name, path.name, KIND_MISSING_COLUMN, "required column is missing from the header",
                "the columns " + ", ".join(table.required_columns), column=column))
            ok = False
    extra = [c for c in counts if c and c not in wanted and not _is_group(name, c)]
    if extra:
        ctx.notes.append(f"{path.name}: {_plural(len(extra), 'column', 'columns')} "
                         f"{', '.join(repr(c) for c in extra)} "
                         f"{_plural(len(extra), 'is', 'are')} not in the data contract and "
                         f"{_plural(len(extra), 'was', 'were')} ignored.")
    absent = [c for c in table.column_names if c not in counts and c not in table.required_columns]
    if absent and ok:
        ctx.notes.append(f"{path.name}: optional {_plural(len(absent), 'column', 'columns')} "
                         f"{', '.join(repr(c) for c in absent)} not provided.")
    return ok


def _is_group(table: str, column: str) -> bool:
    prefix = TABLES[table].extra_prefix
    return bool(prefix) and column.startswith(prefix) and len(column) > len(prefix)


def _start_work(name: str, path: Path, raw: _Raw, ctx: _Context) -> _Work:
    """Drop exact duplicate rows, keep contract and group columns, note the rest."""
    frame = raw.frame
    duplicate = frame.duplicated(keep="first").to_numpy() if len(frame) else np.zeros(0, bool)
    keep = [i for i, c in enumerate(raw.names) if c in TABLES[name].column_names or _is_group(name, c)]
    text = frame.loc[~duplicate, keep].reset_index(drop=True)
    text.columns = [raw.names[i] for i in keep]
    work = _Work(name, path.name, raw.row_word, text, raw.rows[~duplicate],
                 pd.DataFrame(index=text.index), np.zeros(len(text), dtype=np.int16))
    n = int(duplicate.sum())
    if n:
        work.pre_excluded[EXACT_DUPLICATE] = n
        ctx.notes.append(f"{path.name}: {n} {_plural(n, 'row was an exact duplicate', 'rows were exact duplicates')}"
                         " of an earlier row and left out.")
    if raw.bad_rows:
        _report_bad_rows(work, raw, ctx)
    return work


def _report_bad_rows(work: _Work, raw: _Raw, ctx: _Context) -> None:
    """Rows with more or fewer values than the header: never parsed, so never in the frame."""
    ncols = len(raw.names)
    ctx.problems.append(_problem(
        work.name, work.file, KIND_VALUE_COUNT,
        _plural(len(raw.bad_rows), "does not have one value per column",
                "do not have one value per column"),
        f"{ncols} values separated by commas, as in the header (put quotes around a value "
        "that contains a comma)",
        rows=tuple(r for r, _ in raw.bad_rows), values=tuple(t for _, t in raw.bad_rows),
        row_level=True, reason=WRONG_VALUE_COUNT))
    work.pre_excluded[WRONG_VALUE_COUNT] += len(raw.bad_rows)


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
    ctx.problems.append(_problem(
        work.name, work.file, kind, issue[0] if n == 1 else issue[1], expected, column=column,
        rows=tuple(work.rows[mask].tolist()), values=shown, row_level=True,
        row_word=work.row_word, reason=reason))
    work.exclude(mask, reason)


# --------------------------------------------------------------------------- coercion


@dataclass
class _Fail:
    mask: np.ndarray
    kind: str
    issue: tuple[str, str]
    expected: str
    reason: str


def _coerce_columns(work: _Work, ctx: _Context) -> None:
    table = TABLES[work.name]
    for column in work.raw.columns:
        raw = work.raw[column]
        blank = raw.isna().to_numpy()
        if _is_group(work.name, column):
            work.frame[column] = _fill(raw.astype(STRING), blank, UNKNOWN, work, column, ctx)
            continue
        spec = table.column(column)
        values, fails = _COERCE[spec.kind](raw, spec)
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
        ctx.notes.append(f"{work.file}: {n} blank {column} "
                         f"{_plural(n, 'value was', 'values were')} recorded as '{filler}'.")
        values = values.mask(blank, filler)
    return values


def _by_unique(raw: pd.Series, func):
    """Apply ``func`` to the distinct values only; return it spread back plus the codes.

    Columns such as dates, scores and codes repeat a few values across millions of
    rows, so working on the distinct values keeps loading fast.
    """
    codes, uniques = pd.factorize(raw)
    result = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    return codes, result


def _spread(codes: np.ndarray, per_unique, fill) -> np.ndarray:
    """Index per-unique results by codes; code -1 (missing) picks the appended ``fill``."""
    return np.append(np.asarray(per_unique), [fill])[codes] if len(codes) else np.asarray(per_unique)[:0]


def _is_text(raw: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(raw) or raw.dtype == object


def _coerce_id(raw: pd.Series, spec: Column):
    return raw.astype(STRING), []


def _coerce_code(raw: pd.Series, spec: Column):
    codes, snake = _by_unique(raw, _snake)
    return pd.Series(_spread(codes, snake.to_numpy(dtype=object), None), dtype=STRING), []


def _snake(values: pd.Series) -> pd.Series:
    return values.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")


def _coerce_category(raw: pd.Series, spec: Column):
    lookup = {c.lower(): c for c in spec.categories}
    lookup |= {_snake(pd.Series([c])).iloc[0]: c for c in spec.categories}
    lookup |= ALIASES.get(spec.name, {})

    def match(values: pd.Series) -> pd.Series:
        lowered = values.str.lower().str.replace(r"\s+", " ", regex=True)
        return lowered.map(lookup).fillna(_snake(values).map(lookup))

    codes, matched = _by_unique(raw, match)
    position = matched.map({c: i for i, c in enumerate(spec.categories)})
    bad = _spread(codes, position.isna().to_numpy(), False)
    category_codes = _spread(codes, position.fillna(-1).to_numpy(dtype=np.int64), -1)
    values = pd.Series(pd.Categorical.from_codes(category_codes, categories=list(spec.categories)))
    accepted = ", ".join(spec.categories[:-1]) + " or " + spec.categories[-1]
    return values, [_Fail(bad, KIND_UNKNOWN_VALUE, ("is not an accepted value", "are not accepted values"),
                          f"one of {accepted}", f"{spec.name} is not an accepted value")]


def _coerce_flag(raw: pd.Series, spec: Column):
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean"), []
    codes, mapped = _by_unique(raw, lambda u: u.str.lower().map(_FLAGS))
    bad = _spread(codes, mapped.isna().to_numpy(), False)
    values = pd.array(_spread(codes, mapped.to_numpy(dtype=object), None), dtype="boolean")
    return pd.Series(values), [_Fail(bad, KIND_UNKNOWN_VALUE, ("is not yes or no", "are not yes or no"),
                                     EXPECTED_FLAG, f"{spec.name} is not yes or no")]


def _parse_dates(values: pd.Series) -> pd.Series:
    """Parse distinct date texts; NaT where the text is not a real calendar date."""
    iso = values.str.extract(_ISO_DATE).astype(float)
    us = values.str.extract(_US_DATE).astype(float)
    parts = pd.DataFrame({
        "year": iso[0].fillna(us[2]), "month": iso[1].fillna(us[0]), "day": iso[2].fillna(us[1])})
    return pd.to_datetime(parts, errors="coerce").astype(DATETIME) if len(parts) else \
        pd.Series([], dtype=DATETIME)


def _coerce_date(raw: pd.Series, spec: Column):
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
        bad = np.zeros(len(raw), dtype=bool)
        text_bad = bad
    else:
        codes, per_unique = _by_unique(raw, _parse_dates)
        text_bad = _spread(codes, per_unique.isna().to_numpy(), False)
        parsed = pd.Series(_spread(codes, per_unique.to_numpy(), np.datetime64("NaT", "ns")))
    years = parsed.dt.year
    implausible = ((years < PLAUSIBLE_YEARS[0]) | (years > PLAUSIBLE_YEARS[1])).fillna(False).to_numpy()
    parsed = parsed.where(~implausible)
    values = pd.Series(parsed.to_numpy(), dtype="datetime64[ns]") if len(parsed) else \
        pd.Series([], dtype=DATETIME)
    return values, [
        _Fail(text_bad, KIND_NOT_DATE, ("is not a date", "are not dates"), EXPECTED_DATE,
              f"{spec.name} is not a date"),
        _Fail(implausible, KIND_OUT_OF_RANGE, ("is not a plausible date", "are not plausible dates"),
              f"a date between {PLAUSIBLE_YEARS[0]} and {PLAUSIBLE_YEARS[1]}",
              f"{spec.name} is not a plausible date"),
    ]


def _parse_numbers(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


def _numbers(raw: pd.Series):
    """float64 values and where a non-blank value is not a number."""
    if not _is_text(raw):
        return raw.astype(float).to_numpy(), np.zeros(len(raw), dtype=bool)
    codes, per_unique = _by_unique(raw, _parse_numbers)
    return (_spread(codes, per_unique.to_numpy(dtype=float), np.nan),
            _spread(codes, per_unique.isna().to_numpy(), False))


def _coerce_number(raw: pd.Series, spec: Column):
    numbers, bad = _numbers(raw)
    return pd.Series(numbers, dtype="float64"), [
        _Fail(bad, KIND_NOT_NUMBER, ("is not a number", "are not numbers"), EXPECTED_NUMBER,
              f"{spec.name} is not a number")]


def _coerce_integer(raw: pd.Series, spec: Column):
    numbers, bad = _numbers(raw)
    return _whole(numbers, bad, spec, EXPECTED_WHOLE)


def _whole(numbers: np.ndarray, bad: np.ndarray, spec: Column, expected: str):
    fraction = ~np.isnan(numbers) & (np.mod(numbers, 1) != 0)
    values = pd.array(np.where(fraction, np.nan, numbers), dtype="Float64").astype("Int64")
    return pd.Series(values), [
        _Fail(bad, KIND_NOT_NUMBER, ("is not a number", "are not numbers"), expected,
              f"{spec.name} is not a number"),
        _Fail(fraction, KIND_NOT_WHOLE, ("is not a whole number", "are not whole numbers"), expected,
              f"{spec.name} is not a whole number")]


def _parse_school_years(values: pd.Series) -> pd.Series:
    span = values.str.extract(_SPAN_YEAR)
    start = pd.to_numeric(span[0], errors="coerce")
    end = pd.to_numeric(span[1], errors="coerce")
    end = end.where(end >= 100, start // 100 * 100 + end)  # 2024-25 -> 2025
    spans = end.where(end == start + 1)
    return spans.fillna(_parse_numbers(values.where(span[0].isna())))


def _coerce_school_year(raw: pd.Series, spec: Column):
    if _is_text(raw):
        codes, per_unique = _by_unique(raw, _parse_school_years)
        numbers = _spread(codes, per_unique.to_numpy(dtype=float), np.nan)
        bad = _spread(codes, per_unique.isna().to_numpy(), False)
    else:
        numbers, bad = _numbers(raw)
    return _whole(numbers, bad, spec, EXPECTED_SCHOOL_YEAR)


def _parse_grade_levels(values: pd.Series) -> pd.Series:
    text = values.str.lower().str.replace(r"^.*#", "", regex=True)  # Ed-Fi descriptor URIs
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    number = pd.to_numeric(text.str.extract(_GRADE_NUMBER)[0], errors="coerce")
    level = text.map(_GRADE_WORDS).fillna(number)
    return level.where(level.between(-1, 12))


def _coerce_grade_level(raw: pd.Series, spec: Column):
    source = raw if _is_text(raw) else raw.astype(str)
    codes, per_unique = _by_unique(source, _parse_grade_levels)
    bad = _spread(codes, per_unique.isna().to_numpy(), False)
    numbers = _spread(codes, per_unique.to_numpy(dtype=float), np.nan)
    values = pd.Series(pd.array(numbers, dtype="Float64").astype("Int64"))
    return values, [_Fail(bad, KIND_UNKNOWN_VALUE, ("is not a grade level", "are not grade levels"),
                          EXPECTED_GRADE_LEVEL, f"{spec.name} is not a grade level")]


def _parse_grades(values: pd.Series) -> pd.Series:
    upper = values.str.upper()
    letter = upper.str.fullmatch(r"[A-F][+-]?")
    number = pd.to_numeric(values, errors="coerce")
    valid = letter | number.between(0, 100)
    return upper.where(letter, values).where(valid)


def _coerce_grade(raw: pd.Series, spec: Column):
    codes, per_unique = _by_unique(raw, _parse_grades)
    bad = _spread(codes, per_unique.isna().to_numpy(), False)
    values = pd.Series(_spread(codes, per_unique.to_numpy(dtype=object), None), dtype=STRING)
    return values, [_Fail(bad, KIND_UNKNOWN_VALUE, ("is not a grade", "are not grades"), EXPECTED_GRADE,
                          f"{spec.name} is not a grade")]


_COERCE = {
    "id": _coerce_id,
    "text": _coerce_id,
    "code": _coerce_code,
    "category": _coerce_category,
    "flag": _coerce_flag,
    "date": _coerce_date,
    "number": _coerce_number,
    "integer": _coerce_integer,
    "school_year": _coerce_school_year,
    "grade_level": _coerce_grade_level,
    "grade": _coerce_grade,
}


# --------------------------------------------------------------------------- value checks


def _check_values(work: _Work, ctx: _Context) -> None:
    for column in work.frame.columns:
        if _is_group(work.name, column):
            continue
        spec = TABLES[work.name].column(column)
        _check_bounds(work, spec, ctx)
        if spec.not_in_future:
            late = (work.frame[column] > ctx.today).fillna(False).to_numpy()
            _row_problem(work, ctx, column, late, KIND_FUTURE, ("is in the future", "are in the future"),
                         f"a date on or before today ({ctx.today:%Y-%m-%d})",
                         f"{column} is in the future", work.raw[column])
        if spec.kind == "school_year":
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
    for start, end in TABLES[work.name].order_rules:
        if start in work.frame and end in work.frame:
            before = (work.frame[end] < work.frame[start]).fillna(False).to_numpy()
            _row_problem(work, ctx, end, before, KIND_ORDER,
                         (f"is before the {start} on the same row",
                          f"are before the {start} on the same rows"),
                         f"{end} on or after {start}", f"{end} is before {start}", work.raw[end])


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


def _check_keys(work: _Work, ctx: _Context) -> None:
    key = list(TABLES[work.name].key)
    if not key or any(k not in work.frame for k in key):
        return
    table = TABLES[work.name]
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


def _check_references(works: dict[str, _Work], files: dict, ctx: _Context) -> None:
    """Ids must exist in the table they refer to, checked in load order so exclusions cascade."""
    for name in load_order():
        work = works.get(name)
        if work is None:
            continue
        for target in NEEDS_TABLE.get(name, ()):
            if target not in files:
                ctx.problems.append(_problem(
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


def _district(works: dict[str, _Work], files: dict, ctx: _Context) -> District:
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
