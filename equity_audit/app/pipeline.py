"""Run the whole audit: validate once, execute the notebooks in order, render.

A small recipe over papermill, in the spirit of ``papermill.execute_notebook``:
every notebook gets the same three parameters (``data_dir``, ``run_dir``,
``config_path``) and passes results to the next through the run directory.
The overview runs first, the notebooks that read only the district run at the
same time (:func:`step_groups`), the strategies notebook last.
"""
from __future__ import annotations

import ast
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable

import nbformat
import papermill as pm
from nbclient.exceptions import DeadKernelError
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

from equity_audit._version import __version__
from equity_audit.app.kernels import IPCKernelManager, WarmKernel
from equity_audit.config import district_label, load_config
from equity_audit.data.enrollment import student_years
from equity_audit.data.requirements import analysis, missing_tables
from equity_audit.exceptions import ConfigError, StepFailedError
from equity_audit.paths import notebook_dir
from equity_audit.publish.findings import write_findings
from equity_audit.publish import audit_wide
from equity_audit.publish.release import audit_release, links_tables
from equity_audit.questions.overview import data_period
from equity_audit.publish.rundir import REPORT_NAME, confidential_dir, open_district

__all__ = ["Step", "steps", "step_groups", "run_step", "run_audit", "skipped_notebook", "prepared_notebook"]


@dataclass(frozen=True)
class Step:
    """One notebook of the audit."""

    name: str
    path: Path

    @property
    def requires(self) -> list[list[str]]:
        """Tables the notebook needs: each inner list is one way to have them.

        Read from the notebook metadata ``equity_audit.requires``, e.g.
        ``[["levels"], ["evidence", "standards"]]`` (levels, or evidence with standards).
        """
        metadata = nbformat.read(self.path, as_version=4).metadata
        return metadata.get("equity_audit", {}).get("requires", [])

    def missing(self, provided) -> list[str]:
        """The tables to provide before this step can run at all; empty when it can.

        ``provided`` holds the tables the district provided (names, or the loaded
        district's ``tables`` so that columns are checked too). Each analysis of
        the step declares its own needs (:data:`equity_audit.data.requirements.ANALYSES`);
        this is only what the step's shared first cells need.
        """
        return missing_tables(provided, self.requires)

    @property
    def analyses(self) -> list[str]:
        """Names of the analyses whose cells this notebook tags, in order."""
        cells = nbformat.read(self.path, as_version=4).cells
        return list(dict.fromkeys(name for cell in cells if (name := cell_analysis(cell))))


    @property
    def tables_written(self) -> set[str]:
        """Names of the tables the notebook writes (``write_table`` or ``write_confidential(run_dir, "name", ...)``)."""
        return {call.args[1].value for call in self._calls({"write_table", "write_confidential"})
                if len(call.args) > 1 and isinstance(call.args[1], ast.Constant)}

    @property
    def reads_results(self) -> bool:
        """Whether the notebook reads what the notebooks before it wrote (findings, tables)."""
        return bool(self._calls({"gather_findings", "read_findings", "read_table"}))

    @property
    def runs_after_audit(self) -> bool:
        """Whether the notebook runs once, after the joint disclosure audit: it reads the others' results.

        Such a step (strategies) shows the findings of the others, which the
        audit's passes can still change, and builds its tables from them.
        """
        return self.reads_results

    @property
    def imports(self) -> str:
        """The notebook's import statements, one a line: what its kernel loads before it runs."""
        return "\n".join(ast.unparse(node) for tree in self._trees() for node in tree.body
                         if isinstance(node, (ast.Import, ast.ImportFrom)))

    def _calls(self, names: set[str]) -> list[ast.Call]:
        return [node for tree in self._trees() for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in names]

    def _trees(self) -> list[ast.Module]:
        cells = nbformat.read(self.path, as_version=4).cells
        return [_parse(cell.source) for cell in cells if cell.cell_type == "code"]


