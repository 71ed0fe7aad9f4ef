"""A synthetic school district with planted, documented inequities.

The generator builds every table of the data contract (:mod:`equity_audit.data.contract`)
for a small K-12 district over several school years, and plants seven known
inequities whose groups, ids and effect sizes are written to a machine-readable
manifest. The audit notebooks, the benchmarks and the tests use it as ground
truth: an analysis is right when it finds what was planted, and finds nothing in
a district generated with ``null=True``.

Everything is vectorised with numpy and pandas, so 100,000 students take seconds;
the only random source is ``numpy.random.default_rng(seed)``, so the same
arguments always give the same tables and byte-identical files.

Design in brief
---------------
* Schools: elementary K-5, middle 6-8 and high 9-12 schools; students move up
  one grade a year, some enter or leave mid-year, some move between elementary
  schools mid-year, and the oldest cohorts graduate.
* Levels: level L on the continuum holds grade L's standards. A student starts
  ``behind`` levels below grade and grows linearly in calendar time at their
  ``pace`` (levels per year), observed in fall, winter and spring with noise.
* Evidence is scored 1-4 (3 = proficient) against standards near the student's
  current level; course grades follow the evidence of the term.
* Subgroup flags, race, gender and school assignment are drawn independently of
  each other, so a planted effect does not leak into other groups.
* ``null="realistic"`` (or ``realistic=True`` with the planted effects) gives the
  structure of real data instead: subgroups correlated through a latent factor,
  schools sorted by it, additive group main effects, growth only during school
  years, lasting student propensities, one grading leniency per teacher and school
  random effects; ``manifest["real_gaps"]`` lists the true gaps this creates. The
  default output does not change (the realistic parts draw only when asked for).

Examples
--------
>>> from equity_audit.data.synthetic import generate_district
>>> tables, manifest = generate_district(300, seed=1)
>>> sorted(tables) == sorted(manifest["tables"])
True
>>> [p["name"] for p in manifest["planted"]][:2]
['slow_pace_subgroup', 'hidden_intersection']
"""
from __future__ import annotations

import datetime as _dt
import json
import pathlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from equity_audit.data.contract import TABLES, UNKNOWN

__all__ = ["generate_district", "write_district", "write_tables", "PLANTED_EFFECTS", "DOMAINS", "REALISTIC_MAIN_EFFECTS",
           "NOT_GENERATED"]

#: Contract tables the generator does not write: ``programs`` is the year-by-year form of the
#: subgroup flags, which a synthetic student keeps for every year, so ``students`` says it all.
NOT_GENERATED = ("programs",)

#: Names of the planted effects, in manifest order.
PLANTED_EFFECTS = (
    "slow_pace_subgroup",
    "hidden_intersection",
    "unmet_need_school",
    "teacher_grade_bias",
    "harsh_rater",
    "disproportionate_discipline",
    "level4_access",
)

#: Learning domains, in alphabetical order so integer codes sort like the text.
DOMAINS = ("ela", "math")

_FORMAT_VERSION = 1
_BLACK = "Black/African American"

# Shares roughly like a US public-school district; "" is a blank (becomes Unknown).
_RACE_SHARES = {
    "Hispanic/Latino": 0.27,
    "American Indian/Alaska Native": 0.01,
    "Asian": 0.06,
    _BLACK: 0.15,
    "Native Hawaiian/Pacific Islander": 0.005,
    "White": 0.44,
    "Two or more races": 0.055,
    "": 0.01,
}
_STAFF_RACE_SHARES = {
    "Hispanic/Latino": 0.11,
    "American Indian/Alaska Native": 0.01,
    "Asian": 0.04,
    _BLACK: 0.08,
    "Native Hawaiian/Pacific Islander": 0.005,
    "White": 0.72,
    "Two or more races": 0.03,
    "": 0.005,
}
_GENDER_SHARES = {"Female": 0.485, "Male": 0.495, "Nonbinary": 0.01, "": 0.01}
_FLAG_SHARES = {
    "english_learner": 0.12,
    "disability": 0.14,
    "low_income": 0.42,
    "section_504": 0.04,
    "homeless": 0.02,
    "foster_care": 0.008,
    "migrant": 0.01,
    "group_newcomer": 0.03,
}

# Baseline behaviour shared by planted and null districts.
_BASE = {
    "pace_mean": 1.0,
    "pace_student_sd": 0.12,
    "pace_domain_sd": 0.08,
    "behind_mean_intercept": 0.3,
    "behind_mean_per_grade": 0.06,
    "behind_sd": 0.9,
    "level_noise_sd": 0.12,
    "late_entry_share": 0.10,
    "leave_share": 0.10,
    "midyear_transfer_share": 0.03,
    "section_size": 26,
    "secondary_sections_per_teacher": 5,
    "support_rate_needy": 0.85,
    "support_rate_not_needy": 0.08,
    "general_support_rate": 0.03,
    "oss_risk": 0.05,
    "level4_rate_eligible": 0.40,
    "level4_rate_not_eligible": 0.05,
    "enrichment_rate": 0.12,
    "leadership_rate": 0.06,
    "acceleration_rate_ahead": 0.5,
    "survey_response_rate": 0.7,
    "calibration_works": 40,
    "calibration_pool": 12,
}

# Planted effect sizes (ignored when null=True).
_EL_PACE = -0.35
_CELL_PACE = -0.40
_SUPPORT_RATE_PLANTED = 0.30
_GRADE_BIAS = -1.0
_SEVERITY = -0.8
_OSS_RATIO = 3.0
_LEVEL4_RATIO = 0.5

_LETTERS = np.array(["F", "D-", "D", "D+", "C-", "C", "C+", "B-", "B", "B+", "A-", "A", "A+"])
_POINTS = np.array([0.0, 0.7, 1.0, 1.3, 1.7, 2.0, 2.3, 2.7, 3.0, 3.3, 3.7, 4.0, 4.3])
_COURSE_LEVELS = np.array(["standard", "honors", "advanced", "dual_enrollment"])
_COURSE_SUFFIX = np.array(["", "-H", "-A", "-DE"])
_EXIT_REASONS = np.array(
    ["end_of_school_year", "transferred_in_district", "moved_out_of_district", "graduated"]
)
_EOY, _TRANSFER, _MOVED, _GRADUATED = range(4)
_TASKS = np.array(["performance_task", "project", "test", "quiz", "observation"])
_STD_LEVELS = np.arange(-1, 13)  # PK..12 on the continuum
_STD_PER_LEVEL = 5
_CONSTRUCTS = ("agency", "belonging", "safety")
_CONSTRUCT_CODES = ("AGY", "BEL", "SAF")
_ELEM_NAMES = ("Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Hazel", "Juniper", "Laurel")
_MID_NAMES = ("Ridgeview", "Lakeside", "Hillcrest")
_HIGH_NAMES = ("Riverside", "Summit")


def _ymd(year, month, day):
    """Calendar dates as integer days since 1970-01-01 (vectorised)."""
    months = (np.asarray(year, np.int64) - 1970) * 12 + np.asarray(month, np.int64) - 1
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.asarray(day, np.int64) - 1


def _school_day(days):
    """Move Saturdays back to Friday and Sundays on to Monday (1970-01-01 was a Thursday)."""
    weekday = (days + 3) % 7  # Monday = 0
    return days - (weekday == 5) + (weekday == 6)


def _choice(rng, shares, size):
    """Draw labels from a {label: share} dict; returns an object array."""
    labels = np.array(list(shares), dtype=object)
    p = np.array(list(shares.values()), dtype=float)
    return labels[rng.choice(len(labels), size=size, p=p / p.sum())]


def _codes(prefix, numbers, width=0):
    """Vectorised ``f"{prefix}{number:0{width}d}"`` as an object array."""
    text = np.asarray(numbers, np.int64).astype(str)
    if width and text.size:  # np.char.zfill fails on empty arrays
        text = np.char.zfill(text, width)
    return np.char.add(prefix, text).astype(object)


def _yn(mask):
    return np.where(mask, "Y", "N").astype(object)


def _dates(days):
    """Integer days -> pandas datetime column."""
    return pd.Series(np.asarray(days, np.int64).astype("datetime64[D]")).astype("datetime64[s]")


def _grade_code(grade):
    """K for 0, PK for -1, else the number as text."""
    out = grade.astype(str).astype(object)
    out[grade == 0] = "K"
    out[grade == -1] = "PK"
    return out


@dataclass
class _World:
    """Everything the table builders share: random state, arrays, finished tables."""

    rng: np.random.Generator
    plant: bool
    years: np.ndarray
    n: int
    tables: dict = field(default_factory=dict)
    planted: list = field(default_factory=list)
    realistic: bool = False
    truth: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- schools
