"""The release gate: the rules every published table passes, and the joint audit.

Every table that leaves a run is written by
:func:`equity_audit.publish.rundir.write_table`, which calls :func:`protect`.
The workbook and ``findings.json`` are built from those CSVs, so they carry the
same cells and the same ``status`` column. The rules (README, "Privacy"):

1. A withheld row carries no statistic about its group: every number in it is
   blank (``n_missing``, ``comparator_n``, ``comparator_estimate``,
   ``predicted``, ``others_*`` too), its flags are False, and ``status`` says
   why (``small_n`` or ``complementary``). A group with no students keeps
   ``n = 0`` and nothing else (``no_students``).
2. A count of students or events from 1 to ``min_n - 1`` is published only as
   "fewer than ``min_n``": the number is blank and ``status`` holds
   ``small_count:<column>``. A share whose count (share times its n) is from 1
   to ``min_n - 1`` is coded the same way (``small_count:<share column>``: the
   share is at most ``(min_n - 1) / n``), and so is one whose complement is
   (``small_complement:<share column>``), with its interval and comparisons.
3. A share coded at the top or bottom (the size bands of
   :func:`equity_audit.privacy.top_bottom_code`) hides its value, interval,
   difference, ratio and comparator (``top_coded`` / ``bottom_coded``).
4. Numeric columns stay numeric (blank where withheld); the reason is a word
   of :data:`STATUS_CODES` in the ``status`` column, several joined by ``;``.
5. Comparator and "all others" values of a withheld row are blank, so the
   complement row of a two-group subgroup never states the withheld group's value.

:func:`audit_release` then checks the released tables *together*: group
sizes, outcome counts (coded shares included), sums behind means, shares of a
total and ``n_missing`` that add up to the same totals within and across
tables are posed as one linear program per subgroup (HiGHS, :mod:`equity_audit.ranges`),
and any withheld value that it pins down is protected by withholding more
(a share, a row), or the table is moved to ``confidential/`` with a note. What was done is
written to ``tables/disclosure_audit.csv``.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"group": ["A", "B", "C"], "n": ["40", "<10", "withheld"],
...                   "estimate": [0.5, None, None], "comparator_n": ["30", "withheld", "withheld"],
...                   "comparator_estimate": [0.4, 0.45, 0.47], "suppressed": [False, True, True]})
>>> out = protect(t, min_n=10)
>>> out[["group", "n", "comparator_estimate", "status"]].values.tolist()
[['A', 40, 0.4, ''], ['B', <NA>, nan, 'small_n'], ['C', <NA>, nan, 'complementary']]
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from equity_audit.data.text import inert_cells, restore_cells
from equity_audit.exceptions import EquityAuditError
from equity_audit.privacy import DEFAULT_BANDS, top_bottom_code
from equity_audit.ranges import INFEASIBLE, UNBOUNDED, Program

__all__ = ["protect", "audit_release", "links_tables", "remember_audited", "audited_codes", "shown_min_n", "is_count_column", "STATUS_CODES", "STATUS_COLUMN", "AUDIT_TABLE", "NOT_GATED",
           "ReleaseError"]

#: The column that says why a cell or row is not shown.
STATUS_COLUMN = "status"

#: Every status code, with its meaning (the README lists the same words).
STATUS_CODES = {
    "small_n": "the group has fewer than min_n students: every number of the row is withheld",
    "complementary": "withheld so that a small group cannot be worked out by subtraction",
    "no_students": "the group has no students: n is 0 and there is nothing to estimate",
    "small_count": "a count from 1 to min_n - 1 is withheld: the column after the colon holds it or, for a "
                   "share, its students with the outcome are fewer than min_n (the share is at most "
                   "(min_n - 1) / n); what gives the count back (interval, difference, ratio) is withheld too",
    "small_complement": "the students without the outcome of the share after the colon are fewer than min_n "
                        "(the share is at least 1 - (min_n - 1) / n); value, interval and comparison withheld",
    "top_coded": "the share is at or above the top code of its size band: value, interval and "
                 "comparison are withheld",
    "bottom_coded": "the share is at or below the bottom code of its size band: value, interval and "
                    "comparison are withheld",
    "audit": "withheld by the joint disclosure audit: together with other tables it gave a group away; "
             "with a column after the colon (audit:n_missing) only that column of a shown row is withheld",
    "complementary_share": "the share (with its interval and comparisons) is withheld by the joint disclosure "
                           "audit so that a small count behind another share cannot be worked out by subtraction",
}

#: Tables about the data's rows rather than students' results, written as they are.
NOT_GATED = ("ledger", "exclusions", "disclosure_audit")

#: The audit's ledger, written with the published tables.
AUDIT_TABLE = "disclosure_audit"

_CODE_SMALL = re.compile(r"^\s*(<|fewer than)\s*\d+\s*$", re.IGNORECASE)
_CODE_WORDS = {"withheld": "complementary", "suppressed": "small_n"}
_TOP, _BOTTOM = re.compile(r"^\s*(≥|>=)\s*[\d.]+\s*%?\s*$"), re.compile(r"^\s*(≤|<=)\s*[\d.]+\s*%?\s*$")
_NUMBERISH = re.compile(r"^[\s<>≤≥~=+\-−]*\d[\d.,]*\s*%?(\s*\(.*\))?\s*$")
_LABELS = ("subgroup", "group", "school", "intersection", "columns", "statistic", "opportunity", "measure",
           "unit", "plc_id", "school_year", "year", "grade")
_FLAGS_KEPT = ("suppressed",)
_COMPARISON = re.compile(r"^(low|high|difference.*|ratio.*|comparator_.*|others_.*|.*_low|.*_high|"
                         r"shrunk_.*|interaction.*|predicted|pvalue|qvalue|z|z_adjusted|prob_above)$")


class ReleaseError(EquityAuditError):
    """A table cannot be released under the disclosure rules."""


# --------------------------------------------------------------------------- the gate


def is_count_column(name: str) -> bool:
    """Whether a column holds counts of students or events, by its name.

    >>> [is_count_column(c) for c in ("n", "n_missing", "comparator_n", "focus_events", "estimate")]
    [True, True, True, True, False]
    """
    name = str(name).lower()
    return (name in ("n", "events", "count", "students", "successes") or name.startswith("n_")
            or name.endswith(("_n", "_events", "_count", "_students")))


def _code_of(value) -> str | None:
    """The status a display code in a cell stands for, or None for a number or a blank."""
    if not isinstance(value, str):
        return None
    if _CODE_SMALL.match(value):
        return "small_n"
    if value.strip().lower() in _CODE_WORDS:
        return _CODE_WORDS[value.strip().lower()]
    if _TOP.match(value):
        return "top_coded"
    if _BOTTOM.match(value):
        return "bottom_coded"
    return None


def _numeric_column(column: pd.Series) -> pd.Series | None:
    """The column as numbers when every cell is a number, a blank or a display code; else None."""
    if pd.api.types.is_bool_dtype(column):
        return None
    if pd.api.types.is_numeric_dtype(column):
        return column if column.dtype == np.float64 else column.astype(float)
    text = column.astype("string").str.strip()
    codes = text.map(lambda v: _code_of(v) if isinstance(v, str) else None)
    numbers = pd.to_numeric(text.where(codes.isna() & (text != "")), errors="coerce")
    readable = numbers.notna() | codes.notna() | text.isna() | (text == "")
    if not readable.all() or numbers.notna().sum() == 0 and codes.notna().sum() == 0:
        return None
    return numbers.astype(float)


def _add_status(status: pd.Series, mask, code: str) -> pd.Series:
    mask = _bool(mask, status.index).to_numpy()
    if not mask.any():  # most rules touch no row: the joint audit protects every table again after each step
        return status
    # a table has tens of rows and the joint audit protects every table again after each step: plain lists
    # cost a fraction of a Series' string methods
    words = [word if not marked or code in word.split(";") else f"{word};{code}" if word else code
             for word, marked in zip(status.tolist(), mask)]
    return pd.Series(words, index=status.index, dtype=status.dtype, name=status.name)


def _bool(mask, index) -> pd.Series:
    """A plain boolean Series (missing is False)."""
    series = mask if isinstance(mask, pd.Series) else pd.Series(mask, index=index)
    if series.dtype == bool:
        return series
    return series.astype(object).where(series.notna(), False).astype(bool)


def _masked(values: pd.Series, mask: pd.Series) -> pd.Series:
    """``values.mask(mask)``; most rules touch no row, and the joint audit protects every table again after each step."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return values
    return pd.Series(np.where(mask, np.nan, values.to_numpy(float)), index=values.index, name=values.name)


