"""The workshop explorer: an equity team picks a view, the chart and table follow.

``notebooks/workshop.ipynb`` (served by ``equity-audit workshop``) is three
calls into this module. Everything it does lives here so it can be tested
without a browser:

- :func:`build_facts` computes, once, one row per student, school year and
  domain (plus an ``All domains`` row per student and year) with every metric
  column and every subgroup column;
- :func:`view` is pure: a metric and a selection in, the aggregate table as
  people read it, a figure and its alt text out. It calls the same engine as the
  report (:func:`~equity_audit.disaggregate.disaggregate`), so the minimum n,
  the suppression of small groups and the 95% intervals are the report's;
- :func:`by_year` is the same for every school year: a line chart and a
  table with the years side by side;
- :class:`Explorer` wires ipywidgets dropdowns and tick boxes to :func:`view`
  and :func:`by_year` and renders the result into ``HTML`` widgets (model
  state, so a test can read it), with the discussion prompts beside the view
  and a notes area whose text, with the current selection,
  :func:`export_notes` writes to a Markdown file. Its words are in
  :data:`LABELS`, :func:`shown_name` and :func:`domain_name`, text is sized for
  a projector (:data:`STYLE`), and presenter mode hides the notes.

Only aggregates leave this module, and only through the release gate
(:func:`released_table`): the table shows n, the estimate and its
interval for groups of at least ``min_n`` students and "fewer than ``min_n``"
or "withheld" otherwise, and exported notes hold the selection and that table, never a
student-level row. Notes that contain a student id are refused.

Examples
--------
>>> import pandas as pd
>>> facts = pd.DataFrame({"student_id": [f"s{i}" for i in range(30)], "school_year": 2026,
...                       "domain": ALL_DOMAINS, "school": "North",
...                       "low_income": ["Yes"] * 12 + ["No"] * 15 + ["Unknown"] * 3,
...                       "any_exclusion": [1, 0, 0] * 10})
>>> table, figure, alt = view(facts, metric="discipline", by=["low_income"], min_n=10)
>>> table.loc[table["Group"] == "Unknown", ["Students", "Value", "95% interval"]].values.tolist()
[['fewer than 10', 'withheld', 'withheld']]
>>> import matplotlib.pyplot as plt; plt.close(figure)
"""
from __future__ import annotations

import base64
import functools
import html
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from equity_audit.config import Config, load_config
from equity_audit.disaggregate import disaggregate
from equity_audit.exceptions import EquityAuditError
from equity_audit.publish.narrative import drop_empty_unknown, fmt_value, forest_alt, heatmap_alt, label, shown_groups
from equity_audit.publish.report import released_view
from equity_audit.questions.overview import year_label

__all__ = ["ALL_DOMAINS", "ALL_SCHOOLS", "METRICS", "PROMPTS", "LABELS", "Metric", "View", "WorkshopError",
           "build_facts", "available_metrics", "view", "by_year", "released_table", "caption", "shown_name",
           "domain_name", "selection_text", "export_notes", "notes_folder", "student_ids_in", "Explorer"]

ALL_DOMAINS = "All domains"
ALL_SCHOOLS = "All schools"
NOTES_FOLDER = "workshop_notes"
WITHHELD = "withheld"


class WorkshopError(EquityAuditError, ValueError):
    """A choice the explorer cannot show, said so a facilitator can act on it."""


# --------------------------------------------------------------------------- words
# Every word a facilitator reads on the controls lives here, so that the data layer's display
# names can replace them in one place.

#: The labels of the explorer's controls and boxes.
LABELS = {
    "metric": "What to look at",
    "domain": "Subject area",
    "school": "School",
    "year": "School year",
    "by": "Compare students by (tick one, or two to see them together)",
    "period": "Show",
    "one_year": "One school year",
    "each_year": "Year by year",
    "presenter": "Presenter mode",
    "presenter_tip": "Hide the notes box while the screen is projected",
    "notes": "Team notes",
    "save": "Save notes",
}


def shown_name(column: str) -> str:
    """How the explorer names a group of students (a subgroup column): ``english_learner`` is "English learner"."""
    return label(column)


def domain_name(code: str) -> str:
    """How the explorer names a subject area code: a short code in capitals ("ELA"), else capitalised.

    >>> domain_name("sci"), domain_name("social_studies"), domain_name(ALL_DOMAINS)
    ('SCI', 'Social studies', 'All subject areas')
    """
    if code == ALL_DOMAINS:
        return "All subject areas"
    text = str(code).replace("_", " ")
    return text.upper() if len(text) <= 3 else text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Metric:
    """One measure the explorer can show."""

    name: str          # the dropdown label
    column: str        # the column of the facts
    percent: bool      # a 0/1 rate shown as a percent, else a mean
    by_domain: bool    # measured per domain (else per student and year)
    measure: str       # how a sentence names it
    xlabel: str        # the chart's axis
    question: int      # which of the four questions it serves
    reference: float | None = None       # a fixed reference line, e.g. one level a year
    reference_label: str = "all students in this view"


