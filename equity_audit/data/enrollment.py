"""Who was enrolled where: one row per student and school year.

Examples
--------
>>> import pandas as pd
>>> enrollments = pd.DataFrame({
...     "student_id": ["a", "a", "b"], "school_year": [2025, 2025, 2025],
...     "school_id": ["s1", "s2", "s1"], "grade_level": [3, 3, 4],
...     "entry_date": pd.to_datetime(["2024-08-20", "2025-01-06", "2024-08-20"])})
>>> student_years(enrollments)[["student_id", "school_id", "n_schools"]].values.tolist()
[['a', 's2', 2], ['b', 's1', 1]]
"""
from __future__ import annotations

import pandas as pd

__all__ = ["student_years"]


def student_years(enrollments: pd.DataFrame) -> pd.DataFrame:
    """One row per student and school year, at the school attended last that year.

    ``n_schools`` counts the schools attended that year, so mobility stays visible.
    """
    order = ["student_id", "school_year"]
    if "entry_date" in enrollments.columns:
        order.append("entry_date")
    ranked = enrollments.sort_values(order, na_position="first", kind="stable")
    last = ranked.drop_duplicates(["student_id", "school_year"], keep="last")
    moves = enrollments.groupby(["student_id", "school_year"])["school_id"].nunique().rename("n_schools")
    columns = ["student_id", "school_year", "school_id", "grade_level"]
    return last[columns].merge(moves.reset_index(), on=["student_id", "school_year"]).reset_index(drop=True)