def _is_wide_count_table(numeric: dict[str, pd.Series], table: pd.DataFrame) -> bool:
    if any(c in table for c in ("estimate", "rate", "statistic", "n")):
        return False
    values = [s for name, s in numeric.items() if name != table.columns[0]]
    return bool(values) and all(((s.dropna() % 1) == 0).all() and (s.dropna() >= 0).all() for s in values)


def shown_min_n(table: pd.DataFrame) -> int | None:
    """The ``min_n`` a displayed table was made with, read from its ``"<k"`` codes (None if it has none).

    >>> import pandas as pd
    >>> shown_min_n(pd.DataFrame({"n": ["40", "<15", "withheld"]})), shown_min_n(pd.DataFrame({"n": [40]}))
    (15, None)
    """
    found = []
    for column in table.columns:
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
            text = table[column].dropna().astype(str)
            digits = text[text.str.match(_CODE_SMALL)].str.extract(r"(\d+)")[0]
            found += [int(d) for d in digits.dropna().unique()]
    return max(found) if found else None


#: File (in ``confidential/``) of the cells the joint audit withheld in an earlier pass of this run.
AUDITED_FILE = "audit_withheld.csv"
#: Those cells, ``(label, n, value) -> status word``, as :func:`remember_audited` loaded them: for the
#: charts, alt texts and findings, which show a table's rows without its name.
_AUDITED: dict[tuple, str] = {}
#: The same cells by the table they are in: ``table -> [(block, label, status word)]``, for the table itself.
_AUDITED_IN: dict[str, list[tuple[dict, str, str]]] = {}
_VALUE_COLUMNS = ("estimate", "rate", "focus_estimate")
#: The value of a cell's content key when its value is withheld (its group and n still identify it).
_NO_VALUE = "no value"


def remember_audited(run_dir: str | Path) -> int:
    """Load the cells the run's joint audit withheld, so every later table, chart and text withholds them too.

    The joint audit (:func:`audit_release`) runs once every table is written;
    what it withholds it records in ``confidential/audit_withheld.csv``. The
    pipeline then runs the notebooks again, and each one calls this (through
    :func:`equity_audit.publish.rundir.open_district`): :func:`protect`, and with
    it every table, chart and alt text, then withholds those cells wherever they
    appear. In a table written under its name (``protect(..., name=)``) a cell is
    known by its block and group, so the table gets exactly the audit's
    withholdings, no more and no fewer; elsewhere (a chart, an alt text) by its
    group (or intersection), its n and its value, and a row that looks the same in
    another table is withheld too.
    Returns the number of cells loaded (0, and nothing remembered, without a file).
    """
    _AUDITED.clear()
    _AUDITED_IN.clear()
    path = Path(run_dir) / "confidential" / AUDITED_FILE
    if not path.is_file():
        return 0
    cells = _read_audited(path)
    for row in cells.itertuples(index=False):
        n, value = _number(row.n), _number(row.value)
        if np.isfinite(n):
            for key in _keys(row.label, n, value):
                _AUDITED[key] = _join_new(_AUDITED.get(key, ""), row.code)
        if getattr(row, "table", ""):  # a run folder of an earlier version records cells by content only
            _AUDITED_IN.setdefault(row.table, []).append((json.loads(row.block), row.label, row.code))
    return len(cells)


def _read_audited(path: Path) -> pd.DataFrame:
    return restore_cells(pd.read_csv(path, dtype={"label": str, "table": str, "block": str}, keep_default_na=False))


def _keys(label, n, value) -> list[tuple]:
    """A cell's keys: with its label, and without it for charts whose rows are not labelled one way."""
    value = round(float(value), 9) if np.isfinite(value) else _NO_VALUE
    return [(str(label), int(n), value), (None, int(n), value)]


def _plain(value) -> str:
    """A block's label as text, the same whether it was read from a CSV or computed (2026, 2026.0, "2026")."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else str(int(value)) if float(value).is_integer() else repr(float(value))
    return "" if value is None or value is pd.NA or value is pd.NaT else str(value)


def _exact_words(table: pd.DataFrame, name: str) -> pd.Series:
    """The status words the joint audit gave the rows of the table it read as ``name``, found by block and group."""
    words = pd.Series("", index=table.index, dtype=object)
    labels = _cell_label(table)
    if labels is None:
        return words
    plain: dict[str, np.ndarray] = {}
    for block, label, code in _AUDITED_IN.get(name, []):
        match = (labels == label).to_numpy().copy()
        for column, value in block.items():
            if column not in table:
                match = np.zeros(len(table), bool)
                break
            if column not in plain:
                plain[column] = np.array([_plain(v) for v in table[column].tolist()], dtype=object)
            match = match & (plain[column] == value)
        for position in np.flatnonzero(match):
            words.iloc[position] = _join_new(words.iloc[position], code)
    return words


def _cell_label(table: pd.DataFrame) -> pd.Series | None:
    for column in ("intersection", "group"):
        if column in table:
            return table[column].astype(str)
    return None


def audited_codes(table: pd.DataFrame) -> pd.Series:
    """The status word the joint audit gave each row of ``table`` in an earlier pass ("" for none).

    Only words that withhold a row or its share count; a single column the
    audit withheld (``audit:n_missing``) leaves the row shown.

    Examples
    --------
    >>> import pandas as pd
    >>> audited_codes(pd.DataFrame({"group": ["A"], "n": [40], "estimate": [0.25]})).tolist()
    ['']
    """
    return audited_words(table).map(lambda words: next((w for w in words.split(";") if w and ":" not in w), ""))


def audited_words(table: pd.DataFrame, name: str | None = None) -> pd.Series:
    """Every status word the joint audit gave each row in an earlier pass, joined with ``;``.

    With ``name``, the words the audit gave the rows of that table (by block and
    group); without, those of any cell with the row's group, n and value.

    >>> import pandas as pd
    >>> audited_words(pd.DataFrame({"group": ["A"], "n": [40], "estimate": [0.25]})).tolist()
    ['']
    """
    if name is not None and _AUDITED_IN:
        return _exact_words(table, name)
    codes = pd.Series("", index=table.index, dtype=object)
    value_column = next((c for c in _VALUE_COLUMNS if c in table), None)
    if not _AUDITED or value_column is None or "n" not in table:
        return codes
    n = pd.to_numeric(table["n"], errors="coerce")
    value = pd.to_numeric(table[value_column], errors="coerce")
    labels = _cell_label(table)
    for position in np.flatnonzero(n.notna().to_numpy()):  # a few rows per table: the tables are aggregates
        cell_n = int(n.iloc[position])
        cell_value = round(float(value.iloc[position]), 9) if pd.notna(value.iloc[position]) else _NO_VALUE
        label = None if labels is None else labels.iloc[position]
        codes.iloc[position] = _AUDITED.get((label, cell_n, cell_value), "")
    return codes


def _with_audited(table: pd.DataFrame, status: pd.Series, name: str | None = None) -> pd.Series:
    words = audited_words(table, name).str.split(";")
    # a column the audit withheld is only withheld where the table has it
    for code in sorted({w for row in words for w in row if w and (":" not in w or w.split(":")[1] in table)}):
        status = _add_status(status, words.map(lambda row, c=code: c in row).astype(bool), code)
    return status


def protect(table: pd.DataFrame, *, min_n: int = 10, name: str | None = None) -> pd.DataFrame:
    """The table as it may be released: the rules of this module applied.

    Parameters
    ----------
    table : pandas.DataFrame
        An aggregate table, as computed (``suppressed`` column, numbers) or
        already shown for people (``"<10"``, ``"withheld"``, ``"≥ 95%"``).
    min_n : int, default 10
        Smallest count published as a number.
    name : str, optional
        The table's name; the tables of :data:`NOT_GATED` pass unchanged.

    Returns
    -------
    pandas.DataFrame
        Same rows and columns, numeric columns as numbers (blank where
        withheld), plus a ``status`` column of :data:`STATUS_CODES` words
        (empty where everything is shown). Applying it twice changes nothing.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"school": ["East", "West"], "n": [40, 35], "focus_events": [3, 12],
    ...                   "others_n": [200, 8]})
    >>> protect(t)[["focus_events", "others_n", "status"]].values.tolist()
    [[<NA>, 200, 'small_count:focus_events'], [12, <NA>, 'small_count:others_n']]
    """
    if name in NOT_GATED or table.empty and STATUS_COLUMN not in table:
        return table
    out = table.copy()
    if STATUS_COLUMN in out and not _is_our_status(out[STATUS_COLUMN]):
        out = out.rename(columns={STATUS_COLUMN: f"{STATUS_COLUMN}_reported"})
    status = (out[STATUS_COLUMN].astype(object).fillna("").astype(str) if STATUS_COLUMN in out
              else pd.Series("", index=out.index))
    if _AUDITED or _AUDITED_IN:
        status = _with_audited(out, status, name)
    columns = [c for c in out.columns if c != STATUS_COLUMN]
    numeric = {c: s for c in columns if c not in _LABELS and (s := _numeric_column(out[c])) is not None}
    # the display codes of each column that has any ("<10", "withheld"); a column of numbers holds none
    found = {c: [_code_of(v) for v in out[c].astype(object)] for c in numeric if out[c].dtype.kind not in "iufb"}
    codes = {c: pd.Series(words, index=out.index, dtype=object) for c, words in found.items()
             if any(word is not None for word in words)}
    count_columns = [c for c in numeric if is_count_column(c)]
    if _is_wide_count_table(numeric, out):
        count_columns = [c for c in numeric if c != out.columns[0]]

    # rule 1: withheld rows
    small = pd.Series(False, index=out.index)
    words = [row.split(";") for row in status.tolist()]
    protecting = pd.Series([bool({"complementary", "audit"} & set(row)) for row in words], index=out.index, dtype=bool)
    zero = pd.Series(False, index=out.index)
    if "n" in numeric:
        n, n_code = numeric["n"], codes.get("n")
        small |= ((n > 0) & (n < min_n)) | (n_code == "small_n")
        protecting |= n_code == "complementary"
        zero = n == 0
        if "suppressed" in out:
            flagged = out["suppressed"].astype("boolean").fillna(False).astype(bool)
            protecting |= flagged & (n >= min_n)
    small |= pd.Series(["small_n" in row for row in words], index=out.index, dtype=bool)
    withheld = small | protecting
    _statements_without_values(out, withheld)
    status = _add_status(status, small, "small_n")
    status = _add_status(status, protecting & ~small, "complementary")
    if "suppressed" in out:
        status = _add_status(status, zero & ~withheld, "no_students")
    hidden = withheld | zero
    for c, values in numeric.items():
        numeric[c] = _masked(values, withheld & ~zero if c == "n" else hidden)  # n = 0 is shown
    for c in out.columns:
        if c in _FLAGS_KEPT or c == STATUS_COLUMN or out[c].dtype.kind in "iuf":  # numbers: neither flags nor text
            continue
        if pd.api.types.is_bool_dtype(out[c]) or out[c].dropna().isin([True, False]).all() and out[c].notna().any():
            if out[c].dropna().map(type).eq(bool).all():
                out[c] = out[c].astype("boolean").mask(withheld | zero, False)
        elif c not in numeric and c not in _LABELS:
            text = out[c]
            looks = text.map(lambda v: isinstance(v, str) and bool(_NUMBERISH.match(v)) or _code_of(v) is not None)
            out[c] = text.mask((withheld | zero) & looks, "")
    if "suppressed" in out:
        out["suppressed"] = out["suppressed"].astype("boolean").fillna(False) | withheld

    # rule 3: coded shares (in the CSV as codes, or rates the report would code)
    coded = {"top_coded": pd.Series(False, index=out.index), "bottom_coded": pd.Series(False, index=out.index)}
    for c, code in codes.items():
        for word in coded:
            coded[word] |= code == word
    rate_column = next((c for c in ("estimate", "rate", "focus_estimate") if c in numeric), None)
    if rate_column and "n" in numeric:
        is_rate = (out["statistic"].astype(str) == "rate") if "statistic" in out else rate_column == "rate"
        rate, n = numeric[rate_column], numeric["n"]
        usable = is_rate & rate.notna() & (n >= min_n)
        if usable.any():
            shown = pd.Series(top_bottom_code(rate.where(usable, 0.5).clip(0, 1).to_numpy(),
                                              n.where(usable, 1000).to_numpy(), scale=1), index=out.index)
            coded["top_coded"] |= usable & shown.str.startswith("≥")
            coded["bottom_coded"] |= usable & shown.str.startswith("≤")
    # the numerator is the share times n, so a coded share hides its event counts too
    # a finding's students_affected is the share times n (or n less it): it goes with the share
    hide = [c for c in numeric if c == rate_column or c.endswith(("_estimate", "_rate", "events"))
            or c in ("successes", "rate", "students_affected") or (_COMPARISON.match(c) and not is_count_column(c))
            or _GAP.match(c)]
    for word, mask in coded.items():
        mask = mask & ~withheld
        status = _add_status(status, mask, word)
        _statements_without_values(out, mask)
        for c in hide:
            numeric[c] = _masked(numeric[c], mask)

    # rule 2a: a share and its denominator give the count behind it (0.3 of 20 is 6 students)
    count_rows = _count_rows(out) & ~withheld
    rates: dict[bool, pd.Series] = {}  # the rows of shares, which differ only between shares and rates per se
    for share, size, events, own in _share_pairs(numeric, out):
        counted = numeric[events] if events else numeric[share] * numeric[size]
        kind = bool(events) or str(share).endswith("rate")
        is_rate = rates[kind] if kind in rates else rates.setdefault(kind, _rate_rows(out, share, events))
        few = is_rate & ~withheld & _between(counted, min_n)
        # a mean count per student (days removed) times n is the group's total: under min_n events or days
        # means fewer than min_n students had any
        few |= count_rows & (counted > 0) & (counted < min_n)
        few_without = is_rate & ~withheld & ~few & _between(numeric[size] - counted, min_n)
        for word, mask in ((f"small_count:{share or events}", few), (f"small_complement:{share or events}",
                                                                      few_without)):
            status = _add_status(status, mask, word)
            for c in _hidden_with(share, events, own, numeric, hide):
                numeric[c] = _masked(numeric[c], mask)
            _statements_without_values(out, mask)

    # a share withheld by the joint audit so that a small count behind another cannot be subtracted out
    shared = pd.Series(["complementary_share" in row.split(";") for row in status.tolist()], index=out.index, dtype=bool) & ~withheld
    for share, _size, events, own in _share_pairs(numeric, out):
        for c in _hidden_with(share, events, True, numeric, hide) if own else []:
            numeric[c] = _masked(numeric[c], shared)

    # a column of a shown row the joint audit withheld (an n_missing that other tables' sizes pinned)
    words = [row.split(";") for row in status.tolist()]
    for c in [c for c in numeric if any(f"audit:{c}" in row for row in words)]:
        audited = pd.Series([f"audit:{c}" in row for row in words], index=out.index, dtype=bool)
        numeric[c] = _masked(numeric[c], audited & ~withheld)

    # rule 2: small counts in rows that are shown
    for c in count_columns:
        values = numeric[c]
        low = (((values > 0) & (values < min_n)) | (codes.get(c) == "small_n")) & ~withheld
        if c == "n":
            continue
        status = _add_status(status, low, f"small_count:{c}")
        numeric[c] = values.mask(low)

    for c, values in numeric.items():
        shown = values.to_numpy()
        whole = c in count_columns and bool((shown[~np.isnan(shown)] % 1 == 0).all())
        out[c] = values.round().astype("Int64") if whole else values
    out[STATUS_COLUMN] = status.to_numpy()
    return out


_OWN_PREFIXES = ("", "focus_")
_OTHER_PREFIXES = ("comparator_", "others_")
_GAP = re.compile(r"^(difference.*|ratio.*|shrunk_.*|interaction.*|excess_.*|.*pvalue|qvalue|z|z_adjusted|prob_above)$")


def _share_pairs(numeric: dict[str, pd.Series], table: pd.DataFrame) -> list[tuple]:
    """``(share, size, events, own)`` column names of each share and its denominator.

    ``estimate`` / ``n`` is the row's own group, ``comparator_estimate`` /
    ``comparator_n`` and ``others_estimate`` / ``others_n`` the group it is
    compared with; ``focus_*`` is the own group of a within-unit gap. ``share``
    or ``events`` may be None when the table has only the other.
    """
    pairs = []
    for prefix in _OWN_PREFIXES + _OTHER_PREFIXES:
        size = next((c for c in ((prefix + "n") if prefix else "n", "n" if prefix == "focus_" else None)
                     if c and c in numeric), None)
        share = next((c for c in (prefix + "estimate", prefix + "rate") if c in numeric and c != size), None)
        events = next((c for c in (prefix + "events", prefix + "successes") if c in numeric), None)
        if size and (share or events):
            pairs.append((share, size, events, prefix in _OWN_PREFIXES))
    return pairs


def _rate_rows(table: pd.DataFrame, share: str | None, events: str | None) -> pd.Series:
    """Rows in which ``share`` is a share of students or events (not a mean).

    A table of findings has no ``statistic``: its statement prints a share as a percentage.
    """
    if "statistic" in table:
        return table["statistic"].astype(str).str.strip().eq("rate").to_numpy() & pd.Series(True, index=table.index)
    if text := next((c for c in _STATEMENTS if c in table), None):
        return table[text].astype("string").str.contains("%", regex=False).fillna(False).astype(bool)
    return pd.Series(bool(events) or str(share).endswith("rate"), index=table.index)


def _count_rows(table: pd.DataFrame) -> pd.Series:
    """Rows whose estimate is a mean count of events or days per student (``statistic`` "count")."""
    if "statistic" not in table:
        return pd.Series(False, index=table.index)
    return table["statistic"].astype(str).str.strip().eq("count")


_STATEMENTS = ("statement", "sentence")
# a share or a difference: a percentage, "12 points", or a signed number ("95% interval +20 to +50")
_PRINTED_NUMBER = re.compile(r"[+\-−]?\d+(?:[.,]\d+)*(?:\s*%(?!\s*interval)|\s+points?\b)"
                             r"|(?<![\w\-−+])[+\-−]\d+(?:[.,]\d+)*")


def _without_values(text: pd.Series, mask: pd.Series) -> pd.Series:
    """Statements of the masked rows with every printed share and difference replaced by a dash.

    >>> import pandas as pd
    >>> s = pd.Series(["A: the share is 30% (n=20; 95% interval 12% to 54%) against 8.5% for others: +21 points."])
    >>> _without_values(s, pd.Series([True])).iloc[0]
    'A: the share is — (n=20; 95% interval — to —) against — for others: —.'
    """
    return text.mask(mask, text.astype("string").str.replace(_PRINTED_NUMBER, "—", regex=True))


def _statements_without_values(table: pd.DataFrame, mask: pd.Series) -> None:
    """In place: a finding's sentence prints the share it is about; the masked rows' sentences lose their values."""
    for c in _STATEMENTS:
        if c in table and mask.any():
            table[c] = _without_values(table[c], mask)


def _between(count: pd.Series, min_n: int) -> pd.Series:
    """Counts from 1 to ``min_n - 1`` (a share's count is rounded: the share is printed with decimals)."""
    whole = count.round()
    return _bool((whole >= 1) & (whole <= min_n - 1), count.index)


def _hidden_with(share, events, own: bool, numeric: dict, hide: list[str]) -> list[str]:
    """What is withheld with a share whose count is small: the share, its count and what gives it back.

    The row's own share takes its interval and every comparison with it; the
    comparator's share takes the comparisons, but the row's own value and interval stay.
    """
    columns = {c for c in (share, events) if c}
    if own:
        columns |= set(hide) | {c for c in numeric if _GAP.match(c)}
    else:
        prefix = (share or events).rsplit("_", 1)[0] + "_"
        columns |= {c for c in numeric if (c.startswith(prefix) and not is_count_column(c)) or _GAP.match(c)}
    return [c for c in numeric if c in columns]


def _is_our_status(column: pd.Series) -> bool:
    words = (word.split(":")[0] for value in column.dropna() for word in str(value).split(";"))
    return all(word in STATUS_CODES for word in words if word != "")


# --------------------------------------------------------------------------- the joint audit

_GROUP_COLUMNS = ("intersection", "group")
_BLOCK_COLUMNS = ("subgroup", "columns", "school", "school_year", "opportunity", "measure", "statistic")
_SAME_POPULATION_IGNORES = ("opportunity", "measure", "statistic")  # same students, other measure
_FEW = "small_n"


def _number(value) -> float:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(number) if pd.notna(number) else math.nan


_NOT_KEYS = ("statement", "sentence", "intersection", "group", "share")


def _is_label(column: pd.Series) -> bool:
    """A text column (not numbers, codes or flags): it names what a row is about."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return False
    return _numeric_column(column) is None


def links_tables(run_dir: str | Path, names: Iterable[str], *, min_n: int = 10) -> bool:
    """Whether any of the run's tables ``names`` has margins the joint audit links to other tables.

    A table with none (no ``n`` of a group, e.g. the action plan drawn from the
    findings) gives the audit nothing to solve: the release gate its step applied
    on writing it (:func:`protect`) is all the audit would apply.

    >>> import tempfile; run = tempfile.mkdtemp(); Path(run, "tables").mkdir()
    >>> pd.DataFrame({"finding": ["a"], "students": [40]}).to_csv(f"{run}/tables/plan.csv", index=False)
    >>> pd.DataFrame({"group": ["A", "B"], "n": [40, 30]}).to_csv(f"{run}/tables/t.csv", index=False)
    >>> links_tables(run, ["plan"]), links_tables(run, ["plan", "t"])
    (False, True)
    """
    folder = Path(run_dir) / "tables"
    for name in names:
        path = folder / f"{name}.csv"
        if path.is_file() and (table := _released(path, min_n)) is not None and _blocks(name, table, min_n):
            return True
    return False


def _released(path: Path, min_n: int) -> pd.DataFrame | None:
    """A released table as the joint audit reads it (gated again); None if it is not gated or empty."""
    if path.stem in NOT_GATED:
        return None
    try:
        return protect(restore_cells(pd.read_csv(path)), min_n=min_n, name=path.stem)
    except pd.errors.EmptyDataError:
        return None


def _blocks(name: str, table: pd.DataFrame, min_n: int) -> list[dict]:
    """The margins of one released table: rows of a block add up to a total a reader can work out.

    A block is the rows of one subgroup (and school, year, measure) of the
    table. Its total is known when a shown row states ``n`` and its
    ``comparator_n`` (or ``others_n``): the rest of the block. For a rate, the
    block's count of students with the outcome is known the same way, and for
    a mean the block's sum (``n`` times the mean, linear in the unknowns). A
    table of shares of its total (``share``, a composition) bounds the total
    by each shown row: ``n / total`` within the share's printed precision.
    Blocks of the same students in one table (other subgroups) share these
    totals.
    """
    if "n" not in table or table.empty:
        return []
    group = next((c for c in _GROUP_COLUMNS if c in table), None)
    if group is None:
        return []
    # every other label column splits blocks too (a construct, an outcome, a year)
    keys = [c for c in table.columns if c not in (group, STATUS_COLUMN) and c not in _NOT_KEYS
            and (c in _BLOCK_COLUMNS or _is_label(table[c]))]
    other_n = next((c for c in ("comparator_n", "others_n") if c in table), None)
    rate_cols = ("estimate", "comparator_estimate") if other_n != "others_n" else ("focus_estimate", "others_estimate")
    status = table.get(STATUS_COLUMN, pd.Series("", index=table.index)).astype(object).fillna("").astype(str)
    # the table's columns once, as arrays (numbers as floats, NaN where not shown): the audit finds the blocks
    # again after each step, and a table of intersections has hundreds
    number = {c: (pd.to_numeric(table[c], errors="coerce").astype(float).to_numpy() if c in table
                  else np.full(len(table), math.nan)) for c in ("n", *rate_cols, _MISSING, other_n or "n")}
    labels, words = table[group].to_numpy(dtype=object), status.to_numpy(dtype=object)
    repeated = pd.factorize(table[group])[0]  # a missing label repeats another missing one, as in ``duplicated``
    statistic = table["statistic"].astype(str).to_numpy() if "statistic" in table else np.full(len(table), "")
    out = []
    frames = table.groupby(keys, dropna=False, sort=False) if keys else [((), table)]
    for key, rows in frames:
        key = key if isinstance(key, tuple) else (key,)
        at = table.index.get_indexer(rows.index)
        if np.unique(repeated[at]).size < at.size:  # not one margin: leave it out rather than guess
            continue
        n, own = number["n"][at], number[rate_cols[0]][at]
        # a mean count per student adds up like a mean: n times it is the group's total
        kind = ("rate" if (statistic[at] == "rate").all() else
                "mean" if np.isin(statistic[at], ["mean", "count"]).all() else "")
        total = successes = total_sum = math.nan
        if other_n is not None:
            other = number[other_n][at]
            total = _same(n + other)
            if kind and rate_cols[1] in rows:
                both = own * n + number[rate_cols[1]][at] * other
                successes, total_sum = (_same(np.round(both), 0.5), math.nan) if kind == "rate" else \
                                       (math.nan, _same(both, 1e-6 * (1 + np.abs(both[~np.isnan(both)]).max(
                                           initial=0.0))))
        elif "share" in rows and not np.isnan(n).any():
            total = float(n.sum())  # shares of the total: the groups add up to it
        cells = [_cell(index, label, row_n, share, missed, row_words, kind, min_n, rate_cols[0])
                 for index, label, row_n, share, missed, row_words in zip(
                     rows.index, labels[at].tolist(), n.tolist(), own.tolist(), number[_MISSING][at].tolist(),
                     words[at].tolist())]
        population = tuple((k, v) for k, v in zip(keys, key) if k not in _SAME_POPULATION_IGNORES)
        # groups of a by-subgroup table cover everyone (Unknown included): their sizes add up to the
        # total; a scan may leave groups out, so there they add up to at most the total
        out.append({"table": name, "key": dict(zip(keys, key)), "population": population,
                    # a block of one row lists only the focus group: "all others" are not rows of it
                    "partition": (other_n == "comparator_n" or "share" in rows) and len(rows) > 1, "kind": kind,
                    "has_missing": _MISSING in rows,
                    "total": total, "successes": successes, "sum": total_sum,
                    "shares": _share_bounds(rows, pd.Series(n, index=rows.index)) if "share" in rows else [],
                    "cells": cells})
    return _share_totals(out)


def _cell(index, label, row_n: float, share: float, missing: float, words: str, kind: str, min_n: int,
          share_column: str) -> dict:
    """One row of a block, as the linear programs read it."""
    shown_share = not (math.isnan(share) or math.isnan(row_n))
    return {"index": index, "group": str(label), "n": row_n, "small": _FEW in words, "withheld": math.isnan(row_n),
            "successes": float(np.round(share * row_n)) if kind == "rate" and shown_share else math.nan,
            "coded": _coded_count(words, row_n, min_n, share=share_column)
            if kind == "rate" and not shown_share and not math.isnan(row_n) else None,
            "sum": share * row_n if kind == "mean" and shown_share else math.nan,
            "missing": missing, "missing_small": f"small_count:{_MISSING}" in words.split(";")}


def _same(values, tolerance: float = 0.0) -> float:
    """The value all of ``values`` agree on (within ``tolerance``), else NaN; missing values are left out."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size or np.abs(values - values[0]).max() > tolerance:
        return math.nan
    return float(values[0])


def _share_totals(blocks: list[dict]) -> list[dict]:
    """Blocks of the same students (other subgroups of one table) share their totals.

    The total of every subgroup's block is the whole population, and so are its
    outcome count and its sum: a fully shown subgroup states what a withheld one hides.
    """
    def link(block, field):
        same = tuple((k, v) for k, v in block["key"].items() if k != "subgroup")
        # an outcome count or a sum is the whole population's only where the sizes add up to the same total
        return same if field == "total" else (same, block["total"])

    for field in ("total", "successes", "sum"):
        known = {}
        for block in blocks:
            if np.isfinite(block[field]):
                known.setdefault(link(block, field), block[field])
        for block in blocks:
            if not np.isfinite(block[field]) and link(block, field) in known:
                block[field] = known[link(block, field)]
    for block in blocks:
        # blocks of unknown total are not known to be the same students as another table's: not merged
        total = block["total"] if np.isfinite(block["total"]) else f"total unknown: {block['table']}"
        block["population"] = (block["population"], total)
    return blocks


_MISSING = "n_missing"
_PERCENT = re.compile(r"^\s*(-?\d+(?:\.(\d+))?)\s*%\s*$")


def _share_bounds(rows: pd.DataFrame, n: pd.Series) -> list[tuple[float, float, float]]:
    """``(n, low, high)`` for each shown share of the total: the share as printed, plus or minus half its last digit."""
    out = []
    for index, value in rows["share"].items():
        if pd.isna(n[index]) or pd.isna(value):
            continue
        text = str(value).strip()
        match = _PERCENT.match(text)
        if match:
            share, digits, scale = float(match.group(1)), len(match.group(2) or ""), 100.0
        else:
            share = _number(text)
            if not np.isfinite(share):
                continue
            digits, scale = len(text.split(".")[1]) if "." in text and "e" not in text.lower() else 12, 1.0
        half = 0.5 * 10.0 ** -digits
        out.append((float(n[index]), max(share - half, 0.0) / scale, min(share + half, scale) / scale))
    return out


def _coded_count(words: str, n: float, min_n: int, share: str = "estimate") -> tuple[float, float] | None:
    """The range a reader knows for the count behind a share the gate did not show (None if not coded).

    Only the words about the row's own ``share`` count: a small count of the
    comparator's outcome (``small_count:comparator_estimate``) says nothing
    about this group's, and reading it so made the tables look inconsistent,
    which turned the audit's checks of ``n_missing`` off.

    >>> _coded_count("small_count:comparator_estimate;complementary_share", 110, 10)
    (0.0, 110)
    >>> _coded_count("small_count:estimate", 34, 10)
    (1.0, 9.0)
    """
    codes = {w.split(":")[0] for w in words.split(";") if w.split(":")[-1] in (w.split(":")[0], share)}
    if "small_count" in codes:
        return 1.0, float(min(min_n - 1, n))
    if "small_complement" in codes:
        return float(max(n - min_n + 1, 0)), n - 1.0
    band = next((b for b in DEFAULT_BANDS if b.min_n <= n <= b.max_n and b.bottom is not None), None)
    if "bottom_coded" in codes and band:
        return 0.0, math.floor((band.bottom + band.step / 2) / 100 * n)
    if "top_coded" in codes and band:
        return math.ceil((band.top - band.step / 2) / 100 * n), n
    if codes & {"top_coded", "bottom_coded", "complementary_share"}:
        return 0.0, n
    return None


def _bounds(blocks: list[dict], min_n: int, *, linked: bool = True, outcomes: bool = True, missing: bool = True,
            partial: list | None = None, skip=frozenset(), only=None, screen: float | None = None):
    """Every withheld count's range, given everything published: one linear program.

    Variables: the withheld n of each group (shared by every table of the same
    population, that is the same subgroup, school, year and total), the
    withheld count with the outcome of each rate row (a shown row whose share
    is coded too, within its code's range), the withheld sum (n times the mean)
    of each mean row, for shares of an unknown total that total, and each
    withheld ``n_missing``: ``n + n_missing`` is the group's size in every
    table of the same subgroup, whatever the measure. Returns
    ``{variable: (low, high)}`` and, per variable, the (table, block number, row
    index) cells it stands for. Variables in ``skip`` (known to be wide) are
    not bounded, and with ``only`` just those are. With ``screen``, a count
    seen at least that far apart in two solutions is given that range, not its
    full one (enough to know it is not pinned).
    """
    variables: dict[tuple, int] = {}
    cells_of: dict[tuple, list] = {}
    known: dict[tuple, float] = {}
    lower: dict[tuple, float] = {}
    upper: dict[tuple, float] = {}

    def add(var, low=0.0, high=None):
        variables.setdefault(var, len(variables))
        lower[var], upper[var] = low, high

    for b, block in enumerate(blocks):
        for cell in block["cells"]:
            var = ("n", block["population"], cell["group"])
            if not cell["withheld"]:
                known[var] = cell["n"]
                continue
            variables.setdefault(var, len(variables))
            cells_of.setdefault(var, []).append((block["table"], b, cell["index"]))
            if cell["small"]:
                lower[var], upper[var] = 1.0, float(min_n - 1)
            else:
                lower[var] = max(lower.get(var, 0.0), float(min_n))
    for var in list(variables):
        if var in known:  # withheld here, shown in another table of the same students: no secret
            lower[var] = upper[var] = known[var]
            cells_of.pop(var)
    rows, rhs = [], []

    def equation(coefficients, sign, value):
        if np.isfinite(value):
            rows.append(coefficients)
            rhs.append((sign, value))

    scopes = _missing_scopes(blocks, min_n) if missing else [0] * len(blocks)
    for b, block in enumerate(blocks):
        withheld = [c for c in block["cells"] if c["withheld"]]
        hidden = [("n", block["population"], c["group"]) for c in withheld]
        sign = "=" if block["partition"] else "<="
        shown_n = sum(c["n"] for c in block["cells"] if not c["withheld"])
        if hidden and np.isfinite(block["total"]):
            equation({variables[v]: 1.0 for v in hidden}, sign, block["total"] - shown_n)
        elif hidden and block["shares"]:
            total = ("total", block["table"], b)
            add(total, shown_n)
            for size, low, high in block["shares"]:  # low * total <= size <= high * total
                equation({variables[total]: low}, "<=", size)
                equation({variables[total]: -high}, "<=", -size)
            equation({**{variables[v]: 1.0 for v in hidden}, variables[total]: -1.0}, sign, -shown_n)
        if outcomes and block["kind"] == "rate":
            unknown = {}
            for cell in block["cells"]:
                if not (cell["withheld"] or cell["coded"]):
                    continue
                var = ("successes", block["table"], b, cell["group"])
                cells_of.setdefault(var, []).append((block["table"], b, cell["index"]))
                if cell["withheld"]:
                    add(var)
                    n_var = variables[("n", block["population"], cell["group"])]
                    equation({variables[var]: 1.0, n_var: -1.0}, "<=", 0.0)  # at most the group's students
                else:
                    add(var, *cell["coded"])
                unknown[variables[var]] = 1.0
            shown = sum(c["successes"] for c in block["cells"] if np.isfinite(c["successes"]))
            if unknown:
                equation(unknown, sign, block["successes"] - shown)
        if missing and block["has_missing"]:
            _missing_equations(block, b, min_n, variables, cells_of, add, equation, scope=scopes[b])
        if block["kind"] == "mean" and withheld:
            unknown = {}
            for cell in withheld:
                var = ("sum", block["table"], b, cell["group"])
                cells_of.setdefault(var, []).append((block["table"], b, cell["index"]))
                add(var, None, None)
                unknown[variables[var]] = 1.0
            shown = sum(c["sum"] for c in block["cells"] if np.isfinite(c["sum"]))
            if block["partition"]:
                equation(unknown, "=", block["sum"] - shown)
    if not variables:
        return {}, cells_of
    size = len(variables)
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for coefficients, value in zip(rows, rhs):
        line = np.zeros(size)
        for k, coef in coefficients.items():
            line[k] = coef
        (a_eq if value[0] == "=" else a_ub).append(line)
        (b_eq if value[0] == "=" else b_ub).append(value[1])
    order = sorted(variables, key=variables.get)
    box = [(lower.get(v, 0.0), upper.get(v)) for v in order]
    out = {}
    wanted = [v for v in order if v in cells_of and v not in skip and (only is None or v in only)]
    program = Program(a_eq, b_eq, a_ub, b_ub, box) if wanted else None
    again = dict(skip=skip, only=only, screen=screen)
    # every solution is a release consistent with what was published: a count that already took values
    # at least ``screen`` apart in two of them is not pinned, and needs no program of its own
    seen = np.array([np.full(size, np.inf), np.full(size, -np.inf)])
    for var in wanted:
        ends = []
        for direction in (1.0, -1.0):
            k = variables[var]
            if screen is not None and seen[1, k] - seen[0, k] >= screen:
                ends = [seen[0, k], seen[1, k]]
                break
            status, optimum, solution = program.solve(k, direction)
            # each way out checks less; ``partial`` keeps what was left out, for the ledger
            if status == INFEASIBLE and missing:  # measures of other students (another year, another grade span)
                _note(partial, _PARTIAL["missing"])
                return _bounds(blocks, min_n, linked=linked, outcomes=outcomes, missing=False, partial=partial,
                               **again)
            if status == INFEASIBLE and linked:  # the tables do not describe the same students after all
                _note(partial, _PARTIAL["linked"])
                return _bounds_alone(blocks, min_n, partial=partial, **again)
            if status == INFEASIBLE and outcomes:  # rounded shares that do not add up: sizes only
                _note(partial, _PARTIAL["outcomes"])
                return _bounds(blocks, min_n, linked=False, outcomes=False, missing=False, partial=partial,
                               **again)
            if status == INFEASIBLE:
                raise ReleaseError(f"the disclosure audit found the published tables inconsistent "
                                   f"({sorted({b['table'] for b in blocks})})")
            ends.append(-direction * math.inf if status == UNBOUNDED else direction * optimum)
            if solution is not None:
                seen = np.array([np.minimum(seen[0], solution), np.maximum(seen[1], solution)])
        out[var] = (ends[0], ends[1])
    return out, cells_of


def _missing_scopes(blocks: list[dict], min_n: int = 10) -> list[int]:
    """For each block, which students its sizes are of: blocks stating different sizes of one group differ.

    A table of all years and one of the latest year both list a subgroup's
    groups with ``n`` and ``n_missing``; their sums are the sizes of different
    students. Blocks are put together (first fit, in order) while the sizes
    they state agree (a shown ``n`` is at most its group's size; a small
    ``n_missing`` puts the size 1 to ``min_n - 1`` above it), so the sizes of
    each set of students are linked and the others are not forced into one.

    >>> a = {"has_missing": True, "cells": [{"group": "x", "n": 8.0, "missing": 2.0, "withheld": False}]}
    >>> b = {"has_missing": True, "cells": [{"group": "x", "n": 30.0, "missing": 0.0, "withheld": False}]}
    >>> _missing_scopes([a, b, a])
    [0, 1, 0]
    """
    known: list[tuple[dict, dict]] = []  # per set of students: exact sizes, and ranges of sizes
    out = []
    for block in blocks:
        cells = [c for c in block["cells"] if block["has_missing"] and not c["withheld"]]
        sizes = {c["group"]: c["n"] + c["missing"] for c in cells if np.isfinite(c["missing"])}
        ranges = {c["group"]: (c["n"] + 1, c["n"] + min_n - 1) if c.get("missing_small") else (c["n"], math.inf)
                  for c in cells if not np.isfinite(c["missing"])}

        def fits(seen):
            exact, bounded = seen
            inside = lambda v, r: r[0] - 0.5 < v < r[1] + 0.5  # noqa: E731
            return (all(abs(exact[g] - v) < 0.5 for g, v in sizes.items() if g in exact)
                    and all(inside(exact[g], r) for g, r in ranges.items() if g in exact)
                    and all(inside(v, bounded[g]) for g, v in sizes.items() if g in bounded))

        scope = next((k for k, seen in enumerate(known) if fits(seen)), len(known))
        if scope == len(known):
            known.append(({}, {}))
        known[scope][0].update(sizes)
        known[scope][1].update(ranges)
        out.append(scope)
    return out


def _missing_equations(block: dict, b: int, min_n: int, variables: dict, cells_of: dict, add, equation, *,
                       scope: int = 0) -> None:
    """``n + n_missing = size`` for each row: the size is shared by every table of the same students.

    A shown row states its group's size; a withheld one, or a shown row whose
    ``n_missing`` is a small count or withheld, leaves it to the other tables of its
    ``scope`` (:func:`_missing_scopes`), at least its ``n``.
    """
    for cell in block["cells"]:
        size = ("size", block["population"][0], scope, cell["group"])
        if size not in variables:
            add(size)
        if not cell["withheld"] and np.isfinite(cell["missing"]):
            equation({variables[size]: 1.0}, "=", cell["n"] + cell["missing"])
            continue
        # a shown row whose n_missing is not printed still says its group has at least n students
        var = ("missing", block["table"], b, cell["group"])
        cells_of.setdefault(var, []).append((block["table"], b, cell["index"]))
        add(var, *((1.0, float(min_n - 1)) if cell["missing_small"] else (0.0, None)))
        if cell["withheld"]:
            equation({variables[("n", block["population"], cell["group"])]: 1.0, variables[var]: 1.0,
                      variables[size]: -1.0}, "=", 0.0)
        else:
            equation({variables[var]: 1.0, variables[size]: -1.0}, "=", -cell["n"])


#: What the audit leaves out when the tables of one population do not add up as one.
_PARTIAL = {"missing": "students without a value were not linked across tables (they describe other students: "
                       "another year or grade span)",
            "linked": "each table was checked on its own (together they do not describe the same students)",
            "outcomes": "only group sizes were checked (rounded shares do not add up)"}


def _note(partial: list | None, words: str) -> None:
    if partial is not None and words not in partial:
        partial.append(words)


def _exposed(bounds: dict, min_width: float = 1.0, min_n: int | None = None) -> list[tuple]:
    """The variables a reader can work out: a count known to within less than ``min_width``, a sum exactly.

    With ``min_n``, an ``n_missing`` pinned at 0 or at ``min_n`` or more is not
    counted: the gate prints such a value in any shown row, so working it out
    gives away nothing the rules protect.

    >>> _exposed({("n", "p", "a"): (4.0, 4.0), ("n", "p", "b"): (10.0, 30.0), ("sum", "t", 0, "c"): (2.5, 2.5)})
    [('n', 'p', 'a'), ('sum', 't', 0, 'c')]
    """
    out = []
    for var, (low, high) in bounds.items():
        # a sum of a measure has no unit of one student: only exact recovery counts, up to rounding in the CSV
        width = (1e-6 * (1 + abs(low))) if var[0] == "sum" else min_width - 1e-9
        if high - low < width and not (min_n and var[0] == "missing" and _publishable_missing(low, high, min_n)):
            out.append(var)
    return out


def _publishable_missing(low: float, high: float, min_n: int) -> bool:
    """Whether an ``n_missing`` known to lie in ``[low, high]`` is one the gate would print anyway."""
    return high < 0.5 or low > min_n - 0.5


def _bounds_alone(blocks: list[dict], min_n: int, partial: list | None = None, **options):
    """:func:`_bounds` with every table's populations kept apart (no linking across tables)."""
    apart = [{**block, "population": ((block["table"], block["population"][0]), block["population"][1])}
             for block in blocks]
    return _bounds(apart, min_n, linked=False, partial=partial, **options)


def audit_release(run_dir: str | Path, *, min_n: int = 10, min_width: float = 1.0) -> pd.DataFrame:
    """Check the released tables of a run jointly; withhold more, or refuse a table, until none gives a group away.

    Each table is passed through :func:`protect` again (with the run's
    ``min_n``). Then, over all tables together, every withheld group size and
    every withheld count of students with an outcome is bounded by linear
    programming (HiGHS, :class:`~equity_audit.ranges.Program`): block totals (``n``
    plus ``comparator_n`` or ``others_n``), outcome totals (rate times n plus
    the comparator's), the same groups' sizes in other tables of the same
    students, and what each status word says (``small_n``: 1 to ``min_n - 1``;
    ``complementary``: ``min_n`` or more). A withheld count whose range is
    narrower than ``min_width`` (1: known exactly) is protected by withholding
    the smallest shown row of its block (status ``audit``), and the audit runs
    again. When nothing is left to withhold, the table is moved to
    ``confidential/withheld_tables/`` and the ledger says why.

    Parameters
    ----------
    run_dir : str or Path
        The run folder; ``tables/*.csv`` are read and rewritten.
    min_n : int, default 10
    min_width : float, default 1
        Smallest range a withheld count may have.

    Returns
    -------
    pandas.DataFrame
        The ledger, also written as ``tables/disclosure_audit.csv``: one row per
        action with ``table``, ``block``, ``group``, ``action`` and ``reason``.
        It holds no values, only what was done.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> run = tempfile.mkdtemp()
    >>> _ = (Path(run) / "tables").mkdir()
    >>> pd.DataFrame({"subgroup": "x", "group": ["A", "B", "C"], "n": [40, 30, 4],
    ...               "comparator_n": [34, 44, 70]}).to_csv(f"{run}/tables/t.csv", index=False)
    >>> audit_release(run)[["table", "group", "action"]].values.tolist()
    [['t', 'B', 'withheld (audit)']]
    """
    run_dir = Path(run_dir)
    folder = run_dir / "tables"
    tables = {path.stem: table for path in sorted(folder.glob("*.csv"))
              if (table := _released(path, min_n)) is not None}
    ledger: list[dict] = []
    refused: set[str] = set()
    found = {name: _blocks(name, t, min_n) for name, t in tables.items()}
    # blocks of different populations share no variable: each is its own linear program
    # blocks of one subgroup (school, year) share the sizes of its groups, whatever the measure and total
    todo = list(dict.fromkeys(b["population"][0] for blocks in found.values() for b in blocks))
    remembered: list[dict] = []
    if _CLEAN_RUN[0] != str(run_dir.resolve()):
        _CLEAN.clear()
        _CLEAN_RUN[0] = str(run_dir.resolve())
    # withholding more only widens every range, so a count once found wide stays wide while the program
    # is posed the same way (the same checks left out): only the others are bounded again
    wide: dict[tuple, set] = {}
    said: set[tuple] = set()
    # each round bounds every population (one posed as before that was clean is not solved again), then
    # withholds what all of them need at once: a table is protected again once a round, not once a population
    while True:
        marks, refused_before = [], set(refused)
        for population in todo:
            blocks = [b for name in tables if name not in refused for b in found[name]
                      if b["population"][0] == population]
            marks += _population_marks(blocks, population, ledger=ledger, said=said, wide=wide, refused=refused,
                                       min_n=min_n, min_width=min_width)
        if marks:
            _withhold(tables, found, marks, ledger=ledger, remembered=remembered, min_n=min_n)
        elif refused == refused_before:
            break
    for name, table in tables.items():
        if name in refused:
            target = run_dir / "confidential" / "withheld_tables"
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder / f"{name}.csv"), target / f"{name}.csv")
            (target / "README.txt").write_text(
                "Tables the disclosure audit refused to publish: see tables/disclosure_audit.csv.\n",
                encoding="utf-8")
        else:
            inert_cells(table).to_csv(folder / f"{name}.csv", index=False)
    out = pd.DataFrame(ledger, columns=["table", "block", "group", "action", "reason"])
    newly = _record_audited(run_dir, remembered)
    written, previous = out, folder / f"{AUDIT_TABLE}.csv"
    if (run_dir / "confidential" / AUDITED_FILE).is_file() and previous.is_file():
        # a later pass re-audits tables that carry the earlier passes' withholdings: keep their reasons
        written = pd.concat([restore_cells(pd.read_csv(previous, keep_default_na=False)), out],
                            ignore_index=True).drop_duplicates(ignore_index=True)
    inert_cells(written).to_csv(previous, index=False)
    out.attrs["newly_withheld"] = newly
    return out


