"""`make bench`: whole-process wall time and peak memory of the audit.

Each case runs in a fresh process (`equity-audit ...`), so the numbers include
start-up, the notebook kernels and rendering, as a district would experience them.
Peak memory is the largest resident set of any process in the run's tree.
Targets (issue 2): bundled district <= 60 s; 100,000 students <= 5 min and 6 GB.
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


def child(args: list[str]) -> int:
    """Run the command and report its time and peak memory (fresh rusage per case)."""
    started = time.perf_counter()
    subprocess.run([*CLI, *args], check=True, stdout=subprocess.DEVNULL)
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
    measure("audit, bundled district (2,000 students)",
            ["run", "--data", str(REPO / "data" / "synthetic"), "--out", str(work / "small")])
    measure("synth, 100,000 students (Parquet)",
            ["synth", "--students", "100000", "--seed", "1", "--format", "parquet", "--out", str(big)])
    measure("validate, 100,000 students", ["validate", "--data", str(big)])
    measure("audit, 100,000 students", ["run", "--data", str(big), "--out", str(work / "big")])
    print(f"(runs kept in {work})\n")
    subprocess.run([sys.executable, str(Path(__file__).with_name("engine.py"))], check=True)
    print()
    subprocess.run([sys.executable, str(Path(__file__).with_name("lazy.py"))], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
