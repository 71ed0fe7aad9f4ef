import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equity_audit import stats
from equity_audit.disaggregate import disaggregate, publishable, scan_intersections


@pytest.fixture
def el_data():
    return pd.DataFrame({"el": ["Yes"] * 40 + ["No"] * 60,
                         "below_pace": [1] * 20 + [0] * 20 + [1] * 12 + [0] * 48,
                         "score": np.arange(100.0)})


def test_rate_cells_carry_n_estimate_interval_and_comparison(el_data):
    table = disaggregate(el_data, "below_pace", by=["el"]).set_index("el")
    yes = table.loc["Yes"]
    assert (yes["n"], yes["estimate"], yes["comparator_n"], yes["comparator_estimate"]) == (40, 0.5, 60, 0.2)
    low, high = stats.wilson_interval(20, 40)
    assert (yes["low"], yes["high"]) == (pytest.approx(low), pytest.approx(high))
    assert yes["difference"] == pytest.approx(0.3) and yes["ratio"] == pytest.approx(2.5)
    d_low, d_high = stats.newcombe_difference_interval(20, 40, 12, 60)
    assert yes["difference_low"] == pytest.approx(d_low) and yes["difference_high"] == pytest.approx(d_high)
    assert yes["pvalue"] == pytest.approx(stats.two_proportion_pvalue(20, 40, 12, 60))
    assert bool(yes["flagged"]) and yes["statistic"] == "rate"


def test_mean_cells_use_t_and_welch(el_data):
    table = disaggregate(el_data, "score", by="el").set_index("el")
    yes = table.loc["Yes"]
    assert yes["statistic"] == "mean" and yes["estimate"] == 19.5
    values = el_data.loc[el_data["el"] == "Yes", "score"]
    low, high = stats.mean_interval(values.mean(), values.std(), 40)
    assert yes["low"] == pytest.approx(low) and yes["high"] == pytest.approx(high)
    assert yes["difference"] == pytest.approx(-50.0)


def test_median_has_order_statistic_interval(el_data):
    table = disaggregate(el_data, "score", by="el", statistic="median", comparator="all").set_index("el")
    assert table.loc["Yes", "estimate"] == 19.5
    assert table.loc["Yes", "low"] <= 19.5 <= table.loc["Yes", "high"]
    assert table.loc["Yes", "difference"] == pytest.approx(19.5 - 49.5)


def test_comparators_all_and_named_group(el_data):
    everyone = disaggregate(el_data, "below_pace", by="el", comparator="all").set_index("el")
    assert everyone.loc["Yes", "comparator_estimate"] == pytest.approx(0.32)
    assert everyone.loc["Yes", "comparator_n"] == 100
    named = disaggregate(el_data, "below_pace", by="el", comparator={"el": "No"}).set_index("el")
    assert named.loc["Yes", "comparator_estimate"] == pytest.approx(0.2)
    assert named.loc["No", "difference"] == 0
    with pytest.raises(ValueError, match="no cell"):
        disaggregate(el_data, "below_pace", by="el", comparator={"el": "Maybe"})


def test_empty_categories_and_unknown_stay_visible():
    data = pd.DataFrame({
        "race": pd.Categorical(["Asian"] * 12 + ["White"] * 12, categories=["Asian", "Black", "White"]),
        "el": pd.array([True] * 6 + [False] * 17 + [None], dtype="boolean"),
        "flag": [1, 0] * 12,
    })
    by_race = disaggregate(data, "flag", by="race").set_index("race")
    assert by_race.loc["Black", "n"] == 0 and bool(by_race.loc["Black", "suppressed"])
    by_el = disaggregate(data, "flag", by="el", min_n=1).set_index("el")
    assert by_el.index.tolist() == ["Yes", "No", "Unknown"]
    assert by_el.loc["Unknown", "n"] == 1
    crossed = disaggregate(data, "flag", by=["race", "el"])
    assert len(crossed) == 3 * 3


def test_small_cells_withhold_every_number_and_are_never_flagged():
    data = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 50 + ["c"] * 60, "y": [1] * 5 + [0] * 110})
    table = disaggregate(data, "y", by="g", min_n=10).set_index("g")
    assert bool(table.loc["a", "suppressed"]) and not bool(table.loc["a", "flagged"])
    assert table.loc["a", ["estimate", "low", "high", "difference", "pvalue"]].isna().all()
    shown = publishable(table.reset_index(), min_n=10).set_index("g")
    # "b" is withheld too, or 115 - 60 - b would give "a" away
    assert shown["n"].tolist() == ["<10", "withheld", "60"]
    assert shown.loc["a", "comparator_n"] == "withheld" and shown.loc["c", "comparator_n"] == "55"
    assert "successes" not in shown.columns


def test_missing_metric_values_are_counted_not_dropped():
    data = pd.DataFrame({"g": ["a"] * 20, "pace": [1.0] * 15 + [np.nan] * 5})
    row = disaggregate(data, "pace", by="g").iloc[0]
    assert (row["n"], row["n_missing"]) == (15, 5)


