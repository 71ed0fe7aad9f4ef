"""Words a reader sees: display names from the one dictionary, coded values, and direction in plain words.

Tables are built here (no group, value or school of the bundled district); the run-level
checks use the session's ``demo_run``.
"""
from __future__ import annotations

import pandas as pd
import pytest

from equity_audit.data.dictionary import display_name
from equity_audit.publish import narrative


def test_intersection_table_names_subgroups_by_display_name_and_keeps_the_key():
    scan = pd.DataFrame({
        "low_income": ["Y"], "race_ethnicity": ["Group Q"], "columns": ["race_ethnicity × low_income"],
        "intersection": ["race ethnicity: Group Q × low income: Y"], "beyond_main_effects": [True],
        "n": [40], "estimate": [0.8], "low": [0.6], "high": [0.9], "predicted": [1.1], "comparator_estimate": [1.0]})
    shown = narrative.intersection_table(scan, percent=False)
    assert shown.loc[0, "Intersection"] == "Race/ethnicity: Group Q × Low income: Yes"
    assert scan.loc[0, "intersection"] == "race ethnicity: Group Q × low income: Y"  # the key is untouched


def test_coded_yes_no_reads_as_the_group_and_labels_come_from_the_dictionary():
    assert narrative.group_words("low_income", "Y") == "students from low-income families"
    assert narrative.group_words("english_learner", "False") == "students not identified as English learners"
    assert narrative.group_words("group_newcomer", "Y") == "students marked “Newcomer”"
    assert narrative.group_words("group_newcomer", "N") == "students not marked “Newcomer”"
    assert narrative.label("race_ethnicity") == display_name("race_ethnicity") == "Race/ethnicity"
    table = pd.DataFrame({"subgroup": ["low_income"], "group": ["Yes"], "n": [20], "estimate": [0.5]})
    assert narrative.chart_table(table).loc[0, "subgroup"] == "Low income"


def test_display_table_reads_coded_flags_as_yes_no():
    table = pd.DataFrame({"subgroup": ["group_newcomer", "group_newcomer", "race_ethnicity"], "group": ["Y", "N", "N"],
                          "n": [30, 40, 50], "estimate": [0.5, 0.4, 0.3], "low": [0.3, 0.2, 0.2],
                          "high": [0.7, 0.6, 0.4], "comparator_estimate": [0.4, 0.5, 0.4],
                          "difference": [0.1, -0.1, -0.1], "flagged": [False] * 3, "suppressed": [False] * 3})
    shown = narrative.display_table(table, percent=True)
    assert shown["Subgroup"].tolist() == ["Newcomer", "Newcomer", "Race/ethnicity"]
    assert shown["Group"].tolist() == ["Yes", "No", "N"]  # a district's own category "N" stays as written


# --- a whole run -----------------------------------------------------------------------------------

