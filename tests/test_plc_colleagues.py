"""PLCs set against the other PLCs of their own school (``scans.against_school_colleagues``), tested where the truth is set.

A PLC scan against the district repeats a school's pattern once per PLC: where
a whole school's students grow more slowly, each of its PLCs lies outside the
district's funnel. The PLC is then also compared with its school's other PLCs,
and its finding says which it is: a PLC much like the rest of its school, or
one that differs from its colleagues.
"""
import numpy as np
import pandas as pd
import pytest

from equity_audit import scans
from equity_audit.publish import findings, narrative

SCHOOLS, PLCS_PER_SCHOOL = 8, 3


def district(seed: int, *, slow_school: int | None = None, slow_plc: str | None = None, base: float = 0.12,
             slow: float = 0.30, students: tuple[int, int] = (80, 140)) -> pd.DataFrame:
    """Student-domain rows of PLCs in schools; two domains a student, the slow ones at ``slow``."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in range(SCHOOLS):
        for k in range(PLCS_PER_SCHOOL):
            plc, n = f"P{s}{k}", int(rng.integers(*students))
            rate = slow if s == slow_school or plc == slow_plc else base
            # a student's two domains share the student's propensity: clustered, as in real data
            lean = rng.normal(0, 0.8, n)
            p = 1 / (1 + np.exp(-(np.log(rate / (1 - rate)) + np.repeat(lean, 2))))
            parts.append(pd.DataFrame({"plc_id": plc, "school_id": f"S{s}",
                                       "student_id": np.repeat([f"{plc}-{i}" for i in range(n)], 2),
                                       "below": (rng.random(2 * n) < p).astype(int)}))
    return pd.concat(parts, ignore_index=True)


def within(data: pd.DataFrame, min_n: int = 10) -> pd.DataFrame:
    return scans.scan_rates(data, unit="plc_id", outcome="below", within="school_id", cluster="student_id",
                            min_n=min_n)


def colleagues(data: pd.DataFrame, min_n: int = 10) -> pd.DataFrame:
    scan = scans.scan_rates(data, unit="plc_id", outcome="below", cluster="student_id", min_n=min_n)
    return scans.against_school_colleagues(scan, data, unit="plc_id", outcome="below", colleagues=within(data, min_n),
                                           cluster="student_id", min_n=min_n).set_index("plc_id")


def test_a_slow_school_s_plcs_are_marked_against_the_district_and_said_to_be_like_their_school():
    marked = alike = 0
    for seed in range(20):
        scan = colleagues(district(seed, slow_school=2))
        school = scan.loc[[f"P2{k}" for k in range(PLCS_PER_SCHOOL)]]
        marked += int(school["closer_look"].sum())
        alike += int((school["closer_look"] & school["vs_school_colleagues"].eq("similar")).sum())
    assert marked >= 0.5 * 20 * PLCS_PER_SCHOOL  # the district scan finds most (its power is not tested here)
    assert alike >= 0.9 * marked  # and nearly every one is said to share its school's pattern


def test_a_plc_that_differs_from_its_colleagues_is_found_and_said_to_differ_where_marked():
    found = marked = 0
    for seed in range(20):
        data = district(seed, slow_plc="P51")
        in_school = within(data).set_index("plc_id").loc["P51"]
        higher = bool(in_school["closer_look"]) and in_school["rate"] > in_school["target"]
        scan = colleagues(data).loc["P51"]
        found, marked = found + higher, marked + bool(scan["closer_look"])
        # where the district scan marks it too, its finding says what the school scan found
        assert scan["vs_school_colleagues"] == ("" if not scan["closer_look"] else "higher" if higher else "similar")
    assert found >= 16 and marked >= 10


def test_a_null_district_has_few_plcs_differing_from_their_colleagues():
    differing = [int(within(district(seed))["closer_look"].sum()) for seed in range(20)]
    assert sum(d > 0 for d in differing) <= 3  # false-discovery control within the school scan


def test_words_only_for_units_marked_against_the_district():
    scan = colleagues(district(2, slow_plc="P51"))
    assert (scan.loc[~scan["closer_look"], "vs_school_colleagues"] == "").all()


def test_no_word_against_colleagues_fewer_than_min_n():
    data = district(0, slow_plc="P00")
    assert colleagues(data).loc["P00", "vs_school_colleagues"] == "higher"
    # school 0 keeps P00 and a PLC of 4 students (8 rows, withheld): saying P00 differs would tell of those 4
    data = data[(data["school_id"] != "S0") | data["plc_id"].eq("P00")
                | data["student_id"].isin([f"P01-{i}" for i in range(4)])]
    scan = colleagues(data)
    assert scan.loc["P00", "closer_look"] and scan.loc["P00", "vs_school_colleagues"] == ""


def test_a_plc_alone_in_its_school_is_not_compared():
    data = district(1, slow_school=3)
    data = data[(data["school_id"] != "S3") | data["plc_id"].eq("P30")]
    scan = colleagues(data)
    assert scan.loc["P30", "closer_look"] and scan.loc["P30", "vs_school_colleagues"] == ""


def _funnel_row(words: str, rate: float = 0.30) -> pd.DataFrame:
    return pd.DataFrame({"plc_id": ["PLC-7"], "n": [120], "rate": [rate], "target": [0.12], "low": [rate - 0.08],
                         "high": [rate + 0.08], "qvalue": [0.001], "events": [36], "closer_look": [True],
                         "vs_school_colleagues": [words]})


@pytest.mark.parametrize("words, said", [
    ("similar", "the other PLCs show much the same: the pattern may be the school's rather than this PLC's"),
    ("higher", "Within its school too, the share below pace is higher than in the other PLCs."),
    ("lower", "is lower than in the other PLCs: the school as a whole differs more."),
])
def test_a_plc_finding_says_how_it_compares_with_its_school(words, said):
    (finding,) = findings._funnel(findings.REGISTRY["below_pace_by_plc"], _funnel_row(words))
    assert said in finding.statement
    assert finding.statement.startswith("PLC-7:")  # not "PLC PLC-7"
    assert finding.details["vs_school_colleagues"] == words
    assert finding.comparator == "the district rate" and finding.comparator_estimate == pytest.approx(0.12)


def test_a_plc_finding_without_the_comparison_says_nothing_of_it():
    (finding,) = findings._funnel(findings.REGISTRY["below_pace_by_plc"], _funnel_row(""))
    assert "Within its school" not in finding.statement and "vs_school_colleagues" not in finding.details


def test_the_notebook_sentence_counts_without_naming():
    data = district(4, slow_school=2, slow_plc="P51")
    in_school, scan = within(data), colleagues(data).reset_index()
    sentence = narrative.colleagues_sentence(scan, in_school, units="PLCs")
    assert not any(plc in sentence for plc in scan["plc_id"])
    assert sentence.startswith(f"Set against the other PLCs of their own school, {int(in_school['closer_look'].sum())} of ")


def test_a_plc_differing_from_its_colleagues_is_a_confidential_finding():
    data = district(5, slow_plc="P51")
    in_school = within(data)
    (finding,) = findings._funnel(findings.REGISTRY["plc_scan_below_pace_in_school"],
                                  in_school[in_school["plc_id"].eq("P51") & in_school["closer_look"]])
    assert finding.confidential and finding.direction == "worse"
    assert finding.comparator == "the other PLCs' students in the same school"
    (count,) = findings._count_findings([finding])
    assert not count.confidential and "P51" not in count.statement
    assert count.statement.startswith("1 PLC warrants a closer look") and "with the PLC." in count.statement


@pytest.mark.parametrize("words, rate, ending", [
    ("similar", 0.30, "they fare worse, like the other PLCs of its school."),
    ("higher", 0.30, "they fare worse, also against the other PLCs of its school."),
    ("lower", 0.30, "they fare worse, though better than the other PLCs of its school."),
    ("", 0.30, "they fare worse."),
    ("lower", 0.05, "they fare better, also against the other PLCs of its school."),
])
def test_the_summary_sentence_says_how_a_plc_compares_with_its_school(words, rate, ending):
    from equity_audit.publish import summary

    (finding,) = findings._funnel(findings.REGISTRY["below_pace_by_plc"], _funnel_row(words, rate))
    assert summary.sentence(finding.as_dict()).endswith(ending)


# --- a group's pace gap in one PLC against the same gap in the other PLCs (patterns.unit_pace_gaps) ---------


def plc_district(seed: int, *, plc_gap: float, shared_gap: float = -0.15, plcs: int = 8, per_plc: int = 60):
    """Students of ``plcs`` PLCs (a section a domain each, the latest school year) whose English learners
    grow ``shared_gap`` levels a year slower everywhere, and ``plc_gap`` more in PLC P3."""
    from test_pace_school_year import DATES, SCHOOL_TIME, enrolled, simulated

    rng = np.random.default_rng(seed)
    n = plcs * per_plc
    levels = simulated(seed, n=n, noise=0.1)
    index = levels["student_id"].str[1:].astype(int).to_numpy()
    el_student = rng.random(n) < 0.3
    plc_of = np.arange(n) // per_plc
    slower = np.where(el_student, shared_gap + np.where(plc_of == 3, plc_gap, 0.0), 0.0)
    t = np.select([levels["as_of"] == d for d in DATES], SCHOOL_TIME)
    # the slower growth only in the latest school year (t beyond 1), the year the PLC is credited with
    levels["performance_level"] += slower[index] * np.clip(t - 1, 0, None)
    ids = [f"s{i:05d}" for i in range(n)]
    students = pd.DataFrame({"student_id": ids, "english_learner": el_student, "low_income": rng.random(n) < 0.4})
    sections = pd.DataFrame({"section_id": [f"{p}-{d}" for p in range(plcs) for d in ("ela", "math")],
                             "school_year": 2025, "teacher_id": [f"T{p}" for p in range(plcs) for _ in range(2)],
                             "domain": ["ela", "math"] * plcs, "plc_id": [f"P{p}" for p in range(plcs) for _ in range(2)]})
    rosters = pd.DataFrame({"student_id": np.repeat(ids, 2),
                            "section_id": [f"{p}-{d}" for p in plc_of for d in ("ela", "math")]})
    return {"levels": levels, "students": students, "sections": sections, "rosters": rosters,
            "enrollments": enrolled(levels)}


def plc_gaps(district) -> pd.DataFrame:
    from equity_audit.questions.patterns import unit_pace_gaps

    return unit_pace_gaps(district, pd.DataFrame({"school_year": [2025]}), ["english_learner", "low_income"],
                          unit="plc_id", min_n=10)


def test_a_plc_where_one_group_grows_more_slowly_than_the_same_group_elsewhere_is_found():
    found = others = 0
    for seed in range(10):
        gaps = plc_gaps(plc_district(seed, plc_gap=-0.5))
        flagged = gaps[gaps["closer_look"].astype(bool)]
        found += bool(((flagged["plc_id"] == "P3") & (flagged["subgroup"] == "english_learner")).any())
        others += int((flagged["plc_id"] != "P3").sum())
    assert found >= 8
    assert others <= 1


def test_a_gap_every_plc_shares_is_not_called_out_in_each():
    flagged = [int(plc_gaps(plc_district(seed, plc_gap=0.0))["closer_look"].astype(bool).sum()) for seed in range(10)]
    assert sum(f > 0 for f in flagged) <= 1


def test_the_plc_gap_scan_is_counted_in_the_notebook_and_its_flags_are_confidential_findings():
    gaps = plc_gaps(plc_district(1, plc_gap=-0.5))
    sentence = narrative.count_sentence(gaps, units="PLC-by-group comparisons", measure="the pace gap")
    assert sentence.endswith("for a conversation with the PLC.") and "P3" not in sentence
    flagged = gaps[gaps["closer_look"].astype(bool)]
    found = findings._unit_gap(findings.REGISTRY["plc_scan_pace_gaps"], flagged)
    assert found and all(f.confidential and f.unit_id == "P3" for f in found)
    assert found[0].comparator == "other students of the same PLC" and found[0].direction == "worse"


def _drawn(fig, gid: str) -> int:
    return sum(len(c.get_offsets()) for c in fig.axes[0].collections if c.get_gid() == gid)


def test_the_funnel_draws_the_plcs_like_their_school_apart_and_its_alt_text_says_how_many():
    import matplotlib.pyplot as plt

    from equity_audit.publish import plots

    seed = next(s for s in range(20) if colleagues(district(s, slow_school=2, slow_plc="P51"))
                .loc[lambda t: t["closer_look"], "vs_school_colleagues"].nunique() == 2)
    data = district(seed, slow_school=2, slow_plc="P51")
    scan = colleagues(data).reset_index()
    marked = scan[scan["closer_look"]]
    alike = int(marked["vs_school_colleagues"].eq("similar").sum())
    fig = plots.funnel(scan, label="plc_id", ylabel="Share below pace")
    try:
        assert _drawn(fig, "outside_like_school") == alike >= 1
        assert _drawn(fig, "outside") + alike == len(marked)  # the PLC that differs from its colleagues: filled
    finally:
        plt.close(fig)
    alt = narrative.funnel_alt(scan, unit="plc_id", units="PLCs", measure="the share below pace")
    assert f"{alike} of them fare{'s' if alike == 1 else ''} like the other PLCs of" in alt
    assert narrative.funnel_alt(scan[~scan["closer_look"]], unit="plc_id", units="PLCs",
                                measure="the share below pace").endswith("No PLC is outside the limits beyond what "
                                                                         "chance and ordinary variation explain.")
