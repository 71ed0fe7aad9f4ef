from pathlib import Path

import pandas as pd

from equity_audit.data.contract import TABLES
from equity_audit.data.dictionary import data_dictionary, write_templates

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "data"


def test_committed_templates_match_the_contract(tmp_path):
    written = write_templates(tmp_path)
    for path in written:
        committed = TEMPLATES / path.name
        assert committed.exists(), f"{committed} is missing: run `make templates`"
        assert committed.read_text() == path.read_text(), f"{committed} drifted: run `make templates`"
    extra = {p.name for p in TEMPLATES.iterdir()} - {p.name for p in written}
    assert not extra


def test_every_template_header_is_the_contract_columns():
    for table in TABLES.values():
        header = pd.read_csv(TEMPLATES / f"{table.name}.csv").columns.tolist()
        assert header == list(table.column_names)


def test_dictionary_names_required_columns_and_edfi_sources():
    text = data_dictionary()
    assert "## students (required)" in text and "## enrollments (required)" in text
    assert "## discipline (optional)" in text
    assert "| student_id* |" in text and "| birth_date |" in text
    assert "StudentSchoolAssociation" in text and "DisciplineIncident" in text
    assert "Hispanic/Latino; American Indian/Alaska Native" in text


# --- the one dictionary of display names ------------------------------------------------------------

from equity_audit.data.contract import GROUP_PREFIX, SUBGROUP_FLAGS  # noqa: E402
from equity_audit.data.dictionary import DISPLAY_NAMES, MEASURE_WORDS, display_name, display_value  # noqa: E402


def test_every_contract_column_and_measure_has_a_label_without_underscores():
    keys = {column.name for table in TABLES.values() for column in table.columns} | set(MEASURE_WORDS)
    assert keys <= set(DISPLAY_NAMES)
    for key in keys:
        name = display_name(key)
        assert "_" not in name and name[:1].isupper(), (key, name)


def test_display_names_of_subgroups_and_measures():
    assert display_name("low_income") == "Low income"
    assert display_name("race_ethnicity") == "Race/ethnicity"
    assert display_name("english_learner") == "English learner"
    assert display_name("school_id") == "School"
    assert display_name("two_plus_behind") == "Share two or more levels behind"
    assert display_name("dok34") == "Share of evidence at DOK 3 or 4"
    assert display_name(f"{GROUP_PREFIX}recent_arrival") == "Recent arrival"
    # a label already in words is left alone
    assert display_name("Race/ethnicity") == "Race/ethnicity"


def test_subgroup_labels_are_distinct():
    names = [display_name(flag) for flag in SUBGROUP_FLAGS] + [display_name("race_ethnicity"), display_name("gender")]
    assert len(set(names)) == len(names)


def test_coded_values_read_yes_no_and_district_values_stay():
    assert [display_value("low_income", v) for v in ("Y", "N", "True", "false", "Yes")] == \
        ["Yes", "No", "Yes", "No", "Yes"]
    assert display_value(f"{GROUP_PREFIX}newcomer", "y") == "Yes"
    # values of a district's own categories come from its data and stay as they are
    assert display_value("race_ethnicity", "N") == "N"
    assert display_value("gender", "Nonbinary") == "Nonbinary"
