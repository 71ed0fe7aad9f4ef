"""State mode: LEA determinations, the roll-up and its disclosure control, the state folder, end to end."""
import json

import numpy as np
import pandas as pd
import pytest

from equity_audit.config import Config, StateSettings
from equity_audit.exceptions import ConfigError
from equity_audit.app.state import released_rollup
from equity_audit.questions.state import (StateDataError, determinations, find_leas, idea_counts, lea_summary,
                                          rollup)

YEARS = (2024, 2025, 2026)


def _lea(lea, ratios, *, base=100, others_base=400, others_outcome=40, category="identification"):
    """Counts of one LEA whose group "g" has the given risk ratio each year against one other group "h"."""
    others_risk = others_outcome / others_base
    rows = []
    for year, ratio in zip(YEARS, ratios):
        rows += [{"lea": lea, "category": category, "school_year": year, "group": "g",
                  "outcome": round(ratio * others_risk * base), "base": base},
                 {"lea": lea, "category": category, "school_year": year, "group": "h",
                  "outcome": others_outcome, "base": others_base}]
    return rows


def _decide(rows, **settings):
    by_year, decided = determinations(pd.DataFrame(rows), StateSettings(**settings))
    return by_year, decided.set_index(["lea", "group"])


def test_three_year_rule_determines_only_three_consecutive_years_above():
    rows = (_lea("three", [4, 4, 4]) + _lea("two_last", [2, 4, 4]) + _lea("broken", [4, 2, 4])
            + _lea("never", [1, 1, 1]))
    _, decided = _decide(rows)
    significant = decided.xs("g", level="group")["significant_disproportionality"]
    assert significant.to_dict() == {"broken": False, "never": False, "three": True, "two_last": False}
    runs = decided.xs("g", level="group")["consecutive_years_above"]
    assert runs.to_dict() == {"broken": 1, "never": 0, "three": 3, "two_last": 2}
    # the state's own number of years
    _, two = _decide(rows, years=2)
    assert two.loc[("two_last", "g"), "significant_disproportionality"]


def test_ratio_exactly_at_the_threshold_is_not_above_it():
    by_year, decided = _decide(_lea("at", [3, 3, 3]) + _lea("above", [3.1, 3.1, 3.1]))
    at = by_year[(by_year["lea"] == "at") & (by_year["group"] == "g")]
    assert np.allclose(at["ratio"], 3.0) and not at["above_threshold"].any()
    assert not decided.loc[("at", "g"), "significant_disproportionality"]
    assert decided.loc[("above", "g"), "significant_disproportionality"]


def test_reasonable_progress_exempts_only_when_the_ratio_falls_enough_each_year():
    rows = _lea("falling", [5, 4.5, 4]) + _lea("slow", [5, 4.8, 4.6])
    _, off = _decide(rows)
    assert off.loc[("falling", "g"), "significant_disproportionality"]
    _, on = _decide(rows, reasonable_progress=0.5)
    assert on.loc[("falling", "g"), "reasonable_progress"]
    assert not on.loc[("falling", "g"), "significant_disproportionality"]
    assert on.loc[("slow", "g"), "significant_disproportionality"]


def test_n_size_and_cell_size_exclude_a_group():
    # group g: 29 children (n-size 30), or 40 children of whom 9 have the outcome (cell size 10)
    small_n = _lea("small_n", [10, 10, 10], base=29, others_base=300, others_outcome=12)
    small_cell = _lea("small_cell", [11.25, 11.25, 11.25], base=40, others_base=1000, others_outcome=20)
    assert [r["outcome"] for r in small_n + small_cell if r["group"] == "g"] == [12] * 3 + [9] * 3
    by_year, decided = _decide(small_n + small_cell)
    g = by_year[by_year["group"] == "g"].sort_values(["lea", "school_year"])
    assert (g["method"] == "not calculated").all() and g["ratio"].isna().all()
    assert g["reason"].str.contains("minimum n-size").tolist() == [False] * 3 + [True] * 3
    assert g["reason"].str.contains("minimum cell size").tolist() == [True] * 3 + [False] * 3
    assert not decided["significant_disproportionality"].any()
    # with the state's minima one lower, the same LEAs are determined
    _, lower = _decide(small_n + small_cell, min_n=29, min_cell=9)
    assert lower.xs("g", level="group")["significant_disproportionality"].all()


