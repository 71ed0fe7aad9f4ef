"""The executive summary: the first two pages of the report.

Built only from the published findings of a run (``findings.json`` after the
disclosure audit, so every number has passed the release gate) and from the
published ``ledger`` and ``analyses_available`` tables. It holds:

- the 3 to 7 most important findings where a group fares worse, each one plain
  sentence with its number, n and direction, ranked like the priorities: by
  students affected, then certainty (q-value, smaller first), then size. So that
  they cover the district rather than repeat its largest group, at most two come
  from one table and two are about one group or school, and the first of each
  kind of comparison (a group against the rest of the district, an intersection
  against what its main effects predict, a school, a group within a school) has
  a place even when it concerns fewer students; and while another of the audit's
  questions has findings to give, at most three come from one question (a
  question whose gaps all span the whole group, like the share of evidence at
  DOK 3-4, counts every student of the group as affected and would fill the page);
- the strengths (findings where a group fares better);
- the data that was and was not provided, and the analyses that could not run;
- one chart: the students affected by each summary finding.

A finding enters the summary only with a shown estimate, a direction and a
difference large enough to act on (``details.actionable``); the "No" cell of a
yes/no subgroup, which only mirrors the "Yes" cell, never does.

Examples
--------
>>> finding = {"subgroups": ["english_learner"], "groups": ["Yes"], "measure": "pace",
...            "measure_label": "average pace (levels a year)", "estimate": 0.63, "n": 182,
...            "comparator": "all other students", "comparator_estimate": 0.98, "direction": "worse"}
>>> sentence(finding)
'English learners: average pace (levels a year) is 0.63 (n = 182) against 0.98 for all other students; they fare worse.'
"""
from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from equity_audit.publish import narrative
from equity_audit.publish.findings import MEASURES, read_findings
from equity_audit.publish.plots import LITERAL_TEXT

__all__ = ["MAX_FINDINGS", "MAX_STRENGTHS", "PER_SOURCE", "PER_SUBJECT", "PER_QUESTION", "ranked", "top_findings", "sentence",
           "data_provided", "summary_chart", "summary_html"]

#: At most this many findings (and strengths) in the summary; it has to fit on two pages.
MAX_FINDINGS = 7
MAX_STRENGTHS = 3
#: At most this many findings from one table, so one analysis does not fill the summary.
PER_SOURCE = 2
#: At most this many findings about one group, intersection or school: a summary that says four things
#: about the largest group has no room left for the rest of the district.
PER_SUBJECT = 2
#: At most this many findings from one of the audit's questions (unmet need, patterns, what prevents
#: equality) while another question has findings left: the summary speaks to each question asked.
PER_QUESTION = 3


def ranked(findings: list[dict], direction: str) -> pd.DataFrame:
    """The published findings of ``direction`` that may enter the summary, most important first.

    Kept: not confidential, a shown estimate and n, not a mirror cell, actionable.
    Ranked by students affected (more first), q-value (smaller first) and the size of
    the difference (larger first), as the priorities are.
    """
    table = pd.DataFrame(findings)
    if table.empty:
        return table
    details = table.get("details", pd.Series([{}] * len(table))).map(lambda d: d if isinstance(d, dict) else {})
    keep = ((table["direction"] == direction) & table["estimate"].notna() & table["n"].notna()
            & ~table.get("confidential", False).fillna(False).astype(bool)
            & ~details.map(lambda d: bool(d.get("mirror", False)))
            & details.map(lambda d: bool(d.get("actionable", True))))
    table = table[keep].assign(
        _affected=pd.to_numeric(table["students_affected"], errors="coerce").fillna(0),
        _certainty=pd.to_numeric(table["qvalue"], errors="coerce").fillna(1.0),
        _size=pd.to_numeric(table["difference"], errors="coerce").abs().fillna(0))
    table = table.sort_values(["_affected", "_certainty", "_size"], ascending=[False, True, False], kind="stable")
    return table.drop(columns=["_affected", "_certainty", "_size"]).reset_index(drop=True)


