"""Disclosure avoidance applied before any table is shown or written.

Published outputs of the audit are aggregates (FERPA). This module holds the
rules of ``methods.md`` section 3:

* :func:`small_cells` / :func:`publish_counts` -- primary suppression only, for
  a list of counts whose other members and totals are *not* published.
* :func:`suppress` / :func:`publish_table` -- primary **and complementary**
  suppression for a two-way table whose row and column totals are published.
* :func:`audit` -- the attacker's linear program: the interval each withheld
  cell could take given everything published.
* :func:`top_bottom_code` -- percentages near 0 or 100 coded as ``≤ x%`` /
  ``≥ y%`` with boundaries from size bands, never from the exact group size.
* :func:`pseudonymise` -- keyed hash of student ids for confidential files
  shared with a partner.

A count from 1 to ``min_n - 1`` could identify a student, so it is withheld.
Zero is shown: it discloses nothing about any individual student.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"2025": [120, 4, 0]}, index=["A", "B", "C"])
>>> small_cells(counts, min_n=10)["2025"].tolist()
[False, True, False]
>>> publish_counts(counts, min_n=10)["2025"].tolist()
['120', '<10', '0']
"""
from __future__ import annotations

import hashlib
import hmac
import math
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from equity_audit.ranges import OPTIMAL, UNBOUNDED, Program

__all__ = [
    "small_cells",
    "publish_counts",
    "suppress",
    "audit",
    "publish_table",
    "top_bottom_code",
    "pseudonymise",
    "Band",
    "DEFAULT_BANDS",
    "DisclosureWarning",
    "WITHHELD",
]

#: Display text of a withheld cell in :func:`publish_table` and :func:`top_bottom_code`.
WITHHELD = "withheld"


class DisclosureWarning(UserWarning):
    """A withheld cell can still be derived exactly from what is published.

    Raised (as a warning) by :func:`suppress` when no further suppression can
    protect a small cell, e.g. a row whose other cells are all zero while the
    columns of those zeros total zero. The caller must then not publish the
    margins involved (aggregate rows or columns, or drop the totals).
    """