METRICS: dict[str, Metric] = {
    "pace": Metric("Pace (levels gained a year)", "pace", False, True, "average pace (levels a year)",
                   "Average levels gained per year", 1, 1.0, "one level a year"),
    "levels_behind": Metric("Levels behind grade", "levels_behind", False, True,
                            "average levels behind grade", "Average levels behind grade (negative: ahead)", 1),
    "unmet_need": Metric("Unmet need (needs more support, had none)", "unmet_need", True, True,
                         "the share of students needing more support who had none",
                         "Share of students needing more support who had none", 1),
    "access": Metric("Access: Level-4 work", "level4_work", True, False,
                     "the share of students with Level-4 work", "Share of students with Level-4 work", 2),
    "discipline": Metric("Discipline: any exclusion", "any_exclusion", True, False,
                         "the share of students with a suspension or expulsion",
                         "Share of students with a suspension or expulsion", 2),
    "grades": Metric("Grades against evidence", "grade_residual", False, True,
                     "grades against evidence (grade points)",
                     "Grade points above (+) or below (-) what the evidence predicts", 3, 0.0,
                     "grades match evidence"),
}

QUESTIONS = {
    1: "Question 1: in what ways may we not be meeting the needs of groups of students?",
    2: "Question 2: are there trends or patterns that suggest equity strategies are needed?",
    3: "Question 3: what is preventing us from achieving greater equality?",
}

#: Discussion prompts shown beside each view, after "What do you notice? What do you wonder?".
PROMPTS = {
    "pace": ["Which groups are gaining more than a level a year, and what is working for them?",
             "Where is a group's interval clearly below one level a year?"],
    "levels_behind": ["Which groups start furthest from grade level, and are they also the slowest?",
                      "What would it take for them to reach graduation level by 18?"],
    "unmet_need": ["Who needs more support and did not get it? Is it the same at every school?",
                   "How do students come to get support here: who asks, who notices?"],
    "access": ["Which students ready to go deeper get Level-4 work, and which do not?",
               "Who decides who is offered Level-4 work, and on what evidence?"],
    "discipline": ["Which groups lose instructional time to exclusion more than others?",
                   "What happens in the moments before a removal, and what alternatives exist?"],
    "grades": ["Do some groups' grades sit above or below what their evidence of mastery shows?",
               "What else goes into a grade here besides evidence of learning?"],
}


# --------------------------------------------------------------------------- facts

def build_facts(district, config: Config | None = None) -> pd.DataFrame:
    """One row per student, school year and domain, plus an ``All domains`` row per student and year.

    Columns: ``student_id``, ``school_year``, ``domain``, ``school``,
    ``grade_level``, every subgroup column, and the metric columns the
    district's tables allow: ``pace``, ``levels_behind``, ``unmet_need`` (NA
    unless the student was below pace or two or more levels behind),
    ``level4_work``, ``any_exclusion`` (student-year measures, the same on
    every row of a student and year) and ``grade_residual``. The ``All
    domains`` row takes the mean pace, the most levels behind, unmet need in
    any domain and the mean grade residual.
    """
    from equity_audit.questions.grading import discordance, grade_evidence, residuals
    from equity_audit.questions.needs import domain_facts
    from equity_audit.questions.patterns import student_year_facts

    config = config or Config()
    years = student_year_facts(district, config)
    years["school_year"] = years["school_year"].astype("int64")
    keep = [c for c in years.columns if c not in ("school_id", "n_schools")]
    base = years[keep]

    parts = []
    try:
        levels = domain_facts(district, config)
    except KeyError:  # neither levels nor evidence with standards
        levels = None
    if levels is not None:
        domain_rows = levels[["student_id", "school_year", "domain", "pace", "levels_behind"]].copy()
        flagged = levels["in_need"].astype("boolean")  # unmet need is defined for students 2+ behind
        if "supported" in levels:
            unmet = flagged & ~levels["supported"].astype("boolean")
            domain_rows["unmet_need"] = unmet.where(flagged.fillna(False).to_numpy(), pd.NA)
        else:
            domain_rows["unmet_need"] = pd.Series(pd.NA, index=levels.index, dtype="boolean")
        parts.append(domain_rows)
    if "grades" in district and "evidence" in district and "standards" in district:
        graded = residuals(discordance(grade_evidence(
            district, proficient_score=config.proficient_score, school_year_start=config.school_year_start,
            school_year_end=config.school_year_end)))
        graded = graded.dropna(subset=["school_year", "domain"])
        parts.append(graded.groupby(["student_id", "school_year", "domain"], observed=True)["residual"].mean()
                     .rename("grade_residual").reset_index())

    key = ["student_id", "school_year", "domain"]
    if parts:
        normalised = [p.astype({"student_id": "string", "school_year": "int64", "domain": "string"}) for p in parts]
        by_domain = normalised[0]
        for part in normalised[1:]:
            by_domain = by_domain.merge(part, on=key, how="outer")
    else:
        by_domain = pd.DataFrame({"student_id": pd.Series(dtype="string"),
                                  "school_year": pd.Series(dtype="int64"), "domain": pd.Series(dtype="string")})
    measures = [c for c in ("pace", "levels_behind", "unmet_need", "grade_residual") if c in by_domain]

    overall = by_domain.groupby(["student_id", "school_year"]).agg(
        **{c: (c, "mean") for c in ("pace", "grade_residual") if c in measures},
        **{c: (c, "max") for c in ("levels_behind",) if c in measures})
    if "unmet_need" in measures:
        unmet = by_domain["unmet_need"].astype("Float64")
        grouped = unmet.groupby([by_domain["student_id"], by_domain["school_year"]])
        known = grouped.count()
        overall["unmet_need"] = pd.array(np.where(known > 0, grouped.sum() > 0, pd.NA), dtype="boolean")

    base = base.assign(student_id=base["student_id"].astype("string"))
    all_rows = base.merge(overall.reset_index(), on=["student_id", "school_year"], how="left")
    all_rows["domain"] = ALL_DOMAINS
    domain_rows = by_domain.merge(base, on=["student_id", "school_year"], how="inner")
    facts = pd.concat([all_rows, domain_rows], ignore_index=True)
    facts["domain"] = facts["domain"].astype(str)
    facts["school"] = facts["school"].astype(str)
    if "unmet_need" in facts:
        facts["unmet_need"] = facts["unmet_need"].astype("boolean")
    return facts


