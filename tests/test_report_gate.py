"""What the report shows passes the release gate: tables, figures, alt text.

A by-subgroup table with a shown group, a small group (withheld), a group
withheld to protect it (complementary) and a share coded at the top goes
through ``show_table`` and every chart. No withheld value, no interval of the
coded share and no count from 1 to ``min_n - 1`` may reach what a reader sees.
"""
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from matplotlib.text import Text

from equity_audit.publish import narrative, plots, report

matplotlib.use("Agg")

MIN_N = 10
HOSTILE = r"$\undefinedcmd$ Academy"


@pytest.fixture
def table():
    """Values chosen to be recognisable when printed ("47%", "n=7", "81%")."""
    return pd.DataFrame({
        "subgroup": "race_ethnicity",
        "group": ["Shown", "Small", "Protecting", "Coded"],
        "n": [120, 7, 45, 40],
        "estimate": [0.263, 0.471, 0.572, 1.0],
        "low": [0.187, 0.243, 0.425, 0.813],
        "high": [0.351, 0.714, 0.706, 1.0],
        "comparator_n": [92, 205, 167, 172],
        "comparator_estimate": [0.336, 0.289, 0.237, 0.228],
        "difference": [-0.073, 0.182, 0.335, 0.772],
        "statistic": "rate",
        "suppressed": [False, True, True, False],
        "flagged": [False, True, True, True],
    })


# what must never be seen: the withheld groups' values and n, the coded share's interval and comparison
FORBIDDEN = ("47%", "24%", "71%", "57%", "43%", "n=7", "n=45", "81%", "23%", "+77", "77 pts", "0.47", "0.57",
             "0.81", "0.23")


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def drawn_numbers(fig) -> np.ndarray:
    """Every x and y a line or marker of the figure stands at."""
    values = []
    for line in fig.findobj(matplotlib.lines.Line2D):
        values += list(np.asarray(line.get_xdata(), dtype=float).ravel())
        values += list(np.asarray(line.get_ydata(), dtype=float).ravel())
    for collection in fig.findobj(matplotlib.collections.Collection):
        values += list(np.asarray(collection.get_offsets(), dtype=float).ravel())
    return np.asarray(values, dtype=float)


def assert_nothing_withheld(strings, forbidden=FORBIDDEN):
    joined = "\n".join(strings)
    leaked = [word for word in forbidden if word in joined]
    assert not leaked, f"{leaked} in {joined!r}"


def assert_not_drawn(fig, values):
    drawn = drawn_numbers(fig)
    for value in values:
        assert not np.isclose(drawn, value, atol=1e-9).any(), f"{value} is drawn"


# --------------------------------------------------------------------------- charts


def test_forest_draws_only_released_values(table):
    fig = plots.forest(table, group="group", facet="subgroup", percent=True, min_n=MIN_N, xlabel="Share")
    shown = texts(fig)
    assert_nothing_withheld(shown)
    assert "withheld (n<10)" in shown and "withheld" in shown and "≥ 95%" in shown
    assert "withheld to protect fewer than 10 students" in shown, "the legend: not only small groups are withheld"
    assert_not_drawn(fig, [0.471, 0.572, 0.243, 0.714, 0.425, 0.706, 0.813])
    assert np.isclose(drawn_numbers(fig), 0.263).any(), "the shown group is drawn"
    plt.close(fig)


def test_a_column_the_joint_audit_withheld_leaves_its_row_drawn_and_described(table):
    """``audit:n_missing`` withholds a shown row's n_missing only (as the released table does): the
    chart still draws the row and the alt text may name it; the row withheld by the audit does not."""
    audited = table.assign(n_missing=[12, 0, 0, 0], status=["audit:n_missing", "small_n", "complementary", ""])
    fig = plots.forest(audited, group="group", facet="subgroup", percent=True, min_n=MIN_N, xlabel="Share")
    assert np.isclose(drawn_numbers(fig), 0.263).any(), "the row with a withheld n_missing is drawn"
    assert texts(fig).count("withheld") + texts(fig).count("withheld (n<10)") == 2
    plt.close(fig)
    alt = narrative.forest_alt(audited, "the share", percent=True, reference=0.3, min_n=MIN_N)
    assert "26%" in alt
    withheld = audited.assign(status=["audit", "small_n", "complementary", ""])
    fig = plots.forest(withheld, group="group", facet="subgroup", percent=True, min_n=MIN_N, xlabel="Share")
    assert not np.isclose(drawn_numbers(fig), 0.263).any()
    plt.close(fig)


