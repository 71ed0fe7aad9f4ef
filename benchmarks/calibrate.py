"""`make calibrate`: does the audit flag noise, and does it find what was planted?

A benchmark, not a timed test (issue 12). It generates K seeded districts of three
kinds with :mod:`equity_audit.data.synthetic` and runs the audit's analyses on each,
calling the package functions directly with their defaults (as the notebooks do):

- ``null``: the independent null (``null=True``): nothing differs between groups,
  schools or teachers, so every flag is a false flag;
- ``realistic``: the realistic null (``null="realistic"``): correlated subgroups,
  real additive main effects, school and teacher random effects, no inequity beyond
  them; a flag on a true district gap (``manifest["real_gaps"]``) or on a school's
  overall level where schools really differ is not false, everything else is;
- ``planted``: the realistic structure plus six planted inequities of known size
  (``realistic=True``); a flag that names a planted effect is a discovery.

For each analysis it prints the share of null districts with any false flag, the
false-discovery proportion (false flags / all flags, pooled over every district)
and the power for each planted effect it is meant to find (share of planted
districts where it names that effect). Targets printed beside: false-discovery
proportion <= 5% overall, no analysis above 10% any-false-flag, power >= 80%.
An analysis that raises is reported as ``error: message``, not a crash.

Usage: ``python benchmarks/calibrate.py --k 5 --students 2000 [--jobs 2] [--csv PATH]``.
Rows per district and analysis go to ``benchmarks/calibration.csv``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import equity_audit as ea  # noqa: E402
from equity_audit.data.synthetic import write_district  # noqa: E402
from equity_audit.publish import audit_wide  # noqa: E402

KINDS = {  # kind -> (keyword arguments of the generator, first seed)
    "null": ({"null": True}, 10_000),
    "realistic": ({"null": "realistic"}, 20_000),
    "planted": ({"realistic": True}, 30_000),
}
NULL_KINDS = ("null", "realistic")
TARGETS = {"fdp": 0.05, "any_false": 0.10, "power": 0.80}

#: Which family of outcomes each planted effect lives in (to match flags to it).
PLANTED_FAMILY = {
    "hidden_intersection": "pace", "slow_pace_subgroup": "pace", "unmet_need_school": "unmet_need",
    "teacher_grade_bias": "grading", "harsh_rater": "scoring",
    "disproportionate_discipline": "discipline", "level4_access": "level4_access",
}
#: Opportunity measures of the access table and the family whose real effects drive them.
ACCESS_FAMILY = {"level4_work": "level4_access", "honors_or_advanced": "pace", "dual_enrollment": "pace",
                 "acceleration": "pace", "enrichment": "none", "leadership": "none"}
_YES_NO = {"Y": "Yes", "N": "No"}


# ------------------------------------------------------------------------ the district
class Audit:
    """One district, loaded once, with the shared intermediate tables built on demand."""

    def __init__(self, folder: Path, manifest: dict, settings: str = ""):
        self.district = ea.load_district(folder)
        self.manifest = manifest
        self.config = ea.load_config(settings)
        from equity_audit.data.subgroups import core_subgroups, subgroup_columns

        self.subgroups = subgroup_columns(self.district["students"])
        self.charted = core_subgroups(self.district["students"])
        c = self.config
        self.compare = dict(min_n=c.min_n, fdr=c.fdr, confidence=c.confidence)
        self.scan = dict(min_n=c.min_n, fdr=c.fdr)

    @cached_property
    def facts(self):
        from equity_audit.questions import needs
        return needs.domain_facts(self.district, self.config)

    @cached_property
    def summary(self):
        from equity_audit.questions import needs, overview
        # ready to move on as the Level-4 access analyses judge it: one definition (issue 15)
        return needs.student_summary(self.facts, self.district["students"], overview.school_names(self.district),
                                     readiness=self.year_facts[["student_id", "school_year", "ready"]])

    @cached_property
    def year_facts(self):
        from equity_audit.questions import patterns
        d, c = self.district, self.config
        facts = patterns.student_year_facts(d, c)
        facts = patterns.with_readiness(facts, patterns.readiness_by_year(d["levels"], facts, c))
        return patterns.with_pace_by_year(facts, d["levels"], c)

    @cached_property
    def latest(self):
        f = self.year_facts
        return f[f["school_year"] == f["school_year"].max()]

    @cached_property
    def current(self):
        from equity_audit.questions import patterns
        return patterns.current_domain_facts(self.facts, self.year_facts)

    @cached_property
    def taught(self):
        from equity_audit.questions import patterns
        return patterns.teacher_rows(self.district, self.current)

    @cached_property
    def graded(self):
        from equity_audit.questions import grading
        c = self.config
        return grading.residuals(grading.discordance(grading.grade_evidence(
            self.district, proficient_score=c.proficient_score, school_year_start=c.school_year_start,
            school_year_end=c.school_year_end)))

    @cached_property
    def per_student(self):
        from equity_audit.questions import grading
        return grading.student_grading(self.graded, self.subgroups)

    @cached_property
    def residual_table(self):
        from equity_audit.disaggregate import disaggregate_each
        return disaggregate_each(self.per_student, "residual", self.subgroups, **self.compare)

    @cached_property
    def rich_latest(self):
        from equity_audit.questions import grading
        rich = grading.who_gets_rich_evidence(self.district)
        return rich[rich["school_year"] == rich["school_year"].max()]

    @cached_property
    def school_ids(self) -> dict:
        return {s["school_name"]: s["school_id"] for s in self.manifest["schools"]}


# ------------------------------------------------------------- flags, one shape for all
def _flags(rows: pd.DataFrame, unit: str, unit_col: str | None = None, groups=None, family=None):
    """Flagged rows as (unit, unit_id, groups, family, pvalue): groups is a tuple of (column, value).

    ``pvalue`` is the p-value the flag rests on (NaN for a flag that rests on none).
    """
    rows = rows.reset_index(drop=True)
    if groups is None:
        groups = [tuple(zip([s], [g])) for s, g in zip(rows["subgroup"], rows["group"])] \
            if "subgroup" in rows else [()] * len(rows)
    return pd.DataFrame({
        "unit": unit,
        "unit_id": rows[unit_col].astype(str).to_numpy() if unit_col else "",
        "groups": pd.Series(list(groups), dtype=object),
        "family": family if family is not None else "",
        "pvalue": rows[_PVALUE].to_numpy(float) if _PVALUE in rows else np.nan,
        "table": rows[_TABLE].to_numpy(int) if _TABLE in rows else -1,
    }, index=range(len(rows)))


#: Every p-value the analyses of the district being calibrated tested (one array per table).
_TESTED: list[np.ndarray] = []
_PVALUE, _TABLE = "_calibrate_pvalue", "_calibrate_table"


def _flagged(table, column="flagged"):
    """The flagged rows, one per comparison, with the p-value each flag rests on; records every test."""
    source = "interaction_pvalue" if column == "beyond_main_effects" else "pvalue"
    if source in table:
        tested = pd.to_numeric(table[source], errors="coerce")
        if "suppressed" in table:
            tested = tested.where(~table["suppressed"].fillna(False).astype(bool))
        _TESTED.append(tested.dropna().to_numpy(float))
        table = table.assign(**{_PVALUE: tested, _TABLE: len(_TESTED) - 1})
    return _without_mirrors(table[table[column].fillna(False).astype(bool)])


def _without_mirrors(rows: pd.DataFrame) -> pd.DataFrame:
    """One flag per comparison: a "No" row flagged with its "Yes" row mirrors it.

    The findings mark such rows (``details.mirror``) and the report's priorities
    leave them out, so counting both would count one comparison twice. Rows are
    mirrors only within the same measure, year and unit.
    """
    if not {"subgroup", "group"} <= set(rows.columns) or rows.empty:
        return rows
    keys = ["subgroup", *(c for c in ("measure", "school_year", "school", "school_id", "teacher_id", "scorer_id")
                          if c in rows)]
    group = rows["group"].astype(str)
    yes = rows.loc[group.isin(["Yes", "Y"]), keys].astype(str).drop_duplicates()
    paired = rows[keys].astype(str).merge(yes.assign(_yes=True), on=keys, how="left")["_yes"].fillna(False)
    mirror = group.isin(["No", "N"]).to_numpy() & paired.to_numpy(bool)
    # two groups that are (almost) everyone, each against the other: the second of the pair mirrors the first
    from equity_audit.publish.findings import near_complements
    partner = near_complements(rows)
    seen = set()
    for position, (g, p, *key) in enumerate(zip(group, partner, *(rows[k].astype(str) for k in keys))):
        if p and (tuple(key), p) in seen:
            mirror[position] = True
        seen.add((tuple(key), g))
    return rows[~mirror]


def _each(metric: str, data: str = "summary", **options):
    def run(a: Audit):
        from equity_audit.disaggregate import disaggregate_each
        return _flags(_flagged(disaggregate_each(getattr(a, data), metric, a.subgroups, **options, **a.compare)),
                      "district")
    return run


def _discordance(metric: str, rises_with_grades: bool):
    """A discordance rate within evidence bands, its flags kept where the grade residual agrees (notebook 03).

    The residual's flags here are its own table's, before the audit-wide control, so the gate is
    a little more lenient than in a run: the false flags counted are, if anything, too many.
    """
    def run(a: Audit):
        from equity_audit.disaggregate import disaggregate_each
        from equity_audit.questions import grading
        table = disaggregate_each(a.per_student, metric, a.subgroups, statistic="rate", strata="evidence_band",
                                  **a.compare)
        table = grading.confirmed_by_residuals(table, a.residual_table, rises_with_grades=rises_with_grades)
        return _flags(_flagged(table), "district")
    return run


def _intersections(metric: str, adjust_also: tuple[str, ...] = ()):
    def run(a: Audit):
        from equity_audit.disaggregate import scan_intersections
        options = {"adjust_for": [*a.subgroups, *adjust_also]} if adjust_also else {}
        scan = _flagged(scan_intersections(a.summary, metric, a.subgroups, **options, **a.compare),
                        "beyond_main_effects")
        groups = [tuple(zip(cols.split(" × "), (part.split(": ", 1)[1] for part in text.split(" × "))))
                  for cols, text in zip(scan["columns"], scan["intersection"])]
        return _flags(scan, "district", groups=groups)
    return run


def _unmet_by_school(a: Audit):
    from equity_audit.disaggregate import disaggregate
    table = _flagged(disaggregate(a.summary, "unmet_need", by=["school"], strata="need_band", **a.compare))
    return _flags(table.assign(school=table["school"].map(a.school_ids)), "school", "school")


def _idea(disability_only: bool):
    def run(a: Audit):
        from equity_audit.questions import patterns
        table = patterns.idea_risk_ratios(a.year_facts, "any_oss", category="out_of_school_suspension",
                                          state_comparison=a.district.tables.get("state_comparison"),
                                          disability_only=disability_only, config=a.config)
        table = _flagged(table[table["school_year"] == table["school_year"].max()])
        return _flags(table, "district", groups=[(("race_ethnicity", g),) for g in table["group"]])
    return run


def _rates(outcome: str, data: str, unit_col: str, unit: str):
    def run(a: Audit):
        from equity_audit import scans
        table = _flagged(scans.scan_rates(getattr(a, data), unit=unit_col, outcome=outcome, cluster="student_id",
                                          **a.scan), "closer_look")
        if unit == "school":
            table = table.assign(school=table["school"].map(a.school_ids))
        return _flags(table, unit, unit_col)
    return run


def _school_gaps(outcome: str):
    def run(a: Audit):
        from equity_audit.questions import patterns
        table = _flagged(patterns.gap_scan(a.year_facts, outcome, a.subgroups, unit="school", **a.scan), "closer_look")
        return _flags(table.assign(school=table["school"].map(a.school_ids)), "school", "school")
    return run


def _access(all_years: bool):
    def run(a: Audit):
        from equity_audit.questions import patterns
        table = _flagged(patterns.access_table(a.year_facts, a.subgroups, all_years=all_years, **a.scan))
        return _flags(table, "district", family=table["measure"].map(ACCESS_FAMILY).fillna("none").to_numpy())
    return run


def _teacher_grading(a: Audit):
    from equity_audit.questions import grading
    return _flags(_flagged(grading.teacher_gaps_all(a.graded, a.subgroups, **a.scan), "closer_look"),
                  "teacher", "teacher_id")


def _unit_pace(unit: str):
    """A group's pace gap with a teacher or PLC against the same gap elsewhere, as notebooks 03 and 02 run it."""
    def run(a: Audit):
        from equity_audit.questions import patterns
        gaps = patterns.unit_pace_gaps(a.district, a.current, a.subgroups, unit=f"{unit}_id", config=a.config,
                                       **a.scan)
        return _flags(_flagged(gaps, "closer_look"), unit, f"{unit}_id")
    return run


