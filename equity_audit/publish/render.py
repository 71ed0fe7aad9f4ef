"""Turn the executed audit notebooks into one report with no code in it.

The notebooks are joined in run order and exported with nbconvert's HTML
exporter and the ``audit`` template (``templates/audit``); a table of contents
is then built from the section headings.

Beside the HTML, a run gets the same published tables for other tools:
``findings.xlsx`` (one sheet per table of ``OUT/tables``, with a Contents
sheet) and ``findings.json``, and a PDF printed from the HTML by headless
Chromium when one is installed (:func:`print_pdf`). All three read only the
HTML report and ``OUT/tables/``, never ``OUT/confidential/``.

Nothing in the district's data runs for the reader. Data values are escaped where
they enter Markdown or HTML (:mod:`equity_audit.data.text`); on top of that the
exporter sanitises every Markdown and HTML output with an allowlist of tags and
attributes (:func:`clean_report_html`), the report carries a strict
Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`: no script, no network),
the PDF is printed with JavaScript off and no network, and text cells that a
spreadsheet would run as a formula are stored as text (:func:`write_workbook`).
"""
from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from datetime import date
from html import escape
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Callable

import bleach
import pandas as pd
from bleach.css_sanitizer import CSSSanitizer

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from equity_audit.data.dictionary import READY_DEFINITION
from equity_audit.data.text import FORMULA_START, restore_cells
from equity_audit.exceptions import EquityAuditError
from equity_audit.paths import template_dir
from equity_audit.publish.summary import summary_html
from equity_audit.publish.rundir import REPORT_NAME

__all__ = ["render_report", "combine_notebooks", "print_pdf", "print_pdfs", "find_chromium", "write_workbook",
           "REPORT_NAME", "PDF_NAME", "WORKBOOK_NAME", "JSON_NAME",
           "NO_PDF_MESSAGE", "TABLE_DESCRIPTIONS", "CONTENT_SECURITY_POLICY", "clean_report_html",
           "PdfError", "chromium_command", "CHROMIUM_FLAGS"]

PDF_NAME = "report.pdf"
WORKBOOK_NAME = "findings.xlsx"
JSON_NAME = "findings.json"
NO_PDF_MESSAGE = ("No PDF: no Chromium was found; install the Debian package chromium "
                  "(apt-get install chromium) and run again. The HTML report is complete.")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}

#: The report's Content-Security-Policy (a ``<meta>`` first in ``<head>``): no script of any
#: kind, nothing fetched from the network, no forms, no plugins. Figures are ``data:`` PNGs
#: and the styles are inline, which is all the report needs.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; object-src 'none'; connect-src 'none'; "
                           "frame-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; "
                           "base-uri 'none'; form-action 'none'")

# What the report's Markdown and HTML outputs may hold: text structure, tables and figures.
# No img (figures come from the template's own PNG block), no script, no form, no iframe.
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul"})
_ALLOWED_ATTRIBUTES = {"*": ["class", "id", "title"], "a": ["href", "title"], "table": ["border"],
                       "th": ["colspan", "rowspan", "style"], "td": ["colspan", "rowspan", "style"],
                       "tr": ["style"], "ol": ["start"]}
_ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})  # "#section" links are relative, also kept
_CSS = CSSSanitizer(allowed_css_properties=["text-align", "vertical-align", "white-space"])


def clean_report_html(html: str) -> str:
    """``html`` with only the tags, attributes and link protocols a report needs.

    Used by the exporter for every Markdown cell and every Markdown or HTML output
    (``sanitize_html``). Anything else is escaped, so it shows as text: a
    ``<script>`` or an ``<img onerror=...>`` can neither run nor load, and a
    ``javascript:`` link loses its target.

    Examples
    --------
    >>> clean_report_html('<p onclick="x()">Hi <a href="javascript:alert(1)">x</a></p>')
    '<p>Hi <a>x</a></p>'
    >>> clean_report_html("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    """
    html = html.decode() if isinstance(html, bytes) else str(html)
    return bleach.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
                        protocols=_ALLOWED_PROTOCOLS, css_sanitizer=_CSS, strip=False, strip_comments=True)


def combine_notebooks(paths: list[Path], cover: dict, appendices: Sequence[Path] = ()) -> nbformat.NotebookNode:
    """One notebook holding the cells of ``paths`` in report order, minus parameter cells.

    The order a reader needs (:func:`report_order`): the priorities (the last notebook,
    up to its appendices) first, then the other notebooks in run order, then the
    appendices, ending with the run's settings, the suppression rules and the cells of
    the ``appendices`` notebooks (the school profiles).
    """
    combined = nbformat.v4.new_notebook()
    notebooks = [[_name_tables(copy.deepcopy(cell)) for cell in nbformat.read(path, as_version=4).cells
                  if not _HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))] for path in paths]
    extra = [cell for path in appendices for cell in nbformat.read(path, as_version=4).cells]
    combined.cells.extend(report_order(notebooks, [*appendix_cells(cover), *extra]))
    combined.metadata["equity_audit"] = cover
    combined.metadata["title"] = f"Equity audit: {cover.get('district_name', '')}"
    combined.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return combined


_WRITES = re.compile(r"(?:write|read)_table\(\s*run_dir\s*,\s*[\"'](\w+)[\"']")
_TABLE_FIGURE = '<figure class="audit-table">'


def _name_tables(cell):
    """Mark each table a code cell shows with the published table the cell writes or reads (``table-<name>``).

    The print version points from a shortened table to its workbook sheet. A cell that writes
    one table names every table it shows after it; a cell writing as many tables as it shows
    pairs them in order; otherwise nothing is marked.
    """
    if cell.cell_type != "code":
        return cell
    names = _WRITES.findall(cell.source)
    shown = [output for output in cell.get("outputs", [])
             if _TABLE_FIGURE in "".join(output.get("data", {}).get("text/html", ""))]
    if not names or len(names) not in (1, len(shown)):
        return cell
    for number, output in enumerate(shown):
        name = names[0] if len(names) == 1 else names[number]
        html = "".join(output["data"]["text/html"])
        output["data"]["text/html"] = html.replace(_TABLE_FIGURE, f'<figure class="audit-table table-{name}">', 1)
    return cell


