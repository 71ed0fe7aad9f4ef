"""``equity-audit``: a small command line over the package.

Commands: ``validate`` a district folder, ``synth`` a synthetic district,
``run`` the whole audit, ``templates`` to write blank data templates,
``workshop`` to serve the workshop explorer, ``import edfi`` to turn an Ed-Fi
ODS export into a district folder.
Problems with the data or settings print a plain message and exit with code 2;
a failing notebook exits with code 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from equity_audit._version import __version__
from equity_audit.config import SETTING_DOCS, STATE_SETTING_DOCS
from equity_audit.exceptions import EquityAuditError

__all__ = ["main", "build_parser"]

_EPILOG = """\
Examples:
  equity-audit validate --data data/synthetic
  equity-audit run --data data/synthetic --out runs/demo
  equity-audit synth --level state --out /tmp/state
  equity-audit run --data /tmp/state --level state --out runs/state
  equity-audit synth --students 100000 --seed 7 --out /tmp/big --format parquet
  equity-audit workshop --data data/synthetic
  equity-audit import edfi --source edfi-export --out district
  equity-audit compare runs/last-year runs/this-year

Exit codes: 0 success; 1 an audit notebook failed; 2 a problem with the data,
the settings or the command line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="equity-audit", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Audit equity in a district moving to personalized, competency-based learning.",
    )
    parser.add_argument("--version", action="version", version=f"equity-audit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a district folder against the data contract",
                                   description="Check every file of a district folder against the data "
                                   "contract and print the row ledger (rows read, used, excluded).")
    validate.add_argument("--data", required=True, type=Path, metavar="DIR", help="district folder")
    validate.add_argument("--config", type=Path, metavar="FILE", help="YAML settings (invalid_rows, score scale)")
    validate.set_defaults(handler=_validate)

    synth = commands.add_parser("synth", help="write a synthetic district with planted inequities",
                                description="Write a complete synthetic district, with the planted "
                                "inequities recorded in manifest.json. Same seed, same bytes.")
    synth.add_argument("--students", type=int, default=2000, metavar="N", help="number of students (default 2000)")
    synth.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    synth.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write")
    synth.add_argument("--null", nargs="?", const="independent", choices=("independent", "realistic"),
                       help="plant nothing; 'independent' (the default when given alone): no group, school "
                            "or teacher differs in anything; 'realistic': correlated subgroups, real "
                            "additive group differences, school and teacher effects, growth only in "
                            "school years, and no inequity beyond them")
    synth.add_argument("--realistic", action="store_true",
                       help="realistic structure (as --null realistic) with six planted inequities on top")
    synth.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    synth.add_argument("--level", choices=("district", "state"), default="district",
                       help="'state': a state folder of LEAs (one district folder each, sizes varied, "
                            "--leas of them), one planted above the IDEA threshold three years running and one "
                            "two years only (default district)")
    synth.add_argument("--leas", type=int, default=5, metavar="N", help="LEAs of a synthetic state (default 5)")
    synth.set_defaults(handler=_synth)

    settings = "\n".join(f"  {name}: {doc}" for name, doc in SETTING_DOCS.items())
    settings += "\n" + "\n".join(f"    state.{name}: {doc}" for name, doc in STATE_SETTING_DOCS.items())
    run = commands.add_parser("run", help="run the whole audit and write report.html",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Validate the data, execute the audit notebooks in order with "
                              "papermill and write OUT/report.html.",
                              epilog=f"Settings a --config YAML file may hold:\n{settings}")
    run.add_argument("--data", required=True, type=Path, metavar="DIR", help="district folder")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="run directory to write")
    run.add_argument("--config", type=Path, metavar="FILE", help="YAML settings file")
    run.add_argument("--level", choices=("district", "state"), default="district",
                     help="'state': DIR holds one district folder per LEA (or tables with an lea_id column); "
                          "writes the LEA-level IDEA determinations, a state -> LEA -> school roll-up and one "
                          "report per LEA under OUT/leas/ (default district)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="notebooks run at the same time (default: the three sections at once; 1 runs them "
                          "one after another and needs the least memory, each kernel holding its own copy of "
                          "the district); with --level state: LEA reports built at the same time (default 2)")
    run.set_defaults(handler=_run)

    templates = commands.add_parser("templates", help="write blank CSV templates and the data dictionary",
                                    description="Write one header-only CSV per contract table and the "
                                    "data dictionary README.md.")
    templates.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write")
    templates.set_defaults(handler=_templates)

    workshop = commands.add_parser("workshop", help="serve the workshop explorer (Voila) for an equity team",
                                   description="Serve notebooks/workshop.ipynb with Voila on 127.0.0.1, "
                                   "code hidden: dropdowns for measure, school, year and subgroups, "
                                   "aggregates only. Needs the workshop extra: "
                                   "pip install equity-audit[workshop]. Stop it with Ctrl+C.")
    workshop.add_argument("--data", required=True, type=Path, metavar="DIR", help="district folder")
    workshop.add_argument("--port", type=int, default=8866, metavar="N", help="port on 127.0.0.1 (default 8866)")
    workshop.add_argument("--config", type=Path, metavar="FILE", help="YAML settings file (min_n, ...)")
    workshop.add_argument("--no-browser", action="store_true", help="do not open a browser; just print the address")
    workshop.add_argument("--token", metavar="TEXT", help="access token in the address (default: a new random one)")
    workshop.add_argument("--max-pages", type=int, default=6, metavar="N",
                          help="most pages open at once, each with its own kernel (default 6)")
    workshop.set_defaults(handler=_workshop)

    compare = commands.add_parser("compare", help="compare two audits: new, resolved and persisting findings",
                                  description="Compare an earlier audit run (e.g. last year's) with a later one: "
                                  "the findings that are new, persisting and no longer flagged, and the gaps "
                                  "that narrowed or widened beyond chance, with their 95%% intervals. Reads "
                                  "only what the runs published (findings.json and tables/).")
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="the earlier run folder")
    compare.add_argument("run_b", type=Path, metavar="RUN_B", help="the later run folder")
    compare.add_argument("--out", type=Path, metavar="FILE",
                         help="HTML page to write (default: RUN_B/comparison.html)")
    compare.set_defaults(handler=_compare)

    importer = commands.add_parser("import", help="turn a student information system export into a district folder",
                                   description="Read an export from a student information system and write "
                                   "a district folder that meets the data contract.")
    systems = importer.add_subparsers(dest="system", required=True, metavar="SYSTEM")
    edfi = systems.add_parser("edfi", help="an Ed-Fi ODS export (one folder or file per table)",
                              description="Read an Ed-Fi ODS export (one folder or file per ODS table, Parquet "
                              "or CSV; descriptor ids resolved through Descriptor) and write students, "
                              "enrollments, schools, sections, rosters, grades and discipline. Names, birth "
                              "dates and other identifiers are not imported. What the contract has no table "
                              "for (attendance, assessments) is counted and named. The folder written is "
                              "then validated.")
    edfi.add_argument("--source", required=True, type=Path, metavar="DIR", help="the Ed-Fi export folder")
    edfi.add_argument("--out", required=True, type=Path, metavar="DIR", help="district folder to write (new or empty)")
    edfi.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    edfi.set_defaults(handler=_import_edfi)
    return parser


