"""The workshop explorer without a browser: the pure view, the widgets' callbacks and the notes export."""
from __future__ import annotations

import re
from datetime import datetime

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from equity_audit.app import widgets
from equity_audit.config import Config
from equity_audit.disaggregate import disaggregate
from equity_audit.data.load import load_district
from equity_audit.app.widgets import ALL_DOMAINS, ALL_SCHOOLS, METRICS, Explorer, build_facts, view

from conftest import BUNDLED

INTERVAL_COLUMNS = {"Subgroup", "Group", "Students", "Value", "95% interval", "Others", "Difference", "Closer look"}


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    return build_facts(load_district(BUNDLED))


@pytest.fixture
def explorer(facts, tmp_path) -> Explorer:
    return Explorer(facts, Config(), title="Synthetic district", notes_dir=tmp_path / "workshop_notes")


def _withheld_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["Value"] == "withheld"]


def test_facts_hold_every_metric_once_per_student_year_and_domain(facts):
    assert set(widgets.available_metrics(facts)) == set(METRICS)
    assert not facts.duplicated(["student_id", "school_year", "domain"]).any()
    assert {ALL_DOMAINS, "ela", "math"} == set(facts["domain"])
    overall = facts[facts["domain"] == ALL_DOMAINS]
    assert overall["any_exclusion"].isin([0, 1]).all()
    # unmet need is defined only for students below pace or two or more levels behind
    math = facts[facts["domain"] == "math"]
    assert math["unmet_need"].notna().sum() < math["pace"].notna().sum()


@pytest.mark.parametrize("metric", list(METRICS))
# The intersection crosses two broad groups, so that every metric (unmet need counts only the
# students who need more support) has cells over min_n to show; withholding is tested below.
@pytest.mark.parametrize("by", [["race_ethnicity"], ["gender", "low_income"], ["school"]],
                         ids=["subgroup", "intersection", "school"])
def test_view_gives_the_report_table_for_every_metric(facts, metric, by):
    table, figure, alt = view(facts, metric=metric, by=by, min_n=10)
    assert INTERVAL_COLUMNS <= set(table.columns)
    # n is shown, "fewer than 10" for a small group, "withheld" for one withheld to protect a small one
    assert len(table) > 1 and table["Students"].str.fullmatch(r"\d+|fewer than 10|withheld").all()
    shown = table[table["Value"].str.fullmatch(r"-?[\d.]+%?")]
    assert len(shown) and shown["95% interval"].str.contains(" to ").all()
    assert (shown["Students"].str.fullmatch(r"\d+").all() and
            (shown["Students"].astype(int) >= 10).all())
    assert isinstance(figure, plt.Figure) and alt
    plt.close(figure)


def test_small_groups_are_withheld_with_no_number(facts):
    smallest = facts["school"].value_counts().idxmin()  # the school where crossed groups are smallest
    result = view(facts, metric="pace", domain="math", school=smallest, by=["race_ethnicity", "disability"],
                  min_n=10)
    withheld = _withheld_rows(result.table)
    assert len(withheld) > 0
    assert set(withheld["Students"]) <= {"fewer than 10", "withheld"}
    assert (withheld[["Value", "95% interval", "Others", "Difference"]] == "withheld").all().all()
    assert result.data.loc[result.data["suppressed"], ["estimate", "low", "high"]].isna().all().all()
    assert "withheld" in result.caption


def test_view_uses_the_report_engine_on_the_chosen_rows(facts):
    year = int(facts["school_year"].max())
    rows = facts[(facts["domain"] == ALL_DOMAINS) & (facts["school_year"] == year)]
    expected = disaggregate(rows, "any_exclusion", by=["race_ethnicity"], min_n=10)
    result = view(facts, metric="discipline", by="race_ethnicity", min_n=10)
    merged = result.data.merge(expected.assign(group=expected["race_ethnicity"].astype(str)), on="group")
    assert len(merged) == len(result.data)
    assert (merged["n_x"] == merged["n_y"]).all()
    pd.testing.assert_series_equal(merged["estimate_x"], merged["estimate_y"], check_names=False)


def test_a_larger_minimum_withholds_more(facts):
    small = view(facts, metric="access", by="race_ethnicity", min_n=10)
    large = view(facts, metric="access", by="race_ethnicity", min_n=200)
    assert len(_withheld_rows(large.table)) > len(_withheld_rows(small.table))
    assert "fewer than 200" in set(large.table["Students"])


