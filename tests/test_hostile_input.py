"""Bad input that used to crash or pass silently now gets a clear message (exit 2) or a ledger count."""
import subprocess
import sys

import openpyxl
import pytest

from districts import TODAY, add_lines, replace_line, write_district
from equity_audit.config import Config, load_config
from equity_audit.data import load, problems as kinds
from equity_audit.data.load import load_district
from equity_audit.exceptions import ConfigError, DataValidationError

CLI = [sys.executable, "-m", "equity_audit"]


def problems(folder, **kw):
    with pytest.raises(DataValidationError) as caught:
        load_district(folder, today=TODAY, **kw)
    return caught.value.problems


@pytest.mark.parametrize("text", ["2300-01-01", "0999-02-29", "12/31/9999"])
def test_dates_beyond_pandas_range_are_reported_not_crashed(tmp_path, text):
    folder = write_district(tmp_path, {"students": replace_line("students", 3, f"S2,{text},Hispanic,M,Y,N,")})
    [problem] = problems(folder)
    assert (problem.kind, problem.column, problem.rows, problem.values) == (
        load.KIND_OUT_OF_RANGE, "birth_date", (3,), (text,))


def test_out_of_range_dates_are_counted_when_excluding(tmp_path):
    folder = write_district(tmp_path, {"students": replace_line("students", 3, "S2,2300-01-01,Hispanic,M,Y,N,")})
    district = load_district(folder, today=TODAY, invalid_rows="exclude")
    assert "S2" not in set(district["students"]["student_id"])
    ledger = district.ledger.set_index("table")
    assert ledger.loc["students", "rows_excluded"] == 1


def test_workbook_date_beyond_range(tmp_path):
    folder = write_district(tmp_path, {"schools": None}, tables=["students", "enrollments"])
    (folder / "students.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["student_id", "birth_date"])
    for sid in ["S1", "S2", "S3", "S4"]:
        sheet.append([sid, "2300-01-01" if sid == "S2" else "2012-01-01"])
    book.save(folder / "students.xlsx")
    [problem] = problems(folder)
    assert problem.kind == load.KIND_OUT_OF_RANGE and problem.rows == (3,)


def test_nul_byte_in_a_value(tmp_path):
    folder = write_district(tmp_path, {"schools": replace_line("schools", 2, "SCH1,Lincoln\x00Middle,Middle")})
    [problem] = problems(folder)
    assert (problem.kind, problem.file, problem.column, problem.rows) == (
        kinds.KIND_CONTROL_CHARACTER, "schools.csv", "school_name", (2,))
    assert "\x00" not in str(problem)


def test_state_outcome_larger_than_its_base(tmp_path):
    state = ("category,group,outcome,base\n"
             "out_of_school_suspension,White,12,300\n"
             "out_of_school_suspension,Asian,40,30\n")
    [problem] = problems(write_district(tmp_path, {"state_comparison": state}))
    assert (problem.column, problem.rows, problem.values) == ("outcome", (3,), ("40",))
    assert "larger than the base" in str(problem)


def test_oversized_file_is_refused_before_reading(tmp_path):
    rows = [f"S{i},2012-03-04,White,F,N,N,N" for i in range(5, 40_000)]
    folder = write_district(tmp_path, {"students": add_lines("students", *rows)})
    [problem] = problems(folder, max_file_mb=0.5)
    assert problem.kind == kinds.KIND_TOO_LARGE and problem.file == "students.csv"
    assert "max_file_mb" in str(problem)


def test_workbook_that_unzips_past_the_limit_is_refused(tmp_path):
    folder = write_district(tmp_path, tables=["enrollments", "schools"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["student_id", "birth_date", "race_ethnicity"])
    for i in range(30_000):  # highly compressible: small on disk, large unzipped
        sheet.append([f"S{i}", "2012-03-04", "White"])
    book.save(folder / "students.xlsx")
    assert (folder / "students.xlsx").stat().st_size < 1.0 * 2**20
    [problem] = problems(folder, max_file_mb=1.0)
    assert problem.kind == kinds.KIND_TOO_LARGE and "unzipped" in str(problem)


@pytest.mark.parametrize("text, words", [
    ("pace_threshold: .nan\n", "expected a finite number"),
    ("year_days: .inf\n", "expected a finite number"),
    ("min_n: 12\nmin_n: 15\n", "given more than once"),
    ("min_n: 1\n", "min_n_override"),
    ("min_n: 2\nmin_n_override: true\n", "3 or more"),
    ("max_file_mb: 0\n", "positive"),
])
def test_settings_that_used_to_pass_silently(tmp_path, text, words):
    path = tmp_path / "district.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_min_n_below_ten_with_an_explicit_override():
    assert Config.from_mapping({"min_n": 5, "min_n_override": True}).min_n == 5


def test_settings_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "district.yaml"
    path.write_bytes("district_name: Caf\xe9 District\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_cli_exit_code_2_without_traceback_for_bad_settings(tmp_path):
    path = tmp_path / "district.yaml"
    path.write_bytes(b"district_name: \xff\xfe\n")
    folder = write_district(tmp_path / "d")
    result = subprocess.run([*CLI, "validate", "--data", str(folder), "--config", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "not UTF-8" in result.stderr
