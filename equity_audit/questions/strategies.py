"""From findings to strategies: the framework's fourth question.

The findings of the earlier sections (``findings.json`` in the run directory,
one record per flagged result; ``tables/findings_*.csv`` in a run made before it
existed) are ranked and each is mapped to the areas of the equity framework
of *In Pursuit of Equality* (section VI) and to the core equity strategies of
section V.B, with the kind of strategy the paper distinguishes: learner-based,
belief-based or systemic. The mapping is a transparent table of rules
(:data:`RULES`), so a team can see, and change, why a strategy is suggested.

Examples
--------
>>> import pandas as pd
>>> findings = pd.DataFrame({"section": ["patterns"], "measure": ["the out-of-school suspension rate"],
...                          "subgroup": ["race_ethnicity"], "group": ["Black/African American"],
...                          "n": [174], "qvalue": [0.001], "difference": [0.11], "students_affected": [30],
...                          "statement": ["North Middle: ..."]})
>>> plan = action_plan(findings)
>>> plan.loc[0, "area"]
'1. Culture of learning, safety, respect, trust and inclusivity'
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from equity_audit.data.text import restore_cells

__all__ = ["AREAS", "RULES", "gather_findings", "findings_table", "action_plan", "strengths", "area_counts",
           "areas_alt", "plan_display"]

#: The eight areas of the equity framework (section VI of the paper).
AREAS = {
    1: "Culture of learning, safety, respect, trust and inclusivity",
    2: "Student agency",
    3: "Transparency",
    4: "New definitions of success that inform graduation outcomes",
    5: "Pedagogical philosophy",
    6: "Responsiveness, success and continuous improvement",
    7: "Consistency and reliability",
    8: "Progress, proficiency, pace and school/district performance",
}

#: (words in the measure, framework area, core strategy from section V.B, kind, question).
RULES = (
    ("suspension|removed|exclusion|removal|disproportionality", 1,
     "Coaching in growth mindset, social-emotional skills and habits of work, with wraparound services "
     "where students need them", "belief-based and systemic",
     "Which behaviours lead to removal, who decides, and what would keep these students learning in class?"),
    ("unmet need", 6, "Customizing additional instructional support and coaching in response to student needs",
     "systemic", "How are students who need more support identified and referred, and how quickly?"),
    ("pace|two or more levels behind|graduation", 8,
     "Empowering students through personal learning plans, with extra support and time to gain more than "
     "one level a year", "learner-based",
     "What would help these students gain more than one level a year, and how will we know it is working?"),
    ("level-4|level 4|acceleration|honors|advanced|dual enrollment|enrichment|leadership|access", 7,
     "Broadening horizons and building social capital: Level-4 work, enrichment and advanced courses open "
     "to every student who is ready", "systemic",
     "Who decides who gets these opportunities, and is every student who is ready offered them?"),
    ("grades against evidence|grade|a or b|c, d or f", 3,
     "Providing transparency about student performance levels and progress: grades that report mastery, "
     "with habits of work reported apart", "belief-based",
     "What goes into these grades besides evidence of mastery, and who is helped or hurt by it?"),
    ("scor|calibrat", 7, "Calibrating proficiency: scoring the same work together until calls agree",
     "belief-based", "How often do educators calibrate, and with whose students' work?"),
    ("performance task|dok|depth of knowledge|level 4", 5,
     "Universal Design for Learning and culturally responsive tasks that let every student show deeper learning",
     "learner-based", "Which students are given projects and performance tasks, and which quizzes and tests?"),
    ("climate|belonging|safety|agency", 1,
     "Incorporating cultural responsiveness and building belonging, with student voice in the solutions",
     "belief-based", "What do these students say would help them feel they belong, are safe and have a voice?"),
)
_FALLBACK = (6, "Customizing additional instructional support and coaching in response to student needs",
             "learner-based", "What is behind this result, and what would the students affected say?")
_GROUP_STRATEGIES = {
    "english_learner": "Attention to language acquisition and literacy strategies across the curriculum",
    "disability": "Personal learning plans, Universal Design for Learning and the right accommodations",
}


def gather_findings(run_dir: str | Path) -> pd.DataFrame:
    """The findings of the earlier sections, one row each.

    Read from the run's published ``findings.json`` (written by the pipeline after
    every step); a run folder without it falls back to the ``tables/findings_*.csv``
    the sections wrote. Never reads the confidential findings.
    """
    path = Path(run_dir) / "findings.json"
    if path.exists():
        return findings_table(json.loads(path.read_text(encoding="utf-8")).get("findings", []))
    paths = sorted((Path(run_dir) / "tables").glob("findings_*.csv"))
    # restore_cells: the text as written, without the apostrophe that keeps a CSV cell from being a formula
    parts = [restore_cells(pd.read_csv(path)) for path in paths if path.stat().st_size > 0]
    parts = [part for part in parts if len(part)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def findings_table(records: list[dict]) -> pd.DataFrame:
    """Finding records (of ``findings.json``) as the table :func:`action_plan` ranks.

    ``measure`` holds the words the rules match (key, label and analysis); ``subgroup``
    and ``group`` the first attribute and value, ``direction`` worse, better or neutral.

    >>> table = findings_table([{"section": "patterns", "measure": "oss", "analysis": "gaps",
    ...     "measure_label": "the out-of-school suspension rate", "subgroups": ["race_ethnicity"],
    ...     "groups": ["A"], "n": 40, "qvalue": 0.01, "difference": 0.1, "students_affected": 9,
    ...     "direction": "worse", "kind": "gap", "statement": "s"}])
    >>> table.loc[0, ["subgroup", "direction"]].tolist()
    ['race_ethnicity', 'worse']
    """
    columns = ["id", "source", "section", "measure", "subgroup", "group", "unit_id", "n", "qvalue", "difference",
               "students_affected", "direction", "finding_kind", "mirror", "partner", "actionable", "statement"]
    rows = [{
        "id": record.get("id", ""), "source": record.get("source", ""),
        "section": record.get("section", ""), "unit_id": record.get("unit_id") or "",
        "measure": " ".join(str(record.get(key) or "").replace("_", " ")
                            for key in ("measure", "measure_label", "analysis")).strip(),
        "subgroup": (record.get("subgroups") or [""])[0], "group": (record.get("groups") or [""])[0],
        **{key: record.get(key) for key in ("n", "qvalue", "difference", "students_affected", "direction",
                                            "statement")},
        "finding_kind": record.get("kind"),
        "mirror": bool((record.get("details") or {}).get("mirror", False)),
        "partner": str((record.get("details") or {}).get("partner", "")),
        "actionable": bool((record.get("details") or {}).get("actionable", True)),
    } for record in records]
    return pd.DataFrame(rows, columns=columns)


def strengths(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings where a group fares better: strengths to learn from (listed last in the plan)."""
    if findings.empty or "direction" not in findings:
        return findings.iloc[0:0]
    keep = findings["direction"] == "better"
    if "mirror" in findings:
        keep &= ~findings["mirror"].astype(bool)
    return findings[keep].reset_index(drop=True)


