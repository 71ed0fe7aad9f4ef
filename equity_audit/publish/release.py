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
   ``small_count:<column>``.
3. A share coded at the top or bottom (the size bands of
   :func:`equity_audit.privacy.top_bottom_code`) hides its value, interval,
   difference, ratio and comparator (``top_coded`` / ``bottom_coded``).
4. Numeric columns stay numeric (blank where withheld); the reason is a word
   of :data:`STATUS_CODES` in the ``status`` column, several joined by ``;``.
5. Comparator and "all others" values of a withheld row are blank, so the
   complement row of a two-group subgroup never states the withheld group's value.

:func:`audit_release` then checks the released tables *together*: group
sizes and outcome counts that add up to the same totals within and across
tables are posed as one linear program (:func:`scipy.optimize.linprog`), and
any withheld count that it pins down is protected by withholding more rows,
or the table is moved to ``confidential/`` with a note. What was done is
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

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from equity_audit.data.text import inert_cells, restore_cells
from equity_audit.exceptions import EquityAuditError
from equity_audit.privacy import top_bottom_code

__all__ = ["protect", "audit_release", "shown_min_n", "is_count_column", "STATUS_CODES", "STATUS_COLUMN", "AUDIT_TABLE", "NOT_GATED",
           "ReleaseError"]

#: The column that says why a cell or row is not shown.
STATUS_COLUMN = "status"

