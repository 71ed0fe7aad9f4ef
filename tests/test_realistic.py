"""The realistic null generator (issue 12) and the calibration harness.

The generator's structure is checked on its own output: subgroups are correlated,
growth stops over the summer, students keep their propensities across years,
teachers grade all of their students with one leniency, schools differ in
composition, and the manifest lists the real gaps and the planted effects. Group
names come from the manifest, never from the bundled district.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from equity_audit.app.cli import main as cli_main
from equity_audit.data.synthetic import REALISTIC_MAIN_EFFECTS, generate_district

REPO = Path(__file__).resolve().parents[1]
STUDENTS = 1500
POINTS = {"F": 0.0, "D-": 0.7, "D": 1.0, "D+": 1.3, "C-": 1.7, "C": 2.0, "C+": 2.3, "B-": 2.7,
          "B": 3.0, "B+": 3.3, "A-": 3.7, "A": 4.0, "A+": 4.3}


@pytest.fixture(scope="module")
def realistic():
    return generate_district(STUDENTS, seed=11, null="realistic")


@pytest.fixture(scope="module")
def independent():
    return generate_district(STUDENTS, seed=11, null=True)


@pytest.fixture(scope="module")
def planted():
    return generate_district(STUDENTS, seed=12, realistic=True)


def _flag(tables, column):
    return tables["students"].set_index("student_id")[column]


def _association_pvalue(tables, a, b):
    table = pd.crosstab(_flag(tables, a), _flag(tables, b))
    return stats.chi2_contingency(table)[1]


# ------------------------------------------------------------------------- arguments
def test_null_realistic_is_null_with_realistic_structure(realistic):
    tables, manifest = realistic
    same = generate_district(STUDENTS, seed=11, null=True, realistic=True)
    assert manifest["planted"] == [] and manifest["arguments"]["realistic"] is True
    pd.testing.assert_frame_equal(tables["levels"], same[0]["levels"])


def test_default_manifest_has_no_realistic_keys(independent):
    manifest = independent[1]
    assert "realistic" not in manifest and "real_gaps" not in manifest
    assert "realistic" not in manifest["arguments"]


def test_bad_null_is_refused():
    with pytest.raises(ValueError, match="null must be"):
        generate_district(50, null="maybe")


def test_cli_writes_a_realistic_null(tmp_path):
    assert cli_main(["synth", "--students", "120", "--seed", "3", "--null", "realistic",
                     "--out", str(tmp_path / "r")]) == 0
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["arguments"]["realistic"] is True and manifest["planted"] == []
    assert cli_main(["synth", "--students", "120", "--seed", "3", "--null", "--out", str(tmp_path / "n")]) == 0
    assert "realistic" not in json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert cli_main(["synth", "--students", "400", "--seed", "3", "--realistic", "--out", str(tmp_path / "p")]) == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["arguments"]["realistic"] is True and len(manifest["planted"]) == 6


# ------------------------------------------------------------------------- structure
def test_subgroups_are_correlated_only_in_the_realistic_district(realistic, independent):
    pairs = realistic[1]["realistic"]["correlated"]
    assert len(pairs) >= 3
    for a, b in pairs:
        assert _association_pvalue(realistic[0], a, b) < 1e-6, (a, b)
        assert _association_pvalue(independent[0], a, b) > 1e-3, (a, b)


def test_flag_shares_are_kept(realistic, independent):
    for column in REALISTIC_MAIN_EFFECTS["pace"]:
        share = _flag(realistic[0], column).eq("Y").mean()
        assert share == pytest.approx(_flag(independent[0], column).eq("Y").mean(), abs=0.02)


def test_schools_differ_in_composition(realistic, independent):
    column = realistic[1]["realistic"]["correlated"][0][0]

    def spread(tables):
        e = tables["enrollments"].merge(tables["students"][["student_id", column]], on="student_id")
        return e.groupby("school_id")[column].apply(lambda s: s.eq("Y").mean()).agg(np.ptp)

    assert spread(realistic[0]) > 0.15
    assert spread(independent[0]) < 0.10


def _growth_per_day(levels):
    """Mean level gained per calendar day: fall-to-spring pairs and spring-to-next-fall pairs."""
    lv = levels.sort_values(["student_id", "domain", "as_of"])
    same = lv["student_id"].eq(lv["student_id"].shift()) & lv["domain"].eq(lv["domain"].shift())
    days = (lv["as_of"] - lv["as_of"].shift()).dt.days
    gain = lv["performance_level"] - lv["performance_level"].shift()
    before, after = lv["as_of"].shift().dt.month, lv["as_of"].dt.month
    within = same & ((before.isin([9, 10]) & after.isin([1, 2])) | (before.isin([1, 2]) & after.isin([5])))
    within &= days.lt(200)
    summer = same & before.isin([5]) & after.isin([9, 10]) & days.lt(200)
    return gain[within].sum() / days[within].sum(), gain[summer].sum() / days[summer].sum()


def test_growth_stops_over_the_summer(realistic, independent):
    within, summer = _growth_per_day(realistic[0]["levels"])
    # May to September holds about 57 school days out of 133: well under half the rate.
    assert summer / within < 0.6
    within, summer = _growth_per_day(independent[0]["levels"])
    assert summer / within == pytest.approx(1.0, abs=0.15)  # the default grows in calendar time


def _oss_by_year(tables):
    d = tables["discipline"]
    d = d[d["action"] == "out_of_school_suspension"]
    year = d["incident_date"].dt.year + (d["incident_date"].dt.month >= 8)
    hit = pd.Series(1, index=pd.MultiIndex.from_arrays([d["student_id"], year])).groupby(level=[0, 1]).max()
    e = tables["enrollments"][["student_id", "school_year"]].drop_duplicates()
    e["oss"] = hit.reindex(pd.MultiIndex.from_frame(e)).fillna(0).to_numpy()
    return e.pivot(index="student_id", columns="school_year", values="oss").dropna()


def test_student_propensities_persist_across_years(realistic, independent):
    def ratio(tables):
        wide = _oss_by_year(tables)
        first, second = wide.iloc[:, 0], wide.iloc[:, 1]
        return second[first == 1].mean() / second[first == 0].mean()

    assert ratio(realistic[0]) > 1.5
    assert ratio(independent[0]) < 1.5


def _grade_residuals(tables):
    """Grade points minus the grade model's prediction from the term's evidence, per grade."""
    ev = tables["evidence"].merge(tables["standards"][["standard_id", "domain"]], on="standard_id")
    month = ev["assessed_on"].dt.month
    ev = ev.assign(school_year=ev["assessed_on"].dt.year + (month >= 8),
                   term=np.where(month >= 8, "s1", "s2"))
    mastery = ev.groupby(["student_id", "scorer_id", "domain", "school_year", "term"])["score"].mean()
    g = tables["grades"].merge(tables["sections"][["section_id", "teacher_id", "domain", "school_year"]],
                               on="section_id")
    g = g.join(mastery.rename("mastery"), on=["student_id", "teacher_id", "domain", "school_year", "term"])
    g = g.dropna(subset=["mastery"])
    return g.assign(residual=g["grade"].map(POINTS) - (1.35 * g["mastery"] - 1.05))


def test_teacher_leniency_is_shared_by_all_students(realistic):
    tables, manifest = realistic
    g = _grade_residuals(tables)
    halves = np.random.default_rng(0).random(len(tables["students"])) < 0.5
    g["half"] = g["student_id"].map(dict(zip(tables["students"]["student_id"], halves)))
    by = g.groupby(["teacher_id", "half"])["residual"].agg(["mean", "size"]).unstack("half")
    by = by[(by["size"] >= 30).all(axis=1)]
    assert len(by) >= 10
    # One leniency per teacher: the two random halves of a teacher's students agree ...
    assert np.corrcoef(by[("mean", False)], by[("mean", True)])[0, 1] > 0.6
    # ... and follow the leniency written to the manifest.
    leniency = pd.Series(manifest["realistic"]["teacher_leniency"])
    teacher_mean = g.groupby("teacher_id")["residual"].mean()
    assert np.corrcoef(teacher_mean, leniency.reindex(teacher_mean.index))[0, 1] > 0.8
    # No group-specific bias: within a teacher, each correlated group's gap averages about 0.
    for column in {a for pair in manifest["realistic"]["correlated"] for a in pair} - {"race_ethnicity"}:
        g["focus"] = g["student_id"].map(_flag(tables, column)).eq("Y")
        gaps = g.groupby(["teacher_id", "focus"])["residual"].mean().unstack().dropna()
        assert abs((gaps[True] - gaps[False]).mean()) < 0.08, column


# --------------------------------------------------------------------------- manifest
def test_manifest_lists_the_real_main_effect_gaps(realistic):
    tables, manifest = realistic
    gaps = {(g["measure"], *next(iter(g["group"].items()))): g["gap"] for g in manifest["real_gaps"]}
    for column, effect in REALISTIC_MAIN_EFFECTS["pace"].items():
        assert gaps[("pace", column, "Y")] < -0.5 * abs(effect)
    for measure in ("discipline", "level4_access"):
        for column, effect in REALISTIC_MAIN_EFFECTS[measure].items():
            value, ratio = effect if isinstance(effect, tuple) else ("Y", effect)
            gap = gaps[(measure, column, value)]
            assert (gap > 1.1) if ratio > 1 else (gap < 0.95), (measure, column)
    # The listed discipline gaps are there in the data: observed risk per enrollment.
    e = tables["enrollments"].merge(tables["students"], on="student_id")
    oss = tables["discipline"].query("action == 'out_of_school_suspension'")
    e["oss"] = (e["student_id"] + e["school_year"].astype(str)).isin(
        oss["student_id"] + (oss["incident_date"].dt.year + (oss["incident_date"].dt.month >= 8)).astype(str))
    for column, effect in REALISTIC_MAIN_EFFECTS["discipline"].items():
        value = effect[0] if isinstance(effect, tuple) else "Y"
        inside = e[column] == value
        assert e.loc[inside, "oss"].mean() / e.loc[~inside, "oss"].mean() > 1.2, column



def test_real_gaps_name_a_blank_race_as_the_audit_does(realistic):
    # students without a race answer are the audit's "Unknown" group, and the latent factor that sorts
    # the others gives them a true gap too: left out, a flag on it was counted as false by calibrate
    tables, manifest = realistic
    labels = {g["group"]["race_ethnicity"] for g in manifest["real_gaps"] if "race_ethnicity" in g["group"]}
    assert "" not in labels
    blank = tables["students"]["race_ethnicity"].fillna("").eq("")
    assert blank.any()
    gaps = {g["measure"]: g["gap"] for g in manifest["real_gaps"] if g["group"].get("race_ethnicity") == "Unknown"}
    assert "discipline" in gaps and gaps["discipline"] < 1  # latent 0 against a positive mean: fewer removals


def test_manifest_records_school_effects_and_leniency(realistic):
    tables, manifest = realistic
    effects = manifest["realistic"]["school_effects"]
    assert set(effects) == set(REALISTIC_MAIN_EFFECTS)
    for values in effects.values():
        assert set(values) == set(tables["schools"]["school_id"])
    teachers = set(tables["sections"]["teacher_id"])
    assert teachers <= set(manifest["realistic"]["teacher_leniency"])


def test_planted_variant_records_six_inequities(planted, realistic):
    tables, manifest = planted
    names = {p["name"] for p in manifest["planted"]}
    assert names == {"hidden_intersection", "disproportionate_discipline", "level4_access",
                     "teacher_grade_bias", "harsh_rater", "unmet_need_school"}
    cell = next(p for p in manifest["planted"] if p["name"] == "hidden_intersection")
    assert cell["effect_type"] == "interaction" and len(cell["group"]) == 2
    # Same structure as the null: the same real gaps are listed.
    assert manifest["realistic"]["main_effects"] == realistic[1]["realistic"]["main_effects"]


# ------------------------------------------------------------------------ calibration
@pytest.fixture(scope="module")
def calibrate():
    spec = importlib.util.spec_from_file_location("calibrate_bench", REPO / "benchmarks" / "calibrate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass needs the module registered
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_classify_tells_planted_related_real_and_false(calibrate):
    manifest = {
        "planted": [{"name": "teacher_grade_bias", "group": {"g": "A"}, "where": {"teacher_id": "T1"}},
                    {"name": "harsh_rater", "group": None, "where": {"scorer_id": "R1"}}],
        "real_gaps": [{"measure": "grading", "group": {"f": "Y"}}],
        "realistic": {"school_effects": {"pace": {}}},
    }
    flags = pd.DataFrame({
        "unit": ["teacher", "teacher", "teacher", "district", "district", "scorer", "school", "school",
                 "district", "district"],
        "unit_id": ["T1", "T1", "T2", "", "", "R1", "S1", "S1", "", ""],
        "groups": [(("g", "A"),), (("g", "B"),), (("g", "A"),), (("f", "Yes"),), (("f", "No"),), (),
                   (), (), (("g", "A"),), (("g", "B"),)],
        "family": ["", "", "", "", "", "scoring", "pace", "discipline", "", ""],
    })
    out = calibrate.classify(flags, "grading", manifest)
    # the last two: the teacher's gap against A makes the district's gap for A real; B's is not
    assert out["verdict"].tolist() == ["planted", "related", "false", "real", "false", "planted", "real",
                                       "false", "related", "false"]
    assert out["planted"].tolist()[:1] == ["teacher_grade_bias"] and out["planted"][5] == "harsh_rater"


@pytest.mark.slow
def test_tiny_calibration_runs_and_reports_errors(calibrate, monkeypatch):
    def broken(audit):
        raise RuntimeError("boom")

    monkeypatch.setitem(calibrate.ANALYSES, "broken", calibrate.Analysis("pace", broken))
    names = ["scorer_severity", "oss_by_school", "teacher_scan_grades_against_evidence", "broken"]
    rows = calibrate.calibrate(k=1, students=300, jobs=1, analyses=names)
    assert sorted(set(rows["kind"])) == ["null", "planted", "realistic"]
    assert len(rows) == 3 * len(names)
    assert (rows.loc[rows["analysis"] == "broken", "error"] == "RuntimeError: boom").all()
    assert (rows.loc[rows["analysis"] != "broken", "error"] == "").all()
    # The independent null has no real gaps: every flag there is false.
    null = rows[rows["kind"] == "null"]
    assert (null["false"] == null["flags"]).all()
    severity = rows[(rows["kind"] == "planted") & (rows["analysis"] == "scorer_severity")].iloc[0]
    assert severity["target"] == "harsh_rater" and severity["found"] in (0, 1)
    table = calibrate.summarise(rows)
    assert set(names) == set(table.index)
    assert table.loc["broken", "error"] == "RuntimeError: boom"
    fdp = table.drop(index="broken")["fdp"]
    assert ((fdp >= 0) & (fdp <= 1)).all()
    text = calibrate.report(table, calibrate.overall(rows))
    assert "error: RuntimeError: boom" in text and "overall" in text
    # the audit-wide control only ever removes flags that each table's own control raised
    assert (rows["flags"] <= rows["flags_per_table"]).all() and (rows["false"] <= rows["false_per_table"]).all()
    assert "each table's own false discovery control alone" in (text := calibrate.report(
        table, calibrate.overall(rows), calibrate.overall(rows, "_per_table")))
    assert "{" not in text and "FDP " in text.splitlines()[-1]

