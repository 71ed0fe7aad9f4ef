"""Turn the executed audit notebooks into one report with no code in it.

The notebooks are joined in run order and exported with nbconvert's HTML
exporter and the ``audit`` template (``templates/audit``); a table of contents
is then built from the section headings.
"""
from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from .paths import template_dir

__all__ = ["render_report", "combine_notebooks", "REPORT_NAME"]

REPORT_NAME = "report.html"
_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}


def combine_notebooks(paths: list[Path], cover: dict) -> nbformat.NotebookNode:
    """One notebook holding the cells of ``paths`` in order, minus parameter cells."""
    combined = nbformat.v4.new_notebook()
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        combined.cells.extend(
            copy.deepcopy(cell) for cell in notebook.cells
            if not _HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))
        )
    combined.metadata["equity_audit"] = cover
    combined.metadata["title"] = f"Equity audit: {cover.get('district_name', '')}"
    combined.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return combined


def render_report(notebooks: list[Path], out_path: Path, *, cover: dict) -> Path:
    """Write the HTML report of the executed ``notebooks`` to ``out_path``.

    ``cover`` holds what the cover page shows: ``district_name``, ``period``,
    ``version`` and ``settings``.
    """
    cover = {"generated": date.today().isoformat(), **cover}
    exporter = HTMLExporter(
        template_name="audit",
        extra_template_basedirs=[str(template_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    html, _ = exporter.from_notebook_node(combine_notebooks(notebooks, cover))
    out_path = Path(out_path)
    out_path.write_text(add_contents(html), encoding="utf-8")
    return out_path


def add_contents(html: str) -> str:
    """Insert a linked table of contents of the ``h2`` sections after the cover."""
    soup = BeautifulSoup(html, "html.parser")
    headings = [h for h in soup.find_all("h2") if h.get("id")]
    if not headings:
        return html
    nav = soup.new_tag("nav", id="toc", attrs={"aria-label": "Contents"})
    title = soup.new_tag("h2", attrs={"class": "toc-title"})
    title.string = "Contents"
    items = soup.new_tag("ol")
    for heading in headings:
        link = soup.new_tag("a", href=f"#{heading['id']}")
        link.string = heading.get_text(" ", strip=True).rstrip("¶").strip()
        item = soup.new_tag("li")
        item.append(link)
        items.append(item)
    nav.extend([title, items])
    cover = soup.find("header", class_="audit-cover")
    if cover:
        cover.insert_after(nav)
    else:
        soup.main.insert(0, nav)
    return str(soup)
