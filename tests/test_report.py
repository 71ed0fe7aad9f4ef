"""The rendered report: no code, real alt text, a contents list, no student ids."""
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from equity_audit.publish.render import add_contents


@pytest.fixture(scope="module")
def report(demo_run):
    return (demo_run / "report.html").read_text()


@pytest.fixture(scope="module")
def soup(report):
    return BeautifulSoup(report, "html.parser")


def test_no_code_and_no_error_banner(report, soup):
    assert soup.select(".jp-MarkdownCell"), "narrative must be kept"
    assert not soup.select(".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .highlight")
    assert "import equity_audit" not in report and "open_district" not in report
    assert "An Exception was encountered" not in report
    assert "<script src=" not in report, "the report must work offline"


def test_every_figure_has_alt_text_stating_a_finding(soup):
    images = soup.find_all("img")
    assert len(images) >= 2
    for img in images:
        alt = img.get("alt", "")
        assert len(alt) > 40 and "No description" not in alt
        assert img.find_parent("figure").figcaption.get_text(strip=True)


def test_cover_and_contents(soup):
    cover = soup.find("header", class_="audit-cover")
    assert "Synthetic district" in cover.h1.get_text()
    assert "2023-24 to 2025-26" in cover.get_text()
    links = [a["href"][1:] for a in soup.select("nav#toc a")]
    assert "Students-in-the-audit" in links and "Data-quality" in links
    assert all(soup.find(id=target) for target in links)


def test_no_student_identifier_reaches_the_report(report, bundled_district):
    ids = pd.read_csv(bundled_district / "students.csv", dtype=str)["student_id"]
    leaked = [i for i in ids if i in report]
    assert not leaked


def test_suppressed_cells_are_withheld(demo_run):
    composition = pd.read_csv(demo_run / "tables" / "composition.csv", dtype=str)
    counts = pd.to_numeric(composition["n"], errors="coerce")
    assert not ((counts > 0) & (counts < 10)).any()
    # the release gate: a small group's n and share are blank, and the status says why
    withheld = composition["status"].fillna("").str.contains("small_n")
    assert withheld.any() and composition.loc[withheld, "n"].isna().all()
    assert composition.loc[withheld, "share"].isna().all()


def test_contents_is_added_after_the_cover():
    html = '<main><header class="audit-cover"></header><h2 id="A">A¶</h2></main>'
    soup = BeautifulSoup(add_contents(html), "html.parser")
    assert soup.header.find_next_sibling("nav")["id"] == "toc"
    assert soup.select_one("nav a")["href"] == "#A" and soup.select_one("nav a").text == "A"


def test_a_priority_rank_is_a_label_printed_as_a_whole_number():
    from equity_audit.publish.report import released_view

    shown = released_view(pd.DataFrame({"Priority": [1, 2, 3], "Finding": ["a", "b", "c"]}), min_n=10)
    assert shown["Priority"].astype(str).tolist() == ["1", "2", "3"]
