"""A synthetic state: several synthetic districts (LEAs) with planted IDEA disproportionality.

Each LEA is a :func:`~equity_audit.data.synthetic.generate_district` district
with its own seed and size, generated with ``null=True`` (no district-level
inequity), so that the only LEA-level disproportionality is what is planted:

* in the first LEA, children with disabilities of its largest racial/ethnic
  group receive an out-of-school suspension at ``PLANTED_RISK`` in **every**
  school year: above the threshold three years running, so it is determined
  significantly disproportionate;
* in the second LEA the same happens in the **last two** school years only: it
  exceeds the threshold but is not determined under the three-year rule.

The group is chosen from the data (the LEA's most common known race/ethnicity),
and ``manifest.json`` at the top of the state folder records LEAs, groups and
years, so tests read the truth from it.

Examples
--------
>>> leas, manifest = generate_state(5, sizes=(300, 300, 200, 200, 200), seed=1)
>>> sorted(leas)
['LEA01', 'LEA02', 'LEA03', 'LEA04', 'LEA05']
>>> [(p["lea"], len(p["years"])) for p in manifest["planted"]]
[('LEA01', 3), ('LEA02', 2)]
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd

from equity_audit.data.synthetic import generate_district, write_tables

__all__ = ["generate_state", "write_state", "PLANTED_RISK", "DEFAULT_SIZES"]

#: Share of the planted group's children with disabilities suspended out of school in a planted year
#: (others: the generator's base risk, about 5 %).
PLANTED_RISK = 0.5
#: Students of each LEA by default: the two planted LEAs are large enough for the minimum n-size.
DEFAULT_SIZES = (1500, 1500, 500, 700, 900)
_UNKNOWN_RACE = ""  # the generator writes a blank for an unknown race/ethnicity
_DAYS_REMOVED = 2
#: IDEA categories the planted suspensions raise. In a small state the out-of-school suspension ratio
#: may not be calculated (too few children of all other groups in the state are suspended: minimum
#: cell size); total removals, which count in-school suspensions too, are.
_PLANTED_CATEGORIES = ("out_of_school_suspension", "total_removals")


def _lea_id(i: int) -> str:
    return f"LEA{i + 1:02d}"


def _sizes(leas: int, sizes) -> tuple[int, ...]:
    sizes = tuple(sizes or (DEFAULT_SIZES * (leas // len(DEFAULT_SIZES) + 1))[:leas])
    if leas < 2 or len(sizes) != leas:
        raise ValueError(f"a synthetic state needs at least 2 LEAs and one size per LEA, got {leas} and {sizes}")
    return sizes


def _plant(tables: dict, rng: np.random.Generator, years: list[int]) -> dict:
    """Out-of-school suspensions for ``PLANTED_RISK`` of the largest group's children with disabilities."""
    students = tables["students"]
    known = students["race_ethnicity"].fillna(_UNKNOWN_RACE)
    group = known[known != _UNKNOWN_RACE].value_counts().index[0]
    targets = students.loc[(known == group) & (students["disability"] == "Y"), "student_id"]
    enrolled = tables["enrollments"]
    enrolled = enrolled[enrolled["student_id"].isin(targets) & enrolled["school_year"].isin(years)]
    first = enrolled.sort_values("entry_date").drop_duplicates(["student_id", "school_year"])
    chosen = first[rng.random(len(first)) < PLANTED_RISK]
    added = pd.DataFrame({"student_id": chosen["student_id"], "incident_date": chosen["entry_date"],
                          "action": "out_of_school_suspension",
                          "days_removed": pd.array([_DAYS_REMOVED] * len(chosen), dtype="Int64"),
                          "school_id": chosen["school_id"]})
    discipline = pd.concat([tables["discipline"], added], ignore_index=True)
    tables["discipline"] = discipline.drop_duplicates().reset_index(drop=True)
    return {"race_ethnicity": group}


def generate_state(leas: int = 5, *, seed: int = 0, sizes=None, years=(2024, 2025, 2026)):
    """Generate the LEAs of a synthetic state and its ground truth.

    Parameters
    ----------
    leas : int, default 5
        Number of LEAs (at least 2).
    seed : int, default 0
        Each LEA's district seed is derived from it; the same arguments give the same tables.
    sizes : sequence of int, optional
        Students of each LEA (default :data:`DEFAULT_SIZES`, repeated).
    years : sequence of int
        School years of every LEA (at least 3 for the three-year rule to show).

    Returns
    -------
    leas : dict of str to dict
        ``{lea id: (tables, manifest)}`` as :func:`generate_district` returns them.
    manifest : dict
        ``leas`` (id, students, seed) and ``planted``: one record per planted LEA with
        ``lea``, ``categories``, ``group``, ``years`` and ``risk``, and
        ``significant`` (whether the three-year rule should determine it).
    """
    sizes, years = _sizes(leas, sizes), list(years)
    rng = np.random.default_rng(seed)
    out, records, planted = {}, [], []
    for i, size in enumerate(sizes):  # one district per LEA
        lea, lea_seed = _lea_id(i), seed * 1000 + i + 1
        tables, manifest = generate_district(size, seed=lea_seed, null=True, years=tuple(years))
        records.append({"lea": lea, "students": size, "seed": lea_seed})
        if i < 2:
            plant_years = years if i == 0 else years[-2:]
            group = _plant(tables, rng, plant_years)
            planted.append({"lea": lea, "categories": list(_PLANTED_CATEGORIES), "group": group,
                            "years": plant_years, "risk": PLANTED_RISK, "significant": i == 0})
        out[lea] = (tables, manifest)
    return out, {"leas": records, "years": years, "planted": planted}


def write_state(out, *, leas: int = 5, seed: int = 0, sizes=None, fmt: str = "csv", **kw) -> pathlib.Path:
    """Write a synthetic state: one district folder per LEA and the state's ``manifest.json``.

    Returns the path of the state manifest.
    """
    folder = pathlib.Path(out)
    generated, manifest = generate_state(leas, seed=seed, sizes=sizes, **kw)
    for lea, (tables, district_manifest) in generated.items():
        write_tables(folder / lea, tables, district_manifest, fmt)
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path