def _credited(unit_col: str, unit: str):
    """Below-pace scans on pace credited to the unit the student was with, as notebook 02 runs them."""
    def run(a: Audit):
        from equity_audit import scans
        from equity_audit.questions import patterns
        credited = patterns.credited_pace(a.district, a.config, unit=unit_col)
        # against their colleagues: a teacher in the same school and domain, a PLC in the same school
        within = {"within": {"teacher_in_school": ["school_id", "domain"], "plc_in_school": "school_id"}[unit]} \
            if unit.endswith("_in_school") else {}
        table = _flagged(scans.scan_rates(credited, unit=unit_col, outcome="below", cluster="student_id", **within,
                                          **a.scan), "closer_look")
        if unit == "school":
            table = table.assign(school=table["school"].map(a.school_ids))
        return _flags(table, unit, unit_col)
    return run


def _absence(by_school: bool):
    def run(a: Audit):
        from equity_audit.questions import attendance
        absence = attendance.absence_by_student_year(a.district["attendance"])
        if by_school:
            table = attendance.chronic_absence_by_school(absence, **a.scan)
            return _flags(_flagged(table, "closer_look"), "school", "school_id")
        return _flags(_flagged(attendance.chronic_absence_by_group(absence, a.district["students"], a.subgroups,
                                                                    **a.scan)), "district")
    return run


