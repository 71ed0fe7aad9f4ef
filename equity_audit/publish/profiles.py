"""A one-page profile of each school: its students, its gaps against the district, its flags.

The profiles are made after the run's joint disclosure audit, from what the run
released and nothing else: ``tables/*.csv`` (withheld cells are blank and the
``status`` column says why) and ``findings.json``. A withheld count shows as
"fewer than ``min_n``" or "withheld", never as a number. The one table the
profiles add, ``composition_by_school`` (students of each school by subgroup,
latest school year), is written by :func:`write_school_composition` *before*
the audit, through :func:`~equity_audit.publish.rundir.write_table`, with
complementary suppression against the published school and district totals,
so the audit checks it jointly with every other table.

Each profile is written as ``OUT/schools/<slug>.html`` and printed to
``OUT/schools/<slug>.pdf`` with the report's own Chromium printer
(:func:`~equity_audit.publish.render.print_pdfs`; in a run, by the Chromium that
prints the report); ``OUT/schools/index.html``
links them. :func:`appendix_notebook` holds the same profiles for the report's
appendix. Every text that comes from the data is HTML-escaped, and file names
are slugs made of ``a-z``, ``0-9`` and ``-`` only.

Examples
--------
>>> slugs(["Ridge <b>View</b>", "Ridge View", "../../etc", ""])
['ridge-b-view-b', 'ridge-view', 'etc', 'school']
>>> shown_count(None, "small_count:n", "n", min_n=10), shown_count(245.0, "", "n", min_n=10)
('fewer than 10', '245')
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Callable

import nbformat
import pandas as pd

from equity_audit.data.contract import UNKNOWN
from equity_audit.data.enrollment import student_years
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels
from equity_audit.data.text import restore_cells
from equity_audit.privacy import suppress
from equity_audit.publish.findings import FINDINGS_NAME, read_findings
from equity_audit.publish.narrative import fmt_value, label
from equity_audit.publish.release import STATUS_COLUMN
from equity_audit.publish.render import CONTENT_SECURITY_POLICY, print_pdfs
from equity_audit.publish.rundir import write_table
from equity_audit.questions.overview import school_names

__all__ = ["SchoolMeasure", "SCHOOL_MEASURES", "COMPOSITION_TABLE", "SCHOOLS_DIR", "school_composition",
           "write_school_composition", "school_profiles", "profile_html", "appendix_html", "appendix_notebook",
           "write_profiles", "profile_pages", "write_index", "slugs", "shown_count"]

#: The released table of students by school and subgroup that the profiles add to a run.
COMPOSITION_TABLE = "composition_by_school"
#: The folder of a run that holds the school pages.
SCHOOLS_DIR = "schools"


@dataclass(frozen=True)
class SchoolMeasure:
    """A measure the audit publishes by school, and where its released table keeps it.

    ``district`` names the column with the district's value (a funnel plot's
    target) or, with ``comparator_words``, the value of the other schools.
    ``difference`` columns, when the table has them, give the gap with its
    95% interval; otherwise the gap is the school's value minus the district's.
    """

    table: str
    analysis: str
    label: str
    school_column: str
    value: str
    district: str
    percent: bool = True
    comparator_words: str = "the district"
    n_words: str = "students"


#: The measures a profile shows, in order; a run without a table says so on the page.
SCHOOL_MEASURES = (
    SchoolMeasure("unmet_need_by_school", "Unmet need", "Needed more support and had none", "group", "estimate",
                  "comparator_estimate", comparator_words="other schools, same level of need"),
    SchoolMeasure("below_pace_by_school", "Pace by school", "Gaining under one level a year (below pace)",
                  "school", "rate", "target", n_words="student-subjects"),
    SchoolMeasure("chronic_absence_by_school", "Chronic absence by school", "Chronically absent (10% or more of days)",
                  "school", "rate", "target"),
)


# --------------------------------------------------------------------------- the added table


def school_composition(district, min_n: int = 10) -> pd.DataFrame:
    """Students of each school by subgroup in the latest school year, ready for the release gate.

    Each subgroup is a school-by-group count table whose margins are published
    elsewhere (students by school, composition of the district), so its cells
    are withheld with :func:`equity_audit.privacy.suppress` (small cells and
    their complements); ``suppressed`` marks them for
    :func:`~equity_audit.publish.release.protect`.

    Parameters
    ----------
    district : District
        The validated district (``students``, ``enrollments``; ``schools`` for names).
    min_n : int, default 10
        Smallest count shown.

    Returns
    -------
    pandas.DataFrame
        ``school``, ``subgroup``, ``group``, ``n``, ``share`` (of the school's
        students) and ``suppressed``; one row per school and group.
    """
    years = student_years(district["enrollments"])
    latest = years.loc[years["school_year"] == years["school_year"].max(), ["student_id", "school_id"]]
    labelled = subgroup_labels(district["students"]).merge(latest.drop_duplicates(), on="student_id")
    names = school_names(district)
    parts = [_one_subgroup(labelled, column, min_n) for column in subgroup_columns(district["students"])]
    if not parts:
        return pd.DataFrame(columns=["school", "subgroup", "group", "n", "share", "suppressed"])
    table = pd.concat(parts, ignore_index=True)
    return table.assign(school=table["school"].map(lambda s: names.get(s, s)))


def _one_subgroup(labelled: pd.DataFrame, column: str, min_n: int) -> pd.DataFrame:
    counts = labelled.groupby(["school_id", column], observed=False).size().unstack(column, fill_value=0)
    counts.columns = counts.columns.astype(str)
    withheld = suppress(counts, min_n=min_n)
    shares = counts.div(counts.sum(axis=1).where(lambda total: total > 0), axis=0)
    long = pd.DataFrame({"n": counts.stack(), "share": shares.stack(), "suppressed": withheld.stack()})
    long.index.names = ["school", "group"]
    return long.reset_index().assign(subgroup=column)[["school", "subgroup", "group", "n", "share", "suppressed"]]


def write_school_composition(run_dir: str | Path, district, *, min_n: int = 10) -> Path:
    """Write :data:`COMPOSITION_TABLE` through the release gate; call it before the joint audit."""
    return write_table(run_dir, COMPOSITION_TABLE, school_composition(district, min_n), min_n=min_n)


# --------------------------------------------------------------------------- reading what was released


@dataclass
class Profile:
    """What one school's page shows, every value already as released (text, not numbers)."""

    name: str
    slug: str
    students: str
    year: str
    composition: list[tuple[str, str]] = field(default_factory=list)
    measures: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)


