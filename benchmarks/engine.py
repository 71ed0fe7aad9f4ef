"""The disaggregation engine against its peers, in one process (issue 3 target).

A rate over the crossed cells of race/ethnicity x English learner x disability x
low income for 1,000,000 students, three ways: our engine (every cell with n,
Wilson interval, comparison with all other students, BH-adjusted p-values and
intersection shrinkage), fairlearn's MetricFrame (selection rate only) and a
bare pandas groupby of the same cells (sum and count only).
Target: at least 20x faster than MetricFrame, within 2x of the bare groupby.

Twice: on categorical columns, and on plain ones as the loader gives them
(race/ethnicity as text, the flags as nullable booleans with blanks), where the
engine has to find the groups itself, as the groupby and MetricFrame do.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from equity_audit.data.contract import RACE_ETHNICITY
from equity_audit.disaggregate import disaggregate

COLUMNS = ["race_ethnicity", "english_learner", "disability", "low_income"]


def students(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    flags = pd.CategoricalDtype(["Yes", "No", "Unknown"])
    frame = pd.DataFrame({
        "race_ethnicity": pd.Categorical.from_codes(rng.integers(0, len(RACE_ETHNICITY), n), RACE_ETHNICITY),
        **{c: pd.Categorical.from_codes(rng.choice(3, n, p=[.2, .79, .01]), dtype=flags) for c in COLUMNS[1:]},
    })
    frame["below_pace"] = (rng.random(n) < 0.3).astype(np.int8)
    return frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The same students as the loader gives them: text, and booleans with blanks for Unknown."""
    flags = {c: frame[c].map({"Yes": True, "No": False}).astype("boolean") for c in COLUMNS[1:]}
    return frame.assign(race_ethnicity=frame["race_ethnicity"].astype(str), **flags)


def best_of(repeats: int, func) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main(n: int = 1_000_000) -> int:
    for label, data in (("categorical", students(n)), ("plain", plain(students(n)))):
        compare(label, data)
    return 0


def compare(label: str, data: pd.DataFrame) -> None:
    """Time the engine, the bare groupby and (if installed) MetricFrame on ``data``; print the ratios."""
    n = len(data)
    engine = best_of(3, lambda: disaggregate(data, "below_pace", by=COLUMNS))
    # dropna=False: a blank flag is a cell of its own for the engine too
    bare = best_of(3, lambda: data.groupby(COLUMNS, observed=False, dropna=False)["below_pace"].agg(["sum", "count"]))
    print(f"{label} input")
    print(f"  engine, {n:,} students, {len(COLUMNS)} crossed attributes  {engine:8.3f} s")
    print(f"  bare pandas groupby (sum, count)                 {bare:8.3f} s   engine/groupby = {engine / bare:5.2f} (target <= 2)")
    try:
        from fairlearn.metrics import MetricFrame, selection_rate
    except ImportError:
        print("  fairlearn not installed: `make bench` installs the bench extra")
        return
    y = data["below_pace"].to_numpy()
    # MetricFrame refuses blanks and mixed types: plain columns reach it as text, converted outside the timing
    features = data[COLUMNS] if label == "categorical" else data[COLUMNS].astype("string").fillna("Unknown")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = best_of(1, lambda: MetricFrame(metrics=selection_rate, y_true=y, y_pred=y,
                                              sensitive_features=features).by_group)
    print(f"  fairlearn MetricFrame (selection rate only)      {peer:8.3f} s   MetricFrame/engine = {peer / engine:6.1f} (target >= 20)")


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