#: Populations of the last run audited whose linear program found nothing to withhold, by
#: :func:`_posed_before`: what it left out. The second audit of a run reads tables the second pass wrote
#: with the first audit's withholdings, and most of its programs are posed exactly as the first audit's
#: last ones were. Kept for one run folder at a time.
_CLEAN: dict[str, tuple] = {}
_CLEAN_RUN: list[str] = [""]


def _posed_before(blocks: list[dict], min_n: int, min_width: float) -> str:
    """A digest of everything a population's program reads: the same digest, the same program."""
    return hashlib.sha1(repr((min_n, min_width, blocks)).encode()).hexdigest()


def _population_marks(blocks: list[dict], population, *, ledger: list, said: set, wide: dict, refused: set,
                      min_n: int, min_width: float) -> list[tuple]:
    """What one population needs withheld this round (marks for :func:`_withhold`); none when it is safe.

    A population none of whose rows can be withheld to protect an exposed count has the tables of that
    count refused (added to ``refused``, said in the ledger).
    """
    posed_before = _posed_before(blocks, min_n, min_width)
    if posed_before in _CLEAN:  # the same program found nothing to withhold
        _say_once(ledger, said, blocks, "checked in part", "; ".join(_CLEAN[posed_before]))
        return []
    try:
        bounds, cells_of, partial, posed = _bounds_again(blocks, min_n, wide, population, min_width)
    except ReleaseError:
        _say_once(ledger, said, blocks, "not checked",
                  "these tables do not add up as one population; checked table by table only")
        return []
    exposed = _exposed(bounds, min_width, min_n)
    wide[posed] |= set(bounds) - set(exposed)
    if not exposed:
        _say_once(ledger, said, blocks, "checked in part", "; ".join(partial))
        _CLEAN[posed_before] = tuple(partial)
        return []
    # a count pinned only through other tables' n + n_missing: withholding those n_missing keeps every row
    marks = _link_marks(blocks, exposed, cells_of, min_n, min_width) or _complements(exposed, cells_of, blocks)
    if marks:
        return marks
    var = exposed[0]  # nothing in its blocks, and no n_missing, can be withheld for any exposed count
    for table_name in sorted({t for t, _b, _i in cells_of[var]}):
        refused.add(table_name)
        ledger.append({"table": table_name, "block": "", "group": "", "action": "not published",
                       "reason": f"the withheld {_WHAT[var[0]]} of {var[-1]} can be worked out from the "
                                 "released tables whatever else is withheld; moved to confidential/"})
    return []