def _severity(a: Audit):
    from equity_audit import reliability
    c = a.config
    table = reliability.scorer_severity(a.district["calibration"], scale=(c.score_min, c.score_max),
                                        threshold=c.severity_threshold, fdr=c.fdr)
    return _flags(_flagged(table.assign(severe=table["harsh"] | table["lenient"]), "severe"), "scorer", "scorer_id")


def _severity_by_group(a: Audit):
    """As notebook 03 runs it: the group whose mean evidence score differs most is the focus."""
    from equity_audit import reliability
    from equity_audit.data.subgroups import attach_subgroups, comparable_subgroups
    from equity_audit.disaggregate import disaggregate_each
    from equity_audit.questions import focus
    subgroups = comparable_subgroups(a.district["students"])
    scored = attach_subgroups(a.district["evidence"], a.district["students"], subgroups)
    column, group = focus.top_group(disaggregate_each(scored, "score", subgroups, statistic="mean", **a.compare))
    table = _flagged(reliability.severity_by_subgroup(scored, group_column=column, focus=group, fdr=a.config.fdr,
                                                      min_n=a.config.min_n),
                     "closer_look")
    return _flags(table, "scorer", "scorer_id", groups=[((column, _label(str(group))),)] * len(table))


def _climate(a: Audit):
    from equity_audit.questions import climate
    c = a.config
    scores = climate.construct_scores(a.district["survey"], school_year_start=c.school_year_start,
                                      school_year_end=c.school_year_end)
    return _flags(_flagged(climate.climate_by_subgroup(scores, a.district["students"], a.subgroups, **a.compare)),
                  "district")


