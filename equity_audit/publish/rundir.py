"""The run directory: where each audit step leaves what the next one reads.

Layout of a run directory ``OUT``::

    OUT/tables/<name>.csv          published aggregate tables (already suppressed)
    OUT/figures/<name>.png         published figures
    OUT/confidential/              student-level data; never published
    OUT/confidential/district/     the validated district, loaded once per run (Parquet + JSON)
    OUT/report.html                the rendered report

Examples
--------
>>> import tempfile, pandas as pd
>>> out = tempfile.mkdtemp()
>>> path = write_table(out, "demo", pd.DataFrame({"n": [12]}))
>>> read_table(out, "demo")["n"].tolist()
[12]
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from equity_audit.config import Config
from equity_audit.data.load import District, load_district
from equity_audit.data.programs import apply_programs
from equity_audit.data.store import read_district, save_district
from equity_audit.data.text import inert_cells
from equity_audit.privacy import pseudonymise
from equity_audit.publish import audit_wide
from equity_audit.publish.release import protect, remember_audited, shown_min_n

__all__ = ["open_district", "write_table", "read_table", "write_confidential", "confidential_dir",
           "CONFIDENTIAL_README", "REPORT_NAME"]

#: The report's file in a run folder.
REPORT_NAME = "report.html"

CONFIDENTIAL_README = """CONFIDENTIAL: student-level data

This folder holds student-level records (the validated district data, executed
notebooks and any list of individual students). Under FERPA it may be seen only
by district staff with a legitimate educational interest in these students and
by the contracted auditor. Do not e-mail, publish or attach it to the report.
Delete it when the audit is complete, following the district's retention policy.
"""

_CACHE = "district"


def confidential_dir(run_dir: str | Path) -> Path:
    """The run's confidential folder, created with its README on first use."""
    folder = Path(run_dir) / "confidential"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # also when a notebook is run by hand, outside the pipeline's umask
    readme = folder / "README.txt"
    if not readme.exists():
        readme.write_text(CONFIDENTIAL_README, encoding="utf-8")
    return folder


def open_district(data_dir: str | Path, run_dir: str | Path, config: Config | None = None) -> District:
    """The validated district of this run, loading and caching it on first use.

    The pipeline validates once before any notebook runs; every notebook then
    reads the cached copy, and a notebook opened by hand loads the data itself.
    With ``EQUITY_AUDIT_PSEUDONYM_KEY`` set, every ``student_id`` is replaced by its
    keyed pseudonym as soon as the data is loaded, so no raw id reaches the run folder.
    With a ``programs`` table, the ``students`` flags become program membership in the
    latest school year (:func:`equity_audit.data.programs.apply_programs`).
    """
    config = config or Config()
    remember_audited(run_dir)  # in a second pass, withhold what the joint audit withheld in the first
    audit_wide.remember(run_dir)  # and flag only what passes the audit-wide false discovery control
    cache = confidential_dir(run_dir) / _CACHE
    secret = _pseudonym_key()
    key = {"data_dir": str(Path(data_dir).resolve()), **config.load_options,
           # a keyed digest tells keys apart without the key ever reaching the run folder
           "pseudonyms": pseudonymise("equity-audit key check", secret) if secret else None,
           **_program_options(config)}
    if (district := read_district(cache, key)) is not None:
        return district
    district = load_district(data_dir, **config.load_options)
    district = apply_programs(district, **_program_options(config))  # no programs table: unchanged
    if secret:
        district = replace(district, tables={name: _with_pseudonyms(table, secret)
                                             for name, table in district.tables.items()})
    save_district(district, cache, key)
    return district


def _program_options(config: Config) -> dict:
    return {"mode": config.program_membership, "school_year_start": config.school_year_start,
            "school_year_end": config.school_year_end}


def _pseudonym_key() -> str:
    return os.environ.get(PSEUDONYM_KEY, "")


def _with_pseudonyms(table: pd.DataFrame, secret: str) -> pd.DataFrame:
    if "student_id" not in table:
        return table
    return table.assign(student_id=pseudonymise(table["student_id"], secret))


def write_table(run_dir: str | Path, name: str, table: pd.DataFrame, *, min_n: int | None = None) -> Path:
    """Write a published (aggregate, suppressed) table as ``tables/<name>.csv``.

    Every table passes the release gate (:func:`equity_audit.publish.release.protect`)
    on its way out: withheld rows carry no numbers, counts under ``min_n`` are
    blank, and a ``status`` column says why. Pass ``min_n=config.min_n``; without
    it, the ``"<k"`` codes of a displayed table give it, else the default setting (10).
    The run's joint audit applies the gate again with the run's ``min_n``.
    """
    folder = Path(run_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    if min_n is None:
        min_n = shown_min_n(table) or Config().min_n
    table = protect(table, min_n=min_n, name=name)
    inert_cells(table).to_csv(path, index=False)  # no text cell runs as a spreadsheet formula
    return path


def read_table(run_dir: str | Path, name: str) -> pd.DataFrame:
    """Read a table an earlier step wrote with :func:`write_table`."""
    return pd.read_csv(Path(run_dir) / "tables" / f"{name}.csv")


#: When this environment variable holds a key (at least 16 characters), student ids in the
#: confidential lists are replaced by keyed-hash pseudonyms, e.g. before sharing them with a partner.
PSEUDONYM_KEY = "EQUITY_AUDIT_PSEUDONYM_KEY"


def write_confidential(run_dir: str | Path, name: str, table: pd.DataFrame) -> Path:
    """Write a student-level table into the confidential folder (never published).

    Ids are already pseudonyms when ``EQUITY_AUDIT_PSEUDONYM_KEY`` is set, because
    :func:`open_district` replaces them on loading.
    """
    path = confidential_dir(run_dir) / f"{name}.csv"
    inert_cells(table).to_csv(path, index=False)  # no text cell runs as a spreadsheet formula
    path.chmod(0o600)
    return path
