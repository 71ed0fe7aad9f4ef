"""What is wrong with a district's files, in words a district analyst can act on.

Every check of :func:`equity_audit.data.load.load_district` reports a :class:`Problem`;
the ``KIND_*`` constants classify them for code, the ``EXPECTED_*`` texts say
what would have been accepted, and the exclusion reasons label the rows left out
in ``District.exclusions``.

Examples
--------
>>> problem("students", None, KIND_MISSING_TABLE, "no file was found in the folder",
...         "a students.csv file")  # doctest: +ELLIPSIS
Problem(table='students', file=None, column=None, rows=(), values=(), ...)
>>> shorten([str(n) for n in range(2, 50)])
'2, 3, 4, 5, 6 and 43 more'
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Problem", "problem", "shorten", "quote", "plural", "SHOW", "EXACT_DUPLICATE",
    "WRONG_VALUE_COUNT", "REFERS_TO", "EXPECTED_DATE", "EXPECTED_NUMBER", "EXPECTED_WHOLE",
    "EXPECTED_FLAG", "EXPECTED_GRADE_LEVEL", "EXPECTED_GRADE", "EXPECTED_SCHOOL_YEAR",
    "EXPECTED_ONE_FILE", "EXPECTED_FORMATS", "EXPECTED_UTF8", "EXPECTED_COMMAS", "EXPECTED_DATA",
    "KIND_NO_FOLDER", "KIND_MISSING_TABLE", "KIND_TWO_FILES", "KIND_UNSUPPORTED", "KIND_UNREADABLE",
    "KIND_EMPTY", "KIND_DELIMITER", "KIND_ENCODING", "KIND_MISSING_COLUMN", "KIND_DUPLICATE_COLUMN",
    "KIND_MISSING_REFERENCED", "KIND_VALUE_COUNT", "KIND_NOT_DATE", "KIND_NOT_NUMBER",
    "KIND_NOT_WHOLE", "KIND_UNKNOWN_VALUE", "KIND_MISSING_VALUE", "KIND_OUT_OF_RANGE",
    "KIND_FUTURE", "KIND_ORDER", "KIND_DUPLICATE_KEY", "KIND_UNKNOWN_REFERENCE", "KIND_CONTROL_CHARACTER",
    "KIND_TOO_LARGE",
]

#: Values and rows shown in a message before "and N more".
SHOW = 5

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
KIND_CONTROL_CHARACTER = "control_character"
KIND_TOO_LARGE = "file_too_large"


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
        Every row number involved, as the user sees it (see :mod:`equity_audit.data.read`).
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
            where.append(f"{word} {shorten([str(r) for r in self.rows])}")
        what = self.issue
        if self.values:
            what = f"{shorten([quote(v) for v in self.values])} {self.issue}"
        return f"{', '.join(where)}: {what}; expected {self.expected}."


def problem(table: str, file: str | None, kind: str, issue: str, expected: str,
            column: str | None = None, row_level: bool = False, rows: tuple[int, ...] = (),
            values: tuple[str, ...] = (), **kw) -> Problem:
    """A :class:`Problem` with the arguments most checks leave out defaulted."""
    return Problem(table=table, file=file, column=column, rows=rows, values=values,
                   expected=expected, kind=kind, row_level=row_level, issue=issue, **kw)


def shorten(items: list[str]) -> str:
    """'a, b, c' or 'a, b, c, d, e and 37 more'."""
    if len(items) <= SHOW:
        return ", ".join(items)
    return f"{', '.join(items[:SHOW])} and {len(items) - SHOW:,} more"


def quote(value: str) -> str:
    """The value in quotes, cut at 60 characters so one long cell cannot flood the message."""
    value = str(value)
    return f"'{value[:60]}...'" if len(value) > 60 else f"'{value}'"


def plural(n: int, one: str, many: str) -> str:
    """``one`` when ``n`` is 1, else ``many``."""
    return one if n == 1 else many
