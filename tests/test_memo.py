"""A notebook's second pass recomputes only what reads the joint audit's withheld cells (app/memo.py)."""
import ast
import shutil
import subprocess

import nbformat
import pytest

from equity_audit.app import memo
from equity_audit.app.kernels import WarmKernel
from equity_audit.app.pipeline import Step, run_step
from equity_audit.publish import render


def _run(code: str, namespace: dict) -> None:
    """Execute ``code`` as a kernel with the memo installed would: assignments rewritten."""
    tree = ast.fix_missing_locations(memo._Memoize().visit(ast.parse(code)))
    exec(compile(tree, "<cell>", "exec"), namespace)


@pytest.fixture
def namespace():
    calls = []
    kept = memo.Memo()

    def compute(data, k):
        calls.append(k)
        return [data, k]

    return {memo.MEMO_NAME: kept, "compute": compute, "calls": calls, "data": object()}


def test_an_assignment_with_the_same_inputs_is_given_back(namespace):
    _run("a = compute(data, 'k')\nb = compute(a, 2)", namespace)
    first = namespace["b"]
    _run("a = compute(data, 'k')\nb = compute(a, 2)", namespace)  # the next pass
    assert namespace["calls"] == ["k", 2] and namespace["b"] is first


def test_an_assignment_whose_inputs_changed_is_computed_again(namespace):
    _run("a = compute(data, 1)", namespace)
    namespace["data"] = object()
    _run("a = compute(data, 1)", namespace)
    assert namespace["calls"] == [1, 1] and namespace["a"][0] is namespace["data"]


def test_an_assignment_that_read_the_withheld_cells_is_computed_again(namespace):
    kept = namespace[memo.MEMO_NAME]
    namespace["protect"] = kept.reading(lambda table: table)
    for _ in range(2):
        _run("a = compute(protect(data), 1)\nb, c = compute(data, 2)", namespace)
    assert namespace["calls"] == [1, 2, 1]  # a twice, (b, c) once


def test_loading_the_withheld_cells_is_repeated_when_its_assignment_is_given_back(namespace):
    loaded = []
    namespace["load"] = namespace[memo.MEMO_NAME].replayed(lambda run_dir: loaded.append(run_dir) or "district")
    for _ in range(2):
        _run("district = load('out')", namespace)
    assert loaded == ["out", "out"] and namespace["district"] == "district"


def test_a_chart_is_never_given_back(namespace):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace["plt"] = plt
    for _ in range(2):
        _run("figure = plt.figure()", namespace)
    first = namespace["figure"]
    _run("figure = plt.figure()", namespace)
    assert namespace["figure"] is not first
    plt.close("all")


def test_statements_other_than_plain_assignments_run_as_written():
    code = "x[0] = f(y)\nshow(f(y))\nz = (w := 3)"
    assert ast.unparse(memo._Memoize().visit(ast.parse(code))) == code


def test_a_kept_kernel_recomputes_only_what_reads_the_withheld_cells(tmp_path):
    """Two passes of one notebook in one kernel: the costly analysis runs once, the shown table twice."""
    path = tmp_path / "01_memo.ipynb"
    cells = ["import pandas as pd\nfrom equity_audit.publish import release",
             "analysis = open('analyses.txt', 'a').write('x')",  # stands for a costly, pure computation
             "shown = release.protect(pd.DataFrame({'n': [4, 40]}))\nopen('shown.txt', 'a').write('x')",
             "print(analysis)"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    step = Step("01_memo", path)
    kernel = WarmKernel(tmp_path, f"{step.imports}\n__import__('equity_audit.app.memo', fromlist=['install']).install()")
    try:
        for _ in range(2):
            out = run_step(step, data_dir=tmp_path, run_dir=tmp_path, kernel=kernel)
            kernel.run("__import__('equity_audit.app.memo', fromlist=['next_pass']).next_pass()")
    finally:
        kernel.shutdown()
    assert (tmp_path / "analyses.txt").read_text() == "x" and (tmp_path / "shown.txt").read_text() == "xx"
    executed = nbformat.read(out, as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2, 3, 4, 5]  # numbered as in a fresh kernel
    assert executed.cells[-1].outputs[0]["text"] == "1\n"


def test_imports_of_a_step_are_its_import_statements(tmp_path):
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nx = 1\nfrom a import b")]),
                   path)
    assert Step("00_x", path).imports == "import os\nfrom a import b"


@pytest.mark.skipif(render.find_chromium() is None or shutil.which("pdftotext") is None,
                    reason="Chromium and poppler-utils print and read the PDFs")
def test_one_chromium_prints_every_page(tmp_path, monkeypatch):
    started = []
    original = render._DevTools.__init__
    monkeypatch.setattr(render._DevTools, "__init__", lambda self, *a, **k: started.append(1) or original(self, *a, **k))
    pages = []
    for name in ("north", "south"):
        (tmp_path / f"{name}.html").write_text(f"<html><body><h1>{name} school</h1></body></html>")
        pages.append((tmp_path / f"{name}.html", tmp_path / f"{name}.pdf"))
    (tmp_path / "report.html").write_text("<html><body><h1>The report</h1></body></html>")
    pdf = render.print_pdf(tmp_path / "report.html", district="Oak", also=pages)
    assert started == [1] and pdf == tmp_path / "report.pdf"
    text = {name: subprocess.run(["pdftotext", str(tmp_path / f"{name}.pdf"), "-"], capture_output=True,
                                 text=True).stdout for name in ("north", "south", "report")}
    assert "north school" in text["north"] and "south school" in text["south"] and "The report" in text["report"]
    assert "Equity audit: Oak" in text["report"] and "Equity audit: Oak" in text["north"]  # every page: its district
