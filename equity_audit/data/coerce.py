"""Turn a column as read into the type its contract kind asks for.

:func:`coerce_column` returns the typed values plus one :class:`Fail` per way a
value can be wrong (not a date, not an accepted category, ...), each marking the
rows that failed; invalid values become missing. Blank cells are missing, never
a failure: whether a value is required is checked by the loader.

Parsing works on the distinct values of a column only: dates, scores and codes
repeat a few values across millions of rows.

Decisions on ambiguous input
----------------------------
* Grade levels: ``PK``, ``Pre-K``, ``PreK``, ``P``, ``PS``, ``Preschool``, ``-1`` and
  ``TK`` (transitional kindergarten, the year before kindergarten) are -1; ``K``,
  ``KG``, ``KN`` and ``Kindergarten`` are 0; ``1``-``12``, ``01``-``12``,
  ``Grade 3``, ``3rd`` and Ed-Fi descriptors such as ``Ninth grade`` are 1-12.
* School years may also be written ``2024-25`` or ``2024-2025``; both mean 2025.
* Dates: ``2024-09-03`` (or ``2024/09/03``), or ``09/03/2024`` read as
  month/day/year; a time of day after the date is ignored. Dates before 1900 or
  after 2100 are reported as implausible.

Examples
--------
>>> import pandas as pd
>>> from equity_audit.data.contract import TABLES
>>> grade_level = TABLES["enrollments"].column("grade_level")
>>> values, fails = coerce_column(pd.Series(["K", "Grade 3", "13", None]), grade_level)
>>> values.tolist()
[0, 3, <NA>, <NA>]
>>> fails[0].mask.tolist(), fails[0].reason
([False, False, True, False], 'grade_level is not a grade level')
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from equity_audit.data.contract import ALIASES, Column
from equity_audit.data.problems import (
    EXPECTED_DATE, EXPECTED_FLAG, EXPECTED_GRADE, EXPECTED_GRADE_LEVEL, EXPECTED_NUMBER,
    EXPECTED_SCHOOL_YEAR, EXPECTED_WHOLE, KIND_NOT_DATE, KIND_NOT_NUMBER, KIND_NOT_WHOLE,
    KIND_OUT_OF_RANGE, KIND_UNKNOWN_VALUE,
)
from equity_audit.data.read import STRING

__all__ = ["Fail", "coerce_column", "DATETIME", "PLAUSIBLE_YEARS"]

DATETIME = "datetime64[ns]"
PLAUSIBLE_YEARS = (1900, 2100)
_LEAP_BEFORE, _LEAP_AFTER = 1896, 2104

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


@dataclass
class Fail:
    """Rows whose value is wrong in one way, with the words to report it."""

    mask: np.ndarray
    kind: str
    issue: tuple[str, str]  # singular, plural
    expected: str
    reason: str


def coerce_column(raw: pd.Series, spec: Column) -> tuple[pd.Series, list[Fail]]:
    """The values of ``raw`` typed for ``spec.kind``, and the rows that failed."""
    return _COERCE[spec.kind](raw, spec)


def _by_unique(raw: pd.Series, func):
    """Apply ``func`` to the distinct values only; return it plus the codes to spread it back."""
    codes, uniques = pd.factorize(raw)
    result = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    return codes, result


def _spread(codes: np.ndarray, per_unique, fill) -> np.ndarray:
    """Index per-unique results by codes; code -1 (missing) picks the appended ``fill``."""
    return np.append(np.asarray(per_unique), [fill])[codes] if len(codes) else np.asarray(per_unique)[:0]


def _is_text(raw: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(raw) or raw.dtype == object


def _coerce_text(raw: pd.Series, spec: Column):
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
    return values, [Fail(bad, KIND_UNKNOWN_VALUE, ("is not an accepted value", "are not accepted values"),
                         f"one of {accepted}", f"{spec.name} is not an accepted value")]


def _coerce_flag(raw: pd.Series, spec: Column):
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean"), []
    codes, mapped = _by_unique(raw, lambda u: u.str.lower().map(_FLAGS))
    bad = _spread(codes, mapped.isna().to_numpy(), False)
    values = pd.array(_spread(codes, mapped.to_numpy(dtype=object), None), dtype="boolean")
    return pd.Series(values), [Fail(bad, KIND_UNKNOWN_VALUE, ("is not yes or no", "are not yes or no"),
                                    EXPECTED_FLAG, f"{spec.name} is not yes or no")]


def _parse_dates(values: pd.Series) -> pd.Series:
    """Parse distinct date texts; NaT where the text is not a real calendar date."""
    iso = values.str.extract(_ISO_DATE).astype(float)
    us = values.str.extract(_US_DATE).astype(float)
    year = iso[0].fillna(us[2])
    # A year far outside the plausible range (3000, 0999) would overflow pandas' nanosecond dates;
    # stand in a leap year just outside the range so the value is reported as implausible, not crash.
    year = year.mask(year > PLAUSIBLE_YEARS[1], _LEAP_AFTER).mask(year < PLAUSIBLE_YEARS[0], _LEAP_BEFORE)
    parts = pd.DataFrame({"year": year, "month": iso[1].fillna(us[0]), "day": iso[2].fillna(us[1])})
    return pd.to_datetime(parts, errors="coerce").astype(DATETIME) if len(parts) else \
        pd.Series([], dtype=DATETIME)


def _coerce_date(raw: pd.Series, spec: Column):
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
        text_bad = np.zeros(len(raw), dtype=bool)
    else:
        codes, per_unique = _by_unique(raw, _parse_dates)
        text_bad = _spread(codes, per_unique.isna().to_numpy(), False)
        parsed = pd.Series(_spread(codes, per_unique.to_numpy(), np.datetime64("NaT", "ns")))
    years = parsed.dt.year
    implausible = ((years < PLAUSIBLE_YEARS[0]) | (years > PLAUSIBLE_YEARS[1])).fillna(False).to_numpy()
    parsed = parsed.where(~implausible)
    values = pd.Series(parsed.to_numpy(), dtype=DATETIME) if len(parsed) else \
        pd.Series([], dtype=DATETIME)
    return values, [
        Fail(text_bad, KIND_NOT_DATE, ("is not a date", "are not dates"), EXPECTED_DATE,
             f"{spec.name} is not a date"),
        Fail(implausible, KIND_OUT_OF_RANGE, ("is not a plausible date", "are not plausible dates"),
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
        Fail(bad, KIND_NOT_NUMBER, ("is not a number", "are not numbers"), EXPECTED_NUMBER,
             f"{spec.name} is not a number")]


def _coerce_integer(raw: pd.Series, spec: Column):
    numbers, bad = _numbers(raw)
    return _whole(numbers, bad, spec, EXPECTED_WHOLE)


def _whole(numbers: np.ndarray, bad: np.ndarray, spec: Column, expected: str):
    fraction = ~np.isnan(numbers) & (np.mod(numbers, 1) != 0)
    values = pd.array(np.where(fraction, np.nan, numbers), dtype="Float64").astype("Int64")
    return pd.Series(values), [
        Fail(bad, KIND_NOT_NUMBER, ("is not a number", "are not numbers"), expected,
             f"{spec.name} is not a number"),
        Fail(fraction, KIND_NOT_WHOLE, ("is not a whole number", "are not whole numbers"), expected,
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
    return values, [Fail(bad, KIND_UNKNOWN_VALUE, ("is not a grade level", "are not grade levels"),
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
    return values, [Fail(bad, KIND_UNKNOWN_VALUE, ("is not a grade", "are not grades"), EXPECTED_GRADE,
                         f"{spec.name} is not a grade")]


_COERCE = {
    "id": _coerce_text,
    "text": _coerce_text,
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