def test_a_code_at_the_right_edge_of_its_panel_is_written_inside_it():
    # a bottom-coded share whose bound is the panel's right edge was written over the n column
    # ("≤ 10%" and "n=21" read "≤ 10921")
    fig, ax = plt.subplots(figsize=(4, 1))
    ax.set_xlim(0, 0.1)
    plots._coded_mark(ax, 0.0, "≤ 10%", {"color": "C0"})
    renderer = fig.canvas.get_renderer()
    code = next(t for t in ax.texts if t.get_gid() == "code")
    assert code.get_window_extent(renderer).x1 > ax.get_window_extent(renderer).x1, "drawn past the edge first"
    plots._codes_inside([ax])
    assert code.get_window_extent(renderer).x1 <= ax.get_window_extent(renderer).x1
    assert code.get_text() == "≤ 10%"
    plt.close(fig)


def test_rate_heatmap_draws_only_released_values(table):
    cells = table.assign(race=["A", "A", "B", "B"], el=["No", "Yes", "No", "Yes"])
    fig = plots.rate_heatmap(cells, rows="race", columns="el", min_n=MIN_N)
    shown = texts(fig)
    assert_nothing_withheld(shown)
    assert any(t.startswith("≥ 95%") for t in shown) and "n<10" in shown and "withheld" in shown
    coloured = fig.axes[0].collections[0].get_array()
    assert np.ma.count(coloured) == 1, "only the shown cell is coloured by its value"
    plt.close(fig)


def test_rate_heatmap_of_differences_hides_the_coded_difference(table):
    cells = table.assign(race=["A", "A", "B", "B"], el=["No", "Yes", "No", "Yes"])
    fig = plots.rate_heatmap(cells, rows="race", columns="el", value="difference", center=0.0, min_n=MIN_N)
    assert_nothing_withheld(texts(fig))
    plt.close(fig)


def test_funnel_draws_coded_units_at_their_bound_and_leaves_withheld_ones_off():
    scan = pd.DataFrame({"school": ["Big", "Small", "Protecting", "Coded", "Other"],
                         "n": [400, 6, 45, 40, 300], "rate": [0.25, 0.5, 0.613, 0.0, 0.2],
                         "suppressed": [False, True, True, False, False],
                         "closer_look": [False, False, True, False, False]})
    scan.attrs.update(target=0.22, tau2_used=0.0, z=(1.96, 3.09))
    fig = plots.funnel(scan, label="school", ylabel="Rate", min_n=MIN_N)
    assert_not_drawn(fig, [0.613, 0.5])
    offsets = np.concatenate([c.get_offsets() for c in fig.axes[0].collections if c.get_gid() == "coded"])
    assert offsets.tolist() == [[40.0, 0.05]], "the coded school is drawn at its code, 5%"
    note = fig.texts[0].get_text()
    assert "1 school with fewer than 10 students" in note and "1 more school withheld" in note
    plt.close(fig)


def test_quantile_boxes_draw_no_withheld_group():
    q = pd.DataFrame({"group": ["Shown", "Protecting"], "n": [80, 55], "suppressed": [False, True],
                      "q05": [0.1, 0.11], "q25": [0.5, 0.57], "q50": [1.0, 1.13], "q75": [2.0, 2.17],
                      "q95": [3.0, 3.19]})
    fig = plots.quantile_boxes(q, group="group", xlabel="Levels", min_n=MIN_N)
    assert_not_drawn(fig, [0.11, 0.57, 1.13, 2.17, 3.19])
    assert "n=55" not in texts(fig) and "withheld" in texts(fig)
    plt.close(fig)


def test_count_heatmap_and_grouped_bars_show_no_small_count():
    counts = pd.DataFrame({"on pace": [120, 40], "below pace": [35, 3]}, index=["0-1 behind", "2+ behind"])
    fig = plots.count_heatmap(counts, min_n=MIN_N, xlabel="Pace", ylabel="Behind")
    assert "3" not in texts(fig) and "<10" in texts(fig)
    plt.close(fig)
    fig = plots.grouped_bars(counts, xlabel="Band", ylabel="Students", min_n=MIN_N)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert 3 not in heights and "<10" in texts(fig)
    plt.close(fig)


