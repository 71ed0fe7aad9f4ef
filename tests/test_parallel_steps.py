"""Notebooks that do not depend on each other run at the same time, with the output of a sequential run."""
import re

import nbformat
import pytest

from districts import write_district as write_tiny_district
from equity_audit.app import pipeline
from equity_audit.app.pipeline import Step, run_audit, step_groups
from equity_audit.data.synthetic import write_district
from equity_audit.exceptions import StepFailedError
from equity_audit.publish import render
from test_run_folder import WRITE_TABLE, notebook


def test_overview_first_strategies_last_the_rest_together(tmp_path):
    named = [Step(name, tmp_path / f"{name}.ipynb") for name in ("00_a", "01_b", "02_c", "03_d", "04_e")]
    groups = [[(number, step.name) for number, step in group] for group in step_groups(named)]
    assert groups == [[(1, "00_a")], [(2, "01_b"), (3, "02_c"), (4, "03_d")], [(5, "04_e")]]
    assert [[n for n, _ in g] for g in step_groups(named[:2])] == [[1], [2]]
    assert [[n for n, _ in g] for g in step_groups(named[:1])] == [[1]]


def test_a_failing_step_of_the_parallel_group_is_named(tmp_path, monkeypatch):
    """The failure of one parallel notebook is the same StepFailedError; the progress lines stay whole."""
    written = [notebook(tmp_path / "00_first.ipynb", WRITE_TABLE),
               notebook(tmp_path / "01_fine.ipynb", "x = 1"),
               notebook(tmp_path / "02_broken.ipynb", "raise ValueError('no such column: pace')"),
               notebook(tmp_path / "03_last.ipynb", "x = 2")]
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    lines = []
    with pytest.raises(StepFailedError) as caught:
        run_audit(write_tiny_district(tmp_path / "data"), tmp_path / "out", log=lines.append, workers=2)
    assert caught.value.notebook == "02_broken" and "ValueError: no such column: pace" in str(caught.value)
    assert "[1/4] 00_first ..." in lines and "[3/4] 02_broken ..." in lines
    assert any(re.fullmatch(r"\[2/4\] 01_fine done in \d+\.\d s", line) for line in lines), lines
    assert not any(line.startswith("[4/4]") for line in lines)  # the last step never starts


def test_notebooks_side_by_side_leave_the_working_folder_alone(tmp_path, monkeypatch):
    """Kernels start in the run folder without this process changing its own: with threads, a chdir
    per notebook would leave the process in a building folder that the run then moves away."""
    import os

    here = os.getcwd()
    record = "import os\nopen('kernel_cwd.txt', 'w').write(os.getcwd())"
    written = [notebook(tmp_path / "00_first.ipynb", WRITE_TABLE),
               *(notebook(tmp_path / f"0{i}_side.ipynb", f"import time\ntime.sleep(0.{i})\n{record}")
                 for i in (1, 2, 3)),
               notebook(tmp_path / "04_last.ipynb", "x = 2")]
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    out = tmp_path / "out"
    run_audit(write_tiny_district(tmp_path / "data"), out, log=lambda line: None, workers=3)
    assert os.getcwd() == here
    assert (out / "kernel_cwd.txt").read_text().endswith(f".{out.name}.building")  # the run folder while built


def test_the_whole_group_runs_at_once_by_default_whatever_the_cores(tmp_path, monkeypatch):
    """Which notebook runs longest depends on the district: none waits for a core (issue 16)."""
    written = [notebook(tmp_path / "00_first.ipynb", WRITE_TABLE),
               *(notebook(tmp_path / f"0{i}_side.ipynb", "import time\ntime.sleep(1)") for i in (1, 2, 3)),
               notebook(tmp_path / "04_last.ipynb", "x = 2")]
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 1)
    lines = []
    run_audit(write_tiny_district(tmp_path / "data"), tmp_path / "out", log=lines.append)
    middle = [line for line in lines if re.match(r"\[[234]/5\]", line)]
    assert [line.endswith(" ...") for line in middle] == [True] * 3 + [False] * 3, middle


def _published(run):
    """Every file of a run but the executed notebooks and the PDF, with its bytes (report: its headings)."""
    files = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        name = str(path.relative_to(run))
        if name.startswith("confidential/notebooks/") or path.suffix in (".pdf", ".png", ".xlsx", ".pkl",
                                                                          ".parquet"):
            files[name] = None  # present; contents carry timings, paths or compression metadata
        elif path.name == "report.html":
            files[name] = re.findall(r"<h[12][^>]*>(.*?)</h[12]>", path.read_text(encoding="utf-8"))
        else:
            files[name] = path.read_bytes()
    return files