def test_alternate_risk_ratio_compares_with_the_rest_of_the_state():
    # LEA "a": the other group has 5 children with the outcome (cell size 10): ARR against the state
    rows = _lea("a", [1, 1, 1], base=100, others_base=100, others_outcome=5)
    for year in YEARS:
        rows[[i for i, r in enumerate(rows) if r["school_year"] == year and r["group"] == "g"][0]]["outcome"] = 40
    rows += _lea("b", [1, 1, 1], base=1000, others_base=1000, others_outcome=100)
    by_year, decided = _decide(rows)
    a = by_year[(by_year["lea"] == "a") & (by_year["group"] == "g")]
    assert (a["method"] == "alternate risk ratio").all()
    # state others: 5 + 100 of 1100 children; g in "a": 40 of 100
    assert np.allclose(a["ratio"], 0.4 / (105 / 1100))
    assert decided.loc[("a", "g"), "significant_disproportionality"]


def test_lea_summary_names_what_is_determined():
    _, decided = determinations(pd.DataFrame(_lea("x", [4, 4, 4]) + _lea("y", [1, 1, 1])))
    summary = lea_summary(decided, pd.Series({"x": 500, "y": 700})).set_index("lea")
    assert summary["significantly_disproportionate"].to_dict() == {"x": "Yes", "y": "No"}
    assert summary.loc["x", "categories_and_groups"] == "identification (g)"
    assert summary["n"].to_dict() == {"x": 500, "y": 700}


def test_state_settings_come_from_the_config_block(tmp_path):
    path = tmp_path / "state.yaml"
    path.write_text("state:\n  risk_ratio_threshold: 2.5\n  years: 2\n  reasonable_progress: 0.25\n")
    from equity_audit.config import load_config
    state = load_config(path).state
    assert (state.risk_ratio_threshold, state.min_n, state.min_cell, state.years, state.reasonable_progress) == \
        (2.5, 30, 10, 2, 0.25)
    assert Config().state == StateSettings(3.0, 30, 10, 3, None)
    with pytest.raises(ConfigError, match="unknown state setting.*'threshold'"):
        Config.from_mapping({"state": {"threshold": 2}})
    with pytest.raises(ConfigError, match="'state.years' is 4"):
        Config.from_mapping({"state": {"years": 4}})


# --------------------------------------------------------------------------- roll-up


def _facts(seed=0):
    """Student-year rows of three LEAs: sizes and rates drawn, one small school."""
    rng = np.random.default_rng(seed)
    frames = []
    for lea, schools in {"L1": [200, 150, 6], "L2": [300, 120], "L3": [90]}.items():
        for number, size in enumerate(schools):
            frames.append(pd.DataFrame({
                "lea": lea, "school": f"S{number}", "school_year": 2026,
                "student_id": [f"{lea}-{number}-{i}" for i in range(size)],
                "disability": np.where(rng.random(size) < 0.14, "Yes", "No"),
                "any_exclusion": (rng.random(size) < 0.1).astype(int),
                "any_oss": (rng.random(size) < 0.04).astype(int)}))
    old = frames[0].assign(school_year=2025)  # an earlier year is left out of the roll-up
    return pd.concat([*frames, old], ignore_index=True)


def test_rollup_totals_add_up():
    table = rollup(_facts())
    for measure, rows in table.groupby("measure"):
        state = rows[rows["level"] == "state"][["n", "events"]].sum()
        leas = rows[rows["level"] == "lea"].set_index("lea")[["n", "events"]]
        schools = rows[rows["level"] == "school"].groupby("lea")[["n", "events"]].sum()
        assert state.tolist() == leas.sum().tolist()
        pd.testing.assert_frame_equal(leas.sort_index(), schools.sort_index(), check_dtype=False)
    assert table.loc[table["level"] == "state", "n"].iloc[0] == 200 + 150 + 6 + 300 + 120 + 90