def test_share_bars_label_withheld_groups_without_a_value():
    shares = pd.DataFrame({"subgroup": "race", "group": ["A", "B", "C"], "n": [300, 4, 40],
                           "share": [0.87, 0.0116, 0.0]})  # C: withheld by the caller, drawn as 0
    fig = plots.share_bars(shares, min_n=MIN_N)
    shown = texts(fig)
    assert "87%" in shown and shown.count("withheld") == 2 and "1%" not in shown and "0%" not in shown
    plt.close(fig)


# --------------------------------------------------------------------------- mathtext


@pytest.mark.parametrize("draw", [
    lambda t: plots.forest(t, group="group", facet="subgroup", xlabel="x", min_n=MIN_N),
    lambda t: plots.rate_heatmap(t.assign(c="Yes"), rows="group", columns="c", min_n=MIN_N),
    lambda t: plots.share_bars(t.assign(share=0.5)),
    lambda t: plots.quantile_boxes(t.assign(q05=0.1, q25=0.2, q50=0.3, q75=0.4, q95=0.5), group="group",
                                   xlabel="x", min_n=MIN_N),
    lambda t: plots.grouped_bars(pd.DataFrame({"2025": [30, 40]}, index=t["group"].iloc[:2]), xlabel="x",
                                 ylabel="y"),
    lambda t: plots.count_heatmap(pd.DataFrame({"a": [30, 40]}, index=t["group"].iloc[:2]), xlabel="x",
                                  ylabel="y"),
], ids=["forest", "rate_heatmap", "share_bars", "quantile_boxes", "grouped_bars", "count_heatmap"])
def test_dollar_signs_in_names_print_literally(table, draw, tmp_path):
    # without the theme: the functions themselves keep data text literal
    named = table.assign(group=[HOSTILE, "B$x$", "C", "D"], subgroup=HOSTILE)
    fig = draw(named)
    report.save_figure(fig, tmp_path / "f.png")  # mathtext would fail on \undefinedcmd
    labels = [t for t in fig.findobj(Text) if "$" in t.get_text()]
    assert labels and not any(t.get_parse_math() for t in labels)
    plt.close(fig)


def test_funnel_names_with_dollar_signs(tmp_path):
    scan = pd.DataFrame({"school": [HOSTILE, "B"], "n": [400, 300], "rate": [0.6, 0.2]})
    scan.attrs.update(target=0.22, tau2_used=0.0, z=(1.96, 3.09))
    fig = plots.funnel(scan, label="school", ylabel="Rate", min_n=MIN_N)
    report.save_figure(fig, tmp_path / "f.png")
    assert HOSTILE.replace("_", " ") in texts(fig)
    plt.close(fig)


def test_theme_turns_mathtext_off():
    with plt.rc_context():
        plots.theme()
        assert plt.rcParams["text.parse_math"] is False


# --------------------------------------------------------------------------- tables


@pytest.fixture
def shown_html(monkeypatch):
    """The HTML show_table would put in the notebook."""
    out = []
    monkeypatch.setattr(report, "display", lambda obj, **_: out.append(getattr(obj, "data", obj)))
    return out