#: How a priority reads, in the order the plan lists them: concerns first; then differences whose side
#: the release gate withheld (a small count could be worked out from it: the team checks the counts, and
#: their "students affected" assumes a side, so they are not ranked among concerns whose side is known);
#: then concerns whose detail is in the confidential folder (how many teachers or withheld intersections,
#: never which: their students cannot be counted in public, so they are not ranked among the others),
#: then differences too small to act on alone, then strengths.
READS = ("concern", "side not shown", "concern, details confidential", "small difference", "strength")
#: How a priority that counts confidential results reads (printed even where a long plan is shortened).
CONFIDENTIAL_READS = "concern, details confidential"
#: The question for the team about a strength.
STRENGTH_QUESTION = "What is working for these students here, and how could it reach others?"
PLAN_COLUMNS = ["priority", "finding", "reads", "area", "strategy", "kind", "question", "students", "section",
                "measure", "finding_ids"]


def action_plan(findings: pd.DataFrame) -> pd.DataFrame:
    """Every finding ranked and mapped to a framework area, a strategy and a question for the team.

    Nothing flagged is left out: concerns (a group fares worse) come first, then differences whose
    side the release gate withheld (:data:`READS`), then concerns whose difference is too small to act on alone
    (:data:`equity_audit.publish.narrative.MIN_DIFFERENCE`), then strengths (``direction``
    "better"), each with the question a team asks about it. A "No" row of a yes/no subgroup
    that only mirrors a "Yes" row is listed under that row's priority (``finding_ids`` holds
    the ids of every finding a priority stands for). Within each part priorities are ranked
    by the number of students affected, then by certainty (adjusted p-value, smaller first),
    then by the size of the difference.
    """
    if findings.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    findings, grouped = _fold_mirrors(findings.reset_index(drop=True))
    matched = [_rule(str(measure)) for measure in findings["measure"]]  # one per finding
    reads = _reads(findings)
    plan = findings.assign(
        reads=reads, _part=reads.map({word: i for i, word in enumerate(READS)}),
        _affected=_numbers(findings, "students_affected", 0), _certainty=_numbers(findings, "qvalue", 1.0),
        _size=_numbers(findings, "difference", 0).abs(),
        area=[f"{area}. {AREAS[area]}" for area, *_ in matched],
        strategy=[_with_group_strategy(strategy, subgroup) for (_, strategy, *_), subgroup
                  in zip(matched, findings.get("subgroup", pd.Series("", index=findings.index)))],
        kind=[kind for *_, kind, _ in matched],
        question=np.where(reads == "strength", STRENGTH_QUESTION, [question for *_, question in matched]),
        finding_ids=grouped,
    ).sort_values(["_part", "_affected", "_certainty", "_size"], ascending=[True, False, True, False], kind="stable")
    plan = plan.reset_index(drop=True)
    plan.insert(0, "priority", np.arange(1, len(plan) + 1))
    return plan.rename(columns={"statement": "finding", "_affected": "students"})[PLAN_COLUMNS]