def test_rollup_withholds_small_cells_and_their_complement():
    released = released_rollup(rollup(_facts()), min_n=10)
    schools = released[released["level"] == "school"]
    tiny = schools[(schools["lea"] == "L1") & (schools["school"] == "S2")]
    assert tiny["n"].isna().all() and tiny["status"].str.contains("small_n").all()
    # the LEA total minus its shown schools must not give the small school back
    l1 = schools[schools["lea"] == "L1"]
    assert (l1.groupby("measure")["n"].apply(lambda n: n.isna().sum()) >= 2).all()
    # every count behind a shown share is at least 10, and no parent has a single withheld child count
    shown = released.dropna(subset=["events"])
    assert ((shown["events"] == 0) | (shown["events"] >= 10)).all()
    for (lea, measure), rows in schools.groupby(["lea", "measure"]):
        parent = released[(released["level"] == "lea") & (released["lea"] == lea) & (released["measure"] == measure)]
        if parent["events"].notna().all() and len(rows) > 1:
            assert rows["events"].isna().sum() != 1, (lea, measure)
    assert "student_id" not in released


# --------------------------------------------------------------------------- the state folder


def test_bad_lea_is_named_with_its_file(tmp_path):
    from equity_audit.app.state import _validated_facts
    from equity_audit.data.synthetic import write_district

    write_district(tmp_path / "good", students=150, seed=1)
    write_district(tmp_path / "bad", students=150, seed=2)
    students = pd.read_csv(tmp_path / "bad" / "students.csv", dtype=str)
    students.loc[0, "disability"] = "maybe"
    students.to_csv(tmp_path / "bad" / "students.csv", index=False)
    leas = find_leas(tmp_path)
    assert list(leas) == ["bad", "good"]
    with pytest.raises(StateDataError, match=r"(?s)LEA bad .*students\.csv") as err:
        _validated_facts(leas, Config(), log=lambda line: None)
    assert err.value.exit_code == 2


