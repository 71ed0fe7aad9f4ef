"""The executive summary: which findings it picks, in what order, and how it says them.

Every finding here is built by the test, so the truth (who fares worse, by how much, for how
many students) is set, not read from the bundled district.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from equity_audit.publish import summary


def finding(name: str, *, affected=50, qvalue=0.01, difference=-0.2, direction="worse", source="t1",
            measure="pace", label="average pace (levels a year)", estimate=0.6, comparator_estimate=0.8, n=100,
            subgroups=("english_learner",), groups=("Yes",), mirror=False, actionable=True, confidential=False,
            unit_name=None, comparator="all other students", unit="district", kind="gap") -> dict:
    return {"id": name, "section": "unmet_need", "unit": unit, "measure": measure, "measure_label": label, "source": source,
            "subgroups": list(subgroups), "groups": list(groups), "unit_name": unit_name, "n": n,
            "estimate": estimate, "comparator": comparator, "comparator_estimate": comparator_estimate,
            "difference": difference, "qvalue": qvalue, "students_affected": affected, "direction": direction,
            "confidential": confidential, "kind": kind, "statement": f"statement {name}",
            "details": {"mirror": mirror, "actionable": actionable}}


def test_ranked_by_students_affected_then_certainty_then_size():
    findings = [finding("few", affected=10, source="a", groups=("a",)),
                finding("many", affected=90, source="b", groups=("b",)),
                finding("sure", affected=40, qvalue=0.001, source="c", groups=("c",)),
                finding("unsure", affected=40, qvalue=0.04, source="d", groups=("d",)),
                finding("big", affected=40, qvalue=0.04, difference=-0.5, source="e", groups=("e",))]
    order = [f["id"] for f in summary.top_findings(findings)]
    assert order == ["many", "sure", "big", "unsure", "few"]


def test_only_published_actionable_worse_findings_with_a_number_enter():
    findings = [finding("kept"), finding("strength", direction="better"), finding("neutral", direction="neutral"),
                finding("mirror", mirror=True), finding("tiny", actionable=False),
                finding("secret", confidential=True), finding("coded", estimate=None),
                finding("no n", n=None)]
    assert [f["id"] for f in summary.top_findings(findings)] == ["kept"]
    assert [f["id"] for f in summary.top_findings(findings, "better")] == ["strength"]


def test_at_most_seven_findings_and_two_per_table():
    findings = [finding(f"a{i}", affected=100 - i, source="same", groups=(f"a{i}",)) for i in range(5)]
    findings += [finding(f"b{i}", affected=50 - i, source=f"other{i}", groups=(f"b{i}",)) for i in range(10)]
    top = summary.top_findings(findings)
    assert len(top) == summary.MAX_FINDINGS == 7
    assert [f["id"] for f in top[:3]] == ["a0", "a1", "b0"]
    assert sum(f["source"] == "same" for f in top) == summary.PER_SOURCE == 2


def test_at_most_three_findings_from_one_question_while_another_has_findings():
    """Gaps that span whole groups (the share of evidence at DOK 3-4) count every student as affected;
    they leave room for the other questions' findings, and fill it only when there are none."""
    asked = [dict(finding(f"bias{i}", affected=900 - i, source=f"s{i}", groups=(f"g{i}",)), question=3)
             for i in range(5)]
    others = [dict(finding("access", affected=100, source="a", groups=("a",)), question=2),
              dict(finding("need", affected=50, source="u", groups=("u",)), question=1)]
    top = [f["id"] for f in summary.top_findings(asked + others, limit=5)]
    assert top == ["bias0", "bias1", "bias2", "access", "need"]
    assert [f["id"] for f in summary.top_findings(asked, limit=5)] == [f"bias{i}" for i in range(5)]
    assert [f["id"] for f in summary.top_findings(asked + others, limit=7)][5:] == ["bias3", "bias4"]


