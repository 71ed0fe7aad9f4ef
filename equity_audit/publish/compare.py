"""Two audits side by side: which findings are new, resolved or persisting, and which gaps moved.

``equity-audit compare RUN_A RUN_B`` reads two run folders (last year's audit and
this year's, or one district run with two settings files) and writes one HTML page.
Only what the runs published is read (``findings.json`` and ``tables/*.csv``), so
the page discloses nothing the two runs did not already release.

A finding is the same in both runs when it names the same analysis, measure,
kind, unit and groups. A gap (a published ``difference`` with its 95% interval)
is matched on its table and label columns. Its change is ``b − a`` with the
interval ``± z·sqrt(se_a² + se_b²)``, each se read back from its own interval.
The two audits are taken as independent samples. When the same students appear
in both, their outcomes are positively correlated, so this interval is wider
than the exact one and a "narrowed" or "widened" verdict stays on the safe side.

Examples
--------
>>> a = pd.DataFrame({"table": ["t"], "subgroup": ["el"], "group": ["Yes"], "difference": [-0.30],
...                   "difference_low": [-0.40], "difference_high": [-0.20]})
>>> b = a.assign(difference=[-0.05], difference_low=[-0.15], difference_high=[0.05])
>>> gap_changes(a, b)[["verdict"]].to_dict("records")
[{'verdict': 'narrowed'}]
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from equity_audit.exceptions import EquityAuditError

__all__ = ["CompareError", "Comparison", "compare_runs", "finding_changes", "gap_changes", "write_comparison"]

#: The fields that make two findings "the same finding" in two audits.
FINDING_KEY = ("analysis", "measure", "kind", "unit", "unit_name", "subgroups", "groups")
#: Columns that only carry statistics or codes, never a label of the row.
_NOT_LABELS = {"status", "statistic", "compare", "exact", "suppressed", "flagged", "closer_look",
               "beyond_main_effects", "access_gap", "persistent", "harsh", "lenient", "vs_school_colleagues"}
_Z = sps.norm.ppf(0.975)


class CompareError(EquityAuditError):
    """A run folder that cannot be compared (missing or not an audit run)."""


@dataclass
class Comparison:
    """The result of :func:`compare_runs`: findings by status, gaps by verdict, and the settings."""

    findings: pd.DataFrame
    gaps: pd.DataFrame
    settings: pd.DataFrame
    names: tuple[str, str]


def _document(run: Path) -> dict:
    path = run / "findings.json"
    if not run.is_dir():
        raise CompareError(f"{run}: no such run folder. Expected the folder an `equity-audit run --out` wrote.")
    if not path.is_file():
        raise CompareError(f"{run}: no findings.json. Expected a finished audit run (run `equity-audit run` first).")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CompareError(f"{path}: not a readable findings.json ({err.__class__.__name__}).") from None


_KEPT = ["statement", "direction", "difference", "n"]


def _keyed(findings: list[dict]) -> pd.DataFrame:
    """The findings with the fields shown and a ``key`` that names each one across audits."""
    keys = [json.dumps([record.get(k) for k in FINDING_KEY], sort_keys=True, default=str)
            for record in findings]  # one key per finding (a few dozen)
    frame = pd.DataFrame(findings).reindex(columns=_KEPT).assign(key=keys)
    return frame.drop_duplicates("key")


def finding_changes(before: list[dict], after: list[dict]) -> pd.DataFrame:
    """Each finding of either audit with ``status`` new, resolved or persisting.

    Examples
    --------
    >>> same = {"analysis": "a", "measure": "pace", "kind": "gap", "unit": "district", "unit_name": None,
    ...         "subgroups": ["el"], "groups": ["Yes"], "statement": "s", "direction": "worse"}
    >>> other = dict(same, groups=["No"])
    >>> finding_changes([same], [same, other])["status"].tolist()
    ['new', 'persisting']
    """
    a, b = _keyed(before), _keyed(after)
    merged = b.merge(a[["key", "direction", "difference", "statement"]].rename(
        columns=lambda c: c if c == "key" else f"{c}_before"), on="key", how="outer", indicator=True)
    merged["status"] = merged["_merge"].map({"both": "persisting", "left_only": "new", "right_only": "resolved"})
    # a resolved finding keeps its own words (from the earlier audit)
    resolved = merged["status"] == "resolved"
    for column in ("statement", "direction", "difference"):
        merged[column] = merged[column].astype(object).where(~resolved, merged[f"{column}_before"])
    order = {"new": 0, "persisting": 1, "resolved": 2}
    merged = merged.assign(_order=merged["status"].map(order)).sort_values(["_order", "statement"], kind="mergesort")
    return merged.drop(columns=["_merge", "_order"]).reset_index(drop=True)


#: Numeric columns that label a row rather than measure it.
_NUMERIC_LABELS = ("school_year", "grade_level")
_GAP = ["difference", "difference_low", "difference_high"]


def _label_columns(table: pd.DataFrame) -> list[str]:
    """Text columns (and years, grades) that name a row; statistics and codes are left out."""
    def is_number(column: pd.Series) -> bool:
        filled = column[column.str.strip() != ""]
        return len(filled) > 0 and pd.to_numeric(filled, errors="coerce").notna().all()
    return [c for c in table.columns if c not in _NOT_LABELS and c not in _GAP
            and (c in _NUMERIC_LABELS or not is_number(table[c]))]


def _gaps_of(run: Path) -> pd.DataFrame:
    """Every published row with a difference and its interval, labelled by table and label columns."""
    parts = []
    for path in sorted((run / "tables").glob("*.csv")):  # one file per published table
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if not set(_GAP) <= set(table.columns):
            continue
        labels = _label_columns(table)
        row = table[labels].agg(" · ".join, axis=1) if labels else pd.Series("", index=table.index)
        numbers = table[_GAP].apply(pd.to_numeric, errors="coerce")
        parts.append(pd.DataFrame({"table": path.stem, "row": row, **numbers}).dropna())
    if not parts:
        return pd.DataFrame(columns=["table", "row", *_GAP])
    # a label that does not pick one row cannot be matched across audits
    return pd.concat(parts, ignore_index=True).drop_duplicates(["table", "row"], keep=False)


def gap_changes(before: pd.DataFrame, after: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Gaps published by both audits: the change, its interval and a verdict.

    ``before``/``after`` have ``table``, label columns (or ``row``), ``difference``,
    ``difference_low`` and ``difference_high``. The verdict is "narrowed" or
    "widened" when the interval of the change in the gap's size excludes 0 (the
    gap moved toward or away from 0), else "no clear change". A gap that
    changed sign is "reversed" when both intervals exclude 0.
    """
    z = sps.norm.ppf(0.5 + confidence / 2)
    keys = ["table", "row"] if "row" in before else [c for c in before.columns
                                                     if c not in ("difference", "difference_low", "difference_high")]
    both = before.merge(after, on=keys, suffixes=("_before", "_after"))
    se = {side: (both[f"difference_high_{side}"] - both[f"difference_low_{side}"]) / (2 * _Z)
          for side in ("before", "after")}
    change = both["difference_after"] - both["difference_before"]
    half = z * np.sqrt(se["before"] ** 2 + se["after"] ** 2)
    toward = -np.sign(both["difference_before"])  # a change of this sign brings the gap nearer 0
    moved_in = (change * toward - half) > 0
    moved_out = (change * -toward - half) > 0
    excludes = lambda side: (both[f"difference_low_{side}"] > 0) | (both[f"difference_high_{side}"] < 0)  # noqa: E731
    reversed_ = (np.sign(both["difference_before"]) * np.sign(both["difference_after"]) < 0) \
        & excludes("before") & excludes("after")
    verdict = np.select([reversed_, moved_in, moved_out], ["reversed", "narrowed", "widened"], "no clear change")
    return both.assign(change=change, change_low=change - half, change_high=change + half, verdict=verdict)


