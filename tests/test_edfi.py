"""Ed-Fi import (issue #13) and the supports key that includes the domain.

The Ed-Fi tests read the golden fixture ``tests/fixtures/edfi-grand-bend`` (the Ed-Fi Alliance's
fictitious "Grand Bend" sample, CC BY 4.0; see its README). Its student and staff names are a
canary: none may reach the imported folder or any published file of an audit run on it.
"""
from __future__ import annotations

import pytest

from equity_audit.data.load import load_district
from equity_audit.exceptions import DataValidationError

from districts import TODAY, write_district

# --------------------------------------------------------------------------- supports key

SUPPORTS_HEADER = "student_id,support_type,start_date,end_date,domain\n"


def test_same_support_in_two_domains_on_the_same_day_is_valid(tmp_path):
    supports = SUPPORTS_HEADER + ("S1,tutoring,2024-09-10,,math\n"
                                  "S1,tutoring,2024-09-10,,ela\n"
                                  "S1,tutoring,2024-09-10,,\n")
    district = load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    assert sorted(district["supports"]["domain"].fillna("(blank)")) == ["(blank)", "ela", "math"]


def test_same_support_domain_and_day_twice_is_named_with_file_column_rows_and_values(tmp_path):
    supports = SUPPORTS_HEADER + ("S1,tutoring,2024-09-10,2024-12-01,math\n"
                                  "S1,tutoring,2024-09-10,2024-12-20,math\n"
                                  "S2,tutoring,2024-09-10,,\n"
                                  "S2,tutoring,2024-09-10,2025-01-10,\n")
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    assert [str(p) for p in caught.value.problems] == [
        "supports.csv, columns 'student_id', 'support_type', 'start_date', 'domain', rows 2, 3, 4, 5: "
        "'S1 / tutoring / 2024-09-10 / math', 'S2 / tutoring / 2024-09-10 / (blank)' appear on "
        "more than one row; expected one row per student_id + support_type + start_date + domain."]


def test_supports_without_a_domain_column_are_still_checked_for_duplicates(tmp_path):
    supports = ("student_id,support_type,start_date,end_date\n"
                "S1,tutoring,2024-09-10,2024-12-01\n"
                "S1,tutoring,2024-09-10,2024-12-20\n"
                "S2,tutoring,2024-09-11,\n")
    with pytest.raises(DataValidationError) as caught:
        load_district(write_district(tmp_path / "d", {"supports": supports}), today=TODAY)
    (problem,) = caught.value.problems
    assert "columns 'student_id', 'support_type', 'start_date'," in str(problem)
    assert "rows 2, 3" in str(problem) and "'domain'" not in str(problem)