def cells_of(html: str) -> list[list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    return [[td.get_text() for td in tr.find_all("td")] for tr in soup.find_all("tr") if tr.find_all("td")]


def test_show_table_of_a_display_table_hides_withheld_rows_and_coded_intervals(table, shown_html):
    report.show_table(narrative.display_table(table, percent=True, min_n=MIN_N), caption="c", min_n=MIN_N)
    rows = cells_of(shown_html[0])
    assert_nothing_withheld([" | ".join(r) for r in rows])
    coded = next(r for r in rows if r[1] == "Coded")
    assert coded[3] == "≥ 95%" and coded[4:7] == ["withheld", "withheld", "withheld"]
    small = next(r for r in rows if r[1] == "Small")
    assert small[2] == "fewer than 10" and set(small[3:7]) == {"withheld"}


def test_show_table_of_a_computed_table_applies_protect(table, shown_html):
    report.show_table(table.assign(focus_events=[31, 2, 20, 40]), caption="c", min_n=MIN_N)
    rows = cells_of(shown_html[0])
    assert_nothing_withheld([" | ".join(r) for r in rows], FORBIDDEN + ("0.813", "0.228", "0.772"))
    coded = next(r for r in rows if r[1] == "Coded")
    assert "≥ 95%" in coded
    small = next(r for r in rows if r[1] == "Small")
    assert "fewer than 10" in small and "2" not in small


def test_show_table_reads_min_n_from_codes_and_blanks_small_counts(shown_html):
    counts = pd.DataFrame({"school": ["East", "West"], "2024-25": ["40", "<20"], "2025-26": ["12", "55"]})
    report.show_table(counts, caption="c")
    rows = cells_of(shown_html[0])
    assert rows == [["East", "40", "fewer than 20"], ["West", "fewer than 20", "55"]]


def test_show_table_leaves_the_row_ledger_as_it_is(shown_html):
    ledger = pd.DataFrame({"table": ["students"], "rows_read": [500], "rows_excluded": [3]})
    report.show_table(ledger, caption="c", name="ledger")
    assert cells_of(shown_html[0]) == [["students", "500", "3"]]


# --------------------------------------------------------------------------- alt text


def test_alt_texts_state_only_released_values(table):
    forest = narrative.forest_alt(table, "the share", percent=True, reference=0.3)
    cells = table.assign(race=["A", "A", "B", "B"], el=["No", "Yes", "No", "Yes"])
    heat = narrative.heatmap_alt(cells, "race", "el", "the share", percent=True)
    assert_nothing_withheld([forest, heat])
    assert "≥ 95%" in forest and "≥ 95%" in heat
    assert "Protecting" not in forest, "a withheld group is not named as differing"


def test_quadrant_alt_gives_no_small_count_back():
    counts = pd.DataFrame({"under 0.5": [50, 4], "0.5 to 1.0": [60, 30], "1.0 and over": [200, 80]},
                          index=["0-1 levels behind", "2+ levels behind"])
    alt = narrative.quadrant_alt(counts, MIN_N)
    assert "34" not in alt and "424" not in alt and "More than 30" in alt


# --------------------------------------------------------------------------- the bundled run


_CODE = re.compile(r"^\s*[≥≤]\s*[\d.]+\s*%?\s*$")
_SMALL_COUNT = re.compile(r"^\s*[1-9]\s*$")


def test_report_tables_show_no_withheld_value(demo_run):
    """Every table in report.html: a withheld row carries no number outside its labels; a coded
    share's row no interval, comparison or difference; no count column holds 1 to 9."""
    soup = BeautifulSoup((demo_run / "report.html").read_text(), "html.parser")
    tables = soup.select("table.audit-table")
    assert tables
    checked = {"withheld": 0, "coded": 0}
    for html_table in tables:
        header = [th.get_text(strip=True) for th in html_table.select("thead th")]
        if header[:2] == ["Table", "Rows read"]:  # the row ledger is about data rows, not students
            continue
        labels = {i for i, name in enumerate(header) if report._is_label(name)}
        counts = {i for i, name in enumerate(header) if name in report.N_NAMES}
        for tr in html_table.select("tbody tr"):
            cells = [td.get_text(strip=True) for td in tr.find_all("td")]
            values = [c for i, c in enumerate(cells) if i not in labels and i not in counts]
            for i in counts:
                assert not _SMALL_COUNT.match(cells[i]), cells
            if any(cells[i] in ("withheld", "fewer than 10") for i in counts):
                checked["withheld"] += 1
                assert not any(re.search(r"\d", c) for c in values), cells
            if any(_CODE.match(c) for c in values):
                checked["coded"] += 1
                assert [c for c in values if re.search(r"\d", c) and not _CODE.match(c)] == [], cells
    assert checked["withheld"] > 0


def test_what_the_joint_audit_withheld_the_report_withholds_too(demo_run, tmp_path):
    """The audit runs after the notebooks drew the report: each cell it withheld is withheld in the
    report's tables as well (the run draws them again), and the final tables leave nothing new to find."""
    import shutil

    from equity_audit.publish.release import AUDITED_FILE, audit_release

    cells = pd.read_csv(demo_run / "confidential" / AUDITED_FILE, dtype={"label": str}, keep_default_na=False)
    # a row the audit withheld whole; "audit:n_missing" withholds only that column and the row stays shown
    cells = cells[~cells["code"].str.contains(":")]
    assert len(cells)  # the bundled district needs the second pass
    # a cell whose value, or n, the gate had already withheld is recorded with it blank
    cells = cells.assign(n=pd.to_numeric(cells["n"], errors="coerce").fillna(-1),
                         value=pd.to_numeric(cells["value"], errors="coerce"))
    soup = BeautifulSoup((demo_run / "report.html").read_text(), "html.parser")
    found = 0
    for html_table in soup.select("table.audit-table"):
        header = [th.get_text(strip=True) for th in html_table.select("thead th")]
        if "Value" not in header or "Students" not in header:
            continue
        label = "Intersection" if "Intersection" in header else "Group"
        for tr in html_table.select("tbody tr"):
            row = dict(zip(header, (td.get_text(strip=True) for td in tr.find_all("td"))))
            same = (cells["label"] == row[label]) & (cells["n"].astype(int).astype(str) == row["Students"])
            if not same.any():  # a share the audit withheld keeps its size: find its row by label and n
                continue
            if row["Value"] == "withheld":
                found += 1
                continue
            # the same group and size in a table of another measure shows its own value, never the withheld one
            shown, tolerance = _printed_value(row["Value"])
            assert not np.isclose(cells.loc[same, "value"], shown, atol=tolerance).any(), row
    assert found
    run = shutil.copytree(demo_run, tmp_path / "run")
    assert audit_release(run).attrs["newly_withheld"] == 0


def _printed_value(text: str) -> tuple[float, float]:
    """A printed value and half its last digit ("21.8%" is 0.218 give or take 0.0005)."""
    number = re.search(r"-?\d+(?:\.(\d+))?", text)
    digits = len(number.group(1) or "")
    scale = 100 if text.strip().endswith("%") else 1
    return float(number.group(0)) / scale, 0.5 * 10.0 ** -digits / scale + 1e-12


def test_a_shown_figure_is_saved_as_the_png_the_report_shows(tmp_path, monkeypatch):
    """The figure is drawn once: the file written is the PNG displayed, byte for byte."""
    import base64

    shown = []
    monkeypatch.setattr(report, "display", lambda data, **kwargs: shown.append(data))
    fig, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    report.show_figure(fig, alt="A line going down.", caption="A line", save_to=tmp_path / "figures" / "line.png")
    saved = (tmp_path / "figures" / "line.png").read_bytes()
    assert saved.startswith(b"\x89PNG") and base64.b64decode(shown[0]["image/png"]) == saved


# --------------------------------------------------------------------------- a share that gives a count back


@pytest.fixture
def few_behind():
    """Shown groups (n >= min_n) whose share gives back a small count: 28 of 32 have the outcome (4 do
    not), 9 of 60 have it. Both shares are withheld in the released table; the report must not print them."""
    return pd.DataFrame({
        "subgroup": "school", "group": ["Alder", "Birch", "Cedar"], "n": [32, 60, 200],
        "estimate": [0.875, 0.15, 0.41], "low": [0.719, 0.081, 0.344], "high": [0.955, 0.262, 0.479],
        "comparator_n": [260, 232, 92], "comparator_estimate": [0.383, 0.487, 0.576],
        "difference": [0.492, -0.337, -0.166], "statistic": "rate", "suppressed": False,
        "flagged": [True, True, True], "qvalue": [0.001, 0.002, 0.01],
    })


FEW_BEHIND = ("88%", "87.5%", "15%", "72%", "96%", "8.1%", "26%", "38%", "49%", "+49", "-34", "28", " 9 ")


def test_display_table_withholds_a_share_whose_count_or_complement_is_small(few_behind, shown_html):
    shown = narrative.display_table(few_behind, percent=True, min_n=MIN_N)
    report.show_table(shown, caption="c", min_n=MIN_N)
    rows = cells_of(shown_html[0])
    assert_nothing_withheld([" | ".join(r) for r in rows], FEW_BEHIND)
    assert [r[3] for r in rows] == ["withheld", "withheld", "41%"]
    assert [r[2] for r in rows] == ["32", "60", "200"], "the groups' sizes are shown"


def test_findings_say_in_words_a_share_the_gate_withholds(few_behind):
    """The section's list of findings, and the findings table written to tables/, as findings.json says them."""
    from equity_audit.publish.release import protect

    found = narrative.findings(few_behind, section="unmet need", measure="unmet need", percent=True)
    text = narrative.findings_markdown(found, min_n=MIN_N)
    assert_nothing_withheld([text], FEW_BEHIND)
    assert "all but fewer students than the publishing minimum have it" in text
    assert "fewer students than the publishing minimum have it" in text and "41%" in text
    released = protect(found, min_n=MIN_N)
    assert released["students_affected"].isna().tolist() == [True, True, False], "28 and 9 would give the count back"
    assert_nothing_withheld(released["statement"].tolist(), FEW_BEHIND)


def test_intersection_gap_and_access_displays_withhold_what_the_gate_withholds(few_behind):
    scan = few_behind.assign(intersection=["a × b", "a × c", "a × d"], columns="a × b", beyond_main_effects=True,
                             predicted=[0.6, 0.3, 0.4])
    intersections = narrative.intersection_table(scan, percent=True, min_n=MIN_N)
    assert intersections["Value"].tolist()[:2] == ["withheld", "withheld"]
    assert intersections.iloc[:2, 3:].eq("withheld").all().all()
    gaps = pd.DataFrame({"school": ["Alder", "Birch"], "subgroup": "disability", "group": "Yes",
                         "focus_n": [32, 60], "focus_estimate": [0.875, 0.15], "others_n": [200, 150],
                         "others_estimate": [0.4, 0.5], "difference": [0.475, -0.35],
                         "difference_low": [0.3, -0.45], "difference_high": [0.6, -0.25],
                         "statistic": "rate", "closer_look": True, "suppressed": False})
    shown = narrative.gap_scan_display(gaps, unit="school", min_n=MIN_N)
    assert_nothing_withheld(shown.astype(str).to_numpy().ravel().tolist(), ("88%", "15%", "+48", "-35"))
    access = few_behind.assign(opportunity="Level-4 work", access_gap=True, ratio=[2.3, 0.31, 0.71])
    shown = narrative.access_display(access, min_n=MIN_N)
    assert shown["With access (95% interval)"].tolist()[:2] == ["withheld", "withheld"]
    assert shown["Ratio"].tolist() == ["withheld", "withheld", "0.71"]


_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def _is_share_of_students(share: float, n: int, interval: str) -> bool:
    """Whether a printed share's interval is as wide as a share of n students' (Wilson) would be: a
    mean of each student's share (of their evidence, say) has a narrower one, and no count behind it."""
    bounds = [float(v) / 100 for v in _PERCENT.findall(interval)]
    if len(bounds) != 2:
        return False
    z = 1.96
    half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return bounds[1] - bounds[0] >= 1.4 * half


def test_no_share_in_the_report_gives_back_a_small_count(demo_run):
    """A share of students printed beside its group's size gives the count behind it (share times n)
    and the count without it: in the bundled report neither is from 1 to min_n - 1, as in the
    released tables (a mean of per-student shares, with its narrower interval, gives no count)."""
    soup = BeautifulSoup((demo_run / "report.html").read_text(), "html.parser")
    checked = 0
    for html_table in soup.select("table.audit-table"):
        header = [th.get_text(strip=True) for th in html_table.select("thead th")]
        if not {"Students", "Value", "95% interval"} <= set(header):
            continue
        for tr in html_table.select("tbody tr"):
            row = dict(zip(header, (td.get_text(strip=True) for td in tr.find_all("td"))))
            match = re.match(r"^(\d+(?:\.\d+)?)%$", row["Value"])
            if not row["Students"].isdigit() or not match:
                continue
            n, share = int(row["Students"]), float(match.group(1)) / 100
            if not _is_share_of_students(share, n, row["95% interval"]):
                continue
            checked += 1
            for part in (share * n, n - share * n):
                assert not 0.5 <= part < MIN_N - 0.6, f"{row} gives back a count of about {part:.1f}"
    assert checked > 50