def _settings(doc_a: dict, doc_b: dict) -> pd.DataFrame:
    a, b = doc_a.get("settings") or {}, doc_b.get("settings") or {}
    rows = [{"setting": key, "before": a.get(key), "after": b.get(key)} for key in sorted(set(a) | set(b))]
    frame = pd.DataFrame(rows, columns=["setting", "before", "after"])
    return frame[frame["before"].astype(str) != frame["after"].astype(str)].reset_index(drop=True)


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare an earlier audit ``run_a`` with a later one ``run_b`` (published outputs only)."""
    run_a, run_b = Path(run_a), Path(run_b)
    doc_a, doc_b = _document(run_a), _document(run_b)
    public = lambda doc: [f for f in doc.get("findings", []) if not f.get("confidential")]  # noqa: E731
    names = tuple(f"{doc.get('district') or 'District'} ({doc.get('period') or doc.get('generated', '')})"
                  for doc in (doc_a, doc_b))
    return Comparison(findings=finding_changes(public(doc_a), public(doc_b)),
                      gaps=gap_changes(_gaps_of(run_a), _gaps_of(run_b)),
                      settings=_settings(doc_a, doc_b), names=names)


# --- the page ----------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;color:#1a1a1a}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #ccc;
padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right}
.note{background:#fff6d6;padding:.5rem 1rem;border-left:4px solid #d9a400}"""


