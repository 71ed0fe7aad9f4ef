"""Who is in the data: the counts behind notebook ``00_data_overview``.

Every count is of unduplicated students; suppression is applied by the caller
through :mod:`equity_audit.privacy` before anything is shown.

Examples
--------
>>> import pandas as pd
>>> years = pd.DataFrame({"student_id": ["a", "b", "c"], "school_year": [2025, 2025, 2026],
...                       "school_id": ["s1", "s1", "s2"], "grade_level": [3, 4, 4]})
>>> students_by(years, "school_id", "school_year").loc["s1", 2025]
np.int64(2)
"""
from __future__ import annotations

import pandas as pd

from equity_audit.config import Config
from equity_audit.data.contract import SUBGROUP_FLAGS, UNKNOWN
from equity_audit.data.dictionary import display_name, display_value
from equity_audit.pace import levels_from_evidence
from equity_audit.privacy import publish_counts, small_cells, suppress
from equity_audit.data.requirements import availability
from equity_audit.data.subgroups import subgroup_columns, subgroup_labels
from equity_audit.data.text import inert_markdown

__all__ = [
    "students_by", "composition", "grade_label", "year_label", "school_names", "data_period",
    "headline",
    "by_school_table", "by_grade_counts", "by_grade_alt", "composition_table", "composition_display", "composition_alt",
    "composition_shares", "notes_markdown", "ledger_table", "analyses_table", "levels",
]

_GRADE_NAMES = {-1: "PK", 0: "K"}


def grade_label(grade: int) -> str:
    """Grade level as people say it: PK, K, 1 ... 12."""
    return _GRADE_NAMES.get(int(grade), str(int(grade)))


def students_by(student_years: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """Unduplicated students counted by two columns, zero where nobody is."""
    counts = student_years.groupby([rows, columns], observed=False)["student_id"].nunique()
    return counts.unstack(columns, fill_value=0).sort_index()


def composition(student_years: pd.DataFrame, students: pd.DataFrame, school_year: int) -> pd.DataFrame:
    """Students enrolled in ``school_year`` by every subgroup column: n and share.

    Empty categories and ``Unknown`` are kept, so an absent group shows as 0.
    """
    enrolled = student_years.loc[student_years["school_year"] == school_year, ["student_id"]]
    labelled = subgroup_labels(students).merge(enrolled.drop_duplicates(), on="student_id")
    parts = [_one_composition(labelled, column) for column in subgroup_columns(students)]
    return pd.concat(parts, ignore_index=True)


def _one_composition(labelled: pd.DataFrame, column: str) -> pd.DataFrame:
    counts = labelled.groupby(column, observed=False).size()
    return pd.DataFrame({
        "subgroup": column,
        "group": counts.index.astype(str),
        "n": counts.to_numpy(),
        "share": (counts / counts.sum()).to_numpy() if counts.sum() else 0.0,
    })


def school_names(district) -> dict[str, str]:
    """School id to name, falling back to the id where no name was given."""
    if "schools" not in district:
        return {}
    schools = district["schools"]
    if "school_name" not in schools.columns:
        return {}
    names = schools["school_name"].fillna(schools["school_id"])
    return dict(zip(schools["school_id"], names))


def data_period(student_years: pd.DataFrame) -> str:
    """The school years covered, e.g. ``2023-24 to 2025-26``."""
    years = sorted(student_years["school_year"].dropna().unique())
    if not years:
        return UNKNOWN
    first, last = year_label(years[0]), year_label(years[-1])
    return first if first == last else f"{first} to {last}"


def year_label(school_year: int) -> str:
    """A school year as people write it: 2025 becomes ``2024-25``."""
    return f"{int(school_year) - 1}-{str(int(school_year))[-2:]}"


def headline(district, student_years: pd.DataFrame) -> str:
    """One paragraph saying who is in the data, for the top of the report."""
    latest = student_years["school_year"].max()
    enrolled_latest = student_years.loc[student_years["school_year"] == latest, "student_id"].nunique()
    n_years = student_years["school_year"].nunique()
    return (
        f"The data covers **{student_years['student_id'].nunique():,} students** in "
        f"**{student_years['school_id'].nunique()} schools** over {n_years} school "
        f"year{'s' if n_years != 1 else ''} ({data_period(student_years)}). "
        f"In {year_label(latest)}, "
        f"{enrolled_latest:,} students were enrolled."
    )


def by_school_table(district, student_years: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Published table of students by school (rows) and school year (columns)."""
    counts = students_by(student_years, "school_id", "school_year")
    counts.columns = [year_label(y) for y in counts.columns]
    published = publish_counts(counts, min_n=min_n)
    names = school_names(district)
    published.insert(0, "school", [names.get(s, s) for s in published.index])
    return published.reset_index(drop=True)


def by_grade_counts(student_years: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Students by grade (rows, labelled PK, K, 1 ...) and school year, small cells set to 0."""
    counts = students_by(student_years, "grade_level", "school_year")
    counts.index = [grade_label(g) for g in counts.index]
    counts.columns = [year_label(y) for y in counts.columns]
    counts.columns.name = "School year"
    return counts.mask(small_cells(counts, min_n=min_n), 0)


def by_grade_alt(counts: pd.DataFrame, min_n: int = 10) -> str:
    """Alt text stating what the students-by-grade chart shows; a count under ``min_n`` reads "fewer than".

    >>> by_grade_alt(pd.DataFrame({2025: [3, 40]}, index=["K", "1"]))
    'Bar chart of students by grade for each school year. Grades hold between fewer than 10 and 40 students; in 2025 the largest grade is 1 with 40 students.'
    """
    latest = counts.columns[-1]
    largest = counts[latest].idxmax()
    say = lambda n: f"fewer than {min_n}" if 0 < n < min_n else f"{n:,}"  # noqa: E731  (the chart's own rule)
    return (
        f"Bar chart of students by grade for each school year. Grades hold between "
        f"{say(int(counts.values.min()))} and {say(int(counts.values.max()))} students; in {latest} the "
        f"largest grade is {largest} with {say(int(counts[latest].max()))} students."
    )


def _withheld(table: pd.DataFrame, min_n: int) -> pd.Series:
    """Groups to withhold: small ones, and within each subgroup a second one where the
    total (all students) would otherwise give a lone small group away."""
    parts = []
    for _, part in table.groupby("subgroup", sort=False):  # one per subgroup column
        mask = suppress(part[["n"]].astype("int64"), min_n=min_n)["n"]
        parts.append(mask)
    return pd.concat(parts).reindex(table.index)


def composition_table(student_years: pd.DataFrame, students: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Published composition of the latest year: n and share, small groups withheld."""
    latest = student_years["school_year"].max()
    table = composition(student_years, students, latest)
    hidden = _withheld(table, min_n)
    return table.assign(
        n=table["n"].astype("string").mask(hidden, f"<{min_n}").mask(hidden & (table["n"] >= min_n), "withheld"),
        share=table["share"].map("{:.1%}".format).mask(hidden, "suppressed"),
    )


def composition_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`composition_table` as people read it: subgroups by display name, coded flags as Yes/No.

    The published table keeps the column names (``race_ethnicity``) that every other table uses,
    so the disclosure audit and other tools can tie its groups to theirs.
    """
    return table.assign(subgroup=table["subgroup"].map(display_name),
                        group=[display_value(s, g) for s, g in zip(table["subgroup"], table["group"])])


def composition_alt(table: pd.DataFrame) -> str:
    """Alt text naming the largest race/ethnicity group and the flagged-subgroup shares."""
    shown = composition_display(table[table["share"] != "suppressed"])
    race = shown[shown["subgroup"] == display_name("race_ethnicity")]
    parts = []
    if len(race):
        top = race.loc[race["share"].str.rstrip("%").astype(float).idxmax()]
        parts.append(f"the largest race/ethnicity group is {top['group']} ({top['share']})")
    yes = shown[shown["group"] == "Yes"]
    parts += [f"{row.subgroup}: {row.share}" for row in yes.itertuples()]
    return "Bar charts of the share of students in each subgroup; " + "; ".join(parts) + "."


def composition_shares(student_years: pd.DataFrame, students: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Shares for the composition chart: every group of the many-valued subgroups, and
    one bar per yes/no subgroup (the share marked Yes). Withheld groups are drawn as 0.
    """
    latest = student_years["school_year"].max()
    table = composition(student_years, students, latest)
    table["share"] = table["share"].mask(_withheld(table, min_n), 0.0)
    flags = table["subgroup"].isin(SUBGROUP_FLAGS)
    yes = table[flags & (table["group"] == "Yes")].assign(
        group=lambda t: t["subgroup"].map(display_name),
        subgroup="Programs and statuses (share marked Yes)")
    many = table[~flags].assign(subgroup=lambda t: t["subgroup"].map(display_name),
                                group=lambda t: [display_value(s, g) for s, g in zip(t["subgroup"], t["group"])])
    return pd.concat([many, yes], ignore_index=True)


def notes_markdown(district) -> str:
    """The loader's notes (values filled as Unknown, extra columns ignored) as a list.

    Notes quote values from the district's files, so each is escaped: it shows as
    written and never as markup or a link.
    """
    if not district.notes:
        return "No values were filled in or ignored while loading."
    return "Notes from loading the data:\n\n" + "\n".join(f"- {inert_markdown(note)}" for note in district.notes)


def ledger_table(district) -> pd.DataFrame:
    """The row ledger as shown in the report: Yes/No for provided, blanks for absent files."""
    ledger = district.ledger.copy()
    ledger["provided"] = ledger["provided"].map({True: "Yes", False: "No"})
    return ledger.fillna({"file": "—"})


def analyses_table(district) -> pd.DataFrame:
    """Every analysis of the audit, whether it runs on this district, and if not what it lacks.

    The data-overview section publishes it, so a reader sees at once what the
    report covers and what more data would add.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> district = SimpleNamespace(tables={"students": pd.DataFrame(columns=["student_id"]),
    ...                                    "enrollments": pd.DataFrame()})
    >>> table = analyses_table(district)
    >>> table.loc[table["Analysis"] == "Climate survey", "Missing"].item()
    'survey'
    """
    table = availability(district.tables)
    return pd.DataFrame({
        "Section": table["section"].str.split("_", n=1).str[1].str.replace("_", " ").str.capitalize(),
        "Analysis": table["analysis"],
        "Runs": table["runs"].map({True: "Yes", False: "No"}),
        "Missing": table["missing"],
        "What it shows": table["what_it_shows"],
    })


def levels(district, config=None) -> pd.DataFrame:
    """The district's dated performance levels: as provided, or derived from evidence.

    ``levels`` when the district provided it, else levels derived from
    ``evidence`` and ``standards`` (:func:`equity_audit.pace.levels_from_evidence`).

    Examples
    --------
    >>> levels(district)  # doctest: +SKIP
    """
    if "levels" in district.tables:
        return district.tables["levels"]
    config = config or Config()
    return levels_from_evidence(district.tables["evidence"], district.tables["standards"],
                                proficient_score=config.proficient_score)