def _released(run_dir: Path, name: str) -> pd.DataFrame | None:
    """A released table as the gate left it (blank where withheld), or None when the run has none."""
    path = run_dir / "tables" / f"{name}.csv"
    if not path.exists():
        return None
    try:
        table = restore_cells(pd.read_csv(path))
    except pd.errors.EmptyDataError:
        return None
    if STATUS_COLUMN not in table:
        table[STATUS_COLUMN] = ""
    table[STATUS_COLUMN] = table[STATUS_COLUMN].astype(object).fillna("").astype(str)
    return table


def shown_count(value, status: str, column: str, *, min_n: int) -> str:
    """A released count as a reader sees it: the number, "fewer than ``min_n``" or "withheld"."""
    if value is not None and pd.notna(value):
        return f"{int(round(float(value))):,}"
    codes = set(str(status).split(";"))
    if "small_n" in codes or f"small_count:{column}" in codes:
        return f"fewer than {min_n}"
    return "0" if "no_students" in codes else "withheld"


def slugs(names: list[str]) -> list[str]:
    """A safe, unique file name stem for each school name: ``a-z``, ``0-9`` and ``-`` only.

    Accents are dropped, anything else becomes ``-``; an empty result becomes
    ``school``, and repeats get ``-2``, ``-3`` ...
    """
    out, taken = [], set()
    for name in names:  # one per school
        ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-") or "school"
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        taken.add(slug)
        out.append(slug)
    return out


def _min_n(run_dir: Path) -> int:
    """The run's ``min_n``, from the settings ``findings.json`` records (10 when it has none)."""
    path = run_dir / FINDINGS_NAME
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return int((document.get("settings") or {}).get("min_n") or 10)


def _enrolment(run_dir: Path, min_n: int) -> tuple[pd.DataFrame, str]:
    """School name, students in the latest year (as released) and the year's label."""
    table = _released(run_dir, "students_by_school_year")
    if table is None or "school" not in table:
        return pd.DataFrame(columns=["school", "students"]), ""
    year = [c for c in table.columns if c not in ("school", STATUS_COLUMN)][-1]
    students = [shown_count(v, s, year, min_n=min_n) for v, s in zip(table[year], table[STATUS_COLUMN])]
    return pd.DataFrame({"school": table["school"].astype(str), "students": students}), str(year)


