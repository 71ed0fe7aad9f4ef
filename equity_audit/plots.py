"""Charts with accessible defaults: a colour-blind-safe palette, direct labels.

Every function returns a matplotlib Figure and draws only values that were
already suppressed; it never reads student-level data.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({2025: [50, 60], 2026: [55, 58]}, index=["K", "1"])
>>> fig = grouped_bars(counts, xlabel="Grade", ylabel="Students")
>>> len(fig.axes)
1
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["theme", "grouped_bars", "share_bars", "PALETTE"]

PALETTE = "colorblind"


def theme() -> None:
    """Set the project's plotting defaults (seaborn whitegrid, colour-blind palette)."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=1.0)


def grouped_bars(counts: pd.DataFrame, *, xlabel: str, ylabel: str, title: str = "") -> plt.Figure:
    """Bars of ``counts`` (rows along the x axis, one colour per column)."""
    long = counts.rename_axis(index="row", columns="series").stack().rename("value").reset_index()
    long["series"] = long["series"].astype(str)
    long["row"] = long["row"].astype(str)
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(long, x="row", y="value", hue="series", ax=ax, palette=PALETTE)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(title=counts.columns.name or "", frameon=False, ncols=min(4, len(counts.columns)))
    fig.tight_layout()
    return fig


def share_bars(table: pd.DataFrame, *, group: str = "group", share: str = "share",
               facet: str = "subgroup", title: str = "") -> plt.Figure:
    """Horizontal bars of shares, one panel per subgroup column, labelled with percents."""
    facets = list(dict.fromkeys(table[facet]))
    heights = [max(1, (table[facet] == f).sum()) for f in facets]
    fig, axes = plt.subplots(len(facets), 1, figsize=(8, 0.32 * sum(heights) + 0.6 * len(facets)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, name in zip(axes[:, 0], facets):
        part = table[table[facet] == name]
        ax.barh(part[group].astype(str), part[share], color=sns.color_palette(PALETTE)[0])
        ax.bar_label(ax.containers[0], labels=[f"{v:.0%}" for v in part[share]], padding=3)
        ax.set_xlim(0, 1.1)
        ax.set_title(name.replace("_", " "), loc="left", fontsize="medium")
        ax.invert_yaxis()
        ax.xaxis.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
