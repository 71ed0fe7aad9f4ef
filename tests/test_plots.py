"""The chart helpers, asserted on the returned Figure's artists (never on pixels)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.text import Text

from equity_audit.publish import plots


# --------------------------------------------------------------------------- helpers


def texts(fig) -> list[str]:
    """Every string drawn on the figure, tick labels included (after a draw)."""
    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def markers(ax) -> list[str]:
    return [c.lines[0].get_marker() for c in errorbars(ax)]


def gids(ax, gid) -> list:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def rates() -> pd.DataFrame:
    return pd.DataFrame({
        "subgroup": ["race_ethnicity"] * 4 + ["english_learner"] * 2,
        "group": ["Asian", "Black", "Pacific_Islander", "White", "Yes", "No"],
        "n": [120, 95, 4, 300, 80, 439],
        "estimate": [0.21, 0.34, np.nan, 0.25, 0.40, 0.22],
        "low": [0.14, 0.25, np.nan, 0.20, 0.30, 0.18],
        "high": [0.29, 0.44, np.nan, 0.30, 0.51, 0.26],
        "suppressed": [False, False, True, False, False, False],
        "flagged": [False, True, False, False, True, False],
    })


def quantiles() -> pd.DataFrame:
    return pd.DataFrame({
        "subgroup": ["race_ethnicity"] * 3 + ["english_learner"] * 2,
        "group": ["Asian", "Black", "Pacific Islander", "Yes", "No"],
        "n": [120, 95, 6, 80, 439],
        "q05": [0.0, 0.0, np.nan, 0.0, 0.0], "q25": [0.5, 0.2, np.nan, 1.0, 0.0],
        "q50": [1.0, 0.8, np.nan, 1.5, 0.5], "q75": [2.0, 1.6, np.nan, 2.5, 1.0],
        "q95": [3.0, 2.9, np.nan, 3.5, 2.0],
    })


def counts() -> pd.DataFrame:
    return pd.DataFrame({"on_pace": [340, 160, 44, 12], "below_pace": [120, 88, 52, 7]},
                        index=["at level", "1 behind", "2 behind", "3+ behind"])


def intersections() -> pd.DataFrame:
    return pd.DataFrame({
        "race_ethnicity": ["Asian", "Asian", "Black", "Black", "White", "White"],
        "english_learner": ["No", "Yes", "No", "Yes", "No", "Yes"],
        "n": [147, 70, 224, 76, 380, 3],
        "estimate": [0.245, 0.243, 0.259, 0.474, 0.266, np.nan],
        "difference": [-0.01, -0.02, 0.0, 0.23, 0.01, np.nan],
        "suppressed": [False, False, False, False, False, True],
        "flagged": [False, False, False, True, False, False],
    })


# --------------------------------------------------------------------------- existing helpers


def test_theme_sets_the_colourblind_cycle():
    import matplotlib as mpl
    import seaborn as sns

    with mpl.rc_context():  # theme() is global: restore the defaults for the other tests
        plots.theme()
        cycle = [mpl.colors.to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle[:3] == sns.color_palette("colorblind").as_hex()[:3]


def test_existing_helpers_still_work():
    bars = plots.grouped_bars(pd.DataFrame({2025: [50, 60]}, index=["K", "1"]),
                              xlabel="Grade", ylabel="Students")
    shares = plots.share_bars(pd.DataFrame({"subgroup": ["el", "el"], "group": ["Yes", "No"],
                                            "share": [0.3, 0.7]}))
    assert isinstance(bars, Figure) and isinstance(shares, Figure)


# --------------------------------------------------------------------------- forest


def test_forest_one_errorbar_per_shown_row_and_none_for_withheld():
    table = rates().iloc[:4]
    fig = plots.forest(table, group="group", xlabel="Below pace", percent=True)
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert len(errorbars(ax)) == 3
    # the withheld row (third, y = 2) has no point, only the words
    ys = [c.lines[0].get_ydata()[0] for c in errorbars(ax)]
    assert 2 not in ys
    drawn = [t.get_text() for t in ax.texts]
    assert "withheld (n<10)" in drawn
    assert gids(ax, "withheld")  # the hatched band
    assert gids(ax, "withheld")[0].get_hatch()


def test_forest_intervals_span_low_to_high():
    fig = plots.forest(rates().iloc[:2], group="group", xlabel="Below pace")
    container = errorbars(fig.axes[0])[0]
    segment = container.lines[2][0].get_segments()[0]
    assert np.allclose(sorted(segment[:, 0]), [0.14, 0.29])
    assert container.lines[0].get_xdata()[0] == pytest.approx(0.21)


def test_forest_flagged_rows_get_a_filled_diamond_and_a_legend_entry():
    fig = plots.forest(rates(), group="group", xlabel="Below pace")
    table = rates()
    shown = table[~table["suppressed"]]
    assert sorted(m for ax in fig.axes for m in markers(ax)) == sorted(
        np.where(shown["flagged"], "D", "o"))
    open_circle = next(c for c in errorbars(fig.axes[0]) if c.lines[0].get_marker() == "o")
    assert open_circle.lines[0].get_markerfacecolor() in ("white", "w", (1, 1, 1, 1))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "differs from comparator (after false-discovery control)" in legend


def test_forest_withheld_rows_are_never_flagged():
    table = rates().iloc[:4].assign(flagged=[False, False, True, False])
    fig = plots.forest(table, group="group", xlabel="Below pace")
    assert "D" not in markers(fig.axes[0])


def test_forest_n_at_the_right_edge():
    fig = plots.forest(rates().iloc[:4], group="group", xlabel="Below pace")
    ax = fig.axes[0]
    right = [t for t in ax.texts if t.get_position()[0] > 1]
    assert [t.get_text() for t in right] == ["n=120", "n=95", "n<10", "n=300"]
    assert "n=4" not in texts(fig)


def test_forest_reference_line_at_the_given_x_and_labelled():
    fig = plots.forest(rates(), group="group", facet="subgroup", xlabel="Below pace", percent=True,
                       reference=0.27, reference_label="district rate")
    for ax in fig.axes:
        (line,) = gids(ax, "reference")
        assert list(line.get_xdata()) == [0.27, 0.27]
    assert "district rate: 27%" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_forest_facets_make_one_titled_panel_each_sharing_x():
    fig = plots.forest(rates(), group="group", facet="subgroup", xlabel="Below pace")
    assert len(fig.axes) == 2
    # panels are titled with the one dictionary of display names
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Race/ethnicity", "English learner"]
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[1])
    assert [len(errorbars(ax)) for ax in fig.axes] == [3, 2]
    assert fig.axes[1].get_xlabel() == "Below pace"


def test_forest_labels_are_plain_words():
    fig = plots.forest(rates(), group="group", xlabel="Below pace")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Pacific Islander" in labels
    assert not any("_" in label for label in labels)


def test_forest_percent_axis():
    fig = plots.forest(rates(), group="group", xlabel="Below pace", percent=True)
    formatter = fig.axes[0].xaxis.get_major_formatter()
    assert formatter(0.25, 0) == "25%"
    assert formatter(0.225, 0) == "22.5%"
    plain = plots.forest(rates(), group="group", xlabel="Below pace")
    assert "%" not in plain.axes[0].xaxis.get_major_formatter()(0.25, 0)


def test_forest_height_grows_with_rows_at_report_width():
    small = plots.forest(rates().iloc[:2], group="group", xlabel="x")
    many = pd.concat([rates()] * 4, ignore_index=True)
    large = plots.forest(many, group="group", xlabel="x")
    assert small.get_figwidth() == pytest.approx(9)
    assert large.get_figheight() > small.get_figheight() + 5


def test_forest_reads_published_n_and_all_withheld_tables():
    table = rates().iloc[:4].assign(n=["120", "95", "<10", "300"])
    fig = plots.forest(table, group="group", xlabel="x")
    assert len(errorbars(fig.axes[0])) == 3
    nothing = plots.forest(rates().iloc[[2]], group="group", xlabel="x")
    assert errorbars(nothing.axes[0]) == []
    assert "withheld (n<10)" in texts(nothing)


def test_forest_min_n_is_a_parameter():
    fig = plots.forest(rates().iloc[:2], group="group", xlabel="x", min_n=100)
    assert len(errorbars(fig.axes[0])) == 1
    assert "withheld (n<100)" in texts(fig)
    assert "n=95" not in texts(fig)


def test_forest_missing_column_names_it():
    with pytest.raises(KeyError, match="high"):
        plots.forest(rates().drop(columns="high"), group="group", xlabel="x")


# --------------------------------------------------------------------------- quantile boxes


def boxes(ax) -> list[PathPatch]:
    return [p for p in ax.patches if isinstance(p, PathPatch)]


def test_quantile_boxes_one_box_per_shown_group_no_fliers():
    fig = plots.quantile_boxes(quantiles(), group="group", xlabel="Levels behind")
    ax = fig.axes[0]
    assert len(boxes(ax)) == 4
    assert "withheld (n<10)" in [t.get_text() for t in ax.texts]
    # no marks for individual students: every line is a whisker, cap or median, none has markers
    assert all(line.get_marker() in ("None", None, "") for line in ax.lines)


def test_quantile_boxes_whiskers_at_q05_q95_and_median():
    fig = plots.quantile_boxes(quantiles().iloc[:1], group="group", xlabel="Levels behind")
    xs = np.concatenate([line.get_xdata() for line in fig.axes[0].lines])
    assert xs.min() == 0.0 and xs.max() == 3.0
    box = boxes(fig.axes[0])[0].get_path().vertices[:, 0]
    assert box.min() == 0.5 and box.max() == 2.0


def test_quantile_boxes_facets_reference_and_min_n():
    fig = plots.quantile_boxes(quantiles(), group="group", facet="subgroup", xlabel="Levels behind",
                               reference=1.0, min_n=90)
    assert len(fig.axes) == 2
    assert [len(boxes(ax)) for ax in fig.axes] == [2, 1]  # n=80 and n=6 withheld at min_n=90
    assert all(gids(ax, "reference") for ax in fig.axes)
    assert "n=80" not in texts(fig)


# --------------------------------------------------------------------------- count heat map


def test_count_heatmap_small_cells_hatched_and_never_written():
    fig = plots.count_heatmap(counts(), xlabel="Pace", ylabel="Levels behind")
    ax = fig.axes[0]
    written = [t.get_text() for t in ax.texts]
    assert written.count("<10") == 1
    assert "7" not in written
    assert "340" in written and "12" in written
    (cell,) = gids(ax, "withheld")
    assert cell.get_hatch() and cell.get_xy() == (1, 3)
    assert not any(re.search(r"\b7\b", t) for t in texts(fig))


def test_count_heatmap_highlight_outlines_one_rectangle_for_a_block():
    fig = plots.count_heatmap(counts(), xlabel="Pace", ylabel="Levels behind",
                              highlight=[("2 behind", "below_pace"), ("3+ behind", "below_pace")],
                              highlight_label="2+ behind and below pace")
    (outline,) = gids(fig.axes[0], "highlight")
    assert isinstance(outline, Rectangle) and not outline.get_fill()
    assert outline.get_linewidth() >= 3
    assert outline.get_height() == pytest.approx(1.92)
    assert "2+ behind and below pace" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(KeyError, match="nowhere"):
        plots.count_heatmap(counts(), xlabel="x", ylabel="y", highlight=[("nowhere", "on_pace")])


def test_count_heatmap_plain_labels_cividis_and_height():
    fig = plots.count_heatmap(counts(), xlabel="Pace", ylabel="Levels behind")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["on pace", "below pace"]
    assert ax.collections[0].get_cmap().name == "cividis"
    tall = plots.count_heatmap(pd.concat([counts()] * 3).reset_index(drop=True), xlabel="x",
                               ylabel="y")
    assert tall.get_figheight() > fig.get_figheight()
    assert fig.get_figwidth() == pytest.approx(9)


# --------------------------------------------------------------------------- rate heat map


def test_rate_heatmap_cells_show_value_and_n_withheld_hatched():
    fig = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner")
    ax = fig.axes[0]
    written = [t.get_text() for t in ax.texts]
    assert "24%\nn=147" in written
    assert "n<10" in written
    assert not any(re.search(r"n=3\b", t) for t in texts(fig))
    (cell,) = gids(ax, "withheld")
    assert cell.get_hatch() and cell.get_xy() == (1, 2)
    assert ax.get_xlabel() == "English learner" and ax.get_ylabel() == "Race/ethnicity"


def test_rate_heatmap_flagged_marker_and_its_note():
    fig = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner")
    written = [t.get_text() for t in fig.axes[0].texts]
    assert [t for t in written if "▲" in t] == ["47% ▲\nn=76"]
    assert plots.FLAGGED_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]
    off = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner",
                             flagged_marker=False)
    assert not any("▲" in t for t in texts(off))


def test_rate_heatmap_percent_colour_bar_and_difference_mode():
    fig = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner")
    bar = fig.axes[1]
    assert bar.yaxis.get_major_formatter()(0.3, 0) == "30%"
    diff = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner",
                              value="difference", center=0)
    assert "+23 pts ▲\nn=76" in [t.get_text() for t in diff.axes[0].texts]
    assert diff.axes[0].collections[0].norm.vcenter == 0


def test_empty_cells_say_no_students():
    table = intersections()
    table.loc[5, "n"] = 0
    fig = plots.rate_heatmap(table, rows="race_ethnicity", columns="english_learner")
    assert "no students" in [t.get_text() for t in fig.axes[0].texts]
    rows = rates().iloc[:3].assign(n=[120, 95, 0])
    fig = plots.forest(rows, group="group", xlabel="x")
    assert {"no students", "n=0"} <= set(texts(fig))


def test_rate_heatmap_rejects_more_than_two_grouping_columns():
    table = pd.concat([intersections(), intersections()], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row"):
        plots.rate_heatmap(table, rows="race_ethnicity", columns="english_learner")


def test_rate_heatmap_grows_with_rows():
    small = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner")
    many = pd.concat([intersections().assign(race_ethnicity=lambda t, k=k: t.race_ethnicity + str(k))
                      for k in range(4)], ignore_index=True)
    large = plots.rate_heatmap(many, rows="race_ethnicity", columns="english_learner")
    assert large.get_figheight() > small.get_figheight()


# --------------------------------------------------------------------------- privacy


SECRET_RATE = 0.8765          # a withheld row that wrongly still carries numbers
SECRET_PATTERNS = (r"0\.8[78]", r"\b8[78](\.\d+)?\s*%", r"\b8[78] pts", r"\+8[78]")


def leaks(fig, extra=()) -> list[str]:
    """Texts showing the secret rate (in any rounding or format) or an ``extra`` pattern."""
    patterns = [*SECRET_PATTERNS, *extra]
    return [t for t in texts(fig) if any(re.search(p, t) for p in patterns)]


def test_forest_never_draws_a_withheld_rows_numbers():
    table = rates().iloc[:4]
    table.loc[2, ["estimate", "low", "high", "n"]] = [SECRET_RATE, 0.81, 0.93, 7]
    fig = plots.forest(table, group="group", xlabel="Below pace", percent=True)
    assert leaks(fig, extra=(r"n=7\b", r"\b93", r"\b81")) == []
    assert len(errorbars(fig.axes[0])) == 3
    assert fig.axes[0].get_xlim()[1] < 0.81  # the axis was not stretched to fit it either


def test_forest_withholds_rows_marked_suppressed_even_with_a_large_n():
    table = rates().iloc[:4]
    table.loc[2, ["estimate", "low", "high", "n"]] = [SECRET_RATE, 0.81, 0.93, 40]
    fig = plots.forest(table, group="group", xlabel="Below pace", percent=True)
    assert leaks(fig, extra=(r"n=40\b",)) == []
    assert len(errorbars(fig.axes[0])) == 3


def test_quantile_boxes_never_draw_a_withheld_groups_quantiles():
    table = quantiles()
    table.loc[2, ["q05", "q25", "q50", "q75", "q95"]] = [7.11, 7.33, 7.55, 7.77, 7.99]
    fig = plots.quantile_boxes(table, group="group", xlabel="Levels behind")
    assert [t for t in texts(fig) if re.search(r"7\.[13579]|n=6\b", t)] == []
    assert fig.axes[0].get_xlim()[1] < 7
    assert len(boxes(fig.axes[0])) == 4


def test_rate_heatmap_never_draws_a_withheld_cells_value_or_colour():
    table = intersections()
    table.loc[5, ["estimate", "difference"]] = [SECRET_RATE, SECRET_RATE]
    for value, center in (("estimate", None), ("difference", 0)):
        fig = plots.rate_heatmap(table, rows="race_ethnicity", columns="english_learner",
                                 value=value, center=center)
        assert leaks(fig, extra=(r"n=3\b",)) == []
        norm = fig.axes[0].collections[0].norm
        assert norm.vmax < 0.5  # the colour scale ignores the withheld value
        assert np.ma.is_masked(fig.axes[0].collections[0].get_array()[-1])


def test_count_heatmap_small_count_is_not_coloured():
    fig = plots.count_heatmap(counts(), xlabel="Pace", ylabel="Levels behind")
    mesh = fig.axes[0].collections[0]
    assert np.ma.is_masked(mesh.get_array()[-1])  # the 7 in the last cell
    assert not np.ma.is_masked(mesh.get_array()[-2])


def test_share_bars_and_heatmap_colour_bar_use_display_names():
    shares = pd.DataFrame({"subgroup": ["low_income", "low_income"], "group": ["Yes", "No"], "share": [0.4, 0.6]})
    fig = plots.share_bars(shares)
    assert fig.axes[0].get_title(loc="left") == "Low income"
    heat = plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner", value="estimate")
    assert heat.axes[1].get_ylabel() == "Estimate"
    assert not any("_" in t for t in texts(heat))


# --------------------------------------------------------------------------- charts drawn again


@pytest.fixture
def reusing():
    plots.reuse_drawn()
    yield
    plots.reuse_drawn(False)


def _show(fig, path):
    from equity_audit.publish import report

    report.show_figure(fig, alt="a chart", caption="a chart", save_to=path)
    return path.read_bytes()


def test_the_same_chart_asked_again_is_the_png_shown_first(reusing, tmp_path):
    first = plots.forest(rates(), group="group", facet="subgroup", xlabel="x")
    png = _show(first, tmp_path / "first.png")
    again = plots.forest(rates().copy(), group="group", facet="subgroup", xlabel="x")
    assert isinstance(again, plots.DrawnFigure) and again.png == png
    assert _show(again, tmp_path / "again.png") == png


@pytest.mark.parametrize("change", ["value", "text for number", "option", "withheld by the audit"])
def test_a_chart_of_other_data_or_options_is_drawn_anew(reusing, tmp_path, change, monkeypatch):
    from equity_audit.publish import release

    _show(plots.forest(rates(), group="group", facet="subgroup", xlabel="x"), tmp_path / "first.png")
    table, options = rates(), {"group": "group", "facet": "subgroup", "xlabel": "x"}
    if change == "value":
        table.loc[0, "estimate"] = 0.22
    elif change == "text for number":
        table["n"] = table["n"].astype(object)
        table.loc[0, "n"] = "120"
    elif change == "option":
        options["percent"] = True
    else:
        monkeypatch.setitem(release._AUDITED, ("Black", 95, 0.34), "audit")
    assert isinstance(plots.forest(table, **options), Figure)


def test_a_cell_withheld_elsewhere_leaves_the_chart_as_drawn(reusing, tmp_path, monkeypatch):
    from equity_audit.publish import release

    png = _show(plots.forest(rates(), group="group", facet="subgroup", xlabel="x"), tmp_path / "first.png")
    monkeypatch.setitem(release._AUDITED, ("Black", 96, 0.34), "audit")  # another table's row
    again = plots.forest(rates(), group="group", facet="subgroup", xlabel="x")
    assert isinstance(again, plots.DrawnFigure) and again.png == png


def test_a_funnel_of_another_target_is_drawn_anew(reusing, tmp_path):
    scan = pd.DataFrame({"school": ["East", "West", "North"], "n": [120, 95, 60], "rate": [0.2, 0.3, 0.25],
                         "flagged": [False, False, False]})
    scan.attrs.update(target=0.25, tau2_used=0.0)
    _show(plots.funnel(scan, label="school", ylabel="rate", xlabel="n"), tmp_path / "first.png")
    other = scan.copy()
    other.attrs.update(target=0.3, tau2_used=0.0)
    assert isinstance(plots.funnel(other, label="school", ylabel="rate", xlabel="n"), Figure)


def test_charts_are_drawn_anew_unless_reuse_is_switched_on(tmp_path):
    _show(plots.forest(rates(), group="group", facet="subgroup", xlabel="x"), tmp_path / "first.png")
    assert isinstance(plots.forest(rates(), group="group", facet="subgroup", xlabel="x"), Figure)


# --------------------------------------------------------------------------- laid out once


def test_a_chart_is_laid_out_once_and_saved_with_its_tight_box():
    """Saving a chart does not lay it out again: the PNG crops to what it draws, as ``bbox_inches="tight"`` does."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from equity_audit.publish.report import _png

    fig = plots.forest(rates(), group="group", facet="subgroup", xlabel="Share", percent=True, reference=0.25)
    assert fig.get_layout_engine() is None and getattr(fig, plots.LAID_OUT)
    positions = [ax.get_position().bounds for ax in fig.axes]
    saved = Image.open(io.BytesIO(_png(fig)))
    assert [ax.get_position().bounds for ax in fig.axes] == positions  # saving moved nothing
    again = plots.forest(rates(), group="group", facet="subgroup", xlabel="Share", percent=True, reference=0.25)
    again.set_layout_engine("constrained")  # the usual way: laid out again as it is saved
    buffer = io.BytesIO()
    again.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    usual = Image.open(io.BytesIO(buffer.getvalue()))
    assert abs(saved.width - usual.width) <= 15 and abs(saved.height - usual.height) <= 15
    plt.close("all")