def available_metrics(facts: pd.DataFrame) -> list[str]:
    """The metrics whose column the facts hold with at least one value."""
    return [key for key, metric in METRICS.items()
            if metric.column in facts and facts[metric.column].notna().any()]


# --------------------------------------------------------------------------- the view

class View:
    """What :func:`view` returns: unpacks as ``table, figure, alt``; also ``caption`` and ``data``.

    ``table`` is the aggregate table as people read it (Students, Value,
    95% interval, Others, Difference, Closer look; small groups withheld),
    ``data`` the engine's table behind it (already withheld, no p-values shown).
    """

    def __init__(self, table: pd.DataFrame, figure, alt: str, caption: str, data: pd.DataFrame):
        self.table, self.figure, self.alt, self.caption, self.data = table, figure, alt, caption, data

    def __iter__(self):
        return iter((self.table, self.figure, self.alt))


def _filtered(facts: pd.DataFrame, metric: Metric, domain: str, school: str, year) -> pd.DataFrame:
    rows = facts[facts["domain"] == (domain if metric.by_domain else ALL_DOMAINS)]
    if school not in (None, ALL_SCHOOLS):
        rows = rows[rows["school"] == school]
    if year is not None:
        rows = rows[rows["school_year"] == int(year)]
    return rows


def _as_by(by: str | Sequence[str]) -> list[str]:
    columns = [by] if isinstance(by, str) else list(by)
    if not 1 <= len(columns) <= 2:
        raise WorkshopError("Choose one group of students, or two to see them together.")
    return columns


def latest_year(facts: pd.DataFrame) -> int:
    return int(facts["school_year"].max())


def caption(metric: str, *, domain: str = ALL_DOMAINS, school: str = ALL_SCHOOLS, year=None,
            by: str | Sequence[str] = "race_ethnicity", min_n: int = 10, years: Sequence[int] = ()) -> str:
    """The view in one line: what, where, when, by what, and the suppression rule.

    ``years`` (first and last used) names the span of a year-by-year view instead of one ``year``.
    """
    chosen = METRICS[metric]
    where = [chosen.name]
    if chosen.by_domain:
        where.append("in all subject areas" if domain == ALL_DOMAINS else f"in {domain_name(domain)}")
    where.append(f"at {school.lower() if school == ALL_SCHOOLS else school}")
    if len(years):
        where.append(f"each school year from {year_label(min(years))} to {year_label(max(years))}")
    elif year is not None:
        where.append(f"in {year_label(int(year))}")
    groups = " × ".join(shown_name(c) for c in _as_by(by))
    return f"{' '.join(where)}, by {groups}; groups under {min_n} students are withheld"


def _computed(rows: pd.DataFrame, chosen: Metric, columns: list[str], options: dict) -> pd.DataFrame:
    """The engine's table for ``rows``: one row per group (or crossed pair) in ``group``."""
    statistic = "rate" if chosen.percent else "mean"
    data = disaggregate(rows, chosen.column, by=columns, statistic=statistic, **options)
    if len(columns) == 1:
        data = data.rename(columns={columns[0]: "group"}).assign(subgroup=columns[0])
        data["group"] = data["group"].astype(str)
        return shown_groups(data)
    first, second = columns
    data = drop_empty_unknown(data, first, second)
    return data.assign(group=_named(data[first], first) + " × " + _named(data[second], second),
                       subgroup=f"{first} × {second}")


def _named(values: pd.Series, column: str) -> pd.Series:
    """Groups as a crossed label says them: a bare "Yes" or "No" takes its group's name ("English learner: Yes")."""
    text = values.astype(str)
    return text.where(~text.isin(["Yes", "No"]), shown_name(column) + ": " + text)