#: Groups of a yes/no subgroup, and the group a profile shows for it (the row already names the subgroup).
_YES_NO, _YES = {"Yes", "No", "Y", "N", UNKNOWN}, ("Yes", "Y")


def _composition(table: pd.DataFrame | None, school: str, min_n: int) -> list[tuple[str, str]]:
    """``(subgroup words, groups as text)`` for one school; a yes/no subgroup shows its Yes group only."""
    if table is None:
        return []
    rows = table[table["school"].astype(str) == school]
    groups = rows["group"].astype(str)
    flags = groups.groupby(rows["subgroup"]).transform(lambda g: set(g) <= _YES_NO)
    rows = rows[~flags | groups.isin(_YES)]
    rows = rows[~((rows["group"].astype(str) == UNKNOWN) & (rows["n"].fillna(-1) == 0))]
    text = [_group_text(row, min_n) for row in rows.itertuples(index=False)]  # a few dozen groups
    shown = rows.assign(text=text)
    return [(label(subgroup), "; ".join(part["text"])) for subgroup, part in shown.groupby("subgroup", sort=False)]


def _group_text(row, min_n: int) -> str:
    count = shown_count(row.n, getattr(row, STATUS_COLUMN), "n", min_n=min_n)
    share = f" ({fmt_value(row.share, percent=True)})" if pd.notna(row.share) and pd.notna(row.n) else ""
    return f"{count}{share}" if str(row.group) in _YES else f"{row.group}: {count}{share}"


def _measure(measure: SchoolMeasure, school: str, tables: dict, min_n: int) -> dict:
    """One row of the gaps table: the school's value with n and interval, the district's, the gap."""
    table = tables.get(measure.table)
    row = {"label": measure.label, "percent": measure.percent, "comparator": measure.comparator_words}
    if table is None:
        return {**row, "missing": _missing_reason(tables.get("analyses_available"), measure.analysis)}
    found = table[table[measure.school_column].astype(str) == school]
    if found.empty:
        return {**row, "missing": "Not measured for this school in this run."}
    record = found.iloc[0]
    value, district = record.get(measure.value), record.get(measure.district)
    gap = record.get("difference", value - district if pd.notna(value) and pd.notna(district) else None)
    interval = (record.get("difference_low"), record.get("difference_high")) if "difference" in found else \
        (record.get("low"), record.get("high"))
    return {**row, "n": shown_count(record.get("n"), record[STATUS_COLUMN], "n", min_n=min_n),
            "value": value, "district": district, "gap": gap, "interval": interval,
            "interval_of": "gap" if "difference" in found else "value", "n_words": measure.n_words}


def _missing_reason(analyses: pd.DataFrame | None, analysis: str) -> str:
    """Why a measure has no school table: what the district would need to provide."""
    if analyses is not None and {"Analysis", "Missing"} <= set(analyses.columns):
        needed = analyses.loc[analyses["Analysis"] == analysis, "Missing"].dropna()
        if len(needed) and str(needed.iloc[0]).strip():
            return f"Not available: it needs {needed.iloc[0]}, which the district did not provide."
    return "Not available: this run has no school-level table for it."


def school_profiles(run_dir: str | Path) -> list[Profile]:
    """The profile of every school the run released, read from ``tables/`` and ``findings.json`` only."""
    run_dir = Path(run_dir)
    min_n = _min_n(run_dir)
    enrolment, year = _enrolment(run_dir, min_n)
    tables = {name: _released(run_dir, name) for name in
              [m.table for m in SCHOOL_MEASURES] + [COMPOSITION_TABLE, "analyses_available"]}
    findings = [f for f in read_findings(run_dir) if f.get("unit") == "school" and not f.get("confidential")]
    names = enrolment["school"].tolist()
    return [Profile(name=name, slug=slug, students=students, year=year,
                    composition=_composition(tables[COMPOSITION_TABLE], name, min_n),
                    measures=[_measure(m, name, tables, min_n) for m in SCHOOL_MEASURES],
                    flags=[f for f in findings if str(f.get("unit_name")) == name])
            for name, slug, students in zip(names, slugs(names), enrolment["students"])]


# --------------------------------------------------------------------------- HTML

#: The most flags printed on one page; the rest are counted and found in the workbook.
MAX_FLAGS = 8