def _table(frame: pd.DataFrame, columns: dict[str, str], empty: str) -> str:
    if frame.empty:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(title)}</th>" for title in columns.values())
    body = []
    for record in frame[list(columns)].itertuples(index=False):  # one line per finding or gap shown
        cells = []
        for value in record:
            numeric = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
            text = "" if value is None or (numeric and not np.isfinite(value)) else (
                f"{value:+.3f}" if numeric else str(value))
            cells.append(f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _interval(frame: pd.DataFrame) -> pd.Series:
    low, high = (frame[column].map("{:+.3f}".format).astype(str) for column in ("change_low", "change_high"))
    return low + " to " + high


def comparison_html(result: Comparison) -> str:
    """The comparison as one self-contained HTML page (every data value escaped, no script)."""
    before, after = (escape(name) for name in result.names)
    counts = result.findings["status"].value_counts()
    parts = [f"<h1>Two audits compared</h1><p>Earlier: <b>{before}</b>. Later: <b>{after}</b>.</p>",
             f"<p>{counts.get('new', 0)} new findings, {counts.get('persisting', 0)} persisting, "
             f"{counts.get('resolved', 0)} no longer flagged. A finding is a question for the team, not a verdict; "
             "one that is no longer flagged may have changed, or may have fallen below what the data can show.</p>"]
    if not result.settings.empty:
        parts.append('<div class="note"><p>The two audits used different settings, so some differences come from '
                     "the settings, not the students:</p>"
                     + _table(result.settings.astype(str), {"setting": "Setting", "before": "Earlier",
                                                            "after": "Later"}, "") + "</div>")
    for status, title in (("new", "New findings"), ("persisting", "Persisting findings"),
                          ("resolved", "No longer flagged")):
        rows = result.findings[result.findings["status"] == status]
        parts.append(f"<h2>{title}</h2>" + _table(rows, {"statement": "Finding", "direction": "Group fares"},
                                                  "None."))
    gaps = result.gaps
    moved = gaps[gaps["verdict"] != "no clear change"].assign(interval=lambda g: _interval(g))
    parts.append("<h2>Gaps that moved</h2><p>Each gap published by both audits, where the 95% interval of its "
                 f"change excludes no change ({len(gaps)} gaps compared; the others show no clear change).</p>")
    parts.append(_table(moved.sort_values(["verdict", "table", "row"], kind="mergesort"),
                        {"table": "Table", "row": "Group", "difference_before": "Earlier gap",
                         "difference_after": "Later gap", "change": "Change", "interval": "95% interval",
                         "verdict": "Verdict"}, "No gap moved beyond chance."))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>Two audits compared</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def write_comparison(run_a: str | Path, run_b: str | Path, out: str | Path) -> Path:
    """Compare two runs and write the page to ``out``; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(comparison_html(compare_runs(run_a, run_b)), encoding="utf-8")
    return out