def _say_once(ledger: list, said: set, blocks: list[dict], action: str, reason: str) -> None:
    """A ledger row about a population's tables, once per audit (nothing when there is nothing to say)."""
    row = (", ".join(sorted({b["table"] for b in blocks})), action, reason)
    if reason and row not in said:
        said.add(row)
        ledger.append({"table": row[0], "block": "", "group": "", "action": action, "reason": reason})


def _withhold(tables: dict, found: dict, marks: list[tuple], *, ledger: list, remembered: list,
              min_n: int) -> None:
    """Withhold the marked cells, say why in the ledger, and protect each table they are in again.

    Each mark is ``(table, block key, cell, status word, reason)``. A table is
    protected, and its blocks found again, once for all its marks.
    """
    for table_name in dict.fromkeys(mark[0] for mark in marks):
        table = tables[table_name]
        for _t, key, cell, code, reason in (mark for mark in marks if mark[0] == table_name):
            remembered.append(_remembered_cell(table.loc[cell["index"]], code, table_name, key))
            table.loc[cell["index"], STATUS_COLUMN] = _join_new(table.loc[cell["index"], STATUS_COLUMN], code)
            ledger.append({"table": table_name, "block": _describe(key), "group": cell["group"],
                           "action": f"withheld ({code})", "reason": reason})
        tables[table_name] = protect(table, min_n=min_n, name=table_name)
        found[table_name] = _blocks(table_name, tables[table_name], min_n)


