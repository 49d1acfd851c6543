"""`make pdf`: the whole book printed into one PDF, offline (tools/make_pdf.py).

The PDF is printed from the session's book build (``conftest.py``) by headless Chromium and
joined with pypdf; the test opens it and checks that it holds every page of _toc.yml in order
(each in the outline), a contents page, page numbers and the figures. The browser test prints
the pages as it loads them (``book_printer``); run alone, this file prints them itself, as
`make pdf` does. `make pdf` itself is run on a small book of our own.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]

pypdf = pytest.importorskip("pypdf", reason="make pdf needs pypdf (the book extra)")
sys.path.insert(0, str(REPO_ROOT / "tools"))
from book_browser import serve  # noqa: E402
from make_pdf import BookPrinter, print_book, reading_order  # noqa: E402
from pypdf.generic import IndirectObject  # noqa: E402


@pytest.fixture(scope="module")
def book_pdf(built_html: Path, book_printer: BookPrinter,
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book's PDF: printed by the browser test if it ran before in this session, else
    here, as `make pdf` prints it."""
    if book_printer.output is None and not book_printer.printed and not book_printer.problems:
        with serve(built_html) as base:
            asyncio.run(print_book(book_printer, base,
                                   tmp_path_factory.mktemp("pdf") / "book.pdf"))
    assert book_printer.output is not None, f"no PDF: {book_printer.problems}"
    return book_printer.output


def outline_titles(outline: list) -> list[str]:
    titles = []
    for item in outline:
        titles += outline_titles(item) if isinstance(item, list) else [item.title]
    return titles


def test_the_pdf_holds_every_page_in_order_with_contents_and_numbers(book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    entries = reading_order(REPO_ROOT / "_toc.yml")
    assert len(reader.pages) > 2 * len(entries), f"only {len(reader.pages)} pages"
    assert "Contents" in reader.pages[0].extract_text()
    titles = outline_titles(reader.outline)
    parts = {entry.part for entry in entries if entry.part}
    assert parts <= set(titles), f"parts missing from the outline: {parts - set(titles)}"
    assert len(titles) == len(entries) + len(parts), titles
    # the outline points at pages in increasing order, and every sheet carries its number
    starts = [reader.get_destination_page_number(item) for item in reader.outline
              if not isinstance(item, list)]
    assert starts == sorted(starts)
    for number in (1, len(reader.pages) // 2, len(reader.pages)):
        text = reader.pages[number - 1].extract_text().split()
        assert str(number) in text, f"page {number} does not show its number"


def image_objects(resources: Any, seen: set[int]) -> list[Any]:
    """The image objects drawn through ``resources`` (and the forms they use), each once.

    Reading the objects' dictionaries, not decoding them (pypdf's ``page.images`` decodes
    every picture: minutes for the whole book)."""
    found: list[Any] = []
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in (xobjects.get_object().values() if xobjects is not None else ()):
        key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
        if key in seen:
            continue
        seen.add(key)
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            found.append(obj)
        elif obj.get("/Subtype") == "/Form":
            found += image_objects(obj.get("/Resources"), seen)
    return found


def test_the_pdf_shows_the_figures(book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    seen: set[int] = set()
    images = [image for page in reader.pages
              for image in image_objects(page.get("/Resources"), seen)]
    assert len(images) >= 50, f"only {len(images)} images in the PDF: were the figures printed?"
    # the figures are pictures, not blank boxes: the largest holds a real plot's pixels
    largest = max(images, key=lambda image: image["/Width"] * image["/Height"])
    assert largest["/Width"] >= 400 and len(largest.get_data()) > 10_000


def test_the_pdfs_links_lead_to_its_own_sheets_or_out_never_to_the_print_server(
        book_pdf: Path) -> None:
    reader = pypdf.PdfReader(book_pdf)
    internal, external = 0, []
    for sheet in reader.pages:
        for annotation in sheet.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            if action.get("/S") == "/GoTo":
                internal += 1
            elif "/URI" in action:
                external.append(str(action["/URI"]))
    printed_from = [uri for uri in external if "127.0.0.1" in uri or "localhost" in uri]
    assert not printed_from, f"{len(printed_from)} links to the print server: {printed_from[:3]}"
    assert internal >= 20, f"only {internal} links between the book's pages"


def test_make_pdf_prints_a_small_book_with_its_contents_outline_and_links(
        tmp_path: Path) -> None:
    """The command itself (the book's PDF above is printed by the browser test's pass), on
    two pages of our own: a contents page, one part in the outline, numbered sheets, and a
    link from one page to the other that leads to its sheet, not to the print server."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "book" / "intro.html").write_text(
        "<!DOCTYPE html><title>Intro</title><article><h1>Front page</h1>"
        "<p><a href='one.html'>the first chapter</a></p></article>")
    (html / "book" / "one.html").write_text(
        "<!DOCTYPE html><title>One</title><article><h1>Chapter one</h1>"
        + "<p>text</p>" * 80 + "</article>")
    toc = tmp_path / "_toc.yml"
    toc.write_text(yaml.safe_dump({"format": "jb-book", "root": "book/intro",
                                   "parts": [{"caption": "Part one",
                                              "chapters": [{"file": "book/one"}]}]}))
    output = tmp_path / "book.pdf"
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "make_pdf.py"), str(html),
                          str(output), "--toc", str(toc)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    reader = pypdf.PdfReader(output)
    assert "Contents" in reader.pages[0].extract_text()
    assert outline_titles(reader.outline) == ["Front page", "Part one", "Chapter one"]
    sheets = len(reader.pages)
    assert sheets >= 4 and str(sheets) in reader.pages[-1].extract_text().split()
    links = [annotation.get_object()["/A"] for sheet in reader.pages
             for annotation in sheet.get("/Annots") or []]
    assert [link["/S"] for link in links] == ["/GoTo"], links