def test_domain_school_and_year_filter_the_rows(facts):
    math = view(facts, metric="pace", domain="math", by="gender").data
    ela = view(facts, metric="pace", domain="ela", by="gender").data
    assert not math["estimate"].equals(ela["estimate"])
    one_school = view(facts, metric="levels_behind", school="Riverside High", by="gender").data
    everyone = view(facts, metric="levels_behind", by="gender").data
    assert one_school["n"].sum() < everyone["n"].sum()
    first = int(facts["school_year"].min())
    earlier = view(facts, metric="discipline", year=first, by="gender")
    assert "2023-24" in earlier.caption or str(first - 1) in earlier.caption
    # discipline is counted per student and year, so the domain does not change it
    assert view(facts, metric="discipline", domain="math", by="gender").data.equals(
        view(facts, metric="discipline", by="gender").data)


def test_view_rejects_three_subgroups(facts):
    with pytest.raises(ValueError, match="two"):
        view(facts, metric="pace", by=["gender", "disability", "low_income"])


def test_explorer_renders_the_first_view(explorer):
    assert explorer.current is not None
    assert "Pace" in explorer.caption.value
    assert "<table" in explorer.table.value and "95% interval" in explorer.table.value
    assert 'alt="Dot chart' in explorer.chart.value
    assert "What do you notice? What do you wonder?" in explorer.prompts.value


def test_changing_a_dropdown_updates_the_view(explorer):
    before_caption, before_table = explorer.caption.value, explorer.table.value
    explorer.metric.value = "discipline"
    assert explorer.caption.value != before_caption and "Discipline" in explorer.caption.value
    assert explorer.table.value != before_table
    assert explorer.domain.disabled  # discipline is not by domain
    assert "removal" in explorer.prompts.value
    explorer.metric.value = "unmet_need"
    assert not explorer.domain.disabled
    explorer.school.value = "Birch Elementary"
    assert "Birch Elementary" in explorer.caption.value
    explorer.choose("race_ethnicity", "english_learner")
    assert "Race/ethnicity × English learner" in explorer.caption.value
    assert explorer.current.table["Subgroup"].eq("Race/ethnicity × English learner").all()


def test_two_ticked_groups_leave_the_other_boxes_waiting(explorer):
    explorer.groups["english_learner"].value = True
    assert explorer.chosen_groups() == ["race_ethnicity", "english_learner"]
    assert explorer.groups["disability"].disabled and not explorer.groups["race_ethnicity"].disabled
    explorer.groups["race_ethnicity"].value = False
    assert not explorer.groups["disability"].disabled
    assert explorer.current.table["Subgroup"].eq("English learner").all()
    with pytest.raises(ValueError, match="two"):
        explorer.choose("race_ethnicity", "english_learner", "disability")


def test_no_student_id_reaches_the_page(explorer, facts):
    ids = set(facts["student_id"].astype(str))
    for metric in widgets.available_metrics(facts):
        explorer.metric.value = metric
        words = set(re.findall(r"[\w\-]+", explorer.table.value + explorer.caption.value + explorer.chart.value))
        assert not words & ids


def test_saving_notes_writes_markdown_with_the_selection(explorer, tmp_path):
    explorer.metric.value = "access"
    explorer.notes.value = "We notice access to Level-4 work differs by school.\nWe wonder who decides."
    explorer.save.click()
    path = explorer.last_saved
    assert path is not None and path.parent == tmp_path / "workshop_notes" and path.suffix == ".md"
    text = path.read_text()
    assert "Access: Level-4 work" in text and "We wonder who decides." in text
    assert "School year: " in text and "Smallest group shown: 10 students" in text
    assert "| Subgroup | Group | Students |" in text
    assert str(path) in explorer.saved.value
    assert not set(re.findall(r"S\d{5}", text))


def test_notes_naming_a_student_are_refused(explorer, facts):
    explorer.notes.value = f"Talk to {facts['student_id'].iloc[0]}'s teacher"
    assert explorer.export() is None
    assert "Not saved" in explorer.saved.value
    assert not (explorer.notes_dir.exists() and any(explorer.notes_dir.iterdir()))


def test_export_notes_never_overwrites(tmp_path):
    when = datetime(2026, 3, 4, 15, 30, 0)
    first = widgets.export_notes("one", {"Metric": "Pace"}, tmp_path, now=when)
    second = widgets.export_notes("two", {"Metric": "Pace"}, tmp_path, now=when)
    assert first.name == "notes-2026-03-04-153000.md" and second != first
    assert "- Metric: Pace" in first.read_text() and "two" in second.read_text()


def test_notes_folder_defaults_beside_the_data(tmp_path):
    data = tmp_path / "district"
    data.mkdir()
    assert widgets.notes_folder(data) == tmp_path / "workshop_notes"
    assert widgets.notes_folder(data, tmp_path / "elsewhere") == tmp_path / "elsewhere" / "workshop_notes"


def test_caption_names_the_selection():
    text = widgets.caption("grades", domain="math", school=ALL_SCHOOLS, year=2026, by=["gender", "disability"],
                           min_n=12)
    assert text == ("Grades against evidence in Math at all schools in 2025-26, by Gender × Disability; "
                    "groups under 12 students are withheld")