def test_hidden_intersection_found_beyond_main_effects():
    rng = np.random.default_rng(7)
    n = 8000
    low_income = rng.random(n) < 0.4
    disability = rng.random(n) < 0.3
    both = low_income & disability
    # offsets solved so each marginal gap is zero while the crossed cell is 0.4 lower:
    # low income only +0.4, disability only +0.16/0.3
    shift = np.where(both, -0.4, np.where(low_income, 0.4, np.where(disability, 0.16 / 0.3, 0)))
    data = pd.DataFrame({"low_income": low_income, "disability": disability,
                         "pace": 1.0 + shift + rng.normal(0, 0.3, n)})
    single = disaggregate(data, "pace", by="low_income")
    assert single["difference"].abs().max() < 0.05
    crossed = disaggregate(data, "pace", by=["low_income", "disability"])
    cell = crossed[(crossed["low_income"] == "Yes") & (crossed["disability"] == "Yes")].iloc[0]
    assert bool(cell["flagged"]) and cell["difference"] < -0.35
    # the planted interaction: -0.4 - 0.4 - 0.16/0.3 + 0 = -1.333
    assert cell["interaction"] == pytest.approx(-1.333, abs=0.05)
    assert cell["interaction_low"] < -1.333 < cell["interaction_high"]
    # two yes/no columns have one interaction: the other three cells carry it mirrored
    others = crossed[(crossed["n"] > 0) & ~((crossed["low_income"] == "Yes") & (crossed["disability"] == "Yes"))]
    assert np.allclose(others["interaction"].abs(), abs(cell["interaction"]), rtol=1e-6)
    scan = scan_intersections(data, "pace", ["low_income", "disability"])
    assert scan.loc[scan["beyond_main_effects"], "intersection"].tolist() == [
        "low income: Yes × disability: Yes"]


def test_null_data_flags_at_most_five_percent_of_cells():
    rng = np.random.default_rng(11)
    n = 40000
    data = pd.DataFrame({"race": rng.choice(list("ABCDEFG"), n), "el": rng.random(n) < .2,
                         "swd": rng.random(n) < .15, "frl": rng.random(n) < .4,
                         "below": (rng.random(n) < .3).astype(int), "pace": rng.normal(1, .3, n)})
    flagged = total = 0
    for by in (["race"], ["race", "el"], ["race", "el", "swd"], ["el", "swd", "frl"]):
        for metric in ("below", "pace"):
            table = disaggregate(data, metric, by=by)
            flagged += int(table["flagged"].sum())
            total += int((~table["suppressed"]).sum())
    assert total > 100 and flagged / total <= 0.05


def test_rates_agree_with_a_plain_groupby():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"a": rng.choice(list("xyz"), 5000), "b": rng.choice(list("pq"), 5000),
                         "y": rng.integers(0, 2, 5000)})
    table = disaggregate(data, "y", by=["a", "b"]).set_index(["a", "b"])
    expected = data.groupby(["a", "b"])["y"].agg(["mean", "size"])
    assert np.allclose(table["estimate"], expected["mean"]) and (table["n"] == expected["size"]).all()


def test_public_api_names():
    import equity_audit

    assert callable(equity_audit.disaggregate)
    low, high = equity_audit.stats.wilson_interval([81], [263])
    assert round(float(low[0]), 4) == 0.2553
    assert callable(equity_audit.pace.pace)


def test_a_group_without_variation_is_shown_but_not_tested():
    data = pd.DataFrame({"g": ["a"] * 14 + ["b"] * 200, "removals": [0] * 14 + [0, 1, 2, 0] * 50})
    row = disaggregate(data, "removals", by="g", statistic="mean").set_index("g").loc["a"]
    assert row["estimate"] == 0 and np.isnan(row["pvalue"]) and not bool(row["flagged"])


def test_a_lone_small_group_takes_a_second_one_with_it():
    # sizes add up to the published total: with only "a" withheld, 119 - 14 - 100 would give it away
    data = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 14 + ["c"] * 100, "y": [1, 0, 1, 0, 1] + [0, 1] * 7 + [0, 1] * 50})
    table = disaggregate(data, "y", by="g").set_index("g")
    assert table["suppressed"].tolist() == [True, True, False]
    assert table.loc["b", ["estimate", "low", "high", "pvalue"]].isna().all()


def test_intersections_protect_their_row_and_column_totals():
    data = pd.DataFrame({"a": ["x"] * 60 + ["y"] * 60, "b": ["p"] * 55 + ["q"] * 5 + ["p"] * 45 + ["q"] * 15,
                         "y": [0, 1] * 60})
    table = disaggregate(data, "y", by=["a", "b"]).set_index(["a", "b"])["suppressed"]
    # (x, q) has 5: its row and its column each need a second withheld cell
    assert table[("x", "q")] and table.sum() >= 3
    assert (table.groupby(level=0).sum() != 1).all() and (table.groupby(level=1).sum() != 1).all()


def test_cell_codes_refuse_a_blank_the_grouping_did_not_relabel():
    """Cells are coded by hand for speed: a code of -1 would land in another group's cell, so it is refused."""
    from equity_audit.disaggregate import _cell_codes, _grouping_frame

    data = pd.DataFrame({"a": pd.Categorical(["x", None, "y"]), "b": ["p", "q", "p"]})
    cells, shape = _cell_codes(_grouping_frame(data, ["a", "b"]), ["a", "b"])
    assert shape == (3, 2) and cells.tolist() == [0, 5, 2]  # the blank is Unknown, the last level of a
    raw = {"a": data["a"], "b": data["b"].astype("category")}
    with pytest.raises(ValueError, match="blanks"):
        _cell_codes(raw, ["a", "b"])


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["x", "y", "Yes"])), min_size=1, max_size=9,
                unique=True),
       st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["x", "y", "Yes", "No"])), max_size=30))
def test_cells_are_found_among_rows_as_a_multiindex_finds_them(rows, cells):
    from equity_audit.disaggregate import _rows_of

    as_columns = lambda pairs: [np.array([p[i] for p in pairs], dtype=object) for i in range(2)]  # noqa: E731
    expected = pd.MultiIndex.from_tuples(rows).get_indexer(pd.MultiIndex.from_tuples(cells, names=None)) \
        if cells else np.array([], dtype=int)
    got = _rows_of(as_columns(rows), as_columns(cells) if cells else [np.array([], dtype=object)] * 2)
    assert got.tolist() == list(expected)
