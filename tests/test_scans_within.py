"""Unit scans against each unit's own setting (``scan_rates(..., within=)``), tested where the truth is set.

A teacher scan that compares every teacher with the district rate repeats a
school's pattern once per teacher: where a whole school's students grow more
slowly (its intake, its schedule), each of its teachers looks slow. With
``within="school_id"`` a teacher is compared with the colleagues of the same
school, and the school's pattern stays the school scan's finding.
"""
from functools import partial

import numpy as np
import pandas as pd
import pytest

from equity_audit import scans, stats


def district(seed: int, *, school_rates, teachers_per_school: int = 5, students: tuple[int, int] = (30, 60),
             teacher_rate: dict | None = None) -> pd.DataFrame:
    """Student rows of teachers in schools: each student's outcome at the school's rate (or the teacher's)."""
    rng = np.random.default_rng(seed)
    teacher_rate = teacher_rate or {}
    rows = []
    for s, rate in enumerate(school_rates):
        for t in range(teachers_per_school):
            teacher = f"T{s}{t}"
            n = int(rng.integers(*students))
            rows.append(pd.DataFrame({"teacher_id": teacher, "school_id": f"S{s}",
                                      "below": (rng.random(n) < teacher_rate.get(teacher, rate)).astype(int)}))
    return pd.concat(rows, ignore_index=True)


def flagged(scan: pd.DataFrame) -> set:
    return set(scan.loc[scan["closer_look"], "teacher_id"])


def test_each_teacher_is_compared_with_the_other_teachers_of_the_school_by_hand():
    rows = pd.DataFrame({
        "teacher_id": ["A"] * 40 + ["B"] * 60 + ["C"] * 50 + ["D"] * 30 + ["D"] * 20,
        "school_id": ["S"] * 40 + ["S"] * 60 + ["R"] * 50 + ["S"] * 30 + ["R"] * 20,
        "below": [1] * 10 + [0] * 30 + [1] * 12 + [0] * 48 + [1] * 5 + [0] * 45 + [1] * 9 + [0] * 21
                 + [1] * 2 + [0] * 18})
    scan = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id", min_n=10)
    by = scan.set_index("teacher_id")
    # A: the other rows of school S are B's 60 and D's 30 there: 21 of 90
    assert by.loc["A", "target"] == pytest.approx(21 / 90)
    # C: the only other rows of school R are D's 20 there: 2 of 20
    assert by.loc["C", "target"] == pytest.approx(2 / 20)
    # D teaches in both: 30 rows at S's rate without D (22 of 100), 20 at R's without D (5 of 50)
    target_d = (30 * 22 / 100 + 20 * 5 / 50) / 50
    assert by.loc["D", "target"] == pytest.approx(target_d)
    # the variance is the pooled two-sample one in each school (the colleagues' rate is a chance count too),
    # weighted by D's share of rows there: z = (p - t) / sqrt(sum w^2 pbar(1 - pbar)(1/n_s + 1/rest_s))
    pooled_s, pooled_r = 31 / 130, 7 / 70
    var_d = ((30 / 50)**2 * pooled_s * (1 - pooled_s) * (1 / 30 + 1 / 100)
             + (20 / 50)**2 * pooled_r * (1 - pooled_r) * (1 / 20 + 1 / 50))
    z_d = (11 / 50 - target_d) / np.sqrt(var_d)
    assert by.loc["D", "z"] == pytest.approx(z_d)
    assert set(by["compared_within"]) == {"school_id"}
    assert scan.attrs["within"] == ["school_id"] and scan.attrs["units_without_comparator"] == 0
    # the district comparison is the same scan without ``within``: one target for all
    plain = scans.scan_rates(rows, unit="teacher_id", outcome="below", min_n=10)
    assert plain["target"].nunique() == 1 and "compared_within" not in plain