def test_at_most_two_findings_about_one_group():
    findings = [finding(f"same{i}", affected=100 - i, source=f"s{i}", measure=f"m{i}", label=f"measure {i}")
                for i in range(4)]
    findings += [finding("else", affected=10, source="other", groups=("No",))]
    assert [f["id"] for f in summary.top_findings(findings)] == ["same0", "same1", "else"]


def test_the_first_intersection_and_school_finding_have_a_place_in_rank_order():
    gaps = [finding(f"gap{i}", affected=500 - i, source=f"t{i}", groups=(f"g{i}",)) for i in range(9)]
    crossed = [finding(f"crossed{i}", affected=30 - i, source="crossed", kind="beyond_main_effects",
                       subgroups=("disability", "english_learner"), groups=(f"x{i}", "Yes")) for i in range(2)]
    school = finding("school", affected=20, source="schools", unit="school", unit_name="North School",
                     subgroups=(), groups=())
    top = [f["id"] for f in summary.top_findings(gaps + crossed + [school])]
    assert top == ["gap0", "gap1", "gap2", "gap3", "gap4", "crossed0", "school"]
    few = [f["id"] for f in summary.top_findings(gaps + crossed + [school], limit=2)]
    assert few == ["gap0", "crossed0"]  # more kinds than places: the kinds by rank


def test_a_group_and_measure_flagged_by_two_tables_is_said_once():
    findings = [finding("latest", affected=90, source="by_subgroup"), finding("all_years", affected=95, source="all_years"),
                finding("other", affected=10, source="c", groups=("No",))]
    assert [f["id"] for f in summary.top_findings(findings)] == ["all_years", "other"]


def test_sentence_says_number_n_comparison_and_direction():
    worse = finding("w", measure="two_plus_behind", label="the share two or more levels behind", estimate=0.58,
                    comparator_estimate=0.17, n=1187, difference=0.41)
    assert summary.sentence(worse) == ("English learners: the share two or more levels behind is 58% (n = 1,187) "
                                       "against 17% for all other students; they fare worse.")
    better = finding("b", direction="better", unit_name="North School", subgroups=(), groups=(), estimate=1.25,
                     comparator_estimate=0.9, comparator="students in other schools")
    assert summary.sentence(better) == ("North School: average pace (levels a year) is 1.25 (n = 100) against "
                                        "0.90 for students in other schools; they fare better.")


def test_sentence_of_an_intersection_and_of_a_group_in_a_school():
    crossed = finding("x", subgroups=("disability", "english_learner"), groups=("Yes", "Yes"), estimate=0.5,
                      comparator_estimate=1.3, comparator="what the groups' separate differences predict")
    assert summary.sentence(crossed).startswith(
        "Students with disabilities who are also English learners: average pace (levels a year) is 0.50 (n = 100) "
        "against the 1.30 that the groups' separate differences predict")
    in_school = finding("s", unit_name="West High", measure="access_level4", label="access to Level-4 work",
                        estimate=0.05, comparator_estimate=0.2, comparator="other students of the same school")
    assert summary.sentence(in_school).startswith("West High, English learners: access to Level-4 work is 5.0%")


def _run(tmp_path, findings, ledger=None, analyses=None):
    (tmp_path / "tables").mkdir()
    (tmp_path / "findings.json").write_text(json.dumps({"findings": findings}), encoding="utf-8")
    if ledger is not None:
        ledger.to_csv(tmp_path / "tables" / "ledger.csv", index=False)
    if analyses is not None:
        analyses.to_csv(tmp_path / "tables" / "analyses_available.csv", index=False)
    return tmp_path


def test_data_provided_and_analyses_not_run(tmp_path):
    ledger = pd.DataFrame({"table": ["students", "state_comparison", "survey"], "provided": [True, False, True]})
    analyses = pd.DataFrame({"Section": ["Bias", "Bias"], "Analysis": ["Climate survey", "Calibration"],
                             "Runs": ["Yes", "No"], "Missing": ["", "the calibration table"]})
    data = summary.data_provided(_run(tmp_path, [], ledger, analyses))
    assert data == {"provided": ["Students", "Survey"], "not_provided": ["State comparison"],
                    "not_run": ["Calibration (needs the calibration table)"]}


