"""Tests of the synthetic district: contract conformance, determinism and ground truth.

The planted effects are recovered with plain pandas from the generated tables, so
the tests check the data, not the generator's bookkeeping; the same statistics on
a ``null=True`` district must show nothing.
"""
from __future__ import annotations

import datetime as dt
import filecmp
import json
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from equity_audit.data.contract import GROUP_PREFIX, RACE_ETHNICITY, TABLES
from equity_audit.data.synthetic import NOT_GENERATED, PLANTED_EFFECTS, generate_district, write_district

#: The contract tables a synthetic district holds (every optional one but the year-by-year programs).
GENERATED = {name: table for name, table in TABLES.items() if name not in NOT_GENERATED}

N = 5000
SEED = 11
TODAY = pd.Timestamp("2026-11-23")
BLACK = "Black/African American"
POINTS = {"A+": 4.3, "A": 4.0, "A-": 3.7, "B+": 3.3, "B": 3.0, "B-": 2.7, "C+": 2.3,
          "C": 2.0, "C-": 1.7, "D+": 1.3, "D": 1.0, "D-": 0.7, "F": 0.0}


@pytest.fixture(scope="module")
def planted():
    return generate_district(N, seed=SEED)


@pytest.fixture(scope="module")
def null():
    return generate_district(N, seed=SEED, null=True)


@pytest.fixture(scope="module", params=["planted", "null"])
def district(request):
    return request.getfixturevalue(request.param)


def _planted(manifest, name):
    return next(p for p in manifest["planted"] if p["name"] == name)


def _grade_number(code: pd.Series) -> pd.Series:
    return code.replace({"K": "0", "PK": "-1"}).astype(int)


# --------------------------------------------------------------------- contract
def test_every_contract_table_with_exact_columns(district):
    tables, _ = district
    assert list(tables) == list(GENERATED)
    for name, table in GENERATED.items():
        cols = list(tables[name].columns)
        assert cols[: len(table.column_names)] == list(table.column_names), name
        extra = cols[len(table.column_names):]
        if name == "students":
            assert extra == [f"{GROUP_PREFIX}newcomer"]
        else:
            assert extra == [], name
        assert len(tables[name]) > 0, name


def test_keys_unique_and_required_filled(district):
    tables, _ = district
    for name, table in GENERATED.items():
        df = tables[name]
        assert not df.duplicated().any(), name  # the loader would drop exact repeats
        if table.key:
            assert not df.duplicated(list(table.key)).any(), name
        for col in table.required_columns:
            assert df[col].notna().all(), (name, col)


def test_every_reference_joins(district):
    tables, _ = district
    checked = 0
    for name, table in GENERATED.items():
        for col in table.columns:
            if not col.references:
                continue
            ref_table, ref_col = col.references.split(".")
            values = tables[name][col.name].dropna()
            missing = ~values.isin(set(tables[ref_table][ref_col]))
            assert not missing.any(), (name, col.name, values[missing].head().tolist())
            checked += 1
    assert checked >= 10
    staff = set(tables["staff"]["staff_id"])
    assert set(tables["sections"]["teacher_id"]) <= staff
    assert set(tables["evidence"]["scorer_id"]) <= staff
    assert set(tables["calibration"]["scorer_id"]) <= staff


def test_values_within_contract(district):
    tables, _ = district
    for name, table in GENERATED.items():
        df = tables[name]
        for col in table.columns:
            s = df[col.name].dropna()
            if col.kind == "flag":
                assert set(s) <= {"Y", "N"}, (name, col.name)
            if col.kind == "category":
                assert set(s) <= set(col.categories), (name, col.name)
            if col.kind == "date":
                assert (s <= TODAY).all() and (s < pd.Timestamp("2026-07-01")).all(), (name, col.name)
                assert (s > pd.Timestamp("2000-01-01")).all() or col.name == "birth_date"
            if col.low is not None:
                assert (s >= col.low).all() and (s <= col.high).all(), (name, col.name)
        for lo, hi in table.order_rules:
            both = df[[lo, hi]].dropna()
            assert (both[lo] <= both[hi]).all(), (name, lo, hi)
    ev = tables["evidence"]
    assert set(ev["score"]) == {1, 2, 3, 4} and set(ev["dok"]) == {1, 2, 3, 4}
    assert set(ev["task_type"]) == {"performance_task", "test", "quiz", "project", "observation"}
    assert set(tables["calibration"]["score"]) <= {1, 2, 3, 4}
    assert set(tables["survey"]["response"]) <= {1, 2, 3, 4, 5}
    assert set(tables["survey"]["construct"]) == {"belonging", "safety", "agency"}
    assert set(tables["grades"]["grade"]) <= set(POINTS)
    assert set(tables["grades"]["term"]) == {"s1", "s2"}
    assert set(tables["discipline"]["action"]) == set(TABLES["discipline"].column("action").categories)
    assert set(tables["opportunities"]["opportunity_type"]) >= {
        "level4_work", "enrichment", "acceleration", "honors", "dual_enrollment", "leadership"}
    assert set(tables["sections"]["course_level"]) == {"standard", "honors", "advanced", "dual_enrollment"}
    assert set(tables["standards"]["performance_level"]) == set(range(-1, 13))