def _numbers(findings: pd.DataFrame, column: str, missing: float) -> pd.Series:
    values = findings[column] if column in findings else pd.Series(np.nan, index=findings.index)
    return pd.to_numeric(values, errors="coerce").fillna(missing)


def _reads(findings: pd.DataFrame) -> pd.Series:
    """concern, small difference or strength, per finding."""
    direction = findings["direction"] if "direction" in findings else pd.Series("worse", index=findings.index)
    actionable = (findings["actionable"].astype(bool) if "actionable" in findings
                  else pd.Series(True, index=findings.index))
    reads = np.where(direction == "better", "strength", np.where(actionable, "concern", "small difference"))
    unshown = (direction == "neutral") & _numbers(findings, "difference", np.nan).isna()
    reads = np.where(unshown.to_numpy(), "side not shown", reads)
    if "finding_kind" in findings:
        reads = np.where(findings["finding_kind"].eq("count").to_numpy(), CONFIDENTIAL_READS, reads)
    return pd.Series(reads, index=findings.index)


def _fold_mirrors(findings: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The findings without the "No" rows that mirror a listed "Yes" row, and each kept row's ids.

    A mirror belongs with the finding of the same table, measure and subgroup that is not a
    mirror; one with no such finding stays a priority of its own.
    """
    ids = findings["id"].astype(str) if "id" in findings else pd.Series("", index=findings.index)
    if "mirror" not in findings or "source" not in findings:
        return findings, ids.tolist()
    key = findings["source"].astype(str) + "|" + findings["measure"].astype(str) + "|" + findings["subgroup"].astype(str)
    if "unit_id" in findings:  # a school's mirror goes with that school's result, not another school's
        key = key + "|" + findings["unit_id"].fillna("").astype(str)
    mirror = findings["mirror"].astype(bool)
    # a "Yes" row first, so a mirror is listed under the row it mirrors rather than an Unknown row
    candidates = findings.index[~mirror].sort_values(key=lambda i: findings.loc[i, "group"].astype(str).ne("Yes"))
    owner = pd.Series(candidates, index=key[candidates]).groupby(level=0, sort=False).first()
    home = key.map(owner).where(mirror)  # the row a mirror is listed under, NaN when it has none
    if "partner" in findings:  # the other side of a near-complement: listed under that very group
        partner = findings["partner"].fillna("").astype(str)
        exact = key + "|" + findings["group"].astype(str)
        owners = pd.Series(candidates, index=exact[candidates]).groupby(level=0, sort=False).first()
        home = home.where(partner.eq(""), (key + "|" + partner).map(owners).where(mirror))
    folded = mirror & home.notna()
    home = home.fillna(pd.Series(findings.index, index=findings.index)).astype(int)
    first = mirror.sort_values(kind="stable").index  # a priority's own id before the mirrors listed with it
    listed = ids[first].groupby(home[first], sort=False).agg("; ".join)
    return findings[~folded], listed.reindex(findings.index[~folded]).tolist()


def _rule(measure: str):
    import re

    for pattern, area, strategy, kind, question in RULES:
        if re.search(pattern, measure, flags=re.IGNORECASE):
            return area, strategy, kind, question
    return _FALLBACK


def _with_group_strategy(strategy: str, subgroup) -> str:
    extra = _GROUP_STRATEGIES.get(str(subgroup))
    return f"{strategy}; {extra[:1].lower() + extra[1:]}" if extra else strategy


def area_counts(plan: pd.DataFrame) -> pd.DataFrame:
    """How many findings point at each framework area (every area listed, zero included)."""
    labels = [f"{number}. {name}" for number, name in AREAS.items()]
    counts = plan["area"].value_counts().reindex(labels, fill_value=0)
    return counts.rename_axis("area").reset_index(name="findings")


def areas_alt(areas: pd.DataFrame) -> str:
    """Alt text for the findings-by-area chart."""
    if areas["findings"].sum() == 0:
        return "Bar chart of findings by framework area: no result was marked for a closer look."
    top = areas.loc[areas["findings"].idxmax()]
    return (f"Bar chart of the {int(areas['findings'].sum())} findings by area of the equity framework; "
            f"the most, {int(top['findings'])}, concern area {top['area']}.")


def plan_display(plan: pd.DataFrame) -> pd.DataFrame:
    """The action plan as people read it."""
    return pd.DataFrame({
        "Priority": plan["priority"], "Finding": plan["finding"],
        "Reads as": plan["reads"] if "reads" in plan else "concern", "Framework area": plan["area"],
        "Suggested strategy": plan["strategy"], "Kind": plan["kind"], "Question for the team": plan["question"],
    })
