"""One false-discovery family for the whole audit (issue 12; ``docs/audit-wide-fdr.md``).

Each analysis controls the false discovery rate within its own table. Over some
thirty tables a district where nothing differs would still show a false flag most of
the time. So a flag also has to pass one control over every test of the run: weighted
Benjamini-Hochberg at the run's ``fdr`` over every p-value of every table that the
findings registry lists (published and confidential), each table an equal share of
the error budget, shared equally among its tests (:func:`weights`; Genovese, Roeder &
Wasserman 2006). A row keeps its flag only where its p-value, divided by its table's
weight, is at most the **cut** (:func:`cut`).

The pipeline computes the cut after the first pass of the notebooks (:func:`compute`),
and every notebook applies it to each registered table right after the analysis
(:func:`apply`) in its second pass, so tables, charts, texts and findings agree.
Before the cut is known (the first pass, a notebook opened by hand) :func:`apply`
changes nothing.

Examples
--------
>>> import numpy as np
>>> weights({"a": np.array([0.01, 0.2]), "b": np.array([0.5] * 6)})
{'a': 2.0, 'b': 0.6666666666666666}
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from equity_audit import stats
from equity_audit.publish.findings import _truthy, registered_tables

__all__ = ["weights", "cut", "compute", "remember", "apply", "FLAGS", "CUT_FILE"]

#: Where the pipeline writes the weights and the cut (the run's confidential folder).
CUT_FILE = "audit_wide.json"
#: Each flag column the control clears, with the p-value it rests on.
FLAGS = {"flagged": "pvalue", "access_gap": "pvalue", "closer_look": "pvalue",
         "beyond_main_effects": "interaction_pvalue", "harsh": "pvalue", "lenient": "pvalue"}
#: The suffix of a table of intersections withheld for a smaller cell: weighed with its own table.
WITHHELD = "_withheld"
#: The remembered control of this process: {"cut": float, "weights": {table: weight}}.
_REMEMBERED: dict = {}


def weights(tested: dict[str, np.ndarray]) -> dict[str, float]:
    """Each table's weight: every table that tests something an equal share of the budget.

    A test of a table of ``m`` tests, among ``K`` such tables and ``M`` tests in all, weighs
    ``M / (K·m)``, so the weights average 1 over the tests. They depend on the tables'
    sizes alone, fixed before any p-value is read.
    """
    sizes = {name: len(p) for name, p in tested.items() if len(p)}
    total, tables = sum(sizes.values()), len(sizes)
    return {name: total / tables / size for name, size in sizes.items()}


def cut(tested: dict[str, np.ndarray], fdr: float) -> float:
    """The largest weighted p-value (p / weight, at most 1) weighted BH rejects at ``fdr``; 0 if none.

    >>> cut({"a": np.array([0.001, 0.02, 0.03, 0.5])}, 0.05)
    0.03
    """
    table_weights = weights(tested)
    weighted = [np.minimum(p / table_weights[name], 1.0) for name, p in tested.items() if len(p)]
    if not weighted:
        return 0.0
    every = np.concatenate(weighted)
    passed = every[stats.bh_adjust(every) < fdr]
    return float(passed.max()) if len(passed) else 0.0


def _tested(table: pd.DataFrame, layout: str) -> np.ndarray:
    """The p-values a registered table's flag rests on: shown rows only (a withheld row is not tested)."""
    column = "interaction_pvalue" if layout == "intersection" else "pvalue"
    if column not in table:
        return np.array([])
    p = pd.to_numeric(table[column], errors="coerce")
    if "suppressed" in table:
        p = p[~_truthy(table["suppressed"])]
    return p.dropna().to_numpy(float)


def compute(run_dir: str | Path, fdr: float) -> set[str]:
    """Compute and write the cut over every registered table of a run; the tables that lose a flag.

    Reads ``tables/`` and ``confidential/`` as the first pass wrote them (the tables of
    intersections withheld for a smaller cell are part of their own table's family), writes
    ``confidential/audit_wide.json`` and remembers it in this process (:func:`remember`).
    """
    run_dir = Path(run_dir)
    registered = registered_tables(run_dir)
    tables = {name: table for name, (_, table) in registered.items()}
    tested = {name: _tested(table, source.layout) for name, (source, table) in registered.items()
              if not name.endswith(WITHHELD)}
    found = {"fdr": fdr, "cut": cut(tested, fdr), "weights": weights(tested)}
    path = run_dir / "confidential" / CUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found, indent=1), encoding="utf-8")
    remember(run_dir)
    return {name.removesuffix(WITHHELD) for name, table in tables.items() if _loses_a_flag(table, name)}


def remember(run_dir: str | Path) -> float | None:
    """Load the run's cut, so that :func:`apply` clears flags in this process; the cut, or None without one."""
    _REMEMBERED.clear()
    path = Path(run_dir) / "confidential" / CUT_FILE
    if path.is_file():
        _REMEMBERED.update(json.loads(path.read_text(encoding="utf-8")))
    return _REMEMBERED.get("cut")


def apply(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """``table`` with each flag its row does not keep under the audit-wide control cleared.

    A row keeps a flag (:data:`FLAGS`) when its p-value divided by the weight of table
    ``name`` is at most the remembered cut, or when the flag rests on no p-value. Without
    a remembered cut, or for a table the control did not weigh, ``table`` itself.

    >>> _REMEMBERED.update({"cut": 0.01, "weights": {"t": 2.0}})
    >>> t = pd.DataFrame({"pvalue": [0.01, 0.03], "flagged": [True, True]})
    >>> apply(t, "t")["flagged"].tolist()
    [True, False]
    >>> _REMEMBERED.clear()
    """
    if not _loses_a_flag(table, name):
        return table
    fails = _failing(table, name)
    return table.assign(**{column: table[column].where(~fails[column], False) for column in fails})


def _loses_a_flag(table: pd.DataFrame, name: str) -> bool:
    fails = _failing(table, name)
    return any(_truthy(table[column])[fails[column]].any() for column in fails)


def _failing(table: pd.DataFrame, name: str) -> dict[str, np.ndarray]:
    """Per flag column, the rows whose p-value the remembered control does not pass (none without one)."""
    weight = _REMEMBERED.get("weights", {}).get(name.removesuffix(WITHHELD))
    if weight is None or "cut" not in _REMEMBERED:
        return {}
    out = {}
    for column, p_column in FLAGS.items():
        if column in table and p_column in table:
            p = pd.to_numeric(table[p_column], errors="coerce").to_numpy(float)
            with np.errstate(invalid="ignore"):
                out[column] = np.minimum(p / weight, 1.0) > _REMEMBERED["cut"]  # NaN: nothing to clear
    return out