@dataclass(frozen=True)
class Analysis:
    """family: outcome family (for real gaps); detects: planted effect it should find."""

    family: str
    run: Callable[[Audit], pd.DataFrame]
    detects: str | None = None


#: analysis name -> how to produce its flags (names follow the run folder's tables).
ANALYSES = {
    "pace_by_subgroup": Analysis("pace", _each("pace")),
    "two_plus_behind_by_subgroup": Analysis("pace", _each("two_plus_behind")),
    "pace_intersections": Analysis("pace", _intersections("pace"), "hidden_intersection"),
    "unmet_need_by_school": Analysis("unmet_need", _unmet_by_school, "unmet_need_school"),
    "unmet_need_by_subgroup": Analysis("unmet_need", _each("unmet_need", strata="need_band")),
    "unmet_need_intersections": Analysis("unmet_need", _intersections("unmet_need", ("need_band",))),
    "talent_without_access_by_subgroup": Analysis("level4_access", _each("talent_without_access")),
    "exclusion_by_subgroup": Analysis("discipline", _each("any_exclusion", "latest")),
    "removals_by_subgroup": Analysis("discipline", _each("removals", "latest", statistic="count")),
    "days_removed_by_subgroup": Analysis("discipline", _each("days_removed", "latest", statistic="count")),
    "idea_oss_all_students": Analysis("discipline", _idea(False)),
    "idea_oss_students_with_disabilities": Analysis("discipline", _idea(True)),
    "oss_by_school": Analysis("discipline", _rates("any_oss", "year_facts", "school", "school")),
    "oss_gaps_by_school": Analysis("discipline", _school_gaps("any_oss"), "disproportionate_discipline"),
    "access_by_subgroup": Analysis("level4_access", _access(False), "level4_access"),
    "access_by_subgroup_all_years": Analysis("level4_access", _access(True), "level4_access"),
    "level4_gaps_by_school": Analysis("level4_access", _school_gaps("level4_ready")),
    "below_pace_by_school": Analysis("pace", _credited("school", "school")),
    "below_pace_by_plc": Analysis("pace", _credited("plc_id", "plc")),
    "plc_scan_below_pace_in_school": Analysis("pace", _credited("plc_id", "plc_in_school")),
    "teacher_scan_below_pace": Analysis("pace", _credited("teacher_id", "teacher_in_school")),
    "grade_residual_by_subgroup": Analysis("grading", lambda a: _flags(_flagged(a.residual_table), "district")),
    "high_grade_low_evidence_by_subgroup": Analysis("grading", _discordance("high_grade_low_evidence", True)),
    "low_grade_high_evidence_by_subgroup": Analysis("grading", _discordance("low_grade_high_evidence", False)),
    "teacher_scan_grades_against_evidence": Analysis("grading", _teacher_grading, "teacher_grade_bias"),
    "scorer_severity": Analysis("scoring", _severity, "harsh_rater"),
    "scorer_severity_by_subgroup": Analysis("scoring", _severity_by_group),
    "performance_tasks_by_subgroup": Analysis(
        "level4_access", _each("share_performance_tasks", "rich_latest", statistic="mean")),
    "dok34_by_subgroup": Analysis("level4_access", _each("share_dok34", "rich_latest", statistic="mean")),
    "teacher_scan_pace_gaps": Analysis("pace", _unit_pace("teacher")),
    "plc_scan_pace_gaps": Analysis("pace", _unit_pace("plc")),
    "climate_by_subgroup": Analysis("climate", _climate),
    "chronic_absence_by_subgroup": Analysis("attendance", _absence(False)),
    "chronic_absence_by_school": Analysis("attendance", _absence(True)),
}