def released_table(data: pd.DataFrame, *, percent: bool, min_n: int, subgroup: str) -> pd.DataFrame:
    """The engine's table as a facilitator reads it, every number through the release gate.

    The cells come from :func:`~equity_audit.publish.report.released_view` (which
    applies :func:`~equity_audit.publish.release.protect`), so the explorer shows
    no more than the report: a withheld group keeps only its name, a share whose
    count is small or whose value is coded hides its interval and comparison.

    Examples
    --------
    >>> data = pd.DataFrame({"group": ["A", "B"], "n": [40, 4], "estimate": [0.5, 0.25],
    ...                      "low": [0.35, 0.0], "high": [0.65, 0.7], "comparator_estimate": [0.25, 0.5],
    ...                      "difference": [0.25, -0.25], "flagged": [False, False],
    ...                      "suppressed": [False, True], "statistic": "rate"})
    >>> released_table(data, percent=True, min_n=10, subgroup="Gender").iloc[:, 2:6].values.tolist()
    [['40', '50%', '35% to 65%', '25%'], ['fewer than 10', 'withheld', 'withheld', 'withheld']]
    """
    shown = released_view(data.reset_index(drop=True), min_n=min_n)
    empty = pd.to_numeric(shown["n"], errors="coerce").eq(0)
    numbers = {c: pd.to_numeric(shown[c], errors="coerce") for c in ("low", "high", "difference")}
    lows, highs = (numbers["low"].clip(lower=0), numbers["high"].clip(upper=1)) if percent else (
        numbers["low"], numbers["high"])
    table = pd.DataFrame({
        "Subgroup": subgroup,
        "Group": data["group"].astype(str).to_numpy(),
        "Students": shown["n"].map(lambda v: v if isinstance(v, str) else WITHHELD if pd.isna(v) else str(int(v))),
        "Value": shown["estimate"].map(lambda v: _cell(v, percent)),
        "95% interval": np.where(lows.notna() & highs.notna(),
                                 lows.map(lambda v: fmt_value(v, percent=percent)) + " to "
                                 + highs.map(lambda v: fmt_value(v, percent=percent)), WITHHELD),
        # the others' share is shown as a number or not at all ("fewer than" there would be about the others)
        "Others": pd.to_numeric(shown["comparator_estimate"], errors="coerce").map(
            lambda v: _cell(v, percent)),
        "Difference": numbers["difference"].map(lambda d: WITHHELD if pd.isna(d) else
                                                f"{d * 100:+.0f} pts" if percent else f"{d:+.2f}"),
        "Closer look": np.where(shown["flagged"].astype("boolean").fillna(False), "yes", ""),
    })
    table.loc[empty.to_numpy(), ["Value", "95% interval", "Others", "Difference"]] = "no students"
    return table


def _cell(value, percent: bool) -> str:
    """A released value as words: a number, a code ("≤ 10%"), or why it is not shown."""
    if isinstance(value, str):
        # a share whose students with the outcome are fewer than min_n
        return f"{value} students" if value.startswith("fewer than") else value
    return WITHHELD if value is None or pd.isna(value) else fmt_value(value, percent=percent)


def _overall(rows: pd.DataFrame, chosen: Metric, min_n: int) -> float | None:
    values = rows[chosen.column].astype("Float64")
    return float(values.mean()) if values.notna().sum() >= min_n else None


def view(facts: pd.DataFrame, *, metric: str, domain: str = ALL_DOMAINS, school: str = ALL_SCHOOLS,
         year=None, by: str | Sequence[str] = "race_ethnicity", min_n: int = 10, confidence: float = 0.95,
         fdr: float = 0.05) -> View:
    """One metric for one selection, by one subgroup or the intersection of two.

    The table, the figure and the alt text are made exactly as the report
    makes them: :func:`~equity_audit.disaggregate.disaggregate` with the
    report's ``min_n``, ``confidence`` and ``fdr``, the table through the
    release gate (:func:`released_table`), and
    :func:`~equity_audit.publish.plots.forest` (one subgroup) or
    :func:`~equity_audit.publish.plots.rate_heatmap` (two). ``year`` None is the latest
    school year; ``domain`` is ignored for the student-year metrics (access,
    discipline).
    """
    from equity_audit.publish import plots

    chosen = METRICS[metric]
    columns = _as_by(by)
    year = latest_year(facts) if year is None else int(year)
    rows = _filtered(facts, chosen, domain, school, year)
    _require_measure(rows, chosen)
    title = caption(metric, domain=domain, school=school, year=year, by=columns, min_n=min_n)
    overall = _overall(rows, chosen, min_n)
    reference = chosen.reference if chosen.reference is not None else overall
    data = _computed(rows, chosen, columns, dict(min_n=min_n, confidence=confidence, fdr=fdr))
    subgroup = " × ".join(shown_name(c) for c in columns)
    table = released_table(data, percent=chosen.percent, min_n=min_n, subgroup=subgroup)

    if len(columns) == 1:
        figure = plots.forest(data.drop(columns="subgroup"), group="group", reference=reference,
                              reference_label=chosen.reference_label, xlabel=chosen.xlabel,
                              percent=chosen.percent, min_n=min_n)
        alt = forest_alt(data, chosen.measure, percent=chosen.percent, reference=overall, min_n=min_n)
    else:
        first, second = columns
        figure = plots.rate_heatmap(data, rows=first, columns=second, min_n=min_n, percent=chosen.percent,
                                    label=chosen.measure)
        alt = heatmap_alt(data, first, second, chosen.measure, percent=chosen.percent, min_n=min_n)
    return View(table, figure, alt, title, data)


def _require_measure(rows: pd.DataFrame, chosen: Metric) -> None:
    if chosen.column not in rows:
        raise WorkshopError(f"The district's data does not give {chosen.name.lower()}.")