def small_cells(counts: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """True where a count is above zero but below ``min_n`` (primary suppression)."""
    numeric = counts.apply(pd.to_numeric, errors="coerce")
    return (numeric > 0) & (numeric < min_n)


def publish_counts(counts: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """Counts as text, with suppressed cells shown as ``<min_n``."""
    shown = counts.astype("Int64").astype("string")
    return shown.mask(small_cells(counts, min_n=min_n), f"<{min_n}")


# --------------------------------------------------------------------------- tables


def _counts(table: pd.DataFrame) -> np.ndarray:
    """The table as a 2-D array of non-negative integer counts (or an error)."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of counts, got {type(table).__name__}")
    if all(dtype.kind in "iuf" for dtype in table.dtypes):  # already numbers: no conversion column by column
        values = table.to_numpy(dtype=float)
    else:
        values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if values.size and not np.isfinite(values).all():
        raise ValueError("the table has missing or non-numeric counts; fill or drop them first")
    if (values < 0).any() or (values != np.round(values)).any():
        raise ValueError("the table must hold non-negative whole counts")
    return values.astype(np.int64)


def _margins(shape: tuple[int, int]) -> tuple[bool, bool]:
    """Whether row totals and column totals count as published margins.

    A total over a single cell *is* that cell, so a one-column table has no
    row margins (only its column total) and a one-row table no column margins.
    """
    n_rows, n_cols = shape
    return n_cols > 1, n_rows > 1


def _lines(shape: tuple[int, int]) -> list[tuple[str, int]]:
    """Published margins in scanning order: rows first, then columns."""
    rows_m, cols_m = _margins(shape)
    out: list[tuple[str, int]] = []
    if rows_m:
        out += [("row", i) for i in range(shape[0])]
    if cols_m:
        out += [("col", j) for j in range(shape[1])]
    return out


def _useless_zero(values: np.ndarray, i: int, j: int) -> bool:
    """A zero cell in a margin that totals zero is known to be 0; withholding it protects nothing."""
    if values[i, j] != 0:
        return False
    rows_m, cols_m = _margins(values.shape)
    return bool((rows_m and values[i].sum() == 0) or (cols_m and values[:, j].sum() == 0))


def _close_margins(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Complementary suppression until no margin has exactly one withheld cell.

    Returns the new mask and the margins that could not be fixed (a single
    withheld cell and no cell left that could join it).
    """
    mask = mask.copy()
    lines = _lines(values.shape)
    rows_m, cols_m = _margins(values.shape)
    stuck: list[tuple[str, int]] = []
    while True:
        row_k, col_k = mask.sum(axis=1), mask.sum(axis=0)
        todo = [
            ln for ln in lines
            if ln not in stuck and (row_k if ln[0] == "row" else col_k)[ln[1]] == 1
        ]
        if not todo:
            return mask, stuck
        kind, k = todo[0]
        cells = [(k, j) for j in range(values.shape[1])] if kind == "row" else [(i, k) for i in range(values.shape[0])]
        best, best_key = None, None
        for order, (i, j) in enumerate(cells):
            if mask[i, j] or _useless_zero(values, i, j):
                continue
            if kind == "row":  # the crossing line is column j
                crossing = int(col_k[j]) if cols_m else -1
            else:
                crossing = int(row_k[i]) if rows_m else -1
            # tier 0: crossing margin has exactly one withheld cell (one cell fixes two margins)
            # tier 1: crossing margin already has >= 2 (or is no margin): no new singleton
            # tier 2: crossing margin has none: this creates a new singleton there
            tier = 0 if crossing == 1 else (2 if crossing == 0 else 1)
            key = (values[i, j] == 0, tier, values[i, j], order)
            if best_key is None or key < best_key:
                best, best_key = (i, j), key
        if best is None:
            stuck.append((kind, k))
        else:
            mask[best] = True


def _derivable(values: np.ndarray, mask: np.ndarray, cells=None) -> np.ndarray:
    """Withheld cells whose value is exactly determined by the published cells and margins.

    Combinatorial form of the LP audit. Moving the withheld cells while keeping
    every margin is a circulation on the bipartite graph rows x columns (lines
    that are no margin merge into one free node). A cell can grow iff a cycle
    through it alternates with cells that can shrink (value > 0); it can shrink
    iff it is > 0 and such a cycle exists the other way round. Directed graph:
    row -> column for every withheld cell ("+"), column -> row for withheld
    cells above zero ("-"). The transportation constraint matrix is totally
    unimodular, so a cell that is not determined has an LP interval of width >= 1.
    """
    n_rows, n_cols = values.shape
    rows_m, cols_m = _margins(values.shape)
    free = n_rows + n_cols

    def row_node(i):
        return i if rows_m else free

    def col_node(j):
        return n_rows + j if cols_m else free

    withheld = [tuple(c) for c in np.argwhere(mask)]
    out = np.zeros(values.shape, dtype=bool)
    targets = withheld if cells is None else [c for c in cells if mask[c]]
    for e in targets:
        u, v = row_node(e[0]), col_node(e[1])
        if u == v:  # neither line is a margin: unconstrained
            continue
        adj: dict[int, list[int]] = {}
        for c in withheld:
            if c == e:
                continue
            a, b = row_node(c[0]), col_node(c[1])
            adj.setdefault(a, []).append(b)
            if values[c] > 0:
                adj.setdefault(b, []).append(a)
        can_grow = _reaches(adj, v, u)
        can_shrink = values[e] > 0 and _reaches(adj, u, v)
        out[e] = not (can_grow or can_shrink)
    return out


def _reaches(adj: dict[int, list[int]], start: int, goal: int) -> bool:
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return True
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False


def suppress(table: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """Cells to withhold from a two-way count table whose totals are published.

    Parameters
    ----------
    table : pandas.DataFrame
        Counts, rows by columns (non-negative whole numbers). Its row totals
        and column totals (and so the grand total) are assumed to be published
        next to it. A total over a single cell is that cell itself, so a
        one-column table only has its column total as a margin (and a one-row
        table only its row total).
    min_n : int, default 10
        Minimum reportable count ``k``.

    Returns
    -------
    pandas.DataFrame
        Booleans of the same shape, index and columns: True where the cell
        must be withheld.

    Warns
    -----
    DisclosureWarning
        When a small cell remains exactly derivable however many cells are
        withheld (e.g. ``[[3, 0], [20, 0]]``: column 2 totals 0, so row 1
        total = the 3). Do not publish those margins then.

    Notes
    -----
    1. **Primary**: ``0 < x < min_n``. Zero is *not* sensitive and stays
       visible unless step 2 needs it (a zero says nothing about a student;
       100 % / 0 % outcomes are handled by :func:`top_bottom_code`). The
       complement rule ``0 < n - x < min_n`` for outcome counts is not applied
       here: pass the complement table too if it is published.
    2. **Complementary**, repeated until stable: scan the margins in order
       (rows top to bottom, then columns left to right); the first one with
       exactly one withheld cell gets one more. Candidates are its visible
       cells; the chosen one is the minimum of the key
       ``(is zero, tier, value, position in the line)`` where tier is 0 if the
       cell's other margin also has exactly one withheld cell (one cell fixes
       two margins), 1 if it already has two or more (no new singleton), 2 if
       it has none (creates a new singleton). So: a cell above zero before a
       zero; then the greedy choice that keeps the number withheld small; then
       the smallest count; then the first. A zero is withheld only when no
       cell above zero is left in the line, and never a zero whose other
       margin totals zero (it would be known to be 0 and protect nothing).
    3. **Audit and repair**: a margin rule alone can leave a cell derivable
       (e.g. a withheld cell bridging two separate rectangles of withheld
       cells). Each withheld cell is checked with the combinatorial form of the
       LP audit (a cycle of withheld cells along which it can move; see
       :func:`audit` for the LP itself). For the first derivable cell, the
       visible cells are tried in order -- same row or column first, above
       zero first, smallest, first -- and the first whose addition (followed
       by step 2) makes it non-derivable is withheld. Repeat until none is
       derivable or nothing helps (then :class:`DisclosureWarning` if a
       primary cell is among them).

    Everything is deterministic: the same table gives the same mask.
    The guarantee is non-degeneracy (:func:`audit` width >= 1 for every
    withheld cell), not a wider protection interval; check
    ``audit(..., min_width=...)`` if a wider one is required.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": [40, 30, 60], "b": [3, 50, 45], "c": [25, 20, 35]},
    ...                  index=["x", "y", "z"])
    >>> suppress(t).astype(int)
       a  b  c
    x  0  1  1
    y  0  0  0
    z  0  1  1
    >>> suppress(pd.DataFrame({"n": [120, 4, 0]}))["n"].tolist()  # one column: the total is the margin
    [True, True, False]
    """
    values = _counts(table)
    if values.ndim != 2 or values.size == 0:
        return pd.DataFrame(False, index=table.index, columns=table.columns)
    primary = (values > 0) & (values < min_n)
    mask, _ = _close_margins(values, primary)
    given_up: set[tuple[int, int]] = set()
    while True:
        bad = _derivable(values, mask)
        todo = [tuple(c) for c in np.argwhere(bad) if tuple(c) not in given_up]
        if not todo:
            break
        e = todo[0]
        fixed = None
        same_line = lambda c: c[0] == e[0] or c[1] == e[1]  # noqa: E731
        candidates = sorted(
            (tuple(c) for c in np.argwhere(~mask) if not _useless_zero(values, *c)),
            key=lambda c: (not same_line(c), values[c] == 0, values[c], c),
        )
        for c in candidates:
            trial = mask.copy()
            trial[c] = True
            trial, _ = _close_margins(values, trial)
            if not _derivable(values, trial, cells=[e])[e]:
                fixed = trial
                break
        if fixed is None:
            given_up.add(e)
        else:
            mask = fixed
    leaks = [c for c in sorted(given_up) if primary[c]]
    if leaks:
        names = ", ".join(f"({table.index[i]!r}, {table.columns[j]!r})" for i, j in leaks)
        warnings.warn(
            f"small cells {names} can be derived exactly from the published totals whatever "
            "else is withheld; do not publish the margins of this table (aggregate instead)",
            DisclosureWarning,
            stacklevel=2,
        )
    return pd.DataFrame(mask, index=table.index, columns=table.columns)


def audit(table: pd.DataFrame, withheld, *, min_width: float = 1) -> pd.DataFrame:
    """The attacker's linear program: the range each withheld cell could take.

    For every withheld cell, minimise and maximise its value subject to the
    published cells, the row and column totals (margins as in :func:`suppress`:
    a total over a single cell is not a separate margin) and non-negativity,
    with HiGHS (:class:`equity_audit.ranges.Program`).

    Parameters
    ----------
    table : pandas.DataFrame
        The true counts.
    withheld : pandas.DataFrame or array-like of bool
        Mask of the same shape, True where a cell is withheld (e.g. from
        :func:`suppress`).
    min_width : float, default 1
        Protection level for the ``protected`` column: ``high - low >= min_width``.
        Width 0 means the cell is disclosed exactly; use ``min_width=min_n``
        for a stricter rule.

    Returns
    -------
    pandas.DataFrame
        One row per withheld cell (row-major order) with columns ``row``,
        ``column`` (labels), ``low``, ``high`` (``inf`` if unbounded),
        ``width`` and ``protected``. It holds no true values: the interval is
        what anyone can work out from the published table, so it may be shared.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": [40, 30], "b": [3, 50]}, index=["x", "y"])
    >>> only_small = t < 10
    >>> audit(t, only_small)[["row", "column", "low", "high"]]  # derivable from the totals
      row column  low  high
    0   x      b  3.0   3.0
    >>> audit(t, suppress(t))[["row", "column", "low", "high", "protected"]]
      row column   low  high  protected
    0   x      a   0.0  43.0       True
    1   x      b   0.0  43.0       True
    2   y      a  27.0  70.0       True
    3   y      b  10.0  53.0       True
    """
    values = _counts(table)
    mask = np.asarray(withheld.to_numpy() if isinstance(withheld, pd.DataFrame) else withheld, dtype=bool)
    if mask.shape != values.shape:
        raise ValueError(f"withheld has shape {mask.shape}, the table {values.shape}")
    cells = [tuple(c) for c in np.argwhere(mask)]
    columns = ["row", "column", "low", "high", "width", "protected"]
    if not cells:
        return pd.DataFrame({c: [] for c in columns}).astype(
            {"low": float, "high": float, "width": float, "protected": bool}
        )
    index = {c: k for k, c in enumerate(cells)}
    a_rows, b = [], []
    for kind, k in _lines(values.shape):
        members = [c for c in cells if (c[0] if kind == "row" else c[1]) == k]
        if members:
            coef = np.zeros(len(cells))
            coef[[index[c] for c in members]] = 1.0
            a_rows.append(coef)
            b.append(float(sum(values[c] for c in members)))  # = total - published cells
    program = Program(a_rows, b, [], [], [(0.0, None)] * len(cells))
    lows, highs = [], []
    for k in range(len(cells)):
        bounds = []
        for sign in (1.0, -1.0):
            status, optimum, _ = program.solve(k, sign)
            if status == UNBOUNDED:
                bounds.append(math.inf)
            elif status != OPTIMAL:
                raise RuntimeError(f"audit LP failed for cell {cells[k]} (HiGHS status {status})")
            else:
                bounds.append(round(sign * optimum, 6) + 0.0)
        lows.append(bounds[0])
        highs.append(bounds[1])
    out = pd.DataFrame(
        {
            "row": [table.index[i] for i, _ in cells],
            "column": [table.columns[j] for _, j in cells],
            "low": lows,
            "high": highs,
        }
    )
    out["width"] = out["high"] - out["low"]
    out["protected"] = out["width"] >= min_width
    return out


def publish_table(table: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """A count table as display strings, withheld cells shown as ``"withheld"``.

    Applies :func:`suppress` (primary and complementary), so the caller may
    append the row and column totals of the *true* table afterwards.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": [40, 30, 60], "b": [3, 50, 45], "c": [25, 20, 35]},
    ...                  index=["x", "y", "z"])
    >>> publish_table(t)
        a         b         c
    x  40  withheld  withheld
    y  30        50        20
    z  60  withheld  withheld
    """
    mask = suppress(table, min_n=min_n)
    shown = pd.DataFrame(_counts(table), index=table.index, columns=table.columns).astype("string")
    return shown.mask(mask, WITHHELD)


# --------------------------------------------------------------------------- percentages


@dataclass(frozen=True)
class Band:
    """Reporting rule for groups of ``min_n`` to ``max_n`` students (inclusive).

    ``bottom`` / ``top``: percentages at or below / at or above which only
    ``"≤ bottom%"`` / ``"≥ top%"`` is shown. ``step``: rounding of the other
    percentages (10 = nearest ten, 1 = whole numbers, 0.1 = one decimal).
    ``bottom=None`` means nothing is reported for the band.
    """

    min_n: int
    max_n: float
    bottom: float | None
    top: float | None
    step: float | None


#: NCES 2011-603 reporting rules as recalled in methods.md section 3
#: **[UNVERIFIED -- recalled, check p. 27-28 of the PDF]**. The 6-15 band says
#: "coarse" there; rounding to tens is this package's choice.
DEFAULT_BANDS: tuple[Band, ...] = (
    Band(1, 5, None, None, None),
    Band(6, 15, 20, 80, 10),
    Band(16, 30, 10, 90, 1),
    Band(31, 60, 5, 95, 1),
    Band(61, 300, 2, 98, 1),
    Band(301, 3000, 1, 99, 0.1),
    Band(3001, math.inf, 0.1, 99.9, 0.1),
)


def _check_bands(bands: Sequence[Band]) -> None:
    for band in bands:
        if band.bottom is None:
            continue
        one_student = 100 / band.min_n
        if band.bottom < one_student - 1e-9 or band.top > 100 - one_student + 1e-9:
            raise ValueError(
                f"band {band.min_n}-{band.max_n}: codes {band.bottom}/{band.top} must be at least one "
                f"student of the smallest group ({one_student:.3g} %) from 0 and 100"
            )


def _fmt(x: float, step: float | None = None) -> str:
    if step is None:
        return f"{x:g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{x:.{decimals}f}"


def top_bottom_code(rates, n, *, bands: Sequence[Band] = DEFAULT_BANDS, scale: float = 100):
    """Percentages as display strings with top and bottom coding by group size.

    A percentage near 0 or 100 tells something about (nearly) every student in
    a group, so within each size band it is shown only as ``"≤ bottom%"`` or
    ``"≥ top%"``; other percentages are rounded to the band's step; groups in a
    band without a rule (default: 1-5 students) and sizes outside every band
    show ``"withheld"``. The boundaries come from the band table only --
    **never** from the exact group size (``< 100/n %`` would publish ``n``).
    Coding is decided on the rounded value, so no displayed number reaches a
    boundary. Missing rates show ``"n/a"``.

    Percentages whose numerator is a small count should still be withheld with
    the counts (:func:`suppress`); this function only handles the ends.

    Parameters
    ----------
    rates : scalar, array-like, Series or DataFrame
        Percentages on ``0..scale``.
    n : scalar or array-like
        Group sizes (denominators), broadcast against ``rates``.
    bands : sequence of Band, default DEFAULT_BANDS
        NCES 2011-603 table as recalled in methods.md (**unverified**, see
        :data:`DEFAULT_BANDS`). Each band's codes must be at least one student
        of its smallest group away from 0 and 100 (checked).
    scale : float, default 100
        ``1`` if ``rates`` are proportions.

    Returns
    -------
    str, numpy.ndarray, Series or DataFrame of str
        Same shape (and labels) as ``rates``.

    Examples
    --------
    >>> top_bottom_code(100, 25)
    '≥ 90%'
    >>> top_bottom_code([0.0, 47.6, 96.0, 50.0, 12.34], [25, 25, 40, 4, 4000]).tolist()
    ['≤ 10%', '48%', '≥ 95%', 'withheld', '12.3%']
    >>> top_bottom_code(0.999, 5000, scale=1)
    '≥ 99.9%'
    """
    _check_bands(bands)
    r = np.asarray(rates, dtype=float) * (100.0 / scale)
    size = np.broadcast_to(np.asarray(n, dtype=float), r.shape)
    if np.nanmin(np.append(r.ravel(), 0)) < 0 or np.nanmax(np.append(r.ravel(), 0)) > 100 + 1e-9:
        raise ValueError(f"rates must lie between 0 and {scale}")
    out = np.full(r.shape, WITHHELD, dtype=object)
    for band in bands:
        inside = (size >= band.min_n) & (size <= band.max_n)
        if band.bottom is None or not inside.any():
            continue
        rounded = np.floor(r / band.step + 0.5) * band.step
        low, high = inside & (rounded <= band.bottom), inside & (rounded >= band.top)
        mid = inside & ~low & ~high
        out[low] = f"≤ {_fmt(band.bottom)}%"
        out[high] = f"≥ {_fmt(band.top)}%"
        out[mid] = [f"{_fmt(v, band.step)}%" for v in rounded[mid]]
    out[np.isnan(r) | np.isnan(size)] = "n/a"
    if isinstance(rates, pd.DataFrame):
        return pd.DataFrame(out, index=rates.index, columns=rates.columns)
    if isinstance(rates, pd.Series):
        return pd.Series(out, index=rates.index, name=rates.name)
    return out.item() if out.ndim == 0 else out


# --------------------------------------------------------------------------- pseudonyms

_PSEUDONYM_LENGTH = 16


def _id_text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # 123.0 from a column with gaps is the id 123
    return str(value).strip()


def pseudonymise(ids, key: str | bytes):
    """Keyed pseudonyms of student ids: HMAC-SHA256, hex, first 16 characters.

    An option for *confidential* outputs shared with a partner under an
    agreement (e.g. student-level files for a research partner): the same key
    gives the same pseudonym, so files can be linked, but without the key the
    id cannot be recovered or confirmed by hashing candidate ids (a plain hash
    of a 7-digit id can). Keep the key out of the repository and the outputs
    (e.g. ``secrets.token_hex(32)`` stored with the district); a new key breaks
    linkage with earlier files. Pseudonymised data are still student records,
    **not** a published aggregate.

    Ids are hashed as ``str(id).strip()`` (whole-number floats as integers), so
    ``123``, ``123.0`` and ``" 123"`` match but ``"00123"`` does not: normalise
    ids first. Missing ids stay missing.

    Parameters
    ----------
    ids : scalar, array-like or Series
    key : str or bytes
        Secret key of at least 16 bytes.

    Returns
    -------
    str, list of str or Series of string dtype (index kept)

    Examples
    --------
    >>> key = "example-key-not-secret-0123456789"
    >>> p = pseudonymise(["S1001", "S1002", "S1001"], key)
    >>> len(p[0]), p[0] == p[2], p[0] == p[1]
    (16, True, False)
    >>> pseudonymise("S1001", key) == p[0]
    True
    >>> pseudonymise("S1001", key + "x") == p[0]
    False
    """
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(secret) < 16:
        raise ValueError("the pseudonym key must be at least 16 bytes (e.g. secrets.token_hex(32))")

    def one(value):
        if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
            return pd.NA
        digest = hmac.new(secret, _id_text(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:_PSEUDONYM_LENGTH]

    if isinstance(ids, pd.Series):
        return pd.Series([one(v) for v in ids], index=ids.index, name=ids.name, dtype="string")
    if np.ndim(ids) == 0:
        return one(ids.item() if isinstance(ids, np.generic) else ids)
    return [one(v) for v in np.asarray(ids, dtype=object).ravel()]
