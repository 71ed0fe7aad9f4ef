"""A loaded district saved to disk and read back: Parquet per table plus a JSON manifest.

Every notebook of a run reads the district the pipeline validated once. The copy
is kept in a format that only holds data, so reading a run folder received from
someone else can never execute code (a pickle could).

Layout of the folder::

    manifest.json          key, source folder, notes, problems, table names
    ledger.parquet         the row ledger
    exclusions.parquet     rows left out, by table and reason
    tables/<name>.parquet  one file per table provided

Examples
--------
>>> import tempfile, pandas as pd
>>> from equity_audit.data.load import District
>>> tables = {"students": pd.DataFrame({"student_id": ["S1"], "grade_level": pd.array([3], "Int64")})}
>>> district = District(Path("."), tables, pd.DataFrame({"table": ["students"]}), pd.DataFrame())
>>> folder = Path(tempfile.mkdtemp()) / "district"
>>> save_district(district, folder, key={"data_dir": "x"})
>>> read_district(folder, key={"data_dir": "x"})["students"].equals(tables["students"])
True
>>> read_district(folder, key={"data_dir": "other"}) is None
True
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd

from equity_audit.data.load import District
from equity_audit.data.problems import Problem

__all__ = ["save_district", "read_district"]

_MANIFEST = "manifest.json"
_FORMAT = 1


def save_district(district: District, folder: str | Path, key: dict) -> None:
    """Write ``district`` into ``folder`` (replaced whole), tagged with ``key``.

    ``key`` says what the copy was loaded from and with which settings; a later
    :func:`read_district` with a different key ignores the copy.
    """
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "tables").mkdir(parents=True)
    for name, table in district.tables.items():
        table.to_parquet(folder / "tables" / f"{name}.parquet", index=False)
    district.ledger.to_parquet(folder / "ledger.parquet", index=False)
    district.exclusions.to_parquet(folder / "exclusions.parquet", index=False)
    manifest = {"format": _FORMAT, "key": key, "folder": str(district.folder),
                "tables": list(district.tables), "notes": list(district.notes),
                "problems": [asdict(problem) for problem in district.problems]}
    (folder / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def read_district(folder: str | Path, key: dict) -> District | None:
    """The district saved in ``folder`` with this ``key``; None when absent, stale or unreadable."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != _FORMAT or manifest.get("key") != _as_json(key):
        return None
    tables = {name: pd.read_parquet(folder / "tables" / f"{name}.parquet")
              for name in manifest["tables"]}
    return District(folder=Path(manifest["folder"]), tables=tables,
                    ledger=pd.read_parquet(folder / "ledger.parquet"),
                    exclusions=pd.read_parquet(folder / "exclusions.parquet"),
                    notes=list(manifest["notes"]),
                    problems=[_problem(record) for record in manifest["problems"]])


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparing keys."""
    return json.loads(json.dumps(value))


def _problem(record: dict) -> Problem:
    tuples = {f.name for f in fields(Problem) if f.name in ("rows", "values")}
    return Problem(**{k: tuple(v) if k in tuples else v for k, v in record.items()})
