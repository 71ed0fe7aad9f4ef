"""The report's order, contents and print version.

Unit tests build their own HTML and cells; the slow tests read the PDF of the bundled district's
run (the session's ``demo_run``) through poppler: its page count, its first pages, the page numbers
of its contents, its running header and footer, and that no two lines of text overlap.
"""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import nbformat
import numpy as np
import pytest
from bs4 import BeautifulSoup

from equity_audit.publish import render
from equity_audit.publish.render import add_contents, appendix_cells, number_contents, print_tables, report_order

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")


# --- order and contents ------------------------------------------------------------------------------

def test_priorities_first_then_questions_then_appendices():
    md = nbformat.v4.new_markdown_cell
    notebooks = [[md("# Data")], [md("# Question 1"), md("## Part")],
                 [md("# Priorities"), md("## Ranked"), md("## Appendix A: methods"), md("text"),
                  md("## Appendix B: data quality")]]
    extra = [md("## Appendix C: settings")]
    order = [cell.source for cell in report_order(notebooks, extra)]
    assert order == ["# Priorities", "## Ranked", "# Data", "# Question 1", "## Part", "# Appendices",
                     "## Appendix A: methods", "text", "## Appendix B: data quality", "## Appendix C: settings"]


def test_settings_appendix_shows_every_setting_escaped():
    cells = render.appendix_cells({"settings": {"min_n": 12, "district_name": "<b>Oak</b>"}})
    settings, rules = (cell.source for cell in cells)
    assert "<code>min_n</code></td><td>12</td>" in settings and "&lt;b&gt;Oak&lt;/b&gt;" in settings
    assert "fewer than 12 students is withheld" in rules and "small_n" in rules


def test_settings_appendix_says_what_each_setting_decides():
    from equity_audit.config import SETTING_DOCS, STATE_SETTING_DOCS
    cells = render.appendix_cells({"settings": {"min_n": 12, "state": {"years": 2}, "new_knob": 1}})
    soup = BeautifulSoup(cells[0].source.split("\n\n", 2)[2], "html.parser")
    meaning = {row.find("code").get_text(): row.find_all("td")[2].get_text() for row in soup.select("tbody tr")}
    assert meaning == {"min_n": SETTING_DOCS["min_n"], "state.years": STATE_SETTING_DOCS["years"], "new_knob": ""}