def test_demographics_are_realistic(planted):
    st = planted[0]["students"]
    assert len(st) == N and st["student_id"].is_unique
    shares = st["race_ethnicity"].value_counts(normalize=True, dropna=False)
    assert 0.38 < shares["White"] < 0.50 and 0.12 < shares[BLACK] < 0.18
    assert set(st["race_ethnicity"].dropna()) <= set(RACE_ETHNICITY) - {"Unknown"}
    assert 0 < st["race_ethnicity"].isna().sum() < 0.03 * N
    assert set(st["gender"].dropna()) == {"Female", "Male", "Nonbinary"}
    assert 0 < st["gender"].isna().sum() < 0.03 * N
    assert 0.09 < (st["english_learner"] == "Y").mean() < 0.15
    assert 0.38 < (st["low_income"] == "Y").mean() < 0.46


def test_enrollments_progress_one_grade_a_year(planted):
    tables, _ = planted
    en = tables["enrollments"].assign(g=lambda d: _grade_number(d["grade_level"]))
    assert en["g"].between(0, 12).all()
    assert en["grade_level"].str.fullmatch(r"0\d").any()  # a few "05"-style codes
    assert set(en["school_year"]) == {2024, 2025, 2026}
    per_year = en.groupby(["student_id", "school_year"])["g"].first().reset_index()
    nxt = per_year.merge(per_year.assign(school_year=per_year["school_year"] - 1),
                         on=["student_id", "school_year"], suffixes=("", "_next"))
    assert (nxt["g_next"] == nxt["g"] + 1).all()
    assert set(tables["students"]["student_id"]) == set(en["student_id"])
    level = en.merge(tables["schools"], on="school_id")
    bands = {"elementary": (0, 5), "middle": (6, 8), "high": (9, 12)}
    for kind, (lo, hi) in bands.items():
        assert level.loc[level["school_level"] == kind, "g"].between(lo, hi).all()
    reasons = en["exit_reason"].value_counts()
    assert {"graduated", "moved_out_of_district", "transferred_in_district"} <= set(reasons.index)
    assert (en.loc[en["exit_reason"] == "graduated", "g"] == 12).all()
    # Age on 1 September of the school year is about grade + 5.
    age = en.merge(tables["students"], on="student_id")
    sept = pd.to_datetime(dict(year=age["school_year"] - 1, month=9, day=1))
    years = (sept - age["birth_date"]).dt.days / 365.25 - age["g"]
    assert years.between(4.9, 7.1).all()


def test_three_level_points_per_full_year(planted):
    tables, _ = planted
    lv = tables["levels"]
    assert set(lv["domain"]) == {"math", "ela"}
    lv = lv.assign(school_year=lv["as_of"].dt.year + (lv["as_of"].dt.month >= 7))
    counts = lv.groupby(["student_id", "domain", "school_year"]).size()
    assert counts.max() == 3 and (counts == 3).mean() > 0.9
    assert (lv["performance_level"] == lv["performance_level"].round(2)).all()