@pytest.mark.slow
def test_parallel_run_writes_what_a_sequential_run_writes(tmp_path):
    data = tmp_path / "district"
    write_district(data, students=300, seed=5).unlink()  # the generator's manifest (planted truth) is no table
    runs = {}
    for workers in (1, 3):
        out = tmp_path / f"workers_{workers}"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(render, "print_pdfs", lambda *a, **k: None)
            run_audit(data, out, log=lambda _: None, progress=False, workers=workers)
        runs[workers] = _published(out)
    sequential, parallel = runs[1], runs[3]
    assert sorted(sequential) == sorted(parallel)
    tables = [name for name in sequential if name.startswith("tables/") and name.endswith(".csv")]
    assert len(tables) > 20
    assert [name for name in sequential if sequential[name] != parallel[name]] == []
    # the report's sections in the notebooks' order
    headings = sequential["report.html"]
    assert len(headings) >= 5 and headings == parallel["report.html"]


READ_RESULTS = ("from equity_audit.publish import rundir\nimport pandas as pd\n"
                "seen = rundir.read_table(run_dir, 'counts')\n"
                "open('late_runs.txt', 'a').write('ran\\n')\n")


def _audits(results, calls):
    """A stand-in for the joint audit: one result per call, in order (cells newly withheld, table touched)."""
    import pandas as pd

    def audit(run_dir, min_n=10):
        newly, table = results[min(len(calls), len(results) - 1)]
        calls.append(sorted(p.stem for p in (run_dir / "tables").glob("*.csv")))
        ledger = pd.DataFrame({"table": [table] if table else [], "action": ["withheld (audit)"] if table else []})
        ledger.attrs["newly_withheld"] = newly
        return ledger
    return audit


def test_strategies_runs_once_after_the_audit_however_many_passes(tmp_path, monkeypatch):
    """The notebook that reads the others' results shows what the last audit left: it runs once, after it."""
    written = [notebook(tmp_path / "00_first.ipynb", WRITE_TABLE),
               notebook(tmp_path / "01_side.ipynb", WRITE_TABLE.replace("'counts'", "'side'")),
               notebook(tmp_path / "02_plan.ipynb", READ_RESULTS)]
    assert [step.runs_after_audit for step in written] == [False, False, True]
    calls = []
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "audit_release", _audits([(3, "side"), (0, None)], calls))
    lines = []
    out = tmp_path / "out"
    run_audit(write_tiny_district(tmp_path / "data"), out, log=lines.append)
    assert (out / "late_runs.txt").read_text() == "ran\n"
    assert len(calls) == 2  # the plan's notebook wrote no table: no audit after it
    started = [line.split(" ...")[0] for line in lines if line.startswith("[") and line.endswith(" ...")]
    assert started == ["[1/3] 00_first", "[2/3] 01_side", "[2/3] 01_side", "[3/3] 02_plan"]


def test_a_late_table_with_margins_is_audited_and_its_notebook_runs_again(tmp_path, monkeypatch):
    """Were the late notebook to write a table the audit links (group sizes), the audit checks it too."""
    late = READ_RESULTS + "rundir.write_table(run_dir, 'late', pd.DataFrame({'group': ['A', 'B'], 'n': [30, 40]}))"
    written = [notebook(tmp_path / "00_first.ipynb", WRITE_TABLE), notebook(tmp_path / "01_plan.ipynb", late)]
    calls = []
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "audit_release", _audits([(0, None), (2, "late"), (0, None), (0, None)], calls))
    out = tmp_path / "out"
    run_audit(write_tiny_district(tmp_path / "data"), out, log=lambda line: None)
    assert (out / "late_runs.txt").read_text() == "ran\nran\n"
    assert [("late" in tables) for tables in calls] == [False, True, True, True]


def test_the_overview_kernel_runs_the_next_notebook_as_a_fresh_kernel_would(tmp_path, monkeypatch):
    """One kernel start fewer (issue 16): the first notebook of the side-by-side group runs in the
    overview's kernel, its modules loaded, and meets none of the overview's names; the others get their own."""
    def pid(name):
        return f"import os\nopen('pid_{name}.txt', 'w').write(str(os.getpid()))"

    written = [notebook(tmp_path / "00_first.ipynb", f"{WRITE_TABLE}\nleftover = 1\n{pid('00')}"),
               notebook(tmp_path / "01_side.ipynb",
                        f"{pid('01')}\nopen('seen.txt', 'w').write(str(sorted({{'leftover', 'pd'}} & set(globals()))))"),
               notebook(tmp_path / "02_side.ipynb", pid("02")),
               notebook(tmp_path / "03_last.ipynb", "x = 2")]
    monkeypatch.setattr(pipeline, "steps", lambda: written)
    monkeypatch.setattr(render, "print_pdfs", lambda *a, **k: None)
    out = tmp_path / "out"
    run_audit(write_tiny_district(tmp_path / "data"), out, log=lambda line: None)
    pids = {name: (out / f"pid_{name}.txt").read_text() for name in ("00", "01", "02")}
    assert pids["00"] == pids["01"] != pids["02"]
    assert (out / "seen.txt").read_text() == "[]"
    executed = nbformat.read(out / "confidential" / "notebooks" / "01_side.ipynb", as_version=4)
    assert [c.execution_count for c in executed.cells if c.cell_type == "code"] == [1, 2, 3]