#: ``ast.parse`` from two threads at once can fail in CPython 3.11 ("AST constructor recursion depth
#: mismatch", python/cpython#106905): the kernels start in threads that read their notebooks' cells.
_PARSING = threading.Lock()


def _parse(source: str) -> ast.Module:
    with _PARSING:
        return ast.parse(source)


def cell_analysis(cell) -> str | None:
    """The analysis a notebook cell belongs to (metadata ``equity_audit.analysis``), if any."""
    return cell.get("metadata", {}).get("equity_audit", {}).get("analysis")


def prepared_notebook(step: Step, provided) -> nbformat.NotebookNode:
    """The step's notebook with the cells of each analysis that cannot run taken out.

    In their place: a markdown cell saying exactly what is missing and what the
    analysis would have shown, and a hidden cell setting the names those cells
    would have defined to ``None``, so that later cells (a section's findings)
    can leave them out.
    """
    notebook = nbformat.read(step.path, as_version=4)
    cells, explained = [], set()
    for cell in notebook.cells:  # a few dozen cells
        name = cell_analysis(cell)
        if name is None or not (declared := analysis(name)).missing(provided):
            cells.append(cell)
            continue
        # fixed cell ids, as the report's own cells have: the same district gives the same report
        if name not in explained:
            explained.add(name)
            cells.append(nbformat.v4.new_markdown_cell(declared.message(provided), id=f"not-run-{name}",
                                                       metadata={"equity_audit": {"not_run": name}}))
        if cell.cell_type == "code" and (names := _assigned_names(cell.source)):
            cells.append(nbformat.v4.new_code_cell(" = ".join([*names, "None"]), id=f"{cell.id}-not-run",
                                                   metadata={"tags": ["remove-cell"]}))
    notebook.cells = cells
    return notebook


def _assigned_names(source: str) -> list[str]:
    """Names bound at the top level of a cell (``a = ...``, ``a, b = ...``)."""
    names = []
    for node in _parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def steps(folder: Path | None = None) -> list[Step]:
    """The audit notebooks in run order (their names start with a number)."""
    folder = folder or notebook_dir()
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    return [Step(p.stem, p) for p in found]


def run_step(step: Step, *, data_dir: Path, run_dir: Path, config_path: str = "",
             progress: bool = False, timeout: int = 1800, provided=None, kernel: WarmKernel | None = None) -> Path:
    """Execute one notebook with papermill into ``run_dir/confidential/notebooks``.

    With ``provided`` (the district's tables), the cells of every analysis whose
    inputs are missing are replaced by a note saying what is missing
    (:func:`prepared_notebook`). With ``kernel``, the notebook runs on that
    (already started) kernel, which stays running; otherwise on a new one.
    Raises :class:`StepFailedError` naming the notebook and cell on failure.
    """
    out = confidential_dir(run_dir) / "notebooks" / step.path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"data_dir": str(data_dir), "run_dir": str(run_dir), "config_path": config_path}
    with tempfile.TemporaryDirectory(prefix="equity-audit-") as folder:
        source = step.path
        if provided is not None:  # a file, so that the run records a path, not a whole notebook
            source = Path(folder) / step.path.name
            nbformat.write(prepared_notebook(step, provided), source)
        return _execute(step, source, out, parameters, run_dir=run_dir, progress=progress, timeout=timeout,
                        kernel=kernel)


class _SavedWhenItEnds(NotebookExecutionManager):
    """papermill's record of a running notebook, written when the notebook ends (run or failed).

    papermill writes the whole executed notebook at the start and at the end of every
    cell: 414 writes of notebooks growing to a megabyte or more of charts in a run of
    the bundled district, 16 now. The record is still written during a long cell
    (every ``autosave_cell_every`` seconds), and at the end whatever stopped it, so a
    failed run shows the cell that failed.
    """

    _quiet = False

    def cell_start(self, cell, cell_index=None, **kwargs):
        self._without_saving(super().cell_start, cell, cell_index, **kwargs)

    def cell_complete(self, cell, cell_index=None, **kwargs):
        self._without_saving(super().cell_complete, cell, cell_index, **kwargs)

    def save(self, **kwargs):
        if not self._quiet:
            super().save(**kwargs)

    def _without_saving(self, method, *args, **kwargs):
        self._quiet = True
        try:
            method(*args, **kwargs)
        finally:
            self._quiet = False