def top_findings(findings: list[dict], direction: str = "worse", limit: int = MAX_FINDINGS) -> list[dict]:
    """The ``limit`` most important findings of ``direction``, in rank order.

    At most :data:`PER_SOURCE` per table and :data:`PER_SUBJECT` per group (or
    intersection, or school). A group's measure that two tables flag (the latest
    year and all years) enters once, as ranked. The best-ranked finding of each
    kind of comparison (its ``unit`` and ``kind``: a district gap, an
    intersection beyond its main effects, a school's gap) is kept first; the
    places left go by rank.
    """
    table = ranked(findings, direction)
    if table.empty:
        return []
    source = table["source"] if "source" in table else pd.Series(range(len(table)))
    table = table[source.groupby(source).cumcount() < PER_SOURCE]
    # the same group and measure from two tables (the latest year and all years, say) is said once
    table = table[~_key(table, ["unit_name", "subgroups", "groups", "measure_label"]).duplicated()]
    subject = _key(table, ["unit_name", "subgroups", "groups"])
    table = table[subject.groupby(subject).cumcount() < PER_SUBJECT].reset_index(drop=True)
    table = _questions_in_turn(table)
    table = table[_each_kind_then_rank(table, limit)]
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _questions_in_turn(table: pd.DataFrame) -> pd.DataFrame:
    """The ranked rows with each question's rows past :data:`PER_QUESTION` moved after all the others (in rank order)."""
    question = table.reindex(columns=["question"])["question"].astype(object).fillna(
        table.reindex(columns=["section"])["section"]).astype(str)
    over = (question.groupby(question).cumcount() >= PER_QUESTION).to_numpy()
    return pd.concat([table[~over], table[over]]).reset_index(drop=True)


def _each_kind_then_rank(table: pd.DataFrame, limit: int) -> pd.Series:
    """Which ranked rows to keep: the first of each kind of comparison, then the best ranked, ``limit`` in all."""
    # a school's own gap and a group's gap within a school are different kinds; a finding about no group
    # or school (scorers' agreement, say) competes by rank only
    groups = table.reindex(columns=["groups"])["groups"].map(lambda g: bool(g) if isinstance(g, list) else False)
    about_someone = groups | table.reindex(columns=["unit_name"])["unit_name"].notna()
    first_of_kind = ~_key(table.assign(_groups=groups), ["unit", "kind", "_groups"]).duplicated() & about_someone
    chosen = first_of_kind & (first_of_kind.cumsum() <= limit)
    return chosen | (~chosen & ((~chosen).cumsum() <= limit - int(chosen.sum())))