def test_summary_html_holds_findings_strengths_chart_and_data(tmp_path):
    findings = [finding(f"w{i}", affected=90 - i, source=f"s{i}", estimate=0.5 + i / 100, groups=(f"g{i}",))
                for i in range(4)]
    findings += [finding("strong", direction="better", subgroups=("disability",), estimate=1.2)]
    findings[0]["subgroups"], findings[0]["groups"] = ["race_ethnicity"], ["<script>alert(1)</script>"]
    ledger = pd.DataFrame({"table": ["students", "programs"], "provided": [True, False]})
    soup = BeautifulSoup(summary.summary_html(_run(tmp_path, findings, ledger)), "html.parser")
    items = [li.get_text() for li in soup.select("ol")[0].find_all("li")]
    assert len(items) == 4 and "they fare worse" in items[0] and "(n = 100)" in items[0]
    assert not soup.find("script") and "<script>" in items[0], "data values are escaped"
    assert "Students with disabilities" in soup.select("ol")[1].get_text()
    image = soup.select_one("figure img")
    assert image["src"].startswith("data:image/png;base64,") and "90" in image["alt"]
    assert "Programs" in soup.get_text() and "Every analysis of the audit ran" in soup.get_text()


def test_summary_without_findings_says_so(tmp_path):
    text = BeautifulSoup(summary.summary_html(_run(tmp_path, [])), "html.parser").get_text()
    assert "not proof of equity" in text and "No group fares better" in text


@pytest.mark.parametrize("count", [1, 3])
def test_chart_has_one_bar_per_finding(count):
    import base64
    import io

    from PIL import Image

    png, alt = summary.summary_chart([finding(f"f{i}", affected=10 * (i + 1)) for i in range(count)])
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    assert image.size[0] > 400 and f"{10 * count}" in alt and f"finding {count}" in alt


def test_a_finding_that_counts_no_students_has_no_bar():
    import base64
    import io

    from PIL import Image

    agreement = finding("agreement", affected=None, subgroups=(), groups=(), label="agreement between scorers")
    png, alt = summary.summary_chart([finding("a", affected=30), agreement, finding("b", affected=50)])
    assert Image.open(io.BytesIO(base64.b64decode(png))).size[0] > 400
    assert alt.startswith("Bar chart of the students affected by 2 of the 3 findings") and "finding 3" in alt
    assert summary.summary_chart([agreement]) is None


def test_a_finding_about_no_group_reads_as_the_measure_falling_short_and_waits_its_rank():
    agreement = finding("agreement", affected=None, subgroups=(), groups=(), kind="discordance", source="calibration",
                        label="agreement between scorers of the same work (Krippendorff's alpha)", estimate=0.58,
                        comparator_estimate=0.667, comparator="the threshold for tentative conclusions", n=40)
    assert summary.sentence(agreement) == (
        "Agreement between scorers of the same work (Krippendorff's alpha) is 0.58 (n = 40) against 0.67 for the "
        "threshold for tentative conclusions; it falls short.")
    gaps = [finding(f"gap{i}", affected=500 - i, source=f"t{i}", groups=(f"g{i}",)) for i in range(9)]
    assert "agreement" not in [f["id"] for f in summary.top_findings(gaps + [agreement])]
    assert [f["id"] for f in summary.top_findings(gaps[:2] + [agreement])] == ["gap0", "gap1", "agreement"]



def test_findings_all_left_out_leave_an_empty_summary():
    assert summary.top_findings([finding("tiny", actionable=False)]) == []
    assert summary.top_findings([finding("strength", direction="better")]) == []
    same = [finding(f"s{i}", source="one", measure="pace") for i in range(3)]  # one said, the rest repeats
    assert [f["id"] for f in summary.top_findings(same)] == ["s0"]
