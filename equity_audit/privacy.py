"""Small-cell suppression applied before any table is shown or written.

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

import pandas as pd

__all__ = ["small_cells", "publish_counts"]


def small_cells(counts: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """True where a count is above zero but below ``min_n`` (primary suppression)."""
    numeric = counts.apply(pd.to_numeric, errors="coerce")
    return (numeric > 0) & (numeric < min_n)


def publish_counts(counts: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """Counts as text, with suppressed cells shown as ``<min_n``."""
    shown = counts.astype("Int64").astype("string")
    return shown.mask(small_cells(counts, min_n=min_n), f"<{min_n}")
