"""What to chart and whom to focus on, chosen from the results rather than named in advance.

A notebook never names a subgroup, value, school or intersection of a
particular district: the intersection charted is the top one of the scan, and
the group followed over years, teachers or scorers is the one with the largest
gap marked for a closer look (or, when none is marked, the largest gap of any
group large enough to show).

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"subgroup": ["a", "a", "b", "b"], "group": ["Yes", "No", "x", "Unknown"],
...                       "difference": [-0.1, 0.1, -0.3, -0.9], "suppressed": False,
...                       "flagged": [True, False, True, False]})
>>> top_group(table)
('b', 'x')
"""
from __future__ import annotations

import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.data.dictionary import display_name
from equity_audit.disaggregate import disaggregate_each
from equity_audit.exceptions import EquityAuditError

__all__ = ["top_group", "top_pair", "headlines", "label", "TREND_MEASURES", "NothingToFocusError"]

#: Groups that are never a focus: not recorded, or the "not in the group" side of a yes/no subgroup.
_NOT_A_FOCUS = (UNKNOWN, "No", "nan", "<NA>")


class NothingToFocusError(EquityAuditError):
    """A table has no group or intersection to choose from."""


def top_group(table: pd.DataFrame, *, flag: str | None = None, difference: str = "difference") -> tuple[str, str]:
    """The (subgroup, group) with the largest gap, preferring those marked for a closer look.

    Parameters
    ----------
    table : DataFrame
        A by-group table with ``subgroup``, ``group`` and ``difference`` columns
        (:func:`equity_audit.disaggregate.disaggregate_each`,
        :func:`equity_audit.scans.scan_gaps_each`), optionally ``suppressed``.
    flag : str, optional
        The column marking rows for a closer look; ``flagged`` or ``closer_look``
        when present.
    difference : str, default "difference"
        The column holding the gap; the largest absolute value wins.

    Returns
    -------
    tuple of str
        The subgroup column and the group. Unknown and the "No" side of a yes/no
        subgroup are never chosen while another group is available.

    Raises
    ------
    NothingToFocusError
        When the table has no row.

    Examples
    --------
    >>> table = pd.DataFrame({"subgroup": ["a", "a"], "group": ["Yes", "No"],
    ...                       "difference": [0.2, -0.2]})
    >>> top_group(table)
    ('a', 'Yes')
    """
    if table is None or table.empty:
        raise NothingToFocusError("There is no group to focus on: the table of groups is empty.")
    flag = flag or next((c for c in ("flagged", "closer_look") if c in table.columns), None)
    size = pd.to_numeric(table[difference], errors="coerce").abs().fillna(-1.0)
    shown = ~table["suppressed"].astype(bool) if "suppressed" in table else pd.Series(True, index=table.index)
    marked = table[flag].fillna(False).astype(bool) if flag else pd.Series(False, index=table.index)
    candidate = ~table["group"].astype(str).isin(_NOT_A_FOCUS)
    ranked = table.assign(_rank=list(zip(candidate, marked & shown, shown, size)))
    best = ranked.sort_values("_rank", ascending=False, kind="stable").iloc[0]
    return str(best["subgroup"]), str(best["group"])


def top_pair(scan: pd.DataFrame, columns: list[str]) -> tuple[str, str]:
    """The two subgroup columns of the top intersection of a scan, to chart as a heatmap.

    Parameters
    ----------
    scan : DataFrame
        :func:`equity_audit.disaggregate.scan_intersections` output, ranked best
        first, with ``columns`` ("a × b") and optionally ``suppressed``.
    columns : list of str
        The subgroup columns scanned: the fallback when the scan has no shown cell.

    Returns
    -------
    tuple of str
        Two subgroup columns.

    Raises
    ------
    NothingToFocusError
        With fewer than two subgroup columns there is no intersection.

    Examples
    --------
    >>> scan = pd.DataFrame({"columns": ["b × c", "a × b"], "suppressed": [False, False]})
    >>> top_pair(scan, ["a", "b", "c"])
    ('b', 'c')
    >>> top_pair(scan.iloc[0:0], ["a", "b", "c"])
    ('a', 'b')
    """
    shown = scan[~scan["suppressed"].astype(bool)] if "suppressed" in scan else scan
    if len(shown):
        first, second = str(shown["columns"].iloc[0]).split(" × ")[:2]
        return first, second
    if len(columns) < 2:
        raise NothingToFocusError("There is no intersection to chart: the students table has fewer than "
                                  "two subgroup columns.")
    return columns[0], columns[1]


#: Measures followed over years: (column of the facts, words, is a rate).
TREND_MEASURES = (
    ("any_oss", "out-of-school suspension", True),
    ("any_exclusion", "exclusionary discipline", True),
    ("level4_ready", "Level-4 work", True),
    ("pace", "pace (levels a year)", False),
)


def headlines(facts: pd.DataFrame, columns: list[str], *, min_n: int = 10, fdr: float = 0.05) -> list[tuple]:
    """The gaps to follow over years, one per measure present, each for the group with the largest gap.

    For each measure of :data:`TREND_MEASURES` in ``facts``, the latest school
    year is disaggregated by every column of ``columns`` and the group of
    :func:`top_group` is followed.

    Returns
    -------
    list of tuple
        ``(who, column, focus, metric, words, percent)``, the form of
        :func:`equity_audit.trends.headline_trends` takes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> facts = pd.DataFrame({"school_year": 2025, "club": rng.choice(["Yes", "No"], 400),
    ...                       "pace": rng.normal(1, 0.2, 400)})
    >>> facts.loc[facts["club"] == "Yes", "pace"] -= 0.5
    >>> headlines(facts, ["club"])
    [('Club: Yes', 'club', 'Yes', 'pace', 'pace (levels a year)', False)]
    """
    latest = facts[facts["school_year"] == facts["school_year"].max()]
    chosen = []
    for metric, words, percent in TREND_MEASURES:  # four measures
        if metric not in latest or not columns or latest[metric].notna().sum() == 0:
            continue
        values = latest.assign(**{metric: pd.to_numeric(latest[metric], errors="coerce").astype(float)})
        table = disaggregate_each(values, metric, columns, statistic="mean", min_n=min_n, fdr=fdr)
        column, group = top_group(table)
        who = f"{label(column)}: {group}"
        chosen.append((who, column, group, metric, words, percent))
    return chosen


def label(column: str) -> str:
    """A subgroup column as words: ``english_learner`` becomes ``English learner``.

    Examples
    --------
    >>> label("group_newcomer")
    'Newcomer'
    """
    return display_name(column)