def by_year(facts: pd.DataFrame, *, metric: str, domain: str = ALL_DOMAINS, school: str = ALL_SCHOOLS,
            by: str | Sequence[str] = "race_ethnicity", min_n: int = 10, confidence: float = 0.95,
            fdr: float = 0.05, **_ignored) -> View:
    """One metric for the chosen groups in every school year: a line chart and a table, groups by years.

    Each year is computed as :func:`view` computes it and passes the release
    gate on its own (:func:`released_table`), as the report's tables by year
    do; the chart draws only the numbers the gate released, and a group has no
    point in a year it is withheld. ``data`` is the long released table
    (``School year`` and the columns of :func:`released_table`); ``table`` puts the
    years side by side, "value (n students)" in each cell.
    """
    chosen = METRICS[metric]
    columns = _as_by(by)
    rows = _filtered(facts, chosen, domain, school, None)
    _require_measure(rows, chosen)
    years = sorted(set(rows["school_year"].astype(int)))
    subgroup = " × ".join(shown_name(c) for c in columns)
    options = dict(min_n=min_n, confidence=confidence, fdr=fdr)
    # one engine call and one gate per school year: a handful of calls, not a loop over students
    parts = [released_table(_computed(rows[rows["school_year"] == year], chosen, columns, options),
                            percent=chosen.percent, min_n=min_n, subgroup=subgroup)
             .assign(**{"School year": year_label(year)}) for year in years]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["Group", "School year"])
    table = _years_side_by_side(long)
    title = caption(metric, domain=domain, school=school, by=columns, min_n=min_n, years=years)
    figure, alt = year_chart(long, chosen, subgroup)
    return View(table, figure, alt, title, long)


def _years_side_by_side(long: pd.DataFrame) -> pd.DataFrame:
    """One row per group, one column per school year: "9.8% (692 students)", "fewer than 10 of 81 students"."""
    counted = long["Students"].str.fullmatch(r"\d+")
    few = long["Value"].str.startswith("fewer than")
    cells = long["Value"].mask(counted & ~few & (long["Students"] != "0"),
                               long["Value"] + " (" + long["Students"] + " students)")
    cells = cells.mask(counted & few, long["Value"].str.removesuffix(" students") + " of " + long["Students"]
                       + " students")
    table = (long.assign(cell=cells).pivot(index="Group", columns="School year", values="cell")
             .reindex(index=list(dict.fromkeys(long["Group"]))).fillna(WITHHELD).reset_index())
    table.columns.name = None
    return table


def year_chart(long: pd.DataFrame, chosen: Metric, subgroup: str):
    """Lines of the released values by school year, one per group, with their 95% intervals.

    Only cells the gate released as numbers are drawn (read back from the
    displayed words, so nothing withheld can reach the chart); the alt text names
    each group's first and last drawn year.
    """
    import matplotlib.pyplot as plt

    values = long["Value"].map(_number)
    bounds = long["95% interval"].str.split(" to ", expand=True).reindex(columns=[0, 1]).map(_number)
    order = long["Group"].map({group: i for i, group in enumerate(dict.fromkeys(long["Group"]))})
    drawn = long.assign(value=values, low=bounds[0], high=bounds[1], order=order).dropna(subset=["value"])
    years = list(dict.fromkeys(long["School year"]))
    with plt.rc_context(PROJECTOR_FONTS):
        figure, ax = plt.subplots(figsize=(11, 6.5))
        _draw_years(ax, drawn, years, chosen, subgroup)
        figure.tight_layout()
    return figure, _year_alt(drawn, chosen, subgroup, len(set(long["Group"])))


#: Chart text read from the back of a room (the report's theme sets smaller sizes).
PROJECTOR_FONTS = {"font.size": 15, "axes.labelsize": 15, "xtick.labelsize": 14, "ytick.labelsize": 14,
                   "legend.fontsize": 13, "legend.title_fontsize": 14}


def _draw_years(ax, drawn: pd.DataFrame, years: list[str], chosen: Metric, subgroup: str) -> None:
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(drawn.sort_values("order")["Group"]))  # the table's order
    colours = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20").colors
    for number, group in enumerate(groups):
        points = drawn[drawn["Group"] == group]
        ax.errorbar(points["School year"].map(years.index), points["value"],
                    yerr=[points["value"] - points["low"], points["high"] - points["value"]],
                    marker="o", capsize=4, label=group, color=colours[number % len(colours)])
    if chosen.reference is not None:
        ax.axhline(chosen.reference * (100 if chosen.percent else 1), color="grey", linestyle="--",
                   label=chosen.reference_label)
    ax.set_xticks(range(len(years)), years)
    ax.set_ylabel(chosen.xlabel + (" (%)" if chosen.percent else ""))
    ax.set_xlabel("School year")
    if len(drawn):
        ax.legend(title=subgroup, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False,
                  ncol=1 if len(groups) <= 4 else 2)


def _year_alt(drawn: pd.DataFrame, chosen: Metric, subgroup: str, groups: int) -> str:
    """The first and last year each group is drawn (released values only), and how many never are."""
    ends = drawn.sort_values("order", kind="stable").groupby("Group", sort=False).agg(
        first=("School year", "first"), last=("School year", "last"), start=("Value", "first"),
        end=("Value", "last"))
    said = ends.index + ": " + ends["start"] + " in " + ends["first"]
    said = said.where(ends["first"] == ends["last"], said + ", " + ends["end"] + " in " + ends["last"])
    hidden = groups - len(ends)
    return (f"Line chart of {chosen.measure} by school year, one line per group of {subgroup}"
            + (f". {'; '.join(said)}" if len(said) else ". No group is large enough to show")
            + (f". {hidden} group(s) withheld in every year" if hidden else "") + ".")


