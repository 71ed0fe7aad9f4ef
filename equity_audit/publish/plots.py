"""Charts with accessible defaults: a colour-blind-safe palette, direct labels.

Every function takes a table that is already aggregated (one row per group or
cell, never one per student) and returns a matplotlib Figure without showing
or closing it. Every function first passes its table through the release gate
(:func:`equity_audit.publish.release.protect`, with the ``min_n`` given), so a
chart shows what the released tables show and nothing more: withheld rows are
drawn as a hatched grey band or cell with the words "n<10" (or "withheld"),
a share coded at the top or bottom shows its code ("≥ 95%") without value or
interval, and a count from 1 to ``min_n - 1`` shows as "<10". Their numbers
are never drawn, even when the table still carries them. Text from the data
(school or group names) is printed literally: ``$`` never starts mathtext. Colour is never the only cue: flagged
groups get their own marker and a legend entry, withheld cells a hatch, and
values are written on the chart.

- :func:`grouped_bars`, :func:`share_bars`: counts and shares;
- :func:`forest`: an estimate and its interval per group, with a reference line;
- :func:`quantile_boxes`: box plots drawn from precomputed quantiles;
- :func:`count_heatmap`: a two-way table of counts;
- :func:`rate_heatmap`: an intersection table from :func:`~equity_audit.disaggregate.disaggregate`.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({2025: [50, 60], 2026: [55, 58]}, index=["K", "1"])
>>> fig = grouped_bars(counts, xlabel="Grade", ylabel="Students")
>>> len(fig.axes)
1
"""
from __future__ import annotations

import functools
import hashlib
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, PercentFormatter
from matplotlib.transforms import blended_transform_factory

from equity_audit.data.dictionary import display_name
from equity_audit.privacy import top_bottom_code
from equity_audit.publish.release import STATUS_COLUMN, audited_words, protect, shown_min_n
from equity_audit.scans import COLLEAGUE_COLUMN

__all__ = ["theme", "grouped_bars", "share_bars", "forest", "quantile_boxes", "count_heatmap",
           "rate_heatmap", "funnel", "PALETTE", "FLAGGED_LABEL"]

PALETTE = "colorblind"
#: Legend entry for cells whose difference from the comparator survives the FDR control.
FLAGGED_LABEL = "differs from comparator (after false-discovery control)"

_WIDTH = 9.0          # inches: report width
_ROW = 0.36           # inches per row in forest and box charts
_WITHHELD_FACE = "0.90"
_WITHHELD_EDGE = "0.55"
_HATCH = "///"


#: Text drawn from the data is printed as written: a school named "$\\alpha$ Academy" must not
#: turn into mathtext (or fail to draw).
LITERAL_TEXT = {"text.parse_math": False}


def theme() -> None:
    """Set the project's plotting defaults (seaborn whitegrid, colour-blind palette).

    Mathtext is switched off, so a ``$`` in a school or group name prints as a dollar sign.
    """
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=1.0)
    plt.rcParams.update(LITERAL_TEXT)