#: A Markdown cell starting with this begins the appendices of the last notebook.
APPENDIX_START = "## Appendix"


def report_order(notebooks: list[list], extra_appendices: list | None = None) -> list:
    """The cells of ``notebooks`` (run order) in report order.

    The last notebook ranks every finding (the priorities): its cells up to the first
    Markdown cell starting with :data:`APPENDIX_START` come first, the other notebooks
    follow in run order, and the appendices come last, under one "Appendices" heading,
    followed by ``extra_appendices``.

    Examples
    --------
    >>> cell = nbformat.v4.new_markdown_cell
    >>> order = report_order([[cell("# Q1")], [cell("# Plan"), cell("## Appendix A: methods")]])
    >>> [c.source for c in order]
    ['# Plan', '# Q1', '# Appendices', '## Appendix A: methods']
    """
    if not notebooks:
        return []
    *questions, last = notebooks
    starts = [i for i, cell in enumerate(last)
              if cell.cell_type == "markdown" and cell.source.lstrip().startswith(APPENDIX_START)]
    split = starts[0] if starts else len(last)
    appendices = [*last[split:], *(extra_appendices or [])]
    # fixed cell ids (nbformat would draw random ones, which the HTML carries): a run writes the same report
    heading = [nbformat.v4.new_markdown_cell("# Appendices", id="appendices-heading")] if appendices else []
    return [*last[:split], *(cell for cells in questions for cell in cells), *heading, *appendices]


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested settings (the ``state`` block) as ``state.min_n`` rows, as the settings file writes them.

    >>> _flat({"min_n": 10, "state": {"years": 3}})
    {'min_n': 10, 'state.years': 3}
    """
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _setting_meaning(key: str) -> str:
    """The plain meaning of a setting (``state.min_n`` from the state's settings), or blank."""
    from equity_audit.config import SETTING_DOCS, STATE_SETTING_DOCS

    scope, _, name = key.partition(".")
    return STATE_SETTING_DOCS.get(name, "") if scope == "state" and name else SETTING_DOCS.get(key, "")


def appendix_cells(cover: dict) -> list:
    """The appendices the run adds after the notebooks' own: its settings and the suppression rules.

    HTML in Markdown cells, every value escaped; the exporter sanitises them like any cell.
    """
    from equity_audit.publish.release import STATUS_CODES

    settings = _flat(cover.get("settings") or {})
    rows = "".join(f"<tr><td><code>{escape(str(key))}</code></td><td>{escape('' if value is None else str(value))}"
                   f"</td><td>{escape(_setting_meaning(str(key)))}</td></tr>" for key, value in settings.items())
    settings_cell = ("## Appendix C: settings\n\nThe settings this audit ran with (the settings file's names, "
                     "defaults where the file did not set them), and what each one decides.\n\n"
                     '<table class="audit-table settings-table"><thead><tr><th>Setting</th><th>Value</th>'
                     f"<th>What it decides</th></tr></thead><tbody>{rows}</tbody></table>\n")
    min_n = settings.get("min_n", "min_n")
    codes = "".join(f"<tr><td><code>{escape(code)}</code></td><td>{escape(meaning)}</td></tr>"
                    for code, meaning in STATUS_CODES.items())
    rules_cell = (f"## Appendix D: suppression rules\n\nNo student is named or identified in this report. A group "
                  f"of fewer than {escape(str(min_n))} students is withheld, and so is whatever would let a reader "
                  "work a withheld number out from the ones shown (a second group, a share near 0% or 100%, a "
                  "comparison). The workbook and the tables give the reason for each withheld number in their "
                  "status column, with these codes.\n\n"
                  '<table class="audit-table"><thead><tr><th>Code</th><th>Meaning</th></tr></thead>'
                  f"<tbody>{codes}</tbody></table>\n")
    return [nbformat.v4.new_markdown_cell(settings_cell, id="appendix-settings"),
            nbformat.v4.new_markdown_cell(rules_cell, id="appendix-suppression-rules")]


def render_report(notebooks: list[Path], out_path: Path, *, cover: dict, appendices: Sequence[Path] = ()) -> Path:
    """Write the HTML report of the executed ``notebooks`` (and ``appendices`` notebooks, last) to ``out_path``.

    ``cover`` holds what the cover page shows: ``district_name``, ``period``,
    ``version`` and ``settings``. Markdown and HTML are sanitised
    (:func:`clean_report_html`), JavaScript outputs are dropped and the page carries
    :data:`CONTENT_SECURITY_POLICY`.
    """
    cover = {"generated": date.today().isoformat(), **cover}
    exporter = HTMLExporter(
        template_name="audit",
        extra_template_basedirs=[str(template_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        sanitize_html=True,
        filters={"clean_html": clean_report_html},
    )
    html, _ = exporter.from_notebook_node(combine_notebooks(notebooks, cover, appendices),
                                          resources={"content_security_policy": CONTENT_SECURITY_POLICY})
    out_path = Path(out_path)
    findings = out_path.parent / JSON_NAME
    summary = summary_html(out_path.parent) if findings.exists() else ""
    sheets = _sheet_names(list(published_tables(out_path.parent)))
    soup = BeautifulSoup(html, "html.parser")  # once: the page holds megabytes of images
    _lay_out_tables(soup, sheets)
    _insert_contents(soup, summary)
    out_path.write_text(str(soup), encoding="utf-8")
    return out_path


#: A table longer than this is shortened in print (the HTML keeps every row) ...
PRINT_MAX_ROWS = 16
#: ... to its rows marked for a closer look or, in a table with no such column, its first rows.
PRINT_TOP_ROWS = 10
#: Column headers that mark a row for a closer look in a displayed table.
_FLAG_HEADERS = ("closer look", "flagged", "significant disproportionality")
#: (column header, words of a cell): rows printed beside the first rows of a shortened table. A priority
#: that counts confidential results has no number of students to rank it by, so it would sit below them.
_ALWAYS_PRINTED = ("reads as", "concern, details confidential")
_NUMERIC_CELL = re.compile(r"^\s*([-+−≤≥<>~]?\s*[\d.,]+\s*(%|pts|points)?|—|withheld|fewer than \d+)?\s*"
                           r"([-–]|to)?\s*([-+−]?[\d.,]+\s*%?)?\s*$", re.IGNORECASE)


def print_tables(html: str, sheets: dict[str, str]) -> str:
    """Tables laid out for print: numeric columns right-aligned, long tables shortened in print only.

    A table with more than :data:`PRINT_MAX_ROWS` rows shows in print only its rows marked
    for a closer look (none, when no row is) or, without such a column, its first
    :data:`PRINT_TOP_ROWS` rows, with a line saying where the full table is: the workbook
    sheet of its published table (``sheets``: table name to sheet name, see
    :func:`_name_tables`). The hidden rows carry the class ``print-hidden``; the HTML shows
    every row on screen.
    """
    soup = BeautifulSoup(html, "html.parser")
    _lay_out_tables(soup, sheets)
    return str(soup)


def _lay_out_tables(soup: BeautifulSoup, sheets: dict[str, str]) -> None:
    for table in soup.select("table.audit-table"):
        _align_columns(table)
        rows = table.select("tbody tr") or table.find_all("tr")
        if len(rows) > PRINT_MAX_ROWS and "settings-table" not in table.get("class", []):
            _shorten(soup, table, rows, sheets)
        _may_break(table)
    for image in soup.select("figure.audit-figure img"):
        if _aspect(image.get("src", "")) > TALL_FIGURE:
            figure = image.find_parent("figure")
            figure["class"] = [*figure.get("class", []), "tall"]


#: A printed table of more rows than this may start at the foot of a page and go on over the next
#: (JupyterLab's print style keeps every output on one page: a long table left most of a page blank).
PRINT_KEPT_ROWS = 8


def _may_break(table) -> None:
    """Let a long table break across pages in print; a short one stays on one page."""
    printed = [row for row in table.select("tbody tr") if "print-hidden" not in row.get("class", [])]
    if len(printed) <= PRINT_KEPT_ROWS:
        return
    output = table.find_parent("div", class_="jp-OutputArea-child")
    if output is not None:
        output["class"] = [*output.get("class", []), "print-breakable"]


#: A figure higher than this many times its width (a chart of many groups) may take a whole page in print.
TALL_FIGURE = 1.25


def _aspect(src: str) -> float:
    """Height over width of a ``data:image/png;base64,`` image (from its IHDR header), 0 if unknown."""
    width, height = _png_size(src)
    return height / width if width else 0.0


def _align_columns(table) -> None:
    """Right-align the columns whose cells are all numbers (or a withheld mark); text stays left."""
    rows = [row.find_all(["td", "th"]) for row in table.find_all("tr")]
    body = [cells for cells in rows if cells and cells[0].name == "td" or len(cells) > 1 and cells[-1].name == "td"]
    width = max((len(cells) for cells in rows), default=0)
    for column in range(width):
        values = [cells[column].get_text(strip=True) for cells in body if len(cells) > column]
        if values and all(_NUMERIC_CELL.match(value) for value in values):
            for cells in rows:
                if len(cells) > column:
                    cells[column]["class"] = [*cells[column].get("class", []), "num"]


def _shorten(soup: BeautifulSoup, table, rows: list, sheets: dict[str, str]) -> None:
    headers = [th.get_text(" ", strip=True).lower() for th in table.select("thead th")]
    flag = next((headers.index(h) for h in _FLAG_HEADERS if h in headers), None)
    if flag is None:
        keep, shown = set(range(PRINT_TOP_ROWS)), f"the first {PRINT_TOP_ROWS} of its {len(rows)} rows"
        also = _rows_saying(rows, headers, *_ALWAYS_PRINTED) - keep
        if also:
            keep |= also
            shown += f" and the {len(also)} whose details are confidential"
    else:
        marks = [(row.find_all("td")[flag].get_text(strip=True) if len(row.find_all("td")) > flag else "")
                 for row in rows]
        keep = {i for i, mark in enumerate(marks) if mark.lower() not in ("", "no", "false", "—", "-")}
        shown = (f"the {len(keep)} of its {len(rows)} rows marked for a closer look" if keep else
                 f"none of its {len(rows)} rows, as none is marked for a closer look")
    for number, row in enumerate(rows):
        if number not in keep:
            row["class"] = [*row.get("class", []), "print-hidden"]
    if not keep:
        table["class"] = [*table.get("class", []), "print-hidden"]
    figure = table.find_parent("figure")
    name = next((c[len("table-"):] for c in (figure.get("class", []) if figure else []) if c.startswith("table-")), None)
    where = f"workbook sheet “{sheets[name]}” ({WORKBOOK_NAME})" if name in sheets else f"the workbook {WORKBOOK_NAME}"
    note = soup.new_tag("p", attrs={"class": "print-only table-note"})
    note.string = f"Printed here: {shown}. Full table: {where}."
    table.insert_after(note)


def _rows_saying(rows: list, headers: list[str], header: str, words: str) -> set[int]:
    """The rows whose cell under ``header`` reads ``words``."""
    if header not in headers:
        return set()
    column = headers.index(header)
    cells = [row.find_all("td") for row in rows]
    return {i for i, row in enumerate(cells) if len(row) > column and row[column].get_text(strip=True) == words}


def add_contents(html: str, *, summary: str = "") -> str:
    """Insert the executive ``summary`` (HTML) after the cover, then a two-level table of contents.

    Every heading gets a unique id made of letters, digits, ``-`` and ``_`` (links to it
    follow). The contents list the ``h1`` sections and their ``h2`` subsections, each with an
    empty ``span.toc-page`` that :func:`number_contents` fills with its PDF page.
    """
    soup = BeautifulSoup(html, "html.parser")
    _insert_contents(soup, summary)
    return str(soup)


def _insert_contents(soup: BeautifulSoup, summary: str) -> None:
    cover = soup.find("header", class_="audit-cover")
    anchor = cover
    if summary:
        section = BeautifulSoup(summary, "html.parser")
        if cover:
            cover.insert_after(section)
        else:
            soup.main.insert(0, section)
        anchor = soup.find("section", class_="audit-summary")
    _unique_ids(soup)
    headings = [h for h in soup.find_all(["h1", "h2"]) if h.get("id") and not h.find_parent("header")]
    if not headings:
        return
    nav = soup.new_tag("nav", id="toc", attrs={"aria-label": "Contents"})
    title = soup.new_tag("h2", attrs={"class": "toc-title"})
    title.string = "Contents"
    top = soup.new_tag("ol", attrs={"class": "toc-1"})
    sub = None
    for heading in headings:
        item = _contents_item(soup, heading)
        if heading.name == "h1" or sub is None and not len(top.contents):
            top.append(item)
            sub = None
        else:
            if sub is None:
                sub = soup.new_tag("ol", attrs={"class": "toc-2"})
                top.contents[-1].append(sub)
            sub.append(item)
    nav.extend([title, top])
    if anchor:
        anchor.insert_after(nav)
    else:
        soup.main.insert(0, nav)


def _contents_item(soup: BeautifulSoup, heading):
    link = soup.new_tag("a", href=f"#{heading['id']}")
    link.string = heading.get_text(" ", strip=True).rstrip("¶").strip()
    page = soup.new_tag("span", attrs={"class": "toc-page", "data-target": heading["id"]})
    item = soup.new_tag("li")
    item.extend([link, page])
    return item


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


def _unique_ids(soup: BeautifulSoup) -> None:
    """Give every heading a unique, plain id, and point the report's links at the new ids.

    A heading that repeats ("What this section suggests") gets ``-2``, ``-3``; a link to
    a repeated id goes to its first heading.
    """
    taken = {tag["id"] for tag in soup.find_all(id=True) if not re.fullmatch(r"h[1-6]", tag.name)}
    renamed = {}
    for heading in soup.find_all(re.compile(r"^h[1-6]$"), id=True):
        old = heading["id"]
        base = _UNSAFE_ID.sub("-", old).strip("-") or "section"
        new, number = base, 1
        while new in taken:
            number += 1
            new = f"{base}-{number}"
        taken.add(new)
        heading["id"] = new
        renamed.setdefault(old, new)
        for link in heading.select("a.anchor-link"):
            link["href"] = f"#{new}"
    for link in soup.select('a[href^="#"]'):
        if not link.find_parent(re.compile(r"^h[1-6]$")) and link["href"][1:] in renamed:
            link["href"] = f"#{renamed[link['href'][1:]]}"


def number_contents(html: str, pages: dict[str, int]) -> str:
    """``html`` with each contents entry's page (``span.toc-page``) set from ``pages`` (id: page).

    The contents are those :func:`add_contents` wrote, so they are found as written
    rather than by parsing the whole report again (megabytes of images, once per print).

    >>> page = ('<nav aria-label="Contents" id="toc"><ol><li><a href="#A">A</a>'
    ...         '<span class="toc-page" data-target="A"></span></li></ol></nav><h1 id="A">A</h1>')
    >>> number_contents(page, {"A": 3}).split("</a>")[1]
    '<span class="toc-page" data-target="A">3</span></li></ol></nav><h1 id="A">A</h1>'
    """
    nav = _CONTENTS.search(html)
    if nav is None:
        return html
    numbered = _CONTENTS_PAGE.sub(lambda m: f"{m[1]}{pages.get(m[2], '')}{m[3]}", nav.group(0))
    return html[:nav.start()] + numbered + html[nav.end():]


#: The contents list as :func:`add_contents` writes it (one ``nav``, nothing nested), and each entry's page
#: slot, the only elements in it with a ``data-target`` (ids are plain: :func:`_unique_ids`).
_CONTENTS = re.compile(r'<nav\b[^>]*\bid="toc"[^>]*>.*?</nav>', re.DOTALL)
_CONTENTS_PAGE = re.compile(r'(<span\b[^>]*\bdata-target="([A-Za-z0-9_-]*)"[^>]*>)[^<]*(</span>)')


def destination_pages(pdf: bytes) -> dict[str, int]:
    """The page of each named destination of a PDF (Chromium makes one per link target), by name.

    Read with poppler's ``pdfinfo -dests``; empty when poppler is not installed.
    """
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:
        return {}
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        listed = subprocess.run([pdfinfo, "-dests", file.name], capture_output=True, text=True, timeout=60)
    found = (_DESTINATION.match(line) for line in listed.stdout.splitlines())
    return {match.group(2): int(match.group(1)) for match in found if match}


_DESTINATION = re.compile(r'^\s*(\d+)\s+\[.*\]\s+"(.*)"\s*$')


# --- PDF ---------------------------------------------------------------------------------------

def find_chromium() -> str | None:
    """The first Chromium-family browser on ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


class PdfError(EquityAuditError):
    """Chromium was found but the PDF could not be printed (it failed or ran out of time).

    The run then stops with exit code 1 and the previous results stay as they were: a
    report whose PDF silently failed must not pass for a complete run.
    """

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(f"{message} The run was not completed. Repair the Chromium installation, or "
                         "uninstall it to publish the HTML report without a PDF.")


#: How Chromium starts: headless, no network at all (every request goes to a closed local
#: port, loopback included, and no host name resolves), no extensions, no sync. JavaScript
#: is switched off for the page through the DevTools protocol before the report is opened
#: (``--blink-settings=scriptEnabled=false`` also stops Chromium's own ``--print-to-pdf``).
CHROMIUM_FLAGS = (
    "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--disable-remote-fonts", "--remote-debugging-pipe",
)


def chromium_command(chromium: str, profile: str) -> list[str]:
    """The command line of the Chromium that prints the report (see :data:`CHROMIUM_FLAGS`).

    Chromium's sandbox stays on, except for root, where Chromium refuses to start with it.

    Examples
    --------
    >>> command = chromium_command("chromium", "/tmp/profile")
    >>> "--remote-debugging-pipe" in command, command[-1]
    (True, 'about:blank')
    """
    sandbox = [] if os.geteuid() != 0 else ["--no-sandbox"]
    return [chromium, *CHROMIUM_FLAGS, *sandbox, f"--user-data-dir={profile}", "about:blank"]


def print_pdf(html_path: str | Path, pdf_path: str | Path | None = None, *, timeout: float = 120,
              log: Callable[[str], None] | None = None, district: str = "",
              also: Sequence[tuple[str | Path, str | Path]] = ()) -> Path | None:
    """Print the HTML report to PDF with headless Chromium; the path, or None when no Chromium is installed.

    Chromium runs with no network and (unless run as root) its sandbox
    (:func:`chromium_command`); JavaScript is disabled for the page before it is
    opened, and the whole print has ``timeout`` seconds. When no Chromium is installed
    the caller says :data:`NO_PDF_MESSAGE`. ``log`` is kept for callers. The print
    styles of the ``audit`` template apply (``preferCSSPageSize``). nbconvert's
    ``webpdf`` is not used: its Playwright cannot use a system Chromium.

    Every page carries ``district`` (escaped) in its header and "Page N of M" in its
    footer. When the report's contents list has page slots (``span.toc-page``), the page
    is printed, the page of each heading read from the PDF (:func:`destination_pages`),
    written into the HTML (:func:`number_contents`) and printed again, until the
    numbers hold (Chromium has no CSS ``target-counter``).

    ``also`` holds more ``(html, pdf)`` pages (the school profiles) that the same
    Chromium prints first, each as :func:`print_pdfs` would: one browser start for all.

    Raises
    ------
    PdfError
        When Chromium is installed but fails, prints nothing or runs out of time.
    """
    printed = print_pdfs([*((html, pdf, district) for html, pdf in also), (html_path, pdf_path, district)],
                         timeout=timeout)
    return printed[-1] if printed else None


def print_pdfs(pages: Iterable[tuple[str | Path, str | Path | None, str]], *, timeout: float = 120) -> list[Path] | None:
    """Print several HTML pages, each ``(html, pdf or None, district)``, with one headless Chromium.

    Each page is printed as :func:`print_pdf` prints one (its PDF beside it when
    ``pdf`` is None), with ``timeout`` seconds for each. ``pages`` is read one page
    at a time, so it may wait for a page still being written (a generator): the
    browser starts, and prints the pages already there, meanwhile. Returns the PDFs'
    paths, or None when no Chromium is installed (then no page's earlier PDF is left).

    Raises
    ------
    PdfError
        When Chromium is installed but fails, prints nothing or runs out of time.
    """
    jobs = (_pdf_job(*page) for page in pages)
    chromium = find_chromium()
    if chromium is None:
        for _html, pdf, _district in jobs:
            pdf.unlink(missing_ok=True)  # never leave an earlier run's PDF beside a new report
        return None
    printed = []
    with tempfile.TemporaryDirectory(prefix="equity-audit-chromium-") as profile:
        errors = Path(profile) / "chromium-errors.txt"
        try:
            browser = _DevTools(chromium_command(chromium, profile), errors, timeout)
        except OSError as err:
            raise PdfError(f"The PDF could not be printed: {chromium} could not be started ({err}).") from None
        try:
            for html, pdf, district in jobs:  # a report and a few school pages
                pdf.unlink(missing_ok=True)
                browser.deadline = time.monotonic() + timeout
                data = _print_numbered(browser, html, district)
                if not data.startswith(b"%PDF"):
                    raise PdfError(f"The PDF could not be printed: {chromium} returned no PDF.")
                pdf.write_bytes(data)
                printed.append(pdf)
        except TimeoutError:
            raise PdfError(f"The PDF could not be printed: {chromium} did not finish within {timeout:g} s."
                           ) from None
        except (OSError, ValueError, RuntimeError) as err:
            detail = err if str(err) else _last_line(errors)
            raise PdfError(f"The PDF could not be printed: {chromium} failed ({detail}).") from None
        finally:
            browser.close()
            for _html, pdf, _district in jobs:  # the pages not printed after a failure
                pdf.unlink(missing_ok=True)
    return printed


def _pdf_job(html: str | Path, pdf: str | Path | None, district: str) -> tuple[Path, Path, str]:
    html = Path(html).resolve()
    return html, Path(pdf).resolve() if pdf else html.with_suffix(".pdf"), district


def _print_numbered(browser: "_DevTools", html_path: Path, district: str) -> bytes:
    """The PDF of the report, with the contents' page numbers written into it.

    The numbers come first from a print of the page with every figure blank (same
    size, so the same pages: :func:`blank_figures`), which takes about half the time
    of the real print; each real print then checks them. At most three real prints:
    a number written can move a heading only if it wraps a line.
    """
    templates = _header_footer(district)
    html = html_path.read_text(encoding="utf-8")
    if "toc-page" not in html:
        return browser.print_page(html_path.as_uri(), templates)
    layout = html_path.with_name(f".{html_path.stem}-layout.html")
    try:
        layout.write_text(blank_figures(html), encoding="utf-8")
        pages = browser.print_page(layout.as_uri(), templates)
    finally:
        layout.unlink(missing_ok=True)
    data = None
    for _ in range(3):
        numbered = number_contents(html, destination_pages(pages))
        if numbered == html and data is not None:
            break
        if numbered != html:
            html_path.write_text(numbered, encoding="utf-8")
            html = numbered
        data = pages = browser.print_page(html_path.as_uri(), templates)
    return data


_PNG_SOURCE = re.compile(r'(?<=src=")data:image/png;base64,([A-Za-z0-9+/=]+)(?=")')


def blank_figures(html: str) -> str:
    """``html`` with every PNG figure replaced by a blank PNG of the same size in pixels.

    The page lays out exactly as before (a figure's box comes from its size), with
    nothing to draw: what a print needs to find the page each heading falls on.

    Examples
    --------
    >>> page = '<img src="data:image/png;base64,' + base64.b64encode(_blank_png(300, 200)).decode() + '">'
    >>> _aspect(page.split('"')[1]) == _aspect(blank_figures(page).split('"')[1]) == 200 / 300
    True
    """
    def blank(match: re.Match) -> str:
        width, height = _png_size(match.group(0))
        if not width or not height:
            return match.group(0)
        return "data:image/png;base64," + base64.b64encode(_blank_png(width, height)).decode("ascii")
    return _PNG_SOURCE.sub(blank, html)


def _png_size(src: str) -> tuple[int, int]:
    """Width and height of a ``data:image/png;base64,`` image (from its IHDR header); (0, 0) if unknown."""
    head = src.partition("base64,")[2][:44]
    try:
        header = base64.b64decode(head + "=" * (-len(head) % 4))
    except ValueError:
        return 0, 0
    if len(header) < 24 or not header.startswith(b"\x89PNG"):
        return 0, 0
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _blank_png(width: int, height: int) -> bytes:
    """A white PNG of ``width`` x ``height`` pixels, one bit a pixel: a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])  # 1-bit grey
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then white pixels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height, 9))
            + chunk(b"IEND", b""))


def _header_footer(district: str) -> dict:
    """Chromium's header and footer templates: the district's name (escaped) and the page number."""
    style = "font-family: sans-serif; font-size: 8px; color: #555; width: 100%; margin: 0 16mm;"
    return {"displayHeaderFooter": True,
            "headerTemplate": f'<div style="{style}">Equity audit: {escape(district or "district")}</div>',
            "footerTemplate": f'<div style="{style} text-align: right;">{escape(district or "")} · Page '
                              '<span class="pageNumber"></span> of <span class="totalPages"></span></div>'}


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1][:300] if lines else "no message"


class _DevTools:
    """A Chromium driven over ``--remote-debugging-pipe`` (DevTools protocol, JSON messages ending in NUL).

    Chromium reads commands on its file descriptor 3 and writes replies and events on 4.
    Started with ``posix_spawn`` in its own session, so it and its helpers can be ended together.
    """

    def __init__(self, command: list[str], errors: Path, timeout: float):
        self.deadline = time.monotonic() + timeout
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 2, str(errors), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                   (os.POSIX_SPAWN_DUP2, to_browser, 3), (os.POSIX_SPAWN_DUP2, from_browser, 4)]
        try:
            self.pid = os.posix_spawn(command[0], command, os.environ, file_actions=actions, setsid=True)
        except OSError:
            os.close(self._to_browser)
            os.close(self._from_browser)
            raise
        finally:
            os.close(to_browser)
            os.close(from_browser)
        self._buffer, self._next_id, self._events = b"", 0, []

    def print_page(self, url: str, options: dict | None = None) -> bytes:
        """The PDF of ``url``, printed with JavaScript disabled for the page; ``options`` for ``printToPDF``."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._call("Emulation.setScriptExecutionDisabled", {"value": True}, session)
        self._call("Page.enable", {}, session)
        opened = self._call("Page.navigate", {"url": url}, session)
        if opened.get("errorText"):
            raise RuntimeError(f"the report could not be opened: {opened['errorText']}")
        self._wait_for("Page.loadEventFired", session)
        printed = self._call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True,
                                                 "displayHeaderFooter": False, **(options or {})}, session)
        self._call("Target.closeTarget", {"targetId": target})
        return base64.b64decode(printed["data"])

    def close(self) -> None:
        """Ask Chromium to quit, and end its process group if it has not within 5 s."""
        try:
            self.deadline = min(self.deadline, time.monotonic() + 5)
            self._send("Browser.close", {})
        except (OSError, TimeoutError):
            pass
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        ends = time.monotonic() + 5
        while time.monotonic() < ends:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)

    def _send(self, method: str, params: dict, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        return self._next_id

    def _receive(self) -> dict:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            # poll, not select: select() refuses a descriptor numbered past 1024, which a long-lived process
            # (a test session, a notebook server) reaches
            poller = select.poll()
            poller.register(self._from_browser, select.POLLIN)
            if left <= 0 or not poller.poll(left * 1000):
                raise TimeoutError
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("")  # Chromium closed the pipe: it stopped
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method: str, params: dict, session: str | None = None) -> dict:
        number = self._send(method, params, session)
        while True:
            message = self._receive()
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error'].get('message', message['error'])}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, event: str, session: str) -> None:
        matches = lambda m: m.get("method") == event and m.get("sessionId") == session  # noqa: E731
        if any(matches(m) for m in self._events):
            return
        while not matches(self._receive()):
            pass


# --- workbook and JSON -------------------------------------------------------------------------

TABLE_DESCRIPTIONS = {
    "students_by_school_year": "Students by school and school year.",
    "students_by_grade_year": "Students by grade and school year.",
    "composition": "Students in the audit by subgroup (small groups withheld).",
    "ledger": "Row ledger: rows read, used and excluded for each table provided.",
    "exclusions": "Rows left out of the audit, with the reason.",
    "pace_by_subgroup": "Pace (levels gained a year) by subgroup, with 95% intervals.",
    "levels_behind_by_pace": "Students by levels behind and by pace.",
    "two_plus_behind_by_subgroup": "Students two or more levels behind, by subgroup.",
    "pace_intersections": "Pace of intersections that differ from what their groups predict.",
    "unmet_need_by_school": "Students who needed more support and had none, by school.",
    "unmet_need_by_subgroup": "Students who needed more support and had none, by subgroup.",
    "unmet_need_intersections": "Unmet need in intersections that differ from what their groups predict.",
    "talent_without_access_by_subgroup": "Students ready to move on without acceleration or Level-4 work, by subgroup. "
                                         + READY_DEFINITION,
    "graduation_scenarios": "Share on track to graduate by 18 at 1.0, 1.25, 1.5 and 2.0 levels a year.",
    "findings_unmet_need": "Findings of the unmet-need section, one statement per row.",
    "exclusion_by_subgroup": "Exclusionary discipline rates by subgroup.",
    "removals_by_subgroup": "Removals from class by subgroup.",
    "days_removed_by_subgroup": "Days removed from instruction per student (suspension, expulsion, removal), by "
                                "subgroup, latest school year.",
    "idea_oss_all_students": "IDEA risk ratios for out-of-school suspension, all students (34 CFR 300.647).",
    "idea_oss_students_with_disabilities": "IDEA risk ratios for out-of-school suspension, students with disabilities.",
    "oss_gaps_by_school": "Within-school gaps in out-of-school suspension.",
    "access_by_subgroup": "Access to Level-4 work, enrichment, acceleration, advanced courses and leadership by subgroup (latest year).",
    "access_by_subgroup_all_years": "Access to opportunities by subgroup, all years pooled.",
    "level4_gaps_by_school": "Within-school gaps in access to Level-4 work.",
    "below_pace_by_school": "Students below pace by school (funnel-plot data).",
    "below_pace_by_plc": "Students below pace by professional learning community (funnel-plot data).",
    "gap_trends": "Headline gaps by year and whether they narrow.",
    "findings_patterns": "Findings of the patterns section, one statement per row.",
    "grade_residual_by_subgroup": "Grades against evidence of learning, by subgroup.",
    "high_grade_low_evidence_by_subgroup": "High grades with low evidence of learning, by subgroup.",
    "low_grade_high_evidence_by_subgroup": "Low grades with high evidence of learning, by subgroup.",
    "calibration_agreement": "Agreement between scorers of the same work.",
    "performance_tasks_by_subgroup": "Share of evidence from performance tasks, by subgroup.",
    "dok34_by_subgroup": "Share of evidence at depth of knowledge 3 or 4, by subgroup.",
    "reaching_level4_by_subgroup": "Students reaching Level-4 work, by subgroup.",
    "climate_by_subgroup": "Survey climate constructs by subgroup.",
    "workforce": "Staff compared with students by race and ethnicity.",
    "findings_bias": "Findings of the bias section, one statement per row.",
    "action_plan": "Every finding ranked for the team: how it reads (concern, strength, ...), the area of the "
                   "equity framework it concerns, a suggested strategy and a question to start the discussion.",
    "analyses_available": "Each analysis of the audit: whether it ran on the data provided, what it shows and "
                          "which tables it would need.",
    "chronic_absence_by_school": "Chronic absence (absent 10% or more of enrolled days) by school against the "
                                 "district rate, latest school year (funnel-plot data).",
    "chronic_absence_by_subgroup": "Chronic absence (absent 10% or more of enrolled days) by subgroup, latest "
                                   "school year.",
    "composition_by_school": "Students of each school by subgroup, latest school year, for the school profiles "
                             "(small groups withheld).",
    "disclosure_audit": "What the joint disclosure audit withheld across the published tables, and why (the "
                        "withheld numbers are not in it).",
}

_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_WORDS = {"idea": "IDEA", "oss": "OSS", "plc": "PLC", "dok34": "DOK 3-4", "level4": "Level-4",
                "students with disabilities": "SWD"}
_ACRONYMS = re.compile(r"\b(students with disabilities|idea|oss|plc|dok34|level4)\b", re.IGNORECASE)


def published_tables(run_dir: str | Path) -> dict[str, Path]:
    """The published tables of a run, ``{name: OUT/tables/<name>.csv}`` in name order.

    Only ``tables/`` is read: everything student-level lives under ``confidential/``.
    """
    folder = Path(run_dir) / "tables"
    return {path.stem: path for path in sorted(folder.glob("*.csv"))}


def _read_published(path: Path) -> pd.DataFrame:
    """A published table with its text as the district wrote it; an empty file gives an empty frame.

    The apostrophe that keeps a CSV cell from running as a formula is taken off here:
    the workbook marks such cells as text itself, and JSON is never run.
    """
    try:
        return restore_cells(pd.read_csv(path))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _describe(name: str) -> str:
    return TABLE_DESCRIPTIONS.get(name, name.replace("_", " ").capitalize() + ".")


def _sheet_names(names: list[str]) -> dict[str, str]:
    """Readable, unique Excel sheet names (at most 31 characters) for the table names."""
    taken, result = {"contents"}, {}
    for name in names:
        base = _SHEET_FORBIDDEN.sub(" ", name.replace("_", " ")).strip().capitalize() or "Table"
        base = _ACRONYMS.sub(lambda match: _SHEET_WORDS[match.group(0).lower()], base)
        for long, short in ((" by subgroup", " by group"), (" by group", " (group)")):
            if len(base) > 31:
                base = base.replace(long, short)
        if len(base) > 31:  # cut at a word boundary
            base = base[:32].rsplit(" ", 1)[0] if " " in base[:32] else base[:31]
        candidate, number = base, 1
        while candidate.lower() in taken:
            number += 1
            suffix = f" ({number})"
            candidate = base[:31 - len(suffix)].rstrip() + suffix
        taken.add(candidate.lower())
        result[name] = candidate
    return result


def _cell(value):
    """A cell for Excel: numbers stay numbers (also in a column holding "<10"), blanks empty."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):  # control characters are not allowed in a workbook
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _inert_sheet(sheet) -> None:
    """Store every text cell a spreadsheet could run as a formula as plain text.

    openpyxl stores a string starting with ``=`` as a formula; such cells, and text
    starting with ``+``, ``-``, ``@``, a tab or a carriage return, become strings
    with Excel's quote prefix (shown as typed, never evaluated, also after an edit).
    """
    for row in sheet.iter_rows():  # a published table: aggregate rows, never students
        for cell in row:
            if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith(FORMULA_START)):
                cell.data_type = "s"
                cell.quotePrefix = True


