"""Disclosure avoidance: primary + complementary suppression checked by the attacker's LP,
top/bottom coding by size band, keyed pseudonyms."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equity_audit import privacy
from equity_audit.privacy import (
    DEFAULT_BANDS,
    Band,
    DisclosureWarning,
    audit,
    pseudonymise,
    publish_counts,
    publish_table,
    small_cells,
    suppress,
    top_bottom_code,
)


def frame(rows, index=None, columns=None):
    rows = np.asarray(rows)
    index = index or [f"r{i}" for i in range(rows.shape[0])]
    columns = columns or [f"c{j}" for j in range(rows.shape[1])]
    return pd.DataFrame(rows, index=index, columns=columns)


def singleton_lines(mask: pd.DataFrame) -> list[str]:
    m = mask.to_numpy()
    out = []
    if m.shape[1] > 1:
        out += [f"row {i}" for i in np.flatnonzero(m.sum(axis=1) == 1)]
    if m.shape[0] > 1:
        out += [f"column {j}" for j in np.flatnonzero(m.sum(axis=0) == 1)]
    return out


# --------------------------------------------------------------------------- primary


@pytest.mark.parametrize(
    ("value", "min_n", "withheld"),
    [(0, 10, False), (1, 10, True), (9, 10, True), (10, 10, False), (4, 5, True), (5, 5, False), (2, 3, True)],
)
def test_primary_suppression_bounds(value, min_n, withheld):
    # the small cell sits in a 3x3 table of large counts; only its own status is tested
    t = frame([[value, 50, 60], [70, 80, 90], [100, 110, 120]])
    assert bool(suppress(t, min_n=min_n).iloc[0, 0]) is withheld


def test_no_small_cells_nothing_withheld_zeros_visible():
    t = frame([[0, 50, 60], [70, 0, 90], [100, 110, 0]])
    assert not suppress(t).to_numpy().any()
    assert publish_table(t).iloc[0, 0] == "0"


def test_mask_keeps_labels_and_shape():
    t = frame([[3, 50], [70, 80]], index=["School A", "School B"], columns=["Boys", "Girls"])
    mask = suppress(t)
    assert mask.shape == t.shape
    assert list(mask.index) == ["School A", "School B"] and list(mask.columns) == ["Boys", "Girls"]
    assert all(dtype == bool for dtype in mask.dtypes)


# --------------------------------------------------------------------------- complementary


def test_single_small_cell_forces_second_in_its_row_and_its_column():
    t = frame([[40, 3, 25], [30, 50, 20], [60, 45, 35]], index=list("xyz"), columns=list("abc"))
    mask = suppress(t)
    # row x: smallest other cell (25); column b: 45 (row z), then column c's single
    # cell is completed by 35 in row z, which already had one (fixes two margins)
    expected = [[False, True, True], [False, False, False], [False, True, True]]
    assert mask.to_numpy().tolist() == expected
    assert mask.loc["x"].sum() >= 2 and mask["b"].sum() >= 2
    assert singleton_lines(mask) == []


def test_primary_only_is_derivable_and_the_audit_sees_it():
    t = frame([[40, 3, 25], [30, 50, 20], [60, 45, 35]])
    found = audit(t, small_cells(t))
    assert found[["low", "high"]].iloc[0].tolist() == [3.0, 3.0]
    assert not found["protected"].any()
    assert audit(t, suppress(t))["protected"].all()


def test_zero_withheld_only_when_the_line_has_nothing_else():
    # row r0 = 5, 0, 0: the 5 is the row total unless a zero joins it
    t = frame([[5, 0, 0], [20, 30, 40], [25, 35, 45]])
    mask = suppress(t).to_numpy()
    assert mask.tolist() == [[True, True, False], [True, True, False], [False, False, False]]
    found = audit(t, mask)
    assert (found["width"] >= 1).all()
    # a zero in a line that has other non-zero candidates stays visible
    t2 = frame([[5, 0, 12], [20, 30, 40], [25, 35, 45]])
    assert not suppress(t2).to_numpy()[0, 1]


def test_zero_in_a_zero_margin_is_never_a_complement_and_the_leak_is_reported():
    # column c1 totals 0, so row r1's total *is* the 2: nothing can protect it
    t = frame([[138, 0], [2, 0]])
    with pytest.warns(DisclosureWarning, match="r1"):
        mask = suppress(t)
    assert not mask["c1"].any()
    everything = audit(t, np.ones(t.shape, dtype=bool))
    assert everything.set_index(["row", "column"]).loc[("r1", "c0"), "width"] == 0


def test_bridge_between_two_rectangles_is_repaired():
    # Two rectangles of small cells joined by a third small cell (r0, c2): no margin
    # has a single withheld cell, yet (r0, c2) = withheld in rows r0-r1 minus columns c0-c1.
    big = 100
    t = frame(
        [
            [4, 5, 6, big, big + 1],
            [7, 8, big, big, big],
            [big, big, 3, 2, big],
            [big, big, 5, 6, big],
        ]
    )
    primary = small_cells(t)
    assert singleton_lines(primary) == []
    before = audit(t, primary).set_index(["row", "column"])
    assert before.loc[("r0", "c2"), "width"] == 0
    mask = suppress(t)
    assert primary.to_numpy()[mask.to_numpy() == False].sum() == 0  # noqa: E712
    after = audit(t, mask)
    assert (after["width"] >= 1).all()
    assert singleton_lines(mask) == []


def test_one_column_table_uses_the_column_total_only():
    t = pd.DataFrame({"2025": [120, 4, 0, 35]}, index=list("ABCD"))
    mask = suppress(t)
    assert mask["2025"].tolist() == [False, True, False, True]  # 4 and the smallest other (35)
    assert audit(t, mask)["protected"].all()


def test_deterministic_same_input_same_mask():
    rng = np.random.default_rng(7)
    for _ in range(20):
        values = rng.integers(0, 30, size=(5, 4))
        t = frame(values)
        first = suppress(t)
        for _ in range(3):
            pd.testing.assert_frame_equal(suppress(t.copy()), first)


def test_invalid_tables_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        suppress(frame([[1, -2], [3, 4]]))
    with pytest.raises(ValueError, match="missing"):
        suppress(pd.DataFrame({"a": [1.0, np.nan], "b": [3.0, 4.0]}))
    with pytest.raises(ValueError, match="whole"):
        suppress(frame([[1.5, 2.0], [3.0, 4.0]]))
    with pytest.raises(TypeError):
        suppress(np.array([[1, 2], [3, 4]]))


# --------------------------------------------------------------------------- property test


def random_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(2, 7, size=2)
    u = rng.random((n_rows, n_cols))
    p_zero = 0.15 if seed % 2 else 0.03
    values = np.where(
        u < p_zero,
        0,
        np.where(u < p_zero + 0.25, rng.integers(1, 10, (n_rows, n_cols)), rng.integers(10, 200, (n_rows, n_cols))),
    )
    return frame(values)


SEEDS = range(200)


def test_property_random_tables_are_protected_by_the_lp_audit():
    unprotected_without_complements = 0
    inherently_unprotectable = 0
    for seed in SEEDS:
        t = random_table(seed)
        primary = small_cells(t).to_numpy()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mask = suppress(t)
        m = mask.to_numpy()
        assert not (primary & ~m).any(), f"seed {seed}: a primary cell is visible"
        assert singleton_lines(mask) == [], f"seed {seed}: {singleton_lines(mask)}"
        found = audit(t, mask)
        assert len(found) == m.sum()
        degenerate = found[found["width"] < 1]
        leaks = [w for w in caught if issubclass(w.category, DisclosureWarning)]
        if leaks:
            # only allowed when even withholding every cell leaves a small cell exact
            inherently_unprotectable += 1
            everything = audit(t, np.ones(t.shape, dtype=bool)).set_index(["row", "column"])
            small = degenerate.set_index(["row", "column"])
            assert (everything.loc[small.index, "width"] < 1).any(), f"seed {seed}"
        else:
            assert degenerate.empty, f"seed {seed}:\n{t}\n{mask.astype(int)}\n{degenerate}"
        if primary.any() and (audit(t, primary)["width"] < 1).any():
            unprotected_without_complements += 1
    # the test has teeth: primary suppression alone leaks in most tables
    assert unprotected_without_complements > len(SEEDS) // 2
    assert inherently_unprotectable <= 5


def test_combinatorial_check_agrees_with_the_lp_on_random_masks():
    # suppress() repairs with a graph check; the LP audit is the independent oracle
    for seed in range(60):
        t = random_table(1000 + seed)
        mask = np.random.default_rng(seed).random(t.shape) < 0.5
        fast = privacy._derivable(t.to_numpy(), mask)
        slow = audit(t, mask)
        cells = np.argwhere(mask)
        assert [bool(fast[i, j]) for i, j in cells] == (slow["width"] < 1).tolist(), f"seed {seed}"


def test_audit_interval_contains_the_true_value_and_has_no_values():
    for seed in range(30):
        t = random_table(500 + seed)
        mask = suppress(t)
        found = audit(t, mask)
        assert "value" not in found.columns
        truth = [t.loc[r, c] for r, c in zip(found["row"], found["column"])]
        assert (found["low"] <= truth).all() and (found["high"] >= truth).all()


def test_audit_min_width_and_shape_errors():
    t = frame([[40, 3], [30, 50]])
    mask = suppress(t)
    assert audit(t, mask, min_width=10)["protected"].all()
    assert not audit(t, mask, min_width=50)["protected"].all()
    assert audit(t, np.zeros((2, 2), dtype=bool)).empty
    with pytest.raises(ValueError, match="shape"):
        audit(t, np.zeros((3, 2), dtype=bool))


# --------------------------------------------------------------------------- publish


def test_publish_table_strings_and_withheld():
    t = frame([[40, 3, 25], [30, 50, 20], [60, 45, 35]])
    shown = publish_table(t)
    assert shown.loc["r0"].tolist() == ["40", "withheld", "withheld"]
    assert shown.loc["r1"].tolist() == ["30", "50", "20"]
    assert (shown == "withheld").to_numpy().tolist() == suppress(t).to_numpy().tolist()
    assert "3" not in shown.to_numpy().ravel().tolist()


def test_old_helpers_unchanged():
    counts = pd.DataFrame({"x": [0, 3, 9, 10]})
    assert small_cells(counts, min_n=10)["x"].tolist() == [False, True, True, False]
    assert publish_counts(counts, min_n=10)["x"].tolist() == ["0", "<10", "<10", "10"]


# --------------------------------------------------------------------------- top/bottom coding


@pytest.mark.parametrize(
    ("rate", "n", "shown"),
    [
        (100.0, 25, "≥ 90%"),
        (0.0, 25, "≤ 10%"),
        (92.0, 25, "≥ 90%"),
        (64.0, 25, "64%"),
        (100.0, 16, "≥ 90%"),
        (100.0, 30, "≥ 90%"),
        (100.0, 6, "≥ 80%"),
        (50.0, 12, "50%"),
        (46.0, 12, "50%"),
        (100.0, 5, "withheld"),
        (40.0, 1, "withheld"),
        (96.7, 31, "≥ 95%"),
        (1.5, 100, "≤ 2%"),
        (98.0, 300, "≥ 98%"),
        (99.2, 301, "≥ 99%"),
        (45.67, 1000, "45.7%"),
        (99.95, 3001, "≥ 99.9%"),
        (0.05, 10_000, "≤ 0.1%"),
        (float("nan"), 25, "n/a"),
    ],
)
def test_top_bottom_code_bands(rate, n, shown):
    assert top_bottom_code(rate, n) == shown


def test_boundaries_never_depend_on_the_exact_n():
    n = np.arange(1, 5001)
    ends = np.concatenate([top_bottom_code(np.zeros(n.size), n), top_bottom_code(np.full(n.size, 100.0), n)])
    allowed = {"withheld"} | {
        f"{sign} {value:g}%" for b in DEFAULT_BANDS if b.bottom is not None for sign, value in (("≤", b.bottom), ("≥", b.top))
    }
    assert set(ends) <= allowed
    # one student is never more than the code: a rate 1/n or (n-1)/n is coded for every n in a band
    one = top_bottom_code(100.0 / n, n)
    assert all(s.startswith("≤") or s == "withheld" for s in one[n <= 30])


def test_rounded_value_never_reaches_a_boundary_uncoded():
    rates = np.linspace(0, 100, 2001)
    for n in (6, 20, 45, 100, 500, 5000):
        for s in top_bottom_code(rates, n):
            if s[0] in "≤≥" or s == "withheld":
                continue
            value = float(s.rstrip("%"))
            band = next(b for b in DEFAULT_BANDS if b.min_n <= n <= b.max_n)
            assert band.bottom < value < band.top


def test_top_bottom_code_shapes_scale_and_custom_bands():
    s = pd.Series([1.0, 0.5], index=["A", "B"], name="rate")
    out = top_bottom_code(s, pd.Series([40, 40], index=["A", "B"]), scale=1)
    assert out.tolist() == ["≥ 95%", "50%"] and list(out.index) == ["A", "B"]
    df = pd.DataFrame({"x": [100.0, 0.0]})
    assert top_bottom_code(df, 20)["x"].tolist() == ["≥ 90%", "≤ 10%"]
    strict = [Band(1, 9, None, None, None), Band(10, float("inf"), 10, 90, 5)]
    assert top_bottom_code([3.0, 52.0, 97.0], 50, bands=strict).tolist() == ["≤ 10%", "50%", "≥ 90%"]
    with pytest.raises(ValueError, match="one student"):
        top_bottom_code(50.0, 10, bands=[Band(4, 10, 5, 95, 1)])  # 1 of 4 = 25 % > 5 %
    with pytest.raises(ValueError, match="between"):
        top_bottom_code(120.0, 50)


# --------------------------------------------------------------------------- pseudonyms

KEY = "test-key-0123456789abcdef"


def test_pseudonymise_stable_key_dependent_and_opaque():
    ids = ["S1234567", "S7654321", "1234567", "20250001"]
    first = pseudonymise(ids, KEY)
    assert pseudonymise(ids, KEY) == first
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in first)
    assert len(set(first)) == len(ids)
    other = pseudonymise(ids, KEY + "!")
    assert all(a != b for a, b in zip(first, other))
    for raw, p in zip(ids, first):
        assert raw not in p and raw.lstrip("S") not in p


def test_pseudonymise_types_and_normalisation():
    s = pd.Series([123, None, 456], index=[10, 11, 12], dtype="Int64")
    out = pseudonymise(s, KEY)
    assert list(out.index) == [10, 11, 12] and out.isna().tolist() == [False, True, False]
    assert out[10] == pseudonymise(123, KEY) == pseudonymise(123.0, KEY) == pseudonymise(" 123", KEY)
    assert pseudonymise("00123", KEY) != pseudonymise(123, KEY)
    assert pseudonymise(b"S1", KEY.encode()) == pseudonymise("S1", KEY)
    with pytest.raises(ValueError, match="16 bytes"):
        pseudonymise("S1", "short")


@given(st.lists(st.lists(st.integers(0, 60), min_size=3, max_size=3), min_size=1, max_size=5))
def test_counts_held_as_numbers_or_as_text_are_suppressed_alike(rows):
    from hypothesis import assume

    numbers = pd.DataFrame(rows, columns=["a", "b", "c"])
    assume(numbers.to_numpy().sum() > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", privacy.DisclosureWarning)
        as_numbers = privacy.suppress(numbers)
        as_text = privacy.suppress(numbers.astype(str))
    assert as_numbers.equals(as_text)