#: Every status code, with its meaning (the README lists the same words).
STATUS_CODES = {
    "small_n": "the group has fewer than min_n students: every number of the row is withheld",
    "complementary": "withheld so that a small group cannot be worked out by subtraction",
    "no_students": "the group has no students: n is 0 and there is nothing to estimate",
    "small_count": "a count from 1 to min_n - 1 (the column follows the colon) is withheld",
    "top_coded": "the share is at or above the top code of its size band: value, interval and "
                 "comparison are withheld",
    "bottom_coded": "the share is at or below the bottom code of its size band: value, interval and "
                    "comparison are withheld",
    "audit": "withheld by the joint disclosure audit: together with other tables it gave a group away",
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
        return column.astype(float)
    text = column.astype("string").str.strip()
    codes = text.map(lambda v: _code_of(v) if isinstance(v, str) else None)
    numbers = pd.to_numeric(text.where(codes.isna() & (text != "")), errors="coerce")
    readable = numbers.notna() | codes.notna() | text.isna() | (text == "")
    if not readable.all() or numbers.notna().sum() == 0 and codes.notna().sum() == 0:
        return None
    return numbers.astype(float)


def _add_status(status: pd.Series, mask, code: str) -> pd.Series:
    mask = _bool(mask, status.index)
    joined = status.where(status == "", status + ";") + code
    new = status.where(~mask | status.str.split(";").map(lambda codes: code in codes), joined)
    return new


def _bool(mask, index) -> pd.Series:
    """A plain boolean Series (missing is False)."""
    series = mask if isinstance(mask, pd.Series) else pd.Series(mask, index=index)
    return series.astype(object).where(series.notna(), False).astype(bool)


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
    columns = [c for c in out.columns if c != STATUS_COLUMN]
    numeric = {c: s for c in columns if c not in _LABELS and (s := _numeric_column(out[c])) is not None}
    codes = {c: pd.Series([_code_of(v) for v in out[c].astype(object)], index=out.index, dtype=object)
             for c in numeric}
    count_columns = [c for c in numeric if is_count_column(c)]
    if _is_wide_count_table(numeric, out):
        count_columns = [c for c in numeric if c != out.columns[0]]

    # rule 1: withheld rows
    small = pd.Series(False, index=out.index)
    protecting = status.str.contains("complementary|audit", regex=True)
    zero = pd.Series(False, index=out.index)
    if "n" in numeric:
        n, n_code = numeric["n"], codes["n"]
        small |= ((n > 0) & (n < min_n)) | (n_code == "small_n")
        protecting |= n_code == "complementary"
        zero = n == 0
        if "suppressed" in out:
            flagged = out["suppressed"].astype("boolean").fillna(False).astype(bool)
            protecting |= flagged & (n >= min_n)
    small |= status.str.split(";").map(lambda c: "small_n" in c)
    withheld = small | protecting
    status = _add_status(status, small, "small_n")
    status = _add_status(status, protecting & ~small, "complementary")
    if "suppressed" in out:
        status = _add_status(status, zero & ~withheld, "no_students")
    for c, values in numeric.items():
        keep_zero = (c == "n") & zero
        numeric[c] = values.mask((withheld | zero) & ~keep_zero)
    for c in out.columns:
        if c in _FLAGS_KEPT or c == STATUS_COLUMN:
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
    hide = [c for c in numeric if c == rate_column or c.endswith(("_estimate", "_rate", "events"))
            or c in ("successes", "rate") or (_COMPARISON.match(c) and not is_count_column(c))]
    for word, mask in coded.items():
        mask = mask & ~withheld
        status = _add_status(status, mask, word)
        for c in hide:
            numeric[c] = numeric[c].mask(mask)

    # rule 2: small counts in rows that are shown
    for c in count_columns:
        values = numeric[c]
        low = (((values > 0) & (values < min_n)) | (codes[c] == "small_n")) & ~withheld
        if c == "n":
            continue
        status = _add_status(status, low, f"small_count:{c}")
        numeric[c] = values.mask(low)

    for c, values in numeric.items():
        whole = values.dropna()
        out[c] = values.round().astype("Int64") if c in count_columns and ((whole % 1) == 0).all() else values
    out[STATUS_COLUMN] = status.to_numpy()
    return out


def _is_our_status(column: pd.Series) -> bool:
    words = column.dropna().astype(str).str.split(";").explode().str.split(":").str[0]
    return bool(words[words != ""].isin(list(STATUS_CODES)).all())


# --------------------------------------------------------------------------- the joint audit

_GROUP_COLUMNS = ("intersection", "group")
_BLOCK_COLUMNS = ("subgroup", "columns", "school", "school_year", "opportunity", "measure", "statistic")
_SAME_POPULATION_IGNORES = ("opportunity", "measure", "statistic")  # same students, other measure
_FEW = "small_n"


def _number(value) -> float:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(number) if pd.notna(number) else math.nan


_NOT_KEYS = ("statement", "sentence", "intersection", "group")


def _is_label(column: pd.Series) -> bool:
    """A text column (not numbers, codes or flags): it names what a row is about."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return False
    return _numeric_column(column) is None


def _blocks(name: str, table: pd.DataFrame, min_n: int) -> list[dict]:
    """The margins of one released table: rows of a block add up to a total a reader can work out.

    A block is the rows of one subgroup (and school, year, measure) of the
    table. Its total is known when a shown row states ``n`` and its
    ``comparator_n`` (or ``others_n``): the rest of the block. For a rate, the
    block's count of students with the outcome is known the same way.
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
    status = table.get(STATUS_COLUMN, pd.Series("", index=table.index)).astype(object).fillna("").astype(str)
    out = []
    frames = table.groupby(keys, dropna=False, sort=False) if keys else [((), table)]
    for key, rows in frames:
        key = key if isinstance(key, tuple) else (key,)
        if rows[group].duplicated().any():  # not one margin: leave it out rather than guess
            continue
        n = pd.to_numeric(rows["n"], errors="coerce")
        total = successes = math.nan
        if other_n is not None:
            other = pd.to_numeric(rows[other_n], errors="coerce")
            totals = (n + other).dropna()
            total = float(totals.iloc[0]) if len(totals) and (totals == totals.iloc[0]).all() else math.nan
            rate_cols = ("estimate", "comparator_estimate") if other_n == "comparator_n" else \
                        ("focus_estimate", "others_estimate")
            is_rate = (rows["statistic"].astype(str) == "rate").all() if "statistic" in rows else False
            if is_rate and all(c in rows for c in rate_cols):
                both = (pd.to_numeric(rows[rate_cols[0]], errors="coerce") * n
                        + pd.to_numeric(rows[rate_cols[1]], errors="coerce") * other).dropna()
                successes = float(np.round(both.iloc[0])) if len(both) else math.nan
        own_rate = "estimate" if other_n == "comparator_n" else "focus_estimate"
        cells = []
        for index, row_n in n.items():
            words = status[index]
            est = _number(rows.at[index, own_rate]) if own_rate in rows else math.nan
            cells.append({"index": index, "group": str(rows.at[index, group]), "n": row_n,
                          "small": _FEW in words, "withheld": pd.isna(row_n),
                          "successes": est * row_n if pd.notna(row_n) and pd.notna(est) else math.nan})
        population = tuple((k, v) for k, v in zip(keys, key) if k not in _SAME_POPULATION_IGNORES)
        # groups of a by-subgroup table cover everyone (Unknown included): their sizes add up to the
        # total; a scan may leave groups out, so there they add up to at most the total
        out.append({"table": name, "key": dict(zip(keys, key)), "population": (population, total),
                    "partition": other_n == "comparator_n",
                    "total": total, "successes": successes, "cells": cells})
    return out


def _bounds(blocks: list[dict], min_n: int, *, linked: bool = True, outcomes: bool = True):
    """Every withheld count's range, given everything published: one linear program.

    Variables: the withheld n of each group (shared by every table of the same
    population, that is the same subgroup, school, year and total) and the
    withheld count with the outcome of each rate row. Returns ``{variable: (low, high)}``
    and, per variable, the (table, block number, row index) cells it stands for.
    """
    from scipy.optimize import linprog

    variables: dict[tuple, int] = {}
    cells_of: dict[tuple, list] = {}
    known: dict[tuple, float] = {}
    lower: dict[tuple, float] = {}
    upper: dict[tuple, float] = {}
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
    for b, block in enumerate(blocks):
        hidden = [("n", block["population"], c["group"]) for c in block["cells"] if c["withheld"]]
        if hidden and np.isfinite(block["total"]):
            shown = sum(c["n"] for c in block["cells"] if not c["withheld"])
            rows.append({variables[v]: 1.0 for v in hidden})
            rhs.append(("=" if block["partition"] else "<=", block["total"] - shown))
        if hidden and outcomes and np.isfinite(block["successes"]):
            shown = sum(c["successes"] for c in block["cells"] if not c["withheld"])
            row = {}
            for cell, var in zip([c for c in block["cells"] if c["withheld"]], hidden):
                s_var = ("successes", block["table"], b, cell["group"])
                variables.setdefault(s_var, len(variables))
                cells_of.setdefault(s_var, []).append((block["table"], b, cell["index"]))
                lower[s_var] = 0.0
                row[variables[s_var]] = 1.0
                rows.append({variables[s_var]: 1.0, variables[var]: -1.0})  # s <= n, as s - n <= 0
                rhs.append(("<=", 0.0))
            rows.append(row)
            rhs.append(("=" if block["partition"] else "<=",
                        block["successes"] - float(np.round(shown)) if np.isfinite(shown) else math.nan))
            if not np.isfinite(rhs[-1][1]):
                rows.pop(), rhs.pop()
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
    problem = dict(A_eq=np.array(a_eq) if a_eq else None, b_eq=np.array(b_eq) if b_eq else None,
                   A_ub=np.array(a_ub) if a_ub else None, b_ub=np.array(b_ub) if b_ub else None,
                   bounds=box, method="highs")
    out = {}
    for var in order:
        objective = np.zeros(size)
        objective[variables[var]] = 1.0
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(sign * objective, **problem)
            if res.status == 2 and linked:  # the tables do not describe the same students after all
                return _bounds_alone(blocks, min_n)
            if res.status == 2 and outcomes:  # rounded shares that do not add up: sizes only
                return _bounds(blocks, min_n, linked=False, outcomes=False)
            if res.status == 2:
                raise ReleaseError(f"the disclosure audit found the published tables inconsistent "
                                   f"({sorted({b['table'] for b in blocks})})")
            ends.append(math.inf if res.status == 3 else sign * res.fun)
        out[var] = (ends[0], ends[1])
    return {v: out[v] for v in cells_of}, cells_of


def _bounds_alone(blocks: list[dict], min_n: int):
    """:func:`_bounds` with every table's populations kept apart (no linking across tables)."""
    apart = [{**block, "population": (block["table"], block["population"])} for block in blocks]
    return _bounds(apart, min_n, linked=False)


def audit_release(run_dir: str | Path, *, min_n: int = 10, min_width: float = 1.0) -> pd.DataFrame:
    """Check the released tables of a run jointly; withhold more, or refuse a table, until none gives a group away.

    Each table is passed through :func:`protect` again (with the run's
    ``min_n``). Then, over all tables together, every withheld group size and
    every withheld count of students with an outcome is bounded by linear
    programming (:func:`scipy.optimize.linprog`, HiGHS): block totals (``n``
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
    tables: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.glob("*.csv")):
        if path.stem in NOT_GATED:
            continue
        try:
            tables[path.stem] = protect(restore_cells(pd.read_csv(path)), min_n=min_n, name=path.stem)
        except pd.errors.EmptyDataError:
            continue
    ledger: list[dict] = []
    refused: set[str] = set()
    found = {name: _blocks(name, t, min_n) for name, t in tables.items()}
    # blocks of different populations share no variable: each is its own linear program
    todo = list(dict.fromkeys(b["population"] for blocks in found.values() for b in blocks))
    while todo:
        population = todo[0]
        blocks = [b for name in tables if name not in refused for b in found[name]
                  if b["population"] == population]
        try:
            bounds, cells_of = _bounds(blocks, min_n)
        except ReleaseError:
            ledger.append({"table": ", ".join(sorted({b["table"] for b in blocks})), "block": "", "group": "",
                           "action": "not checked",
                           "reason": "these tables do not add up as one population; checked table by table only"})
            todo.pop(0)
            continue
        exposed = [v for v, (low, high) in bounds.items() if high - low < min_width - 1e-9]
        if not exposed:
            todo.pop(0)
            continue
        var = exposed[0]
        fixed = False
        for table_name, b, _index in cells_of[var]:
            block = blocks[b]
            shown = [c for c in block["cells"] if not c["withheld"] and c["n"] > 0]
            if shown:
                pick = min(shown, key=lambda c: (c["n"], c["group"]))
                table = tables[table_name]
                table.loc[pick["index"], STATUS_COLUMN] = _join(table.loc[pick["index"], STATUS_COLUMN], "audit")
                tables[table_name] = protect(table, min_n=min_n, name=table_name)
                found[table_name] = _blocks(table_name, tables[table_name], min_n)
                ledger.append({"table": table_name, "block": _describe(block["key"]), "group": pick["group"],
                               "action": "withheld (audit)",
                               "reason": f"with the other tables it gave away the withheld {_WHAT[var[0]]} "
                                         f"of {var[-1]}"})
                fixed = True
                break
        if not fixed:
            names = sorted({t for t, _b, _i in cells_of[var]})
            for table_name in names:
                refused.add(table_name)
                ledger.append({"table": table_name, "block": "", "group": "", "action": "not published",
                               "reason": f"the withheld {_WHAT[var[0]]} of {var[-1]} can be worked out from the "
                                         "released tables whatever else is withheld; moved to confidential/"})
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
    inert_cells(out).to_csv(folder / f"{AUDIT_TABLE}.csv", index=False)
    return out


_WHAT = {"n": "number of students", "successes": "number of students with the outcome"}


def _join(status, code: str) -> str:
    status = "" if pd.isna(status) else str(status)
    return code if not status else f"{status};{code}"


def _describe(key: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in key.items())
