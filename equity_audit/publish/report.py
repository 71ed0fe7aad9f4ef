"""Showing results in a notebook so the rendered report stays accessible.

Figures carry alt text that states the finding and a caption; tables carry a
caption. The report template (``templates/audit``) turns both into numbered
``<figure>`` elements.

Examples
--------
>>> import pandas as pd
>>> show_table(pd.DataFrame({"n": [1]}), caption="One row")  # doctest: +SKIP
"""
from __future__ import annotations

import base64
import io
from html import escape

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Markdown, display

__all__ = ["show_figure", "show_table", "show_text", "save_figure"]


def show_figure(fig: plt.Figure, *, alt: str, caption: str, save_to=None) -> None:
    """Display ``fig`` with alt text and a caption, then close it.

    Closing matters: otherwise the inline backend shows the figure a second time
    without alt text. ``save_to`` also writes the PNG (a path) for the run.
    """
    if not alt.strip() or not caption.strip():
        raise ValueError("Every figure needs alt text and a caption.")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    if save_to is not None:
        save_figure(fig, save_to)
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    display({"image/png": png, "text/plain": f"Figure: {caption}"},
            metadata={"image/png": {"alt": alt, "caption": caption}}, raw=True)


def save_figure(fig: plt.Figure, path) -> None:
    """Write ``fig`` as a PNG, creating the folder."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")


def show_table(table: pd.DataFrame, *, caption: str, index: bool = False, empty: str = "") -> None:
    """Display a table with a caption; an empty table shows the sentence ``empty`` instead.

    Column names are shown in plain words (``rows_read`` becomes "Rows read"). Cells,
    column names and the caption are HTML-escaped: a value from the data shows as text.
    """
    if table.empty and empty:
        display(Markdown(empty))
        return
    shown = table.rename(columns=lambda c: str(c).replace("_", " ").capitalize())
    html = shown.to_html(index=index, border=0, classes="audit-table", na_rep="—", escape=True)
    display(HTML(f'<figure class="audit-table"><figcaption>{escape(caption)}</figcaption>{html}</figure>'))


def show_text(text: str) -> None:
    """Display generated Markdown (numbers written into sentences).

    ``text`` is Markdown the package wrote; any value from the district's data in it
    must already be escaped with :func:`equity_audit.data.text.inert_markdown` (as
    ``findings_markdown`` and ``notes_markdown`` do). The report exporter sanitises
    the result as a second wall.
    """
    display(Markdown(text))