_CSS = """@page{size:Letter;margin:12mm}
body{font-family:"DejaVu Sans",system-ui,sans-serif;font-size:9.5pt;line-height:1.35;color:#1a1a1a;margin:0}
.school-profile{max-width:190mm}
.school-profile h2,.school-profile h3{margin:.2rem 0 .3rem}.school-profile h3{font-size:11pt;margin-top:.7rem}
.school-profile table{border-collapse:collapse;width:100%;table-layout:fixed}
.school-profile th,.school-profile td{border-bottom:1px solid #ccc;padding:.15rem .3rem;text-align:left;
vertical-align:top;overflow-wrap:anywhere}.school-profile th{background:#f2f2f2}
.school-profile p.note{color:#444;font-size:8.5pt;margin:.2rem 0}
.school-profile li{margin:.1rem 0}"""


def _number(value, percent: bool, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "withheld"
    if signed:
        return f"{value * 100:+.1f} points" if percent else f"{value:+.2f}"
    return fmt_value(value, percent=percent)


def _td(html: str, *, number: bool = False, span: int = 1, header: bool = False) -> str:
    """A cell aligned in its own ``style``, so it reads the same under the report's styles and on its own page."""
    tag = "th" if header else "td"
    spans = f' colspan="{span}"' if span > 1 else ""
    return f'<{tag}{spans} style="text-align:{"right" if number else "left"}">{html}</{tag}>'


def _measure_row(row: dict) -> str:
    title = _td(escape(row["label"]))
    if "missing" in row:
        return f"<tr>{title}{_td(escape(row['missing']), span=4)}</tr>"
    percent = row["percent"]
    low, high = row["interval"]
    signed = row["interval_of"] == "gap"
    interval = "withheld" if pd.isna(low) or pd.isna(high) else \
        f"{_number(low, percent, signed)} to {_number(high, percent, signed)}" + ("" if signed else " (school)")
    cells = [f"{escape(row['n'])} {escape(row['n_words'])}", _number(row["value"], percent),
             f"{_number(row['district'], percent)} ({escape(row['comparator'])})",
             f"{_number(row['gap'], percent, signed=True)}; 95% interval {escape(interval)}"]
    return f"<tr>{title}{''.join(_td(cell, number=True) for cell in cells)}</tr>"


def _flag_item(finding: dict) -> str:
    direction = {"worse": "Needs a closer look", "better": "A strength", "neutral": "Worth understanding"}
    return f"<li><b>{direction.get(finding.get('direction'), 'Worth understanding')}.</b> " \
           f"{escape(str(finding.get('statement', '')))}</li>"


def profile_html(profile: Profile, *, level: int = 2) -> str:
    """One school's profile as an HTML ``<div>`` (every data text escaped).

    ``level`` is the heading level of the school's name (2 on its own page,
    3 in the report's appendix).
    """
    h, sub = f"h{level}", f"h{level + 1}"
    year = f" in {escape(profile.year)}" if profile.year else ""
    parts = [f'<div class="school-profile" id="school-{profile.slug}">',
             f"<{h}>{escape(profile.name)}</{h}>",
             f"<p>{escape(profile.students)} students{year}. A flag is a question for the team, not a verdict; "
             "every number comes from the audit's published tables, and small groups are withheld.</p>",
             f"<{sub}>Its students</{sub}>"]
    if profile.composition:
        rows = "".join(f"<tr>{_td(escape(s))}{_td(escape(g))}</tr>" for s, g in profile.composition)
        parts.append(f'<table><colgroup><col style="width:22%"><col></colgroup><tbody>{rows}</tbody></table>')
    else:
        parts.append('<p class="note">This run published no breakdown of the school\'s students by subgroup.</p>')
    head = "".join(_td(t, number=t != "Measure", header=True) for t in ("Measure", "n", "School", "Compared with", "Gap"))
    body = "".join(_measure_row(row) for row in profile.measures)
    parts += [f"<{sub}>Its gaps against the district</{sub}>",
              '<table><colgroup><col style="width:27%"><col style="width:15%"><col style="width:9%">'
              f'<col style="width:22%"><col></colgroup><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
              '<p class="note">The gap is the school minus what it is compared with, in percentage points for '
              "shares. Its 95% interval is of the gap where the audit computed one, otherwise of the school's "
              "value.</p>", f"<{sub}>Its flags</{sub}>"]
    if profile.flags:
        items = "".join(_flag_item(f) for f in profile.flags[:MAX_FLAGS])
        more = len(profile.flags) - MAX_FLAGS
        parts.append(f"<ul>{items}</ul>" + (f'<p class="note">And {more} more in the workbook\'s Findings sheet.</p>'
                                             if more > 0 else ""))
    else:
        parts.append("<p>The audit flags nothing for this school.</p>")
    return "".join(parts) + "</div>"


def _page(title: str, body: str) -> str:
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY)}">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")


