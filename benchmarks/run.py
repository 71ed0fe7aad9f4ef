"""`make bench`: whole-process wall time and peak memory of the audit.

Each case runs in a fresh process (`equity-audit ...`), so the numbers include
start-up, the notebook kernels and rendering, as a district would experience them.
Peak memory is the largest resident set of any process in the run's tree.
The papermill floor is one notebook holding only the audit notebooks' imports, executed by the
papermill command (process start, kernel start, imports), and again without the iri checker that the
audit's command leaves out (a stricter floor): the bundled district's whole audit is
printed as a multiple of it. Targets (issue 16): bundled district <= 7x that floor (about 21-30 s);
100,000 students no slower than 93 s and no more than 1.7 GB.
Then the engine against its peers (engine.py) and the lazy reductions on DuckDB at 10k, 100k and
1M students and on Spark at 100k (lazy.py).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "equity_audit.app.cli"]
PAPERMILL = [sys.executable, "-m", "papermill", "--kernel", "python3", "--no-progress-bar"]
# the same, less the 0.8 s its jsonschema spends importing rfc3987_syntax, which the audit's command leaves
# out too (equity_audit.app.cli.skip_iri_checker): the stricter floor
PAPERMILL_STRICT = [sys.executable, "-c", "import sys; sys.modules['rfc3987_syntax'] = None; "
                    "from papermill.cli import papermill; papermill()", "--kernel", "python3", "--no-progress-bar"]

#: Target of issue 16: the bundled district's whole audit in at most this many papermill floors.
FLOOR_MULTIPLE = 7


def child(args: list[str]) -> int:
    """Run the command and report its time and peak memory (fresh rusage per case)."""
    papermill = {"papermill": PAPERMILL, "papermill-strict": PAPERMILL_STRICT}.get(args[0])
    command = papermill + args[1:] if papermill else [*CLI, *args]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if papermill else None)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
    return 0


def measure(label: str, args: list[str]) -> dict:
    """Time one command in a fresh wrapper process, so peak memory is this case's alone."""
    result = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                            capture_output=True, text=True)
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{label:<44} {numbers['seconds']:8.1f} s   peak {numbers['peak_mb']:8.0f} MB", flush=True)
    return numbers


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    work = Path(tempfile.mkdtemp(prefix="equity-bench-"))
    big = work / "district_100k"
    print(f"{'case':<44} {'wall':>10}   {'memory':>13}")
    notebook = floor_notebook(work)
    floors = {"papermill": measure("papermill floor: one notebook of imports", ["papermill", *notebook]),
              "without the iri checker": measure("  the same without the iri checker", ["papermill-strict", *notebook])}
    bundled = measure("audit, bundled district (2,000 students)",
                      ["run", "--data", str(REPO / "data" / "synthetic"), "--out", str(work / "small")])
    for name, floor in floors.items():
        ratio = bundled["seconds"] / floor["seconds"]
        print(f"  bundled / floor ({name}): {ratio:.1f} x, target <= {FLOOR_MULTIPLE} x "
              f"({FLOOR_MULTIPLE * floor['seconds']:.1f} s): {'met' if ratio <= FLOOR_MULTIPLE else 'not met'}", flush=True)
    measure("synth, 100,000 students (Parquet)",
            ["synth", "--students", "100000", "--seed", "1", "--format", "parquet", "--out", str(big)])
    measure("validate, 100,000 students", ["validate", "--data", str(big)])
    measure("audit, 100,000 students", ["run", "--data", str(big), "--out", str(work / "big")])
    print(f"(runs kept in {work})\n")
    subprocess.run([sys.executable, str(Path(__file__).with_name("engine.py"))], check=True)
    print()
    subprocess.run([sys.executable, str(Path(__file__).with_name("lazy.py"))], check=True)
    return 0


def floor_notebook(work: Path) -> list[str]:
    """A notebook of the audit notebooks' imports (all of them), and where papermill writes it run."""
    import nbformat

    from equity_audit.app.pipeline import steps

    imports = "\n".join(dict.fromkeys(line for step in steps() for line in step.imports.splitlines()))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(imports)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = work / "floor.ipynb"
    nbformat.write(notebook, source)
    return [str(source), str(work / "floor_run.ipynb")]


if __name__ == "__main__":
    sys.exit(main())