def _link_marks(blocks: list[dict], exposed: list[tuple], cells_of: dict, min_n: int,
                min_width: float) -> list[tuple]:
    """The ``n_missing`` to withhold this round (marks for :func:`_withhold`), or none to withhold rows.

    The first exposed count that only the ``n_missing`` links pin decides: an
    ``n_missing`` itself, or a count pinned only through them (two linear
    programs to know). Its links are withheld if it has any; without links it
    is protected like the others, by a row or a share. So the question is
    asked of a count only while some count from it on has links: past the last
    of those, whatever the answer, rows are withheld.
    """
    links = [_missing_links(blocks, var, cells_of[var]) for var in exposed]
    last = max((k for k, found in enumerate(links) if found), default=-1)
    first = next((k for k, var in enumerate(exposed[:last + 1])
                  if var[0] == "missing" or _pinned_only_through_missing(blocks, var, min_n, min_width)), None)
    if first is None:
        return []
    var = exposed[first]
    return [(table_name, blocks[b]["key"], cell, f"audit:{_MISSING}",
             f"with the group sizes of other tables it gave away the withheld {_WHAT[var[0]]} of {var[-1]}")
            for table_name, b, cell in links[first]]


def _missing_links(blocks: list[dict], var: tuple, own: list) -> list[tuple[str, int, dict]]:
    """The shown ``n_missing`` that state sizes pinning ``var``: its group's first, else every group's.

    Each is ``(table, block number, cell)``; the cells ``var`` stands for are not among them.
    """
    own_rows = {(t, i) for t, _b, i in own}
    shown = [(block["table"], b, cell) for b, block in enumerate(blocks) if block["has_missing"]
             for cell in block["cells"] if not cell["withheld"] and np.isfinite(cell["missing"])
             and (block["table"], cell["index"]) not in own_rows]
    same = [link for link in shown if link[2]["group"] == str(var[-1])]
    return same or shown


