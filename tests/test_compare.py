"""`equity-audit compare`: findings new, persisting and resolved; gaps that moved; a safe page."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from equity_audit.app.cli import main
from equity_audit.publish.compare import compare_runs, finding_changes, gap_changes

from conftest import BUNDLED


def _finding(groups, statement, direction="worse", **extra):
    return {"analysis": "pace_by_subgroup", "measure": "pace", "kind": "gap", "unit": "district",
            "unit_name": None, "subgroups": ["el"], "groups": groups, "statement": statement,
            "direction": direction, "difference": -0.2, "n": 40, "confidential": False, **extra}


def _run(folder, findings, gaps, settings=None):
    (folder / "tables").mkdir(parents=True)
    (folder / "findings.json").write_text(json.dumps({"schema_version": "1", "district": "Test district",
                                                      "settings": settings or {"min_n": 10},
                                                      "findings": findings}))
    pd.DataFrame(gaps).to_csv(folder / "tables" / "pace_by_subgroup.csv", index=False)
    return folder


def test_findings_are_matched_by_what_they_name_not_their_words():
    before = [_finding(["Yes"], "EL: 0.8 levels a year"), _finding(["No"], "not EL: 1.1")]
    after = [_finding(["Yes"], "EL: 0.7 levels a year"), _finding(["Yes"], "SWD", subgroups=["disability"])]
    changes = finding_changes(before, after).set_index("statement")["status"].to_dict()
    assert changes == {"EL: 0.7 levels a year": "persisting", "SWD": "new", "not EL: 1.1": "resolved"}


def test_gap_verdicts_use_the_interval_of_the_change():
    # se of each gap = (high - low) / (2 * 1.96) = 0.05; se of the change = 0.05 * sqrt(2) = 0.0707
    gap = lambda d: {"difference": d, "difference_low": d - 0.098, "difference_high": d + 0.098}  # noqa: E731
    before = pd.DataFrame([{"table": "t", "row": r, **gap(d)} for r, d in
                           (("narrowed", -0.30), ("widened", -0.10), ("same", -0.20), ("reversed", -0.25))])
    after = pd.DataFrame([{"table": "t", "row": r, **gap(d)} for r, d in
                          (("narrowed", -0.10), ("widened", -0.30), ("same", -0.15), ("reversed", 0.25))])
    changes = gap_changes(before, after).set_index("row")
    assert changes["verdict"].to_dict() == {"narrowed": "narrowed", "widened": "widened",
                                            "same": "no clear change", "reversed": "reversed"}
    half = 1.959964 * 0.05 * np.sqrt(2)
    assert changes.loc["narrowed", "change"] == pytest.approx(0.20)
    assert changes.loc["narrowed", "change_low"] == pytest.approx(0.20 - half, abs=1e-4)


def test_the_page_names_changes_and_escapes_the_data(tmp_path):
    hostile = 'School <script>alert(1)</script> & "Co"'
    a = _run(tmp_path / "a", [_finding(["Yes"], f"{hostile}: EL pace")],
             [{"subgroup": "el", "group": "Yes", "n": 40, "difference": -0.30, "difference_low": -0.40,
               "difference_high": -0.20, "status": ""}])
    b = _run(tmp_path / "b", [],
             [{"subgroup": "el", "group": "Yes", "n": 42, "difference": -0.02, "difference_low": -0.12,
               "difference_high": 0.08, "status": ""}], settings={"min_n": 20})
    out = tmp_path / "compare.html"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "No longer flagged" in page and "narrowed" in page
    assert re.search(r"min_n.*10.*20", page.replace("\n", ""))  # the settings that differ are named


def test_two_audits_of_the_same_data_show_no_moved_gap(tmp_path):
    gaps = [{"subgroup": "el", "group": "Yes", "n": 40, "difference": -0.30, "difference_low": -0.40,
             "difference_high": -0.20, "status": ""}]
    a = _run(tmp_path / "a", [_finding(["Yes"], "EL pace")], gaps)
    b = _run(tmp_path / "b", [_finding(["Yes"], "EL pace")], gaps, settings={"min_n": 10, "fdr": 0.01})
    assert main(["compare", str(a), str(b)]) == 0
    page = (b / "comparison.html").read_text()
    assert "No gap moved beyond chance." in page and "1 persisting" in page


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path / "missing")]) == 2
    message = capsys.readouterr().err
    assert "no findings.json" in message and "Traceback" not in message


def test_two_runs_of_the_bundled_district_with_different_settings(demo_run, tmp_path):
    from equity_audit.app.pipeline import run_audit
    from equity_audit.publish.findings import read_findings

    settings = tmp_path / "stricter.yaml"
    settings.write_text("fdr: 0.01\n")
    other = tmp_path / "stricter"
    run_audit(BUNDLED, other, settings, log=lambda message: None, progress=False)
    result = compare_runs(demo_run, other)
    assert "fdr" in set(result.settings["setting"])
    before = [f for f in read_findings(demo_run) if not f["confidential"]]
    assert (result.findings["status"] != "new").sum() == len(before)
    # the same data: every published gap is the same, so none moved
    assert len(result.gaps) > 20 and (result.gaps["change"] == 0).all()
    assert (result.gaps["verdict"] == "no clear change").all()
    assert main(["compare", str(demo_run), str(other)]) == 0
    assert (other / "comparison.html").is_file()
