"""Showing results in a notebook so the rendered report stays accessible.

Figures carry alt text that states the finding and a caption; tables carry a
caption. The report template (``templates/audit``) turns both into numbered
``<figure>`` elements.

What a table shows passes the same release gate as what the run writes
(:func:`equity_audit.publish.release.protect`): a withheld row shows no
estimate, interval or comparison and its n only as "fewer than 10" or
"withheld", a coded share ("≥ 95%") shows its code without interval,
difference or ratio, and a count from 1 to ``min_n - 1`` shows as
"fewer than 10". Charts (:mod:`equity_audit.publish.plots`) draw from the
same gate.

Examples
--------
>>> import pandas as pd
>>> show_table(pd.DataFrame({"n": [1]}), caption="One row")  # doctest: +SKIP
"""
from __future__ import annotations

import base64
import io
import re
from html import escape

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Markdown, display

from equity_audit.data.dictionary import display_name
from equity_audit.privacy import top_bottom_code
from equity_audit.publish.plots import LAID_OUT, LITERAL_TEXT, DrawnFigure, remember_drawn
from equity_audit.publish.release import NOT_GATED, STATUS_COLUMN, protect, shown_min_n

__all__ = ["show_figure", "show_table", "show_text", "save_figure", "released_view"]


def show_figure(fig: "plt.Figure | DrawnFigure", *, alt: str, caption: str, save_to=None) -> None:
    """Display ``fig`` with alt text and a caption, then close it.

    Closing matters: otherwise the inline backend shows the figure a second time
    without alt text. ``save_to`` also writes the PNG (a path) for the run.
    """
    if not alt.strip() or not caption.strip():
        raise ValueError("Every figure needs alt text and a caption.")
    if isinstance(fig, DrawnFigure):  # the same chart as one shown before (plots.reuse_drawn)
        drawn = fig.png
    else:
        drawn = _png(fig)
        plt.close(fig)
        remember_drawn(fig, drawn)
    if save_to is not None:  # the PNG just drawn: drawing a figure again costs as much as the first time
        _write_png(drawn, save_to)
    png = base64.b64encode(drawn).decode("ascii")
    display({"image/png": png, "text/plain": f"Figure: {caption}"},
            metadata={"image/png": {"alt": alt, "caption": caption}}, raw=True)


def save_figure(fig: plt.Figure, path) -> None:
    """Write ``fig`` as a PNG, creating the folder."""
    _write_png(_png(fig), path)


def _png(fig: plt.Figure) -> bytes:
    """``fig`` as a PNG at the report's resolution, cropped to what it draws.

    A figure of :mod:`~equity_audit.publish.plots` is laid out already: its box is
    measured without drawing it, so saving draws it once.
    """
    buffer = io.BytesIO()
    with plt.rc_context(LITERAL_TEXT):  # a "$" in a label drawn now prints as a dollar sign
        crop = "tight"
        if getattr(fig, LAID_OUT, False) and fig.get_layout_engine() is None:
            crop = fig.get_tightbbox().padded(plt.rcParams["savefig.pad_inches"])
        fig.savefig(buffer, format="png", dpi=110, bbox_inches=crop)
    return buffer.getvalue()


def _write_png(png: bytes, path) -> None:
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)


