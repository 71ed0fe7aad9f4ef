"""Unit scans: funnel limits, overdispersion, planted and null units, gaps, persistence, plot."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from scipy.stats import norm

import equity_audit as ea
from equity_audit.publish import plots
from equity_audit import scans, stats
from equity_audit.pace import school_year_of
from equity_audit.data.synthetic import write_district

BLACK = "Black/African American"


# --------------------------------------------------------------------------- helpers


def from_counts(counts: dict, unit: str = "unit", outcome: str = "y") -> pd.DataFrame:
    """One row per student from {unit: (events, n)}: the first ``events`` rows are 1."""
    names = np.repeat(list(counts), [n for _, n in counts.values()])
    rank = np.concatenate([np.arange(n) for _, n in counts.values()])
    events = np.repeat([x for x, _ in counts.values()], [n for _, n in counts.values()])
    return pd.DataFrame({unit: names, outcome: (rank < events).astype(int)})


def simulate(rates, sizes, seed) -> pd.DataFrame:
    """Units U000, U001, ... with the given true rates and sizes, outcome drawn per student."""
    rng = np.random.default_rng(seed)
    sizes = np.broadcast_to(sizes, np.shape(rates))
    names = np.repeat([f"U{i:03d}" for i in range(len(rates))], sizes)
    risk = np.repeat(rates, sizes)
    return pd.DataFrame({"unit": names, "y": (rng.random(risk.size) < risk).astype(int)})


def simulate_gaps(focus_rates, other_rate, focus_n, others_n, seed) -> pd.DataFrame:
    """Units with ``focus_n`` focus students at ``focus_rates`` and ``others_n`` others."""
    rng = np.random.default_rng(seed)
    units = len(focus_rates)
    names = np.repeat([f"U{i:03d}" for i in range(units)], focus_n + others_n)
    in_focus = np.tile(np.r_[np.ones(focus_n, bool), np.zeros(others_n, bool)], units)
    risk = np.where(in_focus, np.repeat(focus_rates, focus_n + others_n), other_rate)
    return pd.DataFrame({"unit": names, "group": np.where(in_focus, "F", "O"),
                         "y": (rng.random(risk.size) < risk).astype(int)})


def student_years(district) -> pd.DataFrame:
    """One row per enrollment (student, school year, school) with ``oss`` and race."""
    enrollments = district["enrollments"][["student_id", "school_year", "school_id"]]
    discipline = district["discipline"]
    oss = discipline[discipline["action"] == "out_of_school_suspension"]
    oss = pd.DataFrame({"student_id": oss["student_id"], "school_id": oss["school_id"],
                        "school_year": school_year_of(oss["incident_date"])}).drop_duplicates()
    rows = enrollments.merge(oss.assign(oss=1), how="left",
                             on=["student_id", "school_year", "school_id"])
    rows["oss"] = rows["oss"].fillna(0).astype(int)
    race = district["students"][["student_id", "race_ethnicity"]]
    return rows.merge(race, on="student_id", how="left")


GAP = dict(unit="school_id", group="race_ethnicity", focus=BLACK, outcome="oss")


# --------------------------------------------------------------------------- funnel arithmetic


def test_funnel_limits_and_z_by_hand():
    # target 100/800 = 0.125; s(100) = sqrt(0.125 * 0.875 / 100) = 0.0330719
    data = from_counts({"A": (10, 100), "B": (30, 200), "C": (20, 100), "D": (40, 400)})
    scan = scans.scan_rates(data, unit="unit", outcome="y", overdispersion=False)
    assert scan.attrs["target"] == pytest.approx(0.125)
    assert scan["z"].tolist() == pytest.approx([-0.755929, 1.069045, 2.267787, -1.511858], abs=1e-5)
    assert scan.loc[0, "outer_high"] == pytest.approx(0.125 + 3.090232 * 0.0330719, abs=1e-6)
    low, high = stats.funnel_limits(0.125, [100, 200, 100, 400], scans.Z_998)
    assert scan["outer_low"].to_numpy() == pytest.approx(low)
    assert scan["outer_high"].to_numpy() == pytest.approx(high)
    low, high = stats.funnel_limits(0.125, [100, 200, 100, 400], scans.Z_95)
    assert scan["inner_high"].to_numpy() == pytest.approx(high)
    # C at 20% sits between its 95% (0.1898) and 99.8% (0.2272) upper limits
    assert scan["funnel_position"].tolist() == ["inside", "inside", "above 95%", "inside"]
    assert scan["pvalue"].to_numpy() == pytest.approx(2 * norm.sf(np.abs(scan["z"])))
    wilson = stats.wilson_interval([10, 30, 20, 40], [100, 200, 100, 400])
    assert scan["low"].to_numpy() == pytest.approx(wilson[0])
    assert not scan["closer_look"].any()


def test_overdispersion_phi_and_tau2_by_hand():
    rates = [0.04, 0.06, 0.08, 0.10, 0.10, 0.12, 0.14, 0.16, 0.18, 0.22]
    data = from_counts({f"U{i}": (round(r * 400), 400) for i, r in enumerate(rates)})
    scan = scans.scan_rates(data, unit="unit", outcome="y")
    p0 = sum(round(r * 400) for r in rates) / 4000          # 0.12
    s2 = p0 * (1 - p0) / 400
    z = (np.array(rates) - p0) / np.sqrt(s2)
    assert scan["z"].to_numpy() == pytest.approx(z)
    # winsorise at the 10th and 90th percentiles, phi = mean z², DerSimonian-Laird tau²
    lo, hi = np.quantile(z, [0.1, 0.9])
    phi = np.mean(np.clip(z, lo, hi) ** 2)
    w = np.full(10, 1 / s2)
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    assert scan.attrs["phi"] == pytest.approx(phi)
    assert scan.attrs["tau2"] == pytest.approx(tau2)
    by_stats = stats.overdispersion(z, w)
    assert (scan.attrs["phi"], scan.attrs["tau2"]) == pytest.approx((by_stats.phi, by_stats.tau2))
    assert phi > 5 and scan.attrs["tau2_used"] == pytest.approx(tau2)
    # the adjusted limits and z use sqrt(s² + tau²)
    low, high = stats.funnel_limits(p0, 400, scans.Z_998, tau2)
    assert scan["outer_high"].to_numpy() == pytest.approx(np.full(10, high))
    adjusted = (np.array(rates) - p0) / np.sqrt(s2 + tau2)
    assert scan["z_adjusted"].to_numpy() == pytest.approx(adjusted)
    plain = scans.scan_rates(data, unit="unit", outcome="y", overdispersion=False)
    assert plain.attrs["tau2_used"] == 0 and plain.attrs["tau2"] == pytest.approx(tau2)
    assert (plain["outer_high"] < scan["outer_high"]).all()
    assert plain["closer_look"].sum() == 4 and scan["closer_look"].sum() == 0


# --------------------------------------------------------------------------- planted and null


@pytest.mark.parametrize("seed", range(5))
def test_planted_unit_is_the_only_closer_look(seed):
    data = simulate([0.1] * 30 + [0.25], 200, seed)
    scan = scans.scan_rates(data, unit="unit", outcome="y")
    assert scan.loc[scan["closer_look"], "unit"].tolist() == ["U030"]
    planted = scan.set_index("unit").loc["U030"]
    assert planted["funnel_position"] == "above 99.8%" and planted["qvalue"] < 0.05
    assert planted["prob_above"] > 0.99
    # shrinkage pulls the planted unit toward the target, never past it
    assert scan.attrs["target"] < planted["shrunk_rate"] <= planted["rate"]


def test_null_units_are_rarely_flagged():
    flagged = []
    for seed in range(5):
        sizes = np.random.default_rng(100 + seed).integers(30, 400, 200)
        data = simulate(np.full(200, 0.15), sizes, seed)
        scan = scans.scan_rates(data, unit="unit", outcome="y")
        flagged.append(int(scan["closer_look"].sum()))
        assert scan.attrs["phi"] < 1.5
    assert max(flagged) <= 10                       # at most 5% of 200 units in any one scan
    assert sum(flagged) <= 3                        # in fact typically none


@pytest.mark.parametrize("seed", range(3))
def test_overdispersion_adjustment_flags_far_fewer(seed):
    true_rates = np.random.default_rng(seed).beta(12, 108, 200)   # mean 0.10, sd 0.027
    data = simulate(true_rates, 500, seed)
    adjusted = scans.scan_rates(data, unit="unit", outcome="y")
    plain = scans.scan_rates(data, unit="unit", outcome="y", overdispersion=False)
    outside = {name: scan["funnel_position"].str.contains("99.8").sum()
               for name, scan in (("adjusted", adjusted), ("plain", plain))}
    assert outside["plain"] >= 15
    assert outside["adjusted"] <= outside["plain"] / 5
    assert adjusted["closer_look"].sum() < plain["closer_look"].sum()
    assert adjusted.attrs["tau2"] == pytest.approx(0.027**2, rel=0.5)


def test_outside_the_funnel_is_not_enough_without_false_discovery_control():
    # z = 3.29 > 3.09 (p = 0.001), but one of 101 units: q = 0.10
    counts = {f"U{i:03d}": (10, 100) for i in range(100)} | {"odd": (20, 100)}
    odd = scans.scan_rates(from_counts(counts), unit="unit", outcome="y").iloc[-1]
    assert odd["funnel_position"] == "above 99.8%"
    assert odd["qvalue"] == pytest.approx(101 * odd["pvalue"]) and odd["qvalue"] > 0.05
    assert not odd["closer_look"]


def test_side_keeps_only_one_end_of_the_funnel():
    data = simulate([0.2] * 30 + [0.02, 0.45], 300, 4)
    both = scans.scan_rates(data, unit="unit", outcome="y")
    above = scans.scan_rates(data, unit="unit", outcome="y", side="above")
    assert both.loc[both["closer_look"], "unit"].tolist() == ["U030", "U031"]
    assert above.loc[above["closer_look"], "unit"].tolist() == ["U031"]


# --------------------------------------------------------------------------- minimum n


def test_small_units_are_suppressed_never_flagged_and_withheld():
    counts = {f"U{i}": (10, 100) for i in range(12)} | {"tiny": (5, 5), "nine": (9, 9),
                                                        "ten": (10, 10)}
    scan = scans.scan_rates(from_counts(counts), unit="unit", outcome="y").set_index("unit")
    assert scan.loc[["nine", "tiny"], "suppressed"].all() and not scan.loc["ten", "suppressed"]
    assert not scan.loc[["nine", "tiny"], "closer_look"].any()
    assert scan.loc["ten", "closer_look"]                       # 100% at n=10 against 10%
    for column in ("events", "rate", "low", "high", "z", "shrunk_rate", "prob_above", "pvalue",
                   "qvalue", "outer_high"):
        assert scan.loc[["nine", "tiny"], column].isna().all(), column
    assert scan.loc[["nine", "tiny"], "funnel_position"].isna().all()
    assert scan.loc["tiny", "n"] == 5
    # the suppressed units stay out of the target, tau² and the false-discovery family
    assert scan.attrs["target"] == pytest.approx(130 / 1210)
    assert scan.attrs["units_scanned"] == 13


def test_outcome_must_be_zero_one_and_missing_outcomes_are_counted():
    data = pd.DataFrame({"unit": ["A"] * 12 + ["B"] * 12, "y": [0, 1, 2] * 8})
    with pytest.raises(ValueError, match="only 0 and 1"):
        scans.scan_rates(data, unit="unit", outcome="y")
    data["y"] = pd.array([True, False, None] * 8, dtype="boolean")
    scan = scans.scan_rates(data, unit="unit", outcome="y", min_n=5)
    assert scan["n"].tolist() == [8, 8] and scan["n_missing"].tolist() == [4, 4]
    assert scan["rate"].tolist() == [0.5, 0.5]


# --------------------------------------------------------------------------- gaps


@pytest.mark.parametrize("seed", range(4))
def test_scan_gaps_flags_the_planted_unit(seed):
    data = simulate_gaps([0.10] * 39 + [0.35], 0.10, 80, 240, seed)
    gaps = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="y")
    flagged = gaps.loc[gaps["closer_look"], "unit"].tolist()
    # BH bounds the share of chance calls among the calls, so a real gap can bring one
    # chance call with it (one reason a pattern needs persistence)
    assert "U039" in flagged and len(flagged) <= 2
    planted = gaps.set_index("unit").loc["U039"]
    assert planted["difference"] > 0.15 and planted["ratio"] > 2
    # shrunk toward the overall gap (about 0), so smaller but on the same side
    assert 0 < planted["shrunk_difference"] < planted["difference"]


def test_scan_gaps_null_is_rarely_flagged():
    flagged = []
    for seed in range(5):
        data = simulate_gaps([0.12] * 200, 0.12, 40, 160, seed)
        gaps = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="y")
        flagged.append(int(gaps["closer_look"].sum()))
    assert max(flagged) <= 10
    assert sum(flagged) <= 3


def test_scan_gaps_numbers_match_stats():
    data = pd.DataFrame({"unit": ["A"] * 100, "group": ["F"] * 30 + ["O"] * 70,
                         "y": [1] * 9 + [0] * 21 + [1] * 7 + [0] * 63})
    row = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="y", compare="within").iloc[0]
    assert (row["focus_n"], row["others_n"], row["focus_events"]) == (30, 70, 9)
    assert row["difference"] == pytest.approx(0.3 - 0.1)
    low, high = stats.newcombe_difference_interval(9, 30, 7, 70)
    assert (row["difference_low"], row["difference_high"]) == pytest.approx((low, high))
    assert row["pvalue"] == pytest.approx(stats.two_proportion_pvalue(9, 30, 7, 70))
    assert row["ratio"] == pytest.approx(3.0)


def test_scan_gaps_shrinks_toward_the_overall_gap_with_agresti_caffo_variances():
    counts = {"A": (0, 12, 10, 100), "B": (6, 20, 8, 80), "C": (9, 30, 5, 90), "D": (3, 40, 12, 60)}
    data = pd.concat([pd.DataFrame({"unit": unit, "group": ["F"] * nf + ["O"] * no,
                                    "y": [1] * xf + [0] * (nf - xf) + [1] * xo + [0] * (no - xo)})
                      for unit, (xf, nf, xo, no) in counts.items()], ignore_index=True)
    gaps = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="y")
    xf, nf, xo, no = (np.array(v, dtype=float) for v in zip(*counts.values()))

    def variance(x, n):                 # one event and one non-event added: A's 0/12 is not exact
        p = (x + 1) / (n + 2)
        return p * (1 - p) / (n + 2)

    difference = xf / nf - xo / no
    expected = stats.shrink_means(difference, variance(xf, nf) + variance(xo, no), 1.0)
    assert gaps["difference"].to_numpy() == pytest.approx(difference)
    assert gaps["shrunk_difference"].to_numpy() == pytest.approx(expected)
    assert gaps["shrunk_difference"].std() < gaps["difference"].std()


def test_scan_gaps_numeric_outcome_uses_welch():
    rng = np.random.default_rng(3)
    units = np.repeat([f"U{i:02d}" for i in range(20)], 100)
    focus = np.tile(np.r_[np.ones(30, bool), np.zeros(70, bool)], 20)
    score = rng.normal(50, 10, units.size) - np.where((units == "U05") & focus, 12, 0)
    data = pd.DataFrame({"unit": units, "group": np.where(focus, "F", "O"), "score": score})
    gaps = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="score")
    assert (gaps["statistic"] == "mean").all() and "ratio" not in gaps
    assert gaps.loc[gaps["closer_look"], "unit"].tolist() == ["U05"]
    one = data[data["unit"] == "U05"]
    f, o = one.loc[one["group"] == "F", "score"], one.loc[one["group"] == "O", "score"]
    welch = stats.welch_difference(f.mean(), f.std(), 30, o.mean(), o.std(), 70)
    row = gaps.set_index("unit").loc["U05"]
    assert (row["difference"], row["difference_low"], row["within_pvalue"]) == pytest.approx(
        (welch.difference, welch.low, welch.pvalue))


def test_scan_gaps_suppresses_when_either_side_is_small():
    data = pd.concat([simulate_gaps([0.5], 0.1, 9, 200, 1).assign(unit="few focus"),
                      simulate_gaps([0.5], 0.1, 200, 9, 2).assign(unit="few others"),
                      simulate_gaps([0.5], 0.1, 40, 200, 3).assign(unit="enough")])
    # within the unit: every unit here has the same gap, so compare="between" would call out none
    gaps = scans.scan_gaps(data, unit="unit", group="group", focus="F", outcome="y", compare="within")
    gaps = gaps.set_index("unit")
    assert gaps["suppressed"].to_dict() == {"enough": False, "few focus": True, "few others": True}
    assert gaps.loc["few focus", ["difference", "pvalue", "focus_events"]].isna().all()
    assert gaps.loc["few focus", "focus_n"] == 9
    assert gaps.loc["enough", "closer_look"] and not gaps.loc["few focus", "closer_look"]


def test_scan_gaps_reads_flags_as_yes_no_and_checks_the_focus():
    data = simulate_gaps([0.4, 0.1], 0.1, 50, 150, 0)
    data["el"] = pd.array(data["group"] == "F", dtype="boolean")
    data.loc[data.index[:5], "el"] = pd.NA          # blank group: in neither side
    yes = scans.scan_gaps(data, unit="unit", group="el", focus="Yes", outcome="y")
    true = scans.scan_gaps(data, unit="unit", group="el", focus=True, outcome="y")
    pd.testing.assert_frame_equal(yes, true)
    assert yes["focus_n"].tolist() == [45, 50] and yes.attrs["rows_without_group"] == 5
    with pytest.raises(ValueError, match="no row of 'group' equals focus 'Black'"):
        scans.scan_gaps(data, unit="unit", group="group", focus="Black", outcome="y")


# --------------------------------------------------------------------------- persistence


def yearly(flags: dict, years=(2024, 2025, 2026)) -> pd.DataFrame:
    return pd.DataFrame([{"school_year": year, "unit": unit, "closer_look": hit,
                          "suppressed": False}
                         for unit, hits in flags.items() for year, hit in zip(years, hits)])


def test_persistence_needs_two_of_three_years():
    table = scans.persistence(yearly({"one": [True, False, False], "two": [True, False, True],
                                      "three": [True, True, True], "none": [False] * 3}),
                              unit="unit").set_index("unit")
    assert table["years_flagged"].to_dict() == {"none": 0, "one": 1, "three": 3, "two": 2}
    assert table["pattern"].to_dict() == {"none": "", "one": "", "three": scans.PATTERN,
                                          "two": scans.PATTERN}
    assert table.loc["two", "flagged_years"] == "2024, 2026"
    assert scans.PATTERN == "a pattern that warrants a closer look"


def test_persistence_window_is_respected():
    flags = yearly({"old": [True, True, False, False, False], "recent": [False, False, True, False,
                                                                         True]},
                   years=range(2022, 2027))
    table = scans.persistence(flags, unit="unit").set_index("unit")
    assert table.loc["old", "years_flagged"] == 0 and table.loc["old", "pattern"] == ""
    assert table.loc["recent", "pattern"] == scans.PATTERN
    assert table.attrs["first_year"] == 2024 and table.attrs["last_year"] == 2026
    earlier = scans.persistence(flags, unit="unit", through=2023).set_index("unit")
    assert earlier.loc["old", "persistent"] and not earlier.loc["recent", "persistent"]
    wide = scans.persistence(flags, unit="unit", years_needed=3, window=5).set_index("unit")
    assert not wide["persistent"].any()


def test_persistence_never_calls_one_year_a_pattern():
    with pytest.raises(ValueError, match="one year alone is never a pattern"):
        scans.persistence(yearly({"a": [True] * 3}), unit="unit", years_needed=1)


def test_persistence_counts_suppressed_years_as_not_scanned():
    flags = yearly({"a": [True, True, False]})
    flags.loc[flags["school_year"] == 2025, ["suppressed", "closer_look"]] = [True, False]
    row = scans.persistence(flags, unit="unit").iloc[0]
    assert (row["years_scanned"], row["years_flagged"], row["pattern"]) == (2, 1, "")


def test_scan_rates_by_year_is_one_scan_per_year():
    data = pd.concat([simulate([0.1] * 20 + [0.3], 150, seed).assign(school_year=year)
                      for seed, year in ((1, 2025), (2, 2026))], ignore_index=True)
    table = scans.scan_rates_by_year(data, unit="unit", outcome="y")
    assert table.columns[0] == "school_year" and len(table) == 42
    one = scans.scan_rates(data[data["school_year"] == 2026], unit="unit", outcome="y")
    pd.testing.assert_frame_equal(
        table[table["school_year"] == 2026].drop(columns="school_year").reset_index(drop=True), one,
        check_like=False)
    assert table.attrs["by_year"][2026]["tau2"] == one.attrs["tau2"]
    patterns = scans.persistence(table, unit="unit")
    assert patterns.loc[patterns["persistent"], "unit"].tolist() == ["U020"]


# --------------------------------------------------------------------------- synthetic districts


@pytest.fixture(scope="module")
def bundled_rows(bundled_district) -> pd.DataFrame:
    return student_years(ea.load_district(bundled_district))


@pytest.fixture(scope="module")
def null_rows(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("null_district")
    write_district(folder, students=3000, seed=5, null=True)
    return student_years(ea.load_district(folder))


def _planted(district_folder, name: str) -> dict:
    manifest = json.loads((Path(district_folder) / "manifest.json").read_text())
    return next(p for p in manifest["planted"] if p["name"] == name)


def test_bundled_district_flags_only_the_planted_school(bundled_rows, bundled_district):
    planted = _planted(bundled_district, "disproportionate_discipline")
    school = planted["where"]["school_id"]
    gaps = scans.scan_gaps(bundled_rows, **GAP)
    assert gaps.loc[gaps["closer_look"], "school_id"].tolist() == [school]
    found = gaps.set_index("school_id").loc[school]
    assert planted["effect"] / 1.5 < found["ratio"] < planted["effect"] * 1.5
    # one year of five schools leaves the unit-by-group comparison little power, so the yearly
    # persistence check uses the within-school gap (compare="within"), as before
    yearly_gaps = scans.scan_gaps_by_year(bundled_rows, **GAP, compare="within")
    patterns = scans.persistence(yearly_gaps, unit="school_id")
    assert patterns.loc[patterns["persistent"], "school_id"].tolist() == [school]
    # the planted effect is a gap, not a school-wide rate
    assert not scans.scan_rates(bundled_rows, unit="school_id", outcome="oss")["closer_look"].any()


def test_null_district_flags_no_school(null_rows):
    assert not scans.scan_gaps(null_rows, **GAP)["closer_look"].any()
    patterns = scans.persistence(scans.scan_gaps_by_year(null_rows, **GAP), unit="school_id")
    assert not patterns["persistent"].any()


# --------------------------------------------------------------------------- funnel plot


def drawn(fig) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def by_gid(ax, gid) -> list:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_funnel_plot_draws_limits_marks_the_outlier_and_notes_suppressed():
    counts = {f"School {i}": (int((0.07 + 0.01 * (i % 6)) * n), n)
              for i, n in enumerate(range(60, 420, 30))}
    counts |= {"Planted": (75, 250), "Tiny": (4, 6)}
    scan = scans.scan_rates(from_counts(counts, unit="school"), unit="school", outcome="y")
    assert scan.attrs["tau2_used"] > 0
    fig = plots.funnel(scan, label="school", ylabel="Suspended")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(by_gid(ax, "limit_95")) == 2 and len(by_gid(ax, "limit_998")) == 2
    # the drawn 99.8% curve is the scan's adjusted limit
    upper = max(by_gid(ax, "limit_998"), key=lambda line: line.get_ydata().mean())
    x, y = upper.get_data()
    expected = stats.funnel_limits(scan.attrs["target"], x, scans.Z_998, scan.attrs["tau2_used"])[1]
    assert y == pytest.approx(expected)
    outside = by_gid(ax, "outside")[0].get_offsets()
    assert outside.tolist() == [[250, 0.3]]
    # Tiny is not drawn; the two schools with fewer than 10 suspended are drawn as the range 1-9 leaves
    assert len(by_gid(ax, "inside")[0].get_offsets()) == 10
    (ranges,) = by_gid(ax, "range")
    assert sorted(tuple(np.round(seg[:, 1] * n, 9)) for seg, n in zip(ranges.get_segments(), (60, 90))) \
        == [(1, 9), (1, 9)]
    assert sorted(seg[0, 0] for seg in ranges.get_segments()) == [60, 90]
    assert [t.get_text() for t in ax.texts] == ["Planted"]
    text = drawn(fig)
    assert any("1 school with fewer than 10 students not shown" in t for t in text)
    assert any("overdispersion" in t for t in text)
    assert "outside the 99.8% limits" in text and "Tiny" not in " ".join(text)
    assert any(t.endswith("%") for t in text)                        # percent axis
    # the centre line is the district rate (all units together), not a goal
    assert any(t.startswith("district rate: ") for t in text) and not any("target" in t for t in text)
    # a larger minimum for the chart hides more units, and says so
    fig = plots.funnel(scan, label="school", ylabel="Suspended", min_n=100)
    # and, with every count of suspended under 100, the 11 larger units are drawn as ranges
    assert len(by_gid(fig.axes[0], "inside")[0].get_offsets()) == 0
    assert len(by_gid(fig.axes[0], "range")[0].get_segments()) == 11
    assert any("3 schools with fewer than 100 students not shown" in t for t in drawn(fig))


def test_funnel_plot_without_labels_names_nobody():
    scan = scans.scan_rates(simulate([0.1] * 30 + [0.3], 200, 0), unit="unit", outcome="y")
    fig = plots.funnel(scan, ylabel="Suspended", xlabel="Students taught")
    assert len(fig.axes[0].texts) == 0 and len(by_gid(fig.axes[0], "outside")[0].get_offsets()) == 1
    assert not any("not shown" in t for t in drawn(fig))
    with pytest.raises(ValueError, match="target and tau2"):
        plots.funnel(pd.DataFrame({"n": [20], "rate": [0.1]}), ylabel="Suspended")


def test_a_y_n_flag_is_scanned_once_like_yes_no():
    """A flag coded Y/N is a mirrored pair: its N comparison repeats the Y one."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"school": rng.choice(["A", "B", "C"], 900), "newcomer": rng.choice(["Y", "N"], 900),
                         "oss": rng.random(900) < 0.1})
    gaps = scans.scan_gaps_each(data, unit="school", columns=["newcomer"], outcome="oss")
    assert set(gaps["group"]) == {"Y"} and len(gaps) == 3