def _literal_text(function):
    """Build the figure with mathtext off and leave every text of it literal.

    Tick labels made later, when the figure is drawn, follow the rcParams then:
    :func:`equity_audit.publish.report.show_figure` draws under :data:`LITERAL_TEXT` too.
    The figure is laid out once, here (:data:`LAID_OUT`): its layout engine is then
    removed, so saving it draws it once more instead of laying it out twice again
    (resize it and lay it out yourself if you change its size).
    With :func:`reuse_drawn` on, a chart asked for again with the same arguments is a
    :class:`DrawnFigure` of the PNG shown the first time.
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        key = _drawing_key(function.__name__, args, kwargs)
        if key is not None and key in _DRAWN:
            return DrawnFigure(_DRAWN[key])
        with plt.rc_context(LITERAL_TEXT):
            fig = function(*args, **kwargs)
            _lay_out(fig)
        for text in fig.findobj(lambda artist: hasattr(artist, "set_parse_math")):
            text.set_parse_math(False)
        fig.set_layout_engine(None)  # the layout just computed stays: a constrained layout costs a draw each time
        setattr(fig, LAID_OUT, True)
        if key is not None:
            fig.equity_audit_drawn_from = key
        return fig
    return wrapper


def _lay_out(fig) -> None:
    """Lay ``fig`` out, making the lazily created tick labels (under the caller's rcParams: parse_math off).

    A layout engine measures every text it places, which makes them; drawing the
    figure as well (``draw_without_rendering``) would only render it to nothing.
    """
    engine = fig.get_layout_engine()
    if engine is None:
        fig.draw_without_rendering()
    else:
        engine.execute(fig)


# --------------------------------------------------------------------------- charts drawn again

#: Set on a figure this module made: laid out already, so its tight box can be measured without drawing it.
LAID_OUT = "equity_audit_laid_out"

#: PNGs of the charts shown so far, by :func:`_drawing_key`; None while :func:`reuse_drawn` is off.
_DRAWN: dict[str, bytes] | None = None


class DrawnFigure:
    """A chart already drawn: its PNG, which :func:`~equity_audit.publish.report.show_figure` shows as it is."""

    def __init__(self, png: bytes):
        self.png = png


def reuse_drawn(on: bool = True) -> None:
    """Give back the PNG shown the first time for a chart asked for again with the very same arguments.

    The pipeline's second pass (after the joint disclosure audit) shows again every
    chart of a notebook whose tables the audit changed; most are drawn from the same
    data as before. A chart is the same when its function and every argument are:
    tables by the hash of their values, index, columns, types and ``attrs``, and by
    what the joint audit withholds of their rows (each chart's release gate reads
    it by a row's group, n and value); any other argument type draws it anew.

    Only for a kernel whose every chart goes straight to
    :func:`~equity_audit.publish.report.show_figure` (the pipeline's, through
    :func:`equity_audit.app.memo.install`): other code gets figures as always.
    """
    global _DRAWN
    _DRAWN = {} if on else None


def remember_drawn(fig, png: bytes) -> None:
    """Keep ``png``, the chart ``fig`` as shown, for the same chart asked for again (with :func:`reuse_drawn`)."""
    key = getattr(fig, "equity_audit_drawn_from", None)
    if _DRAWN is not None and key is not None:
        _DRAWN[key] = png


def _drawing_key(name: str, args: tuple, kwargs: dict) -> str | None:
    """A digest of a chart's function and arguments; None when an argument is not one it compares."""
    if _DRAWN is None:
        return None
    digest = hashlib.sha256(name.encode())
    try:
        for part in (args, sorted(kwargs.items())):
            _digest_into(digest, part)
    except (TypeError, ValueError):
        return None
    return digest.hexdigest()


def _digest_into(digest, value) -> None:
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        digest.update(repr((type(value).__name__, list(frame.columns), [str(t) for t in frame.dtypes],
                            frame.shape)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True, categorize=False).to_numpy().tobytes())
        digest.update(pd.util.hash_pandas_object(frame.index.to_series(), index=False).to_numpy().tobytes())
        # each value's own type too: hashing reads 1 and "1" alike
        for column in frame.columns[frame.dtypes == object]:
            digest.update(repr(frame[column].map(type).tolist()).encode())
        _digest_into(digest, sorted(frame.attrs.items()))  # a scan's target and limits (funnel)
        # what the joint audit withholds of these rows: the release gate of every chart reads it
        digest.update(repr(audited_words(frame.reset_index(drop=True)).tolist()).encode())
    elif isinstance(value, dict):
        _digest_into(digest, sorted(value.items()))
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}(".encode())
        for item in value:
            _digest_into(digest, item)
        digest.update(b")")
    elif value is None or isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
        digest.update(repr((type(value).__name__, value)).encode())
    else:
        raise TypeError(f"not compared: {type(value).__name__}")


# --------------------------------------------------------------------------- the release gate

_ROW_WITHHELD = ("small_n", "complementary", "audit")
_CODED = ("top_coded", "bottom_coded")


def _gate_min_n(table: pd.DataFrame, min_n: int | None) -> int:
    """``min_n`` as given, else read from the table's ``"<k"`` codes (as ``write_table`` does)."""
    if min_n is not None:
        return int(min_n)
    from equity_audit.config import Config

    return shown_min_n(table) or Config().min_n


def _released(table: pd.DataFrame, min_n: int, labels: Sequence[str | None] = ()) -> pd.DataFrame:
    """``table`` as the release gate lets it out; label columns keep their values (and dtypes).

    :func:`~equity_audit.publish.release.protect` blanks withheld rows, counts from 1 to
    ``min_n - 1`` and the value, interval and comparison of a coded share, and says why in
    ``status``. Drawing from its output keeps charts and released tables in step.
    """
    data = table.reset_index(drop=True)
    released = protect(data, min_n=min_n)
    for column in dict.fromkeys(c for c in labels if c is not None):
        released[column] = data[column]
    if STATUS_COLUMN not in released:
        released[STATUS_COLUMN] = ""
    released[STATUS_COLUMN] = released[STATUS_COLUMN].astype(object).fillna("").astype(str)
    return released


def _words(status: str) -> set[str]:
    """The status codes of one row, without their ``:column`` part."""
    return {word.split(":")[0] for word in str(status).split(";") if word}


def _row_words(status: str) -> set[str]:
    """The status codes of one row that withhold it whole: ``audit:n_missing`` withholds a column only."""
    return {word for word in str(status).split(";") if word in _ROW_WITHHELD}


def _row_withheld(status: pd.Series) -> pd.Series:
    """Rows the gate withholds whole (small group, protecting one, or the joint audit)."""
    return status.map(lambda s: bool(_row_words(s))).astype(bool)


def _codes(original: pd.DataFrame, released: pd.DataFrame, value: str) -> pd.Series:
    """The display code ("≥ 95%") of each row the gate top- or bottom-coded, "" elsewhere."""
    coded = released[STATUS_COLUMN].map(lambda s: bool(_words(s) & set(_CODED))).astype(bool)
    codes = pd.Series("", index=released.index, dtype=object)
    if coded.any() and value in original and "n" in original:
        rates = pd.to_numeric(original[value], errors="coerce").astype(float).clip(0, 1)
        n = pd.to_numeric(original["n"], errors="coerce").astype(float)
        codes[coded] = top_bottom_code(rates[coded].to_numpy(), n[coded].to_numpy(), scale=1)
    # a code that is not a bound ("withheld" for a band without a rule) reads as withheld
    return codes.where(codes.str.match(r"^\s*[≥≤]"), "").where(coded, "")


def _count_ranges(data: pd.DataFrame, status: pd.Series, rate: pd.Series, withheld: pd.Series,
                  min_n: int) -> pd.DataFrame:
    """``n``, ``low``, ``high`` of each shown unit whose rate the gate blanked for a small count.

    The count is 1 to ``min_n - 1`` (``small_count``), or that many short of
    ``n`` (``small_complement``), so the rate lies in the range it leaves.
    """
    words = status.map(_words)
    blank = ~withheld & rate.isna()
    low_side = blank & words.map(lambda w: "small_count" in w).astype(bool)
    high_side = blank & words.map(lambda w: "small_complement" in w).astype(bool)
    n = _numeric_n(data)
    rows = pd.DataFrame({"n": n, "low": 1 / n, "high": (min_n - 1) / n})
    rows.loc[high_side, ["low", "high"]] = np.c_[(n - min_n + 1) / n, (n - 1) / n][high_side.to_numpy()]
    return rows[(low_side | high_side) & (n > 0)].clip(upper={"n": np.inf, "low": 1.0, "high": 1.0}, axis=1)


def _code_bound(code: str) -> float:
    """The share a code stands at: "≥ 95%" is 0.95."""
    return float(code.strip().lstrip("≥≤").strip().rstrip("%")) / 100


@_literal_text
def grouped_bars(counts: pd.DataFrame, *, xlabel: str, ylabel: str, title: str = "",
                 min_n: int | None = None) -> plt.Figure:
    """Bars of ``counts`` (rows along the x axis, one colour per column).

    A count from 1 to ``min_n - 1`` (the release gate blanks it) is drawn as no bar
    and the words "<10" (``min_n`` defaults to the table's ``"<k"`` codes, else the setting).
    """
    min_n = _gate_min_n(counts, min_n)
    values = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    gated = _gated_counts(counts, values, min_n)
    shown = np.where(gated, 0.0, np.nan_to_num(values))
    fig, ax = plt.subplots(figsize=(9, 4))
    colours = sns.color_palette(PALETTE, max(1, values.shape[1]))
    width = 0.8 / max(1, values.shape[1])
    positions = np.arange(values.shape[0])
    for column, name in enumerate(counts.columns):
        bars = ax.bar(positions - 0.4 + width * (column + 0.5), shown[:, column], width=width,
                      color=colours[column], label=str(name))
        labels = [f"<{min_n}" if gated[r, column] else "" for r in range(values.shape[0])]
        if any(labels):
            ax.bar_label(bars, labels=labels, padding=2, fontsize="x-small")
    ax.set_xticks(positions, labels=[str(r) for r in counts.index])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    # beside the bars, not over them: the tallest bars reach the top whatever the counts
    ax.legend(title=counts.columns.name or "", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


@_literal_text
def share_bars(table: pd.DataFrame, *, group: str = "group", share: str = "share",
               facet: str = "subgroup", title: str = "", min_n: int | None = None) -> plt.Figure:
    """Horizontal bars of shares, one panel per subgroup column, labelled with percents.

    With an ``n`` column the table first passes the release gate: a withheld group
    (the gate's status, or a share of 0 for a group with students, as
    :func:`~equity_audit.questions.overview.composition_shares` marks it) gets no bar
    and the word "withheld".
    """
    original = table.reset_index(drop=True)
    data = _released(original, _gate_min_n(original, min_n), labels=[group, facet])
    values = pd.to_numeric(data[share], errors="coerce").astype(float)
    hidden = _row_withheld(data[STATUS_COLUMN]) | values.isna()
    if "n" in original:
        n = pd.to_numeric(original["n"], errors="coerce")
        hidden |= (values == 0) & (n > 0)
    values = values.mask(hidden)
    facets = list(dict.fromkeys(data[facet]))
    heights = [max(1, (data[facet] == f).sum()) for f in facets]
    fig, axes = plt.subplots(len(facets), 1, figsize=(8, 0.32 * sum(heights) + 0.6 * len(facets)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, name in zip(axes[:, 0], facets):
        rows = data[facet] == name
        part = values[rows]
        ax.barh(data.loc[rows, group].astype(str), part.fillna(0), color=sns.color_palette(PALETTE)[0])
        ax.bar_label(ax.containers[0], labels=["withheld" if pd.isna(v) else f"{v:.0%}" for v in part],
                     padding=3)
        ax.set_xlim(0, 1.1)
        ax.set_title(display_name(name), loc="left", fontsize="medium")
        ax.invert_yaxis()
        ax.xaxis.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- helpers


class _Percent(PercentFormatter):
    """Percent of 1 with no trailing zeros: 20%, 22.5%."""

    def __init__(self):
        super().__init__(xmax=1.0, decimals=1)

    def format_pct(self, x, display_range):
        text = f"{self.convert_to_pct(x):.1f}".rstrip("0").rstrip(".")
        return f"{'0' if text == '-0' else text}{self.symbol}"


def _plain(value) -> str:
    """A label in plain words: underscores become spaces."""
    return str(value).replace("_", " ")


def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"table has no column(s) {missing}; it has {list(table.columns)}")


def _numeric_n(table: pd.DataFrame) -> pd.Series:
    """n as numbers; a published ``"<10"`` (or anything else unreadable) becomes NaN."""
    return pd.to_numeric(table["n"], errors="coerce").astype(float)


def _withheld(table: pd.DataFrame, min_n: int) -> pd.Series:
    """True where a row's numbers must not be drawn: n unknown or under ``min_n``, or suppressed."""
    n = _numeric_n(table)
    mask = n.isna() | (n < min_n)
    if "suppressed" in table:
        mask |= table["suppressed"].astype("boolean").fillna(True).astype(bool)
    return mask.astype(bool)


def _flagged(table: pd.DataFrame) -> pd.Series:
    if "flagged" not in table:
        return pd.Series(False, index=table.index)
    return table["flagged"].astype("boolean").fillna(False).astype(bool)


def _n_label(n: float, min_n: int) -> str:
    """``n=123``; under ``min_n`` (or unknown) only ``n<10``; never the small number."""
    if n == 0:
        return "n=0"
    if not np.isfinite(n) or n < min_n:
        return f"n<{min_n}"
    return f"n={int(n):,}"


def _small(n: float, min_n: int, status: str = "") -> bool:
    """Whether a withheld row is a small group; its status says so, else its n."""
    if words := _row_words(status):
        return "small_n" in words
    return not np.isfinite(n) or n < min_n


def _withheld_n_label(n: float, min_n: int, status: str = "") -> str:
    """The n of a withheld row: "n<10", or nothing when it was withheld to protect another group."""
    if n == 0:
        return "n=0"
    return f"n<{min_n}" if _small(n, min_n, status) else ""


def _withheld_text(n: float, min_n: int, status: str = "") -> str:
    if n == 0:
        return "no students"
    return f"withheld (n<{min_n})" if _small(n, min_n, status) else "withheld"


def _format(value: float, percent: bool, signed: bool = False) -> str:
    """34% for a rate, +12 pts for a difference of rates, 2.35 or 1,234 otherwise."""
    if percent and signed:
        points = round(value * 100)
        return "0 pts" if points == 0 else f"{points:+d} pts"
    if percent:
        return f"{value:.0%}"
    if signed:
        text = f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3g}"
        return "0" if float(text.replace(",", "")) == 0 else text
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _labels(table: pd.DataFrame, group: str | Sequence[str]) -> list[str]:
    columns = [group] if isinstance(group, str) else list(group)
    return [", ".join(_plain(v) for v in row) for row in table[columns].itertuples(index=False)]


def _panels(table: pd.DataFrame, facet: str | None) -> list[tuple[str, np.ndarray]]:
    """(title, positions) per facet value in order of first appearance; one untitled panel without."""
    if facet is None:
        return [("", np.arange(len(table)))]
    keys = table[facet].astype(str).to_numpy()
    return [(display_name(name), np.flatnonzero(keys == name)) for name in dict.fromkeys(keys)]


def _stacked_axes(panels, title: str, legend_rows: int = 1):
    heights = [max(1, len(rows)) for _, rows in panels]
    height = (_ROW * sum(heights) + 0.45 * len(panels) + 0.9 + 0.3 * legend_rows
              + (0.4 if title else 0.0))
    fig, axes = plt.subplots(len(panels), 1, figsize=(_WIDTH, max(2.6, height)), sharex=True,
                             squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    return fig, list(axes[:, 0])


def _style_rows(ax, labels: list[str], name: str) -> None:
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_ylim(max(len(labels), 1) - 0.5, -0.5)
    ax.set_facecolor("white")
    ax.grid(axis="x", color="0.88", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("0.6")
    if name:
        ax.set_title(name, loc="left", fontweight="bold", fontsize="medium")


def _withheld_row(ax, y: float, text: str) -> None:
    """A hatched grey band across the row with the words instead of any mark."""
    ax.axhspan(y - 0.38, y + 0.38, facecolor=_WITHHELD_FACE, edgecolor=_WITHHELD_EDGE, hatch=_HATCH,
               linewidth=0, zorder=0.5, gid="withheld")
    ax.text(0.01, y, text, transform=blended_transform_factory(ax.transAxes, ax.transData),
            ha="left", va="center", fontsize="small", fontstyle="italic", color="0.15", zorder=3,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"})


def _n_column(ax, y: float, text: str) -> None:
    ax.text(1.01, y, text, transform=blended_transform_factory(ax.transAxes, ax.transData),
            ha="left", va="center", fontsize="small", color="0.25")


def _reference(axes, reference, label: str, percent: bool) -> Line2D | None:
    if reference is None:
        return None
    for ax in axes:
        ax.axvline(reference, color="0.25", linestyle="--", linewidth=1.2, zorder=1, gid="reference")
    text = f"{label}: {_format(reference, percent)}" if label else _format(reference, percent)
    return Line2D([], [], color="0.25", linestyle="--", linewidth=1.2, label=text)


def _x_limits(axes, values: list, percent: bool) -> None:
    values = np.asarray([v for v in values if v is not None], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        lo, hi = (0.0, 1.0)
    else:
        lo, hi = values.min(), values.max()
        pad = 0.05 * (hi - lo) if hi > lo else max(0.05 * abs(hi), 0.05)
        lo, hi = (max(0.0, lo - pad) if (percent and lo >= 0) else lo - pad), hi + pad
    axes[-1].set_xlim(lo, hi)
    if percent:
        axes[-1].xaxis.set_major_formatter(_Percent())


def _finish(fig, axes, xlabel: str, title: str, handles: list) -> None:
    for ax in axes[:-1]:
        ax.tick_params(axis="x", labelbottom=False, length=0)
    axes[-1].set_xlabel(xlabel)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(2, len(handles)),
                   frameon=False, fontsize="small")
    if title:
        fig.suptitle(title, fontweight="bold")


def _withheld_patch(min_n: int) -> Patch:
    # a row is withheld for a small group, to protect another, or for a small count behind its share (28 of
    # 32 students, 4 without): "fewer than 10 students" alone would misread a withheld group of 32
    return Patch(facecolor=_WITHHELD_FACE, edgecolor=_WITHHELD_EDGE, hatch=_HATCH,
                 label=f"withheld to protect fewer than {min_n} students")


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _levels(series: pd.Series) -> list:
    return list(dict.fromkeys(series.tolist()))


def _grid_ticks(ax, row_labels, column_labels) -> None:
    ax.set_xticks(np.arange(len(column_labels)) + 0.5, labels=[_plain(c) for c in column_labels])
    ax.set_yticks(np.arange(len(row_labels)) + 0.5, labels=[_plain(r) for r in row_labels])
    ax.set_xlim(0, len(column_labels))
    ax.set_ylim(len(row_labels), 0)
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if max((len(_plain(c)) for c in column_labels), default=0) * len(column_labels) > 70:
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")


def _withheld_cell(ax, row: int, column: int, text: str) -> None:
    ax.add_patch(Rectangle((column, row), 1, 1, facecolor=_WITHHELD_FACE, edgecolor=_WITHHELD_EDGE,
                           hatch=_HATCH, linewidth=0, zorder=1, gid="withheld"))
    ax.text(column + 0.5, row + 0.5, text, ha="center", va="center", fontsize="small", color="black",
            zorder=3, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"})


def _grid_height(n_rows: int, title: str) -> float:
    return max(2.8, 0.55 * n_rows + 2.0 + (0.4 if title else 0.0))


# --------------------------------------------------------------------------- rows (forest, boxes)


def _row_data(table: pd.DataFrame, group: str | Sequence[str], facet: str | None, min_n: int,
              values: Sequence[str], complete: Sequence[str]):
    """The rows of a forest or box chart, after the release gate: ``(data, labels, n, withheld, numbers, codes)``.

    ``numbers`` holds ``values`` as floats from the released table: NaN on
    withheld rows (``suppressed``, n under ``min_n``, or withheld by the gate) and
    wherever the gate blanked a cell. ``codes`` holds the code of a top- or
    bottom-coded share (drawn as its code, without interval); any other row
    missing one of ``complete`` is withheld.
    """
    columns = [group] if isinstance(group, str) else list(group)
    _require(table, [*columns, "n", *values] + ([facet] if facet else []))
    original = table.reset_index(drop=True)
    data = _released(original, min_n, labels=[*columns, facet])
    withheld = _withheld(data, min_n) | _row_withheld(data[STATUS_COLUMN])
    numbers = data[list(values)].apply(pd.to_numeric, errors="coerce").astype(float).where(~withheld)
    codes = _codes(original, data, complete[0]).where(~withheld, "")
    withheld |= numbers[list(complete)].isna().any(axis=1) & (codes == "")
    return data, _labels(data, columns), _numeric_n(data), withheld, numbers, codes


def _row_axes(data: pd.DataFrame, facet: str | None, labels: list[str], n: pd.Series, withheld: pd.Series,
              min_n: int, title: str, legend_rows: int = 1):
    """Stacked panels (one per ``facet`` value) with each row's label and n, and a hatched
    band for each withheld row. Returns the figure and, per panel, ``(ax, shown)`` with
    ``shown`` the ``(y, row)`` of the rows left for the caller to draw."""
    panels = _panels(data, facet)
    fig, axes = _stacked_axes(panels, title, legend_rows)
    status = data[STATUS_COLUMN]
    drawn = []
    for ax, (name, rows) in zip(axes, panels):
        _style_rows(ax, [labels[i] for i in rows], name)
        shown = []
        for y, i in enumerate(rows):
            if withheld[i]:
                _withheld_row(ax, y, _withheld_text(n[i], min_n, status[i]))
                _n_column(ax, y, _withheld_n_label(n[i], min_n, status[i]))
            else:
                _n_column(ax, y, _n_label(n[i], min_n))
                shown.append((y, i))
        drawn.append((ax, shown))
    return fig, drawn


def _finish_rows(fig, drawn, handles: list, *, values: list, reference, reference_label: str,
                 percent: bool, withheld: pd.Series, min_n: int, xlabel: str, title: str) -> None:
    """The reference line, the withheld legend entry, the shared x axis and the legend."""
    axes = [ax for ax, _ in drawn]
    line = _reference(axes, reference, reference_label, percent)
    if line is not None:
        handles.append(line)
    if withheld.any():
        handles.append(_withheld_patch(min_n))
    _x_limits(axes, [*values, reference], percent)
    _finish(fig, axes, xlabel, title, handles)
    _codes_inside(axes)


# --------------------------------------------------------------------------- forest


@_literal_text
def forest(table: pd.DataFrame, *, group: str | Sequence[str], facet: str | None = None,
           reference: float | None = None, xlabel: str, percent: bool = False, min_n: int = 10,
           title: str = "", reference_label: str = "district") -> plt.Figure:
    """An estimate and its interval for each group, one row per group.

    Each row shows a point at ``estimate`` and a horizontal line from ``low`` to
    ``high``, with its n at the right edge. Flagged rows (``flagged`` true: the
    gap with the comparator survives the false-discovery control) get a filled
    diamond instead of an open circle. Withheld rows (``suppressed`` true, or n
    under ``min_n``) show a hatched band and the words "withheld (n<10)" and no
    number at all.

    Parameters
    ----------
    table : DataFrame
        Already aggregated, one row per group, e.g. from
        :func:`~equity_audit.disaggregate.disaggregate`: ``group`` (and
        ``facet``) columns, ``n``, ``estimate``, ``low``, ``high``, and optionally
        ``suppressed`` and ``flagged``. A published n of ``"<10"`` counts as withheld.
    group : str or list of str
        Column(s) naming the rows; several are joined with commas.
    facet : str, optional
        Column splitting the rows into stacked panels that share the x axis,
        e.g. ``subgroup`` with "race_ethnicity", "english_learner".
    reference : float, optional
        x of a dashed vertical line, e.g. the district rate, labelled in the legend.
    xlabel : str
        Axis label in plain words.
    percent : bool
        Format the x axis (and the reference) as percents of 1.
    min_n : int
        Rows with fewer students are withheld.
    title : str
        Figure title.
    reference_label : str
        What the reference line is, e.g. "district rate".

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> table = pd.DataFrame({"group": ["Asian", "Black", "Pacific Islander"], "n": [120, 95, 4],
    ...                       "estimate": [0.21, 0.34, None], "low": [0.14, 0.25, None],
    ...                       "high": [0.29, 0.44, None], "suppressed": [False, False, True],
    ...                       "flagged": [False, True, False]})
    >>> fig = forest(table, group="group", xlabel="Below pace", percent=True, reference=0.25)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['n=120', 'n=95', 'withheld (n<10)', 'n<10']
    >>> plt.close(fig)
    """
    data, labels, n, withheld, numbers, codes = _row_data(table, group, facet, min_n,
                                                          ("estimate", "low", "high"), complete=("estimate",))
    flagged = _flagged(data) & ~withheld
    estimate, low, high = numbers["estimate"], numbers["low"], numbers["high"]
    colours = sns.color_palette(PALETTE)
    plain_style = {"marker": "o", "color": colours[0], "markerfacecolor": "white",
                   "markeredgewidth": 1.6, "markersize": 7}
    flag_style = {"marker": "D", "color": colours[3], "markerfacecolor": colours[3],
                  "markeredgewidth": 1.0, "markersize": 7}

    fig, drawn = _row_axes(data, facet, labels, n, withheld, min_n, title)
    bounds = []
    for ax, shown in drawn:
        for y, i in shown:
            style = flag_style if flagged[i] else plain_style
            if codes[i]:
                bounds.append(_coded_mark(ax, y, codes[i], style))
                continue
            xerr = None
            if np.isfinite(low[i]) and np.isfinite(high[i]):
                xerr = [[max(0.0, estimate[i] - low[i])], [max(0.0, high[i] - estimate[i])]]
            ax.errorbar([estimate[i]], [y], xerr=xerr, fmt=style["marker"], color=style["color"],
                        markerfacecolor=style["markerfacecolor"],
                        markeredgewidth=style["markeredgewidth"], markersize=style["markersize"],
                        elinewidth=1.8, capsize=3, zorder=3)

    handles = [Line2D([], [], linestyle="-", label="estimate with its interval", **plain_style)]
    if "flagged" in data:
        handles.append(Line2D([], [], linestyle="-", label=FLAGGED_LABEL, **flag_style))
    if bounds:
        handles.append(Line2D([], [], linestyle="none", marker=">", color="0.3",
                              label="share coded at the top or bottom: its value and interval are withheld"))
    _finish_rows(fig, drawn, handles, values=[*estimate, *low, *high, *bounds], reference=reference,
                 reference_label=reference_label, percent=percent, withheld=withheld, min_n=min_n,
                 xlabel=xlabel, title=title)
    return fig


def _coded_mark(ax, y: float, code: str, style: dict) -> float:
    """A coded share: an arrowhead at its bound pointing the way of the code, and the code
    written beside it; no point estimate and no interval."""
    bound = _code_bound(code)
    top = code.strip().startswith("≥")
    ax.plot([bound], [y], linestyle="none", marker=">" if top else "<", color=style["color"],
            markersize=8, zorder=3, gid="coded")
    ax.annotate(code, (bound, y), xytext=(-8 if top else 8, 0), textcoords="offset points",
                ha="right" if top else "left", va="center", fontsize="small", color="0.15", zorder=4,
                gid="code")
    return bound


def _codes_inside(axes) -> None:
    """Move a code written past the edge of its panel (where the n column is) to the marker's other side."""
    renderer = axes[0].figure.canvas.get_renderer()
    for ax in axes:
        box = ax.get_window_extent(renderer)
        for text in [t for t in ax.texts if t.get_gid() == "code"]:
            extent = text.get_window_extent(renderer)
            if extent.x1 > box.x1:
                text.set_horizontalalignment("right")
                text.set_position((-12, 0))
            elif extent.x0 < box.x0:
                text.set_horizontalalignment("left")
                text.set_position((12, 0))


# --------------------------------------------------------------------------- quantile boxes

_QUANTILES = ("q05", "q25", "q50", "q75", "q95")


@_literal_text
def quantile_boxes(quantiles: pd.DataFrame, *, group: str | Sequence[str], facet: str | None = None,
                   xlabel: str, reference: float | None = None, min_n: int = 10, title: str = "",
                   percent: bool = False, reference_label: str = "district") -> plt.Figure:
    """Horizontal box plots drawn from precomputed quantiles, one per group.

    The box spans the 25th to 75th percentile with a line at the median and
    whiskers reach the 5th and 95th percentiles. No individual students are
    drawn: there are no outlier points. Groups with n under ``min_n`` (or
    ``suppressed``) show a hatched band and "withheld (n<10)".

    Parameters
    ----------
    quantiles : DataFrame
        One row per group: ``group`` (and ``facet``) columns, ``q05``, ``q25``,
        ``q50``, ``q75``, ``q95`` and ``n``; optionally ``suppressed``.
    group : str or list of str
        Column(s) naming the rows.
    facet : str, optional
        Column splitting the rows into stacked panels sharing the x axis.
    xlabel : str
        Axis label in plain words.
    reference : float, optional
        x of a dashed vertical line, e.g. the district median.
    min_n : int
        Groups with fewer students are withheld.
    title : str
        Figure title.
    percent : bool
        Format the x axis as percents of 1.
    reference_label : str
        What the reference line is.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> q = pd.DataFrame({"group": ["Yes", "No", "Unknown"], "n": [80, 300, 6],
    ...                   "q05": [0.0, 0.0, None], "q25": [0.5, 0.0, None], "q50": [1.0, 0.5, None],
    ...                   "q75": [2.0, 1.0, None], "q95": [3.0, 2.0, None]})
    >>> fig = quantile_boxes(q, group="group", xlabel="Levels behind")
    >>> len(fig.axes[0].patches) - 1  # two boxes and one withheld band
    2
    >>> plt.close(fig)
    """
    data, labels, n, withheld, values, _codes_ = _row_data(quantiles, group, facet, min_n, _QUANTILES,
                                                           complete=_QUANTILES)
    colours = sns.color_palette(PALETTE)
    face = sns.light_palette(colours[0], 4)[1]

    fig, drawn = _row_axes(data, facet, labels, n, withheld, min_n, title, legend_rows=2)
    for ax, shown in drawn:
        stats = [dict(zip(("whislo", "q1", "med", "q3", "whishi"), values.loc[i, list(_QUANTILES)]),
                      fliers=np.array([]), label=labels[i]) for _, i in shown]
        if stats:
            ax.bxp(stats, positions=[y for y, _ in shown], orientation="horizontal", widths=0.55,
                   patch_artist=True, showfliers=False, manage_ticks=False,
                   boxprops={"facecolor": face, "edgecolor": colours[0], "linewidth": 1.4},
                   medianprops={"color": "black", "linewidth": 2.2},
                   whiskerprops={"color": colours[0], "linewidth": 1.4},
                   capprops={"color": colours[0], "linewidth": 1.4})

    handles = [Patch(facecolor=face, edgecolor=colours[0],
                     label="middle half (25th to 75th percentile)"),
               Line2D([], [], color="black", linewidth=2.2, label="median"),
               Line2D([], [], color=colours[0], linewidth=1.4, marker="|", markersize=8,
                      label="whiskers: 5th to 95th percentile")]
    _finish_rows(fig, drawn, handles, values=values.to_numpy().ravel(), reference=reference,
                 reference_label=reference_label, percent=percent, withheld=withheld, min_n=min_n,
                 xlabel=xlabel, title=title)
    return fig


# --------------------------------------------------------------------------- heat maps


def _cell_set(frame: pd.DataFrame, cells, what: str) -> list[tuple[int, int]]:
    rows, columns = list(frame.index), list(frame.columns)
    found = []
    for row, column in cells:
        if row not in rows or column not in columns:
            raise KeyError(f"{what} cell ({row!r}, {column!r}) is not in the table; rows are {rows} "
                           f"and columns {columns}")
        found.append((rows.index(row), columns.index(column)))
    return found


def _outline(ax, cells: list[tuple[int, int]], colour) -> None:
    """One rectangle around a rectangular block of cells, else one per cell."""
    if not cells:
        return
    rows = [r for r, _ in cells]
    columns = [c for _, c in cells]
    block = {(r, c) for r in range(min(rows), max(rows) + 1)
             for c in range(min(columns), max(columns) + 1)}
    boxes = ([(min(rows), min(columns), max(rows) - min(rows) + 1, max(columns) - min(columns) + 1)]
             if block == set(cells) else [(r, c, 1, 1) for r, c in cells])
    for r, c, height, width in boxes:
        ax.add_patch(Rectangle((c + 0.04, r + 0.04), width - 0.08, height - 0.08, fill=False,
                               edgecolor=colour, linewidth=4, zorder=6, gid="highlight",
                               clip_on=False))


@_literal_text
def count_heatmap(counts: pd.DataFrame, *, min_n: int = 10, xlabel: str, ylabel: str,
                  title: str = "", highlight: Sequence[tuple] | None = None,
                  highlight_label: str | None = None) -> plt.Figure:
    """A two-way table of counts as an annotated heat map (cividis).

    Every cell is written out. Cells with 0 < n < ``min_n`` are hatched grey
    and read "<10"; their count is neither written nor coloured. Row and
    column totals are left off so the small cells cannot be worked back out.

    Parameters
    ----------
    counts : DataFrame
        Counts of students, rows by columns (e.g. levels-behind band by pace
        band); index and column labels become the tick labels.
    min_n : int
        Smallest count shown.
    xlabel, ylabel : str
        Axis labels in plain words.
    title : str
        Figure title.
    highlight : list of (row label, column label), optional
        Cells outlined with a thick border, e.g. the "2+ behind and below pace"
        quadrant; a rectangular block gets one outline.
    highlight_label : str, optional
        Legend entry for the outline.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> counts = pd.DataFrame({"on pace": [120, 40], "below pace": [35, 4]},
    ...                       index=["0-1 behind", "2+ behind"])
    >>> fig = count_heatmap(counts, xlabel="Pace", ylabel="Levels behind",
    ...                     highlight=[("2+ behind", "below pace")])
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['120', '35', '40', '<10']
    >>> plt.close(fig)
    """
    values = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    small = _gated_counts(counts, values, min_n)
    shown = np.where(small, np.nan, values)
    top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
    norm = Normalize(0, max(top, 1.0))
    cmap = plt.get_cmap("cividis")
    n_rows, n_columns = values.shape
    fig, ax = plt.subplots(figsize=(_WIDTH, _grid_height(n_rows, title)), layout="constrained")
    mesh = ax.pcolormesh(np.ma.masked_invalid(shown), cmap=cmap, norm=norm, edgecolors="white",
                         linewidth=2)
    for r in range(n_rows):
        for c in range(n_columns):
            if small[r, c]:
                _withheld_cell(ax, r, c, f"<{min_n}")
            elif np.isfinite(values[r, c]):
                ax.text(c + 0.5, r + 0.5, f"{values[r, c]:,.0f}", ha="center", va="center",
                        color=_text_colour(cmap(norm(values[r, c]))), fontsize="medium", zorder=3)
            else:
                ax.text(c + 0.5, r + 0.5, "no data", ha="center", va="center", color="0.3",
                        fontsize="small", zorder=3)
    _grid_ticks(ax, list(counts.index), list(counts.columns))
    ax.set(xlabel=xlabel, ylabel=ylabel)
    bar = fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02)
    bar.set_label("students")
    bar.outline.set_visible(False)
    handles = []
    if highlight:
        colour = sns.color_palette(PALETTE)[3]
        _outline(ax, _cell_set(counts, highlight, "highlight"), colour)
        if highlight_label:
            handles.append(Patch(fill=False, edgecolor=colour, linewidth=3, label=highlight_label))
    if small.any():
        handles.append(_withheld_patch(min_n))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
                   fontsize="small")
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


def _gated_counts(counts: pd.DataFrame, values: np.ndarray, min_n: int) -> np.ndarray:
    """Cells of a wide count table that the release gate blanks (counts from 1 to ``min_n - 1``)."""
    frame = pd.DataFrame(values, columns=[f"c{j}" for j in range(values.shape[1])])
    frame.insert(0, "row", [str(r) for r in counts.index])
    released = protect(frame, min_n=min_n)
    gated = released[frame.columns[1:]].apply(pd.to_numeric, errors="coerce").isna().to_numpy()
    return (gated & np.isfinite(values)) | ((values > 0) & (values < min_n))


@_literal_text
def rate_heatmap(table: pd.DataFrame, *, rows: str, columns: str, value: str = "estimate",
                 min_n: int = 10, percent: bool = True, title: str = "", flagged_marker: bool = True,
                 center: float | None = None, label: str | None = None) -> plt.Figure:
    """An intersection heat map: ``rows`` by ``columns`` cells coloured by ``value``.

    Each cell is written out as the value over its n ("34%" then "n=120").
    Withheld cells (``suppressed``, or n under ``min_n``) are hatched grey and
    read "n<10"; their value is neither written nor coloured. With
    ``flagged_marker``, flagged cells carry a "▲" after the value and the
    legend under the chart explains it.

    Parameters
    ----------
    table : DataFrame
        A two-way table from :func:`~equity_audit.disaggregate.disaggregate`
        (one row per cell: ``rows`` and ``columns`` columns, ``n``, ``value``,
        and optionally ``suppressed`` and ``flagged``).
    rows, columns : str
        The two grouping columns.
    value : str
        Column to colour and write, e.g. "estimate", "difference", "shrunk_estimate".
    min_n : int
        Cells with fewer students are withheld.
    percent : bool
        Write values (and the colour bar) as percents of 1.
    title : str
        Figure title.
    flagged_marker : bool
        Mark flagged cells with "▲".
    center : float, optional
        Colour around this midpoint with a diverging colour-blind-safe map
        (PuOr), e.g. 0 for a difference; sequential cividis otherwise. With
        ``percent``, values are then written as signed percentage points ("+12 pts").
    label : str, optional
        Colour bar label; defaults to ``value`` in plain words.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> table = pd.DataFrame({"race": ["A", "A", "B", "B"], "el": ["No", "Yes", "No", "Yes"],
    ...                       "n": [140, 60, 90, 7], "estimate": [0.2, 0.45, 0.25, None],
    ...                       "suppressed": [False, False, False, True],
    ...                       "flagged": [False, True, False, False]})
    >>> fig = rate_heatmap(table, rows="race", columns="el")
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['20%\\nn=140', '45% ▲\\nn=60', '25%\\nn=90', 'n<10']
    >>> plt.close(fig)
    """
    _require(table, [rows, columns, "n", value])
    original = table.reset_index(drop=True)
    if original.duplicated([rows, columns]).any():
        raise ValueError(f"more than one row per ({rows}, {columns}) cell: filter the table to two "
                         "grouping columns first")
    data = _released(original, min_n, labels=[rows, columns])
    status = data[STATUS_COLUMN]
    withheld = _withheld(data, min_n) | _row_withheld(status)
    flagged = _flagged(data) & ~withheld
    numbers = pd.to_numeric(data[value], errors="coerce").astype(float).where(~withheld)
    codes = _codes(original, data, "estimate" if "estimate" in original else value).where(~withheld, "")
    n = _numeric_n(data)
    row_levels, column_levels = _levels(data[rows]), _levels(data[columns])
    where = {(r, c): i for i, (r, c) in enumerate(zip(data[rows], data[columns]))}
    grid = np.full((len(row_levels), len(column_levels)), np.nan)
    for (r, c), i in where.items():
        grid[row_levels.index(r), column_levels.index(c)] = numbers[i]

    finite = grid[np.isfinite(grid)]
    if center is not None:
        spread = max(np.abs(finite - center).max(), 1e-9) if finite.size else 1.0
        norm = TwoSlopeNorm(center, center - spread, center + spread)
        cmap = plt.get_cmap("PuOr")
    else:
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1e-9)
        cmap = plt.get_cmap("cividis")
    fig, ax = plt.subplots(figsize=(_WIDTH, _grid_height(len(row_levels), title)),
                           layout="constrained")
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, edgecolors="white",
                         linewidth=2)
    for r, row in enumerate(row_levels):
        for c, column in enumerate(column_levels):
            i = where.get((row, column))
            if i is None:
                ax.text(c + 0.5, r + 0.5, "no data", ha="center", va="center", color="0.3",
                        fontsize="small")
            elif withheld[i]:
                if n[i] == 0:
                    ax.add_patch(Rectangle((c, r), 1, 1, facecolor="0.96", linewidth=0, zorder=1))
                    ax.text(c + 0.5, r + 0.5, "no students", ha="center", va="center",
                            fontsize="small", color="0.3", zorder=3)
                else:
                    _withheld_cell(ax, r, c, _withheld_n_label(n[i], min_n, status[i]) or "withheld")
            elif codes[i]:
                mark = " ▲" if flagged_marker and flagged[i] else ""
                ax.add_patch(Rectangle((c, r), 1, 1, facecolor="0.96", linewidth=0, zorder=1, gid="coded"))
                ax.text(c + 0.5, r + 0.5, f"{codes[i]}{mark}\n{_n_label(n[i], min_n)}", ha="center",
                        va="center", fontsize="medium", linespacing=1.3, color="black", zorder=3,
                        fontweight="bold" if mark else "normal")
            elif not np.isfinite(numbers[i]) and pd.notna(original.at[i, value]):
                _withheld_cell(ax, r, c, "withheld")
            elif not np.isfinite(numbers[i]):
                ax.text(c + 0.5, r + 0.5, f"no value\n{_n_label(n[i], min_n)}", ha="center",
                        va="center", color="0.3", fontsize="small")
            else:
                mark = " ▲" if flagged_marker and flagged[i] else ""
                written = _format(numbers[i], percent, signed=center is not None)
                ax.text(c + 0.5, r + 0.5, f"{written}{mark}\n{_n_label(n[i], min_n)}",
                        ha="center", va="center", fontsize="medium", linespacing=1.3,
                        color=_text_colour(cmap(norm(numbers[i]))), zorder=3,
                        fontweight="bold" if mark else "normal")
    _grid_ticks(ax, row_levels, column_levels)
    ax.set(xlabel=display_name(columns), ylabel=display_name(rows))
    bar = fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02)
    bar.set_label(label or display_name(value))
    bar.outline.set_visible(False)
    if percent and center is not None:
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: _format(x, True, signed=True)))
    elif percent:
        bar.ax.yaxis.set_major_formatter(_Percent())
    handles = []
    if flagged_marker and "flagged" in data:
        handles.append(Line2D([], [], linestyle="none", marker="^", color="black", markersize=8,
                              label=FLAGGED_LABEL))
    if withheld.any():
        handles.append(_withheld_patch(min_n))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=1, frameon=False,
                   fontsize="small")
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig


# --------------------------------------------------------------------------- funnel


#: What a funnel's dot is, by the column that names it.
_UNIT_WORDS = {"school": "school", "school_name": "school", "plc_id": "PLC", "plc": "PLC"}


@_literal_text
def funnel(scan: pd.DataFrame, *, label: str | None = None, xlabel: str = "Students", ylabel: str,
           percent: bool = True, min_n: int = 10, title: str = "", target: float | None = None,
           tau2: float | None = None, z: tuple[float, float] | None = None) -> plt.Figure:
    """A funnel plot of one rate across units, from :func:`~equity_audit.scans.scan_rates`.

    Each unit is a dot at its number of students (x) and its rate (y). A solid
    line marks the target (pooled) rate, dashed curves the 95 % limits and
    dotted curves the 99.8 % limits around it, both widened for overdispersion
    when the scan was. Units outside the 99.8 % limits are filled diamonds
    (not only a colour), named by the ``label`` column when one is given; for
    teachers pass no label. Units under ``min_n`` (or ``suppressed``) are not
    drawn: a note under the chart says how many were left off. Every dot is a
    unit, never a student.

    Parameters
    ----------
    scan : DataFrame
        One row per unit from :func:`~equity_audit.scans.scan_rates` (``n``,
        ``rate``, optionally ``suppressed``) with its ``attrs`` (``target``,
        ``tau2_used``, ``z``). A stacked yearly scan has no single target:
        pass one year's rows with ``target``, ``tau2`` and ``z`` from
        ``attrs["by_year"][year]``. A clustered scan (with ``design_effect``)
        draws each unit at its effective size, ``n`` over its design effect,
        where its limits were judged.
    label : str, optional
        Column naming the units outside the 99.8 % limits, e.g. "school_name";
        ``school`` and ``plc_id`` also name what a dot is in the legend and notes
        ("school", "PLC"; else "unit").
    xlabel, ylabel : str
        Axis labels in plain words.
    percent : bool, default True
        Write the rates as percents.
    min_n : int, default 10
        Units with fewer students are not drawn.
    title : str
        Figure title.
    target, tau2, z : optional
        Override the target rate, the between-unit variance τ² used in the
        limits, and the (95 %, 99.8 %) normal quantiles read from ``attrs``.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from equity_audit.scans import scan_rates
    >>> counts = {"A": (20, 200), "B": (24, 300), "C": (80, 250), "D": (15, 150), "E": (9, 100),
    ...           "F": (33, 320), "G": (18, 180), "H": (3, 6)}   # school: (suspended, students)
    >>> data = pd.DataFrame([(school, int(i < x)) for school, (x, n) in counts.items()
    ...                      for i in range(n)], columns=["school", "oss"])
    >>> fig = funnel(scan_rates(data, unit="school", outcome="oss"), label="school",
    ...              ylabel="Suspended at least once")
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['C']
    >>> fig.texts[0].get_text().split(". ")[0]
    '1 school with fewer than 10 students not shown'
    >>> plt.close(fig)
    """
    from equity_audit import stats

    _require(scan, ["n", "rate"])
    unit = _UNIT_WORDS.get(label, "unit")
    attrs = scan.attrs
    target = attrs.get("target") if target is None else target
    tau2 = attrs.get("tau2_used") if tau2 is None else tau2
    z95, z998 = attrs.get("z", (1.959964, 3.090232)) if z is None else z
    if target is None or tau2 is None:
        raise ValueError("funnel needs the scan's target and tau2: pass one scan_rates result "
                         "(its attrs carry them) or give target= and tau2=")
    original = scan.reset_index(drop=True)
    data = _released(original, min_n, labels=[label])
    status = data[STATUS_COLUMN]
    rate = pd.to_numeric(data["rate"], errors="coerce").astype(float)
    withheld = _withheld(data, min_n) | _row_withheld(status)
    codes = _codes(original, data, "rate").where(~withheld, "")
    small = withheld & pd.Series([_small(v, min_n, st) for v, st in zip(_numeric_n(data), status)],
                                 index=data.index)
    coded_n, coded_at = _numeric_n(data)[codes != ""].to_numpy(), codes[codes != ""].map(_code_bound).to_numpy()
    protecting = int((withheld & ~small).sum())
    ranges = _count_ranges(data, status, rate, withheld, min_n)
    withheld |= rate.isna()
    n = _numeric_n(data)[~withheld].to_numpy()
    if "design_effect" in data:  # a clustered scan: each unit at its effective size, where it was tested
        n = np.round(n / pd.to_numeric(data.loc[~withheld, "design_effect"], errors="coerce").fillna(1.0).to_numpy())
    rate = rate[~withheld].to_numpy()
    outer_low, outer_high = stats.funnel_limits(target, n, z998, tau2)
    outside = (rate > outer_high) | (rate < outer_low)
    colours = sns.color_palette(PALETTE)

    fig, ax = plt.subplots(figsize=(_WIDTH, 5.2), layout="constrained")
    every_n = np.concatenate([n, ranges["n"].to_numpy()])
    top = max(every_n.max() if every_n.size else min_n, min_n) * 1.08
    grid = np.linspace(max(1.0, 0.9 * (every_n.min() if every_n.size else min_n)), top, 300)
    ax.axhline(target, color="0.2", linewidth=1.4, zorder=2, gid="target")
    styles = [(z95, "--", colours[0], "limit_95", "95% limits"),
              (z998, ":", colours[4], "limit_998", "99.8% limits")]
    handles = [Line2D([], [], color="0.2", linewidth=1.4,
                      label=f"district rate: {_format(target, percent)}")]
    for quantile, style, colour, gid, name in styles:
        low, high = stats.funnel_limits(target, grid, quantile, tau2)
        for curve in (low, high):
            ax.plot(grid, curve, linestyle=style, color=colour, linewidth=1.6, gid=gid, zorder=2)
        handles.append(Line2D([], [], linestyle=style, color=colour, linewidth=1.6, label=name))
    ax.scatter(n[~outside], rate[~outside], s=36, marker="o", facecolors="white",
               edgecolors=colours[0], linewidths=1.4, zorder=3, gid="inside")
    # a unit outside the limits whose school's other units fare alike (scans.against_school_colleagues):
    # the pattern may be the school's, so it is drawn apart
    like_school = (data.loc[~withheld, COLLEAGUE_COLUMN].astype(str).eq("similar").to_numpy()
                   if COLLEAGUE_COLUMN in data else np.zeros(len(n), bool))
    alone = outside & ~like_school
    ax.scatter(n[alone], rate[alone], s=64, marker="D", color=colours[3], edgecolors="black",
               linewidths=0.6, zorder=4, gid="outside")
    if (outside & like_school).any():
        ax.scatter(n[outside & like_school], rate[outside & like_school], s=64, marker="D", facecolors="white",
                   edgecolors=colours[3], linewidths=1.8, zorder=4, gid="outside_like_school")
    if coded_n.size:  # a coded share is drawn at its bound, pointing the way of its code
        top_coded = codes[codes != ""].str.strip().str.startswith("≥").to_numpy()
        for marker, rows, words in (("^", top_coded, "at or above"), ("v", ~top_coded, "at or below")):
            if rows.any():
                ax.scatter(coded_n[rows], coded_at[rows], s=48, marker=marker, facecolors="white",
                           edgecolors="0.3", linewidths=1.2, zorder=3, gid="coded")
                handles.append(Line2D([], [], linestyle="none", marker=marker, markerfacecolor="white",
                                      markeredgecolor="0.3", label=f"share coded {words} the mark"))
    if len(ranges):  # a count under min_n is not printed: the unit's rate is drawn as the range it leaves
        ax.vlines(ranges["n"], ranges["low"], ranges["high"], color="0.3", linewidth=2.2, zorder=3,
                  gid="range")
        handles.append(Line2D([], [], color="0.3", linewidth=2.2,
                              label=f"rate range (fewer than {min_n} students counted)"))
    handles += [Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                       markeredgecolor=colours[0], markeredgewidth=1.4, label=unit),
                Line2D([], [], linestyle="none", marker="D", color=colours[3],
                       markeredgecolor="black", label="outside the 99.8% limits")]
    if (outside & like_school).any():
        handles.append(Line2D([], [], linestyle="none", marker="D", markerfacecolor="white",
                              markeredgecolor=colours[3], markeredgewidth=1.8,
                              label=f"outside, like the other {unit}s\nof its school"))
    if label is not None:
        names = data.loc[~withheld, label].astype(str).to_numpy()
        for x, y, name in zip(n[outside], rate[outside], names[outside]):
            ax.annotate(_plain(name), (x, y), xytext=(6, 6), textcoords="offset points",
                        fontsize="small", zorder=5)
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, top))
    ax.set_ylim(bottom=0)
    if percent:
        ax.yaxis.set_major_formatter(_Percent())
    notes = []
    left_off = int(small.sum())
    if left_off:
        notes.append(f"{left_off} {unit}{'s' if left_off != 1 else ''} with fewer than {min_n} "
                     "students not shown.")
    if protecting:
        notes.append(f"{protecting} more {unit}{'s' if protecting != 1 else ''} withheld so that "
                     "small ones cannot be worked out, not shown.")
    if len(ranges):
        notes.append(f"{len(ranges)} {unit}{'s' if len(ranges) != 1 else ''} with fewer than {min_n} students "
                     "with (or without) the outcome drawn as the range of rates that count allows.")
    if tau2 > 0:
        notes.append("Limits widened for the spread between units that chance does not explain "
                     "(overdispersion).")
    if notes:
        # a figure-level label, so that constrained layout keeps the legend clear of it
        fig.supxlabel(textwrap.fill(" ".join(notes), 120), x=0.01, ha="left", fontsize="small",
                      color="0.25", gid="note")
    fig.legend(handles=handles, loc="outside right upper", ncols=1, frameon=False,
               fontsize="small")
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig
