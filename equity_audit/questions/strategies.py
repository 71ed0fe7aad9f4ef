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
    columns = ["section", "measure", "subgroup", "group", "n", "qvalue", "difference", "students_affected",
               "direction", "finding_kind", "mirror", "actionable", "statement"]
    rows = [{
        "section": record.get("section", ""),
        "measure": " ".join(str(record.get(key) or "").replace("_", " ")
                            for key in ("measure", "measure_label", "analysis")).strip(),
        "subgroup": (record.get("subgroups") or [""])[0], "group": (record.get("groups") or [""])[0],
        **{key: record.get(key) for key in ("n", "qvalue", "difference", "students_affected", "direction",
                                            "statement")},
        "finding_kind": record.get("kind"),
        "mirror": bool((record.get("details") or {}).get("mirror", False)),
        "actionable": bool((record.get("details") or {}).get("actionable", True)),
    } for record in records]
    return pd.DataFrame(rows, columns=columns)


def strengths(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings where a group fares better: strengths to learn from, not priorities to act on."""
    if findings.empty or "direction" not in findings:
        return findings.iloc[0:0]
    keep = findings["direction"] == "better"
    if "mirror" in findings:
        keep &= ~findings["mirror"].astype(bool)
    return findings[keep].reset_index(drop=True)


def action_plan(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings ranked and mapped to a framework area, a strategy and a question.

    Strengths (``direction`` "better"), "No" cells that mirror a "Yes" cell and
    differences too small to act on are left out (they stay in ``findings.json``).
    Ranked by the number of students affected, then by certainty (adjusted p-value,
    smaller first), then by the size of the difference.
    """
    if "direction" in findings:  # strengths are findings, not priorities: see strengths()
        findings = findings[findings["direction"] != "better"]
    if "mirror" in findings:  # a "No" cell mirrors the "Yes" cell; a tiny difference is not a priority
        findings = findings[~findings["mirror"].astype(bool) & findings["actionable"].astype(bool)]
    if findings.empty:
        return pd.DataFrame(columns=["priority", "finding", "area", "strategy", "kind", "question", "students"])
    matched = [_rule(str(measure)) for measure in findings["measure"]]  # one per finding
    plan = findings.assign(
        _affected=pd.to_numeric(findings.get("students_affected"), errors="coerce").fillna(0),
        _certainty=pd.to_numeric(findings.get("qvalue"), errors="coerce").fillna(1.0),
        _size=pd.to_numeric(findings.get("difference"), errors="coerce").abs().fillna(0),
        area=[f"{area}. {AREAS[area]}" for area, *_ in matched],
        strategy=[_with_group_strategy(strategy, subgroup) for (_, strategy, *_), subgroup
                  in zip(matched, findings["subgroup"])],
        kind=[kind for *_, kind, _ in matched],
        question=[question for *_, question in matched],
    ).sort_values(["_affected", "_certainty", "_size"], ascending=[False, True, False])
    plan = plan.reset_index(drop=True)
    plan.insert(0, "priority", np.arange(1, len(plan) + 1))
    return plan.rename(columns={"statement": "finding", "_affected": "students"})[
        ["priority", "finding", "area", "strategy", "kind", "question", "students", "section", "measure"]]


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
        "Priority": plan["priority"], "Finding": plan["finding"], "Framework area": plan["area"],
        "Suggested strategy": plan["strategy"], "Kind": plan["kind"], "Question for the team": plan["question"],
    })