def appendix_html(run_dir: str | Path) -> str:
    """Every school's profile for the report's appendix (school names as level-3 headings)."""
    profiles = school_profiles(run_dir)
    if not profiles:
        return "<p>This run published no table of students by school, so there are no school profiles.</p>"
    return "".join(profile_html(p, level=3) for p in profiles)


def appendix_notebook(run_dir: str | Path) -> nbformat.NotebookNode:
    """The appendix as a notebook the report renders after the sections: a heading and the profiles."""
    heading = nbformat.v4.new_markdown_cell("## Appendix E: school profiles\n\nOne page per school: its students, "
                                            "its gaps against the district and its flags. The same pages are in "
                                            "the run folder's `schools/` folder.", id="school-profiles-heading")
    # fixed cell ids: the same run writes the same file (nbformat would draw random ones)
    profiles = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": appendix_html(run_dir)})], id="school-profiles")
    return nbformat.v4.new_notebook(cells=[heading, profiles])


def _district_name(run_dir: str | Path) -> str:
    """The district's name as ``findings.json`` gives it ("" before it is written): every printed page carries it."""
    path = Path(run_dir) / FINDINGS_NAME
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("district", ""))
    except (OSError, ValueError):
        return ""


def write_profiles(run_dir: str | Path, *, log: Callable[[str], None] | None = None, pdfs: bool = True) -> Path:
    """Write ``schools/<slug>.html`` and ``.pdf`` for every school, ``schools/index.html``, and the appendix.

    Call it after the joint disclosure audit and ``findings.json``. The PDFs are
    printed with one Chromium (:func:`~equity_audit.publish.render.print_pdfs`; none
    without Chromium). With ``pdfs=False`` neither the PDFs nor the index are
    written: the caller prints :func:`profile_pages` (with the report, one Chromium
    for all) and then calls :func:`write_index`.

    Returns
    -------
    Path
        The appendix notebook (under ``confidential/appendices/``), to render after the sections.
    """
    run_dir = Path(run_dir)
    folder = run_dir / SCHOOLS_DIR
    folder.mkdir(exist_ok=True)
    profiles = school_profiles(run_dir)
    for profile in profiles:  # one page per school
        page = folder / f"{profile.slug}.html"
        page.write_text(_page(f"School profile: {profile.name}", profile_html(profile)), encoding="utf-8")
    if pdfs:
        print_pdfs([(page, None, _district_name(run_dir)) for page in profile_pages(run_dir)])
        write_index(run_dir, profiles)
    if log:
        log(f"{len(profiles)} school profiles written (schools/index.html)")
    out = run_dir / "confidential" / "appendices" / "school_profiles.ipynb"  # not one of the audit's notebooks
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(appendix_notebook(run_dir), out)
    return out


def profile_pages(run_dir: str | Path) -> list[Path]:
    """The school pages :func:`write_profiles` wrote (``schools/<slug>.html``), in school order."""
    folder = Path(run_dir) / SCHOOLS_DIR
    return [page for profile in school_profiles(run_dir) if (page := folder / f"{profile.slug}.html").exists()]


def write_index(run_dir: str | Path, profiles: list[Profile] | None = None) -> Path:
    """Write ``schools/index.html``: a link to every school's page, and to its PDF when there is one."""
    folder = Path(run_dir) / SCHOOLS_DIR
    profiles = school_profiles(run_dir) if profiles is None else profiles
    links = "".join(f'<li><a href="{p.slug}.html">{escape(p.name)}</a>'
                    + (f' (<a href="{p.slug}.pdf">PDF</a>)' if (folder / f"{p.slug}.pdf").exists() else "") + "</li>"
                    for p in profiles)
    index = folder / "index.html"
    index.write_text(_page("School profiles", f"<h1>School profiles</h1><ul>{links}</ul>"), encoding="utf-8")
    return index