def _validate(args) -> int:
    from equity_audit.config import load_config
    from equity_audit.data.load import load_district

    config = load_config(args.config)
    district = load_district(args.data, **config.load_options)
    print(f"{args.data}: the data meets the contract.\n")
    print(district.ledger.to_string(index=False))
    if len(district.exclusions):
        print("\nExcluded rows:\n" + district.exclusions.to_string(index=False))
    for note in district.notes:
        print(f"Note: {note}")
    return 0


def _synth(args) -> int:
    from equity_audit.data.synthetic import write_district

    if args.level == "state":
        from equity_audit.data.synthetic_state import write_state

        manifest = write_state(args.out, leas=args.leas, seed=args.seed, fmt=args.format)
        print(f"Synthetic state of {args.leas} LEAs written to {args.out} (ground truth: {manifest}).")
        return 0
    null = {None: False, "independent": True, "realistic": "realistic"}[args.null]
    manifest = write_district(args.out, students=args.students, seed=args.seed,
                              null=null, fmt=args.format, realistic=args.realistic)
    print(f"Synthetic district written to {args.out} (ground truth: {manifest}).")
    return 0


def _compare(args) -> int:
    from equity_audit.publish.compare import write_comparison

    out = write_comparison(args.run_a, args.run_b, args.out or Path(args.run_b) / "comparison.html")
    print(f"Comparison written to {out}")
    return 0


def _run(args) -> int:
    from equity_audit.app.pipeline import run_audit

    if args.workers is not None and args.workers < 1:
        raise EquityAuditError(f"--workers must be 1 or more, not {args.workers}")
    if args.level == "state":
        from equity_audit.app.state import run_state

        run_state(args.data, args.out, args.config, workers=args.workers or 2)
        return 0
    run_audit(args.data, args.out, args.config, workers=args.workers)
    return 0