def test_a_school_that_is_slower_as_a_whole_is_not_each_teachers_finding():
    rates = [0.1, 0.1, 0.1, 0.1, 0.1, 0.4]
    against_district = against_school = 0
    for seed in range(20):
        rows = district(seed, school_rates=rates)
        slow_school = {t for t in rows["teacher_id"].unique() if t.startswith("T5")}
        plain = flagged(scans.scan_rates(rows, unit="teacher_id", outcome="below"))
        within = flagged(scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id"))
        against_district += bool(plain & slow_school)
        against_school += bool(within)
    # against the district the slower school's teachers are called out in most districts; against their
    # colleagues (no teacher differs from the others of the same school) in at most one district of 20
    assert against_district >= 10
    assert against_school <= 1


def test_a_teacher_apart_from_the_colleagues_is_found():
    rates = [0.12, 0.12, 0.2, 0.12, 0.3, 0.12]
    found = others = 0
    for seed in range(20):
        rows = district(100 + seed, school_rates=rates, students=(40, 70), teacher_rate={"T21": 0.55})
        called = flagged(scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id"))
        found += "T21" in called
        others += len(called - {"T21"})
    assert found >= 18
    # about 580 other teachers in the 20 districts: false-discovery control at 5% allows about one chance call
    # per district with a true one; the planted teacher is left out of the colleagues' comparators once
    # called out, so the colleagues do not look low beside them (they did in 3 of these districts before)
    assert others <= 3


def test_a_teacher_alone_in_a_school_shows_the_rate_untested():
    rows = district(7, school_rates=[0.1, 0.1], teachers_per_school=3)
    rows = pd.concat([rows, pd.DataFrame({"teacher_id": "ALONE", "school_id": "S9", "below": [1] * 30 + [0] * 10})])
    scan = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id").set_index("teacher_id")
    alone = scan.loc["ALONE"]
    assert alone["rate"] == pytest.approx(0.75) and not alone["suppressed"]
    assert np.isnan(alone["target"]) and np.isnan(alone["pvalue"]) and not alone["closer_look"]
    assert scan.attrs["units_without_comparator"] == 1
    assert scan.attrs["units_scanned"] == 6


def test_rare_outcomes_use_the_exact_test_against_each_units_own_target():
    rows = pd.DataFrame({"teacher_id": ["A"] * 40 + ["B"] * 200 + ["C"] * 40 + ["D"] * 200,
                         "school_id": ["S"] * 240 + ["R"] * 240,
                         "below": [1] * 4 + [0] * 36 + [1] * 2 + [0] * 198 + [1] * 1 + [0] * 39 + [1] * 20
                                  + [0] * 180})
    scan = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id",
                            overdispersion=False).set_index("teacher_id")
    # A: 4 of 40 against 2 of 200 among the colleagues (expected count 0.4): Fisher's mid-p of that 2x2
    # table, in which the colleagues' 2 of 200 are a chance count too, not the binomial against a known 1%
    assert bool(scan.loc["A", "exact"]) and not bool(scan.loc["D", "exact"])
    fisher = float(stats.midp_conditional_pvalue(4, 40, 2, 200))
    assert scan.loc["A", "pvalue"] == pytest.approx(fisher)
    assert fisher > 10 * float(stats.midp_binomial_pvalue(4, 40, 0.01))


def test_a_teacher_called_out_is_not_the_colleagues_comparator():
    ordinary = [pd.DataFrame({"teacher_id": f"O{i}", "school_id": f"R{i % 3}",
                              "below": [1] * 6 + [0] * 54}) for i in range(9)]
    school = pd.DataFrame({"teacher_id": ["HIGH"] * 60 + ["B"] * 60 + ["C"] * 60, "school_id": "S",
                           "below": [1] * 40 + [0] * 20 + ([1] * 6 + [0] * 54) * 2})
    rows = pd.concat([*ordinary, school], ignore_index=True)
    scan = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id").set_index("teacher_id")
    # first pass: B's colleagues are HIGH and C, 46 of 120 (38%) against B's 10%, so B looks low; HIGH is
    # called out, and without HIGH B is compared with C alone: the same 10%
    assert bool(scan.loc["HIGH", "closer_look"])
    assert scan.loc["B", "target"] == pytest.approx(0.1) and not scan.loc[["B", "C"], "closer_look"].any()
    assert scan.attrs["excluded_from_comparators"] == 1
    # HIGH's own comparator is still B and C
    assert scan.loc["HIGH", "target"] == pytest.approx(0.1)


def test_findings_and_the_count_sentence_say_what_a_teacher_was_compared_with(tmp_path):
    from equity_audit.publish import findings, narrative

    rows = pd.concat([district(3, school_rates=[0.1, 0.1], teachers_per_school=4, teacher_rate={"T11": 0.6}),
                      pd.DataFrame({"teacher_id": "ALONE", "school_id": "S9", "below": [1] * 3 + [0] * 27}),
                      pd.DataFrame({"teacher_id": "FEW", "school_id": "S1", "below": [0] * 4})], ignore_index=True)
    scan = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id")
    assert scan.loc[scan["closer_look"], "teacher_id"].tolist() == ["T11"]
    sentence = narrative.count_sentence(scan, units="teachers", measure="the share below pace")
    assert sentence.startswith("10 teachers were scanned for the share below pace; 1 had fewer students than the "
                               "minimum and were not assessed. 1 had no other teacher in their school to be compared "
                               "with. 1 of the 8 assessed warrant a closer look")
    (tmp_path / "confidential").mkdir()
    scan.to_csv(tmp_path / "confidential" / "teacher_scan_below_pace.csv", index=False)
    [found] = [f for f in findings.build_findings(tmp_path)["confidential"] if f.unit_id == "T11"]
    assert "against 9.3% for the other teachers' students in the same school: they fare worse" in found.statement
    assert found.comparator == "the other teachers' students in the same school"
    assert found.comparator_estimate == pytest.approx(scan.set_index("teacher_id").loc["T11", "target"])


def test_a_students_domains_count_as_one_student_with_cluster():
    once = district(11, school_rates=[0.15, 0.15, 0.15], teachers_per_school=4)
    once["student_id"] = np.arange(len(once))
    thrice = pd.concat([once] * 3, ignore_index=True)  # each student the same in three domains
    plain = scans.scan_rates(once, unit="teacher_id", outcome="below", within="school_id").set_index("teacher_id")
    clustered = scans.scan_rates(thrice, unit="teacher_id", outcome="below", within="school_id",
                                 cluster="student_id").set_index("teacher_id")
    # three copies of one student are worth one student: with G students (3G rows), the cluster-robust variance
    # G/(G - 1) * sum (y_j - mean)^2 / G^2 over the independent one sum (y_j - mean)^2 / ((3G - 1) G)
    students = once.groupby("teacher_id").size().reindex(clustered.index)
    assert (clustered["n"].to_numpy() == 3 * students.to_numpy()).all()
    assert np.allclose(clustered["design_effect"], (3 * students - 1) / (students - 1))
    assert np.allclose(clustered["z"], plain["z"], atol=0.15)
    # the funnel of schools too, and its empirical-Bayes columns: centred on the district rate, as for one copy
    schools = scans.scan_rates(thrice, unit="school_id", outcome="below", cluster="student_id")
    one_copy = scans.scan_rates(once, unit="school_id", outcome="below")
    for column in ("z", "shrunk_rate", "prob_above"):
        assert np.allclose(schools[column], one_copy[column], atol=0.02), column
    unclustered = scans.scan_rates(thrice, unit="teacher_id", outcome="below", within="school_id")
    assert (unclustered["z"].abs().to_numpy() > 1.6 * plain["z"].abs().to_numpy()).sum() >= 8


def test_clustered_z_scores_have_the_spread_of_chance():
    """No teacher differs; a student's propensity holds across their three domains. Over 20 districts the
    z-scores of the teachers should spread like a standard normal's: with each domain counted as a student
    they spread wider (the funnel's overdispersion then takes some of it as if teachers differed)."""
    plain, clustered = [], []
    for seed in range(20):
        rng = np.random.default_rng(300 + seed)
        students = district(300 + seed, school_rates=[0.12] * 5, students=(20, 35))
        students["student_id"] = np.arange(len(students))
        propensity = rng.beta(0.3, 2.2, len(students))  # mean 0.12, within-student correlation 0.29
        rows = pd.concat([students.assign(domain=d, below=(rng.random(len(students)) < propensity).astype(int))
                          for d in range(3)], ignore_index=True)
        scan = partial(scans.scan_rates, rows, unit="teacher_id", outcome="below", within="school_id")
        plain.append(scan()["z"])
        clustered.append(scan(cluster="student_id")["z"])
    assert 0.85 < pd.concat(clustered).std() < 1.15 < pd.concat(plain).std()


def test_clustered_units_that_do_not_differ_are_not_likely_above_the_district():
    # six schools at exactly 15%, each student the same in three domains: the units do not differ at all, so
    # the empirical-Bayes prior pools fully; its centre must be the district rate, not the rate of the
    # rounded effective counts (9 of 59 = 15.3%, which put every school "above" with probability 1)
    once = pd.DataFrame({"school_id": np.repeat([f"S{i}" for i in range(6)], 60),
                         "below": np.tile([1] * 9 + [0] * 51, 6)})
    once["student_id"] = np.arange(len(once))
    scan = scans.scan_rates(pd.concat([once] * 3, ignore_index=True), unit="school_id", outcome="below",
                            cluster="student_id")
    plain = scans.scan_rates(once, unit="school_id", outcome="below")
    assert np.allclose(scan["shrunk_rate"], 0.15) and np.allclose(plain["shrunk_rate"], 0.15)
    assert (scan["prob_above"] == plain["prob_above"]).all() and (scan["prob_above"] < 0.9).all()


def test_departmental_teachers_are_compared_with_the_colleagues_of_their_domain():
    # a high school of departments: every student is below pace in mathematics more often (30%) than in
    # English (8%), in every school; no teacher differs from the colleagues of the same department
    rng = np.random.default_rng(5)
    parts = []
    for school in ("H1", "H2"):
        for domain, rate in (("math", 0.30), ("ela", 0.08)):
            for t in range(3):
                n = 200
                parts.append(pd.DataFrame({"teacher_id": f"{school}-{domain}-{t}", "school_id": school,
                                           "domain": domain, "below": (rng.random(n) < rate).astype(int)}))
    rows = pd.concat(parts, ignore_index=True)
    by_school = scans.scan_rates(rows, unit="teacher_id", outcome="below", within="school_id",
                                 overdispersion=False)
    by_department = scans.scan_rates(rows, unit="teacher_id", outcome="below", within=["school_id", "domain"],
                                     overdispersion=False)
    # against the whole school a mathematics teacher's colleagues are mostly English teachers, and the other
    # way round: the subject's difference is called out as teachers'
    assert by_school["closer_look"].sum() >= 3
    assert not by_department["closer_look"].any()
    assert set(by_department["compared_within"]) == {"school_id, domain"}
    from equity_audit.publish import narrative
    assert narrative.setting_words("school_id, domain") == "school and domain"


def test_a_missing_setting_column_is_named():
    rows = district(1, school_rates=[0.1, 0.1])
    with pytest.raises(ValueError, match="within names 'domain', which the data has no column for"):
        scans.scan_rates(rows, unit="teacher_id", outcome="below", within=["school_id", "domain"])
