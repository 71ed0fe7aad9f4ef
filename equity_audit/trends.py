"""Is a gap narrowing? Each headline gap by school year, with intervals.

A gap is the difference between students in a focus group and all other
students, each school year; the trend compares the first and the latest year.
With only a few years of data, the verdict is deliberately cautious: a gap is
called narrowing or widening only when the change in the gap is larger than
its uncertainty.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({"school_year": [2024] * 200 + [2026] * 200,
...                      "el": (["Yes"] * 50 + ["No"] * 150) * 2,
...                      "below": [1] * 40 + [0] * 10 + [1] * 30 + [0] * 120
...                               + [1] * 20 + [0] * 30 + [1] * 30 + [0] * 120})
>>> gaps = gap_by_year(data, "below", column="el", focus="Yes")
>>> gaps["difference"].round(2).tolist()
[0.6, 0.2]
>>> trend(gaps)["verdict"]
'narrowing'
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from equity_audit.disaggregate import disaggregate

__all__ = ["gap_by_year", "trend", "trend_sentence", "headline_trends", "VERDICTS",
           "FOR_GROUP", "POLARITY"]

VERDICTS = ("narrowing", "widening", "reversed", "no clear change", "not enough data")
#: What a change means for the focus group, given the measure's polarity.
FOR_GROUP = ("better for the group", "worse for the group", "no clear change", "not known")
#: +1 when a higher value is better for a student (pace, access), -1 when it is worse (suspension).
POLARITY = {"any_oss": -1, "any_exclusion": -1, "level4_ready": 1, "pace": 1}


def gap_by_year(data: pd.DataFrame, metric: str, *, column: str, focus: str, year: str = "school_year",
                min_n: int = 10, confidence: float = 0.95) -> pd.DataFrame:
    """One row per school year: the focus group against everyone else, with the interval.

    The comparison is :func:`equity_audit.disaggregate.disaggregate` with the
    comparator "rest" (Newcombe interval for rates, Welch for means); years in
    which either side is under ``min_n`` keep their n and no numbers.
    """
    rows = []
    for school_year, part in data.groupby(year, sort=True):  # a handful of years
        table = disaggregate(part, metric, by=[column], min_n=min_n, confidence=confidence)
        cell = table[table[column].astype(str) == str(focus)]
        rows.append(_year_row(school_year, cell, min_n))
    return pd.DataFrame(rows)


def _year_row(school_year, cell: pd.DataFrame, min_n: int) -> dict:
    if cell.empty:
        return {"school_year": school_year, "n": 0, "comparator_n": 0, "estimate": np.nan,
                "comparator_estimate": np.nan, "difference": np.nan, "low": np.nan, "high": np.nan}
    row = cell.iloc[0]
    usable = row["n"] >= min_n and row["comparator_n"] >= min_n and not _small_counts(row, min_n)
    pick = lambda name: row[name] if usable else np.nan  # noqa: E731
    return {"school_year": school_year, "n": int(row["n"]), "comparator_n": int(row["comparator_n"]),
            "estimate": pick("estimate"), "comparator_estimate": pick("comparator_estimate"),
            "difference": pick("difference"), "low": pick("difference_low"),
            "high": pick("difference_high")}


def _small_counts(row: pd.Series, min_n: int) -> bool:
    """Whether a rate's students with (or without) the outcome, on either side, are 1 to ``min_n - 1``.

    The gap with the overall rate published elsewhere gives the group's rate back, and with its n the
    count: a year whose counts the release gate would withhold shows no gap.

    >>> _small_counts(pd.Series({"statistic": "rate", "n": 40, "estimate": 0.075,
    ...                          "comparator_n": 200, "comparator_estimate": 0.25}), 10)
    True
    """
    if row.get("statistic") != "rate":
        return False
    counts = [row["estimate"] * row["n"], row["comparator_estimate"] * row["comparator_n"]]
    sizes = [row["n"], row["comparator_n"]]
    small = lambda c: 0 < round(c) < min_n  # noqa: E731
    return any(small(c) or small(n - c) for c, n in zip(counts, sizes))


def trend(gaps: pd.DataFrame, confidence: float = 0.95, polarity: int | None = None) -> dict:
    """Compare the gap of the first and the latest usable year.

    The change's standard error comes from the two years' intervals (taken as
    symmetric normal intervals). The ``verdict`` is about the size of the gap,
    whichever group it favours: "narrowing" when the gap moved toward zero by
    more than chance allows (and did not cross it into a larger gap the other
    way), "widening" when it moved away from zero, "reversed" when it moved
    through zero and ended larger than it started, on the other side.

    Narrowing is not always good news for the group: a gap that *favours* the
    group (fewer suspensions than other students) that narrows means the
    group's advantage shrank. With ``polarity`` (+1 when a higher value is
    better for a student, such as pace or access; -1 when it is worse, such as
    suspension) the result also says, in ``for_group``, whether the change is
    "better for the group" or "worse for the group", and in ``favours`` whom
    the first and latest gaps favour ("the group", "other students" or "neither").

    Examples
    --------
    >>> import pandas as pd
    >>> gaps = pd.DataFrame({"school_year": [2024, 2026], "difference": [-0.10, -0.02],
    ...                      "low": [-0.13, -0.05], "high": [-0.07, 0.01]})
    >>> result = trend(gaps, polarity=-1)   # fewer suspensions than others, less so now
    >>> result["verdict"], result["for_group"]
    ('narrowing', 'worse for the group')
    """
    usable = gaps.dropna(subset=["difference", "low", "high"])
    if len(usable) < 2:
        return {"verdict": "not enough data", "first": np.nan, "last": np.nan, "change": np.nan,
                "change_low": np.nan, "change_high": np.nan, "for_group": "not known",
                "favours_first": "not known", "favours_last": "not known"}
    first, last = usable.iloc[0], usable.iloc[-1]
    z = sps.norm.ppf(0.5 + confidence / 2)
    se = np.hypot((first["high"] - first["low"]) / (2 * z), (last["high"] - last["low"]) / (2 * z))
    change = last["difference"] - first["difference"]
    low, high = change - z * se, change + z * se
    return {"verdict": _verdict(first["difference"], last["difference"], low, high),
            "first": first["difference"], "last": last["difference"], "change": change,
            "change_low": low, "change_high": high,
            "first_year": first["school_year"], "last_year": last["school_year"],
            "for_group": _for_group(low, high, polarity),
            "favours_first": _favours(first["difference"], polarity),
            "favours_last": _favours(last["difference"], polarity)}


def _verdict(first_gap: float, last_gap: float, low: float, high: float) -> str:
    if not (low > 0 or high < 0):
        return "no clear change"
    moved = 1.0 if low > 0 else -1.0
    if first_gap == 0 or np.sign(moved) == np.sign(first_gap):
        return "widening"
    # the gap moved toward zero; if it went through zero and ended larger, it reversed
    if np.sign(last_gap) == -np.sign(first_gap) and abs(last_gap) > abs(first_gap):
        return "reversed"
    return "narrowing"


def _for_group(low: float, high: float, polarity: int | None) -> str:
    """Whether the change in (group - others) is good or bad news for the group."""
    if polarity not in (1, -1):
        return "not known"
    if low > 0 or high < 0:
        up = low > 0
        return "better for the group" if up == (polarity > 0) else "worse for the group"
    return "no clear change"


def _favours(gap: float, polarity: int | None) -> str:
    if polarity not in (1, -1) or not np.isfinite(gap):
        return "not known"
    if gap == 0:
        return "neither"
    return "the group" if (gap > 0) == (polarity > 0) else "other students"


def trend_sentence(result: dict, who: str, measure: str, *, percent: bool) -> str:
    """The trend in one sentence, e.g. for the report's trend table.

    When the result knows what the change means for the group (``for_group``
    from :func:`trend` with a polarity), the sentence says so, so a narrowing
    gap that favoured the group is not read as progress.
    """
    if result["verdict"] == "not enough data":
        return f"For {who}, {measure}: not enough years with enough students to judge a trend."
    value = (lambda v: f"{v * 100:+.1f} points") if percent else (lambda v: f"{v:+.2f}")
    meaning = result.get("for_group", "not known")
    favours = result.get("favours_first", "not known")
    note = ""
    if meaning in ("better for the group", "worse for the group"):
        note = f"; {meaning}"
        if favours in ("the group", "other students"):
            note += f", the first gap favoured {'them' if favours == 'the group' else 'other students'}"
    return (f"For {who}, the gap in {measure} went from {value(result['first'])} to "
            f"{value(result['last'])} ({result['verdict']}{note}; change {value(result['change'])}, "
            f"95% interval {value(result['change_low'])} to {value(result['change_high'])}).")


def headline_trends(facts: pd.DataFrame, headlines, *, min_n: int = 10, confidence: float = 0.95):
    """Every headline gap by year, and its trend.

    ``facts`` has one row per student and school year with the metric columns
    (``any_oss``, ``any_exclusion``, ``level4_ready``, ``pace``) that exist; a
    headline whose metric is missing is left out. ``headlines`` holds the gaps
    to follow as ``(who, column, focus, metric, measure words, percent)`` tuples,
    chosen from the data (:func:`equity_audit.questions.focus.headlines`): no
    group is followed by default, since which gaps matter is the district's. Returns ``(by_year, summary)``:
    the gaps per year in the shape of a by-group table (``subgroup`` = the
    headline, ``group`` = the school year) for a chart, and one sentence per headline.
    """
    yearly, sentences = [], []
    for who, column, focus, metric, words, percent in headlines:  # a few
        if metric not in facts or column not in facts:
            continue
        gaps = gap_by_year(facts, metric, column=column, focus=focus, min_n=min_n, confidence=confidence)
        result = trend(gaps, confidence, polarity=POLARITY.get(metric))
        headline = f"{words}: {who}"
        yearly.append(_as_by_group(gaps, headline))
        sentences.append({"headline": headline, "verdict": result["verdict"], "for_group": result["for_group"],
                          "sentence": trend_sentence(result, who, words, percent=percent)})
    by_year = pd.concat(yearly, ignore_index=True) if yearly else pd.DataFrame()
    return by_year, pd.DataFrame(sentences)


def _as_by_group(gaps: pd.DataFrame, headline: str) -> pd.DataFrame:
    label = gaps["school_year"].map(lambda y: f"{int(y) - 1}-{str(int(y))[-2:]}")  # a few years
    return pd.DataFrame({
        "subgroup": headline, "group": label, "n": gaps["n"], "estimate": gaps["difference"],
        "low": gaps["low"], "high": gaps["high"], "suppressed": gaps["difference"].isna(),
        "flagged": False,
    })
