"""The command line: documented, and plain messages with exit code 2 for bad input."""
import subprocess
import sys

import pytest

from conftest import cli_env


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "equity_audit.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=cli_env(), cwd=cwd)


def test_help_documents_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("validate", "synth", "run", "templates"):
        assert command in result.stdout
    run_help = cli("run", "--help").stdout
    assert "--data" in run_help and "--out" in run_help and "--config" in run_help
    assert "min_n:" in run_help and "invalid_rows:" in run_help
    synth_help = cli("synth", "--help").stdout
    for option in ("--students", "--seed", "--out", "--null", "--format"):
        assert option in synth_help


def test_validate_prints_the_ledger(bundled_district):
    result = cli("validate", "--data", bundled_district)
    assert result.returncode == 0, result.stderr
    assert "meets the contract" in result.stdout
    assert "rows_read" in result.stdout and "enrollments" in result.stdout


def test_missing_required_table_exits_2_without_traceback(district_copy):
    (district_copy / "enrollments.csv").unlink()
    result = cli("validate", "--data", district_copy)
    assert result.returncode == 2
    assert "enrollments" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_value_is_named_with_file_column_row_and_value(district_copy):
    path = district_copy / "students.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("birth_date")] = "31/31/2010"
    lines[3] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    result = cli("validate", "--data", district_copy)
    assert result.returncode == 2
    message = result.stderr
    assert "students.csv" in message and "birth_date" in message
    assert "4" in message and "31/31/2010" in message
    assert "Traceback" not in message


def test_run_refuses_bad_data_before_any_notebook(district_copy, tmp_path):
    (district_copy / "students.csv").write_text("")
    result = cli("run", "--data", district_copy, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "students.csv" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "report.html").exists()


def test_bad_config_exits_2(bundled_district, tmp_path):
    config = tmp_path / "district.yaml"
    config.write_text("minimum_n: 5\n")
    result = cli("run", "--data", bundled_district, "--out", tmp_path / "out", "--config", config)
    assert result.returncode == 2
    assert "'minimum_n'" in result.stderr and "Traceback" not in result.stderr


def test_run_passes_workers_to_the_audit_and_refuses_zero(monkeypatch, tmp_path):
    """--workers sets how many notebooks run at once (1 needs the least memory); 0 is a usage error."""
    from equity_audit.app import cli as command
    from equity_audit.app import pipeline

    seen = {}
    monkeypatch.setattr(pipeline, "run_audit", lambda data, out, config, **options: seen.update(options))
    assert command.main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    assert seen == {"workers": 1}
    assert command.main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert seen == {"workers": None}
    assert command.main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "0"]) == 2


def test_usage_errors_exit_2():
    assert cli("validate").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_templates_command_writes_the_dictionary(tmp_path):
    result = cli("templates", "--out", tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "README.md").exists() and (tmp_path / "evidence.csv").exists()