def _templates(args) -> int:
    from equity_audit.data.dictionary import write_templates

    written = write_templates(args.out)
    print(f"Wrote {len(written)} files to {args.out}.")
    return 0


def _import_edfi(args) -> int:
    from equity_audit.data.edfi import import_edfi
    from equity_audit.data.load import load_district

    result = import_edfi(args.source, args.out, fmt=args.format)
    written = ", ".join(f"{name} {rows:,}" for name, rows in result.rows.items())
    print(f"Imported the Ed-Fi export {args.source} into {args.out}: {written} rows.")
    for line in result.left_out:
        print(f"Left out: {line}")
    for note in result.notes:
        print(f"Note: {note}")
    district = load_district(args.out)
    if len(district.exclusions):
        print("Rows the validator left out:\n" + district.exclusions.to_string(index=False))
    print(f"{args.out}: the data meets the contract. Run the audit with: "
          f"equity-audit run --data {args.out} --out RUN_DIR")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _workshop(args) -> int:
    import importlib.util
    import secrets
    import signal
    import shutil
    import subprocess
    import tempfile

    import nbformat

    from equity_audit.config import load_config
    from equity_audit.data.load import load_district
    from equity_audit.paths import notebook_dir

    missing = [name for name in ("voila", "ipywidgets") if importlib.util.find_spec(name) is None]
    if missing:
        raise EquityAuditError(f"the workshop needs {' and '.join(missing)}, which is not installed: "
                               "pip install 'equity-audit[workshop]'")
    if not 0 < args.port < 65536:
        raise EquityAuditError(f"--port must be between 1 and 65535, not {args.port}")
    if args.max_pages < 1:
        raise EquityAuditError(f"--max-pages must be 1 or more, not {args.max_pages}")
    config = load_config(args.config)
    load_district(args.data, **config.load_options)  # validate first

    source = notebook_dir() / "workshop.ipynb"
    notebook = nbformat.read(source, as_version=4)
    values = {"data_dir": str(args.data.resolve()), "run_dir": str(Path.cwd()),
              "config_path": str(args.config.resolve()) if args.config else ""}
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    folder = Path(tempfile.mkdtemp(prefix="equity-audit-workshop-"))
    try:
        path = folder / "workshop.ipynb"
        nbformat.write(notebook, path)
        token = args.token or secrets.token_urlsafe(24)
        command = [sys.executable, "-m", "voila", str(path), f"--port={args.port}", "--Voila.ip=127.0.0.1",
                   "--strip_sources=True", "--show_tracebacks=False", f"--Voila.token={token}",
                   "--VoilaConfiguration.multi_kernel_manager_class="
                   "equity_audit.app.workshop_kernels.CappedKernelManager",
                   f"--CappedKernelManager.max_kernels={args.max_pages}",
                   # kernels talk to the server over local sockets only their owner can open, not TCP
                   # ports any local account can reach (ipykernel warns on every start over TCP)
                   "--KernelManager.transport=ipc",
                   # a page left open but unused for 15 minutes gives its kernel back
                   "--MappingKernelManager.cull_idle_timeout=900", "--MappingKernelManager.cull_interval=60"]
        if args.no_browser:
            command.append("--no-browser")
        print(f"Workshop explorer for {args.data}: http://127.0.0.1:{args.port}/?token={token}", flush=True)
        print(f"Saved notes go to {Path.cwd() / 'workshop_notes'}. Stop with Ctrl+C.", flush=True)
        server = subprocess.Popen(command, cwd=folder)
        previous = signal.signal(signal.SIGTERM, _interrupt)  # stopped by a service manager: stop Voila too
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            print("equity-audit: workshop stopped.", file=sys.stderr)
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def skip_iri_checker() -> None:
    """Keep jsonschema from loading its checker of the ``iri`` format in this process.

    nbformat and Jupyter's servers import jsonschema, whose format checkers import
    ``rfc3987_syntax`` when it is installed (jupyter-events asks for it), and that
    builds about 35 Lark parsers as it is imported: 0.8 s of every command's start
    (python-jsonschema/jsonschema#1428). No schema of this package, nbformat's or
    Jupyter's checks that format; jsonschema goes without it when the import fails.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``equity-audit`` command."""
    args = build_parser().parse_args(argv)
    skip_iri_checker()
    try:
        return args.handler(args)
    except EquityAuditError as err:
        print(f"equity-audit: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("equity-audit: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