def test_contents_have_two_levels_unique_ids_and_page_slots():
    html = ('<main><header class="audit-cover"><h1>District</h1></header>'
            '<h1 id="One">One<a class="anchor-link" href="#One">¶</a></h1><h2 id="Ask:why?">Ask</h2>'
            '<h3 id="deep">deep</h3><h1 id="Two">Two</h1><h2 id="Ask:why?">Ask</h2><a href="#Ask:why?">see</a>'
            '</main>')
    soup = BeautifulSoup(add_contents(html, summary='<section class="audit-summary"><h1 id="S">S</h1></section>'),
                         "html.parser")
    assert soup.header.find_next_sibling().name == "section", "the summary comes right after the cover"
    assert soup.section.find_next_sibling().get("id") == "toc"
    top = soup.select("nav#toc > ol > li")
    assert [li.a.get_text() for li in top] == ["S", "One", "Two"]
    assert [[a["href"] for a in li.select(":scope > ol a")] for li in top] == [[], ["#Ask-why"], ["#Ask-why-2"]]
    ids = [tag["id"] for tag in soup.find_all(re.compile("^h[1-6]$"), id=True)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    assert soup.find("a", string="see")["href"] == "#Ask-why"
    assert len(soup.select("nav#toc span.toc-page")) == 5
    numbered = BeautifulSoup(number_contents(str(soup), {"One": 4, "Ask-why-2": 9}), "html.parser")
    assert [s.get_text() for s in numbered.select("span.toc-page")] == ["", "4", "", "", "9"]


def _table(rows: int, flagged: tuple = (), caption="T") -> str:
    body = "".join(f"<tr><td>g{i}</td><td>{i}%</td><td>{'yes' if i in flagged else ''}</td></tr>" for i in range(rows))
    return (f'<figure class="audit-table table-pace_by_subgroup"><figcaption>{caption}</figcaption>'
            '<table class="audit-table"><thead><tr><th>Group</th><th>Value</th><th>Closer look</th></tr></thead>'
            f"<tbody>{body}</tbody></table></figure>")


def test_long_table_prints_its_flagged_rows_and_points_to_its_sheet():
    soup = BeautifulSoup(print_tables(_table(30, flagged=(3, 20)), {"pace_by_subgroup": "Pace by subgroup"}),
                         "html.parser")
    shown = [row.td.get_text() for row in soup.select("tbody tr") if "print-hidden" not in row.get("class", [])]
    assert shown == ["g3", "g20"] and len(soup.select("tbody tr")) == 30, "the HTML keeps every row"
    note = soup.select_one("p.print-only").get_text()
    assert "2 of its 30 rows" in note and "workbook sheet “Pace by subgroup”" in note
    assert soup.select("td.num") and not soup.select_one("tbody td").get("class"), "numbers right, text left"


def test_a_shortened_plan_still_prints_its_priorities_with_confidential_details():
    reads = ["concern"] * 14 + ["concern, details confidential"] * 2 + ["strength"] * 4
    body = "".join(f"<tr><td>{i + 1}</td><td>f{i}</td><td>{r}</td></tr>" for i, r in enumerate(reads))
    html = ('<figure class="audit-table table-action_plan"><table class="audit-table"><thead><tr><th>Priority</th>'
            f"<th>Finding</th><th>Reads as</th></tr></thead><tbody>{body}</tbody></table></figure>")
    soup = BeautifulSoup(print_tables(html, {}), "html.parser")
    shown = [row.td.get_text() for row in soup.select("tbody tr") if "print-hidden" not in row.get("class", [])]
    assert shown == [str(i) for i in range(1, 11)] + ["15", "16"]
    assert "the first 10 of its 20 rows and the 2 whose details are confidential" in soup.select_one("p.print-only").get_text()


def test_only_a_table_of_many_printed_rows_may_break_across_pages():
    def output(rows, flagged=()):
        return f'<div class="jp-OutputArea-child">{_table(rows, flagged)}</div>'

    page = output(render.PRINT_KEPT_ROWS) + output(render.PRINT_KEPT_ROWS + 1) + output(40, flagged=(1, 2))
    soup = BeautifulSoup(print_tables(page, {}), "html.parser")
    breakable = ["print-breakable" in div["class"] for div in soup.select("div.jp-OutputArea-child")]
    assert breakable == [False, True, False]  # the long one prints only its 2 flagged rows


def test_short_table_is_printed_whole():
    soup = BeautifulSoup(print_tables(_table(render.PRINT_MAX_ROWS), {}), "html.parser")
    assert not soup.select(".print-hidden") and not soup.select("p.print-only")


def test_contents_page_numbers_come_from_the_printed_pdf(tmp_path):
    if render.find_chromium() is None or not POPPLER:
        pytest.skip("needs Chromium and poppler-utils")
    body = "".join(f'<h1 id="s{i}">Section {i}</h1><p>text</p>' for i in range(3))
    page = tmp_path / "report.html"
    page.write_text(add_contents(f'<html><head><style>@media print {{ h1 {{ break-before: page; }} '
                                 f'.toc-page {{ float: right; }} }}</style></head><body><main>'
                                 f'<header class="audit-cover"><h1>Oak &amp; Elm</h1></header>{body}</main></body></html>'))
    pdf = render.print_pdf(page, tmp_path / "report.pdf", district="Oak & Elm <District>")
    soup = BeautifulSoup(page.read_text(), "html.parser")
    assert [span.get_text() for span in soup.select("span.toc-page")] == ["2", "3", "4"]  # cover and contents: 1
    assert render.destination_pages(pdf.read_bytes()) == {"s0": 2, "s1": 3, "s2": 4}
    assert "Oak & Elm <District>" in _page_text(pdf, 3) and "Page 3 of 4" in _page_text(pdf, 3)



def _png_of(width: int, height: int, colour=(200, 30, 30)) -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_blank_figures_keep_every_figure_size_and_nothing_else_changes():
    sources = [_png_of(640, 480), _png_of(300, 1200), _png_of(17, 3)]
    page = "".join(f'<figure><img src="{src}" alt="a &lt;b&gt;"></figure><p>src="{i}"</p>'
                   for i, src in enumerate(sources))
    blank = render.blank_figures(page)
    after = [img["src"] for img in BeautifulSoup(blank, "html.parser").select("img")]
    assert [render._png_size(src) for src in after] == [(640, 480), (300, 1200), (17, 3)]
    assert all(new != old and len(new) < len(old) for new, old in zip(after, sources[:2]))
    assert re.sub(r'src="data:[^"]*"', "", blank) == re.sub(r'src="data:[^"]*"', "", page)
    assert render.blank_figures('<img src="data:image/png;base64,bm90IGEgcG5n">') == \
        '<img src="data:image/png;base64,bm90IGEgcG5n">'  # not a PNG: left as it is


def test_a_page_with_blank_figures_breaks_where_the_real_page_does(tmp_path):
    if render.find_chromium() is None:
        pytest.skip("needs Chromium")
    sizes = [(900, 700), (500, 1400), (1000, 300), (800, 900), (600, 1700)]
    body = "".join(f'<h2 id="s{i}">Part {i}</h2><img src="{_png_of(*size)}" style="max-width: 100%">'
                   f'<p>{"words " * 80}</p>' for i, size in enumerate(sizes))
    real = tmp_path / "real.html"
    links = "".join(f'<a href="#s{i}">Part {i}</a> ' for i in range(len(sizes)))  # a link makes a destination
    real.write_text(f"<html><body><nav>{links}</nav>{body}</body></html>")
    blank = tmp_path / "blank.html"
    blank.write_text(render.blank_figures(real.read_text()))
    printed = render.print_pdfs([(real, None, ""), (blank, None, "")])
    pages = [render.destination_pages(path.read_bytes()) for path in printed]
    assert pages[0] == pages[1] and len(set(pages[0].values())) >= 3


# --- the bundled district's PDF ------------------------------------------------------------------------

def _page_text(pdf, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _pages(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


@pytest.fixture(scope="module")
def pdf(demo_run):
    path = demo_run / "report.pdf"
    if not path.exists() or not POPPLER:
        pytest.skip("needs Chromium (for the run's PDF) and poppler-utils")
    return path


@pytest.mark.slow
def test_pdf_within_its_page_budget_with_the_summary_first(pdf, demo_run):
    from equity_audit.publish.findings import read_findings
    from equity_audit.publish.summary import sentence, top_findings

    assert _pages(pdf) <= 40
    first = re.sub(r"\s+", " ", _page_text(pdf, 1) + _page_text(pdf, 2))
    assert "Executive summary" in first and "Strengths to learn from" in first
    top = top_findings(read_findings(demo_run / "findings.json"))
    assert 3 <= len(top) <= 7
    for found in top:  # each sentence of the summary is on the first two pages
        assert re.sub(r"\s+", " ", sentence(found))[:60] in first


@pytest.mark.slow
def test_contents_page_numbers_match_where_the_headings_land(pdf, demo_run):
    soup = BeautifulSoup((demo_run / "report.html").read_text(encoding="utf-8"), "html.parser")
    landed = render.destination_pages(pdf.read_bytes())
    slots = soup.select("nav#toc span.toc-page")
    assert len(slots) > 20 and soup.select("nav#toc ol ol"), "two levels"
    for slot in slots:
        assert slot.get_text() == str(landed[slot["data-target"]]), slot["data-target"]
        heading = soup.find(id=slot["data-target"]).get_text(" ", strip=True).rstrip("¶").strip()
        page = re.sub(r"\s+", " ", _page_text(pdf, int(slot.get_text())))
        assert re.sub(r"\s+", " ", heading)[:40] in page, (heading, slot.get_text())


@pytest.mark.slow
def test_every_page_carries_the_district_and_its_number(pdf):
    total = _pages(pdf)
    for page in (1, total // 2, total):
        text = _page_text(pdf, page)
        assert "Synthetic district" in text.splitlines()[0] and f"Page {page} of {total}" in text


@pytest.mark.slow
def test_no_two_lines_of_text_overlap(pdf):
    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    namespace = {"x": "http://www.w3.org/1999/xhtml"}
    pages = ElementTree.fromstring(xml).findall(".//x:page", namespace)
    assert len(pages) == _pages(pdf)
    for number, page in enumerate(pages, start=1):
        boxes = np.array([[float(line.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")]
                          for line in page.iterfind(".//x:line", namespace)])
        if len(boxes) < 2:
            continue
        width = np.minimum.outer(boxes[:, 2], boxes[:, 2]) - np.maximum.outer(boxes[:, 0], boxes[:, 0])
        height = np.minimum.outer(boxes[:, 3], boxes[:, 3]) - np.maximum.outer(boxes[:, 1], boxes[:, 1])
        overlap = (width > 1) & (height > 1)
        np.fill_diagonal(overlap, False)
        assert not overlap.any(), f"page {number}: text lines overlap at {boxes[np.argwhere(overlap)[0]].tolist()}"


def test_the_cells_the_report_adds_have_fixed_ids():
    """Two renderings of one run write the same HTML: no cell the report adds draws a random id."""
    md = nbformat.v4.new_markdown_cell
    added = report_order([[md("# Q", id="q")], [md("# Plan", id="plan"), md("## Appendix A: methods", id="a")]],
                         appendix_cells({"settings": {"min_n": 10}}))
    assert [cell.id for cell in added] == ["plan", "q", "appendices-heading", "a", "appendix-settings",
                                           "appendix-suppression-rules"]
