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

__all__ = ["gap_by_year", "trend", "trend_sentence", "headline_trends", "HEADLINES", "VERDICTS"]

VERDICTS = ("narrowing", "widening", "no clear change", "not enough data")


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
    usable = row["n"] >= min_n and row["comparator_n"] >= min_n
    pick = lambda name: row[name] if usable else np.nan  # noqa: E731
    return {"school_year": school_year, "n": int(row["n"]), "comparator_n": int(row["comparator_n"]),
            "estimate": pick("estimate"), "comparator_estimate": pick("comparator_estimate"),
            "difference": pick("difference"), "low": pick("difference_low"),
            "high": pick("difference_high")}


def trend(gaps: pd.DataFrame, confidence: float = 0.95) -> dict:
    """Compare the gap of the first and the latest usable year.

    The change's standard error comes from the two years' intervals (taken as
    symmetric normal intervals). "narrowing" means the gap moved toward zero by
    more than the change's interval allows by chance; "widening" away from it.
    """
    usable = gaps.dropna(subset=["difference", "low", "high"])
    if len(usable) < 2:
        return {"verdict": "not enough data", "first": np.nan, "last": np.nan, "change": np.nan,
                "change_low": np.nan, "change_high": np.nan}
    first, last = usable.iloc[0], usable.iloc[-1]
    z = sps.norm.ppf(0.5 + confidence / 2)
    se = np.hypot((first["high"] - first["low"]) / (2 * z), (last["high"] - last["low"]) / (2 * z))
    change = last["difference"] - first["difference"]
    low, high = change - z * se, change + z * se
    return {"verdict": _verdict(first["difference"], low, high), "first": first["difference"],
            "last": last["difference"], "change": change, "change_low": low, "change_high": high,
            "first_year": first["school_year"], "last_year": last["school_year"]}


def _verdict(first_gap: float, low: float, high: float) -> str:
    toward_zero = -np.sign(first_gap)
    if toward_zero > 0 and low > 0 or toward_zero < 0 and high < 0:
        return "narrowing"
    if toward_zero > 0 and high < 0 or toward_zero < 0 and low > 0:
        return "widening"
    return "no clear change"


def trend_sentence(result: dict, who: str, measure: str, *, percent: bool) -> str:
    """The trend in one sentence, e.g. for the report's trend table."""
    if result["verdict"] == "not enough data":
        return f"For {who}, {measure}: not enough years with enough students to judge a trend."
    value = (lambda v: f"{v * 100:+.1f} points") if percent else (lambda v: f"{v:+.2f}")
    return (f"For {who}, the gap in {measure} went from {value(result['first'])} to "
            f"{value(result['last'])} ({result['verdict']}; change {value(result['change'])}, "
            f"95% interval {value(result['change_low'])} to {value(result['change_high'])}).")


#: The gaps followed over time: (who, column, focus, metric, measure words, percent).
HEADLINES = (
    ("Black/African American students", "race_ethnicity", "Black/African American", "any_oss",
     "out-of-school suspension", True),
    ("students with disabilities", "disability", "Yes", "any_exclusion", "exclusionary discipline", True),
    ("students with disabilities ready for it", "disability", "Yes", "level4_ready", "Level-4 work", True),
    ("English learners", "english_learner", "Yes", "pace", "pace (levels a year)", False),
    ("students from low-income families", "low_income", "Yes", "pace", "pace (levels a year)", False),
)


def headline_trends(facts: pd.DataFrame, *, min_n: int = 10, confidence: float = 0.95, headlines=None):
    """Every headline gap by year, and its trend.

    ``facts`` has one row per student and school year with the metric columns
    (``any_oss``, ``any_exclusion``, ``level4_ready``, ``pace``) that exist; a
    headline whose metric is missing is left out. ``headlines`` replaces
    :data:`HEADLINES` (same tuples), e.g. groups chosen from the data by
    :func:`equity_audit.questions.focus.headlines`. Returns ``(by_year, summary)``:
    the gaps per year in the shape of a by-group table (``subgroup`` = the
    headline, ``group`` = the school year) for a chart, and one sentence per headline.
    """
    yearly, sentences = [], []
    for who, column, focus, metric, words, percent in (HEADLINES if headlines is None else headlines):  # a few
        if metric not in facts or column not in facts:
            continue
        gaps = gap_by_year(facts, metric, column=column, focus=focus, min_n=min_n, confidence=confidence)
        result = trend(gaps, confidence)
        headline = f"{words}: {who}"
        yearly.append(_as_by_group(gaps, headline))
        sentences.append({"headline": headline, "verdict": result["verdict"],
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
