"""A run replaces its folder only when it succeeds, leaves nothing stale, and is readable by its owner only."""
import stat

import nbformat
import pytest

from districts import write_district
from equity_audit.app import pipeline
from equity_audit.app.pipeline import Step, run_audit
from equity_audit.exceptions import ConfigError, StepFailedError
from equity_audit.publish import render


def notebook(path, source):
    cells = [nbformat.v4.new_code_cell('data_dir = ""\nrun_dir = ""\nconfig_path = ""',
                                       metadata={"tags": ["parameters"]}),
             nbformat.v4.new_markdown_cell("# A section"),
             nbformat.v4.new_code_cell(source)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return Step(path.stem, path)


WRITE_TABLE = ("from equity_audit.publish import rundir\nimport pandas as pd\n"
               "rundir.write_table(run_dir, 'counts', pd.DataFrame({'n': [12]}))")


@pytest.fixture
def one_step(tmp_path, monkeypatch):
    """The pipeline with a single quick notebook instead of the audit's, and no PDF."""
    step = notebook(tmp_path / "00_quick.ipynb", WRITE_TABLE)
    monkeypatch.setattr(pipeline, "steps", lambda: [step])
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    return step


def test_rerun_leaves_nothing_stale_and_is_owner_only(tmp_path, one_step):
    data, out = write_district(tmp_path / "data"), tmp_path / "out"
    run_audit(data, out, log=lambda _: None)
    (out / "tables" / "from_an_earlier_run.csv").write_text("n\n3\n")
    (out / "figures").mkdir()
    (out / "figures" / "old.png").write_bytes(b"png")
    report = run_audit(data, out, log=lambda _: None)
    assert report == out / "report.html" and report.exists()
    # the joint disclosure audit always leaves its ledger beside the tables, and the school profiles their table
    assert sorted(p.name for p in (out / "tables").iterdir()) == ["composition_by_school.csv", "counts.csv",
                                                                   "disclosure_audit.csv"]
    assert not (out / "figures").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "confidential").stat().st_mode) == 0o700
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in files), \
        [oct(p.stat().st_mode) for p in files]
    assert not list(tmp_path.glob(".out.*"))


def test_failed_run_keeps_the_previous_results(tmp_path, one_step, monkeypatch):
    data, out = write_district(tmp_path / "data"), tmp_path / "out"
    run_audit(data, out, log=lambda _: None)
    before = (out / "report.html").read_bytes()
    broken = notebook(tmp_path / "01_broken.ipynb", "raise ValueError('boom')")
    monkeypatch.setattr(pipeline, "steps", lambda: [one_step, broken])
    with pytest.raises(StepFailedError):
        run_audit(data, out, log=lambda _: None)
    assert (out / "report.html").read_bytes() == before


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path, one_step):
    out = tmp_path / "Documents"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(ConfigError, match="not an audit run"):
        run_audit(write_district(tmp_path / "data"), out, log=lambda _: None)
    assert (out / "thesis.docx").read_text() == "precious"
