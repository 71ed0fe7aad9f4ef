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
    assert narrative.group_words("group_newcomer", "Y") == "Newcomer: Yes"
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
    text = re.sub(r"<(details|section|div)\b[^>]*id=\"[^\"]*settings[^\"]*\"[^>]*>.*?</\1>", " ", text,
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