def _bounds_again(blocks: list[dict], min_n: int, wide: dict, population,
                  screen: float = 1.0) -> tuple[dict, dict, list, tuple]:
    """:func:`_bounds` skipping the counts already found wide when the program was posed the same way.

    The same way: the same checks left out (``partial``) and the same sets of
    students linked through ``n_missing`` (:func:`_missing_scopes`): withholding
    more can make two tables' stated sizes agree, which links them and may pin
    what was wide. Returns the bounds, the cells of each variable, what was left
    out and the key of ``wide`` for the way it was posed.
    """
    scopes = tuple((b["table"], _describe(b["key"]), s) for b, s in zip(blocks, _missing_scopes(blocks, min_n)))
    for known in [k for k in wide if k[:2] == (population, scopes)] or [None]:
        partial: list[str] = []
        skip = wide[known] if known else frozenset()
        bounds, cells_of = _bounds(blocks, min_n, partial=partial, skip=skip, screen=screen)
        if known is None or tuple(partial) == known[2]:
            break
    else:  # posed another way than before: everything is bounded again
        partial = []
        bounds, cells_of = _bounds(blocks, min_n, partial=partial, screen=screen)
    key = (population, scopes, tuple(partial))
    wide.setdefault(key, set())
    return bounds, cells_of, partial, key


