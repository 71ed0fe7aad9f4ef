"""The district cache of a run folder holds data only, and is used only for the same data and settings."""
import json
import pickle

import pandas as pd

import equity_audit as ea
from equity_audit.data.problems import KIND_NOT_DATE, Problem
from equity_audit.data.store import read_district, save_district
from equity_audit.publish.rundir import confidential_dir


def small_district(tmp_path):
    students = pd.DataFrame({"student_id": ["S1", "S2"], "grade_level": pd.array([3, None], "Int64"),
                             "race_ethnicity": pd.Categorical(["Asian", "White"]),
                             "birth_date": pd.to_datetime(["2014-01-02", "2013-05-06"])})
    problem = Problem("evidence", "evidence.csv", "assessed_on", (14, 27), ("2024-13-45", "soon"),
                      "a date", KIND_NOT_DATE, True, "are not dates", reason="not a date")
    return ea.District(tmp_path, {"students": students}, pd.DataFrame({"table": ["students"], "rows_read": [2]}),
                       pd.DataFrame({"table": ["evidence"], "reason": ["not a date"], "rows": [2]}),
                       notes=["a note"], problems=[problem])


def test_round_trip_keeps_types_notes_and_problems(tmp_path):
    district = small_district(tmp_path)
    save_district(district, tmp_path / "cache", key={"scale": (1, 4)})
    again = read_district(tmp_path / "cache", key={"scale": (1, 4)})
    pd.testing.assert_frame_equal(again["students"], district["students"])
    pd.testing.assert_frame_equal(again.exclusions, district.exclusions)
    assert again.notes == ["a note"]
    assert again.problems == district.problems
    assert again.folder == tmp_path


def test_a_different_key_or_a_damaged_manifest_is_ignored(tmp_path):
    save_district(small_district(tmp_path), tmp_path / "cache", key={"data_dir": "a"})
    assert read_district(tmp_path / "cache", key={"data_dir": "b"}) is None
    (tmp_path / "cache" / "manifest.json").write_text("{not json")
    assert read_district(tmp_path / "cache", key={"data_dir": "a"}) is None


def test_run_folder_holds_no_pickle_and_never_unpickles(tmp_path, monkeypatch):
    data = ea.paths.bundled_district()
    run = tmp_path / "run"
    first = ea.open_district(data, run)
    # A crafted pickle left in a received run folder must never be loaded.
    (confidential_dir(run) / "district.pkl").write_bytes(pickle.dumps("crafted"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: (_ for _ in ()).throw(AssertionError("unpickled")))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: (_ for _ in ()).throw(AssertionError("unpickled")))
    again = ea.open_district(data, run)
    assert len(again["students"]) == len(first["students"])
    manifest = json.loads((confidential_dir(run) / "district" / "manifest.json").read_text())
    assert manifest["tables"] == list(first.tables)
    written = {p.suffix for p in (confidential_dir(run) / "district").rglob("*") if p.is_file()}
    assert written == {".json", ".parquet"}