def _number(text) -> float:
    """A displayed number back as a float (percent points for shares); words and codes are NaN."""
    match = re.fullmatch(r"\s*([+\-−]?\d+(?:\.\d+)?)\s*%?\s*", str(text))
    return float(match.group(1).replace("−", "-")) if match else np.nan


# --------------------------------------------------------------------------- notes

def notes_folder(data_dir: str | Path | None = None, notes_dir: str | Path | None = None) -> Path:
    """Where exported notes go: ``notes_dir/workshop_notes`` if given, else beside the data folder,
    else (no data folder, or it cannot be written) the current directory's ``workshop_notes``."""
    if notes_dir:
        return Path(notes_dir) / NOTES_FOLDER
    if data_dir:
        parent = Path(data_dir).resolve().parent
        if parent.is_dir() and _writable(parent):
            return parent / NOTES_FOLDER
    return Path.cwd() / NOTES_FOLDER


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def student_ids_in(text: str, ids) -> list[str]:
    """Student ids that appear as words in ``text``, whatever their case (notes must not name students).

    Examples
    --------
    >>> student_ids_in("Ask about s00012 and S00013 next week", ["S00012", "S00013", "S00014"])
    ['S00012', 'S00013']
    """
    words = {word.casefold() for word in re.findall(r"[\w\-]+", text)}
    return sorted(i for i in set(map(str, ids)) if i.casefold() in words)


def _inert(text: str) -> str:
    """Text shown as typed in any Markdown viewer: no live HTML, links or images."""
    return html.escape(str(text), quote=False).replace("[", "\\[").replace("]", "\\]")


def selection_text(selection: Mapping[str, object]) -> str:
    """The selection as a Markdown list."""
    return "\n".join(f"- {name}: {value}" for name, value in selection.items())


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def export_notes(notes: str, selection: Mapping[str, object], folder: str | Path, *, title: str = "",
                 table: pd.DataFrame | None = None, view_caption: str = "", now: datetime | None = None) -> Path:
    """Write the team's notes, the current selection and the aggregate table to a timestamped Markdown file.

    ``table`` must be the displayed (aggregate, withheld) table; the file
    holds nothing student-level. Returns the path written, in ``folder``
    (created if needed), named ``notes-YYYY-MM-DD-HHMMSS.md``.
    """
    now = now or datetime.now()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"notes-{now:%Y-%m-%d-%H%M%S}"
    path = folder / f"{stem}.md"
    suffix = 1
    while path.exists():
        suffix += 1
        path = folder / f"{stem}-{suffix}.md"
    parts = [f"# Workshop notes{': ' + _inert(title) if title else ''}", "", f"Saved {now:%Y-%m-%d %H:%M}.", "",
             "## Selection", "", selection_text({k: _inert(v) for k, v in selection.items()}), ""]
    if view_caption or table is not None:
        parts += ["## View", ""]
        if view_caption:
            parts += [_inert(view_caption) + ".", ""]
        if table is not None:
            parts += [_markdown_table(table.map(_inert)), ""]
    parts += ["## Notes", "", _inert(notes.strip()) or "(no notes)", ""]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the explorer

def _figure_html(figure, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="ea-figure" src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'style="max-width:100%;height:auto">')


def _prompts_html(metric: str) -> str:
    chosen = METRICS[metric]
    items = "".join(f"<li>{html.escape(p)}</li>" for p in PROMPTS[metric])
    return (f"<div class='ea-prompt-text'><h3>Talk about it</h3><p><b>What do you notice? What do you wonder?</b></p>"
            f"<p><i>{html.escape(QUESTIONS[chosen.question])}</i></p><ul>{items}</ul>"
            "<p>Name strengths and conditions, not deficits: say \"students who need more support\" and "
            "ask what the system does, not what students lack. A gap is a question for the team, "
            "not a verdict.</p></div>")


#: Text sized for a projector (read from the back of a room): ~20px body, larger headings,
#: taller controls. The ``--jp-widgets-*`` variables size the ipywidgets controls themselves.
STYLE = """<style>
.ea-explorer { font-size: 20px; line-height: 1.4; --jp-widgets-font-size: 20px;
  --jp-widgets-inline-height: 40px; --jp-widgets-inline-label-width: 10em; --jp-ui-font-size1: 20px; }
.jp-RenderedMarkdown p { font-size: 20px; }
.jp-RenderedMarkdown h1 { font-size: 40px; }
.ea-explorer h2 { font-size: 36px; margin: 0.3em 0; }
.ea-explorer h3 { font-size: 28px; margin: 0.4em 0; }
.ea-explorer .widget-label, .ea-explorer label, .ea-explorer select, .ea-explorer button,
.ea-explorer textarea, .ea-explorer .widget-html-content { font-size: 20px; }
.ea-explorer .widget-checkbox { height: 36px; }
.ea-explorer .widget-checkbox input { width: 22px; height: 22px; }
.ea-explorer table.ea-data { font-size: 20px; border-collapse: collapse; }
.ea-explorer table.ea-data th, .ea-explorer table.ea-data td { padding: 6px 14px; border-bottom: 1px solid #bbb;
  text-align: left; }
</style>"""