def test_workshop_command_without_voila_says_how_to_install(monkeypatch, tmp_path, capsys):
    import importlib.util

    from equity_audit.app.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "voila" else real(name, *a))
    assert main(["workshop", "--data", str(BUNDLED), "--no-browser"]) == 2
    assert "pip install 'equity-audit[workshop]'" in capsys.readouterr().err


def test_workshop_command_checks_the_data_first(tmp_path, capsys):
    from equity_audit.app.cli import main

    assert main(["workshop", "--data", str(tmp_path / "missing"), "--no-browser"]) == 2
    assert capsys.readouterr().err.startswith("equity-audit: ")


def test_notes_are_written_inert_and_ids_are_found_in_any_case(tmp_path):
    notes = '<img src=x onerror="alert(1)"> see [here](javascript:alert(1)) about s00012'
    path = widgets.export_notes(notes, {"School": "<b>Birch</b>"}, tmp_path,
                                table=pd.DataFrame({"Group": ["<script>x</script>"], "n": [12]}))
    text = path.read_text()
    assert "<img" not in text and "<b>" not in text and "<script>" not in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text) and "&lt;img" in text
    assert widgets.student_ids_in(notes, ["S00012", "S00099"]) == ["S00012"]


def test_workshop_kernels_are_capped():
    import asyncio

    tornado_web = pytest.importorskip("tornado.web")
    pytest.importorskip("jupyter_server")
    from equity_audit.app.workshop_kernels import CappedKernelManager

    manager = CappedKernelManager(max_kernels=0)
    with pytest.raises(tornado_web.HTTPError) as full:
        asyncio.run(manager.start_kernel())
    assert full.value.status_code == 503 and "0 pages" in full.value.log_message


# ---- facilitator controls: tick boxes, year by year, presenter mode, words (issue 15 item 8)

def _own_facts(events_yes: int, events_no: int, years=(2026,)) -> pd.DataFrame:
    """100 students a year in each of two groups, with the given numbers of exclusions."""
    frames = []
    for year in years:
        frames.append(pd.DataFrame({
            "student_id": [f"x{year}-{i}" for i in range(200)], "school_year": year, "domain": ALL_DOMAINS,
            "school": "North", "low_income": ["Yes"] * 100 + ["No"] * 100,
            "gender": ["A", "B"] * 100,
            "any_exclusion": [1] * events_yes + [0] * (100 - events_yes) + [1] * events_no + [0] * (100 - events_no)}))
    return pd.concat(frames, ignore_index=True)


def test_a_small_count_behind_a_share_is_not_shown_nor_given_back_by_the_others_column():
    table = view(_own_facts(3, 30), metric="discipline", by="low_income", min_n=10).table.set_index("Group")
    assert table.loc["Yes", "Value"] == "fewer than 10 students"
    assert (table.loc["Yes", ["95% interval", "Others", "Difference"]] == "withheld").all()
    # the other group's "others" value would be 3 of 100: withheld too
    assert table.loc["No", "Value"] == "30%" and table.loc["No", "Others"] == "withheld"
    assert table.loc["No", "Students"] == "100"


def test_ticked_groups_reach_the_view(explorer, facts):
    explorer.groups["gender"].value = True  # race/ethnicity is ticked when the explorer opens
    assert explorer.chosen_groups() == ["race_ethnicity", "gender"]
    expected = view(facts, metric=explorer.metric.value, year=explorer.year.value, by=["race_ethnicity", "gender"])
    pd.testing.assert_frame_equal(explorer.current.table, expected.table)
    assert "by Race/ethnicity × Gender" in explorer.caption.value
    plt.close(expected.figure)
    explorer.choose("low_income")
    assert explorer.current.table["Subgroup"].eq("Low income").all()
    assert [box.value for box in explorer.groups.values()].count(True) == 1