def test_lea_id_layout_is_split_into_one_folder_per_lea(tmp_path):
    from equity_audit.data.synthetic import generate_district

    state, work = tmp_path / "state", tmp_path / "work"
    state.mkdir()
    parts = {lea: generate_district(120, seed=seed)[0] for lea, seed in (("A", 1), ("B", 2))}
    for name in ("students", "enrollments"):
        pd.concat([t[name].assign(lea_id=lea) for lea, t in parts.items()]).to_csv(state / f"{name}.csv", index=False)
    leas = find_leas(state, work_dir=work)
    assert list(leas) == ["A", "B"]
    split = pd.read_csv(leas["B"] / "students.csv", dtype=str)
    assert len(split) == 120 and "lea_id" not in split
    assert set(split["student_id"]) == set(parts["B"]["students"]["student_id"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StateDataError, match="holds no LEA"):
        find_leas(empty, work_dir=work)


@pytest.mark.slow
def test_state_run_end_to_end(tmp_path):
    from equity_audit.app.cli import main
    from equity_audit.data.synthetic_state import write_state

    data, out = tmp_path / "state", tmp_path / "run"
    manifest = json.loads(write_state(data, seed=0, sizes=(900, 900, 200, 250, 300)).read_text())
    assert main(["run", "--data", str(data), "--level", "state", "--out", str(out), "--workers", "2"]) == 0
    leas = pd.read_csv(out / "tables" / "state_leas.csv").set_index("lea")
    planted = {p["lea"]: p for p in manifest["planted"]}
    determined = [lea for lea, p in planted.items() if p["significant"]]
    two_years = [lea for lea, p in planted.items() if not p["significant"]]
    assert leas.loc[determined, "significantly_disproportionate"].eq("Yes").all()
    assert leas.loc[two_years, "significantly_disproportionate"].eq("No").all()
    assert leas["significantly_disproportionate"].eq("Yes").sum() == len(determined)
    decided = pd.read_csv(out / "tables" / "state_idea_determinations.csv")
    two = planted[two_years[0]]
    rows = decided[(decided["lea"] == two["lea"]) & decided["category"].isin(two["categories"])
                   & (decided["group"] == two["group"]["race_ethnicity"])]
    assert rows["consecutive_years_above"].max() == 2
    for record in manifest["leas"]:
        assert (out / "leas" / record["lea"] / "report.html").is_file()
    assert (out / "tables" / "disclosure_audit.csv").is_file() and (out / "state.html").is_file()
    published = " ".join(p.read_text() for p in (out / "tables").glob("*.csv"))
    students = pd.read_csv(data / determined[0] / "students.csv", dtype=str)["student_id"]
    assert not any(sid in published for sid in students.head(50))


def test_published_state_tables_withhold_small_counts_behind_ratios(tmp_path):
    from equity_audit.app.state import _publish

    rng = np.random.default_rng(3)
    size = 3000
    facts = pd.DataFrame({
        "lea": rng.choice(["L1", "L2"], size), "school": rng.choice(["S0", "S1"], size),
        "school_year": rng.choice(list(YEARS), size), "student_id": [f"id{i}" for i in range(size)],
        "race_ethnicity": rng.choice(["g", "h", "k"], size, p=[0.1, 0.6, 0.3]),
        "disability": np.where(rng.random(size) < 0.3, "Yes", "No"),
        "any_oss": (rng.random(size) < 0.15).astype(int), "any_iss": (rng.random(size) < 0.1).astype(int),
        "any_exclusion": (rng.random(size) < 0.2).astype(int)})
    facts["removals"] = facts["any_oss"] + facts["any_iss"]
    # a state whose cell size (5) is below the publishing minimum (10): some ratios rest on 5-9 children
    config = Config(state=StateSettings(min_cell=5, min_n=20))
    _publish(tmp_path, facts, config)
    risk = pd.read_csv(tmp_path / "tables" / "state_idea_risk_ratios.csv")
    computed, _ = determinations(idea_counts(facts), config.state)
    small = computed[computed["ratio"].notna() & (computed["outcome"] < 10)]
    assert len(small) > 0
    shown = risk.merge(small[["lea", "category", "school_year", "group"]], on=["lea", "category", "school_year", "group"])
    assert len(shown) == len(small)
    assert shown["ratio"].isna().all() and shown["events"].isna().all() and shown["estimate"].isna().all()
    assert shown["status"].str.contains("small_count").all()
    assert (tmp_path / "tables" / "disclosure_audit.csv").is_file() and (tmp_path / "state.html").is_file()
    published = " ".join(p.read_text() for p in (tmp_path / "tables").glob("*.csv"))
    assert "id1" not in published


def test_synth_level_state_writes_one_folder_per_lea(tmp_path):
    from equity_audit.app.cli import main

    assert main(["synth", "--level", "state", "--leas", "2", "--seed", "4", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["lea"] for r in manifest["leas"]] == list(find_leas(tmp_path))
    assert [p["significant"] for p in manifest["planted"]] == [True, False]
    sizes = [len(pd.read_csv(tmp_path / r["lea"] / "students.csv")) for r in manifest["leas"]]
    assert sizes == [r["students"] for r in manifest["leas"]]
    assert main(["run", "--data", str(tmp_path), "--level", "state", "--out", str(tmp_path / "x"),
                 "--workers", "0"]) == 2


def test_an_lea_without_disability_is_left_out_not_counted_as_no():
    facts = _facts().assign(race_ethnicity="g")
    facts.loc[facts["lea"] == "L3", "disability"] = np.nan
    identified = rollup(facts).query("measure == 'identified with a disability'").set_index(["level", "lea"])
    assert identified.loc[("state", ""), "n"] == 200 + 150 + 6 + 300 + 120
    assert ("lea", "L3") not in identified.index
    facts["any_oss"] = facts["any_oss"].where(facts["lea"] != "L2")
    counts = idea_counts(facts)
    assert "L3" not in set(counts["lea"])
    assert "L2" not in set(counts.loc[counts["category"] == "out_of_school_suspension", "lea"])
    with pytest.raises(StateDataError, match="need the students' race_ethnicity"):
        idea_counts(facts.drop(columns="race_ethnicity"))