# ------------------------------------------------------------------- judging the flags
def _label(value: str) -> str:
    return _YES_NO.get(value, value)


def _planted_units(record: dict) -> set[str]:
    where = record.get("where") or {}
    return {str(where[k]) for k in ("school_id", "teacher_id", "scorer_id") if k in where}


def classify(flags: pd.DataFrame, family: str, manifest: dict) -> pd.DataFrame:
    """Add ``verdict`` (planted, related, real or false) and ``planted`` (effect named).

    planted: the flag names a planted effect (its unit and exactly its groups);
    related: same unit and same subgroup columns as a planted effect (e.g. the other
    groups of a teacher who grades one group lower), or a district-level flag on exactly
    the group a school or teacher effect was planted against (that effect makes the
    district's gap for the group real, only smaller); real: a true district gap listed
    in ``manifest["real_gaps"]``, or a school-level difference where the realistic
    generator gives schools real random effects (not for a unit set against the others of
    its own school, ``*_in_school``: they share the school's effect); false: anything else.
    """
    real = {(g["measure"], k, _label(v)) for g in manifest.get("real_gaps", []) for k, v in g["group"].items()}
    school_effects = set((manifest.get("realistic") or {}).get("school_effects", {}))
    verdict, named = [], []
    for unit, unit_id, groups, fam in flags[["unit", "unit_id", "groups", "family"]].itertuples(index=False):
        fam = fam or family  # a loop over the flags of one analysis (a handful)
        found, v = None, "false"
        for p in manifest.get("planted", []):
            if PLANTED_FAMILY.get(p["name"]) != fam:
                continue
            units = _planted_units(p)
            want = {(k, _label(str(x))) for k, x in (p.get("group") or {}).items()}
            have = set(groups)
            if units and unit == "district" and want and want == have:
                # a unit's planted gap against a group is also a true (diluted) district gap
                # for that group: a district flag on it is right, though not the planted unit
                v = "related"
                continue
            if (unit_id not in units) if units else (unit != "district"):
                continue
            if want == have:
                found, v = p["name"], "planted"
                break
            if not want or {k for k, _ in want} == {k for k, _ in have}:
                v = "related"
        if v == "false":
            if unit == "district" and len(groups) == 1 and (fam, *groups[0]) in real:
                v = "real"
            elif unit != "district" and not unit.endswith("_in_school") and not groups and fam in school_effects:
                v = "real"  # a unit compared with others in its own school does not share their school's effect
        verdict.append(v)
        named.append(found)
    return flags.assign(verdict=verdict, planted=named)


