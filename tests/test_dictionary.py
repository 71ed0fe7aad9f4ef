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