def _visible_text(report_html: str) -> str:
    """The report as a reader sees it: no tags, scripts, styles, code or the settings block."""
    import html
    import re

    text = re.sub(r"<(script|style|code|pre)\b[^>]*>.*?</\1>", " ", report_html, flags=re.S | re.I)
    text = re.sub(r"<details\b[^>]*>\s*<summary>[^<]*settings.*?</details>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<(section|div|table)\b[^>]*(id|class)=\"[^\"]*settings[^\"]*\"[^>]*>.*?</\1>", " ", text,
                  flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


@pytest.mark.slow
def test_report_text_has_no_raw_field_names_or_measure_keys(demo_run):
    import re

    from equity_audit.config import Config
    from equity_audit.data.contract import TABLES
    from equity_audit.data.dictionary import MEASURE_WORDS

    text = _visible_text((demo_run / "report.html").read_text(encoding="utf-8"))
    settings = set(Config().__dict__) if hasattr(Config(), "__dict__") else set()
    fields = {c.name for t in TABLES.values() for c in t.columns if "_" in c.name} - settings
    keys = {k for k in MEASURE_WORDS if "_" in k or any(ch.isdigit() for ch in k) or k == "oss"}
    leaked = {word for word in fields | keys if re.search(rf"(?<![\w/]){re.escape(word)}(?!\w)", text)}
    assert not leaked, f"raw names in the report's text: {sorted(leaked)}"


# --- direction in words ----------------------------------------------------------------------------

import numpy as np  # noqa: E402

from equity_audit.disaggregate import disaggregate_each, publishable  # noqa: E402
from equity_audit.publish import findings as F  # noqa: E402

CONCERN = ("Worth asking why", "worth asking why", "concern")


def _assert_plain_direction(found):
    """Every finding has a direction; better is never worded as a concern, worse never as a strength."""
    assert found and all(f.direction in ("worse", "better", "neutral") for f in found)
    for f in found:
        words = f.statement.replace("not a strength or concern of its own", "")
        if f.direction == "better":
            assert not any(word in words for word in CONCERN), f.statement
        if f.direction == "worse":
            assert "strength" not in words, f.statement


def _run_with(tmp_path, tables: dict[str, pd.DataFrame]):
    (tmp_path / "tables").mkdir(parents=True)
    for name, table in tables.items():
        table.to_csv(tmp_path / "tables" / f"{name}.csv", index=False)
    return tmp_path


def test_strengths_are_named_and_mirrors_are_neither_strength_nor_concern(tmp_path):
    rng = np.random.default_rng(3)
    n = 1500
    flag = rng.random(n) < 0.3
    cohort = rng.choice(["c1", "c2", "c3"], size=n)
    pace = 1.0 - 0.3 * flag + np.where(cohort == "c2", 0.3, 0.0) + rng.normal(0, 0.3, n)
    students = pd.DataFrame({"english_learner": np.where(flag, "Yes", "No"), "cohort": cohort, "pace": pace})
    table = publishable(disaggregate_each(students, "pace", ["english_learner", "cohort"]))
    found = F.build_findings(_run_with(tmp_path, {"pace_by_subgroup": table}))["published"]
    _assert_plain_direction(found)
    by = {(f.subgroups[0], f.groups[0]): f for f in found}
    yes, no, ahead = by[("english_learner", "Yes")], by[("english_learner", "No")], by[("cohort", "c2")]
    assert yes.direction == "worse" and "they fare worse. Worth asking why." in yes.statement
    assert no.direction == "better" and "A strength" not in no.statement
    assert "The other side of the result for English learners" in no.statement
    assert ahead.direction == "better" and "A strength" in ahead.statement


def test_withheld_access_gap_under_four_fifths_reads_worse_and_unshown_sides_say_so(tmp_path):
    common = dict(statistic="rate", n=[120], estimate=[np.nan], low=[np.nan], high=[np.nan],
                  comparator_estimate=[np.nan], difference=[np.nan], qvalue=[np.nan], suppressed=[False],
                  status=["small_count:estimate"])
    access = pd.DataFrame(dict(subgroup=["cohort"], group=["c1"], flagged=[True], opportunity=["enrichment"],
                               measure=["enrichment"], four_fifths=[True], access_gap=[True], **common))
    climate = pd.DataFrame(dict(subgroup=["cohort"], group=["c2"], flagged=[True], construct=["belonging"], **common))
    found = F.build_findings(_run_with(tmp_path, {"access_by_subgroup": access, "climate_by_subgroup": climate}))
    found = {f.source: f for f in found["published"]}
    assert found["access_by_subgroup"].direction == "worse"
    assert "they fare worse" in found["access_by_subgroup"].statement
    unshown = found["climate_by_subgroup"]
    assert unshown.direction == "neutral" and narrative.UNSHOWN_WORDS[0] in unshown.statement
    assert "no better or worse side" not in unshown.statement


def test_gap_trends_read_better_or_worse_for_the_group(tmp_path):
    trends = pd.DataFrame({"headline": ["pace: c1", "pace: c2"], "verdict": ["narrowing", "widening"],
                           "for_group": ["better for the group", "worse for the group"],
                           "sentence": ["For c1, the gap narrowed.", "For c2, the gap widened."]})
    found = F.build_findings(_run_with(tmp_path, {"gap_trends": trends}))["published"]
    _assert_plain_direction(found)
    assert [f.direction for f in found] == ["better", "worse"]
    assert "strength" in found[0].statement and "worth asking why" in found[1].statement


@pytest.mark.slow
def test_every_finding_of_a_run_says_its_direction_plainly(demo_run):
    found = F.build_findings(demo_run)
    _assert_plain_direction(found["published"] + found["confidential"])
    for f in found["published"]:
        if f.kind != "count" and f.direction in ("worse", "better"):
            assert f"fare {f.direction}" in f.statement or f"{f.direction.capitalize()} for the group" in f.statement


# --- every flag reaches the priorities ---------------------------------------------------------------

@pytest.mark.slow
def test_every_published_finding_reaches_the_priorities(demo_run):
    from equity_audit.questions import strategies

    plan = pd.read_csv(demo_run / "tables" / "action_plan.csv")
    listed = {i for ids in plan["finding_ids"].dropna() for i in str(ids).split("; ")}
    published = F.read_findings(demo_run)
    assert published and {f["id"] for f in published} <= listed
    assert {"bias", "patterns", "unmet_need"} <= {f["section"] for f in published}
    assert plan["priority"].tolist() == list(range(1, len(plan) + 1))
    assert plan["area"].notna().all() and plan["question"].str.len().gt(0).all()
    parts = plan["reads"].map({word: i for i, word in enumerate(strategies.READS)})
    assert parts.is_monotonic_increasing  # concerns, then small differences, then strengths


# --- one definition of below pace ----------------------------------------------------------------------

def test_pace_headline_defines_below_pace_once_as_the_flag_is_computed():
    summary = pd.DataFrame({"pace": [0.5, 1.2, 0.9, None], "two_plus_behind": [True, False, False, True],
                            "below_pace": pd.array([True, False, False, pd.NA], dtype="boolean")})
    text = narrative.pace_headline(summary, 1.0, False)
    assert "**33%** of those with a pace are below pace: gaining under 1 level a year even at the top" in text
    assert narrative.below_pace_words(1.25, True).startswith("below pace: gaining under 1.25 levels a year by their")
    assert "below pace:" not in narrative.pace_headline(summary.drop(columns="below_pace"))


def test_groups_named_by_their_races_and_heat_map_rows_read_as_words():
    assert narrative.group_words("race_ethnicity", "Two or more races") == "students of two or more races"
    assert narrative.group_words("race_ethnicity", "Asian") == "Asian students"
    access = pd.DataFrame({"subgroup": ["race_ethnicity", "disability"], "group": ["Two or more races", "Yes"],
                           "opportunity": ["level4_work"] * 2, "n": [40, 30], "estimate": [0.2, 0.1],
                           "suppressed": [False] * 2, "access_gap": [False, True]})
    rows = narrative.access_heatmap_table(access)["group_name"].tolist()
    assert rows == ["Students of two or more races", "Students with disabilities"]
    assert display_name("group_name") == "Group"  # the axis of those rows, not "Name"