def _key(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The ``columns`` of each row as one text (absent columns and blanks as empty text)."""
    text = table.reindex(columns=columns).astype(object).fillna("").astype(str)
    return text.agg("|".join, axis=1) if len(text) else pd.Series("", index=table.index, dtype=object)


def _percent(measure: str) -> bool:
    key = measure if measure in MEASURES else str(measure).split("_", 1)[0]
    return bool(MEASURES.get(key, (None, 0, False))[2])


def _subject(finding: dict) -> str | None:
    """Who a finding is about, in words: a group, an intersection, a school, a group in a school, or None."""
    subgroups, groups = finding.get("subgroups") or [], finding.get("groups") or []
    words = [narrative.intersection_words(subgroups, groups)] if len(subgroups) and len(groups) else []
    unit = finding.get("unit_name")
    if unit and words:
        return f"{unit}, {words[0]}"
    return str(unit) if unit else (words[0] if words else None)


def sentence(finding: dict) -> str:
    """One plain sentence: who, the measure and its value, n, the comparison and the direction."""
    percent = _percent(str(finding.get("measure", "")))
    value = lambda v: narrative.fmt_value(v, percent=percent)  # noqa: E731
    subject = _subject(finding)
    n = finding.get("n")
    shown_n = f" (n = {int(n):,})" if n is not None and not pd.isna(n) else ""
    other = finding.get("comparator_estimate")
    comparator = str(finding.get("comparator") or "all other students")
    against = "" if other is None or pd.isna(other) else narrative.against_words(comparator, value(other))
    direction = finding.get("direction", "neutral")
    if subject is None:  # about no group or school: the measure itself falls short or does well
        return (f"{narrative.capital(str(finding.get('measure_label', '')))} is {value(finding.get('estimate'))}{shown_n}"
                f"{against}; {NO_SUBJECT_WORDS.get(direction, NO_SUBJECT_WORDS['neutral'])}.")
    fares = narrative.DIRECTION_WORDS[direction][0]
    return (f"{narrative.capital(subject)}: {finding.get('measure_label', '')} is "
            f"{value(finding.get('estimate'))}{shown_n}{against}; {fares}{_colleagues(finding)}.")


def _colleagues(finding: dict) -> str:
    """How a unit marked against the district compares with the others of its school, if it was compared.

    >>> _colleagues({"unit": "plc", "direction": "worse", "difference": 0.1,
    ...              "details": {"vs_school_colleagues": "similar"}})
    ', like the other PLCs of its school'
    """
    words = (finding.get("details") or {}).get("vs_school_colleagues", "")
    reading = narrative.colleague_reading(words, finding.get("difference"))
    kind, direction = narrative.unit_kind(finding.get("unit")), finding.get("direction")
    if reading == "alike":
        return f", like the other {kind}s of its school"
    if reading == "same":
        return f", also against the other {kind}s of its school"
    if reading == "opposite" and direction in ("worse", "better"):
        return f", though {'better' if direction == 'worse' else 'worse'} than the other {kind}s of its school"
    return ""


#: How a finding about no group or school (the scorers' agreement, say) ends, by direction.
NO_SUBJECT_WORDS = {"worse": "it falls short", "better": "it does better", "neutral": "a difference to understand"}


def data_provided(run_dir: str | Path) -> dict:
    """The tables provided and not, and the analyses that could not run (with what they need).

    Read from the published ``tables/ledger.csv`` and ``tables/analyses_available.csv``;
    empty lists when a run has neither.
    """
    tables = Path(run_dir) / "tables"
    result = {"provided": [], "not_provided": [], "not_run": []}
    if (tables / "ledger.csv").exists():
        ledger = pd.read_csv(tables / "ledger.csv")
        provided = ledger["provided"].astype(str).str.lower() == "true"
        result["provided"] = ledger.loc[provided, "table"].map(narrative.label).tolist()
        result["not_provided"] = ledger.loc[~provided, "table"].map(narrative.label).tolist()
    if (tables / "analyses_available.csv").exists():
        analyses = pd.read_csv(tables / "analyses_available.csv", dtype=str, keep_default_na=False)
        skipped = analyses[analyses["Runs"].astype(str) != "Yes"]
        result["not_run"] = [f"{row['Analysis']} (needs {row['Missing']})" if row["Missing"] else str(row["Analysis"])
                             for row in skipped.to_dict(orient="records")]
    return result


def summary_chart(findings: list[dict]) -> tuple[str, str] | None:
    """A bar chart of the students affected by each summary finding: (base64 PNG, alt text).

    A finding that counts no students (the scorers' agreement, say) has no bar, rather than a bar
    of 0; None when no finding counts any.
    """
    counted = [(number, f) for number, f in enumerate(findings, 1) if _affected(f) > 0]
    if not counted:
        return None
    labels = [f"{number}. {_label(f)}" for number, f in counted]
    affected = [_affected(f) for _, f in counted]
    with rc_context({**LITERAL_TEXT, "font.size": 9}):  # a Figure of its own: no pyplot state, any backend
        fig = Figure(figsize=(7.5, 0.42 * len(counted) + 0.8))
        ax = fig.subplots()
        bars = ax.barh([_wrap(label) for label in labels], affected, color="#0173B2")
        ax.bar_label(bars, labels=[f"{int(a):,}" for a in affected], padding=3)
        ax.invert_yaxis()
        ax.set_xlabel("Students affected")
        ax.set_xlim(0, max(affected + [1]) * 1.15)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
    most = max(range(len(counted)), key=lambda i: affected[i])
    which = f"each of the {len(findings)}" if len(counted) == len(findings) else f"{len(counted)} of the {len(findings)}"
    alt = (f"Bar chart of the students affected by {which} findings of the summary; "
           f"the most, {int(affected[most]):,}, by finding {counted[most][0]}: {labels[most].split('. ', 1)[1]}.")
    return base64.b64encode(buffer.getvalue()).decode("ascii"), alt


def _affected(finding: dict) -> float:
    """The students a finding affects, 0 when it counts none (or the count is withheld)."""
    value = pd.to_numeric(pd.Series([finding.get("students_affected")]), errors="coerce").iloc[0]
    return float(value) if pd.notna(value) else 0.0


def _label(finding: dict) -> str:
    """Who and what, as a chart label: "English learners: average pace ..." (the measure alone if about no one)."""
    subject, measure = _subject(finding), str(finding.get("measure_label", ""))
    return f"{narrative.capital(subject)}: {measure}" if subject else narrative.capital(measure)


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:3])


def _list(items: list[str]) -> str:
    return "<ol>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ol>"


def summary_html(run_dir: str | Path) -> str:
    """The executive summary of a run as an HTML ``<section>`` (data values escaped)."""
    findings = read_findings(Path(run_dir) / "findings.json")
    top = top_findings(findings, "worse")
    strengths = top_findings(findings, "better", MAX_STRENGTHS)
    parts = ['<section id="summary" class="audit-summary">', '<h1 id="Executive-summary">Executive summary</h1>']
    if top:
        parts += [f"<h2 id=\"Summary-findings\">The {len(top)} most important findings</h2>",
                  "<p>Where a group of students fares worse than others and needs more support, ranked by the "
                  "students affected, then how certain and how large the difference is. So that they cover the "
                  "district, at most two are about one group or school, at most three answer one of the audit's "
                  "questions while another has findings, and the first found of each kind (a gap "
                  "across the district, an intersection of groups, a school, a group within a school) has a place "
                  "even when it concerns fewer students. Each is a question for the team, not a verdict; the "
                  "priorities that follow list every finding.</p>", _list(
                      [sentence(f) for f in top])]
        chart = summary_chart(top)
        if chart:
            png, alt = chart
            parts.append(f'<figure class="audit-figure summary-figure"><img src="data:image/png;base64,{png}" '
                         f'alt="{escape(alt)}"><figcaption>Students affected by each finding above that counts '
                         "students</figcaption></figure>")
    else:
        parts += ['<h2 id="Summary-findings">Findings</h2>', "<p>No result of this audit where a group fares worse "
                  "was large enough to act on. That is not proof of equity: small groups, missing tables and what "
                  "was not measured still deserve attention.</p>"]
    parts.append('<h2 id="Summary-strengths">Strengths to learn from</h2>')
    parts.append(_list([sentence(f) for f in strengths]) if strengths else
                 "<p>No group fares better than others by a difference large enough to act on.</p>")
    parts += _data_paragraphs(data_provided(run_dir))
    parts.append("</section>")
    return "\n".join(parts)


def _data_paragraphs(data: dict) -> list[str]:
    said = lambda items: ", ".join(items) if items else "none"  # noqa: E731
    lines = ['<h2 id="Summary-data">The data behind this audit</h2>',
             f"<p><strong>Tables provided:</strong> {escape(said(data['provided']))}.</p>",
             f"<p><strong>Tables not provided:</strong> {escape(said(data['not_provided']))}.</p>"]
    lines.append(f"<p><strong>Analyses that could not run:</strong> {escape(said(data['not_run']))}.</p>"
                 if data["not_run"] else "<p>Every analysis of the audit ran on the data provided.</p>")
    return lines
