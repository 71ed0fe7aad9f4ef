"""Pipeline behaviour that the demo run does not exercise: a failing step."""
import nbformat
import pytest

from equity_audit.exceptions import StepFailedError
from equity_audit.app.pipeline import Step, run_step, skipped_notebook, steps


def write_notebook(path, *sources):
    cells = [nbformat.v4.new_code_cell('data_dir = ""\nrun_dir = ""\nconfig_path = ""',
                                       metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "other", "display_name": "Other"}}), path)


def test_failing_cell_is_named(tmp_path):
    path = tmp_path / "01_broken.ipynb"
    write_notebook(path, "x = 1", "raise ValueError('no such column: pace')")
    with pytest.raises(StepFailedError) as caught:
        run_step(Step("01_broken", path), data_dir=tmp_path, run_dir=tmp_path)
    message = str(caught.value)
    assert "'01_broken'" in message and "In [4]" in message
    assert "(raise ValueError('no such column: pace'))" in message
    assert "ValueError: no such column: pace" in message
    assert (tmp_path / "confidential" / "notebooks" / "01_broken.ipynb").exists()


def test_a_kernel_that_dies_is_a_step_that_failed_not_a_traceback(tmp_path):
    # a library that aborts the process (scipy's C++ once did) kills the kernel without a Python error
    path = tmp_path / "02_dies.ipynb"
    write_notebook(path, "import os", "os._exit(1)")
    with pytest.raises(StepFailedError) as caught:
        run_step(Step("02_dies", path), data_dir=tmp_path, run_dir=tmp_path)
    message = str(caught.value)
    assert "'02_dies'" in message and "ended without an error message" in message
    assert caught.value.exit_code == 1


def test_parameters_are_injected_and_kernel_is_python3(tmp_path):
    path = tmp_path / "02_echo.ipynb"
    write_notebook(path, "open('seen.txt', 'w').write(run_dir + '|' + config_path)")
    run_step(Step("02_echo", path), data_dir=tmp_path, run_dir=tmp_path, config_path="cfg.yaml")
    assert (tmp_path / "seen.txt").read_text() == f"{tmp_path}|cfg.yaml"


def test_steps_are_numbered_notebooks_in_order(tmp_path):
    for name in ("02_b.ipynb", "00_a.ipynb", "workshop.ipynb", "01_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [s.name for s in steps(tmp_path)] == ["00_a", "01_c", "02_b"]


def test_step_requirements_come_from_notebook_metadata(tmp_path):
    path = tmp_path / "01_needs.ipynb"
    write_notebook(path, "x = 1")
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["equity_audit"] = {"requires": [["levels"], ["evidence", "standards"]]}
    nbformat.write(notebook, path)
    step = Step("01_needs", path)
    assert step.missing({"levels": 1}) == []
    assert step.missing({"evidence": 1, "standards": 1}) == []
    assert step.missing({"evidence": 1}) == ["levels", "standards"]


def test_skipped_section_explains_what_is_missing(tmp_path):
    path = tmp_path / "01_needs.ipynb"
    cells = [nbformat.v4.new_markdown_cell("# Unmet need\n\nIntro.")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    out = skipped_notebook(Step("01_needs", path), ["levels"], tmp_path)
    text = nbformat.read(out, as_version=4).cells[0].source
    assert text.startswith("# Unmet need") and "needs the levels table(s)" in text