class _Engine(NBClientEngine):
    """papermill's nbclient engine with the notebook written when it ends (:class:`_SavedWhenItEnds`)."""

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        # papermill's Engine.execute_notebook with the manager above
        nb_man = _SavedWhenItEnds(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                  autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


ENGINE_NAME = "equity-audit"
papermill_engines.register(ENGINE_NAME, _Engine)


def _execute(step: Step, source: Path, out: Path, parameters: dict, *, run_dir: Path, progress: bool,
             timeout: int, kernel: WarmKernel | None = None) -> Path:
    started = {"km": kernel.manager} if kernel is not None else {}  # papermill leaves a given kernel running
    try:
        pm.execute_notebook(
            str(source), str(out), parameters=parameters, kernel_name="python3", engine_name=ENGINE_NAME,
            # the kernel starts in the run folder; papermill's own cwd= would chdir this whole process,
            # which notebooks running side by side in threads would leave in a wrong (later moved) folder
            language="python", resources={"metadata": {"path": str(run_dir)}}, progress_bar=progress,
            execution_timeout=timeout, log_output=False,
            kernel_manager_class=IPCKernelManager,  # no TCP port, no "without encryption" warning
            **started,
        )
    except pm.PapermillExecutionError as err:
        first_line = next(iter(err.source.strip().splitlines()), "")
        raise StepFailedError(step.name, err.exec_count, f"{err.ename}: {err.evalue}", out,
                              first_line) from None
    except DeadKernelError:
        raise StepFailedError(step.name, None, "its Python process ended without an error message (out of memory, "
                              "or a library that crashed); the notebook saved so far shows the last cell that "
                              "ran", out) from None
    return out


def _not_run_message(declared, provided, section_missing: list[str]) -> str:
    """Why an analysis of a skipped section did not run: its own missing inputs, else the section's."""
    if declared.missing(provided):
        return declared.message(provided)
    return (f"**{declared.title}** was not run: its own tables were provided, but this section could not "
            f"start without the {' or the '.join(section_missing)} table(s).")


def skipped_notebook(step: Step, missing: list[str], run_dir: Path, provided=None) -> Path:
    """A notebook saying why a section could not run and, per analysis, what is missing."""
    title = nbformat.read(step.path, as_version=4).cells[0].source.splitlines()[0]
    text = (f"{title}\n\nThis section could not be run: it needs the "
            f"{' or the '.join(missing)} table(s), which the district did not provide. "
            "The data dictionary (templates/data/README.md) says what each holds and where it "
            "comes from in the student information system.")
    cells = [nbformat.v4.new_markdown_cell(text, id="section-not-run")]
    provided = provided if provided is not None else set()
    cells += [nbformat.v4.new_markdown_cell(_not_run_message(analysis(name), provided, missing), id=f"not-run-{name}",
                                            metadata={"equity_audit": {"not_run": name}})
              for name in step.analyses]
    out = confidential_dir(run_dir) / "notebooks" / step.path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), out)
    return out