# ----------------------------------------------------------------------- one district
def run_district(kind: str, seed: int, students: int, analyses=None, settings: str = "") -> list[dict]:
    """Generate one district, run every analysis, and return one row per analysis."""
    kwargs, _ = KINDS[kind]
    names = list(analyses or ANALYSES)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="equity-calibrate-") as folder:
        path = write_district(folder, students=students, seed=seed, fmt="parquet", **kwargs)
        manifest = json.loads(Path(path).read_text())
        try:
            audit = Audit(Path(folder), manifest, settings)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [_row(kind, seed, name, error=exc) for name in names]
        planted = [p["name"] for p in manifest["planted"]]
        rows, judged = [], {}
        _TESTED.clear()
        for name in names:
            started = time.perf_counter()
            try:
                judged[name] = classify(ANALYSES[name].run(audit), ANALYSES[name].family, manifest)
            except Exception as exc:  # noqa: BLE001 - an analysis that errors is reported
                rows.append(_row(kind, seed, name, error=exc))
                continue
            judged[name].attrs["seconds"] = round(time.perf_counter() - started, 2)
        tested = {str(i): p for i, p in enumerate(_TESTED)}
        weights, cut = audit_wide.weights(tested), audit_wide.cut(tested, audit.config.fdr)
        for name, flags in judged.items():
            detects = ANALYSES[name].detects
            weight = flags["table"].astype(str).map(weights).to_numpy(float)
            kept = flags[flags["pvalue"].isna() | ~(np.minimum(flags["pvalue"] / weight, 1.0) > cut)]
            rows.append(_row(kind, seed, name, **_counts(kept), **_counts(flags, "_per_table"),
                             target=detects if detects in planted else "",
                             found=int(detects in set(kept["planted"].dropna())) if detects in planted else np.nan,
                             found_per_table=(int(detects in set(flags["planted"].dropna())) if detects in planted
                                              else np.nan),
                             seconds=flags.attrs["seconds"]))
        return rows


