"""The lazy reductions on DuckDB at 10k, 100k and 1M students from Parquet, and on Spark at 100k.

`make bench` runs it after the whole-audit cases (issue 16, item 4). Per scale, a vectorised
generator writes students (one row each) and evidence (about 200 rows a student: 200M rows at 1M)
as Parquet in chunks; then a fresh process runs the reductions of :mod:`equity_audit.lazy`
(disaggregation with the joint main-effects model, a funnel scan of schools, a within-school gap
scan, the IDEA risk ratios per school and the LEA determinations, the evidence roll-up per student
and standard, the pace sums per student and domain). Wall time and peak memory (the largest
resident set of the process and its children, the JVM for Spark, sampled every 0.1 s) are printed
with the growth factor per 10x students. Targets: 1M students in <= 15 min and <= 8 GB on 2 cores.

    python benchmarks/lazy.py                        # 10k, 100k, 1M on DuckDB and 100k on Spark
    python benchmarks/lazy.py --students 10000 100000 --spark 0
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

GROUPS = ["race_ethnicity", "english_learner", "disability", "low_income"]
CHUNK = 50_000  # students per evidence file: 10M rows at 200 a student


def write_students(folder: Path, n: int, seed: int = 0) -> None:
    """One row per student: four groups (flags with blanks), a school and its LEA, a school year, 0/1 outcomes
    and a score."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    race = rng.integers(0, 7, n)
    flags = {c: pa.array(rng.random(n) < p, mask=rng.random(n) < 0.01)
             for c, p in zip(GROUPS[1:], (0.12, 0.14, 0.45))}
    risk = 0.25 + 0.05 * (race == 2) + 0.1 * np.asarray(flags["english_learner"].fill_null(False))
    schools = rng.integers(0, max(n // 500, 2), n).astype(np.int32)
    table = pa.table({
        "student_id": np.arange(n, dtype=np.int64),
        "race_ethnicity": pa.DictionaryArray.from_arrays(race.astype(np.int8), [f"G{i}" for i in range(7)]),
        **flags,
        "school_id": pa.DictionaryArray.from_arrays(schools, [f"SCH{i:04d}" for i in range(max(n // 500, 2))]),
        "below_pace": (rng.random(n) < risk).astype(np.float64),
        "score": np.round(rng.normal(2.6, 0.7, n) * 4) / 4,
        # IDEA: 20 schools an LEA, three school years, out-of-school suspension
        "lea": pa.DictionaryArray.from_arrays((schools // 20).astype(np.int32),
                                              [f"LEA{i:03d}" for i in range(max(n // 500, 2) // 20 + 1)]),
        "school_year": rng.integers(2024, 2027, n).astype(np.int16),
        "any_oss": (rng.random(n) < risk / 4).astype(np.int8),
    })
    pq.write_table(table, folder / "students.parquet")


def write_evidence(folder: Path, n: int, per_student: int, seed: int = 1) -> int:
    """Scored evidence in chunks of students: 20 standards in two domains over two school years."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "evidence").mkdir()
    standards = [f"{d}.{k:02d}" for d in ("MATH", "ELA") for k in range(10)]
    start = np.datetime64("2023-08-21", "D").astype(np.int32)
    rng = np.random.default_rng(seed)
    for first in range(0, n, CHUNK):
        size = min(CHUNK, n - first) * per_student
        standard = rng.integers(0, 20, size).astype(np.int8)
        pq.write_table(pa.table({
            "student_id": np.repeat(np.arange(first, min(first + CHUNK, n), dtype=np.int64), per_student),
            "standard_id": pa.DictionaryArray.from_arrays(standard, standards),
            "domain": pa.DictionaryArray.from_arrays((standard >= 10).astype(np.int8), ["math", "ela"]),
            "assessed_on": pa.array(start + rng.integers(0, 660, size).astype(np.int32), pa.date32()),
            "score": rng.integers(1, 5, size).astype(np.float64),
        }), folder / "evidence" / f"part-{first // CHUNK:05d}.parquet")
    return n * per_student


def reductions(students, evidence) -> dict:
    """Run the reductions on ``students``/``evidence`` (paths or Spark frames); seconds and sizes."""
    from equity_audit import lazy
    from equity_audit.questions import state

    timings, sizes = {}, {}
    steps = {
        "disaggregate": lambda: lazy.disaggregate(students, "below_pace", by=GROUPS[:2], adjust_for=GROUPS),
        "scan": lambda: lazy.scan_rates(students, unit="school_id", outcome="below_pace", min_n=30),
        "gap_scan": lambda: lazy.scan_gaps(students, unit="school_id", group="english_learner", focus=True,
                                           outcome="score", min_n=30),
        "idea_schools": lambda: lazy.risk_ratios(students, group="race_ethnicity", outcome="any_oss", by="school_id",
                                                 population="disability", threshold=2.0),
        "idea_leas": lambda: state.determinations(lazy.idea_counts(students, state.CATEGORIES))[1],
        "evidence_rollup": lambda: lazy.evidence_rollup(evidence),
        "pace_sums": lambda: lazy.pace_from_sums(lazy.pace_sums(evidence, date="assessed_on", level="score")),
    }
    for name, step in steps.items():
        started = time.perf_counter()
        sizes[name] = len(step())
        timings[name] = time.perf_counter() - started
    return {"steps": timings, "rows_out": sizes}


def _peak_sampler():
    """Largest resident set of this process plus its children, sampled in a thread."""
    import psutil

    me, peak, stop = psutil.Process(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            try:
                rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                rss = 0
            peak[0] = max(peak[0], rss)
            stop.wait(0.1)

    threading.Thread(target=sample, daemon=True).start()
    return peak, stop


def child(engine: str, folder: Path) -> int:
    peak, stop = _peak_sampler()
    started = time.perf_counter()
    if engine == "duckdb":
        result = reductions(folder / "students.parquet", folder / "evidence")
    else:
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").appName("equity-audit-bench")
                 .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", "8")
                 .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        result = {"start_seconds": time.perf_counter() - started}
        result |= reductions(spark.read.parquet(str(folder / "students.parquet")),
                             spark.read.parquet(str(folder / "evidence")))
    result["seconds"] = time.perf_counter() - started
    stop.set()
    result["peak_mb"] = peak[0] / 2**20
    if engine == "spark":
        spark.stop()
    print(json.dumps(result))
    return 0


def measure(engine: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", engine, str(folder)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--evidence-per-student", type=int, default=200)
    parser.add_argument("--spark", type=int, default=100_000, help="students for the Spark run (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the generated Parquet")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    work = Path(tempfile.mkdtemp(prefix="equity-lazy-"))
    print("lazy reductions from Parquet (disaggregation, school scan, gap scan, IDEA tables, evidence roll-up, "
          "pace sums)")
    print(f"{'engine':<8}{'students':>11}{'evidence rows':>15}{'generate':>10}{'wall':>9}{'peak':>10}"
          f"{'x wall':>8}{'x peak':>8}   per step (s)")
    previous = None
    spark_folder = None
    for n in sorted(set(args.students) | ({args.spark} - {0})):
        folder = work / f"n{n}"
        folder.mkdir()
        started = time.perf_counter()
        write_students(folder, n)
        rows = write_evidence(folder, n, args.evidence_per_student)
        generated = time.perf_counter() - started
        if n == args.spark:
            spark_folder = (folder, rows, generated)
        if n in args.students:
            result = measure("duckdb", folder)
            growth = ("", "") if previous is None else (f"{result['seconds'] / previous['seconds']:.1f}",
                                                         f"{result['peak_mb'] / previous['peak_mb']:.1f}")
            _print("duckdb", n, rows, generated, result, growth)
            previous = result
        if n != args.spark and not args.keep:
            shutil.rmtree(folder)
    if spark_folder is not None:
        folder, rows, generated = spark_folder
        try:
            result = measure("spark", folder)
            _print("spark", args.spark, rows, generated, result, ("", ""),
                   note=f"  (session start {result['start_seconds']:.0f} s included)")
        except (subprocess.CalledProcessError, ImportError) as error:
            print(f"spark   {args.spark:>11,}  not run: {error} (pyspark and Java 17 are needed)")
        if not args.keep:
            shutil.rmtree(folder)
    print("growth factors are per 10x students (wall, peak); targets at 1M: <= 15 min, <= 8 GB")
    if args.keep:
        print(f"(Parquet kept in {work})")
    else:
        work.rmdir()
    return 0


def _print(engine, n, rows, generated, result, growth, note=""):
    steps = " ".join(f"{k}={v:.1f}" for k, v in result["steps"].items())
    print(f"{engine:<8}{n:>11,}{rows:>15,}{generated:>9.0f}s{result['seconds']:>8.1f}s{result['peak_mb']:>8.0f}MB"
          f"{growth[0]:>8}{growth[1]:>8}   {steps}{note}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
