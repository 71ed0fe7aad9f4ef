"""Student subgroups as display-ready categories.

Flags such as ``english_learner`` become the categories Yes / No / Unknown, and
a blank is kept as ``Unknown`` rather than dropped, so every student is counted
in every breakdown.

Examples
--------
>>> import pandas as pd
>>> students = pd.DataFrame({"student_id": ["a", "b", "c"],
...                          "english_learner": pd.array([True, False, None], dtype="boolean")})
>>> subgroup_labels(students)["english_learner"].tolist()
['Yes', 'No', 'Unknown']
"""
from __future__ import annotations

import pandas as pd

from equity_audit.data.contract import GROUP_PREFIX, SUBGROUP_FLAGS, UNKNOWN

__all__ = ["subgroup_columns", "comparable_subgroups", "core_subgroups", "subgroup_labels", "attach_subgroups", "FLAG_LABELS", "CORE"]

FLAG_LABELS = ("Yes", "No", UNKNOWN)
_BASE = ("race_ethnicity", "gender")


def subgroup_columns(students: pd.DataFrame) -> list[str]:
    """Subgroup columns present in ``students``: contract ones first, then ``group_*``."""
    contract = [c for c in (*_BASE, *SUBGROUP_FLAGS) if c in students.columns]
    district = sorted(c for c in students.columns if c.startswith(GROUP_PREFIX))
    return contract + district


#: The subgroups every chart shows; tables show every subgroup column.
CORE = ("race_ethnicity", "gender", "english_learner", "disability", "low_income")


def comparable_subgroups(students: pd.DataFrame) -> list[str]:
    """The subgroup columns with at least two recorded groups, so groups can be compared.

    A column whose every value is blank or Unknown (race recorded only as
    Unknown), or a yes/no column with only one answer, has no comparison to
    make; the data overview still shows it.

    Examples
    --------
    >>> students = pd.DataFrame({"student_id": ["a", "b"], "race_ethnicity": ["Unknown", "Unknown"],
    ...                          "english_learner": pd.array([True, False], dtype="boolean")})
    >>> comparable_subgroups(students)
    ['english_learner']
    """
    labelled = subgroup_labels(students)
    return [c for c in subgroup_columns(students)
            if labelled[c].astype(str).loc[lambda v: v != UNKNOWN].nunique() >= 2]


def core_subgroups(students: pd.DataFrame) -> list[str]:
    """The core subgroups present in ``students`` with groups to compare, for charts that must fit a page."""
    comparable = comparable_subgroups(students)
    return [c for c in CORE if c in comparable]


def subgroup_labels(students: pd.DataFrame) -> pd.DataFrame:
    """``students`` with every subgroup column as a categorical with an Unknown level."""
    out = students.copy()
    for column in subgroup_columns(students):
        if column in SUBGROUP_FLAGS:
            out[column] = _flag_labels(students[column])
        elif not isinstance(students[column].dtype, pd.CategoricalDtype):
            values = students[column].astype("string").fillna(UNKNOWN)
            levels = sorted(set(values.unique()) - {UNKNOWN}) + [UNKNOWN]
            out[column] = pd.Categorical(values, categories=levels)
    return out


def _flag_labels(flag: pd.Series) -> pd.Categorical:
    labels = flag.astype("boolean").map({True: "Yes", False: "No"}).astype("object")
    return pd.Categorical(labels.where(labels.notna(), UNKNOWN), categories=FLAG_LABELS)


def attach_subgroups(table: pd.DataFrame, students: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``table`` (with a ``student_id`` column) with the students' labelled subgroup columns."""
    columns = columns or subgroup_columns(students)
    labelled = subgroup_labels(students)[["student_id", *columns]]
    return table.drop(columns=[c for c in columns if c in table]).merge(labelled, on="student_id", how="left")
