"""Numbers written into plain sentences: headlines, alt text and findings.

Every sentence names its n and, for a comparison, its interval, and speaks of
students with asset-based words ("needs more support", "not yet on pace").
A flag is written as a question for the team, never as a verdict.

Examples
--------
>>> fmt_value(0.4567, percent=True), fmt_value(1.234, percent=False)
('46%', '1.23')
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.data.dictionary import display_name, display_value
from equity_audit.data.problems import plural
from equity_audit.data.text import inert_markdown
from equity_audit.privacy import top_bottom_code
from equity_audit.publish.release import STATUS_COLUMN, audited_codes, protect
from equity_audit.scans import COLLEAGUE_COLUMN

__all__ = ["fmt_value", "label", "shown_groups", "forest_alt", "findings", "pace_headline",
           "heatmap_alt", "display_table", "below_pace_words", "boxes_alt", "quadrant_alt", "intersection_table",
           "scenario_text", "chart_table", "findings_table", "findings_markdown", "drop_empty_unknown",
           "idea_display", "funnel_alt", "gap_scan_display", "access_display", "access_heatmap_table",
           "count_sentence", "finding_sentence", "group_words", "DIRECTION_WORDS", "UNSHOWN_WORDS", "label_direction",
           "idea_findings", "gap_findings", "access_findings", "combine_findings",
           "access_heatmap_alt", "severity_table", "severity_alt", "calibration_display", "climate_chart_table",
           "climate_display", "scorer_count_sentence", "count_finding", "pattern_sentence", "MIN_DIFFERENCE",
           "FINDING_COLUMNS"]

FINDING_COLUMNS = ["section", "measure", "subgroup", "group", "n", "estimate", "low", "high",
                   "comparator_estimate", "difference", "qvalue", "students_affected", "statement"]


def fmt_value(value: float, *, percent: bool) -> str:
    """A rate as a whole percent, anything else to two decimals."""
    if value is None or pd.isna(value):
        return "—"
    if percent:
        # small shares need a decimal, or 0.4% and 0% read the same
        return f"{value:.1%}" if abs(value) < 0.1 and value != 0 else f"{value:.0%}"
    return f"{value:.2f}"


def label(name: str) -> str:
    """A column name as words (:func:`equity_audit.data.dictionary.display_name`): ``english_learner``
    becomes ``English learner``."""
    return display_name(name)


def shown_groups(table: pd.DataFrame) -> pd.DataFrame:
    """Drop ``Unknown`` rows that hold no students: a blank row says nothing."""
    empty_unknown = (table["group"].astype(str) == UNKNOWN) & (table["n"] == 0)
    return table[~empty_unknown].reset_index(drop=True)


#: Person-first names of the yes/no subgroups, for "Yes" and for "No".
GROUP_WORDS = {
    "english_learner": ("English learners", "students not identified as English learners"),
    "disability": ("students with disabilities", "students without an identified disability"),
    "low_income": ("students from low-income families", "students not identified as low-income"),
    "section_504": ("students with a 504 plan", "students without a 504 plan"),
    "homeless": ("students experiencing homelessness", "students not identified as homeless"),
    "foster_care": ("students in foster care", "students not in foster care"),
    "migrant": ("students from migratory families", "students not identified as migratory"),
}


def _group_name(row) -> str:
    """How a sentence names a group: person-first for yes/no subgroups."""
    subgroup = str(row["subgroup"])
    group = display_value(subgroup, row["group"])  # a coded Y/N or True/False reads Yes/No
    if group == UNKNOWN:
        return f"students whose {label(subgroup).lower()} is not recorded"
    if group in ("Yes", "No") and subgroup in GROUP_WORDS:
        return GROUP_WORDS[subgroup][group == "No"]
    if group in ("Yes", "No"):  # a flag of the district's own: its name as the district wrote it
        return f"students {'not ' if group == 'No' else ''}marked “{label(subgroup)}”"
    if subgroup in ("race_ethnicity", "gender"):
        # "Two or more races students" reads as a typo: a group named by its races is "students of" them
        return f"students of {group[:1].lower()}{group[1:]}" if re.search(r"\braces?\b", group, re.I) else f"{group} students"
    return group


def capital(text: str) -> str:
    """``text`` with its first letter a capital, the rest as written ("students of ..." starts a sentence).

    >>> capital("students with disabilities")
    'Students with disabilities'
    """
    return text[:1].upper() + text[1:]


def group_words(subgroup: str, group: str) -> str:
    """How a sentence names a group, person-first for yes/no subgroups.

    >>> group_words("english_learner", "Yes")
    'English learners'
    """
    return _group_name({"subgroup": subgroup, "group": group})


def intersection_words(subgroups, groups) -> str:
    """How a sentence names the students in several groups at once.

    >>> intersection_words(["disability", "low_income"], ["Yes", "Yes"])
    'students with disabilities who are also students from low-income families'
    """
    words = [group_words(str(s), str(g)) for s, g in zip(subgroups, groups)]
    return words[0] if len(words) == 1 else f"{words[0]} who are also {' and '.join(words[1:])}"


#: What an intersection is compared with: the value its groups' own differences add up to, not other students.
PREDICTED_COMPARATOR = "what the groups' separate differences predict"


def against_words(comparator: str, comparator_value: str | None) -> str:
    """" against ..." of a finding: a group of students, or a prediction ("what ... predict") as a clause.

    >>> against_words("all other students", "0.98"), against_words(PREDICTED_COMPARATOR, "1.36")
    (' against 0.98 for all other students', " against the 1.36 that the groups' separate differences predict")
    """
    if comparator_value is None:
        return f" against {comparator}"
    if comparator.startswith("what "):
        return f" against the {comparator_value} that {comparator[5:]}"
    return f" against {comparator_value} for {comparator}"


#: How a finding says which way the group fares, and what the team might do with it.
DIRECTION_WORDS = {
    "worse": ("they fare worse", "Worth asking why."),
    "better": ("they fare better", "A strength: worth learning what works here."),
    "neutral": ("a difference with no better or worse side", "Worth understanding."),
}


#: The end of a finding whose difference the release gate withheld: it has a side, which is not shown.
UNSHOWN_WORDS = ("which way it differs is not shown, so that a small count cannot be worked out",
                 "Worth a closer look by the team, who can see the counts.")


def _ending(direction: str, difference, mirror_of: str | None) -> tuple[str, str]:
    """(how the group fares, what to do with it) for a finding sentence.

    A "No" row of a yes/no subgroup only mirrors the "Yes" row: it is neither a
    strength nor a concern of its own, and says so.
    """
    fares, action = DIRECTION_WORDS[direction]
    if direction == "neutral" and (difference is None or pd.isna(difference)):
        fares, action = UNSHOWN_WORDS
    if mirror_of:
        action = f"The other side of the result for {mirror_of}, not a strength or concern of its own."
    return fares, action


def finding_sentence(*, subject: str, measure: str, percent: bool, n, estimate, comparator: str,
                     comparator_estimate, difference, interval, direction: str, qvalue=None,
                     unit_name: str | None = None, interval_of: str = "estimate", extra: str = "",
                     mirror_of: str | None = None) -> str:
    """One finding in plain words, saying plainly whether the group fares worse or better.

    ``interval`` is the 95% interval of ``estimate`` (``interval_of="estimate"``) or of the
    difference (``"difference"``). ``unit_name`` prefixes a school, PLC, teacher or scorer.
    ``mirror_of`` names the group whose result a "No" row mirrors. A strength is named a
    strength; a difference the release gate withheld says that its side is not shown.

    >>> finding_sentence(subject="English learners", measure="average pace (levels a year)", percent=False,
    ...                  n=60, estimate=0.66, comparator="all other students", comparator_estimate=1.04,
    ...                  difference=-0.38, interval=[0.61, 0.71], direction="worse")
    'English learners: average pace (levels a year) is 0.66 (n=60; 95% interval 0.61 to 0.71) against 1.04 for all other students: they fare worse. Worth asking why.'
    """
    value = lambda v: fmt_value(min(max(v, 0), 1) if percent and v is not None and not pd.isna(v) else v,  # noqa: E731
                                percent=percent)
    fares, action = _ending(direction, difference, mirror_of)
    details = [f"n={int(n)}"] if n is not None and not pd.isna(n) else []
    low, high = (list(interval) + [None, None])[:2] if interval else (None, None)
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        if interval_of == "difference":
            scale, unit = (100, " points") if percent else (1, "")
            details.append(f"difference {difference * scale:+.{0 if percent else 2}f}{unit}, 95% interval "
                           f"{low * scale:+.{0 if percent else 2}f} to {high * scale:+.{0 if percent else 2}f}")
        else:
            details.append(f"95% interval {value(low)} to {value(high)}")
    shown = f" ({'; '.join(details)})" if details else ""
    name = capital(subject)
    prefix = f"{unit_name}: {measure} of {subject}" if unit_name else f"{name}: {measure}"
    known = comparator_estimate is not None and not pd.isna(comparator_estimate)
    against = against_words(comparator, value(comparator_estimate) if known else None)
    return f"{prefix} is {value(estimate)}{shown}{against}: {fares}.{extra} {action}"


def _released(table: pd.DataFrame, min_n: int | None) -> tuple[pd.DataFrame, pd.Series]:
    """An alt text's table after the release gate, and which rows it withholds whole.

    Alt text states only what the released tables state: values come from
    :func:`equity_audit.publish.release.protect`'s output (a coded share's value is
    blank there), names and labels from the table as given.
    """
    from equity_audit.config import Config

    data = table.reset_index(drop=True)
    released = protect(data, min_n=Config().min_n if min_n is None else min_n)
    status = (released[STATUS_COLUMN] if STATUS_COLUMN in released else pd.Series("", index=data.index))
    # a whole word: "audit:n_missing" withholds one column and leaves the row shown
    withheld = status.astype(str).str.contains(r"(?:^|;)(?:small_n|complementary|audit)(?:;|$)", regex=True)
    if "suppressed" in released:
        withheld |= released["suppressed"].astype("boolean").fillna(True).astype(bool)
    labels = [c for c in data.columns if c not in released or not pd.api.types.is_numeric_dtype(data[c])
              or c in ("subgroup", "group")]
    released[labels] = data[labels]
    return released.assign(**{STATUS_COLUMN: status.astype(str).to_numpy()}), withheld.to_numpy()


def _coded_sentence(released: pd.DataFrame, original: pd.DataFrame, withheld, name) -> str:
    """ "Shown only as a range: A (≥ 95%)." for the rows whose share the gate coded."""
    coded = ~withheld & released[STATUS_COLUMN].str.contains("top_coded|bottom_coded", regex=True).to_numpy()
    if not coded.any():
        return ""
    codes = top_bottom_code(pd.to_numeric(original["estimate"], errors="coerce").clip(0, 1).to_numpy()[coded],
                            pd.to_numeric(original["n"], errors="coerce").to_numpy()[coded], scale=1)
    rows = released[coded]
    parts = [f"{name(row)} ({code})" for (_, row), code in zip(rows.iterrows(), codes)]
    return f"Shown only as a range: {', '.join(parts)}."


def forest_alt(table: pd.DataFrame, measure: str, *, percent: bool, reference: float | None = None,
               min_n: int | None = None) -> str:
    """Alt text for a by-subgroup dot chart: the extremes, the reference, the flags.

    Only values the release gate lets out are stated (``min_n`` defaults to the setting);
    a coded share is given as its code.
    """
    original = table.reset_index(drop=True)
    released, withheld = _released(original, min_n)
    shown = released[~withheld & released["estimate"].notna().to_numpy()]
    coded = _coded_sentence(released, original, withheld, _group_name)
    if shown.empty:
        return " ".join(filter(None, [f"Chart of {measure} by subgroup; every group is too small to show"
                                      + (" exactly." if coded else "."), coded]))
    high, low = shown.loc[shown["estimate"].idxmax()], shown.loc[shown["estimate"].idxmin()]
    parts = [f"Dot chart of {measure} by subgroup with 95% intervals.",
             f"Highest: {_group_name(high)} at {fmt_value(high['estimate'], percent=percent)} (n={int(high['n'])});",
             f"lowest: {_group_name(low)} at {fmt_value(low['estimate'], percent=percent)} (n={int(low['n'])})."]
    if coded:
        parts.append(coded)
    if reference is not None:
        parts.append(f"The district figure is {fmt_value(reference, percent=percent)}.")
    flagged = released[~withheld & released["flagged"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    if len(flagged):
        names = ", ".join(_group_name(row) for _, row in flagged.head(4).iterrows())
        parts.append(f"{len(flagged)} group(s) differ from all other students beyond chance: {names}.")
    else:
        parts.append("No group differs from all other students beyond what chance would explain.")
    return " ".join(parts)


def heatmap_alt(table: pd.DataFrame, rows: str, columns: str, measure: str, *, percent: bool,
                min_n: int | None = None, cell_words: Callable | None = None, by: str | None = None) -> str:
    """Alt text for an intersection heat map: the most and least favourable cells (released values only).

    ``cell_words`` names a cell from its row (default: "Race/ethnicity Asian with Low income Yes"),
    ``by`` what the rows and columns are (default: the two columns' names in words).
    """
    original = table.reset_index(drop=True)
    released, withheld = _released(original, min_n)
    shown = released[~withheld & released["estimate"].notna().to_numpy()]
    cell = cell_words or (lambda row: f"{label(rows)} {row[rows]} with {label(columns)} {row[columns]}")
    by = by or f"{label(rows)} and {label(columns)}"
    coded = _coded_sentence(released, original, withheld, cell)
    if shown.empty:
        return " ".join(filter(None, [f"Heat map of {measure} by {by}; "
                                      "every cell is too small to show" + (" exactly." if coded else "."), coded]))
    top, bottom = shown.loc[shown["estimate"].idxmax()], shown.loc[shown["estimate"].idxmin()]
    hidden = int((withheld & (pd.to_numeric(original["n"], errors="coerce") > 0).to_numpy()).sum())
    return (f"Heat map of {measure} by {by}. Highest: {cell(top)}, "
            f"{fmt_value(top['estimate'], percent=percent)} (n={int(top['n'])}); lowest: {cell(bottom)}, "
            f"{fmt_value(bottom['estimate'], percent=percent)} (n={int(bottom['n'])}). "
            + (f"{coded} " if coded else "")
            + f"{hidden} cell(s) are withheld because fewer students than the minimum are in them, "
              "or to protect such a cell.")


#: Smallest difference worth a finding: 5 percentage points for shares, 0.1 otherwise
#: (levels a year, grade points, survey points). Smaller flags stay in the tables.
MIN_DIFFERENCE = {True: 0.05, False: 0.1}


def findings(table: pd.DataFrame, *, section: str, measure: str, percent: bool,
             min_difference: float | None = None) -> pd.DataFrame:
    """The flagged cells of a by-subgroup table as findings for the strategies step.

    A flag whose difference is below ``min_difference`` (default
    :data:`MIN_DIFFERENCE`) is real but too small to act on; it stays in the
    section's table and is not listed as a finding.
    """
    from equity_audit.publish.findings import mirrored  # findings builds on this module

    floor = MIN_DIFFERENCE[percent] if min_difference is None else min_difference
    # with a yes/no subgroup the "No" row only mirrors the "Yes" row
    flags = table[table["flagged"] & ~table["group"].isin(["No", "N"])]
    # a group that fares better only because others fare worse mirrors them, as in findings.json
    mirror_of = mirrored(flags, flags["difference"].map(lambda d: label_direction(measure, d)))
    flagged = flags[flags["difference"].abs() >= floor].copy()
    if flagged.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    flagged["section"], flagged["measure"] = section, measure
    rate = table["statistic"].iloc[0] == "rate"
    # for a rate, the students with the outcome; for an average, the students in the group
    flagged["students_affected"] = np.round(flagged["estimate"] * flagged["n"]) if rate else flagged["n"]
    flagged["statement"] = [_statement(row, measure, percent, mirror_of[i]) for i, row in flagged.iterrows()]
    return flagged.reindex(columns=FINDING_COLUMNS).reset_index(drop=True)


def label_direction(measure: str, difference) -> str:
    """``worse``, ``better`` or ``neutral`` for a difference in a measure named in words.

    The polarity comes from :data:`equity_audit.publish.findings.MEASURES` (a higher
    suspension rate is worse, a higher pace better); an unknown measure is neutral.

    >>> label_direction("average pace (levels a year)", -0.4), label_direction("unmet need", -0.1)
    ('worse', 'better')
    """
    from equity_audit.publish.findings import polarity_of_label  # findings builds on this module

    polarity = polarity_of_label(measure) or 0
    if difference is None or pd.isna(difference) or difference == 0 or polarity == 0:
        return "neutral"
    return "better" if np.sign(difference) * polarity > 0 else "worse"


def _fares(measure: str, difference, mirror_of: str | None = None) -> str:
    """The end of a finding: which way the group fares, and what to do with it."""
    fares, action = DIRECTION_WORDS[label_direction(measure, difference)]
    if mirror_of:
        action = _ending("better", difference, mirror_of)[1]
    return f": {fares}. {action}"


def _statement(row, measure: str, percent: bool, mirror_of: str | None = None) -> str:
    value = lambda v: fmt_value(min(max(v, 0), 1) if percent else v, percent=percent)  # noqa: E731
    name = _group_name(row)
    return (f"{capital(name)}: {measure} is {value(row['estimate'])} (n={int(row['n'])}; 95% interval "
            f"{value(row['low'])} to {value(row['high'])}) against {value(row['comparator_estimate'])} "
            f"for all other students{_fares(measure, row['difference'], mirror_of)}")


def below_pace_words(threshold: float = 1.0, shrinkage: bool = False) -> str:
    """The one definition of "below pace" the report gives, as the flag is computed
    (:func:`equity_audit.pace.levels_pace`, settings ``pace_threshold`` and ``pace_shrinkage``).

    >>> below_pace_words()
    'below pace: gaining under 1 level a year even at the top of the 95% interval of their pace'
    """
    judged = ("by their pace shrunk toward the domain's average by its reliability" if shrinkage
              else "even at the top of the 95% interval of their pace")
    return f"below pace: gaining under {threshold:g} level{'s' if threshold != 1 else ''} a year {judged}"


def pace_headline(summary: pd.DataFrame, threshold: float = 1.0, shrinkage: bool = False) -> str:
    """The section's opening sentence about pace and levels behind, with the definition of below pace."""
    with_pace = summary["pace"].notna()
    n = int(with_pace.sum())
    on_pace = float((summary.loc[with_pace, "pace"] >= 1.0).mean()) if n else float("nan")
    behind = summary["two_plus_behind"].astype("Float64")
    insufficient = int((~with_pace).sum())
    return (f"Of **{len(summary):,} students** with levels in the latest school year, **{n:,}** have "
            f"enough evidence for a pace. **{fmt_value(on_pace, percent=True)}** of them are gaining "
            f"at least one level a year (averaged over their domains), and "
            f"**{fmt_value(float(behind.mean()), percent=True)}** of all students are two or more "
            f"levels behind in at least one domain. {insufficient:,} student(s) do not yet have "
            f"enough evidence for a pace; they are counted, not dropped."
            + (f" **{fmt_value(float(summary.loc[with_pace, 'below_pace'].astype('Float64').mean()), percent=True)}** "
               f"of those with a pace are {below_pace_words(threshold, shrinkage)} in at least one domain; this "
               "is what \"below pace\" means throughout the report." if "below_pace" in summary and n else ""))


def display_table(table: pd.DataFrame, *, percent: bool, min_n: int = 10) -> pd.DataFrame:
    """A by-subgroup table as people read it: value with interval, n, the comparison, a flag."""
    value = lambda v: fmt_value(v, percent=percent)  # noqa: E731
    audited = audited_codes(table)  # what the run's joint audit withheld in an earlier pass
    hidden = table["suppressed"].astype(bool) | audited.eq("audit")
    share_hidden = hidden | audited.eq("complementary_share")
    shown = pd.DataFrame({
        "Subgroup": table["subgroup"].map(label) if "subgroup" in table else "",
        "Group": ([display_value(s, g) for s, g in zip(table["subgroup"], table["group"])] if "subgroup" in table
                  else table["group"].astype(str)),
        "Students": table["n"].astype("Int64").astype(str).mask(hidden & (table["n"] > 0), f"<{min_n}")
                    .mask(hidden & (table["n"] >= min_n), "withheld"),
        # shares near 0% or 100% are coded by group size ("≥ 95%"): an exact 100% tells about everyone
        "Value": (top_bottom_code(table["estimate"].to_numpy(dtype=float), table["n"].to_numpy(dtype=float),
                                  scale=1) if percent else table["estimate"].map(value)),
        "95% interval": [f"{value(max(lo, 0) if percent else lo)} to {value(min(hi, 1) if percent else hi)}"
                         for lo, hi in zip(table["low"], table["high"])],
        "Others": table["comparator_estimate"].map(value),
        "Difference": table["difference"].map(lambda d: "—" if pd.isna(d) else
                                              (f"{d * 100:+.0f} pts" if percent else f"{d:+.2f}")),
        "Closer look": np.where(table["flagged"], "yes", ""),
    })
    shown.loc[share_hidden.to_numpy(), ["Value", "95% interval", "Others", "Difference"]] = "withheld"
    shown.loc[share_hidden.to_numpy(), "Closer look"] = ""
    return _withhold_gated(shown, table, min_n, {"Value": ["estimate"], "95% interval": ["low", "high"],
                                                 "Others": ["comparator_estimate"], "Difference": ["difference"]},
                           code_in="Value")


def _withhold_gated(shown: pd.DataFrame, table: pd.DataFrame, min_n: int | None, cells: dict[str, list[str]], *,
                    code_in: str | None = None) -> pd.DataFrame:
    """``shown`` (one row per row of ``table``, in order) with "withheld" where the release gate withholds.

    Each column of ``shown`` in ``cells`` prints the ``table`` columns listed: where
    :func:`~equity_audit.publish.release.protect` withholds any of them in a row (a share
    whose count, or whose complement, is under ``min_n``; a coded share's interval; a
    comparison that would give either back), the cell says "withheld", as the released
    table does. ``code_in`` is the column that shows a coded share as its code ("≥ 95%").
    """
    from equity_audit.config import Config

    gated = protect(table.reset_index(drop=True), min_n=Config().min_n if min_n is None else min_n)
    status = gated.get(STATUS_COLUMN, pd.Series("", index=gated.index)).astype(str)
    coded = status.str.contains("top_coded|bottom_coded").to_numpy()
    for column, sources in ((c, s) for c, s in cells.items() if c in shown):
        gone = np.zeros(len(table), dtype=bool)
        for source in (c for c in sources if c in table):
            before = pd.to_numeric(table[source], errors="coerce").notna().to_numpy()
            gone |= before & pd.to_numeric(gated[source], errors="coerce").isna().to_numpy()
        if column == code_in:
            gone &= ~coded
        shown.loc[gone, column] = "withheld"
    return shown


def drop_empty_unknown(table: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """A crossed table without the Unknown row or column when no student is in it."""
    keep = pd.Series(True, index=table.index)
    for column in (rows, columns):
        unknown = table[column].astype(str) == UNKNOWN
        if table.loc[unknown, "n"].sum() == 0:
            keep &= ~unknown
    trimmed = table[keep].copy()
    for column in (rows, columns):
        if isinstance(trimmed[column].dtype, pd.CategoricalDtype):
            trimmed[column] = trimmed[column].cat.remove_unused_categories()
    return trimmed.reset_index(drop=True)


def boxes_alt(quantiles: pd.DataFrame, measure: str, *, min_n: int | None = None) -> str:
    """Alt text for the distribution chart: the groups with the lowest and highest median (released rows only)."""
    released, withheld = _released(quantiles, min_n)
    shown = released[~withheld].dropna(subset=["q50"])
    if shown.empty:
        return f"Box plots of {measure} by subgroup; every group is too small to show."
    low, high = shown.loc[shown["q50"].idxmin()], shown.loc[shown["q50"].idxmax()]
    return (f"Box plots of {measure} by subgroup (middle half of students in the box, 5th to 95th "
            f"percentile in the whiskers). The lowest median is {_group_name(low)} at {low['q50']:.2f} "
            f"(n={int(low['n'])}); the highest is {_group_name(high)} at {high['q50']:.2f} "
            f"(n={int(high['n'])}). A reference line marks one level a year.")


def quadrant_alt(counts: pd.DataFrame, min_n: int = 10) -> str:
    """Alt text for the levels-behind by pace grid: how many need the most urgent support.

    Counts from 1 to ``min_n - 1`` are not stated, nor any sum that would give one back:
    the urgent cells' sum is a bound when one of them is small, and the grand total
    is left out when any cell of the grid is small.
    """
    values = counts.apply(pd.to_numeric, errors="coerce")
    small = (values > 0) & (values < min_n)
    cells = values.loc["2+ levels behind", ["under 0.5", "0.5 to 1.0"]]
    few = small.loc["2+ levels behind", ["under 0.5", "0.5 to 1.0"]]
    known = int(cells[~few].sum())
    if not few.any():
        shown = f"{known}"
    elif known:
        shown = f"More than {known}"
    else:
        shown = f"Fewer than {int(few.sum()) * (min_n - 1) + 1}"
    of = "" if small.to_numpy().any() else f" of {int(values.to_numpy().sum())}"
    return (f"Grid of students by how far behind grade they are and how fast they are gaining levels. "
            f"{shown}{of} students are two or more levels behind and gaining under one level "
            f"a year: at that pace the distance to grade level keeps growing.")


def withheld_flags(scan: pd.DataFrame) -> pd.DataFrame:
    """Intersections that differ beyond main effects but that the report cannot show: for the confidential folder.

    Those withheld in the scan itself to protect a smaller cell
    (:func:`equity_audit.disaggregate.flagged_but_withheld`), and those the
    run's joint disclosure audit withheld in an earlier pass (they carry their
    numbers in the scan, and the published table blanks them).

    Examples
    --------
    >>> import pandas as pd
    >>> scan = pd.DataFrame({"intersection": ["a × b"], "n": [41], "estimate": [0.6], "suppressed": [False],
    ...                      "beyond_main_effects": [True]})
    >>> withheld_flags(scan).empty  # shown in the report: not withheld
    True
    """
    from equity_audit.disaggregate import flagged_but_withheld

    audited = audited_codes(scan).ne("") & scan["beyond_main_effects"].astype(bool)
    by_audit = scan[audited].drop(columns=["suppressed"], errors="ignore").assign(withheld_from_report=True)
    parts = [part for part in (flagged_but_withheld(scan), by_audit) if not part.empty]
    return pd.concat(parts, ignore_index=True) if parts else flagged_but_withheld(scan)


def intersection_table(scan: pd.DataFrame, *, percent: bool, top: int = 10, min_n: int | None = None) -> pd.DataFrame:
    """The flagged intersections (at most ``top``) in words, with the main-effects prediction.

    What the release gate withholds (``min_n``, default the setting) says "withheld".
    """
    flagged = scan[scan["beyond_main_effects"]].head(top)
    value = lambda v: fmt_value(v, percent=percent)  # noqa: E731
    shown = pd.DataFrame({
        "Intersection": [_intersection_words(row) for _, row in flagged.iterrows()],
        "Students": flagged["n"].astype(int),
        "Value": (top_bottom_code(flagged["estimate"].to_numpy(dtype=float), flagged["n"].to_numpy(dtype=float),
                                  scale=1) if percent else flagged["estimate"].map(value)),
        "95% interval": [f"{value(lo)} to {value(hi)}" for lo, hi in zip(flagged["low"], flagged["high"])],
        "Expected from its groups": flagged["predicted"].map(value),
        "All other students": flagged["comparator_estimate"].map(value),
    })
    audited = audited_codes(flagged)  # what the run's joint audit withheld in an earlier pass
    columns = ["Value", "95% interval", "Expected from its groups", "All other students"]
    shown.loc[audited.ne("").to_numpy(), columns] = "withheld"
    if audited.eq("audit").any():
        shown["Students"] = shown["Students"].astype(object).mask(audited.eq("audit").to_numpy(), "withheld")
    return _withhold_gated(shown, flagged, min_n, {"Value": ["estimate"], "95% interval": ["low", "high"],
                                                   "Expected from its groups": ["predicted"],
                                                   "All other students": ["comparator_estimate"]},
                           code_in="Value" if percent else None)


def _intersection_words(row) -> str:
    """An intersection cell with its subgroups' display names: "Race/ethnicity: Asian × Low income: Yes".

    The scan's own ``intersection`` text stays as it is (a key other runs are compared on).
    """
    columns = str(row["columns"]).split(" × ")
    if not all(column in row.index for column in columns):
        return str(row["intersection"])
    return " × ".join(f"{label(column)}: {display_value(column, row[column])}" for column in columns)


def scenario_text(scenarios: pd.DataFrame) -> str:
    """One sentence per domain on graduating by 18 at the current pace and at 1.25."""
    sentences = []
    for domain, part in scenarios.groupby("domain"):
        own = part.loc[part["pace"] == "their own current pace", "share_reaching_by_18"].iloc[0]
        faster = part.loc[part["pace"] == "1.25 levels a year", "share_reaching_by_18"]
        sentences.append(
            f"In {inert_markdown(domain)}, {fmt_value(own, percent=True)} of students are on track to reach graduation "
            f"level by the end of the school year in which they turn 18 at their current pace"
            + (f"; at 1.25 levels a year, {fmt_value(faster.iloc[0], percent=True)} would." if len(faster) else "."))
    return " ".join(sentences)


def chart_table(table: pd.DataFrame) -> pd.DataFrame:
    """A by-subgroup table ready for a chart: empty Unknown rows dropped, subgroups in words."""
    shown = shown_groups(table)
    return shown.assign(subgroup=shown["subgroup"].map(label)) if "subgroup" in shown else shown


def findings_table(tables: list[tuple[pd.DataFrame, str, bool]], *, section: str) -> pd.DataFrame:
    """The findings of several by-group tables: ``(table, measure, percent)`` each, stacked."""
    parts = [findings(table, section=section, measure=measure, percent=percent)
             for table, measure, percent in tables]
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def findings_markdown(findings_: pd.DataFrame, *, min_n: int | None = None) -> str:
    """The findings as a bulleted list, or a sentence saying there are none.

    Each statement is shown as the released tables show it: through the release
    gate (:func:`~equity_audit.publish.release.protect`, the run's ``min_n``, default
    the setting), so a share the gate withholds or codes is said in words, as in
    ``findings.json``, and a school name or label holding markup, a link or
    Markdown syntax is escaped, never rendered.

    Examples
    --------
    >>> print(findings_markdown(pd.DataFrame({"statement": ["<b>Quillfeather</b>: 40%"]})))
    - &lt;b&gt;Quillfeather&lt;/b&gt;\\: 40%

    A share whose count is under ``min_n`` (3 of 30 students) is not printed:

    >>> row = {"group": "East", "n": 30, "estimate": 0.1, "comparator_estimate": 0.4, "difference": -0.3,
    ...        "statement": "East: the share is 10% (n=30) against 40%: they fare better."}
    >>> print(findings_markdown(pd.DataFrame([row]), min_n=10))
    - East\\: the share is not shown \\(fewer students than the publishing minimum have it\\) \\(n=30\\) against —\\: they fare better\\.
    """
    if findings_.empty:
        return ("Nothing in this section differs between groups beyond what chance would explain. "
                "That is not proof of equity: small groups, missing data and what was not measured "
                "still deserve the team's attention.")
    from equity_audit.config import Config
    from equity_audit.publish.findings import _say_coded  # findings builds on this module

    released = protect(findings_.reset_index(drop=True), min_n=Config().min_n if min_n is None else min_n)
    statements = [_say_coded(str(row["statement"]), row, pd.to_numeric(row.get("n"), errors="coerce"))
                  for _, row in released.iterrows()]
    return "\n".join(f"- {inert_markdown(statement)}" for statement in statements)


def idea_display(table: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """The latest year of IDEA-style risk ratios as people read them.

    Only calculated rows show a risk; a group that was not calculated shows
    why, and no count under ``min_n`` is printed.
    """
    latest = table[table["school_year"] == table["school_year"].max()]
    calculated = latest["method"] != "not calculated"
    ratio = [f"{r:.2f} ({lo:.2f} to {hi:.2f})" if ok else "—" for r, lo, hi, ok in
             zip(latest["risk_ratio"], latest["risk_ratio_low"], latest["risk_ratio_high"], calculated)]
    base = latest["base"].astype(int).astype(str).mask(latest["base"] < min_n, f"<{min_n}")
    method = latest["method"].where(calculated, "not calculated: too few children")
    return pd.DataFrame({
        "Group": latest["group"].astype(str),
        "Students": base.to_numpy(),
        "Risk": latest["risk"].map("{:.1%}".format).where(calculated, "—").to_numpy(),
        "Comparison risk": latest["comparison_risk"].map("{:.1%}".format).where(calculated, "—").to_numpy(),
        "Risk ratio (95% interval)": ratio,
        "Method": method.to_numpy(),
        "Years above threshold": latest["consecutive_years_flagged"].fillna(0).astype(int).to_numpy(),
        "Significant disproportionality": np.where(latest["significant_disproportionality"].fillna(False),
                                                   "yes", "no"),
    })


def idea_findings(table: pd.DataFrame, *, population: str, outcome: str) -> pd.DataFrame:
    """Groups above the risk-ratio threshold in the latest year (and whether the
    multi-year rule identifies significant disproportionality)."""
    latest = table[(table["school_year"] == table["school_year"].max()) & table["flagged"]]
    rows = [{"section": "patterns", "measure": f"{outcome} risk ratio", "subgroup": "race_ethnicity",
             "group": row["group"], "n": row["base"], "estimate": row["risk_ratio"],
             "low": row["risk_ratio_low"], "high": row["risk_ratio_high"],
             "comparator_estimate": row["comparison_risk"], "difference": row["risk_difference"],
             "qvalue": np.nan, "students_affected": row["outcome"],
             "statement": (f"{row['group']} {population}: risk ratio for {outcome} is {row['risk_ratio']:.2f} "
                           f"(95% interval {row['risk_ratio_low']:.2f} to {row['risk_ratio_high']:.2f}), above "
                           f"the threshold" + (" for the years the rule requires: significant "
                                               "disproportionality under the IDEA rule."
                                               if row["significant_disproportionality"] else
                                               " this year; not yet for the years the rule requires."))}
            for _, row in latest.iterrows()]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def gap_findings(scan: pd.DataFrame, *, unit: str, measure: str) -> pd.DataFrame:
    """Units where a group's gap to its schoolmates differs from the same group's gap elsewhere
    beyond chance (or, for a scan with ``compare="within"``, from its schoolmates' rate)."""
    from equity_audit.publish.findings import mirrored  # findings builds on this module

    flagged = scan[scan["closer_look"]]
    mirror_of = mirrored(flagged, flagged["difference"].map(lambda d: label_direction(measure, d)))
    rows = [{"section": "patterns", "measure": measure, "subgroup": row["subgroup"], "group": row["group"],
             "n": row["focus_n"], "estimate": row["focus_estimate"], "low": np.nan, "high": np.nan,
             "comparator_estimate": row["others_estimate"], "difference": row["difference"],
             "qvalue": row["qvalue"], "students_affected": round(row["focus_estimate"] * row["focus_n"]),
             "statement": (f"{row[unit]}: {measure} of {_group_name(row)} is "
                           f"{fmt_value(row['focus_estimate'], percent=True)} (n={int(row['focus_n'])}) against "
                           f"{fmt_value(row['others_estimate'], percent=True)} for their schoolmates "
                           f"(difference {row['difference'] * 100:+.0f} points, 95% interval "
                           f"{row['difference_low'] * 100:+.0f} to {row['difference_high'] * 100:+.0f})"
                           f"{_elsewhere(row, unit)}{_fares(measure, row['difference'], mirror_of[i])}")}
            for i, row in flagged.iterrows()]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _elsewhere(row, unit: str) -> str:
    """The same group's gap in the other units, which the scan compared the gap with."""
    other = row.get("elsewhere_difference", np.nan)
    if pd.isna(other):
        return ""
    units = {"school": "schools", "teacher_id": "teachers' classes", "plc_id": "PLCs"}.get(unit, "units")
    return f"; the same group's gap in other {units} is {other * 100:+.0f} points"


def access_findings(table: pd.DataFrame, *, period: str) -> pd.DataFrame:
    """Access gaps (four-fifths and beyond chance) as findings."""
    gaps = table[table["access_gap"]]
    rows = [{"section": "patterns", "measure": f"access to {row['opportunity']}", "subgroup": row["subgroup"],
             "group": row["group"], "n": row["n"], "estimate": row["estimate"], "low": row["low"],
             "high": row["high"], "comparator_estimate": row["comparator_estimate"],
             "difference": row["difference"], "qvalue": row["qvalue"],
             "students_affected": row["n"] - round(row["estimate"] * row["n"]),
             "statement": (f"{capital(_group_name(row))} had {row['opportunity']} "
                           f"at {fmt_value(row['estimate'], percent=True)} (n={int(row['n'])}; 95% interval "
                           f"{fmt_value(row['low'], percent=True)} to {fmt_value(row['high'], percent=True)}) "
                           f"against {fmt_value(row['comparator_estimate'], percent=True)} for other students "
                           f"({period}): under four-fifths of their access" + _at_equal_readiness(row)
                           + _fares(f"access to {row['opportunity']}", row["difference"]))}
            for _, row in gaps.iterrows()]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _at_equal_readiness(row) -> str:
    """The ratio an access flag judged, when it compared students at equal readiness."""
    if not _adjusted(row.get("adjusted_for")) or pd.isna(row.get("ratio_adjusted")):
        return ""
    return (f" among students equally ready at the start of the school year ({row['ratio_adjusted']:.2f} "
            f"times their rate)")


def combine_findings(*tables: pd.DataFrame) -> pd.DataFrame:
    """Stack findings tables, skipping empty ones and ``None`` (an analysis that could not run)."""
    parts = [t for t in tables if t is not None and len(t)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FINDING_COLUMNS)


def funnel_alt(scan: pd.DataFrame, *, unit: str, units: str, measure: str, named: bool = True) -> str:
    """Alt text for a funnel chart: how many units sit outside the limits, named when allowed."""
    shown = scan[~scan["suppressed"]]
    outside = shown[shown["closer_look"]]
    text = (f"Funnel chart of {measure} for {len(shown)} {units}, each against the district rate of "
            f"{fmt_value(scan.attrs.get('target', float('nan')), percent=True)}, with 95% and 99.8% limits "
            f"that widen for small {units}. ")
    one = units.removesuffix("s")
    if outside.empty:
        return text + f"No {one} is outside the limits beyond what chance and ordinary variation explain."
    names = f": {', '.join(outside[unit].astype(str))}" if named else ""
    alike = int(outside[COLLEAGUE_COLUMN].eq("similar").sum()) if COLLEAGUE_COLUMN in outside else 0
    like_school = (f" {alike} of them {plural(alike, 'fares', 'fare')} like the other {units} of "
                   f"{plural(alike, 'its', 'their')} school (drawn as open diamonds)." if alike else "")
    return (text + f"{len(outside)} {plural(len(outside), f'{one} warrants', f'{units} warrant')} a closer look"
            f"{names}.{like_school}")


def gap_scan_display(scan: pd.DataFrame, *, unit: str, min_n: int = 10, only_flagged: bool = True) -> pd.DataFrame:
    """Within-unit gaps as people read them (units that warrant a closer look by default), with the
    same group's gap in the other units when the scan compared with it."""
    rows = scan[scan["closer_look"]] if only_flagged else scan[~scan["suppressed"]]
    pct = lambda v: fmt_value(v, percent=True)  # noqa: E731
    table = pd.DataFrame({
        label(unit): rows[unit].astype(str),
        "Group": [_group_name(r) for _, r in rows.iterrows()],
        "Students in group": rows["focus_n"].astype(int),
        "Rate in group": rows["focus_estimate"].map(pct),
        "Other students": rows["others_estimate"].map(pct),
        "Gap (95% interval)": [f"{d * 100:+.0f} pts ({lo * 100:+.0f} to {hi * 100:+.0f})" for d, lo, hi in
                               zip(rows["difference"], rows["difference_low"], rows["difference_high"])],
    })
    if "elsewhere_difference" in rows:
        table["Same group's gap elsewhere"] = [f"{d * 100:+.0f} pts" for d in rows["elsewhere_difference"]]
    return _withhold_gated(table, rows, min_n, {"Rate in group": ["focus_estimate"], "Other students": ["others_estimate"],
                                                "Gap (95% interval)": ["difference", "difference_low", "difference_high"],
                                                "Same group's gap elsewhere": ["elsewhere_difference"]})


def access_display(table: pd.DataFrame, *, min_n: int | None = None) -> pd.DataFrame:
    """Access gaps (four-fifths rule and beyond chance) as people read them; what the release gate
    withholds (``min_n``, default the setting) says "withheld"."""
    gaps = table[table["access_gap"]]
    pct = lambda v: fmt_value(v, percent=True)  # noqa: E731
    shown = pd.DataFrame({
        "Opportunity": gaps["opportunity"],
        "Group": [_group_name(r) for _, r in gaps.iterrows()],
        "Students": gaps["n"].astype(int),
        "With access (95% interval)": [f"{pct(e)} ({pct(lo)} to {pct(hi)})" for e, lo, hi in
                                       zip(gaps["estimate"], gaps["low"], gaps["high"])],
        "Other students": gaps["comparator_estimate"].map(pct),
        "Ratio": gaps["ratio"].map("{:.2f}".format),
        "Ratio at equal readiness": [f"{r:.2f}" if _adjusted(a) and pd.notna(r) else "—" for r, a in
                                     zip(gaps.get("ratio_adjusted", gaps["ratio"]),
                                         gaps.get("adjusted_for", pd.Series("", index=gaps.index)))],
    })
    return _withhold_gated(shown, gaps, min_n, {"With access (95% interval)": ["estimate", "low", "high"],
                                                "Other students": ["comparator_estimate"], "Ratio": ["ratio"],
                                                "Ratio at equal readiness": ["ratio_adjusted"]})


def _adjusted(adjusted_for) -> bool:
    """Whether a row's comparison was made within strata (its ``adjusted_for`` names them)."""
    return isinstance(adjusted_for, str) and adjusted_for != ""


def access_heatmap_table(table: pd.DataFrame) -> pd.DataFrame:
    """The access table in the shape of a crossed table for :func:`plots.rate_heatmap`:
    rows are groups, columns opportunities, ``estimate`` the rate, ``flagged`` the access gaps."""
    names = [capital(_group_name(r)) for _, r in table.iterrows()]  # row labels start with a capital
    order = list(dict.fromkeys(names))
    return table.assign(
        group_name=pd.Categorical(names, categories=order),
        opportunity=pd.Categorical(table["opportunity"], categories=list(dict.fromkeys(table["opportunity"]))),
        flagged=table["access_gap"],
    )[["group_name", "opportunity", "n", "estimate", *(["statistic"] if "statistic" in table else []),
       "suppressed", "flagged"]]  # the statistic tells the release gate a share is a rate to code


def setting_words(compared_within: str) -> str:
    """The setting a unit was compared within, in words: "school_id, domain" is "school and domain"."""
    return " and ".join(part.strip().removesuffix("_id") for part in str(compared_within).split(","))


def unit_kind(unit: str) -> str:
    """A unit's kind in words: "PLC" for ``plc``, else as named ("teacher", "scorer", "school")."""
    return "PLC" if unit == "plc" else str(unit)


def colleague_reading(colleagues: str, difference) -> str:
    """How a unit's comparison with its school's other units reads beside its comparison with the district.

    ``colleagues`` is ``vs_school_colleagues`` of
    :func:`equity_audit.scans.against_school_colleagues` and ``difference`` the
    unit's difference from the district: ``"alike"`` (much like its colleagues),
    ``"same"`` (differs from them the way it differs from the district),
    ``"opposite"`` (the other way: its school differs more), or "" (not compared).

    >>> [colleague_reading(w, 0.1) for w in ("similar", "higher", "lower", "")]
    ['alike', 'same', 'opposite', '']
    """
    if colleagues == "similar":
        return "alike"
    if colleagues not in ("higher", "lower") or difference is None or pd.isna(difference):
        return ""
    return "same" if (colleagues == "higher") == (difference > 0) else "opposite"


def colleagues_clause(colleagues: str, unit: str, measure: str, difference) -> str:
    """What a unit's comparison with the other units of its school adds to its finding ("" for none).

    See :func:`colleague_reading`. Where the unit is much like the rest of its
    school, the pattern may be the school's.

    >>> colleagues_clause("similar", "plc", "the share below pace", 0.1)
    " Within its school the other PLCs show much the same: the pattern may be the school's rather than this PLC's."
    >>> colleagues_clause("higher", "plc", "the share below pace", 0.1)
    ' Within its school too, the share below pace is higher than in the other PLCs.'
    >>> colleagues_clause("lower", "plc", "the share below pace", 0.1)
    ' Within its school, the share below pace is lower than in the other PLCs: the school as a whole differs more.'
    """
    kind, reading = unit_kind(unit), colleague_reading(colleagues, difference)
    if reading == "alike":
        return (f" Within its school the other {kind}s show much the same: the pattern may be the school's "
                f"rather than this {kind}'s.")
    if reading == "same":
        return f" Within its school too, {measure} is {colleagues} than in the other {kind}s."
    if reading == "opposite":
        return f" Within its school, {measure} is {colleagues} than in the other {kind}s: the school as a whole differs more."
    return ""


def colleagues_sentence(scan: pd.DataFrame, colleagues: pd.DataFrame, *, units: str) -> str:
    """How the units compare with the other units of their own school, without naming any.

    ``colleagues`` is the scan within schools (``closer_look``, ``pvalue``,
    ``suppressed``); ``scan`` the district scan with ``vs_school_colleagues``
    (:func:`equity_audit.scans.against_school_colleagues`).

    >>> import pandas as pd
    >>> scan = pd.DataFrame({"closer_look": [True, True, False, False],
    ...                      "vs_school_colleagues": ["similar", "higher", "", ""]})
    >>> colleagues = pd.DataFrame({"closer_look": [False, True, True, False], "pvalue": [0.4, 0.001, 0.002, 0.5],
    ...                            "suppressed": False})
    >>> colleagues_sentence(scan, colleagues, units="PLCs")
    "Set against the other PLCs of their own school, 2 of 4 PLCs differ from them (named only in the run's confidential folder, for a conversation with the PLC). Of the 2 marked against the district, 1 differs from them and 1 is much like them: its pattern may be the whole school's."
    """
    compared = colleagues["pvalue"].notna() & ~colleagues["suppressed"].astype(bool)
    differing = int((compared & colleagues["closer_look"].astype(bool)).sum())
    out = (f"Set against the other {units} of their own school, {differing} of {int(compared.sum())} {units} differ "
           "from them" + (" (named only in the run's confidential folder, for a conversation with the PLC)."
                          if differing else "."))
    words = scan[COLLEAGUE_COLUMN].fillna("").astype(str)
    marked = scan["closer_look"].astype(bool)
    differ, alike = words.isin(["higher", "lower"]), words.eq("similar")
    if marked.any():
        d, a, c = int((marked & differ).sum()), int((marked & alike).sum()), int((marked & ~differ & ~alike).sum())
        if marked.sum() == 1:
            out += " The one marked against the district " + (
                "differs from them." if d else "is much like them: its pattern may be the whole school's." if a
                else "could not be compared with others of its school.")
        else:
            out += (f" Of the {int(marked.sum())} marked against the district, {d} differ{'s' if d == 1 else ''} from "
                    f"them and {a} {'is' if a == 1 else 'are'} much like them: {'its' if a == 1 else 'their'} pattern "
                    "may be the whole school's." + (f" {c} could not be compared with others of their school." if c
                                                     else ""))
    return out


def count_sentence(scan: pd.DataFrame, *, units: str, measure: str) -> str:
    """How many units were scanned and how many warrant a closer look, without naming any.

    A scan against each unit's own setting (``compared_within``) also says how
    many had no other unit there to be compared with.
    """
    shown = scan[~scan["suppressed"]]
    alone = shown["pvalue"].isna() if "compared_within" in scan else pd.Series(False, index=shown.index)
    assessed, flagged = int((~alone).sum()), int(shown["closer_look"].sum())
    setting = setting_words(scan["compared_within"].iloc[0]) if "compared_within" in scan else ""
    unmatched = (f" {int(alone.sum())} had no other {units.rstrip('s')} in their {setting} to be compared with."
                 if alone.any() else "")
    return (f"{len(scan)} {units} were scanned for {measure}; {len(scan) - len(shown)} had fewer students "
            f"than the minimum and were not assessed.{unmatched} {flagged} of the {assessed} assessed warrant a "
            f"closer look after allowing for ordinary variation and controlling false discoveries. Their names "
            f"are only in the run's confidential folder, for a conversation "
            f"{'with the PLC' if units.startswith('PLC') else 'in their PLC'}.")


def access_heatmap_alt(access: pd.DataFrame) -> str:
    """Alt text for the access heat map."""
    table = access_heatmap_table(access).assign(group_name=lambda t: t["group_name"].astype(str))
    return heatmap_alt(table, "group_name", "opportunity", "access", percent=True, by="group and opportunity",
                       cell_words=lambda row: f"{row['group_name']}, {row['opportunity']}")


def severity_table(severity: pd.DataFrame) -> pd.DataFrame:
    """Scorer severity for the report: scorers numbered, never named (names stay confidential).

    Returns a by-group table (``group`` = "Scorer 1" ..., sorted from harshest) that
    :func:`equity_audit.publish.plots.forest` can draw: the estimate is the mean deviation
    from the other scorers, ``flagged`` marks harsh or lenient scorers.
    """
    ordered = severity.sort_values("mean_deviation").reset_index(drop=True)
    return pd.DataFrame({
        "subgroup": "scorers", "group": [f"Scorer {i + 1}" for i in range(len(ordered))],
        "n": ordered["works"], "estimate": ordered["mean_deviation"], "low": ordered["low"],
        "high": ordered["high"], "suppressed": ordered["works"] < 2,
        "flagged": ordered["harsh"] | ordered["lenient"], "qwk": ordered["qwk"],
    })


def severity_alt(table: pd.DataFrame, *, threshold: float = 0.5) -> str:
    """Alt text for the scorer severity chart.

    ``threshold`` is the one :func:`equity_audit.reliability.scorer_severity` marked scorers with:
    a scorer whose interval does not reach it is not called harsh or lenient, even beyond chance.
    """
    flagged = table[table["flagged"]]
    text = (f"Dot chart of how far each of {len(table)} scorers' scores sit from the other scorers' "
            f"scores of the same work, with 95% intervals. ")
    if flagged.empty:
        return text + ("No scorer's scores sit apart from the others' beyond chance with an interval "
                       f"reaching {threshold:g} points.")
    parts = [f"{row.group} by {row.estimate:+.2f} points on average" for row in flagged.itertuples()]
    return text + "Consistently harsher or more lenient: " + "; ".join(parts) + "."


def calibration_display(summary: pd.DataFrame, *, min_works: int = 5) -> pd.DataFrame:
    """The calibration summary: all works together, and standards with enough works."""
    shown = summary[(summary["standard_id"] == "All") | (summary["works"] >= min_works)]
    return pd.DataFrame({
        "Standard": shown["standard_id"], "Works": shown["works"], "Scorers": shown["scorers"],
        "Exact agreement": shown["exact_agreement"].map("{:.0%}".format),
        "Within one level": shown["adjacent_agreement"].map("{:.0%}".format),
        "Krippendorff's alpha (ordinal)": shown["alpha_ordinal"].map("{:.2f}".format),
        "Reading": shown["reading"],
    })


def climate_chart_table(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Climate scores ready for a forest chart: one panel per construct, rows "Subgroup: group"."""
    shown = shown_groups(table[table["subgroup"].isin(columns)])
    return shown.assign(group=shown["subgroup"].map(label) + ": " + shown["group"], subgroup=shown["construct"])


def climate_display(table: pd.DataFrame, *, min_n: int = 10) -> pd.DataFrame:
    """Climate scores by subgroup as people read them, with the construct named."""
    shown = shown_groups(table)
    return display_table(shown, percent=False, min_n=min_n).assign(Construct=shown["construct"].to_numpy())


def scorer_count_sentence(gaps: pd.DataFrame, *, group_words: str) -> str:
    """How many scorers score one group differently, without naming any."""
    # a scorer with too few of the group's students has a comparison but no q-value: not screened
    tested = gaps["qvalue" if "qvalue" in gaps else "pvalue"].notna()
    # these scorers score everyday evidence, a different set from the calibration sessions: say so, or the
    # two counts of scorers read as a contradiction
    return (f"{int(tested.sum())} of the {len(gaps)} scorers of everyday student evidence (not only those in "
            f"calibration sessions; those who scored enough of the group's students to judge) were compared on "
            f"how they score {group_words} against how other "
            f"scorers score the same students (a real difference between groups is the same for every scorer, "
            f"so it does not count); {int(gaps['closer_look'].sum())} warrant a closer look after "
            f"controlling false discoveries. Their names are only in the run's confidential folder.")


def count_finding(scan: pd.DataFrame, *, section: str, measure: str, units: str) -> pd.DataFrame:
    """One finding that counts the units of a confidential scan warranting a closer look."""
    flagged = int(scan["closer_look"].sum()) if "closer_look" in scan else 0
    if not flagged:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.DataFrame([{
        "section": section, "measure": measure, "subgroup": "", "group": "", "n": flagged,
        "qvalue": np.nan, "students_affected": np.nan,
        "statement": (f"{flagged} {plural(flagged, units.removesuffix('s') + ' warrants', units + ' warrant')} "
                      f"a closer look for {measure}. {plural(flagged, 'The name is', 'The names are')} in the "
                      "run's confidential folder, for a professional conversation in their PLC."),
    }], columns=FINDING_COLUMNS)


def pattern_sentence(patterns: pd.DataFrame, *, units: str, measure: str) -> str:
    """How many units show a persistent pattern, without naming any."""
    found = int((patterns["pattern"] != "").sum())
    return (f"{len(patterns)} {units} were followed year by year for {measure}; {found} show a pattern that "
            f"warrants a closer look (flagged in at least two of the last three school years). One year alone "
            f"is never called a pattern. Names are only in the run's confidential folder.")