def _make_schools(w: _World, n_schools: int) -> None:
    n_high = max(1, n_schools // 6)
    n_mid = max(1, n_schools // 5)
    n_elem = n_schools - n_high - n_mid
    w.kind = np.array([0] * n_elem + [1] * n_mid + [2] * n_high)
    w.school_ids = _codes("SCH", np.arange(1, n_schools + 1), 2)
    names = [_name(_ELEM_NAMES, i, "Elementary") for i in range(n_elem)]
    names += [_name(_MID_NAMES, i, "Middle") for i in range(n_mid)]
    names += [_name(_HIGH_NAMES, i, "High") for i in range(n_high)]
    w.tables["schools"] = pd.DataFrame({
        "school_id": w.school_ids,
        "school_name": names,
        "school_level": np.array(["elementary", "middle", "high"], dtype=object)[w.kind],
    })
    # Each school has its own calendar (offset 0-9 days) so dates are not all identical.
    off = w.rng.integers(0, 10, n_schools)[:, None]
    w.first_day = _school_day(_ymd(w.years[None, :] - 1, 8, 19) + off)
    w.last_day = _school_day(_ymd(w.years[None, :], 6, 4) + off)
    w.elem_ids, w.mid_ids, w.high_ids = (np.nonzero(w.kind == k)[0] for k in range(3))


def _name(pool, i, suffix):
    return f"{pool[i]} {suffix}" if i < len(pool) else f"{suffix} School {i + 1}"


# ---------------------------------------------------------------------------- students
def _make_students(w: _World) -> None:
    rng, n, ny = w.rng, w.n, len(w.years)
    # vg = grade in the first year; negative values are kindergartners still to come.
    w.vg = rng.integers(-(ny - 1), 13, n)
    a, b = np.maximum(0, -w.vg), np.minimum(ny - 1, 12 - w.vg)
    w.late = (rng.random(n) < _BASE["late_entry_share"]) & (b > a)
    w.first = np.where(w.late, a + 1 + (rng.random(n) * (b - a)).astype(int), a)
    w.leave = (rng.random(n) < _BASE["leave_share"]) & (b > w.first)
    w.last = np.where(w.leave, w.first + (rng.random(n) * (b - w.first)).astype(int), b)
    w.late_mid = w.late & (rng.random(n) < 0.4)
    w.leave_mid = w.leave & (rng.random(n) < 0.4)
    w.homes = [rng.integers(0, len(ids), n) for ids in (w.elem_ids, w.mid_ids, w.high_ids)]
    w.race = _choice(rng, _RACE_SHARES, n)
    gender = _choice(rng, _GENDER_SHARES, n)
    w.flags = {k: rng.random(n) < p for k, p in _FLAG_SHARES.items()}
    # Kindergarten year (ending) is years[0] - vg; a few students are a year older (retained).
    k_year = w.years[0] - w.vg - (rng.random(n) < 0.03)
    birth = _ymd(k_year - 7, 9, 2) + rng.integers(0, 365, n)
    if w.realistic:
        _realistic_people(w)
    w.ids = _codes("S", np.arange(1, n + 1), max(5, len(str(n))))
    students = {"student_id": w.ids, "birth_date": _dates(birth), "race_ethnicity": w.race,
                "gender": gender}
    students.update({k: _yn(v) for k, v in w.flags.items()})
    df = pd.DataFrame(students)
    for col in ("race_ethnicity", "gender"):  # blanks are missing values, written empty
        df[col] = df[col].replace("", np.nan)
    w.tables["students"] = df
    _make_growth(w)


def _make_growth(w: _World) -> None:
    """True pace and starting level per student and domain, with the planted shifts."""
    if w.realistic:
        _realistic_student_growth(w)
        return
    rng, n = w.rng, w.n
    el, li, dis = (w.flags[k] for k in ("english_learner", "low_income", "disability"))
    off_li, off_dis = _intersection_offsets(li, dis, _CELL_PACE)
    cell = np.select([li & dis, li & ~dis, ~li & dis], [_CELL_PACE, off_li, off_dis], 0.0)
    shift = (_EL_PACE * el + cell) * w.plant
    u = rng.normal(0, _BASE["pace_student_sd"], (n, 1))
    e = rng.normal(0, _BASE["pace_domain_sd"], (n, 2))
    w.pace = np.clip(_BASE["pace_mean"] + u + e + shift[:, None], 0.05, 2.5)
    grade_first = w.vg + w.first
    mean_behind = _BASE["behind_mean_intercept"] + _BASE["behind_mean_per_grade"] * grade_first
    behind = rng.normal(mean_behind[:, None], _BASE["behind_sd"], (n, 2))
    # A slower pace has already cost about one year's worth of levels by the first fall.
    behind -= shift[:, None]
    w.t0 = _ymd(w.years[w.first] - 1, 9, 15)
    w.start = np.clip(grade_first[:, None] - behind, -1, 16)
    if w.plant:
        w.planted += [_slow_pace_record(), _intersection_record(li, dis, off_li, off_dis)]


def _intersection_offsets(li, dis, cell_effect):
    """Off-diagonal pace offsets that make both marginal gaps exactly zero in this sample.

    With cell effect e11 for (Y, Y), a for (low_income Y, disability N), b for
    (N, Y) and 0 for (N, N), the low-income gap and the disability gap are linear in
    (a, b); solving both = 0 with the realised cell counts hides the intersection.
    """
    n11, n10 = np.sum(li & dis), np.sum(li & ~dis)
    n01, n00 = np.sum(~li & dis), np.sum(~li & ~dis)
    if min(n11, n10, n01, n00) == 0:  # tiny district: fall back to the population design
        p, q = _FLAG_SHARES["low_income"], _FLAG_SHARES["disability"]
        return (round(-cell_effect * q / (1 - p - q), 3), round(-cell_effect * p / (1 - p - q), 3))
    lhs = np.array([[n10 / (n11 + n10), -n01 / (n01 + n00)],
                    [-n10 / (n10 + n00), n01 / (n11 + n01)]])
    rhs = -cell_effect * np.array([n11 / (n11 + n10), n11 / (n11 + n01)])
    a, b = np.linalg.solve(lhs, rhs)
    return round(float(a), 3), round(float(b), 3)


def _slow_pace_record():
    return {
        "name": "slow_pace_subgroup",
        "description": "English learners grow more slowly through the levels.",
        "table": "levels", "measure": "pace", "group": {"english_learner": "Y"}, "where": {},
        "effect": _EL_PACE, "effect_type": "difference",
        "pace_effect": _EL_PACE, "behind_effect": -_EL_PACE,
    }


def _intersection_record(li, dis, off_li, off_dis):
    cells = [("Y", "Y", _CELL_PACE, li & dis), ("Y", "N", off_li, li & ~dis),
             ("N", "Y", off_dis, ~li & dis), ("N", "N", 0.0, ~li & ~dis)]
    rest = sum(e * m.sum() for _, _, e, m in cells[1:]) / max(1, (~(li & dis)).sum())
    return {
        "name": "hidden_intersection",
        "description": "Low-income students with disabilities grow slowly, while the "
                       "off-diagonal cells are offset so both main-effect gaps are zero.",
        "table": "levels", "measure": "pace", "group": {"low_income": "Y", "disability": "Y"},
        "where": {}, "effect": _CELL_PACE, "effect_type": "difference",
        "cells": [{"low_income": x, "disability": y, "pace_effect": e, "students": int(m.sum())}
                  for x, y, e, m in cells],
        "behind_effect_is_minus_pace_effect": True,
        "expected_marginal_gap": {"low_income": 0.0, "disability": 0.0},
        "expected_cell_gap_vs_rest": round(_CELL_PACE - float(rest), 3),
        "expected_interaction": round(_CELL_PACE - off_li - off_dis, 3),
    }


# --------------------------------------------------------------------------- enrollments
def _make_spans(w: _World) -> None:
    """One row per enrollment: student, year, school, grade, entry, exit, reason."""
    frames, elem_home = [], w.homes[0].copy()
    for j, year in enumerate(w.years):
        frames += _year_spans(w, j, int(year), elem_home)
    sp = pd.concat(frames, ignore_index=True).sort_values(["sidx", "j", "entry"], kind="stable")
    w.spans = sp.reset_index(drop=True)
    grade = w.spans["grade"].to_numpy()
    code = _grade_code(grade)
    padded = (grade >= 1) & (grade <= 9) & (w.rng.random(len(grade)) < 0.01)
    code[padded] = _codes("0", grade[padded])  # a few "05"-style codes
    w.tables["enrollments"] = pd.DataFrame({
        "student_id": w.ids[w.spans["sidx"]],
        "school_year": w.years[w.spans["j"]],
        "school_id": w.school_ids[w.spans["school"]],
        "grade_level": code,
        "entry_date": _dates(w.spans["entry"]),
        "exit_date": _dates(w.spans["exit"]),
        "exit_reason": _EXIT_REASONS[w.spans["reason"]].astype(object),
    })
    if w.realistic:
        _realistic_pace(w)


def _year_spans(w: _World, j: int, year: int, elem_home: np.ndarray) -> list[pd.DataFrame]:
    rng = w.rng
    idx = np.nonzero((w.first <= j) & (j <= w.last))[0]
    m, g = len(idx), w.vg[idx] + j
    kind = np.where(g <= 5, 0, np.where(g <= 8, 1, 2))
    school = np.select([kind == 0, kind == 1],
                       [w.elem_ids[elem_home[idx]], w.mid_ids[w.homes[1][idx]]],
                       w.high_ids[w.homes[2][idx]])
    ends = w.last[idx] == j
    reason = np.where(ends & (g == 12), _GRADUATED, np.where(ends & w.leave[idx], _MOVED, _EOY))
    mid_in = w.late_mid[idx] & (w.first[idx] == j)
    arrive = _school_day(_ymd(year - 1, 9, 15) + rng.integers(0, 168, m))
    entry = np.where(mid_in, arrive, w.first_day[school, j])
    mid_out = w.leave_mid[idx] & ends
    out_day = _school_day(np.maximum(_ymd(year - 1, 10, 15) + rng.integers(0, 197, m), entry + 45))
    exit_ = np.where(mid_out, out_day, w.last_day[school, j])
    # Mid-year moves between elementary schools; the student stays at the new school.
    n_elem = len(w.elem_ids)
    tr = (kind == 0) & ~mid_in & ~mid_out & (rng.random(m) < _BASE["midyear_transfer_share"])
    tr &= n_elem > 1
    moved_on = _school_day(_ymd(year - 1, 11, 1) + rng.integers(0, 150, m))
    new_home = (elem_home[idx] + 1 + rng.integers(0, max(n_elem - 1, 1), m)) % n_elem
    before = pd.DataFrame({"sidx": idx, "j": j, "grade": g, "school": school, "entry": entry,
                           "exit": np.where(tr, moved_on, exit_),
                           "reason": np.where(tr, _TRANSFER, reason)})
    t = np.nonzero(tr)[0]
    new_school = w.elem_ids[new_home[t]]
    after = pd.DataFrame({"sidx": idx[t], "j": j, "grade": g[t], "school": new_school,
                          "entry": _school_day(moved_on[t] + 3), "exit": w.last_day[new_school, j],
                          "reason": reason[t]})
    elem_home[idx[t]] = new_home[t]
    return [before, after]


# -------------------------------------------------------------------------------- levels
def _true_level(w: _World, sidx, d, day):
    if w.realistic:
        return w.start[sidx, d] + _grown(w, sidx, d, day) - _grown(w, sidx, d, w.t0[sidx])
    return w.start[sidx, d] + w.pace[sidx, d] * (day - w.t0[sidx]) / 365.25


def _make_levels(w: _World) -> None:
    sp, rng = w.spans, w.rng
    n = len(sp)
    s, d, p = np.repeat(np.arange(n), 6), np.tile(np.repeat([0, 1], 3), n), np.tile([0, 1, 2], 2 * n)
    year = w.years[sp["j"].to_numpy()[s]]
    anchors = np.stack([_ymd(year - 1, 9, 20), _ymd(year, 1, 20), _ymd(year, 5, 10)])
    # Testing days vary by student but not between a student's two schools in one year,
    # so a mid-year mover still has one fall, one winter and one spring level.
    jitter = rng.integers(0, 10, (w.n, len(w.years), 2, 3))
    sidx = sp["sidx"].to_numpy()[s]
    day = _school_day(anchors[p, np.arange(len(s))] + jitter[sidx, sp["j"].to_numpy()[s], d, p])
    keep = (day >= sp["entry"].to_numpy()[s]) & (day <= sp["exit"].to_numpy()[s])
    s, d, day, year, sidx = s[keep], d[keep], day[keep], year[keep], sidx[keep]
    noisy = _true_level(w, sidx, d, day) + rng.normal(0, _BASE["level_noise_sd"], len(s))
    obs = np.round(np.clip(noisy, -1, 16), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    _first_points(w, s, d, day, obs, year)
    order = np.lexsort((day, d, sidx))
    w.tables["levels"] = pd.DataFrame({
        "student_id": w.ids[sidx[order]],
        "domain": np.array(DOMAINS, dtype=object)[d[order]],
        "as_of": _dates(day[order]),
        "performance_level": obs[order],
    })


def _first_points(w: _World, s, d, day, obs, year) -> None:
    """Behind-ness at the first observed level of each enrollment and domain.

    behind = grade + (as_of - 15 September of the school year) / 365.25 - level,
    the definition written to the manifest; supports and Level-4 eligibility use it.
    """
    first = np.ones(len(s), bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])  # rows are ordered by (s, d, point)
    fs, fd = s[first], d[first]
    grade = w.spans["grade"].to_numpy()[fs]
    expected = grade + (day[first] - _ymd(year[first] - 1, 9, 15)) / 365.25
    w.behind_first = np.full((len(w.spans), 2), np.nan)
    w.first_date = np.zeros((len(w.spans), 2), np.int64)
    w.behind_first[fs, fd] = expected - obs[first]
    w.first_date[fs, fd] = day[first]


# ------------------------------------------------------------------------------ standards
def _make_standards(w: _World) -> None:
    n_lv = len(_STD_LEVELS)
    d = np.repeat([0, 1], n_lv * _STD_PER_LEVEL)
    lv = np.tile(np.repeat(_STD_LEVELS, _STD_PER_LEVEL), 2)
    k = np.tile(np.arange(1, _STD_PER_LEVEL + 1), 2 * n_lv)
    w.std_dok = w.rng.choice([1, 2, 3, 4], size=len(d), p=[0.25, 0.4, 0.3, 0.05])
    code = _grade_code(lv)
    prefix = np.char.add(np.char.upper(np.array(DOMAINS)[d]), ".")
    w.std_ids = np.char.add(np.char.add(prefix, code.astype(str)), _codes(".", k).astype(str))
    w.std_ids = w.std_ids.astype(object)
    w.tables["standards"] = pd.DataFrame({
        "standard_id": w.std_ids, "domain": np.array(DOMAINS, dtype=object)[d],
        "performance_level": lv, "dok": w.std_dok,
    })


def _standard_index(d, level, k):
    return (d * len(_STD_LEVELS) + level + 1) * _STD_PER_LEVEL + k


# ------------------------------------------------------------------------------- sections
def _make_sections(w: _World) -> None:
    """Sections, teachers and rosters: one section per enrollment and domain."""
    sp, rng = w.spans, w.rng
    n = len(sp)
    s, d = np.repeat(np.arange(n), 2), np.tile([0, 1], n)
    sidx, j, g, school = (sp[c].to_numpy()[s] for c in ("sidx", "j", "grade", "school"))
    kind = w.kind[school]
    ahead = _true_level(w, sidx, d, _ymd(w.years[j] - 1, 9, 15)) - g
    # Placement follows the level: dual enrollment for juniors and seniors above grade,
    # advanced for well-above-grade students, honors for those near or above grade.
    high, middle = kind == 2, kind == 1
    cl = np.select([high & (g >= 11) & (ahead >= 0),
                    (high & (g <= 10) & (ahead >= 0.5)) | (middle & (ahead >= 0)),
                    high & (ahead >= -0.5)], [3, 2, 1], 0)
    group = ((j * len(w.school_ids) + school) * 2 + d) * 14 + g + 1
    group = group * 4 + cl
    _, ginv, gcount = np.unique(group, return_inverse=True, return_counts=True)
    nsec = np.ceil(gcount[ginv] / _BASE["section_size"])
    # Elementary classes are self-contained: the same homeroom for math and ELA.
    u = np.where(kind == 0, np.repeat(rng.random(n), 2), rng.random(2 * n))
    key = group * 100_000 + (u * nsec).astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    sec = _decode_sections(w, uniq)
    w.sd = pd.DataFrame({"s": s, "d": d, "sidx": sidx, "j": j, "school": school,
                         "section": inv, "teacher": sec["teacher"].to_numpy()[inv], "cl": cl})
    w.sec = sec
    w.sec_ids = _codes("SEC", np.arange(1, len(sec) + 1), 5)
    _publish_sections(w)


def _decode_sections(w: _World, key) -> pd.DataFrame:
    k, rest = key % 100_000, key // 100_000
    cl, rest = rest % 4, rest // 4
    g, rest = rest % 14 - 1, rest // 14
    d, rest = rest % 2, rest // 2
    school, j = rest % len(w.school_ids), rest // len(w.school_ids)
    sec = pd.DataFrame({"j": j, "school": school, "d": d, "grade": g, "cl": cl, "k": k})
    sec["ordinal"] = sec.groupby(["j", "school", "d"]).cumcount()
    # Elementary teachers share one pool across domains; secondary pools are per domain.
    sec["pool"] = np.where(w.kind[school] == 0, 0, d + 1)
    per = np.where(sec["pool"] == 0, 1, _BASE["secondary_sections_per_teacher"])
    size = sec.groupby(["j", "school", "d"])["ordinal"].transform("size")
    sec["slots"] = np.ceil(size / per).astype(int)
    pools = sec.groupby(["school", "pool"])["slots"].max().reset_index()
    pools["offset"] = pools["slots"].cumsum() - pools["slots"]
    sec = sec.merge(pools[["school", "pool", "offset", "slots"]].rename(columns={"slots": "p"}),
                    on=["school", "pool"], how="left")
    sec["teacher"] = sec["offset"] + sec["ordinal"] % sec["p"]
    w.teacher_school = np.repeat(pools["school"].to_numpy(), pools["slots"].to_numpy())
    return sec


def _publish_sections(w: _World) -> None:
    sec = w.sec
    n_teachers = len(w.teacher_school)
    w.staff_ids = _codes("STF", np.arange(1, n_teachers + 4 * len(w.school_ids) + 1), 4)
    dom = np.array(DOMAINS, dtype=object)[sec["d"]]
    grade = sec["grade"].to_numpy()
    gtext = np.where(grade == 0, "K", _codes("", grade, 2).astype(str))
    course = np.char.add(np.char.add(np.char.upper(dom.astype(str)), "-"), gtext)
    course = np.char.add(course, _COURSE_SUFFIX[sec["cl"]]).astype(object)
    school = w.school_ids[sec["school"]]
    band = np.where(grade <= 2, "K2", "35")
    plc = np.where(w.kind[sec["school"]] == 0, school + "-PLC-" + band,
                   school + "-PLC-" + np.char.upper(dom.astype(str)))
    w.tables["sections"] = pd.DataFrame({
        "section_id": w.sec_ids, "school_year": w.years[sec["j"]], "school_id": school,
        "teacher_id": w.staff_ids[sec["teacher"]], "course_id": course,
        "domain": dom, "plc_id": plc.astype(object),
        "course_level": _COURSE_LEVELS[sec["cl"]].astype(object),
    })
    order = np.lexsort((w.sd["section"].to_numpy(), w.sd["sidx"].to_numpy()))
    w.tables["rosters"] = pd.DataFrame({
        "student_id": w.ids[w.sd["sidx"].to_numpy()[order]],
        "section_id": w.sec_ids[w.sd["section"].to_numpy()[order]],
    })


# -------------------------------------------------------------------------- opportunities
def _make_opportunities(w: _World) -> None:
    sp, rng = w.spans, w.rng
    first = ~sp.duplicated(["sidx", "j"]).to_numpy()
    sidx, j = sp["sidx"].to_numpy()[first], sp["j"].to_numpy()[first]
    m = len(sidx)
    behind = _row_mean(w.behind_first[first])
    eligible = behind <= 0  # at or above grade level (NaN -> not eligible)
    dis = w.flags["disability"][sidx]
    ratio = np.where(dis & w.plant, _LEVEL4_RATIO, 1.0)
    p_l4 = np.where(eligible, _BASE["level4_rate_eligible"] * ratio, _BASE["level4_rate_not_eligible"])
    if w.realistic:
        p_l4 = np.minimum(p_l4 * _realistic_access(w, sidx, j), 0.95)
    l4 = rng.random(m) < p_l4
    sd_key = w.sd["sidx"].to_numpy() * 100 + w.sd["j"].to_numpy()
    honors_keys = np.unique(sd_key[np.isin(w.sd["cl"].to_numpy(), [1, 2])])
    dual_keys = np.unique(sd_key[w.sd["cl"].to_numpy() == 3])
    key = sidx * 100 + j
    kinds = {
        "level4_work": l4,
        "enrichment": rng.random(m) < _BASE["enrichment_rate"],
        "acceleration": (behind <= -1) & (rng.random(m) < _BASE["acceleration_rate_ahead"]),
        "honors": np.isin(key, honors_keys),
        "dual_enrollment": np.isin(key, dual_keys),
        "leadership": rng.random(m) < _BASE["leadership_rate"],
    }
    # Level-4 work shows up in the evidence as DOK-4 tasks: flag every enrollment of the year.
    w.l4 = np.isin(w.spans["sidx"].to_numpy() * 100 + w.spans["j"].to_numpy(), key[l4])
    rows = pd.concat([pd.DataFrame({"sidx": sidx[v], "j": j[v], "type": t})
                      for t, v in kinds.items()], ignore_index=True)
    rows = rows.sort_values(["sidx", "type", "j"], kind="stable")
    w.tables["opportunities"] = pd.DataFrame({
        "student_id": w.ids[rows["sidx"]], "opportunity_type": rows["type"].to_numpy(dtype=object),
        "school_year": w.years[rows["j"]],
    })
    if w.plant:
        w.planted.append(_level4_record())


def _row_mean(x):
    """Mean over columns ignoring NaN, NaN where a row has no value (no warning)."""
    ok = ~np.isnan(x)
    total = np.where(ok, x, 0).sum(axis=1)
    count = ok.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _level4_record():
    return {
        "name": "level4_access",
        "description": "Students with disabilities who are at or above grade level get "
                       "Level-4 work at half the rate of other students at the same level.",
        "table": "opportunities", "measure": "level4_work rate among students at or above grade",
        "group": {"disability": "Y"}, "where": {"opportunity_type": "level4_work"},
        "effect": _LEVEL4_RATIO, "effect_type": "ratio",
        "base_rate": _BASE["level4_rate_eligible"],
        "eligibility": "mean over domains of behind at the first level of the school year <= 0",
    }


# ------------------------------------------------------------------------------- evidence
_WINDOWS = ((-1, 10, 1, 61), (-1, 12, 1, 40), (0, 2, 1, 58), (0, 4, 1, 55))  # 2 per term


def _make_evidence(w: _World) -> None:
    sd, sp, rng = w.sd, w.spans, w.rng
    r = np.repeat(np.arange(len(sd)), len(_WINDOWS))
    slot = np.tile(np.arange(len(_WINDOWS)), len(sd))
    year = w.years[sd["j"].to_numpy()[r]]
    off, mon, day0, length = (np.array(c)[slot] for c in zip(*_WINDOWS))
    day = _school_day(_ymd(year + off, mon, day0) + (rng.random(len(r)) * length).astype(np.int64))
    span = sd["s"].to_numpy()[r]
    keep = (day >= sp["entry"].to_numpy()[span]) & (day <= sp["exit"].to_numpy()[span])
    r, slot, day, span = r[keep], slot[keep], day[keep], span[keep]
    sidx, d = sd["sidx"].to_numpy()[r], sd["d"].to_numpy()[r]
    true = _true_level(w, sidx, d, day)
    n = len(r)
    level = np.clip(np.floor(true) + rng.choice([-1, 0, 1], n, p=[0.15, 0.75, 0.10]), -1, 12)
    std = _standard_index(d, level.astype(np.int64), rng.integers(0, _STD_PER_LEVEL, n))
    dok = np.where(rng.random(n) < np.where(w.l4[span], 0.3, 0.03), 4, np.minimum(w.std_dok[std], 3))
    latent = 2.2 + 1.4 * (true - level) - 0.25 * (dok - 2) + rng.normal(0, 0.6, n)
    score = np.clip(np.round(latent), 1, 4).astype(np.int64)
    task = np.where(dok == 4, rng.choice(2, n, p=[0.6, 0.4]),
                    rng.choice(5, n, p=[0.15, 0.1, 0.25, 0.3, 0.2]))
    w.ev = pd.DataFrame({"r": r, "term": (slot >= 2).astype(int), "score": score})
    order = np.lexsort((std, day, sidx))
    w.tables["evidence"] = pd.DataFrame({
        "student_id": w.ids[sidx[order]], "standard_id": w.std_ids[std[order]],
        "assessed_on": _dates(day[order]), "score": score[order],
        "scorer_id": w.staff_ids[sd["teacher"].to_numpy()[r[order]]],
        "task_type": _TASKS[task[order]].astype(object), "dok": dok[order],
    })


# --------------------------------------------------------------------------------- grades
def _make_grades(w: _World) -> None:
    sd, ev, rng = w.sd, w.ev, w.rng
    key = ev["r"].to_numpy() * 2 + ev["term"].to_numpy()
    total = np.bincount(key, weights=ev["score"].to_numpy(), minlength=2 * len(sd))
    count = np.bincount(key, minlength=2 * len(sd))
    k = np.nonzero(count)[0]
    r, term, mastery = k // 2, k % 2, total[k] / count[k]
    sidx, teacher = sd["sidx"].to_numpy()[r], sd["teacher"].to_numpy()[r]
    points = 1.35 * mastery - 1.05 + rng.normal(0, 0.35, len(k))
    biased = _pick_biased_teacher(w)  # also in a null district, to keep ids comparable
    points += _GRADE_BIAS * w.plant * ((teacher == biased) & (w.race[sidx] == _BLACK))
    if w.realistic:
        lenient = _realistic_leniency(w)[teacher]
        points += lenient
        count = np.maximum(np.bincount(sidx, minlength=w.n), 1)
        w.truth["grading"] = np.bincount(sidx, weights=lenient, minlength=w.n) / count
    letter = np.searchsorted((_POINTS[1:] + _POINTS[:-1]) / 2, points)
    section = sd["section"].to_numpy()[r]
    order = np.lexsort((term, section, sidx))
    w.tables["grades"] = pd.DataFrame({
        "student_id": w.ids[sidx[order]], "section_id": w.sec_ids[section[order]],
        "term": np.array(["s1", "s2"], dtype=object)[term[order]],
        "grade": _LETTERS[letter[order]].astype(object),
    })


def _pick_biased_teacher(w: _World) -> int:
    """The secondary teacher who teaches the most Black students (ties: lowest id)."""
    sd = w.sd[w.kind[w.sd["school"].to_numpy()] >= 1]
    pairs = sd[["sidx", "teacher"]].drop_duplicates()
    black = w.race[pairs["sidx"].to_numpy()] == _BLACK
    counts = pairs.assign(black=black).groupby("teacher")["black"].sum()
    teacher = int(counts.idxmax()) if len(counts) else 0
    sections = w.sec_ids[np.nonzero(w.sec["teacher"].to_numpy() == teacher)[0]]
    w.biased_teacher = teacher
    if not w.plant:
        return teacher
    w.planted.append({
        "name": "teacher_grade_bias",
        "description": "One teacher grades Black students about one letter grade below what "
                       "their evidence predicts; other students are graded fairly.",
        "table": "grades", "measure": "grade points minus grade points predicted by evidence",
        "group": {"race_ethnicity": _BLACK}, "where": {"teacher_id": w.staff_ids[teacher]},
        "effect": _GRADE_BIAS, "effect_type": "difference",
        "teacher_id": w.staff_ids[teacher], "section_ids": sorted(sections.tolist()),
        "black_students": int(counts.max()) if len(counts) else 0,
        "grade_model": "points = 1.35 * mean evidence score of the term - 1.05 + N(0, 0.35), "
                       "rounded to the nearest letter (A+ 4.3 ... F 0)",
    })
    return teacher


# ------------------------------------------------------------------------------- supports
def _make_supports(w: _World) -> None:
    sp, rng = w.spans, w.rng
    s, d = np.nonzero(~np.isnan(w.behind_first))
    sidx, school = sp["sidx"].to_numpy()[s], sp["school"].to_numpy()[s]
    need = (w.behind_first[s, d] >= 2) | (w.pace[sidx, d] < 0.7)
    target = w.elem_ids[1 % len(w.elem_ids)]
    low = w.plant & (school == target)
    p = np.where(need, np.where(low, _SUPPORT_RATE_PLANTED, _BASE["support_rate_needy"]),
                 _BASE["support_rate_not_needy"])
    give = rng.random(len(s)) < p
    # Start after both domains' first levels of the enrollment, on even days for ELA and
    # odd days for math, so a student's two supports never share a start date.
    start = w.first_date.max(axis=1)[s] + 2 * rng.integers(2, 8, len(s)) + d
    exit_ = sp["exit"].to_numpy()[s]
    end = np.maximum(np.minimum(start + rng.integers(60, 150, len(s)), exit_), start)
    give &= start <= exit_  # a support must start while the student is enrolled
    kinds = np.array(["intervention_block", "tutoring", "extended_learning"], dtype=object)
    p_elem = rng.choice(3, len(s), p=[0.5, 0.3, 0.2])
    p_sec = rng.choice(3, len(s), p=[0.3, 0.4, 0.3])
    stype = kinds[np.where(w.kind[school] == 0, p_elem, p_sec)]
    rows = pd.DataFrame({"sidx": sidx, "type": stype, "start": start, "end": end,
                         "domain": np.array(DOMAINS, dtype=object)[d]})[give]
    rows = pd.concat([rows, _general_supports(w)], ignore_index=True)
    rows = rows.sort_values(["sidx", "type", "start"], kind="stable")
    w.tables["supports"] = pd.DataFrame({
        "student_id": w.ids[rows["sidx"]], "support_type": rows["type"].to_numpy(dtype=object),
        "start_date": _dates(rows["start"]), "end_date": _dates(rows["end"]),
        "domain": rows["domain"].to_numpy(dtype=object),
    })
    if w.plant:
        w.planted.append(_support_record(w.school_ids[target]))


def _general_supports(w: _World) -> pd.DataFrame:
    """Counseling and mentoring without a domain, independent of everything."""
    sp, rng = w.spans, w.rng
    n = len(sp)
    start = sp["entry"].to_numpy() + rng.integers(10, 60, n)
    end = np.minimum(start + rng.integers(30, 120, n), sp["exit"].to_numpy())
    give = (rng.random(n) < _BASE["general_support_rate"]) & (end >= start + 14)
    stype = np.array(["counseling", "mentoring"], dtype=object)[rng.integers(0, 2, n)]
    return pd.DataFrame({"sidx": sp["sidx"].to_numpy(), "type": stype, "start": start,
                         "end": end, "domain": None})[give]


def _support_record(school_id):
    return {
        "name": "unmet_need_school",
        "description": "One school supports only about 30% of its students who are 2+ levels "
                       "behind or below pace; other schools support about 85%.",
        "table": "supports", "measure": "share of students in need with a support in the domain",
        "group": None, "where": {"school_id": school_id},
        "effect": _SUPPORT_RATE_PLANTED, "effect_type": "rate",
        "school_id": school_id, "support_rate_needy": _SUPPORT_RATE_PLANTED,
        "support_rate_needy_elsewhere": _BASE["support_rate_needy"],
        "need": "behind >= 2 at the first level of the enrollment in the domain, or true pace "
                "< 0.7; one support row per enrollment and domain, starting after that level",
    }


# ----------------------------------------------------------------------------- discipline
def _make_discipline(w: _World) -> None:
    sp, rng = w.spans, w.rng
    n = len(sp)
    school = sp["school"].to_numpy()
    black = w.race[sp["sidx"].to_numpy()] == _BLACK
    target = w.mid_ids[0]
    ratio = np.where(w.plant & (school == target) & black, _OSS_RATIO, 1.0)
    if w.realistic:  # every removal shares the student's, the group's and the school's risk
        mult = _realistic_discipline(w)
        oss = rng.random(n) < np.minimum(_BASE["oss_risk"] * ratio * mult, 0.9)
        iss = rng.random(n) < np.minimum(0.05 * mult, 0.9)
        referral = rng.poisson(0.25 * mult)
    else:
        oss = rng.random(n) < _BASE["oss_risk"] * ratio
        referral, iss = rng.poisson(0.25, n), rng.random(n) < 0.05
    counts = {
        "referral": referral,
        "in_school_suspension": iss.astype(int),
        "out_of_school_suspension": oss * (1 + rng.poisson(0.25, n)),
        "expulsion": (rng.random(n) < 0.002).astype(int),
        "other": rng.poisson(0.04, n),
    }
    days = {"in_school_suspension": (1, 3), "out_of_school_suspension": (1, 6),
            "expulsion": (30, 181)}
    frames = []
    for action, c in counts.items():  # loop over the five actions, vectorised within
        s = np.repeat(np.arange(n), c)
        lo, hi = days.get(action, (0, 0))
        removed = rng.integers(lo, hi, len(s)) if hi else np.full(len(s), -1)
        frames.append(pd.DataFrame({"s": s, "action": action, "days": removed}))
    rows = pd.concat(frames, ignore_index=True)
    s = rows["s"].to_numpy()
    span_len = sp["exit"].to_numpy()[s] - sp["entry"].to_numpy()[s]
    day = sp["entry"].to_numpy()[s] + (rng.random(len(s)) * (span_len + 1)).astype(np.int64)
    rows["day"] = _school_day(day)  # stays inside the enrollment: entry and exit are weekdays
    rows["sidx"] = sp["sidx"].to_numpy()[s]
    # Two referrals of one student on the same day are one record, not a repeated row.
    rows = rows.drop_duplicates(["sidx", "day", "action", "days"])
    rows = rows.sort_values(["sidx", "day", "action", "s"], kind="stable")
    w.tables["discipline"] = pd.DataFrame({
        "student_id": w.ids[rows["sidx"]], "incident_date": _dates(rows["day"]),
        "action": rows["action"].to_numpy(dtype=object),
        "days_removed": pd.array(np.where(rows["days"] >= 0, rows["days"], 0), dtype="Int64"),
        "school_id": w.school_ids[school[rows["s"]]],
    })
    w.tables["discipline"].loc[(rows["days"] < 0).to_numpy(), "days_removed"] = pd.NA
    if w.plant:
        w.planted.append(_discipline_record(w.school_ids[target]))


def _discipline_record(school_id):
    return {
        "name": "disproportionate_discipline",
        "description": "At one school, Black students are three times as likely as other "
                       "students to receive an out-of-school suspension; elsewhere no difference.",
        "table": "discipline", "measure": "risk of >= 1 out_of_school_suspension per enrollment",
        "group": {"race_ethnicity": _BLACK},
        "where": {"school_id": school_id, "action": "out_of_school_suspension"},
        "effect": _OSS_RATIO, "effect_type": "ratio",
        "school_id": school_id, "base_risk": _BASE["oss_risk"],
    }


# --------------------------------------------------------------------------------- survey
def _make_survey(w: _World) -> None:
    sp, rng = w.spans, w.rng
    school, j = sp["school"].to_numpy(), sp["j"].to_numpy()
    day = _school_day(_ymd(w.years[j], 3, 10) + (w.first_day[school, j] - _ymd(w.years[j] - 1, 8, 19)))
    take = (sp["grade"].to_numpy() >= 3) & (sp["entry"].to_numpy() <= day) & (day <= sp["exit"].to_numpy())
    take &= rng.random(len(sp)) < _BASE["survey_response_rate"]
    s = np.nonzero(take)[0]
    m, n_c = len(s), len(_CONSTRUCTS)
    tone = rng.normal(0, 0.6, (m, n_c))  # a student's feeling about each construct
    if w.realistic:  # the same student feels much the same way every year
        lasting = rng.normal(0, 0.5, (w.n, n_c))
        tone = lasting[sp["sidx"].to_numpy()[s]] + 0.6 * tone
    rr = np.repeat(np.arange(m), 3 * n_c)
    c = np.tile(np.repeat(np.arange(n_c), 3), m)
    item = np.tile(np.arange(1, 4), m * n_c)
    resp = np.clip(np.round(3.6 + tone[rr, c] + rng.normal(0, 0.8, len(rr))), 1, 5).astype(np.int64)
    sidx = sp["sidx"].to_numpy()[s][rr]
    names = np.array(_CONSTRUCTS, dtype=object)
    order = np.lexsort((day[s][rr], item, c, sidx))
    w.tables["survey"] = pd.DataFrame({
        "student_id": w.ids[sidx[order]], "construct": names[c[order]],
        "item_id": np.char.add(np.array(_CONSTRUCT_CODES)[c[order]],
                               item[order].astype(str)).astype(object),
        "response": resp[order], "survey_date": _dates(day[s][rr][order]),
    })


# ---------------------------------------------------------------------------- calibration
def _make_calibration(w: _World) -> None:
    rng = w.rng
    n_t = len(w.teacher_school)
    pool = np.sort(rng.choice(n_t, min(_BASE["calibration_pool"], n_t), replace=False))
    harsh = next((int(t) for t in pool if t != w.biased_teacher), int(pool[0]))
    others = pool[pool != harsh]
    works = _BASE["calibration_works"]
    k = np.minimum(rng.integers(4, 6, works), len(others))  # 5-6 scorers with the harsh one
    pick = np.argsort(rng.random((works, len(others))), axis=1)[:, : k.max(initial=0)]
    grid = np.column_stack([np.full(works, harsh), others[pick]])
    used = np.column_stack([np.ones(works, bool), np.arange(pick.shape[1]) < k[:, None]])
    work = np.repeat(np.arange(works), used.sum(axis=1))
    scorer = grid[used]  # row-major, so grouped by work like ``work``
    truth = rng.uniform(1.8, 3.8, works)
    bias = np.where(scorer == harsh, _SEVERITY * w.plant, 0.0)
    score = np.clip(np.round(truth[work] + bias + rng.normal(0, 0.35, len(work))), 1, 4).astype(int)
    std = rng.integers(0, len(w.std_ids), works)
    order = np.lexsort((w.staff_ids[scorer], work))
    w.tables["calibration"] = pd.DataFrame({
        "work_id": _codes("W", work[order] + 1, 3),
        "scorer_id": w.staff_ids[scorer[order]], "score": score[order],
        "standard_id": w.std_ids[std[work[order]]],
    })
    if w.plant:
        w.planted.append({
            "name": "harsh_rater",
            "description": "One scorer scores calibration work about 0.8 points below the "
                           "other scorers of the same work.",
            "table": "calibration", "measure": "score minus mean of the other scorers of the work",
            "group": None, "where": {"scorer_id": w.staff_ids[harsh]},
            "effect": _SEVERITY, "effect_type": "difference", "scorer_id": w.staff_ids[harsh],
            "scores_every_work": True,
            "applies_to": "calibration only; this teacher's evidence scores are unbiased",
        })


# ---------------------------------------------------------------------------------- staff
def _make_staff(w: _World) -> None:
    rng, n_s = w.rng, len(w.school_ids)
    n_t = len(w.teacher_school)
    # Per school: a principal and a counselor; secondary schools add an AP and a counselor.
    extra_school = np.repeat(np.arange(n_s), 4)
    extra_role = np.tile(["administrator", "counselor", "administrator", "counselor"], n_s)
    keep = (w.kind[extra_school] > 0) | (np.tile(np.arange(4), n_s) < 2)
    school = np.r_[w.teacher_school, extra_school[keep]]
    role = np.r_[np.full(n_t, "teacher"), extra_role[keep]].astype(object)
    race = _choice(rng, _STAFF_RACE_SHARES, len(school))
    w.tables["staff"] = pd.DataFrame({
        "staff_id": w.staff_ids[: len(school)], "school_id": w.school_ids[school],
        "race_ethnicity": pd.Series(race).replace("", np.nan), "role": role,
    })


# ------------------------------------------------------------------------------ attendance
def _make_attendance(w: _World) -> None:
    """Days enrolled and absent per enrollment. Each student has one propensity to miss a
    day that persists across years (a beta draw, mean 5 %); it is the same for every group,
    so attendance carries no planted inequity and a scan should find nothing here.
    Built last so adding it left every other table of a seed unchanged."""
    sp, rng = w.spans, w.rng
    propensity = rng.beta(2.0, 38.0, w.n)
    entry = sp["entry"].to_numpy(np.int64).astype("datetime64[D]")
    last = (sp["exit"].to_numpy(np.int64) + 1).astype("datetime64[D]")
    enrolled = np.round(np.busday_count(entry, last) * 0.87)  # holidays and breaks: about 180 days a year
    absent = rng.binomial(enrolled.astype(np.int64), propensity[sp["sidx"].to_numpy()])
    w.tables["attendance"] = pd.DataFrame({
        "student_id": w.ids[sp["sidx"]], "school_year": w.years[sp["j"]],
        "school_id": w.school_ids[sp["school"]], "days_enrolled": enrolled, "days_absent": absent,
    }).groupby(["student_id", "school_year", "school_id"], as_index=False, sort=True).sum()


# ------------------------------------------------------------------------ realistic nulls
# ``null="realistic"`` (and ``realistic=True``): the structure of real district data
# without any inequity beyond additive main effects. A latent disadvantage factor links
# race, low income, English learner status and disability, and sorts students into
# schools; groups differ in pace, discipline and access by the same amount everywhere
# (main effects, no interaction, no unit-by-group effect); growth happens only during
# school years; each student keeps a propensity across years; each teacher grades all
# students with one leniency; schools have random effects.

#: Group main effects of the realistic generator: pace in levels per school year
#: (additive), discipline and Level-4 access as risk ratios (multiplicative).
REALISTIC_MAIN_EFFECTS = {
    "pace": {"english_learner": -0.10, "disability": -0.15, "low_income": -0.08},
    "discipline": {"race_ethnicity": (_BLACK, 1.5), "low_income": 1.5, "disability": 1.6},
    "level4_access": {"low_income": 0.8, "english_learner": 0.85},
}
_LATENT_BY_RACE = {"Hispanic/Latino": 0.5, "American Indian/Alaska Native": 0.6, "Asian": -0.3,
                   _BLACK: 0.6, "Native Hawaiian/Pacific Islander": 0.4, "White": -0.3,
                   "Two or more races": 0.2, "": 0.0}
_REALISTIC = {
    "school_composition_sd": 1.0,  # noise added to the latent factor when sorting into schools
    "pace_school_sd": 0.05, "pace_year_sd": 0.06,
    "discipline_school_sd": 0.25, "discipline_frailty_shape": 1.5,
    "access_school_sd": 0.15, "access_student_sd": 0.3,
    "teacher_leniency_sd": 0.25,
    "school_year": ("08-24", "06-09"),  # growth between these days only (nominal calendar)
}
_CELL_INTERACTION = -0.30  # planted (realistic=True): EL with a disability, beyond main effects
# Smallest true gap listed in ``manifest["real_gaps"]``: a difference for pace (levels a
# year) and grading (grade points), a ratio for discipline and access.
_REAL_GAP_MIN = {"pace": 0.01, "grading": 0.02, "discipline": 1.02, "level4_access": 1.02}


def _group_mask(w: _World, column: str, value="Y"):
    if column == "race_ethnicity":
        return w.race == value
    return w.flags[column]


def _realistic_people(w: _World) -> None:
    """Subgroups linked through a latent disadvantage factor, and schools sorted by it."""
    rng, n = w.rng, w.n
    z = np.vectorize(_LATENT_BY_RACE.get, otypes=[float])(w.race) + rng.normal(0, 1, n)
    many_el = np.isin(w.race, ["Hispanic/Latino", "Asian"])
    scores = {"low_income": z + rng.normal(0, 0.7, n),
              "english_learner": 0.6 * z + 1.5 * many_el + rng.normal(0, 1, n),
              "disability": 0.35 * z + rng.normal(0, 1, n)}
    for column, score in scores.items():
        w.flags[column] = score > np.quantile(score, 1 - _FLAG_SHARES[column])
    w.latent = z
    for level, ids in enumerate((w.elem_ids, w.mid_ids, w.high_ids)):
        key = z + rng.normal(0, _REALISTIC["school_composition_sd"], n)
        rank = np.argsort(np.argsort(key, kind="stable"), kind="stable")
        w.homes[level] = (rank * len(ids) // n).astype(np.int64)
    n_s = len(w.school_ids)
    w.truth["school_effects"] = {
        "pace": rng.normal(0, _REALISTIC["pace_school_sd"], n_s),
        "discipline": np.exp(rng.normal(0, _REALISTIC["discipline_school_sd"], n_s)),
        "level4_access": np.exp(rng.normal(0, _REALISTIC["access_school_sd"], n_s)),
    }


def _main_pace(w: _World) -> np.ndarray:
    return sum(effect * w.flags[col] for col, effect in REALISTIC_MAIN_EFFECTS["pace"].items())


def _ratio_effects(w: _World, measure: str, rows=slice(None)) -> np.ndarray:
    out = np.ones(w.n)
    for col, effect in REALISTIC_MAIN_EFFECTS[measure].items():
        value, ratio = effect if isinstance(effect, tuple) else ("Y", effect)
        out = out * np.where(_group_mask(w, col, value), ratio, 1.0)
    return out[rows]


def _realistic_student_growth(w: _World) -> None:
    """Persistent student pace and starting level; the school part is added with the spans."""
    rng, n = w.rng, w.n
    el, dis = w.flags["english_learner"], w.flags["disability"]
    w.cell = _CELL_INTERACTION * (el & dis) * w.plant
    shift = _main_pace(w) + w.cell
    w.pace_student = (_BASE["pace_mean"] + shift + rng.normal(0, _BASE["pace_student_sd"], n))[:, None] \
        + rng.normal(0, _BASE["pace_domain_sd"], (n, 2))
    w.pace_year_noise = rng.normal(0, _REALISTIC["pace_year_sd"], (n, 2, len(w.years)))
    grade_first = w.vg + w.first
    mean_behind = _BASE["behind_mean_intercept"] + _BASE["behind_mean_per_grade"] * grade_first
    behind = rng.normal(mean_behind[:, None], _BASE["behind_sd"], (n, 2)) - shift[:, None]
    w.t0 = _ymd(w.years[w.first] - 1, 9, 15)
    w.start = np.clip(grade_first[:, None] - behind, -1, 16)
    if w.plant:
        w.planted.append({
            "name": "hidden_intersection",
            "description": "English learners with a disability grow more slowly than the sum of "
                           "the two groups' main effects predicts.",
            "table": "levels", "measure": "pace", "where": {},
            "group": {"english_learner": "Y", "disability": "Y"},
            "effect": _CELL_INTERACTION, "effect_type": "interaction",
            "students": int((el & dis).sum()),
            "main_effects": dict(REALISTIC_MAIN_EFFECTS["pace"]),
            "basis": "levels per school year; growth only between school-year start and end",
        })


def _realistic_pace(w: _World) -> None:
    """Pace per student, domain and school year: student + year noise + that year's school."""
    sp = w.spans
    first = ~sp.duplicated(["sidx", "j"]).to_numpy()
    effect = np.zeros((w.n, len(w.years)))
    effect[sp["sidx"].to_numpy()[first], sp["j"].to_numpy()[first]] = \
        w.truth["school_effects"]["pace"][sp["school"].to_numpy()[first]]
    w.pace_year = np.clip(w.pace_student[:, :, None] + w.pace_year_noise + effect[:, None, :], 0.05, 2.5)
    w.pace = w.pace_year.mean(axis=2)
    w.pace_cum = np.concatenate([np.zeros((w.n, 2, 1)), np.cumsum(w.pace_year, axis=2)], axis=2)


def _school_years_elapsed(w: _World, day):
    """(index of the school year, fraction of it taught) for integer days; flat over summers."""
    day = np.asarray(day, np.int64)
    (m0, d0), (m1, d1) = ((int(x) for x in t.split("-")) for t in _REALISTIC["school_year"])
    cal = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    y_end = cal + (day >= _ymd(cal, m0, d0))
    start, end = _ymd(y_end - 1, m0, d0), _ymd(y_end, m1, d1)
    j = y_end - w.years[0]
    frac = np.clip((day - start) / (end - start), 0.0, 1.0)
    frac = np.where(j < 0, 0.0, np.where(j >= len(w.years), 1.0, frac))
    return np.clip(j, 0, len(w.years) - 1), frac


def _grown(w: _World, sidx, d, day):
    """Levels grown from the start of the first school year to ``day``."""
    j, frac = _school_years_elapsed(w, day)
    return w.pace_cum[sidx, d, j] + frac * w.pace_year[sidx, d, j]


def _realistic_access(w: _World, sidx, j) -> np.ndarray:
    """Level-4 rate multiplier: group main effects x school x a lasting student propensity."""
    sd = _REALISTIC["access_student_sd"]
    propensity = np.exp(w.rng.normal(0, sd, w.n) - sd ** 2 / 2)  # mean 1, the same every year
    sp = w.spans
    first = ~sp.duplicated(["sidx", "j"]).to_numpy()
    school = pd.Series(sp["school"].to_numpy()[first],
                       index=sp["sidx"].to_numpy()[first] * 100 + sp["j"].to_numpy()[first])
    school = school.reindex(sidx * 100 + j).to_numpy()
    return (_ratio_effects(w, "level4_access", sidx) * propensity[sidx]
            * w.truth["school_effects"]["level4_access"][school])


def _realistic_leniency(w: _World) -> np.ndarray:
    """One grading leniency per teacher, in grade points, shared by all of their students."""
    n_t = len(w.teacher_school)
    w.truth["teacher_leniency"] = w.rng.normal(0, _REALISTIC["teacher_leniency_sd"], n_t)
    return w.truth["teacher_leniency"]


def _realistic_discipline(w: _World) -> np.ndarray:
    """Removal risk multiplier per enrollment: groups x school x a lasting student frailty."""
    shape = _REALISTIC["discipline_frailty_shape"]
    frailty = w.rng.gamma(shape, 1 / shape, w.n)
    sidx, school = w.spans["sidx"].to_numpy(), w.spans["school"].to_numpy()
    return (_ratio_effects(w, "discipline", sidx) * frailty[sidx]
            * w.truth["school_effects"]["discipline"][school])


def _school_mean(w: _World, effect: np.ndarray) -> np.ndarray:
    """A school effect averaged over the school years each student was enrolled."""
    sp = w.spans[~w.spans.duplicated(["sidx", "j"])]
    sidx = sp["sidx"].to_numpy()
    total = np.bincount(sidx, weights=effect[sp["school"].to_numpy()], minlength=w.n)
    return total / np.maximum(np.bincount(sidx, minlength=w.n), 1)


def _real_gaps(w: _World) -> list[dict]:
    """True district gaps implied by the main effects, the schools and the correlated subgroups.

    For every core subgroup value, the group's expected outcome against all other
    students: pace (levels per school year: main effects + school effects, without
    the planted interaction and student noise), grading leniency met (grade points),
    and discipline and Level-4 access risk multipliers (main effects x school effects,
    as a ratio). Gaps smaller than ``_REAL_GAP_MIN`` are left out.
    """
    schools = w.truth["school_effects"]
    truth = {"pace": _main_pace(w) + _school_mean(w, schools["pace"]),
             "grading": w.truth.get("grading", np.zeros(w.n)),
             "discipline": _ratio_effects(w, "discipline") * _school_mean(w, schools["discipline"]),
             "level4_access": _ratio_effects(w, "level4_access") * _school_mean(w, schools["level4_access"])}
    columns = {"race_ethnicity": w.race, **{c: _yn(w.flags[c]) for c in
                                              ("english_learner", "disability", "low_income")}}
    out = []
    for measure, value in truth.items():  # loops over four measures and a few groups
        ratio = measure in ("discipline", "level4_access")
        for column, labels in columns.items():
            for label in np.unique(labels):
                inside = labels == label
                if inside.all():
                    continue
                a, b = value[inside].mean(), value[~inside].mean()
                gap = a / b if ratio else a - b
                # a blank answer is a group of the audit too ("Unknown"), with a true gap like any other
                if (max(gap, 1 / gap) if ratio else abs(gap)) >= _REAL_GAP_MIN[measure]:
                    out.append({"measure": measure, "unit": "district", "group": {column: str(label) or UNKNOWN},
                                "gap": round(float(gap), 3), "gap_type": "ratio" if ratio else "difference"})
    return out


def _realistic_manifest(w: _World) -> dict:
    effects = w.truth["school_effects"]
    return {
        "main_effects": {m: {c: list(e) if isinstance(e, tuple) else e for c, e in d.items()}
                         for m, d in REALISTIC_MAIN_EFFECTS.items()},
        "settings": dict(_REALISTIC),
        "correlated": [["low_income", "english_learner"], ["low_income", "disability"],
                       ["low_income", "race_ethnicity"]],
        "school_effects": {m: {str(w.school_ids[i]): round(float(v), 4) for i, v in enumerate(e)}
                           for m, e in effects.items()},
        "teacher_leniency": {str(w.staff_ids[i]): round(float(v), 4)
                             for i, v in enumerate(w.truth.get("teacher_leniency", []))},
        "growth": "levels grow only between the school-year start and end (settings.school_year); "
                  "pace is levels per school year: student + domain + year noise + that year's "
                  "school effect + group main effects",
        "discipline": "risk x group ratios x school ratio x a gamma frailty per student (all years)",
        "level4_access": "rate x group ratios x school ratio x a lognormal student propensity",
        "grades": "points = 1.35 * mean evidence - 1.05 + teacher leniency + N(0, 0.35)",
    }


# ------------------------------------------------------------------------------ assembly
# ------------------------------------------------------------------------ state comparison
_STATE_STUDENTS = 600_000
_STATE_RISKS = {"out_of_school_suspension": _BASE["oss_risk"], "in_school_suspension": 0.05,
                "expulsion": 0.002, "level4_work": 0.15}


def _make_state_comparison(w: _World) -> None:
    """Statewide counts by race with equal risks for every group: the state shows no
    disproportionality, so the alternate risk ratio compares with a neutral baseline."""
    groups = [g for g in _RACE_SHARES if g]
    shares = np.array([_RACE_SHARES[g] for g in groups])
    base = np.round(_STATE_STUDENTS * shares / shares.sum()).astype(np.int64)
    frames = [pd.DataFrame({"category": category, "group": groups, "base": base,
                            "outcome": w.rng.binomial(base, risk)})
              for category, risk in _STATE_RISKS.items()]  # loop over four categories
    w.tables["state_comparison"] = pd.concat(frames, ignore_index=True)


def _check_years(years) -> np.ndarray:
    years = np.array(sorted(int(y) for y in years), dtype=np.int64)
    if len(years) == 0 or np.any(np.diff(years) != 1):
        raise ValueError(f"years must be consecutive school years, got {list(years)}")
    if _dt.date(int(years[-1]), 6, 30) > _dt.date.today():
        raise ValueError(f"school year {years[-1]} has not ended yet; dates would be in the future")
    return years


def generate_district(students: int = 2000, *, seed: int = 0, null: bool | str = False,
                      years=(2024, 2025, 2026), schools: int = 5, realistic: bool = False):
    """Generate a complete synthetic district and its ground-truth manifest.

    Parameters
    ----------
    students : int, default 2000
        Number of students (rows of the ``students`` table) over all years.
    seed : int, default 0
        Seed for :func:`numpy.random.default_rng`; the same arguments give the same
        tables.
    null : bool or "realistic", default False
        If True, plant nothing: pace, behind-ness, supports, grades, rater severity,
        discipline, opportunities and survey answers are independent of every
        subgroup, school and teacher, and ``manifest["planted"]`` is empty.
        ``"realistic"`` plants nothing either, but gives the district the structure
        of real data (same as ``null=True, realistic=True``; see ``realistic``).
    years : sequence of int, default (2024, 2025, 2026)
        Consecutive school years, Ed-Fi convention (the calendar year the school
        year ends). The last one must have ended (30 June) by today.
    schools : int, default 5
        Number of schools, at least 3: elementary (K-5), middle (6-8) and high
        (9-12) schools; 5 gives three elementary, one middle and one high school.
    realistic : bool, default False
        Realistic structure: subgroups correlated through a latent factor (English
        learners, students with disabilities and some races more often low income),
        schools sorted by it, real additive group main effects on pace, discipline
        and Level-4 access (``REALISTIC_MAIN_EFFECTS``, no interaction and no
        unit-by-group effect), growth only during school years (flat over summers),
        student propensities that persist across years, one grading leniency per
        teacher, and school random effects. ``manifest["realistic"]`` records all
        of it and ``manifest["real_gaps"]`` lists the true district gaps the main
        effects create, so an analysis that flags them is right. Without ``null``,
        six inequities of known size are planted on top: an intersection's pace
        beyond main effects, a school's discipline gap, an access gap, a teacher's
        grading gap against one group, a harsh scorer and a school that rarely
        supports students who are behind.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        One frame per contract table, with exactly the contract columns in
        contract order (plus ``group_newcomer`` on ``students``). Dates are
        ``datetime64`` columns, flags are ``"Y"``/``"N"``, blanks are missing.
    manifest : dict
        JSON-ready ground truth: arguments, row counts, the baseline design and
        ``planted``, one record per planted inequity (see Notes).

    Notes
    -----
    Each planted record has ``name``, ``description``, ``table``, ``measure``,
    ``group`` (``{column: value}`` on ``students`` or None), ``where`` (ids that
    locate the effect, e.g. ``{"school_id": "SCH02"}``), ``effect`` and
    ``effect_type`` (``difference``, ``ratio`` or ``rate``), plus effect-specific
    details such as the intersection's cell offsets.

    Examples
    --------
    >>> tables, manifest = generate_district(300, seed=3)
    >>> len(tables["students"])
    300
    >>> list(tables["rosters"].columns)
    ['student_id', 'section_id']
    >>> generate_district(300, seed=3, null=True)[1]["planted"]
    []
    >>> real = generate_district(300, seed=3, null="realistic")[1]
    >>> real["planted"], real["arguments"]["realistic"], "real_gaps" in real
    ([], True, True)
    """
    if students < 1:
        raise ValueError("students must be at least 1")
    if schools < 3:
        raise ValueError("schools must be at least 3 (elementary, middle and high)")
    if not (null is True or null is False or null == "realistic"):
        raise ValueError(f"null must be True, False or 'realistic', got {null!r}")
    realistic = bool(realistic) or null == "realistic"
    builders = (_make_students, _make_spans, _make_levels, _make_standards, _make_sections,
                _make_opportunities, _make_evidence, _make_grades, _make_supports,
                _make_discipline, _make_survey, _make_calibration, _make_staff, _make_state_comparison,
                _make_attendance)
    # One child stream per builder: a builder whose number of draws depends on a planted
    # effect cannot shift the others, so a null district differs only where it should.
    streams = np.random.default_rng(seed).spawn(len(builders) + 1)
    w = _World(streams[0], not null, _check_years(years), int(students), realistic=realistic)
    _make_schools(w, schools)
    for build, stream in zip(builders, streams[1:]):
        w.rng = stream
        build(w)
    tables = {name: _conform(name, w.tables[name]) for name in TABLES if name in w.tables}
    manifest = _manifest(w, tables, seed, null, schools)
    if realistic:  # only then: the default manifest stays byte-identical
        manifest["arguments"]["realistic"] = True
        manifest["realistic"] = _realistic_manifest(w)
        manifest["real_gaps"] = _real_gaps(w)
    return tables, manifest


def _conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Contract column order (plus group_* on students) and a clean 0..n-1 index."""
    cols = list(TABLES[name].column_names)
    extra = [c for c in df.columns if c not in cols]
    return df[cols + extra].reset_index(drop=True)


def _manifest(w: _World, tables, seed, null, n_schools) -> dict:
    order = {name: i for i, name in enumerate(PLANTED_EFFECTS)}
    planted = sorted(w.planted, key=lambda p: order[p["name"]])
    return {
        "generator": "equity_audit.data.synthetic",
        "format_version": _FORMAT_VERSION,
        "arguments": {"students": w.n, "seed": seed, "null": bool(null),
                      "years": [int(y) for y in w.years], "schools": n_schools},
        "schools": tables["schools"].to_dict(orient="records"),
        "tables": {name: {"rows": int(len(df))} for name, df in tables.items()},
        "design": _design(),
        "planted": planted,
    }


def _design() -> dict:
    return {
        "baseline": dict(_BASE),
        "pace": "levels per year; performance_level grows linearly in calendar time "
                "(days / 365.25) at the student's pace, plus N(0, level_noise_sd) per row",
        "behind": "grade + (as_of - 15 September of the school year) / 365.25 - performance_level",
        "independence": "subgroup flags, race, gender and school assignment are drawn "
                        "independently; only planted effects link outcomes to groups",
        "grade_levels": "K = 0; about 1% of grades 1-9 are written zero-padded ('05')",
        "evidence": "score 1-4 (3 = proficient); DOK-4 tasks are much more common for "
                    "students with level4_work that year",
    }


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            text = np.datetime_as_string(out[col].to_numpy().astype("datetime64[D]"))
            out[col] = np.where(out[col].isna().to_numpy(), "", text).astype(object)
    return out


def _write_table(df: pd.DataFrame, path: pathlib.Path, fmt: str) -> None:
    if fmt == "csv":
        _csv_ready(df).to_csv(path, index=False, lineterminator="\n", float_format="%.2f")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, f in enumerate(table.schema):  # store dates as dates, not timestamps
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.date32()))
    pq.write_table(table, path)


def write_district(out, *, students: int = 2000, seed: int = 0, null: bool | str = False,
                   fmt: str = "csv", **kw) -> pathlib.Path:
    """Generate a district and write it as a folder of files plus ``manifest.json``.

    Parameters
    ----------
    out : str or os.PathLike
        Folder to write into; created if needed. Existing files of the same
        names are overwritten, others are left alone.
    students, seed, null
        As in :func:`generate_district`.
    fmt : {"csv", "parquet"}, default "csv"
        ``<table>.csv`` (UTF-8, ISO dates, blanks for missing values) or
        ``<table>.parquet`` (dates stored as dates).
    **kw
        Passed to :func:`generate_district` (``years``, ``schools``, ``realistic``).

    Returns
    -------
    pathlib.Path
        Path of the written ``manifest.json``. The same arguments always produce
        byte-identical files.

    Examples
    --------
    >>> import tempfile, json
    >>> folder = tempfile.mkdtemp()
    >>> path = write_district(folder, students=200, seed=5)
    >>> path.name
    'manifest.json'
    >>> json.loads(path.read_text())["tables"]["students"]["rows"]
    200
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    tables, manifest = generate_district(students, seed=seed, null=null, **kw)
    return write_tables(out, tables, manifest, fmt)


def write_tables(out, tables: dict, manifest: dict, fmt: str = "csv") -> pathlib.Path:
    """Write generated ``tables`` and their ``manifest`` as a district folder; the manifest's path.

    Used by :func:`write_district` and by the synthetic state, whose LEAs are
    generated districts with more planted on top.
    """
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        file = f"{name}.{fmt}"
        _write_table(df, folder / file, fmt)
        manifest["tables"][name]["file"] = file
    path = folder / "manifest.json"
    text = json.dumps(manifest, indent=2, allow_nan=False, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _json_default(obj):
    """numpy scalars in the manifest become plain numbers."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