def _counts(flags: pd.DataFrame, suffix: str = "") -> dict:
    counts = flags["verdict"].value_counts()
    return {f"flags{suffix}": len(flags),
            **{f"{verdict}{suffix}": int(counts.get(verdict, 0)) for verdict in ("false", "real", "related", "planted")}}


def _row(kind, seed, analysis, error=None, **numbers) -> dict:
    row = {"kind": kind, "seed": seed, "analysis": analysis, "flags": 0, "false": 0, "real": 0,
           "related": 0, "planted": 0, "target": "", "found": np.nan, "seconds": np.nan, "error": "",
           "flags_per_table": 0, "false_per_table": 0, "found_per_table": np.nan}
    row.update(numbers)
    if error is not None:
        row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]
    return row


# -------------------------------------------------------------------------- the table
def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per analysis: any-false shares on the nulls, pooled FDP and power for its planted effect."""
    ok = rows[rows["error"] == ""]
    nulls = ok[ok["kind"].isin(NULL_KINDS)]
    out = pd.DataFrame(index=pd.Index(list(dict.fromkeys(rows["analysis"])), name="analysis"))
    for kind in NULL_KINDS:
        part = nulls[nulls["kind"] == kind]
        out[f"any_false_{kind}"] = part.groupby("analysis")["false"].apply(lambda s: (s > 0).mean())
    out["any_false"] = nulls.groupby("analysis")["false"].apply(lambda s: (s > 0).mean())
    sums = ok.groupby("analysis")[["flags", "false"]].sum()
    out["flags"] = sums["flags"]
    out["fdp"] = (sums["false"] / sums["flags"]).where(sums["flags"] > 0, 0.0)
    planted = ok[ok["target"] != ""]
    out["planted_effect"] = planted.groupby("analysis")["target"].first()
    out["power"] = planted.groupby("analysis")["found"].mean()
    out["power_per_table"] = planted.groupby("analysis")["found_per_table"].mean()
    errors = rows[rows["error"] != ""].groupby("analysis")["error"].first()
    out["error"] = errors.reindex(out.index).fillna("")
    return out


def overall(rows: pd.DataFrame, suffix: str = "") -> dict:
    """Pooled over every analysis: FDP and the null districts' false flags (``suffix="_per_table"``:
    under each table's own false discovery control alone, before the audit-wide one)."""
    ok = rows[rows["error"] == ""]
    nulls = ok[ok["kind"].isin(NULL_KINDS)]
    flags, false = f"flags{suffix}", f"false{suffix}"
    per_district = nulls.groupby(["kind", "seed"])[false].sum()
    return {"fdp": ok[false].sum() / max(ok[flags].sum(), 1),
            "any_false_district": float((per_district > 0).mean()) if len(per_district) else np.nan,
            "false_per_district": float(per_district.mean()) if len(per_district) else np.nan,
            "at_most_one_false": float((per_district <= 1).mean()) if len(per_district) else np.nan,
            "worst_any_false": float(nulls.groupby(["analysis", "kind"])[false].apply(lambda s: (s > 0).mean()).max())
            if len(nulls) else np.nan,
            "flags": int(ok[flags].sum()), "false": int(ok[false].sum())}


def _pct(x) -> str:
    return "" if pd.isna(x) else f"{x:.0%}"