def step_groups(all_steps: list[Step]) -> list[list[tuple[int, Step]]]:
    """The steps, numbered from 1, in the groups that run one after another.

    The first step (the data overview) runs alone; the steps between it and the
    last read only the validated district, never each other's output, so they
    form one group that may run at the same time; the last step (strategies)
    reads the findings of all the others and runs alone at the end.

    >>> [[n for n, _ in g] for g in step_groups([Step(str(i), Path()) for i in range(5)])]
    [[1], [2, 3, 4], [5]]
    """
    numbered = list(enumerate(all_steps, start=1))
    return [group for group in (numbered[:1], numbered[1:-1], numbered[1:][-1:]) if group]


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity): shared among the kernels that run at once."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class Kernels:
    """The kernels of one run: each started ahead of its step, and kept for the step's next pass.

    A kernel starts (and loads its notebook's imports) in the background while
    the steps before it run: :meth:`prepare`. A step that reads only the district
    keeps its kernel after it ran, with the memo of :mod:`equity_audit.app.memo`,
    so that a second pass after the joint disclosure audit recomputes only what
    the audit can change; a step that reads the others' results gets a new kernel
    every pass. :meth:`close` ends every kernel. ``threads`` caps the numeric
    thread pools of each kernel (:func:`~equity_audit.app.kernels.thread_limits`).
    """

    def __init__(self, run_dir: Path, *, threads: int | None = None):
        self.run_dir = run_dir
        self.threads = threads
        self._starting: dict[str, Future] = {}
        self._kept: dict[str, WarmKernel] = {}
        self._handing_over: dict[str, tuple[Step, Future]] = {}
        self._lock = threading.Lock()
        # two at a time: while the first kernels start, this process still loads its own imports and validates
        # the district on one core; the kernels are started in order, so the first is ready first
        self._starter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="equity-audit-kernel")

    def prepare(self, upcoming: list[Step]) -> None:
        """Start kernels for ``upcoming`` steps in the background, in order (none for a kept one)."""
        with self._lock:
            for step in upcoming:
                if step.name not in self._starting and step.name not in self._kept:
                    self._starting[step.name] = self._starter.submit(self._start, step)

    def hand_over(self, finished: Step, upcoming: Step) -> None:
        """Run ``upcoming`` on ``finished``'s kernel once ``finished`` ran, instead of starting one for it.

        The kernel is readied as a fresh one would be (:func:`equity_audit.app.memo.new_notebook`)
        with its modules loaded: a kernel's start and imports are about two CPU-seconds, and the
        kernels of the steps that run side by side start while the first step runs, on the
        same cores. ``finished`` gets a new kernel if it runs again. Call it before
        :meth:`prepare` of ``upcoming``, and only for a ``finished`` step that will run (it
        must be handed back with :meth:`done`).
        """
        with self._lock:
            if upcoming.name in self._starting or upcoming.name in self._kept or finished.reads_results:
                return
            handed = Future()
            self._starting[upcoming.name] = handed
            self._handing_over[finished.name] = (upcoming, handed)

    def take(self, step: Step) -> WarmKernel:
        """The kernel for ``step``'s run: kept from its previous pass, started ahead, or started now."""
        with self._lock:
            kept = self._kept.pop(step.name, None)
            starting = self._starting.pop(step.name, None)
        if kept is not None:
            kept.run("__import__('equity_audit.app.memo', fromlist=['next_pass']).next_pass()")
            return kept
        return starting.result() if starting is not None else self._start(step)

    def done(self, step: Step, kernel: WarmKernel) -> None:
        """Hand back the kernel ``step`` ran on: kept when its next pass may reuse what it computed."""
        if step.reads_results:
            kernel.shutdown()
            return
        with self._lock:
            upcoming, handed = self._handing_over.pop(step.name, (None, None))
            if upcoming is None:
                self._kept[step.name] = kernel
        if upcoming is None:
            return
        if not handed.set_running_or_notify_cancel():  # the run was stopped meanwhile
            kernel.shutdown()
            return
        try:
            handed.set_result(self._readied(kernel, upcoming))
        except BaseException as error:
            handed.set_exception(error)
            raise

    def _readied(self, kernel: WarmKernel, step: Step) -> WarmKernel:
        """``kernel``, its last notebook's names cleared and ``step``'s imports loaded; a new one if it cannot be."""
        try:
            if kernel.run("__import__('equity_audit.app.memo', fromlist=['new_notebook']).new_notebook()"):
                kernel.run(self._imports(step))
                return kernel
        except Exception:  # a kernel that died with its notebook: the next step starts its own
            pass
        kernel.shutdown()
        return self._start(step)

    def close(self) -> None:
        """End every kernel, started or kept."""
        with self._lock:
            starting, kept = list(self._starting.values()), list(self._kept.values())
            self._starting.clear()
            self._kept.clear()
        for future in starting:
            future.cancel()
        self._starter.shutdown(wait=True)
        ended = [*kept, *(f.result() for f in starting if not f.cancelled() and f.exception() is None)]
        with ThreadPoolExecutor(max_workers=max(1, len(ended)), thread_name_prefix="equity-audit-end") as pool:
            list(pool.map(WarmKernel.shutdown, ended))  # each stops its kernel and waits for it to end: all at once

    def _start(self, step: Step) -> WarmKernel:
        setup = self._imports(step)
        if not step.reads_results:
            setup += "\n__import__('equity_audit.app.memo', fromlist=['install']).install()"
        return WarmKernel(self.run_dir, setup, threads=self.threads)

    @staticmethod
    def _imports(step: Step) -> str:
        # the imports run in a throwaway namespace: the notebook's own names stay for its cells
        return f"exec(compile({step.imports!r}, '<imports>', 'exec'), {{}})"


