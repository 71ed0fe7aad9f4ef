"""Climate and workforce: how students experience school, and who teaches them.

The framework's first area asks whether every student belongs and whether the
adults reflect the students they serve. Two measures:

- survey constructs (belonging, safety, agency, ...): each student's mean
  response per construct in the latest survey school year, for disaggregation;
- workforce: per school, the share of staff and of students in each
  race/ethnicity group, and the gap between them.

Examples
--------
>>> import pandas as pd
>>> survey = pd.DataFrame({"student_id": ["a", "a", "b"], "construct": ["belonging"] * 3,
...                        "item_id": ["b1", "b2", "b1"], "response": [4.0, 2.0, 5.0],
...                        "survey_date": pd.to_datetime(["2025-03-01"] * 3)})
>>> construct_scores(survey).to_dict("records")
[{'student_id': 'a', 'belonging': 3.0}, {'student_id': 'b', 'belonging': 5.0}]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.stats import bh_adjust
from equity_audit.pace import school_year_of

__all__ = ["construct_scores", "workforce_table", "climate_by_subgroup", "WHITE"]

WHITE = "White"


def construct_scores(survey: pd.DataFrame, *, school_year_start: str = "08-15",
                     school_year_end: str = "06-15") -> pd.DataFrame:
    """One row per student, one column per construct: the mean response, latest survey year."""
    latest = survey
    if "survey_date" in survey and survey["survey_date"].notna().any():
        years = school_year_of(survey["survey_date"], school_year_start=school_year_start,
                               school_year_end=school_year_end)
        latest = survey[(years == years.max()).fillna(False).to_numpy()]
    scores = latest.groupby(["student_id", "construct"])["response"].mean().unstack("construct")
    scores.columns.name = None
    return scores.reset_index()


def workforce_table(staff: pd.DataFrame, student_years: pd.DataFrame, students: pd.DataFrame,
                    *, school_names: dict | None = None, min_n: int = 10) -> pd.DataFrame:
    """Per school and for the district: the share of students and of staff who are people
    of color (any recorded race/ethnicity other than White), latest school year.

    People whose race/ethnicity is not recorded are left out of both shares. A
    share resting on fewer than ``min_n`` people is withheld: with a handful of
    staff it would point at a colleague.
    """
    latest = student_years[student_years["school_year"] == student_years["school_year"].max()]
    enrolled = latest.merge(students[["student_id", "race_ethnicity"]], on="student_id")
    table = _of_color(enrolled, "students").merge(_of_color(staff.dropna(subset=["school_id"]), "staff"),
                                                  on="school_id", how="outer")
    district = pd.DataFrame({"school_id": ["District"],
                             "students": [table["students"].sum()], "students_of_color": [table["students_of_color"].sum()],
                             "staff": [table["staff"].sum()], "staff_of_color": [table["staff_of_color"].sum()]})
    table = pd.concat([table, district], ignore_index=True).fillna(0)
    for side in ("students", "staff"):
        table[f"{side}_of_color_share"] = (table[f"{side}_of_color"] / table[side]).where(table[side] >= min_n)
    table["gap"] = table["staff_of_color_share"] - table["students_of_color_share"]
    ids = table["school_id"].astype(str)
    table["school"] = ids.map(school_names or {}).astype(str).where(ids.isin(list(school_names or {})), ids)
    return table[["school", "students", "students_of_color_share", "staff", "staff_of_color_share", "gap"]]


def _of_color(people: pd.DataFrame, side: str) -> pd.DataFrame:
    race = people["race_ethnicity"].astype(str)
    recorded = people.assign(of_color=(race != WHITE).astype(int))[(race != UNKNOWN).to_numpy()]
    grouped = recorded.groupby("school_id")["of_color"]
    return pd.DataFrame({side: grouped.size(), f"{side}_of_color": grouped.sum()}).reset_index()


def climate_by_subgroup(scores: pd.DataFrame, students: pd.DataFrame, columns: list[str], **options) -> pd.DataFrame:
    """Each construct's mean score by subgroup, against all other students, stacked.

    ``options`` go to :func:`equity_audit.disaggregate.disaggregate_each`
    (``min_n``, ``fdr``, ``confidence``); false discoveries are controlled
    within each construct.
    """
    from equity_audit.disaggregate import disaggregate_each
    from equity_audit.data.subgroups import subgroup_labels

    labelled = scores.merge(subgroup_labels(students)[["student_id", *columns]], on="student_id", how="left")
    constructs = [c for c in scores.columns if c != "student_id"]
    parts = [disaggregate_each(labelled, construct, columns, statistic="mean", **options).assign(construct=construct)
             for construct in constructs]  # a few constructs
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    # one family across constructs: more constructs must not mean more chance calls
    eligible = ~table["suppressed"]
    table["qvalue"] = bh_adjust(table["pvalue"].where(eligible).to_numpy(dtype=float))
    table["flagged"] = np.nan_to_num(table["qvalue"], nan=1.0) < options.get("fdr", 0.05)
    return table