def test_year_view_shows_each_year_through_the_gate(facts):
    from equity_audit.publish.release import protect

    result = widgets.by_year(facts, metric="discipline", by="race_ethnicity", min_n=10)
    years = sorted(facts["school_year"].unique())
    labels = [f"{y - 1}-{str(y)[-2:]}" for y in years]
    assert list(result.table.columns) == ["Group", *labels]
    assert f"from {labels[0]} to {labels[-1]}" in result.caption
    long = result.data.set_index(["School year", "Group"])
    for year, name in zip(years, labels):
        rows = facts[(facts["domain"] == ALL_DOMAINS) & (facts["school_year"] == year)]
        engine = disaggregate(rows, "any_exclusion", by=["race_ethnicity"], min_n=10)
        gated = protect(engine, min_n=10).assign(group=engine["race_ethnicity"].astype(str))
        for row in gated.itertuples():
            shown = long.loc[(name, row.group)]
            if row.status in ("small_n", "complementary"):
                assert shown["Students"] in ("fewer than 10", "withheld") and shown["Value"] == "withheld"
            elif pd.isna(row.estimate):  # a small count or a coded share: no number
                assert not re.fullmatch(r"[\d.]+%", shown["Value"]) and shown["95% interval"] == "withheld"
            else:
                assert shown["Value"] == widgets.fmt_value(row.estimate, percent=True)
                assert shown["Students"] == str(row.n)
    # a group withheld in every year has no line in the chart
    always = result.table.loc[result.table[labels].eq("withheld").all(axis=1), "Group"]
    legend = {text.get_text() for text in result.figure.axes[0].get_legend().get_texts()}
    assert len(always) and not legend & set(always) and legend
    assert not any(group in result.alt for group in always)
    plt.close(result.figure)


def test_year_view_withholds_a_group_in_the_year_it_is_small():
    facts = pd.concat([_own_facts(20, 30, years=(2025,)),
                       _own_facts(20, 30, years=(2026,)).iloc[list(range(5)) + list(range(100, 200))]])
    result = widgets.by_year(facts, metric="discipline", by="low_income", min_n=10)
    row = result.table.set_index("Group").loc["Yes"]
    assert row["2024-25"] == "20% (100 students)" and row["2025-26"] == "withheld"
    assert result.data.set_index(["School year", "Group"]).loc[("2025-26", "Yes"), "Students"] == "fewer than 10"
    plt.close(result.figure)


def test_the_explorer_switches_to_year_by_year(explorer):
    explorer.period.value = "trend"
    assert explorer.year.disabled and "each school year from" in explorer.caption.value
    assert "Line chart" in explorer.chart.value and "<table" in explorer.table.value
    assert widgets.year_label(int(explorer.facts["school_year"].max())) in explorer.current.table.columns
    assert explorer.selection_words()["School year"] == "each year"
    explorer.period.value = "year"
    assert not explorer.year.disabled and "Dot chart" in explorer.chart.value


def test_presenter_mode_hides_the_notes_box(explorer):
    page = explorer.widget()
    assert explorer.notes_box in page.children and explorer.notes in explorer.notes_box.children
    explorer.presenter.value = True
    assert explorer.notes_box.layout.display == "none"
    explorer.presenter.value = False
    assert explorer.notes_box.layout.display != "none"


# "none" is English ("had none"); Python's None is not
DEVELOPER_WORDS = re.compile(r"DataFrame|\bnan\b|(?-i:\bNone\b)|subgroup_col|dtype|\bmetrics?\b|\bdomains?\b|"
                             r"\w+_\w+|Traceback", re.IGNORECASE)


def _visible_words(explorer) -> list[str]:
    """Every label and text a facilitator reads (the chart's picture itself excluded, its alt text kept)."""
    controls = [explorer.metric, explorer.domain, explorer.school, explorer.year, explorer.period]
    words = [c.description for c in controls] + [str(label) for c in controls for label, _ in
                                                 ([(o, o) if isinstance(o, str) else o for o in c.options])]
    words += [box.description for box in explorer.groups.values()] + [explorer.presenter.description,
                                                                       explorer.save.description,
                                                                       explorer.notes.placeholder]
    page = explorer.widget()
    html_texts = [child.value for child in (page.children[0], explorer.by.children[0],
                                            explorer.notes_box.children[0])]
    html_texts += [explorer.message.value, explorer.caption.value, explorer.table.value, explorer.prompts.value]
    html_texts.append(re.search(r'alt="([^"]*)"', explorer.chart.value).group(1))
    return words + [re.sub(r"<style>.*?</style>|<[^>]+>|\bclass=\S+", " ", text, flags=re.S) for text in html_texts]


@pytest.mark.parametrize("period", ["year", "trend"])
def test_no_developer_words_in_what_the_facilitator_reads(explorer, period):
    explorer.period.value = period
    for metric in ("pace", "discipline"):
        explorer.metric.value = metric
        for chosen in (("race_ethnicity",), ("english_learner", "low_income")):
            explorer.choose(*chosen)
            found = {m.group(0) for text in _visible_words(explorer) for m in DEVELOPER_WORDS.finditer(text)}
            assert not found, found


def test_the_explorer_is_sized_for_a_projector(explorer):
    style = explorer.widget().children[0].value
    body = re.search(r"\.ea-explorer \{[^}]*font-size: (\d+)px", style)
    heading = re.search(r"\.ea-explorer h2 \{[^}]*font-size: (\d+)px", style)
    assert int(body.group(1)) >= 18 and int(heading.group(1)) > int(body.group(1))
    assert "ea-explorer" in explorer.widget()._dom_classes