def show_table(table: pd.DataFrame, *, caption: str, index: bool = False, empty: str = "",
               min_n: int | None = None, name: str | None = None) -> None:
    """Display a table with a caption; an empty table shows the sentence ``empty`` instead.

    The table first passes the release gate (:func:`released_view`), so the report
    shows no more than the released tables. ``min_n`` is the run's setting; without
    it, the ``"<k"`` codes of the table give it, else the default (as in
    :func:`~equity_audit.publish.rundir.write_table`). ``name`` as in ``write_table``:
    the tables of :data:`NOT_ABOUT_STUDENTS` (the row ledger, findings per area)
    count rows of data or findings, not students, and are shown as they are.

    Column names are shown in plain words (``rows_read`` becomes "Rows read"). Cells,
    column names and the caption are HTML-escaped: a value from the data shows as text.
    """
    if table.empty and empty:
        display(Markdown(empty))
        return
    if index:
        table = table.reset_index()
    if name not in NOT_ABOUT_STUDENTS:
        table = released_view(table, min_n=min_n)
    shown = table.rename(columns=display_name)  # headers from the one dictionary of display names
    for column in shown.columns[shown.dtypes == object]:  # to_html's na_rep misses None in text columns
        shown[column] = shown[column].where(shown[column].notna(), "—")
    html = shown.to_html(index=False, border=0, classes="audit-table", na_rep="—", escape=True)
    display(HTML(f'<figure class="audit-table"><figcaption>{escape(caption)}</figcaption>{html}</figure>'))


#: Tables that count rows of data or findings, not students: shown without the gate.
NOT_ABOUT_STUDENTS = (*NOT_GATED, "findings_by_area")

#: Display names of a table's group size, read as ``n`` by the gate.
N_NAMES = ("n", "Students", "Students in group")
#: Columns that name what a row is about (compared without case, spaces as underscores):
#: they stay as they are; every other cell that carries a number is what the gate governs.
LABEL_NAMES = ("subgroup", "group", "school", "intersection", "columns", "statistic", "opportunity",
               "measure", "unit", "plc_id", "school_year", "year", "grade", "construct", "domain",
               "standard", "standard_id", "closer_look", "method", "reading", "pattern", "trend", "priority",
               "rank")
_ROW_WITHHELD = ("small_n", "complementary", "audit")
_CODED = ("top_coded", "bottom_coded")
_CODE = re.compile(r"^\s*(≥|>=|≤|<=)\s*[\d.]+\s*%?\s*$")
_RATES = ("estimate", "rate", "focus_estimate")


def released_view(table: pd.DataFrame, *, min_n: int | None = None) -> pd.DataFrame:
    """``table`` as the report may show it: the release gate applied, reasons written in the cells.

    Works on a computed table (numbers, a ``suppressed`` column) and on one already
    formatted for people (``"34%"``, ``"20% to 40%"``, ``"<10"``, ``"≥ 95%"``). The
    rules are :func:`equity_audit.publish.release.protect`'s; on top of it, a row the
    gate withholds keeps only its labels, and a row holding a coded share keeps only
    its labels, its n and the code, whatever text the other cells hold.

    Parameters
    ----------
    table : pandas.DataFrame
    min_n : int, optional
        The run's ``min_n``; default: from the table's ``"<k"`` codes, else the setting.

    Returns
    -------
    pandas.DataFrame
        Same rows and columns (no ``status`` column unless the table had one).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"Group": ["A", "B", "C"], "Students": ["40", "<10", "25"],
    ...                   "Value": ["34%", "withheld", "≥ 90%"], "95% interval": ["20% to 40%", "withheld", "80% to 100%"]})
    >>> released_view(t, min_n=10).values.tolist()
    [['A', 40, '34%', '20% to 40%'], ['B', 'fewer than 10', 'withheld', 'withheld'], ['C', 25, '≥ 90%', nan]]
    """
    min_n = _run_min_n(table, min_n)
    original = table.reset_index(drop=True)
    n_name = next((c for c in N_NAMES if c in original), None)
    work = original.rename(columns={n_name: "n"}) if n_name not in (None, "n") else original
    released = protect(work, min_n=min_n)
    if STATUS_COLUMN not in released:  # an empty table
        return table
    status = released[STATUS_COLUMN].astype(object).fillna("").astype(str)
    released = released.drop(columns=STATUS_COLUMN) if STATUS_COLUMN not in original else released
    if n_name not in (None, "n"):
        released = released.rename(columns={"n": n_name})
    shown = released.copy()
    labels = [c for c in original.columns if _is_label(c)]
    for column in labels:  # a label that looks like a number ("2025") stays as written
        shown[column] = original[column].astype(object)
    words = status.map(lambda s: {w.split(":")[0] for w in s.split(";") if w})
    # whole words: "audit:n_missing" withholds that column only and leaves the row shown
    withheld = status.map(lambda s: bool(set(s.split(";")) & set(_ROW_WITHHELD))).astype(bool)
    codes = _shown_codes(original, released, words)
    coded = (codes != "") & ~withheld
    values = [c for c in shown.columns if c not in labels and c != n_name and c != STATUS_COLUMN]
    carries_number = shown[values].map(lambda v: v is not None and bool(re.search(r"\d", str(v))))
    for column in values:
        code_here = shown[column].map(lambda v: isinstance(v, str) and bool(_CODE.match(v)))
        blank = (withheld | coded) & carries_number[column] & ~(coded & code_here)
        shown[column] = shown[column].mask(blank, None)
        # a withheld row says so in every cell that had something to say
        had = original[column].map(lambda v: v is not None and not pd.isna(v) and str(v).strip() != "")
        shown[column] = shown[column].mask(withheld & had & ~_said(shown[column]), "withheld")
    # a rate the gate blanked for its code shows the code
    for column in (c for c in _RATES if c in shown):
        fill = coded & shown[column].isna()
        if fill.any():
            shown[column] = shown[column].astype(object).mask(fill, codes)
    # a count the gate blanked shows as "fewer than min_n"
    for column in shown.columns:
        few = status.str.split(";").map(lambda codes, c=column: f"small_count:{c}" in codes).astype(bool)
        if few.any():
            shown[column] = shown[column].astype(object).mask(few, f"fewer than {min_n}")
    if n_name is not None:
        small = words.map(lambda w: "small_n" in w).astype(bool)
        shown[n_name] = (shown[n_name].astype(object).mask(small, f"fewer than {min_n}")
                         .mask(withheld & ~small, "withheld"))
    return shown


def _said(cells: pd.Series) -> pd.Series:
    """Cells that still hold text without a number (a word the gate keeps, like "withheld")."""
    return cells.map(lambda v: v is not None and str(v).strip() != "" and not re.search(r"\d", str(v)))


def _run_min_n(table: pd.DataFrame, min_n: int | None) -> int:
    if min_n is not None:
        return int(min_n)
    from equity_audit.config import Config

    return shown_min_n(table) or Config().min_n


def _is_label(column) -> bool:
    return str(column).strip().lower().replace(" ", "_") in LABEL_NAMES


def _shown_codes(original: pd.DataFrame, released: pd.DataFrame, words: pd.Series) -> pd.Series:
    """Per row, the code of its coded share: written in a cell ("≥ 95%"), or the code of
    a rate the gate coded (from the computed rate and n); "" for other rows."""
    codes = pd.Series("", index=original.index, dtype=object)
    for column in original.columns:
        cells = original[column]
        found = cells.map(lambda v: isinstance(v, str) and bool(_CODE.match(v)))
        codes = codes.mask((codes == "") & found, cells.astype(object))
    gated = words.map(lambda w: bool(w & set(_CODED))).astype(bool) & (codes == "")
    rate = next((c for c in _RATES if c in original), None)
    if gated.any() and rate is not None and "n" in original:
        rates = pd.to_numeric(original[rate], errors="coerce").astype(float).clip(0, 1)
        n = pd.to_numeric(original["n"], errors="coerce").astype(float)
        codes[gated] = top_bottom_code(rates[gated].to_numpy(), n[gated].to_numpy(), scale=1)
    return codes


def show_text(text: str) -> None:
    """Display generated Markdown (numbers written into sentences).

    ``text`` is Markdown the package wrote; any value from the district's data in it
    must already be escaped with :func:`equity_audit.data.text.inert_markdown` (as
    ``findings_markdown`` and ``notes_markdown`` do). The report exporter sanitises
    the result as a second wall.
    """
    display(Markdown(text))