def _run_group(group: list[tuple[int, Step]], total: int, district, *, data_dir: Path, run_dir: Path,
               config_path: str, log, progress: bool, workers: int | None,
               kernels: "Kernels | None" = None) -> list[Path]:
    """Run the steps of one group, at most ``workers`` at a time; their notebooks in step order.

    Each step runs its own kernel, so threads suffice: the work is in the kernels.
    A failing step raises its :class:`StepFailedError` once the steps already
    running have finished (they write only into the building folder).
    """
    # by default the whole group at once, whatever the cores: which notebook takes longest depends on the
    # district (the bias notebook at 100,000 students, unmet need on the bundled one), and one that waits for
    # a core finishes last; side by side, the cores share the work until the last one ends
    workers = min(len(group), workers or len(group))
    lock = threading.Lock()  # progress lines from several threads stay whole

    def say(message: str) -> None:
        with lock:
            log(message)

    # a progress bar per notebook would interleave on one line: only a step running alone draws one
    run = partial(_run_numbered, total=total, district=district, data_dir=data_dir, run_dir=run_dir,
                  config_path=config_path, log=say, progress=progress and workers == 1, kernels=kernels)
    if workers == 1:
        return [run(number, step) for number, step in group]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="equity-audit-step") as pool:
        futures = [pool.submit(run, number, step) for number, step in group]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [future for future in futures if future in done and future.exception() is not None]
        if failed:
            for future in futures:
                future.cancel()  # those not started yet; the running ones finish
            raise failed[0].exception()
        return [future.result() for future in futures]


def _run_numbered(number: int, step: Step, *, total: int, district, data_dir: Path, run_dir: Path,
                  config_path: str, log, progress: bool, kernels: "Kernels | None" = None) -> Path:
    """Run (or skip, saying why) step ``number`` of ``total``, logging its progress.

    With ``kernels``, the step runs on the kernel they hold for it (started ahead,
    or kept from its previous pass) and hands it back afterwards.
    """
    started, counter = time.perf_counter(), f"[{number}/{total}]"
    if missing := step.missing(district.tables):
        log(f"{counter} {step.name} skipped: it needs {' or '.join(missing)}")
        return skipped_notebook(step, missing, run_dir, district.tables)
    not_run = [name for name in step.analyses if analysis(name).missing(district.tables)]
    log(f"{counter} {step.name} ..." + (f" (without {', '.join(not_run)}: inputs missing)" if not_run else ""))
    kernel = kernels.take(step) if kernels is not None else None
    try:
        out = run_step(step, data_dir=data_dir, run_dir=run_dir, config_path=config_path,
                       progress=progress, provided=district.tables, kernel=kernel)
    finally:
        if kernel is not None:
            kernels.done(step, kernel)
    log(f"{counter} {step.name} done in {time.perf_counter() - started:.1f} s")
    return out


def run_audit(data_dir: str | Path, out_dir: str | Path, config_path: str | Path | None = None, *,
              log: Callable[[str], None] = print, progress: bool | None = None,
              workers: int | None = None, threads: int | None = None) -> Path:
    """Validate ``data_dir``, run every notebook into ``out_dir`` and write the report.

    The notebooks that do not depend on each other run at the same time, at most
    ``workers`` at once (default: all of them, sharing the cores; 1 runs them one
    after another, e.g. when several audits already run side by side or memory is
    short: each kernel holds its own copy of the district). ``threads`` caps the
    numeric threads of each notebook's kernel (default: the cores shared among the
    notebooks that run at once; audits run side by side pass their own share).

    The run is built in a fresh folder beside ``out_dir`` that replaces it only
    when the whole run succeeds, so nothing from an earlier run survives into a
    new report, and a failed run leaves the previous results as they were. The
    folders and files are readable by their owner only.

    Returns the path of ``report.html``. Data problems raise
    :class:`~equity_audit.exceptions.DataValidationError` before any notebook runs.
    """
    data_dir, run_dir = Path(data_dir).resolve(), Path(out_dir).resolve()
    config_path = str(Path(config_path).resolve()) if config_path else ""
    config = load_config(config_path)
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    _check_replaceable(run_dir)
    build = building_folder(run_dir)
    shutil.rmtree(build, ignore_errors=True)
    previous_umask = os.umask(0o077)  # kernels inherit it: every file of the run is owner-only
    try:
        build.mkdir(parents=True)
        (build / RUN_MARKER).write_text("An equity-audit run folder.\n", encoding="utf-8")
        written = _build(data_dir, build, config, config_path, log=log, progress=progress,
                         workers=workers, threads=threads)
    finally:
        os.umask(previous_umask)
    _replace(run_dir, build)
    for label, name in written:
        log(f"{label} written to {run_dir / name}")
    return run_dir / REPORT_NAME


def building_folder(run_dir: Path) -> Path:
    """The hidden sibling folder a run is built in before it replaces ``run_dir``.

    The executed notebooks record this folder as their ``run_dir`` parameter,
    because that is where they wrote while the run was being built.
    """
    return run_dir.with_name(f".{run_dir.name}.building")


#: More runs of the notebooks, at most, after the joint disclosure audit withheld more.
MAX_AUDIT_PASSES = 3

#: File that marks a folder as an audit run, so a rerun may replace it.
RUN_MARKER = ".equity-audit-run"


def _check_replaceable(run_dir: Path) -> None:
    """Refuse to replace a folder that holds anything but an earlier run."""
    if run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / RUN_MARKER).exists() \
            and not (run_dir / REPORT_NAME).exists():
        raise ConfigError(f"The output folder {run_dir} already holds files that are not an audit run; "
                          "choose a new or empty folder for --out.")


def _replace(run_dir: Path, build: Path) -> None:
    old = run_dir.with_name(f".{run_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if run_dir.exists():
        run_dir.rename(old)
    build.rename(run_dir)
    shutil.rmtree(old, ignore_errors=True)


def _run_notebooks(district, data_dir: Path, run_dir: Path, config_path: str, cover: dict, *, log,
                   progress, workers: int | None = None, only: Callable[[Step], bool] | None = None,
                   kernels: Kernels | None = None) -> list[Path]:
    """Execute (or skip, naming what is missing) every notebook in order; the executed notebooks' paths.

    The steps of a group (:func:`step_groups`) run at the same time, at most ``workers`` at
    once. With ``only``, the notebooks it rejects keep what they wrote in the previous pass.
    """
    executed, all_steps = [], steps()
    for group in step_groups(all_steps):
        todo = [(number, step) for number, step in group if only is None or only(step)]
        if any(step.reads_results for _, step in todo):
            # findings.json (and confidential/findings.json) from every table written so far, for the step that
            # reads the findings of the steps before it (strategies); without the tables, which it never reads.
            # The pipeline writes it whole once more, after the disclosure audit.
            write_findings(run_dir, cover=cover)
        ran = dict(zip((step.name for _, step in todo),
                       _run_group(todo, len(all_steps), district, data_dir=data_dir, run_dir=run_dir,
                                  config_path=config_path, log=log, progress=progress, workers=workers,
                                  kernels=kernels)
                       if todo else []))
        executed += [ran.get(step.name, confidential_dir(run_dir) / "notebooks" / step.path.name)
                     for _, step in group]
    return executed


def _build(data_dir: Path, run_dir: Path, config, config_path: str, *, log, progress,
           workers: int | None = None, threads: int | None = None) -> list:
    """Run every step into ``run_dir``; the (label, file name) of each output written."""
    # kernels side by side share the cores: more threads each would only wait on one another
    at_once = workers or max(len(group) for group in step_groups(steps()))
    kernels = Kernels(run_dir, threads=threads or max(1, usable_cores() // at_once))
    try:
        kernels.prepare(steps()[:1])  # the overview's kernel starts while the data is validated
        cover, executed = _run_passes(data_dir, run_dir, config, config_path, log=log, progress=progress,
                                                workers=workers, kernels=kernels)
    except BaseException:
        kernels.close()
        raise
    # ending the kernels takes seconds of waiting on them: meanwhile the report is written
    ending = threading.Thread(target=kernels.close, name="equity-audit-end-kernels")
    ending.start()
    try:
        return _publish(run_dir, config, cover, executed, log=log)
    finally:
        ending.join()


def _run_passes(data_dir: Path, run_dir: Path, config, config_path: str, *, log, progress, workers: int | None,
                kernels: Kernels) -> tuple:
    """Validate, run the notebooks and the joint disclosure audit until it finds nothing new.

    Returns the report's cover and the executed notebooks' paths.
    """
    log(f"Validating {data_dir} ...")
    district = open_district(data_dir, run_dir, config)
    log(f"  {len(district['students']):,} students; {len(district.tables)} tables provided.")
    runnable = [step for step in steps() if not step.missing(district.tables)]
    early = [step for step in runnable if not step.runs_after_audit]
    if len(early) > 1 and early[0] == steps()[0]:
        kernels.hand_over(early[0], early[1])  # the overview's kernel, its modules loaded, runs the next notebook
    kernels.prepare(early)
    profiles, _ = _report_modules()  # imported while the kernels start
    cover = {"district_name": district_label(config.district_name, data_dir), "version": __version__,
             "period": data_period(student_years(district["enrollments"])),
             "settings": config.as_dict(), "generated": date.today().isoformat()}
    executed = _run_notebooks(district, data_dir, run_dir, config_path, cover, log=log, progress=progress,
                              workers=workers, kernels=kernels, only=lambda step: not step.runs_after_audit)
    profiles.write_school_composition(run_dir, district, min_n=config.min_n)  # school profiles: audited with the rest
    # One false-discovery family for the whole audit: every p-value is known now, so the flags each table's
    # own control raised are weighed against every test of the run; a notebook whose table loses one runs again
    unflagged = audit_wide.compute(run_dir, config.fdr)
    if unflagged:
        log(f"The audit-wide false discovery control keeps fewer flags in {len(unflagged)} "
            f"table{'s' if len(unflagged) != 1 else ''}; the notebooks that show them run again")
    # Every table jointly: the audit may withhold more. What it withholds, the notebooks' own tables, charts
    # and alt texts showed already; run them again so that they withhold it too, until nothing new is found.
    # A notebook that read only the district runs again in the kernel it ran in, recomputing only what reads
    # the withheld cells (equity_audit.app.memo). Then the notebooks that read the others' results (strategies)
    # run, in kernels started while the audit ran; the audit runs once more only if their tables have margins
    # that it links to the others' (a plan drawn from the findings has none).
    late, late_ran, reruns = [step for step in runnable if step.runs_after_audit], False, 0
    while True:
        if not late_ran:
            kernels.prepare(late)
        ledger = audit_release(run_dir, min_n=config.min_n)
        newly = ledger.attrs.get("newly_withheld", 0)
        if not newly and not unflagged:
            if late_ran:
                break
            executed = _run_notebooks(district, data_dir, run_dir, config_path, cover, log=log, progress=progress,
                                      workers=workers, kernels=kernels, only=lambda step: step.runs_after_audit)
            late_ran = True
            if links_tables(run_dir, {name for step in late for name in step.tables_written}, min_n=config.min_n):
                continue
            break
        if reruns == MAX_AUDIT_PASSES:
            raise StepFailedError("disclosure audit", None, "the joint disclosure audit still found cells to "
                                  f"withhold after {MAX_AUDIT_PASSES} more runs of the notebooks", run_dir / "tables")
        if newly:
            log(f"The joint disclosure audit withheld {newly} more cell{'s' if newly != 1 else ''}; running the "
                "notebooks again so that the report withholds them too")
        touched = set(ledger.loc[ledger["action"].str.startswith("withheld"), "table"]) | unflagged
        unflagged = set()  # the control is applied from the second pass on: p-values do not change
        reruns, late_ran = reruns + 1, False
        executed = _run_notebooks(district, data_dir, run_dir, config_path, cover, log=log, progress=progress,
                                  workers=workers, kernels=kernels,
                                  only=lambda step: not step.runs_after_audit and bool(step.tables_written & touched))
    return cover, executed


def _publish(run_dir: Path, config, cover: dict, executed: list[Path], *, log) -> list:
    """Write the findings, school profiles, report, workbook and PDFs; the (label, file name) of each.

    One Chromium, in a thread, prints the school profiles while this thread renders
    the report, then the report while this one writes the workbook (Chromium works
    in its own processes).
    """
    profiles, render = _report_modules()
    findings_json = write_findings(run_dir, cover=cover, with_tables=True).name
    appendix = profiles.write_profiles(run_dir, log=log, pdfs=False)  # school pages and the report's last appendix
    pages = [(page, page.with_suffix(".pdf"), cover["district_name"]) for page in profiles.profile_pages(run_dir)]
    report_ready: queue.SimpleQueue = queue.SimpleQueue()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="equity-audit-pdf") as printer:
        printing = printer.submit(render.print_pdfs, _then(pages, report_ready))
        try:
            report = render.render_report(executed, run_dir / REPORT_NAME, cover=cover, appendices=[appendix])
            report_ready.put((report, report.with_suffix(".pdf"), cover["district_name"]))
        finally:
            report_ready.put(None)  # the printer ends after the report, or after the profiles if it failed
        written = [("Report", report.name), ("Workbook", render.write_workbook(run_dir).name),
                   ("Findings (JSON)", findings_json)]
        printed = printing.result()
    profiles.write_index(run_dir)  # links each school's PDF when it was printed
    if printed:
        log(f"PDF printed in {time.perf_counter() - started:.1f} s (with the {len(pages)} school profiles' PDFs)")
        written.append(("PDF", printed[-1].name))
    elif render.find_chromium() is None:
        log(render.NO_PDF_MESSAGE)
    return written


def _report_modules():
    """The modules that write the school profiles and the report: ``(profiles, render)``.

    They load matplotlib, nbconvert and openpyxl, about 0.7 s: imported once the
    first kernels are starting, not before, so that the data overview's kernel
    starts that much sooner.
    """
    from equity_audit.publish import profiles, render

    return profiles, render


def _then(pages: list, more: queue.SimpleQueue):
    """``pages``, then each page put on ``more`` until None: what the printer prints, as it is written."""
    yield from pages
    while (page := more.get()) is not None:
        yield page