@pytest.mark.parametrize("chart", [
    lambda: plots.forest(rates(), group="group", facet="subgroup", xlabel="Share", percent=True, reference=0.25),
    lambda: plots.rate_heatmap(intersections(), rows="race_ethnicity", columns="english_learner", percent=True),
    lambda: plots.quantile_boxes(quantiles(), group="group", facet="subgroup", xlabel="Levels a year"),
])
def test_a_chart_laid_out_without_being_drawn_saves_as_one_drawn_to_lay_it_out(chart, monkeypatch):
    """A layout engine measures every text it places, so a chart need not be rendered to nothing to be laid
    out (issue 16: about a tenth of a second a chart); its PNG is the very one a full draw gave."""
    import matplotlib.pyplot as plt

    from equity_audit.publish.report import _png

    laid_out = _png(chart())
    monkeypatch.setattr(plots, "_lay_out", lambda fig: fig.draw_without_rendering())
    assert _png(chart()) == laid_out
    plt.close("all")


def test_grouped_bars_legend_stands_beside_the_bars():
    counts = pd.DataFrame({f"20{y}-{y + 1}": [190, 200, 180, 199] for y in range(22, 26)}, index=["K", "1", "2", "3"])
    counts.columns.name = "School year"
    fig = plots.grouped_bars(counts, xlabel="Grade", ylabel="Students")
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend, box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= box.x1 and fig.bbox.x1 >= legend.x1  # right of the bars, inside the figure
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(counts.columns)
