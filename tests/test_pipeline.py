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


@pytest.mark.parametrize("name, sources, said", [
    ("01_broken", ("x = 1", "raise ValueError('no such column: pace')"),
     ("In [4]", "(raise ValueError('no such column: pace'))", "ValueError: no such column: pace")),
    # a library that aborts the process (scipy's C++ once did) kills the kernel without a Python error
    ("02_dies", ("import os", "os._exit(1)"), ("ended without an error message",)),
])
def test_a_failing_step_is_named_with_what_went_wrong(tmp_path, name, sources, said):
    path = tmp_path / f"{name}.ipynb"
    write_notebook(path, *sources)
    with pytest.raises(StepFailedError) as caught:
        run_step(Step(name, path), data_dir=tmp_path, run_dir=tmp_path)
    message = str(caught.value)
    assert f"'{name}'" in message and all(words in message for words in said), message
    assert caught.value.exit_code == 1
    assert (tmp_path / "confidential" / "notebooks" / f"{name}.ipynb").exists()


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
    written = nbformat.read(out, as_version=4)
    text = written.cells[0].source
    assert text.startswith("# Unmet need") and "needs the levels table(s)" in text
    assert written.cells[0].id == "section-not-run"  # fixed: the same district gives the same report


def test_a_notebook_is_written_when_it_ends_not_at_every_cell(tmp_path, monkeypatch):
    """papermill wrote the whole notebook at the start and end of every cell (issue 16: about a CPU-second
    a notebook of charts); now when it starts and when it ends, and a failed one still shows its error."""
    from papermill import engines

    writes, original = [], engines.write_ipynb
    monkeypatch.setattr(engines, "write_ipynb", lambda nb, path, **kw: writes.append(path) or original(nb, path, **kw))
    path = tmp_path / "03_many.ipynb"
    write_notebook(path, *(f"x{i} = {i}" for i in range(12)), "raise ValueError('no such column: pace')")
    with pytest.raises(StepFailedError):
        run_step(Step("03_many", path), data_dir=tmp_path, run_dir=tmp_path)
    assert len(writes) == 2
    saved = nbformat.read(tmp_path / "confidential" / "notebooks" / "03_many.ipynb", as_version=4)
    assert [cell.execution_count for cell in saved.cells if cell.cell_type == "code"][-2:] == [14, 15]
    assert saved.cells[-1].outputs[-1]["ename"] == "ValueError"
