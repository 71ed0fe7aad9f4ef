"""Find a district's table files and read them as text, keeping the analyst's row numbers.

A district folder holds one file per table of :data:`equity_audit.data.contract.TABLES`,
named after the table: ``students.csv``, ``enrollments.parquet``, ``schools.xlsx``
(first sheet) and so on. :func:`read_table` reads one into a :class:`RawTable`:
trimmed text columns (Parquet columns whose type already fits their contract kind
are kept typed), the normalised header and each row's number as the analyst sees it.

Row numbers: for CSV and Excel the line or sheet row with the header as row 1 (so
the first data row is 2); for Parquet the 1-based record number. A file that
cannot be used at all (empty, not UTF-8, not comma-separated, corrupt) raises
:class:`UnusableFile` carrying the :class:`~equity_audit.data.problems.Problem`.

Decisions on ambiguous input
----------------------------
* Only a blank cell (after trimming spaces) is missing; ``NA``, ``NULL`` and
  ``N/A`` are values like any other, so they are reported rather than guessed.
* Blank lines are skipped (counted in ``RawTable.blank_rows``) and are not rows.
* CSV rows with more or fewer values than the header are not parsed; they are
  kept in ``RawTable.bad_rows`` with their line number and text.

Examples
--------
>>> from pathlib import Path
>>> from equity_audit.data.read import find_files, read_table
>>> found = find_files(Path("data/synthetic"))  # doctest: +SKIP
>>> read_table(found.files["students"], "students").names[:2]  # doctest: +SKIP
['student_id', 'birth_date']
"""
from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from equity_audit.data.contract import TABLES
from equity_audit.exceptions import DataValidationError
from equity_audit.data.problems import (
    EXPECTED_COMMAS, EXPECTED_DATA, EXPECTED_FORMATS, EXPECTED_ONE_FILE, EXPECTED_UTF8,
    KIND_DELIMITER, KIND_EMPTY, KIND_ENCODING, KIND_MISSING_TABLE, KIND_NO_FOLDER, KIND_TWO_FILES,
    KIND_TOO_LARGE, KIND_UNREADABLE, KIND_UNSUPPORTED, Problem, problem,
)

__all__ = ["FORMATS", "STRING", "FoundFiles", "RawTable", "UnusableFile", "find_files", "read_table",
           "file_label"]

#: File types read, in the order they are listed to the user.
FORMATS = (".csv", ".parquet", ".xlsx")
#: Text columns as read, and id and text columns once typed.
STRING = pd.StringDtype("pyarrow")

_SEPARATORS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_BOM = b"\xef\xbb\xbf"
#: Largest file read unless the max_file_mb setting says otherwise.
DEFAULT_MAX_BYTES = 1024 * 2**20


class UnusableFile(Exception):
    """A file cannot be read at all; carries the Problem to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class FoundFiles:
    """The table files of a folder and what was wrong with finding them."""

    files: dict[str, Path | None]  # None when the table's files cannot be used
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RawTable:
    """A file as read: text (or typed Parquet) columns and the user's row numbers."""

    frame: pd.DataFrame  # columns are positions 0..n-1, since headers may repeat
    names: list[str]  # normalised headers, same order
    rows: np.ndarray
    row_word: str
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    blank_rows: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- finding files


def find_files(folder: Path) -> FoundFiles:
    """Map each table to its file, reporting missing required tables and ambiguous files.

    Raises
    ------
    DataValidationError
        When ``folder`` is not a folder: nothing else can be checked.
    """
    if not folder.is_dir():
        raise DataValidationError([problem("", str(folder), KIND_NO_FOLDER, "the folder does not exist",
                                           "a folder holding students and enrollments files")], folder)
    found: dict[str, list[Path]] = {}
    ignored = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue  # hidden files and Excel lock files
        stem = entry.stem.strip().lower() if entry.is_file() else ""
        if stem in TABLES:
            found.setdefault(stem, []).append(entry)
        else:
            ignored.append(entry.name + ("/" if entry.is_dir() else ""))
    result = FoundFiles({})
    if ignored:  # counted, never named: a file name can hold a student's name or markup
        result.notes.append(f"Files or folders in the data folder that are not tables of the data contract "
                            f"were ignored: {len(ignored)}.")
    for name, paths in found.items():
        result.files[name] = _pick_file(name, paths, result.problems)
    for name, table in TABLES.items():
        if table.required and name not in found:
            result.problems.append(problem(
                name, None, KIND_MISSING_TABLE, "no file was found in the folder",
                f"a file named {name}.csv, {name}.parquet or {name}.xlsx (this table is required)"))
    return result


def file_label(table: str, path: Path) -> str:
    """How notes and the ledger name a table's file: ``<table>.<format>``, never the name on disk.

    The name on disk may differ in case or spacing, or carry text that must not be published.

    Examples
    --------
    >>> file_label("students", Path(" Students .XLSX"))
    'students.xlsx'
    """
    return f"{table}{path.suffix.lower()}"


def _pick_file(name: str, paths: list[Path], problems: list[Problem]) -> Path | None:
    usable = [p for p in paths if p.suffix.lower() in FORMATS]
    for p in paths:
        if p not in usable:
            problems.append(problem(name, p.name, KIND_UNSUPPORTED,
                                    "is not a file type the audit reads", EXPECTED_FORMATS))
    if len(usable) > 1:
        names = " and ".join(p.name for p in usable)
        problems.append(problem(name, None, KIND_TWO_FILES,
                                f"found {len(usable)} files ({names})", EXPECTED_ONE_FILE))
        return None
    return usable[0] if usable else None


# --------------------------------------------------------------------------- reading files


def read_table(path: Path, table: str, max_bytes: float = DEFAULT_MAX_BYTES) -> RawTable:
    """Read the file of contract table ``table``; raises :class:`UnusableFile`.

    A file larger than ``max_bytes`` (for a workbook: once unzipped) is refused
    before it is read, so one oversized or crafted file cannot exhaust memory.
    """
    _check_size(path, table, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, table)
    if suffix == ".xlsx":
        return _read_xlsx(path, table)
    return _read_parquet(path, table)


def _check_size(path: Path, table: str, max_bytes: float) -> None:
    size = path.stat().st_size
    if path.suffix.lower() == ".xlsx":
        size = max(size, _unzipped_size(path, table))
    if size > max_bytes:
        raise UnusableFile(problem(
            table, path.name, KIND_TOO_LARGE,
            f"the file is {size / 2**20:,.0f} MB (unzipped, for a workbook), over the limit of "
            f"{max_bytes / 2**20:,.0f} MB",
            "a smaller file: export the table as Parquet, or raise the max_file_mb setting"))


def _unzipped_size(path: Path, table: str) -> int:
    """What an .xlsx (a zip archive) expands to, read from its directory without expanding it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return 0  # not a zip: openpyxl reports the workbook as unreadable


def _normalise_header(name) -> str:
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    return re.sub(r"\s+", "_", text.replace("\ufeff", "").strip().lower())


def _read_csv(path: Path, table: str) -> RawTable:
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data or data.isspace():
        raise UnusableFile(problem(table, path.name, KIND_EMPTY, "the file is empty", EXPECTED_DATA))
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
    return _drop_blank(RawTable(frame, names, rows, "row", bad_rows=bad, blank_rows=len(blank_lines)))


def _header_line(data: bytes, path: Path, table: str) -> str:
    end = data.find(b"\n")
    line = data[: end if end >= 0 else len(data)]
    try:
        return line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise UnusableFile(_encoding_problem(data, path, table)) from None


def _check_delimiter(text: str, header: list[str], path: Path, table: str) -> None:
    if len(header) > 1:
        return
    counts = {sep: text.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=counts.get)
    if counts[sep]:
        raise UnusableFile(problem(
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
    return problem(table, path.name, KIND_ENCODING,
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
            raise UnusableFile(_encoding_problem(data, path, table)) from None
        raise UnusableFile(problem(table, path.name, KIND_UNREADABLE,
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


def _drop_blank(raw: RawTable) -> RawTable:
    blank = raw.frame.isna().all(axis=1).to_numpy() if raw.frame.shape[1] else np.zeros(0, bool)
    if blank.any():
        raw.frame = raw.frame[~blank].reset_index(drop=True)
        raw.rows = raw.rows[~blank]
        raw.blank_rows += int(blank.sum())
    return raw


def _read_xlsx(path: Path, table: str) -> RawTable:
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            sheets = book.sheet_names
            cells = pd.read_excel(book, sheet_name=0, header=None, dtype=object)
    except Exception as error:  # a corrupt or password-protected workbook
        raise UnusableFile(problem(table, path.name, KIND_UNREADABLE,
                                   f"the workbook could not be read ({error})",
                                   "an Excel .xlsx workbook with the table on its first sheet")) from None
    used = cells.notna().any(axis=1).to_numpy()
    if not used.any():
        raise UnusableFile(problem(table, path.name, KIND_EMPTY, "the first sheet is empty",
                                   EXPECTED_DATA))
    first = int(np.argmax(used))  # the header is the first row with anything in it
    names = [_normalise_header(v) for v in cells.iloc[first]]
    body = cells.iloc[first + 1:].reset_index(drop=True)
    rows = np.arange(first + 2, first + 2 + len(body), dtype=np.int64)
    raw = _drop_blank(RawTable(_cells_as_text(body), names, rows, "row"))
    if len(sheets) > 1:
        raw.notes = [f"{file_label(table, path)}: only the first sheet was read; "
                     f"the workbook has {len(sheets)} sheets."]
    return raw


def _cells_as_text(body: pd.DataFrame) -> pd.DataFrame:
    """Trimmed text of each cell, blank cells missing, like a CSV read."""
    text = {}
    for i in range(body.shape[1]):
        column = body.iloc[:, i]
        as_text = column.astype(str).where(column.notna(), None)  # dates print as ISO
        text[i] = as_text.astype(STRING).str.strip().replace("", pd.NA)
    return pd.DataFrame(text, index=body.index)


def _read_parquet(path: Path, table: str) -> RawTable:
    try:
        parsed = pq.read_table(path)
    except Exception as error:
        raise UnusableFile(problem(table, path.name, KIND_UNREADABLE,
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
    return _drop_blank(RawTable(frame, names, rows, "record"))


def _parquet_column(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Keep types that already match the column's kind; read everything else as text."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    value_type = column.type
    numeric = pa.types.is_integer(value_type) or pa.types.is_floating(value_type)
    if kind == "date" and (pa.types.is_date(value_type) or pa.types.is_timestamp(value_type)):
        return column
    if kind in ("number", "integer", "school_year") and numeric:
        return column.cast(pa.float64())
    if kind == "flag" and pa.types.is_boolean(value_type):
        return column
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return column
    return column.cast(pa.string())