def write_workbook(run_dir: str | Path) -> Path:
    """Write ``OUT/findings.xlsx``: README and Contents sheets, then one sheet per published table.

    No cell is a formula: text that a spreadsheet would run (``=``, ``+``, ``-``, ``@``,
    tab, carriage return) is stored as text with a quote prefix; numbers stay numbers.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    run_dir = Path(run_dir)
    tables = published_tables(run_dir)
    sheets = _sheet_names(list(tables))
    contents = pd.DataFrame({
        "Sheet": [sheets[name] for name in tables],
        "Table file": [f"tables/{path.name}" for path in tables.values()],
        "Description": [_describe(name) for name in tables],
    })
    found = findings_sheet(run_dir)
    if found is not None:
        contents = pd.concat([pd.DataFrame({"Sheet": ["Findings"], "Table file": [JSON_NAME], "Description": [
            "Every finding of the audit, one per row, with its direction (worse, better or neutral)."]}),
            contents], ignore_index=True)
    out = run_dir / WORKBOOK_NAME
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        readme_sheet(run_dir).to_excel(writer, sheet_name="README", index=False)
        contents.to_excel(writer, sheet_name="Contents", index=False)
        if found is not None:
            found.to_excel(writer, sheet_name="Findings", index=False)
        for name, path in tables.items():
            table = _read_published(path)
            table = table.astype(object).map(_cell) if not table.empty else table
            table.to_excel(writer, sheet_name=sheets[name], index=False)
        for sheet in writer.book.worksheets:
            _inert_sheet(sheet)
            _display_formats(sheet)
            sheet.freeze_panes = "A2"
            if sheet.title != "README" and sheet.max_row > 1:
                sheet.auto_filter.ref = sheet.dimensions
            for column in sheet.iter_cols(min_row=1, max_row=min(sheet.max_row, 200)):
                width = max((len(str(cell.value)) for cell in column if cell.value is not None), default=8)
                sheet.column_dimensions[get_column_letter(column[0].column)].width = min(max(width + 2, 8), 60)
        index = writer.book["Contents"]
        for row in range(2, index.max_row + 1):
            cell = index.cell(row=row, column=1)
            cell.hyperlink = f"#'{cell.value}'!A1"
            cell.font = Font(color="0563C1", underline="single")
    return out


def _display_formats(sheet) -> None:
    """Show decimals to three places and whole numbers with separators, keeping full precision."""
    for row in sheet.iter_rows(min_row=2):  # a published table: aggregate rows, never students
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "0.000"
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"


#: The columns most sheets share, as the README sheet explains them.
COLUMN_MEANINGS = {
    "n": "Students of the group counted in the measure.",
    "n_missing": "Students of the group not counted in it: the measure is not known for them, or does not "
                 "apply (only students in need count for unmet need, only students ready to move on for "
                 "talent without access). n plus n_missing is the group's size.",
    "estimate, low, high": "The group's value (a rate, mean or count) and its 95% interval.",
    "comparator_n, comparator_estimate": "The students the group is compared with (all other students unless "
                                         "the sheet says otherwise) and their value.",
    "difference, ratio": "The group's value minus, and divided by, the comparator's, with their intervals.",
    "pvalue, qvalue": "How surprising the difference would be by chance; the q-value allows for the many "
                      "comparisons of the sheet (false discovery rate).",
    "flagged": "True when the difference is beyond chance at the run's false discovery rate, within the "
               "sheet and over every comparison of the audit (so a small q-value alone is not a flag; some "
               "sheets also ask a size, such as access under four-fifths of the others'): a question for the "
               "team, not a verdict.",
    "closer_look": "On the sheets of schools and PLCs: True when the unit lies outside the funnel's limits and "
                   "beyond chance at the run's false discovery rate: it warrants a closer look, never a verdict.",
    "vs_school_colleagues": "On the PLC sheet, for a PLC marked against the district: how it compares with the other "
                            "PLCs of its own school (higher, lower, or similar: then the pattern may be the school's). "
                            "Blank where it was not compared.",
}


def readme_sheet(run_dir: str | Path) -> pd.DataFrame:
    """The workbook's first sheet: how to read it, the status codes and the run's settings.

    Examples
    --------
    >>> sheet = readme_sheet("no-such-run")
    >>> sheet.columns.tolist(), "small_n" in set(sheet["Item"])
    (['Topic', 'Item', 'Meaning'], True)
    """
    from equity_audit.publish.release import STATUS_CODES, STATUS_COLUMN

    rows = [("About", "This workbook", "The published results of one equity audit: aggregate tables only, with "
             "small groups withheld. No student is named or identified."),
            ("About", "Contents", "One row per sheet, with the table file in the run folder it comes from and "
             "what it holds; click a sheet name to go there."),
            ("About", "Findings", "Every result the audit flags for a closer look, one per row, with its direction "
             "(the group fares worse, better or neither). A flag is a question for the team, not a verdict."),
            ("About", "Numbers", "Numbers are stored in full and shown to three decimals; a cell is blank when its "
             f"number is withheld, and the {STATUS_COLUMN} column says why.")]
    rows += [("Column", column, meaning) for column, meaning in COLUMN_MEANINGS.items()]
    rows += [("Status code", code, meaning) for code, meaning in STATUS_CODES.items()]
    path = Path(run_dir) / JSON_NAME
    settings = json.loads(path.read_text(encoding="utf-8")).get("settings", {}) if path.exists() else {}
    rows += [("Setting", str(key), "" if value is None else str(value)) for key, value in sorted(settings.items())]
    return pd.DataFrame(rows, columns=["Topic", "Item", "Meaning"])


def findings_sheet(run_dir: str | Path) -> pd.DataFrame | None:
    """The published findings (``OUT/findings.json``) as the workbook's Findings sheet, or None."""
    path = Path(run_dir) / JSON_NAME
    if not path.exists():
        return None
    records = json.loads(path.read_text(encoding="utf-8")).get("findings", [])
    columns = ["question", "section", "statement", "direction", "kind", "measure_label", "unit", "unit_name",
               "subgroups", "groups", "n", "estimate", "comparator", "comparator_estimate", "difference",
               "qvalue", "students_affected", "id"]
    sheet = pd.DataFrame([{key: record.get(key) for key in columns} for record in records], columns=columns)
    for key in ("subgroups", "groups"):  # lists as "a; b", cells hold no lists
        sheet[key] = sheet[key].map(lambda v: "; ".join(map(str, v)) if isinstance(v, list) else v)
    return sheet.astype(object).map(_cell) if len(sheet) else sheet