def report(table: pd.DataFrame, total: dict, per_table: dict | None = None) -> str:
    """The calibration table as Markdown, targets beside each number; then each table's control alone."""
    lines = ["| analysis | any false (null) | any false (realistic) | FDP | flags | power | planted effect |",
             "|---|---|---|---|---|---|---|"]
    for name, r in table.iterrows():
        if r["error"]:
            lines.append(f"| {name} | error: {r['error']} | | | | | |")
            continue
        mark = lambda x, limit, below=True: "" if pd.isna(x) else (  # noqa: E731
            " ✓" if (x <= limit if below else x >= limit) else " ✗")
        lines.append(f"| {name} | {_pct(r['any_false_null'])}{mark(r['any_false_null'], TARGETS['any_false'])} "
                     f"| {_pct(r['any_false_realistic'])}{mark(r['any_false_realistic'], TARGETS['any_false'])} "
                     f"| {_pct(r['fdp'])} | {int(r['flags'])} "
                     f"| {_pct(r['power'])}{mark(r['power'], TARGETS['power'], below=False)} "
                     f"| {r['planted_effect'] if isinstance(r['planted_effect'], str) else ''} |")
    lines.append(f"| **overall** | {_pct(total['any_false_district'])} of null districts with a false flag "
                 f"| | **{_pct(total['fdp'])}**{' ✓' if total['fdp'] <= TARGETS['fdp'] else ' ✗'} "
                 f"| {total['flags']} | | |")
    lines.append("")
    lines.append(f"Null districts: {total['false_per_district']:.1f} false flags each on average over all "
                 f"analyses; {_pct(total['at_most_one_false'])} have at most one.")
    lines.append(f"Targets: FDP <= {TARGETS['fdp']:.0%} overall; any false flag <= {TARGETS['any_false']:.0%} "
                 f"of null districts per analysis; power >= {TARGETS['power']:.0%} per planted effect.")
    if per_table is not None:
        powers = "; ".join(f"{r['planted_effect']} {_pct(r['power_per_table'])}"
                           for _, r in table.dropna(subset=["power_per_table"]).iterrows())
        lines += ["", "With each table's own false discovery control alone (before the audit-wide control: "
                  f"docs/audit-wide-fdr.md): FDP {_pct(per_table['fdp'])} ({per_table['false']} false of "
                  f"{per_table['flags']} flags); {_pct(per_table['any_false_district'])} of null districts with a "
                  f"false flag, {_pct(per_table['at_most_one_false'])} with at most one; no analysis with a false "
                  f"flag in more than {_pct(per_table['worst_any_false'])} of null districts of either kind; "
                  f"power: {powers}."]
    return "\n".join(lines)


def calibrate(k: int = 5, students: int = 2000, jobs: int = 1, analyses=None, kinds=KINDS,
              settings: str = "") -> pd.DataFrame:
    """Run every analysis on ``k`` districts of each kind; one row per district and analysis.

    Examples
    --------
    >>> rows = calibrate(k=1, students=200, analyses=["scorer_severity"])  # doctest: +SKIP
    >>> sorted(rows["kind"])  # doctest: +SKIP
    ['null', 'planted', 'realistic']
    """
    tasks = [(kind, KINDS[kind][1] + i, students, analyses, settings) for kind in kinds for i in range(k)]
    if jobs <= 1:
        results = [run_district(*t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(run_district, *zip(*tasks)))
    return pd.DataFrame([row for rows in results for row in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=int(os.environ.get("K", 5)), help="districts of each kind")
    parser.add_argument("--students", type=int, default=int(os.environ.get("STUDENTS", 2000)))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument("--csv", type=Path, default=REPO / "benchmarks" / "calibration.csv")
    parser.add_argument("--analyses", nargs="*", help="only these analyses (default: all)")
    parser.add_argument("--settings", default="", help="a settings file (e.g. another fdr), as for a run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"Calibrating {len(args.analyses or ANALYSES)} analyses on {args.k} districts of each kind "
          f"({', '.join(KINDS)}), {args.students} students each, {args.jobs} processes...", flush=True)
    rows = calibrate(args.k, args.students, args.jobs, args.analyses, settings=str(args.settings))
    rows.to_csv(args.csv, index=False)
    print(report(summarise(rows), overall(rows), overall(rows, "_per_table")))
    print(f"\n{time.perf_counter() - started:.0f} s; rows per district and analysis in {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