def _pinned_only_through_missing(blocks: list[dict], var: tuple, min_n: int, min_width: float) -> bool:
    """Whether ``var`` is pinned only because group sizes are linked through ``n_missing``."""
    try:
        alone, _ = _bounds(blocks, min_n, missing=False, only={var})
    except ReleaseError:
        return False
    return var in alone and var not in _exposed({var: alone[var]}, min_width, min_n)


def _remembered_cell(row: pd.Series, code: str, table: str, block: dict) -> dict:
    """What identifies a cell the audit withholds: its table, block and group, and for a chart or text that
    shows it without its table's name, its label, n and value."""
    label = row["intersection"] if "intersection" in row else row.get("group", "")
    value = next((row[c] for c in _VALUE_COLUMNS if c in row and pd.notna(row[c])), np.nan)
    return {"table": table, "block": json.dumps({k: _plain(v) for k, v in block.items()}, sort_keys=True),
            "label": str(label), "n": row.get("n", np.nan), "value": value, "code": code}


def _record_audited(run_dir: Path, cells: list[dict]) -> int:
    """Add ``cells`` to the run's record of audited cells; the number that were not recorded before."""
    if not cells:
        return 0
    path = run_dir / "confidential" / AUDITED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    before = _read_audited(path) if path.is_file() else None
    frame = pd.concat([before, pd.DataFrame(cells)], ignore_index=True)
    frame[["n", "value"]] = frame[["n", "value"]].apply(pd.to_numeric, errors="coerce")
    frame = frame.drop_duplicates(["table", "block", "label", "code"])  # a cell withheld again the same way
    inert_cells(frame).to_csv(path, index=False)  # labels are the district's text: no formula in any CSV
    return len(frame) - (0 if before is None else len(before))


_WHAT = {"n": "number of students", "successes": "number of students with the outcome",
         "sum": "mean (with the group's size)", "missing": "number of students without a value"}


def _complements(exposed: list[tuple], cells_of: dict, blocks: list[dict]) -> list[tuple]:
    """The rows or shares to withhold this round (marks for :func:`_withhold`): one per block at most.

    Exposed counts of different blocks are protected in the same round, so that each
    table is protected and the program solved again once per round rather than once
    per cell; a block gets one cell a round, since one more withheld cell often
    protects several of its counts at once.
    """
    picks, touched = [], set()
    for var in exposed:
        for table_name, b, index in cells_of[var]:
            if (table_name, b) in touched:
                break
            pick, code = _complement_for(var, blocks[b], index)
            if pick is not None:
                picks.append((table_name, blocks[b]["key"], pick, code, "with the other tables it gave away the "
                              f"withheld {_WHAT[var[0]]} of {var[-1]}"))
                touched.add((table_name, b))
                break
    return picks


def _complement_for(var: tuple, block: dict, index) -> tuple[dict | None, str]:
    """The shown cell to withhold so that ``var`` is no longer pinned, and the status word for it.

    An outcome count is protected by withholding one more share of its block
    (the smallest group whose share is shown), keeping every size; a size or a
    mean by withholding the smallest shown row; a small ``n_missing`` that the
    group's size in other tables gives back by withholding its own row.
    """
    own = next(c for c in block["cells"] if c["index"] == index)
    if var[0] == "missing" and not own["withheld"]:  # its size with the other tables' gives the count back
        return own, "audit"
    if var[0] == "successes":
        shares = [c for c in block["cells"] if np.isfinite(c["successes"]) and c["index"] != index and c["n"] > 0]
        if shares:
            return min(shares, key=lambda c: (c["n"], c["group"])), "complementary_share"
    shown = [c for c in block["cells"] if not c["withheld"] and c["n"] > 0 and c["index"] != index]
    if shown:
        return min(shown, key=lambda c: (c["n"], c["group"])), "audit"
    return None, ""


def _join_new(status: str, code: str) -> str:
    """``status`` with ``code`` added unless it is already one of its words."""
    return status if code in status.split(";") else _join(status, code)


def _join(status, code: str) -> str:
    status = "" if pd.isna(status) else str(status)
    return code if not status else f"{status};{code}"


def _describe(key: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in key.items())