class Explorer:
    """Controls for the measure, subject area, school, year and groups of students over :func:`view`.

    Groups of students are ticked (one, or two to see them together), never
    Ctrl-clicked; "Year by year" shows :func:`by_year` instead of one school
    year; presenter mode hides the notes box while the screen is projected.

    Parameters
    ----------
    facts : DataFrame
        From :func:`build_facts`.
    config : Config, optional
        ``min_n``, ``confidence`` and ``fdr`` are the report's.
    subgroups : list of str, optional
        Columns offered as groups of students (default: every subgroup column,
        then ``school``).
    title : str
        Shown at the top and in exported notes.
    notes_dir : path, optional
        Folder receiving exported notes (see :func:`notes_folder`).

    After any change, ``current`` holds the :class:`View` on screen and the
    ``caption``, ``chart``, ``table`` and ``prompts`` HTML widgets its rendering.
    """

    def __init__(self, facts: pd.DataFrame, config: Config | None = None, *, subgroups: Sequence[str] | None = None,
                 title: str = "", notes_dir: str | Path | None = None):
        import ipywidgets as w

        from equity_audit.data.subgroups import subgroup_columns

        self.facts, self.config, self.title = facts, config or Config(), title
        self.notes_dir = Path(notes_dir) if notes_dir else notes_folder()
        self._ids = set(facts["student_id"].astype(str))
        groups = list(subgroups) if subgroups else [*subgroup_columns(facts), "school"]
        metrics = available_metrics(facts)
        if not metrics:
            raise WorkshopError("The district's data gives none of the measures the workshop shows.")
        domains = [ALL_DOMAINS, *sorted(set(facts["domain"]) - {ALL_DOMAINS})]
        schools = [ALL_SCHOOLS, *sorted(set(facts["school"]))]
        years = sorted(set(facts["school_year"].astype(int)), reverse=True)
        wide, style = w.Layout(width="auto"), {"description_width": "initial"}

        self.metric = w.Dropdown(options=[(METRICS[m].name, m) for m in metrics], value=metrics[0],
                                 description=LABELS["metric"], style=style, layout=wide)
        self.domain = w.Dropdown(options=[(domain_name(d), d) for d in domains], value=ALL_DOMAINS,
                                 description=LABELS["domain"], style=style, layout=wide)
        self.school = w.Dropdown(options=schools, value=ALL_SCHOOLS, description=LABELS["school"], style=style,
                                 layout=wide)
        self.year = w.Dropdown(options=[(year_label(y), y) for y in years], value=years[0],
                               description=LABELS["year"], style=style, layout=wide)
        self.period = w.ToggleButtons(options=[(LABELS["one_year"], "year"), (LABELS["each_year"], "trend")],
                                      value="year", description=LABELS["period"],
                                      style={**style, "button_width": "auto"})
        self.groups = {c: w.Checkbox(value=c == groups[0], description=shown_name(c), indent=False) for c in groups}
        self._ticked_order = [groups[0]]
        self.by = w.VBox([w.HTML(value=f"<b>{html.escape(LABELS['by'])}</b>"), *self.groups.values()])
        self.presenter = w.ToggleButton(value=False, description=LABELS["presenter"],
                                        tooltip=LABELS["presenter_tip"], icon="desktop",
                                        layout=w.Layout(width="auto", min_width="12em"))
        for control, name in ((self.metric, "metric"), (self.domain, "domain"), (self.school, "school"),
                              (self.year, "year"), (self.period, "period"), (self.by, "by"),
                              (self.presenter, "presenter")):
            control.add_class(f"ea-{name}")
        self.message, self.caption, self.chart = w.HTML(value=""), w.HTML(value=""), w.HTML(value="")
        self.table, self.prompts, self.saved = w.HTML(value=""), w.HTML(value=""), w.HTML(value="")
        self.notes = w.Textarea(placeholder="What we notice, what we wonder, what we want to try next. "
                                "No student names or ids.", layout=w.Layout(width="100%", height="160px"))
        self.save = w.Button(description=LABELS["save"], icon="save", button_style="primary")
        self.notes_box = w.VBox([w.HTML(value=f"<h3>{LABELS['notes']}</h3><p>Saved notes keep the choices and "
                                        "the table on screen; they never hold a student's name or id.</p>"),
                                 self.notes, w.HBox([self.save, self.saved])])
        for widget, name in ((self.message, "message"), (self.caption, "caption"), (self.chart, "chart"),
                             (self.table, "table"), (self.prompts, "prompts"), (self.notes, "notes"),
                             (self.save, "save"), (self.saved, "saved"), (self.notes_box, "notes-box")):
            widget.add_class(f"ea-{name}")
        self.current: View | None = None
        self.last_saved: Path | None = None
        self._holding = False

        for control in (self.metric, self.domain, self.school, self.year, self.period):
            control.observe(self._changed, names="value")
        for column, box in self.groups.items():
            box.observe(functools.partial(self._ticked, column), names="value")
        self.presenter.observe(self._present, names="value")
        self.save.on_click(self._save)
        self.refresh()

    @classmethod
    def from_folder(cls, data_dir: str | Path, config_path: str | Path | None = "",
                    notes_dir: str | Path | None = "") -> "Explorer":
        """Load and validate a district folder, build the facts once, and make the explorer."""
        from equity_audit.config import district_label
        from equity_audit.data.load import load_district
        from equity_audit.publish.plots import theme

        config = load_config(config_path or None)
        district = load_district(data_dir, **config.load_options)
        theme()
        return cls(build_facts(district, config), config, title=district_label(config.district_name, data_dir),
                   notes_dir=notes_folder(data_dir, notes_dir or None))

    # ---- state

    def chosen_groups(self) -> list[str]:
        """The ticked groups of students in the order they were ticked (the first one if none is)."""
        return self._ticked_order[:2] or [next(iter(self.groups))]

    def choose(self, *columns: str) -> None:
        """Tick exactly ``columns`` (one, or two to see them together), in that order, and redraw once."""
        _as_by(list(columns))
        self._holding = True
        try:
            for box in self.groups.values():
                box.value = False
            for column in columns:
                self.groups[column].value = True
        finally:
            self._holding = False
        self.refresh()

    def selection(self) -> dict:
        """The current choices as keyword arguments of :func:`view` (and :func:`by_year`)."""
        return dict(metric=self.metric.value, domain=self.domain.value, school=self.school.value,
                    year=self.year.value, by=self.chosen_groups())

    def selection_words(self) -> dict:
        chosen = self.selection()
        metric = METRICS[chosen["metric"]]
        return {"Measure": metric.name,
                "Subject area": domain_name(chosen["domain"]) if metric.by_domain else "not by subject area",
                "School": chosen["school"],
                "School year": "each year" if self.period.value == "trend" else year_label(chosen["year"]),
                "Groups": " × ".join(shown_name(c) for c in chosen["by"]),
                "Smallest group shown": f"{self.config.min_n} students"}

    def refresh(self) -> View:
        """Recompute the view for the current selection and render it."""
        chosen = self.selection()
        metric = METRICS[chosen["metric"]]
        self.domain.disabled = not metric.by_domain
        self.year.disabled = self.period.value == "trend"
        notes = []
        if not self._ticked_order:
            notes.append(f"Tick at least one group of students; showing {shown_name(chosen['by'][0])}.")
        if len(self._ticked_order) >= 2:
            notes.append("Two groups are ticked: untick one to choose another.")
        if not metric.by_domain:
            notes.append(f"{metric.name} is counted once per student each school year, not by subject area.")
        self.message.value = " ".join(f"<span>{html.escape(n)}</span>" for n in notes)
        make = by_year if self.period.value == "trend" else view
        result = make(self.facts, min_n=self.config.min_n, confidence=self.config.confidence,
                      fdr=self.config.fdr, **chosen)
        self.current = result
        self.caption.value = f"<h3 class='ea-caption-text'>{html.escape(result.caption)}</h3>"
        self.chart.value = _figure_html(result.figure, result.alt)
        self.table.value = result.table.to_html(index=False, classes="ea-data", border=0, escape=True)
        self.prompts.value = _prompts_html(chosen["metric"])
        return result

    def _changed(self, change) -> None:
        self.refresh()

    def _ticked(self, column: str, change) -> None:
        if change["new"] and column not in self._ticked_order:
            self._ticked_order.append(column)
        elif not change["new"] and column in self._ticked_order:
            self._ticked_order.remove(column)
        # two at a time: the other boxes wait until one is unticked
        full = len(self._ticked_order) >= 2
        for other, box in self.groups.items():
            box.disabled = full and other not in self._ticked_order
        if not self._holding:
            self.refresh()

    def _present(self, change) -> None:
        self.notes_box.layout.display = "none" if change["new"] else None

    def export(self) -> Path | None:
        """Save the notes with the current selection; refuse notes naming a student id."""
        found = student_ids_in(self.notes.value, self._ids)
        if found:
            self.saved.value = ("<b>Not saved:</b> the notes contain a student id. Notes are shared; "
                                "describe groups, not students.")
            return None
        path = export_notes(self.notes.value, self.selection_words(), self.notes_dir, title=self.title,
                            table=self.current.table if self.current else None,
                            view_caption=self.current.caption if self.current else "")
        self.last_saved = path
        self.saved.value = f"Saved to <code>{html.escape(str(path))}</code>"
        return path

    def _save(self, _button) -> None:
        self.export()

    # ---- layout

    def widget(self):
        """The whole explorer as one ipywidgets box, with its projector-sized style."""
        import ipywidgets as w

        header = w.HTML(value=f"{STYLE}<h2>Workshop explorer{': ' + html.escape(self.title) if self.title else ''}</h2>"
                        "<p>Every number is about a group of students: it shows how many students it rests on "
                        "and its 95% interval (where the true value most likely lies). Groups under "
                        f"{self.config.min_n} students are withheld. No student is shown.</p>")
        controls = w.HBox([w.VBox([self.metric, self.domain, self.school, self.year, self.period]), self.by,
                           self.presenter], layout=w.Layout(justify_content="space-between"))
        main = w.HBox([w.VBox([self.caption, self.chart, self.table], layout=w.Layout(flex="3 1 0%")),
                       w.VBox([self.prompts], layout=w.Layout(flex="1 1 0%", padding="0 0 0 16px"))])
        page = w.VBox([header, controls, self.message, main, self.notes_box])
        page.add_class("ea-explorer")
        return page

    def show(self) -> None:
        """Display the explorer in the notebook (or the Voila page)."""
        from IPython.display import display

        display(self.widget())