# ------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = write_district(tmp_path / "a", students=300, seed=5)
    b = write_district(tmp_path / "b", students=300, seed=5)
    c = write_district(tmp_path / "c", students=300, seed=6)
    names = sorted(p.name for p in a.parent.iterdir())
    assert names == sorted([f"{t}.csv" for t in GENERATED] + ["manifest.json"])
    match, mismatch, errors = filecmp.cmpfiles(a.parent, b.parent, names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(names)
    _, differ, _ = filecmp.cmpfiles(a.parent, c.parent, names, shallow=False)
    assert {"students.csv", "levels.csv", "evidence.csv", "manifest.json"} <= set(differ)


def test_csv_round_trip_matches_tables(tmp_path):
    path = write_district(tmp_path, students=300, seed=9)
    tables, manifest = generate_district(300, seed=9)
    assert json.loads(path.read_text()) == json.loads(json.dumps(
        {**manifest, "tables": {k: {**v, "file": f"{k}.csv"} for k, v in manifest["tables"].items()}}))
    lv = pd.read_csv(tmp_path / "levels.csv")
    assert list(lv.columns) == list(TABLES["levels"].column_names)
    assert np.allclose(lv["performance_level"], tables["levels"]["performance_level"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", lv["as_of"].iloc[0])
    st = pd.read_csv(tmp_path / "students.csv", keep_default_na=False)
    assert set(st["english_learner"]) == {"Y", "N"}
    assert (st["race_ethnicity"] == "").sum() == tables["students"]["race_ethnicity"].isna().sum()


def test_parquet_is_deterministic(tmp_path):
    a = write_district(tmp_path / "a", students=200, seed=2, fmt="parquet")
    b = write_district(tmp_path / "b", students=200, seed=2, fmt="parquet")
    names = sorted(p.name for p in a.parent.iterdir())
    assert len(names) == len(GENERATED) + 1
    assert filecmp.cmpfiles(a.parent, b.parent, names, shallow=False)[0] == names
    en = pd.read_parquet(a.parent / "enrollments.parquet")
    assert isinstance(en["entry_date"].iloc[0], dt.date)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate_district(100, schools=2)
    with pytest.raises(ValueError):
        generate_district(100, years=(2025, 2027))
    with pytest.raises(ValueError):
        write_district("unused", students=10, fmt="xlsx")


# --------------------------------------------------------------------- manifest
def test_manifest_lists_the_seven_effects_with_real_ids(planted):
    tables, manifest = planted
    assert [p["name"] for p in manifest["planted"]] == list(PLANTED_EFFECTS)
    json.dumps(manifest)  # JSON-ready as returned
    for p in manifest["planted"]:
        assert {"table", "measure", "group", "where", "effect", "effect_type"} <= set(p)
        for col, value in (p["group"] or {}).items():
            assert value in set(tables["students"][col]), (p["name"], col)
    schools = set(tables["schools"]["school_id"])
    assert _planted(manifest, "unmet_need_school")["school_id"] in schools
    assert _planted(manifest, "disproportionate_discipline")["school_id"] in schools
    teacher = _planted(manifest, "teacher_grade_bias")
    sections = tables["sections"].set_index("section_id")
    assert set(sections.loc[teacher["section_ids"], "teacher_id"]) == {teacher["teacher_id"]}
    harsh = _planted(manifest, "harsh_rater")["scorer_id"]
    assert harsh in set(tables["calibration"]["scorer_id"])
    assert harsh != teacher["teacher_id"]
    assert manifest["tables"]["students"]["rows"] == N


def test_null_manifest_plants_nothing(null):
    assert null[1]["planted"] == [] and null[1]["arguments"]["null"] is True


# ------------------------------------------------------- recovering the effects
def _pace(tables) -> pd.DataFrame:
    """OLS slope of level on years, per student and domain, with the student flags."""
    lv = tables["levels"]
    t = (lv["as_of"] - pd.Timestamp("2023-09-01")).dt.days / 365.25
    d = pd.DataFrame({"student_id": lv["student_id"], "domain": lv["domain"], "t": t,
                      "y": lv["performance_level"], "ty": t * lv["performance_level"], "tt": t * t})
    g = d.groupby(["student_id", "domain"]).agg(n=("t", "size"), t=("t", "mean"), y=("y", "mean"),
                                                ty=("ty", "mean"), tt=("tt", "mean"))
    g = g[(g["n"] >= 3) & (g["tt"] - g["t"] ** 2 > 0.05)]
    pace = ((g["ty"] - g["t"] * g["y"]) / (g["tt"] - g["t"] ** 2)).rename("pace")
    per_student = pace.groupby("student_id").mean().reset_index()
    return per_student.merge(tables["students"], on="student_id")


def _gap(df, col, value="Y", measure="pace"):
    return df.loc[df[col] == value, measure].mean() - df.loc[df[col] != value, measure].mean()


def test_slow_pace_subgroup(planted, null):
    p = _pace(planted[0])
    assert _gap(p, "english_learner") == pytest.approx(-0.35, abs=0.06)
    assert abs(_gap(_pace(null[0]), "english_learner")) < 0.04
    assert p.loc[p["english_learner"] == "N", "pace"].mean() == pytest.approx(1.0, abs=0.08)


def test_hidden_intersection(planted, null):
    p = _pace(planted[0])
    assert abs(_gap(p, "low_income")) < 0.05
    assert abs(_gap(p, "disability")) < 0.05
    cell = (p["low_income"] == "Y") & (p["disability"] == "Y")
    neither = (p["low_income"] == "N") & (p["disability"] == "N")
    rec = _planted(planted[1], "hidden_intersection")
    assert p.loc[cell, "pace"].mean() - p.loc[neither, "pace"].mean() == pytest.approx(-0.4, abs=0.08)
    vs_rest = p.loc[cell, "pace"].mean() - p.loc[~cell, "pace"].mean()
    assert vs_rest == pytest.approx(rec["expected_cell_gap_vs_rest"], abs=0.08) and vs_rest < -0.3
    q = _pace(null[0])
    cell = (q["low_income"] == "Y") & (q["disability"] == "Y")
    assert abs(q.loc[cell, "pace"].mean() - q.loc[~cell, "pace"].mean()) < 0.06


def _behind_first(tables) -> pd.DataFrame:
    """Behind-ness at the first level of each enrollment and domain (manifest definition)."""
    en = tables["enrollments"].assign(g=lambda d: _grade_number(d["grade_level"]))
    lv = tables["levels"].merge(en, on="student_id")
    lv = lv[(lv["as_of"] >= lv["entry_date"]) & (lv["as_of"] <= lv["exit_date"])]
    lv = lv.sort_values("as_of").drop_duplicates(["student_id", "school_year", "school_id", "domain"])
    fall = pd.to_datetime(dict(year=lv["school_year"] - 1, month=9, day=15))
    elapsed = (lv["as_of"] - fall).dt.days / 365.25
    return lv.assign(behind=lv["g"] + elapsed - lv["performance_level"])


def _support_rates(tables, school_id):
    need = _behind_first(tables)
    need = need[need["behind"] >= 2]
    sup = tables["supports"].dropna(subset=["domain"]).merge(
        need[["student_id", "domain", "entry_date", "exit_date", "school_id"]],
        on=["student_id", "domain"])
    sup = sup[(sup["start_date"] >= sup["entry_date"]) & (sup["start_date"] <= sup["exit_date"])]
    keys = ["student_id", "domain", "entry_date"]
    got = need.set_index(keys).index.isin(sup.set_index(keys).index)
    at = (need["school_id"] == school_id).to_numpy()
    return got[at].mean(), got[~at].mean(), at.sum()


def test_unmet_need_school(planted, null):
    school = _planted(planted[1], "unmet_need_school")["school_id"]
    there, elsewhere, n = _support_rates(planted[0], school)
    assert n >= 60
    assert there == pytest.approx(0.30, abs=0.1) and elsewhere == pytest.approx(0.85, abs=0.06)
    there, elsewhere, _ = _support_rates(null[0], school)
    assert abs(there - elsewhere) < 0.12 and elsewhere == pytest.approx(0.85, abs=0.06)


def _grade_residuals(tables) -> pd.DataFrame:
    """Grade points minus a straight-line prediction from the term's mean evidence score."""
    ev = tables["evidence"].merge(tables["rosters"], on="student_id")
    ev = ev.merge(tables["sections"][["section_id", "teacher_id", "school_year"]], on="section_id")
    ev = ev[ev["scorer_id"] == ev["teacher_id"]]
    year = ev["assessed_on"].dt.year + (ev["assessed_on"].dt.month >= 7)
    ev = ev[year == ev["school_year"]]
    jan16 = pd.to_datetime(dict(year=ev["school_year"], month=1, day=16))
    ev = ev.assign(term=np.where(ev["assessed_on"] < jan16, "s1", "s2"))
    # A student's evidence in a section: same teacher, same year, same domain as the course.
    ev = ev[ev["standard_id"].str.split(".").str[0].str.lower()
            == ev["section_id"].map(tables["sections"].set_index("section_id")["domain"])]
    mastery = ev.groupby(["student_id", "section_id", "term"])["score"].mean().rename("mastery")
    gr = tables["grades"].join(mastery, on=["student_id", "section_id", "term"]).dropna()
    gr = gr.merge(tables["sections"][["section_id", "teacher_id"]], on="section_id")
    gr = gr.merge(tables["students"][["student_id", "race_ethnicity"]], on="student_id")
    gr["points"] = gr["grade"].map(POINTS)
    slope, intercept = np.polyfit(gr["mastery"], gr["points"], 1)
    return gr.assign(resid=gr["points"] - (slope * gr["mastery"] + intercept))


def test_teacher_grade_bias(planted, null):
    teacher = _planted(planted[1], "teacher_grade_bias")["teacher_id"]
    gr = _grade_residuals(planted[0])
    mine, black = gr["teacher_id"] == teacher, gr["race_ethnicity"] == BLACK
    assert (mine & black).sum() >= 40
    gap = gr.loc[mine & black, "resid"].mean() - gr.loc[mine & ~black, "resid"].mean()
    assert gap == pytest.approx(-1.0, abs=0.25)
    others = gr.loc[~mine & black, "resid"].mean() - gr.loc[~mine & ~black, "resid"].mean()
    assert abs(others) < 0.1
    gr = _grade_residuals(null[0])
    mine, black = gr["teacher_id"] == teacher, gr["race_ethnicity"] == BLACK
    assert abs(gr.loc[mine & black, "resid"].mean() - gr.loc[mine & ~black, "resid"].mean()) < 0.25


def _rater_deviation(tables) -> pd.Series:
    cal = tables["calibration"]
    g = cal.groupby("work_id")["score"]
    others = (g.transform("sum") - cal["score"]) / (g.transform("size") - 1)
    return (cal["score"] - others).groupby(cal["scorer_id"]).mean()


def test_harsh_rater(planted, null):
    scorer = _planted(planted[1], "harsh_rater")["scorer_id"]
    cal = planted[0]["calibration"]
    assert cal["work_id"].nunique() == 40
    assert cal.groupby("work_id").size().between(5, 6).all()
    dev = _rater_deviation(planted[0])
    assert dev[scorer] == pytest.approx(-0.8, abs=0.25)
    # The others look slightly lenient only because the harsh scorer is among their peers.
    assert dev.idxmin() == scorer and dev.drop(scorer).min() > -0.35
    dev = _rater_deviation(null[0])
    assert abs(dev[scorer]) < 0.25 and dev.abs().max() < 0.5


def _oss_risk_ratio(tables, school_id, inside=True):
    en = tables["enrollments"]
    en = en[(en["school_id"] == school_id) == inside]
    oss = tables["discipline"].query("action == 'out_of_school_suspension'")
    oss = oss.assign(school_year=oss["incident_date"].dt.year + (oss["incident_date"].dt.month >= 7))
    hit = en.set_index(["student_id", "school_year", "school_id"]).index.isin(
        oss.set_index(["student_id", "school_year", "school_id"]).index)
    black = en["student_id"].map(tables["students"].set_index("student_id")["race_ethnicity"]) == BLACK
    return hit[black.to_numpy()].mean() / hit[~black.to_numpy()].mean()


def test_disproportionate_discipline(planted, null):
    school = _planted(planted[1], "disproportionate_discipline")["school_id"]
    assert _oss_risk_ratio(planted[0], school) > 2
    assert _oss_risk_ratio(planted[0], school, inside=False) == pytest.approx(1, abs=0.35)
    assert _oss_risk_ratio(null[0], school) == pytest.approx(1, abs=0.6)
    days = planted[0]["discipline"].groupby("action")["days_removed"]
    assert days.count()[["referral", "other"]].sum() == 0
    assert (days.min()[["in_school_suspension", "out_of_school_suspension", "expulsion"]] >= 1).all()


def _level4_ratio(tables):
    b = _behind_first(tables).sort_values("entry_date")
    first = b.groupby(["student_id", "school_year"])["entry_date"].transform("min") == b["entry_date"]
    at_grade = b[first].groupby(["student_id", "school_year"])["behind"].mean() <= 0
    elig = at_grade[at_grade].reset_index()[["student_id", "school_year"]]
    l4 = tables["opportunities"].query("opportunity_type == 'level4_work'")
    elig["l4"] = elig.set_index(["student_id", "school_year"]).index.isin(
        l4.set_index(["student_id", "school_year"]).index)
    elig = elig.merge(tables["students"][["student_id", "disability"]], on="student_id")
    rate = elig.groupby("disability")["l4"].mean()
    return rate["Y"] / rate["N"], rate["N"]


def test_level4_access(planted, null):
    ratio, base = _level4_ratio(planted[0])
    assert ratio == pytest.approx(0.5, abs=0.15) and base == pytest.approx(0.4, abs=0.05)
    ratio, _ = _level4_ratio(null[0])
    assert ratio == pytest.approx(1.0, abs=0.25)
    # Level-4 work shows up in the evidence as DOK-4 tasks.
    ev = planted[0]["evidence"]
    assert ev.loc[ev["dok"] == 4, "task_type"].isin(["performance_task", "project"]).all()


def test_null_outcomes_do_not_depend_on_school(null):
    tables, _ = null
    b = _behind_first(tables)
    by_school = (b["behind"] >= 2).groupby(b["school_id"]).mean()
    assert by_school.max() - by_school.min() < 0.12
    sv = tables["survey"].merge(tables["students"], on="student_id")
    for col in ("english_learner", "low_income", "disability"):
        assert abs(_gap(sv, col, measure="response")) < 0.1


@pytest.mark.parametrize("students", [1, 7, 60])
def test_tiny_districts_still_meet_the_contract(students):
    for null in (False, True):
        district = generate_district(students, seed=students, null=null, schools=3)
        assert len(district[0]["students"]) == students
        test_keys_unique_and_required_filled(district)
        test_every_reference_joins(district)


# ------------------------------------------------------------------- loading
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_district_loads_without_problems(tmp_path, fmt):
    load = pytest.importorskip("equity_audit.data.load")
    write_district(tmp_path, students=500, seed=4, fmt=fmt)
    tables, _ = generate_district(500, seed=4)
    district = load.load_district(tmp_path, today="2026-11-23")  # raises on any problem
    assert district.problems == [] and district.exclusions.empty
    ledger = district.ledger.set_index("table")
    generated = ledger.drop(index=list(NOT_GENERATED))
    assert generated["provided"].all() and (ledger["rows_excluded"] == 0).all()
    assert generated["rows_used"].to_dict() == {k: len(v) for k, v in tables.items()}
    assert np.allclose(district.tables["levels"]["performance_level"],
                       tables["levels"]["performance_level"])
    assert (district.tables["enrollments"]["entry_date"] == tables["enrollments"]["entry_date"]).all()


DEMO = pathlib.Path(__file__).resolve().parents[1] / "data" / "synthetic"


@pytest.mark.skipif(not (DEMO / "manifest.json").exists(), reason="demo district not written")
def test_committed_demo_district_is_current(tmp_path):
    """data/synthetic must be exactly what the generator writes (regenerate if this fails)."""
    args = json.loads((DEMO / "manifest.json").read_text())["arguments"]
    assert args == {"students": 2000, "seed": 2017, "null": False,
                    "years": [2024, 2025, 2026], "schools": 5}
    write_district(tmp_path, students=2000, seed=2017)
    names = sorted(p.name for p in tmp_path.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(DEMO, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == [], "regenerate: write_district('data/synthetic', " \
        "students=2000, seed=2017)"
    assert sum(p.stat().st_size for p in DEMO.iterdir()) < 8_000_000


def test_school_dates_fall_on_weekdays(planted):
    tables, _ = planted
    for name, col in [("enrollments", "entry_date"), ("enrollments", "exit_date"),
                      ("levels", "as_of"), ("evidence", "assessed_on"),
                      ("discipline", "incident_date"), ("survey", "survey_date")]:
        assert (tables[name][col].dt.day_of_week < 5).all(), (name, col)
